//! Maintenance statements that act on storage rather than on data:
//! `CHECKPOINT`.
//!
//! A checkpoint is not transactional: it runs outside any transaction, as in
//! PostgreSQL, and may be issued inside a block. It is superuser-only there
//! (or holders of pg_checkpoint); here, superusers, or anyone while the
//! catalog has none (trust mode).

use crate::api::StatementResult;
use crate::error::{EngineError, Result};
use crate::session::Session;
use rustydb_common::SqlState;

impl Session {
    /// Runs a checkpoint on a blocking thread; answers `CHECKPOINT`.
    pub(crate) async fn checkpoint(&mut self) -> Result<StatementResult> {
        let catalog = self.database().latest_catalog()?;
        if !self.is_admin(&catalog) {
            return Err(EngineError::sql(
                SqlState::InsufficientPrivilege,
                "permission denied to run CHECKPOINT: superuser required",
            ));
        }
        let storage = self.database().storage().clone();
        // Then drop frozen versions no snapshot reads any more and older
        // than the flashback retention, as the automatic checkpoint does.
        tokio::task::spawn_blocking(move || storage.checkpoint().and_then(|_| storage.compact()))
            .await
            .map_err(|e| EngineError::internal(format!("checkpoint task failed: {e}")))??;
        Ok(StatementResult::command("CHECKPOINT"))
    }
}
