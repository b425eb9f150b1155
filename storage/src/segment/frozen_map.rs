//! Where each row's newest frozen version is: (segment, position).
//!
//! Most segments hold a dense run of new rows: a bulk insert's, or a first
//! checkpoint's of rows never updated. Such a segment is recorded as one
//! range instead of one map entry per row, which made adding a 1M-row
//! segment cost more than building it. A segment qualifies when its row
//! ids are consecutive, one version each, and all above every row id of
//! the segments before it: then no older segment holds its rows, and the
//! ranges never overlap. Anything else (a row's later versions, captured
//! by a checkpoint) is recorded per row, and a per-row entry is always
//! newer than a range that covers the same row.

use std::collections::{BTreeMap, HashMap};

use rustydb_common::RowId;

use crate::segment::Segment;

/// (segment index, position in the segment).
pub type Location = (u32, u32);

/// The first and last of `ids` when they are one version of each row id
/// between, and nothing else.
fn dense(ids: &[u64]) -> Option<(u64, u64)> {
    let (&first, &last) = (ids.first()?, ids.last()?);
    (last - first + 1 == ids.len() as u64 && ids.windows(2).all(|w| w[0] < w[1])).then_some((first, last))
}

#[derive(Debug, Default)]
pub struct FrozenMap {
    rows: HashMap<RowId, Location>,
    /// First row id ──► (last row id, segment index); positions follow ids.
    ranges: BTreeMap<u64, (u64, u32)>,
    /// Highest row id in any frozen segment.
    max_row: Option<u64>,
}

impl FrozenMap {
    /// Records the rows of `seg`, just added as segment `si`.
    pub fn add_segment(&mut self, si: u32, seg: &Segment) {
        let n = seg.len();
        if n == 0 {
            return;
        }
        if let Some((first, last)) = dense(seg.row_ids.values())
            && self.max_row.is_none_or(|m| first > m)
        {
            self.ranges.insert(first, (last, si));
            self.max_row = Some(last);
            return;
        }
        for pos in 0..n {
            self.set(seg.row_id(pos), (si, pos as u32));
        }
    }

    /// Records `row`'s newest frozen version.
    pub fn set(&mut self, row: RowId, at: Location) {
        self.rows.insert(row, at);
        self.max_row = Some(self.max_row.map_or(row.0, |m| m.max(row.0)));
    }

    /// Segment `si` was rewritten from `old` to `new` (compaction: some
    /// versions gone, the others in the same order): its rows point at
    /// their newest version left there, unless a later segment has a newer
    /// one, or nowhere if none is left.
    pub fn replace_segment(&mut self, si: u32, old: &Segment, new: &Segment) {
        self.ranges.retain(|_, (_, s)| *s != si);
        for pos in 0..old.len() {
            let row = old.row_id(pos);
            if self.rows.get(&row).is_some_and(|(s, _)| *s == si) {
                self.rows.remove(&row);
            }
        }
        for pos in 0..new.len() {
            let row = new.row_id(pos);
            if self.get(row).is_none_or(|(s, _)| s <= si) {
                self.rows.insert(row, (si, pos as u32));
            }
        }
    }

    /// Segments `run` (`sources`, as they were) were merged into `merged`
    /// at `run.start`, the others left empty: their rows point at their
    /// newest version in `merged`, unless a later segment has a newer one.
    /// A merge of dense runs that is itself dense stays one range.
    pub fn merge_segments(&mut self, run: std::ops::Range<u32>, sources: &[&Segment], merged: &Segment) {
        // Rows of the run recorded as ranges: when these are all its rows,
        // no older segment holds any of them (see the module docs).
        let mut ranged = 0;
        self.ranges.retain(|&first, &mut (last, s)| {
            let inside = run.contains(&s);
            if inside {
                ranged += last - first + 1;
            }
            !inside
        });
        for src in sources {
            for pos in 0..src.len() {
                let row = src.row_id(pos);
                if self.rows.get(&row).is_some_and(|(s, _)| run.contains(s)) {
                    self.rows.remove(&row);
                }
            }
        }
        let n = merged.len();
        if n > 0
            && ranged == n as u64
            && let Some((first, last)) = dense(merged.row_ids.values())
        {
            self.ranges.insert(first, (last, run.start));
            return;
        }
        for pos in 0..n {
            let row = merged.row_id(pos);
            let newest_here = pos + 1 == n || merged.row_id(pos + 1) != row;
            if newest_here && self.get(row).is_none_or(|(s, _)| s < run.end) {
                self.rows.insert(row, (run.start, pos as u32));
            }
        }
    }

    /// The table's segment list lost its empty segments: segment `si` is
    /// now `new_index[si]` (no row's version is in an empty one).
    pub fn renumber(&mut self, new_index: &[u32]) {
        for (si, _) in self.rows.values_mut() {
            *si = new_index[*si as usize];
        }
        for (_, si) in self.ranges.values_mut() {
            *si = new_index[*si as usize];
        }
    }

    pub fn get(&self, row: RowId) -> Option<Location> {
        if let Some(at) = self.rows.get(&row) {
            return Some(*at);
        }
        let (&first, &(last, si)) = self.ranges.range(..=row.0).next_back()?;
        (row.0 <= last).then(|| (si, (row.0 - first) as u32))
    }

    /// Bytes the map takes: its table's slots (16 bytes and a control
    /// byte each) and range entries.
    pub fn bytes(&self) -> usize {
        self.rows.capacity() * 17 + self.ranges.len() * 32
    }

    pub fn contains(&self, row: RowId) -> bool {
        self.get(row).is_some()
    }

    /// Every row with a frozen version, and where its newest one is.
    pub fn iter(&self) -> impl Iterator<Item = (RowId, Location)> + '_ {
        let ranged = self.ranges.iter().flat_map(move |(&first, &(last, si))| {
            (first..=last)
                .map(RowId)
                .filter(|r| !self.rows.contains_key(r))
                .map(move |r| (r, (si, (r.0 - first) as u32)))
        });
        self.rows.iter().map(|(r, at)| (*r, *at)).chain(ranged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ColumnSpec, TableSpec};
    use crate::value::{ColumnType, Row, Value};
    use rustydb_common::{Scn, TableId};

    fn seg(ids: &[(u64, u64)]) -> Segment {
        let spec = TableSpec {
            id: TableId(1),
            columns: vec![ColumnSpec { name: "a".into(), ty: ColumnType::Int64, nullable: true }],
            indexes: vec![],
        };
        let row: Row = vec![Value::Int64(0)].into();
        let versions: Vec<_> = ids.iter().map(|&(r, b)| (RowId(r), Scn(b), &row[..])).collect();
        Segment::build(&spec, &versions)
    }

    #[test]
    fn dense_new_rows_are_ranges_and_later_versions_win() {
        let mut m = FrozenMap::default();
        m.add_segment(0, &seg(&[(10, 1), (11, 1), (12, 1)]));
        assert_eq!((m.rows.len(), m.ranges.len()), (0, 1));
        assert_eq!((m.get(RowId(11)), m.get(RowId(9)), m.get(RowId(13))), (Some((0, 1)), None, None));
        // Versions of old rows: per row, and newer than the range.
        m.add_segment(1, &seg(&[(11, 5), (12, 5)]));
        assert_eq!(m.rows.len(), 2);
        assert_eq!((m.get(RowId(10)), m.get(RowId(11))), (Some((0, 0)), Some((1, 0))));
        // Dense but not above every row before it: per row.
        m.add_segment(2, &seg(&[(12, 7)]));
        assert_eq!(m.get(RowId(12)), Some((2, 0)));
        // Two versions of one row are not dense, nor is a gap they fill.
        m.add_segment(3, &seg(&[(20, 8), (20, 9), (21, 8), (23, 8)]));
        assert_eq!((m.get(RowId(20)), m.get(RowId(22))), (Some((3, 1)), None));
        m.add_segment(4, &seg(&[(30, 9), (31, 9)]));
        assert_eq!(m.ranges.len(), 2);
        let mut all: Vec<_> = m.iter().collect();
        all.sort();
        assert_eq!(
            all,
            [
                (RowId(10), (0, 0)),
                (RowId(11), (1, 0)),
                (RowId(12), (2, 0)),
                (RowId(20), (3, 1)),
                (RowId(21), (3, 2)),
                (RowId(23), (3, 3)),
                (RowId(30), (4, 0)),
                (RowId(31), (4, 1))
            ]
        );
    }
}
