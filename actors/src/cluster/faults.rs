//! Fault bookkeeping and execution: the harness carries out the core's fault decisions
//! ([`chainlab::sim::timeline`]) one action at a time, keeps each entry's report record, and
//! polls for the convergence and catch-up measurements the decisions call for.

use super::{Cluster, ClusterError};
use crate::node::messages::{ExpectDuplicates, GetTip, Reconnected};
use crate::node::messages::{SetEquivocate, SetHashShare, SetMining};
use crate::transport::memory::ApplyLinkFault;
use crate::workload::SetTarget;
use chainlab::report::{Event, FaultEvent, FaultRecord};
use chainlab::sim::fault::FaultKind;
use chainlab::sim::timeline::{Action, FaultState};
use chainlab::{Hash, NodeId};
use std::collections::{BTreeMap, BTreeSet};

/// A measurement the harness polls for after a fault.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// All live nodes on one tip.
    Convergence { record: usize, since_ms: u64 },
    /// `node` on the best tip.
    CatchUp {
        record: usize,
        node: NodeId,
        since_ms: u64,
    },
}

/// What the faults did so far: report records, crashes, open measurements, the overrides the
/// core's decisions read, and the nodes frozen now.
pub(super) struct FaultBook {
    /// One per scenario entry, in scenario order.
    pub(super) records: Vec<FaultRecord>,
    /// Crashed (or wiped) nodes and when, ms.
    pub(super) crashed: Vec<(NodeId, u64)>,
    pending: Vec<Pending>,
    /// Pause, clock skew and hash share overrides.
    pub(super) state: FaultState,
    /// Nodes paused now.
    pub(super) paused: BTreeSet<NodeId>,
    /// A `duplicate` fault has started: peers no longer count repeats toward the flood limit
    /// (told with `ExpectDuplicates`, and so is every node started later).
    pub(super) duplicates_expected: bool,
}

impl FaultBook {
    pub(super) fn new(state: FaultState) -> FaultBook {
        FaultBook {
            records: Vec::new(),
            crashed: Vec::new(),
            pending: Vec::new(),
            state,
            paused: BTreeSet::new(),
            duplicates_expected: false,
        }
    }

    /// Whether a measurement is still open.
    pub(super) fn is_measuring(&self) -> bool {
        !self.pending.is_empty()
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

    /// Closes the measurements met by the live nodes' `tips` (tip, work) at time `now`.
    fn measure(&mut self, tips: &BTreeMap<NodeId, (Hash, u128)>, now: u64) {
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
                } if caught_up(tips, node) => {
                    self.records[record].catch_up_ms = Some(Some(now - since_ms));
                }
                Pending::CatchUp { node, .. } if !tips.contains_key(&node) => {}
                other => still.push(other),
            }
        }
        self.pending = still;
    }
}

impl Cluster {
    /// Carries out one action of fault `index`'s decision, at cluster time `now`.
    ///
    /// # Errors
    /// When a node cannot be restarted from its store or its store cannot be wiped.
    /// A wipe waits until the node's actors are gone, so no write of theirs follows it.
    pub(super) async fn execute(
        &mut self,
        index: usize,
        action: Action,
        now: u64,
    ) -> Result<(), ClusterError> {
        match action {
            Action::CutLinks { links, owner } => {
                self.net.do_send(ApplyLinkFault::Block(links, owner));
            }
            Action::RestoreLinks { links, owner } => {
                self.net.do_send(ApplyLinkFault::Unblock(links, owner));
            }
            Action::Heal(among) => self.net.do_send(ApplyLinkFault::Heal(among)),
            Action::ForgetLinkUndos => self.timeline.forget_link_undos(),
            Action::MarkNetworkDuplicates => {
                self.faults.duplicates_expected = true;
                for h in self.nodes.iter().flatten() {
                    h.peer.do_send(ExpectDuplicates);
                }
            }
            Action::AddLinkRule(rule) => self.net.do_send(ApplyLinkFault::AddRule(rule)),
            Action::RemoveLinkRule(id) => self.net.do_send(ApplyLinkFault::RemoveRule(id)),
            Action::CountDrops => self.faults.records[index].dropped = Some(0),
            Action::Crash(node) => {
                self.faults.crashed.push((node, now));
                self.stop_node(node, true);
            }
            Action::Wipe(node) => {
                if let Some(life) = self.gone[node].take() {
                    life.gone().await;
                }
                self.stores.wipe(node)?
            }
            Action::FillDisk(node) => self.stores.set_full(node, true),
            Action::FreeDisk(node) => self.stores.set_full(node, false),
            Action::Restart(node) => self.start_node(node)?,
            Action::Pause(node) => self.pause(node, true),
            Action::Resume(node) => self.pause(node, false),
            Action::SetSkew(node, ms) => {
                if let Some(h) = &self.nodes[node] {
                    h.set_clock_skew(ms);
                }
            }
            Action::SetShare(node, share) => {
                if let Some(h) = &self.nodes[node] {
                    h.miner.do_send(SetHashShare(share));
                }
            }
            Action::SetEquivocate(node, on) => {
                if let Some(h) = &self.nodes[node] {
                    h.miner.do_send(SetEquivocate { on });
                }
            }
            Action::Reconnect => self.reconnected(),
            Action::ExpectConvergence => self.faults.expect_convergence(index, now),
            Action::ExpectCatchUp(node) => self.faults.expect_catch_up(index, node, now),
        }
        Ok(())
    }

    /// Tells a node just started what the faults that hold make it do besides its clock skew
    /// (which `spawn` applies): equivocate.
    pub(super) fn node_faults_on_start(&self, handle: &crate::node::NodeHandle) {
        if self.faults.state.equivocates(handle.id) {
            handle.miner.do_send(SetEquivocate { on: true });
        }
    }

    /// Traces fault `index`'s `phase` ("start" or "end").
    pub(super) fn fault_event(&self, index: usize, kind: FaultKind, phase: &str, detail: String) {
        let node = self.faults.records[index].node.unwrap_or(0);
        self.factory.recorder.record(
            node,
            Event::Fault(Box::new(FaultEvent {
                index,
                kind: kind.name().into(),
                phase: phase.into(),
                detail,
            })),
        );
    }

    /// Freezes (`on`) or unfreezes `node`: the network holds its messages, its miner and its
    /// load stop.
    pub(super) fn pause(&mut self, node: NodeId, on: bool) {
        if on == self.faults.paused.contains(&node) {
            return;
        }
        self.net.do_send(ApplyLinkFault::Hold(node, on));
        if on {
            self.faults.paused.insert(node);
        } else {
            self.faults.paused.remove(&node);
        }
        if let Some(h) = &self.nodes[node] {
            h.miner.do_send(SetMining(!on && self.timeline.mining_on()));
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

    /// Checks pending convergence and catch-up measurements.
    pub(super) async fn poll_pending(&mut self) -> Result<(), ClusterError> {
        let mut tips: BTreeMap<NodeId, (Hash, u128)> = BTreeMap::new();
        for h in self.nodes.iter().flatten() {
            match h.chain.send(GetTip).await {
                Ok((tip, _, work)) => {
                    tips.insert(h.id, (tip, work));
                }
                // It failed meanwhile (its store refused a write): not a live node.
                Err(_) if !h.life.is_alive() => {}
                Err(_) => return Err(ClusterError::Unresponsive(h.id)),
            }
        }
        let now = self.now();
        self.faults.measure(&tips, now);
        Ok(())
    }
}

/// Whether `node` has caught up: another node is live and `node`'s tip has the most work.
/// Among tips of equal work none is "the" best (which one a node holds is its first-seen
/// or random tie-break), so any of them counts, whatever the node ids.
fn caught_up(tips: &BTreeMap<NodeId, (Hash, u128)>, node: NodeId) -> bool {
    let most = tips.values().map(|(_, w)| *w).max();
    tips.len() > 1 && tips.get(&node).map(|(_, w)| *w) == most
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_on_either_of_two_equal_work_tips_has_caught_up() {
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        // Node 0 holds tip a, nodes 1 and 2 hold tip b, all with equal work: whichever tip
        // the node ids would pick, node 0 has caught up (before: only if the highest id's
        // tip, b, was its own).
        let tips = BTreeMap::from([(0, (a, 10)), (1, (b, 10)), (2, (b, 10))]);
        assert!(caught_up(&tips, 0));
        assert!(caught_up(&tips, 2));
        let behind = BTreeMap::from([(0, (a, 9)), (1, (b, 10))]);
        assert!(!caught_up(&behind, 0));
        assert!(caught_up(&behind, 1));
        assert!(!caught_up(&BTreeMap::from([(0, (a, 10))]), 0), "alone");
        assert!(!caught_up(&tips, 5), "not live");
    }
}
