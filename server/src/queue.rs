//! The account's queue as a whole: its state, figures, and the pause switch.

use actix_web::{get, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::accounts::queries as accounts;
use crate::auth::Caller;
use crate::devices::queries as devices;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::messages::models::Status;
use crate::messages::queries as messages;
use crate::state::AppState;
use crate::time;
use crate::webhooks::{self, EventType};

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusCounts {
    pub queued: i64,
    pub dispatched: i64,
    pub sent: i64,
    pub delivered: i64,
    pub failed: i64,
    pub expired: i64,
    pub canceled: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueView {
    pub ok: bool,
    /// `running`, or `blocked` (new sends answer `queue_blocked`).
    #[schema(example = "running")]
    pub state: &'static str,
    pub reason: Option<String>,
    pub counts: StatusCounts,
    /// Seconds the oldest queued message has waited (0 when none waits).
    pub oldest_queued_age_seconds: i64,
    /// Messages sent in the last hour, counted by the minute: the current minute and the 59
    /// before it.
    pub sent_last_hour: i64,
    /// Messages failed in the last hour, counted as `sent_last_hour`.
    pub failed_last_hour: i64,
    pub devices_online: i64,
    pub devices_paired: i64,
    /// Things the account should act on, e.g. a webhook endpoint the server disabled.
    pub warnings: Vec<QueueWarning>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueWarning {
    /// `webhook_disabled`.
    #[schema(example = "webhook_disabled")]
    pub code: &'static str,
    pub message: String,
    /// The endpoint concerned, for `webhook_disabled`.
    pub webhook_id: Option<String>,
}

/// The queue: running or blocked (and why), counts per status, the oldest wait.
#[utoipa::path(
    tag = "queue",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The queue.", body = QueueView))
)]
#[get("/v1/queue")]
pub async fn get_queue(caller: Caller, state: web::Data<AppState>) -> Result<web::Json<QueueView>, ApiError> {
    Ok(web::Json(view(&state, caller.account).await?))
}

/// The queue as the API and the console show it.
pub async fn view(state: &AppState, account: crate::accounts::Account) -> Result<QueueView, ApiError> {
    state
        .db
        .run(move |conn| -> Result<QueueView, ApiError> {
            let figures = messages::figures(conn, &account.id)?;
            let d = devices::counts(conn, &account.id)?;
            let warnings = webhooks::queries::auto_disabled(conn, &account.id)?
                .into_iter()
                .map(|(id, url, reason)| QueueWarning {
                    code: "webhook_disabled",
                    message: format!("The webhook {id} ({url}) is disabled and receives no events: {reason}"),
                    webhook_id: Some(id),
                })
                .collect();
            let count = |s: Status| figures.counts.iter().find(|(k, _)| k == s.as_str()).map(|(_, n)| *n).unwrap_or(0);
            let (state, reason) = match (&account.queue_paused_at, d.paired > 0 && d.usable == 0) {
                (Some(_), _) => {
                    ("blocked", Some(account.queue_pause_reason.clone().unwrap_or_else(|| "paused".into())))
                }
                (None, true) => ("blocked", Some("no usable device: all are disabled or degraded".into())),
                (None, false) => ("running", None),
            };
            Ok(QueueView {
                ok: true,
                state,
                reason,
                counts: StatusCounts {
                    queued: count(Status::Queued),
                    dispatched: count(Status::Dispatched),
                    sent: count(Status::Sent),
                    delivered: count(Status::Delivered),
                    failed: count(Status::Failed),
                    expired: count(Status::Expired),
                    canceled: count(Status::Canceled),
                },
                oldest_queued_age_seconds: figures
                    .oldest_queued
                    .map(|t| (time::now() - t).num_seconds().max(0))
                    .unwrap_or(0),
                sent_last_hour: figures.sent_last_hour,
                failed_last_hour: figures.failed_last_hour,
                devices_online: d.online,
                devices_paired: d.paired,
                warnings,
            })
        })
        .await
}

/// Hours the health chart covers.
pub const HEALTH_HOURS: i64 = 24;
/// Failure reasons the health page ranks.
const TOP_REASONS: usize = 10;

/// One clock hour (UTC) of the health chart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HourFigures {
    /// The hour's start.
    #[schema(value_type = String, example = "2026-03-14T12:00:00Z")]
    pub hour: time::Timestamp,
    pub sent: i64,
    pub failed: i64,
}

/// A failure code with how often it happened.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FailureReason {
    #[schema(example = "generic_failure")]
    pub code: String,
    pub count: i64,
    /// One of its reasons in words.
    pub example: Option<String>,
}

/// The queue's last day: sent and failed per hour, oldest first, and why messages failed.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueueHealth {
    pub ok: bool,
    /// Exactly 24 hours, the current (partial) one last.
    pub hours: Vec<HourFigures>,
    /// Failure codes over the same 24 hours, most frequent first (at most 10).
    pub failure_reasons: Vec<FailureReason>,
}

/// Sent and failed per hour over the last 24 hours, and the failure reasons ranked.
#[utoipa::path(
    tag = "queue",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The last day of the queue.", body = QueueHealth))
)]
#[get("/v1/queue/health")]
pub async fn get_queue_health(caller: Caller, state: web::Data<AppState>) -> Result<web::Json<QueueHealth>, ApiError> {
    Ok(web::Json(health(&state, &caller.account.id).await?))
}

/// The queue's last day, for the API and the console's chart.
pub async fn health(state: &AppState, account_id: &str) -> Result<QueueHealth, ApiError> {
    use chrono::Timelike;
    let now = time::now();
    let this_hour = now.date().and_hms_opt(now.hour(), 0, 0).unwrap_or(now);
    let first = this_hour - chrono::Duration::hours(HEALTH_HOURS - 1);
    let account_id = account_id.to_owned();
    let (sent, failed, reasons) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let (sent, failed) = messages::hourly(conn, &account_id, first)?;
            let reasons = messages::failure_reasons(conn, &account_id, first, TOP_REASONS)?;
            Ok((sent, failed, reasons))
        })
        .await?;
    let count = |rows: &[messages::HourCount], hour: &str| rows.iter().find(|r| r.hour == hour).map_or(0, |r| r.n);
    let hours = (0..HEALTH_HOURS)
        .map(|i| {
            let start = first + chrono::Duration::hours(i);
            let key = start.format("%Y-%m-%d %H:00:00").to_string();
            HourFigures { hour: time::Timestamp(start), sent: count(&sent, &key), failed: count(&failed, &key) }
        })
        .collect();
    let failure_reasons =
        reasons.into_iter().map(|(code, count, example)| FailureReason { code, count, example }).collect();
    Ok(QueueHealth { ok: true, hours, failure_reasons })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseRequest {
    /// Shown to callers whose sends are refused, e.g. `maintenance`.
    pub reason: Option<String>,
}

/// Pauses the queue: new sends answer 409 `queue_blocked`; nothing queued is lost.
#[utoipa::path(
    tag = "queue",
    security(("bearer" = []), ("api_key" = [])),
    request_body = PauseRequest,
    responses((status = 200, description = "Paused.", body = crate::http::OkResponse))
)]
#[post("/v1/queue/pause")]
pub async fn pause(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<PauseRequest>,
) -> Result<web::Json<crate::http::OkResponse>, ApiError> {
    let reason = body.into_inner().reason.map(|r| r.trim().chars().take(200).collect::<String>());
    let reason = reason.filter(|r| !r.is_empty()).unwrap_or_else(|| "paused".into());
    let id = caller.account.id;
    state.db.write(move |conn| set_paused(conn, &id, Some(&reason))).await?;
    Ok(web::Json(crate::http::OkResponse { ok: true }))
}

/// Resumes a paused queue.
#[utoipa::path(
    tag = "queue",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Running again.", body = crate::http::OkResponse))
)]
#[post("/v1/queue/resume")]
pub async fn resume(
    caller: Caller,
    state: web::Data<AppState>,
) -> Result<web::Json<crate::http::OkResponse>, ApiError> {
    let id = caller.account.id;
    state.db.write(move |conn| set_paused(conn, &id, None)).await?;
    state.hub.wake();
    Ok(web::Json(crate::http::OkResponse { ok: true }))
}

/// Pauses (`Some(reason)`) or resumes the queue; a change of state is a `queue.blocked` or
/// `queue.resumed` event, recorded in the same transaction.
/// Pauses (with a reason) or resumes the queue, with its webhook event in the same transaction.
pub fn set_paused(conn: &mut crate::db::DbConnection, account_id: &str, reason: Option<&str>) -> Result<(), ApiError> {
    use diesel::prelude::*;
    let was_paused: Option<chrono::NaiveDateTime> = crate::db::schema::accounts::table
        .find(account_id)
        .select(crate::db::schema::accounts::queue_paused_at)
        .first(conn)?;
    accounts::set_queue_paused(conn, account_id, reason)?;
    match (was_paused.is_some(), reason) {
        (false, Some(reason)) => {
            webhooks::record(conn, account_id, EventType::QueueBlocked, |_| Ok(serde_json::json!({"reason": reason})))?;
        }
        (true, None) => {
            webhooks::record(conn, account_id, EventType::QueueResumed, |_| {
                Ok(serde_json::json!({"reason": "resumed"}))
            })?;
        }
        _ => {}
    }
    Ok(())
}
