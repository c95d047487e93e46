//! The mempool actor: admits transactions (core `Mempool::admit`), serves templates and
//! `getdata`, follows the tip. Under proof of stake it also holds the node's vote pool
//! (pending checkpoint votes and equivocation evidence: [`votes`]). On the `[frontrun]`
//! attacker's node it also copies the watched calls it admits (the core decides:
//! [`Frontrunner::copy`]) and admits each copy, which the peer then gossips. On a double-spend
//! attacker's node it holds the attempt's conflicting spend outside the pool: first in every
//! template, never announced or served ([`SetPrivateTx`]).

mod votes;

use super::messages::*;
use super::NodeEnv;
use actix::prelude::*;
use chainlab::contract::frontrun::Frontrunner;
use chainlab::mempool::{Dropped, Mempool, MempoolError};
use chainlab::report::{Event, FrontrunEvent, SpamRefusedEvent, TxRejectedEvent};
use chainlab::{NodeId, Transaction, TxId};
use std::sync::Arc;

/// Where the mempool actor sends (the peer).
#[derive(Clone)]
pub struct MempoolLinks {
    /// A transaction was admitted: announce it.
    pub accepted: Recipient<TxsAccepted>,
    /// Long-pooled transactions: announce them again.
    pub rebroadcast: Recipient<Rebroadcast>,
    /// Consensus items the vote pool took in: push them (proof of stake).
    pub items: Recipient<ItemsAccepted>,
}

/// See the module doc.
pub struct MempoolActor {
    pool: Mempool,
    env: NodeEnv,
    /// How often long-pooled transactions are announced again (zero: never).
    rebroadcast: std::time::Duration,
    links: MempoolLinks,
    /// The vote pool and the engine that checks its items (proof of stake only).
    votes: Option<votes::Votes>,
    /// This node front-runs (`[frontrun]`).
    frontrun: Option<Frontrunner>,
    /// A double-spend attacker's conflicting spend, for its private blocks only.
    private: Option<Arc<Transaction>>,
    /// At an honest node of a run with spam adversaries: their senders, sorted (what this
    /// pool does with their transactions is traced; measurement only).
    spam_watch: Option<Arc<Vec<chainlab::Address>>>,
    /// Arrivals refused because the pool was full ([`MempoolError::PoolFull`]).
    refused_full: u64,
    /// The most transactions the pool held at once.
    peak: usize,
    span: tracing::Span,
}

impl MempoolActor {
    /// A mempool actor.
    pub fn new(
        env: NodeEnv,
        pool: Mempool,
        rebroadcast: std::time::Duration,
        links: MempoolLinks,
    ) -> MempoolActor {
        MempoolActor {
            span: tracing::info_span!("node", id = env.id),
            pool,
            env,
            rebroadcast,
            links,
            votes: None,
            frontrun: None,
            private: None,
            spam_watch: None,
            refused_full: 0,
            peak: 0,
        }
    }

    /// The node front-runs the calls `attacker` watches.
    pub fn with_frontrunner(mut self, attacker: Option<Frontrunner>) -> MempoolActor {
        self.frontrun = attacker;
        self
    }

    /// Traces what the pool does with the transactions of `senders` (spam adversaries').
    pub fn with_spam_watch(mut self, senders: Option<Arc<Vec<chainlab::Address>>>) -> Self {
        self.spam_watch = senders;
        self
    }

    /// Whether `tx` is a watched spam sender's.
    fn is_spam(&self, tx: &Transaction) -> bool {
        self.spam_watch
            .as_ref()
            .is_some_and(|w| w.binary_search(&tx.sender()).is_ok())
    }

    /// Under proof of stake (`pos` is the engine), the actor also holds the node's vote pool.
    pub fn with_votes(mut self, pos: Option<chainlab::consensus::pos::Pos>) -> MempoolActor {
        self.votes = pos.map(votes::Votes::new);
        self
    }
}

impl MempoolActor {
    /// Traces what the pool let go by policy.
    fn dropped(&self, dropped: impl IntoIterator<Item = Dropped>) {
        for Dropped { id: txid, reason } in dropped {
            tracing::trace!(tx = %txid.short(), reason = reason.name(), "tx dropped");
            self.env.record(Event::TxDropped { txid, reason });
        }
    }
}

impl Actor for MempoolActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let every = self.rebroadcast;
        if every.is_zero() {
            return;
        }
        ctx.run_interval(every, move |act, _| {
            let now = act.env.now_ms();
            let ids = act
                .pool
                .older_than(now.saturating_sub(every.as_millis() as u64));
            if !ids.is_empty() {
                act.links.rebroadcast.do_send(Rebroadcast { ids });
            }
        });
    }
}

impl Handler<SubmitTx> for MempoolActor {
    type Result = Result<TxId, MempoolError>;
    fn handle(&mut self, m: SubmitTx, _: &mut Context<Self>) -> Self::Result {
        let _e = self.span.clone().entered();
        let id = m.id.unwrap_or_else(|| m.tx.id());
        let mut accepted = Vec::new();
        let res = self.submit(m.tx, id, m.from, &mut accepted);
        self.announce(accepted);
        res
    }
}

impl Handler<SubmitTxs> for MempoolActor {
    type Result = ();
    fn handle(&mut self, m: SubmitTxs, _: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        let mut accepted = Vec::with_capacity(m.txs.len());
        for (tx, id) in m.txs {
            // A refusal is recorded and penalised inside; the next transaction goes on.
            let _ = self.submit(tx, id, Some(m.from), &mut accepted);
        }
        self.announce(accepted);
    }
}

impl MempoolActor {
    /// Admits one transaction (core `Mempool::admit`) offered by `from` (None: a client),
    /// with what goes with it: its events, the sender's penalty for an invalid one, the spam
    /// trace, the front-run hook. Its id, and any front-run copy's, go onto `accepted` (the
    /// caller tells the peer, once per message).
    fn submit(
        &mut self,
        tx: Arc<Transaction>,
        id: TxId,
        from: Option<NodeId>,
        accepted: &mut Vec<(TxId, Option<NodeId>)>,
    ) -> Result<TxId, MempoolError> {
        let now = self.env.now_ms();
        let dropped = match self.pool.admit(tx.clone(), id, now, self.env.cache()) {
            Ok(dropped) => dropped,
            Err(e) => {
                if let MempoolError::PoolFull { .. } = e {
                    // A full pool refuses before any signature is checked; nothing is
                    // announced, so peers relay nothing for it.
                    self.refused_full += 1;
                }
                if from.is_some() && e != MempoolError::AlreadyKnown && self.is_spam(&tx) {
                    self.env
                        .record(Event::SpamRefused(Box::new(SpamRefusedEvent {
                            txid: id,
                            reason: e.to_string(),
                        })));
                }
                // Invalid in itself is the sender's fault; policy refusals (fee, nonce) are not.
                if let (MempoolError::Invalid(reason), Some(peer)) = (&e, from) {
                    self.env.penalize(
                        peer,
                        chainlab::net::Offence::InvalidTx {
                            id,
                            reason: reason.to_string(),
                        },
                    );
                }
                return Err(e);
            }
        };
        self.dropped(dropped);
        self.peak = self.peak.max(self.pool.len());
        if self.is_spam(&tx) {
            self.env.record(Event::SpamAdmitted { txid: id });
        }
        accepted.push((id, from));
        tracing::trace!(tx = %id.short(), "tx admitted");
        self.front_run(&tx, id, now, accepted);
        Ok(id)
    }

    /// Tells the peer what was admitted, in one message (none when nothing was).
    fn announce(&self, accepted: Vec<(TxId, Option<NodeId>)>) {
        if !accepted.is_empty() {
            self.links.accepted.do_send(TxsAccepted { ids: accepted });
        }
    }

    /// On the attacker's node: copies `victim` (admitted just now) if the core says so, with
    /// the attacker's next nonce in this pool, and admits the copy as if submitted here (its
    /// id goes onto `accepted`, right after the victim's).
    fn front_run(
        &mut self,
        victim: &Transaction,
        victim_id: TxId,
        now: u64,
        accepted: &mut Vec<(TxId, Option<NodeId>)>,
    ) {
        let Some(attacker) = &self.frontrun else {
            return;
        };
        let nonce = self.pool.next_nonce(&attacker.address());
        let Some(copy) = attacker.copy(victim, nonce) else {
            return;
        };
        let (copy_id, fee) = (copy.id(), copy.fee);
        self.env.record(Event::TxSubmitted { txid: copy_id });
        match self
            .pool
            .admit(Arc::new(copy), copy_id, now, self.env.cache())
        {
            Ok(dropped) => {
                self.dropped(dropped);
                accepted.push((copy_id, None));
                self.env.record(Event::Frontrun(Box::new(FrontrunEvent {
                    victim: victim_id,
                    copy: copy_id,
                    fee,
                })));
                tracing::debug!(victim = %victim_id.short(), copy = %copy_id.short(), "front-run");
            }
            Err(e) => {
                let reason = format!("front-run copy of {}: {e}", victim_id.short());
                self.env.record(Event::TxRejected(Box::new(TxRejectedEvent {
                    txid: copy_id,
                    reason,
                })));
            }
        }
    }
}

impl Handler<TipChanged> for MempoolActor {
    type Result = ();
    fn handle(&mut self, m: TipChanged, _: &mut Context<Self>) {
        let now = self.env.now_ms();
        let tc = &m.0;
        let cache = self.env.cache();
        let out = self.pool.on_tip_change(
            tc.accounts.as_ref(),
            &tc.changed,
            &tc.included,
            &tc.reverted_txs,
            now,
            cache,
        );
        self.dropped(out.dropped);
        let expired = self.pool.expire(now);
        self.dropped(expired);
        self.votes_follow_tip(tc);
    }
}

impl Handler<GetTemplate> for MempoolActor {
    type Result = MessageResult<GetTemplate>;
    fn handle(&mut self, m: GetTemplate, _: &mut Context<Self>) -> Self::Result {
        let Some(private) = &self.private else {
            return MessageResult(self.pool.template(m.max));
        };
        // The conflicting spend first (the template skips it once a block of the branch holds
        // it: its nonce is used); none of the attacker's other transactions, the payment
        // least of all.
        let me = private.sender();
        let mut txs = vec![private.clone()];
        txs.extend(
            self.pool
                .template(m.max)
                .into_iter()
                .filter(|t| t.sender() != me),
        );
        txs.truncate(m.max.max(1));
        MessageResult(txs)
    }
}

impl Handler<SetPrivateTx> for MempoolActor {
    type Result = ();
    fn handle(&mut self, m: SetPrivateTx, _: &mut Context<Self>) {
        self.private = m.0;
    }
}

impl Handler<GetTxs> for MempoolActor {
    type Result = MessageResult<GetTxs>;
    fn handle(&mut self, m: GetTxs, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            m.ids
                .iter()
                .filter_map(|id| self.pool.get(id).cloned())
                .collect(),
        )
    }
}

impl Handler<GetPoolIds> for MempoolActor {
    type Result = MessageResult<GetPoolIds>;
    fn handle(&mut self, _: GetPoolIds, _: &mut Context<Self>) -> Self::Result {
        MessageResult(PoolIds {
            all: self.pool.ids(),
            gapped: self.pool.gapped(),
            refused_full: self.refused_full,
            peak: self.peak,
        })
    }
}

impl Handler<Shutdown> for MempoolActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
