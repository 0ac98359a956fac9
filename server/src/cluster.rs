//! Several server instances on one database (a lone SQLite server is the case of one).
//!
//! Each instance has an id and writes `server_instances.seen_at` every [`BEAT`]. From that:
//! - rate limits are shared out: with N live instances each one enforces 1/N of a key's quota;
//! - a device held by an instance that stopped beating (killed, or its machine gone) is taken
//!   offline by whichever live instance notices first, and what the phone held unacknowledged
//!   goes back to the queue, to be sent once the phone reconnects (to any instance);
//! - a device an instance still holds after its connection's cleanup failed is taken offline
//!   by that instance at its next beat, the same way.
//!
//! On PostgreSQL, work queued on one instance wakes the dispatchers of all of them through
//! `LISTEN`/`NOTIFY`, so a message accepted by instance B reaches a phone connected to
//! instance A at once rather than at A's next poll.

use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{devices, server_instances};
use crate::db::{Backend, Db, DbConnection, StoreError};
use crate::link::Hub;
use crate::messages::queries as messages;
use crate::ratelimit::RateLimits;
use crate::time;
use crate::webhooks::{self, EventType};

/// How often an instance says it is alive.
pub const BEAT: Duration = Duration::from_secs(5);
/// Silence after which an instance counts as dead: several beats, so a slow database or a
/// long pause does not take a live instance's phones away.
const DEAD_AFTER: Duration = Duration::from_secs(20);
/// Rows of instances dead this long are deleted.
const FORGET_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The `NOTIFY` channel that says "work was queued".
const CHANNEL: &str = "relay_work";

/// This process's id among the instances sharing the database.
#[derive(Debug, Clone)]
pub struct InstanceId(Arc<str>);

impl Default for InstanceId {
    fn default() -> Self {
        InstanceId(format!("ins_{}", ulid::Ulid::new()).into())
    }
}

impl InstanceId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Registers this instance before it serves: a phone connecting to it at once must not be
/// taken for a dead instance's by another one.
pub async fn register(hub: &Hub, db: &Db) -> Result<(), StoreError> {
    let me = hub.instance().clone();
    let beat = db.write(move |conn| beat(conn, me.as_str())).await?;
    crate::metrics::METRICS.set_instances(beat.live);
    hub.set_alone(beat.live <= 1);
    Ok(())
}

/// Beats, counts the live instances, frees the phones of dead ones and its own strays. Runs
/// until the process ends.
pub async fn run(hub: Arc<Hub>, db: Db, limits: Arc<RateLimits>) {
    let mut tick = tokio::time::interval(BEAT);
    loop {
        tick.tick().await;
        let me = hub.instance().clone();
        let beat = db.write(move |conn| beat(conn, me.as_str())).await;
        match beat {
            Ok(Beat { live, freed }) => {
                limits.set_instances(live);
                crate::metrics::METRICS.set_instances(live);
                hub.set_alone(live <= 1);
                if freed > 0 {
                    tracing::warn!(devices = freed, "devices of a dead server instance taken offline");
                    hub.wake();
                }
            }
            Err(e) => tracing::warn!(error = %e, "could not record this instance's heartbeat"),
        }
        match release_strays(&hub, &db).await {
            Ok(0) => {}
            Ok(n) => {
                tracing::warn!(devices = n, "devices whose connection's cleanup had failed taken offline");
                hub.wake();
            }
            Err(e) => tracing::warn!(error = %e, "could not check this instance's devices"),
        }
    }
}

/// Leaves the cluster as this instance stops, once its phones' sessions have closed: takes
/// offline any device it still holds and deletes its own row. The instances that stay then
/// count it out at their next beat, not [`DEAD_AFTER`] later: until then each would still
/// enforce half a key's quota and `NOTIFY` an instance that is gone (a stop and a start, as
/// in a rolling restart, left a lone instance doing both for 20 s).
pub async fn leave(hub: &Arc<Hub>, db: &Db) {
    if let Err(e) = release_strays(hub, db).await {
        tracing::warn!(error = %e, "could not take this instance's devices offline as it stops");
    }
    let me = hub.instance().clone();
    let left = db
        .write(move |conn| {
            diesel::delete(server_instances::table.find(me.as_str())).execute(conn).map_err(StoreError::from)
        })
        .await;
    if let Err(e) = left {
        tracing::warn!(error = %e, "could not remove this instance from the cluster; the others count it out in 20 s");
    }
}

/// Takes offline the devices this instance holds in the database but has no connection of:
/// the cleanup of their last connection failed (PostgreSQL may fail a transaction to break a
/// deadlock, or the database may be unreachable for a moment). Until then the device would
/// count as online and what it never acknowledged would wait for the phone to reconnect, or
/// for ever if it does not. Each goes as the cleanup would have taken it ([`take_offline`],
/// which decides under the device's row lock: a connection being set up is registered here
/// before it holds the device, so it is never taken for a stray).
async fn release_strays(hub: &Arc<Hub>, db: &Db) -> Result<usize, StoreError> {
    let me = hub.instance().clone();
    let held: Vec<(String, String, String)> = db
        .run(move |conn| {
            devices::table
                .filter(devices::connected_instance.eq(me.as_str()))
                .select((devices::id, devices::account_id, devices::name))
                .load(conn)
                .map_err(StoreError::from)
        })
        .await?;
    let mut freed = 0;
    for (id, account_id, name) in held.into_iter().filter(|(id, ..)| !hub.is_online(id)) {
        let (me, hub) = (hub.instance().clone(), hub.clone());
        let key = id.clone();
        let requeued = db
            .write_for_device(&key, move |conn| take_offline(conn, &id, &account_id, &name, &me, || hub.is_online(&id)))
            .await?;
        if let Some(requeued) = requeued {
            tracing::warn!(device_id = %key, requeued, "a device left held by a failed cleanup taken offline");
            freed += 1;
        }
    }
    Ok(freed)
}

/// Takes a device this instance holds offline, unless the phone reconnected (see
/// [`release`]): records `device.offline` and re-queues what the phone never acknowledged.
/// The number re-queued, or `None` when the device was left as it was.
pub fn take_offline(
    conn: &mut DbConnection,
    device_id: &str,
    account_id: &str,
    name: &str,
    me: &InstanceId,
    reconnected: impl FnOnce() -> bool,
) -> Result<Option<usize>, StoreError> {
    if !release(conn, device_id, me, reconnected)? {
        return Ok(None);
    }
    webhooks::record(conn, account_id, EventType::DeviceOffline, |_| Ok(device_data(device_id, name, false)))?;
    Ok(Some(messages::requeue_unacknowledged(conn, device_id, "device disconnected")?))
}

/// A device event's data.
pub fn device_data(device_id: &str, name: &str, online: bool) -> serde_json::Value {
    serde_json::json!({"device_id": device_id, "device_name": name, "online": online})
}

#[derive(Debug)]
struct Beat {
    live: u32,
    freed: usize,
}

fn beat(conn: &mut DbConnection, me: &str) -> Result<Beat, StoreError> {
    let now = time::now();
    let seen = diesel::update(server_instances::table.find(me)).set(server_instances::seen_at.eq(now)).execute(conn)?;
    if seen == 0 {
        diesel::insert_into(server_instances::table)
            .values((
                server_instances::id.eq(me),
                server_instances::started_at.eq(now),
                server_instances::seen_at.eq(now),
            ))
            .execute(conn)?;
    }
    let alive_since = now - span(DEAD_AFTER);
    let live: Vec<String> = server_instances::table
        .filter(server_instances::seen_at.ge(alive_since))
        .select(server_instances::id)
        .load(conn)?;
    let orphans: Vec<(String, String, String)> = devices::table
        .filter(devices::online.eq(true))
        .filter(devices::connected_instance.is_not_null())
        .filter(devices::connected_instance.ne_all(&live))
        .select((devices::id, devices::account_id, devices::name))
        .load(conn)?;
    for (id, account_id, name) in &orphans {
        wait_for_claims(conn, id)?;
        diesel::update(devices::table.find(id))
            .set((devices::online.eq(false), devices::connected_instance.eq(None::<String>)))
            .execute(conn)?;
        webhooks::record(conn, account_id, EventType::DeviceOffline, |_| Ok(device_data(id, name, false)))?;
        messages::requeue_unacknowledged(conn, id, "server instance lost")?;
    }
    diesel::delete(server_instances::table.filter(server_instances::seen_at.lt(now - span(FORGET_AFTER))))
        .execute(conn)?;
    Ok(Beat { live: u32::try_from(live.len()).unwrap_or(u32::MAX), freed: orphans.len() })
}

fn span(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Marks the device online and held by this instance.
pub fn hold(conn: &mut DbConnection, device_id: &str, me: &InstanceId) -> QueryResult<()> {
    wait_for_claims(conn, device_id)?;
    diesel::update(devices::table.find(device_id))
        .set((
            devices::online.eq(true),
            devices::connected_instance.eq(me.as_str()),
            devices::last_seen_at.eq(time::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Marks the device offline if this instance still holds it and no newer connection of the
/// phone is here (`reconnected`, asked once the device row is locked: a newer connection that
/// had not been registered by then holds the device after this). False when the phone
/// reconnected, here or through the load balancer to another instance: then its messages are
/// the newer connection's to settle.
pub fn release(
    conn: &mut DbConnection,
    device_id: &str,
    me: &InstanceId,
    reconnected: impl FnOnce() -> bool,
) -> QueryResult<bool> {
    wait_for_claims(conn, device_id)?;
    if reconnected() {
        return Ok(false);
    }
    let now: NaiveDateTime = time::now();
    let n = diesel::update(devices::table.find(device_id))
        .filter(devices::connected_instance.eq(me.as_str()))
        .set((devices::online.eq(false), devices::connected_instance.eq(None::<String>), devices::last_seen_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Locks the device row `FOR UPDATE` (PostgreSQL), so a claim for the phone that has begun
/// (it holds the row `FOR KEY SHARE`) commits first and what it handed over is then settled
/// here, and no claim begins until this transaction ends. A plain update of the row would not
/// wait: it does not conflict with `FOR KEY SHARE`, which is what lets heartbeats and reports
/// pass claims.
fn wait_for_claims(conn: &mut DbConnection, device_id: &str) -> QueryResult<()> {
    if let DbConnection::Postgres(c) = conn {
        devices::table.find(device_id).select(devices::id).for_update().first::<String>(c).optional()?;
    }
    Ok(())
}

/// Tells the other instances when this one queued work, and wakes this one when they did.
/// Nothing to do on SQLite, which one instance owns.
pub fn start_signals(hub: Arc<Hub>, db: Db) {
    if db.backend() != Backend::Postgres {
        return;
    }
    tokio::spawn(announce(hub.clone(), db.clone()));
    let url = db.url().to_owned();
    let spawned = std::thread::Builder::new().name("relay-listen".into()).spawn(move || listen(&url, &hub));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the PostgreSQL listener; other instances' work waits for the poll");
    }
}

/// One `NOTIFY` per burst of wakes: while one is on its way, further wakes fold into the next.
/// None while this instance is alone on the database (a statement, and a transaction, per
/// burst for no listener). An instance that joins is seen at the next heartbeat, within
/// [`BEAT`]; until then its dispatcher finds this one's work at its own poll, within 500 ms.
async fn announce(hub: Arc<Hub>, db: Db) {
    loop {
        hub.announced().await;
        if hub.alone() {
            continue;
        }
        let sent =
            db.run(|conn| diesel::sql_query(format!("NOTIFY {CHANNEL}")).execute(conn).map_err(StoreError::from)).await;
        if let Err(e) = sent {
            tracing::debug!(error = %e, "could not notify the other instances");
        }
    }
}

/// A connection of its own that listens, polled every few milliseconds (libpq's notifications
/// arrive with any read; diesel offers no blocking wait). Reconnects after a database outage.
fn listen(url: &str, hub: &Hub) {
    use diesel::pg::PgConnection;
    const POLL: Duration = Duration::from_millis(5);
    loop {
        let mut conn = match PgConnection::establish(url) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(error = %e, "the listener cannot connect yet");
                std::thread::sleep(Duration::from_secs(1));
                continue;
            }
        };
        if let Err(e) = diesel::sql_query(format!("LISTEN {CHANNEL}")).execute(&mut conn) {
            tracing::debug!(error = %e, "LISTEN failed");
            std::thread::sleep(Duration::from_secs(1));
            continue;
        }
        // Work queued while the listener was away is found by the dispatcher's poll.
        hub.wake_local();
        'poll: loop {
            let mut woken = false;
            for n in conn.notifications_iter() {
                match n {
                    Ok(_) => woken = true,
                    Err(e) => {
                        tracing::debug!(error = %e, "the listener lost its connection");
                        break 'poll;
                    }
                }
            }
            if woken {
                hub.wake_local();
            }
            std::thread::sleep(POLL);
        }
    }
}
