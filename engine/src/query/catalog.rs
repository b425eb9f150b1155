//! DataFusion catalog and schema providers over the RustyDB catalog.
//!
//! DataFusion resolves table names while planning. Each statement first
//! stores its [`ReadView`] and catalog snapshot in the session's
//! [`StatementCell`]; the providers here read that cell, so every table a
//! statement names is read at the statement's snapshot, including its own
//! uncommitted writes. A per-session in-memory schema holds scratch tables
//! (RETURNING inputs) that never reach storage.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{CatalogProvider, MemorySchemaProvider, SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};
use parking_lot::Mutex;
use rustydb_catalog::CatalogSnapshot;
use rustydb_storage::ReadView;

use crate::extension::TableHooks;
use crate::query::table::{ROWID_PREFIX, RustyTable};

pub use crate::sql::names::SCRATCH_SCHEMA;

/// What the statement being planned reads.
#[derive(Clone)]
pub struct StatementContext {
    /// What scans planned now read; `None` once the statement writes
    /// (see [`StatementCell::release_view`]).
    pub view: Option<ReadView>,
    pub catalog: Arc<CatalogSnapshot>,
}

/// The session's current statement context, shared with the providers.
#[derive(Default)]
pub struct StatementCell(Mutex<Option<StatementContext>>);

impl std::fmt::Debug for StatementCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatementCell")
    }
}

impl StatementCell {
    pub fn set(&self, ctx: StatementContext) {
        *self.0.lock() = Some(ctx);
    }
    pub fn clear(&self) {
        *self.0.lock() = None;
    }
    /// Drops the view, keeping the catalog (which functions of a lazily
    /// streamed result still read). A view shares the transaction's write
    /// set, and a write while it is shared copies the whole set: kept
    /// through a block of single-row INSERTs, that made each statement
    /// cost as much as all before it.
    pub fn release_view(&self) {
        if let Some(ctx) = self.0.lock().as_mut() {
            ctx.view = None;
        }
    }
    pub fn get(&self) -> Option<StatementContext> {
        self.0.lock().clone()
    }
}

/// The database as a DataFusion catalog.
#[derive(Debug)]
pub struct RustyCatalog {
    cell: Arc<StatementCell>,
    scratch: Arc<MemorySchemaProvider>,
    /// Schemas that are no tables of the database: `pg_catalog`, and
    /// those extensions add.
    extra: Vec<(String, Arc<dyn SchemaProvider>)>,
    hooks: Arc<TableHooks>,
}

impl RustyCatalog {
    pub fn new(
        cell: Arc<StatementCell>,
        extra: Vec<(String, Arc<dyn SchemaProvider>)>,
        hooks: Arc<TableHooks>,
    ) -> Self {
        let scratch = Arc::new(MemorySchemaProvider::new());
        RustyCatalog { cell, scratch, extra, hooks }
    }

    /// The session's scratch schema.
    pub fn scratch(&self) -> Arc<MemorySchemaProvider> {
        self.scratch.clone()
    }
}

impl CatalogProvider for RustyCatalog {
    fn schema_names(&self) -> Vec<String> {
        let mut names: Vec<String> =
            self.cell.get().map(|c| c.catalog.schemas.keys().cloned().collect()).unwrap_or_default();
        names.extend(self.extra.iter().map(|(name, _)| name.clone()));
        names
    }

    fn schema(&self, name: &str) -> Option<Arc<dyn SchemaProvider>> {
        if name == SCRATCH_SCHEMA {
            return Some(self.scratch.clone());
        }
        if let Some((_, schema)) = self.extra.iter().find(|(n, _)| n == name) {
            return Some(schema.clone());
        }
        let ctx = self.cell.get()?;
        ctx.catalog.schemas.contains_key(name).then(|| {
            let schema = RustySchema { cell: self.cell.clone(), name: name.to_owned(), hooks: self.hooks.clone() };
            Arc::new(schema) as Arc<dyn SchemaProvider>
        })
    }
}

/// One schema of the database.
#[derive(Debug)]
pub struct RustySchema {
    cell: Arc<StatementCell>,
    name: String,
    hooks: Arc<TableHooks>,
}

#[async_trait]
impl SchemaProvider for RustySchema {
    fn table_names(&self) -> Vec<String> {
        self.cell.get().map(|c| c.catalog.tables_in(&self.name).map(|t| t.name.clone()).collect()).unwrap_or_default()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        let ctx =
            self.cell.get().ok_or_else(|| DataFusionError::Internal("table resolved outside of a statement".into()))?;
        let (name, with_rowid) = match name.strip_prefix(ROWID_PREFIX) {
            Some(base) => (base, true),
            None => (name, false),
        };
        Ok(ctx.catalog.table(&self.name, name).map(|def| {
            let table = RustyTable::new(def.clone(), self.cell.clone(), self.hooks.clone(), with_rowid);
            Arc::new(table) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        self.cell.get().is_some_and(|c| c.catalog.table(&self.name, name).is_some())
    }
}
