//! Where segment and delete vector files live: the data directory by
//! default, or any `object_store` store.
//!
//! The log and the manifest always stay in the data directory (they need
//! appends, fsync and an atomic rename); the files a checkpoint writes once
//! and never changes can live anywhere that stores whole objects. Storage
//! is synchronous, so [`ObjectSegments`] runs each `object_store` call on a
//! small runtime of its own and waits for it: that works from any thread,
//! a tokio worker's included, without entering a runtime there.

use std::io;
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::io::{ReadAt, Vfs};

/// A flat namespace of immutable files, named by the checkpoint.
pub trait SegmentStore: Send + Sync {
    /// Stores `bytes` as `name`, replacing any file of that name.
    fn put(&self, name: &str, bytes: Bytes) -> io::Result<()>;
    /// Makes every file put so far durable (before a manifest names them).
    fn sync(&self) -> io::Result<()>;
    /// The whole file.
    fn read(&self, name: &str) -> io::Result<Vec<u8>>;
    /// The file, for reads of ranges.
    fn open(&self, name: &str) -> io::Result<Arc<dyn ReadAt>>;
    /// The file, known to be `size` bytes: an object store need not ask.
    fn open_sized(&self, name: &str, size: u64) -> io::Result<Arc<dyn ReadAt>> {
        let _ = size;
        self.open(name)
    }
    /// Names of every file.
    fn list(&self) -> io::Result<Vec<String>>;
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Where the files are, for messages.
    fn describe(&self) -> String;
    /// Where the files are, as the manifest records it: `None` for the
    /// data directory, else what names the store (its URL).
    fn location(&self) -> Option<String>;
}

/// Files in a directory through the [`Vfs`] (fsynced, and open to the
/// fault injection tests use). The default, under the data directory.
pub struct DirSegments {
    vfs: Arc<dyn Vfs>,
    dir: PathBuf,
}

impl DirSegments {
    pub fn new(vfs: Arc<dyn Vfs>, dir: PathBuf) -> Self {
        DirSegments { vfs, dir }
    }
}

impl SegmentStore for DirSegments {
    fn put(&self, name: &str, bytes: Bytes) -> io::Result<()> {
        self.vfs.create_dir_all(&self.dir)?;
        self.vfs.write_file(&self.dir.join(name), &bytes)
    }
    fn sync(&self) -> io::Result<()> {
        self.vfs.create_dir_all(&self.dir)?;
        self.vfs.sync_dir(&self.dir)
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        self.vfs.read(&self.dir.join(name))
    }
    fn open(&self, name: &str) -> io::Result<Arc<dyn ReadAt>> {
        self.vfs.open_read(&self.dir.join(name))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        match self.vfs.list(&self.dir) {
            Ok(paths) => Ok(paths.iter().filter_map(|p| p.file_name()?.to_str().map(str::to_owned)).collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.vfs.remove(&self.dir.join(name))
    }
    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
    fn location(&self) -> Option<String> {
        None
    }
}

/// Files as objects under a prefix of an `object_store` store (in memory
/// for tests; S3-compatible stores speak the same interface). A put is
/// durable once it returns, so [`SegmentStore::sync`] has nothing to do.
pub struct ObjectSegments {
    inner: Arc<Inner>,
    /// The URL it was opened from, or a description.
    location: String,
}

struct Inner {
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    runtime: tokio::runtime::Runtime,
}

impl Inner {
    fn path(&self, name: &str) -> ObjectPath {
        self.prefix.clone().join(name)
    }

    /// Runs `f` on the store's runtime and waits for its result.
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = object_store::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv().map_err(|_| io::Error::other("the object store runtime stopped"))?.map_err(to_io)
    }
}

fn to_io(e: object_store::Error) -> io::Error {
    match e {
        object_store::Error::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

impl ObjectSegments {
    /// Files under `prefix` (a `/`-separated path) of `store`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &str) -> io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("rustydb-object-store")
            .enable_all()
            .build()?;
        let location = format!("{store}/{prefix}");
        Ok(ObjectSegments { inner: Arc::new(Inner { store, prefix: ObjectPath::from(prefix), runtime }), location })
    }

    /// The store a URL names: `s3://bucket/prefix` (any S3-compatible
    /// service). Credentials, region and endpoint come from the usual
    /// `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
    /// `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
    /// `AWS_ALLOW_HTTP` for a plain-HTTP endpoint).
    pub fn from_url(url: &str) -> io::Result<Self> {
        let unsupported = || {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("unsupported segment store {url:?}: use s3://bucket/prefix"),
            )
        };
        let rest = url.strip_prefix("s3://").ok_or_else(unsupported)?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(unsupported());
        }
        let store = object_store::aws::AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("segment store {url}: {e}")))?;
        let mut segments = Self::new(Arc::new(store), prefix.trim_matches('/'))?;
        segments.location = format!("s3://{bucket}/{}", prefix.trim_matches('/'));
        Ok(segments)
    }

    /// An in-memory store: for tests of everything that lives in segment
    /// files (it forgets them when dropped).
    pub fn in_memory() -> Self {
        Self::new(Arc::new(object_store::memory::InMemory::new()), "segments").expect("a one-thread runtime starts")
    }
}

impl SegmentStore for ObjectSegments {
    fn put(&self, name: &str, bytes: Bytes) -> io::Result<()> {
        let (store, path) = (self.inner.store.clone(), self.inner.path(name));
        self.inner.run(async move { store.put(&path, PutPayload::from(bytes)).await.map(|_| ()) })
    }
    fn sync(&self) -> io::Result<()> {
        Ok(())
    }
    fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        let (store, path) = (self.inner.store.clone(), self.inner.path(name));
        self.inner.run(async move { store.get(&path).await?.bytes().await.map(|b| b.to_vec()) })
    }
    fn open(&self, name: &str) -> io::Result<Arc<dyn ReadAt>> {
        let (store, path) = (self.inner.store.clone(), self.inner.path(name));
        let size = self.inner.run(async move { store.head(&path).await.map(|m| m.size) })?;
        self.open_sized(name, size)
    }
    fn open_sized(&self, name: &str, size: u64) -> io::Result<Arc<dyn ReadAt>> {
        Ok(Arc::new(ObjectFile { inner: self.inner.clone(), path: self.inner.path(name), size }))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        let (store, prefix) = (self.inner.store.clone(), self.inner.prefix.clone());
        let metas = self.inner.run(async move {
            let prefix = (!prefix.as_ref().is_empty()).then_some(prefix);
            store.list(prefix.as_ref()).try_collect::<Vec<_>>().await
        })?;
        let mut names: Vec<String> =
            metas.into_iter().filter_map(|m| m.location.filename().map(str::to_owned)).collect();
        names.sort();
        Ok(names)
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        let (store, path) = (self.inner.store.clone(), self.inner.path(name));
        self.inner.run(async move { store.delete(&path).await })
    }
    fn describe(&self) -> String {
        self.location.clone()
    }
    fn location(&self) -> Option<String> {
        Some(self.location.clone())
    }
}

/// One object, read by ranges.
struct ObjectFile {
    inner: Arc<Inner>,
    path: ObjectPath,
    size: u64,
}

impl ReadAt for ObjectFile {
    fn size(&self) -> u64 {
        self.size
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let range: Range<u64> = offset..offset + buf.len() as u64;
        if range.end > self.size {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{range:?} of {} bytes", self.size)));
        }
        let (store, path) = (self.inner.store.clone(), self.path.clone());
        let bytes = self.inner.run(async move { store.get_range(&path, range).await })?;
        if bytes.len() != buf.len() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "short range read"));
        }
        buf.copy_from_slice(&bytes);
        Ok(())
    }
    fn read_ranges(&self, ranges: &[Range<u64>]) -> io::Result<Vec<Bytes>> {
        if let Some(r) = ranges.iter().find(|r| r.start > r.end || r.end > self.size) {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("{r:?} of {} bytes", self.size)));
        }
        let (store, path, ranges) = (self.inner.store.clone(), self.path.clone(), ranges.to_vec());
        let chunks = self.inner.run(async move { store.get_ranges(&path, &ranges).await })?;
        Ok(chunks)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(store: &dyn SegmentStore) {
        assert_eq!(store.list().unwrap(), Vec::<String>::new());
        store.put("b.parquet", Bytes::from_static(b"hello world")).unwrap();
        store.put("a.dv", Bytes::from_static(b"xy")).unwrap();
        store.sync().unwrap();
        assert_eq!(store.list().unwrap(), ["a.dv", "b.parquet"]);
        assert_eq!(store.read("a.dv").unwrap(), b"xy");
        let f = store.open("b.parquet").unwrap();
        assert_eq!(f.size(), 11);
        let mut buf = [0u8; 5];
        f.read_exact_at(&mut buf, 6).unwrap();
        assert_eq!(&buf, b"world");
        assert!(f.read_exact_at(&mut buf, 7).is_err(), "past the end");
        store.remove("a.dv").unwrap();
        assert_eq!(store.list().unwrap(), ["b.parquet"]);
        assert_eq!(store.read("a.dv").unwrap_err().kind(), io::ErrorKind::NotFound);
        assert_eq!(store.open("nope").err().map(|e| e.kind()), Some(io::ErrorKind::NotFound));
    }

    #[test]
    fn a_directory_and_an_object_store_behave_alike() {
        let dir = tempfile::tempdir().unwrap();
        exercise(&DirSegments::new(Arc::new(crate::io::OsVfs), dir.path().join("segments")));
        exercise(&ObjectSegments::in_memory());
    }

    #[test]
    fn urls_name_s3_buckets_only() {
        assert!(ObjectSegments::from_url("s3://bucket/some/prefix").is_ok());
        assert!(ObjectSegments::from_url("s3://bucket").is_ok());
        for bad in ["s3://", "gs://bucket/x", "/tmp/x", "memory:"] {
            let err = ObjectSegments::from_url(bad).err().expect(bad);
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{bad}: {err}");
        }
    }

    #[test]
    fn object_store_calls_work_from_inside_a_runtime() {
        let store = ObjectSegments::in_memory();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        rt.block_on(async {
            store.put("x", Bytes::from_static(b"1")).unwrap();
            assert_eq!(store.read("x").unwrap(), b"1");
        });
    }
}
