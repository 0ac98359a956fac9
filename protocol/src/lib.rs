//! Wire types shared by the Relay server and `relay-core`.
//!
//! Every shape that crosses the network between our own components is defined here once:
//! the HTTP error envelope, the pairing payload and exchange, and every WebSocket frame of the
//! device link (`frames`). This crate does no I/O.

pub mod envelope;
pub mod failure;
pub mod frames;
pub mod pairing;

pub use envelope::{ErrorBody, ErrorEnvelope};
