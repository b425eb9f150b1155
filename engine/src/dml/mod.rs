//! INSERT, UPDATE, DELETE and SELECT ... FOR UPDATE.
//!
//! DataFusion's DML hooks see only the filters that reach the table, so the
//! engine plans the *row selection* itself as an ordinary query: the target
//! is read through its row-id variant, and the query returns the row id, the
//! current values and the new values, with joins, subqueries and `WHERE false`
//! all handled by DataFusion. The changes are then applied in the session's
//! transaction, where storage enforces PostgreSQL's write rules.
//!
//! ```text
//! UPDATE t AS a SET x = e FROM u WHERE c
//!   ─► SELECT a.*, (e) FROM "s"."__rowid__t" AS a, u WHERE c     (a.* ends in __rowid)
//!   ─► Transaction::update(row, new values, snapshot) per row
//!        Done │ Gone (deleted meanwhile: skip) │ Changed (READ COMMITTED only)
//!   ─► Changed rows: fresh snapshot, re-run the selection for just those rows
//!      (they are locked by us now), apply what still matches
//! ```

use std::collections::HashSet;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, AsArray, RecordBatch};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, Schema, UInt64Type};
use datafusion::catalog::SchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::sql::sqlparser::ast::{
    self, Assignment, AssignmentTarget, ConflictTarget, Expr, FromTable, OnConflictAction, OnInsert, SelectItem,
    SetExpr, Statement, TableFactor, TableObject, TableWithJoins, UpdateTableFromKind,
};
use rustydb_catalog::{CatalogSnapshot, TableDef};
use rustydb_common::{RowId, Scn, TableId};
use rustydb_storage::{Arbiter, InsertOutcome, Isolation, Row, WriteOutcome, batch};

use crate::api::{Outcome, StatementResult, Verb};
use crate::error::{EngineError, Result};
use crate::extension::WriteOp;
use crate::query::catalog::SCRATCH_SCHEMA;
use crate::query::table::{ROWID_COLUMN, ROWID_PREFIX, table_schema};
use crate::query::types::{coerce_to_column, null_array};
use crate::session::{Session, TxnSlot};
use crate::sql::names::{ident, quote};
use rustydb_common::SqlState;

/// The table a DML statement writes, and the name it goes by in the statement.
struct Target {
    def: Arc<TableDef>,
    alias: String,
}

impl Target {
    /// `"schema"."__rowid__name" AS "alias"`.
    fn rowid_relation(&self) -> String {
        format!(
            "{}.{} AS {}",
            quote(&self.def.schema),
            quote(&format!("{ROWID_PREFIX}{}", self.def.name)),
            quote(&self.alias)
        )
    }
}

/// A row selected for change: its id and its values as read.
struct Selected {
    id: RowId,
    old: Row,
    /// New values of assigned columns (UPDATE), by column position.
    assigned: Vec<(usize, datafusion::arrow::array::ArrayRef, usize)>,
}

fn column_types(def: &TableDef) -> Vec<rustydb_storage::ColumnType> {
    def.columns.iter().map(|c| c.ty.column_type()).collect()
}

impl Session {
    fn target(&self, catalog: &CatalogSnapshot, relation: &TableFactor) -> Result<Target> {
        match relation {
            TableFactor::Table { name, alias, args: None, .. } => {
                let def = self.resolve_table(catalog, name)?;
                let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| def.name.clone());
                Ok(Target { def, alias })
            }
            other => Err(EngineError::unsupported(format!("cannot write to {other}"))),
        }
    }

    // ----- INSERT -----

    pub(crate) async fn insert(&mut self, slot: &mut TxnSlot, insert: ast::Insert) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        let TableObject::TableName(name) = &insert.table else {
            return Err(EngineError::unsupported("INSERT into a table function"));
        };
        let def = self.resolve_table(&catalog, name)?;
        self.before_write(&def, WriteOp::Insert)?;
        let alias = insert.table_alias.as_ref().map(|a| ident(&a.alias)).unwrap_or_else(|| def.name.clone());
        let target = Target { def: def.clone(), alias };
        let names = insert.columns.iter().map(|c| c.0.last().and_then(|p| p.as_ident()).map(ident).unwrap_or_default());
        let targets = target_columns(&def, names)?;
        let (columns, n) =
            self.source_columns(&def, targets, insert.columns.is_empty(), insert.source.as_deref()).await?;
        let table = def.id;
        let (written, affected) = match (&insert.on, &insert.returning) {
            // Nothing needs the rows back: they go to storage as columns
            // (INSERT ... SELECT of millions of rows never builds them).
            (None, None) => {
                slot.blocking(move |t| t.insert_columns(table, columns, n)).await??;
                (Vec::new(), n)
            }
            (None, Some(_)) => {
                let rows = rows_of(&def, &columns)?;
                let rows = slot.blocking(move |t| t.insert(table, rows.clone()).map(|_| rows)).await??;
                (rows, n)
            }
            (Some(OnInsert::OnConflict(oc)), _) => {
                self.insert_on_conflict(slot, &target, rows_of(&def, &columns)?, oc).await?
            }
            (Some(other), _) => return Err(EngineError::unsupported(format!("{other} is not supported"))),
        };
        let outcome = Outcome::Affected { verb: Verb::Insert, rows: affected as u64 };
        match &insert.returning {
            Some(items) => self.returning(&target, items, written, outcome).await,
            None => Ok(StatementResult::Done(outcome)),
        }
    }

    /// Evaluates the source of an INSERT and completes it with defaults,
    /// identity values and NULLs: the table's columns in layout order, and
    /// the row count.
    async fn source_columns(
        &self,
        def: &TableDef,
        mut targets: Vec<usize>,
        implicit_targets: bool,
        source: Option<&ast::Query>,
    ) -> Result<(Vec<ArrayRef>, usize)> {
        let mut source_arrays: Vec<ArrayRef> = Vec::new();
        let mut nrows = 1;
        if let Some(source) = source {
            let mut source = source.clone();
            strip_default_values(&mut source, &mut targets)?;
            name_select_items(&mut source);
            if !targets.is_empty() {
                let (schema, batches) = self.run_sql(&source.to_string()).await?;
                let ncols = schema.fields().len();
                // Without a column list, fewer values fill the leading columns.
                if implicit_targets && ncols < targets.len() {
                    targets.truncate(ncols);
                }
                if ncols > targets.len() {
                    return Err(EngineError::sql(
                        SqlState::SyntaxError,
                        "INSERT has more expressions than target columns",
                    ));
                }
                if ncols < targets.len() {
                    return Err(EngineError::sql(
                        SqlState::SyntaxError,
                        "INSERT has more target columns than expressions",
                    ));
                }
                source_arrays = concat_columns(&schema, &batches)?;
                nrows = source_arrays.first().map_or(0, |a| a.len());
            } else if let SetExpr::Values(v) = source.body.as_ref() {
                nrows = v.rows.len();
            }
        }
        let filled = self.missing_columns(def, &targets, nrows).await?;
        Ok((assemble_columns(def, &targets, &source_arrays, filled)?, nrows))
    }

    /// Rows in table column order from values for the `targets` columns,
    /// with defaults, identity values and NULLs for the others.
    pub(crate) async fn complete_rows(
        &self,
        def: &TableDef,
        targets: &[usize],
        source_arrays: &[ArrayRef],
        nrows: usize,
    ) -> Result<Vec<Row>> {
        let filled = self.missing_columns(def, targets, nrows).await?;
        rows_of(def, &assemble_columns(def, targets, source_arrays, filled)?)
    }

    /// The arrays of the columns an INSERT or COPY does not give (defaults,
    /// identity values, NULLs), by column position; `None` for targets.
    pub(crate) async fn missing_columns(
        &self,
        def: &TableDef,
        targets: &[usize],
        nrows: usize,
    ) -> Result<Vec<Option<ArrayRef>>> {
        let mut filled = Vec::with_capacity(def.columns.len());
        for (pos, col) in def.columns.iter().enumerate() {
            filled.push(match targets.contains(&pos) {
                true => None,
                false => Some(self.default_array(col, nrows).await?),
            });
        }
        Ok(filled)
    }

    async fn default_array(&self, col: &rustydb_catalog::ColumnDef, nrows: usize) -> Result<ArrayRef> {
        if let Some(identity) = &col.identity {
            let storage = self.db.storage().clone();
            let seq = identity.sequence;
            let values = tokio::task::spawn_blocking(move || {
                (0..nrows).map(|_| storage.next_sequence_value(seq, 1)).collect::<rustydb_storage::Result<Vec<i64>>>()
            })
            .await
            .map_err(|e| EngineError::internal(e.to_string()))??;
            let array: ArrayRef = Arc::new(datafusion::arrow::array::Int64Array::from(values));
            return coerce_to_column(&array, col.ty, &col.name);
        }
        match &col.default {
            Some(expr) => {
                let v = self.eval_constant(expr, col.ty, &col.name).await?;
                let one = crate::query::types::value_array(&v, col.ty);
                let indices = datafusion::arrow::array::UInt32Array::from(vec![0u32; nrows]);
                Ok(datafusion::arrow::compute::take(one.as_ref(), &indices, None).map_err(crate::error::arrow_error)?)
            }
            None => Ok(null_array(col.ty, nrows)),
        }
    }

    async fn insert_on_conflict(
        &mut self,
        slot: &mut TxnSlot,
        target: &Target,
        rows: Vec<Row>,
        oc: &ast::OnConflict,
    ) -> Result<(Vec<Row>, usize)> {
        let def = &target.def;
        let arbiter = match &oc.conflict_target {
            None if matches!(oc.action, OnConflictAction::DoNothing) => Arbiter::Any,
            None => {
                return Err(EngineError::sql(
                    SqlState::SyntaxError,
                    "ON CONFLICT DO UPDATE requires inference specification or constraint name",
                ));
            }
            Some(ConflictTarget::Columns(cols)) => {
                let mut wanted: Vec<usize> = cols
                    .iter()
                    .map(|c| {
                        def.column(&ident(c)).ok_or_else(|| {
                            EngineError::sql(
                                SqlState::UndefinedColumn,
                                format!("column \"{}\" does not exist", ident(c)),
                            )
                        })
                    })
                    .collect::<Result<_>>()?;
                wanted.sort_unstable();
                let idx = def.indexes.iter().find(|i| {
                    let mut c = i.columns.clone();
                    c.sort_unstable();
                    i.unique && c == wanted
                });
                Arbiter::Index(idx.ok_or_else(no_arbiter)?.id)
            }
            Some(ConflictTarget::OnConstraint(name)) => {
                let name = name.to_string();
                Arbiter::Index(def.indexes.iter().find(|i| i.unique && i.name == name).ok_or_else(no_arbiter)?.id)
            }
        };
        let table = def.id;
        let (inserted, conflicts) = slot
            .blocking(move |t| -> rustydb_storage::Result<(Vec<(RowId, Row)>, Vec<(RowId, Row)>)> {
                let mut inserted = Vec::new();
                let mut conflicts = Vec::new();
                for row in rows {
                    match t.insert_with_arbiter(table, row.clone(), arbiter)? {
                        InsertOutcome::Inserted(id) => inserted.push((id, row)),
                        InsertOutcome::Conflict(existing) => conflicts.push((existing, row)),
                    }
                }
                Ok((inserted, conflicts))
            })
            .await??;
        let mut written: Vec<Row> = inserted.iter().map(|(_, r)| r.clone()).collect();
        let OnConflictAction::DoUpdate(update) = &oc.action else {
            return Ok((written.clone(), written.len()));
        };
        let mine: HashSet<RowId> = inserted.iter().map(|(id, _)| *id).collect();
        let mut seen = HashSet::new();
        for (existing, _) in &conflicts {
            if mine.contains(existing) || !seen.insert(*existing) {
                return Err(EngineError::sql(
                    SqlState::CardinalityViolation,
                    "ON CONFLICT DO UPDATE command cannot affect row a second time",
                ));
            }
        }
        if conflicts.is_empty() {
            return Ok((written.clone(), written.len()));
        }
        // EXCLUDED is a scratch table of the proposed rows, keyed by the
        // existing row they collided with.
        let mut fields: Vec<Field> =
            table_schema(def, false).fields().iter().map(|f| f.as_ref().clone().with_nullable(true)).collect();
        fields.push(Field::new("__target", DataType::UInt64, false));
        let schema = Arc::new(Schema::new(fields));
        let refs: Vec<&[rustydb_storage::Value]> = conflicts.iter().map(|(_, r)| &r[..]).collect();
        let mut arrays: Vec<ArrayRef> = def
            .columns
            .iter()
            .enumerate()
            .map(|(c, col)| batch::column_array(col.ty.column_type(), &refs, c))
            .collect();
        arrays.push(batch::row_id_array(&conflicts.iter().map(|(id, _)| id.0).collect::<Vec<_>>()));
        let excluded =
            RecordBatch::try_new(schema.clone(), arrays).map_err(|e| EngineError::internal(e.to_string()))?;
        let scratch = self.catalog_provider.scratch();
        scratch.register_table("excluded".into(), Arc::new(MemTable::try_new(schema, vec![vec![excluded]])?))?;
        let join = format!(
            " JOIN {}.\"excluded\" AS \"excluded\" ON {}.{} = \"excluded\".\"__target\"",
            quote(SCRATCH_SCHEMA),
            quote(&target.alias),
            quote(ROWID_COLUMN)
        );
        // A conflicting row may have been committed after our snapshot:
        // READ COMMITTED updates the newest version, REPEATABLE READ fails.
        if slot.get()?.isolation() == Isolation::ReadCommitted {
            slot.get_mut()?.refresh_snapshot();
        }
        let result = self.update_rows(slot, target, &update.assignments, &join, update.selection.as_ref()).await;
        scratch.deregister_table("excluded")?;
        let updated = result?;
        let n = written.len() + updated.len();
        written.extend(updated);
        Ok((written, n))
    }

    // ----- UPDATE -----

    pub(crate) async fn update(&mut self, slot: &mut TxnSlot, update: ast::Update) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        if !update.table.joins.is_empty() {
            return Err(EngineError::unsupported("UPDATE of a join"));
        }
        let target = self.target(&catalog, &update.table.relation)?;
        self.before_write(&target.def, WriteOp::Update)?;
        let from = match &update.from {
            Some(UpdateTableFromKind::AfterSet(t) | UpdateTableFromKind::BeforeSet(t)) => format!(", {}", join_list(t)),
            None => String::new(),
        };
        let rows = self.update_rows(slot, &target, &update.assignments, &from, update.selection.as_ref()).await?;
        let outcome = Outcome::Affected { verb: Verb::Update, rows: rows.len() as u64 };
        match &update.returning {
            Some(items) => self.returning(&target, items, rows, outcome).await,
            None => Ok(StatementResult::Done(outcome)),
        }
    }

    /// Selects and updates rows; returns the new versions written.
    async fn update_rows(
        &mut self,
        slot: &mut TxnSlot,
        target: &Target,
        assignments: &[Assignment],
        from: &str,
        selection: Option<&Expr>,
    ) -> Result<Vec<Row>> {
        let def = &target.def;
        let mut assigned: Vec<(usize, String)> = Vec::new();
        for a in assignments {
            let AssignmentTarget::ColumnName(name) = &a.target else {
                return Err(EngineError::unsupported("tuple assignment in UPDATE"));
            };
            let col = name.0.last().and_then(|p| p.as_ident()).map(ident).unwrap_or_default();
            let pos = def.column(&col).ok_or_else(|| {
                EngineError::sql(
                    SqlState::UndefinedColumn,
                    format!("column \"{col}\" of relation \"{}\" does not exist", def.name),
                )
            })?;
            if assigned.iter().any(|(p, _)| *p == pos) {
                return Err(EngineError::sql(
                    SqlState::SyntaxError,
                    format!("multiple assignments to same column \"{col}\""),
                ));
            }
            if def.columns[pos].identity.as_ref().is_some_and(|i| i.always) {
                return Err(EngineError::sql(
                    SqlState::GeneratedAlways,
                    format!("column \"{col}\" can only be updated to DEFAULT"),
                ));
            }
            assigned.push((pos, format!("({})", a.value)));
        }
        let exprs: String = assigned.iter().map(|(_, e)| format!(", {e}")).collect();
        let base = format!("SELECT {}.*{exprs} FROM {}{from}", quote(&target.alias), target.rowid_relation());
        let positions: Vec<usize> = assigned.iter().map(|(p, _)| *p).collect();
        self.apply_selection(
            slot,
            target,
            &base,
            selection,
            move |t, table, sel, snapshot| {
                let mut new = sel.old.to_vec();
                for (pos, array, i) in &sel.assigned {
                    new[*pos] = batch::value_at(array.as_ref(), t.view().spec(table)?.columns[*pos].ty, *i)?;
                }
                let new: Row = new.into();
                Ok((t.update(table, sel.id, new.clone(), snapshot)?, new))
            },
            &positions,
        )
        .await
    }

    // ----- DELETE -----

    pub(crate) async fn delete(&mut self, slot: &mut TxnSlot, delete: ast::Delete) -> Result<StatementResult> {
        let catalog = self.prepare_context(slot.get()?)?;
        let tables = match &delete.from {
            FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t) => t,
        };
        let [first] = tables.as_slice() else {
            return Err(EngineError::unsupported("DELETE from several tables"));
        };
        if !first.joins.is_empty() {
            return Err(EngineError::unsupported("DELETE from a join"));
        }
        let target = self.target(&catalog, &first.relation)?;
        self.before_write(&target.def, WriteOp::Delete)?;
        let using = match &delete.using {
            Some(u) => format!(", {}", join_list(u)),
            None => String::new(),
        };
        let base = format!("SELECT {}.* FROM {}{using}", quote(&target.alias), target.rowid_relation());
        let rows = self
            .apply_selection(
                slot,
                &target,
                &base,
                delete.selection.as_ref(),
                |t, table, sel, snapshot| Ok((t.delete(table, sel.id, snapshot)?, sel.old.clone())),
                &[],
            )
            .await?;
        let outcome = Outcome::Affected { verb: Verb::Delete, rows: rows.len() as u64 };
        match &delete.returning {
            Some(items) => self.returning(&target, items, rows, outcome).await,
            None => Ok(StatementResult::Done(outcome)),
        }
    }

    /// Runs a row selection and applies `write` to each selected row; rows
    /// that READ COMMITTED finds changed are re-selected at a new snapshot.
    async fn apply_selection<F>(
        &mut self,
        slot: &mut TxnSlot,
        target: &Target,
        base: &str,
        selection: Option<&Expr>,
        write: F,
        assigned: &[usize],
    ) -> Result<Vec<Row>>
    where
        F: Fn(
                &mut rustydb_storage::Transaction,
                TableId,
                &Selected,
                Scn,
            ) -> rustydb_storage::Result<(WriteOutcome, Row)>
            + Send
            + Sync
            + Clone
            + 'static,
    {
        let def = target.def.clone();
        let mut done: Vec<Row> = Vec::new();
        let mut only: Option<Vec<RowId>> = None;
        // Each round locks what it changes, so a row can come back at most once.
        for _round in 0..3 {
            let mut sql = base.to_owned();
            let mut conds: Vec<String> = Vec::new();
            if let Some(sel) = selection {
                conds.push(format!("({sel})"));
            }
            if let Some(ids) = &only {
                let list: Vec<String> = ids.iter().map(|r| r.0.to_string()).collect();
                conds.push(format!("{}.{} IN ({})", quote(&target.alias), quote(ROWID_COLUMN), list.join(", ")));
            }
            if !conds.is_empty() {
                sql.push_str(" WHERE ");
                sql.push_str(&conds.join(" AND "));
            }
            self.prepare_context(slot.get()?)?;
            let (_, batches) = self.run_sql(&sql).await?;
            let selected = selected_rows(&def, &batches, assigned)?;
            let snapshot = slot.get()?.snapshot();
            let table = def.id;
            let write = write.clone();
            let (mut rows, changed) = slot
                .blocking(move |t| -> rustydb_storage::Result<(Vec<Row>, Vec<RowId>)> {
                    let mut rows = Vec::new();
                    let mut changed = Vec::new();
                    for sel in &selected {
                        match write(t, table, sel, snapshot)? {
                            (WriteOutcome::Done, row) => rows.push(row),
                            (WriteOutcome::Changed, _) => changed.push(sel.id),
                            (WriteOutcome::Gone, _) => {}
                        }
                    }
                    Ok((rows, changed))
                })
                .await??;
            done.append(&mut rows);
            if changed.is_empty() {
                return Ok(done);
            }
            slot.get_mut()?.refresh_snapshot();
            only = Some(changed);
        }
        Err(EngineError::internal("rows kept changing while locked"))
    }

    // ----- RETURNING -----

    async fn returning(
        &self,
        target: &Target,
        items: &[SelectItem],
        rows: Vec<Row>,
        outcome: Outcome,
    ) -> Result<StatementResult> {
        let schema = table_schema(&target.def, false);
        let refs: Vec<&[rustydb_storage::Value]> = rows.iter().map(|r| &r[..]).collect();
        let arrays: Vec<ArrayRef> = target
            .def
            .columns
            .iter()
            .enumerate()
            .map(|(c, col)| batch::column_array(col.ty.column_type(), &refs, c))
            .collect();
        let data = RecordBatch::try_new(schema.clone(), arrays).map_err(|e| EngineError::internal(e.to_string()))?;
        let scratch = self.catalog_provider.scratch();
        scratch.register_table("__returning".into(), Arc::new(MemTable::try_new(schema, vec![vec![data]])?))?;
        let list: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {} FROM {}.\"__returning\" AS {}",
            list.join(", "),
            quote(SCRATCH_SCHEMA),
            quote(&target.alias)
        );
        let result = self.run_sql(&sql).await;
        scratch.deregister_table("__returning")?;
        let (schema, batches) = result?;
        Ok(StatementResult::from_batches(schema, batches, Some(outcome)))
    }

    /// The result columns of a DML statement's RETURNING clause, for
    /// Describe before execution. The statement context must be set.
    pub(crate) async fn returning_schema(
        &self,
        catalog: &CatalogSnapshot,
        stmt: &Statement,
    ) -> Result<Option<datafusion::arrow::datatypes::SchemaRef>> {
        let (relation_name, alias, items) = match stmt {
            Statement::Insert(i) => {
                let TableObject::TableName(name) = &i.table else { return Ok(None) };
                (name.clone(), i.table_alias.as_ref().map(|a| ident(&a.alias)), i.returning.as_ref())
            }
            Statement::Update(u) => match &u.table.relation {
                TableFactor::Table { name, alias, .. } => {
                    (name.clone(), alias.as_ref().map(|a| ident(&a.name)), u.returning.as_ref())
                }
                _ => return Ok(None),
            },
            Statement::Delete(d) => {
                let (FromTable::WithFromKeyword(t) | FromTable::WithoutKeyword(t)) = &d.from;
                match t.first().map(|t| &t.relation) {
                    Some(TableFactor::Table { name, alias, .. }) => {
                        (name.clone(), alias.as_ref().map(|a| ident(&a.name)), d.returning.as_ref())
                    }
                    _ => return Ok(None),
                }
            }
            _ => return Ok(None),
        };
        let Some(items) = items else { return Ok(None) };
        let def = self.resolve_table(catalog, &relation_name)?;
        let alias = alias.unwrap_or_else(|| def.name.clone());
        let list: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        let sql = format!(
            "SELECT {} FROM {}.{} AS {} WHERE false",
            list.join(", "),
            quote(&def.schema),
            quote(&def.name),
            quote(&alias)
        );
        let stmt = crate::sql::parse_generated(&sql)?.remove(0);
        let plan =
            self.ctx.state().statement_to_plan(datafusion::sql::parser::Statement::Statement(Box::new(stmt))).await?;
        Ok(Some(Arc::new(plan.schema().as_arrow().clone())))
    }

    // ----- SELECT ... FOR UPDATE -----

    pub(crate) async fn select_for_update(&mut self, slot: &mut TxnSlot, stmt: Statement) -> Result<StatementResult> {
        let Statement::Query(mut query) = stmt else { return Err(EngineError::internal("not a query")) };
        if query.locks.iter().any(|l| l.nonblock.is_some()) {
            return Err(EngineError::unsupported("NOWAIT and SKIP LOCKED are not supported yet"));
        }
        let catalog = self.prepare_context(slot.get()?)?;
        let SetExpr::Select(select) = query.body.as_ref() else {
            return Err(EngineError::unsupported("FOR UPDATE on a set operation"));
        };
        let [from] = select.from.as_slice() else {
            return Err(EngineError::unsupported("FOR UPDATE with several tables is not supported yet"));
        };
        if !from.joins.is_empty() {
            return Err(EngineError::unsupported("FOR UPDATE with joins is not supported yet"));
        }
        let target = self.target(&catalog, &from.relation)?;
        let base = format!("SELECT {}.* FROM {}", quote(&target.alias), target.rowid_relation());
        let selection = select.selection.clone();
        self.apply_selection(
            slot,
            &target,
            &base,
            selection.as_ref(),
            |t, table, sel, snapshot| Ok((t.lock_row(table, sel.id, snapshot)?, sel.old.clone())),
            &[],
        )
        .await?;
        // The rows are ours now; READ COMMITTED reads their newest versions.
        if slot.get()?.isolation() == Isolation::ReadCommitted {
            slot.get_mut()?.refresh_snapshot();
        }
        query.locks.clear();
        self.prepare_context(slot.get()?)?;
        let stmt = datafusion::sql::parser::Statement::Statement(Box::new(Statement::Query(query)));
        let plan = self.ctx.state().statement_to_plan(stmt).await?;
        // Collected: the rows were read under the locks just taken (which
        // an autocommit releases when the statement ends).
        self.run_plan(plan).await?.materialize().await
    }
}

/// Positions of the named columns (all columns when none are named), as
/// INSERT and COPY take them: each must exist and appear once.
pub(crate) fn target_columns(def: &TableDef, names: impl ExactSizeIterator<Item = String>) -> Result<Vec<usize>> {
    if names.len() == 0 {
        return Ok((0..def.columns.len()).collect());
    }
    let mut targets = Vec::with_capacity(names.len());
    for name in names {
        let pos = def.column(&name).ok_or_else(|| {
            EngineError::sql(
                SqlState::UndefinedColumn,
                format!("column \"{name}\" of relation \"{}\" does not exist", def.name),
            )
        })?;
        if targets.contains(&pos) {
            return Err(EngineError::sql(
                SqlState::DuplicateColumn,
                format!("column \"{name}\" specified more than once"),
            ));
        }
        targets.push(pos);
    }
    Ok(targets)
}

fn no_arbiter() -> EngineError {
    EngineError::sql(
        SqlState::InvalidColumnReference,
        "there is no unique or exclusion constraint matching the ON CONFLICT specification",
    )
}

fn join_list(tables: &[TableWithJoins]) -> String {
    tables.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ")
}

/// Concatenates each column over all batches.
fn concat_columns(schema: &Schema, batches: &[RecordBatch]) -> Result<Vec<ArrayRef>> {
    (0..schema.fields().len())
        .map(|c| {
            if batches.is_empty() {
                return Ok(datafusion::arrow::array::new_empty_array(schema.field(c).data_type()));
            }
            let parts: Vec<&dyn datafusion::arrow::array::Array> =
                batches.iter().map(|b| b.column(c).as_ref()).collect();
            concat(&parts).map_err(crate::error::arrow_error)
        })
        .collect()
}

/// Decodes a selection result: table columns, `__rowid`, then assigned values.
fn selected_rows(def: &TableDef, batches: &[RecordBatch], assigned: &[usize]) -> Result<Vec<Selected>> {
    let n = def.columns.len();
    let types = column_types(def);
    let mut out = Vec::new();
    let mut seen = HashSet::new();
    for b in batches {
        let old = batch::rows_from_arrays(&types, &b.columns()[..n])?;
        let ids = b.column(n).as_primitive::<UInt64Type>();
        let new_values: Vec<ArrayRef> = assigned
            .iter()
            .enumerate()
            .map(|(k, &pos)| coerce_to_column(b.column(n + 1 + k), def.columns[pos].ty, &def.columns[pos].name))
            .collect::<Result<_>>()?;
        for (i, old) in old.into_iter().enumerate() {
            let id = RowId(ids.value(i));
            // UPDATE ... FROM may join a row several times; PostgreSQL uses one.
            if !seen.insert(id) {
                continue;
            }
            let assigned = assigned.iter().zip(&new_values).map(|(&p, a)| (p, a.clone(), i)).collect();
            out.push(Selected { id, old, assigned });
        }
    }
    Ok(out)
}

/// Gives every unnamed expression of an INSERT's SELECT a name: PostgreSQL
/// accepts `SELECT v, CAST(v AS INT)` there, DataFusion wants unique names.
fn name_select_items(query: &mut ast::Query) {
    let SetExpr::Select(select) = query.body.as_mut() else { return };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(e) = item {
            *item = SelectItem::ExprWithAlias { expr: e.clone(), alias: ast::Ident::new(format!("column{}", i + 1)) };
        }
    }
}

/// Removes VALUES columns that are DEFAULT in every row, so they take their
/// defaults like omitted columns. A column mixing DEFAULT and values is not
/// supported yet.
fn strip_default_values(query: &mut ast::Query, targets: &mut Vec<usize>) -> Result<()> {
    let SetExpr::Values(values) = query.body.as_mut() else { return Ok(()) };
    let is_default = |e: &Expr| matches!(e, Expr::Identifier(i) if i.quote_style.is_none() && i.value.eq_ignore_ascii_case("default"));
    let width = values.rows.first().map_or(0, |r| r.content.len());
    let mut drop = Vec::new();
    for c in 0..width {
        let defaults = values.rows.iter().filter(|r| r.content.get(c).is_some_and(is_default)).count();
        if defaults == values.rows.len() {
            drop.push(c);
        } else if defaults > 0 {
            return Err(EngineError::unsupported(
                "DEFAULT mixed with values in one VALUES column is not supported yet",
            ));
        }
    }
    for &c in drop.iter().rev() {
        for r in &mut values.rows {
            if c < r.content.len() {
                r.content.remove(c);
            }
        }
        if c < targets.len() {
            targets.remove(c);
        }
    }
    Ok(())
}

/// The rows of a table's columns (from [`assemble_columns`]), for the
/// writes that work row by row.
fn rows_of(def: &TableDef, columns: &[ArrayRef]) -> Result<Vec<Row>> {
    Ok(batch::rows_from_arrays(&column_types(def), columns)?)
}

/// The table's columns, in layout order, from the given arrays of the
/// target columns (cast to the column types) and the filled ones (see
/// `Session::missing_columns`). Synchronous, so a bulk load can run it off
/// the async workers.
pub(crate) fn assemble_columns(
    def: &TableDef,
    targets: &[usize],
    source_arrays: &[ArrayRef],
    filled: Vec<Option<ArrayRef>>,
) -> Result<Vec<ArrayRef>> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    for ((pos, col), fill) in def.columns.iter().enumerate().zip(filled) {
        let array = match (targets.iter().position(|&t| t == pos), fill) {
            (Some(k), _) => {
                if col.identity.as_ref().is_some_and(|i| i.always) {
                    return Err(EngineError::sql(
                        SqlState::GeneratedAlways,
                        format!("cannot insert a non-DEFAULT value into column \"{}\"", col.name),
                    ));
                }
                coerce_to_column(&source_arrays[k], col.ty, &col.name)?
            }
            (None, Some(array)) => array,
            (None, None) => return Err(EngineError::internal(format!("no values for column \"{}\"", col.name))),
        };
        columns.push(array);
    }
    Ok(columns)
}
