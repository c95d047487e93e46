//! A node: five actors (chain, executor, mempool, miner, peer) built by one factory, so a node
//! can be stopped and started again from its store. Each actor gets its surroundings ([`NodeEnv`]) and
//! its own policy, never the raw configuration.

pub mod chain;
pub mod env;
pub mod equivocate;
pub mod executor;
pub mod life;
pub mod mempool;
pub mod messages;
pub mod miner;
pub mod peer;
pub mod pos_watch;
pub mod validator;

use actix::prelude::*;
use chainlab::chain::store::BlockStore;
use chainlab::config::{AdversaryKind, Config, ConsensusKind, PowEngine, TransportKind};
use chainlab::consensus::Effort;
use chainlab::mempool::Mempool;
use chainlab::net::gossip::Gossip;
use chainlab::net::ledger::LedgerPolicy;
use chainlab::report::Event;
use chainlab::sim::model::stream;
use chainlab::{ChainState, NodeId};

pub use chain::{ChainActor, ChainLinks, ChainPolicy, ExecutorLinks};
pub use env::{ChainKit, DurableLog, NodeEnv, NodeError, NodeFactory, Persistence};
pub use executor::ExecutorActor;
pub use life::{FailureSink, NodeFailure, NodeLife};
pub use mempool::{MempoolActor, MempoolLinks};
use messages::SetClockSkew;
pub use messages::Shutdown;
pub use miner::{MinerActor, MinerLinks};
pub use peer::SpamRole;
pub use peer::{DoubleSpendRole, PeerActor, PeerLinks, PeerPolicy, SelfishRole};
pub use peer::{EclipseRole, PrivateBranchLinks};

/// How to build one node.
pub struct NodeSpec {
    /// Index.
    pub id: NodeId,
    /// Neighbours.
    pub neighbors: Vec<NodeId>,
    /// Its power as a producer: its share of the hash power (proof of work) or of the stake
    /// (proof of stake), [`producer_shares`].
    pub hash_share: f64,
    /// Its store.
    pub store: Box<dyn BlockStore>,
    /// Whether the miner starts enabled.
    pub mining: bool,
    /// The node front-runs these calls (`[frontrun]`).
    pub frontrun: Option<chainlab::contract::frontrun::Frontrunner>,
}

/// Each node's power as a block producer: its share of the hash power (`pow.hashpower`) under
/// proof of work, its share of the genesis stake (`pos.stake`; 0 for a node that is no
/// validator) under proof of stake.
pub fn producer_shares(cfg: &Config) -> Vec<f64> {
    let n = cfg.cluster.nodes;
    match cfg.consensus.kind {
        ConsensusKind::Pow => cfg.pow_shares(),
        ConsensusKind::Pos => {
            let mut out = vec![0.0; n];
            let ids = cfg.pos.validator_ids(n);
            for (id, share) in ids.into_iter().zip(cfg.pos.shares(n)) {
                if let Some(s) = out.get_mut(id) {
                    *s = share;
                }
            }
            out
        }
    }
}

/// Addresses of a running node's actors, for the harness (the actors themselves hold only the
/// `Recipient`s they send to: their links).
#[derive(Clone)]
pub struct NodeHandle {
    /// Index.
    pub id: NodeId,
    /// Chain actor.
    pub chain: Addr<ChainActor>,
    /// Executor actor (the node's state).
    pub executor: Addr<ExecutorActor>,
    /// Mempool actor.
    pub mempool: Addr<MempoolActor>,
    /// Miner actor.
    pub miner: Addr<MinerActor>,
    /// Peer actor.
    pub peer: Addr<PeerActor>,
    /// The switch that ends all five at once.
    pub life: NodeLife,
    /// The thread its actors run on (its arbiter's).
    pub thread: std::thread::ThreadId,
}

impl NodeHandle {
    /// Stops all five actors after the messages already queued, flushing the store (their
    /// memory is gone; the store stays; the executor stops with the chain actor).
    pub fn stop(&self) {
        self.send_shutdown(Shutdown { graceful: true });
    }

    /// Ends all five actors now, without a flush: a simulated crash. Nothing of the node runs
    /// after this call, whatever its mailboxes hold ([`NodeLife::kill`]).
    pub fn crash(&self) {
        self.life.kill();
    }

    /// Shifts the node's clock by `ms` (a fault): the chain checks timestamps by it, the
    /// miner stamps and plans by it.
    pub fn set_clock_skew(&self, ms: i64) {
        self.chain.do_send(SetClockSkew(ms));
        self.miner.do_send(SetClockSkew(ms));
    }

    fn peer_links(&self) -> PeerLinks {
        PeerLinks {
            import: self.chain.clone().recipient(),
            blocks: self.chain.clone().recipient(),
            blocks_after: self.chain.clone().recipient(),
            submit: self.mempool.clone().recipient(),
            submit_txs: self.mempool.clone().recipient(),
            txs: self.mempool.clone().recipient(),
            submit_item: self.mempool.clone().recipient(),
        }
    }

    fn mempool_links(&self) -> MempoolLinks {
        MempoolLinks {
            accepted: self.peer.clone().recipient(),
            rebroadcast: self.peer.clone().recipient(),
            items: self.peer.clone().recipient(),
        }
    }

    fn miner_links(&self) -> MinerLinks {
        MinerLinks {
            template: self.mempool.clone().recipient(),
            build: self.chain.clone().recipient(),
            import: self.chain.clone().recipient(),
            items: Some(self.mempool.clone().recipient()),
            submit: Some(self.mempool.clone().recipient()),
            twin: Some(self.peer.clone().recipient()),
        }
    }

    /// The chain actor's links; `pos`: the chain runs proof of stake (stored headers go to
    /// the vote pool).
    fn chain_links(&self, pos: bool) -> ChainLinks {
        ChainLinks {
            accepted: self.peer.clone().recipient(),
            tip: vec![
                self.miner.clone().recipient(),
                self.mempool.clone().recipient(),
                self.peer.clone().recipient(),
            ],
            sync: self.peer.clone().recipient(),
            continue_sync: self.peer.clone().recipient(),
            announce: self.peer.clone().recipient(),
            unprocessed: self.peer.clone().recipient(),
            note_header: pos.then(|| self.mempool.clone().recipient()),
            executor: ExecutorLinks {
                switch: self.executor.clone().recipient(),
                build: self.executor.clone().recipient(),
                check: self.executor.clone().recipient(),
                prune: self.executor.clone().recipient(),
                stop: self.executor.clone().recipient(),
            },
        }
    }

    fn send_shutdown(&self, s: Shutdown) {
        self.peer.do_send(s);
        self.miner.do_send(s);
        self.mempool.do_send(s);
        self.chain.do_send(s);
    }
}

/// What an honest node's mempool traces as spam (`spam_admitted`, `spam_refused`): the
/// senders of the config's spam adversaries (none at an adversary's node, or without one).
fn spam_watch(cfg: &Config, id: NodeId) -> Option<std::sync::Arc<Vec<chainlab::Address>>> {
    if cfg.adversary_of(id).is_some() {
        return None;
    }
    let senders = cfg.spam_senders();
    (!senders.is_empty()).then(|| std::sync::Arc::new(senders))
}

/// Builds and starts a node on the current arbiter (the harness calls it on the node's arbiter) over a chain loaded by [`ChainKit::load`].
pub fn spawn_node(factory: &NodeFactory, spec: NodeSpec, chain_state: ChainState) -> NodeHandle {
    let id = spec.id;
    let cfg = &factory.cfg;
    let seed = cfg.cluster.seed;
    let env = factory.env(id);
    let mut chain_state = chain_state;
    if cfg.adversary_of(id).is_some() {
        chain_state.exempt_from_favor();
    }
    // The state's persistent map, shared (not copied) by the pool's mirror.
    let accounts = chain_state.state().accounts().clone();
    // A double-spend attacker pays from its node key: its next nonce on the loaded tip.
    let own_nonce = accounts
        .get(&Config::node_key(id).address())
        .map_or(0, |a| a.nonce);
    let mut exec = chain_state
        .take_executor()
        .expect("a loaded chain holds its executor");
    exec.share(factory.chain.exec_cache.clone());
    chain_state.share(factory.chain.exec_cache.clone());
    let chain_ctx = Context::<ChainActor>::new();
    let executor_ctx = Context::<ExecutorActor>::new();
    let mempool_ctx = Context::<MempoolActor>::new();
    let miner_ctx = Context::<MinerActor>::new();
    let peer_ctx = Context::<PeerActor>::new();
    let handle = NodeHandle {
        id,
        chain: chain_ctx.address(),
        executor: executor_ctx.address(),
        mempool: mempool_ctx.address(),
        miner: miner_ctx.address(),
        peer: peer_ctx.address(),
        life: env.life.clone(),
        thread: std::thread::current().id(),
    };
    // Each actor is a task the node's life can abort (what `Context::run` does, keeping the
    // task's handle).
    let life = env.life.clone();
    env.record(Event::NodeStarted {
        height: chain_state.height(),
    });
    env.record(Event::TipChanged {
        hash: chain_state.tip(),
        height: chain_state.height(),
    });
    let untrusted_peers = cfg.network.transport != TransportKind::Memory;
    // Tables keyed by ids a peer chose are keyed per node (hash flooding).
    let key = factory.chain.hash_key(id);
    let gossip = Gossip::new(cfg.gossip_policy(), spec.neighbors, key);
    let peer_policy = PeerPolicy {
        ledger: LedgerPolicy {
            flood_limit: cfg.tcp.flood_limit,
            serve_bytes_per_sec: untrusted_peers.then_some(cfg.tcp.max_bytes_per_sec),
        },
        tx_batch_interval: cfg.gossip.tx_batch_interval,
        mailbox_capacity: cfg.tcp.queue_frames,
    };
    let rng = |label| stream(seed, label, id as u64);
    let private_links = || PrivateBranchLinks {
        go_private: handle.chain.clone().recipient(),
        leave_private: handle.chain.clone().recipient(),
        private_tx: handle.mempool.clone().recipient(),
    };
    let chain_id = cfg.consensus.chain_id;
    let double_spend = (cfg.double_spend(id))
        .map(|plan| DoubleSpendRole::new(plan, chain_id, own_nonce, private_links()));
    let eclipse = (cfg.eclipse(id))
        .map(|plan| EclipseRole::new(id, plan, chain_id, own_nonce, private_links()));
    let peer = PeerActor::new(
        env.clone(),
        gossip,
        peer_policy,
        (chain_state.tip(), chain_state.height()),
        rng("peer"),
        handle.peer_links(),
    )
    .with_window(cfg.adversary_window(id))
    .with_selfish(match cfg.adversary_of(id) {
        Some((_, a)) if a.kind == AdversaryKind::Selfish => {
            Some(SelfishRole::new(Config::node_key(id).address()))
        }
        _ => None,
    })
    .with_double_spend(double_spend)
    .with_eclipse(eclipse)
    .with_spam(cfg.spam(id).map(|plan| {
        let best = chain_state
            .canonical()
            .iter()
            .filter_map(|h| chain_state.get(h).cloned());
        SpamRole::new(
            plan,
            factory.chain.params.clone(),
            best,
            cfg.cluster.duration,
        )
    }));
    life.adopt(actix::spawn(peer_ctx.into_future(peer)));
    let pool = Mempool::new(cfg.mempool_policy(), accounts, key);
    let rebroadcast = cfg.gossip.rebroadcast_interval;
    let mempool = MempoolActor::new(env.clone(), pool, rebroadcast, handle.mempool_links())
        .with_votes(factory.chain.params.engine.pos().cloned())
        .with_frontrunner(spec.frontrun)
        .with_spam_watch(spam_watch(cfg, id));
    life.adopt(actix::spawn(mempool_ctx.into_future(mempool)));
    let setup = miner::MinerSetup {
        share: spec.hash_share,
        enabled: spec.mining,
        rule: chain_state.next_rule(&chain_state.tip()),
        engine: chain_state.engine().clone(),
        pos: chain_state.params().engine.pos().cloned(),
        signed: chain_state
            .params()
            .engine
            .pos()
            .and_then(|p| p.validator_index(&Config::node_key(id).public))
            .map(|i| validator::SigningMemory::from_chain(&chain_state, i))
            .unwrap_or_default(),
        effort: match cfg.pow.engine {
            PowEngine::Simulated => Effort::Modelled,
            PowEngine::Hashing => Effort::Real,
        },
        max_block_txs: chain_state.params().max_block_txs,
        stamp: match cfg.adversary_of(id) {
            Some((_, a)) if a.kind == AdversaryKind::Timewarp => chainlab::chain::Stamp::Warp,
            _ => chainlab::chain::Stamp::Now,
        },
        window: cfg.adversary_window(id),
        height: chain_state.height(),
        rng: rng("miner"),
    };
    let miner = MinerActor::new(setup, env.clone(), handle.miner_links());
    life.adopt(actix::spawn(miner_ctx.into_future(miner)));
    let policy = ChainPolicy {
        untrusted_peers,
        persistence: factory.persistence.clone(),
    };
    let links = handle.chain_links(cfg.consensus.kind == ConsensusKind::Pos);
    life.adopt(actix::spawn(
        executor_ctx.into_future(ExecutorActor::new(id, exec)),
    ));
    let chain = ChainActor::new(env, chain_state, spec.store, policy, rng("chain"), links);
    life.adopt(actix::spawn(chain_ctx.into_future(chain)));
    handle
}
