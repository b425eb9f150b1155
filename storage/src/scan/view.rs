//! Reading through a [`ReadView`]: committed versions visible at the snapshot,
//! overlaid by the transaction's own writes.
//!
//! A scan walks committed rows in row-id order, then the transaction's own
//! inserts, in chunks: each chunk takes the table's read lock only while it
//! copies at most `max_rows` rows into Arrow arrays, so a long scan never
//! blocks commits for long and never holds all rows in memory at once.

use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{ArrayRef, BooleanArray};
use rustydb_common::{IndexId, RowId, Scn, TableId};

use arrow::compute::filter;

use crate::error::{Result, StorageError};
use crate::mvcc::snapshot::SnapshotPin;
use crate::mvcc::transaction::{TableWrites, Write, WriteSet};
use crate::rowstore::batch::{column_array, row_id_array};
use crate::rowstore::table::{LayoutPin, TableStore};
use crate::segment::{Segment, ZoneFilter, existing_sources, fill_array};
use crate::spec::{ColumnSource, IndexSpec, TableSpec, index_key, remap_row};
use crate::storage::Storage;
use crate::value::{Row, Value};

/// A read-only view: a snapshot plus the owning transaction's writes.
#[derive(Clone)]
pub struct ReadView {
    pub(crate) storage: Arc<Storage>,
    pub(crate) snapshot: Scn,
    pub(crate) writes: Arc<WriteSet>,
    /// Keeps what the snapshot reads from compaction while the view lives
    /// (a query's stream may outlive its transaction).
    pub(crate) _pin: Arc<SnapshotPin>,
}

impl std::fmt::Debug for ReadView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ReadView(snapshot {})", self.snapshot)
    }
}

/// Planning estimates for one column: see [`ReadView::column_estimates`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnEstimate {
    /// The smallest and largest frozen value, when every segment holding
    /// non-null values has a zone map for the column.
    pub bounds: Option<(Value, Value)>,
    /// NULLs among the frozen versions.
    pub nulls: usize,
}

/// Where a chunked scan continues.
///
/// Frozen segments come first, then hot rows in row-id order, then the
/// transaction's own rows. A checkpoint may freeze hot rows while a scan is
/// between chunks; the hot stage notices new segments and reads the part of
/// them it has not passed yet (`resume`) before going on.
#[derive(Debug, Clone, Default)]
pub struct ScanCursor {
    at: ScanAt,
    /// Held from the scan's first chunk until it is done: the scan reads
    /// the segments in the layout it first saw, whatever a merge moves
    /// meanwhile (it addresses them by index between chunks).
    pin: Option<LayoutPin>,
}

impl ScanCursor {
    /// Whether the scan has returned its last chunk.
    pub fn is_done(&self) -> bool {
        self.at == ScanAt::Done
    }

    /// Ends the scan: later chunks are none, and its segments may change
    /// layout again.
    pub fn finish(&mut self) {
        *self = ScanCursor { at: ScanAt::Done, pin: None };
    }
}

/// The position of a [`ScanCursor`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum ScanAt {
    /// Not started.
    #[default]
    Start,
    /// Segment `segment` from position `pos`, up to segment `end`
    /// (exclusive); with `resume`, only rows after that row id, and hot
    /// rows after it next. `after` is the last row read from this segment
    /// and `epoch` the table's when `pos` was taken: after a compaction
    /// moved versions (a new epoch) the scan goes on after `after`.
    /// Chunks end between rows, so that is exact. Without `resume`, the
    /// partition reads only stretches it `claimed` (see [`ScanPart`]),
    /// each ending before row `until` (at the segment's end without).
    Frozen {
        segment: usize,
        pos: usize,
        end: usize,
        resume: Option<RowId>,
        after: Option<RowId>,
        epoch: u64,
        claimed: bool,
        until: Option<RowId>,
    },
    /// Hot rows after `after`; the table had `segments` segments when the
    /// frozen stage ended.
    Hot {
        after: Option<RowId>,
        segments: usize,
    },
    /// The transaction's own rows after this row id.
    Own(Option<RowId>),
    /// The transaction's own rows inserted as columns: batch `batch` from
    /// position `pos`.
    OwnBatch {
        batch: usize,
        pos: usize,
    },
    Done,
}

/// Which share of a table one partition of a scan reads. The partitions of
/// a scan share one [`SegmentClaims`] and each claims the next stretch of
/// a segment (a row group, at most [`CLAIM_ROWS`] rows) whenever it
/// finishes one. Dealt out in advance, a partition whose core was taken by
/// other work (a writer's commits, beside analytic queries) kept its
/// share, and the query waited for it while the other partitions sat
/// idle. Partition 0 also reads hot and own rows, and segments added later
/// (their rows were hot when the scan was planned).
#[derive(Debug, Clone)]
pub struct ScanPart {
    index: usize,
    /// `None`: the only partition, reading every segment in turn.
    claims: Option<Arc<SegmentClaims>>,
}

impl ScanPart {
    /// The whole table, in one partition (segments as at its first chunk).
    pub const ALL: ScanPart = ScanPart { index: 0, claims: None };

    /// Partition `index` of the scan whose partitions share `claims`.
    pub fn new(index: usize, claims: Arc<SegmentClaims>) -> Self {
        ScanPart { index, claims: Some(claims) }
    }

    /// The segments planned: later ones are partition 0's.
    fn planned_segments(&self) -> usize {
        self.claims.as_ref().map_or(usize::MAX, |c| c.segments)
    }

    /// The segment layout this partition reads: the plan's when it has
    /// claims (the execution's partitions share what is left to claim by
    /// segment index, so they share one layout), else (the only partition,
    /// or a table the plan did not see yet) taken under the table's lock
    /// at the first chunk.
    fn pin_layout(&self, base: &TableStore) -> LayoutPin {
        match &self.claims {
            Some(claims) => claims.pin.get_or_init(|| base.pin_layout()).clone(),
            None => base.pin_layout(),
        }
    }

    /// Where to read next, when the cursor would go on at the start of
    /// `segment`: that whole segment for the only partition, else the next
    /// stretch nobody claimed (a segment at or past `end` once none is left).
    fn claim(&self, base: &TableStore, layout: &LayoutPin, segment: usize, end: usize) -> Claim {
        let Some(claims) = &self.claims else { return Claim { segment, from: None, until: None } };
        let mut next = claims.next.lock();
        loop {
            let (segment, from) = *next;
            if segment >= end {
                return Claim { segment: end, from: None, until: None };
            }
            let data = &base.segment_at(layout, segment).data;
            let len = data.len();
            let start = from.map_or(0, |r| data.lower_bound(r));
            if start >= len {
                *next = (segment + 1, None);
                continue;
            }
            // Stretches end between rows (a row's versions are read in one
            // part), so they are named by row ids, which stay where they
            // are when a compaction rewrites the segment.
            let mut stop = data.group_end(start).min(start + CLAIM_ROWS);
            while !data.row_starts_at(stop) {
                stop += 1;
            }
            let until = (stop < len).then(|| data.row_id(stop));
            *next = match until {
                Some(u) => (segment, Some(u)),
                None => (segment + 1, None),
            };
            return Claim { segment, from, until };
        }
    }

    /// Where the cursor goes once the part it read ends at the end of its
    /// stretch in `segment`: another claim, or the next segment.
    fn after_stretch(&self, segment: usize, end: usize, resume: Option<RowId>, epoch: u64) -> ScanAt {
        match (&self.claims, resume) {
            (Some(_), None) => {
                ScanAt::Frozen { segment, pos: 0, end, resume, after: None, epoch, claimed: false, until: None }
            }
            _ => segment_start(segment + 1, end, resume, epoch),
        }
    }

    /// Partition 0 reads the rows that are not in the planned segments.
    fn reads_the_rest(&self) -> bool {
        self.index == 0
    }
}

/// The segments a scan was planned over: how many there were, in the
/// layout they had, which is kept (see [`LayoutPin`]) for as long as the
/// plan is: its executions read that layout, and the count stays true of
/// it (compaction may drop empty segments from the list, renumbering the
/// rest, only while no layout is kept).
#[derive(Debug, Clone, Default)]
pub struct PlannedSegments {
    count: usize,
    layout: Option<LayoutPin>,
}

impl PlannedSegments {
    pub fn count(&self) -> usize {
        self.count
    }
}

/// The segments one execution of a scan reads, handed to its partitions
/// one at a time. Every partition of the execution must share it: its
/// segment count is fixed when the scan is planned, or a partition that
/// starts after a checkpoint would read rows partition 0 reads too.
#[derive(Debug)]
pub struct SegmentClaims {
    segments: usize,
    /// The segment and row id the next stretch starts at (`None`: the
    /// segment's start).
    next: parking_lot::Mutex<(usize, Option<RowId>)>,
    /// The layout all partitions read: the plan's.
    pin: std::sync::OnceLock<LayoutPin>,
}

impl SegmentClaims {
    /// Claims over the segments `planned` names, in their layout.
    pub fn new(planned: &PlannedSegments) -> Arc<Self> {
        let pin = std::sync::OnceLock::new();
        if let Some(layout) = &planned.layout {
            let _ = pin.set(layout.clone());
        }
        Arc::new(SegmentClaims { segments: planned.count, next: parking_lot::Mutex::new((0, None)), pin })
    }
}

/// Most rows a partition claims at once: small enough that the partitions
/// finish close together when one of them loses its core for a while,
/// large enough that claiming (a lock) is rare.
const CLAIM_ROWS: usize = 128 * 1024;

/// A stretch of a segment one partition reads: rows from `from` (the
/// segment's start without) to before `until` (its end without).
struct Claim {
    segment: usize,
    from: Option<RowId>,
    until: Option<RowId>,
}

/// A chunk of scanned rows: their ids and the projected column arrays.
#[derive(Debug)]
pub struct Chunk {
    pub row_ids: ArrayRef,
    pub columns: Vec<ArrayRef>,
    pub len: usize,
}

impl Chunk {
    /// The row id of row `i` of the chunk.
    pub fn row_id(&self, i: usize) -> RowId {
        let ids = self.row_ids.as_any().downcast_ref::<arrow::array::UInt64Array>().expect("row ids are built as u64");
        RowId(ids.value(i))
    }
}

/// A key range over an index; keys are compared as whole tuples.
#[derive(Debug, Clone)]
pub struct KeyRange {
    pub lo: Bound<Vec<Value>>,
    pub hi: Bound<Vec<Value>>,
}

impl KeyRange {
    /// Exactly one key.
    pub fn eq(key: Vec<Value>) -> Self {
        KeyRange { lo: Bound::Included(key.clone()), hi: Bound::Included(key) }
    }

    pub(crate) fn contains(&self, key: &[Value]) -> bool {
        let above = match &self.lo {
            Bound::Included(k) => key >= &k[..],
            Bound::Excluded(k) => key > &k[..],
            Bound::Unbounded => true,
        };
        let below = match &self.hi {
            Bound::Included(k) => key <= &k[..],
            Bound::Excluded(k) => key < &k[..],
            Bound::Unbounded => true,
        };
        above && below
    }
}

fn as_ref(b: &Bound<Vec<Value>>) -> Bound<&[Value]> {
    match b {
        Bound::Included(k) => Bound::Included(&k[..]),
        Bound::Excluded(k) => Bound::Excluded(&k[..]),
        Bound::Unbounded => Bound::Unbounded,
    }
}

impl ReadView {
    /// The snapshot this view reads at.
    pub fn snapshot(&self) -> Scn {
        self.snapshot
    }

    fn own(&self, table: TableId) -> Option<&TableWrites> {
        self.writes.tables.get(&table)
    }

    /// The table's layout as this view sees it.
    pub fn spec(&self, table: TableId) -> Result<Arc<TableSpec>> {
        match self.own(table) {
            Some(tw) if tw.dropped => Err(StorageError::NoSuchTable(table)),
            Some(tw) => Ok(tw.spec.clone()),
            None => Ok(self.storage.table(table)?.read().spec.clone()),
        }
    }

    fn base(&self, table: TableId) -> Result<Option<Arc<parking_lot::RwLock<TableStore>>>> {
        match self.own(table) {
            Some(tw) if tw.dropped => Err(StorageError::NoSuchTable(table)),
            Some(tw) if tw.base_hidden => Ok(None),
            _ => self.storage.table(table).map(Some),
        }
    }

    fn base_row(&self, tw: Option<&TableWrites>, values: &[Value]) -> Row {
        match tw.and_then(|t| t.map.as_ref()) {
            Some(map) => remap_row(map, values),
            None => values.into(),
        }
    }

    /// The visible version of one row.
    pub fn get(&self, table: TableId, row: RowId) -> Result<Option<Row>> {
        let tw = self.own(table);
        if let Some(w) = tw.and_then(|t| t.rows.get(&row)) {
            return Ok(match w {
                Write::Insert(r) | Write::Update(r) => Some(r.clone()),
                Write::Delete => None,
            });
        }
        if let Some(r) = tw.and_then(|t| t.batch_row(row)) {
            return Ok(Some(r));
        }
        let Some(base) = self.base(table)? else { return Ok(None) };
        let base = base.read();
        Ok(base.visible(row, self.snapshot)?.map(|v| self.base_row(tw, &v.values)))
    }

    /// Every visible row (for checks that must see them all).
    pub fn rows(&self, table: TableId) -> Result<Vec<(RowId, Row)>> {
        let tw = self.own(table);
        let mut out = Vec::new();
        if let Some(base) = self.base(table)? {
            let base = base.read();
            for id in base.row_ids() {
                if tw.is_some_and(|t| t.rows.contains_key(&id)) {
                    continue;
                }
                if let Some(v) = base.visible(id, self.snapshot)? {
                    out.push((id, self.base_row(tw, &v.values)));
                }
            }
        }
        if let Some(tw) = tw {
            for (id, w) in &tw.rows {
                if let Write::Insert(r) | Write::Update(r) = w {
                    out.push((*id, r.clone()));
                }
            }
            for b in &tw.batches {
                out.extend((0..b.len).map(|pos| (b.row_id(pos), b.row(&tw.spec, pos))));
            }
        }
        Ok(out)
    }

    /// The next chunk of up to `max_rows` visible rows, projected; more
    /// when a row group had to be read from its segment file (the rest of
    /// that group then comes in one chunk, so it is decoded once however
    /// little the segment cache keeps).
    pub fn scan_chunk(
        &self,
        table: TableId,
        cursor: &mut ScanCursor,
        projection: &[usize],
        max_rows: usize,
    ) -> Result<Option<Chunk>> {
        self.scan_part_chunk(table, &ScanPart::ALL, &[], cursor, projection, max_rows)
    }

    /// The segments `table` has now, for planning a scan over them
    /// ([`SegmentClaims`]); their layout is kept while this is held.
    pub fn planned_segments(&self, table: TableId) -> Result<PlannedSegments> {
        let Some(base) = self.base(table)? else { return Ok(PlannedSegments { count: 0, layout: None }) };
        let base = base.read();
        Ok(PlannedSegments { count: base.segments.len(), layout: Some(base.pin_layout()) })
    }

    /// About how many stretches partitions may claim in `table`'s segments
    /// now: more partitions than that would have nothing to read.
    pub fn claimable_stretches(&self, table: TableId) -> Result<usize> {
        let Some(base) = self.base(table)? else { return Ok(0) };
        Ok(base.read().segments.iter().map(|s| s.data.len().div_ceil(CLAIM_ROWS)).sum())
    }

    /// About how many committed rows `table` has (for planning): frozen
    /// versions not ended plus hot rows, ignoring snapshots.
    pub fn row_count_estimate(&self, table: TableId) -> Result<usize> {
        let Some(base) = self.base(table)? else { return Ok(0) };
        let base = base.read();
        let frozen: usize = base.segments.iter().map(|s| s.data.len().saturating_sub(s.ended())).sum();
        Ok(frozen + base.rows.len())
    }

    /// What planning may assume of each column of `table`, from its frozen
    /// versions (ended ones included). Hot rows are not looked at, so these
    /// are estimates for the planner, never limits to prune by.
    pub fn column_estimates(&self, table: TableId) -> Result<Vec<ColumnEstimate>> {
        let columns = self.spec(table)?.columns.len();
        let mut out = vec![ColumnEstimate::default(); columns];
        let Some(base) = self.base(table)? else { return Ok(out) };
        if self.own(table).is_some_and(|tw| tw.map.is_some()) {
            // A pending ALTER: the frozen columns are not yet this layout's.
            return Ok(out);
        }
        let base = base.read();
        let mut bounded = vec![true; columns];
        for seg in &base.segments {
            let seg = &seg.data;
            for (c, est) in out.iter_mut().enumerate() {
                est.nulls += seg.nulls[c];
                match &seg.zones[c] {
                    Some((lo, hi)) => {
                        est.bounds = Some(match est.bounds.take() {
                            None => (lo.clone(), hi.clone()),
                            Some((a, b)) => (a.min(lo.clone()), b.max(hi.clone())),
                        })
                    }
                    None if seg.nulls[c] == seg.len() => {}
                    None => bounded[c] = false,
                }
            }
        }
        for (est, bounded) in out.iter_mut().zip(bounded) {
            if !bounded {
                est.bounds = None;
            }
        }
        Ok(out)
    }

    /// The next chunk of one partition of a scan (see [`ScanPart`]); sized
    /// as [`ReadView::scan_chunk`] says.
    /// Segments whose zone maps rule out `zones` are skipped: the caller
    /// must still filter the rows it gets (hot rows are never pruned).
    pub fn scan_part_chunk(
        &self,
        table: TableId,
        part: &ScanPart,
        zones: &[ZoneFilter],
        cursor: &mut ScanCursor,
        projection: &[usize],
        max_rows: usize,
    ) -> Result<Option<Chunk>> {
        assert!(max_rows > 0, "a scan chunk holds at least one row");
        let spec = self.spec(table)?;
        let tw = self.own(table);
        let ScanCursor { at: cursor, pin } = cursor;
        loop {
            match *cursor {
                ScanAt::Done => {
                    *pin = None;
                    return Ok(None);
                }
                ScanAt::Start | ScanAt::Frozen { .. } | ScanAt::Hot { .. } => {
                    let Some(base) = self.base(table)? else {
                        *cursor = if part.reads_the_rest() { ScanAt::Own(None) } else { ScanAt::Done };
                        continue;
                    };
                    let base = base.read();
                    if *cursor == ScanAt::Start {
                        *pin = Some(part.pin_layout(&base));
                    }
                    let layout = pin.as_ref().expect("taken at the scan's start");
                    let chunk = match *cursor {
                        ScanAt::Start => {
                            // Segments added later hold rows that were hot
                            // when the scan began: partition 0 reads those.
                            let end = part.planned_segments().min(base.segments.len());
                            *cursor = segment_start(0, end, None, base.epoch);
                            continue;
                        }
                        // Late segments (`resume`) are partition 0's alone;
                        // the planned ones go to whichever partition asks.
                        ScanAt::Frozen { segment, end, resume: None, claimed: false, .. } if segment < end => {
                            let claim = part.claim(&base, layout, segment, end);
                            *cursor = ScanAt::Frozen {
                                segment: claim.segment,
                                pos: 0,
                                end,
                                resume: None,
                                // Read from `from` on (see `frozen_part`).
                                after: claim.from.and_then(|r| r.0.checked_sub(1)).map(RowId),
                                epoch: base.epoch,
                                claimed: true,
                                until: claim.until,
                            };
                            continue;
                        }
                        // Zone maps are in the committed layout: not after
                        // this transaction's own ALTER TABLE.
                        ScanAt::Frozen { segment, end, resume, .. }
                            if segment < end
                                && tw.is_none_or(|t| t.map.is_none())
                                && !base.segment_at(layout, segment).data.may_match(zones) =>
                        {
                            *cursor = part.after_stretch(segment, end, resume, base.epoch);
                            continue;
                        }
                        ScanAt::Frozen { segment, end, resume, .. } if segment >= end => {
                            *cursor = match part.reads_the_rest() {
                                true => ScanAt::Hot { after: resume, segments: end },
                                false => ScanAt::Done,
                            };
                            continue;
                        }
                        ScanAt::Frozen { .. } => {
                            let zones = if tw.is_none_or(|t| t.map.is_none()) { zones } else { &[] };
                            let sources = self.frozen_sources(table, projection);
                            let part = self.frozen_part(&base, layout, &spec, part, cursor, zones, &sources, max_rows);
                            // A stored segment's columns may have to be read:
                            // not under the table's lock, which commits need.
                            drop(base);
                            match part {
                                Some(part) => return self.read_frozen(&spec, part, projection, &sources).map(Some),
                                None => continue,
                            }
                        }
                        ScanAt::Hot { after, segments } if segments < base.segments.len() => {
                            // A checkpoint froze rows since the frozen stage.
                            let resume = Some(after.unwrap_or(RowId(0)));
                            *cursor = segment_start(segments, base.segments.len(), resume, base.epoch);
                            continue;
                        }
                        ScanAt::Hot { after, segments } => {
                            self.hot_chunk(&base, &spec, cursor, (after, segments), projection, max_rows)
                        }
                        _ => unreachable!("matched above"),
                    };
                    if let Some(chunk) = chunk {
                        return Ok(Some(chunk));
                    }
                }
                ScanAt::OwnBatch { batch, pos } => {
                    let Some(b) = tw.and_then(|t| t.batches.get(batch)) else {
                        *cursor = ScanAt::Done;
                        continue;
                    };
                    let len = (b.len - pos).min(max_rows);
                    *cursor = match pos + len < b.len {
                        true => ScanAt::OwnBatch { batch, pos: pos + len },
                        false => ScanAt::OwnBatch { batch: batch + 1, pos: 0 },
                    };
                    if len == 0 {
                        continue;
                    }
                    let columns = projection.iter().map(|&c| b.columns[c].slice(pos, len)).collect();
                    return Ok(Some(Chunk { row_ids: Arc::new(b.row_ids(pos, len)), columns, len }));
                }
                ScanAt::Own(after) => {
                    let Some(tw) = tw else {
                        *cursor = ScanAt::Done;
                        continue;
                    };
                    let start = after.map_or(Bound::Unbounded, Bound::Excluded);
                    let mut ids = Vec::new();
                    let mut refs: Vec<&[Value]> = Vec::new();
                    let mut last = after;
                    for (id, w) in tw.rows.range((start, Bound::Unbounded)) {
                        last = Some(*id);
                        if let Write::Insert(r) | Write::Update(r) = w {
                            ids.push(id.0);
                            refs.push(r);
                            if ids.len() == max_rows {
                                break;
                            }
                        }
                    }
                    *cursor = match ids.len() < max_rows {
                        true => ScanAt::OwnBatch { batch: 0, pos: 0 },
                        false => ScanAt::Own(last),
                    };
                    if ids.is_empty() {
                        continue;
                    }
                    return Ok(Some(build_chunk(&spec, &ids, &refs, projection)));
                }
            }
        }
    }

    /// Up to `max_rows` positions of one segment, with which of them this
    /// view sees; advances the cursor (possibly past an empty stretch:
    /// `None`). The columns are read by [`ReadView::read_frozen`].
    #[allow(clippy::too_many_arguments)]
    fn frozen_part(
        &self,
        base: &TableStore,
        layout: &LayoutPin,
        spec: &TableSpec,
        scan: &ScanPart,
        cursor: &mut ScanAt,
        zones: &[ZoneFilter],
        sources: &[usize],
        max_rows: usize,
    ) -> Option<FrozenPart> {
        let ScanAt::Frozen { segment, pos, end: end_segment, resume, after, epoch, claimed, until } = *cursor else {
            unreachable!("called for the frozen stage")
        };
        let seg = base.segment_at(layout, segment);
        // Where this stretch ends: the segment's end, or a row's start.
        let len = until.map_or(seg.data.len(), |u| seg.data.lower_bound(u));
        // Rows up to `resume` were read while they were hot; rows up to
        // `after` from this segment, before a compaction moved them.
        let start = match after.or(resume) {
            Some(done) if pos == 0 || epoch != base.epoch => seg.data.lower_bound(RowId(done.0 + 1)),
            _ => pos,
        };
        // A row's versions are read in one part (see `after`): parts end
        // between rows, at a row group's end where they can.
        let row_starts_at = |p: usize| p >= len || seg.data.row_starts_at(p);
        let group_end = if start < len { seg.data.group_end(start).min(len) } else { len };
        if start < len
            && let Some(ruled_out) = seg.data.ruled_out_until(start, zones)
        {
            // Nothing in the rest of this row group can match: skip it, up
            // to the last row that starts in it.
            let mut to = ruled_out;
            while to > start && !row_starts_at(to) {
                to -= 1;
            }
            if to > start {
                *cursor = if to >= len {
                    scan.after_stretch(segment, end_segment, resume, base.epoch)
                } else {
                    let after = Some(seg.data.row_id(to - 1));
                    let epoch = base.epoch;
                    ScanAt::Frozen { segment, pos: to, end: end_segment, resume, after, epoch, claimed, until }
                };
                return None;
            }
        }
        // A row group read from its file is returned whole: the cache may
        // not keep it (a small budget), and reading it again for every
        // chunk would decode it many times.
        let mut end = match seg.data.group_cached(start, sources) {
            true => (start + max_rows).min(group_end),
            false => group_end,
        };
        let mut limit = group_end;
        loop {
            while end > start && !row_starts_at(end) {
                end += 1;
            }
            // A row's versions crossed into the next row group: if that is
            // read from its file, it is read whole too, in this part.
            if end <= limit || end >= len || seg.data.group_cached(end - 1, sources) {
                break;
            }
            limit = seg.data.group_end(end - 1).min(len);
            end = limit;
        }
        *cursor = if end >= len {
            scan.after_stretch(segment, end_segment, resume, base.epoch)
        } else {
            let after = Some(seg.data.row_id(end - 1));
            let epoch = base.epoch;
            ScanAt::Frozen { segment, pos: end, end: end_segment, resume, after, epoch, claimed, until }
        };
        if start >= end {
            return None;
        }
        let tw = self.own(spec.id);
        let hidden = |id: RowId| tw.is_some_and(|t| t.rows.contains_key(&id));
        let own_rows = tw.is_some_and(|t| !t.rows.is_empty());
        let mask = (own_rows || !seg.all_visible(self.snapshot, start..end))
            .then(|| seg.visibility(self.snapshot, start..end, &hidden));
        if mask.as_ref().is_some_and(|m| m.true_count() == 0) {
            return None;
        }
        Some(FrozenPart { seg: seg.data.clone(), start, len: end - start, mask })
    }

    /// The segment columns the projected columns are: a pending ALTER TABLE
    /// of this transaction maps the new layout's columns to the segment's.
    fn frozen_sources(&self, table: TableId, projection: &[usize]) -> Vec<usize> {
        match self.own(table).and_then(|t| t.map.as_ref()) {
            Some(map) => existing_sources(map, projection),
            None => projection.to_vec(),
        }
    }

    /// The projected columns of a [`FrozenPart`], as this view sees them.
    /// `sources` are [`ReadView::frozen_sources`] of `projection`.
    fn read_frozen(
        &self,
        spec: &TableSpec,
        part: FrozenPart,
        projection: &[usize],
        sources: &[usize],
    ) -> Result<Chunk> {
        let FrozenPart { seg, start, len, mask } = part;
        let map = self.own(spec.id).and_then(|t| t.map.as_ref());
        let mut read = seg.column_range(sources, start, len)?.into_iter();
        let mut columns: Vec<ArrayRef> = projection
            .iter()
            .map(|&c| match map.map(|m| &m[c]) {
                Some(ColumnSource::Fill(v)) => fill_array(spec.columns[c].ty, v, len),
                _ => read.next().expect("one array per source"),
            })
            .collect();
        let mut row_ids: ArrayRef = Arc::new(seg.row_ids.slice(start, len));
        let mut rows = len;
        if let Some(mask) = mask {
            rows = mask.true_count();
            let keep = |a: &ArrayRef| filter(a.as_ref(), &mask).expect("a mask of the array's length filters it");
            row_ids = keep(&row_ids);
            columns = columns.iter().map(keep).collect();
        }
        Ok(Chunk { row_ids, columns, len: rows })
    }

    /// Up to `max_rows` visible hot rows after `after`; advances the cursor.
    fn hot_chunk(
        &self,
        base: &TableStore,
        spec: &TableSpec,
        cursor: &mut ScanAt,
        (after, segments): (Option<RowId>, usize),
        projection: &[usize],
        max_rows: usize,
    ) -> Option<Chunk> {
        let tw = self.own(spec.id);
        let start = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut ids = Vec::new();
        let mut owned: Vec<Row> = Vec::new();
        let mut refs: Vec<&[Value]> = Vec::new();
        let mut last = after;
        for (id, chain) in base.rows.range((start, Bound::Unbounded)) {
            last = Some(*id);
            if tw.is_some_and(|t| t.rows.contains_key(id)) {
                continue;
            }
            if let Some(v) = chain.iter().rev().find(|v| v.visible_at(self.snapshot)) {
                ids.push(id.0);
                match tw.and_then(|t| t.map.as_ref()) {
                    Some(map) => owned.push(remap_row(map, &v.values)),
                    None => refs.push(&v.values),
                }
                if ids.len() == max_rows {
                    break;
                }
            }
        }
        let exhausted = ids.len() < max_rows;
        *cursor = if exhausted { ScanAt::Own(None) } else { ScanAt::Hot { after: last, segments } };
        if ids.is_empty() {
            return None;
        }
        if !owned.is_empty() {
            refs = owned.iter().map(|r| &r[..]).collect();
        }
        Some(build_chunk(spec, &ids, &refs, projection))
    }

    /// Visible rows whose key in index `index` falls in `range`, projected.
    pub fn lookup(
        &self,
        table: TableId,
        index: IndexId,
        range: &KeyRange,
        projection: &[usize],
    ) -> Result<Option<Chunk>> {
        let found = self.lookup_rows(table, index, range)?;
        if found.is_empty() {
            return Ok(None);
        }
        let ids: Vec<u64> = found.iter().map(|(id, _)| id.0).collect();
        let refs: Vec<&[Value]> = found.iter().map(|(_, r)| &r[..]).collect();
        Ok(Some(build_chunk(&*self.spec(table)?, &ids, &refs, projection)))
    }

    /// The rows [`ReadView::lookup`] finds, as values: for callers that
    /// work on a row (a keyed UPDATE) and would only turn columns back
    /// into one.
    pub fn lookup_rows(&self, table: TableId, index: IndexId, range: &KeyRange) -> Result<Vec<(RowId, Row)>> {
        let spec = self.spec(table)?;
        let idx = spec
            .indexes
            .iter()
            .find(|i| i.id == index)
            .ok_or_else(|| StorageError::Internal(format!("index {index} is not on table {table}")))?;
        let tw = self.own(table);
        let mut found: Vec<(RowId, Row)> = Vec::new();
        if let Some(base) = self.base(table)? {
            let base = base.read();
            let candidates = match (tw.and_then(|t| t.map.as_ref()), base.spec.index_pos(index)) {
                (None, Some(pos)) => base.index_range(pos, as_ref(&range.lo), as_ref(&range.hi)),
                _ => base.row_ids(),
            };
            for id in candidates {
                if tw.is_some_and(|t| t.rows.contains_key(&id)) {
                    continue;
                }
                if let Some(v) = base.visible(id, self.snapshot)? {
                    let row = self.base_row(tw, &v.values);
                    if range.contains(&index_key(idx, &row)) {
                        found.push((id, row));
                    }
                }
            }
        }
        if let Some(tw) = tw {
            // One key of a unique index: the own row last written with it
            // is the only one that can have it (going over every own write
            // made a transaction of keyed updates quadratic).
            let one_key = match (&range.lo, &range.hi) {
                (Bound::Included(a), Bound::Included(b)) if idx.unique && a == b && !a.contains(&Value::Null) => {
                    Some(tw.own_row_with_key(idx, &a[..].into(), None))
                }
                _ => None,
            };
            let own: Box<dyn Iterator<Item = (&RowId, &Write)>> = match one_key {
                Some(row) => Box::new(row.and_then(|id| tw.rows.get_key_value(&id)).into_iter()),
                None => Box::new(tw.rows.iter()),
            };
            for (id, w) in own {
                if let Write::Insert(r) | Write::Update(r) = w
                    && range.contains(&index_key(idx, r))
                {
                    found.push((*id, r.clone()));
                }
            }
            for b in &tw.batches {
                let rows = (0..b.len).map(|pos| (b.row_id(pos), b.row(&tw.spec, pos)));
                found.extend(rows.filter(|(_, r)| range.contains(&index_key(idx, r))));
            }
        }
        Ok(found)
    }

    /// Committed rows whose newest version is live and has `key` in `idx`
    /// (ignoring snapshots: uniqueness is about the present).
    pub(crate) fn live_base_rows_with_key(&self, table: TableId, idx: &IndexSpec, key: &[Value]) -> Result<Vec<RowId>> {
        let tw = self.own(table);
        let Some(base) = self.base(table)? else { return Ok(Vec::new()) };
        let base = base.read();
        let candidates = match (tw.and_then(|t| t.map.as_ref()), base.spec.index_pos(idx.id)) {
            (None, Some(pos)) => base.index_range(pos, Bound::Included(key), Bound::Included(key)),
            _ => base.rows.keys().copied().collect(),
        };
        let mut out = Vec::new();
        for id in candidates {
            if let Some(v) = base.latest(id)?
                && v.end == Scn::MAX
                && index_key(idx, &self.base_row(tw, &v.values))[..] == *key
            {
                out.push(id);
            }
        }
        Ok(out)
    }
}

/// Positions of one segment a scan reads next, and which of them it sees
/// (`None`: all).
struct FrozenPart {
    seg: Arc<Segment>,
    start: usize,
    len: usize,
    mask: Option<BooleanArray>,
}

/// The cursor at the start of `segment`; without `resume`, the partition
/// claims a segment there instead (it may be a later one).
fn segment_start(segment: usize, end: usize, resume: Option<RowId>, epoch: u64) -> ScanAt {
    ScanAt::Frozen { segment, pos: 0, end, resume, after: None, epoch, claimed: false, until: None }
}

fn build_chunk(spec: &TableSpec, ids: &[u64], rows: &[&[Value]], projection: &[usize]) -> Chunk {
    let columns = projection.iter().map(|&c| column_array(spec.columns[c].ty, rows, c)).collect();
    Chunk { row_ids: row_id_array(ids), columns, len: ids.len() }
}

impl ReadView {
    /// Whether the owning transaction has written to `table`.
    pub fn writes_table(&self, table: TableId) -> bool {
        self.own(table).is_some_and(|t| {
            !t.rows.is_empty() || !t.batches.is_empty() || t.base_hidden || t.map.is_some() || t.dropped
        })
    }

    /// The storage this view reads.
    pub fn storage(&self) -> &Arc<crate::storage::Storage> {
        &self.storage
    }
}
