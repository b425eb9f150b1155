//! Identifiers: newtypes so a table id cannot be passed where a row id belongs.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Commit sequence number: orders all commits. A snapshot reads at one SCN and
/// sees exactly the commits with an SCN at or below it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scn(pub u64);

impl Scn {
    /// Before the first commit; nothing is visible at it.
    pub const ZERO: Scn = Scn(0);
    /// "Not ended": the end SCN of a row version that is still current.
    pub const MAX: Scn = Scn(u64::MAX);

    /// The SCN after this one.
    pub fn next(self) -> Scn {
        Scn(self.0.checked_add(1).expect("scn space is 2^64 commits; never exhausted"))
    }
}

impl fmt::Display for Scn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A table in storage; never reused, also after DROP.
    TableId
);
id_type!(
    /// An index of a table; unique within the database.
    IndexId
);
id_type!(
    /// A logical row within one table. Every version of the row shares it.
    RowId
);
id_type!(
    /// A transaction, unique within one process lifetime (not persisted).
    TxnId
);
