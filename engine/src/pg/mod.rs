//! What only the PostgreSQL protocol needs: command tags, binary values,
//! COPY formats, type OIDs on result fields, SCRAM parameters, and the
//! statements its front end handles itself (DEALLOCATE, DISCARD ALL).
//!
//! Everything here serves the PostgreSQL front end; other front ends use
//! [`crate::api`] alone.

pub(crate) mod binary;
pub(crate) mod catalog;
pub(crate) mod copy_format;
mod tag;

pub use tag::{command_tag, rows_tag_prefix};

pub use crate::api::StatementResult;
pub use crate::pg::binary::decode_binary;
pub use crate::pg::copy_format::{CopyFormat, CopyOptions};
pub use crate::query::types::PG_TYPE_KEY;
pub use crate::session::copy::CopyOut;
pub use crate::session::sql_prepare::deallocates_all;
/// sqlparser's statements, which the PostgreSQL front end inspects for the
/// few it handles itself (DEALLOCATE, DISCARD ALL).
pub use datafusion::sql::sqlparser::ast::{Ident, Statement as SqlStatement};
pub use rustydb_catalog::SCRAM_ITERATIONS;
