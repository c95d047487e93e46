//! Block headers, bodies, the seal (proof of work now, proof of stake later) and Merkle roots.

use crate::crypto::Address;
use crate::encoding;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Header format version.
pub const BLOCK_VERSION: u32 = 1;

/// How a block proves it may extend the chain.
///
/// The seal is the last field of the header, so the fields before it stay the same whatever
/// consensus seals the block; a proof-of-stake variant (slot, validator, signature over the
/// unsealed header) slots in here.
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
    /// Merkle root of the transaction ids.
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
    pub fn difficulty(&self) -> u64 {
        match self.seal {
            Seal::Pow { difficulty, .. } => difficulty,
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
