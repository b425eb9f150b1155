//! Hermitage cases in which one session waits for another, plus deadlock
//! detection and lock timeouts. Expected results are PostgreSQL's.

use std::time::Duration;

use rustydb_engine::api::Session;

use crate::{database, exec, query, rows};

const WAIT: Duration = Duration::from_millis(150);

async fn setup(level: &str) -> (tempfile::TempDir, Session, Session) {
    let (dir, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE test (id INT PRIMARY KEY, value INT); INSERT INTO test VALUES (1, 10), (2, 20)").await;
    let mut t1 = db.session();
    let mut t2 = db.session();
    exec(&mut t1, &format!("START TRANSACTION ISOLATION LEVEL {level}")).await;
    exec(&mut t2, &format!("START TRANSACTION ISOLATION LEVEL {level}")).await;
    (dir, t1, t2)
}

/// Starts `sql` on `s` in the background and checks that it is still waiting.
async fn blocked(mut s: Session, sql: &'static str) -> tokio::task::JoinHandle<(Session, Result<(), String>)> {
    let h = tokio::spawn(async move {
        let r = s.execute(sql).await.map(|_| ()).map_err(|e| e.sqlstate().to_owned());
        (s, r)
    });
    tokio::time::sleep(WAIT).await;
    assert!(!h.is_finished(), "`{sql}` should wait for the other transaction");
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g0_write_cycles() {
    for level in ["READ COMMITTED", "REPEATABLE READ"] {
        let (_d, mut t1, mut t2) = setup(level).await;
        exec(&mut t1, "UPDATE test SET value = 11 WHERE id = 1").await;
        exec(&mut t2, "SELECT 1").await;
        let h = blocked(t2, "UPDATE test SET value = 12 WHERE id = 1").await;
        exec(&mut t1, "UPDATE test SET value = 21 WHERE id = 2").await;
        exec(&mut t1, "COMMIT").await;
        let (mut t2, r) = h.await.unwrap();
        if level == "READ COMMITTED" {
            r.unwrap();
            exec(&mut t2, "UPDATE test SET value = 22 WHERE id = 2").await;
            exec(&mut t2, "COMMIT").await;
            assert_eq!(
                query(&mut t1, "SELECT * FROM test ORDER BY id").await.unwrap(),
                rows(&[&["1", "12"], &["2", "22"]])
            );
        } else {
            assert_eq!(r.unwrap_err(), "40001");
            exec(&mut t2, "ROLLBACK").await;
            assert_eq!(
                query(&mut t1, "SELECT * FROM test ORDER BY id").await.unwrap(),
                rows(&[&["1", "11"], &["2", "21"]])
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p4_lost_update() {
    for level in ["READ COMMITTED", "REPEATABLE READ"] {
        let (_d, mut t1, mut t2) = setup(level).await;
        query(&mut t1, "SELECT * FROM test WHERE id = 1").await.unwrap();
        query(&mut t2, "SELECT * FROM test WHERE id = 1").await.unwrap();
        exec(&mut t1, "UPDATE test SET value = value + 1 WHERE id = 1").await;
        let h = blocked(t2, "UPDATE test SET value = value + 1 WHERE id = 1").await;
        exec(&mut t1, "COMMIT").await;
        let (mut t2, r) = h.await.unwrap();
        if level == "READ COMMITTED" {
            // The waiter re-reads the committed row: no update is lost.
            r.unwrap();
            exec(&mut t2, "COMMIT").await;
            assert_eq!(query(&mut t1, "SELECT value FROM test WHERE id = 1").await.unwrap(), rows(&[&["12"]]));
        } else {
            assert_eq!(r.unwrap_err(), "40001");
            exec(&mut t2, "ROLLBACK").await;
            assert_eq!(query(&mut t1, "SELECT value FROM test WHERE id = 1").await.unwrap(), rows(&[&["11"]]));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otv_observed_transaction_vanishes() {
    for level in ["READ COMMITTED", "REPEATABLE READ"] {
        let (_d, mut t1, t2) = setup(level).await;
        exec(&mut t1, "UPDATE test SET value = 11 WHERE id = 1; UPDATE test SET value = 19 WHERE id = 2").await;
        let h = blocked(t2, "UPDATE test SET value = 12 WHERE id = 1").await;
        exec(&mut t1, "COMMIT").await;
        let (mut t2, r) = h.await.unwrap();
        if level == "READ COMMITTED" {
            r.unwrap();
            // T2 sees its own write and T1's committed one, never a mix that vanishes.
            assert_eq!(
                query(&mut t2, "SELECT * FROM test ORDER BY id").await.unwrap(),
                rows(&[&["1", "12"], &["2", "19"]])
            );
            exec(&mut t2, "UPDATE test SET value = 18 WHERE id = 2; COMMIT").await;
        } else {
            assert_eq!(r.unwrap_err(), "40001");
            exec(&mut t2, "ROLLBACK").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pmp_write_predicate() {
    for level in ["READ COMMITTED", "REPEATABLE READ"] {
        let (_d, mut t1, t2) = setup(level).await;
        exec(&mut t1, "UPDATE test SET value = value + 10").await;
        let h = blocked(t2, "DELETE FROM test WHERE value = 20").await;
        exec(&mut t1, "COMMIT").await;
        let (mut t2, r) = h.await.unwrap();
        if level == "READ COMMITTED" {
            // Row 2 no longer matches after re-check; row 1 was not selected.
            r.unwrap();
            assert_eq!(
                query(&mut t2, "SELECT * FROM test ORDER BY id").await.unwrap(),
                rows(&[&["1", "20"], &["2", "30"]])
            );
            exec(&mut t2, "COMMIT").await;
        } else {
            assert_eq!(r.unwrap_err(), "40001");
            exec(&mut t2, "ROLLBACK").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn g_single_write_predicate() {
    for level in ["READ COMMITTED", "REPEATABLE READ"] {
        let (_d, mut t1, mut t2) = setup(level).await;
        assert_eq!(query(&mut t1, "SELECT * FROM test WHERE id = 1").await.unwrap(), rows(&[&["1", "10"]]));
        exec(&mut t2, "UPDATE test SET value = 12 WHERE id = 1; UPDATE test SET value = 18 WHERE id = 2").await;
        let h = blocked(t1, "DELETE FROM test WHERE value = 20").await;
        exec(&mut t2, "COMMIT").await;
        let (mut t1, r) = h.await.unwrap();
        if level == "READ COMMITTED" {
            r.unwrap();
            exec(&mut t1, "COMMIT").await;
            assert_eq!(
                query(&mut t2, "SELECT * FROM test ORDER BY id").await.unwrap(),
                rows(&[&["1", "12"], &["2", "18"]])
            );
        } else {
            assert_eq!(r.unwrap_err(), "40001");
            exec(&mut t1, "ROLLBACK").await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadlock_picks_a_victim() {
    let (_d, mut t1, mut t2) = setup("READ COMMITTED").await;
    exec(&mut t1, "UPDATE test SET value = 11 WHERE id = 1").await;
    exec(&mut t2, "UPDATE test SET value = 22 WHERE id = 2").await;
    let h = blocked(t1, "UPDATE test SET value = 12 WHERE id = 2").await;
    let err = t2.execute("UPDATE test SET value = 21 WHERE id = 1").await.unwrap_err();
    assert_eq!(err.sqlstate(), "40P01");
    // The victim's block is failed; rolling it back lets the other go on.
    exec(&mut t2, "ROLLBACK").await;
    let (mut t1, r) = h.await.unwrap();
    r.unwrap();
    exec(&mut t1, "COMMIT").await;
    assert_eq!(query(&mut t2, "SELECT * FROM test ORDER BY id").await.unwrap(), rows(&[&["1", "11"], &["2", "12"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_timeout_bounds_the_wait() {
    let (_d, mut t1, mut t2) = setup("READ COMMITTED").await;
    exec(&mut t1, "UPDATE test SET value = 11 WHERE id = 1").await;
    exec(&mut t2, "SET lock_timeout = '100ms'").await;
    let err = t2.execute("UPDATE test SET value = 12 WHERE id = 1").await.unwrap_err();
    assert_eq!(err.sqlstate(), "55P03");
    exec(&mut t2, "ROLLBACK").await;
    exec(&mut t1, "COMMIT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_insert_of_one_key_waits_then_conflicts() {
    let (_d, mut t1, t2) = setup("READ COMMITTED").await;
    exec(&mut t1, "INSERT INTO test VALUES (3, 30)").await;
    let h = blocked(t2, "INSERT INTO test VALUES (3, 31)").await;
    exec(&mut t1, "COMMIT").await;
    let (mut t2, r) = h.await.unwrap();
    assert_eq!(r.unwrap_err(), "23505");
    exec(&mut t2, "ROLLBACK").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_waits_for_a_rolled_back_inserter_then_succeeds() {
    let (_d, mut t1, t2) = setup("READ COMMITTED").await;
    exec(&mut t1, "INSERT INTO test VALUES (3, 30)").await;
    let h = blocked(t2, "INSERT INTO test VALUES (3, 31)").await;
    exec(&mut t1, "ROLLBACK").await;
    let (mut t2, r) = h.await.unwrap();
    r.unwrap();
    exec(&mut t2, "COMMIT").await;
    assert_eq!(query(&mut t1, "SELECT value FROM test WHERE id = 3").await.unwrap(), rows(&[&["31"]]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_for_update_waits_and_sees_the_new_version() {
    let (_d, mut t1, t2) = setup("READ COMMITTED").await;
    exec(&mut t1, "UPDATE test SET value = 11 WHERE id = 1").await;
    let h = tokio::spawn(async move {
        let mut t2 = t2;
        let r = query(&mut t2, "SELECT value FROM test WHERE id = 1 FOR UPDATE").await;
        (t2, r)
    });
    tokio::time::sleep(WAIT).await;
    assert!(!h.is_finished());
    exec(&mut t1, "COMMIT").await;
    let (mut t2, r) = h.await.unwrap();
    assert_eq!(r.unwrap(), rows(&[&["11"]]));
    exec(&mut t2, "COMMIT").await;
}
