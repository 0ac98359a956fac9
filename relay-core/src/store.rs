//! The phone's durable state: credentials, received messages and the outbox of status reports,
//! all in ONE SQLite file so that every state change is a single transaction.
//!
//! The store is where the never-twice rule lives: a message moves `stored → confirmed →
//! handed_over` through conditional updates, so only one caller can ever win the hand-over of a
//! message, and a message marked `handed_over` is never offered to the transport again, even
//! after a crash.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use relay_protocol::failure;
use relay_protocol::frames::{DeliveryStatus, Failure, Pacing, SendMessage};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::pairing::Credentials;

/// The database file inside the data directory.
pub const DB_FILE: &str = "relay.sqlite3";

const SCHEMA_VERSION: i64 = 1;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS credentials (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    server_url   TEXT NOT NULL,
    device_id    TEXT NOT NULL,
    device_name  TEXT NOT NULL,
    device_token TEXT NOT NULL,
    connect_url  TEXT NOT NULL,
    fingerprint  TEXT
);
CREATE TABLE IF NOT EXISTS settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
-- `recipient` is the frame's `to` (a reserved word in SQL). Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS messages (
    request_id     TEXT PRIMARY KEY,
    recipient      TEXT NOT NULL,
    body           TEXT NOT NULL,
    sim            INTEGER,
    parts          INTEGER NOT NULL,
    expires_at     TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('stored', 'confirmed', 'handed_over', 'finished')),
    last_reported  TEXT,
    stored_at      INTEGER NOT NULL,
    confirmed_at   INTEGER,
    handed_over_at INTEGER,
    finished_at    INTEGER
);
CREATE INDEX IF NOT EXISTS messages_by_state ON messages (state, confirmed_at);
CREATE INDEX IF NOT EXISTS messages_by_hand_over ON messages (handed_over_at);
CREATE TABLE IF NOT EXISTS outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id      TEXT NOT NULL,
    status          TEXT NOT NULL,
    at              TEXT NOT NULL,
    failure_code    TEXT,
    failure_reason  TEXT,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    UNIQUE (request_id, status)
);
"#;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the local database failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the local database holds an unexpected value {value:?} in {column}")]
    Corrupt { column: &'static str, value: String },
    #[error("the local database lock was poisoned by an earlier panic")]
    Poisoned,
    #[error("cannot create the data directory {path}: {source}")]
    DataDir { path: PathBuf, source: std::io::Error },
    #[error("cannot store the setting {key}: {source}")]
    Setting { key: &'static str, source: serde_json::Error },
}

/// Where a received message is in its life on the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageState {
    /// Stored after `send`, `accepted` sent, no `confirm` yet.
    Stored,
    /// The server confirmed this phone owns it: waiting for pacing to hand it over.
    Confirmed,
    /// Given to the SMS transport. Never given again.
    HandedOver,
    /// A final outcome (`delivered` or `failed`) is recorded.
    Finished,
}

impl MessageState {
    fn as_str(self) -> &'static str {
        match self {
            MessageState::Stored => "stored",
            MessageState::Confirmed => "confirmed",
            MessageState::HandedOver => "handed_over",
            MessageState::Finished => "finished",
        }
    }

    fn parse(text: String) -> Result<Self, StoreError> {
        Ok(match text.as_str() {
            "stored" => MessageState::Stored,
            "confirmed" => MessageState::Confirmed,
            "handed_over" => MessageState::HandedOver,
            "finished" => MessageState::Finished,
            _ => return Err(StoreError::Corrupt { column: "messages.state", value: text }),
        })
    }
}

pub(crate) fn status_str(status: DeliveryStatus) -> &'static str {
    match status {
        DeliveryStatus::Sent => "sent",
        DeliveryStatus::Delivered => "delivered",
        DeliveryStatus::Failed => "failed",
    }
}

fn parse_status(column: &'static str, text: String) -> Result<DeliveryStatus, StoreError> {
    Ok(match text.as_str() {
        "sent" => DeliveryStatus::Sent,
        "delivered" => DeliveryStatus::Delivered,
        "failed" => DeliveryStatus::Failed,
        _ => return Err(StoreError::Corrupt { column, value: text }),
    })
}

/// A message as the phone keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    pub request_id: String,
    pub to: String,
    pub body: String,
    pub sim: Option<u8>,
    pub parts: u32,
    pub expires_at: String,
    pub state: MessageState,
    /// The newest outcome the transport reported so far.
    pub last_reported: Option<DeliveryStatus>,
}

/// What storing a `send` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendOutcome {
    New,
    /// The server sent this id before (say, our `accepted` was lost); nothing changed.
    Duplicate(MessageState),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmOutcome {
    Confirmed,
    /// Already past `stored`: a repeated confirm changes nothing.
    AlreadyPast(MessageState),
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RevokeOutcome {
    Dropped,
    /// Already handed to the transport (or finished): it cannot be taken back.
    TooLate(MessageState),
    Unknown,
}

/// One status report waiting in the outbox for its `status_ack`.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: i64,
    pub request_id: String,
    pub status: DeliveryStatus,
    pub at: String,
    pub failure: Option<Failure>,
    pub attempts: u32,
}

/// One hand-over to the transport, for pacing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandOverRecord {
    pub at_ms: i64,
    pub parts: u32,
}

/// An outcome the transport reported, as [`Store::record_statuses`] takes it.
#[derive(Debug, Clone, Copy)]
pub struct OutcomeRecord<'a> {
    pub request_id: &'a str,
    pub status: DeliveryStatus,
    pub failure: Option<&'a Failure>,
    /// When the transport observed it (RFC 3339), as the server will be told.
    pub at: &'a str,
}

/// A connection in relaxed-sync mode; back to FULL when dropped.
struct Relaxed<'a>(MutexGuard<'a, Connection>);

impl Drop for Relaxed<'_> {
    fn drop(&mut self) {
        if let Err(e) = self.0.pragma_update(None, "synchronous", "FULL") {
            tracing::error!(error = %e, "could not restore synchronous=FULL on the local store");
        }
    }
}

impl std::ops::Deref for Relaxed<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl std::ops::DerefMut for Relaxed<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        &mut self.0
    }
}

/// The SQLite-backed store. One connection behind a mutex: the phone writes a few rows a
/// second at most, and a single connection makes every transaction strictly ordered.
pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open_dir(data_dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(data_dir)
            .map_err(|source| StoreError::DataDir { path: data_dir.to_owned(), source })?;
        Self::open(&data_dir.join(DB_FILE))
    }

    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        // WAL lets a reader (a UI) look while the agent writes; FULL sync because the
        // never-twice rule must survive a power cut, and a phone writes a few rows a minute.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        tracing::debug!(path = %path.display(), "opened the local store");
        Ok(Store { conn: Mutex::new(conn), path: path.to_owned() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        self.conn.lock().map_err(|_| StoreError::Poisoned)
    }

    /// The connection for a write that a power cut may undo harmlessly: its commit skips the
    /// fsync (WAL order still holds, and the next durable commit carries it to disk). Used for
    /// status reports and outbox bookkeeping, which recovery re-creates: a handed-over message
    /// whose outcome was lost is asked of the transport again, and the server ignores repeats.
    /// Accepting, confirming and handing over stay fully synchronous: they are the
    /// never-lost and never-twice rules.
    fn relaxed(&self) -> Result<Relaxed<'_>, StoreError> {
        let conn = self.conn()?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(Relaxed(conn))
    }

    // --- credentials and settings -------------------------------------------------------

    /// Saves the credentials of a new pairing. A different device identity replaces the old
    /// one, and the old identity's queue goes with it: the server revoked that token.
    pub fn save_credentials(&self, creds: &Credentials) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let previous: Option<String> =
            tx.query_row("SELECT device_id FROM credentials WHERE id = 1", [], |r| r.get(0)).optional()?;
        if previous.as_deref().is_some_and(|id| id != creds.device_id) {
            tracing::warn!(old = ?previous, new = %creds.device_id, "re-paired as a new device: clearing the old queue");
            tx.execute("DELETE FROM messages", [])?;
            tx.execute("DELETE FROM outbox", [])?;
        }
        tx.execute(
            "INSERT OR REPLACE INTO credentials
                (id, server_url, device_id, device_name, device_token, connect_url, fingerprint)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                creds.server_url,
                creds.device_id,
                creds.device_name,
                creds.device_token,
                creds.connect_url,
                creds.fingerprint
            ],
        )?;
        tx.commit()?;
        Ok(())
    }

    pub fn credentials(&self) -> Result<Option<Credentials>, StoreError> {
        let conn = self.conn()?;
        let creds = conn
            .query_row(
                "SELECT server_url, device_id, device_name, device_token, connect_url, fingerprint
                 FROM credentials WHERE id = 1",
                [],
                |r| {
                    Ok(Credentials {
                        server_url: r.get(0)?,
                        device_id: r.get(1)?,
                        device_name: r.get(2)?,
                        device_token: r.get(3)?,
                        connect_url: r.get(4)?,
                        fingerprint: r.get(5)?,
                    })
                },
            )
            .optional()?;
        Ok(creds)
    }

    /// Remembers the server's pacing so a restart without a link still paces correctly.
    pub fn save_pacing(&self, pacing: Pacing) -> Result<(), StoreError> {
        let value = serde_json::to_string(&pacing).map_err(|source| StoreError::Setting { key: "pacing", source })?;
        self.conn()?.execute("INSERT OR REPLACE INTO settings (key, value) VALUES ('pacing', ?1)", params![value])?;
        Ok(())
    }

    pub fn pacing(&self) -> Result<Option<Pacing>, StoreError> {
        let value: Option<String> =
            self.conn()?.query_row("SELECT value FROM settings WHERE key = 'pacing'", [], |r| r.get(0)).optional()?;
        // A setting we cannot read is not worth failing for: the default pacing is safe.
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    // --- the message state machine --------------------------------------------------------

    /// Stores a `send` durably. Must succeed before the phone answers `accepted`.
    pub fn store_send(&self, msg: &SendMessage, now_ms: i64) -> Result<SendOutcome, StoreError> {
        let mut outcomes = self.store_sends(std::slice::from_ref(msg), now_ms)?;
        // One outcome per message, so this is always there.
        outcomes.pop().ok_or(StoreError::Poisoned)
    }

    /// Stores a burst of `send`s in one durable transaction: one fsync for all of them.
    pub fn store_sends(&self, msgs: &[SendMessage], now_ms: i64) -> Result<Vec<SendOutcome>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(msgs.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT OR IGNORE INTO messages
                    (request_id, recipient, body, sim, parts, expires_at, state, stored_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'stored', ?7)",
            )?;
            for msg in msgs {
                let inserted = insert.execute(params![
                    msg.request_id,
                    msg.to,
                    msg.body,
                    msg.sim,
                    msg.parts,
                    msg.expires_at,
                    now_ms
                ])?;
                outcomes.push(if inserted == 1 {
                    SendOutcome::New
                } else {
                    SendOutcome::Duplicate(state_of(&tx, &msg.request_id)?.unwrap_or(MessageState::Stored))
                });
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// `confirm`: stored → confirmed, only from `stored`.
    pub fn confirm(&self, request_id: &str, now_ms: i64) -> Result<ConfirmOutcome, StoreError> {
        let mut outcomes = self.confirm_all(&[request_id], now_ms)?;
        outcomes.pop().ok_or(StoreError::Poisoned)
    }

    /// A burst of `confirm`s in one durable transaction.
    pub fn confirm_all(&self, request_ids: &[&str], now_ms: i64) -> Result<Vec<ConfirmOutcome>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut outcomes = Vec::with_capacity(request_ids.len());
        {
            let mut update = tx.prepare_cached(
                "UPDATE messages SET state = 'confirmed', confirmed_at = ?2 WHERE request_id = ?1 AND state = 'stored'",
            )?;
            for request_id in request_ids {
                let changed = update.execute(params![request_id, now_ms])?;
                outcomes.push(if changed == 1 {
                    ConfirmOutcome::Confirmed
                } else {
                    match state_of(&tx, request_id)? {
                        Some(state) => ConfirmOutcome::AlreadyPast(state),
                        None => ConfirmOutcome::Unknown,
                    }
                });
            }
        }
        tx.commit()?;
        Ok(outcomes)
    }

    /// `revoke`: drops the message unless the transport already has it.
    pub fn revoke(&self, request_id: &str) -> Result<RevokeOutcome, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let deleted = tx.execute(
            "DELETE FROM messages WHERE request_id = ?1 AND state IN ('stored', 'confirmed')",
            params![request_id],
        )?;
        let outcome = if deleted == 1 {
            RevokeOutcome::Dropped
        } else {
            match state_of(&tx, request_id)? {
                Some(state) => RevokeOutcome::TooLate(state),
                None => RevokeOutcome::Unknown,
            }
        };
        tx.commit()?;
        Ok(outcome)
    }

    /// Up to `limit` confirmed messages, oldest first: next in line for the transport.
    pub fn next_confirmed(&self, limit: u32) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(NEXT_CONFIRMED)?;
        let rows = stmt.query_map([limit], raw_message)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawMessage::into_message).collect()
    }

    /// confirmed → handed_over, for each message in one transaction (one fsync). For each,
    /// true for exactly one caller, ever: only that caller may give it to the transport.
    pub fn hand_over(&self, request_ids: &[&str], now_ms: i64) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.conn()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let won = {
            let mut stmt = tx.prepare_cached(
                "UPDATE messages SET state = 'handed_over', handed_over_at = ?2
                 WHERE request_id = ?1 AND state = 'confirmed'",
            )?;
            request_ids
                .iter()
                .map(|id| stmt.execute(params![id, now_ms]).map(|changed| changed == 1))
                .collect::<Result<Vec<_>, _>>()?
        };
        tx.commit()?;
        Ok(won)
    }

    /// A confirmed message whose time ran out: finished unsent, with a `failed`/`expired`
    /// report queued, in one transaction.
    pub fn expire(&self, request_id: &str, at: &str, now_ms: i64) -> Result<bool, StoreError> {
        let mut conn = self.relaxed()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE messages SET state = 'finished', finished_at = ?2, last_reported = 'failed'
             WHERE request_id = ?1 AND state = 'confirmed'",
            params![request_id, now_ms],
        )?;
        if changed == 1 {
            let reason = failure::reason(failure::EXPIRED);
            queue_report(&tx, request_id, DeliveryStatus::Failed, at, Some((failure::EXPIRED, &reason)), now_ms)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Records what the transport reported and queues it for the server, in one transaction.
    /// Only a handed-over message can have an outcome; a final one finishes the message, and
    /// anything after a final outcome is ignored. Returns whether the report was queued.
    pub fn record_status(
        &self,
        request_id: &str,
        status: DeliveryStatus,
        failure: Option<&Failure>,
        at: &str,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let report = OutcomeRecord { request_id, status, failure, at };
        Ok(self.record_statuses(&[report], now_ms)?.first().copied().unwrap_or(false))
    }

    /// [`Store::record_status`] for several reports in one transaction, in order (a message's
    /// `sent` may precede its `delivered` in the same list). A radio that reports a burst of
    /// outcomes at once writes each touched page once instead of once per report.
    pub fn record_statuses(&self, reports: &[OutcomeRecord<'_>], now_ms: i64) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.relaxed()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut queued = Vec::with_capacity(reports.len());
        for report in reports {
            queued.push(record_one(&tx, report, now_ms)?);
        }
        tx.commit()?;
        Ok(queued)
    }

    /// Ids stored after `send` whose `confirm` never came: `hello.unconfirmed`.
    pub fn unconfirmed(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare("SELECT request_id FROM messages WHERE state = 'stored' ORDER BY stored_at")?;
        let ids = stmt.query_map([], |r| r.get(0))?.collect::<Result<Vec<String>, _>>()?;
        Ok(ids)
    }

    /// Messages the transport took but whose final outcome never arrived (a crash, a
    /// restart). They are never sent again; the transport is asked what it knows instead.
    pub fn handed_over(&self) -> Result<Vec<StoredMessage>, StoreError> {
        self.messages_where("state = 'handed_over' ORDER BY handed_over_at")
    }

    pub fn message(&self, request_id: &str) -> Result<Option<StoredMessage>, StoreError> {
        let conn = self.conn()?;
        let row = conn
            .query_row(&format!("{SELECT_MESSAGE} WHERE request_id = ?1"), params![request_id], raw_message)
            .optional()?;
        row.map(RawMessage::into_message).transpose()
    }

    fn messages_where(&self, condition: &str) -> Result<Vec<StoredMessage>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare(&format!("{SELECT_MESSAGE} WHERE {condition}"))?;
        let rows = stmt.query_map([], raw_message)?.collect::<Result<Vec<_>, _>>()?;
        rows.into_iter().map(RawMessage::into_message).collect()
    }

    /// Messages held and not finished (the heartbeat's `queue_depth`).
    pub fn queue_depth(&self) -> Result<u32, StoreError> {
        let n: u32 =
            self.conn()?.query_row("SELECT COUNT(*) FROM messages WHERE state != 'finished'", [], |r| r.get(0))?;
        Ok(n)
    }

    /// Messages stored and awaiting `confirm`, to compare with `welcome.window`.
    pub fn awaiting_confirm(&self) -> Result<u32, StoreError> {
        let n: u32 =
            self.conn()?.query_row("SELECT COUNT(*) FROM messages WHERE state = 'stored'", [], |r| r.get(0))?;
        Ok(n)
    }

    /// Hand-overs at or after `since_ms`, oldest first (for pacing).
    pub fn hand_overs_since(&self, since_ms: i64) -> Result<Vec<HandOverRecord>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn
            .prepare("SELECT handed_over_at, parts FROM messages WHERE handed_over_at >= ?1 ORDER BY handed_over_at")?;
        let rows = stmt
            .query_map(params![since_ms], |r| Ok(HandOverRecord { at_ms: r.get(0)?, parts: r.get(1)? }))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Parts handed to the transport at or after `since_ms`.
    pub fn parts_since(&self, since_ms: i64) -> Result<u32, StoreError> {
        let n: i64 = self.conn()?.query_row(
            "SELECT COALESCE(SUM(parts), 0) FROM messages WHERE handed_over_at >= ?1",
            params![since_ms],
            |r| r.get(0),
        )?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }

    /// Forgets finished messages older than `before_ms` whose reports are all acknowledged.
    pub fn prune_finished(&self, before_ms: i64) -> Result<usize, StoreError> {
        let n = self.relaxed()?.execute(
            "DELETE FROM messages WHERE state = 'finished' AND finished_at < ?1
               AND request_id NOT IN (SELECT request_id FROM outbox)",
            params![before_ms],
        )?;
        Ok(n)
    }

    // --- the outbox -----------------------------------------------------------------------

    /// Reports whose next attempt is due, oldest first.
    pub fn due_reports(&self, now_ms: i64, limit: u32) -> Result<Vec<Report>, StoreError> {
        let conn = self.conn()?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, request_id, status, at, failure_code, failure_reason, attempts FROM outbox
             WHERE next_attempt_at <= ?1 ORDER BY id LIMIT ?2",
        )?;
        let rows = stmt
            .query_map(params![now_ms, limit], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                    r.get::<_, u32>(6)?,
                ))
            })?
            .collect::<Result<Vec<_>, _>>()?;
        rows.into_iter()
            .map(|(id, request_id, status, at, code, reason, attempts)| {
                let failure = code.map(|code| Failure { code, reason: reason.unwrap_or_default() });
                Ok(Report { id, request_id, status: parse_status("outbox.status", status)?, at, failure, attempts })
            })
            .collect()
    }

    /// When the earliest report falls due, if any is waiting.
    pub fn next_report_due(&self) -> Result<Option<i64>, StoreError> {
        let due: Option<i64> =
            self.conn()?.prepare_cached("SELECT MIN(next_attempt_at) FROM outbox")?.query_row([], |r| r.get(0))?;
        Ok(due)
    }

    pub fn pending_reports(&self) -> Result<Vec<Report>, StoreError> {
        self.due_reports(i64::MAX, u32::MAX)
    }

    /// Counts an attempt of each (outbox id, next attempt) and schedules its next one, in one
    /// transaction: a pass over the outbox costs one commit, not one per report.
    pub fn reports_attempted(&self, attempts: &[(i64, i64)]) -> Result<(), StoreError> {
        if attempts.is_empty() {
            return Ok(());
        }
        let mut conn = self.relaxed()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut update =
                tx.prepare_cached("UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2 WHERE id = ?1")?;
            for (id, next) in attempts {
                update.execute(params![id, next])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// After a reconnect every waiting report goes out at once.
    pub fn retry_reports_now(&self, now_ms: i64) -> Result<(), StoreError> {
        self.relaxed()?.execute("UPDATE outbox SET next_attempt_at = ?1", params![now_ms])?;
        Ok(())
    }

    /// `status_ack`s, a burst in one transaction: the server has these reports; forget them.
    /// For each, whether a report was forgotten.
    pub fn ack_reports(&self, acks: &[(&str, DeliveryStatus)]) -> Result<Vec<bool>, StoreError> {
        let mut conn = self.relaxed()?;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut forgotten = Vec::with_capacity(acks.len());
        {
            let mut delete = tx.prepare_cached("DELETE FROM outbox WHERE request_id = ?1 AND status = ?2")?;
            for (request_id, status) in acks {
                forgotten.push(delete.execute(params![request_id, status_str(*status)])? > 0);
            }
        }
        tx.commit()?;
        Ok(forgotten)
    }
}

const SELECT_MESSAGE: &str =
    "SELECT request_id, recipient, body, sim, parts, expires_at, state, last_reported FROM messages";
/// [`Store::next_confirmed`]'s query, spelled out so that its statement can be cached.
const NEXT_CONFIRMED: &str = "SELECT request_id, recipient, body, sim, parts, expires_at, state, last_reported \
     FROM messages WHERE state = 'confirmed' ORDER BY confirmed_at, stored_at LIMIT ?1";

/// A row as SQLite gives it; `into_message` checks the text columns.
struct RawMessage {
    request_id: String,
    to: String,
    body: String,
    sim: Option<u8>,
    parts: u32,
    expires_at: String,
    state: String,
    last_reported: Option<String>,
}

fn raw_message(r: &rusqlite::Row<'_>) -> rusqlite::Result<RawMessage> {
    Ok(RawMessage {
        request_id: r.get(0)?,
        to: r.get(1)?,
        body: r.get(2)?,
        sim: r.get(3)?,
        parts: r.get(4)?,
        expires_at: r.get(5)?,
        state: r.get(6)?,
        last_reported: r.get(7)?,
    })
}

impl RawMessage {
    fn into_message(self) -> Result<StoredMessage, StoreError> {
        Ok(StoredMessage {
            state: MessageState::parse(self.state)?,
            last_reported: self.last_reported.map(|s| parse_status("messages.last_reported", s)).transpose()?,
            request_id: self.request_id,
            to: self.to,
            body: self.body,
            sim: self.sim,
            parts: self.parts,
            expires_at: self.expires_at,
        })
    }
}

/// One report of [`Store::record_statuses`], inside its transaction.
fn record_one(tx: &Connection, report: &OutcomeRecord<'_>, now_ms: i64) -> Result<bool, StoreError> {
    if state_of(tx, report.request_id)? != Some(MessageState::HandedOver) {
        return Ok(false);
    }
    let final_outcome = matches!(report.status, DeliveryStatus::Delivered | DeliveryStatus::Failed);
    let new_state = if final_outcome { MessageState::Finished } else { MessageState::HandedOver };
    tx.prepare_cached(
        "UPDATE messages SET state = ?2, last_reported = ?3,
            finished_at = CASE WHEN ?2 = 'finished' THEN ?4 ELSE finished_at END
         WHERE request_id = ?1",
    )?
    .execute(params![report.request_id, new_state.as_str(), status_str(report.status), now_ms])?;
    let failure = report.failure.map(|f| (f.code.as_str(), f.reason.as_str()));
    queue_report(tx, report.request_id, report.status, report.at, failure, now_ms)
}

fn state_of(conn: &Connection, request_id: &str) -> Result<Option<MessageState>, StoreError> {
    let state: Option<String> = conn
        .prepare_cached("SELECT state FROM messages WHERE request_id = ?1")?
        .query_row(params![request_id], |r| r.get(0))
        .optional()?;
    state.map(MessageState::parse).transpose()
}

/// Adds a report to the outbox; the same (message, status) is kept once.
fn queue_report(
    conn: &Connection,
    request_id: &str,
    status: DeliveryStatus,
    at: &str,
    failure: Option<(&str, &str)>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let n = conn
        .prepare_cached(
            "INSERT OR IGNORE INTO outbox (request_id, status, at, failure_code, failure_reason, next_attempt_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )?
        .execute(params![request_id, status_str(status), at, failure.map(|f| f.0), failure.map(|f| f.1), now_ms])?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(id: &str, parts: u32) -> SendMessage {
        SendMessage {
            request_id: id.into(),
            to: "+923001234567".into(),
            body: format!("body of {id}"),
            sim: Some(1),
            parts,
            expires_at: "2099-01-01T00:00:00Z".into(),
        }
    }

    fn open(dir: &tempfile::TempDir) -> Store {
        Store::open_dir(dir.path()).unwrap()
    }

    #[test]
    fn the_file_uses_wal_and_a_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let conn = store.conn().unwrap();
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        let timeout: i64 = conn.query_row("PRAGMA busy_timeout", [], |r| r.get(0)).unwrap();
        assert_eq!((mode.as_str(), timeout), ("wal", 5000));
        assert!(dir.path().join(DB_FILE).exists());
    }

    fn synchronous(store: &Store) -> i64 {
        store.conn().unwrap().query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap()
    }

    #[test]
    fn a_burst_of_sends_and_confirms_is_stored_in_order_with_repeats_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        let outcomes = store.store_sends(&[msg("a", 1), msg("b", 2), msg("a", 1)], 1).unwrap();
        assert_eq!(outcomes, vec![SendOutcome::New, SendOutcome::New, SendOutcome::Duplicate(MessageState::Stored)]);
        let confirmed = store.confirm_all(&["b", "nope", "b"], 2).unwrap();
        assert_eq!(
            confirmed,
            vec![
                ConfirmOutcome::Confirmed,
                ConfirmOutcome::Unknown,
                ConfirmOutcome::AlreadyPast(MessageState::Confirmed)
            ]
        );
        assert_eq!(store.unconfirmed().unwrap(), vec!["a"]);
        assert_eq!(store.next_confirmed(1).unwrap()[0].request_id, "b");
    }

    #[test]
    fn reports_skip_the_fsync_but_accepting_and_handing_over_do_not() {
        const FULL: i64 = 2;
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        assert_eq!(synchronous(&store), FULL);
        store.store_send(&msg("a", 1), 1).unwrap();
        store.confirm("a", 2).unwrap();
        assert!(store.hand_over(&["a"], 3).unwrap()[0]);
        assert!(store.record_status("a", DeliveryStatus::Sent, None, "2026-11-26T00:00:00Z", 4).unwrap());
        store.reports_attempted(&[(store.pending_reports().unwrap()[0].id, 5)]).unwrap();
        assert_eq!(store.ack_reports(&[("a", DeliveryStatus::Sent)]).unwrap(), [true]);
        // Each relaxed write puts the connection back as it found it: the next accept is durable.
        assert_eq!(synchronous(&store), FULL);
    }

    #[test]
    fn a_message_moves_forward_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        assert_eq!(store.store_send(&msg("m", 2), 10).unwrap(), SendOutcome::New);
        assert_eq!(store.store_send(&msg("m", 2), 11).unwrap(), SendOutcome::Duplicate(MessageState::Stored));
        assert!(!store.hand_over(&["m"], 12).unwrap()[0], "no hand-over before confirm");
        assert_eq!(store.confirm("m", 13).unwrap(), ConfirmOutcome::Confirmed);
        assert_eq!(store.confirm("m", 14).unwrap(), ConfirmOutcome::AlreadyPast(MessageState::Confirmed));
        assert_eq!(store.next_confirmed(1).unwrap()[0].request_id, "m");
        assert!(store.hand_over(&["m"], 15).unwrap()[0]);
        assert!(!store.hand_over(&["m"], 16).unwrap()[0], "a second hand-over must lose");
        assert!(store.next_confirmed(1).unwrap().is_empty());
        assert_eq!(store.confirm("m", 17).unwrap(), ConfirmOutcome::AlreadyPast(MessageState::HandedOver));

        assert!(store.record_status("m", DeliveryStatus::Sent, None, "t1", 18).unwrap());
        assert!(!store.record_status("m", DeliveryStatus::Sent, None, "t1", 19).unwrap(), "repeat ignored");
        assert!(store.record_status("m", DeliveryStatus::Delivered, None, "t2", 20).unwrap());
        let fail = Failure { code: "x".into(), reason: "y".into() };
        assert!(!store.record_status("m", DeliveryStatus::Failed, Some(&fail), "t3", 21).unwrap(), "after final");
        let m = store.message("m").unwrap().unwrap();
        assert_eq!((m.state, m.last_reported), (MessageState::Finished, Some(DeliveryStatus::Delivered)));
        assert_eq!(store.queue_depth().unwrap(), 0);
        assert!(!store.record_status("unknown", DeliveryStatus::Sent, None, "t", 22).unwrap());
    }

    #[test]
    fn a_batch_of_hand_overs_commits_together_and_each_message_wins_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        for id in ["a", "b", "c"] {
            store.store_send(&msg(id, 1), 1).unwrap();
        }
        store.confirm_all(&["a", "c"], 2).unwrap();
        let next: Vec<String> = store.next_confirmed(10).unwrap().into_iter().map(|m| m.request_id).collect();
        assert_eq!(next, ["a", "c"]);
        // b was never confirmed; a's second appearance loses to its first.
        assert_eq!(store.hand_over(&["a", "b", "c", "a"], 3).unwrap(), [true, false, true, false]);
        assert!(store.next_confirmed(10).unwrap().is_empty());
        assert_eq!(store.hand_overs_since(0).unwrap().len(), 2);
    }

    #[test]
    fn a_burst_of_reports_is_recorded_in_order_each_by_the_rules() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        for id in ["a", "b", "c"] {
            store.store_send(&msg(id, 1), 1).unwrap();
        }
        store.confirm_all(&["a", "b", "c"], 2).unwrap();
        assert_eq!(store.hand_over(&["a", "b"], 3).unwrap(), [true, true]);
        let fail = Failure { code: "generic_failure".into(), reason: "radio said no".into() };
        let report = |request_id, status, failure| OutcomeRecord { request_id, status, failure, at: "t" };
        let burst = [
            report("a", DeliveryStatus::Sent, None),
            report("a", DeliveryStatus::Delivered, None),
            report("b", DeliveryStatus::Failed, Some(&fail)),
            report("b", DeliveryStatus::Sent, None),
            report("c", DeliveryStatus::Sent, None),
            report("unknown", DeliveryStatus::Sent, None),
        ];
        // b's sent came after its final outcome; c was never handed over.
        assert_eq!(store.record_statuses(&burst, 4).unwrap(), [true, true, true, false, false, false]);
        let a = store.message("a").unwrap().unwrap();
        assert_eq!((a.state, a.last_reported), (MessageState::Finished, Some(DeliveryStatus::Delivered)));
        let b = store.message("b").unwrap().unwrap();
        assert_eq!((b.state, b.last_reported), (MessageState::Finished, Some(DeliveryStatus::Failed)));
        assert_eq!(store.message("c").unwrap().unwrap().state, MessageState::Confirmed);
        let queued: Vec<(String, DeliveryStatus)> =
            store.pending_reports().unwrap().into_iter().map(|r| (r.request_id, r.status)).collect();
        let expected = [("a", DeliveryStatus::Sent), ("a", DeliveryStatus::Delivered), ("b", DeliveryStatus::Failed)];
        assert_eq!(queued, expected.map(|(id, status)| (id.to_owned(), status)));
    }

    #[test]
    fn after_a_crash_handed_over_stays_handed_over_and_stored_is_unconfirmed() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&dir);
            for id in ["a_stored", "b_confirmed", "c_handed"] {
                store.store_send(&msg(id, 1), 1).unwrap();
            }
            store.confirm("b_confirmed", 2).unwrap();
            store.confirm("c_handed", 2).unwrap();
            assert!(store.hand_over(&["c_handed"], 3).unwrap()[0]);
            // Dropped without any shutdown step, as a killed process would leave it.
        }
        let store = open(&dir);
        assert_eq!(store.unconfirmed().unwrap(), vec!["a_stored"]);
        assert_eq!(store.next_confirmed(1).unwrap()[0].request_id, "b_confirmed");
        let handed: Vec<_> = store.handed_over().unwrap().into_iter().map(|m| m.request_id).collect();
        assert_eq!(handed, vec!["c_handed"]);
        assert!(!store.hand_over(&["c_handed"], 4).unwrap()[0], "never handed to the transport again");
        assert_eq!(store.revoke("c_handed").unwrap(), RevokeOutcome::TooLate(MessageState::HandedOver));
        let c = store.message("c_handed").unwrap().unwrap();
        assert_eq!((c.to.as_str(), c.sim, c.parts), ("+923001234567", Some(1), 1));
        assert_eq!(store.queue_depth().unwrap(), 3);
    }

    #[test]
    fn revoke_drops_stored_and_confirmed_messages_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        store.store_send(&msg("s", 1), 1).unwrap();
        store.store_send(&msg("c", 1), 1).unwrap();
        store.confirm("c", 2).unwrap();
        assert_eq!(store.revoke("s").unwrap(), RevokeOutcome::Dropped);
        assert_eq!(store.revoke("c").unwrap(), RevokeOutcome::Dropped);
        assert_eq!(store.revoke("c").unwrap(), RevokeOutcome::Unknown);
        assert!(store.next_confirmed(1).unwrap().is_empty());
        assert_eq!(store.confirm("s", 3).unwrap(), ConfirmOutcome::Unknown);
    }

    #[test]
    fn reports_wait_in_the_outbox_until_acknowledged() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        store.store_send(&msg("m", 1), 1).unwrap();
        store.confirm("m", 2).unwrap();
        assert!(store.hand_over(&["m"], 3).unwrap()[0]);
        store.record_status("m", DeliveryStatus::Sent, None, "2026-01-01T00:00:00Z", 100).unwrap();
        let due = store.due_reports(100, 10).unwrap();
        assert_eq!(due.len(), 1);
        assert_eq!((due[0].status, due[0].attempts), (DeliveryStatus::Sent, 0));

        store.reports_attempted(&[(due[0].id, 2_100)]).unwrap();
        assert!(store.due_reports(2_099, 10).unwrap().is_empty(), "backing off");
        assert_eq!(store.next_report_due().unwrap(), Some(2_100));
        assert_eq!(store.due_reports(2_100, 10).unwrap()[0].attempts, 1);
        store.retry_reports_now(500).unwrap();
        assert_eq!(store.due_reports(500, 10).unwrap().len(), 1, "a reconnect makes everything due");

        assert_eq!(store.ack_reports(&[("m", DeliveryStatus::Delivered)]).unwrap(), [false], "an ack names its status");
        drop(store);
        let store = open(&dir);
        assert_eq!(store.pending_reports().unwrap().len(), 1, "reports survive a restart");
        assert_eq!(store.ack_reports(&[("m", DeliveryStatus::Sent)]).unwrap(), [true]);
        assert!(store.pending_reports().unwrap().is_empty());
        assert_eq!(store.next_report_due().unwrap(), None);
    }

    #[test]
    fn a_pass_of_reports_and_a_burst_of_acks_each_commit_together() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        for id in ["a", "b"] {
            store.store_send(&msg(id, 1), 1).unwrap();
            store.confirm(id, 2).unwrap();
            assert!(store.hand_over(&[id], 3).unwrap()[0]);
            store.record_status(id, DeliveryStatus::Sent, None, "2026-01-01T00:00:00Z", 100).unwrap();
        }
        let due = store.due_reports(100, 10).unwrap();
        store.reports_attempted(&[(due[0].id, 1_000), (due[1].id, 2_000)]).unwrap();
        let due = store.due_reports(2_000, 10).unwrap();
        assert_eq!(due.iter().map(|r| r.attempts).collect::<Vec<_>>(), [1, 1]);
        assert_eq!(store.next_report_due().unwrap(), Some(1_000), "each keeps its own next attempt");

        let forgotten = store
            .ack_reports(&[("a", DeliveryStatus::Sent), ("b", DeliveryStatus::Delivered), ("zz", DeliveryStatus::Sent)])
            .unwrap();
        assert_eq!(forgotten, [true, false, false], "only an ack naming a waiting report forgets it");
        let left = store.pending_reports().unwrap();
        assert_eq!(left.iter().map(|r| r.request_id.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn expiry_finishes_a_confirmed_message_with_a_failed_report() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        store.store_send(&msg("m", 1), 1).unwrap();
        assert!(!store.expire("m", "t", 2).unwrap(), "only confirmed messages expire here");
        store.confirm("m", 2).unwrap();
        assert!(store.expire("m", "t", 3).unwrap());
        assert!(!store.hand_over(&["m"], 4).unwrap()[0]);
        let report = &store.pending_reports().unwrap()[0];
        assert_eq!(report.status, DeliveryStatus::Failed);
        assert_eq!(report.failure.as_ref().map(|f| f.code.as_str()), Some(failure::EXPIRED));
    }

    #[test]
    fn hand_overs_are_counted_for_pacing_across_a_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open(&dir);
            for (id, parts, at) in [("a", 2, 1_000), ("b", 3, 2_000)] {
                store.store_send(&msg(id, parts), 0).unwrap();
                store.confirm(id, 0).unwrap();
                assert!(store.hand_over(&[id], at).unwrap()[0]);
            }
        }
        let store = open(&dir);
        assert_eq!(store.parts_since(0).unwrap(), 5);
        assert_eq!(store.parts_since(1_500).unwrap(), 3);
        assert_eq!(
            store.hand_overs_since(0).unwrap(),
            vec![HandOverRecord { at_ms: 1_000, parts: 2 }, HandOverRecord { at_ms: 2_000, parts: 3 }]
        );
    }

    #[test]
    fn credentials_and_pacing_persist_and_a_new_identity_clears_the_old_queue() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir);
        assert_eq!(store.credentials().unwrap(), None);
        let creds = Credentials {
            server_url: "https://sms.example.com".into(),
            device_id: "dev_1".into(),
            device_name: "Front desk".into(),
            device_token: "rd_1".into(),
            connect_url: "wss://sms.example.com/v1/device/connect".into(),
            fingerprint: Some("ab".repeat(32)),
        };
        store.save_credentials(&creds).unwrap();
        store.store_send(&msg("m", 1), 1).unwrap();
        store.save_pacing(Pacing { parts_per_minute: 7, parts_per_day: 70 }).unwrap();
        drop(store);
        let store = open(&dir);
        assert_eq!(store.credentials().unwrap(), Some(creds.clone()));
        assert_eq!(store.pacing().unwrap(), Some(Pacing { parts_per_minute: 7, parts_per_day: 70 }));
        store.save_credentials(&creds).unwrap();
        assert!(store.message("m").unwrap().is_some(), "same identity keeps its queue");
        store.save_credentials(&Credentials { device_id: "dev_2".into(), ..creds }).unwrap();
        assert!(store.message("m").unwrap().is_none());
    }
}
