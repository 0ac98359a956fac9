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
//! 15,000 sends a second, once a second, and the writer then waits on `fsync`. A larger
//! backstop made that stall rarer but long enough to break the dispatch latency target, and
//! checkpointing every 500 ms while the log stays long slowed the writer more than it spared
//! it (bench/ANALYSIS.md, the runs of 08:30–10:00 UTC).

use std::sync::Weak;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::{Connection, SqliteConnection};

use super::StoreError;

/// Every connection's `wal_autocheckpoint`, in pages (64 MiB of log): the backstop.
pub const BACKSTOP_PAGES: u32 = 16_384;
const INTERVAL: Duration = Duration::from_secs(5);

/// Checkpoints the database at `path` until `alive` is gone (the last [`super::Db`] dropped).
pub(super) fn start(path: &str, alive: Weak<()>) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000;")?;
    std::thread::Builder::new()
        .name("relay-db-checkpoint".into())
        .spawn(move || {
            while alive.strong_count() > 0 {
                std::thread::sleep(INTERVAL);
                if let Err(e) = conn.batch_execute("PRAGMA wal_checkpoint(PASSIVE);") {
                    tracing::debug!(error = %e, "a WAL checkpoint did not run");
                }
            }
        })
        .map_err(|e| StoreError::Unavailable(format!("cannot start the WAL checkpointer: {e}")))?;
    Ok(())
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
}
