//! Account storage. Plain functions over a connection, so the CLI and the HTTP handlers share them.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::models::{Account, NewAccount};
use crate::db::schema::accounts;
use crate::db::{DbConnection, is_unique_violation, write_transaction};
use crate::ids::{IdKind, new_id};
use crate::keys::{self, CreatedKey};
use crate::time;

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("an account with the email {0} already exists")]
    EmailTaken(String),
    #[error("no account has the id {0}")]
    NotFound(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

pub struct CreateAccount<'a> {
    pub name: &'a str,
    pub email: &'a str,
    pub plan: &'a str,
    pub days: i64,
}

/// Creates the account and its first API key in one transaction.
pub fn create(conn: &mut DbConnection, req: &CreateAccount<'_>) -> Result<(Account, CreatedKey), AccountError> {
    write_transaction(conn, |conn| {
        let now = time::now();
        let id = new_id(IdKind::Account);
        let row = NewAccount {
            id: &id,
            name: req.name,
            email: req.email,
            plan: req.plan,
            status: "active",
            expires_at: now + Duration::days(req.days),
            created_at: now,
            updated_at: now,
        };
        diesel::insert_into(accounts::table).values(&row).execute(conn).map_err(|e| {
            if is_unique_violation(&e) { AccountError::EmailTaken(req.email.to_owned()) } else { e.into() }
        })?;
        let key = keys::queries::create(conn, &id, "default")?;
        Ok((get(conn, &id)?, key))
    })
}

pub fn get(conn: &mut DbConnection, id: &str) -> Result<Account, AccountError> {
    accounts::table
        .find(id)
        .select(Account::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| AccountError::NotFound(id.to_owned()))
}

pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<Account>> {
    accounts::table.order(accounts::id.asc()).select(Account::as_select()).load(conn)
}

/// Extends the subscription by `days`, counted from now if it has already run out.
pub fn renew(conn: &mut DbConnection, id: &str, days: i64) -> Result<Account, AccountError> {
    write_transaction(conn, |conn| {
        let account = get(conn, id)?;
        let now = time::now();
        let from = account.expires_at.max(now);
        set_expiry(conn, id, from + Duration::days(days), now)?;
        get(conn, id)
    })
}

fn set_expiry(conn: &mut DbConnection, id: &str, expires_at: NaiveDateTime, now: NaiveDateTime) -> QueryResult<usize> {
    diesel::update(accounts::table.find(id))
        .set((accounts::expires_at.eq(expires_at), accounts::updated_at.eq(now)))
        .execute(conn)
}

pub fn set_status(conn: &mut DbConnection, id: &str, status: super::AccountStatus) -> Result<Account, AccountError> {
    let n = diesel::update(accounts::table.find(id))
        .set((accounts::status.eq(status.as_str()), accounts::updated_at.eq(time::now())))
        .execute(conn)?;
    if n == 0 {
        return Err(AccountError::NotFound(id.to_owned()));
    }
    get(conn, id)
}

/// What a customer may change on their own account.
#[derive(Debug, Default, AsChangeset)]
#[diesel(table_name = accounts)]
pub struct AccountChanges {
    pub name: Option<String>,
    pub default_region: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

pub fn update(conn: &mut DbConnection, id: &str, mut changes: AccountChanges) -> Result<Account, AccountError> {
    changes.updated_at = Some(time::now());
    diesel::update(accounts::table.find(id)).set(&changes).execute(conn)?;
    get(conn, id)
}

/// Pauses the account's queue with a reason (`Some`), or resumes it (`None`).
pub fn set_queue_paused(conn: &mut DbConnection, id: &str, reason: Option<&str>) -> QueryResult<usize> {
    let paused_at = reason.is_some().then(time::now);
    diesel::update(accounts::table.find(id))
        .set((accounts::queue_paused_at.eq(paused_at), accounts::queue_pause_reason.eq(reason)))
        .execute(conn)
}
