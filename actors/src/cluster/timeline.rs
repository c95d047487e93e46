//! The cluster's timeline: late starts, the fault scenario (applied, undone when its `for`
//! ends, injected live through the Rust API), the end of load and mining, and the polling for
//! the measurements that faults call for. What a fault does is decided in the core
//! ([`chainlab::sim::timeline`]); here it is scheduled and its actions carried out.

use super::{Cluster, ClusterError};
use crate::clock::Clock;
use crate::node::messages::{SetMining, SubmitTx};
use crate::workload::StopLoad;
use chainlab::config::{Config, ConsensusKind, PlannedCall};
use chainlab::report::FaultRecord;
use chainlab::report::{Event, TxRejectedEvent};
use chainlab::sim::fault::{FaultEntry, FaultKind};
use chainlab::sim::timeline::ended_by_full_heal;
use chainlab::NodeId;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

/// What is still to happen on the cluster's timeline.
pub(super) struct Timeline {
    clock: Clock,
    /// Current cluster time, ms.
    t: u64,
    /// End of load and mining, ms.
    duration_ms: u64,
    /// End of the settle period, ms.
    total_ms: u64,
    /// Nodes still to start: (time, node), in order.
    late: Vec<(u64, NodeId)>,
    /// Entries that fire at a time: (time, index), in order.
    by_time: Vec<(u64, usize)>,
    /// Entries that fire at a best height: (height, index), in order.
    by_height: Vec<(u64, usize)>,
    /// Entries whose `for` ends: (time, index).
    undo: BTreeSet<(u64, usize)>,
    load_stopped: bool,
    /// The scenario, in index order.
    faults: Vec<FaultEntry>,
}

impl Timeline {
    /// Time 0 on `clock`, with the nodes that start late.
    pub(super) fn new(clock: Clock, cfg: &Config, late_start: &[(NodeId, Duration)]) -> Timeline {
        let mut late: Vec<(u64, NodeId)> = late_start
            .iter()
            .map(|(id, t)| (t.as_millis() as u64, *id))
            .collect();
        late.sort_unstable();
        Timeline {
            clock,
            t: 0,
            duration_ms: cfg.cluster.duration.as_millis() as u64,
            total_ms: (cfg.cluster.duration + cfg.cluster.settle).as_millis() as u64,
            late,
            by_time: Vec::new(),
            by_height: Vec::new(),
            undo: BTreeSet::new(),
            load_stopped: false,
            faults: Vec::new(),
        }
    }

    /// The instant of cluster time `ms`.
    pub(super) fn clock_at(&self, ms: u64) -> tokio::time::Instant {
        self.clock.at_ms(ms)
    }

    /// Cluster time now, ms.
    pub(super) fn now(&self) -> u64 {
        self.clock.elapsed_ms()
    }

    /// Chain time at the run's start, ms.
    pub(super) fn chain_offset_ms(&self) -> u64 {
        self.clock.offset_ms()
    }

    /// The whole run (duration and settle), ms.
    pub(super) fn total_ms(&self) -> u64 {
        self.total_ms
    }

    /// Miners run until the load stops.
    pub(super) fn mining_on(&self) -> bool {
        !self.load_stopped
    }

    /// A full heal ended every cut and link rule: their `for` ends are void.
    pub(super) fn forget_link_undos(&mut self) {
        let faults = &self.faults;
        self.undo
            .retain(|(_, j)| !ended_by_full_heal(faults[*j].kind));
    }

    /// The next time something is due after `t`, at most `next` (`call`: the next
    /// `[[calls]]` submission).
    fn next_due(&self, t: u64, mut next: u64, call: Option<u64>) -> u64 {
        let candidates = [
            call,
            self.late.first().map(|(at, _)| *at),
            self.by_time.first().map(|(at, _)| *at),
            self.undo.first().map(|(at, _)| *at),
            (!self.load_stopped).then_some(self.duration_ms),
        ];
        for c in candidates.into_iter().flatten() {
            if c > t {
                next = next.min(c);
            }
        }
        next
    }
}

impl Cluster {
    pub(super) async fn drive(&mut self) -> Result<(), ClusterError> {
        let total = self.timeline.total_ms();
        self.advance_to(Duration::from_millis(total)).await?;
        self.progress.finish();
        Ok(())
    }

    /// Adds a fault to the running scenario (the Rust API of the `[[faults]]` vocabulary): it
    /// fires now if its `at` has passed (or its `at_height` is reached), else when due, while
    /// [`Cluster::advance_to`] drives time. Returns its index in the report's `faults`.
    ///
    /// # Errors
    /// [`ClusterError::Fault`] when the entry is invalid for this cluster.
    pub fn inject(&mut self, entry: FaultEntry) -> Result<usize, ClusterError> {
        let i = self.timeline.faults.len();
        let end = Duration::from_millis(self.timeline.total_ms());
        entry.validate(i, self.cfg.cluster.nodes, end)?;
        if entry.kind == FaultKind::Hashrate && self.cfg.consensus.kind == ConsensusKind::Pos {
            return Err(ClusterError::FaultNotForConsensus {
                index: i,
                kind: entry.kind.name(),
                reason: "sets a node's hash share, and proof of stake has none: a validator's \
                         power is its stake, fixed at genesis and lowered only by slashing \
                         (crash or pause a validator to take its stake offline)",
            });
        }
        self.faults.records.push(FaultRecord {
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
        let total_ms = self.timeline.total_ms();
        let until_ms = (until.as_millis() as u64).min(total_ms);
        let step = (total_ms / 200).max(50);
        let poll = 100;
        loop {
            let t = self.timeline.t;
            // Everything due now (time-0 entries included) happens before the next sleep.
            self.reap_failures();
            self.fire_due(t).await?;
            if self.faults.is_measuring() {
                self.poll_pending().await?;
            }
            self.progress.update(&self.factory.recorder, t);
            if t >= until_ms {
                return Ok(());
            }
            let mut next = (t + step).min(until_ms);
            if !self.timeline.by_height.is_empty() || self.faults.is_measuring() {
                next = next.min(t + poll);
            }
            let call = self.calls.front().map(|c| c.at_ms);
            let next = self.timeline.next_due(t, next, call);
            self.sleep_until(next).await;
            self.timeline.t = next;
        }
    }

    /// Starts the late nodes due at `t`, applies and undoes the entries due, and stops the
    /// load and mining once `duration` is reached.
    async fn fire_due(&mut self, t: u64) -> Result<(), ClusterError> {
        while self.timeline.late.first().is_some_and(|(at, _)| *at <= t) {
            let (_, id) = self.timeline.late.remove(0);
            self.start_node(id)?;
        }
        while let Some(&(_, i)) = self.timeline.by_time.first().filter(|(at, _)| *at <= t) {
            self.timeline.by_time.remove(0);
            self.apply_fault(i).await?;
        }
        let height = self.factory.recorder.progress().height;
        while let Some(&(_, i)) = self
            .timeline
            .by_height
            .first()
            .filter(|(h, _)| *h <= height)
        {
            self.timeline.by_height.remove(0);
            self.apply_fault(i).await?;
        }
        while self.calls.front().is_some_and(|c| c.at_ms <= t) {
            if let Some(c) = self.calls.pop_front() {
                self.submit_call(c);
            }
        }
        while let Some(&(at, i)) = self.timeline.undo.first().filter(|(at, _)| *at <= t) {
            self.timeline.undo.remove(&(at, i));
            self.undo_fault(i).await?;
        }
        if !self.timeline.load_stopped && t >= self.timeline.duration_ms {
            self.timeline.load_stopped = true;
            self.workload.do_send(StopLoad);
            for h in self.live_nodes() {
                h.miner.do_send(SetMining(false));
            }
        }
        Ok(())
    }

    /// Submits a `[[calls]]` transaction to its node's mempool, tracing it as the load's are
    /// (`tx_submitted`, and `tx_rejected` with the reason if the node refuses it or is down).
    fn submit_call(&mut self, c: PlannedCall) {
        let txid = c.tx.id();
        let recorder = self.factory.recorder.clone();
        recorder.record(c.node, Event::TxSubmitted { txid });
        let Some(h) = self.nodes.get(c.node).and_then(Option::as_ref) else {
            let reason = format!("calls[{}]: node {} is down", c.entry, c.node);
            recorder.record(
                c.node,
                Event::TxRejected(Box::new(TxRejectedEvent { txid, reason })),
            );
            return;
        };
        let fut = h.mempool.send(SubmitTx {
            tx: Arc::new(c.tx),
            id: Some(txid),
            from: None,
        });
        let (node, entry) = (c.node, c.entry);
        actix::spawn(async move {
            let reason = match fut.await {
                Ok(Ok(_)) => return,
                Ok(Err(e)) => e.to_string(),
                Err(e) => format!("node unreachable: {e}"),
            };
            let reason = format!("calls[{entry}]: {reason}");
            recorder.record(
                node,
                Event::TxRejected(Box::new(TxRejectedEvent { txid, reason })),
            );
        });
    }

    /// Applies scenario entry `i` now: the core decides, the harness carries it out.
    async fn apply_fault(&mut self, i: usize) -> Result<(), ClusterError> {
        let now = self.now();
        self.faults.records[i].at_ms = Some(now);
        let f = self.timeline.faults[i].clone();
        let decision = self.faults.state.apply(i, &f);
        for action in decision.actions {
            self.execute(i, action, now).await?;
        }
        self.fault_event(i, f.kind, "start", decision.detail);
        if let Some(d) = f.lasts {
            self.timeline.undo.insert((now + d.as_millis() as u64, i));
        }
        Ok(())
    }

    /// Undoes entry `i` when its `for` ends.
    async fn undo_fault(&mut self, i: usize) -> Result<(), ClusterError> {
        let now = self.now();
        self.faults.records[i].until_ms = Some(now);
        let f = self.timeline.faults[i].clone();
        let decision = self.faults.state.undo(i, &f);
        for action in decision.actions {
            self.execute(i, action, now).await?;
        }
        self.fault_event(i, f.kind, "end", decision.detail);
        Ok(())
    }
}
