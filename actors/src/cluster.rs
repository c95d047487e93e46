//! The cluster harness: builds the topology, the network, the nodes and the workload, drives
//! the timeline (late starts, the fault scenario, end of load and mining, settle), measures
//! what the faults did, and computes the report.

use crate::clock::Clock;
use crate::logging;
use crate::node::chain::{GetChainSummary, GetTip, Reconnected, SetClockSkew};
use crate::node::mempool::GetPoolIds;
use crate::node::miner::{SetHashShare, SetMining};
use crate::node::{
    load_chain, mark_genesis, spawn_node, DurableLog, NodeError, NodeHandle, NodeShared, NodeSpec,
};
use crate::recorder::Recorder;
use crate::runtime;
use crate::store_sled::{open_db, DataDir, SledStore};
use crate::transport::memory::{
    ApplyLinkFault, GetNetStats, MemoryTransport, NetStats, Network, RegisterNode,
};
use crate::workload::{SetTarget, StopLoad, Workload};
use actix::prelude::*;
use chainlab::config::{ClockMode, Config, StorageBackend};
use chainlab::fault::{node_links, partition_links, FaultEntry, FaultKind, LinkRule, Overrides};
use chainlab::gossip::NodeId;
use chainlab::model::{build_topology, hash_shares, stream, TopologyError};
use chainlab::report::{
    Event, FaultRecord, FinalBlock, Invariants, NodeFinal, Report, RunFacts, TraceRecord,
};
use chainlab::store::{BlockStore, MemoryStore, StoreError};
use chainlab::{ChainState, Hash, SigCache};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Harness options that are not part of the scenario config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show a progress bar.
    pub progress: bool,
    /// Nodes that start late: (node, time).
    pub late_start: Vec<(NodeId, Duration)>,
    /// Report blocks once flushed to this file (`-`: standard output).
    pub durable_log: Option<PathBuf>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The report.
    pub report: Report,
    /// Every trace event, in order.
    pub events: Vec<TraceRecord>,
    /// Network counters.
    pub net: NetStats,
    /// Signature cache (hits, misses).
    pub sig_cache: (u64, u64),
    /// Where the data stayed (None for a temporary or in-memory store).
    pub data_dir: Option<PathBuf>,
    /// The best live node's chain, genesis first.
    pub final_chain: Vec<FinalBlock>,
}

/// Why a run failed.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// Topology could not be built.
    #[error(transparent)]
    Topology(#[from] TopologyError),
    /// A node could not start.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime failed.
    #[error("runtime: {0}")]
    Runtime(String),
    /// A fault entry is invalid for this cluster.
    #[error(transparent)]
    Fault(#[from] chainlab::fault::FaultError),
    /// A node stopped answering.
    #[error("node {0} did not answer")]
    Unresponsive(NodeId),
}

#[derive(Clone)]
enum StoreSlot {
    Memory(MemoryStore),
    Sled(SledStore),
}

impl StoreSlot {
    fn boxed(&self) -> Box<dyn BlockStore> {
        match self {
            StoreSlot::Memory(m) => Box::new(m.clone()),
            StoreSlot::Sled(s) => Box::new(s.clone()),
        }
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        match self {
            StoreSlot::Memory(m) => *m = MemoryStore::new(),
            StoreSlot::Sled(s) => s.clear()?,
        }
        Ok(())
    }
}

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

/// A running cluster (inside an actix system).
pub struct Cluster {
    cfg: Arc<Config>,
    shared: Arc<NodeShared>,
    net: Addr<Network>,
    adj: Vec<Vec<NodeId>>,
    shares: Vec<f64>,
    nodes: Vec<Option<NodeHandle>>,
    stores: Vec<StoreSlot>,
    workload: Addr<Workload>,
    db: Option<sled::Db>,
    data_dir: Option<DataDir>,
    clock: Clock,
    mining_on: bool,
    paused: BTreeSet<NodeId>,
    records: Vec<FaultRecord>,
    crashed: Vec<(NodeId, u64)>,
    pending: Vec<Pending>,
    undo: BTreeMap<(u64, usize), ()>,
    base_shares: Vec<f64>,
    share_overrides: Overrides<f64>,
    skews: Overrides<i64>,
    pausers: Overrides<()>,
    timeline: Timeline,
    bar: Option<ProgressBar>,
}

/// What is still to happen on the cluster's timeline.
#[derive(Default)]
struct Timeline {
    /// Current cluster time, ms.
    t: u64,
    late: Vec<(u64, NodeId)>,
    by_time: Vec<(u64, usize)>,
    by_height: Vec<(u64, usize)>,
    load_stopped: bool,
    faults: Vec<FaultEntry>,
}

/// Runs a whole scenario: start, load for `duration`, settle, report.
///
/// # Errors
/// [`ClusterError`] when the cluster cannot be built or a node fails to start.
pub fn run(cfg: Config, opts: RunOptions) -> Result<RunOutput, ClusterError> {
    let wall = std::time::Instant::now();
    let mode = cfg.cluster.clock;
    let mut out = runtime::block_on(mode, async move {
        logging::mark_start();
        let result = async {
            let mut cluster = Cluster::start(cfg, &opts)?;
            cluster.drive().await?;
            cluster.finish().await
        }
        .await;
        if result.is_err() {
            // Let actors already spawned run their `started` before the runtime goes.
            actix::clock::sleep(Duration::from_millis(1)).await;
        }
        result
    })
    .map_err(|e| ClusterError::Runtime(e.to_string()))??;
    out.report.wall_s = wall.elapsed().as_secs_f64();
    Ok(out)
}

impl Cluster {
    /// Builds everything and starts the nodes that start at time 0. Every node's store is
    /// loaded and checked before any actor starts.
    ///
    /// # Errors
    /// Topology, store or node start failures.
    pub fn start(cfg: Config, opts: &RunOptions) -> Result<Cluster, ClusterError> {
        let cfg = Arc::new(cfg);
        let n = cfg.cluster.nodes;
        let seed = cfg.cluster.seed;
        let adj = build_topology(
            &cfg.network.topology,
            n,
            cfg.network.degree,
            &mut stream(seed, "topology", 0),
        )?;
        let shares = hash_shares(&cfg.pow.hashpower, n);
        let (db, data_dir, mut stores) = open_stores(&cfg)?;
        let params = Arc::new(cfg.chain_params());
        let genesis = (
            Arc::new(params.genesis_block()),
            Arc::new(params.genesis_state()),
        );
        let loader = NodeShared {
            params,
            genesis,
            sig_cache: cfg
                .node
                .sig_cache
                .then(|| Arc::new(SigCache::new(cfg.node.sig_cache_size))),
            recorder: Recorder::new(Clock::start(0)),
            transport: Arc::new(NullTransport),
            flush_each_block: cfg.storage.flush_each_block
                && matches!(data_dir, Some(DataDir::Kept(_))),
            durable_log: match &opts.durable_log {
                Some(p) => Some(DurableLog::open(p).map_err(|e| StoreError::Backend {
                    location: p.display().to_string(),
                    reason: format!("cannot create the durable log: {e}"),
                })?),
                None => None,
            },
            cfg: cfg.clone(),
        };
        let late: BTreeSet<NodeId> = opts.late_start.iter().map(|(id, _)| *id).collect();
        let mut chains: Vec<Option<ChainState>> = Vec::with_capacity(n);
        for (id, slot) in stores.iter_mut().enumerate() {
            chains.push(if late.contains(&id) {
                None
            } else {
                let mut store = slot.boxed();
                let chain = load_chain(id, &loader, store.as_mut())?;
                mark_genesis(id, store.as_mut(), &chain.genesis())?;
                Some(chain)
            });
        }
        if let (Some(db), Some(dir)) = (&db, &data_dir) {
            crate::store_sled::record_config(db, dir.path(), &cfg)?;
        }
        // Chain time resumes after the newest stored block.
        let offset = chains
            .iter()
            .flatten()
            .filter_map(|c| c.get(&c.tip()).map(|b| b.header.timestamp_ms))
            .max()
            .map_or(0, |t| if t > 0 { t + 1 } else { 0 });
        let clock = Clock::start(offset);
        let recorder = Recorder::new(clock);
        let net = Network::new(
            n,
            cfg.network.latency.clone(),
            cfg.network.bandwidth_mbps,
            stream(seed, "network", 0),
        )
        .start();
        let shared = Arc::new(NodeShared {
            recorder: recorder.clone(),
            transport: Arc::new(MemoryTransport::new(net.clone())),
            ..loader
        });
        let workload =
            Workload::new(&cfg, vec![None; n], stream(seed, "workload", 0), recorder).start();
        let mut cluster = Cluster {
            cfg,
            shared,
            net,
            adj,
            shares,
            nodes: vec![None; n],
            stores,
            workload,
            db,
            data_dir,
            clock,
            mining_on: true,
            paused: BTreeSet::new(),
            records: Vec::new(),
            crashed: Vec::new(),
            pending: Vec::new(),
            undo: BTreeMap::new(),
            base_shares: Vec::new(),
            share_overrides: Overrides::default(),
            skews: Overrides::default(),
            pausers: Overrides::default(),
            timeline: Timeline::default(),
            bar: None,
        };
        let total = cluster.total_ms();
        cluster.bar = opts.progress.then(|| progress_bar(true, total));
        cluster.timeline.late = opts
            .late_start
            .iter()
            .map(|(id, t)| (t.as_millis() as u64, *id))
            .collect();
        cluster.timeline.late.sort_unstable();
        for f in cluster.cfg.faults.clone() {
            cluster.inject(f)?;
        }
        cluster.base_shares = cluster.shares.clone();
        for (id, chain) in chains.into_iter().enumerate() {
            if let Some(chain) = chain {
                cluster.spawn(id, chain);
            }
        }
        Ok(cluster)
    }

    fn spawn(&mut self, id: NodeId, chain: ChainState) {
        let spec = NodeSpec {
            id,
            neighbors: self.adj[id].clone(),
            hash_share: self.shares[id],
            store: self.stores[id].boxed(),
            mining: self.mining_on && !self.paused.contains(&id),
        };
        let handle = spawn_node(&self.shared, spec, chain);
        self.net.do_send(RegisterNode {
            id,
            inbox: Some(handle.peer.clone().recipient()),
        });
        let target = (!self.paused.contains(&id)).then(|| handle.mempool.clone().recipient());
        self.workload.do_send(SetTarget { id, target });
        let skew = self.skew(id);
        if skew != 0 {
            handle.chain.do_send(SetClockSkew(skew));
        }
        self.nodes[id] = Some(handle);
    }

    /// Starts (or restarts) node `id` from its store.
    ///
    /// # Errors
    /// When its store cannot be read or holds an invalid chain.
    pub fn start_node(&mut self, id: NodeId) -> Result<(), NodeError> {
        if self.nodes[id].is_some() {
            return Ok(());
        }
        let mut store = self.stores[id].boxed();
        let chain = load_chain(id, &self.shared, store.as_mut())?;
        mark_genesis(id, store.as_mut(), &chain.genesis())?;
        self.spawn(id, chain);
        Ok(())
    }

    /// Stops node `id` (its actors and memory go; its store stays). `crash` skips the flush.
    pub fn stop_node(&mut self, id: NodeId, crash: bool) {
        if let Some(h) = self.nodes[id].take() {
            self.net.do_send(RegisterNode { id, inbox: None });
            self.workload.do_send(SetTarget { id, target: None });
            if crash {
                h.crash();
            } else {
                h.stop();
            }
            self.shared
                .recorder
                .record(id, Event::NodeStopped { crashed: crash });
        }
    }

    /// Running nodes.
    pub fn live_nodes(&self) -> impl Iterator<Item = &NodeHandle> {
        self.nodes.iter().flatten()
    }

    fn now(&self) -> u64 {
        self.clock.elapsed_ms()
    }

    async fn drive(&mut self) -> Result<(), ClusterError> {
        let total = self.total_ms();
        self.advance_to(Duration::from_millis(total)).await?;
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        Ok(())
    }

    fn total_ms(&self) -> u64 {
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

    fn links_of(&self, f: &FaultEntry) -> Vec<(NodeId, NodeId)> {
        let n = self.cfg.cluster.nodes;
        match f.kind {
            FaultKind::Partition => partition_links(f.groups.as_deref().unwrap_or_default(), n),
            FaultKind::Isolate => node_links(f.node.unwrap_or(0), n),
            FaultKind::PartitionOneway => {
                let all: Vec<NodeId> = (0..n).collect();
                let from = f.from.clone().unwrap_or_else(|| all.clone());
                let to = f.to.clone().unwrap_or(all);
                from.iter()
                    .flat_map(|a| to.iter().filter(move |b| *b != a).map(move |b| (*a, *b)))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    /// Applies scenario entry `i` now.
    fn apply_fault(&mut self, i: usize, f: &FaultEntry) -> Result<(), ClusterError> {
        let now = self.now();
        self.records[i].at_ms = Some(now);
        let node = f.node.unwrap_or(0);
        let detail = match f.kind {
            FaultKind::Partition | FaultKind::PartitionOneway | FaultKind::Isolate => {
                let links = self.links_of(f);
                let d = format!("{} directed links cut", links.len());
                self.net.do_send(ApplyLinkFault::Block(links, i as u64));
                d
            }
            FaultKind::Heal => {
                let among: Option<BTreeSet<NodeId>> = f
                    .groups
                    .as_ref()
                    .map(|g| g.iter().flatten().copied().collect());
                self.net.do_send(ApplyLinkFault::Heal(among.clone()));
                if among.is_none() {
                    self.undo.retain(|(_, j), _| {
                        !self.timeline.faults[*j].kind.is_link_rule()
                            && !matches!(
                                self.timeline.faults[*j].kind,
                                FaultKind::Partition
                                    | FaultKind::PartitionOneway
                                    | FaultKind::Isolate
                            )
                    });
                }
                self.expect_convergence(i, now);
                self.reconnected();
                match among {
                    Some(s) => format!("links among {} nodes restored", s.len()),
                    None => "every partition and link rule removed".into(),
                }
            }
            k if k.is_link_rule() => {
                let rule = LinkRule::from_entry(i as u64, f).expect("link-rule kind");
                self.net.do_send(ApplyLinkFault::AddRule(rule));
                self.records[i].dropped = Some(0);
                format!("{:?} on {} -> {}", k, fmt_nodes(&f.from), fmt_nodes(&f.to))
            }
            FaultKind::Crash => {
                self.crashed.push((node, now));
                self.stop_node(node, true);
                format!("node {node} crashed")
            }
            FaultKind::Restart => {
                self.start_node(node)?;
                self.expect_catch_up(i, node, now);
                format!("node {node} restarted from its store")
            }
            FaultKind::Wipe => {
                self.crashed.push((node, now));
                self.stop_node(node, true);
                self.stores[node].wipe()?;
                self.start_node(node)?;
                self.expect_catch_up(i, node, now);
                format!("node {node} restarted with an empty store")
            }
            FaultKind::Pause => {
                self.pausers.set(node, i, ());
                self.pause(node, true);
                format!("node {node} paused")
            }
            FaultKind::Resume => {
                self.pausers.clear(node);
                self.pause(node, false);
                format!("node {node} resumed")
            }
            FaultKind::ClockSkew => {
                let ms = f.ms.unwrap_or(0.0) as i64;
                self.skews.set(node, i, ms);
                self.send_skew(node);
                format!("node {node} clock skewed by {ms} ms")
            }
            FaultKind::Hashrate => {
                let share = f.share.unwrap_or(0.0);
                self.share_overrides.set(node, i, share);
                self.apply_share(node);
                format!("node {node} hash share {share}")
            }
            _ => String::new(),
        };
        self.fault_event(i, f.kind, "start", detail);
        if let Some(d) = f.lasts {
            self.undo.insert((now + d.as_millis() as u64, i), ());
        }
        Ok(())
    }

    /// Undoes entry `i` when its `for` ends.
    fn undo_fault(&mut self, i: usize, f: &FaultEntry) -> Result<(), ClusterError> {
        let now = self.now();
        self.records[i].until_ms = Some(now);
        let node = f.node.unwrap_or(0);
        let detail = match f.kind {
            FaultKind::Partition | FaultKind::PartitionOneway | FaultKind::Isolate => {
                self.net
                    .do_send(ApplyLinkFault::Unblock(self.links_of(f), i as u64));
                self.reconnected();
                self.expect_convergence(i, now);
                "links restored".to_string()
            }
            k if k.is_link_rule() => {
                self.net.do_send(ApplyLinkFault::RemoveRule(i as u64));
                "rule removed".into()
            }
            FaultKind::Crash => {
                self.start_node(node)?;
                self.expect_catch_up(i, node, now);
                format!("node {node} restarted from its store")
            }
            FaultKind::Pause => {
                self.pausers.end(node, i);
                if self.pausers.current(node).is_some() {
                    format!("node {node}: this pause ended, another one holds")
                } else {
                    self.pause(node, false);
                    format!("node {node} resumed")
                }
            }
            FaultKind::ClockSkew => {
                self.skews.end(node, i);
                self.send_skew(node);
                format!("node {node} clock skew now {} ms", self.skew(node))
            }
            FaultKind::Hashrate => {
                self.share_overrides.end(node, i);
                self.apply_share(node);
                format!("node {node} hash share now {}", self.shares[node])
            }
            _ => String::new(),
        };
        self.fault_event(i, f.kind, "end", detail);
        Ok(())
    }

    fn pause(&mut self, node: NodeId, on: bool) {
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

    /// The node's share: its latest active override, else its configured share.
    fn apply_share(&mut self, node: NodeId) {
        let share = self
            .share_overrides
            .current(node)
            .unwrap_or(self.base_shares[node]);
        self.shares[node] = share;
        if let Some(h) = &self.nodes[node] {
            h.miner.do_send(SetHashShare(share));
        }
    }

    /// The node's clock skew: its latest active override, else 0.
    fn skew(&self, node: NodeId) -> i64 {
        self.skews.current(node).unwrap_or(0)
    }

    fn send_skew(&self, node: NodeId) {
        if let Some(h) = &self.nodes[node] {
            h.chain.do_send(SetClockSkew(self.skew(node)));
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

    /// Collects the nodes' final views and computes the report; flushes and stops the nodes.
    ///
    /// # Errors
    /// When a node does not answer.
    pub async fn finish(mut self) -> Result<RunOutput, ClusterError> {
        for id in self.paused.clone() {
            self.pause(id, false);
        }
        let mut finals = Vec::new();
        let mut invariants = Invariants::default();
        let mut best: Option<(u128, NodeId)> = None;
        for (id, slot) in self.nodes.iter().enumerate() {
            let Some(h) = slot else {
                finals.push(NodeFinal {
                    id,
                    live: false,
                    tip: Hash::ZERO,
                    height: 0,
                    work: 0,
                });
                continue;
            };
            let s = h
                .chain
                .send(GetChainSummary { with_chain: false })
                .await
                .map_err(|_| ClusterError::Unresponsive(id))?;
            invariants.checked += s.checked;
            invariants.violations.extend(s.violations);
            if best.is_none_or(|(w, _)| s.work > w) {
                best = Some((s.work, id));
            }
            finals.push(NodeFinal {
                id,
                live: true,
                tip: s.tip,
                height: s.height,
                work: s.work,
            });
        }
        let chain = match best.and_then(|(_, id)| self.nodes[id].clone()) {
            Some(h) => {
                h.chain
                    .send(GetChainSummary { with_chain: true })
                    .await
                    .map_err(|_| ClusterError::Unresponsive(h.id))?
                    .chain
            }
            None => Vec::new(),
        };
        let mut pooled = std::collections::HashSet::new();
        for h in self.live_nodes() {
            let ids = h
                .mempool
                .send(GetPoolIds)
                .await
                .map_err(|_| ClusterError::Unresponsive(h.id))?;
            pooled.extend(ids);
        }
        let net = self.net.send(GetNetStats).await.unwrap_or_default();
        for h in self.live_nodes() {
            h.stop();
        }
        if let Some(db) = &self.db {
            db.flush().map_err(|e| StoreError::Backend {
                location: self
                    .data_dir
                    .as_ref()
                    .map(|d| d.path().display().to_string())
                    .unwrap_or_default(),
                reason: e.to_string(),
            })?;
        }
        for ((from, to, kind), count) in &net.dropped {
            self.shared.recorder.record(
                *from,
                Event::MessageDropped {
                    to: *to,
                    kind: *kind,
                    count: *count,
                },
            );
        }
        for r in &mut self.records {
            if let Some(d) = r.dropped.as_mut() {
                *d = net
                    .dropped_by_rule
                    .get(&(r.index as u64))
                    .copied()
                    .unwrap_or(0);
            }
        }
        let events = self.shared.recorder.take_events();
        let c = &self.cfg.cluster;
        let facts = RunFacts {
            seed: c.seed,
            clock: match c.clock {
                ClockMode::Virtual => "virtual".into(),
                ClockMode::Real => "real".into(),
            },
            nodes: c.nodes,
            duration_s: c.duration.as_secs_f64(),
            settle_s: c.settle.as_secs_f64(),
            wall_s: 0.0,
            finals,
            chain: chain.clone(),
            invariants,
            k: self.cfg.safety.k,
            faults: self.records.clone(),
            crashed: self.crashed.clone(),
            pooled,
        };
        let report = Report::compute(&facts, &events);
        Ok(RunOutput {
            report,
            events,
            net,
            sig_cache: self
                .shared
                .sig_cache
                .as_ref()
                .map(|c| c.stats())
                .unwrap_or_default(),
            data_dir: match &self.data_dir {
                Some(DataDir::Kept(p)) => Some(p.clone()),
                _ => None,
            },
            final_chain: chain,
        })
    }
}

fn fmt_nodes(v: &Option<Vec<NodeId>>) -> String {
    match v {
        None => "all".into(),
        Some(l) => format!("{l:?}"),
    }
}

/// A transport that drops everything (used while loading stores, before the network exists).
#[derive(Debug)]
pub struct NullTransport;

impl crate::transport::Transport for NullTransport {
    fn send(&self, _: NodeId, _: NodeId, _: chainlab::wire::WireMsg) {}
}

type Stores = (Option<sled::Db>, Option<DataDir>, Vec<StoreSlot>);

fn open_stores(cfg: &Config) -> Result<Stores, StoreError> {
    let n = cfg.cluster.nodes;
    match cfg.storage.backend {
        StorageBackend::Memory => Ok((
            None,
            None,
            (0..n)
                .map(|_| StoreSlot::Memory(MemoryStore::new()))
                .collect(),
        )),
        StorageBackend::Sled => {
            let dir = if cfg.storage.data_dir.as_os_str().is_empty() {
                DataDir::Temp(
                    tempfile::Builder::new()
                        .prefix("chainlab-")
                        .tempdir()
                        .map_err(|e| StoreError::Backend {
                            location: std::env::temp_dir().display().to_string(),
                            reason: format!("cannot create a temporary directory: {e}"),
                        })?,
                )
            } else {
                DataDir::Kept(cfg.storage.data_dir.clone())
            };
            let had_db = std::fs::metadata(dir.path().join("db")).is_ok_and(|m| m.len() > 0);
            let db = open_db(dir.path(), cfg.storage.cache_mb)?;
            if had_db && crate::store_sled::recorded_config(&db, dir.path())?.is_none() {
                return Err(StoreError::Corrupt {
                    location: dir.path().display().to_string(),
                    key: "cluster/config".into(),
                    reason: "the directory holds a sled database without a chainlab config: it is damaged or not a chainlab store (remove it or choose another --data-dir)".into(),
                });
            }
            let stores = (0..n)
                .map(|id| SledStore::open(&db, dir.path(), id).map(StoreSlot::Sled))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((Some(db), Some(dir), stores))
        }
    }
}

fn progress_bar(show: bool, total_ms: u64) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_ms);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn update_bar(bar: &ProgressBar, rec: &Recorder, t_ms: u64, total_ms: u64) {
    if bar.is_hidden() {
        return;
    }
    let p = rec.progress();
    let secs = t_ms as f64 / 1000.0;
    let tps = if secs > 0.0 {
        p.mined_txs as f64 / secs
    } else {
        0.0
    };
    bar.set_position(t_ms);
    bar.set_message(format!(
        "t={:.0}s/{:.0}s  height {}  forks {}  tps {:.1}  txs {}",
        secs,
        total_ms as f64 / 1000.0,
        p.height,
        p.forks,
        tps,
        p.submitted
    ));
}
