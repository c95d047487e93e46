//! Proof of stake: Ouroboros Praos-style slots and a stake-weighted VRF leader lottery, blocks
//! signed by their proposer, longest-chain fork choice, and a Casper FFG-style finality gadget
//! with checkpoint votes, equivocation evidence and slashing. The model, its parameters and the
//! formulas the measurements are checked against are in `docs/pos.md`.
//!
//! - `engine.rs`: [`Pos`] as a [`crate::consensus::Consensus`] engine.
//! - [`vrf`]: the verifiable random function (schnorrkel's sr25519 VRF, as Polkadot's BABE).
//! - [`lottery`]: who leads a slot: φ(α) = 1 − (1 − f)^α under `leader = "lottery"`, or one
//!   leader sampled by stake under `leader = "single"`.
//! - [`state`]: [`PosState`] (per block: epoch randomness, stakes, finality) and [`PosRule`]
//!   (what a parent fixes for its children).
//! - [`ffg`]: checkpoints, votes, justification, finalization, slashing on a branch.
//! - [`evidence`]: equivocation: what conflicts, and checking evidence.
//! - [`sign`]: what proposers and voters sign, and checking it.
//! - [`pool`]: the pending votes and evidence of a node, and their detection of equivocations.
//! - [`tally`]: voter bitsets, link tallies and checkpoint runs (compact parts of [`ffg`]).
//! - `cache.rs`: [`PosCache`], a process's memo of lottery evaluations and of proofs and
//!   signatures that verified (saves work, never changes a result).

mod cache;
mod engine;
pub mod evidence;
pub mod ffg;
#[cfg(test)]
pub(crate) mod ffg_testkit;
pub mod lottery;
pub mod pool;
pub mod sign;
pub mod state;
pub mod tally;
#[cfg(test)]
mod tests;
pub mod vrf;

pub use cache::PosCache;
pub use pool::VotePool;
pub use state::{PosRule, PosState};

use crate::crypto::{Address, PublicKey};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How slot leaders are chosen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LeaderRule {
    /// Ouroboros Praos: each validator leads a slot when its VRF output falls below φ(α);
    /// slots can be empty or have several leaders.
    #[default]
    Lottery,
    /// Ethereum-style: exactly one proposer per slot, sampled by stake from the epoch
    /// randomness (no proof needed: everyone computes it).
    Single,
}

/// One validator of the genesis set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Validator {
    /// Its k256 key (blocks and votes are signed with it).
    pub public: PublicKey,
    /// The address of `public` (block rewards go there).
    pub address: Address,
    /// Its sr25519 VRF public key (derived from its k256 secret, [`vrf::VrfKey::from_keypair`]).
    pub vrf_public: [u8; 32],
    /// Its stake at genesis (units; only ratios matter).
    pub stake: u64,
}

/// Proof-of-stake parameters: the engine.
#[derive(Clone, Debug)]
pub struct Pos {
    /// Chain id (in every signed digest).
    pub chain_id: u32,
    /// Slot length, milliseconds.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// Praos's active slot coefficient f: the probability that a slot has at least one leader
    /// when all stake is online.
    pub active_slot_coeff: f64,
    /// Lottery or single leader.
    pub leader: LeaderRule,
    /// The validator set of genesis, by index.
    pub validators: Arc<Vec<Validator>>,
    /// Share of an offender's stake removed by slashing, in [0, 1].
    pub slash_fraction: f64,
    /// How many slots into an epoch validators cast their checkpoint vote.
    pub vote_offset_slots: u64,
    /// The process's memo of lottery evaluations and verified proofs and signatures, shared
    /// by clones (not a parameter: excluded from equality; results never depend on it).
    pub cache: PosCache,
}

impl PartialEq for Pos {
    fn eq(&self, o: &Pos) -> bool {
        self.chain_id == o.chain_id
            && self.slot_ms == o.slot_ms
            && self.epoch_slots == o.epoch_slots
            && self.active_slot_coeff.to_bits() == o.active_slot_coeff.to_bits()
            && self.leader == o.leader
            && self.validators == o.validators
            && self.slash_fraction.to_bits() == o.slash_fraction.to_bits()
            && self.vote_offset_slots == o.vote_offset_slots
    }
}

impl Eq for Pos {}

impl Pos {
    /// The epoch of `slot`.
    pub fn epoch_of(&self, slot: u64) -> u64 {
        slot / self.epoch_slots.max(1)
    }

    /// The first slot of `epoch`.
    pub fn epoch_start(&self, epoch: u64) -> u64 {
        epoch.saturating_mul(self.epoch_slots.max(1))
    }

    /// The slot at cluster time `ms`.
    pub fn slot_at(&self, ms: u64) -> u64 {
        ms / self.slot_ms.max(1)
    }

    /// The start of `slot`, cluster milliseconds (a block's timestamp).
    pub fn slot_start_ms(&self, slot: u64) -> u64 {
        slot.saturating_mul(self.slot_ms)
    }

    /// The index of the validator with this key.
    pub fn validator_index(&self, public: &PublicKey) -> Option<u32> {
        self.validators
            .iter()
            .position(|v| v.public == *public)
            .and_then(|i| u32::try_from(i).ok())
    }
}

/// Why a proof-of-stake block, vote or piece of evidence is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PosError {
    /// The parent's proof-of-stake state is not known (not stored, or not a proof-of-stake
    /// block).
    #[error("the parent {0} has no proof-of-stake state")]
    UnknownParent(crate::hash::Hash),
    /// The proposer or voter index is not in the validator set.
    #[error("validator {0} is not in the validator set")]
    UnknownValidator(u32),
    /// The header's timestamp is not the start of its slot.
    #[error("timestamp {ts} ms is not the start of slot {slot} ({expected} ms)")]
    SlotTime {
        /// The slot.
        slot: u64,
        /// The header's timestamp.
        ts: u64,
        /// The slot's start.
        expected: u64,
    },
    /// The slot is not after the parent's.
    #[error("slot {slot} is not after the parent's slot {parent}")]
    SlotNotAfterParent {
        /// The block's slot.
        slot: u64,
        /// The parent's slot.
        parent: u64,
    },
    /// The proposer's signature does not verify.
    #[error("the proposer's signature does not verify")]
    BadBlockSignature,
    /// The VRF proof does not verify for the slot's input.
    #[error("the leader proof of validator {validator} for slot {slot} does not verify")]
    BadVrfProof {
        /// The proposer.
        validator: u32,
        /// The slot.
        slot: u64,
    },
    /// The proof verifies, but the output is above the proposer's threshold.
    #[error("validator {validator} does not lead slot {slot}")]
    NotLeader {
        /// The proposer.
        validator: u32,
        /// The slot.
        slot: u64,
    },
    /// A vote's signature does not verify.
    #[error("item {index}: the vote of validator {validator} has a bad signature")]
    BadVoteSignature {
        /// Position among the block's items.
        index: usize,
        /// The voter.
        validator: u32,
    },
    /// Evidence that proves nothing (not conflicting, bad signatures, not one offender).
    #[error("item {index}: evidence does not hold: {reason}")]
    BadEvidence {
        /// Position among the block's items.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// The block finalizes or builds on something that conflicts with the finalized checkpoint.
    #[error("conflicts with the finalized checkpoint of epoch {epoch}")]
    ConflictsWithFinalized {
        /// The finalized epoch.
        epoch: u64,
    },
    /// Too many consensus items in one block.
    #[error("{count} consensus items, at most {max}")]
    TooManyItems {
        /// Items in the block.
        count: usize,
        /// The limit.
        max: usize,
    },
}
