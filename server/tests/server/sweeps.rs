//! The periodic sweeps read what is due, not the whole history, and a send's own questions
//! read what they ask about: their plans use their indexes.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use relay_server::db::DbConnection;
use relay_server::messages::queries::EXPIRY_DUE_SQL;

use crate::both_backends;
use crate::common::{Backend, TestDb};

both_backends!(the_expiry_sweep_reads_the_live_messages_through_their_index);
both_backends!(whether_an_account_has_opt_outs_is_answered_by_their_index);

#[derive(QueryableByName)]
struct SqliteStep {
    #[diesel(sql_type = Text)]
    detail: String,
}

#[derive(QueryableByName)]
struct PostgresLine {
    #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
    line: String,
}

/// Every second the writer looks for messages past their time. With no index to serve it,
/// each sweep read every message ever stored (158 ms at a million, on SQLite), stalling every
/// send and report behind it; its plan must be a search of `messages_expiring`.
fn the_expiry_sweep_reads_the_live_messages_through_their_index(backend: Backend) {
    let db = TestDb::new(backend);
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let plan: Vec<String> = match &mut *conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {EXPIRY_DUE_SQL}"))
            .load::<SqliteStep>(c)
            .unwrap()
            .into_iter()
            .map(|s| s.detail)
            .collect(),
        DbConnection::Postgres(c) => {
            // An empty table is cheaper to read whole, and the planner would: forbid that, so
            // the plan says whether the index can serve this query at all.
            c.batch_execute(&format!("SET enable_seqscan = off; PREPARE sweep(timestamp) AS {EXPIRY_DUE_SQL}"))
                .unwrap();
            diesel::sql_query("EXPLAIN EXECUTE sweep(now()::timestamp)")
                .load::<PostgresLine>(c)
                .unwrap()
                .into_iter()
                .map(|l| l.line)
                .collect()
        }
    };
    assert!(plan.iter().any(|step| step.contains("messages_expiring")), "the sweep's plan: {plan:#?}");
}

/// The plan of `sql` (PostgreSQL: prepared as `$1` text, sequential scans off so that the plan
/// says whether an index can serve the query at all, not what an empty table costs).
fn plan_of(conn: &mut DbConnection, sql: &str) -> Vec<String> {
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {}", sql.replace("$1", "?")))
            .bind::<Text, _>("acc_1")
            .load::<SqliteStep>(c)
            .unwrap()
            .into_iter()
            .map(|s| s.detail)
            .collect(),
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SET enable_seqscan = off; PREPARE asked(text) AS {sql}")).unwrap();
            diesel::sql_query("EXPLAIN EXECUTE asked('acc_1')")
                .load::<PostgresLine>(c)
                .unwrap()
                .into_iter()
                .map(|l| l.line)
                .collect()
        }
    }
}

/// Each group transaction of sends asks whether the account has any opted-out recipient
/// (`keys::queries::find_send_account`, a subquery on the account's id). Without an index
/// for it the question read the account's whole directory, 100,000 recipients for a bulk
/// sender with no opt-out at all; its plan must search `recipients_opted_out`.
fn whether_an_account_has_opt_outs_is_answered_by_their_index(backend: Backend) {
    let db = TestDb::new(backend);
    let store = relay_server::db::Db::open(&db.url).unwrap();
    let mut conn = store.conn().unwrap();
    let sql = "SELECT accounts.id, EXISTS (SELECT 1 FROM recipients WHERE recipients.account_id = accounts.id \
               AND recipients.opted_out_at IS NOT NULL) AS any_opted_out FROM accounts WHERE accounts.id = $1";
    let plan = plan_of(&mut conn, sql);
    assert!(plan.iter().any(|step| step.contains("recipients_opted_out")), "the question's plan: {plan:#?}");
}
