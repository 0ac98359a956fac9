//! The typed errors of the Android glue.

/// What can go wrong between Rust and the Android framework. A thrown Java exception is
/// caught and cleared, never left pending and never a crash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AndroidError {
    /// `RelayNative.init(context, …)` has not run in this process yet.
    #[error("the Android glue is not initialised (RelayNative.init was not called)")]
    NotInitialised,
    /// A framework call threw (e.g. `SecurityException` without SEND_SMS).
    #[error("{class}: {message}")]
    Java { class: String, message: String },
    /// The JNI call itself failed (no such method, wrong signature, null result, …).
    #[error("JNI call failed: {detail}")]
    Jni { detail: String },
}

impl AndroidError {
    /// The stable failure code a message gets when sending it raised this error.
    pub fn failure_code(&self) -> &'static str {
        use relay_core::protocol::failure;
        match self {
            AndroidError::Java { class, .. } if class.ends_with("SecurityException") => failure::PERMISSION_DENIED,
            _ => failure::GENERIC_FAILURE,
        }
    }
}
