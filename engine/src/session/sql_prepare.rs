//! PREPARE name [(types)] AS statement, EXECUTE name [(values)] and
//! DEALLOCATE [PREPARE] name | ALL: prepared statements named in SQL, kept
//! by the session. They are the same [`Prepared`] as the protocol's, so an
//! EXECUTE of a point lookup or a single-row write takes the same fast path.
//!
//! PostgreSQL keeps these and the protocol's named statements in one
//! namespace; here the protocol's live in the front end's store, so a Bind
//! cannot name a statement made by PREPARE (nor EXECUTE a protocol one).

use std::collections::HashMap;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::sql::sqlparser::ast::{Expr, Ident, ObjectName, Statement};

use crate::api::StatementResult;
use crate::error::{EngineError, Result};
use crate::query::types::{arrow_type, declared_type};
use crate::session::Session;
use crate::session::prepared::Prepared;
use crate::sql::names::ident;
use rustydb_common::SqlState;

/// A session's statements prepared with SQL PREPARE, by name.
#[derive(Default)]
pub(crate) struct SqlPrepared(HashMap<String, Prepared>);

impl SqlPrepared {
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The result columns of the statement EXECUTE `name` runs.
    pub fn schema(&self, name: &ObjectName) -> Option<SchemaRef> {
        self.0.get(&statement_name(name)).and_then(|p| p.schema().cloned())
    }
}

impl Session {
    /// PREPARE name [(types)] AS statement.
    pub(crate) async fn sql_prepare(
        &mut self,
        name: &Ident,
        types: &[datafusion::sql::sqlparser::ast::DataType],
        statement: &Statement,
    ) -> Result<StatementResult> {
        let name = ident(name);
        if self.sql_prepared.0.contains_key(&name) {
            return Err(EngineError::sql(
                SqlState::DuplicatePreparedStatement,
                format!("prepared statement \"{name}\" already exists"),
            ));
        }
        let declared = types.iter().map(|t| Ok(Some(arrow_type(declared_type(t)?.ty)))).collect::<Result<Vec<_>>>()?;
        let prepared = self.prepare(&statement.to_string(), &declared).await?;
        self.sql_prepared.0.insert(name, prepared);
        Ok(StatementResult::command("PREPARE"))
    }

    /// EXECUTE name [(values)]: the values are constant expressions,
    /// evaluated once and cast to the statement's parameter types.
    pub(crate) async fn sql_execute(&mut self, name: &Option<ObjectName>, values: &[Expr]) -> Result<StatementResult> {
        let name = name.as_ref().map(statement_name).unwrap_or_default();
        let Some(prepared) = self.sql_prepared.0.get(&name).cloned() else {
            return Err(not_found(&name));
        };
        let params = self.constant_values(values).await?;
        // Boxed: execute_prepared may run the statement through
        // execute_statement, which is where EXECUTE came from.
        Box::pin(self.run_prepared(&prepared, params)).await
    }

    /// DEALLOCATE name / ALL of statements made by PREPARE; false when
    /// there is none by that name (the front end then looks in its own
    /// store of protocol-level statements).
    pub fn deallocate_sql(&mut self, name: &Ident) -> bool {
        if deallocates_all(name) {
            self.sql_prepared.clear();
            return true;
        }
        self.sql_prepared.0.remove(&ident(name)).is_some()
    }

    /// DEALLOCATE run by the engine itself (in-process sessions; the
    /// PostgreSQL front end also looks in its protocol-level store).
    pub(crate) fn sql_deallocate(&mut self, name: &Ident) -> Result<StatementResult> {
        match self.deallocate_sql(name) {
            true => Ok(StatementResult::command(if deallocates_all(name) { "DEALLOCATE ALL" } else { "DEALLOCATE" })),
            false => Err(not_found(&ident(name))),
        }
    }

    async fn constant_values(&mut self, values: &[Expr]) -> Result<Vec<ScalarValue>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let list: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let (_, batches) = self.run_sql(&format!("SELECT {}", list.join(", "))).await?;
        let batch = batches.iter().find(|b| b.num_rows() > 0).ok_or_else(|| EngineError::internal("no row"))?;
        batch.columns().iter().map(|c| Ok(ScalarValue::try_from_array(c, 0)?)).collect()
    }
}

/// Whether DEALLOCATE's name is the keyword ALL (not a quoted "all").
pub fn deallocates_all(name: &Ident) -> bool {
    name.quote_style.is_none() && name.value.eq_ignore_ascii_case("all")
}

fn statement_name(name: &ObjectName) -> String {
    name.0.last().and_then(|part| part.as_ident()).map(ident).unwrap_or_default()
}

fn not_found(name: &str) -> EngineError {
    EngineError::sql(SqlState::InvalidSqlStatementName, format!("prepared statement \"{name}\" does not exist"))
}
