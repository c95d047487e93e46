//! Block and transaction validation, cheapest checks first; each failure a distinct variant.
//!
//! [`check_block`] does everything that needs no chain: the result, a [`CheckedBlock`], is the
//! only thing [`crate::chain::ChainState::import`] takes. The chain then checks what needs
//! context (parent, height, difficulty, timestamps, nonces, balances, state root).

use crate::block::{Block, CheckedBlock, BLOCK_VERSION};
use crate::chain::params::ChainParams;
use crate::chain::state::ApplyError;
use crate::consensus::{Consensus, SealError};
use crate::contract::{vm, ContractParams, DeployError};
use crate::crypto::Address;
use crate::crypto::{verify_digest, CryptoError, SigCache};
use crate::hash::{Hash, TxId};
use crate::tx::{contract_address, Payload, Transaction};
use std::collections::HashSet;
use std::sync::Arc;

/// Why a transaction is invalid regardless of state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TxError {
    /// Signed for another chain.
    #[error("chain id {got} is not this chain's {expected}")]
    WrongChain {
        /// This chain's id.
        expected: u32,
        /// The transaction's.
        got: u32,
    },
    /// The signature check failed.
    #[error("signature: {0}")]
    Signature(#[from] CryptoError),
    /// A deploy's module cannot be deployed.
    #[error("deploy: {0}")]
    Deploy(#[from] DeployError),
    /// A deploy not addressed to the contract address its sender and nonce give.
    #[error("a deploy must be sent to {expected}, the address its sender and nonce give")]
    DeployAddress {
        /// [`crate::tx::contract_address`] of the sender and nonce.
        expected: Address,
    },
    /// A call or deploy outside the contract limits; which.
    #[error("{0}")]
    Limit(String),
}

/// Why a block is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// Header version unknown.
    #[error("unknown block version {0}")]
    BadVersion(u32),
    /// Too many transactions.
    #[error("{count} transactions exceed the limit {max}")]
    TooManyTxs {
        /// Count in the block.
        count: usize,
        /// Limit.
        max: usize,
    },
    /// Too many bytes.
    #[error("{size} bytes exceed the block size limit {max}")]
    TooLarge {
        /// Encoded size.
        size: u64,
        /// Limit.
        max: u64,
    },
    /// The seal is invalid, in itself or against the parent (the consensus engine's checks).
    #[error(transparent)]
    Seal(#[from] SealError),
    /// The same transaction twice.
    #[error("transaction {index} repeats an earlier one")]
    DuplicateTx {
        /// Index of the repeat.
        index: usize,
    },
    /// Merkle root does not match the transactions.
    #[error("merkle root does not match the transactions")]
    BadMerkleRoot,
    /// A transaction is invalid in itself.
    #[error("transaction {index}: {source}")]
    Tx {
        /// Index in the block.
        index: usize,
        /// Why.
        source: TxError,
    },
    /// The block was already found invalid.
    #[error("block {0} is known to be invalid")]
    KnownInvalid(Hash),
    /// Its height is not parent + 1.
    #[error("height {got} is not parent height + 1 = {expected}")]
    BadHeight {
        /// Parent height + 1.
        expected: u64,
        /// Claimed.
        got: u64,
    },
    /// Timestamp not after the median of the previous 11.
    #[error("timestamp {ts} ms is not after the median past time {median} ms")]
    TimestampTooOld {
        /// Block timestamp.
        ts: u64,
        /// Median of the last 11.
        median: u64,
    },
    /// Timestamp too far ahead of the local clock.
    #[error("timestamp {ts} ms is more than {max_ahead} ms ahead of local time {now} ms")]
    TimestampTooNew {
        /// Block timestamp.
        ts: u64,
        /// Local clock.
        now: u64,
        /// Allowed drift.
        max_ahead: u64,
    },
    /// A transaction does not apply to the parent state.
    #[error("transaction {index} does not apply: {source}")]
    TxApply {
        /// Index in the block (the block's tx count for the miner reward).
        index: usize,
        /// Why.
        source: ApplyError,
    },
    /// The state root does not match the state after the block.
    #[error("state root {got} is not the computed {expected}")]
    BadStateRoot {
        /// Computed.
        expected: Hash,
        /// Claimed.
        got: Hash,
    },
    /// A block on its branch is invalid.
    #[error("ancestor {0} is invalid")]
    InvalidAncestor(Hash),
    /// Its branch leaves the best chain below the fork floor (`consensus.max_fork_depth`
    /// below the highest tip so far, or the engine's final block): refused unchecked.
    #[error(
        "its branch forks from the best chain at height {fork_height}, below the fork floor \
         {floor} (consensus.max_fork_depth below the tip, or a final block)"
    )]
    ForkTooDeep {
        /// Height of the best-chain block the branch leaves from (at most; lower when found
        /// below the floor).
        fork_height: u64,
        /// The lowest height a fork may leave from.
        floor: u64,
    },
    /// Announced (not part of a requested sync) and its branch has less work than the tip:
    /// not processed, as Bitcoin Core does not process unrequested blocks with less work.
    #[error("unrequested block with less work than the tip ({work} < {tip_work})")]
    LessWork {
        /// Cumulative work of the block's branch, by the weight its header claims.
        work: u128,
        /// Cumulative work of the tip.
        tip_work: u128,
    },
}

impl BlockError {
    /// Whether a peer that sent this block certainly misbehaved: the block is invalid in itself
    /// or its header breaks a rule against its parent. Not punished: a timestamp ahead of the
    /// local clock (which may be skewed), state errors (`TxApply`, `BadStateRoot`: during a
    /// reorg they may belong to an ancestor that an honest relay stored without executing it)
    /// and invalid ancestors (the sender may be an honest relay of a side branch).
    pub fn is_peer_fault(&self) -> bool {
        matches!(
            self,
            BlockError::BadVersion(_)
                | BlockError::TooManyTxs { .. }
                | BlockError::TooLarge { .. }
                | BlockError::Seal(_)
                | BlockError::DuplicateTx { .. }
                | BlockError::BadMerkleRoot
                | BlockError::Tx { .. }
                | BlockError::BadHeight { .. }
                | BlockError::TimestampTooOld { .. }
        )
    }
}

/// Checks a transaction in itself: chain id, a contract payload within the limits, then the
/// signature (through the cache if given).
///
/// # Errors
/// The first failing check.
pub fn check_tx(
    tx: &Transaction,
    id: &TxId,
    chain_id: u32,
    contracts: &ContractParams,
    cache: Option<&SigCache>,
) -> Result<(), TxError> {
    if tx.chain_id != chain_id {
        return Err(TxError::WrongChain {
            expected: chain_id,
            got: tx.chain_id,
        });
    }
    check_payload(tx, contracts)?;
    match cache {
        Some(c) => c.verify_with(id, &tx.from, || tx.signing_digest(), &tx.sig)?,
        None => verify_digest(&tx.from, &tx.signing_digest(), &tx.sig)?,
    }
    Ok(())
}

/// Checks a deploy's or call's payload against the contract limits: a deploy goes to its
/// derived address and carries a module that may be deployed (`contract::vm::check_module`),
/// arguments and gas are within bounds, a method name is short. A transfer passes.
///
/// # Errors
/// The first rule broken.
pub fn check_payload(tx: &Transaction, contracts: &ContractParams) -> Result<(), TxError> {
    let limit = |what: String| Err(TxError::Limit(what));
    let (gas, args) = match &tx.payload {
        Payload::Transfer => return Ok(()),
        Payload::Deploy(d) => {
            let expected = contract_address(&tx.sender(), tx.nonce);
            if tx.to != expected {
                return Err(TxError::DeployAddress { expected });
            }
            vm::check_module(&d.code, contracts)?;
            (d.gas, d.init_args.len())
        }
        Payload::Call(c) => {
            if c.method.is_empty() || c.method.len() > MAX_METHOD_BYTES {
                return limit(format!(
                    "method name of {} bytes: names are 1 to {MAX_METHOD_BYTES} bytes",
                    c.method.len()
                ));
            }
            (c.gas, c.args.len())
        }
    };
    if gas > contracts.max_call_gas {
        return limit(format!(
            "{gas} gas is more than contracts.max_call_gas {}",
            contracts.max_call_gas
        ));
    }
    if tx.fee < contracts.min_fee(gas) {
        return limit(format!(
            "fee {} does not buy {gas} gas at contracts.gas_price_per_mgas {} (at least {})",
            tx.fee,
            contracts.gas_price_per_mgas,
            contracts.min_fee(gas)
        ));
    }
    if args > contracts.max_args_bytes as usize {
        return limit(format!(
            "{args} bytes of arguments is more than contracts.max_args_bytes {}",
            contracts.max_args_bytes
        ));
    }
    Ok(())
}

/// Longest method name, bytes.
pub const MAX_METHOD_BYTES: usize = 64;

/// Checks what needs no chain, cheapest first: version, transaction count, size, the seal (proof of work),
/// duplicates, Merkle root, each transaction's chain id, then signatures.
///
/// # Errors
/// The first failing check.
pub fn check_block(
    block: Arc<Block>,
    params: &ChainParams,
    cache: Option<&SigCache>,
) -> Result<CheckedBlock, BlockError> {
    if let Some(c) = cache {
        let memo = c.blocks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(checked) = memo.get(&block) {
            return Ok(checked);
        }
    }
    let (hash, ids) = check_block_shape(&block, params)?;
    for (index, (tx, id)) in block.txs.iter().zip(&ids).enumerate() {
        check_tx(tx, id, params.chain_id, &params.contracts, cache)
            .map_err(|source| BlockError::Tx { index, source })?;
    }
    params.engine.check_items(&block.items, cache)?;
    let checked = CheckedBlock {
        block,
        hash,
        tx_ids: Arc::new(ids),
    };
    if let Some(c) = cache {
        c.blocks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(&checked);
    }
    Ok(checked)
}

/// Blocks that passed [`check_block`] in this process, by the address of their shared copy:
/// over in-memory links every node receives the same `Arc<Block>`, and the checks need no
/// chain context, so the first node's answer holds for all. The memo holds each `Arc`, so an
/// address cannot be reused by another block while its entry lives; a copy decoded apart
/// (TCP) is another address and is checked. Bounded, first-in first-out; never iterated.
#[derive(Debug, Default)]
pub struct CheckedMemo {
    map: std::collections::HashMap<usize, CheckedBlock>,
    order: std::collections::VecDeque<usize>,
}

/// Blocks [`CheckedMemo`] remembers.
const CHECKED_MEMO: usize = 4096;

impl CheckedMemo {
    fn get(&self, block: &Arc<Block>) -> Option<CheckedBlock> {
        let c = self.map.get(&(Arc::as_ptr(block) as usize))?;
        Arc::ptr_eq(&c.block, block).then(|| c.clone())
    }

    fn insert(&mut self, checked: &CheckedBlock) {
        let key = Arc::as_ptr(&checked.block) as usize;
        if self.map.insert(key, checked.clone()).is_some() {
            return;
        }
        self.order.push_back(key);
        while self.order.len() > CHECKED_MEMO {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

/// Everything [`check_block`] checks except the signatures: version, size, seal, duplicates,
/// Merkle root, chain ids (Bitcoin Core's `CheckBlock`, which runs before a block's work is
/// compared with the tip's). Returns the hash and the transaction ids.
///
/// # Errors
/// The first failing check.
pub fn check_block_shape(
    block: &Block,
    params: &ChainParams,
) -> Result<(Hash, Vec<TxId>), BlockError> {
    let h = &block.header;
    if h.version != BLOCK_VERSION {
        return Err(BlockError::BadVersion(h.version));
    }
    if block.txs.len() > params.max_block_txs {
        return Err(BlockError::TooManyTxs {
            count: block.txs.len(),
            max: params.max_block_txs,
        });
    }
    let size = block.size();
    if size > params.max_block_bytes {
        return Err(BlockError::TooLarge {
            size,
            max: params.max_block_bytes,
        });
    }
    let hash = h.hash();
    params.engine.check_seal(h, &hash)?;
    let ids = block.tx_ids();
    let mut seen = HashSet::with_capacity(ids.len());
    for (index, id) in ids.iter().enumerate() {
        if !seen.insert(*id) {
            return Err(BlockError::DuplicateTx { index });
        }
    }
    if block.body_root(&ids) != h.tx_root {
        return Err(BlockError::BadMerkleRoot);
    }
    for (index, tx) in block.txs.iter().enumerate() {
        if tx.chain_id != params.chain_id {
            return Err(BlockError::Tx {
                index,
                source: TxError::WrongChain {
                    expected: params.chain_id,
                    got: tx.chain_id,
                },
            });
        }
    }
    Ok((hash, ids))
}
