//! The public error type: flat and plain so it exports cleanly to Kotlin later.

use crate::pairing::PairError;
use crate::store::StoreError;
use crate::tls::TlsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    #[error("the pairing code is not valid: {message}")]
    InvalidPayload { message: String },
    /// The server answered with its error envelope (`unauthorized`, `rate_limited`, …).
    #[error("the server refused pairing ({code}): {message}")]
    PairingRefused { status: u16, code: String, message: String },
    #[error("network error: {message}")]
    Network { message: String },
    #[error("local storage error: {message}")]
    Storage { message: String },
    #[error("this device is not paired yet")]
    NotPaired,
    #[error("the agent is already running for this data directory")]
    AlreadyRunning,
    #[error("invalid configuration: {message}")]
    Config { message: String },
}

impl From<PairError> for RelayError {
    fn from(e: PairError) -> Self {
        match e {
            PairError::Payload(p) => RelayError::InvalidPayload { message: p.to_string() },
            PairError::Refused { status, code, message } => RelayError::PairingRefused { status, code, message },
            PairError::Store(s) => s.into(),
            PairError::Tls(t) => t.into(),
            other => RelayError::Network { message: other.to_string() },
        }
    }
}

impl From<StoreError> for RelayError {
    fn from(e: StoreError) -> Self {
        RelayError::Storage { message: e.to_string() }
    }
}

impl From<TlsError> for RelayError {
    fn from(e: TlsError) -> Self {
        RelayError::Config { message: e.to_string() }
    }
}
