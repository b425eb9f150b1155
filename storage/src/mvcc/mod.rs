//! Multi-version concurrency control: transactions and their write sets,
//! row and table locks, and the snapshots readers hold.
//!
//! ```text
//! Transaction ──writes──► WriteSet ──commit──► log + row store   (transaction.rs)
//!      │ row/table locks, deadlock detection                      (locks.rs)
//!      └ snapshot = SCN, pinned while read; horizon; SCN ↔ time   (snapshot.rs)
//! ```

pub(crate) mod locks;
pub(crate) mod snapshot;
pub(crate) mod transaction;
