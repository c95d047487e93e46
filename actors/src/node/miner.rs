//! The miner actor. With the simulated engine it waits an exponential time drawn for its
//! hash share and the current difficulty (core `mining_delay_ms`), then builds a template and
//! finds a real nonce (cheap: the difficulty is the expected number of hashes). With the
//! hashing engine it grinds double SHA-256 on a blocking thread until it wins or the tip moves.

use super::chain::{BuildTemplate, ImportBlocks};
use super::mempool::GetTemplate;
use super::{NodeHandle, NodeShared, Shutdown};
use actix::prelude::*;
use chainlab::block::Block;
use chainlab::config::{Config, PowEngine};
use chainlab::consensus::pow::grind;
use chainlab::report::Event;
use chainlab::sim::model::mining_delay_ms;
use chainlab::Address;
use chainlab::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The best tip changed: restart the search on it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct NewTip {
    /// New height.
    pub height: u64,
    /// Difficulty of the next block.
    pub next_difficulty: u64,
}

/// Turn mining on or off.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMining(pub bool);

/// Change this miner's share of the hash power.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetHashShare(pub f64);

/// Construction parameters.
pub struct MinerSetup {
    /// Node.
    pub id: NodeId,
    /// Hash share.
    pub share: f64,
    /// Mining at start.
    pub enabled: bool,
    /// Difficulty of the next block at start.
    pub next_difficulty: u64,
    /// Seeded stream for delays and start nonces.
    pub rng: ChaCha8Rng,
}

/// See the module doc.
pub struct MinerActor {
    id: NodeId,
    address: Address,
    share: f64,
    enabled: bool,
    next_difficulty: u64,
    rng: ChaCha8Rng,
    generation: u64,
    timer: Option<SpawnHandle>,
    cancel: Arc<AtomicBool>,
    shared: Arc<NodeShared>,
    node: NodeHandle,
    span: tracing::Span,
}

impl MinerActor {
    /// A miner.
    pub fn new(s: MinerSetup, shared: Arc<NodeShared>, node: &NodeHandle) -> MinerActor {
        MinerActor {
            id: s.id,
            address: Config::node_key(s.id).address(),
            share: s.share,
            enabled: s.enabled,
            next_difficulty: s.next_difficulty,
            rng: s.rng,
            generation: 0,
            timer: None,
            cancel: Arc::new(AtomicBool::new(false)),
            shared,
            node: node.clone(),
            span: tracing::info_span!("node", id = s.id),
        }
    }

    fn engine(&self) -> PowEngine {
        self.shared.cfg.pow.engine
    }

    /// Drops the current attempt and starts a new one on the current tip.
    fn restart(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        self.cancel.store(true, Ordering::Relaxed);
        if !self.enabled || self.share <= 0.0 {
            return;
        }
        match self.engine() {
            PowEngine::Simulated => {
                let p = &self.shared.params;
                let Some(ms) = mining_delay_ms(
                    self.share,
                    p.initial_difficulty,
                    self.next_difficulty,
                    p.block_interval_ms,
                    &mut self.rng,
                ) else {
                    return;
                };
                let delay = Duration::from_micros((ms * 1000.0) as u64);
                tracing::trace!(
                    node = self.id,
                    delay_ms = ms,
                    difficulty = self.next_difficulty,
                    "next attempt"
                );
                self.timer = Some(ctx.run_later(delay, |act, ctx| act.build(ctx)));
            }
            PowEngine::Hashing => self.build(ctx),
        }
    }

    /// Fetches a template and seals it.
    fn build(&mut self, ctx: &mut Context<Self>) {
        let gen = self.generation;
        let mempool = self.node.mempool.clone();
        let chain = self.node.chain.clone();
        let miner = self.address;
        let max = self.shared.params.max_block_txs;
        let fut = async move {
            let txs = mempool.send(GetTemplate { max }).await.ok()?;
            chain.send(BuildTemplate { txs, miner }).await.ok()
        };
        tracing::trace!(node = self.id, gen, "building a template");
        ctx.spawn(fut.into_actor(self).map(move |block, act, ctx| {
            if act.generation != gen || !act.enabled {
                tracing::trace!(
                    node = act.id,
                    gen,
                    now = act.generation,
                    "template outdated"
                );
                return;
            }
            let Some(block) = block else { return };
            match act.engine() {
                PowEngine::Simulated => act.seal_simulated(block, ctx),
                PowEngine::Hashing => act.seal_hashing(block, ctx),
            }
        }));
    }

    fn seal_simulated(&mut self, mut block: Block, ctx: &mut Context<Self>) {
        let start = self.rng.gen();
        if grind(&mut block.header, start, u64::MAX).is_some() {
            self.publish(block);
        }
        self.restart(ctx);
    }

    fn seal_hashing(&mut self, block: Block, ctx: &mut Context<Self>) {
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = cancel.clone();
        let gen = self.generation;
        let start: u64 = self.rng.gen();
        let work = async move {
            tokio::task::spawn_blocking(move || {
                let mut block = block;
                let mut nonce = start;
                while !cancel.load(Ordering::Relaxed) {
                    if grind(&mut block.header, nonce, 1 << 16).is_some() {
                        return Some(block);
                    }
                    nonce = nonce.wrapping_add(1 << 16);
                }
                None
            })
            .await
            .ok()
            .flatten()
        };
        ctx.spawn(work.into_actor(self).map(move |found, act, ctx| {
            if act.generation != gen {
                return;
            }
            if let Some(block) = found {
                act.publish(block);
            }
            act.restart(ctx);
        }));
    }

    fn publish(&mut self, block: Block) {
        let _e = self.span.clone().entered();
        let h = &block.header;
        tracing::debug!(height = h.height, txs = block.txs.len(), "mined a block");
        self.shared.recorder.record(
            self.id,
            Event::BlockMined {
                hash: h.hash(),
                height: h.height,
                parent: h.parent,
                miner: self.id,
                txs: block.txs.len(),
                difficulty: h.difficulty(),
            },
        );
        self.node.chain.do_send(ImportBlocks {
            blocks: vec![Arc::new(block)],
            from: None,
            sync_more: false,
        });
    }
}

impl Actor for MinerActor {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        self.restart(ctx);
    }
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Handler<NewTip> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: NewTip, ctx: &mut Context<Self>) {
        tracing::trace!(node = self.id, height = m.height, "new tip");
        self.next_difficulty = m.next_difficulty;
        self.restart(ctx);
    }
}

impl Handler<SetMining> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: SetMining, ctx: &mut Context<Self>) {
        self.enabled = m.0;
        self.restart(ctx);
    }
}

impl Handler<SetHashShare> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: SetHashShare, ctx: &mut Context<Self>) {
        self.share = m.0.max(0.0);
        self.restart(ctx);
    }
}

impl Handler<Shutdown> for MinerActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.cancel.store(true, Ordering::Relaxed);
        ctx.stop();
    }
}
