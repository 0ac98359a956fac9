//! `serve --tls-self-signed`: phones pair and connect over TLS, pinning the certificate whose
//! fingerprint the QR payload carries; a phone given another fingerprint refuses the server.

use std::process::Command;
use std::time::{Duration, Instant};

use relay_protocol::pairing::PairingPayload;
use serde_json::Value;

use crate::common::{Backend, TestDb, TestServer, cli, create_account, relay_device_bin};

/// The test's own HTTP client has no TLS; curl talks to the self-signed server (`-k`: the
/// pinning under test is the phone's, not curl's).
fn curl(args: &[&str]) -> Value {
    let out = Command::new("curl").args(["-sk", "--max-time", "10"]).args(args).output().expect("curl is needed");
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("curl {args:?}: {e}: {:?}", out))
}

fn pair(payload: &str, dir: &std::path::Path) -> std::process::Output {
    Command::new(relay_device_bin())
        .args(["pair", payload, "--name", "Pinned phone", "--json", "--data-dir"])
        .arg(dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

#[test]
fn a_phone_pins_the_self_signed_certificate_from_the_qr_payload() {
    let db = TestDb::new(Backend::Sqlite);
    let data_dir = db.dir.path().join("server-data");
    let data = data_dir.to_string_lossy().into_owned();
    let account = create_account(&db, "tls@example.com", "standard");
    let server = TestServer::start_with(&db, &["--tls-self-signed", "--data-dir", &data, "--heartbeat-secs", "2"]);
    assert!(server.url.starts_with("https://"), "{}", server.url);

    let offer =
        cli(&db, &["pair", "--account", &account.id, "--public-url", &server.url, "--data-dir", &data, "--json"]);
    assert!(offer.success, "{offer:?}");
    let payload = PairingPayload::parse(offer.json()["qr_payload"].as_str().unwrap()).unwrap();
    let fingerprint = payload.fingerprint.clone().expect("a TLS server's payload carries its fingerprint");

    // A phone told to expect another certificate refuses this server (and so a man in the middle).
    let mut forged = payload.clone();
    forged.fingerprint = Some(if fingerprint.starts_with('0') { "1" } else { "0" }.repeat(64));
    let refused = pair(&forged.to_uri(), &db.dir.path().join("forged"));
    assert!(!refused.status.success(), "a wrong pin must be refused");

    let phone_dir = db.dir.path().join("phone");
    let paired = pair(&payload.to_uri(), &phone_dir);
    assert!(paired.status.success(), "{}", String::from_utf8_lossy(&paired.stderr));
    let mut phone = Command::new(relay_device_bin())
        .args(["run", "--json", "--latency-ms", "20", "--data-dir"])
        .arg(&phone_dir)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();

    let auth = format!("Authorization: Bearer {}", account.key);
    let body = r#"{"to": "+923001234567", "message": "Over TLS"}"#;
    let sent = curl(&[
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        body,
        &format!("{}/v1/messages", server.url),
    ]);
    let id = sent["request_id"].as_str().unwrap_or_else(|| panic!("{sent}")).to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        let m = curl(&["-H", &auth, &format!("{}/v1/messages/{id}", server.url)]);
        if m["status"] == "delivered" {
            break m;
        }
        assert!(Instant::now() < deadline, "not delivered over TLS: {m}\n{}", server.log());
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(message["device_name"], "Pinned phone");
    let _ = phone.kill();
    let _ = phone.wait();
}
