//! DataFusion integration, all in one place so that a DataFusion upgrade
//! touches one folder: the catalog and schema providers (`catalog.rs`),
//! tables and their scans (`table.rs`), the query runtime (`runtime.rs`),
//! SQL and Arrow types (`types.rs`) and RustyDB's physical rule
//! (`checked_arithmetic.rs`).

pub(crate) mod catalog;
pub(crate) mod checked_arithmetic;
pub(crate) mod runtime;
pub(crate) mod table;
pub(crate) mod types;
