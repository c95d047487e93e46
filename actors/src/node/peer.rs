//! The peer actor: turns protocol messages into core `Gossip` decisions and sends what the
//! core returns through the transport. A selfish pool's node withholds its own blocks
//! through the core strategy ([`selfish`]); a double-spend attacker's node runs its attempts
//! ([`double_spend`]). An eclipse attacker's node screens what it sends its victim
//! ([`eclipse`]).

mod double_spend;
mod eclipse;
mod private_branch;
mod selfish;
mod spam;

pub use double_spend::DoubleSpendRole;
pub use eclipse::EclipseRole;
pub use private_branch::RoleLinks as PrivateBranchLinks;
pub use selfish::SelfishRole;
pub use spam::SpamRole;

use super::messages::*;
use super::NodeEnv;
use crate::transport::{Deliver, PeerLink};
use actix::prelude::*;
use chainlab::config::Window;
use chainlab::net::gossip::Gossip;
use chainlab::net::ledger::{LedgerPolicy, PeerLedger};
use chainlab::net::recent::{RecentBlocks, RECENT_BLOCKS};
use chainlab::net::wire::{WireMsg, MAX_SYNC_BLOCKS};
use chainlab::net::TXS_REPLY_MAX_BYTES;
use chainlab::report::Event;
use chainlab::NodeId;
use chainlab::{Hash, TxId};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;
use std::time::Duration;

impl Handler<AnnounceTip> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: AnnounceTip, _: &mut Context<Self>) {
        if self.withholds(&m.0) {
            return;
        }
        let out = self.gossip.announce_tip(m.0);
        self.send_all(out);
    }
}

impl Handler<Rebroadcast> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: Rebroadcast, _: &mut Context<Self>) {
        let out = self.gossip.rebroadcast(&m.ids);
        self.send_all(out);
    }
}

/// Where the peer actor sends: the chain (blocks in, blocks to serve) and the mempool
/// (transactions in, transactions to serve).
#[derive(Clone)]
pub struct PeerLinks {
    /// Blocks from peers.
    pub import: Recipient<ImportBlocks>,
    /// Stored blocks by hash.
    pub blocks: Recipient<GetBlocks>,
    /// A sync reply.
    pub blocks_after: Recipient<GetBlocksAfter>,
    /// Transactions made at this node (a spam adversary's own).
    pub submit: Recipient<SubmitTx>,
    /// Transactions from peers, one message per `txs` message.
    pub submit_txs: Recipient<SubmitTxs>,
    /// Pooled transactions by id.
    pub txs: Recipient<GetTxs>,
    /// Consensus items from peers (proof of stake: to the vote pool).
    pub submit_item: Recipient<SubmitItems>,
}

/// See the module doc.
pub struct PeerActor {
    gossip: Gossip,
    env: NodeEnv,
    rng: ChaCha8Rng,
    links: PeerLinks,
    flush_scheduled: bool,
    span: tracing::Span,
    /// Neighbours from the topology (kept while disconnected; others go when they leave).
    fixed: Vec<NodeId>,
    /// Useless items and reply bytes per peer (core `PeerLedger`).
    ledger: PeerLedger,
    /// The chain's tip and height: the loaded chain's at start, then each `TipChanged`'s.
    tip: (Hash, u64),
    /// Blocks accepted lately, to serve `getdata` after an announcement.
    recent: RecentBlocks,
    policy: PeerPolicy,
    /// A selfish pool's node: its withholding strategy (`[[adversary]]`).
    selfish: Option<SelfishRole>,
    /// A double-spend attacker's node: its attempts (`[[adversary]]`).
    double_spend: Option<DoubleSpendRole>,
    /// An eclipse attacker's node: its screen of the victim's view (`[[adversary]]`).
    eclipse: Option<EclipseRole>,
    /// A spam or forkspam adversary's node: its flood (`[[adversary]]`).
    spam: Option<SpamRole>,
    /// When its adversary's strategy runs (`from` / `until`; always for an honest node).
    window: Window,
}

/// The peer actor's policy.
#[derive(Clone, Debug)]
pub struct PeerPolicy {
    /// Flood and serving limits per peer.
    pub ledger: LedgerPolicy,
    /// How long transaction ids wait to be announced in one batch.
    pub tx_batch_interval: Duration,
    /// Mailbox capacity (TCP readers hand messages over with `try_send`).
    pub mailbox_capacity: usize,
}

impl PeerActor {
    /// A peer actor for a chain whose tip is `tip` (hash, height).
    pub fn new(
        env: NodeEnv,
        gossip: Gossip,
        policy: PeerPolicy,
        tip: (Hash, u64),
        rng: ChaCha8Rng,
        links: PeerLinks,
    ) -> PeerActor {
        let id = env.id;
        PeerActor {
            fixed: gossip.neighbors().to_vec(),
            ledger: PeerLedger::new(policy.ledger.clone()),
            policy,
            tip,
            recent: RecentBlocks::new(RECENT_BLOCKS, gossip.hash_key()),
            gossip,
            env,
            rng,
            links,
            flush_scheduled: false,
            span: tracing::info_span!("node", id),
            selfish: None,
            double_spend: None,
            eclipse: None,
            spam: None,
            window: Window::ALWAYS,
        }
    }

    /// Runs its adversary's strategy within `window` only (`from` / `until`).
    pub fn with_window(mut self, window: Window) -> PeerActor {
        self.window = window;
        self
    }

    /// Whether its adversary's strategy runs now (its window, by the run's elapsed time and
    /// this node's tip height).
    fn window_open(&self) -> bool {
        self.window
            .active(self.env.recorder.clock().elapsed_ms(), self.tip.1)
    }

    /// Whether its adversary's `until` has come.
    fn window_ended(&self) -> bool {
        self.window
            .ended(self.env.recorder.clock().elapsed_ms(), self.tip.1)
    }

    /// Makes this node a selfish pool's (`[[adversary]] kind = "selfish"`).
    pub fn with_selfish(mut self, role: Option<SelfishRole>) -> PeerActor {
        self.selfish = role;
        self
    }

    /// Makes this node a double-spend attacker's (`[[adversary]] kind = "double-spend"`).
    pub fn with_double_spend(mut self, role: Option<DoubleSpendRole>) -> PeerActor {
        self.double_spend = role;
        self
    }

    /// Makes this node an eclipse attacker's (`[[adversary]] kind = "eclipse"`).
    pub fn with_eclipse(mut self, role: Option<EclipseRole>) -> PeerActor {
        self.eclipse = role;
        self
    }

    fn send(&self, to: NodeId, msg: WireMsg) {
        if let Some(msg) = self.ec_screen(to, msg) {
            self.env.send(to, msg);
        }
    }

    fn send_all(&self, out: Vec<(NodeId, WireMsg)>) {
        for (to, msg) in out {
            self.send(to, msg);
        }
    }

    /// A peer sent an item this node already had (honest peers send only what was asked).
    fn useless_from(&mut self, peer: NodeId) {
        if let Some(offence) = self.ledger.useless(peer, self.env.now_ms()) {
            self.env.penalize(peer, offence);
        }
    }

    fn sync_sent(&mut self, sent: Option<(NodeId, WireMsg)>, ctx: &mut Context<Self>) {
        let Some((peer, msg)) = sent else { return };
        self.env.record(Event::SyncRequested { peer });
        self.send(peer, msg);
        let wait = Duration::from_millis(self.gossip.policy().sync_timeout_ms + 1);
        ctx.run_later(wait, |act, ctx| {
            let now = act.env.now_ms();
            let pick = act.rng.gen();
            let retry = act.gossip.on_tick(now, pick);
            act.sync_sent(retry, ctx);
        });
    }

    /// Whether replies of `bytes` to `peer` fit its serving budget (core `PeerLedger::serve`;
    /// TCP runs only).
    fn may_serve(&mut self, peer: NodeId, bytes: u64) -> bool {
        match self.ledger.serve(peer, bytes, self.env.now_ms()) {
            Ok(()) => true,
            Err(offence) => {
                if let Some(o) = offence {
                    self.env.penalize(peer, o);
                }
                false
            }
        }
    }

    fn serve_blocks(&mut self, to: NodeId, mut hashes: Vec<Hash>, ctx: &mut Context<Self>) {
        if hashes.is_empty() {
            return;
        }
        // Each block once, and no more per request than a sync reply holds.
        dedup_in_order(&mut hashes);
        hashes.retain(|h| !self.withholds(h));
        hashes.truncate(MAX_SYNC_BLOCKS);
        // Blocks just announced are served from the recent cache; older ones come from the chain.
        if let Some(blocks) = self.recent.get_all(&hashes) {
            return self.send_blocks(to, blocks);
        }
        let fut = self.links.blocks.send(GetBlocks { hashes });
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            act.send_blocks(to, res.unwrap_or_default());
        }));
    }

    fn send_blocks(&mut self, to: NodeId, blocks: Vec<Arc<chainlab::Block>>) {
        for b in blocks {
            if !self.may_serve(to, b.size()) {
                break;
            }
            self.send(to, WireMsg::Block(b));
        }
    }

    fn serve_txs(&self, to: NodeId, mut ids: Vec<TxId>, ctx: &mut Context<Self>) {
        if ids.is_empty() {
            return;
        }
        dedup_in_order(&mut ids);
        let fut = self.links.txs.send(GetTxs { ids });
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            act.send_txs(to, res.unwrap_or_default());
        }));
    }

    /// Answers a `getdata` with the pooled transactions asked for, in order, in one `txs`
    /// message (more only if one would pass [`TXS_REPLY_MAX_BYTES`]). The serving budget is
    /// debited per transaction, as each was when it travelled alone: the reply ends before
    /// the first that does not fit (which counts once toward the flood limit).
    fn send_txs(&mut self, to: NodeId, txs: Vec<Arc<chainlab::Transaction>>) {
        let mut reply = Vec::with_capacity(txs.len());
        let mut bytes = 0;
        for t in txs {
            let len = chainlab::encoding::encoded_len(&*t);
            if !self.may_serve(to, len) {
                break;
            }
            if !reply.is_empty() && bytes + len > TXS_REPLY_MAX_BYTES {
                self.send(to, WireMsg::Txs(std::mem::take(&mut reply)));
                bytes = 0;
            }
            bytes += len;
            reply.push(t);
        }
        if !reply.is_empty() {
            self.send(to, WireMsg::Txs(reply));
        }
    }

    fn serve_sync(&self, to: NodeId, locator: Vec<Hash>, ctx: &mut Context<Self>) {
        let fut = self.links.blocks_after.send(GetBlocksAfter {
            locator,
            max: MAX_SYNC_BLOCKS,
        });
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            let (mut blocks, mut more) = res.unwrap_or_default();
            // A selfish pool serves its branch only up to what it published.
            if let Some(cut) = blocks.iter().position(|b| act.withholds(&b.hash())) {
                blocks.truncate(cut);
                more = false;
            }
            let bytes = blocks.iter().map(|b| b.size()).sum();
            if act.may_serve(to, bytes) {
                act.send(to, WireMsg::Blocks { blocks, more });
            }
        }));
    }
}

/// Drops repeated ids, keeping the first of each in place (an ordered set: the ids are a
/// peer's bytes, so no hash table whose key it might know).
fn dedup_in_order(ids: &mut Vec<Hash>) {
    let mut seen = std::collections::BTreeSet::new();
    ids.retain(|h| seen.insert(*h));
}

impl Actor for PeerActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        // TCP readers hand messages over with `try_send`: this bounds what they may queue.
        ctx.set_mailbox_capacity(self.policy.mailbox_capacity);
        self.ds_actor_started(ctx);
        self.ec_actor_started(ctx);
        self.spam_started(ctx);
        self.selfish_started(ctx);
    }
}

impl Handler<PeerLink> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: PeerLink, ctx: &mut Context<Self>) {
        if m.up {
            self.link_up(m.peer, ctx);
        } else {
            self.link_down(m.peer);
        }
    }
}

impl PeerActor {
    /// A TCP peer connected: resend a sync that went nowhere, and tell it where this node is,
    /// so that whichever is behind syncs.
    fn link_up(&mut self, peer: NodeId, ctx: &mut Context<Self>) {
        if self.gossip.sync_peer() == Some(peer) {
            let sent = self.gossip.resend_sync(self.env.now_ms());
            self.sync_sent(sent, ctx);
        }
        self.gossip.add_neighbor(peer);
        let (tip, height) = self.tip;
        if height > 0 && !self.withholds(&tip) {
            let inv = WireMsg::Inv {
                blocks: vec![tip],
                txs: Vec::new(),
            };
            self.send(peer, inv);
        }
    }

    /// A TCP peer left: its sync is abandoned, its accounts forgotten, and unless it is a
    /// topology neighbour, so is it.
    fn link_down(&mut self, peer: NodeId) {
        if self.gossip.sync_peer() == Some(peer) {
            self.gossip.abort_sync();
        }
        self.ledger.forget(peer);
        if self.fixed.binary_search(&peer).is_err() {
            self.gossip.remove_neighbor(peer);
        }
    }
}

impl Handler<Deliver> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: Deliver, ctx: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        let from = m.from;
        tracing::trace!(from, kind = ?m.msg.kind(), "deliver");
        if m.msg.check_caps().is_err() {
            return;
        }
        match m.msg {
            WireMsg::Inv { blocks, txs } => self.on_inv(from, &blocks, &txs),
            WireMsg::GetData { blocks, txs } => {
                self.serve_blocks(from, blocks, ctx);
                self.serve_txs(from, txs, ctx);
            }
            WireMsg::Block(b) => self.on_block(from, b, ctx),
            WireMsg::Txs(txs) => self.on_txs(from, txs),
            WireMsg::GetBlocks { locator } => self.serve_sync(from, locator, ctx),
            WireMsg::Blocks { blocks, more } => self.on_sync_reply(from, blocks, more, ctx),
            WireMsg::Items(items) => self.on_items(from, items),
        }
    }
}

impl PeerActor {
    fn on_inv(&mut self, from: NodeId, blocks: &[Hash], txs: &[TxId]) {
        let now = self.env.now_ms();
        self.gossip.prune_expired(now);
        if let Some(get) = self.gossip.on_inv(from, blocks, txs, now, |_| false) {
            self.send(from, get);
        }
    }

    fn on_block(&mut self, from: NodeId, b: Arc<chainlab::Block>, ctx: &mut Context<Self>) {
        let hash = b.hash();
        if !self.gossip.on_item(hash, Some(from)) {
            return self.useless_from(from);
        }
        self.public_blocks([&*b]);
        self.ds_public_block(&b, ctx);
        self.ec_public_block(&b, ctx);
        // Fetched after an announcement, not as part of a sync: processed only when its
        // branch has at least the tip's work.
        self.links.import.do_send(ImportBlocks {
            blocks: vec![(hash, b)],
            from: Some(from),
            sync_more: false,
            from_sync: false,
        });
    }

    /// Transactions from a peer (normally its reply to this node's `getdata`): those not
    /// seen before go to the mempool in one message, in order. Each one already seen counts
    /// toward the sender's flood limit on its own, as it did when every transaction travelled
    /// in a message of its own: a reply is not a licence to repeat, so a peer that packs
    /// copies into one message is cut off after as many copies as one message each would
    /// take. (An honest reply repeats an item only when this node asked twice: a request
    /// timed out and was sent elsewhere, then both answered.)
    fn on_txs(&mut self, from: NodeId, txs: Vec<Arc<chainlab::Transaction>>) {
        let mut fresh = Vec::with_capacity(txs.len());
        for tx in txs {
            let id = tx.id();
            if self.gossip.on_item(id, Some(from)) {
                fresh.push((tx, id));
            } else {
                self.useless_from(from);
            }
        }
        if !fresh.is_empty() {
            self.links
                .submit_txs
                .do_send(SubmitTxs { txs: fresh, from });
        }
    }

    /// Consensus items pushed by a peer: each one not seen before goes to the vote pool, which
    /// checks it and has it pushed on. Under push flooding a node gets an item from several
    /// peers, so a repeat is no offence (it costs an id lookup).
    fn on_items(&mut self, from: NodeId, mut items: Vec<chainlab::block::SharedItem>) {
        items.retain(|item| self.gossip.on_pushed_item(item));
        if !items.is_empty() {
            self.links.submit_item.do_send(SubmitItems { items, from });
        }
    }

    /// Sends the queued transaction announcements and item pushes once the batch interval
    /// has passed (one timer for both).
    fn schedule_flush(&mut self, ctx: &mut Context<Self>) {
        if self.flush_scheduled {
            return;
        }
        self.flush_scheduled = true;
        ctx.run_later(self.policy.tx_batch_interval, |act, _| {
            act.flush_scheduled = false;
            let mut out = act.gossip.flush_txs();
            out.extend(act.gossip.flush_items());
            act.send_all(out);
        });
    }

    /// A sync reply. One this node did not ask for (no sync in flight with `from`: a late
    /// reply to a sync retried elsewhere, or a peer pushing blocks) counts once toward the
    /// sender's flood limit, and its blocks are treated as announced ones: processed only
    /// when their branch has at least the tip's work (Bitcoin Core's rule for unrequested
    /// blocks).
    fn on_sync_reply(
        &mut self,
        from: NodeId,
        blocks: Vec<Arc<chainlab::Block>>,
        more: bool,
        ctx: &mut Context<Self>,
    ) {
        let solicited = self.gossip.awaits_reply(from);
        let more = self.gossip.on_sync_reply(from, more);
        if !solicited {
            self.useless_from(from);
        }
        let blocks: Vec<(Hash, Arc<chainlab::Block>)> =
            blocks.into_iter().map(|b| (b.hash(), b)).collect();
        for (h, _) in &blocks {
            self.gossip.on_item(*h, Some(from));
        }
        self.public_blocks(blocks.iter().map(|(_, b)| &**b));
        for (_, b) in &blocks {
            self.ds_public_block(b, ctx);
            self.ec_public_block(b, ctx);
        }
        if !blocks.is_empty() {
            self.links.import.do_send(ImportBlocks {
                blocks,
                from: Some(from),
                sync_more: more,
                from_sync: solicited,
            });
        }
    }
}

impl Handler<BlocksAccepted> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: BlocksAccepted, ctx: &mut Context<Self>) {
        self.ec_accepted(&m.blocks, m.from, ctx);
        if self.selfish_active() {
            // A selfish pool relays no honest block; its own go through the strategy.
            if m.from.is_none() {
                for (h, b) in m.blocks {
                    self.own_block(h, b);
                }
            }
            return;
        }
        // Only a lone new block is pushed whole (`gossip.block_push`): a batch is a reorg or a
        // catch-up, whose blocks most neighbours already hold.
        let lone = m.blocks.len() == 1;
        for (h, b) in m.blocks {
            // A selfish pool outside its window publishes its own blocks at once.
            if m.from.is_none() {
                self.own_block_public(b.header.height);
            }
            // A double-spend attacker's private blocks are withheld.
            if m.from.is_none() && self.ds_own_block(h, &b, ctx) {
                continue;
            }
            let out = self.gossip.announce_block(h, lone.then_some(&b), m.from);
            self.send_all(out);
            self.recent.insert(h, b);
        }
    }
}

impl Handler<BlocksUnprocessed> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: BlocksUnprocessed, _: &mut Context<Self>) {
        for peer in m.refused {
            self.useless_from(peer);
        }
        for h in &m.dropped {
            self.gossip.forget(h);
        }
    }
}

impl Handler<ExpectDuplicates> for PeerActor {
    type Result = ();
    fn handle(&mut self, _: ExpectDuplicates, _: &mut Context<Self>) {
        self.ledger.expect_duplicates(true);
    }
}

impl Handler<TipChanged> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: TipChanged, _: &mut Context<Self>) {
        self.tip = (m.0.new_tip, m.0.new_height);
        // A height `until` may have come: a selfish pool publishes what it holds.
        self.selfish_active();
        self.ds_tip_changed(&m.0);
        self.ec_tip_changed(&m.0);
        self.spam_tip_changed(&m.0);
    }
}

impl Handler<TxsAccepted> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: TxsAccepted, ctx: &mut Context<Self>) {
        for (id, from) in m.ids {
            self.gossip.queue_tx(id, from);
        }
        self.schedule_flush(ctx);
    }
}

impl Handler<ItemsAccepted> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: ItemsAccepted, ctx: &mut Context<Self>) {
        for item in m.items {
            self.gossip.queue_item(item, m.from);
        }
        self.schedule_flush(ctx);
    }
}

impl Handler<PushTwin> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: PushTwin, _: &mut Context<Self>) {
        let msg = match m {
            PushTwin::Block(b) => {
                self.gossip.on_item(b.hash(), None);
                WireMsg::Block(b)
            }
            PushTwin::Item(item) => {
                self.gossip.on_pushed_item(&item);
                WireMsg::Items(vec![item])
            }
        };
        let out = self.gossip.to_half(&msg);
        self.send_all(out);
    }
}

impl Handler<RequestSync> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: RequestSync, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let pick = self.rng.gen();
        let sent = self
            .gossip
            .start_sync(m.preferred, m.locator, now, pick, false);
        self.sync_sent(sent, ctx);
    }
}

impl Handler<ContinueSync> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: ContinueSync, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let sent = self.gossip.continue_sync(m.peer, m.locator, now);
        self.sync_sent(Some(sent), ctx);
    }
}

impl Handler<Shutdown> for PeerActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
