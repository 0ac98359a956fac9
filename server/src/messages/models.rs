use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::schema::{message_events, messages};
use crate::time::Timestamp;

/// Where a message is. `queued → dispatched → sent → delivered`, or one of the final
/// `failed`, `expired`, `canceled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Queued,
    Dispatched,
    Sent,
    Delivered,
    Failed,
    Expired,
    Canceled,
}

impl Status {
    pub const ALL: [Status; 7] = [
        Status::Queued,
        Status::Dispatched,
        Status::Sent,
        Status::Delivered,
        Status::Failed,
        Status::Expired,
        Status::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Queued => "queued",
            Status::Dispatched => "dispatched",
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Failed => "failed",
            Status::Expired => "expired",
            Status::Canceled => "canceled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        matches!(self, Status::Delivered | Status::Failed | Status::Expired | Status::Canceled)
    }
}

/// Queue lanes: a lower lane always goes first, so OTP overtakes everything and bulk waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Otp = 0,
    High = 1,
    Normal = 2,
    Bulk = 3,
}

impl Lane {
    pub const ALL: [Lane; 4] = [Lane::Otp, Lane::High, Lane::Normal, Lane::Bulk];

    pub fn name(value: i16) -> &'static str {
        match value {
            0 => "otp",
            1 => "high",
            3 => "bulk",
            _ => "normal",
        }
    }
}

// `treat_none_as_default_value = false` (here and on every insertable model with optional
// fields): `None` is inserted as NULL rather than as DEFAULT, so the INSERT reads the same
// whatever the row holds and diesel prepares it once per connection instead of every time.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable, Insertable)]
#[diesel(table_name = messages, treat_none_as_default_value = false)]
pub struct Message {
    pub id: String,
    pub account_id: String,
    pub to_number: String,
    pub body: String,
    pub priority: i16,
    pub status: String,
    pub requested_device_id: Option<String>,
    pub device_id: Option<String>,
    pub sim: Option<i16>,
    pub encoding: String,
    pub segments: i32,
    pub metadata: Option<String>,
    pub batch_id: Option<String>,
    pub attempts: i32,
    pub failure_code: Option<String>,
    pub failure_reason: Option<String>,
    pub expires_at: NaiveDateTime,
    pub queued_at: NaiveDateTime,
    pub dispatched_at: Option<NaiveDateTime>,
    pub acked_at: Option<NaiveDateTime>,
    pub sent_at: Option<NaiveDateTime>,
    pub delivered_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
    pub updated_at: NaiveDateTime,
    /// The text with secrets masked (an OTP's code): what the API shows, and what `body`
    /// becomes once a phone holds the message. `None` for ordinary messages.
    pub redacted_body: Option<String>,
}

impl Message {
    pub fn status(&self) -> Status {
        Status::parse(&self.status).unwrap_or(Status::Queued)
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = message_events, treat_none_as_default_value = false)]
pub struct Event {
    pub id: String,
    pub message_id: String,
    pub status: String,
    pub detail: Option<String>,
    pub at: NaiveDateTime,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FailureView {
    #[schema(example = "no_service")]
    pub code: String,
    #[schema(example = "The phone has no mobile service.")]
    pub reason: String,
}

#[derive(Debug, PartialEq, Serialize, ToSchema)]
pub struct EventView {
    pub status: String,
    pub at: Timestamp,
    pub detail: Option<String>,
}

/// A message as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageView {
    pub ok: bool,
    #[schema(example = "req_01JDX4Q7ZK3V8J5B6N2M9R0T1W")]
    pub request_id: String,
    pub status: Status,
    #[schema(example = "+923001234567")]
    pub to: String,
    pub message: String,
    pub device_id: Option<String>,
    #[schema(example = "Relay Device 1")]
    pub device_name: Option<String>,
    pub sim: Option<i16>,
    /// `otp`, `high`, `normal` or `bulk`.
    pub priority: &'static str,
    /// How many times a phone was handed this message.
    pub attempts: i32,
    pub segments: i32,
    /// `gsm7` or `ucs2`.
    pub encoding: String,
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<serde_json::Value>,
    pub batch_id: Option<String>,
    pub queued_at: Timestamp,
    pub dispatched_at: Option<Timestamp>,
    pub sent_at: Option<Timestamp>,
    pub delivered_at: Option<Timestamp>,
    pub expires_at: Timestamp,
    pub failure: Option<FailureView>,
    /// Present on `GET /v1/messages/{request_id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub events: Option<Vec<EventView>>,
}

impl Message {
    pub fn view(&self, device_name: Option<String>, events: Option<Vec<Event>>) -> MessageView {
        MessageView {
            ok: true,
            request_id: self.id.clone(),
            status: self.status(),
            to: self.to_number.clone(),
            message: self.redacted_body.clone().unwrap_or_else(|| self.body.clone()),
            device_id: self.device_id.clone(),
            device_name,
            sim: self.sim,
            priority: Lane::name(self.priority),
            attempts: self.attempts,
            segments: self.segments,
            encoding: self.encoding.clone(),
            metadata: self.metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()),
            batch_id: self.batch_id.clone(),
            queued_at: self.queued_at.into(),
            dispatched_at: self.dispatched_at.map(Into::into),
            sent_at: self.sent_at.map(Into::into),
            delivered_at: self.delivered_at.map(Into::into),
            expires_at: self.expires_at.into(),
            failure: self.failure_code.as_ref().map(|code| FailureView {
                code: code.clone(),
                reason: self.failure_reason.clone().unwrap_or_else(|| relay_protocol::failure::reason(code)),
            }),
            events: events.map(|evs| {
                evs.into_iter().map(|e| EventView { status: e.status, at: e.at.into(), detail: e.detail }).collect()
            }),
        }
    }
}
