//! Merging small segments: a table checkpointed a little at a time keeps a
//! few segments, not one per checkpoint; every snapshot reads the same
//! rows before and after, and a scan in progress reads the layout it
//! started with.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustydb_common::RowId;
use rustydb_storage::{Isolation, ReadView, ScanCursor, ScanPart, SegmentClaims, Storage, StorageOptions, Transaction};

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

/// Reads one chunk of a scan part into `out` as (key, value) pairs, and
/// checks no row comes twice; false once the part is done.
fn read_chunk(
    view: &ReadView,
    part: &ScanPart,
    cursor: &mut ScanCursor,
    seen: &mut BTreeSet<RowId>,
    out: &mut Vec<(i64, i64)>,
) -> bool {
    use arrow::array::{Array, Int64Array};
    let Some(chunk) = view.scan_part_chunk(T, part, &[], cursor, &[0, 1], 20).unwrap() else { return false };
    let k = chunk.columns[0].as_any().downcast_ref::<Int64Array>().unwrap();
    let v = chunk.columns[1].as_any().downcast_ref::<Int64Array>().unwrap();
    for i in 0..chunk.len {
        assert!(seen.insert(chunk.row_id(i)), "row {} scanned twice", chunk.row_id(i));
        out.push((k.value(i), v.value(i)));
    }
    true
}

/// A scan that started before a merge goes on in the layout it started
/// with: every row once, as of its snapshot, though the merge moved the
/// versions it had not read yet and a commit after it ended some of them.
/// Scans that start later read the merged segment, and the segments the
/// merge replaced go once no scan reads them.
#[test]
fn a_scan_in_progress_reads_the_layout_it_started_with() {
    let dir = tempfile::tempdir().unwrap();
    let s = trickled(dir.path(), 6);
    let expected = now(&s);
    let reader = s.begin(Isolation::RepeatableRead);
    let view = reader.view();
    let (mut cursor, mut seen, mut rows) = (ScanCursor::default(), BTreeSet::new(), Vec::new());
    // Into the second segment: the first is behind the scan.
    while rows.len() < 80 {
        assert!(read_chunk(&view, &ScanPart::ALL, &mut cursor, &mut seen, &mut rows));
    }
    let stats = s.compact().unwrap().merged;
    assert_eq!((stats.merges, stats.segments), (1, 6), "a scan does not keep the merge from happening");
    // Updates rows the scan has not reached, now in the merged segment.
    trickle(&s, 6);
    s.checkpoint().unwrap();
    let files_while_scanning = segment_files(dir.path());
    while read_chunk(&view, &ScanPart::ALL, &mut cursor, &mut seen, &mut rows) {}
    rows.sort();
    assert_eq!(rows, expected, "every row once, as the scan's snapshot sees it");
    drop(cursor);

    let stretches = || s.begin(Isolation::ReadCommitted).view().claimable_stretches(T).unwrap();
    assert_eq!(stretches(), 2, "later scans read the merged segment and the new one");
    let after = now(&s);
    assert_ne!(after, expected);
    // The replaced segments' files stayed while the scan might read them;
    // with the scan done, the next compaction lets the segments go and the
    // checkpoint after it removes their files.
    assert_eq!(s.compact().unwrap().merged.merges, 0);
    trickle(&s, 7);
    s.checkpoint().unwrap();
    assert!(
        segment_files(dir.path()) < files_while_scanning - 4,
        "{} files after the scan ended, {files_while_scanning} while it ran",
        segment_files(dir.path())
    );
}

/// The partitions of one execution share what is left to claim by segment
/// index, so they share one layout: a partition that starts after a merge
/// reads the segments as the first partition saw them.
#[test]
fn partitions_of_a_scan_share_the_layout_the_first_one_saw() {
    let dir = tempfile::tempdir().unwrap();
    let s = trickled(dir.path(), 6);
    let expected = now(&s);
    let reader = s.begin(Isolation::RepeatableRead);
    let view = reader.view();
    let claims = SegmentClaims::new(&view.planned_segments(T).unwrap());
    let (first, second) = (ScanPart::new(0, claims.clone()), ScanPart::new(1, claims));
    let (mut seen, mut rows) = (BTreeSet::new(), Vec::new());
    let mut cursor = ScanCursor::default();
    while rows.len() < 80 {
        assert!(read_chunk(&view, &first, &mut cursor, &mut seen, &mut rows));
    }
    assert_eq!(s.compact().unwrap().merged.merges, 1);
    let mut late = ScanCursor::default();
    // Taking turns, as two threads would.
    let (mut a, mut b) = (true, true);
    while a || b {
        b = b && read_chunk(&view, &second, &mut late, &mut seen, &mut rows);
        a = a && read_chunk(&view, &first, &mut cursor, &mut seen, &mut rows);
    }
    rows.sort();
    assert_eq!(rows, expected, "every row once across the partitions");
}

/// Scans on other threads, each with two partitions taking turns in
/// small chunks, while a writer trickles, checkpoints, compacts and merges:
/// every scan reads exactly the rows its snapshot holds.
#[test]
fn scans_beside_writes_checkpoints_and_merges_read_their_snapshots() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    let (done, scans, merges) = (AtomicBool::new(false), AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    let mut t = s.begin(Isolation::RepeatableRead);
                    t.begin_statement();
                    let view = t.view();
                    let expected = contents(&view);
                    let claims = SegmentClaims::new(&view.planned_segments(T).unwrap());
                    let parts = [ScanPart::new(0, claims.clone()), ScanPart::new(1, claims)];
                    let mut cursors = [ScanCursor::default(), ScanCursor::default()];
                    let (mut seen, mut rows) = (BTreeSet::new(), Vec::new());
                    let mut going = [true, true];
                    while going.iter().any(|&g| g) {
                        for p in 0..2 {
                            going[p] = going[p] && read_chunk(&view, &parts[p], &mut cursors[p], &mut seen, &mut rows);
                        }
                    }
                    rows.sort();
                    assert_eq!(rows, expected, "a scan reads what its snapshot holds");
                    scans.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        for i in 0..40 {
            trickle(&s, i);
            s.checkpoint().unwrap();
            merges.fetch_add(s.compact().unwrap().merged.merges, Ordering::Relaxed);
        }
        done.store(true, Ordering::Relaxed);
    });
    assert!(merges.load(Ordering::Relaxed) >= 2, "merges: {}", merges.load(Ordering::Relaxed));
    assert!(scans.load(Ordering::Relaxed) >= 10, "scans: {}", scans.load(Ordering::Relaxed));
}

/// Merges leave empty segments in the list; once there are enough and no
/// plan or scan keeps a layout, compaction takes them out, and lookups,
/// scans, writes and a restart find the rows where they now are.
#[test]
fn empty_segments_leave_the_list_once_no_layout_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    let planner = s.begin(Isolation::RepeatableRead);
    let plan = planner.view().planned_segments(T).unwrap();
    let mut stats = Vec::new();
    for i in 0..24 {
        trickle(&s, i);
        s.checkpoint().unwrap();
        stats.push(s.compact().unwrap().merged);
    }
    assert!(stats.iter().map(|m| m.merges).sum::<usize>() >= 4, "{stats:?}");
    assert!(stats.iter().all(|m| m.emptied_dropped == 0), "a plan keeps the layout: {stats:?}");
    let slots = || s.begin(Isolation::ReadCommitted).view().planned_segments(T).unwrap().count();
    let before = slots();
    let expected = now(&s);
    drop(plan);
    let dropped = s.compact().unwrap().merged.emptied_dropped;
    assert!(dropped >= 16, "{dropped} of {before} segments dropped");
    assert_eq!(slots(), before - dropped);
    assert_eq!(now(&s), expected, "lookups and scans find every row");
    trickle(&s, 24);
    let expected = now(&s);
    s.checkpoint().unwrap();
    drop(s);
    assert_eq!(now(&open(dir.path())), expected, "a restart reads the same");
}

/// Building a merge holds its run's columns, counted in the row store's
/// budget: a run the room does not fit is not merged (nor read), every row
/// reads alike, and it merges once there is room. Here the room comes and
/// goes with restarts under a small budget and the default one.
#[test]
fn a_merge_the_budget_has_no_room_for_waits() {
    let dir = tempfile::tempdir().unwrap();
    let expected = now(&trickled(dir.path(), 6));
    let small = StorageOptions {
        flashback_retention: Duration::from_secs(3600),
        row_store_bytes: 8 * 1024,
        ..StorageOptions::default()
    };
    let s = Storage::open(dir.path(), small).unwrap();
    let reads = s.cache_stats().reads;
    let stats = s.compact().unwrap().merged;
    assert_eq!((stats.merges, stats.deferred), (0, 0), "{stats:?}");
    assert_eq!(s.cache_stats().reads, reads, "no run is read");
    assert_eq!(s.recount_memory().working, 0, "the working memory is given back");
    assert_eq!(now(&s), expected);
    drop(s);
    let s = open(dir.path());
    let stats = s.compact().unwrap().merged;
    assert_eq!((stats.merges, stats.deferred), (1, 0), "{stats:?}");
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
