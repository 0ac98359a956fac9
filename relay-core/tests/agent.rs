//! The agent against a PROTOCOL TEST PEER over real loopback sockets, with a real SQLite file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use relay_core::protocol::failure;
use relay_core::protocol::frames::{DeliveryStatus, DeviceFrame, Pacing, SUPPORTED_VERSIONS, ServerFrame};
use relay_core::store::{MessageState, Store};
use relay_core::{
    ClientOptions, ConnectionState, DeviceInfo, MessageEventKind, RelayClient, RelayError, RelayHandle, TransportResult,
};
use support::*;

const TOKEN: &str = "rd_test_token";

/// Timers shortened so the suite stays fast; reports repeat after 150 ms.
fn fast_options() -> ClientOptions {
    ClientOptions {
        reconnect_min_ms: 20,
        reconnect_max_ms: 200,
        report_retry_min_ms: 150,
        report_retry_max_ms: 1_000,
        welcome_timeout_ms: 5_000,
        ..ClientOptions::default()
    }
}

struct Phone {
    _dir: tempfile::TempDir,
    _client: Arc<RelayClient>,
    store: Arc<Store>,
    transport: Arc<RecordingTransport>,
    listener: Arc<RecordingListener>,
    handle: Arc<RelayHandle>,
}

fn start_phone(creds: relay_core::Credentials, options: ClientOptions) -> Phone {
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &creds);
    start_in(dir, options)
}

fn start_in(dir: tempfile::TempDir, options: ClientOptions) -> Phone {
    let client = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    let transport = Arc::new(RecordingTransport::default());
    let listener = Arc::new(RecordingListener::default());
    let handle = client.start(transport.clone(), None, Some(listener.clone()), options).unwrap();
    Phone { store: client.store(), _dir: dir, _client: client, transport, listener, handle }
}

fn state(store: &Store, id: &str) -> Option<MessageState> {
    store.message(id).unwrap().map(|m| m.state)
}

#[tokio::test]
async fn the_full_exchange_stores_before_accepting_sends_once_and_reports_until_acked() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    let mut conn = peer.next_connection().await;
    assert_eq!(conn.authorization.as_deref(), Some("Bearer rd_test_token"));

    let hello = conn.expect_hello().await;
    assert_eq!(hello.versions, SUPPORTED_VERSIONS.to_vec());
    assert!(hello.unconfirmed.is_empty());
    conn.send(welcome(Pacing::default())).await;
    match conn.recv_any().await {
        DeviceFrame::Heartbeat(hb) => assert_eq!(hb.queue_depth, 0),
        other => panic!("expected the first heartbeat, got {other:?}"),
    }
    phone.listener.wait_state(|s| matches!(s, ConnectionState::Connected { .. })).await;

    conn.send(send_frame("req_1", 3600)).await;
    conn.expect_accepted("req_1").await;
    // `accepted` means durable: the row is there the moment the server hears it.
    assert_eq!(state(&phone.store, "req_1"), Some(MessageState::Stored));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(phone.transport.calls().is_empty(), "nothing may be sent before confirm");

    conn.send(confirm("req_1")).await;
    phone.transport.wait_calls(1).await;
    assert_eq!(phone.transport.sent_ids(), vec!["req_1"]);
    assert_eq!(state(&phone.store, "req_1"), Some(MessageState::HandedOver));

    // Results arrive later, from another thread (as Android's broadcast receivers do).
    let sink = phone.transport.sink("req_1");
    std::thread::spawn(move || sink.report(TransportResult::Sent)).join().unwrap();
    assert_eq!(conn.expect_status().await, ("req_1".into(), DeliveryStatus::Sent, None));
    // Not acknowledged: it comes again after the backoff.
    assert_eq!(conn.expect_status().await, ("req_1".into(), DeliveryStatus::Sent, None));
    conn.ack("req_1", DeliveryStatus::Sent).await;
    eventually("sent report dropped after status_ack", || phone.store.pending_reports().unwrap().is_empty()).await;

    let sink = phone.transport.sink("req_1");
    std::thread::spawn(move || sink.report(TransportResult::Delivered)).join().unwrap();
    assert_eq!(conn.expect_status().await, ("req_1".into(), DeliveryStatus::Delivered, None));
    conn.ack("req_1", DeliveryStatus::Delivered).await;
    eventually("delivered report dropped", || phone.store.pending_reports().unwrap().is_empty()).await;
    assert_eq!(state(&phone.store, "req_1"), Some(MessageState::Finished));

    // A repeated confirm (or send) never sends again.
    conn.send(confirm("req_1")).await;
    conn.send(send_frame("req_1", 3600)).await;
    conn.expect_accepted("req_1").await;
    conn.send(confirm("req_1")).await;
    assert_eq!(conn.try_recv(Duration::from_millis(400)).await, None, "no further reports once acknowledged");
    assert_eq!(phone.transport.calls().len(), 1);

    let events: Vec<_> = phone.listener.events.lock().unwrap().iter().map(|e| e.kind.clone()).collect();
    for expected in [
        MessageEventKind::Stored,
        MessageEventKind::Confirmed,
        MessageEventKind::HandedOver,
        MessageEventKind::Sent,
        MessageEventKind::Delivered,
        MessageEventKind::Acknowledged { status: DeliveryStatus::Delivered },
    ] {
        assert!(events.contains(&expected), "missing {expected:?} in {events:?}");
    }

    phone.handle.stop().await;
    assert!(conn.try_recv_any(Duration::from_secs(2)).await.is_none(), "the link closes on stop");
    phone.listener.wait_state(|s| *s == ConnectionState::Stopped).await;
}

#[tokio::test]
async fn revoke_drops_a_waiting_message_but_cannot_recall_a_handed_over_one() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;

    conn.send(send_frame("req_a", 3600)).await;
    conn.expect_accepted("req_a").await;
    conn.send(send_frame("req_b", 3600)).await;
    conn.expect_accepted("req_b").await;

    conn.send(ServerFrame::Revoke { request_id: "req_a".into(), reason: "rerouted".into() }).await;
    eventually("req_a dropped", || state(&phone.store, "req_a").is_none()).await;
    conn.send(confirm("req_a")).await; // too late for the server too: nothing to send

    conn.send(confirm("req_b")).await;
    phone.transport.wait_calls(1).await;
    conn.send(ServerFrame::Revoke { request_id: "req_b".into(), reason: "canceled".into() }).await;
    conn.send(confirm("req_b")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    assert_eq!(phone.transport.sent_ids(), vec!["req_b"], "req_a never sent, req_b sent once");
    assert_eq!(state(&phone.store, "req_b"), Some(MessageState::HandedOver), "a handed-over message stays");
    let revoked: Vec<_> = phone
        .listener
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| matches!(e.kind, MessageEventKind::Revoked { .. }))
        .map(|e| e.request_id.clone())
        .collect();
    assert_eq!(revoked, vec!["req_a"]);
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_dropped_link_reconnects_lists_unconfirmed_and_replays_reports_at_once() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    // Repeats only after 30 s: anything seen sooner after the reconnect is the replay.
    let options = ClientOptions { report_retry_min_ms: 30_000, report_retry_max_ms: 60_000, ..fast_options() };
    let phone = start_phone(credentials(peer.url(), TOKEN, None), options);

    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    conn.send(send_frame("req_waiting", 3600)).await;
    conn.expect_accepted("req_waiting").await;
    conn.send(send_frame("req_sent", 3600)).await;
    conn.expect_accepted("req_sent").await;
    conn.send(confirm("req_sent")).await;
    phone.transport.wait_calls(1).await;
    phone.transport.sink("req_sent").report(TransportResult::Sent);
    assert_eq!(conn.expect_status().await.1, DeliveryStatus::Sent);
    drop(conn); // the link dies without a close frame and without the ack

    let mut conn = peer.next_connection().await;
    let hello = conn.handshake(unlimited()).await;
    assert_eq!(hello.unconfirmed, vec!["req_waiting"]);
    let started = std::time::Instant::now();
    assert_eq!(conn.expect_status().await, ("req_sent".into(), DeliveryStatus::Sent, None));
    assert!(started.elapsed() < Duration::from_secs(5), "replayed right after welcome, not after the backoff");
    conn.ack("req_sent", DeliveryStatus::Sent).await;

    conn.send(confirm("req_waiting")).await;
    phone.transport.wait_calls(2).await;
    assert_eq!(phone.transport.sent_ids(), vec!["req_sent", "req_waiting"]);
    eventually("report acknowledged", || phone.store.pending_reports().unwrap().is_empty()).await;
    assert!(
        phone.listener.states.lock().unwrap().iter().any(|s| matches!(s, ConnectionState::Disconnected { .. })),
        "the listener heard about the drop"
    );
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_burst_of_outcomes_reported_together_reaches_the_server_in_order() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    for id in ["req_a", "req_b"] {
        conn.send(send_frame(id, 3600)).await;
        conn.expect_accepted(id).await;
        conn.send(confirm(id)).await;
    }
    phone.transport.wait_calls(2).await;

    let failed = TransportResult::Failed { code: "no_service".into(), reason: "no service".into() };
    relay_core::report_all(&[
        (phone.transport.sink("req_a"), TransportResult::Sent),
        (phone.transport.sink("req_b"), failed),
        (phone.transport.sink("req_a"), TransportResult::Delivered),
        (phone.transport.sink("req_b"), TransportResult::Sent), // after b's final outcome: ignored
    ]);
    let mut seen = Vec::new();
    for _ in 0..3 {
        let (id, status, failure) = conn.expect_status().await;
        conn.ack(&id, status).await;
        seen.push((id, status, failure));
    }
    assert_eq!(
        seen,
        [
            ("req_a".to_owned(), DeliveryStatus::Sent, None),
            ("req_b".to_owned(), DeliveryStatus::Failed, Some("no_service".to_owned())),
            ("req_a".to_owned(), DeliveryStatus::Delivered, None),
        ]
    );
    assert_eq!(state(&phone.store, "req_a"), Some(MessageState::Finished));
    assert_eq!(state(&phone.store, "req_b"), Some(MessageState::Finished));
    eventually("reports acknowledged", || phone.store.pending_reports().unwrap().is_empty()).await;
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_report_lingers_and_the_reports_close_behind_it_go_out_with_it() {
    let linger = Duration::from_millis(400);
    let options = ClientOptions { report_linger_ms: 400, ..fast_options() };
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), options);
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    conn.send(send_frame("req_1", 3600)).await;
    conn.expect_accepted("req_1").await;
    conn.send(confirm("req_1")).await;
    phone.transport.wait_calls(1).await;

    let start = Instant::now();
    phone.transport.sink("req_1").report(TransportResult::Sent);
    tokio::time::sleep(Duration::from_millis(200)).await;
    phone.transport.sink("req_1").report(TransportResult::Delivered);
    assert_eq!(conn.expect_status().await, ("req_1".into(), DeliveryStatus::Sent, None));
    let first = start.elapsed();
    assert_eq!(conn.expect_status().await, ("req_1".into(), DeliveryStatus::Delivered, None));
    let second = start.elapsed();
    assert!(first >= linger, "the first report waits out the linger, went after {first:?}");
    // Alone, `delivered` would have waited a linger of its own: until 600 ms at the earliest.
    assert!(second < Duration::from_millis(600), "`delivered` went with `sent`, after {second:?}");
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_pinned_certificate_connects_and_any_other_is_refused() {
    let cert = TestCert::generate();
    let mut peer = ProtocolTestPeer::start(TOKEN, Some(&cert)).await;

    let good = start_phone(credentials(peer.url(), TOKEN, Some(cert.fingerprint.clone())), fast_options());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    good.listener.wait_state(|s| matches!(s, ConnectionState::Connected { .. })).await;
    good.handle.stop().await;

    let wrong_pin = "00".repeat(32);
    let bad = start_phone(credentials(peer.url(), TOKEN, Some(wrong_pin)), fast_options());
    let state = bad.listener.wait_state(|s| matches!(s, ConnectionState::Disconnected { .. })).await;
    let ConnectionState::Disconnected { reason } = state else { unreachable!() };
    assert!(reason.contains("TLS"), "refused during the TLS handshake: {reason}");
    // A self-signed certificate is not trusted without a pin either.
    let unpinned = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    unpinned.listener.wait_state(|s| matches!(s, ConnectionState::Disconnected { .. })).await;
    assert!(peer.connection_within(Duration::from_millis(500)).await.is_none(), "no WebSocket without the pin");
    assert!(!bad.listener.states.lock().unwrap().iter().any(|s| matches!(s, ConnectionState::Connected { .. })));
    bad.handle.stop().await;
    unpinned.handle.stop().await;
}

#[tokio::test]
async fn an_expired_message_is_reported_failed_and_never_sent() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    conn.send(send_frame("req_old", -5)).await;
    conn.expect_accepted("req_old").await;
    conn.send(confirm("req_old")).await;
    assert_eq!(
        conn.expect_status().await,
        ("req_old".into(), DeliveryStatus::Failed, Some(failure::EXPIRED.to_owned()))
    );
    assert!(phone.transport.calls().is_empty());
    assert_eq!(state(&phone.store, "req_old"), Some(MessageState::Finished));
    phone.handle.stop().await;
}

#[tokio::test]
async fn pacing_holds_back_parts_beyond_the_minute_budget() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    let mut conn = peer.next_connection().await;
    conn.handshake(Pacing { parts_per_minute: 2, parts_per_day: 100 }).await;
    for id in ["req_1", "req_2", "req_3"] {
        conn.send(send_frame(id, 3600)).await;
        conn.expect_accepted(id).await;
        conn.send(confirm(id)).await;
    }
    phone.transport.wait_calls(2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(phone.transport.sent_ids(), vec!["req_1", "req_2"], "the third part waits for the next minute");
    assert_eq!(state(&phone.store, "req_3"), Some(MessageState::Confirmed));
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_message_handed_over_before_a_restart_is_recovered_never_resent() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    let dir = tempfile::tempdir().unwrap();
    seed(dir.path(), &credentials(peer.url(), TOKEN, None));
    {
        // The previous run: stored, confirmed, handed over, then the process died.
        let store = Store::open_dir(dir.path()).unwrap();
        let relay_core::protocol::frames::ServerFrame::Send(msg) = send_frame("req_crash", 3600) else { panic!() };
        store.store_send(&msg, 0).unwrap();
        store.confirm("req_crash", 1).unwrap();
        assert!(store.hand_over(&["req_crash"], 2).unwrap()[0]);
    }
    let phone = start_in(dir, fast_options());
    let calls = phone.transport.wait_calls(1).await;
    assert!(
        matches!(&calls[..], [TransportCall::Recover(sms, None)] if sms.request_id == "req_crash"),
        "recovered, not sent: {calls:?}"
    );
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    conn.send(confirm("req_crash")).await; // a confirm lost in flight arrives again
    phone.transport.sink("req_crash").report(TransportResult::Delivered);
    assert_eq!(conn.expect_status().await, ("req_crash".into(), DeliveryStatus::Delivered, None));
    assert!(phone.transport.sent_ids().is_empty());
    phone.handle.stop().await;
}

#[tokio::test]
async fn a_refused_token_is_reported_and_retried() {
    let mut peer = ProtocolTestPeer::start("rd_other", None).await;
    let phone = start_phone(credentials(peer.url(), TOKEN, None), fast_options());
    phone.listener.wait_state(|s| *s == ConnectionState::Unauthorized).await;
    eventually("retried after a refusal", || peer.refused_upgrades() >= 2).await;
    assert!(peer.connection_within(Duration::from_millis(100)).await.is_none());
    phone.handle.stop().await;
}

#[tokio::test]
async fn several_server_urls_are_tried_in_turn() {
    let mut peer = ProtocolTestPeer::start(TOKEN, None).await;
    // A port with nobody listening: bind, note, close.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let options = ClientOptions {
        connect_urls: vec![format!("ws://127.0.0.1:{dead}/v1/device/connect"), peer.url()],
        ..fast_options()
    };
    let phone = start_phone(credentials("ws://unused.invalid/v1/device/connect".into(), TOKEN, None), options);
    let mut conn = peer.next_connection().await;
    conn.handshake(unlimited()).await;
    let connected = phone.listener.wait_state(|s| matches!(s, ConnectionState::Connected { .. })).await;
    assert_eq!(connected, ConnectionState::Connected { url: peer.url(), device_name: "Test phone".into() });
    assert!(matches!(&phone.listener.states.lock().unwrap()[..2], [
        ConnectionState::Connecting { url },
        ConnectionState::Disconnected { .. }
    ] if url.contains(&dead.to_string())));
    phone.handle.stop().await;
}

#[tokio::test]
async fn starting_twice_or_unpaired_is_a_typed_error() {
    let dir = tempfile::tempdir().unwrap();
    let client = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    let transport = Arc::new(RecordingTransport::default());
    assert_eq!(client.start(transport.clone(), None, None, fast_options()).unwrap_err(), RelayError::NotPaired);
    seed(dir.path(), &credentials("ws://127.0.0.1:9/v1/device/connect".into(), TOKEN, None));
    let handle = client.start(transport.clone(), None, None, fast_options()).unwrap();
    assert_eq!(client.start(transport.clone(), None, None, fast_options()).unwrap_err(), RelayError::AlreadyRunning);
    handle.stop().await;
    client.start(transport, None, None, fast_options()).unwrap().stop().await;
}

fn device() -> DeviceInfo {
    DeviceInfo {
        name: "Front desk".into(),
        model: Some("Pixel 8".into()),
        app_version: Some("0.1.0".into()),
        sims: vec![],
    }
}

fn pair_ok() -> serde_json::Value {
    serde_json::json!({"ok": true, "device_id": "dev_01", "device_name": "Front desk",
        "device_token": "rd_secret", "connect_url": "ws://localhost:1/v1/device/connect"})
}

#[tokio::test]
async fn pairing_posts_the_code_and_stores_the_credentials() {
    let server = PairingTestServer::start(hyper::StatusCode::OK, pair_ok(), None).await;
    let dir = tempfile::tempdir().unwrap();
    let client = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    let payload = format!("relay://pair?server={}&code=K7D2-9QXM", urlencode(&server.base_url()));
    let creds = client.pair(payload, device()).await.unwrap();
    assert_eq!((creds.device_id.as_str(), creds.device_token.as_str()), ("dev_01", "rd_secret"));
    assert_eq!(creds.server_url, server.base_url());
    let sent = server.requests.lock().unwrap().clone();
    assert_eq!(sent.len(), 1);
    assert_eq!((sent[0].code.as_str(), sent[0].name.as_str()), ("K7D2-9QXM", "Front desk"));
    // Durable: a fresh open of the same directory finds them.
    drop(client);
    let reopened = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    assert_eq!(reopened.credentials().unwrap(), Some(creds));
}

#[tokio::test]
async fn pairing_refusals_carry_the_servers_code_and_message() {
    let envelope =
        serde_json::json!({"ok": false, "error": {"code": "unauthorized", "message": "The code is not valid."}});
    let server = PairingTestServer::start(hyper::StatusCode::UNAUTHORIZED, envelope, None).await;
    let dir = tempfile::tempdir().unwrap();
    let client = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    let payload = format!("relay://pair?server={}&code=WRONG", urlencode(&server.base_url()));
    let err = client.pair(payload, device()).await.unwrap_err();
    assert_eq!(
        err,
        RelayError::PairingRefused {
            status: 401,
            code: "unauthorized".into(),
            detail: "The code is not valid.".into()
        }
    );
    assert_eq!(client.credentials().unwrap(), None);
    let err = client.pair("relay://pair?code=1".into(), device()).await.unwrap_err();
    assert!(matches!(err, RelayError::InvalidPayload { .. }), "{err:?}");
}

#[tokio::test]
async fn pairing_over_tls_uses_the_pin_from_the_payload() {
    let cert = TestCert::generate();
    let server = PairingTestServer::start(hyper::StatusCode::OK, pair_ok(), Some(&cert)).await;
    let dir = tempfile::tempdir().unwrap();
    let client = RelayClient::open(dir.path().to_string_lossy().into_owned()).unwrap();
    let base = urlencode(&server.base_url());
    let wrong = format!("relay://pair?server={base}&code=K7D2&fp={}", "ab".repeat(32));
    assert!(matches!(client.pair(wrong, device()).await.unwrap_err(), RelayError::Network { .. }));
    assert!(server.requests.lock().unwrap().is_empty(), "nothing reaches a server with the wrong certificate");
    let right = format!("relay://pair?server={base}&code=K7D2&fp={}", cert.fingerprint);
    let creds = client.pair(right, device()).await.unwrap();
    assert_eq!(creds.fingerprint, Some(cert.fingerprint.clone()));
}

fn urlencode(s: &str) -> String {
    s.replace(':', "%3A").replace('/', "%2F")
}
