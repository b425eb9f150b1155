//! `Session`: one client's connection state and the entries every front end
//! calls (through `engine::api`).
//!
//! ```text
//! Session::execute(sql) ─► parse (PostgreSQL dialect) ─► per statement:
//!   BEGIN/COMMIT/SET/...          handled here
//!   CREATE/ALTER/DROP/TRUNCATE    statements/ ┐ inside the session's transaction
//!   INSERT/UPDATE/DELETE          dml/        │ (or one of its own: autocommit)
//!   SELECT/EXPLAIN/...            DataFusion  ┘ reading at the statement snapshot
//! ```
//!
//! A statement outside BEGIN runs in its own transaction, committed when it
//! succeeds. Inside BEGIN, an error puts the block in the failed state: every
//! statement but ROLLBACK (or ROLLBACK TO a savepoint) fails with 25P02, and
//! COMMIT rolls back, as in PostgreSQL.

pub(crate) mod block;
pub(crate) mod copy;
pub(crate) mod cursors;
mod database;
pub(crate) mod describe;
pub(crate) mod ingest;
pub(crate) mod interrupt;
pub(crate) mod literal_cache;
pub(crate) mod pipeline;
pub(crate) mod prepared;
pub(crate) mod settings;
pub(crate) mod sql_prepare;
pub(crate) mod transaction;

pub(crate) use block::{Block, TxnSlot, commit};
pub use database::{Database, DatabaseOptions, QUERY_MEMORY_BYTES_DEFAULT, default_query_threads};

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::context::SessionContext;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionConfig;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use rustydb_catalog::CatalogSnapshot;
use rustydb_storage::{Isolation, Transaction};

use crate::api::StatementResult;
use crate::error::{EngineError, Result};
use crate::extension::{Extensions, WriteOp};
use crate::pg::catalog::{PgCatalogSchema, SessionInfo};
use crate::query::catalog::{RustyCatalog, StatementCell, StatementContext};
use crate::session::interrupt::{Interrupt, Interruptible, Stop};
use crate::session::settings::Settings;
use crate::sql;
use crate::sql::names::DATABASE_NAME;
use datafusion::execution::runtime_env::RuntimeEnv;

/// One client's connection state.
pub struct Session {
    pub(crate) db: Arc<Database>,
    pub(crate) ctx: SessionContext,
    pub(crate) cell: Arc<StatementCell>,
    pub(crate) catalog_provider: Arc<RustyCatalog>,
    pub(crate) block: Option<Block>,
    pub(crate) settings: Settings,
    pub(crate) copy: Option<crate::session::copy::CopyIn>,
    pub(crate) info: Arc<parking_lot::RwLock<SessionInfo>>,
    interrupt: Arc<Interrupt>,
    /// Set when a result streamed inside a block fails while the client
    /// reads it; the block is failed from its next statement on. A new flag
    /// for every block (and after ROLLBACK TO), so an old stream cannot
    /// fail a later block.
    pub(crate) stream_failure: Arc<AtomicBool>,
    pub(crate) cursors: crate::session::cursors::Cursors,
    pub(crate) sql_prepared: crate::session::sql_prepare::SqlPrepared,
    /// Statements sent with literal values, prepared by shape.
    pub(crate) literal_cache: crate::session::literal_cache::LiteralCache,
}

impl Session {
    fn new(db: Arc<Database>) -> Self {
        let config = SessionConfig::new()
            .with_default_catalog_and_schema(DATABASE_NAME, "public")
            .with_create_default_catalog_and_schema(false)
            .with_information_schema(true)
            .set_str("datafusion.sql_parser.dialect", "postgresql")
            // Our tables and the catalog hold Utf8; `CAST(x AS TEXT)` as Utf8View
            // made CASE and array_agg over both disagree on their type.
            .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false)
            .set_usize("datafusion.execution.sort_spill_reservation_bytes", db.sort_spill_reserve)
            // One partition per query thread.
            .with_target_partitions(db.queries.threads());
        let ctx = context_with_rules(config, db.runtime.clone(), &db.extensions);
        let cell = Arc::new(StatementCell::default());
        let info = Arc::new(parking_lot::RwLock::new(SessionInfo::default()));
        crate::pg::catalog::register_functions(&ctx, &db.pg_tables, cell.clone(), info.clone());
        datafusion_pg_catalog::pg_catalog::generate_series_arg_coercion::CoerceIntArgsToBigInt::widen(&ctx);
        let pg: Arc<dyn datafusion::catalog::SchemaProvider> =
            Arc::new(PgCatalogSchema::new(&db.pg_tables, cell.clone()));
        let mut extra = vec![(crate::pg::catalog::PG_CATALOG.to_owned(), pg)];
        extra.extend(db.extensions.schemas());
        let catalog_provider = Arc::new(RustyCatalog::new(cell.clone(), extra, db.extensions.hooks().clone()));
        ctx.register_catalog(DATABASE_NAME, catalog_provider.clone());
        Session {
            db,
            ctx,
            cell,
            catalog_provider,
            block: None,
            settings: Settings::default(),
            copy: None,
            info,
            interrupt: Arc::default(),
            stream_failure: Arc::default(),
            cursors: Default::default(),
            sql_prepared: Default::default(),
            literal_cache: Default::default(),
        }
    }

    /// The connected user's name.
    pub fn current_user(&self) -> String {
        self.info.read().user.clone()
    }

    /// Who is connected, as current_user and pg_backend_pid report it.
    pub fn set_session_info(&mut self, user: &str, backend_pid: i32) {
        let mut info = self.info.write();
        info.user = user.to_owned();
        info.backend_pid = backend_pid;
    }

    /// The database this session belongs to.
    pub fn database(&self) -> &Arc<Database> {
        &self.db
    }

    /// Whether an explicit transaction block is open, and whether it failed.
    pub fn transaction_status(&self) -> TransactionStatus {
        match &self.block {
            None => TransactionStatus::Idle,
            Some(b) if b.failed || self.stream_failure.load(Ordering::Relaxed) => TransactionStatus::Failed,
            Some(_) => TransactionStatus::InBlock,
        }
    }

    /// Parses SQL text into statements (PostgreSQL dialect).
    pub fn parse(sql: &str) -> Result<Vec<sql::Statement>> {
        sql::parse(sql)
    }

    /// Runs every statement of `sql` in order, stopping at the first error.
    pub async fn execute(&mut self, sql: &str) -> Result<Vec<StatementResult>> {
        let mut out = Vec::new();
        for piece in self.statements(sql)? {
            out.push(self.execute_piece(piece).await?);
        }
        Ok(out)
    }

    /// Runs one parsed statement.
    pub(crate) async fn execute_statement(&mut self, stmt: sql::Statement) -> Result<StatementResult> {
        self.before_statement()?;
        let stmt = match stmt {
            sql::Statement::Sql(stmt) => stmt,
            sql::Statement::Move { cursor, direction } => {
                return Box::pin(self.in_block(async |s| s.fetch(&cursor, &direction, true).await)).await;
            }
            sql::Statement::Checkpoint => return Box::pin(self.in_block(async |s| s.checkpoint().await)).await,
        };
        if let Some(out) = self.transaction_control(&stmt).await? {
            return Ok(out);
        }
        // Statements not run in the block's transaction still follow its
        // rules (`in_block`). Each arm's future is boxed: inline, the
        // largest (COPY, cursors) made every statement's future tens of
        // kilobytes, copied whenever a caller boxes it.
        match stmt {
            Statement::Copy { to: false, .. } => Box::pin(self.in_block(async |s| s.copy_from(stmt).await)).await,
            Statement::Declare { mut stmts } if stmts.len() == 1 => {
                Box::pin(self.in_block(async |s| s.declare_cursor(stmts.remove(0)).await)).await
            }
            Statement::Declare { .. } => {
                Box::pin(self.in_block(async |_| Err(EngineError::unsupported("DECLARE of several cursors at once"))))
                    .await
            }
            Statement::Fetch { name, direction, into, .. } => {
                Box::pin(self.in_block(async |s| {
                    if into.is_some() {
                        return Err(EngineError::unsupported("FETCH INTO"));
                    }
                    s.fetch(&name, &direction, false).await
                }))
                .await
            }
            Statement::Close { cursor } => Box::pin(self.in_block(async |s| s.close_cursor(&cursor))).await,
            Statement::Prepare { name, data_types, statement } => {
                Box::pin(self.in_block(async |s| s.sql_prepare(&name, &data_types, &statement).await)).await
            }
            Statement::Execute { name, parameters, immediate: false, .. } => {
                Box::pin(self.in_block(async |s| s.sql_execute(&name, &parameters).await)).await
            }
            Statement::Deallocate { name, .. } => Box::pin(self.in_block(async |s| s.sql_deallocate(&name))).await,
            stmt => {
                self.run_in_transaction(move |session, slot, explicit| Box::pin(session.run(slot, stmt, explicit)))
                    .await
            }
        }
    }

    /// Runs a statement that is not run in the block's transaction (cursor
    /// and prepared statement bookkeeping, COPY FROM, CHECKPOINT, and what a
    /// front end runs itself, such as DEALLOCATE of a protocol-level
    /// statement) with a block's rules: refused with 25P02 in a failed
    /// block, and failing the block when it fails.
    pub async fn in_block<T>(&mut self, work: impl AsyncFnOnce(&mut Session) -> Result<T>) -> Result<T> {
        self.note_stream_failure();
        if self.block.as_ref().is_some_and(|b| b.failed) {
            return Err(EngineError::in_failed_transaction());
        }
        let result = work(self).await;
        if result.is_err()
            && let Some(b) = self.block.as_mut()
        {
            b.failed = true;
        }
        result
    }

    /// Runs `work` in the open block's transaction, or in a transaction of
    /// its own that commits if `work` succeeds (autocommit).
    pub(crate) async fn run_in_transaction<F>(&mut self, work: F) -> Result<StatementResult>
    where
        F: for<'a> FnOnce(&'a mut Session, &'a mut TxnSlot, bool) -> BoxFuture<'a, Result<StatementResult>>,
    {
        if self.block.as_ref().is_some_and(|b| b.failed) {
            return Err(EngineError::in_failed_transaction());
        }
        let (mut slot, explicit, savepoints) = match self.block.take() {
            Some(b) => (TxnSlot::new(b.txn, self.cell.clone()), true, b.savepoints),
            None => (TxnSlot::new(self.new_transaction(None)?, self.cell.clone()), false, Vec::new()),
        };
        slot.get_mut()?.begin_statement();
        let stop = self.statement_stop()?;
        // The statement context stays in the cell after `work`: a lazily
        // streamed result still evaluates catalog functions against it.
        let result = tokio::select! {
            r = work(self, &mut slot, explicit) => r,
            e = stop.stopped() => Err(e),
        };
        let result = result.map(|out| match out {
            StatementResult::Rows { schema, stream, outcome } => {
                let stream = Interruptible::wrap(stream, stop.clone());
                let stream = if explicit { self.fails_block_on_error(schema.clone(), stream) } else { stream };
                StatementResult::Rows { schema, stream, outcome }
            }
            StatementResult::CopyOut(mut copy) => {
                let stream = Interruptible::wrap(copy.stream, stop.clone());
                copy.stream = if explicit { self.fails_block_on_error(copy.schema.clone(), stream) } else { stream };
                StatementResult::CopyOut(copy)
            }
            other => other,
        });
        // Scans planned by the statement hold views of their own.
        self.cell.release_view();
        match (explicit, slot.txn.take()) {
            (true, Some(txn)) => {
                self.block = Some(Block { txn, savepoints, failed: result.is_err() });
                result
            }
            (false, Some(txn)) => match result {
                Ok(out) => {
                    if txn.has_writes() {
                        commit(txn).await?;
                    } else {
                        // Nothing to log: no fsync to wait for off the runtime.
                        txn.commit()?;
                    }
                    Ok(out)
                }
                Err(e) => {
                    txn.rollback();
                    Err(e)
                }
            },
            (true, None) => {
                // Interrupted while storage held the transaction on a blocking
                // thread: it is rolled back there. The block stays failed
                // (ROLLBACK ends it) on an empty transaction; its savepoints
                // belonged to the lost one and are gone.
                let txn = self.new_transaction(None)?;
                self.block = Some(Block { txn, savepoints: Vec::new(), failed: true });
                result.and(Err(EngineError::internal("transaction lost during the statement")))
            }
            (false, None) => result.and(Err(EngineError::internal("transaction lost during the statement"))),
        }
    }

    /// Rows of a statement in a block stream as the client reads them (a
    /// driver paging through a large result holds one page); an error
    /// while they stream fails the block from its next statement on.
    fn fails_block_on_error(&self, schema: SchemaRef, stream: SendableRecordBatchStream) -> SendableRecordBatchStream {
        let failure = self.stream_failure.clone();
        let stream = stream.inspect(move |r| {
            if r.is_err() {
                failure.store(true, Ordering::Relaxed);
            }
        });
        Box::pin(RecordBatchStreamAdapter::new(schema, stream))
    }

    /// Fails the open block if a result it streamed failed meanwhile.
    pub(crate) fn note_stream_failure(&mut self) {
        if let Some(b) = &mut self.block
            && self.stream_failure.swap(false, Ordering::Relaxed)
        {
            b.failed = true;
        }
    }

    /// When the statement starting now must stop (cancel, statement_timeout).
    pub(crate) fn statement_stop(&self) -> Result<Stop> {
        Ok(Stop::starting_now(self.interrupt.clone(), self.settings.statement_timeout()?))
    }

    /// The handle that cancels this session's running statement (for the
    /// protocol's CancelRequest, which arrives on another connection).
    pub fn interrupt(&self) -> Arc<Interrupt> {
        self.interrupt.clone()
    }

    /// What planning outside of a statement reads: the open block's view
    /// (its own DDL included), else a fresh snapshot.
    pub(crate) fn current_view(&self) -> Result<rustydb_storage::ReadView> {
        match &self.block {
            Some(b) => Ok(b.txn.view()),
            None => {
                let mut txn = self.new_transaction(None)?;
                txn.begin_statement();
                Ok(txn.view())
            }
        }
    }

    /// Starts a storage transaction with the session's settings.
    pub(crate) fn new_transaction(&self, isolation: Option<Isolation>) -> Result<Transaction> {
        let mut txn = self.db.storage.begin(isolation.unwrap_or(self.settings.default_isolation()?));
        txn.set_lock_timeout(self.settings.lock_timeout()?);
        txn.set_synchronous_commit(self.settings.synchronous_commit()?);
        Ok(txn)
    }

    /// Whether any extension observes statements.
    pub(crate) fn observing(&self) -> bool {
        !self.db.extensions.observers().is_empty()
    }

    /// Runs the table hooks of a write, before any row of it is written.
    pub(crate) fn before_write(&self, def: &rustydb_catalog::TableDef, op: WriteOp) -> Result<()> {
        self.db.extensions.hooks().before_write(def, op)
    }

    /// Points the providers at the statement's snapshot and catalog.
    pub(crate) fn prepare_context(&self, txn: &Transaction) -> Result<Arc<CatalogSnapshot>> {
        self.prepare_view(txn.view())
    }

    /// Points the providers at `view` and its catalog.
    pub(crate) fn prepare_view(&self, view: rustydb_storage::ReadView) -> Result<Arc<CatalogSnapshot>> {
        let catalog = self.db.catalog.get(&view)?;
        self.cell.set(StatementContext { view: Some(view), catalog: catalog.clone() });
        Ok(catalog)
    }

    /// Runs one statement in `slot` (inside run_in_transaction).
    pub(crate) async fn run(&mut self, slot: &mut TxnSlot, stmt: Statement, explicit: bool) -> Result<StatementResult> {
        use Statement as S;
        match stmt {
            S::CreateRole(_) | S::AlterRole { .. } | S::Drop { object_type: ObjectType::Role, .. } => {
                self.role_statement(slot, stmt).await
            }
            S::CreateTable(_)
            | S::CreateSchema { .. }
            | S::CreateIndex(_)
            | S::Drop { .. }
            | S::AlterTable(_)
            | S::Truncate(_) => self.ddl(slot, stmt).await,
            S::Insert(_) | S::Update(_) if let Some(out) = self.literal_fast_write(slot, &stmt).await? => Ok(out),
            S::Insert(insert) => self.insert(slot, insert).await,
            S::Update(update) => self.update(slot, update).await,
            S::Delete(delete) => self.delete(slot, delete).await,
            S::Query(ref q)
                if q.locks.is_empty()
                    && let Some(out) = self.literal_point_lookup(slot, &stmt)? =>
            {
                Ok(out)
            }
            S::Query(ref q) if !q.locks.is_empty() => self.select_for_update(slot, stmt).await,
            S::Query(_) | S::Explain { .. } => self.query_statement(slot, stmt).await,
            S::Copy { .. } => self.copy_to(slot, stmt).await,
            S::Set(set) => self.set(slot, set),
            S::Reset(reset) => self.reset(slot, reset),
            S::Discard { object_type } => self.discard(slot, object_type, explicit),
            S::ShowVariable { variable } => self.show(&variable),
            S::Vacuum(_) | S::Analyze(_) => {
                Ok(StatementResult::command(if matches!(stmt, S::Vacuum(_)) { "VACUUM" } else { "ANALYZE" }))
            }
            other => {
                Err(EngineError::unsupported(format!("statement not supported: {}", first_words(&other.to_string()))))
            }
        }
    }

    /// Plans and runs a query through DataFusion at the statement snapshot.
    pub(crate) async fn query_statement(&mut self, slot: &mut TxnSlot, stmt: Statement) -> Result<StatementResult> {
        self.prepare_context(slot.get()?)?;
        let plan = self.ctx.state().statement_to_plan(DfStatement::Statement(Box::new(stmt))).await?;
        self.run_plan(plan).await
    }

    /// Runs a logical plan; its rows stream as the client reads them.
    pub(crate) async fn run_plan(&mut self, plan: datafusion::logical_expr::LogicalPlan) -> Result<StatementResult> {
        let (schema, stream) = self.execute_plan(plan).await?;
        Ok(StatementResult::Rows { schema, stream, outcome: None })
    }

    /// Runs SQL text that the engine generated, collecting the result.
    pub(crate) async fn run_sql(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let mut stmts = sql::parse_generated(sql)?;
        if stmts.len() != 1 {
            return Err(EngineError::internal(format!("generated SQL is not one statement: {sql}")));
        }
        let stmt = stmts.remove(0);
        let plan = self.ctx.state().statement_to_plan(DfStatement::Statement(Box::new(stmt))).await?;
        let (schema, stream) = self.execute_plan(plan).await?;
        Ok((schema, stream.try_collect().await?))
    }

    /// Plans `plan` physically here and runs it on the query runtime.
    async fn execute_plan(
        &self,
        plan: datafusion::logical_expr::LogicalPlan,
    ) -> Result<(SchemaRef, SendableRecordBatchStream)> {
        let df = self.ctx.execute_logical_plan(plan).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let task = Arc::new(df.task_ctx());
        let physical = df.create_physical_plan().await?;
        Ok((schema, self.db.queries.execute(physical, task)))
    }
}

/// A DataFusion context with the extensions' functions, and RustyDB's and
/// the extensions' physical rules appended to DataFusion's own.
fn context_with_rules(config: SessionConfig, runtime: Arc<RuntimeEnv>, extensions: &Extensions) -> SessionContext {
    use datafusion::execution::session_state::SessionStateBuilder;
    let builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        // Accept PostgreSQL's OID alias types (regclass, regtype, ...) in casts.
        .with_type_planner(Arc::new(datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner));
    let state = extensions.register_functions(builder).build();
    let mut rules = state.physical_optimizers().to_vec();
    rules.push(Arc::new(crate::query::checked_arithmetic::CheckedArithmetic));
    rules.extend(extensions.physical_optimizer_rules());
    let state = SessionStateBuilder::new_from_existing(state).with_physical_optimizer_rules(rules).build();
    SessionContext::new_with_state(state)
}

/// Transaction state as the PostgreSQL protocol reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionStatus {
    Idle,
    InBlock,
    Failed,
}

fn first_words(sql: &str) -> String {
    sql.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// After a statement, and before any write, the session's statement
    /// context holds no view: a view shares the transaction's write set,
    /// and a write while it is shared copies the whole set.
    #[tokio::test]
    async fn statements_leave_no_view_sharing_the_write_set() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::open(dir.path()).unwrap();
        let mut s = db.session();
        let holds_view = |s: &Session| s.cell.get().is_some_and(|c| c.view.is_some());
        s.execute("CREATE TABLE t (id INT PRIMARY KEY, v INT); BEGIN").await.unwrap();
        for sql in [
            "INSERT INTO t VALUES (1, 1)",
            "INSERT INTO t SELECT id + 1, v FROM t",
            "UPDATE t SET v = v + 1 WHERE id = 2",
            "UPDATE t SET v = v * 2 WHERE v > 0",
            "DELETE FROM t WHERE id = 1",
            "SELECT * FROM t WHERE v > 1",
        ] {
            for out in s.execute(sql).await.unwrap() {
                out.collect().await.ok();
            }
            assert!(!holds_view(&s), "{sql} left its view in the statement context");
        }
        // INSERT ... SELECT still reads the table as the statement began.
        s.execute("INSERT INTO t SELECT id + 10, v FROM t").await.unwrap();
        let (_, batches) = s.execute("SELECT count(*) FROM t").await.unwrap().remove(0).collect().await.unwrap();
        let count = batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
        assert_eq!(count, 2);
    }
}
