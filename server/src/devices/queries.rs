use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::schema::devices;

/// How many devices an account has paired, and how many of those are enabled and online.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeviceCounts {
    pub paired: i64,
    pub online: i64,
}

pub fn counts(conn: &mut DbConnection, account_id: &str) -> QueryResult<DeviceCounts> {
    let paired = devices::table.filter(devices::account_id.eq(account_id)).select(count_star()).first(conn)?;
    let online = devices::table
        .filter(devices::account_id.eq(account_id))
        .filter(devices::enabled.eq(true))
        .filter(devices::online.eq(true))
        .select(count_star())
        .first(conn)?;
    Ok(DeviceCounts { paired, online })
}
