//! Values and column types of the row store, and their total order.
//!
//! A row is a boxed slice of [`Value`]s in table column order. Values are what
//! the WAL encodes and what indexes order; Arrow arrays are built from them at
//! scan time (see `rowstore/batch.rs`). The order is total (floats by `total_cmp`) so a
//! `BTreeMap` can index any column; NULL sorts first and never counts as equal
//! for uniqueness (checked by the callers, as SQL requires).

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

/// Physical column type. Logical refinements (VARCHAR(n), JSON) live in the
/// catalog; storage only needs what decides the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    Bool,
    Int16,
    Int32,
    Int64,
    Float32,
    Float64,
    /// Fixed-point decimal held as an `i128` scaled by `10^scale`.
    Decimal {
        precision: u8,
        scale: i8,
    },
    Text,
    Bytes,
    /// Days since 1970-01-01.
    Date,
    /// Microseconds since 1970-01-01 00:00:00, no time zone.
    Timestamp,
    /// Microseconds since 1970-01-01 00:00:00 UTC.
    TimestampTz,
}

/// One value of a row. Equality, order and hash agree (floats by `total_cmp`).
#[derive(Debug, Clone)]
pub enum Value {
    Null,
    Bool(bool),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Decimal(Decimal128),
    Text(Box<str>),
    Bytes(Box<[u8]>),
    Date(i32),
    Timestamp(i64),
    TimestampTz(i64),
}

/// A decimal's scaled `i128`, kept as two 64-bit halves: an `i128` field
/// would align [`Value`] to 16 bytes and make every value of every row 32
/// bytes instead of 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal128 {
    lo: u64,
    hi: i64,
}

impl Decimal128 {
    pub fn get(self) -> i128 {
        (i128::from(self.hi) << 64) | i128::from(self.lo)
    }
}

impl From<i128> for Decimal128 {
    fn from(v: i128) -> Self {
        Decimal128 { lo: v as u64, hi: (v >> 64) as i64 }
    }
}

impl Ord for Decimal128 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.get().cmp(&other.get())
    }
}

impl PartialOrd for Decimal128 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A row: one value per column, in table column order.
pub type Row = Box<[Value]>;

impl Value {
    /// True for SQL NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// Whether this value may be stored in a column of type `ty`.
    pub fn fits(&self, ty: ColumnType) -> bool {
        matches!(
            (self, ty),
            (Value::Null, _)
                | (Value::Bool(_), ColumnType::Bool)
                | (Value::Int16(_), ColumnType::Int16)
                | (Value::Int32(_), ColumnType::Int32)
                | (Value::Int64(_), ColumnType::Int64)
                | (Value::Float32(_), ColumnType::Float32)
                | (Value::Float64(_), ColumnType::Float64)
                | (Value::Decimal(_), ColumnType::Decimal { .. })
                | (Value::Text(_), ColumnType::Text)
                | (Value::Bytes(_), ColumnType::Bytes)
                | (Value::Date(_), ColumnType::Date)
                | (Value::Timestamp(_), ColumnType::Timestamp)
                | (Value::TimestampTz(_), ColumnType::TimestampTz)
        )
    }

    fn rank(&self) -> u8 {
        match self {
            Value::Null => 0,
            Value::Bool(_) => 1,
            Value::Int16(_) => 2,
            Value::Int32(_) => 3,
            Value::Int64(_) => 4,
            Value::Float32(_) => 5,
            Value::Float64(_) => 6,
            Value::Decimal(_) => 7,
            Value::Text(_) => 8,
            Value::Bytes(_) => 9,
            Value::Date(_) => 10,
            Value::Timestamp(_) => 11,
            Value::TimestampTz(_) => 12,
        }
    }
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Value {}

impl std::hash::Hash for Value {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // Consistent with `Ord`: floats hash by bits as `total_cmp` compares them.
        self.rank().hash(state);
        match self {
            Value::Null => {}
            Value::Bool(v) => v.hash(state),
            Value::Int16(v) => v.hash(state),
            Value::Int32(v) => v.hash(state),
            Value::Int64(v) => v.hash(state),
            Value::Float32(v) => v.to_bits().hash(state),
            Value::Float64(v) => v.to_bits().hash(state),
            Value::Decimal(v) => v.hash(state),
            Value::Text(v) => v.hash(state),
            Value::Bytes(v) => v.hash(state),
            Value::Date(v) => v.hash(state),
            Value::Timestamp(v) | Value::TimestampTz(v) => v.hash(state),
        }
    }
}

impl PartialOrd for Value {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Value {
    fn cmp(&self, other: &Self) -> Ordering {
        use Value::*;
        match (self, other) {
            (Bool(a), Bool(b)) => a.cmp(b),
            (Int16(a), Int16(b)) => a.cmp(b),
            (Int32(a), Int32(b)) => a.cmp(b),
            (Int64(a), Int64(b)) => a.cmp(b),
            (Float32(a), Float32(b)) => a.total_cmp(b),
            (Float64(a), Float64(b)) => a.total_cmp(b),
            (Decimal(a), Decimal(b)) => a.cmp(b),
            (Text(a), Text(b)) => a.cmp(b),
            (Bytes(a), Bytes(b)) => a.cmp(b),
            (Date(a), Date(b)) => a.cmp(b),
            (Timestamp(a), Timestamp(b)) | (TimestampTz(a), TimestampTz(b)) => a.cmp(b),
            _ => self.rank().cmp(&other.rank()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_is_total_and_null_first() {
        let mut v = vec![Value::Int64(3), Value::Null, Value::Int64(-1)];
        v.sort();
        assert_eq!(v, vec![Value::Null, Value::Int64(-1), Value::Int64(3)]);
        assert_eq!(Value::Float64(f64::NAN).cmp(&Value::Float64(f64::NAN)), Ordering::Equal);
    }

    #[test]
    fn values_are_24_bytes_and_decimals_keep_their_order() {
        assert_eq!(std::mem::size_of::<Value>(), 24);
        let mut d: Vec<i128> = vec![i128::MIN, -(1 << 64), -1, 0, 1, u64::MAX as i128, 1 << 64, i128::MAX];
        let values: Vec<Value> = d.iter().map(|&v| Value::Decimal(v.into())).collect();
        for (w, v) in values.windows(2).zip(d.windows(2)) {
            assert_eq!(w[0].cmp(&w[1]), v[0].cmp(&v[1]));
        }
        d.retain(|&v| Decimal128::from(v).get() == v);
        assert_eq!(d.len(), 8);
    }

    #[test]
    fn fits_checks_type() {
        assert!(Value::Int32(1).fits(ColumnType::Int32));
        assert!(!Value::Int32(1).fits(ColumnType::Int64));
        assert!(Value::Null.fits(ColumnType::Text));
    }
}
