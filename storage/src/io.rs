//! The I/O seam: every byte storage reads or writes in the data directory
//! goes through [`Vfs`] (segments in an object store go through
//! `segment::store::ObjectSegments` instead), so tests can inject failed
//! writes and fsyncs (see [`FaultyVfs`]) and check that storage poisons
//! itself instead of carrying on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An append-only file handle.
pub trait LogFile: Send {
    /// Appends all of `buf` after what was appended before.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
    /// Cuts the file to what was appended and syncs it: the log goes on
    /// in another file, and only the last file may end in anything else.
    fn seal(&mut self) -> io::Result<()>;
}

/// A file read at any offset: segment files are read a column at a time.
pub trait ReadAt: Send + Sync {
    /// Length of the file when it was opened.
    fn size(&self) -> u64;
    /// Fills `buf` from `offset`; fails at the end of the file.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Reads each of `ranges` (all within the file). One at a time here;
    /// an object store fetches them together, merging those that lie close.
    fn read_ranges(&self, ranges: &[std::ops::Range<u64>]) -> io::Result<Vec<bytes::Bytes>> {
        ranges
            .iter()
            .map(|r| {
                let mut buf = vec![0; usize::try_from(r.end - r.start).map_err(io::Error::other)?];
                self.read_exact_at(&mut buf, r.start)?;
                Ok(buf.into())
            })
            .collect()
    }
}

/// File system operations storage needs.
pub trait Vfs: Send + Sync {
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Opens a file for reads at any offset.
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadAt>>;
    /// Cuts a file to `len` bytes and syncs it.
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()>;
    /// Opens (creating if missing) a file for appending.
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>>;
    /// Syncs a directory so a created file's entry is durable.
    fn sync_dir(&self, dir: &Path) -> io::Result<()>;
    /// Creates (or replaces) a file with `bytes` and syncs it.
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()>;
    /// Renames a file, replacing `to` atomically.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;
    /// Removes a file.
    fn remove(&self, path: &Path) -> io::Result<()>;
}

/// The real file system.
#[derive(Debug, Default)]
pub struct OsVfs;

/// Most bytes of zeros a log file is extended by ahead of its records; a
/// young file grows by its own length (from 64 KiB), so a database that
/// commits little does not write megabytes of zeros.
const LOG_PREALLOCATE_BYTES: u64 = 4 * 1024 * 1024;
const LOG_PREALLOCATE_MIN_BYTES: u64 = 64 * 1024;

/// A log file that is extended with written zeros ahead of its records,
/// as PostgreSQL does with its WAL segments: an fdatasync after writing
/// into space the file already has flushes just the data, while one after
/// growing the file must also commit the new size to the file system's
/// journal, which here made every commit's fsync about twice as slow.
/// Recovery reads the zeros as the end of the log (a zero frame never
/// passes its checksum) and cuts them off.
struct OsLogFile {
    file: File,
    /// End of what was appended.
    end: u64,
    /// Length of the file (zeros after `end`).
    len: u64,
}

impl OsLogFile {
    fn open(path: &Path) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).write(true).truncate(false).open(path)?;
        let end = file.metadata()?.len();
        Ok(OsLogFile { file, end, len: end })
    }
}

impl LogFile for OsLogFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let needed = self.end + buf.len() as u64;
        // A write that fills a whole extension's worth grows the file
        // itself: zeros first would write it twice.
        if needed > self.len && (buf.len() as u64) < LOG_PREALLOCATE_BYTES {
            let step = self.len.clamp(LOG_PREALLOCATE_MIN_BYTES, LOG_PREALLOCATE_BYTES);
            let zeros = vec![0u8; (needed + step - self.len) as usize];
            self.file.write_all_at(&zeros, self.len)?;
            self.len += zeros.len() as u64;
        }
        self.file.write_all_at(buf, self.end)?;
        self.end = needed;
        self.len = self.len.max(needed);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
    fn seal(&mut self) -> io::Result<()> {
        self.file.set_len(self.end)?;
        self.len = self.end;
        self.file.sync_all()
    }
}

struct OsReadFile {
    file: File,
    size: u64,
}

impl ReadAt for OsReadFile {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }
}

impl Vfs for OsVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        std::fs::create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            out.push(entry?.path());
        }
        out.sort();
        Ok(out)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadAt>> {
        let file = File::open(path)?;
        let size = file.metadata()?.len();
        Ok(Arc::new(OsReadFile { file, size }))
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(OsLogFile::open(path)?))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        File::open(dir)?.sync_all()
    }
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        let mut f = File::create(path)?;
        f.write_all(bytes)?;
        f.sync_all()
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        std::fs::rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }
}

/// Wraps [`OsVfs`] and fails writes or syncs on demand, for tests.
#[derive(Debug, Default)]
pub struct FaultyVfs {
    state: Arc<FaultState>,
}

/// Shared switches of a [`FaultyVfs`].
#[derive(Debug, Default)]
pub struct FaultState {
    /// Fail every sync from now on.
    pub fail_sync: AtomicBool,
    /// Fail every append from now on.
    pub fail_append: AtomicBool,
    /// Fail every whole-file write and rename (checkpoints) from now on.
    pub fail_write: AtomicBool,
    /// Fail the write of a file whose name contains this text (once set).
    pub fail_write_matching: parking_lot::Mutex<Option<String>>,
    /// Fail every read of a file opened by `open_read` from now on.
    pub fail_read: AtomicBool,
    /// Number of syncs that succeeded.
    pub syncs: AtomicU64,
}

impl FaultyVfs {
    pub fn new() -> Self {
        Self::default()
    }
    /// The switches, to flip from the test.
    pub fn state(&self) -> Arc<FaultState> {
        self.state.clone()
    }
}

struct FaultyLogFile {
    inner: OsLogFile,
    state: Arc<FaultState>,
}

impl LogFile for FaultyLogFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.state.fail_append.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected append failure"));
        }
        self.inner.append(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        if self.state.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.state.syncs.fetch_add(1, Ordering::SeqCst);
        self.inner.sync()
    }
    fn seal(&mut self) -> io::Result<()> {
        if self.state.fail_sync.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected fsync failure"));
        }
        self.inner.seal()
    }
}

struct FaultyReadFile {
    inner: Arc<dyn ReadAt>,
    state: Arc<FaultState>,
}

impl ReadAt for FaultyReadFile {
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if self.state.fail_read.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected read failure"));
        }
        self.inner.read_exact_at(buf, offset)
    }
}

impl Vfs for FaultyVfs {
    fn create_dir_all(&self, path: &Path) -> io::Result<()> {
        OsVfs.create_dir_all(path)
    }
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>> {
        OsVfs.list(dir)
    }
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        OsVfs.read(path)
    }
    fn open_read(&self, path: &Path) -> io::Result<Arc<dyn ReadAt>> {
        Ok(Arc::new(FaultyReadFile { inner: OsVfs.open_read(path)?, state: self.state.clone() }))
    }
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        OsVfs.truncate(path, len)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        Ok(Box::new(FaultyLogFile { inner: OsLogFile::open(path)?, state: self.state.clone() }))
    }
    fn sync_dir(&self, dir: &Path) -> io::Result<()> {
        OsVfs.sync_dir(dir)
    }
    fn write_file(&self, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.check_write(path)?;
        OsVfs.write_file(path, bytes)
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.check_write(to)?;
        OsVfs.rename(from, to)
    }
    fn remove(&self, path: &Path) -> io::Result<()> {
        OsVfs.remove(path)
    }
}

impl FaultyVfs {
    fn check_write(&self, path: &Path) -> io::Result<()> {
        let matching = self.state.fail_write_matching.lock();
        let name = path.to_string_lossy();
        if self.state.fail_write.load(Ordering::SeqCst) || matching.as_deref().is_some_and(|m| name.contains(m)) {
            return Err(io::Error::other(format!("injected write failure for {name}")));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_file_is_extended_with_zeros_ahead_and_sealed_to_its_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.wal");
        let mut f = OsVfs.open_append(&path).unwrap();
        f.append(b"abc").unwrap();
        f.append(b"de").unwrap();
        f.sync().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, 3 + LOG_PREALLOCATE_MIN_BYTES, "the first append extends");
        assert_eq!(&bytes[..5], b"abcde");
        assert!(bytes[5..].iter().all(|&b| b == 0));
        // A write as large as an extension grows the file by itself alone.
        let big = vec![7u8; LOG_PREALLOCATE_BYTES as usize];
        f.append(&big).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 5 + LOG_PREALLOCATE_BYTES);
        f.seal().unwrap();
        drop(f);
        // Reopened, it appends after what it holds.
        let mut f = OsVfs.open_append(&path).unwrap();
        f.append(b"f").unwrap();
        f.seal().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, 6 + LOG_PREALLOCATE_BYTES);
        assert_eq!((&bytes[..5], bytes[5], bytes[bytes.len() - 1]), (&b"abcde"[..], 7, b'f'));
    }
}
