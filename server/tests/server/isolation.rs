//! Tenant isolation: every operation of the API that takes an id in its path, called with
//! another account's key and an id of the first account, answers 404 `not_found`, exactly as
//! for an id that does not exist, and changes nothing.
//!
//! The operations come from the server's own `/openapi.json`, so an endpoint added later is
//! covered without editing this test; a path parameter this test has no id for fails it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Value, json};

use crate::both_backends;
use crate::common::receiver::Receiver;
use crate::common::{Backend, TestAccount, TestDb, TestDevice, TestServer, create_account, poll};

both_backends!(another_accounts_ids_answer_not_found_on_every_endpoint);

const METHODS: &[&str] = &["get", "post", "put", "patch", "delete"];

/// The account's resources: one id per path parameter name.
struct Owned {
    ids: BTreeMap<&'static str, String>,
}

fn created_id(reply: crate::common::Reply, status: u16, pointer: &str) -> String {
    assert_eq!(reply.status, status, "{}", reply.text);
    let v = reply.json();
    v.pointer(pointer).and_then(Value::as_str).unwrap_or_else(|| panic!("no {pointer} in {v}")).to_owned()
}

/// Gives account A one of everything that has an id.
fn populate(server: &TestServer, a: &TestAccount, hook_url: &str) -> Owned {
    let key = Some(a.key.as_str());
    let mut ids = BTreeMap::new();
    let device = TestDevice::pair(server, &a.key, "A's phone");
    ids.insert("device_id", device.device_id.clone());

    let to = "+923001234567";
    let sent = server.send("POST", "/v1/messages", key, Some(&json!({"to": to, "message": "Hello"}).to_string()));
    ids.insert("request_id", created_id(sent, 202, "/request_id"));
    let bulk = json!({"message": "Hi {{name}}", "recipients": [{"to": "+923001234568", "name": "Ali"}]});
    let batch = server.send("POST", "/v1/messages/bulk", key, Some(&bulk.to_string()));
    ids.insert("batch_id", created_id(batch, 202, "/batch_id"));
    let otp = server.send("POST", "/v1/otp/send", key, Some(&json!({"to": to, "purpose": "login"}).to_string()));
    ids.insert("otp_id", created_id(otp, 201, "/otp_id"));
    let recipient = json!({"name": "Sara", "phone": "+923001234569"});
    let recipient = server.send("POST", "/v1/recipients", key, Some(&recipient.to_string()));
    ids.insert("recipient_id", created_id(recipient, 201, "/id"));
    let made = server.send("POST", "/v1/keys", key, Some(r#"{"name": "second"}"#));
    ids.insert("key_id", created_id(made, 201, "/id"));

    let hook = server.send("POST", "/v1/webhooks", key, Some(&json!({"url": hook_url, "events": ["*"]}).to_string()));
    let webhook_id = created_id(hook, 201, "/webhook/id");
    let test = server.send("POST", &format!("/v1/webhooks/{webhook_id}/test"), key, None);
    let delivery_id = created_id(test, 202, "/delivery_id");
    ids.insert("webhook_id", webhook_id);
    ids.insert("delivery_id", delivery_id);
    Owned { ids }
}

/// A request body that the operation would accept from the owner, so that a 404 comes from
/// the ownership check and not from validation.
fn body_for(operation: &Value) -> Option<String> {
    let body = operation.get("requestBody")?;
    let schema = body.pointer("/content/application~1json/schema/$ref").and_then(Value::as_str).unwrap_or("");
    let example = match schema.rsplit('/').next().unwrap_or("") {
        "UpdateDevice" => json!({"name": "Taken", "enabled": false}),
        "UpdateRecipient" => json!({"name": "Taken", "opted_out": true}),
        "UpdateEndpoint" => json!({"enabled": false, "description": "Taken"}),
        other => panic!("no request body known for schema {other:?}: add one to `body_for`"),
    };
    Some(example.to_string())
}

/// What the owner sees of each resource, to compare before and after the other account's calls.
fn snapshot(server: &TestServer, a: &TestAccount, owned: &Owned, spec: &Value) -> BTreeMap<String, Value> {
    let mut seen = BTreeMap::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if item.get("get").is_none() || !path.contains('{') {
            continue;
        }
        let path = fill(path, owned);
        let reply = server.get(&path, Some(&a.key));
        assert_eq!(reply.status, 200, "the owner reads {path}: {}", reply.text);
        seen.insert(path, reply.json());
    }
    // Keys have no GET by id: the listing's entry for the second key (never used, so stable).
    let keys = server.get("/v1/keys", Some(&a.key)).json();
    let second = keys["keys"].as_array().unwrap().iter().find(|k| k["id"] == owned.ids["key_id"].as_str()).cloned();
    seen.insert("/v1/keys (second key)".into(), second.expect("the second key is listed"));
    seen
}

impl Owned {
    /// Ids of the same kinds (same prefix) that no account has.
    fn unknown(&self) -> Owned {
        let ids = self
            .ids
            .iter()
            .map(|(&name, id)| {
                let prefix = id.split_once('_').map_or("", |(p, _)| p);
                (name, format!("{prefix}_{}", ulid::Ulid::new()))
            })
            .collect();
        Owned { ids }
    }
}

/// An answer with the ids in it replaced by their parameter name.
fn scrub(text: &str, owned: &Owned) -> String {
    owned.ids.iter().fold(text.to_owned(), |t, (name, id)| t.replace(id.as_str(), name))
}

/// The text with each `{name}` it holds replaced by the id for it.
fn substitute(text: &str, owned: &Owned) -> String {
    owned.ids.iter().fold(text.to_owned(), |t, (name, id)| t.replace(&format!("{{{name}}}"), id))
}

/// The path with every `{name}` replaced by the owner's id for it.
fn fill(path: &str, owned: &Owned) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        let end = rest[start..].find('}').map(|e| start + e).unwrap();
        let name = &rest[start + 1..end];
        let id = owned.ids.get(name).unwrap_or_else(|| {
            panic!("{path}: no id for path parameter `{name}`: give account A such a resource in `populate`")
        });
        out.push_str(&rest[..start]);
        out.push_str(id);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

fn another_accounts_ids_answer_not_found_on_every_endpoint(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "owner@example.com", "standard");
    let b = create_account(&db, "intruder@example.com", "standard");
    let server = TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "300"]);
    let receiver = Receiver::start(0);
    let owned = populate(&server, &a, &receiver.url());
    // The test delivery settles first, so that the snapshot is not taken mid-attempt.
    let delivery = format!("/v1/webhooks/deliveries/{}", owned.ids["delivery_id"]);
    poll(Duration::from_secs(20), "the test delivery", || {
        (server.get(&delivery, Some(&a.key)).json()["delivery"]["status"] == "delivered").then_some(())
    });

    let spec = server.get("/openapi.json", None).json();
    let before = snapshot(&server, &a, &owned, &spec);
    let mut called = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        if !path.contains('{') {
            continue;
        }
        for &method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let filled = fill(path, &owned);
            let upper = method.to_uppercase();
            let body = body_for(operation);
            let reply = server.send(&upper, &filled, Some(&b.key), body.as_deref());
            assert_eq!(reply.status, 404, "{upper} {filled} with another account's key: {}", reply.text);
            reply.assert_error(404, "not_found");
            // The same answer as for an id that exists nowhere: nothing tells B that A's exists.
            let unknown = fill(path, &owned.unknown());
            let absent = server.send(&upper, &unknown, Some(&b.key), body.as_deref());
            assert_eq!(
                scrub(&reply.text, &owned),
                scrub(&absent.text, &owned.unknown()),
                "{upper} {path}: another account's id and an unknown id answer differently"
            );
            called.push(format!("{upper} {path}"));
        }
    }
    // Ids in bodies and queries: B gets exactly what an id that exists nowhere gets.
    let by_body: &[(&str, &str, Option<&str>)] = &[
        ("POST", "/v1/otp/verify", Some(r#"{"otp_id": "{otp_id}", "code": "123456"}"#)),
        ("POST", "/v1/messages", Some(r#"{"to": "+923001234567", "message": "Hi", "device_id": "{device_id}"}"#)),
        ("POST", "/v1/otp/send", Some(r#"{"to": "+923001234567", "purpose": "login", "device_id": "{device_id}"}"#)),
        ("GET", "/v1/messages?device_id={device_id}", None),
        ("GET", "/v1/messages?batch_id={batch_id}", None),
    ];
    for &(method, path, body) in by_body {
        let answer = |ids: &Owned| {
            let body = body.map(|b| substitute(b, ids));
            let reply = server.send(method, &substitute(path, ids), Some(&b.key), body.as_deref());
            (reply.status, scrub(&reply.text, ids))
        };
        let (theirs, unknown) = (answer(&owned), answer(&owned.unknown()));
        assert_eq!(theirs, unknown, "{method} {path}: another account's id and an unknown id answer differently");
        assert!(theirs.0 >= 400 || theirs.1.contains("[]"), "{method} {path} answered {theirs:?}");
    }

    // Every resource kind above was reached, and nothing of A's changed.
    assert!(called.len() >= 20, "only {} operations with an id: {called:?}", called.len());
    for name in owned.ids.keys() {
        assert!(called.iter().any(|c| c.contains(&format!("{{{name}}}"))), "no operation took {name}");
    }
    assert_eq!(snapshot(&server, &a, &owned, &spec), before, "the other account's calls changed A's resources");
    assert_eq!(server.get("/v1/account", Some(&a.key)).status, 200);
}
