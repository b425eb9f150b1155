//! The same `.slt` files over the PostgreSQL protocol: a server runs
//! in-process on `127.0.0.1:0` and every connection of a file is a
//! tokio-postgres client using the extended query protocol (Parse, Describe,
//! Bind, Execute), with results in binary format, turned back into
//! PostgreSQL's text form so expected output is shared with the in-process run.

use std::net::SocketAddr;
use std::sync::Arc;

use async_trait::async_trait;
use rustydb_engine::api::Database;
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};
use tokio_postgres::types::Type;
use tokio_postgres::{Client, NoTls, Row};

use crate::push_row;

/// A running server for one test file.
pub struct Server {
    pub addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Server {
    pub async fn start(db: Arc<Database>) -> anyhow::Result<Server> {
        Server::start_with_max_connections(db, 64).await
    }

    pub async fn start_with_max_connections(db: Arc<Database>, max_connections: usize) -> anyhow::Result<Server> {
        let options = rustydb_server::pgwire::PgOptions { listen: "127.0.0.1:0".parse()?, max_connections };
        let (listener, addr) = rustydb_server::pgwire::bind(&options).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(rustydb_server::pgwire::serve(db, listener, max_connections, None, async move {
            let _ = stopped.await;
        }));
        Ok(Server { addr, stop: Some(stop) })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// Error as the runner matches it.
#[derive(Debug)]
pub struct WireError(pub tokio_postgres::Error);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.as_db_error() {
            Some(db) => write!(f, "{}: {}", db.code().code(), db.message()),
            None => write!(f, "{}", self.0),
        }
    }
}

impl std::error::Error for WireError {}

/// One connection of a test file.
pub struct WireDb {
    client: Client,
}

impl WireDb {
    pub async fn connect(addr: SocketAddr) -> Result<Self, tokio_postgres::Error> {
        let config = format!("host={} port={} user=rustydb dbname=rustydb", addr.ip(), addr.port());
        let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(WireDb { client })
    }
}

/// A json or jsonb value's text, as the in-process runner prints it.
struct JsonText(String);

impl<'a> tokio_postgres::types::FromSql<'a> for JsonText {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        let raw = match (ty, raw.split_first()) {
            (&Type::JSONB, Some((1, text))) => text,
            (&Type::JSONB, _) => return Err("unsupported jsonb version".into()),
            _ => raw,
        };
        Ok(JsonText(std::str::from_utf8(raw)?.to_owned()))
    }

    fn accepts(ty: &Type) -> bool {
        matches!(*ty, Type::JSON | Type::JSONB)
    }
}

fn text(row: &Row, i: usize) -> Result<String, tokio_postgres::Error> {
    let ty = row.columns()[i].type_().clone();
    macro_rules! get {
        ($t:ty, $f:expr) => {
            row.try_get::<_, Option<$t>>(i)?.map($f)
        };
    }
    let v: Option<String> = match ty {
        Type::BOOL => get!(bool, |b| if b { "t".to_string() } else { "f".to_string() }),
        Type::INT2 => get!(i16, |v| v.to_string()),
        Type::INT4 => get!(i32, |v| v.to_string()),
        Type::INT8 => get!(i64, |v| v.to_string()),
        Type::FLOAT4 => get!(f32, |v| v.to_string()),
        Type::FLOAT8 => get!(f64, |v| v.to_string()),
        Type::NUMERIC => get!(rust_decimal::Decimal, |v| v.to_string()),
        Type::BYTEA => get!(Vec<u8>, |b| format!("\\x{}", b.iter().map(|x| format!("{x:02x}")).collect::<String>())),
        Type::DATE => get!(chrono::NaiveDate, |d| d.format("%Y-%m-%d").to_string()),
        Type::TIMESTAMP => get!(chrono::NaiveDateTime, |t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string()),
        Type::TIMESTAMPTZ => {
            get!(chrono::DateTime<chrono::Utc>, |t| t.format("%Y-%m-%d %H:%M:%S%.f%:::z").to_string())
        }
        Type::JSON | Type::JSONB => get!(JsonText, |j| j.0),
        _ => get!(String, |s| s),
    };
    Ok(match v {
        None => "NULL".into(),
        Some(s) if s.is_empty() => "(empty)".into(),
        Some(s) => s,
    })
}

#[async_trait]
impl AsyncDB for WireDb {
    type Error = WireError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let stmt = self.client.prepare(sql).await.map_err(WireError)?;
        if stmt.columns().is_empty() {
            let n = self.client.execute(&stmt, &[]).await.map_err(WireError)?;
            return Ok(DBOutput::StatementComplete(n));
        }
        let rows = self.client.query(&stmt, &[]).await.map_err(WireError)?;
        let types = stmt.columns().iter().map(|_| DefaultColumnType::Any).collect();
        let mut out = Vec::new();
        for row in &rows {
            let values = (0..row.len()).map(|i| text(row, i)).collect::<Result<Vec<_>, _>>().map_err(WireError)?;
            push_row(&mut out, values);
        }
        Ok(DBOutput::Rows { types, rows: out })
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "rustydb-wire"
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        err.0.as_db_error().map(|d| d.code().code().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server over a fresh data directory, and a client connected to it.
    async fn connected() -> (tempfile::TempDir, Server, WireDb) {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(Database::open(dir.path()).unwrap()).await.unwrap();
        let db = WireDb::connect(server.addr).await.unwrap();
        (dir, server, db)
    }

    /// Parameters in binary format (tokio-postgres sends binary) of every
    /// supported type round-trip through INSERT and SELECT.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn typed_parameters_round_trip() {
        let (_dir, server, db) = connected().await;
        let c = &db.client;
        c.batch_execute(
            "CREATE TABLE p (id INT PRIMARY KEY, b BOOLEAN, i8 BIGINT, f FLOAT8, t TEXT, by BYTEA, d DATE,
             ts TIMESTAMP, tz TIMESTAMPTZ)",
        )
        .await
        .unwrap();
        let date = chrono::NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
        let ts = date.and_hms_micro_opt(3, 4, 5, 678_901).unwrap();
        let tz = ts.and_utc();
        let n = c
            .execute(
                "INSERT INTO p VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                &[&1i32, &true, &-5i64, &2.5f64, &"it's", &vec![0u8, 255], &date, &ts, &tz],
            )
            .await
            .unwrap();
        assert_eq!(n, 1);
        c.execute("INSERT INTO p (id, t) VALUES ($1, $2)", &[&2i32, &None::<String>]).await.unwrap();
        let row = c.query_one("SELECT b, i8, f, t, by, d, ts, tz FROM p WHERE id = $1", &[&1i32]).await.unwrap();
        assert!(row.get::<_, bool>(0));
        assert_eq!(row.get::<_, i64>(1), -5);
        assert_eq!(row.get::<_, f64>(2), 2.5);
        assert_eq!(row.get::<_, String>(3), "it's");
        assert_eq!(row.get::<_, Vec<u8>>(4), vec![0u8, 255]);
        assert_eq!(row.get::<_, chrono::NaiveDate>(5), date);
        assert_eq!(row.get::<_, chrono::NaiveDateTime>(6), ts);
        assert_eq!(row.get::<_, chrono::DateTime<chrono::Utc>>(7), tz);
        let row = c.query_one("SELECT t FROM p WHERE id = $1", &[&2i32]).await.unwrap();
        assert_eq!(row.get::<_, Option<String>>(0), None);
        // RETURNING is described before execution, so drivers can read it.
        let row = c.query_one("UPDATE p SET i8 = i8 * 2 WHERE id = $1 RETURNING id, i8", &[&1i32]).await.unwrap();
        assert_eq!((row.get::<_, i32>(0), row.get::<_, i64>(1)), (1, -10));
        drop(server);
    }

    /// A simple-protocol string of several statements whose shapes the
    /// literal cache holds answers every statement as the ordinary path
    /// would, and one with a syntax error anywhere runs none of them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn strings_of_several_statements_over_the_simple_protocol() {
        let (_dir, server, db) = connected().await;
        let c = &db.client;
        c.batch_execute("CREATE TABLE a (id INT PRIMARY KEY, v INT)").await.unwrap();
        for i in 0..4 {
            let sql = format!(
                "BEGIN; INSERT INTO a VALUES ({i}, 0); UPDATE a SET v = v + {i} WHERE id = {i}; \
                 SELECT v FROM a WHERE id = {i}; COMMIT"
            );
            let replies = c.simple_query(&sql).await.unwrap();
            let values: Vec<&str> = replies
                .iter()
                .filter_map(|m| match m {
                    tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0),
                    _ => None,
                })
                .collect();
            assert_eq!(values, [i.to_string()], "string {i}");
        }
        let err = c.batch_execute("INSERT INTO a VALUES (9, 9); SELEC 1").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("42601"), "{err}");
        let err = c.batch_execute("BEGIN; INSERT INTO a VALUES (8, 8); INSERT INTO a VALUES (1, 1); COMMIT");
        assert_eq!(err.await.unwrap_err().code().map(|c| c.code()), Some("23505"));
        let err = c.batch_execute("UPDATE a SET v = 0 WHERE id = 1; COMMIT").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("25P02"), "{err}");
        c.batch_execute("ROLLBACK").await.unwrap();
        let row = c.query_one("SELECT count(*), sum(v) FROM a", &[]).await.unwrap();
        assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (4, 6));
        drop(server);
    }

    /// DEALLOCATE name, DEALLOCATE ALL and DISCARD ALL drop protocol-level
    /// prepared statements (a later Bind fails with 26000), over the simple
    /// protocol and the extended one; DISCARD ALL also resets settings and
    /// closes cursors, and is refused inside a block.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deallocate_and_discard_drop_prepared_statements() {
        let (_dir, server, db) = connected().await;
        let c = &db.client;
        let gone = |e: tokio_postgres::Error| assert_eq!(e.code().map(|c| c.code()), Some("26000"), "{e}");
        let one = |row: Row| assert_eq!(row.get::<_, i64>(0), 1);

        let a = c.prepare("SELECT 1::BIGINT").await.unwrap();
        let b = c.prepare("SELECT 1::BIGINT + 0").await.unwrap();
        c.batch_execute(&format!("DEALLOCATE {}", statement_name(&a))).await.unwrap();
        gone(c.query_one(&a, &[]).await.unwrap_err());
        one(c.query_one(&b, &[]).await.unwrap());
        let err = c.batch_execute("DEALLOCATE no_such_statement").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("26000"), "{err}");

        c.batch_execute("DEALLOCATE ALL").await.unwrap();
        gone(c.query_one(&b, &[]).await.unwrap_err());

        // Through the extended protocol as well.
        let d = c.prepare("SELECT 1::BIGINT").await.unwrap();
        c.execute("DEALLOCATE ALL", &[]).await.unwrap();
        gone(c.query_one(&d, &[]).await.unwrap_err());

        let e = c.prepare("SELECT 1::BIGINT").await.unwrap();
        c.batch_execute("SET statement_timeout = '5s'; BEGIN; DECLARE k CURSOR WITH HOLD FOR SELECT 1; COMMIT")
            .await
            .unwrap();
        c.batch_execute("BEGIN").await.unwrap();
        let err = c.batch_execute("DISCARD ALL").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("25001"), "{err}");
        c.batch_execute("ROLLBACK").await.unwrap();
        one(c.query_one(&e, &[]).await.unwrap());
        c.batch_execute("DISCARD ALL").await.unwrap();
        gone(c.query_one(&e, &[]).await.unwrap_err());
        let timeout = c.simple_query("SHOW statement_timeout").await.unwrap();
        let value = match &timeout[1] {
            tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).unwrap().to_owned(),
            other => panic!("{other:?}"),
        };
        assert_eq!(value, "0");
        let err = c.batch_execute("FETCH NEXT FROM k").await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("34000"), "{err}");
        drop(server);
    }

    /// Settings of the startup packet (application_name, and `-c` pairs in
    /// `options`) are the session's, and what RESET and RESET ALL restore;
    /// a bad one refuses the connection with its SQLSTATE.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn startup_parameters_are_the_session_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start(Database::open(dir.path()).unwrap()).await.unwrap();
        let base = format!("host={} port={} user=rustydb dbname=rustydb", server.addr.ip(), server.addr.port());
        let config = format!("{base} application_name=myapp options='-c statement_timeout=5s --search-path=s1,public'");
        let (c, connection) = tokio_postgres::connect(&config, NoTls).await.unwrap();
        tokio::spawn(connection);
        let show = async |name: &str| -> String {
            let rows = c.simple_query(&format!("SHOW {name}")).await.unwrap();
            match &rows[1] {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).unwrap().to_owned(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(show("application_name").await, "myapp");
        assert_eq!(show("statement_timeout").await, "5s");
        assert_eq!(show("search_path").await, "s1,public");
        c.batch_execute("SET application_name = 'other'; SET statement_timeout = 0").await.unwrap();
        c.batch_execute("RESET application_name").await.unwrap();
        assert_eq!(show("application_name").await, "myapp");
        c.batch_execute("SET application_name = 'other'; RESET ALL").await.unwrap();
        assert_eq!(show("application_name").await, "myapp");
        assert_eq!(show("statement_timeout").await, "5s");
        let bad = format!("{base} options='-c statement_timeout=soon'");
        let err = tokio_postgres::connect(&bad, NoTls).await.err().expect("refused");
        assert_eq!(err.code().map(|c| c.code()), Some("22023"), "{err}");
        drop(server);
    }

    /// Execute with a row limit sends one page and suspends the portal
    /// without computing the rest: a result of a trillion rows pages in
    /// like a small one. Other statements run between pages. An error met
    /// on a later page fails the block.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn portals_page_through_results_lazily() {
        let (_dir, server, mut db) = connected().await;
        let c = &mut db.client;
        let paging = async {
            let txn = c.transaction().await.unwrap();
            let huge = txn.prepare("SELECT v FROM generate_series(1, 1000000000000) AS t(v)").await.unwrap();
            let portal = txn.bind(&huge, &[]).await.unwrap();
            let mut seen = Vec::new();
            for _ in 0..3 {
                let page = txn.query_portal(&portal, 1000).await.unwrap();
                assert_eq!(page.len(), 1000);
                seen.extend(page.iter().map(|r| r.get::<_, i64>(0)));
                assert_eq!(txn.query_one("SELECT 40 + 2", &[]).await.unwrap().get::<_, i64>(0), 42);
            }
            assert_eq!(seen, (1..=3000).collect::<Vec<i64>>());
            txn.commit().await.unwrap();
        };
        tokio::time::timeout(std::time::Duration::from_secs(60), paging)
            .await
            .expect("paging a huge result must not compute all of it first");

        let txn = c.transaction().await.unwrap();
        let failing = txn.prepare("SELECT 10 / (v - 50000) FROM generate_series(1, 100000) AS t(v)").await.unwrap();
        let portal = txn.bind(&failing, &[]).await.unwrap();
        assert_eq!(txn.query_portal(&portal, 10).await.unwrap().len(), 10);
        let err = loop {
            match txn.query_portal(&portal, 10_000).await {
                Ok(rows) => assert!(!rows.is_empty(), "the division by zero was never reached"),
                Err(e) => break e,
            }
        };
        assert_eq!(err.code().map(|c| c.code()), Some("22012"), "{err}");
        let err = txn.query_one("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("25P02"), "{err}");
        txn.rollback().await.unwrap();
        assert_eq!(c.query_one("SELECT 1 + 1", &[]).await.unwrap().get::<_, i64>(0), 2);
        drop(server);
    }

    /// The protocol-level name tokio-postgres gave a statement: only its
    /// Debug form shows it.
    fn statement_name(s: &tokio_postgres::Statement) -> String {
        let debug = format!("{s:?}");
        let start = debug.find("name: \"").expect("Statement's Debug shows its name") + 7;
        debug[start..].split('"').next().unwrap().to_owned()
    }

    /// A statement that would run for minutes is stopped by CancelRequest
    /// and by statement_timeout, with 57014; the connection stays usable
    /// and a block it was in is failed until ROLLBACK.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_request_and_statement_timeout_stop_a_query() {
        let (_dir, server, db) = connected().await;
        let c = &db.client;
        let long = "SELECT count(*) FROM generate_series(1, 100000000000) AS g(v) WHERE v % 7 = 3";
        let started = std::time::Instant::now();
        let token = c.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            token.cancel_query(NoTls).await
        });
        let err = c.query(long, &[]).await.unwrap_err();
        canceller.await.unwrap().unwrap();
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
        assert_eq!(c.query_one("SELECT 1 + 1", &[]).await.unwrap().get::<_, i64>(0), 2);

        c.batch_execute("SET statement_timeout = '200ms'").await.unwrap();
        let err = c.simple_query(long).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        let message = err.as_db_error().map(|e| e.message().to_owned()).unwrap_or_default();
        assert!(message.contains("statement timeout"), "{message}");
        c.batch_execute("BEGIN").await.unwrap();
        let err = c.query(long, &[]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        let err = c.query("SELECT 1", &[]).await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("25P02"), "{err}");
        c.batch_execute("ROLLBACK; SET statement_timeout = 0").await.unwrap();
        assert_eq!(c.query_one("SELECT 2 + 2", &[]).await.unwrap().get::<_, i64>(0), 4);
        drop(server);
    }

    /// Past `max_connections` a client is refused with 53300 after its
    /// startup packet, a CancelRequest still reaches a running statement,
    /// and a slot given back lets the next client in.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_past_the_limit_are_refused_but_cancel_requests_get_through() {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with_max_connections(Database::open(dir.path()).unwrap(), 1).await.unwrap();
        let first = WireDb::connect(server.addr).await.unwrap();
        for _ in 0..3 {
            let err = WireDb::connect(server.addr).await.map(|_| ()).unwrap_err();
            assert_eq!(err.code().map(|c| c.code()), Some("53300"), "{err}");
        }
        let token = first.client.cancel_token();
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            token.cancel_query(NoTls).await
        });
        let long = "SELECT count(*) FROM generate_series(1, 100000000000) AS g(v) WHERE v % 7 = 3";
        let err = first.client.query(long, &[]).await.unwrap_err();
        canceller.await.unwrap().unwrap();
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        drop(first);
        // The server frees the slot once it sees the connection close.
        let mut attempts = 0;
        let second = loop {
            match WireDb::connect(server.addr).await {
                Ok(db) => break db,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    assert_eq!(e.code().map(|c| c.code()), Some("53300"), "{e}");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                Err(e) => panic!("the freed slot was not given to a new client: {e}"),
            }
        };
        assert_eq!(second.client.query_one("SELECT 1 + 1", &[]).await.unwrap().get::<_, i64>(0), 2);
        drop(server);
    }

    /// A CancelRequest during COPY FROM STDIN ends the COPY with 57014 at
    /// the next data or at its end, as in PostgreSQL; nothing of it is kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn cancel_request_stops_a_copy_from_stdin() {
        use futures::SinkExt;
        let (_dir, server, db) = connected().await;
        let c = &db.client;
        c.batch_execute("CREATE TABLE c (a INT)").await.unwrap();
        let sink = c.copy_in::<_, bytes::Bytes>("COPY c FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from_static(b"1\n2\n")).await.unwrap();
        c.cancel_token().cancel_query(NoTls).await.unwrap();
        // The client only sends the request, on another connection; give the
        // server time to act on it before the rest of the data (the same
        // race exists with PostgreSQL).
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        sink.send(bytes::Bytes::from_static(b"3\n")).await.unwrap();
        let err = sink.finish().await.unwrap_err();
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        assert_eq!(c.query_one("SELECT count(*) FROM c", &[]).await.unwrap().get::<_, i64>(0), 0);
        // The next COPY runs normally.
        let sink = c.copy_in::<_, bytes::Bytes>("COPY c FROM STDIN").await.unwrap();
        futures::pin_mut!(sink);
        sink.send(bytes::Bytes::from_static(b"4\n")).await.unwrap();
        assert_eq!(sink.finish().await.unwrap(), 1);
        drop(server);
    }
}
