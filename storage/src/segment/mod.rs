//! Frozen row versions: immutable columnar segments and their delete vectors.
//!
//! ```text
//! Segment (immutable, shared by Arc)         FrozenSegment (per table, mutable)
//! ┌──────────┬───────────┬────┬────┬───┐     ends: position ──► end SCN
//! │ row id   │ begin SCN │ c0 │ c1 │ … │     (the delete vector: set when a
//! │ sorted by (row id, begin)          │      newer version or a delete
//! └──────────┴───────────┴────┴────┴───┘      commits, never cleared)
//! ```
//!
//! A checkpoint moves every committed version whose begin SCN is at or below
//! the checkpoint SCN out of the row store into a new segment. A version in a
//! segment is visible at snapshot `s` exactly when `begin <= s < end`, with
//! `end` from the delete vector (`Scn::MAX` when absent): the same rule as the
//! row store, so snapshots read both alike. A segment whose rows all began at
//! or before the snapshot and whose delete vector ends nothing at or before it
//! is read as it is, without per-row visibility work: that is the common case
//! for analytic scans.
//!
//! Versions of one row are consecutive within a segment (ordered by begin),
//! and a row's versions may be spread over several segments, the newest last.

pub(crate) mod bulk;
pub(crate) mod cache;
pub(crate) mod file;
pub(crate) mod frozen_map;
pub(crate) mod store;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arrow::array::{Array, ArrayRef, BooleanArray, MutableArrayData, UInt64Array, make_array};
use parking_lot::RwLock;
use parquet::arrow::arrow_reader::ArrowReaderMetadata;
use rustydb_common::{RowId, Scn};

use crate::error::{Result, StorageError};
use crate::rowstore::batch::{column_array, row_at};
use crate::rowstore::memory::arrays_bytes;
use crate::segment::cache::SegmentCache;
use crate::spec::{ColumnSource, TableSpec};
use crate::value::{ColumnType, Row, Value};

/// Rows of one segment at most; a checkpoint of a larger table writes several.
pub const SEGMENT_ROWS_MAX: usize = 1 << 20;

/// Immutable data of one segment. Row ids, begins and zone maps are always
/// in memory; the columns are held by the segment until a checkpoint
/// stores it, then read through the segment cache (`segment/cache.rs`).
pub struct Segment {
    /// Process-unique: keys the segment's columns in the cache.
    uid: u64,
    pub row_ids: UInt64Array,
    pub begins: UInt64Array,
    /// Largest begin SCN in the segment.
    pub max_begin: Scn,
    /// Per column, the smallest and largest non-null value (the zone map),
    /// where known; see [`zone`].
    pub zones: Vec<Option<(Value, Value)>>,
    /// Per column, how many values are NULL.
    pub nulls: Vec<usize>,
    data: RwLock<ColumnData>,
}

/// Where a segment's columns are.
enum ColumnData {
    /// In memory, held by the segment: not stored yet.
    Resident(Vec<ArrayRef>),
    /// Another segment's columns in a new layout (ALTER TABLE), built on
    /// use, so that changing the layout reads nothing.
    Remapped { base: Arc<Segment>, map: Arc<[ColumnSource]>, types: Vec<ColumnType> },
    /// In a segment file, read a column at a time through the cache.
    Stored(StoredColumns),
}

/// A segment's file and what reading it needs.
#[derive(Clone)]
pub(crate) struct StoredColumns {
    pub cache: Arc<SegmentCache>,
    pub file: String,
    /// Bytes in `file`.
    pub size: u64,
    pub meta: ArrowReaderMetadata,
    /// First position of each row group, then the segment's length.
    pub groups: Arc<[usize]>,
    /// Per row group, per column, the zone map its statistics give.
    pub group_zones: Arc<[Vec<Option<(Value, Value)>>]>,
    /// Keeps `file` while this segment exists.
    pub _pin: Arc<crate::segment::cache::FilePin>,
}

impl StoredColumns {
    /// The row group holding position `pos`.
    fn group_of(&self, pos: usize) -> usize {
        self.groups.partition_point(|&g| g <= pos).saturating_sub(1).min(self.groups.len().saturating_sub(2))
    }
}

static NEXT_SEGMENT_UID: AtomicU64 = AtomicU64::new(1);

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = match &*self.data.read() {
            ColumnData::Resident(_) => "resident".to_string(),
            ColumnData::Remapped { base, .. } => format!("remapped from segment {}", base.uid),
            ColumnData::Stored(s) => format!("stored in {}", s.file),
        };
        f.debug_struct("Segment").field("uid", &self.uid).field("rows", &self.len()).field("columns", &data).finish()
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        if let ColumnData::Stored(s) = &*self.data.read() {
            s.cache.forget(self.uid, self.zones.len(), s.groups.len().saturating_sub(1));
        }
    }
}

/// A range a scan's filter puts on one column: segments whose zone map
/// lies outside it hold no matching row and are skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct ZoneFilter {
    pub column: usize,
    pub lo: Bound<Value>,
    pub hi: Bound<Value>,
}

impl Segment {
    /// Assembles a segment from its arrays (lengths and types checked by
    /// [`Segment::validate`]), computing its zone maps.
    pub fn new(spec: &TableSpec, row_ids: UInt64Array, begins: UInt64Array, columns: Vec<ArrayRef>) -> Segment {
        let zones = spec.columns.iter().zip(&columns).map(|(c, a)| zone(c.ty, a.as_ref())).collect();
        let nulls = columns.iter().map(|a| a.null_count()).collect();
        Segment::with_data(row_ids, begins, zones, nulls, ColumnData::Resident(columns))
    }

    /// A segment whose columns are in `stored`, with zone maps and NULL
    /// counts its file recorded (`segment/file.rs`).
    pub(crate) fn stored(
        row_ids: UInt64Array,
        begins: UInt64Array,
        zones: Vec<Option<(Value, Value)>>,
        nulls: Vec<usize>,
        stored: StoredColumns,
    ) -> Segment {
        Segment::with_data(row_ids, begins, zones, nulls, ColumnData::Stored(stored))
    }

    fn with_data(
        row_ids: UInt64Array,
        begins: UInt64Array,
        zones: Vec<Option<(Value, Value)>>,
        nulls: Vec<usize>,
        data: ColumnData,
    ) -> Segment {
        let max_begin = Scn(begins.values().iter().copied().max().unwrap_or(0));
        let uid = NEXT_SEGMENT_UID.fetch_add(1, Ordering::Relaxed);
        Segment { uid, row_ids, begins, max_begin, zones, nulls, data: RwLock::new(data) }
    }

    /// Builds a segment from versions sorted by (row id, begin).
    pub fn build(spec: &TableSpec, versions: &[(RowId, Scn, &[Value])]) -> Segment {
        debug_assert!(versions.windows(2).all(|w| (w[0].0, w[0].1) < (w[1].0, w[1].1)), "versions are sorted");
        let rows: Vec<&[Value]> = versions.iter().map(|v| v.2).collect();
        let columns = spec.columns.iter().enumerate().map(|(c, col)| column_array(col.ty, &rows, c)).collect();
        Segment::new(spec, versions.iter().map(|v| v.0.0).collect(), versions.iter().map(|v| v.1.0).collect(), columns)
    }

    /// Whether some row may satisfy every filter (zone maps permitting).
    pub fn may_match(&self, filters: &[ZoneFilter]) -> bool {
        may_match(&self.zones, filters)
    }

    /// Checks that the parts agree with each other and with `spec`
    /// (columns too, when the segment holds them).
    pub fn validate(&self, spec: &TableSpec) -> Result<()> {
        let n = self.row_ids.len();
        let bad = |what: String| Err(StorageError::Corruption(format!("segment of table {}: {what}", spec.id)));
        if self.begins.len() != n || self.zones.len() != spec.columns.len() || self.nulls.len() != spec.columns.len() {
            return bad(format!("{} begins and {} columns for {n} rows", self.begins.len(), self.zones.len()));
        }
        if self.row_ids.null_count() > 0 || self.begins.null_count() > 0 {
            return bad("null row id or begin scn".into());
        }
        if let ColumnData::Resident(columns) = &*self.data.read() {
            if columns.len() != spec.columns.len() {
                return bad(format!("{} columns", columns.len()));
            }
            for (a, c) in columns.iter().zip(&spec.columns) {
                if a.len() != n || a.data_type() != &crate::rowstore::batch::arrow_type(c.ty) {
                    return bad(format!("column {} holds {} values of type {}", c.name, a.len(), a.data_type()));
                }
            }
        }
        let keys = |i: usize| (self.row_ids.value(i), self.begins.value(i));
        if (1..n).any(|i| keys(i - 1) >= keys(i)) {
            return bad("versions are not ordered by (row id, begin)".into());
        }
        Ok(())
    }

    pub fn len(&self) -> usize {
        self.row_ids.len()
    }

    pub fn row_id(&self, pos: usize) -> RowId {
        RowId(self.row_ids.value(pos))
    }

    pub fn begin(&self, pos: usize) -> Scn {
        Scn(self.begins.value(pos))
    }

    /// The arrays of the columns `which` (in that order), whole.
    pub fn columns(&self, which: &[usize]) -> Result<Vec<ArrayRef>> {
        self.column_range(which, 0, self.len())
    }

    /// Positions `start..start + len` of the columns `which` (in that
    /// order). A stored segment reads the row groups that hold them from
    /// its file, for the columns the cache does not hold.
    pub fn column_range(&self, which: &[usize], start: usize, len: usize) -> Result<Vec<ArrayRef>> {
        assert!(start + len <= self.len(), "positions {start}+{len} of a segment of {} rows", self.len());
        let stored = match &*self.data.read() {
            ColumnData::Resident(columns) => return Ok(which.iter().map(|&c| columns[c].slice(start, len)).collect()),
            ColumnData::Remapped { base, map, types } => {
                let sources = existing_sources(map, which);
                let mut from_base = base.column_range(&sources, start, len)?.into_iter();
                return Ok(which
                    .iter()
                    .map(|&c| match &map[c] {
                        ColumnSource::Existing(_) => from_base.next().expect("one array per source"),
                        ColumnSource::Fill(v) => fill_array(types[c], v, len),
                    })
                    .collect());
            }
            // Cloned so that no lock is held while the file is read.
            ColumnData::Stored(stored) => stored.clone(),
        };
        if len == 0 {
            // Nothing to read (an empty segment has no row groups at all).
            let schema = stored.meta.schema();
            return Ok(which.iter().map(|&c| arrow::array::new_empty_array(schema.field(c).data_type())).collect());
        }
        let end = start + len;
        let mut pieces: Vec<Vec<ArrayRef>> = vec![Vec::new(); which.len()];
        let mut group = stored.group_of(start);
        loop {
            let (g_start, g_end) = (stored.groups[group], stored.groups[group + 1]);
            let arrays = self.group_columns(&stored, which, group)?;
            let (from, to) = (start.max(g_start), end.min(g_end));
            for (piece, a) in pieces.iter_mut().zip(arrays) {
                piece.push(a.slice(from - g_start, to - from));
            }
            group += 1;
            if group + 1 >= stored.groups.len() || stored.groups[group] >= end {
                break;
            }
        }
        pieces
            .into_iter()
            .map(|p| match p.as_slice() {
                [one] => Ok(one.clone()),
                _ => {
                    let refs: Vec<&dyn Array> = p.iter().map(|a| a.as_ref()).collect();
                    arrow::compute::concat(&refs)
                        .map_err(|e| StorageError::Internal(format!("joining the row groups of a segment: {e}")))
                }
            })
            .collect()
    }

    /// Row group `group` of the columns `which`, from the cache or the file.
    fn group_columns(&self, stored: &StoredColumns, which: &[usize], group: usize) -> Result<Vec<ArrayRef>> {
        let key = |c: usize| (self.uid, c, group);
        let mut out: Vec<Option<ArrayRef>> = which.iter().map(|&c| stored.cache.get(key(c))).collect();
        let mut missing: Vec<usize> = which.iter().zip(&out).filter(|(_, a)| a.is_none()).map(|(c, _)| *c).collect();
        if !missing.is_empty() {
            missing.sort_unstable();
            missing.dedup();
            let read = crate::segment::file::read_columns(stored, &missing, Some(group))?;
            for (c, array) in missing.iter().zip(read) {
                stored.cache.insert(key(*c), array.clone(), true);
                for (w, slot) in which.iter().zip(out.iter_mut()) {
                    if w == c {
                        *slot = Some(array.clone());
                    }
                }
            }
        }
        Ok(out.into_iter().map(|a| a.expect("every column was found or read")).collect())
    }

    /// All columns, in the table's layout.
    pub fn all_columns(&self) -> Result<Vec<ArrayRef>> {
        self.columns(&(0..self.zones.len()).collect::<Vec<_>>())
    }

    /// The values of the version at `pos` (reading just its row group).
    pub fn row(&self, spec: &TableSpec, pos: usize) -> Result<Row> {
        let all: Vec<usize> = (0..self.zones.len()).collect();
        let (arrays, at) = self.arrays_holding(&all, pos)?;
        Ok(row_at(spec, &arrays, at))
    }

    /// Whole arrays of columns `which` that hold position `pos`, and where
    /// `pos` is in them. A point lookup reads one row this way without
    /// slicing arrays or copying the segment's file description.
    fn arrays_holding(&self, which: &[usize], pos: usize) -> Result<(Vec<ArrayRef>, usize)> {
        assert!(pos < self.len(), "position {pos} of a segment of {} rows", self.len());
        match &*self.data.read() {
            ColumnData::Resident(columns) => return Ok((which.iter().map(|&c| columns[c].clone()).collect(), pos)),
            ColumnData::Stored(stored) => {
                let group = stored.group_of(pos);
                if let Some(arrays) = stored.cache.get_all(which.iter().map(|&c| (self.uid, c, group))) {
                    return Ok((arrays, pos - stored.groups[group]));
                }
            }
            ColumnData::Remapped { .. } => {}
        }
        // A file read, or columns filled in by ALTER: the general path.
        Ok((self.column_range(which, pos, 1)?, 0))
    }

    /// Whether reading columns `which` of the row group holding `pos` needs
    /// no file read.
    pub fn group_cached(&self, pos: usize, which: &[usize]) -> bool {
        match &*self.data.read() {
            ColumnData::Resident(_) => true,
            ColumnData::Remapped { base, map, .. } => base.group_cached(pos, &existing_sources(map, which)),
            ColumnData::Stored(stored) => {
                let group = stored.group_of(pos);
                which.iter().all(|&c| stored.cache.contains((self.uid, c, group)))
            }
        }
    }

    /// Where the row group holding `pos` ends (segments not yet stored are
    /// one group).
    pub fn group_end(&self, pos: usize) -> usize {
        match &*self.data.read() {
            ColumnData::Stored(stored) => stored.groups[stored.group_of(pos) + 1],
            _ => self.len(),
        }
    }

    /// Where the row group holding `pos` ends, if the zone maps of that
    /// group rule out `filters` (a scan skips to there). Only stored
    /// segments know their groups' zone maps.
    pub fn ruled_out_until(&self, pos: usize, filters: &[ZoneFilter]) -> Option<usize> {
        if filters.is_empty() {
            return None;
        }
        let data = self.data.read();
        let ColumnData::Stored(stored) = &*data else { return None };
        let group = stored.group_of(pos);
        (!may_match(&stored.group_zones[group], filters)).then(|| stored.groups[group + 1])
    }

    /// Whether a row's first version is at `pos` (or `pos` is the end):
    /// the places a part of a scan may start or end, a row's versions
    /// being read together.
    pub fn row_starts_at(&self, pos: usize) -> bool {
        pos == 0 || pos >= self.len() || self.row_id(pos) != self.row_id(pos - 1)
    }

    /// Position of the first version of `row` or later (binary search).
    pub fn lower_bound(&self, row: RowId) -> usize {
        self.row_ids.values().partition_point(|&id| id < row.0)
    }

    /// The same data in a new layout (ALTER TABLE). Nothing is read: the
    /// new segment builds its columns from this one's when used.
    pub fn remap(self: &Arc<Self>, spec: &TableSpec, map: &[ColumnSource]) -> Segment {
        let len = self.len();
        let mut zones = Vec::with_capacity(map.len());
        let mut nulls = Vec::with_capacity(map.len());
        for (s, c) in map.iter().zip(&spec.columns) {
            match s {
                ColumnSource::Existing(old) => {
                    zones.push(self.zones[*old].clone());
                    nulls.push(self.nulls[*old]);
                }
                ColumnSource::Fill(v) => {
                    let known = !v.is_null() && zone_mapped(c.ty);
                    zones.push(known.then(|| (v.clone(), v.clone())));
                    nulls.push(if v.is_null() { len } else { 0 });
                }
            }
        }
        let data = ColumnData::Remapped {
            base: self.clone(),
            map: map.into(),
            types: spec.columns.iter().map(|c| c.ty).collect(),
        };
        Segment::with_data(self.row_ids.clone(), self.begins.clone(), zones, nulls, data)
    }

    /// About the bytes its columns take once read: what reading them all
    /// (a compaction, a merge) brings into memory. A stored segment's are
    /// its file's uncompressed sizes, which undercount dictionary-encoded
    /// columns; readers count what they read once they have it.
    pub fn decoded_bytes_estimate(&self) -> usize {
        match &*self.data.read() {
            ColumnData::Resident(columns) => arrays_bytes(columns),
            ColumnData::Remapped { base, .. } => base.decoded_bytes_estimate(),
            ColumnData::Stored(s) => {
                s.meta.metadata().row_groups().iter().map(|g| usize::try_from(g.total_byte_size()).unwrap_or(0)).sum()
            }
        }
    }

    /// Bytes of columns the segment holds itself (not yet stored).
    pub fn resident_bytes(&self) -> usize {
        match &*self.data.read() {
            ColumnData::Resident(columns) => arrays_bytes(columns),
            ColumnData::Remapped { .. } | ColumnData::Stored(_) => 0,
        }
    }

    /// Records that the columns are now in `file` (just written from
    /// `columns`, which become the cache's): from here they are read
    /// through the cache and may be evicted.
    pub(crate) fn set_stored(&self, stored: StoredColumns, columns: Vec<ArrayRef>) {
        for (c, array) in columns.into_iter().enumerate() {
            for (g, bounds) in stored.groups.windows(2).enumerate() {
                stored.cache.insert((self.uid, c, g), copy_range(&array, bounds[0], bounds[1] - bounds[0]), false);
            }
        }
        *self.data.write() = ColumnData::Stored(stored);
    }
}

/// Where a segment's columns are, for tests.
#[cfg(test)]
#[derive(Debug)]
pub(crate) enum ColumnDataKind {
    Resident,
    Remapped,
    Stored(Arc<SegmentCache>),
}

#[cfg(test)]
impl Segment {
    pub(crate) fn data_for_tests(&self) -> Box<ColumnDataKind> {
        Box::new(match &*self.data.read() {
            ColumnData::Resident(_) => ColumnDataKind::Resident,
            ColumnData::Remapped { .. } => ColumnDataKind::Remapped,
            ColumnData::Stored(s) => ColumnDataKind::Stored(s.cache.clone()),
        })
    }
}

/// The columns of the old layout that columns `which` of a new one (by
/// `map`) are copies of; filled columns have none.
pub(crate) fn existing_sources(map: &[ColumnSource], which: &[usize]) -> Vec<usize> {
    which
        .iter()
        .filter_map(|&c| match &map[c] {
            ColumnSource::Existing(old) => Some(*old),
            ColumnSource::Fill(_) => None,
        })
        .collect()
}

/// Whether rows within `zones` may satisfy every filter.
fn may_match(zones: &[Option<(Value, Value)>], filters: &[ZoneFilter]) -> bool {
    filters.iter().all(|f| {
        let Some(Some((min, max))) = zones.get(f.column) else { return true };
        let above = match &f.lo {
            Bound::Included(v) => max >= v,
            Bound::Excluded(v) => max > v,
            Bound::Unbounded => true,
        };
        let below = match &f.hi {
            Bound::Included(v) => min <= v,
            Bound::Excluded(v) => min < v,
            Bound::Unbounded => true,
        };
        above && below
    })
}

/// Positions `start..start + len` of `array` in buffers of their own: a
/// slice would keep the whole array alive while the cache counts a part.
fn copy_range(array: &ArrayRef, start: usize, len: usize) -> ArrayRef {
    if start == 0 && len == array.len() {
        return array.clone();
    }
    let data = array.to_data();
    let mut copy = MutableArrayData::new(vec![&data], false, len);
    // It cannot overflow offsets the array itself holds; should it, a
    // slice is still right, only counted short.
    match copy.try_extend(0, start, start + len) {
        Ok(()) => make_array(copy.freeze()),
        Err(_) => array.slice(start, len),
    }
}

/// An array of `len` copies of `v`.
pub(crate) fn fill_array(ty: ColumnType, v: &Value, len: usize) -> ArrayRef {
    let one = std::slice::from_ref(v);
    column_array(ty, &vec![one; len], 0)
}

/// Whether segments keep zone maps for a column type: the types whose
/// [`Value`] order is SQL's. Not floats (`-0 = 0`, NaN), not text (collations
/// may differ), not booleans or bytes (never worth it).
pub fn zone_mapped(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Decimal { .. }
            | ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::TimestampTz
    )
}

/// The smallest and largest non-null value of a column whose type is
/// [`zone_mapped`].
pub fn zone(ty: ColumnType, array: &dyn Array) -> Option<(Value, Value)> {
    use arrow::array::{Date32Array, Decimal128Array, Int16Array, Int32Array, Int64Array, TimestampMicrosecondArray};
    use arrow::compute::{max, min};
    macro_rules! zone_of {
        ($array:ty, $variant:ident) => {{
            let a = array.as_any().downcast_ref::<$array>()?;
            Some((Value::$variant(min(a)?.into()), Value::$variant(max(a)?.into())))
        }};
    }
    match ty {
        ColumnType::Int16 => zone_of!(Int16Array, Int16),
        ColumnType::Int32 => zone_of!(Int32Array, Int32),
        ColumnType::Int64 => zone_of!(Int64Array, Int64),
        ColumnType::Decimal { .. } => zone_of!(Decimal128Array, Decimal),
        ColumnType::Date => zone_of!(Date32Array, Date),
        ColumnType::Timestamp => zone_of!(TimestampMicrosecondArray, Timestamp),
        ColumnType::TimestampTz => zone_of!(TimestampMicrosecondArray, TimestampTz),
        _ => None,
    }
}

/// A segment as a table holds it: the data plus its delete vector.
#[derive(Debug, Clone)]
pub struct FrozenSegment {
    pub data: Arc<Segment>,
    /// End SCN of each ended version, by position. Private: the table
    /// keeps a running sum of what these take (`metadata_bytes`), so ends
    /// are only added through `end_at` or given whole at construction.
    ends: BTreeMap<u32, Scn>,
    /// Where the data is stored; `None` until a checkpoint writes it (new,
    /// or rewritten in a new layout after ALTER TABLE).
    pub file: Option<String>,
    /// The stored delete vector and how many ends it holds.
    pub dv_file: Option<String>,
    pub dv_persisted: usize,
    /// Bytes this segment counts against the row store budget until a
    /// checkpoint writes it (`rowstore/memory.rs`): its resident columns then.
    pub(crate) charged: usize,
}

impl FrozenSegment {
    /// What a delete vector entry (position, end SCN) takes in its B-tree.
    pub(crate) const END_BYTES: usize = 20;

    pub fn new(data: Arc<Segment>) -> Self {
        FrozenSegment::with_ends(data, BTreeMap::new())
    }

    /// A segment whose versions at the given positions have ended.
    pub fn with_ends(data: Arc<Segment>, ends: BTreeMap<u32, Scn>) -> Self {
        FrozenSegment { data, ends, file: None, dv_file: None, dv_persisted: 0, charged: 0 }
    }

    pub fn end(&self, pos: usize) -> Scn {
        self.ended_at(pos).unwrap_or(Scn::MAX)
    }

    /// The end of the version at `pos`, if it has ended.
    pub fn ended_at(&self, pos: usize) -> Option<Scn> {
        self.ends.get(&(pos as u32)).copied()
    }

    /// How many versions have ended.
    pub fn ended(&self) -> usize {
        self.ends.len()
    }

    /// How many versions ended at or before `horizon`.
    pub fn ended_by(&self, horizon: Scn) -> usize {
        self.ends.values().filter(|e| **e <= horizon).count()
    }

    /// Ends the version at `pos` at `scn` if it is still current; true if
    /// this added an end.
    pub fn end_at(&mut self, pos: usize, scn: Scn) -> bool {
        match self.ends.entry(pos as u32) {
            std::collections::btree_map::Entry::Vacant(e) => {
                e.insert(scn);
                true
            }
            std::collections::btree_map::Entry::Occupied(_) => false,
        }
    }

    /// What the table keeps of this segment whatever is cached: each
    /// version's row id and begin (16 bytes) and the delete vector.
    pub fn metadata_bytes(&self) -> usize {
        self.data.len() * 16 + self.ends.len() * Self::END_BYTES
    }

    pub fn version(&self, spec: &TableSpec, pos: usize) -> Result<VersionRef<'static>> {
        Ok(VersionRef { end: self.end(pos), values: Cow::Owned(self.data.row(spec, pos)?.into()) })
    }

    /// Whether the version at `pos` is visible at `snapshot`.
    pub fn visible_at(&self, pos: usize, snapshot: Scn) -> bool {
        self.data.begin(pos) <= snapshot && snapshot < self.end(pos)
    }

    /// Whether every version in `range` is visible at `snapshot`, so the
    /// rows can be read without per-row checks.
    pub fn all_visible(&self, snapshot: Scn, range: std::ops::Range<usize>) -> bool {
        self.data.max_begin <= snapshot
            && self.ends.range(range.start as u32..range.end as u32).all(|(_, end)| *end > snapshot)
    }

    /// Which versions in `range` are visible at `snapshot` and not hidden by
    /// `hidden` (rows the reading transaction wrote itself).
    pub fn visibility(
        &self,
        snapshot: Scn,
        range: std::ops::Range<usize>,
        hidden: &dyn Fn(RowId) -> bool,
    ) -> BooleanArray {
        range.map(|pos| Some(self.visible_at(pos, snapshot) && !hidden(self.data.row_id(pos)))).collect()
    }

    /// The ends a checkpoint at `scn` persists (those at or before it).
    pub fn ends_upto(&self, scn: Scn) -> Vec<(u32, Scn)> {
        self.ends.iter().filter(|(_, e)| **e <= scn).map(|(p, e)| (*p, *e)).collect()
    }
}

/// A version as readers see it, from the row store or a segment.
#[derive(Debug, Clone)]
pub struct VersionRef<'a> {
    pub end: Scn,
    pub values: Cow<'a, [Value]>,
}

/// A segment is compacted once this share of its versions is dead.
const DEAD_SHARE_MIN: f64 = 0.2;

/// Whether enough of a segment is dead to rewrite it.
pub(crate) fn worth_compacting(frozen: &FrozenSegment, horizon: Scn) -> bool {
    let dead = frozen.ended_by(horizon);
    dead > 0 && dead as f64 >= DEAD_SHARE_MIN * frozen.data.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ColumnSpec;
    use rustydb_common::TableId;

    fn spec() -> TableSpec {
        TableSpec {
            id: TableId(9),
            columns: vec![
                ColumnSpec { name: "a".into(), ty: ColumnType::Int64, nullable: false },
                ColumnSpec { name: "b".into(), ty: ColumnType::Text, nullable: true },
            ],
            indexes: vec![],
        }
    }

    fn sample() -> (TableSpec, Segment) {
        let spec = spec();
        let r1: Row = vec![Value::Int64(1), Value::Text("x".into())].into();
        let r2: Row = vec![Value::Int64(2), Value::Null].into();
        let r3: Row = vec![Value::Int64(3), Value::Text("z".into())].into();
        let seg = Segment::build(&spec, &[(RowId(1), Scn(2), &r1), (RowId(1), Scn(5), &r2), (RowId(4), Scn(3), &r3)]);
        (spec, seg)
    }

    #[test]
    fn rows_and_search() {
        let (spec, seg) = sample();
        seg.validate(&spec).unwrap();
        assert_eq!(seg.max_begin, Scn(5));
        assert_eq!(seg.lower_bound(RowId(1)), 0);
        assert_eq!(seg.lower_bound(RowId(2)), 2);
        assert_eq!(seg.lower_bound(RowId(9)), 3);
        assert_eq!(seg.row(&spec, 1).unwrap()[..], [Value::Int64(2), Value::Null]);
    }

    #[test]
    fn visibility_follows_begin_and_end() {
        let (_, seg) = sample();
        let mut f = FrozenSegment::new(Arc::new(seg));
        f.end_at(0, Scn(5));
        f.end_at(0, Scn(7)); // already ended: the first end stays
        assert_eq!(f.end(0), Scn(5));
        let none = |_: RowId| false;
        let at = |s: u64| f.visibility(Scn(s), 0..3, &none).iter().map(|b| b.unwrap()).collect::<Vec<_>>();
        assert_eq!(at(2), [true, false, false]);
        assert_eq!(at(4), [true, false, true]);
        assert_eq!(at(5), [false, true, true]);
        assert!(!f.all_visible(Scn(5), 0..3));
        assert!(f.all_visible(Scn(5), 1..3));
        assert!(!f.all_visible(Scn(4), 1..3), "row 1's second version began at 5");
        assert_eq!(f.ends_upto(Scn(4)), vec![]);
        assert_eq!(f.ends_upto(Scn(5)), vec![(0, Scn(5))]);
    }

    #[test]
    fn zone_maps_skip_what_cannot_match() {
        let (_, seg) = sample();
        assert_eq!(seg.zones, vec![Some((Value::Int64(1), Value::Int64(3))), None], "text has no zone map");
        let f = |lo, hi| ZoneFilter { column: 0, lo, hi };
        use Bound::*;
        assert!(seg.may_match(&[f(Included(Value::Int64(3)), Unbounded)]));
        assert!(!seg.may_match(&[f(Excluded(Value::Int64(3)), Unbounded)]));
        assert!(!seg.may_match(&[f(Unbounded, Excluded(Value::Int64(1)))]));
        assert!(seg.may_match(&[f(Included(Value::Int64(2)), Included(Value::Int64(2)))]), "inside the range");
        assert!(seg.may_match(&[ZoneFilter { column: 1, lo: Included(Value::Text("zz".into())), hi: Unbounded }]));
    }

    #[test]
    fn remap_keeps_and_fills() {
        let (spec, seg) = sample();
        let mut wide = spec.clone();
        wide.columns.push(ColumnSpec { name: "c".into(), ty: ColumnType::Int32, nullable: true });
        let map = [ColumnSource::Existing(0), ColumnSource::Existing(1), ColumnSource::Fill(Value::Int32(7))];
        let seg = Arc::new(seg).remap(&wide, &map);
        seg.validate(&wide).unwrap();
        assert_eq!(seg.row(&wide, 2).unwrap()[..], [Value::Int64(3), Value::Text("z".into()), Value::Int32(7)]);
        assert_eq!(seg.zones[2], Some((Value::Int32(7), Value::Int32(7))), "a filled column's zone is its value");
        assert_eq!(seg.nulls, vec![0, 1, 0]);
    }
}
