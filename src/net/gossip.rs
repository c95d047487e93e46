//! Gossip decisions of one node: announce by id, fetch what is unknown, relay only what
//! validated, never announce an item to a peer that has it or sent it, batch transaction
//! announcements, push consensus items (proof of stake: votes, evidence) whole to every
//! neighbour but the one an item came from, and run catch-up sync with a timeout and a retry
//! at another peer.
//!
//! Inputs are calls (`on_*`); outputs are messages to send, returned as data.

use crate::block::{Block, SharedItem};
use crate::hash::{Hash, HashKey, TxId};
use crate::net::ids::{BoundedSet, IdTable, ShortIdHasher, ShortIds, SEEN, SLOTS};
use crate::net::wire::{WireMsg, MAX_INV_ITEMS, MAX_WIRE_ITEMS};
use crate::NodeId;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

/// Gossip tunables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GossipPolicy {
    /// Capacity of the id table (ids the node has received, announced, or heard announced):
    /// it holds the latest half of this at least ([`IdTable`]).
    pub seen_capacity: usize,
    /// Capacity of the known-set of each neighbour beyond the id table's [`SLOTS`].
    pub peer_known_capacity: usize,
    /// A `getdata` unanswered this long may be asked of another peer, ms.
    pub request_timeout_ms: u64,
    /// A `getblocks` unanswered this long is retried at another peer, ms.
    pub sync_timeout_ms: u64,
    /// A new block of this node's best chain is sent whole, unasked, to this many neighbours
    /// that do not know it, and announced to the others (0: announced to all; see
    /// [`Gossip::announce_block`]).
    pub block_push: usize,
}

#[derive(Debug, Clone)]
struct SyncState {
    peer: NodeId,
    deadline_ms: u64,
    locator: Vec<Hash>,
    tried: Vec<NodeId>,
    /// A `getblocks` was sent and its reply has not come yet.
    awaiting: bool,
}

/// Where a neighbour's knowledge of ids is kept.
#[derive(Debug, Clone)]
enum Known {
    /// A bit of the id table's words.
    Slot(u64),
    /// Its own known-set (neighbours beyond [`SLOTS`]).
    Set(BoundedSet),
}

impl Known {
    /// Records that this neighbour knows short id `s`: returns its bit for the id's word (0
    /// when it keeps its own set, which now holds `s`).
    fn tell(&mut self, s: u64) -> u64 {
        match self {
            Known::Slot(bit) => *bit,
            Known::Set(set) => {
                set.insert(s);
                0
            }
        }
    }
}

/// One node's gossip state.
#[derive(Debug)]
pub struct Gossip {
    policy: GossipPolicy,
    /// The neighbours, sorted; `known[i]` is where `neighbors[i]`'s knowledge is kept.
    neighbors: Vec<NodeId>,
    known: Vec<Known>,
    /// The slots of the id table's words in use.
    slots_used: u64,
    /// Per short id: seen here, and which neighbours know it.
    ids: IdTable,
    /// The consensus items seen lately, by sequence number (a short memory: the vote pool
    /// remembers votes for good, this only stops the duplicates of one push wave cheaply).
    seen_items: RecentSeqs,
    /// Short ids under the node's key (the key of every id table).
    short: ShortIds,
    /// Ids asked for (by short id): when, and of whom.
    requested: HashMap<u64, (u64, NodeId), ShortIdHasher>,
    /// Outstanding requests per peer (bounded by [`MAX_REQUESTS_PER_PEER`]).
    requested_of: BTreeMap<NodeId, usize>,
    /// Transactions to announce with the next batch: id, short id, the peer it came from.
    pending_txs: Vec<(TxId, u64, Option<NodeId>)>,
    /// Consensus items to push with the next batch, with the peer each came from.
    pending_items: Vec<(SharedItem, Option<NodeId>)>,
    sync: Option<SyncState>,
    /// When expired requests are next forgotten outside a sync ([`Gossip::prune_expired`]).
    next_prune_ms: u64,
}

/// How many of the latest item sequence numbers a node's gossip remembers
/// ([`Gossip::on_pushed_item`]): 2^16 (8 KiB per node). An older item that comes again goes
/// on to the vote pool, which knows it and relays nothing.
pub const ITEM_SEQ_WINDOW: u64 = 1 << 16;

/// A set of the sequence numbers within [`ITEM_SEQ_WINDOW`] of the highest one inserted: a
/// bit each.
#[derive(Debug, Default, Clone)]
pub struct RecentSeqs {
    /// The number of the first bit of `words` (a multiple of 64).
    base: u64,
    words: VecDeque<u64>,
}

impl RecentSeqs {
    /// Inserts `seq`; false when it was in the set. A number older than the window counts as
    /// new (it may be).
    pub fn insert(&mut self, seq: u64) -> bool {
        if seq < self.base {
            return true;
        }
        let w = usize::try_from((seq - self.base) / 64).unwrap_or(usize::MAX);
        let max_words = (ITEM_SEQ_WINDOW / 64) as usize;
        if w >= self.words.len() + max_words {
            // Far ahead of everything held: start again from here.
            self.words.clear();
            self.base = seq - seq % 64;
            return self.insert(seq);
        }
        while self.words.len() <= w {
            self.words.push_back(0);
        }
        let (mut w, bit) = (w, 1u64 << (seq % 64));
        while self.words.len() > max_words {
            self.words.pop_front();
            self.base += 64;
            w -= 1;
        }
        let fresh = self.words[w] & bit == 0;
        self.words[w] |= bit;
        fresh
    }
}

/// Most ids outstanding (asked for, not yet received or expired) from one peer.
pub const MAX_REQUESTS_PER_PEER: usize = 2 * MAX_INV_ITEMS;

/// Messages to send, in order.
pub type Outbox = Vec<(NodeId, WireMsg)>;

impl Gossip {
    /// Gossip over the given neighbours (kept sorted); every table of ids (seen, known per
    /// peer, requested) is keyed with `key`, this node's ([`HashKey::derive`]).
    pub fn new(policy: GossipPolicy, mut neighbors: Vec<NodeId>, key: HashKey) -> Gossip {
        neighbors.sort_unstable();
        neighbors.dedup();
        let mut g = Gossip {
            ids: IdTable::new(policy.seen_capacity),
            seen_items: RecentSeqs::default(),
            policy,
            neighbors: Vec::new(),
            known: Vec::new(),
            slots_used: 0,
            short: ShortIds(key),
            requested: HashMap::default(),
            requested_of: BTreeMap::new(),
            pending_txs: Vec::new(),
            pending_items: Vec::new(),
            sync: None,
            next_prune_ms: 0,
        };
        for n in neighbors {
            g.add_neighbor(n);
        }
        g
    }

    /// Ids asked for and neither received nor forgotten yet.
    pub fn outstanding(&self) -> usize {
        self.requested.len()
    }

    /// The key of this node's id tables.
    pub fn hash_key(&self) -> HashKey {
        self.short.0
    }

    /// The tunables.
    pub fn policy(&self) -> &GossipPolicy {
        &self.policy
    }

    /// Forgets requests never answered, at most once per request timeout, when no sync runs
    /// (a running sync's [`Gossip::on_tick`] does it). Without this, a peer announcing ids it
    /// never delivers would grow the node's memory for as long as it likes.
    pub fn prune_expired(&mut self, now_ms: u64) {
        if now_ms < self.next_prune_ms || self.syncing() {
            return;
        }
        // With no sync in flight, `on_tick` only prunes: it decides nothing.
        let retry = self.on_tick(now_ms, 0);
        debug_assert!(retry.is_none());
        self.next_prune_ms = now_ms + self.policy.request_timeout_ms;
    }

    /// The neighbours.
    pub fn neighbors(&self) -> &[NodeId] {
        &self.neighbors
    }

    fn release(&mut self, peer: NodeId) {
        if let Some(c) = self.requested_of.get_mut(&peer) {
            *c = c.saturating_sub(1);
            if *c == 0 {
                self.requested_of.remove(&peer);
            }
        }
    }

    /// Adds a neighbour (a peer that connected); no-op if already one. It takes the lowest
    /// free slot of the id table's words, or a known-set of its own when all are taken.
    pub fn add_neighbor(&mut self, peer: NodeId) {
        if let Err(pos) = self.neighbors.binary_search(&peer) {
            let free = (!self.slots_used).trailing_zeros() as usize;
            let known = if free < SLOTS {
                self.slots_used |= 1 << free;
                Known::Slot(1 << free)
            } else {
                Known::Set(BoundedSet::new(self.policy.peer_known_capacity))
            };
            self.neighbors.insert(pos, peer);
            self.known.insert(pos, known);
        }
    }

    /// Removes a neighbour (a peer that disconnected and is not part of the topology), and
    /// what it was known to know: a peer that comes back starts afresh.
    pub fn remove_neighbor(&mut self, peer: NodeId) {
        if let Ok(pos) = self.neighbors.binary_search(&peer) {
            self.neighbors.remove(pos);
            if let Known::Slot(bit) = self.known.remove(pos) {
                self.ids.clear_all(bit);
                self.slots_used &= !bit;
            }
        }
    }

    /// Whether the node has seen `id`.
    pub fn has_seen(&self, id: &Hash) -> bool {
        self.ids.get(self.short.of(id)) & SEEN != 0
    }

    /// The position of `peer` among the neighbours, if it is one.
    fn position(&self, peer: Option<NodeId>) -> Option<usize> {
        peer.and_then(|p| self.neighbors.binary_search(&p).ok())
    }

    /// Marks short id `s` known to the neighbour at `pos` (if any) and seen here too when
    /// `seen`; returns the id's word before.
    fn note(&mut self, pos: Option<usize>, s: u64, seen: bool) -> u64 {
        let mut bits = if seen { SEEN } else { 0 };
        if let Some(i) = pos {
            bits |= self.known[i].tell(s);
        }
        self.ids.set(s, bits)
    }

    /// Whether neighbour `i` knows short id `s`, whose word is `word`.
    fn knows(&self, i: usize, s: u64, word: u64) -> bool {
        match &self.known[i] {
            Known::Slot(bit) => word & bit != 0,
            Known::Set(set) => set.contains(s),
        }
    }

    /// A peer announced ids: returns the `getdata` for the unknown ones not already requested.
    /// `is_known` tells whether the node already holds a block (the chain may know it even when
    /// the seen-set forgot it).
    pub fn on_inv(
        &mut self,
        from: NodeId,
        blocks: &[Hash],
        txs: &[TxId],
        now_ms: u64,
        is_known: impl Fn(&Hash) -> bool,
    ) -> Option<WireMsg> {
        let mut want_b = Vec::new();
        let mut want_t = Vec::new();
        // At most MAX_INV_ITEMS ids in all, before anything is inserted (the wire check
        // refuses longer messages; this holds for any caller).
        let tx_room = MAX_INV_ITEMS.saturating_sub(blocks.len());
        let pos = self.position(Some(from));
        for (ids, want, room) in [
            (blocks, &mut want_b, MAX_INV_ITEMS),
            (txs, &mut want_t, tx_room),
        ] {
            for id in ids.iter().take(room) {
                let s = self.short.of(id);
                if self.note(pos, s, false) & SEEN != 0 || is_known(id) {
                    continue;
                }
                match self.requested.get(&s) {
                    Some((at, _)) if now_ms < at + self.policy.request_timeout_ms => continue,
                    _ => {}
                }
                let of_peer = self.requested_of.entry(from).or_default();
                if *of_peer >= MAX_REQUESTS_PER_PEER {
                    // A peer announcing more than it delivers gets no more requests until
                    // its old ones are answered or expire.
                    continue;
                }
                *of_peer += 1;
                if let Some((_, old)) = self.requested.insert(s, (now_ms, from)) {
                    self.release(old);
                }
                want.push(*id);
            }
        }
        if want_b.is_empty() && want_t.is_empty() {
            return None;
        }
        Some(WireMsg::GetData {
            blocks: want_b,
            txs: want_t,
        })
    }

    /// A full item arrived from `from` (or was made locally when `from` is None).
    /// Returns false when it was seen before (nothing more to do).
    pub fn on_item(&mut self, id: Hash, from: Option<NodeId>) -> bool {
        let s = self.short.of(&id);
        if let Some((_, peer)) = self.requested.remove(&s) {
            self.release(peer);
        }
        self.note(self.position(from), s, true) & SEEN == 0
    }

    /// Forgets that an item was received, so that it can be fetched again (used when the
    /// node could not process it, e.g. its parent was unknown and the orphan pool dropped it).
    pub fn forget_request(&mut self, id: &Hash) {
        if let Some((_, peer)) = self.requested.remove(&self.short.of(id)) {
            self.release(peer);
        }
    }

    /// Forgets that `id` was seen or requested: the node dropped it unprocessed (a full
    /// buffer of blocks waiting for their parent), so the next announcement of it must fetch
    /// it again.
    pub fn forget(&mut self, id: &Hash) {
        self.forget_request(id);
        self.ids.clear(self.short.of(id), SEEN);
    }

    /// A block validated: tell every neighbour that does not know it, at once. With
    /// [`GossipPolicy::block_push`] = k and the block given, k of them get the block itself,
    /// unasked, and the rest an announcement; else all get the announcement (and fetch the
    /// block with `getdata`: three one-way delays a hop instead of one). Which k: the
    /// neighbours in order from a place the block's short id picks, so pushes spread evenly
    /// over links and stay reproducible (Ethereum pushes to a random √peers, Bitcoin's
    /// compact-block relay to three peers that asked for it).
    pub fn announce_block(
        &mut self,
        hash: Hash,
        block: Option<&Arc<Block>>,
        source: Option<NodeId>,
    ) -> Outbox {
        let s = self.short.of(&hash);
        let word = self.ids.set(s, SEEN);
        let mut out = Vec::new();
        let mut told = 0;
        let count = self.neighbors.len();
        let mut push = if block.is_some() {
            self.policy.block_push
        } else {
            0
        };
        // Without a push, in neighbour order (as before pushes existed, so runs keep their bytes).
        let start = if push == 0 || count == 0 {
            0
        } else {
            (s % count as u64) as usize
        };
        for i in (start..count).chain(0..start) {
            let n = self.neighbors[i];
            if Some(n) == source || self.knows(i, s, word) {
                continue;
            }
            let msg = match block {
                Some(b) if push > 0 => {
                    push -= 1;
                    WireMsg::Block(b.clone())
                }
                _ => WireMsg::Inv {
                    blocks: vec![hash],
                    txs: Vec::new(),
                },
            };
            out.push((n, msg));
            told |= self.known[i].tell(s);
        }
        self.ids.set(s, told);
        out
    }

    /// A transaction validated: queue it for the next batched announcement.
    pub fn queue_tx(&mut self, id: TxId, source: Option<NodeId>) {
        let s = self.short.of(&id);
        self.ids.set(s, SEEN);
        self.pending_txs.push((id, s, source));
    }

    /// Announces the tip to every neighbour, whatever the known-sets say: what a node does when
    /// links come back (a reconnection), so that a peer on another branch fetches it and syncs.
    pub fn announce_tip(&mut self, tip: Hash) -> Outbox {
        self.neighbors
            .iter()
            .map(|&n| {
                (
                    n,
                    WireMsg::Inv {
                        blocks: vec![tip],
                        txs: Vec::new(),
                    },
                )
            })
            .collect()
    }

    /// Re-announces transactions that have waited long in the mempool to every neighbour,
    /// whatever the known-sets say (an announcement may have been lost to a partition or a
    /// lossy link). Receivers that hold them ignore the ids.
    pub fn rebroadcast(&mut self, ids: &[TxId]) -> Outbox {
        let mut out = Vec::new();
        for &n in &self.neighbors {
            for chunk in ids.chunks(MAX_INV_ITEMS) {
                out.push((
                    n,
                    WireMsg::Inv {
                        blocks: Vec::new(),
                        txs: chunk.to_vec(),
                    },
                ));
            }
        }
        out
    }

    /// Sends the queued transaction announcements, one `inv` per neighbour.
    pub fn flush_txs(&mut self) -> Outbox {
        if self.pending_txs.is_empty() {
            return Vec::new();
        }
        let pending = std::mem::take(&mut self.pending_txs);
        // One lookup of each id's word serves every neighbour.
        let mut per: Vec<Vec<TxId>> = (0..self.neighbors.len())
            .map(|_| Vec::with_capacity(pending.len()))
            .collect();
        for (id, s, src) in pending {
            let word = self.ids.get(s);
            let mut told = 0;
            for (i, &n) in self.neighbors.iter().enumerate() {
                if src == Some(n) || self.knows(i, s, word) {
                    continue;
                }
                per[i].push(id);
                told |= self.known[i].tell(s);
            }
            if told != 0 {
                self.ids.set(s, told);
            }
        }
        let mut out = Vec::with_capacity(self.neighbors.len());
        for (&n, mut ids) in self.neighbors.iter().zip(per) {
            while !ids.is_empty() {
                let rest = ids.split_off(ids.len().min(MAX_INV_ITEMS));
                out.push((
                    n,
                    WireMsg::Inv {
                        blocks: Vec::new(),
                        txs: std::mem::replace(&mut ids, rest),
                    },
                ));
            }
        }
        out
    }

    /// A pushed consensus item arrived: false when this node saw this very item (a copy of
    /// it: [`SharedItem::seq`]) lately, true when it may be new (the vote pool decides).
    /// Items keep no per-peer known-set: a duplicate costs its receiver one bit.
    pub fn on_pushed_item(&mut self, item: &SharedItem) -> bool {
        self.seen_items.insert(item.seq())
    }

    /// A consensus item validated (or made here when `source` is None): queue it for the next
    /// push. Items are small, so they travel whole, without an announcement round.
    pub fn queue_item(&mut self, item: SharedItem, source: Option<NodeId>) {
        self.seen_items.insert(item.seq());
        self.pending_items.push((item, source));
    }

    /// Pushes the queued items: one `items` message per neighbour (more when over
    /// [`MAX_WIRE_ITEMS`]), holding each item but those that neighbour sent. A node queues an
    /// item once (when it is new to it), so each link carries each item at most once in each
    /// direction; a neighbour that got the item elsewhere first drops it by its seen-set. (No
    /// per-peer known-set for items: with a thousand validators voting, keeping one cost
    /// more than the duplicates it saved.)
    pub fn flush_items(&mut self) -> Outbox {
        if self.pending_items.is_empty() {
            return Vec::new();
        }
        let pending = std::mem::take(&mut self.pending_items);
        let mut out = Vec::new();
        for &n in &self.neighbors {
            let mut items: Vec<SharedItem> = pending
                .iter()
                .filter(|(_, src)| *src != Some(n))
                .map(|(item, _)| item.clone())
                .collect();
            while !items.is_empty() {
                let rest = items.split_off(items.len().min(MAX_WIRE_ITEMS));
                out.push((n, WireMsg::Items(std::mem::replace(&mut items, rest))));
            }
        }
        out
    }

    /// `msg` to half of the neighbours (those at even positions in id order: at least one
    /// when there is one), whatever the known-sets say: an equivocating validator's second
    /// block or vote, sent to half of its peers while the first goes the normal way (the
    /// `equivocate` fault).
    pub fn to_half(&self, msg: &WireMsg) -> Outbox {
        self.neighbors
            .iter()
            .step_by(2)
            .map(|&n| (n, msg.clone()))
            .collect()
    }

    /// Asks a peer for the blocks after `locator`. Prefers `preferred`; otherwise (or when
    /// `preferred` is not a neighbour) picks the neighbour at `pick % n`. No-op while a sync
    /// is in flight, unless `force`.
    pub fn start_sync(
        &mut self,
        preferred: Option<NodeId>,
        locator: Vec<Hash>,
        now_ms: u64,
        pick: u64,
        force: bool,
    ) -> Option<(NodeId, WireMsg)> {
        if self.sync.is_some() && !force {
            if let Some(s) = self.sync.as_mut() {
                s.locator = locator;
            }
            return None;
        }
        let peer = match preferred {
            Some(p) if self.neighbors.contains(&p) => p,
            _ if self.neighbors.is_empty() => return None,
            _ => self.neighbors[(pick % self.neighbors.len() as u64) as usize],
        };
        let tried = self.sync.take().map(|s| s.tried).unwrap_or_default();
        Some(self.send_sync(peer, locator, now_ms, tried))
    }

    /// The peer a sync in flight waits on.
    pub fn sync_peer(&self) -> Option<NodeId> {
        self.sync.as_ref().map(|s| s.peer)
    }

    /// Sends the sync in flight again to the same peer, with its latest locator (its link just
    /// came up: a request sent while it was down was lost).
    pub fn resend_sync(&mut self, now_ms: u64) -> Option<(NodeId, WireMsg)> {
        let s = self.sync.take()?;
        Some(self.send_sync(s.peer, s.locator, now_ms, s.tried))
    }

    /// Drops the sync in flight (its peer went away); the next trigger starts a fresh one.
    pub fn abort_sync(&mut self) {
        self.sync = None;
    }

    fn send_sync(
        &mut self,
        peer: NodeId,
        locator: Vec<Hash>,
        now_ms: u64,
        mut tried: Vec<NodeId>,
    ) -> (NodeId, WireMsg) {
        if !tried.contains(&peer) {
            tried.push(peer);
        }
        self.sync = Some(SyncState {
            peer,
            deadline_ms: now_ms + self.policy.sync_timeout_ms,
            locator: locator.clone(),
            tried,
            awaiting: true,
        });
        (peer, WireMsg::GetBlocks { locator })
    }

    /// A `blocks` reply arrived. Returns true when it came from the peer being synced with
    /// and that peer has `more` (the caller then continues with a fresh locator via
    /// [`Gossip::continue_sync`]).
    pub fn on_sync_reply(&mut self, from: NodeId, more: bool) -> bool {
        if !self.awaits_reply(from) {
            return false;
        }
        if more {
            if let Some(s) = self.sync.as_mut() {
                s.awaiting = false;
            }
            true
        } else {
            self.sync = None;
            false
        }
    }

    /// Whether a `blocks` reply from `from` answers a `getblocks` this node sent (one reply
    /// per request: a second one, or one from another peer, was not asked for).
    pub fn awaits_reply(&self, from: NodeId) -> bool {
        self.sync
            .as_ref()
            .is_some_and(|s| s.peer == from && s.awaiting)
    }

    /// Continues a sync with the same peer from a fresh locator.
    pub fn continue_sync(
        &mut self,
        peer: NodeId,
        locator: Vec<Hash>,
        now_ms: u64,
    ) -> (NodeId, WireMsg) {
        let tried = self.sync.take().map(|s| s.tried).unwrap_or_default();
        self.send_sync(peer, locator, now_ms, tried)
    }

    /// True while a sync is in flight.
    pub fn syncing(&self) -> bool {
        self.sync.is_some()
    }

    /// Periodic check: a sync past its deadline is retried at a neighbour not yet tried
    /// (all tried: start over), chosen by `pick`. Stale `getdata` records are dropped.
    pub fn on_tick(&mut self, now_ms: u64, pick: u64) -> Option<(NodeId, WireMsg)> {
        let timeout = self.policy.request_timeout_ms;
        let counts = &mut self.requested_of;
        self.requested.retain(|_, (at, peer)| {
            let keep = now_ms < *at + timeout;
            if !keep {
                if let Some(c) = counts.get_mut(peer) {
                    *c = c.saturating_sub(1);
                }
            }
            keep
        });
        self.requested_of.retain(|_, c| *c > 0);
        let s = self.sync.as_ref()?;
        if now_ms < s.deadline_ms {
            return None;
        }
        let s = self.sync.take()?;
        let mut candidates: Vec<NodeId> = self
            .neighbors
            .iter()
            .copied()
            .filter(|n| !s.tried.contains(n))
            .collect();
        let tried = if candidates.is_empty() {
            candidates = self.neighbors.clone();
            Vec::new()
        } else {
            s.tried
        };
        if candidates.is_empty() {
            return None;
        }
        let peer = candidates[(pick % candidates.len() as u64) as usize];
        Some(self.send_sync(peer, s.locator, now_ms, tried))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Item;

    fn policy() -> GossipPolicy {
        GossipPolicy {
            seen_capacity: 100,
            peer_known_capacity: 100,
            request_timeout_ms: 1000,
            sync_timeout_ms: 5000,
            block_push: 0,
        }
    }

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    #[test]
    fn fetches_unknown_once_and_never_echoes() {
        let mut g = Gossip::new(policy(), vec![3, 1, 2], HashKey::default());
        let get = g.on_inv(1, &[h(1)], &[], 0, |_| false).unwrap();
        assert_eq!(
            get,
            WireMsg::GetData {
                blocks: vec![h(1)],
                txs: vec![]
            }
        );
        assert!(
            g.on_inv(2, &[h(1)], &[], 10, |_| false).is_none(),
            "in flight"
        );
        assert!(
            g.on_inv(2, &[h(1)], &[], 2000, |_| false).is_some(),
            "timed out: ask another"
        );
        assert!(g.on_item(h(1), Some(1)));
        assert!(!g.on_item(h(1), Some(2)));
        let out = g.announce_block(h(1), None, Some(1));
        let to: Vec<NodeId> = out.iter().map(|(n, _)| *n).collect();
        assert_eq!(
            to,
            vec![3],
            "not to the source 1, not to 2 which announced it"
        );
    }

    /// With `block_push` = k, k neighbours that do not know a block get it whole (from a
    /// place its short id picks, wrapping around), the rest an announcement; never its source
    /// or a neighbour that announced it; without the block, or with k = 0, only announcements.
    #[test]
    fn a_pushed_block_goes_whole_to_k_neighbours_and_is_announced_to_the_rest() {
        let block =
            Arc::new(crate::chain::params::ChainParams::for_tests(Vec::new()).genesis_block());
        let hash = block.hash();
        let kinds = |out: &Outbox| -> Vec<(NodeId, bool)> {
            out.iter()
                .map(|(n, m)| (*n, matches!(m, WireMsg::Block(_))))
                .collect()
        };
        let push = |k: usize| {
            let mut g = Gossip::new(
                GossipPolicy {
                    block_push: k,
                    ..policy()
                },
                vec![1, 2, 3, 4, 5],
                HashKey::default(),
            );
            // Neighbour 4 announced it; it comes from 2.
            assert!(g.on_inv(4, &[hash], &[], 0, |_| false).is_some());
            assert!(g.on_item(hash, Some(2)));
            (g.short.of(&hash), g)
        };
        let (s, mut g) = push(2);
        let out = kinds(&g.announce_block(hash, Some(&block), Some(2)));
        assert_eq!(out.len(), 3, "to 1, 3 and 5: {out:?}");
        // Those told are 1, 3, 5 in neighbour order from position s mod 5.
        let order: Vec<NodeId> = (0..5)
            .map(|i| [1, 2, 3, 4, 5][(s as usize + i) % 5])
            .filter(|n| [1, 3, 5].contains(n))
            .collect();
        let pushed: Vec<NodeId> = out.iter().filter(|o| o.1).map(|o| o.0).collect();
        assert_eq!(pushed, order[..2].to_vec(), "the first two from the start");
        assert_eq!(
            out.iter().filter(|o| !o.1).count(),
            1,
            "the third announced"
        );
        assert!(
            g.announce_block(hash, Some(&block), None).is_empty(),
            "everyone knows it now"
        );
        let (_, mut g) = push(2);
        let out = kinds(&g.announce_block(hash, None, Some(2)));
        assert_eq!(
            out,
            vec![(1, false), (3, false), (5, false)],
            "no block given"
        );
        let (_, mut g) = push(0);
        let out = kinds(&g.announce_block(hash, Some(&block), Some(2)));
        assert_eq!(out, vec![(1, false), (3, false), (5, false)], "k = 0");
        let (_, mut g) = push(9);
        let out = kinds(&g.announce_block(hash, Some(&block), Some(2)));
        assert!(
            out.iter().all(|o| o.1) && out.len() == 3,
            "k beyond: all pushed"
        );
    }

    #[test]
    fn tx_announcements_are_batched_per_neighbour() {
        let mut g = Gossip::new(policy(), vec![1, 2], HashKey::default());
        g.queue_tx(h(5), Some(1));
        g.queue_tx(h(6), None);
        let out = g.flush_txs();
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0],
            (
                1,
                WireMsg::Inv {
                    blocks: vec![],
                    txs: vec![h(6)]
                }
            )
        );
        assert_eq!(
            out[1],
            (
                2,
                WireMsg::Inv {
                    blocks: vec![],
                    txs: vec![h(5), h(6)]
                }
            )
        );
        assert!(g.flush_txs().is_empty());
    }

    fn item(i: u8) -> (Hash, SharedItem) {
        let vote = crate::block::Vote {
            validator: i as u32,
            source: crate::block::Checkpoint {
                epoch: 0,
                hash: h(0),
            },
            target: crate::block::Checkpoint {
                epoch: 1,
                hash: h(i),
            },
            signature: crate::crypto::Signature([i; 64]),
        };
        let it = SharedItem::new(Item::Vote(vote));
        (it.id(), it)
    }

    #[test]
    fn items_are_pushed_to_every_neighbour_but_their_source_and_batched() {
        let mut g = Gossip::new(policy(), vec![1, 2, 3], HashKey::default());
        let (_, ia) = item(1);
        assert!(g.on_pushed_item(&ia), "first sight");
        assert!(!g.on_pushed_item(&ia.clone()), "seen: not passed on again");
        let (_, twin) = item(1);
        assert!(
            g.on_pushed_item(&twin),
            "an equal item made apart may be new: the vote pool decides"
        );
        g.queue_item(ia.clone(), Some(1));
        let (_, ib) = item(2);
        assert!(g.on_pushed_item(&ib));
        g.queue_item(ib.clone(), Some(2));
        let out = g.flush_items();
        assert_eq!(
            out,
            vec![
                (1, WireMsg::Items(vec![ib.clone()])),
                (2, WireMsg::Items(vec![ia.clone()])),
                (3, WireMsg::Items(vec![ia.clone(), ib.clone()])),
            ],
            "one message per neighbour, never back to an item's source"
        );
        assert!(g.flush_items().is_empty(), "the queue is empty");
        let (c, ic) = item(3);
        g.queue_item(ic.clone(), None);
        let to: Vec<NodeId> = g.flush_items().iter().map(|(n, _)| *n).collect();
        assert_eq!(to, vec![1, 2, 3], "made here: to everyone");
        assert!(
            !g.has_seen(&c),
            "items are not in the block and transaction seen-set"
        );
        assert!(!g.on_pushed_item(&ic), "so its echo is dropped");
    }

    #[test]
    fn recent_seqs_remember_a_window_and_call_older_numbers_new() {
        let mut r = RecentSeqs::default();
        assert!(r.insert(5) && !r.insert(5) && r.insert(6) && r.insert(700));
        assert!(!r.insert(5), "within the window");
        let top = 5 + ITEM_SEQ_WINDOW + 64;
        assert!(r.insert(top));
        assert!(r.insert(5), "slid out of the window: perhaps new");
        assert!(!r.insert(top) && r.insert(top - 1));
        assert!(
            r.insert(top + 100 * ITEM_SEQ_WINDOW),
            "far ahead: starts again"
        );
        assert!(!r.insert(top + 100 * ITEM_SEQ_WINDOW));
        assert!(r.words.len() as u64 <= ITEM_SEQ_WINDOW / 64);
    }

    #[test]
    fn item_pushes_are_split_at_the_wire_cap_and_twins_go_to_half() {
        let mut g = Gossip::new(
            GossipPolicy {
                seen_capacity: 5000,
                peer_known_capacity: 5000,
                ..policy()
            },
            vec![4],
            HashKey::default(),
        );
        let n = MAX_WIRE_ITEMS + 3;
        for i in 0..n {
            let it = Item::Vote(crate::block::Vote {
                validator: i as u32,
                ..match item(1).1.item() {
                    Item::Vote(v) => *v,
                    Item::Evidence(_) => unreachable!(),
                }
            });
            g.queue_item(it.into(), None);
        }
        let out = g.flush_items();
        let sizes: Vec<usize> = out
            .iter()
            .map(|(_, m)| match m {
                WireMsg::Items(v) => v.len(),
                _ => 0,
            })
            .collect();
        assert_eq!(sizes, vec![MAX_WIRE_ITEMS, 3]);
        assert!(out.iter().all(|(_, m)| m.check_caps().is_ok()));
        let msg = WireMsg::Items(vec![item(9).1]);
        assert_eq!(g.to_half(&msg).len(), 1, "a single neighbour gets it");
        let g = Gossip::new(policy(), vec![5, 1, 3, 2], HashKey::default());
        let to: Vec<NodeId> = g.to_half(&msg).iter().map(|(n, _)| *n).collect();
        assert_eq!(to, vec![1, 3], "every other neighbour in id order");
    }

    #[test]
    fn sync_times_out_and_retries_elsewhere() {
        let mut g = Gossip::new(policy(), vec![1, 2], HashKey::default());
        let (p, _) = g.start_sync(Some(1), vec![h(0)], 0, 0, false).unwrap();
        assert_eq!(p, 1);
        assert!(g.start_sync(Some(2), vec![h(0)], 0, 0, false).is_none());
        assert!(g.on_tick(4999, 0).is_none());
        let (p2, msg) = g.on_tick(5000, 0).unwrap();
        assert_eq!(p2, 2);
        assert_eq!(
            msg,
            WireMsg::GetBlocks {
                locator: vec![h(0)]
            }
        );
        assert!(!g.awaits_reply(1), "1 was given up on");
        assert!(g.awaits_reply(2));
        assert!(g.on_sync_reply(2, true));
        assert!(!g.awaits_reply(2), "one reply per request");
        assert!(
            !g.on_sync_reply(2, true),
            "a second reply was not asked for"
        );
        let _ = g.continue_sync(2, vec![h(9)], 6000);
        assert!(!g.on_sync_reply(2, false));
        assert!(!g.syncing());
    }

    #[test]
    fn a_forgotten_item_is_fetched_again() {
        let mut g = Gossip::new(policy(), vec![1], HashKey::default());
        assert!(g.on_inv(1, &[h(1)], &[], 0, |_| false).is_some());
        assert!(g.on_item(h(1), Some(1)));
        assert!(g.on_inv(1, &[h(1)], &[], 10, |_| false).is_none(), "seen");
        g.forget(&h(1));
        assert_eq!(
            g.on_inv(1, &[h(1)], &[], 20, |_| false),
            Some(WireMsg::GetData {
                blocks: vec![h(1)],
                txs: vec![]
            })
        );
        assert!(g.on_item(h(1), Some(1)), "new again");
    }

    #[test]
    fn seen_ids_are_bounded() {
        let mut g = Gossip::new(policy(), vec![1], HashKey::default());
        for i in 0..200u8 {
            assert!(g.on_item(h(i), None));
        }
        assert!(
            g.has_seen(&h(199)) && g.has_seen(&h(150)),
            "the latest half"
        );
        assert!(!g.has_seen(&h(0)), "forgotten");
        assert!(g.ids.len() <= 100);
    }

    #[test]
    fn neighbours_beyond_the_slots_keep_their_own_sets_and_a_freed_slot_forgets() {
        let many: Vec<NodeId> = (0..70).collect();
        let mut g = Gossip::new(policy(), many.clone(), HashKey::default());
        assert!(matches!(g.known[SLOTS], Known::Set(_)));
        // Announced by the first and the last neighbour: neither is told it again.
        assert!(g.on_inv(0, &[], &[h(1)], 0, |_| false).is_some());
        assert!(g.on_inv(69, &[], &[h(1)], 0, |_| false).is_none());
        assert!(g.on_item(h(1), Some(0)));
        g.queue_tx(h(1), Some(0));
        let to: Vec<NodeId> = g.flush_txs().iter().map(|(n, _)| *n).collect();
        assert_eq!(to, (1..69).collect::<Vec<_>>());
        // 5 leaves and comes back: its slot's knowledge is gone, so it is told again.
        g.remove_neighbor(5);
        g.add_neighbor(5);
        g.queue_tx(h(1), None);
        let to: Vec<NodeId> = g.flush_txs().iter().map(|(n, _)| *n).collect();
        assert_eq!(to, vec![5]);
    }

    #[test]
    fn unanswered_requests_are_pruned_outside_a_sync_once_expired() {
        let mut g = Gossip::new(policy(), vec![1, 2], HashKey::default());
        assert!(g.on_inv(1, &[h(1), h(2)], &[], 0, |_| false).is_some());
        assert_eq!(g.outstanding(), 2);
        g.prune_expired(500);
        assert_eq!(g.outstanding(), 2, "not expired yet");
        g.prune_expired(1_200);
        assert_eq!(
            g.outstanding(),
            2,
            "pruned at most once per request timeout"
        );
        g.prune_expired(1_500);
        assert_eq!(g.outstanding(), 0, "expired and forgotten");
    }
}
