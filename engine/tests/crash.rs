//! Crash recovery: a child process commits transactions in a loop and prints
//! each acknowledged commit; the test kills it with SIGKILL at random moments
//! and checks after each restart that every acknowledged commit is present
//! and no transaction is half-applied.
//!
//! The child also checkpoints and compacts continuously on another thread
//! (with no flashback retention, so every counter version a checkpoint froze
//! is dropped by the next compaction), so kills land in every phase of a
//! checkpoint (segment writes, manifest switch, log removal) and between a
//! compaction and the checkpoint that writes its segments.
//!
//! The child is this same test binary, started with `RUSTYDB_CRASH_CHILD`
//! set so that `crash_child` runs the workload instead of returning.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rustydb_engine::api::Database;

use crate::{exec, query};

const CYCLES: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child() {
    let Ok(dir) = std::env::var("RUSTYDB_CRASH_CHILD") else { return };
    let options = rustydb_engine::api::DatabaseOptions {
        storage: rustydb_engine::api::StorageOptions { flashback_retention: Duration::ZERO, ..Default::default() },
        ..Default::default()
    };
    let db = Database::open_with(std::path::Path::new(&dir), options).unwrap();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE IF NOT EXISTS txns (id BIGINT PRIMARY KEY, part INT)").await;
    exec(&mut s, "CREATE TABLE IF NOT EXISTS counter (k INT PRIMARY KEY, n BIGINT)").await;
    exec(&mut s, "INSERT INTO counter VALUES (1, 0) ON CONFLICT DO NOTHING").await;
    let start: i64 =
        query(&mut s, "SELECT coalesce(max(id), 0) FROM txns WHERE part = 1").await.unwrap()[0][0].parse().unwrap();
    let storage = db.storage().clone();
    std::thread::spawn(move || {
        loop {
            storage.checkpoint().unwrap();
            if storage.compact().unwrap().versions_dropped > 0 {
                println!("compacted");
            }
            std::thread::sleep(Duration::from_millis(3));
        }
    });
    for id in start + 1.. {
        // Three rows and a counter bump per transaction: all or nothing.
        exec(
            &mut s,
            &format!(
                "BEGIN; INSERT INTO txns VALUES ({a}, 1), ({b}, 2), ({c}, 3);
                 UPDATE counter SET n = n + 1 WHERE k = 1; COMMIT",
                a = id,
                b = -id,
                c = id + 1_000_000_000
            ),
        )
        .await;
        println!("acked {id}");
    }
}

#[test]
fn killed_process_keeps_every_acknowledged_commit() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut rng = StdRng::seed_from_u64(7);
    let mut acked_max = 0i64;
    let mut compactions = 0;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    for cycle in 0..CYCLES {
        let mut child = Command::new(&exe)
            .args(["--exact", "crash::crash_child", "--nocapture", "--test-threads=1"])
            .env("RUSTYDB_CRASH_CHILD", dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let kill_after = Duration::from_millis(rng.random_range(50..400));
        let reader = std::thread::spawn(move || {
            let (mut last, mut compactions) = (0i64, 0usize);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("acked ") {
                    last = n.trim().parse().unwrap();
                } else if line == "compacted" {
                    compactions += 1;
                }
            }
            (last, compactions)
        });
        // Let it get going: wait for the database to open, then a random time.
        let started = Instant::now();
        while started.elapsed() < Duration::from_millis(300) + kill_after {
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let (last_acked, compacted) = reader.join().unwrap();
        compactions += compacted;
        acked_max = acked_max.max(last_acked);

        let (count, max, n, parts) = runtime.block_on(async {
            let db = Database::open(dir.path()).unwrap();
            let mut s = db.session();
            let r = query(&mut s, "SELECT count(*), coalesce(max(id), 0) FROM txns WHERE part = 1").await.unwrap();
            let n = query(&mut s, "SELECT n FROM counter").await.unwrap();
            let parts = query(&mut s, "SELECT part, count(*) FROM txns GROUP BY part ORDER BY part").await.unwrap();
            (r[0][0].parse::<i64>().unwrap(), r[0][1].parse::<i64>().unwrap(), n[0][0].parse::<i64>().unwrap(), parts)
        });
        assert!(max >= acked_max, "cycle {cycle}: acknowledged commit {acked_max} lost (found up to {max})");
        assert_eq!(count, max, "cycle {cycle}: transactions missing in the middle");
        assert_eq!(n, count, "cycle {cycle}: counter and rows disagree: half-applied transaction");
        for p in &parts {
            assert_eq!(p[1].parse::<i64>().unwrap(), count, "cycle {cycle}: part {} half-applied", p[0]);
        }
        acked_max = max;
    }
    assert!(acked_max > 0, "the child never committed");
    assert!(compactions > 0, "no compaction dropped a version: the kills never met one");
}
