//! Hands confirmed messages to the SMS transport, oldest first, within the pacing budget.
//!
//! It runs whether or not the link is up: a confirmed message belongs to this phone, and its
//! outcome waits durably in the outbox until the server can hear it.

use std::sync::Arc;
use std::time::Duration;

use relay_protocol::frames::Pacing;
use tokio::sync::watch;

use crate::clock;
use crate::events::MessageEventKind;
use crate::pacing::{self, DAY_MS, MINUTE_MS};
use crate::shared::{Shared, sleep_or_forever, stopped};
use crate::store::{HandOverRecord, StoreError, StoredMessage};
use crate::transport::OutgoingSms;

/// After a store error, try again after this long rather than spin.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

enum Next {
    /// Something happened; look again at once.
    Again,
    /// Nothing confirmed: sleep until woken.
    Idle,
    /// The pacing budget is spent for this long.
    Wait(Duration),
}

pub(crate) async fn run(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    recover_handed_over(&shared);
    loop {
        if *stop.borrow() {
            return;
        }
        let wait = match step(&shared) {
            Ok(Next::Again) => continue,
            Ok(Next::Idle) => None,
            Ok(Next::Wait(d)) => {
                tracing::debug!(wait_ms = d.as_millis(), "pacing: holding messages back");
                Some(d)
            }
            Err(e) => {
                tracing::error!(error = %e, "dispatcher could not read the store");
                Some(ERROR_PAUSE)
            }
        };
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = shared.dispatch_wake.notified() => {}
            _ = sleep_or_forever(wait) => {}
        }
    }
}

/// Messages handed over before a restart are never sent again; the transport is asked to
/// report what it knows about them instead.
fn recover_handed_over(shared: &Shared) {
    match shared.store.handed_over() {
        Ok(messages) => {
            for msg in messages {
                tracing::info!(request_id = %msg.request_id, last = ?msg.last_reported, "recovering a handed-over message");
                let last = msg.last_reported;
                let sink = shared.sink(&msg.request_id);
                shared.transport.recover(outgoing(msg), last, sink);
            }
        }
        Err(e) => tracing::error!(error = %e, "could not list handed-over messages to recover"),
    }
}

/// Confirmed messages handed over per pass, in one transaction: a burst of confirms costs
/// one fsync instead of one per message.
const HAND_OVER_BATCH: u32 = 32;

fn step(shared: &Shared) -> Result<Next, StoreError> {
    let confirmed = shared.store.next_confirmed(HAND_OVER_BATCH)?;
    if confirmed.is_empty() {
        return Ok(Next::Idle);
    }
    let now = clock::now_ms();
    let mut budget = Budget::load(shared, now)?;
    let mut ready = Vec::with_capacity(confirmed.len());
    let mut held = None;
    for msg in confirmed {
        if clock::is_expired(&msg.expires_at, now) {
            expire(shared, &msg, now)?;
            continue;
        }
        // Oldest first: once one message must wait, the younger ones wait behind it.
        if let Some(wait) = budget.wait(shared, now, msg.parts)? {
            held = Some(wait);
            break;
        }
        budget.take(now, msg.parts);
        ready.push(msg);
    }
    if ready.is_empty() {
        return Ok(held.map_or(Next::Again, Next::Wait));
    }
    let ids: Vec<&str> = ready.iter().map(|m| m.request_id.as_str()).collect();
    // The conditional update is the never-twice guarantee: only the winner calls the transport.
    let won = shared.store.hand_over(&ids, now)?;
    for (msg, won) in ready.into_iter().zip(won) {
        if won {
            tracing::info!(request_id = %msg.request_id, parts = msg.parts, "handing over to the transport");
            shared.events.message(&msg.request_id, MessageEventKind::HandedOver);
            let sink = shared.sink(&msg.request_id);
            shared.transport.send(outgoing(msg), sink);
        }
    }
    Ok(Next::Again)
}

fn expire(shared: &Shared, msg: &StoredMessage, now: i64) -> Result<(), StoreError> {
    if shared.store.expire(&msg.request_id, &clock::rfc3339_now(), now)? {
        tracing::info!(request_id = %msg.request_id, expires_at = %msg.expires_at, "expired before sending");
        shared.events.message(&msg.request_id, MessageEventKind::Expired);
        shared.outbox_wake().notify_one();
    }
    Ok(())
}

/// The pacing budget over one pass: the recent hand-overs, and those the pass takes.
struct Budget {
    pacing: Pacing,
    last_minute: Vec<HandOverRecord>,
    /// Read only when the day budget is actually in play: the day's list can be long.
    last_day: Option<Vec<HandOverRecord>>,
    parts_today: u64,
    taken: Vec<HandOverRecord>,
}

impl Budget {
    fn load(shared: &Shared, now: i64) -> Result<Self, StoreError> {
        let pacing = shared.pacing();
        // Each list is read only when its limit is on: an unlimited phone reads nothing.
        let last_minute =
            if pacing.parts_per_minute != 0 { shared.store.hand_overs_since(now - MINUTE_MS)? } else { Vec::new() };
        let parts_today =
            if pacing.parts_per_day != 0 { u64::from(shared.store.parts_since(now - DAY_MS)?) } else { 0 };
        Ok(Budget { pacing, last_minute, last_day: None, parts_today, taken: Vec::new() })
    }

    /// How long `parts` more must wait, counting what this pass already took.
    fn wait(&mut self, shared: &Shared, now: i64, parts: u32) -> Result<Option<Duration>, StoreError> {
        let day_in_play = self.pacing.parts_per_day != 0
            && self.parts_today + u64::from(parts) > u64::from(self.pacing.parts_per_day);
        if day_in_play && self.last_day.is_none() {
            let mut day = shared.store.hand_overs_since(now - DAY_MS)?;
            day.extend(self.taken.iter().copied());
            self.last_day = Some(day);
        }
        let last_day = self.last_day.as_deref().unwrap_or_default();
        Ok(pacing::wait_before(self.pacing, now, &self.last_minute, last_day, parts))
    }

    fn take(&mut self, now: i64, parts: u32) {
        let record = HandOverRecord { at_ms: now, parts };
        if self.pacing.parts_per_minute != 0 {
            self.last_minute.push(record);
        }
        if let Some(day) = &mut self.last_day {
            day.push(record);
        }
        self.parts_today += u64::from(parts);
        self.taken.push(record);
    }
}

fn outgoing(msg: StoredMessage) -> OutgoingSms {
    OutgoingSms { request_id: msg.request_id, to: msg.to, body: msg.body, sim: msg.sim, parts: msg.parts }
}
