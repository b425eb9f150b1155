//! Prepared statements: typed parameters, re-execution at new snapshots,
//! re-planning after DDL, DML with parameters.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

use crate::{database, exec, rows};

async fn collect(out: rustydb_engine::api::StatementResult) -> Vec<Vec<String>> {
    crate::strings(out).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_query_infers_types_and_sees_new_data() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    let p = s.prepare("SELECT name FROM t WHERE id = $1", &[]).await.unwrap();
    assert_eq!(p.param_types(), &[DataType::Int64]);
    assert_eq!(p.schema().unwrap().field(0).name(), "name");
    let out = s.execute_prepared(&p, vec![ScalarValue::Int64(Some(2))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["b"]]));
    // A later execution reads a later snapshot.
    exec(&mut s, "UPDATE t SET name = 'bb' WHERE id = 2").await;
    let out = s.execute_prepared(&p, vec![ScalarValue::Int64(Some(2))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["bb"]]));
    // Wrong parameter count is a protocol error, not a panic.
    let err = s.execute_prepared(&p, vec![]).await.unwrap_err();
    assert_eq!(err.sqlstate(), "08P01");
    // After DDL the statement is planned again.
    exec(&mut s, "ALTER TABLE t ADD COLUMN extra INT DEFAULT 5").await;
    let out = s.execute_prepared(&p, vec![ScalarValue::Int64(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["a"]]));
    // A text value for a bigint parameter is cast, and bad text is 22P02.
    let out = s.execute_prepared(&p, vec![ScalarValue::Utf8(Some("1".into()))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["a"]]));
    let err = s.execute_prepared(&p, vec![ScalarValue::Utf8(Some("x".into()))]).await.unwrap_err();
    assert_eq!(err.sqlstate(), "22P02");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_dml_binds_parameters() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE t (id INT PRIMARY KEY, note TEXT, at DATE)").await;
    let mut ins = s.prepare("INSERT INTO t VALUES ($1, $2, $3)", &[]).await.unwrap();
    assert_eq!(ins.param_types(), &[DataType::Int32, DataType::Utf8, DataType::Date32]);
    for i in 0..3 {
        s.execute_prepared(
            &mut ins,
            vec![
                ScalarValue::Int32(Some(i)),
                ScalarValue::Utf8(Some(format!("it's {i}"))),
                ScalarValue::Date32(Some(19_000 + i)),
            ],
        )
        .await
        .unwrap();
    }
    let upd = s.prepare("UPDATE t SET note = $1 WHERE id = $2", &[]).await.unwrap();
    s.execute_prepared(&upd, vec![ScalarValue::Utf8(Some("changed".into())), ScalarValue::Int32(Some(1))])
        .await
        .unwrap();
    let sel = s.prepare("SELECT id, note, at FROM t ORDER BY id", &[]).await.unwrap();
    let out = s.execute_prepared(&sel, vec![]).await.unwrap();
    assert_eq!(
        collect(out).await,
        rows(&[&["0", "it's 0", "2022-01-08"], &["1", "changed", "2022-01-09"], &["2", "it's 2", "2022-01-10"]])
    );
    // Inside a transaction block, prepared statements see the block's writes.
    exec(&mut s, "BEGIN; CREATE TABLE u (x INT); INSERT INTO u VALUES (7)").await;
    let p = s.prepare("SELECT x FROM u WHERE x = $1", &[]).await.unwrap();
    let out = s.execute_prepared(&p, vec![ScalarValue::Int32(Some(7))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["7"]]));
    exec(&mut s, "ROLLBACK").await;
}

/// Point SELECTs with literal keys (the simple query protocol) are answered
/// by an index lookup without planning; columns (names, types, nullability,
/// pg type metadata) and rows are exactly those DataFusion gives for the
/// same query made ineligible by a trailing `AND true`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_point_lookups_agree_with_datafusion() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(
        &mut s,
        "CREATE TABLE acc (id INT PRIMARY KEY, region TEXT NOT NULL, n INT NOT NULL, bal BIGINT, doc JSON);
         CREATE UNIQUE INDEX acc_region_n ON acc (region, n);
         INSERT INTO acc VALUES (1, 'eu', 1, 100, '{\"a\": 1}'), (2, 'eu', 2, NULL, NULL), (-3, 'us', 1, 300, '[]')",
    )
    .await;
    for sql in [
        "SELECT bal FROM acc WHERE id = 1",
        "SELECT bal AS \"Balance\", doc, bal AS b2 FROM acc WHERE id = 2",
        "SELECT * FROM acc a WHERE a.id = -3",
        "SELECT id FROM acc WHERE id = 9",
        "SELECT doc AS x, region FROM acc WHERE n = 1 AND region = 'us'",
        "SELECT bal FROM acc WHERE id = 1.5",
        "SELECT bal FROM acc WHERE id = 99999999999",
        "SELECT bal FROM acc WHERE (id) = 1",
        "SELECT (bal), acc.region FROM acc WHERE id = 1",
    ] {
        let mut outs = Vec::new();
        for q in [sql.to_owned(), format!("{sql} AND true")] {
            let out = s.execute(&q).await.unwrap_or_else(|e| panic!("{q}: {e}")).remove(0);
            let rustydb_engine::api::StatementResult::Rows { schema, .. } = &out else { panic!("{q} gave {out:?}") };
            outs.push((schema.fields().clone(), collect(out).await));
        }
        assert_eq!(outs[0], outs[1], "{sql}");
    }
    // Inside a block the lookup reads the block's own writes.
    exec(&mut s, "BEGIN; UPDATE acc SET bal = 5 WHERE id = 1").await;
    assert_eq!(crate::query(&mut s, "SELECT bal FROM acc WHERE id = 1").await.unwrap(), rows(&[&["5"]]));
    exec(&mut s, "ROLLBACK").await;
    assert_eq!(crate::query(&mut s, "SELECT bal FROM acc WHERE id = 1").await.unwrap(), rows(&[&["100"]]));
}

/// A single-row INSERT of literals is written without DataFusion; it
/// stores what DataFusion's INSERT stores (the same values through a
/// two-row VALUES, which the fast path leaves alone) and fails the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn literal_inserts_agree_with_datafusion() {
    let (_d, db) = database();
    let mut s = db.session();
    let columns = "(id INT PRIMARY KEY, d INT, b BIGINT, x NUMERIC(10,2), t TEXT, at TIMESTAMP)";
    exec(&mut s, &format!("CREATE TABLE fast {columns}; CREATE TABLE slow {columns}")).await;
    for (id, rest) in [
        (1, "-2712, -5, -1.25, 'a', NULL"),
        (2, "2147483647, -9223372036854775808, 3, '-1', '2024-01-02 03:04:05'"),
        (3, "-2147483649, 0, 0, NULL, NULL"),
        (4, "'12', 1, 1, 'x', NULL"),
        (5, "1.5, 1, 1, 'x', NULL"),
        (6, "NULL, -0, -99999999.99, '', now()"),
    ] {
        let fast = s.execute(&format!("INSERT INTO fast VALUES ({id}, {rest})")).await;
        let slow = s.execute(&format!("INSERT INTO slow VALUES ({id}, {rest}), ({}, {rest})", id + 100)).await;
        assert_eq!(fast.as_ref().err().map(|e| e.sqlstate()), slow.as_ref().err().map(|e| e.sqlstate()), "{rest}");
        let row = |t: &str| format!("SELECT id, d, b, x, t, at IS NULL FROM {t} WHERE id = {id}");
        let (fast, slow) = (crate::query(&mut s, &row("fast")).await, crate::query(&mut s, &row("slow")).await);
        assert_eq!(fast.unwrap(), slow.unwrap(), "{rest}");
    }
}

/// The index-lookup fast path answers exactly what DataFusion answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_lookups_take_the_fast_path_and_agree_with_datafusion() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(
        &mut s,
        "CREATE TABLE acc (id INT PRIMARY KEY, region TEXT NOT NULL, n INT NOT NULL, bal BIGINT, note TEXT);
         CREATE UNIQUE INDEX acc_region_n ON acc (region, n);
         INSERT INTO acc VALUES (1, 'eu', 1, 100, 'one'), (2, 'eu', 2, NULL, NULL), (3, 'us', 1, 300, 'three')",
    )
    .await;
    let fast = [
        ("SELECT bal FROM acc WHERE id = $1", vec![ScalarValue::Int32(Some(1))], rows(&[&["100"]])),
        ("SELECT bal, note FROM acc WHERE id = $1", vec![ScalarValue::Int32(Some(2))], rows(&[&["NULL", "NULL"]])),
        (
            "SELECT * FROM acc a WHERE a.id = $1",
            vec![ScalarValue::Int32(Some(3))],
            rows(&[&["3", "us", "1", "300", "three"]]),
        ),
        ("SELECT id FROM acc WHERE id = $1", vec![ScalarValue::Int32(Some(9))], vec![]),
        ("SELECT id FROM acc WHERE id = $1", vec![ScalarValue::Int32(None)], vec![]),
        (
            "SELECT note AS x FROM acc WHERE n = $2 AND region = $1",
            vec![ScalarValue::Utf8(Some("us".into())), ScalarValue::Int32(Some(1))],
            rows(&[&["three"]]),
        ),
        ("SELECT bal FROM acc WHERE 1 = id", vec![], rows(&[&["100"]])),
    ];
    for (sql, params, expected) in fast {
        let p = s.prepare(sql, &[]).await.unwrap();
        assert!(p.uses_index_lookup(), "{sql} should take the fast path");
        let out = s.execute_prepared(&p, params.clone()).await.unwrap();
        assert_eq!(collect(out).await, expected, "{sql}");
    }
    // Shapes that need DataFusion stay with it.
    for sql in [
        "SELECT bal + 1 FROM acc WHERE id = $1",
        "SELECT bal FROM acc WHERE id = $1 OR id = 2",
        "SELECT bal FROM acc WHERE region = $1",
        "SELECT bal FROM acc WHERE id = $1 ORDER BY bal",
        "SELECT count(*) FROM acc WHERE id = $1",
        "SELECT bal FROM acc WHERE id = $1 AND bal > 0",
    ] {
        let p = s.prepare(sql, &[]).await.unwrap();
        assert!(!p.uses_index_lookup(), "{sql} must not take the fast path");
    }
    // A parameter declared wider than the key falls back rather than fail.
    let p = s.prepare("SELECT bal FROM acc WHERE id = $1", &[Some(DataType::Int64)]).await.unwrap();
    let out = s.execute_prepared(&p, vec![ScalarValue::Int64(Some(1 << 40))]).await.unwrap();
    assert!(collect(out).await.is_empty());
    let out = s.execute_prepared(&p, vec![ScalarValue::Int64(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["100"]]));

    // Snapshots: own uncommitted writes are seen, others' are not; after
    // DDL the lookup is planned again.
    let p = s.prepare("SELECT * FROM acc WHERE id = $1", &[]).await.unwrap();
    let mut other = db.session();
    exec(&mut other, "BEGIN; UPDATE acc SET bal = 111 WHERE id = 1").await;
    let out = s.execute_prepared(&p, vec![ScalarValue::Int32(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["1", "eu", "1", "100", "one"]]));
    let q = other.prepare("SELECT bal FROM acc WHERE id = $1", &[]).await.unwrap();
    let out = other.execute_prepared(&q, vec![ScalarValue::Int32(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["111"]]));
    exec(&mut other, "COMMIT").await;
    exec(&mut s, "ALTER TABLE acc ADD COLUMN extra INT DEFAULT 7").await;
    let out = s.execute_prepared(&p, vec![ScalarValue::Int32(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["1", "eu", "1", "111", "one", "7"]]));
}

/// Single-row UPDATEs through a unique key skip DataFusion and keep every
/// rule of the ordinary path: checks, NULL keys, READ COMMITTED re-reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_updates_keep_checks_and_write_rules() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(
        &mut s,
        "CREATE TABLE acc (id INT PRIMARY KEY, bal INT NOT NULL, note VARCHAR(3));
         INSERT INTO acc VALUES (1, 100, 'a'), (2, 2147483000, NULL)",
    )
    .await;
    let add = s.prepare("UPDATE acc SET bal = bal + $1 WHERE id = $2", &[]).await.unwrap();
    assert!(add.uses_index_lookup());
    let tag = |out| match out {
        rustydb_engine::api::StatementResult::Done(outcome) => rustydb_engine::pg::command_tag(&outcome),
        other => panic!("{other:?}"),
    };
    let run = |v: i32, id: Option<i32>| vec![ScalarValue::Int32(Some(v)), ScalarValue::Int32(id)];
    assert_eq!(tag(s.execute_prepared(&add, run(5, Some(1))).await.unwrap()), "UPDATE 1");
    assert_eq!(tag(s.execute_prepared(&add, run(5, Some(9))).await.unwrap()), "UPDATE 0");
    assert_eq!(tag(s.execute_prepared(&add, run(5, None)).await.unwrap()), "UPDATE 0");
    let err = s.execute_prepared(&add, run(1000, Some(2))).await.unwrap_err();
    assert_eq!(err.sqlstate(), "22003");
    let set = s.prepare("UPDATE acc SET note = $1, bal = $2 WHERE id = $3", &[]).await.unwrap();
    assert!(set.uses_index_lookup());
    let vals = |note: Option<&str>, bal: Option<i32>| {
        vec![ScalarValue::Utf8(note.map(str::to_owned)), ScalarValue::Int32(bal), ScalarValue::Int32(Some(1))]
    };
    assert_eq!(s.execute_prepared(&set, vals(Some("toolong"), Some(1))).await.unwrap_err().sqlstate(), "22001");
    assert_eq!(s.execute_prepared(&set, vals(Some("ok"), None)).await.unwrap_err().sqlstate(), "23502");
    assert_eq!(tag(s.execute_prepared(&set, vals(None, Some(7))).await.unwrap()), "UPDATE 1");
    assert_eq!(
        crate::query(&mut s, "SELECT bal, note FROM acc ORDER BY id").await.unwrap(),
        rows(&[&["7", "NULL"], &["2147483000", "NULL"]])
    );

    // READ COMMITTED: a concurrent committed change is re-read, not lost.
    let mut other = db.session();
    exec(&mut other, "BEGIN; UPDATE acc SET bal = bal + 10 WHERE id = 1").await;
    let waiter = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut s2 = db.session();
            let add = s2.prepare("UPDATE acc SET bal = bal + $1 WHERE id = $2", &[]).await.unwrap();
            s2.execute_prepared(&add, vec![ScalarValue::Int32(Some(1)), ScalarValue::Int32(Some(1))]).await.map(|_| ())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    exec(&mut other, "COMMIT").await;
    waiter.await.unwrap().unwrap();
    assert_eq!(crate::query(&mut s, "SELECT bal FROM acc WHERE id = 1").await.unwrap(), rows(&[&["18"]]));

    // REPEATABLE READ: the same conflict is a serialization failure.
    exec(&mut other, "BEGIN; UPDATE acc SET bal = bal + 10 WHERE id = 1").await;
    exec(&mut s, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT 1").await;
    let rr = {
        let add = s.prepare("UPDATE acc SET bal = bal + $1 WHERE id = $2", &[]).await.unwrap();
        tokio::spawn(async move {
            let r = s.execute_prepared(&add, vec![ScalarValue::Int32(Some(1)), ScalarValue::Int32(Some(1))]).await;
            r.map(|_| ()).map_err(|e| e.sqlstate())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    exec(&mut other, "COMMIT").await;
    assert_eq!(rr.await.unwrap(), Err("40001"));
}

/// Single-row INSERT VALUES skips DataFusion and still fills defaults and
/// identities and enforces constraints.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn point_inserts_fill_defaults_and_check_constraints() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(
        &mut s,
        "CREATE TABLE h (id BIGSERIAL PRIMARY KEY, v INT NOT NULL, note TEXT DEFAULT 'x', d DATE, at TIMESTAMPTZ)",
    )
    .await;
    let ins = s.prepare("INSERT INTO h (v, d, at) VALUES ($1, '2024-02-29', CURRENT_TIMESTAMP)", &[]).await.unwrap();
    assert!(ins.uses_index_lookup());
    for v in [10, 20] {
        s.execute_prepared(&ins, vec![ScalarValue::Int32(Some(v))]).await.unwrap();
    }
    let err = s.execute_prepared(&ins, vec![ScalarValue::Int32(None)]).await.unwrap_err();
    assert_eq!(err.sqlstate(), "23502");
    let dup = s.prepare("INSERT INTO h (id, v) VALUES ($1, $2)", &[]).await.unwrap();
    assert!(dup.uses_index_lookup());
    let err =
        s.execute_prepared(&dup, vec![ScalarValue::Int64(Some(1)), ScalarValue::Int32(Some(0))]).await.unwrap_err();
    assert_eq!(err.sqlstate(), "23505");
    assert_eq!(
        crate::query(&mut s, "SELECT id, v, note, d, at > now() - INTERVAL '1 minute' FROM h ORDER BY id")
            .await
            .unwrap(),
        rows(&[&["1", "10", "x", "2024-02-29", "true"], &["2", "20", "x", "2024-02-29", "true"]])
    );
    // Inside a block the row is the block's until it commits.
    exec(&mut s, "BEGIN").await;
    s.execute_prepared(&ins, vec![ScalarValue::Int32(Some(30))]).await.unwrap();
    exec(&mut s, "ROLLBACK").await;
    assert_eq!(crate::query(&mut s, "SELECT count(*) FROM h").await.unwrap(), rows(&[&["2"]]));
}

/// Names in a prepared statement resolve against the search path of each
/// execution, as in PostgreSQL: after SET search_path the same statement
/// reads and writes the other schema's table (queries are planned again,
/// the keyed UPDATE and INSERT fast paths give way to the ordinary path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_statements_follow_the_search_path() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(
        &mut s,
        "CREATE SCHEMA other; CREATE TABLE t (id BIGINT PRIMARY KEY, v TEXT); \
         CREATE TABLE other.t (id BIGINT PRIMARY KEY, v TEXT); \
         INSERT INTO t VALUES (1, 'public'); INSERT INTO other.t VALUES (1, 'other')",
    )
    .await;
    let sel = s.prepare("SELECT v FROM t WHERE id = $1", &[]).await.unwrap();
    let upd = s.prepare("UPDATE t SET v = $1 WHERE id = $2", &[]).await.unwrap();
    let ins = s.prepare("INSERT INTO t VALUES ($1, $2)", &[]).await.unwrap();
    let one = || vec![ScalarValue::Int64(Some(1))];
    assert_eq!(collect(s.execute_prepared(&sel, one()).await.unwrap()).await, rows(&[&["public"]]));
    exec(&mut s, "SET search_path = other").await;
    assert_eq!(collect(s.execute_prepared(&sel, one()).await.unwrap()).await, rows(&[&["other"]]));
    let text = |v: &str| ScalarValue::Utf8(Some(v.into()));
    s.execute_prepared(&upd, vec![text("changed"), ScalarValue::Int64(Some(1))]).await.unwrap();
    s.execute_prepared(&ins, vec![ScalarValue::Int64(Some(2)), text("new")]).await.unwrap();
    exec(&mut s, "RESET search_path").await;
    assert_eq!(collect(s.execute_prepared(&sel, one()).await.unwrap()).await, rows(&[&["public"]]));
    let out = s.execute("SELECT id, v FROM other.t ORDER BY id").await.unwrap().remove(0);
    assert_eq!(collect(out).await, rows(&[&["1", "changed"], &["2", "new"]]));
    let out = s.execute("SELECT count(*) FROM public.t").await.unwrap().remove(0);
    assert_eq!(collect(out).await, rows(&[&["1"]]));
}

/// Every statement's future is copied whole when the front end boxes it
/// (pgwire's handlers are `async_trait`s): the prepared path's was 24 KB,
/// almost all of it room for the general path it rarely takes, and the
/// copies were a tenth of the server's CPU under prepared TPC-B.
#[tokio::test]
async fn the_prepared_path_future_stays_small() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE t (a BIGINT PRIMARY KEY, b BIGINT)").await;
    let p = s.prepare("UPDATE t SET b = b + $1 WHERE a = $2", &[]).await.unwrap();
    let f = s.execute_prepared(&p, vec![]);
    assert!(std::mem::size_of_val(&f) < 8 << 10, "{} bytes", std::mem::size_of_val(&f));
}
