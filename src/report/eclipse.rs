//! `adversaries[i].eclipse`: what an eclipse attacker (`[[adversary]] kind = "eclipse"`) did
//! to its victim's view (docs/experiments.md, "Eclipse").
//!
//! - **Lag.** The network's height is the highest tip of the nodes that are neither the
//!   victim nor the attacker's (from their `tip_changed` events); the victim's is its own
//!   tip's. The lag is the network's height minus the victim's (0 when the victim is ahead).
//!   `lag_mean` is its time average over the mining period `[0, cluster.duration]`: the lag
//!   at a random time, the quantity the theory gives; `lag_max` its largest value there;
//!   `network_height` and `victim_height` the two heights at the period's end.
//! - **Extra delay.** For each block of the final best chain mined by a node that is neither
//!   the victim nor the attacker's within the mining period, and stored by the victim and by
//!   at least one other such node (not its miner): the victim's storing time minus the mean storing time of those
//!   other nodes (`block_imported`, first at each node). `extra_delay_mean_s` is its mean over
//!   those blocks (`blocks_received` of them); `blocks_missed` counts the blocks of the same
//!   kind some other node stored and the victim never did (by the end of the run).
//! - **Branch attempts.** An attempt counts once the victim was released (`eclipse_released`).
//!   The victim **accepted** the payment when its tip became a block the attacker fed it in
//!   that attempt, at least `confirmations − 1` above the private block holding the payment
//!   (it saw z confirmations); `accept_time_mean_s` is the mean time from `eclipse_started`
//!   to then. An attempt **succeeded** when the victim accepted and the payment is not on the
//!   final best chain.

use super::event::Event;
use super::trace::Trace;
use super::FinalBlock;
use crate::hash::{Hash, TxId};
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// What the report needs to know of an eclipse entry.
#[derive(Clone, Debug, PartialEq)]
pub struct EclipseSpec {
    /// The eclipsed node.
    pub victim: NodeId,
    /// `delay`, `filter` or `branch`.
    pub mode: String,
    /// `delay`, ms.
    pub delay_ms: u64,
    /// Branch mode: the victim's z.
    pub confirmations: Option<u32>,
    /// The mining period, ms (`cluster.duration`).
    pub window_ms: u64,
    /// `consensus.block_interval`, ms.
    pub block_interval_ms: u64,
}

/// `adversaries[i].eclipse`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EclipseStats {
    /// The eclipsed node.
    pub victim: NodeId,
    /// `delay`, `filter` or `branch`.
    pub mode: String,
    /// `delay` in seconds (absent in filter mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_s: Option<f64>,
    /// Time-averaged lag over the mining period, blocks.
    pub lag_mean: f64,
    /// Largest lag over the mining period, blocks.
    pub lag_max: u64,
    /// The network's height at the end of the mining period.
    pub network_height: u64,
    /// The victim's height at the end of the mining period.
    pub victim_height: u64,
    /// Mean extra time the victim took to store a block the rest of the network stored, s
    /// (absent when it stored none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_delay_mean_s: Option<f64>,
    /// Blocks that figure in `extra_delay_mean_s`.
    pub blocks_received: u64,
    /// Blocks the rest of the network stored and the victim never did.
    pub blocks_missed: u64,
    /// Items held back (`eclipse_delayed` events).
    pub delayed: u64,
    /// Items kept from the victim for good (`eclipse_filtered` events).
    pub filtered: u64,
    /// Private blocks fed to the victim (`eclipse_fed` events).
    pub fed: u64,
    /// Branch mode: the victim's z.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
    /// Branch mode: released attempts in which the victim saw z confirmations.
    pub accepted: u64,
    /// Branch mode: mean time from an attempt's start to the victim's z-th confirmation, s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_time_mean_s: Option<f64>,
    /// The theory's figures, under the same names (a sweep of `eclipse.X` finds its theory
    /// at `eclipse.theory.X`); absent in filter mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<EclipseTheory>,
}

/// `adversaries[i].eclipse.theory`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct EclipseTheory {
    /// Delay mode: the victim's mean lag, delay/I blocks ([`delay_lag`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lag_mean: Option<f64>,
    /// Branch mode: the mean time to the victim's z-th confirmation, z·I/α seconds
    /// ([`branch_accept_time_s`]; absent without hash power).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accept_time_mean_s: Option<f64>,
}

/// One branch attempt, from the trace.
#[derive(Default)]
struct Attempt {
    started_ms: u64,
    payment: TxId,
    released: Option<u64>,
    accepted_ms: Option<u64>,
}

/// The figures of the eclipse entry with nodes `nodes` and hash share `alpha`; returns them
/// with its attempts and successes (branch mode).
pub(super) fn eclipse_stats(
    spec: &EclipseSpec,
    nodes: &[NodeId],
    alpha: f64,
    chain: &[FinalBlock],
    events: &Trace,
) -> (EclipseStats, u64, u64) {
    let victim = spec.victim;
    let outside = |n: NodeId| n != victim && !nodes.contains(&n);
    let mut s = EclipseStats {
        victim,
        mode: spec.mode.clone(),
        delay_s: (spec.mode != "filter").then(|| spec.delay_ms as f64 / 1000.0),
        confirmations: spec.confirmations,
        theory: match spec.mode.as_str() {
            "delay" => Some(EclipseTheory {
                lag_mean: Some(delay_lag(spec.delay_ms, spec.block_interval_ms)),
                ..EclipseTheory::default()
            }),
            "branch" => Some(EclipseTheory {
                accept_time_mean_s: branch_accept_time_s(
                    spec.confirmations.unwrap_or(1),
                    alpha,
                    spec.block_interval_ms,
                ),
                ..EclipseTheory::default()
            }),
            _ => None,
        },
        ..EclipseStats::default()
    };
    let final_blocks: BTreeSet<Hash> = chain.iter().map(|b| b.hash).collect();
    // Lag, time-weighted over [0, window].
    let mut heights: BTreeMap<NodeId, u64> = BTreeMap::new();
    let mut victim_h = 0u64;
    let (mut last_t, mut area) = (0u64, 0u128);
    let lag_of = |heights: &BTreeMap<NodeId, u64>, v: u64| {
        heights
            .values()
            .max()
            .copied()
            .unwrap_or(0)
            .saturating_sub(v)
    };
    // Extra delay: honest blocks mined in the window (hash → miner), first store per node.
    let mut mined: BTreeMap<Hash, NodeId> = BTreeMap::new();
    let mut stored: BTreeMap<Hash, BTreeMap<NodeId, u64>> = BTreeMap::new();
    // Branch attempts.
    let mut attempts: BTreeMap<u64, Attempt> = BTreeMap::new();
    let mut fed: BTreeMap<Hash, (u64, u64)> = BTreeMap::new();
    let mut victim_tips: Vec<(u64, Hash)> = Vec::new();
    for r in events {
        let in_window = r.t_ms <= spec.window_ms;
        match &r.event {
            Event::TipChanged { hash, height } => {
                if in_window {
                    let t = r.t_ms.max(last_t);
                    area += u128::from(lag_of(&heights, victim_h)) * u128::from(t - last_t);
                    last_t = t;
                }
                if r.node == victim {
                    victim_tips.push((r.t_ms, *hash));
                }
                if in_window {
                    if r.node == victim {
                        victim_h = *height;
                    } else if outside(r.node) {
                        heights.insert(r.node, *height);
                    }
                    s.lag_max = s.lag_max.max(lag_of(&heights, victim_h));
                }
            }
            Event::BlockMined(m)
                if in_window && outside(m.miner) && final_blocks.contains(&m.hash) =>
            {
                mined.insert(m.hash, m.miner);
            }
            Event::BlockImported { hash, .. }
                if (r.node == victim || outside(r.node)) && mined.contains_key(hash) =>
            {
                stored
                    .entry(*hash)
                    .or_default()
                    .entry(r.node)
                    .or_insert(r.t_ms);
            }
            Event::EclipseDelayed(d) if d.victim == victim => s.delayed += 1,
            Event::EclipseFiltered(f) if f.victim == victim => s.filtered += 1,
            Event::EclipseFed(f) if f.victim == victim && nodes.contains(&r.node) => {
                s.fed += 1;
                fed.insert(f.hash, (f.attempt, f.height));
            }
            Event::EclipseStarted(a) if a.victim == victim && nodes.contains(&r.node) => {
                attempts.insert(
                    a.attempt,
                    Attempt {
                        started_ms: r.t_ms,
                        payment: a.payment,
                        ..Attempt::default()
                    },
                );
            }
            Event::EclipseReleased {
                victim: v,
                attempt,
                payment_height,
                ..
            } if *v == victim && nodes.contains(&r.node) => {
                if let Some(a) = attempts.get_mut(attempt) {
                    a.released = Some(*payment_height);
                }
            }
            _ => {}
        }
    }
    if spec.window_ms > last_t {
        area += u128::from(lag_of(&heights, victim_h)) * u128::from(spec.window_ms - last_t);
    }
    if spec.window_ms > 0 {
        s.lag_mean = area as f64 / spec.window_ms as f64;
    }
    s.network_height = heights.values().max().copied().unwrap_or(0);
    s.victim_height = victim_h;
    // Extra delay.
    let mut extra_sum = 0.0;
    for (hash, miner) in &mined {
        let Some(at) = stored.get(hash) else { continue };
        let rest: Vec<u64> = at
            .iter()
            .filter(|(n, _)| **n != victim && **n != *miner)
            .map(|(_, t)| *t)
            .collect();
        if rest.is_empty() {
            continue;
        }
        match at.get(&victim) {
            Some(tv) => {
                let mean = rest.iter().map(|t| *t as f64).sum::<f64>() / rest.len() as f64;
                extra_sum += *tv as f64 - mean;
                s.blocks_received += 1;
            }
            None => s.blocks_missed += 1,
        }
    }
    if s.blocks_received > 0 {
        s.extra_delay_mean_s = Some(extra_sum / s.blocks_received as f64 / 1000.0);
    }
    // Branch attempts.
    let z = u64::from(spec.confirmations.unwrap_or(1).max(1));
    for (t, hash) in &victim_tips {
        let Some((k, height)) = fed.get(hash) else {
            continue;
        };
        let Some(a) = attempts.get_mut(k) else {
            continue;
        };
        if let Some(p) = a.released.filter(|p| *p > 0) {
            if *height + 1 >= p + z && a.accepted_ms.is_none() {
                a.accepted_ms = Some(*t);
            }
        }
    }
    let on_chain: BTreeSet<TxId> = chain.iter().flat_map(|b| b.txids.iter().copied()).collect();
    let (mut n, mut won, mut accept_sum) = (0u64, 0u64, 0u64);
    for a in attempts.values().filter(|a| a.released.is_some()) {
        n += 1;
        if let Some(t) = a.accepted_ms {
            s.accepted += 1;
            accept_sum += t.saturating_sub(a.started_ms);
            won += u64::from(!on_chain.contains(&a.payment));
        }
    }
    if s.accepted > 0 {
        s.accept_time_mean_s = Some(accept_sum as f64 / s.accepted as f64 / 1000.0);
    }
    (s, n, won)
}

/// The victim's mean lag in delay mode by the theory: blocks arrive as a Poisson process of
/// rate 1/I, the victim sees the network's chain of `delay` ago, so its lag at a random time
/// is the number of blocks mined in the last `delay`: delay/I on average.
pub fn delay_lag(delay_ms: u64, block_interval_ms: u64) -> f64 {
    if block_interval_ms == 0 {
        return 0.0;
    }
    delay_ms as f64 / block_interval_ms as f64
}

/// The mean time a branch-mode attacker with share `alpha` of the hash power takes to mine
/// `z` blocks (Gamma(z, I/α): z·I/α), seconds; `None` without hash power.
pub fn branch_accept_time_s(z: u32, alpha: f64, block_interval_ms: u64) -> Option<f64> {
    (alpha > 0.0).then(|| f64::from(z) * block_interval_ms as f64 / 1000.0 / alpha)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TraceRecord;
    use crate::report::{BlockMinedEvent, EclipseFedEvent, EclipseStartedEvent};

    fn at(t_ms: u64, node: NodeId, event: Event) -> TraceRecord {
        TraceRecord { t_ms, node, event }
    }

    fn tip(height: u64, i: u8) -> Event {
        Event::TipChanged {
            hash: Hash([i; 32]),
            height,
        }
    }

    fn spec(mode: &str) -> EclipseSpec {
        EclipseSpec {
            victim: 3,
            mode: mode.into(),
            delay_ms: 10,
            confirmations: Some(2),
            window_ms: 100,
            block_interval_ms: 50,
        }
    }

    #[test]
    fn lag_is_time_weighted_over_the_mining_period() {
        // Node 0 is the attacker's (ignored), 1 and 2 honest, 3 the victim.
        let events = [
            at(0, 1, tip(0, 0)),
            at(0, 3, tip(0, 0)),
            at(0, 0, tip(9, 9)), // the attacker's height does not count
            at(20, 1, tip(1, 1)),
            at(30, 2, tip(2, 2)),
            at(40, 3, tip(1, 1)),
            at(60, 3, tip(2, 2)),
            at(150, 2, tip(5, 5)), // after the window
        ];
        let (s, n, won) = eclipse_stats(&spec("delay"), &[0], 0.3, &[], &Trace::from(&events[..]));
        // Lag 0 on [0, 20), 1 on [20, 30), 2 on [30, 40), 1 on [40, 60), 0 on [60, 100].
        assert!((s.lag_mean - (10.0 + 20.0 + 20.0) / 100.0).abs() < 1e-12);
        assert_eq!((s.lag_max, s.network_height, s.victim_height), (2, 2, 2));
        assert_eq!((n, won), (0, 0));
        assert_eq!(s.delay_s, Some(0.01));
        assert_eq!(s.theory.unwrap().lag_mean, Some(0.2));
        assert_eq!(
            eclipse_stats(&spec("filter"), &[0], 0.3, &[], &Trace::from(&events[..]))
                .0
                .delay_s,
            None
        );
    }

    #[test]
    fn extra_delay_compares_the_victim_with_the_other_nodes() {
        let h = |i: u8| Hash([i; 32]);
        let mined = |i: u8, miner: NodeId| {
            Event::BlockMined(Box::new(BlockMinedEvent {
                hash: h(i),
                height: 1,
                parent: Hash::ZERO,
                miner,
                txs: 0,
                difficulty: 1,
            }))
        };
        let stored = |i: u8| Event::BlockImported {
            hash: h(i),
            height: 1,
        };
        let events = vec![
            at(0, 1, mined(1, 1)),
            at(0, 1, stored(1)),  // its miner: not counted
            at(10, 2, stored(1)), // the rest: 10
            at(12, 0, stored(1)), // the attacker: not counted
            at(40, 3, stored(1)), // the victim: 30 later
            at(50, 2, mined(2, 2)),
            at(60, 1, stored(2)), // the victim never stores it: missed
            at(70, 0, mined(3, 0)),
            at(71, 3, stored(3)), // the attacker's block: not counted
        ];
        let chain: Vec<FinalBlock> = (1..=3)
            .map(|i| FinalBlock {
                hash: h(i),
                ..FinalBlock::default()
            })
            .collect();
        let (s, ..) = eclipse_stats(&spec("delay"), &[0], 0.3, &chain, &Trace::from(&events[..]));
        assert_eq!((s.blocks_received, s.blocks_missed), (1, 1));
        // Blocks off the final chain (a lost race) do not count.
        let (s, ..) = eclipse_stats(
            &spec("delay"),
            &[0],
            0.3,
            &chain[..1],
            &Trace::from(&events[..]),
        );
        assert_eq!((s.blocks_received, s.blocks_missed), (1, 0));
        assert!((s.extra_delay_mean_s.unwrap() - 0.030).abs() < 1e-12);
    }

    #[test]
    fn an_attempt_succeeds_when_the_victim_saw_z_confirmations_of_a_payment_off_the_chain() {
        let h = |i: u8| Hash([i; 32]);
        let started = |attempt: u64, pay: u8| {
            Event::EclipseStarted(Box::new(EclipseStartedEvent {
                victim: 3,
                attempt,
                height: 0,
                payment: h(pay),
                conflict: h(pay + 1),
            }))
        };
        let fed = |attempt: u64, i: u8, height: u64| {
            Event::EclipseFed(Box::new(EclipseFedEvent {
                victim: 3,
                attempt,
                hash: h(i),
                height,
            }))
        };
        let released = |attempt: u64, payment_height: u64| Event::EclipseReleased {
            victim: 3,
            attempt,
            fed: 2,
            confirmations: 2,
            payment_height,
        };
        let events = vec![
            at(0, 0, started(0, 100)),
            at(10, 0, fed(0, 1, 1)),
            at(11, 3, tip(1, 1)),
            at(20, 0, fed(0, 2, 2)),
            at(21, 3, tip(2, 2)), // z = 2 seen at 21
            at(30, 0, released(0, 1)),
            at(40, 0, started(1, 110)),
            at(50, 0, fed(1, 11, 5)),
            at(51, 3, tip(5, 11)), // one confirmation only
            at(60, 0, released(1, 5)),
            at(70, 0, started(2, 120)), // open at the end: not counted
            at(80, 0, fed(2, 21, 9)),
            at(81, 3, tip(9, 21)),
            at(90, 1, released(2, 9)), // another node's: not the attacker's
        ];
        let (s, n, won) = eclipse_stats(&spec("branch"), &[0], 0.5, &[], &Trace::from(&events[..]));
        assert_eq!((n, won, s.accepted, s.fed), (2, 1, 1, 4));
        assert!((s.accept_time_mean_s.unwrap() - 0.021).abs() < 1e-12);
        // z·I/α = 2 · 50 ms / 0.5.
        assert_eq!(s.theory.unwrap().accept_time_mean_s, Some(0.2));
        // The payment on the final chain: no success.
        let chain = vec![FinalBlock {
            txids: vec![h(100)],
            ..FinalBlock::default()
        }];
        assert_eq!(
            eclipse_stats(
                &spec("branch"),
                &[0],
                0.5,
                &chain,
                &Trace::from(&events[..])
            )
            .2,
            0
        );
    }

    #[test]
    fn the_theory() {
        assert!((delay_lag(120_000, 60_000) - 2.0).abs() < 1e-12);
        assert_eq!(delay_lag(1, 0), 0.0);
        assert_eq!(branch_accept_time_s(3, 0.5, 60_000), Some(360.0));
        assert_eq!(branch_accept_time_s(3, 0.0, 60_000), None);
    }
}
