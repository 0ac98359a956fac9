//! Recipient storage. Every query names the account: one account never reads another's rows.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::models::{COLUMNS, Recipient, WIDTH};
use super::search::Query;
use crate::db::DbConnection;
use crate::db::bulk::{Cell, Sql, like_escape, prefix_upper_bound, rows_per_statement};
use crate::db::schema::recipients;

/// Numbers per `IN (…)` list.
const IN_CHUNK: usize = 900;

pub fn get(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<Option<Recipient>> {
    recipients::table
        .find(id)
        .filter(recipients::account_id.eq(account_id))
        .select(Recipient::as_select())
        .first(conn)
        .optional()
}

/// The id of the account's recipient with this (E.164) number.
pub fn id_by_phone(conn: &mut DbConnection, account_id: &str, phone: &str) -> QueryResult<Option<String>> {
    recipients::table
        .filter(recipients::account_id.eq(account_id))
        .filter(recipients::phone.eq(phone))
        .select(recipients::id)
        .first(conn)
        .optional()
}

/// Whether the number belongs to an opted-out recipient: one lookup on the unique index.
pub fn is_opted_out(conn: &mut DbConnection, account_id: &str, phone: &str) -> QueryResult<bool> {
    // On the backend's own connection: a send asks this whenever its account has opt-outs.
    let query = diesel::select(diesel::dsl::exists(
        recipients::table
            .filter(recipients::account_id.eq(account_id))
            .filter(recipients::phone.eq(phone))
            .filter(recipients::opted_out_at.is_not_null()),
    ));
    crate::per_backend!(conn, |c| query.get_result(c))
}

/// Every opted-out number of the account.
pub fn opted_out_numbers(conn: &mut DbConnection, account_id: &str) -> QueryResult<HashSet<String>> {
    let rows: Vec<String> = recipients::table
        .filter(recipients::account_id.eq(account_id))
        .filter(recipients::opted_out_at.is_not_null())
        .select(recipients::phone)
        .load(conn)?;
    Ok(rows.into_iter().collect())
}

pub fn insert(conn: &mut DbConnection, r: &Recipient) -> QueryResult<()> {
    diesel::insert_into(recipients::table).values(r).execute(conn).map(|_| ())
}

/// Writes every field of `r` (its id and account stay).
pub fn save(conn: &mut DbConnection, r: &Recipient) -> QueryResult<()> {
    diesel::update(recipients::table.find(&r.id))
        .filter(recipients::account_id.eq(&r.account_id))
        .set((
            recipients::name.eq(&r.name),
            recipients::phone.eq(&r.phone),
            recipients::phone_rev.eq(&r.phone_rev),
            recipients::search_key.eq(&r.search_key),
            recipients::tags.eq(&r.tags),
            recipients::tag_key.eq(&r.tag_key),
            recipients::locale.eq(&r.locale),
            recipients::metadata.eq(&r.metadata),
            recipients::opted_out_at.eq(r.opted_out_at),
            recipients::updated_at.eq(r.updated_at),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn delete(conn: &mut DbConnection, account_id: &str, id: &str) -> QueryResult<bool> {
    let n = diesel::delete(recipients::table.find(id).filter(recipients::account_id.eq(account_id))).execute(conn)?;
    Ok(n == 1)
}

/// What a list asks for.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub query: Option<Query>,
    pub tag: Option<String>,
    pub limit: i64,
    /// Without a query: the last id of the previous page (newest first). With one: how many
    /// ranked results the previous pages held.
    pub after_id: Option<String>,
    pub offset: i64,
}

/// A page of the account's recipients, one more than `limit` when there are more.
///
/// Without a query: newest first. With one, ranked: the exact number first, then names that
/// start with the query, then names with a word that does and numbers that start or end with
/// the typed digits, then names that contain it anywhere.
///
/// A name query ranks and pages inside a subquery that reads only the covering index
/// `(account_id, search_key, id)`, so only the page's rows are fetched; a number query is a
/// union of index lookups (whole number, its beginning, its last digits), never a scan.
pub fn list(conn: &mut DbConnection, account_id: &str, f: &Filter) -> QueryResult<Vec<Recipient>> {
    let mut sql = Sql::new(conn);
    let Some(q) = &f.query else {
        sql.push("SELECT ").push(COLUMNS).push(" FROM recipients WHERE account_id = ").bind(text(account_id));
        push_tag(&mut sql, f);
        if let Some(after) = &f.after_id {
            sql.push(" AND id < ").bind(text(after));
        }
        sql.push(" ORDER BY id DESC LIMIT ").bind(Cell::Int(limit(f.limit + 1)));
        return sql.load(conn);
    };
    if !q.is_number() {
        if let Some(page) = prefix_page(conn, account_id, f, &q.key)? {
            return Ok(page);
        }
        let k = like_escape(&q.key);
        let rank = |sql: &mut Sql| {
            sql.push(" ORDER BY CASE WHEN search_key LIKE ").bind(text(&format!("{k}%")));
            sql.push(" ESCAPE '\\' THEN 0 WHEN search_key LIKE ").bind(text(&format!("% {k}%")));
            sql.push(" ESCAPE '\\' THEN 1 ELSE 2 END, search_key, id");
        };
        sql.push("SELECT ")
            .push(COLUMNS)
            .push(" FROM recipients WHERE id IN (SELECT id FROM recipients WHERE account_id = ");
        sql.bind(text(account_id));
        push_tag(&mut sql, f);
        sql.push(" AND search_key LIKE ").bind(text(&format!("%{k}%"))).push(" ESCAPE '\\'");
        rank(&mut sql);
        sql.push(" LIMIT ").bind(Cell::Int(limit(f.limit + 1)));
        sql.push(" OFFSET ").bind(Cell::Int(limit(f.offset))).push(")");
        rank(&mut sql);
        return sql.load(conn);
    }
    let mut lookups: Vec<(String, Vec<Cell>)> = Vec::new();
    if let Some(exact) = &q.exact {
        lookups.push(("phone = ?".into(), vec![text(exact)]));
    }
    if let Some(prefix) = &q.number_prefix {
        lookups.push(range("phone", prefix));
    }
    if let Some(rev) = &q.digits_rev {
        lookups.push(range("phone_rev", rev));
    }
    // Driven by the union alone (each part names the account): the primary key fetches the rows.
    sql.push("SELECT ").push(COLUMNS).push(" FROM recipients WHERE id IN (");
    for (i, (cond, cells)) in lookups.into_iter().enumerate() {
        if i > 0 {
            sql.push(" UNION ");
        }
        sql.push("SELECT id FROM recipients WHERE account_id = ").bind(text(account_id)).push(" AND ");
        push_cond(&mut sql, &cond, cells);
    }
    sql.push(")");
    push_tag(&mut sql, f);
    sql.push(" ORDER BY CASE WHEN phone = ").bind(text(q.exact.as_deref().unwrap_or("")));
    sql.push(" THEN 0 ELSE 1 END, search_key, id LIMIT ").bind(Cell::Int(limit(f.limit + 1)));
    sql.push(" OFFSET ").bind(Cell::Int(limit(f.offset)));
    sql.load(conn)
}

/// The page, when it lies wholly among the names that start with the query (they rank first,
/// in `search_key` order): a range scan of the covering index `(account_id, search_key, id)`
/// that stops after the page, where the ranked query must find and sort every name that
/// contains the query anywhere. `None` when there are too few such names to fill the page.
fn prefix_page(
    conn: &mut DbConnection,
    account_id: &str,
    f: &Filter,
    key: &str,
) -> QueryResult<Option<Vec<Recipient>>> {
    let wanted = f.offset.saturating_add(f.limit).saturating_add(1);
    let mut sql = Sql::new(conn);
    sql.push("SELECT ").push(COLUMNS).push(" FROM recipients WHERE account_id = ").bind(text(account_id));
    push_tag(&mut sql, f);
    let (cond, cells) = range("search_key", key);
    sql.push(" AND ");
    push_cond(&mut sql, &cond, cells);
    sql.push(" ORDER BY search_key, id LIMIT ").bind(Cell::Int(limit(wanted)));
    let rows: Vec<Recipient> = sql.load(conn)?;
    if i64::try_from(rows.len()).unwrap_or(i64::MAX) < wanted {
        return Ok(None);
    }
    Ok(Some(rows.into_iter().skip(usize::try_from(f.offset).unwrap_or(usize::MAX)).collect()))
}

fn push_tag(sql: &mut Sql, f: &Filter) {
    if let Some(tag) = &f.tag {
        sql.push(" AND tag_key LIKE ").bind(text(&format!("%|{}|%", like_escape(tag)))).push(" ESCAPE '\\'");
    }
}

fn limit(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// `col >= prefix AND col < next AND col LIKE 'prefix%'`: a range scan on the index, exact.
fn range(column: &str, prefix: &str) -> (String, Vec<Cell>) {
    let like = format!("{} LIKE ? ESCAPE '\\'", column);
    match prefix_upper_bound(prefix) {
        Some(upper) => (
            format!("({column} >= ? AND {column} < ? AND {like})"),
            vec![text(prefix), text(&upper), text(&format!("{}%", like_escape(prefix)))],
        ),
        None => (format!("({column} >= ? AND {like})"), vec![text(prefix), text(&format!("{}%", like_escape(prefix)))]),
    }
}

/// Writes `cond`, binding `cells` in order at its `?`s.
fn push_cond(sql: &mut Sql, cond: &str, cells: Vec<Cell>) {
    let mut cells = cells.into_iter();
    let mut parts = cond.split('?').peekable();
    while let Some(part) = parts.next() {
        sql.push(part);
        if parts.peek().is_some()
            && let Some(cell) = cells.next()
        {
            sql.bind(cell);
        }
    }
}

/// Settles the directory after a large import (PostgreSQL): fresh planner statistics (without
/// them a freshly filled table looks small and gets scanned), the new rows marked all-visible
/// (index-only range scans), the trigram index's pending list merged. Done before the import
/// answers, it also leaves autovacuum nothing to start on this table while the client's first
/// searches run. Needs a connection outside any transaction. (SQLite plans by its indexes.)
pub fn settle_after_import(conn: &mut DbConnection) -> QueryResult<()> {
    if matches!(conn, DbConnection::Postgres(_)) {
        diesel::sql_query("VACUUM (ANALYZE) recipients").execute(conn)?;
    }
    Ok(())
}

/// Every recipient of the account, oldest first (the export).
pub fn all(conn: &mut DbConnection, account_id: &str) -> QueryResult<Vec<Recipient>> {
    recipients::table
        .filter(recipients::account_id.eq(account_id))
        .order(recipients::id.asc())
        .select(Recipient::as_select())
        .load(conn)
}

/// Which of these numbers the account already has.
pub fn existing_numbers(conn: &mut DbConnection, account_id: &str, phones: &[&str]) -> QueryResult<HashSet<String>> {
    let mut found = HashSet::new();
    for chunk in phones.chunks(IN_CHUNK) {
        let rows: Vec<String> = recipients::table
            .filter(recipients::account_id.eq(account_id))
            .filter(recipients::phone.eq_any(chunk))
            .select(recipients::phone)
            .load(conn)?;
        found.extend(rows);
    }
    Ok(found)
}

/// Which columns an import replaces on a number the account already has.
#[derive(Debug, Clone, Copy, Default)]
pub struct Replace {
    pub tags: bool,
    pub locale: bool,
}

/// Inserts new numbers and updates known ones (matched by number), many rows per statement.
pub fn upsert_many(conn: &mut DbConnection, rows: &[Recipient], replace: Replace) -> QueryResult<()> {
    let mut set =
        String::from("name = excluded.name, search_key = excluded.search_key, updated_at = excluded.updated_at");
    if replace.tags {
        set.push_str(", tags = excluded.tags, tag_key = excluded.tag_key");
    }
    if replace.locale {
        set.push_str(", locale = excluded.locale");
    }
    for chunk in rows.chunks(rows_per_statement(WIDTH)) {
        let mut sql = Sql::new(conn);
        sql.push("INSERT INTO recipients (").push(COLUMNS).push(") VALUES ");
        for (i, r) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push(", ");
            }
            sql.tuple(r.cells());
        }
        sql.push(" ON CONFLICT (account_id, phone) DO UPDATE SET ").push(&set);
        sql.execute(conn)?;
    }
    Ok(())
}

/// The account's recipients among these ids (unknown ids are left out).
pub fn by_ids(conn: &mut DbConnection, account_id: &str, ids: &[String]) -> QueryResult<Vec<Recipient>> {
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IN_CHUNK) {
        let rows: Vec<Recipient> = recipients::table
            .filter(recipients::account_id.eq(account_id))
            .filter(recipients::id.eq_any(chunk))
            .select(Recipient::as_select())
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The account's recipients with this tag, oldest first.
pub fn by_tag(conn: &mut DbConnection, account_id: &str, tag: &str) -> QueryResult<Vec<Recipient>> {
    recipients::table
        .filter(recipients::account_id.eq(account_id))
        .filter(recipients::tag_key.like(format!("%|{}|%", like_escape(tag))).escape('\\'))
        .order(recipients::id.asc())
        .select(Recipient::as_select())
        .load(conn)
}

/// `opted_out_at` as a PATCH leaves it.
pub fn opt_out_time(
    now: NaiveDateTime,
    current: Option<NaiveDateTime>,
    opted_out: Option<bool>,
) -> Option<NaiveDateTime> {
    match opted_out {
        Some(true) => current.or(Some(now)),
        Some(false) => None,
        None => current,
    }
}
