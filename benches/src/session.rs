//! What creating a session costs: every connection pays it, and the HTTP
//! front end will pay it per request.
//!
//! Run: `cargo run --release -p rustydb-benches --bin session`
//! (prints the median of 11 rounds of 1,000 sessions each).

use std::time::Instant;

fn main() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = rustydb_engine::api::Database::open(dir.path()).expect("open a database");
    for _ in 0..100 {
        drop(db.session());
    }
    const SESSIONS: u32 = 1_000;
    let mut rounds: Vec<f64> = (0..11)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..SESSIONS {
                drop(db.session());
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(SESSIONS)
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("session creation: {:.1} µs (median of 11 rounds of {SESSIONS})", rounds[5]);
}
