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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    /// Already stored, or too new to look at again yet: nothing to do.
    Skip,
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
    /// Blocks from untrusted peers waiting, unchecked, for their parent.
    deferred: Deferred<NodeId>,
}

impl Intake {
    /// An empty intake; `untrusted_peers` for TCP runs.
    pub fn new(untrusted_peers: bool) -> Intake {
        Intake {
            untrusted_peers,
            too_new: BTreeMap::new(),
            deferred: Deferred::new(DEFERRED_CAPACITY),
        }
    }

    /// What to do with `block` (hash `hash`) from `from` (None: this node's miner) at local
    /// time `now_ms`. A deferred block is kept here until [`Intake::released`] gives it back.
    pub fn admit(
        &mut self,
        chain: &ChainState,
        block: &Arc<Block>,
        hash: Hash,
        from: Option<NodeId>,
        now_ms: u64,
    ) -> Admit {
        if !self.due(&hash, now_ms) || chain.get(&hash).is_some() {
            return Admit::Skip;
        }
        let parent = block.header.parent;
        match from {
            Some(peer) if self.untrusted_peers && chain.get(&parent).is_none() => {
                // Checking signatures would cost work for a block that may never connect.
                self.deferred.insert(block.clone(), hash, peer);
                Admit::Deferred {
                    sync: self.due(&parent, now_ms),
                }
            }
            _ => Admit::Check,
        }
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

    /// The deferred blocks whose parent is now stored, with the peers they came from.
    pub fn released(&mut self, stored: &Hash) -> Vec<(Arc<Block>, NodeId)> {
        self.deferred.take_children(stored)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::params::ChainParams;

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
        assert_eq!(trusting.admit(&chain, &b, h, Some(1), 0), Admit::Check);
        let mut wary = Intake::new(true);
        assert_eq!(
            wary.admit(&chain, &b, h, None, 0),
            Admit::Check,
            "own miner"
        );
        assert_eq!(
            wary.admit(&chain, &b, h, Some(1), 0),
            Admit::Deferred { sync: true }
        );
        assert!(wary.waiting());
        assert_eq!(wary.released(&Hash([7; 32])), vec![(b, 1)]);
        assert!(!wary.waiting());
        let genesis = chain.genesis();
        let g = chain.get(&genesis).unwrap().clone();
        assert_eq!(wary.admit(&chain, &g, genesis, Some(1), 0), Admit::Skip);
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
        assert_eq!(intake.admit(&chain, &b, h, Some(1), 34_999), Admit::Skip);
        assert!(!intake.sync_for(&h, 34_999));
        assert!(intake.sync_for(&h, 35_000));
        assert_eq!(
            intake.admit(&chain, &b, h, Some(1), 35_000),
            Admit::Deferred { sync: true }
        );
    }
}
