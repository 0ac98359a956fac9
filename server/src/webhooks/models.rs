use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::{webhook_attempts, webhook_deliveries, webhook_endpoints};
use crate::time::Timestamp;

/// Where a delivery is: `pending` (due, in flight or waiting for a retry), `delivered` (a 2xx
/// answer), `failed` (a final answer, or retries exhausted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Delivered,
    Failed,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> DeliveryStatus {
        match s {
            "delivered" => DeliveryStatus::Delivered,
            "failed" => DeliveryStatus::Failed,
            _ => DeliveryStatus::Pending,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub struct Endpoint {
    pub id: String,
    pub account_id: String,
    pub url: String,
    pub description: Option<String>,
    /// JSON array of event types; `["*"]` for all.
    pub events: String,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub secret_enc: String,
    pub previous_secret_enc: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Whether an endpoint's stored `events` list takes `event`.
pub fn subscribes(events_json: &str, event: &str) -> bool {
    serde_json::from_str::<Vec<String>>(events_json).is_ok_and(|list| list.iter().any(|e| e == "*" || e == event))
}

impl Endpoint {
    pub fn event_list(&self) -> Vec<String> {
        serde_json::from_str(&self.events).unwrap_or_default()
    }

    pub fn view(&self, secret: Option<String>, now: NaiveDateTime) -> EndpointView {
        EndpointView {
            id: self.id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.event_list(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            failing_since: self.failing_since.map(Into::into),
            previous_secret_expires_at: self.previous_secret_until.filter(|t| *t > now).map(Into::into),
            created_at: self.created_at.into(),
            updated_at: self.updated_at.into(),
            secret,
        }
    }
}

/// A webhook endpoint as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointView {
    #[schema(example = "whk_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    #[schema(example = "https://hooks.example.com/relay")]
    pub url: String,
    pub description: Option<String>,
    /// Event types sent here; `*` means every type.
    #[schema(example = json!(["message.delivered", "message.failed"]))]
    pub events: Vec<String>,
    pub enabled: bool,
    /// Why the server disabled it: a `410 Gone` answer, or 5 days of failed attempts.
    pub disabled_reason: Option<String>,
    /// Since when every attempt has failed (`null` once one succeeds).
    pub failing_since: Option<Timestamp>,
    /// During a secret rotation's 24 h overlap: when the previous secret stops signing.
    pub previous_secret_expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The signing secret: shown only when created, rotated or asked for
    /// (`GET /v1/webhooks/{webhook_id}/secret`). Only its encrypted form is stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub secret: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointResponse {
    pub ok: bool,
    pub webhook: EndpointView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointList {
    pub ok: bool,
    pub webhooks: Vec<EndpointView>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEndpoint {
    /// Where to POST events: http or https, a public address.
    #[schema(example = "https://hooks.example.com/relay")]
    pub url: String,
    /// Event types to send; omitted or `["*"]`: all of them.
    #[schema(example = json!(["message.sent", "message.delivered", "message.failed"]))]
    pub events: Option<Vec<String>>,
    #[schema(example = "Order system")]
    pub description: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEndpoint {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<String>,
    /// `true` re-enables an endpoint the server disabled, and its pending deliveries resume.
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub struct Delivery {
    pub id: String,
    pub event_id: String,
    pub endpoint_id: String,
    pub account_id: String,
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<NaiveDateTime>,
    pub claimed_until: Option<NaiveDateTime>,
    pub last_http_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub delivered_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_attempts, treat_none_as_default_value = false)]
pub struct Attempt {
    pub delivery_id: String,
    pub number: i32,
    pub at: NaiveDateTime,
    pub http_status: Option<i32>,
    pub duration_ms: i32,
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub next_attempt_at: Option<NaiveDateTime>,
}

/// One attempt to deliver, as the attempt log shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptView {
    /// 1 for the first attempt.
    pub number: i32,
    pub at: Timestamp,
    /// The receiver's HTTP status; `null` when no answer came (see `error`).
    pub http_status: Option<i32>,
    pub duration_ms: i32,
    /// The first 1 KB of the response body.
    pub response_body: Option<String>,
    /// Why no usable answer came: connection refused, timeout, a refused address…
    pub error: Option<String>,
    /// When the next attempt is due; `null` when this one was the last.
    pub next_attempt_at: Option<Timestamp>,
}

impl From<Attempt> for AttemptView {
    fn from(a: Attempt) -> Self {
        AttemptView {
            number: a.number,
            at: a.at.into(),
            http_status: a.http_status,
            duration_ms: a.duration_ms,
            response_body: a.response_body,
            error: a.error,
            next_attempt_at: a.next_attempt_at.map(Into::into),
        }
    }
}

/// One event's delivery to one endpoint, with every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    #[schema(example = "whd_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub id: String,
    /// Also the `webhook-id` header: the same on every attempt, so receivers can de-duplicate.
    #[schema(example = "evt_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub event_id: String,
    #[schema(example = "message.delivered")]
    pub event_type: String,
    pub webhook_id: String,
    pub status: DeliveryStatus,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// Every attempt, oldest first.
    pub attempts: Vec<AttemptView>,
    /// The event body sent (on `GET /v1/webhooks/deliveries/{delivery_id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub payload: Option<serde_json::Value>,
}

impl Delivery {
    pub fn view(self, event_type: String, attempts: Vec<Attempt>, payload: Option<&str>) -> DeliveryView {
        let status = DeliveryStatus::parse(&self.status);
        DeliveryView {
            id: self.id,
            event_id: self.event_id,
            event_type,
            webhook_id: self.endpoint_id,
            status,
            next_attempt_at: self.next_attempt_at.filter(|_| status == DeliveryStatus::Pending).map(Into::into),
            created_at: self.created_at.into(),
            delivered_at: self.delivered_at.map(Into::into),
            attempts: attempts.into_iter().map(Into::into).collect(),
            payload: payload.and_then(|p| serde_json::from_str(p).ok()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryResponse {
    pub ok: bool,
    pub delivery: DeliveryView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub ok: bool,
    pub deliveries: Vec<DeliveryView>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

/// A queued test event.
#[derive(Debug, Serialize, ToSchema)]
pub struct TestEventResponse {
    pub ok: bool,
    #[schema(example = "evt_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub event_id: String,
    #[schema(example = "whd_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub delivery_id: String,
}

/// The body every webhook POST carries.
#[derive(Debug, Serialize)]
pub struct EventBody<'a> {
    pub id: &'a str,
    #[serde(rename = "type")]
    pub event_type: &'a str,
    pub created_at: Timestamp,
    pub data: serde_json::Value,
}
