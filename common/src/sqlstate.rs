//! SQLSTATE codes: the one table that names every error condition RustyDB
//! reports and says which [`ErrorKind`] each is.
//!
//! Every layer picks a [`SqlState`] where it raises an error; the kind (and
//! whether a retry can help) is read from this table, never chosen again at
//! a call site or by a front end. PostgreSQL clients see the five-character
//! code; Flight SQL, REST and GraphQL map the kind. The names are
//! PostgreSQL's condition names (`errcodes.txt`) in Rust case, so
//! `SqlState::UniqueViolation` is `unique_violation`, 23505.
//!
//! A code missing here cannot be raised: add its row, with the kind that
//! tells a caller what to do about it.

use crate::ErrorKind;

macro_rules! sqlstates {
    ($($(#[$doc:meta])* $name:ident = $code:literal => $kind:ident;)*) => {
        /// A SQLSTATE condition with its code and kind.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum SqlState {
            $($(#[$doc])* $name,)*
        }

        impl SqlState {
            /// Every condition in the table, in table order.
            pub const ALL: &'static [SqlState] = &[$(SqlState::$name,)*];

            /// The five-character SQLSTATE.
            pub const fn code(self) -> &'static str {
                match self {
                    $(SqlState::$name => $code,)*
                }
            }

            /// What kind of failure the condition is.
            pub const fn kind(self) -> ErrorKind {
                match self {
                    $(SqlState::$name => ErrorKind::$kind,)*
                }
            }

            /// The condition with this code, if the table has it.
            pub fn from_code(code: &str) -> Option<SqlState> {
                match code {
                    $($code => Some(SqlState::$name),)*
                    _ => None,
                }
            }
        }
    };
}

sqlstates! {
    // Class 08: connection exception.
    /// A message broke the protocol (wrong parameter count, a COPY in progress).
    ProtocolViolation = "08P01" => InvalidInput;
    // Class 0A.
    /// Valid SQL the server does not do (yet); never accepted and ignored.
    FeatureNotSupported = "0A000" => Unsupported;
    // Class 21-22: data exceptions.
    /// A subquery used as a value returned more than one row.
    CardinalityViolation = "21000" => InvalidInput;
    StringDataRightTruncation = "22001" => InvalidInput;
    NumericValueOutOfRange = "22003" => InvalidInput;
    DivisionByZero = "22012" => InvalidInput;
    CharacterNotInRepertoire = "22021" => InvalidInput;
    InvalidParameterValue = "22023" => InvalidInput;
    InvalidTextRepresentation = "22P02" => InvalidInput;
    InvalidBinaryRepresentation = "22P03" => InvalidInput;
    BadCopyFileFormat = "22P04" => InvalidInput;
    // Class 23: integrity constraints. A violated constraint is the input's
    // fault, except a duplicate key, which names something that exists.
    NotNullViolation = "23502" => InvalidInput;
    UniqueViolation = "23505" => AlreadyExists;
    // Class 25: invalid transaction state.
    /// `SET TRANSACTION` after the block's first query, and the like.
    ActiveSqlTransaction = "25001" => InvalidInput;
    /// A statement that needs a transaction block outside one.
    NoActiveSqlTransaction = "25P01" => InvalidInput;
    /// The block failed earlier: only ROLLBACK ends it, so the transaction
    /// (not the statement) is what a client retries.
    InFailedSqlTransaction = "25P02" => Aborted;
    // Class 26, 28, 2B, 34, 3B, 3D, 3F.
    InvalidSqlStatementName = "26000" => NotFound;
    InvalidAuthorizationSpecification = "28000" => Unauthenticated;
    InvalidPassword = "28P01" => Unauthenticated;
    DependentObjectsStillExist = "2BP01" => InvalidInput;
    InvalidCursorName = "34000" => NotFound;
    InvalidSavepointSpecification = "3B001" => NotFound;
    InvalidCatalogName = "3D000" => NotFound;
    InvalidSchemaName = "3F000" => NotFound;
    // Class 40: transaction rollback; the transaction may succeed if retried.
    SerializationFailure = "40001" => Serialization;
    DeadlockDetected = "40P01" => Aborted;
    // Class 42: syntax error or access rule violation.
    SyntaxError = "42601" => InvalidInput;
    InsufficientPrivilege = "42501" => PermissionDenied;
    InvalidName = "42602" => InvalidInput;
    NameTooLong = "42622" => InvalidInput;
    AmbiguousColumn = "42702" => InvalidInput;
    UndefinedColumn = "42703" => NotFound;
    UndefinedObject = "42704" => NotFound;
    DuplicateColumn = "42701" => AlreadyExists;
    DatatypeMismatch = "42804" => InvalidInput;
    UndefinedFunction = "42883" => NotFound;
    /// A GENERATED ALWAYS column given a value.
    GeneratedAlways = "428C9" => InvalidInput;
    ReservedName = "42939" => InvalidInput;
    UndefinedTable = "42P01" => NotFound;
    DuplicateCursor = "42P03" => AlreadyExists;
    DuplicatePreparedStatement = "42P05" => AlreadyExists;
    DuplicateSchema = "42P06" => AlreadyExists;
    DuplicateTable = "42P07" => AlreadyExists;
    InvalidColumnReference = "42P10" => InvalidInput;
    InvalidTableDefinition = "42P16" => InvalidInput;
    DuplicateObject = "42710" => AlreadyExists;
    // Class 53: insufficient resources; waiting for others to finish helps.
    OutOfMemory = "53200" => ResourceExhausted;
    TooManyConnections = "53300" => ResourceExhausted;
    // Class 54: program limit exceeded. The request is too big for a limit,
    // so it fails the same way however often it is sent.
    ProgramLimitExceeded = "54000" => InvalidInput;
    TooManyColumns = "54011" => InvalidInput;
    // Class 55: object not in prerequisite state.
    ObjectNotInPrerequisiteState = "55000" => InvalidInput;
    /// The object is in use by another session; retrying later can succeed.
    ObjectInUse = "55006" => ResourceExhausted;
    CantChangeRuntimeParam = "55P02" => InvalidInput;
    /// A lock wait ran past lock_timeout.
    LockNotAvailable = "55P03" => ResourceExhausted;
    // Class 57: operator intervention.
    /// Cancelled by the client or by statement_timeout.
    QueryCanceled = "57014" => Cancelled;
    /// The server is shutting down; another server (or this one, later)
    /// can take the request.
    AdminShutdown = "57P01" => Aborted;
    // Class 58: system error.
    IoError = "58030" => Io;
    // Class 72: snapshot failure.
    /// The versions a flashback read needs are older than those kept.
    SnapshotTooOld = "72000" => NotFound;
    // Class XX: internal error.
    InternalError = "XX000" => Internal;
    DataCorrupted = "XX001" => Corruption;
}

impl SqlState {
    /// Whether the same request sent again can succeed without changes
    /// (the transaction retried, after a conflict, a deadlock, a lock wait
    /// or a shortage of memory or connections).
    pub const fn retryable(self) -> bool {
        self.kind().is_retryable()
    }
}

impl std::fmt::Display for SqlState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Lets tests and callers compare with the code as PostgreSQL prints it.
impl PartialEq<&str> for SqlState {
    fn eq(&self, other: &&str) -> bool {
        self.code() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for s in SqlState::ALL {
            let code = s.code();
            assert_eq!(code.len(), 5, "{s:?}");
            assert!(code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()), "{s:?}");
            assert!(seen.insert(code), "{code} twice");
            assert_eq!(SqlState::from_code(code), Some(*s));
        }
        assert_eq!(SqlState::from_code("99999"), None);
    }

    /// The classes PostgreSQL defines as retryable are, and a size limit
    /// (class 54) is not: sending the same statement again fails again.
    #[test]
    fn retry_follows_the_class() {
        for s in SqlState::ALL {
            let class = &s.code()[..2];
            let expected = matches!(class, "40" | "53")
                || *s == SqlState::LockNotAvailable
                || *s == SqlState::ObjectInUse
                || *s == SqlState::InFailedSqlTransaction
                || *s == SqlState::AdminShutdown;
            assert_eq!(s.retryable(), expected, "{s:?}");
        }
    }
}
