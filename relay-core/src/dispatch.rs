//! Hands confirmed messages to the SMS transport, oldest first, within the pacing budget.
//!
//! It runs whether or not the link is up: a confirmed message belongs to this phone, and its
//! outcome waits durably in the outbox until the server can hear it.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::clock;
use crate::events::MessageEventKind;
use crate::pacing::{self, DAY_MS, MINUTE_MS};
use crate::shared::{Shared, sleep_or_forever, stopped};
use crate::store::{StoreError, StoredMessage};
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

fn step(shared: &Shared) -> Result<Next, StoreError> {
    let Some(msg) = shared.store.next_confirmed()? else {
        return Ok(Next::Idle);
    };
    let now = clock::now_ms();
    if clock::is_expired(&msg.expires_at, now) {
        if shared.store.expire(&msg.request_id, &clock::rfc3339_now(), now)? {
            tracing::info!(request_id = %msg.request_id, expires_at = %msg.expires_at, "expired before sending");
            shared.events.message(&msg.request_id, MessageEventKind::Expired);
            shared.outbox_wake().notify_one();
        }
        return Ok(Next::Again);
    }
    if let Some(wait) = pacing_wait(shared, now, msg.parts)? {
        return Ok(Next::Wait(wait));
    }
    // The conditional update is the never-twice guarantee: only the winner calls the transport.
    if shared.store.hand_over(&msg.request_id, now)? {
        tracing::info!(request_id = %msg.request_id, parts = msg.parts, "handing over to the transport");
        shared.events.message(&msg.request_id, MessageEventKind::HandedOver);
        let sink = shared.sink(&msg.request_id);
        shared.transport.send(outgoing(msg), sink);
    }
    Ok(Next::Again)
}

fn pacing_wait(shared: &Shared, now: i64, parts: u32) -> Result<Option<Duration>, StoreError> {
    let pacing = shared.pacing();
    // Each list is read only when its limit is on: an unlimited phone reads nothing per message.
    let last_minute =
        if pacing.parts_per_minute != 0 { shared.store.hand_overs_since(now - MINUTE_MS)? } else { Vec::new() };
    // The day's list can be long: read it only when the day budget is actually in play.
    let last_day = if pacing.parts_per_day != 0
        && u64::from(shared.store.parts_since(now - DAY_MS)?) + u64::from(parts) > u64::from(pacing.parts_per_day)
    {
        shared.store.hand_overs_since(now - DAY_MS)?
    } else {
        Vec::new()
    };
    Ok(pacing::wait_before(pacing, now, &last_minute, &last_day, parts))
}

fn outgoing(msg: StoredMessage) -> OutgoingSms {
    OutgoingSms { request_id: msg.request_id, to: msg.to, body: msg.body, sim: msg.sim, parts: msg.parts }
}
