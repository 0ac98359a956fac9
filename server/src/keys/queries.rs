use diesel::prelude::*;

use super::models::{ApiKey, CreatedKey, NewApiKey};
use super::secret;
use crate::accounts::Account;
use crate::db::schema::{accounts, api_keys};
use crate::db::{DbConnection, write_transaction};
use crate::ids::{IdKind, new_id};
use crate::recipients::queries as recipients;
use crate::time;

pub fn create(conn: &mut DbConnection, account_id: &str, name: &str) -> QueryResult<CreatedKey> {
    let made = secret::generate();
    let id = new_id(IdKind::Key);
    let now = time::now();
    diesel::insert_into(api_keys::table)
        .values(NewApiKey {
            id: &id,
            account_id,
            name,
            prefix: &made.visible_prefix,
            key_hash: &made.hash,
            created_at: now,
        })
        .execute(conn)?;
    Ok(CreatedKey { id, name: name.to_owned(), secret: made.secret, prefix: made.visible_prefix, created_at: now })
}

pub fn list(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<ApiKey>> {
    api_keys::table
        .filter(api_keys::account_id.eq(account_id))
        .order(api_keys::id.asc())
        .select(ApiKey::as_select())
        .load(conn)
}

/// Revokes a key. With `account_id`, only that account's key (so one account can never touch
/// another's); without, any key (the operator's CLI). Returns the key, `None` if there is none.
pub fn revoke(conn: &mut DbConnection, key_id: &str, account_id: Option<&str>) -> QueryResult<Option<ApiKey>> {
    // Reads, then writes: on SQLite a deferred transaction would fail at once with "database
    // is locked" if anything committed in between (the last-used times, a send).
    write_transaction(conn, |conn| {
        let mut query = api_keys::table.filter(api_keys::id.eq(key_id)).into_boxed();
        if let Some(account_id) = account_id {
            query = query.filter(api_keys::account_id.eq(account_id));
        }
        let Some(key) = query.select(ApiKey::as_select()).first(conn).optional()? else {
            return Ok(None);
        };
        if key.revoked_at.is_none() {
            diesel::update(api_keys::table.find(&key.id)).set(api_keys::revoked_at.eq(time::now())).execute(conn)?;
        }
        api_keys::table.find(&key.id).select(ApiKey::as_select()).first(conn).optional()
    })
}

/// The live key with this hash and its account.
pub fn find_live_by_hash(conn: &mut DbConnection, key_hash: &str) -> QueryResult<Option<(ApiKey, Account)>> {
    api_keys::table
        .inner_join(accounts::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null())
        .select((ApiKey::as_select(), Account::as_select()))
        .first(conn)
        .optional()
}

/// What a send needs to know besides its key and account.
#[derive(Debug, Clone, Copy)]
pub struct SendChecks {
    /// The account has a paired device that is enabled and not degraded.
    pub usable_device: bool,
    /// The account has a paired device at all.
    pub paired_device: bool,
    /// The number is an opted-out recipient of the account.
    pub opted_out: bool,
}

/// The columns of an account a send is judged by. The writer reads them with the key on
/// every send, so only these: whole key and account rows cost seven timestamps to decode.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct SendAccount {
    pub id: String,
    pub status: String,
    pub expires_at: chrono::NaiveDateTime,
    pub default_region: Option<String>,
    pub queue_paused_at: Option<chrono::NaiveDateTime>,
    pub queue_pause_reason: Option<String>,
}

/// What a send reads of its key's account, the same for every number.
#[derive(Debug, Clone)]
pub struct SendAccountChecks {
    pub account: SendAccount,
    pub usable_device: bool,
    pub paired_device: bool,
    /// Whether any recipient of the account opted out: when none did, no number is looked up.
    pub any_opted_out: bool,
}

/// The live key's account with a send's checks for `to`. The account's part is read once per
/// group transaction for all its sends ([`crate::db::writer::shared_read`]); the number is
/// looked up only when the account has opted-out recipients at all.
pub fn find_for_send(
    conn: &mut DbConnection,
    key_hash: &str,
    to: &str,
) -> QueryResult<Option<(SendAccount, SendChecks)>> {
    let Some(found) = crate::db::writer::shared_read(key_hash, || find_send_account(conn, key_hash))? else {
        return Ok(None);
    };
    let opted_out = found.any_opted_out && recipients::is_opted_out(conn, &found.account.id, to)?;
    let checks = SendChecks { usable_device: found.usable_device, paired_device: found.paired_device, opted_out };
    Ok(Some((found.account, checks)))
}

/// The live key's account and what a send needs to know of it, in one statement.
fn find_send_account(conn: &mut DbConnection, key_hash: &str) -> QueryResult<Option<SendAccountChecks>> {
    use crate::db::schema::{devices, recipients};
    use diesel::dsl::exists;
    let paired = || devices::table.filter(devices::account_id.eq(accounts::id)).filter(devices::unpaired_at.is_null());
    let usable = paired().filter(devices::enabled.eq(true)).filter(devices::degraded_at.is_null());
    // Served by the partial index `recipients_opted_out`.
    let any_opted_out = recipients::table
        .filter(recipients::account_id.eq(accounts::id))
        .filter(recipients::opted_out_at.is_not_null());
    let query = api_keys::table
        .inner_join(accounts::table)
        .filter(api_keys::key_hash.eq(key_hash))
        .filter(api_keys::revoked_at.is_null());
    let found: Option<(SendAccount, bool, bool, bool)> = crate::per_backend!(conn, |c| query
        .select((SendAccount::as_select(), exists(usable), exists(paired()), exists(any_opted_out)))
        .first(c)
        .optional())?;
    Ok(found.map(|(account, usable_device, paired_device, any_opted_out)| SendAccountChecks {
        account,
        usable_device,
        paired_device,
        any_opted_out,
    }))
}

/// Writes the last-used times gathered in memory, in one transaction.
pub fn store_last_used(conn: &mut DbConnection, seen: &[(String, chrono::NaiveDateTime)]) -> QueryResult<()> {
    conn.transaction(|conn| {
        for (id, at) in seen {
            diesel::update(api_keys::table.find(id)).set(api_keys::last_used_at.eq(at)).execute(conn)?;
        }
        Ok(())
    })
}
