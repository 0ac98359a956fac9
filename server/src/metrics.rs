//! `GET /metrics`: the operator's figures in the Prometheus (OpenMetrics) text format.
//!
//! Counters and the dispatch-latency histogram live in memory, bumped by the code that causes
//! them; one set per process, since one process is one server. What the database or the hub
//! already knows (messages waiting, devices online) is read when Prometheus scrapes, so it is
//! never out of step with the truth.

use std::sync::LazyLock;

use actix_web::{HttpResponse, web};
use diesel::dsl::count_star;
use diesel::prelude::*;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::db::DbConnection;
use crate::db::schema::{accounts, messages};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    pub status: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ClassLabel {
    class: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

/// Every figure the server exports.
pub struct Metrics {
    registry: Registry,
    /// Phone reports that moved a message, by the status they moved it to.
    reports: Family<StatusLabel, Counter>,
    /// Seconds from queued to handed to a phone.
    dispatch_latency: Histogram,
    /// HTTP answers by status class.
    responses: Family<ClassLabel, Counter>,
    /// Webhook attempts by outcome: `delivered`, `retry`, `failed` (final) or `gone` (410).
    webhook_attempts: Family<OutcomeLabel, Counter>,
    waiting: Family<StatusLabel, Gauge>,
    devices_online: Gauge,
    instances: Gauge,
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("relay");
        let reports = Family::<StatusLabel, Counter>::default();
        registry.register("messages_reported", "Phone reports that moved a message, by new status", reports.clone());
        // 1 ms .. ~33 s.
        let dispatch_latency = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "dispatch_latency_seconds",
            "Time from a message being queued to it being handed to a phone",
            dispatch_latency.clone(),
        );
        let responses = Family::<ClassLabel, Counter>::default();
        registry.register("http_responses", "HTTP answers by status class", responses.clone());
        let webhook_attempts = Family::<OutcomeLabel, Counter>::default();
        registry.register("webhook_attempts", "Webhook delivery attempts by outcome", webhook_attempts.clone());
        let waiting = Family::<StatusLabel, Gauge>::default();
        registry.register("messages_waiting", "Messages not yet sent: queued, or handed to a phone", waiting.clone());
        let devices_online = Gauge::default();
        registry.register("devices_online", "Phones connected to this server", devices_online.clone());
        let instances = Gauge::default();
        registry.register(
            "server_instances",
            "Live server instances sharing the database, this one included",
            instances.clone(),
        );
        Metrics { registry, reports, dispatch_latency, responses, webhook_attempts, waiting, devices_online, instances }
    }

    /// A phone's report moved a message to `status`.
    pub fn reported(&self, status: &'static str) {
        self.reports.get_or_create(&StatusLabel { status }).inc();
    }

    /// The live instances, as the last heartbeat counted them.
    pub fn set_instances(&self, n: u32) {
        self.instances.set(i64::from(n));
    }

    /// A message was handed to a phone `waited` seconds after it was queued.
    pub fn dispatched(&self, waited: f64) {
        self.dispatch_latency.observe(waited.max(0.0));
    }

    /// A webhook attempt ended so.
    pub fn webhook_attempt(&self, outcome: &'static str) {
        self.webhook_attempts.get_or_create(&OutcomeLabel { outcome }).inc();
    }

    /// The HTTP edge answered with `status`.
    pub fn answered(&self, status: u16) {
        let class = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        self.responses.get_or_create(&ClassLabel { class }).inc();
    }
}

/// Messages waiting per status, through the `(account_id, status, …)` index account by
/// account rather than by scanning the whole table.
fn waiting(conn: &mut DbConnection) -> QueryResult<Vec<(String, i64)>> {
    messages::table
        .filter(messages::account_id.eq_any(accounts::table.select(accounts::id)))
        .filter(messages::status.eq_any(["queued", "dispatched"]))
        .group_by(messages::status)
        .select((messages::status, count_star()))
        .load(conn)
}

/// The scrape. Not part of the JSON API (and so not in the OpenAPI document); keep it off the
/// public internet at the proxy.
pub async fn scrape(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let counts = state.db.run(|conn| waiting(conn).map_err(ApiError::from)).await?;
    let m = &*METRICS;
    for status in ["queued", "dispatched"] {
        let n = counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
        m.waiting.get_or_create(&StatusLabel { status }).set(n);
    }
    m.devices_online.set(i64::try_from(state.hub.online_count()).unwrap_or(i64::MAX));
    let mut body = String::new();
    encode(&mut body, &m.registry).map_err(|e| ApiError::Internal { detail: format!("metrics encoding: {e}") })?;
    Ok(HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(body))
}
