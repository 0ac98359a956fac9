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
use crate::common::receiver::Receiver;
use crate::common::{Backend, TestDb, TestServer, create_account, poll};

both_backends!(
    a_burst_of_repeated_frames_changes_each_message_once_and_answers_every_frame,
    unknown_outcomes_after_a_restart_do_not_degrade_the_phone,
    messages_sent_before_a_reconnect_leave_the_new_link_its_whole_window,
    a_phone_that_reconnects_at_once_stays_online_and_is_given_work,
    reports_that_come_with_their_acknowledgements_are_applied_after_them,
    sent_and_delivered_in_one_burst_read_as_if_reported_apart,
    a_webhook_account_gets_both_events_of_a_burst_each_as_it_was,
    a_device_whose_cleanup_failed_is_taken_offline_at_the_next_beat,
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

    /// Acknowledges the messages in one burst and reads the server's answers to it.
    fn acknowledge(&mut self, ids: &[String]) -> Vec<ServerFrame> {
        let accepted: Vec<DeviceFrame> =
            ids.iter().map(|id| DeviceFrame::Accepted { request_id: id.clone() }).collect();
        self.send_burst(&accepted);
        self.recv_n(accepted.len())
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

fn failed(request_id: &str, code: &str, reason: String) -> DeviceFrame {
    DeviceFrame::Status(StatusReport {
        request_id: request_id.into(),
        status: DeliveryStatus::Failed,
        at: "2026-11-27T12:00:00Z".into(),
        failure: Some(Failure { code: code.into(), reason }),
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

/// A message reported `sent` and then `delivered` in one burst moves in one step; the rest of
/// the burst (a repeat, a message sent earlier, one that failed after `sent`) as before.
fn sent_and_delivered_in_one_burst_read_as_if_reported_apart(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "pairs@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);
    let ids = queue(&server, &a.key, 5, "Pairs");
    phone.recv_sends(ids.len());
    phone.acknowledge(&ids);
    let [a1, b, c, d, e] = [0, 1, 2, 3, 4].map(|i| ids[i].as_str());
    // `c` was reported sent in a burst of its own.
    phone.send_burst(&[status(c, DeliveryStatus::Sent)]);
    phone.recv_n(1);

    let burst = [
        status(a1, DeliveryStatus::Sent),
        status(b, DeliveryStatus::Sent),
        status(d, DeliveryStatus::Sent),
        status(a1, DeliveryStatus::Delivered),
        status(e, DeliveryStatus::Sent),
        status(e, DeliveryStatus::Sent),
        status(b, DeliveryStatus::Delivered),
        status(c, DeliveryStatus::Delivered),
        status(e, DeliveryStatus::Delivered),
        failed(d, "no_service", "No service".into()),
    ];
    phone.send_burst(&burst);
    let answers = phone.recv_n(burst.len());
    assert!(answers.iter().all(|f| matches!(f, ServerFrame::StatusAck { .. })), "{answers:?}");

    for id in [a1, b, c, e] {
        assert_delivered_once(&server, &a.key, id);
    }
    let m = server.get(&format!("/v1/messages/{d}"), Some(&a.key)).json();
    assert_eq!((m["status"].as_str(), m["failure"]["code"].as_str()), (Some("failed"), Some("no_service")), "{m}");
    let events: Vec<&str> = m["events"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(events, ["queued", "dispatched", "sent", "failed"], "{m}");

    let figures = server.get("/v1/queue", Some(&a.key)).json();
    let counts = &figures["counts"];
    assert_eq!((counts["delivered"].as_i64(), counts["failed"].as_i64()), (Some(4), Some(1)), "{figures}");
    assert_eq!(counts["dispatched"].as_i64(), Some(0), "{figures}");
    // Every one of the five was sent (the failed one after its `sent`), one failed.
    assert_eq!(
        (figures["sent_last_hour"].as_i64(), figures["failed_last_hour"].as_i64()),
        (Some(5), Some(1)),
        "{figures}"
    );
    // The failure came last in the burst: a streak of one, counted once.
    let devices = server.get("/v1/devices", Some(&a.key)).json();
    assert_eq!(devices["devices"][0]["consecutive_failures"], 1, "{devices}");
    // Every message left the phone's window exactly once: new work still flows to it, all of it.
    let more = queue(&server, &a.key, 3, "After");
    let mut handed = phone.recv_sends(more.len());
    handed.sort();
    let mut want = more.clone();
    want.sort();
    assert_eq!(handed, want);
}

/// An account with a webhook endpoint: a message reported `sent` and `delivered` in one burst
/// gives both events, each payload showing the message at its step.
fn a_webhook_account_gets_both_events_of_a_burst_each_as_it_was(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "pairhooks@example.com", "standard");
    let server = TestServer::start_with(&db, &["--allow-private-webhooks", "--unsafe-test-webhook-schedule-ms", "300"]);
    let receiver = Receiver::start(0);
    let body = json!({"url": receiver.url(), "events": ["message.sent", "message.delivered"]});
    let reply = server.send("POST", "/v1/webhooks", Some(&a.key), Some(&body.to_string()));
    assert_eq!(reply.status, 201, "{}", reply.text);
    let mut phone = RawPhone::connect(&server, &a.key);
    let ids = queue(&server, &a.key, 1, "Hooked");
    phone.recv_sends(1);
    phone.acknowledge(&ids);
    phone.send_burst(&[status(&ids[0], DeliveryStatus::Sent), status(&ids[0], DeliveryStatus::Delivered)]);
    phone.recv_n(2);
    assert_delivered_once(&server, &a.key, &ids[0]);

    let got = poll(Duration::from_secs(20), "both events at the receiver", || {
        let got = receiver.received();
        (got.len() >= 2).then_some(got)
    });
    let mut steps: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let v = r.json();
            (v["type"].as_str().unwrap().to_owned(), v["data"]["status"].as_str().unwrap().to_owned())
        })
        .collect();
    steps.sort();
    let want =
        [("message.delivered", "delivered"), ("message.sent", "sent")].map(|(t, s)| (t.to_owned(), s.to_owned()));
    assert_eq!(steps, want, "{got:?}");
}

/// The database refuses the transaction that takes a disconnected phone offline (as
/// PostgreSQL does to break a deadlock): the instance's next beat finds the device still held
/// with no connection and does it then, re-queueing what the phone never acknowledged.
fn a_device_whose_cleanup_failed_is_taken_offline_at_the_next_beat(backend: Backend) {
    let db = TestDb::new(backend);
    let a = create_account(&db, "stray@example.com", "unlimited");
    let server = TestServer::start(&db);
    let mut phone = RawPhone::connect(&server, &a.key);
    let ids = queue(&server, &a.key, 2, "Stray");
    phone.recv_sends(ids.len());
    // Refuses the device's release while `cleanup_fault` has a row.
    let fault = match backend {
        Backend::Sqlite => {
            "CREATE TABLE cleanup_fault (one INTEGER); INSERT INTO cleanup_fault VALUES (1);
             CREATE TRIGGER cleanup_fault BEFORE UPDATE OF connected_instance ON devices
             WHEN OLD.connected_instance IS NOT NULL AND NEW.connected_instance IS NULL
                 AND EXISTS (SELECT 1 FROM cleanup_fault)
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;"
        }
        Backend::Postgres => {
            "CREATE TABLE cleanup_fault (one INTEGER); INSERT INTO cleanup_fault VALUES (1);
             CREATE FUNCTION cleanup_fault() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF OLD.connected_instance IS NOT NULL AND NEW.connected_instance IS NULL
                     AND EXISTS (SELECT 1 FROM cleanup_fault) THEN
                     RAISE EXCEPTION 'injected deadlock' USING ERRCODE = '40P01';
                 END IF;
                 RETURN NEW;
             END $$;
             CREATE TRIGGER cleanup_fault BEFORE UPDATE ON devices
                 FOR EACH ROW EXECUTE FUNCTION cleanup_fault();"
        }
    };
    execute(&db, fault);
    // The phone hangs up holding both messages unacknowledged; its cleanup is refused.
    drop(phone);
    poll(Duration::from_secs(15), "the refused cleanup in the server's log", || {
        server.log().contains("could not record the device going offline").then_some(())
    });
    for id in &ids {
        let m = server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json();
        assert_eq!(m["status"], "dispatched", "still held by the gone connection: {m}");
    }

    execute(&db, "DELETE FROM cleanup_fault");
    // The beat comes every 5 s.
    poll(Duration::from_secs(20), "the messages back in the queue", || {
        ids.iter()
            .all(|id| server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json()["status"] == "queued")
            .then_some(())
    });
    for id in &ids {
        let m = server.get(&format!("/v1/messages/{id}"), Some(&a.key)).json();
        let details: Vec<&str> = m["events"].as_array().unwrap().iter().filter_map(|e| e["detail"].as_str()).collect();
        assert!(details.contains(&"re-queued: device disconnected"), "{m}");
    }
    let devices = server.get("/v1/devices", Some(&a.key)).json();
    assert_eq!(devices["devices"][0]["state"], "offline", "{devices}");
}

/// Runs SQL on the test's database, beside the server.
fn execute(db: &TestDb, sql: &str) {
    use diesel::connection::SimpleConnection;
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    match &mut *conn {
        relay_server::db::DbConnection::Sqlite(c) => c.batch_execute(sql).unwrap(),
        relay_server::db::DbConnection::Postgres(c) => c.batch_execute(sql).unwrap(),
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
    phone.acknowledge(&ids);
    let unknown = relay_protocol::failure::OUTCOME_UNKNOWN;
    let reports: Vec<DeviceFrame> =
        ids.iter().map(|id| failed(id, unknown, relay_protocol::failure::reason(unknown))).collect();
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
        phone.acknowledge(&ids);
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
