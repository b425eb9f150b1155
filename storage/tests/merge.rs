//! Merging small segments: a table checkpointed a little at a time keeps a
//! few segments, not one per checkpoint; every snapshot reads the same
//! rows before and after, and a scan in progress holds the layout.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustydb_storage::{Isolation, ScanCursor, Storage, StorageOptions, Transaction};

use crate::{T, contents, create_kv, now, row, row_id, scanned};

fn open(dir: &Path) -> Arc<Storage> {
    // Flashback retention keeps every version: merging must keep them all.
    let options = StorageOptions { flashback_retention: Duration::from_secs(3600), ..StorageOptions::default() };
    Storage::open(dir, options).unwrap()
}

/// Segment files a checkpoint's manifest keeps.
fn segment_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("segments"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "parquet"))
        .count()
}

/// A snapshot held open, and what it read when taken.
fn held(s: &Arc<Storage>) -> (Transaction, Vec<(i64, i64)>) {
    let mut t = s.begin(Isolation::RepeatableRead);
    t.begin_statement();
    let seen = contents(&t.view());
    (t, seen)
}

/// Round `i` of a trickle: 50 new rows, every row from before updated
/// whose key is a multiple of 3 (new versions of frozen rows), one deleted.
fn trickle(s: &Arc<Storage>, i: i64) {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    t.insert(T, (i * 50..i * 50 + 50).map(|k| row(k, i)).collect()).unwrap();
    for k in (0..i * 50).step_by(3) {
        if let Some(id) = row_id(&t.view(), k) {
            t.update(T, id, row(k, 100 + i), snap).unwrap();
        }
    }
    if let Some(id) = row_id(&t.view(), i * 7) {
        t.delete(T, id, snap).unwrap();
    }
    t.commit().unwrap();
}

/// A table after `rounds` rounds of [`trickle`], each checkpointed: one
/// small segment per round.
fn trickled(dir: &Path, rounds: i64) -> Arc<Storage> {
    let s = open(dir);
    create_kv(&s);
    for i in 0..rounds {
        trickle(&s, i);
        s.checkpoint().unwrap();
    }
    s
}

#[test]
fn small_segments_merge_and_every_snapshot_reads_alike() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    let mut snapshots = Vec::new();
    for i in 0..8 {
        trickle(&s, i);
        s.checkpoint().unwrap();
        snapshots.push(held(&s));
    }
    assert_eq!(segment_files(dir.path()), 8, "one segment per checkpoint");
    let before = now(&s);

    let stats = s.compact().unwrap();
    assert_eq!(stats.versions_dropped, 0, "the retention keeps every version");
    assert!(stats.merged.merges >= 1 && stats.merged.segments >= 4, "{stats:?}");
    for (t, seen) in &snapshots {
        assert_eq!(&contents(&t.view()), seen, "a snapshot reads what it read before the merge");
        assert_eq!(&scanned(&t.view(), 7), seen, "and scans it alike");
    }
    assert_eq!(now(&s), before);
    for k in [0, 3, 49, 50, 299, 399] {
        let view = s.begin(Isolation::ReadCommitted);
        assert_eq!(row_id(&view.view(), k).is_some(), before.iter().any(|&(key, _)| key == k), "lookup of {k}");
    }

    // Writes after the merge find the rows where they now are, and the
    // checkpoint after it names fewer files.
    trickle(&s, 8);
    let after_write = now(&s);
    s.checkpoint().unwrap();
    let files = segment_files(dir.path());
    assert!(files < 8, "{files} segment files after merging 8");
    for (t, seen) in &snapshots {
        assert_eq!(&contents(&t.view()), seen, "old snapshots still read their rows after a write");
    }
    drop(snapshots);
    drop(s);
    let s = open(dir.path());
    assert_eq!(now(&s), after_write, "a restart reads the merged segments");
}

#[test]
fn a_restart_before_the_next_checkpoint_reads_the_merged_segments_own_files() {
    let dir = tempfile::tempdir().unwrap();
    let s = trickled(dir.path(), 6);
    let before = now(&s);
    assert!(s.compact().unwrap().merged.merges >= 1);
    trickle(&s, 6);
    let expected = now(&s);
    drop(s);
    let s = open(dir.path());
    assert_eq!(now(&s), expected, "the old manifest and the log hold the same rows");
    assert_ne!(before, expected);
}

#[test]
fn a_scan_in_progress_holds_the_layout_until_it_is_done() {
    let dir = tempfile::tempdir().unwrap();
    let s = trickled(dir.path(), 6);
    let expected = now(&s);
    let reader = s.begin(Isolation::ReadCommitted);
    let view = reader.view();
    let mut cursor = ScanCursor::default();
    let mut keys = Vec::new();
    let read = |cursor: &mut ScanCursor, keys: &mut Vec<i64>| {
        use arrow::array::{Array, Int64Array};
        let Some(chunk) = view.scan_chunk(T, cursor, &[0], 20).unwrap() else { return false };
        let k = chunk.columns[0].as_any().downcast_ref::<Int64Array>().unwrap();
        keys.extend((0..chunk.len).map(|i| k.value(i)));
        true
    };
    // Into the second segment: the first is behind the scan.
    while keys.len() < 80 {
        assert!(read(&mut cursor, &mut keys));
    }
    let blocked = s.compact().unwrap().merged;
    assert_eq!((blocked.merges, blocked.waiting), (0, 1), "the scan holds the layout");
    while read(&mut cursor, &mut keys) {}
    keys.sort();
    assert_eq!(keys, expected.iter().map(|&(k, _)| k).collect::<Vec<_>>(), "every row once");
    assert!(cursor.is_done());
    // The checkpointer tries again by itself (every half second) once the
    // scan no longer holds the layout: one segment with rows is left.
    let stretches = || s.begin(Isolation::ReadCommitted).view().claimable_stretches(T).unwrap();
    assert_eq!(stretches(), 6);
    let merged = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(50));
        stretches() == 1
    });
    assert!(merged, "the waiting merge was done in the background");
    assert_eq!(now(&s), expected);
}

/// Inserts only (a log, an event table): each checkpoint's segment is a
/// dense run of new rows, and so is their merge.
#[test]
fn append_only_segments_merge_into_one_that_lookups_and_writes_find() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    for i in 0..10 {
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(T, (i * 30..i * 30 + 30).map(|k| row(k, k)).collect()).unwrap();
        t.commit().unwrap();
        s.checkpoint().unwrap();
    }
    let stats = s.compact().unwrap();
    assert_eq!((stats.merged.merges, stats.merged.segments), (1, 10), "{stats:?}");
    let view = s.begin(Isolation::ReadCommitted);
    assert!((0..300).all(|k| row_id(&view.view(), k).is_some()), "every key found after the merge");
    drop(view);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let snap = t.snapshot();
    for k in (0..300).step_by(10) {
        let id = row_id(&t.view(), k).unwrap();
        t.update(T, id, row(k, -k), snap).unwrap();
    }
    t.commit().unwrap();
    let expected: Vec<(i64, i64)> = (0..300).map(|k| (k, if k % 10 == 0 { -k } else { k })).collect();
    assert_eq!(now(&s), expected);
    s.checkpoint().unwrap();
    assert_eq!(segment_files(dir.path()), 2, "the merged segment and the updates' one");
    drop(s);
    assert_eq!(now(&open(dir.path())), expected);
}
