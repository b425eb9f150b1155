//! Storage integration tests: recovery, torn tails, fsync failure, group
//! commit, and MVCC against a reference model.

mod bulk;
mod checkpoint;
mod compaction;
mod durability;
mod memory;
mod merge;
mod model;
mod unique;

use rustydb_common::RowId;
use rustydb_common::{IndexId, TableId};
use rustydb_storage::{ColumnSpec, ColumnType, IndexSpec, Isolation, KeyRange, Storage, TableSpec, Value};
use std::sync::Arc;

pub const T: TableId = TableId(5000);

/// `(k BIGINT PRIMARY KEY, v BIGINT)`.
pub fn kv_spec() -> TableSpec {
    TableSpec {
        id: T,
        columns: vec![
            ColumnSpec { name: "k".into(), ty: ColumnType::Int64, nullable: false },
            ColumnSpec { name: "v".into(), ty: ColumnType::Int64, nullable: true },
        ],
        indexes: vec![IndexSpec {
            id: IndexId(5001),
            name: "kv_pkey".into(),
            columns: vec![0],
            unique: true,
            primary: true,
        }],
    }
}

pub fn create_kv(storage: &Arc<Storage>) {
    let mut txn = storage.begin(Isolation::ReadCommitted);
    txn.create_table(kv_spec()).unwrap();
    txn.commit().unwrap();
}

pub fn row(k: i64, v: i64) -> Box<[Value]> {
    vec![Value::Int64(k), Value::Int64(v)].into()
}

/// All visible (k, v) pairs, sorted.
pub fn contents(view: &rustydb_storage::ReadView) -> Vec<(i64, i64)> {
    let mut out: Vec<(i64, i64)> = view
        .rows(T)
        .unwrap()
        .into_iter()
        .map(|(_, r)| match (&r[0], &r[1]) {
            (Value::Int64(k), Value::Int64(v)) => (*k, *v),
            other => panic!("unexpected row {other:?}"),
        })
        .collect();
    out.sort();
    out
}

/// All visible (k, v) pairs read by a chunked scan of `chunk_rows` rows per
/// chunk, sorted; each row must come exactly once.
pub fn scanned(view: &rustydb_storage::ReadView, chunk_rows: usize) -> Vec<(i64, i64)> {
    use arrow::array::{Array, Int64Array};
    let mut cursor = rustydb_storage::ScanCursor::default();
    let mut out = Vec::new();
    let mut ids = std::collections::BTreeSet::new();
    while let Some(chunk) = view.scan_chunk(T, &mut cursor, &[0, 1], chunk_rows).unwrap() {
        let k = chunk.columns[0].as_any().downcast_ref::<Int64Array>().unwrap();
        let v = chunk.columns[1].as_any().downcast_ref::<Int64Array>().unwrap();
        // A row group read from its file comes whole, past `chunk_rows`.
        assert!(chunk.len > 0);
        for i in 0..chunk.len {
            assert!(ids.insert(chunk.row_id(i)), "row {} scanned twice", chunk.row_id(i));
            out.push((k.value(i), v.value(i)));
        }
    }
    out.sort();
    out
}

/// What a fresh READ COMMITTED transaction sees, read row by row and by a
/// chunked scan, which must agree.
pub fn now(s: &Arc<Storage>) -> Vec<(i64, i64)> {
    let t = s.begin(Isolation::ReadCommitted);
    let rows = contents(&t.view());
    assert_eq!(scanned(&t.view(), 7), rows, "scan and row-by-row reads agree");
    rows
}

/// The row id of key `k` as `view` sees it.
pub fn row_id(view: &rustydb_storage::ReadView, k: i64) -> Option<RowId> {
    view.lookup(T, IndexId(5001), &KeyRange::eq(vec![Value::Int64(k)]), &[]).unwrap().map(|c| c.row_id(0))
}
