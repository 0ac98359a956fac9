//! Wire types shared by the Relay server and `relay-core`.
//!
//! Every shape that crosses the network between our own components is defined here once:
//! the HTTP error envelope that every failing API call answers with, and (as the device
//! link grows) every WebSocket frame. This crate does no I/O.

pub mod envelope;

pub use envelope::{ErrorBody, ErrorEnvelope};
