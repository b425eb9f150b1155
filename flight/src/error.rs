//! The one place engine errors become gRPC statuses.

use rustydb_engine::EngineError;
use tonic::Status;

/// Maps an engine error to a gRPC code by its SQLSTATE; the message keeps
/// the SQLSTATE so clients can act on it. Internal errors are logged with
/// their detail and reach the client without it.
pub fn to_status(e: EngineError) -> Status {
    let state = e.sqlstate().to_owned();
    let message = format!("{e} (SQLSTATE {state})");
    let code = |class: &str| state.starts_with(class);
    match state.as_str() {
        "42501" => Status::permission_denied(message),
        "42P01" | "42704" | "42883" | "3D000" | "3F000" | "34000" | "26000" => Status::not_found(message),
        "42P07" | "42710" | "42P06" | "23505" => Status::already_exists(message),
        "40001" | "40P01" => Status::aborted(message),
        "57014" => Status::cancelled(message),
        "0A000" => Status::unimplemented(message),
        "XX000" => {
            tracing::error!(error = %e, "internal error answered over Flight SQL");
            Status::internal(format!("internal error (SQLSTATE {state})"))
        }
        _ if code("28") => Status::unauthenticated(message),
        _ if code("53") || code("54") => Status::resource_exhausted(message),
        _ if code("23") || code("25") || code("55") => Status::failed_precondition(message),
        _ if code("XX") || code("58") => {
            tracing::error!(error = %e, "internal error answered over Flight SQL");
            Status::internal(format!("internal error (SQLSTATE {state})"))
        }
        _ => Status::invalid_argument(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::Code;

    #[test]
    fn sqlstates_pick_grpc_codes() {
        let cases = [
            ("42P01", Code::NotFound),
            ("23505", Code::AlreadyExists),
            ("23502", Code::FailedPrecondition),
            ("40001", Code::Aborted),
            ("42601", Code::InvalidArgument),
            ("22003", Code::InvalidArgument),
            ("42501", Code::PermissionDenied),
            ("28P01", Code::Unauthenticated),
            ("53200", Code::ResourceExhausted),
        ];
        for (state, code) in cases {
            let status = to_status(EngineError::sql(state, "boom"));
            assert_eq!(status.code(), code, "{state}");
            assert!(status.message().contains(state), "{}", status.message());
        }
        let internal = to_status(EngineError::internal("secret detail"));
        assert_eq!(internal.code(), Code::Internal);
        assert!(!internal.message().contains("secret"), "{}", internal.message());
    }
}
