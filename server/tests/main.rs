//! End-to-end tests of the `rustydb` binary: the SQL shell, and the server
//! with real PostgreSQL clients.

mod hooks;
mod jdbc;
mod pg;
mod pgbench;
mod python;
mod s3;
mod server;

use std::process::Command;

fn rustydb(data: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rustydb"))
        .arg("sql")
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .expect("run rustydb");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn command_runs_prints_a_table_and_persists() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = rustydb(
        dir.path(),
        &["-c", "CREATE TABLE t (id INT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'one'), (2, NULL)"],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "CREATE TABLE\nINSERT 0 2\n");
    let (code, out, _) = rustydb(dir.path(), &["-c", "SELECT id, name, id > 1 AS big FROM t ORDER BY id"]);
    assert_eq!(code, 0);
    assert_eq!(out, " id | name | big\n----+------+-----\n  1 | one  | f\n  2 |      | t\n(2 rows)\n");
}

#[test]
fn an_error_prints_its_sqlstate_and_stops_a_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.sql");
    std::fs::write(&script, "CREATE TABLE t (a INT);\nSELECT * FROM missing;\nCREATE TABLE never (a INT);\n").unwrap();
    let (code, out, err) = rustydb(&dir.path().join("data"), &["-f", script.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert_eq!(out, "CREATE TABLE\n");
    assert_eq!(err.trim(), "ERROR: 42P01: relation \"missing\" does not exist");
    // The statement after the error never ran.
    let (code, _, err) = rustydb(&dir.path().join("data"), &["-c", "SELECT count(*) AS n FROM never"]);
    assert_eq!(code, 1);
    assert!(err.contains("42P01"), "{err}");
}

#[test]
fn a_syntax_error_is_42601() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = rustydb(dir.path(), &["-c", "SELEC 1"]);
    assert_eq!(code, 1);
    assert!(err.starts_with("ERROR: 42601: "), "{err}");
}
