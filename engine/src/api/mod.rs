//! The one surface every front end uses (PostgreSQL wire, Flight SQL, the
//! shell, and the HTTP front ends to come): protocol-neutral and typed.
//!
//! ```text
//! Database::open ─► Database ─► session() ─► Session
//!                                              ├─ execute(sql)      ─► [StatementResult]
//!                                              ├─ prepare / execute_prepared
//!                                              ├─ begin / commit / rollback (typed)
//!                                              └─ interrupt()       ─► cancel handle
//! ```
//!
//! Results are typed ([`StatementResult`], [`Outcome`]), errors carry a
//! [`SqlState`] whose [`ErrorKind`] each front end maps in one function.
//! What only the PostgreSQL protocol needs (command tags, binary values,
//! COPY formats, statement names) is in [`crate::pg`].

mod auth;
mod result;

pub use auth::{Admission, Principal, password_failed};
pub use result::{Outcome, StatementResult, TransactionEvent, Verb};

pub use crate::error::{EngineError, Result};
pub use crate::session::describe::TableInfo;
pub use crate::session::ingest::create_table_sql;
pub use crate::session::interrupt::Interrupt;
pub use crate::session::literal_cache::{Piece, Shaped};
pub use crate::session::prepared::Prepared;
pub use crate::session::{
    Database, DatabaseOptions, QUERY_MEMORY_BYTES_DEFAULT, Session, TransactionStatus, default_query_threads,
};
pub use crate::sql::names::{BOOTSTRAP_USER, DATABASE_NAME, quote as quote_ident};
pub use crate::sql::{Statement, numbered_parameters};
pub use rustydb_common::{ErrorKind, Scn, SqlState};
pub use rustydb_storage::{CacheStats, ObjectSegments, SEGMENT_CACHE_BYTES_DEFAULT, StorageOptions};
