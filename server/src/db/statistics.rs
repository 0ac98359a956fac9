//! PostgreSQL only: fresh planner statistics for tables that outgrew theirs.
//!
//! The server's connections keep their prepared statements for their whole life, and
//! PostgreSQL settles on one generic plan per statement after a few executions. A plan made
//! while a table was nearly empty reads it sequentially, and it stays cached until the
//! table's statistics change. Autovacuum analyzes a table once a tenth of it changed, but
//! looks only once a minute: on a new server the first minute of traffic ran on such plans
//! (measured: a claim's message lookup at 17 ms instead of 0.05 ms, and PostgreSQL busy with
//! them three quarters of the time). Every second this analyzes the tables that hold more
//! than twice the rows their last analysis counted, which re-plans the statements that use
//! them. (Every 5 s left the first seconds of a new server's traffic on such plans: claims
//! reading the whole table sequentially until the first analysis.) A table that doubles is
//! analyzed; one in steady service is left to autovacuum.
//!
//! Growth is judged by live rows, not by changed rows: every message is inserted once and
//! updated four times on its way to `delivered`, so changed rows outnumber a busy table's
//! rows every few seconds without the table having grown. Analyzing it then (measured at
//! 1,000 messages a second: `ANALYZE messages` every 5 s, a twentieth of PostgreSQL's busy
//! time) only throws away every connection's cached plans.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;

use super::{Backend, Db, DbConnection, StoreError};

/// How often the tables are checked (a catalog read; an analysis only when one doubled).
const EVERY: Duration = Duration::from_secs(1);
/// A table with fewer live rows than this is never analyzed here (autovacuum's floor is 50).
const MIN_ROWS: i64 = 500;

#[derive(QueryableByName)]
struct Grown {
    #[diesel(sql_type = Text)]
    name: String,
}

/// Analyzes the tables of the current schema that hold more than twice the rows their last
/// analysis counted (any table of `MIN_ROWS` or more never analyzed). Returns their names.
pub fn refresh_grown(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    let DbConnection::Postgres(pg) = conn else { return Ok(Vec::new()) };
    let grown: Vec<Grown> = diesel::sql_query(
        "SELECT quote_ident(s.relname) AS name FROM pg_stat_user_tables s \
         JOIN pg_class c ON c.oid = s.relid \
         WHERE s.schemaname = current_schema() \
           AND s.n_live_tup >= $1 \
           AND s.n_live_tup > 2 * GREATEST(c.reltuples, 0)",
    )
    .bind::<diesel::sql_types::BigInt, _>(MIN_ROWS)
    .load(pg)?;
    for table in &grown {
        // The name comes from the catalog, quoted by quote_ident: never from a request.
        diesel::sql_query(format!("ANALYZE {}", table.name)).execute(pg)?;
    }
    Ok(grown.into_iter().map(|g| g.name).collect())
}

/// Runs [`refresh_grown`] every second for the server's life (PostgreSQL only).
pub async fn run(db: Db) {
    if db.backend() != Backend::Postgres {
        return;
    }
    let mut tick = tokio::time::interval(EVERY);
    loop {
        tick.tick().await;
        match db.run(|conn| refresh_grown(conn).map_err(StoreError::from)).await {
            Ok(tables) if tables.is_empty() => {}
            Ok(tables) => tracing::debug!(?tables, "refreshed planner statistics"),
            Err(e) => tracing::debug!(error = %e, "could not refresh planner statistics"),
        }
    }
}
