//! Merging: a table's small segments become fewer, larger ones.
//!
//! Every checkpoint freezes what was committed since the one before into
//! segments of its own, so a table written a little at a time would gain a
//! small segment per checkpoint for ever: files, metadata and per-segment
//! work in every scan growing with the table's history.
//!
//! ```text
//! per table, while a run of adjacent small segments qualifies:
//!   [read lock]  copy the run's segments
//!                their versions in (row, begin) order, written   (no lock)
//!   [write lock] unless a source changed meanwhile: the merged segment
//!                at the run's first index, the others emptied; ends set
//!                meanwhile carried over; the replaced ones retired while
//!                scans that started before read them
//! ```
//!
//! A run qualifies when it has at least [`MERGE_FAN_IN`] segments with
//! rows, none of them holding more than the others together (the
//! size-ratio rule of size-tiered LSM compaction: a version is rewritten
//! about log4 of the table's segment count times, not at every merge), at
//! most [`SEGMENT_ROWS_MAX`] rows in all, and columns that fit in half the
//! room the row store's budget leaves for work in progress (`rowstore/memory.rs`).
//! Segments must be adjacent (empty ones between are passed over): a
//! row's versions are ordered by begin from one segment to the next, and
//! lookups rely on it.
//!
//! Building a merge holds its run's columns in memory, counted in the row
//! store's budget as work in progress; a run the room turns out too small
//! for after all (the estimate missed, other work took it) waits for a
//! later compaction.
//!
//! Every version is kept, so every snapshot reads the same rows before and
//! after (dropping dead ones is compaction's job). Emptied segments stay in
//! the table's list, as compaction's do, so indexes held outside the lock
//! stay valid; checkpoints leave them out of the manifest, and once there
//! are a few and no plan or scan holds a layout, compaction takes them out
//! of the list. Scans address
//! segments by index between chunks, so one that started before a merge
//! goes on reading the segments the merge replaced (`rowstore/table.rs`,
//! `LayoutPin`): a table scanned without a break still merges. As with
//! compaction, the merged file is named by the next checkpoint's
//! manifest; until then a restart reads the files of the segments it
//! merged, and the log.

use std::ops::Range;
use std::sync::Arc;

use arrow::array::{ArrayRef, UInt64Array};
use arrow::compute::{SortColumn, concat, lexsort_to_indices, take};
use rustydb_common::TableId;

use crate::error::{Result, StorageError};
use crate::rowstore::memory::WorkingMemory;
use crate::rowstore::memory::arrays_bytes;
use crate::segment::{SEGMENT_ROWS_MAX, Segment};
use crate::spec::TableSpec;
use crate::storage::Storage;

/// Fewest segments with rows a merge takes.
pub(crate) const MERGE_FAN_IN: usize = 4;

/// A segment larger than this is left as it is.
const MERGE_ROWS_MAX: usize = SEGMENT_ROWS_MAX / 2;

/// What the merge policy needs to know of one segment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MergeInput {
    pub rows: usize,
    /// Written to a file: an unwritten one (a bulk insert's, or remapped by
    /// ALTER TABLE) is counted in the row store's budget and written by
    /// the next checkpoint; it is not merged.
    pub written: bool,
    /// About what its columns take once read.
    pub bytes: usize,
}

/// The first run of segments worth merging (see the module docs) whose
/// columns take at most `bytes_max` once read.
pub(crate) fn merge_candidate(segments: &[MergeInput], bytes_max: usize) -> Option<Range<usize>> {
    let mergeable = |s: &MergeInput| s.rows == 0 || (s.written && s.rows <= MERGE_ROWS_MAX);
    for start in 0..segments.len() {
        if segments[start].rows == 0 || !mergeable(&segments[start]) {
            continue;
        }
        let (mut members, mut total, mut bytes, mut largest, mut best) = (0, 0, 0, 0, None);
        for (end, s) in segments.iter().enumerate().skip(start) {
            if !mergeable(s) || total + s.rows > SEGMENT_ROWS_MAX || bytes + s.bytes > bytes_max {
                break;
            }
            if s.rows == 0 {
                continue;
            }
            members += 1;
            total += s.rows;
            bytes += s.bytes;
            largest = largest.max(s.rows);
            if members >= MERGE_FAN_IN && largest <= total - largest {
                best = Some(start..end + 1);
            }
        }
        if best.is_some() {
            return best;
        }
    }
    None
}

/// The versions of `sources` in one segment, ordered by (row, begin), and
/// where each came from: (index in `sources`, position). `None` when
/// `work` cannot grow to what building it holds: the sources' columns,
/// then the merged ones replacing them a column at a time.
fn merged(spec: &TableSpec, sources: &[Arc<Segment>], work: &mut WorkingMemory) -> Result<Option<Merged>> {
    let concat_all = |arrays: Vec<ArrayRef>| -> Result<ArrayRef> {
        let refs: Vec<&dyn arrow::array::Array> = arrays.iter().map(|a| a.as_ref()).collect();
        concat(&refs).map_err(|e| StorageError::Internal(format!("merging segments: {e}")))
    };
    let row_ids = concat_all(sources.iter().map(|s| Arc::new(s.row_ids.clone()) as ArrayRef).collect())?;
    let begins = concat_all(sources.iter().map(|s| Arc::new(s.begins.clone()) as ArrayRef).collect())?;
    let order = lexsort_to_indices(
        &[SortColumn { values: row_ids.clone(), options: None }, SortColumn { values: begins.clone(), options: None }],
        None,
    )
    .map_err(|e| StorageError::Internal(format!("ordering merged versions: {e}")))?;
    let sorted = |a: &ArrayRef| {
        take(a.as_ref(), &order, None).map_err(|e| StorageError::Internal(format!("ordering merged versions: {e}")))
    };
    // Each source's columns, regrouped by column: room for them first,
    // by estimate, then for what they turned out to take.
    let estimate = sources.iter().map(|s| s.decoded_bytes_estimate()).sum();
    if !work.try_grow(estimate) {
        return Ok(None);
    }
    let mut by_column: Vec<Vec<ArrayRef>> = vec![Vec::with_capacity(sources.len()); spec.columns.len()];
    for source in sources {
        for (c, array) in source.all_columns()?.into_iter().enumerate() {
            by_column[c].push(array);
        }
    }
    let read = arrays_bytes(by_column.iter().flatten());
    if !work.settle(estimate, read) {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(spec.columns.len());
    for parts in by_column {
        let bytes = arrays_bytes(&parts);
        if !work.try_grow(bytes) {
            return Ok(None);
        }
        // The parts go once concatenated, the concatenation once sorted.
        columns.push(sorted(&concat_all(parts)?)?);
        work.shrink(bytes);
    }
    let as_u64 = |a: ArrayRef| a.as_any().downcast_ref::<UInt64Array>().expect("row ids and begins are UInt64").clone();
    let segment = Segment::new(spec, as_u64(sorted(&row_ids)?), as_u64(sorted(&begins)?), columns);
    let starts: Vec<u32> = sources
        .iter()
        .scan(0u32, |at, s| {
            let start = *at;
            *at += s.len() as u32;
            Some(start)
        })
        .collect();
    let origin = order
        .values()
        .iter()
        .map(|&i| {
            let k = starts.partition_point(|&s| s <= i) - 1;
            (k as u32, i - starts[k])
        })
        .collect();
    Ok(Some((segment, origin)))
}

/// A merged segment and where each of its versions came from.
type Merged = (Segment, Vec<(u32, u32)>);

/// What merging did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MergeStats {
    /// Segments with rows merged into others.
    pub segments: usize,
    /// Merged segments made.
    pub merges: usize,
    /// Empty segments (left by merges and compaction) taken out of tables'
    /// lists.
    pub emptied_dropped: usize,
    /// Runs left for a later compaction: the row store's budget had no
    /// room for building them (`rowstore/memory.rs`, working memory).
    pub deferred: usize,
}

impl Storage {
    /// Merges runs of small segments (see the module docs); the caller
    /// holds the checkpoint lock.
    pub(crate) fn merge_small_segments(&self) -> Result<MergeStats> {
        let mut stats = MergeStats::default();
        let tables: Vec<(TableId, Arc<parking_lot::RwLock<crate::rowstore::table::TableStore>>)> =
            self.tables.read().iter().map(|(id, t)| (*id, t.clone())).collect();
        for (_, table) in tables {
            if table.read().has_unread_retired() {
                self.metered(&table, crate::rowstore::table::TableStore::drop_unread_retired);
            }
            loop {
                let (spec, run, sources) = {
                    let t = table.read();
                    let inputs: Vec<MergeInput> = t
                        .segments
                        .iter()
                        .map(|s| MergeInput {
                            rows: s.data.len(),
                            written: s.file.is_some(),
                            bytes: s.data.decoded_bytes_estimate(),
                        })
                        .collect();
                    // Half the room: the rest is for the column being
                    // sorted, and for what the estimate missed.
                    let bytes_max = self.memory.working_room() / 2;
                    let Some(run) = merge_candidate(&inputs, bytes_max) else { break };
                    let sources: Vec<Arc<Segment>> = t.segments[run.clone()].iter().map(|s| s.data.clone()).collect();
                    (t.spec.clone(), run, sources)
                };
                let mut work = self.memory.working_memory();
                let Some((merged, origin)) = merged(&spec, &sources, &mut work)? else {
                    tracing::warn!(
                        "merging {} segments of table {} deferred: the row store's budget leaves too little \
                         room to build it; raise --memory-mb or --row-store-mb",
                        run.len(),
                        spec.id
                    );
                    stats.deferred += 1;
                    break;
                };
                let file = self.write_segment(&spec, &merged)?;
                // Written: its columns are the cache's now.
                drop(work);
                let with_rows = sources.iter().filter(|s| s.len() > 0).count();
                if !self.metered(&table, |t| t.replace_merged(run.clone(), &sources, merged, &origin, file)) {
                    // ALTER TABLE replaced a segment meanwhile: tried again
                    // at the next compaction; the file written is removed
                    // by the next checkpoint.
                    break;
                }
                stats.segments += with_rows;
                stats.merges += 1;
            }
            if table.read().has_empty_segments_to_drop() {
                stats.emptied_dropped += self.metered(&table, crate::rowstore::table::TableStore::drop_empty_segments);
            }
        }
        if stats.merges > 0 {
            tracing::info!("merged {} small segments into {}", stats.segments, stats.merges);
        }
        Ok(stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(rows: &[usize]) -> Vec<MergeInput> {
        rows.iter().map(|&rows| MergeInput { rows, written: true, bytes: rows * 8 }).collect()
    }

    fn candidate(rows: &[usize]) -> Option<Range<usize>> {
        merge_candidate(&inputs(rows), usize::MAX)
    }

    #[test]
    fn runs_of_similar_small_segments_merge() {
        // Fewer than four with rows: nothing.
        assert_eq!(candidate(&[10, 10, 0, 10]), None);
        // Four alike, an empty one among them passed over.
        assert_eq!(candidate(&[10, 10, 0, 10, 10]), Some(0..5));
        // The longest qualifying run from the first start that has one.
        assert_eq!(candidate(&[10, 10, 10, 10, 10, 10]), Some(0..6));
        // One much larger than the rest waits for enough small ones.
        assert_eq!(candidate(&[40, 10, 10, 10]), None);
        assert_eq!(candidate(&[40, 10, 10, 10, 10]), Some(0..5));
        // Full segments and unwritten ones are left alone and break runs.
        let big = MERGE_ROWS_MAX + 1;
        assert_eq!(candidate(&[10, 10, big, 10, 10]), None);
        let mut unwritten = inputs(&[10, 10, 10, 10]);
        unwritten[2].written = false;
        assert_eq!(merge_candidate(&unwritten, usize::MAX), None);
        // Never more than a full segment's rows.
        let half = MERGE_ROWS_MAX;
        assert_eq!(candidate(&[half, half, half, half]), None);
        let quarter = SEGMENT_ROWS_MAX / 4;
        assert_eq!(candidate(&[quarter, quarter, quarter, quarter, 5]), Some(0..4));
        // Never more than the memory budget leaves room for: the first
        // run that fits, however long a longer one would be.
        let tens = inputs(&[10; 8]);
        assert_eq!(merge_candidate(&tens, 8 * 80), Some(0..8));
        assert_eq!(merge_candidate(&tens, 5 * 80), Some(0..5));
        assert_eq!(merge_candidate(&tens, 3 * 80), None);
    }
}
