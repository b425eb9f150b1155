//! The OLTP fast path, for prepared statements of three shapes that make up
//! most OLTP traffic, run without DataFusion:
//!
//! - `SELECT cols FROM t WHERE key = $1`: one index lookup;
//! - `UPDATE t SET c = c + $1, d = $2 WHERE key = $3`: the row that lookup
//!   finds, updated in place;
//! - `INSERT INTO t (cols) VALUES ($1, 'x', now())`: one row, no query.
//!
//! DataFusion spends 0.2-0.4 ms creating and starting a physical plan even
//! for a one-row lookup, ten times what the lookup itself costs. A prepared
//! query of exactly this shape (plain columns, one table, equality on every
//! column of a unique index, nothing else) is recognised once at PREPARE;
//! each execution then reads the index at the statement's snapshot and
//! returns the row in the schema DataFusion planned. Anything else, and any
//! parameter that does not convert exactly to the key column's type, takes
//! the ordinary DataFusion path, so results never differ between the two.

use std::sync::Arc;

use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, BinaryOperator, Expr, GroupByExpr, ObjectName, Query, SelectItem, SetExpr, Statement,
    TableFactor, TableObject, UnaryOperator, Value as SqlValue,
};
use rustydb_catalog::{CatalogSnapshot, SqlType, TableDef};
use rustydb_common::{IndexId, RowId, TableId};
use rustydb_storage::{KeyRange, ReadView, Row, Value};

use crate::error::{EngineError, Result};
use crate::extension::TableHooks;
use crate::query::types::{arrow_type, coerce_to_column, column_field, value_array};
use crate::sql::names::{ident, split};
use rustydb_common::SqlState;

/// What the fast path resolves names against, and what decides which
/// tables it may serve.
pub(crate) struct Scope<'a> {
    pub catalog: &'a CatalogSnapshot,
    pub current_schema: &'a str,
    pub hooks: &'a TableHooks,
}

impl Scope<'_> {
    /// Whether a statement on `def` may skip DataFusion. Anything that
    /// changes what a user may see or write of a table (a table hook today;
    /// row policies, masks and AS OF reads as they come) must make this
    /// false, so that no shortcut can bypass it.
    pub(crate) fn eligible(&self, def: &TableDef) -> bool {
        !self.hooks.watches(def)
    }
}

/// Where one key column's value comes from.
#[derive(Debug, Clone)]
enum KeyPart {
    /// `$n` (1-based).
    Param(usize),
    /// A literal, already of the column's type.
    Const(ScalarValue),
}

/// A prepared point lookup.
#[derive(Debug, Clone)]
pub(crate) struct PointLookup {
    table: TableId,
    index: IndexId,
    /// One entry per index column, in index order.
    key: Vec<(KeyPart, SqlType)>,
    projection: Vec<usize>,
    schema: SchemaRef,
}

impl PointLookup {
    /// Recognises the shape in a statement DataFusion planned with result
    /// `schema`; `None` leaves the statement to DataFusion.
    pub(crate) fn recognise(stmt: &Statement, scope: &Scope<'_>, schema: &SchemaRef) -> Option<PointLookup> {
        let (def, index, key, projection) = point_select(stmt, scope)?;
        if projection.len() != schema.fields().len() {
            return None;
        }
        Some(PointLookup {
            table: def.id,
            index,
            key,
            projection: projection.into_iter().map(|(c, _)| c).collect(),
            schema: schema.clone(),
        })
    }

    /// Recognises the shape in a statement nobody planned (the simple query
    /// protocol, keys as literals), naming the result columns as DataFusion
    /// does: a column by its name, `AS` by the alias, `*` by every column.
    pub(crate) fn recognise_unplanned(stmt: &Statement, scope: &Scope<'_>) -> Option<PointLookup> {
        let (def, index, key, projection) = point_select(stmt, scope)?;
        // The fields the table's schema gives these columns (see
        // `provider::table_schema`), only the selected ones, renamed by `AS`.
        let fields: Vec<_> = projection
            .iter()
            .map(|(c, alias)| {
                let col = &def.columns[*c];
                column_field(alias.as_deref().unwrap_or(&col.name), col.ty, col.nullable)
            })
            .collect();
        let schema = Arc::new(datafusion::arrow::datatypes::Schema::new(fields));
        let projection = projection.into_iter().map(|(c, _)| c).collect();
        Some(PointLookup { table: def.id, index, key, projection, schema })
    }

    /// Runs the lookup at `view`. `None`: a parameter does not convert
    /// exactly to its key column's type; the caller uses DataFusion.
    pub(crate) fn run(&self, view: &ReadView, params: &[ScalarValue]) -> Result<Option<RecordBatch>> {
        let key = match key_values(&self.key, params)? {
            None => return Ok(None),
            // `key = NULL` is never true.
            Some(None) => return Ok(Some(RecordBatch::new_empty(self.schema.clone()))),
            Some(Some(key)) => key,
        };
        let chunk = view.lookup(self.table, self.index, &KeyRange::eq(key), &self.projection)?;
        let Some(chunk) = chunk else { return Ok(Some(RecordBatch::new_empty(self.schema.clone()))) };
        let options = RecordBatchOptions::new().with_row_count(Some(chunk.len));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), chunk.columns, &options)
            .map_err(crate::error::arrow_error)?;
        Ok(Some(batch))
    }
}

/// One side of an assignment.
#[derive(Debug, Clone)]
enum Operand {
    Column(usize),
    Key(KeyPart),
}

/// What a column is set to.
#[derive(Debug, Clone)]
enum Assign {
    Value(Operand),
    /// Integer `a + b` or `a - b`, overflow-checked like PostgreSQL.
    Arith(Operand, bool, Operand),
}

/// A prepared single-row UPDATE through a unique key.
#[derive(Debug, Clone)]
pub(crate) struct PointUpdate {
    pub(crate) def: Arc<TableDef>,
    index: IndexId,
    key: Vec<(KeyPart, SqlType)>,
    assignments: Vec<(usize, Assign)>,
}

impl PointUpdate {
    /// Recognises `UPDATE t SET col = operand [+|- operand], ... WHERE key = ...`
    /// with no FROM, RETURNING or other conditions.
    pub(crate) fn recognise(stmt: &Statement, scope: &Scope<'_>) -> Option<PointUpdate> {
        let Statement::Update(u) = stmt else { return None };
        if !u.table.joins.is_empty() || u.from.is_some() || u.returning.is_some() || u.or.is_some() || u.limit.is_some()
        {
            return None;
        }
        let (def, alias) = plain_table(&u.table.relation, scope)?;
        let mut assignments = Vec::new();
        for a in &u.assignments {
            let AssignmentTarget::ColumnName(target) = &a.target else { return None };
            let [part] = target.0.as_slice() else { return None };
            let col = def.column(&ident(part.as_ident()?))?;
            let c = &def.columns[col];
            if c.identity.as_ref().is_some_and(|i| i.always) || assignments.iter().any(|(p, _)| *p == col) {
                return None; // the ordinary path reports these errors
            }
            let operand = |e: &Expr| -> Option<Operand> {
                match column_of(e, &def, &alias) {
                    Some(c) => Some(Operand::Column(c)),
                    None => key_part(e, def.columns[col].ty).map(Operand::Key),
                }
            };
            let assign = match &a.value {
                Expr::BinaryOp { left, op: op @ (BinaryOperator::Plus | BinaryOperator::Minus), right } => {
                    let integer = |ty: SqlType| matches!(ty, SqlType::Int2 | SqlType::Int4 | SqlType::Int8);
                    let (l, r) = (operand(left)?, operand(right)?);
                    let same_type = |o: &Operand| match o {
                        Operand::Column(k) => def.columns[*k].ty == c.ty,
                        Operand::Key(_) => true,
                    };
                    if !integer(c.ty) || !same_type(&l) || !same_type(&r) {
                        return None;
                    }
                    Assign::Arith(l, matches!(op, BinaryOperator::Plus), r)
                }
                e => Assign::Value(operand(e)?),
            };
            assignments.push((col, assign));
        }
        let (index, key) = unique_key(u.selection.as_ref()?, &def, &alias)?;
        Some(PointUpdate { index, key, assignments, def })
    }

    /// The key as storage values; `None` when a parameter does not convert
    /// exactly (the caller then takes the ordinary path), `Some(None)` for a
    /// NULL key (no row matches).
    pub(crate) fn key(&self, params: &[ScalarValue]) -> Result<Option<Option<Vec<Value>>>> {
        key_values(&self.key, params)
    }

    /// Finds the row through the key at `view`: its id and current values.
    pub(crate) fn find(&self, view: &ReadView, key: &[Value]) -> Result<Option<(RowId, Row)>> {
        let mut rows = view.lookup_rows(self.def.id, self.index, &KeyRange::eq(key.to_vec()))?;
        Ok((!rows.is_empty()).then(|| rows.swap_remove(0)))
    }

    /// The row after the assignments, checked like any written value.
    pub(crate) fn new_row(&self, old: &Row, params: &[ScalarValue]) -> Result<Row> {
        let mut new = old.to_vec();
        for (col, assign) in &self.assignments {
            let c = &self.def.columns[*col];
            new[*col] = match assign {
                Assign::Value(o) => {
                    let array = coerce_to_column(&self.operand_array(o, old, params, c.ty)?, c.ty, &c.name)?;
                    rustydb_storage::batch::value_at(array.as_ref(), c.ty.column_type(), 0)?
                }
                // Integer columns only (see `new`): the sum is checked
                // against the column's type here, with no array built.
                Assign::Arith(l, plus, r) => match (self.integer(l, old, params)?, self.integer(r, old, params)?) {
                    (Some(l), Some(r)) => {
                        let out_of_range = || {
                            EngineError::sql(
                                SqlState::NumericValueOutOfRange,
                                format!("{} out of range", c.ty.pg_name()),
                            )
                        };
                        let v = if *plus { l.checked_add(r) } else { l.checked_sub(r) }.ok_or_else(out_of_range)?;
                        match c.ty {
                            SqlType::Int2 => Value::Int16(i16::try_from(v).map_err(|_| out_of_range())?),
                            SqlType::Int4 => Value::Int32(i32::try_from(v).map_err(|_| out_of_range())?),
                            SqlType::Int8 => Value::Int64(v),
                            other => {
                                return Err(EngineError::internal(format!(
                                    "integer arithmetic into a {other:?} column"
                                )));
                            }
                        }
                    }
                    _ => Value::Null,
                },
            };
        }
        Ok(new.into())
    }

    fn operand_array(&self, o: &Operand, old: &Row, params: &[ScalarValue], ty: SqlType) -> Result<ArrayRef> {
        match o {
            Operand::Column(k) => Ok(value_array(&old[*k], self.def.columns[*k].ty)),
            Operand::Key(part) => {
                let v = part_value(part, params)?;
                let v = if v.is_null() { ScalarValue::try_from(&arrow_type(ty))? } else { v };
                Ok(v.to_array()?)
            }
        }
    }

    fn integer(&self, o: &Operand, old: &Row, params: &[ScalarValue]) -> Result<Option<i64>> {
        let v = match o {
            Operand::Column(k) => match &old[*k] {
                Value::Null => None,
                Value::Int16(v) => Some(i64::from(*v)),
                Value::Int32(v) => Some(i64::from(*v)),
                Value::Int64(v) => Some(*v),
                other => return Err(EngineError::internal(format!("integer column holds {other:?}"))),
            },
            Operand::Key(part) => match part_value(part, params)?.cast_to(&DataType::Int64)? {
                ScalarValue::Int64(v) => v,
                _ => None,
            },
        };
        Ok(v)
    }
}

fn part_value(part: &KeyPart, params: &[ScalarValue]) -> Result<ScalarValue> {
    match part {
        KeyPart::Param(n) => params
            .get(n - 1)
            .cloned()
            .ok_or_else(|| EngineError::sql(SqlState::ProtocolViolation, format!("no value for parameter ${n}"))),
        KeyPart::Const(v) => Ok(v.clone()),
    }
}

/// Key values in index order (see [`PointUpdate::key`]).
fn key_values(key: &[(KeyPart, SqlType)], params: &[ScalarValue]) -> Result<Option<Option<Vec<Value>>>> {
    let mut out = Vec::with_capacity(key.len());
    for (part, ty) in key {
        let value = part_value(part, params)?;
        if value.is_null() {
            return Ok(Some(None));
        }
        let target = arrow_type(*ty);
        let value = if value.data_type() == target {
            value
        } else {
            match value.cast_to(&target) {
                Ok(v) if v.cast_to(&value.data_type()).ok().as_ref() == Some(&value) => v,
                _ => return Ok(None),
            }
        };
        let array = value.to_array().map_err(EngineError::from)?;
        out.push(rustydb_storage::batch::value_at(array.as_ref(), ty.column_type(), 0)?);
    }
    Ok(Some(Some(out)))
}

/// One value of a single-row INSERT.
#[derive(Debug, Clone)]
enum InsertValue {
    Key(KeyPart),
    /// A string literal, converted by the column's text input.
    Text(String),
    Null,
    /// CURRENT_TIMESTAMP / now(): the time of the statement.
    Now,
}

/// A prepared single-row `INSERT INTO t [(cols)] VALUES (...)`.
#[derive(Debug, Clone)]
pub(crate) struct PointInsert {
    pub(crate) def: Arc<TableDef>,
    targets: Vec<usize>,
    values: Vec<InsertValue>,
}

impl PointInsert {
    pub(crate) fn recognise(stmt: &Statement, scope: &Scope<'_>) -> Option<PointInsert> {
        let Statement::Insert(i) = stmt else { return None };
        if i.on.is_some() || i.returning.is_some() || i.or.is_some() || !i.assignments.is_empty() || i.overwrite {
            return None;
        }
        let TableObject::TableName(name) = &i.table else { return None };
        let def = resolve(scope, name)?;
        let source = i.source.as_ref()?;
        if source.with.is_some() || source.order_by.is_some() || source.limit_clause.is_some() {
            return None;
        }
        let SetExpr::Values(values) = source.body.as_ref() else { return None };
        let [row] = values.rows.as_slice() else { return None };
        let targets: Vec<usize> = if i.columns.is_empty() {
            (0..row.len()).collect()
        } else {
            i.columns
                .iter()
                .map(|c| c.0.last().and_then(|p| p.as_ident()).and_then(|p| def.column(&ident(p))))
                .collect::<Option<_>>()?
        };
        let distinct = targets.iter().enumerate().all(|(k, t)| !targets[..k].contains(t));
        if targets.len() != row.len() || targets.len() > def.columns.len() || !distinct {
            return None; // the ordinary path reports the error
        }
        if targets.iter().any(|&t| def.columns[t].identity.as_ref().is_some_and(|id| id.always)) {
            return None;
        }
        let values = row
            .iter()
            .zip(&targets)
            .map(|(e, &t)| match e {
                Expr::Value(v) if matches!(v.value, SqlValue::Null) => Some(InsertValue::Null),
                Expr::Value(v) if let SqlValue::SingleQuotedString(s) = &v.value => Some(InsertValue::Text(s.clone())),
                Expr::Function(f) if f.args.to_string().is_empty() || f.args.to_string() == "()" => {
                    let name = f.name.to_string().to_ascii_lowercase();
                    (name == "current_timestamp" || name == "now").then_some(InsertValue::Now)
                }
                // Numbers, negative ones (pgbench's delta) included, and parameters.
                _ => key_part(e, def.columns[t].ty).map(InsertValue::Key),
            })
            .collect::<Option<Vec<_>>>()?;
        Some(PointInsert { def, targets, values })
    }

    /// The values of the target columns, one single-row array each.
    pub(crate) fn arrays(&self, params: &[ScalarValue]) -> Result<Vec<ArrayRef>> {
        let now = chrono_now_micros();
        self.values
            .iter()
            .zip(&self.targets)
            .map(|(v, &t)| {
                let ty = self.def.columns[t].ty;
                Ok(match v {
                    InsertValue::Key(part) => {
                        let v = part_value(part, params)?;
                        if v.is_null() { ScalarValue::try_from(&arrow_type(ty))?.to_array()? } else { v.to_array()? }
                    }
                    InsertValue::Text(s) => Arc::new(datafusion::arrow::array::StringArray::from(vec![s.as_str()])),
                    InsertValue::Null => ScalarValue::try_from(&arrow_type(ty))?.to_array()?,
                    InsertValue::Now => {
                        ScalarValue::TimestampMicrosecond(Some(now), Some("+00:00".into())).to_array()?
                    }
                })
            })
            .collect()
    }

    pub(crate) fn targets(&self) -> &[usize] {
        &self.targets
    }
}

fn chrono_now_micros() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The parts of a point SELECT: its table, the unique index its WHERE
/// clause keys, the key, and the selected columns with their aliases.
#[allow(clippy::type_complexity)]
fn point_select(
    stmt: &Statement,
    scope: &Scope<'_>,
) -> Option<(Arc<TableDef>, IndexId, Vec<(KeyPart, SqlType)>, Vec<(usize, Option<String>)>)> {
    let Statement::Query(q) = stmt else { return None };
    let (def, alias, select) = single_table_select(q, scope)?;
    let mut projection = Vec::new();
    for item in &select.projection {
        match item {
            SelectItem::UnnamedExpr(e) => projection.push((column_of(e, &def, &alias)?, None)),
            SelectItem::ExprWithAlias { expr, alias: name } => {
                projection.push((column_of(expr, &def, &alias)?, Some(ident(name))))
            }
            SelectItem::Wildcard(opts) if opts.to_string().is_empty() => {
                projection.extend((0..def.columns.len()).map(|c| (c, None)))
            }
            _ => return None,
        }
    }
    let (index, key) = unique_key(select.selection.as_ref()?, &def, &alias)?;
    Some((def, index, key, projection))
}

/// `SELECT ... FROM one_table [alias] WHERE ...` and nothing else.
fn single_table_select<'a>(
    q: &'a Query,
    scope: &Scope<'_>,
) -> Option<(Arc<TableDef>, String, &'a datafusion::sql::sqlparser::ast::Select)> {
    let plain_query = q.with.is_none()
        && q.order_by.is_none()
        && q.limit_clause.is_none()
        && q.fetch.is_none()
        && q.locks.is_empty()
        && q.for_clause.is_none()
        && q.settings.is_none()
        && q.format_clause.is_none()
        && q.pipe_operators.is_empty();
    let SetExpr::Select(select) = q.body.as_ref() else { return None };
    let no_grouping = matches!(&select.group_by, GroupByExpr::Expressions(e, m) if e.is_empty() && m.is_empty());
    let plain_select = select.distinct.is_none()
        && select.top.is_none()
        && select.into.is_none()
        && select.from.len() == 1
        && select.from[0].joins.is_empty()
        && select.lateral_views.is_empty()
        && select.prewhere.is_none()
        && no_grouping
        && select.cluster_by.is_empty()
        && select.distribute_by.is_empty()
        && select.sort_by.is_empty()
        && select.having.is_none()
        && select.named_window.is_empty()
        && select.qualify.is_none()
        && select.connect_by.is_empty();
    if !plain_query || !plain_select {
        return None;
    }
    let (def, alias) = plain_table(&select.from[0].relation, scope)?;
    Some((def, alias, select))
}

/// A plain table reference (`[schema.]t [AS a]`): the table and the name
/// its columns are qualified with.
fn plain_table(relation: &TableFactor, scope: &Scope<'_>) -> Option<(Arc<TableDef>, String)> {
    let TableFactor::Table { name, alias, args: None, with_hints, version: None, partitions, .. } = relation else {
        return None;
    };
    if !with_hints.is_empty() || !partitions.is_empty() || alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let def = resolve(scope, name)?;
    let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| def.name.clone());
    Some((def, alias))
}

/// The table `name` names, when the fast path may serve it: every
/// recogniser resolves its table here, so [`Scope::eligible`] is the one
/// rule for skipping DataFusion.
fn resolve(scope: &Scope<'_>, name: &ObjectName) -> Option<Arc<TableDef>> {
    let (schema, table) = split(name).ok()?;
    let def = scope.catalog.table(schema.as_deref().unwrap_or(scope.current_schema), &table)?;
    scope.eligible(def).then(|| def.clone())
}

/// A WHERE clause that is equality on exactly the columns of a unique
/// index: the index and, in its column order, where each key value comes
/// from (literals already of the column's type).
fn unique_key(selection: &Expr, def: &TableDef, alias: &str) -> Option<(IndexId, Vec<(KeyPart, SqlType)>)> {
    let mut equalities: Vec<(usize, KeyPart)> = Vec::new();
    collect_equalities(selection, def, alias, &mut equalities)?;
    let index = def.indexes.iter().find(|i| {
        i.unique
            && i.columns.len() == equalities.len()
            && i.columns.iter().all(|c| equalities.iter().filter(|(e, _)| e == c).count() == 1)
    })?;
    let mut key = Vec::with_capacity(index.columns.len());
    for c in &index.columns {
        let (_, part) = equalities.iter().find(|(e, _)| e == c)?;
        let ty = def.columns[*c].ty;
        let part = match part {
            KeyPart::Const(v) => KeyPart::Const(v.cast_to(&arrow_type(ty)).ok()?),
            p => p.clone(),
        };
        key.push((part, ty));
    }
    Some((index.id, key))
}

/// A plain column reference (`c` or `alias.c`) of the table.
fn column_of(e: &Expr, def: &TableDef, alias: &str) -> Option<usize> {
    let name = match e {
        Expr::Identifier(id) => ident(id),
        Expr::CompoundIdentifier(parts) => match parts.as_slice() {
            [q, c] if ident(q) == alias => ident(c),
            _ => return None,
        },
        Expr::Nested(inner) => return column_of(inner, def, alias),
        _ => return None,
    };
    def.column(&name)
}

/// `a = x AND b = y ...` where each side pair is a column and a parameter
/// or literal. Anything else in the WHERE clause rejects the fast path.
fn collect_equalities(e: &Expr, def: &TableDef, alias: &str, out: &mut Vec<(usize, KeyPart)>) -> Option<()> {
    match e {
        Expr::Nested(inner) => collect_equalities(inner, def, alias, out),
        Expr::BinaryOp { left, op: BinaryOperator::And, right } => {
            collect_equalities(left, def, alias, out)?;
            collect_equalities(right, def, alias, out)
        }
        Expr::BinaryOp { left, op: BinaryOperator::Eq, right } => {
            let (col, value) = match (column_of(left, def, alias), column_of(right, def, alias)) {
                (Some(c), None) => (c, right),
                (None, Some(c)) => (c, left),
                _ => return None,
            };
            out.push((col, key_part(value, def.columns[col].ty)?));
            Some(())
        }
        _ => None,
    }
}

fn key_part(e: &Expr, ty: SqlType) -> Option<KeyPart> {
    // A negative number (pgbench's `abalance + -1234`).
    if let Expr::UnaryOp { op: UnaryOperator::Minus, expr } = e
        && let Expr::Value(v) = expr.as_ref()
        && let SqlValue::Number(n, false) = &v.value
    {
        return ScalarValue::try_from_string(format!("-{n}"), &arrow_type(ty)).ok().map(KeyPart::Const);
    }
    let Expr::Value(v) = e else { return None };
    match &v.value {
        SqlValue::Placeholder(p) => p.strip_prefix('$')?.parse().ok().filter(|n| *n >= 1).map(KeyPart::Param),
        SqlValue::Number(n, false) => ScalarValue::try_from_string(n.clone(), &arrow_type(ty)).ok().map(KeyPart::Const),
        SqlValue::SingleQuotedString(s) if matches!(ty, SqlType::Text | SqlType::Varchar(_)) => {
            Some(KeyPart::Const(ScalarValue::Utf8(Some(s.clone()))))
        }
        _ => None,
    }
}
