//! Bulk sends through the real API and simulated phones (`relay-device`), over SQLite and
//! PostgreSQL: per-recipient checks and templating, every valid number delivered exactly once,
//! batch progress and cancel, size, the bulk lane yielding to other traffic, tenant isolation.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, Reply, TestDb, TestDevice, TestServer, add_online_device, create_account};
use crate::recipients::{created, set_region};

both_backends!(
    bulk_of_1000_with_duplicates_and_invalid_numbers_delivers_each_number_once,
    bulk_to_directory_ids_and_tags_skips_opted_out_recipients,
    bulk_of_20000_is_accepted_listed_and_canceled,
    bulk_does_not_hold_back_a_later_high_priority_message,
);

fn bulk(server: &TestServer, key: &str, body: &Value) -> Reply {
    server.send("POST", "/v1/messages/bulk", Some(key), Some(&body.to_string()))
}

fn accepted(server: &TestServer, key: &str, body: &Value) -> Value {
    let reply = bulk(server, key, body);
    assert_eq!(reply.status, 202, "{}", &reply.text[..reply.text.len().min(2000)]);
    let v = reply.json();
    assert_eq!(v["ok"], true);
    assert!(v["batch_id"].as_str().unwrap().starts_with("bat_"), "{v}");
    v
}

fn batch(server: &TestServer, key: &str, id: &str) -> Value {
    let reply = server.get(&format!("/v1/batches/{id}"), Some(key));
    assert_eq!(reply.status, 200, "{}", reply.text);
    reply.json()
}

fn unlimited_pacing(server: &TestServer, key: &str, device_id: &str) {
    let pacing = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 0}}).to_string();
    let reply = server.send("PATCH", &format!("/v1/devices/{device_id}"), Some(key), Some(&pacing));
    assert_eq!(reply.status, 200, "{}", reply.text);
}

fn rejected_by_error(v: &Value) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    for r in v["rejected"].as_array().unwrap() {
        *out.entry(r["error"].as_str().unwrap().to_owned()).or_insert(0) += 1;
    }
    out
}

fn bulk_of_1000_with_duplicates_and_invalid_numbers_delivers_each_number_once(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "bulk@example.com", "unlimited");
    let server = TestServer::start_with(&db, &["--heartbeat-secs", "2"]);
    set_region(&server, &a.key, "PK");
    let quiet = created(&server, &a.key, json!({"name": "Quiet", "phone": "+923009999999"}));
    let quiet_path = format!("/v1/recipients/{}", quiet["id"].as_str().unwrap());
    assert_eq!(server.send("PATCH", &quiet_path, Some(&a.key), Some(r#"{"opted_out": true}"#)).status, 200);

    // 1,000 entries: 939 distinct numbers, 39 repeats written another way, 21 invalid, one
    // opted out. Every fifth number has a name and a variable to fill.
    let mut recipients = Vec::new();
    let mut expected: HashMap<String, String> = HashMap::new();
    for i in 0..1000usize {
        let entry = if i % 25 == 24 && i < 975 {
            json!({"to": format!("0300 {:07}", 1_000_000 + i - 1), "name": "Again", "vars": {"n": i}})
        } else if i % 50 == 7 || i == 999 {
            json!({"to": if i % 100 == 7 { "12345".to_owned() } else { format!("+92 300 12{i}x") }, "name": "Bad", "vars": {"n": i}})
        } else if i == 500 {
            json!({"to": "+923009999999", "name": "Quiet", "vars": {"n": i}})
        } else {
            let to = format!("+92300{:07}", 1_000_000 + i);
            expected.insert(to.clone(), format!("Hi Person {i}, your number is {i}."));
            json!({"to": to, "name": format!("Person {i}"), "vars": {"n": i}})
        };
        recipients.push(entry);
    }
    let started = Instant::now();
    let v =
        accepted(&server, &a.key, &json!({"message": "Hi {{name}}, your number is {{n}}.", "recipients": recipients}));
    eprintln!("bulk of 1,000 accepted in {:?}", started.elapsed());
    let counts = rejected_by_error(&v);
    assert_eq!(v["queued"].as_u64().unwrap() as usize, expected.len(), "{counts:?}");
    assert_eq!(counts.get("duplicate"), Some(&39), "{counts:?}");
    assert_eq!(counts.get("invalid_number"), Some(&21), "{counts:?}");
    assert_eq!(counts.get("recipient_opted_out"), Some(&1), "{counts:?}");
    assert_eq!(v["request_ids"].as_array().unwrap().len(), expected.len());
    let first_dup = v["rejected"].as_array().unwrap().iter().find(|r| r["error"] == "duplicate").unwrap();
    assert_eq!(first_dup["index"], 24, "{first_dup}");
    assert!(first_dup["message"].as_str().unwrap().contains("index 23"), "{first_dup}");
    let batch_id = v["batch_id"].as_str().unwrap().to_owned();

    // The messages carry the batch id and the bulk lane; the list filters by batch.
    let page = server.get(&format!("/v1/messages?batch_id={batch_id}&limit=100"), Some(&a.key)).json();
    assert_eq!(page["messages"].as_array().unwrap().len(), 100);
    assert_eq!(page["has_more"], true);
    for m in page["messages"].as_array().unwrap() {
        assert_eq!(m["batch_id"], batch_id.as_str());
        assert_eq!(m["priority"], "bulk");
    }
    let one = server.get(&format!("/v1/messages/{}", v["request_ids"][0].as_str().unwrap()), Some(&a.key)).json();
    assert_eq!(one["message"], "Hi Person 0, your number is 0.");
    assert_eq!(one["events"][0]["status"], "queued", "{one}");

    // Two phones share the batch.
    let mut phones: Vec<TestDevice> =
        (1..=2).map(|n| TestDevice::pair(&server, &a.key, &format!("Phone {n}"))).collect();
    for phone in &mut phones {
        unlimited_pacing(&server, &a.key, &phone.device_id);
        phone.run(&["--latency-ms", "1"]);
    }
    let deadline = Instant::now() + Duration::from_secs(180);
    let last = loop {
        let b = batch(&server, &a.key, &batch_id);
        if b["progress_percent"] == 100.0 {
            break b;
        }
        assert!(Instant::now() < deadline, "the batch did not finish: {b}");
        for phone in &mut phones {
            phone.assert_running();
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(last["counts"]["delivered"].as_u64().unwrap() as usize, expected.len(), "{last}");
    assert_eq!(last["total"].as_u64().unwrap() as usize, expected.len());
    assert_eq!(last["rejected"], 61);

    // Every valid number reached a phone exactly once, with its own text.
    let mut seen = HashSet::new();
    let mut per_phone = Vec::new();
    for phone in &phones {
        let sent = phone.sent();
        per_phone.push(sent.len());
        for sms in sent {
            assert!(seen.insert(sms.request_id.clone()), "{} sent twice", sms.request_id);
            assert_eq!(expected.get(&sms.to), Some(&sms.body), "{sms:?}");
        }
    }
    assert_eq!(seen.len(), expected.len());
    eprintln!("messages per phone: {per_phone:?}");
}

fn bulk_to_directory_ids_and_tags_skips_opted_out_recipients(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "bulk-dir@example.com", "unlimited");
    let b = create_account(&db, "bulk-other@example.com", "unlimited");
    add_online_device(&db, &a.id);
    let server = TestServer::start(&db);
    let ali = created(&server, &a.key, json!({"name": "علی", "phone": "+923001110001", "tags": ["vip"]}));
    let sara = created(&server, &a.key, json!({"name": "Sara", "phone": "+923001110002", "tags": ["vip"]}));
    let out = created(&server, &a.key, json!({"name": "Out", "phone": "+923001110003", "tags": ["vip"]}));
    let out_path = format!("/v1/recipients/{}", out["id"].as_str().unwrap());
    assert_eq!(server.send("PATCH", &out_path, Some(&a.key), Some(r#"{"opted_out": true}"#)).status, 200);
    let theirs = created(&server, &b.key, json!({"name": "Theirs", "phone": "+923001110009"}));

    let body = json!({
        "message": "Salaam {{name}}",
        "recipient_ids": [ali["id"], theirs["id"]],
        "tag": "VIP",
    });
    let v = accepted(&server, &a.key, &body);
    // Ali by id, then the tag: Ali again (duplicate), Sara, Out (opted out). B's id is unknown here.
    assert_eq!(v["queued"], 2, "{v}");
    let errors: Vec<(u64, &str)> = v["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [(1, "not_found"), (2, "duplicate"), (4, "recipient_opted_out")], "{v}");
    let texts: Vec<String> = v["request_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| {
            server.get(&format!("/v1/messages/{}", id.as_str().unwrap()), Some(&a.key)).json()["message"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(texts, ["Salaam علی", "Salaam Sara"]);
    assert!(sara["id"].is_string());

    // Bad requests name the field; another account's batch is not found.
    bulk(&server, &a.key, &json!({"message": "x"})).assert_error(400, "invalid_request");
    bulk(&server, &a.key, &json!({"message": " ", "recipients": []})).assert_error(400, "invalid_request");
    let batch_id = v["batch_id"].as_str().unwrap();
    server.get(&format!("/v1/batches/{batch_id}"), Some(&b.key)).assert_error(404, "not_found");
    server.send("POST", &format!("/v1/batches/{batch_id}/cancel"), Some(&b.key), None).assert_error(404, "not_found");
    let theirs_list = server.get(&format!("/v1/messages?batch_id={batch_id}"), Some(&b.key)).json();
    assert_eq!(theirs_list["messages"], json!([]));
    server.get("/v1/batches/bat_nothing", Some(&a.key)).assert_error(404, "not_found");
}

fn bulk_of_20000_is_accepted_listed_and_canceled(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "bulk-big@example.com", "unlimited");
    add_online_device(&db, &a.id);
    let server = TestServer::start(&db);
    let n = 20_000;
    let recipients: Vec<Value> = (0..n).map(|i| json!({"to": format!("+92301{:07}", 1_000_000 + i)})).collect();
    let started = Instant::now();
    let v = accepted(&server, &a.key, &json!({"message": "Our shop opens at 9 tomorrow.", "recipients": recipients}));
    eprintln!("bulk of {n} accepted in {:?} ({backend:?}, debug build)", started.elapsed());
    assert_eq!(v["queued"], n);
    assert_eq!(v["rejected"], json!([]));
    let batch_id = v["batch_id"].as_str().unwrap();
    let b = batch(&server, &a.key, batch_id);
    assert_eq!(b["total"], n);
    assert_eq!(b["counts"]["queued"], n);
    assert_eq!(b["progress_percent"], 0.0);
    let queue = server.get("/v1/queue", Some(&a.key)).json();
    assert!(queue.to_string().contains("20000"), "{queue}");
    // The server still answers single sends at once.
    let single = server.send(
        "POST",
        "/v1/messages",
        Some(&a.key),
        Some(r#"{"to": "+447911123456", "message": "Hi", "priority": "high"}"#),
    );
    assert_eq!(single.status, 202, "{}", single.text);

    let canceled = server.send("POST", &format!("/v1/batches/{batch_id}/cancel"), Some(&a.key), None);
    assert_eq!(canceled.status, 200, "{}", canceled.text);
    let c = canceled.json();
    assert_eq!(c["canceled"], n, "{c}");
    assert_eq!(c["counts"]["canceled"], n);
    assert_eq!(c["progress_percent"], 100.0);
    assert!(c["canceled_at"].is_string());
    let again = server.send("POST", &format!("/v1/batches/{batch_id}/cancel"), Some(&a.key), None).json();
    assert_eq!(again["canceled"], 0);
    let m = server.get(&format!("/v1/messages/{}", v["request_ids"][0].as_str().unwrap()), Some(&a.key)).json();
    assert_eq!(m["status"], "canceled");
    let statuses: Vec<&str> = m["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["queued", "canceled"]);

    // Over the limit: refused whole.
    let too_many: Vec<Value> = (0..100_001).map(|_| json!({"to": "+447911123456"})).collect();
    bulk(&server, &a.key, &json!({"message": "x", "recipients": too_many})).assert_error(400, "invalid_request");
}

fn bulk_does_not_hold_back_a_later_high_priority_message(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "bulk-lane@example.com", "unlimited");
    let server = TestServer::start_with(&db, &["--heartbeat-secs", "2"]);
    let mut phone = TestDevice::pair(&server, &a.key, "Busy phone");
    unlimited_pacing(&server, &a.key, &phone.device_id);
    let recipients: Vec<Value> = (0..1000).map(|i| json!({"to": format!("+92301{:07}", 1_000_000 + i)})).collect();
    let v = accepted(&server, &a.key, &json!({"message": "Bulk", "recipients": recipients}));
    let batch_id = v["batch_id"].as_str().unwrap().to_owned();
    phone.run(&["--latency-ms", "5"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while phone.sent().len() < 50 {
        assert!(Instant::now() < deadline, "the phone is not draining the batch");
        std::thread::sleep(Duration::from_millis(10));
    }
    let reply = server.send(
        "POST",
        "/v1/messages",
        Some(&a.key),
        Some(r#"{"to": "+447911123456", "message": "Urgent", "priority": "high"}"#),
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let urgent = reply.json()["request_id"].as_str().unwrap().to_owned();
    let before = phone.sent().len();
    let deadline = Instant::now() + Duration::from_secs(60);
    let position = loop {
        if let Some(p) = phone.sent().iter().position(|s| s.request_id == urgent) {
            break p;
        }
        assert!(Instant::now() < deadline, "the high-priority message never went");
        std::thread::sleep(Duration::from_millis(10));
    };
    // At most what the phone already held (its window) went before it, not the backlog.
    assert!(position <= before + 64 + 1, "sent {before} before it was queued; it went out at {position}");
    let b = batch(&server, &a.key, &batch_id);
    assert!(b["finished"].as_u64().unwrap() < 1000, "the batch drained first: {b}");
}
