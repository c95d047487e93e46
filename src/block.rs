//! Block headers, bodies (transactions and consensus items), the seal (proof of work or proof of
//! stake) and Merkle roots.

use crate::crypto::{Address, Signature};
use crate::encoding;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use serde_big_array::BigArray;
use std::sync::Arc;

/// Header format version.
pub const BLOCK_VERSION: u32 = 1;

/// How a block proves it may extend the chain.
///
/// The seal is the last field of the header, so the fields before it stay the same whatever
/// consensus seals the block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Seal {
    /// Proof of work: the block hash, read as a number, is at most `u128::MAX / difficulty`
    /// in its top 128 bits; `difficulty` is the expected number of hashes to find one.
    Pow {
        /// Expected hashes per block, as the retarget rule demands.
        difficulty: u64,
        /// The value the miner varied.
        nonce: u64,
    },
    /// Proof of stake: the proposer's right to `slot` and its signature.
    Pos {
        /// The slot (the header's timestamp is the slot's start).
        slot: u64,
        /// Index of the proposer in the validator set of genesis.
        proposer: u32,
        /// The leader proof: the proposer's VRF output and proof for the slot (all zero under
        /// `pos.leader = "single"`, where the leader is computed, not proven).
        vrf: VrfProof,
        /// The proposer's k256 signature over the header with this field zeroed.
        signature: Signature,
    },
}

/// A verifiable random function's output and proof (schnorrkel, sr25519).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VrfProof {
    /// The VRF pre-output (a compressed Ristretto point).
    pub output: [u8; 32],
    /// The DLEQ proof that `output` is the key's evaluation at the slot's input.
    #[serde(with = "BigArray")]
    pub proof: [u8; 64],
}

impl VrfProof {
    /// No proof (genesis, templates, single-leader slots).
    pub const NONE: VrfProof = VrfProof {
        output: [0; 32],
        proof: [0; 64],
    };
}

/// A finality checkpoint: the last block of a branch before an epoch's first slot
/// (genesis for epoch 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The epoch it opens.
    pub epoch: u64,
    /// The block.
    pub hash: Hash,
}

/// A validator's checkpoint vote (Casper FFG): a link from a justified `source` to `target`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Vote {
    /// Index of the validator in the validator set of genesis.
    pub validator: u32,
    /// The justified checkpoint the vote builds on.
    pub source: Checkpoint,
    /// The checkpoint voted for.
    pub target: Checkpoint,
    /// The validator's k256 signature over [`Vote::digest`].
    pub signature: Signature,
}

impl Vote {
    /// What the validator signs: the chain, the validator, source and target.
    pub fn digest(&self, chain_id: u32) -> [u8; 32] {
        Hash::sha256_parts(&[
            b"chainlab/vote/v1",
            &chain_id.to_le_bytes(),
            &self.validator.to_le_bytes(),
            &encoding::encode(&(self.source, self.target)),
        ])
        .0
    }
}

/// Proof that a validator equivocated; self-contained (both signed messages), so any node can
/// check it without context.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Evidence {
    /// Two different headers for the same slot by the same proposer.
    DoubleBlock {
        /// One header.
        a: Box<BlockHeader>,
        /// The other.
        b: Box<BlockHeader>,
    },
    /// Two different votes by one validator for the same target epoch.
    DoubleVote {
        /// One vote.
        a: Vote,
        /// The other.
        b: Vote,
    },
    /// A vote whose link surrounds another of the same validator:
    /// `a.source.epoch < b.source.epoch` and `b.target.epoch < a.target.epoch`.
    SurroundVote {
        /// The surrounding vote.
        a: Vote,
        /// The surrounded vote.
        b: Vote,
    },
}

/// What a block body carries besides transactions (proof of stake only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Item {
    /// A checkpoint vote.
    Vote(Vote),
    /// Equivocation evidence.
    Evidence(Evidence),
}

impl Item {
    /// Its id: SHA-256 of its canonical encoding (the body root commits to it).
    pub fn id(&self) -> Hash {
        Hash::sha256_parts(&[b"chainlab/item/v1", &encoding::encode(self)])
    }

    /// The vote, if it is one.
    pub fn as_vote(&self) -> Option<&Vote> {
        match self {
            Item::Vote(v) => Some(v),
            Item::Evidence(_) => None,
        }
    }
}

/// An [`Item`] with its id, behind an `Arc`: cloning shares it, and the id is computed once,
/// when the item is made or decoded, never trusted from outside. Encodes exactly as the
/// item does. Every node of a process that receives one vote over in-memory links shares one
/// copy of it and of its id (a thousand validators' votes reach a thousand nodes).
///
/// Each one also gets a sequence number, unique in the process ([`SharedItem::seq`]): clones
/// share it, so a node can tell a copy it already holds by a bit, without hashing. Two
/// separately made items with the same content (decoded twice from TCP) have different
/// numbers; whatever uses them must treat a new number as "perhaps new", never as "new".
#[derive(Clone)]
pub struct SharedItem(Arc<ItemInner>);

struct ItemInner {
    id: Hash,
    seq: u64,
    item: Item,
}

/// The next [`SharedItem::seq`].
static NEXT_ITEM_SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl SharedItem {
    /// Wraps `item`, computing its id.
    pub fn new(item: Item) -> SharedItem {
        let id = item.id();
        let seq = NEXT_ITEM_SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        SharedItem(Arc::new(ItemInner { id, seq, item }))
    }

    /// Its id ([`Item::id`]).
    pub fn id(&self) -> Hash {
        self.0.id
    }

    /// Its sequence number in this process (see the type's doc).
    pub fn seq(&self) -> u64 {
        self.0.seq
    }

    /// The item.
    pub fn item(&self) -> &Item {
        &self.0.item
    }
}

impl From<Item> for SharedItem {
    fn from(item: Item) -> SharedItem {
        SharedItem::new(item)
    }
}

impl std::ops::Deref for SharedItem {
    type Target = Item;
    fn deref(&self) -> &Item {
        self.item()
    }
}

impl PartialEq for SharedItem {
    fn eq(&self, other: &SharedItem) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.item() == other.item()
    }
}

impl Eq for SharedItem {}

impl std::fmt::Debug for SharedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.item().fmt(f)
    }
}

impl Serialize for SharedItem {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.item().serialize(s)
    }
}

impl<'de> Deserialize<'de> for SharedItem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<SharedItem, D::Error> {
        Item::deserialize(d).map(SharedItem::new)
    }
}

/// A block header. Its hash is double SHA-256 of its canonical encoding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockHeader {
    /// Format version, [`BLOCK_VERSION`].
    pub version: u32,
    /// Hash of the parent header ([`Hash::ZERO`] for genesis).
    pub parent: Hash,
    /// Height: genesis is 0.
    pub height: u64,
    /// Merkle root of the body: the transaction ids, then the ids of the consensus items.
    pub tx_root: Hash,
    /// Commitment to the account state after this block.
    pub state_root: Hash,
    /// Cluster-clock milliseconds since the cluster epoch.
    pub timestamp_ms: u64,
    /// Who receives the reward and fees.
    pub miner: Address,
    /// Consensus proof.
    pub seal: Seal,
}

impl BlockHeader {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        Hash::double_sha256(&encoding::encode(self))
    }

    /// The difficulty this header claims (work contributed to its chain).
    /// 0 for proof of stake.
    pub fn difficulty(&self) -> u64 {
        match self.seal {
            Seal::Pow { difficulty, .. } => difficulty,
            Seal::Pos { .. } => 0,
        }
    }

    /// The slot of a proof-of-stake header (`None` for proof of work).
    pub fn slot(&self) -> Option<u64> {
        match self.seal {
            Seal::Pow { .. } => None,
            Seal::Pos { slot, .. } => Some(slot),
        }
    }
}

/// A header with its transactions.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The header.
    pub header: BlockHeader,
    /// The transactions, in execution order.
    pub txs: Vec<Transaction>,
    /// Consensus items (checkpoint votes, evidence), after the transactions; empty under
    /// proof of work.
    pub items: Vec<SharedItem>,
}

impl Block {
    /// The block hash (of the header).
    pub fn hash(&self) -> Hash {
        self.header.hash()
    }

    /// Canonical encoded size.
    pub fn size(&self) -> u64 {
        encoding::encoded_len(self)
    }

    /// Ids of the transactions in order.
    pub fn tx_ids(&self) -> Vec<TxId> {
        self.txs.iter().map(Transaction::id).collect()
    }

    /// The root the header's `tx_root` must hold, given the transaction ids.
    pub fn body_root(&self, tx_ids: &[TxId]) -> Hash {
        body_root(tx_ids, &self.items)
    }
}

/// The body root: the Merkle root of the transaction ids followed by the item ids (just the
/// transaction ids' root when there are no items, as under proof of work).
pub fn body_root(tx_ids: &[TxId], items: &[SharedItem]) -> Hash {
    if items.is_empty() {
        return merkle_root(tx_ids);
    }
    let mut ids = tx_ids.to_vec();
    ids.extend(items.iter().map(SharedItem::id));
    merkle_root(&ids)
}

/// A block that passed every check that needs no chain context
/// (size limits, proof of work, Merkle root, signatures, no duplicate transaction).
/// Only this type can be imported into a chain; build it with [`crate::chain::validation::check_block`].
#[derive(Clone, Debug)]
pub struct CheckedBlock {
    pub(crate) block: Arc<Block>,
    pub(crate) hash: Hash,
    pub(crate) tx_ids: Arc<Vec<TxId>>,
}

impl CheckedBlock {
    /// The block.
    pub fn block(&self) -> &Arc<Block> {
        &self.block
    }
    /// Its hash.
    pub fn hash(&self) -> Hash {
        self.hash
    }
    /// Its transaction ids in order.
    pub fn tx_ids(&self) -> &Arc<Vec<TxId>> {
        &self.tx_ids
    }
}

/// Merkle root of ids: pairs are double-SHA-256 hashed level by level; an odd last node is
/// carried up unchanged (never duplicated, so no two lists share a root by repetition).
/// The empty list has root [`Hash::ZERO`].
pub fn merkle_root(ids: &[Hash]) -> Hash {
    if ids.is_empty() {
        return Hash::ZERO;
    }
    let mut level: Vec<Hash> = ids.to_vec();
    let mut buf = [0u8; 64];
    while level.len() > 1 {
        let mut next = Vec::with_capacity(level.len().div_ceil(2));
        for pair in level.chunks(2) {
            if let [a, b] = pair {
                buf[..32].copy_from_slice(&a.0);
                buf[32..].copy_from_slice(&b.0);
                next.push(Hash::double_sha256(&buf));
            } else {
                next.push(pair[0]);
            }
        }
        level = next;
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_root_depends_on_order_and_content() {
        let a = Hash::sha256(b"a");
        let b = Hash::sha256(b"b");
        let c = Hash::sha256(b"c");
        assert_eq!(merkle_root(&[]), Hash::ZERO);
        assert_eq!(merkle_root(&[a]), a);
        assert_ne!(merkle_root(&[a, b]), merkle_root(&[b, a]));
        assert_ne!(merkle_root(&[a, b, c]), merkle_root(&[a, b, c, c]));
    }
}
