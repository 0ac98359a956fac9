//! The Android side of the Relay agent: the one native library the app loads. It links
//! `relay-core` (and its uniffi exports) and adds the SmsManager glue through JNI.

pub use relay_core as core;
