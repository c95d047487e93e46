//! The orphan pool: checked blocks whose parent is not stored yet, bounded, oldest evicted
//! first, released when their parent arrives.

use crate::block::CheckedBlock;
use crate::hash::Hash;
use std::collections::{BTreeMap, BTreeSet, HashSet};

/// Blocks waiting for their parent, in arrival order.
#[derive(Debug, Default)]
pub(crate) struct OrphanPool {
    pub(crate) by_seq: BTreeMap<u64, CheckedBlock>,
    by_parent: BTreeMap<Hash, BTreeSet<u64>>,
    pub(crate) hashes: HashSet<Hash>,
    next_seq: u64,
}

impl OrphanPool {
    pub(crate) fn insert(&mut self, b: CheckedBlock, max: usize) {
        if max == 0 || !self.hashes.insert(b.hash) {
            return;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_parent
            .entry(b.block.header.parent)
            .or_default()
            .insert(seq);
        self.by_seq.insert(seq, b);
        while self.by_seq.len() > max {
            if let Some((&old, _)) = self.by_seq.iter().next() {
                self.remove(old);
            }
        }
    }

    pub(crate) fn remove(&mut self, seq: u64) -> Option<CheckedBlock> {
        let b = self.by_seq.remove(&seq)?;
        self.hashes.remove(&b.hash);
        let parent = b.block.header.parent;
        if let Some(set) = self.by_parent.get_mut(&parent) {
            set.remove(&seq);
            if set.is_empty() {
                self.by_parent.remove(&parent);
            }
        }
        Some(b)
    }

    pub(crate) fn take_children(&mut self, parent: &Hash) -> Vec<CheckedBlock> {
        let seqs: Vec<u64> = self
            .by_parent
            .get(parent)
            .map(|s| s.iter().copied().collect())
            .unwrap_or_default();
        seqs.into_iter().filter_map(|s| self.remove(s)).collect()
    }
}
