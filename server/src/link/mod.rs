//! The device link: phones connected over WebSocket, and the dispatcher that feeds them.
//!
//! `hub` knows which phones this server holds a live connection to and how much more each may
//! take; `dispatch` moves queued messages to them; `session` speaks the protocol of
//! `docs/PROTOCOL.md` on one connection; `routes` pairs phones and upgrades connections.

pub mod dispatch;
pub mod hub;
pub mod pacing;
pub mod routes;
pub mod session;

pub use hub::Hub;

use std::time::Duration;

/// The phone-facing knobs of a server.
#[derive(Debug, Clone, Copy)]
pub struct LinkSettings {
    pub heartbeat_interval: Duration,
    /// Messages a phone may hold that it has not yet reported sent or failed.
    pub window: u32,
    /// Failures in a row after which a device is degraded and gets no more work.
    pub degrade_after: i32,
}

impl Default for LinkSettings {
    fn default() -> Self {
        LinkSettings { heartbeat_interval: Duration::from_secs(30), window: 64, degrade_after: 5 }
    }
}
