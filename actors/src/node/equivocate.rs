//! The `equivocate` fault, the validator's side: while it is on, the node's validator signs two
//! conflicting messages where an honest one signs one.
//!
//! - **Blocks.** For each slot it seals a block for, it also seals a *twin*: a block on the same
//!   parent for the same slot, built without transactions or items (so its hash differs from
//!   the first block's whenever that one carries any). The first block goes the normal way
//!   (imported here, announced to every neighbour); the twin is pushed whole to half of the
//!   neighbours (the peer actor's [`PushTwin`]). A node that stores both headers holds a
//!   double-block equivocation (its vote pool's `note_header`).
//! - **Votes.** For each checkpoint vote it casts, it also signs a second vote for the same
//!   target epoch and another target ([`twin_vote`]), pushed to half of the neighbours: a
//!   double vote.
//!
//! The equivocator does not pool its own twins: it learns of them, as everyone else, when
//! they come back through the network. Twins are not traced as `block_mined`/`slot_led`
//! (the fault's start and end are traced as for every fault); a slot whose first block
//! carries nothing gets no twin (the two would be the same block).
//!
//! The miner calls [`twin_block`] with the block it just sealed, **before** it hands that
//! block to the chain (the twin's template must be built on the same tip), and
//! [`twin_vote_push`] with each vote it casts.

use super::messages::{BuildTemplate, PushTwin};
use actix::prelude::*;
use chainlab::block::{Block, BlockHeader, Item, Vote};
use chainlab::consensus::pos::Pos;
use chainlab::consensus::{Consensus, SealRule};
use chainlab::{Address, Hash, KeyPair};
use std::future::Future;
use std::sync::Arc;

/// Seals `template` as the twin of `sealed`: stamped with the same slot, sealed under the same
/// rule with the same key. `None` when it does not conflict with `sealed` (another parent or
/// slot, or the very same block) or cannot be sealed.
pub fn seal_twin(
    engine: &dyn Consensus,
    rule: &SealRule,
    sealed: &BlockHeader,
    mut template: Block,
    key: &KeyPair,
) -> Option<Block> {
    if template.header.parent != sealed.parent || sealed.slot().is_none() {
        return None;
    }
    template.header.timestamp_ms = sealed.timestamp_ms;
    if !engine.seal(rule, &mut template.header, key, 0, 1) {
        return None;
    }
    let h = &template.header;
    let conflicting = h.slot() == sealed.slot() && h.hash() != sealed.hash();
    conflicting.then_some(template)
}

/// Builds, seals and pushes the twin of `sealed` (a block this validator just sealed under
/// `rule`, not yet handed to the chain). The template request leaves at once, so that the
/// chain builds it on the tip `sealed` extends; call it before importing `sealed`, and spawn
/// the future on the miner's context.
pub fn twin_block(
    build: &Recipient<BuildTemplate>,
    push: Recipient<PushTwin>,
    engine: Arc<dyn Consensus>,
    rule: SealRule,
    key: KeyPair,
    miner: Address,
    sealed: BlockHeader,
) -> impl Future<Output = Option<Hash>> {
    let request = build.send(BuildTemplate {
        txs: Vec::new(),
        items: Vec::new(),
        miner,
        stamp: chainlab::chain::Stamp::Now,
    });
    async move {
        let template = request.await.ok()?.ok()?;
        let twin = seal_twin(engine.as_ref(), &rule, &sealed, template, &key)?;
        let hash = twin.hash();
        tracing::debug!(slot = ?twin.header.slot(), twin = %hash.short(), "equivocating: a twin block");
        push.do_send(PushTwin::Block(Arc::new(twin)));
        Some(hash)
    }
}

/// A second vote of the same validator for the same target epoch and another target (a block
/// hash nobody has), signed as `Pos::sign_vote` does: with `vote`, a double vote.
pub fn twin_vote(pos: &Pos, vote: &Vote, key: &KeyPair) -> Vote {
    twin_vote_on(pos.chain_id, vote, key)
}

fn twin_vote_on(chain_id: u32, vote: &Vote, key: &KeyPair) -> Vote {
    let mut twin = *vote;
    twin.target.hash = Hash::sha256_parts(&[b"chainlab/equivocate/target", &vote.target.hash.0]);
    twin.signature = key.sign_digest(&twin.digest(chain_id));
    twin
}

/// [`twin_vote`] as the message that pushes it to half of the neighbours.
pub fn twin_vote_push(pos: &Pos, vote: &Vote, key: &KeyPair) -> PushTwin {
    PushTwin::Item(Item::Vote(twin_vote(pos, vote, key)).into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainlab::block::{Checkpoint, Evidence, Seal};
    use chainlab::config::Config;
    use chainlab::crypto::Signature;

    #[test]
    fn a_twin_vote_is_signed_and_conflicts_with_the_first() {
        let chain_id = 7;
        let key = Config::node_key(2);
        let cp = |epoch, b| Checkpoint {
            epoch,
            hash: Hash([b; 32]),
        };
        let mut v = Vote {
            validator: 2,
            source: cp(0, 0),
            target: cp(1, 9),
            signature: Signature([0; 64]),
        };
        v.signature = key.sign_digest(&v.digest(chain_id));
        let t = twin_vote_on(chain_id, &v, &key);
        assert_eq!((t.validator, t.source, t.target.epoch), (2, v.source, 1));
        assert_ne!(t.target.hash, v.target.hash);
        chainlab::crypto::verify_digest(&key.public, &t.digest(chain_id), &t.signature)
            .expect("the twin is signed by the validator");
        // What the evidence would hold: two votes by one validator for one target epoch.
        let e = Evidence::DoubleVote { a: v, b: t };
        assert!(matches!(e, Evidence::DoubleVote { a, b } if a.target.epoch == b.target.epoch));
    }

    #[test]
    fn no_twin_for_a_proof_of_work_block() {
        let params = chainlab::ChainParams::for_tests(Vec::new());
        let genesis = params.genesis_block();
        let engine = params.engine.clone();
        let rule = SealRule::Pow { difficulty: 1 };
        let mut sealed = genesis.header.clone();
        sealed.seal = Seal::Pow {
            difficulty: 1,
            nonce: 0,
        };
        let template = Block {
            header: sealed.clone(),
            txs: Vec::new(),
            items: Vec::new(),
        };
        let key = Config::node_key(0);
        assert!(seal_twin(&engine, &rule, &sealed, template, &key).is_none());
    }
}
