//! `rustydb serve` with psql, the PostgreSQL client (installed by
//! scripts/install-test-deps.sh), and with malformed protocol traffic.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A server child process on a free loopback port, killed on drop.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustydb"))
            .args(["serve", "--pg-listen", &format!("127.0.0.1:{port}"), "--max-connections", "8", "--data"])
            .arg(dir.path().join("data"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening"), "unexpected first line: {line}");
        Server { child, port, _dir: dir }
    }

    fn psql(&self, script: &str) -> (i32, String, String) {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-h", "127.0.0.1"])
            .args(["-p", &self.port.to_string(), "-U", "rustydb", "-d", "rustydb"])
            .env("PGCONNECT_TIMEOUT", "10")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("psql is installed by scripts/install-test-deps.sh");
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into(),
            String::from_utf8_lossy(&out.stderr).into(),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn psql_runs_a_script_with_transactions_and_errors() {
    let server = Server::start();
    let (code, out, err) = server.psql(
        "CREATE TABLE acc (id INT PRIMARY KEY, owner TEXT, balance NUMERIC(10,2) DEFAULT 0);
         INSERT INTO acc (id, owner) VALUES (1, 'ann'), (2, 'bob');
         BEGIN;
         UPDATE acc SET balance = balance + 10.5 WHERE id = 1;
         COMMIT;
         BEGIN;
         UPDATE acc SET balance = 99 WHERE id = 2;
         ROLLBACK;
         \\pset format unaligned
         SELECT id, owner, balance FROM acc ORDER BY id;",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "id|owner|balance\n1|ann|10.50\n2|bob|0.00\n(2 rows)");

    // An error reports its SQLSTATE and stops the script.
    let (code, _, err) = server.psql("INSERT INTO acc (id) VALUES (1);\nSELECT 1;");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("23505"), "{err}");

    // Errors inside a block fail it until ROLLBACK.
    let (code, out, err) = server.psql(
        "\\set ON_ERROR_STOP 0
         BEGIN;
         SELECT 1/0;
         SELECT 1;
         ROLLBACK;
         \\pset format unaligned
         \\pset tuples_only on
         SELECT count(*) FROM acc;",
    );
    assert_eq!(code, 0);
    assert!(err.contains("22012") && err.contains("25P02"), "{err}");
    assert_eq!(out.trim(), "2");
}

#[test]
fn unknown_database_is_refused_with_3d000() {
    let server = Server::start();
    let out = Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-p", &server.port.to_string(), "-d", "nope", "-c", "SELECT 1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database \"nope\" does not exist"));
}

#[test]
fn malformed_traffic_ends_only_that_connection() {
    let server = Server::start();
    let garbage: [&[u8]; 4] = [
        b"\x00\x00\x00\x08\x04\xd2\x16\x2f\xff\xff", // bad SSL-style request then junk
        b"\x7f\xff\xff\xff\x00\x03\x00\x00",         // huge declared startup length
        b"\x00\x00",                                 // truncated
        b"\x00\x00\x00\x09\x00\x03\x00\x00\xff",     // startup with invalid UTF-8
    ];
    for g in garbage {
        let mut s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.write_all(g);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    let (code, out, err) = server.psql("\\pset tuples_only on\nSELECT 40 + 2;");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "42");
}
