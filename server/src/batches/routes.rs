use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::{HttpResponse, get, post, web};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use super::queries::{self, Batch, Item, Shared};
use super::template::Template;
use crate::accounts::Account;
use crate::auth::{self, Caller, SendCaller};
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::ids::{IdKind, new_id};
use crate::messages::models::Status;
use crate::messages::routes::{check_device, check_queue_open};
use crate::messages::text;
use crate::recipients::models::Recipient;
use crate::recipients::queries as recipients;
use crate::state::AppState;
use crate::time::{self, Timestamp};

/// Most recipients in one bulk request.
pub const MAX_RECIPIENTS: usize = 100_000;
/// The bulk route's body limit: 100,000 recipients with names and a few variables each.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;
const MAX_CHARS: usize = 1600;
const DEFAULT_TTL: u32 = 86_400;
const MAX_METADATA: usize = 4096;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRecipient {
    /// E.164 or, with the account's `default_region`, a local number.
    #[schema(example = "+923001234567")]
    pub to: String,
    /// Fills `{{name}}`.
    #[schema(example = "Ali")]
    pub name: Option<String>,
    /// Fill `{{key}}` placeholders: strings, numbers or booleans.
    #[schema(value_type = Option<Object>, example = json!({"order": "1043"}))]
    pub vars: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkRequest {
    /// The text; `{{name}}` and `{{key}}` are filled per recipient from `name` and `vars`
    /// (directory recipients fill `{{name}}` with their name).
    #[schema(example = "Hi {{name}}, your order {{order}} has shipped.")]
    pub message: String,
    /// Numbers to send to, each with its own name and variables.
    pub recipients: Option<Vec<BulkRecipient>>,
    /// Recipients of the directory (`rcp_…`).
    pub recipient_ids: Option<Vec<String>>,
    /// Every recipient of the directory with this tag.
    #[schema(example = "vip")]
    pub tag: Option<String>,
    /// Send from this device only (else spread over the account's usable devices).
    pub device_id: Option<String>,
    /// Give up on a message no phone has taken by then: 5 s to 7 days, default 1 day.
    pub ttl_seconds: Option<u32>,
    /// Your own JSON object (up to 4 KB), on every message of the batch.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// A recipient that was not queued.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RejectedRecipient {
    /// Position in the combined list: `recipients` first, then `recipient_ids`, then the
    /// tag's recipients (oldest first).
    pub index: usize,
    /// The number as given (or as the directory has it).
    pub to: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient_id: Option<String>,
    /// `invalid_number`, `duplicate` (the number is already in this batch: sent once),
    /// `recipient_opted_out`, `not_found` (no such recipient id), `missing_variable` or
    /// `invalid_message` (the rendered text is empty or too long).
    #[schema(example = "invalid_number")]
    pub error: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResponse {
    pub ok: bool,
    #[schema(example = "bat_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub batch_id: String,
    /// Messages queued, one per distinct valid number.
    pub queued: usize,
    pub rejected: Vec<RejectedRecipient>,
    /// The queued messages' ids, in the order of the combined list.
    pub request_ids: Vec<String>,
}

/// One entry of the combined list, before checking.
struct Candidate {
    to: String,
    recipient_id: Option<String>,
    name: Option<String>,
    vars: Option<Map<String, Value>>,
    /// Already E.164 (from the directory).
    normalized: bool,
    opted_out: bool,
    /// A `recipient_ids` entry the account does not have.
    unknown: bool,
}

fn reject(index: usize, c: &Candidate, error: &str, message: String) -> RejectedRecipient {
    RejectedRecipient { index, to: c.to.clone(), recipient_id: c.recipient_id.clone(), error: error.into(), message }
}

/// Number, text, encoding and segments of one candidate, or why it is rejected.
type Checked = Result<(String, String, &'static str, i32), RejectedRecipient>;

/// Checks one candidate.
fn check(
    index: usize,
    c: &Candidate,
    template: &Template,
    fixed: Option<&(String, &'static str, i32)>,
    region: Option<&str>,
) -> Checked {
    if c.unknown {
        return Err(reject(index, c, "not_found", "This account has no recipient with this id.".into()));
    }
    if c.opted_out {
        return Err(reject(index, c, "recipient_opted_out", "The recipient has opted out.".into()));
    }
    let to = if c.normalized {
        c.to.clone()
    } else {
        text::normalize_number(&c.to, region).map_err(|e| reject(index, c, "invalid_number", e.to_string()))?
    };
    if let Some((body, encoding, segments)) = fixed {
        return Ok((to, body.clone(), encoding, *segments));
    }
    let body = template.render(c.name.as_deref(), c.vars.as_ref()).map_err(|key| {
        reject(index, c, "missing_variable", format!("Nothing fills {{{{{key}}}}} for this recipient."))
    })?;
    if body.trim().is_empty() || body.chars().count() > MAX_CHARS {
        return Err(reject(index, c, "invalid_message", format!("The text must be 1 to {MAX_CHARS} characters.")));
    }
    let info = text::analyze(&body);
    Ok((to, body, info.encoding.as_str(), i32::try_from(info.segments).unwrap_or(i32::MAX)))
}

/// The messages to queue (with their index in the combined list) and the rejections.
type Prepared = (Vec<(usize, Item)>, Vec<RejectedRecipient>);

/// Checks every candidate (on all cores: number parsing is the costly part), drops repeated
/// numbers, and gives each message its id in list order.
fn prepare(candidates: Vec<Candidate>, template: &Template, region: Option<&str>) -> Result<Prepared, ApiError> {
    let fixed = template.is_static().then(|| {
        let body = template.render(None, None).unwrap_or_default();
        let info = text::analyze(&body);
        (body, info.encoding.as_str(), i32::try_from(info.segments).unwrap_or(i32::MAX))
    });
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8);
    let per = candidates.len().div_ceil(threads).max(1);
    let checked: Vec<Checked> = std::thread::scope(|s| {
        let handles: Vec<_> = candidates
            .chunks(per)
            .enumerate()
            .map(|(n, chunk)| {
                let fixed = fixed.as_ref();
                s.spawn(move || {
                    chunk
                        .iter()
                        .enumerate()
                        .map(|(i, c)| check(n * per + i, c, template, fixed, region))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut all = Vec::with_capacity(candidates.len());
        for h in handles {
            all.extend(h.join().map_err(|_| ApiError::Internal { detail: "a bulk check thread panicked".into() })?);
        }
        Ok::<_, ApiError>(all)
    })?;
    let mut seen: HashMap<String, usize> = HashMap::with_capacity(checked.len());
    let mut ids = ulid::Generator::new();
    let mut items = Vec::with_capacity(checked.len());
    let mut rejected = Vec::new();
    for (index, result) in checked.into_iter().enumerate() {
        match result {
            Err(r) => rejected.push(r),
            Ok((to, body, encoding, segments)) => {
                if let Some(first) = seen.get(&to) {
                    let c = &candidates[index];
                    rejected.push(reject(
                        index,
                        c,
                        "duplicate",
                        format!("{to} is already in this batch at index {first}."),
                    ));
                    continue;
                }
                seen.insert(to.clone(), index);
                let id = match ids.generate() {
                    Ok(u) => format!("{}{u}", IdKind::Request.prefix()),
                    Err(_) => new_id(IdKind::Request),
                };
                items.push((index, Item { id, to, body, encoding, segments }));
            }
        }
    }
    Ok((items, rejected))
}

fn from_directory(r: Recipient) -> Candidate {
    Candidate {
        to: r.phone,
        recipient_id: Some(r.id),
        name: Some(r.name),
        vars: None,
        normalized: true,
        opted_out: r.opted_out_at.is_some(),
        unknown: false,
    }
}

/// The explicit recipients, then the directory's by id, then by tag.
async fn candidates(state: &AppState, account: &Account, req: &mut BulkRequest) -> Result<Vec<Candidate>, ApiError> {
    let mut out: Vec<Candidate> = req
        .recipients
        .take()
        .unwrap_or_default()
        .into_iter()
        .map(|r| Candidate {
            to: r.to,
            recipient_id: None,
            name: r.name,
            vars: r.vars,
            normalized: false,
            opted_out: false,
            unknown: false,
        })
        .collect();
    let ids = req.recipient_ids.take().unwrap_or_default();
    let tag = req.tag.as_deref().map(|t| t.trim().to_lowercase()).filter(|t| !t.is_empty());
    if out.len() + ids.len() > MAX_RECIPIENTS {
        return Err(too_many());
    }
    if ids.is_empty() && tag.is_none() {
        return Ok(out);
    }
    let account_id = account.id.clone();
    let wanted = ids.clone();
    let (by_id, by_tag) = state
        .db
        .run(move |conn| -> Result<(Vec<Recipient>, Vec<Recipient>), ApiError> {
            let by_id = recipients::by_ids(conn, &account_id, &wanted)?;
            let by_tag = match &tag {
                Some(t) => recipients::by_tag(conn, &account_id, t)?,
                None => Vec::new(),
            };
            Ok((by_id, by_tag))
        })
        .await?;
    let mut by_id: HashMap<String, Recipient> = by_id.into_iter().map(|r| (r.id.clone(), r)).collect();
    for id in ids {
        match by_id.get(&id) {
            Some(r) => out.push(from_directory(r.clone())),
            None => out.push(Candidate {
                to: id.clone(),
                recipient_id: Some(id),
                name: None,
                vars: None,
                normalized: true,
                opted_out: false,
                unknown: true,
            }),
        }
    }
    by_id.clear();
    out.extend(by_tag.into_iter().map(from_directory));
    if out.len() > MAX_RECIPIENTS {
        return Err(too_many());
    }
    Ok(out)
}

fn too_many() -> ApiError {
    ApiError::invalid("recipients", format!("A bulk send takes at most {MAX_RECIPIENTS} recipients; split it."))
}

/// Sends one text to many numbers: each number becomes its own message in the bulk lane
/// (behind OTP, high and normal traffic), with its own `request_id` and the batch's id.
///
/// Every recipient is checked on its own: invalid numbers, numbers repeated in the batch (sent
/// once), opted-out recipients and unfilled placeholders are reported per index in `rejected`
/// and the rest are queued. Up to 100,000 recipients and 16 MB per request.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    request_body = BulkRequest,
    responses(
        (status = 202, description = "Queued: the batch id, counts, rejections and request ids.", body = BulkResponse),
        (status = 402, description = "`subscription_expired`: renew the subscription to send again.", body = relay_protocol::ErrorEnvelope),
        (status = 409, description = "`queue_blocked`: the queue is paused or no usable device remains.", body = relay_protocol::ErrorEnvelope),
        (status = 422, description = "`invalid_device`: the device is not this account's, or is disabled.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/messages/bulk")]
pub async fn send_bulk(
    sender: SendCaller,
    state: web::Data<AppState>,
    body: ApiJson<BulkRequest, BODY_LIMIT>,
) -> Result<HttpResponse, ApiError> {
    let mut req = body.into_inner();
    let account = sender.caller.account.clone();
    if req.message.trim().is_empty() {
        return Err(ApiError::invalid("message", "Field `message` must not be empty."));
    }
    if req.message.chars().count() > MAX_CHARS {
        return Err(ApiError::invalid("message", format!("Field `message` is longer than {MAX_CHARS} characters.")));
    }
    if req.recipients.is_none() && req.recipient_ids.is_none() && req.tag.is_none() {
        return Err(ApiError::invalid("recipients", "Name the recipients: `recipients`, `recipient_ids` or `tag`."));
    }
    let ttl = req.ttl_seconds.unwrap_or(DEFAULT_TTL);
    if !(5..=604_800).contains(&ttl) {
        return Err(ApiError::invalid("ttl_seconds", "Field `ttl_seconds` must be between 5 and 604800 (7 days)."));
    }
    let metadata = match &req.metadata {
        None => None,
        Some(v @ Value::Object(_)) => {
            let text = v.to_string();
            if text.len() > MAX_METADATA {
                return Err(ApiError::invalid("metadata", "Field `metadata` is larger than 4 KB."));
            }
            Some(text)
        }
        Some(_) => return Err(ApiError::invalid("metadata", "Field `metadata` must be a JSON object.")),
    };
    let candidates = candidates(&state, &account, &mut req).await?;
    let template = Template::parse(&req.message);
    let started = std::time::Instant::now();
    let region = account.default_region.clone();
    let (items, mut rejected) = web::block(move || prepare(candidates, &template, region.as_deref()))
        .await
        .map_err(|e| ApiError::Internal { detail: format!("bulk preparation stopped: {e}") })??;
    let prepared_ms = started.elapsed().as_millis();
    let now = time::now();
    let shared = Shared {
        account_id: account.id.clone(),
        batch_id: new_id(IdKind::Batch),
        requested_device_id: req.device_id.clone(),
        metadata,
        expires_at: now + Duration::seconds(i64::from(ttl)),
        queued_at: now,
    };
    let key_hash = sender.key_hash;
    let batch_id = shared.batch_id.clone();
    let rejected_before = rejected.len();
    let (request_ids, opted_out) = state
        .db
        .write(move |conn| -> Result<(Vec<String>, Vec<RejectedRecipient>), ApiError> {
            let account = auth::recheck(conn, &key_hash)?;
            if let Some(device_id) = &shared.requested_device_id {
                check_device(conn, &account.id, device_id)?;
            }
            check_queue_open(conn, &account)?;
            // Opt-outs as they are now, inside the transaction that queues.
            let opted: HashSet<String> = recipients::opted_out_numbers(conn, &account.id)?;
            let mut refused = Vec::new();
            let mut queued = Vec::with_capacity(items.len());
            for (index, item) in items {
                if opted.contains(&item.to) {
                    refused.push(RejectedRecipient {
                        index,
                        to: item.to,
                        recipient_id: None,
                        error: "recipient_opted_out".into(),
                        message: "The recipient has opted out.".into(),
                    });
                } else {
                    queued.push(item);
                }
            }
            queries::insert(conn, &shared, &queued, rejected_before + refused.len())?;
            Ok((queued.into_iter().map(|i| i.id).collect(), refused))
        })
        .await?;
    let stored_ms = started.elapsed().as_millis() - prepared_ms;
    rejected.extend(opted_out);
    rejected.sort_by_key(|r| r.index);
    if !request_ids.is_empty() {
        state.hub.wake();
    }
    tracing::info!(
        batch_id = %batch_id,
        queued = request_ids.len(),
        rejected = rejected.len(),
        prepared_ms,
        stored_ms,
        "bulk send queued"
    );
    Ok(HttpResponse::Accepted().json(BulkResponse {
        ok: true,
        batch_id,
        queued: request_ids.len(),
        rejected,
        request_ids,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BatchView {
    pub ok: bool,
    #[schema(example = "bat_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub batch_id: String,
    /// Messages the batch queued.
    pub total: i64,
    /// Recipients the send rejected.
    pub rejected: i32,
    /// Messages per status: `queued`, `dispatched`, `sent`, `delivered`, `failed`, `expired`, `canceled`.
    #[schema(example = json!({"queued": 10, "dispatched": 2, "sent": 3, "delivered": 85, "failed": 0, "expired": 0, "canceled": 0}))]
    pub counts: BTreeMap<String, i64>,
    /// Messages in a final status (delivered, failed, expired, canceled).
    pub finished: i64,
    /// `finished` as a percentage of `total`, one decimal.
    #[schema(example = 85.0)]
    pub progress_percent: f64,
    pub canceled_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

fn view(batch: &Batch, counts: Vec<(String, i64)>) -> BatchView {
    let mut map: BTreeMap<String, i64> = Status::ALL.iter().map(|s| (s.as_str().to_owned(), 0)).collect();
    for (status, n) in counts {
        *map.entry(status).or_insert(0) += n;
    }
    let total: i64 = map.values().sum();
    let finished: i64 =
        Status::ALL.iter().filter(|s| s.is_final()).map(|s| map.get(s.as_str()).copied().unwrap_or(0)).sum();
    let progress = if total == 0 { 100.0 } else { (finished as f64 * 1000.0 / total as f64).floor() / 10.0 };
    BatchView {
        ok: true,
        batch_id: batch.id.clone(),
        total,
        rejected: batch.rejected,
        counts: map,
        finished,
        progress_percent: progress,
        canceled_at: batch.canceled_at.map(Into::into),
        created_at: batch.created_at.into(),
    }
}

fn not_found() -> ApiError {
    ApiError::NotFound("This account has no batch with that id.".into())
}

async fn load(state: &AppState, account_id: String, id: String) -> Result<BatchView, ApiError> {
    state
        .db
        .run(move |conn| -> Result<Option<BatchView>, ApiError> {
            let Some(batch) = queries::get(conn, &account_id, &id)? else { return Ok(None) };
            let counts = queries::counts(conn, &batch.id)?;
            Ok(Some(view(&batch, counts)))
        })
        .await?
        .ok_or_else(not_found)
}

/// A bulk send's progress: its messages counted per status. `GET /v1/messages?batch_id=`
/// lists the messages themselves.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(("batch_id" = String, Path, description = "The `bat_…` id from the bulk send.")),
    responses((status = 200, description = "The batch.", body = BatchView))
)]
#[get("/v1/batches/{batch_id}")]
pub async fn get_batch(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<BatchView>, ApiError> {
    Ok(web::Json(load(&state, caller.account.id, path.into_inner()).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CanceledBatch {
    /// Messages this call canceled.
    pub canceled: usize,
    #[serde(flatten)]
    pub batch: BatchView,
}

/// Cancels every message of the batch that has not reached a phone; what a phone already
/// holds goes on.
#[utoipa::path(
    tag = "messages",
    security(("bearer" = []), ("api_key" = [])),
    params(("batch_id" = String, Path, description = "The `bat_…` id from the bulk send.")),
    responses((status = 200, description = "Canceled: how many, and the batch now.", body = CanceledBatch))
)]
#[post("/v1/batches/{batch_id}/cancel")]
pub async fn cancel_batch(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<CanceledBatch>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let (a, i) = (account_id.clone(), id.clone());
    let (canceled, revoke) = state
        .db
        .write(move |conn| -> Result<(usize, Vec<(String, String)>), ApiError> {
            if queries::get(conn, &a, &i)?.is_none() {
                return Err(not_found());
            }
            Ok(queries::cancel(conn, &a, &i)?)
        })
        .await?;
    for (request_id, device) in revoke {
        state.hub.send(&device, relay_protocol::frames::ServerFrame::Revoke { request_id, reason: "canceled".into() });
        state.hub.finished(&device);
    }
    tracing::info!(batch_id = %id, canceled, "batch canceled");
    Ok(web::Json(CanceledBatch { canceled, batch: load(&state, account_id, id).await? }))
}
