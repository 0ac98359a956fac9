//! A phone speaking raw protocol frames over a real WebSocket, over SQLite and PostgreSQL:
//! what the server answers when a phone sends many frames at once, repeats itself, and
//! reports several messages in one burst.

use std::net::TcpStream;
use std::time::Duration;

use relay_protocol::frames::{DeliveryStatus, DeviceFrame, Failure, Hello, ServerFrame, StatusReport};
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use crate::both_backends;
use crate::common::{Backend, TestDb, TestServer, create_account};

both_backends!(
    a_burst_of_repeated_frames_changes_each_message_once_and_answers_every_frame,
    unknown_outcomes_after_a_restart_do_not_degrade_the_phone,
    messages_sent_before_a_reconnect_leave_the_new_link_its_whole_window,
    a_phone_that_reconnects_at_once_stays_online_and_is_given_work,
    reports_that_come_with_their_acknowledgements_are_applied_after_them,
);

struct RawPhone {
    ws: WebSocket<MaybeTlsStream<TcpStream>>,
    device_id: String,
    token: String,
}

impl RawPhone {
    /// Pairs through the API and connects with the device token; says hello.
    fn connect(server: &TestServer, key: &str) -> Self {
        let offer = server.send("POST", "/v1/devices/pairing", Some(key), None).json();
        let body = json!({"code": offer["pairing_code"], "name": "Raw", "app_version": "0.1.0", "sims": []});
        let paired = server.send("POST", "/v1/device/pair", None, Some(&body.to_string()));
        assert_eq!(paired.status, 201, "{}", paired.text);
        let paired = paired.json();
        let token = paired["device_token"].as_str().unwrap().to_owned();
        let device_id = paired["device_id"].as_str().unwrap().to_owned();
        Self::link(server, device_id, token)
    }

    /// Opens a WebSocket with the device's token and says hello, holding nothing unconfirmed.
    fn link(server: &TestServer, device_id: String, token: String) -> Self {
        let url = format!("{}/v1/device/connect", server.url.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (ws, _) = tungstenite::connect(request).unwrap();
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        }
        let mut phone = RawPhone { ws, device_id, token };
        phone.send(&DeviceFrame::Hello(Hello {
            versions: vec![1],
            app_version: "0.1.0".into(),
            unconfirmed: Vec::new(),
        }));
        assert!(matches!(phone.recv(), ServerFrame::Welcome(_)));
        phone
    }

    fn send(&mut self, frame: &DeviceFrame) {
        self.ws.send(Message::text(serde_json::to_string(frame).unwrap())).unwrap();
    }

    /// Writes the frames back to back, flushing once: they reach the server together.
    fn send_burst(&mut self, frames: &[DeviceFrame]) {
        for f in frames {
            self.ws.write(Message::text(serde_json::to_string(f).unwrap())).unwrap();
        }
        self.ws.flush().unwrap();
    }

    fn recv(&mut self) -> ServerFrame {
        loop {
            let read = self.ws.read();
            match read.unwrap_or_else(|e| panic!("no frame from the server within 15 s: {e}")) {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The request ids of the next `n` `send` frames, skipping any other frame.
    fn recv_sends(&mut self, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        while ids.len() < n {
            if let ServerFrame::Send(s) = self.recv() {
                ids.push(s.request_id);
            }
        }
        ids
    }

    /// The next `n` frames.
    fn recv_n(&mut self, n: usize) -> Vec<ServerFrame> {
        (0..n).map(|_| self.recv()).collect()
    }
}

/// Queues `n` messages through the API; their request ids.
fn queue(server: &TestServer, key: &str, n: usize, label: &str) -> Vec<String> {
    (0..n)
        .map(|i| {
            let body = json!({"to": format!("+9230012345{i:02}"), "message": format!("{label} {i}")});
            let reply = server.send("POST", "/v1/messages", Some(key), Some(&body.to_string()));
            assert_eq!(reply.status, 202, "{}", reply.text);
            reply.json()["request_id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn status(request_id: &str, status: DeliveryStatus) -> DeviceFrame {
    DeviceFrame::Status(StatusReport {
        request_id: request_id.into(),
        status,
        at: "2026-11-27T12:00:00Z".into(),
        failure: None,
    })
}

/// The message went out once and was delivered, each step of its timeline recorded once.
fn assert_delivered_once(server: &TestServer, key: &str, id: &str) {
    let m = server.get(&format!("/v1/messages/{id}"), Some(key)).json();
    assert_eq!(m["status"], "delivered", "{m}");
    assert_eq!(m["attempts"], 1, "{m}");
    let events: Vec<&str> = m["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(events, ["queued", "dispatched", "sent", "delivered"], "each change recorded once: {m}");
    assert!(m["sent_at"].is_string() && m["delivered_at"].is_string(), "{m}");
}

fn a_burst_of_repeated_frames_changes_each_message_once_and_answers_every_frame(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "raw@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);

    let ids = queue(&server, &a.key, 3, "Burst");
    let mut handed = phone.recv_sends(ids.len());
    handed.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(handed, expected);

    // Every message accepted twice (a repeated frame), all at once.
    let accepted: Vec<DeviceFrame> =
        ids.iter().chain(ids.iter()).map(|id| DeviceFrame::Accepted { request_id: id.clone() }).collect();
    phone.send_burst(&accepted);
    let answers = phone.recv_n(accepted.len());
    for id in &ids {
        let confirms =
            answers.iter().filter(|f| matches!(f, ServerFrame::Confirm { request_id } if request_id == id)).count();
        assert_eq!(confirms, 2, "each `accepted` is confirmed, a repeated one too: {answers:?}");
    }

    // Sent and delivered for all, each twice, in one burst: sent before delivered per message.
    let mut reports = Vec::new();
    for kind in [DeliveryStatus::Sent, DeliveryStatus::Delivered] {
        for _ in 0..2 {
            reports.extend(ids.iter().map(|id| status(id, kind)));
        }
    }
    phone.send_burst(&reports);
    let acks = phone.recv_n(reports.len());
    assert!(acks.iter().all(|f| matches!(f, ServerFrame::StatusAck { .. })), "{acks:?}");

    for id in &ids {
        assert_delivered_once(&server, &a.key, id);
    }
    let queue: Value = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(queue["counts"]["delivered"], 3, "{queue}");
}

/// Acknowledgements and reports are stored in batches of their own, on PostgreSQL by two
/// writers. A phone that reports on messages in the same write as it acknowledges them (which
/// a phone keeping the protocol never does: it waits for `confirm`) still has its reports
/// applied after the acknowledgements, not lost against messages not yet acknowledged.
fn reports_that_come_with_their_acknowledgements_are_applied_after_them(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "eager@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);

    let ids = queue(&server, &a.key, 3, "Eager");
    phone.recv_sends(ids.len());
    let mut frames: Vec<DeviceFrame> = ids.iter().map(|id| DeviceFrame::Accepted { request_id: id.clone() }).collect();
    for kind in [DeliveryStatus::Sent, DeliveryStatus::Delivered] {
        frames.extend(ids.iter().map(|id| status(id, kind)));
    }
    phone.send_burst(&frames);
    let answers = phone.recv_n(frames.len());
    let confirms = answers.iter().filter(|f| matches!(f, ServerFrame::Confirm { .. })).count();
    let acks = answers.iter().filter(|f| matches!(f, ServerFrame::StatusAck { .. })).count();
    assert_eq!((confirms, acks), (3, 6), "{answers:?}");

    for id in &ids {
        assert_delivered_once(&server, &a.key, id);
    }
}

/// A phone that restarted mid-send reports `outcome_unknown` for what it cannot vouch for; a
/// crash says nothing about its radio, so six of them in a row leave it usable.
fn unknown_outcomes_after_a_restart_do_not_degrade_the_phone(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "unknown@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);
    let ids = queue(&server, &a.key, 6, "Unknown");
    phone.recv_sends(ids.len());
    let accepted: Vec<DeviceFrame> = ids.iter().map(|id| DeviceFrame::Accepted { request_id: id.clone() }).collect();
    phone.send_burst(&accepted);
    phone.recv_n(accepted.len());
    let unknown = relay_protocol::failure::OUTCOME_UNKNOWN;
    let reports: Vec<DeviceFrame> = ids
        .iter()
        .map(|id| {
            DeviceFrame::Status(StatusReport {
                request_id: id.clone(),
                status: DeliveryStatus::Failed,
                at: "2026-11-27T12:00:00Z".into(),
                failure: Some(Failure { code: unknown.into(), reason: relay_protocol::failure::reason(unknown) }),
            })
        })
        .collect();
    phone.send_burst(&reports);
    phone.recv_n(reports.len());

    for id in &ids {
        let m = server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json();
        assert_eq!((m["status"].as_str(), m["failure"]["code"].as_str()), (Some("failed"), Some(unknown)), "{m}");
    }
    let devices = server.get("/v1/devices", Some(&a.key)).json();
    let d = &devices["devices"][0];
    assert_eq!(d["state"], "online", "{d}");
    assert_eq!(d["consecutive_failures"], 0, "{d}");
    assert_eq!(server.get("/v1/queue", Some(&a.key)).json()["state"], "running");
}

/// A phone whose link drops while its messages wait for delivery reports (sent, not yet
/// delivered) gets its whole window on the new link: those messages are past the hand-over
/// and must not hold room, or a phone that reconnects often ends with none and stalls.
fn messages_sent_before_a_reconnect_leave_the_new_link_its_whole_window(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "window@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);
    let pacing = json!({"pacing": {"parts_per_minute": 0, "parts_per_day": 0}}).to_string();
    let reply = server.send("PATCH", &format!("/v1/devices/{}", phone.device_id), Some(&a.key), Some(&pacing));
    assert_eq!(reply.status, 200, "{}", reply.text);

    // Two rounds: fill the server's window of 64, take it all, report it sent, reconnect.
    for round in 0..2 {
        let ids = queue(&server, &a.key, 64, &format!("Window {round}"));
        phone.recv_sends(ids.len());
        let accepted: Vec<DeviceFrame> =
            ids.iter().map(|id| DeviceFrame::Accepted { request_id: id.clone() }).collect();
        phone.send_burst(&accepted);
        phone.recv_n(accepted.len());
        let sent: Vec<DeviceFrame> = ids.iter().map(|id| status(id, DeliveryStatus::Sent)).collect();
        phone.send_burst(&sent);
        phone.recv_n(sent.len());
        let (device_id, token) = (phone.device_id.clone(), phone.token.clone());
        drop(phone);
        phone = RawPhone::link(&server, device_id, token);
    }

    // 128 messages await delivery reports; a new one still reaches the phone at once.
    let next = queue(&server, &a.key, 1, "After");
    let handed = phone.recv_sends(1);
    assert_eq!(handed, next, "the reconnected phone is handed new work");
    let queue: Value = server.get("/v1/queue", Some(&a.key)).json();
    assert_eq!(queue["counts"]["sent"], 128, "{queue}");
}

/// A phone whose link drops and comes straight back: the old connection's cleanup may run
/// after the new connection has taken the device. It must leave the device online and held,
/// or no message is claimed for the phone until it reconnects again.
fn a_phone_that_reconnects_at_once_stays_online_and_is_given_work(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "again@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);
    // Each round is a fresh chance for the cleanup to land between the new connection's hold
    // and its registration in the hub.
    for round in 0..25 {
        let (device_id, token) = (phone.device_id.clone(), phone.token.clone());
        drop(phone);
        phone = RawPhone::link(&server, device_id, token);
        let next = queue(&server, &a.key, 1, &format!("Again {round}"));
        assert_eq!(phone.recv_sends(1), next, "round {round}: the reconnected phone is handed new work");
        let accepted = DeviceFrame::Accepted { request_id: next[0].clone() };
        phone.send(&accepted);
        phone.recv();
    }
    // The old connections' cleanups have all run by now (each ended before the next round).
    let device = server.get(&format!("/v1/devices/{}", phone.device_id), Some(&a.key)).json();
    assert_eq!(device["state"], "online", "{device}");
}
