//! Proof of stake in the report: leaders per slot against the model ([`Slots`]), blocks per
//! validator ([`ValidatorStats`]), finality ([`Finality`], in `pos/finality.rs`) and
//! equivocations ([`Equivocations`]), computed from the trace (`slot_led`, `finalized`,
//! `equivocation`, `block_mined`) and the final chain. Every figure is defined in
//! `docs/trace.md`; the theory values are derived in `docs/pos.md`.

mod finality;

pub use finality::Finality;

use super::event::Event;
use super::trace::Trace;
use super::{FinalBlock, Invariants, RunFacts};
use crate::block::{Evidence, Item, Seal, SharedItem};
use crate::config::{Config, ConsensusKind, TOTAL_STAKE};
use crate::consensus::pos::LeaderRule;
use crate::hash::Hash;
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// One validator of the genesis set, as the report needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ValidatorFacts {
    /// The node it runs on.
    pub node: NodeId,
    /// Its stake at genesis (units).
    pub stake: u64,
}

/// The proof-of-stake facts of a run's config.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PosFacts {
    /// Slot length, ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// f, the active slot coefficient.
    pub active_slot_coeff: f64,
    /// `leader = "single"`: one proposer per slot.
    pub single_leader: bool,
    /// The validators, by index.
    pub validators: Vec<ValidatorFacts>,
    /// Chain time at cluster time 0, ms (0 unless the run resumed a store or has a genesis
    /// time): a block's timestamp minus this is its slot's start in trace time.
    pub chain_offset_ms: u64,
}

impl PosFacts {
    /// The facts of `cfg` (`None` unless `consensus.kind = "pos"`); `chain_offset_ms` is the
    /// chain time at which the run's clock started.
    pub fn of(cfg: &Config, chain_offset_ms: u64) -> Option<PosFacts> {
        if cfg.consensus.kind != ConsensusKind::Pos {
            return None;
        }
        let n = cfg.cluster.nodes;
        let p = &cfg.pos;
        Some(PosFacts {
            slot_ms: u64::try_from(p.slot.as_millis()).unwrap_or(u64::MAX).max(1),
            epoch_slots: p.epoch_slots.max(1),
            active_slot_coeff: p.active_slot_coeff,
            single_leader: p.leader == LeaderRule::Single,
            validators: p
                .validator_ids(n)
                .into_iter()
                .zip(p.genesis_stakes(n))
                .map(|(node, stake)| ValidatorFacts { node, stake })
                .collect(),
            chain_offset_ms,
        })
    }

    /// Each validator's relative stake α_i at genesis.
    fn shares(&self) -> Vec<f64> {
        let total: u64 = self.validators.iter().map(|v| v.stake).sum();
        let total = if total == 0 { TOTAL_STAKE } else { total } as f64;
        self.validators
            .iter()
            .map(|v| v.stake as f64 / total)
            .collect()
    }

    /// Each validator's chance to lead a slot with everyone online: φ(α) = 1 − (1 − f)^α under
    /// the lottery, α under a single leader.
    fn leader_probs(&self) -> Vec<f64> {
        let q = 1.0 - self.active_slot_coeff;
        self.shares()
            .into_iter()
            .map(|a| {
                if self.single_leader {
                    a
                } else {
                    1.0 - q.powf(a)
                }
            })
            .collect()
    }

    /// The slots the report counts, as (first, last) inclusive: from the first slot after
    /// genesis that starts at or after the run's start to the last one that starts before the
    /// production period (`duration`) ends. `first > last` when there is none.
    fn slot_range(&self, duration_ms: u64) -> (u64, u64) {
        let first = self.chain_offset_ms.div_ceil(self.slot_ms).max(1);
        let end = self.chain_offset_ms.saturating_add(duration_ms);
        let last = end.saturating_sub(1) / self.slot_ms;
        (first, if end == 0 { 0 } else { last })
    }

    /// Epoch length, ms.
    fn epoch_ms(&self) -> u64 {
        self.slot_ms.saturating_mul(self.epoch_slots)
    }
}

/// `slots.theory`: the model's shares with all stake online.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SlotTheory {
    /// No leader: ∏(1 − φ_i) = 1 − f (0 under a single leader).
    pub empty: f64,
    /// Exactly one: Σ φ_i ∏_{j≠i}(1 − φ_j) (1 under a single leader).
    pub single: f64,
    /// Two or more: 1 − empty − single.
    pub multi: f64,
}

impl SlotTheory {
    fn of(p: &PosFacts) -> SlotTheory {
        if p.single_leader {
            return SlotTheory {
                empty: 0.0,
                single: 1.0,
                multi: 0.0,
            };
        }
        let phis = p.leader_probs();
        let empty: f64 = phis.iter().map(|phi| 1.0 - phi).product();
        // 1 − φ_i = (1 − f)^α_i > 0, so the product without i is empty / (1 − φ_i).
        let single: f64 = phis.iter().map(|phi| phi * empty / (1.0 - phi)).sum();
        SlotTheory {
            empty,
            single,
            multi: (1.0 - empty - single).max(0.0),
        }
    }
}

/// `slots`: how many validators produced a block for each slot of the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Slots {
    /// Slots counted (see `docs/trace.md`).
    pub total: u64,
    /// Slots nobody produced a block for.
    pub empty: u64,
    /// Slots exactly one validator produced for.
    pub single: u64,
    /// Slots two or more validators produced for.
    pub multi: u64,
    /// empty / total (0 without slots).
    pub empty_share: f64,
    /// single / total.
    pub single_share: f64,
    /// multi / total.
    pub multi_share: f64,
    /// The model's shares for the configured stakes and f, everyone online.
    pub theory: SlotTheory,
}

/// `validators[i]`: one validator's production.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ValidatorStats {
    /// Its index.
    pub validator: u32,
    /// Its node.
    pub node: NodeId,
    /// Its share of the stake at genesis.
    pub stake_share: f64,
    /// Blocks the model expects it to produce over `slots.total` with everyone online:
    /// φ(α)·total (α·total under a single leader).
    pub expected: f64,
    /// Distinct blocks it produced (`slot_led` events).
    pub produced: u64,
    /// Of those, on the final chain.
    pub on_final_chain: u64,
}

/// `equivocations`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Equivocations {
    /// Distinct evidence ids in `equivocation` events.
    pub detected: u64,
    /// Evidence items included on the final chain (also those against a validator already
    /// slashed, which change nothing).
    pub included: u64,
    /// Stake the final chain's slashings removed: genesis stakes minus the tip's, summed.
    pub slashed_stake: u64,
    /// Validators with evidence included on the final chain, by index.
    pub slashed: Vec<u32>,
}

/// Everything proof of stake adds to the report.
pub(super) struct PosFigures {
    pub(super) slots: Slots,
    pub(super) validators: Vec<ValidatorStats>,
    pub(super) finality: Finality,
    pub(super) equivocations: Equivocations,
    /// Finalized blocks not on the final chain, for the invariant lines.
    reverted: Vec<finality::Reverted>,
}

impl PosFigures {
    /// The figures of a proof-of-stake run (`None` for proof of work).
    pub(super) fn of(
        facts: &RunFacts,
        events: &Trace,
        chain_pos: &HashMap<Hash, usize>,
    ) -> Option<PosFigures> {
        let p = facts.pos.as_ref()?;
        let duration_ms = (facts.duration_s * 1000.0).round() as u64;
        let range = p.slot_range(duration_ms);
        let leaders = leaders_by_slot(events);
        let slots = slot_counts(p, range, &leaders);
        let validators = validator_stats(p, slots.total, events, chain_pos);
        let (finality, reverted) = finality::finality(facts, p, events, chain_pos, duration_ms);
        Some(PosFigures {
            slots,
            validators,
            finality,
            equivocations: equivocations(&facts.chain, p, events),
            reverted,
        })
    }

    /// Adds the run invariant `finality.reverted = 0`: one check, one line per reverted block.
    pub(super) fn check_invariants(&self, inv: &mut Invariants) {
        inv.checked += 1;
        inv.violations
            .extend(self.reverted.iter().map(finality::Reverted::line));
    }
}

/// The distinct validators with a `slot_led` event, by slot.
fn leaders_by_slot(events: &Trace) -> BTreeMap<u64, BTreeSet<u32>> {
    let mut by_slot: BTreeMap<u64, BTreeSet<u32>> = BTreeMap::new();
    for r in events {
        if let Event::SlotLed(led) = &r.event {
            by_slot.entry(led.slot).or_default().insert(led.validator);
        }
    }
    by_slot
}

/// `slots` over the slots `first..=last`.
fn slot_counts(
    p: &PosFacts,
    (first, last): (u64, u64),
    leaders: &BTreeMap<u64, BTreeSet<u32>>,
) -> Slots {
    let total = if last >= first { last - first + 1 } else { 0 };
    let (mut single, mut multi) = (0, 0);
    if total > 0 {
        for who in leaders.range(first..=last).map(|(_, v)| v) {
            match who.len() {
                0 => {}
                1 => single += 1,
                _ => multi += 1,
            }
        }
    }
    let empty = total - single - multi;
    let share = |x: u64| {
        if total == 0 {
            0.0
        } else {
            x as f64 / total as f64
        }
    };
    Slots {
        total,
        empty,
        single,
        multi,
        empty_share: share(empty),
        single_share: share(single),
        multi_share: share(multi),
        theory: SlotTheory::of(p),
    }
}

/// `validators`: per validator of the genesis set, its blocks (`slot_led`) and those of them on
/// the final chain.
fn validator_stats(
    p: &PosFacts,
    total_slots: u64,
    events: &Trace,
    chain_pos: &HashMap<Hash, usize>,
) -> Vec<ValidatorStats> {
    let mut blocks: BTreeMap<u32, BTreeSet<Hash>> = BTreeMap::new();
    for r in events {
        if let Event::SlotLed(led) = &r.event {
            blocks.entry(led.validator).or_default().insert(led.hash);
        }
    }
    let shares = p.shares();
    let probs = p.leader_probs();
    p.validators
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            let mine = blocks.get(&index);
            ValidatorStats {
                validator: index,
                node: v.node,
                stake_share: shares.get(i).copied().unwrap_or(0.0),
                expected: probs.get(i).copied().unwrap_or(0.0) * total_slots as f64,
                produced: mine.map_or(0, |s| s.len() as u64),
                on_final_chain: mine.map_or(0, |s| {
                    s.iter().filter(|h| chain_pos.contains_key(h)).count() as u64
                }),
            }
        })
        .collect()
}

/// `equivocations`: detected from the trace, included and slashed from the final chain.
fn equivocations(chain: &[FinalBlock], p: &PosFacts, events: &Trace) -> Equivocations {
    let detected: BTreeSet<Hash> = events
        .iter()
        .filter_map(|r| match &r.event {
            Event::Equivocation(e) => Some(e.evidence),
            _ => None,
        })
        .collect();
    let included = chain.iter().map(|b| b.evidence.len() as u64).sum();
    let slashed: BTreeSet<u32> = chain
        .iter()
        .flat_map(|b| b.evidence.iter().copied())
        .collect();
    let genesis: Vec<u64> = match chain.first().and_then(|b| b.stakes.as_ref()) {
        Some(s) => s.to_vec(),
        None => p.validators.iter().map(|v| v.stake).collect(),
    };
    let slashed_stake = chain
        .last()
        .and_then(|b| b.stakes.as_ref())
        .map_or(0, |tip| {
            genesis
                .iter()
                .zip(tip.iter())
                .map(|(g, t)| g.saturating_sub(*t))
                .sum()
        });
    Equivocations {
        detected: detected.len() as u64,
        included,
        slashed_stake,
        slashed: slashed.into_iter().collect(),
    }
}

/// The offender of each piece of evidence among a block's items, in order.
pub(super) fn offenders(items: &[SharedItem]) -> Vec<u32> {
    items
        .iter()
        .filter_map(|i| match i.item() {
            Item::Evidence(e) => offender(e),
            Item::Vote(_) => None,
        })
        .collect()
}

/// Whom evidence accuses: the proposer of a double block, the voter of conflicting votes.
fn offender(e: &Evidence) -> Option<u32> {
    match e {
        Evidence::DoubleBlock { a, .. } => match a.seal {
            Seal::Pos { proposer, .. } => Some(proposer),
            Seal::Pow { .. } => None,
        },
        Evidence::DoubleVote { a, .. } | Evidence::SurroundVote { a, .. } => Some(a.validator),
    }
}

#[cfg(test)]
mod tests;
