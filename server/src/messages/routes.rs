use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Duration};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::models::{Lane, Message, MessageView, Status};
use super::queries::{self, Canceled, ListFilter};
use super::text::{self, Encoding};
use crate::auth::{self, Caller, SendCaller};
use crate::db::schema::idempotency_keys;
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::devices::queries as devices;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::ids::{IdKind, new_id};
use crate::recipients::queries as recipients;
use crate::state::AppState;
use crate::time::{self, Timestamp};
use crate::{accounts::Account, secrets};

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// Ahead of normal and bulk traffic (OTP is always first).
    High,
    #[default]
    Normal,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// The recipient: E.164 (`+923001234567`) or a local number when the account has a `default_region`.
    #[schema(example = "+923001234567")]
    pub to: String,
    /// The text. Long texts are sent as several parts and reported as one message.
    #[schema(example = "Your order 1043 has shipped.")]
    pub message: String,
    /// Send from this device only (else the least-loaded online device is chosen).
    pub device_id: Option<String>,
    /// SIM slot on the device (0-based); the device's default when absent.
    pub sim: Option<u8>,
    pub priority: Option<Priority>,
    /// Give up if no phone has taken it by then: 5 s to 7 days, default 1 day.
    #[schema(example = 3600)]
    pub ttl_seconds: Option<u32>,
    /// Your own JSON object (up to 4 KB), returned with the message and in webhooks.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueuedResponse {
    pub ok: bool,
    #[schema(example = "req_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub request_id: String,
    #[schema(example = "queued")]
    pub status: String,
    pub queued_at: Timestamp,
    /// The recipient as normalised to E.164.
    pub to: String,
    pub segments: i32,
    pub encoding: Encoding,
}

const MAX_CHARS: usize = 1600;
const DEFAULT_TTL: u32 = 86_400;
const MAX_METADATA: usize = 4096;

/// Validated and normalised: ready to store.
/// The message a request describes, for the account `account_id` whose local numbers are in
/// `region`.
fn build(account_id: &str, region: Option<&str>, req: &SendRequest) -> Result<Message, ApiError> {
    let to = text::normalize_number(&req.to, region).map_err(|e| ApiError::invalid("to", e.to_string()))?;
    if req.message.trim().is_empty() {
        return Err(ApiError::invalid("message", "Field `message` must not be empty."));
    }
    if req.message.chars().count() > MAX_CHARS {
        return Err(ApiError::invalid("message", format!("Field `message` is longer than {MAX_CHARS} characters.")));
    }
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL);
    if !(5..=604_800).contains(&ttl) {
        return Err(ApiError::invalid("ttl_seconds", "Field `ttl_seconds` must be between 5 and 604800 (7 days)."));
    }
    if req.sim.is_some_and(|s| s > 7) {
        return Err(ApiError::invalid("sim", "Field `sim` is a SIM slot from 0 to 7."));
    }
    let metadata = match &req.metadata {
        None => None,
        Some(v @ serde_json::Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > MAX_METADATA {
                return Err(ApiError::invalid("metadata", "Field `metadata` is larger than 4 KB."));
            }
            Some(text)
        }
        Some(_) => return Err(ApiError::invalid("metadata", "Field `metadata` must be a JSON object.")),
    };
    let info = text::analyze(&req.message);
    let now = time::now();
    Ok(Message {
        id: new_id(IdKind::Request),
        account_id: account_id.to_owned(),
        to_number: to,
        body: req.message.clone(),
        priority: match req.priority.unwrap_or_default() {
            Priority::High => Lane::High as i16,
            Priority::Normal => Lane::Normal as i16,
        },
        status: Status::Queued.as_str().to_owned(),
        requested_device_id: req.device_id.clone(),
        device_id: None,
        sim: req.sim.map(i16::from),
        encoding: info.encoding.as_str().to_owned(),
        segments: i32::try_from(info.segments).unwrap_or(i32::MAX),
        metadata,
        batch_id: None,
        attempts: 0,
        failure_code: None,
        failure_reason: None,
        expires_at: now + Duration::seconds(i64::from(ttl)),
        queued_at: now,
        dispatched_at: None,
        acked_at: None,
        sent_at: None,
        delivered_at: None,
        finished_at: None,
        updated_at: now,
        redacted_body: None,
    })
}

/// Refuses new sends while the queue is paused or no usable device remains.
pub fn check_queue_open(conn: &mut DbConnection, account: &Account) -> Result<(), ApiError> {
    let paused = pause_of(account.queue_paused_at, account.queue_pause_reason.as_deref());
    queue_open(paused, paused.is_none() && devices::none_usable(conn, &account.id)?)
}

/// `Some(reason)` while the account's queue is paused.
fn pause_of(paused_at: Option<chrono::NaiveDateTime>, reason: Option<&str>) -> Option<&str> {
    paused_at.map(|_| reason.unwrap_or("paused"))
}

/// [`check_queue_open`] with the pause and `none_usable` already known: the account has
/// paired devices and none of them is usable.
fn queue_open(paused: Option<&str>, none_usable: bool) -> Result<(), ApiError> {
    if let Some(reason) = paused {
        return Err(ApiError::QueueBlocked(format!(
            "The queue is paused ({reason}): new messages are refused until POST /v1/queue/resume."
        )));
    }
    if none_usable {
        return Err(ApiError::QueueBlocked(
            "No usable device: every paired device is disabled or degraded by repeated failures. Re-enable one with PATCH /v1/devices/{id}.".into(),
        ));
    }
    Ok(())
}

pub fn check_device(conn: &mut DbConnection, account_id: &str, device_id: &str) -> Result<(), ApiError> {
    match devices::find_for_account(conn, account_id, device_id)? {
        Some(d) if d.enabled => Ok(()),
        Some(_) => Err(ApiError::InvalidDevice(format!("The device {device_id} is disabled."))),
        None => Err(ApiError::InvalidDevice(format!("This account has no device {device_id}."))),
    }
}

/// What an Idempotency-Key already recorded.
enum Recorded {
    Replay(u16, String),
    Clash,
}

fn recorded(
    conn: &mut DbConnection,
    account_id: &str,
    key: &str,
    body_hash: &str,
) -> Result<Option<Recorded>, ApiError> {
    use diesel::prelude::*;
    let row: Option<(String, i32, String)> = idempotency_keys::table
        .find((account_id, key))
        .select((idempotency_keys::body_hash, idempotency_keys::status_code, idempotency_keys::response))
        .first(conn)
        .optional()?;
    Ok(row.map(|(hash, status, response)| {
        if hash == body_hash {
            Recorded::Replay(u16::try_from(status).unwrap_or(202), response)
        } else {
            Recorded::Clash
        }
    }))
}

/// On PostgreSQL, takes the Idempotency-Key for this transaction, or says that another
/// transaction holds it (false). Without it, two instances whose batches inserted the same two
/// keys in opposite orders (a client retrying through a load balancer) waited on each other's
/// unique entries until PostgreSQL's deadlock detector failed one of them a second later,
/// with a 500. A try-lock never waits: a key in flight elsewhere is answered at once with 409,
/// and the retry is answered as the first request was. SQLite has one writer: nothing else is
/// in flight.
fn claim_key(conn: &mut DbConnection, account_id: &str, key: &str) -> Result<bool, ApiError> {
    use diesel::prelude::*;
    use sha2::{Digest, Sha256};
    #[derive(diesel::QueryableByName)]
    struct Claim {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        claimed: bool,
    }
    let DbConnection::Postgres(pg) = conn else { return Ok(true) };
    let digest = Sha256::digest(format!("idempotency\u{0}{account_id}\u{0}{key}"));
    let lock = i64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
    let claim: Claim = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS claimed")
        .bind::<diesel::sql_types::BigInt, _>(lock)
        .get_result(pg)?;
    Ok(claim.claimed)
}

fn answer(recorded: Recorded) -> Result<HttpResponse, ApiError> {
    match recorded {
        Recorded::Replay(status, body) => Ok(HttpResponse::build(
            actix_web::http::StatusCode::from_u16(status).unwrap_or(actix_web::http::StatusCode::ACCEPTED),
        )
        .insert_header(("Idempotent-Replayed", "true"))
        .content_type("application/json")
        .body(body)),
        Recorded::Clash => {
            Err(ApiError::Conflict("This Idempotency-Key was already used with a different request body.".into()))
        }
    }
}

fn idempotency_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let Some(v) = req.headers().get("idempotency-key") else { return Ok(None) };
    let key =
        v.to_str().map_err(|_| ApiError::invalid("Idempotency-Key", "The Idempotency-Key header must be text."))?;
    if key.is_empty() || key.len() > 255 {
        return Err(ApiError::invalid("Idempotency-Key", "The Idempotency-Key header must be 1 to 255 characters."));
    }
    Ok(Some(key.to_owned()))
}

/// Queues one SMS. Answers 202 once the message is stored: from then on it is never lost.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Repeat a request safely: the same key and body replay the first answer.")),
    request_body = SendRequest,
    responses(
        (status = 202, description = "Queued.", body = QueuedResponse),
        (status = 400, description = "`invalid_request` (a field is named), or `recipient_opted_out`: the number's recipient opted out.", body = relay_protocol::ErrorEnvelope),
        (status = 402, description = "`subscription_expired`: renew the subscription to send again.", body = relay_protocol::ErrorEnvelope),
        (status = 409, description = "`conflict` (Idempotency-Key reused with another body, or still in flight on another request: retry it) or `queue_blocked`.", body = relay_protocol::ErrorEnvelope),
        (status = 422, description = "`invalid_device`: the device is not this account's, or is disabled.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/messages")]
pub async fn send_message(
    req: HttpRequest,
    sender: SendCaller,
    state: web::Data<AppState>,
    body: ApiJson<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.into_inner();
    let idem = idempotency_key(&req)?;
    // Only an Idempotency-Key's record compares bodies: without one there is nothing to hash.
    let body_hash = match idem {
        Some(_) => secrets::sha256_hex(&serde_json::to_string(&request).unwrap_or_default()),
        None => String::new(),
    };
    // Parsing and validating happen here, on the request's own thread; the writer only writes.
    let key_hash = sender.key_hash;
    let cached_region = sender.caller.account.default_region.clone();
    let mut message = match build(&sender.caller.account.id, cached_region.as_deref(), &request) {
        Ok(m) => m,
        // The cached account may predate a new default region: judge with the current one.
        Err(_) => {
            let hash = key_hash.clone();
            let account = state.db.run(move |conn| auth::recheck(conn, &hash)).await?;
            build(&account.id, account.default_region.as_deref(), &request)?
        }
    };
    // Only reads and new rows: any intake writer may take it (one per Idempotency-Key). Its
    // one write is `store`, last, which keeps a savepoint of its own where it can fail (the
    // Idempotency-Key's row): nothing else may be written after it, or before an error.
    let route = idem.as_ref().map(|k| format!("{}\u{0}{k}", sender.caller.account.id));
    let outcome = state
        .db
        .queue_messages(route.as_deref(), move |conn| -> Result<Result<QueuedResponse, Recorded>, ApiError> {
            // The key and account as they are now: revocation and suspension hold at once.
            // Read with them: whether the account has usable devices, and the opt-out.
            let (account, checks) = auth::recheck_for_send(conn, &key_hash, &message.to_number)?;
            // Local numbers follow the default region as it is now, not as cached.
            let renumbered = account.default_region != cached_region;
            if renumbered {
                message = build(&account.id, account.default_region.as_deref(), &request)?;
            }
            if let Some(key) = &idem {
                if !claim_key(conn, &account.id, key)? {
                    return Err(ApiError::Conflict(
                        "A request with this Idempotency-Key is being processed right now; retry it in a moment."
                            .into(),
                    ));
                }
                if let Some(r) = recorded(conn, &account.id, key, &body_hash)? {
                    return Ok(Err(r));
                }
            }
            // A named device is checked first: its own answer is more precise than the queue's.
            if let Some(device_id) = &request.device_id {
                check_device(conn, &account.id, device_id)?;
            }
            let paused = pause_of(account.queue_paused_at, account.queue_pause_reason.as_deref());
            queue_open(paused, checks.paired_device && !checks.usable_device)?;
            let opted_out = if renumbered {
                recipients::is_opted_out(conn, &account.id, &message.to_number)?
            } else {
                checks.opted_out
            };
            if opted_out {
                return Err(ApiError::RecipientOptedOut(format!(
                    "{} has opted out of messages from this account; PATCH the recipient with \"opted_out\": false if they opt back in.",
                    message.to_number
                )));
            }
            let response = QueuedResponse {
                ok: true,
                request_id: message.id.clone(),
                status: "queued".into(),
                queued_at: message.queued_at.into(),
                to: message.to_number.clone(),
                segments: message.segments,
                encoding: if message.encoding == "ucs2" { Encoding::Ucs2 } else { Encoding::Gsm7 },
            };
            let stored = store(conn, message, idem.as_deref(), &body_hash, &response);
            match stored {
                Ok(()) => Ok(Ok(response)),
                // Another server instance stored the same key a moment ago: answer as it did.
                Err(e) if is_unique_violation(&e) && idem.is_some() => {
                    let key = idem.as_deref().unwrap_or_default();
                    Ok(Err(recorded(conn, &account.id, key, &body_hash)?.unwrap_or(Recorded::Clash)))
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
    // The dispatcher was woken by the writer as the message committed (see `Db::on_queued`).
    match outcome {
        Ok(response) => Ok(HttpResponse::Accepted().json(response)),
        Err(recorded) => answer(recorded),
    }
}

fn store(
    conn: &mut DbConnection,
    message: Message,
    idem: Option<&str>,
    body_hash: &str,
    response: &QueuedResponse,
) -> diesel::QueryResult<()> {
    use diesel::prelude::*;
    // Without a key the insert is the send's only write, and the writer makes one statement
    // of its transaction's sends (`writer::defer`); with one, a savepoint lets a lost race on
    // the key be answered instead of failing the batch.
    let Some(key) = idem else {
        return match crate::db::writer::defer(message, queries::insert) {
            None => Ok(()),
            Some(message) => queries::insert(conn, std::slice::from_ref(&message)),
        };
    };
    write_transaction(conn, |conn| {
        diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::account_id.eq(&message.account_id),
                idempotency_keys::idem_key.eq(key),
                idempotency_keys::body_hash.eq(body_hash),
                idempotency_keys::status_code.eq(202),
                idempotency_keys::response.eq(serde_json::to_string(response).unwrap_or_default()),
                idempotency_keys::created_at.eq(message.queued_at),
            ))
            .execute(conn)?;
        queries::insert(conn, std::slice::from_ref(&message))
    })
}

/// A message with its full timeline.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(("request_id" = String, Path, description = "The `req_…` id from the send.")),
    responses((status = 200, description = "The message.", body = MessageView))
)]
#[get("/v1/messages/{request_id}")]
pub async fn get_message(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<MessageView>, ApiError> {
    Ok(web::Json(full_view(&state, caller.account.id, path.into_inner()).await?))
}

/// The account's message with its device name and timeline, or `not_found`.
pub async fn full_view(state: &AppState, account_id: String, id: String) -> Result<MessageView, ApiError> {
    state
        .db
        .run(move |conn| -> Result<Option<MessageView>, ApiError> {
            let Some((m, device_name)) = queries::get(conn, &account_id, &id)? else { return Ok(None) };
            let events = queries::events(conn, &m)?;
            Ok(Some(m.view(device_name, Some(events))))
        })
        .await?
        .ok_or_else(|| ApiError::NotFound("This account has no message with that request id.".into()))
}

/// How many messages one live list may follow.
pub const MAX_FOLLOWED: usize = 100;

/// The current status of each of the account's messages among `ids` (others are left out).
pub async fn statuses(
    state: &AppState,
    account_id: String,
    mut ids: Vec<String>,
) -> Result<Vec<(String, String)>, ApiError> {
    ids.truncate(MAX_FOLLOWED);
    state.db.run(move |conn| queries::statuses(conn, &account_id, &ids).map_err(ApiError::from)).await
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `queued`, `dispatched`, `sent`, `delivered`, `failed`, `expired` or `canceled`.
    pub status: Option<String>,
    /// A recipient, in any format the send accepts.
    pub to: Option<String>,
    pub device_id: Option<String>,
    pub batch_id: Option<String>,
    /// RFC 3339: queued at or after.
    pub since: Option<String>,
    /// RFC 3339: queued before.
    pub until: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageList {
    pub ok: bool,
    pub messages: Vec<MessageView>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

fn parse_time(field: &str, value: Option<&str>) -> Result<Option<chrono::NaiveDateTime>, ApiError> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v).map(|t| t.naive_utc()).map_err(|_| {
                ApiError::invalid(field, format!("`{field}` must be an RFC 3339 time such as 2026-03-14T12:30:00Z."))
            })
        })
        .transpose()
}

/// Messages, newest first, filtered; cursor pagination.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(ListQuery),
    responses((status = 200, description = "A page of messages.", body = MessageList))
)]
#[get("/v1/messages")]
pub async fn list_messages(
    caller: Caller,
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<MessageList>, ApiError> {
    Ok(web::Json(list(&state, &caller.account, query.into_inner()).await?))
}

/// One page of the account's messages, filtered (the API's list and the console's search).
pub async fn list(state: &AppState, account: &Account, q: ListQuery) -> Result<MessageList, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "`limit` must be between 1 and 100."));
    }
    let status = q
        .status
        .as_deref()
        .map(|s| Status::parse(s).ok_or_else(|| ApiError::invalid("status", format!("`{s}` is not a message status; use one of queued, dispatched, sent, delivered, failed, expired, canceled."))))
        .transpose()?;
    let to =
        q.to.as_deref()
            .map(|t| {
                text::normalize_number(t, account.default_region.as_deref())
                    .map_err(|e| ApiError::invalid("to", e.to_string()))
            })
            .transpose()?;
    let filter = ListFilter {
        status,
        to,
        device_id: q.device_id,
        batch_id: q.batch_id,
        since: parse_time("since", q.since.as_deref())?,
        until: parse_time("until", q.until.as_deref())?,
        before: q.cursor,
        limit,
    };
    let account_id = account.id.clone();
    let mut rows = state.db.run(move |conn| queries::list(conn, &account_id, &filter).map_err(ApiError::from)).await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = if has_more { rows.last().map(|(m, _)| m.id.clone()) } else { None };
    let messages = rows.into_iter().map(|(m, name)| m.view(name, None)).collect();
    Ok(MessageList { ok: true, messages, next_cursor, has_more })
}

/// Cancels a message that has not reached a phone yet.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(("request_id" = String, Path, description = "The `req_…` id from the send.")),
    responses(
        (status = 200, description = "Canceled.", body = MessageView),
        (status = 409, description = "`conflict`: a phone already has it.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/messages/{request_id}/cancel")]
pub async fn cancel_message(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<MessageView>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let (a, i) = (account_id.clone(), id.clone());
    let outcome =
        state.db.run(move |conn| queries::cancel(conn, &a, &i, "canceled by the API").map_err(ApiError::from)).await?;
    match outcome {
        Canceled::NotFound => {
            return Err(ApiError::NotFound("This account has no message with that request id.".into()));
        }
        Canceled::TooLate(status) => {
            return Err(ApiError::Conflict(format!(
                "The message is {} and can no longer be canceled: a phone has it or it has ended.",
                status.as_str()
            )));
        }
        Canceled::Done(Some(device)) => {
            state.hub.send(
                &device,
                relay_protocol::frames::ServerFrame::Revoke { request_id: id.clone(), reason: "canceled".into() },
            );
            state.hub.finished(&device);
        }
        Canceled::Done(None) => {}
    }
    Ok(web::Json(full_view(&state, account_id, id).await?))
}
