//! A catch-up sync always makes progress.
//!
//! Found by a selfish-mining sweep (docs/experiments.md): the pool's node, on a private branch
//! heavier than the honest chain, asked an honest peer to sync. A full reply (64 blocks,
//! `more`) did not move its tip, so continuing with the locator of its own best chain asked
//! for the same 64 blocks again at every round trip until the run's end: the run took
//! minutes (it did not finish within 20 s) instead of 0.8 s. A continuation now starts after
//! the last block received.

mod support;

use chainlab::config::Config;
use chainlab::report::Event;
use support::run::{assert_no_violations, run_ok};

#[test]
fn a_node_whose_tip_a_sync_reply_does_not_move_stops_asking() {
    // config/selfish.toml, seed 15, a pool with 45% of the hash power and γ = 0, 2,000
    // ten-minute blocks: before the fix the pool's sync with node 3 began to loop at
    // 17,609-17,625 minutes (`chainlab run` did not finish within 20 s).
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/selfish.toml");
    let overrides: Vec<String> = [
        "cluster.seed=15",
        "cluster.duration=20000m",
        "adversary.0.hashpower=0.45",
        "adversary.0.gamma=0",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let text = std::fs::read_to_string(path).expect("config/selfish.toml is there");
    let cfg = Config::parse(&text, "config/selfish.toml", &overrides).expect("it parses");
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let syncs = out
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::SyncRequested { .. }))
        .count();
    let mined = out.report.blocks.mined as usize;
    assert!(
        syncs < 2 * mined,
        "{syncs} sync requests for {mined} blocks mined"
    );
}
