//! Casper FFG on a branch: checkpoints, the votes included in blocks, justification
//! (≥ 2/3 of the epoch's stake on a link from a justified source), finalization
//! (justified-on-justified in the next epoch) and slashing from included evidence.
//!
//! The rules, and why they are what they are, are in `docs/pos.md` ("Finality and slashing").
//! A vote included in a block counts on the block's branch when its target is the branch's
//! checkpoint of the target epoch (an epoch not after the block's), its source is justified on
//! the branch and older than the target, the target epoch is after the finalized one, and its
//! validator was not yet counted for that target epoch on the branch; any other (correctly
//! signed) vote is carried and counts nothing.

use super::tally::{find_checkpoint, CheckpointRun, Tally, VoterSet};
use super::{Pos, PosError, PosRule};
use crate::block::{Block, Checkpoint, Evidence, Item, Vote};
use crate::crypto::{KeyPair, Signature};
use crate::hash::Hash;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A link: (source, target).
type Link = (Checkpoint, Checkpoint);

/// The finality facts of one branch, after one block.
///
/// Everything but the two checkpoints sits behind an `Arc` and is copied on write, so the
/// state of a block with no items and no epoch boundary costs a few reference counts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FfgState {
    /// The latest justified checkpoint.
    pub justified: Checkpoint,
    /// The latest finalized checkpoint.
    pub finalized: Checkpoint,
    /// The epoch of the branch's last block (of its slot).
    pub epoch: u64,
    /// The branch's checkpoints of the epochs from the finalized one on, ascending.
    checkpoints: Arc<Vec<CheckpointRun>>,
    /// The branch's justified checkpoints from the finalized one on, ascending.
    justified_set: Arc<Vec<Checkpoint>>,
    /// The votes counted per link whose source is not below the finalized checkpoint and
    /// whose target is above it.
    links: Arc<BTreeMap<Link, Arc<Tally>>>,
    /// Who was counted, per target epoch above the finalized one.
    counted: Arc<BTreeMap<u64, Arc<VoterSet>>>,
    /// The validators slashed on this branch.
    slashed: Arc<VoterSet>,
}

/// One block's context for [`FfgState::child`].
#[derive(Clone, Copy, Debug)]
pub struct BlockCtx<'a> {
    /// The engine.
    pub pos: &'a Pos,
    /// The parent's hash.
    pub parent: Hash,
    /// The parent's slot.
    pub parent_slot: u64,
    /// The block's hash.
    pub hash: Hash,
    /// The block's slot.
    pub slot: u64,
    /// The block.
    pub block: &'a Block,
    /// The stake table of the block's epoch.
    pub epoch_stakes: &'a [u64],
}

impl FfgState {
    /// The state of genesis: genesis is the justified and finalized checkpoint of epoch 0.
    pub fn genesis(genesis: Hash) -> FfgState {
        let c = Checkpoint {
            epoch: 0,
            hash: genesis,
        };
        FfgState {
            justified: c,
            finalized: c,
            epoch: 0,
            checkpoints: Arc::new(vec![CheckpointRun {
                from: 0,
                to: 0,
                hash: genesis,
            }]),
            justified_set: Arc::new(vec![c]),
            links: Arc::default(),
            counted: Arc::default(),
            slashed: Arc::default(),
        }
    }

    /// The state after `ctx.block`: checkpoints crossed, its votes counted, its evidence
    /// applied (slashing edits `stakes`, the current stakes).
    ///
    /// # Errors
    /// An included vote or evidence that does not hold on this branch: one naming a
    /// validator outside the set ([`PosError::UnknownValidator`]), evidence naming no
    /// offender ([`PosError::BadEvidence`]). Items are checked in themselves before
    /// ([`Pos::check_items_in_themselves`]), so neither happens to a block that passed it.
    pub fn child(&self, ctx: &BlockCtx<'_>, stakes: &mut [u64]) -> Result<FfgState, PosError> {
        let mut s = self.clone();
        let parent_epoch = ctx.pos.epoch_of(ctx.parent_slot);
        let epoch = ctx.pos.epoch_of(ctx.slot);
        if epoch > parent_epoch {
            // The parent is the last block before every boundary the block crosses.
            Arc::make_mut(&mut s.checkpoints).push(CheckpointRun {
                from: parent_epoch + 1,
                to: epoch,
                hash: ctx.parent,
            });
        }
        s.epoch = epoch;
        let finalized = s.finalized.epoch;
        let mut total = None;
        for (index, item) in ctx.block.items.iter().enumerate() {
            match item.item() {
                Item::Vote(v) => {
                    let n = ctx.epoch_stakes.len();
                    if v.validator as usize >= n {
                        return Err(PosError::UnknownValidator(v.validator));
                    }
                    let total = *total.get_or_insert_with(|| {
                        ctx.epoch_stakes.iter().map(|&x| u128::from(x)).sum()
                    });
                    s.count_vote(v, ctx.epoch_stakes, total);
                }
                Item::Evidence(e) => s.apply_evidence(index, e, ctx.pos, stakes)?,
            }
        }
        if s.finalized.epoch != finalized {
            s.prune();
        }
        Ok(s)
    }

    /// Counts `v` if it counts on this branch (module doc); justifies and finalizes.
    fn count_vote(&mut self, v: &Vote, epoch_stakes: &[u64], total: u128) {
        if !self.would_count(v) {
            return;
        }
        let e = v.target.epoch;
        let counted = Arc::make_mut(&mut self.counted);
        if !Arc::make_mut(counted.entry(e).or_default()).insert(v.validator) {
            return;
        }
        let links = Arc::make_mut(&mut self.links);
        let tally = Arc::make_mut(links.entry((v.source, v.target)).or_default());
        let stake = tally.add(v.validator, self.epoch, epoch_stakes);
        if total == 0 || 3 * stake < 2 * total {
            return;
        }
        if let Err(at) = self.justified_set.binary_search(&v.target) {
            Arc::make_mut(&mut self.justified_set).insert(at, v.target);
        }
        if v.target.epoch > self.justified.epoch {
            self.justified = v.target;
        }
        if v.target.epoch == v.source.epoch + 1 && v.source.epoch > self.finalized.epoch {
            self.finalized = v.source;
        }
    }

    /// Whether `v` would count on this branch (its target epoch's checkpoint being known):
    /// target is the branch's checkpoint, source justified here and older, target epoch
    /// after the finalized one, validator not yet counted for the target epoch.
    pub fn would_count(&self, v: &Vote) -> bool {
        v.target.epoch > self.finalized.epoch
            && v.source.epoch < v.target.epoch
            && self.checkpoint(v.target.epoch) == Some(v.target)
            && self.is_justified(&v.source)
            && !self.is_counted(v.validator, v.target.epoch)
    }

    fn apply_evidence(
        &mut self,
        index: usize,
        e: &Evidence,
        pos: &Pos,
        stakes: &mut [u64],
    ) -> Result<(), PosError> {
        let offender = e.offender().ok_or_else(|| PosError::BadEvidence {
            index,
            reason: "it names no proof-of-stake proposer".into(),
        })?;
        if self.slashed.contains(offender) {
            return Ok(());
        }
        let stake = stakes
            .get_mut(offender as usize)
            .ok_or(PosError::UnknownValidator(offender))?;
        *stake -= pos.slash_amount(*stake);
        Arc::make_mut(&mut self.slashed).insert(offender);
        Ok(())
    }

    /// Forgets what the finalized checkpoint makes irrelevant.
    fn prune(&mut self) {
        let f = self.finalized.epoch;
        if self.checkpoints.first().is_some_and(|r| r.to < f) {
            Arc::make_mut(&mut self.checkpoints).retain(|r| r.to >= f);
        }
        if self.justified_set.first().is_some_and(|c| c.epoch < f) {
            Arc::make_mut(&mut self.justified_set).retain(|c| c.epoch >= f);
        }
        if self.links.keys().any(|(s, t)| s.epoch < f || t.epoch <= f) {
            Arc::make_mut(&mut self.links).retain(|(s, t), _| s.epoch >= f && t.epoch > f);
        }
        if self.counted.keys().next().is_some_and(|&e| e <= f) {
            Arc::make_mut(&mut self.counted).retain(|&e, _| e > f);
        }
    }

    /// This branch's checkpoint of `epoch`, if it still keeps it (epochs from the finalized
    /// one up to the branch's last block's).
    pub fn checkpoint(&self, epoch: u64) -> Option<Checkpoint> {
        find_checkpoint(&self.checkpoints, epoch)
    }

    /// The checkpoint of `epoch` for a child of this branch's last block `tip` whose slot is
    /// in `epoch` or later: the recorded one, or `tip` itself for an epoch after its own.
    pub fn checkpoint_for_child(&self, tip: Hash, epoch: u64) -> Option<Checkpoint> {
        if epoch > self.epoch {
            Some(Checkpoint { epoch, hash: tip })
        } else {
            self.checkpoint(epoch)
        }
    }

    /// Whether `c` is justified on this branch (and not below the finalized checkpoint).
    pub fn is_justified(&self, c: &Checkpoint) -> bool {
        self.justified_set.binary_search(c).is_ok()
    }

    /// Whether `validator`'s vote for `target_epoch` was counted on this branch.
    pub fn is_counted(&self, validator: u32, target_epoch: u64) -> bool {
        self.counted
            .get(&target_epoch)
            .is_some_and(|s| s.contains(validator))
    }

    /// Whether `validator` was slashed on this branch.
    pub fn is_slashed(&self, validator: u32) -> bool {
        self.slashed.contains(validator)
    }

    /// The validators slashed on this branch, ascending.
    pub fn slashed(&self) -> impl Iterator<Item = u32> + '_ {
        self.slashed.iter()
    }

    /// The stake counted on the link `source → target` (in the stake table of the epoch of
    /// the last vote counted on it), if any vote was.
    pub fn link_stake(&self, source: &Checkpoint, target: &Checkpoint) -> Option<u128> {
        self.links.get(&(*source, *target)).map(|t| t.stake)
    }
}

impl Pos {
    /// When validators vote for the checkpoint of `epoch`: cluster milliseconds.
    pub fn vote_time_ms(&self, epoch: u64) -> u64 {
        self.slot_start_ms(self.epoch_start(epoch) + self.vote_offset_slots)
    }

    /// The checkpoint vote of the validator with `key` for `epoch`, on the branch `rule`
    /// builds on (its justified checkpoint as source, its checkpoint of `epoch` as target);
    /// `None` when the key is no validator or has no stake, or no such vote can count
    /// (`epoch` not after the justified or finalized epoch, its checkpoint forgotten).
    ///
    /// An honest validator must also never sign two votes that conflict
    /// ([`super::evidence::conflicting_votes`]): its caller keeps its own votes and checks
    /// with [`super::evidence::safe_to_cast`] (a reorganisation to a branch with an older
    /// justified checkpoint would otherwise make it surround its own earlier vote).
    pub fn vote(&self, rule: &PosRule, epoch: u64, key: &KeyPair) -> Option<Vote> {
        let validator = self.validator_index(&key.public)?;
        let stake = rule.state.stakes.get(validator as usize).copied()?;
        let ffg = &rule.state.ffg;
        if stake == 0 || epoch <= ffg.justified.epoch || epoch <= ffg.finalized.epoch {
            return None;
        }
        let target = ffg.checkpoint_for_child(rule.parent, epoch)?;
        let mut v = Vote {
            validator,
            source: ffg.justified,
            target,
            signature: Signature([0; 64]),
        };
        self.sign_vote(&mut v, key);
        Some(v)
    }

    /// The stake slashing removes from a validator holding `stake`:
    /// ⌊stake · slash_fraction⌋ (at most `stake`).
    pub fn slash_amount(&self, stake: u64) -> u64 {
        let f = self.slash_fraction.clamp(0.0, 1.0);
        ((stake as f64 * f).floor() as u64).min(stake)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::pos::evidence::conflicting_votes;
    use crate::consensus::pos::ffg_testkit::{cp, key, pos, vote, Branch, E};

    #[test]
    fn justifies_at_exactly_two_thirds_of_the_stake() {
        let p = pos(&[2, 2, 2]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let c1 = b.ffg.checkpoint(1).unwrap();
        assert_eq!(
            c1.hash, b.blocks[1].0,
            "checkpoint(1) is the last block before slot E"
        );
        let v = b.votes(&[0], 1);
        b.extend(E + 2, v).unwrap();
        assert_eq!(b.ffg.justified.epoch, 0, "1/3 justifies nothing");
        let v = b.votes(&[1], 1);
        b.extend(E + 3, v).unwrap();
        assert_eq!(b.ffg.justified, c1, "exactly 2/3 justifies");
        assert!(b.ffg.is_justified(&c1));
    }

    #[test]
    fn does_not_justify_just_below_two_thirds() {
        let p = pos(&[1_000_000, 1_000_000, 1_000_001]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let v = b.votes(&[0, 1], 1);
        b.extend(E + 2, v).unwrap();
        assert_eq!(
            b.ffg.justified.epoch, 0,
            "2,000,000 of 3,000,001 is below 2/3"
        );
        let c1 = b.ffg.checkpoint(1).unwrap();
        assert_eq!(b.ffg.link_stake(&b.ffg.justified, &c1), Some(2_000_000));
        let v = b.votes(&[2], 1);
        b.extend(E + 3, v).unwrap();
        assert_eq!(b.ffg.justified, c1);
    }

    /// Epochs 1, 2 and 3 each justified from the previous one.
    #[test]
    fn consecutive_justified_epochs_finalize_and_prune() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        let all = [0, 1, 2];
        b.extend_empty([1, E + 1]);
        let v = b.votes(&all, 1);
        b.extend(E + 2, v).unwrap();
        let c1 = b.ffg.checkpoint(1).unwrap();
        assert_eq!((b.ffg.justified, b.ffg.finalized.epoch), (c1, 0));
        b.extend_empty([2 * E + 1]);
        let c2 = b.ffg.checkpoint(2).unwrap();
        assert_eq!(c2.hash, b.blocks[3].0);
        let v = b.votes(&all, 2);
        b.extend(2 * E + 2, v).unwrap();
        assert_eq!((b.ffg.justified, b.ffg.finalized), (c2, c1));
        assert_eq!(
            b.ffg.checkpoint(0),
            None,
            "pruned below the finalized epoch"
        );
        assert_eq!(b.ffg.checkpoint(1), Some(c1));
        b.extend_empty([3 * E]);
        let v = b.votes(&all, 3);
        b.extend(3 * E + 1, v).unwrap();
        assert_eq!(b.ffg.finalized, c2);
        assert_eq!(b.ffg.checkpoint(1), None);
        assert!(
            !b.ffg.is_justified(&c1),
            "justified below the finalized one is forgotten"
        );
        assert!(b.ffg.links.keys().all(|(s, t)| s.epoch >= 2 && t.epoch > 2));
        assert!(b.ffg.counted.keys().all(|&e| e > 2));
    }

    #[test]
    fn no_finalization_across_a_skipped_epoch() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        let all = [0, 1, 2];
        b.extend_empty([1, E + 1]);
        let v = b.votes(&all, 1);
        b.extend(E + 2, v).unwrap();
        // Epoch 2 gets no votes; epoch 3's link comes from epoch 1.
        b.extend_empty([2 * E + 1, 3 * E + 1]);
        let v = b.votes(&all, 3);
        b.extend(3 * E + 2, v).unwrap();
        let c3 = b.ffg.checkpoint(3).unwrap();
        assert_eq!(b.ffg.justified, c3);
        assert_eq!(b.ffg.finalized.epoch, 0, "1 → 3 finalizes nothing");
        b.extend_empty([4 * E + 1]);
        let v = b.votes(&all, 4);
        b.extend(4 * E + 2, v).unwrap();
        assert_eq!(b.ffg.finalized, c3);
    }

    #[test]
    fn a_block_after_empty_epochs_is_their_checkpoint_for_each() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, 3 * E + 5]);
        let first = b.blocks[1].0;
        for e in 1..=3 {
            assert_eq!(b.ffg.checkpoint(e), Some(cp(e, first)));
        }
        assert_eq!(b.ffg.checkpoint(4), None);
        let v = b.votes(&[0, 1, 2], 3);
        b.extend(3 * E + 6, v).unwrap();
        assert_eq!(b.ffg.justified, cp(3, first));
    }

    #[test]
    fn votes_for_another_branch_checkpoint_do_not_count() {
        let p = pos(&[1, 1, 1]);
        let mut a = Branch::new(&p);
        let mut b = a.clone();
        a.extend_empty([1, E + 1]);
        b.extend_empty([2, E + 2]);
        let theirs = b.votes(&[0, 1, 2], 1);
        a.extend(E + 3, theirs.clone()).unwrap();
        assert_eq!(a.ffg.justified.epoch, 0);
        assert_eq!(
            a.ffg
                .link_stake(&a.ffg.justified, &b.ffg.checkpoint(1).unwrap()),
            None
        );
        assert!(
            !a.ffg.is_counted(0, 1),
            "a vote that did not count does not use up the voter"
        );
        b.extend(E + 3, theirs).unwrap();
        assert_eq!(b.ffg.justified.epoch, 1);
    }

    #[test]
    fn a_vote_before_its_checkpoint_is_fixed_does_not_count() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([5]);
        let early: Vec<Item> = (0..3)
            .map(|i| Item::Vote(vote(&p, i, b.ffg.justified, cp(1, b.tip().0))))
            .collect();
        b.extend(6, early.clone()).unwrap();
        b.extend(E + 1, early).unwrap();
        assert_eq!(
            b.ffg.justified.epoch, 0,
            "checkpoint(1) is the block of slot 6"
        );
    }

    #[test]
    fn a_duplicated_vote_is_counted_once() {
        let p = pos(&[1, 1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let v0 = b.votes(&[0], 1);
        b.extend(E + 2, [v0.clone(), v0.clone()].concat()).unwrap();
        b.extend(E + 3, v0).unwrap();
        let (s, t) = (b.ffg.justified, b.ffg.checkpoint(1).unwrap());
        assert_eq!(b.ffg.link_stake(&s, &t), Some(1));
        let v1 = b.votes(&[1], 1);
        b.extend(E + 4, v1).unwrap();
        assert_eq!(
            b.ffg.justified.epoch, 0,
            "2 of 4: the duplicate did not count"
        );
        let v2 = b.votes(&[2], 1);
        b.extend(E + 5, v2).unwrap();
        assert_eq!(b.ffg.justified, t);
    }

    fn double_vote(p: &Pos, i: u32, b: &Branch) -> Item {
        let s = b.ffg.justified;
        let ev = conflicting_votes(
            &vote(p, i, s, cp(1, Hash([1; 32]))),
            &vote(p, i, s, cp(1, Hash([2; 32]))),
        )
        .unwrap();
        Item::Evidence(ev)
    }

    #[test]
    fn slashing_lowers_stake_once_per_offender() {
        let p = pos(&[101, 100, 100]);
        let mut b = Branch::new(&p);
        let e0 = double_vote(&p, 0, &b);
        b.extend(1, vec![e0.clone()]).unwrap();
        assert_eq!(b.stakes, vec![51, 100, 100], "floor(101 / 2) slashed");
        assert!(b.ffg.is_slashed(0));
        b.extend(2, vec![e0]).unwrap();
        let h = |salt| crate::consensus::pos::ffg_testkit::header(&p, Hash::ZERO, 3, 0, salt);
        let db = crate::consensus::pos::evidence::double_block(&h(1), &h(2)).unwrap();
        b.extend(3, vec![Item::Evidence(db)]).unwrap();
        assert_eq!(
            b.stakes,
            vec![51, 100, 100],
            "later evidence changes nothing"
        );
        b.extend(4, vec![double_vote(&p, 2, &b)]).unwrap();
        assert_eq!(b.stakes, vec![51, 100, 50]);
        assert_eq!(b.ffg.slashed().collect::<Vec<_>>(), vec![0, 2]);
    }

    #[test]
    fn slashing_weighs_from_the_next_epoch_on() {
        let p = pos(&[4, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let ev = double_vote(&p, 0, &b);
        b.extend(E + 2, vec![ev]).unwrap();
        assert_eq!(b.stakes, vec![2, 1, 1]);
        let v = b.votes(&[0], 1);
        b.extend(E + 3, v).unwrap();
        assert_eq!(
            b.ffg.justified.epoch, 1,
            "epoch 1's table still gives 4 of 6"
        );
        b.extend_empty([2 * E + 1]);
        let v = b.votes(&[0], 2);
        b.extend(2 * E + 2, v).unwrap();
        assert_eq!(b.ffg.justified.epoch, 1, "epoch 2's table gives 2 of 4");
        let v = b.votes(&[1], 2);
        b.extend(2 * E + 3, v).unwrap();
        assert_eq!(b.ffg.justified.epoch, 2);
    }

    #[test]
    fn an_empty_block_shares_everything_with_its_parent() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let v = b.votes(&[0], 1);
        b.extend(E + 2, v).unwrap();
        let before = b.ffg.clone();
        b.extend_empty([E + 3]);
        let after = &b.ffg;
        assert!(Arc::ptr_eq(&before.checkpoints, &after.checkpoints));
        assert!(Arc::ptr_eq(&before.justified_set, &after.justified_set));
        assert!(Arc::ptr_eq(&before.links, &after.links));
        assert!(Arc::ptr_eq(&before.counted, &after.counted));
        assert!(Arc::ptr_eq(&before.slashed, &after.slashed));
    }

    #[test]
    fn child_refuses_items_naming_no_validator() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1, E + 1]);
        let mut v = b.votes(&[0], 1);
        if let Item::Vote(v) = &mut v[0] {
            v.validator = 9;
        }
        assert_eq!(b.extend(E + 2, v), Err(PosError::UnknownValidator(9)));
        let mut h = crate::consensus::pos::ffg_testkit::header(&p, Hash::ZERO, 1, 0, 0);
        h.seal = crate::block::Seal::Pow {
            difficulty: 1,
            nonce: 0,
        };
        let e = Evidence::DoubleBlock {
            a: Box::new(h.clone()),
            b: Box::new(h),
        };
        let err = b.extend(E + 2, vec![Item::Evidence(e)]).unwrap_err();
        assert!(
            matches!(err, PosError::BadEvidence { index: 0, .. }),
            "{err}"
        );
    }

    #[test]
    fn a_validator_votes_from_its_justified_checkpoint_to_its_checkpoint() {
        let p = pos(&[1, 1, 1]);
        let mut b = Branch::new(&p);
        b.extend_empty([1]);
        let v = p.vote(&b.rule(), 1, &key(1)).unwrap();
        assert_eq!((v.validator, v.source), (1, b.ffg.justified));
        assert_eq!(
            v.target,
            cp(1, b.tip().0),
            "the tip, while no block is in epoch 1"
        );
        assert!(p.verify_vote(0, &v, None).is_ok());
        assert_eq!(p.vote(&b.rule(), 1, &key(7)), None, "no validator");
        assert_eq!(
            p.vote(&b.rule(), 0, &key(1)),
            None,
            "not after the justified epoch"
        );
        b.extend_empty([E + 4]);
        let v = p.vote(&b.rule(), 1, &key(1)).unwrap();
        assert_eq!(v.target, cp(1, b.blocks[1].0));
        let mut zero = b.clone();
        zero.stakes[2] = 0;
        assert_eq!(p.vote(&zero.rule(), 1, &key(2)), None, "no stake");
    }

    /// One branch, lottery-like blocks (each slot non-empty with probability f), every
    /// validator voting at its vote time and the next block including the votes: the mean lag
    /// from a block's slot to the slot of the block that finalizes it is the one derived in
    /// docs/pos.md, ((3E + 1)/2 + o + 1/f) slots.
    #[test]
    fn the_finality_lag_is_as_derived() {
        use rand::{Rng, SeedableRng};
        let mut p = pos(&[1, 1, 1]);
        let e = 40;
        (p.epoch_slots, p.vote_offset_slots) = (e, 3);
        let f = 0.25;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut b = Branch::new(&p);
        let mut pending: Vec<Item> = Vec::new();
        let mut final_at: Vec<Option<u64>> = vec![Some(0)];
        let epochs = 200;
        for t in 1..epochs * e {
            if rng.gen::<f64>() < f {
                b.extend(t, std::mem::take(&mut pending)).unwrap();
                final_at.push(None);
                let upto = b.blocks.iter().position(|x| x.0 == b.ffg.finalized.hash);
                for at in final_at.iter_mut().take(upto.unwrap() + 1) {
                    at.get_or_insert(t);
                }
            }
            if t % e == p.vote_offset_slots {
                let rule = b.rule();
                let votes = (0..3).filter_map(|i| p.vote(&rule, t / e, &key(i)));
                pending.extend(votes.map(Item::Vote));
            }
        }
        let lags: Vec<f64> = b
            .blocks
            .iter()
            .zip(&final_at)
            .filter(|((_, s), _)| *s >= 2 * e)
            .filter_map(|((_, s), at)| at.map(|at| (at - s) as f64))
            .collect();
        assert!(
            lags.len() > 8 * epochs as usize,
            "{} blocks finalized",
            lags.len()
        );
        let mean = lags.iter().sum::<f64>() / lags.len() as f64;
        let want = (3.0 * e as f64 + 1.0) / 2.0 + 3.0 + 1.0 / f;
        assert!(
            (mean - want).abs() < 1.5,
            "mean lag {mean} slots, derived {want}"
        );
    }

    #[test]
    fn slash_amount_is_the_floor_and_bounded() {
        let mut p = pos(&[1]);
        assert_eq!(p.slash_amount(101), 50);
        p.slash_fraction = 1.0;
        assert_eq!(p.slash_amount(u64::MAX), u64::MAX);
        p.slash_fraction = 0.0;
        assert_eq!(p.slash_amount(101), 0);
    }
}
