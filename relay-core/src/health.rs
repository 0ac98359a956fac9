//! The phone's health, as the platform reads it, for heartbeats.

use relay_protocol::frames::{Permissions, SimInfo};

/// What the platform knows about the phone right now. Counters (queue depth, parts sent)
/// are filled in by the agent from its store.
#[derive(Debug, Clone, Default, PartialEq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeviceHealth {
    pub battery_percent: Option<u8>,
    pub charging: Option<bool>,
    /// 0 (none) to 4 (full).
    pub signal_level: Option<u8>,
    /// `wifi`, `lte`, `nr`, `umts`, `gsm`, `none`, …
    pub network: Option<String>,
    pub sims: Vec<SimInfo>,
    pub permissions: Permissions,
}

/// Read on every heartbeat; must return quickly. Across the FFI the app implements it.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait HealthProbe: Send + Sync {
    fn snapshot(&self) -> DeviceHealth;
}
