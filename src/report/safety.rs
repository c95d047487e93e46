//! Safety and liveness checks: common-prefix violations, lost transactions and catch-up
//! after restarts ([`Safety`], computed from the trace), and the end-of-run invariant checks
//! of one node's chain ([`check_chain_invariants`]).

use super::event::{Event, TraceRecord};
use super::faults::secs;
use super::RunFacts;
use crate::chain::ChainState;
use crate::hash::TxId;
use crate::NodeId;
use serde::Serialize;
use std::collections::HashSet;

/// A block `depth` confirmations deep was reverted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrefixViolation {
    /// Node.
    pub node: NodeId,
    /// Reorg depth (>= k).
    pub depth: u64,
    /// When, seconds.
    pub t: f64,
}

/// A restart's catch-up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatchUp {
    /// Node.
    pub node: NodeId,
    /// Seconds from restart to the best tip (null: never).
    pub catch_up_s: Option<f64>,
}

/// `safety`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Safety {
    /// Common-prefix depth checked.
    pub k: u64,
    /// Every reorg of depth >= k.
    pub common_prefix_violations: Vec<PrefixViolation>,
    /// Deepest reorg at any node.
    pub max_reorg_depth: u64,
    /// Per heal: seconds until all live nodes shared one tip (null: never).
    pub convergence_s: Vec<Option<f64>>,
    /// Transactions a node accepted that are neither on the final best chain nor in any live
    /// node's mempool (excluding those accepted by a node that later crashed or was wiped).
    pub lost_txs: u64,
    /// Accepted transactions still waiting in some mempool at the end (submitted too late to
    /// be mined before mining stopped).
    pub pending_txs: u64,
    /// Accepted by a node that later crashed or was wiped, and not on the final best chain.
    pub lost_txs_on_crashed_nodes: u64,
    /// Per restart or wipe: time to reach the best tip.
    pub restarts: Vec<CatchUp>,
}

/// `safety`: the checks over the whole run. `max_depth` is the deepest reorg in the trace.
pub(super) fn safety(facts: &RunFacts, events: &[TraceRecord], max_depth: u64) -> Safety {
    let txs = TxFates::of(facts, events);
    let heals = facts
        .faults
        .iter()
        .filter_map(|f| f.convergence_ms.map(secs))
        .collect();
    let restarts = facts
        .faults
        .iter()
        .filter_map(|f| {
            Some(CatchUp {
                node: f.node?,
                catch_up_s: secs(f.catch_up_ms?),
            })
        })
        .collect();
    Safety {
        k: facts.k,
        common_prefix_violations: prefix_violations(events, facts.k),
        max_reorg_depth: max_depth,
        convergence_s: heals,
        lost_txs: txs.lost,
        pending_txs: txs.pending,
        lost_txs_on_crashed_nodes: txs.lost_on_crashed,
        restarts,
    }
}

/// Every reorg of depth >= `k`, in trace order (none when `k` is 0).
fn prefix_violations(events: &[TraceRecord], k: u64) -> Vec<PrefixViolation> {
    let mut violations = Vec::new();
    for r in events {
        if let Event::Reorg { depth, .. } = &r.event {
            if *depth >= k && k > 0 {
                violations.push(PrefixViolation {
                    node: r.node,
                    depth: *depth,
                    t: r.t_ms as f64 / 1000.0,
                })
            }
        }
    }
    violations
}

/// What became of the accepted workload transactions that are not on the final best chain.
struct TxFates {
    /// Neither on the chain nor in any live node's mempool.
    lost: u64,
    /// Still waiting in some mempool.
    pending: u64,
    /// Accepted by a node that later crashed or was wiped.
    lost_on_crashed: u64,
}

impl TxFates {
    /// Follows every workload submission that was not refused.
    fn of(facts: &RunFacts, events: &[TraceRecord]) -> TxFates {
        let on_chain: HashSet<TxId> = facts
            .chain
            .iter()
            .flat_map(|b| b.txids.iter().copied())
            .collect();
        let mut submitted: Vec<(TxId, NodeId, u64)> = Vec::new();
        let mut rejected = HashSet::new();
        for r in events {
            match &r.event {
                Event::TxSubmitted { txid } => submitted.push((*txid, r.node, r.t_ms)),
                Event::TxRejected { txid, .. } => {
                    rejected.insert(*txid);
                }
                _ => {}
            }
        }
        let mut fates = TxFates {
            lost: 0,
            pending: 0,
            lost_on_crashed: 0,
        };
        for (txid, node, t) in submitted {
            if rejected.contains(&txid) || on_chain.contains(&txid) {
                continue;
            }
            if facts.pooled.contains(&txid) {
                fates.pending += 1;
                continue;
            }
            if facts.crashed.iter().any(|(n, at)| *n == node && *at >= t) {
                fates.lost_on_crashed += 1;
            } else {
                fates.lost += 1;
            }
        }
        fates
    }
}

/// Checks one node's chain: state equals a replay from genesis, supply equals genesis plus
/// rewards, no transaction twice on the best chain. Returns (checks run, violations).
pub fn check_chain_invariants(node: NodeId, chain: &ChainState) -> (u64, Vec<String>) {
    let mut v = Vec::new();
    if let Err(e) = chain.verify_replay() {
        v.push(format!(
            "node {node}: state is not a replay of its chain: {e}"
        ));
    }
    let p = chain.params();
    let expected = p.genesis_supply() + u128::from(p.reward) * u128::from(chain.height());
    let supply = chain.state().total_supply();
    if supply != expected {
        v.push(format!(
            "node {node}: supply {supply} != genesis + rewards {expected}"
        ));
    }
    let mut seen = HashSet::new();
    for h in chain.canonical() {
        if let Some(b) = chain.get(h) {
            for id in b.tx_ids() {
                if !seen.insert(id) {
                    v.push(format!(
                        "node {node}: transaction {} twice on the best chain",
                        id.short()
                    ));
                }
            }
        }
    }
    (3, v)
}
