//! RustyDB storage: the write-ahead log, the MVCC row store, transactions and
//! locks. Arrow yes, DataFusion never (checked in CI).
//!
//! ```text
//! Transaction ──writes──► WriteSet ──commit──► WAL record ──fsync──► publish
//!      │                                          │
//!      └──view()──► ReadView ──scan/lookup──► TableStore (versions, indexes)
//! ```
//!
//! Start at [`Storage::open`] (recovery) and [`Transaction`] (the write rules).

pub mod batch;
mod bulk;
mod checkpoint;
mod codec;
mod commit_log;
mod compaction;
mod error;
mod frozen_map;
mod index;
pub mod io;
mod layout;
mod locks;
mod manifest;
mod memory;
mod merge;
mod record;
mod recovery;
mod segment;
mod segment_cache;
mod segment_file;
mod segment_store;
mod snapshot;
mod spec;
mod store;
mod table;
mod txn;
mod value;
mod view;
pub mod wal;

pub use bulk::{BULK_SEGMENT_ROWS_MIN, RowBatch};
pub use commit_log::{CommitLog, CommitStream, CommittedRecord, QueueLimits};
pub use compaction::CompactionStats;
pub use error::{Result, StorageError};
pub use memory::ROW_STORE_BYTES_DEFAULT;
pub use merge::MergeStats;
pub use record::{RedoOp, decode_ops, encode_ops};
pub use segment::{ZoneFilter, zone_mapped};
pub use segment_cache::{CacheStats, SEGMENT_CACHE_BYTES_DEFAULT};
pub use segment_store::{DirSegments, ObjectSegments, SegmentStore};
pub use spec::{ColumnSource, ColumnSpec, IndexSpec, TableSpec};
pub use store::{FIRST_OBJECT_ID, MemoryRecount, Storage, StorageOptions};
pub use txn::{Arbiter, InsertOutcome, Isolation, ReadView, Savepoint, Transaction, WriteOutcome};
pub use value::{ColumnType, Decimal128, Row, Value};
pub use view::{Chunk, ColumnEstimate, KeyRange, PlannedSegments, ScanCursor, ScanPart, SegmentClaims};
