//! The platform-neutral Relay agent: pairing from a QR payload, the durable local queue, the
//! WebSocket link to the server, pacing and status reporting.
//!
//! A host (the Android app, or the `relay-device` simulator) supplies an [`SmsTransport`]
//! and optionally a [`HealthProbe`] and a [`RelayListener`]; [`RelayClient`] does the rest.
//! The wire types come from `relay-protocol`, the same crate the server uses, and
//! `docs/PROTOCOL.md` describes the exchange.

// uniffi's scaffolding (namespace `relay_core`); the FFI-only parts are in `ffi.rs`.
#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

mod backoff;
mod client;
mod clock;
mod dispatch;
mod error;
mod events;
#[cfg(feature = "uniffi")]
mod ffi;
mod health;
mod link;
mod net;
pub mod pacing;
pub mod pairing;
mod shared;
pub mod simulator;
pub mod store;
pub mod tls;
mod transport;

pub use client::{ClientOptions, ClientStatus, RelayClient, RelayHandle, default_pacing, inspect_pairing_payload};
pub use error::RelayError;
pub use events::{ConnectionState, MessageEvent, MessageEventKind, RelayListener};
pub use health::{DeviceHealth, HealthProbe};
pub use link::LinkError;
pub use pairing::{Credentials, DeviceInfo, PairError, PairingTarget};
pub use relay_protocol as protocol;
pub use transport::{OutgoingSms, SmsTransport, StatusSink, TransportResult, report_all};
