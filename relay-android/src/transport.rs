//! The `SmsTransport` over Android's `SmsManager`: hands each message to the platform and
//! turns the result broadcasts, part by part, into the message's outcomes.
//!
//! Results arrive on the app's main thread, through the `BroadcastReceiver`, at any time —
//! also after the process was restarted for them, before the agent is running again. An answer
//! for a message this process did not send is kept (its part count travels in the intent) and
//! handed to the sink `recover` brings for it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jni::Env;
use relay_core::protocol::failure;
use relay_core::protocol::frames::DeliveryStatus;
use relay_core::{OutgoingSms, SmsTransport, StatusSink, TransportResult};

use crate::codes::{self, DeliveryReport, Parts, SendResult};
use crate::error::AndroidError;
use crate::jvm::{self, Android};

/// Messages whose outcome is still open are forgotten after this long (some networks never
/// send a delivery report; `sent` is then the last word).
const KEEP_OPEN: Duration = Duration::from_secs(3 * 24 * 3600);
/// And at most this many are kept, the oldest dropped first.
const MAX_OPEN: usize = 4096;

/// Where outcomes go: the agent's `StatusSink`, or a recorder in tests.
pub trait Reporter: Send + Sync {
    fn report(&self, result: TransportResult);
}

impl Reporter for StatusSink {
    fn report(&self, result: TransportResult) {
        StatusSink::report(self, result);
    }
}

/// Which result broadcast an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultKind {
    Sent,
    Delivered,
}

impl ResultKind {
    /// The `kind` argument of `RelayNative.onSmsResult`: 0 sent, 1 delivered.
    pub fn from_jint(kind: i32) -> Option<Self> {
        match kind {
            0 => Some(ResultKind::Sent),
            1 => Some(ResultKind::Delivered),
            _ => None,
        }
    }
}

/// One answer as the receiver got it: the intent's extras, its result code, and for a
/// delivery report the `pdu` and `format` extras.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsResult {
    pub kind: ResultKind,
    pub message_id: String,
    pub part: u32,
    pub parts: u32,
    pub result_code: i32,
    /// The SENT intent's `errorCode` extra (radio-specific detail), `-1` when absent.
    pub error_code: i32,
    pub pdu: Option<Vec<u8>>,
    pub format: Option<String>,
}

/// One part's answer once decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Sent { result: SendResult, detail: String },
    Delivery(DeliveryReport),
}

struct Open {
    parts: Parts,
    reporter: Option<Arc<dyn Reporter>>,
    /// Outcomes produced before a reporter was known.
    unsaid: Vec<TransportResult>,
    since: Instant,
}

/// Sends through `SmsManager` and aggregates the answers. One per process in the app (see
/// `native.rs`); tests make their own.
pub struct AndroidSms {
    android: Arc<Android>,
    /// Subscription id by SIM slot (`SubscriptionManager`, listed by the app).
    subscriptions: Mutex<BTreeMap<u8, i32>>,
    open: Mutex<BTreeMap<String, Open>>,
}

impl std::fmt::Debug for AndroidSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AndroidSms").field("android", &self.android).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent across a panic elsewhere: every update is a single insert/remove.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AndroidSms {
    pub fn new(android: Android) -> Self {
        AndroidSms { android: Arc::new(android), subscriptions: Mutex::default(), open: Mutex::default() }
    }

    pub fn android(&self) -> &Android {
        &self.android
    }

    /// The subscription id of each SIM slot (index = slot); a negative id means the slot is
    /// empty. Replaces the previous list (SIMs come and go).
    pub fn set_subscriptions(&self, by_slot: &[i32]) {
        let mut subs = lock(&self.subscriptions);
        subs.clear();
        for (slot, id) in by_slot.iter().enumerate() {
            if let (Ok(slot), true) = (u8::try_from(slot), *id >= 0) {
                subs.insert(slot, *id);
            }
        }
        tracing::info!(subscriptions = ?*subs, "SIM subscriptions");
    }

    /// Hands one message to `SmsManager`. Never blocks on the network; outcomes go to
    /// `reporter` when the result broadcasts come.
    pub fn submit(&self, sms: &OutgoingSms, reporter: Arc<dyn Reporter>) {
        let subscription = match sms.sim {
            None => None,
            Some(slot) => match lock(&self.subscriptions).get(&slot) {
                Some(id) => Some(*id),
                None => {
                    tracing::warn!(request_id = %sms.request_id, slot, "no SIM in the requested slot");
                    reporter.report(TransportResult::Failed {
                        code: failure::GENERIC_FAILURE.to_owned(),
                        reason: format!("The phone has no active SIM in slot {slot}."),
                    });
                    return;
                }
            },
        };
        // Registered with the phone's own part count before the platform sees the message: a
        // SENT broadcast can be quicker than the return of sendMultipartTextMessage.
        let sent = self.android.send_sms(&sms.request_id, &sms.to, &sms.body, subscription, |parts| {
            self.register(&sms.request_id, parts, Some(reporter.clone()));
        });
        match sent {
            Ok(submitted) => {
                if submitted.parts != sms.parts {
                    tracing::info!(request_id = %sms.request_id, server = sms.parts, phone = submitted.parts, "the phone split the message differently");
                }
                tracing::info!(request_id = %sms.request_id, parts = submitted.parts, ?subscription, "handed to SmsManager");
            }
            Err(e) => {
                tracing::error!(request_id = %sms.request_id, error = %e, "SmsManager refused the message");
                lock(&self.open).remove(&sms.request_id);
                reporter.report(TransportResult::Failed {
                    code: e.failure_code().to_owned(),
                    reason: format!("{} [{e}]", failure::reason(e.failure_code())),
                });
            }
        }
    }

    /// A message handed over before this process started. It is never sent again: answers
    /// that arrived meanwhile are reported; a message known to be sent waits for its delivery
    /// report; otherwise nothing says whether it went out (`outcome_unknown`).
    pub fn recover(&self, sms: &OutgoingSms, last_reported: Option<DeliveryStatus>, reporter: Arc<dyn Reporter>) {
        let mut open = lock(&self.open);
        if let Some(entry) = open.get_mut(&sms.request_id) {
            let unsaid = std::mem::take(&mut entry.unsaid);
            entry.reporter = Some(reporter.clone());
            if entry.parts.finished() {
                open.remove(&sms.request_id);
            }
            drop(open);
            tracing::info!(request_id = %sms.request_id, answers = unsaid.len(), "recovered with answers heard meanwhile");
            for r in unsaid {
                reporter.report(r);
            }
            return;
        }
        if last_reported == Some(DeliveryStatus::Sent) {
            self.insert(&mut open, &sms.request_id, sms.parts, Some(reporter));
            if let Some(entry) = open.get_mut(&sms.request_id) {
                entry.parts.mark_sent();
            }
            tracing::info!(request_id = %sms.request_id, "recovered a sent message: waiting for its delivery report");
            return;
        }
        drop(open);
        tracing::warn!(request_id = %sms.request_id, "recovered a message with no answer: outcome unknown");
        reporter.report(TransportResult::Failed {
            code: failure::OUTCOME_UNKNOWN.to_owned(),
            reason: failure::reason(failure::OUTCOME_UNKNOWN),
        });
    }

    fn register(&self, id: &str, parts: u32, reporter: Option<Arc<dyn Reporter>>) {
        let mut open = lock(&self.open);
        self.insert(&mut open, id, parts, reporter);
    }

    fn insert(&self, open: &mut BTreeMap<String, Open>, id: &str, parts: u32, reporter: Option<Arc<dyn Reporter>>) {
        let now = Instant::now();
        open.retain(|_, e| now.duration_since(e.since) < KEEP_OPEN);
        while open.len() >= MAX_OPEN {
            let oldest = open.iter().min_by_key(|(_, e)| e.since).map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    tracing::warn!(request_id = %k, "forgetting an open message (too many open)");
                    open.remove(&k);
                }
                None => break,
            }
        }
        open.insert(id.to_owned(), Open { parts: Parts::new(parts), reporter, unsaid: Vec::new(), since: now });
    }

    /// One result broadcast, as the receiver got it. A delivery report's PDU is read with
    /// the platform's `SmsMessage` (through `env`, the receiver's thread).
    pub fn on_result(&self, env: &mut Env<'_>, result: SmsResult) {
        let answer = match result.kind {
            ResultKind::Sent => {
                let detail =
                    if result.error_code >= 0 { format!("errorCode {}", result.error_code) } else { String::new() };
                Answer::Sent { result: codes::send_result(result.result_code), detail }
            }
            ResultKind::Delivered => {
                let (Some(pdu), Some(format)) = (result.pdu.as_deref(), result.format.as_deref()) else {
                    // RESULT_OK alone is no proof of delivery.
                    tracing::warn!(request_id = %result.message_id, part = result.part, "delivery broadcast without a PDU: ignored");
                    return;
                };
                match jvm::delivery_status(env, pdu, format) {
                    Ok(Some(status)) => Answer::Delivery(codes::delivery_report(status, format)),
                    Ok(None) => {
                        tracing::warn!(request_id = %result.message_id, format, "the platform could not read the delivery PDU");
                        return;
                    }
                    Err(e) => {
                        tracing::warn!(request_id = %result.message_id, error = %e, "reading the delivery PDU failed");
                        return;
                    }
                }
            }
        };
        self.on_answer(&result.message_id, result.parts, result.part, answer);
    }

    /// One part's decoded answer: aggregates and reports what the message's outcome became.
    pub fn on_answer(&self, message_id: &str, parts: u32, part: u32, answer: Answer) {
        tracing::debug!(request_id = %message_id, part, parts, ?answer, "SMS result");
        let mut open = lock(&self.open);
        if !open.contains_key(message_id) {
            tracing::info!(request_id = %message_id, "an answer for a message this process did not send: kept for recovery");
            self.insert(&mut open, message_id, parts, None);
        }
        let Some(entry) = open.get_mut(message_id) else { return };
        let out = match &answer {
            Answer::Sent { result, detail } => entry.parts.on_sent(part, result, detail),
            Answer::Delivery(report) => entry.parts.on_delivery(part, *report),
        };
        let reporter = entry.reporter.clone();
        if reporter.is_none() {
            entry.unsaid.extend(out);
            return;
        }
        if entry.parts.finished() {
            open.remove(message_id);
        }
        drop(open);
        if let Some(reporter) = reporter {
            for r in out {
                reporter.report(r);
            }
        }
    }

    /// Messages whose outcome is still open (tests and the status screen).
    pub fn open_count(&self) -> usize {
        lock(&self.open).len()
    }
}

/// The transport relay-core drives: sends through the process's [`AndroidSms`] (set up by
/// `RelayNative.init`), or fails the message when the app never called init.
#[derive(Debug, Default)]
pub struct JniSmsTransport;

impl SmsTransport for JniSmsTransport {
    fn send(&self, sms: OutgoingSms, sink: Arc<StatusSink>) {
        match crate::native::current() {
            Some(relay) => relay.submit(&sms, sink),
            None => not_initialised(&sms, &sink, failure::GENERIC_FAILURE),
        }
    }

    fn recover(&self, sms: OutgoingSms, last_reported: Option<DeliveryStatus>, sink: Arc<StatusSink>) {
        match crate::native::current() {
            Some(relay) => relay.recover(&sms, last_reported, sink),
            // Handed over before: it may have gone out, so it must not look like a plain failure.
            None => not_initialised(&sms, &sink, failure::OUTCOME_UNKNOWN),
        }
    }
}

fn not_initialised(sms: &OutgoingSms, sink: &StatusSink, code: &str) {
    let e = AndroidError::NotInitialised;
    tracing::error!(request_id = %sms.request_id, error = %e, "cannot send");
    sink.report(TransportResult::Failed { code: code.to_owned(), reason: format!("{} [{e}]", failure::reason(code)) });
}
