//! Every message a node's actors can be told, in one place, grouped by receiver.
//!
//! Names follow their role: commands are imperative (`ImportBlocks`, `SubmitTx`), queries
//! start with `Get`, events are past tense (`TipChanged`, `BlocksAccepted`). The one tip event,
//! [`TipChanged`], goes from the chain actor to the mempool, the miner and the peer; accepted
//! blocks travel as `Arc<Block>`, so the peer announces and serves them without asking the chain
//! again. Messages between nodes ([`crate::transport::Deliver`]) and link notices
//! ([`crate::transport::PeerLink`]) belong to the transport.

use actix::prelude::*;
use chainlab::block::Block;
use chainlab::mempool::MempoolError;
use chainlab::report::FinalBlock;
use chainlab::{Address, Hash, NodeId, TipChange, Transaction, TxId};
use std::sync::Arc;

// ---- events from the chain actor ----

/// The best chain moved: blocks connected and disconnected, accounts changed, what the next
/// block must carry. Sent to the mempool, the miner and the peer.
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct TipChanged(pub Arc<TipChange>);

/// Blocks were validated, stored durably and are on the best chain now: the peer announces
/// them (and can serve them). Blocks stored on a side branch are not announced (Bitcoin Core
/// announces only blocks that become the tip).
#[derive(Message)]
#[rtype(result = "()")]
pub struct BlocksAccepted {
    /// The blocks with their hashes, parents first.
    pub blocks: Vec<(Hash, Arc<Block>)>,
    /// Where they came from (not announced back there).
    pub from: Option<NodeId>,
}

/// Blocks from a peer that the chain did not process: `refused` were not worth checking (a
/// fork below the floor, or unrequested with less work than the tip: each counts toward the
/// sender's flood limit); `dropped` were held unchecked for their parent and dropped for room
/// (forgotten, so that their next announcement fetches them again).
#[derive(Message, Default)]
#[rtype(result = "()")]
pub struct BlocksUnprocessed {
    /// Senders of refused blocks, one entry per block.
    pub refused: Vec<NodeId>,
    /// Dropped blocks.
    pub dropped: Vec<Hash>,
}

// ---- to the chain actor ----

/// Validate and import blocks (from a peer, a sync reply, or the local miner when `from` is None).
#[derive(Message)]
#[rtype(result = "()")]
pub struct ImportBlocks {
    /// Blocks, parents first.
    pub blocks: Vec<Arc<Block>>,
    /// The peer they came from.
    pub from: Option<NodeId>,
    /// A full sync reply: ask the same peer for more afterwards.
    pub sync_more: bool,
    /// A reply to a sync this node asked for: processed whatever its branch's work (the sync
    /// follows the peer's best chain); other blocks only when their branch has at least the
    /// tip's work.
    pub from_sync: bool,
}

/// Stored blocks by hash (unknown ones are skipped).
#[derive(Message)]
#[rtype(result = "Vec<Arc<Block>>")]
pub struct GetBlocks {
    /// Hashes.
    pub hashes: Vec<Hash>,
}

/// Best-chain blocks after a locator, and whether more follow.
#[derive(Message)]
#[rtype(result = "(Vec<Arc<Block>>, bool)")]
pub struct GetBlocksAfter {
    /// Locator from the requester.
    pub locator: Vec<Hash>,
    /// At most this many.
    pub max: usize,
}

/// Build an unsealed block on the tip from candidate transactions (an error when the reward
/// cannot be credited to the miner: `ChainState::build_block`).
#[derive(Message)]
#[rtype(result = "Result<Block, chainlab::chain::state::ApplyError>")]
pub struct BuildTemplate {
    /// Candidates in priority order.
    pub txs: Vec<Arc<Transaction>>,
    /// Consensus items (proof of stake: votes, evidence) to include.
    pub items: Vec<chainlab::block::Item>,
    /// Reward address.
    pub miner: Address,
}

/// The node's final view, with invariant checks.
#[derive(Message)]
#[rtype(result = "ChainSummary")]
pub struct GetChainSummary {
    /// Include the whole best chain.
    pub with_chain: bool,
}

/// Answer to [`GetChainSummary`].
#[derive(Debug, Clone)]
pub struct ChainSummary {
    /// Tip.
    pub tip: Hash,
    /// Height.
    pub height: u64,
    /// Cumulative work.
    pub work: u128,
    /// Invariant checks run.
    pub checked: u64,
    /// Invariant violations.
    pub violations: Vec<String>,
    /// The best chain (when asked).
    pub chain: Vec<FinalBlock>,
    /// Blocks held in memory off the best chain (side branches at or above the fork floor).
    pub side_blocks: usize,
    /// Undo records held in memory (best-chain blocks above the fork floor).
    pub undo_records: usize,
}

/// The node's tip, height and cumulative work.
#[derive(Message)]
#[rtype(result = "(Hash, u64, u128)")]
pub struct GetTip;

/// Links came back: announce the tip to every neighbour (as a reconnecting node does).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Reconnected;

/// Shift this node's clock (block timestamps and the future-drift check) by `ms`.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct SetClockSkew(pub i64);

// ---- to the mempool actor ----

/// Offer a transaction (from a peer, or from a client when `from` is None).
#[derive(Message)]
#[rtype(result = "Result<TxId, MempoolError>")]
pub struct SubmitTx {
    /// The transaction.
    pub tx: Arc<Transaction>,
    /// Its id, when the sender computed it already.
    pub id: Option<TxId>,
    /// The peer it came from.
    pub from: Option<NodeId>,
}

/// Transactions for a block template, best first.
#[derive(Message)]
#[rtype(result = "Vec<Arc<Transaction>>")]
pub struct GetTemplate {
    /// At most this many.
    pub max: usize,
}

/// Pooled transactions by id (unknown ones skipped).
#[derive(Message)]
#[rtype(result = "Vec<Arc<Transaction>>")]
pub struct GetTxs {
    /// Ids.
    pub ids: Vec<TxId>,
}

/// Ids of every pooled transaction, and which of them wait behind a nonce gap.
#[derive(Message)]
#[rtype(result = "PoolIds")]
pub struct GetPoolIds;

/// The answer to [`GetPoolIds`].
#[derive(Clone, Debug, Default)]
pub struct PoolIds {
    /// Every pooled transaction, in admission order.
    pub all: Vec<TxId>,
    /// Those behind a missing nonce of their sender (`Mempool::gapped`).
    pub gapped: Vec<TxId>,
}

// ---- to the miner actor ----

/// Turn mining on or off.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetMining(pub bool);

/// Change this miner's share of the hash power.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetHashShare(pub f64);

// ---- to the peer actor ----

/// A transaction was admitted: announce it with the next batch.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TxAccepted {
    /// Id.
    pub id: TxId,
    /// Where it came from.
    pub from: Option<NodeId>,
}

/// The network now duplicates messages (a `duplicate` fault): a repeated item no longer
/// proves anything about its sender, so it stops counting toward the flood limit.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct ExpectDuplicates;

/// Links came back: announce this tip to every neighbour.
#[derive(Message)]
#[rtype(result = "()")]
pub struct AnnounceTip(pub Hash);

/// Re-announce long-pooled transactions to every neighbour.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Rebroadcast {
    /// Their ids.
    pub ids: Vec<TxId>,
}

/// The chain misses blocks: start a catch-up sync (no-op while one runs).
#[derive(Message)]
#[rtype(result = "()")]
pub struct RequestSync {
    /// Peer to ask first (the one that sent the orphan).
    pub preferred: Option<NodeId>,
    /// The chain's locator.
    pub locator: Vec<Hash>,
}

/// A full sync reply was imported: ask the same peer for more.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ContinueSync {
    /// The peer.
    pub peer: NodeId,
    /// Fresh locator.
    pub locator: Vec<Hash>,
}

// ---- to the every actor ----

/// Stop an actor; `graceful` lets the chain actor flush its store first.
#[derive(Message, Clone, Copy)]
#[rtype(result = "()")]
pub struct Shutdown {
    /// Flush before stopping (false: a crash).
    pub graceful: bool,
}
