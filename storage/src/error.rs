//! Storage errors. Each variant names what went wrong and maps to one kind.

use rustydb_common::{ErrorKind, RowId, Scn, TableId};

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
    /// The kind that decides how callers react.
    pub fn kind(&self) -> ErrorKind {
        match self {
            StorageError::Io { .. } => ErrorKind::Io,
            StorageError::Poisoned(_) => ErrorKind::Io,
            StorageError::Corruption(_) => ErrorKind::Corruption,
            StorageError::NoSuchTable(_) => ErrorKind::NotFound,
            StorageError::UniqueViolation { .. } => ErrorKind::AlreadyExists,
            StorageError::NotNullViolation { .. } => ErrorKind::InvalidInput,
            StorageError::SerializationFailure | StorageError::RowChanged { .. } => ErrorKind::Serialization,
            StorageError::Deadlock => ErrorKind::Aborted,
            StorageError::LockTimeout | StorageError::WouldBlock => ErrorKind::ResourceExhausted,
            StorageError::SnapshotTooOld(_) => ErrorKind::NotFound,
            StorageError::LogTruncated { .. } => ErrorKind::NotFound,
            StorageError::LogClosed => ErrorKind::Aborted,
            StorageError::InvalidInput(_) => ErrorKind::InvalidInput,
            StorageError::LimitExceeded(_) | StorageError::OutOfMemory(_) => ErrorKind::ResourceExhausted,
            StorageError::Unsupported(_) => ErrorKind::Unsupported,
            StorageError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The PostgreSQL SQLSTATE for this error.
    pub fn sqlstate(&self) -> &'static str {
        match self {
            StorageError::Io { .. } | StorageError::Poisoned(_) => "58030",
            StorageError::Corruption(_) => "XX001",
            StorageError::NoSuchTable(_) => "42P01",
            StorageError::UniqueViolation { .. } => "23505",
            StorageError::NotNullViolation { .. } => "23502",
            StorageError::SerializationFailure | StorageError::RowChanged { .. } => "40001",
            StorageError::Deadlock => "40P01",
            StorageError::LockTimeout | StorageError::WouldBlock => "55P03",
            // PostgreSQL's snapshot_too_old (old_snapshot_threshold).
            StorageError::SnapshotTooOld(_) => "72000",
            // object_not_in_prerequisite_state: a healthy log that has
            // moved past the request. (PostgreSQL's walsender reports a
            // removed segment as a file error, 58P01, which reads as an
            // I/O fault.)
            StorageError::LogTruncated { .. } => "55000",
            // admin_shutdown, as a walsender ends when the server stops.
            StorageError::LogClosed => "57P01",
            StorageError::InvalidInput(_) => "22023",
            StorageError::LimitExceeded(_) => "54000",
            StorageError::OutOfMemory(_) => "53200",
            StorageError::Unsupported(_) => "0A000",
            StorageError::Internal(_) => "XX000",
        }
    }

    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        StorageError::Io { context: context.into(), source }
    }
}
