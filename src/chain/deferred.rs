//! Blocks from untrusted peers whose parent is unknown, held unchecked until the parent is
//! stored.

use crate::block::Block;
use crate::hash::Hash;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Blocks from untrusted peers whose parent is unknown, kept unchecked (checking their
/// signatures would cost work for blocks that may never connect) until the parent is stored.
/// Bounded: when full, the blocks waiting on one parent (the smallest hash) are dropped.
#[derive(Debug, Default)]
pub struct Deferred<P> {
    by_parent: BTreeMap<Hash, Vec<(Arc<Block>, P)>>,
    count: usize,
    capacity: usize,
}

impl<P> Deferred<P> {
    /// Holds at most `capacity` blocks.
    pub fn new(capacity: usize) -> Deferred<P> {
        Deferred {
            by_parent: BTreeMap::new(),
            count: 0,
            capacity: capacity.max(1),
        }
    }

    /// Keeps `block` (whose hash is `hash`), from `source`, until its parent is stored.
    /// Returns the blocks dropped to make room (hash and source): the caller must let them be
    /// fetched again, or a long branch arriving children first would never complete.
    pub fn insert(&mut self, block: Arc<Block>, hash: Hash, source: P) -> Vec<(Hash, P)> {
        let parent = block.header.parent;
        if self
            .by_parent
            .get(&parent)
            .is_some_and(|w| w.iter().any(|(b, _)| b.hash() == hash))
        {
            return Vec::new();
        }
        let mut dropped = Vec::new();
        if self.count >= self.capacity {
            if let Some((_, gone)) = self.by_parent.pop_first() {
                self.count -= gone.len();
                dropped.extend(gone.into_iter().map(|(b, p)| (b.hash(), p)));
            }
        }
        self.by_parent
            .entry(parent)
            .or_default()
            .push((block, source));
        self.count += 1;
        dropped
    }

    /// The blocks that waited for `parent`, now that it is stored.
    pub fn take_children(&mut self, parent: &Hash) -> Vec<(Arc<Block>, P)> {
        let children = self.by_parent.remove(parent).unwrap_or_default();
        self.count -= children.len();
        children
    }

    /// Blocks held.
    pub fn len(&self) -> usize {
        self.count
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Seal;
    use crate::chain::params::ChainParams;

    fn block(parent: u8, nonce: u64) -> Arc<Block> {
        let mut b = ChainParams::for_tests(Vec::new()).genesis_block();
        b.header.parent = Hash([parent; 32]);
        b.header.seal = Seal::Pow {
            difficulty: 1,
            nonce,
        };
        Arc::new(b)
    }

    #[test]
    fn deferred_blocks_wait_for_their_parent_and_stay_bounded() {
        let mut d = Deferred::new(3);
        for (p, n) in [(1, 0), (1, 1), (2, 0)] {
            let b = block(p, n);
            let h = b.hash();
            assert!(d.insert(b.clone(), h, 7u8).is_empty());
            assert!(d.insert(b, h, 7u8).is_empty());
        }
        assert_eq!(d.len(), 3, "a repeat is kept once");
        // Full: parent [1; 32] (the smallest) loses its two blocks.
        let b = block(3, 0);
        let h = b.hash();
        let dropped = d.insert(b, h, 8);
        let expected = vec![(block(1, 0).hash(), 7), (block(1, 1).hash(), 7)];
        assert_eq!(dropped, expected, "the dropped blocks are reported");
        assert_eq!(d.len(), 2);
        assert!(d.take_children(&Hash([1; 32])).is_empty());
        let kids = d.take_children(&Hash([3; 32]));
        assert_eq!(kids.len(), 1);
        assert_eq!(kids[0].1, 8);
        assert_eq!(d.len(), 1);
    }
}
