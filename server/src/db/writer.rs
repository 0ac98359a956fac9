//! Group commit: one thread owns one connection and runs every hot write, many per transaction.
//!
//! SQLite has a single writer; handlers that each open their own write transaction queue up on
//! its lock and pay a commit (and a thread hop) apiece. Here, whatever writes arrive while the
//! previous transaction commits are run together in the next one. Each job runs in its own
//! savepoint, so one job's error undoes only that job, and its caller hears back only after
//! the transaction committed: a 202 still means "stored". PostgreSQL gains the same way (one
//! commit, one WAL flush, per batch). A job alone in its transaction runs without a savepoint,
//! and its failure rolls the transaction back.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::{Connection, QueryResult};
use tokio::sync::{mpsc, oneshot};

use super::{DbConnection, Manager, Outage, StoreError};

/// Most jobs in one transaction: bounds how long one commit holds the others back.
const MAX_BATCH: usize = 512;

thread_local! {
    /// What sends of the running group transaction read through [`shared_read`]; `None`
    /// outside one (on any thread but a writer's, or between its transactions).
    static SHARED: std::cell::RefCell<Option<HashMap<String, Box<dyn Any>>>> =
        const { std::cell::RefCell::new(None) };
}

/// `read()`, or what an earlier send of the same group transaction read under `key` if only
/// sends ran since: a send inserts new rows and changes nothing another send reads (its key,
/// account, devices, opt-outs), so within one transaction the first send's read holds for
/// the rest. Any other job (a revocation, a pause, a device change) forgets it first, and
/// nothing is kept from one transaction to the next: a request that began after a
/// revocation answered lands in a later transaction, which reads afresh. Outside a writer's
/// transaction this is just `read()`.
pub fn shared_read<T: Clone + 'static, E>(key: &str, read: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    let known = SHARED
        .with_borrow(|shared| shared.as_ref().and_then(|m| m.get(key)).and_then(|v| v.downcast_ref::<T>()).cloned());
    if let Some(value) = known {
        return Ok(value);
    }
    let value = read()?;
    SHARED.with_borrow_mut(|shared| {
        if let Some(m) = shared {
            m.insert(key.to_owned(), Box::new(value.clone()));
        }
    });
    Ok(value)
}

/// Starts (`Some`), clears or ends (`None`) what sends share.
fn share(state: Option<HashMap<String, Box<dyn Any>>>) {
    SHARED.set(state);
}

thread_local! {
    /// Whether a send's job of a group transaction is running on this thread (see [`defer`]).
    static DEFERRING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The rows sends deferred, per row type, not yet inserted.
    static DEFERRED: std::cell::RefCell<Vec<Box<dyn Deferred>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Leaves `row` for the writer to insert together with the rows of the same type that the
/// other sends of its group transaction leave: one call of `insert` for all of them, made
/// before the next job that is not a send runs, and before the commit. On PostgreSQL that is
/// one statement where there was one round trip per send. If it fails, the whole group
/// transaction fails and every caller in it hears an error, none a false yes. Only a send's
/// job defers (elsewhere the row comes straight back, to be inserted at once), and its
/// insert must be its last write, as [`super::Db::queue_messages`] asks anyway: nothing it
/// does afterwards may depend on the row being there. `insert` is the first one given for
/// the type in the transaction.
pub fn defer<T: 'static>(row: T, insert: fn(&mut DbConnection, &[T]) -> QueryResult<()>) -> Option<T> {
    if !DEFERRING.get() {
        return Some(row);
    }
    DEFERRED.with_borrow_mut(|deferred| match deferred.iter_mut().find_map(|d| d.rows().downcast_mut::<Vec<T>>()) {
        Some(rows) => rows.push(row),
        None => deferred.push(Box::new(Rows { rows: vec![row], insert })),
    });
    None
}

/// Rows of one type that sends deferred, and how to insert them.
struct Rows<T> {
    rows: Vec<T>,
    insert: fn(&mut DbConnection, &[T]) -> QueryResult<()>,
}

trait Deferred {
    fn rows(&mut self) -> &mut dyn Any;
    fn insert(self: Box<Self>, conn: &mut DbConnection) -> QueryResult<()>;
}

impl<T: 'static> Deferred for Rows<T> {
    fn rows(&mut self) -> &mut dyn Any {
        &mut self.rows
    }

    fn insert(self: Box<Self>, conn: &mut DbConnection) -> QueryResult<()> {
        (self.insert)(conn, &self.rows)
    }
}

/// Inserts every row the sends so far deferred.
fn insert_deferred(conn: &mut DbConnection) -> QueryResult<()> {
    DEFERRED.take().into_iter().try_for_each(|d| d.insert(conn))
}

/// What a job leaves to do once the transaction's fate is known: answer its caller.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;
/// Runs a job, told whether it is alone in its transaction; answers how to finish it and
/// whether it failed.
type Run = Box<dyn FnOnce(&mut DbConnection, bool) -> (Finish, bool) + Send>;

/// A job and whether it queues new work (see [`Writer::submit_queueing`]).
struct Job {
    run: Run,
    queues: bool,
}

/// Called on the writer's thread once after each transaction that committed new work (before
/// its callers are answered), however many sends it held: whoever hands work out hears of it
/// once per commit, not once per send (a send's own wake-up was the dispatcher's thread woken
/// some 30,000 times a second, each time to find what the previous wake-up had found). Set
/// once, by the server.
#[derive(Default)]
pub struct QueuedHook(std::sync::OnceLock<Box<dyn Fn() + Send + Sync>>);

impl QueuedHook {
    /// Sets the hook; a second call is ignored (one hub per database handle).
    pub fn set(&self, hook: impl Fn() + Send + Sync + 'static) {
        let _ = self.0.set(Box::new(hook));
    }

    fn call(&self) {
        if let Some(hook) = self.0.get() {
            hook();
        }
    }
}

/// The handle handlers submit writes through.
#[derive(Clone)]
pub struct Writer {
    // Unbounded on purpose: submitting is then immediate, so jobs run in the order they were
    // submitted, and every submitter is already bounded (a request waits for its one write;
    // a phone has at most its window of messages in flight).
    tx: mpsc::UnboundedSender<Job>,
    queued: Arc<QueuedHook>,
    /// Joined by [`Writer::close`] on the last handle.
    thread: Arc<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

impl Writer {
    /// Starts the writer thread with its own connection (not one of the pool's).
    /// `outage` hears when the writer lost its connection and when it has a new one: the pool's
    /// connections died the same way and are checked before use for a while.
    /// `queued` is called after each transaction that committed a job of
    /// [`Writer::submit_queueing`].
    pub(super) fn start(
        manager: Manager,
        name: &str,
        outage: Arc<Outage>,
        queued: Arc<QueuedHook>,
    ) -> Result<Self, StoreError> {
        let conn = open(&manager)?;
        let (tx, rx) = mpsc::unbounded_channel();
        let hook = queued.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(manager, conn, rx, &outage, &hook))
            .map_err(|e| StoreError::Unavailable(format!("cannot start the database writer: {e}")))?;
        Ok(Writer { tx, queued, thread: Arc::new(thread) })
    }

    /// Ends the writer and, if this was its last handle, waits until its thread has finished
    /// its last batch and closed its connection. A command about to exit calls this: a
    /// writer still closing a PostgreSQL connection while the process exits races the TLS
    /// library's exit-time cleanup, which killed the process without a word after its work
    /// was done. With other handles alive it only lets go of this one.
    pub fn close(self) {
        let Writer { tx, thread, queued } = self;
        drop((tx, queued));
        if let Ok(thread) = Arc::try_unwrap(thread)
            && thread.join().is_err()
        {
            tracing::warn!("the database writer ended with a panic");
        }
    }

    /// Queues `f` for the next group transaction at once; the future answers after that
    /// transaction committed.
    pub fn submit<T, E, F>(&self, f: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.queue(f, true, false)
    }

    /// [`Writer::submit`] for a send: without the job's savepoint, for a job whose errors
    /// leave nothing written (see [`super::Db::queue_messages`]), and calling the
    /// [`QueuedHook`] once its transaction committed.
    pub fn submit_queueing<T, E, F>(&self, f: F) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.queue(f, false, true)
    }

    /// Sets the hook of every writer of this database (they share it).
    pub fn on_queued(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.queued.set(hook);
    }

    fn queue<T, E, F>(&self, f: F, guarded: bool, queues: bool) -> impl Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel::<Result<T, E>>();
        let run: Run = Box::new(move |conn, alone| {
            // A nested transaction is a savepoint: this job's failure undoes only its own
            // writes. Alone in its transaction a job needs none (on PostgreSQL a savepoint is
            // two more round trips): if it fails, the whole transaction is rolled back.
            let result = if guarded && !alone { conn.transaction(f) } else { f(conn) };
            let failed = result.is_err();
            let finish: Finish = Box::new(move |committed: Option<&StoreError>| {
                let result = match committed {
                    Some(e) => Err(E::from(StoreError::Unavailable(e.to_string()))),
                    None => result,
                };
                let _ = reply.send(result);
            });
            (finish, failed)
        });
        let queued = self.tx.send(Job { run, queues }).is_ok();
        async move {
            if !queued {
                return Err(E::from(stopped()));
            }
            // Dropped unanswered: the batch could not even begin (the error is in the log).
            answer.await.map_err(|_| E::from(stopped()))?
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the database writer could not run this write".into())
}

fn open(manager: &Manager) -> Result<DbConnection, StoreError> {
    let mut conn =
        diesel::r2d2::ManageConnection::connect(manager).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    super::apply_sqlite_pragmas(&mut conn, super::WRITER_CACHE_KIB)?;
    Ok(conn)
}

fn run(
    manager: Manager,
    mut conn: DbConnection,
    mut rx: mpsc::UnboundedReceiver<Job>,
    outage: &Outage,
    queued: &QueuedHook,
) {
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = batch(&mut conn, &mut jobs, queued) {
            tracing::warn!(error = %e, "a group transaction failed");
        }
        jobs.clear();
        if diesel::r2d2::R2D2Connection::is_broken(&mut conn) {
            outage.seen();
            conn = reconnect(&manager, &mut rx);
            outage.seen();
        }
    }
}

/// Runs the jobs in one transaction and answers each, after calling the hook if they
/// committed sends (so that a sender's 202 never comes before the dispatcher heard of its
/// message). Jobs that were not run are dropped, which answers their callers with an error.
fn batch(conn: &mut DbConnection, jobs: &mut Vec<Job>, queued: &QueuedHook) -> Result<(), StoreError> {
    begin(conn)?;
    let queues = jobs.iter().any(|j| j.queues);
    let alone = jobs.len() == 1;
    let mut finishes: Vec<Finish> = Vec::with_capacity(jobs.len());
    let (mut failed, mut lone_failed) = (None, false);
    share(Some(HashMap::new()));
    for job in jobs.drain(..) {
        let (finish, job_failed) = if job.queues {
            DEFERRING.set(true);
            let ran = (job.run)(conn, alone);
            DEFERRING.set(false);
            ran
        } else {
            // Any other job finds the sends before it stored, and reads afresh.
            if let Err(e) = insert_deferred(conn) {
                failed = Some(e);
                break;
            }
            share(Some(HashMap::new()));
            let ran = (job.run)(conn, alone);
            share(Some(HashMap::new()));
            ran
        };
        finishes.push(finish);
        lone_failed = alone && job_failed;
    }
    share(None);
    if lone_failed {
        // The job ran without a savepoint: nothing of it may stay, and its own error is its
        // answer.
        DEFERRED.take();
        let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
        finishes.into_iter().for_each(|finish| finish(None));
        return Ok(());
    }
    let failed = match failed {
        Some(e) => Err(e),
        None => insert_deferred(conn),
    };
    let committed = failed.and_then(|()| <DbConnection as Connection>::TransactionManager::commit_transaction(conn));
    let failure = match committed {
        Ok(()) => None,
        Err(e) => {
            let _ = <DbConnection as Connection>::TransactionManager::rollback_transaction(conn);
            Some(StoreError::from(e))
        }
    };
    if queues && failure.is_none() {
        queued.call();
    }
    for finish in finishes {
        finish(failure.as_ref());
    }
    failure.map_or(Ok(()), Err)
}

fn begin(conn: &mut DbConnection) -> QueryResult<()> {
    match conn {
        // IMMEDIATE: take the write lock now rather than fail on it halfway through the batch.
        DbConnection::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConnection::Postgres(_) => <DbConnection as Connection>::TransactionManager::begin_transaction(conn),
    }
}

/// The database went away (PostgreSQL restarted): keep trying. Writes asked for meanwhile
/// are refused at once (their callers answer 503 `unavailable`) rather than left hanging:
/// a client told "not accepted" retries; a client left waiting gives up not knowing.
fn reconnect(manager: &Manager, rx: &mut mpsc::UnboundedReceiver<Job>) -> DbConnection {
    let mut delay = Duration::from_millis(100);
    loop {
        match open(manager) {
            Ok(conn) => return conn,
            Err(e) => {
                while rx.try_recv().is_ok() {}
                tracing::warn!(error = %e, backend = ?manager.backend(), "the database writer cannot reconnect yet");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
}

// The lint's exemption for tests sees `#[cfg(test)]` and `#[test]`, not this platform cfg:
// the helpers below unwrap as the tests do.
#[cfg(all(test, target_os = "linux"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::db::Backend;

    /// Threads of this process with the given name (Linux keeps 15 characters of it).
    fn threads_named(name: &str) -> usize {
        let Ok(tasks) = std::fs::read_dir("/proc/self/task") else { return 0 };
        tasks
            .flatten()
            .filter(|task| std::fs::read_to_string(task.path().join("comm")).is_ok_and(|c| c.trim_end() == name))
            .count()
    }

    /// A writer on a new SQLite file, which lives as long as the returned folder.
    fn sqlite_writer(name: &str) -> (tempfile::TempDir, String, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().join("relay.db").to_string_lossy().into_owned();
        let manager = Manager { url: url.clone(), backend: Backend::Sqlite };
        let writer = Writer::start(manager, name, Arc::new(Outage::default()), Arc::default()).unwrap();
        (dir, url, writer)
    }

    /// Keeps the writer busy in a job, returning once that job runs (its batch already
    /// taken): what is submitted meanwhile queues up for the next transaction.
    fn hold(writer: &Writer) -> impl Future<Output = Result<(), StoreError>> {
        let (started, running) = std::sync::mpsc::channel();
        let busy = writer.submit(move |_| -> Result<(), StoreError> {
            let _ = started.send(());
            std::thread::sleep(Duration::from_millis(100));
            Ok(())
        });
        running.recv().unwrap();
        busy
    }

    #[test]
    fn closing_the_last_handle_returns_after_the_writer_thread_ended() {
        let (_dir, _, writer) = sqlite_writer("wr-close-test");
        let other = writer.clone();
        // The new thread names itself once it runs.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while threads_named("wr-close-test") == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(threads_named("wr-close-test"), 1);
        other.close(); // another handle still sends: the thread carries on
        assert_eq!(threads_named("wr-close-test"), 1);
        writer.close();
        assert_eq!(threads_named("wr-close-test"), 0, "the thread was joined before close returned");
    }

    #[test]
    fn sends_of_one_transaction_share_a_read_until_another_job_runs() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let (_dir, _, writer) = sqlite_writer("wr-share-test");
        let reads = Arc::new(AtomicUsize::new(0));
        let send = |reads: &Arc<AtomicUsize>| {
            let reads = reads.clone();
            writer.submit_queueing(move |_| {
                shared_read("key", || Ok::<_, StoreError>(reads.fetch_add(1, Ordering::SeqCst) + 1))
            })
        };
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let busy = hold(&writer);
        // One transaction: three sends, another job, two sends.
        let first: Vec<_> = (0..3).map(|_| send(&reads)).collect();
        let other = writer.submit(|_| Ok::<_, StoreError>(()));
        let then: Vec<_> = (0..2).map(|_| send(&reads)).collect();
        let seen = runtime.block_on(async {
            busy.await.unwrap();
            other.await.unwrap();
            let mut seen = Vec::new();
            for s in first.into_iter().chain(then) {
                seen.push(s.await.unwrap());
            }
            seen
        });
        assert_eq!(seen, vec![1, 1, 1, 2, 2], "read once, and again after the other job");
        // A later transaction reads afresh; so does any other thread.
        assert_eq!(runtime.block_on(send(&reads)).unwrap(), 3);
        assert_eq!(shared_read("key", || Ok::<_, StoreError>(40)).unwrap(), 40);
        assert_eq!(shared_read("key", || Ok::<_, StoreError>(41)).unwrap(), 41);
        writer.close();
    }

    /// Rows of `t` as a new connection sees them: only what was committed.
    fn committed_rows(url: &str) -> Option<i64> {
        use diesel::prelude::*;
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut conn = diesel::SqliteConnection::establish(url).ok()?;
        diesel::sql_query("SELECT count(*) AS n FROM t").get_result::<Count>(&mut conn).ok().map(|c| c.n)
    }

    fn insert_row(conn: &mut DbConnection) -> Result<(), StoreError> {
        use diesel::RunQueryDsl;
        diesel::sql_query("INSERT INTO t VALUES (1)").execute(conn)?;
        Ok(())
    }

    #[test]
    fn the_queued_hook_runs_once_per_transaction_of_sends_after_it_committed() {
        let (_dir, url, writer) = sqlite_writer("wr-hook-test");
        // What each call saw: the rows a fresh connection finds committed at that moment.
        let calls = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (seen, at) = (calls.clone(), url.clone());
        writer.on_queued(move || seen.lock().unwrap().push(committed_rows(&at)));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            writer
                .submit(|conn| {
                    use diesel::connection::SimpleConnection;
                    conn.batch_execute("CREATE TABLE t (x INTEGER)").map_err(StoreError::from)
                })
                .await
                .unwrap();
            // The sends queue up behind this one.
            let busy = hold(&writer);
            let sends: Vec<_> = (0..50).map(|_| writer.submit_queueing(insert_row)).collect();
            busy.await.unwrap();
            for send in sends {
                send.await.unwrap();
            }
        });
        assert_eq!(
            *calls.lock().unwrap(),
            vec![Some(50)],
            "one call for the transaction of 50 sends, after its commit"
        );
        runtime.block_on(writer.submit(insert_row)).unwrap();
        assert_eq!(calls.lock().unwrap().len(), 1, "a write that is not a send calls nothing");
        runtime.block_on(writer.submit_queueing(insert_row)).unwrap();
        assert_eq!(*calls.lock().unwrap(), vec![Some(50), Some(52)]);
        writer.close();
    }
}
