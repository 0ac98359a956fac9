//! What only the FFI needs (feature `uniffi`; the scaffolding itself is set up at the crate
//! root, where uniffi wants it): mirrors of the protocol types that cross the FFI, and a few free functions.
//!
//! The exported API itself is annotated where it lives (`RelayClient`, `RelayHandle`,
//! `StatusSink`, the `SmsTransport` / `HealthProbe` / `RelayListener` foreign traits, the
//! records and `RelayError`). relay-protocol knows nothing of uniffi: its few types that
//! appear in the API are declared here as remote types, field for field.

use relay_protocol::frames::{DeliveryStatus, Permissions, SimInfo};

use crate::{ClientOptions, PairingTarget, RelayError};

#[uniffi::remote(Record)]
pub struct SimInfo {
    pub slot: u8,
    pub subscription_id: Option<i32>,
    pub carrier: Option<String>,
    pub number: Option<String>,
}

#[uniffi::remote(Record)]
pub struct Permissions {
    pub send_sms: bool,
    pub read_phone_state: bool,
    pub notifications: bool,
    pub battery_optimization_exempt: bool,
}

#[uniffi::remote(Enum)]
pub enum DeliveryStatus {
    Sent,
    Delivered,
    Failed,
}

/// The tunables a phone uses unless told otherwise.
#[uniffi::export]
pub fn default_client_options() -> ClientOptions {
    ClientOptions::default()
}

/// Reads a pairing QR payload without contacting its server; a malformed payload is
/// `RelayError::InvalidPayload`.
#[uniffi::export]
pub fn inspect_pairing_payload(payload: String) -> Result<PairingTarget, RelayError> {
    crate::inspect_pairing_payload(&payload)
}
