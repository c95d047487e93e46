//! Trace events and the end-of-run report: block, propagation, transaction, convergence and
//! invariant figures computed from the events and the nodes' final chains.
//!
//! This file holds the [`Report`] itself and what it is computed from ([`RunFacts`]); the
//! parts live beside it:
//!
//! - `event`: the trace vocabulary ([`Event`], with the boxed fields of its larger kinds,
//!   [`BlockMinedEvent`] and the like; [`TraceRecord`]); `trace`: the records of a run, held
//!   compactly ([`Trace`]);
//! - `metrics`: block, transaction, convergence and connection figures;
//! - `propagation`: full propagation and catch-up times;
//! - `fates`: what became of the transactions not on the final chain;
//! - `safety`: convergence and catch-up checks, and the chain invariants; `prefix`: the two
//!   common-prefix checks it reports;
//! - `faults`: what each scenario fault did;
//! - `pos`: proof of stake's slots, validators, finality and equivocations (absent from a
//!   proof-of-work report);
//! - `schema`: every path of the report, and the resolution of a path an `[expect]` names;
//! - `expect`: a scenario's expectations checked against the report.

mod adversary;
mod contracts;
mod eclipse;
mod event;
pub mod expect;
mod fates;
mod faults;
mod metrics;
mod pos;
mod prefix;
mod propagation;
mod safety;
pub mod schema;
mod spam;
#[cfg(test)]
mod testkit;
mod trace;

pub use adversary::{AdversarySpec, AdversaryStats, AdversaryTheory};
pub use contracts::{
    CallbackStats, ContractStats, FrontrunStats, FrontrunWatch, PerContract, ReceiptStats,
    ViewValue,
};
pub use eclipse::{branch_accept_time_s, delay_lag, EclipseSpec, EclipseStats, EclipseTheory};
pub use event::{
    AttackPublishedEvent, AttackStartedEvent, BlockMinedEvent, BlockRejectedEvent, CallbackEvent,
    ContractCalledEvent, ContractDeployedEvent, ContractEventEvent, EclipseDelayedEvent,
    EclipseFedEvent, EclipseFilteredEvent, EclipseStartedEvent, EquivocationEvent, Event,
    FaultEvent, FinalizedEvent, FrontrunEvent, HandshakeFailedEvent, PeerDisconnectedEvent,
    ReceiptCreatedEvent, ReceiptExecutedEvent, ReorgEvent, SlotLedEvent, SpamRefusedEvent,
    SpamSentEvent, TraceRecord, TxRejectedEvent, VoteEvent, WithheldEvent,
};
pub use expect::{Check, Expectation, Expected};
pub use fates::Dropped;
pub use faults::{FaultEffect, FaultRecord, FaultReport, NodeFailed};
pub use metrics::{BlockStats, Connections, Convergence, Percentiles, TxStats};
pub use pos::{
    Equivocations, Finality, PosFacts, SlotTheory, Slots, ValidatorFacts, ValidatorStats,
};
pub use prefix::{CommonPrefix, Disagreement, SelfReorg, SelfReorgs};
pub use propagation::Propagation;
pub use safety::{
    check_chain_invariants, check_tree_invariants, CatchUp, Safety, INVARIANT_CHECKS,
};
pub use spam::{HonestLoad, SpamStats};
pub use trace::{Iter as TraceIter, Trace};

use crate::chain::exec::ExecRecord;
use crate::chain::ChainState;
use crate::consensus::{Ancestry, BranchState};
use crate::crypto::Address;
use crate::hash::{Hash, TxId};
use crate::NodeId;
use metrics::Tally;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// `invariants`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Invariants {
    /// Checks run.
    pub checked: u64,
    /// What failed, one line each.
    pub violations: Vec<String>,
}

/// A node's final state as the report needs it.
#[derive(Clone, Debug)]
pub struct NodeFinal {
    /// Index.
    pub id: NodeId,
    /// Still running at the end.
    pub live: bool,
    /// Its tip.
    pub tip: Hash,
    /// Its height.
    pub height: u64,
    /// Cumulative work of its best chain.
    pub work: u128,
}

/// A block of the final best chain.
#[derive(Clone, Debug, Default)]
pub struct FinalBlock {
    /// Hash.
    pub hash: Hash,
    /// Height.
    pub height: u64,
    /// Transaction ids.
    pub txids: Vec<TxId>,
    /// Difficulty.
    pub difficulty: u64,
    /// Header timestamp, chain milliseconds (proof of stake: its slot's start).
    pub timestamp_ms: u64,
    /// Proof of stake: the offender of each piece of evidence the block includes, in order.
    pub evidence: Vec<u32>,
    /// Proof of stake: the stakes by validator index after this block (slashings included so
    /// far on the branch); `None` for proof of work.
    pub stakes: Option<Arc<Vec<u64>>>,
    /// What its contracts did (`None`: no contract work).
    pub records: Option<Arc<[ExecRecord]>>,
}

impl FinalBlock {
    /// The best chain of `chain`, genesis first.
    pub fn best_chain(chain: &ChainState) -> Vec<FinalBlock> {
        chain
            .canonical()
            .iter()
            .filter_map(|h| {
                let b = chain.get(h)?;
                let stakes = match chain.branch_state(h) {
                    Some(BranchState::Pos(s)) => Some(s.stakes.clone()),
                    _ => None,
                };
                Some(FinalBlock {
                    hash: *h,
                    height: b.header.height,
                    txids: b.tx_ids(),
                    difficulty: b.header.difficulty(),
                    timestamp_ms: b.header.timestamp_ms,
                    evidence: pos::offenders(&b.items),
                    stakes,
                    records: chain.records(h),
                })
            })
            .collect()
    }
}

/// Everything the report is computed from.
#[derive(Clone, Debug, Default)]
pub struct RunFacts {
    /// Seed.
    pub seed: u64,
    /// "virtual" or "real".
    pub clock: String,
    /// Node count.
    pub nodes: usize,
    /// Load and mining period, seconds.
    pub duration_s: f64,
    /// Settle period, seconds.
    pub settle_s: f64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Final state of every node.
    pub finals: Vec<NodeFinal>,
    /// The best live node's chain, genesis first.
    pub chain: Vec<FinalBlock>,
    /// Invariant checks run and their failures.
    pub invariants: Invariants,
    /// Common-prefix depth.
    pub k: u64,
    /// What the harness measured per fault.
    pub faults: Vec<FaultRecord>,
    /// Nodes crashed or wiped at some point, with the time.
    pub crashed: Vec<(NodeId, u64)>,
    /// Transactions ready to be mined in some live node's mempool at the end.
    pub pooled: HashSet<TxId>,
    /// Transactions pooled at some live node at the end, but behind a missing nonce of their
    /// sender wherever they are pooled.
    pub gapped: HashSet<TxId>,
    /// Transactions on the best chain of a live node whose tip is not the final one, and not
    /// on the final best chain.
    pub competing: HashSet<TxId>,
    /// Proof of stake: the config's slots, epochs and validators (`None` for proof of work).
    pub pos: Option<PosFacts>,
    /// Names of contracts (deployed by the scenario or the workload), by address.
    pub contract_names: BTreeMap<Address, String>,
    /// The scenario's `[[views]]` evaluated on the final state: name, result.
    pub views: Vec<(String, Result<Vec<u8>, String>)>,
    /// What a `[frontrun]` attacker watched, if one ran: the report judges its copies
    /// (`contracts.frontrun`).
    pub frontrun: Option<FrontrunWatch>,
    /// The `[[adversary]]` entries, as the run gave them.
    pub adversaries: Vec<AdversarySpec>,
    /// The honest load of the same run without its spam and forkspam adversaries (absent:
    /// none ran).
    pub baseline: Option<HonestLoad>,
    /// Blocks off the best chain each live node held in memory at the end (node, blocks).
    pub side_blocks: Vec<(NodeId, usize)>,
    /// Arrivals a full mempool refused, summed over the live nodes.
    pub refused_full: u64,
    /// The largest pool any live node held.
    pub pool_peak: u64,
}

/// The JSON report of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Clock mode.
    pub clock: String,
    /// Nodes.
    pub nodes: usize,
    /// Load and mining period, simulated seconds.
    pub duration_s: f64,
    /// Settle period, simulated seconds.
    pub settle_s: f64,
    /// Wall-clock seconds the run took.
    pub wall_s: f64,
    /// Block figures.
    pub blocks: BlockStats,
    /// Time for final best-chain blocks to reach the nodes: full propagation and catch-up.
    pub propagation_s: Propagation,
    /// Transaction figures.
    pub txs: TxStats,
    /// Final agreement.
    pub convergence: Convergence,
    /// End-of-run invariants.
    pub invariants: Invariants,
    /// The scenario's faults and what each did.
    pub faults: Vec<FaultReport>,
    /// Nodes that stopped themselves because their store refused a write.
    pub failed_nodes: Vec<NodeFailed>,
    /// Safety and liveness checks.
    pub safety: Safety,
    /// TCP connection events (all zero when every link is in memory).
    pub connections: Connections,
    /// Proof of stake: leaders per slot, against the model (absent for proof of work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<Slots>,
    /// Proof of stake: blocks produced per validator (absent for proof of work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validators: Option<Vec<ValidatorStats>>,
    /// Proof of stake: finalized height, finality lag, stalls, reverted finalized blocks
    /// (absent for proof of work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finality: Option<Finality>,
    /// Proof of stake: equivocations detected, evidence included, stake slashed (absent for
    /// proof of work).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equivocations: Option<Equivocations>,
    /// Contract work on the final best chain (absent when there was none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contracts: Option<ContractStats>,
    /// What each `[[adversary]]` did and earned (absent without adversaries).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adversaries: Vec<AdversaryStats>,
    /// Trace events recorded.
    pub events: u64,
    /// The scenario's `[expect]` checks, what each saw and whether it held (empty without
    /// `[expect]`); filled by [`Report::check`].
    pub expectations: Vec<Expectation>,
}

impl Report {
    /// Computes the report.
    pub fn compute(facts: &RunFacts, events: &Trace) -> Report {
        let chain_pos = chain_positions(&facts.chain);
        let tally = Tally::scan(facts, events, &chain_pos);
        let gaps = propagation::disruptions(events, facts.nodes);
        let fates = fates::TxFates::of(facts, events);
        let pos = pos::PosFigures::of(facts, events, &chain_pos);
        let mut invariants = facts.invariants.clone();
        if let Some(p) = &pos {
            p.check_invariants(&mut invariants);
        }
        let (slots, validators, finality, equivocations) = match pos {
            Some(p) => (
                Some(p.slots),
                Some(p.validators),
                Some(p.finality),
                Some(p.equivocations),
            ),
            None => (None, None, None, None),
        };
        let txs = TxStats {
            pending: fates.pending,
            nonce_gap: fates.nonce_gap,
            on_competing_tip: fates.on_competing_tip,
            dropped: fates.dropped,
            lost_on_crashed_nodes: fates.lost_on_crashed,
            lost: fates.lost,
            refused_full: facts.refused_full,
            pool_peak: facts.pool_peak,
            ..tally.tx_stats(&facts.chain, facts.duration_s, facts.k)
        };
        let mut adversaries = adversary::adversaries(&facts.adversaries, &facts.chain, events);
        spam::add_spam(&mut adversaries, facts, events, &txs);
        Report {
            seed: facts.seed,
            clock: facts.clock.clone(),
            nodes: facts.nodes,
            duration_s: facts.duration_s,
            settle_s: facts.settle_s,
            wall_s: facts.wall_s,
            blocks: tally.block_stats(&facts.chain, &chain_pos),
            propagation_s: propagation::propagation(&tally, &facts.chain, &gaps),
            txs: txs.clone(),
            convergence: Convergence::of(facts),
            invariants,
            faults: faults::fault_reports(facts, events, &chain_pos),
            failed_nodes: faults::failed_nodes(events),
            safety: safety::safety(facts, events, tally.max_depth),
            connections: Connections::from_events(events),
            slots,
            validators,
            finality,
            equivocations,
            contracts: ContractStats::of(&facts.chain, &facts.contract_names, &facts.views).map(
                |mut c| {
                    if let Some(watch) = &facts.frontrun {
                        c.frontrun = Some(FrontrunStats::of(&facts.chain, events, watch));
                    }
                    c
                },
            ),
            adversaries,
            events: events.len() as u64,
            expectations: Vec::new(),
        }
    }

    /// Fills `expectations` with the result of each of `checks` against this report.
    pub fn check(&mut self, checks: &[Check]) {
        self.expectations = expect::evaluate(checks, self);
    }

    /// Whether the run failed: an invariant was violated or an expectation was unmet.
    pub fn failed(&self) -> bool {
        !self.invariants.violations.is_empty() || self.expectations.iter().any(|e| !e.pass)
    }
}

/// Position of each block on the final best chain, by hash.
fn chain_positions(chain: &[FinalBlock]) -> HashMap<Hash, usize> {
    chain.iter().enumerate().map(|(i, b)| (b.hash, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit::{mined, rec};

    fn imp(t: u64, node: NodeId, hash: Hash, height: u64) -> TraceRecord {
        rec(t, node, Event::BlockImported { hash, height })
    }

    fn started(t: u64, node: NodeId) -> TraceRecord {
        rec(t, node, Event::NodeStarted { height: 0 })
    }

    fn block(hash: Hash, height: u64, txids: Vec<TxId>) -> FinalBlock {
        FinalBlock {
            hash,
            height,
            txids,
            difficulty: 1,
            ..FinalBlock::default()
        }
    }

    fn facts(nodes: usize, tip: Hash, chain: Vec<FinalBlock>) -> RunFacts {
        RunFacts {
            seed: 1,
            clock: "virtual".into(),
            nodes,
            duration_s: 10.0,
            settle_s: 1.0,
            wall_s: 0.1,
            finals: (0..nodes)
                .map(|id| NodeFinal {
                    id,
                    live: true,
                    tip,
                    height: chain.len() as u64 - 1,
                    work: 1,
                })
                .collect(),
            chain,
            k: 6,
            ..RunFacts::default()
        }
    }

    #[test]
    fn stale_forks_full_propagation_and_catch_up_from_events() {
        let g = Hash([0; 32]);
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let events = vec![
            started(0, 0),
            started(0, 1),
            started(0, 2),
            rec(500, 2, Event::NodeStopped { crashed: true }),
            mined(1000, 0, a, g, 1),
            imp(1000, 0, a, 1),
            mined(1100, 1, b, g, 1),
            imp(1100, 1, b, 1),
            imp(1300, 1, a, 1),
            started(2000, 2),
            imp(2500, 2, a, 1),
        ];
        let f = facts(3, a, vec![block(g, 0, vec![]), block(a, 1, vec![])]);
        let r = Report::compute(&f, &Trace::from(&events[..]));
        assert_eq!((r.blocks.mined, r.blocks.stale, r.blocks.forks), (2, 1, 1));
        // Nodes 0 and 1 were up all along: a reached both 0.3 s after it was mined. Node 2
        // was down when it was mined and imported it 0.5 s after it came back.
        assert_eq!(r.propagation_s.full_s.p50, Some(0.3));
        assert_eq!(r.propagation_s.full_s.samples, 1);
        assert_eq!(r.propagation_s.catch_up_s.p50, Some(0.5));
        assert_eq!(r.propagation_s.catch_up_s.samples, 1);
        assert_eq!(r.blocks.mean_interval_s, None, "one block: no interval");
        assert!(r.convergence.converged);
    }

    #[test]
    fn a_block_mined_during_a_partition_is_a_catch_up_not_a_full_propagation() {
        let g = Hash([0; 32]);
        let a = Hash([1; 32]);
        let fault = |t, index, kind: &str| {
            rec(
                t,
                0,
                Event::Fault(Box::new(FaultEvent {
                    index,
                    kind: kind.into(),
                    phase: "start".into(),
                    detail: String::new(),
                })),
            )
        };
        let mut events: Vec<TraceRecord> = (0..4).map(|n| started(0, n)).collect();
        events.extend([
            fault(500, 0, "partition"),
            mined(1000, 0, a, g, 1),
            imp(1000, 0, a, 1),
            imp(1100, 1, a, 1), // the same side: during the partition, neither figure
            fault(3000, 1, "heal"),
            imp(3200, 2, a, 1),
            imp(3400, 3, a, 1),
        ]);
        let f = facts(4, a, vec![block(g, 0, vec![]), block(a, 1, vec![])]);
        let r = Report::compute(&f, &Trace::from(&events[..]));
        assert_eq!(r.propagation_s.full_s.samples, 0);
        assert_eq!(r.propagation_s.catch_up_s.samples, 2);
        assert_eq!(
            (
                r.propagation_s.catch_up_s.p50,
                r.propagation_s.catch_up_s.p99
            ),
            (Some(0.2), Some(0.4))
        );
    }

    #[test]
    fn inclusion_and_k_confirmations_on_the_final_chain() {
        let g = Hash([0; 32]);
        let hs: Vec<Hash> = (1..=4u8).map(|i| Hash([i; 32])).collect();
        let tx = Hash([0xaa; 32]);
        let late = Hash([0xbb; 32]);
        let mut events = vec![
            started(0, 0),
            rec(500, 0, Event::TxSubmitted { txid: tx }),
            rec(2500, 0, Event::TxSubmitted { txid: late }),
        ];
        let mut chain = vec![block(g, 0, vec![])];
        let mut parent = g;
        for (i, h) in hs.iter().enumerate() {
            let height = i as u64 + 1;
            events.push(mined(height * 1000, 0, *h, parent, height));
            let txids = match height {
                1 => vec![tx],
                3 => vec![late],
                _ => vec![],
            };
            chain.push(block(*h, height, txids));
            parent = *h;
        }
        let mut f = facts(1, hs[3], chain);
        f.k = 3;
        let r = Report::compute(&f, &Trace::from(&events[..]));
        // tx: in block 1 (mined at 1 s), third confirmation with block 3 (3 s).
        // late: in block 3 (3 s); the tip is block 4, so it has only two confirmations.
        assert_eq!(r.txs.confirmed, 2);
        assert_eq!(r.txs.inclusion_s.samples, 2);
        assert_eq!(r.txs.inclusion_s.p50, Some(0.5));
        assert_eq!(r.txs.confirmation_s.samples, 1);
        assert_eq!(r.txs.confirmation_s.p50, Some(2.5));
        assert_eq!(r.txs.lost, 0);
        assert_eq!(r.blocks.mean_interval_s, Some(1.0));
    }
}
