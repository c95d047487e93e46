//! Proof of stake: votes and evidence travel, and the `equivocate` fault. A validator that
//! signs two blocks for its slots (and two votes per epoch) is caught by every node, the
//! evidence reaches a block, and the offender loses `pos.slash_fraction` of its stake once.

mod support;

use chainlab::config::Config;
use chainlab::net::wire::MsgKind;
use chainlab::report::Event;
use std::collections::{BTreeMap, BTreeSet};
use support::config::Toml;
use support::run::{assert_no_violations, run_ok, trace_text};

/// The equivocating node (validator index = node id: every node validates, in id order).
const OFFENDER: u32 = 3;

/// 8 validators of equal stake on the virtual clock: 1 s slots, 20-slot epochs (votes at slot
/// 5 of each), f = 0.3 (a block every ~3 s), and node 3 equivocating from 30 s for 150 s.
fn equivocating(seed: u64) -> Config {
    Toml::virtual_clock()
        .with(&[
            "cluster.nodes=8",
            "consensus.kind=\"pos\"",
            "pos.slot=\"1s\"",
            "pos.epoch_slots=20",
            "pos.vote_offset=5",
            "pos.active_slot_coeff=0.3",
            "pos.slash_fraction=0.5",
        ])
        .config(
            "pos-equivocate.toml",
            &[format!("cluster.seed={seed}").as_str()],
            "[[faults]]\nat = \"30s\"\nkind = \"equivocate\"\nnode = 3\nfor = \"150s\"\n",
        )
}

#[test]
fn an_equivocating_validator_is_caught_by_every_node_and_slashed_once() {
    let cfg = equivocating(5);
    let pos = cfg.pos_engine();
    let stake = pos.validators[OFFENDER as usize].stake;
    let penalty = (stake as f64 * pos.slash_fraction).floor() as u64;
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let phases: Vec<String> = out
        .events
        .iter()
        .filter_map(|r| match r.event {
            Event::Fault(f) if f.kind == "equivocate" => Some(f.phase),
            _ => None,
        })
        .collect();
    assert_eq!(phases, ["start", "end"], "the fault is traced as it fires");
    // Every node saw (or built) evidence against the offender, and only against it.
    let mut detected: BTreeMap<usize, BTreeSet<String>> = BTreeMap::new();
    let mut ids = BTreeSet::new();
    for r in &out.events {
        if let Event::Equivocation(e) = &r.event {
            assert_eq!(e.offender, OFFENDER, "only the equivocator is accused");
            detected.entry(r.node).or_default().insert(e.kind.clone());
            ids.insert(e.evidence);
        }
    }
    let nodes: Vec<usize> = detected.keys().copied().collect();
    assert_eq!(nodes, (0..8).collect::<Vec<_>>(), "every node detects it");
    assert!(
        detected.values().any(|k| k.contains("double_block")),
        "{detected:?}"
    );
    // Each node traces each piece of evidence once (first sight).
    for node in 0..8 {
        let mine: Vec<_> = out
            .events
            .iter()
            .filter(|r| r.node == node)
            .filter_map(|r| match &r.event {
                Event::Equivocation(e) => Some(e.evidence),
                _ => None,
            })
            .collect();
        let distinct: BTreeSet<_> = mine.iter().collect();
        assert_eq!(
            mine.len(),
            distinct.len(),
            "node {node} traced evidence twice"
        );
    }
    // The evidence was included: every node's best chain slashed the offender, by exactly
    // one penalty (a second slashing would take more), and nobody else.
    let mut slashed: BTreeMap<usize, u64> = BTreeMap::new();
    for r in &out.events {
        if let Event::Slashed { validator, amount } = r.event {
            assert_eq!(validator, OFFENDER, "an honest validator slashed");
            *slashed.entry(r.node).or_default() += amount;
        }
    }
    assert_eq!(
        slashed,
        (0..8).map(|n| (n, penalty)).collect::<BTreeMap<_, _>>(),
        "slashed once, by floor({stake} x {})",
        pos.slash_fraction
    );
    // Votes and evidence travelled as `items` messages.
    assert!(out.net.delivered.get(&MsgKind::Item).copied().unwrap_or(0) > 0);
    assert!(out.report.convergence.converged);
}

#[test]
fn an_equivocating_run_is_reproducible() {
    let a = run_ok(equivocating(9));
    let b = run_ok(equivocating(9));
    assert_eq!(
        trace_text(&a),
        trace_text(&b),
        "traces differ byte for byte"
    );
    assert!(
        a.events
            .iter()
            .any(|r| matches!(r.event, Event::Equivocation(_))),
        "the fault did something"
    );
}
