//! Storage errors. Each variant names what went wrong and carries one
//! SQLSTATE condition, whose row in `rustydb_common::SqlState` gives its kind.

use rustydb_common::{ErrorKind, RowId, Scn, SqlState, TableId};

/// Result with [`StorageError`].
pub type Result<T, E = StorageError> = std::result::Result<T, E>;

/// Everything storage can fail with.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("i/o error while {context}: {source}")]
    Io { context: String, source: std::io::Error },
    #[error("storage is poisoned after a failed write or fsync ({0}); restart the server to recover from the log")]
    Poisoned(String),
    #[error("corrupt data: {0}")]
    Corruption(String),
    #[error("table {0} does not exist in storage")]
    NoSuchTable(TableId),
    #[error("duplicate key value violates unique constraint \"{constraint}\"")]
    UniqueViolation { constraint: String, detail: String },
    #[error("null value in column \"{column}\" violates not-null constraint")]
    NotNullViolation { column: String },
    #[error("could not serialize access due to concurrent update")]
    SerializationFailure,
    #[error("deadlock detected")]
    Deadlock,
    #[error("canceling statement due to lock timeout")]
    LockTimeout,
    /// A lock request that was not allowed to wait found the lock taken.
    #[error("could not obtain lock: another transaction holds it")]
    WouldBlock,
    #[error("row {row} of table {table} was changed concurrently")]
    RowChanged { table: TableId, row: RowId },
    /// A flashback time or SCN older than the versions kept: compaction
    /// may have dropped what it reads (`mvcc/snapshot.rs`).
    #[error("snapshot too old: {0}")]
    SnapshotTooOld(String),
    /// A log subscription asked for records the log no longer holds: a
    /// checkpoint covers them and removed their files (`log/commit_log.rs`).
    #[error("the log no longer holds scn {requested}: it starts at scn {oldest}; start from a checkpoint")]
    LogTruncated { requested: Scn, oldest: Scn },
    /// The log a subscription follows was closed with its storage.
    #[error("the commit log was closed")]
    LogClosed,
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    LimitExceeded(String),
    /// Past a memory budget (`rowstore/memory.rs`).
    #[error("{0}")]
    OutOfMemory(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl StorageError {
    /// The SQLSTATE condition; [`StorageError::kind`] is read from it.
    pub fn code(&self) -> SqlState {
        match self {
            StorageError::Io { .. } | StorageError::Poisoned(_) => SqlState::IoError,
            StorageError::Corruption(_) => SqlState::DataCorrupted,
            StorageError::NoSuchTable(_) => SqlState::UndefinedTable,
            StorageError::UniqueViolation { .. } => SqlState::UniqueViolation,
            StorageError::NotNullViolation { .. } => SqlState::NotNullViolation,
            StorageError::SerializationFailure | StorageError::RowChanged { .. } => SqlState::SerializationFailure,
            StorageError::Deadlock => SqlState::DeadlockDetected,
            StorageError::LockTimeout | StorageError::WouldBlock => SqlState::LockNotAvailable,
            StorageError::SnapshotTooOld(_) => SqlState::SnapshotTooOld,
            // A healthy log that has moved past the request (PostgreSQL's
            // walsender reports a removed segment as a file error, 58P01,
            // which reads as an I/O fault).
            StorageError::LogTruncated { .. } => SqlState::ObjectNotInPrerequisiteState,
            // As a walsender ends when the server stops.
            StorageError::LogClosed => SqlState::AdminShutdown,
            StorageError::InvalidInput(_) => SqlState::InvalidParameterValue,
            StorageError::LimitExceeded(_) => SqlState::ProgramLimitExceeded,
            StorageError::OutOfMemory(_) => SqlState::OutOfMemory,
            StorageError::Unsupported(_) => SqlState::FeatureNotSupported,
            StorageError::Internal(_) => SqlState::InternalError,
        }
    }

    /// The kind that decides how callers react.
    pub fn kind(&self) -> ErrorKind {
        self.code().kind()
    }

    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        self.code().code()
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io { context: context.into(), source }
    }
}
