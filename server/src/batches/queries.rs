//! Batch storage: a bulk send's messages go in with a few multi-row statements in one
//! transaction, and its progress is one grouped count on `messages(batch_id, status)`.

use chrono::NaiveDateTime;
use diesel::dsl::count_star;
use diesel::prelude::*;

use crate::db::DbConnection;
use crate::db::bulk::{Cell, Sql, rows_per_statement};
use crate::db::schema::{batches, messages};
use crate::messages::models::{Lane, Status};
use crate::messages::queries::event;

/// One message of a batch: what differs from its neighbours.
#[derive(Debug, Clone)]
pub struct Item {
    pub id: String,
    pub to: String,
    pub body: String,
    pub encoding: &'static str,
    pub segments: i32,
}

/// What every message of a batch shares.
#[derive(Debug, Clone)]
pub struct Shared {
    pub account_id: String,
    pub batch_id: String,
    pub requested_device_id: Option<String>,
    pub metadata: Option<String>,
    pub expires_at: NaiveDateTime,
    pub queued_at: NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = batches)]
pub struct Batch {
    pub id: String,
    pub account_id: String,
    pub queued: i32,
    pub rejected: i32,
    pub canceled_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// Stores the batch and its messages, each `queued` in the bulk lane (the `queued` event is
/// the message's own `queued_at`: see [`crate::messages::queries::insert`]).
pub fn insert(conn: &mut DbConnection, shared: &Shared, items: &[Item], rejected: usize) -> QueryResult<()> {
    diesel::insert_into(batches::table)
        .values((
            batches::id.eq(&shared.batch_id),
            batches::account_id.eq(&shared.account_id),
            batches::queued.eq(i32::try_from(items.len()).unwrap_or(i32::MAX)),
            batches::rejected.eq(i32::try_from(rejected).unwrap_or(i32::MAX)),
            batches::created_at.eq(shared.queued_at),
        ))
        .execute(conn)?;
    // What differs per row is bound per row; what the batch shares, once per statement.
    // PostgreSQL takes each column as one array: one statement for the whole batch, where
    // tens of thousands of placeholders cost more to parse and plan than the rows to write.
    if matches!(conn, DbConnection::Postgres(_)) {
        let mut sql = Sql::new(conn);
        push_insert_head(&mut sql, shared);
        sql.push(" FROM UNNEST(");
        sql.bind(Cell::Texts(items.iter().map(|i| i.id.clone()).collect())).push("::text[], ");
        sql.bind(Cell::Texts(items.iter().map(|i| i.to.clone()).collect())).push("::text[], ");
        sql.bind(Cell::Texts(items.iter().map(|i| i.body.clone()).collect())).push("::text[], ");
        sql.bind(Cell::Texts(items.iter().map(|i| i.encoding.to_owned()).collect())).push("::text[], ");
        sql.bind(Cell::Ints(items.iter().map(|i| i.segments).collect()));
        sql.push("::int4[]) AS v(column1, column2, column3, column4, column5)");
        sql.execute(conn)?;
    } else {
        for chunk in items.chunks(rows_per_statement(5)) {
            let mut sql = Sql::new(conn);
            push_insert_head(&mut sql, shared);
            sql.push(" FROM (VALUES ");
            for (i, item) in chunk.iter().enumerate() {
                if i > 0 {
                    sql.push(", ");
                }
                sql.tuple([
                    Cell::Text(item.id.clone()),
                    Cell::Text(item.to.clone()),
                    Cell::Text(item.body.clone()),
                    Cell::Text(item.encoding.to_owned()),
                    Cell::Int(item.segments),
                ]);
            }
            sql.push(") AS v");
            sql.execute(conn)?;
        }
    }
    Ok(())
}

/// `INSERT … SELECT column1, …, column5, <what the batch shares>`: the rows come after it.
fn push_insert_head(sql: &mut Sql, shared: &Shared) {
    sql.push(
        "INSERT INTO messages (id, to_number, body, encoding, segments, account_id, priority, status, \
         requested_device_id, metadata, batch_id, attempts, expires_at, queued_at, updated_at) \
         SELECT column1, column2, column3, column4, column5, ",
    );
    sql.bind(Cell::Text(shared.account_id.clone())).push(", ");
    sql.bind(Cell::SmallInt(Lane::Bulk as i16)).push(", ");
    sql.bind(Cell::Text(Status::Queued.as_str().to_owned())).push(", ");
    sql.bind(Cell::OptText(shared.requested_device_id.clone())).push(", ");
    sql.bind(Cell::OptText(shared.metadata.clone())).push(", ");
    sql.bind(Cell::Text(shared.batch_id.clone())).push(", ");
    sql.bind(Cell::Int(0)).push(", ");
    sql.bind(Cell::Time(shared.expires_at)).push(", ");
    sql.bind(Cell::Time(shared.queued_at)).push(", ");
    sql.bind(Cell::Time(shared.queued_at));
}

pub fn get(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<Batch>> {
    batches::table.find(id).filter(batches::account_id.eq(account_id)).select(Batch::as_select()).first(conn).optional()
}

/// How many of the batch's messages are in each status.
pub fn counts(conn: &mut DbConnection, batch_id: &str) -> QueryResult<Vec<(String, i64)>> {
    messages::table
        .filter(messages::batch_id.eq(batch_id))
        .group_by(messages::status)
        .select((messages::status, count_star()))
        .load(conn)
}

/// Cancels every message of the batch no phone has acknowledged. Returns (id, device) of
/// those a phone was handed but had not acknowledged, to revoke there, and how many ended.
pub fn cancel(
    conn: &mut DbConnection,
    account_id: &str,
    batch_id: &str,
) -> QueryResult<(usize, Vec<(String, String)>)> {
    let now = crate::time::now();
    let ended: Vec<(String, Option<String>)> = diesel::update(messages::table)
        .filter(messages::batch_id.eq(batch_id))
        .filter(messages::account_id.eq(account_id))
        .filter(
            messages::status
                .eq(Status::Queued.as_str())
                .or(messages::status.eq(Status::Dispatched.as_str()).and(messages::acked_at.is_null())),
        )
        .set((
            messages::status.eq(Status::Canceled.as_str()),
            messages::finished_at.eq(now),
            messages::updated_at.eq(now),
        ))
        .returning((messages::id, messages::device_id))
        .get_results(conn)?;
    for chunk in ended.chunks(rows_per_statement(5)) {
        let mut sql = Sql::new(conn);
        sql.push("INSERT INTO message_events (id, message_id, status, detail, at) VALUES ");
        for (i, (id, _)) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            let e = event(id, Status::Canceled, Some("batch canceled by the API".into()), now);
            sql.tuple([
                Cell::Text(e.id),
                Cell::Text(e.message_id),
                Cell::Text(e.status),
                Cell::OptText(e.detail),
                Cell::Time(e.at),
            ]);
        }
        sql.execute(conn)?;
    }
    diesel::update(batches::table.find(batch_id))
        .filter(batches::account_id.eq(account_id))
        .set(batches::canceled_at.eq(now))
        .execute(conn)?;
    let n = ended.len();
    let revoke = ended.into_iter().filter_map(|(id, device)| device.map(|d| (id, d))).collect();
    Ok((n, revoke))
}
