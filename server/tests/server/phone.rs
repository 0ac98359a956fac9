//! The message path end to end, with a real phone agent: the `relay-device` simulator (the
//! relay-core agent over a simulated SMS transport) paired with the real server binary, over
//! real SQLite and PostgreSQL. Then the faults the product promises to survive: the phone
//! killed mid-stream, the server killed mid-stream, a connection that keeps dropping. Every
//! accepted message must end delivered, and the phone's sent box must hold each exactly once.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, FlakyLink, Reply, TestDb, TestDevice, TestServer, create_account, poll};
use crate::messages::wait_for_status;

both_backends!(
    a_message_travels_from_the_api_to_the_phone_and_back,
    a_failing_phone_is_degraded_until_re_enabled,
    a_canceled_message_never_reaches_the_phone,
    a_phone_killed_mid_stream_sends_every_message_exactly_once,
    a_server_killed_mid_stream_loses_nothing_and_sends_nothing_twice,
    a_connection_that_keeps_dropping_sends_every_message_exactly_once,
    the_daily_cap_holds_across_reconnects,
    messages_naming_a_phone_reach_it_among_idle_others,
);

/// Offline detection within seconds: three missed 2 s heartbeats.
const SERVE_ARGS: &[&str] = &["--heartbeat-secs", "2"];

fn send(server: &TestServer, key: &str, body: Value) -> Reply {
    server.send("POST", "/v1/messages", Some(key), Some(&body.to_string()))
}

fn queue_message(server: &TestServer, key: &str, body: Value) -> String {
    let reply = send(server, key, body);
    assert_eq!(reply.status, 202, "{}", reply.text);
    reply.json()["request_id"].as_str().unwrap().to_owned()
}

fn device(server: &TestServer, key: &str, id: &str) -> Value {
    let reply = server.get(&format!("/v1/devices/{id}"), Some(key));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn a_message_travels_from_the_api_to_the_phone_and_back(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "e2e@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Front desk phone");
    let not_ready = server.get("/v1/readiness", Some(&a.key));
    not_ready.assert_error(503, "not_ready");
    phone.run(&["--latency-ms", "50"]);

    // The phone shows up online, with the figures of its heartbeat.
    let listed = poll(Duration::from_secs(20), "the phone online with a heartbeat", || {
        let list = server.get("/v1/devices", Some(&a.key)).json();
        let d = list["devices"].as_array().unwrap().iter().find(|d| d["id"] == phone.device_id.as_str())?.clone();
        (d["state"] == "online" && d["last_heartbeat_at"].is_string()).then_some(d)
    });
    assert_eq!(listed["name"], "Front desk phone");
    assert_eq!(listed["online"], true);
    assert_eq!(listed["battery_percent"], 100);
    assert_eq!(listed["charging"], true);
    assert_eq!(listed["signal_level"], 4);
    assert_eq!(listed["network"], "wifi");
    assert_eq!(listed["permissions"]["send_sms"], true);
    assert_eq!(listed["sims"][0]["carrier"], "Simulated");
    assert!(listed["local_queue_depth"].is_u64(), "{listed}");
    assert!(listed["parts_sent_today"].is_u64(), "{listed}");
    let ready = server.get("/v1/readiness", Some(&a.key));
    assert_eq!(ready.status, 200, "{}", ready.text);
    assert_eq!(ready.json()["checks"]["devices"]["online"], 1);

    // Text that must arrive whole: a line break, non-GSM characters, two segments' worth.
    let text = format!("Your code is 482913.\nDon't share it — Relay ✓ {}", "x".repeat(60));
    let id = queue_message(&server, &a.key, json!({"to": "+92 300 1234567", "message": text}));
    let m = wait_for_status(&server, &a.key, &id, "delivered", Duration::from_secs(30));
    assert_eq!(m["device_id"], phone.device_id.as_str());
    assert_eq!(m["device_name"], "Front desk phone");
    assert_eq!(m["attempts"], 1);
    assert_eq!(m["encoding"], "ucs2");
    assert_eq!(m["segments"], 2);
    assert!(m["failure"].is_null(), "{m}");
    for field in ["dispatched_at", "sent_at", "delivered_at"] {
        assert!(m[field].is_string(), "{field} missing: {m}");
    }
    let statuses: Vec<&str> = m["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "dispatched", "sent", "delivered"], "{m}");

    let sent = phone.sent();
    let mine: Vec<_> = sent.iter().filter(|s| s.request_id == id).collect();
    assert_eq!(mine.len(), 1, "the phone must send it exactly once: {sent:?}");
    assert_eq!(mine[0].to, "+923001234567");
    assert_eq!(mine[0].body, text, "the phone must get the full text");
    assert_eq!(sent.len(), 1, "nothing else was sent: {sent:?}");

    // SIGTERM stops the phone cleanly; the server sees it go, and readiness says so.
    assert!(phone.terminate(), "relay-device should exit 0 on SIGTERM");
    poll(Duration::from_secs(20), "the phone offline", || {
        (device(&server, &a.key, &phone.device_id)["state"] == "offline").then_some(())
    });
    server.get("/v1/readiness", Some(&a.key)).assert_error(503, "not_ready");
}

fn a_failing_phone_is_degraded_until_re_enabled(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "failing@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Broken radio");
    phone.run(&["--outcome", "failed", "--latency-ms", "20"]);

    // Five failures in a row (the threshold): each ends failed, with the phone's reason.
    let ids: Vec<String> = (0..5)
        .map(|i| queue_message(&server, &a.key, json!({"to": "+923001234567", "message": format!("try {i}")})))
        .collect();
    for id in &ids {
        let m = wait_for_status(&server, &a.key, id, "failed", Duration::from_secs(30));
        assert_eq!(m["failure"]["code"], "generic_failure", "{m}");
        assert!(!m["failure"]["reason"].as_str().unwrap().trim().is_empty(), "{m}");
        assert_eq!(m["device_name"], "Broken radio");
        let last = m["events"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["status"], "failed", "{m}");
    }
    assert_eq!(phone.sent().len(), 5, "each attempt went to the radio once");

    // The failure count is written just after the message's own state (not in its
    // transaction), so the device may show degraded a moment after the fifth failure.
    let d = poll(Duration::from_secs(10), "the phone degraded", || {
        let d = device(&server, &a.key, &phone.device_id);
        (d["state"] == "degraded").then_some(d)
    });
    assert_eq!(d["consecutive_failures"], 5, "{d}");
    assert!(d["degraded_at"].is_string(), "{d}");
    let q = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(q["state"], "blocked", "{q}");
    assert_eq!(q["counts"]["failed"], 5, "{q}");
    let refused = send(&server, &a.key, json!({"to": "+923001234567", "message": "one more"}));
    let message = refused.assert_error(409, "queue_blocked");
    assert!(message.contains("degraded"), "{message}");

    // Re-enabling clears it: the phone is online and gets work again.
    let reply =
        server.send("PATCH", &format!("/v1/devices/{}", phone.device_id), Some(&a.key), Some(r#"{"enabled": true}"#));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let d = reply.json();
    assert_eq!(d["state"], "online", "{d}");
    assert_eq!(d["consecutive_failures"], 0, "{d}");
    assert!(d["degraded_at"].is_null(), "{d}");
    assert_eq!(server.get("/v1/queue", Some(&a.key)).json()["state"], "running");
    let id = queue_message(&server, &a.key, json!({"to": "+923001234567", "message": "after re-enabling"}));
    let m = wait_for_status(&server, &a.key, &id, "failed", Duration::from_secs(30));
    assert_eq!(m["attempts"], 1);
    assert_eq!(phone.sent().iter().filter(|s| s.request_id == id).count(), 1);
}

fn a_canceled_message_never_reaches_the_phone(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "cancel-e2e@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Late phone");

    // Paired but not connected: the message waits, and can be canceled.
    let canceled = queue_message(&server, &a.key, json!({"to": "+923001234567", "message": "never send this"}));
    let reply = server.send("POST", &format!("/v1/messages/{canceled}/cancel"), Some(&a.key), None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status"], "canceled");

    // The phone connects; a later message goes through. Messages go oldest first, so had the
    // canceled one been handed out at all, it would have gone before this one.
    phone.run(&["--latency-ms", "20"]);
    let later = queue_message(&server, &a.key, json!({"to": "+923001234567", "message": "send this"}));
    wait_for_status(&server, &a.key, &later, "delivered", Duration::from_secs(30));
    let sent = phone.sent();
    assert!(sent.iter().all(|s| s.request_id != canceled), "the canceled message reached the radio: {sent:?}");
    assert_eq!(sent.iter().filter(|s| s.request_id == later).count(), 1, "{sent:?}");

    let m = server.get(&format!("/v1/messages/{canceled}"), Some(&a.key)).json();
    assert_eq!(m["status"], "canceled", "{m}");
    assert_eq!(m["attempts"], 0, "{m}");
    assert!(m["device_id"].is_null(), "{m}");
    let statuses: Vec<&str> = m["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "canceled"], "{m}");
}

// --- faults ------------------------------------------------------------------------------

/// Messages per fault run: N = 1,000 on both backends. On 2 cores a run takes 15–30 s (the
/// phone's fsyncs set the pace); each test prints its time under `--no-capture`.
const STREAM: usize = 1000;

/// A test server, an account with no rate limit, and a paired phone with pacing off.
fn fault_setup(backend: Backend) -> (TestDb, String, TestServer, TestDevice) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "faults@example.com", "unlimited");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let phone = TestDevice::pair(&server, &a.key, "Fault phone");
    let reply = server.send(
        "PATCH",
        &format!("/v1/devices/{}", phone.device_id),
        Some(&a.key),
        Some(r#"{"pacing": {"parts_per_minute": 0, "parts_per_day": 0}}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    (db, a.key, server, phone)
}

/// Posts `n` messages from a thread of its own, as a customer would: each with an
/// Idempotency-Key, retried while the server is unreachable (it may be restarting, on the URL
/// in `url`), so every message is accepted exactly once. Returns (request id, text) pairs.
fn post_in_background(
    url: Arc<Mutex<String>>,
    key: String,
    n: usize,
) -> std::thread::JoinHandle<Vec<(String, String)>> {
    std::thread::spawn(move || {
        let http = crate::common::http_client();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut accepted = Vec::with_capacity(n);
        for i in 0..n {
            let text = format!("Fault stream {i}/{n}: your code is {:06}", (i * 7919) % 1_000_000);
            let body = json!({"to": "+923001234567", "message": text}).to_string();
            loop {
                let base = url.lock().unwrap().clone();
                let reply = http
                    .post(format!("{base}/v1/messages"))
                    .bearer_auth(&key)
                    .header("Idempotency-Key", format!("stream-{i}"))
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send();
                match reply {
                    Ok(r) if r.status().as_u16() == 202 => {
                        let v: Value = r.json().unwrap();
                        accepted.push((v["request_id"].as_str().unwrap().to_owned(), text));
                        break;
                    }
                    Ok(r) if r.status().is_server_error() => {}
                    Ok(r) => panic!("send {i} answered {}: {}", r.status(), r.text().unwrap_or_default()),
                    // The server is down or restarting: try again, as a client would.
                    Err(_) => {}
                }
                assert!(Instant::now() < deadline, "send {i} was not accepted within 120 s");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        accepted
    })
}

fn join<T>(handle: std::thread::JoinHandle<T>) -> T {
    handle.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
}

/// Waits until the phone's sent box holds at least `at_least` lines.
fn wait_for_sent(phone: &mut TestDevice, at_least: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        phone.assert_running();
        let n = phone.sent().len();
        if n >= at_least {
            return;
        }
        assert!(Instant::now() < deadline, "the phone sent {n} of the first {at_least} within {within:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until all `n` messages are final, failing early if any expires or is canceled.
/// (`failed` is checked message by message afterwards: only `outcome_unknown` is allowed.)
fn wait_all_final(server: &TestServer, key: &str, n: usize, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let q = server.get("/v1/queue", Some(key)).json();
        let c = &q["counts"];
        for bad in ["expired", "canceled"] {
            assert_eq!(c[bad], 0, "a message ended {bad}: {q}");
        }
        let fin = c["delivered"].as_u64().unwrap_or(0) + c["failed"].as_u64().unwrap_or(0);
        if fin == n as u64 {
            let total: u64 = c.as_object().unwrap().values().map(|v| v.as_u64().unwrap()).sum();
            assert_eq!(total, n as u64, "more messages than were sent: {q}");
            return;
        }
        assert!(Instant::now() < deadline, "not every message was final within {within:?}: {q}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The promise: every accepted message is final, none is missing, none went out twice. Each
/// is delivered, except one a kill caught between the phone's hand-over mark and its radio's
/// record: that one ends `failed` with `outcome_unknown` (never resent), and only such a one.
fn assert_each_delivered_and_sent_once(
    server: &TestServer,
    key: &str,
    phone: &TestDevice,
    accepted: &[(String, String)],
) {
    let texts: HashMap<&str, &str> = accepted.iter().map(|(id, text)| (id.as_str(), text.as_str())).collect();
    assert_eq!(texts.len(), accepted.len(), "every accepted send has its own request id");
    let recovered = phone.recovered_after_restart();

    // The API agrees: each accepted id is listed final, and nothing else exists.
    let mut listed = HashSet::new();
    let mut unknown = HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/messages?limit=100&cursor={c}"),
            None => "/v1/messages?limit=100".to_owned(),
        };
        let page = server.get(&path, Some(key)).json();
        for m in page["messages"].as_array().unwrap() {
            let id = m["request_id"].as_str().unwrap().to_owned();
            assert!(texts.contains_key(id.as_str()), "a message nobody sent: {m}");
            if m["status"] == "failed" {
                assert_eq!(m["failure"]["code"], "outcome_unknown", "{m}");
                assert!(recovered.contains(&id), "outcome_unknown for a message no restart caught: {m}");
                unknown.insert(id.clone());
            } else {
                assert_eq!(m["status"], "delivered", "{m}");
            }
            assert!(listed.insert(id), "listed twice: {m}");
        }
        if page["has_more"] != true {
            break;
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
    }
    assert_eq!(listed.len(), accepted.len(), "missing from the list");

    // The radio's view, across every run of the phone: each id at most once, with its text.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for sms in phone.sent() {
        let text =
            texts.get(sms.request_id.as_str()).unwrap_or_else(|| panic!("the phone sent an unknown message: {sms:?}"));
        assert_eq!(sms.body, *text, "the phone sent another text for {}", sms.request_id);
        *counts.entry(sms.request_id).or_default() += 1;
    }
    let twice: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "{} message(s) went out more than once: {twice:?}", twice.len());
    // Only a message whose outcome is honestly unknown may be missing from the radio's view.
    let missing: Vec<&str> = accepted
        .iter()
        .map(|(id, _)| id.as_str())
        .filter(|id| !counts.contains_key(*id) && !unknown.contains(*id))
        .collect();
    assert!(missing.is_empty(), "{} delivered message(s) never reached the radio: {missing:?}", missing.len());
    eprintln!(
        "{} messages final, none sent twice, over {} run(s) of the phone ({} caught mid-send: outcome_unknown)",
        accepted.len(),
        phone.runs(),
        unknown.len()
    );
}

/// N messages stream through a phone that is killed with SIGKILL and restarted on the same
/// data folder three times, at a quarter, half and three quarters of the stream.
fn a_phone_killed_mid_stream_sends_every_message_exactly_once(backend: Backend) {
    let started = Instant::now();
    let n = STREAM;
    let (_db, key, server, mut phone) = fault_setup(backend);
    let run_args = ["--latency-ms", "10"];
    phone.run(&run_args);
    let sender = post_in_background(Arc::new(Mutex::new(server.url.clone())), key.clone(), n);
    for quarter in 1..=3 {
        wait_for_sent(&mut phone, quarter * n / 4, Duration::from_secs(90));
        eprintln!("kill {quarter} at {:?}", started.elapsed());
        phone.kill_hard();
        phone.run(&run_args);
    }
    let accepted = join(sender);
    eprintln!("all accepted at {:?}", started.elapsed());
    assert_eq!(accepted.len(), n);
    wait_all_final(&server, &key, n, Duration::from_secs(120));
    eprintln!("all delivered at {:?}", started.elapsed());
    assert_each_delivered_and_sent_once(&server, &key, &phone, &accepted);
    eprintln!("{n} messages, 3 phone kills: {:?}", started.elapsed());
}

/// N messages stream while the SERVER is killed with SIGKILL twice (at a third and at two
/// thirds of the stream) and restarted on the same database. The customer keeps sending through
/// the outage, retrying with its Idempotency-Key; the phone keeps its process and reconnects.
fn a_server_killed_mid_stream_loses_nothing_and_sends_nothing_twice(backend: Backend) {
    let started = Instant::now();
    let n = STREAM;
    let (_db, key, mut server, mut phone) = fault_setup(backend);
    phone.run(&["--latency-ms", "10"]);
    let url = Arc::new(Mutex::new(server.url.clone()));
    let sender = post_in_background(url.clone(), key.clone(), n);
    for third in 1..=2 {
        wait_for_sent(&mut phone, third * n / 3, Duration::from_secs(90));
        server.kill_hard();
        server.restart();
        let moved = *url.lock().unwrap() != server.url;
        if moved {
            // The old port was taken meanwhile: point the phone at the new one.
            *url.lock().unwrap() = server.url.clone();
            phone.kill_hard();
            phone.run(&["--latency-ms", "10", "--connect-url", &server.connect_url()]);
        }
    }
    let accepted = join(sender);
    assert_eq!(accepted.len(), n);
    wait_all_final(&server, &key, n, Duration::from_secs(120));
    assert_each_delivered_and_sent_once(&server, &key, &phone, &accepted);
    poll(Duration::from_secs(20), "the phone online after the restarts", || {
        (device(&server, &key, &phone.device_id)["state"] == "online").then_some(())
    });
    eprintln!("{n} messages, 2 server kills: {:?}", started.elapsed());
}

/// A phone whose connection is cut every few dozen messages (the process lives on): each cut
/// drops frames in flight both ways, so `accepted`, `confirm` and reports are lost at random
/// and must be settled on reconnect (`hello.unconfirmed`, re-queueing, repeated reports).
fn a_connection_that_keeps_dropping_sends_every_message_exactly_once(backend: Backend) {
    let started = Instant::now();
    let n = 300;
    let cuts = 12;
    let (_db, key, server, mut phone) = fault_setup(backend);
    let mut link = FlakyLink::start(server.port());
    phone.run(&["--latency-ms", "10", "--connect-url", &link.connect_url()]);
    let sender = post_in_background(Arc::new(Mutex::new(server.url.clone())), key.clone(), n);
    for cut in 1..=cuts {
        wait_for_sent(&mut phone, cut * n / (cuts + 2), Duration::from_secs(90));
        link.cut();
    }
    let accepted = join(sender);
    wait_all_final(&server, &key, n, Duration::from_secs(120));
    assert_each_delivered_and_sent_once(&server, &key, &phone, &accepted);
    assert_eq!(phone.runs(), 1, "the phone's process lived through it all");
    eprintln!("{n} messages, {} connection cuts: {:?}", link.cuts(), started.elapsed());
}

fn the_daily_cap_holds_across_reconnects(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "cap@example.com", "standard");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Capped phone");
    let pacing = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 3}}).to_string();
    let path = format!("/v1/devices/{}", phone.device_id);
    assert_eq!(server.send("PATCH", &path, Some(&a.key), Some(&pacing)).status, 200);
    for i in 0..5 {
        queue_message(&server, &a.key, json!({"to": "+923001234567", "message": format!("capped {i}")}));
    }
    phone.run(&["--latency-ms", "10"]);
    let delivered = || server.get("/v1/queue", Some(&a.key)).json()["counts"]["delivered"].as_i64().unwrap_or(0);
    poll(Duration::from_secs(20), "three messages delivered", || (delivered() == 3).then_some(()));
    // A reconnect must not reset the day's count: nothing more goes out today.
    phone.kill_hard();
    phone.run(&["--latency-ms", "10"]);
    poll(Duration::from_secs(20), "the phone back online", || {
        (device(&server, &a.key, &phone.device_id)["state"] == "online").then_some(())
    });
    std::thread::sleep(Duration::from_secs(2));
    let q = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(q["counts"]["delivered"], 3, "{q}");
    assert_eq!(q["counts"]["queued"], 2, "{q}");
    assert_eq!(phone.sent().len(), 3);
}

// Several server instances share one PostgreSQL database (SQLite has one instance by design).
mod an_instance_killed_hands_its_phone_to_another {
    #[test]
    fn postgres() {
        super::an_instance_killed_hands_its_phone_to_another()
    }
}
mod a_dead_instances_phone_goes_offline {
    #[test]
    fn postgres() {
        super::a_dead_instances_phone_goes_offline()
    }
}

/// Instances A and B on one database; the phone on A (B is its second URL, as a load balancer
/// would route it), every API call on B, so each message crosses from B to A through the
/// database. A is killed mid-stream: the phone reconnects to B, and every accepted message
/// still ends delivered, sent exactly once.
fn an_instance_killed_hands_its_phone_to_another() {
    let started = Instant::now();
    let n = 600;
    let (db, key, mut a, mut phone) = fault_setup(Backend::Postgres);
    let b = TestServer::start_with(&db, SERVE_ARGS);
    phone.run(&["--latency-ms", "10", "--connect-url", &a.connect_url(), "--connect-url", &b.connect_url()]);
    poll(Duration::from_secs(20), "the phone connected to A", || {
        a.get("/metrics", None).text.contains("relay_devices_online 1").then_some(())
    });
    assert!(b.get("/metrics", None).text.contains("relay_devices_online 0"));
    let sender = post_in_background(Arc::new(Mutex::new(b.url.clone())), key.clone(), n);
    wait_for_sent(&mut phone, n / 3, Duration::from_secs(90));
    a.kill_hard();
    let accepted = join(sender);
    assert_eq!(accepted.len(), n);
    wait_all_final(&b, &key, n, Duration::from_secs(120));
    assert_each_delivered_and_sent_once(&b, &key, &phone, &accepted);
    assert!(b.get("/metrics", None).text.contains("relay_devices_online 1"), "the phone is on B now");
    assert_eq!(phone.runs(), 1, "the phone's process lived through it all");
    eprintln!("{n} messages across two instances, one killed: {:?}", started.elapsed());
}

/// A phone held by an instance that died (the phone gone too) is shown offline by the
/// surviving instance once the dead one has missed its heartbeats.
fn a_dead_instances_phone_goes_offline() {
    let (db, key, mut a, mut phone) = fault_setup(Backend::Postgres);
    let b = TestServer::start_with(&db, SERVE_ARGS);
    phone.run(&["--latency-ms", "10", "--connect-url", &a.connect_url()]);
    poll(Duration::from_secs(20), "the phone online", || {
        (device(&b, &key, &phone.device_id)["state"] == "online").then_some(())
    });
    a.kill_hard();
    phone.kill_hard();
    poll(Duration::from_secs(60), "the phone offline on B", || {
        (device(&b, &key, &phone.device_id)["state"] == "offline").then_some(())
    });
}

mod postgres_goes_away_under_the_server {
    #[test]
    fn postgres() {
        super::postgres_goes_away_under_the_server()
    }
}

/// PostgreSQL goes away under a running server (a restart, a failover) and comes back:
/// meanwhile every send is answered at once, 202 or 503 `unavailable` (never a 500, never a
/// hang); the server recovers by itself; every accepted message is delivered, once.
fn postgres_goes_away_under_the_server() {
    let db = TestDb::new(Backend::Postgres);
    let a = create_account(&db, "outage@example.com", "unlimited");
    let mut link = FlakyLink::start(db.postgres_port());
    let proxied = db.through(link.port);
    let server = TestServer::start_with(&proxied, SERVE_ARGS);
    let mut phone = TestDevice::pair(&server, &a.key, "Outage phone");
    phone.run(&["--latency-ms", "10"]);
    poll(Duration::from_secs(20), "the phone online", || {
        (device(&server, &a.key, &phone.device_id)["state"] == "online").then_some(())
    });
    let mut accepted = Vec::new();
    let mut send_one = |text: String| {
        let reply = send(&server, &a.key, json!({"to": "+923001234567", "message": text}));
        match reply.status {
            202 => {
                accepted.push((reply.json()["request_id"].as_str().unwrap().to_owned(), text));
                true
            }
            503 => {
                reply.assert_error(503, "unavailable");
                false
            }
            other => panic!("a send during the outage answered {other}: {}", reply.text),
        }
    };
    for i in 0..20 {
        assert!(send_one(format!("before {i}")));
    }
    link.go_down();
    let mut refused = 0;
    for i in 0..10 {
        let asked = Instant::now();
        if !send_one(format!("during {i}")) {
            refused += 1;
        }
        assert!(asked.elapsed() < Duration::from_secs(10), "answered without waiting for the database");
    }
    assert!(refused > 0, "the outage was noticed");
    link.come_back();
    let mut i = 0;
    poll(Duration::from_secs(30), "sends accepted again", || {
        i += 1;
        send_one(format!("after {i}")).then_some(())
    });
    let n = accepted.len();
    wait_all_final(&server, &a.key, n, Duration::from_secs(60));
    assert_each_delivered_and_sent_once(&server, &a.key, &phone, &accepted);
    let log = server.log();
    assert!(!log.contains("status=500"), "no 500 answered: {log}");
}

mod rate_limits_hold_across_instances {
    #[test]
    fn postgres() {
        super::rate_limits_hold_across_instances()
    }
}

mod an_instance_that_stops_leaves_at_once {
    #[test]
    fn postgres() {
        super::an_instance_that_stops_leaves_at_once()
    }
}

/// An instance stopped with SIGTERM removes itself: the one that stays counts it out at its
/// next beat (5 s), not after the 20 s of silence that mark a killed one dead, and from then
/// enforces a key's whole quota again.
fn an_instance_that_stops_leaves_at_once() {
    let db = TestDb::new(Backend::Postgres);
    let a = TestServer::start(&db);
    let mut b = TestServer::start(&db);
    poll(Duration::from_secs(20), "both instances counted", || {
        a.get("/metrics", None).text.contains("relay_server_instances 2").then_some(())
    });
    let stopped = Instant::now();
    assert!(b.terminate(), "B exits 0 on SIGTERM; log:\n{}", b.log());
    poll(Duration::from_secs(12), "A counts B out", || {
        a.get("/metrics", None).text.contains("relay_server_instances 1").then_some(())
    });
    eprintln!("A counted B out {:?} after B was told to stop", stopped.elapsed());
}

/// Two instances, one key: together they allow the plan's burst, not twice it.
fn rate_limits_hold_across_instances() {
    let db = TestDb::new(Backend::Postgres);
    // starter: 5 requests/s sustained, bursts of 20.
    let account = create_account(&db, "shared-rate@example.com", "starter");
    let a = TestServer::start(&db);
    let b = TestServer::start(&db);
    for server in [&a, &b] {
        poll(Duration::from_secs(20), "both instances counted", || {
            server.get("/metrics", None).text.contains("relay_server_instances 2").then_some(())
        });
    }
    let started = Instant::now();
    let mut allowed = 0;
    for i in 0..80 {
        let server = if i % 2 == 0 { &a } else { &b };
        let reply = server.get("/v1/account", Some(&account.key));
        match reply.status {
            200 => allowed += 1,
            429 => drop(reply.assert_error(429, "rate_limited")),
            other => panic!("{other}: {}", reply.text),
        }
    }
    // The burst, plus what refilled meanwhile (each instance refills its half of 5/s), plus
    // one for the rounding of each instance's share.
    let refilled = (5.0 * started.elapsed().as_secs_f64()).ceil() as usize;
    assert!(allowed <= 20 + refilled + 2, "{allowed} allowed in {:?}", started.elapsed());
    assert!(allowed >= 10, "{allowed} allowed");
}

/// The dispatcher stops asking an account's phones once its general queue is dry; work meant
/// for one named phone must still find that phone, whichever phone was asked first.
fn messages_naming_a_phone_reach_it_among_idle_others(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "named@example.com", "unlimited");
    let server = TestServer::start_with(&db, SERVE_ARGS);
    let mut phones: Vec<TestDevice> =
        ["Phone A", "Phone B", "Phone C"].iter().map(|name| TestDevice::pair(&server, &a.key, name)).collect();
    for phone in &mut phones {
        phone.run(&["--latency-ms", "20"]);
    }
    poll(Duration::from_secs(20), "three phones online", || {
        let list = server.get("/v1/devices", Some(&a.key)).json();
        let online = list["devices"].as_array().unwrap().iter().filter(|d| d["online"] == true).count();
        (online == 3).then_some(())
    });
    let named = phones[2].device_id.clone();
    let for_c = |i: usize| json!({"to": format!("+9230012345{i:02}"), "message": "for C", "device_id": named});
    // Once C has been handed a message, the two phones that never were sort before it: the
    // dispatcher asks them first and finds the account's general queue empty.
    let first = queue_message(&server, &a.key, for_c(99));
    wait_for_status(&server, &a.key, &first, "delivered", Duration::from_secs(30));
    let mine: Vec<String> = (0..4).map(|i| queue_message(&server, &a.key, for_c(i))).collect();
    let any: Vec<String> = (0..2)
        .map(|i| queue_message(&server, &a.key, json!({"to": format!("+9230022345{i:02}"), "message": "any"})))
        .collect();
    for id in &mine {
        let m = wait_for_status(&server, &a.key, id, "delivered", Duration::from_secs(30));
        assert_eq!(m["device_id"], named.as_str(), "{m}");
    }
    for id in &any {
        wait_for_status(&server, &a.key, id, "delivered", Duration::from_secs(30));
    }
}
