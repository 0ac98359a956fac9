//! The console in headless Chromium (Debian's `chromium`, driven by playwright-core from npm):
//! sign in, pair a simulated phone from the QR page and see it come online without a reload,
//! watch a message reach delivered, find a recipient by an Urdu name, read a webhook attempt
//! log and ask for its secret and a test event, follow the messages list to delivered, add and
//! import recipients (each row's outcome), export them, see the queue's chart, switch to Urdu.
//! `scripts/test.sh` installs the npm package and skips this loudly when Chromium or Node is
//! missing (a failure in CI).
//! Screenshots land in `target/console-screenshots/`.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::json;

use crate::common::{Backend, TestDb, TestDevice, TestServer, create_account};

#[test]
fn the_console_works_in_a_real_browser() {
    let db = TestDb::new(Backend::Sqlite);
    let account = create_account(&db, "browser@example.com", "standard");
    let password = "a browser's password";
    let out = crate::console::set_password(&db, &account.id, password);
    assert!(out.status.success());
    let server = TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "200"]);
    // An endpoint nobody answers: its attempt log fills with refusals for the page to show.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let hook = json!({"url": format!("http://127.0.0.1:{closed}/hook")}).to_string();
    let created = server.send("POST", "/v1/webhooks", Some(&account.key), Some(&hook));
    assert_eq!(created.status, 201, "{}", created.text);
    let hook_id = created.json()["webhook"]["id"].as_str().unwrap().to_owned();
    assert_eq!(server.send("POST", &format!("/v1/webhooks/{hook_id}/test"), Some(&account.key), None).status, 202);
    let recipient = json!({"name": "محمد علی", "phone": "+923001234567"}).to_string();
    assert_eq!(server.send("POST", "/v1/recipients", Some(&account.key), Some(&recipient)).status, 201);

    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shots = manifest.parent().unwrap().join("target/console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let mut script = Command::new("node")
        .arg(manifest.join("tests/browser/console.mjs"))
        .env("RELAY_URL", &server.url)
        .env("RELAY_EMAIL", "browser@example.com")
        .env("RELAY_PASSWORD", password)
        .env("RELAY_SCREENSHOTS", &shots)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node (scripts/test.sh checks for it)");
    let mut to_script = script.stdin.take().unwrap();
    let mut from_script = BufReader::new(script.stdout.take().unwrap()).lines();
    let mut next = || from_script.next().unwrap_or_else(|| panic!("the browser script stopped")).unwrap();

    // The phone scans what the page shows.
    let line = next();
    let payload = line.strip_prefix("PAYLOAD ").unwrap_or_else(|| panic!("expected the payload, got {line:?}"));
    let mut phone = TestDevice::pair_with_payload(payload, "Browser phone");
    // Slow enough that the message page opens before delivery, and must update by itself.
    phone.run(&["--latency-ms", "2500"]);
    assert_eq!(next(), "ONLINE");

    let body = json!({"to": "+923001234567", "message": "Seen in a browser"}).to_string();
    let sent = server.send("POST", "/v1/messages", Some(&account.key), Some(&body));
    assert_eq!(sent.status, 202, "{}", sent.text);
    writeln!(to_script, "{}", sent.json()["request_id"].as_str().unwrap()).unwrap();
    assert_eq!(next(), "DELIVERED");
    let body = json!({"to": "+923001234567", "message": "Seen in the list"}).to_string();
    let sent = server.send("POST", "/v1/messages", Some(&account.key), Some(&body));
    assert_eq!(sent.status, 202, "{}", sent.text);
    writeln!(to_script, "{}", sent.json()["request_id"].as_str().unwrap()).unwrap();
    assert_eq!(next(), "LISTED");
    assert_eq!(next(), "DONE");
    assert!(script.wait().unwrap().success(), "the browser script failed");
    for page in [
        "sign-in",
        "dashboard",
        "pairing",
        "devices",
        "message",
        "messages",
        "recipients",
        "recipients-import",
        "webhook-log",
        "queue",
        "message-ur",
        "dashboard-ur",
        "queue-ur",
        "recipients-ur",
    ] {
        assert!(shots.join(format!("{page}.png")).is_file(), "no screenshot of {page}");
    }
}
