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
    assert_eq!(
        r.propagation_s.full_s.samples as u64,
        r.blocks.canonical_height
    );
}

#[test]
fn same_seed_gives_identical_report_and_trace_and_another_seed_does_not() {
    let a = run_ok(small(7));
    let b = run_ok(small(7));
    let c = run_ok(small(8));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
    // The load generator's worker thread verifies ahead; the counts must not show it.
    assert_eq!(a.sig_cache, b.sig_cache);
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
        .filter_map(|e| match &e.event {
            Event::TxRejected(r) => Some(r.txid),
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

/// Every submitted transaction has exactly one fate in `txs`.
fn assert_fates_add_up(out: &chainlab_actors::cluster::RunOutput) {
    let t = &out.report.txs;
    let d = &t.dropped;
    let dropped = d.expired + d.evicted + d.replaced + d.invalidated;
    assert_eq!(
        t.submitted,
        t.confirmed
            + t.rejected
            + t.pending
            + t.nonce_gap
            + t.on_competing_tip
            + dropped
            + t.lost_on_crashed_nodes
            + t.lost,
        "{t:?}"
    );
}

/// Slow links and fast blocks (as `config/forks.toml`, smaller): many forks and reorgs.
fn forky(extra: &[&str]) -> Config {
    let mut set = vec![
        "cluster.seed=42",
        "cluster.duration=200s",
        "network.topology=random-regular",
        "network.degree=4",
        "network.latency={ dist = \"constant\", ms = 1500.0 }",
        "consensus.block_interval=5s",
        "consensus.tie_break=random",
        "workload.tx_rate=10.0",
        "workload.accounts=200",
    ];
    set.extend_from_slice(extra);
    Toml::virtual_clock()
        .with(&set)
        .config("forky.toml", &[], "")
}

#[test]
fn a_fault_free_run_with_forks_loses_no_transaction() {
    let out = run_ok(forky(&[]));
    let r = &out.report;
    assert!(
        r.blocks.stale >= 5 && r.blocks.reorgs >= 5,
        "{:?}",
        r.blocks
    );
    assert_eq!(
        (r.txs.lost, r.txs.lost_on_crashed_nodes),
        (0, 0),
        "{:?}",
        r.txs
    );
    assert!(r.txs.confirmed > 1000, "{:?}", r.txs);
    assert_fates_add_up(&out);
    // k confirmations take longer than one, and fewer transactions have them.
    let (inc, conf) = (&r.txs.inclusion_s, &r.txs.confirmation_s);
    assert!(conf.samples > 0 && conf.samples <= inc.samples);
    assert!(conf.p50 > inc.p50, "{inc:?} {conf:?}");
}

#[test]
fn transactions_dropped_by_mempool_policy_are_named_not_lost() {
    // A 15 s expiry with 5 s blocks on slow links: transactions that wait too long expire.
    let out = run_ok(forky(&["mempool.expiry=15s"]));
    let t = &out.report.txs;
    assert!(t.dropped.expired > 0, "{t:?}");
    let expired = out
        .events
        .iter()
        .filter(|r| {
            matches!(
                r.event,
                Event::TxDropped {
                    reason: chainlab::mempool::DropReason::Expired,
                    ..
                }
            )
        })
        .count() as u64;
    assert!(expired >= t.dropped.expired);
    assert_eq!(t.lost, 0, "{t:?}");
    assert_fates_add_up(&out);
}

/// The shared execution cache (`node.exec_cache`, docs/design.md "Shared work across
/// nodes") changes nothing any node observes: with forks and reorgs, and with contract calls
/// (receipts, records), the report and the trace are the same bytes with it on and off.
#[test]
fn sharing_block_execution_changes_no_byte_of_the_report_or_trace() {
    for extra in [&[][..], &["workload.contract_calls=0.3"][..]] {
        let on = run_ok(forky(extra));
        let mut off_set = extra.to_vec();
        off_set.push("node.exec_cache=false");
        let off = run_ok(forky(&off_set));
        assert!(on.report.blocks.reorgs >= 5, "{:?}", on.report.blocks);
        assert!(on.report.invariants.violations.is_empty());
        assert_eq!(
            report_without_wall_time(&on),
            report_without_wall_time(&off)
        );
        assert_eq!(
            trace_text(&on),
            trace_text(&off),
            "traces differ byte for byte"
        );
        // A cache too small to hold a branch only recomputes.
        let mut tiny_set = extra.to_vec();
        tiny_set.push("node.exec_cache_size=1");
        let tiny = run_ok(forky(&tiny_set));
        assert_eq!(
            report_without_wall_time(&on),
            report_without_wall_time(&tiny)
        );
    }
}
