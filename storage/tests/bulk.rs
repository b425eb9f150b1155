//! Rows inserted as columns: read back through every read path before and
//! after commit, across savepoints, row writes to the same table, restarts
//! (log replay) and checkpoints, and checked like any insert.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, StringArray};
use rustydb_common::{IndexId, TableId};
use rustydb_storage::{
    BULK_SEGMENT_ROWS_MIN, ColumnSpec, ColumnType, IndexSpec, Isolation, KeyRange, ReadView, ScanCursor, Storage,
    StorageError, StorageOptions, TableSpec, Transaction, Value, WriteOutcome,
};

use crate::{T, create_kv};

const B: TableId = TableId(6000);
const BY_K: IndexId = IndexId(6001);

/// `(k BIGINT NOT NULL, v TEXT)` with a non-unique index on k.
fn spec() -> TableSpec {
    TableSpec {
        id: B,
        columns: vec![
            ColumnSpec { name: "k".into(), ty: ColumnType::Int64, nullable: false },
            ColumnSpec { name: "v".into(), ty: ColumnType::Text, nullable: true },
        ],
        indexes: vec![IndexSpec { id: BY_K, name: "b_k".into(), columns: vec![0], unique: false, primary: false }],
    }
}

fn text(k: i64) -> Option<String> {
    (k % 7 != 0).then(|| format!("v{k}"))
}

/// Columns of rows `ks`: v is NULL for multiples of 7.
fn columns(ks: std::ops::Range<i64>) -> Vec<ArrayRef> {
    vec![
        Arc::new(Int64Array::from_iter_values(ks.clone())),
        Arc::new(StringArray::from(ks.map(text).collect::<Vec<_>>())),
    ]
}

fn insert(txn: &mut Transaction, ks: std::ops::Range<i64>) {
    let n = ks.clone().count();
    assert_eq!(txn.insert_columns(B, columns(ks), n).unwrap(), n);
}

type Contents = Vec<(i64, Option<String>)>;

fn expected(ks: impl IntoIterator<Item = i64>) -> Contents {
    let mut out: Contents = ks.into_iter().map(|k| (k, text(k))).collect();
    out.sort();
    out
}

fn from_row(r: &[Value]) -> (i64, Option<String>) {
    match (&r[0], &r[1]) {
        (Value::Int64(k), Value::Text(v)) => (*k, Some(v.to_string())),
        (Value::Int64(k), Value::Null) => (*k, None),
        other => panic!("unexpected row {other:?}"),
    }
}

/// What `view` sees, read row by row and by a chunked scan (which must
/// agree, each row once); also checks `get` of every scanned row id.
fn seen(view: &ReadView) -> Contents {
    let mut rows: Contents = view.rows(B).unwrap().iter().map(|(_, r)| from_row(r)).collect();
    rows.sort();
    let mut cursor = ScanCursor::default();
    let mut scanned = Contents::new();
    let mut ids = std::collections::BTreeSet::new();
    while let Some(chunk) = view.scan_chunk(B, &mut cursor, &[0, 1], 100).unwrap() {
        let k = chunk.columns[0].as_any().downcast_ref::<Int64Array>().unwrap();
        let v = chunk.columns[1].as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..chunk.len {
            assert!(ids.insert(chunk.row_id(i)), "row {} scanned twice", chunk.row_id(i));
            let row = (k.value(i), v.is_valid(i).then(|| v.value(i).to_owned()));
            let got = view.get(B, chunk.row_id(i)).unwrap().expect("a scanned row can be got");
            assert_eq!(from_row(&got), row);
            scanned.push(row);
        }
    }
    scanned.sort();
    assert_eq!(scanned, rows, "scan and row reads agree");
    rows
}

/// Rows with key `k` through the index.
fn with_key(view: &ReadView, k: i64) -> Contents {
    let Some(chunk) = view.lookup(B, BY_K, &KeyRange::eq(vec![Value::Int64(k)]), &[0, 1]).unwrap() else {
        return Vec::new();
    };
    (0..chunk.len).map(|i| from_row(&view.get(B, chunk.row_id(i)).unwrap().unwrap())).collect()
}

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(dir, StorageOptions::default()).unwrap()
}

/// Small commits of batches go into the row store; large ones become
/// segments (`BULK_SEGMENT_ROWS_MIN`): both read alike.
#[test]
fn rows_inserted_as_columns_read_back_everywhere_and_survive_restarts() {
    round_trip(1_000);
    round_trip(BULK_SEGMENT_ROWS_MIN as i64 / 2);
}

/// Loads 3n rows in one commit, then works on them.
fn round_trip(n: i64) {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    let mut txn = s.begin(Isolation::ReadCommitted);
    txn.create_table(spec()).unwrap();
    txn.commit().unwrap();
    let mut before = s.begin(Isolation::RepeatableRead);
    before.begin_statement();

    let mut txn = s.begin(Isolation::ReadCommitted);
    txn.begin_statement();
    insert(&mut txn, 0..n);
    insert(&mut txn, n..2 * n);
    let sp = txn.savepoint();
    insert(&mut txn, 2 * n..5 * n / 2);
    assert_eq!(seen(&txn.view()), expected(0..5 * n / 2), "own rows, before commit");
    assert_eq!(with_key(&txn.view(), 2 * n + 100), expected([2 * n + 100]));
    txn.rollback_to(&sp);
    assert_eq!(seen(&txn.view()), expected(0..2 * n), "after rolling back to the savepoint");
    assert!(with_key(&txn.view(), 2 * n + 100).is_empty());
    insert(&mut txn, 2 * n..3 * n);
    txn.commit().unwrap();

    assert!(seen(&before.view()).is_empty(), "an older snapshot does not see the bulk commit");
    let fresh = s.begin(Isolation::ReadCommitted);
    let segments = fresh.view().planned_segments(B).unwrap().count();
    assert_eq!(segments > 0, 3 * n >= BULK_SEGMENT_ROWS_MIN as i64, "{segments} segments for {} rows", 3 * n);
    assert_eq!(seen(&fresh.view()), expected(0..3 * n));

    // Row writes to committed bulk rows: update one, delete another.
    let mut txn = s.begin(Isolation::ReadCommitted);
    txn.begin_statement();
    let id = |txn: &Transaction, k: i64| {
        let chunk = txn.view().lookup(B, BY_K, &KeyRange::eq(vec![Value::Int64(k)]), &[]).unwrap().unwrap();
        chunk.row_id(0)
    };
    let snap = txn.snapshot();
    let updated: Box<[Value]> = vec![Value::Int64(5), Value::Text("five".into())].into();
    assert_eq!(txn.update(B, id(&txn, 5), updated, snap).unwrap(), WriteOutcome::Done);
    assert_eq!(txn.delete(B, id(&txn, 6), snap).unwrap(), WriteOutcome::Done);
    // A batch, then a row write to one of its rows: the batch turns into rows.
    insert(&mut txn, 3 * n..3 * n + 10);
    let own = id(&txn, 3 * n + 3);
    assert_eq!(txn.delete(B, own, snap).unwrap(), WriteOutcome::Done);
    insert(&mut txn, 3 * n + 10..3 * n + 20);
    txn.commit().unwrap();
    let mut want: Contents = expected((0..3 * n + 20).filter(|k| ![5, 6, 3 * n + 3].contains(k)));
    want.push((5, Some("five".into())));
    want.sort();
    assert_eq!(seen(&s.begin(Isolation::ReadCommitted).view()), want);

    // TRUNCATE in the transaction that inserted a batch drops the batch.
    let mut txn = s.begin(Isolation::ReadCommitted);
    insert(&mut txn, 5 * n..5 * n + 100);
    txn.truncate(B).unwrap();
    insert(&mut txn, 6 * n..6 * n + 2);
    assert_eq!(seen(&txn.view()), expected(6 * n..6 * n + 2));
    txn.rollback();

    drop((before, fresh));
    drop(s);
    let s = open(dir.path());
    assert_eq!(seen(&s.begin(Isolation::ReadCommitted).view()), want, "after replaying the log");
    assert_eq!(with_key(&s.begin(Isolation::ReadCommitted).view(), 5), vec![(5, Some("five".into()))]);
    s.checkpoint().unwrap().expect("commits since the last checkpoint");
    drop(s);
    let s = open(dir.path());
    assert_eq!(seen(&s.begin(Isolation::ReadCommitted).view()), want, "after a checkpoint");
    // Row ids continue past the bulk rows after the log was dropped.
    let mut txn = s.begin(Isolation::ReadCommitted);
    insert(&mut txn, 7 * n..7 * n + 1);
    txn.commit().unwrap();
    want.extend(expected(7 * n..7 * n + 1));
    assert_eq!(seen(&s.begin(Isolation::ReadCommitted).view()), want);
}

#[test]
fn rows_inserted_as_columns_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    let mut txn = s.begin(Isolation::ReadCommitted);
    txn.create_table(spec()).unwrap();
    txn.commit().unwrap();

    let mut txn = s.begin(Isolation::ReadCommitted);
    let nulls: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![Some(1), None])), columns(0..2)[1].clone()];
    assert!(matches!(txn.insert_columns(B, nulls, 2), Err(StorageError::NotNullViolation { column }) if column == "k"));
    let wrong: Vec<ArrayRef> = vec![columns(0..2)[1].clone(), columns(0..2)[1].clone()];
    assert!(txn.insert_columns(B, wrong, 2).is_err(), "a text array for a bigint column");
    assert!(txn.insert_columns(B, columns(0..2), 3).is_err(), "a length the arrays do not have");
    assert_eq!(txn.insert_columns(B, columns(0..0), 0).unwrap(), 0);
    assert!(!txn.has_writes());

    // A table with a unique index goes row by row: keys are checked.
    let kv = |ks: Vec<i64>| -> Vec<ArrayRef> {
        let n = ks.len();
        vec![Arc::new(Int64Array::from(ks)), Arc::new(Int64Array::from(vec![0i64; n]))]
    };
    assert_eq!(txn.insert_columns(T, kv(vec![1, 2]), 2).unwrap(), 2);
    assert!(matches!(txn.insert_columns(T, kv(vec![3, 2]), 2), Err(StorageError::UniqueViolation { .. })));
}

/// Columns that are slices of larger buffers (as Arrow IPC decoding makes
/// them: every column of a Flight SQL message is a slice of its body) count
/// what they hold against the row store budget, not their whole buffers.
#[test]
fn sliced_columns_count_their_slice_against_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions { row_store_bytes: 4 << 20, checkpoint_interval: None, ..StorageOptions::default() };
    let s = Storage::open(dir.path(), options).unwrap();
    let mut txn = s.begin(Isolation::ReadCommitted);
    txn.create_table(spec()).unwrap();
    txn.commit().unwrap();
    // Two 8 MB buffers, each larger than the budget; 100 slices of 1,000 rows.
    let whole = columns(0..1_000_000);
    let mut txn = s.begin(Isolation::ReadCommitted);
    for first in (0..100_000).step_by(1000) {
        let slice = whole.iter().map(|c| c.slice(first, 1000)).collect();
        assert_eq!(txn.insert_columns(B, slice, 1000).unwrap(), 1000);
    }
    txn.commit().unwrap();
    assert_eq!(seen(&s.begin(Isolation::ReadCommitted).view()), expected(0..100_000));
}
