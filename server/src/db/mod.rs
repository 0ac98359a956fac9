//! Storage: one diesel connection type over SQLite (the zero-set-up default) and PostgreSQL.
//!
//! Handlers never hold a connection across an `.await`: [`Db::run`] takes one from the pool on
//! a blocking thread, runs a closure and gives it back.

pub mod bulk;
pub mod cached;
mod checkpoint;
pub mod schema;
pub mod statistics;
pub mod writer;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{CustomizeConnection, ManageConnection, Pool, PooledConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, ConnectionError, QueryResult};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use writer::Writer;

/// Writers for new messages and phone sessions on PostgreSQL, beside the main one (see
/// [`Db::write_intake`] and [`Db::write_for_device`]).
const INTAKE_WRITERS: usize = 3;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// A connection to whichever backend the database URL selected.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgres(PgConnection),
    Sqlite(SqliteConnection),
}

/// Runs `$body` with `$c` bound to the backend's own connection (`&mut SqliteConnection` or
/// `&mut PgConnection`); the body is compiled once for each. For the statements every message
/// runs: through [`DbConnection`] diesel renders a statement's whole SQL text on each run,
/// cached or not, while on the backend's own connection a prepared statement is found by its
/// type alone and only its bind values are collected.
#[macro_export]
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Sqlite($c) => $body,
            $crate::db::DbConnection::Postgres($c) => $body,
        }
    };
}

pub type DbPool = Pool<Manager>;
pub type PooledConn = PooledConnection<Manager>;

/// Which backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(url: &str) -> Self {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {0}")]
    Query(diesel::result::Error),
    #[error("a database migration failed: {0}")]
    Migration(String),
}

impl From<diesel::result::Error> for StoreError {
    /// A lost connection (PostgreSQL restarted or unreachable) is the database being
    /// unavailable, answered 503 so clients retry, not a fault of the query.
    fn from(e: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match e {
            Error::DatabaseError(DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand, _)
            | Error::BrokenTransactionManager => StoreError::Unavailable(e.to_string()),
            e => StoreError::Query(e),
        }
    }
}

impl From<diesel::r2d2::PoolError> for StoreError {
    fn from(e: diesel::r2d2::PoolError) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

/// Opens connections of the one backend the URL names. (The derived `establish` tries each
/// backend in turn and would hide PostgreSQL's real error behind SQLite's.)
#[derive(Debug, Clone)]
pub struct Manager {
    url: String,
    backend: Backend,
}

impl Manager {
    pub fn backend(&self) -> Backend {
        self.backend
    }
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        let conn: Result<DbConnection, ConnectionError> = match self.backend {
            Backend::Sqlite => SqliteConnection::establish(&self.url).map(DbConnection::Sqlite),
            Backend::Postgres => PgConnection::establish(&self.url).map(DbConnection::Postgres),
        };
        conn.map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        conn.is_broken()
    }
}

/// SQLite allows one writer at a time: WAL lets readers run beside it, and the busy timeout
/// makes a second writer wait its turn instead of failing with `database is locked`.
#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<DbConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        apply_sqlite_pragmas(conn, READER_CACHE_KIB).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Page cache of each pooled (reading) SQLite connection, in KiB. Each connection keeps its own
/// cache, which fills as the database grows; SQLite's default (2 MiB) across the pool's eight
/// made a server's memory creep for many minutes. Reads that miss it come from the operating
/// system's file cache.
pub const READER_CACHE_KIB: u32 = 512;
/// The group-commit writer's page cache, in KiB: it updates every index of every hot write.
pub const WRITER_CACHE_KIB: u32 = 4096;

/// Every SQLite connection's settings. busy_timeout first: it must already hold while the
/// others take their locks.
fn apply_sqlite_pragmas(conn: &mut DbConnection, cache_kib: u32) -> QueryResult<()> {
    if let DbConnection::Sqlite(c) = conn {
        c.batch_execute(&format!(
            "PRAGMA busy_timeout = 10000;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;
             PRAGMA cache_size = -{cache_kib};
             PRAGMA wal_autocheckpoint = {};",
            checkpoint::BACKSTOP_PAGES
        ))?;
    }
    Ok(())
}

/// The shared handle to the database.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    backend: Backend,
    writer: Writer,
    /// PostgreSQL only: writers of their own for new messages and phone sessions.
    intake: std::sync::Arc<Vec<Writer>>,
    next_intake: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    /// Opens a connection in place of a dead pooled one (see [`heal`]).
    manager: Manager,
    outage: std::sync::Arc<Outage>,
    url: std::sync::Arc<str>,
    /// SQLite only: the WAL checkpointer runs while this lives (see [`checkpoint`]).
    _checkpoints: Option<std::sync::Arc<()>>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("backend", &self.backend).finish()
    }
}

impl Db {
    /// Opens the pool (creating the SQLite file's folder if needed) and runs pending migrations.
    pub fn open(url: &str) -> Result<Self, StoreError> {
        let backend = Backend::of(url);
        let url = match backend {
            Backend::Sqlite => sqlite_path(url)?,
            Backend::Postgres => url.to_owned(),
        };
        if backend == Backend::Sqlite {
            enable_wal(&url)?;
        }
        let pool = Pool::builder()
            .max_size(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .connection_timeout(Duration::from_secs(5))
            // A broken connection is caught by `has_broken`; a ping on every checkout costs
            // a query per request for nothing.
            .test_on_check_out(false)
            .connection_customizer(Box::new(SqlitePragmas))
            .build(Manager { url: url.clone(), backend })?;
        // Migrate before the writer opens its connection, so it never sees an old schema.
        migrate(&pool)?;
        let outage = std::sync::Arc::new(Outage::default());
        let queued = std::sync::Arc::new(writer::QueuedHook::default());
        let start =
            |name: &str| Writer::start(Manager { url: url.clone(), backend }, name, outage.clone(), queued.clone());
        let writer = start("relay-db-writer")?;
        let intake = match backend {
            Backend::Sqlite => Vec::new(),
            Backend::Postgres => {
                (0..INTAKE_WRITERS).map(|n| start(&format!("relay-db-intake-{n}"))).collect::<Result<_, _>>()?
            }
        };
        let checkpoints = match backend {
            Backend::Sqlite => {
                let alive = std::sync::Arc::new(());
                checkpoint::start(&url, std::sync::Arc::downgrade(&alive))?;
                Some(alive)
            }
            Backend::Postgres => None,
        };
        let manager = Manager { url: url.clone(), backend };
        Ok(Db {
            pool,
            backend,
            writer,
            intake: std::sync::Arc::new(intake),
            next_intake: Default::default(),
            manager,
            outage,
            url: url.into(),
            _checkpoints: checkpoints,
        })
    }

    /// Closes the writers and waits for their threads when this is the last handle (see
    /// [`Writer::close`]); with other handles alive it only lets go of this one.
    pub fn close(self) {
        let Db { writer, intake, .. } = self;
        writer.close();
        if let Ok(intake) = std::sync::Arc::try_unwrap(intake) {
            intake.into_iter().for_each(Writer::close);
        }
    }

    /// The database's URL (for connections of their own, such as the PostgreSQL listener).
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn conn(&self) -> Result<PooledConn, StoreError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` in the group-commit writer's next transaction (see [`writer`]): for the
    /// hot writes (sends, phone reports, dispatch). Answers once the transaction committed.
    pub fn write<T, E, F>(&self, f: F) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.writer.submit(f)
    }

    /// Runs `f`, a job that only reads and inserts new rows (a send), in a group transaction.
    /// On PostgreSQL such jobs are spread over [`INTAKE_WRITERS`] writers of their own: one
    /// writer spends most of its time waiting for round trips, and new rows lock nothing the
    /// others wait for. Jobs with the same `route` (an Idempotency-Key) go to the same writer,
    /// so two of them never wait on each other's unique key from two transactions. On SQLite,
    /// which has one writer anyway, this is [`Db::write`].
    pub fn write_intake<T, E, F>(
        &self,
        route: Option<&str>,
        f: F,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.intake_writer(route).submit(f)
    }

    /// [`Db::write_intake`] for a send: a job that needs no savepoint of its own (its only
    /// write is its last statement, so that any error it returns leaves nothing written) and
    /// whose commit is signalled through [`Db::on_queued`]. A job's savepoint costs two
    /// statements, and on PostgreSQL two round trips, beside a send's two. Should such a job
    /// still meet a database error, PostgreSQL fails the rest of its group transaction and the
    /// commit: every caller of the batch hears an error, none a false yes.
    pub fn queue_messages<T, E, F>(
        &self,
        route: Option<&str>,
        f: F,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.intake_writer(route).submit_queueing(f)
    }

    /// Sets what runs, on a writer's thread, once after each transaction that committed
    /// sends ([`Db::queue_messages`]): the server wakes its dispatcher there.
    pub fn on_queued(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.writer.on_queued(hook);
    }

    fn intake_writer(&self, route: Option<&str>) -> &Writer {
        let n = self.intake.len();
        if n == 0 {
            return &self.writer;
        }
        let index = match route {
            Some(key) => {
                use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
                BuildHasherDefault::<DefaultHasher>::default().hash_one(key) as usize % n
            }
            None => self.next_intake.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % n,
        };
        &self.intake[index]
    }

    /// Runs `f`, a write of one phone's session (going on- and offline, heartbeats, status
    /// reports), in a group transaction. On PostgreSQL a phone's writes go
    /// to the intake writer its id hashes to: they still run in the order the phone sent
    /// them, and different phones' reports no longer wait in line behind one connection's
    /// round trips (the main writer, which claims work for every phone). Two writers then
    /// meet on a phone's rows as two server instances do: a claim takes the device row `FOR
    /// KEY SHARE`, which heartbeats and reports do not wait for and which holding or releasing
    /// the phone (`cluster::hold`, `cluster::release`) does. On SQLite this is [`Db::write`].
    pub fn write_for_device<T, E, F>(
        &self,
        device_id: &str,
        f: F,
    ) -> impl std::future::Future<Output = Result<T, E>> + Send + 'static
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + From<diesel::result::Error> + Send + 'static,
    {
        self.write_intake(Some(device_id), f)
    }

    /// Runs `f` with a pooled connection on a blocking thread.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
    {
        let (pool, manager, outage) = (self.pool.clone(), self.manager.clone(), self.outage.clone());
        let joined = tokio::task::spawn_blocking(move || {
            let mut conn = pool.get().map_err(StoreError::from)?;
            // Just after an outage the pool still holds connections that died with it: each
            // is checked before use (and replaced), so no request fails once the database is
            // back. In steady state this costs nothing.
            if outage.recent() && heal(&manager, &mut conn) == Health::Unreachable {
                return Err(StoreError::Unavailable("the database is unreachable".into()).into());
            }
            let result = f(&mut conn);
            if result.is_err() && heal(&manager, &mut conn) != Health::Alive {
                outage.seen();
            }
            result
        })
        .await;
        match joined {
            Ok(result) => result,
            Err(e) => Err(StoreError::Unavailable(format!("storage task stopped: {e}")).into()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Health {
    Alive,
    Replaced,
    Unreachable,
}

/// If the connection itself is dead (the database restarted), puts a new one in its place, so
/// the pool recovers at once instead of handing out dead connections until they age out.
/// (The pool does not ping on every checkout: that would cost every request.)
fn heal(manager: &Manager, conn: &mut PooledConn) -> Health {
    if manager.backend != Backend::Postgres || conn.ping().is_ok() {
        return Health::Alive;
    }
    match manager.connect() {
        Ok(fresh) => {
            **conn = fresh;
            Health::Replaced
        }
        Err(e) => {
            tracing::debug!(error = %e, "the database is still unreachable");
            Health::Unreachable
        }
    }
}

/// When a pooled connection was last found dead.
#[derive(Debug, Default)]
struct Outage {
    /// Milliseconds since the Unix epoch; 0: never.
    seen_at: std::sync::atomic::AtomicI64,
}

impl Outage {
    /// How long after a dead connection every checkout is checked first.
    const WINDOW_MS: i64 = 60_000;

    fn seen(&self) {
        self.seen_at.store(chrono::Utc::now().timestamp_millis(), std::sync::atomic::Ordering::Relaxed);
    }

    fn recent(&self) -> bool {
        let at = self.seen_at.load(std::sync::atomic::Ordering::Relaxed);
        at != 0 && chrono::Utc::now().timestamp_millis() - at < Self::WINDOW_MS
    }
}

fn migrate(pool: &DbPool) -> Result<(), StoreError> {
    let mut conn = pool.get()?;
    let result = match &mut *conn {
        DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|_| ()),
        DbConnection::Postgres(c) => {
            // Several instances may start at once on one database: one migrates, the others
            // wait for it and then find nothing pending.
            c.batch_execute("SELECT pg_advisory_lock(7318002)")?;
            let migrated = c.run_pending_migrations(POSTGRES_MIGRATIONS).map(|_| ());
            c.batch_execute("SELECT pg_advisory_unlock(7318002)")?;
            migrated
        }
    };
    result.map_err(|e| StoreError::Migration(e.to_string()))
}

/// WAL lets readers run beside the one writer. The mode is stored in the file, so it is set
/// once here, before the pool opens its connections all at once.
fn enable_wal(path: &str) -> Result<(), StoreError> {
    let mut conn = SqliteConnection::establish(path).map_err(|e| StoreError::Unavailable(e.to_string()))?;
    conn.batch_execute("PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL;")?;
    Ok(())
}

/// Accepts `sqlite://path`, `file:path` or a bare path; makes sure the folder exists.
fn sqlite_path(url: &str) -> Result<String, StoreError> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("file:")).unwrap_or(url);
    if let Some(parent) = Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| StoreError::Unavailable(format!("cannot create the folder {}: {e}", parent.display())))?;
    }
    Ok(path.to_owned())
}

/// A transaction that writes. On SQLite it begins `IMMEDIATE`, taking the write lock first:
/// a deferred transaction that reads and then writes fails at once with `database is locked`
/// (the busy timeout does not apply) whenever another connection committed in between, which
/// under a steady stream of sends and phone reports is all the time.
pub fn write_transaction<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let begin = match conn {
        DbConnection::Sqlite(_) => Some("BEGIN IMMEDIATE"),
        DbConnection::Postgres(_) => None,
    };
    transaction_begun_with(conn, begin, f)
}

/// Reads that must agree with one another (rows and their children, read by two statements)
/// in one snapshot, so that a commit between the two cannot show half of it. SQLite's
/// deferred transaction keeps the snapshot of its first read; PostgreSQL's default isolation
/// takes one per statement, so there the transaction is `REPEATABLE READ`.
pub fn read_snapshot<T, E, F>(conn: &mut DbConnection, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let begin = match conn {
        DbConnection::Sqlite(_) => None,
        DbConnection::Postgres(_) => Some("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
    };
    transaction_begun_with(conn, begin, f)
}

/// Runs `f` in a transaction opened by `begin` (diesel's own `BEGIN` when `None`). Nested in
/// another transaction, `f` runs in a savepoint: the outer transaction already decided how
/// to lock and what to see.
fn transaction_begun_with<T, E, F>(conn: &mut DbConnection, begin: Option<&str>, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConnection) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    let Some(begin) = begin else { return conn.transaction(f) };
    let nested = crate::per_backend!(&mut *conn, |c| AnsiTransactionManager::transaction_manager_status_mut(c)
        .transaction_depth()?
        .is_some());
    if nested {
        return conn.transaction(f);
    }
    crate::per_backend!(&mut *conn, |c| AnsiTransactionManager::begin_transaction_sql(c, begin))?;
    match f(conn) {
        Ok(value) => {
            <DbConnection as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => match <DbConnection as Connection>::TransactionManager::rollback_transaction(conn) {
            Ok(()) | Err(diesel::result::Error::BrokenTransactionManager) => Err(e),
            Err(rollback) => Err(rollback.into()),
        },
    }
}

/// True when the error is a unique-constraint violation (on either backend).
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(e, diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _))
}
