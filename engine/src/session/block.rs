//! The transaction a statement runs in: an explicit block's, or one of its
//! own (autocommit), moved to a blocking thread around storage calls that
//! may wait.

use std::sync::Arc;

use rustydb_storage::{Savepoint, Transaction};

use crate::error::{EngineError, Result};
use crate::query::catalog::StatementCell;

/// An explicit transaction block (BEGIN ... COMMIT).
pub(crate) struct Block {
    pub txn: Transaction,
    pub savepoints: Vec<(String, Savepoint)>,
    pub failed: bool,
}

/// The transaction a statement runs in. Taken out and put back around
/// blocking storage calls, so it can move to a blocking thread.
pub(crate) struct TxnSlot {
    pub txn: Option<Transaction>,
    /// The session's statement context: its view is released before every
    /// write (see [`StatementCell::release_view`]).
    cell: Arc<StatementCell>,
}

impl TxnSlot {
    pub fn new(txn: Transaction, cell: Arc<StatementCell>) -> Self {
        TxnSlot { txn: Some(txn), cell }
    }
    pub fn get(&self) -> Result<&Transaction> {
        self.txn.as_ref().ok_or_else(|| EngineError::internal("transaction lost after a failed blocking call"))
    }
    pub fn get_mut(&mut self) -> Result<&mut Transaction> {
        self.txn.as_mut().ok_or_else(|| EngineError::internal("transaction lost after a failed blocking call"))
    }

    /// Runs one storage write: inline when it needs no lock wait (the
    /// common case, and a hop to a blocking thread costs more than the
    /// write), otherwise again on a blocking thread, where it may wait.
    /// `f` may run twice, so it clones what it hands to storage.
    pub async fn write<R: Send + 'static>(
        &mut self,
        f: impl Fn(&mut Transaction) -> rustydb_storage::Result<R> + Send + 'static,
    ) -> Result<R> {
        self.cell.release_view();
        if let Some(r) = self.get_mut()?.without_waiting(&f)? {
            return Ok(r);
        }
        Ok(self.blocking(f).await??)
    }

    /// Runs `f` on the transaction on a blocking thread (lock waits, fsync).
    pub async fn blocking<R: Send + 'static>(
        &mut self,
        f: impl FnOnce(&mut Transaction) -> R + Send + 'static,
    ) -> Result<R> {
        self.cell.release_view();
        let mut txn =
            self.txn.take().ok_or_else(|| EngineError::internal("transaction lost after a failed blocking call"))?;
        let (txn, r) = tokio::task::spawn_blocking(move || {
            let r = f(&mut txn);
            (txn, r)
        })
        .await
        .map_err(|e| EngineError::internal(format!("storage task failed: {e}")))?;
        self.txn = Some(txn);
        Ok(r)
    }
}

/// Commits on a blocking thread: the commit waits for its fsync.
pub(crate) async fn commit(txn: Transaction) -> Result<rustydb_common::Scn> {
    let scn = tokio::task::spawn_blocking(move || txn.commit())
        .await
        .map_err(|e| EngineError::internal(format!("commit task failed: {e}")))??;
    Ok(scn)
}
