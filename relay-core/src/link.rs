//! The WebSocket link to the server: connect, `hello`/`welcome`, then answer frames, send
//! heartbeats and repeat status reports until acknowledged. Reconnects forever (exponential
//! backoff with jitter, trying each server URL in turn) until told to stop.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use relay_protocol::frames::{
    DeliveryStatus, DeviceFrame, Heartbeat, Hello, SUPPORTED_VERSIONS, SendMessage, ServerFrame, StatusReport, Welcome,
};
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};
use tokio_tungstenite::tungstenite::{self, Message};
use url::Url;

use crate::backoff::{Backoff, report_retry_delay};
use crate::clock;
use crate::events::{ConnectionState, MessageEventKind};
use crate::net::{self, BoxedIo, NetError};
use crate::pacing::{DAY_MS, MINUTE_MS};
use crate::shared::{Shared, stopped};
use crate::store::{ConfirmOutcome, RevokeOutcome, SendOutcome, StoreError};

type Ws = WebSocketStream<BoxedIo>;

/// Without a heartbeat interval in `welcome`, the protocol's default.
const DEFAULT_HEARTBEAT_SECS: u32 = 30;
/// The server counts as gone after this many heartbeat intervals without a byte from it
/// (our pings must be answered with pongs, RFC 6455 §5.5.2).
const SILENT_INTERVALS: u32 = 3;
/// Reports sent per outbox pass; the rest follow on the next pass.
const REPORT_BATCH: u32 = 100;
/// Frames handled together at most (see [`drain_burst`]).
const MAX_BURST: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("the server refused the device token (401)")]
    Unauthorized,
    #[error("the WebSocket handshake failed: {0}")]
    Handshake(tungstenite::Error),
    #[error("the WebSocket failed: {0}")]
    Ws(#[from] tungstenite::Error),
    #[error("the server sent error {code}: {message}")]
    Refused { code: String, message: String },
    #[error("no welcome from the server in time")]
    WelcomeTimeout,
    #[error("the server closed the link")]
    Closed,
    #[error("the server went silent")]
    Silent,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot encode a frame: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("the device token cannot be sent as a header")]
    BadToken,
}

enum SessionEnd {
    Stopped,
}

/// Runs the link until `stop`.
pub(crate) async fn run(
    shared: Arc<Shared>,
    urls: Vec<Url>,
    tls: Arc<rustls::ClientConfig>,
    mut stop: watch::Receiver<bool>,
) {
    let opts = &shared.options;
    let mut backoff =
        Backoff::new(Duration::from_millis(opts.reconnect_min_ms), Duration::from_millis(opts.reconnect_max_ms));
    let mut index = 0usize;
    while !*stop.borrow() && !urls.is_empty() {
        let url = &urls[index % urls.len()];
        shared.events.state(ConnectionState::Connecting { url: url.to_string() });
        let mut welcomed = false;
        let result = session(&shared, url, &tls, &mut stop, &mut welcomed).await;
        let reason = match result {
            Ok(SessionEnd::Stopped) => break,
            Err(LinkError::Unauthorized) => {
                shared.events.state(ConnectionState::Unauthorized);
                "the server refused the device token".to_owned()
            }
            Err(e) => e.to_string(),
        };
        tracing::warn!(url = %url, %reason, "link down");
        shared.events.state(ConnectionState::Disconnected { reason });
        if welcomed {
            // It worked a moment ago: come back quickly, to the same server.
            backoff.reset();
        } else {
            index += 1;
        }
        let delay = backoff.next_delay();
        tracing::debug!(delay_ms = delay.as_millis(), "reconnecting after a pause");
        tokio::select! {
            _ = stopped(&mut stop) => break,
            _ = tokio::time::sleep(delay) => {}
        }
    }
    shared.events.state(ConnectionState::Stopped);
}

async fn open(url: &Url, token: &str, tls: &Arc<rustls::ClientConfig>) -> Result<Ws, LinkError> {
    let io = net::connect(url, tls).await?;
    let mut request = url.as_str().into_client_request().map_err(LinkError::Handshake)?;
    let bearer = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| LinkError::BadToken)?;
    request.headers_mut().insert(header::AUTHORIZATION, bearer);
    match tokio_tungstenite::client_async(request, io).await {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::Error::Http(response)) if response.status() == StatusCode::UNAUTHORIZED => {
            Err(LinkError::Unauthorized)
        }
        Err(e) => Err(LinkError::Handshake(e)),
    }
}

/// One connection, from connect to close. `welcomed` tells the caller it got that far.
async fn session(
    shared: &Shared,
    url: &Url,
    tls: &Arc<rustls::ClientConfig>,
    stop: &mut watch::Receiver<bool>,
    welcomed: &mut bool,
) -> Result<SessionEnd, LinkError> {
    let mut ws = tokio::select! {
        _ = stopped(stop) => return Ok(SessionEnd::Stopped),
        ws = open(url, &shared.credentials.device_token, tls) => ws?,
    };
    let hello = Hello {
        versions: SUPPORTED_VERSIONS.to_vec(),
        app_version: shared.options.app_version.clone(),
        unconfirmed: shared.store.unconfirmed()?,
    };
    tracing::info!(url = %url, unconfirmed = hello.unconfirmed.len(), "connected; saying hello");
    send_frame(&mut ws, &DeviceFrame::Hello(hello)).await?;
    let welcome = tokio::select! {
        _ = stopped(stop) => return close(ws).await,
        w = tokio::time::timeout(Duration::from_millis(shared.options.welcome_timeout_ms), await_welcome(&mut ws)) => {
            w.map_err(|_| LinkError::WelcomeTimeout)??
        }
    };
    *welcomed = true;
    on_welcome(shared, url, &welcome)?;
    serve(shared, ws, &welcome, stop).await
}

async fn await_welcome(ws: &mut Ws) -> Result<Welcome, LinkError> {
    while let Some(message) = ws.next().await {
        let Message::Text(text) = message? else { continue };
        match serde_json::from_str::<ServerFrame>(&text) {
            Ok(ServerFrame::Welcome(w)) => return Ok(w),
            Ok(ServerFrame::Error { code, message }) => return Err(LinkError::Refused { code, message }),
            Ok(other) => tracing::warn!(?other, "frame before welcome ignored"),
            Err(e) => tracing::warn!(error = %e, "unreadable frame before welcome ignored"),
        }
    }
    Err(LinkError::Closed)
}

fn on_welcome(shared: &Shared, url: &Url, welcome: &Welcome) -> Result<(), LinkError> {
    tracing::info!(
        version = welcome.version,
        device_id = %welcome.device_id,
        heartbeat_secs = welcome.heartbeat_interval_secs,
        parts_per_minute = welcome.pacing.parts_per_minute,
        parts_per_day = welcome.pacing.parts_per_day,
        window = welcome.window,
        "welcomed"
    );
    shared.set_pacing(welcome.pacing);
    // Every waiting report goes out again right after a reconnect.
    shared.store.retry_reports_now(clock::now_ms())?;
    shared.events.state(ConnectionState::Connected { url: url.to_string(), device_name: welcome.device_name.clone() });
    Ok(())
}

/// The welcomed link: frames in, heartbeats and reports out.
async fn serve(
    shared: &Shared,
    mut ws: Ws,
    welcome: &Welcome,
    stop: &mut watch::Receiver<bool>,
) -> Result<SessionEnd, LinkError> {
    let secs =
        if welcome.heartbeat_interval_secs == 0 { DEFAULT_HEARTBEAT_SECS } else { welcome.heartbeat_interval_secs };
    let interval = Duration::from_secs(u64::from(secs));
    let mut heartbeat = tokio::time::interval(interval);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let linger = Duration::from_millis(shared.options.report_linger_ms);
    // Set when a new report is waiting out the linger; the outbox is not read meanwhile.
    let mut lingering: Option<Instant> = None;
    loop {
        let report_due = match lingering {
            Some(until) => until,
            None => next_report_instant(shared)?,
        };
        tokio::select! {
            _ = stopped(stop) => return close(ws).await,
            message = ws.next() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(Message::Text(text))) => {
                        let (texts, next) = drain_burst(&mut ws, text);
                        handle_burst(shared, &mut ws, welcome, &texts).await?;
                        match next {
                            Some(Ok(Message::Close(frame))) => {
                                tracing::info!(?frame, "server closed the link");
                                return Err(LinkError::Closed);
                            }
                            Some(Ok(Message::Ping(_))) => ws.flush().await?,
                            Some(Ok(_)) => {}
                            Some(Err(e)) => return Err(e.into()),
                            None => {}
                        }
                    }
                    // tungstenite queues the pong; flushing sends it now.
                    Some(Ok(Message::Ping(_))) => ws.flush().await?,
                    Some(Ok(Message::Close(frame))) => {
                        tracing::info!(?frame, "server closed the link");
                        return Err(LinkError::Closed);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => return Err(e.into()),
                    None => return Err(LinkError::Closed),
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > interval * SILENT_INTERVALS {
                    return Err(LinkError::Silent);
                }
                send_frame(&mut ws, &DeviceFrame::Heartbeat(heartbeat_frame(shared)?)).await?;
                ws.send(Message::Ping(Default::default())).await?;
            }
            _ = shared.outbox_wake().notified() => {
                lingering.get_or_insert_with(|| Instant::now() + linger);
            }
            _ = tokio::time::sleep_until(report_due) => {
                lingering = None;
                flush_reports(shared, &mut ws).await?;
            }
        }
    }
}

/// When the next waiting report falls due (far away if none waits).
fn next_report_instant(shared: &Shared) -> Result<Instant, LinkError> {
    let far = Instant::now() + Duration::from_secs(3600);
    Ok(match shared.store.next_report_due()? {
        Some(due_ms) => {
            let wait = u64::try_from(due_ms - clock::now_ms()).unwrap_or(0);
            Instant::now() + Duration::from_millis(wait)
        }
        None => far,
    })
}

async fn close(mut ws: Ws) -> Result<SessionEnd, LinkError> {
    // A polite close; the server might be gone already, which is fine when stopping.
    if let Err(e) = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await.unwrap_or(Ok(())) {
        tracing::debug!(error = %e, "close frame not delivered");
    }
    Ok(SessionEnd::Stopped)
}

async fn send_frame(ws: &mut Ws, frame: &DeviceFrame) -> Result<(), LinkError> {
    let text = serde_json::to_string(frame)?;
    ws.send(Message::Text(text.into())).await?;
    Ok(())
}

/// Text frames that have already arrived behind `first`, up to [`MAX_BURST`]: under load the
/// server streams `send`s, and storing a burst costs one fsync instead of one each. Also
/// returns the first non-text message met, to be handled after the burst.
fn drain_burst(
    ws: &mut Ws,
    first: tungstenite::Utf8Bytes,
) -> (Vec<tungstenite::Utf8Bytes>, Option<Result<Message, tungstenite::Error>>) {
    use futures_util::FutureExt;
    let mut texts = vec![first];
    while texts.len() < MAX_BURST {
        match ws.next().now_or_never() {
            Some(Some(Ok(Message::Text(text)))) => texts.push(text),
            Some(Some(other)) => return (texts, Some(other)),
            Some(None) => return (texts, Some(Err(tungstenite::Error::ConnectionClosed))),
            None => break,
        }
    }
    (texts, None)
}

/// Handles a burst of frames in order; consecutive `send`s and `confirm`s are each stored in
/// one transaction, and the burst's `status_ack`s in one more (they touch only the outbox, so
/// their order against the other frames does not matter).
async fn handle_burst(
    shared: &Shared,
    ws: &mut Ws,
    welcome: &Welcome,
    texts: &[tungstenite::Utf8Bytes],
) -> Result<(), LinkError> {
    let mut sends = Vec::new();
    let mut confirms = Vec::new();
    let mut acks = Vec::new();
    for text in texts {
        let frame = match serde_json::from_str::<ServerFrame>(text) {
            Ok(frame) => frame,
            Err(e) => {
                // A newer server may know frames we do not; the protocol says to ignore them.
                tracing::warn!(error = %e, "unreadable frame ignored");
                continue;
            }
        };
        match frame {
            ServerFrame::Send(msg) => {
                on_confirms(shared, &std::mem::take(&mut confirms))?;
                sends.push(msg);
            }
            ServerFrame::Confirm { request_id } => {
                on_sends(shared, ws, welcome, &std::mem::take(&mut sends)).await?;
                confirms.push(request_id);
            }
            ServerFrame::StatusAck { request_id, status } => acks.push((request_id, status)),
            other => {
                on_sends(shared, ws, welcome, &std::mem::take(&mut sends)).await?;
                on_confirms(shared, &std::mem::take(&mut confirms))?;
                on_other(shared, other)?;
            }
        }
    }
    on_sends(shared, ws, welcome, &sends).await?;
    on_confirms(shared, &confirms)?;
    on_acks(shared, &acks)?;
    ws.flush().await?;
    Ok(())
}

/// `status_ack`s: the server has these reports; forget them.
fn on_acks(shared: &Shared, acks: &[(String, DeliveryStatus)]) -> Result<(), LinkError> {
    if acks.is_empty() {
        return Ok(());
    }
    let list: Vec<(&str, DeliveryStatus)> = acks.iter().map(|(id, status)| (id.as_str(), *status)).collect();
    for ((request_id, status), forgotten) in acks.iter().zip(shared.store.ack_reports(&list)?) {
        if forgotten {
            tracing::debug!(%request_id, ?status, "report acknowledged");
            shared.events.message(request_id, MessageEventKind::Acknowledged { status: *status });
        }
    }
    Ok(())
}

fn on_other(shared: &Shared, frame: ServerFrame) -> Result<(), LinkError> {
    match frame {
        ServerFrame::Send(_) | ServerFrame::Confirm { .. } | ServerFrame::StatusAck { .. } => Ok(()),
        ServerFrame::Revoke { request_id, reason } => on_revoke(shared, &request_id, reason),
        ServerFrame::Welcome(w) => {
            tracing::info!(pacing = ?w.pacing, "settings updated");
            shared.set_pacing(w.pacing);
            Ok(())
        }
        ServerFrame::Error { code, message } => Err(LinkError::Refused { code, message }),
    }
}

/// Store first, then `accepted`: the server may count on the phone holding them.
async fn on_sends(shared: &Shared, ws: &mut Ws, welcome: &Welcome, msgs: &[SendMessage]) -> Result<(), LinkError> {
    if msgs.is_empty() {
        return Ok(());
    }
    let outcomes = shared.store.store_sends(msgs, clock::now_ms())?;
    for (msg, outcome) in msgs.iter().zip(outcomes) {
        match outcome {
            SendOutcome::New => {
                tracing::info!(request_id = %msg.request_id, parts = msg.parts, "stored");
                shared.events.message(&msg.request_id, MessageEventKind::Stored);
            }
            SendOutcome::Duplicate(state) => tracing::info!(request_id = %msg.request_id, ?state, "repeated send"),
        }
        // Queued, not flushed: the burst goes out in one write.
        ws.feed(Message::Text(
            serde_json::to_string(&DeviceFrame::Accepted { request_id: msg.request_id.clone() })?.into(),
        ))
        .await?;
    }
    let waiting = shared.store.awaiting_confirm()?;
    if welcome.window != 0 && waiting > welcome.window {
        tracing::warn!(waiting, window = welcome.window, "the server sent more than its window");
    }
    Ok(())
}

fn on_confirms(shared: &Shared, request_ids: &[String]) -> Result<(), LinkError> {
    if request_ids.is_empty() {
        return Ok(());
    }
    let ids: Vec<&str> = request_ids.iter().map(String::as_str).collect();
    for (request_id, outcome) in ids.iter().zip(shared.store.confirm_all(&ids, clock::now_ms())?) {
        match outcome {
            ConfirmOutcome::Confirmed => {
                tracing::info!(%request_id, "confirmed");
                shared.events.message(request_id, MessageEventKind::Confirmed);
            }
            ConfirmOutcome::AlreadyPast(state) => tracing::debug!(%request_id, ?state, "repeated confirm ignored"),
            ConfirmOutcome::Unknown => tracing::warn!(%request_id, "confirm for a message this phone does not hold"),
        }
    }
    shared.dispatch_wake.notify_one();
    Ok(())
}

fn on_revoke(shared: &Shared, request_id: &str, reason: String) -> Result<(), LinkError> {
    match shared.store.revoke(request_id)? {
        RevokeOutcome::Dropped => {
            tracing::info!(%request_id, %reason, "revoked");
            shared.events.message(request_id, MessageEventKind::Revoked { reason });
        }
        RevokeOutcome::TooLate(state) => {
            tracing::warn!(%request_id, ?state, %reason, "revoke too late: the transport already has it")
        }
        RevokeOutcome::Unknown => tracing::debug!(%request_id, "revoke for an unknown message"),
    }
    Ok(())
}

/// Sends every due report once (one write for all) and schedules its repeat (doubling) until
/// `status_ack`, the attempts recorded in one transaction.
async fn flush_reports(shared: &Shared, ws: &mut Ws) -> Result<(), LinkError> {
    let opts = &shared.options;
    let (min, max) = (Duration::from_millis(opts.report_retry_min_ms), Duration::from_millis(opts.report_retry_max_ms));
    let now = clock::now_ms();
    let due = shared.store.due_reports(now, REPORT_BATCH)?;
    if due.is_empty() {
        return Ok(());
    }
    let mut attempts = Vec::with_capacity(due.len());
    for report in due {
        tracing::debug!(request_id = %report.request_id, status = ?report.status, attempt = report.attempts + 1, "report sent");
        let delay = report_retry_delay(report.attempts, min, max);
        attempts.push((report.id, now + i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2)));
        let frame = DeviceFrame::Status(StatusReport {
            request_id: report.request_id,
            status: report.status,
            at: report.at,
            failure: report.failure,
        });
        ws.feed(Message::Text(serde_json::to_string(&frame)?.into())).await?;
    }
    ws.flush().await?;
    shared.store.reports_attempted(&attempts)?;
    Ok(())
}

fn heartbeat_frame(shared: &Shared) -> Result<Heartbeat, LinkError> {
    let health = shared.health.as_ref().map(|h| h.snapshot()).unwrap_or_default();
    let now = clock::now_ms();
    Ok(Heartbeat {
        battery_percent: health.battery_percent,
        charging: health.charging,
        signal_level: health.signal_level,
        network: health.network,
        sims: health.sims,
        queue_depth: shared.store.queue_depth()?,
        permissions: health.permissions,
        parts_sent_last_minute: shared.store.parts_since(now - MINUTE_MS)?,
        parts_sent_today: shared.store.parts_since(now - DAY_MS)?,
    })
}
