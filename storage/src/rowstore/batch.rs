//! Conversion between row-store rows and Arrow arrays.
//!
//! Scans turn visible versions into column arrays (one builder per projected
//! column); writes turn Arrow arrays computed by the engine back into rows.
//! The Arrow type of each column type is fixed here, once.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BinaryArray, BinaryBuilder, BooleanArray, BooleanBuilder, Date32Array, Date32Builder,
    Decimal128Array, Decimal128Builder, Float32Array, Float32Builder, Float64Array, Float64Builder, Int16Array,
    Int16Builder, Int32Array, Int32Builder, Int64Array, Int64Builder, StringArray, StringBuilder,
    TimestampMicrosecondArray, TimestampMicrosecondBuilder, UInt64Array,
};
use arrow::datatypes::{DataType, TimeUnit};

use crate::error::{Result, StorageError};
use crate::spec::TableSpec;
use crate::value::{ColumnType, Row, Value};

/// The Arrow type that holds a column type.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::Bool => DataType::Boolean,
        ColumnType::Int16 => DataType::Int16,
        ColumnType::Int32 => DataType::Int32,
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float32 => DataType::Float32,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        ColumnType::Text => DataType::Utf8,
        ColumnType::Bytes => DataType::Binary,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, None),
        ColumnType::TimestampTz => DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into())),
    }
}

macro_rules! build {
    ($builder:ty, $rows:expr, $col:expr, $variant:ident) => {{
        let mut b = <$builder>::with_capacity($rows.len());
        for r in $rows {
            match &r[$col] {
                Value::$variant(v) => b.append_value(v.clone()),
                _ => b.append_null(),
            }
        }
        Arc::new(b.finish()) as ArrayRef
    }};
}

/// Builds the array of column `col` (of type `ty`) over `rows`.
pub fn column_array(ty: ColumnType, rows: &[&[Value]], col: usize) -> ArrayRef {
    match ty {
        ColumnType::Bool => build!(BooleanBuilder, rows, col, Bool),
        ColumnType::Int16 => build!(Int16Builder, rows, col, Int16),
        ColumnType::Int32 => build!(Int32Builder, rows, col, Int32),
        ColumnType::Int64 => build!(Int64Builder, rows, col, Int64),
        ColumnType::Float32 => build!(Float32Builder, rows, col, Float32),
        ColumnType::Float64 => build!(Float64Builder, rows, col, Float64),
        ColumnType::Decimal { precision, scale } => {
            let mut b = Decimal128Builder::with_capacity(rows.len());
            for r in rows {
                match &r[col] {
                    Value::Decimal(v) => b.append_value(v.get()),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish().with_precision_and_scale(precision, scale).expect("spec holds a valid decimal type"))
        }
        ColumnType::Text => {
            let mut b = StringBuilder::with_capacity(rows.len(), rows.len() * 8);
            for r in rows {
                match &r[col] {
                    Value::Text(v) => b.append_value(v),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Bytes => {
            let mut b = BinaryBuilder::with_capacity(rows.len(), rows.len() * 8);
            for r in rows {
                match &r[col] {
                    Value::Bytes(v) => b.append_value(v),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish())
        }
        ColumnType::Date => build!(Date32Builder, rows, col, Date),
        ColumnType::Timestamp => build!(TimestampMicrosecondBuilder, rows, col, Timestamp),
        ColumnType::TimestampTz => {
            let mut b = TimestampMicrosecondBuilder::with_capacity(rows.len());
            for r in rows {
                match &r[col] {
                    Value::TimestampTz(v) => b.append_value(*v),
                    _ => b.append_null(),
                }
            }
            Arc::new(b.finish().with_timezone("+00:00"))
        }
    }
}

/// Builds a row-id column.
pub fn row_id_array(ids: &[u64]) -> ArrayRef {
    Arc::new(UInt64Array::from(ids.to_vec()))
}

fn downcast<'a, T: 'static>(array: &'a dyn Array, ty: ColumnType) -> Result<&'a T> {
    array.as_any().downcast_ref::<T>().ok_or_else(|| {
        StorageError::Internal(format!("array of type {} given for a column of type {ty:?}", array.data_type()))
    })
}

/// Row `pos` of `columns`, the arrays of a table laid out as `spec` (a
/// segment's or an inserted batch's, both checked against it when built).
pub(crate) fn row_at(spec: &TableSpec, columns: &[ArrayRef], pos: usize) -> Row {
    columns
        .iter()
        .zip(&spec.columns)
        .map(|(a, c)| value_at(a.as_ref(), c.ty, pos).expect("the columns were checked against the layout"))
        .collect()
}

/// Reads value `i` of an array that holds column type `ty`.
pub fn value_at(array: &dyn Array, ty: ColumnType, i: usize) -> Result<Value> {
    if array.is_null(i) {
        return Ok(Value::Null);
    }
    Ok(match ty {
        ColumnType::Bool => Value::Bool(downcast::<BooleanArray>(array, ty)?.value(i)),
        ColumnType::Int16 => Value::Int16(downcast::<Int16Array>(array, ty)?.value(i)),
        ColumnType::Int32 => Value::Int32(downcast::<Int32Array>(array, ty)?.value(i)),
        ColumnType::Int64 => Value::Int64(downcast::<Int64Array>(array, ty)?.value(i)),
        ColumnType::Float32 => Value::Float32(downcast::<Float32Array>(array, ty)?.value(i)),
        ColumnType::Float64 => Value::Float64(downcast::<Float64Array>(array, ty)?.value(i)),
        ColumnType::Decimal { .. } => Value::Decimal(downcast::<Decimal128Array>(array, ty)?.value(i).into()),
        ColumnType::Text => Value::Text(downcast::<StringArray>(array, ty)?.value(i).into()),
        ColumnType::Bytes => Value::Bytes(downcast::<BinaryArray>(array, ty)?.value(i).into()),
        ColumnType::Date => Value::Date(downcast::<Date32Array>(array, ty)?.value(i)),
        ColumnType::Timestamp => Value::Timestamp(downcast::<TimestampMicrosecondArray>(array, ty)?.value(i)),
        ColumnType::TimestampTz => Value::TimestampTz(downcast::<TimestampMicrosecondArray>(array, ty)?.value(i)),
    })
}

/// Turns column arrays (each already of its column's Arrow type) into rows.
///
/// Column by column: each array is downcast once and its values pushed
/// onto every row, rather than dispatching on the type for every value
/// (a bulk load converts millions of them).
pub fn rows_from_arrays(types: &[ColumnType], arrays: &[ArrayRef]) -> Result<Vec<Box<[Value]>>> {
    if types.len() != arrays.len() {
        return Err(StorageError::Internal(format!("{} arrays given for {} columns", arrays.len(), types.len())));
    }
    let n = arrays.first().map_or(0, |a| a.len());
    let mut rows: Vec<Vec<Value>> = (0..n).map(|_| Vec::with_capacity(types.len())).collect();
    for (&ty, array) in types.iter().zip(arrays) {
        if array.len() != n {
            return Err(StorageError::Internal(format!("arrays of {} and {n} rows given for one batch", array.len())));
        }
        push_column(&mut rows, array.as_ref(), ty)?;
    }
    // Each row has exactly its capacity, so boxing does not reallocate.
    Ok(rows.into_iter().map(Vec::into_boxed_slice).collect())
}

/// Appends value `i` of `array` (holding column type `ty`) to row `i`.
fn push_column(rows: &mut [Vec<Value>], array: &dyn Array, ty: ColumnType) -> Result<()> {
    fn each<A: Array + 'static>(
        rows: &mut [Vec<Value>],
        array: &dyn Array,
        ty: ColumnType,
        value: impl Fn(&A, usize) -> Value,
    ) -> Result<()> {
        let a = downcast::<A>(array, ty)?;
        for (i, row) in rows.iter_mut().enumerate() {
            row.push(if a.is_null(i) { Value::Null } else { value(a, i) });
        }
        Ok(())
    }
    match ty {
        ColumnType::Bool => each(rows, array, ty, |a: &BooleanArray, i| Value::Bool(a.value(i))),
        ColumnType::Int16 => each(rows, array, ty, |a: &Int16Array, i| Value::Int16(a.value(i))),
        ColumnType::Int32 => each(rows, array, ty, |a: &Int32Array, i| Value::Int32(a.value(i))),
        ColumnType::Int64 => each(rows, array, ty, |a: &Int64Array, i| Value::Int64(a.value(i))),
        ColumnType::Float32 => each(rows, array, ty, |a: &Float32Array, i| Value::Float32(a.value(i))),
        ColumnType::Float64 => each(rows, array, ty, |a: &Float64Array, i| Value::Float64(a.value(i))),
        ColumnType::Decimal { .. } => each(rows, array, ty, |a: &Decimal128Array, i| Value::Decimal(a.value(i).into())),
        ColumnType::Text => each(rows, array, ty, |a: &StringArray, i| Value::Text(a.value(i).into())),
        ColumnType::Bytes => each(rows, array, ty, |a: &BinaryArray, i| Value::Bytes(a.value(i).into())),
        ColumnType::Date => each(rows, array, ty, |a: &Date32Array, i| Value::Date(a.value(i))),
        ColumnType::Timestamp => each(rows, array, ty, |a: &TimestampMicrosecondArray, i| Value::Timestamp(a.value(i))),
        ColumnType::TimestampTz => {
            each(rows, array, ty, |a: &TimestampMicrosecondArray, i| Value::TimestampTz(a.value(i)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_round_trip() {
        let types = [
            ColumnType::Int64,
            ColumnType::Text,
            ColumnType::Decimal { precision: 10, scale: 2 },
            ColumnType::TimestampTz,
        ];
        let rows: Vec<Box<[Value]>> = vec![
            vec![Value::Int64(1), Value::Text("a".into()), Value::Decimal(150.into()), Value::TimestampTz(5)].into(),
            vec![Value::Null, Value::Null, Value::Null, Value::Null].into(),
        ];
        let refs: Vec<&[Value]> = rows.iter().map(|r| &r[..]).collect();
        let arrays: Vec<ArrayRef> = types.iter().enumerate().map(|(c, t)| column_array(*t, &refs, c)).collect();
        assert_eq!(arrays[2].data_type(), &arrow_type(types[2]));
        assert_eq!(rows_from_arrays(&types, &arrays).unwrap(), rows);
    }
}
