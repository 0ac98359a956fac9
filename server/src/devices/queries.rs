use chrono::{Duration, NaiveDateTime};
use diesel::dsl::count_star;
use diesel::prelude::*;

use super::models::Device;
use crate::db::schema::{accounts, devices, messages, pairing_codes};
use crate::db::{DbConnection, write_transaction};
use crate::ids::{IdKind, new_id};
use crate::time;

/// How many devices an account has paired, and how many of those are enabled and online.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    pub paired: i64,
    pub online: i64,
    /// Enabled and not degraded: could take work once online.
    pub usable: i64,
}

pub fn counts(conn: &mut DbConnection, account_id: &str) -> QueryResult<DeviceCounts> {
    let paired_q = || devices::table.filter(devices::account_id.eq(account_id)).filter(devices::unpaired_at.is_null());
    let paired = paired_q().select(count_star()).first(conn)?;
    let usable_q = || paired_q().filter(devices::enabled.eq(true)).filter(devices::degraded_at.is_null());
    let usable = usable_q().select(count_star()).first(conn)?;
    let online = usable_q().filter(devices::online.eq(true)).select(count_star()).first(conn)?;
    Ok(DeviceCounts { paired, online, usable })
}

/// Whether new work can be refused for want of a device: some are paired, none is usable.
/// One indexed probe in the usual case (a usable device exists), as every send asks it.
pub fn none_usable(conn: &mut DbConnection, account_id: &str) -> QueryResult<bool> {
    let paired = || devices::table.filter(devices::account_id.eq(account_id)).filter(devices::unpaired_at.is_null());
    let usable: Option<String> = paired()
        .filter(devices::enabled.eq(true))
        .filter(devices::degraded_at.is_null())
        .select(devices::id)
        .first(conn)
        .optional()?;
    if usable.is_some() {
        return Ok(false);
    }
    let any: Option<String> = paired().select(devices::id).first(conn).optional()?;
    Ok(any.is_some())
}

pub const PAIRING_CODE_TTL_MINUTES: i64 = 10;

/// Stores a new pairing code's hash; returns its expiry.
pub fn create_pairing_code(conn: &mut DbConnection, account_id: &str, code_hash: &str) -> QueryResult<NaiveDateTime> {
    let now = time::now();
    let expires_at = now + Duration::minutes(PAIRING_CODE_TTL_MINUTES);
    diesel::insert_into(pairing_codes::table)
        .values((
            pairing_codes::code_hash.eq(code_hash),
            pairing_codes::account_id.eq(account_id),
            pairing_codes::expires_at.eq(expires_at),
            pairing_codes::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(expires_at)
}

#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("This pairing code is not valid: check it, or ask for a new one.")]
    UnknownCode,
    #[error("This pairing code has already been used: ask for a new one.")]
    UsedCode,
    #[error("This pairing code has expired (codes live 10 minutes): ask for a new one.")]
    ExpiredCode,
    #[error("This account has reached its plan's limit of {0} devices: unpair one first.")]
    DeviceLimit(u32),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub struct NewDevice<'a> {
    pub name: &'a str,
    pub model: Option<&'a str>,
    pub app_version: Option<&'a str>,
    pub sims_json: &'a str,
    pub token_hash: &'a str,
}

/// Spends the code and creates the device in one transaction: a code pairs one device, once.
pub fn pair(conn: &mut DbConnection, code_hash: &str, device: &NewDevice<'_>) -> Result<Device, PairError> {
    write_transaction(conn, |conn| {
        let now = time::now();
        let spent = diesel::update(pairing_codes::table.find(code_hash))
            .filter(pairing_codes::used_at.is_null())
            .filter(pairing_codes::expires_at.gt(now))
            .set(pairing_codes::used_at.eq(now))
            .returning(pairing_codes::account_id)
            .get_result::<String>(conn)
            .optional()?;
        let Some(account_id) = spent else {
            let found = pairing_codes::table
                .find(code_hash)
                .select((pairing_codes::used_at, pairing_codes::expires_at))
                .first::<(Option<NaiveDateTime>, NaiveDateTime)>(conn)
                .optional()?;
            return Err(match found {
                None => PairError::UnknownCode,
                Some((Some(_), _)) => PairError::UsedCode,
                Some((None, _)) => PairError::ExpiredCode,
            });
        };
        let plan = accounts::table.find(&account_id).select(accounts::plan).first::<String>(conn)?;
        if let Some(limit) = crate::plans::for_account(&plan).limits.max_devices {
            let paired = counts(conn, &account_id)?.paired;
            if paired >= i64::from(limit) {
                return Err(PairError::DeviceLimit(limit));
            }
        }
        let id = new_id(IdKind::Device);
        diesel::insert_into(devices::table)
            .values((
                devices::id.eq(&id),
                devices::account_id.eq(&account_id),
                devices::name.eq(device.name),
                devices::enabled.eq(true),
                devices::online.eq(false),
                devices::created_at.eq(now),
                devices::token_hash.eq(device.token_hash),
                devices::model.eq(device.model),
                devices::app_version.eq(device.app_version),
                devices::sims.eq(device.sims_json),
            ))
            .execute(conn)?;
        Ok(get(conn, &id)?)
    })
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Device> {
    devices::table.find(id).select(Device::as_select()).first(conn)
}

/// A paired device of this account.
pub fn find_for_account(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<Device>> {
    devices::table
        .find(id)
        .filter(devices::account_id.eq(account_id))
        .filter(devices::unpaired_at.is_null())
        .select(Device::as_select())
        .first(conn)
        .optional()
}

pub fn find_by_token(conn: &mut DbConnection, token_hash: &str) -> QueryResult<Option<Device>> {
    devices::table
        .filter(devices::token_hash.eq(token_hash))
        .filter(devices::unpaired_at.is_null())
        .select(Device::as_select())
        .first(conn)
        .optional()
}

pub fn list(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<Device>> {
    devices::table
        .filter(devices::account_id.eq(account_id))
        .filter(devices::unpaired_at.is_null())
        .order(devices::id.asc())
        .select(Device::as_select())
        .load(conn)
}

/// Messages each device holds that have not reached a final state.
pub fn in_flight(conn: &mut DbConnection, device_ids: &[String]) -> QueryResult<Vec<(String, i64)>> {
    messages::table
        .filter(messages::device_id.eq_any(device_ids))
        .filter(messages::status.eq_any(["dispatched", "sent"]))
        .group_by(messages::device_id)
        .select((messages::device_id.assume_not_null(), count_star()))
        .load(conn)
}

#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = devices)]
pub struct DeviceChanges {
    pub name: Option<String>,
    pub enabled: Option<bool>,
    pub parts_per_minute: Option<i32>,
    pub parts_per_day: Option<i32>,
    pub degraded_at: Option<Option<NaiveDateTime>>,
    pub consecutive_failures: Option<i32>,
}

impl DeviceChanges {
    fn is_empty(&self) -> bool {
        let DeviceChanges { name, enabled, parts_per_minute, parts_per_day, degraded_at, consecutive_failures } = self;
        name.is_none()
            && enabled.is_none()
            && parts_per_minute.is_none()
            && parts_per_day.is_none()
            && degraded_at.is_none()
            && consecutive_failures.is_none()
    }
}

pub fn update(conn: &mut DbConnection, id: &str, changes: &DeviceChanges) -> QueryResult<Device> {
    // A PATCH that sets nothing is a read: diesel cannot build an UPDATE without columns.
    if !changes.is_empty() {
        diesel::update(devices::table.find(id)).set(changes).execute(conn)?;
    }
    get(conn, id)
}

pub fn set_online(conn: &mut DbConnection, id: &str, online: bool, app_version: Option<&str>) -> QueryResult<()> {
    let now = time::now();
    diesel::update(devices::table.find(id))
        .set((devices::online.eq(online), devices::last_seen_at.eq(now)))
        .execute(conn)?;
    if let Some(v) = app_version {
        diesel::update(devices::table.find(id)).set(devices::app_version.eq(v)).execute(conn)?;
    }
    Ok(())
}

pub fn store_heartbeat(conn: &mut DbConnection, id: &str, heartbeat_json: &str, sims_json: &str) -> QueryResult<()> {
    let now = time::now();
    diesel::update(devices::table.find(id))
        .set((
            devices::heartbeat.eq(heartbeat_json),
            devices::sims.eq(sims_json),
            devices::last_heartbeat_at.eq(now),
            devices::last_seen_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Counts a send outcome; after `threshold` failures in a row the device is degraded and
/// stops receiving work. Returns true when this call degraded it.
pub fn record_outcome(conn: &mut DbConnection, id: &str, failed: bool, threshold: i32) -> QueryResult<bool> {
    if !failed {
        // Filtered: a success after a success (the usual case) writes nothing.
        // Runs for every report: on the backend's own connection, and kept compiled (loaded,
        // not executed: see `crate::db::cached`).
        let reset = diesel::update(devices::table.find(id))
            .filter(devices::consecutive_failures.ne(0))
            .set(devices::consecutive_failures.eq(0))
            .returning(devices::id);
        crate::per_backend!(conn, |c| crate::db::cached::cached(reset).load::<String>(c))?;
        return Ok(false);
    }
    diesel::update(devices::table.find(id))
        .set(devices::consecutive_failures.eq(devices::consecutive_failures + 1))
        .execute(conn)?;
    let degraded = diesel::update(devices::table.find(id))
        .filter(devices::consecutive_failures.ge(threshold))
        .filter(devices::degraded_at.is_null())
        .set(devices::degraded_at.eq(time::now()))
        .execute(conn)?;
    Ok(degraded > 0)
}

/// Unpairs: revokes the token and hides the device. Its messages are settled by the caller.
pub fn unpair(conn: &mut DbConnection, id: &str) -> QueryResult<()> {
    diesel::update(devices::table.find(id))
        .set((
            devices::unpaired_at.eq(time::now()),
            devices::token_hash.eq(None::<String>),
            devices::enabled.eq(false),
            devices::online.eq(false),
        ))
        .execute(conn)?;
    Ok(())
}
