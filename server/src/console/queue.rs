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
use crate::queue::{self as api, QueueHealth, QueueView};
use crate::state::AppState;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SwitchForm {
    csrf: String,
    /// `pause` or `resume`.
    action: String,
}

fn queue_page(lang: Lang, session: &Session, q: &QueueView, health: &QueueHealth) -> Markup {
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
            div.card {
                h2 { (t.last_day) }
                (chart(lang, health))
                h2 { (t.failure_reasons) }
                @if health.failure_reasons.is_empty() {
                    p #no-failures { (t.no_failures) }
                } @else {
                    table #failure-reasons {
                        thead { tr { th { (t.failure) } th { (t.count) } th { (t.example) } } }
                        tbody {
                            @for r in &health.failure_reasons {
                                tr data-reason=(r.code) {
                                    td { code { (r.code) } }
                                    td.count { (r.count) }
                                    td { @if let Some(e) = &r.example { bdi { (e) } } }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}

/// Chart geometry, in SVG user units.
const CHART_W: i64 = 720;
const CHART_H: i64 = 180;
const AXIS: i64 = 20;

/// Sent and failed per hour as grouped bars: drawn here as SVG (no script, no library), with
/// each bar's figures in its `<title>` for a hover and for screen readers.
fn chart(lang: Lang, health: &QueueHealth) -> Markup {
    let t = lang.texts();
    let top = health.hours.iter().map(|h| h.sent.max(h.failed)).max().unwrap_or(0).max(1);
    let slot = CHART_W / health.hours.len().max(1) as i64;
    let bar = (slot - 6) / 2;
    let plot = CHART_H - AXIS;
    let height = |n: i64| n * (plot - 10) / top;
    let label = format!("{}: {} / {}", t.last_day, lang.status("sent"), lang.status("failed"));
    html! {
        figure.chart {
            // Time runs left to right in either language.
            svg #hourly-chart viewBox={ "0 0 " (CHART_W) " " (CHART_H) } role="img" aria-label=(label)
                xmlns="http://www.w3.org/2000/svg" direction="ltr" {
                line x1="0" y1=(plot) x2=(CHART_W) y2=(plot) stroke="#8a93a3" {}
                text x="2" y="10" font-size="10" fill="#555" { (top) }
                @for (i, h) in health.hours.iter().enumerate() {
                    @let x = i as i64 * slot + 3;
                    @let hour = h.hour.0.format("%H:00").to_string();
                    g.hour data-hour=(h.hour.rfc3339()) data-sent=(h.sent) data-failed=(h.failed) {
                        title { (hour) " UTC — " (lang.status("sent")) " " (h.sent) ", " (lang.status("failed")) " " (h.failed) }
                        rect.sent x=(x) y=(plot - height(h.sent)) width=(bar) height=(height(h.sent)) fill="#2f6fde" {}
                        rect.failed x=(x + bar) y=(plot - height(h.failed)) width=(bar) height=(height(h.failed)) fill="#c62828" {}
                        @if i % 6 == 0 {
                            text x=(x) y=(CHART_H - 5) font-size="10" fill="#555" { (hour) }
                        }
                    }
                }
            }
            figcaption {
                span.key style="color:#2f6fde" { "■ " } (lang.status("sent")) " "
                span.key style="color:#c62828" { "■ " } (lang.status("failed")) " · " (t.hours_utc)
            }
        }
    }
}

pub async fn show(signed: Signed, state: web::Data<AppState>) -> HttpResponse {
    let Signed { lang, session } = signed;
    let both = async {
        Ok::<_, crate::error::ApiError>((
            api::view(&state, session.account.clone()).await?,
            api::health(&state, &session.account.id).await?,
        ))
    };
    match both.await {
        Ok((q, health)) => page(StatusCode::OK, lang, queue_page(lang, &session, &q, &health)),
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
