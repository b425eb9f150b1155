//! Error kinds, sorted by what the caller must do about them.
//!
//! Every library crate has its own `thiserror` enum; each variant carries a
//! [`SqlState`](crate::SqlState), and the kind is read from that code's row in
//! the one table (`sqlstate.rs`). Each front end maps a kind to its protocol in
//! exactly one function (the PostgreSQL front end sends the SQLSTATE itself).

/// What kind of failure an error is, independent of which layer raised it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The request itself is wrong: fix the input and try again.
    InvalidInput,
    /// A named object does not exist.
    NotFound,
    /// A named object or key already exists.
    AlreadyExists,
    /// A concurrent transaction won a conflict; retrying may succeed.
    Serialization,
    /// The target refuses writes.
    ReadOnly,
    /// The transaction was aborted (deadlock victim, failed block).
    Aborted,
    /// The statement was cancelled (by the client, or its timeout).
    Cancelled,
    /// Who is asking could not be established: log in again.
    Unauthenticated,
    /// The user lacks a privilege the statement needs.
    PermissionDenied,
    /// A limit was hit (memory, sizes, connections, lock wait).
    ResourceExhausted,
    /// Valid request the system does not do (yet).
    Unsupported,
    /// Stored data failed a check; do not trust it.
    Corruption,
    /// The operating system failed an I/O request.
    Io,
    /// A bug: an invariant did not hold.
    Internal,
}

impl ErrorKind {
    /// Whether retrying the same request later can succeed without changes.
    pub const fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Serialization | ErrorKind::Aborted | ErrorKind::ResourceExhausted)
    }
}
