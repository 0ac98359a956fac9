//! The delivery workers.
//!
//! One claiming loop leases due deliveries in batches (one write each, through the group-commit
//! writer), hands each to a task that POSTs it over a shared keep-alive connection pool, up to
//! `concurrency` in flight; finished attempts are collected and stored in batches by one
//! recording task. A delivery is held by a lease (`claimed_until`): if the process dies, the
//! lease runs out and the delivery is due again, so an event is delivered at least once and
//! receivers de-duplicate on `webhook-id` (the event id, the same on every attempt).

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::{Semaphore, mpsc, watch};

use super::queries::{self, Claimed, Outcome, Verdict};
use super::secret::WebhookKey;
use super::{WAKE, address, sign};
use crate::db::{Db, StoreError};
use crate::time;

/// Seconds to wait after attempt n fails (n = 1, 2, …): 11 retries over about 2.8 days,
/// each ±20 % so that an endpoint's backlog does not come back all at once.
pub const SCHEDULE_SECS: [u64; 11] = [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000, 36_000, 36_000, 36_000, 36_000];
/// Most deliveries leased in one claim.
const CLAIM_BATCH: usize = 100;
/// Most attempts stored in one write.
const RECORD_BATCH: usize = 500;
/// How much of a response body the attempt log keeps.
pub const BODY_LIMIT: usize = 1024;
/// How often the claimer looks for due deliveries when nothing woke it.
const POLL: Duration = Duration::from_millis(500);

/// When retries happen.
#[derive(Debug, Clone, Copy)]
pub enum Schedule {
    /// [`SCHEDULE_SECS`], with jitter.
    Standard,
    /// FOR TESTS ONLY (`--unsafe-test-webhook-schedule-ms`): the same number of retries, each
    /// after this many milliseconds, without jitter.
    TestMillis(u64),
}

impl Schedule {
    /// The wait after attempt `number` failed, or `None` when it was the last.
    pub fn delay_after(self, number: i32) -> Option<Duration> {
        let index = usize::try_from(number).ok()?.checked_sub(1)?;
        let secs = *SCHEDULE_SECS.get(index)?;
        Some(match self {
            Schedule::TestMillis(ms) => Duration::from_millis(ms),
            Schedule::Standard => Duration::from_secs_f64(secs as f64 * rand::rng().random_range(0.8..=1.2)),
        })
    }
}

#[derive(Debug, Clone, Copy)]
pub struct DeliverySettings {
    /// `--allow-private-webhooks`: no address checks (tests, or a trusted network).
    pub allow_private: bool,
    pub schedule: Schedule,
    /// Per attempt, connection included.
    pub timeout: Duration,
    /// Requests in flight at once.
    pub concurrency: usize,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        DeliverySettings {
            allow_private: false,
            schedule: Schedule::Standard,
            timeout: Duration::from_secs(15),
            concurrency: 256,
        }
    }
}

impl DeliverySettings {
    /// How long a claim holds a delivery: longer than any attempt can take (the timeout
    /// bounds connecting and answering alike), plus time to store the outcome. A delivery
    /// whose worker died is due again when it runs out: 35 s after the claim by default.
    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.timeout * 2 + Duration::from_secs(5)).unwrap_or(chrono::Duration::seconds(35))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("cannot build the webhook HTTP client: {0}")]
    Client(String),
}

/// The HTTP client: rustls with ring and the webpki roots, no redirects, no proxy from the
/// environment, keep-alive pooling, and the guarded resolver unless private targets are allowed.
pub fn client(settings: &DeliverySettings) -> Result<reqwest::Client, DeliverError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| DeliverError::Client(e.to_string()))?
        .with_root_certificates(rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() })
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(settings.timeout)
        .connect_timeout(settings.timeout)
        .pool_max_idle_per_host(settings.concurrency)
        .pool_idle_timeout(Duration::from_secs(60))
        .user_agent(concat!("Relay-Webhooks/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(address::GuardedResolver));
    }
    builder.build().map_err(|e| DeliverError::Client(e.to_string()))
}

/// Runs the workers until `stop` turns true; then claims nothing more, lets the attempts in
/// flight finish (each is bounded by the timeout) and stores their outcomes before returning,
/// so a graceful restart delivers nothing twice.
pub async fn run(db: Db, key: Arc<WebhookKey>, settings: DeliverySettings, mut stop: watch::Receiver<bool>) {
    let client = match client(&settings) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhooks cannot be delivered");
            return;
        }
    };
    let (done_tx, done_rx) = mpsc::unbounded_channel::<Outcome>();
    let recorder = tokio::spawn(record(db.clone(), done_rx));
    let slots = Arc::new(Semaphore::new(settings.concurrency.max(1)));
    let poll = match settings.schedule {
        Schedule::TestMillis(ms) => Duration::from_millis(ms.clamp(10, 500)),
        Schedule::Standard => POLL,
    };
    // After a claim found nothing, the next poll first reads: an idle server takes no write lock.
    let mut idle = false;
    while !*stop.borrow() {
        if idle {
            let due = db.run(|conn| queries::any_due(conn).map_err(StoreError::from)).await;
            if matches!(due, Ok(false)) {
                idle = !woken(poll, &mut stop).await;
                continue;
            }
        }
        // Wait for room before claiming: a lease starts ticking at the claim.
        let room = match Arc::clone(&slots).acquire_owned().await {
            Ok(first) => {
                let room = slots.available_permits() + 1;
                drop(first);
                room
            }
            Err(_) => return,
        };
        if *stop.borrow() {
            break;
        }
        let limit = i64::try_from(room.min(CLAIM_BATCH)).unwrap_or(1);
        let lease = settings.lease();
        let claimed = db.write(move |conn| queries::claim(conn, limit, lease).map_err(StoreError::from)).await;
        let batch = match claimed {
            Ok(batch) => batch,
            Err(e) => {
                tracing::warn!(error = %e, "could not claim webhook deliveries; retrying shortly");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let full = batch.len() == usize::try_from(limit).unwrap_or(0);
        idle = batch.is_empty();
        for job in batch {
            let Ok(permit) = Arc::clone(&slots).acquire_owned().await else { break };
            let (client, key, done) = (client.clone(), key.clone(), done_tx.clone());
            tokio::spawn(async move {
                let outcome = attempt(&client, &key, &settings, job).await;
                let _ = done.send(outcome);
                drop(permit);
            });
        }
        if !full && woken(poll, &mut stop).await {
            // An event was just recorded: claim through the writer, which runs after the
            // recording transaction committed (a read now might not see it yet).
            idle = false;
        }
    }
    // Stopping: every permit back means every attempt in flight has finished.
    let all = u32::try_from(settings.concurrency.max(1)).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
    drop(done_tx);
    let _ = recorder.await;
    tracing::info!("webhook deliveries stopped");
}

/// Waits for a recorded event (true), for `poll` to pass or for the stop signal (false).
async fn woken(poll: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    tokio::select! {
        () = WAKE.notified() => true,
        () = tokio::time::sleep(poll) => false,
        _ = stop.changed() => false,
    }
}

/// Stores finished attempts, many per write.
async fn record(db: Db, mut rx: mpsc::UnboundedReceiver<Outcome>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(o) => batch.push(o),
                Err(_) => break,
            }
        }
        let outcomes = std::mem::take(&mut batch);
        let n = outcomes.len();
        let stored = db.write(move |conn| queries::apply_outcomes(conn, &outcomes).map_err(StoreError::from)).await;
        match stored {
            Ok(disabled) => {
                for (id, reason) in disabled {
                    tracing::warn!(webhook_id = %id, %reason, "webhook endpoint disabled");
                }
            }
            // The leases run out and these deliveries are attempted again.
            Err(e) => tracing::warn!(error = %e, attempts = n, "could not store webhook attempts"),
        }
    }
}

/// One attempt: sign, POST, read the start of the answer, decide.
async fn attempt(client: &reqwest::Client, key: &WebhookKey, settings: &DeliverySettings, job: Claimed) -> Outcome {
    let number = job.attempts + 1;
    let at = time::now();
    let started = Instant::now();
    let result = send(client, key, settings, &job).await;
    let duration_ms = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
    let (http_status, response_body, error, verdict) = match result {
        Ok((status, body)) => {
            let verdict = match status {
                200..=299 => Verdict::Delivered,
                410 => Verdict::Gone,
                429 | 500..=599 => Verdict::Retry,
                _ => Verdict::Final,
            };
            (Some(i32::from(status)), Some(body), None, verdict)
        }
        Err(Failure::Retry(e)) => (None, None, Some(e), Verdict::Retry),
        Err(Failure::Final(e)) => (None, None, Some(e), Verdict::Final),
    };
    let next_attempt_at = match verdict {
        Verdict::Retry => settings
            .schedule
            .delay_after(number)
            .and_then(|d| chrono::Duration::from_std(d).ok())
            .map(|d| time::now() + d),
        _ => None,
    };
    crate::metrics::METRICS.webhook_attempt(match verdict {
        Verdict::Delivered => "delivered",
        Verdict::Retry => "retry",
        Verdict::Final => "failed",
        Verdict::Gone => "gone",
    });
    match verdict {
        Verdict::Delivered => {
            tracing::debug!(delivery_id = %job.delivery_id, event_id = %job.event_id, number, "webhook delivered")
        }
        _ => tracing::info!(
            delivery_id = %job.delivery_id, event_id = %job.event_id, number, status = ?http_status,
            error = error.as_deref().unwrap_or(""), retry = next_attempt_at.is_some(), "webhook attempt failed"
        ),
    }
    Outcome {
        attempt: super::models::Attempt {
            delivery_id: job.delivery_id,
            number,
            at,
            http_status,
            duration_ms,
            response_body,
            error,
            next_attempt_at,
        },
        endpoint_id: job.endpoint_id,
        verdict,
    }
}

enum Failure {
    /// No answer (connection, timeout, a refused address): retried.
    Retry(String),
    /// Nothing could be sent and trying again will not help.
    Final(String),
}

async fn send(
    client: &reqwest::Client,
    key: &WebhookKey,
    settings: &DeliverySettings,
    job: &Claimed,
) -> Result<(u16, String), Failure> {
    let url = address::parse(&job.url).map_err(|e| Failure::Final(e.to_string()))?;
    // The resolver guards names; a literal address is checked here.
    if !settings.allow_private
        && let Some(host) = url.host_str()
        && let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>()
        && let Some(kind) = address::forbidden(ip)
    {
        return Err(Failure::Retry(format!("refused: {ip} is a {kind} address")));
    }
    let current = key.decrypt(&job.endpoint_id, &job.secret_enc).map_err(|e| Failure::Final(e.to_string()))?;
    let previous = match (&job.previous_secret_enc, job.previous_secret_until) {
        (Some(enc), Some(until)) if until > time::now() => key.decrypt(&job.endpoint_id, enc).ok(),
        _ => None,
    };
    let mut secrets = vec![current.as_str()];
    secrets.extend(previous.as_deref());
    // The receiver compares this with its own clock: the real one, never the tests' offset.
    let timestamp = chrono::Utc::now().timestamp();
    let signature = sign::signature_header(&secrets, &job.event_id, timestamp, &job.payload)
        .map_err(|e| Failure::Final(e.to_string()))?;
    let response = client
        .post(url)
        .header("content-type", "application/json")
        .header("webhook-id", &job.event_id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(job.payload.clone())
        .send()
        .await
        .map_err(|e| Failure::Retry(describe(&e, settings.timeout)))?;
    let status = response.status().as_u16();
    Ok((status, read_start(response).await))
}

/// The first [`BODY_LIMIT`] bytes of the body, as text; the rest is not read.
async fn read_start(mut response: reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(BODY_LIMIT);
    String::from_utf8_lossy(&buf).into_owned()
}

/// A network error in words, with its causes: "connection refused", "timed out after 15 s"…
fn describe(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {} ms without an answer", timeout.as_millis());
    }
    let mut text = if e.is_connect() { "could not connect".to_owned() } else { "request failed".to_owned() };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let line = cause.to_string();
        if !text.contains(&line) {
            text.push_str(": ");
            text.push_str(&line);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spans_about_three_days_with_jitter() {
        let total: u64 = SCHEDULE_SECS.iter().sum();
        assert!((2.5 * 86_400.0..3.0 * 86_400.0).contains(&(total as f64)), "{total}");
        for n in 1..=11 {
            let d = Schedule::Standard.delay_after(n).unwrap().as_secs_f64();
            let base = SCHEDULE_SECS[usize::try_from(n - 1).unwrap()] as f64;
            assert!(d >= base * 0.8 - 0.001 && d <= base * 1.2 + 0.001, "{n}: {d}");
        }
        assert!(Schedule::Standard.delay_after(12).is_none(), "12 attempts in all");
        assert_eq!(Schedule::TestMillis(50).delay_after(3), Some(Duration::from_millis(50)));
        assert!(Schedule::TestMillis(50).delay_after(12).is_none());
    }
}
