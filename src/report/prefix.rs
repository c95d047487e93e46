//! Common prefix, two ways: one node's own reorgs of depth ≥ k ([`SelfReorgs`]), and the
//! cross-node property ([`CommonPrefix`]): at every tip change, the node whose tip moved is
//! compared with every other running node; the two disagree k deep when each holds at least k
//! blocks past their common ancestor.
//!
//! The chains come from the trace alone: `block_mined` gives every block's parent (the block
//! tree), `tip_changed` each node's tip, `node_stopped` takes a node out of the comparison
//! until its next `tip_changed` (a started node records one with the tip of its store).
//! Nodes are grouped by tip, so a check costs one ancestor walk per distinct tip, and the walks
//! are memoised per pair of tips: cheap with a thousand nodes, which share a handful of tips.

use super::event::Event;
use super::trace::Trace;
use crate::hash::Hash;
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A node reverted `depth` blocks at time `t`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SelfReorg {
    /// Node.
    pub node: NodeId,
    /// Blocks reverted (>= k).
    pub depth: u64,
    /// When, seconds.
    pub t: f64,
}

/// `safety.self_reorgs_k`: reorgs of depth >= k, each by one node of its own chain.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct SelfReorgs {
    /// How many.
    pub count: u64,
    /// The deepest (the first of equals); null without any.
    pub worst: Option<SelfReorg>,
}

/// Two nodes disagreeing `depth` blocks deep at time `t`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Disagreement {
    /// The two nodes, lower id first.
    pub nodes: [NodeId; 2],
    /// Blocks past the common ancestor on the shorter side (both sides have at least this).
    pub depth: u64,
    /// When, seconds.
    pub t: f64,
}

/// `safety.common_prefix`: the cross-node property, checked at every tip change.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CommonPrefix {
    /// Node pairs compared (the moved node against each other running node, per tip change).
    pub checked: u64,
    /// Of those, pairs that disagreed at least k deep.
    pub violations: u64,
    /// The deepest disagreement (the first of equals); null without any.
    pub worst: Option<Disagreement>,
}

/// Every reorg of depth >= `k` (none when `k` is 0).
pub(super) fn self_reorgs(events: &Trace, k: u64) -> SelfReorgs {
    let mut s = SelfReorgs::default();
    for r in events {
        if let Event::Reorg(reorg) = &r.event {
            let depth = reorg.depth;
            if k > 0 && depth >= k {
                s.count += 1;
                if s.worst.as_ref().is_none_or(|w| depth > w.depth) {
                    s.worst = Some(SelfReorg {
                        node: r.node,
                        depth,
                        t: r.t_ms as f64 / 1000.0,
                    });
                }
            }
        }
    }
    s
}

/// The block tree: each mined block's parent. Genesis (and anything not mined in the run) is
/// a root.
#[derive(Default)]
struct Tree {
    parent: HashMap<Hash, Hash>,
}

impl Tree {
    /// Height of the common ancestor of `a` at height `ha` and `b` at height `hb`.
    fn common_height(&self, mut a: Hash, mut ha: u64, mut b: Hash, mut hb: u64) -> u64 {
        loop {
            if a == b {
                return ha;
            }
            if ha == 0 || hb == 0 {
                return 0;
            }
            let (x, hx) = if ha >= hb {
                (&mut a, &mut ha)
            } else {
                (&mut b, &mut hb)
            };
            match self.parent.get(x) {
                Some(p) => {
                    *x = *p;
                    *hx -= 1;
                }
                None => return 0,
            }
        }
    }
}

/// The running nodes' tips, grouped by tip.
#[derive(Default)]
struct Tips {
    of: BTreeMap<NodeId, (Hash, u64)>,
    at: BTreeMap<Hash, (u64, BTreeSet<NodeId>)>,
}

impl Tips {
    fn remove(&mut self, node: NodeId) {
        if let Some((old, _)) = self.of.remove(&node) {
            if let Some((_, nodes)) = self.at.get_mut(&old) {
                nodes.remove(&node);
                if nodes.is_empty() {
                    self.at.remove(&old);
                }
            }
        }
    }

    fn set(&mut self, node: NodeId, tip: Hash, height: u64) {
        self.remove(node);
        self.of.insert(node, (tip, height));
        self.at
            .entry(tip)
            .or_insert_with(|| (height, BTreeSet::new()))
            .1
            .insert(node);
    }
}

/// The cross-node common-prefix check over the whole trace (nothing when `k` is 0).
pub(super) fn common_prefix(events: &Trace, k: u64) -> CommonPrefix {
    let mut cp = CommonPrefix::default();
    let mut tree = Tree::default();
    let mut tips = Tips::default();
    let mut memo: HashMap<(Hash, Hash), u64> = HashMap::new();
    for r in events {
        match &r.event {
            Event::BlockMined(m) => {
                tree.parent.entry(m.hash).or_insert(m.parent);
            }
            Event::NodeStopped { .. } => tips.remove(r.node),
            Event::TipChanged { hash, height } => {
                tips.set(r.node, *hash, *height);
                if k == 0 {
                    continue;
                }
                for (other, (h2, nodes)) in &tips.at {
                    let count = nodes.len() as u64 - u64::from(nodes.contains(&r.node));
                    cp.checked += count;
                    if other == hash || count == 0 {
                        continue;
                    }
                    let key = if hash < other {
                        (*hash, *other)
                    } else {
                        (*other, *hash)
                    };
                    let a = *memo
                        .entry(key)
                        .or_insert_with(|| tree.common_height(*hash, *height, *other, *h2));
                    let depth = height.saturating_sub(a).min(h2.saturating_sub(a));
                    if depth < k {
                        continue;
                    }
                    cp.violations += count;
                    if cp.worst.as_ref().is_none_or(|w| depth > w.depth) {
                        let m = nodes
                            .iter()
                            .copied()
                            .find(|n| *n != r.node)
                            .unwrap_or(r.node);
                        cp.worst = Some(Disagreement {
                            nodes: [r.node.min(m), r.node.max(m)],
                            depth,
                            t: r.t_ms as f64 / 1000.0,
                        });
                    }
                }
            }
            _ => {}
        }
    }
    cp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit::{mined, rec};
    use crate::report::ReorgEvent;
    use crate::report::TraceRecord;

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    fn tip(t: u64, node: NodeId, hash: Hash, height: u64) -> TraceRecord {
        rec(t, node, Event::TipChanged { hash, height })
    }

    /// Node 0 mines a branch g-1-2-3 and node 1 a branch g-11-12-13, each staying on its own:
    /// no reorg, yet they disagree 3 deep.
    fn split_chains(len: u8) -> Vec<TraceRecord> {
        let g = h(0);
        let mut ev = vec![tip(0, 0, g, 0), tip(0, 1, g, 0), tip(0, 2, g, 0)];
        let (mut pa, mut pb) = (g, g);
        for i in 1..=len {
            let t = u64::from(i) * 1000;
            let (a, b) = (h(i), h(10 + i));
            ev.push(mined(t, 0, a, pa, u64::from(i)));
            ev.push(tip(t, 0, a, u64::from(i)));
            ev.push(mined(t + 1, 1, b, pb, u64::from(i)));
            ev.push(tip(t + 1, 1, b, u64::from(i)));
            (pa, pb) = (a, b);
        }
        ev
    }

    #[test]
    fn two_nodes_apart_k_deep_without_a_reorg_violate_common_prefix() {
        let ev = split_chains(3);
        assert_eq!(
            self_reorgs(&Trace::from(&ev[..]), 3),
            SelfReorgs::default(),
            "no node reorged"
        );
        let cp = common_prefix(&Trace::from(&ev[..]), 3);
        // Only the last tip change (node 1 reaching height 3) finds both sides 3 deep.
        assert_eq!(cp.violations, 1);
        assert_eq!(
            cp.worst,
            Some(Disagreement {
                nodes: [0, 1],
                depth: 3,
                t: 3.001
            })
        );
        // Node 2 stayed at genesis: it lags, it does not disagree.
        assert_eq!(common_prefix(&Trace::from(&ev[..]), 4).violations, 0);
        assert!(cp.checked > 0);
    }

    #[test]
    fn a_stopped_node_is_left_out() {
        let mut ev = split_chains(3);
        // Node 1 stops before its branch is 3 deep: nothing to compare it with.
        let stop_at = ev
            .iter()
            .position(|r| r.t_ms == 3001 && matches!(r.event, Event::TipChanged { .. }))
            .unwrap();
        ev.insert(stop_at, rec(3000, 1, Event::NodeStopped { crashed: true }));
        ev.retain(|r| !(r.node == 1 && r.t_ms == 3001));
        assert_eq!(
            common_prefix(&Trace::from(&ev[..]), 3).violations,
            0,
            "node 1 stopped at 2 deep"
        );
        // ...though node 1 came back with its chain, 3 deep by now as node 0 moved on.
        ev.push(mined(4000, 0, h(4), h(3), 4));
        ev.push(tip(4000, 1, h(12), 2));
        ev.push(tip(4001, 0, h(4), 4));
        // k = 2: at 2.001 and 3.0 before the stop, at 4.0 and 4.001 after the restart.
        let cp = common_prefix(&Trace::from(&ev[..]), 2);
        assert_eq!(cp.violations, 4);
        assert_eq!(cp.worst.map(|w| (w.nodes, w.depth)), Some(([0, 1], 2)));
    }

    #[test]
    fn self_reorgs_count_depth_k_and_keep_the_deepest() {
        let reorg = |t, node, depth| {
            rec(
                t,
                node,
                Event::Reorg(Box::new(ReorgEvent {
                    depth,
                    old_tip: h(1),
                    new_tip: h(2),
                })),
            )
        };
        let ev = [reorg(1000, 0, 2), reorg(2000, 1, 4), reorg(3000, 2, 4)];
        let s = self_reorgs(&Trace::from(&ev[..]), 3);
        assert_eq!(s.count, 2);
        assert_eq!(
            s.worst,
            Some(SelfReorg {
                node: 1,
                depth: 4,
                t: 2.0
            })
        );
    }
}
