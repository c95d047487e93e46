//! The report's figures and the maths behind them: [`Percentiles`], [`BlockStats`],
//! [`TxStats`], [`Convergence`] and [`Connections`], computed from the trace and the final
//! best chain.

use super::event::Event;
use super::fates::Dropped;
use super::trace::Trace;
use super::{FinalBlock, RunFacts};
use crate::hash::{Hash, TxId};
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// p50, p90, p99 (nearest rank); null without samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Number of samples.
    pub samples: usize,
}

impl Percentiles {
    /// From unsorted samples.
    pub fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if v.is_empty() {
                None
            } else {
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                Some(v[rank - 1])
            }
        };
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            samples: v.len(),
        }
    }
}

/// `blocks`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BlockStats {
    /// Blocks mined by anyone.
    pub mined: u64,
    /// Height of the final best chain.
    pub canonical_height: u64,
    /// Mined blocks not on the final best chain.
    pub stale: u64,
    /// stale / mined.
    pub stale_rate: f64,
    /// Heights at which more than one block was mined.
    pub forks: u64,
    /// Reorg events over all nodes.
    pub reorgs: u64,
    /// Deepest reorg at any node.
    pub max_reorg_depth: u64,
    /// Mean time between best-chain blocks, seconds (by mining time); null with fewer than
    /// two blocks after genesis.
    pub mean_interval_s: Option<f64>,
    /// Difficulty of the final tip.
    pub final_difficulty: u64,
}

/// `txs`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TxStats {
    /// Submitted by the workload.
    pub submitted: u64,
    /// Of those, on the final best chain.
    pub confirmed: u64,
    /// Refused at submission.
    pub rejected: u64,
    /// confirmed / duration.
    pub tps: f64,
    /// Submission to the mining of the final best-chain block that includes it (one
    /// confirmation), seconds.
    pub inclusion_s: Percentiles,
    /// Submission to its k-th confirmation on the final best chain (`k = safety.k`): the mining
    /// of the final best-chain block k - 1 above the including one, seconds. Transactions with
    /// fewer than k confirmations at the end have no sample.
    pub confirmation_s: Percentiles,
    /// Accepted, not on the final best chain, ready in some live node's mempool.
    pub pending: u64,
    /// Accepted, not on the final best chain, pooled only behind a missing nonce of its sender.
    pub nonce_gap: u64,
    /// Accepted, on the best chain of a live node whose tip is not the final one (a tie left
    /// unresolved at the end).
    pub on_competing_tip: u64,
    /// Accepted, then let go by mempool policy wherever it was pooled, by the last reason.
    pub dropped: Dropped,
    /// Accepted by a node that later crashed or was wiped, and nowhere else any more.
    pub lost_on_crashed_nodes: u64,
    /// Accepted and then nowhere (not on any live chain, in no live pool, no drop explains it):
    /// must be 0.
    pub lost: u64,
    /// Arrivals a full mempool refused (`mempool.max_txs` reached and the newcomer paying no
    /// better rate than any evictable transaction), summed over the live nodes at the end:
    /// each node counts its own refusals, from the load or from peers.
    pub refused_full: u64,
    /// The most transactions any live node's mempool held at once (at most
    /// `mempool.max_txs`).
    pub pool_peak: u64,
}

/// `convergence`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Convergence {
    /// All live nodes on one tip.
    pub converged: bool,
    /// Number of distinct tips among live nodes.
    pub distinct_tips: usize,
    /// The best tip (hex).
    pub tip: String,
    /// Its height.
    pub height: u64,
}

/// `connections`: what happened on TCP links.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Connections {
    /// Handshakes completed (each side counts its own).
    pub connected: u64,
    /// Handshakes failed.
    pub handshake_failed: u64,
    /// Connections ended after a handshake.
    pub disconnected: u64,
    /// Peers discouraged.
    pub discouraged: u64,
    /// Disconnections by cause.
    pub causes: BTreeMap<String, u64>,
}

impl Connections {
    /// Counts the TCP connection events.
    pub(super) fn from_events(events: &Trace) -> Connections {
        let mut c = Connections::default();
        for r in events {
            match &r.event {
                Event::PeerConnected { .. } => c.connected += 1,
                Event::HandshakeFailed(_) => c.handshake_failed += 1,
                Event::PeerDisconnected(d) => {
                    c.disconnected += 1;
                    *c.causes.entry(d.cause.clone()).or_default() += 1;
                }
                Event::PeerDiscouraged { .. } => c.discouraged += 1,
                _ => {}
            }
        }
        c
    }
}

impl Convergence {
    /// Agreement among the live nodes at the end; tip and height of the final best chain.
    pub(super) fn of(facts: &RunFacts) -> Convergence {
        let live_tips: BTreeSet<Hash> = facts
            .finals
            .iter()
            .filter(|f| f.live)
            .map(|f| f.tip)
            .collect();
        let best = facts.chain.last();
        Convergence {
            converged: live_tips.len() == 1,
            distinct_tips: live_tips.len(),
            tip: best.map(|b| b.hash.to_hex()).unwrap_or_default(),
            height: best.map(|b| b.height).unwrap_or(0),
        }
    }
}

/// What one pass over the trace gathers for the block, propagation and transaction figures.
pub(super) struct Tally {
    /// When each block was first mined.
    pub(super) mined_at: HashMap<Hash, u64>,
    /// Blocks mined per height.
    heights: BTreeMap<u64, u64>,
    /// Blocks mined by anyone.
    mined: u64,
    /// Reorg events over all nodes.
    reorgs: u64,
    /// Deepest reorg at any node.
    pub(super) max_depth: u64,
    /// When each workload transaction was first submitted.
    submitted: HashMap<TxId, u64>,
    /// Workload transactions refused at submission.
    rejected: u64,
    /// Nodes still running at the end, in id order.
    pub(super) live: Vec<NodeId>,
    /// The first import of each best-chain block at each live node (a wiped node's re-import
    /// later does not count).
    pub(super) first_import: HashMap<Hash, HashMap<NodeId, u64>>,
}

impl Tally {
    /// Reads the trace once. `chain_pos` holds the final best chain's blocks.
    pub(super) fn scan(
        facts: &RunFacts,
        events: &Trace,
        chain_pos: &HashMap<Hash, usize>,
    ) -> Tally {
        let live: BTreeSet<NodeId> = facts
            .finals
            .iter()
            .filter(|f| f.live)
            .map(|f| f.id)
            .collect();
        let mut t = Tally {
            mined_at: HashMap::new(),
            heights: BTreeMap::new(),
            mined: 0,
            reorgs: 0,
            max_depth: 0,
            submitted: HashMap::new(),
            rejected: 0,
            live: live.iter().copied().collect(),
            first_import: HashMap::new(),
        };
        for r in events {
            match &r.event {
                Event::BlockMined(m) => {
                    t.mined += 1;
                    *t.heights.entry(m.height).or_default() += 1;
                    t.mined_at.entry(m.hash).or_insert(r.t_ms);
                }
                Event::BlockImported { hash, .. }
                    if chain_pos.contains_key(hash) && live.contains(&r.node) =>
                {
                    t.first_import
                        .entry(*hash)
                        .or_default()
                        .entry(r.node)
                        .or_insert(r.t_ms);
                }
                Event::Reorg(reorg) => {
                    t.reorgs += 1;
                    t.max_depth = t.max_depth.max(reorg.depth);
                }
                Event::TxSubmitted { txid } => {
                    t.submitted.entry(*txid).or_insert(r.t_ms);
                }
                Event::TxRejected(_) => t.rejected += 1,
                _ => {}
            }
        }
        t
    }

    /// `blocks`: mined, stale, forks, reorgs and pace of the final best chain.
    pub(super) fn block_stats(
        &self,
        chain: &[FinalBlock],
        chain_pos: &HashMap<Hash, usize>,
    ) -> BlockStats {
        let stale = self
            .mined_at
            .keys()
            .filter(|h| !chain_pos.contains_key(h))
            .count() as u64;
        let forks = self.heights.values().filter(|c| **c > 1).count() as u64;
        let best = chain.last();
        BlockStats {
            mined: self.mined,
            canonical_height: best.map(|b| b.height).unwrap_or(0),
            stale,
            stale_rate: if self.mined > 0 {
                stale as f64 / self.mined as f64
            } else {
                0.0
            },
            forks,
            reorgs: self.reorgs,
            max_reorg_depth: self.max_depth,
            mean_interval_s: self.mean_interval_s(chain),
            final_difficulty: best.map(|b| b.difficulty).unwrap_or(0),
        }
    }

    /// Mean time between best-chain blocks, seconds, by mining time: from the first block
    /// after genesis to the last, over the intervals between them (None with fewer than two).
    fn mean_interval_s(&self, chain: &[FinalBlock]) -> Option<f64> {
        let chain_times: Vec<u64> = chain
            .iter()
            .skip(1)
            .filter_map(|b| self.mined_at.get(&b.hash).copied())
            .collect();
        match chain_times.len() {
            0 | 1 => None,
            n => Some(
                (chain_times[n - 1].saturating_sub(chain_times[0])) as f64
                    / 1000.0
                    / (n - 1) as f64,
            ),
        }
    }

    /// `txs`: submissions, confirmations on the final best chain, throughput, and the times
    /// to one and to `k` confirmations (the fates are filled in by the caller).
    pub(super) fn tx_stats(&self, chain: &[FinalBlock], duration_s: f64, k: u64) -> TxStats {
        let mut inclusion = Vec::new();
        let mut confirmation = Vec::new();
        for (i, b) in chain.iter().enumerate().skip(1) {
            let Some(t_block) = self.mined_at.get(&b.hash) else {
                continue;
            };
            let kth = chain
                .get(i + k.max(1) as usize - 1)
                .and_then(|c| self.mined_at.get(&c.hash));
            for id in &b.txids {
                if let Some(t_sub) = self.submitted.get(id) {
                    inclusion.push(t_block.saturating_sub(*t_sub) as f64 / 1000.0);
                    if let Some(t_k) = kth {
                        confirmation.push(t_k.saturating_sub(*t_sub) as f64 / 1000.0);
                    }
                }
            }
        }
        let confirmed = inclusion.len() as u64;
        TxStats {
            submitted: self.submitted.len() as u64,
            confirmed,
            rejected: self.rejected,
            tps: if duration_s > 0.0 {
                confirmed as f64 / duration_s
            } else {
                0.0
            },
            inclusion_s: Percentiles::of(inclusion),
            confirmation_s: Percentiles::of(confirmation),
            ..TxStats::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p90, p.p99), (Some(50.0), Some(90.0), Some(99.0)));
        assert_eq!(Percentiles::of(vec![]).p50, None);
    }
}
