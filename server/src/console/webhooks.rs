//! Webhooks in the console: the endpoints, and per endpoint the deliveries with every attempt
//! (time, HTTP status, duration, the start of the answer or the network error, the next try).
//! Read through the same functions as `GET /v1/webhooks` and its deliveries.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page};
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

fn delivery(lang: Lang, d: &DeliveryView) -> Markup {
    let t = lang.texts();
    html! {
        section.delivery data-delivery=(d.id) data-status=(d.status.as_str()) {
            h2 { code { (d.event_type) } " · " code { (d.event_id) } " · " (d.status.as_str()) }
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
                                @if let Some(b) = &a.response_body { code { bdi { (b) } } }
                            }
                            td { @if let Some(n) = &a.next_attempt_at { (n.rfc3339()) } }
                        }
                    }
                }
            }
        }
    }
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
    let id = path.into_inner();
    let found = api::deliveries(&state, &session.account.id, id.clone(), DeliveryQuery::default()).await;
    let found = match found {
        Ok(found) => found,
        Err(e) => return api_failure(lang, &e, None),
    };
    let t = lang.texts();
    let csrf = session.csrf_token();
    let body = html! {
        div.card {
            h1 { (t.attempt_log) " · " code { (id) } }
            @if found.deliveries.is_empty() { p { (t.no_deliveries) } }
            @for d in &found.deliveries { (delivery(lang, d)) }
            p { a href="/console/webhooks" { (t.webhooks) } }
        }
    };
    page(StatusCode::OK, lang, pages::layout(lang, t.attempt_log, Some((&session.account, &csrf, Nav::Webhooks)), body))
}
