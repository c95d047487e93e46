//! `adversaries`: what each `[[adversary]]` did and earned on the final best chain, next to
//! the theory where one is known (docs/experiments.md).
//!
//! A double-spend attempt counts once it ended (`attack_published` or `attack_gave_up`); it
//! succeeded when it was published and its conflicting spend is on the final best chain (the
//! chain every live node converged on: the merchant's too, when the run converged). Attempts
//! still open at the end of the run are not counted.
//!
//! A timewarp attacker's `achieved_interval_s` is the mean virtual-clock time between the
//! blocks of the final best chain after genesis, by their mining time (`block_mined`): from the
//! first to the last, over the intervals between them. Timestamps are not used: they are what
//! the attacker bends.

use super::eclipse::{eclipse_stats, EclipseSpec, EclipseStats};
use super::event::Event;
use super::trace::Trace;
use super::FinalBlock;
use crate::adversary::theory::{double_spend_success, nakamoto_double_spend, selfish_revenue};
use crate::adversary::timewarp::{fixed_bound_ms, ideal_interval_ms, WarpRules, MODEL};
use crate::hash::{Hash, TxId};
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, HashSet};

/// The model of `theory.success_rate` for a double-spend attacker.
pub const DOUBLE_SPEND_MODEL: &str = "exact (strictly longer, give-up limit)";

/// The model of `theory.lag_mean` for a delay-mode eclipse.
pub const ECLIPSE_DELAY_MODEL: &str = "poisson blocks, victim sees the chain of delay ago";
/// The model of `theory` for a branch-mode eclipse.
pub const ECLIPSE_BRANCH_MODEL: &str =
    "victim sees only the attacker's chain: z blocks in Gamma(z, I/alpha)";

/// What the report needs to know of one `[[adversary]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AdversarySpec {
    /// `selfish`, ...
    pub kind: String,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its share of the hash power as the run gave it.
    pub hashpower: f64,
    /// Selfish mining: the configured γ (absent: emergent).
    pub gamma: Option<f64>,
    /// Double-spend: the merchant's node.
    pub merchant: Option<NodeId>,
    /// Double-spend: the merchant's confirmations, z.
    pub confirmations: Option<u32>,
    /// Double-spend: how far behind the attacker gives up.
    pub give_up: Option<u32>,
    /// Timewarp: the rules it plays against.
    pub timewarp: Option<WarpRules>,
    /// Eclipse: the victim and the mode.
    pub eclipse: Option<EclipseSpec>,
}

/// `adversaries[i]`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AdversaryStats {
    /// Its kind.
    pub kind: String,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its configured share of the hash power.
    pub hashpower: f64,
    /// Its share of all blocks mined in the run (the hash share it had in effect).
    pub effective_hash_share: f64,
    /// Blocks its nodes mined.
    pub blocks_mined: u64,
    /// Of those, blocks on the final best chain.
    pub blocks_on_chain: u64,
    /// Its share of the final best chain's blocks (after genesis).
    pub revenue_share: f64,
    /// Selfish mining: blocks it withheld, published later, and gave up.
    pub withheld: u64,
    /// Withheld blocks it published.
    pub published: u64,
    /// Withheld blocks it gave up.
    pub gave_up: u64,
    /// Selfish mining: γ as configured (absent: it emerged from the network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Double-spend: the merchant's node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub merchant: Option<NodeId>,
    /// Double-spend: the confirmations the merchant waits for, z.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
    /// Double-spend: how many blocks behind the attacker gives an attempt up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub give_up: Option<u32>,
    /// Double-spend: attempts that ended (published or given up; open ones at the end of the
    /// run are not counted).
    pub attempts: u64,
    /// Double-spend: attempts published whose conflicting spend is on the final best chain.
    pub successes: u64,
    /// Double-spend: `successes / attempts` (absent without an ended attempt).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// Timewarp: the mean virtual-clock time between the final best chain's blocks, by mining
    /// time, s (absent with fewer than two blocks).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_interval_s: Option<f64>,
    /// Timewarp: `consensus.block_interval`, s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_interval_s: Option<f64>,
    /// Timewarp: the rule set (`consensus.time_warp_fix`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_warp_fix: Option<bool>,
    /// The closed form for its figures, where one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<AdversaryTheory>,
    /// Eclipse: the victim's view (`super::eclipse`; branch mode: `attempts`, `successes`
    /// and `success_rate` are the double-spends against the victim).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eclipse: Option<EclipseStats>,
    /// Spam and forkspam: what it sent, what the honest nodes did with it, and the honest
    /// load against the same run without it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub spam: Option<super::SpamStats>,
}

/// `adversaries[i].theory`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AdversaryTheory {
    /// The model.
    pub model: String,
    /// Its revenue share by the model (selfish mining: R(α, γ) with the configured γ; absent
    /// when γ is emergent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_share: Option<f64>,
    /// Selfish mining: R(α, 0) and R(α, 1), the range any γ gives.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_share_range: Option<[f64; 2]>,
    /// Double-spend: the success probability of one attempt by the model named (`model`:
    /// strictly longer to win, giving up `give_up` behind; `double_spend_success`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub success_rate: Option<f64>,
    /// Double-spend: Nakamoto's estimate of the same (Poisson progress, equal length wins,
    /// no give-up; the Bitcoin paper, section 11).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nakamoto: Option<f64>,
    /// Timewarp: the expected `achieved_interval_s` on an ideal network, the rules simulated
    /// over as many blocks as the run's chain (the mean of 32 seeded trials), s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_interval_s: Option<f64>,
    /// Timewarp: the standard error of `achieved_interval_s` (its trials' spread), s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_interval_se_s: Option<f64>,
    /// Timewarp with the fix: the lower bound on the long-run mean interval (the target), s.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub achieved_interval_bound_s: Option<f64>,
}

/// Trials of the timewarp model behind `theory.achieved_interval_s`.
const WARP_TRIALS: u32 = 32;

/// The `adversaries` section.
pub(super) fn adversaries(
    specs: &[AdversarySpec],
    chain: &[FinalBlock],
    events: &Trace,
) -> Vec<AdversaryStats> {
    let on_chain: HashSet<Hash> = chain.iter().skip(1).map(|b| b.hash).collect();
    let on_chain_txs: HashSet<TxId> = chain.iter().flat_map(|b| b.txids.iter().copied()).collect();
    let mined_total = events
        .iter()
        .filter(|r| matches!(r.event, Event::BlockMined(_)))
        .count();
    let mined_at: BTreeMap<Hash, u64> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::BlockMined(m) if on_chain.contains(&m.hash) => Some((m.hash, r.t_ms)),
            _ => None,
        })
        .collect();
    specs
        .iter()
        .map(|spec| {
            let mut s = AdversaryStats {
                kind: spec.kind.clone(),
                nodes: spec.nodes.clone(),
                hashpower: spec.hashpower,
                gamma: spec.gamma,
                merchant: spec.merchant,
                confirmations: spec.confirmations,
                give_up: spec.give_up,
                ..AdversaryStats::default()
            };
            // Double-spend attempts: number → (conflict, published).
            let mut attempts: BTreeMap<u64, (TxId, Option<bool>)> = BTreeMap::new();
            for r in events.iter().filter(|r| spec.nodes.contains(&r.node)) {
                match &r.event {
                    Event::BlockMined(m) => {
                        s.blocks_mined += 1;
                        s.blocks_on_chain += u64::from(on_chain.contains(&m.hash));
                    }
                    Event::Withheld(_) => s.withheld += 1,
                    Event::Published { .. } => s.published += 1,
                    Event::GaveUp { .. } => s.gave_up += 1,
                    Event::AttackStarted(started) => {
                        attempts.insert(started.attempt, (started.conflict, None));
                    }
                    Event::AttackPublished(published) => {
                        if let Some(a) = attempts.get_mut(&published.attempt) {
                            a.1 = Some(true);
                        }
                    }
                    Event::AttackGaveUp { attempt, .. } => {
                        if let Some(a) = attempts.get_mut(attempt) {
                            a.1 = Some(false);
                        }
                    }
                    _ => {}
                }
            }
            for (conflict, published) in attempts.values() {
                let Some(published) = published else { continue };
                s.attempts += 1;
                s.successes += u64::from(*published && on_chain_txs.contains(conflict));
            }
            s.success_rate = (s.attempts > 0).then(|| ratio(s.successes, s.attempts));
            s.effective_hash_share = ratio(s.blocks_mined, mined_total as u64);
            s.revenue_share = ratio(s.blocks_on_chain, on_chain.len() as u64);
            let a = spec.hashpower;
            if spec.kind == "selfish" {
                s.theory = Some(AdversaryTheory {
                    model: "eyal-sirer".into(),
                    revenue_share: spec.gamma.map(|g| selfish_revenue(a, g)),
                    revenue_share_range: Some([selfish_revenue(a, 0.0), selfish_revenue(a, 1.0)]),
                    ..AdversaryTheory::default()
                });
            }
            if let (true, Some(z)) = (spec.kind == "double-spend", spec.confirmations) {
                s.theory = Some(AdversaryTheory {
                    model: DOUBLE_SPEND_MODEL.into(),
                    success_rate: Some(double_spend_success(a, z, spec.give_up)),
                    nakamoto: Some(nakamoto_double_spend(a, z)),
                    ..AdversaryTheory::default()
                });
            }
            if let (true, Some(rules)) = (spec.kind == "timewarp", &spec.timewarp) {
                timewarp(&mut s, a, rules, chain, &mined_at);
            }
            if let Some(e) = &spec.eclipse {
                let (stats, n, won) = eclipse_stats(e, &spec.nodes, a, chain, events);
                s.eclipse = Some(stats);
                match e.mode.as_str() {
                    "delay" => {
                        s.theory = Some(AdversaryTheory {
                            model: ECLIPSE_DELAY_MODEL.into(),
                            ..AdversaryTheory::default()
                        });
                    }
                    "branch" => {
                        s.attempts = n;
                        s.successes = won;
                        s.success_rate = (n > 0).then(|| ratio(won, n));
                        s.theory = Some(AdversaryTheory {
                            model: ECLIPSE_BRANCH_MODEL.into(),
                            success_rate: Some(1.0),
                            ..AdversaryTheory::default()
                        });
                    }
                    _ => {}
                }
            }
            s
        })
        .collect()
}

/// A timewarp attacker's figures: the achieved interval and the model's next to it.
fn timewarp(
    s: &mut AdversaryStats,
    alpha: f64,
    rules: &WarpRules,
    chain: &[FinalBlock],
    mined_at: &BTreeMap<Hash, u64>,
) {
    let times: Vec<u64> = chain
        .iter()
        .skip(1)
        .filter_map(|b| mined_at.get(&b.hash).copied())
        .collect();
    s.achieved_interval_s = match times.as_slice() {
        [first, .., last] => {
            Some(last.saturating_sub(*first) as f64 / 1000.0 / (times.len() - 1) as f64)
        }
        _ => None,
    };
    s.target_interval_s = Some(rules.pow.block_interval_ms as f64 / 1000.0);
    s.time_warp_fix = Some(rules.pow.time_warp_fix);
    let blocks = chain.len().saturating_sub(1) as u64;
    let model = ideal_interval_ms(alpha, rules, blocks, WARP_TRIALS, blocks);
    s.theory = Some(AdversaryTheory {
        model: MODEL.into(),
        achieved_interval_s: model.map(|(m, _)| m / 1000.0),
        achieved_interval_se_s: model.map(|(_, se)| se / 1000.0),
        achieved_interval_bound_s: rules
            .pow
            .time_warp_fix
            .then(|| fixed_bound_ms(rules) / 1000.0),
        ..AdversaryTheory::default()
    });
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TraceRecord;
    use crate::report::{AttackPublishedEvent, AttackStartedEvent, BlockMinedEvent, WithheldEvent};

    fn mined(t_ms: u64, node: NodeId, hash: Hash, height: u64) -> TraceRecord {
        TraceRecord {
            t_ms,
            node,
            event: Event::BlockMined(Box::new(BlockMinedEvent {
                hash,
                height,
                parent: Hash::ZERO,
                miner: node,
                txs: 0,
                difficulty: 1,
            })),
        }
    }

    fn block(hash: Hash, height: u64) -> FinalBlock {
        FinalBlock {
            hash,
            height,
            ..FinalBlock::default()
        }
    }

    #[test]
    fn revenue_counts_the_pools_blocks_on_the_final_chain() {
        let h = |i: u8| Hash([i; 32]);
        let events = [
            mined(1, 0, h(1), 1),
            mined(2, 1, h(2), 1), // the pool's, reverted
            mined(3, 1, h(3), 2),
            mined(4, 0, h(4), 3),
            TraceRecord {
                t_ms: 3,
                node: 1,
                event: Event::Withheld(Box::new(WithheldEvent {
                    hash: h(3),
                    height: 2,
                    lead: 1,
                })),
            },
        ];
        let chain = vec![
            block(Hash::ZERO, 0),
            block(h(1), 1),
            block(h(3), 2),
            block(h(4), 3),
        ];
        let spec = AdversarySpec {
            kind: "selfish".into(),
            nodes: vec![1],
            hashpower: 0.3,
            gamma: Some(0.5),
            merchant: None,
            confirmations: None,
            give_up: None,
            timewarp: None,
            eclipse: None,
        };
        let s = &adversaries(&[spec], &chain, &Trace::from(&events[..]))[0];
        assert_eq!((s.blocks_mined, s.blocks_on_chain, s.withheld), (2, 1, 1));
        assert!((s.revenue_share - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.effective_hash_share - 0.5).abs() < 1e-12);
        let t = s.theory.as_ref().unwrap();
        assert_eq!(t.revenue_share, Some(selfish_revenue(0.3, 0.5)));
        let [lo, hi] = t.revenue_share_range.unwrap();
        assert!(lo < hi);
        assert_eq!((s.attempts, s.success_rate), (0, None));
    }

    #[test]
    fn a_timewarp_attacker_gets_the_chains_pace_by_mining_time_and_the_model() {
        let h = |i: u8| Hash([i; 32]);
        // Blocks 1..=3 mined at 10 s, 25 s and 40 s; a stale block at 30 s does not count.
        let events = [
            mined(10_000, 0, h(1), 1),
            mined(25_000, 1, h(2), 2),
            mined(30_000, 0, h(9), 3),
            mined(40_000, 0, h(3), 3),
        ];
        let mut chain = vec![block(Hash::ZERO, 0), block(h(1), 1)];
        chain.extend([block(h(2), 2), block(h(3), 3)]);
        for fix in [true, false] {
            let rules = WarpRules {
                pow: crate::consensus::pow::Pow {
                    block_interval_ms: 10_000,
                    retarget_interval: 10,
                    initial_difficulty: 1_000,
                    time_warp_fix: fix,
                },
                max_future_ms: 15_000,
            };
            let spec = AdversarySpec {
                kind: "timewarp".into(),
                nodes: vec![0],
                hashpower: 0.4,
                gamma: None,
                merchant: None,
                confirmations: None,
                give_up: None,
                timewarp: Some(rules.clone()),
                eclipse: None,
            };
            let s = &adversaries(&[spec], &chain, &Trace::from(&events[..]))[0];
            assert_eq!(s.achieved_interval_s, Some(15.0));
            assert_eq!(s.target_interval_s, Some(10.0));
            assert_eq!(s.time_warp_fix, Some(fix));
            let t = s.theory.as_ref().unwrap();
            assert_eq!(t.model, MODEL);
            let (m, se) = ideal_interval_ms(0.4, &rules, 3, WARP_TRIALS, 3).unwrap();
            assert_eq!(
                (t.achieved_interval_s, t.achieved_interval_se_s),
                (Some(m / 1000.0), Some(se / 1000.0))
            );
            assert_eq!(t.achieved_interval_bound_s, fix.then_some(10.0));
            let v = serde_json::to_value(s).unwrap();
            assert!(v.get("success_rate").is_none() && v.get("gamma").is_none());
        }
    }

    fn at(t_ms: u64, node: NodeId, event: Event) -> TraceRecord {
        TraceRecord { t_ms, node, event }
    }

    #[test]
    fn an_attempt_succeeds_when_published_with_its_conflict_on_the_final_chain() {
        let h = |i: u8| Hash([i; 32]);
        let started = |attempt: u64, conflict: u8| {
            Event::AttackStarted(Box::new(AttackStartedEvent {
                attempt,
                height: 0,
                payment: h(100 + conflict),
                conflict: h(conflict),
            }))
        };
        let published = |attempt: u64| {
            Event::AttackPublished(Box::new(AttackPublishedEvent {
                attempt,
                private: 3,
                public: 2,
                confirmations: 2,
                payment_block: h(9),
            }))
        };
        let gave_up = |attempt: u64| Event::AttackGaveUp {
            attempt,
            private: 0,
            public: 20,
            confirmations: 20,
        };
        let events = [
            at(1, 0, started(0, 10)),
            at(2, 0, published(0)), // its conflict is on the final chain: a success
            at(3, 0, started(1, 11)),
            at(4, 0, published(1)), // published, but the payment stayed: a failure
            at(5, 0, started(2, 12)),
            at(6, 0, gave_up(2)),
            at(7, 0, started(3, 13)), // open at the end: not counted
            at(8, 1, published(3)),   // another node's: not this adversary's
        ];
        let mut b = block(h(1), 1);
        b.txids = vec![h(10), h(13)];
        let chain = vec![block(Hash::ZERO, 0), b];
        let spec = AdversarySpec {
            kind: "double-spend".into(),
            nodes: vec![0],
            hashpower: 0.3,
            gamma: None,
            merchant: Some(1),
            confirmations: Some(2),
            give_up: Some(20),
            timewarp: None,
            eclipse: None,
        };
        let s = &adversaries(&[spec], &chain, &Trace::from(&events[..]))[0];
        assert_eq!((s.attempts, s.successes), (3, 1));
        assert_eq!(s.success_rate, Some(1.0 / 3.0));
        assert_eq!(
            (s.merchant, s.confirmations, s.give_up),
            (Some(1), Some(2), Some(20))
        );
        let t = s.theory.as_ref().unwrap();
        assert_eq!(t.model, DOUBLE_SPEND_MODEL);
        assert_eq!(t.success_rate, Some(double_spend_success(0.3, 2, Some(20))));
        assert_eq!(t.nakamoto, Some(nakamoto_double_spend(0.3, 2)));
        assert!(t.revenue_share_range.is_none());
        let v = serde_json::to_value(s).unwrap();
        assert!(v["theory"].get("revenue_share_range").is_none());
        assert_eq!(v["successes"], 1);
    }
}
