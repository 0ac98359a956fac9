//! Which phones this server holds a live connection to, and how much more each may take.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use relay_protocol::frames::{Pacing, ServerFrame};
use tokio::sync::{Notify, mpsc};

use super::pacing::Pacer;

/// One live connection.
#[derive(Debug)]
struct Link {
    conn_id: u64,
    account_id: String,
    /// Frames boxed: the channel stores its items in blocks of 32 slots, kept for reuse,
    /// and a `send` frame inline is over a hundred bytes. Boxed, a link's channel holds a
    /// few hundred bytes of slots instead of several KiB (measured with heaptrack: 3.4 KiB per
    /// block, and a busy link keeps two).
    tx: mpsc::UnboundedSender<Box<ServerFrame>>,
    /// Handed over and not yet reported sent or failed.
    in_flight: u32,
    window: u32,
    usable: bool,
    pacer: Pacer,
    /// When the dispatcher last handed it a message: among equally loaded devices the one
    /// that waited longest goes first, so a burst does not always land on the same phone.
    last_handed: Option<Instant>,
    /// Set up: the dispatcher may give it work.
    active: bool,
    /// Whether usability or pacing was set since the connection registered: such a change is
    /// newer than the device row its set-up read (see [`Hub::activate`]).
    usable_set: bool,
    pacing_set: bool,
}

/// A device the dispatcher may give work to now, and how much.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub device_id: String,
    /// The connection the room was counted on.
    pub conn_id: u64,
    pub account_id: String,
    /// How many messages (at most) to claim for it now.
    pub room: u32,
    pub in_flight: u32,
    last_handed: Option<Instant>,
}

#[derive(Debug, Default)]
pub struct Hub {
    links: Mutex<HashMap<String, Link>>,
    next_conn: Mutex<u64>,
    wake: Notify,
    /// Raised with `wake` when new work may be queued: the cluster tells the other instances.
    announce: Notify,
    closing: std::sync::atomic::AtomicBool,
    instance: crate::cluster::InstanceId,
    /// The last heartbeat found no other live instance: no one to announce work to.
    alone: std::sync::atomic::AtomicBool,
}

/// What setting a connection up found in the database (see [`Hub::activate`]).
pub struct Settled {
    /// Handed over and not yet reported sent or failed.
    pub in_flight: u32,
    /// Parts handed to the device today: the daily cap survives reconnects.
    pub sent_today: u32,
    /// The device row as read inside the set-up transaction.
    pub usable: bool,
    pub pacing: Pacing,
}

impl Hub {
    /// Registers a connection, replacing (and so closing) an older one of the same device. It
    /// gets no work until [`Hub::activate`]: the session first settles what the phone's last
    /// connection left, and while it does, the older connection's cleanup sees that a newer
    /// one exists and leaves the device online. Returns the connection id and the stream of
    /// frames to write to the socket.
    pub fn register(
        &self,
        device_id: &str,
        account_id: &str,
        window: u32,
    ) -> (u64, mpsc::UnboundedReceiver<Box<ServerFrame>>) {
        let conn_id = {
            let mut n = self.next_conn.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let link = Link {
            conn_id,
            account_id: account_id.to_owned(),
            tx,
            in_flight: 0,
            window,
            // Until activated, settings only record what an operator changes meanwhile.
            usable: false,
            pacer: Pacer::new(0, 0, 0),
            last_handed: None,
            active: false,
            usable_set: false,
            pacing_set: false,
        };
        self.lock().insert(device_id.to_owned(), link);
        (conn_id, rx)
    }

    /// The connection is set up: it may take work. An operator's change (pacing, enabled) that
    /// reached the link while it was being set up is newer than the row `s` was read from, and
    /// stays. Nothing happens if the connection was replaced meanwhile.
    pub fn activate(&self, device_id: &str, conn_id: u64, s: Settled) {
        if let Some(l) = self.lock().get_mut(device_id).filter(|l| l.conn_id == conn_id) {
            l.in_flight = s.in_flight;
            l.pacer.seed_today(s.sent_today);
            if !l.usable_set {
                l.usable = s.usable;
            }
            if !l.pacing_set {
                l.pacer.set_limits(s.pacing.parts_per_minute, s.pacing.parts_per_day);
            }
            l.active = true;
        }
        self.wake_local();
    }

    /// Removes the connection if it is still the current one for the device.
    pub fn unregister(&self, device_id: &str, conn_id: u64) -> bool {
        let mut links = self.lock();
        if links.get(device_id).is_some_and(|l| l.conn_id == conn_id) {
            links.remove(device_id);
            true
        } else {
            false
        }
    }

    /// Drops the device's connection (unpairing): its session sees the channel close.
    pub fn disconnect(&self, device_id: &str) {
        self.lock().remove(device_id);
    }

    /// Shutdown: ends every session (each closes its socket and records the device offline),
    /// so graceful shutdown does not wait on long-lived WebSockets.
    pub fn close_all(&self) {
        self.closing.store(true, std::sync::atomic::Ordering::SeqCst);
        self.lock().clear();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// This server instance, as the devices it holds are marked in the database.
    pub fn instance(&self) -> &crate::cluster::InstanceId {
        &self.instance
    }

    /// Phones connected now.
    pub fn online_count(&self) -> usize {
        self.lock().len()
    }

    pub fn is_online(&self, device_id: &str) -> bool {
        self.lock().contains_key(device_id)
    }

    /// Sends a frame to the device if it is connected here.
    pub fn send(&self, device_id: &str, frame: ServerFrame) -> bool {
        self.lock().get(device_id).is_some_and(|l| l.tx.send(Box::new(frame)).is_ok())
    }

    /// Sends a claimed message to the connection it was claimed for, and counts it in flight
    /// there. False when that connection closed or was replaced meanwhile: a newer one
    /// re-queued what it found unacknowledged when it registered, but not a claim that
    /// committed after that, and counting this message against the newer connection would
    /// hold its room forever. The caller re-queues it.
    pub fn hand(&self, device_id: &str, conn_id: u64, frame: ServerFrame, parts: u32) -> bool {
        let mut links = self.lock();
        let Some(l) = links.get_mut(device_id).filter(|l| l.conn_id == conn_id) else { return false };
        if l.tx.send(Box::new(frame)).is_err() {
            return false;
        }
        let now = Instant::now();
        l.in_flight += 1;
        l.pacer.spend(now, parts);
        l.last_handed = Some(now);
        true
    }

    /// A message left the phone's hands (reported, revoked or re-queued): room for another.
    pub fn finished(&self, device_id: &str) {
        if let Some(l) = self.lock().get_mut(device_id) {
            l.in_flight = l.in_flight.saturating_sub(1);
        }
        self.wake_local();
    }

    pub fn set_usable(&self, device_id: &str, usable: bool) {
        if let Some(l) = self.lock().get_mut(device_id) {
            l.usable = usable;
            l.usable_set = true;
        }
        self.wake_local();
    }

    pub fn set_pacing(&self, device_id: &str, per_minute: u32, per_day: u32) {
        if let Some(l) = self.lock().get_mut(device_id) {
            l.pacer.set_limits(per_minute, per_day);
            l.pacing_set = true;
        }
        self.wake_local();
    }

    /// Devices that can take work now, least loaded first; ties go to the one that waited
    /// longest.
    pub fn candidates(&self) -> Vec<Candidate> {
        let now = Instant::now();
        let mut out: Vec<Candidate> = self
            .lock()
            .iter_mut()
            .filter(|(_, l)| l.active && l.usable)
            .filter_map(|(id, l)| {
                let room = l.window.saturating_sub(l.in_flight).min(l.pacer.budget(now));
                (room > 0).then(|| Candidate {
                    device_id: id.clone(),
                    conn_id: l.conn_id,
                    account_id: l.account_id.clone(),
                    room,
                    in_flight: l.in_flight,
                    last_handed: l.last_handed,
                })
            })
            .collect();
        // `None` (never handed anything) sorts before any time.
        out.sort_by_key(|c| (c.in_flight, c.last_handed));
        out
    }

    /// Work was queued (or re-queued): wakes this instance's dispatcher and, through the
    /// cluster, every other instance's.
    pub fn wake(&self) {
        self.wake.notify_one();
        self.announce.notify_one();
    }

    /// Wakes only this instance's dispatcher (room opened on a phone connected here, or
    /// another instance announced work).
    pub fn wake_local(&self) {
        self.wake.notify_one();
    }

    /// Whether this instance is the only live one on the database, as its last heartbeat
    /// found (until the first, it assumes it is not).
    pub fn alone(&self) -> bool {
        self.alone.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn set_alone(&self, alone: bool) {
        self.alone.store(alone, std::sync::atomic::Ordering::Relaxed);
    }

    /// Resolves when `wake` was called since the last time.
    pub async fn announced(&self) {
        self.announce.notified().await;
    }

    pub async fn woken(&self) {
        self.wake.notified().await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Link>> {
        // A panic while holding the lock leaves a consistent map (every update is one step).
        self.links.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settled(usable: bool, parts_per_minute: u32) -> Settled {
        Settled { in_flight: 0, sent_today: 0, usable, pacing: Pacing { parts_per_minute, parts_per_day: 0 } }
    }

    fn register(hub: &Hub) -> u64 {
        // The frame stream is dropped: these tests look only at what the dispatcher is offered.
        hub.register("dev_1", "acc_1", 64).0
    }

    fn room(hub: &Hub) -> Option<u32> {
        hub.candidates().first().map(|c| c.room)
    }

    #[test]
    fn a_connection_takes_work_only_once_set_up_and_with_the_row_it_read() {
        let hub = Hub::default();
        // The operator lifted the limit before the link existed: the hub could not apply it.
        hub.set_pacing("dev_1", 0, 0);
        let conn_id = register(&hub);
        assert_eq!(room(&hub), None, "still being set up");
        assert!(hub.is_online("dev_1"), "an older connection's cleanup must see this one");
        hub.activate("dev_1", conn_id, settled(true, 0));
        assert_eq!(room(&hub), Some(64));
    }

    #[test]
    fn a_change_made_during_set_up_outranks_the_row_it_read() {
        let hub = Hub::default();
        let conn_id = register(&hub);
        hub.set_pacing("dev_1", 10, 0);
        // The row was read before that change committed; its usability still applies.
        hub.activate("dev_1", conn_id, settled(true, 25));
        assert_eq!(room(&hub), Some(10));

        let conn_id = register(&hub);
        hub.set_usable("dev_1", false);
        hub.activate("dev_1", conn_id, settled(true, 25));
        assert_eq!(room(&hub), None);
    }

    #[test]
    fn only_the_current_connection_is_activated() {
        let hub = Hub::default();
        let old = register(&hub);
        let _new = register(&hub);
        hub.activate("dev_1", old, settled(true, 25));
        assert_eq!(room(&hub), None);
    }
}
