//! Stopping a running statement: a client's cancel request (from another
//! connection) and `statement_timeout`.
//!
//! Both end the statement with 57014. The statement's work future is
//! dropped at its next await point; storage work already handed to a
//! blocking thread finishes there and its transaction is rolled back, so a
//! cancelled statement never leaves a partial change. A COMMIT is never
//! interrupted: once the commit record is being written it completes, as in
//! PostgreSQL. Rows streamed after the statement returned (a lazy SELECT
//! result) are checked between batches.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::physical_plan::{RecordBatchStream, SendableRecordBatchStream};
use futures::Stream;
use tokio::sync::Notify;

use crate::error::EngineError;
use rustydb_common::SqlState;

/// A session's interrupt line; cloned to whoever may cancel it.
#[derive(Debug, Default)]
pub struct Interrupt {
    generation: AtomicU64,
    notify: Notify,
}

impl Interrupt {
    /// Cancels the statement running now, if any (a cancel that arrives
    /// between statements is dropped, as in PostgreSQL).
    pub fn cancel(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Resolves when the statement that began at `since` is cancelled.
    pub(crate) async fn cancelled(&self, since: u64) {
        loop {
            let notified = self.notify.notified();
            if self.generation() != since {
                return;
            }
            notified.await;
        }
    }
}

fn user_cancel() -> EngineError {
    EngineError::sql(SqlState::QueryCanceled, "canceling statement due to user request")
}

fn timeout() -> EngineError {
    EngineError::sql(SqlState::QueryCanceled, "canceling statement due to statement timeout")
}

/// When the statement that starts now must stop: a cancel after its start,
/// or its `statement_timeout`.
#[derive(Clone)]
pub(crate) struct Stop {
    interrupt: Arc<Interrupt>,
    since: u64,
    deadline: Option<Instant>,
}

impl Stop {
    pub(crate) fn starting_now(interrupt: Arc<Interrupt>, timeout: Option<Duration>) -> Stop {
        let since = interrupt.generation();
        Stop { interrupt, since, deadline: timeout.map(|t| Instant::now() + t) }
    }

    /// The 57014 error if the statement must stop by now (for work that
    /// runs in steps the client drives, such as COPY FROM STDIN's data).
    pub(crate) fn check(&self) -> Result<(), EngineError> {
        if self.interrupt.generation() != self.since {
            return Err(user_cancel());
        }
        match self.deadline {
            Some(d) if Instant::now() >= d => Err(timeout()),
            _ => Ok(()),
        }
    }

    /// Resolves with the 57014 error once the statement must stop.
    pub(crate) async fn stopped(&self) -> EngineError {
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.interrupt.cancelled(self.since) => user_cancel(),
            _ = deadline => timeout(),
        }
    }
}

/// A result stream that stops with 57014 when its statement must stop. The
/// stop condition is a future polled beside the rows, so it fires even
/// while the inner stream waits for work running on other tasks (an
/// aggregate produces nothing until its input ends); dropping the inner
/// stream then stops that work.
pub(crate) struct Interruptible {
    inner: SendableRecordBatchStream,
    stop: Pin<Box<dyn Future<Output = EngineError> + Send>>,
    stopped: bool,
}

impl Interruptible {
    pub(crate) fn wrap(inner: SendableRecordBatchStream, stop: Stop) -> SendableRecordBatchStream {
        let stop = Box::pin(async move { stop.stopped().await });
        Box::pin(Interruptible { inner, stop, stopped: false })
    }
}

impl Stream for Interruptible {
    type Item = datafusion::error::Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.stopped {
            return Poll::Ready(None);
        }
        if let Poll::Ready(e) = self.stop.as_mut().poll(cx) {
            self.stopped = true;
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(e)))));
        }
        self.inner.as_mut().poll_next(cx)
    }
}

impl RecordBatchStream for Interruptible {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}
