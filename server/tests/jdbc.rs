//! PgJDBC (Debian's libpostgresql-jdbc-java, installed with a Java runtime
//! by scripts/install-test-deps.sh) against `rustydb serve`: the program in
//! tests/java runs as a single-file Java source and exits non-zero on the
//! first failed check.

use std::process::Command;

use crate::server::Server;

/// Where Debian installs the driver; `RUSTYDB_PGJDBC_JAR` points elsewhere.
fn driver_jar() -> String {
    std::env::var("RUSTYDB_PGJDBC_JAR").unwrap_or_else(|_| "/usr/share/java/postgresql.jar".to_owned())
}

#[test]
fn pgjdbc_prepared_batches_transactions_and_database_metadata() {
    let server = Server::start_with_password(Some("jdbc-secret"));
    let program = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/java/JdbcClient.java");
    let out = Command::new("java")
        .arg("-cp")
        .arg(driver_jar())
        .arg(&program)
        .arg(server.port.to_string())
        .env("PGPASSWORD", "jdbc-secret")
        .output()
        .expect("java is installed by scripts/install-test-deps.sh");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "JdbcClient failed:\n{text}");
    assert!(text.contains("jdbc: ok"), "{text}");
}
