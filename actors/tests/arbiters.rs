//! Nodes over several arbiters on the real clock, and bounded mempools under overload
//! (issue 13). No test here waits for an event by sleeping: each runs a whole cluster, whose
//! harness drives its own timeline, and checks the report.

mod support;

use support::config::Toml;
use support::converge::assert_converged_or_final_tie;
use support::run::run_ok;

#[test]
fn a_real_clock_cluster_on_two_arbiters_converges_with_its_nodes_on_two_threads() {
    let cfg = Toml::real_clock()
        .with(&[
            "cluster.nodes=4",
            "cluster.arbiters=2",
            "workload.tx_rate=200.0",
        ])
        .config("arbiters.toml", &[], "");
    let out = run_ok(cfg);
    assert!(
        out.report.blocks.canonical_height >= 3,
        "height {}",
        out.report.blocks.canonical_height
    );
    assert!(out.report.txs.confirmed > 0, "{:?}", out.report.txs);
    assert_converged_or_final_tie(&out);
    assert!(
        out.report.invariants.violations.is_empty(),
        "{:?}",
        out.report.invariants.violations
    );
    assert_eq!(out.report.txs.lost, 0);
    // Round-robin: nodes 0 and 2 on one arbiter, 1 and 3 on the other, neither the
    // harness's (this test's) thread.
    let t: Vec<_> = out
        .node_threads
        .iter()
        .map(|t| t.expect("started"))
        .collect();
    assert_eq!(t[0], t[2]);
    assert_eq!(t[1], t[3]);
    assert_ne!(t[0], t[1]);
    assert!(!t.contains(&std::thread::current().id()));
}

#[test]
fn one_arbiter_keeps_every_node_on_the_harness_thread() {
    let cfg = Toml::real_clock()
        .with(&["cluster.arbiters=1"])
        .config("one.toml", &[], "");
    let out = run_ok(cfg);
    let me = std::thread::current().id();
    assert!(out.node_threads.iter().all(|t| *t == Some(me)));
    assert!(out.report.invariants.violations.is_empty());
}

#[test]
fn the_virtual_clock_ignores_the_arbiter_knob() {
    let base = Toml::virtual_clock().with(&["cluster.duration=60s", "cluster.settle=10s"]);
    let plain = run_ok(base.config("plain.toml", &[], ""));
    let knob = run_ok(base.config("knob.toml", &["cluster.arbiters=4"], ""));
    let me = std::thread::current().id();
    assert!(knob.node_threads.iter().all(|t| *t == Some(me)));
    assert_eq!(
        support::run::trace_text(&plain),
        support::run::trace_text(&knob)
    );
}

/// A pool bounded far below the offered backlog refuses, counts its refusals and stays
/// within its bound; deterministic on the virtual clock.
#[test]
fn a_full_mempool_refuses_counts_and_stays_bounded() {
    let cfg = Toml::virtual_clock()
        .with(&[
            "cluster.nodes=4",
            "cluster.duration=60s",
            "cluster.settle=10s",
            "workload.tx_rate=100.0",
            "workload.accounts=200",
            "consensus.max_block_txs=50",
            "mempool.max_txs=150",
        ])
        .config("full.toml", &[], "");
    let out = run_ok(cfg.clone());
    let t = &out.report.txs;
    assert!(t.refused_full > 0, "{t:?}");
    assert!(t.pool_peak <= 150, "{t:?}");
    assert_eq!(t.pool_peak, 150, "the pool filled up: {t:?}");
    assert_eq!(t.lost, 0, "{t:?}");
    assert!(out.report.invariants.violations.is_empty());
    let again = run_ok(cfg);
    assert_eq!(again.report.txs.refused_full, t.refused_full);
}
