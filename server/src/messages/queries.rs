//! Message storage: every state change is one conditional UPDATE (so two actors can never both
//! win) plus its event row, in one transaction; `queued`, `sent` and `delivered`, which a
//! message passes once each, are read from its own columns instead (see [`events`]).

use crate::db::cached::{cached, cached_list};
use std::collections::{HashMap, HashSet};

use chrono::{Duration, NaiveDateTime};
use diesel::dsl::{count_star, max};
use diesel::prelude::*;

use super::models::{Event, Lane, Message, Status};
use super::pg_insert::InsertMessages;
use crate::db::bulk::{Cell, Sql, rows_per_statement};
use crate::db::schema::{devices, message_events, message_minutes, message_totals, messages};
use crate::db::{DbConnection, write_transaction};
use crate::ids::{IdKind, new_id};
use crate::time;
use crate::webhooks::{self, EventType};

/// `SET body = …`: the text with its secret masked where it has one (an OTP's code), else as is.
/// Applied when a phone acknowledges a message or it ends without one: from then on the server
/// never needs the secret again, so it is not kept.
fn scrubbed_body() -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    diesel::dsl::sql::<diesel::sql_types::Text>("COALESCE(redacted_body, body)")
}

pub fn event(message_id: &str, status: Status, detail: Option<String>, at: NaiveDateTime) -> Event {
    Event {
        id: new_id(IdKind::Event),
        message_id: message_id.to_owned(),
        status: status.as_str().to_owned(),
        detail,
        at,
    }
}

fn add_events(conn: &mut DbConnection, events: &[Event]) -> QueryResult<()> {
    if let [one] = events {
        // A prepared statement the connection keeps: one report, one event.
        let insert = diesel::insert_into(message_events::table).values(one);
        crate::per_backend!(conn, |c| insert.execute(c))?;
        return Ok(());
    }
    // A dispatch round's events: one statement per chunk, not a round trip per message.
    for chunk in events.chunks(rows_per_statement(5)) {
        let mut sql = Sql::new(conn);
        sql.push("INSERT INTO message_events (id, message_id, status, detail, at) VALUES ");
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.tuple([
                Cell::Text(e.id.clone()),
                Cell::Text(e.message_id.clone()),
                Cell::Text(e.status.clone()),
                Cell::OptText(e.detail.clone()),
                Cell::Time(e.at),
            ]);
        }
        sql.execute(conn)?;
    }
    Ok(())
}

/// Inserts new messages. Their first event, `queued` at `queued_at`, is not stored: the row
/// already says it, and a send (or a bulk of 100,000) then writes one row per message, not two.
///
/// PostgreSQL takes up to 1,000 rows per statement, one prepared statement for any count
/// ([`InsertMessages`]); SQLite, in process, one cached statement per row.
pub fn insert(conn: &mut DbConnection, batch: &[Message]) -> QueryResult<()> {
    match conn {
        DbConnection::Postgres(c) => {
            for rows in batch.chunks(1_000) {
                InsertMessages::new(rows).execute(c)?;
            }
        }
        DbConnection::Sqlite(c) => {
            for m in batch {
                diesel::insert_into(messages::table).values(m).execute(c)?;
            }
        }
    }
    Ok(())
}

pub fn get(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<(Message, Option<String>)>> {
    messages::table
        .left_join(devices::table.on(devices::id.nullable().eq(messages::device_id)))
        .filter(messages::id.eq(id))
        .filter(messages::account_id.eq(account_id))
        .select((Message::as_select(), devices::name.nullable()))
        .first(conn)
        .optional()
}

/// The message's timeline in time order: every stored event, and the three read from the
/// message itself, which sets each once: `queued` (`queued_at`), `sent` (`sent_at`) and
/// `delivered` (`delivered_at`). Storing those too would cost every send one row and every
/// report another.
pub fn events(conn: &mut DbConnection, m: &Message) -> QueryResult<Vec<Event>> {
    let stored: Vec<Event> = message_events::table
        .filter(message_events::message_id.eq(&m.id))
        .order((message_events::at.asc(), message_events::id.asc()))
        .select(Event::as_select())
        .load(conn)?;
    let implicit =
        [(Status::Queued, Some(m.queued_at)), (Status::Sent, m.sent_at), (Status::Delivered, m.delivered_at)];
    let mut all: Vec<Event> = implicit
        .into_iter()
        .filter_map(|(status, at)| at.map(|at| event(&m.id, status, None, at)))
        .chain(stored)
        .collect();
    // Events of the same instant in the order a message lives them. Stable: stored events
    // keep their order among themselves.
    all.sort_by_key(|e| (e.at, lifecycle_rank(e)));
    Ok(all)
}

/// Where an event falls in a message's life, for events of the same instant: a re-queue or a
/// dispatch before `sent`, `sent` before `delivered`, and an ending last.
fn lifecycle_rank(e: &Event) -> u8 {
    match e.status.as_str() {
        s if s == Status::Queued.as_str() && e.detail.is_none() => 0,
        s if s == Status::Sent.as_str() => 2,
        s if s == Status::Delivered.as_str() => 3,
        s if Status::parse(s).is_some_and(Status::is_final) => 4,
        _ => 1,
    }
}

#[derive(Debug, Default, Clone)]
pub struct ListFilter {
    pub status: Option<Status>,
    pub to: Option<String>,
    pub device_id: Option<String>,
    pub batch_id: Option<String>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    /// Return messages older than this id (the previous page's last id).
    pub before: Option<String>,
    pub limit: i64,
}

/// Newest first; one more row than asked for tells whether there is another page.
pub fn list(conn: &mut DbConnection, account_id: &str, f: &ListFilter) -> QueryResult<Vec<(Message, Option<String>)>> {
    let mut q = messages::table
        .left_join(devices::table.on(devices::id.nullable().eq(messages::device_id)))
        .filter(messages::account_id.eq(account_id))
        .select((Message::as_select(), devices::name.nullable()))
        .into_boxed();
    if let Some(s) = f.status {
        q = q.filter(messages::status.eq(s.as_str()));
    }
    if let Some(to) = &f.to {
        q = q.filter(messages::to_number.eq(to.clone()));
    }
    if let Some(d) = &f.device_id {
        q = q.filter(messages::device_id.eq(d.clone()));
    }
    if let Some(b) = &f.batch_id {
        q = q.filter(messages::batch_id.eq(b.clone()));
    }
    if let Some(t) = f.since {
        q = q.filter(messages::queued_at.ge(t));
    }
    if let Some(t) = f.until {
        q = q.filter(messages::queued_at.lt(t));
    }
    if let Some(before) = &f.before {
        q = q.filter(messages::id.lt(before.clone()));
    }
    q.order(messages::id.desc()).limit(f.limit + 1).load(conn)
}

/// One device's share of a dispatch round: up to `limit` messages of its account.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub account_id: String,
    pub device_id: String,
    pub limit: i64,
}

/// Claims for every device of a dispatch round, in the order given (least loaded first), in
/// the caller's transaction (the dispatcher's writer job, undone whole on an error: by its
/// savepoint, or by a rollback when it is alone); answers one list per device, in the same
/// order.
///
/// Once a device's claim finds fewer messages than it asked for, its account has no general
/// work left, only messages meant for a named device can remain: one query finds which
/// devices those are, and the account's other devices are not asked at all. So a round over
/// a thousand idle phones of one account costs three queries, not two thousand.
pub fn claim_round(conn: &mut DbConnection, instance: &str, wanted: &[Wanted]) -> QueryResult<Vec<Vec<Message>>> {
    let now = time::now();
    // Per account whose general queue ran dry: the devices with work meant for them.
    let mut dry: HashMap<&str, HashSet<String>> = HashMap::new();
    let mut out = Vec::with_capacity(wanted.len());
    for w in wanted {
        if dry.get(w.account_id.as_str()).is_some_and(|named| !named.contains(&w.device_id)) {
            out.push(Vec::new());
            continue;
        }
        let Some(Claimed { messages: claimed, found_all, named }) = claim(conn, w, instance, now)? else {
            out.push(Vec::new());
            continue;
        };
        if !found_all && !dry.contains_key(w.account_id.as_str()) {
            let named = match named {
                Some(named) => named,
                None => named_devices_with_work(conn, &w.account_id, now)?,
            };
            dry.insert(&w.account_id, named);
        }
        out.push(claimed);
    }
    Ok(out)
}

/// Devices named by the account's queued messages (`device_id` in the send).
fn named_devices_with_work(
    conn: &mut DbConnection,
    account_id: &str,
    now: NaiveDateTime,
) -> QueryResult<HashSet<String>> {
    let named: Vec<Option<String>> = messages::table
        .filter(messages::account_id.eq(account_id))
        .filter(messages::status.eq(Status::Queued.as_str()))
        .filter(messages::requested_device_id.is_not_null())
        .filter(messages::expires_at.gt(now))
        .select(messages::requested_device_id)
        .distinct()
        .load(conn)?;
    Ok(named.into_iter().flatten().collect())
}

/// What one phone's claim handed out.
struct Claimed {
    /// Most urgent first.
    messages: Vec<Message>,
    /// As many as asked for.
    found_all: bool,
    /// The devices the account's queued messages name, when the claim's statement read them.
    named: Option<HashSet<String>>,
}

/// Hands up to `limit` queued messages of the account to the device, most urgent first.
/// `None` when the device's connection is not held by this instance.
fn claim(conn: &mut DbConnection, w: &Wanted, instance: &str, now: NaiveDateTime) -> QueryResult<Option<Claimed>> {
    let (account_id, device_id) = (w.account_id.as_str(), w.device_id.as_str());
    let found = |messages: Vec<Message>, named: Option<HashSet<String>>| {
        let found_all = i64::try_from(messages.len()).unwrap_or(i64::MAX) >= w.limit;
        Claimed { messages, found_all, named }
    };
    if let DbConnection::Postgres(pg) = &mut *conn {
        let rows = claim_postgres(pg, w, instance, now)?;
        let Some(first) = rows.first() else {
            // Nothing handed out: whether the phone is held here decides what that says.
            return Ok(held(conn, device_id, instance)?.then(|| found(Vec::new(), None)));
        };
        let named = first.named.iter().cloned().collect();
        return Ok(Some(found(rows.into_iter().map(|r| r.message).collect(), Some(named))));
    }
    if !held(conn, device_id, instance)? {
        return Ok(None);
    }
    let ids: Vec<String> = messages::table
        .filter(messages::account_id.eq(account_id))
        .filter(messages::status.eq(Status::Queued.as_str()))
        .filter(messages::requested_device_id.is_null().or(messages::requested_device_id.eq(device_id)))
        .filter(messages::expires_at.gt(now))
        .order((messages::priority.asc(), messages::id.asc()))
        .limit(w.limit)
        .select(messages::id)
        .load(conn)?;
    if ids.is_empty() {
        return Ok(Some(found(Vec::new(), None)));
    }
    // Handed to the device and read back in the same statement.
    let claim = diesel::update(messages::table)
        .filter(messages::id.eq_any(&ids))
        .filter(messages::status.eq(Status::Queued.as_str()))
        .set((
            messages::status.eq(Status::Dispatched.as_str()),
            messages::device_id.eq(device_id),
            messages::dispatched_at.eq(now),
            messages::acked_at.eq(None::<NaiveDateTime>),
            messages::attempts.eq(messages::attempts + 1),
            messages::updated_at.eq(now),
        ));
    let mut claimed: Vec<Message> =
        crate::per_backend!(&mut *conn, |c| cached_list(claim.returning(Message::as_returning()), ids.len())
            .get_results(c))?;
    let events: Vec<Event> =
        claimed.iter().map(|m| event(&m.id, Status::Dispatched, Some(dispatched_detail(device_id)), now)).collect();
    add_events(conn, &events)?;
    claimed.sort_by(|a, b| (a.priority, &a.id).cmp(&(b.priority, &b.id)));
    Ok(Some(found(claimed, None)))
}

/// Whether this instance holds the phone's connection: only that instance claims for it. On
/// PostgreSQL the device row stays locked until commit, so a phone taking its connection to
/// another instance (which re-queues what it was handed) waits for this claim, or this claim
/// for it (and then finds the device no longer held here). `FOR KEY SHARE`: the phone's
/// heartbeats and reports, written beside this by another writer, update the row without
/// waiting, and this never waits for them (see `cluster::hold`).
fn held(conn: &mut DbConnection, device_id: &str, instance: &str) -> QueryResult<bool> {
    let held = devices::table.find(device_id).filter(devices::connected_instance.eq(instance)).select(devices::id);
    let held: Option<String> = match conn {
        DbConnection::Postgres(c) => held.for_key_share().first(c).optional()?,
        DbConnection::Sqlite(c) => held.first(c).optional()?,
    };
    Ok(held.is_some())
}

/// A `dispatched` event's detail.
fn dispatched_detail(device_id: &str) -> String {
    format!("to device {device_id}")
}

/// A row of [`claim_postgres`]: a message handed out, and the account's named devices.
#[derive(QueryableByName)]
struct ClaimedRow {
    #[diesel(embed)]
    message: Message,
    #[diesel(sql_type = diesel::sql_types::Array<diesel::sql_types::Text>)]
    named: Vec<String>,
}

/// PostgreSQL: [`claim`] in one statement, one round trip, where it was four (the phone's row,
/// the pick, the hand-over, its events) and a fifth when the claim came back short (the
/// devices the account's queued messages name, as [`named_devices_with_work`] reads them,
/// which every row carries). Each round trip waits its turn on a busy machine. It holds the
/// phone's row as [`held`] does, and picks with `FOR UPDATE SKIP LOCKED`, so that instances
/// dispatching for phones of one account skip each other's rows instead of queueing behind
/// their locks. The pick is a `MATERIALIZED` CTE, run exactly once: as a plain subquery of the
/// UPDATE, PostgreSQL may run it again for each row it updates, each run skipping the rows the
/// last one took, and a phone would get more than its room. The messages come back most
/// urgent first; an empty answer says nothing of whether the phone is held here.
fn claim_postgres(
    pg: &mut diesel::pg::PgConnection,
    w: &Wanted,
    instance: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<ClaimedRow>> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    // An event's id is made of its message's and the attempt's: unique, and made here.
    const CLAIM: &str = "WITH held AS MATERIALIZED ( \
             SELECT id FROM devices WHERE id = $1 AND connected_instance = $2 FOR KEY SHARE), \
         picked AS MATERIALIZED ( \
             SELECT id FROM messages \
             WHERE account_id = $3 AND status = 'queued' \
               AND (requested_device_id IS NULL OR requested_device_id = $1) \
               AND expires_at > $4 AND EXISTS (SELECT 1 FROM held) \
             ORDER BY priority, id LIMIT $5 FOR UPDATE SKIP LOCKED), \
         claimed AS ( \
             UPDATE messages m SET status = 'dispatched', device_id = $1, dispatched_at = $4, \
                 acked_at = NULL, attempts = m.attempts + 1, updated_at = $4 \
             FROM picked WHERE m.id = picked.id AND m.status = 'queued' \
             RETURNING m.*), \
         logged AS ( \
             INSERT INTO message_events (id, message_id, status, detail, at) \
             SELECT 'evt_' || substr(id, 5) || '_' || attempts, id, 'dispatched', $6, $4 \
             FROM claimed) \
         SELECT claimed.*, ARRAY( \
             SELECT DISTINCT requested_device_id FROM messages \
             WHERE account_id = $3 AND status = 'queued' AND requested_device_id IS NOT NULL \
               AND expires_at > $4) AS named \
         FROM claimed ORDER BY priority, id";
    cached(
        diesel::sql_query(CLAIM)
            .bind::<Text, _>(&w.device_id)
            .bind::<Text, _>(instance)
            .bind::<Text, _>(&w.account_id)
            .bind::<Timestamp, _>(now)
            .bind::<BigInt, _>(w.limit)
            .bind::<Text, _>(dispatched_detail(&w.device_id)),
    )
    .load(pg)
}

/// The phone stored these messages. Returns those still assigned to it: the phone may send
/// them. The others were re-routed, cancelled or expired meanwhile, and must be revoked. One
/// statement for everything the phone acknowledged at once.
pub fn acknowledge(conn: &mut DbConnection, device_id: &str, ids: &[String]) -> QueryResult<HashSet<String>> {
    let now = time::now();
    let acked = diesel::update(messages::table)
        .filter(messages::id.eq_any(ids))
        .filter(messages::device_id.eq(device_id))
        .filter(messages::status.eq(Status::Dispatched.as_str()))
        .filter(messages::acked_at.is_null())
        .set((messages::acked_at.eq(now), messages::body.eq(scrubbed_body()), messages::updated_at.eq(now)))
        .returning(messages::id);
    let mut mine: HashSet<String> =
        crate::per_backend!(conn, |c| cached_list(acked, ids.len()).get_results::<String>(c))?.into_iter().collect();
    let rest: Vec<&String> = ids.iter().filter(|id| !mine.contains(*id)).collect();
    if rest.is_empty() {
        return Ok(mine);
    }
    // Already acknowledged by this very phone (a repeated `accepted`): confirm again.
    let again: Vec<String> = messages::table
        .filter(messages::id.eq_any(rest))
        .filter(messages::device_id.eq(device_id))
        .filter(messages::acked_at.is_not_null())
        .filter(messages::status.ne(Status::Canceled.as_str()))
        .filter(messages::status.ne(Status::Expired.as_str()))
        .select(messages::id)
        .load(conn)?;
    mine.extend(again);
    Ok(mine)
}

/// One status report of a phone.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub id: &'a str,
    pub status: Status,
    /// Code and reason of a `failed` report.
    pub failure: Option<(&'a str, &'a str)>,
}

/// Applies a phone's reports in the order it sent them, in the caller's transaction. A run
/// of consecutive `sent` (or `delivered`) reports is one UPDATE (the events are read from the
/// message, see [`events`]) and, for an account with a webhook endpoint, one subscription
/// read: a phone reports a burst of messages at once. `failed` reports, each with its own
/// code, are applied one by one. A message reported `sent` and then `delivered` in the same
/// batch moves in one UPDATE (see [`apply_pairs`]). Returns what each report did.
pub fn apply_reports(conn: &mut DbConnection, device_id: &str, reports: &[Report<'_>]) -> QueryResult<Vec<Applied>> {
    let mut applied: Vec<Option<Applied>> = vec![None; reports.len()];
    apply_pairs(conn, device_id, reports, &mut applied)?;
    let rest: Vec<(usize, &Report<'_>)> = reports.iter().enumerate().filter(|(i, _)| applied[*i].is_none()).collect();
    for run in rest.chunk_by(|a, b| a.1.status == b.1.status) {
        let outcomes = match run[0].1.status {
            Status::Sent | Status::Delivered => {
                let same: Vec<Report<'_>> = run.iter().map(|(_, r)| **r).collect();
                apply_run(conn, device_id, &same)?
            }
            Status::Failed => {
                let mut outcomes = Vec::with_capacity(run.len());
                for (_, r) in run {
                    outcomes.push(apply_failure(conn, device_id, r.id, r.failure)?);
                }
                outcomes
            }
            // A phone reports only the three above.
            _ => run.iter().map(|_| Applied::Unchanged).collect(),
        };
        for ((i, _), outcome) in run.iter().zip(outcomes) {
            applied[*i] = Some(outcome);
        }
    }
    Ok(applied.into_iter().map(|a| a.unwrap_or(Applied::Unchanged)).collect())
}

/// The messages this batch reports `sent` and then `delivered`, and nothing else of: the
/// positions of the two reports, by message.
fn sent_then_delivered<'a>(reports: &[Report<'a>]) -> Vec<(&'a str, usize, usize)> {
    let mut seen: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in reports.iter().enumerate() {
        seen.entry(r.id).or_default().push(i);
    }
    let mut pairs: Vec<(&str, usize, usize)> = seen
        .into_iter()
        .filter_map(|(id, at)| match at[..] {
            [s, d] if reports[s].status == Status::Sent && reports[d].status == Status::Delivered => Some((id, s, d)),
            _ => None,
        })
        .collect();
    pairs.sort_unstable_by_key(|p| p.1);
    pairs
}

/// Moves each message reported `sent` and then `delivered` in this batch from `dispatched`
/// straight to `delivered`, with both times set, in one UPDATE instead of two. A phone's
/// delivery report often follows its send within milliseconds; under load the two then come
/// in one batch, and each status UPDATE writes a new entry into every index of `messages`.
/// The timeline and the totals read the same either way. Messages of an account with a
/// webhook endpoint are left to [`apply_run`], so that each event's payload shows the message
/// as it was at that step; so are those no longer `dispatched` (a repeated report), whose
/// reports then say what the one-by-one path says. Fills `applied` for the messages moved.
fn apply_pairs(
    conn: &mut DbConnection,
    device_id: &str,
    reports: &[Report<'_>],
    applied: &mut [Option<Applied>],
) -> QueryResult<()> {
    let pairs = sent_then_delivered(reports);
    if pairs.is_empty() {
        return Ok(());
    }
    let now = time::now();
    let ids: Vec<&str> = pairs.iter().map(|p| p.0).collect();
    let moved = diesel::update(messages::table)
        .filter(messages::id.eq_any(&ids))
        .filter(messages::device_id.eq(device_id))
        .filter(messages::acked_at.is_not_null())
        .filter(messages::status.eq(Status::Dispatched.as_str()))
        .filter(diesel::dsl::not(hooked()))
        .set((
            messages::status.eq(Status::Delivered.as_str()),
            messages::sent_at.eq(now),
            messages::delivered_at.eq(now),
            messages::finished_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .returning(messages::id);
    let moved: HashSet<String> = crate::per_backend!(&mut *conn, |c| cached_list(moved, ids.len())
        .get_results::<String>(c))?
    .into_iter()
    .collect();
    for (id, s, d) in pairs {
        if moved.contains(id) {
            applied[s] = Some(Applied::Changed { to: Status::Sent, from_dispatched: true });
            applied[d] = Some(Applied::Changed { to: Status::Delivered, from_dispatched: false });
        }
    }
    Ok(())
}

/// Reports that all say `sent`, or all `delivered`.
fn apply_run(conn: &mut DbConnection, device_id: &str, run: &[Report<'_>]) -> QueryResult<Vec<Applied>> {
    let now = time::now();
    let status = run[0].status;
    let ids: Vec<&str> = run.iter().map(|r| r.id).collect();
    let target = messages::table
        .filter(messages::id.eq_any(&ids))
        .filter(messages::device_id.eq(device_id))
        .filter(messages::acked_at.is_not_null());
    let changed: Vec<Moved> = if status == Status::Sent {
        let sent = diesel::update(target.filter(messages::status.eq(Status::Dispatched.as_str())))
            .set((messages::status.eq("sent"), messages::sent_at.eq(now), messages::updated_at.eq(now)))
            .returning((messages::id, messages::account_id, hooked()));
        crate::per_backend!(&mut *conn, |c| cached_list(sent, ids.len()).get_results::<(String, String, bool)>(c))?
            .into_iter()
            .map(|(id, account, hooked)| Moved { id, account, from_dispatched: true, hooked })
            .collect()
    } else {
        let delivered = diesel::update(
            target.filter(messages::status.eq_any([Status::Dispatched.as_str(), Status::Sent.as_str()])),
        )
        .set((
            messages::status.eq("delivered"),
            messages::delivered_at.eq(now),
            messages::finished_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .returning((messages::id, messages::account_id, messages::sent_at, hooked()));
        crate::per_backend!(&mut *conn, |c| cached_list(delivered, ids.len()).get_results::<(
            String,
            String,
            Option<NaiveDateTime>,
            bool
        )>(c))?
        .into_iter()
        .map(|(id, account, sent_at, hooked)| Moved { id, account, from_dispatched: sent_at.is_none(), hooked })
        .collect()
    };
    let mut fresh: HashMap<&str, bool> = changed.iter().map(|m| (m.id.as_str(), m.from_dispatched)).collect();
    // The same report twice in one run (a phone repeating itself) changes the message once.
    let applied = run
        .iter()
        .map(|r| match fresh.remove(r.id) {
            Some(from_dispatched) => Applied::Changed { to: status, from_dispatched },
            None => Applied::Unchanged,
        })
        .collect();
    // No event rows: `sent` and `delivered` are read from `sent_at` and `delivered_at` (see
    // `events`).
    let webhook = if status == Status::Sent { EventType::MessageSent } else { EventType::MessageDelivered };
    let mut by_account: HashMap<&str, Vec<&str>> = HashMap::new();
    for m in changed.iter().filter(|m| m.hooked) {
        by_account.entry(m.account.as_str()).or_default().push(m.id.as_str());
    }
    for (account, ids) in by_account {
        webhooks::record_messages(conn, account, webhook, &ids)?;
    }
    Ok(applied)
}

/// A message a run of reports moved forward.
struct Moved {
    id: String,
    account: String,
    /// Straight from `dispatched` (as in `apply_failure`).
    from_dispatched: bool,
    /// Its account has an enabled webhook endpoint.
    hooked: bool,
}

/// For a row an UPDATE of `messages` returns: whether its account has an enabled webhook
/// endpoint. Asked in the report's own statement, so that an account without one (which then
/// gets no event) costs no further query, on PostgreSQL no further round trip.
fn hooked() -> diesel::expression::SqlLiteral<diesel::sql_types::Bool> {
    diesel::dsl::sql::<diesel::sql_types::Bool>(
        "EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.account_id = messages.account_id AND w.enabled)",
    )
}

/// What applying a phone's report did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// The status moved forward; `from_dispatched` when the phone had not reported before.
    Changed { to: Status, from_dispatched: bool },
    /// Already there or beyond (a repeated report): nothing to do, acknowledge anyway.
    Unchanged,
}

/// Applies a `failed` report from the phone that holds the message, with its code and reason.
/// Only ever moves forward, so a repeated or late report cannot undo a later state. Runs in the
/// caller's transaction (a group-commit job, whose savepoint undoes all of it on an error).
fn apply_failure(
    conn: &mut DbConnection,
    device_id: &str,
    id: &str,
    failure: Option<(&str, &str)>,
) -> QueryResult<Applied> {
    let now = time::now();
    // `sent_at` as it was (a `sent` report is the only one that sets it): unset exactly when
    // the message comes straight from `dispatched`.
    let changed: Option<(String, Option<NaiveDateTime>)> = diesel::update(messages::table.find(id))
        .filter(messages::device_id.eq(device_id))
        .filter(messages::acked_at.is_not_null())
        .filter(messages::status.eq_any([Status::Dispatched.as_str(), Status::Sent.as_str()]))
        .set((
            messages::status.eq(Status::Failed.as_str()),
            messages::failure_code.eq(failure.map(|f| f.0)),
            messages::failure_reason.eq(failure.map(|f| f.1)),
            messages::finished_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .returning((messages::account_id, messages::sent_at))
        .get_result(conn)
        .optional()?;
    let Some((account_id, sent_at)) = changed else { return Ok(Applied::Unchanged) };
    let detail = failure.map(|(code, reason)| format!("{code}: {reason}"));
    add_events(conn, &[event(id, Status::Failed, detail, now)])?;
    webhooks::record_message(conn, &account_id, EventType::MessageFailed, id)?;
    Ok(Applied::Changed { to: Status::Failed, from_dispatched: sent_at.is_none() })
}

/// Messages handed to the device and not yet reported sent or failed.
pub fn unreported_count(conn: &mut DbConnection, device_id: &str) -> QueryResult<i64> {
    messages::table
        .filter(messages::device_id.eq(device_id))
        .filter(messages::status.eq(Status::Dispatched.as_str()))
        .count()
        .get_result(conn)
}

/// Puts back in the queue what the device was handed but never acknowledged.
pub fn requeue_unacknowledged(conn: &mut DbConnection, device_id: &str, reason: &str) -> QueryResult<usize> {
    requeue(conn, device_id, None, reason)
}

/// [`requeue_unacknowledged`] for the given messages only: a claim whose connection was
/// replaced or closed before its `send` frames could go out.
pub fn requeue_claimed(conn: &mut DbConnection, device_id: &str, ids: &[String], reason: &str) -> QueryResult<usize> {
    requeue(conn, device_id, Some(ids), reason)
}

fn requeue(conn: &mut DbConnection, device_id: &str, only: Option<&[String]>, reason: &str) -> QueryResult<usize> {
    write_transaction(conn, |conn| {
        let now = time::now();
        use diesel::IntoSql;
        use diesel::sql_types::Bool;
        let every = only.is_none().into_sql::<Bool>();
        let listed = messages::id.eq_any(only.unwrap_or_default());
        let ids: Vec<String> = diesel::update(messages::table)
            .filter(messages::device_id.eq(device_id))
            .filter(messages::status.eq(Status::Dispatched.as_str()))
            .filter(messages::acked_at.is_null())
            .filter(every.or(listed))
            .set((
                messages::status.eq(Status::Queued.as_str()),
                messages::device_id.eq(None::<String>),
                messages::updated_at.eq(now),
            ))
            .returning(messages::id)
            .get_results(conn)?;
        let events: Vec<Event> =
            ids.iter().map(|id| event(id, Status::Queued, Some(format!("re-queued: {reason}")), now)).collect();
        add_events(conn, &events)?;
        Ok(ids.len())
    })
}

/// What a cancel did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Canceled {
    /// Canceled; `Some(device)` when a phone holds an unacknowledged copy to revoke.
    Done(Option<String>),
    TooLate(Status),
    NotFound,
}

/// Cancels a message no phone has acknowledged; `why` goes into its `canceled` event.
pub fn cancel(conn: &mut DbConnection, account_id: &str, id: &str, why: &str) -> QueryResult<Canceled> {
    write_transaction(conn, |conn| {
        let now = time::now();
        let Some(m) = messages::table
            .find(id)
            .filter(messages::account_id.eq(account_id))
            .select(Message::as_select())
            .first(conn)
            .optional()?
        else {
            return Ok(Canceled::NotFound);
        };
        let updated = diesel::update(messages::table.find(id))
            .filter(
                messages::status
                    .eq(Status::Queued.as_str())
                    .or(messages::status.eq(Status::Dispatched.as_str()).and(messages::acked_at.is_null())),
            )
            .set((
                messages::status.eq(Status::Canceled.as_str()),
                messages::body.eq(scrubbed_body()),
                messages::finished_at.eq(now),
                messages::updated_at.eq(now),
            ))
            .execute(conn)?;
        if updated == 0 {
            let current = messages::table.find(id).select(messages::status).first::<String>(conn)?;
            return Ok(Canceled::TooLate(Status::parse(&current).unwrap_or(m.status())));
        }
        add_events(conn, &[event(id, Status::Canceled, Some(why.to_owned()), now)])?;
        Ok(Canceled::Done(if m.status() == Status::Dispatched { m.device_id } else { None }))
    })
}

/// The expiry sweep's candidates: live messages past their time (queued, or handed to a
/// phone that has not acknowledged them), at most a thousand a pass. The first condition is
/// the `messages_expiring` index's own, written literally so that both databases see that the
/// index applies (a bound status would hide it): the sweep reads the live messages whose time
/// has come, not every message ever stored. `$1` is now.
pub const EXPIRY_DUE_SQL: &str = "SELECT id, device_id, account_id FROM messages \
     WHERE status IN ('queued', 'dispatched') AND expires_at <= $1 \
       AND (status = 'queued' OR acked_at IS NULL) \
     LIMIT 1000";

#[derive(diesel::QueryableByName)]
struct ExpiryDue {
    #[diesel(sql_type = diesel::sql_types::Text)]
    id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    device_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    account_id: String,
}

/// Expires what outlived its TTL before a phone took it. Returns (id, device holding an
/// unacknowledged copy) for each, so those phones can be told to drop it.
pub fn expire_due(conn: &mut DbConnection) -> QueryResult<Vec<(String, Option<String>)>> {
    write_transaction(conn, |conn| {
        let now = time::now();
        let rows: Vec<ExpiryDue> = crate::per_backend!(&mut *conn, |c| diesel::sql_query(EXPIRY_DUE_SQL)
            .bind::<diesel::sql_types::Timestamp, _>(now)
            .load(c))?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let due: Vec<(String, Option<String>)> = rows.iter().map(|r| (r.id.clone(), r.device_id.clone())).collect();
        let ids: Vec<&String> = due.iter().map(|(id, _)| id).collect();
        diesel::update(messages::table)
            .filter(messages::id.eq_any(ids))
            .set((
                messages::status.eq(Status::Expired.as_str()),
                messages::failure_code.eq(relay_protocol::failure::EXPIRED),
                messages::failure_reason.eq(relay_protocol::failure::reason(relay_protocol::failure::EXPIRED)),
                messages::body.eq(scrubbed_body()),
                messages::finished_at.eq(now),
                messages::updated_at.eq(now),
            ))
            .execute(conn)?;
        let events: Vec<Event> = due.iter().map(|(id, _)| event(id, Status::Expired, None, now)).collect();
        add_events(conn, &events)?;
        for r in &rows {
            webhooks::record_message(conn, &r.account_id, EventType::MessageExpired, &r.id)?;
        }
        Ok(due)
    })
}

/// After unpairing: unacknowledged work goes back to the queue; what the phone had taken can
/// no longer be reported, so it ends as failed with `device_unpaired`.
pub fn settle_unpaired(conn: &mut DbConnection, device_id: &str) -> QueryResult<()> {
    requeue_unacknowledged(conn, device_id, "device unpaired")?;
    write_transaction(conn, |conn| {
        let now = time::now();
        let code = relay_protocol::failure::DEVICE_UNPAIRED;
        let ids: Vec<(String, String)> = diesel::update(messages::table)
            .filter(messages::device_id.eq(device_id))
            .filter(messages::status.eq_any(["dispatched", "sent"]))
            .set((
                messages::status.eq(Status::Failed.as_str()),
                messages::failure_code.eq(code),
                messages::failure_reason.eq(relay_protocol::failure::reason(code)),
                messages::finished_at.eq(now),
                messages::updated_at.eq(now),
            ))
            .returning((messages::id, messages::account_id))
            .get_results(conn)?;
        let events: Vec<Event> = ids.iter().map(|(id, _)| event(id, Status::Failed, Some(code.into()), now)).collect();
        add_events(conn, &events)?;
        for (id, account_id) in &ids {
            webhooks::record_message(conn, account_id, EventType::MessageFailed, id)?;
        }
        Ok(())
    })
}

/// Figures for `GET /v1/queue`.
#[derive(Debug, Default)]
pub struct QueueFigures {
    pub counts: Vec<(String, i64)>,
    pub oldest_queued: Option<NaiveDateTime>,
    pub sent_last_hour: i64,
    pub failed_last_hour: i64,
}

pub fn figures(conn: &mut DbConnection, account_id: &str) -> QueryResult<QueueFigures> {
    let mut counts = in_progress_counts(conn, account_id)?;
    counts.extend(finished_counts(conn, account_id)?);
    // The oldest queued message is the first of its lane in id (ULID, time) order: one probe
    // of `messages_queue` per lane, where `min(queued_at)` read every queued row (a bulk
    // backlog of 100,000 rows, on each poll of the queue page).
    let mut firsts = Vec::with_capacity(Lane::ALL.len());
    for lane in Lane::ALL {
        let first: Option<NaiveDateTime> = messages::table
            .filter(messages::account_id.eq(account_id))
            .filter(messages::status.eq(Status::Queued.as_str()))
            .filter(messages::priority.eq(lane as i16))
            .order(messages::id.asc())
            .select(messages::queued_at)
            .first(conn)
            .optional()?;
        firsts.push(first);
    }
    let oldest_queued = firsts.into_iter().flatten().min();
    // The minute an hour ago is left out: the figure covers between 59 and 60 minutes.
    let since = minute_of(time::now()) - Duration::minutes(59);
    let (mut sent_last_hour, mut failed_last_hour) = (0, 0);
    for (_, sent, failed) in minutes_since(conn, account_id, since)? {
        sent_last_hour += sent;
        failed_last_hour += failed;
    }
    Ok(QueueFigures { counts, oldest_queued, sent_last_hour, failed_last_hour })
}

/// The start of `t`'s minute.
fn minute_of(t: NaiveDateTime) -> NaiveDateTime {
    use chrono::Timelike;
    t.with_second(0).and_then(|t| t.with_nanosecond(0)).unwrap_or(t)
}

/// The account's counted minutes since `since` (each counting connection's row apart): minute,
/// messages sent, messages failed. See the migration `message_minutes`.
fn minutes_since(
    conn: &mut DbConnection,
    account_id: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<(NaiveDateTime, i64, i64)>> {
    message_minutes::table
        .filter(message_minutes::account_id.eq(account_id))
        .filter(message_minutes::minute.ge(since))
        .select((message_minutes::minute, message_minutes::sent, message_minutes::failed))
        .load(conn)
}

/// Deletes the counted minutes older than the health chart's day and an hour. Only the
/// current minute is ever counted into, so this never waits on a writer.
pub fn prune_minutes(conn: &mut DbConnection, now: NaiveDateTime) -> QueryResult<usize> {
    let before = minute_of(now) - Duration::hours(crate::queue::HEALTH_HOURS + 1);
    diesel::delete(message_minutes::table.filter(message_minutes::minute.lt(before))).execute(conn)
}

/// Messages not yet finished, per status: a range of the queue index, as long as the backlog.
fn in_progress_counts(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<(String, i64)>> {
    let in_progress: Vec<&str> = Status::ALL.into_iter().filter(|s| !s.is_final()).map(Status::as_str).collect();
    messages::table
        .filter(messages::account_id.eq(account_id))
        .filter(messages::status.eq_any(in_progress))
        .group_by(messages::status)
        .select((messages::status, count_star()))
        .load(conn)
}

/// Finished messages per status, from the totals the database's trigger keeps as messages
/// finish (one row per status and counting connection, see [`fold_totals`]): never a walk
/// over the account's history.
fn finished_counts(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<(String, i64)>> {
    let shards: Vec<(String, i64)> = message_totals::table
        .filter(message_totals::account_id.eq(account_id))
        .select((message_totals::status, message_totals::n))
        .load(conn)?;
    let mut sums: HashMap<String, i64> = HashMap::new();
    for (status, n) in shards {
        *sums.entry(status).or_default() += n;
    }
    Ok(sums.into_iter().collect())
}

/// PostgreSQL: moves the totals counted by connections that have ended into shard 0, so an
/// account keeps a few rows per status however many connections came and went (a pool
/// replaces its connections every half hour). Returns the shard-0 rows written. Rows another
/// transaction holds are left for the next fold, so a fold never waits on a writer; writers
/// never touch shard 0, and folds write it in account order, so folds of several server
/// instances wait on one another at most, never in a circle.
pub fn fold_totals(conn: &mut DbConnection) -> QueryResult<usize> {
    let DbConnection::Postgres(pg) = conn else { return Ok(0) };
    diesel::sql_query(
        "WITH gone AS ( \
             DELETE FROM message_totals WHERE ctid IN ( \
                 SELECT ctid FROM message_totals t \
                 WHERE t.shard <> 0 AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = t.shard) \
                 FOR UPDATE SKIP LOCKED) \
             RETURNING account_id, status, n) \
         INSERT INTO message_totals (account_id, status, shard, n) \
         SELECT account_id, status, 0, SUM(n) FROM gone GROUP BY account_id, status ORDER BY account_id, status \
         ON CONFLICT (account_id, status, shard) DO UPDATE SET n = message_totals.n + EXCLUDED.n",
    )
    .execute(pg)
}

/// Messages counted in one clock hour (UTC), `hour` as `YYYY-MM-DD HH:00:00`.
#[derive(Debug, Clone, PartialEq, Eq, diesel::QueryableByName)]
pub struct HourCount {
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub hour: String,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    pub n: i64,
}

/// Per clock hour since `since`: messages sent (`sent_at`), and messages that failed
/// (`finished_at` of those whose status is `failed`), from the counted minutes.
pub fn hourly(
    conn: &mut DbConnection,
    account_id: &str,
    since: NaiveDateTime,
) -> QueryResult<(Vec<HourCount>, Vec<HourCount>)> {
    let mut hours: std::collections::BTreeMap<String, (i64, i64)> = std::collections::BTreeMap::new();
    for (minute, sent, failed) in minutes_since(conn, account_id, since)? {
        let hour = hours.entry(minute.format("%Y-%m-%d %H:00:00").to_string()).or_default();
        hour.0 += sent;
        hour.1 += failed;
    }
    let column = |pick: fn(&(i64, i64)) -> i64| {
        hours
            .iter()
            .filter(|(_, n)| pick(n) > 0)
            .map(|(hour, n)| HourCount { hour: hour.clone(), n: pick(n) })
            .collect()
    };
    Ok((column(|n| n.0), column(|n| n.1)))
}

/// Why messages failed since `since`: each failure code with how often, most frequent first,
/// and one of its reasons in words.
pub fn failure_reasons(
    conn: &mut DbConnection,
    account_id: &str,
    since: NaiveDateTime,
    limit: usize,
) -> QueryResult<Vec<(String, i64, Option<String>)>> {
    let mut rows: Vec<(Option<String>, i64, Option<String>)> = messages::table
        .filter(messages::account_id.eq(account_id))
        .filter(messages::status.eq(Status::Failed.as_str()))
        .filter(messages::finished_at.ge(since))
        .group_by(messages::failure_code)
        .select((messages::failure_code, count_star(), max(messages::failure_reason)))
        .load(conn)?;
    // Few distinct codes: ranking them here keeps the SQL the same on both backends.
    rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Ok(rows
        .into_iter()
        .take(limit)
        .map(|(code, n, reason)| (code.unwrap_or_else(|| "unknown".into()), n, reason))
        .collect())
}

/// The status of each of `ids` that belongs to the account (the console's live list).
pub fn statuses(conn: &mut DbConnection, account_id: &str, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    messages::table
        .filter(messages::account_id.eq(account_id))
        .filter(messages::id.eq_any(ids))
        .select((messages::id, messages::status))
        .order(messages::id)
        .load(conn)
}

/// Accounts with queued work, for the dispatcher's sweep.
pub fn accounts_with_queued(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    messages::table
        .filter(messages::status.eq(Status::Queued.as_str()))
        .select(messages::account_id)
        .distinct()
        .load(conn)
}

/// SMS parts handed to a device since midnight UTC: seeds its daily pacing after a reconnect.
pub fn parts_dispatched_today(conn: &mut DbConnection, device_id: &str) -> QueryResult<i64> {
    let midnight = time::now().date().and_hms_opt(0, 0, 0).unwrap_or_else(time::now);
    let parts: Option<i64> = messages::table
        .filter(messages::device_id.eq(device_id))
        .filter(messages::dispatched_at.ge(midnight))
        .select(diesel::dsl::sum(messages::segments))
        .first(conn)?;
    Ok(parts.unwrap_or(0))
}
