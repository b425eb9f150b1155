//! Physical table layout: column types, nullability and indexes.
//!
//! The catalog owns names in the SQL sense (schemas, defaults, VARCHAR limits);
//! storage keeps the part that decides bytes and constraints it must enforce
//! itself (NOT NULL, uniqueness) and the names that its errors mention.

use rustydb_common::{IndexId, TableId};
use serde::{Deserialize, Serialize};

use crate::value::{ColumnType, Value};

/// One column of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnSpec {
    pub name: String,
    pub ty: ColumnType,
    pub nullable: bool,
}

/// One index of a table. A primary key is a unique index with `primary`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexSpec {
    pub id: IndexId,
    pub name: String,
    /// Positions of the indexed columns, in key order.
    pub columns: Vec<usize>,
    pub unique: bool,
    pub primary: bool,
}

/// The layout of a table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableSpec {
    pub id: TableId,
    pub columns: Vec<ColumnSpec>,
    pub indexes: Vec<IndexSpec>,
}

impl TableSpec {
    /// The primary-key index, if the table has one.
    pub fn primary_key(&self) -> Option<&IndexSpec> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// Position of an index in `indexes`.
    pub fn index_pos(&self, id: IndexId) -> Option<usize> {
        self.indexes.iter().position(|i| i.id == id)
    }
}

/// Where a column of a new layout takes its values from, for ALTER TABLE.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnSource {
    /// The column at this position in the old layout.
    Existing(usize),
    /// A constant for every existing row (ADD COLUMN ... DEFAULT).
    Fill(Value),
}

/// Applies a column map to one row of the old layout.
pub fn remap_row(map: &[ColumnSource], row: &[Value]) -> Box<[Value]> {
    map.iter()
        .map(|s| match s {
            ColumnSource::Existing(i) => row[*i].clone(),
            ColumnSource::Fill(v) => v.clone(),
        })
        .collect()
}

/// The map equivalent to applying `first` then `second`.
pub fn compose_maps(first: &[ColumnSource], second: &[ColumnSource]) -> Vec<ColumnSource> {
    second
        .iter()
        .map(|s| match s {
            ColumnSource::Existing(i) => first[*i].clone(),
            ColumnSource::Fill(v) => ColumnSource::Fill(v.clone()),
        })
        .collect()
}

/// Extracts the key of `index` from a row.
pub fn index_key(index: &IndexSpec, row: &[Value]) -> Box<[Value]> {
    index.columns.iter().map(|&c| row[c].clone()).collect()
}
