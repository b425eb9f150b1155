//! pgbench, PostgreSQL's own benchmark client, against `rustydb serve`:
//! initialisation (COPY, ALTER TABLE ADD PRIMARY KEY, VACUUM), the TPC-B-like
//! and select-only loads in simple and prepared modes, and a SIGKILL in the
//! middle of a run. Afterwards the money adds up: every transaction moves the
//! same delta through one account, teller and branch and logs it in history.

use std::process::Output;

use crate::server::Server;

fn pgbench(server: &Server, args: &[&str]) -> Output {
    server.client("pgbench").args(args).output().expect("pgbench is installed by scripts/install-test-deps.sh")
}

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Transactions pgbench reports as processed, checking none failed.
fn processed(out: &Output) -> u64 {
    let t = text(out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("number of failed transactions: 0 "), "{t}");
    let line = t.lines().find(|l| l.starts_with("number of transactions actually processed")).expect("summary");
    line.split(": ").nth(1).and_then(|v| v.split('/').next()).unwrap().trim().parse().unwrap()
}

/// Sum of balances in accounts, tellers, branches and the history deltas.
fn balances(server: &Server) -> [i64; 4] {
    let v = server.query_value(
        "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts) || ',' ||
                (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers) || ',' ||
                (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches) || ',' ||
                (SELECT coalesce(sum(delta), 0) FROM pgbench_history)",
    );
    let v: Vec<i64> = v.split(',').map(|x| x.parse().unwrap()).collect();
    [v[0], v[1], v[2], v[3]]
}

fn assert_balanced(server: &Server) {
    let [a, t, b, h] = balances(server);
    assert!(a == t && t == b && b == h, "accounts {a}, tellers {t}, branches {b}, history {h}");
}

/// The acceptance load: scale 10 (a million accounts), 8 clients
/// on 2 threads, 30 seconds per TPC-B-like run.
#[test]
fn pgbench_initialises_runs_and_balances_agree() {
    let server = Server::start();
    let init = pgbench(&server, &["-i", "-s", "10"]);
    assert!(init.status.success(), "{}", text(&init));
    assert_eq!(server.query_value("SELECT count(*) FROM pgbench_accounts"), "1000000");

    let simple = processed(&pgbench(&server, &["-T", "30", "-c", "8", "-j", "2"]));
    assert!(simple > 0);
    assert_balanced(&server);
    assert_eq!(server.query_value("SELECT count(*) FROM pgbench_history"), simple.to_string());

    // -n: keep the history of the first run, so the totals keep agreeing.
    let prepared = processed(&pgbench(&server, &["-n", "-M", "prepared", "-T", "30", "-c", "8", "-j", "2"]));
    assert!(prepared > 0);
    assert_balanced(&server);
    assert_eq!(server.query_value("SELECT count(*) FROM pgbench_history"), (simple + prepared).to_string());

    let select_only = processed(&pgbench(&server, &["-n", "-S", "-M", "prepared", "-T", "10", "-c", "8", "-j", "2"]));
    assert!(select_only > 0);
}

#[test]
fn sigkill_during_pgbench_loses_no_acknowledged_transaction() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log_prefix = dir.path().join("txlog");
    let mut server = Server::start_at(&data);
    assert!(pgbench(&server, &["-i", "-s", "1"]).status.success());
    // Per-transaction logs: a line for every transaction pgbench saw commit.
    let run = server
        .client("pgbench")
        .args(["-n", "-T", "30", "-c", "4", "-j", "2", "-l", "--log-prefix"])
        .arg(&log_prefix)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(3));
    server.child.kill().unwrap();
    server.child.wait().unwrap();
    let bench = run.wait_with_output().unwrap();
    assert!(!bench.status.success(), "pgbench should see the server die");

    let acknowledged: usize = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("txlog"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap().lines().filter(|l| committed_line(l)).count())
        .sum();
    assert!(acknowledged > 0, "no transaction finished before the kill");

    let server = Server::start_at(&data);
    assert_balanced(&server);
    let history: usize = server.query_value("SELECT count(*) FROM pgbench_history").parse().unwrap();
    // A transaction can commit and die before pgbench hears of it, never the reverse.
    assert!(history >= acknowledged, "history has {history} rows, pgbench saw {acknowledged} commits");
}

/// A `-l` log line of a finished transaction: its third field is the
/// latency in microseconds ("failed" or "skipped" otherwise).
fn committed_line(line: &str) -> bool {
    line.split(' ').nth(2).is_some_and(|f| f.parse::<u64>().is_ok())
}
