//! Test helpers for the finality parts: an engine of n validators, signed votes and headers,
//! and a branch that applies [`FfgState::child`] block by block.

use super::ffg::{BlockCtx, FfgState};
use super::sign::sign_header;
use super::{LeaderRule, Pos, PosRule, PosState, Validator};
use crate::block::{Block, BlockHeader, Checkpoint, Item, Seal, SharedItem, Vote, VrfProof};
use crate::config::Config;
use crate::crypto::{Address, KeyPair, Signature};
use crate::hash::Hash;
use std::sync::Arc;

/// Slots per epoch in these tests.
pub const E: u64 = 10;

/// An engine whose validator i has key [`Config::node_key`]`(i)` and `stakes[i]`.
pub fn pos(stakes: &[u64]) -> Pos {
    let validators = stakes
        .iter()
        .enumerate()
        .map(|(i, &stake)| {
            let key = key(i as u32);
            Validator {
                public: key.public,
                address: key.address(),
                vrf_public: [0; 32],
                stake,
            }
        })
        .collect();
    Pos {
        chain_id: 7,
        slot_ms: 1000,
        epoch_slots: E,
        active_slot_coeff: 0.5,
        leader: LeaderRule::Lottery,
        validators: Arc::new(validators),
        slash_fraction: 0.5,
        vote_offset_slots: 2,
        cache: Default::default(),
    }
}

/// Validator i's key.
pub fn key(i: u32) -> KeyPair {
    Config::node_key(i as usize)
}

/// A vote of validator `i` signed with its key.
pub fn vote(pos: &Pos, i: u32, source: Checkpoint, target: Checkpoint) -> Vote {
    let mut v = Vote {
        validator: i,
        source,
        target,
        signature: Signature([0; 64]),
    };
    pos.sign_vote(&mut v, &key(i));
    v
}

/// A checkpoint.
pub fn cp(epoch: u64, hash: Hash) -> Checkpoint {
    Checkpoint { epoch, hash }
}

/// A header for `slot` on `parent` by `proposer`, signed; `salt` tells apart two blocks of
/// one slot.
pub fn header(pos: &Pos, parent: Hash, slot: u64, proposer: u32, salt: u8) -> BlockHeader {
    let mut h = BlockHeader {
        version: 1,
        parent,
        height: 1,
        tx_root: Hash([salt; 32]),
        state_root: Hash::ZERO,
        timestamp_ms: pos.slot_start_ms(slot),
        miner: Address::default(),
        seal: Seal::Pos {
            slot,
            proposer,
            vrf: VrfProof::NONE,
            signature: Signature([0; 64]),
        },
    };
    sign_header(&mut h, &key(proposer));
    h
}

/// One branch: its blocks' hashes and slots, its finality state, stakes and epoch table.
#[derive(Clone, Debug)]
pub struct Branch {
    /// The engine.
    pub pos: Pos,
    /// (hash, slot) of each block, genesis first.
    pub blocks: Vec<(Hash, u64)>,
    /// The tip's finality state.
    pub ffg: FfgState,
    /// The tip's current stakes.
    pub stakes: Vec<u64>,
    /// The stake table of the tip's epoch.
    pub table: Vec<u64>,
}

impl Branch {
    /// Genesis only.
    pub fn new(pos: &Pos) -> Branch {
        let g = Hash::sha256(b"genesis");
        let stakes: Vec<u64> = pos.validators.iter().map(|v| v.stake).collect();
        Branch {
            pos: pos.clone(),
            blocks: vec![(g, 0)],
            ffg: FfgState::genesis(g),
            table: stakes.clone(),
            stakes,
        }
    }

    /// The tip (hash, slot).
    pub fn tip(&self) -> (Hash, u64) {
        self.blocks[self.blocks.len() - 1]
    }

    /// Appends a block at `slot` carrying `items`; returns its hash.
    pub fn extend<T: Into<SharedItem>>(
        &mut self,
        slot: u64,
        items: Vec<T>,
    ) -> Result<Hash, super::PosError> {
        let items: Vec<SharedItem> = items.into_iter().map(Into::into).collect();
        let (parent, parent_slot) = self.tip();
        let header = header(&self.pos, parent, slot, 0, self.blocks.len() as u8);
        let hash = header.hash();
        let block = Block {
            header,
            txs: Vec::new(),
            items,
        };
        if self.pos.epoch_of(slot) > self.pos.epoch_of(parent_slot) {
            self.table = self.stakes.clone();
        }
        let ctx = BlockCtx {
            pos: &self.pos,
            parent,
            parent_slot,
            hash,
            slot,
            block: &block,
            epoch_stakes: &self.table,
        };
        let mut stakes = self.stakes.clone();
        self.ffg = self.ffg.child(&ctx, &mut stakes)?;
        self.stakes = stakes;
        self.blocks.push((hash, slot));
        Ok(hash)
    }

    /// Appends empty blocks at each of `slots`.
    pub fn extend_empty(&mut self, slots: impl IntoIterator<Item = u64>) {
        for s in slots {
            self.extend(s, Vec::<SharedItem>::new())
                .expect("an empty block applies");
        }
    }

    /// The rule a child of the tip follows (only the fields finality reads are meaningful).
    pub fn rule(&self) -> PosRule {
        let (parent, slot) = self.tip();
        PosRule {
            parent,
            parent_height: self.blocks.len() as u64 - 1,
            state: Arc::new(PosState {
                slot,
                rand_acc: Hash::ZERO,
                stakes: Arc::new(self.stakes.clone()),
                ffg: self.ffg.clone(),
                epoch_acc: Hash::ZERO,
                prev_epoch_acc: Hash::ZERO,
                epoch_stakes: Arc::new(self.stakes.clone()),
                stakes_id: crate::consensus::pos::state::table_id(&self.stakes),
                epoch_stakes_id: crate::consensus::pos::state::table_id(&self.stakes),
            }),
        }
    }

    /// Every validator in `who` votes from the tip's justified checkpoint to the tip
    /// branch's checkpoint of `epoch`.
    pub fn votes(&self, who: &[u32], epoch: u64) -> Vec<Item> {
        let target = self.ffg.checkpoint(epoch).expect("checkpoint known");
        who.iter()
            .map(|&i| Item::Vote(vote(&self.pos, i, self.ffg.justified, target)))
            .collect()
    }
}
