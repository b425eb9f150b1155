//! Write-ahead log: framing, recovery reading, and group commit.
//!
//! Layout of a log file (all integers little-endian; see docs/formats/wal.md):
//!
//! ```text
//! file header (16 bytes): magic "RUSTYWAL" | u32 format version (1) | u32 zero
//! record:                 u32 body length | u32 crc32c(scn ++ body) | u64 scn | body
//! ```
//!
//! One record is one commit; its body is the redo of the transaction (see
//! `log/record.rs`). SCNs in a log are consecutive. Recovery reads records until the
//! first one that is incomplete or fails its checksum and cuts the file there:
//! such a tail was never acknowledged, because a commit returns only after the
//! fsync that covers its whole record.
//!
//! Group commit: committers append their framed record to a shared buffer in
//! SCN order (under the commit lock) and then wait for durability. The first
//! waiter that finds no flush in progress becomes the leader: it takes the whole
//! buffer, writes and fsyncs it with no lock held, and wakes everyone whose SCN
//! is now durable. One fsync thus covers every commit that arrived meanwhile.
//! A failed write or fsync poisons the log: what was written may or may not be
//! on disk, so every later commit fails until restart re-reads the file.
//!
//! After each successful fsync the leader also hands the records it made
//! durable to the log's live subscribers (`log/commit_log.rs`), without
//! blocking: a subscriber whose bounded queue is full is dropped and
//! marked lagged, and its subscription catches up from the files.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::TrySendError;

use bytes::Bytes;

use parking_lot::{Condvar, Mutex};
use rustydb_common::Scn;
use rustydb_common::limits::WAL_RECORD_BYTES_MAX;

use crate::error::{Result, StorageError};
use crate::io::{LogFile, Vfs};

/// First bytes of every log file.
pub const WAL_MAGIC: &[u8; 8] = b"RUSTYWAL";
/// Format version written in the header.
pub const WAL_FORMAT_VERSION: u32 = 1;
/// Header length in bytes.
pub const WAL_HEADER_BYTES: usize = 16;
/// Record frame length before the body.
pub const RECORD_HEADER_BYTES: usize = 16;

/// The bytes of an empty log file: just the header.
pub fn file_header() -> Vec<u8> {
    let mut h = Vec::with_capacity(WAL_HEADER_BYTES);
    h.extend_from_slice(WAL_MAGIC);
    h.extend_from_slice(&WAL_FORMAT_VERSION.to_le_bytes());
    h.extend_from_slice(&0u32.to_le_bytes());
    h
}

fn checksum(scn: Scn, body: &[u8]) -> u32 {
    crc32c::crc32c_append(crc32c::crc32c(&scn.0.to_le_bytes()), body)
}

/// Frames one record: header then body.
pub fn encode_record(scn: Scn, body: &[u8], out: &mut Vec<u8>) -> Result<()> {
    frame_record(scn, out, |out| out.extend_from_slice(body))
}

/// Frames the record whose body `encode` appends to `out`: the body is
/// written in place and the header filled in after, so a large commit is
/// not encoded into a buffer of its own and then copied. On error (the
/// body is over the limit) `out` is left as it was.
fn frame_record(scn: Scn, out: &mut Vec<u8>, encode: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
    let start = out.len();
    out.extend_from_slice(&[0; RECORD_HEADER_BYTES]);
    encode(out);
    let body_len = out.len() - start - RECORD_HEADER_BYTES;
    if body_len > WAL_RECORD_BYTES_MAX {
        out.truncate(start);
        return Err(StorageError::LimitExceeded(format!(
            "transaction redo of {body_len} bytes exceeds the WAL record limit of {WAL_RECORD_BYTES_MAX} bytes"
        )));
    }
    let len = u32::try_from(body_len).expect("record limit is below 4 GiB");
    let crc = checksum(scn, &out[start + RECORD_HEADER_BYTES..]);
    let header = &mut out[start..start + RECORD_HEADER_BYTES];
    header[0..4].copy_from_slice(&len.to_le_bytes());
    header[4..8].copy_from_slice(&crc.to_le_bytes());
    header[8..16].copy_from_slice(&scn.0.to_le_bytes());
    Ok(())
}

/// What recovery found in one log file.
#[derive(Debug)]
pub struct LogContents<'a> {
    /// Valid records in order.
    pub records: Vec<(Scn, &'a [u8])>,
    /// Length of the valid prefix; anything after it is a torn or corrupt tail.
    pub valid_bytes: usize,
}

/// Parses a log file, stopping at the first incomplete or corrupt record.
pub fn read_log(bytes: &[u8]) -> Result<LogContents<'_>> {
    // A crash while creating the file: nothing was ever acknowledged in it.
    // It may be short, or all zeros when the header's write first extended
    // the file (io.rs preallocates) and the header itself never landed.
    if bytes.len() < WAL_HEADER_BYTES || bytes.iter().all(|&b| b == 0) {
        return Ok(LogContents { records: Vec::new(), valid_bytes: 0 });
    }
    if &bytes[..8] != WAL_MAGIC {
        return Err(StorageError::Corruption("log file does not start with the WAL magic".into()));
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != WAL_FORMAT_VERSION {
        return Err(StorageError::Corruption(format!("unknown WAL format version {version}")));
    }
    let mut pos = WAL_HEADER_BYTES;
    let mut records = Vec::new();
    let mut last: Option<Scn> = None;
    while bytes.len() - pos >= RECORD_HEADER_BYTES {
        let h = &bytes[pos..pos + RECORD_HEADER_BYTES];
        let len = u32::from_le_bytes(h[0..4].try_into().expect("4 bytes")) as usize;
        let crc = u32::from_le_bytes(h[4..8].try_into().expect("4 bytes"));
        let scn = Scn(u64::from_le_bytes(h[8..16].try_into().expect("8 bytes")));
        let body_start = pos + RECORD_HEADER_BYTES;
        if len > WAL_RECORD_BYTES_MAX || bytes.len() - body_start < len {
            break;
        }
        let body = &bytes[body_start..body_start + len];
        if checksum(scn, body) != crc {
            break;
        }
        if let Some(prev) = last
            && scn != prev.next()
        {
            // A valid checksum over a wrong SCN is not a torn write: refuse.
            return Err(StorageError::Corruption(format!("log jumps from scn {prev} to {scn}")));
        }
        last = Some(scn);
        records.push((scn, body));
        pos = body_start + len;
    }
    Ok(LogContents { records, valid_bytes: pos })
}

/// Capacity a flushed buffer may keep for reuse. Growing a buffer again
/// after every flush touches fresh pages, which on some machines costs
/// as much as writing the bytes.
const SPARE_BUFFER_BYTES_MAX: usize = 64 * 1024 * 1024;

struct WriterState {
    /// Framed records not yet handed to the file.
    buffer: Vec<u8>,
    /// The buffer last flushed, emptied, kept to be the next `buffer`.
    spare: Vec<u8>,
    /// Highest SCN in `buffer` (or already written).
    buffered: Scn,
    /// Highest SCN known durable.
    durable: Scn,
    /// A leader is writing and syncing right now.
    flushing: bool,
    /// Set after a failed write or sync; never cleared.
    poisoned: Option<String>,
    /// The file; taken by the leader while it flushes.
    file: Option<Box<dyn LogFile>>,
    /// Where `file` is, and how many bytes it holds or will once flushed.
    path: PathBuf,
    file_bytes: u64,
    /// Subscribers following new records (`log/commit_log.rs`), handed each
    /// record once it is durable.
    followers: Vec<Follower>,
}

/// A subscriber's live queue, as the writer sees it.
pub(crate) struct Follower {
    /// Records below this are not sent (it asked for a later start).
    pub(crate) from: Scn,
    pub(crate) tx: std::sync::mpsc::SyncSender<(Scn, Bytes)>,
    /// Body bytes sent and not yet received; the receiver subtracts.
    pub(crate) queued_bytes: Arc<AtomicUsize>,
    pub(crate) queued_bytes_max: usize,
    /// Set when a record found the queue full: the follower was dropped
    /// and its subscription goes back to reading the files.
    pub(crate) lagged: Arc<AtomicBool>,
}

impl Follower {
    /// Offers one record; false when the follower is to be dropped (its
    /// queue is full, marking it lagged, or its subscription is gone).
    fn offer(&self, scn: Scn, body: &Bytes) -> bool {
        if scn < self.from {
            return true;
        }
        let queued = self.queued_bytes.load(Ordering::Acquire);
        // An empty queue takes any record, so one over the byte limit
        // still goes through live.
        if queued > 0 && queued + body.len() > self.queued_bytes_max {
            self.lagged.store(true, Ordering::Release);
            return false;
        }
        self.queued_bytes.fetch_add(body.len(), Ordering::AcqRel);
        match self.tx.try_send((scn, body.clone())) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.queued_bytes.fetch_sub(body.len(), Ordering::AcqRel);
                self.lagged.store(true, Ordering::Release);
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

/// Hands every record of a flushed batch to the followers, in SCN order.
/// Each body is copied once and shared by all of them.
fn deliver(followers: &mut Vec<Follower>, batch: &[u8]) {
    if followers.is_empty() {
        return;
    }
    let mut pos = 0;
    while pos + RECORD_HEADER_BYTES <= batch.len() && !followers.is_empty() {
        let h = &batch[pos..pos + RECORD_HEADER_BYTES];
        let len = u32::from_le_bytes(h[0..4].try_into().expect("4 bytes")) as usize;
        let scn = Scn(u64::from_le_bytes(h[8..16].try_into().expect("8 bytes")));
        let start = pos + RECORD_HEADER_BYTES;
        debug_assert!(start + len <= batch.len(), "the batch holds whole frames");
        let body = Bytes::copy_from_slice(&batch[start..start + len]);
        followers.retain(|f| f.offer(scn, &body));
        pos = start + len;
    }
}

/// The appending side of the log, shared by all committers.
pub struct WalWriter {
    state: Mutex<WriterState>,
    flushed: Condvar,
}

impl WalWriter {
    /// Opens the log file at `path` for appending after `last_scn`; writes the
    /// header if the file is new or was cut to nothing.
    pub fn open(vfs: &Arc<dyn Vfs>, path: &Path, existing_bytes: usize, last_scn: Scn) -> Result<Self> {
        let file = open_file(vfs, path, existing_bytes)?;
        Ok(WalWriter {
            state: Mutex::new(WriterState {
                buffer: Vec::new(),
                spare: Vec::new(),
                buffered: last_scn,
                durable: last_scn,
                flushing: false,
                poisoned: None,
                file: Some(file),
                path: path.to_owned(),
                file_bytes: existing_bytes.max(WAL_HEADER_BYTES) as u64,
                followers: Vec::new(),
            }),
            flushed: Condvar::new(),
        })
    }

    /// Bytes in the current log file, counting buffered records.
    pub fn file_bytes(&self) -> u64 {
        self.state.lock().file_bytes
    }

    /// Refuses every later write: memory no longer matches the log, and
    /// only a restart (replaying the log) makes them agree again.
    pub fn poison(&self, why: String) {
        let mut st = self.state.lock();
        if st.poisoned.is_none() {
            tracing::error!("{why}; storage is now read-only until restart");
            st.poisoned = Some(why);
        }
        // Dropped senders end the subscriptions, which then report it.
        st.followers.clear();
        self.flushed.notify_all();
    }

    /// Why the log refuses writes, once it does.
    pub(crate) fn poisoned(&self) -> Option<String> {
        self.state.lock().poisoned.clone()
    }

    /// Adds `follower` if every record before `next` is durable and none
    /// after: it then gets each record from `next` on as it becomes
    /// durable. False when later records are durable already (the caller
    /// reads them from the files first, then asks again).
    pub(crate) fn follow(&self, next: Scn, follower: Follower) -> Result<bool> {
        let mut st = self.state.lock();
        if let Some(why) = &st.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        if st.durable >= next {
            return Ok(false);
        }
        // A flush in progress delivers its batch (durable+1 on) when it
        // returns, to this follower too: nothing is skipped.
        st.followers.push(follower);
        Ok(true)
    }

    /// Continues the log in a new file at `path` (a checkpoint's cut): makes
    /// everything buffered durable in the old file first. Callers hold the
    /// commit lock, so nothing is appended meanwhile.
    pub fn rotate(&self, vfs: &Arc<dyn Vfs>, path: &Path) -> Result<()> {
        let mut st = self.state.lock();
        while st.flushing {
            self.flushed.wait(&mut st);
        }
        if st.durable < st.buffered && st.poisoned.is_none() {
            self.flush_locked(&mut st);
        }
        if let Some(why) = &st.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        if st.path == path {
            return Ok(());
        }
        let file = st.file.as_mut().expect("no flush is running");
        file.seal().map_err(|e| StorageError::io(format!("sealing {}", st.path.display()), e))?;
        st.file = Some(open_file(vfs, path, 0)?);
        st.path = path.to_owned();
        st.file_bytes = WAL_HEADER_BYTES as u64;
        Ok(())
    }

    /// The current log file.
    pub fn path(&self) -> PathBuf {
        self.state.lock().path.clone()
    }

    /// Adds the record whose body `encode` writes, framed in place in the
    /// buffer. Callers append in SCN order.
    pub fn append_with(&self, scn: Scn, encode: impl FnOnce(&mut Vec<u8>)) -> Result<()> {
        let mut st = self.state.lock();
        if let Some(why) = &st.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        assert_eq!(scn, st.buffered.next(), "WAL records must be appended in SCN order");
        let before = st.buffer.len();
        frame_record(scn, &mut st.buffer, encode)?;
        st.file_bytes += (st.buffer.len() - before) as u64;
        st.buffered = scn;
        Ok(())
    }

    /// Highest SCN known durable.
    pub fn durable(&self) -> Scn {
        self.state.lock().durable
    }

    /// Returns once `scn` is durable, flushing as leader if nobody is.
    pub fn wait_durable(&self, scn: Scn) -> Result<()> {
        let mut st = self.state.lock();
        loop {
            if let Some(why) = &st.poisoned {
                return Err(StorageError::Poisoned(why.clone()));
            }
            if st.durable >= scn {
                return Ok(());
            }
            if st.flushing {
                self.flushed.wait(&mut st);
                continue;
            }
            self.flush_locked(&mut st);
        }
    }

    /// Flushes whatever is buffered (used by the background flusher for
    /// asynchronous commits).
    pub fn flush(&self) -> Result<()> {
        let mut st = self.state.lock();
        while st.flushing {
            self.flushed.wait(&mut st);
        }
        if let Some(why) = &st.poisoned {
            return Err(StorageError::Poisoned(why.clone()));
        }
        if st.durable < st.buffered {
            self.flush_locked(&mut st);
        }
        match &st.poisoned {
            Some(why) => Err(StorageError::Poisoned(why.clone())),
            None => Ok(()),
        }
    }

    fn flush_locked(&self, st: &mut parking_lot::MutexGuard<'_, WriterState>) {
        let spare = std::mem::take(&mut st.spare);
        let mut batch = std::mem::replace(&mut st.buffer, spare);
        let upto = st.buffered;
        let mut file = st.file.take().expect("only the flushing leader takes the file");
        let path = st.path.clone();
        st.flushing = true;
        let result = parking_lot::MutexGuard::unlocked(st, || {
            file.append(&batch)
                .map_err(|e| format!("write to {} failed: {e}", path.display()))
                .and_then(|()| file.sync().map_err(|e| format!("fsync of {} failed: {e}", path.display())))
                .map(|()| file)
        });
        st.flushing = false;
        match &result {
            Ok(_) => deliver(&mut st.followers, &batch),
            Err(_) => st.followers.clear(),
        }
        if batch.capacity() <= SPARE_BUFFER_BYTES_MAX {
            batch.clear();
            st.spare = batch;
        }
        match result {
            Ok(file) => {
                st.file = Some(file);
                st.durable = upto;
            }
            Err(why) => {
                tracing::error!("{why}; storage is now read-only until restart");
                st.poisoned = Some(why);
            }
        }
        self.flushed.notify_all();
    }
}

/// Opens a log file for appending; writes and syncs the header if it is new
/// (or was cut to nothing), and syncs the directory so the file stays.
fn open_file(vfs: &Arc<dyn Vfs>, path: &Path, existing_bytes: usize) -> Result<Box<dyn LogFile>> {
    let mut file = vfs.open_append(path).map_err(|e| StorageError::io(format!("opening {}", path.display()), e))?;
    if existing_bytes == 0 {
        file.append(&file_header()).map_err(|e| StorageError::io("writing the WAL header", e))?;
        file.sync().map_err(|e| StorageError::io("syncing the WAL header", e))?;
        if let Some(dir) = path.parent() {
            vfs.sync_dir(dir).map_err(|e| StorageError::io("syncing the WAL directory", e))?;
        }
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_with(records: &[(u64, &[u8])]) -> Vec<u8> {
        let mut buf = file_header();
        for (scn, body) in records {
            encode_record(Scn(*scn), body, &mut buf).unwrap();
        }
        buf
    }

    #[test]
    fn reads_back_records() {
        let buf = log_with(&[(1, b"a"), (2, b"bc")]);
        let log = read_log(&buf).unwrap();
        assert_eq!(log.records, vec![(Scn(1), &b"a"[..]), (Scn(2), &b"bc"[..])]);
        assert_eq!(log.valid_bytes, buf.len());
    }

    #[test]
    fn every_cut_of_the_last_record_is_dropped() {
        let full = log_with(&[(1, b"first"), (2, b"second record")]);
        let first_end = log_with(&[(1, b"first")]).len();
        for cut in first_end..full.len() {
            let log = read_log(&full[..cut]).unwrap();
            assert_eq!(log.records.len(), 1, "cut at {cut}");
            assert_eq!(log.valid_bytes, first_end);
        }
    }

    #[test]
    fn every_flipped_byte_of_the_last_record_is_dropped() {
        let full = log_with(&[(1, b"first"), (2, b"second record")]);
        let first_end = log_with(&[(1, b"first")]).len();
        for at in first_end..full.len() {
            let mut bad = full.clone();
            bad[at] ^= 0x41;
            let log = read_log(&bad).unwrap();
            // Flipping the length may make the frame look longer than the file
            // or fail the checksum; either way only the first record survives.
            assert_eq!(log.records.len(), 1, "flip at {at}");
        }
    }

    #[test]
    fn a_file_of_zeros_was_never_written() {
        let log = read_log(&[0u8; 64 * 1024]).unwrap();
        assert_eq!((log.records.len(), log.valid_bytes), (0, 0));
        // Zeros where the header should be, then anything: corruption.
        let mut buf = vec![0u8; 64 * 1024];
        buf[WAL_HEADER_BYTES + 3] = 1;
        assert!(matches!(read_log(&buf), Err(StorageError::Corruption(_))));
    }

    #[test]
    fn scn_gap_with_valid_checksum_is_corruption() {
        let buf = log_with(&[(1, b"a"), (3, b"b")]);
        assert!(matches!(read_log(&buf), Err(StorageError::Corruption(_))));
    }
}
