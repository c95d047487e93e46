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
//!
//! OWNER H2. Skeleton: the signatures below are the contract with the engine (H1) and the
//! actors (H4).

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
            match item {
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
