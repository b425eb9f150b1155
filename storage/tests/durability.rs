//! Recovery after restarts, torn and corrupt tails, fsync failure, group commit.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use rustydb_storage::io::{FaultState, FaultyVfs};
use rustydb_storage::{Isolation, Storage, StorageError, StorageOptions};

use crate::{contents, create_kv, row};

fn open(dir: &std::path::Path) -> Arc<Storage> {
    Storage::open(dir, StorageOptions::default()).unwrap()
}

fn wal_file(dir: &std::path::Path) -> std::path::PathBuf {
    let mut files: Vec<_> = std::fs::read_dir(dir.join("wal")).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files.pop().unwrap()
}

#[test]
fn committed_rows_survive_restart_and_rolled_back_do_not() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        create_kv(&s);
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(1, 10), row(2, 20)]).unwrap();
        t.commit().unwrap();
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(3, 30)]).unwrap();
        t.rollback();
        let mut t = s.begin(Isolation::ReadCommitted);
        let id = crate::row_id(&t.view(), 1).unwrap();
        let snap = t.snapshot();
        t.update(crate::T, id, row(1, 11), snap).unwrap();
        t.commit().unwrap();
    }
    let s = open(dir.path());
    assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 11), (2, 20)]);
    // New commits continue the SCN sequence after recovery.
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(crate::T, vec![row(4, 40)]).unwrap();
    t.commit().unwrap();
    drop(s);
    let s = open(dir.path());
    assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()).len(), 3);
}

/// Builds a database whose last WAL record is one insert of (9, 90).
fn database_with_last_record(dir: &std::path::Path) -> (Vec<u8>, usize) {
    let s = open(dir);
    create_kv(&s);
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(crate::T, vec![row(1, 10)]).unwrap();
    t.commit().unwrap();
    let before = wal_bytes(dir).len();
    let mut t = s.begin(Isolation::ReadCommitted);
    t.insert(crate::T, vec![row(9, 90), row(8, 80)]).unwrap();
    t.commit().unwrap();
    drop(s);
    (wal_bytes(dir), before)
}

/// The records of the WAL file, without the zeros it was extended by.
fn wal_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut bytes = std::fs::read(wal_file(dir)).unwrap();
    let valid = rustydb_storage::wal::read_log(&bytes).unwrap().valid_bytes;
    assert!(bytes[valid..].iter().all(|&b| b == 0), "only zeros follow the records");
    bytes.truncate(valid);
    bytes
}

/// A fresh data directory whose only WAL file `name` holds `bytes`.
fn database_with_wal(name: &std::ffi::OsStr, bytes: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("wal")).unwrap();
    std::fs::write(dir.path().join("wal").join(name), bytes).unwrap();
    dir
}

#[test]
fn a_torn_last_record_is_cut_at_every_offset() {
    let src = tempfile::tempdir().unwrap();
    let (full, last_start) = database_with_last_record(src.path());
    let name = wal_file(src.path()).file_name().unwrap().to_owned();
    for cut in last_start..full.len() {
        let dir = database_with_wal(&name, &full[..cut]);
        let s = open(dir.path());
        // The torn transaction is entirely absent; everything before it is there.
        assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 10)], "cut at {cut}");
        // The log was cut, so new commits append after the last good record.
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(5, 50)]).unwrap();
        t.commit().unwrap();
        drop(s);
        let s = open(dir.path());
        assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 10), (5, 50)], "cut at {cut}");
    }
}

#[test]
fn a_corrupt_byte_in_the_last_record_drops_only_that_record() {
    let src = tempfile::tempdir().unwrap();
    let (full, last_start) = database_with_last_record(src.path());
    let name = wal_file(src.path()).file_name().unwrap().to_owned();
    for at in last_start..full.len() {
        let mut bad = full.clone();
        bad[at] ^= 0x5a;
        let dir = database_with_wal(&name, &bad);
        let s = open(dir.path());
        assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 10)], "flip at {at}");
    }
}

/// Storage over a file system that fails on demand, with the kv table.
fn open_faulty(dir: &std::path::Path) -> (Arc<Storage>, Arc<FaultState>) {
    let vfs = FaultyVfs::new();
    let faults = vfs.state();
    let s = Storage::open(dir, StorageOptions { vfs: Arc::new(vfs), ..StorageOptions::default() }).unwrap();
    create_kv(&s);
    (s, faults)
}

#[test]
fn a_failed_fsync_poisons_storage_and_restart_recovers() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, faults) = open_faulty(dir.path());
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(1, 10)]).unwrap();
        t.commit().unwrap();
        faults.fail_sync.store(true, Ordering::SeqCst);
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(2, 20)]).unwrap();
        assert!(matches!(t.commit(), Err(StorageError::Poisoned(_))));
        // Even with the disk healthy again, the poisoned log refuses commits.
        faults.fail_sync.store(false, Ordering::SeqCst);
        let mut t = s.begin(Isolation::ReadCommitted);
        t.insert(crate::T, vec![row(3, 30)]).unwrap();
        assert!(matches!(t.commit(), Err(StorageError::Poisoned(_))));
        // Nobody ever saw the unacknowledged commit.
        assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 10)]);
    }
    let s = open(dir.path());
    let rows = contents(&s.begin(Isolation::ReadCommitted).view());
    // The write itself reached the file before the failed fsync, so the
    // unacknowledged commit may be there or not, but never half.
    assert!(rows == vec![(1, 10)] || rows == vec![(1, 10), (2, 20)], "{rows:?}");
}

#[test]
fn concurrent_commits_share_fsyncs() {
    let dir = tempfile::tempdir().unwrap();
    let (s, faults) = open_faulty(dir.path());
    let before = faults.syncs.load(Ordering::SeqCst);
    let threads = 8;
    let per_thread = 50;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..per_thread {
                    let mut txn = s.begin(Isolation::ReadCommitted);
                    txn.insert(crate::T, vec![row(t * 1000 + i, i)]).unwrap();
                    txn.commit().unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let syncs = faults.syncs.load(Ordering::SeqCst) - before;
    let commits = (threads * per_thread) as u64;
    assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()).len() as u64, commits);
    assert!(syncs < commits, "{syncs} fsyncs for {commits} commits: no group commit");
}

#[test]
fn asynchronous_commits_are_visible_at_once_and_durable_after_flush() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = open(dir.path());
        create_kv(&s);
        for i in 0..100 {
            let mut t = s.begin(Isolation::ReadCommitted);
            t.set_synchronous_commit(false);
            t.insert(crate::T, vec![row(i, i)]).unwrap();
            t.commit().unwrap();
            assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()).len() as i64, i + 1);
        }
        s.flush().unwrap();
    }
    let s = open(dir.path());
    assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()).len(), 100);
}

/// The flusher sleeps until an asynchronous commit arrives: it syncs for
/// one (without any later synchronous commit or explicit flush), and it
/// does not sync while nothing asynchronous commits.
#[test]
fn the_flusher_syncs_asynchronous_commits_and_only_those() {
    let dir = tempfile::tempdir().unwrap();
    let (s, faults) = open_faulty(dir.path());
    let syncs = || faults.syncs.load(Ordering::SeqCst);
    let before = syncs();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert_eq!(syncs(), before, "the flusher synced with no asynchronous commit");

    let mut t = s.begin(Isolation::ReadCommitted);
    t.set_synchronous_commit(false);
    t.insert(crate::T, vec![row(1, 1)]).unwrap();
    t.commit().unwrap();
    // A bound for a hang, not a speed check: the flusher waits 5 ms.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while syncs() == before {
        assert!(std::time::Instant::now() < deadline, "the asynchronous commit was never synced");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    drop(s);
    let s = open(dir.path());
    assert_eq!(contents(&s.begin(Isolation::ReadCommitted).view()), vec![(1, 1)]);
}

#[test]
fn sequences_never_repeat_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let s = open(dir.path());
        for _ in 0..40 {
            seen.push(s.next_sequence_value(77, 1).unwrap());
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), seen.len());
    assert_eq!(seen[..40], (1..=40).collect::<Vec<_>>()[..]);
}
