//! The statement pipeline: the one way every statement from every front
//! end runs, and the stage where it is observed.
//!
//! ```text
//! front end ─► Session::execute / execute_piece / execute_prepared /
//!              begin / commit / rollback / ingest / copy_in_done
//!   1 parse or shape   sql/ (RustyDB statements over sqlparser's), or the
//!                      literal cache's shape (session/literal_cache.rs)
//!   2 authorize        table hooks of the tables read (their scans) and
//!                      written (each write statement), privileges
//!   3 route            the fast path (fastpath/) only where
//!                      fastpath::Scope::eligible allows, else DataFusion
//!                      or the statement's own code (statements/, dml/)
//!   4 run              in the block's transaction, or one of its own
//!                      (Session::run_in_transaction)
//!   5 observe          every StatementObserver (audit, metrics): here
//! ```
//!
//! Caches sit inside the stages (the literal cache in 1 and 3, prepared
//! plans in 3), never in front of them: a cached route is taken only where
//! the uncached one would be, so no shortcut skips a hook. Each public
//! entry wraps its work in [`Session::observed`] exactly once; what they
//! call inside runs unobserved, so a statement is reported once however it
//! was routed.

use std::time::Instant;

use crate::api::{Outcome, StatementResult, TransactionEvent};
use crate::error::Result;
use crate::extension::StatementEvent;
use crate::session::Session;

/// What a result tells an observer about what the statement did.
pub(crate) trait Observed {
    fn outcome(&self) -> Option<Outcome>;
}

impl Observed for StatementResult {
    fn outcome(&self) -> Option<Outcome> {
        StatementResult::outcome(self)
    }
}

impl Observed for TransactionEvent {
    fn outcome(&self) -> Option<Outcome> {
        Some(Outcome::Transaction(*self))
    }
}

impl Session {
    /// Runs one statement's `work` and reports it to the observers.
    /// `describe` names the statement; it is only called when someone
    /// observes, so that unobserved statements never print themselves.
    pub(crate) async fn observed<T: Observed>(
        &mut self,
        describe: impl FnOnce() -> String,
        work: impl AsyncFnOnce(&mut Session) -> Result<T>,
    ) -> Result<T> {
        if self.db.extensions.observers().is_empty() {
            return work(self).await;
        }
        let statement = describe();
        let started = Instant::now();
        let result = work(self).await;
        let user = self.current_user();
        let event = StatementEvent {
            user: &user,
            statement: &statement,
            result: result.as_ref().map(Observed::outcome),
            elapsed: started.elapsed(),
        };
        for observer in self.db.extensions.observers() {
            observer.statement_done(&event);
        }
        result
    }
}
