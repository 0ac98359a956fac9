//! Messages in the console: search by request id, number, status, batch or time, and one
//! message's page with its timeline, attempts, device and failure, kept live by the script.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page, see_other};
use crate::messages::models::{MessageView, Status};
use crate::messages::routes::{self as api, ListQuery, MessageList};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Search {
    /// A request id (`req_…`) opens that message; anything else is a number.
    q: String,
    status: String,
    batch_id: String,
    since: String,
    until: String,
    cursor: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

/// The status cell; its labels in every status ride along as JSON for the live script.
pub(super) fn status_cell(lang: Lang, status: &str, id: &str) -> Markup {
    let labels: std::collections::BTreeMap<&str, &str> =
        Status::ALL.iter().map(|s| (s.as_str(), lang.status(s.as_str()))).collect();
    let labels = serde_json::to_string(&labels).unwrap_or_default();
    html! {
        span data-message-status=(id) data-state=(status) data-labels=(labels) { (lang.status(status)) }
    }
}

fn search_form(lang: Lang, s: &Search) -> Markup {
    let t = lang.texts();
    html! {
        form.search method="get" action="/console/messages" role="search" {
            input type="search" name="q" value=(s.q) placeholder=(t.search_hint) aria-label=(t.search_hint);
            select name="status" aria-label=(t.status) {
                option value="" { (t.any_status) }
                @for st in Status::ALL {
                    option value=(st.as_str()) selected[s.status == st.as_str()] { (lang.status(st.as_str())) }
                }
            }
            input type="text" name="batch_id" value=(s.batch_id) placeholder="bat_…" aria-label="batch_id";
            input type="datetime-local" name="since" value=(s.since) aria-label=(t.since) title=(t.since);
            input type="datetime-local" name="until" value=(s.until) aria-label=(t.until) title=(t.until);
            button type="submit" { (t.search) }
        }
    }
}

/// `datetime-local` gives `2026-03-14T12:30`; the API wants RFC 3339 (UTC).
fn rfc3339(local: &str) -> Option<String> {
    some(local).map(|v| if v.len() == 16 { format!("{v}:00Z") } else { v })
}

fn list_page(lang: Lang, session: &Session, s: &Search, found: &MessageList) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    let next = found.next_cursor.as_ref().map(|c| {
        let query = serde_urlencoded::to_string([
            ("q", s.q.as_str()),
            ("status", s.status.as_str()),
            ("batch_id", s.batch_id.as_str()),
            ("since", s.since.as_str()),
            ("until", s.until.as_str()),
            ("cursor", c.as_str()),
        ])
        .unwrap_or_default();
        format!("/console/messages?{query}")
    });
    pages::layout(
        lang,
        t.messages,
        Some((&session.account, &csrf, Nav::Messages)),
        html! {
            div.card {
                h1 { (t.messages) }
                (search_form(lang, s))
                @if found.messages.is_empty() {
                    p { (t.no_messages) }
                } @else {
                    table {
                        thead { tr {
                            th { (t.request_id) } th { (t.recipient) } th { (t.status) } th { (t.device) }
                            th { (t.segments) } th { (t.queued_at) }
                        } }
                        tbody {
                            @for m in &found.messages {
                                tr {
                                    td { a href={ "/console/messages/" (m.request_id) } { code { (m.request_id) } } }
                                    td { bdi { (m.to) } }
                                    td { (status_cell(lang, m.status.as_str(), &m.request_id)) }
                                    td { bdi { (m.device_name.as_deref().unwrap_or("—")) } }
                                    td { (m.segments) }
                                    td { (m.queued_at.rfc3339()) }
                                }
                            }
                        }
                    }
                    @if let Some(next) = next {
                        p { a href=(next) { (t.older) } }
                    }
                }
            }
        },
    )
}

pub async fn list(signed: Signed, state: web::Data<AppState>, search: web::Query<Search>) -> HttpResponse {
    let Signed { lang, session } = signed;
    let s = search.into_inner();
    if s.q.trim().starts_with("req_") {
        return see_other(&format!("/console/messages/{}", s.q.trim())).finish();
    }
    let query = ListQuery {
        status: some(&s.status),
        to: some(&s.q),
        batch_id: some(&s.batch_id),
        since: rfc3339(&s.since),
        until: rfc3339(&s.until),
        cursor: some(&s.cursor),
        ..Default::default()
    };
    match api::list(&state, &session.account, query).await {
        Ok(found) => page(StatusCode::OK, lang, list_page(lang, &session, &s, &found)),
        Err(e) => api_failure(lang, &e, None),
    }
}

fn message_page(lang: Lang, session: &Session, m: &MessageView) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    pages::layout(
        lang,
        &m.request_id,
        Some((&session.account, &csrf, Nav::Messages)),
        html! {
            div.card data-live-message=(m.request_id) {
                h1 { code { (m.request_id) } }
                dl {
                    dt { (t.status) } dd { (status_cell(lang, m.status.as_str(), &m.request_id)) }
                    dt { (t.recipient) } dd { bdi { (m.to) } }
                    dt { (t.text) } dd { bdi { (m.message) } }
                    dt { (t.segments) } dd { (m.segments) " (" (m.encoding) ")" }
                    dt { (t.device) } dd { bdi { (m.device_name.as_deref().unwrap_or("—")) } }
                    dt { (t.attempts) } dd { (m.attempts) }
                    @if let Some(f) = &m.failure {
                        dt { (t.failure) } dd.error { code { (f.code) } " — " (f.reason) }
                    }
                }
                h2 { (t.timeline) }
                ol #timeline {
                    @for e in m.events.iter().flatten() {
                        li {
                            (e.at.rfc3339()) " — " (lang.status(&e.status))
                            @if let Some(d) = &e.detail { " — " bdi { (d) } }
                        }
                    }
                }
            }
        },
    )
}

pub async fn show(signed: Signed, state: web::Data<AppState>, path: web::Path<String>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::full_view(&state, session.account.id.clone(), path.into_inner()).await {
        Ok(m) => page(StatusCode::OK, lang, message_page(lang, &session, &m)),
        Err(e) => api_failure(lang, &e, None),
    }
}
