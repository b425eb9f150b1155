//! MVCC snapshots: which SCNs readers hold, how far back versions must
//! stay, and which SCN was visible at a wall-clock time.
//!
//! ```text
//!            oldest pin        SCN visible `retention` ago      visible
//!  ──────────────┬──────────────────────┬──────────────────────────┬──► scn
//!  horizon = min(oldest pin, by time, visible): versions that ended at
//!  or before it are invisible to every snapshot anyone can still take
//! ```
//!
//! A snapshot is an SCN: it sees the versions with `begin <= scn < end`.
//! Compaction (`background/compaction.rs`) drops a version only once it ended at or
//! before the horizon, so two things keep a version alive: a reader's
//! [`SnapshotPin`], and the flashback retention. Pins and the horizon are
//! taken under one lock, and a pin reads the visible SCN under it, so a
//! compaction either sees a new pin or ran before that snapshot existed.
//!
//! The SCN↔time map is a list of samples (one per checkpointer wake-up,
//! every 500 ms, and only when the SCN moved), kept back to one sample
//! older than the retention: with the 15 minute default that is at most
//! 1,800 samples of 40 bytes. The SCN of a time is the newest sample at or
//! before it, so it was certainly visible then; commits in the sampling
//! interval before the time are not seen (up to 500 ms early). An exact
//! answer needs each commit's time in its WAL record, a format change.
//! The *floor* is the highest horizon any compaction used: an SCN below
//! it may read versions that are gone, so resolving a time to one is the
//! same error as a time older than the samples.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use parking_lot::Mutex;
use rustydb_common::Scn;

use crate::error::{Result, StorageError};

/// The snapshot registry and the SCN↔time samples of one storage.
pub(crate) struct Snapshots {
    pins: Mutex<Pins>,
    /// When recent SCNs became visible, oldest first.
    samples: Mutex<VecDeque<Sample>>,
    /// How long ended versions stay for flashback.
    retention: Duration,
}

#[derive(Default)]
struct Pins {
    /// Snapshots readers hold, with how many hold each.
    held: BTreeMap<Scn, usize>,
    /// The highest horizon handed out: versions ended at or before it may
    /// be gone.
    floor: Scn,
}

/// When an SCN was seen visible, on both clocks: the monotonic one for
/// the retention (immune to clock changes), the wall clock for
/// `AS OF TIMESTAMP`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Sample {
    pub(crate) at: Instant,
    pub(crate) wall: SystemTime,
    pub(crate) scn: Scn,
}

/// Keeps the versions a snapshot reads from being compacted away while a
/// reader holds it.
pub(crate) struct SnapshotPin {
    snapshots: Arc<Snapshots>,
    pub(crate) scn: Scn,
}

impl Drop for SnapshotPin {
    fn drop(&mut self) {
        let mut pins = self.snapshots.pins.lock();
        if let Some(n) = pins.held.get_mut(&self.scn) {
            *n -= 1;
            if *n == 0 {
                pins.held.remove(&self.scn);
            }
        }
    }
}

impl Snapshots {
    pub(crate) fn new(retention: Duration) -> Self {
        Snapshots { pins: Mutex::default(), samples: Mutex::default(), retention }
    }

    /// Pins the SCN `visible` returns, read under the pin lock (see the
    /// module docs for why).
    pub(crate) fn pin_current(self: &Arc<Self>, visible: impl FnOnce() -> Scn) -> Arc<SnapshotPin> {
        let mut pins = self.pins.lock();
        let scn = visible();
        *pins.held.entry(scn).or_insert(0) += 1;
        Arc::new(SnapshotPin { snapshots: self.clone(), scn })
    }

    /// Pins the newest SCN visible at wall-clock time `t` (what
    /// `AS OF TIMESTAMP t` reads). Resolved under the pin lock, so no
    /// compaction can pass the SCN between resolving and pinning it.
    #[allow(dead_code)] // the entry point of AS OF TIMESTAMP, which no statement has yet
    pub(crate) fn pin_at(self: &Arc<Self>, t: SystemTime) -> Result<Arc<SnapshotPin>> {
        let mut pins = self.pins.lock();
        let scn = scn_at(&self.samples.lock(), t, SystemTime::now())?;
        if scn < pins.floor {
            return Err(too_old(t, "compaction already dropped versions it reads"));
        }
        *pins.held.entry(scn).or_insert(0) += 1;
        Ok(Arc::new(SnapshotPin { snapshots: self.clone(), scn }))
    }

    /// Records that `scn` is visible now; drops samples the retention no
    /// longer needs.
    pub(crate) fn note_visible(&self, scn: Scn) {
        let now = Instant::now();
        let mut samples = self.samples.lock();
        if samples.back().is_none_or(|s| s.scn != scn) {
            samples.push_back(Sample { at: now, wall: SystemTime::now(), scn });
        }
        // Keep one sample older than the retention: it bounds the horizon.
        while samples.len() > 1 && samples[1].at + self.retention <= now {
            samples.pop_front();
        }
    }

    /// Versions that ended at or before this SCN may be dropped; `visible`
    /// is read under the pin lock, like a pin's.
    pub(crate) fn horizon(&self, visible: impl FnOnce() -> Scn) -> Scn {
        let mut pins = self.pins.lock();
        let visible = visible();
        let by_time = if self.retention.is_zero() {
            visible
        } else {
            by_retention(&self.samples.lock(), Instant::now(), self.retention)
        };
        let oldest_pin = pins.held.first_key_value().map_or(visible, |(s, _)| *s);
        let horizon = visible.min(by_time).min(oldest_pin);
        pins.floor = pins.floor.max(horizon);
        horizon
    }
}

/// The newest SCN already visible `retention` before `now` (ZERO when no
/// sample is that old: nothing may be dropped yet).
fn by_retention(samples: &VecDeque<Sample>, now: Instant, retention: Duration) -> Scn {
    samples.iter().take_while(|s| s.at + retention <= now).last().map_or(Scn::ZERO, |s| s.scn)
}

/// The newest SCN visible at wall-clock time `t`, from the samples; a `t`
/// at or after `now` is refused rather than read as the present, so one
/// timestamp always names one snapshot. The wall clock may step back
/// (NTP); the newest sample at or before `t` is searched from the newest
/// end, so a step back makes the answer older, never newer than `t`.
pub(crate) fn scn_at(samples: &VecDeque<Sample>, t: SystemTime, now: SystemTime) -> Result<Scn> {
    if t > now {
        return Err(StorageError::InvalidInput(format!(
            "flashback time {} is in the future",
            unix_ms(t).map_or_else(|| "before 1970".into(), |ms| format!("{ms} ms after the epoch"))
        )));
    }
    let Some(oldest) = samples.front() else {
        return Err(too_old(t, "no SCN↔time samples are kept yet"));
    };
    if t < oldest.wall {
        return Err(too_old(t, "it is older than the flashback retention keeps"));
    }
    // Between two samples the older one is the SCN known visible at `t`.
    // None at or before `t` only when the clock stepped back past the
    // oldest: its SCN is then the oldest answer there is.
    Ok(samples.iter().rev().find(|s| s.wall <= t).map_or(oldest.scn, |s| s.scn))
}

fn unix_ms(t: SystemTime) -> Option<u128> {
    t.duration_since(SystemTime::UNIX_EPOCH).ok().map(|d| d.as_millis())
}

fn too_old(t: SystemTime, why: &str) -> StorageError {
    let at = unix_ms(t).map_or_else(|| "before 1970".into(), |ms| format!("{ms} ms after the epoch"));
    StorageError::SnapshotTooOld(format!("no snapshot at {at}: {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(base: SystemTime, at: Instant, points: &[(u64, u64)]) -> VecDeque<Sample> {
        points
            .iter()
            .map(|&(secs, scn)| Sample {
                at: at + Duration::from_secs(secs),
                wall: base + Duration::from_secs(secs),
                scn: Scn(scn),
            })
            .collect()
    }

    #[test]
    fn a_time_resolves_to_the_newest_sample_at_or_before_it() {
        let (base, at) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000), Instant::now());
        let s = samples(base, at, &[(0, 5), (10, 9), (20, 30)]);
        let now = base + Duration::from_secs(25);
        let secs = |n| base + Duration::from_secs(n);
        assert_eq!(scn_at(&s, secs(0), now).unwrap(), Scn(5));
        assert_eq!(scn_at(&s, secs(9), now).unwrap(), Scn(5));
        assert_eq!(scn_at(&s, secs(10), now).unwrap(), Scn(9));
        assert_eq!(scn_at(&s, secs(24), now).unwrap(), Scn(30));
    }

    #[test]
    fn a_time_older_than_the_samples_is_snapshot_too_old() {
        let (base, at) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000), Instant::now());
        let s = samples(base, at, &[(10, 9), (20, 30)]);
        let now = base + Duration::from_secs(25);
        let err = scn_at(&s, base, now).unwrap_err();
        assert!(matches!(err, StorageError::SnapshotTooOld(_)), "{err}");
        assert_eq!(err.sqlstate(), "72000");
        let none = scn_at(&VecDeque::new(), base, now).unwrap_err();
        assert!(matches!(none, StorageError::SnapshotTooOld(_)), "{none}");
    }

    #[test]
    fn a_time_in_the_future_is_refused() {
        let (base, at) = (SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000), Instant::now());
        let s = samples(base, at, &[(0, 1)]);
        let err = scn_at(&s, base + Duration::from_secs(60), base).unwrap_err();
        assert!(matches!(err, StorageError::InvalidInput(_)), "{err}");
    }

    #[test]
    fn the_horizon_is_the_oldest_of_pins_retention_and_visible() {
        let snaps = Arc::new(Snapshots::new(Duration::ZERO));
        assert_eq!(snaps.horizon(|| Scn(10)), Scn(10));
        let pin = snaps.pin_current(|| Scn(12));
        let _same = snaps.pin_current(|| Scn(12));
        assert_eq!(snaps.horizon(|| Scn(20)), Scn(12), "a pin holds the horizon back");
        drop(pin);
        assert_eq!(snaps.horizon(|| Scn(20)), Scn(12), "until every holder of the snapshot let go");
        drop(_same);
        assert_eq!(snaps.horizon(|| Scn(20)), Scn(20));
        // With a retention and no sample old enough nothing may go.
        let kept = Snapshots::new(Duration::from_secs(3600));
        kept.note_visible(Scn(7));
        assert_eq!(kept.horizon(|| Scn(7)), Scn::ZERO);
    }

    #[test]
    fn the_retention_keeps_one_sample_older_than_itself() {
        let at = Instant::now();
        let s = samples(SystemTime::UNIX_EPOCH, at, &[(0, 1), (10, 2), (20, 3)]);
        let now = at + Duration::from_secs(25);
        assert_eq!(by_retention(&s, now, Duration::from_secs(12)), Scn(2));
        assert_eq!(by_retention(&s, now, Duration::from_secs(30)), Scn::ZERO);
    }

    #[test]
    fn a_time_resolving_below_a_compaction_horizon_is_too_old() {
        let snaps = Arc::new(Snapshots::new(Duration::ZERO));
        snaps.note_visible(Scn(3));
        let t = SystemTime::now();
        assert_eq!(snaps.pin_at(t).unwrap().scn, Scn(3));
        // No retention: a compaction may drop everything ended by scn 9.
        assert_eq!(snaps.horizon(|| Scn(9)), Scn(9));
        let err = snaps.pin_at(t).map(|p| p.scn).unwrap_err();
        assert!(matches!(err, StorageError::SnapshotTooOld(_)), "{err}");
    }
}
