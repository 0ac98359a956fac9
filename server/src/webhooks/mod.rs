//! Webhooks: signed callbacks to customers' systems when something happens.
//!
//! An event is recorded by [`record`] inside the very transaction of the state change that
//! caused it (a status report, an expiry, a verification, a phone going online), together
//! with one delivery row per enabled endpoint that wants it: a crash can neither lose an event
//! nor invent one (a transactional outbox). `deliver` runs the workers that claim due
//! deliveries with a lease, POST them signed per Standard Webhooks (`sign`), and record each
//! attempt; `address` refuses private targets; `secret` encrypts signing secrets at rest;
//! `routes` is the `/v1/webhooks` API.

pub mod address;
pub mod deliver;
pub mod models;
pub mod queries;
pub mod routes;
pub mod secret;
pub mod sign;

use std::sync::LazyLock;

use diesel::QueryResult;
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::DbConnection;

/// What happened. `webhook.test` is sent only by `POST /v1/webhooks/{id}/test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "message.sent")]
    MessageSent,
    #[serde(rename = "message.delivered")]
    MessageDelivered,
    #[serde(rename = "message.failed")]
    MessageFailed,
    #[serde(rename = "message.expired")]
    MessageExpired,
    #[serde(rename = "otp.verified")]
    OtpVerified,
    #[serde(rename = "device.online")]
    DeviceOnline,
    #[serde(rename = "device.offline")]
    DeviceOffline,
    #[serde(rename = "queue.blocked")]
    QueueBlocked,
    #[serde(rename = "queue.resumed")]
    QueueResumed,
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl EventType {
    /// The types an endpoint can subscribe to.
    pub const SUBSCRIBABLE: [EventType; 9] = [
        EventType::MessageSent,
        EventType::MessageDelivered,
        EventType::MessageFailed,
        EventType::MessageExpired,
        EventType::OtpVerified,
        EventType::DeviceOnline,
        EventType::DeviceOffline,
        EventType::QueueBlocked,
        EventType::QueueResumed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::MessageSent => "message.sent",
            EventType::MessageDelivered => "message.delivered",
            EventType::MessageFailed => "message.failed",
            EventType::MessageExpired => "message.expired",
            EventType::OtpVerified => "otp.verified",
            EventType::DeviceOnline => "device.online",
            EventType::DeviceOffline => "device.offline",
            EventType::QueueBlocked => "queue.blocked",
            EventType::QueueResumed => "queue.resumed",
            EventType::WebhookTest => "webhook.test",
        }
    }

    pub fn parse_subscribable(s: &str) -> Option<EventType> {
        EventType::SUBSCRIBABLE.into_iter().find(|t| t.as_str() == s)
    }
}

/// Wakes the delivery workers when an event is recorded. The worker's claim goes through the
/// same group-commit writer after the recording transaction, so it finds the new rows; writes
/// made elsewhere are found by the worker's regular poll.
pub(crate) static WAKE: LazyLock<tokio::sync::Notify> = LazyLock::new(tokio::sync::Notify::new);

/// Records `event` for the account, in the caller's transaction: the event and one delivery per
/// enabled endpoint subscribed to it. `data` builds the payload's `data` and is only called
/// when some endpoint wants the event, so an account without webhooks pays one indexed read.
/// Returns the event id, if one was recorded.
pub fn record(
    conn: &mut DbConnection,
    account_id: &str,
    event: EventType,
    data: impl FnOnce(&mut DbConnection) -> QueryResult<serde_json::Value>,
) -> QueryResult<Option<String>> {
    let targets = queries::subscribed_endpoints(conn, account_id, event)?;
    if targets.is_empty() {
        return Ok(None);
    }
    let data = data(conn)?;
    let id = queries::insert_event(conn, account_id, event, data, &targets)?;
    WAKE.notify_one();
    Ok(Some(id))
}

/// [`record_message`] for several messages of the account that changed the same way, in the
/// caller's transaction: the subscriptions are read once, not once per message.
pub fn record_messages(
    conn: &mut DbConnection,
    account_id: &str,
    event: EventType,
    message_ids: &[&str],
) -> QueryResult<()> {
    if message_ids.is_empty() {
        return Ok(());
    }
    let targets = queries::subscribed_endpoints(conn, account_id, event)?;
    if targets.is_empty() {
        return Ok(());
    }
    for id in message_ids {
        let data = queries::message_data(conn, id)?;
        queries::insert_event(conn, account_id, event, data, &targets)?;
    }
    WAKE.notify_one();
    Ok(())
}

/// `record` for a message's state change: the payload's `data` is the message as the API
/// shows it (request id, status, recipient, device, attempts, failure, metadata).
pub fn record_message(
    conn: &mut DbConnection,
    account_id: &str,
    event: EventType,
    message_id: &str,
) -> QueryResult<Option<String>> {
    record(conn, account_id, event, |conn| queries::message_data(conn, message_id))
}
