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
    let mut stranded = Stranded::default();
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
            match round(&hub, &db, &mut stranded).await {
                Ok(true) => continue,
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "dispatch round failed; retrying shortly");
                    break;
                }
            }
        }
        // Once per pass, so that a write the database refused is tried again at the next.
        stranded.requeue(&hub, &db).await;
    }
}

/// One pass over the devices that have room, every claim in one writer job; what could not
/// be handed out is left in `stranded`. Returns whether some phone got as many messages as it
/// asked for, so that more may be waiting.
async fn round(hub: &Hub, db: &Db, stranded: &mut Stranded) -> Result<bool, StoreError> {
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
    // Every device's claims go out before any re-queue is written (by the caller): a failed
    // write must not keep the other devices' messages from their phones.
    for (c, messages) in candidates.iter().zip(claimed) {
        let mut lost = Vec::new();
        for m in messages {
            let parts = u32::try_from(m.segments).unwrap_or(1);
            if hub.hand(&c.device_id, c.conn_id, ServerFrame::Send(send_frame(&m)), parts) {
                let waited = (crate::time::now() - m.queued_at).num_microseconds().unwrap_or(i64::MAX);
                METRICS.dispatched(waited as f64 / 1e6);
            } else {
                tracing::debug!(device_id = %c.device_id, request_id = %m.id, "connection replaced during dispatch");
                lost.push(m.id);
            }
        }
        if !lost.is_empty() {
            stranded.0.push((c.device_id.clone(), lost));
        }
    }
    Ok(more)
}

/// Messages claimed for a connection that closed or was replaced before their frames went
/// out, per device, not yet back in the queue. A newer connection of the device re-queued
/// what it found unacknowledged when it registered, before these claims committed: nothing
/// else would ever re-queue them while it stays up, so a failed write is retried.
#[derive(Default)]
struct Stranded(Vec<(String, Vec<String>)>);

impl Stranded {
    /// Puts them back in the queue (unless a phone acknowledged one meanwhile, which the
    /// update checks); keeps those whose write failed for the dispatcher's next pass.
    async fn requeue(&mut self, hub: &Hub, db: &Db) {
        for (device_id, ids) in std::mem::take(&mut self.0) {
            let (device, claimed) = (device_id.clone(), ids.clone());
            let written = db
                .write(move |conn| {
                    queries::requeue_claimed(conn, &device, &claimed, "connection replaced during dispatch")
                        .map_err(StoreError::from)
                })
                .await;
            match written {
                Ok(_) => hub.wake_local(),
                Err(e) => {
                    tracing::warn!(%device_id, messages = ids.len(), error = %e,
                        "could not re-queue messages claimed for a replaced connection; retrying");
                    self.0.push((device_id, ids));
                }
            }
        }
    }
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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use relay_protocol::frames::{Pacing, ServerFrame};

    use super::{Stranded, round};
    use crate::db::Db;
    use crate::link::Hub;
    use crate::link::hub::Settled;

    fn settled(in_flight: u32) -> Settled {
        Settled { in_flight, sent_today: 0, usable: true, pacing: Pacing { parts_per_minute: 0, parts_per_day: 0 } }
    }

    fn status(db: &Db, id: &str) -> String {
        use crate::db::schema::messages;
        use diesel::prelude::*;
        let mut conn = db.conn().unwrap();
        messages::table.find(id).select(messages::status).first(&mut *conn).unwrap()
    }

    /// One round claims a message for each of two phones. Phone A's frame stream is gone (its
    /// connection was replaced), so its message is stranded; phone B still gets its own. Putting
    /// A's back in the queue fails, and it stays stranded until a later pass, once the database
    /// takes the write.
    #[tokio::test]
    async fn a_failed_requeue_holds_back_no_other_phone_and_is_retried() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("relay.db").to_string_lossy()).unwrap();
        let hub = Hub::default();
        let (a, a_frames) = hub.register("dev_a", "acc_1", 64);
        drop(a_frames);
        let (b, mut b_frames) = hub.register("dev_b", "acc_1", 64);
        // A has less in flight, so the round comes to it first.
        hub.activate("dev_a", a, settled(0));
        hub.activate("dev_b", b, settled(1));
        let me = hub.instance().as_str();
        let message = |id: &str, device: &str| {
            format!(
                "INSERT INTO messages (id, account_id, to_number, body, priority, status, requested_device_id, \
                 encoding, segments, expires_at, queued_at, updated_at) VALUES ('{id}', 'acc_1', '+15550100', 'Hi', 1, \
                 'queued', '{device}', 'gsm7', 1, '2099-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00');"
            )
        };
        let mut conn = db.conn().unwrap();
        conn.batch_execute(&format!(
            "INSERT INTO accounts (id, name, email, plan, expires_at, created_at, updated_at)
                 VALUES ('acc_1', 'A', 'a@example.com', 'unlimited', '2099-01-01 00:00:00', '2026-01-01 00:00:00', '2026-01-01 00:00:00');
             INSERT INTO devices (id, account_id, name, online, connected_instance, created_at)
                 VALUES ('dev_a', 'acc_1', 'A', TRUE, '{me}', '2026-01-01 00:00:00'),
                        ('dev_b', 'acc_1', 'B', TRUE, '{me}', '2026-01-01 00:00:00');
             {}{}
             CREATE TABLE requeue_fault (one INTEGER); INSERT INTO requeue_fault VALUES (1);
             CREATE TRIGGER requeue_fault BEFORE UPDATE OF status ON messages
             WHEN OLD.status = 'dispatched' AND NEW.status = 'queued' AND EXISTS (SELECT 1 FROM requeue_fault)
             BEGIN SELECT RAISE(ABORT, 'injected fault'); END;",
            message("req_a", "dev_a"),
            message("req_b", "dev_b"),
        ))
        .unwrap();
        drop(conn);

        let mut stranded = Stranded::default();
        round(&hub, &db, &mut stranded).await.unwrap();
        match *b_frames.try_recv().expect("phone B was not handed its message") {
            ServerFrame::Send(s) => assert_eq!(s.request_id, "req_b"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(stranded.0, vec![("dev_a".to_owned(), vec!["req_a".to_owned()])]);
        stranded.requeue(&hub, &db).await;
        assert_eq!(stranded.0, vec![("dev_a".to_owned(), vec!["req_a".to_owned()])], "a refused write was dropped");
        assert_eq!(status(&db, "req_a"), "dispatched");

        db.conn().unwrap().batch_execute("DELETE FROM requeue_fault;").unwrap();
        stranded.requeue(&hub, &db).await;
        assert!(stranded.0.is_empty(), "still stranded: {:?}", stranded.0);
        assert_eq!(status(&db, "req_a"), "queued");
    }
}
