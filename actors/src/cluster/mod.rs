//! The cluster harness: builds the topology, the network, the nodes and the workload, starts
//! and stops nodes, and computes the report. The timeline (late starts, the fault scenario,
//! end of load and mining, settle, measurements) is in [`timeline`].

mod timeline;

use crate::clock::Clock;
use crate::logging;
use crate::node::chain::{GetChainSummary, SetClockSkew};
use crate::node::mempool::GetPoolIds;
use crate::node::{
    load_chain, mark_genesis, spawn_node, DurableLog, NodeError, NodeHandle, NodeShared, NodeSpec,
};
use crate::recorder::Recorder;
use crate::runtime;
use crate::store_sled::{open_db, DataDir, SledStore};
use crate::transport::memory::{
    GetNetStats, MemoryTransport, NetStats, Network, RegisterNode, RegisterTcp, TcpLinks,
};
use crate::transport::tcp::{DialTarget, GetTcpInfo, StopTcp, TcpInfo, TcpNode, TcpSetup};
use crate::transport::PeerLink;
use crate::workload::{SetTarget, Workload};
use actix::prelude::*;
use chainlab::chain::store::{BlockStore, MemoryStore, StoreError};
use chainlab::config::{ClockMode, Config, StorageBackend, TransportKind};
use chainlab::report::{
    Event, FaultRecord, FinalBlock, Invariants, NodeFinal, Report, RunFacts, TraceRecord,
};
use chainlab::sim::fault::FaultEntry;
use chainlab::sim::model::{build_topology, hash_shares, stream, TopologyError};
use chainlab::sim::timeline::FaultState;
use chainlab::NodeId;
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
    /// Each live TCP node's connections and counters at the end.
    pub tcp: BTreeMap<NodeId, TcpInfo>,
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
    Fault(#[from] chainlab::sim::fault::FaultError),
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
    /// Pause, clock skew and hash share overrides, read by the core's fault decisions.
    fault_state: FaultState,
    timeline: Timeline,
    bar: Option<ProgressBar>,
    tcp: TcpPlan,
}

/// Which links are TCP, where each TCP node listens, and the running endpoints.
#[derive(Default)]
struct TcpPlan {
    links: TcpLinks,
    /// Listening address per node (None: no TCP link).
    addrs: Vec<Option<std::net::SocketAddr>>,
    /// Listeners bound at start and held for the whole run: each endpoint gets a duplicate,
    /// so a node restarted (or wiped) while its old endpoint is still closing finds its port
    /// bound. While a node is down its port still accepts into the backlog: dialers time out
    /// in the handshake instead of being refused.
    bound: Vec<Option<std::net::TcpListener>>,
    /// Endpoints started per node (mixed into the challenge stream, so a restarted node never
    /// repeats its challenges).
    generation: Vec<u64>,
    endpoints: Vec<Option<Addr<TcpNode>>>,
}

impl TcpPlan {
    /// Chooses the TCP links and binds a listener for every node on one.
    fn new(cfg: &Config, adj: &[Vec<NodeId>]) -> Result<TcpPlan, ClusterError> {
        let n = adj.len();
        let links = match cfg.network.transport {
            TransportKind::Memory => return Ok(TcpPlan::default()),
            TransportKind::Tcp => TcpLinks::All,
            TransportKind::Mixed if !cfg.network.tcp_links.is_empty() => {
                let mut set = BTreeSet::new();
                for [a, b] in &cfg.network.tcp_links {
                    if !adj[*a].contains(b) {
                        return Err(ClusterError::Topology(TopologyError(format!(
                            "network.tcp_links: [{a}, {b}] is not a link of the topology"
                        ))));
                    }
                    set.insert(((*a).min(*b), (*a).max(*b)));
                }
                TcpLinks::Some(set)
            }
            TransportKind::Mixed => {
                use rand::Rng;
                let mut rng = stream(cfg.cluster.seed, "tcp-links", 0);
                let mut set = BTreeSet::new();
                for (a, ns) in adj.iter().enumerate() {
                    for &b in ns.iter().filter(|b| **b > a) {
                        if rng.gen::<f64>() < cfg.network.tcp_share {
                            set.insert((a, b));
                        }
                    }
                }
                TcpLinks::Some(set)
            }
        };
        let mut plan = TcpPlan {
            addrs: vec![None; n],
            bound: (0..n).map(|_| None).collect(),
            generation: vec![0; n],
            endpoints: vec![None; n],
            links,
        };
        for (a, ns) in adj.iter().enumerate() {
            if !ns.iter().any(|b| plan.links.contains(a, *b)) {
                continue;
            }
            let host: std::net::IpAddr = cfg
                .tcp
                .listen_host
                .parse()
                .map_err(|_| ClusterError::Runtime("tcp.listen_host is not an IP".into()))?;
            let l = std::net::TcpListener::bind((host, 0)).map_err(|e| {
                ClusterError::Node(NodeError::Listen {
                    node: a,
                    addr: format!("{host}:0"),
                    reason: e.to_string(),
                })
            })?;
            plan.addrs[a] =
                Some(l.local_addr().map_err(|e| {
                    ClusterError::Runtime(format!("node {a}: listener address: {e}"))
                })?);
            plan.bound[a] = Some(l);
        }
        Ok(plan)
    }
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
            network_duplicates: Default::default(),
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
        let tcp = TcpPlan::new(&cfg, &adj)?;
        let net = Network::new(
            n,
            cfg.network.latency.clone(),
            cfg.network.bandwidth_mbps,
            stream(seed, "network", 0),
        )
        .with_tcp_links(tcp.links.clone())
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
            fault_state: FaultState::new(n, shares),
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
            timeline: Timeline::default(),
            bar: None,
            tcp,
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
        for (id, chain) in chains.into_iter().enumerate() {
            if let Some(chain) = chain {
                cluster.spawn(id, chain)?;
            }
        }
        Ok(cluster)
    }

    /// Starts node `id`'s TCP endpoint (when it has TCP links): the same address each time.
    fn spawn_tcp(&mut self, h: &NodeHandle) -> Result<(), NodeError> {
        let id = h.id;
        let Some(addr) = self.tcp.addrs.get(id).copied().flatten() else {
            return Ok(());
        };
        let listen_err = |e: std::io::Error| NodeError::Listen {
            node: id,
            addr: addr.to_string(),
            reason: e.to_string(),
        };
        let listener = match &self.tcp.bound[id] {
            Some(l) => l.try_clone().map_err(listen_err)?,
            None => std::net::TcpListener::bind(addr).map_err(listen_err)?,
        };
        self.tcp.generation[id] += 1;
        let generation = self.tcp.generation[id];
        // The lower id of each TCP link dials.
        let dial = self.adj[id]
            .iter()
            .filter(|j| **j > id && self.tcp.links.contains(id, **j))
            .filter_map(|j| {
                Some(DialTarget {
                    addr: self.tcp.addrs[*j]?,
                    peer: Some(*j),
                })
            })
            .collect();
        let seed = self.cfg.cluster.seed;
        let endpoint = TcpNode::new(TcpSetup {
            id,
            key: chainlab::net::node_key(seed, id as u32),
            rules: chainlab::net::HandshakeRules {
                chain_id: self.cfg.consensus.chain_id,
                genesis: self.shared.genesis.0.hash(),
                node: id as u32,
                seed,
            },
            cfg: self.cfg.tcp.clone(),
            listener,
            dial,
            inbox: h.peer.clone().recipient(),
            links: h.peer.clone().recipient::<PeerLink>(),
            recorder: self.shared.recorder.clone(),
            rng: stream(seed, "tcp", id as u64 | generation << 32),
        })
        .map_err(listen_err)?
        .start();
        self.net.do_send(RegisterTcp {
            id,
            endpoint: Some(endpoint.clone()),
        });
        self.tcp.endpoints[id] = Some(endpoint);
        Ok(())
    }

    /// Node `id`'s TCP listening address (None when it has no TCP link).
    pub fn tcp_addr(&self, id: NodeId) -> Option<std::net::SocketAddr> {
        self.tcp.addrs.get(id).copied().flatten()
    }

    /// Node `id`'s TCP connections and counters (None when it has no running endpoint).
    pub async fn tcp_info(&self, id: NodeId) -> Option<TcpInfo> {
        let e = self.tcp.endpoints.get(id)?.as_ref()?;
        e.send(GetTcpInfo).await.ok()
    }

    fn spawn(&mut self, id: NodeId, chain: ChainState) -> Result<(), NodeError> {
        let spec = NodeSpec {
            id,
            neighbors: self.adj[id].clone(),
            hash_share: self.fault_state.share(id),
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
        let skew = self.fault_state.skew(id);
        if skew != 0 {
            handle.chain.do_send(SetClockSkew(skew));
        }
        self.spawn_tcp(&handle)?;
        self.nodes[id] = Some(handle);
        Ok(())
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
        self.spawn(id, chain)
    }

    /// Stops node `id` (its actors and memory go; its store stays). `crash` skips the flush.
    pub fn stop_node(&mut self, id: NodeId, crash: bool) {
        if let Some(h) = self.nodes[id].take() {
            self.net.do_send(RegisterNode { id, inbox: None });
            if let Some(e) = self.tcp.endpoints.get_mut(id).and_then(Option::take) {
                self.net.do_send(RegisterTcp { id, endpoint: None });
                e.do_send(StopTcp);
            }
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
        let mut tcp = BTreeMap::new();
        for (id, e) in self.tcp.endpoints.iter().enumerate() {
            if let Some(e) = e {
                if let Ok(info) = e.send(GetTcpInfo).await {
                    tcp.insert(id, info);
                }
            }
        }
        for e in self.tcp.endpoints.iter().flatten() {
            e.do_send(StopTcp);
        }
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
            tcp,
        })
    }
}

/// A transport that drops everything (used while loading stores, before the network exists).
#[derive(Debug)]
pub struct NullTransport;

impl crate::transport::Transport for NullTransport {
    fn send(&self, _: NodeId, _: NodeId, _: chainlab::net::wire::WireMsg) {}
    fn penalize(&self, _: NodeId, _: NodeId, _: chainlab::net::Offence) {}
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
