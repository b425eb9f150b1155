//! A table hook registered by an extension runs on every front end and
//! every route into the engine: point lookups, point updates and inserts
//! over psql's simple query protocol, the extended protocol, the embedded
//! shell and Flight SQL, each on a session's first statement of a shape
//! (cold caches) and again on its next (warm). These are the statements the
//! fast path answers without DataFusion for a table nobody watches. The
//! extension's observer sees each of those statements exactly once.

use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arrow_flight::sql::client::FlightSqlServiceClient;
use rustydb_engine::api::{Database, DatabaseOptions, EngineError, SqlState};
use rustydb_engine::extension::{Extension, HookTable, StatementEvent, StatementObserver, TableHook, WriteOp};
use tonic::transport::Channel;

/// Counts what statements do to table `guarded`, and refuses its DELETEs.
#[derive(Default)]
struct Guard {
    reads: AtomicUsize,
    inserts: AtomicUsize,
    updates: AtomicUsize,
}

#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct Counts {
    reads: usize,
    inserts: usize,
    updates: usize,
}

impl Guard {
    fn counts(&self) -> Counts {
        Counts {
            reads: self.reads.load(Ordering::SeqCst),
            inserts: self.inserts.load(Ordering::SeqCst),
            updates: self.updates.load(Ordering::SeqCst),
        }
    }
}

impl TableHook for Guard {
    fn watches(&self, table: HookTable<'_>) -> bool {
        table.name == "guarded"
    }

    fn before_read(&self, _table: HookTable<'_>) -> rustydb_engine::api::Result<()> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    fn before_write(&self, table: HookTable<'_>, op: WriteOp) -> rustydb_engine::api::Result<()> {
        match op {
            WriteOp::Insert => self.inserts.fetch_add(1, Ordering::SeqCst),
            WriteOp::Update => self.updates.fetch_add(1, Ordering::SeqCst),
            WriteOp::Delete | WriteOp::Truncate => {
                return Err(EngineError::sql(
                    SqlState::InsufficientPrivilege,
                    format!("table {} refuses {op:?}", table.name),
                ));
            }
        };
        Ok(())
    }
}

/// Every statement observed: its text and, when it failed, its SQLSTATE.
#[derive(Default)]
struct Log(Mutex<Vec<(String, Option<&'static str>)>>);

impl StatementObserver for Log {
    fn statement_done(&self, event: &StatementEvent<'_>) {
        let failed = event.result.as_ref().err().map(|e| e.sqlstate());
        self.0.lock().unwrap().push((event.statement.to_owned(), failed));
    }
}

impl Log {
    /// What was observed since `from`: that it is `n` statements on
    /// table `guarded`, one of which (the DELETE) failed with 42501.
    fn expect_since(&self, from: usize, n: usize, front_end: &str) -> usize {
        let log = self.0.lock().unwrap();
        let seen = &log[from..];
        assert_eq!(seen.len(), n, "{front_end}: {seen:?}");
        assert!(seen.iter().all(|(s, _)| s.contains("guarded")), "{front_end}: {seen:?}");
        let failed: Vec<_> = seen.iter().filter(|(_, f)| f.is_some()).collect();
        assert!(matches!(failed[..], [(s, Some("42501"))] if s.contains("DELETE")), "{front_end}: {seen:?}");
        log.len()
    }
}

struct GuardExtension(Arc<Guard>, Arc<Log>);

impl Extension for GuardExtension {
    fn name(&self) -> &str {
        "guard"
    }

    fn table_hooks(&self) -> Vec<Arc<dyn TableHook>> {
        vec![self.0.clone()]
    }

    fn statement_observers(&self) -> Vec<Arc<dyn StatementObserver>> {
        vec![self.1.clone()]
    }
}

/// What one front end's statements must have done: `n` point lookups, `n`
/// point updates (each reads its row first) and `n` inserts.
fn expect_ran(guard: &Guard, before: Counts, n: usize, front_end: &str) {
    let after = guard.counts();
    let ran = Counts {
        reads: after.reads - before.reads,
        inserts: after.inserts - before.inserts,
        updates: after.updates - before.updates,
    };
    // A read hook runs when a scan of the table is planned: once for each
    // lookup and once for each update's row selection, at the least.
    assert!(ran.reads >= 2 * n, "{front_end}: {ran:?}");
    assert_eq!((ran.inserts, ran.updates), (n, n), "{front_end}: {ran:?}");
}

struct Served {
    db: Arc<Database>,
    guard: Arc<Guard>,
    log: Arc<Log>,
    pg_port: u16,
    flight: std::net::SocketAddr,
    _dir: tempfile::TempDir,
    /// Statements observed while setting up.
    from: usize,
}

async fn serve() -> Served {
    let dir = tempfile::tempdir().unwrap();
    let guard = Arc::new(Guard::default());
    let log = Arc::new(Log::default());
    let extension = GuardExtension(guard.clone(), log.clone());
    let options = DatabaseOptions { extensions: vec![Arc::new(extension)], ..Default::default() };
    let db = Database::open_with(dir.path(), options).unwrap();
    let mut s = db.session();
    s.execute("CREATE TABLE guarded (id INT PRIMARY KEY, v INT NOT NULL); INSERT INTO guarded VALUES (1, 0)")
        .await
        .unwrap();

    let options = rustydb_server::pgwire::PgOptions { listen: "127.0.0.1:0".parse().unwrap(), max_connections: 8 };
    let (listener, addr) = rustydb_server::pgwire::bind(&options).await.unwrap();
    tokio::spawn(rustydb_server::pgwire::serve(db.clone(), listener, 8, None, std::future::pending()));
    let flight_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let flight = flight_listener.local_addr().unwrap();
    tokio::spawn(rustydb_flight::serve(db.clone(), flight_listener, None, std::future::pending()));
    let from = log.0.lock().unwrap().len();
    Served { db, guard, log, pg_port: addr.port(), flight, _dir: dir, from }
}

/// Runs psql with one `-c` per statement: one session, each statement sent
/// alone by the simple query protocol.
fn psql(port: u16, statements: &[&str]) -> (bool, String) {
    let mut cmd = Command::new("psql");
    cmd.args(["-X", "-q", "-w", "-h", "127.0.0.1", "-p", &port.to_string(), "-d", "rustydb", "-U", "rustydb"]);
    cmd.args(["-v", "ON_ERROR_STOP=1", "-v", "VERBOSITY=verbose"]);
    for s in statements {
        cmd.args(["-c", s]);
    }
    let out = cmd.env_remove("PGPASSWORD").output().expect("psql is installed by scripts/install-test-deps.sh");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Reads every endpoint of a Flight SQL answer; the rows it held.
async fn fetch_rows(c: &mut FlightSqlServiceClient<Channel>, info: arrow_flight::FlightInfo) -> usize {
    let mut rows = 0;
    for endpoint in info.endpoint {
        let stream = c.do_get(endpoint.ticket.expect("an endpoint has a ticket")).await.unwrap();
        let batches: Vec<arrow::array::RecordBatch> = futures::TryStreamExt::try_collect(stream).await.unwrap();
        rows += batches.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    rows
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_hooks_run_on_every_front_end_and_route() {
    let served = serve().await;
    let guard = &served.guard;
    let mut observed = served.from;

    // psql, simple query protocol: the literal cache is cold for each
    // statement's first run and holds its shape for the second.
    let before = guard.counts();
    let port = served.pg_port;
    let (ok, err) = tokio::task::spawn_blocking(move || {
        psql(
            port,
            &[
                "SELECT v FROM guarded WHERE id = 1",
                "SELECT v FROM guarded WHERE id = 1",
                "UPDATE guarded SET v = v + 1 WHERE id = 1",
                "UPDATE guarded SET v = v + 1 WHERE id = 1",
                "INSERT INTO guarded VALUES (10, 0)",
                "INSERT INTO guarded VALUES (11, 0)",
            ],
        )
    })
    .await
    .unwrap();
    assert!(ok, "{err}");
    expect_ran(guard, before, 2, "psql");
    let (ok, err) =
        tokio::task::spawn_blocking(move || psql(port, &["DELETE FROM guarded WHERE id = 10"])).await.unwrap();
    assert!(!ok);
    assert!(err.contains("42501") && err.contains("refuses Delete"), "{err}");
    // The observe stage saw each statement once, the refused one too.
    observed = served.log.expect_since(observed, 7, "psql");

    // Extended query protocol: each statement prepared once, executed twice.
    let before = guard.counts();
    let conninfo = format!("host=127.0.0.1 port={port} user=rustydb dbname=rustydb");
    let (client, connection) = tokio_postgres::connect(&conninfo, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let lookup = client.prepare("SELECT v FROM guarded WHERE id = $1").await.unwrap();
    let update = client.prepare("UPDATE guarded SET v = v + $1 WHERE id = $2").await.unwrap();
    let insert = client.prepare("INSERT INTO guarded VALUES ($1, 0)").await.unwrap();
    for id in [20i32, 21] {
        assert_eq!(client.query(&lookup, &[&1i32]).await.unwrap().len(), 1);
        assert_eq!(client.execute(&update, &[&1i32, &1i32]).await.unwrap(), 1);
        assert_eq!(client.execute(&insert, &[&id]).await.unwrap(), 1);
    }
    expect_ran(guard, before, 2, "extended protocol");
    let err = client.execute("DELETE FROM guarded WHERE id = $1", &[&20i32]).await.unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err}");
    observed = served.log.expect_since(observed, 7, "extended protocol");

    // The embedded shell, on a session of its own.
    let before = guard.counts();
    let mut session = served.db.session();
    let script = "SELECT v FROM guarded WHERE id = 1; SELECT v FROM guarded WHERE id = 1;
        UPDATE guarded SET v = v + 1 WHERE id = 1; UPDATE guarded SET v = v + 1 WHERE id = 1;
        INSERT INTO guarded VALUES (30, 0); INSERT INTO guarded VALUES (31, 0);";
    assert_eq!(rustydb_server::shell::run_script(&mut session, script).await, std::process::ExitCode::SUCCESS);
    expect_ran(guard, before, 2, "shell");
    let refused = rustydb_server::shell::run_script(&mut session, "DELETE FROM guarded WHERE id = 30").await;
    assert_eq!(refused, std::process::ExitCode::FAILURE);
    observed = served.log.expect_since(observed, 7, "shell");

    // Flight SQL: ad-hoc statements (a session each), then prepared ones
    // executed twice.
    let before = guard.counts();
    let channel = Channel::from_shared(format!("http://{}", served.flight)).unwrap().connect().await.unwrap();
    let mut c = FlightSqlServiceClient::new(channel);
    let info = c.execute("SELECT v FROM guarded WHERE id = 1".into(), None).await.unwrap();
    assert_eq!(fetch_rows(&mut c, info).await, 1);
    assert_eq!(c.execute_update("UPDATE guarded SET v = v + 1 WHERE id = 1".into(), None).await.unwrap(), 1);
    assert_eq!(c.execute_update("INSERT INTO guarded VALUES (40, 0)".into(), None).await.unwrap(), 1);
    let mut lookup = c.prepare("SELECT v FROM guarded WHERE id = 1".into(), None).await.unwrap();
    let mut update = c.prepare("UPDATE guarded SET v = v + 1 WHERE id = 1".into(), None).await.unwrap();
    for id in [41, 42] {
        let info = lookup.execute().await.unwrap();
        assert_eq!(fetch_rows(&mut c, info).await, 1);
        assert_eq!(update.execute_update().await.unwrap(), 1);
        let sql = format!("INSERT INTO guarded VALUES ({id}, 0)");
        let mut insert = c.prepare(sql, None).await.unwrap();
        assert_eq!(insert.execute_update().await.unwrap(), 1);
    }
    expect_ran(guard, before, 3, "Flight SQL");
    let err = c.execute_update("DELETE FROM guarded WHERE id = 40".into(), None).await.unwrap_err();
    assert!(err.to_string().contains("42501"), "{err}");
    served.log.expect_since(observed, 10, "Flight SQL");

    // Every write above landed: the hooks checked, they did not replace.
    let mut s = served.db.session();
    let (_, batches) = s.execute("SELECT count(*) FROM guarded").await.unwrap().remove(0).collect().await.unwrap();
    let count = batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
    assert_eq!(count, 1 + 2 + 2 + 2 + 1 + 2);
}
