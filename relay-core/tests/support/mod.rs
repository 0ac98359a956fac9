//! Test-only parts shared by the integration tests.
//!
//! `ProtocolTestPeer` is a PROTOCOL TEST PEER, not the Relay server: a loopback WebSocket
//! endpoint that speaks the frames of `relay-protocol` and lets a test script the server's
//! side of the exchange (the real server is developed separately). `PairingTestServer` answers
//! `POST /v1/device/pair` the same way.

// `result_large_err`: the handshake callback signature is tungstenite's.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::result_large_err)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use relay_core::protocol::frames::DeliveryStatus;
use relay_core::protocol::frames::{DeviceFrame, Hello, Pacing, SendMessage, ServerFrame, Welcome};
use relay_core::protocol::pairing::PairRequest;
use relay_core::store::Store;
use relay_core::{ConnectionState, Credentials, MessageEvent, OutgoingSms, RelayListener, SmsTransport, StatusSink};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request as WsRequest, Response as WsResponse};

/// Longest any single expected event may take before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A self-signed certificate for `localhost`, for TLS tests.
pub struct TestCert {
    pub der: CertificateDer<'static>,
    pub key: PrivatePkcs8KeyDer<'static>,
    pub fingerprint: String,
}

impl TestCert {
    pub fn generate() -> Self {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let der = cert.cert.der().clone();
        let key = PrivatePkcs8KeyDer::from(cert.signing_key.serialize_der());
        let fingerprint = relay_core::tls::fingerprint_of(der.as_ref());
        TestCert { der, key, fingerprint }
    }

    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![self.der.clone()], PrivateKeyDer::Pkcs8(self.key.clone_key()))
            .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(config))
    }
}

async fn accept_io(listener: &TcpListener, tls: Option<&tokio_rustls::TlsAcceptor>) -> Option<Box<dyn Io>> {
    let (tcp, _) = listener.accept().await.ok()?;
    match tls {
        None => Some(Box::new(tcp)),
        // A refused handshake (wrong pin) simply yields no connection.
        Some(acceptor) => acceptor.accept(tcp).await.ok().map(|s| Box::new(s) as Box<dyn Io>),
    }
}

/// PROTOCOL TEST PEER: plays the server's side of the device link on loopback.
pub struct ProtocolTestPeer {
    pub port: u16,
    secure: bool,
    connections: mpsc::UnboundedReceiver<PeerConn>,
    refused: Arc<Mutex<u32>>,
}

impl ProtocolTestPeer {
    /// Accepts WebSocket upgrades whose `Authorization` is `Bearer <token>`; others get 401.
    pub async fn start(token: &str, cert: Option<&TestCert>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = cert.map(TestCert::acceptor);
        let (tx, connections) = mpsc::unbounded_channel();
        let refused = Arc::new(Mutex::new(0));
        let expected = format!("Bearer {token}");
        let refused_count = refused.clone();
        tokio::spawn(async move {
            loop {
                let Some(io) = accept_io(&listener, acceptor.as_ref()).await else { continue };
                let expected = expected.clone();
                let tx = tx.clone();
                let refused_count = refused_count.clone();
                tokio::spawn(async move {
                    let mut authorization = None;
                    let check = |req: &WsRequest, resp: WsResponse| -> Result<WsResponse, ErrorResponse> {
                        let auth = req.headers().get("authorization").and_then(|v| v.to_str().ok()).map(str::to_owned);
                        authorization = auth.clone();
                        if auth.as_deref() == Some(expected.as_str()) && req.uri().path() == "/v1/device/connect" {
                            Ok(resp)
                        } else {
                            let mut refusal = ErrorResponse::new(Some("unauthorized".to_owned()));
                            *refusal.status_mut() = StatusCode::UNAUTHORIZED;
                            Err(refusal)
                        }
                    };
                    match tokio_tungstenite::accept_hdr_async(io, check).await {
                        Ok(ws) => {
                            let _ = tx.send(PeerConn { ws, authorization });
                        }
                        Err(_) => *refused_count.lock().unwrap() += 1,
                    }
                });
            }
        });
        ProtocolTestPeer { port, secure: cert.is_some(), connections, refused }
    }

    pub fn url(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        format!("{scheme}://localhost:{}/v1/device/connect", self.port)
    }

    pub async fn next_connection(&mut self) -> PeerConn {
        tokio::time::timeout(PATIENCE, self.connections.recv()).await.expect("no connection in time").unwrap()
    }

    /// A connection arriving within `wait`, if any.
    pub async fn connection_within(&mut self, wait: Duration) -> Option<PeerConn> {
        tokio::time::timeout(wait, self.connections.recv()).await.ok().flatten()
    }

    pub fn refused_upgrades(&self) -> u32 {
        *self.refused.lock().unwrap()
    }
}

pub struct PeerConn {
    ws: WebSocketStream<Box<dyn Io>>,
    pub authorization: Option<String>,
}

impl PeerConn {
    /// The next frame, heartbeats included.
    pub async fn recv_any(&mut self) -> DeviceFrame {
        self.try_recv_any(PATIENCE).await.expect("no frame from the phone in time")
    }

    pub async fn try_recv_any(&mut self, wait: Duration) -> Option<DeviceFrame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let msg = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()??.ok()?;
            if let Message::Text(text) = msg {
                return Some(serde_json::from_str(&text).expect("the phone sent a frame we cannot read"));
            }
        }
    }

    /// The next frame that is not a heartbeat.
    pub async fn recv(&mut self) -> DeviceFrame {
        self.try_recv(PATIENCE).await.expect("no frame from the phone in time")
    }

    pub async fn try_recv(&mut self, wait: Duration) -> Option<DeviceFrame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.try_recv_any(left).await? {
                DeviceFrame::Heartbeat(_) => continue,
                other => return Some(other),
            }
        }
    }

    pub async fn send(&mut self, frame: ServerFrame) {
        self.ws.send(Message::Text(serde_json::to_string(&frame).unwrap().into())).await.unwrap();
    }

    pub async fn expect_hello(&mut self) -> Hello {
        match self.recv_any().await {
            DeviceFrame::Hello(h) => h,
            other => panic!("expected hello, got {other:?}"),
        }
    }

    /// Reads `hello` and answers `welcome`.
    pub async fn handshake(&mut self, pacing: Pacing) -> Hello {
        let hello = self.expect_hello().await;
        self.send(welcome(pacing)).await;
        hello
    }

    pub async fn expect_accepted(&mut self, request_id: &str) {
        assert_eq!(self.recv().await, DeviceFrame::Accepted { request_id: request_id.to_owned() });
    }

    /// The next status frame, as (request_id, status, failure code).
    pub async fn expect_status(&mut self) -> (String, DeliveryStatus, Option<String>) {
        match self.recv().await {
            DeviceFrame::Status(s) => (s.request_id, s.status, s.failure.map(|f| f.code)),
            other => panic!("expected status, got {other:?}"),
        }
    }

    pub async fn ack(&mut self, request_id: &str, status: DeliveryStatus) {
        self.send(ServerFrame::StatusAck { request_id: request_id.to_owned(), status }).await;
    }

    pub async fn close(mut self) {
        let _ = self.ws.close(None).await;
    }
}

pub fn welcome(pacing: Pacing) -> ServerFrame {
    ServerFrame::Welcome(Welcome {
        version: 1,
        device_id: "dev_test".into(),
        device_name: "Test phone".into(),
        heartbeat_interval_secs: 30,
        pacing,
        window: 10,
    })
}

pub fn unlimited() -> Pacing {
    Pacing { parts_per_minute: 0, parts_per_day: 0 }
}

pub fn send_frame(request_id: &str, expires_in_secs: i64) -> ServerFrame {
    let expires_at = (chrono::Utc::now() + chrono::Duration::seconds(expires_in_secs)).to_rfc3339();
    ServerFrame::Send(SendMessage {
        request_id: request_id.to_owned(),
        to: "+923001234567".to_owned(),
        body: format!("Hello from {request_id}"),
        sim: None,
        parts: 1,
        expires_at,
    })
}

pub fn confirm(request_id: &str) -> ServerFrame {
    ServerFrame::Confirm { request_id: request_id.to_owned() }
}

pub fn credentials(connect_url: String, token: &str, fingerprint: Option<String>) -> Credentials {
    Credentials {
        server_url: "http://localhost".to_owned(),
        device_id: "dev_test".to_owned(),
        device_name: "Test phone".to_owned(),
        device_token: token.to_owned(),
        connect_url,
        fingerprint,
    }
}

/// Writes credentials into a data directory, as a finished pairing would.
pub fn seed(dir: &std::path::Path, creds: &Credentials) {
    Store::open_dir(dir).unwrap().save_credentials(creds).unwrap();
}

/// What a transport call looked like.
#[derive(Debug, Clone)]
pub enum TransportCall {
    Send(OutgoingSms),
    Recover(OutgoingSms, Option<DeliveryStatus>),
}

/// A transport that records calls and keeps each message's sink so the test decides when
/// (and from which thread) outcomes arrive.
#[derive(Default)]
pub struct RecordingTransport {
    calls: Mutex<Vec<TransportCall>>,
    sinks: Mutex<HashMap<String, Arc<StatusSink>>>,
    notify: tokio::sync::Notify,
}

impl RecordingTransport {
    pub fn calls(&self) -> Vec<TransportCall> {
        self.calls.lock().unwrap().clone()
    }

    pub fn sent_ids(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                TransportCall::Send(s) => Some(s.request_id),
                TransportCall::Recover(..) => None,
            })
            .collect()
    }

    /// Waits until the transport has seen `n` calls.
    pub async fn wait_calls(&self, n: usize) -> Vec<TransportCall> {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let notified = self.notify.notified();
            let calls = self.calls();
            if calls.len() >= n {
                return calls;
            }
            tokio::time::timeout_at(deadline, notified).await.expect("transport not called in time");
        }
    }

    pub fn sink(&self, request_id: &str) -> Arc<StatusSink> {
        self.sinks.lock().unwrap().get(request_id).cloned().expect("no sink for that message")
    }

    fn record(&self, call: TransportCall, sink: Arc<StatusSink>) {
        let id = match &call {
            TransportCall::Send(s) | TransportCall::Recover(s, _) => s.request_id.clone(),
        };
        self.sinks.lock().unwrap().insert(id, sink);
        self.calls.lock().unwrap().push(call);
        self.notify.notify_waiters();
    }
}

impl SmsTransport for RecordingTransport {
    fn send(&self, sms: OutgoingSms, sink: Arc<StatusSink>) {
        self.record(TransportCall::Send(sms), sink);
    }

    fn recover(&self, sms: OutgoingSms, last_reported: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        self.record(TransportCall::Recover(sms, last_reported), sink);
    }
}

/// Collects listener callbacks.
#[derive(Default)]
pub struct RecordingListener {
    pub states: Mutex<Vec<ConnectionState>>,
    pub events: Mutex<Vec<MessageEvent>>,
}

impl RecordingListener {
    pub async fn wait_state(&self, pred: impl Fn(&ConnectionState) -> bool) -> ConnectionState {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if let Some(s) = self.states.lock().unwrap().iter().find(|s| pred(s)) {
                return s.clone();
            }
            assert!(tokio::time::Instant::now() < deadline, "state never seen; got {:?}", self.states.lock().unwrap());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl RelayListener for RecordingListener {
    fn on_connection_state(&self, state: ConnectionState) {
        self.states.lock().unwrap().push(state);
    }

    fn on_message_event(&self, event: MessageEvent) {
        self.events.lock().unwrap().push(event);
    }
}

/// Polls `check` until it holds (or fails the test after PATIENCE).
pub async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "never happened: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Answers `POST /v1/device/pair` with a fixed status and body, and records the requests.
pub struct PairingTestServer {
    pub port: u16,
    secure: bool,
    pub requests: Arc<Mutex<Vec<PairRequest>>>,
}

impl PairingTestServer {
    pub async fn start(status: StatusCode, body: serde_json::Value, cert: Option<&TestCert>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let acceptor = cert.map(TestCert::acceptor);
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let body = Bytes::from(body.to_string());
        tokio::spawn(async move {
            loop {
                let Some(io) = accept_io(&listener, acceptor.as_ref()).await else { continue };
                let seen = seen.clone();
                let body = body.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let seen = seen.clone();
                    let body = body.clone();
                    async move {
                        let path_ok = req.method() == hyper::Method::POST && req.uri().path() == "/v1/device/pair";
                        let bytes = req.into_body().collect().await.unwrap().to_bytes();
                        let parsed: Result<PairRequest, _> = serde_json::from_slice(&bytes);
                        let (status, body) = match (path_ok, parsed) {
                            (true, Ok(p)) => {
                                seen.lock().unwrap().push(p);
                                (status, body)
                            }
                            _ => (StatusCode::BAD_REQUEST, Bytes::from_static(b"{}")),
                        };
                        let mut response = Response::new(Full::new(body));
                        *response.status_mut() = status;
                        Ok::<_, Infallible>(response)
                    }
                });
                tokio::spawn(async move {
                    let _ =
                        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(io), service).await;
                });
            }
        });
        PairingTestServer { port, secure: cert.is_some(), requests }
    }

    pub fn base_url(&self) -> String {
        let scheme = if self.secure { "https" } else { "http" };
        format!("{scheme}://localhost:{}", self.port)
    }
}
