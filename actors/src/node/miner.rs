//! The miner actor: drives whatever consensus engine the chain uses ([`Consensus`]).
//!
//! On every tip it asks the engine for a [`Plan`] under the tip's [`SealRule`]: wait a
//! modelled time, then build a template and seal it at once (proof of work on the virtual clock:
//! an exponential time for its hash share and the difficulty, then a real but cheap nonce), or
//! build now and search for the seal with real work on a blocking thread until it wins or the
//! tip moves (`pow.engine = "hashing"`).
//!
//! Under proof of stake the miner is the node's validator: the engine plans its next led slot
//! (or a [`Plan::Wait`] to look again later), each template carries the vote pool's items, a
//! sealed block is traced as `slot_led` beside `block_mined`, and at every epoch's vote time
//! (by the node's own clock) it casts a checkpoint vote on its tip's branch, traced as `vote`
//! and handed to the vote pool ([`super::validator`]).

use super::messages::*;
use super::validator::{SigningMemory, VoteSchedule};
use super::NodeEnv;
use actix::prelude::*;
use chainlab::block::{Block, Item, Seal};
use chainlab::chain::Stamp;
use chainlab::config::Config;
use chainlab::config::Window;
use chainlab::consensus::pos::Pos;
use chainlab::consensus::{Consensus, Effort, Plan, Producer, SealRule};
use chainlab::report::{BlockMinedEvent, Event, SlotLedEvent, VoteEvent};
use chainlab::Address;
use chainlab::NodeId;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Construction parameters.
pub struct MinerSetup {
    /// Hash share (or stake: the engine's power).
    pub share: f64,
    /// Mining at start.
    pub enabled: bool,
    /// What the next block must carry, at start.
    pub rule: SealRule,
    /// The consensus engine.
    pub engine: Arc<dyn Consensus>,
    /// The proof-of-stake engine when the chain runs one (the miner then also votes).
    pub pos: Option<Pos>,
    /// Proof of stake: what this validator signed before (taken from its stored chain).
    pub signed: SigningMemory,
    /// Modelled delays or real work.
    pub effort: Effort,
    /// Most transactions a template asks the mempool for.
    pub max_block_txs: usize,
    /// Seeded stream for delays and start nonces.
    pub rng: ChaCha8Rng,
    /// How its templates are stamped (a timewarp attacker's warp).
    pub stamp: Stamp,
    /// When its adversary's strategy runs (`from` / `until`): outside it templates are
    /// stamped [`Stamp::Now`] whatever `stamp` says.
    pub window: Window,
    /// The chain's tip height at start.
    pub height: u64,
}

/// Where the miner actor sends: the mempool for transactions, the chain for templates and
/// for the blocks it seals.
#[derive(Clone)]
pub struct MinerLinks {
    /// Transactions for a template.
    pub template: Recipient<GetTemplate>,
    /// Build a template on the tip.
    pub build: Recipient<BuildTemplate>,
    /// A sealed block.
    pub import: Recipient<ImportBlocks>,
    /// Proof of stake: the vote pool's items for a template (None: no items).
    pub items: Option<Recipient<GetItems>>,
    /// Proof of stake: this validator's votes, to the vote pool (None: votes are not cast).
    pub submit: Option<Recipient<SubmitItem>>,
    /// The peer, for an equivocating validator's twins (the `equivocate` fault).
    pub twin: Option<Recipient<PushTwin>>,
}

/// Most consensus items a template asks the vote pool for.
pub const MAX_TEMPLATE_ITEMS: usize = 1_024;

/// See the module doc.
pub struct MinerActor {
    id: NodeId,
    address: Address,
    share: f64,
    enabled: bool,
    rule: SealRule,
    engine: Arc<dyn Consensus>,
    /// Proof of stake: the engine, this node's validator index, its vote schedule and memory.
    pos: Option<PosRole>,
    effort: Effort,
    key: chainlab::KeyPair,
    max_block_txs: usize,
    /// How its templates are stamped (within `window`; `Stamp::Now` outside it).
    stamp: Stamp,
    window: Window,
    /// The tip's height (the window's height moments are checked against it).
    height: u64,
    /// This node's clock skew (a fault), ms: slot engines plan by the node's own clock.
    skew_ms: i64,
    /// The `equivocate` fault is on: each sealed block gets a twin ([`super::equivocate`]).
    equivocate: bool,
    rng: ChaCha8Rng,
    generation: u64,
    timer: Option<SpawnHandle>,
    cancel: Arc<AtomicBool>,
    env: NodeEnv,
    links: MinerLinks,
    span: tracing::Span,
}

/// A validator's state in the miner.
struct PosRole {
    pos: Pos,
    schedule: VoteSchedule,
    memory: SigningMemory,
    timer: Option<SpawnHandle>,
}

impl MinerActor {
    /// A miner.
    pub fn new(s: MinerSetup, env: NodeEnv, links: MinerLinks) -> MinerActor {
        let id = env.id;
        let key = Config::node_key(id);
        // Only a validator votes (a node outside `pos.validators` has no vote to cast).
        let pos = s
            .pos
            .filter(|p| p.validator_index(&key.public).is_some())
            .map(|pos| PosRole {
                schedule: VoteSchedule::of(&pos),
                pos,
                memory: s.signed,
                timer: None,
            });
        MinerActor {
            pos,
            id,
            address: key.address(),
            key,
            share: s.share,
            enabled: s.enabled,
            rule: s.rule,
            engine: s.engine,
            effort: s.effort,
            rng: s.rng,
            generation: 0,
            timer: None,
            cancel: Arc::new(AtomicBool::new(false)),
            max_block_txs: s.max_block_txs,
            stamp: s.stamp,
            window: s.window,
            height: s.height,
            skew_ms: 0,
            equivocate: false,
            env,
            links,
            span: tracing::info_span!("node", id),
        }
    }

    /// This node's clock: cluster time plus its skew (slot engines plan and vote by it).
    fn local_now_ms(&self) -> u64 {
        self.env.now_ms().saturating_add_signed(self.skew_ms)
    }

    /// Proof of stake: (re)schedules the next checkpoint vote by the node's clock.
    fn schedule_vote(&mut self, ctx: &mut Context<Self>) {
        let now = self.local_now_ms();
        let Some(role) = &mut self.pos else { return };
        if let Some(t) = role.timer.take() {
            ctx.cancel_future(t);
        }
        let (epoch, delay) = role.schedule.next(now, role.memory.votes.target_epoch());
        let delay = Duration::from_millis(delay);
        role.timer = Some(ctx.run_later(delay, move |act, ctx| {
            act.vote(epoch);
            act.schedule_vote(ctx);
        }));
    }

    /// Proof of stake: casts this validator's vote for `epoch`'s checkpoint on its tip's
    /// branch (not while mining is off: a paused node, or after the run's load ended).
    fn vote(&mut self, epoch: u64) {
        let _e = self.span.clone().entered();
        let (Some(role), SealRule::Pos(rule)) = (&mut self.pos, &self.rule) else {
            return;
        };
        if !self.enabled {
            return;
        }
        let Some(v) = role.pos.vote(rule, epoch, &self.key) else {
            return;
        };
        if !role.memory.votes.admit(&v) {
            tracing::debug!(
                epoch,
                source = v.source.epoch,
                "vote skipped: it would conflict with this validator's earlier vote"
            );
            return;
        }
        self.env.record(Event::Vote(Box::new(VoteEvent {
            validator: v.validator,
            source_epoch: v.source.epoch,
            target_epoch: v.target.epoch,
            target: v.target.hash,
        })));
        if let Some(pool) = &self.links.submit {
            pool.do_send(SubmitItem {
                item: Item::Vote(v).into(),
                from: None,
            });
        }
        if let Some(twin) = self.links.twin.as_ref().filter(|_| self.equivocate) {
            twin.do_send(super::equivocate::twin_vote_push(&role.pos, &v, &self.key));
        }
    }

    /// Drops the current attempt: its timer, its template, its search.
    fn drop_attempt(&mut self, ctx: &mut Context<Self>) {
        self.generation += 1;
        if let Some(t) = self.timer.take() {
            ctx.cancel_future(t);
        }
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Drops the current attempt and starts a new one on the current tip.
    fn restart(&mut self, ctx: &mut Context<Self>) {
        self.drop_attempt(ctx);
        if !self.enabled {
            return;
        }
        let producer = Producer {
            power: self.share,
            effort: self.effort,
            now_ms: self.local_now_ms(),
            key: &self.key,
        };
        let plan = self.engine.plan(&self.rule, &producer, &mut self.rng);
        tracing::trace!(node = self.id, ?plan, rule = ?self.rule, "next attempt");
        match plan {
            Plan::Idle => {}
            Plan::After { delay_ms } => {
                let delay = Duration::from_micros((delay_ms * 1000.0) as u64);
                self.timer = Some(ctx.run_later(delay, |act, ctx| act.build(ctx)));
            }
            Plan::Search => self.build(ctx),
            Plan::Wait { delay_ms } => {
                let delay = Duration::from_micros((delay_ms * 1000.0) as u64);
                self.timer = Some(ctx.run_later(delay, |act, ctx| act.restart(ctx)));
            }
        }
    }

    /// Fetches a template and seals it.
    fn build(&mut self, ctx: &mut Context<Self>) {
        let gen = self.generation;
        let mempool = self.links.template.clone();
        let chain = self.links.build.clone();
        let miner = self.address;
        // A timewarp attacker outside its window stamps as an honest miner does.
        let elapsed = self.env.recorder.clock().elapsed_ms();
        let stamp = if self.window.active(elapsed, self.height) {
            self.stamp
        } else {
            Stamp::Now
        };
        let max = self.max_block_txs;
        let pool = match (&self.links.items, &self.rule) {
            (Some(p), SealRule::Pos(_)) => Some((p.clone(), self.rule.clone())),
            _ => None,
        };
        let fut = async move {
            let txs = mempool.send(GetTemplate { max }).await.ok()?;
            let items = match pool {
                Some((p, rule)) => {
                    let ask = GetItems {
                        rule,
                        max: MAX_TEMPLATE_ITEMS,
                    };
                    p.send(ask).await.unwrap_or_default()
                }
                None => Vec::new(),
            };
            let build = BuildTemplate {
                txs,
                items,
                miner,
                stamp,
            };
            match chain.send(build).await.ok()? {
                Ok(block) => Some(block),
                Err(e) => {
                    // No valid block can pay this miner; it waits for the next tip.
                    tracing::warn!(error = %e, "cannot build a template");
                    None
                }
            }
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
            match act.effort {
                Effort::Modelled => act.seal_at_once(block, ctx),
                Effort::Real => act.search(block, ctx),
            }
        }));
    }

    fn seal_at_once(&mut self, mut block: Block, ctx: &mut Context<Self>) {
        let start = self.rng.gen();
        if self
            .engine
            .seal(&self.rule, &mut block.header, &self.key, start, u64::MAX)
            && self.may_sign(&block.header)
        {
            self.twin(&block, ctx);
            self.publish(block);
        } else if let Some(role) = &self.pos {
            // No right to this slot after all (the template fell into a later slot, or the
            // tip moved meanwhile): look again from the next slot, not at this same instant.
            let slot_ms = role.pos.slot_ms.max(1);
            let delay = Duration::from_millis(slot_ms - self.local_now_ms() % slot_ms);
            self.drop_attempt(ctx);
            self.timer = Some(ctx.run_later(delay, |act, ctx| act.restart(ctx)));
            return;
        }
        self.restart(ctx);
    }

    /// Proof of stake: whether this validator may publish the block it sealed (never a second
    /// block for a slot, nor one for an earlier slot than one it signed: [`SigningMemory`]).
    fn may_sign(&mut self, header: &chainlab::block::BlockHeader) -> bool {
        let (Some(role), Some(slot)) = (&mut self.pos, header.slot()) else {
            return true;
        };
        let ok = role.memory.admit_slot(slot);
        if !ok {
            tracing::debug!(
                node = self.id,
                slot,
                "not signing a block for a slot at or before one it signed"
            );
        }
        ok
    }

    /// The `equivocate` fault: a twin of `block` for the same slot, pushed to half the peers
    /// (its template is asked for now, before `block` reaches the chain).
    fn twin(&mut self, block: &Block, ctx: &mut Context<Self>) {
        let Some(push) = self.links.twin.clone().filter(|_| self.equivocate) else {
            return;
        };
        let (engine, rule, key) = (self.engine.clone(), self.rule.clone(), self.key.clone());
        let header = block.header.clone();
        let fut = super::equivocate::twin_block(
            &self.links.build,
            push,
            engine,
            rule,
            key,
            self.address,
            header,
        );
        ctx.spawn(fut.into_actor(self).map(|_, _, _| ()));
    }

    fn search(&mut self, block: Block, ctx: &mut Context<Self>) {
        let cancel = Arc::new(AtomicBool::new(false));
        self.cancel = cancel.clone();
        let gen = self.generation;
        let start: u64 = self.rng.gen();
        let (engine, key, rule) = (self.engine.clone(), self.key.clone(), self.rule.clone());
        let work = async move {
            tokio::task::spawn_blocking(move || {
                let mut block = block;
                let mut nonce = start;
                while !cancel.load(Ordering::Relaxed) {
                    if engine.seal(&rule, &mut block.header, &key, nonce, 1 << 16) {
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
        let hash = h.hash();
        tracing::debug!(height = h.height, txs = block.txs.len(), "mined a block");
        self.env.record(Event::BlockMined(Box::new(BlockMinedEvent {
            hash,
            height: h.height,
            parent: h.parent,
            miner: self.id,
            txs: block.txs.len(),
            difficulty: h.difficulty(),
        })));
        if let Seal::Pos { slot, proposer, .. } = h.seal {
            self.env.record(Event::SlotLed(Box::new(SlotLedEvent {
                slot,
                validator: proposer,
                hash,
            })));
        }
        self.links.import.do_send(ImportBlocks {
            blocks: vec![(hash, Arc::new(block))],
            from: None,
            sync_more: false,
            from_sync: false,
        });
    }
}

impl Actor for MinerActor {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        self.restart(ctx);
        self.schedule_vote(ctx);
    }
    fn stopped(&mut self, _: &mut Context<Self>) {
        self.cancel.store(true, Ordering::Relaxed);
    }
}

impl Handler<TipChanged> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: TipChanged, ctx: &mut Context<Self>) {
        tracing::trace!(node = self.id, height = m.0.new_height, "new tip");
        self.height = m.0.new_height;
        if let Some(rule) = &m.0.next_rule {
            self.rule = rule.clone();
        }
        self.restart(ctx);
    }
}

impl Handler<SetClockSkew> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: SetClockSkew, ctx: &mut Context<Self>) {
        self.skew_ms = m.0;
        // Slots and votes are due by the node's own clock: the next ones move with it.
        if self.pos.is_some() {
            self.schedule_vote(ctx);
            self.restart(ctx);
        }
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

impl Handler<SetEquivocate> for MinerActor {
    type Result = ();
    fn handle(&mut self, m: SetEquivocate, _: &mut Context<Self>) {
        self.equivocate = m.on;
    }
}

impl Handler<Shutdown> for MinerActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        self.cancel.store(true, Ordering::Relaxed);
        ctx.stop();
    }
}

#[cfg(test)]
mod tests {
    //! The miner drives the engine through its links alone: probes stand in for the mempool and
    //! the chain, and the block it hands over must pass the chain's checks.

    use super::*;
    use crate::clock::Clock;
    use crate::recorder::Recorder;
    use crate::transport::Transport;
    use chainlab::chain::validation::check_block;
    use chainlab::config::ClockMode;
    use chainlab::{ChainParams, ChainState};
    use tokio::sync::mpsc;

    #[derive(Debug)]
    struct Silent;
    impl Transport for Silent {
        fn send(&self, _: NodeId, _: NodeId, _: chainlab::net::wire::WireMsg) {}
        fn penalize(&self, _: NodeId, _: NodeId, _: chainlab::net::Offence) {}
    }

    /// Serves an empty template from its own chain and passes on what it is asked to import.
    struct Probe {
        chain: ChainState,
        clock: Clock,
        out: mpsc::UnboundedSender<Arc<Block>>,
    }
    impl Actor for Probe {
        type Context = Context<Self>;
    }
    impl Handler<GetTemplate> for Probe {
        type Result = MessageResult<GetTemplate>;
        fn handle(&mut self, _: GetTemplate, _: &mut Context<Self>) -> Self::Result {
            MessageResult(Vec::new())
        }
    }
    impl Handler<BuildTemplate> for Probe {
        type Result = MessageResult<BuildTemplate>;
        fn handle(&mut self, m: BuildTemplate, _: &mut Context<Self>) -> Self::Result {
            let now = self.clock.now_ms();
            MessageResult(
                self.chain
                    .build_block(&[], m.items, m.miner, now)
                    .map_err(Into::into),
            )
        }
    }
    impl Handler<ImportBlocks> for Probe {
        type Result = ();
        fn handle(&mut self, m: ImportBlocks, _: &mut Context<Self>) {
            for (h, b) in m.blocks {
                assert_eq!(h, b.hash(), "the miner sends its block's own hash");
                let _ = self.out.send(b);
            }
        }
    }

    #[test]
    fn the_miner_seals_a_valid_block_through_its_links_alone() {
        let params = Arc::new(ChainParams::for_tests(Vec::new()));
        let sealed = crate::runtime::block_on(ClockMode::Virtual, async move {
            let chain = ChainState::new(params.clone());
            let clock = Clock::start(0);
            let (out, mut blocks) = mpsc::unbounded_channel();
            let setup = MinerSetup {
                share: 1.0,
                enabled: true,
                rule: chain.next_rule(&chain.tip()),
                engine: chain.engine().clone(),
                pos: None,
                signed: SigningMemory::default(),
                effort: Effort::Modelled,
                max_block_txs: 10,
                rng: chainlab::sim::model::stream(3, "miner", 0),
                stamp: Stamp::Now,
                window: chainlab::config::Window::ALWAYS,
                height: 0,
            };
            let probe = Probe { chain, clock, out }.start();
            let links = MinerLinks {
                template: probe.clone().recipient(),
                build: probe.clone().recipient(),
                import: probe.recipient(),
                items: None,
                submit: None,
                twin: None,
            };
            let env = NodeEnv {
                id: 0,
                recorder: Recorder::new(clock),
                transport: Arc::new(Silent),
                sig_cache: None,
                life: crate::node::NodeLife::new(0, None),
            };
            MinerActor::new(setup, env, links).start();
            let first = blocks.recv().await.expect("the miner hands over a block");
            (first, clock.now_ms())
        })
        .expect("runtime");
        let (block, at_ms) = sealed;
        let params = Arc::new(ChainParams::for_tests(Vec::new()));
        let genesis = params.genesis_block().hash();
        assert_eq!(block.header.parent, genesis);
        assert_eq!(
            block.header.timestamp_ms, at_ms,
            "stamped when it was found"
        );
        assert!(at_ms > 0, "after a modelled delay, not at once");
        let checked = check_block(block, &params, None).expect("the seal passes the checks");
        ChainState::new(params)
            .import(checked, at_ms, 0)
            .expect("and the block extends genesis");
    }
}
