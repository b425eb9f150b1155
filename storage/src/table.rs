//! The row store of one table: version chains and their indexes.
//!
//! ```text
//! rows:    RowId ──► [v1 (begin 3, end 9), v2 (begin 9, end MAX)]
//! index:   (key, RowId) set; an entry stays while any version has that key
//! ```
//!
//! Versions are appended by commits and never changed in place, except that
//! the commit that supersedes or deletes a version sets its `end`. A version is
//! visible at snapshot `s` when `begin <= s < end`. Index entries are never
//! removed here (compaction will); lookups re-check the key on the version that
//! is visible, so a stale entry costs a probe, never a wrong answer.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;

use rustydb_common::{RowId, Scn};

use crate::spec::{ColumnSource, TableSpec, index_key, remap_row};
use crate::value::{Row, Value};

/// One committed version of a row.
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
}

/// An index key paired with a row; ordered by key, then row.
pub type IndexEntry = (Box<[Value]>, RowId);

/// The committed contents of one table.
#[derive(Debug)]
pub struct TableStore {
    pub spec: Arc<TableSpec>,
    pub rows: BTreeMap<RowId, Vec<Version>>,
    /// One entry set per index, parallel to `spec.indexes`.
    pub indexes: Vec<BTreeSet<IndexEntry>>,
    /// SCN of the newest commit that changed this table (cache validation).
    pub last_write: Scn,
}

impl TableStore {
    pub fn new(spec: TableSpec) -> Self {
        let indexes = spec.indexes.iter().map(|_| BTreeSet::new()).collect();
        TableStore { spec: Arc::new(spec), rows: BTreeMap::new(), indexes, last_write: Scn::ZERO }
    }

    /// The version of `row` visible at `snapshot`.
    pub fn visible(&self, row: RowId, snapshot: Scn) -> Option<&Version> {
        self.rows.get(&row)?.iter().rev().find(|v| v.visible_at(snapshot))
    }

    /// The newest committed version of `row`, live or ended.
    pub fn latest(&self, row: RowId) -> Option<&Version> {
        self.rows.get(&row)?.last()
    }

    /// Rows whose index entries fall in the key range (may include stale ones).
    pub fn index_range(&self, index_pos: usize, lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> Vec<RowId> {
        let set = &self.indexes[index_pos];
        let lo = match lo {
            Bound::Included(k) => Bound::Included((Box::<[Value]>::from(k), RowId(0))),
            Bound::Excluded(k) => Bound::Excluded((Box::<[Value]>::from(k), RowId(u64::MAX))),
            Bound::Unbounded => Bound::Unbounded,
        };
        let hi = match hi {
            Bound::Included(k) => Bound::Included((Box::<[Value]>::from(k), RowId(u64::MAX))),
            Bound::Excluded(k) => Bound::Excluded((Box::<[Value]>::from(k), RowId(0))),
            Bound::Unbounded => Bound::Unbounded,
        };
        if let (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) = (&lo, &hi)
            && a > b
        {
            return Vec::new();
        }
        let mut out: Vec<RowId> = set.range((lo, hi)).map(|(_, r)| *r).collect();
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Appends a version created at `scn` and indexes it.
    pub fn put(&mut self, row: RowId, values: Row, scn: Scn) {
        self.last_write = scn;
        for (pos, idx) in self.spec.indexes.iter().enumerate() {
            self.indexes[pos].insert((index_key(idx, &values), row));
        }
        let chain = self.rows.entry(row).or_default();
        if let Some(last) = chain.last_mut()
            && last.end == Scn::MAX
        {
            last.end = scn;
        }
        chain.push(Version { begin: scn, end: Scn::MAX, values });
    }

    /// Ends the live version of `row` at `scn`.
    pub fn end(&mut self, row: RowId, scn: Scn) {
        self.last_write = scn;
        if let Some(last) = self.rows.get_mut(&row).and_then(|c| c.last_mut())
            && last.end == Scn::MAX
        {
            last.end = scn;
        }
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
    }

    /// Changes the layout: remaps every version and rebuilds the indexes.
    pub fn alter(&mut self, spec: TableSpec, map: &[ColumnSource]) {
        for chain in self.rows.values_mut() {
            for v in chain.iter_mut() {
                v.values = remap_row(map, &v.values);
            }
        }
        self.spec = Arc::new(spec);
        self.indexes = self.spec.indexes.iter().map(|_| BTreeSet::new()).collect();
        for (row, chain) in &self.rows {
            for v in chain {
                for (pos, idx) in self.spec.indexes.iter().enumerate() {
                    self.indexes[pos].insert((index_key(idx, &v.values), *row));
                }
            }
        }
    }
}
