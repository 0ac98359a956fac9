//! OTP storage. A verification attempt is one conditional UPDATE: it counts the attempt and
//! decides the outcome only while the code is pending, unexpired and has tries left, so two
//! concurrent correct attempts can never both succeed and no attempt escapes the count.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::sql_types::Text;

use super::models::{Otp, OtpStatus};
use crate::db::DbConnection;
use crate::db::schema::{messages, otps};

pub fn insert(conn: &mut DbConnection, otp: &Otp) -> QueryResult<()> {
    diesel::insert_into(otps::table).values(otp).execute(conn).map(|_| ())
}

/// Send times for this recipient and purpose since `since`, newest first.
pub fn recent_sends(
    conn: &mut DbConnection,
    account_id: &str,
    to: &str,
    purpose: &str,
    since: NaiveDateTime,
) -> QueryResult<Vec<NaiveDateTime>> {
    otps::table
        .filter(otps::account_id.eq(account_id))
        .filter(otps::to_number.eq(to))
        .filter(otps::purpose.eq(purpose))
        .filter(otps::created_at.gt(since))
        .order(otps::created_at.desc())
        .select(otps::created_at)
        .load(conn)
}

/// How many codes the account sent since `since`, and the oldest of them.
pub fn account_sends(
    conn: &mut DbConnection,
    account_id: &str,
    since: NaiveDateTime,
) -> QueryResult<(i64, Option<NaiveDateTime>)> {
    otps::table
        .filter(otps::account_id.eq(account_id))
        .filter(otps::created_at.gt(since))
        .select((count_star(), min(otps::created_at)))
        .first(conn)
}

/// Cancels the pending codes for this recipient and purpose; returns their SMS ids.
pub fn supersede(
    conn: &mut DbConnection,
    account_id: &str,
    to: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<Vec<String>> {
    diesel::update(otps::table)
        .filter(otps::account_id.eq(account_id))
        .filter(otps::to_number.eq(to))
        .filter(otps::purpose.eq(purpose))
        .filter(otps::status.eq(OtpStatus::Pending.as_str()))
        .set((otps::status.eq(OtpStatus::Canceled.as_str()), otps::updated_at.eq(now)))
        .returning(otps::message_id)
        .get_results(conn)
}

pub fn find(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<Otp>> {
    otps::table
        .filter(otps::id.eq(id))
        .filter(otps::account_id.eq(account_id))
        .select(Otp::as_select())
        .first(conn)
        .optional()
}

/// An OTP with its SMS's status, failure code and failure reason.
pub type WithDelivery = (Otp, String, Option<String>, Option<String>);

pub fn find_with_delivery(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<WithDelivery>> {
    otps::table
        .inner_join(messages::table)
        .filter(otps::id.eq(id))
        .filter(otps::account_id.eq(account_id))
        .select((Otp::as_select(), messages::status, messages::failure_code, messages::failure_reason))
        .first(conn)
        .optional()
}

/// One attempt, counted and decided in a single statement. `matched` is the outcome of the
/// constant-time comparison. Returns the new (status, attempts, max_attempts), or `None` when
/// the code was no longer open to attempts (verified, spent, replaced or expired meanwhile).
pub fn attempt(
    conn: &mut DbConnection,
    id: &str,
    matched: bool,
    now: NaiveDateTime,
) -> QueryResult<Option<(String, i32, i32)>> {
    let open = otps::table
        .filter(otps::id.eq(id))
        .filter(otps::status.eq(OtpStatus::Pending.as_str()))
        .filter(otps::attempts.lt(otps::max_attempts))
        .filter(otps::expires_at.gt(now));
    let returned = (otps::status, otps::attempts, otps::max_attempts);
    if matched {
        diesel::update(open)
            .set((
                otps::attempts.eq(otps::attempts + 1),
                otps::status.eq(OtpStatus::Verified.as_str()),
                otps::verified_at.eq(now),
                otps::updated_at.eq(now),
            ))
            .returning(returned)
            .get_result(conn)
            .optional()
    } else {
        // SET expressions read the row as it was: the last allowed wrong try spends the code.
        let status =
            diesel::dsl::sql::<Text>("CASE WHEN attempts + 1 >= max_attempts THEN 'failed' ELSE 'pending' END");
        diesel::update(open)
            .set((otps::attempts.eq(otps::attempts + 1), otps::status.eq(status), otps::updated_at.eq(now)))
            .returning(returned)
            .get_result(conn)
            .optional()
    }
}

/// Records that a pending code ran out of time.
pub fn mark_expired(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::update(otps::table)
        .filter(otps::id.eq(id))
        .filter(otps::status.eq(OtpStatus::Pending.as_str()))
        .filter(otps::expires_at.le(now))
        .set((otps::status.eq(OtpStatus::Expired.as_str()), otps::updated_at.eq(now)))
        .execute(conn)
        .map(|_| ())
}
