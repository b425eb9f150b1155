//! `Database`: one open database, shared by all its sessions: storage, the
//! catalog cache, the query runtime and memory pool, and the extensions.

use std::sync::Arc;

use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use rustydb_catalog::{CatalogCache, CatalogSnapshot, bootstrap};
use rustydb_storage::{Isolation, Storage, StorageOptions};

use crate::error::Result;
use crate::extension::{Extension, Extensions};
use crate::pg::catalog::PgCatalogTables;
use crate::query::runtime::QueryRuntime;
use crate::session::Session;

/// One open database: storage, catalog cache, shared by all sessions.
pub struct Database {
    pub(crate) storage: Arc<Storage>,
    pub(crate) catalog: CatalogCache,
    pub(crate) pg_tables: PgCatalogTables,
    /// DataFusion's runtime with the memory pool every query draws from.
    pub(crate) runtime: Arc<RuntimeEnv>,
    /// The threads query plans run on (query/runtime.rs).
    pub(crate) queries: QueryRuntime,
    /// What each sort holds back for merging its spilled runs.
    pub(crate) sort_spill_reserve: usize,
    /// Functions, rules and table hooks every session gets.
    pub(crate) extensions: Extensions,
}

/// How to open a database.
#[derive(Clone)]
pub struct DatabaseOptions {
    pub storage: StorageOptions,
    /// Memory all running queries share for their operators (sorts, hash
    /// tables, aggregates). Past it, operators that can spill to disk do;
    /// the others fail the query with SQLSTATE 53200, never the process.
    pub query_memory_bytes: usize,
    /// Threads that run query plans, and the partitions each plan is split
    /// into (DataFusion's `target_partitions`; a session may still set its
    /// own). At least 1; see [`default_query_threads`].
    pub query_threads: usize,
    /// Feature families registered into every session (see `extension.rs`).
    pub extensions: Vec<Arc<dyn Extension>>,
}

/// Default of [`DatabaseOptions::query_memory_bytes`].
pub const QUERY_MEMORY_BYTES_DEFAULT: usize = 4 << 30;

/// Default of [`DatabaseOptions::query_threads`]: twice the cores.
///
/// The operating system shares the cores among runnable threads, and a
/// transaction's threads wake for every statement and commit. With one
/// query thread per core, each wake-up takes its core from the query: on
/// two cores pgbench's TPC-B beside q1 + q6 made them 1.28-1.41 times
/// slower than idle. With two per core the query keeps more of the
/// machine (1.15-1.26 times) and the writer less (it keeps a third to a
/// half of its rate instead of two thirds); idle TPC-H took the same time
/// (docs/benchmarks.md, "HTAP: analytic latency under writes").
pub fn default_query_threads() -> usize {
    2 * std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            storage: StorageOptions::default(),
            query_memory_bytes: QUERY_MEMORY_BYTES_DEFAULT,
            query_threads: default_query_threads(),
            extensions: Vec::new(),
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Database")
    }
}

impl Database {
    /// Changes with every committed DDL: the SCN of the catalog's last write.
    pub(crate) fn catalog_version(&self) -> Result<rustydb_common::Scn> {
        Ok(self.storage.table_last_write(rustydb_catalog::CATALOG_TABLE)?)
    }

    /// Opens (creating if needed) the database in `dir`, replaying its log.
    pub fn open(dir: &std::path::Path) -> Result<Arc<Database>> {
        Self::open_with(dir, DatabaseOptions::default())
    }

    /// Opens with explicit options (memory, fault injection in tests).
    pub fn open_with(dir: &std::path::Path, options: DatabaseOptions) -> Result<Arc<Database>> {
        use datafusion::execution::memory_pool::{FairSpillPool, TrackConsumersPool};
        let pool = TrackConsumersPool::new(
            FairSpillPool::new(options.query_memory_bytes),
            std::num::NonZeroUsize::new(3).expect("3 is not zero"),
        );
        let runtime = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(pool)).build_arc()?;
        let storage = Storage::open(dir, options.storage)?;
        bootstrap(&storage)?;
        let pg_tables = PgCatalogTables::load()?;
        let queries = QueryRuntime::new(options.query_threads)?;
        // DataFusion holds 10 MiB per sort partition for merging spills:
        // in a small pool two sorts' reserves leave nothing to sort with.
        let sort_spill_reserve = (options.query_memory_bytes / 32).clamp(64 << 10, 10 << 20);
        Ok(Arc::new(Database {
            storage,
            catalog: CatalogCache::default(),
            pg_tables,
            runtime,
            queries,
            sort_spill_reserve,
            extensions: Extensions::new(options.extensions),
        }))
    }

    /// A new session.
    pub fn session(self: &Arc<Self>) -> Session {
        Session::new(self.clone())
    }

    /// The catalog as of now (outside any transaction).
    pub(crate) fn latest_catalog(&self) -> Result<Arc<CatalogSnapshot>> {
        let mut txn = self.storage.begin(Isolation::ReadCommitted);
        txn.begin_statement();
        Ok(self.catalog.get(&txn.view())?)
    }

    /// A durable id for a catalog object without storage (schema, role).
    pub(crate) fn next_object_id(&self) -> Result<u64> {
        let id =
            self.storage.next_sequence_value(rustydb_catalog::OBJECT_ID_SEQUENCE, rustydb_catalog::OBJECT_ID_START)?;
        Ok(id as u64)
    }

    /// What the segment cache holds and did.
    pub fn cache_stats(&self) -> rustydb_storage::CacheStats {
        self.storage().cache_stats()
    }

    /// Makes every acknowledged commit durable (at shutdown: commits with
    /// `synchronous_commit = off` may still be in the log's buffer).
    pub fn flush(&self) -> Result<()> {
        Ok(self.storage.flush()?)
    }

    /// The storage under this database, for benchmarks and tests that
    /// drive checkpoints and compaction directly. Front ends never use it
    /// (`scripts/test.sh` checks): what they need is on this type and on
    /// [`Session`].
    pub fn storage(&self) -> &Arc<Storage> {
        &self.storage
    }
}
