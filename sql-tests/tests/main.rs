//! Runs every `.slt` file under `sql-tests/slt/` in-process, each against a
//! fresh database, and then over the wire. The in-process run keeps no
//! segment columns in memory (a segment cache of 0 bytes), so every read of
//! a checkpointed row goes to its Parquet file; the wire run has the
//! default cache. `cargo test -p rustydb-sql-tests -- <filter>` runs the
//! files whose path contains the filter.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rustydb_engine::api::{Database, DatabaseOptions};
use rustydb_sql_tests::EngineDb;
use rustydb_sql_tests::wire::{Server, WireDb};

fn slt_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            slt_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "slt") {
            out.push(path);
        }
    }
}

async fn run_file(path: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let mut options = DatabaseOptions::default();
    options.storage.segment_cache_bytes = 0;
    let db = Database::open_with(dir.path(), options)?;
    let mut runner = sqllogictest::Runner::new(move || {
        let db = db.clone();
        async move { Ok(EngineDb::new(&db)) }
    });
    runner.run_file_async(path).await?;
    Ok(())
}

/// The same file against a fresh server, over the PostgreSQL protocol.
async fn run_file_over_wire(path: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = Database::open(dir.path())?;
    let server = Server::start(db).await?;
    let addr = server.addr;
    let mut runner = sqllogictest::Runner::new(move || async move {
        WireDb::connect(addr).await.map_err(rustydb_sql_tests::wire::WireError)
    });
    runner.run_file_async(path).await?;
    drop(server);
    Ok(())
}

fn main() -> ExitCode {
    let filter: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files = Vec::new();
    slt_files(&root, &mut files);
    files.sort();
    files.retain(|f| filter.as_ref().is_none_or(|p| f.to_string_lossy().contains(p.as_str())));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("tokio runtime");
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        let name = file.strip_prefix(&root).unwrap_or(file).display().to_string();
        for (mode, result) in
            [("in-process", runtime.block_on(run_file(file))), ("wire", runtime.block_on(run_file_over_wire(file)))]
        {
            match result {
                Ok(()) => {
                    passed += 1;
                    println!("ok     {name} ({mode})");
                }
                Err(e) => {
                    failed += 1;
                    println!("FAILED {name} ({mode})\n{e}\n");
                }
            }
        }
    }
    println!("sqllogictest: {passed} passed, {failed} failed");
    if failed > 0 || files.is_empty() { ExitCode::FAILURE } else { ExitCode::SUCCESS }
}
