//! Transaction locks with deadlock detection.
//!
//! Writers lock what they change until their transaction ends: rows they
//! update or delete, unique keys they insert, and tables (shared for DML,
//! exclusive for DDL). A transaction that finds a resource held waits on a
//! condition variable; before each wait it records whom it waits for and
//! searches that wait-for graph for a cycle back to itself. Finding one makes
//! the current waiter the victim (SQLSTATE 40P01), as in PostgreSQL.
//!
//! Waiting is bounded by the session's lock timeout when one is set.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rustydb_common::{IndexId, RowId, TableId, TxnId};

use crate::error::{Result, StorageError};
use crate::value::Value;

/// Something a transaction can lock.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    Table(TableId),
    Row(TableId, RowId),
    Key(TableId, IndexId, Box<[Value]>),
}

/// Lock strength.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Shared,
    Exclusive,
}

#[derive(Debug, Default)]
struct Holders {
    exclusive: Option<TxnId>,
    shared: HashSet<TxnId>,
}

impl Holders {
    fn conflicts(&self, txn: TxnId, mode: Mode) -> Vec<TxnId> {
        let mut out: Vec<TxnId> = self.exclusive.into_iter().filter(|t| *t != txn).collect();
        if mode == Mode::Exclusive {
            out.extend(self.shared.iter().copied().filter(|t| *t != txn));
        }
        out
    }
    fn is_empty(&self) -> bool {
        self.exclusive.is_none() && self.shared.is_empty()
    }
}

#[derive(Debug, Default)]
struct LockTable {
    held: HashMap<Resource, Holders>,
    by_txn: HashMap<TxnId, Vec<Resource>>,
    waits_for: HashMap<TxnId, Vec<TxnId>>,
}

impl LockTable {
    /// Whether following wait-for edges from `from` reaches `target`.
    fn reaches(&self, from: TxnId, target: TxnId) -> bool {
        let mut stack = vec![from];
        let mut seen = HashSet::new();
        while let Some(t) = stack.pop() {
            if t == target {
                return true;
            }
            if seen.insert(t)
                && let Some(next) = self.waits_for.get(&t)
            {
                stack.extend(next.iter().copied());
            }
        }
        false
    }
}

/// How long a lock request may wait for conflicting holders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Until granted (deadlocks are still detected).
    Forever,
    /// Up to this long, then [`StorageError::LockTimeout`].
    For(Duration),
    /// Not at all: [`StorageError::WouldBlock`] at once.
    No,
}

impl From<Option<Duration>> for Wait {
    fn from(timeout: Option<Duration>) -> Self {
        timeout.map_or(Wait::Forever, Wait::For)
    }
}

/// The lock manager of one storage instance.
#[derive(Debug, Default)]
pub struct LockManager {
    table: Mutex<LockTable>,
    released: Condvar,
}

impl LockManager {
    /// Takes `resource` in `mode` for `txn`, waiting while others hold it.
    /// With `hold == false` it only waits until the resource is free.
    pub fn acquire(
        &self,
        txn: TxnId,
        resource: &Resource,
        mode: Mode,
        hold: bool,
        wait: impl Into<Wait>,
    ) -> Result<()> {
        let wait = wait.into();
        let deadline = match wait {
            Wait::For(t) => Some(Instant::now() + t),
            Wait::Forever | Wait::No => None,
        };
        let mut lt = self.table.lock();
        loop {
            let blockers = lt.held.get(resource).map(|h| h.conflicts(txn, mode)).unwrap_or_default();
            if blockers.is_empty() {
                lt.waits_for.remove(&txn);
                if hold {
                    let h = lt.held.entry(resource.clone()).or_default();
                    let newly = match mode {
                        Mode::Exclusive => h.exclusive.replace(txn).is_none(),
                        Mode::Shared => h.exclusive != Some(txn) && h.shared.insert(txn),
                    };
                    if newly {
                        lt.by_txn.entry(txn).or_default().push(resource.clone());
                    }
                }
                return Ok(());
            }
            if wait == Wait::No {
                return Err(StorageError::WouldBlock);
            }
            if blockers.iter().any(|b| lt.reaches(*b, txn)) {
                lt.waits_for.remove(&txn);
                return Err(StorageError::Deadlock);
            }
            lt.waits_for.insert(txn, blockers);
            match deadline {
                Some(d) => {
                    if self.released.wait_until(&mut lt, d).timed_out() {
                        lt.waits_for.remove(&txn);
                        return Err(StorageError::LockTimeout);
                    }
                }
                None => self.released.wait(&mut lt),
            }
        }
    }

    /// Whether another transaction holds `resource` exclusively.
    pub fn held_by_other(&self, txn: TxnId, resource: &Resource) -> bool {
        let lt = self.table.lock();
        lt.held.get(resource).is_some_and(|h| h.exclusive.is_some_and(|t| t != txn))
    }

    /// Releases everything `txn` holds and wakes all waiters.
    pub fn release_all(&self, txn: TxnId) {
        let mut lt = self.table.lock();
        lt.waits_for.remove(&txn);
        if let Some(resources) = lt.by_txn.remove(&txn) {
            for r in resources {
                if let Some(h) = lt.held.get_mut(&r) {
                    if h.exclusive == Some(txn) {
                        h.exclusive = None;
                    }
                    h.shared.remove(&txn);
                    if h.is_empty() {
                        lt.held.remove(&r);
                    }
                }
            }
        }
        drop(lt);
        self.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn row(n: u64) -> Resource {
        Resource::Row(TableId(1), RowId(n))
    }

    #[test]
    fn shared_locks_coexist_and_exclusive_waits() {
        let lm = LockManager::default();
        lm.acquire(TxnId(1), &Resource::Table(TableId(1)), Mode::Shared, true, None).unwrap();
        lm.acquire(TxnId(2), &Resource::Table(TableId(1)), Mode::Shared, true, None).unwrap();
        let r =
            lm.acquire(TxnId(3), &Resource::Table(TableId(1)), Mode::Exclusive, true, Some(Duration::from_millis(20)));
        assert!(matches!(r, Err(StorageError::LockTimeout)));
    }

    #[test]
    fn deadlock_is_detected() {
        let lm = Arc::new(LockManager::default());
        lm.acquire(TxnId(1), &row(1), Mode::Exclusive, true, None).unwrap();
        lm.acquire(TxnId(2), &row(2), Mode::Exclusive, true, None).unwrap();
        let lm2 = lm.clone();
        let t = std::thread::spawn(move || lm2.acquire(TxnId(1), &row(2), Mode::Exclusive, true, None));
        std::thread::sleep(Duration::from_millis(50));
        let r = lm.acquire(TxnId(2), &row(1), Mode::Exclusive, true, None);
        assert!(matches!(r, Err(StorageError::Deadlock)));
        lm.release_all(TxnId(2));
        t.join().unwrap().unwrap();
    }
}
