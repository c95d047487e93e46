//! What a node's actors share with the rest of the process, split into what it is: the chain
//! every node shares ([`ChainKit`]: parameters, genesis, the verification and execution
//! caches), a node's
//! surroundings ([`NodeEnv`]: the clock and event sink, the transport), where its blocks go
//! ([`Persistence`]), and the [`NodeFactory`] that holds them to start and restart nodes.

use super::life::{FailureSink, NodeLife};
use crate::recorder::Recorder;
use crate::transport::Transport;
use chainlab::chain::shared::ExecCache;
use chainlab::chain::store::{BlockStore, StoreError};
use chainlab::chain::RebuildError;
use chainlab::config::Config;
use chainlab::hash::HashKey;
use chainlab::net::hygiene::Offence;
use chainlab::net::wire::WireMsg;
use chainlab::report::Event;
use chainlab::{Block, ChainParams, ChainState, NodeId, SigCache, State};
use std::io::Write as _;
use std::sync::Arc;

/// The chain every node of a process shares.
#[derive(Clone, Debug)]
pub struct ChainKit {
    /// Consensus parameters.
    pub params: Arc<ChainParams>,
    /// The genesis block and state, built once for every node.
    pub genesis: (Arc<Block>, Arc<State>),
    /// Process-wide verification cache (None when disabled).
    pub sig_cache: Option<Arc<SigCache>>,
    /// Process-wide block executions and replays (None when disabled, `node.exec_cache`).
    pub exec_cache: Option<Arc<ExecCache>>,
    /// The cluster seed, from which each node's hash-table key derives.
    pub seed: u64,
}

impl ChainKit {
    /// The key of node `id`'s tables of peer-chosen ids (blocks by hash, gossip sets, pool):
    /// derived from the seed, so runs stay reproducible (`docs/design.md`, "Hash flooding").
    pub fn hash_key(&self, id: NodeId) -> HashKey {
        HashKey::derive(self.seed, "id-tables", id as u64)
    }

    /// The chain `cfg` describes, with the cache `node.sig_cache` asks for.
    pub fn new(cfg: &Config) -> ChainKit {
        let params = Arc::new(cfg.chain_params());
        ChainKit {
            genesis: (
                Arc::new(params.genesis_block()),
                Arc::new(params.genesis_state()),
            ),
            params,
            sig_cache: cfg.node.sig_cache.then(|| {
                Arc::new(SigCache::with_key(
                    cfg.node.sig_cache_size,
                    HashKey::derive(cfg.cluster.seed, "sig-cache", 0),
                ))
            }),
            exec_cache: cfg.node.exec_cache.then(|| {
                Arc::new(ExecCache::new(
                    cfg.node.exec_cache_size,
                    HashKey::derive(cfg.cluster.seed, "exec-cache", 0),
                ))
            }),
            seed: cfg.cluster.seed,
        }
    }

    /// Rebuilds node `id`'s chain from its store ([`ChainState::rebuild`]) and records this
    /// chain's genesis in the store (so that another chain's config cannot use it).
    ///
    /// # Errors
    /// [`NodeError`] naming the node, and the path or block.
    pub fn load(&self, id: NodeId, store: &mut dyn BlockStore) -> Result<ChainState, NodeError> {
        let cache = self.sig_cache.as_deref();
        let key = self.hash_key(id);
        let chain =
            ChainState::rebuild(store, self.params.clone(), self.genesis.clone(), cache, key)
                .map_err(|source| NodeError::Chain { node: id, source })?;
        chainlab::chain::mark_genesis(store, &chain.genesis())
            .map_err(|source| NodeError::Store { node: id, source })?;
        Ok(chain)
    }
}

/// A node's surroundings: its id, the clock and event sink, the transport, the cache.
#[derive(Clone, Debug)]
pub struct NodeEnv {
    /// The node.
    pub id: NodeId,
    /// Event sink and clock.
    pub recorder: Recorder,
    /// How peers reach each other.
    pub transport: Arc<dyn Transport>,
    /// Process-wide verification cache (None when disabled).
    pub sig_cache: Option<Arc<SigCache>>,
    /// The node's life: once it is dead, nothing more leaves it.
    pub life: NodeLife,
}

impl NodeEnv {
    /// Cluster-clock milliseconds.
    pub fn now_ms(&self) -> u64 {
        self.recorder.clock().now_ms()
    }
    /// The cache, if enabled.
    pub fn cache(&self) -> Option<&SigCache> {
        self.sig_cache.as_deref()
    }
    /// Whether the node still runs (see [`NodeLife`]).
    pub fn alive(&self) -> bool {
        self.life.is_alive()
    }
    /// Records an event at this node, now (nothing once the node is dead).
    pub fn record(&self, event: Event) {
        if self.alive() {
            self.recorder.record(self.id, event);
        }
    }
    /// Sends a protocol message to a peer (nothing once the node is dead).
    pub fn send(&self, to: NodeId, msg: WireMsg) {
        if self.alive() {
            self.transport.send(self.id, to, msg);
        }
    }
    /// Reports a misbehaving peer to the transport (nothing once the node is dead).
    pub fn penalize(&self, peer: NodeId, offence: Offence) {
        if self.alive() {
            self.transport.penalize(self.id, peer, offence);
        }
    }
}

/// Where accepted blocks go before anyone hears of them.
#[derive(Clone, Debug, Default)]
pub struct Persistence {
    /// Flush the store after each import, before announcing (off for a temporary store,
    /// which is deleted at exit anyway).
    pub flush_each_block: bool,
    /// Where to report blocks once they are durable (crash tests).
    pub durable_log: Option<DurableLog>,
}

/// What starting a node takes besides its own spec: held by the harness for restarts (a
/// clone goes to the arbiter a node starts on).
#[derive(Clone, Debug)]
pub struct NodeFactory {
    /// The configuration (each actor gets its policy from it).
    pub cfg: Arc<Config>,
    /// The shared chain.
    pub chain: ChainKit,
    /// Event sink and clock.
    pub recorder: Recorder,
    /// How peers reach each other.
    pub transport: Arc<dyn Transport>,
    /// Flushing and the durable log.
    pub persistence: Persistence,
    /// Where a node reports that it stopped itself (its store failed).
    pub failures: Option<FailureSink>,
}

impl NodeFactory {
    /// Node `id`'s surroundings, with a new life.
    pub fn env(&self, id: NodeId) -> NodeEnv {
        NodeEnv {
            id,
            recorder: self.recorder.clone(),
            transport: self.transport.clone(),
            sig_cache: self.chain.sig_cache.clone(),
            life: NodeLife::new(id, self.failures.clone()),
        }
    }
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
        Ok(DurableLog::to_writer(w))
    }

    /// A log writing to `w`.
    pub fn to_writer(w: Box<dyn std::io::Write + Send>) -> DurableLog {
        DurableLog {
            out: Arc::new(std::sync::Mutex::new(w)),
        }
    }

    /// Writes one line per block and flushes.
    ///
    /// # Errors
    /// The first write or flush error (the caller reports it: a reader of this log would
    /// otherwise believe flushed blocks were lost).
    pub(crate) fn record(
        &self,
        node: NodeId,
        blocks: &[(chainlab::Hash, Arc<chainlab::Block>)],
    ) -> std::io::Result<()> {
        let mut w = self.out.lock().unwrap_or_else(|p| p.into_inner());
        for (h, b) in blocks {
            writeln!(w, "durable {node} {} {h}", b.header.height)?;
        }
        w.flush()
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
    /// The arbiter the node was to run on has stopped.
    #[error("node {node}: its arbiter has stopped")]
    ArbiterGone {
        /// Node.
        node: NodeId,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose writes fail (a closed pipe, a full disk).
    struct Broken;
    impl std::io::Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "closed",
            ))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failed_durable_log_write_is_reported() {
        let params = chainlab::ChainParams::for_tests(Vec::new());
        let genesis = Arc::new(params.genesis_block());
        let block = (genesis.hash(), genesis);
        let err = DurableLog::to_writer(Box::new(Broken))
            .record(0, std::slice::from_ref(&block))
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
        DurableLog::to_writer(Box::new(std::io::sink()))
            .record(0, &[block])
            .expect("a working writer");
    }
}
