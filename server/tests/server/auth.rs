//! API keys, accounts, subscriptions and readiness, end to end.

use crate::both_backends;
use crate::common::{Backend, TestDb, TestServer, add_online_device, cli, create_account, expire_account};

both_backends!(
    a_new_account_is_not_ready_until_a_device_is_online,
    both_auth_headers_work_and_a_missing_key_is_challenged,
    a_wrong_key_is_unauthorized,
    a_revoked_key_stops_working_at_once,
    a_suspended_account_is_locked_out_until_resumed,
    an_expired_subscription_is_named_by_readiness_and_visible_in_the_account,
    a_key_over_its_plan_rate_is_rate_limited,
    one_account_never_sees_or_touches_another_accounts_keys,
    last_used_shows_in_the_key_list,
    account_settings_can_be_changed_and_are_validated,
);

fn a_new_account_is_not_ready_until_a_device_is_online(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "ready@example.com", "standard");
    assert!(account.key.starts_with("rk_live_"));
    let server = TestServer::start(&db);

    let reply = server.get("/v1/readiness", Some(&account.key));
    assert_eq!(reply.status, 503, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["ok"], false);
    assert_eq!(v["ready"], false);
    assert_eq!(v["error"]["code"], "not_ready");
    assert!(v["error"]["message"].as_str().unwrap().contains("No device is paired"), "{v}");
    assert_eq!(v["checks"]["devices"]["status"], "fail");
    assert_eq!(v["checks"]["api_key"]["status"], "pass");
    assert_eq!(v["checks"]["subscription"]["status"], "pass");
    assert_eq!(v["checks"]["subscription"]["days_left"], 365);
    assert_eq!(v["checks"]["queue"]["state"], "running");

    add_online_device(&db, &account.id);
    let reply = server.get("/v1/readiness", Some(&account.key));
    assert_eq!(reply.status, 200, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["ok"], true);
    assert_eq!(v["ready"], true);
    assert_eq!(v["checks"]["devices"]["online"], 1);
    assert!(v.get("error").is_none());
}

fn both_auth_headers_work_and_a_missing_key_is_challenged(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "headers@example.com", "standard");
    let server = TestServer::start(&db);

    let bearer = server.get("/v1/account", Some(&account.key));
    assert_eq!(bearer.status, 200);
    assert_eq!(bearer.json()["id"], account.id.as_str());
    assert_eq!(bearer.json()["ok"], true);

    let header =
        server.http.get(format!("{}/v1/account", server.url)).header("X-API-Key", &account.key).send().unwrap();
    assert_eq!(header.status().as_u16(), 200);

    let missing = server.get("/v1/account", None);
    missing.assert_error(401, "unauthorized");
    assert_eq!(missing.header("www-authenticate"), Some(r#"Bearer realm="relay""#));
}

fn a_wrong_key_is_unauthorized(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "wrong@example.com", "standard");
    let server = TestServer::start(&db);
    let mut tampered = account.key.clone();
    tampered.pop();
    tampered.push(if account.key.ends_with('A') { 'B' } else { 'A' });
    for key in [tampered.as_str(), "rk_live_nonsense", "not-a-key"] {
        let reply = server.get("/v1/readiness", Some(key));
        reply.assert_error(401, "unauthorized");
        assert!(reply.header("www-authenticate").is_some());
    }
}

fn a_revoked_key_stops_working_at_once(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "revoke@example.com", "standard");
    let server = TestServer::start(&db);

    // A second key made over the API works, then is revoked over the API.
    let made = server.send("POST", "/v1/keys", Some(&account.key), Some(r#"{"name": "billing"}"#));
    assert_eq!(made.status, 201, "{}", made.text);
    let second = made.json();
    let second_key = second["key"].as_str().unwrap().to_owned();
    assert_eq!(server.get("/v1/account", Some(&second_key)).status, 200);
    let revoked =
        server.send("DELETE", &format!("/v1/keys/{}", second["id"].as_str().unwrap()), Some(&account.key), None);
    assert_eq!(revoked.status, 200, "{}", revoked.text);
    assert!(revoked.json()["revoked_at"].is_string());
    server.get("/v1/account", Some(&second_key)).assert_error(401, "unauthorized");

    // The first key, revoked by the operator's CLI while the server runs.
    let out = cli(&db, &["key", "revoke", &account.key_id, "--json"]);
    assert!(out.success, "{out:?}");
    server.get("/v1/account", Some(&account.key)).assert_error(401, "unauthorized");
}

fn a_suspended_account_is_locked_out_until_resumed(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "suspend@example.com", "standard");
    let server = TestServer::start(&db);
    assert!(cli(&db, &["account", "suspend", "--account", &account.id]).success);
    let message = server.get("/v1/account", Some(&account.key)).assert_error(401, "unauthorized");
    assert!(message.contains("suspended"), "{message}");
    assert!(cli(&db, &["account", "resume", "--account", &account.id]).success);
    assert_eq!(server.get("/v1/account", Some(&account.key)).status, 200);
}

fn an_expired_subscription_is_named_by_readiness_and_visible_in_the_account(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "expired@example.com", "standard");
    add_online_device(&db, &account.id);
    expire_account(&db, &account.id);
    let server = TestServer::start(&db);

    let reply = server.get("/v1/readiness", Some(&account.key));
    assert_eq!(reply.status, 503, "{}", reply.text);
    let v = reply.json();
    assert_eq!(v["checks"]["subscription"]["status"], "fail");
    assert_eq!(v["checks"]["subscription"]["days_left"], 0);
    assert_eq!(v["checks"]["devices"]["status"], "pass");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("subscription expired"), "{message}");

    // The account still answers, so the customer can see the expiry.
    let me = server.get("/v1/account", Some(&account.key));
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["subscription"]["active"], false);

    // Renewal counts from now once expired, and readiness recovers.
    let out = cli(&db, &["account", "renew", "--account", &account.id, "--days", "30", "--json"]);
    assert!(out.success, "{out:?}");
    assert_eq!(out.json()["account"]["subscription"]["days_left"], 30);
    assert_eq!(server.get("/v1/readiness", Some(&account.key)).status, 200);
}

fn a_key_over_its_plan_rate_is_rate_limited(backend: Backend) {
    let db = TestDb::new(backend);
    // starter: 5 requests/s sustained, bursts of 20.
    let account = create_account(&db, "rate@example.com", "starter");
    let server = TestServer::start(&db);
    let mut limited = None;
    let mut remaining = Vec::new();
    for _ in 0..60 {
        let reply = server.get("/v1/account", Some(&account.key));
        if reply.status == 429 {
            limited = Some(reply);
            break;
        }
        assert_eq!(reply.status, 200, "{}", reply.text);
        // Every answer tells the client what is left, before it meets a 429.
        assert_eq!(reply.header("ratelimit-policy"), Some(r#""key";q=20;w=1"#));
        let state = reply.header("ratelimit").unwrap();
        let r = state.split(';').find_map(|p| p.strip_prefix("r=")).unwrap().parse::<u32>().unwrap();
        remaining.push(r);
    }
    assert_eq!(remaining.first(), Some(&19), "the first request leaves 19 of 20: {remaining:?}");
    assert!(remaining.windows(2).all(|w| w[1] <= w[0] + 1), "the allowance drains: {remaining:?}");
    let reply = limited.expect("60 back-to-back requests on a burst of 20 must be limited");
    reply.assert_error(429, "rate_limited");
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!(retry_after >= 1);
    assert_eq!(reply.json()["error"]["retry_after"], retry_after);
    assert_eq!(reply.header("ratelimit-policy"), Some(r#""key";q=20;w=1"#));
    assert!(reply.header("ratelimit").unwrap().contains("r=0"));
    // Another key of the same account has its own bucket.
    let other = cli(&db, &["key", "create", "--account", &account.id, "--json"]).json();
    assert_eq!(server.get("/v1/account", Some(other["key"].as_str().unwrap())).status, 200);
}

fn one_account_never_sees_or_touches_another_accounts_keys(backend: Backend) {
    let db = TestDb::new(backend);
    let alice = create_account(&db, "alice@example.com", "standard");
    let bob = create_account(&db, "bob@example.com", "standard");
    let server = TestServer::start(&db);

    let listed = server.get("/v1/keys", Some(&alice.key)).json();
    let ids: Vec<&str> = listed["keys"].as_array().unwrap().iter().map(|k| k["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![alice.key_id.as_str()]);
    assert!(!listed.to_string().contains(&alice.key), "a listing never shows a secret");

    server.send("DELETE", &format!("/v1/keys/{}", bob.key_id), Some(&alice.key), None).assert_error(404, "not_found");
    assert_eq!(server.get("/v1/account", Some(&bob.key)).status, 200, "bob's key still works");
    assert_eq!(server.get("/v1/account", Some(&bob.key)).json()["id"], bob.id.as_str());
}

fn last_used_shows_in_the_key_list(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "lastused@example.com", "standard");
    let server = TestServer::start(&db);
    let before = cli(&db, &["key", "list", "--account", &account.id, "--json"]).json();
    assert!(before["keys"][0]["last_used_at"].is_null());
    let listed = server.get("/v1/keys", Some(&account.key)).json();
    assert!(listed["keys"][0]["last_used_at"].is_string(), "{listed}");
}

fn account_settings_can_be_changed_and_are_validated(backend: Backend) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "settings@example.com", "standard");
    let server = TestServer::start(&db);
    let reply = server.send(
        "PATCH",
        "/v1/account",
        Some(&account.key),
        Some(r#"{"name": "Acme Ltd", "default_region": "pk"}"#),
    );
    assert_eq!(reply.status, 200, "{}", reply.text);
    assert_eq!(reply.json()["default_region"], "PK");
    assert_eq!(server.get("/v1/account", Some(&account.key)).json()["name"], "Acme Ltd");

    let bad = server.send("PATCH", "/v1/account", Some(&account.key), Some(r#"{"default_region": "Pakistan"}"#));
    bad.assert_error(400, "invalid_request");
    assert_eq!(bad.json()["error"]["field"], "default_region");

    let cleared = server.send("PATCH", "/v1/account", Some(&account.key), Some(r#"{"default_region": null}"#));
    assert!(cleared.json()["default_region"].is_null());
    assert_eq!(cleared.json()["name"], "Acme Ltd");
}
