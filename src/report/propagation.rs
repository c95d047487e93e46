//! `propagation`: how fast final best-chain blocks reached the nodes, as two figures that do
//! not mix — full propagation to the nodes that were up and connected all along
//! ([`Propagation::full_s`]), and the catch-up of nodes that were down or cut off
//! ([`Propagation::catch_up_s`]).
//!
//! A node is *disrupted* while it is down (before its first `node_started`, and from a
//! `node_stopped` to its next `node_started`), paused (from a `pause` fault on it to a `resume`
//! of it or that pause's end), or cut off: from the start of an `isolate` fault on it, or of any
//! `partition` or `partition_oneway` (these count for every node), to that fault's end or the
//! next `heal` (any heal, even one with `groups`, ends every cut in this accounting). Loss,
//! latency, reordering and bandwidth rules are not disruptions: they slow the full figure.

use super::event::Event;
use super::metrics::{Percentiles, Tally};
use super::trace::Trace;
use super::FinalBlock;
use crate::NodeId;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// `propagation`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Propagation {
    /// Per final best-chain block: from its mining to its first import by the last of the
    /// nodes live at the end and not disrupted between the mining and their import (a sample
    /// only when all of those imported it, and they are at least two, or the only node).
    pub full_s: Percentiles,
    /// Per final best-chain block and node live at the end that was disrupted between the
    /// block's mining and its import, and imported it after the disruption ended: from the end
    /// of that disruption (or the mining, if later) to the import.
    pub catch_up_s: Percentiles,
}

/// When each node was disrupted: half-open `[from, to)` intervals in ms, `to = u64::MAX` when
/// it never ended.
pub(super) fn disruptions(events: &Trace, nodes: usize) -> Vec<Vec<(u64, u64)>> {
    let mut down: BTreeSet<NodeId> = (0..nodes).collect();
    let mut paused: BTreeMap<NodeId, BTreeSet<usize>> = BTreeMap::new();
    let mut cut_all: BTreeSet<usize> = BTreeSet::new();
    let mut cut_one: BTreeMap<usize, NodeId> = BTreeMap::new();
    let mut open: Vec<Option<u64>> = vec![Some(0); nodes];
    let mut out: Vec<Vec<(u64, u64)>> = vec![Vec::new(); nodes];
    for r in events {
        let n = r.node;
        let all = match &r.event {
            Event::NodeStarted { .. } => {
                down.remove(&n);
                false
            }
            Event::NodeStopped { .. } => {
                down.insert(n);
                false
            }
            Event::Fault(fault) => {
                let index = fault.index;
                match (fault.kind.as_str(), fault.phase == "start") {
                    ("pause", true) => {
                        paused.entry(n).or_default().insert(index);
                    }
                    ("pause", false) => {
                        paused.entry(n).or_default().remove(&index);
                    }
                    ("resume", true) => {
                        paused.remove(&n);
                    }
                    ("isolate", true) => {
                        cut_one.insert(index, n);
                    }
                    ("partition" | "partition_oneway", true) => {
                        cut_all.insert(index);
                    }
                    ("isolate" | "partition" | "partition_oneway", false) => {
                        cut_all.remove(&index);
                        cut_one.remove(&index);
                    }
                    ("heal", true) => {
                        cut_all.clear();
                        cut_one.clear();
                    }
                    _ => continue,
                }
                true
            }
            _ => continue,
        };
        let affected: Vec<NodeId> = if all { (0..nodes).collect() } else { vec![n] };
        for m in affected.into_iter().filter(|m| *m < nodes) {
            let now = down.contains(&m)
                || paused.get(&m).is_some_and(|p| !p.is_empty())
                || !cut_all.is_empty()
                || cut_one.values().any(|c| *c == m);
            match (open[m], now) {
                (None, true) => open[m] = Some(r.t_ms),
                (Some(from), false) => {
                    if r.t_ms > from {
                        out[m].push((from, r.t_ms));
                    }
                    open[m] = None;
                }
                _ => {}
            }
        }
    }
    for (m, o) in open.into_iter().enumerate() {
        if let Some(from) = o {
            out[m].push((from, u64::MAX));
        }
    }
    out
}

/// The two figures over the final best chain.
pub(super) fn propagation(
    tally: &Tally,
    chain: &[FinalBlock],
    gaps: &[Vec<(u64, u64)>],
) -> Propagation {
    let mut full = Vec::new();
    let mut catch_up = Vec::new();
    for b in chain.iter().skip(1) {
        let Some(&t0) = tally.mined_at.get(&b.hash) else {
            continue;
        };
        let imports = tally.first_import.get(&b.hash);
        // The latest import among the undisrupted nodes (None: one of them never imported
        // it), and how many they are.
        let mut last = Some(t0);
        let mut undisrupted = 0;
        for n in &tally.live {
            let at = imports.and_then(|m| m.get(n)).copied();
            let gaps = gaps.get(*n).map(Vec::as_slice).unwrap_or(&[]);
            let until = at.unwrap_or(u64::MAX);
            let overlapping: Vec<&(u64, u64)> = gaps
                .iter()
                .filter(|(from, to)| *from <= until && *to > t0)
                .collect();
            if overlapping.is_empty() {
                undisrupted += 1;
            }
            match (at, overlapping.is_empty()) {
                (Some(t), true) => last = last.map(|l| l.max(t)),
                (None, true) => last = None,
                (Some(t), false) => {
                    // Imported after the disruption ended: a catch-up. Imported during one
                    // (on the same side of a partition): neither figure.
                    if overlapping.iter().all(|(_, to)| *to <= t) {
                        let back = overlapping.iter().map(|(_, to)| *to).max().unwrap_or(t0);
                        catch_up.push(t.saturating_sub(back.max(t0)) as f64 / 1000.0);
                    }
                }
                (None, false) => {}
            }
        }
        // Not a sample when no node, or only one of several, was undisrupted (a block mined
        // during a partition, say): reaching "every" such node would say nothing.
        let enough = undisrupted >= 2 || (undisrupted == 1 && tally.live.len() == 1);
        if let (Some(t1), true) = (last, enough) {
            full.push(t1.saturating_sub(t0) as f64 / 1000.0);
        }
    }
    Propagation {
        full_s: Percentiles::of(full),
        catch_up_s: Percentiles::of(catch_up),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::testkit::rec;
    use crate::report::FaultEvent;
    use crate::report::TraceRecord;

    fn fault(t: u64, node: NodeId, index: usize, kind: &str, phase: &str) -> TraceRecord {
        rec(
            t,
            node,
            Event::Fault(Box::new(FaultEvent {
                index,
                kind: kind.into(),
                phase: phase.into(),
                detail: String::new(),
            })),
        )
    }

    #[test]
    fn disruptions_from_stops_pauses_and_cuts() {
        let started = |t, n| rec(t, n, Event::NodeStarted { height: 0 });
        let ev = vec![
            started(0, 0),
            started(0, 1),
            started(2000, 2), // a late start: down until 2 s
            rec(3000, 0, Event::NodeStopped { crashed: true }),
            started(5000, 0),
            fault(6000, 1, 0, "pause", "start"),
            fault(7000, 1, 0, "pause", "end"),
            fault(8000, 2, 1, "isolate", "start"),
            fault(9000, 0, 2, "partition", "start"),
            fault(10000, 0, 3, "heal", "start"),
            rec(11000, 1, Event::NodeStopped { crashed: false }),
        ];
        let d = disruptions(&Trace::from(&ev[..]), 3);
        assert_eq!(d[0], vec![(3000, 5000), (9000, 10000)]);
        assert_eq!(d[1], vec![(6000, 7000), (9000, 10000), (11000, u64::MAX)]);
        assert_eq!(d[2], vec![(0, 2000), (8000, 10000)]);
    }
}
