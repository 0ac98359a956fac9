//! Webhook storage: endpoints, the event outbox, deliveries and their attempts.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::EventType;
use super::models::{Attempt, Delivery, DeliveryStatus, Endpoint, EventBody, subscribes};
use crate::db::schema::{devices, messages, webhook_attempts, webhook_deliveries, webhook_endpoints, webhook_events};
use crate::db::{DbConnection, read_snapshot};
use crate::ids::{IdKind, new_id};
use crate::messages::models::Message;
use crate::time::{self, Timestamp};

/// After this long with nothing but failed attempts, an endpoint is disabled.
pub const DISABLE_AFTER_FAILING: Duration = Duration::days(5);

/// The enabled endpoints of the account that want `event`: one indexed read.
pub fn subscribed_endpoints(conn: &mut DbConnection, account_id: &str, event: EventType) -> QueryResult<Vec<String>> {
    let query = webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account_id))
        .filter(webhook_endpoints::enabled.eq(true))
        .select((webhook_endpoints::id, webhook_endpoints::events));
    let rows: Vec<(String, String)> = crate::per_backend!(conn, |c| query.load(c))?;
    Ok(rows.into_iter().filter(|(_, events)| subscribes(events, event.as_str())).map(|(id, _)| id).collect())
}

/// Stores the event and a due delivery to each of `endpoints`; returns the event id.
pub fn insert_event(
    conn: &mut DbConnection,
    account_id: &str,
    event: EventType,
    data: serde_json::Value,
    endpoints: &[String],
) -> QueryResult<String> {
    let now = time::now();
    let id = new_id(IdKind::Event);
    let body = EventBody { id: &id, event_type: event.as_str(), created_at: Timestamp(now), data };
    let payload = serde_json::to_string(&body).unwrap_or_default();
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(&id),
            webhook_events::account_id.eq(account_id),
            webhook_events::event_type.eq(event.as_str()),
            webhook_events::payload.eq(&payload),
            webhook_events::created_at.eq(now),
        ))
        .execute(conn)?;
    for endpoint_id in endpoints {
        insert_delivery(conn, &id, endpoint_id, account_id, now)?;
    }
    Ok(id)
}

fn insert_delivery(
    conn: &mut DbConnection,
    event_id: &str,
    endpoint_id: &str,
    account_id: &str,
    now: NaiveDateTime,
) -> QueryResult<String> {
    let delivery = Delivery {
        id: new_id(IdKind::WebhookDelivery),
        event_id: event_id.to_owned(),
        endpoint_id: endpoint_id.to_owned(),
        account_id: account_id.to_owned(),
        status: DeliveryStatus::Pending.as_str().to_owned(),
        attempts: 0,
        next_attempt_at: Some(now),
        claimed_until: None,
        last_http_status: None,
        last_error: None,
        created_at: now,
        updated_at: now,
        delivered_at: None,
    };
    diesel::insert_into(webhook_deliveries::table).values(&delivery).execute(conn)?;
    Ok(delivery.id)
}

/// A `webhook.test` event for one endpoint only; returns (event id, delivery id).
pub fn insert_test_event(
    conn: &mut DbConnection,
    account_id: &str,
    endpoint_id: &str,
) -> QueryResult<(String, String)> {
    let data = serde_json::json!({
        "webhook_id": endpoint_id,
        "message": "A test event from Relay: this endpoint receives and verifies webhooks.",
    });
    let now = time::now();
    let id = new_id(IdKind::Event);
    let body = EventBody { id: &id, event_type: EventType::WebhookTest.as_str(), created_at: Timestamp(now), data };
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(&id),
            webhook_events::account_id.eq(account_id),
            webhook_events::event_type.eq(EventType::WebhookTest.as_str()),
            webhook_events::payload.eq(serde_json::to_string(&body).unwrap_or_default()),
            webhook_events::created_at.eq(now),
        ))
        .execute(conn)?;
    let delivery_id = insert_delivery(conn, &id, endpoint_id, account_id, now)?;
    Ok((id, delivery_id))
}

/// A message's event data: what the API shows of it.
pub fn message_data(conn: &mut DbConnection, message_id: &str) -> QueryResult<serde_json::Value> {
    let (m, device_name): (Message, Option<String>) = messages::table
        .left_join(devices::table.on(devices::id.nullable().eq(messages::device_id)))
        .filter(messages::id.eq(message_id))
        .select((Message::as_select(), devices::name.nullable()))
        .first(conn)?;
    let v = m.view(device_name, None);
    Ok(serde_json::json!({
        "request_id": v.request_id,
        "status": v.status,
        "to": v.to,
        "device_id": v.device_id,
        "device_name": v.device_name,
        "attempts": v.attempts,
        "failure": v.failure,
        "metadata": v.metadata,
        "batch_id": v.batch_id,
    }))
}

// ---- endpoints ----

pub fn insert_endpoint(conn: &mut DbConnection, endpoint: &Endpoint) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table).values(endpoint).execute(conn).map(|_| ())
}

pub fn list_endpoints(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account_id))
        .order(webhook_endpoints::id.asc())
        .select(Endpoint::as_select())
        .load(conn)
}

pub fn find_endpoint(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<Endpoint>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::account_id.eq(account_id))
        .select(Endpoint::as_select())
        .first(conn)
        .optional()
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointChanges {
    pub url: Option<String>,
    pub events: Option<String>,
    pub description: Option<Option<String>>,
    pub enabled: Option<bool>,
    pub disabled_reason: Option<Option<String>>,
    pub failing_since: Option<Option<NaiveDateTime>>,
    pub secret_enc: Option<String>,
    pub previous_secret_enc: Option<Option<String>>,
    pub previous_secret_until: Option<Option<NaiveDateTime>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update_endpoint(
    conn: &mut DbConnection,
    account_id: &str,
    id: &str,
    changes: &EndpointChanges,
) -> QueryResult<Option<Endpoint>> {
    let n = diesel::update(webhook_endpoints::table)
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::account_id.eq(account_id))
        .set(changes)
        .execute(conn)?;
    if n == 0 {
        return Ok(None);
    }
    find_endpoint(conn, account_id, id)
}

pub fn delete_endpoint(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<bool> {
    let n = diesel::delete(webhook_endpoints::table)
        .filter(webhook_endpoints::id.eq(id))
        .filter(webhook_endpoints::account_id.eq(account_id))
        .execute(conn)?;
    Ok(n == 1)
}

/// Endpoints the server disabled (410, or days of failures): `GET /v1/queue` warns of them.
pub fn auto_disabled(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<(String, String, String)>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::account_id.eq(account_id))
        .filter(webhook_endpoints::enabled.eq(false))
        .filter(webhook_endpoints::disabled_reason.is_not_null())
        .select((webhook_endpoints::id, webhook_endpoints::url, webhook_endpoints::disabled_reason.assume_not_null()))
        .load(conn)
}

/// How long finished deliveries (and their attempts and events) are kept.
pub const RETENTION: Duration = Duration::days(30);
/// Most deliveries removed in one pass: keeps the writer's transaction short.
const PRUNE_BATCH: i64 = 1000;

/// Removes up to [`PRUNE_BATCH`] deliveries that finished more than [`RETENTION`] ago, with
/// their attempts, and the events left without deliveries. Returns how many deliveries went.
pub fn prune(conn: &mut DbConnection) -> QueryResult<usize> {
    let cutoff = time::now() - RETENTION;
    let old: Vec<(String, String)> = webhook_deliveries::table
        // Implied by the update time below (a delivery is updated after it is made), and what
        // lets the primary key serve the pass: without it each minute's pass read every
        // delivery of the retention period, on the writer, to find none old enough.
        .filter(webhook_deliveries::id.lt(crate::ids::first_id_at(IdKind::WebhookDelivery, cutoff)))
        .filter(webhook_deliveries::status.ne(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::updated_at.lt(cutoff))
        .select((webhook_deliveries::id, webhook_deliveries::event_id))
        .limit(PRUNE_BATCH)
        .load(conn)?;
    if old.is_empty() {
        return Ok(0);
    }
    let ids: Vec<&String> = old.iter().map(|(id, _)| id).collect();
    diesel::delete(webhook_attempts::table.filter(webhook_attempts::delivery_id.eq_any(&ids))).execute(conn)?;
    let n = diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(&ids))).execute(conn)?;
    let mut events: Vec<&String> = old.iter().map(|(_, e)| e).collect();
    events.sort();
    events.dedup();
    let still_used: Vec<String> = webhook_deliveries::table
        .filter(webhook_deliveries::event_id.eq_any(&events))
        .select(webhook_deliveries::event_id)
        .load(conn)?;
    let unused: Vec<&String> = events.into_iter().filter(|e| !still_used.contains(e)).collect();
    diesel::delete(webhook_events::table.filter(webhook_events::id.eq_any(unused))).execute(conn)?;
    Ok(n)
}

// ---- deliveries, as the API shows them ----

pub type DeliveryRow = (Delivery, String);

/// A page of an endpoint's deliveries, newest first, with one more row than asked for, and
/// their attempts as of the same moment.
pub fn list_deliveries(
    conn: &mut DbConnection,
    endpoint_id: &str,
    before: Option<&str>,
    status: Option<DeliveryStatus>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, Vec<Attempt>)>> {
    read_snapshot(conn, |conn| {
        let mut q = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::endpoint_id.eq(endpoint_id))
            .select((Delivery::as_select(), webhook_events::event_type))
            .into_boxed();
        if let Some(before) = before {
            q = q.filter(webhook_deliveries::id.lt(before.to_owned()));
        }
        if let Some(s) = status {
            q = q.filter(webhook_deliveries::status.eq(s.as_str()));
        }
        let rows: Vec<DeliveryRow> = q.order(webhook_deliveries::id.desc()).limit(limit + 1).load(conn)?;
        let ids: Vec<&String> = rows.iter().map(|(d, _)| &d.id).collect();
        let mut attempts: Vec<Attempt> = webhook_attempts::table
            .filter(webhook_attempts::delivery_id.eq_any(ids))
            .order((webhook_attempts::delivery_id.asc(), webhook_attempts::number.asc()))
            .select(Attempt::as_select())
            .load(conn)?;
        Ok(rows
            .into_iter()
            .map(|row| {
                let (mine, rest): (Vec<Attempt>, Vec<Attempt>) =
                    std::mem::take(&mut attempts).into_iter().partition(|a| a.delivery_id == row.0.id);
                attempts = rest;
                (row, mine)
            })
            .collect())
    })
}

/// A delivery with its event type, its event's payload and its attempts.
pub type DeliveryDetail = (Delivery, String, String, Vec<Attempt>);

/// One delivery of the account, with its event type, payload and attempts (one snapshot).
pub fn find_delivery(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<DeliveryDetail>> {
    read_snapshot(conn, |conn| {
        let Some((d, event_type, payload)) = webhook_deliveries::table
            .inner_join(webhook_events::table)
            .filter(webhook_deliveries::id.eq(id))
            .filter(webhook_deliveries::account_id.eq(account_id))
            .select((Delivery::as_select(), webhook_events::event_type, webhook_events::payload))
            .first::<(Delivery, String, String)>(conn)
            .optional()?
        else {
            return Ok(None);
        };
        let attempts = webhook_attempts::table
            .filter(webhook_attempts::delivery_id.eq(id))
            .order(webhook_attempts::number.asc())
            .select(Attempt::as_select())
            .load(conn)?;
        Ok(Some((d, event_type, payload, attempts)))
    })
}

/// What asking for a redelivery did.
#[derive(Debug, PartialEq, Eq)]
pub enum Redeliver {
    Queued,
    /// A worker holds it right now.
    InFlight,
    NotFound,
}

/// Makes the delivery due now (whatever its status), unless a worker holds it.
pub fn redeliver(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Redeliver> {
    let now = time::now();
    let n = diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::account_id.eq(account_id))
        .filter(webhook_deliveries::claimed_until.is_null().or(webhook_deliveries::claimed_until.lt(now)))
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::next_attempt_at.eq(now),
            webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
            webhook_deliveries::updated_at.eq(now),
        ))
        .execute(conn)?;
    if n == 1 {
        return Ok(Redeliver::Queued);
    }
    let exists = webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(id))
        .filter(webhook_deliveries::account_id.eq(account_id))
        .select(webhook_deliveries::id)
        .first::<String>(conn)
        .optional()?;
    Ok(if exists.is_some() { Redeliver::InFlight } else { Redeliver::NotFound })
}

// ---- the workers' side ----

/// A claimed delivery with what sending it needs.
#[derive(Debug, Clone, Queryable)]
pub struct Claimed {
    pub delivery_id: String,
    pub attempts: i32,
    pub event_id: String,
    pub payload: String,
    pub endpoint_id: String,
    pub url: String,
    pub secret_enc: String,
    pub previous_secret_enc: Option<String>,
    pub previous_secret_until: Option<NaiveDateTime>,
}

/// Whether any delivery is due: a read, so an idle server's poll takes no write lock.
pub fn any_due(conn: &mut DbConnection) -> QueryResult<bool> {
    let now = time::now();
    let found = webhook_deliveries::table
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(webhook_deliveries::claimed_until.is_null().or(webhook_deliveries::claimed_until.lt(now)))
        .select(webhook_deliveries::id)
        .first::<String>(conn)
        .optional()?;
    Ok(found.is_some())
}

/// Leases up to `limit` due deliveries of enabled endpoints until `now + lease`, oldest due
/// first. The UPDATE re-checks that each is still unclaimed, so two workers (or two server
/// instances) never both take one; a crashed worker's lease runs out and the delivery is due again.
pub fn claim(conn: &mut DbConnection, limit: i64, lease: Duration) -> QueryResult<Vec<Claimed>> {
    let now = time::now();
    let unclaimed = || webhook_deliveries::claimed_until.is_null().or(webhook_deliveries::claimed_until.lt(now));
    let ids: Vec<String> = webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(unclaimed())
        .filter(webhook_endpoints::enabled.eq(true))
        .order(webhook_deliveries::next_attempt_at.asc())
        .limit(limit)
        .select(webhook_deliveries::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let claimed: Vec<String> = diesel::update(webhook_deliveries::table)
        .filter(webhook_deliveries::id.eq_any(&ids))
        .filter(webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()))
        .filter(unclaimed())
        .set(webhook_deliveries::claimed_until.eq(now + lease))
        .returning(webhook_deliveries::id)
        .get_results(conn)?;
    webhook_deliveries::table
        .inner_join(webhook_events::table)
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::id.eq_any(&claimed))
        .order(webhook_deliveries::next_attempt_at.asc())
        .select((
            webhook_deliveries::id,
            webhook_deliveries::attempts,
            webhook_events::id,
            webhook_events::payload,
            webhook_endpoints::id,
            webhook_endpoints::url,
            webhook_endpoints::secret_enc,
            webhook_endpoints::previous_secret_enc,
            webhook_endpoints::previous_secret_until,
        ))
        .load(conn)
}

/// How an attempt ended, for the delivery and its endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx.
    Delivered,
    /// Network error, timeout, 429 or 5xx: try again later, if the schedule allows.
    Retry,
    /// Any other answer: this delivery is over.
    Final,
    /// 410 Gone: this delivery is over and the endpoint is disabled.
    Gone,
}

/// One finished attempt, to be stored.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub attempt: Attempt,
    pub endpoint_id: String,
    pub verdict: Verdict,
}

/// Attempt rows, many per INSERT. The two-backend connection type has no multi-row INSERT,
/// so the statement is run on the backend's own connection.
fn insert_attempts(conn: &mut DbConnection, rows: Vec<Attempt>) -> QueryResult<()> {
    for chunk in rows.chunks(500) {
        match conn {
            DbConnection::Postgres(c) => diesel::insert_into(webhook_attempts::table).values(chunk).execute(c)?,
            DbConnection::Sqlite(c) => diesel::insert_into(webhook_attempts::table).values(chunk).execute(c)?,
        };
    }
    Ok(())
}

/// What a batch of attempts says about one endpoint.
#[derive(Debug, Default)]
struct EndpointOutcomes {
    succeeded: bool,
    gone: bool,
    first_failure: Option<NaiveDateTime>,
}

/// Stores a batch of attempts and moves each delivery on; returns the endpoints this disabled.
pub fn apply_outcomes(conn: &mut DbConnection, outcomes: &[Outcome]) -> QueryResult<Vec<(String, String)>> {
    let now = time::now();
    let mut disabled = Vec::new();
    let mut by_endpoint: std::collections::BTreeMap<&str, EndpointOutcomes> = std::collections::BTreeMap::new();
    // Only the worker that made attempt n-1 the last one may record attempt n: a worker whose
    // lease ran out while it waited finds its attempt superseded, and its outcome is dropped.
    let mut moved: std::collections::HashSet<String> = std::collections::HashSet::new();
    // Successes, the bulk of the traffic: one UPDATE per (attempt number, HTTP status).
    let mut delivered: std::collections::BTreeMap<(i32, Option<i32>), Vec<&str>> = std::collections::BTreeMap::new();
    for o in outcomes.iter().filter(|o| o.verdict == Verdict::Delivered) {
        let a = &o.attempt;
        delivered.entry((a.number, a.http_status)).or_default().push(&a.delivery_id);
    }
    for ((number, http_status), ids) in delivered {
        let ids: Vec<String> = diesel::update(webhook_deliveries::table)
            .filter(webhook_deliveries::id.eq_any(ids))
            .filter(webhook_deliveries::attempts.eq(number - 1))
            .set((
                webhook_deliveries::status.eq(DeliveryStatus::Delivered.as_str()),
                webhook_deliveries::attempts.eq(number),
                webhook_deliveries::next_attempt_at.eq(None::<NaiveDateTime>),
                webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::last_http_status.eq(http_status),
                webhook_deliveries::last_error.eq(None::<String>),
                webhook_deliveries::updated_at.eq(now),
                webhook_deliveries::delivered_at.eq(Some(now)),
            ))
            .returning(webhook_deliveries::id)
            .get_results(conn)?;
        moved.extend(ids);
    }
    // Failures, one by one: each has its own next attempt and error.
    for o in outcomes.iter().filter(|o| o.verdict != Verdict::Delivered) {
        let a = &o.attempt;
        let status = match (o.verdict, a.next_attempt_at) {
            (Verdict::Retry, Some(_)) => DeliveryStatus::Pending,
            _ => DeliveryStatus::Failed,
        };
        let n = diesel::update(webhook_deliveries::table.find(&a.delivery_id))
            .filter(webhook_deliveries::attempts.eq(a.number - 1))
            .set((
                webhook_deliveries::status.eq(status.as_str()),
                webhook_deliveries::attempts.eq(a.number),
                webhook_deliveries::next_attempt_at.eq(a.next_attempt_at),
                webhook_deliveries::claimed_until.eq(None::<NaiveDateTime>),
                webhook_deliveries::last_http_status.eq(a.http_status),
                webhook_deliveries::last_error.eq(&a.error),
                webhook_deliveries::updated_at.eq(now),
            ))
            .execute(conn)?;
        if n == 1 {
            moved.insert(a.delivery_id.clone());
        }
    }
    let recorded: Vec<&Outcome> = outcomes.iter().filter(|o| moved.contains(&o.attempt.delivery_id)).collect();
    insert_attempts(conn, recorded.iter().map(|o| o.attempt.clone()).collect())?;
    for o in recorded {
        let a = &o.attempt;
        let seen = by_endpoint.entry(o.endpoint_id.as_str()).or_default();
        match o.verdict {
            Verdict::Delivered => seen.succeeded = true,
            Verdict::Gone => seen.gone = true,
            Verdict::Retry | Verdict::Final => {
                seen.first_failure = Some(seen.first_failure.map_or(a.at, |t: NaiveDateTime| t.min(a.at)));
            }
        }
    }
    // Once per endpoint of the batch, however many of its attempts it holds.
    for (endpoint_id, seen) in by_endpoint {
        let endpoint = webhook_endpoints::table.find(endpoint_id);
        let disable = |conn: &mut DbConnection, reason: &str, failing_for: Option<NaiveDateTime>| {
            let mut q = diesel::update(endpoint.filter(webhook_endpoints::enabled.eq(true))).into_boxed();
            if let Some(before) = failing_for {
                q = q.filter(webhook_endpoints::failing_since.le(before));
            }
            q.set((
                webhook_endpoints::enabled.eq(false),
                webhook_endpoints::disabled_reason.eq(reason),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)
        };
        if seen.gone {
            let reason = "The endpoint answered 410 Gone; re-enable it once it receives webhooks again.";
            if disable(conn, reason, None)? == 1 {
                disabled.push((endpoint_id.to_owned(), reason.to_owned()));
            }
        }
        if seen.succeeded {
            // Not failing continuously: the run of failures, if any, is over.
            diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_not_null()))
                .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
                .execute(conn)?;
        } else if let Some(first) = seen.first_failure {
            diesel::update(endpoint.filter(webhook_endpoints::failing_since.is_null()))
                .set(webhook_endpoints::failing_since.eq(first))
                .execute(conn)?;
            let reason = "Every attempt failed for 5 days; re-enable it once it receives webhooks again.";
            if disable(conn, reason, Some(now - DISABLE_AFTER_FAILING))? == 1 {
                disabled.push((endpoint_id.to_owned(), reason.to_owned()));
            }
        }
    }
    Ok(disabled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::queries::{self as accounts, CreateAccount};

    #[test]
    fn finished_deliveries_are_pruned_after_the_retention_with_their_events() {
        let dir = tempfile::tempdir().unwrap();
        let db = crate::db::Db::open(&dir.path().join("relay.db").to_string_lossy()).unwrap();
        let mut conn = db.conn().unwrap();
        let req = CreateAccount { name: "Prune", email: "prune@example.com", plan: "standard", days: 30 };
        let (account, _) = accounts::create(&mut conn, &req).unwrap();
        let now = time::now();
        let endpoint = Endpoint {
            id: new_id(IdKind::Webhook),
            account_id: account.id.clone(),
            url: "https://hooks.example.com/".into(),
            description: None,
            events: r#"["*"]"#.into(),
            enabled: true,
            disabled_reason: None,
            secret_enc: "x".into(),
            previous_secret_enc: None,
            previous_secret_until: None,
            failing_since: None,
            created_at: now,
            updated_at: now,
        };
        insert_endpoint(&mut conn, &endpoint).unwrap();
        let targets = vec![endpoint.id.clone()];
        let old =
            insert_event(&mut conn, &account.id, EventType::QueueBlocked, serde_json::json!({}), &targets).unwrap();
        let recent =
            insert_event(&mut conn, &account.id, EventType::QueueResumed, serde_json::json!({}), &targets).unwrap();
        let pending =
            insert_event(&mut conn, &account.id, EventType::QueueBlocked, serde_json::json!({}), &targets).unwrap();
        let long_ago = now - RETENTION - Duration::days(1);
        for (second, (event, status, at)) in
            [(&old, "delivered", long_ago), (&recent, "failed", now), (&pending, "pending", long_ago)]
                .into_iter()
                .enumerate()
        {
            // Made just before its last update, as a real delivery is: its id tells its age.
            let made = crate::ids::first_id_at(IdKind::WebhookDelivery, at - Duration::seconds(second as i64 + 1));
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::event_id.eq(event)))
                .set((
                    webhook_deliveries::id.eq(made),
                    webhook_deliveries::status.eq(status),
                    webhook_deliveries::updated_at.eq(at),
                ))
                .execute(&mut *conn)
                .unwrap();
        }
        assert_eq!(prune(&mut conn).unwrap(), 1);
        assert_eq!(prune(&mut conn).unwrap(), 0);
        let events: Vec<String> = webhook_events::table.select(webhook_events::id).load(&mut *conn).unwrap();
        assert!(!events.contains(&old), "the old finished event is gone");
        assert!(events.contains(&recent) && events.contains(&pending), "the recent and the pending stay");
    }
}
