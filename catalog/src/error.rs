//! Catalog errors.

use rustydb_common::{ErrorKind, SqlState};
use rustydb_storage::StorageError;

/// Result with [`CatalogError`].
pub type Result<T, E = CatalogError> = std::result::Result<T, E>;

/// Everything the catalog can fail with.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("relation \"{0}\" already exists")]
    DuplicateTable(String),
    #[error("schema \"{0}\" already exists")]
    DuplicateSchema(String),
    #[error("relation \"{0}\" does not exist")]
    UndefinedTable(String),
    #[error("schema \"{0}\" does not exist")]
    UndefinedSchema(String),
    #[error("role \"{0}\" already exists")]
    DuplicateRole(String),
    #[error("role \"{0}\" does not exist")]
    UndefinedRole(String),
    #[error("cannot drop schema {0} because other objects depend on it")]
    DependentObjects(String),
    #[error("corrupt catalog entry {0}")]
    Corrupt(String),
}

impl CatalogError {
    /// The SQLSTATE condition; the kind is read from it.
    pub fn code(&self) -> SqlState {
        match self {
            CatalogError::Storage(e) => e.code(),
            CatalogError::DuplicateTable(_) => SqlState::DuplicateTable,
            CatalogError::DuplicateSchema(_) => SqlState::DuplicateSchema,
            CatalogError::UndefinedTable(_) => SqlState::UndefinedTable,
            CatalogError::UndefinedSchema(_) => SqlState::InvalidSchemaName,
            CatalogError::DuplicateRole(_) => SqlState::DuplicateObject,
            CatalogError::UndefinedRole(_) => SqlState::UndefinedObject,
            CatalogError::DependentObjects(_) => SqlState::DependentObjectsStillExist,
            CatalogError::Corrupt(_) => SqlState::DataCorrupted,
        }
    }

    pub fn kind(&self) -> ErrorKind {
        self.code().kind()
    }

    pub fn sqlstate(&self) -> &'static str {
        self.code().code()
    }
}
