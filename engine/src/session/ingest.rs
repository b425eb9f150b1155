//! Bulk append of Arrow record batches (Flight SQL's CommandStatementIngest).
//!
//! Columns are matched by name; the values go through the same conversion
//! and checks as INSERT (22003, 22001, 23502, 23505, ...), and every batch
//! is written in one transaction: the open block's, or one of its own that
//! commits after the last batch.

use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::sql::sqlparser::ast::{Ident, ObjectName};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::api::{StatementResult, Verb};
use crate::dml::{assemble_columns, target_columns};
use crate::error::{EngineError, Result};
use crate::extension::WriteOp;
use crate::session::Session;
use crate::sql::names::quote_if_needed as quote;
use rustydb_common::SqlState;

impl Session {
    /// Appends `batches` to `schema.table` (names taken exactly, as Arrow
    /// clients give them). Returns the number of rows written.
    pub async fn ingest(
        &mut self,
        schema: Option<&str>,
        table: &str,
        batches: BoxStream<'static, Result<RecordBatch>>,
    ) -> Result<u64> {
        let describe = || format!("INGEST INTO {}", schema.map_or(table.to_owned(), |s| format!("{s}.{table}")));
        let out = self.observed(describe, async |s| s.run_ingest(schema, table, batches).await).await?;
        out.rows_affected().ok_or_else(|| EngineError::internal(format!("ingest ended with {out:?}")))
    }

    async fn run_ingest(
        &mut self,
        schema: Option<&str>,
        table: &str,
        batches: BoxStream<'static, Result<RecordBatch>>,
    ) -> Result<StatementResult> {
        let mut parts: Vec<Ident> = schema.map(|s| Ident::with_quote('"', s)).into_iter().collect();
        parts.push(Ident::with_quote('"', table));
        let name = ObjectName::from(parts);
        self.run_in_transaction(move |session, slot, _| {
            Box::pin(async move {
                let catalog = session.prepare_context(slot.get()?)?;
                let def = session.resolve_table(&catalog, &name)?;
                session.before_write(&def, WriteOp::Insert)?;
                let mut batches = batches;
                let mut written = 0u64;
                while let Some(batch) = batches.next().await {
                    let batch = batch?;
                    if batch.num_rows() == 0 {
                        continue;
                    }
                    let names = batch.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>();
                    let targets = target_columns(&def, names.into_iter())?;
                    let n = batch.num_rows();
                    let filled = session.missing_columns(&def, &targets, n).await?;
                    let columns = assemble_columns(&def, &targets, batch.columns(), filled)?;
                    let table = def.id;
                    slot.blocking(move |t| t.insert_columns(table, columns, n)).await??;
                    written += n as u64;
                }
                Ok(StatementResult::affected(Verb::Insert, written))
            })
        })
        .await
    }
}

/// `CREATE TABLE` for an Arrow schema: each field becomes the SQL column type
/// that holds it (22023 for a type no column type holds).
pub fn create_table_sql(schema: Option<&str>, table: &str, arrow: &Schema) -> Result<String> {
    let mut columns = Vec::with_capacity(arrow.fields().len());
    for field in arrow.fields() {
        let ty = sql_type_of(field.data_type()).ok_or_else(|| {
            EngineError::sql(
                SqlState::InvalidParameterValue,
                format!("column \"{}\" has Arrow type {}, which no SQL type holds", field.name(), field.data_type()),
            )
        })?;
        let null = if field.is_nullable() { "" } else { " NOT NULL" };
        columns.push(format!("{} {ty}{null}", quote(field.name())));
    }
    let name = match schema {
        Some(s) => format!("{}.{}", quote(s), quote(table)),
        None => quote(table),
    };
    Ok(format!("CREATE TABLE {name} ({})", columns.join(", ")))
}

/// The SQL type whose column holds values of an Arrow type.
fn sql_type_of(dt: &DataType) -> Option<String> {
    Some(match dt {
        DataType::Boolean => "BOOLEAN".into(),
        DataType::Int8 | DataType::Int16 | DataType::UInt8 => "SMALLINT".into(),
        DataType::Int32 | DataType::UInt16 => "INTEGER".into(),
        DataType::Int64 | DataType::UInt32 => "BIGINT".into(),
        DataType::UInt64 => "NUMERIC(20,0)".into(),
        DataType::Float16 | DataType::Float32 => "REAL".into(),
        DataType::Float64 => "DOUBLE PRECISION".into(),
        DataType::Decimal128(p, s) if *s >= 0 => format!("NUMERIC({p},{s})"),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "TEXT".into(),
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView | DataType::FixedSizeBinary(_) => {
            "BYTEA".into()
        }
        DataType::Date32 | DataType::Date64 => "DATE".into(),
        DataType::Timestamp(_, None) => "TIMESTAMP".into(),
        DataType::Timestamp(_, Some(_)) => "TIMESTAMPTZ".into(),
        DataType::Dictionary(_, value) => return sql_type_of(value),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{Field, TimeUnit};

    #[test]
    fn arrow_schemas_become_tables() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("Name", DataType::LargeUtf8, true),
            Field::new("at", DataType::Timestamp(TimeUnit::Nanosecond, None), true),
            Field::new("price", DataType::Decimal128(10, 2), true),
        ]);
        assert_eq!(
            create_table_sql(None, "t", &schema).unwrap(),
            "CREATE TABLE t (id BIGINT NOT NULL, \"Name\" TEXT, at TIMESTAMP, price NUMERIC(10,2))"
        );
        let odd = Schema::new(vec![Field::new("l", DataType::new_list(DataType::Int32, true), true)]);
        assert_eq!(create_table_sql(None, "t", &odd).unwrap_err().sqlstate(), "22023");
    }
}
