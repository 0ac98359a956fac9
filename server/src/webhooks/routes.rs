//! `/v1/webhooks`: endpoints, their secrets, deliveries and attempts, redelivery and tests.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::Deserialize;
use utoipa::IntoParams;

use super::models::{
    CreateEndpoint, DeliveryList, DeliveryResponse, DeliveryStatus, Endpoint, EndpointList, EndpointResponse,
    TestEventResponse, UpdateEndpoint,
};
use super::queries::{self, EndpointChanges, Redeliver};
use super::secret::new_signing_secret;
use super::{EventType, WAKE, address};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::OkResponse;
use crate::http::json::ApiJson;
use crate::ids::{IdKind, new_id};
use crate::state::AppState;
use crate::time;

/// How long the previous secret keeps signing after a rotation.
const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);
/// Endpoints one account may have.
const MAX_ENDPOINTS: usize = 20;

fn not_found() -> ApiError {
    ApiError::NotFound("This account has no webhook with that id.".into())
}

fn delivery_not_found() -> ApiError {
    ApiError::NotFound("This account has no webhook delivery with that id.".into())
}

/// Checks the URL's form and where it resolves to.
async fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let invalid = |message: String| ApiError::Unprocessable { code: "invalid_webhook_url", message, field: "url" };
    if url.len() > 2048 {
        return Err(invalid("`url` must be at most 2048 characters.".into()));
    }
    let parsed = address::parse(url).map_err(|e| invalid(format!("{e}.")))?;
    address::check(&parsed, state.webhook_settings.allow_private).await.map_err(|e| invalid(format!("{e}.")))?;
    Ok(parsed.to_string())
}

/// The stored form of an `events` list: known names only, `*` for all.
fn check_events(events: Option<Vec<String>>) -> Result<String, ApiError> {
    let list = events.unwrap_or_else(|| vec!["*".into()]);
    if list.is_empty() {
        return Err(ApiError::Unprocessable {
            code: "unknown_event",
            message: "`events` must name at least one event type, or be `[\"*\"]` for all.".into(),
            field: "events",
        });
    }
    for name in &list {
        if name != "*" && EventType::parse_subscribable(name).is_none() {
            let known: Vec<&str> = EventType::SUBSCRIBABLE.iter().map(|t| t.as_str()).collect();
            return Err(ApiError::Unprocessable {
                code: "unknown_event",
                message: format!("`{name}` is not an event type; use `*` or any of {}.", known.join(", ")),
                field: "events",
            });
        }
    }
    let mut list = list;
    list.sort();
    list.dedup();
    if list.iter().any(|e| e == "*") {
        list = vec!["*".into()];
    }
    Ok(serde_json::to_string(&list).unwrap_or_else(|_| "[\"*\"]".into()))
}

fn check_description(description: Option<String>) -> Result<Option<String>, ApiError> {
    let d = description.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
    if d.as_ref().is_some_and(|d| d.chars().count() > 200) {
        return Err(ApiError::invalid("description", "Field `description` must be at most 200 characters."));
    }
    Ok(d)
}

/// Creates a webhook endpoint. Its signing secret is in the answer, this once.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    request_body = CreateEndpoint,
    responses(
        (status = 201, description = "The endpoint, with its `secret` (shown once).", body = EndpointResponse),
        (status = 409, description = "`conflict`: the account has 20 endpoints already.", body = relay_protocol::ErrorEnvelope),
        (status = 422, description = "`invalid_webhook_url` (a malformed URL, or one resolving to a private address) or `unknown_event`; `field` names the field.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/webhooks")]
pub async fn create_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    body: ApiJson<CreateEndpoint>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    let events = check_events(req.events)?;
    let description = check_description(req.description)?;
    let url = check_url(&state, &req.url).await?;
    let now = time::now();
    let id = new_id(IdKind::Webhook);
    let secret = new_signing_secret();
    let endpoint = Endpoint {
        secret_enc: state.webhook_key.encrypt(&id, &secret),
        id,
        account_id: caller.account.id.clone(),
        url,
        description,
        events,
        enabled: true,
        disabled_reason: None,
        previous_secret_enc: None,
        previous_secret_until: None,
        failing_since: None,
        created_at: now,
        updated_at: now,
    };
    let stored = endpoint.clone();
    state
        .db
        .write(move |conn| -> Result<(), ApiError> {
            if queries::list_endpoints(conn, &stored.account_id)?.len() >= MAX_ENDPOINTS {
                return Err(ApiError::Conflict(format!(
                    "An account may have {MAX_ENDPOINTS} webhook endpoints; delete one first."
                )));
            }
            queries::insert_endpoint(conn, &stored)?;
            Ok(())
        })
        .await?;
    tracing::info!(webhook_id = %endpoint.id, "webhook endpoint created");
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::LOCATION, format!("/v1/webhooks/{}", endpoint.id)))
        .json(EndpointResponse { ok: true, webhook: endpoint.view(Some(secret), now) }))
}

/// The account's webhook endpoints (without their secrets).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "Every endpoint.", body = EndpointList))
)]
#[get("/v1/webhooks")]
pub async fn list_webhooks(caller: Caller, state: web::Data<AppState>) -> Result<web::Json<EndpointList>, ApiError> {
    Ok(web::Json(EndpointList { ok: true, webhooks: endpoints(&state, &caller.account.id).await? }))
}

/// The account's endpoints as the API and the console show them (never their secrets).
pub async fn endpoints(state: &AppState, account_id: &str) -> Result<Vec<super::models::EndpointView>, ApiError> {
    let account_id = account_id.to_owned();
    let list = state.db.run(move |conn| queries::list_endpoints(conn, &account_id).map_err(ApiError::from)).await?;
    let now = time::now();
    Ok(list.iter().map(|e| e.view(None, now)).collect())
}

/// One webhook endpoint.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    responses((status = 200, description = "The endpoint.", body = EndpointResponse))
)]
#[get("/v1/webhooks/{webhook_id}")]
pub async fn get_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let found = state
        .db
        .run(move |conn| queries::find_endpoint(conn, &account_id, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(not_found)?;
    Ok(web::Json(EndpointResponse { ok: true, webhook: found.view(None, time::now()) }))
}

/// Changes an endpoint: its URL, events, description, or whether it is enabled. Enabling one
/// the server disabled resumes its pending deliveries.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    request_body = UpdateEndpoint,
    responses(
        (status = 200, description = "The endpoint as changed.", body = EndpointResponse),
        (status = 422, description = "`invalid_webhook_url` or `unknown_event`; `field` names the field.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[patch("/v1/webhooks/{webhook_id}")]
pub async fn update_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<UpdateEndpoint>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    let req = body.into_inner();
    let now = time::now();
    let mut changes = EndpointChanges { updated_at: Some(now), ..Default::default() };
    if let Some(url) = &req.url {
        changes.url = Some(check_url(&state, url).await?);
    }
    if req.events.is_some() {
        changes.events = Some(check_events(req.events)?);
    }
    if req.description.is_some() {
        changes.description = Some(check_description(req.description)?);
    }
    if let Some(enabled) = req.enabled {
        changes.enabled = Some(enabled);
        changes.disabled_reason = Some(None);
        if enabled {
            changes.failing_since = Some(None);
        }
    }
    let (account_id, id) = (caller.account.id, path.into_inner());
    let updated = state
        .db
        .write(move |conn| queries::update_endpoint(conn, &account_id, &id, &changes).map_err(ApiError::from))
        .await?
        .ok_or_else(not_found)?;
    if updated.enabled {
        WAKE.notify_one();
    }
    Ok(web::Json(EndpointResponse { ok: true, webhook: updated.view(None, now) }))
}

/// Deletes an endpoint with its deliveries and their attempt log.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    responses((status = 200, description = "Deleted.", body = OkResponse))
)]
#[delete("/v1/webhooks/{webhook_id}")]
pub async fn delete_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<OkResponse>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let deleted =
        state.db.write(move |conn| queries::delete_endpoint(conn, &account_id, &id).map_err(ApiError::from)).await?;
    if !deleted {
        return Err(not_found());
    }
    Ok(web::Json(OkResponse { ok: true }))
}

/// Replaces the signing secret. For 24 hours both the new and the previous secret sign every
/// delivery (two `v1,` signatures in `webhook-signature`), so receivers can switch without losing events.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    responses((status = 200, description = "The endpoint with its new `secret` (shown once).", body = EndpointResponse))
)]
#[post("/v1/webhooks/{webhook_id}/rotate-secret")]
pub async fn rotate_secret(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    Ok(web::Json(EndpointResponse { ok: true, webhook: rotate(&state, &caller.account.id, path.into_inner()).await? }))
}

/// Replaces an endpoint's signing secret (the previous one signs on for a day): the endpoint
/// with its new secret, for the API and the console.
pub async fn rotate(state: &AppState, account_id: &str, id: String) -> Result<super::models::EndpointView, ApiError> {
    let account_id = account_id.to_owned();
    let secret = new_signing_secret();
    let new_enc = state.webhook_key.encrypt(&id, &secret);
    let now = time::now();
    let updated = state
        .db
        .write(move |conn| -> Result<Option<Endpoint>, ApiError> {
            let Some(current) = queries::find_endpoint(conn, &account_id, &id)? else { return Ok(None) };
            let changes = EndpointChanges {
                secret_enc: Some(new_enc),
                previous_secret_enc: Some(Some(current.secret_enc)),
                previous_secret_until: Some(Some(now + ROTATION_OVERLAP)),
                updated_at: Some(now),
                ..Default::default()
            };
            Ok(queries::update_endpoint(conn, &account_id, &id, &changes)?)
        })
        .await?
        .ok_or_else(not_found)?;
    tracing::info!(webhook_id = %updated.id, "webhook secret rotated");
    Ok(updated.view(Some(secret), now))
}

/// The endpoint with its current signing secret, to set up or check a receiver.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    responses((status = 200, description = "The endpoint with its `secret`.", body = EndpointResponse))
)]
#[get("/v1/webhooks/{webhook_id}/secret")]
pub async fn get_secret(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<EndpointResponse>, ApiError> {
    Ok(web::Json(EndpointResponse { ok: true, webhook: reveal(&state, &caller.account.id, path.into_inner()).await? }))
}

/// An endpoint with its signing secret decrypted (the API and the console's reveal).
pub async fn reveal(state: &AppState, account_id: &str, id: String) -> Result<super::models::EndpointView, ApiError> {
    let account_id = account_id.to_owned();
    let found = state
        .db
        .run(move |conn| queries::find_endpoint(conn, &account_id, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(not_found)?;
    let secret = state
        .webhook_key
        .decrypt(&found.id, &found.secret_enc)
        .map_err(|e| ApiError::Internal { detail: format!("cannot read the webhook secret: {e}") })?;
    tracing::info!(webhook_id = %found.id, "webhook secret revealed");
    Ok(found.view(Some(secret), time::now()))
}

/// Sends a `webhook.test` event to this endpoint now.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id.")),
    responses(
        (status = 202, description = "Queued; follow it at `/v1/webhooks/deliveries/{delivery_id}`.", body = TestEventResponse),
        (status = 409, description = "`conflict`: the endpoint is disabled.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/webhooks/{webhook_id}/test")]
pub async fn test_webhook(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, delivery_id) = send_test(&state, &caller.account.id, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(TestEventResponse { ok: true, event_id, delivery_id }))
}

/// Queues a `webhook.test` event for the endpoint: its event and delivery ids.
pub async fn send_test(state: &AppState, account_id: &str, id: String) -> Result<(String, String), ApiError> {
    let account_id = account_id.to_owned();
    let ids = state
        .db
        .write(move |conn| -> Result<(String, String), ApiError> {
            let endpoint = queries::find_endpoint(conn, &account_id, &id)?.ok_or_else(not_found)?;
            if !endpoint.enabled {
                return Err(ApiError::Conflict("This webhook is disabled; enable it to send a test event.".into()));
            }
            Ok(queries::insert_test_event(conn, &account_id, &endpoint.id)?)
        })
        .await?;
    WAKE.notify_one();
    Ok(ids)
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// 1 to 100, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An endpoint's deliveries, newest first, each with every attempt; cursor pagination.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("webhook_id" = String, Path, description = "The `whk_…` id."), DeliveryQuery),
    responses((status = 200, description = "A page of deliveries.", body = DeliveryList))
)]
#[get("/v1/webhooks/{webhook_id}/deliveries")]
pub async fn list_deliveries(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    query: web::Query<DeliveryQuery>,
) -> Result<web::Json<DeliveryList>, ApiError> {
    Ok(web::Json(deliveries(&state, &caller.account.id, path.into_inner(), query.into_inner()).await?))
}

/// One page of an endpoint's deliveries with their attempts, or 404 for another account's.
pub async fn deliveries(
    state: &AppState,
    account_id: &str,
    id: String,
    q: DeliveryQuery,
) -> Result<DeliveryList, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid("limit", "`limit` must be between 1 and 100."));
    }
    let status = match q.status.as_deref() {
        None => None,
        Some(s @ ("pending" | "delivered" | "failed")) => Some(DeliveryStatus::parse(s)),
        Some(s) => {
            return Err(ApiError::invalid(
                "status",
                format!("`{s}` is not a delivery status; use pending, delivered or failed."),
            ));
        }
    };
    let account_id = account_id.to_owned();
    let mut rows = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            queries::find_endpoint(conn, &account_id, &id)?.ok_or_else(not_found)?;
            Ok(queries::list_deliveries(conn, &id, q.cursor.as_deref(), status, limit)?)
        })
        .await?;
    let has_more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(50));
    let next_cursor = if has_more { rows.last().map(|((d, _), _)| d.id.clone()) } else { None };
    let deliveries = rows.into_iter().map(|((d, event_type), attempts)| d.view(event_type, attempts, None)).collect();
    Ok(DeliveryList { ok: true, deliveries, next_cursor, has_more })
}

/// One delivery: its event's body, its state and every attempt.
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("delivery_id" = String, Path, description = "The `whd_…` id.")),
    responses((status = 200, description = "The delivery.", body = DeliveryResponse))
)]
#[get("/v1/webhooks/deliveries/{delivery_id}")]
pub async fn get_delivery(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<DeliveryResponse>, ApiError> {
    let (account_id, id) = (caller.account.id, path.into_inner());
    let (d, event_type, payload, attempts) = state
        .db
        .run(move |conn| queries::find_delivery(conn, &account_id, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(delivery_not_found)?;
    Ok(web::Json(DeliveryResponse { ok: true, delivery: d.view(event_type, attempts, Some(&payload)) }))
}

/// Delivers again now, whatever the delivery's state (same event id, so same `webhook-id`).
#[utoipa::path(
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("delivery_id" = String, Path, description = "The `whd_…` id.")),
    responses(
        (status = 202, description = "Due now.", body = OkResponse),
        (status = 409, description = "`conflict`: an attempt is in flight right now.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/webhooks/deliveries/{delivery_id}/retry")]
pub async fn retry_delivery(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    redeliver(&state, &caller.account.id, path.into_inner()).await?;
    Ok(HttpResponse::Accepted().json(OkResponse { ok: true }))
}

/// Makes a delivery due now (the API's retry and the console's redeliver).
pub async fn redeliver(state: &AppState, account_id: &str, id: String) -> Result<(), ApiError> {
    let account_id = account_id.to_owned();
    let done = state.db.write(move |conn| queries::redeliver(conn, &account_id, &id).map_err(ApiError::from)).await?;
    match done {
        Redeliver::Queued => {
            WAKE.notify_one();
            Ok(())
        }
        Redeliver::InFlight => {
            Err(ApiError::Conflict("An attempt of this delivery is in flight; try again in a moment.".into()))
        }
        Redeliver::NotFound => Err(delivery_not_found()),
    }
}
