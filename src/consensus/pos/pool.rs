//! A node's pending checkpoint votes and evidence: admission (signature checked by the
//! caller's cache), equivocation detection, what a template includes, and forgetting what the
//! best chain holds.
//!
//! Bounds (a hostile peer may flood): the pool keeps the first vote per (validator, target
//! epoch), at most [`Caps::seen_per_validator`] target epochs per validator (the oldest go
//! first, from detection and from the pending votes alike), at most [`Caps::pending_votes`] votes waiting for a block (the latest target epochs
//! go first), at most [`Caps::headers`] noted headers (the oldest slots go first) and evidence
//! once per (offender, kind). Whatever targets or sits before the finalized epoch is dropped
//! ([`VotePool::on_finalized`]).

use super::evidence::{conflicting_votes, double_block, proposer_of};
use super::{Pos, PosRule};
use crate::block::{Block, BlockHeader, Checkpoint, Evidence, Item, SharedItem, Vote};
use crate::hash::Hash;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// What [`VotePool::add_vote`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteAdmission {
    /// New: relay it.
    Added,
    /// Already known, or not kept (its target epoch is finalized, a cap refused it, or it
    /// conflicts with a vote whose evidence the pool already has): do not relay.
    Known,
    /// New and conflicting with one the pool holds: the evidence (also pooled).
    Equivocation(Box<Evidence>),
}

/// The pool's bounds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caps {
    /// Votes waiting for a block.
    pub pending_votes: usize,
    /// Target epochs remembered per validator (for detection).
    pub seen_per_validator: usize,
    /// Headers remembered per (slot, proposer) (for detection).
    pub headers: usize,
    /// Pieces of evidence known (one per offender and kind).
    pub evidence: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            pending_votes: 1 << 16,
            seen_per_validator: 32,
            headers: 1 << 14,
            evidence: 1 << 12,
        }
    }
}

/// (offender, kind): evidence is pooled once per key.
type EvidenceKey = (u32, &'static str);

fn evidence_key(e: &Evidence) -> Option<EvidenceKey> {
    Some((e.offender()?, e.kind()))
}

fn same_link(a: &Vote, b: &Vote) -> bool {
    (a.source, a.target) == (b.source, b.target)
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct VotePool {
    caps: Caps,
    /// Votes waiting for a block, by (target epoch, id) (shared items: every node of a
    /// process holds the same copy).
    pending: BTreeMap<(u64, Hash), SharedItem>,
    /// The first vote seen per (validator, target epoch), pending or included.
    seen: SeenVotes,
    /// Evidence waiting for a block.
    evidence: BTreeMap<EvidenceKey, Evidence>,
    /// Every (offender, kind) whose evidence the pool had.
    evidence_known: BTreeSet<EvidenceKey>,
    /// The first header per (slot, proposer).
    headers: BTreeMap<(u64, u32), BlockHeader>,
    /// The finalized epoch of the best chain, as last told.
    finalized_epoch: u64,
    /// Headers of earlier slots are forgotten.
    min_slot: u64,
    /// Evidence found among the votes of connected blocks, not yet taken.
    detected: Vec<Evidence>,
}

impl VotePool {
    /// An empty pool with these bounds.
    pub fn with_caps(caps: Caps) -> VotePool {
        VotePool {
            caps,
            ..VotePool::default()
        }
    }

    /// Adds a vote whose signature was checked (an item that is no vote is [`VoteAdmission::Known`]).
    pub fn add_vote(&mut self, item: &SharedItem) -> VoteAdmission {
        let Some(v) = item.as_vote() else {
            return VoteAdmission::Known;
        };
        match self.detect(v) {
            Detect::Known => VoteAdmission::Known,
            Detect::Conflict(e) => match self.add_evidence((*e).clone()) {
                true => VoteAdmission::Equivocation(e),
                false => VoteAdmission::Known,
            },
            Detect::New => {
                if self.remember(item) && self.push_pending(item) {
                    VoteAdmission::Added
                } else {
                    VoteAdmission::Known
                }
            }
        }
    }

    /// Whether `v` is known, conflicts with a vote seen, or is new.
    fn detect(&self, v: &Vote) -> Detect {
        if v.target.epoch <= self.finalized_epoch {
            return Detect::Known;
        }
        if let Some(w) = self
            .seen
            .get(v.validator, v.target.epoch)
            .and_then(|w| w.as_vote())
        {
            return match conflicting_votes(w, v) {
                Some(e) => Detect::Conflict(Box::new(e)),
                None => Detect::Known,
            };
        }
        self.seen
            .of(v.validator)
            .iter()
            .find_map(|(_, w)| conflicting_votes(w.as_vote()?, v))
            .map_or(Detect::New, |e| Detect::Conflict(Box::new(e)))
    }

    /// Notes `v` as seen; false when the per-validator cap pushed it out at once. A vote the cap
    /// pushes out leaves the pending votes too, so no validator holds more than
    /// [`Caps::seen_per_validator`] of them.
    fn remember(&mut self, item: &SharedItem) -> bool {
        let Some(v) = item.as_vote() else {
            return false;
        };
        if !self.seen.insert(v.validator, v.target.epoch, item) {
            return false;
        }
        if self.seen.of(v.validator).len() > self.caps.seen_per_validator {
            if let Some((epoch, old)) = self.seen.remove_oldest(v.validator) {
                self.pending.remove(&(epoch, old.id()));
                return epoch != v.target.epoch;
            }
        }
        true
    }

    /// Queues `v` for a block; false when the cap pushed it out at once.
    fn push_pending(&mut self, item: &SharedItem) -> bool {
        let Some(v) = item.as_vote() else {
            return false;
        };
        let key = (v.target.epoch, item.id());
        self.pending.insert(key, item.clone());
        if self.pending.len() > self.caps.pending_votes {
            return self.pending.pop_last().is_some_and(|(k, _)| k != key);
        }
        true
    }

    /// Adds checked evidence; true when new.
    pub fn add_evidence(&mut self, e: Evidence) -> bool {
        let Some(key) = evidence_key(&e) else {
            return false;
        };
        if self.evidence_known.contains(&key) || self.evidence_known.len() >= self.caps.evidence {
            return false;
        }
        self.evidence_known.insert(key);
        self.evidence.insert(key, e);
        true
    }

    /// Notes a stored block's header; evidence when it is a second block for its slot by its
    /// proposer (and the pool had no such evidence against it yet).
    pub fn note_header(&mut self, h: &BlockHeader) -> Option<Evidence> {
        let (Some(slot), Some(proposer)) = (h.slot(), proposer_of(h)) else {
            return None;
        };
        if slot < self.min_slot {
            return None;
        }
        match self.headers.get(&(slot, proposer)) {
            Some(first) => {
                let e = double_block(first, h)?;
                self.add_evidence(e.clone()).then_some(e)
            }
            None => {
                self.headers.insert((slot, proposer), h.clone());
                if self.headers.len() > self.caps.headers {
                    self.headers.pop_first();
                }
                None
            }
        }
    }

    /// The best chain's finalized checkpoint is now `finalized`: forget the votes that target
    /// it or earlier, and the headers of slots before its epoch.
    pub fn on_finalized(&mut self, pos: &Pos, finalized: Checkpoint) {
        if finalized.epoch <= self.finalized_epoch {
            return;
        }
        let f = finalized.epoch;
        self.finalized_epoch = f;
        self.pending = self.pending.split_off(&(f.saturating_add(1), Hash::ZERO));
        self.seen.retain_after(f);
        self.min_slot = pos.epoch_start(f);
        self.headers = self.headers.split_off(&(self.min_slot, 0));
    }

    /// The best chain moved: forget what `connected` holds, take back what `reverted` held.
    pub fn on_tip_change(&mut self, connected: &[Arc<Block>], reverted: &[Arc<Block>]) {
        for item in reverted.iter().flat_map(|b| &b.items) {
            match item.item() {
                Item::Vote(v) => {
                    if v.target.epoch > self.finalized_epoch
                        && self
                            .seen
                            .get(v.validator, v.target.epoch)
                            .and_then(|w| w.as_vote())
                            .is_none_or(|w| same_link(w, v))
                        && self.remember(item)
                    {
                        self.push_pending(item);
                    }
                }
                Item::Evidence(e) => {
                    if let Some(key) = evidence_key(e) {
                        self.evidence_known.insert(key);
                        self.evidence.entry(key).or_insert_with(|| e.clone());
                    }
                }
            }
        }
        for item in connected.iter().flat_map(|b| &b.items) {
            match item.item() {
                Item::Vote(v) => {
                    self.pending.remove(&(v.target.epoch, item.id()));
                    match self.detect(v) {
                        Detect::Known => {}
                        Detect::New => {
                            self.remember(item);
                        }
                        Detect::Conflict(e) => {
                            if self.add_evidence((*e).clone()) {
                                self.detected.push(*e);
                            }
                        }
                    }
                }
                Item::Evidence(e) => {
                    if let Some(key) = evidence_key(e) {
                        self.evidence.remove(&key);
                        self.evidence_known.insert(key);
                    }
                }
            }
        }
    }

    /// Evidence found among the votes of connected blocks ([`VotePool::on_tip_change`]) since
    /// the last call: new to this node, already pooled; gossip it.
    pub fn take_detected(&mut self) -> Vec<Evidence> {
        std::mem::take(&mut self.detected)
    }

    /// The items a block on the parent of `rule` should include, at most `max`: evidence
    /// against validators not yet slashed on the branch (one per offender), then the votes
    /// that would count on it (target its checkpoint, the parent itself for the epoch after
    /// the parent's; source justified there; validator not yet counted for the target epoch;
    /// one per validator and target epoch), by target epoch.
    pub fn template(&self, rule: &PosRule, max: usize) -> Vec<SharedItem> {
        let ffg = &rule.state.ffg;
        let mut out = Vec::new();
        let mut offenders = BTreeSet::new();
        for (&(offender, _), e) in &self.evidence {
            if out.len() >= max {
                return out;
            }
            if !ffg.is_slashed(offender) && offenders.insert(offender) {
                out.push(SharedItem::new(Item::Evidence(e.clone())));
            }
        }
        let (lo, hi) = (
            ffg.finalized.epoch.saturating_add(1),
            ffg.epoch.saturating_add(1),
        );
        let mut taken = BTreeSet::new();
        for (&(e, _), item) in self.pending.range((lo, Hash::ZERO)..) {
            if e > hi || out.len() >= max {
                break;
            }
            let Some(v) = item.as_vote() else { continue };
            if ffg.checkpoint_for_child(rule.parent, e) == Some(v.target)
                && v.source.epoch < e
                && ffg.is_justified(&v.source)
                && !ffg.is_counted(v.validator, e)
                && taken.insert((v.validator, e))
            {
                out.push(item.clone());
            }
        }
        out
    }

    /// Votes waiting for a block.
    pub fn pending_votes(&self) -> usize {
        self.pending.len()
    }

    /// Evidence waiting for a block.
    pub fn pending_evidence(&self) -> usize {
        self.evidence.len()
    }

    /// Votes remembered for detection.
    pub fn seen_votes(&self) -> usize {
        self.seen.len()
    }

    /// Headers remembered for detection.
    pub fn noted_headers(&self) -> usize {
        self.headers.len()
    }
}

/// Validator indices the pool remembers votes of (checked votes name one of the validator
/// set's; this bounds what an unchecked caller could make it allocate).
const MAX_VALIDATORS: usize = 1 << 20;

/// The votes seen, per validator index: each validator's ascending by target epoch (a few
/// each: [`Caps::seen_per_validator`] at most).
#[derive(Debug, Default)]
struct SeenVotes {
    by_validator: Vec<Vec<(u64, SharedItem)>>,
    len: usize,
}

impl SeenVotes {
    fn of(&self, validator: u32) -> &[(u64, SharedItem)] {
        self.by_validator
            .get(validator as usize)
            .map_or(&[], Vec::as_slice)
    }

    fn get(&self, validator: u32, epoch: u64) -> Option<&SharedItem> {
        let votes = self.of(validator);
        let i = votes.binary_search_by_key(&epoch, |(e, _)| *e).ok()?;
        votes.get(i).map(|(_, item)| item)
    }

    /// Sets the vote of (`validator`, `epoch`); false when the index is out of bounds.
    fn insert(&mut self, validator: u32, epoch: u64, item: &SharedItem) -> bool {
        let i = validator as usize;
        if i >= MAX_VALIDATORS {
            return false;
        }
        if self.by_validator.len() <= i {
            self.by_validator.resize_with(i + 1, Vec::new);
        }
        let votes = &mut self.by_validator[i];
        match votes.binary_search_by_key(&epoch, |(e, _)| *e) {
            Ok(at) => votes[at].1 = item.clone(),
            Err(at) => {
                votes.insert(at, (epoch, item.clone()));
                self.len += 1;
            }
        }
        true
    }

    fn remove_oldest(&mut self, validator: u32) -> Option<(u64, SharedItem)> {
        let votes = self.by_validator.get_mut(validator as usize)?;
        if votes.is_empty() {
            return None;
        }
        self.len -= 1;
        Some(votes.remove(0))
    }

    /// Forgets every vote whose target epoch is `f` or earlier.
    fn retain_after(&mut self, f: u64) {
        for votes in &mut self.by_validator {
            let before = votes.len();
            votes.retain(|(e, _)| *e > f);
            self.len -= before - votes.len();
        }
    }

    fn len(&self) -> usize {
        self.len
    }
}

/// What the pool knows of a vote.
enum Detect {
    Known,
    New,
    Conflict(Box<Evidence>),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::pos::ffg_testkit::{cp, header, pos, vote, Branch, E};

    impl VotePool {
        fn add_vote_of(&mut self, v: Vote) -> VoteAdmission {
            self.add_vote(&Item::Vote(v).into())
        }
    }

    fn block(items: Vec<SharedItem>) -> Arc<Block> {
        let p = pos(&[1]);
        Arc::new(Block {
            header: header(&p, Hash::ZERO, 1, 0, 0),
            txs: Vec::new(),
            items,
        })
    }

    fn votes_of(items: &[SharedItem]) -> Vec<u32> {
        let mut out: Vec<u32> = items
            .iter()
            .filter_map(|i| match i.item() {
                Item::Vote(v) => Some(v.validator),
                Item::Evidence(_) => None,
            })
            .collect();
        out.sort_unstable();
        out
    }

    #[test]
    fn a_vote_is_added_once_and_conflicts_give_evidence_once() {
        let p = pos(&[1, 1, 1]);
        let mut pool = VotePool::default();
        let g = cp(0, Hash::ZERO);
        let a = vote(&p, 0, g, cp(1, Hash([1; 32])));
        assert_eq!(pool.add_vote_of(a), VoteAdmission::Added);
        assert_eq!(pool.add_vote_of(a), VoteAdmission::Known);
        let b = vote(&p, 0, g, cp(1, Hash([2; 32])));
        let VoteAdmission::Equivocation(e) = pool.add_vote_of(b) else {
            panic!("a double vote goes unnoticed");
        };
        assert_eq!((e.kind(), e.offender()), ("double_vote", Some(0)));
        assert_eq!(p.check_evidence(0, &e), Ok(0));
        let c = vote(&p, 0, g, cp(1, Hash([3; 32])));
        assert_eq!(
            pool.add_vote_of(c),
            VoteAdmission::Known,
            "evidence already held"
        );
        assert_eq!((pool.pending_votes(), pool.pending_evidence()), (1, 1));
    }

    #[test]
    fn surround_votes_are_caught_in_either_order() {
        let p = pos(&[1, 1, 1]);
        let mut pool = VotePool::default();
        let mk = |i| {
            (
                vote(&p, i, cp(1, Hash::ZERO), cp(5, Hash::ZERO)),
                vote(&p, i, cp(2, Hash::ZERO), cp(3, Hash::ZERO)),
            )
        };
        let (o1, i1) = mk(1);
        assert_eq!(pool.add_vote_of(o1), VoteAdmission::Added);
        let VoteAdmission::Equivocation(e1) = pool.add_vote_of(i1) else {
            panic!("surrounded after surrounding")
        };
        let (o2, i2) = mk(2);
        assert_eq!(pool.add_vote_of(i2), VoteAdmission::Added);
        let VoteAdmission::Equivocation(e2) = pool.add_vote_of(o2) else {
            panic!("surrounding after surrounded")
        };
        assert_eq!(*e1, Evidence::SurroundVote { a: o1, b: i1 });
        assert_eq!(*e2, Evidence::SurroundVote { a: o2, b: i2 });
        let compatible = vote(&p, 1, cp(5, Hash::ZERO), cp(6, Hash::ZERO));
        assert_eq!(pool.add_vote_of(compatible), VoteAdmission::Added);
    }

    #[test]
    fn templates_skip_what_the_branch_holds_and_take_back_reverted_items() {
        let p = pos(&[1, 1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let mut pool = VotePool::default();
        for item in b.votes(&[0, 1, 2], 1) {
            assert_eq!(pool.add_vote(&item.into()), VoteAdmission::Added);
        }
        let elsewhere = vote(&p, 3, b.ffg.justified, cp(1, Hash([9; 32])));
        assert_eq!(pool.add_vote_of(elsewhere), VoteAdmission::Added);
        let h = |salt| header(&p, Hash::ZERO, 3, 2, salt);
        assert_eq!(pool.note_header(&h(1)), None);
        assert!(pool.note_header(&h(2)).is_some());
        let before = b.rule();
        let items = pool.template(&before, 100);
        assert!(
            matches!(items[0].item(), Item::Evidence(_)),
            "evidence first"
        );
        assert_eq!(
            votes_of(&items),
            vec![0, 1, 2],
            "not the vote for another branch"
        );
        assert_eq!(pool.template(&before, 2).len(), 2, "at most max");

        // The branch holds them: a template on it skips them, before and after the pool hears.
        b.extend(E + 2, items.clone()).unwrap();
        assert!(b.ffg.is_slashed(2) && b.ffg.justified.epoch == 1);
        assert_eq!(pool.template(&b.rule(), 100), vec![]);
        let blk = block(items.clone());
        pool.on_tip_change(std::slice::from_ref(&blk), &[]);
        assert_eq!((pool.pending_votes(), pool.pending_evidence()), (1, 0));
        assert_eq!(
            pool.template(&before, 100),
            vec![],
            "connected items are gone"
        );

        // Reverted: back in the pool, and in the template of the old parent.
        pool.on_tip_change(&[], &[blk]);
        assert_eq!(pool.template(&before, 100), items);
    }

    #[test]
    fn a_template_votes_for_the_parent_as_the_next_epoch_checkpoint() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([7]);
        let mut pool = VotePool::default();
        let g = b.ffg.justified;
        let next = vote(&p, 0, g, cp(1, b.tip().0));
        let later = vote(&p, 1, g, cp(2, b.tip().0));
        pool.add_vote_of(next);
        pool.add_vote_of(later);
        assert_eq!(pool.template(&b.rule(), 10), vec![Item::Vote(next).into()]);
    }

    #[test]
    fn included_votes_that_conflict_are_detected() {
        let p = pos(&[1, 1, 1]);
        let mut pool = VotePool::default();
        let g = cp(0, Hash::ZERO);
        pool.add_vote_of(vote(&p, 0, g, cp(1, Hash([1; 32]))));
        let other = vote(&p, 0, g, cp(1, Hash([2; 32])));
        pool.on_tip_change(&[block(vec![Item::Vote(other).into()])], &[]);
        let found = pool.take_detected();
        assert_eq!(
            found.iter().map(Evidence::kind).collect::<Vec<_>>(),
            ["double_vote"]
        );
        assert!(pool.take_detected().is_empty());
        assert_eq!(pool.pending_evidence(), 1);
    }

    #[test]
    fn finality_forgets_old_votes_and_headers() {
        let p = pos(&[1, 1, 1]);
        let mut pool = VotePool::default();
        let g = cp(0, Hash::ZERO);
        let v1 = vote(&p, 0, g, cp(1, Hash([1; 32])));
        pool.add_vote_of(v1);
        pool.add_vote_of(vote(&p, 0, g, cp(2, Hash([1; 32]))));
        pool.note_header(&header(&p, Hash::ZERO, 3, 0, 0));
        pool.note_header(&header(&p, Hash::ZERO, E + 3, 0, 0));
        pool.on_finalized(&p, cp(1, Hash([1; 32])));
        assert_eq!((pool.pending_votes(), pool.seen_votes()), (1, 1));
        assert_eq!(pool.noted_headers(), 1);
        assert_eq!(pool.add_vote_of(v1), VoteAdmission::Known);
        assert_eq!(pool.note_header(&header(&p, Hash::ZERO, 3, 0, 1)), None);
    }

    #[test]
    fn caps_hold_under_a_flood() {
        let p = pos(&[1, 1, 1]);
        let caps = Caps {
            pending_votes: 3,
            seen_per_validator: 4,
            headers: 4,
            evidence: 2,
        };
        let mut pool = VotePool::with_caps(caps);
        let b = Branch::new(&p);
        let g = b.ffg.justified;
        for e in 100..140 {
            pool.add_vote_of(vote(&p, 0, g, cp(e, Hash([1; 32]))));
            assert!(pool.pending_votes() <= 3 && pool.seen_votes() <= 4);
        }
        let mut wide = VotePool::with_caps(Caps {
            pending_votes: 1000,
            ..caps
        });
        for e in 100..140 {
            wide.add_vote_of(vote(&p, 0, g, cp(e, Hash([1; 32]))));
        }
        assert_eq!(
            wide.pending_votes(),
            4,
            "one validator holds at most 4 pending"
        );
        // Honest votes still get in: the flood's latest target epochs make way.
        for i in [1, 2] {
            assert_eq!(
                pool.add_vote_of(vote(&p, i, g, cp(1, Hash([1; 32])))),
                VoteAdmission::Added
            );
        }
        assert_eq!(
            pool.pending_votes(),
            3,
            "the flood's latest target epochs made way"
        );
        let mut rule = b.rule();
        rule.parent = Hash([1; 32]);
        assert_eq!(votes_of(&pool.template(&rule, 100)), vec![1, 2]);
        for s in 0..20 {
            pool.note_header(&header(&p, Hash::ZERO, s, 0, 0));
        }
        assert_eq!(pool.noted_headers(), 4);
        for i in 0..3 {
            let a = vote(&p, i, g, cp(7, Hash([1; 32])));
            let b = vote(&p, i, g, cp(7, Hash([2; 32])));
            pool.add_evidence(conflicting_votes(&a, &b).unwrap());
        }
        assert_eq!(pool.pending_evidence(), 2);
    }
}
