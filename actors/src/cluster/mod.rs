//! The cluster harness: builds the topology, the network, the nodes and the workload, and
//! starts and stops nodes. Its parts, one concern each:
//!
//! - [`timeline`]: the schedule (late starts, the fault scenario and its `for` ends, the end of
//!   load and mining) and driving cluster time through it;
//! - [`faults`]: carrying out the core's fault decisions ([`chainlab::sim::timeline`]), the
//!   faults' report records, and the convergence and catch-up measurements;
//! - [`stores`]: the nodes' block stores, which outlive the nodes;
//! - [`tcp_plan`]: which links are TCP, the listeners and the endpoints;
//! - [`collect`]: the nodes' final views gathered into the report;
//! - [`progress`]: the progress bar;
//! - [`arbiters`]: on the real clock, the arbiters (threads) the nodes run on.

mod arbiters;
mod collect;
mod faults;
mod progress;
mod stores;
mod tcp_plan;
mod timeline;

use crate::clock::Clock;
use crate::logging;
use crate::node::messages::ExpectDuplicates;
use crate::node::{
    producer_shares, spawn_node, ChainKit, DurableLog, NodeError, NodeFactory, NodeFailure,
    NodeHandle, NodeLife, NodeSpec, Persistence,
};
use crate::recorder::Recorder;
use crate::runtime;
use crate::store_sled::DataDir;
use crate::transport::memory::{MemoryTransport, NetStats, Network, RegisterNode};
use crate::transport::tcp::TcpInfo;
use crate::workload::{SetTarget, Workload};
use actix::prelude::*;
use arbiters::Arbiters;
use chainlab::chain::store::StoreError;
use chainlab::config::{Config, PlannedCall};
use chainlab::contract::frontrun::Frontrunner;
use chainlab::hash::HashKey;
use chainlab::report::{Event, FinalBlock, Report, Trace};
use chainlab::sim::model::{build_topology, stream, TopologyError};
use chainlab::sim::timeline::FaultState;
use chainlab::ChainState;
use chainlab::NodeId;
use faults::FaultBook;
use progress::Progress;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use stores::Stores;
use tcp_plan::TcpPlan;
use timeline::Timeline;

/// Harness options that are not part of the scenario config.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Show a progress bar.
    pub progress: bool,
    /// Nodes that start late: (node, time).
    pub late_start: Vec<(NodeId, Duration)>,
    /// Report blocks once flushed to this file (`-`: standard output).
    pub durable_log: Option<PathBuf>,
    /// The honest load of the same run without its spam and forkspam adversaries; [`run`]
    /// runs that baseline first when the config has such adversaries and this is `None`.
    pub baseline: Option<chainlab::report::HonestLoad>,
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// The report.
    pub report: Report,
    /// Every trace event, in order (held compactly: [`Trace`]).
    pub events: Trace,
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
    /// The thread each node ran on (its arbiter's; the last incarnation of a restarted node;
    /// None for a node that never started).
    pub node_threads: Vec<Option<std::thread::ThreadId>>,
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
    /// A `[[calls]]` entry cannot be planned (unknown contract, unreadable file, bad
    /// argument).
    #[error(transparent)]
    Calls(#[from] chainlab::config::ConfigError),
    /// A fault that has no meaning under the chain's consensus.
    #[error("faults[{index}]: `{kind}` {reason}")]
    FaultNotForConsensus {
        /// The entry's index.
        index: usize,
        /// Its kind.
        kind: &'static str,
        /// Why it does not apply.
        reason: &'static str,
    },
}

/// A running cluster (inside an actix system).
pub struct Cluster {
    cfg: Arc<Config>,
    /// What every node shares: parameters, genesis, recorder, transport.
    factory: NodeFactory,
    /// The in-process network (it also routes to the TCP endpoints).
    net: Addr<Network>,
    workload: Addr<Workload>,
    /// Each node's neighbours.
    adj: Vec<Vec<NodeId>>,
    /// Running nodes (None: not started, stopped, crashed or failed).
    nodes: Vec<Option<NodeHandle>>,
    /// The last stopped incarnation of each node, awaited before its store is wiped.
    gone: Vec<Option<NodeLife>>,
    /// Nodes that stopped themselves (a store write failed).
    failures: tokio::sync::mpsc::UnboundedReceiver<NodeFailure>,
    stores: Stores,
    tcp: TcpPlan,
    faults: FaultBook,
    timeline: Timeline,
    progress: Progress,
    /// The `[[calls]]` transactions still to submit, in order (`timeline.rs`).
    calls: std::collections::VecDeque<PlannedCall>,
    /// Contract names by address, for the report.
    contract_names: BTreeMap<chainlab::Address, String>,
    /// The `[[views]]` run on the final state.
    views: Vec<chainlab::config::PlannedView>,
    /// The `[frontrun]` attacker's node and what it copies.
    frontrun: Option<(NodeId, Frontrunner)>,
    /// The honest load without the spam adversaries ([`RunOptions::baseline`]).
    baseline: Option<chainlab::report::HonestLoad>,
    /// The arbiters the nodes run on (real clock; none: the harness's own). Last, so that
    /// it is dropped (its threads stopped and joined) after everything else.
    arbiters: Arbiters,
    /// The thread each node last started on.
    threads: Vec<Option<std::thread::ThreadId>>,
}

/// The peer graph of a run of `cfg`: `network.topology`, then each eclipse victim linked to
/// its attacker's nodes only (`Config::eclipse_rewire`). Sorted adjacency lists.
///
/// # Errors
/// When the topology cannot be built.
pub fn topology(cfg: &Config) -> Result<Vec<Vec<NodeId>>, TopologyError> {
    let mut adj = build_topology(
        &cfg.network.topology,
        cfg.cluster.nodes,
        cfg.network.degree,
        &mut stream(cfg.cluster.seed, "topology", 0),
    )?;
    cfg.eclipse_rewire(&mut adj);
    Ok(adj)
}

/// Runs a whole scenario: start, load for `duration`, settle, report.
///
/// # Errors
/// [`ClusterError`] when the cluster cannot be built or a node fails to start.
pub fn run(cfg: Config, mut opts: RunOptions) -> Result<RunOutput, ClusterError> {
    // A spam or forkspam attack is measured against the same run without it: that run
    // first, quietly, in its own runtime (docs/experiments.md, "Spam and forkspam").
    if let (None, Some(base)) = (&opts.baseline, cfg.without_spam()) {
        let quiet = RunOptions {
            late_start: opts.late_start.clone(),
            ..RunOptions::default()
        };
        let out = run_one(base, quiet)?;
        opts.baseline = Some(chainlab::report::HonestLoad::of(&out.report.txs));
    }
    run_one(cfg, opts)
}

/// One run of `cfg`.
fn run_one(cfg: Config, opts: RunOptions) -> Result<RunOutput, ClusterError> {
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
        let (calls, contract_names) = cfg.plan_calls("[[calls]]", &|path| {
            std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))
        })?;
        let views = cfg.plan_views("[[views]]", &contract_names)?;
        let frontrun = cfg.frontrunner("[frontrun]", &contract_names)?;
        let seed = cfg.cluster.seed;
        let adj = topology(&cfg)?;
        // Hash shares, or stake shares under proof of stake.
        let shares = producer_shares(&cfg);
        let stores = Stores::open(&cfg)?;
        let kit = ChainKit::new(&cfg);
        let persistence = Persistence {
            flush_each_block: cfg.storage.flush_each_block
                && matches!(stores.data_dir.as_deref(), Some(DataDir::Kept(_))),
            durable_log: match &opts.durable_log {
                Some(p) => Some(DurableLog::open(p).map_err(|e| StoreError::Backend {
                    location: p.display().to_string(),
                    reason: format!("cannot create the durable log: {e}"),
                })?),
                None => None,
            },
        };
        let late: BTreeSet<NodeId> = opts.late_start.iter().map(|(id, _)| *id).collect();
        let mut chains: Vec<Option<ChainState>> = Vec::with_capacity(n);
        for id in 0..n {
            chains.push(if late.contains(&id) {
                None
            } else {
                Some(kit.load(id, stores.boxed(id).as_mut())?)
            });
        }
        stores.record_config(&cfg)?;
        // Chain time starts at genesis (block timestamps must be later) and resumes after the
        // newest stored block.
        let genesis_ms = cfg.genesis_time_ms();
        let offset = chains
            .iter()
            .flatten()
            .filter_map(|c| c.get(&c.tip()).map(|b| b.header.timestamp_ms))
            .max()
            .map_or(
                genesis_ms,
                |t| if t > genesis_ms { t + 1 } else { genesis_ms },
            );
        let clock = Clock::start(offset);
        let recorder = Recorder::keyed(clock, HashKey::derive(seed, "trace", 0));
        let tcp = TcpPlan::new(&cfg, &adj)?;
        let net = Network::new(
            n,
            cfg.network.latency.clone(),
            cfg.network.bandwidth(),
            stream(seed, "network", 0),
        )
        .with_tcp_links(tcp.links.clone())
        .start();
        let (failed_tx, failures) = tokio::sync::mpsc::unbounded_channel();
        let sig_cache = kit.sig_cache.clone();
        let factory = NodeFactory {
            cfg: cfg.clone(),
            chain: kit,
            recorder: recorder.clone(),
            transport: Arc::new(MemoryTransport::new(net.clone())),
            persistence,
            failures: Some(failed_tx),
        };
        let workload = Workload::new(&cfg, vec![None; n], stream(seed, "workload", 0), recorder)
            .with_sig_cache(sig_cache)
            .start();
        let timeline = Timeline::new(clock, &cfg, &opts.late_start);
        let available = std::thread::available_parallelism().map_or(1, usize::from);
        let arbiters = Arbiters::start(cfg.cluster.arbiter_count(available));
        let mut cluster = Cluster {
            progress: Progress::new(opts.progress, timeline.total_ms()),
            faults: FaultBook::new(FaultState::new(n, shares)),
            timeline,
            cfg,
            factory,
            net,
            workload,
            adj,
            nodes: vec![None; n],
            gone: vec![None; n],
            failures,
            stores,
            tcp,
            calls: calls.into(),
            contract_names,
            views,
            frontrun,
            baseline: opts.baseline.clone(),
            arbiters,
            threads: vec![None; n],
        };
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

    fn spawn(&mut self, id: NodeId, chain: ChainState) -> Result<(), NodeError> {
        let paused = self.faults.paused.contains(&id);
        let spec = NodeSpec {
            id,
            neighbors: self.adj[id].clone(),
            hash_share: self.faults.state.share(id),
            store: self.stores.boxed(id),
            mining: self.timeline.mining_on() && !paused,
            frontrun: self
                .frontrun
                .as_ref()
                .filter(|(node, _)| *node == id)
                .map(|(_, attacker)| attacker.clone()),
        };
        let factory = self.factory.clone();
        let handle = self
            .arbiters
            .run_for(id, move || spawn_node(&factory, spec, chain))
            .ok_or(NodeError::ArbiterGone { node: id })?;
        if self.faults.duplicates_expected {
            handle.peer.do_send(ExpectDuplicates);
        }
        self.net.do_send(RegisterNode {
            id,
            inbox: Some(handle.peer.clone().recipient()),
        });
        let target = (!paused).then(|| handle.mempool.clone().recipient());
        self.workload.do_send(SetTarget { id, target });
        let skew = self.faults.state.skew(id);
        if skew != 0 {
            handle.set_clock_skew(skew);
        }
        self.node_faults_on_start(&handle);
        self.spawn_tcp(&handle)?;
        self.threads[id] = Some(handle.thread);
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
        let chain = self
            .factory
            .chain
            .load(id, self.stores.boxed(id).as_mut())?;
        self.spawn(id, chain)
    }

    /// Stops node `id` (its actors and memory go; its store stays). `crash` ends it at once,
    /// without a flush (nothing of it runs after this call); otherwise its actors stop after
    /// the messages already queued, and the store is flushed.
    pub fn stop_node(&mut self, id: NodeId, crash: bool) {
        if let Some(h) = self.nodes[id].take() {
            if crash {
                h.crash();
            } else {
                h.stop();
            }
            self.factory
                .recorder
                .record(id, Event::NodeStopped { crashed: crash });
            self.forget(&h);
        }
    }

    /// Takes a stopped node out of the network, its TCP endpoint and the load; keeps its life
    /// until its store is wiped.
    fn forget(&mut self, h: &NodeHandle) {
        let id = h.id;
        self.net.do_send(RegisterNode { id, inbox: None });
        self.stop_tcp(id);
        self.workload.do_send(SetTarget { id, target: None });
        self.gone[id] = Some(h.life.clone());
    }

    /// A node stopped itself (its store failed; it recorded `node_failed`): the harness
    /// forgets it as it does a crashed node. It starts again from its store with a `restart`
    /// fault or when its `disk_full` fault ends.
    fn node_failed(&mut self, f: NodeFailure) {
        let id = f.node;
        let Some(h) = self.nodes[id].take_if(|h| !h.life.is_alive()) else {
            return; // an earlier incarnation's report: the node was stopped meanwhile
        };
        let now = self.now();
        tracing::warn!(node = id, error = %f.error, "node failed: its store refused a write");
        self.faults.crashed.push((id, now));
        self.forget(&h);
    }

    /// Takes in every failure reported so far.
    fn reap_failures(&mut self) {
        while let Ok(f) = self.failures.try_recv() {
            self.node_failed(f);
        }
    }

    /// Waits until cluster time `at_ms`, taking in node failures as they happen.
    async fn sleep_until(&mut self, at_ms: u64) {
        let deadline = self.timeline.clock_at(at_ms);
        loop {
            tokio::select! {
                biased;
                Some(f) = self.failures.recv() => self.node_failed(f),
                () = actix::clock::sleep_until(deadline) => return,
            }
        }
    }

    /// How many arbiters (threads) the nodes run on: 1 on the virtual clock.
    pub fn arbiter_count(&self) -> usize {
        self.arbiters.count()
    }

    /// Running nodes.
    pub fn live_nodes(&self) -> impl Iterator<Item = &NodeHandle> {
        self.nodes.iter().flatten()
    }

    fn now(&self) -> u64 {
        self.timeline.now()
    }
}
