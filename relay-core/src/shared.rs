//! What the agent's tasks (link and dispatcher) share while it runs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_protocol::frames::Pacing;
use tokio::sync::{Notify, watch};

use crate::client::ClientOptions;
use crate::events::Events;
use crate::health::HealthProbe;
use crate::pairing::Credentials;
use crate::store::Store;
use crate::transport::{SinkShared, SmsTransport, StatusSink};

pub(crate) struct Shared {
    pub(crate) store: Arc<Store>,
    pub(crate) transport: Arc<dyn SmsTransport>,
    pub(crate) health: Option<Arc<dyn HealthProbe>>,
    pub(crate) events: Events,
    pub(crate) credentials: Credentials,
    pub(crate) options: ClientOptions,
    /// Wakes the dispatcher: a message was confirmed or the pacing changed.
    pub(crate) dispatch_wake: Notify,
    /// The latest pacing from `welcome` (or the stored one, or the default).
    pub(crate) pacing: Mutex<Pacing>,
    pub(crate) sink_shared: Arc<SinkShared>,
}

impl Shared {
    pub(crate) fn sink(&self, request_id: &str) -> Arc<StatusSink> {
        StatusSink::new(request_id.to_owned(), self.sink_shared.clone())
    }

    pub(crate) fn outbox_wake(&self) -> &Notify {
        &self.sink_shared.outbox_wake
    }

    pub(crate) fn pacing(&self) -> Pacing {
        self.pacing.lock().map(|p| *p).unwrap_or_default()
    }

    pub(crate) fn set_pacing(&self, pacing: Pacing) {
        if let Ok(mut p) = self.pacing.lock() {
            *p = pacing;
        }
        if let Err(e) = self.store.save_pacing(pacing) {
            tracing::warn!(error = %e, "could not remember the pacing");
        }
        self.dispatch_wake.notify_one();
    }
}

/// Resolves when a stop is requested (or the handle is gone).
pub(crate) async fn stopped(stop: &mut watch::Receiver<bool>) {
    // An error means the sender was dropped: nobody can stop us any more, so stop now.
    let _ = stop.wait_for(|s| *s).await;
}

/// Sleeps for `wait`, or forever when there is nothing to wait for.
pub(crate) async fn sleep_or_forever(wait: Option<Duration>) {
    match wait {
        Some(d) => tokio::time::sleep(d).await,
        None => std::future::pending().await,
    }
}
