//! The row store's memory budget: checkpoints keep it bounded under a
//! steady write load, a transaction too big for it fails with 53200, and
//! commits that cannot get room (checkpoints failing) fail with 53200
//! instead of growing memory.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustydb_storage::io::FaultyVfs;
use rustydb_storage::{Isolation, Storage, StorageOptions};

use crate::{T, create_kv, now, row};

fn budgeted(bytes: usize) -> StorageOptions {
    StorageOptions { row_store_bytes: bytes, checkpoint_interval: None, ..StorageOptions::default() }
}

/// Storage with a row store budget of `bytes`, and the kv table.
fn budgeted_kv(dir: &Path, bytes: usize) -> Arc<Storage> {
    let s = Storage::open(dir, budgeted(bytes)).unwrap();
    create_kv(&s);
    s
}

fn insert(s: &Arc<Storage>, keys: std::ops::Range<i64>) -> rustydb_storage::Result<()> {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(T, keys.map(|k| row(k, -k)).collect())?;
    t.commit().map(|_| ())
}

fn parquet_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("segments"))
        .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "parquet")).count())
        .unwrap_or(0)
}

#[test]
fn checkpoints_keep_the_row_store_within_its_budget() {
    const BUDGET: usize = 2 << 20;
    const PER_THREAD: i64 = 40_000;
    let dir = tempfile::tempdir().unwrap();
    let s = budgeted_kv(dir.path(), BUDGET);
    let most = std::thread::scope(|scope| {
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let s = &s;
                scope.spawn(move || {
                    let mut most = 0;
                    for first in (w * PER_THREAD..(w + 1) * PER_THREAD).step_by(500) {
                        insert(s, first..first + 500).unwrap();
                        most = most.max(s.row_store_memory().0);
                    }
                    most
                })
            })
            .collect();
        writers.into_iter().map(|w| w.join().unwrap()).max().unwrap()
    });
    // 80,000 rows take about 10 MiB in the row store: five budgets' worth.
    // Commits are let in while the store is within the budget, so it
    // overshoots by at most the commits in flight (two of ~70 KiB here).
    assert!(most <= BUDGET + (256 << 10), "the row store reached {most} bytes, budget {BUDGET}");
    // (Merging after them may have folded their segments into fewer.)
    assert!(parquet_files(dir.path()) >= 1, "checkpoints started by memory wrote segments");
    let counts = s.recount_memory();
    assert!(counts.exact(), "the running counts are exact: {counts:?}");
    let rows = now(&s);
    assert_eq!(rows.len(), 80_000);
    assert!(rows.iter().all(|&(k, v)| v == -k));
    drop(s);
    let s = Storage::open(dir.path(), budgeted(BUDGET)).unwrap();
    assert_eq!(now(&s), rows);
    let counts = s.recount_memory();
    assert!(counts.exact(), "{counts:?}");
}

/// Open transactions share the budget: two that each fit alone fail
/// together; what a statement's rollback, a rollback and a commit drop
/// is given back, so the second then gets its room.
#[test]
fn open_transactions_share_the_budget_for_pending_writes() {
    const BUDGET: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let s = budgeted_kv(dir.path(), BUDGET);
    // About 0.6 of the budget each (136 bytes a row).
    let rows = |first: i64| (first..first + 4_500).map(|k| row(k, k)).collect::<Vec<_>>();
    let mut a = s.begin(Isolation::ReadCommitted);
    a.insert(T, rows(0)).unwrap();
    let a_bytes = s.pending_writes_memory();
    assert!(a_bytes > BUDGET / 2 && a_bytes < BUDGET, "{a_bytes} bytes pending");

    let mut b = s.begin(Isolation::ReadCommitted);
    let before = b.savepoint();
    let e = b.insert(T, rows(10_000)).unwrap_err();
    assert_eq!(e.sqlstate(), "53200", "{e}");
    // The failed statement is rolled back to its savepoint (as the engine
    // does): what it reserved before failing is given back.
    b.rollback_to(&before);
    assert_eq!(s.pending_writes_memory(), a_bytes);

    a.rollback();
    assert_eq!(s.pending_writes_memory(), 0);
    b.insert(T, rows(10_000)).unwrap();
    b.commit().unwrap();
    assert_eq!(s.pending_writes_memory(), 0, "a commit gives its reservation back");
    assert_eq!(crate::contents(&s.begin(Isolation::ReadCommitted).view()).len(), 4_500);
}

#[test]
fn a_transaction_larger_than_the_budget_fails_with_53200() {
    const BUDGET: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let s = budgeted_kv(dir.path(), BUDGET);
    let mut t = s.begin(Isolation::ReadCommitted);
    let mut k = 0;
    let err = loop {
        // One row at a time (the table has a key): each is counted.
        match t.insert(T, vec![row(k, k)]) {
            Ok(_) => k += 1,
            Err(e) => break e,
        }
        assert!(k < 100_000, "1 MiB holds a few thousand rows");
    };
    assert_eq!(err.sqlstate(), "53200", "{err}");
    assert!(err.to_string().contains("smaller transactions"), "{err}");
    assert!(k > 2000, "{k} rows fit first");
    t.rollback();
    insert(&s, 0..1000).unwrap();
    assert_eq!(now(&s).len(), 1000);
}

#[test]
fn commits_past_the_budget_fail_with_53200_while_checkpoints_fail() {
    const BUDGET: usize = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let vfs = FaultyVfs::new();
    let faults = vfs.state();
    let options = StorageOptions { vfs: Arc::new(vfs), ..budgeted(BUDGET) };
    let s = Storage::open(dir.path(), options).unwrap();
    create_kv(&s);
    *faults.fail_write_matching.lock() = Some(".parquet".into());
    let mut next = 0;
    let err = loop {
        match insert(&s, next..next + 500) {
            Ok(()) => next += 500,
            Err(e) => break e,
        }
        assert!(next < 1_000_000, "commits stop once the store is past its budget");
    };
    assert_eq!(err.sqlstate(), "53200", "{err}");
    assert!(err.to_string().contains("failed"), "the message says why: {err}");
    let (used, budget) = s.row_store_memory();
    assert!(used > budget && used < budget + (256 << 10), "{used} of {budget}");
    // Once checkpoints work again, commits go on.
    *faults.fail_write_matching.lock() = None;
    let deadline = Instant::now() + Duration::from_secs(30);
    while insert(&s, next..next + 500).is_err() {
        assert!(Instant::now() < deadline, "the checkpointer retries and makes room");
        std::thread::sleep(Duration::from_millis(50));
    }
    next += 500;
    let rows = now(&s);
    assert_eq!(rows.len() as i64, next, "every commit that succeeded is there, none that failed");
    assert!(s.row_store_memory().0 <= BUDGET + (256 << 10));
}

#[test]
fn bulk_loads_count_until_a_checkpoint_writes_their_segments() {
    use arrow::array::{ArrayRef, Int64Array};
    use rustydb_common::TableId;
    use rustydb_storage::{ColumnSpec, ColumnType, TableSpec};

    const BUDGET: usize = 4 << 20;
    const ROWS: i64 = rustydb_storage::BULK_SEGMENT_ROWS_MIN as i64;
    let b = TableId(6100);
    let dir = tempfile::tempdir().unwrap();
    let s = Storage::open(dir.path(), budgeted(BUDGET)).unwrap();
    let mut t = s.begin(Isolation::ReadCommitted);
    let int = |name: &str| ColumnSpec { name: name.into(), ty: ColumnType::Int64, nullable: false };
    t.create_table(TableSpec { id: b, columns: vec![int("a"), int("b")], indexes: vec![] }).unwrap();
    t.commit().unwrap();
    let mut most = 0;
    for load in 0..12 {
        let a: ArrayRef = Arc::new(Int64Array::from_iter_values(load * ROWS..(load + 1) * ROWS));
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert_columns(b, vec![a.clone(), a], ROWS as usize).unwrap();
        t.commit().unwrap();
        most = most.max(s.row_store_memory().0);
    }
    // Each load is a resident segment of 1 MiB until a checkpoint writes
    // it; twelve of them would be three budgets.
    assert!(most <= BUDGET + (1 << 20), "reached {most} bytes, budget {BUDGET}");
    assert!(parquet_files(dir.path()) >= 4, "checkpoints wrote the loads' segments");
    let view = s.begin(Isolation::ReadCommitted).view();
    let mut cursor = rustydb_storage::ScanCursor::default();
    let mut rows = 0;
    while let Some(chunk) = view.scan_chunk(b, &mut cursor, &[0], 1 << 16).unwrap() {
        rows += chunk.len;
    }
    assert_eq!(rows, 12 * ROWS as usize);
    let counts = s.recount_memory();
    assert!(counts.exact(), "{counts:?}");
}

#[test]
fn index_entries_and_segment_metadata_take_their_room_from_the_segment_cache() {
    // Two row groups (of 128k rows) per column; room for about one and a
    // half beside the metadata.
    const CACHE: usize = 12 << 20;
    const ROWS: i64 = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions { segment_cache_bytes: CACHE, ..budgeted(64 << 20) };
    let s = Storage::open(dir.path(), options.clone()).unwrap();
    create_kv(&s);
    for first in (0..ROWS).step_by(10_000) {
        insert(&s, first..first + 10_000).unwrap();
    }
    s.checkpoint().unwrap();
    // Update a tenth of the frozen rows: delete vector entries, new versions.
    // (A transaction per thousand: each lookup in a transaction goes over
    // its own writes.)
    for first in (0..ROWS).step_by(10_000) {
        let mut t = s.begin(Isolation::ReadCommitted);
        t.begin_statement();
        let snap = t.snapshot();
        for k in (first..first + 10_000).step_by(10) {
            let id = crate::row_id(&t.view(), k).unwrap();
            t.update(T, id, row(k, k), snap).unwrap();
        }
        t.commit().unwrap();
    }
    s.checkpoint().unwrap();
    let stats = s.cache_stats();
    let counts = s.recount_memory();
    assert!(counts.exact(), "the running counts are exact: {counts:?}");
    // Per version: its row id and begin (16 bytes) and an integer key
    // entry (~26 bytes); boxed keys alone took ~70.
    let versions = (ROWS + ROWS / 10) as usize;
    assert!(
        (versions * 40..versions * 60).contains(&stats.metadata),
        "{} bytes of metadata for {versions} versions",
        stats.metadata
    );
    let rows = now(&s);
    assert_eq!(rows.len(), ROWS as usize);
    assert!(rows.iter().all(|&(k, v)| v == if k % 10 == 0 { k } else { -k }));
    let stats = s.cache_stats();
    assert!(stats.evictions > 0 && stats.reads > 0, "the scan went through the cache: {stats:?}");
    assert!(stats.reads < 100, "a row group read once serves its rows: {stats:?}");
    assert!(stats.bytes + stats.metadata <= CACHE, "columns kept beside the metadata: {stats:?}");
    drop(s);
    let s = Storage::open(dir.path(), options).unwrap();
    let counts = s.recount_memory();
    assert!(counts.exact(), "counted again at recovery: {counts:?}");
    assert_eq!(now(&s), rows);
}
