//! Checkpoints: freeze committed versions into segments, write a manifest,
//! drop the log before it; and loading the tables a manifest names, for
//! recovery (`recovery.rs`).
//!
//! ```text
//! 1 cut      [commit lock] scn = last commit; WAL continues in a new file
//! 2 freeze   per table, a segment at a time: capture versions begun <= scn
//!            [read lock] ──► Parquet, fsync ──► install as a segment [write lock]
//!            (segments compaction or merging emptied are left out)
//! 3 vectors  per segment: ends <= scn not yet stored ──► new delete vector file
//! 4 manifest MANIFEST.tmp, fsync, rename, fsync dir       (the atomic switch)
//! 5 clean    WAL files before the cut, files no manifest names and no
//!            segment in memory reads (a scan may hold a replaced one)
//! ```
//!
//! Commits go on during steps 2-5: they only add versions begun after the
//! cut or end versions, and ends after the cut are left out of what is
//! stored (WAL replay sets them again). A bulk insert committed after the
//! cut adds whole segments (`segment/bulk.rs`); those are left out too, for replay
//! to make again. Only ALTER TABLE is held back while
//! a checkpoint runs (`ddl_gate`), so every table keeps the layout the
//! manifest records for it. A checkpoint that fails before step 4 leaves the
//! old manifest and the whole log in place: nothing is lost, and the files it
//! wrote are removed by the next one.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use parking_lot::RwLock;
use rustydb_common::{Scn, TableId};

use crate::background::manifest::{Manifest, SegmentEntry, TableEntry};
use crate::error::{Result, StorageError};
use crate::layout::{self, MANIFEST_FILE, MANIFEST_TMP_FILE};
use crate::rowstore::table::TableStore;
use crate::segment::cache::SegmentCache;
use crate::segment::file::{decode_dv, encode_dv, encode_segment, open_segment, stored_columns};
use crate::segment::{FrozenSegment, SEGMENT_ROWS_MAX, Segment};
use crate::spec::TableSpec;
use crate::storage::Storage;

impl Storage {
    /// Runs a checkpoint; returns its SCN, or `None` when nothing was
    /// committed since the last one.
    pub fn checkpoint(&self) -> Result<Option<Scn>> {
        let mut last_checkpoint = self.checkpoint_lock.lock();
        let gate = self.ddl_gate.write();
        let (scn, tables) = {
            let last = self.commit_lock.lock();
            if *last == *last_checkpoint {
                return Ok(None);
            }
            self.log.cut(last.next())?;
            let mut tables: Vec<(TableId, Arc<RwLock<TableStore>>)> =
                self.tables.read().iter().map(|(id, t)| (*id, t.clone())).collect();
            tables.sort_by_key(|(id, _)| *id);
            (*last, tables)
        };
        // Read after the cut: at least what any record up to it handed out.
        let next_row_id = self.next_row_id.load(Ordering::SeqCst);
        let next_object_id = self.next_object_id.load(Ordering::SeqCst);
        let mut sequences: Vec<(u64, i64)> = self.sequences.lock().iter().map(|(id, s)| (*id, s.reserved)).collect();
        sequences.sort_unstable();

        let mut entries = Vec::with_capacity(tables.len());
        for (_, table) in &tables {
            entries.push(self.checkpoint_table(scn, table)?);
        }
        let store = self.cache.store();
        store.sync().map_err(|e| StorageError::io(format!("syncing the segment files in {}", store.describe()), e))?;
        let manifest = Manifest {
            scn,
            next_row_id,
            next_object_id,
            next_segment_id: self.next_segment_id.load(Ordering::SeqCst),
            sequences,
            tables: entries,
            segment_store: store.location(),
        };
        let tmp = self.dir.join(MANIFEST_TMP_FILE);
        let io = |what: &'static str| move |e| StorageError::io(what, e);
        self.vfs.write_file(&tmp, &manifest.encode()).map_err(io("writing the manifest"))?;
        self.vfs.rename(&tmp, &self.dir.join(MANIFEST_FILE)).map_err(io("installing the manifest"))?;
        self.vfs.sync_dir(&self.dir).map_err(io("syncing the data directory"))?;
        *last_checkpoint = scn;
        drop(gate);
        self.remove_unreferenced(&manifest);
        let cache = self.cache.stats();
        tracing::info!(
            "checkpoint at scn {scn}: {} tables; memory: row store {} MiB, metadata {} MiB and cached columns {} \
             MiB of the segment cache's {} MiB",
            manifest.tables.len(),
            self.memory.used() >> 20,
            cache.metadata >> 20,
            cache.bytes >> 20,
            cache.budget >> 20,
        );
        Ok(Some(scn))
    }

    /// Steps 2 and 3 for one table; returns its manifest entry.
    fn checkpoint_table(&self, scn: Scn, table: &RwLock<TableStore>) -> Result<TableEntry> {
        let spec = table.read().spec.clone();
        let mut after = None;
        loop {
            let Some((seg, last)) = table.read().capture(scn, after, SEGMENT_ROWS_MAX) else { break };
            let file = self.write_segment(&spec, &seg)?;
            let mut frozen = FrozenSegment::new(Arc::new(seg));
            frozen.file = Some(file);
            self.metered(table, |t| t.install(scn, vec![frozen]));
            after = Some(last);
        }
        let count = table.read().segments.len();
        for si in 0..count {
            let (data, file, ends) = {
                let t = table.read();
                let s = &t.segments[si];
                if s.data.max_begin > scn || s.data.len() == 0 {
                    // Rows a bulk insert committed after the cut: the log
                    // after the cut holds them and replay makes them again.
                    // An emptied segment (compaction, merging) is left out.
                    continue;
                }
                let ends = s.ends_upto(scn);
                let stale = ends.len() != s.dv_persisted || (s.dv_file.is_none() && !ends.is_empty());
                (s.data.clone(), s.file.clone(), stale.then_some(ends))
            };
            // Remapped by ALTER TABLE (no file): written anew under a new name.
            let new_file = match file {
                Some(_) => None,
                None => Some(self.write_segment(&spec, &data)?),
            };
            let dv = match ends {
                Some(ends) => {
                    let file = new_file.as_deref().or(file.as_deref()).expect("the segment has a file by now");
                    let name = layout::dv_file_name(file, scn);
                    self.cache
                        .store()
                        .put(&name, encode_dv(&ends).into())
                        .map_err(|e| StorageError::io(format!("writing delete vector {name}"), e))?;
                    Some((name, ends.len()))
                }
                None => None,
            };
            self.metered(table, |t| {
                if let Some(f) = new_file {
                    t.mark_written(si, f);
                }
                if let Some((name, n)) = dv {
                    let s = &mut t.segments[si];
                    s.dv_file = Some(name);
                    s.dv_persisted = n;
                }
            });
        }
        let t = table.read();
        let segments = t
            .segments
            .iter()
            .filter(|s| s.data.max_begin <= scn && s.data.len() > 0)
            .map(|s| SegmentEntry {
                file: s.file.clone().expect("every segment was written above"),
                rows: s.data.len(),
                dv_file: s.dv_file.clone(),
            })
            .collect();
        Ok(TableEntry { spec: (*spec).clone(), segments })
    }

    /// Writes a segment file under a new name and syncs it; from then on
    /// the segment's columns are read through the cache.
    pub(crate) fn write_segment(&self, spec: &TableSpec, seg: &Segment) -> Result<String> {
        let id = self.next_segment_id.fetch_add(1, Ordering::SeqCst);
        let name = layout::segment_file_name(spec.id, id);
        let (bytes, columns) = encode_segment(spec, seg)?;
        let bytes = bytes::Bytes::from(bytes);
        self.cache
            .store()
            .put(&name, bytes.clone())
            .map_err(|e| StorageError::io(format!("writing segment {name}"), e))?;
        seg.set_stored(stored_columns(spec, &self.cache, &name, bytes)?, columns);
        Ok(name)
    }

    /// Step 5: best effort; what stays behind is removed next time.
    fn remove_unreferenced(&self, manifest: &Manifest) {
        self.log.forget_before_cut();
        let keep: HashSet<&str> = manifest
            .tables
            .iter()
            .flat_map(|t| &t.segments)
            .flat_map(|s| std::iter::once(s.file.as_str()).chain(s.dv_file.as_deref()))
            .collect();
        let store = self.cache.store();
        // A file a segment in memory still reads (a scan's, after a
        // compaction replaced it) stays for a later checkpoint to remove.
        let unused = |n: &String| !keep.contains(n.as_str()) && !self.cache.file_in_use(n);
        for name in store.list().unwrap_or_default().into_iter().filter(unused) {
            if let Err(e) = store.remove(&name) {
                tracing::warn!(
                    "could not remove segment file {name} from {} after a checkpoint: {e}",
                    store.describe()
                );
            }
        }
    }
}

/// Loads every table the manifest names, segments and delete vectors
/// checked against what the manifest says of them.
pub(crate) fn load_tables(cache: &Arc<SegmentCache>, manifest: &Manifest) -> Result<HashMap<TableId, TableStore>> {
    let mut tables = HashMap::with_capacity(manifest.tables.len());
    for entry in &manifest.tables {
        let mut segments = Vec::with_capacity(entry.segments.len());
        for s in &entry.segments {
            let read =
                |name: &str| cache.store().read(name).map_err(|e| StorageError::io(format!("reading {name}"), e));
            let data = open_segment(&entry.spec, cache, &s.file, s.rows)?;
            let ends = match &s.dv_file {
                Some(dv) => decode_dv(dv, &read(dv)?, s.rows)?,
                None => Vec::new(),
            };
            let dv_persisted = ends.len();
            let mut frozen = FrozenSegment::with_ends(Arc::new(data), ends.into_iter().collect());
            frozen.file = Some(s.file.clone());
            frozen.dv_file = s.dv_file.clone();
            frozen.dv_persisted = dv_persisted;
            segments.push(frozen);
        }
        tables.insert(entry.spec.id, TableStore::from_segments(entry.spec.clone(), segments)?);
    }
    Ok(tables)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rustydb_common::TableId;

    use crate::spec::{ColumnSpec, TableSpec};
    use crate::value::{ColumnType, Value};
    use crate::{Isolation, Storage, StorageOptions};

    /// A compaction replaces a segment while a scan still holds it (scans
    /// read a segment's columns outside the table's lock): the checkpoint
    /// after it keeps the old file until that segment is gone, and the one
    /// after that removes it.
    #[test]
    fn a_segment_file_a_reader_holds_outlives_the_checkpoint_after_compaction() {
        let dir = tempfile::tempdir().unwrap();
        let options = StorageOptions { flashback_retention: Duration::ZERO, ..StorageOptions::default() };
        let s = Storage::open(dir.path(), options).unwrap();
        let t = TableId(1);
        let spec = TableSpec {
            id: t,
            columns: vec![ColumnSpec { name: "v".into(), ty: ColumnType::Int64, nullable: true }],
            indexes: vec![],
        };
        let mut txn = s.begin(Isolation::ReadCommitted);
        txn.create_table(spec).unwrap();
        txn.commit().unwrap();
        let mut txn = s.begin(Isolation::ReadCommitted);
        txn.insert(t, (0..100).map(|v| vec![Value::Int64(v)].into()).collect()).unwrap();
        txn.commit().unwrap();
        s.checkpoint().unwrap();
        let (held, old_file) = {
            let table = s.table(t).unwrap();
            let table = table.read();
            (table.segments[0].data.clone(), table.segments[0].file.clone().unwrap())
        };
        let mut txn = s.begin(Isolation::ReadCommitted);
        txn.begin_statement();
        let snap = txn.snapshot();
        let ids: Vec<_> = (0..50).map(|pos| held.row_id(pos)).collect();
        for id in ids {
            txn.delete(t, id, snap).unwrap();
        }
        txn.commit().unwrap();
        assert_eq!(s.compact().unwrap().segments, 1);
        s.checkpoint().unwrap().expect("the deletes were committed since");
        let files = || s.cache.store().list().unwrap();
        assert!(files().contains(&old_file), "removed while a reader holds it: {:?}", files());
        assert_eq!(held.columns(&[0]).unwrap()[0].len(), 100, "the held segment still reads its rows");
        drop(held);
        let mut txn = s.begin(Isolation::ReadCommitted);
        txn.insert(t, vec![vec![Value::Int64(1)].into()]).unwrap();
        txn.commit().unwrap();
        s.checkpoint().unwrap().expect("an insert was committed since");
        assert!(!files().contains(&old_file), "kept once no reader holds it: {:?}", files());
    }
}
