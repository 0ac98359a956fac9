//! The onboarding checklist, computed live from the account: nothing is stored, so it can
//! never disagree with what really happened.

use diesel::dsl::exists;
use diesel::prelude::*;

use crate::accounts::Account;
use crate::db::DbConnection;
use crate::db::schema::{api_keys, messages, webhook_endpoints};
use crate::devices::queries as devices;
use crate::health;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub device_paired: bool,
    pub key_taken: bool,
    pub first_request: bool,
    pub first_delivery: bool,
    pub webhook: bool,
    pub ready: bool,
}

pub fn progress(conn: &mut DbConnection, account: &Account) -> QueryResult<Progress> {
    let counts = devices::counts(conn, &account.id)?;
    let mine = || messages::table.filter(messages::account_id.eq(&account.id));
    let first_request = diesel::select(exists(mine())).get_result(conn)?;
    let first_delivery = diesel::select(exists(mine().filter(messages::status.eq("delivered")))).get_result(conn)?;
    // Key use is written to the database once a minute; a request proves it sooner.
    let key_used = diesel::select(exists(
        api_keys::table
            .filter(api_keys::account_id.eq(&account.id))
            .filter(api_keys::revoked_at.is_null())
            .filter(api_keys::last_used_at.is_not_null()),
    ))
    .get_result::<bool>(conn)?;
    let webhook = diesel::select(exists(
        webhook_endpoints::table
            .filter(webhook_endpoints::account_id.eq(&account.id))
            .filter(webhook_endpoints::enabled.eq(true)),
    ))
    .get_result(conn)?;
    Ok(Progress {
        device_paired: counts.paired > 0,
        key_taken: key_used || first_request,
        first_request,
        first_delivery,
        webhook,
        ready: health::is_ready(account, counts),
    })
}
