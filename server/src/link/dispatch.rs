//! The dispatcher: moves queued messages to connected phones, and expires what waited too long.

use std::sync::Arc;
use std::time::Duration;

use relay_protocol::frames::{SendMessage, ServerFrame};

use super::Hub;
use crate::db::{Db, StoreError};
use crate::messages::models::Message;
use crate::messages::queries;
use crate::metrics::METRICS;
use crate::time::Timestamp;

/// Most messages claimed for one device in one step: keeps each transaction short.
const CLAIM_BATCH: u32 = 64;

/// Runs until the process ends.
pub async fn run(hub: Arc<Hub>, db: Db) {
    let mut expiry = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            () = hub.woken() => {}
            _ = expiry.tick() => expire(&hub, &db).await,
            // Pacing windows refill with time, not with events.
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
        // Keep going while a round may have left work behind. A round in which no phone got
        // as much as it asked for found the queue dry: a further round would only confirm
        // that (on PostgreSQL a transaction and three statements for nothing, at every wake).
        // Work queued meanwhile has woken the hub again, and is claimed at once.
        loop {
            match round(&hub, &db).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dispatch round failed; retrying shortly");
                    break;
                }
            }
        }
    }
}

/// One pass over the devices that have room, every claim in one writer job. Returns whether
/// some phone got as many messages as it asked for, so that more may be waiting.
async fn round(hub: &Hub, db: &Db) -> Result<bool, StoreError> {
    let candidates = hub.candidates();
    if candidates.is_empty() {
        return Ok(false);
    }
    let wanted: Vec<queries::Wanted> = candidates
        .iter()
        .map(|c| queries::Wanted {
            account_id: c.account_id.clone(),
            device_id: c.device_id.clone(),
            limit: i64::from(c.room.min(CLAIM_BATCH)),
        })
        .collect();
    let limits: Vec<usize> = wanted.iter().map(|w| usize::try_from(w.limit).unwrap_or(usize::MAX)).collect();
    let me = hub.instance().clone();
    let claimed =
        db.write(move |conn| queries::claim_round(conn, me.as_str(), &wanted).map_err(StoreError::from)).await?;
    let more = claimed.iter().zip(&limits).any(|(messages, limit)| messages.len() >= *limit);
    for (c, messages) in candidates.iter().zip(claimed) {
        let mut stranded = Vec::new();
        for m in messages {
            let parts = u32::try_from(m.segments).unwrap_or(1);
            if hub.hand(&c.device_id, c.conn_id, ServerFrame::Send(send_frame(&m)), parts) {
                let waited = (crate::time::now() - m.queued_at).num_microseconds().unwrap_or(i64::MAX);
                METRICS.dispatched(waited as f64 / 1e6);
            } else {
                tracing::debug!(device_id = %c.device_id, request_id = %m.id, "connection replaced during dispatch");
                stranded.push(m.id);
            }
        }
        if !stranded.is_empty() {
            requeue_stranded(hub, db, &c.device_id, stranded).await?;
        }
    }
    Ok(more)
}

/// Claimed for a connection that closed or was replaced before the frames went out: back to
/// the queue (unless a phone acknowledged one meanwhile, which the update checks).
async fn requeue_stranded(hub: &Hub, db: &Db, device_id: &str, ids: Vec<String>) -> Result<(), StoreError> {
    let device = device_id.to_owned();
    db.write(move |conn| {
        queries::requeue_claimed(conn, &device, &ids, "connection replaced during dispatch").map_err(StoreError::from)
    })
    .await?;
    hub.wake_local();
    Ok(())
}

fn send_frame(m: &Message) -> SendMessage {
    SendMessage {
        request_id: m.id.clone(),
        to: m.to_number.clone(),
        body: m.body.clone(),
        sim: m.sim.and_then(|s| u8::try_from(s).ok()),
        parts: u32::try_from(m.segments).unwrap_or(1),
        expires_at: Timestamp(m.expires_at).rfc3339(),
    }
}

async fn expire(hub: &Hub, db: &Db) {
    let due = db.write(|conn| queries::expire_due(conn).map_err(StoreError::from)).await;
    match due {
        Ok(due) => {
            for (id, device) in due {
                if let Some(device) = device {
                    hub.send(&device, ServerFrame::Revoke { request_id: id, reason: "expired".into() });
                    hub.finished(&device);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "expiry sweep failed"),
    }
}
