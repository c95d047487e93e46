//! `chainlab node`: one node in its own process, joined to nodes in other processes (or on
//! other machines) over TCP. It runs on the real clock; chain time is Unix time in
//! milliseconds, so that processes started at different moments agree on block timestamps.
//! It mines with its config share of the hash power (`pow.hashpower` over `cluster.nodes`;
//! under proof of stake it proposes and votes as validator `--id`, with its genesis stake),
//! submits its share of the transaction load (`workload.tx_rate / cluster.nodes`, from the
//! accounts whose index is its id modulo `cluster.nodes`), accepts the peers whose keys
//! `tcp.peers_allowed` admits (any key, or those listed), and keeps dialling its `--peer`
//! addresses. Its own secret key is read from `--key FILE` or `<data_dir>/node.key` (created
//! on first start; see [`crate::keyfile`]); without either it is a fresh key for this run
//! only. Events are counted, not kept.
//! SIGINT or SIGTERM (or `--duration`) stops it cleanly: connections closed, store flushed,
//! then the report is written.

use crate::clock::Clock;
use crate::keyfile::{self, KeyFileError, KEY_FILE};
use crate::node::messages::GetTip;
use crate::node::{
    producer_shares, spawn_node, ChainKit, DurableLog, NodeError, NodeFactory, NodeSpec,
    Persistence, Shutdown,
};
use crate::recorder::Recorder;
use crate::runtime;
use crate::store_sled::{open_db, record_config, SledStore};
use crate::transport::memory::{MemoryTransport, Network, RegisterNode, RegisterTcp, TcpLinks};
use crate::transport::tcp::{
    DialTarget, GetTcpInfo, PeerInfo, StopTcp, TcpNode, TcpSetup, TcpStats,
};
use crate::transport::PeerLink;
use crate::workload::{StopLoad, Workload};
use actix::prelude::*;
use chainlab::chain::store::{BlockStore, MemoryStore, StoreError};
use chainlab::config::{ClockMode, Config, Latency};
use chainlab::sim::model::stream;
use chainlab::{KeyPair, NodeId, PublicKey};
use serde::Serialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What `chainlab node` was asked to do.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// This node's id (its hash share and accounts follow from it; its key does not).
    pub id: NodeId,
    /// Read the node key from this file (which must exist) instead of
    /// `<data_dir>/node.key`.
    pub key_file: Option<PathBuf>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Addresses to keep connected to.
    pub peers: Vec<SocketAddr>,
    /// Keep the chain here (sled); resumed from when it exists. None: in memory.
    pub data_dir: Option<PathBuf>,
    /// Stop by itself after this long.
    pub duration: Option<Duration>,
    /// Report blocks once flushed (needs `data_dir`).
    pub durable_log: Option<DurableLog>,
}

/// What the node reports at shutdown.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// Node id.
    pub node: NodeId,
    /// Its public key (hex): its identity to peers.
    pub key: String,
    /// Listening address.
    pub listen: String,
    /// Best-chain height.
    pub tip_height: u64,
    /// Best-chain tip.
    pub tip_hash: String,
    /// Peers connected at shutdown.
    pub peers: Vec<PeerInfo>,
    /// TCP counters.
    pub counters: TcpStats,
    /// Blocks this node mined.
    pub mined: u64,
    /// Blocks it imported (own included).
    pub imported: u64,
    /// Blocks it rejected.
    pub rejected: u64,
    /// Transactions its share of the workload submitted to it.
    pub txs_submitted: u64,
    /// Of those, refused.
    pub txs_rejected: u64,
    /// Seconds it ran.
    pub uptime_s: f64,
    /// What stopped it: `SIGINT`, `SIGTERM` or `duration`.
    pub stopped_by: String,
}

/// Why the node could not run.
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// The store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The chain in the store.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// The listener.
    #[error("cannot listen on {addr}: {reason}")]
    Listen {
        /// Address.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The node stopped itself: its store refused a write (the store keeps the last block
    /// written; a restart resumes from it).
    #[error("node {node} stopped: its store refused a write: {error}")]
    Failed {
        /// Node.
        node: usize,
        /// The store error.
        error: String,
    },
    /// The node key.
    #[error(transparent)]
    Key(#[from] KeyFileError),
    /// The runtime.
    #[error("runtime: {0}")]
    Runtime(String),
}

/// Where the node's key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// `--key FILE`.
    File,
    /// `<data_dir>/node.key`, read.
    DataDir,
    /// `<data_dir>/node.key`, created now.
    Created,
    /// Neither: a key for this run only.
    Ephemeral,
}

/// The node's key: `--key FILE`, else `<data_dir>/node.key` (created when absent), else a
/// fresh key for this run only.
///
/// # Errors
/// A missing, unreadable or damaged key file, named.
pub fn node_key(opts: &NodeOptions) -> Result<(KeyPair, KeySource), KeyFileError> {
    if let Some(f) = &opts.key_file {
        return Ok((keyfile::load(f)?, KeySource::File));
    }
    if let Some(dir) = &opts.data_dir {
        let (key, created) = keyfile::load_or_create(&dir.join(KEY_FILE))?;
        let source = if created {
            KeySource::Created
        } else {
            KeySource::DataDir
        };
        return Ok((key, source));
    }
    Ok((keyfile::ephemeral(), KeySource::Ephemeral))
}

/// Runs one node until a signal or `duration`; `on_listen` gets the bound address, the
/// node's public key and where the key came from first.
///
/// # Errors
/// [`StandaloneError`] naming the problem.
pub fn run_node(
    mut cfg: Config,
    opts: NodeOptions,
    on_listen: impl FnOnce(SocketAddr, &PublicKey, KeySource),
) -> Result<NodeReport, StandaloneError> {
    if opts.durable_log.is_some() && opts.data_dir.is_none() {
        return Err(StandaloneError::Usage(
            "--durable-log needs --data-dir (blocks are durable only in a kept store)".into(),
        ));
    }
    if opts.id >= cfg.cluster.nodes {
        return Err(StandaloneError::Usage(format!(
            "--id {} is not below cluster.nodes = {} (the config's node count sets each node's hash share)",
            opts.id, cfg.cluster.nodes
        )));
    }
    let allowed = cfg
        .tcp
        .peers_allowed
        .policy()
        .map_err(|(key, reason)| StandaloneError::Usage(format!("{key}: {reason}")))?;
    if !allowed.any && allowed.known.is_empty() {
        return Err(StandaloneError::Usage(
            "tcp.peers_allowed lists no key, so no peer could connect: list the peers' public \
             keys (`chainlab key --data-dir DIR` prints a node's) or set \
             tcp.peers_allowed = \"any\" for an open network"
                .into(),
        ));
    }
    let key = node_key(&opts)?;
    if cfg.consensus.genesis_time.is_none() {
        return Err(StandaloneError::Usage(
            "consensus.genesis_time is not set: `chainlab node` runs on Unix time, so the \
             network's launch time must be in the config (RFC 3339, e.g. \
             \"2026-12-01T00:00:00Z\"); without it a branch could claim the years since 1970 \
             to lower the difficulty"
                .into(),
        ));
    }
    if cfg.frontrun.is_some() {
        tracing::warn!("[frontrun] applies to in-process clusters (`chainlab run`): ignored");
    }
    cfg.cluster.clock = ClockMode::Real;
    // Every link of this process is TCP (peer actors budget what they serve accordingly).
    cfg.network.transport = chainlab::config::TransportKind::Tcp;
    let cfg = Arc::new(cfg);
    runtime::block_on(
        ClockMode::Real,
        run(cfg, opts, Arc::new(allowed), key, on_listen),
    )
    .map_err(|e| StandaloneError::Runtime(e.to_string()))?
}

async fn run(
    cfg: Arc<Config>,
    opts: NodeOptions,
    allowed: Arc<chainlab::net::AllowedPeers>,
    (key, source): (KeyPair, KeySource),
    on_listen: impl FnOnce(SocketAddr, &PublicKey, KeySource),
) -> Result<NodeReport, StandaloneError> {
    let mut stops = Stops::install();
    let id = opts.id;
    let seed = cfg.cluster.seed;
    let (db, mut store): (Option<sled::Db>, Box<dyn BlockStore>) = match &opts.data_dir {
        Some(dir) => {
            let db = open_db(dir, cfg.storage.cache_mb)?;
            let store = SledStore::open(&db, dir, id)?;
            (Some(db), Box::new(store))
        }
        None => (None, Box::new(MemoryStore::new())),
    };
    let kit = ChainKit::new(&cfg);
    // Chain time: Unix milliseconds (shared by processes), never before the stored tip.
    let unix_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let chain = kit.load(id, store.as_mut())?;
    if let (Some(db), Some(dir)) = (&db, &opts.data_dir) {
        record_config(db, dir, &cfg)?;
    }
    let stored_ts = chain
        .get(&chain.tip())
        .map_or(0, |b| b.header.timestamp_ms + 1);
    let recorder = Recorder::counting(Clock::start(
        unix_ms.max(stored_ts).max(cfg.genesis_time_ms() + 1),
    ));
    let net = Network::new(
        id + 1,
        Latency::Constant { ms: 0.0 },
        None,
        stream(seed, "network", id as u64),
    )
    .with_tcp_links(TcpLinks::All)
    .start();
    let (failed_tx, mut failed) = tokio::sync::mpsc::unbounded_channel();
    let factory = NodeFactory {
        cfg: cfg.clone(),
        chain: kit,
        recorder,
        transport: Arc::new(MemoryTransport::new(net.clone())),
        persistence: Persistence {
            flush_each_block: db.is_some() && cfg.storage.flush_each_block,
            durable_log: opts.durable_log.clone(),
        },
        failures: Some(failed_tx),
    };
    let listener =
        std::net::TcpListener::bind(opts.listen).map_err(|e| StandaloneError::Listen {
            addr: opts.listen,
            reason: e.to_string(),
        })?;
    // Its hash share, or its stake share under proof of stake.
    let share = producer_shares(&cfg).get(id).copied().unwrap_or(0.0);
    let handle = spawn_node(
        &factory,
        NodeSpec {
            id,
            neighbors: Vec::new(),
            hash_share: share,
            store,
            mining: true,
            frontrun: None,
        },
        chain,
    );
    net.do_send(RegisterNode {
        id,
        inbox: Some(handle.peer.clone().recipient()),
    });
    let public = key.public;
    let endpoint = TcpNode::new(TcpSetup {
        id,
        rules: chainlab::net::HandshakeRules {
            chain_id: cfg.consensus.chain_id,
            genesis: factory.chain.genesis.0.hash(),
            node: id as u32,
            key: public,
            allowed,
        },
        key,
        cfg: cfg.tcp.clone(),
        listener,
        dial: opts
            .peers
            .iter()
            .map(|addr| DialTarget {
                addr: *addr,
                peer: None,
            })
            .collect(),
        inbox: handle.peer.clone().recipient(),
        links: handle.peer.clone().recipient::<PeerLink>(),
        recorder: factory.recorder.clone(),
        rng: stream(seed ^ unix_ms, "tcp", id as u64),
    })
    .map_err(|e| StandaloneError::Listen {
        addr: opts.listen,
        reason: e.to_string(),
    })?;
    let listen = endpoint.listen_addr();
    let endpoint = endpoint.start();
    net.do_send(RegisterTcp {
        id,
        endpoint: Some(endpoint.clone()),
    });
    // This process's share of the transaction load, from its own share of the accounts.
    let workload = (cfg.workload.tx_rate > 0.0).then(|| {
        let mut wcfg = (*cfg).clone();
        let n = cfg.cluster.nodes;
        wcfg.workload.tx_rate /= n as f64;
        let mut targets = vec![None; id + 1];
        targets[id] = Some(handle.mempool.clone().recipient());
        Workload::new(
            &wcfg,
            targets,
            stream(seed ^ unix_ms, "workload", id as u64),
            factory.recorder.clone(),
        )
        .senders_only(|i| i % n == id)
        .with_sig_cache(factory.chain.sig_cache.clone())
        .start()
    });
    tracing::info!(node = id, key = %public, ?source, %listen, "listening");
    on_listen(listen, &public, source);
    let started = std::time::Instant::now();
    let stopped_by = tokio::select! {
        biased;
        Some(f) = failed.recv() => {
            let _ = endpoint.send(StopTcp).await;
            return Err(StandaloneError::Failed { node: f.node, error: f.error });
        }
        by = stops.wait(opts.duration) => by,
    };
    tracing::info!(node = id, by = %stopped_by, "stopping");
    if let Some(w) = &workload {
        w.do_send(StopLoad);
    }
    // The miner first, so that the reported tip is the final one.
    let _ = handle.miner.send(Shutdown { graceful: true }).await;
    let info = endpoint.send(GetTcpInfo).await.ok();
    let _ = endpoint.send(StopTcp).await;
    let (tip, height, _) = handle
        .chain
        .send(GetTip)
        .await
        .map_err(|e| StandaloneError::Runtime(e.to_string()))?;
    handle.peer.do_send(Shutdown { graceful: true });
    handle.mempool.do_send(Shutdown { graceful: true });
    // Waits for the chain actor's flush.
    let _ = handle.chain.send(Shutdown { graceful: true }).await;
    if let Some(db) = &db {
        db.flush().map_err(|e| StoreError::Backend {
            location: opts
                .data_dir
                .as_ref()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
            reason: format!("final flush failed: {e}"),
        })?;
    }
    let counts = factory.recorder.counts();
    let count = |name: &str| counts.get(name).copied().unwrap_or(0);
    let info = info.unwrap_or(crate::transport::tcp::TcpInfo {
        listen: listen.to_string(),
        peers: Vec::new(),
        stats: TcpStats::default(),
    });
    Ok(NodeReport {
        node: id,
        key: public.to_string(),
        listen: listen.to_string(),
        tip_height: height,
        tip_hash: tip.to_hex(),
        peers: info.peers,
        counters: info.stats,
        mined: count("block_mined"),
        imported: count("block_imported"),
        rejected: count("block_rejected"),
        txs_submitted: count("tx_submitted"),
        txs_rejected: count("tx_rejected"),
        uptime_s: started.elapsed().as_secs_f64(),
        stopped_by,
    })
}

/// SIGINT and SIGTERM listeners, installed before anything else so that a signal during
/// startup still stops the node cleanly.
struct Stops {
    #[cfg(unix)]
    int: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    term: Option<tokio::signal::unix::Signal>,
}

impl Stops {
    fn install() -> Stops {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Stops {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        Stops {}
    }

    /// Waits for a signal or the end of `duration`; says which.
    async fn wait(&mut self, duration: Option<Duration>) -> String {
        let timer = async {
            match duration {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        #[cfg(unix)]
        {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s.as_mut() {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                biased;
                () = recv(&mut self.int) => "SIGINT".into(),
                () = recv(&mut self.term) => "SIGTERM".into(),
                () = timer => "duration".into(),
            }
        }
        #[cfg(not(unix))]
        {
            tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => "SIGINT".into(),
                () = timer => "duration".into(),
            }
        }
    }
}
