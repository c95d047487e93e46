//! What proof of stake keeps per block ([`PosState`]) and what a parent fixes for its children
//! ([`PosRule`]).
//!
//! Epoch randomness and stake tables are functions of the branch (`docs/pos.md`, "Engine"):
//! with E slots per epoch and A(k) the `rand_acc` of the branch's last block with slot < k·E
//! (the genesis accumulator for k ≤ 0),
//! - the nonce of epoch e is η_e = H("chainlab/epoch-nonce" ‖ e ‖ A(e − 1));
//! - the stake table of epoch e is the `stakes` of the branch's last block with slot < e·E
//!   (genesis's for e = 0).
//!
//! A block's state keeps the two accumulators and the stake table at its own epoch's start,
//! which is all a child (whose slot is in the same or a later epoch) needs: a block answers
//! η and stakes of any epoch from its own, [`PosState::eta`] and [`PosState::stakes_for`],
//! without walking the chain.

use super::ffg::FfgState;
use super::Pos;
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
    /// A(ep) for the block's epoch ep: the accumulator of the branch's last block before
    /// ep's first slot (the genesis accumulator in epoch 0).
    pub epoch_acc: Hash,
    /// A(ep − 1): the accumulator η_ep was fixed from.
    pub prev_epoch_acc: Hash,
    /// The stake table of the block's epoch (the `stakes` of the last block before it).
    pub epoch_stakes: Arc<Vec<u64>>,
    /// [`table_id`] of `stakes` (kept so that no one hashes a table twice).
    pub stakes_id: Hash,
    /// [`table_id`] of `epoch_stakes`.
    pub epoch_stakes_id: Hash,
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

/// The accumulator before the first block: H("chainlab/genesis-acc" ‖ chain id).
pub fn genesis_acc(chain_id: u32) -> Hash {
    Hash::sha256_parts(&[b"chainlab/genesis-acc", &chain_id.to_le_bytes()])
}

/// A stake table's identity: H("chainlab/stake-table" ‖ stakes), little-endian u64s.
pub fn table_id(stakes: &[u64]) -> Hash {
    let bytes: Vec<u8> = stakes.iter().flat_map(|s| s.to_le_bytes()).collect();
    Hash::sha256_parts(&[b"chainlab/stake-table", &bytes])
}

/// η_e = H("chainlab/epoch-nonce" ‖ e ‖ A(e − 1)).
pub fn epoch_nonce(epoch: u64, acc: &Hash) -> Hash {
    Hash::sha256_parts(&[b"chainlab/epoch-nonce", &epoch.to_le_bytes(), &acc.0])
}

impl PosState {
    /// The state of genesis: slot 0, the genesis accumulator, the genesis stakes (also the
    /// table of epoch 0), the FFG genesis state.
    pub fn genesis(pos: &Pos, genesis: Hash) -> PosState {
        let acc = genesis_acc(pos.chain_id);
        let stakes = Arc::new(pos.validators.iter().map(|v| v.stake).collect::<Vec<_>>());
        let id = table_id(&stakes);
        PosState {
            slot: 0,
            rand_acc: acc,
            stakes: stakes.clone(),
            ffg: FfgState::genesis(genesis),
            epoch_acc: acc,
            prev_epoch_acc: acc,
            epoch_stakes: stakes,
            stakes_id: id,
            epoch_stakes_id: id,
        }
    }

    /// A(k) on this branch, for k ≥ this block's epoch − 1 (`None` below: a child never asks).
    pub fn acc_before_epoch(&self, pos: &Pos, k: u64) -> Option<Hash> {
        let ep = pos.epoch_of(self.slot);
        if k > ep {
            Some(self.rand_acc)
        } else if k == ep {
            Some(self.epoch_acc)
        } else if k + 1 == ep {
            Some(self.prev_epoch_acc)
        } else {
            None
        }
    }

    /// η of `epoch` for a child of this block (`epoch` at least this block's epoch).
    pub fn eta(&self, pos: &Pos, epoch: u64) -> Option<Hash> {
        let acc = if epoch == 0 {
            // A(−1): the genesis accumulator, which a block of epoch 0 keeps here.
            (pos.epoch_of(self.slot) == 0).then_some(self.prev_epoch_acc)?
        } else {
            self.acc_before_epoch(pos, epoch - 1)?
        };
        Some(epoch_nonce(epoch, &acc))
    }

    /// The stake table of `epoch` for a child of this block (`epoch` at least this block's).
    pub fn stakes_for(&self, pos: &Pos, epoch: u64) -> Option<&Arc<Vec<u64>>> {
        self.table_for(pos, epoch).map(|(t, _)| t)
    }

    /// As [`PosState::stakes_for`], with the table's [`table_id`].
    pub fn table_for(&self, pos: &Pos, epoch: u64) -> Option<(&Arc<Vec<u64>>, Hash)> {
        let ep = pos.epoch_of(self.slot);
        if epoch > ep {
            Some((&self.stakes, self.stakes_id))
        } else if epoch == ep {
            Some((&self.epoch_stakes, self.epoch_stakes_id))
        } else {
            None
        }
    }

    /// The state of a child at `slot` whose VRF output is `output`, before its finality
    /// items: the accumulator moves on, the epoch snapshots follow the child's epoch, the
    /// stakes and `ffg` are the parent's (the engine applies [`FfgState::child`] next, and
    /// sets `stakes_id` again if that changes the stakes).
    /// `None` when `slot` is not after this block's.
    pub fn child(&self, pos: &Pos, slot: u64, output: &[u8; 32]) -> Option<PosState> {
        if slot <= self.slot {
            return None;
        }
        let ce = pos.epoch_of(slot);
        let epoch_acc = self.acc_before_epoch(pos, ce)?;
        let prev_epoch_acc = if ce == 0 {
            self.prev_epoch_acc
        } else {
            self.acc_before_epoch(pos, ce - 1)?
        };
        let (epoch_stakes, epoch_stakes_id) = self.table_for(pos, ce)?;
        Some(PosState {
            slot,
            rand_acc: Hash::sha256_parts(&[b"chainlab/rand-acc", &self.rand_acc.0, output]),
            stakes: self.stakes.clone(),
            ffg: self.ffg.clone(),
            epoch_acc,
            prev_epoch_acc,
            epoch_stakes: epoch_stakes.clone(),
            stakes_id: self.stakes_id,
            epoch_stakes_id,
        })
    }
}
