//! WAL checkpoints off the write path (SQLite).
//!
//! SQLite copies the write-ahead log back into the database file (a checkpoint) inside
//! whichever commit takes the log past its threshold. With one group-commit writer that
//! commit is a hot write: every send and phone report then waits behind the copy and its
//! fsyncs, a stall of hundreds of milliseconds under load. A thread of its own checkpoints
//! every [`INTERVAL`] instead, beside the writer (PASSIVE: it never blocks it); the
//! connections' own threshold is raised to [`BACKSTOP_PAGES`], which only applies should
//! this thread fall behind.
//!
//! A checkpoint still costs the writer: while it copies and fsyncs, the writer's commits
//! stall too (15–45 ms each on the bench machine's virtual disk, whose writes queue behind the
//! checkpoint's). Every half second, one message in twenty at 1,000 a second met such a
//! stall and the dispatch p99 was 25–36 ms; every five seconds, 9–23 ms, with the same end to
//! end rate. Fewer checkpoints also copy a hot page once rather than ten times.
//!
//! Under sustained writes this thread cannot restart the log (the writer adds frames while it
//! copies), so the backstop, in a commit of the writer, still does most checkpoints: at
//! 15,000 sends a second, once a second. A larger backstop made that stall rarer but long
//! enough to break the dispatch latency target, and checkpointing every 500 ms while the log
//! stays long slowed the writer more than it spared it (bench/ANALYSIS.md, the runs of
//! 08:30–10:00 UTC on 2026-12-07).
//!
//! What the writer waited on in that checkpoint was mostly its first `fsync`, of the log: up
//! to 64 MiB written since the last one and still in the page cache (a commit writes the log
//! without syncing it, `synchronous = NORMAL`). So the same thread also syncs the log every
//! [`FLUSH_EVERY`] while it grows ([`LogFlush`]): the backstop's `fsync` then finds a few
//! milliseconds' worth of pages left to write, and the writer keeps committing meanwhile.
//! These syncs change no guarantee: SQLite's own syncs are as before.

use std::fs::File;
use std::path::PathBuf;
use std::sync::Weak;
use std::time::{Duration, Instant, SystemTime};

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use super::StoreError;

/// Every connection's `wal_autocheckpoint`, in pages (64 MiB of log): the backstop.
pub const BACKSTOP_PAGES: u32 = 16_384;
const INTERVAL: Duration = Duration::from_secs(5);
/// How often the log is synced while it grows. At 45,000 sends a second the log grows by
/// about 1 MB in that time, which a sync writes in well under a millisecond.
const FLUSH_EVERY: Duration = Duration::from_millis(10);

/// Checkpoints the database at `path`, and syncs its log as it grows, until `alive` is gone
/// (the last [`super::Db`] dropped).
pub(super) fn start(path: &str, alive: Weak<()>) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
    let mut log = LogFlush::new(path);
    std::thread::Builder::new()
        .name("relay-db-checkpoint".into())
        .spawn(move || {
            let mut next_checkpoint = Instant::now() + INTERVAL;
            while alive.strong_count() > 0 {
                std::thread::sleep(FLUSH_EVERY);
                if let Err(e) = log.tick() {
                    tracing::debug!(error = %e, "the WAL could not be synced");
                }
                if Instant::now() < next_checkpoint {
                    continue;
                }
                next_checkpoint = Instant::now() + INTERVAL;
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::debug!(error = %e, "a WAL checkpoint did not run");
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(())
}

/// Syncs the database's write-ahead log (`<path>-wal`) when it changed since the last look.
/// An idle server's log does not change, and then nothing is synced.
struct LogFlush {
    path: PathBuf,
    file: Option<File>,
    /// The log's length and modification time when last synced.
    seen: Option<(u64, SystemTime)>,
}

impl LogFlush {
    fn new(db_path: &str) -> Self {
        LogFlush { path: PathBuf::from(format!("{db_path}-wal")), file: None, seen: None }
    }

    /// Syncs the log if it changed; answers whether it did. The log appears with the first
    /// write after the database opens, so until then each call looks for it again.
    fn tick(&mut self) -> std::io::Result<bool> {
        let file = match &self.file {
            Some(f) => f,
            None => match File::open(&self.path) {
                Ok(f) => self.file.insert(f),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            },
        };
        let meta = file.metadata()?;
        let now = (meta.len(), meta.modified()?);
        if self.seen == Some(now) {
            return Ok(false);
        }
        file.sync_data()?;
        self.seen = Some(now);
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;

    use crate::db::Db;

    /// Below the backstop no commit checkpoints, so only the thread can move the rows from
    /// the log into the database file.
    #[test]
    fn the_log_reaches_the_database_file_without_a_commit_checkpointing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let db = Db::open(&path.to_string_lossy()).unwrap();
        let before = std::fs::metadata(&path).unwrap().len();
        let mut conn = db.conn().unwrap();
        conn.batch_execute("CREATE TABLE filler (b BLOB); INSERT INTO filler VALUES (zeroblob(2000000));").unwrap();
        let deadline = std::time::Instant::now() + 4 * super::INTERVAL;
        while std::fs::metadata(&path).unwrap().len() < before + 2_000_000 {
            assert!(std::time::Instant::now() < deadline, "the 2 MB row never left the log");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// The log is synced when it grew, and left alone while it stands still.
    #[test]
    fn the_log_is_synced_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("relay.db");
        let db = Db::open(&path.to_string_lossy()).unwrap();
        let mut conn = db.conn().unwrap();
        conn.batch_execute("CREATE TABLE notes (n TEXT);").unwrap();
        let mut log = super::LogFlush::new(&path.to_string_lossy());
        assert!(log.tick().unwrap(), "a log never synced is synced at first sight");
        assert!(!log.tick().unwrap(), "nothing was written, yet the log was synced again");
        conn.batch_execute("INSERT INTO notes VALUES ('one');").unwrap();
        assert!(log.tick().unwrap(), "a commit grew the log, which was not synced");
        assert!(!log.tick().unwrap());
    }

    /// Before the first write there is no log to sync, which is not an error.
    #[test]
    fn a_missing_log_is_no_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut log = super::LogFlush::new(&dir.path().join("none.db").to_string_lossy());
        assert!(!log.tick().unwrap());
    }
}
