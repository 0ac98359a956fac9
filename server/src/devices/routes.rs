use actix_web::{HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::models::{Device, DeviceView, PacingView};
use super::queries::{self, DeviceChanges};
use super::{pairing, qr};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::json::ApiJson;
use crate::messages::queries as messages;
use crate::state::AppState;
use crate::time::Timestamp;
use crate::webhooks::{self, EventType};

#[derive(Debug, Serialize, ToSchema)]
pub struct PairingResponse {
    pub ok: bool,
    /// Type it into the app, or scan `qr_payload`. Single use; lives 10 minutes.
    #[schema(example = "K7D2-9QXM")]
    pub pairing_code: String,
    #[schema(example = "relay://pair?server=https%3A%2F%2Fsms.example.com&code=K7D2-9QXM")]
    pub qr_payload: String,
    /// The QR code of `qr_payload` as an SVG image.
    pub qr_svg: String,
    pub expires_at: Timestamp,
}

/// Starts pairing a phone: a single-use code, and the QR code the app scans.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 201, description = "A new pairing code.", body = PairingResponse))
)]
#[post("/v1/devices/pairing")]
pub async fn start_pairing(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let offer = pairing::offer(&state, &caller.account.id).await?;
    let qr_svg = qr::svg(&offer.qr_payload).map_err(|e| ApiError::Internal { detail: e.to_string() })?;
    Ok(HttpResponse::Created().json(PairingResponse {
        ok: true,
        pairing_code: offer.code,
        qr_payload: offer.qr_payload,
        qr_svg,
        expires_at: offer.expires_at.into(),
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceList {
    pub ok: bool,
    pub devices: Vec<DeviceView>,
}

/// The account's devices as the API and the console show them.
pub async fn list_views(state: &AppState, account_id: &str) -> Result<Vec<DeviceView>, ApiError> {
    let account_id = account_id.to_owned();
    let list = state.db.run(move |conn| queries::list(conn, &account_id).map_err(ApiError::from)).await?;
    views(state, list).await
}

async fn views(state: &AppState, list: Vec<Device>) -> Result<Vec<DeviceView>, ApiError> {
    let ids: Vec<String> = list.iter().map(|d| d.id.clone()).collect();
    let counts = state.db.run(move |conn| queries::in_flight(conn, &ids).map_err(ApiError::from)).await?;
    Ok(list
        .into_iter()
        .map(|mut d| {
            // The hub is the truth about this server's live connections.
            d.online = d.online || state.hub.is_online(&d.id);
            let n = counts.iter().find(|(id, _)| *id == d.id).map(|(_, n)| *n).unwrap_or(0);
            d.view(n)
        })
        .collect())
}

/// The account's paired devices with their health.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = []), ("api_key" = [])),
    responses((status = 200, description = "The devices.", body = DeviceList))
)]
#[get("/v1/devices")]
pub async fn list_devices(caller: Caller, state: web::Data<AppState>) -> Result<web::Json<DeviceList>, ApiError> {
    Ok(web::Json(DeviceList { ok: true, devices: list_views(&state, &caller.account.id).await? }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceResponse {
    pub ok: bool,
    #[serde(flatten)]
    pub device: DeviceView,
}

/// The account's device with this id, or 404: another account's id finds nothing.
pub async fn find(state: &AppState, account_id: String, id: String) -> Result<Device, ApiError> {
    state
        .db
        .run(move |conn| queries::find_for_account(conn, &account_id, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::NotFound("This account has no device with that id.".into()))
}

async fn one(state: &AppState, device: Device) -> Result<web::Json<DeviceResponse>, ApiError> {
    let device = views(state, vec![device]).await?.into_iter().next();
    device
        .map(|device| web::Json(DeviceResponse { ok: true, device }))
        .ok_or_else(|| ApiError::Internal { detail: "device view vanished".into() })
}

/// One device: online state, last heartbeat and its figures, work in flight, pacing.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = []), ("api_key" = [])),
    params(("device_id" = String, Path, description = "The device's id, `dev_…`.")),
    responses((status = 200, description = "The device.", body = DeviceResponse))
)]
#[get("/v1/devices/{device_id}")]
pub async fn get_device(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<DeviceResponse>, ApiError> {
    let device = find(&state, caller.account.id, path.into_inner()).await?;
    one(&state, device).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDevice {
    pub name: Option<String>,
    /// `false` stops new work; `true` also clears a `degraded` state.
    pub enabled: Option<bool>,
    pub pacing: Option<PacingView>,
}

/// Renames, enables or disables a device, or changes its pacing.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = []), ("api_key" = [])),
    params(("device_id" = String, Path, description = "The device's id, `dev_…`.")),
    request_body = UpdateDevice,
    responses((status = 200, description = "The updated device.", body = DeviceResponse))
)]
#[patch("/v1/devices/{device_id}")]
pub async fn update_device(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
    body: ApiJson<UpdateDevice>,
) -> Result<web::Json<DeviceResponse>, ApiError> {
    // A paused queue stays blocked whatever its phones do.
    let paused = caller.account.queue_paused_at.is_some();
    let device = find(&state, caller.account.id, path.into_inner()).await?;
    let updated = update(&state, &device, body.into_inner(), paused).await?;
    one(&state, updated).await
}

/// Applies the changes and tells the hub (pacing, whether it may take work). `paused`: the
/// queue is paused by hand, so phones coming and going neither block nor resume it.
pub async fn update(state: &AppState, device: &Device, body: UpdateDevice, paused: bool) -> Result<Device, ApiError> {
    let changes = changes(body)?;
    let (id, account_id) = (device.id.clone(), device.account_id.clone());
    let updated = state
        .db
        .write(move |conn| -> Result<Device, ApiError> {
            // Disabling the last usable phone blocks the queue; re-enabling one unblocks it:
            // both are webhook events, recorded with the change.
            let before = queries::counts(conn, &account_id)?.usable;
            let updated = queries::update(conn, &id, &changes)?;
            let after = queries::counts(conn, &account_id)?.usable;
            let event = match (before, after) {
                _ if paused => None,
                (0, 1..) => Some((EventType::QueueResumed, "a usable device is back")),
                (1.., 0) => Some((EventType::QueueBlocked, "no usable device: all are disabled or degraded")),
                _ => None,
            };
            if let Some((event, reason)) = event {
                webhooks::record(conn, &account_id, event, |_| {
                    Ok(serde_json::json!({"reason": reason, "device_id": id}))
                })?;
            }
            Ok(updated)
        })
        .await?;
    let pacing = updated.pacing();
    state.hub.set_pacing(&updated.id, pacing.parts_per_minute, pacing.parts_per_day);
    state.hub.set_usable(&updated.id, updated.usable());
    Ok(updated)
}

fn changes(body: UpdateDevice) -> Result<DeviceChanges, ApiError> {
    let mut c = DeviceChanges::default();
    if let Some(name) = body.name {
        let name = name.trim().to_owned();
        if name.is_empty() || name.len() > 100 {
            return Err(ApiError::invalid("name", "Field `name` must be 1 to 100 characters."));
        }
        c.name = Some(name);
    }
    if let Some(enabled) = body.enabled {
        c.enabled = Some(enabled);
        if enabled {
            c.degraded_at = Some(None);
            c.consecutive_failures = Some(0);
        }
    }
    if let Some(p) = body.pacing {
        if !(0..=100_000).contains(&p.parts_per_minute) {
            return Err(ApiError::invalid(
                "pacing.parts_per_minute",
                "Field `pacing.parts_per_minute` must be 0 to 100000 (0: no limit).",
            ));
        }
        if !(0..=10_000_000).contains(&p.parts_per_day) {
            return Err(ApiError::invalid(
                "pacing.parts_per_day",
                "Field `pacing.parts_per_day` must be 0 to 10000000 (0: no limit).",
            ));
        }
        c.parts_per_minute = Some(p.parts_per_minute);
        c.parts_per_day = Some(p.parts_per_day);
    }
    Ok(c)
}

/// Unpairs a device: its token stops working at once, and work it never acknowledged is
/// re-routed to the account's other devices.
#[utoipa::path(
    tag = "devices",
    security(("bearer" = []), ("api_key" = [])),
    params(("device_id" = String, Path, description = "The device's id, `dev_…`.")),
    responses((status = 200, description = "Unpaired.", body = crate::http::OkResponse))
)]
#[delete("/v1/devices/{device_id}")]
pub async fn unpair_device(
    caller: Caller,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> Result<web::Json<crate::http::OkResponse>, ApiError> {
    let device = find(&state, caller.account.id, path.into_inner()).await?;
    unpair(&state, &device).await?;
    Ok(web::Json(crate::http::OkResponse { ok: true }))
}

/// Revokes the device's token, re-routes its unacknowledged work and closes its link.
pub async fn unpair(state: &AppState, device: &Device) -> Result<(), ApiError> {
    let id = device.id.clone();
    state
        .db
        .run(move |conn| -> Result<(), ApiError> {
            queries::unpair(conn, &id)?;
            messages::settle_unpaired(conn, &id)?;
            Ok(())
        })
        .await?;
    state.hub.disconnect(&device.id);
    state.hub.wake();
    Ok(())
}
