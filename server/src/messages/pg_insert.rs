//! PostgreSQL's INSERT of new messages: one text whatever the number of rows, so that each
//! connection prepares it once.
//!
//! diesel's multi-row INSERT has a text per row count and is never kept prepared on
//! `PgConnection`: its connection hands the statement cache a reference to the query, and a
//! reference re-derives "safe to cache" from the query's parts, which refuse it
//! ([`crate::db::cached`]'s override never reaches it). PostgreSQL then parsed, analysed and
//! planned the INSERT of every group transaction of sends, about a sixth of its CPU under a
//! stream of sends (perf). Here every column is bound as one array and spread by `unnest`:
//! the same text and the same 25 parameters for one row or a thousand.

use chrono::NaiveDateTime;
use diesel::QueryResult;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::RunQueryDsl;
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::sql_types::{Array, Integer, Nullable, SmallInt, Text, Timestamp};

use super::models::Message;

/// Every column of `messages`, in the order the arrays are bound below.
const COLUMNS: &str = "id, account_id, to_number, body, priority, status, requested_device_id, device_id, sim, \
    encoding, segments, metadata, batch_id, attempts, failure_code, failure_reason, expires_at, queued_at, \
    dispatched_at, acked_at, sent_at, delivered_at, finished_at, updated_at, redacted_body";

/// The rows of one INSERT, column by column (borrowed from the messages).
pub struct InsertMessages<'a> {
    id: Vec<&'a str>,
    account_id: Vec<&'a str>,
    to_number: Vec<&'a str>,
    body: Vec<&'a str>,
    priority: Vec<i16>,
    status: Vec<&'a str>,
    requested_device_id: Vec<Option<&'a str>>,
    device_id: Vec<Option<&'a str>>,
    sim: Vec<Option<i16>>,
    encoding: Vec<&'a str>,
    segments: Vec<i32>,
    metadata: Vec<Option<&'a str>>,
    batch_id: Vec<Option<&'a str>>,
    attempts: Vec<i32>,
    failure_code: Vec<Option<&'a str>>,
    failure_reason: Vec<Option<&'a str>>,
    expires_at: Vec<NaiveDateTime>,
    queued_at: Vec<NaiveDateTime>,
    dispatched_at: Vec<Option<NaiveDateTime>>,
    acked_at: Vec<Option<NaiveDateTime>>,
    sent_at: Vec<Option<NaiveDateTime>>,
    delivered_at: Vec<Option<NaiveDateTime>>,
    finished_at: Vec<Option<NaiveDateTime>>,
    updated_at: Vec<NaiveDateTime>,
    redacted_body: Vec<Option<&'a str>>,
}

impl<'a> InsertMessages<'a> {
    pub fn new(rows: &'a [Message]) -> Self {
        fn column<'a, T>(rows: &'a [Message], f: impl Fn(&'a Message) -> T) -> Vec<T> {
            rows.iter().map(f).collect()
        }
        InsertMessages {
            id: column(rows, |m| m.id.as_str()),
            account_id: column(rows, |m| m.account_id.as_str()),
            to_number: column(rows, |m| m.to_number.as_str()),
            body: column(rows, |m| m.body.as_str()),
            priority: column(rows, |m| m.priority),
            status: column(rows, |m| m.status.as_str()),
            requested_device_id: column(rows, |m| m.requested_device_id.as_deref()),
            device_id: column(rows, |m| m.device_id.as_deref()),
            sim: column(rows, |m| m.sim),
            encoding: column(rows, |m| m.encoding.as_str()),
            segments: column(rows, |m| m.segments),
            metadata: column(rows, |m| m.metadata.as_deref()),
            batch_id: column(rows, |m| m.batch_id.as_deref()),
            attempts: column(rows, |m| m.attempts),
            failure_code: column(rows, |m| m.failure_code.as_deref()),
            failure_reason: column(rows, |m| m.failure_reason.as_deref()),
            expires_at: column(rows, |m| m.expires_at),
            queued_at: column(rows, |m| m.queued_at),
            dispatched_at: column(rows, |m| m.dispatched_at),
            acked_at: column(rows, |m| m.acked_at),
            sent_at: column(rows, |m| m.sent_at),
            delivered_at: column(rows, |m| m.delivered_at),
            finished_at: column(rows, |m| m.finished_at),
            updated_at: column(rows, |m| m.updated_at),
            redacted_body: column(rows, |m| m.redacted_body.as_deref()),
        }
    }
}

/// One statement for every instance: the cache keys it by this id, not by its text.
pub struct InsertMessagesId;

impl QueryId for InsertMessages<'_> {
    type QueryId = InsertMessagesId;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<Conn> RunQueryDsl<Conn> for InsertMessages<'_> {}

impl QueryFragment<Pg> for InsertMessages<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql("INSERT INTO messages (");
        out.push_sql(COLUMNS);
        out.push_sql(") SELECT * FROM unnest(");
        out.push_bind_param::<Array<Text>, _>(&self.id)?;
        let o = &mut out;
        then::<Array<Text>, _>(o, &self.account_id)?;
        then::<Array<Text>, _>(o, &self.to_number)?;
        then::<Array<Text>, _>(o, &self.body)?;
        then::<Array<SmallInt>, _>(o, &self.priority)?;
        then::<Array<Text>, _>(o, &self.status)?;
        then::<Array<Nullable<Text>>, _>(o, &self.requested_device_id)?;
        then::<Array<Nullable<Text>>, _>(o, &self.device_id)?;
        then::<Array<Nullable<SmallInt>>, _>(o, &self.sim)?;
        then::<Array<Text>, _>(o, &self.encoding)?;
        then::<Array<Integer>, _>(o, &self.segments)?;
        then::<Array<Nullable<Text>>, _>(o, &self.metadata)?;
        then::<Array<Nullable<Text>>, _>(o, &self.batch_id)?;
        then::<Array<Integer>, _>(o, &self.attempts)?;
        then::<Array<Nullable<Text>>, _>(o, &self.failure_code)?;
        then::<Array<Nullable<Text>>, _>(o, &self.failure_reason)?;
        then::<Array<Timestamp>, _>(o, &self.expires_at)?;
        then::<Array<Timestamp>, _>(o, &self.queued_at)?;
        for times in [&self.dispatched_at, &self.acked_at, &self.sent_at, &self.delivered_at, &self.finished_at] {
            then::<Array<Nullable<Timestamp>>, _>(o, times)?;
        }
        then::<Array<Timestamp>, _>(o, &self.updated_at)?;
        then::<Array<Nullable<Text>>, _>(o, &self.redacted_body)?;
        out.push_sql(")");
        Ok(())
    }
}

/// The next column's array, after a comma.
fn then<'b, ST, U>(out: &mut AstPass<'_, 'b, Pg>, values: &'b U) -> QueryResult<()>
where
    Pg: HasSqlType<ST>,
    U: ToSql<ST, Pg>,
{
    out.push_sql(", ");
    out.push_bind_param::<ST, U>(values)
}

#[cfg(test)]
mod tests {
    use super::COLUMNS;
    use crate::db::schema::messages;
    use diesel::pg::Pg;
    use diesel::query_dsl::QueryDsl;

    /// A column added to `messages` (and so to `Message`) must be added here too, or
    /// PostgreSQL would store its default instead of the message's value.
    #[test]
    fn the_insert_names_every_column_of_messages_in_schema_order() {
        let select = diesel::debug_query::<Pg, _>(&messages::table.select(messages::all_columns)).to_string();
        let listed = select.trim_start_matches("SELECT ").split(" FROM").next().unwrap_or_default();
        let schema: Vec<&str> =
            listed.split(", ").map(|c| c.trim_start_matches("\"messages\".").trim_matches('"')).collect();
        let ours: Vec<&str> = COLUMNS.split(',').map(str::trim).collect();
        assert_eq!(ours, schema);
    }
}
