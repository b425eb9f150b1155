//! Statements DataFusion does not plan, one family per file: DDL
//! (`ddl.rs`), roles (`roles.rs`) and maintenance (`maintenance.rs`).
//! Each runs in the statement's transaction (`TxnSlot`) as a method of
//! the session.

pub(crate) mod ddl;
pub(crate) mod maintenance;
pub(crate) mod roles;
