//! The hot store: committed row versions not yet in segments, their
//! indexes, and the memory budget they count against.
//!
//! ```text
//! TableStore (table.rs) = row versions + segments list + indexes (index.rs)
//!   memory.rs: the row store's budget, pending writes, working memory
//!   batch.rs:  rows ↔ Arrow arrays
//! ```

pub mod batch;
pub(crate) mod index;
pub(crate) mod memory;
pub(crate) mod table;
