//! The cluster's timeline: late starts, the fault scenario (applied, undone when its `for`
//! ends, injected live through the Rust API), the end of load and mining, and the convergence
//! and catch-up measurements that faults call for.

use super::{update_bar, Cluster, ClusterError, Pending};
use crate::node::chain::{GetTip, Reconnected, SetClockSkew};
use crate::node::miner::{SetHashShare, SetMining};
use crate::transport::memory::ApplyLinkFault;
use crate::workload::{SetTarget, StopLoad};
use chainlab::report::{Event, FaultRecord};
use chainlab::sim::fault::{FaultEntry, FaultKind};
use chainlab::sim::timeline::{ended_by_full_heal, Action};
use chainlab::Hash;
use chainlab::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

impl Cluster {
    pub(super) async fn drive(&mut self) -> Result<(), ClusterError> {
        let total = self.total_ms();
        self.advance_to(Duration::from_millis(total)).await?;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        Ok(())
    }

    pub(super) fn total_ms(&self) -> u64 {
        (self.cfg.cluster.duration + self.cfg.cluster.settle).as_millis() as u64
    }

    /// Adds a fault to the running scenario (the Rust API of the `[[faults]]` vocabulary): it
    /// fires now if its `at` has passed (or its `at_height` is reached), else when due, while
    /// [`Cluster::advance_to`] drives time. Returns its index in the report's `faults`.
    ///
    /// # Errors
    /// [`ClusterError::Fault`] when the entry is invalid for this cluster.
    pub fn inject(&mut self, entry: FaultEntry) -> Result<usize, ClusterError> {
        let i = self.timeline.faults.len();
        let end = Duration::from_millis(self.total_ms());
        entry.validate(i, self.cfg.cluster.nodes, end)?;
        self.records.push(FaultRecord {
            index: i,
            kind: entry.kind.name().into(),
            node: entry.node,
            ..Default::default()
        });
        if let Some(h) = entry.at_height {
            self.timeline.by_height.push((h, i));
            self.timeline.by_height.sort_unstable();
        } else if let Some(at) = entry.at {
            self.timeline.by_time.push((at.as_millis() as u64, i));
            self.timeline.by_time.sort_unstable();
        }
        self.timeline.faults.push(entry);
        Ok(i)
    }

    /// Drives the cluster's timeline (late starts, faults and their `for` ends, the end of load
    /// and mining at `duration`, measurements) until cluster time `until` (at most the end of
    /// the settle period).
    ///
    /// # Errors
    /// When a node cannot be (re)started from its store or stops answering.
    pub async fn advance_to(&mut self, until: Duration) -> Result<(), ClusterError> {
        let duration_ms = self.cfg.cluster.duration.as_millis() as u64;
        let total_ms = self.total_ms();
        let until_ms = (until.as_millis() as u64).min(total_ms);
        let step = (total_ms / 200).max(50);
        let poll = 100;
        loop {
            let t = self.timeline.t;
            // Everything due now (time-0 entries included) happens before the next sleep.
            while self.timeline.late.first().is_some_and(|(at, _)| *at <= t) {
                let (_, id) = self.timeline.late.remove(0);
                self.start_node(id)?;
            }
            while let Some(&(_, i)) = self.timeline.by_time.first().filter(|(at, _)| *at <= t) {
                self.timeline.by_time.remove(0);
                let f = self.timeline.faults[i].clone();
                self.apply_fault(i, &f)?;
            }
            let height = self.shared.recorder.progress().height;
            while let Some(&(_, i)) = self
                .timeline
                .by_height
                .first()
                .filter(|(h, _)| *h <= height)
            {
                self.timeline.by_height.remove(0);
                let f = self.timeline.faults[i].clone();
                self.apply_fault(i, &f)?;
            }
            while let Some(&(at, i)) = self.undo.keys().next().filter(|(at, _)| *at <= t) {
                self.undo.remove(&(at, i));
                let f = self.timeline.faults[i].clone();
                self.undo_fault(i, &f)?;
            }
            if !self.timeline.load_stopped && t >= duration_ms {
                self.timeline.load_stopped = true;
                self.mining_on = false;
                self.workload.do_send(StopLoad);
                for h in self.live_nodes() {
                    h.miner.do_send(SetMining(false));
                }
            }
            if !self.pending.is_empty() {
                self.poll_pending().await?;
            }
            if let Some(bar) = &self.bar {
                update_bar(bar, &self.shared.recorder, t, total_ms);
            }
            if t >= until_ms {
                return Ok(());
            }
            let mut next = (t + step).min(until_ms);
            if !self.timeline.by_height.is_empty() || !self.pending.is_empty() {
                next = next.min(t + poll);
            }
            let candidates = [
                self.timeline.late.first().map(|(at, _)| *at),
                self.timeline.by_time.first().map(|(at, _)| *at),
                self.undo.keys().next().map(|(at, _)| *at),
                (!self.timeline.load_stopped).then_some(duration_ms),
            ];
            for c in candidates.into_iter().flatten() {
                if c > t {
                    next = next.min(c);
                }
            }
            actix::clock::sleep_until(self.clock.at_ms(next)).await;
            self.timeline.t = next;
        }
    }

    fn fault_event(&self, index: usize, kind: FaultKind, phase: &str, detail: String) {
        let node = self.records[index].node.unwrap_or(0);
        self.shared.recorder.record(
            node,
            Event::Fault {
                index,
                kind: kind.name().into(),
                phase: phase.into(),
                detail,
            },
        );
    }

    /// Applies scenario entry `i` now: the core decides, the harness carries it out.
    fn apply_fault(&mut self, i: usize, f: &FaultEntry) -> Result<(), ClusterError> {
        let now = self.now();
        self.records[i].at_ms = Some(now);
        let decision = self.fault_state.apply(i, f);
        for action in decision.actions {
            self.execute(i, action, now)?;
        }
        self.fault_event(i, f.kind, "start", decision.detail);
        if let Some(d) = f.lasts {
            self.undo.insert((now + d.as_millis() as u64, i), ());
        }
        Ok(())
    }

    /// Undoes entry `i` when its `for` ends.
    fn undo_fault(&mut self, i: usize, f: &FaultEntry) -> Result<(), ClusterError> {
        let now = self.now();
        self.records[i].until_ms = Some(now);
        let decision = self.fault_state.undo(i, f);
        for action in decision.actions {
            self.execute(i, action, now)?;
        }
        self.fault_event(i, f.kind, "end", decision.detail);
        Ok(())
    }

    /// Carries out one action of fault `index`'s decision, at cluster time `now`.
    fn execute(&mut self, index: usize, action: Action, now: u64) -> Result<(), ClusterError> {
        match action {
            Action::CutLinks { links, owner } => {
                self.net.do_send(ApplyLinkFault::Block(links, owner));
            }
            Action::RestoreLinks { links, owner } => {
                self.net.do_send(ApplyLinkFault::Unblock(links, owner));
            }
            Action::Heal(among) => self.net.do_send(ApplyLinkFault::Heal(among)),
            Action::ForgetLinkUndos => self
                .undo
                .retain(|(_, j), _| !ended_by_full_heal(self.timeline.faults[*j].kind)),
            Action::MarkNetworkDuplicates => self
                .shared
                .network_duplicates
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Action::AddLinkRule(rule) => self.net.do_send(ApplyLinkFault::AddRule(rule)),
            Action::RemoveLinkRule(id) => self.net.do_send(ApplyLinkFault::RemoveRule(id)),
            Action::CountDrops => self.records[index].dropped = Some(0),
            Action::Crash(node) => {
                self.crashed.push((node, now));
                self.stop_node(node, true);
            }
            Action::Wipe(node) => self.stores[node].wipe()?,
            Action::Restart(node) => self.start_node(node)?,
            Action::Pause(node) => self.pause(node, true),
            Action::Resume(node) => self.pause(node, false),
            Action::SetSkew(node, ms) => {
                if let Some(h) = &self.nodes[node] {
                    h.chain.do_send(SetClockSkew(ms));
                }
            }
            Action::SetShare(node, share) => {
                if let Some(h) = &self.nodes[node] {
                    h.miner.do_send(SetHashShare(share));
                }
            }
            Action::Reconnect => self.reconnected(),
            Action::ExpectConvergence => self.expect_convergence(index, now),
            Action::ExpectCatchUp(node) => self.expect_catch_up(index, node, now),
        }
        Ok(())
    }

    pub(super) fn pause(&mut self, node: NodeId, on: bool) {
        if on == self.paused.contains(&node) {
            return;
        }
        self.net.do_send(ApplyLinkFault::Hold(node, on));
        if on {
            self.paused.insert(node);
        } else {
            self.paused.remove(&node);
        }
        if let Some(h) = &self.nodes[node] {
            h.miner.do_send(SetMining(!on && self.mining_on));
            let target = (!on).then(|| h.mempool.clone().recipient());
            self.workload.do_send(SetTarget { id: node, target });
        }
    }

    /// Links came back: every node announces its tip to its neighbours, as a reconnecting
    /// node does, so that nodes on another branch fetch it and sync.
    fn reconnected(&self) {
        for h in self.live_nodes() {
            h.chain.do_send(Reconnected);
        }
    }

    /// From now on, poll until `node` is on the best tip; record the time in fault `record`.
    fn expect_catch_up(&mut self, record: usize, node: NodeId, now: u64) {
        self.records[record].catch_up_ms = Some(None);
        self.pending.push(Pending::CatchUp {
            record,
            node,
            since_ms: now,
        });
    }

    /// From now on, poll until every live node is on one tip; record the time in fault `record`.
    fn expect_convergence(&mut self, record: usize, now: u64) {
        self.records[record].convergence_ms = Some(None);
        self.pending.push(Pending::Convergence {
            record,
            since_ms: now,
        });
    }

    /// Checks pending convergence and catch-up measurements.
    async fn poll_pending(&mut self) -> Result<(), ClusterError> {
        let mut tips: BTreeMap<NodeId, (Hash, u128)> = BTreeMap::new();
        for h in self.nodes.iter().flatten() {
            let (tip, _, work) = h
                .chain
                .send(GetTip)
                .await
                .map_err(|_| ClusterError::Unresponsive(h.id))?;
            tips.insert(h.id, (tip, work));
        }
        let now = self.now();
        let best = tips.values().max_by_key(|(_, w)| *w).map(|(t, _)| *t);
        let distinct: BTreeSet<Hash> = tips.values().map(|(t, _)| *t).collect();
        let mut still = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            match p {
                Pending::Convergence { record, since_ms } if distinct.len() <= 1 => {
                    self.records[record].convergence_ms = Some(Some(now - since_ms));
                }
                Pending::CatchUp {
                    record,
                    node,
                    since_ms,
                } if tips.get(&node).map(|(t, _)| Some(*t)) == Some(best) && tips.len() > 1 => {
                    self.records[record].catch_up_ms = Some(Some(now - since_ms));
                }
                Pending::CatchUp { node, .. } if !tips.contains_key(&node) => {}
                other => still.push(other),
            }
        }
        self.pending = still;
        Ok(())
    }
}
