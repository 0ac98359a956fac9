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
    let plan = plan_of(&mut conn, EXPIRY_DUE_SQL, ("timestamp", "now()::timestamp"));
    assert!(plan.iter().any(|step| step.contains("messages_expiring")), "the sweep's plan: {plan:#?}");
}

/// The plan of `sql`, whose one parameter is `$1`. PostgreSQL prepares it with `param`'s
/// type and explains it for `param`'s value, with sequential scans off: an empty table is
/// cheaper to read whole, and the planner would, so only then does the plan say whether the
/// index can serve the query at all. SQLite plans it with `$1` unbound.
fn plan_of(conn: &mut DbConnection, sql: &str, param: (&str, &str)) -> Vec<String> {
    let (param_type, value) = param;
    match conn {
        DbConnection::Sqlite(c) => diesel::sql_query(format!("EXPLAIN QUERY PLAN {sql}"))
            .load::<SqliteStep>(c)
            .unwrap()
            .into_iter()
            .map(|s| s.detail)
            .collect(),
        DbConnection::Postgres(c) => {
            c.batch_execute(&format!("SET enable_seqscan = off; PREPARE asked({param_type}) AS {sql}")).unwrap();
            diesel::sql_query(format!("EXPLAIN EXECUTE asked({value})"))
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
    let plan = plan_of(&mut conn, sql, ("text", "'acc_1'"));
    assert!(plan.iter().any(|step| step.contains("recipients_opted_out")), "the question's plan: {plan:#?}");
}
