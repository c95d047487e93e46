//! The cluster harness: builds the topology, the network, the nodes and the workload, drives
//! the timeline (late starts, end of load and mining, settle), and computes the report.

use crate::clock::Clock;
use crate::logging;
use crate::node::chain::GetChainSummary;
use crate::node::miner::SetMining;
use crate::node::{spawn_node, NodeError, NodeHandle, NodeShared, NodeSpec};
use crate::recorder::Recorder;
use crate::runtime;
use crate::store_sled::{open_db, DataDir, SledStore};
use crate::transport::memory::{GetNetStats, MemoryTransport, NetStats, Network, RegisterNode};
use crate::workload::{SetTarget, StopLoad, Workload};
use actix::prelude::*;
use chainlab::config::{ClockMode, Config, StorageBackend};
use chainlab::gossip::NodeId;
use chainlab::model::{build_topology, hash_shares, stream, TopologyError};
use chainlab::report::{FinalBlock, Invariants, NodeFinal, Report, RunFacts, TraceRecord};
use chainlab::store::{BlockStore, MemoryStore, StoreError};
use chainlab::SigCache;
use indicatif::{ProgressBar, ProgressStyle};
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
        let mut cluster = Cluster::start(cfg, &opts)?;
        cluster.drive(&opts).await?;
        cluster.finish().await
    })
    .map_err(|e| ClusterError::Runtime(e.to_string()))??;
    out.report.wall_s = wall.elapsed().as_secs_f64();
    Ok(out)
}

impl Cluster {
    /// Builds everything and starts the nodes that start at time 0.
    ///
    /// # Errors
    /// Topology, store or node start failures.
    pub fn start(cfg: Config, opts: &RunOptions) -> Result<Cluster, ClusterError> {
        let cfg = Arc::new(cfg);
        let n = cfg.cluster.nodes;
        let seed = cfg.cluster.seed;
        let clock = Clock::start();
        let recorder = Recorder::new(clock);
        let adj = build_topology(
            &cfg.network.topology,
            n,
            cfg.network.degree,
            &mut stream(seed, "topology", 0),
        )?;
        let shares = hash_shares(&cfg.pow.hashpower, n);
        let net = Network::new(
            n,
            cfg.network.latency.clone(),
            cfg.network.bandwidth_mbps,
            stream(seed, "network", 0),
        )
        .start();
        let (db, data_dir, stores) = open_stores(&cfg)?;
        let params = Arc::new(cfg.chain_params());
        let genesis = (
            Arc::new(params.genesis_block()),
            Arc::new(params.genesis_state()),
        );
        let shared = Arc::new(NodeShared {
            params,
            genesis,
            sig_cache: cfg
                .node
                .sig_cache
                .then(|| Arc::new(SigCache::new(cfg.node.sig_cache_size))),
            recorder: recorder.clone(),
            transport: Arc::new(MemoryTransport::new(net.clone())),
            flush_each_block: cfg.storage.flush_each_block
                && matches!(data_dir, Some(DataDir::Kept(_))),
            cfg: cfg.clone(),
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
        };
        for id in 0..n {
            if !opts.late_start.iter().any(|(l, _)| *l == id) {
                cluster.start_node(id)?;
            }
        }
        Ok(cluster)
    }

    /// Starts (or restarts) node `id` from its store.
    ///
    /// # Errors
    /// When its store cannot be read or holds an invalid chain.
    pub fn start_node(&mut self, id: NodeId) -> Result<(), NodeError> {
        let spec = NodeSpec {
            id,
            neighbors: self.adj[id].clone(),
            hash_share: self.shares[id],
            store: self.stores[id].boxed(),
            mining: true,
        };
        let handle = spawn_node(&self.shared, spec)?;
        self.net.do_send(RegisterNode {
            id,
            inbox: Some(handle.peer.clone().recipient()),
        });
        self.workload.do_send(SetTarget {
            id,
            target: Some(handle.mempool.clone().recipient()),
        });
        self.nodes[id] = Some(handle);
        Ok(())
    }

    /// Stops node `id` (its actors and memory go; its store stays).
    pub fn stop_node(&mut self, id: NodeId) {
        if let Some(h) = self.nodes[id].take() {
            self.net.do_send(RegisterNode { id, inbox: None });
            self.workload.do_send(SetTarget { id, target: None });
            h.stop();
        }
    }

    /// Running nodes.
    pub fn live_nodes(&self) -> impl Iterator<Item = &NodeHandle> {
        self.nodes.iter().flatten()
    }

    async fn drive(&mut self, opts: &RunOptions) -> Result<(), ClusterError> {
        let duration_ms = self.cfg.cluster.duration.as_millis() as u64;
        let total_ms = duration_ms + self.cfg.cluster.settle.as_millis() as u64;
        let bar = progress_bar(opts.progress, total_ms);
        let mut late: Vec<(u64, NodeId)> = opts
            .late_start
            .iter()
            .map(|(id, t)| (t.as_millis() as u64, *id))
            .collect();
        late.sort_unstable();
        let step = (total_ms / 200).max(50);
        let mut t = 0;
        let mut load_stopped = false;
        while t < total_ms {
            let next = (t + step).min(total_ms);
            let milestone = late.first().map(|(at, _)| *at).filter(|at| *at < next);
            let stop_at = (!load_stopped && duration_ms < next).then_some(duration_ms);
            let target = [Some(next), milestone, stop_at]
                .into_iter()
                .flatten()
                .min()
                .unwrap_or(next);
            actix::clock::sleep_until(self.clock.at_ms(target)).await;
            t = target;
            while late.first().is_some_and(|(at, _)| *at <= t) {
                let (_, id) = late.remove(0);
                self.start_node(id)?;
            }
            if !load_stopped && t >= duration_ms {
                load_stopped = true;
                self.workload.do_send(StopLoad);
                for h in self.live_nodes() {
                    h.miner.do_send(SetMining(false));
                }
            }
            update_bar(&bar, &self.shared.recorder, t, total_ms);
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// Collects the nodes' final views and computes the report; flushes and stops the nodes.
    ///
    /// # Errors
    /// When a node does not answer.
    pub async fn finish(self) -> Result<RunOutput, ClusterError> {
        let mut finals = Vec::new();
        let mut invariants = Invariants::default();
        let mut best: Option<(u128, NodeId)> = None;
        for (id, slot) in self.nodes.iter().enumerate() {
            let Some(h) = slot else {
                finals.push(NodeFinal {
                    id,
                    live: false,
                    tip: chainlab::Hash::ZERO,
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
            faults: Vec::new(),
            crashed: Vec::new(),
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
            let db = open_db(dir.path(), cfg.storage.cache_mb)?;
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
