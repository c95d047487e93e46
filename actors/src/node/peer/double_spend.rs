//! The peer actor of a double-spend attacker's node (`[[adversary]] kind = "double-spend"`):
//! it runs the attempts the core strategy ([`DoubleSpend`]) decides on.
//!
//! - **Start.** It asks its chain to start a private branch on the tip (the plumbing it shares
//!   with the eclipse attacker: [`PrivateBranch`]). When the chain answers with the fork point
//!   ([`PrivateStarted`]), it signs the payment (to the merchant) and the conflicting spend
//!   (same nonce, to its own stash address, a higher fee). The payment is pushed to every
//!   neighbour, and marked seen so that it never comes back into this node's mempool; the
//!   conflict goes to its own mempool as the private transaction of its templates, never
//!   pooled or relayed.
//! - **Mining.** Its own blocks go through the strategy and are withheld: never announced or
//!   served. Every block arriving from a peer (not its own) moves the strategy: its height, and
//!   whether it holds the payment.
//! - **Publish.** Every private block is announced, and its chain leaves private mode
//!   ([`PrivateBranch::leave`]): it mines as an honest node on whichever branch is the heavier (its
//!   own, unless it lost a race to an honest block it had not seen yet).
//! - **Give up.** The private blocks stay unserved; its chain leaves private mode and switches
//!   to the public tip it saw. Blocks it mines before the switch extend the abandoned branch:
//!   they are withheld and given up at once.
//! - **Next attempt.** After either, at the first tip change to a block of another miner: its
//!   node is on the public chain then, whatever happened to the last attempt. (Waiting costs an
//!   honest block per attempt, and spares an attempt on a branch that just lost a race.)
//!
//! Honest blocks are not relayed while an attempt is open (they lie on a side branch of this
//! node, and only best-chain blocks are announced): the attacker neither helps nor hinders the
//! merchant's confirmations.

use super::private_branch::{PrivateBranch, RoleLinks};
use super::PeerActor;
use crate::node::messages::PrivateStarted;
use actix::prelude::*;
use chainlab::adversary::double_spend::{Decision, DoubleSpend};
use chainlab::config::{Config, DoubleSpendPlan};
use chainlab::net::wire::WireMsg;
use chainlab::report::{AttackPublishedEvent, AttackStartedEvent, Event, WithheldEvent};
use chainlab::{Address, Block, Hash, TipChange, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an attacker is between attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Its chain was asked for a private branch; the answer has not come.
    Starting,
    /// An attempt is open.
    Open,
    /// It published; the next attempt waits for the first block of another miner on its tip
    /// (its branch has won, or it lost a race and its node follows the honest chain). Its own
    /// blocks meanwhile are an honest miner's.
    Published,
    /// It gave up; its node is not back on the public chain yet. Its own blocks meanwhile
    /// extend the abandoned branch: withheld, and given up at once.
    GaveUp,
    /// Outside its window (`from` / `until`): no attempt; its own blocks are an honest
    /// miner's, and the first block of another miner on its tip inside the window starts one.
    Idle,
}

/// The attempt's payment, and the first public block seen holding it.
struct Payment {
    tx: Arc<Transaction>,
    block: Option<Hash>,
}

/// A double-spend attacker's side of the peer actor.
pub struct DoubleSpendRole {
    branch: PrivateBranch,
    merchant: Address,
    plan: DoubleSpendPlan,
    strategy: DoubleSpend,
    phase: Phase,
    /// Private blocks (of the open attempt, or given up and not yet left behind), to announce
    /// once published and never to serve before.
    held: BTreeMap<Hash, Arc<Block>>,
    payment: Option<Payment>,
}

impl DoubleSpendRole {
    /// The attacker of `plan`, on a chain `chain_id` whose tip gives its account the next
    /// nonce `nonce`.
    pub fn new(plan: DoubleSpendPlan, chain_id: u32, nonce: u64, links: RoleLinks) -> Self {
        DoubleSpendRole {
            branch: PrivateBranch::new(plan.node, chain_id, nonce, links),
            merchant: Config::node_key(plan.merchant).address(),
            strategy: DoubleSpend::new(plan.confirmations, plan.give_up, plan.merchant_delay_ms),
            plan,
            phase: Phase::Starting,
            held: BTreeMap::new(),
            payment: None,
        }
    }

    /// Whether `hash` is one of its private blocks not published.
    pub(super) fn withholds(&self, hash: &Hash) -> bool {
        self.held.contains_key(hash)
    }
}

impl PeerActor {
    /// The peer actor started: a double-spend attacker begins its first attempt.
    pub(super) fn ds_actor_started(&mut self, ctx: &mut Context<Self>) {
        let reply = ctx.address().recipient();
        let Some(role) = &mut self.double_spend else {
            return;
        };
        role.branch.set_reply(reply);
        self.ds_begin();
    }

    /// A double-spend attacker asks its chain for a private branch on the tip.
    fn ds_begin(&mut self) {
        let open = self.window_open();
        let Some(role) = &mut self.double_spend else {
            return;
        };
        if !open {
            // No new attempt outside the window (one under way at `until` ran to its end).
            role.phase = Phase::Idle;
            return;
        }
        role.phase = Phase::Starting;
        role.branch.go_private();
    }

    /// The private branch started on `base` at `height`: pay, and mine the conflict privately.
    fn ds_started(&mut self, base: Hash, height: u64) {
        let Some(role) = &mut self.double_spend else {
            return;
        };
        if role.phase != Phase::Starting {
            return;
        }
        role.phase = Phase::Open;
        role.held.clear();
        let p = &role.plan;
        let (pay, conflict) =
            role.branch
                .sign_spends(role.merchant, p.amount, p.fee, p.conflict_fee);
        let (payment, conflict_id) = (pay.id(), conflict.id());
        let attempt = role.strategy.start(height);
        role.branch.mine_privately(Some(Arc::new(conflict)));
        let pay = Arc::new(pay);
        role.payment = Some(Payment {
            tx: pay.clone(),
            block: None,
        });
        tracing::debug!(attempt, base = %base.short(), height, "double-spend attempt");
        self.env
            .record(Event::AttackStarted(Box::new(AttackStartedEvent {
                attempt,
                height,
                payment,
                conflict: conflict_id,
            })));
        // Seen here: an announcement of it from a neighbour fetches nothing.
        self.gossip.on_item(payment, None);
        for &n in self.gossip.neighbors() {
            self.env.send(n, WireMsg::Txs(vec![pay.clone()]));
        }
    }

    /// A block this attacker mined, just stored on its best chain: withheld unless no attempt
    /// holds it (then it is announced as an honest node's). Returns whether it was withheld.
    pub(super) fn ds_own_block(
        &mut self,
        hash: Hash,
        block: &Arc<Block>,
        ctx: &mut Context<Self>,
    ) -> bool {
        let now = self.env.now_ms();
        let Some(role) = &mut self.double_spend else {
            return false;
        };
        let height = block.header.height;
        match role.phase {
            Phase::Starting | Phase::Published | Phase::Idle => false,
            Phase::GaveUp => {
                // On the abandoned branch: given up at once.
                role.held.insert(hash, block.clone());
                self.env.record(Event::GaveUp { hash, height });
                true
            }
            Phase::Open => {
                role.held.insert(hash, block.clone());
                let d = role.strategy.on_own_block(hash, height, now);
                let published_now =
                    matches!(&d, Decision::Publish(b, _) if b.iter().any(|(h, _)| *h == hash));
                if !published_now {
                    let lead = role.strategy.lead() as u64;
                    self.env.record(Event::Withheld(Box::new(WithheldEvent {
                        hash,
                        height,
                        lead,
                    })));
                }
                self.ds_carry_out(d, ctx);
                true
            }
        }
    }

    /// A block arrived from a peer: unless it is one of the attacker's own (published
    /// earlier), the public chain may have grown, and may hold the payment.
    pub(super) fn ds_public_block(&mut self, block: &Block, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.double_spend else {
            return;
        };
        let h = &block.header;
        if h.miner == role.branch.me() {
            return;
        }
        let hash = block.hash();
        role.branch.note_public(hash, h.height);
        if role.phase != Phase::Open {
            return;
        }
        let mut holds = false;
        if let Some(p) = &mut role.payment {
            holds = block.txs.iter().any(|t| *t == *p.tx);
            if holds && p.block.is_none() {
                p.block = Some(hash);
            }
        }
        let d = role.strategy.on_public_block(h.height, holds, now);
        self.ds_carry_out(d, ctx);
    }

    /// A timer set for `at`: the merchant has had its time, the attempt may publish.
    fn ds_tick(&mut self, at: u64, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.double_spend else {
            return;
        };
        if !role.branch.fired(at) {
            return;
        }
        let d = role.strategy.on_tick(now);
        self.ds_carry_out(d, ctx);
    }

    /// The node's tip moved: its nonce may have, and an attacker between attempts starts the
    /// next one once its tip is a block of another miner: it is on the public chain.
    pub(super) fn ds_tip_changed(&mut self, tc: &TipChange) {
        let Some(role) = &mut self.double_spend else {
            return;
        };
        let public = role.branch.on_tip(tc);
        if matches!(role.phase, Phase::Published | Phase::GaveUp | Phase::Idle) && public {
            role.held.clear();
            self.ds_begin();
        }
    }

    fn ds_carry_out(&mut self, d: Decision, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.double_spend else {
            return;
        };
        match d {
            Decision::Wait => {
                // Longer, with the confirmations: publish once the merchant has had its time,
                // unless a public block comes first.
                let Some(due) = role.strategy.due() else {
                    return;
                };
                let Some(wait) = role.branch.timer(due, now) else {
                    return;
                };
                ctx.run_later(wait, move |act, ctx| act.ds_tick(due, ctx));
            }
            Decision::Publish(blocks, t) => {
                let payment_block = role
                    .payment
                    .take()
                    .and_then(|p| p.block)
                    .unwrap_or(Hash::ZERO);
                role.branch.leave(false);
                role.phase = Phase::Published;
                let mut out = Vec::new();
                for (hash, height) in blocks {
                    if let Some(b) = role.held.remove(&hash) {
                        out.push((hash, height, b));
                    }
                }
                self.env
                    .record(Event::AttackPublished(Box::new(AttackPublishedEvent {
                        attempt: t.attempt,
                        private: t.private,
                        public: t.public,
                        confirmations: t.confirmations,
                        payment_block,
                    })));
                for (hash, height, b) in out {
                    self.env.record(Event::Published { hash, height });
                    let msgs = self.gossip.announce_block(hash, None, None);
                    self.send_all(msgs);
                    self.recent.insert(hash, b);
                }
            }
            Decision::GiveUp(blocks, t) => {
                role.payment = None;
                role.phase = Phase::GaveUp;
                role.branch.leave(true);
                self.env.record(Event::AttackGaveUp {
                    attempt: t.attempt,
                    private: t.private,
                    public: t.public,
                    confirmations: t.confirmations,
                });
                for (hash, height) in blocks {
                    self.env.record(Event::GaveUp { hash, height });
                }
            }
        }
    }
}

impl Handler<PrivateStarted> for PeerActor {
    type Result = ();
    fn handle(&mut self, m: PrivateStarted, _: &mut Context<Self>) {
        self.ds_started(m.base, m.height);
        self.ec_started(m.height);
    }
}
