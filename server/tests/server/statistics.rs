//! PostgreSQL only: which tables the server analyzes on its own (`db::statistics`).

use diesel::prelude::*;
use relay_server::db::DbConnection;
use relay_server::db::statistics::refresh_grown;

use crate::common::{Backend, TestDb};

/// A table is analyzed when it has doubled since its last analysis, and only then: rows that
/// are updated over and over (every message is, four times) leave it to autovacuum, since
/// analyzing them would only throw away every connection's cached plans.
mod statistics_follow_growth_not_updates {
    #[test]
    fn postgres() {
        super::statistics_follow_growth_not_updates(super::Backend::Postgres)
    }
}

fn statistics_follow_growth_not_updates(backend: Backend) {
    let db = TestDb::new(backend);
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let conn = &mut *conn;
    // Autovacuum stays away from this table: its own analysis would move the baseline.
    run(conn, "CREATE TABLE probe (id integer PRIMARY KEY, n integer NOT NULL) WITH (autovacuum_enabled = false)");
    run(conn, "INSERT INTO probe SELECT i, 0 FROM generate_series(1, 1000) AS i");
    assert_eq!(refresh_grown(conn).unwrap(), ["probe"], "1,000 rows, never analyzed");
    assert!(refresh_grown(conn).unwrap().is_empty(), "analyzed just now");

    for _ in 0..3 {
        run(conn, "UPDATE probe SET n = n + 1");
    }
    assert!(refresh_grown(conn).unwrap().is_empty(), "3,000 updates of 1,000 rows: not grown");

    run(conn, "INSERT INTO probe SELECT i, 0 FROM generate_series(1001, 1900) AS i");
    assert!(refresh_grown(conn).unwrap().is_empty(), "1,900 rows: not yet twice the 1,000 analyzed");
    run(conn, "INSERT INTO probe SELECT i, 0 FROM generate_series(1901, 2100) AS i");
    assert_eq!(refresh_grown(conn).unwrap(), ["probe"], "2,100 rows: more than doubled");
}

fn run(conn: &mut DbConnection, sql: &str) {
    let DbConnection::Postgres(pg) = conn else { panic!("a PostgreSQL test") };
    diesel::sql_query(sql).execute(pg).unwrap();
    // Statistics reach the shared counters when the backend goes idle, at most once a second
    // unless asked: ask, so that the next statement sees this one's rows.
    diesel::sql_query("SELECT pg_stat_force_next_flush()").execute(pg).unwrap();
}
