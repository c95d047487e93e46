//! Proof of stake run by the node actors (`consensus.kind = "pos"`): a 16-node cluster on the
//! virtual clock produces blocks for led slots only, converges and finalizes, and never
//! reverts a finalized block; the same seed gives the same trace byte for byte; a crashed
//! validator leaves its slots empty and, restarted from its store, keeps its finalized
//! checkpoint and catches up; `chainlab inspect` checks a proof-of-stake data directory; the
//! same works over TCP on the real clock; a fault that proof of stake has no meaning for is
//! refused. Every check reads the trace and the report of a finished run: nothing sleeps.

mod support;

use chainlab::config::Config;
use chainlab::report::Event;
use chainlab::{Hash, NodeId};
use chainlab_actors::cluster::{run, RunOutput};
use chainlab_actors::inspect::inspect;
use std::collections::{BTreeMap, BTreeSet};
use support::config::Toml;
use support::converge::assert_converged_or_final_tie;
use support::pos::assert_finality_never_reverted;
use support::run::{assert_no_violations, mined, report_without_wall_time, run_ok, trace_text};

/// Nodes of the virtual-clock cluster.
const NODES: usize = 16;
/// Its validators: nodes 0..12 (validator index = node id); nodes 12..16 only follow.
const VALIDATORS: usize = 12;

/// A 16-node proof-of-stake cluster on the virtual clock: 1 s slots, 20-slot epochs, f = 0.25
/// (a block every ~4 s), votes 4 slots into each epoch, 300 s of production; `extra` are
/// `--set` overrides.
fn pos(seed: u64, extra: &[&str]) -> Config {
    let validators: Vec<String> = (0..VALIDATORS).map(|i| i.to_string()).collect();
    let validators = format!("pos.validators=[{}]", validators.join(", "));
    let seed = format!("cluster.seed={seed}");
    let mut set = vec![
        "cluster.nodes=16",
        seed.as_str(),
        "network.degree=4",
        "consensus.kind=pos",
        "pos.slot=1s",
        "pos.epoch_slots=20",
        "pos.active_slot_coeff=0.25",
        "pos.vote_offset=4",
        validators.as_str(),
    ];
    set.extend_from_slice(extra);
    Toml::virtual_clock().with(&set).config("pos.toml", &[], "")
}

/// `(t, node, slot, validator, hash)` of every `slot_led` ([`support::pos::led`]).
fn led(out: &RunOutput) -> Vec<(u64, NodeId, u64, u32, Hash)> {
    support::pos::led(out)
        .into_iter()
        .map(|l| (l.t, l.node, l.slot, l.validator, l.hash))
        .collect()
}

/// `(t, node, epoch, hash, height)` of every `finalized` ([`support::pos::finalized`]).
fn finalized(out: &RunOutput) -> Vec<(u64, NodeId, u64, Hash, u64)> {
    support::pos::finalized(out)
        .into_iter()
        .map(|f| (f.t, f.node, f.epoch, f.hash, f.height))
        .collect()
}

#[test]
fn a_pos_cluster_produces_for_led_slots_converges_and_finalizes() {
    let out = run_ok(pos(1, &[]));
    let r = &out.report;
    assert_no_violations(&out);
    assert!(r.convergence.converged, "{:?}", r.convergence);
    // ~300 s at f = 0.25: ~75 led slots.
    assert!(
        (40..=120).contains(&r.blocks.canonical_height),
        "height {}",
        r.blocks.canonical_height
    );

    // Every sealed block is a validator's, traced as `slot_led` right beside its
    // `block_mined`, by the node whose validator index it names, for a slot whose start is
    // the time it was sealed (the virtual clock has no skew here).
    let blocks = mined(&out);
    let slots = led(&out);
    assert_eq!(blocks.len(), slots.len(), "one slot_led per block_mined");
    for (b, (t, node, slot, validator, hash)) in blocks.iter().zip(&slots) {
        assert_eq!((b.t, b.miner, b.hash), (*t, *node, *hash));
        assert!(b.miner < VALIDATORS, "node {} is no validator", b.miner);
        assert_eq!(*validator as usize, b.miner);
        assert_eq!(slot * 1_000, *t, "sealed at its slot's start");
    }
    // Slots strictly increase along the final chain, and each final block was led.
    let by_hash: BTreeMap<Hash, u64> = slots.iter().map(|s| (s.4, s.2)).collect();
    let chain_slots: Vec<u64> = out.final_chain[1..]
        .iter()
        .map(|b| *by_hash.get(&b.hash).expect("every final block was led"))
        .collect();
    assert!(
        chain_slots.windows(2).all(|w| w[0] < w[1]),
        "{chain_slots:?}"
    );
    // Several validators produced (equal stakes).
    let producers: BTreeSet<NodeId> = blocks.iter().map(|b| b.miner).collect();
    assert!(producers.len() >= 8, "only {producers:?} produced");

    // Each validator voted once per epoch from epoch 1 on (vote time 20e + 4 s within
    // the 300 s of production: epochs 1..=14); followers never vote.
    let mut votes: BTreeMap<NodeId, Vec<u64>> = BTreeMap::new();
    for rec in &out.events {
        if let Event::Vote(vote) = &rec.event {
            assert_eq!(vote.validator as usize, rec.node);
            votes.entry(rec.node).or_default().push(vote.target_epoch);
        }
    }
    let epochs: Vec<u64> = (1..=14).collect();
    assert_eq!(votes.len(), VALIDATORS, "{votes:?}");
    for (node, v) in &votes {
        assert_eq!(v, &epochs, "node {node}'s votes");
    }

    // Finality advances and is never reverted; every node saw it.
    let top = assert_finality_never_reverted(&out);
    assert!(top > 0, "nothing finalized");
    let fin = finalized(&out);
    let finalizers: BTreeSet<NodeId> = fin.iter().map(|f| f.1).collect();
    assert_eq!(
        finalizers.len(),
        NODES,
        "nodes that saw finality: {finalizers:?}"
    );
    let best_epoch = fin.iter().map(|f| f.2).max().unwrap_or(0);
    // Votes for epoch e+1 finalize e: by the end of epoch 14 finality is about two epochs
    // behind.
    assert!(best_epoch >= 10, "last finalized epoch {best_epoch}");
}

#[test]
fn the_same_seed_gives_the_same_pos_trace_and_another_seed_does_not() {
    let short = ["cluster.duration=120s", "cluster.settle=20s"];
    let a = run_ok(pos(7, &short));
    let b = run_ok(pos(7, &short));
    let c = run_ok(pos(8, &short));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
    assert_eq!(
        trace_text(&a),
        trace_text(&b),
        "traces differ byte for byte"
    );
    assert_ne!(trace_text(&a), trace_text(&c));
    assert!(led(&a).len() >= 10);
}

/// The crashed validator of the crash test.
const VICTIM: NodeId = 3;

#[test]
fn a_crashed_validator_leaves_its_slots_empty_and_restarts_with_its_finality() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data_dir = format!(
        "storage.data_dir={}",
        toml::Value::String(dir.path().display().to_string())
    );
    // Validator 3 crashes at 120 s and restarts from its store at 180 s; 400 s of production
    // at f = 0.5 (every validator leads a slot every ~24 s).
    let faults =
        format!("[[faults]]\nat = \"120s\"\nkind = \"crash\"\nnode = {VICTIM}\nfor = \"60s\"\n");
    let cfg = Toml::virtual_clock()
        .with(&[
            "cluster.nodes=16",
            "cluster.seed=5",
            "cluster.duration=400s",
            "network.degree=4",
            "consensus.kind=pos",
            "pos.epoch_slots=20",
            "pos.active_slot_coeff=0.5",
            "pos.vote_offset=4",
            "storage.backend=sled",
            "storage.cache_mb=4",
            data_dir.as_str(),
        ])
        .config("pos-crash.toml", &[], &faults);
    let out = run_ok(cfg);
    assert_no_violations(&out);
    assert!(
        out.report.convergence.converged,
        "{:?}",
        out.report.convergence
    );
    let (down, up) = (120_000, 180_000);

    // Its slots stay empty while it is down, and it leads again after.
    let victim: Vec<(u64, u64)> = led(&out)
        .iter()
        .filter(|s| s.3 as usize == VICTIM)
        .map(|s| (s.0, s.2))
        .collect();
    assert!(victim.iter().any(|(t, _)| *t < down), "{victim:?}");
    assert!(victim.iter().any(|(t, _)| *t > up), "{victim:?}");
    let while_down: Vec<_> = victim
        .iter()
        .filter(|(t, _)| (down..up).contains(t))
        .collect();
    assert!(while_down.is_empty(), "led while crashed: {while_down:?}");
    // The others kept producing meanwhile (15 of 16 validators online).
    let others = led(&out)
        .iter()
        .filter(|s| (down..up).contains(&s.0))
        .count();
    assert!(
        others >= 15,
        "only {others} blocks while node {VICTIM} was down"
    );

    // Restarted from its store, it kept its finalized checkpoint: nothing it reports after
    // the restart is at or below what it had finalized before the crash, and it finalizes
    // further.
    let fin: Vec<(u64, u64)> = finalized(&out)
        .iter()
        .filter(|f| f.1 == VICTIM)
        .map(|f| (f.0, f.2))
        .collect();
    let before = fin.iter().filter(|(t, _)| *t < down).map(|f| f.1).max();
    let Some(before) = before else {
        panic!("node {VICTIM} finalized nothing before its crash: {fin:?}")
    };
    let after: Vec<u64> = fin.iter().filter(|(t, _)| *t >= up).map(|f| f.1).collect();
    assert!(
        !after.is_empty(),
        "nothing finalized after the restart: {fin:?}"
    );
    assert!(
        after.iter().all(|e| *e > before),
        "reported again after the restart: {after:?} (had epoch {before})"
    );
    let restart = out
        .report
        .faults
        .first()
        .and_then(|f| f.effect.catch_up_s)
        .flatten();
    assert!(restart.is_some(), "{:?}", out.report.faults);
    assert_finality_never_reverted(&out);

    // `chainlab inspect` rebuilds every node's proof-of-stake chain (proposer signatures,
    // leader proofs, votes) from the data directory.
    drop(out);
    let checks = inspect(dir.path()).expect("a chainlab store");
    assert_eq!(checks.len(), 16);
    for c in &checks {
        assert!(c.problem.is_none(), "node {}: {:?}", c.node, c.problem);
        assert!(c.height > 50, "node {} height {}", c.node, c.height);
    }
}

#[test]
fn a_pos_cluster_over_tcp_on_the_real_clock_converges() {
    // 100 ms slots, 10-slot epochs, f = 0.5: a block every ~200 ms, an epoch a second.
    let cfg = Toml::real_clock()
        .with(&[
            "cluster.duration=4s",
            "cluster.settle=1s",
            "network.transport=tcp",
            "consensus.kind=pos",
            "pos.slot=100ms",
            "pos.epoch_slots=10",
            "pos.active_slot_coeff=0.5",
            "pos.vote_offset=2",
        ])
        .config("pos-tcp.toml", &[], "");
    let out = run_ok(cfg);
    assert_no_violations(&out);
    assert_converged_or_final_tie(&out);
    assert!(
        out.report.blocks.canonical_height >= 5,
        "height {}",
        out.report.blocks.canonical_height
    );
    assert_eq!(mined(&out).len(), led(&out).len());
    assert!(
        out.report.connections.connected > 0,
        "{:?}",
        out.report.connections
    );
    assert_finality_never_reverted(&out);
}

#[test]
fn a_hash_share_fault_is_refused_under_proof_of_stake() {
    let faults = "[[faults]]\nat = \"10s\"\nkind = \"hashrate\"\nnode = 1\nshare = 0.5\n";
    let cfg = Toml::virtual_clock().with(&["consensus.kind=pos"]).config(
        "pos-hashrate.toml",
        &[],
        faults,
    );
    let err = run(cfg, Default::default())
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("faults[0]") && err.contains("hashrate") && err.contains("proof of stake"),
        "{err}"
    );
}

#[test]
fn a_validator_whose_clock_runs_ahead_proposes_early_and_never_double_signs() {
    // `config/pos.toml` for 300 s with 20-slot epochs, validator 3 holding 4/19 of the stake
    // (so that it leads several slots in any 2 minutes: φ = 5.9% per slot); its clock runs
    // 20 s ahead from 60 s to 180 s (and validator 5 pauses meanwhile). Validator 3 leads slots
    // by its own clock: its blocks come 20 s early, and the others refuse them as too new
    // (beyond the 15 s drift). When its clock goes back, the slots it signed by the skewed
    // clock come round again (it led slot 174 at 154 s on this seed): without its slashing
    // protection it would sign a second block for such a slot, be caught and slashed.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/pos.toml");
    let text = std::fs::read_to_string(path).expect("config/pos.toml");
    let faults = "\n[[faults]]\nat = \"60s\"\nkind = \"clock_skew\"\nnode = 3\nms = 20000\nfor = \"120s\"\n\n[[faults]]\nat = \"60s\"\nkind = \"pause\"\nnode = 5\nfor = \"60s\"\n";
    let overrides = [
        "cluster.duration=300s".to_string(),
        "pos.epoch_slots=20".to_string(),
        "pos.stake=[1,1,1,4,1,1,1,1,1,1,1,1,1,1,1,1]".to_string(),
    ];
    let cfg = Config::parse(&format!("{text}{faults}"), "pos-skew.toml", &overrides)
        .expect("a valid config");
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let early: Vec<(u64, u64)> = led(&out)
        .iter()
        .filter(|s| s.3 == 3 && s.2 * 1_000 > s.0)
        .map(|s| (s.0, s.2))
        .collect();
    assert!(
        !early.is_empty(),
        "validator 3 never proposed ahead of time"
    );
    assert!(
        early.iter().all(|(t, slot)| slot * 1_000 == t + 20_000),
        "{early:?}"
    );
    let mut slots: Vec<u64> = led(&out).iter().filter(|s| s.3 == 3).map(|s| s.2).collect();
    let n = slots.len();
    slots.dedup();
    assert_eq!(slots.len(), n, "two blocks for one slot: {slots:?}");
    let equivocations = out
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::Equivocation(_) | Event::Slashed { .. }))
        .count();
    assert_eq!(
        equivocations, 0,
        "an honest validator was caught equivocating"
    );
    assert!(out.report.convergence.converged);
    assert_finality_never_reverted(&out);
}
