//! What became of each accepted workload transaction that is not on the final best chain
//! ([`TxFates`]): still waiting somewhere, dropped by a named mempool policy, or lost.
//!
//! A transaction is looked at in this order, and counts under the first that fits:
//! pending (ready in some live node's mempool), `nonce_gap` (pooled at a live node, but behind a
//! missing nonce of its sender in every pool that holds it), `on_competing_tip` (on the best
//! chain of a live node whose tip is not the final one), dropped (some node's mempool let it go
//! by policy: the reason of the last `tx_dropped` for it), `lost_on_crashed_nodes` (the node it
//! was submitted to crashed or was wiped after accepting it), and otherwise lost.

use super::event::Event;
use super::trace::Trace;
use super::RunFacts;
use crate::hash::TxId;
use crate::mempool::DropReason;
use crate::NodeId;
use serde::Serialize;
use std::collections::{HashMap, HashSet};

/// `txs.dropped`: transactions no live node holds any more, by the policy that let them go.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Dropped {
    /// Older than the mempool expiry.
    pub expired: u64,
    /// Pushed out of a full pool by a better fee, or not taken back after a reorg (pool full).
    pub evicted: u64,
    /// Replaced by another transaction of the same sender and nonce (in a pool or on the chain).
    pub replaced: u64,
    /// The sender's balance no longer covered it after its earlier nonces (a tip change, or
    /// an earlier nonce admitted or replaced with a higher spend).
    pub unpayable: u64,
    /// Reverted by a reorg and no longer valid on the new chain (balance, nonce gap).
    pub invalidated: u64,
}

impl Dropped {
    fn count(&mut self, reason: DropReason) {
        match reason {
            DropReason::Expired => self.expired += 1,
            DropReason::Evicted => self.evicted += 1,
            DropReason::Replaced => self.replaced += 1,
            DropReason::Unpayable => self.unpayable += 1,
            DropReason::Invalidated => self.invalidated += 1,
        }
    }
}

/// The fates of the accepted transactions not on the final best chain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct TxFates {
    /// Ready in some live node's mempool.
    pub(super) pending: u64,
    /// Pooled, but behind a nonce gap wherever it is pooled.
    pub(super) nonce_gap: u64,
    /// On a live node's best chain that is not the final one (an unresolved tie).
    pub(super) on_competing_tip: u64,
    /// Let go by mempool policy everywhere.
    pub(super) dropped: Dropped,
    /// Accepted by a node that later crashed or was wiped.
    pub(super) lost_on_crashed: u64,
    /// None of the above: a bug.
    pub(super) lost: u64,
}

impl TxFates {
    /// Follows every workload submission that was not refused.
    pub(super) fn of(facts: &RunFacts, events: &Trace) -> TxFates {
        let on_chain: HashSet<TxId> = facts
            .chain
            .iter()
            .flat_map(|b| b.txids.iter().copied())
            .collect();
        let mut submitted: Vec<(TxId, NodeId, u64)> = Vec::new();
        let mut rejected = HashSet::new();
        let mut last_drop: HashMap<TxId, DropReason> = HashMap::new();
        for r in events {
            match &r.event {
                Event::TxSubmitted { txid } => submitted.push((*txid, r.node, r.t_ms)),
                Event::TxRejected(tx) => {
                    rejected.insert(tx.txid);
                }
                Event::TxDropped { txid, reason } => {
                    last_drop.insert(*txid, *reason);
                }
                _ => {}
            }
        }
        let mut fates = TxFates::default();
        for (txid, node, t) in submitted {
            if rejected.contains(&txid) || on_chain.contains(&txid) {
                continue;
            }
            if facts.pooled.contains(&txid) {
                fates.pending += 1;
            } else if facts.gapped.contains(&txid) {
                fates.nonce_gap += 1;
            } else if facts.competing.contains(&txid) {
                fates.on_competing_tip += 1;
            } else if let Some(reason) = last_drop.get(&txid) {
                fates.dropped.count(*reason);
            } else if facts.crashed.iter().any(|(n, at)| *n == node && *at >= t) {
                fates.lost_on_crashed += 1;
            } else {
                fates.lost += 1;
            }
        }
        fates
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::Hash;
    use crate::report::TraceRecord;
    use crate::report::{FinalBlock, RunFacts, TxRejectedEvent};

    fn id(i: u8) -> TxId {
        Hash([i; 32])
    }

    #[test]
    fn every_fate_is_named() {
        let mut facts = RunFacts {
            chain: vec![FinalBlock {
                hash: Hash([0xee; 32]),
                height: 1,
                txids: vec![id(1)],
                difficulty: 1,
                ..FinalBlock::default()
            }],
            crashed: vec![(3, 5000)],
            ..RunFacts::default()
        };
        facts.pooled.insert(id(2));
        facts.gapped.insert(id(3));
        facts.competing.insert(id(4));
        let sub = |t_ms, node, i| TraceRecord {
            t_ms,
            node,
            event: Event::TxSubmitted { txid: id(i) },
        };
        let drop = |node, i, reason| TraceRecord {
            t_ms: 9000,
            node,
            event: Event::TxDropped {
                txid: id(i),
                reason,
            },
        };
        let mut ev: Vec<TraceRecord> = (1..=10).map(|i| sub(1000, 0, i)).collect();
        ev.push(sub(1000, 3, 11)); // to node 3, which crashed at 5 s
        ev.push(drop(1, 5, DropReason::Expired));
        ev.push(drop(2, 6, DropReason::Expired));
        ev.push(drop(1, 6, DropReason::Evicted)); // the last drop names it
        ev.push(drop(1, 7, DropReason::Replaced));
        ev.push(drop(1, 8, DropReason::Invalidated));
        ev.push(TraceRecord {
            t_ms: 1001,
            node: 0,
            event: Event::TxRejected(Box::new(TxRejectedEvent {
                txid: id(9),
                reason: "fee".into(),
            })),
        });
        let f = TxFates::of(&facts, &Trace::from(&ev[..]));
        assert_eq!(
            f,
            TxFates {
                pending: 1,
                nonce_gap: 1,
                on_competing_tip: 1,
                dropped: Dropped {
                    expired: 1,
                    evicted: 1,
                    replaced: 1,
                    unpayable: 0,
                    invalidated: 1,
                },
                lost_on_crashed: 1,
                lost: 1, // id 10: accepted, then nowhere, and no drop explains it
            }
        );
    }
}
