//! The `rustydb` binary: composition root for the shell and the network
//! front ends (PostgreSQL protocol, Arrow Flight SQL).

/// mimalloc rather than the system allocator: glibc's per-thread arenas
/// keep freed memory, so the process outgrew its `--memory-mb` by more
/// than what it was using (TPC-H load and queries, docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod config;
use rustydb_server::{pgwire, shell};

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
        /// max_connections, tls_cert, tls_key, user, memory_mb,
        /// query_memory_mb, segment_cache_mb, row_store_mb, query_threads,
        /// segment_store, flashback_retention_minutes); flags and RUSTYDB_*
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
        #[arg(long, env = "RUSTYDB_USER", default_value = rustydb_engine::api::BOOTSTRAP_USER)]
        user: String,
        /// Password of that superuser. Once any role has a password, every
        /// client authenticates with SCRAM-SHA-256.
        #[arg(long, env = "RUSTYDB_PASSWORD", hide_env_values = true)]
        password: Option<String>,
        /// Memory the server works in (MiB): by default half for queries,
        /// a quarter each for the segment cache and the row store; the
        /// three options below set a part, and together may not pass it.
        #[arg(long, env = "RUSTYDB_MEMORY_MB", default_value_t = 8192)]
        memory_mb: usize,
        /// Memory all running queries share (MiB); past it, sorts and
        /// aggregates spill to disk and other queries fail with 53200.
        #[arg(long, env = "RUSTYDB_QUERY_MEMORY_MB")]
        query_memory_mb: Option<usize>,
        /// Memory for index entries and per-row segment metadata, and for
        /// decoded columns of stored segments in the room they leave (MiB);
        /// colder columns are read back from their Parquet files when a
        /// query needs them.
        #[arg(long, env = "RUSTYDB_SEGMENT_CACHE_MB")]
        segment_cache_mb: Option<usize>,
        /// Memory for committed rows not yet checkpointed into segments
        /// (MiB): a checkpoint starts at half, commits wait for it past the
        /// whole, and one transaction may hold no more (53200 beyond).
        /// Compaction and merging build their segments within the half
        /// below where checkpoints start.
        #[arg(long, env = "RUSTYDB_ROW_STORE_MB")]
        row_store_mb: Option<usize>,
        /// Threads that run query plans, and the partitions each plan is
        /// split into (default: twice the cores, so that analytic queries
        /// keep most of the machine beside a write load; the number of
        /// cores favours the writes instead).
        #[arg(long, env = "RUSTYDB_QUERY_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
        query_threads: Option<u16>,
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
            memory_mb,
            query_memory_mb,
            segment_cache_mb,
            row_store_mb,
            query_threads,
            segment_store,
            flashback_retention_minutes,
        } => {
            let superuser = password.map(|p| (user, p));
            let tls = tls_cert.zip(tls_key).map(|(cert, key)| pgwire::TlsFiles { cert, key });
            let pg = pgwire::PgOptions { listen: pg_listen, max_connections };
            let budget = match MemoryBudget::split(memory_mb, query_memory_mb, segment_cache_mb, row_store_mb) {
                Ok(budget) => budget,
                Err(e) => {
                    eprintln!("rustydb: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let mut options = rustydb_engine::api::DatabaseOptions {
                query_memory_bytes: budget.query_mb.saturating_mul(1 << 20),
                ..Default::default()
            };
            if let Some(threads) = query_threads {
                options.query_threads = usize::from(threads);
            }
            options.storage.segment_cache_bytes = budget.segment_cache_mb.saturating_mul(1 << 20);
            options.storage.row_store_bytes = budget.row_store_mb.saturating_mul(1 << 20);
            if let Some(url) = segment_store {
                match rustydb_engine::api::ObjectSegments::from_url(&url) {
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

/// The server's memory in its three parts (MiB).
#[derive(Debug, PartialEq)]
struct MemoryBudget {
    query_mb: usize,
    segment_cache_mb: usize,
    row_store_mb: usize,
}

impl MemoryBudget {
    /// Splits `total`: parts given are taken as they are, the others get
    /// their share (half for queries, a quarter each for the segment cache
    /// and the row store) of what the given ones leave.
    fn split(total: usize, query: Option<usize>, cache: Option<usize>, rows: Option<usize>) -> anyhow::Result<Self> {
        let given = [query, cache, rows].iter().flatten().sum::<usize>();
        if given > total {
            anyhow::bail!(
                "--query-memory-mb, --segment-cache-mb and --row-store-mb add up to {given} MiB, more than \
                 --memory-mb {total}"
            );
        }
        let shares = [(query, 2), (cache, 1), (rows, 1)];
        let open: usize = shares.iter().filter(|(p, _)| p.is_none()).map(|(_, w)| w).sum();
        let part = |(p, w): (Option<usize>, usize)| p.unwrap_or_else(|| (total - given) * w / open.max(1));
        let budget = MemoryBudget {
            query_mb: part(shares[0]),
            segment_cache_mb: part(shares[1]),
            row_store_mb: part(shares[2]),
        };
        if budget.query_mb == 0 || budget.row_store_mb == 0 {
            anyhow::bail!("the memory budget leaves {budget:?}: queries and the row store need at least 1 MiB each");
        }
        Ok(budget)
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
    options: rustydb_engine::api::DatabaseOptions,
    pg: pgwire::PgOptions,
    flight: Option<std::net::SocketAddr>,
    tls_files: Option<pgwire::TlsFiles>,
    superuser: Option<(String, String)>,
) -> anyhow::Result<ExitCode> {
    use anyhow::Context;
    if pg.max_connections == 0 {
        anyhow::bail!("--max-connections must be at least 1");
    }
    // Without a certificate an SSLRequest is answered 'N' and clients that
    // require TLS stop there.
    let tls = tls_files.as_ref().map(pgwire::tls_acceptor).transpose()?;
    let db = rustydb_engine::api::Database::open_with(&data, options)
        .with_context(|| format!("opening the database in {}", data.display()))?;
    if let Some((user, password)) = superuser
        && db.ensure_superuser(&user, &password).context("creating the superuser")?
    {
        eprintln!("created superuser \"{user}\"");
    }
    // Without any password every loopback client is trusted; that must
    // never be reachable from another machine.
    for listen in std::iter::once(pg.listen).chain(flight) {
        db.check_listen(listen)?;
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
    db.flush().context("flushing the WAL at shutdown")?;
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

#[cfg(test)]
mod tests {
    use super::MemoryBudget;

    #[test]
    fn the_memory_budget_splits_into_its_parts() {
        let b = MemoryBudget::split(8192, None, None, None).unwrap();
        assert_eq!(b, MemoryBudget { query_mb: 4096, segment_cache_mb: 2048, row_store_mb: 2048 });
        // A part given is taken; the others share what it leaves.
        let b = MemoryBudget::split(8192, None, Some(0), None).unwrap();
        assert_eq!(b, MemoryBudget { query_mb: 5461, segment_cache_mb: 0, row_store_mb: 2730 });
        let b = MemoryBudget::split(1000, Some(100), Some(200), Some(300)).unwrap();
        assert_eq!(b, MemoryBudget { query_mb: 100, segment_cache_mb: 200, row_store_mb: 300 });
    }

    #[test]
    fn parts_past_the_total_are_refused() {
        let e = MemoryBudget::split(1000, Some(600), Some(600), None).unwrap_err().to_string();
        assert!(e.contains("1200 MiB") && e.contains("--memory-mb 1000"), "{e}");
        let e = MemoryBudget::split(1000, Some(1000), None, None).unwrap_err().to_string();
        assert!(e.contains("row store"), "{e}");
    }
}
