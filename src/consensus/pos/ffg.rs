//! Casper FFG on a branch: checkpoints, the votes included in blocks, justification
//! (≥ 2/3 of the epoch's stake on a link from a justified source), finalization
//! (justified-on-justified in the next epoch) and slashing from included evidence.
//!
//! OWNER H2. Skeleton: the signatures below are the contract with the engine (H1) and the
//! actors (H4).

use super::{Pos, PosError, PosRule};
use crate::block::{Block, Checkpoint, Vote};
use crate::crypto::KeyPair;
use crate::hash::Hash;

/// The finality facts of one branch, after one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FfgState {
    /// The latest justified checkpoint.
    pub justified: Checkpoint,
    /// The latest finalized checkpoint.
    pub finalized: Checkpoint,
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
        }
    }

    /// The state after `ctx.block`: checkpoints crossed, its votes counted, its evidence
    /// applied (slashing edits `stakes`, the current stakes).
    ///
    /// # Errors
    /// An included vote or evidence that does not hold on this branch.
    pub fn child(&self, _ctx: &BlockCtx<'_>, _stakes: &mut Vec<u64>) -> Result<FfgState, PosError> {
        // placeholder until H2 lands
        Ok(self.clone())
    }

    /// This branch's checkpoint of `epoch`, if it still keeps it.
    pub fn checkpoint(&self, _epoch: u64) -> Option<Checkpoint> {
        todo!("H2")
    }
}

impl Pos {
    /// When validators vote for the checkpoint of `epoch`: cluster milliseconds.
    pub fn vote_time_ms(&self, epoch: u64) -> u64 {
        self.slot_start_ms(self.epoch_start(epoch) + self.vote_offset_slots)
    }

    /// The checkpoint vote of the validator with `key` for `epoch`, on the branch `rule`
    /// builds on (its justified checkpoint as source, its checkpoint of `epoch` as target);
    /// `None` when the key is no validator or has no stake.
    pub fn vote(&self, _rule: &PosRule, _epoch: u64, _key: &KeyPair) -> Option<Vote> {
        todo!("H2")
    }
}
