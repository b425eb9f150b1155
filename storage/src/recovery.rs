//! Recovery: rebuilding a database's state from its directory at open.
//!
//! ```text
//! MANIFEST ──► tables as of the checkpoint (segments + delete vectors)
//!    │
//!    ▼
//! wal/*.wal in name order ──► skip files the checkpoint covers
//!                         ──► replay records after the checkpoint's SCN
//!                         ──► cut the torn tail of the last file
//!    │
//!    ▼
//! Recovered { tables, last scn, id counters, where the log continues }
//! ```
//!
//! Invariants checked on the way, each a [`StorageError::Corruption`]:
//! SCNs continue without a gap across files (a commit returns only after
//! its record is durable, so a gap is lost data, not a crash), and only
//! the last file may end in a damaged record. A damaged tail of the last
//! file was never acknowledged (the fsync covering it did not return) and
//! is cut, so the writer appends after the last whole record. The segment
//! store must be the one the manifest names: a checkpoint's segments in
//! another store would silently read as missing tables.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustydb_common::{Scn, TableId};

use crate::background::checkpoint::load_tables;
use crate::background::manifest::Manifest;
use crate::error::{Result, StorageError};
use crate::io::Vfs;
use crate::layout::{self, MANIFEST_FILE};
use crate::log::record::{RedoOp, decode_ops};
use crate::log::wal::read_log;
use crate::rowstore::table::TableStore;
use crate::segment::cache::SegmentCache;
use crate::storage::{Sequence, apply_ops};

/// State rebuilt from the manifest and the log.
pub(crate) struct Recovered {
    pub(crate) tables: HashMap<TableId, TableStore>,
    /// The last SCN replayed: the next commit is its successor.
    pub(crate) last: Scn,
    /// The SCN of the checkpoint the manifest records (ZERO without one).
    pub(crate) checkpoint_scn: Scn,
    pub(crate) max_object_id: u64,
    pub(crate) max_row_id: u64,
    pub(crate) next_segment_id: u64,
    pub(crate) sequences: HashMap<u64, Sequence>,
    /// The log file to append to and how many valid bytes it holds; a new
    /// file named after the next SCN when the directory has none.
    pub(crate) wal_path: PathBuf,
    pub(crate) wal_bytes: usize,
}

/// Reads the manifest and replays the log in the data directory `dir`
/// (whose `wal/` exists), cutting a torn tail off the last log file.
pub(crate) fn recover(vfs: &Arc<dyn Vfs>, dir: &Path, cache: &Arc<SegmentCache>) -> Result<Recovered> {
    let manifest = read_manifest(vfs, dir)?;
    let mut replay = match &manifest {
        Some(m) => {
            check_segment_store(dir, m, cache)?;
            Replay::from_manifest(load_tables(cache, m)?, m)
        }
        None => Replay::default(),
    };
    let checkpoint_scn = replay.last;
    let wal_dir = layout::wal_dir(dir);
    let files = layout::wal_files(vfs, &wal_dir)?;
    let tail = replay_files(vfs, &files, checkpoint_scn, &mut replay)?;
    let (wal_path, wal_bytes) = tail.unwrap_or_else(|| (wal_dir.join(layout::wal_file_name(replay.last.next())), 0));
    Ok(Recovered {
        tables: replay.tables,
        last: replay.last,
        checkpoint_scn,
        max_object_id: replay.max_object_id,
        max_row_id: replay.max_row_id,
        next_segment_id: manifest.as_ref().map_or(1, |m| m.next_segment_id),
        sequences: replay.sequences,
        wal_path,
        wal_bytes,
    })
}

/// The manifest of the data directory, if a checkpoint ever completed.
pub(crate) fn read_manifest(vfs: &Arc<dyn Vfs>, dir: &Path) -> Result<Option<Manifest>> {
    let path = dir.join(MANIFEST_FILE);
    match vfs.read(&path) {
        Ok(bytes) => Manifest::decode(&bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StorageError::io("reading the manifest", e)),
    }
}

/// Refuses to open with a segment store other than the checkpoint's.
fn check_segment_store(dir: &Path, m: &Manifest, cache: &SegmentCache) -> Result<()> {
    if m.segment_store == cache.store().location() {
        return Ok(());
    }
    let named = |l: &Option<String>| l.clone().unwrap_or_else(|| "the data directory".into());
    Err(StorageError::InvalidInput(format!(
        "the segment files of {} are in {}, not in {}: start with the segment store the last checkpoint used",
        dir.display(),
        named(&m.segment_store),
        named(&cache.store().location()),
    )))
}

/// Replays every record after the checkpoint from `files`; returns the
/// last file and its valid length (after cutting its torn tail).
fn replay_files(
    vfs: &Arc<dyn Vfs>,
    files: &[PathBuf],
    checkpoint_scn: Scn,
    replay: &mut Replay,
) -> Result<Option<(PathBuf, usize)>> {
    let mut tail = None;
    for (i, path) in files.iter().enumerate() {
        // A file followed by one that starts at or before the first
        // record after the checkpoint is wholly covered by it.
        if files.get(i + 1).and_then(|p| layout::first_scn(p)).is_some_and(|next| next <= checkpoint_scn.next()) {
            continue;
        }
        let bytes = vfs.read(path).map_err(|e| StorageError::io(format!("reading {}", path.display()), e))?;
        let log = read_log(&bytes)?;
        for (scn, body) in &log.records {
            if *scn <= replay.last {
                continue;
            }
            if *scn != replay.last.next() {
                return Err(StorageError::Corruption(format!(
                    "{} continues the log at scn {scn}, after scn {}",
                    path.display(),
                    replay.last
                )));
            }
            replay.apply(*scn, decode_ops(body)?)?;
        }
        if log.valid_bytes < bytes.len() {
            if i + 1 != files.len() {
                return Err(StorageError::Corruption(format!("{} is damaged before later log files", path.display())));
            }
            cut_torn_tail(vfs, path, &bytes, log.valid_bytes)?;
        }
        tail = Some((path.clone(), log.valid_bytes));
    }
    Ok(tail)
}

/// Cuts the last log file after its last whole record.
fn cut_torn_tail(vfs: &Arc<dyn Vfs>, path: &Path, bytes: &[u8], valid_bytes: usize) -> Result<()> {
    // Zeros are space the log file was extended by ahead of use.
    if bytes[valid_bytes..].iter().any(|&b| b != 0) {
        tracing::warn!(
            "cutting {} bytes of torn or corrupt WAL tail from {}",
            bytes.len() - valid_bytes,
            path.display()
        );
    }
    vfs.truncate(path, valid_bytes as u64).map_err(|e| StorageError::io("cutting the WAL tail", e))
}

/// State rebuilt from the log at startup.
#[derive(Default)]
struct Replay {
    tables: HashMap<TableId, TableStore>,
    last: Scn,
    max_object_id: u64,
    max_row_id: u64,
    sequences: HashMap<u64, Sequence>,
}

impl Replay {
    /// The state a checkpoint recorded, before the log after it is applied.
    fn from_manifest(tables: HashMap<TableId, TableStore>, m: &Manifest) -> Self {
        Replay {
            tables,
            last: m.scn,
            max_object_id: m.next_object_id.saturating_sub(1),
            max_row_id: m.next_row_id.saturating_sub(1),
            sequences: m.sequences.iter().map(|&(id, reserved)| (id, Sequence::logged(reserved))).collect(),
        }
    }

    fn apply(&mut self, scn: Scn, ops: Vec<RedoOp>) -> Result<()> {
        for op in &ops {
            match op {
                RedoOp::CreateTable(spec) | RedoOp::AlterTable { spec, .. } => {
                    self.max_object_id = self.max_object_id.max(spec.id.0);
                    for i in &spec.indexes {
                        self.max_object_id = self.max_object_id.max(i.id.0);
                    }
                }
                RedoOp::Insert { row, .. } => self.max_row_id = self.max_row_id.max(row.0),
                RedoOp::InsertBatch { rows, .. } if rows.len > 0 => {
                    self.max_row_id = self.max_row_id.max(rows.first.0 + rows.len as u64 - 1);
                }
                RedoOp::SetSequence { id, value } => {
                    self.sequences.insert(*id, Sequence::logged(*value));
                }
                _ => {}
            }
        }
        apply_ops(&mut self.tables, scn, ops)?;
        self.last = scn;
        Ok(())
    }
}
