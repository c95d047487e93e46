//! The blocks a node accepted lately, kept by its peer side to serve `getdata` right after it
//! announced them, without asking the chain again. Bounded; the oldest go first.

use crate::block::Block;
use crate::hash::{Hash, HashKey, HashMapById};
use std::collections::VecDeque;
use std::sync::Arc;

/// How many recently accepted blocks the peer keeps to serve `getdata`.
pub const RECENT_BLOCKS: usize = 64;

/// The last accepted blocks by hash, oldest evicted first.
#[derive(Debug)]
pub struct RecentBlocks {
    order: VecDeque<Hash>,
    blocks: HashMapById<Arc<Block>>,
    capacity: usize,
}

impl RecentBlocks {
    /// Keeps at most `capacity` blocks, in a table keyed with `key`.
    pub fn new(capacity: usize, key: HashKey) -> RecentBlocks {
        RecentBlocks {
            order: VecDeque::with_capacity(capacity),
            blocks: HashMapById::with_hasher(key),
            capacity,
        }
    }

    /// Keeps `block` (hash `hash`), evicting the oldest when full; a repeat changes nothing.
    pub fn insert(&mut self, hash: Hash, block: Arc<Block>) {
        if self.capacity == 0 || self.blocks.contains_key(&hash) {
            return;
        }
        // The oldest goes first, so neither table ever grows past the capacity.
        if self.order.len() >= self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.blocks.remove(&old);
            }
        }
        self.order.push_back(hash);
        self.blocks.insert(hash, block);
    }

    /// All of `hashes`, in order, or None when one is not here.
    pub fn get_all(&self, hashes: &[Hash]) -> Option<Vec<Arc<Block>>> {
        hashes.iter().map(|h| self.blocks.get(h).cloned()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::params::ChainParams;

    fn block(n: u64) -> (Hash, Arc<Block>) {
        let mut b = ChainParams::for_tests(Vec::new()).genesis_block();
        b.header.height = n;
        (b.hash(), Arc::new(b))
    }

    #[test]
    fn the_last_blocks_are_served_whole_or_not_at_all_and_the_oldest_go_first() {
        let mut r = RecentBlocks::new(2, HashKey::default());
        let (a, b, c) = (block(1), block(2), block(3));
        r.insert(a.0, a.1.clone());
        r.insert(b.0, b.1.clone());
        r.insert(b.0, b.1.clone()); // a repeat evicts nothing
        assert_eq!(r.get_all(&[b.0, a.0]).map(|v| v.len()), Some(2));
        r.insert(c.0, c.1.clone());
        assert!(r.get_all(&[a.0]).is_none(), "the oldest went");
        assert!(
            r.get_all(&[b.0, a.0]).is_none(),
            "one missing: none served from here"
        );
        let got = r.get_all(&[c.0, b.0]).expect("both here");
        assert_eq!(got[0].hash(), c.0, "in the order asked");
    }
}
