//! `rustydb serve` with psql, the PostgreSQL client (installed by
//! scripts/install-test-deps.sh), and with malformed protocol traffic.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::server::Server;

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

#[test]
fn psql_copies_in_and_out_in_text_and_csv() {
    let server = Server::start();
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    std::fs::write(&csv, "10,ten,2020-01-01\n11,\"quoted, with comma\",\n").unwrap();
    let out_file = dir.path().join("out.csv");
    let script = format!(
        "CREATE TABLE t (a INT PRIMARY KEY, b TEXT, c DATE);
COPY t FROM STDIN;
1\thello\t2024-01-02
2\t\\N\t\\N
3\ttab\\there\t2024-03-04
\\.
COPY t (a, b) FROM STDIN WITH (FORMAT csv, HEADER);
a,b
4,\"x,y\"
5,\"\"
\\.
\\copy t from '{}' csv
COPY t TO STDOUT;
COPY (SELECT a, b FROM t WHERE a IN (4, 5, 11) ORDER BY a) TO STDOUT WITH (FORMAT csv, HEADER);
\\copy (SELECT a, c FROM t WHERE a < 3 ORDER BY a) to '{}' with csv
",
        csv.display(),
        out_file.display()
    );
    let (code, out, err) = server.psql(&script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "1\thello\t2024-01-02\n2\t\\N\t\\N\n3\ttab\\there\t2024-03-04\n4\tx,y\t\\N\n5\t\t\\N\n\
         10\tten\t2020-01-01\n11\tquoted, with comma\t\\N\n\
         a,b\n4,\"x,y\"\n5,\"\"\n11,\"quoted, with comma\"\n"
    );
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), "1,2024-01-02\n2,\n");

    // A bad row fails the whole COPY with its line and column; nothing is kept.
    let (code, _, err) = server.psql("COPY t FROM STDIN;\n20\tok\t2024-01-01\n21\tbad\tnotadate\n\\.\n");
    assert_ne!(code, 0);
    assert!(err.contains("22P02") && err.contains("COPY t, line 2, column c: \"notadate\""), "{err}");
    let (code, _, err) = server.psql("COPY t FROM STDIN;\n30\n\\.\n");
    assert_ne!(code, 0);
    assert!(err.contains("22P04") && err.contains("missing data for column \"b\""), "{err}");
    // Inside a block, a COPY is undone by ROLLBACK.
    let (code, out, err) = server.psql(
        "BEGIN;\nCOPY t FROM STDIN;\n40\tin block\t\\N\n\\.\nSELECT count(*) FROM t;\nROLLBACK;\n\
         \\pset tuples_only on\nSELECT count(*) FROM t;",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.split_whitespace().filter(|w| w.parse::<i64>().is_ok()).collect::<Vec<_>>(), ["8", "7"], "{out}");
}

/// A table without a unique key takes COPY's columnar path (rows stay
/// Arrow columns through the log into segments): the block's own reads,
/// row writes to copied rows, ROLLBACK and CHECKPOINT all see it right.
#[test]
fn psql_copies_into_a_keyless_table_and_works_on_the_rows_in_the_block() {
    let server = Server::start();
    let (code, out, err) = server.psql(
        "\\pset tuples_only on
CREATE TABLE h (a INT NOT NULL, b TEXT);
CREATE INDEX h_a ON h (a);
BEGIN;
COPY h FROM STDIN;
1\tone
2\t\\N
3\tthree
\\.
SELECT count(*), sum(a), count(b) FROM h;
SELECT b FROM h WHERE a = 3;
UPDATE h SET b = 'TWO' WHERE a = 2;
COPY h (a) FROM STDIN;
4
\\.
DELETE FROM h WHERE a = 1;
COMMIT;
SELECT a, b FROM h ORDER BY a;
BEGIN;
COPY h FROM STDIN;
9\tnine
\\.
ROLLBACK;
CHECKPOINT;
SELECT count(*), sum(a) FROM h;
COPY h FROM STDIN;
5\t\\N
\\.
SELECT a FROM h WHERE a > 3 ORDER BY a;",
    );
    assert_eq!(code, 0, "{err}");
    let lines: Vec<String> =
        out.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, ["3 | 6 | 2", "three", "2 | TWO", "3 | three", "4 |", "3 | 9", "4", "5"], "{out}");
    let (code, _, err) = server.psql("COPY h FROM STDIN;\n\\N\tnull key\n\\.\n");
    assert_ne!(code, 0);
    assert!(err.contains("23502"), "{err}");
}

#[test]
fn psql_describes_schemas_tables_and_indexes() {
    let server = Server::start();
    let (code, _, err) = server.psql(
        "CREATE TABLE acc (id INT PRIMARY KEY, owner VARCHAR(20) NOT NULL, note TEXT DEFAULT 'none');
         CREATE UNIQUE INDEX acc_owner ON acc (owner);
         CREATE SCHEMA sales;
         CREATE TABLE sales.orders (n BIGINT GENERATED ALWAYS AS IDENTITY, placed DATE);
         CREATE ROLE alice LOGIN;",
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) =
        server.psql("\\pset format unaligned\n\\dn\n\\dt *.*\n\\d acc\n\\di\n\\d sales.orders\n\\l\n\\du\n\\df abs");
    assert_eq!(code, 0, "{err}");
    for expected in [
        "public|",
        "sales|",
        "public|acc|table|",
        "sales|orders|table|",
        "id|integer||not null|",
        "owner|character varying(20)||not null|",
        "note|text|||'none'",
        "\"acc_pkey\" PRIMARY KEY, btree (id)",
        "\"acc_owner\" UNIQUE CONSTRAINT, btree (owner)",
        "public|acc_owner|index|",
        "n|bigint||not null|generated always as identity",
        "rustydb|",
        "alice||{}",
        "rustydb|Superuser",
        "pg_catalog|abs|integer|integer|func",
    ] {
        assert!(out.contains(expected), "missing {expected:?} in:\n{out}");
    }
}

#[test]
fn scram_authenticates_catalog_users() {
    let server = Server::start_with_password(Some("s3cret"));
    // The bootstrap superuser logs in with SCRAM-SHA-256.
    let (code, out, err) = server.psql("\\pset tuples_only on\nSELECT current_user;");
    assert_eq!((code, out.trim()), (0, "rustydb"), "{err}");
    // A wrong or missing password is refused with 28P01.
    for password in [Some("wrong"), None] {
        let (code, _, err) = server.psql_as("rustydb", password, "SELECT 1");
        assert_ne!(code, 0);
        let err = err.to_lowercase();
        assert!(err.contains("password authentication failed") || err.contains("no password supplied"), "{err}");
    }
    let (code, _, err) = server.psql_as("nobody", Some("s3cret"), "SELECT 1");
    assert_ne!(code, 0);
    assert!(err.contains("password authentication failed"), "{err}");

    // Users are created, log in, and cannot manage roles unless superusers.
    let (code, _, err) = server.psql("CREATE USER bob WITH PASSWORD 'bobpw';\nCREATE ROLE carol LOGIN PASSWORD 'c';");
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = server.psql_as("bob", Some("bobpw"), "\\pset tuples_only on\nSELECT current_user;");
    assert_eq!((code, out.trim()), (0, "bob"), "{err}");
    let (code, _, err) = server.psql_as("bob", Some("bobpw"), "CREATE USER eve PASSWORD 'e';");
    assert_ne!(code, 0);
    assert!(err.contains("42501"), "{err}");
    // A user may change their own password.
    let (code, _, err) = server.psql_as("bob", Some("bobpw"), "ALTER USER bob WITH PASSWORD 'newpw';");
    assert_eq!(code, 0, "{err}");
    assert_ne!(server.psql_as("bob", Some("bobpw"), "SELECT 1").0, 0);
    assert_eq!(server.psql_as("bob", Some("newpw"), "SELECT 1").0, 0);

    let (code, out, err) = server.psql(
        "\\pset tuples_only on\n\\pset format unaligned\nSELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY rolname;",
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "bob|f|t\ncarol|f|t\nrustydb|t|t");
    let (code, _, err) = server.psql("DROP USER carol;\nDROP ROLE IF EXISTS carol;");
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = server.psql("DROP USER rustydb;");
    assert_ne!(code, 0);
    assert!(err.contains("55006"), "{err}");
    assert_ne!(server.psql_as("carol", Some("c"), "SELECT 1").0, 0);
}

#[test]
fn non_loopback_listen_needs_a_password() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rustydb"))
        .args(["serve", "--pg-listen", "0.0.0.0:0", "--data"])
        .arg(dir.path().join("data"))
        .env_remove("RUSTYDB_PASSWORD")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no role has a password"));
}

/// `--query-threads N` splits plans into N partitions; 0 is refused before
/// the server starts.
#[test]
fn query_threads_set_the_partitions_of_a_plan() {
    let server = Server::start_with(None, &["--query-threads", "3"]);
    let (code, out, err) =
        server.psql("EXPLAIN SELECT v % 7, count(*) FROM generate_series(1, 100000) AS t(v) GROUP BY 1;");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("RoundRobinBatch(3)"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rustydb"))
        .args(["serve", "--query-threads", "0", "--data"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--query-threads"), "{err}");
    assert!(!dir.path().join("data").exists(), "nothing is created for a refused setting");
}

/// psql (libpq, which sends an SSLRequest first) past `--max-connections`
/// shows PostgreSQL's error (53300; libpq prints no code for connection
/// errors), not "server sent an error response during SSL exchange".
#[test]
fn psql_past_the_connection_limit_sees_53300() {
    let server = Server::start_with(None, &["--max-connections", "1"]);
    let held = started_connection(server.port);
    let (code, _, err) = server.psql("SELECT 1;");
    assert_ne!(code, 0);
    assert!(err.contains("FATAL:  sorry, too many clients already"), "{err}");
    drop(held);
}

/// Opens a connection and completes startup (trust mode), returning the
/// socket positioned after the first ReadyForQuery.
fn started_connection(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut body = Vec::new();
    body.extend_from_slice(&196608u32.to_be_bytes());
    for (k, v) in [("user", "rustydb"), ("database", "rustydb")] {
        body.extend_from_slice(k.as_bytes());
        body.push(0);
        body.extend_from_slice(v.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
    msg.extend_from_slice(&body);
    s.write_all(&msg).unwrap();
    // Read messages until ReadyForQuery ('Z').
    loop {
        let mut head = [0u8; 5];
        s.read_exact(&mut head).unwrap();
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut rest = vec![0u8; len - 4];
        s.read_exact(&mut rest).unwrap();
        if head[0] == b'Z' {
            return s;
        }
    }
}

fn message(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![tag];
    m.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

#[test]
fn malformed_messages_after_startup_end_only_that_connection() {
    let server = Server::start();
    let (code, _, err) = server.psql("CREATE TABLE c (id INT PRIMARY KEY, v TEXT);");
    assert_eq!(code, 0, "{err}");
    let mut copy_start = message(b'Q', b"COPY c FROM STDIN\0");
    copy_start.extend_from_slice(&message(b'd', b"1\tnever ends"));
    let cases: Vec<Vec<u8>> = vec![
        message(b'?', b"unknown message type"),
        b"Q\x7f\xff\xff\xffSELECT".to_vec(), // huge declared length, then the peer goes away
        b"Q\x00\x00\x00\x20SEL".to_vec(),    // truncated
        message(b'Q', b"SELECT '\xff\xfe'\0"), // invalid UTF-8
        message(b'P', b"\0SELECT $1\0\xff\xff"), // bad parameter count
        message(b'B', b"nope\0nope\0\0\0\0\0\0\0"), // bind to a missing statement
        copy_start,                          // a COPY that never ends
    ];
    for case in cases {
        let mut s = started_connection(server.port);
        let _ = s.write_all(&case);
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
    }
    // Nothing of the unfinished COPY is kept, and the server serves others.
    let (code, out, err) = server.psql("\\pset tuples_only on\nSELECT count(*) FROM c;");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "0");
}

#[test]
fn tls_is_offered_when_a_certificate_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("server.crt"), dir.path().join("server.key"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"])
        // gRPC clients match the host against the subject alternative names.
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is installed by scripts/install-test-deps.sh");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (c, k) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let server = Server::start_with(Some("tls-pw"), &["--tls-cert", c, "--tls-key", k]);
    let (code, out, err) = server.client_with_sslmode("require", "\\conninfo\nSELECT 42;");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("SSL connection (protocol: TLSv1."), "{out}");
    assert!(out.contains("42"), "{out}");

    // Flight SQL serves gRPC over TLS with the same certificate.
    let script = "import sys, pyarrow.flight as f\n\
        c = f.FlightClient(f'grpc+tls://localhost:{sys.argv[1]}', tls_root_certs=open(sys.argv[2], 'rb').read())\n\
        token = c.authenticate_basic_token('rustydb', 'tls-pw')\n\
        print('flight tls:', token[0].decode())";
    let out = Command::new("python3")
        .args(["-c", script, &server.flight_port.to_string(), c])
        .output()
        .expect("python3 with pyarrow is installed by scripts/install-test-deps.sh");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("flight tls: authorization"),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Without a certificate, a client that requires TLS is refused.
    let plain = Server::start();
    let (code, _, err) = plain.client_with_sslmode("require", "SELECT 1;");
    assert_ne!(code, 0);
    assert!(err.contains("does not support SSL"), "{err}");
}

/// `--row-store-mb`: a write load several times the row store's budget
/// goes through (checkpoints started by memory write segments as it runs),
/// and one transaction larger than the budget fails with 53200 over the
/// wire, leaving the server serving.
#[test]
fn the_row_store_budget_bounds_memory_over_the_wire() {
    let server = Server::start_with(None, &["--row-store-mb", "4"]);
    let mut script = String::from("CREATE TABLE t (id INT PRIMARY KEY, v TEXT);\n");
    for batch in 0..20 {
        let first = batch * 5000;
        script.push_str(&format!(
            "INSERT INTO t SELECT value, 'row ' || value FROM generate_series({}, {});\n",
            first + 1,
            first + 5000
        ));
    }
    let (code, _, err) = server.psql(&script);
    assert_eq!(code, 0, "{err}");
    assert_eq!(server.query_value("SELECT count(*), sum(length(v)) FROM t"), "100000|888895");
    let segments = std::fs::read_dir(server.data.join("segments")).map(|d| d.count()).unwrap_or(0);
    assert!(segments >= 2, "checkpoints started by memory wrote segments ({segments} files)");

    let (code, _, err) = server.psql("INSERT INTO t SELECT value, 'x' FROM generate_series(200001, 300000);");
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("53200") && err.contains("smaller transactions"), "{err}");
    assert_eq!(server.query_value("SELECT count(*) FROM t"), "100000");
}

/// `--memory-mb 256` (128 MiB for queries): a sort of about twice that
/// either spills and finishes or fails with 53200 (DataFusion's sorts hold
/// the runs they sorted in memory for their final merge, unspillable, so
/// two partitions and the merge above them can exhaust a small pool); a
/// hash join whose build side cannot fit fails with 53200. Either way the
/// server carries on serving: it is never killed for memory.
#[test]
fn queries_past_the_memory_budget_spill_or_fail_with_53200() {
    let server = Server::start_with(None, &["--memory-mb", "256"]);
    let (code, out, err) = server.psql(
        "\\pset tuples_only on\n\\pset format unaligned\n\
         SELECT count(*), max(n) FROM (SELECT row_number() OVER (ORDER BY k) AS n FROM \
         (SELECT md5(value::text) || repeat('x', 60) AS k FROM generate_series(1, 3000000)) AS t) AS sorted;",
    );
    match code {
        0 => assert_eq!(out.trim(), "3000000|3000000"),
        _ => assert!(err.contains("53200"), "{err}"),
    }
    let (code, _, err) = server.psql(
        "SELECT count(*) FROM generate_series(1, 10000000) AS a(v) JOIN generate_series(1, 10000000) AS b(w) \
         ON a.v = b.w;",
    );
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("53200"), "{err}");
    assert_eq!(server.query_value("SELECT count(*) FROM generate_series(1, 1000)"), "1000");
}
