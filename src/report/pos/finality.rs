//! `finality`: the height every running node holds final, how long blocks took to become
//! final at each node, the stalls of finality while the chain grew, and finalized blocks that
//! the final chain does not hold (reverted: a safety failure, and a run invariant).

use super::PosFacts;
use crate::hash::Hash;
use crate::report::event::Event;
use crate::report::Trace;
use crate::report::{Percentiles, RunFacts};
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A finality stall lasts longer than this many epochs.
pub(super) const STALL_EPOCHS: u64 = 3;

/// `finality`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Finality {
    /// The lowest, over the nodes running at the end, of the height of the last checkpoint
    /// each finalized (0 if one finalized none): what they all hold final.
    pub finalized_height: u64,
    /// The epoch of that checkpoint.
    pub finalized_epoch: u64,
    /// Per (node, final-chain block): seconds from the block's slot start until the node first
    /// held it final.
    pub lag_s: Percentiles,
    /// Maximal intervals longer than 3 epochs in which blocks were produced but no node
    /// finalized a height beyond every earlier finalized height.
    pub stalls: u64,
    /// Their total length, seconds.
    pub stall_s: f64,
    /// Distinct finalized blocks (any node's `finalized`) not on the final chain. Must be 0.
    pub reverted: u64,
}

/// A finalized block the final chain does not hold, with its first finalization.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Reverted {
    hash: Hash,
    epoch: u64,
    height: u64,
    node: NodeId,
    t_ms: u64,
}

impl Reverted {
    /// The invariant line.
    pub(super) fn line(&self) -> String {
        format!(
            "finalized block {} (epoch {}, height {}; final at node {} at {:.3}s) is not on the final chain",
            self.hash.short(),
            self.epoch,
            self.height,
            self.node,
            self.t_ms as f64 / 1000.0
        )
    }
}

/// `finality`, and the reverted blocks for the invariant.
pub(super) fn finality(
    facts: &RunFacts,
    p: &PosFacts,
    events: &Trace,
    chain_pos: &HashMap<Hash, usize>,
    duration_ms: u64,
) -> (Finality, Vec<Reverted>) {
    // Per node: its highest finalized checkpoint (height, epoch), and the final-chain position
    // up to which its lag samples are taken.
    let mut latest: BTreeMap<NodeId, (u64, u64)> = BTreeMap::new();
    let mut credited: BTreeMap<NodeId, usize> = BTreeMap::new();
    let mut lags = Vec::new();
    let mut reverted = Vec::new();
    let mut seen_reverted = BTreeSet::new();
    let mut frontier = 0;
    let mut advances = Vec::new();
    let mut mined = Vec::new();
    for r in events {
        let (epoch, hash, height) = match &r.event {
            Event::Finalized(f) => (f.epoch, f.hash, f.height),
            Event::BlockMined(_) => {
                mined.push(r.t_ms);
                continue;
            }
            _ => continue,
        };
        let l = latest.entry(r.node).or_default();
        if height >= l.0 {
            *l = (height, epoch);
        }
        if height > frontier {
            frontier = height;
            advances.push(r.t_ms);
        }
        match chain_pos.get(&hash) {
            Some(&at) => {
                let done = credited.entry(r.node).or_insert(0);
                for b in facts.chain.iter().take(at + 1).skip(*done + 1) {
                    let start = b.timestamp_ms.saturating_sub(p.chain_offset_ms);
                    lags.push(r.t_ms.saturating_sub(start) as f64 / 1000.0);
                }
                *done = (*done).max(at);
            }
            None if !facts.chain.is_empty() && seen_reverted.insert(hash) => {
                reverted.push(Reverted {
                    hash,
                    epoch,
                    height,
                    node: r.node,
                    t_ms: r.t_ms,
                });
            }
            None => {}
        }
    }
    let (finalized_height, finalized_epoch) = facts
        .finals
        .iter()
        .filter(|f| f.live)
        .map(|f| latest.get(&f.id).copied().unwrap_or_default())
        .min_by_key(|(h, _)| *h)
        .unwrap_or_default();
    let (stalls, stall_ms) = stalls(
        &advances,
        &mut mined,
        duration_ms,
        p.epoch_ms().saturating_mul(STALL_EPOCHS),
    );
    let f = Finality {
        finalized_height,
        finalized_epoch,
        lag_s: Percentiles::of(lags),
        stalls,
        stall_s: stall_ms as f64 / 1000.0,
        reverted: reverted.len() as u64,
    };
    (f, reverted)
}

/// The stalls between the run's start, the times in `advances` (the finalized height moved
/// beyond every earlier one) and the end of production at `end_ms`: the gaps longer than
/// `longer_than_ms` in which a block was mined (`mined`: times). Returns (count, total ms).
pub(super) fn stalls(
    advances: &[u64],
    mined: &mut [u64],
    end_ms: u64,
    longer_than_ms: u64,
) -> (u64, u64) {
    mined.sort_unstable();
    let (mut count, mut total) = (0, 0);
    let mut from = 0;
    for &to in advances.iter().chain(std::iter::once(&u64::MAX)) {
        if from >= end_ms {
            break;
        }
        let to_end = to.min(end_ms);
        let len = to_end.saturating_sub(from);
        let first_after = mined.partition_point(|&t| t < from);
        let grew = mined.get(first_after).is_some_and(|&t| t < to_end);
        if len > longer_than_ms && grew {
            count += 1;
            total += len;
        }
        from = to;
    }
    (count, total)
}
