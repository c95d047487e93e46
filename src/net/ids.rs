//! The id tables of one node's gossip: what it has seen, and which neighbours know each id.
//!
//! Every table holds a 64-bit short id, SipHash-1-3 of the 32-byte id under the node's table
//! key ([`ShortIds`]), computed once per id and message. Two ids share a short id with
//! probability 2^-64 per pair; then the second counts as present (a block or transaction not
//! fetched from, or not announced to, one peer: it comes by another path). Choosing an id that
//! collides with a given one takes about 2^64 tries even for an attacker who knows the key
//! (`docs/design.md`, "Hash flooding").
//!
//! [`IdTable`] keeps, per short id, a word: one bit "this node has seen it" and one bit per
//! neighbour slot "that neighbour knows it" (it announced or sent the id to this node, or this
//! node announced the id to it). One probe answers both questions for every neighbour, in
//! about 17 bytes an id; before, a seen-set and a known-set per neighbour took about 24 bytes
//! an id each, so an id known by eight neighbours cost about 200 bytes (the largest item of a
//! large cluster's memory under transaction load). Neighbours beyond [`SLOTS`] keep a
//! [`BoundedSet`] each.

use crate::hash::{Hash, HashKey};
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};

/// Short ids under one node's key.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortIds(pub HashKey);

impl ShortIds {
    /// The short id of `h`.
    pub fn of(&self, h: &Hash) -> u64 {
        self.0.hash_one(h)
    }
}

/// The hasher of short-id tables: a short id is already a keyed hash, so it is its own.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShortIdHasher;

impl BuildHasher for ShortIdHasher {
    type Hasher = ShortIdState;
    fn build_hasher(&self) -> ShortIdState {
        ShortIdState(0)
    }
}

/// See [`ShortIdHasher`].
#[derive(Debug)]
pub struct ShortIdState(u64);

impl Hasher for ShortIdState {
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used (the tables' keys are `u64`); anything else folds in.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A bounded first-in first-out set of short ids.
#[derive(Debug, Default, Clone)]
pub struct BoundedSet {
    set: HashSet<u64, ShortIdHasher>,
    order: VecDeque<u64>,
    capacity: usize,
}

impl BoundedSet {
    /// An empty set holding at most `capacity` ids.
    pub fn new(capacity: usize) -> BoundedSet {
        BoundedSet {
            set: HashSet::default(),
            order: VecDeque::new(),
            capacity,
        }
    }
    /// Inserts; returns true if it was new. The oldest id goes when full.
    pub fn insert(&mut self, id: u64) -> bool {
        if self.capacity == 0 || !self.set.insert(id) {
            return false;
        }
        self.order.push_back(id);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }
    /// Membership.
    pub fn contains(&self, id: u64) -> bool {
        self.set.contains(&id)
    }
    /// Number held.
    pub fn len(&self) -> usize {
        self.order.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// Neighbour slots in an [`IdTable`] word: bits 0..63; bit 63 is "seen".
pub const SLOTS: usize = 63;

/// The "seen" bit of an [`IdTable`] word.
pub const SEEN: u64 = 1 << 63;

/// Per short id, a word of flags: [`SEEN`] and one bit per neighbour slot.
///
/// Bounded in two generations of `capacity / 2` ids: a new id enters the current one; when it
/// is full it becomes the old one and the previous old one is forgotten. So the table holds
/// between `capacity / 2` and `capacity` ids, always the latest `capacity / 2` first seen (a
/// FIFO set of `capacity`, which it replaces, held the latest `capacity`; the generations
/// save its order queue and its per-entry removals).
#[derive(Debug, Clone)]
pub struct IdTable {
    cur: HashMap<u64, u64, ShortIdHasher>,
    old: HashMap<u64, u64, ShortIdHasher>,
    half: usize,
}

impl IdTable {
    /// An empty table of at most `capacity` ids (at least 2).
    pub fn new(capacity: usize) -> IdTable {
        IdTable {
            cur: HashMap::default(),
            old: HashMap::default(),
            half: (capacity / 2).max(1),
        }
    }

    /// The word of `id` (0 when absent).
    pub fn get(&self, id: u64) -> u64 {
        self.cur
            .get(&id)
            .or_else(|| self.old.get(&id))
            .copied()
            .unwrap_or(0)
    }

    /// Sets `bits` in `id`'s word (entering it when absent); returns the word before.
    pub fn set(&mut self, id: u64, bits: u64) -> u64 {
        if let Some(w) = self.cur.get_mut(&id) {
            let before = *w;
            *w |= bits;
            return before;
        }
        if let Some(w) = self.old.get_mut(&id) {
            let before = *w;
            *w |= bits;
            return before;
        }
        if self.cur.len() >= self.half {
            self.old = std::mem::take(&mut self.cur);
        }
        self.cur.insert(id, bits);
        0
    }

    /// Clears `bits` in `id`'s word, if it is held.
    pub fn clear(&mut self, id: u64, bits: u64) {
        if let Some(w) = self.cur.get_mut(&id) {
            *w &= !bits;
        } else if let Some(w) = self.old.get_mut(&id) {
            *w &= !bits;
        }
    }

    /// Clears `bits` in every word (a neighbour slot given up).
    pub fn clear_all(&mut self, bits: u64) {
        for w in self.cur.values_mut().chain(self.old.values_mut()) {
            *w &= !bits;
        }
    }

    /// Number of ids held.
    pub fn len(&self) -> usize {
        self.cur.len() + self.old.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_set_keeps_the_latest() {
        let mut s = BoundedSet::new(3);
        for i in 0..10 {
            s.insert(i);
        }
        assert_eq!(s.len(), 3);
        assert!(s.contains(9) && !s.contains(0));
        assert!(!s.insert(9), "present");
    }

    #[test]
    fn id_table_keeps_between_half_and_all_of_its_capacity() {
        let mut t = IdTable::new(10);
        for i in 0..100u64 {
            assert_eq!(t.set(i, SEEN), 0, "new");
            assert!(t.len() <= 10 && t.len() > 5.min(i as usize));
            for back in 0..5.min(i + 1) {
                assert_ne!(t.get(i - back) & SEEN, 0, "the latest half is held");
            }
        }
        assert_eq!(t.get(0), 0, "long forgotten");
    }

    #[test]
    fn id_table_sets_and_clears_bits_in_either_generation() {
        let mut t = IdTable::new(4);
        t.set(1, 1 << 3);
        t.set(2, SEEN);
        t.set(3, SEEN); // 1 and 2 are now the old generation
        assert_eq!(t.set(1, SEEN), 1 << 3, "the word before");
        assert_eq!(t.get(1), SEEN | 1 << 3);
        t.clear(1, SEEN);
        assert_eq!(t.get(1), 1 << 3);
        t.set(4, 1 << 3);
        t.clear_all(1 << 3);
        assert_eq!(t.get(1), 0);
        assert_eq!(t.get(4), 0);
        assert_eq!(t.get(3), SEEN);
    }
}
