//! RustyDB storage: the write-ahead log, the MVCC row store, columnar
//! segments in Parquet, and the background work between them (checkpoint,
//! compaction, merging). Arrow yes, DataFusion never (checked in CI).
//!
//! ```text
//! Transaction ──writes──► WriteSet ──commit──► CommitLog (WAL) ──fsync──► publish
//!      │                                          │ (replay at open: recovery.rs)
//!      │                                          ▼
//!      │                                    row store (TableStore: versions, indexes)
//!      │                                          │ checkpoint: freeze into segments
//!      │                                          ▼
//!      │                                    segments (Parquet + delete vectors,
//!      │                                    compacted and merged; MANIFEST)
//!      └──view()──► ReadView ──scan/lookup──► row store and segments alike
//! ```
//!
//! The folders, one idea each:
//!
//! ```text
//! log/         WAL format and writer, redo records, the CommitLog seam
//! mvcc/        transactions, write sets, locks, snapshots and the horizon
//! rowstore/    the hot store: TableStore, indexes, memory budget, rows ↔ Arrow
//! segment/     the cold store: segments, their files, cache and store, bulk loads
//! scan/        ReadView: scans and lookups
//! background/  checkpoint, compaction, merge, manifest
//! storage.rs   Storage: begin, commit, publish   recovery.rs  open
//! layout.rs    data-directory names             io.rs        the Vfs seam
//! ```
//!
//! Start at [`Storage::open`] (recovery) and [`Transaction`] (the write rules).

mod background;
mod error;
pub mod io;
mod layout;
mod log;
mod mvcc;
mod recovery;
mod rowstore;
mod scan;
mod segment;
mod spec;
mod storage;
mod value;

pub use background::compaction::CompactionStats;
pub use background::merge::MergeStats;
pub use error::{Result, StorageError};
pub use log::commit_log::{CommitLog, CommitStream, CommittedRecord, QueueLimits};
pub use log::record::{RedoOp, decode_ops, encode_ops};
pub use log::wal;
pub use mvcc::transaction::{Arbiter, InsertOutcome, Isolation, Savepoint, Transaction, WriteOutcome};
pub use rowstore::batch;
pub use rowstore::memory::ROW_STORE_BYTES_DEFAULT;
pub use scan::view::{Chunk, ColumnEstimate, KeyRange, PlannedSegments, ReadView, ScanCursor, ScanPart, SegmentClaims};
pub use segment::bulk::{BULK_SEGMENT_ROWS_MIN, RowBatch};
pub use segment::cache::{CacheStats, SEGMENT_CACHE_BYTES_DEFAULT};
pub use segment::store::{DirSegments, ObjectSegments, SegmentStore};
pub use segment::{ZoneFilter, zone_mapped};
pub use spec::{ColumnSource, ColumnSpec, IndexSpec, TableSpec};
pub use storage::{FIRST_OBJECT_ID, MemoryRecount, Storage, StorageOptions};
pub use value::{ColumnType, Decimal128, Row, Value};
