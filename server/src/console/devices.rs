//! Devices in the console: the list with each phone's live figures, rename, enable/disable,
//! unpair, and pairing a new phone by QR code. Changes go through the same functions as the
//! API's `PATCH`/`DELETE /v1/devices/{id}`, so the hub hears of them the same way.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::{Lang, Texts};
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page, see_other};
use crate::devices::models::DeviceView;
use crate::devices::routes::{self as api, UpdateDevice};
use crate::devices::{pairing, qr};
use crate::error::ApiError;
use crate::state::AppState;
use crate::time::Timestamp;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeviceForm {
    csrf: String,
    action: String,
    name: String,
}

fn state_label(t: &Texts, state: &str) -> &'static str {
    match state {
        "online" => t.state_online,
        "degraded" => t.state_degraded,
        "disabled" => t.state_disabled,
        _ => t.state_offline,
    }
}

/// The state cell, with every label in its data attributes so the live script can switch it.
fn state_cell(t: &Texts, d: &DeviceView) -> Markup {
    html! {
        span data-device-state=(d.id) data-state=(d.state)
            data-label-online=(t.state_online) data-label-offline=(t.state_offline)
            data-label-degraded=(t.state_degraded) data-label-disabled=(t.state_disabled) {
            (state_label(t, d.state))
        }
    }
}

fn when(t: &Texts, at: Option<&Timestamp>) -> String {
    at.map_or_else(|| t.never.to_owned(), Timestamp::rfc3339)
}

fn list_page(lang: Lang, session: &Session, devices: &[DeviceView]) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    pages::layout(
        lang,
        t.devices,
        Some((&session.account, &csrf, Nav::Devices)),
        html! {
            div.card {
                h1 { (t.devices) }
                form method="post" action="/console/devices/pair" {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { (t.pair_phone) }
                }
                @if devices.is_empty() {
                    p { (t.no_devices) }
                } @else {
                    table {
                        thead { tr {
                            th { (t.device_name) } th { (t.device_state) } th { (t.last_heartbeat) }
                            th { (t.battery) } th { (t.signal) } th { (t.sims) } th { (t.in_flight) } th { (t.pacing) } th {}
                        } }
                        tbody {
                            @for d in devices {
                                tr data-device=(d.id) {
                                    td { bdi { (d.name) } }
                                    td { (state_cell(t, d)) }
                                    td { (when(t, d.last_heartbeat_at.as_ref())) }
                                    td {
                                        @if let Some(b) = d.battery_percent { (b) "%" }
                                        @if d.charging == Some(true) { " (" (t.charging) ")" }
                                    }
                                    td { @if let Some(s) = d.signal_level { (s) "/4" } }
                                    td { @for sim in &d.sims { bdi { (sim.carrier.as_deref().unwrap_or("SIM")) } " " } }
                                    td { (d.in_flight) }
                                    td { (d.pacing.parts_per_minute) " " (t.per_minute) ", " (d.pacing.parts_per_day) " " (t.per_day) }
                                    td { (actions(t, &csrf, d)) }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

fn actions(t: &Texts, csrf: &str, d: &DeviceView) -> Markup {
    let to = format!("/console/devices/{}", d.id);
    html! {
        form.inline method="post" action=(to) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value="rename";
            input type="text" name="name" value=(d.name) aria-label=(t.device_name) maxlength="100" required;
            button type="submit" { (t.rename) }
        }
        form.inline method="post" action=(to) {
            input type="hidden" name="csrf" value=(csrf);
            @if d.enabled {
                input type="hidden" name="action" value="disable";
                button type="submit" { (t.disable) }
            } @else {
                input type="hidden" name="action" value="enable";
                button type="submit" { (t.enable) }
            }
        }
        form.inline method="post" action=(to) {
            input type="hidden" name="csrf" value=(csrf);
            input type="hidden" name="action" value="unpair";
            button type="submit" { (t.unpair) }
        }
    }
}

pub async fn list(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::list_views(&state, &session.account.id).await {
        Ok(devices) => page(StatusCode::OK, lang, list_page(lang, &session, &devices)),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_name)),
    }
}

pub async fn change(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<DeviceForm>,
) -> HttpResponse {
    let form = form.into_inner();
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let paused = session.account.queue_paused_at.is_some();
    let done = async {
        let device = api::find(&state, session.account.id.clone(), path.into_inner()).await?;
        match form.action.as_str() {
            "rename" => {
                api::update(&state, &device, UpdateDevice { name: Some(form.name), ..Default::default() }, paused)
                    .await
                    .map(drop)
            }
            "enable" | "disable" => {
                let enabled = Some(form.action == "enable");
                api::update(&state, &device, UpdateDevice { enabled, ..Default::default() }, paused).await.map(drop)
            }
            "unpair" => api::unpair(&state, &device).await,
            _ => Err(ApiError::invalid("action", "unknown action")),
        }
    };
    match done.await {
        Ok(()) => see_other("/console/devices").finish(),
        Err(e) => api_failure(lang, &e, Some(lang.texts().bad_name)),
    }
}

pub async fn pair(
    signed: Signed,
    state: web::Data<AppState>,
    form: web::Form<super::routes::CsrfForm>,
) -> HttpResponse {
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let made = async {
        let known = api::list_views(&state, &session.account.id).await?;
        let offer = pairing::offer(&state, &session.account.id).await?;
        let svg = qr::svg(&offer.qr_payload).map_err(|e| ApiError::Internal { detail: e.to_string() })?;
        Ok::<_, ApiError>((known, offer, svg))
    };
    let (known, offer, svg) = match made.await {
        Ok(made) => made,
        Err(e) => return api_failure(lang, &e, Some(lang.texts().bad_name)),
    };
    let t = lang.texts();
    let known_ids = serde_json::to_string(&known.iter().map(|d| d.id.as_str()).collect::<Vec<_>>()).unwrap_or_default();
    let csrf = session.csrf_token();
    let body = html! {
        div.card {
            h1 { (t.pair_title) }
            p { (t.pair_steps) }
            // Our own SVG, drawn by the qrcode crate from the payload: no outside markup.
            figure.qr data-payload=(offer.qr_payload) { (PreEscaped(svg)) }
            dl {
                dt { (t.pairing_code) } dd { code #pairing-code { (offer.code) } }
                dt { (t.server_address) } dd { code { (state.public_url) } }
                dt { (t.expires_at) } dd { (Timestamp(offer.expires_at).rfc3339()) }
            }
            p #pair-status data-known=(known_ids) data-paired="false" {
                span.waiting { (t.waiting_for_phone) }
                span.connected hidden { (t.phone_connected) " " bdi.name {} }
            }
            p { a href="/console/devices" { (t.devices) } }
        }
    };
    page(StatusCode::OK, lang, pages::layout(lang, t.pair_title, Some((&session.account, &csrf, Nav::Devices)), body))
}
