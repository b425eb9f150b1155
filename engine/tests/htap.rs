//! HTAP freshness: analytic reads over checkpointed segments see a commit
//! from another session at once, and checkpoints need superuser rights.

use crate::{database, exec, query, rows};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregate_sees_a_commit_made_just_before_it() {
    let (_dir, db) = database();
    let mut analyst = db.session();
    let mut writer = db.session();
    exec(&mut analyst, "CREATE TABLE sales (id BIGINT PRIMARY KEY, amount BIGINT)").await;
    exec(&mut analyst, "INSERT INTO sales SELECT v, 1 FROM generate_series(1, 20000) AS s(v)").await;
    exec(&mut analyst, "CHECKPOINT").await;
    for round in 1..=3i64 {
        exec(&mut writer, &format!("INSERT INTO sales VALUES ({}, 100)", 100_000 + round)).await;
        exec(&mut writer, &format!("UPDATE sales SET amount = 0 WHERE id = {round}")).await;
        let got = query(&mut analyst, "SELECT count(*), sum(amount) FROM sales").await.unwrap();
        let want = (20000 + round, 20000 + 100 * round - round);
        assert_eq!(got, rows(&[&[&want.0.to_string(), &want.1.to_string()]]), "round {round}");
        if round == 2 {
            exec(&mut writer, "CHECKPOINT").await;
        }
    }
    // A REPEATABLE READ reader keeps its snapshot across a checkpoint.
    exec(&mut analyst, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    let before = query(&mut analyst, "SELECT sum(amount) FROM sales").await.unwrap();
    exec(&mut writer, "DELETE FROM sales WHERE id <= 10000").await;
    exec(&mut writer, "CHECKPOINT").await;
    assert_eq!(query(&mut analyst, "SELECT sum(amount) FROM sales").await.unwrap(), before);
    exec(&mut analyst, "COMMIT").await;
    assert_eq!(query(&mut analyst, "SELECT count(*) FROM sales").await.unwrap(), rows(&[&["10003"]]));
}

#[tokio::test]
async fn checkpoint_needs_a_superuser_once_one_exists() {
    let (_dir, db) = database();
    let mut admin = db.session();
    exec(&mut admin, "CREATE USER clerk PASSWORD 'y'").await;
    exec(&mut admin, "CREATE USER boss SUPERUSER PASSWORD 'x'").await;
    let mut clerk = db.session();
    clerk.set_session_info("clerk", 2);
    let err = clerk.execute("CHECKPOINT").await.unwrap_err();
    assert_eq!(err.sqlstate(), "42501");
    let mut boss = db.session();
    boss.set_session_info("boss", 3);
    exec(&mut boss, "CHECKPOINT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_the_memory_budget_fails_with_53200_and_the_next_one_runs() {
    let dir = tempfile::tempdir().unwrap();
    let options = rustydb_engine::api::DatabaseOptions { query_memory_bytes: 256 * 1024, ..Default::default() };
    let db = rustydb_engine::api::Database::open_with(dir.path(), options).unwrap();
    let mut s = db.session();
    // A hash join whose build side cannot fit and cannot spill.
    let err = s
        .execute(
            "SELECT count(*) FROM generate_series(1, 300000) AS a(v) JOIN generate_series(1, 300000) AS b(w) \
             ON a.v = b.w",
        )
        .await;
    let err = match err {
        Err(e) => e,
        Ok(mut outs) => crate::strings(outs.pop().unwrap()).await.unwrap_err(),
    };
    assert_eq!(err.sqlstate(), "53200", "{err}");
    assert_eq!(query(&mut s, "SELECT count(*) FROM generate_series(1, 1000)").await.unwrap(), rows(&[&["1000"]]));
}

/// Plans split into one partition per query thread; a session's own
/// `target_partitions` still wins, and 0 threads means one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plans_take_one_partition_per_query_thread() {
    let sql = "EXPLAIN SELECT v % 7, count(*) FROM generate_series(1, 100000) AS t(v) GROUP BY 1";
    let plan_text = |rows: Vec<Vec<String>>| rows.into_iter().flatten().collect::<Vec<_>>().join("\n");
    for threads in [3, 0] {
        let dir = tempfile::tempdir().unwrap();
        let options = rustydb_engine::api::DatabaseOptions { query_threads: threads, ..Default::default() };
        let db = rustydb_engine::api::Database::open_with(dir.path(), options).unwrap();
        let mut s = db.session();
        let plan = plan_text(query(&mut s, sql).await.unwrap());
        if threads == 3 {
            assert!(plan.contains("RoundRobinBatch(3)"), "{plan}");
            exec(&mut s, "SET datafusion.execution.target_partitions = 5").await;
            let plan = plan_text(query(&mut s, sql).await.unwrap());
            assert!(plan.contains("RoundRobinBatch(5)"), "{plan}");
        } else {
            assert!(!plan.contains("RepartitionExec"), "{plan}");
        }
        let counted = query(&mut s, "SELECT count(*) FROM generate_series(1, 100000) AS t(v) WHERE v % 7 = 0").await;
        assert_eq!(counted.unwrap(), rows(&[&["14285"]]));
    }
}

/// CHECKPOINT also compacts: with no retention, versions no snapshot reads
/// go (storage's tests count them), while an open REPEATABLE READ snapshot
/// keeps reading its own; reads and a restart see the same rows after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoint_compacts_what_no_snapshot_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut options = rustydb_engine::api::DatabaseOptions::default();
    options.storage.flashback_retention = std::time::Duration::ZERO;
    let db = rustydb_engine::api::Database::open_with(dir.path(), options).unwrap();
    let mut writer = db.session();
    let mut reader = db.session();
    exec(&mut writer, "CREATE TABLE t (id BIGINT PRIMARY KEY, v BIGINT)").await;
    exec(&mut writer, "INSERT INTO t SELECT x, 0 FROM generate_series(1, 5000) AS s(x)").await;
    exec(&mut writer, "CHECKPOINT").await;
    exec(&mut reader, "BEGIN ISOLATION LEVEL REPEATABLE READ").await;
    let before = query(&mut reader, "SELECT count(*), sum(v) FROM t").await.unwrap();
    assert_eq!(before, rows(&[&["5000", "0"]]));
    for v in 1..=3 {
        exec(&mut writer, &format!("UPDATE t SET v = {v} WHERE id <= 4000")).await;
        exec(&mut writer, "CHECKPOINT").await;
    }
    assert_eq!(query(&mut reader, "SELECT count(*), sum(v) FROM t").await.unwrap(), before);
    exec(&mut reader, "COMMIT").await;
    exec(&mut writer, "CHECKPOINT").await;
    let now = rows(&[&["5000", "12000"]]);
    assert_eq!(query(&mut reader, "SELECT count(*), sum(v) FROM t").await.unwrap(), now);
    assert_eq!(query(&mut reader, "SELECT v FROM t WHERE id = 4000").await.unwrap(), rows(&[&["3"]]));
    exec(&mut writer, "DELETE FROM t WHERE id > 4500").await;
    exec(&mut writer, "CHECKPOINT").await;
    assert_eq!(query(&mut reader, "SELECT count(*), sum(v) FROM t").await.unwrap(), rows(&[&["4500", "12000"]]));
    drop((reader, writer));
    drop(db);
    let db = rustydb_engine::api::Database::open(dir.path()).unwrap();
    let mut s = db.session();
    assert_eq!(query(&mut s, "SELECT count(*), sum(v) FROM t").await.unwrap(), rows(&[&["4500", "12000"]]));
}

/// A full scan tells DataFusion's planner the bounds and NULLs of the
/// frozen rows (zone maps), so it can estimate filters and plan joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scans_give_the_planner_column_statistics() {
    let (_dir, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE m (k INT, label TEXT, d DATE)").await;
    exec(
        &mut s,
        "INSERT INTO m SELECT v, CASE WHEN v % 10 = 0 THEN NULL ELSE 'n' || v END, DATE '2024-01-01' + v \
         FROM generate_series(-5, 994) AS t(v)",
    )
    .await;
    exec(&mut s, "CHECKPOINT").await;
    exec(&mut s, "INSERT INTO m VALUES (5000, 'hot', NULL)").await;
    exec(&mut s, "SET datafusion.explain.show_statistics = true").await;
    let plan = query(&mut s, "EXPLAIN SELECT k, label, d FROM m").await.unwrap();
    let physical = plan.iter().find(|r| r[0] == "physical_plan").map(|r| r[1].clone()).unwrap();
    let scan = physical.lines().find(|l| l.contains("RowStoreScan")).unwrap_or_default().to_owned();
    for want in [
        "Rows=Inexact(1001)",
        "Min=Inexact(Int32(-5)) Max=Inexact(Int32(994)) Null=Inexact(0)",
        // Text has no zone map (storage/src/segment/mod.rs): its NULLs only.
        "(Col[1]: Null=Inexact(100))",
        "Min=Inexact(Date32(\"2023-12-27\")) Max=Inexact(Date32(\"2026-09-21\"))",
    ] {
        assert!(scan.contains(want), "{want} not in {scan}");
    }
}
