//! `adversaries[i].spam`: what a spam or forkspam adversary sent, what the honest nodes did
//! with it, and the honest load's throughput and latency against the same run without the
//! attacker (docs/experiments.md, "Spam and forkspam").
//!
//! - Transactions: `spam_sent` at the adversary's nodes; `spam_admitted` / `spam_refused` at
//!   the honest nodes (every node that is no adversary's); on the final best chain or not.
//! - Blocks: `spam_sent` (with the neighbours each was pushed to); at the honest nodes
//!   `block_imported` (stored, on any branch), `block_rejected` (failed a check), and the
//!   rest of the deliveries not processed: refused before any check by the fork-depth and
//!   work rules (`chain::sidebranch`), or a duplicate.
//! - The honest load is the workload's (`txs`): its TPS and inclusion latency here, and the
//!   same figures of the baseline run ([`RunFacts::baseline`]: this config with the spam and
//!   forkspam entries removed, same seed).

use super::event::Event;
use super::metrics::TxStats;
use super::trace::Trace;
use super::{AdversaryStats, RunFacts};
use crate::hash::Hash;
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// The honest load's throughput and latency in one run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct HonestLoad {
    /// Workload transactions submitted.
    pub submitted: u64,
    /// Of those, on the final best chain.
    pub confirmed: u64,
    /// confirmed / duration.
    pub tps: f64,
    /// Submission to inclusion in the final best chain, median, seconds.
    pub latency_p50_s: Option<f64>,
    /// The same, 90th percentile.
    pub latency_p90_s: Option<f64>,
}

impl HonestLoad {
    /// The workload's figures of a report's `txs`.
    pub fn of(t: &TxStats) -> HonestLoad {
        HonestLoad {
            submitted: t.submitted,
            confirmed: t.confirmed,
            tps: t.tps,
            latency_p50_s: t.inclusion_s.p50,
            latency_p90_s: t.inclusion_s.p90,
        }
    }
}

/// `adversaries[i].spam`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SpamStats {
    /// `low-fee`, `invalid-tx`, `invalid-block` or `forkspam`.
    pub mode: String,
    /// Transactions it sent.
    pub txs_sent: u64,
    /// Admissions of them into honest nodes' mempools (one per node and transaction).
    pub txs_admitted_by_honest: u64,
    /// Refusals of them by honest nodes' mempools (one per node and transaction).
    pub txs_refused_by_honest: u64,
    /// Refusals by the flaw the transaction carried.
    pub refused_by_flaw: BTreeMap<String, u64>,
    /// Of its transactions, on the final best chain.
    pub txs_on_chain: u64,
    /// Blocks it sent.
    pub blocks_sent: u64,
    /// Pushes of them to neighbours.
    pub block_deliveries: u64,
    /// Honest nodes' stores of them (one per node and block, on any branch).
    pub blocks_stored_by_honest: u64,
    /// Honest nodes' rejections of them after a check failed.
    pub blocks_rejected_by_honest: u64,
    /// Deliveries neither stored nor rejected: refused before any check (fork depth, work)
    /// or duplicates.
    pub blocks_not_processed: u64,
    /// Of its blocks, on the final best chain.
    pub blocks_on_chain: u64,
    /// Most blocks off the best chain any honest node held in memory at the end.
    pub honest_side_blocks_max: u64,
    /// The honest load in this run.
    pub honest: HonestLoad,
    /// The honest load in the same run without the attacker (absent when no baseline ran).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub without: Option<HonestLoad>,
    /// `honest.tps / without.tps`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tps_ratio: Option<f64>,
    /// `honest.latency_p50_s / without.latency_p50_s`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ratio: Option<f64>,
}

/// Fills `spam` of each spam and forkspam adversary.
pub(super) fn add_spam(
    stats: &mut [AdversaryStats],
    facts: &RunFacts,
    events: &Trace,
    txs: &TxStats,
) {
    let adversary: BTreeSet<NodeId> = facts
        .adversaries
        .iter()
        .flat_map(|a| a.nodes.iter().copied())
        .collect();
    let honest = |n: NodeId| !adversary.contains(&n);
    let on_chain: HashSet<Hash> = facts.chain.iter().map(|b| b.hash).collect();
    let on_chain_txs: HashSet<Hash> = facts
        .chain
        .iter()
        .flat_map(|b| b.txids.iter().copied())
        .collect();
    let side_max = facts
        .side_blocks
        .iter()
        .filter(|(n, _)| honest(*n))
        .map(|(_, s)| *s as u64)
        .max()
        .unwrap_or(0);
    for s in stats
        .iter_mut()
        .filter(|s| s.kind == "spam" || s.kind == "forkspam")
    {
        let mut out = SpamStats {
            mode: if s.kind == "forkspam" {
                "forkspam".into()
            } else {
                String::new()
            },
            honest_side_blocks_max: side_max,
            honest: HonestLoad::of(txs),
            without: facts.baseline.clone(),
            ..SpamStats::default()
        };
        // Sent items: id → flaw.
        let mut sent_txs: BTreeMap<Hash, String> = BTreeMap::new();
        let mut sent_blocks: BTreeSet<Hash> = BTreeSet::new();
        for r in events.iter().filter(|r| s.nodes.contains(&r.node)) {
            if let Event::SpamSent(sent) = &r.event {
                if sent.block {
                    sent_blocks.insert(sent.id);
                    out.block_deliveries += sent.peers;
                } else {
                    sent_txs.insert(sent.id, sent.flaw.clone());
                }
                if out.mode.is_empty() {
                    out.mode = mode_of(sent.block, &sent.flaw).into();
                }
            }
        }
        out.txs_sent = sent_txs.len() as u64;
        out.blocks_sent = sent_blocks.len() as u64;
        for r in events.iter().filter(|r| honest(r.node)) {
            match &r.event {
                Event::SpamAdmitted { txid } if sent_txs.contains_key(txid) => {
                    out.txs_admitted_by_honest += 1;
                }
                Event::SpamRefused(refused) => {
                    if let Some(flaw) = sent_txs.get(&refused.txid) {
                        out.txs_refused_by_honest += 1;
                        *out.refused_by_flaw.entry(flaw.clone()).or_default() += 1;
                    }
                }
                Event::BlockImported { hash, .. } if sent_blocks.contains(hash) => {
                    out.blocks_stored_by_honest += 1;
                }
                Event::BlockRejected(rejected) if sent_blocks.contains(&rejected.hash) => {
                    out.blocks_rejected_by_honest += 1;
                }
                _ => {}
            }
        }
        out.blocks_not_processed = out
            .block_deliveries
            .saturating_sub(out.blocks_stored_by_honest + out.blocks_rejected_by_honest);
        out.txs_on_chain = sent_txs.keys().filter(|t| on_chain_txs.contains(t)).count() as u64;
        out.blocks_on_chain = sent_blocks.iter().filter(|b| on_chain.contains(b)).count() as u64;
        if let Some(w) = &out.without {
            out.tps_ratio = (w.tps > 0.0).then(|| out.honest.tps / w.tps);
            out.latency_ratio = match (out.honest.latency_p50_s, w.latency_p50_s) {
                (Some(a), Some(b)) if b > 0.0 => Some(a / b),
                _ => None,
            };
        }
        s.spam = Some(out);
    }
}

/// The mode a sent item shows.
fn mode_of(block: bool, flaw: &str) -> &'static str {
    match (block, flaw) {
        (_, "fork") => "forkspam",
        (true, _) => "invalid-block",
        (false, "low-fee") => "low-fee",
        (false, _) => "invalid-tx",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit::rec;
    use crate::report::{
        AdversarySpec, BlockRejectedEvent, FinalBlock, SpamRefusedEvent, SpamSentEvent,
    };

    #[test]
    fn counts_follow_the_trace_and_the_baseline() {
        let h = |i: u8| Hash([i; 32]);
        let sent = |id, block, flaw: &str, peers| {
            Event::SpamSent(Box::new(SpamSentEvent {
                id,
                block,
                flaw: flaw.into(),
                height: 0,
                peers,
            }))
        };
        let events = [
            rec(1, 0, sent(h(1), false, "bad-signature", 2)),
            rec(1, 0, sent(h(2), false, "overspend", 2)),
            rec(1, 0, sent(h(3), true, "bad-pow", 2)),
            rec(
                2,
                1,
                Event::SpamRefused(Box::new(SpamRefusedEvent {
                    txid: h(1),
                    reason: "x".into(),
                })),
            ),
            rec(
                2,
                2,
                Event::SpamRefused(Box::new(SpamRefusedEvent {
                    txid: h(2),
                    reason: "x".into(),
                })),
            ),
            rec(2, 1, Event::SpamAdmitted { txid: h(2) }),
            rec(
                2,
                2,
                Event::BlockRejected(Box::new(BlockRejectedEvent {
                    hash: h(3),
                    reason: "x".into(),
                })),
            ),
            // At the adversary's own node: not counted.
            rec(2, 0, Event::SpamAdmitted { txid: h(1) }),
        ];
        let mut b = FinalBlock {
            hash: h(9),
            height: 1,
            ..FinalBlock::default()
        };
        b.txids = vec![h(2)];
        let facts = RunFacts {
            chain: vec![FinalBlock::default(), b],
            adversaries: vec![AdversarySpec {
                kind: "spam".into(),
                nodes: vec![0],
                hashpower: 0.0,
                gamma: None,
                merchant: None,
                confirmations: None,
                give_up: None,
                timewarp: None,
                eclipse: None,
            }],
            side_blocks: vec![(0, 50), (1, 3), (2, 1)],
            baseline: Some(HonestLoad {
                tps: 2.0,
                latency_p50_s: Some(4.0),
                ..HonestLoad::default()
            }),
            ..RunFacts::default()
        };
        let mut txs = TxStats {
            tps: 1.0,
            ..TxStats::default()
        };
        txs.inclusion_s.p50 = Some(6.0);
        let mut stats = vec![AdversaryStats {
            kind: "spam".into(),
            nodes: vec![0],
            ..AdversaryStats::default()
        }];
        add_spam(&mut stats, &facts, &Trace::from(&events[..]), &txs);
        let s = stats[0].spam.as_ref().unwrap();
        assert_eq!(s.mode, "invalid-tx");
        assert_eq!((s.txs_sent, s.blocks_sent, s.block_deliveries), (2, 1, 2));
        assert_eq!((s.txs_refused_by_honest, s.txs_admitted_by_honest), (2, 1));
        assert_eq!(s.refused_by_flaw.get("bad-signature"), Some(&1));
        assert_eq!(
            (s.blocks_rejected_by_honest, s.blocks_not_processed),
            (1, 1)
        );
        assert_eq!((s.txs_on_chain, s.honest_side_blocks_max), (1, 3));
        assert_eq!(s.tps_ratio, Some(0.5));
        assert_eq!(s.latency_ratio, Some(1.5));
    }
}
