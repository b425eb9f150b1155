//! Prepared statements: typed parameters, re-execution at new snapshots,
//! re-planning after DDL, DML with parameters.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;

use crate::{database, exec, rows};

async fn collect(out: rustydb_engine::QueryOutput) -> Vec<Vec<String>> {
    crate::strings(out).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prepared_query_infers_types_and_sees_new_data() {
    let (_d, db) = database();
    let mut s = db.session();
    exec(&mut s, "CREATE TABLE t (id BIGINT PRIMARY KEY, name TEXT); INSERT INTO t VALUES (1, 'a'), (2, 'b')").await;
    let mut p = s.prepare("SELECT name FROM t WHERE id = $1", &[]).await.unwrap();
    assert_eq!(p.param_types(), &[DataType::Int64]);
    assert_eq!(p.schema().unwrap().field(0).name(), "name");
    let out = s.execute_prepared(&mut p, vec![ScalarValue::Int64(Some(2))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["b"]]));
    // A later execution reads a later snapshot.
    exec(&mut s, "UPDATE t SET name = 'bb' WHERE id = 2").await;
    let out = s.execute_prepared(&mut p, vec![ScalarValue::Int64(Some(2))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["bb"]]));
    // Wrong parameter count is a protocol error, not a panic.
    let err = s.execute_prepared(&mut p, vec![]).await.unwrap_err();
    assert_eq!(err.sqlstate(), "08P01");
    // After DDL the statement is planned again.
    exec(&mut s, "ALTER TABLE t ADD COLUMN extra INT DEFAULT 5").await;
    let out = s.execute_prepared(&mut p, vec![ScalarValue::Int64(Some(1))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["a"]]));
    // A text value for a bigint parameter is cast, and bad text is 22P02.
    let out = s.execute_prepared(&mut p, vec![ScalarValue::Utf8(Some("1".into()))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["a"]]));
    let err = s.execute_prepared(&mut p, vec![ScalarValue::Utf8(Some("x".into()))]).await.unwrap_err();
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
    let mut upd = s.prepare("UPDATE t SET note = $1 WHERE id = $2", &[]).await.unwrap();
    s.execute_prepared(&mut upd, vec![ScalarValue::Utf8(Some("changed".into())), ScalarValue::Int32(Some(1))])
        .await
        .unwrap();
    let mut sel = s.prepare("SELECT id, note, at FROM t ORDER BY id", &[]).await.unwrap();
    let out = s.execute_prepared(&mut sel, vec![]).await.unwrap();
    assert_eq!(
        collect(out).await,
        rows(&[&["0", "it's 0", "2022-01-08"], &["1", "changed", "2022-01-09"], &["2", "it's 2", "2022-01-10"]])
    );
    // Inside a transaction block, prepared statements see the block's writes.
    exec(&mut s, "BEGIN; CREATE TABLE u (x INT); INSERT INTO u VALUES (7)").await;
    let mut p = s.prepare("SELECT x FROM u WHERE x = $1", &[]).await.unwrap();
    let out = s.execute_prepared(&mut p, vec![ScalarValue::Int32(Some(7))]).await.unwrap();
    assert_eq!(collect(out).await, rows(&[&["7"]]));
    exec(&mut s, "ROLLBACK").await;
}
