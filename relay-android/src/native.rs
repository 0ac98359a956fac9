//! The JNI entry points of the app's `org.relay.android.RelayNative` (Kotlin `object` with
//! `@JvmStatic external fun`s) and the process's one [`AndroidSms`].
//!
//! uniffi loads this library through JNA, so `JNI_OnLoad` is no reliable hook: the app calls
//! `RelayNative.init(context, Build.VERSION.SDK_INT, SmsResultReceiver::class.java.name)`
//! before it starts the agent. No entry point lets an error or a panic cross into Java: each
//! logs and returns (a throw would crash the broadcast receiver, and with it the app).

// `#[unsafe(no_mangle)]` is what makes these functions findable by the JVM; nothing else here
// is unsafe.
#![allow(unsafe_code)]

use std::sync::{Arc, PoisonError, RwLock};

use jni::errors::LogErrorAndDefault;
use jni::objects::{JByteArray, JClass, JIntArray, JObject, JString};
use jni::sys::{jboolean, jint};
use jni::{Env, EnvUnowned};

use crate::jvm::Android;
use crate::transport::{AndroidSms, ResultKind, SmsResult};

static CURRENT: RwLock<Option<Arc<AndroidSms>>> = RwLock::new(None);

/// The process's `AndroidSms`, once `init` ran.
pub fn current() -> Option<Arc<AndroidSms>> {
    CURRENT.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// `init` without the JNI frame: keeps the VM and the context. A second call (the service
/// restarted in the same process) keeps the first, with its open messages.
pub fn init(env: &mut Env<'_>, context: &JObject<'_>, sdk_int: i32, receiver_class: String) -> bool {
    let mut current = CURRENT.write().unwrap_or_else(PoisonError::into_inner);
    if current.is_some() {
        tracing::debug!("RelayNative.init: already initialised");
        return true;
    }
    match Android::new(env, context, sdk_int, receiver_class) {
        Ok(android) => {
            tracing::info!(?android, "RelayNative.init");
            *current = Some(Arc::new(AndroidSms::new(android)));
            true
        }
        Err(e) => {
            tracing::error!(error = %e, "RelayNative.init failed");
            false
        }
    }
}

fn string(env: &mut Env<'_>, s: &JString<'_>) -> Option<String> {
    if s.is_null() {
        return None;
    }
    match s.try_to_string(env) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Java string");
            None
        }
    }
}

/// `static native boolean init(Context context, int sdkInt, String receiverClass)`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_relay_android_RelayNative_init<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    context: JObject<'caller>,
    sdk_int: jint,
    receiver_class: JString<'caller>,
) -> jboolean {
    unowned
        .with_env(|env| -> jni::errors::Result<jboolean> {
            let Some(receiver) = string(env, &receiver_class) else {
                tracing::error!("RelayNative.init: no receiver class");
                return Ok(false);
            };
            Ok(init(env, &context, sdk_int, receiver))
        })
        .resolve::<LogErrorAndDefault>()
}

/// `static native void setSubscriptions(int[] subscriptionIdBySlot)`: index = SIM slot, a
/// negative id for an empty slot.
#[unsafe(no_mangle)]
pub extern "system" fn Java_org_relay_android_RelayNative_setSubscriptions<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    ids: JIntArray<'caller>,
) {
    unowned
        .with_env(|env| -> jni::errors::Result<()> {
            let Some(relay) = current() else {
                tracing::error!("RelayNative.setSubscriptions before init");
                return Ok(());
            };
            let len = ids.len(env)?;
            let mut buf = vec![0; len];
            ids.get_region(env, 0, &mut buf)?;
            relay.set_subscriptions(&buf);
            Ok(())
        })
        .resolve::<LogErrorAndDefault>()
}

/// `static native void onSmsResult(int kind, String messageId, int part, int parts,
/// int resultCode, int errorCode, byte[] pdu, String format)`: the result receiver's one call,
/// `kind` 0 for SENT and 1 for DELIVERED; `errorCode` -1 when the intent has none; `pdu` and
/// `format` null for SENT.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_relay_android_RelayNative_onSmsResult<'caller>(
    mut unowned: EnvUnowned<'caller>,
    _class: JClass<'caller>,
    kind: jint,
    message_id: JString<'caller>,
    part: jint,
    parts: jint,
    result_code: jint,
    error_code: jint,
    pdu: JByteArray<'caller>,
    format: JString<'caller>,
) {
    unowned
        .with_env(|env| -> jni::errors::Result<()> {
            let (Some(kind), Some(message_id), Ok(part), Ok(parts)) =
                (ResultKind::from_jint(kind), string(env, &message_id), u32::try_from(part), u32::try_from(parts))
            else {
                tracing::warn!(kind, part, parts, "RelayNative.onSmsResult: malformed result ignored");
                return Ok(());
            };
            let Some(relay) = current() else {
                tracing::error!(%message_id, "RelayNative.onSmsResult before init: result lost");
                return Ok(());
            };
            let pdu = if pdu.is_null() { None } else { Some(env.convert_byte_array(&pdu)?) };
            let format = string(env, &format);
            relay.on_result(env, SmsResult { kind, message_id, part, parts, result_code, error_code, pdu, format });
            Ok(())
        })
        .resolve::<LogErrorAndDefault>()
}
