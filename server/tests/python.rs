//! Python drivers against `rustydb serve` (installed by
//! scripts/install-test-deps.sh): each script exits non-zero on the first
//! failed check and prints what it saw.

use std::process::Command;

use crate::server::Server;

/// Runs a client script against a server with a superuser password, so the
/// drivers authenticate with SCRAM-SHA-256 (libpq reads PGPASSWORD).
fn run_script(script: &str) {
    let server = Server::start_with_password(Some("py-secret"));
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let out = Command::new("python3")
        .arg(&path)
        .arg(server.port.to_string())
        .arg(server.flight_port.to_string())
        .env("PGPASSWORD", "py-secret")
        .output()
        .expect("python3 is installed by scripts/install-test-deps.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{script} failed:\n{text}");
    assert!(text.contains(": ok"), "{text}");
}

#[test]
fn psycopg_types_transactions_prepared_fetchmany_and_copy() {
    run_script("psycopg_client.py");
}

#[test]
fn asyncpg_binary_types_prepared_transactions_and_binary_copy() {
    run_script("asyncpg_client.py");
}

#[test]
fn sqlalchemy_orm_round_trip_and_column_reflection() {
    run_script("sqlalchemy_client.py");
}

#[test]
fn adbc_flight_sql_queries_ingests_browses_and_meets_postgres_clients() {
    run_script("adbc_client.py");
}
