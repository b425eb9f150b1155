//! Rows inserted as Arrow columns: the bulk path of COPY, Flight ingest and
//! INSERT (without RETURNING or ON CONFLICT).
//!
//! ```text
//! Transaction::insert_columns ──► RowBatch in the write set (no Row per row)
//!   commit ──► WAL op 9: table, first row id, row count, Arrow IPC stream
//!          ──► apply: the table's batches become segments (begin = commit SCN),
//!              or rows in the row store if they are fewer than 64k
//! ```
//!
//! A bulk load thus never turns its values into [`Value`](crate::Value)
//! rows: what the client sent as columns is logged as columns and lands in
//! the columnar store directly. Its rows are new (fresh row ids), so a
//! segment of them is like any other frozen segment: every version begins
//! at the commit SCN and nothing has ended it yet.
//!
//! The write set keeps batches only while the transaction does nothing
//! else to that table: any other write to it (and DDL) first turns the
//! batches into ordinary row writes (`Transaction::table_writes`), so the
//! row-level rules (locks, unique checks, update of an own row) stay in
//! one place. Tables with a unique index take the row path from the start.

use std::io::Cursor;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch, RecordBatchOptions, UInt64Array};
use arrow::datatypes::{Field, Schema};
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;
use rustydb_common::{RowId, Scn};

use crate::error::{Result, StorageError};
use crate::log::codec::{Decoder, Encoder};
use crate::rowstore::batch::{arrow_type, row_at};
use crate::segment::{SEGMENT_ROWS_MAX, Segment};
use crate::spec::TableSpec;
use crate::value::Row;

/// Fewest rows of one table one commit inserts as columns that become
/// segments of their own; fewer go into the row store (`TableStore::
/// append_batches`). Every segment costs each point lookup of an updated
/// row a binary search, so a segment should be worth it.
pub const BULK_SEGMENT_ROWS_MIN: usize = 65_536;

/// Rows with consecutive ids from `first`, one array per table column.
#[derive(Debug, Clone, PartialEq)]
pub struct RowBatch {
    pub first: RowId,
    pub len: usize,
    pub columns: Vec<ArrayRef>,
}

impl RowBatch {
    /// Whether `row` is one of this batch's rows; its position if so.
    pub fn position(&self, row: RowId) -> Option<usize> {
        row.0.checked_sub(self.first.0).map(|p| p as usize).filter(|&p| p < self.len)
    }

    pub fn row_id(&self, pos: usize) -> RowId {
        RowId(self.first.0 + pos as u64)
    }

    /// The ids of positions `start..start + len` as an Arrow array.
    pub fn row_ids(&self, start: usize, len: usize) -> UInt64Array {
        (self.first.0 + start as u64..self.first.0 + (start + len) as u64).collect()
    }

    /// The row at `pos`.
    pub fn row(&self, spec: &TableSpec, pos: usize) -> Row {
        row_at(spec, &self.columns, pos)
    }

    /// Every row, as the row path holds them.
    pub fn rows(&self, spec: &TableSpec) -> Result<Vec<Row>> {
        let types: Vec<_> = spec.columns.iter().map(|c| c.ty).collect();
        if self.columns.is_empty() {
            return Ok(vec![Row::from(Vec::new()); self.len]);
        }
        crate::rowstore::batch::rows_from_arrays(&types, &self.columns)
    }
}

/// Checks columns given for insertion against the layout: one array per
/// column, all of one length, of the column's type, no NULL where the
/// column forbids it.
pub(crate) fn check_columns(spec: &TableSpec, columns: &[ArrayRef], len: usize) -> Result<()> {
    if columns.len() != spec.columns.len() {
        return Err(StorageError::Internal(format!(
            "{} arrays given for table {} with {} columns",
            columns.len(),
            spec.id,
            spec.columns.len()
        )));
    }
    for (a, c) in columns.iter().zip(&spec.columns) {
        if a.len() != len {
            return Err(StorageError::Internal(format!("column {} holds {} values of {len}", c.name, a.len())));
        }
        if a.data_type() != &arrow_type(c.ty) {
            return Err(StorageError::Internal(format!(
                "values of type {} given for column {} of type {:?}",
                a.data_type(),
                c.name,
                c.ty
            )));
        }
        if !c.nullable && a.null_count() > 0 {
            return Err(StorageError::NotNullViolation { column: c.name.clone() });
        }
    }
    Ok(())
}

/// Checks a batch read back from the log against the layout it is
/// applied to (a damaged record must not reach the tables).
pub(crate) fn check_batch(spec: &TableSpec, batch: &RowBatch) -> Result<()> {
    check_columns(spec, &batch.columns, batch.len)
        .map_err(|e| StorageError::Corruption(format!("row batch of table {}: {e}", spec.id)))
}

fn ipc_schema(columns: &[ArrayRef]) -> Arc<Schema> {
    let fields: Vec<Field> =
        columns.iter().enumerate().map(|(i, a)| Field::new(format!("c{i}"), a.data_type().clone(), true)).collect();
    Arc::new(Schema::new(fields))
}

/// Appends `u64 first row id | u64 row count | u64 length | Arrow IPC stream`.
pub(crate) fn encode_batch(e: &mut Encoder<'_>, batch: &RowBatch) {
    e.u64(batch.first.0);
    e.u64(batch.len as u64);
    let at = e.0.len();
    e.u64(0);
    let schema = ipc_schema(&batch.columns);
    let options = RecordBatchOptions::new().with_row_count(Some(batch.len));
    let record = RecordBatch::try_new_with_options(schema.clone(), batch.columns.clone(), &options)
        .expect("batch columns are checked on insert");
    let mut writer = StreamWriter::try_new(&mut *e.0, &schema).expect("writing to memory does not fail");
    writer.write(&record).expect("writing to memory does not fail");
    writer.finish().expect("writing to memory does not fail");
    drop(writer);
    let len = (e.0.len() - at - 8) as u64;
    e.0[at..at + 8].copy_from_slice(&len.to_le_bytes());
}

/// Reads what [`encode_batch`] wrote.
pub(crate) fn decode_batch(d: &mut Decoder<'_>) -> Result<RowBatch> {
    let first = RowId(d.u64()?);
    let len = usize::try_from(d.u64()?).map_err(|_| StorageError::Corruption("row batch length".into()))?;
    let bytes = usize::try_from(d.u64()?).map_err(|_| StorageError::Corruption("row batch size".into()))?;
    let stream = d.take(bytes)?;
    let bad = |e: String| StorageError::Corruption(format!("row batch in WAL: {e}"));
    let reader = StreamReader::try_new(Cursor::new(stream), None).map_err(|e| bad(e.to_string()))?;
    let mut columns = None;
    for record in reader {
        let record = record.map_err(|e| bad(e.to_string()))?;
        if columns.is_some() || record.num_rows() != len {
            return Err(bad(format!("expected one batch of {len} rows")));
        }
        columns = Some(record.columns().to_vec());
    }
    let columns = columns.ok_or_else(|| bad("no batch".into()))?;
    first.0.checked_add(len as u64).ok_or_else(|| bad("row ids overflow".into()))?;
    Ok(RowBatch { first, len, columns })
}

/// Segments of `batches` (ids ascending) committed at `scn`, each of up to
/// [`SEGMENT_ROWS_MAX`] rows, checked against the layout.
pub(crate) fn segments_of(spec: &TableSpec, batches: Vec<RowBatch>, scn: Scn) -> Result<Vec<Segment>> {
    let mut groups: Vec<Vec<RowBatch>> = Vec::new();
    let mut rows = 0;
    for b in batches.into_iter().filter(|b| b.len > 0) {
        if groups.is_empty() || rows + b.len > SEGMENT_ROWS_MAX {
            groups.push(Vec::new());
            rows = 0;
        }
        rows += b.len;
        groups.last_mut().expect("pushed above").push(b);
    }
    groups.into_iter().map(|g| segment_of(spec, &g, scn)).collect()
}

/// One segment of the rows of `group`.
fn segment_of(spec: &TableSpec, group: &[RowBatch], scn: Scn) -> Result<Segment> {
    let bad = |e: String| StorageError::Corruption(format!("row batch of table {}: {e}", spec.id));
    if let Some(b) = group.iter().find(|b| b.columns.len() != spec.columns.len()) {
        return Err(bad(format!("{} columns for a table of {}", b.columns.len(), spec.columns.len())));
    }
    let row_ids: UInt64Array = group.iter().flat_map(|b| b.first.0..b.first.0 + b.len as u64).collect();
    let columns = (0..spec.columns.len())
        .map(|c| match group {
            // A lone batch's arrays are shared, not copied.
            [one] => Ok(one.columns[c].clone()),
            _ => {
                let parts: Vec<&dyn Array> = group.iter().map(|b| b.columns[c].as_ref()).collect();
                arrow::compute::concat(&parts).map_err(|e| bad(e.to_string()))
            }
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    let begins = UInt64Array::from(vec![scn.0; row_ids.len()]);
    let seg = Segment::new(spec, row_ids, begins, columns);
    seg.validate(spec)?;
    Ok(seg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::ColumnSpec;
    use crate::value::{ColumnType, Value};
    use arrow::array::{Int64Array, StringArray};
    use rustydb_common::TableId;

    fn spec() -> TableSpec {
        TableSpec {
            id: TableId(4),
            columns: vec![
                ColumnSpec { name: "a".into(), ty: ColumnType::Int64, nullable: false },
                ColumnSpec { name: "b".into(), ty: ColumnType::Text, nullable: true },
            ],
            indexes: vec![],
        }
    }

    fn batch(first: u64, a: &[i64]) -> RowBatch {
        let b: Vec<Option<String>> = a.iter().map(|v| (v % 2 == 0).then(|| format!("v{v}"))).collect();
        RowBatch {
            first: RowId(first),
            len: a.len(),
            columns: vec![Arc::new(Int64Array::from(a.to_vec())), Arc::new(StringArray::from(b))],
        }
    }

    #[test]
    fn a_batch_round_trips_through_its_encoding() {
        let b = batch(10, &[1, 2, 3]);
        let mut buf = Vec::new();
        encode_batch(&mut Encoder(&mut buf), &b);
        let mut d = Decoder::new(&buf);
        assert_eq!(decode_batch(&mut d).unwrap(), b);
        assert!(d.is_empty());
        for cut in [0, 8, 20, buf.len() - 1] {
            assert!(decode_batch(&mut Decoder::new(&buf[..cut])).is_err(), "cut at {cut}");
        }
        assert_eq!(b.row(&spec(), 1)[..], [Value::Int64(2), Value::Text("v2".into())]);
        assert_eq!((b.position(RowId(12)), b.position(RowId(13)), b.position(RowId(9))), (Some(2), None, None));
    }

    #[test]
    fn batches_become_segments_of_bounded_size() {
        let spec = spec();
        let segs = segments_of(&spec, vec![batch(1, &[5, 6]), batch(3, &[7])], Scn(9)).unwrap();
        assert_eq!(segs.len(), 1);
        assert_eq!((segs[0].len(), segs[0].max_begin), (3, Scn(9)));
        assert_eq!(segs[0].row(&spec, 2).unwrap()[..], [Value::Int64(7), Value::Null]);
        assert_eq!(segs[0].zones[0], Some((Value::Int64(5), Value::Int64(7))));
        let big: Vec<i64> = (0..SEGMENT_ROWS_MAX as i64 - 1).collect();
        let segs = segments_of(&spec, vec![batch(1, &big), batch(1 << 21, &[1, 2])], Scn(9)).unwrap();
        assert_eq!(segs.iter().map(Segment::len).collect::<Vec<_>>(), [SEGMENT_ROWS_MAX - 1, 2]);
    }

    #[test]
    fn columns_are_checked_against_the_layout() {
        let spec = spec();
        let b = batch(1, &[1]);
        assert!(check_columns(&spec, &b.columns, 1).is_ok());
        assert!(check_columns(&spec, &b.columns, 2).is_err(), "length");
        assert!(check_columns(&spec, &b.columns[..1], 1).is_err(), "arity");
        let swapped = vec![b.columns[1].clone(), b.columns[0].clone()];
        assert!(check_columns(&spec, &swapped, 1).is_err(), "types");
        let nulls: Vec<ArrayRef> = vec![Arc::new(Int64Array::from(vec![None])), b.columns[1].clone()];
        assert!(matches!(check_columns(&spec, &nulls, 1), Err(StorageError::NotNullViolation { .. })));
    }
}
