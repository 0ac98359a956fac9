//! One-time codes through the real API, with a real simulated phone (`relay-device`) reading
//! the SMS that reached its transport, over SQLite and PostgreSQL. Expiry is reached with the
//! server's hidden test clock (`serve --unsafe-test-clock`), never by sleeping.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, Reply, SentSms, TestDb, TestDevice, TestServer, create_account};
use crate::messages::wait_for_status;

both_backends!(
    an_otp_reaches_the_phone_in_its_locale_and_verifies_once,
    wrong_codes_count_down_and_five_spend_the_code,
    concurrent_correct_verifies_succeed_exactly_once,
    an_expired_code_answers_expired,
    a_new_send_replaces_the_pending_code,
    sends_are_limited_per_number_and_purpose,
    the_plan_caps_otp_sends_per_hour,
    bad_otp_requests_name_the_field,
    otp_messages_overtake_a_backlog_of_bulk_messages,
);

const SERVE_ARGS: &[&str] = &["--heartbeat-secs", "2", "--unsafe-test-clock"];
const TO: &str = "+923001234567";
const LRM: char = '\u{200E}';

fn send_otp(server: &TestServer, key: &str, body: Value) -> Reply {
    server.send("POST", "/v1/otp/send", Some(key), Some(&body.to_string()))
}

/// Sends and expects 201; returns (otp_id, request_id).
pub(crate) fn sent(server: &TestServer, key: &str, body: Value) -> (String, String) {
    let reply = send_otp(server, key, body);
    assert_eq!(reply.status, 201, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], "sent");
    let otp_id = v["otp_id"].as_str().unwrap().to_owned();
    assert!(otp_id.starts_with("otp_"), "{v}");
    assert_eq!(reply.header("location"), Some(format!("/v1/otp/{otp_id}").as_str()));
    (otp_id, v["request_id"].as_str().unwrap().to_owned())
}

pub(crate) fn verify(server: &TestServer, key: &str, otp_id: &str, code: &str) -> Value {
    let body = json!({"otp_id": otp_id, "code": code}).to_string();
    let reply = server.send("POST", "/v1/otp/verify", Some(key), Some(&body));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn advance_clock(server: &TestServer, seconds: i64) {
    let reply = server.send("POST", "/v1/test/clock/advance", None, Some(&json!({"seconds": seconds}).to_string()));
    assert_eq!(reply.status, 200, "{}", reply.text);
}

fn otp(server: &TestServer, key: &str, otp_id: &str) -> Value {
    let reply = server.get(&format!("/v1/otp/{otp_id}"), Some(key));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

/// A paired, running phone with pacing lifted.
pub(crate) fn phone(server: &TestServer, key: &str, name: &str) -> TestDevice {
    let mut phone = TestDevice::pair(server, key, name);
    let pacing = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 0}}).to_string();
    let reply = server.send("PATCH", &format!("/v1/devices/{}", phone.device_id), Some(key), Some(&pacing));
    assert_eq!(reply.status, 200, "{}", reply.text);
    phone.run(&["--latency-ms", "10"]);
    phone
}

/// The SMS the phone handed to its transport for `request_id`.
pub(crate) fn sms_for(phone: &mut TestDevice, request_id: &str) -> SentSms {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        phone.assert_running();
        if let Some(s) = phone.sent().into_iter().find(|s| s.request_id == request_id) {
            return s;
        }
        assert!(Instant::now() < deadline, "the phone never sent {request_id}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The one run of exactly `len` ASCII digits in the text: the code.
pub(crate) fn code_in(text: &str, len: usize) -> String {
    let runs: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).filter(|r| r.len() == len).collect::<Vec<_>>();
    assert!(!runs.is_empty(), "no {len}-digit code in {text:?}");
    assert!(runs.iter().all(|r| *r == runs[0]), "several {len}-digit numbers in {text:?}");
    runs[0].to_owned()
}

fn an_otp_reaches_the_phone_in_its_locale_and_verifies_once(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-e2e@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = phone(&server, &a.key, "OTP phone");

    let reply = send_otp(&server, &a.key, json!({"to": "+92 300 1234567", "purpose": "login", "locale": "ur"}));
    assert_eq!(reply.status, 201, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["expires_in_seconds"], 300, "{v}");
    assert_eq!(v["to"], TO, "{v}");
    let (otp_id, request_id) = (v["otp_id"].as_str().unwrap().to_owned(), v["request_id"].as_str().unwrap().to_owned());

    // The SMS as the phone's transport got it: Urdu wording, the code in ASCII digits between
    // left-to-right marks, the expiry in minutes.
    let sms = sms_for(&mut phone, &request_id);
    assert_eq!(sms.to, TO);
    let code = code_in(&sms.body, 6);
    assert_eq!(
        sms.body,
        format!("آپ کا لاگ اِن کوڈ {LRM}{code}{LRM} ہے۔ یہ 5 منٹ تک کارآمد ہے۔ یہ کوڈ کسی کو نہ بتائیں۔")
    );

    // A wrong code first: counted.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = verify(&server, &a.key, &otp_id, wrong);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"], "wrong_code", "{r}");
    assert_eq!(r["attempts_remaining"], 4, "{r}");
    // The right one, typed with Urdu digits: success, once.
    let urdu_digits: String = code.chars().map(|c| char::from_u32(0x6f0 + c.to_digit(10).unwrap()).unwrap()).collect();
    let r = verify(&server, &a.key, &otp_id, &urdu_digits);
    assert_eq!(r["status"], "success", "{r}");
    assert_eq!(r["otp_id"], otp_id.as_str());
    let r = verify(&server, &a.key, &otp_id, &code);
    assert_eq!(r["status"], "failed", "a replay must fail: {r}");
    assert_eq!(r["reason"], "already_verified", "{r}");
    assert_eq!(r["attempts_remaining"], 0, "{r}");

    wait_for_status(&server, &a.key, &request_id, "delivered", Duration::from_secs(30));
    let o = otp(&server, &a.key, &otp_id);
    assert_eq!(o["status"], "verified", "{o}");
    assert_eq!(o["purpose"], "login");
    assert_eq!(o["locale"], "ur");
    assert_eq!(o["to"], TO);
    assert_eq!(o["attempts"], 2, "{o}");
    assert_eq!(o["request_id"], request_id.as_str());
    assert_eq!(o["delivery_status"], "delivered", "{o}");
    for field in ["created_at", "expires_at", "verified_at"] {
        assert!(o[field].is_string(), "{field}: {o}");
    }
    assert!(!o.to_string().contains(&code), "the OTP view shows the code: {o}");

    // The formats apps and browsers read: the SMS Retriever hash, then `@domain #code` last.
    let (otp2, req2) = sent(
        &server,
        &a.key,
        json!({"to": TO, "purpose": "signup", "code_length": 8, "expires_in_seconds": 600,
               "app_hash": "FA+9qCX9VSu", "web_otp_domain": "Example.com"}),
    );
    let sms = sms_for(&mut phone, &req2);
    let code2 = code_in(&sms.body, 8);
    assert_eq!(
        sms.body,
        format!(
            "Your sign-up code is {code2}. It expires in 10 minutes. Don't share it with anyone.\n\nFA+9qCX9VSu\n\n@example.com #{code2}"
        )
    );
    assert_eq!(verify(&server, &a.key, &otp2, &code2)["status"], "success");

    // The code never shows in the message API, and the stored text loses it once the phone has it.
    wait_for_status(&server, &a.key, &req2, "delivered", Duration::from_secs(30));
    for (id, c) in [(&request_id, &code), (&req2, &code2)] {
        let m = server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json();
        assert_eq!(m["priority"], "otp", "{m}");
        let shown = m["message"].as_str().unwrap();
        assert!(!shown.contains(c.as_str()) && shown.contains("••••"), "{m}");
    }
    let list = server.get("/v1/messages", Some(&a.key));
    assert!(!list.text.contains(&code) && !list.text.contains(&code2), "{}", list.text);
    let stored = stored_texts(&db);
    for c in [&code, &code2] {
        assert!(!stored.iter().any(|t| t.contains(c.as_str())), "the database holds the code: {stored:?}");
    }
    // Only an HMAC keyed with the secret in the data folder (mode 0600) is stored.
    let secret_file = db.dir.path().join("otp-secret");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&secret_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", secret_file.display());
    }
    let secret = relay_server::otp::secret::OtpSecret::load_or_create(db.dir.path()).unwrap();
    assert_eq!(stored_hash(&db, &otp_id), secret.hash(&otp_id, &code));
    // (Each log line starts with its timestamp, whose microseconds are digits too: skip it.)
    let log = server.log();
    let leaked: Vec<&str> = log
        .lines()
        .filter(|l| {
            let rest = l.split_once(' ').map_or(*l, |(_, rest)| rest);
            rest.contains(code.as_str()) || rest.contains(code2.as_str())
        })
        .collect();
    assert!(leaked.is_empty(), "a code reached the server log: {leaked:?}");
}

/// Every text column of messages and OTPs: none may hold a code once the phone has the SMS.
fn stored_texts(db: &TestDb) -> Vec<String> {
    use diesel::prelude::*;
    use relay_server::db::schema::{message_events, messages, otps};
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let mut out: Vec<String> = messages::table.select(messages::body).load(&mut *conn).unwrap();
    out.extend(
        messages::table
            .select(messages::redacted_body.assume_not_null())
            .filter(messages::redacted_body.is_not_null())
            .load::<String>(&mut *conn)
            .unwrap(),
    );
    out.extend(
        messages::table
            .select(messages::metadata.assume_not_null())
            .filter(messages::metadata.is_not_null())
            .load::<String>(&mut *conn)
            .unwrap(),
    );
    out.extend(
        message_events::table
            .select(message_events::detail.assume_not_null())
            .filter(message_events::detail.is_not_null())
            .load::<String>(&mut *conn)
            .unwrap(),
    );
    out.extend(otps::table.select(otps::code_hash).load::<String>(&mut *conn).unwrap());
    out
}

fn stored_hash(db: &TestDb, otp_id: &str) -> String {
    use diesel::prelude::*;
    use relay_server::db::schema::otps;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    otps::table.find(otp_id).select(otps::code_hash).first(&mut *conn).unwrap()
}

fn wrong_codes_count_down_and_five_spend_the_code(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-spent@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = phone(&server, &a.key, "Spent phone");
    let (otp_id, request_id) = sent(&server, &a.key, json!({"to": TO, "purpose": "transaction", "locale": "ar"}));
    let sms = sms_for(&mut phone, &request_id);
    let code = code_in(&sms.body, 6);
    assert!(sms.body.starts_with("رمز تأكيد العملية هو "), "{}", sms.body);
    assert!(sms.body.contains(&format!("{LRM}{code}{LRM}.")), "{}", sms.body);
    assert!(sms.body.contains("صالح لمدة 5 دقائق."), "{}", sms.body);

    // Seven digits never match a six-digit code.
    for remaining in (0..5).rev() {
        let r = verify(&server, &a.key, &otp_id, "1234567");
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["reason"], "wrong_code", "{r}");
        assert_eq!(r["attempts_remaining"], remaining, "{r}");
    }
    // Spent: even the right code fails now.
    let r = verify(&server, &a.key, &otp_id, &code);
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"], "attempts_exhausted", "{r}");
    assert_eq!(r["attempts_remaining"], 0, "{r}");
    let o = otp(&server, &a.key, &otp_id);
    assert_eq!(o["status"], "failed", "{o}");
    assert_eq!(o["attempts"], 5, "{o}");
}

fn concurrent_correct_verifies_succeed_exactly_once(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-race@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = phone(&server, &a.key, "Race phone");
    let (otp_id, request_id) = sent(&server, &a.key, json!({"to": TO, "purpose": "verification", "code_length": 4}));
    let code = code_in(&sms_for(&mut phone, &request_id).body, 4);

    let n = 8;
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
    let threads: Vec<_> = (0..n)
        .map(|_| {
            let (url, key, otp_id, code, barrier) =
                (server.url.clone(), a.key.clone(), otp_id.clone(), code.clone(), barrier.clone());
            std::thread::spawn(move || {
                let http = crate::common::http_client();
                barrier.wait();
                let r = http
                    .post(format!("{url}/v1/otp/verify"))
                    .bearer_auth(key)
                    .json(&json!({"otp_id": otp_id, "code": code}))
                    .send()
                    .unwrap();
                assert_eq!(r.status().as_u16(), 200);
                r.json::<Value>().unwrap()
            })
        })
        .collect();
    let answers: Vec<Value> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let successes = answers.iter().filter(|r| r["status"] == "success").count();
    assert_eq!(successes, 1, "{answers:?}");
    for r in answers.iter().filter(|r| r["status"] != "success") {
        assert_eq!(r["status"], "failed", "{r}");
        assert_eq!(r["reason"], "already_verified", "{r}");
    }
    assert_eq!(otp(&server, &a.key, &otp_id)["attempts"], 1, "only the winning attempt counts");
}

fn an_expired_code_answers_expired(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-expiry@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    // No phone: the SMS waits in the queue, and expires with its code.
    let (otp_id, request_id) = sent(&server, &a.key, json!({"to": TO, "purpose": "login", "expires_in_seconds": 60}));
    advance_clock(&server, 55);
    let r = verify(&server, &a.key, &otp_id, "1234567");
    assert_eq!(r["status"], "failed", "still valid after 55 s: {r}");
    assert_eq!(r["attempts_remaining"], 4, "{r}");
    advance_clock(&server, 6);
    let r = verify(&server, &a.key, &otp_id, "1234567");
    assert_eq!(r["status"], "expired", "{r}");
    assert_eq!(r["attempts_remaining"], 0, "{r}");
    assert!(r.get("reason").is_none(), "{r}");
    let o = otp(&server, &a.key, &otp_id);
    assert_eq!(o["status"], "expired", "{o}");
    assert_eq!(o["attempts"], 1, "the expired try is not counted: {o}");
    // Its SMS is not sent any more either.
    let m = wait_for_status(&server, &a.key, &request_id, "expired", Duration::from_secs(10));
    assert!(m["message"].as_str().unwrap().contains("••••••"), "{m}");
}

fn a_new_send_replaces_the_pending_code(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-replace@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let (first, first_sms) = sent(&server, &a.key, json!({"to": TO, "purpose": "login"}));
    // Another purpose for the same number is another code, and leaves the first alone.
    let (other, _) = sent(&server, &a.key, json!({"to": TO, "purpose": "password_reset"}));
    advance_clock(&server, 31);
    let (second, _) = sent(&server, &a.key, json!({"to": TO, "purpose": "login"}));
    let o = otp(&server, &a.key, &first);
    assert_eq!(o["status"], "canceled", "{o}");
    assert_eq!(o["delivery_status"], "canceled", "its SMS was not on a phone yet: {o}");
    let m = server.get(&format!("/v1/messages/{first_sms}"), Some(&a.key)).json();
    assert_eq!(m["status"], "canceled", "{m}");
    let last = m["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["detail"], "replaced by a newer one-time code", "{m}");
    let r = verify(&server, &a.key, &first, "1234567");
    assert_eq!(r["status"], "failed", "{r}");
    assert_eq!(r["reason"], "superseded", "{r}");
    assert_eq!(otp(&server, &a.key, &second)["status"], "pending");
    assert_eq!(otp(&server, &a.key, &other)["status"], "pending");
}

fn sends_are_limited_per_number_and_purpose(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-limits@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let body = json!({"to": TO, "purpose": "login"});
    sent(&server, &a.key, body.clone());
    // One per 30 s.
    let refused = send_otp(&server, &a.key, body.clone());
    let message = refused.assert_error(429, "rate_limited");
    assert!(message.contains("30 s"), "{message}");
    let retry: u64 = refused.json()["error"]["retry_after"].as_u64().unwrap();
    assert!((1..=30).contains(&retry), "{retry}");
    assert_eq!(refused.header("retry-after"), Some(retry.to_string().as_str()));
    // Another number, or another purpose, is not held back.
    sent(&server, &a.key, json!({"to": "+923001234568", "purpose": "login"}));
    sent(&server, &a.key, json!({"to": TO, "purpose": "signup"}));
    // Five in ten minutes: the sixth waits for the oldest to leave the window.
    for _ in 0..4 {
        advance_clock(&server, 31);
        sent(&server, &a.key, body.clone());
    }
    advance_clock(&server, 31);
    let refused = send_otp(&server, &a.key, body.clone());
    let message = refused.assert_error(429, "rate_limited");
    assert!(message.contains("10 minutes"), "{message}");
    let retry = refused.json()["error"]["retry_after"].as_u64().unwrap();
    // The first was sent 5 × 31 = 155 s ago.
    assert!((440..=445).contains(&retry), "{retry}");
    advance_clock(&server, i64::try_from(retry).unwrap());
    sent(&server, &a.key, body);
}

fn the_plan_caps_otp_sends_per_hour(backend: Backend) {
    let db = TestDb::new(backend);
    // starter: 100 codes an hour (and 5 requests/s per key, 20 at once).
    let a = create_account(&db, "otp-hourly@example.com", "starter");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let account = server.get("/v1/account", Some(&a.key)).json();
    assert_eq!(account["limits"]["otp_per_hour"], 100, "{account}");
    let send_waiting_out_the_key_limit = |to: &str| -> Reply {
        loop {
            let r = send_otp(&server, &a.key, json!({"to": to, "purpose": "signup"}));
            if r.status == 429 && r.text.contains("API key") {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            return r;
        }
    };
    for i in 0..100 {
        let r = send_waiting_out_the_key_limit(&format!("+9230012340{i:02}"));
        assert_eq!(r.status, 201, "send {i}: {}", r.text);
    }
    let refused = send_waiting_out_the_key_limit("+923001239999");
    let message = refused.assert_error(429, "rate_limited");
    assert!(message.contains("hourly"), "{message}");
    let retry = refused.json()["error"]["retry_after"].as_u64().unwrap();
    assert!((3500..=3600).contains(&retry), "{retry}");
    advance_clock(&server, 3601);
    assert_eq!(send_waiting_out_the_key_limit("+923001239999").status, 201);
}

fn bad_otp_requests_name_the_field(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-bad@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let cases = [
        (
            json!({"to": TO, "purpose": "birthday"}),
            "purpose",
            "login, signup, password_reset, transaction, verification",
        ),
        (json!({"to": TO, "purpose": "login", "locale": "de"}), "locale", "ur-Latn"),
        (json!({"to": TO, "purpose": "login", "expires_in_seconds": 59}), "expires_in_seconds", "60 and 3600"),
        (json!({"to": TO, "purpose": "login", "expires_in_seconds": 3601}), "expires_in_seconds", "60 and 3600"),
        (json!({"to": TO, "purpose": "login", "code_length": 3}), "code_length", "4 and 10"),
        (json!({"to": TO, "purpose": "login", "code_length": 11}), "code_length", "4 and 10"),
        (json!({"to": TO, "purpose": "login", "app_hash": "short"}), "app_hash", "11-character"),
        (
            json!({"to": TO, "purpose": "login", "web_otp_domain": "https://example.com/x"}),
            "web_otp_domain",
            "example.com",
        ),
        (json!({"to": "12", "purpose": "login"}), "to", ""),
        (json!({"purpose": "login"}), "to", ""),
    ];
    for (body, field, mentions) in cases {
        let reply = send_otp(&server, &a.key, body.clone());
        let message = reply.assert_error(400, "invalid_request");
        assert_eq!(reply.json()["error"]["field"], field, "{body}: {}", reply.text);
        assert!(message.contains(mentions), "{body}: {message}");
    }
    let r = server.send("POST", "/v1/otp/verify", Some(&a.key), Some(r#"{"otp_id": "otp_nope", "code": "1234"}"#));
    r.assert_error(404, "not_found");
    let r = server.send("POST", "/v1/otp/verify", Some(&a.key), Some(r#"{"otp_id": "otp_nope", "code": "12a4"}"#));
    r.assert_error(400, "invalid_request");
    server.get("/v1/otp/otp_nope", Some(&a.key)).assert_error(404, "not_found");
    // Another account cannot see or verify this one's codes.
    let (otp_id, _) = sent(&server, &a.key, json!({"to": TO, "purpose": "login"}));
    let b = create_account(&db, "otp-other@example.com", "standard");
    server.get(&format!("/v1/otp/{otp_id}"), Some(&b.key)).assert_error(404, "not_found");
    let body = json!({"otp_id": otp_id, "code": "123456"}).to_string();
    server.send("POST", "/v1/otp/verify", Some(&b.key), Some(&body)).assert_error(404, "not_found");
    // The test clock is not part of a normal server.
    let plain = TestServer::start(&db);
    plain.send("POST", "/v1/test/clock/advance", None, Some(r#"{"seconds": 1}"#)).assert_error(404, "not_found");
}

/// 1,000 bulk messages wait for a phone; an OTP sent after them goes out first.
fn otp_messages_overtake_a_backlog_of_bulk_messages(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "otp-lane@example.com", "unlimited");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Busy phone");
    let pacing = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 0}}).to_string();
    assert_eq!(
        server.send("PATCH", &format!("/v1/devices/{}", phone.device_id), Some(&a.key), Some(&pacing)).status,
        200
    );
    queue_bulk(&db, &a.id, 1000);
    let (_, first_otp) = sent(&server, &a.key, json!({"to": TO, "purpose": "login"}));
    phone.run(&["--latency-ms", "5"]);
    let otp_sms = sms_for(&mut phone, &first_otp);
    let order = phone.sent();
    assert_eq!(order[0].request_id, first_otp, "the OTP queued after 1,000 bulk messages goes first");
    assert!(otp_sms.body.contains("login code"));

    // And with the phone already busy on the backlog: the next OTP is taken with the phone's
    // next claim, long before the backlog drains.
    let deadline = Instant::now() + Duration::from_secs(30);
    while phone.sent().len() < 50 {
        assert!(Instant::now() < deadline, "the phone is not draining the backlog");
        std::thread::sleep(Duration::from_millis(10));
    }
    let (_, second_otp) = sent(&server, &a.key, json!({"to": "+923001234568", "purpose": "login"}));
    let before = phone.sent().len();
    sms_for(&mut phone, &second_otp);
    let position = phone.sent().iter().position(|s| s.request_id == second_otp).unwrap();
    // At most what the phone already held (its window of 64) went before it.
    assert!(position <= before + 64 + 1, "sent {before} before the OTP was queued; it went out at {position}");
    assert!(position < 500, "the OTP waited for the backlog: position {position}");
}

/// Stores `n` bulk-lane messages, queued, as a bulk send will.
fn queue_bulk(db: &TestDb, account_id: &str, n: usize) {
    use relay_server::messages::models::{Lane, Message};
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let now = chrono::Utc::now().naive_utc();
    let batch: Vec<Message> = (0..n)
        .map(|i| Message {
            id: format!("req_{}", ulid::Ulid::new()),
            account_id: account_id.to_owned(),
            to_number: "+923001234569".into(),
            body: format!("Bulk {i}"),
            priority: Lane::Bulk as i16,
            status: "queued".into(),
            requested_device_id: None,
            device_id: None,
            sim: None,
            encoding: "gsm7".into(),
            segments: 1,
            metadata: None,
            batch_id: None,
            attempts: 0,
            failure_code: None,
            failure_reason: None,
            expires_at: now + chrono::Duration::days(1),
            queued_at: now,
            dispatched_at: None,
            acked_at: None,
            sent_at: None,
            delivered_at: None,
            finished_at: None,
            updated_at: now,
            redacted_body: None,
        })
        .collect();
    diesel::Connection::transaction(&mut *conn, |c| relay_server::messages::queries::insert(c, &batch)).unwrap();
}
