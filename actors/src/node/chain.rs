//! The chain actor: validates and imports blocks (core `check_block`, then the steps of
//! `ChainState::start_import`), persists them before anyone hears of them, and tells the
//! mempool, miner and peer. Execution is the executor actor's: when fork choice picks another
//! branch, the chain actor sends it the switch and waits for the answer (`ctx.wait`: its own
//! mailbox stays closed, so nothing else changes the block tree meanwhile, while the peer and
//! the mempool run on). Under
//! proof of stake it also shows each stored header to the vote pool (double blocks) and traces
//! what the best chain justified, finalized and slashed ([`PosWatch`]).

use super::messages::*;
use super::pos_watch::{PosWatch, TipFacts};
use super::{NodeEnv, Persistence};
use actix::prelude::*;
use chainlab::block::Block;
use chainlab::chain::intake::{Admit, Intake};
use chainlab::chain::store::{BlockStore, StoreError};
use chainlab::chain::validation::{check_block, check_block_shape, BlockError};
use chainlab::chain::{ImportJob, ImportOutcome, ImportStatus, Step};
use chainlab::net::Offence;
use chainlab::report::{
    check_tree_invariants, BlockRejectedEvent, Event, FinalBlock, ReorgEvent, INVARIANT_CHECKS,
};
use chainlab::NodeId;
use chainlab::{ChainState, Hash};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::Arc;
use tracing::{debug, error, info_span, Span};

/// Where the chain actor sends: the peer, and every receiver of the tip event.
#[derive(Clone)]
pub struct ChainLinks {
    /// Blocks stored: to announce.
    pub accepted: Recipient<BlocksAccepted>,
    /// The tip moved: miner, mempool, peer, in that order.
    pub tip: Vec<Recipient<TipChanged>>,
    /// A catch-up sync is needed.
    pub sync: Recipient<RequestSync>,
    /// A full sync reply was imported: ask for more.
    pub continue_sync: Recipient<ContinueSync>,
    /// Announce the tip to every neighbour.
    pub announce: Recipient<AnnounceTip>,
    /// Blocks from peers not processed (refused, or dropped unchecked).
    pub unprocessed: Recipient<BlocksUnprocessed>,
    /// Proof of stake: each stored block's header, to the vote pool (None under proof of work).
    pub note_header: Option<Recipient<NoteHeader>>,
    /// The node's executor.
    pub executor: ExecutorLinks,
}

/// What the chain actor asks of the node's executor.
#[derive(Clone)]
pub struct ExecutorLinks {
    /// Switch the state to another branch (the chain actor waits for the answer).
    pub switch: Recipient<Switch>,
    /// Build a template in a frame.
    pub build: Recipient<BuildOn>,
    /// Check the state's invariants.
    pub check: Recipient<CheckState>,
    /// Drop undo records below the fork floor.
    pub prune: Recipient<PruneUndo>,
    /// Stop (when the chain actor stops).
    pub stop: Recipient<Shutdown>,
}

/// The chain actor's work, in order: blocks to import and the ends of the messages they came
/// in.
enum Work {
    /// A block to import, with its hash.
    Block {
        hash: Hash,
        block: Arc<Block>,
        from: Option<NodeId>,
        from_sync: bool,
    },
    /// Stored blocks whose waiting children (held unchecked) may go now, the first first.
    Release(VecDeque<Hash>),
    /// Make a stored block the tip if fork choice prefers it (`LeavePrivate`).
    Switch(Hash),
    /// The end of one `ImportBlocks`: report unprocessed blocks, continue a sync after the
    /// message's last block.
    End {
        from: Option<NodeId>,
        sync_more: bool,
        last: Option<Hash>,
    },
}

/// One block's import in progress.
struct Importing {
    job: ImportJob,
    hash: Hash,
    from: Option<NodeId>,
}

/// See the module doc.
pub struct ChainActor {
    id: NodeId,
    chain: ChainState,
    store: Box<dyn BlockStore>,
    env: NodeEnv,
    rng: ChaCha8Rng,
    links: ChainLinks,
    span: Span,
    skew_ms: i64,
    /// What to do with arriving blocks before checking them (core `Intake`).
    intake: Intake,
    /// Flushing and the durable log.
    persistence: Persistence,
    /// Proof of stake: the finality and slashing reported so far (None under proof of work).
    pos_watch: Option<PosWatch>,
    /// What is left to do of the messages handled so far (empty unless an import waits for
    /// the executor).
    work: VecDeque<Work>,
    /// Blocks not processed, reported at the end of each `ImportBlocks`.
    unprocessed: BlocksUnprocessed,
}

/// The chain actor's policy.
#[derive(Clone, Debug)]
pub struct ChainPolicy {
    /// Peers come over TCP: blocks whose parent is unknown wait unchecked.
    pub untrusted_peers: bool,
    /// Flushing and the durable log.
    pub persistence: Persistence,
}

impl ChainActor {
    /// A chain actor over a loaded chain.
    pub fn new(
        env: NodeEnv,
        chain: ChainState,
        store: Box<dyn BlockStore>,
        policy: ChainPolicy,
        rng: ChaCha8Rng,
        links: ChainLinks,
    ) -> ChainActor {
        let id = env.id;
        let pos_watch = chain.params().engine.pos().and_then(|pos| {
            let stakes = pos.validators.iter().map(|v| v.stake).collect();
            TipFacts::of_tip(&chain).map(|f| PosWatch::new(stakes, &f))
        });
        ChainActor {
            pos_watch,
            intake: Intake::new(policy.untrusted_peers),
            persistence: policy.persistence,
            id,
            chain,
            store,
            env,
            rng,
            links,
            span: info_span!("node", id),
            skew_ms: 0,
            work: VecDeque::new(),
            unprocessed: BlocksUnprocessed::default(),
        }
    }

    /// This node's clock: cluster time plus its skew.
    fn now_ms(&self) -> u64 {
        self.env.now_ms().saturating_add_signed(self.skew_ms)
    }

    /// Does the queued work in order, until an import waits for the executor.
    fn drive(&mut self, ctx: &mut Context<Self>) {
        while let Some(w) = self.work.pop_front() {
            match w {
                Work::Block {
                    hash,
                    block,
                    from,
                    from_sync,
                } => {
                    if let Some(imp) = self.import_one(hash, block, from, from_sync) {
                        if self.run(imp, ctx) {
                            return;
                        }
                    }
                }
                Work::Switch(target) => {
                    let job = self.chain.start_switch(target, self.now_ms());
                    let imp = Importing {
                        job,
                        hash: target,
                        from: None,
                    };
                    if self.run(imp, ctx) {
                        return;
                    }
                }
                Work::Release(mut stored) => {
                    let Some(h) = stored.pop_front() else {
                        continue;
                    };
                    if !stored.is_empty() {
                        self.work.push_front(Work::Release(stored));
                    }
                    for (block, peer, from_sync) in self.intake.released(&h).into_iter().rev() {
                        self.work.push_front(Work::Block {
                            hash: block.hash(),
                            block,
                            from: Some(peer),
                            from_sync,
                        });
                    }
                }
                Work::End {
                    from,
                    sync_more,
                    last,
                } => {
                    let unprocessed = std::mem::take(&mut self.unprocessed);
                    if !unprocessed.refused.is_empty() || !unprocessed.dropped.is_empty() {
                        self.links.unprocessed.do_send(unprocessed);
                    }
                    if !self.env.alive() {
                        // A store write failed: no further message of this mailbox is handled.
                        self.work.clear();
                        return ctx.stop();
                    }
                    if let (true, Some(peer)) = (sync_more, from) {
                        // After the last block received (core `continuation_locator`).
                        let locator = self.chain.continuation_locator(last);
                        self.links
                            .continue_sync
                            .do_send(ContinueSync { peer, locator });
                    }
                }
            }
        }
    }

    /// Steps an import: returns true when it waits for the executor (`ctx.wait`), after which
    /// it goes on, and then the rest of the work.
    fn run(&mut self, mut imp: Importing, ctx: &mut Context<Self>) -> bool {
        match self.chain.step(&mut imp.job) {
            Step::Switch(plan) => {
                let ask = self.links.executor.switch.send(Switch(plan));
                ctx.wait(ask.into_actor(self).map(move |answer, act, ctx| {
                    let mut imp = imp;
                    match answer {
                        Ok(result) => {
                            act.chain.resume(&mut imp.job, result);
                            if !act.run(imp, ctx) {
                                act.drive(ctx);
                            }
                        }
                        Err(e) => {
                            // Only a stopping node loses its executor.
                            error!(node = act.id, error = %e, "the executor stopped");
                            act.work.clear();
                            ctx.stop();
                        }
                    }
                }));
                true
            }
            Step::Done(result) => {
                self.imported(result, imp.hash, imp.from);
                false
            }
        }
    }

    /// What intake says of an arriving block; the import to run when it is to be checked and
    /// its checks pass.
    fn import_one(
        &mut self,
        hash: Hash,
        block: Arc<Block>,
        from: Option<NodeId>,
        from_sync: bool,
    ) -> Option<Importing> {
        if !self.env.alive() {
            return None;
        }
        let now = self.now_ms();
        match self
            .intake
            .admit(&self.chain, &block, hash, from, from_sync, now)
        {
            Admit::Skip => None,
            Admit::Refused(e) => {
                // The checks that cost no signature come first, as in Bitcoin Core: a block
                // broken in itself is punished even when its work is too low to process.
                if let Err(bad) = check_block_shape(&block, self.chain.params()) {
                    self.rejected(hash, from, &bad);
                    return None;
                }
                debug!(block = %hash.short(), ?from, reason = %e, "block not processed");
                self.unprocessed.refused.extend(from);
                None
            }
            Admit::Deferred { sync } => {
                let dropped = self.intake.take_dropped().into_iter().map(|(h, _)| h);
                self.unprocessed.dropped.extend(dropped);
                if sync {
                    self.request_sync(from);
                }
                None
            }
            Admit::Check => {
                let params = self.chain.params().clone();
                let checked = match check_block(block, &params, self.env.cache()) {
                    Ok(c) => c,
                    Err(e) => {
                        self.rejected(hash, from, &e);
                        return None;
                    }
                };
                let tie = self.rng.gen();
                let job = self.chain.start_import(checked, now, tie);
                Some(Importing { job, hash, from })
            }
        }
    }

    /// An import is over: persist and announce what it stored, or reject the block.
    fn imported(
        &mut self,
        result: Result<ImportOutcome, BlockError>,
        hash: Hash,
        from: Option<NodeId>,
    ) {
        match result {
            Ok(out) => {
                let stored: VecDeque<Hash> = if self.intake.waiting() {
                    out.accepted.iter().map(|(h, _)| *h).collect()
                } else {
                    VecDeque::new()
                };
                self.apply(out, from);
                if !stored.is_empty() {
                    self.work.push_front(Work::Release(stored));
                }
            }
            Err(e) => {
                self.intake.rejected(hash, &e);
                self.rejected(hash, from, &e)
            }
        }
    }

    fn request_sync(&self, preferred: Option<NodeId>) {
        self.links.sync.do_send(RequestSync {
            preferred,
            locator: self.chain.locator(),
        });
    }

    fn rejected(&self, hash: Hash, from: Option<NodeId>, e: &BlockError) {
        let reason = e.to_string();
        debug!(block = %hash.short(), ?from, %reason, "block rejected");
        if let (Some(peer), true) = (from, e.is_peer_fault()) {
            self.env.penalize(
                peer,
                Offence::InvalidBlock {
                    hash,
                    reason: reason.clone(),
                },
            );
        }
        self.env
            .record(Event::BlockRejected(Box::new(BlockRejectedEvent {
                hash,
                reason,
            })));
    }

    /// Writes the accepted blocks and the tip in one commit (flushing when configured), then
    /// reports the blocks to the durable log.
    fn persist(&mut self, out: &ImportOutcome) -> Result<(), StoreError> {
        let tip = out.tip_change.as_ref().map(|tc| tc.new_tip);
        if out.accepted.is_empty() && tip.is_none() {
            return Ok(());
        }
        self.store.commit(&out.accepted, tip.as_ref())?;
        if self.persistence.flush_each_block && !out.accepted.is_empty() {
            self.store.flush()?;
            if let Some(log) = &self.persistence.durable_log {
                if let Err(e) = log.record(self.id, &out.accepted) {
                    // The blocks are durable; only the report of it failed.
                    error!(node = self.id, error = %e, "durable log write failed");
                }
            }
        }
        Ok(())
    }

    /// A store write failed: the node stops as a crash does, at once (the blocks of this
    /// import are neither recorded as imported nor announced, and nothing of the node runs
    /// after this handler). Its store keeps the last commit that succeeded.
    fn failed(&mut self, e: &StoreError) {
        error!(node = self.id, error = %e, "store write failed: the node stops");
        self.env.record(Event::NodeFailed {
            error: e.to_string(),
        });
        self.env.life.fail(e.to_string());
    }

    /// Prunes side branches that fell below the fork floor, from memory and from the store.
    /// Drops side branches below the fork floor from memory and the store (a failed removal
    /// is a failed store write).
    fn prune(&mut self) -> Result<(), StoreError> {
        let floor = self.chain.undo_floor();
        for (hash, height) in self.chain.prune_side_branches() {
            self.store.remove_block(&hash, height)?;
        }
        if self.chain.undo_floor() > floor {
            self.links
                .executor
                .prune
                .do_send(PruneUndo(self.chain.undo_floor()));
        }
        Ok(())
    }

    fn apply(&mut self, out: ImportOutcome, from: Option<NodeId>) {
        if let ImportStatus::Orphan { missing } = out.status {
            if self.intake.sync_for(&missing, self.now_ms()) {
                self.request_sync(from);
            }
            return;
        }
        if let Err(e) = self.persist(&out) {
            return self.failed(&e);
        }
        let blocks = out.accepted;
        for (h, b) in &blocks {
            self.env.record(Event::BlockImported {
                hash: *h,
                height: b.header.height,
            });
            if let Some(pool) = &self.links.note_header {
                pool.do_send(NoteHeader {
                    header: b.header.clone(),
                });
            }
        }
        // Only blocks now on the best chain are announced: a side block is relayed only once
        // its branch becomes the best (and then by the sync of whoever needs it).
        let canonical = self.chain.canonical();
        let best: Vec<(Hash, Arc<Block>)> = blocks
            .into_iter()
            .filter(|(h, b)| canonical.get(b.header.height as usize) == Some(h))
            .collect();
        if !best.is_empty() {
            self.links
                .accepted
                .do_send(BlocksAccepted { blocks: best, from });
        }
        let Some(tc) = out.tip_change else { return };
        if let Err(e) = self.prune() {
            return self.failed(&e);
        }
        self.env.record(Event::TipChanged {
            hash: tc.new_tip,
            height: tc.new_height,
        });
        if tc.reorg_depth > 0 {
            self.env.record(Event::Reorg(Box::new(ReorgEvent {
                depth: tc.reorg_depth,
                old_tip: tc.old_tip,
                new_tip: tc.new_tip,
            })));
        }
        for (i, records) in &tc.records {
            let height = tc.connected[*i].header.height;
            for e in Event::of_records(height, records) {
                self.env.record(e);
            }
        }
        self.watch_pos();
        let event = TipChanged(Arc::new(tc));
        for to in &self.links.tip {
            to.do_send(event.clone());
        }
    }
}

impl ChainActor {
    /// Proof of stake: traces what the new best chain justified, finalized and slashed.
    fn watch_pos(&mut self) {
        let Some(watch) = &mut self.pos_watch else {
            return;
        };
        let Some(facts) = TipFacts::of_tip(&self.chain) else {
            return;
        };
        for e in watch.observe(&facts) {
            self.env.record(e);
        }
    }
}

impl Actor for ChainActor {
    type Context = Context<Self>;

    fn started(&mut self, _: &mut Context<Self>) {
        // A reloaded store may hold side branches the floor has passed.
        if let Err(e) = self.prune() {
            return self.failed(&e);
        }
        self.links.sync.do_send(RequestSync {
            preferred: None,
            locator: self.chain.locator(),
        });
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        // The executor serves this actor alone.
        self.links
            .executor
            .stop
            .do_send(Shutdown { graceful: false });
    }
}

impl Handler<ImportBlocks> for ChainActor {
    type Result = ();
    fn handle(&mut self, m: ImportBlocks, ctx: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        // The mailbox is closed while an import waits, so the queue is empty here.
        debug_assert!(self.work.is_empty());
        let (from, from_sync) = (m.from, m.from_sync);
        let last = m.blocks.last().map(|(h, _)| *h);
        self.work
            .extend(m.blocks.into_iter().map(|(hash, block)| Work::Block {
                hash,
                block,
                from,
                from_sync,
            }));
        self.work.push_back(Work::End {
            from,
            sync_more: m.sync_more,
            last,
        });
        self.drive(ctx);
    }
}

impl Handler<GoPrivate> for ChainActor {
    type Result = ();
    fn handle(&mut self, m: GoPrivate, _: &mut Context<Self>) {
        // The mailbox is closed while an import waits: the tip here is settled, and the tip
        // events of every import before went out already.
        let p = self.chain.go_private(m.miner);
        debug!(node = self.id, base = %p.base.short(), height = p.height, "private branch");
        m.reply.do_send(PrivateStarted {
            base: p.base,
            height: p.height,
        });
    }
}

impl Handler<LeavePrivate> for ChainActor {
    type Result = ();
    fn handle(&mut self, m: LeavePrivate, ctx: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        debug_assert!(self.work.is_empty());
        self.chain.leave_private();
        if let Some(target) = m.public {
            self.work.push_back(Work::Switch(target));
            self.drive(ctx);
        }
    }
}

impl Handler<GetBlocks> for ChainActor {
    type Result = MessageResult<GetBlocks>;
    fn handle(&mut self, m: GetBlocks, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            m.hashes
                .iter()
                .filter_map(|h| self.chain.get(h).cloned())
                .collect(),
        )
    }
}

impl Handler<GetBlocksAfter> for ChainActor {
    type Result = MessageResult<GetBlocksAfter>;
    fn handle(&mut self, m: GetBlocksAfter, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.chain.blocks_after(
            &m.locator,
            m.max,
            chainlab::net::SYNC_REPLY_MAX_BYTES,
        ))
    }
}

impl Handler<BuildTemplate> for ChainActor {
    type Result = ResponseFuture<Result<Block, BuildError>>;
    fn handle(&mut self, m: BuildTemplate, _: &mut Context<Self>) -> Self::Result {
        let frame = self.chain.template_frame_stamped(self.now_ms(), m.stamp);
        let ask = self.links.executor.build.send(BuildOn {
            frame,
            txs: m.txs,
            items: m.items,
            miner: m.miner,
        });
        Box::pin(async move {
            match ask.await {
                Ok(built) => Ok(built?),
                Err(_) => Err(BuildError::Stopped),
            }
        })
    }
}

impl Handler<GetChainSummary> for ChainActor {
    type Result = ResponseFuture<ChainSummary>;
    fn handle(&mut self, m: GetChainSummary, _: &mut Context<Self>) -> Self::Result {
        let tree = check_tree_invariants(self.id, &self.chain);
        let chain = if m.with_chain {
            FinalBlock::best_chain(&self.chain)
        } else {
            Vec::new()
        };
        let mut summary = ChainSummary {
            tip: self.chain.tip(),
            height: self.chain.height(),
            work: self.chain.tip_work(),
            checked: INVARIANT_CHECKS,
            violations: Vec::new(),
            chain,
            side_blocks: self.chain.side_block_count(),
            undo_records: 0,
        };
        let id = self.id;
        let ask = self.links.executor.check.send(CheckState {
            best: self.chain.best_refs(),
        });
        Box::pin(async move {
            match ask.await {
                Ok(state) => {
                    summary.violations = state.violations;
                    summary.undo_records = state.undo_records;
                }
                Err(_) => summary.violations.push(format!(
                    "node {id}: the executor stopped: state not checked"
                )),
            }
            summary.violations.extend(tree);
            summary
        })
    }
}

impl Handler<Shutdown> for ChainActor {
    type Result = ();
    fn handle(&mut self, m: Shutdown, ctx: &mut Context<Self>) {
        if m.graceful {
            if let Err(e) = self.store.flush() {
                error!(node = self.id, error = %e, "store flush at shutdown failed");
            }
        }
        ctx.stop();
    }
}

impl Handler<GetTip> for ChainActor {
    type Result = MessageResult<GetTip>;
    fn handle(&mut self, _: GetTip, _: &mut Context<Self>) -> Self::Result {
        MessageResult((self.chain.tip(), self.chain.height(), self.chain.tip_work()))
    }
}

impl Handler<Reconnected> for ChainActor {
    type Result = ();
    fn handle(&mut self, _: Reconnected, _: &mut Context<Self>) {
        self.links.announce.do_send(AnnounceTip(self.chain.tip()));
    }
}

impl Handler<SetClockSkew> for ChainActor {
    type Result = ();
    fn handle(&mut self, m: SetClockSkew, _: &mut Context<Self>) {
        self.skew_ms = m.0;
    }
}
