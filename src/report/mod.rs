//! Trace events and the end-of-run report: block, propagation, transaction, convergence and
//! invariant figures computed from the events and the nodes' final chains.
//!
//! This file holds the [`Report`] itself and what it is computed from ([`RunFacts`]); the
//! parts live beside it:
//!
//! - `event`: the trace vocabulary ([`Event`], [`TraceRecord`]);
//! - `metrics`: block, propagation, transaction, convergence and connection figures;
//! - `safety`: common-prefix, lost-transaction and catch-up checks, and the chain invariants;
//! - `faults`: what each scenario fault did.

mod event;
mod faults;
mod metrics;
mod safety;

pub use event::{Event, TraceRecord};
pub use faults::{FaultEffect, FaultRecord, FaultReport, NodeFailed};
pub use metrics::{BlockStats, Connections, Convergence, Percentiles, TxStats};
pub use safety::{check_chain_invariants, CatchUp, PrefixViolation, Safety};

use crate::chain::ChainState;
use crate::hash::{Hash, TxId};
use crate::NodeId;
use metrics::Tally;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

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
#[derive(Clone, Debug)]
pub struct FinalBlock {
    /// Hash.
    pub hash: Hash,
    /// Height.
    pub height: u64,
    /// Transaction ids.
    pub txids: Vec<TxId>,
    /// Difficulty.
    pub difficulty: u64,
}

impl FinalBlock {
    /// The best chain of `chain`, genesis first.
    pub fn best_chain(chain: &ChainState) -> Vec<FinalBlock> {
        chain
            .canonical()
            .iter()
            .filter_map(|h| {
                let b = chain.get(h)?;
                Some(FinalBlock {
                    hash: *h,
                    height: b.header.height,
                    txids: b.tx_ids(),
                    difficulty: b.header.difficulty(),
                })
            })
            .collect()
    }
}

/// Everything the report is computed from.
#[derive(Clone, Debug)]
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
    /// Transactions in some live node's mempool at the end.
    pub pooled: HashSet<TxId>,
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
    /// Time from mining to import by every live node, over final best-chain blocks.
    pub propagation_s: Percentiles,
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
    /// Trace events recorded.
    pub events: u64,
}

impl Report {
    /// Computes the report.
    pub fn compute(facts: &RunFacts, events: &[TraceRecord]) -> Report {
        let chain_pos = chain_positions(&facts.chain);
        let tally = Tally::scan(facts, events, &chain_pos);
        Report {
            seed: facts.seed,
            clock: facts.clock.clone(),
            nodes: facts.nodes,
            duration_s: facts.duration_s,
            settle_s: facts.settle_s,
            wall_s: facts.wall_s,
            blocks: tally.block_stats(&facts.chain, &chain_pos),
            propagation_s: tally.propagation(&facts.chain),
            txs: tally.tx_stats(&facts.chain, facts.duration_s),
            convergence: Convergence::of(facts),
            invariants: facts.invariants.clone(),
            faults: faults::fault_reports(facts, events, &chain_pos),
            failed_nodes: faults::failed_nodes(events),
            safety: safety::safety(facts, events, tally.max_depth),
            connections: Connections::from_events(events),
            events: events.len() as u64,
        }
    }
}

/// Position of each block on the final best chain, by hash.
fn chain_positions(chain: &[FinalBlock]) -> HashMap<Hash, usize> {
    chain.iter().enumerate().map(|(i, b)| (b.hash, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stale_forks_and_propagation_from_events() {
        let g = Hash([0; 32]);
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let mined = |t, h, node| TraceRecord {
            t_ms: t,
            node,
            event: Event::BlockMined {
                hash: h,
                height: 1,
                parent: g,
                miner: node,
                txs: 0,
                difficulty: 1,
            },
        };
        let imp = |t, h, node| TraceRecord {
            t_ms: t,
            node,
            event: Event::BlockImported { hash: h, height: 1 },
        };
        let events = vec![
            mined(1000, a, 0),
            imp(1000, a, 0),
            mined(1100, b, 1),
            imp(1100, b, 1),
            imp(1300, a, 1),
        ];
        let facts = RunFacts {
            seed: 1,
            clock: "virtual".into(),
            nodes: 2,
            duration_s: 10.0,
            settle_s: 1.0,
            wall_s: 0.1,
            finals: vec![
                NodeFinal {
                    id: 0,
                    live: true,
                    tip: a,
                    height: 1,
                    work: 1,
                },
                NodeFinal {
                    id: 1,
                    live: true,
                    tip: a,
                    height: 1,
                    work: 1,
                },
            ],
            chain: vec![
                FinalBlock {
                    hash: g,
                    height: 0,
                    txids: vec![],
                    difficulty: 1,
                },
                FinalBlock {
                    hash: a,
                    height: 1,
                    txids: vec![],
                    difficulty: 1,
                },
            ],
            invariants: Invariants::default(),
            k: 6,
            faults: Vec::new(),
            crashed: Vec::new(),
            pooled: HashSet::new(),
        };
        let r = Report::compute(&facts, &events);
        assert_eq!((r.blocks.mined, r.blocks.stale, r.blocks.forks), (2, 1, 1));
        assert_eq!(r.propagation_s.p50, Some(0.3));
        assert!(r.convergence.converged);
    }
}
