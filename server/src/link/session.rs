//! One phone's connection: the protocol of `docs/PROTOCOL.md`, frame by frame.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use relay_protocol::frames::{DeliveryStatus, DeviceFrame, Hello, ServerFrame, StatusReport, Welcome, negotiate};

use super::hub::Settled;
use super::{Hub, LinkSettings};
use crate::cluster;
use crate::db::{Db, StoreError};
use crate::devices::models::Device;
use crate::devices::queries as devices;
use crate::messages::models::Status;
use crate::messages::queries::{self as messages, Applied, Report};
use crate::webhooks::{self, EventType};

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);
/// Frames already read that join one batch at most; the rest wait for the next.
const MAX_BURST: usize = 256;

#[derive(Debug, thiserror::Error)]
enum SessionError {
    #[error("{0}")]
    Protocol(String),
    #[error("the connection closed")]
    Closed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct Ctx {
    hub: Arc<Hub>,
    db: Db,
    settings: LinkSettings,
    device: Device,
}

pub async fn run(
    hub: Arc<Hub>,
    db: Db,
    settings: LinkSettings,
    device: Device,
    mut session: Session,
    mut stream: AggregatedMessageStream,
) {
    let device_id = device.id.clone();
    let ctx = Ctx { hub, db, settings, device };
    let hello = match tokio::time::timeout(HELLO_TIMEOUT, next_frame(&mut session, &mut stream)).await {
        Ok(Ok(DeviceFrame::Hello(hello))) => hello,
        Ok(Ok(_)) => return refuse(session, "protocol_error", "The first frame must be hello.").await,
        Ok(Err(e)) => return refuse(session, "protocol_error", &e.to_string()).await,
        Err(_) => return refuse(session, "timeout", "No hello within 10 seconds.").await,
    };
    let Some(version) = negotiate(&hello.versions) else {
        return refuse(session, "unsupported_version", "None of the offered protocol versions is spoken here.").await;
    };
    let (conn_id, rx) = match start(&ctx, &mut session, &hello, version).await {
        Ok(v) => v,
        Err(e) => {
            tracing::warn!(%device_id, error = %e, "device session could not start");
            return refuse(session, "unavailable", "The server could not start the session; reconnect shortly.").await;
        }
    };
    tracing::info!(%device_id, version, "device connected");
    let ended = serve(&ctx, &mut session, &mut stream, rx).await;
    if let Err(e) = &ended {
        tracing::info!(%device_id, reason = %e, "device session ended");
    }
    let _ = session.close(None).await;
    finish(&ctx, conn_id).await;
}

/// Settles what the phone holds unconfirmed, re-queues what never reached it, goes online.
async fn start(
    ctx: &Ctx,
    session: &mut Session,
    hello: &Hello,
    version: u32,
) -> Result<(u64, tokio::sync::mpsc::UnboundedReceiver<Box<ServerFrame>>), SessionError> {
    let d = &ctx.device;
    send(
        session,
        &ServerFrame::Welcome(Welcome {
            version,
            device_id: d.id.clone(),
            device_name: d.name.clone(),
            heartbeat_interval_secs: u32::try_from(ctx.settings.heartbeat_interval.as_secs()).unwrap_or(30),
            pacing: d.pacing(),
            window: ctx.settings.window,
        }),
    )
    .await?;
    if !hello.unconfirmed.is_empty() {
        for frame in accept(ctx, hello.unconfirmed.clone()).await? {
            send(session, &frame).await?;
        }
    }
    // Registered before the device is held: from here on the cleanup of the phone's previous
    // connection (on its way out now if the phone reconnected at once) sees this one and
    // leaves the device online and held; it gets work once activated below.
    let (conn_id, rx) = ctx.hub.register(&d.id, &d.account_id, ctx.settings.window);
    match settle(ctx, hello).await {
        Ok(settled) => {
            ctx.hub.activate(&d.id, conn_id, settled);
            Ok((conn_id, rx))
        }
        Err(e) => {
            // As if it had connected and dropped: an older connection's cleanup may have left
            // the device to this one, and its unacknowledged messages must not wait on nobody.
            finish(ctx, conn_id).await;
            Err(e)
        }
    }
}

/// Holds the device for this instance and settles what its last connection left; what the
/// hub needs to give the new connection work.
async fn settle(ctx: &Ctx, hello: &Hello) -> Result<Settled, SessionError> {
    let d = &ctx.device;
    let (device_id, app_version) = (d.id.clone(), hello.app_version.clone());
    let (account_id, name) = (d.account_id.clone(), d.name.clone());
    let me = ctx.hub.instance().clone();
    let settled = ctx
        .db
        .write_for_device(&d.id, move |conn| -> Result<Settled, StoreError> {
            // Hold the device first: from here on no other instance's dispatcher claims for it
            // (its claim locks the device row and checks the holder), so what it handed to a
            // connection of this phone that is gone is settled by the re-queue below.
            devices::set_online(conn, &device_id, true, Some(&app_version))?;
            cluster::hold(conn, &device_id, &me)?;
            // Anything handed over that the phone does not hold never arrived: re-queue it.
            messages::requeue_unacknowledged(conn, &device_id, "not received by the device")?;
            webhooks::record(conn, &account_id, EventType::DeviceOnline, |_| {
                Ok(cluster::device_data(&device_id, &name, true))
            })?;
            // What the hub counts in flight: handed over, not yet reported sent or failed. A
            // `sent` message counted here would never be let go (its `delivered` does not
            // come from `dispatched`), and each reconnect would shrink the phone's room.
            let held = messages::unreported_count(conn, &device_id)?;
            let today = messages::parts_dispatched_today(conn, &device_id)?;
            // Read again: the row the phone authenticated with may predate an operator's
            // change, which found no link to apply to.
            let row = devices::get(conn, &device_id)?;
            Ok(Settled {
                in_flight: u32::try_from(held).unwrap_or(0),
                sent_today: u32::try_from(today).unwrap_or(u32::MAX),
                usable: row.usable(),
                pacing: row.pacing(),
            })
        })
        .await?;
    Ok(settled)
}

/// What stored frames are answered with, and which of the session's batches they were.
struct Stored {
    answers: Vec<ServerFrame>,
    batch: Batch,
}

/// A phone's `accepted` frames and its status frames are stored in batches of their own, one
/// batch of each kind at a time (see [`serve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    /// A heartbeat, stored at once: no batch.
    None,
    Accepted,
    Reports,
}

/// Frames' answers, computed by the writer while the session goes on reading.
type Pending = Pin<Box<dyn Future<Output = Result<Stored, SessionError>> + Send>>;

/// The `accepted` and status frames that came while the previous batches were being stored.
#[derive(Default)]
struct Said {
    accepted: Vec<String>,
    reports: Vec<StatusReport>,
    /// `accepted` frames taken so far on this connection.
    accepted_seen: u64,
    /// How many of those came before the newest status frame waiting here.
    reports_follow: u64,
}

impl Said {
    fn accepted(&mut self, request_id: String) {
        self.accepted.push(request_id);
        self.accepted_seen += 1;
    }

    fn report(&mut self, report: StatusReport) {
        self.reports.push(report);
        self.reports_follow = self.accepted_seen;
    }
}

/// Which batches are being stored, and how far the acknowledgements got.
#[derive(Default)]
struct Storing {
    accepted: bool,
    reports: bool,
    /// `accepted` frames in the batches started so far, and in those committed.
    accepted_started: u64,
    accepted_stored: u64,
}

impl Storing {
    /// Starts the batches that may start. Status reports wait until every acknowledgement that
    /// came before them has been stored: a phone reports on a message only after its
    /// `confirm`, which follows the acknowledgement's commit, so this order is the phone's
    /// own; it keeps a report that came too early (from a phone breaking the protocol) from
    /// being applied before the acknowledgement it follows, and lost. Acknowledgements never
    /// wait for reports: their `confirm` is what the phone waits for before it sends. `all`
    /// starts everything, acknowledgements first (the connection is ending; a report that
    /// then finds its message unacknowledged was never answered, and the phone repeats it).
    fn start(&mut self, ctx: &Ctx, said: &mut Said, pending: &mut FuturesUnordered<Pending>, all: bool) {
        if !self.accepted && !said.accepted.is_empty() {
            pending.push(accept_batch(ctx, std::mem::take(&mut said.accepted)));
            self.accepted = true;
            self.accepted_started = said.accepted_seen;
        }
        let acknowledged = self.accepted_stored >= said.reports_follow;
        if !self.reports && (acknowledged || all) && !said.reports.is_empty() {
            pending.push(report_batch(ctx, std::mem::take(&mut said.reports)));
            self.reports = true;
        }
    }

    fn stored(&mut self, batch: Batch) {
        match batch {
            Batch::None => {}
            Batch::Accepted => {
                self.accepted = false;
                self.accepted_stored = self.accepted_started;
            }
            Batch::Reports => self.reports = false,
        }
    }
}

async fn serve(
    ctx: &Ctx,
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Box<ServerFrame>>,
) -> Result<(), SessionError> {
    let allowed_silence = ctx.settings.heartbeat_interval * 3;
    let mut last_heard = Instant::now();
    let mut check = tokio::time::interval(ctx.settings.heartbeat_interval.min(Duration::from_secs(5)));
    // Frames are not answered one at a time: they are handed to the group-commit writers at
    // once and answered when their transaction commits. A phone's `accepted` frames go as one
    // batch and its status frames as another; those that come while a batch of their kind is
    // being stored wait for it and go as the next, so a phone reporting a burst costs a few
    // statements per batch, not per frame, and a lone frame waits for nothing.
    let mut pending: FuturesUnordered<Pending> = FuturesUnordered::new();
    let mut said = Said::default();
    let mut storing = Storing::default();
    let mut ended = None;
    loop {
        storing.start(ctx, &mut said, &mut pending, ended.is_some());
        if let Some(e) = ended.take() {
            return Err(e);
        }
        tokio::select! {
            frame = next_frame(session, stream) => {
                last_heard = Instant::now();
                take(ctx, frame?, &mut said, &mut pending)?;
                // The frames that came in the same read join this batch: a phone's burst of
                // reports is stored in one transaction, not its first frame alone.
                for _ in 0..MAX_BURST {
                    match ready_frame(session, stream).await {
                        Ok(Some(frame)) => take(ctx, frame, &mut said, &mut pending)?,
                        Ok(None) => break,
                        // The frames before the end are still stored, as they would have
                        // been had the end come in a read of its own.
                        Err(e) => {
                            ended = Some(e);
                            break;
                        }
                    }
                }
            }
            Some(done) = pending.next(), if !pending.is_empty() => {
                let stored = done?;
                storing.stored(stored.batch);
                for answer in &stored.answers {
                    send(session, answer).await?;
                }
            }
            out = rx.recv() => match out {
                Some(frame) => send(session, &frame).await?,
                // Replaced by a newer connection of the same phone, or unpaired.
                None => return Err(SessionError::Protocol("the connection was replaced or revoked".into())),
            },
            _ = check.tick() => if last_heard.elapsed() > allowed_silence {
                return Err(SessionError::Protocol("three heartbeats missed".into()));
            }
        }
    }
}

/// Files one frame from the phone: a heartbeat is stored at once, the others join the batch.
fn take(
    ctx: &Ctx,
    frame: DeviceFrame,
    said: &mut Said,
    pending: &mut FuturesUnordered<Pending>,
) -> Result<(), SessionError> {
    match frame {
        DeviceFrame::Hello(_) => return Err(SessionError::Protocol("hello may only come first".into())),
        DeviceFrame::Heartbeat(hb) => pending.push(heartbeat(ctx, &hb)),
        DeviceFrame::Accepted { request_id } => said.accepted(request_id),
        DeviceFrame::Status(report) => said.report(report),
    }
    Ok(())
}

/// Starts storing a heartbeat's figures.
fn heartbeat(ctx: &Ctx, hb: &relay_protocol::frames::Heartbeat) -> Pending {
    let id = ctx.device.id.clone();
    let json = serde_json::to_string(hb).unwrap_or_default();
    let sims = serde_json::to_string(&hb.sims).unwrap_or_else(|_| "[]".into());
    let stored = ctx.db.write_for_device(&ctx.device.id, move |conn| {
        devices::store_heartbeat(conn, &id, &json, &sims).map_err(StoreError::from)
    });
    Box::pin(async move {
        stored.await?;
        Ok(Stored { answers: Vec::new(), batch: Batch::None })
    })
}

/// Starts storing a batch of `accepted` frames.
fn accept_batch(ctx: &Ctx, request_ids: Vec<String>) -> Pending {
    let confirmed = accept(ctx, request_ids);
    Box::pin(async move { Ok(Stored { answers: confirmed.await?, batch: Batch::Accepted }) })
}

/// Starts storing a batch of status frames.
fn report_batch(ctx: &Ctx, reports: Vec<StatusReport>) -> Pending {
    let acked = report_statuses(ctx, reports);
    Box::pin(async move { Ok(Stored { answers: acked.await?, batch: Batch::Reports }) })
}

/// `confirm` for each message that is still this phone's, else `revoke`.
fn accept(
    ctx: &Ctx,
    request_ids: Vec<String>,
) -> impl Future<Output = Result<Vec<ServerFrame>, SessionError>> + Send + 'static {
    let device_id = ctx.device.id.clone();
    // On the main writer, where the dispatcher claims, not the phone's intake writer (see
    // `Db::write_for_device`): a `confirm` is the last step between a claim and the SMS, and
    // the intake writers' transactions carry the sends and every phone's reports. The order
    // against this phone's other writes needs no common writer: nothing else it sends about a
    // message can come before the `confirm` this commit gives.
    let mine = ctx.db.write(move |conn| -> Result<_, StoreError> {
        let mine = messages::acknowledge(conn, &device_id, &request_ids)?;
        Ok((mine, request_ids))
    });
    async move {
        let (mine, request_ids) = mine.await?;
        Ok(request_ids
            .into_iter()
            .map(|request_id| {
                if mine.contains(&request_id) {
                    ServerFrame::Confirm { request_id }
                } else {
                    ServerFrame::Revoke { request_id, reason: "reassigned".into() }
                }
            })
            .collect())
    }
}

/// Applies the phone's status reports; a `status_ack` for each.
fn report_statuses(
    ctx: &Ctx,
    reports: Vec<StatusReport>,
) -> impl Future<Output = Result<Vec<ServerFrame>, SessionError>> + Send + 'static {
    let (device_id, threshold) = (ctx.device.id.clone(), ctx.settings.degrade_after);
    let account_id = ctx.device.account_id.clone();
    let applied = ctx.db.write_for_device(&ctx.device.id, move |conn| -> Result<_, StoreError> {
        let list: Vec<Report<'_>> = reports
            .iter()
            .map(|r| Report {
                id: &r.request_id,
                status: match r.status {
                    DeliveryStatus::Sent => Status::Sent,
                    DeliveryStatus::Delivered => Status::Delivered,
                    DeliveryStatus::Failed => Status::Failed,
                },
                failure: r.failure.as_ref().map(|f| (f.code.as_str(), f.reason.as_str())),
            })
            .collect();
        let applied = messages::apply_reports(conn, &device_id, &list)?;
        // In the same transaction as the reports, in their order: a failure streak and the
        // device's degradation are never recorded apart. A success resets the streak, so
        // consecutive successes need one reset.
        let (mut degraded, mut reset) = (false, false);
        for (a, report) in applied.iter().zip(&list) {
            // A phone that restarted mid-send cannot tell whether the message left: that says
            // nothing about its radio, so it neither counts toward the streak nor resets it.
            let unknown = report.failure.is_some_and(|(code, _)| code == relay_protocol::failure::OUTCOME_UNKNOWN);
            match a {
                Applied::Changed { to: Status::Failed, .. } if unknown => {}
                Applied::Changed { to: Status::Failed, .. } => {
                    degraded |= devices::record_outcome(conn, &device_id, true, threshold)?;
                    reset = false;
                }
                Applied::Changed { to: Status::Sent, .. } if !reset => {
                    devices::record_outcome(conn, &device_id, false, threshold)?;
                    reset = true;
                }
                _ => {}
            }
        }
        if degraded && devices::counts(conn, &account_id)?.usable == 0 {
            webhooks::record(conn, &account_id, EventType::QueueBlocked, |_| {
                Ok(serde_json::json!({
                    "reason": "no usable device: all are disabled or degraded",
                    "device_id": device_id,
                }))
            })?;
        }
        Ok((applied, degraded, reports))
    });
    let (hub, device_id) = (ctx.hub.clone(), ctx.device.id.clone());
    async move {
        let (applied, degraded, reports) = applied.await?;
        for a in &applied {
            if let Applied::Changed { to, from_dispatched } = a {
                crate::metrics::METRICS.reported(to.as_str());
                if *from_dispatched {
                    hub.finished(&device_id);
                }
            }
        }
        if degraded {
            tracing::warn!(%device_id, "device degraded: its last sends all failed");
            hub.set_usable(&device_id, false);
        }
        Ok(reports.into_iter().map(|r| ServerFrame::StatusAck { request_id: r.request_id, status: r.status }).collect())
    }
}

/// Goes offline and re-queues unacknowledged work, unless a newer connection took over.
async fn finish(ctx: &Ctx, conn_id: u64) {
    if !ctx.hub.unregister(&ctx.device.id, conn_id) && !ctx.hub.is_closing() {
        return;
    }
    let id = ctx.device.id.clone();
    let (account_id, name) = (ctx.device.account_id.clone(), ctx.device.name.clone());
    let me = ctx.hub.instance().clone();
    let hub = ctx.hub.clone();
    // The phone may have reconnected since this connection was unregistered: here (a newer
    // link is registered before it holds the device), or to another instance. Either way the
    // newer connection settles its messages and the device stays online.
    let result = ctx
        .db
        .write_for_device(&ctx.device.id, move |conn| {
            cluster::take_offline(conn, &id, &account_id, &name, &me, || hub.is_online(&id))
        })
        .await;
    match result {
        Ok(Some(n)) => tracing::info!(device_id = %ctx.device.id, requeued = n, "device offline"),
        Ok(None) => tracing::info!(device_id = %ctx.device.id, "device reconnected"),
        // The instance's beat finds the device still held here and takes it offline then.
        Err(e) => tracing::warn!(device_id = %ctx.device.id, error = %e, "could not record the device going offline"),
    }
    ctx.hub.wake();
}

async fn next_frame(session: &mut Session, stream: &mut AggregatedMessageStream) -> Result<DeviceFrame, SessionError> {
    loop {
        if let Some(frame) = read(session, stream.recv().await).await? {
            return Ok(frame);
        }
    }
}

/// The next frame if one has already arrived, without waiting for the network.
async fn ready_frame(
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
) -> Result<Option<DeviceFrame>, SessionError> {
    use futures_util::FutureExt;
    // Polling the stream once loses nothing when it is not ready: the next poll resumes it.
    while let Some(message) = stream.recv().now_or_never() {
        if let Some(frame) = read(session, message).await? {
            return Ok(Some(frame));
        }
    }
    Ok(None)
}

/// A protocol frame from one WebSocket message; pings are answered, pongs skipped.
async fn read(
    session: &mut Session,
    message: Option<Result<AggregatedMessage, actix_ws::ProtocolError>>,
) -> Result<Option<DeviceFrame>, SessionError> {
    match message {
        Some(Ok(AggregatedMessage::Text(text))) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SessionError::Protocol(format!("an unreadable frame: {e}"))),
        Some(Ok(AggregatedMessage::Ping(bytes))) => {
            session.pong(&bytes).await.map_err(|_| SessionError::Closed)?;
            Ok(None)
        }
        Some(Ok(AggregatedMessage::Pong(_))) => Ok(None),
        Some(Ok(AggregatedMessage::Binary(_))) => {
            Err(SessionError::Protocol("binary frames are not part of the protocol".into()))
        }
        Some(Ok(AggregatedMessage::Close(_))) | None => Err(SessionError::Closed),
        Some(Err(e)) => Err(SessionError::Protocol(format!("a broken WebSocket frame: {e}"))),
    }
}

async fn send(session: &mut Session, frame: &ServerFrame) -> Result<(), SessionError> {
    let text = serde_json::to_string(frame).map_err(|e| SessionError::Protocol(e.to_string()))?;
    session.text(text).await.map_err(|_| SessionError::Closed)
}

async fn refuse(mut session: Session, code: &str, message: &str) {
    let _ = send(&mut session, &ServerFrame::Error { code: code.into(), message: message.into() }).await;
    let _ = session.close(Some(CloseReason { code: CloseCode::Policy, description: Some(message.into()) })).await;
}
