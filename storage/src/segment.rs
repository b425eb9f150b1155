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

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, UInt64Array};
use rustydb_common::{RowId, Scn};

use crate::batch::{column_array, row_at};
use crate::error::{Result, StorageError};
use crate::spec::{ColumnSource, TableSpec};
use crate::value::{ColumnType, Row, Value};

/// Rows of one segment at most; a checkpoint of a larger table writes several.
pub const SEGMENT_ROWS_MAX: usize = 1 << 20;

/// Immutable column data of one segment.
#[derive(Debug)]
pub struct Segment {
    pub row_ids: UInt64Array,
    pub begins: UInt64Array,
    /// One array per table column, in the table's layout.
    pub columns: Vec<ArrayRef>,
    /// Largest begin SCN in the segment.
    pub max_begin: Scn,
    /// Per column, the smallest and largest non-null value (the zone map),
    /// where known; see [`zone`].
    pub zones: Vec<Option<(Value, Value)>>,
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
        let max_begin = Scn(begins.values().iter().copied().max().unwrap_or(0));
        let zones = spec.columns.iter().zip(&columns).map(|(c, a)| zone(c.ty, a.as_ref())).collect();
        Segment { row_ids, begins, columns, max_begin, zones }
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
        filters.iter().all(|f| {
            let Some(Some((min, max))) = self.zones.get(f.column) else { return true };
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

    /// Checks that the parts agree with each other and with `spec`.
    pub fn validate(&self, spec: &TableSpec) -> Result<()> {
        let n = self.row_ids.len();
        let bad = |what: String| Err(StorageError::Corruption(format!("segment of table {}: {what}", spec.id)));
        if self.begins.len() != n || self.columns.len() != spec.columns.len() {
            return bad(format!("{} begins and {} columns for {n} rows", self.begins.len(), self.columns.len()));
        }
        if self.row_ids.null_count() > 0 || self.begins.null_count() > 0 {
            return bad("null row id or begin scn".into());
        }
        for (a, c) in self.columns.iter().zip(&spec.columns) {
            if a.len() != n || a.data_type() != &crate::batch::arrow_type(c.ty) {
                return bad(format!("column {} holds {} values of type {}", c.name, a.len(), a.data_type()));
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

    /// The values of the version at `pos`.
    pub fn row(&self, spec: &TableSpec, pos: usize) -> Row {
        row_at(spec, &self.columns, pos)
    }

    /// Position of the first version of `row` or later (binary search).
    pub fn lower_bound(&self, row: RowId) -> usize {
        self.row_ids.values().partition_point(|&id| id < row.0)
    }

    /// The same data in a new layout (ALTER TABLE): kept columns are shared.
    pub fn remap(&self, spec: &TableSpec, map: &[ColumnSource]) -> Segment {
        let columns = remap_columns(spec, map, &self.columns, self.len());
        Segment::new(spec, self.row_ids.clone(), self.begins.clone(), columns)
    }
}

/// Columns of a new layout from columns of the old one: kept columns are
/// shared, filled ones are built as constants of length `len`.
pub fn remap_columns(spec: &TableSpec, map: &[ColumnSource], columns: &[ArrayRef], len: usize) -> Vec<ArrayRef> {
    map.iter()
        .enumerate()
        .map(|(i, s)| match s {
            ColumnSource::Existing(c) => columns[*c].clone(),
            ColumnSource::Fill(v) => {
                let one = std::slice::from_ref(v);
                column_array(spec.columns[i].ty, &vec![one; len], 0)
            }
        })
        .collect()
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
    /// End SCN of each ended version, by position.
    pub ends: BTreeMap<u32, Scn>,
    /// Where the data is stored; `None` until a checkpoint writes it (new,
    /// or rewritten in a new layout after ALTER TABLE).
    pub file: Option<String>,
    /// The stored delete vector and how many ends it holds.
    pub dv_file: Option<String>,
    pub dv_persisted: usize,
}

impl FrozenSegment {
    pub fn new(data: Arc<Segment>) -> Self {
        FrozenSegment { data, ends: BTreeMap::new(), file: None, dv_file: None, dv_persisted: 0 }
    }

    pub fn end(&self, pos: usize) -> Scn {
        self.ends.get(&(pos as u32)).copied().unwrap_or(Scn::MAX)
    }

    /// Ends the version at `pos` at `scn` if it is still current.
    pub fn end_at(&mut self, pos: usize, scn: Scn) {
        self.ends.entry(pos as u32).or_insert(scn);
    }

    pub fn version(&self, spec: &TableSpec, pos: usize) -> VersionRef<'static> {
        VersionRef {
            begin: self.data.begin(pos),
            end: self.end(pos),
            values: Cow::Owned(self.data.row(spec, pos).into()),
        }
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
    pub begin: Scn,
    pub end: Scn,
    pub values: Cow<'a, [Value]>,
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
        assert_eq!(seg.row(&spec, 1)[..], [Value::Int64(2), Value::Null]);
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
        let seg = seg.remap(&wide, &map);
        seg.validate(&wide).unwrap();
        assert_eq!(seg.row(&wide, 2)[..], [Value::Int64(3), Value::Text("z".into()), Value::Int32(7)]);
    }
}
