//! Transactions: a private write set over a snapshot, plus row and key locks.
//!
//! ```text
//!            reads                                writes
//! ReadView = snapshot SCN + Arc<WriteSet>   Transaction::{insert, update, delete, DDL}
//!   base versions visible at the snapshot     lock first (wait for other writers),
//!   overlaid by the transaction's own writes  check conflicts, then record in WriteSet
//! ```
//!
//! Nothing a transaction writes reaches shared state before commit; commit
//! turns the write set into one redo record (`Storage::commit`). Rollback just
//! drops it. Savepoints are copies of the write set (cheap: `Arc`, cloned on
//! the next write).
//!
//! Write rules (PostgreSQL's): a write locks the row; if another transaction
//! holds it, we wait. Once we hold it we compare the newest committed version
//! with our read snapshot. Unchanged: go ahead. Changed or deleted since: at
//! REPEATABLE READ that is a serialization failure (40001); at READ COMMITTED
//! we report `Changed`/`Gone` and the engine re-evaluates the statement's
//! condition on the newest version.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use arrow::array::ArrayRef;
use rustydb_common::limits::TXN_WRITES_MAX;
use rustydb_common::{IndexId, RowId, Scn, TableId, TxnId};

use crate::error::{Result, StorageError};
use crate::log::codec::Encoder;
use crate::log::record::{RedoOp, RowChange, encode_count, encode_insert_batch, encode_op, encode_row_change};
use crate::mvcc::locks::{Mode, Resource, Wait};
use crate::mvcc::snapshot::SnapshotPin;
use crate::rowstore::memory::{arrays_bytes, version_bytes};
use crate::scan::view::ReadView;
use crate::segment::bulk::{RowBatch, check_columns};
use crate::spec::{ColumnSource, IndexSpec, TableSpec, compose_maps, index_key, remap_row};
use crate::storage::{Redo, Storage, TableMap, apply_ddl};
use crate::value::{Row, Value};

/// Isolation level of a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// New snapshot per statement (PostgreSQL's default).
    #[default]
    ReadCommitted,
    /// One snapshot for the whole transaction.
    RepeatableRead,
}

/// A pending change to one row.
#[derive(Debug, Clone)]
pub(crate) enum Write {
    Insert(Row),
    Update(Row),
    Delete,
}

/// Pending changes to one table.
#[derive(Debug, Clone)]
pub(crate) struct TableWrites {
    /// The table's layout as this transaction sees it.
    pub spec: Arc<TableSpec>,
    /// Committed rows are hidden (TRUNCATE, or created by this transaction).
    pub base_hidden: bool,
    /// Maps committed rows to `spec` after a pending ALTER.
    pub map: Option<Vec<ColumnSource>>,
    pub dropped: bool,
    pub rows: BTreeMap<RowId, Write>,
    /// Rows inserted as columns, ids ascending (`segment/bulk.rs`); only while the
    /// transaction does nothing else to the table.
    pub batches: Vec<RowBatch>,
    /// Unique-index key ──► the own row last written with it, so a unique
    /// check finds a conflict among its own writes without scanning them
    /// all (which made a bulk INSERT into a keyed table quadratic). May be
    /// stale: the row is re-checked.
    pub own_keys: HashMap<(IndexId, Row), RowId>,
}

/// `row`'s entries for [`TableWrites::own_keys`]: one per unique index.
fn unique_key_entries<'a>(
    spec: &'a TableSpec,
    row: RowId,
    values: &'a [Value],
) -> impl Iterator<Item = ((IndexId, Row), RowId)> + 'a {
    spec.indexes.iter().filter(|i| i.unique).map(move |idx| ((idx.id, index_key(idx, values)), row))
}

impl TableWrites {
    fn new(spec: Arc<TableSpec>, base_hidden: bool) -> Self {
        TableWrites {
            spec,
            base_hidden,
            map: None,
            dropped: false,
            rows: BTreeMap::new(),
            batches: Vec::new(),
            own_keys: HashMap::new(),
        }
    }

    /// Turns the batches into row writes, for writes that work row by row.
    fn unbatch(&mut self) -> Result<()> {
        for batch in std::mem::take(&mut self.batches) {
            let rows = batch.rows(&self.spec)?;
            for (pos, row) in rows.into_iter().enumerate() {
                self.note_keys(batch.row_id(pos), &row);
                self.rows.insert(batch.row_id(pos), Write::Insert(row));
            }
        }
        Ok(())
    }

    /// The own batch row `row`, if it is one.
    pub(crate) fn batch_row(&self, row: RowId) -> Option<Row> {
        let i = self.batches.partition_point(|b| b.first <= row).checked_sub(1)?;
        let b = &self.batches[i];
        b.position(row).map(|pos| b.row(&self.spec, pos))
    }

    /// Records `row`'s keys in the unique indexes.
    fn note_keys(&mut self, row: RowId, values: &[Value]) {
        self.own_keys.extend(unique_key_entries(&self.spec, row, values));
    }

    /// Recomputes `own_keys` after the layout or the indexes changed.
    fn rebuild_keys(&mut self) {
        let live = self.rows.iter().filter_map(|(id, w)| match w {
            Write::Insert(r) | Write::Update(r) => Some((*id, r)),
            Write::Delete => None,
        });
        self.own_keys = live.flat_map(|(id, r)| unique_key_entries(&self.spec, id, r)).collect();
    }

    /// The own live row other than `except` that has `key` in `idx`.
    pub(crate) fn own_row_with_key(&self, idx: &IndexSpec, key: &Row, except: Option<RowId>) -> Option<RowId> {
        let rid = *self.own_keys.get(&(idx.id, key.clone()))?;
        let live =
            matches!(self.rows.get(&rid), Some(Write::Insert(r) | Write::Update(r)) if index_key(idx, r) == *key);
        (live && Some(rid) != except).then_some(rid)
    }
}

/// Everything a transaction has written, in the form reads overlay.
#[derive(Debug, Clone, Default)]
pub(crate) struct WriteSet {
    pub ddl: Vec<RedoOp>,
    pub tables: BTreeMap<TableId, TableWrites>,
    pub row_writes: usize,
    /// Bytes the writes take, roughly (`rowstore/memory.rs`).
    pub pending_bytes: usize,
}

/// Result of trying to write a row that was read at some snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    /// The change is recorded.
    Done,
    /// READ COMMITTED only: a newer committed version exists; re-evaluate the
    /// statement against it (the row stays locked by us).
    Changed,
    /// The row was deleted concurrently (or by this transaction): skip it.
    Gone,
}

/// Which unique index may report a conflict instead of failing (ON CONFLICT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arbiter {
    /// Every unique violation is an error.
    None,
    /// A conflict on any unique index is reported.
    Any,
    /// Only a conflict on this index is reported.
    Index(IndexId),
}

/// Result of an insert under an arbiter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InsertOutcome {
    Inserted(RowId),
    /// A live row with the same key exists (committed, or written by us).
    Conflict(RowId),
}

/// A point a transaction can roll back to.
#[derive(Debug, Clone)]
pub struct Savepoint(Arc<WriteSet>);

/// A transaction. Dropping it without commit rolls it back.
pub struct Transaction {
    storage: Arc<Storage>,
    id: TxnId,
    isolation: Isolation,
    snapshot: Scn,
    pin: Arc<SnapshotPin>,
    writes: Arc<WriteSet>,
    table_locks: HashSet<(TableId, bool)>,
    lock_timeout: Option<Duration>,
    /// Lock requests fail with `WouldBlock` instead of waiting (see
    /// [`Transaction::without_waiting`]).
    no_wait: bool,
    synchronous_commit: bool,
    /// REPEATABLE READ takes its snapshot at the first statement, as
    /// PostgreSQL does, not at BEGIN.
    snapshot_fixed: bool,
    finished: bool,
    /// Bytes of pending writes counted against the row store's budget
    /// (`RowStoreMemory::reserve_pending`); given back when it ends.
    reserved: usize,
}

impl Transaction {
    pub(crate) fn new(storage: Arc<Storage>, id: TxnId, isolation: Isolation) -> Self {
        let pin = storage.pin_current();
        Transaction {
            storage,
            id,
            isolation,
            snapshot: pin.scn,
            pin,
            writes: Arc::default(),
            table_locks: HashSet::new(),
            lock_timeout: None,
            no_wait: false,
            synchronous_commit: true,
            snapshot_fixed: false,
            finished: false,
            reserved: 0,
        }
    }

    pub fn id(&self) -> TxnId {
        self.id
    }
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }
    /// The snapshot the current statement reads at.
    pub fn snapshot(&self) -> Scn {
        self.snapshot
    }
    /// Whether the transaction has written anything.
    pub fn has_writes(&self) -> bool {
        !self.writes.ddl.is_empty() || self.writes.row_writes > 0
    }
    /// Bounds every lock wait; `None` waits forever (deadlocks are still detected).
    pub fn set_lock_timeout(&mut self, timeout: Option<Duration>) {
        self.lock_timeout = timeout;
    }
    /// With `false`, commit returns before its fsync (the flusher syncs soon after).
    pub fn set_synchronous_commit(&mut self, on: bool) {
        self.synchronous_commit = on;
    }
    /// Changes the isolation level; only before the first statement.
    pub fn set_isolation(&mut self, isolation: Isolation) {
        self.isolation = isolation;
    }

    /// Called before each statement: READ COMMITTED takes a new snapshot.
    pub fn begin_statement(&mut self) {
        if self.isolation == Isolation::ReadCommitted || !self.snapshot_fixed {
            self.take_snapshot();
        }
        self.snapshot_fixed = true;
    }

    /// Takes a fresh snapshot now (READ COMMITTED re-evaluation).
    pub fn refresh_snapshot(&mut self) -> Scn {
        self.take_snapshot();
        self.snapshot
    }

    fn take_snapshot(&mut self) {
        if self.storage.current_scn() != self.snapshot {
            self.pin = self.storage.pin_current();
            self.snapshot = self.pin.scn;
        }
    }

    /// A view of what this transaction sees now.
    pub fn view(&self) -> ReadView {
        ReadView {
            storage: self.storage.clone(),
            snapshot: self.snapshot,
            writes: self.writes.clone(),
            _pin: self.pin.clone(),
        }
    }

    pub fn savepoint(&self) -> Savepoint {
        Savepoint(self.writes.clone())
    }

    /// Forgets every write made after `sp`. Locks taken since stay held
    /// until the transaction ends.
    pub fn rollback_to(&mut self, sp: &Savepoint) {
        self.writes = sp.0.clone();
        let kept = self.writes.pending_bytes.min(self.reserved);
        self.storage.memory.release_pending(self.reserved - kept);
        self.reserved = kept;
    }

    fn lock(&self, resource: &Resource, mode: Mode) -> Result<()> {
        self.storage.locks.acquire(self.id, resource, mode, true, self.lock_wait())
    }

    fn lock_wait(&self) -> Wait {
        if self.no_wait { Wait::No } else { Wait::from(self.lock_timeout) }
    }

    /// Runs `f` (one write: insert, update, delete or row lock) unless it
    /// would have to wait for a lock; then `Ok(None)`, with nothing written
    /// (locks it already took stay held), so the caller can run it again
    /// where blocking is allowed. Lets an async caller write inline in the
    /// common case and hop to a blocking thread only to wait.
    pub fn without_waiting<R>(&mut self, f: impl FnOnce(&mut Self) -> Result<R>) -> Result<Option<R>> {
        self.no_wait = true;
        let result = f(self);
        self.no_wait = false;
        match result {
            Ok(r) => Ok(Some(r)),
            Err(StorageError::WouldBlock) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn lock_table(&mut self, table: TableId, exclusive: bool) -> Result<()> {
        if self.table_locks.contains(&(table, exclusive)) || self.table_locks.contains(&(table, true)) {
            return Ok(());
        }
        let mode = if exclusive { Mode::Exclusive } else { Mode::Shared };
        self.lock(&Resource::Table(table), mode)?;
        self.table_locks.insert((table, exclusive));
        Ok(())
    }

    /// The pending-writes entry of a table for a write that works row by
    /// row: any rows inserted as columns become row writes first.
    fn table_writes(&mut self, table: TableId) -> Result<&mut TableWrites> {
        let tw = self.table_entry(table)?;
        if !tw.batches.is_empty() {
            tw.unbatch()?;
        }
        Ok(tw)
    }

    /// The pending-writes entry of a table, created from committed state.
    fn table_entry(&mut self, table: TableId) -> Result<&mut TableWrites> {
        if !self.writes.tables.contains_key(&table) {
            let spec = self.storage.table(table)?.read().spec.clone();
            let tw = TableWrites::new(spec, false);
            Arc::make_mut(&mut self.writes).tables.insert(table, tw);
        }
        let tw = Arc::make_mut(&mut self.writes).tables.get_mut(&table).expect("inserted above");
        if tw.dropped {
            return Err(StorageError::NoSuchTable(table));
        }
        Ok(tw)
    }

    fn count_write(&mut self, values: &[Value]) -> Result<()> {
        self.count_writes(1, version_bytes(values))
    }

    /// Counts `n` more row writes taking `bytes`; fails past the limits on
    /// rows and on memory (the row store's budget, shared by all open
    /// transactions' pending writes: a commit must fit once a checkpoint
    /// emptied the store).
    fn count_writes(&mut self, n: usize, bytes: usize) -> Result<()> {
        let ws = Arc::make_mut(&mut self.writes);
        ws.row_writes += n;
        ws.pending_bytes += bytes;
        if ws.row_writes > TXN_WRITES_MAX {
            return Err(StorageError::LimitExceeded(format!(
                "transaction writes more than {TXN_WRITES_MAX} rows; commit in smaller transactions"
            )));
        }
        // A failed write is taken back by the statement's rollback to its
        // savepoint, which gives back only what was reserved.
        self.storage.memory.reserve_pending(bytes)?;
        self.reserved += bytes;
        Ok(())
    }

    // ----- DML -----

    /// Inserts rows; returns their new row ids. Checks NOT NULL and unique
    /// indexes, waiting for transactions that hold a conflicting key.
    pub fn insert(&mut self, table: TableId, rows: Vec<Row>) -> Result<Vec<RowId>> {
        self.lock_table(table, false)?;
        let spec = self.table_writes(table)?.spec.clone();
        if spec.indexes.iter().any(|i| i.unique) {
            // Each row's keys are locked and checked, one row at a time.
            let mut ids = Vec::with_capacity(rows.len());
            for row in rows {
                match self.insert_with_arbiter(table, row, Arbiter::None)? {
                    InsertOutcome::Inserted(id) => ids.push(id),
                    InsertOutcome::Conflict(_) => unreachable!("without an arbiter conflicts are errors"),
                }
            }
            return Ok(ids);
        }
        // No key to check: the whole batch is written at once, with one
        // range of row ids (the bulk path of COPY and INSERT ... SELECT).
        for row in &rows {
            check_row(&spec, row)?;
        }
        self.count_writes(rows.len(), rows.iter().map(|r| version_bytes(r)).sum())?;
        let first = self.storage.allocate_row_ids(rows.len());
        let ids: Vec<RowId> = (first.0..first.0 + rows.len() as u64).map(RowId).collect();
        let tw = self.table_writes(table)?;
        tw.rows.extend(ids.iter().copied().zip(rows.into_iter().map(Write::Insert)));
        Ok(ids)
    }

    /// Inserts rows given as one array per column (in the layout this
    /// transaction sees, of the columns' Arrow types); returns how many.
    /// Into a table without unique indexes they stay columns through the
    /// log into segments (`segment/bulk.rs`); otherwise they go row by row.
    pub fn insert_columns(&mut self, table: TableId, columns: Vec<ArrayRef>, len: usize) -> Result<usize> {
        self.lock_table(table, false)?;
        let spec = self.table_entry(table)?.spec.clone();
        check_columns(&spec, &columns, len)?;
        if len == 0 {
            return Ok(0);
        }
        if spec.indexes.iter().any(|i| i.unique) {
            let batch = RowBatch { first: RowId(0), len, columns };
            return Ok(self.insert(table, batch.rows(&spec)?)?.len());
        }
        self.count_writes(len, arrays_bytes(&columns))?;
        let first = self.storage.allocate_row_ids(len);
        self.table_entry(table)?.batches.push(RowBatch { first, len, columns });
        Ok(len)
    }

    /// Inserts one row, reporting a conflict on the arbiter index instead of
    /// failing (INSERT ... ON CONFLICT).
    pub fn insert_with_arbiter(&mut self, table: TableId, row: Row, arbiter: Arbiter) -> Result<InsertOutcome> {
        self.lock_table(table, false)?;
        let spec = self.table_writes(table)?.spec.clone();
        check_row(&spec, &row)?;
        if let Some(existing) = self.check_unique(table, &spec, &row, None, arbiter)? {
            return Ok(InsertOutcome::Conflict(existing));
        }
        let id = self.storage.allocate_row_id();
        self.count_write(&row)?;
        let tw = self.table_writes(table)?;
        tw.note_keys(id, &row);
        tw.rows.insert(id, Write::Insert(row));
        Ok(InsertOutcome::Inserted(id))
    }

    /// Replaces the row `row` (read at `read_snapshot`) with `values`.
    pub fn update(&mut self, table: TableId, row: RowId, values: Row, read_snapshot: Scn) -> Result<WriteOutcome> {
        let outcome = self.lock_for_write(table, row, read_snapshot)?;
        if outcome != WriteOutcome::Done {
            return Ok(outcome);
        }
        let spec = self.table_writes(table)?.spec.clone();
        check_row(&spec, &values)?;
        let old = self.view().get(table, row)?;
        let key_changed = |i: &IndexSpec| old.as_ref().is_none_or(|o| index_key(i, o) != index_key(i, &values));
        if spec.indexes.iter().any(|i| i.unique && key_changed(i)) {
            self.check_unique(table, &spec, &values, Some(row), Arbiter::None)?;
        }
        self.count_write(&values)?;
        let tw = self.table_writes(table)?;
        tw.note_keys(row, &values);
        let w = match tw.rows.get(&row) {
            Some(Write::Insert(_)) => Write::Insert(values),
            _ => Write::Update(values),
        };
        tw.rows.insert(row, w);
        Ok(WriteOutcome::Done)
    }

    /// Deletes the row `row` (read at `read_snapshot`).
    pub fn delete(&mut self, table: TableId, row: RowId, read_snapshot: Scn) -> Result<WriteOutcome> {
        let outcome = self.lock_for_write(table, row, read_snapshot)?;
        if outcome != WriteOutcome::Done {
            return Ok(outcome);
        }
        self.count_write(&[])?;
        let tw = self.table_writes(table)?;
        match tw.rows.get(&row) {
            Some(Write::Insert(_)) => {
                tw.rows.remove(&row);
            }
            _ => {
                tw.rows.insert(row, Write::Delete);
            }
        }
        Ok(WriteOutcome::Done)
    }

    /// Locks a row as SELECT ... FOR UPDATE does.
    pub fn lock_row(&mut self, table: TableId, row: RowId, read_snapshot: Scn) -> Result<WriteOutcome> {
        self.lock_for_write(table, row, read_snapshot)
    }

    fn lock_for_write(&mut self, table: TableId, row: RowId, read_snapshot: Scn) -> Result<WriteOutcome> {
        self.lock_table(table, false)?;
        match self.table_writes(table)?.rows.get(&row) {
            Some(Write::Delete) => return Ok(WriteOutcome::Gone),
            Some(_) => return Ok(WriteOutcome::Done),
            None => {}
        }
        self.lock(&Resource::Row(table, row), Mode::Exclusive)?;
        let store = self.storage.table(table)?;
        let store = store.read();
        let Some((begin, end)) = store.latest_span(row) else { return Ok(WriteOutcome::Gone) };
        let changed = begin > read_snapshot;
        let deleted = end != Scn::MAX;
        if !changed && !deleted {
            return Ok(WriteOutcome::Done);
        }
        match self.isolation {
            Isolation::RepeatableRead => Err(StorageError::SerializationFailure),
            Isolation::ReadCommitted if deleted => Ok(WriteOutcome::Gone),
            Isolation::ReadCommitted => Ok(WriteOutcome::Changed),
        }
    }

    /// Fails with a unique violation if another live row has `row`'s key in
    /// a unique index. Locks each key first, so concurrent inserts of one key
    /// serialize; waits for holders of a conflicting row to finish.
    fn check_unique(
        &mut self,
        table: TableId,
        spec: &TableSpec,
        row: &[Value],
        self_row: Option<RowId>,
        arbiter: Arbiter,
    ) -> Result<Option<RowId>> {
        for idx in spec.indexes.iter().filter(|i| i.unique) {
            let arbitrated = match arbiter {
                Arbiter::None => false,
                Arbiter::Any => true,
                Arbiter::Index(id) => id == idx.id,
            };
            let key = index_key(idx, row);
            if key.iter().any(Value::is_null) {
                continue;
            }
            self.lock(&Resource::Key(table, idx.id, key.clone()), Mode::Exclusive)?;
            loop {
                let view = self.view();
                let tw = view.writes.tables.get(&table);
                let own_conflict = tw.and_then(|tw| tw.own_row_with_key(idx, &key, self_row));
                if let Some(rid) = own_conflict {
                    return if arbitrated { Ok(Some(rid)) } else { Err(unique_violation(spec, idx, &key)) };
                }
                let base = view.live_base_rows_with_key(table, idx, &key)?;
                let others: Vec<RowId> = base
                    .into_iter()
                    .filter(|r| Some(*r) != self_row && !tw.is_some_and(|tw| tw.rows.contains_key(r)))
                    .collect();
                let Some(&other) = others.first() else { break };
                let res = Resource::Row(table, other);
                if !self.storage.locks.held_by_other(self.id, &res) {
                    return if arbitrated { Ok(Some(other)) } else { Err(unique_violation(spec, idx, &key)) };
                }
                // Its holder may delete it or change its key: wait, then look again.
                self.storage.locks.acquire(self.id, &res, Mode::Exclusive, false, self.lock_wait())?;
            }
        }
        Ok(None)
    }

    // ----- DDL -----

    /// Creates a table (its id from `Storage::allocate_object_id`).
    pub fn create_table(&mut self, spec: TableSpec) -> Result<()> {
        if self.storage.has_table(spec.id) || self.writes.tables.contains_key(&spec.id) {
            return Err(StorageError::Internal(format!("table id {} is already in use", spec.id)));
        }
        self.lock_table(spec.id, true)?;
        let ws = Arc::make_mut(&mut self.writes);
        ws.ddl.push(RedoOp::CreateTable(Box::new(spec.clone())));
        let tw = TableWrites::new(Arc::new(spec), true);
        ws.tables.insert(tw.spec.id, tw);
        Ok(())
    }

    /// Drops a table.
    pub fn drop_table(&mut self, table: TableId) -> Result<()> {
        self.lock_table(table, true)?;
        let tw = self.table_entry(table)?;
        tw.dropped = true;
        tw.rows.clear();
        tw.batches.clear();
        tw.own_keys.clear();
        Arc::make_mut(&mut self.writes).ddl.push(RedoOp::DropTable(table));
        Ok(())
    }

    /// Removes every row; old snapshots still see them.
    pub fn truncate(&mut self, table: TableId) -> Result<()> {
        self.lock_table(table, true)?;
        let tw = self.table_entry(table)?;
        tw.base_hidden = true;
        tw.rows.clear();
        tw.batches.clear();
        tw.own_keys.clear();
        Arc::make_mut(&mut self.writes).ddl.push(RedoOp::Truncate(table));
        Ok(())
    }

    /// Changes a table's layout: columns per `map`, indexes per `spec`.
    /// New unique indexes are checked against the rows this transaction sees.
    pub fn alter_table(&mut self, spec: TableSpec, map: Vec<ColumnSource>) -> Result<()> {
        let table = spec.id;
        self.lock_table(table, true)?;
        let tw = self.table_writes(table)?;
        for w in tw.rows.values_mut() {
            if let Write::Insert(r) | Write::Update(r) = w {
                *r = remap_row(&map, r);
            }
        }
        tw.map = Some(match &tw.map {
            Some(prev) => compose_maps(prev, &map),
            None => map.clone(),
        });
        let old_indexes: Vec<IndexId> = tw.spec.indexes.iter().map(|i| i.id).collect();
        tw.spec = Arc::new(spec.clone());
        tw.rebuild_keys();
        Arc::make_mut(&mut self.writes).ddl.push(RedoOp::AlterTable { spec: Box::new(spec.clone()), map });
        for idx in spec.indexes.iter().filter(|i| !old_indexes.contains(&i.id)) {
            self.check_new_index(table, &spec, idx)?;
        }
        Ok(())
    }

    fn check_new_index(&mut self, table: TableId, spec: &TableSpec, idx: &IndexSpec) -> Result<()> {
        let view = self.view();
        let mut seen = std::collections::BTreeSet::new();
        for (_, row) in view.rows(table)? {
            if idx.primary
                && let Some(c) = idx.columns.iter().find(|&&c| row[c].is_null())
            {
                return Err(StorageError::NotNullViolation { column: spec.columns[*c].name.clone() });
            }
            let key = index_key(idx, &row);
            if idx.unique && !key.iter().any(Value::is_null) && !seen.insert(key.clone()) {
                return Err(unique_violation(spec, idx, &key));
            }
        }
        Ok(())
    }

    // ----- end -----

    /// Makes the writes durable and visible; returns the commit SCN.
    pub fn commit(mut self) -> Result<Scn> {
        self.finished = true;
        let result = if self.has_writes() {
            // Within the row store's budget first: this may wait for a
            // checkpoint to make room, with the row locks held.
            self.storage.memory.admit().and_then(|()| {
                // Nobody else holds the write set once statements are done,
                // so its rows usually move into the tables without a copy.
                let writes = std::mem::take(&mut self.writes);
                let writes = Arc::try_unwrap(writes).unwrap_or_else(|shared| (*shared).clone());
                self.storage.commit(writes, self.synchronous_commit)
            })
        } else {
            Ok(self.snapshot)
        };
        self.storage.locks.release_all(self.id);
        result
    }

    /// Discards the writes.
    pub fn rollback(mut self) {
        self.finished = true;
        self.storage.locks.release_all(self.id);
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if !self.finished {
            self.storage.locks.release_all(self.id);
        }
        // Committed writes are the row store's to count now. Read-only
        // transactions (most) leave the shared counter's cache line alone.
        if self.reserved > 0 {
            self.storage.memory.release_pending(self.reserved);
        }
    }
}

fn unique_violation(spec: &TableSpec, idx: &IndexSpec, key: &[Value]) -> StorageError {
    let cols: Vec<&str> = idx.columns.iter().map(|&c| spec.columns[c].name.as_str()).collect();
    let vals: Vec<String> = key.iter().map(display_value).collect();
    StorageError::UniqueViolation {
        constraint: idx.name.clone(),
        detail: format!("Key ({})=({}) already exists.", cols.join(", "), vals.join(", ")),
    }
}

fn display_value(v: &Value) -> String {
    match v {
        Value::Text(s) => s.to_string(),
        other => format!("{other:?}"),
    }
}

/// Checks a row against the layout: arity, types and NOT NULL.
fn check_row(spec: &TableSpec, row: &[Value]) -> Result<()> {
    if row.len() != spec.columns.len() {
        return Err(StorageError::Internal(format!(
            "row of {} values for table {} with {} columns",
            row.len(),
            spec.id,
            spec.columns.len()
        )));
    }
    for (v, c) in row.iter().zip(&spec.columns) {
        if v.is_null() && !c.nullable {
            return Err(StorageError::NotNullViolation { column: c.name.clone() });
        }
        if !v.fits(c.ty) {
            return Err(StorageError::Internal(format!(
                "value {v:?} does not fit column {} of type {:?}",
                c.name, c.ty
            )));
        }
    }
    Ok(())
}

/// A write set commits as it stands: DDL in statement order, then each
/// table's row changes in row order, encoded and applied straight from the
/// set (a bulk load's millions of changes are never gathered into ops).
impl Redo for WriteSet {
    fn alters_layout(&self) -> bool {
        self.ddl.alters_layout()
    }
    fn adds_or_drops_tables(&self) -> bool {
        self.ddl.adds_or_drops_tables()
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let live = || self.tables.iter().filter(|(_, tw)| !tw.dropped);
        let mut e = Encoder(out);
        encode_count(&mut e, self.ddl.len() + live().map(|(_, tw)| tw.rows.len() + tw.batches.len()).sum::<usize>());
        for op in &self.ddl {
            encode_op(&mut e, op);
        }
        for (&table, tw) in live() {
            for (&row, w) in &tw.rows {
                let change = match w {
                    Write::Insert(values) => RowChange::Insert(values),
                    Write::Update(values) => RowChange::Update(values),
                    Write::Delete => RowChange::Delete,
                };
                encode_row_change(&mut e, table, row, change);
            }
            for batch in &tw.batches {
                encode_insert_batch(&mut e, table, batch);
            }
        }
    }

    fn apply(self, tables: &mut dyn TableMap, scn: Scn) -> Result<()> {
        for op in self.ddl {
            apply_ddl(tables, scn, op)?;
        }
        for (table, tw) in self.tables {
            if tw.dropped || (tw.rows.is_empty() && tw.batches.is_empty()) {
                continue;
            }
            let mut rows = Some(tw.rows);
            let mut batches = Some(tw.batches);
            let mut appended = Ok(());
            tables.with(table, &mut |t| {
                for (row, w) in rows.take().into_iter().flatten() {
                    match w {
                        Write::Insert(values) => t.put_new(row, values, scn),
                        Write::Update(values) => t.put(row, values, scn),
                        Write::Delete => t.end(row, scn),
                    }
                }
                appended = t.append_batches(batches.take().unwrap_or_default(), scn);
            })?;
            appended?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::record::decode_ops;
    use crate::spec::ColumnSpec;
    use crate::value::ColumnType;

    #[test]
    fn a_write_set_encodes_as_its_ops_would() {
        let spec = TableSpec {
            id: TableId(7),
            columns: vec![ColumnSpec { name: "a".into(), ty: ColumnType::Int64, nullable: true }],
            indexes: vec![],
        };
        let row = |v: i64| -> Row { vec![Value::Int64(v)].into() };
        let mut kept = TableWrites::new(Arc::new(spec.clone()), false);
        kept.rows.insert(RowId(3), Write::Update(row(30)));
        kept.rows.insert(RowId(1), Write::Insert(row(10)));
        kept.rows.insert(RowId(2), Write::Delete);
        let mut dropped = TableWrites::new(Arc::new(TableSpec { id: TableId(8), ..spec.clone() }), false);
        dropped.dropped = true;
        dropped.rows.insert(RowId(9), Write::Insert(row(90)));
        let ws = WriteSet {
            ddl: vec![RedoOp::Truncate(TableId(7)), RedoOp::DropTable(TableId(8))],
            tables: [(TableId(7), kept), (TableId(8), dropped)].into_iter().collect(),
            row_writes: 4,
            pending_bytes: 0,
        };
        let mut body = Vec::new();
        ws.encode(&mut body);
        // DDL first in statement order, then row changes by table and row;
        // nothing of the dropped table.
        let t = TableId(7);
        assert_eq!(
            decode_ops(&body).unwrap(),
            vec![
                RedoOp::Truncate(t),
                RedoOp::DropTable(TableId(8)),
                RedoOp::Insert { table: t, row: RowId(1), values: row(10) },
                RedoOp::Delete { table: t, row: RowId(2) },
                RedoOp::Update { table: t, row: RowId(3), values: row(30) },
            ]
        );
    }
}
