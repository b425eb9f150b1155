//! RustyDB catalog: schemas and tables with their SQL-level definitions,
//! stored transactionally in a system table of storage.
//!
//! ```text
//! system table 1 "rustydb_catalog":  kind | schema | name | body (JSON)
//!   ("schema", "",       "public", {})
//!   ("table",  "public", "t",      TableDef)
//!   ("role",   "",       "alice",  RoleDef)
//! ```
//!
//! Because catalog rows are ordinary MVCC rows, DDL commits atomically with
//! the physical change in the same WAL record, rolls back with its
//! transaction, and a snapshot sees the schema of its time. Name uniqueness is
//! the system table's primary key, so two sessions creating one name race on
//! a key lock and the loser gets a duplicate error. No DataFusion here.

mod defs;
mod error;
mod roles;
mod store;
mod types;

pub use defs::{
    ColumnDef, Identity, IndexDef, OBJECT_ID_SEQUENCE, OBJECT_ID_START, PUBLIC_SCHEMA_ID, SchemaDef, TableDef,
};
pub use error::{CatalogError, Result};
pub use roles::{RoleDef, SCRAM_ITERATIONS, ScramSecret};
pub use store::{
    CATALOG_TABLE, CatalogCache, CatalogSnapshot, bootstrap, create_role, create_schema, create_table, drop_role,
    drop_schema, drop_table, replace_role, replace_table,
};
pub use types::{NUMERIC_DEFAULT_SCALE, NUMERIC_PRECISION_MAX, SqlType};
