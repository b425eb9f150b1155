//! The segment cache: decoded columns of stored segments, within a budget.
//!
//! A segment's row ids, begin SCNs and zone maps stay in memory for as long
//! as the segment exists (visibility and point lookups need them, and they
//! are 16 bytes a row). Its columns are needed only by scans and lookups,
//! so once the segment is in a file they live here instead: one entry per
//! (segment, column, row group), read from the Parquet file on first use
//! with just that row group and column projected (a point lookup reads one
//! row group, not the segment), and dropped least recently used first when the
//! cache holds more than its budget. An evicted array a scan still holds
//! stays alive until the scan lets go of it; the budget counts what the
//! cache itself keeps.
//!
//! Segments not yet written (just captured, compacted or bulk loaded) hold
//! their columns themselves until the next checkpoint stores them.
//!
//! What every table keeps resident whatever is cached (index entries, the
//! segments' row ids, begins and delete vectors: its *metadata*, see
//! `TableStore::metadata_bytes`) counts against the same budget: the cache
//! keeps columns only in the room metadata leaves, so cache and metadata
//! together stay within it until metadata takes more than seven eighths of
//! it (columns keep the last eighth; past the whole a warning says the
//! budget has to be raised).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use arrow::array::{Array, ArrayRef};
use parking_lot::Mutex;

use crate::io::ReadAt;
use crate::segment::store::SegmentStore;

/// Budget of a cache when the configuration names none.
pub const SEGMENT_CACHE_BYTES_DEFAULT: usize = 2 << 30;

/// (segment, column, row group): segments get a process-unique id.
pub(crate) type Key = (u64, usize, usize);

struct Entry {
    array: ArrayRef,
    bytes: usize,
    /// Position in `State::order`.
    tick: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<Key, Entry>,
    /// Least recently used first.
    order: BTreeMap<u64, Key>,
    next_tick: u64,
    bytes: usize,
}

impl State {
    fn touch(&mut self, key: Key) -> Option<ArrayRef> {
        let tick = self.next_tick;
        let entry = self.entries.get_mut(&key)?;
        self.order.remove(&entry.tick);
        entry.tick = tick;
        self.order.insert(tick, key);
        self.next_tick += 1;
        Some(entry.array.clone())
    }

    fn remove(&mut self, key: Key) {
        if let Some(e) = self.entries.remove(&key) {
            self.order.remove(&e.tick);
            self.bytes -= e.bytes;
        }
    }
}

/// What the cache did so far (for tests, benchmarks and monitoring).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Bytes of arrays the cache holds now.
    pub bytes: usize,
    /// Bytes of the tables' metadata, which share the budget.
    pub metadata: usize,
    pub budget: usize,
    pub hits: u64,
    /// Columns read from segment files.
    pub reads: u64,
    pub evictions: u64,
}

/// Decoded columns of stored segments; see the module docs.
pub struct SegmentCache {
    store: Arc<dyn SegmentStore>,
    budget: usize,
    state: Mutex<State>,
    /// Tables' metadata bytes (see the module docs).
    metadata: AtomicUsize,
    /// Whether metadata alone outgrew the budget (warned once a time).
    over: AtomicBool,
    hits: AtomicU64,
    reads: AtomicU64,
    evictions: AtomicU64,
    /// Segment files some segment in memory still reads, with how many
    /// such segments there are (see [`FilePin`]).
    pinned: Mutex<HashMap<String, usize>>,
}

/// Keeps a segment file from being removed while a segment reading it
/// exists: a scan holds the segment it reads outside the table's lock, and
/// a compaction (or ALTER, DROP) followed by a checkpoint may meanwhile
/// take it out of the manifest. Held by the segment's stored columns.
pub(crate) struct FilePin {
    cache: Arc<SegmentCache>,
    file: String,
}

impl Drop for FilePin {
    fn drop(&mut self) {
        let mut pinned = self.cache.pinned.lock();
        if let Some(n) = pinned.get_mut(&self.file) {
            *n -= 1;
            if *n == 0 {
                pinned.remove(&self.file);
            }
        }
    }
}

impl std::fmt::Debug for SegmentCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SegmentCache").field("store", &self.store.describe()).field("stats", &self.stats()).finish()
    }
}

impl SegmentCache {
    /// A cache of the segment files in `store`, holding at most about
    /// `budget` bytes of decoded columns.
    pub fn new(store: Arc<dyn SegmentStore>, budget: usize) -> Arc<Self> {
        Arc::new(SegmentCache {
            store,
            budget,
            state: Mutex::new(State::default()),
            metadata: AtomicUsize::new(0),
            over: AtomicBool::new(false),
            hits: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            pinned: Mutex::new(HashMap::new()),
        })
    }

    /// Pins `file` for a segment that reads it.
    pub(crate) fn pin_file(self: &Arc<Self>, file: &str) -> FilePin {
        *self.pinned.lock().entry(file.to_owned()).or_insert(0) += 1;
        FilePin { cache: self.clone(), file: file.to_owned() }
    }

    /// Whether a segment in memory still reads `file`.
    pub(crate) fn file_in_use(&self, file: &str) -> bool {
        self.pinned.lock().contains_key(file)
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            bytes: self.state.lock().bytes,
            metadata: self.metadata.load(Ordering::Relaxed),
            budget: self.budget,
            hits: self.hits.load(Ordering::Relaxed),
            reads: self.reads.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    /// Where the segment files are.
    pub(crate) fn store(&self) -> &Arc<dyn SegmentStore> {
        &self.store
    }

    /// Opens a segment file for reading.
    pub(crate) fn open(&self, file: &str) -> std::io::Result<Arc<dyn ReadAt>> {
        self.store.open(file)
    }

    /// Opens a segment file known to be `size` bytes.
    pub(crate) fn open_sized(&self, file: &str, size: u64) -> std::io::Result<Arc<dyn ReadAt>> {
        self.store.open_sized(file, size)
    }

    /// Whether the cache holds an entry (not marking it used).
    pub(crate) fn contains(&self, key: Key) -> bool {
        self.state.lock().entries.contains_key(&key)
    }

    /// The cached column, marked as just used.
    pub(crate) fn get(&self, key: Key) -> Option<ArrayRef> {
        let found = self.state.lock().touch(key);
        if found.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        found
    }

    /// Every one of `keys`, or `None` if any is missing; the lock is
    /// taken once (a point lookup reads every column of one row group).
    pub(crate) fn get_all(&self, keys: impl Iterator<Item = Key>) -> Option<Vec<ArrayRef>> {
        let mut state = self.state.lock();
        let found: Option<Vec<ArrayRef>> = keys.map(|k| state.touch(k)).collect();
        drop(state);
        if let Some(f) = &found {
            self.hits.fetch_add(f.len() as u64, Ordering::Relaxed);
        }
        found
    }

    /// Keeps a column, evicting the least recently used ones past the
    /// budget. `read` says whether it came from a file (for the stats).
    pub(crate) fn insert(&self, key: Key, array: ArrayRef, read: bool) {
        if read {
            self.reads.fetch_add(1, Ordering::Relaxed);
        }
        let bytes = array.get_array_memory_size();
        let mut st = self.state.lock();
        st.remove(key);
        let tick = st.next_tick;
        st.next_tick += 1;
        st.order.insert(tick, key);
        st.entries.insert(key, Entry { array, bytes, tick });
        st.bytes += bytes;
        self.evict(st);
    }

    /// Records a table's metadata going from `before` to `after` bytes,
    /// evicting columns to make room when it grew.
    pub(crate) fn metadata_changed(&self, before: usize, after: usize) {
        if after > before {
            let total = self.metadata.fetch_add(after - before, Ordering::Relaxed) + (after - before);
            if total > self.budget && !self.over.swap(true, Ordering::Relaxed) {
                tracing::warn!(
                    "index entries and segment metadata take {} MiB, more than the segment cache's budget of {} \
                     MiB: the server uses more memory than configured; raise --memory-mb or --segment-cache-mb",
                    total >> 20,
                    self.budget >> 20
                );
            }
            self.evict(self.state.lock());
        } else if before > after {
            // Saturating, like the row store's count: a miscount must not
            // wrap around into a cache that keeps nothing.
            let was = self
                .metadata
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |m| Some(m.saturating_sub(before - after)))
                .expect("the update always gives a value");
            if was.saturating_sub(before - after) <= self.budget {
                self.over.store(false, Ordering::Relaxed);
            }
        }
    }

    /// Drops the least recently used columns until they fit beside the
    /// metadata. Columns keep an eighth of the budget however large the
    /// metadata grows: with no room at all, every row read would decode its
    /// row group again.
    fn evict(&self, mut st: parking_lot::MutexGuard<'_, State>) {
        let room = self.budget.saturating_sub(self.metadata.load(Ordering::Relaxed)).max(self.budget / 8);
        let mut evicted = 0;
        while st.bytes > room {
            let Some((_, oldest)) = st.order.pop_first() else { break };
            let e = st.entries.remove(&oldest).expect("ordered entries exist");
            st.bytes -= e.bytes;
            evicted += 1;
        }
        drop(st);
        if evicted > 0 {
            self.evictions.fetch_add(evicted, Ordering::Relaxed);
        }
    }

    /// Drops the columns of a segment that no longer exists.
    pub(crate) fn forget(&self, segment: u64, columns: usize, groups: usize) {
        let mut st = self.state.lock();
        for c in 0..columns {
            for g in 0..groups {
                st.remove((segment, c, g));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::store::ObjectSegments;
    use arrow::array::Int64Array;

    fn array(n: usize) -> ArrayRef {
        Arc::new(Int64Array::from(vec![1i64; n]))
    }

    #[test]
    fn evicts_least_recently_used_past_the_budget() {
        let one = array(1000).get_array_memory_size();
        let cache = SegmentCache::new(Arc::new(ObjectSegments::in_memory()), one * 2);
        cache.insert((1, 0, 0), array(1000), true);
        cache.insert((2, 0, 0), array(1000), true);
        assert!(cache.get((1, 0, 0)).is_some(), "1 is now the most recently used");
        cache.insert((3, 0, 0), array(1000), false);
        assert!(cache.get((2, 0, 0)).is_none(), "2 was the least recently used");
        assert!(cache.get((1, 0, 0)).is_some() && cache.get((3, 0, 0)).is_some());
        let stats = cache.stats();
        assert_eq!((stats.bytes, stats.reads, stats.evictions, stats.hits), (one * 2, 2, 1, 3));
        cache.forget(1, 4, 1);
        assert_eq!(cache.stats().bytes, one);
        // One array larger than the budget is not kept at all.
        cache.insert((4, 0, 0), array(10_000), true);
        assert_eq!(cache.stats().bytes, 0);
    }

    #[test]
    fn metadata_takes_room_from_the_columns() {
        let one = array(1000).get_array_memory_size();
        let cache = SegmentCache::new(Arc::new(ObjectSegments::in_memory()), one * 3);
        for k in 0..3 {
            cache.insert((k, 0, 0), array(1000), true);
        }
        assert_eq!(cache.stats().bytes, one * 3);
        cache.metadata_changed(0, one);
        assert_eq!(cache.stats().bytes, one * 2, "growing metadata evicts at once");
        assert!(cache.get((0, 0, 0)).is_none() && cache.get((2, 0, 0)).is_some());
        cache.metadata_changed(one, one * 2);
        cache.insert((5, 0, 0), array(1000), true);
        assert_eq!(cache.stats().bytes, one, "one column's room is left");
        cache.metadata_changed(one * 2, one * 30);
        assert_eq!(cache.stats().bytes, 0, "an eighth of the budget is less than a column");
        cache.metadata_changed(one * 30, 0);
        cache.insert((6, 0, 0), array(1000), true);
        cache.insert((7, 0, 0), array(1000), true);
        let stats = cache.stats();
        assert_eq!((stats.bytes, stats.metadata), (one * 2, 0), "room again once the metadata went");

        // However large the metadata, columns keep an eighth of the budget.
        let cache = SegmentCache::new(Arc::new(ObjectSegments::in_memory()), one * 8);
        cache.metadata_changed(0, one * 100);
        cache.insert((1, 0, 0), array(1000), true);
        cache.insert((2, 0, 0), array(1000), true);
        assert_eq!(cache.stats().bytes, one);
    }
}
