//! What a statement produced, typed: rows as a stream of record batches,
//! rows affected by what was done to them, transaction events, commands,
//! and the two COPY directions.
//!
//! Front ends read these, never text: the PostgreSQL front end builds its
//! command tag from an [`Outcome`] (`engine::pg::command_tag`), Flight SQL
//! reports [`StatementResult::rows_affected`], and a failed block's COMMIT
//! is [`TransactionEvent::RolledBack`], not the word ROLLBACK.

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::TryStreamExt;
use rustydb_common::Scn;

use crate::error::{EngineError, Result};
use crate::pg::copy_format::CopyFormat;
use crate::session::copy::CopyOut;

/// What one statement produced.
pub enum StatementResult {
    /// Rows (SELECT, FETCH, or DML with RETURNING); `outcome` says what the
    /// statement did when that is more than reading (`INSERT ... RETURNING`
    /// inserted, FETCH moved a cursor).
    Rows { schema: SchemaRef, stream: SendableRecordBatchStream, outcome: Option<Outcome> },
    /// A statement that returns no rows, with what it did.
    Done(Outcome),
    /// COPY FROM STDIN started: the client sends data next
    /// (`Session::copy_in_data`, then `Session::copy_in_done`).
    CopyIn { columns: usize, format: CopyFormat },
    /// COPY TO STDOUT: rows to write in the COPY format.
    CopyOut(CopyOut),
}

/// What a statement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Rows written, read into a new table, copied or moved past.
    Affected { verb: Verb, rows: u64 },
    /// A transaction boundary or savepoint.
    Transaction(TransactionEvent),
    /// Any other statement (DDL, settings, cursors, maintenance), named as
    /// SQL names it: `CREATE TABLE`, `SET`, `CHECKPOINT`.
    Command(&'static str),
}

/// What a statement that affects rows did to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Insert,
    Update,
    Delete,
    /// `CREATE TABLE ... AS`, `SELECT ... INTO`: rows written to a new table.
    Select,
    Copy,
    Fetch,
    Move,
}

impl Verb {
    /// The SQL keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Verb::Insert => "INSERT",
            Verb::Update => "UPDATE",
            Verb::Delete => "DELETE",
            Verb::Select => "SELECT",
            Verb::Copy => "COPY",
            Verb::Fetch => "FETCH",
            Verb::Move => "MOVE",
        }
    }
}

/// A change of transaction state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransactionEvent {
    /// A block started (or one was already open: PostgreSQL warns and
    /// carries on).
    Begun,
    /// The block committed; `scn` is its commit's SCN, None when there was
    /// no block to commit.
    Committed {
        scn: Option<Scn>,
    },
    /// The block ended without its writes: ROLLBACK, or COMMIT of a block
    /// that had failed.
    RolledBack,
    SavepointSet,
    SavepointReleased,
    RolledBackToSavepoint,
}

impl std::fmt::Debug for StatementResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatementResult::Rows { schema, outcome, .. } => {
                write!(f, "Rows({:?}, {outcome:?})", schema.fields().len())
            }
            StatementResult::Done(outcome) => write!(f, "Done({outcome:?})"),
            StatementResult::CopyIn { columns, .. } => write!(f, "CopyIn({columns})"),
            StatementResult::CopyOut(c) => write!(f, "CopyOut({})", c.schema.fields().len()),
        }
    }
}

impl StatementResult {
    pub(crate) fn command(name: &'static str) -> Self {
        StatementResult::Done(Outcome::Command(name))
    }

    pub(crate) fn affected(verb: Verb, rows: u64) -> Self {
        StatementResult::Done(Outcome::Affected { verb, rows })
    }

    pub(crate) fn transaction(event: TransactionEvent) -> Self {
        StatementResult::Done(Outcome::Transaction(event))
    }

    /// What the statement did, for rows and commands alike.
    pub fn outcome(&self) -> Option<Outcome> {
        match self {
            StatementResult::Rows { outcome, .. } => *outcome,
            StatementResult::Done(outcome) => Some(*outcome),
            StatementResult::CopyIn { .. } | StatementResult::CopyOut(_) => None,
        }
    }

    /// The rows a command affected (`INSERT`, `UPDATE`, `COPY`, ...); None
    /// for rows returned and for commands without a count.
    pub fn rows_affected(&self) -> Option<u64> {
        match self {
            StatementResult::Done(Outcome::Affected { rows, .. }) => Some(*rows),
            _ => None,
        }
    }

    /// Rows already in memory.
    pub fn from_batches(schema: SchemaRef, batches: Vec<RecordBatch>, outcome: Option<Outcome>) -> Self {
        StatementResult::Rows { schema: schema.clone(), stream: memory_stream(schema, batches), outcome }
    }

    /// Runs a lazy result to its end now, so that its errors surface with
    /// the statement rather than while the rows are being sent.
    pub async fn materialize(self) -> Result<StatementResult> {
        match self {
            StatementResult::Rows { schema, stream, outcome } => {
                let batches = stream.try_collect().await?;
                Ok(Self::from_batches(schema, batches, outcome))
            }
            StatementResult::CopyOut(mut copy) => {
                let batches = copy.stream.try_collect().await?;
                copy.stream = memory_stream(copy.schema.clone(), batches);
                Ok(StatementResult::CopyOut(copy))
            }
            other => Ok(other),
        }
    }

    /// Collects all rows (convenience for tests and the shell).
    pub async fn collect(self) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        match self {
            StatementResult::Rows { schema, stream, .. } | StatementResult::CopyOut(CopyOut { schema, stream, .. }) => {
                Ok((schema, stream.try_collect().await?))
            }
            StatementResult::Done(_) | StatementResult::CopyIn { .. } => {
                Err(EngineError::internal("statement returned no rows"))
            }
        }
    }
}

/// A stream over batches already in memory.
fn memory_stream(schema: SchemaRef, batches: Vec<RecordBatch>) -> SendableRecordBatchStream {
    Box::pin(RecordBatchStreamAdapter::new(schema, futures::stream::iter(batches.into_iter().map(Ok))))
}
