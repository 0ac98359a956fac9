//! The SMS transport: the part that actually sends (Android's `SmsManager`, or the host
//! simulator), and the sink through which it reports outcomes — later, from any thread, as
//! Android's broadcast receivers do.

use std::sync::Arc;

use relay_protocol::frames::{DeliveryStatus, Failure};
use tokio::sync::Notify;

use crate::clock;
use crate::events::{Events, MessageEventKind};
use crate::store::{OutcomeRecord, Store};

/// A message the transport must send now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct OutgoingSms {
    pub request_id: String,
    /// E.164 number.
    pub to: String,
    pub body: String,
    /// SIM slot (0-based); `None` for the phone's default.
    pub sim: Option<u8>,
    /// Parts the server counted.
    pub parts: u32,
}

/// An outcome the transport observed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum TransportResult {
    /// Every part was handed to the network.
    Sent,
    /// Every part's delivery report said delivered.
    Delivered,
    /// Sending failed (codes from `relay_protocol::failure`).
    Failed { code: String, reason: String },
}

/// What actually sends SMS. Implementations must return from `send` quickly and report
/// through the sink later; they are called from the agent's async tasks. Across the FFI the
/// app implements it (Kotlin over `SmsManager`).
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait SmsTransport: Send + Sync {
    /// Sends the message once. Every outcome goes to `sink`, from any thread, at any time.
    fn send(&self, sms: OutgoingSms, sink: Arc<StatusSink>);

    /// A message handed to this transport before the agent restarted, whose final outcome
    /// never arrived (`last_reported` is the newest one that did). It must NOT be sent again:
    /// report whatever is known (Android can look in its sent box), or nothing.
    fn recover(&self, sms: OutgoingSms, last_reported: Option<DeliveryStatus>, sink: Arc<StatusSink>);
}

/// Where a transport reports the outcomes of one message. Each report is stored durably in
/// the outbox before it goes to the server, so it survives a dropped link or a crash.
#[cfg_attr(feature = "uniffi", derive(uniffi::Object))]
pub struct StatusSink {
    request_id: String,
    shared: Arc<SinkShared>,
}

impl std::fmt::Debug for StatusSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StatusSink").field("request_id", &self.request_id).finish()
    }
}

/// The parts of the agent a sink needs; shared by every sink.
pub(crate) struct SinkShared {
    pub(crate) store: Arc<Store>,
    /// Wakes the link so a new report goes out without waiting for a timer.
    pub(crate) outbox_wake: Arc<Notify>,
    pub(crate) events: Events,
}

impl StatusSink {
    pub(crate) fn new(request_id: String, shared: Arc<SinkShared>) -> Arc<Self> {
        Arc::new(StatusSink { request_id, shared })
    }
}

#[cfg_attr(feature = "uniffi", uniffi::export)]
impl StatusSink {
    pub fn request_id(&self) -> String {
        self.request_id.clone()
    }

    /// Records an outcome. Safe to call from any thread; repeats and anything after a final
    /// outcome are ignored.
    pub fn report(&self, result: TransportResult) {
        self.shared.record(&[(&self.request_id, &result)]);
    }
}

/// Records several outcomes at once, in one transaction per agent: what a radio that learns a
/// burst of results together (the host simulator) calls instead of [`StatusSink::report`] on
/// each. The same rules apply to each report, in list order.
pub fn report_all(reports: &[(Arc<StatusSink>, TransportResult)]) {
    let mut rest = reports;
    while let Some((first, _)) = rest.first() {
        // Sinks of one agent share its store; a list that mixes agents is split by agent.
        let same = rest.iter().take_while(|(sink, _)| Arc::ptr_eq(&sink.shared, &first.shared)).count();
        let (run, tail) = rest.split_at(same);
        let run: Vec<(&str, &TransportResult)> =
            run.iter().map(|(sink, result)| (sink.request_id.as_str(), result)).collect();
        first.shared.record(&run);
        rest = tail;
    }
}

impl SinkShared {
    /// Stores the reports (one transaction), then tells the listener and wakes the link.
    fn record(&self, reports: &[(&str, &TransportResult)]) {
        let at = clock::rfc3339_now();
        let outcomes: Vec<(DeliveryStatus, Option<Failure>, MessageEventKind)> =
            reports.iter().map(|(_, result)| outcome(result)).collect();
        let records: Vec<OutcomeRecord<'_>> = reports
            .iter()
            .zip(&outcomes)
            .map(|((request_id, _), (status, failure, _))| OutcomeRecord {
                request_id,
                status: *status,
                failure: failure.as_ref(),
                at: &at,
            })
            .collect();
        let queued = match self.store.record_statuses(&records, clock::now_ms()) {
            Ok(queued) => queued,
            Err(e) => {
                tracing::error!(reports = reports.len(), error = %e, "could not store reports");
                return;
            }
        };
        let mut any = false;
        for (((request_id, _), (status, _, kind)), queued) in reports.iter().zip(outcomes).zip(queued) {
            if queued {
                tracing::info!(%request_id, ?status, "transport reported");
                self.events.message(request_id, kind);
                any = true;
            } else {
                tracing::debug!(%request_id, ?status, "report ignored (repeat or too late)");
            }
        }
        if any {
            self.outbox_wake.notify_one();
        }
    }
}

fn outcome(result: &TransportResult) -> (DeliveryStatus, Option<Failure>, MessageEventKind) {
    match result {
        TransportResult::Sent => (DeliveryStatus::Sent, None, MessageEventKind::Sent),
        TransportResult::Delivered => (DeliveryStatus::Delivered, None, MessageEventKind::Delivered),
        TransportResult::Failed { code, reason } => (
            DeliveryStatus::Failed,
            Some(Failure { code: code.clone(), reason: reason.clone() }),
            MessageEventKind::Failed { code: code.clone(), reason: reason.clone() },
        ),
    }
}
