//! Background work on the columnar side, and the manifest that records it.
//!
//! ```text
//! checkpoint.rs  row store ──► segments, delete vectors, MANIFEST; log cut
//! compaction.rs  drop versions below the horizon (mvcc/snapshot.rs)
//! merge.rs       merge small segments
//! manifest.rs    the MANIFEST format
//! ```

pub(crate) mod checkpoint;
pub(crate) mod compaction;
pub(crate) mod manifest;
pub(crate) mod merge;
