//! One phone's connection: the protocol of `docs/PROTOCOL.md`, frame by frame.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use relay_protocol::frames::{DeliveryStatus, DeviceFrame, Hello, ServerFrame, StatusReport, Welcome, negotiate};

use super::pacing::Pacer;
use super::{Hub, LinkSettings};
use crate::cluster;
use crate::db::{Db, StoreError};
use crate::devices::models::Device;
use crate::devices::queries as devices;
use crate::messages::models::Status;
use crate::messages::queries::{self as messages, Applied};
use crate::webhooks::{self, EventType};

/// How long a new connection may take to say hello.
const HELLO_TIMEOUT: Duration = Duration::from_secs(10);

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
) -> Result<(u64, tokio::sync::mpsc::UnboundedReceiver<ServerFrame>), SessionError> {
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
    for id in &hello.unconfirmed {
        let frame = accept(ctx, id.clone()).await?;
        send(session, &frame).await?;
    }
    let (device_id, app_version) = (d.id.clone(), hello.app_version.clone());
    let (account_id, name) = (d.account_id.clone(), d.name.clone());
    let me = ctx.hub.instance().clone();
    let (in_flight, today) = ctx
        .db
        .write_for_device(&d.id, move |conn| -> Result<(i64, i64), StoreError> {
            // Hold the device first: from here on no other instance's dispatcher claims for it
            // (its claim locks the device row and checks the holder), so what it handed to a
            // connection of this phone that is gone is settled by the re-queue below.
            devices::set_online(conn, &device_id, true, Some(&app_version))?;
            cluster::hold(conn, &device_id, &me)?;
            // Anything handed over that the phone does not hold never arrived: re-queue it.
            messages::requeue_unacknowledged(conn, &device_id, "not received by the device")?;
            webhooks::record(conn, &account_id, EventType::DeviceOnline, |_| Ok(device_data(&device_id, &name, true)))?;
            let held = devices::in_flight(conn, std::slice::from_ref(&device_id))?;
            let today = messages::parts_dispatched_today(conn, &device_id)?;
            Ok((held.first().map(|(_, n)| *n).unwrap_or(0), today))
        })
        .await?;
    let pacing = d.pacing();
    Ok(ctx.hub.register(super::hub::Registration {
        device_id: d.id.clone(),
        account_id: d.account_id.clone(),
        window: ctx.settings.window,
        usable: d.usable(),
        // The daily cap survives reconnects: count what this device was handed today.
        pacer: Pacer::new(pacing.parts_per_minute, pacing.parts_per_day, u32::try_from(today).unwrap_or(u32::MAX)),
        in_flight: u32::try_from(in_flight).unwrap_or(0),
    }))
}

/// A frame's answer, computed by the writer while the session goes on reading.
type Pending = Pin<Box<dyn Future<Output = Result<Option<ServerFrame>, SessionError>> + Send>>;

async fn serve(
    ctx: &Ctx,
    session: &mut Session,
    stream: &mut AggregatedMessageStream,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<ServerFrame>,
) -> Result<(), SessionError> {
    let allowed_silence = ctx.settings.heartbeat_interval * 3;
    let mut last_heard = Instant::now();
    let mut check = tokio::time::interval(ctx.settings.heartbeat_interval.min(Duration::from_secs(5)));
    // Frames are not answered one at a time: each is handed to the group-commit writer at
    // once (in arrival order) and answered when its transaction commits, so a phone reporting
    // quickly gets many reports stored per commit instead of one per round trip.
    let mut pending: FuturesUnordered<Pending> = FuturesUnordered::new();
    loop {
        tokio::select! {
            frame = next_frame(session, stream) => {
                last_heard = Instant::now();
                pending.push(handle(ctx, frame?)?);
            }
            Some(done) = pending.next(), if !pending.is_empty() => {
                if let Some(answer) = done? {
                    send(session, &answer).await?;
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

/// Starts the work a frame asks for; the returned future yields the answer to send, if any.
fn handle(ctx: &Ctx, frame: DeviceFrame) -> Result<Pending, SessionError> {
    match frame {
        DeviceFrame::Hello(_) => Err(SessionError::Protocol("hello may only come first".into())),
        DeviceFrame::Heartbeat(hb) => {
            let id = ctx.device.id.clone();
            let json = serde_json::to_string(&hb).unwrap_or_default();
            let sims = serde_json::to_string(&hb.sims).unwrap_or_else(|_| "[]".into());
            let stored = ctx.db.write_for_device(&ctx.device.id, move |conn| {
                devices::store_heartbeat(conn, &id, &json, &sims).map_err(StoreError::from)
            });
            Ok(Box::pin(async move {
                stored.await?;
                Ok(None)
            }))
        }
        DeviceFrame::Accepted { request_id } => {
            let answer = accept(ctx, request_id);
            Ok(Box::pin(async move { Ok(Some(answer.await?)) }))
        }
        DeviceFrame::Status(report) => {
            let answer = report_status(ctx, report);
            Ok(Box::pin(async move { Ok(Some(answer.await?)) }))
        }
    }
}

/// `confirm` if the message is still this phone's, else `revoke`.
fn accept(ctx: &Ctx, request_id: String) -> impl Future<Output = Result<ServerFrame, SessionError>> + Send + 'static {
    let (device_id, id) = (ctx.device.id.clone(), request_id.clone());
    let mine = ctx.db.write_for_device(&ctx.device.id, move |conn| {
        messages::acknowledge(conn, &device_id, &id).map_err(StoreError::from)
    });
    async move {
        Ok(if mine.await? {
            ServerFrame::Confirm { request_id }
        } else {
            ServerFrame::Revoke { request_id, reason: "reassigned".into() }
        })
    }
}

fn report_status(
    ctx: &Ctx,
    report: StatusReport,
) -> impl Future<Output = Result<ServerFrame, SessionError>> + Send + 'static {
    let status = match report.status {
        DeliveryStatus::Sent => Status::Sent,
        DeliveryStatus::Delivered => Status::Delivered,
        DeliveryStatus::Failed => Status::Failed,
    };
    let failure = report.failure.clone();
    let (device_id, id, threshold) = (ctx.device.id.clone(), report.request_id.clone(), ctx.settings.degrade_after);
    let account_id = ctx.device.account_id.clone();
    let applied = ctx.db.write_for_device(&ctx.device.id, move |conn| -> Result<(Applied, bool), StoreError> {
        let failure = failure.as_ref().map(|f| (f.code.as_str(), f.reason.as_str()));
        let applied = messages::apply_report(conn, &device_id, &id, status, failure)?;
        // In the same transaction as the report: a failure streak and the device's
        // degradation are never recorded apart.
        let degraded = match applied {
            Applied::Changed { to: Status::Failed, .. } => devices::record_outcome(conn, &device_id, true, threshold)?,
            Applied::Changed { to: Status::Sent, .. } => devices::record_outcome(conn, &device_id, false, threshold)?,
            _ => false,
        };
        if degraded && devices::counts(conn, &account_id)?.usable == 0 {
            webhooks::record(conn, &account_id, EventType::QueueBlocked, |_| {
                Ok(serde_json::json!({
                    "reason": "no usable device: all are disabled or degraded",
                    "device_id": device_id,
                }))
            })?;
        }
        Ok((applied, degraded))
    });
    let (hub, device_id) = (ctx.hub.clone(), ctx.device.id.clone());
    async move {
        let (applied, degraded) = applied.await?;
        if let Applied::Changed { to, .. } = applied {
            crate::metrics::METRICS.reported(to.as_str());
        }
        if let Applied::Changed { from_dispatched: true, .. } = applied {
            hub.finished(&device_id);
        }
        if degraded {
            tracing::warn!(%device_id, "device degraded: its last sends all failed");
            hub.set_usable(&device_id, false);
        }
        Ok(ServerFrame::StatusAck { request_id: report.request_id, status: report.status })
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
    let result = ctx
        .db
        .write_for_device(&ctx.device.id, move |conn| -> Result<usize, StoreError> {
            if !cluster::release(conn, &id, &me)? {
                // The phone reconnected to another instance, which settled its messages.
                return Ok(0);
            }
            webhooks::record(conn, &account_id, EventType::DeviceOffline, |_| Ok(device_data(&id, &name, false)))?;
            Ok(messages::requeue_unacknowledged(conn, &id, "device disconnected")?)
        })
        .await;
    match result {
        Ok(n) => tracing::info!(device_id = %ctx.device.id, requeued = n, "device offline"),
        Err(e) => tracing::warn!(device_id = %ctx.device.id, error = %e, "could not record the device going offline"),
    }
    ctx.hub.wake();
}

/// A device event's data.
fn device_data(device_id: &str, name: &str, online: bool) -> serde_json::Value {
    serde_json::json!({"device_id": device_id, "device_name": name, "online": online})
}

async fn next_frame(session: &mut Session, stream: &mut AggregatedMessageStream) -> Result<DeviceFrame, SessionError> {
    loop {
        match stream.recv().await {
            Some(Ok(AggregatedMessage::Text(text))) => {
                return serde_json::from_str(&text)
                    .map_err(|e| SessionError::Protocol(format!("an unreadable frame: {e}")));
            }
            Some(Ok(AggregatedMessage::Ping(bytes))) => session.pong(&bytes).await.map_err(|_| SessionError::Closed)?,
            Some(Ok(AggregatedMessage::Pong(_))) => {}
            Some(Ok(AggregatedMessage::Binary(_))) => {
                return Err(SessionError::Protocol("binary frames are not part of the protocol".into()));
            }
            Some(Ok(AggregatedMessage::Close(_))) | None => return Err(SessionError::Closed),
            Some(Err(e)) => return Err(SessionError::Protocol(format!("a broken WebSocket frame: {e}"))),
        }
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
