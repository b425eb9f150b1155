//! A `rustydb serve` child process for end-to-end tests.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// A server child process on a free loopback port, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::start_at(&dir.path().join("data"));
        server._dir = Some(dir);
        server
    }

    /// Starts on a data directory the caller keeps (restart after a crash).
    pub fn start_at(data: &std::path::Path) -> Server {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut child = Command::new(env!("CARGO_BIN_EXE_rustydb"))
            .args(["serve", "--pg-listen", &format!("127.0.0.1:{port}"), "--max-connections", "8", "--data"])
            .arg(data)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening"), "unexpected first line: {line}");
        Server { child, port, _dir: None }
    }

    /// Environment for PostgreSQL client tools (psql, pgbench).
    pub fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "rustydb")
            .env("PGDATABASE", "rustydb")
            .env("PGCONNECT_TIMEOUT", "10");
        cmd
    }

    /// One value from a query, through psql.
    pub fn query_value(&self, sql: &str) -> String {
        let (code, out, err) = self.psql(&format!("\\pset tuples_only on\n\\pset format unaligned\n{sql}"));
        assert_eq!(code, 0, "{sql}: {err}");
        out.trim().to_owned()
    }

    pub fn psql(&self, script: &str) -> (i32, String, String) {
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
