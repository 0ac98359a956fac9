//! The public face of the agent: pair once, then start/stop the link and the dispatcher.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use relay_protocol::frames::Pacing;
use tokio::sync::{Notify, watch};
use tokio::task::JoinHandle;
use url::Url;

use crate::error::RelayError;
use crate::events::{ConnectionState, Events, LastState, RelayListener};
use crate::health::HealthProbe;
use crate::pairing::{self, Credentials, DeviceInfo, PairingTarget};
use crate::shared::Shared;
use crate::store::Store;
use crate::transport::{SinkShared, SmsTransport};
use crate::{dispatch, link, tls};

/// Finished messages are forgotten after this long (they only matter for pacing and repeats).
const KEEP_FINISHED_MS: i64 = 2 * crate::pacing::DAY_MS;

/// Tunables. The defaults suit a phone; tests shorten the timers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ClientOptions {
    /// WebSocket URLs to try in turn. Empty: the `connect_url` from pairing.
    pub connect_urls: Vec<String>,
    /// Sent in `hello`.
    pub app_version: String,
    pub reconnect_min_ms: u64,
    pub reconnect_max_ms: u64,
    /// First repeat of an unacknowledged report; doubles up to `report_retry_max_ms`.
    pub report_retry_min_ms: u64,
    pub report_retry_max_ms: u64,
    /// A new status report waits this long before it is sent, so the reports that follow it
    /// closely (a short message's `sent` and `delivered`, a burst's outcomes) go in one write,
    /// are stored by the server in one transaction and acknowledged together. 0 sends at once.
    pub report_linger_ms: u64,
    pub welcome_timeout_ms: u64,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_urls: Vec::new(),
            app_version: env!("CARGO_PKG_VERSION").to_owned(),
            reconnect_min_ms: 200,
            reconnect_max_ms: 30_000,
            report_retry_min_ms: 2_000,
            report_retry_max_ms: 60_000,
            report_linger_ms: 5,
            welcome_timeout_ms: 15_000,
        }
    }
}

/// What the agent is doing now, for a status screen.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ClientStatus {
    /// Credentials are stored (the device id and name are those the server gave).
    pub paired: bool,
    pub device_id: Option<String>,
    pub device_name: Option<String>,
    pub server_url: Option<String>,
    /// `start` was called and the agent has not been stopped since.
    pub running: bool,
    /// The link's newest state (`Stopped` before the first start).
    pub connection: ConnectionState,
    /// Messages held and not finished.
    pub queue_depth: u32,
}

/// One phone's agent over one data directory.
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct RelayClient {
    data_dir: PathBuf,
    store: Arc<Store>,
    running: Arc<AtomicBool>,
    connection: LastState,
}

impl std::fmt::Debug for RelayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayClient").field("data_dir", &self.data_dir).finish()
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export(async_runtime = "tokio"))]
impl RelayClient {
    /// Opens (creating if needed) the agent's store in `data_dir`.
    #[cfg_attr(feature = "uniffi", uniffi::constructor)]
    pub fn open(data_dir: String) -> Result<Arc<Self>, RelayError> {
        let data_dir = PathBuf::from(data_dir);
        let store = Arc::new(Store::open_dir(&data_dir)?);
        Ok(Arc::new(RelayClient {
            data_dir,
            store,
            running: Arc::new(AtomicBool::new(false)),
            connection: Arc::new(std::sync::Mutex::new(ConnectionState::Stopped)),
        }))
    }

    /// Pairs with the server in the QR payload and stores the credentials.
    pub async fn pair(&self, payload: String, device: DeviceInfo) -> Result<Credentials, RelayError> {
        Ok(pairing::pair(&payload, &device, &self.store).await?)
    }

    pub fn credentials(&self) -> Result<Option<Credentials>, RelayError> {
        Ok(self.store.credentials()?)
    }

    /// Pairing state, whether the agent runs, the link's state and the queue depth.
    pub fn status(&self) -> Result<ClientStatus, RelayError> {
        let credentials = self.store.credentials()?;
        let connection = self.connection.lock().map(|c| c.clone()).unwrap_or(ConnectionState::Stopped);
        Ok(ClientStatus {
            paired: credentials.is_some(),
            device_id: credentials.as_ref().map(|c| c.device_id.clone()),
            device_name: credentials.as_ref().map(|c| c.device_name.clone()),
            server_url: credentials.map(|c| c.server_url),
            running: self.running.load(Ordering::SeqCst),
            connection,
            queue_depth: self.store.queue_depth()?,
        })
    }

    /// Starts the link and the dispatcher. Inside a tokio runtime they run on it; otherwise
    /// the handle owns a small runtime of its own (the Android case).
    pub fn start(
        &self,
        transport: Arc<dyn SmsTransport>,
        health: Option<Arc<dyn HealthProbe>>,
        listener: Option<Arc<dyn RelayListener>>,
        options: ClientOptions,
    ) -> Result<Arc<RelayHandle>, RelayError> {
        let credentials = self.store.credentials()?.ok_or(RelayError::NotPaired)?;
        let urls = connect_urls(&credentials, &options)?;
        let tls = tls::client_config(credentials.fingerprint.as_deref())?;
        if self.running.swap(true, Ordering::SeqCst) {
            return Err(RelayError::AlreadyRunning);
        }
        if let Err(e) = self.store.prune_finished(crate::clock::now_ms() - KEEP_FINISHED_MS) {
            tracing::warn!(error = %e, "could not prune finished messages");
        }
        let events = Events::new(listener, self.connection.clone());
        let pacing = self.store.pacing().ok().flatten().unwrap_or_default();
        let shared = Arc::new(Shared {
            store: self.store.clone(),
            transport,
            health,
            events: events.clone(),
            credentials,
            options,
            dispatch_wake: Notify::new(),
            pacing: Mutex::new(pacing),
            sink_shared: Arc::new(SinkShared {
                store: self.store.clone(),
                outbox_wake: Arc::new(Notify::new()),
                events,
            }),
        });
        let (own_runtime, rt) = match tokio::runtime::Handle::try_current() {
            Ok(handle) => (None, handle),
            Err(_) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .thread_name("relay-agent")
                    .build()
                    .map_err(|e| RelayError::Config { detail: format!("cannot start a runtime: {e}") })?;
                let handle = runtime.handle().clone();
                (Some(runtime), handle)
            }
        };
        let (stop_tx, stop_rx) = watch::channel(false);
        let tasks = vec![
            rt.spawn(dispatch::run(shared.clone(), stop_rx.clone())),
            rt.spawn(link::run(shared, urls, tls, stop_rx)),
        ];
        tracing::info!(data_dir = %self.data_dir.display(), "agent started");
        Ok(Arc::new(RelayHandle {
            stop_tx,
            tasks: Mutex::new(tasks),
            runtime: Mutex::new(own_runtime),
            running: self.running.clone(),
        }))
    }
}

impl RelayClient {
    /// The store, for hosts that show the queue (and for tests).
    pub fn store(&self) -> Arc<Store> {
        self.store.clone()
    }
}

/// Reads a pairing QR payload without contacting its server.
pub fn inspect_pairing_payload(payload: &str) -> Result<PairingTarget, RelayError> {
    Ok(pairing::inspect(payload).map_err(pairing::PairError::from)?)
}

/// The WebSocket URLs to try, `http(s)` spelled as `ws(s)`.
fn connect_urls(credentials: &Credentials, options: &ClientOptions) -> Result<Vec<Url>, RelayError> {
    let given = if options.connect_urls.is_empty() {
        vec![credentials.connect_url.clone()]
    } else {
        options.connect_urls.clone()
    };
    given
        .iter()
        .map(|text| {
            let bad = || RelayError::Config { detail: format!("not a WebSocket URL: {text}") };
            let mut url = Url::parse(text).map_err(|_| bad())?;
            let scheme = match url.scheme() {
                "http" | "ws" => "ws",
                "https" | "wss" => "wss",
                _ => return Err(bad()),
            };
            url.set_scheme(scheme).map_err(|_| bad())?;
            Ok(url)
        })
        .collect()
}

/// A running agent.
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct RelayHandle {
    stop_tx: watch::Sender<bool>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    runtime: Mutex<Option<tokio::runtime::Runtime>>,
    running: Arc<AtomicBool>,
}

impl std::fmt::Debug for RelayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayHandle").field("stopped", &*self.stop_tx.borrow()).finish()
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export(async_runtime = "tokio"))]
impl RelayHandle {
    /// Stops the agent and waits until its tasks have finished (the link closes politely).
    pub async fn stop(&self) {
        self.stop_tx.send_replace(true);
        let tasks = self.take_tasks();
        for task in tasks {
            if let Err(e) = task.await {
                tracing::warn!(error = %e, "an agent task ended badly");
            }
        }
        self.running.store(false, Ordering::SeqCst);
        tracing::info!("agent stopped");
    }

    /// `stop` for callers outside any async runtime (a UI thread). When the agent runs on the
    /// caller's runtime, this only asks it to stop.
    pub fn stop_blocking(&self) {
        let runtime = self.runtime.lock().ok().and_then(|mut r| r.take());
        match runtime {
            Some(runtime) => {
                runtime.block_on(self.stop());
                runtime.shutdown_background();
            }
            None => {
                self.stop_tx.send_replace(true);
                self.running.store(false, Ordering::SeqCst);
            }
        }
    }

    pub fn is_stopped(&self) -> bool {
        *self.stop_tx.borrow()
    }
}

impl RelayHandle {
    fn take_tasks(&self) -> Vec<JoinHandle<()>> {
        self.tasks.lock().map(|mut t| std::mem::take(&mut *t)).unwrap_or_default()
    }
}

impl Drop for RelayHandle {
    fn drop(&mut self) {
        self.stop_tx.send_replace(true);
        self.running.store(false, Ordering::SeqCst);
        // shutdown_background never blocks, so dropping the handle is safe anywhere.
        if let Some(runtime) = self.runtime.lock().ok().and_then(|mut r| r.take()) {
            runtime.shutdown_background();
        }
    }
}

/// The pacing a phone uses before it has heard from its server.
pub fn default_pacing() -> Pacing {
    Pacing::default()
}
