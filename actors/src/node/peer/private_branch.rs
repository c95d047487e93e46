//! What the double-spend attacker ([`super::double_spend`]) and the eclipse attacker in branch
//! mode ([`super::eclipse`]) share: a node that, attempt after attempt, mines a private branch
//! holding one of two conflicting spends of the same coins, and returns to the public chain.
//!
//! - **Start.** [`PrivateBranch::go_private`] asks its chain for a private branch on the tip
//!   ([`GoPrivate`]: fork choice then adopts only the attacker's own blocks above it). The
//!   chain answers with [`PrivateStarted`] after the tip events before it, so the nonce kept
//!   here from those events ([`PrivateBranch::on_tip`]) is the tip's.
//! - **The two spends.** [`PrivateBranch::sign_spends`] signs a payment and a conflicting spend
//!   to the attacker's stash address, at that nonce; the role decides which of the two its
//!   templates hold ([`PrivateBranch::mine_privately`]) and which goes to the network.
//! - **Leave.** [`PrivateBranch::leave`] drops the private transaction and takes the chain
//!   out of private mode, switching to the public tip it saw if asked.
//! - **Timers.** A role waits for a time its strategy names (`due`); [`PrivateBranch::timer`]
//!   sets one timer per time and [`PrivateBranch::fired`] tells whether a timer is the one set.

use crate::node::messages::{GoPrivate, LeavePrivate, PrivateStarted, SetPrivateTx};
use actix::prelude::*;
use chainlab::config::Config;
use chainlab::{Address, Hash, KeyPair, NodeId, TipChange, Transaction};
use std::sync::Arc;
use std::time::Duration;

/// Where a private-branch role sends.
pub struct RoleLinks {
    /// The node's chain: start a private branch.
    pub go_private: Recipient<GoPrivate>,
    /// The node's chain: leave it.
    pub leave_private: Recipient<LeavePrivate>,
    /// The node's mempool: the private transaction of its templates.
    pub private_tx: Recipient<SetPrivateTx>,
}

/// An attacker node's private-branch plumbing (see the module doc).
pub struct PrivateBranch {
    key: KeyPair,
    /// The attacker's address: it pays from it and mines to it.
    me: Address,
    chain_id: u32,
    /// Where the conflicting spend goes.
    stash: Address,
    /// Its account's next nonce on its chain's tip (from the tip events).
    nonce: u64,
    links: RoleLinks,
    /// The peer actor itself, for the chain's answers (set when it starts).
    reply: Option<Recipient<PrivateStarted>>,
    /// The highest block seen from peers (not its own), the first at its height.
    public_tip: Option<(Hash, u64)>,
    /// The time of the timer set, if one is.
    tick_at: Option<u64>,
}

impl PrivateBranch {
    /// Node `id`'s plumbing, on a chain `chain_id` whose tip gives its account the next nonce
    /// `nonce`.
    pub fn new(id: NodeId, chain_id: u32, nonce: u64, links: RoleLinks) -> PrivateBranch {
        let key = Config::node_key(id);
        PrivateBranch {
            me: key.address(),
            key,
            chain_id,
            stash: Config::stash_key(id).address(),
            nonce,
            links,
            reply: None,
            public_tip: None,
            tick_at: None,
        }
    }

    /// The attacker's address.
    pub fn me(&self) -> Address {
        self.me
    }

    /// Where the chain answers (the peer actor, once started).
    pub fn set_reply(&mut self, reply: Recipient<PrivateStarted>) {
        self.reply = Some(reply);
    }

    /// Asks the chain for a private branch on its tip (nothing before the peer started).
    pub fn go_private(&self) {
        if let Some(reply) = self.reply.clone() {
            self.links.go_private.do_send(GoPrivate {
                miner: self.me,
                reply,
            });
        }
    }

    /// The two conflicting spends of one attempt, both at the tip's nonce: `amount` to `to`
    /// with `fee`, and the same `amount` to the attacker's stash with `conflict_fee`.
    pub fn sign_spends(
        &self,
        to: Address,
        amount: u64,
        fee: u64,
        conflict_fee: u64,
    ) -> (Transaction, Transaction) {
        let sign = |to, fee| {
            Transaction::new_signed(&self.key, self.chain_id, to, amount, fee, self.nonce)
        };
        (sign(to, fee), sign(self.stash, conflict_fee))
    }

    /// The private transaction of the mempool's templates (None: none).
    pub fn mine_privately(&self, tx: Option<Arc<Transaction>>) {
        self.links.private_tx.do_send(SetPrivateTx(tx));
    }

    /// Leaves private mode: no private transaction, plain fork choice, and if `to_public`, a
    /// switch to the public tip seen (returned) if fork choice prefers it.
    pub fn leave(&self, to_public: bool) -> Option<Hash> {
        self.mine_privately(None);
        let public = self.public_tip.filter(|_| to_public).map(|(h, _)| h);
        self.links.leave_private.do_send(LeavePrivate { public });
        public
    }

    /// A block from a peer, not the attacker's own: the public tip may have grown.
    pub fn note_public(&mut self, hash: Hash, height: u64) {
        if self.public_tip.is_none_or(|(_, top)| height > top) {
            self.public_tip = Some((hash, height));
        }
    }

    /// The node's tip moved: its nonce may have. Returns whether the new tip is a block of
    /// another miner (its node is on the public chain).
    pub fn on_tip(&mut self, tc: &TipChange) -> bool {
        if let Some((_, a)) = tc.changed.iter().find(|(a, _)| *a == self.me) {
            self.nonce = a.nonce;
        }
        tc.connected
            .last()
            .is_some_and(|b| b.header.miner != self.me)
    }

    /// A timer for `due` (chain ms) at `now_ms`: how long to wait, if no timer is set for it.
    /// The wait ends 1 ms after `due`.
    pub fn timer(&mut self, due: u64, now_ms: u64) -> Option<Duration> {
        if self.tick_at == Some(due) {
            return None;
        }
        self.tick_at = Some(due);
        Some(Duration::from_millis(due.saturating_sub(now_ms) + 1))
    }

    /// A timer set for `at` fired: whether it is the one set (it is spent then).
    pub fn fired(&mut self, at: u64) -> bool {
        if self.tick_at != Some(at) {
            return false;
        }
        self.tick_at = None;
        true
    }
}
