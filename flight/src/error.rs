//! The one place engine errors become gRPC statuses: by the error's kind,
//! read from the SQLSTATE table every layer shares.

use rustydb_engine::api::{EngineError, ErrorKind};
use tonic::Status;

/// Maps an engine error to a gRPC code by its kind; the message keeps the
/// SQLSTATE so clients can act on it. Internal errors are logged with their
/// detail and reach the client without it.
pub fn to_status(e: EngineError) -> Status {
    let state = e.sqlstate();
    let message = format!("{e} (SQLSTATE {state})");
    match e.kind() {
        ErrorKind::InvalidInput => Status::invalid_argument(message),
        ErrorKind::NotFound => Status::not_found(message),
        ErrorKind::AlreadyExists => Status::already_exists(message),
        ErrorKind::Serialization | ErrorKind::Aborted => Status::aborted(message),
        ErrorKind::Cancelled => Status::cancelled(message),
        ErrorKind::Unauthenticated => Status::unauthenticated(message),
        ErrorKind::PermissionDenied => Status::permission_denied(message),
        ErrorKind::ReadOnly => Status::failed_precondition(message),
        ErrorKind::ResourceExhausted => Status::resource_exhausted(message),
        ErrorKind::Unsupported => Status::unimplemented(message),
        ErrorKind::Corruption | ErrorKind::Io | ErrorKind::Internal => {
            tracing::error!(error = %e, "internal error answered over Flight SQL");
            Status::internal(format!("internal error (SQLSTATE {state})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustydb_engine::api::SqlState;
    use tonic::Code;

    #[test]
    fn sqlstates_pick_grpc_codes() {
        let cases = [
            ("42P01", Code::NotFound),
            ("23505", Code::AlreadyExists),
            ("23502", Code::InvalidArgument),
            ("40001", Code::Aborted),
            ("40P01", Code::Aborted),
            ("25P02", Code::Aborted),
            ("55P03", Code::ResourceExhausted),
            ("57014", Code::Cancelled),
            ("42601", Code::InvalidArgument),
            ("22003", Code::InvalidArgument),
            ("42501", Code::PermissionDenied),
            ("28P01", Code::Unauthenticated),
            ("53200", Code::ResourceExhausted),
        ];
        for (state, code) in cases {
            let sqlstate = SqlState::from_code(state).expect("in the table");
            let status = to_status(EngineError::sql(sqlstate, "boom"));
            assert_eq!(status.code(), code, "{state}");
            assert!(status.message().contains(state), "{}", status.message());
        }
        let internal = to_status(EngineError::internal("secret detail"));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("secret"), "{}", internal.message());
    }
}
