//! Schemathesis (from PyPI, in the project's `.venv`) against the running server's own
//! `/openapi.json`, with an API key and a simulated phone online: every operation, with
//! generated valid and invalid inputs, must answer without a 5xx, with a documented status code
//! and content type, and with a body that matches the documented schema.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::common::receiver::Receiver;
use crate::common::{Backend, TestDb, TestDevice, TestServer, create_account};

/// The `schemathesis` command from the project's virtualenv (scripts/test.sh installs it). When
/// it is missing the test skips loudly, and fails under `RELAY_REQUIRE_ALL=1`.
fn schemathesis() -> Option<PathBuf> {
    let venv = std::env::var("RELAY_PYTHON")
        .map(|python| PathBuf::from(python).parent().map(|bin| bin.join("schemathesis")).unwrap_or_default())
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/schemathesis"));
    if Command::new(&venv).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some(venv);
    }
    let why = format!("schemathesis is not installed at {} (scripts/test.sh installs it)", venv.display());
    if std::env::var("RELAY_REQUIRE_ALL").as_deref() == Ok("1") {
        panic!("{why}; RELAY_REQUIRE_ALL=1 forbids skipping");
    }
    eprintln!("!!! SKIPPING the Schemathesis run: {why}");
    None
}

/// Operations that would take away the run's own key or phone: run last, on their own.
const DESTRUCTIVE: &[&str] = &["DELETE /v1/keys/{key_id}", "DELETE /v1/devices/{device_id}"];

fn created_id(reply: crate::common::Reply, pointer: &str) -> String {
    assert!(reply.status < 300, "{}", reply.text);
    reply
        .json()
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_else(|| panic!("{pointer}: {}", reply.text))
        .to_owned()
}

/// One of every resource with an id, as `RELAY_ST_*` variables for schemathesis.toml.
fn resources(server: &TestServer, key: &str, device_id: &str, hook_url: &str) -> Vec<(&'static str, String)> {
    let post = |path: &str, body: serde_json::Value| server.send("POST", path, Some(key), Some(&body.to_string()));
    let webhook_id = created_id(post("/v1/webhooks", json!({"url": hook_url})), "/webhook/id");
    let test_event = server.send("POST", &format!("/v1/webhooks/{webhook_id}/test"), Some(key), None);
    vec![
        ("RELAY_ST_DEVICE_ID", device_id.to_owned()),
        (
            "RELAY_ST_REQUEST_ID",
            created_id(post("/v1/messages", json!({"to": "+923001234567", "message": "Hi"})), "/request_id"),
        ),
        (
            "RELAY_ST_BATCH_ID",
            created_id(
                post(
                    "/v1/messages/bulk",
                    json!({"message": "Hi {{name}}", "recipients": [{"to": "+923001234568", "name": "Ali"}]}),
                ),
                "/batch_id",
            ),
        ),
        (
            "RELAY_ST_OTP_ID",
            created_id(post("/v1/otp/send", json!({"to": "+923001234567", "purpose": "login"})), "/otp_id"),
        ),
        (
            "RELAY_ST_RECIPIENT_ID",
            created_id(post("/v1/recipients", json!({"name": "Sara", "phone": "+923001234569"})), "/id"),
        ),
        ("RELAY_ST_KEY_ID", created_id(post("/v1/keys", json!({"name": "second"})), "/id")),
        ("RELAY_ST_DELIVERY_ID", created_id(test_event, "/delivery_id")),
        ("RELAY_ST_WEBHOOK_ID", webhook_id),
    ]
}

/// One `schemathesis run` over the operations `filter` selects; panics with its report on failure.
fn run(schemathesis: &Path, server: &TestServer, key: &str, env: &[(&str, String)], filter: &[String]) -> String {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let cwd = tempfile::tempdir().unwrap();
    let out = Command::new(schemathesis)
        .arg("--config-file")
        .arg(config)
        .arg("run")
        .arg(format!("{}/openapi.json", server.url))
        .args(["--url", &server.url])
        .args(["--header", &format!("Authorization: Bearer {key}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        // Repeatable and bounded: a fixed seed, a few cases per operation, one worker.
        .args(["--seed", "20261127", "--max-examples", "15", "--workers", "1"])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-response-time", "5", "--request-timeout", "10"])
        // The device link's upgrade (`101`) is a WebSocket handshake, not an HTTP exchange.
        .args(["--exclude-path", "/v1/device/connect", "--no-color"])
        .args(filter)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        // Its cache (`.schemathesis/`) goes to a folder of the test's own.
        .current_dir(cwd.path())
        .output()
        .unwrap();
    let report = format!("{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "Schemathesis found problems:\n{report}");
    assert!(report.contains(" passed"), "Schemathesis ran nothing:\n{report}");
    report
}

#[test]
fn every_operation_conforms_to_the_openapi_document() {
    let Some(schemathesis) = schemathesis() else { return };
    let db = TestDb::new(Backend::Sqlite);
    // The unlimited plan: its rate limits are far above what the run sends.
    let account = create_account(&db, "schemathesis@example.com", "unlimited");
    let server = TestServer::start_with(&db, &["--heartbeat-secs", "2", "--allow-private-webhooks"]);
    let receiver = Receiver::start(0);
    let mut phone = TestDevice::pair(&server, &account.key, "Schemathesis phone");
    phone.run(&[]);
    let env = resources(&server, &account.key, &phone.device_id, &receiver.url());

    let mut everything_else = Vec::new();
    let mut destructive = Vec::new();
    for name in DESTRUCTIVE {
        everything_else.extend(["--exclude-name".to_owned(), (*name).to_owned()]);
        destructive.extend(["--include-name".to_owned(), (*name).to_owned()]);
    }
    // Every operation of the document runs: all but the WebSocket upgrade, then the last two.
    let spec = server.get("/openapi.json", None).json();
    let total: usize = spec["paths"].as_object().unwrap().values().map(|item| item.as_object().unwrap().len()).sum();
    let report = run(&schemathesis, &server, &account.key, &env, &everything_else);
    let selected = total - 1 - DESTRUCTIVE.len();
    assert!(report.contains(&format!("{selected} selected / {total} total")), "{report}");
    phone.assert_running();
    let report = run(&schemathesis, &server, &account.key, &env, &destructive);
    assert!(report.contains(&format!("{} selected / {total} total", DESTRUCTIVE.len())), "{report}");
}
