//! Prepared statements: `prepare` once with `$1..$n` parameters, then
//! `execute_prepared` many times.
//!
//! Queries keep their DataFusion logical plan; each execution binds the
//! parameter values into it and plans only the physical side, skipping
//! parsing, name resolution and type inference. The cached plan is tied to
//! the catalog snapshot it was made with and is made again after DDL (tables
//! in the plan read the snapshot of the executing statement, see
//! `query/table.rs`). Other statements (DML, DDL) bind by substituting the
//! values as typed literals into the parsed statement.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Expr, Statement, Value, visit_expressions_mut};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use rustydb_catalog::CatalogSnapshot;
use std::ops::ControlFlow;

use crate::api::{StatementResult, Verb};
use crate::error::{EngineError, Result};
use crate::fastpath::{PointInsert, PointLookup, PointUpdate, Scope};
use crate::session::{Session, TxnSlot};
use crate::sql;
use rustydb_common::SqlState;
use rustydb_storage::WriteOutcome;

/// A write answered without DataFusion, with its key when it has one.
enum FastWrite {
    Update(Arc<PointUpdate>, Option<Vec<rustydb_storage::Value>>),
    Insert(Arc<PointInsert>),
}

/// Most parameters one statement may have (PostgreSQL's protocol limit).
pub const PARAMS_MAX: usize = 65_535;

/// A statement prepared by [`Session::prepare`].
///
/// Cheap to clone: everything is shared, and the wire front end and the
/// literal cache keep one copy per statement that every execution reads.
#[derive(Clone)]
pub struct Prepared {
    statement: Arc<sql::Statement>,
    param_types: Arc<[DataType]>,
    schema: Option<SchemaRef>,
    /// A query's plan. Shared by every copy, so that a plan made again
    /// after DDL serves the later executions of all of them.
    plan: Option<Arc<parking_lot::Mutex<Arc<QueryPlan>>>>,
    /// The search path names were resolved with: the fast writes below
    /// hold tables found through it.
    search_path: Arc<str>,
    /// The single-row UPDATE fast path and the catalog it was made with.
    point_update: Option<(Arc<CatalogSnapshot>, Arc<PointUpdate>)>,
    /// The single-row INSERT fast path and the catalog it was made with.
    point_insert: Option<(Arc<CatalogSnapshot>, Arc<PointInsert>)>,
}

/// A query's logical plan and the catalog snapshot and search path it was
/// made with.
struct QueryPlan {
    catalog: Arc<CatalogSnapshot>,
    search_path: Arc<str>,
    plan: LogicalPlan,
    /// The index-lookup fast path, valid with `catalog`.
    point: Option<PointLookup>,
}

impl Prepared {
    /// The query plan as it stands (the lock is held only to copy an `Arc`).
    fn current_plan(&self) -> Option<Arc<QueryPlan>> {
        self.plan.as_ref().map(|p| p.lock().clone())
    }

    /// A statement with nothing to plan or bind (RustyDB's own statements).
    fn without_plan(statement: sql::Statement, search_path: Arc<str>) -> Prepared {
        Prepared {
            statement: Arc::new(statement),
            param_types: Arc::new([]),
            schema: None,
            plan: None,
            search_path,
            point_update: None,
            point_insert: None,
        }
    }
}

impl Prepared {
    /// Parameter types, `$1` first.
    pub fn param_types(&self) -> &[DataType] {
        &self.param_types
    }
    /// The result columns, when the statement returns rows and they are
    /// known before execution.
    pub fn schema(&self) -> Option<&SchemaRef> {
        self.schema.as_ref()
    }
    /// The cursor this statement declares, if it is a DECLARE ... CURSOR.
    pub fn declared_cursor(&self) -> Option<String> {
        match self.statement.sql() {
            Some(Statement::Declare { stmts }) => {
                stmts.first().and_then(|d| d.names.first()).map(crate::sql::names::ident)
            }
            _ => None,
        }
    }

    /// Whether executions answer from one index lookup, skipping DataFusion.
    pub fn uses_index_lookup(&self) -> bool {
        self.current_plan().is_some_and(|p| p.point.is_some())
            || self.point_update.is_some()
            || self.point_insert.is_some()
    }
    /// The statement as parsed.
    pub fn statement(&self) -> &sql::Statement {
        &self.statement
    }
    /// The statement text (normalised).
    pub fn sql(&self) -> String {
        self.statement.to_string()
    }
}

/// Positions of the `$n` placeholders of a statement (1-based, highest).
fn placeholder_count(stmt: &mut Statement) -> Result<usize> {
    let mut max = 0usize;
    let mut bad = None;
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        if let Expr::Value(v) = e
            && let Value::Placeholder(p) = &v.value
        {
            match p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok()).filter(|n| (1..=PARAMS_MAX).contains(n)) {
                Some(n) => max = max.max(n),
                None => bad = Some(p.clone()),
            }
        }
        ControlFlow::<()>::Continue(())
    });
    match bad {
        Some(p) => Err(EngineError::syntax(format!("unsupported parameter placeholder {p}; use $1, $2, ..."))),
        None => Ok(max),
    }
}

/// The SQL literal for a bound value, typed so that it means the same as the
/// value would as a parameter.
fn literal(value: &ScalarValue) -> Result<Expr> {
    if value.is_null() {
        return Ok(Expr::value(Value::Null));
    }
    let text = match value {
        ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => {
            return Ok(Expr::value(Value::SingleQuotedString(s.clone())));
        }
        ScalarValue::Boolean(Some(b)) => return Ok(Expr::value(Value::Boolean(*b))),
        ScalarValue::Binary(Some(b)) | ScalarValue::LargeBinary(Some(b)) => {
            // X'..' is a binary literal; a text literal would be bytea's text input.
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            return Ok(Expr::value(Value::HexStringLiteral(hex)));
        }
        other => {
            let dt = crate::query::types::pg_type_name(&other.data_type());
            let dt = if dt == "unknown" { "TEXT" } else { dt };
            // Arrow's display gives ISO dates and timestamps, which casts read back.
            let array = other.to_array().map_err(EngineError::from)?;
            let text = datafusion::arrow::util::display::array_value_to_string(&array, 0)
                .map_err(crate::error::arrow_error)?;
            format!("CAST('{}' AS {dt})", text.replace('\'', "''"))
        }
    };
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(&text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| EngineError::internal(format!("literal for parameter: {e}")))
}

/// The statement without the clauses DataFusion's planner lacks, when it
/// has any (for parameter type inference only).
fn without_extensions(stmt: &Statement) -> Option<Statement> {
    let mut s = stmt.clone();
    match &mut s {
        Statement::Insert(i) if i.returning.is_some() || i.on.is_some() => {
            i.returning = None;
            i.on = None;
        }
        Statement::Update(u) if u.returning.is_some() => u.returning = None,
        Statement::Delete(d) if d.returning.is_some() => d.returning = None,
        _ => return None,
    }
    Some(s)
}

fn bind_literals(stmt: &mut Statement, params: &[ScalarValue]) -> Result<()> {
    let literals = params.iter().map(literal).collect::<Result<Vec<_>>>()?;
    let _ = visit_expressions_mut(stmt, |e: &mut Expr| {
        if let Expr::Value(v) = e
            && let Value::Placeholder(p) = &v.value
            && let Some(n) = p.strip_prefix('$').and_then(|n| n.parse::<usize>().ok())
            && let Some(lit) = literals.get(n - 1)
        {
            *e = lit.clone();
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

/// The statement with its parameters written in as literals (DML, which
/// runs through the ordinary statement path).
fn bound(statement: &Statement, params: &[ScalarValue]) -> Result<Statement> {
    let mut stmt = statement.clone();
    bind_literals(&mut stmt, params)?;
    Ok(stmt)
}

impl Session {
    /// Prepares one statement. `declared` gives parameter types the client
    /// fixed (`None` to infer); parameters nothing constrains are text.
    pub async fn prepare(&mut self, text: &str, declared: &[Option<DataType>]) -> Result<Prepared> {
        let mut stmts = Self::parse(text)?;
        if stmts.len() != 1 {
            return Err(EngineError::syntax("cannot prepare more than one statement"));
        }
        let mut statement = match stmts.remove(0) {
            sql::Statement::Sql(s) => s,
            // RustyDB's own statements take no parameters and return no rows.
            own => return Ok(Prepared::without_plan(own, self.settings.search_path().into())),
        };
        // The placeholders of PREPARE ... AS are the inner statement's.
        let own = if matches!(statement, Statement::Prepare { .. }) { 0 } else { placeholder_count(&mut statement)? };
        let count = own.max(declared.len());
        // Queries (and EXPLAIN) keep their plan. FOR UPDATE runs through the
        // DML path, but its columns are those of the query without the lock.
        let cacheable = match &statement {
            Statement::Query(q) => q.locks.is_empty(),
            Statement::Explain { statement, .. } => matches!(**statement, Statement::Query(_)),
            _ => false,
        };
        let describe_only = match &statement {
            Statement::Query(q) if !q.locks.is_empty() => {
                let mut q = q.clone();
                q.locks.clear();
                Some(Statement::Query(q))
            }
            Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_) => Some(statement.clone()),
            _ => None,
        };
        let shared = Arc::new(sql::Statement::Sql(statement));
        let statement = shared.sql().expect("made from a statement of PostgreSQL's grammar just above");
        let mut prepared = Prepared {
            statement: shared.clone(),
            param_types: Arc::new([]),
            schema: None,
            plan: None,
            search_path: self.settings.search_path().into(),
            point_update: None,
            point_insert: None,
        };
        let mut inferred: std::collections::HashMap<String, Option<DataType>> = Default::default();
        match statement {
            Statement::ShowVariable { variable } => prepared.schema = Some(self.show_schema(variable)),
            // A FETCH returns the rows of its cursor, declared earlier.
            Statement::Fetch { name, into: None, .. } => {
                prepared.schema = self.cursors.schema(&crate::sql::names::ident(name));
            }
            // An EXECUTE returns the rows of its statement, prepared earlier.
            Statement::Execute { name: Some(name), immediate: false, .. } => {
                prepared.schema = self.sql_prepared.schema(name);
            }
            _ => {}
        }
        if cacheable || describe_only.is_some() {
            let catalog = self.prepare_view(self.current_view()?)?;
            let to_plan = describe_only.clone().unwrap_or_else(|| statement.clone());
            let mut planned = self.ctx.state().statement_to_plan(DfStatement::Statement(Box::new(to_plan))).await;
            if planned.is_err()
                && let Some(plain) = without_extensions(statement)
            {
                // DataFusion plans no RETURNING / ON CONFLICT; the statement
                // without them has the same parameters.
                planned = self.ctx.state().statement_to_plan(DfStatement::Statement(Box::new(plain))).await;
            }
            let current = self.settings.current_schema();
            let scope = self.fast_path_scope(&catalog, &current);
            match statement {
                Statement::Update(_) => {
                    prepared.point_update =
                        PointUpdate::recognise(statement, &scope).map(|u| (catalog.clone(), Arc::new(u)));
                }
                Statement::Insert(_) => {
                    prepared.point_insert =
                        PointInsert::recognise(statement, &scope).map(|i| (catalog.clone(), Arc::new(i)));
                }
                _ => {}
            }
            let returning = match &describe_only {
                // RETURNING columns must be described before execution.
                Some(Statement::Insert(_) | Statement::Update(_) | Statement::Delete(_)) => {
                    self.returning_schema(&catalog, statement).await
                }
                _ => Ok(None),
            };
            self.cell.clear();
            prepared.schema = returning?;
            match planned {
                Ok(plan) => {
                    inferred = plan.get_parameter_types()?;
                    if cacheable || matches!(describe_only, Some(Statement::Query(_))) {
                        prepared.schema = Some(Arc::new(plan.schema().as_arrow().clone()));
                    }
                    if cacheable {
                        let point = prepared.schema.as_ref().and_then(|schema| {
                            let current = self.settings.current_schema();
                            PointLookup::recognise(statement, &self.fast_path_scope(&catalog, &current), schema)
                        });
                        let search_path = prepared.search_path.clone();
                        let plan = QueryPlan { catalog, search_path, plan, point };
                        prepared.plan = Some(Arc::new(parking_lot::Mutex::new(Arc::new(plan))));
                    }
                }
                Err(e) if cacheable || matches!(describe_only, Some(Statement::Query(_))) => return Err(e.into()),
                // DataFusion cannot plan some DML we support (ON CONFLICT,
                // RETURNING): those parameters fall back to declared / text.
                Err(_) => {}
            }
        }
        prepared.param_types = (1..=count)
            .map(|n| {
                declared
                    .get(n - 1)
                    .cloned()
                    .flatten()
                    .or_else(|| inferred.get(&format!("${n}")).cloned().flatten())
                    .unwrap_or(DataType::Utf8)
            })
            .collect();
        Ok(prepared)
    }

    /// `FETCH ALL FROM cursor`, prepared with the cursor's columns: the
    /// protocol portal through which clients describe a SQL cursor.
    pub async fn prepare_fetch_all(&mut self, cursor: &str) -> Result<Option<Prepared>> {
        if self.cursors.schema(cursor).is_none() {
            return Ok(None);
        }
        let sql = format!("FETCH ALL FROM {}", crate::sql::names::quote(cursor));
        self.prepare(&sql, &[]).await.map(Some)
    }

    /// Executes a prepared statement with parameter values (`$1` first).
    pub async fn execute_prepared(&mut self, prepared: &Prepared, params: Vec<ScalarValue>) -> Result<StatementResult> {
        self.observed(|| prepared.sql(), async |s| s.run_prepared(prepared, params).await).await
    }

    /// [`Session::execute_prepared`] inside the pipeline (unobserved).
    pub(crate) async fn run_prepared(
        &mut self,
        prepared: &Prepared,
        params: Vec<ScalarValue>,
    ) -> Result<StatementResult> {
        self.note_stream_failure();
        if params.len() != prepared.param_types.len() {
            return Err(EngineError::sql(
                SqlState::ProtocolViolation,
                format!(
                    "bind message supplies {} parameters, but prepared statement requires {}",
                    params.len(),
                    prepared.param_types.len()
                ),
            ));
        }
        let params = params
            .into_iter()
            .zip(prepared.param_types.iter())
            .map(|(v, t)| if &v.data_type() == t { Ok(v) } else { v.cast_to(t).map_err(EngineError::from) })
            .collect::<Result<Vec<_>>>()?;
        if let Some(plan) = &prepared.plan {
            let (statement, plan) = (prepared.statement.clone(), plan.clone());
            return self
                .run_in_transaction(move |session, slot, _explicit| {
                    Box::pin(async move {
                        let statement = statement.sql().ok_or_else(|| EngineError::internal("a plan without SQL"))?;
                        session.prepared_query(slot, statement, &plan, params).await
                    })
                })
                .await;
        }
        let fast = match (&prepared.point_update, &prepared.point_insert) {
            (Some((made_with, update)), _) => {
                update.key(&params)?.map(|key| (made_with.clone(), FastWrite::Update(update.clone(), key)))
            }
            (_, Some((made_with, insert))) => Some((made_with.clone(), FastWrite::Insert(insert.clone()))),
            _ => None,
        };
        if let Some((made_with, fast)) = fast {
            let (statement, path) = (prepared.statement.clone(), prepared.search_path.clone());
            return self
                .run_in_transaction(move |session, slot, explicit| {
                    Box::pin(async move {
                        let catalog = session.prepare_context(slot.get()?)?;
                        if !Arc::ptr_eq(&made_with, &catalog) || session.settings.search_path() != &*path {
                            // DDL or SET search_path since PREPARE: the
                            // ordinary path resolves and checks everything again.
                            let Some(statement) = statement.sql() else {
                                return Err(EngineError::internal("a fast path without SQL"));
                            };
                            return Box::pin(session.run(slot, bound(statement, &params)?, explicit)).await;
                        }
                        session.fast_write(slot, fast, &params).await
                    })
                })
                .await;
        }
        let statement = match prepared.statement.as_ref() {
            sql::Statement::Sql(statement) => sql::Statement::Sql(bound(statement, &params)?),
            own => own.clone(),
        };
        Box::pin(self.execute_statement(statement)).await
    }

    /// A single-row UPDATE or INSERT written without DataFusion, when `stmt`
    /// is one whose values are all literals (the simple query protocol).
    pub(crate) async fn literal_fast_write(
        &mut self,
        slot: &mut TxnSlot,
        stmt: &Statement,
    ) -> Result<Option<StatementResult>> {
        let catalog = self.prepare_context(slot.get()?)?;
        let current = self.settings.current_schema();
        let scope = self.fast_path_scope(&catalog, &current);
        let fast = match stmt {
            Statement::Update(_) => match PointUpdate::recognise(stmt, &scope) {
                Some(update) => update.key(&[])?.map(|key| FastWrite::Update(Arc::new(update), key)),
                None => None,
            },
            Statement::Insert(_) => PointInsert::recognise(stmt, &scope).map(|i| FastWrite::Insert(Arc::new(i))),
            _ => None,
        };
        match fast {
            Some(fast) => self.fast_write(slot, fast, &[]).await.map(Some),
            None => Ok(None),
        }
    }

    /// A point SELECT whose key is all literals (the simple query
    /// protocol), answered by one index lookup without DataFusion.
    pub(crate) fn literal_point_lookup(
        &mut self,
        slot: &mut TxnSlot,
        stmt: &Statement,
    ) -> Result<Option<StatementResult>> {
        let catalog = self.prepare_context(slot.get()?)?;
        let current = self.settings.current_schema();
        let Some(point) = PointLookup::recognise_unplanned(stmt, &self.fast_path_scope(&catalog, &current)) else {
            return Ok(None);
        };
        let batch = point.run(&slot.get()?.view(), &[])?;
        Ok(batch.map(|b| StatementResult::from_batches(b.schema(), vec![b], None)))
    }

    /// What the fast path resolves names against (see `fastpath::Scope`).
    fn fast_path_scope<'a>(&'a self, catalog: &'a CatalogSnapshot, current_schema: &'a str) -> Scope<'a> {
        Scope { catalog, current_schema, hooks: self.db.extensions.hooks() }
    }

    async fn fast_write(
        &mut self,
        slot: &mut TxnSlot,
        fast: FastWrite,
        params: &[ScalarValue],
    ) -> Result<StatementResult> {
        match fast {
            FastWrite::Update(update, key) => self.point_update(slot, &update, key, params).await,
            FastWrite::Insert(insert) => {
                let arrays = insert.arrays(params)?;
                let rows = self.complete_rows(&insert.def, insert.targets(), &arrays, 1).await?;
                let table = insert.def.id;
                slot.write(move |t| t.insert(table, rows.clone())).await?;
                Ok(StatementResult::affected(Verb::Insert, 1))
            }
        }
    }

    /// UPDATE of the row a unique key finds, with PostgreSQL's write rules:
    /// a row changed by a transaction that committed after our snapshot is
    /// read again (READ COMMITTED) and updated from its latest version.
    async fn point_update(
        &mut self,
        slot: &mut TxnSlot,
        update: &PointUpdate,
        key: Option<Vec<rustydb_storage::Value>>,
        params: &[ScalarValue],
    ) -> Result<StatementResult> {
        let Some(key) = key else { return Ok(StatementResult::affected(Verb::Update, 0)) };
        for _round in 0..3 {
            let Some((row, old)) = update.find(&slot.get()?.view(), &key)? else {
                return Ok(StatementResult::affected(Verb::Update, 0));
            };
            let new = update.new_row(&old, params)?;
            let (table, snapshot) = (update.def.id, slot.get()?.snapshot());
            match slot.write(move |t| t.update(table, row, new.clone(), snapshot)).await? {
                WriteOutcome::Done => return Ok(StatementResult::affected(Verb::Update, 1)),
                WriteOutcome::Gone => return Ok(StatementResult::affected(Verb::Update, 0)),
                WriteOutcome::Changed => {
                    slot.get_mut()?.refresh_snapshot();
                }
            }
        }
        Err(EngineError::internal("row kept changing while locked"))
    }

    async fn prepared_query(
        &mut self,
        slot: &mut TxnSlot,
        statement: &Statement,
        shared: &parking_lot::Mutex<Arc<QueryPlan>>,
        params: Vec<ScalarValue>,
    ) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        let mut plan = shared.lock().clone();
        if !Arc::ptr_eq(&plan.catalog, &catalog) || *plan.search_path != *self.settings.search_path() {
            // The catalog or search path changed since the plan was made:
            // plan again, for this execution and the later ones.
            let logical =
                self.ctx.state().statement_to_plan(DfStatement::Statement(Box::new(statement.clone()))).await?;
            let schema = Arc::new(logical.schema().as_arrow().clone());
            let current_schema = self.settings.current_schema();
            let point = PointLookup::recognise(statement, &self.fast_path_scope(&catalog, &current_schema), &schema);
            let search_path = self.settings.search_path().into();
            plan = Arc::new(QueryPlan { catalog, search_path, plan: logical, point });
            *shared.lock() = plan.clone();
        }
        if let Some(point) = &plan.point
            && let Some(batch) = point.run(&slot.get()?.view(), &params)?
        {
            return Ok(StatementResult::from_batches(batch.schema(), vec![batch], None));
        }
        let plan =
            plan.plan.clone().with_param_values(ParamValues::List(params.into_iter().map(Into::into).collect()))?;
        self.run_plan(plan).await
    }
}
