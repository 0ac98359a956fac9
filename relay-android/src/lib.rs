//! The Android side of the Relay agent: the one native library the app loads. It links
//! `relay-core` with its `uniffi` feature, so this cdylib carries relay-core's exported API
//! (`uniffi::setup_scaffolding!()` lives in relay-core) and `uniffi-bindgen` writes the
//! Kotlin bindings from the built `librelay_android.so` in library mode. SmsManager glue
//! through JNI comes later; today the app implements `SmsTransport` in Kotlin.

pub use relay_core;
pub use relay_core as core;
