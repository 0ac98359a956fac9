//! Webhooks in the console: the endpoints, and per endpoint its secret (revealed or rotated on
//! request), a test event, and the deliveries with every attempt (time, HTTP status, duration,
//! the start of the answer or the network error, the next try), each redeliverable. Through
//! the same functions as `/v1/webhooks`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{CsrfForm, Signed, api_failure, page, see_other};
use crate::error::ApiError;
use crate::state::AppState;
use crate::webhooks::models::{DeliveryView, EndpointView};
use crate::webhooks::routes::{self as api, DeliveryQuery};

fn endpoints_page(lang: Lang, session: &Session, list: &[EndpointView]) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    pages::layout(
        lang,
        t.webhooks,
        Some((&session.account, &csrf, Nav::Webhooks)),
        html! {
            div.card {
                h1 { (t.webhooks) }
                @if list.is_empty() {
                    p { (t.no_webhooks) }
                } @else {
                    table {
                        thead { tr { th { "URL" } th { (t.events) } th { (t.device_state) } } }
                        tbody {
                            @for e in list {
                                tr data-webhook=(e.id) {
                                    td { a href={ "/console/webhooks/" (e.id) } { bdi { (e.url) } } }
                                    td { @for ev in &e.events { code { (ev) } " " } }
                                    td {
                                        @if e.enabled { (t.enabled) } @else { span.error { (t.state_disabled) } }
                                        @if let Some(reason) = &e.disabled_reason { " — " bdi { (reason) } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// The endpoint's page, for a redirect: only an id-shaped segment goes into `Location`.
fn back_to(id: &str) -> String {
    if !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("/console/webhooks/{id}")
    } else {
        "/console/webhooks".to_owned()
    }
}

/// A one-button form posting the session's CSRF token to `action`.
fn button(csrf: &str, action: &str, label: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            input type="hidden" name="csrf" value=(csrf);
            button type="submit" { (label) }
        }
    }
}

fn delivery(lang: Lang, csrf: &str, webhook_id: &str, d: &DeliveryView) -> Markup {
    let t = lang.texts();
    html! {
        section.delivery data-delivery=(d.id) data-status=(d.status.as_str()) {
            h2 { code { (d.event_type) } " · " code { (d.event_id) } " · " (lang.delivery_status(d.status.as_str())) }
            (button(csrf, &format!("/console/webhooks/{webhook_id}/deliveries/{}/redeliver", d.id), t.redeliver))
            table {
                thead { tr {
                    th { "#" } th { (t.at) } th { "HTTP" } th { (t.duration) } th { (t.answer) } th { (t.next_attempt) }
                } }
                tbody {
                    @for a in &d.attempts {
                        tr.attempt {
                            td { (a.number) }
                            td { (a.at.rfc3339()) }
                            td.http { @if let Some(s) = a.http_status { (s) } @else { "—" } }
                            td { (a.duration_ms) " ms" }
                            td {
                                @if let Some(e) = &a.error { span.error { bdi { (e) } } }
                                @if let Some(b) = &a.response_body { code.body { bdi { (b) } } }
                            }
                            td { @if let Some(n) = &a.next_attempt_at { (n.rfc3339()) } }
                        }
                    }
                }
            }
        }
    }
}

/// The endpoint's page; `secret` when this answer reveals or has just rotated it.
async fn endpoint_page(
    state: &AppState,
    lang: Lang,
    session: &Session,
    id: String,
    secret: Option<(&str, bool)>,
) -> Result<Markup, ApiError> {
    let found = api::deliveries(state, &session.account.id, id.clone(), DeliveryQuery::default()).await?;
    let endpoint = api::endpoints(state, &session.account.id).await?.into_iter().find(|e| e.id == id);
    let t = lang.texts();
    let csrf = session.csrf_token();
    let to = |what: &str| format!("/console/webhooks/{id}/{what}");
    let body = html! {
        div.card {
            h1 { (t.attempt_log) " · " code { (id) } }
            @if let Some(e) = &endpoint {
                p { bdi { (e.url) } }
                @if let Some(until) = &e.previous_secret_expires_at {
                    p { small { (t.previous_secret_until) " " (until.rfc3339()) } }
                }
            }
            @if let Some((secret, rotated)) = secret {
                div.created role="status" {
                    p { strong { @if rotated { (t.secret_rotated) } @else { (t.secret_is) } } }
                    p { code #webhook-secret { (secret) } }
                }
            }
            p.actions {
                (button(&csrf, &to("secret"), t.reveal_secret)) " "
                (button(&csrf, &to("rotate"), t.rotate_secret)) " "
                (button(&csrf, &to("test"), t.send_test))
            }
            @if found.deliveries.is_empty() { p { (t.no_deliveries) } }
            @for d in &found.deliveries { (delivery(lang, &csrf, &id, d)) }
            p { a href="/console/webhooks" { (t.webhooks) } }
        }
    };
    Ok(pages::layout(lang, t.attempt_log, Some((&session.account, &csrf, Nav::Webhooks)), body))
}

pub async fn list(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::endpoints(&state, &session.account.id).await {
        Ok(list) => page(StatusCode::OK, lang, endpoints_page(lang, &session, &list)),
        Err(e) => api_failure(lang, &e, None),
    }
}

pub async fn show(signed: Signed, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match endpoint_page(&state, lang, &session, path.into_inner(), None).await {
        Ok(markup) => page(StatusCode::OK, lang, markup),
        Err(e) => api_failure(lang, &e, None),
    }
}

/// `secret`, `rotate` or `test` on one endpoint. The secret is shown on this answer only
/// (no-store, like a new API key); the others go back to the endpoint's page.
pub async fn act(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let (id, action) = path.into_inner();
    let secret = match action.as_str() {
        "secret" => api::reveal(&state, &session.account.id, id.clone()).await.map(|e| Some((e.secret, false))),
        "rotate" => api::rotate(&state, &session.account.id, id.clone()).await.map(|e| Some((e.secret, true))),
        "test" => api::send_test(&state, &session.account.id, id.clone()).await.map(|_| None),
        _ => Err(ApiError::NotFound("no such action".into())),
    };
    let shown = match secret {
        Ok(None) => return see_other(&back_to(&id)).finish(),
        Ok(Some((secret, rotated))) => secret.map(|s| (s, rotated)),
        Err(e) => return api_failure(lang, &e, None),
    };
    let shown = shown.as_ref().map(|(s, rotated)| (s.as_str(), *rotated));
    match endpoint_page(&state, lang, &session, id, shown).await {
        Ok(markup) => page(StatusCode::OK, lang, markup),
        Err(e) => api_failure(lang, &e, None),
    }
}

/// Delivers again now, then back to the endpoint's page.
pub async fn redeliver(
    signed: Signed,
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    form: web::Form<CsrfForm>,
) -> HttpResponse {
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let (webhook_id, delivery_id) = path.into_inner();
    match api::redeliver(&state, &session.account.id, delivery_id).await {
        Ok(()) => see_other(&back_to(&webhook_id)).finish(),
        Err(e) => api_failure(lang, &e, None),
    }
}
