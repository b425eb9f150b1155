//! Checkpoints: rows frozen into segments read exactly as before, survive
//! restarts with only the log tail replayed, and a checkpoint that fails
//! part-way loses nothing.

use std::path::Path;
use std::sync::Arc;

use rustydb_common::{Scn, TableId};
use rustydb_storage::io::FaultyVfs;
use rustydb_storage::{ColumnSource, ColumnSpec, ColumnType, Isolation, Storage, StorageOptions, TableSpec, Value};

use crate::{T, contents, create_kv, kv_spec, now, row, row_id, scanned};

fn open(dir: &Path) -> Arc<Storage> {
    Storage::open(dir, StorageOptions::default()).unwrap()
}

fn files(dir: &Path, sub: &str, ext: &str) -> usize {
    std::fs::read_dir(dir.join(sub))
        .map(|d| d.filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == ext)).count())
        .unwrap_or(0)
}

fn insert(s: &Arc<Storage>, rows: impl IntoIterator<Item = (i64, i64)>) {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(T, rows.into_iter().map(|(k, v)| row(k, v)).collect()).unwrap();
    t.commit().unwrap();
}

fn update(s: &Arc<Storage>, k: i64, v: i64) {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let id = row_id(&t.view(), k).unwrap();
    let snap = t.snapshot();
    t.update(T, id, row(k, v), snap).unwrap();
    t.commit().unwrap();
}

fn delete(s: &Arc<Storage>, k: i64) {
    let mut t = s.begin(Isolation::ReadCommitted);
    t.begin_statement();
    let id = row_id(&t.view(), k).unwrap();
    let snap = t.snapshot();
    t.delete(T, id, snap).unwrap();
    t.commit().unwrap();
}

#[test]
fn checkpointed_rows_survive_restart_and_the_log_before_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let expected = {
        let s = open(dir.path());
        create_kv(&s);
        insert(&s, (0..1000).map(|k| (k, k)));
        update(&s, 5, 500);
        delete(&s, 6);
        let before = s.checkpoint().unwrap().expect("commits since the last checkpoint");
        assert_eq!(s.checkpoint().unwrap(), None, "nothing committed since");
        assert_eq!(files(dir.path(), "wal", "wal"), 1, "older log files are removed");
        assert_eq!(files(dir.path(), "segments", "parquet"), 1, "one segment for the one table");
        assert_eq!(files(dir.path(), "segments", "dv"), 1, "the update and the delete ended two versions");
        // Writes after the checkpoint: to frozen rows and new ones.
        update(&s, 7, 700);
        delete(&s, 8);
        insert(&s, [(2000, 1)]);
        let rows = now(&s);
        assert_eq!(rows.len(), 999);
        assert!(rows.contains(&(7, 700)) && !rows.iter().any(|r| r.0 == 8));
        assert!(before > Scn::ZERO);
        rows
    };
    let s = open(dir.path());
    assert_eq!(now(&s), expected);
    // A second round: the delete vectors of old segments grow.
    update(&s, 9, 900);
    s.checkpoint().unwrap().unwrap();
    drop(s);
    let s = open(dir.path());
    let mut expected = expected;
    expected.iter_mut().find(|r| r.0 == 9).unwrap().1 = 900;
    assert_eq!(now(&s), expected);
}

#[test]
fn old_snapshots_read_frozen_versions() {
    let dir = tempfile::tempdir().unwrap();
    let s = open(dir.path());
    create_kv(&s);
    insert(&s, (0..10).map(|k| (k, 0)));
    let mut old = s.begin(Isolation::RepeatableRead);
    old.begin_statement();
    update(&s, 1, 1);
    delete(&s, 2);
    s.checkpoint().unwrap();
    update(&s, 1, 2);
    delete(&s, 3);
    s.checkpoint().unwrap();
    let view = old.view();
    assert_eq!(contents(&view), (0..10).map(|k| (k, 0)).collect::<Vec<_>>());
    assert_eq!(scanned(&view, 3), contents(&view));
    let rows = now(&s);
    assert!(rows.contains(&(1, 2)) && !rows.iter().any(|r| r.0 == 2 || r.0 == 3));
    // A writer that read before the checkpoint conflicts as before.
    let id = row_id(&view, 1).unwrap();
    assert!(old.update(T, id, row(1, 9), view.snapshot()).is_err(), "first updater wins");
}

/// Keys 0..50 frozen in one segment, 50..100 committed after it (and
/// frozen in a second one when `freeze_second`).
fn keys_in_two_halves(dir: &Path, freeze_second: bool) -> Arc<Storage> {
    let s = open(dir);
    create_kv(&s);
    insert(&s, (0..50).map(|k| (k, k)));
    s.checkpoint().unwrap();
    insert(&s, (50..100).map(|k| (k, k)));
    if freeze_second {
        s.checkpoint().unwrap();
    }
    s
}

#[test]
fn a_scan_across_a_checkpoint_sees_each_row_once() {
    let dir = tempfile::tempdir().unwrap();
    let s = keys_in_two_halves(dir.path(), false);
    let mut t = s.begin(Isolation::RepeatableRead);
    t.begin_statement();
    let view = t.view();
    let mut cursor = rustydb_storage::ScanCursor::default();
    let mut seen = std::collections::BTreeSet::new();
    let mut chunks = 0;
    while let Some(chunk) = view.scan_chunk(T, &mut cursor, &[0], 8).unwrap() {
        for i in 0..chunk.len {
            assert!(seen.insert(chunk.row_id(i)), "row scanned twice");
        }
        chunks += 1;
        if chunks == 8 {
            // Half-way through the hot rows: freeze them under the scan.
            update(&s, 70, 0);
            s.checkpoint().unwrap();
        }
    }
    assert_eq!(seen.len(), 100);
}

#[test]
fn alter_and_truncate_after_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        create_kv(&s);
        insert(&s, (0..20).map(|k| (k, k)));
        s.checkpoint().unwrap();
        let mut spec = kv_spec();
        spec.columns.push(ColumnSpec { name: "w".into(), ty: ColumnType::Int32, nullable: true });
        let mut t = s.begin(Isolation::ReadCommitted);
        let map = vec![ColumnSource::Existing(0), ColumnSource::Existing(1), ColumnSource::Fill(Value::Int32(3))];
        t.alter_table(spec, map).unwrap();
        t.commit().unwrap();
        s.checkpoint().unwrap();
        let t = s.begin(Isolation::ReadCommitted);
        let rows = t.view().rows(T).unwrap();
        assert_eq!(rows.len(), 20);
        assert!(rows.iter().all(|(_, r)| r[2] == Value::Int32(3)));
    }
    let s = open(dir.path());
    let t = s.begin(Isolation::ReadCommitted);
    let rows = t.view().rows(T).unwrap();
    assert_eq!(rows.len(), 20);
    assert!(rows.iter().all(|(_, r)| r.len() == 3 && r[2] == Value::Int32(3)));
    let mut old = s.begin(Isolation::RepeatableRead);
    old.begin_statement();
    let mut t = s.begin(Isolation::ReadCommitted);
    t.truncate(T).unwrap();
    t.commit().unwrap();
    assert_eq!(old.view().rows(T).unwrap().len(), 20, "TRUNCATE keeps history for old snapshots");
    s.checkpoint().unwrap();
    drop(old);
    drop(s);
    let s = open(dir.path());
    assert!(s.begin(Isolation::ReadCommitted).view().rows(T).unwrap().is_empty());
}

#[test]
fn a_checkpoint_that_fails_part_way_loses_nothing() {
    for failing in [".parquet", ".dv", "MANIFEST"] {
        let dir = tempfile::tempdir().unwrap();
        let vfs = FaultyVfs::new();
        let faults = vfs.state();
        let options = StorageOptions { vfs: Arc::new(vfs), ..StorageOptions::default() };
        let expected = {
            let s = Storage::open(dir.path(), options).unwrap();
            create_kv(&s);
            insert(&s, (0..100).map(|k| (k, k)));
            s.checkpoint().unwrap();
            delete(&s, 1);
            insert(&s, [(100, 100)]);
            *faults.fail_write_matching.lock() = Some(failing.into());
            assert!(s.checkpoint().is_err(), "{failing}: the injected failure surfaces");
            // Storage carries on: the log still holds everything.
            update(&s, 2, 200);
            *faults.fail_write_matching.lock() = None;
            now(&s)
        };
        let s = open(dir.path());
        assert_eq!(now(&s), expected, "{failing}");
        s.checkpoint().unwrap();
        drop(s);
        assert_eq!(now(&open(dir.path())), expected, "{failing}: after the next checkpoint");
    }
}

#[test]
fn counters_continue_after_a_checkpoint_dropped_their_log() {
    let dir = tempfile::tempdir().unwrap();
    let (seq, obj) = {
        let s = open(dir.path());
        create_kv(&s);
        insert(&s, [(1, 1)]);
        let seq = s.next_sequence_value(77, 1).unwrap();
        let obj = s.allocate_object_id();
        s.checkpoint().unwrap();
        (seq, obj)
    };
    let s = open(dir.path());
    assert!(s.next_sequence_value(77, 1).unwrap() > seq);
    assert!(s.allocate_object_id() > obj);
    insert(&s, [(2, 2)]);
    let t = s.begin(Isolation::ReadCommitted);
    let ids: Vec<_> = t.view().rows(T).unwrap().into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1], "row ids are not reused");
}

#[test]
fn zone_maps_skip_segments_outside_the_filter() {
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let s = keys_in_two_halves(dir.path(), true);
    insert(&s, [(1007, 7000)]);
    let view = s.begin(Isolation::ReadCommitted).view();
    let zones =
        [rustydb_storage::ZoneFilter { column: 0, lo: Bound::Included(Value::Int64(60)), hi: Bound::Unbounded }];
    let mut cursor = rustydb_storage::ScanCursor::default();
    let mut keys = Vec::new();
    while let Some(chunk) =
        view.scan_part_chunk(T, &rustydb_storage::ScanPart::ALL, &zones, &mut cursor, &[0], 16).unwrap()
    {
        let k = chunk.columns[0].as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
        keys.extend(k.values().iter().copied());
    }
    keys.sort();
    // The first segment (0..50) is skipped; the second and the hot row are
    // read whole: the caller filters what it gets.
    assert_eq!(keys, (50..100).chain([1007]).collect::<Vec<_>>());
}

#[test]
fn partitions_that_start_after_a_checkpoint_read_each_row_once() {
    use rustydb_storage::{ScanCursor, ScanPart, SegmentClaims};
    let dir = tempfile::tempdir().unwrap();
    let s = keys_in_two_halves(dir.path(), false);
    let mut t = s.begin(Isolation::RepeatableRead);
    t.begin_statement();
    let view = t.view();
    // Planned with one segment over two partitions; partition 0 runs first,
    // then a checkpoint freezes the hot half, then partition 1 starts.
    let claims = SegmentClaims::new(&view.planned_segments(T).unwrap());
    let mut ids = Vec::new();
    let mut read = |index: usize, cursor: &mut ScanCursor, max: usize| {
        let part = ScanPart::new(index, claims.clone());
        let chunk = view.scan_part_chunk(T, &part, &[], cursor, &[0], max).unwrap();
        chunk.map(|c| ids.extend((0..c.len).map(|i| c.row_id(i))))
    };
    let mut first = ScanCursor::default();
    assert!(read(0, &mut first, 10).is_some());
    s.checkpoint().unwrap();
    let mut second = ScanCursor::default();
    while read(1, &mut second, 10).is_some() {}
    while read(0, &mut first, 10).is_some() {}
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!((n, ids.len()), (100, 100), "every row once");
}

/// Segments go to whichever partition asks next: a partition that runs
/// while the other has not started reads every planned segment, the other
/// then reads only what is not in them (hot rows are partition 0's), and
/// every row is read once.
#[test]
fn segments_go_to_the_partition_that_asks() {
    use rustydb_storage::{ScanCursor, ScanPart, SegmentClaims};
    let dir = tempfile::tempdir().unwrap();
    let s = keys_in_two_halves(dir.path(), true);
    insert(&s, [(1000, 0)]);
    let view = s.begin(Isolation::ReadCommitted).view();
    let claims = SegmentClaims::new(&view.planned_segments(T).unwrap());
    let read_all = |index: usize| {
        let part = ScanPart::new(index, claims.clone());
        let (mut cursor, mut keys) = (ScanCursor::default(), Vec::new());
        while let Some(c) = view.scan_part_chunk(T, &part, &[], &mut cursor, &[0], 7).unwrap() {
            let k = c.columns[0].as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
            keys.extend(k.values().iter().copied());
        }
        keys.sort();
        keys
    };
    // Partition 1 first: both segments (0..50 and 50..100) are its.
    assert_eq!(read_all(1), (0..100).collect::<Vec<_>>());
    assert_eq!(read_all(0), vec![1000]);
}

/// Partitions claim stretches of a segment (row groups, at most 128K rows):
/// read in turns by three partitions, every row is read once and at the
/// version the snapshot sees. In `T`, a checkpointed segment read from its
/// file a row group at a time, with a row whose two versions straddle a
/// stretch's end, and a hot row (partition 0's); in `U`, a bulk load's
/// segment in memory, one group of 300K rows. Before and after a restart.
#[test]
fn partitions_claiming_stretches_read_each_row_once() {
    const U: TableId = TableId(7000);
    let dir = tempfile::tempdir().unwrap();
    let in_t: Vec<(i64, i64)> = (0..300_000).map(|k| (k, i64::from(k == 131_071))).chain([(1_000_000, 2)]).collect();
    let in_u: Vec<(i64, i64)> = (0..300_000).map(|k| (k, 3)).collect();
    {
        let s = open(dir.path());
        create_kv(&s);
        insert(&s, (0..300_000).map(|k| (k, 0)));
        // Its versions sit at positions 131071 and 131072.
        update(&s, 131_071, 1);
        s.checkpoint().unwrap();
        insert(&s, [(1_000_000, 2)]);
        // No unique index: the load becomes a segment as it commits.
        let mut t = s.begin(Isolation::ReadCommitted);
        t.create_table(TableSpec { id: U, indexes: Vec::new(), ..kv_spec() }).unwrap();
        let columns: Vec<arrow::array::ArrayRef> = vec![
            Arc::new(arrow::array::Int64Array::from_iter_values(0..300_000)),
            Arc::new(arrow::array::Int64Array::from_iter_values((0..300_000).map(|_| 3))),
        ];
        assert_eq!(t.insert_columns(U, columns, 300_000).unwrap(), 300_000);
        t.commit().unwrap();
        same_rows(read_in_turns(&s, T, 3), &in_t);
        same_rows(read_in_turns(&s, U, 3), &in_u);
    }
    let s = open(dir.path());
    same_rows(read_in_turns(&s, T, 3), &in_t);
    same_rows(read_in_turns(&s, U, 3), &in_u);
}

/// Compares without printing 300K rows when they differ.
fn same_rows(got: Vec<(i64, i64)>, expected: &[(i64, i64)]) {
    assert_eq!(got.len(), expected.len(), "rows read");
    let first_wrong = got.iter().zip(expected).position(|(g, e)| g != e);
    assert_eq!(first_wrong, None, "first row that differs");
}

/// Every row of `table`, (k, v) in order, read a chunk at a time by each
/// of `n` partitions in turn.
fn read_in_turns(s: &Arc<Storage>, table: TableId, n: usize) -> Vec<(i64, i64)> {
    use rustydb_storage::{ScanCursor, ScanPart, SegmentClaims};
    let view = s.begin(Isolation::ReadCommitted).view();
    let claims = SegmentClaims::new(&view.planned_segments(table).unwrap());
    let parts: Vec<ScanPart> = (0..n).map(|i| ScanPart::new(i, claims.clone())).collect();
    let mut cursors = vec![ScanCursor::default(); n];
    let mut live = vec![true; n];
    let mut rows = Vec::new();
    while live.contains(&true) {
        for i in 0..n {
            if !live[i] {
                continue;
            }
            match view.scan_part_chunk(table, &parts[i], &[], &mut cursors[i], &[0, 1], 50_000).unwrap() {
                Some(c) => {
                    let col =
                        |j: usize| c.columns[j].as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().clone();
                    let (k, v) = (col(0), col(1));
                    rows.extend((0..c.len).map(|r| (k.value(r), v.value(r))));
                }
                None => live[i] = false,
            }
        }
    }
    rows.sort();
    rows
}

/// Restarted with a segment cache that keeps nothing, a scan reads only the
/// row groups (of 128K rows) a filter's zone maps do not rule out, and the
/// versions of a row that a row group's end splits are still read together.
#[test]
fn row_groups_outside_the_filter_are_not_read() {
    row_groups_case(None);
}

/// The same with the segment files in an `object_store` store.
#[test]
fn row_groups_outside_the_filter_are_not_read_from_an_object_store() {
    row_groups_case(Some(Arc::new(rustydb_storage::ObjectSegments::in_memory())));
}

/// Reading a row group's columns from an object store takes one request:
/// the column chunks are fetched together, not a page header and a page
/// body at a time, and the object's size is not asked again.
#[test]
fn an_object_store_serves_a_row_group_in_one_request() {
    let dir = tempfile::tempdir().unwrap();
    let gets = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let store = Counting { inner: Arc::new(object_store::memory::InMemory::new()), gets: gets.clone() };
    let store = rustydb_storage::ObjectSegments::new(Arc::new(store), "segments").unwrap();
    let options = StorageOptions { segment_store: Some(Arc::new(store)), ..StorageOptions::default() };
    {
        let s = Storage::open(dir.path(), options.clone()).unwrap();
        create_kv(&s);
        insert(&s, (0..300_000).map(|k| (k, k)));
        s.checkpoint().unwrap();
    }
    // Nothing cached: every row group is read from the store.
    let s = Storage::open(dir.path(), StorageOptions { segment_cache_bytes: 0, ..options }).unwrap();
    let before = gets.load(std::sync::atomic::Ordering::SeqCst);
    let view = s.begin(Isolation::ReadCommitted).view();
    let mut cursor = rustydb_storage::ScanCursor::default();
    let mut rows = 0;
    while let Some(chunk) = view.scan_chunk(T, &mut cursor, &[0, 1], 4096).unwrap() {
        rows += chunk.len;
    }
    assert_eq!(rows, 300_000);
    let requests = gets.load(std::sync::atomic::Ordering::SeqCst) - before;
    // Three row groups of 128K rows, each column a handful of pages.
    assert_eq!(requests, 3, "requests for three row groups");
}

/// An object store that counts the requests that read objects.
#[derive(Debug)]
struct Counting {
    inner: Arc<dyn object_store::ObjectStore>,
    gets: Arc<std::sync::atomic::AtomicUsize>,
}

impl std::fmt::Display for Counting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "counting {}", self.inner)
    }
}

#[async_trait::async_trait]
impl object_store::ObjectStore for Counting {
    async fn put_opts(
        &self,
        location: &object_store::path::Path,
        payload: object_store::PutPayload,
        opts: object_store::PutOptions,
    ) -> object_store::Result<object_store::PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }
    async fn put_multipart_opts(
        &self,
        location: &object_store::path::Path,
        opts: object_store::PutMultipartOptions,
    ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }
    async fn get_opts(
        &self,
        location: &object_store::path::Path,
        options: object_store::GetOptions,
    ) -> object_store::Result<object_store::GetResult> {
        self.gets.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get_opts(location, options).await
    }
    fn delete_stream(
        &self,
        locations: futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::path::Path>> {
        self.inner.delete_stream(locations)
    }
    fn list(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>> {
        self.inner.list(prefix)
    }
    async fn list_with_delimiter(
        &self,
        prefix: Option<&object_store::path::Path>,
    ) -> object_store::Result<object_store::ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }
    async fn copy_opts(
        &self,
        from: &object_store::path::Path,
        to: &object_store::path::Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

fn row_groups_case(store: Option<Arc<dyn rustydb_storage::SegmentStore>>) {
    use std::ops::Bound;
    let dir = tempfile::tempdir().unwrap();
    let options = StorageOptions { segment_store: store, ..StorageOptions::default() };
    {
        let s = Storage::open(dir.path(), options.clone()).unwrap();
        create_kv(&s);
        insert(&s, (0..300_000).map(|k| (k, 0)));
        // Row 131071's two versions sit at positions 131071 and 131072:
        // across the end of the first row group.
        update(&s, 131_071, 1);
        s.checkpoint().unwrap();
    }
    let s = Storage::open(dir.path(), StorageOptions { segment_cache_bytes: 0, ..options }).unwrap();
    let scan = |zones: &[rustydb_storage::ZoneFilter]| {
        let view = s.begin(Isolation::ReadCommitted).view();
        let mut cursor = rustydb_storage::ScanCursor::default();
        let mut rows = Vec::new();
        while let Some(chunk) =
            view.scan_part_chunk(T, &rustydb_storage::ScanPart::ALL, zones, &mut cursor, &[0, 1], 4096).unwrap()
        {
            let col = |c: usize| chunk.columns[c].as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().clone();
            let (k, v) = (col(0), col(1));
            rows.extend((0..chunk.len).map(|i| (k.value(i), v.value(i))));
        }
        rows
    };
    let v_at_least_1 =
        [rustydb_storage::ZoneFilter { column: 1, lo: Bound::Included(Value::Int64(1)), hi: Bound::Unbounded }];
    let before = s.cache_stats().reads;
    let rows = scan(&v_at_least_1);
    assert!(rows.contains(&(131_071, 1)), "the updated row is found");
    assert!(!rows.iter().any(|r| r.0 == 131_071 && r.1 == 0), "and only its visible version");
    // Group 0 (all v = 0) is skipped but for its last position, group 1 is
    // read whole, group 2 (v = 0) skipped. Each group read is read once,
    // though the cache keeps nothing: group 1 and, for the split row,
    // group 0, of two columns each.
    assert_eq!(rows.len(), 131_072, "group 1 is read whole (its first position is 131071's new version)");
    assert_eq!(s.cache_stats().reads - before, 4, "two row groups of two columns");
    let all = scan(&[]);
    assert_eq!(all.len(), 300_000);
    assert_eq!(all.iter().filter(|r| r.1 == 1).count(), 1);
}

/// A data directory whose checkpoint put its segments in an object store
/// opens only with that store, and one that used the directory only
/// without one: the error says which store to name.
#[test]
fn a_restart_must_name_the_segment_store_the_checkpoint_used() {
    use rustydb_storage::{ObjectSegments, SegmentStore};
    let store: Arc<dyn SegmentStore> = Arc::new(ObjectSegments::in_memory());
    let with_store = StorageOptions { segment_store: Some(store.clone()), ..StorageOptions::default() };
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Storage::open(dir.path(), with_store.clone()).unwrap();
        create_kv(&s);
        insert(&s, [(1, 1)]);
        s.checkpoint().unwrap();
    }
    let err = Storage::open(dir.path(), StorageOptions::default()).err().expect("the directory is not the store");
    assert!(err.to_string().contains("InMemory"), "{err}");
    assert_eq!(err.sqlstate(), "22023");
    assert_eq!(now(&Storage::open(dir.path(), with_store.clone()).unwrap()), vec![(1, 1)]);

    let other = tempfile::tempdir().unwrap();
    {
        let s = open(other.path());
        create_kv(&s);
        insert(&s, [(1, 1)]);
        s.checkpoint().unwrap();
    }
    let err = Storage::open(other.path(), with_store).err().expect("the store is not the directory");
    assert!(err.to_string().contains("in the data directory"), "{err}");
}
