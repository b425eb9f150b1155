//! SQL cursors: DECLARE ... CURSOR [WITH HOLD] FOR query, FETCH, MOVE, CLOSE.
//!
//! A cursor is the query's result stream, read at the snapshot of its
//! DECLARE (PostgreSQL's cursors are insensitive to later changes), pulled
//! batch by batch as FETCH asks for rows, so a huge result is never held in
//! memory. A cursor without HOLD lives until its transaction ends; WITH HOLD
//! results are read to the end at DECLARE (PostgreSQL does so at COMMIT) and
//! outlive the transaction. Cursors scan forward only (NO SCROLL).

use std::collections::HashMap;

use datafusion::arrow::compute::concat_batches;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::sql::sqlparser::ast::{CloseCursor, Declare, DeclareType, FetchDirection, Ident, Statement};
use futures::StreamExt;

use crate::api::{Outcome, StatementResult, Verb};
use crate::error::{EngineError, Result};
use crate::session::Session;
use crate::sql::names::ident;
use rustydb_common::SqlState;

/// An open cursor.
pub(crate) struct Cursor {
    schema: SchemaRef,
    /// In a mutex only so that the session stays `Sync`; it is reached
    /// through `&mut` (`get_mut`), never locked.
    stream: tokio::sync::Mutex<SendableRecordBatchStream>,
    /// Rows of the last batch not yet fetched.
    pending: Option<RecordBatch>,
    hold: bool,
    /// Declared in the open transaction block (gone if it rolls back).
    in_block: bool,
}

/// The session's cursors by name.
#[derive(Default)]
pub(crate) struct Cursors(HashMap<String, Cursor>);

impl Cursors {
    /// The block ended: cursors without HOLD close, and a rollback also
    /// closes the cursors the block declared.
    pub(crate) fn end_of_block(&mut self, committed: bool) {
        self.0.retain(|_, c| c.hold && (committed || !c.in_block));
        for c in self.0.values_mut() {
            c.in_block = false;
        }
    }

    pub(crate) fn schema(&self, name: &str) -> Option<SchemaRef> {
        self.0.get(name).map(|c| c.schema.clone())
    }
}

impl Session {
    pub(crate) async fn declare_cursor(&mut self, declare: Declare) -> Result<StatementResult> {
        if declare.declare_type != Some(DeclareType::Cursor) || declare.names.len() != 1 {
            return Err(EngineError::unsupported("only DECLARE name CURSOR FOR query is supported"));
        }
        if declare.scroll == Some(true) {
            return Err(EngineError::unsupported("SCROLL cursors are not supported; cursors scan forward"));
        }
        let name = ident(&declare.names[0]);
        let hold = declare.hold == Some(true);
        if !hold && self.block.is_none() {
            return Err(EngineError::sql(
                SqlState::NoActiveSqlTransaction,
                "DECLARE CURSOR can only be used in transaction blocks",
            ));
        }
        if self.cursors.0.contains_key(&name) {
            return Err(EngineError::sql(SqlState::DuplicateCursor, format!("cursor \"{name}\" already exists")));
        }
        let query = declare.for_query.ok_or_else(|| EngineError::syntax("DECLARE CURSOR needs FOR query"))?;
        let in_block = self.block.is_some();
        self.run_in_transaction(move |session, slot, _explicit| {
            Box::pin(async move {
                // Not collected, even in a block: the stream keeps reading at
                // this statement's snapshot as FETCH asks for rows.
                let StatementResult::Rows { schema, stream, .. } =
                    session.query_statement(slot, Statement::Query(query)).await?
                else {
                    return Err(EngineError::internal("cursor query returned no rows"));
                };
                let stream = if hold {
                    let batches: Vec<RecordBatch> = futures::TryStreamExt::try_collect(stream).await?;
                    let StatementResult::Rows { stream, .. } =
                        StatementResult::from_batches(schema.clone(), batches, None)
                    else {
                        return Err(EngineError::internal("rows expected"));
                    };
                    stream
                } else {
                    stream
                };
                let stream = tokio::sync::Mutex::new(stream);
                session.cursors.0.insert(name, Cursor { schema, stream, pending: None, hold, in_block });
                Ok(StatementResult::command("DECLARE CURSOR"))
            })
        })
        .await
    }

    /// FETCH (or MOVE, which counts the rows and returns none).
    pub(crate) async fn fetch(
        &mut self,
        name: &Ident,
        direction: &FetchDirection,
        is_move: bool,
    ) -> Result<StatementResult> {
        let name = ident(name);
        let limit = forward_count(direction)?;
        let (schema, batches) = self.fetch_rows(&name, limit).await?;
        let n: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if is_move {
            return Ok(StatementResult::affected(Verb::Move, n as u64));
        }
        Ok(StatementResult::from_batches(
            schema,
            batches,
            Some(Outcome::Affected { verb: Verb::Fetch, rows: n as u64 }),
        ))
    }

    async fn fetch_rows(&mut self, name: &str, limit: Option<usize>) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let stop = self.statement_stop()?;
        let cursor = self.cursors.0.get_mut(name).ok_or_else(|| {
            EngineError::sql(SqlState::InvalidCursorName, format!("cursor \"{name}\" does not exist"))
        })?;
        let mut out = Vec::new();
        let mut want = limit.unwrap_or(usize::MAX);
        while want > 0 {
            let batch = match cursor.pending.take() {
                Some(b) => b,
                None => {
                    let next = tokio::select! {
                        next = cursor.stream.get_mut().next() => next,
                        e = stop.stopped() => return Err(e),
                    };
                    match next {
                        None => break,
                        Some(b) => b?,
                    }
                }
            };
            if batch.num_rows() > want {
                cursor.pending = Some(batch.slice(want, batch.num_rows() - want));
                out.push(batch.slice(0, want));
                want = 0;
            } else {
                want -= batch.num_rows();
                if batch.num_rows() > 0 {
                    out.push(batch);
                }
            }
        }
        let schema = cursor.schema.clone();
        // One batch keeps the result compact for the protocol encoder.
        let out =
            if out.len() > 1 { vec![concat_batches(&schema, &out).map_err(crate::error::arrow_error)?] } else { out };
        Ok((schema, out))
    }

    pub(crate) fn close_cursor(&mut self, cursor: &CloseCursor) -> Result<StatementResult> {
        match cursor {
            CloseCursor::All => self.cursors.0.clear(),
            CloseCursor::Specific { name } => {
                let name = ident(name);
                if self.cursors.0.remove(&name).is_none() {
                    return Err(EngineError::sql(
                        SqlState::InvalidCursorName,
                        format!("cursor \"{name}\" does not exist"),
                    ));
                }
            }
        }
        Ok(StatementResult::command("CLOSE CURSOR"))
    }
}

/// How many rows a forward FETCH asks for; `None` for all.
fn forward_count(direction: &FetchDirection) -> Result<Option<usize>> {
    let count = |v: &datafusion::sql::sqlparser::ast::ValueWithSpan| -> Result<i64> {
        v.to_string().parse::<i64>().map_err(|_| EngineError::syntax(format!("bad FETCH count {v}")))
    };
    let n = match direction {
        FetchDirection::Next => 1,
        FetchDirection::All | FetchDirection::ForwardAll => return Ok(None),
        FetchDirection::Forward { limit: None } => 1,
        FetchDirection::Forward { limit: Some(v) } | FetchDirection::Count { limit: v } => count(v)?,
        _ => -1,
    };
    if n < 0 {
        return Err(EngineError::sql(SqlState::ObjectNotInPrerequisiteState, "cursor can only scan forward"));
    }
    Ok(Some(n as usize))
}
