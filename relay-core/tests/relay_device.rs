//! The `relay-device` binary as a process: pair, run, "send", SIGKILL, restart, SIGTERM.
//! Its stdout is the sent box, so counting lines proves each message went out once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use relay_core::protocol::frames::DeliveryStatus;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_relay-device");

/// A running relay-device with its stdout lines arriving on a channel.
struct Device {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Device {
    fn run(data_dir: &std::path::Path, connect_url: &str) -> Self {
        let mut child = Command::new(BIN)
            .args(["run", "--json", "--latency-ms", "30", "--outcome", "delivered", "--data-dir"])
            .arg(data_dir)
            .args(["--connect-url", connect_url])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Device { child, lines }
    }

    fn next_line(&self) -> serde_json::Value {
        let line = self.lines.recv_timeout(PATIENCE).expect("no line on stdout");
        serde_json::from_str(&line).expect("each stdout line is one JSON object")
    }

    fn no_line_within(&self, wait: Duration) -> bool {
        self.lines.recv_timeout(wait).is_err()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_sends_each_message_once_across_kill_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut peer = ProtocolTestPeer::start("rd_secret", None).await;
    let pairing = PairingTestServer::start(
        hyper::StatusCode::OK,
        serde_json::json!({"ok": true, "device_id": "dev_sim", "device_name": "Sim",
            "device_token": "rd_secret", "connect_url": peer.url()}),
        None,
    )
    .await;

    let payload = format!("relay://pair?server=http%3A%2F%2Flocalhost%3A{}&code=ABCD", pairing.port);
    let out = Command::new(BIN)
        .args(["pair", &payload, "--name", "Sim", "--json", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "pair failed: {}", String::from_utf8_lossy(&out.stderr));
    let paired: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(paired["device_id"], "dev_sim");
    assert_eq!(pairing.requests.lock().unwrap()[0].name, "Sim");

    // First run: one message goes out, then the process is killed before `delivered` is acked.
    let mut device = Device::run(dir.path(), &peer.url());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    match conn.recv_any().await {
        relay_core::protocol::frames::DeviceFrame::Heartbeat(hb) => {
            assert_eq!((hb.battery_percent, hb.charging, hb.signal_level), (Some(100), Some(true), Some(4)));
            assert_eq!(hb.network.as_deref(), Some("wifi"));
            assert!(hb.permissions.send_sms);
        }
        other => panic!("expected a heartbeat, got {other:?}"),
    }
    conn.send(send_frame("req_one", 3600)).await;
    conn.expect_accepted("req_one").await;
    conn.send(confirm("req_one")).await;
    let line = device.next_line();
    assert_eq!(line, serde_json::json!({"request_id": "req_one", "to": "+923001234567", "body": "Hello from req_one"}));
    assert_eq!(conn.expect_status().await.1, DeliveryStatus::Sent);
    assert_eq!(conn.expect_status().await.1, DeliveryStatus::Delivered);
    device.child.kill().unwrap(); // SIGKILL
    device.child.wait().unwrap();

    // Second run: the unacked report is replayed, nothing is printed again.
    let device = Device::run(dir.path(), &peer.url());
    let mut conn = peer.next_connection().await;
    let hello = conn.handshake(unlimited()).await;
    assert!(hello.unconfirmed.is_empty());
    let mut replayed = Vec::new();
    while let Some(relay_core::protocol::frames::DeviceFrame::Status(s)) =
        conn.try_recv(Duration::from_millis(500)).await
    {
        replayed.push(s.status);
        conn.ack(&s.request_id, s.status).await;
    }
    assert!(replayed.contains(&DeliveryStatus::Delivered), "unacknowledged reports replayed: {replayed:?}");
    conn.send(confirm("req_one")).await;
    assert!(device.no_line_within(Duration::from_millis(400)), "req_one must not be sent twice");

    conn.send(send_frame("req_two", 3600)).await;
    conn.expect_accepted("req_two").await;
    conn.send(confirm("req_two")).await;
    assert_eq!(device.next_line()["request_id"], "req_two");

    // SIGTERM: a clean stop and exit status 0.
    let Device { mut child, lines } = device;
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let exit = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(exit.success(), "relay-device exits 0 on SIGTERM: {exit:?}");
    let rest: Vec<String> = lines.try_iter().collect();
    assert!(rest.is_empty(), "no extra sends: {rest:?}");
}

/// A kill can land between the store's hand-over mark and the radio. On restart the simulator
/// asks its radio journal: a message it remembers transmitting finishes delivered; one it does
/// not is reported `failed` with `outcome_unknown`. Neither is printed (sent) again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_send_reports_outcome_unknown_unless_the_radio_remembers() {
    use relay_core::store::Store;
    let dir = tempfile::tempdir().unwrap();
    let mut peer = ProtocolTestPeer::start("rd_secret", None).await;
    seed(dir.path(), &credentials(peer.url(), "rd_secret", None));
    {
        // The previous run: both handed over, only req_sent reached the radio's journal.
        let store = Store::open_dir(dir.path()).unwrap();
        for id in ["req_sent", "req_caught"] {
            let relay_core::protocol::frames::ServerFrame::Send(msg) = send_frame(id, 3600) else { panic!() };
            store.store_send(&msg, 0).unwrap();
            store.confirm(id, 1).unwrap();
            assert!(store.hand_over(&[id], 2).unwrap()[0]);
        }
        std::fs::write(dir.path().join("radio-journal.txt"), "req_sent\n").unwrap();
    }
    let device = Device::run(dir.path(), &peer.url());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    let mut reports = Vec::new();
    while reports.len() < 3 {
        match conn.recv_any().await {
            relay_core::protocol::frames::DeviceFrame::Status(s) => {
                conn.ack(&s.request_id, s.status).await;
                reports.push((s.request_id, s.status, s.failure.map(|f| f.code)));
            }
            _ => continue,
        }
    }
    reports.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(
        reports,
        vec![
            ("req_caught".into(), DeliveryStatus::Failed, Some("outcome_unknown".into())),
            ("req_sent".into(), DeliveryStatus::Delivered, None),
            ("req_sent".into(), DeliveryStatus::Sent, None),
        ]
    );
    assert!(device.no_line_within(Duration::from_millis(300)), "nothing is sent again");
    let Device { mut child, .. } = device;
    child.kill().unwrap();
    child.wait().unwrap();
}
