//! The mempool actor's vote pool (proof of stake): checkpoint votes and equivocation evidence
//! from this node's validator and from peers are checked in themselves (a vote's signature
//! through the shared signature cache, evidence with `Pos::check_evidence`), pooled, and
//! pushed on when new; an equivocation the pool detects (a conflicting vote, a second header
//! for a slot) is traced as `equivocation` and its evidence pushed on too. A peer whose item
//! does not check is penalized as one whose transaction does not (`invalid-item`).

use super::MempoolActor;
use crate::node::messages::*;
use actix::prelude::*;
use chainlab::block::{Evidence, Item, SharedItem};
use chainlab::consensus::pos::pool::VoteAdmission;
use chainlab::consensus::pos::{Pos, VotePool};
use chainlab::consensus::SealRule;
use chainlab::net::Offence;
use chainlab::report::{EquivocationEvent, Event};
use chainlab::{Hash, NodeId};

/// The node's vote pool and the engine that checks what enters it.
pub(super) struct Votes {
    /// Pending votes and evidence.
    pub(super) pool: VotePool,
    pos: Pos,
}

impl Votes {
    pub(super) fn new(pos: Pos) -> Votes {
        Votes {
            pool: VotePool::default(),
            pos,
        }
    }
}

impl MempoolActor {
    /// A peer sent an item that does not check: the same accounting as a bad transaction.
    fn bad_item(&self, from: Option<NodeId>, id: Hash, reason: String) {
        if let Some(peer) = from {
            self.env.penalize(peer, Offence::InvalidItem { id, reason });
        }
    }

    /// Evidence new to this node: traced (first sight) and returned, to push.
    fn first_sight(&self, e: Evidence) -> SharedItem {
        let item = SharedItem::new(Item::Evidence(e));
        self.trace_evidence(&item);
        item
    }

    /// Traces evidence at this node's first sight of it (nothing for a vote).
    fn trace_evidence(&self, item: &SharedItem) {
        let Item::Evidence(e) = item.item() else {
            return;
        };
        // Evidence that passed `check_evidence` names its offender (a proof-of-stake header).
        let (offender, kind) = (e.offender().unwrap_or(u32::MAX), e.kind());
        let id = item.id();
        tracing::debug!(offender, kind, evidence = %id.short(), "equivocation");
        self.env
            .record(Event::Equivocation(Box::new(EquivocationEvent {
                offender,
                kind: kind.into(),
                evidence: id,
            })));
    }

    /// The best chain moved: the pool forgets what the new chain holds, takes back what it
    /// reverted, drops what finality made useless, and relays the conflicts it found in
    /// connected blocks.
    pub(super) fn votes_follow_tip(&mut self, tc: &chainlab::TipChange) {
        let Some(v) = self.votes.as_mut() else { return };
        v.pool.on_tip_change(&tc.connected, &tc.reverted);
        if let Some(SealRule::Pos(rule)) = &tc.next_rule {
            v.pool.on_finalized(&v.pos, rule.state.ffg.finalized);
        }
        let found: Vec<Evidence> = v.pool.take_detected();
        let items: Vec<SharedItem> = found.into_iter().map(|e| self.first_sight(e)).collect();
        self.relay(items, None);
    }

    /// Pushes items to the neighbours (never back to `from`).
    fn relay(&self, items: Vec<SharedItem>, from: Option<NodeId>) {
        if !items.is_empty() {
            self.links.items.do_send(ItemsAccepted { items, from });
        }
    }

    /// Checks `item` in itself (once per process: `Pos::check_item`), pools it, and pushes
    /// what goes on to `relay`.
    fn admit_item(
        &mut self,
        item: SharedItem,
        from: Option<NodeId>,
        relay: &mut Vec<SharedItem>,
    ) -> Result<ItemOutcome, ItemRefused> {
        let id = item.id();
        let cache = self.env.sig_cache.as_deref();
        let Some(v) = self.votes.as_ref() else {
            self.bad_item(from, id, ItemRefused::NotPos.to_string());
            return Err(ItemRefused::NotPos);
        };
        if let Err(e) = v.pos.check_item(0, &item, cache) {
            self.bad_item(from, id, e.to_string());
            return Err(e.into());
        }
        let Some(v) = self.votes.as_mut() else {
            return Err(ItemRefused::NotPos);
        };
        match item.item() {
            Item::Vote(_) => match v.pool.add_vote(&item) {
                VoteAdmission::Added => {
                    relay.push(item);
                    Ok(ItemOutcome::Added)
                }
                VoteAdmission::Known => Ok(ItemOutcome::Known),
                VoteAdmission::Equivocation(e) => {
                    // The vote is new and valid: it goes on too, so that nodes that miss the
                    // evidence still see both votes.
                    let evidence = self.first_sight(*e);
                    let eid = evidence.id();
                    relay.extend([item, evidence]);
                    Ok(ItemOutcome::Equivocation(eid))
                }
            },
            Item::Evidence(e) => {
                if !v.pool.add_evidence(e.clone()) {
                    return Ok(ItemOutcome::Known);
                }
                // Traced at first sight; pushed on as it came.
                self.trace_evidence(&item);
                relay.push(item);
                Ok(ItemOutcome::Added)
            }
        }
    }
}

impl Handler<SubmitItem> for MempoolActor {
    type Result = Result<ItemOutcome, ItemRefused>;
    fn handle(&mut self, m: SubmitItem, _: &mut Context<Self>) -> Self::Result {
        let _e = self.span.clone().entered();
        let mut relay = Vec::new();
        let out = self.admit_item(m.item, m.from, &mut relay);
        if let Err(e) = &out {
            tracing::debug!(from = ?m.from, error = %e, "item refused");
        }
        self.relay(relay, m.from);
        out
    }
}

impl Handler<SubmitItems> for MempoolActor {
    type Result = ();
    fn handle(&mut self, m: SubmitItems, _: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        let mut relay = Vec::new();
        for item in m.items {
            if let Err(e) = self.admit_item(item, Some(m.from), &mut relay) {
                tracing::debug!(from = m.from, error = %e, "item refused");
            }
        }
        self.relay(relay, Some(m.from));
    }
}

impl Handler<NoteHeader> for MempoolActor {
    type Result = ();
    fn handle(&mut self, m: NoteHeader, _: &mut Context<Self>) {
        let _e = self.span.clone().entered();
        let Some(v) = self.votes.as_mut() else { return };
        if let Some(e) = v.pool.note_header(&m.header) {
            let evidence = self.first_sight(e);
            self.relay(vec![evidence], None);
        }
    }
}

impl Handler<GetItems> for MempoolActor {
    type Result = MessageResult<GetItems>;
    fn handle(&mut self, m: GetItems, _: &mut Context<Self>) -> Self::Result {
        let items = match (&self.votes, &m.rule) {
            (Some(v), SealRule::Pos(rule)) => v.pool.template(rule, m.max),
            _ => Vec::new(),
        };
        MessageResult(items)
    }
}
