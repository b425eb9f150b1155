//! COPY ... FROM STDIN and COPY ... TO STDOUT.
//!
//! COPY FROM spans several protocol messages, so it is a small state
//! machine on the session rather than one statement call:
//!
//! ```text
//! execute_statement(COPY t FROM STDIN) ─► QueryOutput::CopyIn   (transaction opened)
//! copy_in_data(chunk) × n              ─► decode records; every BATCH_ROWS rows:
//!                                          text ─► column types ─► Transaction::insert
//! copy_in_done()                       ─► last batch, commit (autocommit) ─► "COPY n"
//! ```
//!
//! After the first bad row, later data is read and dropped (as PostgreSQL
//! does) and `copy_in_done` reports the error with its line: nothing of that
//! COPY is kept, and inside a block the block fails. Memory stays bounded by
//! one batch of decoded rows plus the transaction's own write set.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::{CopySource, CopyTarget, Ident, ObjectName, Statement};
use rustydb_catalog::TableDef;
use rustydb_storage::Transaction;

use crate::copy_format::{CopyOptions, Decoder, ForceQuote, Record};
use crate::dml::target_columns;
use crate::error::{EngineError, Result};
use crate::names::{ident, quote};
use crate::session::{Block, QueryOutput, Session, TxnSlot, commit};
use crate::types::coerce_to_column;

/// Decoded rows inserted at a time.
const BATCH_ROWS: usize = 4096;

/// A COPY FROM STDIN in progress.
pub(crate) struct CopyIn {
    def: Arc<TableDef>,
    targets: Vec<usize>,
    decoder: Decoder,
    pending: Vec<Record>,
    rows: u64,
    /// The COPY's own transaction when it runs outside a block.
    own: Option<Transaction>,
    /// The first error; later data is dropped until the client ends the COPY.
    error: Option<EngineError>,
}

/// What a COPY TO STDOUT produces: rows and how to write them.
pub struct CopyOut {
    pub schema: SchemaRef,
    pub stream: SendableRecordBatchStream,
    pub options: CopyOptions,
    /// CSV columns always quoted, by position.
    pub force_quote: Vec<usize>,
}

impl Session {
    /// Whether the session is between COPY FROM STDIN and its end.
    pub fn copy_in_progress(&self) -> bool {
        self.copy.is_some()
    }

    /// Starts COPY ... FROM STDIN: opens its transaction and returns
    /// [`QueryOutput::CopyIn`]; data follows through [`Session::copy_in_data`].
    pub(crate) async fn copy_from(&mut self, stmt: Statement) -> Result<QueryOutput> {
        let Statement::Copy { source, to: false, target, options, legacy_options, values } = stmt else {
            return Err(EngineError::internal("copy_from called with another statement"));
        };
        if self.block.as_ref().is_some_and(|b| b.failed) {
            return Err(EngineError::in_failed_transaction());
        }
        if !matches!(target, CopyTarget::Stdin) {
            return Err(EngineError::unsupported(format!(
                "COPY FROM {target} is not supported: use COPY FROM STDIN (psql's \\copy reads client files)"
            )));
        }
        if !values.is_empty() {
            return Err(EngineError::unsupported("COPY data inline in the statement text is not supported"));
        }
        let CopySource::Table { table_name, columns } = source else {
            return Err(EngineError::syntax("COPY FROM needs a table, not a query"));
        };
        let options = CopyOptions::from_statement(&options, &legacy_options)?;
        let own = match &mut self.block {
            Some(b) => {
                b.txn.begin_statement();
                None
            }
            None => {
                let mut txn = self.new_transaction(None)?;
                txn.begin_statement();
                Some(txn)
            }
        };
        let view = match (&own, &self.block) {
            (Some(txn), _) => txn.view(),
            (None, Some(b)) => b.txn.view(),
            (None, None) => return Err(EngineError::internal("COPY without a transaction")),
        };
        let catalog = self.prepare_view(view)?;
        self.cell.clear();
        let (def, targets) = self.copy_target(&catalog, &table_name, &columns)?;
        let format = options.format;
        let binary_types = targets
            .iter()
            .map(|&t| {
                postgres_types::Type::from_oid(def.columns[t].ty.pg_type_oid()).unwrap_or(postgres_types::Type::TEXT)
            })
            .collect();
        self.copy = Some(CopyIn {
            def,
            targets: targets.clone(),
            decoder: Decoder::new(options, binary_types),
            pending: Vec::new(),
            rows: 0,
            own,
            error: None,
        });
        Ok(QueryOutput::CopyIn { columns: targets.len(), format })
    }

    fn copy_target(
        &self,
        catalog: &rustydb_catalog::CatalogSnapshot,
        name: &ObjectName,
        columns: &[Ident],
    ) -> Result<(Arc<TableDef>, Vec<usize>)> {
        let def = self.resolve_table(catalog, name)?;
        let targets = target_columns(&def, columns.iter().map(ident))?;
        Ok((def, targets))
    }

    /// Takes one CopyData chunk. Errors are kept for [`Session::copy_in_done`].
    pub async fn copy_in_data(&mut self, data: &[u8]) -> Result<()> {
        let copy = self.copy.as_mut().ok_or_else(no_copy)?;
        if copy.error.is_some() {
            return Ok(());
        }
        if let Err(e) = copy.decoder.feed(data, &mut copy.pending) {
            self.copy_failed(e);
            return Ok(());
        }
        if copy.pending.len() >= BATCH_ROWS {
            self.flush_copy().await;
        }
        Ok(())
    }

    /// Ends the COPY: inserts what is left and commits (outside a block).
    /// Returns the command tag, or the COPY's first error.
    pub async fn copy_in_done(&mut self) -> Result<QueryOutput> {
        let copy = self.copy.as_mut().ok_or_else(no_copy)?;
        if copy.error.is_none()
            && let Err(e) = copy.decoder.finish(&mut copy.pending)
        {
            self.copy_failed(e);
        }
        self.flush_copy().await;
        let copy = self.copy.take().ok_or_else(no_copy)?;
        if let Some(e) = copy.error {
            return Err(e);
        }
        if let Some(txn) = copy.own {
            commit(txn).await?;
        }
        Ok(QueryOutput::command(format!("COPY {}", copy.rows)))
    }

    /// The client gave up (CopyFail): nothing of the COPY is kept.
    pub fn copy_in_fail(&mut self, reason: &str) -> EngineError {
        self.copy_failed(EngineError::sql("57014", format!("COPY from stdin failed: {reason}")));
        match self.copy.take().and_then(|c| c.error) {
            Some(e) => e,
            None => EngineError::internal("COPY failed without an error"),
        }
    }

    /// Records the COPY's first error and undoes its work: the own
    /// transaction rolls back, a block becomes failed.
    fn copy_failed(&mut self, e: EngineError) {
        let Some(copy) = self.copy.as_mut() else { return };
        if copy.error.is_some() {
            return;
        }
        copy.pending.clear();
        copy.error = Some(e);
        match copy.own.take() {
            Some(txn) => txn.rollback(),
            None => {
                if let Some(b) = self.block.as_mut() {
                    b.failed = true;
                }
            }
        }
    }

    /// Inserts the decoded rows waiting in the COPY.
    async fn flush_copy(&mut self) {
        let Some(copy) = self.copy.as_mut() else { return };
        if copy.error.is_some() || copy.pending.is_empty() {
            return;
        }
        let records = std::mem::take(&mut copy.pending);
        let (def, targets) = (copy.def.clone(), copy.targets.clone());
        let n = records.len() as u64;
        let result = self.insert_records(&def, &targets, records).await;
        match result {
            Ok(()) => {
                if let Some(copy) = self.copy.as_mut() {
                    copy.rows += n;
                }
            }
            Err(e) => self.copy_failed(e),
        }
    }

    async fn insert_records(&mut self, def: &Arc<TableDef>, targets: &[usize], records: Vec<Record>) -> Result<()> {
        let columns = text_columns(def, targets, &records)?;
        let rows = match self.complete_rows(def, targets, &columns, records.len()).await {
            Ok(rows) => rows,
            Err(e) => return Err(locate_bad_value(def, targets, &records, e)),
        };
        let table = def.id;
        let result = self.in_copy_txn(move |t| t.insert(table, rows).map(|_| ())).await;
        result.map_err(|e| e.with_context(format!("COPY {}", def.name)))
    }

    /// Runs `f` on a blocking thread in the COPY's transaction: its own, or
    /// the open block's.
    async fn in_copy_txn(
        &mut self,
        f: impl FnOnce(&mut Transaction) -> rustydb_storage::Result<()> + Send + 'static,
    ) -> Result<()> {
        if let Some(txn) = self.copy.as_mut().and_then(|c| c.own.take()) {
            let mut slot = TxnSlot(Some(txn));
            let result = slot.blocking(f).await;
            if let (Some(copy), Some(txn)) = (self.copy.as_mut(), slot.0) {
                copy.own = Some(txn);
            }
            return Ok(result??);
        }
        let Block { txn, savepoints, failed } =
            self.block.take().ok_or_else(|| EngineError::internal("COPY lost its transaction"))?;
        let mut slot = TxnSlot(Some(txn));
        let result = slot.blocking(f).await;
        if let Some(txn) = slot.0 {
            self.block = Some(Block { txn, savepoints, failed });
        }
        Ok(result??)
    }

    /// COPY ... TO STDOUT: the rows of a table (some columns) or a query.
    pub(crate) async fn copy_to(&mut self, slot: &mut TxnSlot, stmt: Statement, explicit: bool) -> Result<QueryOutput> {
        let Statement::Copy { source, to: true, target, options, legacy_options, .. } = stmt else {
            return Err(EngineError::internal("copy_to called with another statement"));
        };
        if !matches!(target, CopyTarget::Stdout) {
            return Err(EngineError::unsupported(format!(
                "COPY TO {target} is not supported: use COPY TO STDOUT (psql's \\copy writes client files)"
            )));
        }
        let options = CopyOptions::from_statement(&options, &legacy_options)?;
        if options.format == crate::copy_format::CopyFormat::Binary {
            return Err(EngineError::unsupported("COPY TO in binary format is not supported; use text or CSV"));
        }
        let query = match source {
            CopySource::Query(q) => Statement::Query(q),
            CopySource::Table { table_name, columns } => {
                let catalog = self.prepare_context(slot.get()?)?;
                let (def, targets) = self.copy_target(&catalog, &table_name, &columns)?;
                let list: Vec<String> = targets.iter().map(|&i| quote(&def.columns[i].name)).collect();
                let sql = format!("SELECT {} FROM {}.{}", list.join(", "), quote(&def.schema), quote(&def.name));
                Session::parse(&sql)?.remove(0)
            }
        };
        let out = self.query_statement(slot, query, explicit).await?;
        let QueryOutput::Rows { schema, stream, .. } = out else {
            return Err(EngineError::internal("COPY query returned no rows"));
        };
        let force_quote = match &options.force_quote {
            ForceQuote::None => Vec::new(),
            ForceQuote::All => (0..schema.fields().len()).collect(),
            ForceQuote::Columns(names) => names
                .iter()
                .map(|n| {
                    schema.index_of(n).map_err(|_| {
                        EngineError::sql("42703", format!("FORCE_QUOTE column \"{n}\" not referenced by COPY"))
                    })
                })
                .collect::<Result<_>>()?,
        };
        Ok(QueryOutput::CopyOut(CopyOut { schema, stream, options, force_quote }))
    }
}

fn no_copy() -> EngineError {
    EngineError::sql("08P01", "no COPY in progress")
}

/// One text column per target, checking each record's field count.
fn text_columns(def: &TableDef, targets: &[usize], records: &[Record]) -> Result<Vec<ArrayRef>> {
    for (line, fields) in records {
        if fields.len() < targets.len() {
            let missing = &def.columns[targets[fields.len()]].name;
            return Err(EngineError::sql("22P04", format!("missing data for column \"{missing}\""))
                .with_context(format!("COPY {}, line {line}", def.name)));
        }
        if fields.len() > targets.len() {
            return Err(EngineError::sql("22P04", "extra data after last expected column")
                .with_context(format!("COPY {}, line {line}", def.name)));
        }
    }
    Ok((0..targets.len())
        .map(|k| Arc::new(records.iter().map(|(_, f)| f[k].as_deref()).collect::<StringArray>()) as ArrayRef)
        .collect())
}

/// A batch failed to convert: find the first bad value to name its line
/// and column, as PostgreSQL's CONTEXT does.
fn locate_bad_value(def: &TableDef, targets: &[usize], records: &[Record], batch_error: EngineError) -> EngineError {
    for (line, fields) in records {
        for (k, &pos) in targets.iter().enumerate() {
            let col = &def.columns[pos];
            let one: ArrayRef = Arc::new(StringArray::from(vec![fields[k].as_deref()]));
            if let Err(e) = coerce_to_column(&one, col.ty, &col.name) {
                let value = fields[k].as_deref().map_or("NULL".to_owned(), |v| format!("\"{v}\""));
                return e.with_context(format!("COPY {}, line {line}, column {}: {value}", def.name, col.name));
            }
        }
    }
    batch_error.with_context(format!("COPY {}", def.name))
}
