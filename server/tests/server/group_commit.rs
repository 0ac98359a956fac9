//! The group-commit writer: a failing job undoes only its own writes, with a savepoint among
//! others and by a rollback when alone. It folds the inserts of a transaction's sends into
//! one call (`db::writer::defer`): every other job still finds them stored, and if the folded
//! insert fails, every send of the transaction hears an error and none of its rows stays.

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use relay_server::db::writer::defer;
use relay_server::db::{Db, DbConnection, StoreError};

use crate::both_backends;
use crate::common::{Backend, TestDb};

both_backends!(a_failing_job_alone_leaves_nothing_and_hears_its_own_error);
both_backends!(a_failing_job_among_others_undoes_only_its_own_writes);
both_backends!(sends_of_a_transaction_are_inserted_in_one_call_before_any_other_job);
both_backends!(a_failed_folded_insert_fails_every_send_of_its_transaction);

/// All jobs of these tests go to the same writer: the one this route picks.
const ROUTE: Option<&str> = Some("one writer");

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Call {
    #[diesel(sql_type = Integer)]
    rows: i32,
}

/// Inserts the rows in one statement and notes the call with its number of rows.
fn insert_rows(conn: &mut DbConnection, rows: &[i32]) -> QueryResult<()> {
    let values: Vec<String> = rows.iter().map(|x| format!("({x})")).collect();
    conn.batch_execute(&format!(
        "INSERT INTO t (x) VALUES {}; INSERT INTO calls (rows) VALUES ({})",
        values.join(", "),
        rows.len()
    ))
}

/// A send of `x`: deferred, as a send's insert is.
fn send(db: &Db, x: i32) -> impl Future<Output = Result<(), StoreError>> {
    db.queue_messages(ROUTE, move |conn| match defer(x, insert_rows) {
        None => Ok(()),
        Some(x) => insert_rows(conn, &[x]).map_err(StoreError::from),
    })
}

/// Holds the writer in a job until the jobs submitted meanwhile are queued behind it: they
/// then run in one group transaction.
fn hold(db: &Db) -> impl Future<Output = Result<(), StoreError>> {
    let (started, running) = std::sync::mpsc::channel();
    let busy = db.write_intake(ROUTE, move |_| -> Result<(), StoreError> {
        let _ = started.send(());
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    });
    running.recv().unwrap();
    busy
}

fn count(conn: &mut DbConnection, sql: &str) -> i64 {
    diesel::sql_query(sql).get_result::<Count>(conn).unwrap().n
}

/// The table holds `total` rows, and none with `failed`, the failed job's value.
fn assert_kept(store: &Db, total: i64, failed: i32) {
    let mut conn = store.conn().unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM t"), total);
    let stayed = count(&mut conn, &format!("SELECT count(*) AS n FROM t WHERE x = {failed}"));
    assert_eq!(stayed, 0, "the failed job's row stayed");
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn open(backend: Backend) -> (TestDb, Db) {
    let db = TestDb::new(backend);
    let store = Db::open(&db.url).unwrap();
    store
        .conn()
        .unwrap()
        .batch_execute("CREATE TABLE t (x INTEGER PRIMARY KEY); CREATE TABLE calls (rows INTEGER NOT NULL)")
        .unwrap();
    (db, store)
}

/// A job that writes and then fails, with an error of its own to tell.
fn write_then_fail(db: &Db, x: i32) -> impl Future<Output = Result<(), StoreError>> {
    db.write_intake(ROUTE, move |conn| {
        insert_rows(conn, &[x])?;
        Err(StoreError::Migration(format!("job {x} failed")))
    })
}

fn write(db: &Db, x: i32) -> impl Future<Output = Result<(), StoreError>> {
    db.write_intake(ROUTE, move |conn| insert_rows(conn, &[x]).map_err(StoreError::from))
}

/// Alone in its transaction a job runs without a savepoint: its failure must roll the whole
/// transaction back, and its caller must hear its own error, not the writer's.
fn a_failing_job_alone_leaves_nothing_and_hears_its_own_error(backend: Backend) {
    let (_db, store) = open(backend);
    let runtime = runtime();
    runtime.block_on(async {
        match write_then_fail(&store, 1).await {
            Err(StoreError::Migration(m)) => assert_eq!(m, "job 1 failed"),
            other => panic!("the job's own error, not {other:?}"),
        }
        write(&store, 2).await.unwrap();
    });
    assert_kept(&store, 1, 1);
}

fn a_failing_job_among_others_undoes_only_its_own_writes(backend: Backend) {
    let (_db, store) = open(backend);
    let runtime = runtime();
    runtime.block_on(async {
        let busy = hold(&store);
        let (first, failing, last) = (write(&store, 1), write_then_fail(&store, 2), write(&store, 3));
        busy.await.unwrap();
        first.await.unwrap();
        assert!(matches!(failing.await, Err(StoreError::Migration(_))));
        last.await.unwrap();
    });
    assert_kept(&store, 2, 2);
}

fn sends_of_a_transaction_are_inserted_in_one_call_before_any_other_job(backend: Backend) {
    let (_db, store) = open(backend);
    let runtime = runtime();
    // Not in a send's job: the row comes back, to be inserted at once.
    assert_eq!(defer(7, insert_rows), Some(7));
    runtime.block_on(async {
        let busy = hold(&store);
        let first: Vec<_> = (0..10).map(|x| send(&store, x)).collect();
        let between = store.write_intake(ROUTE, |conn| Ok::<_, StoreError>(count(conn, "SELECT count(*) AS n FROM t")));
        let then: Vec<_> = (10..15).map(|x| send(&store, x)).collect();
        busy.await.unwrap();
        for s in first.into_iter().chain(then) {
            s.await.unwrap();
        }
        assert_eq!(between.await.unwrap(), 10, "the job after ten sends finds their ten rows");
    });
    let mut conn = store.conn().unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM t"), 15);
    let calls: Vec<i32> = diesel::sql_query("SELECT rows FROM calls")
        .load::<Call>(&mut conn)
        .unwrap()
        .into_iter()
        .map(|c| c.rows)
        .collect();
    assert_eq!(calls, vec![10, 5], "one insert before the other job, one before the commit");
}

fn a_failed_folded_insert_fails_every_send_of_its_transaction(backend: Backend) {
    let (_db, store) = open(backend);
    let runtime = runtime();
    runtime.block_on(async {
        let busy = hold(&store);
        // 101 twice: the folded insert breaks the key, and takes the whole transaction with it.
        let sends: Vec<_> = [100, 101, 102, 101].into_iter().map(|x| send(&store, x)).collect();
        busy.await.unwrap();
        for s in sends {
            assert!(s.await.is_err(), "a send of a failed transaction must not hear yes");
        }
        // The writer carries on: the same rows, once each, go in.
        for x in [100, 101, 102] {
            send(&store, x).await.unwrap();
        }
    });
    let mut conn = store.conn().unwrap();
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM t"), 3);
    assert_eq!(count(&mut conn, "SELECT count(*) AS n FROM calls"), 3, "nothing of the failed transaction stayed");
}
