//! The `rustydb` binary: composition root for the shell (and, later, the
//! network front ends).

mod config;
mod format;
use rustydb_server::pgwire;
mod shell;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rustydb", version, about = "RustyDB: an HTAP SQL database on DataFusion and Arrow")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Interactive SQL shell on a data directory (embedded, no server).
    Sql {
        /// Data directory (created if missing).
        #[arg(long, env = "RUSTYDB_DATA", default_value = "rustydb-data")]
        data: PathBuf,
        /// Run these statements and exit.
        #[arg(short = 'c', long = "command")]
        command: Option<String>,
        /// Run the statements of this file and exit; stops at the first error.
        #[arg(short = 'f', long = "file")]
        file: Option<PathBuf>,
    },
    /// Run the server: PostgreSQL protocol on --pg-listen, Flight SQL on --flight-listen.
    Serve {
        /// TOML file of these settings (keys: data, pg_listen, flight_listen,
        /// max_connections, tls_cert, tls_key, user, query_memory_mb,
        /// flashback_retention_minutes); flags and RUSTYDB_*
        /// variables win over it.
        #[arg(long, env = "RUSTYDB_CONFIG")]
        config: Option<PathBuf>,
        /// Data directory (created if missing).
        #[arg(long, env = "RUSTYDB_DATA", default_value = "rustydb-data")]
        data: PathBuf,
        /// Address for the PostgreSQL protocol.
        #[arg(long, env = "RUSTYDB_PG_LISTEN", default_value = "127.0.0.1:5432")]
        pg_listen: std::net::SocketAddr,
        /// Address for Arrow Flight SQL (gRPC), or `off`.
        #[arg(long, env = "RUSTYDB_FLIGHT_LISTEN", default_value = "127.0.0.1:50051", value_parser = parse_listen)]
        flight_listen: Listen,
        /// Most client connections at once.
        #[arg(long, env = "RUSTYDB_MAX_CONNECTIONS", default_value_t = 100)]
        max_connections: usize,
        /// TLS certificate chain (PEM); with --tls-key, clients may use SSL.
        #[arg(long, env = "RUSTYDB_TLS_CERT", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// TLS private key (PEM).
        #[arg(long, env = "RUSTYDB_TLS_KEY", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Superuser created on first start (with RUSTYDB_PASSWORD).
        #[arg(long, env = "RUSTYDB_USER", default_value = rustydb_engine::BOOTSTRAP_USER)]
        user: String,
        /// Password of that superuser. Once any role has a password, every
        /// client authenticates with SCRAM-SHA-256.
        #[arg(long, env = "RUSTYDB_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Memory all running queries share (MiB); past it, sorts and
        /// aggregates spill to disk and other queries fail with 53200.
        #[arg(long, env = "RUSTYDB_QUERY_MEMORY_MB", default_value_t = rustydb_engine::QUERY_MEMORY_BYTES_DEFAULT >> 20)]
        query_memory_mb: usize,
        /// Memory for decoded columns of stored segments (MiB); colder
        /// ones are read back from their Parquet files when a query needs
        /// them.
        #[arg(long, env = "RUSTYDB_SEGMENT_CACHE_MB", default_value_t = rustydb_engine::SEGMENT_CACHE_BYTES_DEFAULT >> 20)]
        segment_cache_mb: usize,
        /// Where checkpoints put segment files: `s3://bucket/prefix` for an
        /// S3-compatible store (credentials, region and endpoint from the
        /// AWS_* variables); by default `segments/` in the data directory.
        /// The log and the manifest stay in the data directory.
        #[arg(long, env = "RUSTYDB_SEGMENT_STORE")]
        segment_store: Option<String>,
        /// How long ended row versions are kept (minutes) before compaction
        /// may drop them: the reach of old snapshots and, later, of
        /// flashback queries.
        #[arg(long, env = "RUSTYDB_FLASHBACK_RETENTION_MINUTES", default_value_t = 15)]
        flashback_retention_minutes: u64,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = match config::with_file_settings(std::env::args_os().collect()) {
        Ok(args) => args,
        Err(e) => {
            eprintln!("rustydb: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Sql { data, command, file } => runtime.block_on(shell::run(data, command, file)),
        Command::Serve {
            config: _,
            data,
            pg_listen,
            flight_listen,
            max_connections,
            tls_cert,
            tls_key,
            user,
            password,
            query_memory_mb,
            segment_cache_mb,
            segment_store,
            flashback_retention_minutes,
        } => {
            let superuser = password.map(|p| (user, p));
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| pgwire::TlsFiles { cert, key });
            let pg = pgwire::PgOptions { listen: pg_listen, max_connections };
            let mut options = rustydb_engine::DatabaseOptions {
                query_memory_bytes: query_memory_mb.saturating_mul(1 << 20),
                ..Default::default()
            };
            options.storage.segment_cache_bytes = segment_cache_mb.saturating_mul(1 << 20);
            if let Some(url) = segment_store {
                match rustydb_engine::ObjectSegments::from_url(&url) {
                    Ok(store) => options.storage.segment_store = Some(std::sync::Arc::new(store)),
                    Err(e) => {
                        eprintln!("rustydb: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            }
            options.storage.flashback_retention =
                std::time::Duration::from_secs(flashback_retention_minutes.saturating_mul(60));
            runtime.block_on(serve(data, options, pg, flight_listen.0, tls, superuser))
        }
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rustydb: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// A listen address, or none (`off`).
#[derive(Clone, Debug)]
struct Listen(Option<std::net::SocketAddr>);

fn parse_listen(text: &str) -> Result<Listen, String> {
    if text.eq_ignore_ascii_case("off") {
        return Ok(Listen(None));
    }
    text.parse().map(|a| Listen(Some(a))).map_err(|e| format!("{e} (an address such as 127.0.0.1:50051, or off)"))
}

/// Runs the server until SIGINT or SIGTERM.
async fn serve(
    data: PathBuf,
    options: rustydb_engine::DatabaseOptions,
    pg: pgwire::PgOptions,
    flight: Option<std::net::SocketAddr>,
    tls_files: Option<pgwire::TlsFiles>,
    superuser: Option<(String, String)>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    if pg.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    if options.query_memory_bytes == 0 {
        anyhow::bail!("--query-memory-mb must be at least 1");
    }
    // Without a certificate an SSLRequest is answered 'N' and clients that
    // require TLS stop there.
    let tls = tls_files.as_ref().map(pgwire::tls_acceptor).transpose()?;
    let db = rustydb_engine::Database::open_with(&data, options)
        .with_context(|| format!("opening the database in {}", data.display()))?;
    if let Some((user, password)) = superuser
        && db.ensure_superuser(&user, &password).context("creating the superuser")?
    {
        eprintln!("created superuser \"{user}\"");
    }
    // Without any password every loopback client is trusted; that must
    // never be reachable from another machine.
    for listen in std::iter::once(pg.listen).chain(flight) {
        if !listen.ip().is_loopback() && !db.password_required()? {
            anyhow::bail!(
                "refusing to listen on {listen}: no role has a password, so clients are not authenticated. Set \
                 RUSTYDB_PASSWORD (and RUSTYDB_USER) to create a superuser, or listen on 127.0.0.1"
            );
        }
    }
    let (listener, addr) = pgwire::bind(&pg).await?;
    println!(
        "RustyDB {} listening for PostgreSQL clients on {addr} (data in {})",
        env!("CARGO_PKG_VERSION"),
        data.display()
    );
    // One shutdown signal stops both front ends.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let when_stopped = move || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let flight = match flight {
        None => None,
        Some(listen) => {
            let listener = tokio::net::TcpListener::bind(listen)
                .await
                .with_context(|| format!("listening for Flight SQL on {listen}"))?;
            let addr = listener.local_addr()?;
            // The same certificate as the PostgreSQL front end's.
            let tls = match &tls_files {
                None => None,
                Some(files) => Some(rustydb_flight::FlightTls {
                    cert_pem: std::fs::read(&files.cert)
                        .with_context(|| format!("reading {}", files.cert.display()))?,
                    key_pem: std::fs::read(&files.key).with_context(|| format!("reading {}", files.key.display()))?,
                }),
            };
            let scheme = if tls.is_some() { "grpc+tls" } else { "grpc" };
            println!("RustyDB listening for Arrow Flight SQL clients on {scheme}://{addr}");
            Some(tokio::spawn(rustydb_flight::serve(db.clone(), listener, tls, when_stopped())))
        }
    };
    let pg_stopped = when_stopped();
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop.send(true);
    });
    pgwire::serve(db.clone(), listener, pg.max_connections, tls, pg_stopped).await;
    if let Some(flight) = flight {
        match flight.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("rustydb: Flight SQL stopped with an error: {e}"),
            Err(e) => eprintln!("rustydb: Flight SQL task failed: {e}"),
        }
    }
    db.storage().flush().context("flushing the WAL at shutdown")?;
    println!("RustyDB stopped");
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
