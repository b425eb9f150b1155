//! RustyDB engine: the Session API that every front end calls, with
//! DataFusion planning and running queries over RustyDB storage.
//!
//! ```text
//! Session ─► txn_control / ddl / dml / DataFusion query
//!               │           │       │
//!               ▼           ▼       ▼
//!            storage::Transaction + catalog   ◄── provider::RustyTable (scans)
//! ```

mod checked_arithmetic;
mod copy;
mod copy_format;
mod cursors;
mod ddl;
mod describe;
mod dml;
mod error;
mod executor;
mod fast_path;
mod ingest;
mod interrupt;
mod literal_cache;
mod maintenance;
mod names;
mod parse;
mod pg_binary;
mod pg_catalog;
mod prepared;
mod provider;
mod roles;
mod schema;
mod session;
mod settings;
mod sql_prepare;
mod txn_control;
mod types;

pub use copy::CopyOut;
pub use copy_format::{CopyFormat, CopyOptions};
pub use datafusion::sql::sqlparser::ast::{Ident, Statement};
pub use describe::TableInfo;
pub use error::{EngineError, Result};
pub use ingest::create_table_sql;
pub use interrupt::Interrupt;
pub use literal_cache::{Piece, Shaped};
pub use names::{BOOTSTRAP_USER, DATABASE_NAME, quote as quote_ident};
pub use parse::numbered_parameters;
pub use pg_binary::decode_binary;
pub use prepared::Prepared;
pub use rustydb_catalog::SCRAM_ITERATIONS;
pub use rustydb_storage::{CacheStats, ObjectSegments, SEGMENT_CACHE_BYTES_DEFAULT, StorageOptions, io};
pub use session::{
    Database, DatabaseOptions, QUERY_MEMORY_BYTES_DEFAULT, QueryOutput, Session, TransactionStatus,
    default_query_threads,
};
pub use sql_prepare::deallocates_all;
pub use types::PG_TYPE_KEY;
