//! OLTP micro-benchmarks of the engine's Session API (in-process, no network).
//!
//! Run: `cargo run --release -p rustydb-benches --bin oltp`
//! Results are recorded in docs/benchmarks.md.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::common::ScalarValue;
use futures::TryStreamExt;
use rustydb_engine::api::{Database, Session, StatementResult};

async fn exec(s: &mut Session, sql: &str) {
    for out in s.execute(sql).await.expect(sql) {
        if let StatementResult::Rows { stream, .. } = out {
            let _: Vec<_> = stream.try_collect().await.expect(sql);
        }
    }
}

async fn commits(db: Arc<Database>, base: i64, sessions: usize, per_session: usize, sync: bool) -> f64 {
    let start = Instant::now();
    let handles: Vec<_> = (0..sessions)
        .map(|i| {
            let db = db.clone();
            tokio::spawn(async move {
                let mut s = db.session();
                if !sync {
                    exec(&mut s, "SET synchronous_commit = off").await;
                }
                let mut ins = s.prepare("INSERT INTO c VALUES ($1, $2)", &[]).await.unwrap();
                for j in 0..per_session {
                    let id = base + (i * 1_000_000 + j) as i64;
                    s.execute_prepared(
                        &mut ins,
                        vec![ScalarValue::Int64(Some(id)), ScalarValue::Int64(Some(j as i64))],
                    )
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    (sessions * per_session) as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        exec(&mut s, "CREATE TABLE c (id BIGINT PRIMARY KEY, v BIGINT)").await;
        println!(
            "autocommit INSERT, 1 session, fsync:       {:>9.0} commits/s",
            commits(db.clone(), 0, 1, 300, true).await
        );
        println!(
            "autocommit INSERT, 8 sessions, fsync:      {:>9.0} commits/s",
            commits(db.clone(), 100_000_000, 8, 300, true).await
        );
        println!(
            "autocommit INSERT, 1 session, async commit: {:>8.0} commits/s",
            commits(db.clone(), 200_000_000, 1, 3000, false).await
        );

        let (rate, cpu) = writer(&mut s).await;
        println!("HTAP writer txn (literal UPDATE + INSERT):  {rate:>8.0} tx/s, {cpu:.1} µs CPU each");

        exec(&mut s, "CREATE TABLE acc (id BIGINT PRIMARY KEY, balance BIGINT)").await;
        exec(&mut s, "INSERT INTO acc SELECT value, 0 FROM generate_series(1, 100000) AS g(value)").await;
        let sel = s.prepare("SELECT balance FROM acc WHERE id = $1", &[]).await.unwrap();
        let n = 5000;
        let start = Instant::now();
        for i in 0..n {
            let out = s.execute_prepared(&sel, vec![ScalarValue::Int64(Some(1 + (i * 7919) % 100_000))]).await.unwrap();
            let _ = out.collect().await.unwrap();
        }
        let per = start.elapsed() / n as u32;
        println!(
            "prepared point SELECT by primary key:      {:>9.1} µs ({:.0}/s)",
            micros(per),
            1.0 / per.as_secs_f64()
        );

        let start = Instant::now();
        let out = s.execute("SELECT sum(balance + id) FROM acc").await.unwrap().pop().unwrap();
        let _ = out.collect().await.unwrap();
        let t = start.elapsed();
        println!(
            "full scan + sum of 100k rows:              {:>9.1} ms ({:.1} M rows/s)",
            millis(t),
            0.1 / t.as_secs_f64()
        );

        let start = Instant::now();
        exec(&mut s, "UPDATE acc SET balance = balance + 1 WHERE id % 10 = 0").await;
        println!("UPDATE of 10k of 100k rows:                {:>9.1} ms", millis(start.elapsed()));

        trickle().await;

        // One block of many small statements (a script, an ORM's unit of
        // work): each statement should cost the same however many came before.
        exec(&mut s, "CREATE TABLE script (id BIGINT PRIMARY KEY, v TEXT)").await;
        for n in [10_000, 20_000] {
            exec(&mut s, "BEGIN").await;
            let start = Instant::now();
            for i in 0..n {
                exec(&mut s, &format!("INSERT INTO script VALUES ({}, 'row {i}')", n * 10 + i)).await;
            }
            exec(&mut s, "COMMIT").await;
            let t = start.elapsed();
            println!(
                "block of {n} literal INSERTs:           {:>9.1} ms ({:.1} µs each)",
                millis(t),
                micros(t / n as u32)
            );
        }
    });
}

/// A table written a little at a time with a checkpoint after each write
/// (200 of 2,000 rows): its scan, key lookups and restart over one segment
/// per checkpoint, then after compaction merged the small segments.
async fn trickle() {
    const ROUNDS: i64 = 200;
    const ROWS: i64 = 2_000;
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE tr (id BIGINT PRIMARY KEY, v BIGINT)").await;
    for r in 0..ROUNDS {
        let (first, last) = (r * ROWS + 1, (r + 1) * ROWS);
        let sql = format!("INSERT INTO tr SELECT value, value % 7 FROM generate_series({first}, {last}) AS g(value)");
        exec(&mut s, &sql).await;
        // The checkpoint alone: compaction (and merging) comes after.
        db.storage().checkpoint().unwrap();
    }
    let files = || {
        std::fs::read_dir(dir.path().join("segments"))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().to_string_lossy().contains(".parquet"))
            .count()
    };
    let restart = |db: Arc<Database>| {
        drop(db);
        let start = Instant::now();
        let db = Database::open(dir.path()).unwrap();
        (db, start.elapsed())
    };
    let measure = async |db: &Arc<Database>, what: &str, restarted: Duration| {
        let mut s = db.session();
        let lookup = s.prepare("SELECT v FROM tr WHERE id = $1", &[]).await.unwrap();
        let mut scans: Vec<Duration> = Vec::new();
        for _ in 0..7 {
            let start = Instant::now();
            exec(&mut s, "SELECT sum(v), count(*) FROM tr").await;
            scans.push(start.elapsed());
        }
        scans.sort();
        let n = 5000;
        let start = Instant::now();
        for i in 0..n {
            let id = 1 + (i * 7919) % (ROUNDS * ROWS);
            let out = s.execute_prepared(&lookup, vec![ScalarValue::Int64(Some(id))]).await.unwrap();
            let _ = out.collect().await.unwrap();
        }
        let per = start.elapsed() / n as u32;
        println!(
            "{what:<34} restart {:>5.1} ms, scan of 400k rows {:>4.1} ms (median of 7), key lookup {:>4.1} µs",
            millis(restarted),
            millis(scans[3]),
            micros(per)
        );
    };
    drop(s);
    let (db, restarted) = restart(db);
    measure(&db, &format!("trickle, {} segment files:", files()), restarted).await;
    let start = Instant::now();
    let stats = db.storage().compact().unwrap();
    let took = start.elapsed();
    exec(&mut db.session(), "INSERT INTO tr VALUES (0, 0)").await;
    db.storage().checkpoint().unwrap();
    println!(
        "merging {} segments into {} took {:.1} ms; {} segment files after the next checkpoint (one new)",
        stats.merged.segments,
        stats.merged.merges,
        millis(took),
        files()
    );
    let (db, restarted) = restart(db);
    measure(&db, "trickle, merged:", restarted).await;
}

/// The write load of the TPC-H bench's HTAP run (`tpch.rs`), alone for 5 s:
/// its rate, and the process's CPU time per transaction (what it takes from
/// queries running beside it).
async fn writer(s: &mut Session) -> (f64, f64) {
    exec(s, "CREATE TABLE accounts (aid BIGINT PRIMARY KEY, abalance BIGINT)").await;
    exec(s, "INSERT INTO accounts SELECT v, 0 FROM generate_series(1, 100000) AS t(v)").await;
    exec(s, "CREATE TABLE history (aid BIGINT, delta BIGINT)").await;
    let (cpu0, t0) = (rustydb_benches::thread_times("").on_cpu, Instant::now());
    let mut n = 0u64;
    while t0.elapsed() < Duration::from_secs(5) {
        let aid = (n * 7919) % 100_000 + 1;
        exec(
            s,
            &format!(
                "BEGIN; UPDATE accounts SET abalance = abalance + 1 WHERE aid = {aid}; INSERT INTO history VALUES ({aid}, 1); COMMIT"
            ),
        )
        .await;
        n += 1;
    }
    let cpu = rustydb_benches::thread_times("").on_cpu - cpu0;
    (n as f64 / t0.elapsed().as_secs_f64(), micros(cpu) / n as f64)
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
