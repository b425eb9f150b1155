//! The committed contents of one table: hot version chains, frozen segments,
//! and their indexes.
//!
//! ```text
//! rows:      RowId ──► [v3 (begin 9, end MAX)]          hot: not yet checkpointed
//! segments:  [seg 0: (row, begin, values…) + ends] …    frozen: see segment/mod.rs
//! frozen:    RowId ──► (segment, position) of its newest frozen version
//! index:     (key, RowId) set; an entry stays while any version has that key
//! ```
//!
//! Versions are appended by commits and never changed in place, except that
//! the commit that supersedes or deletes a version sets its `end` (in the
//! chain, or in the segment's delete vector once frozen). A version is
//! visible at snapshot `s` when `begin <= s < end`. A row's versions are
//! ordered by begin across both places: frozen ones are older than hot ones.
//! Index entries are never removed here (compaction will); lookups re-check
//! the key on the version that is visible, so a stale entry costs a probe,
//! never a wrong answer.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::array::ArrayRef;
use rustydb_common::{RowId, Scn};

use crate::rowstore::batch::value_at;
use crate::rowstore::index::KeyIndex;
use crate::rowstore::memory::version_bytes;
use crate::segment::bulk::{BULK_SEGMENT_ROWS_MIN, RowBatch, check_batch, segments_of};
use crate::segment::frozen_map::FrozenMap;
use crate::segment::worth_compacting;
use crate::segment::{FrozenSegment, Segment, VersionRef};
use crate::spec::{ColumnSource, TableSpec, remap_row};
use crate::value::{Row, Value};

/// Adds a version's index entries.
fn index_version(spec: &TableSpec, indexes: &mut [KeyIndex], row: RowId, values: &[Value]) {
    let mut key = Vec::new();
    for (idx, entries) in spec.indexes.iter().zip(indexes) {
        key.clear();
        key.extend(idx.columns.iter().map(|&c| values[c].clone()));
        entries.insert(&key, row);
    }
}

/// Empty indexes for `spec`, one per index, in its order.
fn empty_indexes(spec: &TableSpec) -> Vec<KeyIndex> {
    spec.indexes.iter().map(|idx| KeyIndex::new(spec, idx)).collect()
}

/// One committed version of a row in the row store.
#[derive(Debug, Clone)]
pub struct Version {
    pub begin: Scn,
    pub end: Scn,
    pub values: Row,
}

impl Version {
    /// Whether a snapshot at `snapshot` sees this version.
    pub fn visible_at(&self, snapshot: Scn) -> bool {
        self.begin <= snapshot && snapshot < self.end
    }

    fn as_ref(&self) -> VersionRef<'_> {
        VersionRef { end: self.end, values: Cow::Borrowed(&self.values) }
    }
}

/// The segment layout a scan saw at its start, kept for it while it runs.
/// Scans address segments by index between chunks, and a merge moves
/// versions from several segments into one (`background/merge.rs`): the segments a
/// merge replaces while scans of the layout before it run are retired, not
/// dropped, and those scans go on reading them ([`TableStore::segment_at`]).
/// Taken under the table's lock.
#[derive(Debug)]
pub(crate) struct LayoutPin {
    generation: u64,
    /// Scans of `generation` running.
    scans: Arc<AtomicUsize>,
}

impl Clone for LayoutPin {
    fn clone(&self) -> Self {
        self.scans.fetch_add(1, Ordering::SeqCst);
        LayoutPin { generation: self.generation, scans: self.scans.clone() }
    }
}

impl Drop for LayoutPin {
    fn drop(&mut self) {
        self.scans.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Segments a merge replaced while scans of the layout before it ran.
#[derive(Debug)]
struct Retired {
    /// The layout generation the segments belong to: scans of it, or of
    /// an older one, read them.
    generation: u64,
    /// Index of the first of `segments`.
    first: usize,
    /// As they were when the merge was installed: ends set later belong to
    /// commits after every snapshot those scans read at.
    segments: Vec<FrozenSegment>,
    /// Scans of `generation` running.
    scans: Arc<AtomicUsize>,
}

impl Retired {
    fn holds(&self, si: usize) -> bool {
        (self.first..self.first + self.segments.len()).contains(&si)
    }
}

/// Empty segments a table keeps in its list before compaction takes them
/// out (each takes a few hundred bytes, and planning a scan visits it).
pub(crate) const EMPTY_SEGMENTS_KEPT_MAX: usize = 16;

/// The committed contents of one table.
#[derive(Debug)]
pub struct TableStore {
    pub spec: Arc<TableSpec>,
    /// Versions not yet frozen into a segment.
    pub rows: BTreeMap<RowId, Vec<Version>>,
    /// Frozen versions, oldest segment first. Appended to, replaced in
    /// place (ALTER TABLE, compaction, merging), and rid of empty segments
    /// only while nothing holds a position ([`TableStore::drop_empty_segments`]).
    pub(crate) segments: Vec<FrozenSegment>,
    /// The newest frozen version of each row: (segment, position).
    frozen: FrozenMap,
    /// One entry set per index, parallel to `spec.indexes`.
    indexes: Vec<KeyIndex>,
    /// SCN of the newest commit that changed this table (cache validation).
    pub last_write: Scn,
    /// Bumped when a compaction moves versions within a segment: a scan
    /// between chunks then finds its place again by row id.
    pub epoch: u64,
    /// Bytes of the versions in `rows`, and of segments' columns no
    /// checkpoint has written yet (`rowstore/memory.rs`).
    hot_bytes: usize,
    unwritten_bytes: usize,
    /// Sum of the segments' `metadata_bytes`, kept as they change: commits
    /// read it twice per table they write, and a table's segment count
    /// grows with its checkpoints.
    segment_metadata_bytes: usize,
    /// The current segment layout: bumped by a merge that retires
    /// segments, and how many scans of it run ([`LayoutPin`]).
    layout_generation: u64,
    layout_scans: Arc<AtomicUsize>,
    /// Older layouts' segments still read by scans, oldest first.
    retired: Vec<Retired>,
}

impl TableStore {
    pub fn new(spec: TableSpec) -> Self {
        let indexes = empty_indexes(&spec);
        TableStore {
            spec: Arc::new(spec),
            rows: BTreeMap::new(),
            segments: Vec::new(),
            frozen: FrozenMap::default(),
            indexes,
            last_write: Scn::ZERO,
            epoch: 0,
            hot_bytes: 0,
            unwritten_bytes: 0,
            segment_metadata_bytes: 0,
            layout_generation: 0,
            layout_scans: Arc::default(),
            retired: Vec::new(),
        }
    }

    /// A table as a checkpoint left it: its segments and nothing hot.
    pub fn from_segments(spec: TableSpec, segments: Vec<FrozenSegment>) -> crate::error::Result<Self> {
        let mut t = TableStore::new(spec);
        for s in segments {
            t.push_segment(s)?;
        }
        Ok(t)
    }

    /// Keeps the segments' current layout for a scan (see [`LayoutPin`]).
    pub(crate) fn pin_layout(&self) -> LayoutPin {
        self.layout_scans.fetch_add(1, Ordering::SeqCst);
        LayoutPin { generation: self.layout_generation, scans: self.layout_scans.clone() }
    }

    /// Segment `si` as the scan holding `pin` saw the layout: retired by
    /// the first merge after the scan started, if one took it.
    pub(crate) fn segment_at(&self, pin: &LayoutPin, si: usize) -> &FrozenSegment {
        match self.retired.iter().find(|r| r.generation >= pin.generation && r.holds(si)) {
            Some(r) => &r.segments[si - r.first],
            None => &self.segments[si],
        }
    }

    /// How many of the retired segment sets no running scan reads any
    /// more. Scans of a generation read its retired segments and every
    /// later generation's, and no scan of an old generation starts, so
    /// these are a prefix with no scans left.
    fn unread_retired(&self) -> usize {
        self.retired.iter().take_while(|r| r.scans.load(Ordering::SeqCst) == 0).count()
    }

    /// Whether [`TableStore::drop_unread_retired`] has anything to do.
    pub(crate) fn has_unread_retired(&self) -> bool {
        self.unread_retired() > 0
    }

    /// Lets go of retired segments no running scan reads any more (their
    /// files go at the next checkpoint).
    pub(crate) fn drop_unread_retired(&mut self) {
        let unread = self.unread_retired();
        self.retired.drain(..unread);
    }

    /// Whether [`TableStore::drop_empty_segments`] has anything to do.
    pub(crate) fn has_empty_segments_to_drop(&self) -> bool {
        self.layout_scans.load(Ordering::SeqCst) == 0
            && self.retired.is_empty()
            && self.segments.iter().filter(|s| s.data.len() == 0).count() >= EMPTY_SEGMENTS_KEPT_MAX
    }

    /// Takes the empty segments compaction and merging left out of the
    /// list, renumbering the others, once there are at least
    /// [`EMPTY_SEGMENTS_KEPT_MAX`] and nothing addresses segments by index:
    /// no plan or scan keeps a layout, no segment is retired. (The
    /// checkpoint and compaction, which hold indexes between locks, run
    /// under the checkpoint lock, as the caller does.) Returns how many
    /// went.
    pub(crate) fn drop_empty_segments(&mut self) -> usize {
        if !self.has_empty_segments_to_drop() {
            return 0;
        }
        let empty = self.segments.iter().filter(|s| s.data.len() == 0).count();
        let mut new_index = Vec::with_capacity(self.segments.len());
        let mut kept = Vec::with_capacity(self.segments.len() - empty);
        for seg in std::mem::take(&mut self.segments) {
            new_index.push(kept.len() as u32);
            match seg.data.len() {
                0 => {
                    self.unwritten_bytes -= seg.charged;
                    self.segment_metadata_bytes -= seg.metadata_bytes();
                }
                _ => kept.push(seg),
            }
        }
        self.segments = kept;
        self.frozen.renumber(&new_index);
        self.epoch += 1;
        empty
    }

    /// What this table counts against the row store budget: hot versions
    /// and unwritten segments (`rowstore/memory.rs`).
    pub fn memory_bytes(&self) -> usize {
        self.hot_bytes + self.unwritten_bytes
    }

    /// What this table keeps for as long as its rows exist, whatever is
    /// cached: index entries, each segment's row ids and begins (16 bytes
    /// a version) and delete vector (retired ones' too, while scans read
    /// them), and where each row's frozen version is. It counts against
    /// the segment cache's budget (`segment/cache.rs`).
    pub fn metadata_bytes(&self) -> usize {
        debug_assert_eq!(
            self.segment_metadata_bytes,
            self.segments.iter().map(FrozenSegment::metadata_bytes).sum::<usize>(),
            "the running sum follows every change to the segments"
        );
        let retired: usize = self.retired.iter().flat_map(|r| &r.segments).map(FrozenSegment::metadata_bytes).sum();
        self.indexes.iter().map(KeyIndex::bytes).sum::<usize>()
            + self.segment_metadata_bytes
            + retired
            + self.frozen.bytes()
    }

    /// Adds a frozen segment: records where its rows are and indexes them.
    fn push_segment(&mut self, mut seg: FrozenSegment) -> crate::error::Result<()> {
        // Key columns first: a stored segment's may have to be read.
        let keys = segment_keys(&self.spec, &seg.data)?;
        if seg.file.is_none() {
            seg.charged = seg.data.resident_bytes();
            self.unwritten_bytes += seg.charged;
        }
        let si = self.segments.len() as u32;
        self.frozen.add_segment(si, &seg.data);
        self.segment_metadata_bytes += seg.metadata_bytes();
        self.segments.push(seg);
        self.add_segment_keys(si as usize, keys);
        Ok(())
    }

    /// Indexes the versions of segment `si` from its key columns.
    fn add_segment_keys(&mut self, si: usize, keys: Vec<Vec<ArrayRef>>) {
        let seg = &self.segments[si].data;
        let mut key = Vec::new();
        for ((idx, entries), columns) in self.spec.indexes.iter().zip(self.indexes.iter_mut()).zip(keys) {
            for pos in 0..seg.len() {
                key.clear();
                key.extend(idx.columns.iter().zip(&columns).map(|(&c, a)| {
                    value_at(a.as_ref(), self.spec.columns[c].ty, pos).expect("segment columns match the spec")
                }));
                entries.insert(&key, seg.row_id(pos));
            }
        }
    }

    /// Positions of the frozen versions of `row`, newest first. Lazy: a
    /// reader usually wants the newest, and older segments are searched
    /// one by one only when it does not do.
    fn frozen_versions(&self, row: RowId) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.frozen.get(row).into_iter().flat_map(move |(si, pos)| {
            let (si, pos) = (si as usize, pos as usize);
            let seg = &self.segments[si].data;
            let newest = (0..=pos).rev().take_while(move |&p| seg.row_id(p) == row).map(move |p| (si, p));
            let older = (0..si).rev().flat_map(move |older| {
                let seg = &self.segments[older].data;
                let first = seg.lower_bound(row);
                let n = (first..seg.len()).take_while(|&p| seg.row_id(p) == row).count();
                (first..first + n).rev().map(move |p| (older, p))
            });
            newest.chain(older)
        })
    }

    fn frozen_version(&self, (si, pos): (usize, usize)) -> crate::error::Result<VersionRef<'_>> {
        self.segments[si].version(&self.spec, pos)
    }

    /// The version of `row` visible at `snapshot`. Fails only when a
    /// stored segment cannot be read.
    pub fn visible(&self, row: RowId, snapshot: Scn) -> crate::error::Result<Option<VersionRef<'_>>> {
        if let Some(chain) = self.rows.get(&row) {
            if let Some(v) = chain.iter().rev().find(|v| v.visible_at(snapshot)) {
                return Ok(Some(v.as_ref()));
            }
            // Frozen versions all ended by the time the oldest hot one began.
            if chain.first().is_some_and(|v| v.begin <= snapshot) {
                return Ok(None);
            }
        }
        let found = self.frozen_versions(row).find(|loc| self.segments[loc.0].visible_at(loc.1, snapshot));
        found.map(|loc| self.frozen_version(loc)).transpose()
    }

    /// The newest committed version of `row`, live or ended.
    pub fn latest(&self, row: RowId) -> crate::error::Result<Option<VersionRef<'_>>> {
        if let Some(v) = self.rows.get(&row).and_then(|c| c.last()) {
            return Ok(Some(v.as_ref()));
        }
        let Some((si, pos)) = self.frozen.get(row) else { return Ok(None) };
        self.frozen_version((si as usize, pos as usize)).map(Some)
    }

    /// Begin and end of the newest committed version of `row` (what a
    /// writer checks), without reading its values.
    pub fn latest_span(&self, row: RowId) -> Option<(Scn, Scn)> {
        if let Some(v) = self.rows.get(&row).and_then(|c| c.last()) {
            return Some((v.begin, v.end));
        }
        let (si, pos) = self.frozen.get(row)?;
        let seg = &self.segments[si as usize];
        Some((seg.data.begin(pos as usize), seg.end(pos as usize)))
    }

    /// Every row id with a committed version, in order.
    pub fn row_ids(&self) -> Vec<RowId> {
        let mut ids: Vec<RowId> = self.frozen.iter().map(|(id, _)| id).collect();
        ids.extend(self.rows.keys().copied().filter(|id| !self.frozen.contains(*id)));
        ids.sort_unstable();
        ids
    }

    /// Rows whose index entries fall in the key range (may include stale ones).
    pub fn index_range(&self, index_pos: usize, lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> Vec<RowId> {
        self.indexes[index_pos].range(lo, hi)
    }

    /// Ends the newest version of `row` at `scn` if it is live.
    fn end_latest(&mut self, row: RowId, scn: Scn) {
        if let Some(last) = self.rows.get_mut(&row).and_then(|c| c.last_mut()) {
            if last.end == Scn::MAX {
                last.end = scn;
            }
            return;
        }
        if let Some((si, pos)) = self.frozen.get(row) {
            self.end_frozen(si, pos, scn);
        }
    }

    /// Ends the frozen version at `pos` of segment `si` (if still live).
    fn end_frozen(&mut self, si: u32, pos: u32, scn: Scn) {
        if self.segments[si as usize].end_at(pos as usize, scn) {
            self.segment_metadata_bytes += FrozenSegment::END_BYTES;
        }
    }

    /// Appends a version created at `scn` and indexes it.
    pub fn put(&mut self, row: RowId, values: Row, scn: Scn) {
        self.last_write = scn;
        index_version(&self.spec, &mut self.indexes, row, &values);
        self.end_latest(row, scn);
        self.hot_bytes += version_bytes(&values);
        let version = Version { begin: scn, end: Scn::MAX, values };
        match self.rows.entry(row) {
            Entry::Occupied(mut chain) => chain.get_mut().push(version),
            // Exactly one version's room: most rows never get a second.
            Entry::Vacant(slot) => {
                slot.insert(vec![version]);
            }
        }
    }

    /// Adds the first version of a new row (an INSERT's fresh id): there is
    /// no earlier version to end, so bulk loads skip looking for one.
    pub fn put_new(&mut self, row: RowId, values: Row, scn: Scn) {
        match self.rows.entry(row) {
            Entry::Vacant(slot) => {
                self.last_write = scn;
                index_version(&self.spec, &mut self.indexes, row, &values);
                self.hot_bytes += version_bytes(&values);
                slot.insert(vec![Version { begin: scn, end: Scn::MAX, values }]);
            }
            Entry::Occupied(_) => self.put(row, values, scn),
        }
    }

    /// Adds rows inserted as columns (new row ids, ascending) as versions
    /// begun at `scn`; see `segment/bulk.rs`. Enough of them become segments of
    /// their own; fewer go into the row store like inserted rows, for a
    /// checkpoint to freeze with others, so that many small loads do not
    /// make many small segments. Commit and replay decide alike, from the
    /// same batches.
    pub fn append_batches(&mut self, batches: Vec<RowBatch>, scn: Scn) -> crate::error::Result<()> {
        let rows: usize = batches.iter().map(|b| b.len).sum();
        if rows == 0 {
            return Ok(());
        }
        if rows < BULK_SEGMENT_ROWS_MIN {
            for b in batches {
                check_batch(&self.spec, &b)?;
                for (pos, values) in b.rows(&self.spec)?.into_iter().enumerate() {
                    self.put_new(b.row_id(pos), values, scn);
                }
            }
            return Ok(());
        }
        for seg in segments_of(&self.spec, batches, scn)? {
            self.push_segment(FrozenSegment::new(Arc::new(seg)))?;
        }
        self.last_write = scn;
        Ok(())
    }

    /// Segments worth compacting below `horizon` (`background/compaction.rs`).
    pub fn compaction_candidates(&self, horizon: Scn) -> Vec<usize> {
        (0..self.segments.len()).filter(|&si| worth_compacting(&self.segments[si], horizon)).collect()
    }

    /// Puts `new`, built by compacting `old` and stored in `file`, in place
    /// of segment `si`, unless the segment changed since (ALTER TABLE): then
    /// false. Ends set since the copy move to the versions' new positions.
    pub fn replace_compacted(&mut self, si: usize, old: &Arc<Segment>, new: Segment, file: String) -> bool {
        let current = &self.segments[si];
        if !Arc::ptr_eq(&current.data, old) {
            return false;
        }
        let mut ends = BTreeMap::new();
        let mut np = 0;
        for op in 0..old.len() {
            if np < new.len() && (new.row_id(np), new.begin(np)) == (old.row_id(op), old.begin(op)) {
                if let Some(end) = current.ended_at(op) {
                    ends.insert(np as u32, end);
                }
                np += 1;
            }
        }
        debug_assert_eq!(np, new.len(), "the compacted versions are a subsequence of the old ones");
        self.frozen.replace_segment(si as u32, old, &new);
        self.unwritten_bytes -= current.charged;
        self.segment_metadata_bytes -= current.metadata_bytes();
        let mut new = FrozenSegment::with_ends(Arc::new(new), ends);
        new.file = Some(file);
        self.segment_metadata_bytes += new.metadata_bytes();
        self.segments[si] = new;
        self.epoch += 1;
        true
    }

    /// Installs `merged`, the versions of segments `run` (as `sources`
    /// were when copied), at `run.start` and leaves the others empty;
    /// `origin[p]` is where merged version `p` was: (offset in `run`,
    /// position). Ends set since the copy are carried over. Scans running
    /// go on reading the segments replaced (see [`LayoutPin`]). False, and
    /// nothing changed, when a source was replaced meanwhile (ALTER TABLE).
    pub(crate) fn replace_merged(
        &mut self,
        run: std::ops::Range<usize>,
        sources: &[Arc<Segment>],
        merged: Segment,
        origin: &[(u32, u32)],
        file: String,
    ) -> bool {
        debug_assert_eq!(run.len(), sources.len());
        let same = self.segments[run.clone()].iter().zip(sources).all(|(s, old)| Arc::ptr_eq(&s.data, old));
        if !same {
            return false;
        }
        let mut ends = BTreeMap::new();
        for (p, &(k, pos)) in origin.iter().enumerate() {
            if let Some(end) = self.segments[run.start + k as usize].ended_at(pos as usize) {
                ends.insert(p as u32, end);
            }
        }
        let olds: Vec<&Segment> = sources.iter().map(|s| &**s).collect();
        self.frozen.merge_segments(run.start as u32..run.end as u32, &olds, &merged);
        let mut new = FrozenSegment::with_ends(Arc::new(merged), ends);
        new.file = Some(file);
        let mut new = Some(new);
        let mut replaced = Vec::with_capacity(run.len());
        for si in run.clone() {
            let with = new.take().unwrap_or_else(|| FrozenSegment::new(Arc::new(Segment::build(&self.spec, &[]))));
            let mut old = std::mem::replace(&mut self.segments[si], with);
            self.unwritten_bytes -= std::mem::take(&mut old.charged);
            self.segment_metadata_bytes -= old.metadata_bytes();
            self.segment_metadata_bytes += self.segments[si].metadata_bytes();
            replaced.push(old);
        }
        // Scans of older layouts read this one's segments where no earlier
        // merge retired theirs, so these are kept for them too.
        self.drop_unread_retired();
        if self.layout_scans.load(Ordering::SeqCst) > 0 || !self.retired.is_empty() {
            // Pins are taken under the table's lock, so none of this
            // generation starts now; the running ones keep the count.
            let scans = std::mem::take(&mut self.layout_scans);
            self.retired.push(Retired {
                generation: self.layout_generation,
                first: run.start,
                segments: replaced,
                scans,
            });
            self.layout_generation += 1;
        }
        self.epoch += 1;
        true
    }

    /// Ends the live version of `row` at `scn`.
    pub fn end(&mut self, row: RowId, scn: Scn) {
        self.last_write = scn;
        self.end_latest(row, scn);
    }

    /// Ends every live version at `scn` (TRUNCATE keeps history for old snapshots).
    pub fn end_all(&mut self, scn: Scn) {
        self.last_write = scn;
        for chain in self.rows.values_mut() {
            if let Some(last) = chain.last_mut()
                && last.end == Scn::MAX
            {
                last.end = scn;
            }
        }
        // Only a row's newest frozen version can be live, and only if the
        // row has no hot versions (those were ended above).
        let live: Vec<(u32, u32)> =
            self.frozen.iter().filter(|(row, _)| !self.rows.contains_key(row)).map(|(_, loc)| loc).collect();
        for (si, pos) in live {
            self.end_frozen(si, pos, scn);
        }
    }

    /// Changes the layout: remaps every version and rebuilds the indexes.
    /// Remapped segments are written anew by the next checkpoint. Fails,
    /// changing nothing, when a stored segment's key columns cannot be read.
    pub fn alter(&mut self, spec: TableSpec, map: &[ColumnSource]) -> crate::error::Result<()> {
        let remapped: Vec<Arc<Segment>> = self.segments.iter().map(|s| Arc::new(s.data.remap(&spec, map))).collect();
        let keys = remapped.iter().map(|seg| segment_keys(&spec, seg)).collect::<crate::error::Result<Vec<_>>>()?;
        self.hot_bytes = 0;
        for chain in self.rows.values_mut() {
            for v in chain.iter_mut() {
                v.values = remap_row(map, &v.values);
                self.hot_bytes += version_bytes(&v.values);
            }
        }
        for (seg, data) in self.segments.iter_mut().zip(remapped) {
            seg.data = data;
            seg.file = None;
            seg.dv_file = None;
            seg.dv_persisted = 0;
        }
        self.spec = Arc::new(spec);
        self.indexes = empty_indexes(&self.spec);
        for (row, chain) in &self.rows {
            for v in chain {
                index_version(&self.spec, &mut self.indexes, *row, &v.values);
            }
        }
        for (si, keys) in keys.into_iter().enumerate() {
            self.add_segment_keys(si, keys);
        }
        Ok(())
    }

    /// Builds the next segment of hot versions a checkpoint at `scn`
    /// freezes (those that began at or before it), from rows after `after`;
    /// returns it with the last row id looked at, or `None` when no such
    /// version is left. Run under the table's read lock, one segment at a
    /// time so commits to the table wait for one segment's worth at most;
    /// [`TableStore::install`] moves the versions once they are stored.
    pub fn capture(&self, scn: Scn, after: Option<RowId>, max_rows: usize) -> Option<(Segment, RowId)> {
        let mut versions: Vec<(RowId, Scn, &[Value])> = Vec::new();
        let mut last = None;
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        for (row, chain) in self.rows.range((start, Bound::Unbounded)) {
            last = Some(*row);
            for v in chain.iter().take_while(|v| v.begin <= scn) {
                versions.push((*row, v.begin, &v.values));
            }
            // A row's versions stay in one segment (readers expect them
            // consecutive), so cut only between rows.
            if versions.len() >= max_rows {
                break;
            }
        }
        (!versions.is_empty()).then(|| (Segment::build(&self.spec, &versions), last.expect("a row was looked at")))
    }

    /// Records that segment `si` is stored in `file`: its columns are the
    /// segment cache's from now on, no longer counted here.
    pub fn mark_written(&mut self, si: usize, file: String) {
        let seg = &mut self.segments[si];
        seg.file = Some(file);
        self.unwritten_bytes -= std::mem::take(&mut seg.charged);
    }

    /// Moves the versions `capture(scn, ..)` copied into `segments` out of
    /// the row store, carrying over ends set since the capture.
    pub fn install(&mut self, scn: Scn, segments: Vec<FrozenSegment>) {
        for mut seg in segments {
            let si = self.segments.len() as u32;
            let mut pos = 0;
            while pos < seg.data.len() {
                let row = seg.data.row_id(pos);
                let chain = self.rows.get_mut(&row).expect("captured rows stay in the row store until installed");
                let frozen = chain.iter().take_while(|v| v.begin <= scn).count();
                for (i, v) in chain.drain(..frozen).enumerate() {
                    debug_assert_eq!(v.begin, seg.data.begin(pos + i), "install matches the capture");
                    self.hot_bytes -= version_bytes(&v.values);
                    if v.end != Scn::MAX {
                        seg.end_at(pos + i, v.end);
                    }
                }
                if chain.is_empty() {
                    self.rows.remove(&row);
                }
                pos += frozen;
            }
            // A dense run of new rows is recorded as one range.
            self.frozen.add_segment(si, &seg.data);
            self.segment_metadata_bytes += seg.metadata_bytes();
            self.segments.push(seg);
        }
    }
}

/// Per index of `spec`, the key columns of `seg` (a stored segment's are
/// read through the cache).
fn segment_keys(spec: &TableSpec, seg: &Segment) -> crate::error::Result<Vec<Vec<ArrayRef>>> {
    spec.indexes.iter().map(|idx| seg.columns(&idx.columns)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ColumnSpec;
    use crate::value::ColumnType;
    use rustydb_common::TableId;

    fn row(v: i64) -> Row {
        vec![Value::Int64(v)].into()
    }

    /// A table of one nullable Int64 column, `v`.
    fn spec() -> TableSpec {
        TableSpec {
            id: TableId(1),
            columns: vec![ColumnSpec { name: "v".into(), ty: ColumnType::Int64, nullable: true }],
            indexes: vec![],
        }
    }

    fn value(t: &TableStore, r: u64, at: u64) -> Option<i64> {
        t.visible(RowId(r), Scn(at)).unwrap().map(|v| match v.values[0] {
            Value::Int64(x) => x,
            _ => unreachable!(),
        })
    }

    #[test]
    fn capture_in_segments_and_install_keeps_every_version() {
        let mut t = TableStore::new(spec());
        for i in 1..=10 {
            t.put(RowId(i), row(i as i64), Scn(i));
        }
        t.put(RowId(3), row(33), Scn(11));
        t.end(RowId(4), Scn(12));
        t.put(RowId(11), row(11), Scn(12));
        let (scn, mut after, mut segments) = (Scn(11), None, 0);
        while let Some((seg, last)) = t.capture(scn, after, 3) {
            assert!(seg.len() >= 3 || after.is_some(), "cut only between rows, at 3 versions");
            t.install(scn, vec![FrozenSegment::new(Arc::new(seg))]);
            after = Some(last);
            segments += 1;
        }
        assert_eq!(segments, 4);
        assert_eq!(t.rows.keys().copied().collect::<Vec<_>>(), [RowId(11)], "only the version begun after the cut");
        assert_eq!((value(&t, 3, 10), value(&t, 3, 11)), (Some(3), Some(33)));
        assert_eq!((value(&t, 4, 11), value(&t, 4, 12)), (Some(4), None), "the end set after the cut is kept");
        t.put(RowId(5), row(55), Scn(13));
        assert_eq!((value(&t, 5, 12), value(&t, 5, 13)), (Some(5), Some(55)));
        assert_eq!(t.latest_span(RowId(5)).map(|v| v.0), Some(Scn(13)));
        t.end_all(Scn(14));
        assert!((1..=11).all(|r| value(&t, r, 14).is_none()));
        assert_eq!(value(&t, 7, 13), Some(7));
        assert_eq!(t.row_ids().len(), 11);
    }

    /// Scans read the segments as they were when they started, across
    /// several merges; retired segments go once no scan reads them.
    #[test]
    fn scans_read_the_layout_they_started_with_across_merges() {
        let spec = spec();
        let values: Vec<Row> = (0..60).map(row).collect();
        let versions = |rows: std::ops::Range<u64>| -> Vec<(RowId, Scn, &[Value])> {
            rows.map(|r| (RowId(r), Scn(1), &values[r as usize][..])).collect()
        };
        let segments =
            (0..6).map(|i| FrozenSegment::new(Arc::new(Segment::build(&spec, &versions(i * 10..i * 10 + 10)))));
        let mut t = TableStore::from_segments(spec.clone(), segments.collect()).unwrap();
        // Merges segments `first` and `first + 1`, of 10 rows each.
        let merge = |t: &mut TableStore, first: usize| {
            let sources: Vec<Arc<Segment>> = t.segments[first..first + 2].iter().map(|s| s.data.clone()).collect();
            let merged = Segment::build(&spec, &versions(first as u64 * 10..first as u64 * 10 + 20));
            let origin: Vec<(u32, u32)> = (0..2).flat_map(|k| (0..10).map(move |p| (k, p))).collect();
            assert!(t.replace_merged(first..first + 2, &sources, merged, &origin, format!("m{first}")));
        };
        let lens =
            |t: &TableStore, pin: &LayoutPin| (0..6).map(|si| t.segment_at(pin, si).data.len()).collect::<Vec<_>>();

        let old = t.pin_layout();
        merge(&mut t, 0);
        merge(&mut t, 2);
        assert_eq!(lens(&t, &old), [10; 6], "two merges after the scan started");
        let mid = t.pin_layout();
        merge(&mut t, 4);
        let now = t.pin_layout();
        assert_eq!(lens(&t, &old), [10; 6]);
        assert_eq!(lens(&t, &mid), [20, 0, 20, 0, 10, 10]);
        assert_eq!(lens(&t, &now), [20, 0, 20, 0, 20, 0]);
        drop(mid);
        t.drop_unread_retired();
        assert_eq!(lens(&t, &old), [10; 6], "the older scan still reads the later merge's sources");
        drop(old);
        t.drop_unread_retired();
        assert!(t.retired.is_empty() && !t.has_unread_retired());
        assert_eq!(lens(&t, &now), [20, 0, 20, 0, 20, 0]);
    }
}
