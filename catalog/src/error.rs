//! Catalog errors.

use rustydb_common::ErrorKind;
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
    pub fn kind(&self) -> ErrorKind {
        match self {
            CatalogError::Storage(e) => e.kind(),
            CatalogError::DuplicateTable(_) | CatalogError::DuplicateSchema(_) | CatalogError::DuplicateRole(_) => {
                ErrorKind::AlreadyExists
            }
            CatalogError::UndefinedTable(_) | CatalogError::UndefinedSchema(_) | CatalogError::UndefinedRole(_) => {
                ErrorKind::NotFound
            }
            CatalogError::DependentObjects(_) => ErrorKind::InvalidInput,
            CatalogError::Corrupt(_) => ErrorKind::Corruption,
        }
    }

    pub fn sqlstate(&self) -> &'static str {
        match self {
            CatalogError::Storage(e) => e.sqlstate(),
            CatalogError::DuplicateTable(_) => "42P07",
            CatalogError::DuplicateSchema(_) => "42P06",
            CatalogError::UndefinedTable(_) => "42P01",
            CatalogError::UndefinedSchema(_) => "3F000",
            CatalogError::DuplicateRole(_) => "42710",
            CatalogError::UndefinedRole(_) => "42704",
            CatalogError::DependentObjects(_) => "2BP01",
            CatalogError::Corrupt(_) => "XX001",
        }
    }
}
