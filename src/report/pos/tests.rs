use super::finality::stalls;
use super::*;
use crate::report::testkit::{finalized, led, mined, rec};
use crate::report::{EquivocationEvent, NodeFinal, Report};
use std::sync::Arc;

fn h(i: u8) -> Hash {
    Hash([i; 32])
}

/// `n` validators of equal stake on nodes 0..n, 1 s slots, 10-slot epochs, f = 0.5.
fn pos_facts(n: usize) -> PosFacts {
    PosFacts {
        slot_ms: 1000,
        epoch_slots: 10,
        active_slot_coeff: 0.5,
        single_leader: false,
        validators: (0..n)
            .map(|node| ValidatorFacts {
                node,
                stake: TOTAL_STAKE / n as u64,
            })
            .collect(),
        chain_offset_ms: 0,
    }
}

/// A final-chain block at `height` whose slot starts at `ts` ms.
fn fb(hash: Hash, height: u64, ts: u64) -> FinalBlock {
    FinalBlock {
        hash,
        height,
        timestamp_ms: ts,
        ..FinalBlock::default()
    }
}

/// A proof-of-stake run of `nodes` nodes, all live, for `duration_s`, with this final chain.
fn facts(nodes: usize, duration_s: f64, chain: Vec<FinalBlock>) -> RunFacts {
    let tip = chain.last().map(|b| b.hash).unwrap_or_default();
    RunFacts {
        nodes,
        duration_s,
        finals: (0..nodes)
            .map(|id| NodeFinal {
                id,
                live: true,
                tip,
                height: chain.len().saturating_sub(1) as u64,
                work: 1,
            })
            .collect(),
        chain,
        pos: Some(pos_facts(nodes)),
        ..RunFacts::default()
    }
}

/// Genesis and `k` blocks, block i at slot 2·i.
fn line(k: u8) -> Vec<FinalBlock> {
    (0..=k)
        .map(|i| fb(h(i), u64::from(i), u64::from(i) * 2000))
        .collect()
}

#[test]
fn slots_are_counted_by_distinct_producing_validators() {
    let events = [
        led(1000, 0, 1, 0, h(1)),
        led(2000, 1, 2, 1, h(2)),
        led(2000, 2, 2, 2, h(3)),
        // One validator, two blocks for slot 3 (an equivocation): one leader.
        led(3000, 0, 3, 0, h(4)),
        led(3000, 0, 3, 0, h(5)),
        // After the production period: not a counted slot.
        led(12_000, 3, 12, 3, h(6)),
    ];
    let r = Report::compute(&facts(4, 10.0, line(0)), &Trace::from(&events[..]));
    let s = r.slots.expect("a pos report has slots");
    // Slots 1..=9 start before 10 s; slot 10 starts at the end.
    assert_eq!((s.total, s.empty, s.single, s.multi), (9, 6, 2, 1));
    assert!((s.empty_share - 6.0 / 9.0).abs() < 1e-12);
    assert!((s.multi_share - 1.0 / 9.0).abs() < 1e-12);
}

#[test]
fn slot_range_starts_after_a_resumed_runs_offset() {
    let mut p = pos_facts(1);
    p.chain_offset_ms = 2500;
    // Chain time 2.5 s .. 5.5 s: slots 3, 4 and 5 start in it.
    assert_eq!(p.slot_range(3000), (3, 5));
    p.chain_offset_ms = 0;
    assert!(p.slot_range(0).0 > p.slot_range(0).1, "no slot in no time");
    assert_eq!(p.slot_range(1), (1, 0), "slot 0 is genesis: none counted");
}

#[test]
fn theory_of_two_equal_validators() {
    // φ = 1 − 0.5^0.5; empty = (1 − φ)² = 0.5 = 1 − f; single = 2φ(1 − φ); multi = φ².
    let t = SlotTheory::of(&pos_facts(2));
    let phi = 1.0 - 0.5f64.sqrt();
    assert!((t.empty - 0.5).abs() < 1e-12, "{t:?}");
    assert!((t.single - 2.0 * phi * (1.0 - phi)).abs() < 1e-12, "{t:?}");
    assert!((t.multi - phi * phi).abs() < 1e-12, "{t:?}");
    // Skewed stakes: empty is still 1 − f.
    let mut p = pos_facts(3);
    p.validators[0].stake *= 5;
    let t = SlotTheory::of(&p);
    assert!((t.empty - 0.5).abs() < 1e-12, "{t:?}");
    assert!((t.empty + t.single + t.multi - 1.0).abs() < 1e-12);
    p.single_leader = true;
    let t = SlotTheory::of(&p);
    assert_eq!((t.empty, t.single, t.multi), (0.0, 1.0, 0.0));
}

#[test]
fn validators_count_produced_and_final_chain_blocks() {
    let chain = vec![fb(h(0), 0, 0), fb(h(1), 1, 1000), fb(h(4), 2, 3000)];
    let events = [
        led(1000, 0, 1, 0, h(1)),
        led(2000, 1, 2, 1, h(2)),
        led(3000, 0, 3, 0, h(4)),
        led(3000, 0, 3, 0, h(5)),
    ];
    let r = Report::compute(&facts(3, 10.0, chain), &Trace::from(&events[..]));
    let v = r.validators.expect("a pos report has validators");
    let got: Vec<(u32, NodeId, u64, u64)> = v
        .iter()
        .map(|s| (s.validator, s.node, s.produced, s.on_final_chain))
        .collect();
    assert_eq!(got, vec![(0, 0, 3, 2), (1, 1, 1, 0), (2, 2, 0, 0)]);
    assert!((v[0].stake_share - 1.0 / 3.0).abs() < 1e-9);
    // φ(1/3) with f = 0.5, over 9 slots.
    let phi = 1.0 - 0.5f64.powf(1.0 / 3.0);
    assert!(
        (v[0].expected - 9.0 * phi).abs() < 1e-6,
        "{}",
        v[0].expected
    );
}

#[test]
fn finalized_height_is_what_every_live_node_holds_final() {
    let mut f = facts(3, 60.0, line(6));
    f.finals[2].live = false;
    let events = [
        finalized(20_000, 0, 1, h(2), 2),
        finalized(30_000, 0, 2, h(5), 5),
        finalized(31_000, 1, 1, h(2), 2),
        // Node 2 is down at the end: it does not count.
        finalized(40_000, 2, 0, h(0), 0),
    ];
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!((fin.finalized_height, fin.finalized_epoch), (2, 1));
    f.finals[1].live = false;
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!((fin.finalized_height, fin.finalized_epoch), (5, 2));
    // A live node that finalized nothing: nothing is final everywhere.
    f.finals[2].live = true;
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!(fin.finalized_height, 0);
}

#[test]
fn lag_is_per_node_and_block_from_slot_start_to_first_finality() {
    // Blocks 1..=3 at 2 s, 4 s, 6 s.
    let f = facts(2, 60.0, line(3));
    let events = [
        finalized(10_000, 0, 1, h(2), 2), // node 0: block 1 after 8 s, block 2 after 6 s
        finalized(11_000, 1, 1, h(2), 2), // node 1: 9 s, 7 s
        finalized(11_500, 1, 1, h(2), 2), // again: not a first time
        finalized(16_000, 0, 2, h(3), 3), // node 0: block 3 after 10 s
    ];
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!(fin.lag_s.samples, 5);
    assert_eq!(fin.lag_s.p50, Some(8.0));
    assert_eq!(fin.lag_s.p99, Some(10.0));
    assert_eq!(fin.reverted, 0);
    let none = Report::compute(&f, &Trace::default())
        .finality
        .expect("finality");
    assert_eq!((none.lag_s.p50, none.lag_s.samples), (None, 0));
}

#[test]
fn a_reverted_finalized_block_is_counted_once_and_fails_the_run() {
    let f = facts(2, 60.0, line(3));
    let off_chain = h(0xee);
    let events = [
        finalized(10_000, 0, 1, off_chain, 2),
        finalized(11_000, 1, 1, off_chain, 2),
        finalized(12_000, 1, 1, h(3), 3),
    ];
    let r = Report::compute(&f, &Trace::from(&events[..]));
    let fin = r.finality.as_ref().expect("finality");
    assert_eq!(fin.reverted, 1);
    assert_eq!(r.invariants.checked, 1);
    assert_eq!(r.invariants.violations.len(), 1);
    assert!(
        r.invariants.violations[0].contains(&off_chain.short()),
        "{:?}",
        r.invariants.violations
    );
    assert!(r.failed());
    let ok = Report::compute(&f, &Trace::from(&events[2..]));
    assert_eq!(ok.finality.expect("finality").reverted, 0);
    assert!(ok.invariants.violations.is_empty());
    assert!(!Report::compute(&f, &Trace::from(&events[2..])).failed());
}

#[test]
fn a_stall_is_a_long_gap_in_finality_while_blocks_are_made() {
    // Finality advances at 10 s, 20 s and 60 s; production ends at 70 s; stalls are gaps
    // longer than 30 s.
    let advances = [10_000, 20_000, 60_000];
    assert_eq!(
        stalls(&advances, &mut [25_000, 40_000], 70_000, 30_000),
        (1, 40_000)
    );
    // No block made in the gap (everyone offline): the chain did not grow, no stall.
    assert_eq!(
        stalls(&advances, &mut [5_000, 65_000], 70_000, 30_000),
        (0, 0)
    );
    // Nothing finalized at all in a long run that made blocks: one stall, to the end.
    assert_eq!(stalls(&[], &mut [1_000], 70_000, 30_000), (1, 70_000));
    // The gap after the last advance is cut at the end of production.
    assert_eq!(
        stalls(&[10_000], &mut [30_000], 35_000, 20_000),
        (1, 25_000)
    );

    // Through the report: 10-s epochs, 3 epochs = 30 s.
    let f = facts(1, 70.0, line(6));
    let mut events = vec![
        finalized(10_000, 0, 1, h(1), 1),
        finalized(20_000, 0, 2, h(2), 2),
        mined(25_000, 0, h(7), h(2), 3),
        mined(40_000, 0, h(8), h(7), 4),
        finalized(60_000, 0, 6, h(4), 4),
    ];
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!((fin.stalls, fin.stall_s), (1, 40.0));
    // A node catching up (finalizing heights others already had) is no progress; a new height
    // at 45 s is.
    events.insert(4, finalized(45_000, 0, 4, h(3), 3));
    events.insert(4, finalized(44_000, 1, 2, h(2), 2));
    let fin = Report::compute(&f, &Trace::from(&events[..]))
        .finality
        .expect("finality");
    assert_eq!((fin.stalls, fin.stall_s), (0, 0.0));
}

#[test]
fn equivocations_detected_from_the_trace_included_and_slashed_on_the_final_chain() {
    let stakes = |v: Vec<u64>| Some(Arc::new(v));
    let third = TOTAL_STAKE / 3;
    let mut chain = line(3);
    chain[0].stakes = stakes(vec![third; 3]);
    chain[1].stakes = stakes(vec![third; 3]);
    chain[2].evidence = vec![2, 2];
    chain[2].stakes = stakes(vec![third, third, third / 2]);
    chain[3].stakes = stakes(vec![third, third, third / 2]);
    let ev = |t, node, id| {
        rec(
            t,
            node,
            Event::Equivocation(Box::new(EquivocationEvent {
                offender: 2,
                kind: "double_block".into(),
                evidence: h(id),
            })),
        )
    };
    let events = [ev(1000, 0, 0xa1), ev(1100, 1, 0xa1), ev(1200, 1, 0xa2)];
    let e = Report::compute(&facts(3, 10.0, chain), &Trace::from(&events[..]))
        .equivocations
        .expect("equivocations");
    assert_eq!(
        e,
        Equivocations {
            detected: 2,
            included: 2,
            slashed_stake: third - third / 2,
            slashed: vec![2],
        }
    );
}

#[test]
fn a_proof_of_work_report_has_no_proof_of_stake_keys() {
    let mut f = facts(2, 10.0, line(2));
    f.pos = None;
    let events = [
        mined(1000, 0, h(1), h(0), 1),
        led(1000, 0, 1, 0, h(1)),
        finalized(5000, 0, 1, h(0xee), 1),
    ];
    let r = Report::compute(&f, &Trace::from(&events[..]));
    assert_eq!(r.invariants.checked, 0, "no finality invariant");
    let v = serde_json::to_value(&r).expect("serializes");
    let keys: Vec<&str> = v
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    for k in ["slots", "validators", "finality", "equivocations"] {
        assert!(!keys.contains(&k), "{k} in a proof-of-work report");
    }
    let pos = serde_json::to_value(Report::compute(
        &facts(2, 10.0, line(2)),
        &Trace::from(&events[..]),
    ))
    .expect("serializes");
    for k in ["slots", "validators", "finality", "equivocations"] {
        assert!(pos.get(k).is_some(), "{k} missing from a pos report");
    }
}

#[test]
fn offenders_of_block_items() {
    use crate::block::{Checkpoint, Vote};
    use crate::crypto::Signature;
    let vote = |validator| Vote {
        validator,
        source: Checkpoint {
            epoch: 0,
            hash: h(0),
        },
        target: Checkpoint {
            epoch: 1,
            hash: h(1),
        },
        signature: Signature([0; 64]),
    };
    let items = vec![
        Item::Vote(vote(1)).into(),
        Item::Evidence(Evidence::DoubleVote {
            a: vote(3),
            b: vote(3),
        })
        .into(),
    ];
    assert_eq!(offenders(&items), vec![3]);
}

#[test]
fn facts_of_a_config() {
    let pow = Config::parse("", "t.toml", &[]).expect("the defaults parse");
    assert_eq!(PosFacts::of(&pow, 0), None);
    let text = "[cluster]\nnodes = 4\n[network]\ntopology = \"full-mesh\"\n[consensus]\nkind = \"pos\"\n\
                [pos]\nslot = \"2s\"\nvalidators = [1, 3]\nstake = [3.0, 1.0]\nleader = \"single\"\n";
    let cfg = Config::parse(text, "t.toml", &[]).expect("parses");
    let p = PosFacts::of(&cfg, 7000).expect("pos");
    assert_eq!(
        (p.slot_ms, p.epoch_slots, p.chain_offset_ms),
        (2000, 100, 7000)
    );
    assert!(p.single_leader);
    assert_eq!(
        p.validators,
        vec![
            ValidatorFacts {
                node: 1,
                stake: 750_000_000
            },
            ValidatorFacts {
                node: 3,
                stake: 250_000_000
            }
        ]
    );
    assert_eq!(
        p.leader_probs(),
        vec![0.75, 0.25],
        "α under a single leader"
    );
}
