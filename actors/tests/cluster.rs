//! Cluster behaviour on the virtual clock: convergence, determinism, confirmation, catch-up.

mod support;

use chainlab::config::Config;
use chainlab::report::Event;
use chainlab_actors::cluster::RunOptions;
use std::collections::HashSet;
use std::time::Duration;
use support::config::Toml;
use support::converge::assert_converged_or_final_tie;
use support::run::{report_without_wall_time, run_ok, run_with, trace_text};

/// The virtual-clock base on 8 nodes, retargeting every 10 blocks, with seed `seed`.
fn small(seed: u64) -> Config {
    Toml::virtual_clock()
        .with(&["cluster.nodes=8", "consensus.retarget_interval=10"])
        .config("test.toml", &[format!("cluster.seed={seed}").as_str()], "")
}

#[test]
fn cluster_converges_with_no_invariant_violation() {
    let out = run_ok(small(1));
    let r = &out.report;
    assert!(
        r.convergence.converged,
        "tips: {}",
        r.convergence.distinct_tips
    );
    assert!(
        r.invariants.violations.is_empty(),
        "{:?}",
        r.invariants.violations
    );
    assert_eq!(r.invariants.checked, 8 * 3);
    assert!(
        r.blocks.canonical_height >= 10,
        "height {}",
        r.blocks.canonical_height
    );
    assert_eq!(r.blocks.mined, r.blocks.canonical_height + r.blocks.stale);
    assert!(r.txs.confirmed > 0);
    assert_eq!(r.propagation_s.samples as u64, r.blocks.canonical_height);
}

#[test]
fn same_seed_gives_identical_report_and_trace_and_another_seed_does_not() {
    let a = run_ok(small(7));
    let b = run_ok(small(7));
    let c = run_ok(small(8));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
    assert_eq!(
        trace_text(&a),
        trace_text(&b),
        "traces differ byte for byte"
    );
    assert_ne!(trace_text(&a), trace_text(&c));
    assert_ne!(a.report.convergence.tip, c.report.convergence.tip);
}

#[test]
fn transactions_submitted_early_are_confirmed() {
    let out = run_ok(small(2));
    let on_chain: HashSet<_> = out
        .final_chain
        .iter()
        .flat_map(|b| b.txids.iter().copied())
        .collect();
    let rejected: HashSet<_> = out
        .events
        .iter()
        .filter_map(|e| match e.event {
            Event::TxRejected { txid, .. } => Some(txid),
            _ => None,
        })
        .collect();
    let early: Vec<_> = out
        .events
        .iter()
        .filter(|e| e.t_ms < 150_000)
        .filter_map(|e| match e.event {
            Event::TxSubmitted { txid } if !rejected.contains(&txid) => Some(txid),
            _ => None,
        })
        .collect();
    assert!(early.len() > 100, "only {} early transactions", early.len());
    let missing = early.iter().filter(|t| !on_chain.contains(t)).count();
    assert_eq!(
        missing,
        0,
        "{missing} of {} early transactions never confirmed",
        early.len()
    );
}

#[test]
fn a_node_started_late_catches_up_through_sync() {
    let late = 5;
    let out = run_with(
        small(3),
        RunOptions {
            late_start: vec![(late, Duration::from_secs(200))],
            ..Default::default()
        },
    );
    let r = &out.report;
    assert!(
        r.convergence.converged,
        "late node did not reach the common tip"
    );
    let synced = out
        .events
        .iter()
        .any(|e| e.node == late && matches!(e.event, Event::SyncRequested { .. }));
    assert!(synced, "the late node never asked for blocks");
    let imported_at_start: usize = out
        .events
        .iter()
        .filter(|e| e.node == late && e.t_ms <= 200_000 + 5_000)
        .filter(|e| matches!(e.event, Event::BlockImported { .. }))
        .count();
    assert!(
        imported_at_start >= 10,
        "caught up only {imported_at_start} blocks in its first 5 s"
    );
}

#[test]
fn real_clock_cluster_mines_and_converges() {
    let cfg = Toml::real_clock().config("real.toml", &[], "");
    let out = run_ok(cfg);
    assert_eq!(out.report.clock, "real");
    assert!(
        out.report.blocks.canonical_height >= 3,
        "height {}",
        out.report.blocks.canonical_height
    );
    assert_converged_or_final_tie(&out);
    assert!(out.report.invariants.violations.is_empty());
}

#[test]
fn hashing_engine_grinds_real_proof_of_work() {
    let cfg = Toml::real_clock()
        .with(&[
            "cluster.nodes=2",
            r#"network.latency={ dist = "constant", ms = 2.0 }"#,
            "pow.engine=hashing",
            "pow.difficulty=20000",
            "workload.tx_rate=0.0",
        ])
        .without("workload.accounts")
        .config("hashing.toml", &[], "");
    let out = run_ok(cfg);
    assert!(
        out.report.blocks.mined >= 2,
        "mined {}",
        out.report.blocks.mined
    );
    assert_converged_or_final_tie(&out);
    assert!(out.report.invariants.violations.is_empty());
}
