//! The peer actor of an eclipse attacker's node (`[[adversary]] kind = "eclipse"`): every
//! message it sends to the victim goes through the core screen ([`Eclipse`]); in branch mode
//! it also runs the attempts.
//!
//! - **Screen.** An announcement (`inv`) to the victim keeps the blocks and transactions the
//!   screen passes; those it holds go in a later announcement at their release time (one
//!   timer per time), those it drops are never sent. A block is sent, held or dropped alike.
//!   A sync reply is cut at the first block the screen does not pass (`more = false`: the
//!   victim learns of the rest from the announcements). A transaction sent in answer to the
//!   victim's request passes (its announcement was delayed already), except in filter mode
//!   and the branch's public spend. Requests (`getdata`, `getblocks`) pass: the attacker
//!   learns what the victim mines and relays it on as an honest node does. Each item held
//!   or dropped is traced once (`eclipse_delayed`, `eclipse_filtered`).
//! - **Branch.** It asks its chain for a private branch on its tip (the plumbing it shares
//!   with the double-spend attacker: [`PrivateBranch`]); when the chain answers it signs the payment (to the victim) and the public spend (the same nonce,
//!   to its stash address, twice the fee): the payment goes to its own mempool as the
//!   private transaction of its templates, the spend to every neighbour but the victim. Its
//!   own blocks are private: shown to the victim only (`eclipse_fed`), never to another node,
//!   ever. Honest blocks above the fork point are kept from the victim (`eclipse_filtered`).
//!   `delay` after the payment's z-th confirmation was fed, it releases the victim
//!   (`eclipse_released`): its chain leaves private mode, switching to the public tip it saw,
//!   and it announces that tip to the victim, which syncs to it. The next attempt starts at
//!   its first tip change to a block of another miner (it is on the public chain then).

use super::private_branch::{PrivateBranch, RoleLinks};
use super::PeerActor;
use actix::prelude::*;
use chainlab::adversary::eclipse::{Eclipse, Release, Verdict};
use chainlab::config::{Config, EclipseMode, EclipsePlan};
use chainlab::net::wire::WireMsg;
use chainlab::report::{
    EclipseDelayedEvent, EclipseFedEvent, EclipseFilteredEvent, EclipseStartedEvent, Event,
};
use chainlab::{Address, Block, Hash, NodeId, TipChange, TxId};
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Where a branch-mode attacker is between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Its chain was asked for a private branch; the answer has not come.
    Starting,
    /// An attempt is open: the victim sees the private branch only.
    Open,
    /// The victim was released; the next attempt waits for the node to be on the public chain.
    Released,
}

/// An eclipse attacker's side of the peer actor.
pub struct EclipseRole {
    plan: EclipsePlan,
    strategy: Eclipse,
    /// Items already traced as held or dropped.
    traced: RefCell<BTreeSet<Hash>>,
    /// Heights of blocks this node knows, for announcements (which carry hashes only).
    heights: BTreeMap<Hash, u64>,
    /// Branch mode's plumbing (built in every mode, used in branch mode only).
    private: PrivateBranch,
    victim_address: Address,
    phase: Phase,
    /// The open attempt's payment (to the victim) and public spend.
    payment: Option<(TxId, TxId)>,
}

impl EclipseRole {
    /// The attacker node of `plan`, on a chain `chain_id` whose tip gives its account the next
    /// nonce `nonce`, at node `id`.
    pub fn new(id: NodeId, plan: EclipsePlan, chain_id: u32, nonce: u64, links: RoleLinks) -> Self {
        EclipseRole {
            strategy: Eclipse::new(plan.mode.strategy(), plan.delay_ms, plan.confirmations),
            traced: RefCell::new(BTreeSet::new()),
            heights: BTreeMap::new(),
            private: PrivateBranch::new(id, chain_id, nonce, links),
            victim_address: Config::node_key(plan.victim).address(),
            phase: Phase::Starting,
            payment: None,
            plan,
        }
    }

    fn branch(&self) -> bool {
        self.plan.mode == EclipseMode::Branch
    }

    /// Traces `hash` once as held until `release` (trace time) or dropped (`None`).
    fn trace(&self, env: &crate::node::NodeEnv, hash: Hash, tx: bool, verdict: Verdict) {
        if !self.traced.borrow_mut().insert(hash) {
            return;
        }
        let victim = self.plan.victim;
        match verdict {
            Verdict::Pass => {}
            Verdict::Hold(at) => {
                let now = env.now_ms();
                let elapsed = env.recorder.clock().elapsed_ms();
                env.record(Event::EclipseDelayed(Box::new(EclipseDelayedEvent {
                    victim,
                    hash,
                    tx,
                    release_ms: elapsed + at.saturating_sub(now),
                })));
            }
            Verdict::Drop => env.record(Event::EclipseFiltered(Box::new(EclipseFilteredEvent {
                victim,
                hash,
                tx,
            }))),
        }
    }

    /// What a block on its way to the victim gets, traced.
    fn block_verdict(
        &self,
        env: &crate::node::NodeEnv,
        hash: Hash,
        height: Option<u64>,
    ) -> Verdict {
        let height = height.or_else(|| self.heights.get(&hash).copied());
        let v = self.strategy.screen_block(&hash, height, env.now_ms());
        self.trace(env, hash, false, v);
        v
    }

    /// What a transaction announced to the victim gets, traced.
    fn tx_verdict(&self, env: &crate::node::NodeEnv, id: TxId) -> Verdict {
        let v = if self.is_conflict(&id) {
            Verdict::Drop
        } else {
            self.strategy.screen_tx(env.now_ms())
        };
        self.trace(env, id, true, v);
        v
    }

    fn is_conflict(&self, id: &TxId) -> bool {
        self.payment.is_some_and(|(_, c)| c == *id)
    }
}

/// Sends `msg` from `env`'s node to `to` at `at` (chain ms), or now if that has come.
fn send_at(env: &crate::node::NodeEnv, to: NodeId, msg: WireMsg, at: u64) {
    let wait = at.saturating_sub(env.now_ms());
    if wait == 0 {
        return env.send(to, msg);
    }
    let env = env.clone();
    actix::spawn(async move {
        actix::clock::sleep(std::time::Duration::from_millis(wait)).await;
        env.send(to, msg);
    });
}

impl PeerActor {
    /// Sends `msg` to `to` through the eclipse screen, if this node is an eclipse attacker's.
    /// Returns the message if it is to go out now, unchanged or cut.
    pub(super) fn ec_screen(&self, to: NodeId, msg: WireMsg) -> Option<WireMsg> {
        let Some(role) = &self.eclipse else {
            return Some(msg);
        };
        let env = &self.env;
        if to != role.plan.victim {
            // Private blocks go to the victim only.
            return match msg {
                WireMsg::Inv { mut blocks, txs } if role.branch() => {
                    blocks.retain(|h| !role.strategy.private(h));
                    (!blocks.is_empty() || !txs.is_empty()).then_some(WireMsg::Inv { blocks, txs })
                }
                WireMsg::Block(b) if role.strategy.private(&b.hash()) => None,
                WireMsg::Blocks { mut blocks, more } if role.branch() => {
                    match blocks.iter().position(|b| role.strategy.private(&b.hash())) {
                        Some(cut) => {
                            blocks.truncate(cut);
                            Some(WireMsg::Blocks {
                                blocks,
                                more: false,
                            })
                        }
                        None => Some(WireMsg::Blocks { blocks, more }),
                    }
                }
                other => Some(other),
            };
        }
        match msg {
            WireMsg::Inv { blocks, txs } => {
                let mut now = WireMsg::Inv {
                    blocks: Vec::new(),
                    txs: Vec::new(),
                };
                let mut later: BTreeMap<u64, (Vec<Hash>, Vec<TxId>)> = BTreeMap::new();
                for h in blocks {
                    match role.block_verdict(env, h, None) {
                        Verdict::Pass => push_inv(&mut now, Some(h), None),
                        Verdict::Hold(at) => later.entry(at).or_default().0.push(h),
                        Verdict::Drop => {}
                    }
                }
                for t in txs {
                    match role.tx_verdict(env, t) {
                        Verdict::Pass => push_inv(&mut now, None, Some(t)),
                        Verdict::Hold(at) => later.entry(at).or_default().1.push(t),
                        Verdict::Drop => {}
                    }
                }
                for (at, (blocks, txs)) in later {
                    send_at(env, to, WireMsg::Inv { blocks, txs }, at);
                }
                match &now {
                    WireMsg::Inv { blocks, txs } if blocks.is_empty() && txs.is_empty() => None,
                    _ => Some(now),
                }
            }
            WireMsg::Block(b) => match role.block_verdict(env, b.hash(), Some(b.header.height)) {
                Verdict::Pass => Some(WireMsg::Block(b)),
                Verdict::Hold(at) => {
                    send_at(env, to, WireMsg::Block(b), at);
                    None
                }
                Verdict::Drop => None,
            },
            WireMsg::Blocks { mut blocks, more } => {
                let cut = blocks.iter().position(|b| {
                    role.block_verdict(env, b.hash(), Some(b.header.height)) != Verdict::Pass
                });
                match cut {
                    Some(cut) => {
                        blocks.truncate(cut);
                        Some(WireMsg::Blocks {
                            blocks,
                            more: false,
                        })
                    }
                    None => Some(WireMsg::Blocks { blocks, more }),
                }
            }
            WireMsg::Txs(mut txs) => {
                txs.retain(|t| {
                    let id = t.id();
                    let drop = role.plan.mode == EclipseMode::Filter || role.is_conflict(&id);
                    if drop {
                        role.trace(env, id, true, Verdict::Drop);
                    }
                    !drop
                });
                (!txs.is_empty()).then_some(WireMsg::Txs(txs))
            }
            other => Some(other),
        }
    }

    /// The peer actor started: a branch-mode attacker begins its first attempt.
    pub(super) fn ec_actor_started(&mut self, ctx: &mut Context<Self>) {
        let reply = ctx.address().recipient();
        let Some(role) = &mut self.eclipse else {
            return;
        };
        if !role.branch() {
            return;
        }
        role.private.set_reply(reply);
        self.ec_begin();
    }

    fn ec_begin(&mut self) {
        let Some(role) = &mut self.eclipse else {
            return;
        };
        role.phase = Phase::Starting;
        role.private.go_private();
    }

    /// The private branch started at `height`: pay the victim privately, spend the same coins
    /// publicly.
    pub(super) fn ec_started(&mut self, height: u64) {
        let Some(role) = &mut self.eclipse else {
            return;
        };
        if role.phase != Phase::Starting || !role.branch() {
            return;
        }
        role.phase = Phase::Open;
        let p = &role.plan;
        let (pay, spend) =
            role.private
                .sign_spends(role.victim_address, p.amount, p.fee, p.conflict_fee);
        let (payment, conflict) = (pay.id(), spend.id());
        role.payment = Some((payment, conflict));
        let attempt = role.strategy.start(height);
        role.private.mine_privately(Some(Arc::new(pay)));
        let victim = role.plan.victim;
        self.env
            .record(Event::EclipseStarted(Box::new(EclipseStartedEvent {
                victim,
                attempt,
                height,
                payment,
                conflict,
            })));
        // Seen here: neither comes back into this node's mempool.
        self.gossip.on_item(payment, None);
        self.gossip.on_item(conflict, None);
        let spend = Arc::new(spend);
        for &n in self.gossip.neighbors() {
            if n != victim {
                self.env.send(n, WireMsg::Txs(vec![spend.clone()]));
            }
        }
    }

    /// Blocks reached this node's best chain (`from`: None for its own): noted for the delay,
    /// and in branch mode its own go through the strategy. Called before they are announced.
    pub(super) fn ec_accepted(
        &mut self,
        blocks: &[(Hash, Arc<Block>)],
        from: Option<NodeId>,
        ctx: &mut Context<Self>,
    ) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.eclipse else {
            return;
        };
        let mut fed = Vec::new();
        for (h, b) in blocks {
            role.strategy.note_block(*h, now);
            role.heights.insert(*h, b.header.height);
            if from.is_some() || !role.branch() {
                continue;
            }
            match role.phase {
                Phase::Open => {
                    let holds = role
                        .payment
                        .is_some_and(|(p, _)| b.txs.iter().any(|t| t.id() == p));
                    if role.strategy.on_own_block(*h, b.header.height, holds, now) {
                        fed.push((*h, b.header.height));
                    }
                }
                // Mined on the branch before the switch to the public chain: private too.
                Phase::Starting | Phase::Released => {
                    if role.strategy.private(&b.header.parent) {
                        role.strategy.keep_private(*h);
                    }
                }
            }
        }
        let victim = role.plan.victim;
        let attempt = role.strategy.attempt().unwrap_or(0);
        for (hash, height) in fed {
            self.env.record(Event::EclipseFed(Box::new(EclipseFedEvent {
                victim,
                attempt,
                hash,
                height,
            })));
        }
        self.ec_schedule(ctx);
    }

    /// A block from a peer (not necessarily on this node's best chain): the public chain may
    /// have grown, and the victim may be released; in branch mode, a block above the fork
    /// point is kept from the victim.
    pub(super) fn ec_public_block(&mut self, block: &Block, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.eclipse else {
            return;
        };
        let h = &block.header;
        let hash = block.hash();
        role.heights.insert(hash, h.height);
        // The victim's own blocks are no public chain: it mines on what it was shown.
        if !role.branch() || h.miner == role.private.me() || h.miner == role.victim_address {
            return;
        }
        role.private.note_public(hash, h.height);
        if role.phase == Phase::Open {
            role.block_verdict(&self.env, hash, Some(h.height));
            match role.strategy.on_public_block(h.height, now) {
                Some(r) => self.ec_release(r),
                None => self.ec_schedule(ctx),
            }
        }
    }

    /// Sets a timer for the release, if one is due and not set.
    fn ec_schedule(&mut self, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.eclipse else {
            return;
        };
        let Some(due) = role.strategy.due() else {
            return;
        };
        let Some(wait) = role.private.timer(due, now) else {
            return;
        };
        ctx.run_later(wait, move |act, _| act.ec_tick(due));
    }

    fn ec_tick(&mut self, at: u64) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.eclipse else {
            return;
        };
        if !role.private.fired(at) {
            return;
        }
        if let Some(r) = role.strategy.on_tick(now) {
            self.ec_release(r);
        }
    }

    /// The victim is released: the chain goes back to the public tip, which the victim hears of.
    fn ec_release(&mut self, r: Release) {
        let Some(role) = &mut self.eclipse else {
            return;
        };
        role.phase = Phase::Released;
        role.payment = None;
        let public = role.private.leave(true);
        let victim = role.plan.victim;
        self.env.record(Event::EclipseReleased {
            victim,
            attempt: r.attempt,
            fed: r.fed,
            confirmations: r.confirmations,
            payment_height: r.payment_height,
        });
        if let Some(tip) = public {
            self.send(
                victim,
                WireMsg::Inv {
                    blocks: vec![tip],
                    txs: Vec::new(),
                },
            );
        }
    }

    /// The node's tip moved: its nonce may have; a released attacker starts the next attempt
    /// once its tip is a block of another miner.
    pub(super) fn ec_tip_changed(&mut self, tc: &TipChange) {
        let Some(role) = &mut self.eclipse else {
            return;
        };
        if !role.branch() {
            return;
        }
        let public = role.private.on_tip(tc);
        if role.phase == Phase::Released && public {
            self.ec_begin();
        }
    }
}

fn push_inv(inv: &mut WireMsg, block: Option<Hash>, tx: Option<TxId>) {
    if let WireMsg::Inv { blocks, txs } = inv {
        blocks.extend(block);
        txs.extend(tx);
    }
}
