//! `adversaries`: what each `[[adversary]]` did and earned on the final best chain, next to
//! the theory where one is known (docs/experiments.md).

use super::event::{Event, TraceRecord};
use super::FinalBlock;
use crate::adversary::theory::selfish_revenue;
use crate::hash::Hash;
use crate::NodeId;
use serde::Serialize;
use std::collections::HashSet;

/// What the report needs to know of one `[[adversary]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct AdversarySpec {
    /// `selfish`, ...
    pub kind: String,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its share of the hash power as the run gave it.
    pub hashpower: f64,
    /// Selfish mining: the configured γ (absent: emergent).
    pub gamma: Option<f64>,
}

/// `adversaries[i]`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AdversaryStats {
    /// Its kind.
    pub kind: String,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its configured share of the hash power.
    pub hashpower: f64,
    /// Its share of all blocks mined in the run (the hash share it had in effect).
    pub effective_hash_share: f64,
    /// Blocks its nodes mined.
    pub blocks_mined: u64,
    /// Of those, blocks on the final best chain.
    pub blocks_on_chain: u64,
    /// Its share of the final best chain's blocks (after genesis).
    pub revenue_share: f64,
    /// Selfish mining: blocks it withheld, published later, and gave up.
    pub withheld: u64,
    /// Withheld blocks it published.
    pub published: u64,
    /// Withheld blocks it gave up.
    pub gave_up: u64,
    /// Selfish mining: γ as configured (absent: it emerged from the network).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// The closed form for its figures, where one is known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub theory: Option<AdversaryTheory>,
}

/// `adversaries[i].theory`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct AdversaryTheory {
    /// The model.
    pub model: String,
    /// Its revenue share by the model (selfish mining: R(α, γ) with the configured γ; absent
    /// when γ is emergent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revenue_share: Option<f64>,
    /// Selfish mining: R(α, 0) and R(α, 1), the range any γ gives.
    pub revenue_share_range: [f64; 2],
}

/// The `adversaries` section.
pub(super) fn adversaries(
    specs: &[AdversarySpec],
    chain: &[FinalBlock],
    events: &[TraceRecord],
) -> Vec<AdversaryStats> {
    let on_chain: HashSet<Hash> = chain.iter().skip(1).map(|b| b.hash).collect();
    let mined_total = events
        .iter()
        .filter(|r| matches!(r.event, Event::BlockMined { .. }))
        .count();
    specs
        .iter()
        .map(|spec| {
            let mut s = AdversaryStats {
                kind: spec.kind.clone(),
                nodes: spec.nodes.clone(),
                hashpower: spec.hashpower,
                gamma: spec.gamma,
                ..AdversaryStats::default()
            };
            for r in events.iter().filter(|r| spec.nodes.contains(&r.node)) {
                match &r.event {
                    Event::BlockMined { hash, .. } => {
                        s.blocks_mined += 1;
                        s.blocks_on_chain += u64::from(on_chain.contains(hash));
                    }
                    Event::Withheld { .. } => s.withheld += 1,
                    Event::Published { .. } => s.published += 1,
                    Event::GaveUp { .. } => s.gave_up += 1,
                    _ => {}
                }
            }
            s.effective_hash_share = ratio(s.blocks_mined, mined_total as u64);
            s.revenue_share = ratio(s.blocks_on_chain, on_chain.len() as u64);
            if spec.kind == "selfish" {
                let a = spec.hashpower;
                s.theory = Some(AdversaryTheory {
                    model: "eyal-sirer".into(),
                    revenue_share: spec.gamma.map(|g| selfish_revenue(a, g)),
                    revenue_share_range: [selfish_revenue(a, 0.0), selfish_revenue(a, 1.0)],
                });
            }
            s
        })
        .collect()
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mined(t_ms: u64, node: NodeId, hash: Hash, height: u64) -> TraceRecord {
        TraceRecord {
            t_ms,
            node,
            event: Event::BlockMined {
                hash,
                height,
                parent: Hash::ZERO,
                miner: node,
                txs: 0,
                difficulty: 1,
            },
        }
    }

    fn block(hash: Hash, height: u64) -> FinalBlock {
        FinalBlock {
            hash,
            height,
            ..FinalBlock::default()
        }
    }

    #[test]
    fn revenue_counts_the_pools_blocks_on_the_final_chain() {
        let h = |i: u8| Hash([i; 32]);
        let events = vec![
            mined(1, 0, h(1), 1),
            mined(2, 1, h(2), 1), // the pool's, reverted
            mined(3, 1, h(3), 2),
            mined(4, 0, h(4), 3),
            TraceRecord {
                t_ms: 3,
                node: 1,
                event: Event::Withheld {
                    hash: h(3),
                    height: 2,
                    lead: 1,
                },
            },
        ];
        let chain = vec![
            block(Hash::ZERO, 0),
            block(h(1), 1),
            block(h(3), 2),
            block(h(4), 3),
        ];
        let spec = AdversarySpec {
            kind: "selfish".into(),
            nodes: vec![1],
            hashpower: 0.3,
            gamma: Some(0.5),
        };
        let s = &adversaries(&[spec], &chain, &events)[0];
        assert_eq!((s.blocks_mined, s.blocks_on_chain, s.withheld), (2, 1, 1));
        assert!((s.revenue_share - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.effective_hash_share - 0.5).abs() < 1e-12);
        let t = s.theory.as_ref().unwrap();
        assert_eq!(t.revenue_share, Some(selfish_revenue(0.3, 0.5)));
        assert!(t.revenue_share_range[0] < t.revenue_share_range[1]);
    }
}
