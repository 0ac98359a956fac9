//! Running the server: storage, the HTTP listener, background upkeep and graceful shutdown.

use std::time::Duration;

use actix_web::{HttpServer, web};
use serde::Serialize;

use crate::db::{Backend, Db, StoreError};
use crate::http;
use crate::keys::queries as keys;
use crate::link::{LinkSettings, dispatch};
use crate::state::AppState;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: String,
    pub database_url: String,
    pub public_url: Option<String>,
    pub json: bool,
    pub link: LinkSettings,
    pub tls: Option<crate::tls::TlsSetup>,
    /// Run the demo account and its simulated phone (with the data folder it lives in).
    pub demo: Option<std::path::PathBuf>,
    /// The key OTP codes are stored under.
    pub otp_secret: crate::otp::secret::OtpSecret,
    /// Expose `POST /v1/test/clock/advance` (tests only).
    pub unsafe_test_clock: bool,
    /// The key webhook signing secrets are stored under.
    pub webhook_key: crate::webhooks::secret::WebhookKey,
    pub webhooks: crate::webhooks::deliver::DeliverySettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {bind}: {source}")]
    Bind { bind: String, source: std::io::Error },
    #[error("the server stopped with an error: {0}")]
    Run(#[from] std::io::Error),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsError),
}

/// The line printed once the listener is up; tests and scripts read it (with `--json`).
#[derive(Debug, Serialize)]
struct Listening<'a> {
    event: &'static str,
    url: &'a str,
    public_url: &'a str,
    storage: &'static str,
    version: &'static str,
}

/// How often last-used times are written and idle rate-limit buckets dropped.
const UPKEEP_EVERY: Duration = Duration::from_secs(60);

pub async fn serve(opts: ServeOptions) -> Result<(), ServeError> {
    let db = Db::open(&opts.database_url)?;
    let doc = http::openapi();
    let table = web::Data::new(http::route_table(&doc));

    // Bind first: with port 0 the real address is only known now, and the default public URL
    // is built from it.
    let listener = std::net::TcpListener::bind(&opts.bind)
        .map_err(|source| ServeError::Bind { bind: opts.bind.clone(), source })?;
    let scheme = if opts.tls.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{}", listener.local_addr()?);
    let public_url = opts.public_url.clone().unwrap_or_else(|| url.clone());
    // One state for all workers: rate limits and last-used times must be shared.
    let mut state = AppState::new(db.clone(), &public_url);
    state.settings = opts.link;
    state.tls_fingerprint = opts.tls.as_ref().map(|t| t.fingerprint.as_str().into());
    state.otp_secret = std::sync::Arc::new(opts.otp_secret.clone());
    state.test_clock = opts.unsafe_test_clock;
    state.webhook_key = std::sync::Arc::new(opts.webhook_key.clone());
    state.webhook_settings = opts.webhooks;
    if opts.webhooks.allow_private {
        tracing::warn!("--allow-private-webhooks: webhooks may target loopback and private addresses");
    }
    if let crate::webhooks::deliver::Schedule::TestMillis(ms) = opts.webhooks.schedule {
        tracing::warn!(ms, "--unsafe-test-webhook-schedule-ms: webhook retries are minutes early; for tests only");
    }
    if opts.unsafe_test_clock {
        tracing::warn!("--unsafe-test-clock: POST /v1/test/clock/advance can move this server's clock; for tests only");
    }
    let server = HttpServer::new({
        let state = web::Data::new(state.clone());
        move || http::app(state.clone(), doc.clone(), table.clone())
    })
    .shutdown_timeout(30)
    // A phone's link is a stream of small frames each waiting for an answer: with Nagle's
    // algorithm on, a frame written while the previous one is unacknowledged waits for the
    // phone's delayed ACK (40 ms on Linux). actix leaves the socket option as the OS set it.
    .tcp_nodelay(true)
    // Our own signal handling: device sessions must be closed before actix waits for
    // in-flight connections, or a connected phone would hold shutdown for 30 s.
    .disable_signals();
    let server = match opts.tls.clone() {
        Some(tls) => server.listen_rustls_0_23(listener, tls.config)?,
        None => server.listen(listener)?,
    };
    announce(&opts, &url, &public_url, db.backend());

    let upkeep_state = state;
    crate::cluster::register(&upkeep_state.hub, &db).await?;
    let server = server.run();
    let stopper = actix_web::rt::spawn(stop_on_signal(server.handle(), upkeep_state.hub.clone()));
    let upkeep = tokio::spawn(upkeep(upkeep_state.clone()));
    let dispatcher = tokio::spawn(dispatch::run(upkeep_state.hub.clone(), db.clone()));
    let cluster = tokio::spawn(crate::cluster::run(upkeep_state.hub.clone(), db.clone(), upkeep_state.limits.clone()));
    let statistics = tokio::spawn(crate::db::statistics::run(db.clone()));
    crate::cluster::start_signals(upkeep_state.hub.clone(), db.clone());
    let (stop_webhooks, webhooks_stop) = tokio::sync::watch::channel(false);
    let webhooks = tokio::spawn(crate::webhooks::deliver::run(
        db.clone(),
        upkeep_state.webhook_key.clone(),
        opts.webhooks,
        webhooks_stop,
    ));
    // The demo phone pairs over HTTP with this server, which serves only while `server` is
    // being awaited: so the demo starts in a task of its own.
    let demo = opts.demo.clone().map(|dir| {
        let (db, url, json) = (db.clone(), public_url.clone(), opts.json);
        actix_web::rt::spawn(async move {
            let started = crate::demo::start(&db, &dir, &url, json).await;
            if let Err(e) = &started {
                tracing::error!(error = %e, "the demo could not start");
            }
            started.ok()
        })
    });
    let result = server.await;
    if let Some(demo) = demo {
        // Stops the demo phone (if it started) before the process ends.
        drop(demo.await);
    }
    stopper.abort();
    upkeep.abort();
    dispatcher.abort();
    cluster.abort();
    statistics.abort();
    // Webhook attempts in flight finish and are recorded (bounded by their timeout); if that
    // takes too long, they are abandoned and their leases bring them back after a restart.
    let _ = stop_webhooks.send(true);
    let abandon = webhooks.abort_handle();
    let grace = opts.webhooks.timeout + Duration::from_secs(5);
    if tokio::time::timeout(grace, webhooks).await.is_err() {
        abandon.abort();
    }
    flush_last_used(&upkeep_state).await;
    crate::cluster::leave(&upkeep_state.hub, &db).await;
    tracing::info!("stopped");
    result.map_err(ServeError::Run)
}

fn announce(opts: &ServeOptions, url: &str, public_url: &str, backend: Backend) {
    let storage = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    if opts.json {
        let line = Listening { event: "listening", url, public_url, storage, version: env!("CARGO_PKG_VERSION") };
        println!("{}", serde_json::to_string(&line).unwrap_or_default());
    } else {
        println!("Relay {} listening on {url} (storage: {storage})", env!("CARGO_PKG_VERSION"));
        println!("  API reference: {url}/docs    health: {url}/v1/health");
    }
}

async fn upkeep(state: AppState) {
    let mut tick = tokio::time::interval(UPKEEP_EVERY);
    tick.tick().await;
    loop {
        tick.tick().await;
        flush_last_used(&state).await;
        state.limits.forget_idle();
        let pruned = state.db.write(|conn| crate::webhooks::queries::prune(conn).map_err(StoreError::from)).await;
        match pruned {
            Ok(0) => {}
            Ok(n) => tracing::debug!(deliveries = n, "pruned old webhook deliveries"),
            Err(e) => tracing::warn!(error = %e, "could not prune old webhook deliveries"),
        }
        let pruned = state
            .db
            .write(|conn| crate::messages::queries::prune_minutes(conn, crate::time::now()).map_err(StoreError::from))
            .await;
        if let Err(e) = pruned {
            tracing::warn!(error = %e, "could not prune the counted minutes of sent and failed messages");
        }
        // Only PostgreSQL counts per connection; SQLite's one writer keeps a single shard.
        if state.db.backend() == Backend::Postgres {
            let folded =
                state.db.run(|conn| crate::messages::queries::fold_totals(conn).map_err(StoreError::from)).await;
            if let Err(e) = folded {
                tracing::warn!(error = %e, "could not fold the finished-message totals of ended connections");
            }
        }
        let _ = tokio::task::spawn_blocking(return_free_memory).await;
    }
}

/// Hands memory the server freed back to the system. glibc's malloc keeps freed pages in each
/// thread's arena for reuse; under steady traffic the arenas fragment and resident memory
/// creeps up (measured: about 0.2 MiB a minute with 1,000 phones, bench/RESULTS.md, the soak)
/// although the live heap is flat. `malloc_trim` releases the free pages of every arena.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // the only unsafe call in the server: a C function without arguments.
fn return_free_memory() {
    // SAFETY: malloc_trim takes no pointers and only walks the allocator's own structures,
    // under their locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_free_memory() {}

async fn flush_last_used(state: &AppState) {
    let seen = state.last_used.drain();
    if seen.is_empty() {
        return;
    }
    let result: Result<(), StoreError> =
        state.db.run(move |conn| keys::store_last_used(conn, &seen).map_err(StoreError::from)).await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "could not store API key last-used times");
    }
}

/// On SIGTERM or Ctrl-C: close phone sessions, then stop gracefully (finish in-flight requests).
async fn stop_on_signal(handle: actix_web::dev::ServerHandle, hub: std::sync::Arc<crate::link::Hub>) {
    wait_for_signal().await;
    tracing::info!("shutting down: closing device links, finishing requests in flight");
    hub.close_all();
    handle.stop(true).await;
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops the server");
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
