//! COPY ... FROM STDIN and COPY ... TO STDOUT.
//!
//! COPY FROM spans several protocol messages, so it is a small state
//! machine on the session rather than one statement call:
//!
//! ```text
//! execute_statement(COPY t FROM STDIN) ─► StatementResult::CopyIn   (transaction taken in)
//! copy_in_data(chunk) × n  ─► decode fields into column text arrays; each full batch:
//!                              [blocking thread] text ─► column types ─► rows ─► insert
//! copy_in_done()           ─► last batch; commit (autocommit) or hand the block back ─► "COPY n"
//! ```
//!
//! Decoding and writing overlap: while one batch is converted and written
//! on a blocking thread (with the transaction moved there), the connection
//! goes on reading and decoding the next. At most one batch is in flight
//! and one being decoded, so memory stays bounded by two batches plus the
//! transaction's own write set.
//!
//! After the first bad row, later data is read and dropped (as PostgreSQL
//! does) and `copy_in_done` reports the error with its line: nothing of that
//! COPY is kept, and inside a block the block fails.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::{CopySource, CopyTarget, Ident, ObjectName, Statement};
use rustydb_catalog::TableDef;
use rustydb_storage::{Savepoint, Transaction};
use tokio::task::JoinHandle;

use crate::api::{StatementResult, Verb};
use crate::dml::{assemble_columns, target_columns};
use crate::error::{EngineError, Result};
use crate::extension::WriteOp;
use crate::pg::copy_format::{CopyOptions, Decoder, ForceQuote, TextBatch, TextBatches};
use crate::query::types::coerce_to_column;
use crate::session::interrupt::Stop;
use crate::session::{Block, Session, TxnSlot, commit};
use crate::sql::names::{ident, quote};
use rustydb_common::SqlState;

/// A COPY FROM STDIN in progress.
pub(crate) struct CopyIn {
    def: Arc<TableDef>,
    targets: Vec<usize>,
    decoder: Decoder,
    batches: TextBatches,
    rows: u64,
    /// Where the transaction goes when the COPY ends.
    home: Home,
    /// The transaction, while no batch is being written with it.
    txn: Option<Transaction>,
    /// The batch being written on a blocking thread; it hands the
    /// transaction back with the rows it wrote.
    in_flight: Option<JoinHandle<(Transaction, Result<u64>)>>,
    /// The first error; later data is dropped until the client ends the COPY.
    error: Option<EngineError>,
    /// A cancel request or statement_timeout ends the COPY with 57014 at
    /// the next data the client sends, or at its end.
    stop: Stop,
}

/// The COPY's transaction: its own (autocommit), or the open block's,
/// whose other state waits here until the COPY hands the transaction back.
enum Home {
    Own,
    Block { savepoints: Vec<(String, Savepoint)>, failed: bool },
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

    /// Starts COPY ... FROM STDIN: takes its transaction in and returns
    /// [`StatementResult::CopyIn`]; data follows through [`Session::copy_in_data`].
    pub(crate) async fn copy_from(&mut self, stmt: Statement) -> Result<StatementResult> {
        let Statement::Copy { source, to: false, target, options, legacy_options, values } = stmt else {
            return Err(EngineError::internal("copy_from called with another statement"));
        };
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
        self.before_write(&def, WriteOp::Insert)?;
        let format = options.format;
        let binary_types = targets
            .iter()
            .map(|&t| {
                postgres_types::Type::from_oid(def.columns[t].ty.pg_type_oid()).unwrap_or(postgres_types::Type::TEXT)
            })
            .collect();
        let (txn, home) = match own {
            Some(txn) => (txn, Home::Own),
            None => {
                let Block { txn, savepoints, failed } =
                    self.block.take().ok_or_else(|| EngineError::internal("COPY lost its block"))?;
                (txn, Home::Block { savepoints, failed })
            }
        };
        let names = targets.iter().map(|&t| def.columns[t].name.clone()).collect();
        let stop = self.statement_stop()?;
        self.copy = Some(CopyIn {
            batches: TextBatches::new(&def.name, names),
            def,
            targets: targets.clone(),
            decoder: Decoder::new(options, binary_types),
            rows: 0,
            home,
            txn: Some(txn),
            in_flight: None,
            error: None,
            stop,
        });
        Ok(StatementResult::CopyIn { columns: targets.len(), format })
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
        if let Err(e) = copy.stop.check() {
            self.copy_failed(e);
            return Ok(());
        }
        if let Err(e) = copy.decoder.feed(data, &mut copy.batches) {
            self.copy_failed(e);
            return Ok(());
        }
        while let Some(batch) = self.copy.as_mut().and_then(|c| c.batches.take_full()) {
            self.write_batch(batch).await;
        }
        Ok(())
    }

    /// Ends the COPY: writes what is left and commits (outside a block).
    /// Returns the rows copied, or the COPY's first error.
    pub async fn copy_in_done(&mut self) -> Result<StatementResult> {
        self.observed(|| "COPY FROM STDIN: end of data".into(), async |s| s.end_copy_in().await).await
    }

    async fn end_copy_in(&mut self) -> Result<StatementResult> {
        let copy = self.copy.as_mut().ok_or_else(no_copy)?;
        if copy.error.is_none()
            && let Err(e) = copy.stop.check().and_then(|()| copy.decoder.finish(&mut copy.batches))
        {
            self.copy_failed(e);
        }
        while let Some(batch) = self.copy.as_mut().and_then(|c| c.batches.take_rest()) {
            self.write_batch(batch).await;
        }
        let (txn, rows) = self.end_copy().await?;
        if let Some(txn) = txn {
            commit(txn).await?;
        }
        Ok(StatementResult::affected(Verb::Copy, rows as u64))
    }

    /// The client gave up (CopyFail): nothing of the COPY is kept.
    pub async fn copy_in_fail(&mut self, reason: &str) -> EngineError {
        self.copy_failed(EngineError::sql(SqlState::QueryCanceled, format!("COPY from stdin failed: {reason}")));
        match self.end_copy().await {
            Err(e) => e,
            Ok(_) => EngineError::internal("COPY failed without an error"),
        }
    }

    /// Records the COPY's first error and drops what is still decoded. The
    /// transaction is undone when the COPY ends (see `end_copy`).
    fn copy_failed(&mut self, e: EngineError) {
        let Some(copy) = self.copy.as_mut() else { return };
        if copy.error.is_none() {
            copy.error = Some(e);
        }
        copy.batches.clear();
        if let (Home::Own, Some(txn)) = (&copy.home, copy.txn.take()) {
            // Release its locks now rather than after the client's last byte.
            txn.rollback();
        }
    }

    /// Ends the COPY once its last batch is written: an own transaction is
    /// returned for commit with the row count; a block gets its transaction
    /// back (failed if the COPY failed). Returns the COPY's first error.
    async fn end_copy(&mut self) -> Result<(Option<Transaction>, u64)> {
        self.finish_in_flight().await;
        let CopyIn { home, txn, rows, error, .. } = self.copy.take().ok_or_else(no_copy)?;
        let own = match home {
            Home::Own => txn,
            Home::Block { savepoints, failed } => {
                match txn {
                    Some(txn) => self.block = Some(Block { txn, savepoints, failed: failed || error.is_some() }),
                    // Only a panicked write loses it: the block goes with it.
                    None => tracing::error!("COPY lost its block's transaction; the block is rolled back"),
                }
                None
            }
        };
        match error {
            Some(e) => Err(e),
            None => Ok((own, rows)),
        }
    }

    /// Waits for the batch being written, taking the transaction back.
    async fn finish_in_flight(&mut self) {
        let Some(handle) = self.copy.as_mut().and_then(|c| c.in_flight.take()) else { return };
        let (txn, result) = match handle.await {
            Ok((txn, result)) => (Some(txn), result),
            Err(e) => (None, Err(EngineError::internal(format!("COPY write task failed: {e}")))),
        };
        let Some(copy) = self.copy.as_mut() else { return };
        copy.txn = txn;
        match result {
            Ok(n) => copy.rows += n,
            Err(e) => self.copy_failed(e),
        }
    }

    /// Starts writing `batch` on a blocking thread, after the one before it.
    async fn write_batch(&mut self, batch: TextBatch) {
        self.finish_in_flight().await;
        let Some(copy) = self.copy.as_ref() else { return };
        if copy.error.is_some() {
            return;
        }
        let (def, targets) = (copy.def.clone(), copy.targets.clone());
        let filled = match self.missing_columns(&def, &targets, batch.len()).await {
            Ok(filled) => filled,
            Err(e) => return self.copy_failed(e.with_context(format!("COPY {}", def.name))),
        };
        let Some(copy) = self.copy.as_mut() else { return };
        let Some(mut txn) = copy.txn.take() else { return };
        copy.in_flight = Some(tokio::task::spawn_blocking(move || {
            let result = insert_batch(&mut txn, &def, &targets, &batch, filled);
            (txn, result)
        }));
    }
    /// COPY ... TO STDOUT: the rows of a table (some columns) or a query.
    pub(crate) async fn copy_to(&mut self, slot: &mut TxnSlot, stmt: Statement) -> Result<StatementResult> {
        let Statement::Copy { source, to: true, target, options, legacy_options, .. } = stmt else {
            return Err(EngineError::internal("copy_to called with another statement"));
        };
        if !matches!(target, CopyTarget::Stdout) {
            return Err(EngineError::unsupported(format!(
                "COPY TO {target} is not supported: use COPY TO STDOUT (psql's \\copy writes client files)"
            )));
        }
        let options = CopyOptions::from_statement(&options, &legacy_options)?;
        if options.format == crate::pg::copy_format::CopyFormat::Binary {
            return Err(EngineError::unsupported("COPY TO in binary format is not supported; use text or CSV"));
        }
        let query = match source {
            CopySource::Query(q) => Statement::Query(q),
            CopySource::Table { table_name, columns } => {
                let catalog = self.prepare_context(slot.get()?)?;
                let (def, targets) = self.copy_target(&catalog, &table_name, &columns)?;
                let list: Vec<String> = targets.iter().map(|&i| quote(&def.columns[i].name)).collect();
                let sql = format!("SELECT {} FROM {}.{}", list.join(", "), quote(&def.schema), quote(&def.name));
                crate::sql::parse_generated(&sql)?.remove(0)
            }
        };
        let out = self.query_statement(slot, query).await?;
        let StatementResult::Rows { schema, stream, .. } = out else {
            return Err(EngineError::internal("COPY query returned no rows"));
        };
        let force_quote = match &options.force_quote {
            ForceQuote::None => Vec::new(),
            ForceQuote::All => (0..schema.fields().len()).collect(),
            ForceQuote::Columns(names) => names
                .iter()
                .map(|n| {
                    schema.index_of(n).map_err(|_| {
                        EngineError::sql(
                            SqlState::UndefinedColumn,
                            format!("FORCE_QUOTE column \"{n}\" not referenced by COPY"),
                        )
                    })
                })
                .collect::<Result<_>>()?,
        };
        Ok(StatementResult::CopyOut(CopyOut { schema, stream, options, force_quote }))
    }
}

fn no_copy() -> EngineError {
    EngineError::sql(SqlState::ProtocolViolation, "no COPY in progress")
}

/// Converts one batch of text to the column types and inserts it as
/// columns; returns the count.
fn insert_batch(
    txn: &mut Transaction,
    def: &TableDef,
    targets: &[usize],
    batch: &TextBatch,
    filled: Vec<Option<ArrayRef>>,
) -> Result<u64> {
    let columns =
        assemble_columns(def, targets, &batch.columns, filled).map_err(|e| locate_bad_value(def, targets, batch, e))?;
    let n = txn
        .insert_columns(def.id, columns, batch.len())
        .map_err(|e| EngineError::from(e).with_context(format!("COPY {}", def.name)))?;
    Ok(n as u64)
}

/// A batch failed to convert: find the first bad value to name its line
/// and column, as PostgreSQL's CONTEXT does.
fn locate_bad_value(def: &TableDef, targets: &[usize], batch: &TextBatch, batch_error: EngineError) -> EngineError {
    for i in 0..batch.len() {
        for (k, &pos) in targets.iter().enumerate() {
            let col = &def.columns[pos];
            let text = batch.columns[k].as_string::<i32>();
            let field = text.is_valid(i).then(|| text.value(i));
            let one: ArrayRef = Arc::new(StringArray::from(vec![field]));
            if let Err(e) = coerce_to_column(&one, col.ty, &col.name) {
                let value = field.map_or("NULL".to_owned(), |v| format!("\"{v}\""));
                let line = batch.first_line + i as u64;
                return e.with_context(format!("COPY {}, line {line}, column {}: {value}", def.name, col.name));
            }
        }
    }
    batch_error.with_context(format!("COPY {}", def.name))
}
