//! Maintenance statements that act on storage rather than on data:
//! `CHECKPOINT` (PostgreSQL's spelling; parsed as `CALL rustydb_checkpoint()`).
//!
//! A checkpoint is not transactional: it runs outside any transaction, as in
//! PostgreSQL, and may be issued inside a block. It is superuser-only there
//! (or holders of pg_checkpoint); here, superusers, or anyone while the
//! catalog has none (trust mode).

use datafusion::sql::sqlparser::ast::{Function, FunctionArguments};

use crate::error::{EngineError, Result};
use crate::session::{QueryOutput, Session};

impl Session {
    /// Runs a checkpoint on a blocking thread; answers `CHECKPOINT`.
    pub(crate) async fn checkpoint(&mut self, call: &Function) -> Result<QueryOutput> {
        let no_args = match &call.args {
            FunctionArguments::None => true,
            FunctionArguments::List(l) => l.args.is_empty(),
            FunctionArguments::Subquery(_) => false,
        };
        if !no_args {
            return Err(EngineError::sql("42883", "rustydb_checkpoint() takes no arguments"));
        }
        let catalog = self.database().latest_catalog()?;
        if !self.is_admin(&catalog) {
            return Err(EngineError::sql("42501", "permission denied to run CHECKPOINT: superuser required"));
        }
        let storage = self.database().storage().clone();
        // Then drop frozen versions no snapshot reads any more and older
        // than the flashback retention, as the automatic checkpoint does.
        tokio::task::spawn_blocking(move || storage.checkpoint().and_then(|_| storage.compact()))
            .await
            .map_err(|e| EngineError::internal(format!("checkpoint task failed: {e}")))??;
        Ok(QueryOutput::command("CHECKPOINT"))
    }
}
