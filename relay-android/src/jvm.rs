//! The JNI side: the `JavaVM` and the app's `Context` the app hands over at init, and the few
//! framework calls the relay makes (`SmsManager`, `PendingIntent`, `Intent`, `SmsMessage`).
//!
//! Every call goes through [`Android::with_env`], which attaches the calling thread to the VM
//! once for the thread's life (jni's permanent attach; detached when the thread ends) and turns
//! a thrown Java exception into [`AndroidError::Java`] after clearing it.

use std::sync::atomic::{AtomicI32, Ordering};

use jni::objects::{JByteArray, JObject, JString};
use jni::refs::Global;
use jni::{Env, JValue, JavaVM, jni_sig, jni_str};

use crate::error::AndroidError;

/// `Build.VERSION_CODES.S`: `createForSubscriptionId`, `Context.getSystemService(SmsManager)`
/// and the `FLAG_MUTABLE`/`FLAG_IMMUTABLE` requirement start here.
pub const API_31: i32 = 31;
/// `PendingIntent.FLAG_ONE_SHOT`.
pub const FLAG_ONE_SHOT: i32 = 0x4000_0000;
/// `PendingIntent.FLAG_MUTABLE` (API 31).
pub const FLAG_MUTABLE: i32 = 0x0200_0000;

/// The intent actions of the two result broadcasts; the app's receiver is named explicitly
/// (class name from init), the actions tell the two apart.
pub const ACTION_SENT: &str = "org.relay.android.SMS_SENT";
pub const ACTION_DELIVERED: &str = "org.relay.android.SMS_DELIVERED";
/// Extras every result intent carries.
pub const EXTRA_MESSAGE_ID: &str = "org.relay.android.extra.MESSAGE_ID";
pub const EXTRA_PART: &str = "org.relay.android.extra.PART";
pub const EXTRA_PARTS: &str = "org.relay.android.extra.PARTS";

/// What the app gave at init.
pub struct Android {
    vm: JavaVM,
    /// The application `Context` (a global reference, valid on every thread).
    context: Global<JObject<'static>>,
    sdk_int: i32,
    package: String,
    receiver_class: String,
    /// Request codes for `PendingIntent.getBroadcast`: every intent gets its own, so no two
    /// parts (or kinds) ever collapse into one PendingIntent. Seeded from the wall clock in
    /// milliseconds at init: a previous process, pacing-limited to far fewer than one intent
    /// per millisecond, cannot have reached the new seed.
    next_request_code: AtomicI32,
}

impl std::fmt::Debug for Android {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Android")
            .field("sdk_int", &self.sdk_int)
            .field("package", &self.package)
            .field("receiver_class", &self.receiver_class)
            .finish_non_exhaustive()
    }
}

/// One message as `sendMultipartTextMessage` got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The parts `divideMessage` made.
    pub parts: u32,
}

/// Turns a failed JNI call into a typed error, clearing a pending Java exception first (a
/// pending exception left behind would make every later JNI call on this thread fail).
pub(crate) fn caught(env: &mut Env<'_>, e: jni::errors::Error) -> AndroidError {
    let e = match e {
        jni::errors::Error::JavaException => match env.exception_catch() {
            Err(caught) => caught,
            Ok(()) => jni::errors::Error::JavaException,
        },
        other => {
            if env.exception_check() {
                env.exception_clear();
            }
            other
        }
    };
    match e {
        jni::errors::Error::CaughtJavaException { name, msg, .. } => AndroidError::Java { class: name, message: msg },
        other => AndroidError::Jni { detail: other.to_string() },
    }
}

impl Android {
    /// Keeps what later calls need: the VM, a global reference to the application context
    /// (`context.getApplicationContext()` is the caller's job), its package name, the API
    /// level (`Build.VERSION.SDK_INT`) and the result receiver's class name.
    pub fn new(
        env: &mut Env<'_>,
        context: &JObject<'_>,
        sdk_int: i32,
        receiver_class: String,
    ) -> Result<Self, AndroidError> {
        Self::build(env, context, sdk_int, receiver_class).map_err(|e| caught(env, e))
    }

    fn build(
        env: &mut Env<'_>,
        context: &JObject<'_>,
        sdk_int: i32,
        receiver_class: String,
    ) -> jni::errors::Result<Self> {
        let vm = env.get_java_vm()?;
        let package =
            env.call_method(context, jni_str!("getPackageName"), jni_sig!("()Ljava/lang/String;"), &[])?.l()?;
        let package = env.cast_local::<JString>(package)?.try_to_string(env)?;
        let context = env.new_global_ref(context)?;
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| (d.as_millis() & 0x3fff_ffff) as i32)
            .unwrap_or(0);
        Ok(Android { vm, context, sdk_int, package, receiver_class, next_request_code: AtomicI32::new(seed) })
    }

    pub fn sdk_int(&self) -> i32 {
        self.sdk_int
    }

    /// Runs `f` with this thread's JNI environment, attaching the thread for good the first
    /// time. A Java exception thrown inside is caught, cleared and returned as a typed error.
    pub fn with_env<T>(&self, f: impl FnOnce(&mut Env<'_>) -> jni::errors::Result<T>) -> Result<T, AndroidError> {
        let out = self.vm.attach_current_thread(|env| -> jni::errors::Result<Result<T, AndroidError>> {
            Ok(match f(env) {
                Ok(v) => Ok(v),
                Err(e) => Err(caught(env, e)),
            })
        });
        match out {
            Ok(inner) => inner,
            Err(jni::errors::Error::CaughtJavaException { name, msg, .. }) => {
                Err(AndroidError::Java { class: name, message: msg })
            }
            Err(e) => Err(AndroidError::Jni { detail: e.to_string() }),
        }
    }

    fn request_code(&self) -> i32 {
        // Wraps past i32::MAX; any int is a valid request code.
        self.next_request_code.fetch_add(1, Ordering::Relaxed)
    }

    /// Sends one message: the SmsManager for `subscription_id` (the default SIM for `None`),
    /// `divideMessage`, one SENT and one DELIVERED `PendingIntent` per part, and
    /// `sendMultipartTextMessage`. `divided` hears the part count before the platform gets the
    /// message (its first answer can come before `sendMultipartTextMessage` returns).
    pub fn send_sms(
        &self,
        message_id: &str,
        to: &str,
        body: &str,
        subscription_id: Option<i32>,
        divided: impl FnOnce(u32),
    ) -> Result<Submitted, AndroidError> {
        self.with_env(|env| {
            let manager = self.sms_manager(env, subscription_id)?;
            let text = env.new_string(body)?;
            let parts = env
                .call_method(&manager, jni_str!("divideMessage"), jni_sig!("(Ljava/lang/String;)Ljava/util/ArrayList;"), &[
                    JValue::Object(&text),
                ])?
                .l()?;
            let count = env.call_method(&parts, jni_str!("size"), jni_sig!("()I"), &[])?.i()?;
            let count = u32::try_from(count).unwrap_or(0).max(1);
            let sent = self.intents(env, ACTION_SENT, message_id, count)?;
            let delivered = self.intents(env, ACTION_DELIVERED, message_id, count)?;
            divided(count);
            let dest = env.new_string(to)?;
            let no_centre = JObject::null();
            env.call_method(
                &manager,
                jni_str!("sendMultipartTextMessage"),
                jni_sig!(
                    "(Ljava/lang/String;Ljava/lang/String;Ljava/util/ArrayList;Ljava/util/ArrayList;Ljava/util/ArrayList;)V"
                ),
                &[
                    JValue::Object(&dest),
                    JValue::Object(&no_centre),
                    JValue::Object(&parts),
                    JValue::Object(&sent),
                    JValue::Object(&delivered),
                ],
            )?;
            Ok(Submitted { parts: count })
        })
    }

    /// On API 31+ `Context.getSystemService(SmsManager.class)` (then `createForSubscriptionId`);
    /// before, `SmsManager.getSmsManagerForSubscriptionId` or `SmsManager.getDefault()`.
    fn sms_manager<'local>(
        &self,
        env: &mut Env<'local>,
        subscription_id: Option<i32>,
    ) -> jni::errors::Result<JObject<'local>> {
        let class = env.find_class(jni_str!("android/telephony/SmsManager"))?;
        let manager = if self.sdk_int >= API_31 {
            let default = env
                .call_method(
                    &self.context,
                    jni_str!("getSystemService"),
                    jni_sig!("(Ljava/lang/Class;)Ljava/lang/Object;"),
                    &[JValue::Object(&class)],
                )?
                .l()?;
            if default.is_null() {
                return Err(jni::errors::Error::NullPtr("Context.getSystemService(SmsManager.class)"));
            }
            match subscription_id {
                Some(id) => env
                    .call_method(
                        &default,
                        jni_str!("createForSubscriptionId"),
                        jni_sig!("(I)Landroid/telephony/SmsManager;"),
                        &[JValue::Int(id)],
                    )?
                    .l()?,
                None => default,
            }
        } else {
            match subscription_id {
                Some(id) => env
                    .call_static_method(
                        &class,
                        jni_str!("getSmsManagerForSubscriptionId"),
                        jni_sig!("(I)Landroid/telephony/SmsManager;"),
                        &[JValue::Int(id)],
                    )?
                    .l()?,
                None => env
                    .call_static_method(
                        &class,
                        jni_str!("getDefault"),
                        jni_sig!("()Landroid/telephony/SmsManager;"),
                        &[],
                    )?
                    .l()?,
            }
        };
        if manager.is_null() {
            return Err(jni::errors::Error::NullPtr("SmsManager"));
        }
        Ok(manager)
    }

    /// An `ArrayList<PendingIntent>` with one broadcast per part, each an explicit intent to
    /// the app's receiver carrying the message id, the part index and the part count, under
    /// its own request code. Mutable on API 31+: the telephony stack fills in the result
    /// extras (`errorCode`; the delivery report's `pdu` and `format`), which an immutable
    /// PendingIntent would drop. `FLAG_ONE_SHOT`: each is answered once.
    fn intents<'local>(
        &self,
        env: &mut Env<'local>,
        action: &str,
        message_id: &str,
        count: u32,
    ) -> jni::errors::Result<JObject<'local>> {
        let flags = if self.sdk_int >= API_31 { FLAG_ONE_SHOT | FLAG_MUTABLE } else { FLAG_ONE_SHOT };
        let capacity = i32::try_from(count).unwrap_or(i32::MAX);
        let list = env.new_object(jni_str!("java/util/ArrayList"), jni_sig!("(I)V"), &[JValue::Int(capacity)])?;
        let action = env.new_string(action)?;
        let package = env.new_string(&self.package)?;
        let receiver = env.new_string(&self.receiver_class)?;
        let id = env.new_string(message_id)?;
        let key_id = env.new_string(EXTRA_MESSAGE_ID)?;
        let key_part = env.new_string(EXTRA_PART)?;
        let key_parts = env.new_string(EXTRA_PARTS)?;
        for part in 0..count {
            env.with_local_frame(8, |env| -> jni::errors::Result<()> {
                let intent = env.new_object(
                    jni_str!("android/content/Intent"),
                    jni_sig!("(Ljava/lang/String;)V"),
                    &[JValue::Object(&action)],
                )?;
                env.call_method(
                    &intent,
                    jni_str!("setClassName"),
                    jni_sig!("(Ljava/lang/String;Ljava/lang/String;)Landroid/content/Intent;"),
                    &[JValue::Object(&package), JValue::Object(&receiver)],
                )?;
                env.call_method(
                    &intent,
                    jni_str!("putExtra"),
                    jni_sig!("(Ljava/lang/String;Ljava/lang/String;)Landroid/content/Intent;"),
                    &[JValue::Object(&key_id), JValue::Object(&id)],
                )?;
                for (key, value) in [(&key_part, part), (&key_parts, count)] {
                    env.call_method(
                        &intent,
                        jni_str!("putExtra"),
                        jni_sig!("(Ljava/lang/String;I)Landroid/content/Intent;"),
                        &[JValue::Object(key), JValue::Int(i32::try_from(value).unwrap_or(i32::MAX))],
                    )?;
                }
                let pending = env
                    .call_static_method(
                        jni_str!("android/app/PendingIntent"),
                        jni_str!("getBroadcast"),
                        jni_sig!("(Landroid/content/Context;ILandroid/content/Intent;I)Landroid/app/PendingIntent;"),
                        &[
                            JValue::Object(self.context.as_ref()),
                            JValue::Int(self.request_code()),
                            JValue::Object(&intent),
                            JValue::Int(flags),
                        ],
                    )?
                    .l()?;
                env.call_method(
                    &list,
                    jni_str!("add"),
                    jni_sig!("(Ljava/lang/Object;)Z"),
                    &[JValue::Object(&pending)],
                )?;
                Ok(())
            })?;
        }
        Ok(list)
    }
}

/// `SmsMessage.createFromPdu(pdu, format).getStatus()`: the platform's parser reads both GSM
/// and CDMA status reports (and the SMSC prefix), so none is kept here. `None` when the
/// platform cannot parse the PDU.
pub fn delivery_status(env: &mut Env<'_>, pdu: &[u8], format: &str) -> Result<Option<i32>, AndroidError> {
    let out = (|| -> jni::errors::Result<Option<i32>> {
        let bytes: JByteArray = env.byte_array_from_slice(pdu)?;
        let format = env.new_string(format)?;
        let message = env
            .call_static_method(
                jni_str!("android/telephony/SmsMessage"),
                jni_str!("createFromPdu"),
                jni_sig!("([BLjava/lang/String;)Landroid/telephony/SmsMessage;"),
                &[JValue::Object(&bytes), JValue::Object(&format)],
            )?
            .l()?;
        if message.is_null() {
            return Ok(None);
        }
        Ok(Some(env.call_method(&message, jni_str!("getStatus"), jni_sig!("()I"), &[])?.i()?))
    })();
    out.map_err(|e| caught(env, e))
}
