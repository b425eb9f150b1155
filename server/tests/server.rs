//! A `rustydb serve` child process for end-to-end tests.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

/// A server child process on a free loopback port, killed on drop.
pub struct Server {
    pub child: Child,
    pub port: u16,
    /// Where Arrow Flight SQL listens.
    pub flight_port: u16,
    /// Superuser password (RUSTYDB_PASSWORD) the clients send, if any.
    pub password: Option<String>,
    /// The data directory.
    pub data: std::path::PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    pub fn start() -> Server {
        Server::start_with_password(None)
    }

    /// A fresh server whose superuser `rustydb` has `password`: every
    /// client then authenticates with SCRAM-SHA-256.
    pub fn start_with_password(password: Option<&str>) -> Server {
        Server::start_with(password, &[])
    }

    /// A fresh server with extra `serve` arguments.
    pub fn start_with(password: Option<&str>, args: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let mut server = Server::launch(&dir.path().join("data"), password, args);
        server._dir = Some(dir);
        server
    }

    /// Starts on a data directory the caller keeps (restart after a crash).
    pub fn start_at(data: &std::path::Path) -> Server {
        Server::launch(data, None, &[])
    }

    /// Starts on a data directory the caller keeps, with extra `serve`
    /// arguments and environment variables.
    pub fn start_at_with(data: &std::path::Path, args: &[&str], env: &[(&str, String)]) -> Server {
        Server::launch_with_env(data, None, args, env)
    }

    fn launch(data: &std::path::Path, password: Option<&str>, args: &[&str]) -> Server {
        Server::launch_with_env(data, password, args, &[])
    }

    fn launch_with_env(
        data: &std::path::Path,
        password: Option<&str>,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Server {
        let free_port = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let (port, flight_port) = (free_port(), free_port());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustydb"));
        cmd.args(["serve", "--pg-listen", &format!("127.0.0.1:{port}")])
            .args(["--flight-listen", &format!("127.0.0.1:{flight_port}")])
            .arg("--data")
            .arg(data)
            .args(args)
            .env_remove("RUSTYDB_PASSWORD")
            .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if !args.contains(&"--max-connections") {
            // pgbench runs 8 clients right after another client left, whose
            // slot is free only once the server has seen it go: 8 raced.
            cmd.args(["--max-connections", "16"]);
        }
        if let Some(p) = password {
            cmd.env("RUSTYDB_PASSWORD", p);
        }
        let mut child = cmd.spawn().unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        assert!(line.contains("listening"), "unexpected first line: {line}");
        Server { child, port, flight_port, password: password.map(str::to_owned), data: data.to_owned(), _dir: None }
    }

    /// Environment for PostgreSQL client tools (psql, pgbench).
    pub fn client(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PGHOST", "127.0.0.1")
            .env("PGPORT", self.port.to_string())
            .env("PGUSER", "rustydb")
            .env("PGDATABASE", "rustydb")
            .env("PGCONNECT_TIMEOUT", "10")
            .env_remove("PGPASSWORD");
        if let Some(p) = &self.password {
            cmd.env("PGPASSWORD", p);
        }
        cmd
    }

    /// One value from a query, through psql.
    pub fn query_value(&self, sql: &str) -> String {
        let (code, out, err) = self.psql(&format!("\\pset tuples_only on\n\\pset format unaligned\n{sql}"));
        assert_eq!(code, 0, "{sql}: {err}");
        out.trim().to_owned()
    }

    /// psql with `sslmode` (as the bootstrap superuser).
    pub fn client_with_sslmode(&self, sslmode: &str, script: &str) -> (i32, String, String) {
        self.run_psql(self.client("psql").env("PGSSLMODE", sslmode), "rustydb", self.password.as_deref(), script)
    }

    pub fn psql(&self, script: &str) -> (i32, String, String) {
        self.psql_as("rustydb", self.password.as_deref(), script)
    }

    /// psql as another user, with a password (SCRAM) or none.
    pub fn psql_as(&self, user: &str, password: Option<&str>, script: &str) -> (i32, String, String) {
        self.run_psql(&mut self.client("psql"), user, password, script)
    }

    fn run_psql(&self, cmd: &mut Command, user: &str, password: Option<&str>, script: &str) -> (i32, String, String) {
        cmd.args(["-X", "-q", "-w", "-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose", "-U", user]);
        match password {
            Some(p) => cmd.env("PGPASSWORD", p),
            None => cmd.env_remove("PGPASSWORD"),
        };
        let mut child = cmd
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
