//! `relay-server --demo`: the README's first command. A newcomer's first request must reach
//! `delivered` through the in-process simulated phone, quickly.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::BIN;

#[test]
fn the_demo_delivers_a_first_message_and_stops_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["--demo", "--bind", "127.0.0.1:0", "--json", "--data-dir"])
        .arg(dir.path())
        .env("RELAY_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> Value { serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap() };
    let listening = next();
    assert_eq!(listening["event"], "listening");
    let url = listening["url"].as_str().unwrap().to_owned();
    let demo = next();
    assert_eq!(demo["event"], "demo", "{demo}");
    let key = demo["api_key"].as_str().unwrap().to_owned();
    assert!(demo["curl"].as_str().unwrap().contains(&key));

    let http = crate::common::http_client();
    let started = Instant::now();
    let sent: Value = http
        .post(format!("{url}/v1/messages"))
        .bearer_auth(&key)
        .json(&json!({"to": "+923001234567", "message": "Hello from Relay"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let id = sent["request_id"].as_str().unwrap().to_owned();
    let message = loop {
        let m: Value = http.get(format!("{url}/v1/messages/{id}")).bearer_auth(&key).send().unwrap().json().unwrap();
        if m["status"] == "delivered" {
            break m;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "not delivered within 10 s: {m}");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(message["device_name"], "Relay Device 1");
    assert_eq!(message["attempts"], 1);
    // The printed console credentials open the console, whose checklist saw all of it but a
    // webhook: account, phone, key, request, delivery and readiness.
    let mut browser = crate::console::Browser::at(&url);
    let signed_in =
        browser.sign_in(demo["console_email"].as_str().unwrap(), demo["console_password"].as_str().unwrap());
    assert_eq!(signed_in.status, 303, "{}", signed_in.html);
    assert_eq!(demo["console_url"], format!("{url}/console"));
    let dashboard = browser.get("/console");
    assert_eq!(crate::console::steps_done(&dashboard.html), 6, "{}", dashboard.html);
    // The simulated phone's sent box is the server's standard output.
    let sent_line = next();
    assert_eq!(sent_line["request_id"], id.as_str());
    assert_eq!(sent_line["body"], "Hello from Relay");
    eprintln!("demo: queued → delivered in {:?}", started.elapsed());

    let stopping = Instant::now();
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    assert!(stopping.elapsed() < Duration::from_secs(10), "a connected phone must not hold shutdown");
}
