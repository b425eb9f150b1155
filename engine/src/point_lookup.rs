//! The OLTP fast path: a prepared `SELECT cols FROM t WHERE key = $1`
//! answered by one index lookup, without DataFusion.
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

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, Expr, GroupByExpr, ObjectName, Query, SelectItem, SetExpr, Statement, TableFactor, Value,
};
use rustydb_catalog::{CatalogSnapshot, SqlType, TableDef};
use rustydb_common::{IndexId, TableId};
use rustydb_storage::{KeyRange, ReadView};

use crate::error::{EngineError, Result};
use crate::names::{ident, split};
use crate::types::arrow_type;

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
    pub(crate) fn recognise(
        stmt: &Statement,
        catalog: &CatalogSnapshot,
        current_schema: &str,
        schema: &SchemaRef,
    ) -> Option<PointLookup> {
        let Statement::Query(q) = stmt else { return None };
        let (def, alias, select) = single_table_select(q, catalog, current_schema)?;
        let mut projection = Vec::new();
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. } => {
                    projection.push(column_of(e, &def, &alias)?)
                }
                SelectItem::Wildcard(opts) if opts.to_string().is_empty() => projection.extend(0..def.columns.len()),
                _ => return None,
            }
        }
        if projection.len() != schema.fields().len() {
            return None;
        }
        let mut equalities: Vec<(usize, KeyPart)> = Vec::new();
        collect_equalities(select.selection.as_ref()?, &def, &alias, &mut equalities)?;
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
        Some(PointLookup { table: def.id, index: index.id, key, projection, schema: schema.clone() })
    }

    /// Runs the lookup at `view`. `None`: a parameter does not convert
    /// exactly to its key column's type; the caller uses DataFusion.
    pub(crate) fn run(&self, view: &ReadView, params: &[ScalarValue]) -> Result<Option<RecordBatch>> {
        let mut key = Vec::with_capacity(self.key.len());
        for (part, ty) in &self.key {
            let value = match part {
                KeyPart::Param(n) => match params.get(n - 1) {
                    Some(v) => v.clone(),
                    None => return Err(EngineError::sql("08P01", format!("no value for parameter ${n}"))),
                },
                KeyPart::Const(v) => v.clone(),
            };
            if value.is_null() {
                // `key = NULL` is never true.
                return Ok(Some(RecordBatch::new_empty(self.schema.clone())));
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
            let row = rustydb_storage::batch::rows_from_arrays(&[ty.column_type()], &[array])?;
            key.push(row[0][0].clone());
        }
        let chunk = view.lookup(self.table, self.index, &KeyRange::eq(key), &self.projection)?;
        let Some(chunk) = chunk else { return Ok(Some(RecordBatch::new_empty(self.schema.clone()))) };
        let options = RecordBatchOptions::new().with_row_count(Some(chunk.len));
        let batch = RecordBatch::try_new_with_options(self.schema.clone(), chunk.columns, &options)
            .map_err(crate::error::arrow_error)?;
        Ok(Some(batch))
    }
}

/// `SELECT ... FROM one_table [alias] WHERE ...` and nothing else.
fn single_table_select<'a>(
    q: &'a Query,
    catalog: &CatalogSnapshot,
    current_schema: &str,
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
    let TableFactor::Table { name, alias, args: None, with_hints, version: None, partitions, .. } =
        &select.from[0].relation
    else {
        return None;
    };
    if !with_hints.is_empty() || !partitions.is_empty() || alias.as_ref().is_some_and(|a| !a.columns.is_empty()) {
        return None;
    }
    let def = resolve(catalog, name, current_schema)?;
    let alias = alias.as_ref().map(|a| ident(&a.name)).unwrap_or_else(|| def.name.clone());
    Some((def, alias, select))
}

fn resolve(catalog: &CatalogSnapshot, name: &ObjectName, current_schema: &str) -> Option<Arc<TableDef>> {
    let (schema, table) = split(name).ok()?;
    catalog.table(schema.as_deref().unwrap_or(current_schema), &table).cloned()
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
    let Expr::Value(v) = e else { return None };
    match &v.value {
        Value::Placeholder(p) => p.strip_prefix('$')?.parse().ok().filter(|n| *n >= 1).map(KeyPart::Param),
        Value::Number(n, false) => ScalarValue::try_from_string(n.clone(), &arrow_type(ty)).ok().map(KeyPart::Const),
        Value::SingleQuotedString(s) if matches!(ty, SqlType::Text | SqlType::Varchar(_)) => {
            Some(KeyPart::Const(ScalarValue::Utf8(Some(s.clone()))))
        }
        _ => None,
    }
}
