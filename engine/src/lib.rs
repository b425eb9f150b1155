//! RustyDB engine: the API every front end calls ([`api`], with the
//! PostgreSQL-only parts in [`pg`]), the statement pipeline, and DataFusion
//! planning and running queries over RustyDB storage.
//!
//! ```text
//! api        Database, Session, StatementResult, errors: all a front end sees
//!  │
//! session    Session and its entries; the pipeline (parse|shape → authorize
//!  │         → route → run → observe), transaction blocks, prepared
//!  │         statements, cursors, COPY, settings
//!  ├──► statements  DDL, roles, maintenance          ┐ statement code
//!  ├──► dml         INSERT / UPDATE / DELETE          ┘ (methods of Session)
//!  ├──► fastpath    point statements without DataFusion, and the one rule
//!  │                for when they may skip it
//!  ▼
//! query      DataFusion integration: catalog and table providers, scans,
//!  │         the query runtime, type mapping, physical rules
//! sql        RustyDB's statements over sqlparser's; names
//! pg         PostgreSQL compatibility: pg_catalog, tags, binary values, COPY
//! extension  the Extension trait: functions, rules, table hooks, observers
//! ```
//!
//! Below the engine: `rustydb_catalog` (definitions, stored transactionally)
//! and `rustydb_storage` (the log, MVCC, row store and segments).

pub mod api;
mod dml;
mod error;
pub mod extension;
mod fastpath;
pub mod pg;
mod query;
mod session;
mod sql;
mod statements;
