//! A simulated phone: an SMS transport that "sends" by writing a sent-box line and then
//! reports like a radio would. Used by `relay-device`, by the server's `--demo` mode, and by
//! load tests — the rest of the agent (store, link, pacing) is the real one.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_protocol::failure;
use relay_protocol::frames::{DeliveryStatus, Permissions, SimInfo};
use sha2::{Digest, Sha256};

use tokio::sync::mpsc;

use crate::{DeviceHealth, HealthProbe, OutgoingSms, SmsTransport, StatusSink, TransportResult, report_all};

/// The simulated radio's journal, in the phone's data folder.
pub const RADIO_JOURNAL: &str = "radio-journal.txt";

/// What happens to each message the simulated phone sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Outcome {
    Delivered,
    Failed,
    /// Delivered or failed, decided by a hash of the request id (the same on every run).
    Mixed,
}

/// "Sends" by printing one line to stdout, then reports like a radio would, later and from
/// another task.
pub struct SimTransport {
    outcome: Outcome,
    latency: Duration,
    sent_box: SentBox,
    runtime: tokio::runtime::Handle,
    /// The simulated radio's memory of what it transmitted, as Android's sent box is: one
    /// request id per line, written just after the print. Lets a restarted phone tell a
    /// message that went out from one the kill caught before the print.
    journal: Option<Mutex<std::fs::File>>,
    journal_path: Option<std::path::PathBuf>,
    /// Outcomes on their way to the agent; see [`radio`].
    radio: mpsc::UnboundedSender<(Arc<StatusSink>, TransportResult)>,
}

/// Where the simulated phone writes its sent box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentBox {
    /// One JSON object per message: `{"request_id","to","body"}`.
    StdoutJson,
    /// One human line per message: `sent req_… to +92…: text`.
    StdoutText,
}

impl std::fmt::Debug for SimTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTransport").field("outcome", &self.outcome).field("latency", &self.latency).finish()
    }
}

impl SimTransport {
    pub fn new(outcome: Outcome, latency: Duration, sent_box: SentBox, runtime: tokio::runtime::Handle) -> Self {
        let (radio, outcomes) = mpsc::unbounded_channel();
        runtime.spawn(self::radio(outcomes));
        SimTransport { outcome, latency, sent_box, runtime, journal: None, journal_path: None, radio }
    }

    /// Keeps the radio's journal in `path` (appended to, created if needed).
    pub fn with_journal(mut self, path: &Path) -> std::io::Result<Self> {
        let file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        self.journal = Some(Mutex::new(file));
        self.journal_path = Some(path.to_owned());
        Ok(self)
    }

    fn journal_sent(&self, request_id: &str) {
        let Some(journal) = &self.journal else { return };
        let written = match journal.lock() {
            Ok(mut file) => writeln!(file, "{request_id}"),
            Err(_) => Ok(()),
        };
        if let Err(e) = written {
            tracing::error!(error = %e, %request_id, "cannot write the simulated radio's journal");
        }
    }

    /// Whether the radio remembers transmitting `request_id` (false without a journal).
    fn transmitted(&self, request_id: &str) -> bool {
        let Some(path) = &self.journal_path else { return false };
        std::fs::read_to_string(path).is_ok_and(|text| text.lines().any(|l| l == request_id))
    }

    fn print_sent(&self, sms: &OutgoingSms) {
        let line = if self.sent_box == SentBox::StdoutJson {
            serde_json::json!({"request_id": sms.request_id, "to": sms.to, "body": sms.body}).to_string()
        } else {
            // One message, one line: line breaks in the text are shown escaped.
            let body = sms.body.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r");
            format!("sent {} to {}: {body}", sms.request_id, sms.to)
        };
        let mut out = std::io::stdout().lock();
        if let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush()) {
            tracing::error!(error = %e, request_id = %sms.request_id, "cannot write to stdout");
        }
    }

    fn delivers(&self, request_id: &str) -> bool {
        match self.outcome {
            Outcome::Delivered => true,
            Outcome::Failed => false,
            Outcome::Mixed => Sha256::digest(request_id.as_bytes())[0] % 2 == 0,
        }
    }

    /// Reports the rest of the message's life, starting after `already`.
    fn report_later(&self, request_id: &str, already: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        let delivers = self.delivers(request_id);
        let latency = self.latency;
        let radio = self.radio.clone();
        // A send error means the radio task is gone with its runtime: nobody is left to hear.
        self.runtime.spawn(async move {
            if !delivers {
                tokio::time::sleep(latency).await;
                let failed = TransportResult::Failed {
                    code: failure::GENERIC_FAILURE.to_owned(),
                    reason: failure::reason(failure::GENERIC_FAILURE),
                };
                let _ = radio.send((sink, failed));
                return;
            }
            if already.is_none() {
                tokio::time::sleep(latency).await;
                let _ = radio.send((sink.clone(), TransportResult::Sent));
            }
            tokio::time::sleep(latency).await;
            let _ = radio.send((sink, TransportResult::Delivered));
        });
    }
}

impl SmsTransport for SimTransport {
    fn send(&self, sms: OutgoingSms, sink: Arc<StatusSink>) {
        self.print_sent(&sms);
        self.journal_sent(&sms.request_id);
        self.report_later(&sms.request_id, None, sink);
    }

    /// A message with a report already went out; one the journal names went out too. Any
    /// other was caught by the restart between hand-over and print (or between print and
    /// journal): whether it left is unknown, and it is never sent again.
    fn recover(&self, sms: OutgoingSms, last_reported: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        if last_reported.is_some() || self.transmitted(&sms.request_id) {
            tracing::info!(request_id = %sms.request_id, ?last_reported, "resuming reports after a restart");
            self.report_later(&sms.request_id, last_reported, sink);
        } else {
            tracing::warn!(request_id = %sms.request_id, "restarted mid-send: outcome unknown");
            sink.report(TransportResult::Failed {
                code: failure::OUTCOME_UNKNOWN.to_owned(),
                reason: failure::reason(failure::OUTCOME_UNKNOWN),
            });
        }
    }
}

/// Hands the simulated radio's outcomes to the agent a burst at a time: outcomes that came due
/// together are recorded in one transaction ([`report_all`]), in the order they arrived, so a
/// message's `sent` still precedes its `delivered`.
async fn radio(mut outcomes: mpsc::UnboundedReceiver<(Arc<StatusSink>, TransportResult)>) {
    let mut burst = Vec::new();
    while let Some(first) = outcomes.recv().await {
        burst.push(first);
        // The other timers of this instant run first, so their outcomes join this burst.
        tokio::task::yield_now().await;
        while let Ok(more) = outcomes.try_recv() {
            burst.push(more);
        }
        report_all(&burst);
        burst.clear();
    }
}

pub fn simulated_sim() -> SimInfo {
    SimInfo { slot: 0, subscription_id: Some(1), carrier: Some("Simulated".to_owned()), number: None }
}

/// A healthy phone on Wi-Fi, plugged in.
#[derive(Debug)]
pub struct SimHealth;

impl HealthProbe for SimHealth {
    fn snapshot(&self) -> DeviceHealth {
        DeviceHealth {
            battery_percent: Some(100),
            charging: Some(true),
            signal_level: Some(4),
            network: Some("wifi".to_owned()),
            sims: vec![simulated_sim()],
            permissions: Permissions {
                send_sms: true,
                read_phone_state: true,
                notifications: true,
                battery_optimization_exempt: true,
            },
        }
    }
}
