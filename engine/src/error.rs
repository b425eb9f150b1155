//! The engine's error type: every failure a client can cause carries a
//! [`SqlState`] condition, found once here for errors from every layer; its
//! kind and retry hint come from the condition's row in the one table
//! (`rustydb_common::SqlState`).
//!
//! DataFusion wraps our errors as `DataFusionError::External` when they pass
//! through its traits; [`EngineError::from`] for `DataFusionError` digs out
//! the root so a unique violation raised deep in a scan still reads 23505.

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use rustydb_catalog::CatalogError;
use rustydb_common::{ErrorKind, SqlState};
use rustydb_storage::StorageError;

/// Result with [`EngineError`].
pub type Result<T, E = EngineError> = std::result::Result<T, E>;

/// An error with its SQLSTATE condition and message, as a client sees it.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{message}")]
    Sql { code: SqlState, message: String },
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// An error with where it happened, as PostgreSQL's CONTEXT field
    /// (e.g. `COPY t, line 3, column a`).
    #[error("{source}")]
    Context { source: Box<EngineError>, context: String },
}

impl EngineError {
    /// An error with an explicit SQLSTATE condition.
    pub fn sql(code: SqlState, message: impl Into<String>) -> Self {
        EngineError::Sql { code, message: message.into() }
    }
    /// 0A000 feature_not_supported.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::sql(SqlState::FeatureNotSupported, message)
    }
    /// 42601 syntax_error.
    pub fn syntax(message: impl Into<String>) -> Self {
        Self::sql(SqlState::SyntaxError, message)
    }
    /// 25P02: the transaction block failed earlier and awaits ROLLBACK.
    pub fn in_failed_transaction() -> Self {
        Self::sql(
            SqlState::InFailedSqlTransaction,
            "current transaction is aborted, commands ignored until end of transaction block",
        )
    }
    /// XX000 internal_error.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::sql(SqlState::InternalError, message)
    }

    /// Adds where the error happened.
    pub fn with_context(self, context: impl Into<String>) -> Self {
        EngineError::Context { source: Box::new(self), context: context.into() }
    }

    /// Where the error happened, as PostgreSQL's CONTEXT field.
    pub fn context(&self) -> Option<&str> {
        match self {
            EngineError::Context { context, .. } => Some(context),
            _ => None,
        }
    }

    /// The SQLSTATE condition, from which kind and retry hint follow.
    pub fn code(&self) -> SqlState {
        match self {
            EngineError::Context { source, .. } => source.code(),
            EngineError::Sql { code, .. } => *code,
            EngineError::Storage(e) => e.code(),
            EngineError::Catalog(e) => e.code(),
        }
    }

    /// The PostgreSQL SQLSTATE (five characters).
    pub fn sqlstate(&self) -> &'static str {
        self.code().code()
    }

    /// The kind, which every front end but PostgreSQL's maps to its protocol.
    pub fn kind(&self) -> ErrorKind {
        self.code().kind()
    }

    /// Whether the client may retry the same request (its transaction) as is.
    pub fn retryable(&self) -> bool {
        self.code().retryable()
    }

    /// Extra detail (e.g. the duplicate key), as PostgreSQL's DETAIL field.
    pub fn detail(&self) -> Option<&str> {
        match self {
            EngineError::Storage(StorageError::UniqueViolation { detail, .. })
            | EngineError::Catalog(CatalogError::Storage(StorageError::UniqueViolation { detail, .. })) => Some(detail),
            EngineError::Context { source, .. } => source.detail(),
            _ => None,
        }
    }

    /// Wraps this error for returning through DataFusion traits.
    pub fn into_datafusion(self) -> DataFusionError {
        DataFusionError::External(Box::new(self))
    }
}

impl From<DataFusionError> for EngineError {
    fn from(e: DataFusionError) -> Self {
        match e {
            DataFusionError::External(inner) => external(inner),
            DataFusionError::Context(_, inner) => (*inner).into(),
            DataFusionError::Shared(inner) => match std::sync::Arc::try_unwrap(inner) {
                Ok(inner) => inner.into(),
                Err(shared) => shared_error(&shared),
            },
            DataFusionError::ArrowError(inner, _) => arrow_error(*inner),
            DataFusionError::Diagnostic(_, inner) => (*inner).into(),
            DataFusionError::SQL(inner, _) => EngineError::syntax(inner.to_string()),
            DataFusionError::NotImplemented(m) => EngineError::unsupported(m),
            DataFusionError::SchemaError(inner, _) => schema_error(&inner.to_string()),
            DataFusionError::Plan(m) => plan_error(m),
            DataFusionError::Execution(m) => execution_error(m),
            DataFusionError::ResourcesExhausted(m) => EngineError::sql(SqlState::OutOfMemory, m),
            DataFusionError::IoError(io) => EngineError::sql(SqlState::IoError, io.to_string()),
            other => {
                let message = other.to_string();
                if let Some(mapped) = by_message(&message) {
                    return mapped;
                }
                EngineError::sql(SqlState::InternalError, message)
            }
        }
    }
}

/// An error DataFusion still shares between partitions (a hash join's
/// build side fails once for all of them), so it can only be read: its
/// SQLSTATE by what it wraps, its message as it is.
fn shared_error(e: &DataFusionError) -> EngineError {
    match e {
        DataFusionError::ResourcesExhausted(m) => EngineError::sql(SqlState::OutOfMemory, m.clone()),
        DataFusionError::Context(_, inner) | DataFusionError::Diagnostic(_, inner) => shared_error(inner),
        DataFusionError::Shared(inner) => shared_error(inner),
        other => {
            let message = other.to_string();
            by_message(&message).unwrap_or_else(|| EngineError::sql(SqlState::InternalError, message))
        }
    }
}

fn external(inner: Box<dyn std::error::Error + Send + Sync>) -> EngineError {
    let inner = match inner.downcast::<EngineError>() {
        Ok(e) => return *e,
        Err(other) => other,
    };
    let inner = match inner.downcast::<StorageError>() {
        Ok(e) => return EngineError::Storage(*e),
        Err(other) => other,
    };
    let inner = match inner.downcast::<CatalogError>() {
        Ok(e) => return EngineError::Catalog(*e),
        Err(other) => other,
    };
    let inner = match inner.downcast::<DataFusionError>() {
        Ok(e) => return (*e).into(),
        Err(other) => other,
    };
    match inner.downcast::<ArrowError>() {
        Ok(e) => arrow_error(*e),
        Err(other) => EngineError::sql(SqlState::InternalError, other.to_string()),
    }
}

/// Arrow kernels raise division by zero, overflow and cast failures.
pub(crate) fn arrow_error(e: ArrowError) -> EngineError {
    match e {
        ArrowError::DivideByZero => EngineError::sql(SqlState::DivisionByZero, "division by zero"),
        ArrowError::ArithmeticOverflow(m) => {
            EngineError::sql(SqlState::NumericValueOutOfRange, format!("value out of range: {m}"))
        }
        ArrowError::CastError(m) | ArrowError::ParseError(m) => cast_error(m),
        ArrowError::ExternalError(inner) => external(inner),
        ArrowError::InvalidArgumentError(m) if m.contains("too large") || m.to_lowercase().contains("overflow") => {
            EngineError::sql(SqlState::NumericValueOutOfRange, format!("value out of range: {m}"))
        }
        other => EngineError::sql(SqlState::InternalError, other.to_string()),
    }
}

fn cast_error(m: String) -> EngineError {
    let lower = m.to_lowercase();
    if lower.contains("overflow")
        || lower.contains("out of range")
        || lower.contains("too large")
        || lower.contains("can't cast value")
    {
        EngineError::sql(SqlState::NumericValueOutOfRange, format!("value out of range: {m}"))
    } else {
        EngineError::sql(SqlState::InvalidTextRepresentation, format!("invalid input syntax: {m}"))
    }
}

fn schema_error(m: &str) -> EngineError {
    if m.contains("No field named") || m.contains("not found") {
        EngineError::sql(SqlState::UndefinedColumn, m.replace("Schema error: ", ""))
    } else if m.contains("Ambiguous reference") {
        EngineError::sql(SqlState::AmbiguousColumn, m.replace("Schema error: ", ""))
    } else {
        EngineError::sql(SqlState::UndefinedTable, m.replace("Schema error: ", ""))
    }
}

fn plan_error(m: String) -> EngineError {
    if let Some(e) = by_message(&m) {
        return e;
    }
    if m.contains("table") && m.contains("not found") {
        return undefined_table(&m);
    }
    if m.contains("Invalid function") || m.contains("No function matches") {
        return EngineError::sql(SqlState::UndefinedFunction, m);
    }
    EngineError::sql(SqlState::SyntaxError, m)
}

fn execution_error(m: String) -> EngineError {
    by_message(&m).unwrap_or_else(|| EngineError::sql(SqlState::InternalError, m))
}

/// Errors that DataFusion reports only as text.
fn by_message(m: &str) -> Option<EngineError> {
    let lower = m.to_lowercase();
    if lower.contains("no field named") {
        return Some(EngineError::sql(SqlState::UndefinedColumn, m.replace("Schema error: ", "")));
    }
    if lower.contains("divide by zero") || lower.contains("division by zero") {
        return Some(EngineError::sql(SqlState::DivisionByZero, "division by zero"));
    }
    if lower.contains("overflow") {
        return Some(EngineError::sql(SqlState::NumericValueOutOfRange, format!("value out of range: {m}")));
    }
    if lower.contains("cannot cast") || lower.contains("can't cast") || lower.contains("cast error") {
        return Some(cast_error(m.to_owned()));
    }
    if lower.contains("table") && lower.contains("not found") {
        return Some(undefined_table(m));
    }
    None
}

/// PostgreSQL's wording for a missing relation: `relation "t" does not exist`.
fn undefined_table(m: &str) -> EngineError {
    let name = m.split('\'').nth(1).and_then(|q| q.rsplit('.').next()).unwrap_or(m);
    EngineError::sql(SqlState::UndefinedTable, format!("relation \"{name}\" does not exist"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_error_is_found_through_datafusion_wrapping() {
        let e = DataFusionError::Context(
            "ctx".into(),
            Box::new(DataFusionError::External(Box::new(StorageError::UniqueViolation {
                constraint: "t_pkey".into(),
                detail: String::new(),
            }))),
        );
        assert_eq!(EngineError::from(e).sqlstate(), "23505");
        let e = DataFusionError::ArrowError(Box::new(ArrowError::DivideByZero), None);
        assert_eq!(EngineError::from(e).sqlstate(), "22012");
        let e = DataFusionError::Plan("table 'rustydb.public.nope' not found".into());
        assert_eq!(EngineError::from(e).to_string(), "relation \"nope\" does not exist");
    }

    /// A hash join's build-side error reaches each partition shared; while
    /// another partition still holds it, it keeps its SQLSTATE.
    #[test]
    fn an_error_still_shared_keeps_its_sqlstate() {
        let inner = std::sync::Arc::new(DataFusionError::Context(
            "build side".into(),
            Box::new(DataFusionError::ResourcesExhausted("pool full".into())),
        ));
        let held_elsewhere = inner.clone();
        let e = EngineError::from(DataFusionError::Shared(inner));
        assert_eq!(e.sqlstate(), "53200", "{e}");
        drop(held_elsewhere);
        let e =
            DataFusionError::Shared(std::sync::Arc::new(DataFusionError::Plan("table 'x.y.nope' not found".into())));
        let held_elsewhere = match &e {
            DataFusionError::Shared(a) => a.clone(),
            _ => unreachable!(),
        };
        assert_eq!(EngineError::from(e).to_string(), "relation \"nope\" does not exist");
        drop(held_elsewhere);
    }
}
