//! `Storage`: one database directory — commit and visibility (opening it
//! replays the log: `recovery.rs`).
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
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, RwLock};
use rustydb_common::{RowId, Scn, TableId, TxnId};

use crate::error::{Result, StorageError};
use crate::io::{OsVfs, Vfs};
use crate::layout::{self, SEGMENT_DIR};
use crate::log::commit_log::{CommitLog, CommitStream, LocalLog, QueueLimits};
use crate::log::record::{RedoOp, encode_ops};
use crate::mvcc::locks::LockManager;
use crate::mvcc::snapshot::{SnapshotPin, Snapshots};
use crate::mvcc::transaction::{Isolation, Transaction};
use crate::recovery::recover;
use crate::rowstore::memory::RowStoreMemory;
use crate::rowstore::table::TableStore;
use crate::segment::cache::SegmentCache;
use crate::segment::store::{DirSegments, SegmentStore};

/// First object id handed out; ids below are reserved for system tables.
pub const FIRST_OBJECT_ID: u64 = 1000;

/// What [`Storage::recount_memory`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryRecount {
    /// The row store's running count (against its budget).
    pub row_store: usize,
    /// The same, summed over the tables.
    pub row_store_recounted: usize,
    /// The tables' metadata as the segment cache counts it.
    pub metadata: usize,
    /// The same, summed over the tables.
    pub metadata_recounted: usize,
    /// What compactions and merges hold while they build segments (not a
    /// table's, so not recounted; 0 while none runs).
    pub working: usize,
}

impl MemoryRecount {
    /// Whether both running counts equal their recounts.
    pub fn exact(&self) -> bool {
        self.row_store == self.row_store_recounted && self.metadata == self.metadata_recounted
    }
}

/// How to open storage.
#[derive(Clone)]
pub struct StorageOptions {
    pub vfs: Arc<dyn Vfs>,
    /// A checkpoint starts once the current WAL file holds this many bytes.
    pub checkpoint_wal_bytes: u64,
    /// ... or once this much time passed since the last one with commits
    /// since; `None` checkpoints by WAL size (and CHECKPOINT) only.
    pub checkpoint_interval: Option<Duration>,
    /// How long ended versions stay for flashback: compaction drops a
    /// version only once it ended this long ago and no open snapshot can
    /// read it (`background/compaction.rs`).
    pub flashback_retention: Duration,
    /// Bytes of segment columns kept decoded in memory (`segment/cache.rs`).
    pub segment_cache_bytes: usize,
    /// Where segment files go; `None`: `segments/` in the data directory.
    pub segment_store: Option<Arc<dyn SegmentStore>>,
    /// Bytes of row versions and unwritten segments held before commits
    /// wait for a checkpoint (`rowstore/memory.rs`); a checkpoint starts at half.
    pub row_store_bytes: usize,
}

impl Default for StorageOptions {
    fn default() -> Self {
        StorageOptions {
            vfs: Arc::new(OsVfs),
            checkpoint_wal_bytes: 256 * 1024 * 1024,
            checkpoint_interval: Some(Duration::from_secs(300)),
            flashback_retention: Duration::from_secs(15 * 60),
            segment_cache_bytes: crate::segment::cache::SEGMENT_CACHE_BYTES_DEFAULT,
            segment_store: None,
            row_store_bytes: crate::rowstore::memory::ROW_STORE_BYTES_DEFAULT,
        }
    }
}

struct Visibility {
    visible: Scn,
    /// Published commits above `visible`, waiting for a gap to close.
    ready: BTreeSet<Scn>,
}

/// The durable row store of one database directory.
pub struct Storage {
    pub(crate) dir: PathBuf,
    pub(crate) vfs: Arc<dyn Vfs>,
    pub(crate) tables: RwLock<HashMap<TableId, Arc<RwLock<TableStore>>>>,
    /// Last SCN assigned; held while a commit appends and applies.
    pub(crate) commit_lock: Mutex<Scn>,
    /// Where commits become durable: the local WAL (`log/commit_log.rs`).
    pub(crate) log: Arc<dyn CommitLog>,
    visibility: Mutex<Visibility>,
    published: Condvar,
    pub(crate) locks: LockManager,
    next_txn: AtomicU64,
    pub(crate) next_object_id: AtomicU64,
    pub(crate) next_row_id: AtomicU64,
    pub(crate) next_segment_id: AtomicU64,
    pub(crate) sequences: Mutex<HashMap<u64, Sequence>>,
    /// SCN of the last checkpoint; held while one runs.
    pub(crate) checkpoint_lock: Mutex<Scn>,
    /// Taken for writing by a checkpoint and for reading by commits that
    /// change a table's layout, which therefore wait for the checkpoint.
    pub(crate) ddl_gate: RwLock<()>,
    /// Snapshots readers hold, the flashback retention and the SCN↔time
    /// samples (taken by the checkpointer thread): what compaction's
    /// horizon comes from (`mvcc/snapshot.rs`).
    pub(crate) snapshots: Arc<Snapshots>,
    pub(crate) cache: Arc<SegmentCache>,
    pub(crate) memory: Arc<RowStoreMemory>,
}

/// A sequence: values below `next` were handed out; up to `reserved` are
/// already logged, so handing them out needs no WAL write.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sequence {
    next: i64,
    pub(crate) reserved: i64,
}

impl Sequence {
    /// A sequence whose values up to `reserved` were logged: after a
    /// restart it goes on above them (the unused ones are a gap).
    pub(crate) fn logged(reserved: i64) -> Self {
        Sequence { next: reserved + 1, reserved }
    }
}

/// Values reserved per WAL write of a sequence (PostgreSQL logs 32 ahead).
const SEQUENCE_RESERVE: i64 = 32;

impl Storage {
    /// Opens (creating if needed) the database in `dir` and replays its
    /// log (`recovery.rs`).
    pub fn open(dir: &Path, options: StorageOptions) -> Result<Arc<Storage>> {
        let vfs = options.vfs;
        let wal_dir = layout::wal_dir(dir);
        vfs.create_dir_all(&wal_dir).map_err(|e| StorageError::io(format!("creating {}", wal_dir.display()), e))?;
        let segments = match options.segment_store {
            Some(store) => store,
            None => Arc::new(DirSegments::new(vfs.clone(), dir.join(SEGMENT_DIR))),
        };
        let cache = SegmentCache::new(segments, options.segment_cache_bytes);
        let replay = recover(&vfs, dir, &cache)?;
        let checkpoint_scn = replay.checkpoint_scn;
        let log = Arc::new(LocalLog::open(vfs.clone(), wal_dir, &replay.wal_path, replay.wal_bytes, replay.last)?);
        tracing::info!(
            "storage at {} recovered to scn {} (checkpoint at scn {checkpoint_scn})",
            dir.display(),
            replay.last
        );

        let used = replay.tables.values().map(TableStore::memory_bytes).sum();
        let memory = Arc::new(RowStoreMemory::new(options.row_store_bytes, used));
        cache.metadata_changed(0, replay.tables.values().map(TableStore::metadata_bytes).sum());
        let storage = Arc::new(Storage {
            dir: dir.to_owned(),
            vfs,
            tables: RwLock::new(replay.tables.into_iter().map(|(id, t)| (id, Arc::new(RwLock::new(t)))).collect()),
            commit_lock: Mutex::new(replay.last),
            log,
            visibility: Mutex::new(Visibility { visible: replay.last, ready: BTreeSet::new() }),
            published: Condvar::new(),
            locks: LockManager::default(),
            next_txn: AtomicU64::new(1),
            next_object_id: AtomicU64::new(replay.max_object_id.max(FIRST_OBJECT_ID - 1) + 1),
            next_row_id: AtomicU64::new(replay.max_row_id + 1),
            next_segment_id: AtomicU64::new(replay.next_segment_id),
            sequences: Mutex::new(replay.sequences),
            checkpoint_lock: Mutex::new(checkpoint_scn),
            ddl_gate: RwLock::new(()),
            snapshots: Arc::new(Snapshots::new(options.flashback_retention)),
            cache,
            memory: memory.clone(),
        });
        let policy =
            CheckpointPolicy { wal_bytes: options.checkpoint_wal_bytes, interval: options.checkpoint_interval };
        start_checkpointer(Arc::downgrade(&storage), memory, policy);
        Ok(storage)
    }

    /// The data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the segment cache holds and did.
    pub fn cache_stats(&self) -> crate::segment::cache::CacheStats {
        self.cache.stats()
    }

    /// Bytes the row store holds against its budget, and the budget.
    pub fn row_store_memory(&self) -> (usize, usize) {
        (self.memory.used(), self.memory.budget())
    }

    /// Bytes the open transactions' pending writes take, together (capped
    /// at the row store's budget).
    pub fn pending_writes_memory(&self) -> usize {
        self.memory.pending()
    }

    /// The running memory counts beside the same counted afresh from every
    /// table, all read at one instant: every table's lock is held, so no
    /// commit, checkpoint or compaction is half counted. The tests check
    /// that the running counts never drift. (Read one after the other, the
    /// two could straddle a background checkpoint freezing rows.)
    pub fn recount_memory(&self) -> MemoryRecount {
        let tables = self.tables.read();
        let locked: Vec<_> = tables.values().map(|t| t.read()).collect();
        MemoryRecount {
            row_store: self.memory.used(),
            row_store_recounted: locked.iter().map(|t| t.memory_bytes()).sum(),
            metadata: self.cache.stats().metadata,
            metadata_recounted: locked.iter().map(|t| t.metadata_bytes()).sum(),
            working: self.memory.working(),
        }
    }

    /// Runs `f` on `table` under its write lock, keeping the memory counts
    /// in step with what `f` changes.
    pub(crate) fn metered<R>(&self, table: &RwLock<TableStore>, f: impl FnOnce(&mut TableStore) -> R) -> R {
        metered(&self.memory, &self.cache, &mut table.write(), f)
    }

    /// The newest SCN a new snapshot sees.
    pub fn current_scn(&self) -> Scn {
        self.visibility.lock().visible
    }

    /// A pinned snapshot of everything visible now.
    pub(crate) fn pin_current(&self) -> Arc<SnapshotPin> {
        self.snapshots.pin_current(|| self.current_scn())
    }

    /// Starts a transaction.
    pub fn begin(self: &Arc<Self>, isolation: Isolation) -> Transaction {
        let id = TxnId(self.next_txn.fetch_add(1, Ordering::Relaxed));
        Transaction::new(self.clone(), id, isolation)
    }

    /// A fresh id for a table or index.
    pub fn allocate_object_id(&self) -> u64 {
        self.next_object_id.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn allocate_row_id(&self) -> RowId {
        self.allocate_row_ids(1)
    }

    /// `n` consecutive fresh row ids; returns the first.
    pub(crate) fn allocate_row_ids(&self, n: usize) -> RowId {
        RowId(self.next_row_id.fetch_add(n as u64, Ordering::Relaxed))
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
        self.log.flush()
    }

    /// The durable commit records from `from` on, first those the log
    /// still holds, then new ones (`log/commit_log.rs`); what replication
    /// ships.
    pub fn subscribe(&self, from: Scn, queue: QueueLimits) -> Result<Box<dyn CommitStream>> {
        self.log.subscribe(from, queue)
    }

    /// Writes, applies and publishes one transaction's redo; returns its SCN.
    pub(crate) fn commit(&self, redo: impl Redo, sync: bool) -> Result<Scn> {
        // A checkpoint records each table in one layout: layout changes wait.
        let _gate = redo.alters_layout().then(|| self.ddl_gate.read());
        let scn = {
            let mut last = self.commit_lock.lock();
            let scn = last.next();
            // Encoded straight into the log buffer, under the commit lock:
            // one copy of a bulk load's redo instead of two.
            self.log.append(scn, &mut |out| redo.encode(out))?;
            // Appended means it may reach disk: from here the commit must be
            // applied, or memory and log disagree. Ops a transaction built
            // under its locks fail to apply only when a stored segment they
            // need (ALTER TABLE's index keys) cannot be read: then storage
            // refuses writes until a restart rebuilds memory from the log.
            let map = if redo.adds_or_drops_tables() {
                TableMapGuard::Exclusive(self.tables.write())
            } else {
                TableMapGuard::Shared(self.tables.read())
            };
            let mut tables = Metered { tables: map, memory: &self.memory, cache: &self.cache };
            if let Err(e) = redo.apply(&mut tables, scn) {
                let why = format!("applying the commit at scn {scn} failed: {e}");
                self.log.poison(why.clone());
                return Err(StorageError::Poisoned(why));
            }
            *last = scn;
            scn
        };
        if sync {
            self.log.wait_durable(scn)?;
        } else {
            self.log.flush_soon();
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
                self.log.flush()?;
                vis = self.visibility.lock();
            }
        }
        Ok(())
    }
}

/// When the background checkpointer starts one (besides memory).
struct CheckpointPolicy {
    /// Once the current WAL file holds this many bytes.
    wal_bytes: u64,
    /// Once this long passed since the last one.
    interval: Option<Duration>,
}

/// Checkpoints in the background when the row store passes half its memory
/// budget (woken at once), the WAL grows past its size, or the interval
/// passed with commits since the last one. Holds the storage only while it
/// works, so dropping the last handle stops it.
fn start_checkpointer(storage: Weak<Storage>, memory: Arc<RowStoreMemory>, policy: CheckpointPolicy) {
    let spawned = std::thread::Builder::new().name("checkpointer".into()).spawn(move || {
        let mut last = Instant::now();
        loop {
            let asked = memory.wait_for_request(Duration::from_millis(500));
            let Some(s) = storage.upgrade() else { return };
            s.snapshots.note_visible(s.current_scn());
            let due = policy.interval.is_some_and(|i| last.elapsed() >= i);
            if !asked && !memory.over_half() && s.log.bytes_since_cut() < policy.wal_bytes && !due {
                continue;
            }
            last = Instant::now();
            let done = s.checkpoint();
            memory.checkpoint_done(done.is_ok());
            if let Err(e) = done {
                tracing::error!("automatic checkpoint failed: {e}");
            }
            if let Err(e) = s.compact() {
                tracing::error!("compaction failed: {e}");
            }
        }
    });
    if let Err(e) = spawned {
        tracing::error!("could not start the checkpoint thread ({e}); only CHECKPOINT statements checkpoint");
    }
}

/// What one commit writes to the log and applies to the tables: a list of
/// ops, or a transaction's write set as it stands (see `mvcc/transaction.rs`).
pub(crate) trait Redo {
    /// Whether it changes a table's layout (and so waits for a checkpoint).
    fn alters_layout(&self) -> bool;
    /// Whether it creates or drops tables (and so needs the table map
    /// exclusively while it is applied).
    fn adds_or_drops_tables(&self) -> bool;
    /// Appends the record body (`log/record.rs` has the format).
    fn encode(&self, out: &mut Vec<u8>);
    /// Applies it at `scn`, moving row values into the tables.
    fn apply(self, tables: &mut dyn TableMap, scn: Scn) -> Result<()>;
}

impl Redo for Vec<RedoOp> {
    fn alters_layout(&self) -> bool {
        self.iter().any(|op| matches!(op, RedoOp::AlterTable { .. }))
    }
    fn adds_or_drops_tables(&self) -> bool {
        self.iter().any(|op| matches!(op, RedoOp::CreateTable(_) | RedoOp::DropTable(_)))
    }
    fn encode(&self, out: &mut Vec<u8>) {
        encode_ops(self, out);
    }
    fn apply(self, tables: &mut dyn TableMap, scn: Scn) -> Result<()> {
        apply_ops(tables, scn, self)
    }
}

/// Runs `f` on a table, counting what it adds to or frees from the row
/// store (against its budget) and the table's metadata (against the
/// segment cache's).
fn metered<R>(
    memory: &RowStoreMemory,
    cache: &SegmentCache,
    table: &mut TableStore,
    f: impl FnOnce(&mut TableStore) -> R,
) -> R {
    let before = (table.memory_bytes(), table.metadata_bytes());
    let r = f(table);
    memory.changed(before.0, table.memory_bytes());
    cache.metadata_changed(before.1, table.metadata_bytes());
    r
}

/// The shared tables at commit, counting what each change adds to or
/// frees from memory.
struct Metered<'a> {
    tables: TableMapGuard<'a>,
    memory: &'a RowStoreMemory,
    cache: &'a SegmentCache,
}

type SharedTables = HashMap<TableId, Arc<RwLock<TableStore>>>;

/// The table map as a commit holds it while applying: shared for row
/// changes, each table then locked for writing on its own, so statements
/// looking a table up are not held back by every commit (they were, and
/// spun on this lock under pgbench); exclusive only for redo that creates
/// or drops tables.
enum TableMapGuard<'a> {
    Shared(parking_lot::RwLockReadGuard<'a, SharedTables>),
    Exclusive(parking_lot::RwLockWriteGuard<'a, SharedTables>),
}

impl TableMapGuard<'_> {
    fn get(&self, id: TableId) -> Option<&Arc<RwLock<TableStore>>> {
        match self {
            TableMapGuard::Shared(map) => map.get(&id),
            TableMapGuard::Exclusive(map) => map.get(&id),
        }
    }

    fn exclusive(&mut self) -> Result<&mut SharedTables> {
        match self {
            TableMapGuard::Exclusive(map) => Ok(map),
            TableMapGuard::Shared(_) => {
                Err(StorageError::Internal("redo creating or dropping a table was applied under a shared lock".into()))
            }
        }
    }
}

impl TableMap for Metered<'_> {
    fn create(&mut self, spec: crate::spec::TableSpec) -> Result<()> {
        self.tables.exclusive()?.insert(spec.id, Arc::new(RwLock::new(TableStore::new(spec))));
        Ok(())
    }
    fn remove(&mut self, id: TableId) -> Result<bool> {
        let Some(table) = self.tables.exclusive()?.remove(&id) else { return Ok(false) };
        let table = table.read();
        self.memory.changed(table.memory_bytes(), 0);
        self.cache.metadata_changed(table.metadata_bytes(), 0);
        Ok(true)
    }
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()> {
        let mut t = self.tables.get(id).ok_or(StorageError::NoSuchTable(id))?.write();
        metered(self.memory, self.cache, &mut t, |t| f(t));
        Ok(())
    }
}

/// A table map that redo can be applied to: owned tables during replay,
/// shared locked tables at commit.
pub(crate) trait TableMap {
    fn create(&mut self, spec: crate::spec::TableSpec) -> Result<()>;
    fn remove(&mut self, id: TableId) -> Result<bool>;
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()>;
}

impl TableMap for HashMap<TableId, TableStore> {
    fn create(&mut self, spec: crate::spec::TableSpec) -> Result<()> {
        self.insert(spec.id, TableStore::new(spec));
        Ok(())
    }
    fn remove(&mut self, id: TableId) -> Result<bool> {
        Ok(HashMap::remove(self, &id).is_some())
    }
    fn with(&mut self, id: TableId, f: &mut dyn FnMut(&mut TableStore)) -> Result<()> {
        f(self.get_mut(&id).ok_or(StorageError::NoSuchTable(id))?);
        Ok(())
    }
}

/// Applies one transaction's redo at `scn`; shared by commit and replay.
/// Takes the ops by value so row values move into the store instead of
/// being copied. A run of row ops on one table (redo groups them by table)
/// is applied under one lookup and lock of that table.
pub(crate) fn apply_ops(tables: &mut dyn TableMap, scn: Scn, ops: Vec<RedoOp>) -> Result<()> {
    let mut ops = ops.into_iter().peekable();
    while let Some(op) = ops.next() {
        let Some(table) = op.row_table() else {
            apply_ddl(tables, scn, op)?;
            continue;
        };
        let mut first = Some(op);
        let mut failed = None;
        tables.with(table, &mut |t| {
            let run =
                first.take().into_iter().chain(std::iter::from_fn(|| ops.next_if(|o| o.row_table() == Some(table))));
            // Consecutive batches become segments together.
            let mut batches = Vec::new();
            for op in run {
                if let RedoOp::InsertBatch { rows, .. } = op {
                    batches.push(*rows);
                    continue;
                }
                if !batches.is_empty()
                    && let Err(e) = t.append_batches(std::mem::take(&mut batches), scn)
                {
                    failed.get_or_insert(e);
                }
                match op {
                    RedoOp::Insert { row, values, .. } => t.put_new(row, values, scn),
                    RedoOp::Update { row, values, .. } => t.put(row, values, scn),
                    RedoOp::Delete { row, .. } => t.end(row, scn),
                    _ => unreachable!("row_table is only set for row ops"),
                }
            }
            if let Err(e) = t.append_batches(batches, scn) {
                failed.get_or_insert(e);
            }
        })?;
        if let Some(e) = failed {
            return Err(e);
        }
    }
    Ok(())
}

/// Applies one op that is not a row change.
pub(crate) fn apply_ddl(tables: &mut dyn TableMap, scn: Scn, op: RedoOp) -> Result<()> {
    match op {
        RedoOp::CreateTable(spec) => tables.create(*spec)?,
        RedoOp::DropTable(id) => {
            if !tables.remove(id)? {
                return Err(StorageError::NoSuchTable(id));
            }
        }
        RedoOp::AlterTable { spec, map } => {
            let table = spec.id;
            let mut spec = Some(spec);
            let mut altered = Ok(());
            tables.with(table, &mut |t| {
                altered = t.alter(*spec.take().expect("applied once"), &map);
                t.last_write = scn;
            })?;
            altered?
        }
        RedoOp::Truncate(id) => tables.with(id, &mut |t| t.end_all(scn))?,
        RedoOp::SetSequence { .. } => {}
        RedoOp::Insert { .. } | RedoOp::Update { .. } | RedoOp::Delete { .. } | RedoOp::InsertBatch { .. } => {
            return Err(StorageError::Internal("row op applied as DDL".into()));
        }
    }
    Ok(())
}
