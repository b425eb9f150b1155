//! The `Extension` trait: how a family of features (PostgreSQL
//! compatibility, spatial, graph, ML, blockchain tables) adds itself to
//! every session, and the table hooks through which it guards tables.
//!
//! ```text
//! DatabaseOptions::extensions ─► Database::open ─► Extensions (once)
//!        │                                            │
//!        │   functions, rules, schemas ─► each session's DataFusion state
//!        │   table hooks      ─► TableHooks: read by the providers (reads),
//!        │                       the write statements (writes), and the
//!        │                       fast path's eligibility (never skipped)
//! ```
//!
//! A table hook must run on every path that reaches its table. The fast
//! path (`fastpath/`) answers point statements without DataFusion, so
//! it refuses any table a hook watches ([`TableHooks::watches`]); such a
//! statement takes the ordinary path, where reads meet
//! [`TableHook::before_read`] when their scan is planned (every execution
//! of a prepared query plans its scans again) and writes meet
//! [`TableHook::before_write`] once per statement, before any row is
//! written. Rules and policies still to come (row-level security, masks,
//! AS OF) join the same eligibility rule.

use std::sync::Arc;
use std::time::Duration;

use datafusion::catalog::SchemaProvider;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{AggregateUDF, ScalarUDF, WindowUDF};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use rustydb_catalog::TableDef;

use crate::api::Outcome;
use crate::error::{EngineError, Result};

/// A table a hook is asked about.
#[derive(Debug, Clone, Copy)]
pub struct HookTable<'a> {
    pub schema: &'a str,
    pub name: &'a str,
}

impl<'a> HookTable<'a> {
    pub(crate) fn of(def: &'a TableDef) -> Self {
        HookTable { schema: &def.schema, name: &def.name }
    }
}

/// What a statement is about to do to a table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOp {
    /// INSERT (with or without ON CONFLICT), COPY FROM, bulk ingest.
    Insert,
    Update,
    Delete,
    Truncate,
}

/// Checks on one table's reads and writes. An `Err` stops the statement
/// with that error before it reads or writes the table.
pub trait TableHook: Send + Sync {
    /// Whether the hook applies to `table`. It must depend on the table's
    /// definition only: fast paths and plans are kept until the catalog
    /// changes.
    fn watches(&self, table: HookTable<'_>) -> bool;

    /// Before a statement reads the table.
    fn before_read(&self, _table: HookTable<'_>) -> Result<()> {
        Ok(())
    }

    /// Before a statement writes the table.
    fn before_write(&self, _table: HookTable<'_>, _op: WriteOp) -> Result<()> {
        Ok(())
    }
}

/// What one statement did, as the pipeline's observe stage reports it
/// (`pipeline.rs`): where audit and metrics attach.
#[derive(Debug)]
pub struct StatementEvent<'a> {
    /// Who ran it.
    pub user: &'a str,
    /// The statement as sent (SQL text, or what a typed call stands for:
    /// `BEGIN`, `COMMIT`, `ROLLBACK`, `INGEST INTO t`).
    pub statement: &'a str,
    /// What it did, or how it failed.
    pub result: std::result::Result<Option<Outcome>, &'a EngineError>,
    /// Until the result was ready; rows it returns stream after this.
    pub elapsed: Duration,
}

/// Sees every statement a session runs, on every front end, after it ran.
pub trait StatementObserver: Send + Sync {
    fn statement_done(&self, event: &StatementEvent<'_>);
}

/// A family of features registered into every session. Every method has
/// a default that adds nothing.
pub trait Extension: Send + Sync {
    /// The family's name, for errors and logs.
    fn name(&self) -> &str;

    /// Scalar functions.
    fn scalar_functions(&self) -> Vec<Arc<ScalarUDF>> {
        Vec::new()
    }

    /// Aggregate functions.
    fn aggregate_functions(&self) -> Vec<Arc<AggregateUDF>> {
        Vec::new()
    }

    /// Window functions.
    fn window_functions(&self) -> Vec<Arc<WindowUDF>> {
        Vec::new()
    }

    /// Physical optimizer rules, run after DataFusion's own.
    fn physical_optimizer_rules(&self) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
        Vec::new()
    }

    /// Schemas of the extension's own (reference tables, catalogs), beside
    /// the database's; asked for each new session.
    fn schemas(&self) -> Vec<(String, Arc<dyn SchemaProvider>)> {
        Vec::new()
    }

    /// Checks on tables' reads and writes.
    fn table_hooks(&self) -> Vec<Arc<dyn TableHook>> {
        Vec::new()
    }

    /// Observers of every statement (audit, metrics).
    fn statement_observers(&self) -> Vec<Arc<dyn StatementObserver>> {
        Vec::new()
    }
}

/// The extensions of one database, gathered once when it opens.
#[derive(Clone)]
pub(crate) struct Extensions {
    list: Vec<Arc<dyn Extension>>,
    hooks: Arc<TableHooks>,
    observers: Arc<[Arc<dyn StatementObserver>]>,
}

impl Extensions {
    pub(crate) fn new(list: Vec<Arc<dyn Extension>>) -> Self {
        let hooks = TableHooks(list.iter().flat_map(|e| e.table_hooks()).collect());
        let observers = list.iter().flat_map(|e| e.statement_observers()).collect();
        Extensions { list, hooks: Arc::new(hooks), observers }
    }

    pub(crate) fn hooks(&self) -> &Arc<TableHooks> {
        &self.hooks
    }

    pub(crate) fn observers(&self) -> &[Arc<dyn StatementObserver>] {
        &self.observers
    }

    /// Adds every extension's functions to a session's state.
    pub(crate) fn register_functions(&self, mut builder: SessionStateBuilder) -> SessionStateBuilder {
        for ext in &self.list {
            builder.scalar_functions().get_or_insert_with(Vec::new).extend(ext.scalar_functions());
            builder.aggregate_functions().get_or_insert_with(Vec::new).extend(ext.aggregate_functions());
            builder.window_functions().get_or_insert_with(Vec::new).extend(ext.window_functions());
        }
        builder
    }

    /// Every extension's schemas, for a new session.
    pub(crate) fn schemas(&self) -> Vec<(String, Arc<dyn SchemaProvider>)> {
        self.list.iter().flat_map(|e| e.schemas()).collect()
    }

    /// Every extension's physical optimizer rules, in registration order.
    pub(crate) fn physical_optimizer_rules(&self) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
        self.list.iter().flat_map(|e| e.physical_optimizer_rules()).collect()
    }
}

/// Every table hook of a database.
#[derive(Default)]
pub(crate) struct TableHooks(Vec<Arc<dyn TableHook>>);

impl std::fmt::Debug for TableHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TableHooks({})", self.0.len())
    }
}

impl TableHooks {
    /// Whether any hook watches `def`: such a table is never served by
    /// the fast path.
    pub(crate) fn watches(&self, def: &TableDef) -> bool {
        self.0.iter().any(|h| h.watches(HookTable::of(def)))
    }

    /// Runs the read hooks watching `def`.
    pub(crate) fn before_read(&self, def: &TableDef) -> Result<()> {
        let table = HookTable::of(def);
        self.0.iter().filter(|h| h.watches(table)).try_for_each(|h| h.before_read(table))
    }

    /// Runs the write hooks watching `def`.
    pub(crate) fn before_write(&self, def: &TableDef, op: WriteOp) -> Result<()> {
        let table = HookTable::of(def);
        self.0.iter().filter(|h| h.watches(table)).try_for_each(|h| h.before_write(table, op))
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, Int64Array};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::catalog::MemorySchemaProvider;
    use datafusion::datasource::MemTable;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};

    use super::*;
    use crate::api::{Database, DatabaseOptions};

    /// A function `plus_one(bigint)` and a schema `ext` with table `ten`.
    struct Sample;

    impl Extension for Sample {
        fn name(&self) -> &str {
            "sample"
        }

        fn scalar_functions(&self) -> Vec<Arc<ScalarUDF>> {
            let plus_one = |args: &[ColumnarValue]| {
                let [ColumnarValue::Array(a)] = args else {
                    return datafusion::common::exec_err!("plus_one takes one column");
                };
                let a = a.as_any().downcast_ref::<Int64Array>().expect("bigint, as declared");
                let out: Int64Array = a.iter().map(|v| v.map(|v| v + 1)).collect();
                Ok(ColumnarValue::Array(Arc::new(out)))
            };
            let udf = create_udf(
                "plus_one",
                vec![DataType::Int64],
                DataType::Int64,
                Volatility::Immutable,
                Arc::new(plus_one),
            );
            vec![Arc::new(udf)]
        }

        fn schemas(&self) -> Vec<(String, Arc<dyn SchemaProvider>)> {
            let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
            let batch =
                RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from((1..=10).collect::<Vec<i64>>()))])
                    .expect("one column");
            let table = MemTable::try_new(schema, vec![vec![batch]]).expect("a table");
            let provider = MemorySchemaProvider::new();
            provider.register_table("ten".into(), Arc::new(table)).expect("a new name");
            vec![("ext".into(), Arc::new(provider))]
        }
    }

    #[tokio::test]
    async fn an_extension_adds_functions_and_schemas_to_every_session() {
        let dir = tempfile::tempdir().unwrap();
        let options = DatabaseOptions { extensions: vec![Arc::new(Sample)], ..Default::default() };
        let db = Database::open_with(dir.path(), options).unwrap();
        for _ in 0..2 {
            let mut s = db.session();
            let out = s.execute("SELECT sum(plus_one(n)) FROM ext.ten").await.unwrap().remove(0);
            let (_, batches) = out.collect().await.unwrap();
            let sum = batches[0].column(0).as_any().downcast_ref::<Int64Array>().unwrap().value(0);
            assert_eq!(sum, 65);
        }
        // A database without the extension knows neither.
        let other = Database::open(tempfile::tempdir().unwrap().path()).unwrap();
        assert!(other.session().execute("SELECT plus_one(1)").await.is_err());
    }
}
