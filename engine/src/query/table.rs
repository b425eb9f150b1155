//! `RustyTable`: a DataFusion `TableProvider` over one table of the row
//! store, read through a transaction's [`ReadView`].
//!
//! A scan picks its access path from the pushed-down filters: equality on
//! every column of an index (or a range on a one-column index) becomes an
//! index lookup that never touches other rows; anything else scans the table
//! in chunks. Filters are reported `Inexact`, so DataFusion still applies
//! them above the scan and correctness never depends on the choice.
//!
//! The "row-id variant" of a table (`__rowid__<name>`) adds a hidden
//! `__rowid` column at the end; UPDATE, DELETE and FOR UPDATE plan their row
//! selection through it.

use std::collections::HashMap;
use std::fmt;
use std::ops::Bound;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{ColumnStatistics, ScalarValue, Statistics, project_schema};
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{BinaryExpr, Expr, Operator, TableProviderFilterPushDown};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::statistics::StatisticsArgs;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SendableRecordBatchStream,
};
use rustydb_catalog::TableDef;
use rustydb_common::IndexId;
use rustydb_common::limits::SCAN_BATCH_ROWS_MAX;
use rustydb_storage::{
    Chunk, KeyRange, PlannedSegments, ReadView, ScanCursor, ScanPart, SegmentClaims, Value, ZoneFilter, zone_mapped,
};

use crate::error::EngineError;
use crate::extension::TableHooks;
use crate::query::catalog::StatementCell;
use crate::query::types::{column_field, scalar_to_value, value_array};

pub use crate::sql::names::{ROWID_COLUMN, ROWID_PREFIX};

/// The Arrow schema of a table (plus `__rowid` for the row-id variant).
pub fn table_schema(def: &TableDef, with_rowid: bool) -> SchemaRef {
    let mut fields: Vec<Field> = def.columns.iter().map(|c| column_field(&c.name, c.ty, c.nullable)).collect();
    if with_rowid {
        fields.push(Field::new(ROWID_COLUMN, DataType::UInt64, false));
    }
    Arc::new(Schema::new(fields))
}

/// A table as DataFusion sees it. It reads at the snapshot of whatever
/// statement is running when it is scanned (from the session's cell), so a
/// cached plan that holds it stays correct across statements.
#[derive(Debug)]
pub struct RustyTable {
    def: Arc<TableDef>,
    cell: Arc<StatementCell>,
    /// Checked each time a scan of the table is planned.
    hooks: Arc<TableHooks>,
    schema: SchemaRef,
}

impl fmt::Debug for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Access::Full => write!(f, "full"),
            Access::Index { name, range, .. } => write!(f, "index {name} {}", describe_range(range)),
        }
    }
}

impl RustyTable {
    pub fn new(def: Arc<TableDef>, cell: Arc<StatementCell>, hooks: Arc<TableHooks>, with_rowid: bool) -> Self {
        let schema = table_schema(&def, with_rowid);
        RustyTable { def, cell, hooks, schema }
    }
}

#[async_trait]
impl TableProvider for RustyTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(&self, filters: &[&Expr]) -> DfResult<Vec<TableProviderFilterPushDown>> {
        Ok(vec![TableProviderFilterPushDown::Inexact; filters.len()])
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        // Every read of the table plans its scan here (a prepared query's
        // every execution too), so no read passes the hooks.
        self.hooks.before_read(&self.def).map_err(EngineError::into_datafusion)?;
        let projection: Vec<usize> = match projection {
            Some(p) => p.clone(),
            None => (0..self.schema.fields().len()).collect(),
        };
        let schema = project_schema(&self.schema, Some(&projection))?;
        let access = choose_access(&self.def, filters);
        let view = self.cell.get().and_then(|ctx| ctx.view).ok_or_else(|| {
            DataFusionError::Internal(format!("table {} scanned outside of a statement's planning", self.def.name))
        })?;
        // Partitions claim stretches of the segments so every core scans.
        let storage_err = |e| DataFusionError::External(Box::new(e));
        let segments = view.planned_segments(self.def.id).map_err(storage_err)?;
        let stretches = view.claimable_stretches(self.def.id).map_err(storage_err)?;
        let (partitions, rows, columns) = match access {
            Access::Full => (
                stretches.clamp(1, state.config().target_partitions().max(1)),
                Some(view.row_count_estimate(self.def.id).map_err(storage_err)?),
                column_statistics(&self.def, &view, &projection).map_err(storage_err)?,
            ),
            Access::Index { .. } => (1, None, Vec::new()),
        };
        let zones = zone_filters(&self.def, filters);
        let exec = RowStoreExec::new(self.def.clone(), view, projection, schema, access, limit, partitions);
        Ok(Arc::new(RowStoreExec { estimated_rows: rows, estimated_columns: columns, zones, segments, ..exec }))
    }
}

/// Column statistics of a full scan, from the frozen rows' zone maps and
/// null counts, all inexact (the row store's rows are not counted); the
/// row-id column gets none.
fn column_statistics(
    def: &TableDef,
    view: &ReadView,
    projection: &[usize],
) -> rustydb_storage::Result<Vec<ColumnStatistics>> {
    let estimates = view.column_estimates(def.id)?;
    let scalar = |v: &Value, ty| ScalarValue::try_from_array(&value_array(v, ty), 0).ok();
    Ok(projection
        .iter()
        .map(|&p| {
            let (Some(est), Some(column)) = (estimates.get(p), def.columns.get(p)) else {
                return ColumnStatistics::new_unknown();
            };
            let mut stats = ColumnStatistics::new_unknown().with_null_count(Precision::Inexact(est.nulls));
            if let Some((lo, hi)) = &est.bounds
                && let (Some(lo), Some(hi)) = (scalar(lo, column.ty), scalar(hi, column.ty))
            {
                stats = stats.with_min_value(Precision::Inexact(lo)).with_max_value(Precision::Inexact(hi));
            }
            stats
        })
        .collect())
}

/// How a scan reaches its rows.
#[derive(Clone)]
pub enum Access {
    Full,
    Index { id: IndexId, name: String, range: KeyRange },
}

fn describe_range(r: &KeyRange) -> String {
    let show = |k: &Vec<Value>| k.iter().map(|v| format!("{v:?}")).collect::<Vec<_>>().join(", ");
    match (&r.lo, &r.hi) {
        (Bound::Included(a), Bound::Included(b)) if a == b => format!("key=({})", show(a)),
        (lo, hi) => {
            let lo = match lo {
                Bound::Included(k) => format!("[{}", show(k)),
                Bound::Excluded(k) => format!("({}", show(k)),
                Bound::Unbounded => "(-inf".into(),
            };
            let hi = match hi {
                Bound::Included(k) => format!("{}]", show(k)),
                Bound::Excluded(k) => format!("{})", show(k)),
                Bound::Unbounded => "+inf)".into(),
            };
            format!("range={lo}..{hi}")
        }
    }
}

/// Column position and constant of a `col <op> literal` filter; with
/// `through_casts`, casts around either side are looked through.
fn column_comparison(def: &TableDef, e: &Expr, through_casts: bool) -> Option<(usize, Operator, Value)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = e else { return None };
    let (left, right) = if through_casts { (strip_cast(left), strip_cast(right)) } else { (&**left, &**right) };
    let (col, lit, op) = match (left, right) {
        (Expr::Column(c), Expr::Literal(v, _)) => (c, v, *op),
        (Expr::Literal(v, _), Expr::Column(c)) => (c, v, op.swap()?),
        _ => return None,
    };
    let pos = def.column(&col.name)?;
    let value = literal_value(lit, def, pos)?;
    Some((pos, op, value))
}

fn strip_cast(e: &Expr) -> &Expr {
    match e {
        Expr::Cast(c) => strip_cast(&c.expr),
        other => other,
    }
}

fn literal_value(lit: &ScalarValue, def: &TableDef, pos: usize) -> Option<Value> {
    if lit.is_null() {
        return None;
    }
    let ty = def.columns[pos].ty;
    let value = scalar_to_value(lit, ty)?;
    // Only use the key when the conversion was exact: `int_col = 1.5` must
    // not become a lookup of 1.
    let back = ScalarValue::try_from_array(&value_array(&value, ty), 0).ok()?;
    (back.cast_to(&lit.data_type()).ok()? == *lit).then_some(value)
}

/// Picks an index for the filters, if one fits.
pub fn choose_access(def: &TableDef, filters: &[Expr]) -> Access {
    let mut eq: HashMap<usize, Value> = HashMap::new();
    let mut lo: HashMap<usize, Bound<Value>> = HashMap::new();
    let mut hi: HashMap<usize, Bound<Value>> = HashMap::new();
    for f in filters.iter().flat_map(split_and) {
        let Some((pos, op, v)) = column_comparison(def, f, true) else { continue };
        match op {
            Operator::Eq => {
                eq.insert(pos, v);
            }
            Operator::Gt => {
                lo.insert(pos, Bound::Excluded(v));
            }
            Operator::GtEq => {
                lo.insert(pos, Bound::Included(v));
            }
            Operator::Lt => {
                hi.insert(pos, Bound::Excluded(v));
            }
            Operator::LtEq => {
                hi.insert(pos, Bound::Included(v));
            }
            _ => {}
        }
    }
    let mut indexes: Vec<_> = def.indexes.iter().collect();
    indexes.sort_by_key(|i| (!i.primary, !i.unique, std::cmp::Reverse(i.columns.len())));
    for idx in &indexes {
        if idx.columns.iter().all(|c| eq.contains_key(c)) {
            let key = idx.columns.iter().map(|c| eq[c].clone()).collect();
            return Access::Index { id: idx.id, name: idx.name.clone(), range: KeyRange::eq(key) };
        }
    }
    for idx in indexes.iter().filter(|i| i.columns.len() == 1) {
        let c = idx.columns[0];
        if lo.contains_key(&c) || hi.contains_key(&c) {
            let wrap = |b: Option<&Bound<Value>>| match b {
                Some(Bound::Included(v)) => Bound::Included(vec![v.clone()]),
                Some(Bound::Excluded(v)) => Bound::Excluded(vec![v.clone()]),
                _ => Bound::Unbounded,
            };
            // NULLs sort first in the index but never satisfy a comparison.
            let lower = match wrap(lo.get(&c)) {
                Bound::Unbounded => Bound::Excluded(vec![Value::Null]),
                b => b,
            };
            return Access::Index {
                id: idx.id,
                name: idx.name.clone(),
                range: KeyRange { lo: lower, hi: wrap(hi.get(&c)) },
            };
        }
    }
    Access::Full
}

/// Ranges the filters put on bare columns, for skipping segments by their
/// zone maps. Only `column <op> literal` with the literal exactly of the
/// column's type counts: through a cast the order may differ.
pub fn zone_filters(def: &TableDef, filters: &[Expr]) -> Vec<ZoneFilter> {
    let mut out = Vec::new();
    for f in filters.iter().flat_map(split_and) {
        let Some((column, op, v)) = column_comparison(def, f, false) else { continue };
        if !zone_mapped(def.columns[column].ty.column_type()) {
            continue;
        }
        let (lo, hi) = match op {
            Operator::Eq => (Bound::Included(v.clone()), Bound::Included(v)),
            Operator::Gt => (Bound::Excluded(v), Bound::Unbounded),
            Operator::GtEq => (Bound::Included(v), Bound::Unbounded),
            Operator::Lt => (Bound::Unbounded, Bound::Excluded(v)),
            Operator::LtEq => (Bound::Unbounded, Bound::Included(v)),
            _ => continue,
        };
        out.push(ZoneFilter { column, lo, hi });
    }
    out
}

fn split_and(e: &Expr) -> Vec<&Expr> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::And, right }) => {
            let mut v = split_and(left);
            v.extend(split_and(right));
            v
        }
        other => vec![other],
    }
}

/// Scans a table at the view's snapshot: its frozen segments, then the
/// row store's versions, then the transaction's own rows.
pub struct RowStoreExec {
    def: Arc<TableDef>,
    view: ReadView,
    projection: Vec<usize>,
    schema: SchemaRef,
    access: Access,
    limit: Option<usize>,
    partitions: usize,
    /// Rows the table holds, about (full scans only): join planning uses it.
    estimated_rows: Option<usize>,
    /// Per output column, bounds and NULLs of the frozen rows (full scans
    /// only; empty otherwise): filter selectivity and join planning use them.
    estimated_columns: Vec<ColumnStatistics>,
    /// Column ranges from the filters: segments outside them are skipped.
    zones: Vec<ZoneFilter>,
    /// Segments when planned, kept in that layout while the plan lives:
    /// claimed by the partitions (see ScanPart).
    segments: PlannedSegments,
    executions: parking_lot::Mutex<Executions>,
    properties: Arc<PlanProperties>,
}

/// The execution of a scan its partitions belong to: they share one
/// [`SegmentClaims`]. A partition executed a second time starts a new
/// execution with every segment unclaimed again (DataFusion executes a
/// plan again for recursive queries and scalar subqueries).
#[derive(Default)]
struct Executions {
    claims: Option<Arc<SegmentClaims>>,
    started: Vec<bool>,
}

impl RowStoreExec {
    /// The claims partition `partition` of this execution shares.
    fn claims_for(&self, partition: usize) -> Arc<SegmentClaims> {
        let mut ex = self.executions.lock();
        let claims = match &ex.claims {
            Some(claims) if !ex.started[partition] => claims.clone(),
            _ => {
                let claims = SegmentClaims::new(&self.segments);
                *ex = Executions { claims: Some(claims.clone()), started: vec![false; self.partitions] };
                claims
            }
        };
        ex.started[partition] = true;
        claims
    }
}

impl fmt::Debug for RowStoreExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RowStoreExec({}, {:?})", self.def.name, self.access)
    }
}

impl RowStoreExec {
    fn new(
        def: Arc<TableDef>,
        view: ReadView,
        projection: Vec<usize>,
        schema: SchemaRef,
        access: Access,
        limit: Option<usize>,
        partitions: usize,
    ) -> Self {
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        RowStoreExec {
            def,
            view,
            projection,
            schema,
            access,
            limit,
            partitions,
            estimated_rows: None,
            estimated_columns: Vec::new(),
            zones: Vec::new(),
            segments: PlannedSegments::default(),
            executions: Default::default(),
            properties,
        }
    }
}

impl DisplayAs for RowStoreExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.access {
            Access::Full => {
                write!(f, "RowStoreScan: table={} partitions={}", self.def.name, self.partitions)?;
                if !self.zones.is_empty() {
                    let cols: Vec<&str> = self.zones.iter().map(|z| self.def.columns[z.column].name.as_str()).collect();
                    write!(f, " zone_maps=[{}]", cols.join(", "))?;
                }
            }
            Access::Index { name, range, .. } => {
                write!(f, "IndexLookup: table={} index={name} {}", self.def.name, describe_range(range))?
            }
        }
        if let Some(l) = self.limit {
            write!(f, " limit={l}")?;
        }
        Ok(())
    }
}

/// Mutable state of one executing scan.
struct ScanState {
    view: ReadView,
    def: Arc<TableDef>,
    schema: SchemaRef,
    storage_projection: Vec<usize>,
    output: Vec<Option<usize>>,
    cursor: ScanCursor,
    part: ScanPart,
    zones: Vec<ZoneFilter>,
    access: Access,
    remaining: Option<usize>,
}

impl ScanState {
    fn next_batch(&mut self) -> DfResult<Option<RecordBatch>> {
        if self.remaining == Some(0) {
            return Ok(None);
        }
        let chunk = match &self.access {
            Access::Full => {
                let max = self.remaining.unwrap_or(SCAN_BATCH_ROWS_MAX).clamp(1, SCAN_BATCH_ROWS_MAX);
                self.view.scan_part_chunk(
                    self.def.id,
                    &self.part,
                    &self.zones,
                    &mut self.cursor,
                    &self.storage_projection,
                    max,
                )
            }
            Access::Index { id, range, .. } => {
                if self.cursor.is_done() {
                    return Ok(None);
                }
                self.cursor.finish();
                self.view.lookup(self.def.id, *id, range, &self.storage_projection)
            }
        }
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let Some(chunk) = chunk else { return Ok(None) };
        let batch = self.to_batch(chunk)?;
        let batch = match self.remaining {
            Some(n) if batch.num_rows() > n => batch.slice(0, n),
            _ => batch,
        };
        if let Some(n) = &mut self.remaining {
            *n -= batch.num_rows();
        }
        Ok(Some(batch))
    }

    fn to_batch(&self, chunk: Chunk) -> DfResult<RecordBatch> {
        let columns = self
            .output
            .iter()
            .map(|o| match o {
                Some(i) => chunk.columns[*i].clone(),
                None => chunk.row_ids.clone(),
            })
            .collect();
        let options = RecordBatchOptions::new().with_row_count(Some(chunk.len));
        Ok(RecordBatch::try_new_with_options(self.schema.clone(), columns, &options)?)
    }
}

impl ExecutionPlan for RowStoreExec {
    fn name(&self) -> &str {
        "RowStoreExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, _children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn statistics_from_inputs(&self, _inputs: &[Arc<Statistics>], args: &StatisticsArgs) -> DfResult<Arc<Statistics>> {
        let mut stats = Statistics::new_unknown(&self.schema);
        if let Some(total) = self.estimated_rows {
            let rows = match args.partition() {
                Some(_) => total.div_ceil(self.partitions),
                None => total,
            };
            stats.num_rows = Precision::Inexact(self.limit.map_or(rows, |l| rows.min(l)));
        }
        if !self.estimated_columns.is_empty() {
            stats.column_statistics = self.estimated_columns.clone();
            if args.partition().is_some() {
                // Bounds hold for every partition; the NULLs are the table's.
                for c in &mut stats.column_statistics {
                    c.null_count = Precision::Absent;
                }
            }
        }
        Ok(Arc::new(stats))
    }

    fn execute(&self, partition: usize, _context: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition >= self.partitions {
            return Err(DataFusionError::Internal(format!(
                "RowStoreExec has {} partitions, asked for {partition}",
                self.partitions
            )));
        }
        let ncols = self.def.columns.len();
        let storage_projection: Vec<usize> = self.projection.iter().copied().filter(|&p| p < ncols).collect();
        let mut next = 0;
        let output = self
            .projection
            .iter()
            .map(|&p| {
                (p < ncols).then(|| {
                    next += 1;
                    next - 1
                })
            })
            .collect();
        let state = ScanState {
            view: self.view.clone(),
            def: self.def.clone(),
            schema: self.schema.clone(),
            storage_projection,
            output,
            cursor: ScanCursor::default(),
            part: ScanPart::new(partition, self.claims_for(partition)),
            zones: self.zones.clone(),
            access: self.access.clone(),
            remaining: self.limit,
        };
        let stream =
            futures::stream::try_unfold(state, |mut state| async move { Ok(state.next_batch()?.map(|b| (b, state))) });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), stream)))
    }
}
