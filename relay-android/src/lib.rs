//! The Android side of the Relay agent: the one native library the app loads. It links
//! `relay-core` with its `uniffi` feature, so this cdylib carries relay-core's exported API
//! (namespace `relay_core`), plus its own small uniffi namespace `relay_android` and the
//! JNI glue that sends through `android.telephony.SmsManager`.
//!
//! - [`jvm`]: the `JavaVM` and `Context` from `RelayNative.init`, and the framework calls
//!   (`SmsManager`, `PendingIntent`, `Intent`, `SmsMessage`); Java exceptions become
//!   [`AndroidError`]s.
//! - [`transport`]: [`AndroidSms`], the `SmsTransport` over it, aggregating the per-part
//!   result broadcasts into a message's outcomes.
//! - [`codes`]: what a result code and a delivery report's status mean.
//! - [`native`]: the `RelayNative` JNI entry points the Kotlin app calls.
//!
//! `uniffi-bindgen` writes the Kotlin bindings of both namespaces from the built
//! `librelay_android.so` in library mode.

use std::sync::Arc;

pub use relay_core;
pub use relay_core as core;

uniffi::setup_scaffolding!("relay_android");

pub mod codes;
mod error;
pub mod jvm;
pub mod native;
pub mod transport;

pub use error::AndroidError;
pub use transport::{AndroidSms, JniSmsTransport, Reporter};

/// The `SmsTransport` to give `RelayClient.start`: it sends through `SmsManager` once the app
/// called `RelayNative.init(context, …)`.
#[uniffi::export]
pub fn android_sms_transport() -> Arc<dyn relay_core::SmsTransport> {
    Arc::new(JniSmsTransport)
}
