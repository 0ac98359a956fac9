//! PostgreSQL only: the finished-message totals behind `GET /v1/queue` (`message_totals`),
//! which a trigger keeps in rows of each counting connection's own.

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Text};
use relay_server::messages::queries::fold_totals;

use crate::common::{Backend, TestDb};

const SEED: &str = "
    INSERT INTO accounts (id, name, email, plan, expires_at, created_at, updated_at)
        SELECT a, a, a || '@example.com', 'free', now() + interval '1 year', now(), now()
        FROM (VALUES ('acc_a'), ('acc_b')) AS v(a);
    INSERT INTO messages (id, account_id, to_number, body, priority, status, encoding, segments,
                          expires_at, queued_at, updated_at)
        SELECT m, acc, '+15550000000', 'hi', 1, 'sent', 'gsm7', 1, now() + interval '1 hour', now(), now()
        FROM (VALUES ('m_a1', 'acc_a'), ('m_a2', 'acc_a'), ('m_b1', 'acc_b'), ('m_b2', 'acc_b')) AS v(m, acc);";

/// Two writers applying reports for two accounts in opposite orders, each in one transaction
/// (two phones' batches on two intake writers). Even for two connections that the first rule
/// (pid modulo 64) put in one shard, neither waits for the other: with a shared row, the second
/// update below waited on the first transaction, and the last one closed the circle.
mod writers_counting_two_accounts_in_opposite_orders_never_wait {
    #[test]
    fn postgres() {
        super::writers_counting_two_accounts_in_opposite_orders_never_wait(super::Backend::Postgres)
    }
}

fn writers_counting_two_accounts_in_opposite_orders_never_wait(backend: Backend) {
    let db = TestDb::new(backend);
    let _migrated = relay_server::db::Db::open(&db.url).unwrap();
    connect(&db).batch_execute(SEED).unwrap();
    let mut a = connect(&db);
    let shared = pid(&mut a) % 64;
    // PostgreSQL starts a process per connection: a pid with the same remainder comes soon.
    let mut b = (0..5_000)
        .map(|_| connect(&db))
        .find_map(|mut c| (pid(&mut c) % 64 == shared).then_some(c))
        .expect("a backend whose pid meets the first one's modulo 64");

    a.batch_execute("BEGIN; UPDATE messages SET status = 'delivered' WHERE id = 'm_a1'").unwrap();
    b.batch_execute("BEGIN; SET LOCAL lock_timeout = '2s'; UPDATE messages SET status = 'delivered' WHERE id = 'm_b1'")
        .unwrap();
    b.batch_execute("UPDATE messages SET status = 'delivered' WHERE id = 'm_a2'")
        .expect("counting account a must not wait for the other writer's transaction");
    a.batch_execute("UPDATE messages SET status = 'delivered' WHERE id = 'm_b2'; COMMIT").unwrap();
    b.batch_execute("COMMIT").unwrap();

    assert_eq!(sums(&mut connect(&db)), [("acc_a".into(), 2), ("acc_b".into(), 2)]);
}

/// The rows of a connection that ended are folded into shard 0; a live connection's stay its
/// own; the sums the queue page reads do not change.
mod totals_of_ended_connections_fold_into_shard_zero {
    #[test]
    fn postgres() {
        super::totals_of_ended_connections_fold_into_shard_zero(super::Backend::Postgres)
    }
}

fn totals_of_ended_connections_fold_into_shard_zero(backend: Backend) {
    let db = TestDb::new(backend);
    let store = relay_server::db::Db::open(&db.url).unwrap();
    connect(&db).batch_execute(SEED).unwrap();
    let mut ended = connect(&db);
    let ended_pid = pid(&mut ended);
    ended.batch_execute("UPDATE messages SET status = 'delivered' WHERE id IN ('m_a1', 'm_b1')").unwrap();
    let mut live = connect(&db);
    let live_pid = pid(&mut live);
    live.batch_execute("UPDATE messages SET status = 'delivered' WHERE id = 'm_a2'").unwrap();
    drop(ended);

    let mut conn = store.conn().unwrap();
    // A backend leaves pg_stat_activity a moment after its client hung up.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while shards(&mut connect(&db)).iter().any(|(_, shard, _)| *shard == ended_pid) {
        assert!(std::time::Instant::now() < deadline, "the ended connection's rows were never folded");
        fold_totals(&mut conn).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(
        shards(&mut connect(&db)),
        [("acc_a".into(), 0, 1), ("acc_a".into(), live_pid, 1), ("acc_b".into(), 0, 1)]
    );
    fold_totals(&mut conn).unwrap();
    assert_eq!(sums(&mut connect(&db)), [("acc_a".into(), 2), ("acc_b".into(), 1)], "a second fold changes nothing");
}

fn connect(db: &TestDb) -> PgConnection {
    PgConnection::establish(&db.url).unwrap()
}

#[derive(QueryableByName)]
struct Pid {
    #[diesel(sql_type = Integer)]
    pid: i32,
}

fn pid(conn: &mut PgConnection) -> i32 {
    diesel::sql_query("SELECT pg_backend_pid() AS pid").get_result::<Pid>(conn).unwrap().pid
}

#[derive(QueryableByName)]
struct Row {
    #[diesel(sql_type = Text)]
    account_id: String,
    #[diesel(sql_type = Integer)]
    shard: i32,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Every `delivered` row: account, shard, count.
fn shards(conn: &mut PgConnection) -> Vec<(String, i32, i64)> {
    diesel::sql_query(
        "SELECT account_id, shard, n FROM message_totals WHERE status = 'delivered' ORDER BY account_id, shard",
    )
    .load::<Row>(conn)
    .unwrap()
    .into_iter()
    .map(|r| (r.account_id, r.shard, r.n))
    .collect()
}

/// Delivered messages per account, summed over the shards as the queue page does.
fn sums(conn: &mut PgConnection) -> Vec<(String, i64)> {
    let mut sums: Vec<(String, i64)> = Vec::new();
    for (account, _, n) in shards(conn) {
        match sums.last_mut() {
            Some((last, total)) if *last == account => *total += n,
            _ => sums.push((account, n)),
        }
    }
    sums
}
