//! The peer actor of a spam or forkspam adversary's node (`[[adversary]] kind = "spam"` /
//! `"forkspam"`): besides running the honest code (it mines with its share, relays, serves),
//! it floods at a constant rate ([`Pacer`]) from its start until the end of the load period:
//!
//! - **low-fee**: valid transfers from its funded accounts, each account's next nonce, paying
//!   `mempool.min_fee`, submitted to its own mempool: admitted there, they are announced and
//!   served by gossip as any transaction (an account already `max_nonce_gap` ahead of the
//!   chain waits; an account with a submission in flight too);
//! - **invalid-tx**: transactions with a flaw ([`TxFlaw`], in turn) from its node key, pushed
//!   to every neighbour;
//! - **invalid-block**: blocks on its tip with a flaw ([`BlockFlaw`], in turn), pushed to
//!   every neighbour;
//! - **forkspam**: valid-looking empty blocks on its best chain's block `fork_depth` below its
//!   tip (genesis at most), at the difficulty that height carries, each a new sibling, pushed
//!   to every neighbour; only blocks lower than its tip (with less work: a side branch), so
//!   it waits while its chain is too short for the depth.
//!
//! Each item sent is traced (`spam_sent`).

use super::PeerActor;
use crate::node::messages::SubmitTx;
use actix::prelude::*;
use chainlab::adversary::spam::{
    fork_block, invalid_block, invalid_tx, BestHeaders, BlockFlaw, Pacer, TxFlaw, TxSpec,
};
use chainlab::chain::params::ChainParams;
use chainlab::config::{Config, SpamMode, SpamPlan};
use chainlab::mempool::MempoolError;
use chainlab::net::wire::WireMsg;
use chainlab::report::{Event, SpamSentEvent};
use chainlab::{Address, Block, KeyPair, TipChange, Transaction};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// What an overspending transaction claims its sender holds, at least: more than any
/// account can (its node key earns rewards, so its balance is not 0).
const OVERSPEND: u64 = u64::MAX / 2;

/// A spam or forkspam adversary's side of the peer actor.
pub struct SpamRole {
    plan: SpamPlan,
    params: Arc<ChainParams>,
    /// Its node key: invalid transactions are signed with it, its blocks name it.
    key: KeyPair,
    me: Address,
    pacer: Pacer,
    /// Its best chain (what its blocks are built on).
    best: BestHeaders,
    /// Items made so far (each one's flaw and salt).
    seq: u64,
    /// When it started and when it stops, cluster ms.
    start_ms: u64,
    until_ms: u64,
    /// Low-fee: the accounts, their next nonce to send, the chain's next nonce, whether a
    /// submission is in flight; and where the round-robin stands.
    keys: Vec<KeyPair>,
    index: BTreeMap<Address, usize>,
    next: Vec<u64>,
    on_chain: Vec<u64>,
    in_flight: Vec<bool>,
    cursor: usize,
}

impl SpamRole {
    /// The adversary of `plan` on a chain whose best blocks are `best` (genesis first),
    /// flooding for `duration` after it starts.
    pub fn new(
        plan: SpamPlan,
        params: Arc<ChainParams>,
        best: impl IntoIterator<Item = Arc<Block>>,
        duration: Duration,
    ) -> SpamRole {
        let key = Config::node_key(plan.node);
        let keys: Vec<KeyPair> = (0..plan.accounts)
            .map(|i| Config::spam_key(plan.node, i))
            .collect();
        let index = keys
            .iter()
            .enumerate()
            .map(|(i, k)| (k.address(), i))
            .collect();
        let n = keys.len();
        SpamRole {
            me: key.address(),
            key,
            pacer: Pacer::new(plan.rate),
            best: BestHeaders::new(best),
            seq: 0,
            start_ms: 0,
            until_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
            keys,
            index,
            next: vec![0; n],
            on_chain: vec![0; n],
            in_flight: vec![false; n],
            cursor: 0,
            plan,
            params,
        }
    }

    /// The timer's period: about one item per tick, between 10 ms and 200 ms.
    fn tick(&self) -> Duration {
        let ms = (1000.0 / self.plan.rate.max(1e-3)).clamp(10.0, 200.0);
        Duration::from_millis(ms as u64)
    }

    /// The next low-fee account free to send: none in flight, not `max_nonce_gap` ahead.
    fn free_account(&mut self) -> Option<usize> {
        let n = self.keys.len();
        for k in 0..n {
            let i = (self.cursor + k) % n;
            let ahead = self.next[i].saturating_sub(self.on_chain[i]);
            if !self.in_flight[i] && ahead < self.plan.max_nonce_gap.max(1) {
                self.cursor = (i + 1) % n;
                return Some(i);
            }
        }
        None
    }
}

impl PeerActor {
    /// Makes this node a spam or forkspam adversary's (`[[adversary]]`).
    pub fn with_spam(mut self, role: Option<SpamRole>) -> PeerActor {
        self.spam = role;
        self
    }

    /// The peer actor started: the flood begins.
    pub(super) fn spam_started(&mut self, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.spam else {
            return;
        };
        role.start_ms = now;
        role.until_ms = now.saturating_add(role.until_ms);
        let every = role.tick();
        ctx.run_interval(every, |act, ctx| act.spam_tick(ctx));
    }

    /// The node's tip moved: the best chain its blocks build on, and its accounts' nonces.
    pub(super) fn spam_tip_changed(&mut self, tc: &TipChange) {
        let Some(role) = &mut self.spam else {
            return;
        };
        role.best.connect(tc.connected.iter().cloned());
        for (addr, account) in &tc.changed {
            if let Some(&i) = role.index.get(addr) {
                role.on_chain[i] = account.nonce;
                role.next[i] = role.next[i].max(account.nonce);
            }
        }
    }

    fn spam_tick(&mut self, ctx: &mut Context<Self>) {
        let now = self.env.now_ms();
        let Some(role) = &mut self.spam else {
            return;
        };
        if now >= role.until_ms {
            return;
        }
        let due = role.pacer.take_due(now.saturating_sub(role.start_ms));
        // Outside its window (`from` / `until`) it sends nothing: what falls due is dropped,
        // not saved up for a burst.
        if !self.window_open() {
            return;
        }
        for _ in 0..due {
            match self.spam.as_ref().and_then(|r| r.plan.mode) {
                Some(SpamMode::LowFee) => self.spam_low_fee(ctx),
                Some(SpamMode::InvalidTx) => self.spam_invalid_tx(),
                Some(SpamMode::InvalidBlock) => self.spam_invalid_block(now),
                None => self.spam_fork_block(now),
            }
        }
    }

    /// A valid low-fee transfer into its own mempool (announced from there by gossip).
    fn spam_low_fee(&mut self, ctx: &mut Context<Self>) {
        let Some(role) = &mut self.spam else {
            return;
        };
        let Some(i) = role.free_account() else {
            return;
        };
        let to = role.keys[(i + 1) % role.keys.len()].address();
        let tx = Transaction::new_signed(
            &role.keys[i],
            role.params.chain_id,
            to,
            1,
            role.plan.fee,
            role.next[i],
        );
        role.in_flight[i] = true;
        let id = tx.id();
        let fut = self.links.submit.send(SubmitTx {
            tx: Arc::new(tx),
            id: Some(id),
            from: None,
        });
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            let Some(role) = &mut act.spam else {
                return;
            };
            role.in_flight[i] = false;
            match res {
                Ok(Ok(_)) => {
                    role.next[i] += 1;
                    act.env.record(Event::SpamSent(Box::new(SpamSentEvent {
                        id,
                        block: false,
                        flaw: "low-fee".into(),
                        height: 0,
                        peers: 0,
                    })));
                }
                Ok(Err(
                    MempoolError::NonceTooLow { next, .. } | MempoolError::NonceGap { next, .. },
                )) => role.next[i] = next,
                _ => {}
            }
        }));
    }

    /// An invalid transaction pushed to every neighbour.
    fn spam_invalid_tx(&mut self) {
        let Some(role) = &mut self.spam else {
            return;
        };
        let flaw = TxFlaw::nth(role.seq);
        let tx = invalid_tx(
            flaw,
            &role.key,
            &TxSpec {
                chain_id: role.params.chain_id,
                to: Config::stash_key(role.plan.node).address(),
                next_nonce: 0,
                // More than the whole supply: its node key earns block rewards.
                balance: OVERSPEND,
                max_nonce_gap: role.plan.max_nonce_gap,
                fee: role.plan.fee,
                seq: role.seq,
            },
        );
        role.seq += 1;
        let id = tx.id();
        self.gossip.on_item(id, None);
        let tx = Arc::new(tx);
        let peers = self.gossip.neighbors().to_vec();
        for &n in &peers {
            self.env.send(n, WireMsg::Txs(vec![tx.clone()]));
        }
        self.env.record(Event::SpamSent(Box::new(SpamSentEvent {
            id,
            block: false,
            flaw: flaw.name().into(),
            height: 0,
            peers: peers.len() as u64,
        })));
    }

    /// An invalid block on its tip pushed to every neighbour.
    fn spam_invalid_block(&mut self, now: u64) {
        let Some(role) = &mut self.spam else {
            return;
        };
        let flaw = BlockFlaw::nth(role.seq);
        let salt = role.seq;
        role.seq += 1;
        let tip = role.best.height();
        let Some((parent, spec)) = role.best.child_spec(&role.params.engine, tip, role.me, now)
        else {
            return;
        };
        let bad_tx = invalid_tx(
            TxFlaw::BadSignature,
            &role.key,
            &TxSpec {
                chain_id: role.params.chain_id,
                to: role.me,
                next_nonce: 0,
                balance: 0,
                max_nonce_gap: role.plan.max_nonce_gap,
                fee: role.plan.fee,
                seq: salt,
            },
        );
        let Some(block) = invalid_block(flaw, &parent, &spec, bad_tx, salt) else {
            return;
        };
        self.spam_push_block(block, flaw.name());
    }

    /// A cheap block forked `fork_depth` below its tip, pushed to every neighbour.
    fn spam_fork_block(&mut self, now: u64) {
        let Some(role) = &mut self.spam else {
            return;
        };
        let salt = role.seq;
        role.seq += 1;
        let tip = role.best.height();
        let at = tip.saturating_sub(role.plan.fork_depth);
        if at + 1 >= tip {
            // Not below its tip yet: no side branch (the chain is too short for the depth).
            return;
        }
        let Some((parent, spec)) = role.best.child_spec(&role.params.engine, at, role.me, now)
        else {
            return;
        };
        let Some(block) = fork_block(&parent, &spec, salt) else {
            return;
        };
        self.spam_push_block(block, "fork");
    }

    fn spam_push_block(&mut self, block: Block, flaw: &str) {
        let hash = block.hash();
        let height = block.header.height;
        self.gossip.on_item(hash, None);
        let block = Arc::new(block);
        let peers = self.gossip.neighbors().to_vec();
        for &n in &peers {
            self.env.send(n, WireMsg::Block(block.clone()));
        }
        self.env.record(Event::SpamSent(Box::new(SpamSentEvent {
            id: hash,
            block: true,
            flaw: flaw.into(),
            height,
            peers: peers.len() as u64,
        })));
    }
}
