//! The entries of one index: (key, row) pairs ordered by key, then row.
//!
//! ```text
//! key of one or two integer-like columns, no NULL ──► ints: (i64[, i64], RowId)   16 / 24 B inline
//! any other key (text, numeric, ..., or one with a NULL) ──► values: (Box<[Value]>, RowId)
//! ```
//!
//! Primary keys are nearly always one or two integer columns, and every
//! row has an entry (frozen rows too), so their entries are kept as plain
//! integers: a boxed value slice costs 24 bytes inline plus an allocation
//! of 24 bytes a column for every key. Integer-like columns (smallint,
//! integer, bigint, date, timestamp, timestamptz) hold one variant of
//! [`Value`] each, whose order is that of its integer, so the two sets
//! order alike. A lookup reads both sets; a bound of another type than the
//! columns' widens to unbounded in the integer set, which is safe because
//! every lookup re-checks the key of the version it finds (`rowstore/table.rs`).

use std::collections::BTreeSet;
use std::ops::Bound;

use rustydb_common::RowId;

use crate::rowstore::memory::values_bytes;
use crate::spec::{IndexSpec, TableSpec};
use crate::value::{ColumnType, Value};

/// Bytes an entry takes in a B-tree beyond its inline size: nodes run
/// about two-thirds full, plus their headers.
fn in_btree(inline: usize) -> usize {
    inline * 3 / 2 + 2
}

/// Index entries of one index (see the module docs).
#[derive(Debug)]
pub(crate) struct KeyIndex {
    ints: IntKeys,
    values: BTreeSet<(Box<[Value]>, RowId)>,
    /// Bytes the entries take, estimated per entry (`in_btree`).
    bytes: usize,
}

#[derive(Debug)]
enum IntKeys {
    /// The key is not one or two integer-like columns.
    None,
    One(BTreeSet<(i64, RowId)>),
    Two(BTreeSet<((i64, i64), RowId)>),
}

/// The integer of an integer-like value; `None` for NULL and other types.
fn int_of(v: &Value) -> Option<i64> {
    match *v {
        Value::Int16(x) => Some(x.into()),
        Value::Int32(x) | Value::Date(x) => Some(x.into()),
        Value::Int64(x) | Value::Timestamp(x) | Value::TimestampTz(x) => Some(x),
        _ => None,
    }
}

fn integer_like(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::Int16
            | ColumnType::Int32
            | ColumnType::Int64
            | ColumnType::Date
            | ColumnType::Timestamp
            | ColumnType::TimestampTz
    )
}

/// A bound on whole keys as a bound on `(key, row)` entries: an included
/// key takes every row of it, an excluded one none.
fn entry_bound<K>(b: Bound<K>, lower: bool) -> Bound<(K, RowId)> {
    let (first, last) = (RowId(0), RowId(u64::MAX));
    match b {
        Bound::Included(k) => Bound::Included((k, if lower { first } else { last })),
        Bound::Excluded(k) => Bound::Excluded((k, if lower { last } else { first })),
        Bound::Unbounded => Bound::Unbounded,
    }
}

/// Whether a range from `lo` to `hi` is empty because `lo` lies above `hi`
/// (`BTreeSet::range` panics on such a range).
fn inverted<K: Ord>(lo: &Bound<K>, hi: &Bound<K>) -> bool {
    match (lo, hi) {
        (Bound::Included(a), Bound::Included(b)) => a > b,
        (Bound::Included(a) | Bound::Excluded(a), Bound::Included(b) | Bound::Excluded(b)) => a >= b,
        _ => false,
    }
}

/// `b` mapped by `f` into the integer set's key space. `f` gives the key
/// and whether it is exact; a key with a NULL maps to the integer key just
/// above it (NULL sorts first), which it lies strictly below. A key `f`
/// cannot map at all leaves the bound open.
fn map_bound<K>(b: Bound<&[Value]>, lower: bool, f: impl Fn(&[Value]) -> Option<(K, bool)>) -> Bound<K> {
    let (Bound::Included(k) | Bound::Excluded(k)) = b else { return Bound::Unbounded };
    match f(k) {
        None => Bound::Unbounded,
        Some((key, true)) if matches!(b, Bound::Included(_)) => Bound::Included(key),
        Some((key, true)) => Bound::Excluded(key),
        Some((key, false)) if lower => Bound::Included(key),
        Some((key, false)) => Bound::Excluded(key),
    }
}

/// A one-column key in the integer set's space (see `map_bound`).
fn int_key1(k: &[Value]) -> Option<(i64, bool)> {
    match k {
        [Value::Null] => Some((i64::MIN, false)),
        [a] => Some((int_of(a)?, true)),
        _ => None,
    }
}

/// A two-column key in the integer set's space (see `map_bound`).
fn int_key2(k: &[Value]) -> Option<((i64, i64), bool)> {
    match k {
        [Value::Null, _] => Some(((i64::MIN, i64::MIN), false)),
        [a, Value::Null] => Some(((int_of(a)?, i64::MIN), false)),
        [a, b] => Some(((int_of(a)?, int_of(b)?), true)),
        _ => None,
    }
}

fn range_of<K: Ord>(set: &BTreeSet<(K, RowId)>, lo: Bound<K>, hi: Bound<K>, out: &mut Vec<RowId>) {
    if inverted(&lo, &hi) {
        return;
    }
    out.extend(set.range((entry_bound(lo, true), entry_bound(hi, false))).map(|(_, r)| *r));
}

impl KeyIndex {
    /// An empty index `idx` of a table laid out as `spec`.
    pub(crate) fn new(spec: &TableSpec, idx: &IndexSpec) -> Self {
        let ints = idx.columns.iter().all(|&c| integer_like(spec.columns[c].ty));
        let ints = match idx.columns.len() {
            1 if ints => IntKeys::One(BTreeSet::new()),
            2 if ints => IntKeys::Two(BTreeSet::new()),
            _ => IntKeys::None,
        };
        KeyIndex { ints, values: BTreeSet::new(), bytes: 0 }
    }

    /// Adds the entry of `row` with `key` (one value per index column).
    pub(crate) fn insert(&mut self, key: &[Value], row: RowId) {
        let ints = match (&mut self.ints, key) {
            (IntKeys::One(set), [a]) => int_of(a).map(|a| set.insert((a, row)).then_some(16)),
            (IntKeys::Two(set), [a, b]) => int_of(a).zip(int_of(b)).map(|ab| set.insert((ab, row)).then_some(24)),
            _ => None,
        };
        let added = ints.unwrap_or_else(|| {
            // The slice's allocation, rounded up by the allocator's header.
            let boxed = values_bytes(key) + 16;
            self.values.insert((key.into(), row)).then_some(24 + boxed)
        });
        if let Some(inline) = added {
            self.bytes += in_btree(inline);
        }
    }

    /// Rows with an entry whose key lies between `lo` and `hi` (keys
    /// compared as whole tuples), ascending, each once. May hold rows whose
    /// key lies outside (see the module docs); never misses one inside.
    pub(crate) fn range(&self, lo: Bound<&[Value]>, hi: Bound<&[Value]>) -> Vec<RowId> {
        let mut out = Vec::new();
        match &self.ints {
            IntKeys::None => {}
            IntKeys::One(set) => {
                range_of(set, map_bound(lo, true, int_key1), map_bound(hi, false, int_key1), &mut out);
            }
            IntKeys::Two(set) => {
                range_of(set, map_bound(lo, true, int_key2), map_bound(hi, false, int_key2), &mut out);
            }
        }
        let boxed = |b: Bound<&[Value]>| match b {
            Bound::Included(k) => Bound::Included(Box::<[Value]>::from(k)),
            Bound::Excluded(k) => Bound::Excluded(Box::<[Value]>::from(k)),
            Bound::Unbounded => Bound::Unbounded,
        };
        if !self.values.is_empty() {
            range_of(&self.values, boxed(lo), boxed(hi), &mut out);
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Entries held (a row may have several, one per distinct key).
    #[cfg(test)]
    fn len(&self) -> usize {
        let ints = match &self.ints {
            IntKeys::None => 0,
            IntKeys::One(set) => set.len(),
            IntKeys::Two(set) => set.len(),
        };
        ints + self.values.len()
    }

    /// Estimated bytes the entries take.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use rand::{Rng, SeedableRng, rngs::StdRng};
    use rustydb_common::{IndexId, TableId};

    use super::*;
    use crate::spec::ColumnSpec;

    fn table(types: &[ColumnType]) -> TableSpec {
        let columns =
            types.iter().enumerate().map(|(i, &ty)| ColumnSpec { name: format!("c{i}"), ty, nullable: true }).collect();
        TableSpec { id: TableId(1), columns, indexes: vec![] }
    }

    fn index(columns: Vec<usize>) -> IndexSpec {
        IndexSpec { id: IndexId(2), name: "i".into(), columns, unique: false, primary: false }
    }

    fn bound(b: &Bound<Vec<Value>>) -> Bound<&[Value]> {
        match b {
            Bound::Included(k) => Bound::Included(k),
            Bound::Excluded(k) => Bound::Excluded(k),
            Bound::Unbounded => Bound::Unbounded,
        }
    }

    /// Exactly the rows whose key lies in the range are found: against a
    /// plain filter, over random keys with NULLs, duplicates and every
    /// kind of bound.
    #[test]
    fn ranges_agree_with_a_filter() {
        let mut rng = StdRng::seed_from_u64(7);
        let cases: [(&[ColumnType], Vec<usize>); 4] = [
            (&[ColumnType::Int64], vec![0]),
            (&[ColumnType::Date, ColumnType::Int16], vec![1, 0]),
            (&[ColumnType::Text], vec![0]),
            (&[ColumnType::Int32, ColumnType::Int32, ColumnType::Int32], vec![0, 1, 2]),
        ];
        for (types, columns) in cases {
            let spec = table(types);
            let idx = index(columns.clone());
            let mut index = KeyIndex::new(&spec, &idx);
            let value = |rng: &mut StdRng, c: usize| -> Value {
                let x: i16 = rng.random_range(-6..6);
                if x == 5 {
                    return Value::Null;
                }
                match spec.columns[c].ty {
                    ColumnType::Int64 => Value::Int64(x.into()),
                    ColumnType::Int32 => Value::Int32(x.into()),
                    ColumnType::Int16 => Value::Int16(x),
                    ColumnType::Date => Value::Date(x.into()),
                    _ => Value::Text(format!("{}", x + 10).into()),
                }
            };
            let mut entries = Vec::new();
            for r in 0..400 {
                let key: Vec<Value> = columns.iter().map(|&c| value(&mut rng, c)).collect();
                let row = RowId(rng.random_range(0..300) + r % 2);
                index.insert(&key, row);
                entries.push((key, row));
            }
            entries.sort();
            entries.dedup();
            assert_eq!(index.len(), entries.len(), "{types:?}");
            for _ in 0..500 {
                let pick = |rng: &mut StdRng| {
                    let key: Vec<Value> = columns.iter().map(|&c| value(rng, c)).collect();
                    match rng.random_range(0..3) {
                        0 => Bound::Included(key),
                        1 => Bound::Excluded(key),
                        _ => Bound::Unbounded,
                    }
                };
                let (lo, hi) = (pick(&mut rng), pick(&mut rng));
                let mut want: Vec<RowId> = entries
                    .iter()
                    .filter(|(k, _)| {
                        let range = crate::scan::view::KeyRange { lo: lo.clone(), hi: hi.clone() };
                        range.contains(k)
                    })
                    .map(|(_, r)| *r)
                    .collect();
                want.sort_unstable();
                want.dedup();
                let got = index.range(bound(&lo), bound(&hi));
                assert_eq!(got, want, "{types:?} {lo:?} {hi:?}");
            }
        }
    }

    #[test]
    fn integer_keys_cost_a_fraction_of_boxed_ones() {
        let spec = table(&[ColumnType::Int64, ColumnType::Text]);
        let (mut ints, mut texts) = (KeyIndex::new(&spec, &index(vec![0])), KeyIndex::new(&spec, &index(vec![1])));
        for i in 0..1000 {
            ints.insert(&[Value::Int64(i)], RowId(i as u64));
            texts.insert(&[Value::Text(format!("{i:08}").into())], RowId(i as u64));
        }
        assert!(matches!(ints.ints, IntKeys::One(_)) && ints.values.is_empty());
        assert!(ints.bytes() * 3 < texts.bytes(), "{} vs {}", ints.bytes(), texts.bytes());
        ints.insert(&[Value::Null], RowId(5000));
        assert_eq!(ints.range(Bound::Unbounded, Bound::Included(&[Value::Null])), [RowId(5000)]);
    }
}
