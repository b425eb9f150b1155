//! RustyDB engine: the Session API that every front end calls ([`api`],
//! with the PostgreSQL-only parts in [`pg`]), with DataFusion planning and
//! running queries over RustyDB storage.
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
pub mod extension;
mod fast_path;
mod ingest;
mod interrupt;
mod literal_cache;
mod maintenance;
mod names;
mod pg_binary;
mod pg_catalog;
mod pipeline;
mod prepared;
mod provider;
mod roles;
mod schema;
mod session;
mod settings;
mod sql;
mod sql_prepare;
mod txn_control;
mod types;

pub mod api;
pub mod pg;
