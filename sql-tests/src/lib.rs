//! sqllogictest glue: runs `.slt` files against RustyDB in-process.
//!
//! Every `connection <name>` record of a file gets its own [`Session`] on the
//! same database, so isolation scenarios can interleave statements of two
//! sessions. Values print as PostgreSQL's text output does (`t`/`f`,
//! `2024-01-02 03:04:05`, `\x0102`), so the same files can later run over the
//! wire and compare equal.

pub mod wire;

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use rustydb_engine::api::{Database, EngineError, Session, StatementResult};
use sqllogictest::{AsyncDB, DBOutput, DefaultColumnType};

/// Error as the runner matches it: `SQLSTATE: message`.
#[derive(Debug)]
pub struct SltError(pub EngineError);

impl std::fmt::Display for SltError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.0.sqlstate(), self.0)
    }
}

impl std::error::Error for SltError {}

/// One connection of a test file.
pub struct EngineDb {
    session: Session,
}

impl EngineDb {
    pub fn new(db: &Arc<Database>) -> Self {
        EngineDb { session: db.session() }
    }
}

/// Renders one value as PostgreSQL's text format would.
pub fn pg_text(array: &dyn Array, row: usize) -> Result<String, arrow::error::ArrowError> {
    if array.is_null(row) {
        return Ok("NULL".into());
    }
    let text = match array.data_type() {
        DataType::Boolean => (if array.as_boolean().value(row) { "t" } else { "f" }).to_string(),
        DataType::Binary => {
            let bytes = array.as_binary::<i32>().value(row);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            format!("\\x{hex}")
        }
        _ => {
            let options = FormatOptions::default()
                .with_timestamp_format(Some("%Y-%m-%d %H:%M:%S%.f"))
                .with_timestamp_tz_format(Some("%Y-%m-%d %H:%M:%S%.f%:::z"));
            ArrayFormatter::try_new(array, &options)?.value(row).to_string()
        }
    };
    Ok(if text.is_empty() { "(empty)".into() } else { text })
}

/// Adds a row; a value spanning lines (EXPLAIN plans) continues on rows of
/// its own, one per line, so expected output can be written line by line.
pub fn push_row(out: &mut Vec<Vec<String>>, row: Vec<String>) {
    if !row.iter().any(|v| v.contains('\n')) {
        out.push(row);
        return;
    }
    let mut first = Vec::with_capacity(row.len());
    let mut rest = Vec::new();
    for v in row {
        let mut lines = v.lines();
        first.push(lines.next().unwrap_or_default().to_owned());
        rest.extend(lines.map(|l| vec![l.to_owned()]));
    }
    out.push(first);
    out.extend(rest);
}

fn column_type(dt: &DataType) -> DefaultColumnType {
    if dt.is_integer() {
        DefaultColumnType::Integer
    } else if dt.is_floating() || matches!(dt, DataType::Decimal128(_, _)) {
        DefaultColumnType::FloatingPoint
    } else if matches!(dt, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) {
        DefaultColumnType::Text
    } else {
        DefaultColumnType::Any
    }
}

#[async_trait]
impl AsyncDB for EngineDb {
    type Error = SltError;
    type ColumnType = DefaultColumnType;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let mut outputs = self.session.execute(sql).await.map_err(SltError)?;
        let Some(last) = outputs.pop() else { return Ok(DBOutput::StatementComplete(0)) };
        match last {
            done @ StatementResult::Done(_) => Ok(DBOutput::StatementComplete(done.rows_affected().unwrap_or(0))),
            StatementResult::CopyIn { .. } => {
                Err(SltError(self.session.copy_in_fail("COPY FROM STDIN has no data channel in sqllogictest").await))
            }
            rows @ (StatementResult::Rows { .. } | StatementResult::CopyOut(_)) => {
                let (schema, batches) = rows.collect().await.map_err(SltError)?;
                let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
                let mut out = Vec::new();
                for b in &batches {
                    for r in 0..b.num_rows() {
                        let row = b
                            .columns()
                            .iter()
                            .map(|c| pg_text(c.as_ref(), r))
                            .collect::<Result<Vec<_>, _>>()
                            .map_err(|e| SltError(EngineError::internal(e.to_string())))?;
                        push_row(&mut out, row);
                    }
                }
                Ok(DBOutput::Rows { types, rows: out })
            }
        }
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "rustydb"
    }

    fn error_sql_state(err: &Self::Error) -> Option<String> {
        Some(err.0.sqlstate().to_owned())
    }
}
