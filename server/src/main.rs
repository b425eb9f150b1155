//! The `rustydb` binary: composition root for the shell (and, later, the
//! network front ends).

mod format;
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match cli.command {
        Command::Sql { data, command, file } => runtime.block_on(shell::run(data, command, file)),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rustydb: {e:#}");
            ExitCode::FAILURE
        }
    }
}
