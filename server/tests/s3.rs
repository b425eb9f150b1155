//! Segment files in an S3-compatible store: moto's S3 server (installed by
//! scripts/install-test-deps.sh) stands in for S3.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::server::Server;

/// moto's server on a free port, killed on drop.
struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    fn start() -> Moto {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new("python3")
            .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 with moto is installed by scripts/install-test-deps.sh");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto's S3 server did not start (is moto[server] installed?)");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, port }
    }

    /// One plain HTTP request (moto takes unsigned ones); the response body.
    fn http(&self, method: &str, path: &str) -> String {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )
        .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200") || out.starts_with("HTTP/1.0 200"), "{method} {path}: {out}");
        out
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ACCESS_KEY_ID", "test".into()),
            ("AWS_SECRET_ACCESS_KEY", "test".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_ENDPOINT_URL", format!("http://127.0.0.1:{}", self.port)),
            ("AWS_ALLOW_HTTP", "true".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `--segment-store s3://bucket/prefix`: a checkpoint writes segments and
/// delete vectors into the bucket (none into the data directory), a
/// restart reads them back from there (with a segment cache too small to
/// keep them), and rows written after the checkpoint come back from the log.
#[test]
fn segments_live_in_an_s3_bucket_across_restarts() {
    let moto = Moto::start();
    moto.http("PUT", "/rustydb-test");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let env = moto.env();
    let args = ["--segment-store", "s3://rustydb-test/db1", "--segment-cache-mb", "0"];
    {
        let server = Server::start_at_with(&data, &args, &env);
        let (code, _, err) = server.psql(
            "CREATE TABLE t (id INT PRIMARY KEY, v TEXT);\n\
             INSERT INTO t SELECT value, 'row ' || value FROM generate_series(1, 5000);\n\
             CHECKPOINT;\n\
             UPDATE t SET v = 'changed' WHERE id <= 10;\n\
             DELETE FROM t WHERE id > 4990;\n\
             CHECKPOINT;\n\
             INSERT INTO t VALUES (9999, 'after the checkpoint');\n",
        );
        assert_eq!(code, 0, "{err}");
        assert_eq!(server.query_value("SELECT count(*) FROM t"), "4991");
    }
    assert!(!data.join("segments").exists(), "no segment files in the data directory");
    let listing = moto.http("GET", "/rustydb-test?list-type=2&prefix=db1/");
    assert!(listing.contains(".parquet</Key>"), "{listing}");
    assert!(listing.contains(".dv</Key>"), "{listing}");

    let server = Server::start_at_with(&data, &args, &env);
    assert_eq!(server.query_value("SELECT count(*) FROM t"), "4991");
    assert_eq!(server.query_value("SELECT count(*) FROM t WHERE v = 'changed'"), "10");
    assert_eq!(server.query_value("SELECT v FROM t WHERE id = 4000"), "row 4000");
    assert_eq!(server.query_value("SELECT v FROM t WHERE id = 9999"), "after the checkpoint");
    drop(server);

    // Without the flag, the data directory is refused: its segment files
    // are in the bucket, and the error says so.
    let out = Command::new(env!("CARGO_BIN_EXE_rustydb"))
        .args(["serve", "--pg-listen", "127.0.0.1:0", "--flight-listen", "off", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://rustydb-test/db1"), "{out:?}");

    // A bad URL is refused at start, naming the form it takes.
    let out = Command::new(env!("CARGO_BIN_EXE_rustydb"))
        .args(["serve", "--pg-listen", "127.0.0.1:0", "--flight-listen", "off", "--data"])
        .arg(&data)
        .args(["--segment-store", "gs://elsewhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("s3://bucket/prefix"), "{out:?}");
}
