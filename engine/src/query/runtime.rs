//! Query execution on a thread pool of its own.
//!
//! DataFusion runs a plan's partitions as tokio tasks on whatever runtime
//! polls it. On the front ends' runtime, an analytic query's partitions
//! would fill every worker, and a short transaction's next statement would
//! wait in the same queue behind them: the HTAP bench measured a writer
//! falling from 2,200 to 200 commits/s beside TPC-H queries. Here plans run
//! on the query runtime instead, and the front end only receives batches, so
//! the operating system shares the cores between the two pools and the
//! writer is scheduled as soon as it wakes. The pool has more threads than
//! cores by default, so that the query is not left with only what the
//! writer's wake-ups leave (`DatabaseOptions::query_threads`).
//!
//! Planning stays on the caller: it is short, and the session's context is
//! not `Send` across the await points it would need.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{ExecutionPlan, RecordBatchStream, SendableRecordBatchStream};
use futures::{Future, Stream, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::{EngineError, Result};

/// Batches in flight between the query pool and the consumer: enough to
/// keep both sides busy, few enough that a slow client holds back the plan.
const CHANNEL_BATCHES: usize = 2;

/// The runtime every query's execution runs on.
pub(crate) struct QueryRuntime {
    /// `None` only while dropping.
    runtime: Option<tokio::runtime::Runtime>,
}

impl QueryRuntime {
    /// A multi-threaded runtime with `threads` workers (at least one).
    pub fn new(threads: usize) -> Result<QueryRuntime> {
        let threads = threads.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .thread_name("rustydb-query")
            .enable_all()
            .build()
            .map_err(|e| EngineError::internal(format!("starting the query runtime: {e}")))?;
        Ok(QueryRuntime { runtime: Some(runtime) })
    }

    /// Its worker threads.
    pub fn threads(&self) -> usize {
        self.runtime.as_ref().expect("the query runtime lives as long as its owner").metrics().num_workers()
    }

    /// Starts `plan` on the query runtime; the returned stream yields its
    /// batches (all partitions merged) and stops the plan when dropped.
    pub fn execute(&self, plan: Arc<dyn ExecutionPlan>, task: Arc<TaskContext>) -> SendableRecordBatchStream {
        let schema = plan.schema();
        let (tx, rx) = mpsc::channel(CHANNEL_BATCHES);
        let runtime = self.runtime.as_ref().expect("the query runtime lives as long as its owner");
        let producer = runtime.spawn(async move {
            let mut stream = match datafusion::physical_plan::execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(e) => {
                    let _ = tx.send(Err(e)).await;
                    return;
                }
            };
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                // A closed channel means the consumer is gone: stop the plan.
                if tx.send(item).await.is_err() || failed {
                    return;
                }
            }
        });
        Box::pin(Remote { schema, rx, producer: Some(producer) })
    }
}

impl Drop for QueryRuntime {
    fn drop(&mut self) {
        // Dropping a runtime blocks for its tasks, which is not allowed
        // inside another runtime (a database dropped by an async test).
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The consumer's end of a plan running on the query runtime.
struct Remote {
    schema: SchemaRef,
    rx: mpsc::Receiver<DfResult<RecordBatch>>,
    /// Awaited once the channel closes, so that a panic in the plan is an
    /// error rather than a silently short result.
    producer: Option<JoinHandle<()>>,
}

impl Stream for Remote {
    type Item = DfResult<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(item) = ready!(self.rx.poll_recv(cx)) {
            return Poll::Ready(Some(item));
        }
        let Some(producer) = self.producer.as_mut() else { return Poll::Ready(None) };
        let ended = ready!(Pin::new(producer).poll(cx));
        self.producer = None;
        Poll::Ready(match ended {
            Ok(()) => None,
            Err(e) => Some(Err(DataFusionError::Execution(format!("query execution failed: {e}")))),
        })
    }
}

impl RecordBatchStream for Remote {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        if let Some(producer) = self.producer.take() {
            producer.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;
    use futures::TryStreamExt;

    async fn plan(sql: &str) -> (Arc<dyn ExecutionPlan>, Arc<TaskContext>) {
        let ctx = SessionContext::new();
        let df = ctx.sql(sql).await.unwrap();
        let task = Arc::new(df.task_ctx());
        (df.create_physical_plan().await.unwrap(), task)
    }

    #[tokio::test]
    async fn rows_come_back_from_the_query_runtime() {
        let rt = QueryRuntime::new(2).unwrap();
        let (plan, task) = plan("SELECT sum(v) AS s FROM generate_series(1, 100000) AS t(v)").await;
        let batches: Vec<RecordBatch> = rt.execute(plan, task).try_collect().await.unwrap();
        let s = batches[0].column(0).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap().value(0);
        assert_eq!(s, 5_000_050_000);
    }

    #[test]
    fn the_runtime_has_the_threads_asked_for_and_at_least_one() {
        for (asked, workers) in [(3, 3), (0, 1)] {
            assert_eq!(QueryRuntime::new(asked).unwrap().threads(), workers);
        }
    }

    #[tokio::test]
    async fn errors_reach_the_consumer() {
        let rt = QueryRuntime::new(2).unwrap();
        let (plan, task) = plan("SELECT 1 / (v - 5) FROM generate_series(1, 10) AS t(v)").await;
        let err = rt.execute(plan, task).try_collect::<Vec<_>>().await.unwrap_err();
        assert!(err.to_string().contains("Divide by zero"), "{err}");
    }

    #[tokio::test]
    async fn dropping_the_stream_stops_the_plan() {
        let rt = QueryRuntime::new(2).unwrap();
        let (plan, task) = plan("SELECT v FROM generate_series(1, 1000000000) AS t(v)").await;
        let mut stream = rt.execute(plan, task);
        assert!(stream.next().await.unwrap().is_ok());
        drop(stream);
        // The producer is aborted; the runtime has no task left running.
        let metrics = rt.runtime.as_ref().unwrap().metrics();
        for _ in 0..200 {
            if metrics.num_alive_tasks() == 0 {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("{} query tasks still alive after the stream was dropped", metrics.num_alive_tasks());
    }
}
