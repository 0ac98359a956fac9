//! The messages API without a phone: validation, idempotency, queue state, cancel, expiry,
//! device checks and pairing codes.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::{Backend, TestDb, TestServer, cli, create_account, expire_account, expire_pairing_codes};

both_backends!(
    a_send_is_queued_with_normalised_number_and_text_figures,
    bad_sends_name_the_field,
    an_expired_subscription_cannot_send_but_can_read,
    the_same_idempotency_key_replays_and_a_different_body_conflicts,
    a_paused_queue_refuses_sends_until_resumed,
    the_queue_reports_the_age_of_its_oldest_message_in_any_lane,
    a_message_can_be_canceled_before_a_phone_has_it,
    a_message_no_phone_takes_expires,
    a_device_of_another_account_is_an_invalid_device,
    pairing_codes_work_once,
    messages_are_listed_newest_first_with_a_cursor,
    a_device_patch_that_sets_nothing_changes_nothing,
);

fn send(server: &TestServer, key: &str, body: Value) -> crate::common::Reply {
    server.send("POST", "/v1/messages", Some(key), Some(&body.to_string()))
}

pub fn wait_for_status(server: &TestServer, key: &str, id: &str, wanted: &str, within: Duration) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let v = server.get(&format!("/v1/messages/{id}"), Some(key)).json();
        if v["status"] == wanted {
            return v;
        }
        assert!(Instant::now() < deadline, "{id} did not reach {wanted} within {within:?}: {v}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn a_send_is_queued_with_normalised_number_and_text_figures(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "send@example.com", "standard");
    let server = TestServer::start(&db);
    let reply = send(
        &server,
        &a.key,
        json!({"to": "+92 300 1234567", "message": "Hello from Relay", "metadata": {"order": 7}}),
    );
    assert_eq!(reply.status, 202, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["status"], "queued");
    assert_eq!(v["to"], "+923001234567");
    assert_eq!(v["encoding"], "gsm7");
    assert_eq!(v["segments"], 1);
    let id = v["request_id"].as_str().unwrap();
    assert!(id.starts_with("req_"));

    let m = server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json();
    assert_eq!(m["status"], "queued");
    assert_eq!(m["metadata"]["order"], 7);
    assert_eq!(m["events"][0]["status"], "queued");
    assert_eq!(m["attempts"], 0);

    // A local number uses the account's default region; Urdu text goes as UCS-2.
    server.send("PATCH", "/v1/account", Some(&a.key), Some(r#"{"default_region": "PK"}"#));
    let v = send(&server, &a.key, json!({"to": "0300 1234567", "message": "آپ کا کوڈ 123456 ہے"})).json();
    assert_eq!(v["to"], "+923001234567");
    assert_eq!(v["encoding"], "ucs2");
}

fn bad_sends_name_the_field(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "bad@example.com", "standard");
    let server = TestServer::start(&db);
    for (body, field) in [
        (json!({"to": "12", "message": "x"}), "to"),
        (json!({"to": "0300 1234567", "message": "x"}), "to"),
        (json!({"to": "+923001234567", "message": "  "}), "message"),
        (json!({"to": "+923001234567", "message": "x", "ttl_seconds": 1}), "ttl_seconds"),
        (json!({"to": "+923001234567", "message": "x", "metadata": [1]}), "metadata"),
        (json!({"to": "+923001234567", "message": "x", "priority": "urgent"}), "priority"),
        (json!({"to": "+923001234567", "message": "x", "colour": "red"}), "colour"),
    ] {
        let reply = send(&server, &a.key, body.clone());
        reply.assert_error(400, "invalid_request");
        assert_eq!(reply.json()["error"]["field"], field, "{body}");
    }
    let list = server.get("/v1/messages", Some(&a.key)).json();
    assert_eq!(list["messages"].as_array().unwrap().len(), 0, "nothing refused was stored");
}

fn an_expired_subscription_cannot_send_but_can_read(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "lapsed@example.com", "standard");
    let server = TestServer::start(&db);
    let queued = send(&server, &a.key, json!({"to": "+923001234567", "message": "before"})).json();
    expire_account(&db, &a.id);
    let reply = send(&server, &a.key, json!({"to": "+923001234567", "message": "after"}));
    let message = reply.assert_error(402, "subscription_expired");
    assert!(message.contains("renew"), "{message}");
    // Reading is not traffic: the customer still sees its messages and account.
    let id = queued["request_id"].as_str().unwrap();
    assert_eq!(server.get(&format!("/v1/messages/{id}"), Some(&a.key)).status, 200);
    assert_eq!(server.get("/v1/account", Some(&a.key)).status, 200);
}

fn the_same_idempotency_key_replays_and_a_different_body_conflicts(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "idem@example.com", "standard");
    let server = TestServer::start(&db);
    let post = |body: &str| {
        let r = server
            .http
            .post(format!("{}/v1/messages", server.url))
            .bearer_auth(&a.key)
            .header("Idempotency-Key", "order-1043")
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .unwrap();
        (r.status().as_u16(), r.headers().get("idempotent-replayed").is_some(), r.json::<Value>().unwrap())
    };
    let body = r#"{"to": "+923001234567", "message": "Order 1043 shipped"}"#;
    let (s1, replayed1, first) = post(body);
    let (s2, replayed2, second) = post(body);
    assert_eq!((s1, s2), (202, 202));
    assert!(!replayed1 && replayed2);
    assert_eq!(first["request_id"], second["request_id"]);
    let (s3, _, third) = post(r#"{"to": "+923001234567", "message": "Order 1044 shipped"}"#);
    assert_eq!(s3, 409);
    assert_eq!(third["error"]["code"], "conflict");
    let list = server.get("/v1/messages", Some(&a.key)).json();
    assert_eq!(list["messages"].as_array().unwrap().len(), 1, "one message, not two");
}

mod one_idempotency_key_through_two_instances_at_once_stores_one_message {
    #[test]
    fn postgres() {
        super::one_idempotency_key_through_two_instances_at_once_stores_one_message()
    }
}

/// A client retrying through a load balancer: the same key and body reach two instances at
/// the same moment, inside group transactions of sends on both. Each key is stored once;
/// each answer is the first request's or, while the other instance still holds the key, a
/// 409 to retry; none is a 500 (two batches inserting two keys in opposite orders used to
/// deadlock), and the other sends of a batch are stored all the same.
fn one_idempotency_key_through_two_instances_at_once_stores_one_message() {
    let db = TestDb::new(Backend::Postgres);
    let a = create_account(&db, "idem-race@example.com", "unlimited");
    let servers = [TestServer::start(&db), TestServer::start(&db)];
    let keys = 40;
    let answers: Vec<(usize, u16, Value)> = std::thread::scope(|scope| {
        let sends: Vec<_> = (0..keys)
            .flat_map(|k| servers.iter().map(move |server| (k, server.http.clone(), server.url.clone())))
            .map(|(k, http, url)| {
                let key = a.key.clone();
                scope.spawn(move || {
                    let r = http
                        .post(format!("{url}/v1/messages"))
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("retry-{k}"))
                        .header("content-type", "application/json")
                        .body(json!({"to": "+923001234567", "message": format!("Order {k} shipped")}).to_string())
                        .send()
                        .unwrap();
                    (k, r.status().as_u16(), r.json::<Value>().unwrap())
                })
            })
            .collect();
        sends.into_iter().map(|s| s.join().unwrap()).collect()
    });
    let mut ids = std::collections::HashMap::new();
    for (k, status, body) in &answers {
        // The key in flight on the other instance: refused at once, for the client to retry.
        if *status == 409 {
            assert_eq!(body["error"]["code"], "conflict", "key {k}: {body}");
            continue;
        }
        assert_eq!(*status, 202, "key {k}: {body}");
        let id = body["request_id"].as_str().unwrap().to_owned();
        assert_eq!(ids.entry(*k).or_insert_with(|| id.clone()), &id, "key {k}: one message, one id");
    }
    assert_eq!(ids.len(), keys, "every key was accepted by one instance at least");
    let list = servers[0].get("/v1/messages?limit=100", Some(&a.key)).json();
    assert_eq!(list["messages"].as_array().unwrap().len(), keys, "{list}");
}

fn a_paused_queue_refuses_sends_until_resumed(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "pause@example.com", "standard");
    let server = TestServer::start(&db);
    assert_eq!(server.send("POST", "/v1/queue/pause", Some(&a.key), Some(r#"{"reason": "maintenance"}"#)).status, 200);
    let q = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(q["state"], "blocked");
    assert_eq!(q["reason"], "maintenance");
    let message =
        send(&server, &a.key, json!({"to": "+923001234567", "message": "x"})).assert_error(409, "queue_blocked");
    assert!(message.contains("maintenance"), "{message}");
    let ready = server.get("/v1/readiness", Some(&a.key)).json();
    assert_eq!(ready["checks"]["queue"]["state"], "blocked");
    assert_eq!(server.send("POST", "/v1/queue/resume", Some(&a.key), None).status, 200);
    assert_eq!(send(&server, &a.key, json!({"to": "+923001234567", "message": "x"})).status, 202);
    let q = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(q["state"], "running");
    assert_eq!(q["counts"]["queued"], 1);
}

/// No phone: what is queued stays. The oldest message is found across the lanes, not only in
/// the one that goes first.
fn the_queue_reports_the_age_of_its_oldest_message_in_any_lane(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "age@example.com", "standard");
    let server = TestServer::start(&db);
    assert_eq!(server.get("/v1/queue", Some(&a.key)).json()["oldest_queued_age_seconds"], 0);
    assert_eq!(send(&server, &a.key, json!({"to": "+923001234567", "message": "first"})).status, 202);
    std::thread::sleep(std::time::Duration::from_millis(2200));
    let high = json!({"to": "+923001234568", "message": "later, ahead", "priority": "high"});
    assert_eq!(send(&server, &a.key, high).status, 202);
    let q = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(q["counts"]["queued"], 2, "{q}");
    let age = q["oldest_queued_age_seconds"].as_i64().unwrap();
    assert!((2..10).contains(&age), "{q}");
}

fn a_message_can_be_canceled_before_a_phone_has_it(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "cancel@example.com", "standard");
    let server = TestServer::start(&db);
    let id = send(&server, &a.key, json!({"to": "+923001234567", "message": "x"})).json()["request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = server.send("POST", &format!("/v1/messages/{id}/cancel"), Some(&a.key), None);
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["status"], "canceled");
    server.send("POST", &format!("/v1/messages/{id}/cancel"), Some(&a.key), None).assert_error(409, "conflict");
    server.send("POST", "/v1/messages/req_nothing/cancel", Some(&a.key), None).assert_error(404, "not_found");
    let counts = &server.get("/v1/queue", Some(&a.key)).json()["counts"];
    assert_eq!((&counts["queued"], &counts["canceled"]), (&json!(0), &json!(1)), "{counts}");
}

fn a_message_no_phone_takes_expires(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "ttl@example.com", "standard");
    let server = TestServer::start(&db);
    let id =
        send(&server, &a.key, json!({"to": "+923001234567", "message": "x", "ttl_seconds": 5})).json()["request_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let m = wait_for_status(&server, &a.key, &id, "expired", Duration::from_secs(10));
    assert_eq!(m["failure"]["code"], "expired");
    assert!(m["failure"]["reason"].as_str().unwrap().contains("time to live"));
    let counts = &server.get("/v1/queue", Some(&a.key)).json()["counts"];
    assert_eq!((&counts["queued"], &counts["expired"]), (&json!(0), &json!(1)), "{counts}");
}

fn pair_device(server: &TestServer, key: &str, name: &str) -> Value {
    let offer = server.send("POST", "/v1/devices/pairing", Some(key), None).json();
    let body =
        json!({"code": offer["pairing_code"], "name": name, "model": "Test", "app_version": "0.1.0", "sims": []});
    let reply = server.send("POST", "/v1/device/pair", None, Some(&body.to_string()));
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.json()
}

fn a_device_of_another_account_is_an_invalid_device(backend: Backend) {
    let db = TestDb::new(backend);
    let alice = create_account(&db, "alice@example.com", "standard");
    let bob = create_account(&db, "bob@example.com", "standard");
    let server = TestServer::start(&db);
    let bobs = pair_device(&server, &bob.key, "Bob's phone");
    let reply =
        send(&server, &alice.key, json!({"to": "+923001234567", "message": "x", "device_id": bobs["device_id"]}));
    reply.assert_error(422, "invalid_device");
    server
        .get(&format!("/v1/devices/{}", bobs["device_id"].as_str().unwrap()), Some(&alice.key))
        .assert_error(404, "not_found");

    let mine = pair_device(&server, &alice.key, "Alice's phone");
    let path = format!("/v1/devices/{}", mine["device_id"].as_str().unwrap());
    assert_eq!(server.send("PATCH", &path, Some(&alice.key), Some(r#"{"enabled": false}"#)).status, 200);
    let reply =
        send(&server, &alice.key, json!({"to": "+923001234567", "message": "x", "device_id": mine["device_id"]}));
    reply.assert_error(422, "invalid_device");
    // Its only device disabled: the queue has no usable device and says so.
    send(&server, &alice.key, json!({"to": "+923001234567", "message": "x"})).assert_error(409, "queue_blocked");
    let _ = cli(&db, &["account", "list"]);
}

fn pairing_codes_work_once(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "pairing@example.com", "standard");
    let server = TestServer::start(&db);
    let offer = server.send("POST", "/v1/devices/pairing", Some(&a.key), None);
    assert_eq!(offer.status, 201, "{}", offer.text);
    let offer = offer.json();
    assert!(offer["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let payload = offer["qr_payload"].as_str().unwrap();
    assert!(payload.starts_with("relay://pair?server="), "{payload}");
    let body = json!({"code": offer["pairing_code"].as_str().unwrap().to_lowercase(), "name": "Desk"});
    let first = server.send("POST", "/v1/device/pair", None, Some(&body.to_string()));
    assert_eq!(first.status, 201, "{}", first.text);
    assert!(first.json()["device_token"].as_str().unwrap().starts_with("rd_"));
    let again = server.send("POST", "/v1/device/pair", None, Some(&body.to_string()));
    assert!(again.assert_error(401, "unauthorized").contains("already been used"));
    let wrong = server.send("POST", "/v1/device/pair", None, Some(r#"{"code": "AAAA-BBBB", "name": "x"}"#));
    assert!(wrong.assert_error(401, "unauthorized").contains("not valid"));
    let late = server.send("POST", "/v1/devices/pairing", Some(&a.key), None).json();
    expire_pairing_codes(&db);
    let body = json!({"code": late["pairing_code"], "name": "Too late"});
    let expired = server.send("POST", "/v1/device/pair", None, Some(&body.to_string()));
    assert!(expired.assert_error(401, "unauthorized").contains("expired"));
    let devices = server.get("/v1/devices", Some(&a.key)).json();
    assert_eq!(devices["devices"][0]["name"], "Desk");
    assert_eq!(devices["devices"][0]["state"], "offline");
    // Guessing is slowed down: ten tries a minute per address.
    let mut limited = false;
    for _ in 0..12 {
        let r = server.send("POST", "/v1/device/pair", None, Some(r#"{"code": "AAAA-BBBB", "name": "x"}"#));
        if r.status == 429 {
            r.assert_error(429, "rate_limited");
            limited = true;
            break;
        }
    }
    assert!(limited, "pairing guesses must be rate-limited");
}

fn messages_are_listed_newest_first_with_a_cursor(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "list@example.com", "standard");
    let server = TestServer::start(&db);
    let mut ids = Vec::new();
    for i in 0..5 {
        let v = send(&server, &a.key, json!({"to": "+923001234567", "message": format!("m{i}")})).json();
        ids.push(v["request_id"].as_str().unwrap().to_owned());
    }
    send(&server, &a.key, json!({"to": "+447911123456", "message": "other"}));
    let page1 = server.get("/v1/messages?limit=2&to=%2B923001234567", Some(&a.key)).json();
    assert_eq!(page1["has_more"], true);
    let got: Vec<&str> =
        page1["messages"].as_array().unwrap().iter().map(|m| m["request_id"].as_str().unwrap()).collect();
    assert_eq!(got, vec![ids[4].as_str(), ids[3].as_str()]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let page2 = server.get(&format!("/v1/messages?limit=10&to=%2B923001234567&cursor={cursor}"), Some(&a.key)).json();
    assert_eq!(page2["has_more"], false);
    assert_eq!(page2["messages"].as_array().unwrap().len(), 3);
    server.get("/v1/messages?status=lost", Some(&a.key)).assert_error(400, "invalid_request");
    server.get("/v1/messages?limit=1000", Some(&a.key)).assert_error(400, "invalid_request");
}

fn a_device_patch_that_sets_nothing_changes_nothing(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "patch@example.com", "standard");
    crate::common::add_online_device(&db, &a.id);
    let server = TestServer::start(&db);
    let listed = server.get("/v1/devices", Some(&a.key)).json();
    let id = listed["devices"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/v1/devices/{id}");
    let before = server.get(&path, Some(&a.key)).json();
    for body in ["{}", r#"{"name": null, "enabled": null, "pacing": null}"#] {
        let reply = server.send("PATCH", &path, Some(&a.key), Some(body));
        assert_eq!(reply.status, 200, "{body}: {}", reply.text);
        assert_eq!(reply.json(), before, "{body}");
    }
    assert_eq!(server.get(&path, Some(&a.key)).json(), before);
}
