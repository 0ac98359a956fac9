//! The JNI glue against a real JVM on the host: javac compiles Java stand-ins of the Android
//! classes the glue touches (`tests/java/android/...`, the real method descriptors and
//! constants; they record every call in `relaytest.Calls`), a JVM starts in this process
//! (jni `invocation`, `-Xcheck:jni`), and the tests drive `relay-android` as the app would:
//! `RelayNative.init`/`onSmsResult` are registered on the stand-in `RelayNative` class and called
//! through the JVM.
//!
//! Tools: `javac` and a JDK (`JAVA_HOME`, else the `javac` on PATH). Without them the tests are
//! skipped LOUDLY, unless `RELAY_REQUIRE_ALL=1`, which makes a missing JDK a failure.

#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use jni::objects::{JObject, JValue};
use jni::{Env, InitArgsBuilder, JNIVersion, JavaVM, NativeMethod, jni_sig, jni_str};
use relay_android::codes::RESULT_OK;
use relay_android::jvm::Android;
use relay_android::{AndroidError, AndroidSms, Reporter, native};
use relay_core::protocol::frames::DeliveryStatus;
use relay_core::{OutgoingSms, TransportResult};

const PACKAGE: &str = "org.relay.android";
const RECEIVER: &str = "org.relay.android.SmsResultReceiver";
/// `SubscriptionManager.DEFAULT_SUBSCRIPTION_ID`, what the stand-in's default manager has.
const DEFAULT_SUB: i32 = i32::MAX;

fn skip_or_fail(reason: &str) {
    if std::env::var("RELAY_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("the JNI host-JVM tests cannot run: {reason} (RELAY_REQUIRE_ALL=1 forbids skipping)");
    }
    eprintln!("!!! SKIPPING the JNI host-JVM test: {reason}");
    eprintln!("!!! install a JDK (apt-get install default-jdk-headless) or set JAVA_HOME");
}

fn java_home() -> Result<PathBuf, String> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        return Ok(PathBuf::from(home));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let javac = std::env::split_paths(&path)
        .map(|dir| dir.join("javac"))
        .find(|p| p.is_file())
        .ok_or("no javac on PATH and JAVA_HOME is not set")?;
    let real = std::fs::canonicalize(&javac).map_err(|e| format!("{}: {e}", javac.display()))?;
    Ok(real.parent().and_then(Path::parent).ok_or("javac has no JDK around it")?.to_path_buf())
}

/// The process's JVM with the compiled stand-ins on its class path; `None` when skipped.
fn jvm() -> Option<&'static JavaVM> {
    static VM: OnceLock<Result<JavaVM, String>> = OnceLock::new();
    let vm = VM.get_or_init(|| {
        let home = java_home()?;
        let javac = home.join("bin/javac");
        let libjvm = home.join("lib/server/libjvm.so");
        if !javac.is_file() || !libjvm.is_file() {
            return Err(format!("no javac / lib/server/libjvm.so under {}", home.display()));
        }
        // Under the target directory (cargo's scratch space for integration tests), one folder
        // per test process: nextest runs each test in its own.
        let classes = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("jni-standins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&classes);
        let sources: Vec<PathBuf> = walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java"));
        let out = Command::new(&javac)
            .args(["-Xlint:all", "-Werror", "-d"])
            .arg(&classes)
            .args(&sources)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", javac.display()))?;
        assert!(out.status.success(), "javac failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let args = InitArgsBuilder::new()
            .version(JNIVersion::V1_8)
            .option(format!("-Djava.class.path={}", classes.display()))
            .option("-Xcheck:jni")
            .build()
            .map_err(|e| e.to_string())?;
        let vm = JavaVM::with_libjvm(args, || Ok(libjvm.clone())).map_err(|e| e.to_string())?;
        register_natives(&vm);
        Ok(vm)
    });
    match vm {
        Ok(vm) => Some(vm),
        Err(reason) => {
            skip_or_fail(reason);
            None
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "java") {
            out.push(path);
        }
    }
    out
}

/// Binds the library's `Java_org_relay_android_RelayNative_*` functions to the stand-in
/// `RelayNative`'s native methods, as the JVM would find them in the app's loaded library.
fn register_natives(vm: &JavaVM) {
    vm.attach_current_thread(|env| -> jni::errors::Result<()> {
        let methods = unsafe {
            [
                NativeMethod::from_raw_parts(
                    jni_str!("init"),
                    jni_str!("(Landroid/content/Context;ILjava/lang/String;)Z"),
                    native::Java_org_relay_android_RelayNative_init as *mut std::ffi::c_void,
                ),
                NativeMethod::from_raw_parts(
                    jni_str!("setSubscriptions"),
                    jni_str!("([I)V"),
                    native::Java_org_relay_android_RelayNative_setSubscriptions as *mut std::ffi::c_void,
                ),
                NativeMethod::from_raw_parts(
                    jni_str!("onSmsResult"),
                    jni_str!("(ILjava/lang/String;IIII[BLjava/lang/String;)V"),
                    native::Java_org_relay_android_RelayNative_onSmsResult as *mut std::ffi::c_void,
                ),
            ]
        };
        unsafe { env.register_native_methods(jni_str!("org/relay/android/RelayNative"), &methods) }
    })
    .unwrap();
}

/// The stand-ins' recorder and the process-wide `RelayNative` state are shared: one test at a
/// time (nextest runs each in its own process anyway).
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn context<'local>(env: &mut Env<'local>) -> JObject<'local> {
    let pkg = env.new_string(PACKAGE).unwrap();
    env.call_static_method(
        jni_str!("relaytest/Calls"),
        jni_str!("context"),
        jni_sig!("(Ljava/lang/String;)Landroid/content/Context;"),
        &[JValue::Object(&pkg)],
    )
    .unwrap()
    .l()
    .unwrap()
}

/// Sets the stand-ins' API level and send failure, and clears their log.
fn configure(vm: &JavaVM, sdk: i32, throw_on_send: Option<&str>) {
    vm.attach_current_thread(|env| -> jni::errors::Result<()> {
        let throw = match throw_on_send {
            Some(t) => env.new_string(t)?.into(),
            None => JObject::null(),
        };
        env.call_static_method(
            jni_str!("relaytest/Calls"),
            jni_str!("configure"),
            jni_sig!("(ILjava/lang/String;)V"),
            &[JValue::Int(sdk), JValue::Object(&throw)],
        )?;
        Ok(())
    })
    .unwrap();
    calls(vm);
}

fn android_sms(vm: &JavaVM, sdk: i32) -> AndroidSms {
    configure(vm, sdk, None);
    let android = vm
        .attach_current_thread(|env| -> jni::errors::Result<Result<Android, AndroidError>> {
            let ctx = context(env);
            Ok(Android::new(env, &ctx, sdk, RECEIVER.to_owned()))
        })
        .unwrap()
        .unwrap();
    AndroidSms::new(android)
}

/// What the stand-ins recorded since the last look, one call a line.
fn calls(vm: &JavaVM) -> Vec<String> {
    vm.attach_current_thread(|env| -> jni::errors::Result<Vec<String>> {
        let s = env
            .call_static_method(jni_str!("relaytest/Calls"), jni_str!("take"), jni_sig!("()Ljava/lang/String;"), &[])?
            .l()?;
        let s = env.cast_local::<jni::objects::JString>(s)?.try_to_string(env)?;
        Ok(s.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect())
    })
    .unwrap()
}

#[derive(Default)]
struct Recorder(Mutex<Vec<TransportResult>>);

impl Reporter for Recorder {
    fn report(&self, result: TransportResult) {
        self.0.lock().unwrap().push(result);
    }
}

impl Recorder {
    fn take(&self) -> Vec<TransportResult> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// The one outcome reported, which must be a failure: its code and reason.
fn one_failure(got: Vec<TransportResult>) -> (String, String) {
    match got.as_slice() {
        [TransportResult::Failed { code, reason }] => (code.clone(), reason.clone()),
        other => panic!("expected one failure, got {other:?}"),
    }
}

fn sms(id: &str, body: &str, sim: Option<u8>) -> OutgoingSms {
    OutgoingSms { request_id: id.to_owned(), to: "+4915112345678".to_owned(), body: body.to_owned(), sim, parts: 1 }
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line}"))
}

fn broadcasts(log: &[String]) -> Vec<&str> {
    log.iter().filter(|l| l.starts_with("PendingIntent.getBroadcast")).map(String::as_str).collect()
}

/// `RelayNative.onSmsResult(...)` called from Java, as the app's receiver does.
#[allow(clippy::too_many_arguments)]
fn on_sms_result(
    vm: &JavaVM,
    kind: i32,
    id: &str,
    part: i32,
    parts: i32,
    code: i32,
    pdu: Option<&[u8]>,
    format: Option<&str>,
) {
    vm.attach_current_thread(|env| -> jni::errors::Result<()> {
        let id = env.new_string(id)?;
        let pdu: JObject = match pdu {
            Some(p) => env.byte_array_from_slice(p)?.into(),
            None => JObject::null(),
        };
        let format: JObject = match format {
            Some(f) => env.new_string(f)?.into(),
            None => JObject::null(),
        };
        env.call_static_method(
            jni_str!("org/relay/android/RelayNative"),
            jni_str!("onSmsResult"),
            jni_sig!("(ILjava/lang/String;IIII[BLjava/lang/String;)V"),
            &[
                JValue::Int(kind),
                JValue::Object(&id),
                JValue::Int(part),
                JValue::Int(parts),
                JValue::Int(code),
                JValue::Int(-1),
                JValue::Object(&pdu),
                JValue::Object(&format),
            ],
        )?;
        Ok(())
    })
    .unwrap();
}

/// `RelayNative.init(context, sdk, receiver)` called from Java; returns the process's glue.
fn init_through_java(vm: &JavaVM, sdk: i32) -> Arc<AndroidSms> {
    configure(vm, sdk, None);
    let ok = vm
        .attach_current_thread(|env| -> jni::errors::Result<bool> {
            let ctx = context(env);
            let receiver = env.new_string(RECEIVER)?;
            env.call_static_method(
                jni_str!("org/relay/android/RelayNative"),
                jni_str!("init"),
                jni_sig!("(Landroid/content/Context;ILjava/lang/String;)Z"),
                &[JValue::Object(&ctx), JValue::Int(sdk), JValue::Object(&receiver)],
            )?
            .z()
        })
        .unwrap();
    assert!(ok, "RelayNative.init returned false");
    native::current().expect("init through Java set the process's glue")
}

/// A GSM 03.40 SMS-STATUS-REPORT as a radio hands it up: SMSC address, first octet (MTI 10),
/// TP-MR, TP-RA (+4915112345678), TP-SCTS, TP-DT, TP-ST.
fn status_report(status: u8) -> Vec<u8> {
    let mut pdu = vec![0x07, 0x91, 0x94, 0x71, 0x01, 0x67, 0x00, 0xf0]; // SMSC +491710760000
    pdu.extend([0x06, 0x2a]); // first octet, TP-MR
    pdu.extend([0x0d, 0x91, 0x94, 0x51, 0x11, 0x32, 0x54, 0x76, 0xf8]); // TP-RA: 13 digits
    pdu.extend([0x62, 0x11, 0x72, 0x31, 0x05, 0x00, 0x00]); // TP-SCTS
    pdu.extend([0x62, 0x11, 0x72, 0x31, 0x05, 0x10, 0x00]); // TP-DT
    pdu.push(status);
    pdu
}

#[test]
fn a_long_message_is_split_and_every_part_gets_its_own_pending_intent_pair() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = android_sms(vm, 34);
    let rec = Arc::new(Recorder::default());

    relay.submit(&sms("msg-long", &"a".repeat(400), None), rec.clone());
    let log = calls(vm);
    assert!(rec.take().is_empty(), "nothing is reported before the radio answers");
    assert!(log.contains(&"Context.getSystemService sms".to_owned()), "{log:#?}");
    let divide = log.iter().find(|l| l.starts_with("SmsManager.divideMessage")).expect("divideMessage");
    assert_eq!(field(divide, "parts"), "3");
    let send = log.iter().find(|l| l.starts_with("SmsManager.sendMultipartTextMessage")).expect("sent");
    assert_eq!(field(send, "dest"), "+4915112345678");
    assert_eq!(field(send, "sc"), "null");
    assert_eq!(field(send, "lengths"), "153,153,94");
    assert_eq!((field(send, "sent"), field(send, "delivery")), ("3", "3"));

    let intents = broadcasts(&log);
    assert_eq!(intents.len(), 6, "one SENT and one DELIVERED PendingIntent per part: {intents:#?}");
    let mut codes: Vec<&str> = intents.iter().map(|l| field(l, "code")).collect();
    for (i, line) in intents.iter().enumerate() {
        let action = if i < 3 { "org.relay.android.SMS_SENT" } else { "org.relay.android.SMS_DELIVERED" };
        assert_eq!(field(line, "action"), action);
        assert_eq!(field(line, "component"), format!("{PACKAGE}/{RECEIVER}"));
        assert_eq!(field(line, "id"), "msg-long");
        assert_eq!(field(line, "part"), (i % 3).to_string());
        assert_eq!(field(line, "parts"), "3");
        // FLAG_ONE_SHOT | FLAG_MUTABLE: the platform fills in the result extras.
        assert_eq!(field(line, "flags"), "0x42000000");
    }
    codes.sort_unstable();
    codes.dedup();
    assert_eq!(codes.len(), 6, "request codes must all differ, or PendingIntents collapse: {intents:#?}");
    // The intents handed to sendMultipartTextMessage are those, in part order.
    let order: Vec<String> = intents[..3]
        .iter()
        .zip(&intents[3..])
        .map(|(s, d)| format!("{}/{}", field(s, "code"), field(d, "code")))
        .collect();
    assert!(send.ends_with(&format!("codes={}", order.join(" "))), "{send}");

    // A message in UCS-2 (not all GSM-7 characters) splits at 67 characters.
    relay.submit(&sms("msg-ucs2", &"é".repeat(100), None), rec.clone());
    let log = calls(vm);
    let send = log.iter().find(|l| l.starts_with("SmsManager.sendMultipartTextMessage")).expect("sent");
    assert_eq!(field(send, "lengths"), "67,33");
    assert_eq!(broadcasts(&log).len(), 4);

    // Another message never reuses a request code.
    relay.submit(&sms("msg-short", "hello", None), rec.clone());
    let log = calls(vm);
    let later: Vec<&str> = broadcasts(&log).iter().map(|l| field(l, "code")).collect();
    assert_eq!(later.len(), 2);
    assert!(later.iter().all(|c| !codes.contains(c)), "{later:?} reuses one of {codes:?}");
}

#[test]
fn the_sim_is_chosen_by_subscription_id_per_api_level() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();

    // API 31+: Context.getSystemService(SmsManager.class), then createForSubscriptionId.
    let relay = android_sms(vm, 34);
    relay.set_subscriptions(&[7, 9]);
    let rec = Arc::new(Recorder::default());
    relay.submit(&sms("sim-1", "hi", Some(1)), rec.clone());
    let log = calls(vm);
    assert!(log.contains(&"SmsManager.createForSubscriptionId 9".to_owned()), "{log:#?}");
    let send = log.iter().find(|l| l.starts_with("SmsManager.sendMultipartTextMessage")).unwrap();
    assert_eq!(field(send, "sub"), "9");
    relay.submit(&sms("sim-default", "hi", None), rec.clone());
    let log = calls(vm);
    assert!(!log.iter().any(|l| l.contains("createForSubscriptionId")), "{log:#?}");
    let send = log.iter().find(|l| l.starts_with("SmsManager.sendMultipartTextMessage")).unwrap();
    assert_eq!(field(send, "sub"), DEFAULT_SUB.to_string());

    // An empty slot fails the message without touching SmsManager.
    relay.submit(&sms("sim-missing", "hi", Some(2)), rec.clone());
    assert!(calls(vm).is_empty());
    let (code, reason) = one_failure(rec.take());
    assert_eq!(code, "generic_failure");
    assert!(reason.contains("slot 2"), "{reason}");

    // Before API 31: the static factories, and no mutability flag (FLAG_MUTABLE is API 31).
    let relay = android_sms(vm, 30);
    relay.set_subscriptions(&[7, -1, 11]);
    relay.submit(&sms("sim-old", "hi", Some(0)), rec.clone());
    let log = calls(vm);
    assert!(log.contains(&"SmsManager.getSmsManagerForSubscriptionId 7".to_owned()), "{log:#?}");
    assert!(broadcasts(&log).iter().all(|l| field(l, "flags") == "0x40000000"), "{log:#?}");
    relay.submit(&sms("sim-old-default", "hi", None), rec.clone());
    let log = calls(vm);
    assert!(log.contains(&"SmsManager.getDefault".to_owned()), "{log:#?}");
    relay.submit(&sms("sim-old-empty", "hi", Some(1)), rec.clone());
    assert!(calls(vm).is_empty(), "slot 1 was given as empty (-1)");
    assert!(matches!(rec.take().as_slice(), [TransportResult::Failed { .. }]));
}

#[test]
fn a_java_exception_while_sending_becomes_a_typed_failure() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = android_sms(vm, 34);
    let denied = "Sending SMS message: uid 10123 does not have android.permission.SEND_SMS.";
    configure(vm, 34, Some(denied));

    let err = relay.android().send_sms("direct", "+4915112345678", "hi", None, |_| {}).unwrap_err();
    assert_eq!(err, AndroidError::Java { class: "java.lang.SecurityException".to_owned(), message: denied.to_owned() });

    let rec = Arc::new(Recorder::default());
    relay.submit(&sms("denied", "hi", None), rec.clone());
    let (code, reason) = one_failure(rec.take());
    assert_eq!(code, "permission_denied");
    assert!(reason.contains("SEND_SMS"), "{reason}");
    assert_eq!(relay.open_count(), 0, "a refused message is not waited for");

    // The exception was cleared: the same thread goes on sending.
    configure(vm, 34, None);
    relay.submit(&sms("after", "hi", None), rec.clone());
    assert!(calls(vm).iter().any(|l| l.starts_with("SmsManager.sendMultipartTextMessage")));
    assert!(rec.take().is_empty());

    // The platform's own argument check (an empty number) is a generic failure.
    let mut bad = sms("bad-number", "hi", None);
    bad.to = String::new();
    relay.submit(&bad, rec.clone());
    let (code, reason) = one_failure(rec.take());
    assert_eq!(code, "generic_failure");
    assert!(reason.contains("IllegalArgumentException"), "{reason}");
}

#[test]
fn every_sent_result_code_reaches_the_sink_through_the_native_entry_point() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = init_through_java(vm, 34);
    let expected = [
        (RESULT_OK, None),
        (1, Some("generic_failure")),
        (2, Some("radio_off")),
        (3, Some("null_pdu")),
        (4, Some("no_service")),
        (5, Some("limit_exceeded")),
        (6, Some("fdn_check_failure")),
        (7, Some("short_code_not_allowed")),
        (8, Some("short_code_never_allowed")),
        (0, Some("unknown_0")),
        (42, Some("unknown_42")),
    ];
    for (result_code, want) in expected {
        let id = format!("code{result_code}");
        let rec = Arc::new(Recorder::default());
        relay.submit(&sms(&id, "hi", None), rec.clone());
        on_sms_result(vm, 0, &id, 0, 1, result_code, None, None);
        let got = rec.take();
        match want {
            None => assert_eq!(got, vec![TransportResult::Sent], "result code {result_code}"),
            Some(want) => {
                let [TransportResult::Failed { code, .. }] = got.as_slice() else { panic!("{result_code}: {got:?}") };
                assert_eq!(code, want, "result code {result_code}");
            }
        }
    }
}

#[test]
fn delivery_reports_are_read_from_the_pdu_and_parts_add_up() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = init_through_java(vm, 34);
    let rec = Arc::new(Recorder::default());
    // The server counted one part (`sms()` says 1); the phone's divideMessage makes two, and
    // its count is the one that matters.
    let two_parts = "b".repeat(200);
    relay.submit(&sms("two", &two_parts, None), rec.clone());

    on_sms_result(vm, 0, "two", 1, 2, RESULT_OK, None, None);
    assert!(rec.take().is_empty(), "one of two parts sent is not the message sent");
    on_sms_result(vm, 0, "two", 0, 2, RESULT_OK, None, None);
    assert_eq!(rec.take(), vec![TransportResult::Sent]);

    on_sms_result(vm, 1, "two", 1, 2, RESULT_OK, Some(&status_report(0x00)), Some("3gpp"));
    assert!(rec.take().is_empty(), "one of two parts delivered");
    on_sms_result(vm, 1, "two", 0, 2, RESULT_OK, Some(&status_report(0x20)), Some("3gpp"));
    assert!(rec.take().is_empty(), "0x20: the centre is still trying, not final");
    on_sms_result(vm, 1, "two", 0, 2, RESULT_OK, None, None);
    assert!(rec.take().is_empty(), "RESULT_OK without a PDU is no proof of delivery");
    on_sms_result(vm, 1, "two", 0, 2, RESULT_OK, Some(&[0x00, 0x04]), Some("3gpp"));
    assert!(rec.take().is_empty(), "an unreadable PDU says nothing");
    on_sms_result(vm, 1, "two", 0, 2, RESULT_OK, Some(&status_report(0x00)), Some("3gpp"));
    assert_eq!(rec.take(), vec![TransportResult::Delivered]);
    assert_eq!(relay.open_count(), 0, "a finished message is forgotten");
    assert!(calls(vm).iter().any(|l| l.starts_with("SmsMessage.createFromPdu format=3gpp")));

    relay.submit(&sms("undeliverable", "hi", None), rec.clone());
    on_sms_result(vm, 0, "undeliverable", 0, 1, RESULT_OK, None, None);
    on_sms_result(vm, 1, "undeliverable", 0, 1, RESULT_OK, Some(&status_report(0x45)), Some("3gpp"));
    let got = rec.take();
    let [TransportResult::Sent, TransportResult::Failed { code, reason }] = got.as_slice() else { panic!("{got:?}") };
    assert_eq!(code, "delivery_failed");
    assert!(reason.contains("0x45"), "{reason}");

    // A failed part fails the message; later answers for it change nothing.
    relay.submit(&sms("half", &two_parts, None), rec.clone());
    on_sms_result(vm, 0, "half", 0, 2, RESULT_OK, None, None);
    on_sms_result(vm, 0, "half", 1, 2, 2, None, None);
    on_sms_result(vm, 1, "half", 0, 2, RESULT_OK, Some(&status_report(0x00)), Some("3gpp"));
    let got = rec.take();
    let [TransportResult::Failed { code, reason }] = got.as_slice() else { panic!("{got:?}") };
    assert_eq!(code, "radio_off");
    assert!(reason.contains("part 2 of 2"), "{reason}");
}

#[test]
fn answers_heard_before_the_agent_restarted_go_to_the_recovered_sink() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = init_through_java(vm, 34);

    // The process was restarted for the broadcast: the answer comes before the agent runs.
    on_sms_result(vm, 0, "early", 0, 1, RESULT_OK, None, None);
    let rec = Arc::new(Recorder::default());
    relay.recover(&sms("early", "hi", None), None, rec.clone());
    assert_eq!(rec.take(), vec![TransportResult::Sent]);
    on_sms_result(vm, 1, "early", 0, 1, RESULT_OK, Some(&status_report(0x00)), Some("3gpp"));
    assert_eq!(rec.take(), vec![TransportResult::Delivered]);

    // Known to be sent: it waits for its delivery report.
    relay.recover(&sms("was-sent", "hi", None), Some(DeliveryStatus::Sent), rec.clone());
    assert!(rec.take().is_empty());
    on_sms_result(vm, 1, "was-sent", 0, 1, RESULT_OK, Some(&status_report(0x00)), Some("3gpp"));
    assert_eq!(rec.take(), vec![TransportResult::Delivered]);

    // Nothing known: never sent again, reported as an unknown outcome.
    relay.recover(&sms("silent", "hi", None), None, rec.clone());
    let (code, _) = one_failure(rec.take());
    assert_eq!(code, "outcome_unknown");
    assert!(calls(vm).iter().all(|l| !l.starts_with("SmsManager")), "recovery never sends");
}

#[test]
fn a_worker_thread_attaches_once_and_stays_attached() {
    let Some(vm) = jvm() else { return };
    let _serial = serial();
    let relay = Arc::new(android_sms(vm, 34));
    let worker = {
        let relay = relay.clone();
        std::thread::spawn(move || {
            assert!(!vm.is_thread_attached().unwrap());
            let rec = Arc::new(Recorder::default());
            relay.submit(&sms("w1", "hi", None), rec.clone());
            assert!(vm.is_thread_attached().unwrap(), "the thread stays attached after a send");
            let attached = vm.threads_attached();
            relay.submit(&sms("w2", "hi", None), rec.clone());
            relay.submit(&sms("w3", "hi", None), rec.clone());
            assert_eq!(vm.threads_attached(), attached, "no new attachment per call");
            assert!(rec.take().is_empty());
        })
    };
    worker.join().unwrap();
    let sends = calls(vm).iter().filter(|l| l.starts_with("SmsManager.sendMultipartTextMessage")).count();
    assert_eq!(sends, 3);
}
