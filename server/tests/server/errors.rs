//! One error contract for every failure: the envelope, the code and a sentence for a person.

use crate::both_backends;
use crate::common::{Backend, TestDb, TestServer, create_account};

both_backends!(
    malformed_json_is_invalid_request,
    a_wrong_type_names_the_field,
    an_unknown_field_is_refused_by_name,
    a_body_that_is_not_json_is_refused,
    an_oversized_body_is_refused_before_it_is_read_whole,
    unknown_routes_are_not_found,
    a_wrong_method_is_405_with_allow,
);

fn setup(backend: Backend) -> (TestDb, TestServer, String) {
    let db = TestDb::new(backend);
    let account = create_account(&db, "errors@example.com", "standard");
    let server = TestServer::start(&db);
    (db, server, account.key)
}

fn malformed_json_is_invalid_request(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let reply = server.send("PATCH", "/v1/account", Some(&key), Some(r#"{"name": "Acme""#));
    let message = reply.assert_error(400, "invalid_request");
    assert!(message.contains("not valid JSON"), "{message}");
}

fn a_wrong_type_names_the_field(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let reply = server.send("PATCH", "/v1/account", Some(&key), Some(r#"{"name": 42}"#));
    let message = reply.assert_error(400, "invalid_request");
    assert_eq!(reply.json()["error"]["field"], "name");
    assert!(message.contains("`name`"), "{message}");
    // Nothing was changed by the refused request.
    let account = server.get("/v1/account", Some(&key)).json();
    assert_eq!(account["name"], "Test Co");
}

fn an_unknown_field_is_refused_by_name(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let reply = server.send("PATCH", "/v1/account", Some(&key), Some(r#"{"nmae": "typo"}"#));
    reply.assert_error(400, "invalid_request");
    assert_eq!(reply.json()["error"]["field"], "nmae");
}

fn a_body_that_is_not_json_is_refused(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let reply = server
        .http
        .patch(format!("{}/v1/account", server.url))
        .bearer_auth(&key)
        .header("content-type", "text/plain")
        .body("name=Acme")
        .send()
        .unwrap();
    assert_eq!(reply.status().as_u16(), 400);
    let v: serde_json::Value = reply.json().unwrap();
    assert_eq!(v["error"]["code"], "invalid_request");
    assert!(v["error"]["message"].as_str().unwrap().contains("application/json"));
}

fn an_oversized_body_is_refused_before_it_is_read_whole(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(300 * 1024));
    let reply = server.send("PATCH", "/v1/account", Some(&key), Some(&huge));
    reply.assert_error(413, "payload_too_large");
}

fn unknown_routes_are_not_found(backend: Backend) {
    let (_db, server, key) = setup(backend);
    for path in ["/v1/nothing-here", "/v2/account", "/v1/keys/key_x/extra"] {
        let reply = server.get(path, Some(&key));
        let message = reply.assert_error(404, "not_found");
        assert!(message.contains(path), "{message}");
        assert!(reply.header("x-trace-id").is_some());
    }
}

fn a_wrong_method_is_405_with_allow(backend: Backend) {
    let (_db, server, key) = setup(backend);
    let reply = server.send("DELETE", "/v1/account", Some(&key), None);
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET, PATCH"));
    let reply = server.send("POST", "/v1/health", None, None);
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("GET"));
    // A path with a parameter is matched as a template.
    let reply = server.send("GET", "/v1/keys/key_123", Some(&key), None);
    reply.assert_error(405, "method_not_allowed");
    assert_eq!(reply.header("allow"), Some("DELETE"));
}
