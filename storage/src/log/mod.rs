//! The log: how a commit becomes durable and how it is read back.
//!
//! ```text
//! Redo (write set or ops) ──encode (record.rs, codec.rs)──► record body
//!   ──CommitLog (commit_log.rs)──► WalWriter: frame, group commit, fsync (wal.rs)
//!   ──► subscribers; at restart recovery reads the frames back (recovery.rs)
//! ```
//!
//! Nothing here knows tables or snapshots beyond the redo it encodes.

pub(crate) mod codec;
pub(crate) mod commit_log;
pub(crate) mod record;
pub mod wal;
