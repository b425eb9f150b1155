//! Shared vocabulary of every RustyDB crate: error kinds and SQLSTATEs,
//! identifiers and limits.
//!
//! This crate stays small on purpose (under ~1,000 lines). Code that
//! belongs to a layer lives in that layer; only what several layers must agree on
//! lives here.

mod ids;
mod kind;
pub mod limits;
mod sqlstate;

pub use ids::{IndexId, RowId, Scn, TableId, TxnId};
pub use kind::ErrorKind;
pub use sqlstate::SqlState;
