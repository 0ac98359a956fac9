//! The phone-facing HTTP routes: pairing with a code, and upgrading to the device link.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use relay_protocol::pairing::{PairRequest, PairResponse};

use crate::devices::pairing::code_hash;
use crate::devices::queries::{self as devices, NewDevice, PairError};
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::secrets;
use crate::state::AppState;

const TOKEN_PREFIX: &str = "rd_";

/// Pairs a phone. No API key: the pairing code is the credential, and guessing is rate-limited
/// per client address.
#[utoipa::path(
    tag = "device link",
    request_body = PairRequest,
    responses(
        (status = 201, description = "Paired: the device's id and token (shown once).", body = PairResponse),
        (status = 401, description = "`unauthorized`: the code is wrong, used or expired.", body = relay_protocol::ErrorEnvelope),
        (status = 409, description = "`conflict`: the account's device limit is reached.", body = relay_protocol::ErrorEnvelope),
        (status = 429, description = "`rate_limited`: too many attempts from this address.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[post("/v1/device/pair")]
pub async fn pair(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: ApiJson<PairRequest>,
) -> Result<HttpResponse, ApiError> {
    let client = req.peer_addr().map(|a| a.ip().to_string()).unwrap_or_default();
    state.pair_limits.check(&client)?;
    let body = body.into_inner();
    let name = body.name.trim().to_owned();
    if name.is_empty() || name.len() > 100 {
        return Err(ApiError::invalid("name", "Field `name` must be 1 to 100 characters."));
    }
    let token = format!("{TOKEN_PREFIX}{}", secrets::random_alnum(40));
    let token_hash = secrets::sha256_hex(&token);
    let hash = code_hash(&body.code);
    let sims_json = serde_json::to_string(&body.sims).unwrap_or_else(|_| "[]".into());
    let device = state
        .db
        .run(move |conn| {
            let new = NewDevice {
                name: &name,
                model: body.model.as_deref(),
                app_version: body.app_version.as_deref(),
                sims_json: &sims_json,
                token_hash: &token_hash,
            };
            devices::pair(conn, &hash, &new).map_err(|e| match e {
                PairError::Db(e) => ApiError::from(e),
                PairError::DeviceLimit(_) => ApiError::Conflict(e.to_string()),
                other => ApiError::Unauthorized(other.to_string()),
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(PairResponse {
        ok: true,
        device_id: device.id,
        device_name: device.name,
        device_token: token,
        connect_url: connect_url(&state.public_url),
    }))
}

/// `https://host/base` → `wss://host/base/v1/device/connect` (and http → ws).
fn connect_url(public_url: &str) -> String {
    let ws = if let Some(rest) = public_url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else if let Some(rest) = public_url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else {
        public_url.to_owned()
    };
    format!("{}/v1/device/connect", ws.trim_end_matches('/'))
}

/// The device link. `Authorization: Bearer <device token>`; upgrades to a WebSocket that speaks
/// the protocol in `docs/PROTOCOL.md`.
#[utoipa::path(
    tag = "device link",
    security(("device_token" = [])),
    responses(
        (status = 101, description = "Switching to the WebSocket device link."),
        (status = 400, description = "`invalid_request`: not a WebSocket upgrade.", body = relay_protocol::ErrorEnvelope),
        (status = 401, description = "`unauthorized`: the device token is missing, wrong or revoked.", body = relay_protocol::ErrorEnvelope),
    )
)]
#[get("/v1/device/connect")]
pub async fn connect(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| t.starts_with(TOKEN_PREFIX))
        .ok_or_else(|| ApiError::Unauthorized("A device token is required: `Authorization: Bearer rd_…`.".into()))?;
    let hash = secrets::sha256_hex(token);
    let device =
        state.db.run(move |conn| devices::find_by_token(conn, &hash).map_err(ApiError::from)).await?.ok_or_else(
            || ApiError::Unauthorized("This device token is not valid: the device may have been unpaired.".into()),
        )?;
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|e| ApiError::InvalidRequest {
        message: format!("This endpoint only speaks WebSocket: {e}."),
        field: None,
    })?;
    let stream = stream.max_frame_size(64 * 1024).aggregate_continuations().max_continuation_size(256 * 1024);
    actix_web::rt::spawn(super::session::run(
        state.hub.clone(),
        state.db.clone(),
        state.settings,
        device,
        session,
        stream,
    ));
    Ok(response)
}
