//! A node: four actors (chain, mempool, miner, peer) built by one factory, so a node can be
//! stopped and started again from its store.

pub mod chain;
pub mod mempool;
pub mod messages;
pub mod miner;
pub mod peer;

use crate::recorder::Recorder;
use crate::transport::Transport;
use actix::prelude::*;
use chainlab::chain::store::{BlockStore, StoreError};
use chainlab::chain::RebuildError;
use chainlab::config::Config;
use chainlab::mempool::Mempool;
use chainlab::net::gossip::Gossip;
use chainlab::report::Event;
use chainlab::sim::model::stream;
use chainlab::NodeId;
use chainlab::{ChainParams, ChainState, Hash, SigCache};
use std::io::Write as _;
use std::sync::Arc;

pub use chain::ChainActor;
pub use mempool::MempoolActor;
pub use messages::Shutdown;
pub use miner::MinerActor;
pub use peer::PeerActor;

/// What every node of a cluster shares.
#[derive(Debug)]
pub struct NodeShared {
    /// The configuration.
    pub cfg: Arc<Config>,
    /// Consensus parameters.
    pub params: Arc<ChainParams>,
    /// The genesis block and state, built once for every node.
    pub genesis: (Arc<chainlab::Block>, Arc<chainlab::State>),
    /// Process-wide verification cache (None when disabled).
    pub sig_cache: Option<Arc<SigCache>>,
    /// Event sink and clock.
    pub recorder: Recorder,
    /// How peers reach each other.
    pub transport: Arc<dyn Transport>,
    /// Flush the store after each import, before announcing (off for a temporary store,
    /// which is deleted at exit anyway).
    pub flush_each_block: bool,
    /// Where to report blocks once they are durable (crash tests).
    pub durable_log: Option<DurableLog>,
    /// Set once a `duplicate` fault is active: duplicates then prove nothing about the
    /// sender, so they no longer count toward the flood limit.
    pub network_duplicates: std::sync::atomic::AtomicBool,
}

/// Appends `durable NODE HEIGHT HASH` lines once blocks are flushed, to a file or stdout.
#[derive(Clone)]
pub struct DurableLog {
    out: Arc<std::sync::Mutex<Box<dyn std::io::Write + Send>>>,
}

impl std::fmt::Debug for DurableLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DurableLog")
    }
}

impl DurableLog {
    /// Writes to `path`, or to standard output when `path` is `-`.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn open(path: &std::path::Path) -> std::io::Result<DurableLog> {
        let w: Box<dyn std::io::Write + Send> = if path.as_os_str() == "-" {
            Box::new(std::io::stdout())
        } else {
            Box::new(std::fs::File::create(path)?)
        };
        Ok(DurableLog {
            out: Arc::new(std::sync::Mutex::new(w)),
        })
    }

    fn record(&self, node: NodeId, blocks: &[Arc<chainlab::Block>]) {
        let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
        for b in blocks {
            let _ = writeln!(w, "durable {node} {} {}", b.header.height, b.hash());
        }
        let _ = w.flush();
    }
}

/// Records this chain's genesis in a store (so that another chain's config cannot use it).
///
/// # Errors
/// Backend failures.
pub fn mark_genesis(
    id: NodeId,
    store: &mut dyn BlockStore,
    genesis: &Hash,
) -> Result<(), NodeError> {
    chainlab::chain::mark_genesis(store, genesis)
        .map_err(|source| NodeError::Store { node: id, source })
}

impl NodeShared {
    /// The cache, if enabled.
    pub fn cache(&self) -> Option<&SigCache> {
        self.sig_cache.as_deref()
    }
    /// Cluster-clock milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.recorder.clock().now_ms()
    }
}

/// Why a node could not start.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The store failed.
    #[error("node {node}: {source}")]
    Store {
        /// Node.
        node: NodeId,
        /// Store error (names the path).
        source: StoreError,
    },
    /// The store does not hold a valid chain of this config (damaged, or another chain's).
    #[error("node {node}: {source}")]
    Chain {
        /// Node.
        node: NodeId,
        /// What is wrong, naming the store and block.
        source: RebuildError,
    },
    /// The node's TCP listener could not be opened.
    #[error("node {node}: cannot listen on {addr}: {reason}")]
    Listen {
        /// Node.
        node: NodeId,
        /// Address.
        addr: String,
        /// Why.
        reason: String,
    },
}

/// How to build one node.
pub struct NodeSpec {
    /// Index.
    pub id: NodeId,
    /// Neighbours.
    pub neighbors: Vec<NodeId>,
    /// Share of the hash power.
    pub hash_share: f64,
    /// Its store.
    pub store: Box<dyn BlockStore>,
    /// Whether the miner starts enabled.
    pub mining: bool,
}

/// Addresses of a running node's actors.
#[derive(Clone)]
pub struct NodeHandle {
    /// Index.
    pub id: NodeId,
    /// Chain actor.
    pub chain: Addr<ChainActor>,
    /// Mempool actor.
    pub mempool: Addr<MempoolActor>,
    /// Miner actor.
    pub miner: Addr<MinerActor>,
    /// Peer actor.
    pub peer: Addr<PeerActor>,
}

impl NodeHandle {
    /// Stops all four actors after flushing the store (their memory is gone; the store stays).
    pub fn stop(&self) {
        self.send_shutdown(Shutdown { graceful: true });
    }

    /// Stops all four actors without flushing: a simulated crash.
    pub fn crash(&self) {
        self.send_shutdown(Shutdown { graceful: false });
    }

    fn send_shutdown(&self, s: Shutdown) {
        self.peer.do_send(s);
        self.miner.do_send(s);
        self.mempool.do_send(s);
        self.chain.do_send(s);
    }
}

/// Rebuilds a node's chain from its store ([`ChainState::rebuild`]).
///
/// # Errors
/// [`NodeError`] naming the node, and the path or block.
pub fn load_chain(
    id: NodeId,
    shared: &NodeShared,
    store: &mut dyn BlockStore,
) -> Result<ChainState, NodeError> {
    ChainState::rebuild(
        store,
        shared.params.clone(),
        shared.genesis.clone(),
        shared.cache(),
    )
    .map_err(|source| NodeError::Chain { node: id, source })
}

/// Builds and starts a node on the current arbiter over a chain loaded by [`load_chain`].
pub fn spawn_node(shared: &Arc<NodeShared>, spec: NodeSpec, chain_state: ChainState) -> NodeHandle {
    let id = spec.id;
    let seed = shared.cfg.cluster.seed;
    let accounts = chain_state.state().accounts().clone();
    let chain_ctx = Context::<ChainActor>::new();
    let mempool_ctx = Context::<MempoolActor>::new();
    let miner_ctx = Context::<MinerActor>::new();
    let peer_ctx = Context::<PeerActor>::new();
    let handle = NodeHandle {
        id,
        chain: chain_ctx.address(),
        mempool: mempool_ctx.address(),
        miner: miner_ctx.address(),
        peer: peer_ctx.address(),
    };
    shared.recorder.record(
        id,
        Event::NodeStarted {
            height: chain_state.height(),
        },
    );
    let gossip = Gossip::new(shared.cfg.gossip_policy(), spec.neighbors);
    let rule = chain_state.next_rule(&chain_state.tip());
    let engine = chain_state.engine().clone();
    let effort = match shared.cfg.pow.engine {
        chainlab::config::PowEngine::Simulated => chainlab::consensus::Effort::Modelled,
        chainlab::config::PowEngine::Hashing => chainlab::consensus::Effort::Real,
    };
    let ledger = chainlab::net::ledger::LedgerPolicy {
        flood_limit: shared.cfg.tcp.flood_limit,
        serve_bytes_per_sec: (shared.cfg.network.transport
            != chainlab::config::TransportKind::Memory)
            .then_some(shared.cfg.tcp.max_bytes_per_sec),
    };
    peer_ctx.run(PeerActor::new(
        id,
        gossip,
        ledger,
        shared.clone(),
        stream(seed, "peer", id as u64),
        &handle,
    ));
    mempool_ctx.run(MempoolActor::new(
        id,
        Mempool::new(shared.cfg.mempool_policy(), accounts),
        shared.clone(),
        &handle,
    ));
    miner_ctx.run(MinerActor::new(
        miner::MinerSetup {
            id,
            share: spec.hash_share,
            enabled: spec.mining,
            rule,
            engine,
            effort,
            rng: stream(seed, "miner", id as u64),
        },
        shared.clone(),
        &handle,
    ));
    chain_ctx.run(ChainActor::new(
        id,
        chain_state,
        spec.store,
        shared.clone(),
        stream(seed, "chain", id as u64),
        &handle,
    ));
    handle
}
