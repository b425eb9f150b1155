//! The statements RustyDB runs: sqlparser's, and those it parses itself.

use std::fmt;

use datafusion::sql::sqlparser::ast::{self, FetchDirection, Ident};

/// One parsed statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// A statement of PostgreSQL's grammar as sqlparser parses it.
    Sql(ast::Statement),
    /// `MOVE [direction] [FROM | IN] cursor`: FETCH that returns no rows.
    Move { cursor: Ident, direction: FetchDirection },
    /// `CHECKPOINT`: freezes committed rows into columnar segments.
    Checkpoint,
}

impl Statement {
    /// The sqlparser statement, for a statement of PostgreSQL's grammar.
    pub fn sql(&self) -> Option<&ast::Statement> {
        match self {
            Statement::Sql(s) => Some(s),
            _ => None,
        }
    }

    /// [`Statement::sql`], by value.
    pub fn into_sql(self) -> Option<ast::Statement> {
        match self {
            Statement::Sql(s) => Some(s),
            _ => None,
        }
    }
}

impl From<ast::Statement> for Statement {
    fn from(s: ast::Statement) -> Self {
        Statement::Sql(s)
    }
}

impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Sql(s) => write!(f, "{s}"),
            Statement::Move { cursor, direction } => write!(f, "MOVE {direction} FROM {cursor}"),
            Statement::Checkpoint => f.write_str("CHECKPOINT"),
        }
    }
}
