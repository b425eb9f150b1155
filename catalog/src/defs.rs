//! Definitions stored in the catalog, serialised as JSON bodies.

use rustydb_common::TableId;
use rustydb_storage::{ColumnSpec, IndexSpec, TableSpec};
use serde::{Deserialize, Serialize};

use crate::types::SqlType;

/// A schema (namespace).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct SchemaDef {
    pub name: String,
    /// Object id (for pg_namespace OIDs); `public` has [`PUBLIC_SCHEMA_ID`].
    #[serde(default)]
    pub id: u64,
}

/// Id of the `public` schema.
pub const PUBLIC_SCHEMA_ID: u64 = 3;

/// Storage sequence that hands out ids of catalog objects that own no
/// storage (schemas, roles): storage's object ids are recovered from table
/// creations and cannot number them; a sequence is durable and never
/// repeats a value.
pub const OBJECT_ID_SEQUENCE: u64 = 2;

/// First id the object sequence hands out.
pub const OBJECT_ID_START: i64 = 16;

/// Where a column's values come from when an INSERT omits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// Storage sequence id.
    pub sequence: u64,
    /// GENERATED ALWAYS: explicit values are refused.
    pub always: bool,
}

/// One column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub nullable: bool,
    /// DEFAULT expression as SQL text, evaluated by the engine.
    pub default: Option<String>,
    /// SERIAL / IDENTITY.
    pub identity: Option<Identity>,
}

/// One index, including the primary key and UNIQUE constraints. The
/// catalog stores exactly what storage enforces.
pub type IndexDef = IndexSpec;

/// A table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TableDef {
    pub id: TableId,
    pub schema: String,
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub indexes: Vec<IndexDef>,
}

impl TableDef {
    /// Position of a column by name.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// The primary key, if any.
    pub fn primary_key(&self) -> Option<&IndexDef> {
        self.indexes.iter().find(|i| i.primary)
    }

    /// The physical layout storage keeps for this table.
    pub fn storage_spec(&self) -> TableSpec {
        TableSpec {
            id: self.id,
            columns: self
                .columns
                .iter()
                .map(|c| ColumnSpec { name: c.name.clone(), ty: c.ty.column_type(), nullable: c.nullable })
                .collect(),
            indexes: self.indexes.clone(),
        }
    }
}
