//! The I/O seam: every byte storage reads or writes goes through [`Vfs`], so
//! tests can inject failed writes and fsyncs (see [`FaultyVfs`]) and check
//! that storage poisons itself instead of carrying on.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// An append-only file handle.
pub trait LogFile: Send {
    /// Appends all of `buf` at the end of the file.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (fdatasync).
    fn sync(&mut self) -> io::Result<()>;
}

/// File system operations storage needs.
pub trait Vfs: Send + Sync {
    fn create_dir_all(&self, path: &Path) -> io::Result<()>;
    /// Names of the entries of a directory, sorted.
    fn list(&self, dir: &Path) -> io::Result<Vec<PathBuf>>;
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
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

struct OsLogFile(File);

impl LogFile for OsLogFile {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
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
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(path)?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(OsLogFile(f)))
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
    fn truncate(&self, path: &Path, len: u64) -> io::Result<()> {
        OsVfs.truncate(path, len)
    }
    fn open_append(&self, path: &Path) -> io::Result<Box<dyn LogFile>> {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(Box::new(FaultyLogFile { inner: OsLogFile(f), state: self.state.clone() }))
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
