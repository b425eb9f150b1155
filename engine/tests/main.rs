//! Engine integration tests: sessions that block on each other, concurrent
//! transfers, and crash recovery with a killed child process.

mod bank;
mod blocking;
mod crash;
mod htap;

use std::sync::Arc;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use rustydb_engine::api::{Database, EngineError, Session, StatementResult};

/// Runs SQL and returns the last statement's rows as strings (NULL as "NULL").
pub async fn query(s: &mut Session, sql: &str) -> Result<Vec<Vec<String>>, EngineError> {
    let mut outs = s.execute(sql).await?;
    match outs.pop() {
        Some(last @ StatementResult::Rows { .. }) => strings(last).await,
        _ => Ok(vec![]),
    }
}

/// The rows of a result as strings (NULL as "NULL").
pub async fn strings(out: StatementResult) -> Result<Vec<Vec<String>>, EngineError> {
    let (_, batches) = out.collect().await?;
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for b in &batches {
        let fmts: Vec<_> = b.columns().iter().map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap()).collect();
        for r in 0..b.num_rows() {
            rows.push(fmts.iter().map(|f| f.value(r).to_string()).collect());
        }
    }
    Ok(rows)
}

/// Runs SQL that must succeed.
pub async fn exec(s: &mut Session, sql: &str) {
    if let Err(e) = s.execute(sql).await {
        panic!("{sql}: {}: {e}", e.sqlstate());
    }
}

pub fn database() -> (tempfile::TempDir, Arc<Database>) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(dir.path()).unwrap();
    (dir, db)
}

/// `rows(&[&["1", "10"]])` for comparisons.
pub fn rows(r: &[&[&str]]) -> Vec<Vec<String>> {
    r.iter().map(|row| row.iter().map(|s| s.to_string()).collect()).collect()
}

mod prepared;
