//! The row store's share of the server's memory budget.
//!
//! ```text
//!                      budget ─────────────────────────────┐
//!  hot versions ┐                                          │ commits wait here
//!  + unwritten  ├─► used ──► ≥ budget/2: wake checkpointer │ (admit), until a
//!    segments   ┘            (frees what it freezes)       ▼ checkpoint frees
//! ```
//!
//! Counted here: versions not yet frozen (the row store proper), segments
//! whose columns no checkpoint has written yet (a bulk load's), and what a
//! compaction or merge holds while it builds a segment ([`WorkingMemory`]).
//! Stored segments' columns are the segment cache's, under its own
//! budget. Not counted here: index entries, the
//! per-row ids and begins every segment keeps, delete vectors. They grow
//! with the data, not with what is waiting for a checkpoint, and no
//! checkpoint frees them: they are the tables' metadata, which take their
//! room from the segment cache's budget (`segment/cache.rs`).
//!
//! Every change to what a table counts happens under its write lock, where
//! the caller measures it before and after ([`TableStore::memory_bytes`](crate::rowstore::table::TableStore::memory_bytes)) and
//! reports the difference: the gauge is exact, not sampled.
//!
//! Background work takes only from the half of the budget below where
//! checkpoints start, so it never sets one off, and it gives up (to try
//! again at a later compaction) when that half has no room for it;
//! commits count it when they ask to go ahead.
//!
//! A commit goes ahead while the store is within the budget, so the store
//! peaks at the budget plus the commits in flight. The pending writes of
//! all open transactions together are capped at the budget too (53200 for
//! the write that would pass it): once a checkpoint emptied the store, any
//! commit fits, and a hundred sessions each loading just under the budget
//! cannot take a hundred budgets between them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::error::{Result, StorageError};
use crate::value::Value;

/// Default row store budget: 2 GiB.
pub const ROW_STORE_BYTES_DEFAULT: usize = 2 << 30;

/// How long a commit waits for a checkpoint to bring the row store under
/// its budget before it gives up with 53200.
const ADMIT_WAIT_MAX: Duration = Duration::from_secs(60);

/// Bytes a slice of values takes: the values and what text and bytea
/// values point to.
pub(crate) fn values_bytes(values: &[Value]) -> usize {
    let heap: usize = values
        .iter()
        .map(|v| match v {
            Value::Text(s) => s.len(),
            Value::Bytes(b) => b.len(),
            _ => 0,
        })
        .sum();
    std::mem::size_of_val(values) + heap
}

/// Bytes one row-store version of `values` takes, roughly: the values and
/// the version and map slot around them.
pub(crate) fn version_bytes(values: &[Value]) -> usize {
    /// `Version` (begin, end, boxed slice), its chain `Vec` and a B-tree slot.
    const PER_VERSION: usize = 32 + 24 + 32;
    PER_VERSION + values_bytes(values)
}

/// Bytes of the data `array` holds: its slice of its buffers. Not
/// `get_array_memory_size`, which counts whole buffers: arrays decoded from
/// an Arrow IPC message (Flight SQL ingest) are slices of the message body,
/// so that counted the body once per column (a 1M-row ingest of TPC-H
/// orders came to more than 2 GiB).
pub(crate) fn array_bytes(array: &dyn arrow::array::Array) -> usize {
    array.to_data().get_slice_memory_size().unwrap_or_else(|_| array.get_array_memory_size())
}

/// [`array_bytes`] of several arrays together.
pub(crate) fn arrays_bytes<'a>(arrays: impl IntoIterator<Item = &'a arrow::array::ArrayRef>) -> usize {
    arrays.into_iter().map(|a| array_bytes(a.as_ref())).sum()
}

/// What the row store holds against its budget (see the module docs).
#[derive(Debug)]
pub(crate) struct RowStoreMemory {
    budget: usize,
    used: AtomicUsize,
    /// Set when a checkpoint is wanted now; the checkpointer waits on it.
    wanted: Mutex<bool>,
    wake: Condvar,
    /// Notified when `used` goes down, for commits waiting in `admit`.
    freed_lock: Mutex<()>,
    freed: Condvar,
    /// Whether the last automatic checkpoint failed (commits waiting for
    /// room stop waiting then).
    failing: AtomicBool,
    /// Bytes the open transactions' pending writes take, all together.
    pending: AtomicUsize,
    /// Bytes [`WorkingMemory`] holds.
    working: AtomicUsize,
}

impl RowStoreMemory {
    pub(crate) fn new(budget: usize, used: usize) -> Self {
        RowStoreMemory {
            budget,
            used: AtomicUsize::new(used),
            wanted: Mutex::new(false),
            wake: Condvar::new(),
            freed_lock: Mutex::new(()),
            freed: Condvar::new(),
            failing: AtomicBool::new(false),
            pending: AtomicUsize::new(0),
            working: AtomicUsize::new(0),
        }
    }

    pub(crate) fn budget(&self) -> usize {
        self.budget
    }

    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Counts `bytes` more of a transaction's pending writes; fails, and
    /// counts nothing, if all transactions' would then pass the budget.
    pub(crate) fn reserve_pending(&self, bytes: usize) -> Result<()> {
        let budget = self.budget;
        self.pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| p.checked_add(bytes).filter(|&n| n <= budget))
            .map(|_| ())
            .map_err(|pending| {
                StorageError::OutOfMemory(format!(
                    "the pending writes of open transactions would take more than {} MiB, the row store's \
                     memory budget ({} MiB pending already); commit in smaller transactions or raise the budget",
                    budget >> 20,
                    pending >> 20
                ))
            })
    }

    /// Forgets `bytes` of pending writes (committed, or rolled back).
    pub(crate) fn release_pending(&self, bytes: usize) {
        let _ = self.pending.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |p| Some(p.saturating_sub(bytes)));
    }

    /// Bytes the open transactions' pending writes take.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Records a table's change from `before` to `after` bytes.
    pub(crate) fn changed(&self, before: usize, after: usize) {
        if after >= before {
            let used = self.used.fetch_add(after - before, Ordering::Relaxed) + (after - before);
            if used >= self.budget / 2 {
                self.want_checkpoint();
            }
        } else {
            // Saturating: a table measured before replay counted it.
            let _ = self
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| Some(u.saturating_sub(before - after)));
            self.notify_freed();
        }
    }

    fn notify_freed(&self) {
        let _guard = self.freed_lock.lock();
        self.freed.notify_all();
    }

    /// Memory for a compaction or merge, taken as it grows
    /// ([`WorkingMemory::try_grow`]).
    pub(crate) fn working_memory(self: &Arc<Self>) -> WorkingMemory {
        WorkingMemory { memory: self.clone(), bytes: 0 }
    }

    /// Bytes [`WorkingMemory`] holds now.
    pub(crate) fn working(&self) -> usize {
        self.working.load(Ordering::Relaxed)
    }

    /// What [`WorkingMemory`] may take now.
    pub(crate) fn working_room(&self) -> usize {
        (self.budget / 2).saturating_sub(self.taken())
    }

    /// What commits wait on: the row store and work in progress.
    fn taken(&self) -> usize {
        self.used() + self.working()
    }

    /// Whether the checkpointer should start one now for memory.
    pub(crate) fn over_half(&self) -> bool {
        self.used() >= self.budget / 2
    }

    fn want_checkpoint(&self) {
        let mut wanted = self.wanted.lock();
        if !*wanted {
            *wanted = true;
            self.wake.notify_all();
        }
    }

    /// Waits up to `timeout` for a request to checkpoint; clears it.
    pub(crate) fn wait_for_request(&self, timeout: Duration) -> bool {
        let mut wanted = self.wanted.lock();
        if !*wanted {
            self.wake.wait_for(&mut wanted, timeout);
        }
        std::mem::take(&mut *wanted)
    }

    /// Records how the last automatic checkpoint went.
    pub(crate) fn checkpoint_done(&self, ok: bool) {
        self.failing.store(!ok, Ordering::Relaxed);
        self.notify_freed();
    }

    /// Lets a commit go ahead once the row store is within its budget,
    /// waiting for a checkpoint to make room. Fails with 53200 when the
    /// checkpoints fail or do not make room in time.
    pub(crate) fn admit(&self) -> Result<()> {
        if self.taken() <= self.budget {
            return Ok(());
        }
        let deadline = Instant::now() + ADMIT_WAIT_MAX;
        let mut guard = self.freed_lock.lock();
        while self.taken() > self.budget {
            self.want_checkpoint();
            if self.failing.load(Ordering::Relaxed) || self.freed.wait_until(&mut guard, deadline).timed_out() {
                return Err(StorageError::OutOfMemory(format!(
                    "the row store holds {} MiB, over its budget of {} MiB, and checkpoints are not freeing it{}",
                    self.used() >> 20,
                    self.budget >> 20,
                    if self.failing.load(Ordering::Relaxed) {
                        " (the last one failed; see the server log)"
                    } else {
                        ""
                    },
                )));
            }
        }
        Ok(())
    }
}

/// Memory a compaction or merge holds while it builds a segment, counted
/// in the row store's budget until dropped (see the module docs).
#[derive(Debug)]
pub(crate) struct WorkingMemory {
    memory: Arc<RowStoreMemory>,
    bytes: usize,
}

impl WorkingMemory {
    /// Takes `bytes` more; false, and nothing taken, when the row store
    /// and work already in progress leave less than that below half the
    /// budget.
    pub(crate) fn try_grow(&mut self, bytes: usize) -> bool {
        let m = &self.memory;
        let limit = m.budget / 2;
        let grown = m.working.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
            (m.used() + w + bytes <= limit).then_some(w + bytes)
        });
        if grown.is_ok() {
            self.bytes += bytes;
        }
        grown.is_ok()
    }

    /// Holds `now` bytes where `estimated` were taken: gives back the
    /// difference, or takes it (false, keeping what it had, when there is
    /// no room).
    pub(crate) fn settle(&mut self, estimated: usize, now: usize) -> bool {
        match now > estimated {
            true => self.try_grow(now - estimated),
            false => {
                self.shrink(estimated - now);
                true
            }
        }
    }

    /// Gives back `bytes` of what was taken.
    pub(crate) fn shrink(&mut self, bytes: usize) {
        let bytes = bytes.min(self.bytes);
        self.bytes -= bytes;
        self.memory.working.fetch_sub(bytes, Ordering::Relaxed);
        self.memory.notify_freed();
    }
}

impl Drop for WorkingMemory {
    fn drop(&mut self) {
        self.shrink(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_counts_its_bytes() {
        let short = version_bytes(&[Value::Int64(1), Value::Text("a".into())]);
        let long = version_bytes(&[Value::Int64(1), Value::Text("a".repeat(1001).into())]);
        assert_eq!(long - short, 1000);
    }

    #[test]
    fn crossing_half_the_budget_asks_for_a_checkpoint_and_freeing_admits() {
        let m = std::sync::Arc::new(RowStoreMemory::new(1000, 0));
        m.changed(0, 400);
        assert!(!m.wait_for_request(Duration::ZERO));
        m.changed(400, 600);
        assert!(m.wait_for_request(Duration::ZERO), "past half the budget");
        m.changed(600, 1200);
        let waiter = {
            let m = m.clone();
            std::thread::spawn(move || m.admit())
        };
        assert!(m.wait_for_request(Duration::from_secs(5)), "a waiting commit asks for a checkpoint");
        m.changed(1200, 100);
        waiter.join().unwrap().unwrap();
        assert_eq!(m.used(), 100);
    }

    #[test]
    fn a_failing_checkpoint_turns_waiting_into_53200() {
        let m = RowStoreMemory::new(1000, 2000);
        m.checkpoint_done(false);
        let e = m.admit().unwrap_err();
        assert_eq!(e.sqlstate(), "53200", "{e}");
        m.changed(2000, 0);
        m.admit().unwrap();
    }

    #[test]
    fn work_in_progress_takes_from_below_half_the_budget_and_holds_commits_back() {
        let m = Arc::new(RowStoreMemory::new(1000, 0));
        m.changed(0, 200);
        let mut work = m.working_memory();
        assert!(work.try_grow(250));
        assert!(!work.try_grow(100), "past half the budget with the row store's 200");
        let mut other = m.working_memory();
        assert!(other.try_grow(50));
        assert!(!m.over_half(), "work in progress never asks for a checkpoint");
        m.changed(200, 800);
        assert_eq!(m.taken(), 1100, "commits count the work");
        work.shrink(100);
        assert_eq!(m.working(), 200);
        drop(work);
        drop(other);
        assert_eq!(m.working(), 0, "given back when dropped");
        m.changed(800, 100);
        assert!(m.admit().is_ok());
    }
}
