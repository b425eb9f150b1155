//! SQL text to RustyDB statements.
//!
//! As DataFusion's `DFParser` does, the parser here reads statements of its
//! own (the [`Statement`] variants besides [`Statement::Sql`]) and hands
//! everything else to sqlparser's PostgreSQL grammar, over one token
//! stream. New syntax (FLASHBACK, CREATE BLOCKCHAIN TABLE, CREATE POLICY,
//! ...) is a new variant parsed in `parser.rs`, never a rewrite of its
//! tokens into another statement.

pub(crate) mod names;
mod parser;
mod statement;

pub use parser::numbered_parameters;
pub(crate) use parser::{parse, parse_generated};
pub use statement::Statement;
