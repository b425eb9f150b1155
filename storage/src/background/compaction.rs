//! Compaction: frozen versions nobody can read any more are dropped, then
//! small segments are merged (`background/merge.rs`).
//!
//! ```text
//! horizon = min(oldest snapshot a reader holds, SCN visible `retention` ago)
//! per segment whose versions ended at or before the horizon are >= 1/5:
//!   [read lock]  copy its data and delete vector
//!                build the segment of the other versions     (no lock)
//!   [write lock] swap it in if the data is still the same; carry over ends
//!                set meanwhile; re-point the rows; table epoch += 1
//! ```
//!
//! A version that ended at or before the horizon is invisible to every
//! snapshot at or after it, and no reader holds an older one: the horizon
//! comes from the snapshot registry (`mvcc/snapshot.rs`), which also keeps
//! versions for the flashback retention.
//!
//! A segment keeps its index in the table's list (an emptied one stays,
//! with no rows, until no plan or scan keeps a layout; `background/merge.rs`), so
//! scans that address segments by index stay valid; a
//! scan in the middle of a segment sees the table's epoch change and
//! continues after the last row it read (`scan/view.rs`). The compacted segment
//! is written to a file of its own at once (its columns then live in the
//! segment cache, not in the row store's budget), but only the next
//! checkpoint's manifest names it; until then a restart reads the old file
//! and the log, which hold the same rows for every snapshot at or after the
//! horizon. Compaction runs under the checkpoint lock, so it never swaps a
//! segment a checkpoint is writing, and that checkpoint's clean-up never
//! removes a file a compaction is about to install. Rewriting a segment
//! holds its columns in memory, counted in the row store's budget as work
//! in progress (`rowstore/memory.rs`); with no room for it, it waits for a later
//! compaction.

use std::sync::Arc;

use arrow::array::{Array, BooleanArray, UInt64Array};
use arrow::compute::filter;
use rustydb_common::{Scn, TableId};

use crate::background::merge::MergeStats;
use crate::error::Result;
use crate::rowstore::memory::WorkingMemory;
use crate::rowstore::memory::{array_bytes, arrays_bytes};
use crate::segment::{FrozenSegment, Segment};
use crate::spec::TableSpec;
use crate::storage::Storage;

/// What a compaction did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CompactionStats {
    pub segments: usize,
    pub versions_dropped: usize,
    /// Segments left for a later compaction: the row store's budget had
    /// no room for rewriting them (`rowstore/memory.rs`, working memory).
    pub deferred: usize,
    /// Small segments merged after the dead versions were dropped.
    pub merged: MergeStats,
}

impl Storage {
    /// Drops frozen versions no snapshot can read (see the module docs)
    /// and merges small segments.
    pub fn compact(&self) -> Result<CompactionStats> {
        let _checkpoint = self.checkpoint_lock.lock();
        let horizon = self.snapshots.horizon(|| self.current_scn());
        let mut stats = CompactionStats::default();
        if horizon > Scn::ZERO {
            self.drop_dead_versions(horizon, &mut stats)?;
        }
        stats.merged = self.merge_small_segments()?;
        Ok(stats)
    }

    fn drop_dead_versions(&self, horizon: Scn, stats: &mut CompactionStats) -> Result<()> {
        let tables: Vec<(TableId, Arc<parking_lot::RwLock<crate::rowstore::table::TableStore>>)> =
            self.tables.read().iter().map(|(id, t)| (*id, t.clone())).collect();
        for (_, table) in tables {
            let candidates = table.read().compaction_candidates(horizon);
            for si in candidates {
                let (spec, frozen) = {
                    let t = table.read();
                    (t.spec.clone(), t.segments[si].clone())
                };
                let mut work = self.memory.working_memory();
                let Some((compacted, dropped)) = without_dead(&spec, &frozen, horizon, &mut work)? else {
                    tracing::warn!(
                        "compacting a segment of table {} deferred: the row store's budget leaves too little \
                         room to rewrite it; raise --memory-mb or --row-store-mb",
                        spec.id
                    );
                    stats.deferred += 1;
                    continue;
                };
                // Written now, so its columns go to the segment cache and
                // not the row store budget. The manifest names it from the
                // next checkpoint on; until then the old file serves a
                // restart, and this one, unnamed, is removed by the next.
                let file = self.write_segment(&spec, &compacted)?;
                drop(work);
                if self.metered(&table, |t| t.replace_compacted(si, &frozen.data, compacted, file)) {
                    stats.segments += 1;
                    stats.versions_dropped += dropped;
                }
            }
        }
        if stats.segments > 0 {
            tracing::info!(
                "compaction below scn {horizon}: {} versions dropped from {} segments",
                stats.versions_dropped,
                stats.segments
            );
        }
        Ok(())
    }
}

/// The segment without the versions that ended at or before `horizon`,
/// and how many those were. Positions of kept versions keep their order.
/// `None` when `work` cannot grow to what rewriting it holds: the
/// segment's columns, then the kept ones replacing them a column at a time.
fn without_dead(
    spec: &TableSpec,
    frozen: &FrozenSegment,
    horizon: Scn,
    work: &mut WorkingMemory,
) -> Result<Option<(Segment, usize)>> {
    let data = &frozen.data;
    let keep: BooleanArray = (0..data.len()).map(|pos| Some(frozen.end(pos) > horizon)).collect();
    let dropped = data.len() - keep.true_count();
    let kept = |a: &dyn Array| filter(a, &keep).expect("a mask of the array's length filters it");
    // Room for the columns by estimate before reading them, then for what
    // they turned out to take.
    let estimate = data.decoded_bytes_estimate();
    if !work.try_grow(estimate) {
        return Ok(None);
    }
    let read = data.all_columns()?;
    if !work.settle(estimate, arrays_bytes(&read)) {
        return Ok(None);
    }
    let mut columns = Vec::with_capacity(spec.columns.len());
    for column in read {
        let out = kept(column.as_ref());
        let (was, now) = (array_bytes(column.as_ref()), array_bytes(out.as_ref()));
        drop(column);
        if !work.try_grow(now) {
            return Ok(None);
        }
        work.shrink(was);
        columns.push(out);
    }
    let row_ids = kept(&data.row_ids);
    let begins = kept(&data.begins);
    let as_u64 = |a: arrow::array::ArrayRef| {
        a.as_any().downcast_ref::<UInt64Array>().expect("filtering keeps the array type").clone()
    };
    Ok(Some((Segment::new(spec, as_u64(row_ids), as_u64(begins), columns), dropped)))
}
