//! What proof of stake keeps per block ([`PosState`]) and what a parent fixes for its children
//! ([`PosRule`]).
//!
//! OWNER H1 (lottery part) and H2 (the `ffg` field). Skeleton: fields may be added.

use super::ffg::FfgState;
use crate::hash::Hash;
use std::sync::Arc;

/// The engine's facts about the branch ending at one block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosState {
    /// The block's slot (0 for genesis).
    pub slot: u64,
    /// Running hash of the VRF outputs along the branch (the source of epoch randomness).
    pub rand_acc: Hash,
    /// Stakes by validator index, with the slashings included so far on this branch.
    pub stakes: Arc<Vec<u64>>,
    /// Checkpoints, votes, justification, finality, slashed validators.
    pub ffg: FfgState,
}

/// What a child of one parent must satisfy: the parent's state, from which the epoch
/// randomness and stake table of any later slot follow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosRule {
    /// The parent.
    pub parent: Hash,
    /// Its height.
    pub parent_height: u64,
    /// Its state.
    pub state: Arc<PosState>,
}
