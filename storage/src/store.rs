//! `Storage`: one database directory — recovery, commit, visibility.
//!
//! ```text
//! commit:  encode redo ──► [commit lock: scn = last+1, WAL append, apply to row store]
//!          ──► wait for fsync (group commit) ──► publish scn ──► release row locks
//! read:    snapshot = visible scn; versions with begin <= snapshot < end
//! ```
//!
//! A commit is applied to the row store before it is durable, but nobody sees
//! it until it is published: the visible SCN only advances over a contiguous
//! run of published commits, so snapshots are always prefixes of the log.
//! Locks are released after publishing, so a writer that waited for a row
//! always finds the winner's version visible.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};
use rustydb_common::{RowId, Scn, TableId, TxnId};

use crate::error::{Result, StorageError};
use crate::io::{OsVfs, Vfs};
use crate::locks::LockManager;
use crate::record::{RedoOp, decode_ops, encode_ops};
use crate::table::TableStore;
use crate::txn::{Isolation, Transaction};
use crate::wal::{WalWriter, read_log};

/// First object id handed out; ids below are reserved for system tables.
pub const FIRST_OBJECT_ID: u64 = 1000;

/// How to open storage.
#[derive(Clone)]
pub struct StorageOptions {
    pub vfs: Arc<dyn Vfs>,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions { vfs: Arc::new(OsVfs) }
    }
}

struct Visibility {
    visible: Scn,
    /// Published commits above `visible`, waiting for a gap to close.
    ready: BTreeSet<Scn>,
}

/// The durable row store of one database directory.
pub struct Storage {
    dir: PathBuf,
    tables: RwLock<HashMap<TableId, Arc<RwLock<TableStore>>>>,
    /// Last SCN assigned; held while a commit appends and applies.
    commit_lock: Mutex<Scn>,
    wal: WalWriter,
    visibility: Mutex<Visibility>,
    published: Condvar,
    pub(crate) locks: LockManager,
    next_txn: AtomicU64,
    next_object_id: AtomicU64,
    next_row_id: AtomicU64,
    sequences: Mutex<HashMap<u64, Sequence>>,
}

/// A sequence: values below `next` were handed out; up to `reserved` are
/// already logged, so handing them out needs no WAL write.
#[derive(Debug, Clone, Copy)]
struct Sequence {
    next: i64,
    reserved: i64,
}

/// Values reserved per WAL write of a sequence (PostgreSQL logs 32 ahead).
const SEQUENCE_RESERVE: i64 = 32;

const WAL_DIR: &str = "wal";
const FIRST_WAL_FILE: &str = "00000000000000000001.wal";

impl Storage {
    /// Opens (creating if needed) the database in `dir` and replays its log.
    pub fn open(dir: &Path, options: StorageOptions) -> Result<Arc<Storage>> {
        let vfs = options.vfs;
        let wal_dir = dir.join(WAL_DIR);
        vfs.create_dir_all(&wal_dir).map_err(|e| StorageError::io(format!("creating {}", wal_dir.display()), e))?;
        let files: Vec<PathBuf> = vfs
            .list(&wal_dir)
            .map_err(|e| StorageError::io("listing the WAL directory", e))?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "wal"))
            .collect();

        let mut replay = Replay::default();
        let mut tail: Option<(PathBuf, usize)> = None;
        for (i, path) in files.iter().enumerate() {
            let bytes = vfs.read(path).map_err(|e| StorageError::io(format!("reading {}", path.display()), e))?;
            let log = read_log(&bytes)?;
            for (scn, body) in &log.records {
                replay.apply(*scn, decode_ops(body)?)?;
            }
            if log.valid_bytes < bytes.len() {
                if i + 1 != files.len() {
                    return Err(StorageError::Corruption(format!(
                        "{} is damaged before later log files",
                        path.display()
                    )));
                }
                tracing::warn!(
                    "cutting {} bytes of torn or corrupt WAL tail from {}",
                    bytes.len() - log.valid_bytes,
                    path.display()
                );
                vfs.truncate(path, log.valid_bytes as u64).map_err(|e| StorageError::io("cutting the WAL tail", e))?;
            }
            tail = Some((path.clone(), log.valid_bytes));
        }
        let (wal_path, wal_bytes) = tail.unwrap_or_else(|| (wal_dir.join(FIRST_WAL_FILE), 0));
        let wal = WalWriter::open(&vfs, &wal_path, wal_bytes, replay.last)?;
        tracing::info!("storage at {} recovered to scn {}", dir.display(), replay.last);

        let storage = Arc::new(Storage {
            dir: dir.to_owned(),
            tables: RwLock::new(replay.tables.into_iter().map(|(id, t)| (id, Arc::new(RwLock::new(t)))).collect()),
            commit_lock: Mutex::new(replay.last),
            wal,
            visibility: Mutex::new(Visibility { visible: replay.last, ready: BTreeSet::new() }),
            published: Condvar::new(),
            locks: LockManager::default(),
            next_txn: AtomicU64::new(1),
            next_object_id: AtomicU64::new(replay.max_object_id.max(FIRST_OBJECT_ID - 1) + 1),
            next_row_id: AtomicU64::new(replay.max_row_id + 1),
            sequences: Mutex::new(replay.sequences),
        });
        start_flusher(Arc::downgrade(&storage));
        Ok(storage)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The newest SCN a new snapshot sees.
    pub fn current_scn(&self) -> Scn {
        self.visibility.lock().visible
    }

    /// Starts a transaction.
    pub fn begin(self: &Arc<Self>, isolation: Isolation) -> Transaction {
        let id = TxnId(self.next_txn.fetch_add(1, Ordering::Relaxed));
        Transaction::new(self.clone(), id, isolation, self.current_scn())
    }

    /// A fresh id for a table or index.
    pub fn allocate_object_id(&self) -> u64 {
        self.next_object_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn allocate_row_id(&self) -> RowId {
        RowId(self.next_row_id.fetch_add(1, Ordering::Relaxed))
    }

    pub(crate) fn table(&self, id: TableId) -> Result<Arc<RwLock<TableStore>>> {
        self.tables.read().get(&id).cloned().ok_or(StorageError::NoSuchTable(id))
    }

    /// Whether a table exists in committed state (not necessarily visible yet).
    pub fn has_table(&self, id: TableId) -> bool {
        self.tables.read().contains_key(&id)
    }

    /// SCN of the newest commit that changed `table` (ZERO if never).
    pub fn table_last_write(&self, table: TableId) -> Result<Scn> {
        Ok(self.table(table)?.read().last_write)
    }

    /// The next value of sequence `id` (created at `start` on first use).
    /// Not transactional, like PostgreSQL's nextval: a rolled-back insert
    /// leaves a gap, and so does a crash (up to the reserved values).
    pub fn next_sequence_value(&self, id: u64, start: i64) -> Result<i64> {
        let mut seqs = self.sequences.lock();
        let seq = seqs.entry(id).or_insert(Sequence { next: start, reserved: start - 1 });
        if seq.next > seq.reserved {
            let reserved = seq
                .next
                .checked_add(SEQUENCE_RESERVE - 1)
                .ok_or_else(|| StorageError::InvalidInput(format!("sequence {id} reached its maximum value")))?;
            self.commit(vec![RedoOp::SetSequence { id, value: reserved }], true)?;
            seq.reserved = reserved;
        }
        let v = seq.next;
        seq.next += 1;
        Ok(v)
    }

    /// Flushes buffered asynchronous commits and waits for their fsync.
    pub fn flush(&self) -> Result<()> {
        self.wal.flush()
    }

    /// Writes, applies and publishes one transaction's redo; returns its SCN.
    pub(crate) fn commit(&self, ops: Vec<RedoOp>, sync: bool) -> Result<Scn> {
        let mut body = Vec::new();
        encode_ops(&ops, &mut body);
        let scn = {
            let mut last = self.commit_lock.lock();
            let scn = last.next();
            self.wal.append(scn, &body)?;
            // Appended means it may reach disk: from here the commit must be
            // applied, or memory and log disagree. Applying cannot fail for
            // ops a transaction built under its locks.
            let mut tables = self.tables.write();
            for op in ops {
                apply_op(&mut *tables, scn, op).expect("redo built under the transaction's locks applies cleanly");
            }
            *last = scn;
            scn
        };
        if sync {
            self.wal.wait_durable(scn)?;
        }
        self.publish(scn)?;
        Ok(scn)
    }

    /// Makes `scn` visible once every earlier commit is, and waits for that.
    fn publish(&self, scn: Scn) -> Result<()> {
        let mut vis = self.visibility.lock();
        vis.ready.insert(scn);
        while let Some(&first) = vis.ready.first() {
            if first != vis.visible.next() {
                break;
            }
            vis.ready.pop_first();
            vis.visible = first;
        }
        self.published.notify_all();
        while vis.visible < scn {
            // An earlier synchronous commit is still waiting for its fsync.
            if self.published.wait_for(&mut vis, Duration::from_millis(50)).timed_out() {
                drop(vis);
                self.wal.flush()?;
                vis = self.visibility.lock();
            }
        }
        Ok(())
    }
}

/// Flushes asynchronous commits in the background every few milliseconds.
fn start_flusher(storage: Weak<Storage>) {
    let spawned = std::thread::Builder::new().name("wal-flusher".into()).spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(5));
            let Some(s) = storage.upgrade() else { return };
            if s.wal.durable() < *s.commit_lock.lock() {
                // Errors poison the writer; committers report them.
                let _ = s.wal.flush();
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!(
            "could not start the WAL flusher thread ({e}); asynchronous commits flush with the next synchronous one"
        );
    }
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
    fn apply(&mut self, scn: Scn, ops: Vec<RedoOp>) -> Result<()> {
        for op in ops {
            match &op {
                RedoOp::CreateTable(spec) | RedoOp::AlterTable { spec, .. } => {
                    self.max_object_id = self.max_object_id.max(spec.id.0);
                    for i in &spec.indexes {
                        self.max_object_id = self.max_object_id.max(i.id.0);
                    }
                }
                RedoOp::Insert { row, .. } => self.max_row_id = self.max_row_id.max(row.0),
                RedoOp::SetSequence { id, value } => {
                    self.sequences.insert(*id, Sequence { next: value + 1, reserved: *value });
                }
                _ => {}
            }
            apply_op(&mut self.tables, scn, op)?;
        }
        self.last = scn;
        Ok(())
    }
}

/// A table map that redo can be applied to: owned tables during replay,
/// shared locked tables at commit.
trait TableMap {
    fn create(&mut self, spec: crate::spec::TableSpec);
    fn remove(&mut self, id: TableId) -> bool;
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()>;
}

impl TableMap for HashMap<TableId, TableStore> {
    fn create(&mut self, spec: crate::spec::TableSpec) {
        self.insert(spec.id, TableStore::new(spec));
    }
    fn remove(&mut self, id: TableId) -> bool {
        HashMap::remove(self, &id).is_some()
    }
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()> {
        f(self.get_mut(&id).ok_or(StorageError::NoSuchTable(id))?);
        Ok(())
    }
}

impl TableMap for HashMap<TableId, Arc<RwLock<TableStore>>> {
    fn create(&mut self, spec: crate::spec::TableSpec) {
        self.insert(spec.id, Arc::new(RwLock::new(TableStore::new(spec))));
    }
    fn remove(&mut self, id: TableId) -> bool {
        HashMap::remove(self, &id).is_some()
    }
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()> {
        f(&mut self.get(&id).ok_or(StorageError::NoSuchTable(id))?.write());
        Ok(())
    }
}

/// Applies one redo op at `scn`; shared by commit and replay. Takes the op
/// by value so row values move into the store instead of being copied.
fn apply_op(tables: &mut dyn TableMap, scn: Scn, op: RedoOp) -> Result<()> {
    match op {
        RedoOp::CreateTable(spec) => tables.create(spec),
        RedoOp::DropTable(id) => {
            if !tables.remove(id) {
                return Err(StorageError::NoSuchTable(id));
            }
        }
        RedoOp::AlterTable { spec, map } => {
            let table = spec.id;
            let mut spec = Some(spec);
            tables.with(table, &mut |t| {
                t.alter(spec.take().expect("applied once"), &map);
                t.last_write = scn;
            })?
        }
        RedoOp::Truncate(id) => tables.with(id, &mut |t| t.end_all(scn))?,
        RedoOp::Insert { table, row, values } | RedoOp::Update { table, row, values } => {
            let mut values = Some(values);
            tables.with(table, &mut |t| t.put(row, values.take().expect("applied once"), scn))?
        }
        RedoOp::Delete { table, row } => tables.with(table, &mut |t| t.end(row, scn))?,
        RedoOp::SetSequence { .. } => {}
    }
    Ok(())
}
