//! The commit log seam: what `Storage::commit` needs from a log, and the
//! local WAL behind it.
//!
//! ```text
//! Storage::commit ──append(scn, encode)──► CommitLog ──► LocalLog ──► WalWriter (group commit, wal.rs)
//!                 ──wait_durable(scn) / flush_soon()──►      │
//! subscribe(from) ◄── files in wal/ from `from` ◄────────────┤ catch-up
//!                 ◄── bounded queue of records once durable ◄┘ live
//! ```
//!
//! Storage holds an `Arc<dyn CommitLog>` rather than a type parameter:
//! a parameter would spread through `Transaction`, `ReadView` and every
//! engine type that names them, for a saving of one indirect call per
//! commit, next to an fsync of 0.1-10 ms. A replicated log (openraft over
//! these records) implements the same trait in its own crate, wrapping
//! or replacing [`LocalLog`].
//!
//! Contract: records are appended in SCN order, one per commit, under the
//! commit lock (`append` must not block on I/O); a record is durable once
//! `wait_durable` returns for it or a later SCN. A failed write poisons the
//! log: every later call fails with [`StorageError::Poisoned`].
//!
//! Subscriptions yield `(scn, body)` for every durable record from a given
//! SCN on, in SCN order with no gaps; `body` is what `decode_ops` reads.
//! They first read what the log files still hold (one file in memory at a
//! time), then follow new records through a bounded queue. A subscriber
//! that falls behind its queue (records or bytes) is dropped by the
//! writer, never waited for, and its subscription goes back to reading the
//! files from the first record it missed: memory stays bounded and no
//! commit slows down. If the log no longer holds the SCN asked for (a
//! checkpoint removed the files before it, also while a lagging subscriber
//! catches up), the subscription fails with [`StorageError::LogTruncated`]
//! (SQLSTATE 55000, object_not_in_prerequisite_state: the log is not in
//! the state the request needs; the subscriber must start from a
//! checkpoint's files instead).

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, sync_channel};
use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::{Condvar, Mutex};
use rustydb_common::Scn;

use crate::error::{Result, StorageError};
use crate::io::Vfs;
use crate::layout;
use crate::log::wal::{Follower, WalWriter, read_log};

/// One committed record: its SCN and its body.
pub type CommittedRecord = (Scn, Bytes);

/// Where commits go to become durable (see the module docs).
pub trait CommitLog: Send + Sync {
    /// Appends the record of the commit at `scn`, the successor of the last
    /// one appended, whose body `encode` writes. Buffered, not durable.
    fn append(&self, scn: Scn, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Result<()>;
    /// `synchronous_commit = on`: returns once `scn` is durable.
    fn wait_durable(&self, scn: Scn) -> Result<()>;
    /// `synchronous_commit = off`: makes what is appended durable soon
    /// (within a bounded delay: 5 ms locally), without waiting for it.
    fn flush_soon(&self);
    /// Makes everything appended durable now.
    fn flush(&self) -> Result<()>;
    /// The highest SCN known durable.
    fn durable(&self) -> Scn;
    /// Refuses every later write (memory no longer matches the log).
    fn poison(&self, why: String);
    /// The durable records from `from` on: first those the log still
    /// holds, then new ones as they become durable.
    fn subscribe(&self, from: Scn, queue: QueueLimits) -> Result<Box<dyn CommitStream>>;
    /// A checkpoint's cut, under the commit lock: records from `next` on
    /// may go to a new file, everything before is made durable first.
    fn cut(&self, next: Scn) -> Result<()>;
    /// A checkpoint covering everything before the last cut is installed:
    /// the log may forget it. Best effort; leftovers go next time.
    fn forget_before_cut(&self);
    /// Bytes appended since the last cut (a checkpoint starts past a size).
    fn bytes_since_cut(&self) -> u64;
}

/// A subscription's records, in SCN order.
pub trait CommitStream: Send {
    /// The next record, waiting up to `timeout` for one; `Ok(None)` when
    /// none arrived in time. Fails once the log cannot continue the stream
    /// ([`StorageError::LogTruncated`], `Poisoned`, `LogClosed`).
    fn next_timeout(&mut self, timeout: Duration) -> Result<Option<CommittedRecord>>;
}

/// How much a live subscription may queue before it counts as lagging.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    pub records: usize,
    /// Body bytes; a single larger record still passes an empty queue.
    pub bytes: usize,
}

impl Default for QueueLimits {
    /// 1,024 records or 64 MiB: a replica a second behind 1,000 commits a
    /// second stays live.
    fn default() -> Self {
        QueueLimits { records: 1024, bytes: 64 << 20 }
    }
}

/// How long `flush_soon` lets asynchronous commits gather before one
/// fsync makes them all durable: at most this much is lost in a crash.
const LAZY_FLUSH_DELAY: Duration = Duration::from_millis(5);

/// The commit log in the data directory's `wal/` files.
pub struct LocalLog {
    shared: Arc<Shared>,
    lazy: Arc<LazyFlushes>,
}

/// What subscriptions and the flusher reach through a `Weak`, so neither
/// keeps the log open after storage is dropped.
struct Shared {
    writer: WalWriter,
    vfs: Arc<dyn Vfs>,
    wal_dir: PathBuf,
}

impl LocalLog {
    /// Continues the log in `path` (holding `existing_bytes` valid bytes)
    /// after `last`, as recovery left it; starts the flusher thread.
    pub(crate) fn open(
        vfs: Arc<dyn Vfs>,
        wal_dir: PathBuf,
        path: &Path,
        existing_bytes: usize,
        last: Scn,
    ) -> Result<Self> {
        let writer = WalWriter::open(&vfs, path, existing_bytes, last)?;
        let shared = Arc::new(Shared { writer, vfs, wal_dir });
        let lazy = Arc::new(LazyFlushes::default());
        start_flusher(Arc::downgrade(&shared), lazy.clone());
        Ok(LocalLog { shared, lazy })
    }
}

impl Drop for LocalLog {
    fn drop(&mut self) {
        self.lazy.close();
    }
}

impl CommitLog for LocalLog {
    fn append(&self, scn: Scn, encode: &mut dyn FnMut(&mut Vec<u8>)) -> Result<()> {
        self.shared.writer.append_with(scn, encode)
    }
    fn wait_durable(&self, scn: Scn) -> Result<()> {
        self.shared.writer.wait_durable(scn)
    }
    fn flush_soon(&self) {
        self.lazy.request();
    }
    fn flush(&self) -> Result<()> {
        self.shared.writer.flush()
    }
    fn durable(&self) -> Scn {
        self.shared.writer.durable()
    }
    fn poison(&self, why: String) {
        self.shared.writer.poison(why);
    }
    fn subscribe(&self, from: Scn, queue: QueueLimits) -> Result<Box<dyn CommitStream>> {
        let next = from.max(Scn(1));
        let oldest = self.shared.oldest()?;
        if next < oldest && next <= self.durable() {
            return Err(StorageError::LogTruncated { requested: next, oldest });
        }
        let queue = QueueLimits { records: queue.records.max(1), bytes: queue.bytes.max(1) };
        Ok(Box::new(Subscription {
            log: Arc::downgrade(&self.shared),
            next,
            queue,
            backlog: VecDeque::new(),
            live: None,
        }))
    }
    fn cut(&self, next: Scn) -> Result<()> {
        let path = self.shared.wal_dir.join(layout::wal_file_name(next));
        self.shared.writer.rotate(&self.shared.vfs, &path)
    }
    fn forget_before_cut(&self) {
        let current = self.shared.writer.path();
        let old_logs = self
            .shared
            .vfs
            .list(&self.shared.wal_dir)
            .unwrap_or_default()
            .into_iter()
            .filter(|p| layout::is_wal_file(p) && *p != current);
        for path in old_logs {
            if let Err(e) = self.shared.vfs.remove(&path) {
                tracing::warn!("could not remove {} after a checkpoint: {e}", path.display());
            }
        }
    }
    fn bytes_since_cut(&self) -> u64 {
        self.shared.writer.file_bytes()
    }
}

impl Shared {
    /// The first SCN the log files may hold.
    fn oldest(&self) -> Result<Scn> {
        let files = layout::wal_files(&self.vfs, &self.wal_dir)?;
        Ok(files.first().and_then(|p| layout::first_scn(p)).unwrap_or(Scn(1)))
    }

    /// The durable records from `next` on in the one file holding `next`,
    /// none above `upto`; each body shares the file's bytes.
    fn read_file_from(&self, next: Scn, upto: Scn) -> Result<Vec<CommittedRecord>> {
        let files = layout::wal_files(&self.vfs, &self.wal_dir)?;
        let oldest = files.first().and_then(|p| layout::first_scn(p)).unwrap_or(Scn(1));
        let Some(path) = files.iter().rev().find(|p| layout::first_scn(p).is_some_and(|f| f <= next)) else {
            return Err(StorageError::LogTruncated { requested: next, oldest });
        };
        let bytes = match self.vfs.read(path) {
            Ok(b) => Bytes::from(b),
            // Listed, then removed by a checkpoint.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StorageError::LogTruncated { requested: next, oldest: self.oldest()? });
            }
            Err(e) => return Err(StorageError::io(format!("reading {}", path.display()), e)),
        };
        let log = read_log(&bytes)?;
        let records = log
            .records
            .iter()
            .filter(|(scn, _)| *scn >= next && *scn <= upto)
            .map(|(scn, body)| (*scn, bytes.slice_ref(body)))
            .collect::<Vec<_>>();
        match records.first() {
            Some((first, _)) if *first == next => Ok(records),
            // `next` is durable, so some file holds it.
            _ => Err(StorageError::Corruption(format!(
                "{} does not hold durable scn {next} (durable to {upto})",
                path.display()
            ))),
        }
    }
}

/// A subscription to a [`LocalLog`].
struct Subscription {
    log: Weak<Shared>,
    /// The next SCN to yield.
    next: Scn,
    queue: QueueLimits,
    /// Records read from a file, not yet yielded.
    backlog: VecDeque<CommittedRecord>,
    live: Option<Live>,
}

struct Live {
    rx: Receiver<CommittedRecord>,
    queued_bytes: Arc<AtomicUsize>,
    lagged: Arc<AtomicBool>,
}

impl CommitStream for Subscription {
    fn next_timeout(&mut self, timeout: Duration) -> Result<Option<CommittedRecord>> {
        loop {
            if let Some(record) = self.backlog.pop_front() {
                return Ok(Some(self.yielded(record)));
            }
            let Some(live) = &self.live else {
                self.catch_up()?;
                continue;
            };
            match live.rx.recv_timeout(timeout) {
                Ok(record) => {
                    live.queued_bytes.fetch_sub(record.1.len(), Ordering::AcqRel);
                    return Ok(Some(self.yielded(record)));
                }
                Err(RecvTimeoutError::Timeout) => return Ok(None),
                Err(RecvTimeoutError::Disconnected) => {
                    if !live.lagged.load(Ordering::Acquire) {
                        return Err(self.ended());
                    }
                    // Dropped for lagging: the files hold the rest.
                    self.live = None;
                }
            }
        }
    }
}

impl Subscription {
    fn yielded(&mut self, record: CommittedRecord) -> CommittedRecord {
        assert_eq!(record.0, self.next, "a subscription yields every SCN in order");
        self.next = record.0.next();
        record
    }

    /// Reads the next file's records, or goes live once the files hold
    /// nothing durable past `next`.
    fn catch_up(&mut self) -> Result<()> {
        let log = self.log.upgrade().ok_or(StorageError::LogClosed)?;
        let durable = log.writer.durable();
        if durable < self.next {
            let (tx, rx) = sync_channel(self.queue.records);
            let live = Live { rx, queued_bytes: Arc::default(), lagged: Arc::default() };
            let follower = Follower {
                from: self.next,
                tx,
                queued_bytes: live.queued_bytes.clone(),
                queued_bytes_max: self.queue.bytes,
                lagged: live.lagged.clone(),
            };
            if log.writer.follow(self.next, follower)? {
                self.live = Some(live);
            }
            // Otherwise more became durable meanwhile: read it first.
            return Ok(());
        }
        self.backlog.extend(log.read_file_from(self.next, durable)?);
        Ok(())
    }

    /// Why the live queue closed without lagging.
    fn ended(&self) -> StorageError {
        match self.log.upgrade().and_then(|l| l.writer.poisoned()) {
            Some(why) => StorageError::Poisoned(why),
            None => StorageError::LogClosed,
        }
    }
}

/// Asynchronous commits not yet handed to the flusher. The flusher sleeps
/// on this until one arrives rather than polling: an idle server, or one
/// whose commits all sync themselves, is not woken 200 times a second, and
/// beside analytic queries each such wake-up took a core from a query.
#[derive(Default)]
struct LazyFlushes {
    state: Mutex<LazyState>,
    wake: Condvar,
}

#[derive(Default)]
struct LazyState {
    /// An asynchronous commit was appended since the flusher last looked.
    pending: bool,
    /// The log is gone: the flusher ends.
    closed: bool,
}

impl LazyFlushes {
    /// Notes an asynchronous commit; wakes the flusher if it sleeps.
    fn request(&self) {
        let mut st = self.state.lock();
        if !st.pending {
            st.pending = true;
            self.wake.notify_one();
        }
    }

    /// Waits for a request; false once closed.
    fn wait(&self) -> bool {
        let mut st = self.state.lock();
        while !st.pending && !st.closed {
            self.wake.wait(&mut st);
        }
        st.pending = false;
        !st.closed
    }

    fn close(&self) {
        self.state.lock().closed = true;
        self.wake.notify_one();
    }
}

/// Flushes asynchronous commits in the background, a few milliseconds
/// after the first of them arrives.
fn start_flusher(log: Weak<Shared>, lazy: Arc<LazyFlushes>) {
    let spawned = std::thread::Builder::new().name("wal-flusher".into()).spawn(move || {
        while lazy.wait() {
            std::thread::sleep(LAZY_FLUSH_DELAY);
            let Some(log) = log.upgrade() else { return };
            // Errors poison the writer; committers report them.
            let _ = log.writer.flush();
        }
    });
    if let Err(e) = spawned {
        tracing::error!(
            "could not start the WAL flusher thread ({e}); asynchronous commits flush with the next synchronous one"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use rustydb_common::{Scn, TableId};

    use super::QueueLimits;
    use crate::error::StorageError;
    use crate::log::record::decode_ops;
    use crate::spec::{ColumnSpec, TableSpec};
    use crate::value::{ColumnType, Value};
    use crate::{CommitStream, Isolation, Storage, StorageOptions};

    const T: TableId = TableId(1);
    const WAIT: Duration = Duration::from_secs(5);

    fn open(dir: &std::path::Path) -> Arc<Storage> {
        // No background checkpoint removes files under a test.
        let options = StorageOptions { checkpoint_interval: None, ..StorageOptions::default() };
        Storage::open(dir, options).unwrap()
    }

    /// Creates the table (scn 1), then `n` inserts (scn 2 on).
    fn create(s: &Arc<Storage>) {
        let spec = TableSpec {
            id: T,
            columns: vec![ColumnSpec { name: "v".into(), ty: ColumnType::Int64, nullable: true }],
            indexes: vec![],
        };
        let mut txn = s.begin(Isolation::ReadCommitted);
        txn.create_table(spec).unwrap();
        txn.commit().unwrap();
    }

    fn insert(s: &Arc<Storage>, n: i64) {
        for v in 0..n {
            let mut txn = s.begin(Isolation::ReadCommitted);
            txn.insert(T, vec![vec![Value::Int64(v)].into()]).unwrap();
            txn.commit().unwrap();
        }
    }

    fn take(sub: &mut Box<dyn CommitStream>, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let (scn, body) = sub.next_timeout(WAIT).unwrap().expect("a record within the wait");
                decode_ops(&body).unwrap();
                scn.0
            })
            .collect()
    }

    #[test]
    fn records_arrive_in_scn_order_from_the_scn_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        create(&s);
        insert(&s, 4);
        let mut sub = s.subscribe(Scn(3), QueueLimits::default()).unwrap();
        assert_eq!(take(&mut sub, 3), [3, 4, 5], "from the files");
        assert_eq!(sub.next_timeout(Duration::ZERO).unwrap(), None, "nothing newer yet");
        insert(&s, 2);
        assert_eq!(take(&mut sub, 2), [6, 7], "followed live");
    }

    #[test]
    fn a_subscription_after_a_restart_reads_the_recovered_log_then_follows() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        create(&s);
        insert(&s, 3);
        drop(s);
        let s = open(dir.path());
        let mut sub = s.subscribe(Scn(2), QueueLimits::default()).unwrap();
        assert_eq!(take(&mut sub, 3), [2, 3, 4]);
        insert(&s, 1);
        assert_eq!(take(&mut sub, 1), [5]);
    }

    #[test]
    fn a_subscriber_behind_its_queue_catches_up_from_the_files() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let mut sub = s.subscribe(Scn::ZERO, QueueLimits { records: 2, bytes: 1 << 20 }).unwrap();
        assert_eq!(sub.next_timeout(Duration::ZERO).unwrap(), None, "now live, at scn 1");
        create(&s);
        insert(&s, 9);
        // The queue held 2; the writer dropped the subscriber at the 3rd
        // and the other 8 come from the file, then it is live again.
        assert_eq!(take(&mut sub, 10), (1..=10).collect::<Vec<_>>());
        insert(&s, 1);
        assert_eq!(take(&mut sub, 1), [11]);
    }

    #[test]
    fn a_byte_limit_counts_as_a_full_queue() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let mut sub = s.subscribe(Scn::ZERO, QueueLimits { records: 1000, bytes: 1 }).unwrap();
        assert_eq!(sub.next_timeout(Duration::ZERO).unwrap(), None);
        create(&s);
        insert(&s, 5);
        assert_eq!(take(&mut sub, 6), (1..=6).collect::<Vec<_>>());
    }

    #[test]
    fn an_scn_the_log_no_longer_holds_is_log_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        create(&s);
        insert(&s, 2);
        s.checkpoint().unwrap().expect("commits since the last checkpoint");
        let err = s.subscribe(Scn(2), QueueLimits::default()).map(|_| ()).unwrap_err();
        assert!(matches!(err, StorageError::LogTruncated { requested: Scn(2), oldest: Scn(4) }), "{err}");
        assert_eq!((err.kind(), err.sqlstate()), (rustydb_common::ErrorKind::InvalidInput, "55000"));
        let mut sub = s.subscribe(Scn(4), QueueLimits::default()).unwrap();
        insert(&s, 1);
        assert_eq!(take(&mut sub, 1), [4], "from the first scn after the checkpoint");
    }

    #[test]
    fn a_lagging_subscriber_whose_files_a_checkpoint_removed_gets_log_truncated() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let mut sub = s.subscribe(Scn::ZERO, QueueLimits { records: 1, bytes: 1 << 20 }).unwrap();
        assert_eq!(sub.next_timeout(Duration::ZERO).unwrap(), None);
        create(&s);
        insert(&s, 4);
        s.checkpoint().unwrap().expect("commits since the last checkpoint");
        assert_eq!(take(&mut sub, 1), [1], "what the queue held");
        let err = sub.next_timeout(WAIT).unwrap_err();
        assert!(matches!(err, StorageError::LogTruncated { requested: Scn(2), oldest: Scn(6) }), "{err}");
    }

    #[test]
    fn a_subscription_ends_when_its_storage_closes() {
        let dir = tempfile::tempdir().unwrap();
        let s = open(dir.path());
        let mut sub = s.subscribe(Scn::ZERO, QueueLimits::default()).unwrap();
        assert_eq!(sub.next_timeout(Duration::ZERO).unwrap(), None);
        drop(s);
        assert!(matches!(sub.next_timeout(WAIT), Err(StorageError::LogClosed)));
    }
}
