//! Scenario faults in the report: what the harness measured per fault ([`FaultRecord`]) and
//! what each fault did ([`FaultEffect`], one [`FaultReport`] per fault in `faults`).

use super::event::Event;
use super::trace::Trace;
use super::RunFacts;
use crate::hash::Hash;
use crate::NodeId;
use serde::Serialize;
use std::collections::HashMap;

/// What the harness measured for one fault.
#[derive(Clone, Debug, Default)]
pub struct FaultRecord {
    /// Scenario index.
    pub index: usize,
    /// Kind name.
    pub kind: String,
    /// When it fired (None: never, e.g. a height never reached).
    pub at_ms: Option<u64>,
    /// When it was undone (`for`), if it was.
    pub until_ms: Option<u64>,
    /// Messages dropped by its link rule.
    pub dropped: Option<u64>,
    /// For heals (and partitions undone by `for`): time until all live nodes shared one tip;
    /// `Some(None)` when they never did.
    pub convergence_ms: Option<Option<u64>>,
    /// For restarts and wipes: time until the node reached the best tip; `Some(None)` when it never did.
    pub catch_up_ms: Option<Option<u64>>,
    /// The node it acted on.
    pub node: Option<NodeId>,
}

/// A measured value that may be missing for a reason.
pub(super) fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|m| m as f64 / 1000.0)
}

/// What a fault did, measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultEffect {
    /// Blocks mined while it was active.
    pub blocks_mined: u64,
    /// Of those, not on the final best chain.
    pub stale: u64,
    /// Reorg events while it was active (and until the next fault or the end for instant faults).
    pub reorgs: u64,
    /// Deepest of those.
    pub max_reorg_depth: u64,
    /// Messages its link rule dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_messages: Option<u64>,
    /// Seconds until all live nodes shared one tip after it (null: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convergence_s: Option<Option<f64>>,
    /// Seconds until the restarted node reached the best tip (null: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_up_s: Option<Option<f64>>,
}

/// One entry of `faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultReport {
    /// Scenario index.
    pub index: usize,
    /// Kind.
    pub kind: String,
    /// The node it acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// When it fired (null: never).
    pub at_s: Option<f64>,
    /// When it was undone (null: not undone by `for`).
    pub until_s: Option<f64>,
    /// What it did.
    pub effect: FaultEffect,
}

impl FaultEffect {
    /// Counts the blocks mined and the reorgs in `[from, until)` (at least one millisecond).
    fn count_window(
        &mut self,
        events: &Trace,
        from: u64,
        until: u64,
        chain_pos: &HashMap<Hash, usize>,
    ) {
        for r in events
            .iter()
            .filter(|r| r.t_ms >= from && r.t_ms < until.max(from + 1))
        {
            match &r.event {
                Event::BlockMined(m) => {
                    self.blocks_mined += 1;
                    if !chain_pos.contains_key(&m.hash) {
                        self.stale += 1;
                    }
                }
                Event::Reorg(reorg) => {
                    self.reorgs += 1;
                    self.max_reorg_depth = self.max_reorg_depth.max(reorg.depth);
                }
                _ => {}
            }
        }
    }
}

/// One [`FaultReport`] per scenario fault. `chain_pos` holds the final best chain's blocks.
pub(super) fn fault_reports(
    facts: &RunFacts,
    events: &Trace,
    chain_pos: &HashMap<Hash, usize>,
) -> Vec<FaultReport> {
    let end_ms = ((facts.duration_s + facts.settle_s) * 1000.0) as u64;
    let starts: Vec<u64> = facts.faults.iter().filter_map(|f| f.at_ms).collect();
    facts
        .faults
        .iter()
        .map(|f| {
            let mut effect = FaultEffect {
                dropped_messages: f.dropped,
                convergence_s: f.convergence_ms.map(secs),
                catch_up_s: f.catch_up_ms.map(secs),
                ..FaultEffect::default()
            };
            if let Some(at) = f.at_ms {
                // The window: while active, or until the next fault fires for instant faults.
                let until = f.until_ms.unwrap_or_else(|| {
                    starts
                        .iter()
                        .copied()
                        .filter(|s| *s > at)
                        .min()
                        .unwrap_or(end_ms)
                });
                effect.count_window(events, at, until, chain_pos);
            }
            FaultReport {
                index: f.index,
                kind: f.kind.clone(),
                node: f.node,
                at_s: secs(f.at_ms),
                until_s: secs(f.until_ms),
                effect,
            }
        })
        .collect()
}

/// One entry of `failed_nodes`: a node that stopped itself because its store refused a write.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodeFailed {
    /// The node.
    pub node: NodeId,
    /// When, seconds.
    pub t_s: f64,
    /// The store error.
    pub error: String,
}

/// Every `node_failed` event, in order.
pub(super) fn failed_nodes(events: &Trace) -> Vec<NodeFailed> {
    events
        .iter()
        .filter_map(|r| match &r.event {
            Event::NodeFailed { error } => Some(NodeFailed {
                node: r.node,
                t_s: r.t_ms as f64 / 1000.0,
                error: error.clone(),
            }),
            _ => None,
        })
        .collect()
}
