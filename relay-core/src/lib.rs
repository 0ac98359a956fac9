//! The platform-neutral Relay agent library.
//!
//! It will hold pairing from a QR payload, the durable local queue, heartbeats, the WebSocket
//! link to the server and status reporting, exported to Kotlin through uniffi. The wire types
//! it speaks come from `relay-protocol`, the same crate the server uses.

pub use relay_protocol as protocol;
