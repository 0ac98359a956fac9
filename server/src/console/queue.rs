//! Queue health in the console: running or blocked and why, pause and resume, counts per
//! status, the oldest wait, the last hour's sent and failed, and the phones online. Read
//! through the same function as `GET /v1/queue`; pausing writes what `POST /v1/queue/pause`
//! writes, its webhook event included.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use maud::{Markup, html};
use serde::Deserialize;

use super::auth::Session;
use super::i18n::Lang;
use super::pages::{self, Nav};
use super::routes::{Signed, api_failure, page, see_other};
use crate::queue::{self as api, QueueView};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchForm {
    csrf: String,
    /// `pause` or `resume`.
    action: String,
}

fn queue_page(lang: Lang, session: &Session, q: &QueueView) -> Markup {
    let t = lang.texts();
    let csrf = session.csrf_token();
    let counts = [
        ("queued", q.counts.queued),
        ("dispatched", q.counts.dispatched),
        ("sent", q.counts.sent),
        ("delivered", q.counts.delivered),
        ("failed", q.counts.failed),
        ("expired", q.counts.expired),
        ("canceled", q.counts.canceled),
    ];
    let paused = session.account.queue_paused_at.is_some();
    pages::layout(
        lang,
        t.queue,
        Some((&session.account, &csrf, Nav::Queue)),
        html! {
            div.card {
                h1 { (t.queue) }
                p #queue-state data-state=(q.state) {
                    strong { @if q.state == "running" { (t.running) } @else { span.error { (t.blocked) } } }
                    @if let Some(reason) = &q.reason { " — " bdi { (reason) } }
                }
                form method="post" action="/console/queue" {
                    input type="hidden" name="csrf" value=(csrf);
                    @if paused {
                        input type="hidden" name="action" value="resume";
                        button type="submit" { (t.resume) }
                    } @else {
                        input type="hidden" name="action" value="pause";
                        button type="submit" { (t.pause) }
                    }
                }
                table {
                    tbody {
                        @for (status, n) in counts {
                            tr data-count=(status) { th { (lang.status(status)) } td { (n) } }
                        }
                    }
                }
                dl {
                    dt { (t.oldest_wait) } dd { (q.oldest_queued_age_seconds) " s" }
                    dt { (t.last_hour) } dd { (lang.status("sent")) " " (q.sent_last_hour) ", " (lang.status("failed")) " " (q.failed_last_hour) }
                    dt { (t.devices) } dd { (q.devices_online) " / " (q.devices_paired) " " (t.state_online) }
                }
                @for w in &q.warnings { p.error role="alert" { bdi { (w.message) } } }
            }
        },
    )
}

pub async fn show(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    match api::view(&state, session.account.clone()).await {
        Ok(q) => page(StatusCode::OK, lang, queue_page(lang, &session, &q)),
        Err(e) => api_failure(lang, &e, None),
    }
}

pub async fn switch(signed: Signed, state: web::Data<AppState>, form: web::Form<SwitchForm>) -> HttpResponse {
    let form = form.into_inner();
    let Signed { lang, session } = match signed.with_csrf(&form.csrf) {
        Ok(signed) => signed,
        Err(refused) => return refused.page(),
    };
    let reason = match form.action.as_str() {
        "pause" => Some("paused from the console".to_owned()),
        "resume" => None,
        _ => return page(StatusCode::UNPROCESSABLE_ENTITY, lang, pages::problem(lang, lang.texts().form_expired)),
    };
    let id = session.account.id.clone();
    match state.db.write(move |conn| api::set_paused(conn, &id, reason.as_deref())).await {
        Ok(()) => see_other("/console/queue").finish(),
        Err(e) => api_failure(lang, &e, None),
    }
}
