//! The body of a WAL record: the redo of one committed transaction.
//!
//! ```text
//! body   = u32 op count, then ops
//! op     = u8 tag, then:
//!   1 CreateTable  u32 length, TableSpec as JSON
//!   2 DropTable    u64 table id
//!   3 AlterTable   u32 length, TableSpec as JSON (the new layout),
//!                  u16 column count, per column: u8 0 + u16 old position
//!                                                 | u8 1 + value (fill)
//!   4 Truncate     u64 table id
//!   5 Insert       u64 table id, u64 row id, row
//!   6 Update       u64 table id, u64 row id, row (the whole new row)
//!   7 Delete       u64 table id, u64 row id
//!   8 SetSequence  u64 sequence id, i64 highest value handed out or reserved
//!   9 InsertBatch  u64 table id, u64 first row id, u64 row count,
//!                  u64 length, Arrow IPC stream of one record batch
//!                  (columns in layout order; see `segment/bulk.rs`)
//! ```
//!
//! Rows and values are encoded as in `log/codec.rs`. DDL comes first in a record,
//! in statement order; row changes follow in the table's final layout.

use rustydb_common::{RowId, TableId};

use crate::error::{Result, StorageError};
use crate::log::codec::{Decoder, Encoder};
use crate::segment::bulk::{RowBatch, decode_batch, encode_batch};
use crate::spec::{ColumnSource, TableSpec};
use crate::value::{Row, Value};

/// One redo operation.
#[derive(Debug, Clone, PartialEq)]
pub enum RedoOp {
    // Specs are boxed so that the row ops, of which a bulk load makes
    // millions, stay 40 bytes.
    CreateTable(Box<TableSpec>),
    DropTable(TableId),
    AlterTable {
        spec: Box<TableSpec>,
        map: Vec<ColumnSource>,
    },
    Truncate(TableId),
    Insert {
        table: TableId,
        row: RowId,
        values: Row,
    },
    Update {
        table: TableId,
        row: RowId,
        values: Row,
    },
    Delete {
        table: TableId,
        row: RowId,
    },
    /// Rows inserted as columns (COPY, ingest), with consecutive new ids.
    InsertBatch {
        table: TableId,
        rows: Box<RowBatch>,
    },
    /// Sequences are not transactional: this records how far values were
    /// reserved, so a restart never hands out a value twice.
    SetSequence {
        id: u64,
        value: i64,
    },
}

impl RedoOp {
    /// The table a row change (insert, update, delete, batch) writes to.
    pub fn row_table(&self) -> Option<TableId> {
        match self {
            RedoOp::Insert { table, .. }
            | RedoOp::Update { table, .. }
            | RedoOp::Delete { table, .. }
            | RedoOp::InsertBatch { table, .. } => Some(*table),
            _ => None,
        }
    }
}

fn encode_spec(e: &mut Encoder<'_>, spec: &TableSpec) {
    let json = serde_json::to_vec(spec).expect("table specs always serialise");
    e.bytes(&json);
}

fn decode_spec(d: &mut Decoder<'_>) -> Result<TableSpec> {
    serde_json::from_slice(d.bytes()?).map_err(|e| StorageError::Corruption(format!("bad table spec in WAL: {e}")))
}

/// A row change as the log holds it, borrowed from wherever it is kept
/// (a commit encodes straight from the transaction's write set).
#[derive(Debug, Clone, Copy)]
pub(crate) enum RowChange<'a> {
    Insert(&'a [Value]),
    Update(&'a [Value]),
    Delete,
}

/// Encodes a list of ops as a record body.
pub fn encode_ops(ops: &[RedoOp], out: &mut Vec<u8>) {
    let mut e = Encoder(out);
    encode_count(&mut e, ops.len());
    for op in ops {
        encode_op(&mut e, op);
    }
}

/// The op count a body starts with.
pub(crate) fn encode_count(e: &mut Encoder<'_>, ops: usize) {
    e.u32(u32::try_from(ops).expect("op count is bounded by TXN_WRITES_MAX"));
}

/// Encodes one op (after the count).
pub(crate) fn encode_op(e: &mut Encoder<'_>, op: &RedoOp) {
    match op {
        RedoOp::CreateTable(spec) => {
            e.u8(1);
            encode_spec(e, spec);
        }
        RedoOp::DropTable(t) => {
            e.u8(2);
            e.u64(t.0);
        }
        RedoOp::AlterTable { spec, map } => {
            e.u8(3);
            encode_spec(e, spec);
            e.u16(u16::try_from(map.len()).expect("column count is bounded"));
            for s in map {
                match s {
                    ColumnSource::Existing(i) => {
                        e.u8(0);
                        e.u16(u16::try_from(*i).expect("column count is bounded"));
                    }
                    ColumnSource::Fill(v) => {
                        e.u8(1);
                        e.value(v);
                    }
                }
            }
        }
        RedoOp::Truncate(t) => {
            e.u8(4);
            e.u64(t.0);
        }
        RedoOp::Insert { table, row, values } => encode_row_change(e, *table, *row, RowChange::Insert(values)),
        RedoOp::Update { table, row, values } => encode_row_change(e, *table, *row, RowChange::Update(values)),
        RedoOp::Delete { table, row } => encode_row_change(e, *table, *row, RowChange::Delete),
        RedoOp::SetSequence { id, value } => {
            e.u8(8);
            e.u64(*id);
            e.u64(*value as u64);
        }
        RedoOp::InsertBatch { table, rows } => encode_insert_batch(e, *table, rows),
    }
}

/// Encodes rows inserted as columns as an InsertBatch op.
pub(crate) fn encode_insert_batch(e: &mut Encoder<'_>, table: TableId, rows: &RowBatch) {
    e.u8(9);
    e.u64(table.0);
    encode_batch(e, rows);
}

/// Encodes one row change as an Insert, Update or Delete op.
pub(crate) fn encode_row_change(e: &mut Encoder<'_>, table: TableId, row: RowId, change: RowChange<'_>) {
    e.u8(match change {
        RowChange::Insert(_) => 5,
        RowChange::Update(_) => 6,
        RowChange::Delete => 7,
    });
    e.u64(table.0);
    e.u64(row.0);
    if let RowChange::Insert(values) | RowChange::Update(values) = change {
        e.row(values);
    }
}

/// Decodes a record body.
pub fn decode_ops(body: &[u8]) -> Result<Vec<RedoOp>> {
    let mut d = Decoder::new(body);
    let n = d.u32()? as usize;
    let mut ops = Vec::with_capacity(n.min(1 << 16));
    for _ in 0..n {
        let op = match d.u8()? {
            1 => RedoOp::CreateTable(Box::new(decode_spec(&mut d)?)),
            2 => RedoOp::DropTable(TableId(d.u64()?)),
            3 => {
                let spec = decode_spec(&mut d)?;
                let cols = d.u16()? as usize;
                let mut map = Vec::with_capacity(cols);
                for _ in 0..cols {
                    map.push(match d.u8()? {
                        0 => ColumnSource::Existing(d.u16()? as usize),
                        1 => ColumnSource::Fill(d.value()?),
                        t => return Err(StorageError::Corruption(format!("unknown column source tag {t}"))),
                    });
                }
                RedoOp::AlterTable { spec: Box::new(spec), map }
            }
            4 => RedoOp::Truncate(TableId(d.u64()?)),
            tag @ (5 | 6) => {
                let table = TableId(d.u64()?);
                let row = RowId(d.u64()?);
                let values = d.row()?;
                if tag == 5 { RedoOp::Insert { table, row, values } } else { RedoOp::Update { table, row, values } }
            }
            7 => RedoOp::Delete { table: TableId(d.u64()?), row: RowId(d.u64()?) },
            8 => RedoOp::SetSequence { id: d.u64()?, value: d.u64()? as i64 },
            9 => RedoOp::InsertBatch { table: TableId(d.u64()?), rows: Box::new(decode_batch(&mut d)?) },
            t => return Err(StorageError::Corruption(format!("unknown redo op tag {t}"))),
        };
        ops.push(op);
    }
    if !d.is_empty() {
        return Err(StorageError::Corruption("trailing bytes after the last redo op".into()));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{ColumnSpec, IndexSpec};
    use crate::value::{ColumnType, Value};
    use rustydb_common::IndexId;

    #[test]
    fn ops_round_trip() {
        let spec = TableSpec {
            id: TableId(7),
            columns: vec![ColumnSpec { name: "a".into(), ty: ColumnType::Int64, nullable: false }],
            indexes: vec![IndexSpec {
                id: IndexId(8),
                name: "t_pkey".into(),
                columns: vec![0],
                unique: true,
                primary: true,
            }],
        };
        let ops = vec![
            RedoOp::CreateTable(Box::new(spec.clone())),
            RedoOp::Insert { table: TableId(7), row: RowId(1), values: vec![Value::Int64(5)].into() },
            RedoOp::AlterTable {
                spec: Box::new(spec),
                map: vec![ColumnSource::Existing(0), ColumnSource::Fill(Value::Text("x".into()))],
            },
            RedoOp::Update { table: TableId(7), row: RowId(1), values: vec![Value::Int64(6)].into() },
            RedoOp::Delete { table: TableId(7), row: RowId(1) },
            RedoOp::Truncate(TableId(7)),
            RedoOp::DropTable(TableId(7)),
            RedoOp::SetSequence { id: 9, value: -5 },
            RedoOp::InsertBatch {
                table: TableId(7),
                rows: Box::new(RowBatch {
                    first: RowId(3),
                    len: 2,
                    columns: vec![std::sync::Arc::new(arrow::array::Int64Array::from(vec![1, 2]))],
                }),
            },
        ];
        let mut body = Vec::new();
        encode_ops(&ops, &mut body);
        assert_eq!(decode_ops(&body).unwrap(), ops);
    }
}
