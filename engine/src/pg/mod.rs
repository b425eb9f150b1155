//! What only the PostgreSQL protocol needs: command tags, binary values,
//! COPY formats, type OIDs on result fields, SCRAM parameters, and the
//! statements its front end handles itself (DEALLOCATE, DISCARD ALL).
//!
//! Everything here serves the PostgreSQL front end; other front ends use
//! [`crate::api`] alone.

mod tag;

pub use tag::{command_tag, rows_tag_prefix};

pub use crate::api::StatementResult;
pub use crate::copy::CopyOut;
pub use crate::copy_format::{CopyFormat, CopyOptions};
pub use crate::pg_binary::decode_binary;
pub use crate::sql_prepare::deallocates_all;
pub use crate::types::PG_TYPE_KEY;
/// sqlparser's statements, which the PostgreSQL front end inspects for the
/// few it handles itself (DEALLOCATE, DISCARD ALL).
pub use datafusion::sql::sqlparser::ast::{Ident, Statement as SqlStatement};
pub use rustydb_catalog::SCRAM_ITERATIONS;
