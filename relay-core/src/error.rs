//! The public error type: flat and plain so it crosses the FFI as a typed exception. The text
//! field is `detail`, not `message`, which Kotlin's `Throwable.message` already owns.

use crate::pairing::PairError;
use crate::store::StoreError;
use crate::tls::TlsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Error))]
pub enum RelayError {
    #[error("the pairing code is not valid: {detail}")]
    InvalidPayload { detail: String },
    /// The server answered with its error envelope (`unauthorized`, `rate_limited`, …).
    #[error("the server refused pairing ({code}): {detail}")]
    PairingRefused { status: u16, code: String, detail: String },
    #[error("network error: {detail}")]
    Network { detail: String },
    #[error("local storage error: {detail}")]
    Storage { detail: String },
    #[error("this device is not paired yet")]
    NotPaired,
    #[error("the agent is already running for this data directory")]
    AlreadyRunning,
    #[error("invalid configuration: {detail}")]
    Config { detail: String },
}

impl From<PairError> for RelayError {
    fn from(e: PairError) -> Self {
        match e {
            PairError::Payload(p) => RelayError::InvalidPayload { detail: p.to_string() },
            PairError::Refused { status, code, message } => {
                RelayError::PairingRefused { status, code, detail: message }
            }
            PairError::Store(s) => s.into(),
            PairError::Tls(t) => t.into(),
            other => RelayError::Network { detail: other.to_string() },
        }
    }
}

impl From<StoreError> for RelayError {
    fn from(e: StoreError) -> Self {
        RelayError::Storage { detail: e.to_string() }
    }
}

impl From<TlsError> for RelayError {
    fn from(e: TlsError) -> Self {
        RelayError::Config { detail: e.to_string() }
    }
}
