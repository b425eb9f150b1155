//! Compaction: dead frozen versions are dropped once no snapshot can read
//! them and the retention has passed; scans, lookups and restarts read the
//! same rows as before.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustydb_storage::{Isolation, ScanCursor, Storage, StorageOptions};

use crate::{T, contents, create_kv, now, row, row_id};

fn open(dir: &Path, retention: Duration) -> Arc<Storage> {
    let options = StorageOptions { flashback_retention: retention, ..StorageOptions::default() };
    Storage::open(dir, options).unwrap()
}

/// Keys 0..300 with v = 0, checkpointed into one segment, with no
/// flashback retention.
fn frozen_rows(dir: &Path) -> Arc<Storage> {
    let s = open(dir, Duration::ZERO);
    create_kv(&s);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(T, (0..300).map(|k| row(k, 0)).collect()).unwrap();
    t.commit().unwrap();
    s.checkpoint().unwrap();
    s
}

/// Sets every row's v to `v`, in one transaction.
fn update_all(s: &Arc<Storage>, keys: std::ops::Range<i64>, v: i64) {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    for k in keys {
        let id = row_id(&t.view(), k).unwrap();
        t.update(T, id, row(k, v), snap).unwrap();
    }
    t.commit().unwrap();
}

#[test]
fn dead_versions_go_once_no_snapshot_reads_them_and_the_rest_reads_alike() {
    let dir = tempfile::tempdir().unwrap();
    let s = frozen_rows(dir.path());
    // An old snapshot holds the first versions.
    let mut old = s.begin(Isolation::RepeatableRead);
    old.begin_statement();
    for v in 1..=3 {
        update_all(&s, 0..200, v);
        s.checkpoint().unwrap();
    }
    let expected: Vec<(i64, i64)> = (0..300).map(|k| (k, if k < 200 { 3 } else { 0 })).collect();
    let first: Vec<(i64, i64)> = (0..300).map(|k| (k, 0)).collect();
    // Every version that ended, ended after the old snapshot: the horizon
    // (as PostgreSQL's xmin horizon) keeps them all while it is open.
    assert_eq!(s.compact().unwrap().versions_dropped, 0);
    assert_eq!(contents(&old.view()), first, "the old snapshot reads its versions");
    assert_eq!(now(&s), expected);
    drop(old);
    let stats = s.compact().unwrap();
    assert_eq!(stats.versions_dropped, 600, "v = 0, 1 and 2 of the updated rows: {stats:?}");
    assert_eq!(s.compact().unwrap().versions_dropped, 0, "nothing left to drop");
    assert_eq!(now(&s), expected);
    // Writes after compaction find the rows where they now are.
    update_all(&s, 0..300, 9);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    t.delete(T, row_id(&t.view(), 5).unwrap(), snap).unwrap();
    t.commit().unwrap();
    let expected: Vec<(i64, i64)> = (0..300).filter(|k| *k != 5).map(|k| (k, 9)).collect();
    assert_eq!(now(&s), expected);
    // Restart before the compacted segments are written, then after.
    drop(s);
    let s = open(dir.path(), Duration::ZERO);
    assert_eq!(now(&s), expected, "restart from the old segments and the log");
    s.checkpoint().unwrap();
    s.compact().unwrap();
    s.checkpoint().unwrap();
    drop(s);
    let s = open(dir.path(), Duration::ZERO);
    assert_eq!(now(&s), expected, "restart from compacted segments");
}

#[test]
fn the_retention_keeps_versions_until_it_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), Duration::from_secs(3600));
    create_kv(&s);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(T, (0..50).map(|k| row(k, 0)).collect()).unwrap();
    t.commit().unwrap();
    update_all(&s, 0..50, 1);
    s.checkpoint().unwrap();
    assert_eq!(s.compact().unwrap().versions_dropped, 0, "ended less than an hour ago");
}

#[test]
fn a_scan_between_chunks_goes_on_after_a_compaction_moves_rows() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path(), Duration::ZERO);
    create_kv(&s);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(T, (0..100).map(|k| row(k, 0)).collect()).unwrap();
    t.commit().unwrap();
    // Every other row gets a second version, frozen with the first.
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    for k in (0..100).step_by(2) {
        let id = row_id(&t.view(), k).unwrap();
        t.update(T, id, row(k, 1), snap).unwrap();
    }
    t.commit().unwrap();
    s.checkpoint().unwrap();

    let reader = s.begin(Isolation::ReadCommitted);
    let view = reader.view();
    let mut cursor = ScanCursor::default();
    let mut seen = Vec::new();
    let read = |cursor: &mut ScanCursor, seen: &mut Vec<(i64, i64)>| {
        use arrow::array::{Array, Int64Array};
        let Some(chunk) = view.scan_chunk(T, cursor, &[0, 1], 10).unwrap() else { return false };
        let k = chunk.columns[0].as_any().downcast_ref::<Int64Array>().unwrap();
        let v = chunk.columns[1].as_any().downcast_ref::<Int64Array>().unwrap();
        seen.extend((0..chunk.len).map(|i| (k.value(i), v.value(i))));
        true
    };
    assert!(read(&mut cursor, &mut seen));
    assert!(read(&mut cursor, &mut seen));
    // The first versions of the updated rows ended before the reader's
    // snapshot: compaction drops them, moving every later position.
    assert_eq!(s.compact().unwrap().versions_dropped, 50);
    while read(&mut cursor, &mut seen) {}
    seen.sort();
    let expected: Vec<(i64, i64)> = (0..100).map(|k| (k, i64::from(k % 2 == 0))).collect();
    assert_eq!(seen, expected, "each row once, at its visible version");
}

/// Rewriting a segment holds its columns, counted in the row store's
/// budget: with no room for them the segment waits, every row read alike,
/// and is compacted once there is room. Here the room comes and goes with
/// restarts under a small budget and the default one.
#[test]
fn a_compaction_the_budget_has_no_room_for_waits() {
    let dir = tempfile::tempdir().unwrap();
    let s = frozen_rows(dir.path());
    update_all(&s, 0..200, 1);
    s.checkpoint().unwrap();
    let expected = now(&s);
    drop(s);
    let small =
        StorageOptions { flashback_retention: Duration::ZERO, row_store_bytes: 4 * 1024, ..StorageOptions::default() };
    let s = Storage::open(dir.path(), small).unwrap();
    let reads = s.cache_stats().reads;
    let stats = s.compact().unwrap();
    assert_eq!((stats.versions_dropped, stats.deferred), (0, 1), "{stats:?}");
    assert_eq!(s.cache_stats().reads, reads, "refused by its estimate, before reading the segment");
    assert_eq!(s.recount_memory().working, 0, "the working memory is given back");
    assert_eq!(now(&s), expected);
    drop(s);
    let s = open(dir.path(), Duration::ZERO);
    let stats = s.compact().unwrap();
    assert_eq!((stats.versions_dropped, stats.deferred), (200, 0), "{stats:?}");
    assert_eq!(now(&s), expected);
}
