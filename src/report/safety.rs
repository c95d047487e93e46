//! Safety and liveness checks: common prefix (self reorgs and the cross-node property, from
//! `prefix`), convergence after heals and catch-up after restarts ([`Safety`], computed from
//! the trace), and the end-of-run invariant checks of one node's chain
//! ([`check_chain_invariants`]).

use super::faults::secs;
use super::prefix::{self, CommonPrefix, SelfReorgs};
use super::trace::Trace;
use super::RunFacts;
use crate::chain::ChainState;
use crate::NodeId;
use serde::Serialize;
use std::collections::HashSet;

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
    /// One node's own reorgs of depth >= k.
    pub self_reorgs_k: SelfReorgs,
    /// Pairs of nodes whose chains disagreed at least k deep, checked at every tip change.
    pub common_prefix: CommonPrefix,
    /// Deepest reorg at any node.
    pub max_reorg_depth: u64,
    /// Per heal: seconds until all live nodes shared one tip (null: never).
    pub convergence_s: Vec<Option<f64>>,
    /// Per restart or wipe: time to reach the best tip.
    pub restarts: Vec<CatchUp>,
}

/// `safety`: the checks over the whole run. `max_depth` is the deepest reorg in the trace.
pub(super) fn safety(facts: &RunFacts, events: &Trace, max_depth: u64) -> Safety {
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
        self_reorgs_k: prefix::self_reorgs(events, facts.k),
        common_prefix: prefix::common_prefix(events, facts.k),
        max_reorg_depth: max_depth,
        convergence_s: heals,
        restarts,
    }
}

/// Checks one node's chain with its executor in place: state equals a replay from genesis,
/// supply equals genesis plus rewards
/// ([`Executor::check_invariants`](crate::chain::executor::Executor::check_invariants)), no transaction twice
/// on the best chain ([`check_tree_invariants`]). Returns (checks run, violations).
pub fn check_chain_invariants(node: NodeId, chain: &ChainState) -> (u64, Vec<String>) {
    let mut v = match chain.executor() {
        Some(exec) => exec.check_invariants(node, &chain.best_refs()),
        None => vec![format!(
            "node {node}: the chain's executor runs elsewhere: its state was not checked"
        )],
    };
    v.extend(check_tree_invariants(node, chain));
    (INVARIANT_CHECKS, v)
}

/// How many invariants [`check_chain_invariants`] checks.
pub const INVARIANT_CHECKS: u64 = 3;

/// The invariant of the block tree alone: no transaction twice on the best chain.
pub fn check_tree_invariants(node: NodeId, chain: &ChainState) -> Vec<String> {
    let mut v = Vec::new();
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
    v
}
