//! The names of everything in a data directory, in one place, so the
//! writer of a file (checkpoint, WAL, compaction) and its reader
//! (recovery, the log subscription) cannot drift apart.
//!
//! ```text
//! <dir>/
//!   MANIFEST                       the last checkpoint (background/manifest.rs)
//!   MANIFEST.tmp                   a checkpoint being installed
//!   wal/<first scn, 20 digits>.wal log files; the name is the first SCN
//!                                  the file may hold, so names sort in
//!                                  log order and recovery can skip a file
//!                                  by its successor's name alone
//!   segments/t<table>-<id, 12 digits>.parquet        a segment
//!   segments/t<table>-<id>.<checkpoint scn>.dv       its delete vector
//! ```
//!
//! The segment names are relative to the segment store (`segments/` above
//! by default, an object store bucket otherwise). None of these names may
//! change without a format version: recovery finds files by them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustydb_common::{Scn, TableId};

use crate::error::{Result, StorageError};
use crate::io::Vfs;

/// Directory of the log files, under the data directory.
pub(crate) const WAL_DIR: &str = "wal";

/// Directory of segment and delete vector files, under the data directory.
pub const SEGMENT_DIR: &str = "segments";

/// The installed manifest, under the data directory.
pub(crate) const MANIFEST_FILE: &str = "MANIFEST";

/// A manifest being written, renamed over [`MANIFEST_FILE`] once synced.
pub(crate) const MANIFEST_TMP_FILE: &str = "MANIFEST.tmp";

/// Extension of a log file.
const WAL_EXTENSION: &str = "wal";

/// The WAL file whose first record is `scn`.
pub fn wal_file_name(scn: Scn) -> String {
    format!("{:020}.{WAL_EXTENSION}", scn.0)
}

/// The first SCN a WAL file may hold, from its name.
pub(crate) fn first_scn(path: &Path) -> Option<Scn> {
    path.file_stem()?.to_str()?.parse().ok().map(Scn)
}

/// Whether `path` names a log file (the directory may hold others).
pub(crate) fn is_wal_file(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == WAL_EXTENSION)
}

/// The log directory of the data directory `dir`.
pub(crate) fn wal_dir(dir: &Path) -> PathBuf {
    dir.join(WAL_DIR)
}

/// The name of segment `id` of `table` in the segment store.
pub(crate) fn segment_file_name(table: TableId, id: u64) -> String {
    format!("t{table}-{id:012}.parquet")
}

/// The name of the delete vector a checkpoint at `scn` writes for the
/// segment stored as `segment_file`.
pub(crate) fn dv_file_name(segment_file: &str, scn: Scn) -> String {
    format!("{}.{scn}.dv", segment_file.trim_end_matches(".parquet"))
}

/// The log files in `wal_dir`, in log order (names sort by first SCN).
pub(crate) fn wal_files(vfs: &Arc<dyn Vfs>, wal_dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = vfs
        .list(wal_dir)
        .map_err(|e| StorageError::io("listing the WAL directory", e))?
        .into_iter()
        .filter(|p| is_wal_file(p))
        .collect();
    // `Vfs::list` sorts already; sorting again keeps log order a property
    // of this function and not of every Vfs.
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wal_names_sort_in_log_order_and_parse_back() {
        let names: Vec<String> = [Scn(9), Scn(10), Scn(1_000_000)].into_iter().map(wal_file_name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        assert_eq!(first_scn(Path::new(&names[1])), Some(Scn(10)));
        assert!(is_wal_file(Path::new(&names[0])));
        assert!(!is_wal_file(Path::new("x.tmp")));
    }

    #[test]
    fn a_delete_vector_is_named_after_its_segment_and_checkpoint() {
        let seg = segment_file_name(TableId(1001), 7);
        assert_eq!(seg, "t1001-000000000007.parquet");
        assert_eq!(dv_file_name(&seg, Scn(42)), "t1001-000000000007.42.dv");
    }
}
