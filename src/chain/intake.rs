//! What a node does with a block that arrives, before paying for its checks: skip it (already
//! stored, or refused as too far in the future and not yet due), hold it unchecked until its
//! parent is stored (blocks from untrusted peers), or check and import it. Also when a missing
//! parent is worth a sync (not while the block that needs it is still too new).
//!
//! Pure: the chain actor asks, acts on the answer and reports rejections back.

use super::deferred::Deferred;
use super::validation::BlockError;
use super::ChainState;
use crate::block::Block;
use crate::hash::Hash;
use crate::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most blocks waiting for their parent, unchecked, per node.
pub const DEFERRED_CAPACITY: usize = 64;

/// How many too-new blocks a node remembers.
pub const TOO_NEW_CAPACITY: usize = 1024;

/// The decision for one arriving block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Already stored, or too new to look at again yet: nothing to do.
    Skip,
    /// Not worth checking (`ChainState::worth_checking`): its branch forks below the fork
    /// floor, or it was not requested and has less work than the tip. Not stored, not relayed.
    Refused(BlockError),
    /// Held unchecked until its parent is stored; `sync` says whether to sync from the
    /// sender meanwhile.
    Deferred {
        /// Start a catch-up sync.
        sync: bool,
    },
    /// Check it and import it.
    Check,
}

/// One node's intake state.
#[derive(Debug)]
pub struct Intake {
    /// Peers come over TCP: a block whose parent is unknown waits unchecked.
    untrusted_peers: bool,
    /// Blocks refused as too far in the future, with the local time they become acceptable.
    too_new: BTreeMap<Hash, u64>,
    /// Blocks from untrusted peers waiting, unchecked, for their parent (with the sender and
    /// whether they came in a requested sync).
    deferred: Deferred<(NodeId, bool)>,
    /// Deferred blocks dropped for room, not yet handed to [`Intake::take_dropped`].
    dropped: Vec<(Hash, NodeId)>,
}

impl Intake {
    /// An empty intake; `untrusted_peers` for TCP runs.
    pub fn new(untrusted_peers: bool) -> Intake {
        Intake {
            untrusted_peers,
            too_new: BTreeMap::new(),
            deferred: Deferred::new(DEFERRED_CAPACITY),
            dropped: Vec::new(),
        }
    }

    /// What to do with `block` (hash `hash`) from `from` (None: this node's miner) at local
    /// time `now_ms`; `from_sync` when it came in the reply to a sync this node asked for. A
    /// deferred block is kept here until [`Intake::released`] gives it back.
    pub fn admit(
        &mut self,
        chain: &ChainState,
        block: &Arc<Block>,
        hash: Hash,
        from: Option<NodeId>,
        from_sync: bool,
        now_ms: u64,
    ) -> Admit {
        if !self.due(&hash, now_ms) || chain.get(&hash).is_some() {
            return Admit::Skip;
        }
        let parent = block.header.parent;
        let Some(peer) = from else {
            return Admit::Check;
        };
        if chain.get(&parent).is_some() {
            return match chain.worth_checking(&block.header, from_sync) {
                Ok(()) => Admit::Check,
                Err(e) => Admit::Refused(e),
            };
        }
        if !self.untrusted_peers {
            return Admit::Check;
        }
        // Checking signatures would cost work for a block that may never connect.
        let dropped = self.deferred.insert(block.clone(), hash, (peer, from_sync));
        self.dropped
            .extend(dropped.into_iter().map(|(h, (p, _))| (h, p)));
        Admit::Deferred {
            sync: self.due(&parent, now_ms),
        }
    }

    /// Deferred blocks dropped for room since the last call, with their senders: the caller
    /// must let them be fetched again (they are no longer held anywhere).
    pub fn take_dropped(&mut self) -> Vec<(Hash, NodeId)> {
        std::mem::take(&mut self.dropped)
    }

    /// Whether a block whose parent `missing` is unknown should start a sync: not while
    /// `missing` itself was refused as too new and is not yet due.
    pub fn sync_for(&self, missing: &Hash, now_ms: u64) -> bool {
        self.due(missing, now_ms)
    }

    fn due(&self, hash: &Hash, now_ms: u64) -> bool {
        self.too_new.get(hash).is_none_or(|at| now_ms >= *at)
    }

    /// `hash` was refused with `error`: a block too far in the future is remembered until it
    /// is due, so that neither it nor orphans waiting on it are fetched again before then.
    pub fn rejected(&mut self, hash: Hash, error: &BlockError) {
        if let BlockError::TimestampTooNew { ts, max_ahead, .. } = error {
            if self.too_new.len() >= TOO_NEW_CAPACITY {
                self.too_new.pop_first();
            }
            self.too_new.insert(hash, ts.saturating_sub(*max_ahead));
        }
    }

    /// Whether blocks wait for a parent (callers skip collecting hashes when none do).
    pub fn waiting(&self) -> bool {
        !self.deferred.is_empty()
    }

    /// The deferred blocks whose parent is now stored, with the peers they came from and
    /// whether they came in a requested sync.
    pub fn released(&mut self, stored: &Hash) -> Vec<(Arc<Block>, NodeId, bool)> {
        self.deferred
            .take_children(stored)
            .into_iter()
            .map(|(b, (p, s))| (b, p, s))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::params::ChainParams;
    use crate::chain::validation::check_block;
    use crate::consensus::pow::grind;
    use crate::crypto::Address;
    use crate::net::gossip::{Gossip, GossipPolicy};
    use crate::net::wire::WireMsg;

    fn orphan(chain: &ChainState) -> Arc<Block> {
        let mut b = chain.get(&chain.genesis()).unwrap().as_ref().clone();
        b.header.parent = Hash([7; 32]);
        b.header.height = 5;
        Arc::new(b)
    }

    #[test]
    fn unknown_parents_from_untrusted_peers_wait_and_trusted_ones_are_checked() {
        let chain = ChainState::new(Arc::new(ChainParams::for_tests(Vec::new())));
        let b = orphan(&chain);
        let h = b.hash();
        let mut trusting = Intake::new(false);
        assert_eq!(
            trusting.admit(&chain, &b, h, Some(1), false, 0),
            Admit::Check
        );
        let mut wary = Intake::new(true);
        assert_eq!(
            wary.admit(&chain, &b, h, None, false, 0),
            Admit::Check,
            "own miner"
        );
        assert_eq!(
            wary.admit(&chain, &b, h, Some(1), false, 0),
            Admit::Deferred { sync: true }
        );
        assert!(wary.waiting());
        assert_eq!(wary.released(&Hash([7; 32])), vec![(b, 1, false)]);
        assert!(!wary.waiting());
        let genesis = chain.genesis();
        let g = chain.get(&genesis).unwrap().clone();
        assert_eq!(
            wary.admit(&chain, &g, genesis, Some(1), false, 0),
            Admit::Skip
        );
    }

    /// What a node does with a block from peer 1: note it (gossip), then skip, hold, refuse
    /// or check and import it with what it unlocks; dropped deferred blocks are forgotten.
    fn receive(node: &mut ChainState, intake: &mut Intake, gossip: &mut Gossip, b: Arc<Block>) {
        let now = u64::MAX / 4;
        if !gossip.on_item(b.hash(), Some(1)) {
            return;
        }
        let mut queue = vec![(b, false)];
        while let Some((b, sync)) = queue.pop() {
            let h = b.hash();
            if intake.admit(node, &b, h, Some(1), sync, now) == Admit::Check {
                let checked = check_block(b, node.params(), None).expect("valid");
                let out = node.import(checked, now, 0).expect("imports");
                for (h, _) in out.accepted {
                    queue.extend(intake.released(&h).into_iter().map(|r| (r.0, r.2)));
                }
            }
        }
        for (h, _) in intake.take_dropped() {
            gossip.forget(&h);
        }
    }

    /// A branch three times as long as the deferred buffer arrives children first: most of it
    /// is dropped unchecked, but each dropped block is fetched again at its next announcement,
    /// so announcing the branch again until it is complete completes it, whatever the order.
    #[test]
    fn a_long_branch_delivered_children_first_completes() {
        let params = Arc::new(ChainParams::for_tests(Vec::new()));
        let mut source = ChainState::new(params.clone());
        let n = 3 * DEFERRED_CAPACITY as u64;
        let blocks: Vec<Arc<Block>> = (1..=n)
            .map(|i| {
                let mut b = source
                    .build_block(&[], Vec::new(), Address([1; 20]), i * 10_000)
                    .expect("the reward fits");
                grind(&mut b.header, 0, u64::MAX).expect("sealed");
                let c = check_block(Arc::new(b), &params, None).expect("valid");
                source.import(c.clone(), i * 10_000, 0).expect("imports");
                c.block
            })
            .collect();
        let hashes: Vec<Hash> = blocks.iter().map(|b| b.hash()).collect();
        let mut node = ChainState::new(params.clone());
        let mut intake = Intake::new(true);
        let policy = GossipPolicy {
            seen_capacity: 10_000,
            peer_known_capacity: 10_000,
            request_timeout_ms: 1_000,
            sync_timeout_ms: 5_000,
            block_push: 0,
        };
        let mut gossip = Gossip::new(policy, vec![1], crate::hash::HashKey::default());
        let mut rounds = 0;
        while node.height() < n {
            rounds += 1;
            assert!(rounds <= n, "no progress after {n} announcements");
            let missing: Vec<Hash> = hashes
                .iter()
                .copied()
                .filter(|h| !node.contains(h))
                .collect();
            let Some(WireMsg::GetData { blocks: asked, .. }) =
                gossip.on_inv(1, &hashes, &[], rounds * 2_000, |h| node.contains(h))
            else {
                panic!(
                    "round {rounds}: {} blocks missing, none asked for",
                    missing.len()
                );
            };
            let mut held = 0;
            for h in &missing {
                held += usize::from(!asked.contains(h));
            }
            assert!(
                held <= DEFERRED_CAPACITY,
                "round {rounds}: {held} missing blocks not asked for again (at most the {} held)",
                DEFERRED_CAPACITY
            );
            for h in asked.iter().rev() {
                let i = hashes.iter().position(|x| x == h).expect("one of ours");
                receive(&mut node, &mut intake, &mut gossip, blocks[i].clone());
            }
            if rounds == 1 {
                assert!(node.height() < n, "the first round drops blocks");
            }
        }
        assert_eq!(node.tip(), source.tip());
    }

    #[test]
    fn a_too_new_block_is_skipped_until_due_and_holds_back_syncs_for_its_children() {
        let chain = ChainState::new(Arc::new(ChainParams::for_tests(Vec::new())));
        let b = orphan(&chain);
        let h = b.hash();
        let mut intake = Intake::new(true);
        let err = BlockError::TimestampTooNew {
            ts: 50_000,
            now: 0,
            max_ahead: 15_000,
        };
        intake.rejected(h, &err);
        assert_eq!(
            intake.admit(&chain, &b, h, Some(1), false, 34_999),
            Admit::Skip
        );
        assert!(!intake.sync_for(&h, 34_999));
        assert!(intake.sync_for(&h, 35_000));
        assert_eq!(
            intake.admit(&chain, &b, h, Some(1), false, 35_000),
            Admit::Deferred { sync: true }
        );
    }
}
