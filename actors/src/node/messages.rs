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
use chainlab::chain::executor::{
    BlockRef, SwitchFailed, SwitchPlan, Switched, TemplateError, TemplateFrame,
};
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
    /// Blocks, parents first, each with its hash (computed by the sending actor of the same
    /// node from the block itself: a peer's claim of a hash is never taken).
    pub blocks: Vec<(Hash, Arc<Block>)>,
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
/// cannot be credited to the miner). The chain actor fixes the frame (parent, height,
/// timestamp, seal: `ChainState::template_frame`) and the executor fills it ([`BuildOn`]).
#[derive(Message)]
#[rtype(result = "Result<Block, BuildError>")]
pub struct BuildTemplate {
    /// Candidates in priority order.
    pub txs: Vec<Arc<Transaction>>,
    /// Consensus items (proof of stake: votes, evidence) to include.
    pub items: Vec<chainlab::block::SharedItem>,
    /// Reward address.
    pub miner: Address,
    /// How to stamp it (a timewarp attacker's miner warps).
    pub stamp: chainlab::chain::Stamp,
}

/// Why no template was built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The executor refused (the reward cannot be paid, or the frame is not on its tip).
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The node's executor stopped (the node is stopping).
    #[error("the node's executor stopped")]
    Stopped,
}

// ---- to the executor actor ----

/// Switch the state to another branch ([`chainlab::chain::executor::Executor::switch`]); the
/// chain actor waits for the answer.
#[derive(Message)]
#[rtype(result = "Result<Switched, SwitchFailed>")]
pub struct Switch(pub SwitchPlan);

/// Build a template in a frame the chain actor fixed
/// ([`chainlab::chain::executor::Executor::build`]).
#[derive(Message)]
#[rtype(result = "Result<Block, TemplateError>")]
pub struct BuildOn {
    /// Parent, height, timestamp and seal.
    pub frame: TemplateFrame,
    /// Candidates in priority order.
    pub txs: Vec<Arc<Transaction>>,
    /// Consensus items to include.
    pub items: Vec<chainlab::block::SharedItem>,
    /// Reward address.
    pub miner: Address,
}

/// Check the state's invariants against the best chain the block tree holds.
#[derive(Message)]
#[rtype(result = "StateCheck")]
pub struct CheckState {
    /// The best chain after genesis.
    pub best: Vec<BlockRef>,
}

/// Answer to [`CheckState`].
#[derive(Debug, Clone, Default)]
pub struct StateCheck {
    /// Violations (replay, supply).
    pub violations: Vec<String>,
    /// Undo records held.
    pub undo_records: usize,
}

/// Drop undo records at or below this height (the fork floor passed them).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PruneUndo(pub u64);

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

/// To the executor actor: runs read-only contract calls on the tip's state (`[[views]]`):
/// each view's name and its return value or why it failed.
#[derive(Message)]
#[rtype(result = "Vec<(String, Result<Vec<u8>, String>)>")]
pub struct GetViews {
    /// The views.
    pub views: Vec<chainlab::config::PlannedView>,
}

/// The node's tip, height and cumulative work.
#[derive(Message)]
#[rtype(result = "(Hash, u64, u128)")]
pub struct GetTip;

/// A double-spend attacker's node (from its peer actor): start a private branch on the tip
/// (`ChainState::go_private`: fork choice then adopts only `miner`'s blocks above it). The
/// chain answers with [`PrivateStarted`] to `reply`, after every tip event of the blocks it
/// imported before, so the peer sees the base after its own `TipChanged`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct GoPrivate {
    /// The attacker's miner address.
    pub miner: Address,
    /// Where to say that the branch started (the peer).
    pub reply: Recipient<PrivateStarted>,
}

/// A double-spend attacker's node: back to plain fork choice, switching at once to `public`
/// (the public tip its peer saw) if fork choice prefers it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct LeavePrivate {
    /// The block to switch to, if preferred (None: stay).
    pub public: Option<Hash>,
}

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

/// Offer the transactions of one `txs` message from peer `from`, admitted in order, each
/// exactly as a [`SubmitTx`] from that peer would be; the admitted ones go back to the peer
/// in one [`TxsAccepted`].
#[derive(Message)]
#[rtype(result = "()")]
pub struct SubmitTxs {
    /// The transactions, each with its id (computed by the peer actor).
    pub txs: Vec<(Arc<Transaction>, TxId)>,
    /// The peer they came from.
    pub from: NodeId,
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
    /// Arrivals refused because the pool was full, since the node started.
    pub refused_full: u64,
    /// The most transactions the pool held at once since the node started.
    pub peak: usize,
}

/// A double-spend attacker's conflicting spend, offered first in every template of its node
/// and never pooled or relayed (None: no more). While one is set, the node's own other
/// transactions are left out of its templates.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetPrivateTx(pub Option<Arc<Transaction>>);

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

/// Transactions were admitted (those of one [`SubmitTx`] or [`SubmitTxs`], with any
/// front-run copies made of them): announce them with the next batch, in this order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct TxsAccepted {
    /// Each admitted transaction's id and the peer it came from (None: submitted at this
    /// node, or a copy this node made). One list rather than one sender per message, so that
    /// a front-run copy keeps its place right after its victim.
    pub ids: Vec<(TxId, Option<NodeId>)>,
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

/// The chain started a private branch ([`GoPrivate`]) on `base`, at `height`.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct PrivateStarted {
    /// The fork point: the tip when it started.
    pub base: Hash,
    /// Its height.
    pub height: u64,
}

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

// --- proof of stake: items ---
//
// Checkpoint votes and equivocation evidence ("items") live in the node's vote pool
// (`chainlab::consensus::pos::VotePool`), held by the mempool actor under proof of stake.
//
// The miner-facing API (H4):
// - a validator's own vote: `mempool.do_send(SubmitItem { item: Item::Vote(v).into(), from: None })`
//   (or `send` to learn the outcome);
// - items for a template: `mempool.send(GetItems { rule: rule.clone(), max })` with the rule the
//   template is built on, then `BuildTemplate { items, .. }`; empty under proof of work;
// - each newly stored proof-of-stake header, from the chain actor: `mempool.do_send(NoteHeader
//   { header })` (the pool's double-block detector);
// - `TipChanged` already reaches the mempool actor, which calls `VotePool::on_tip_change`;
// - the `equivocate` fault (`crate::node::equivocate`): the miner gets `SetEquivocate { on }`
//   and keeps the flag; while on, (1) right after sealing a block and BEFORE importing it,
//   `ctx.spawn(equivocate::twin_block(&links.build, twin, engine, rule, key, address,
//   block.header.clone()).into_actor(self).map(|_, _, _| ()))`, and (2) after casting a vote
//   `v`, `twin.do_send(equivocate::twin_vote_push(pos, &v, &key))`, where `twin` is a
//   `Recipient<PushTwin>` to the peer actor.

/// Offer a consensus item (a checkpoint vote or equivocation evidence) to the node's vote pool:
/// from this node's validator (`from: None`) or from a peer. The mempool actor checks it in
/// itself (a vote's signature through the shared `SigCache`, evidence with
/// `Pos::check_evidence`), pools it and relays it when new; a vote that conflicts with a pooled
/// one of the same validator yields evidence, traced as `equivocation` and relayed too. A peer
/// whose item does not check is penalized (`Offence::InvalidItem`).
#[derive(Message, Clone, Debug)]
#[rtype(result = "Result<ItemOutcome, ItemRefused>")]
pub struct SubmitItem {
    /// The item.
    pub item: chainlab::block::SharedItem,
    /// The peer it came from (None: this node's own validator).
    pub from: Option<NodeId>,
}

/// Items a peer pushed that were new to this node (from the peer actor, one message per
/// `items` message received): each is admitted as a [`SubmitItem`] from `from` would be, and
/// those pooled go on in one [`ItemsAccepted`].
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct SubmitItems {
    /// The items.
    pub items: Vec<chainlab::block::SharedItem>,
    /// The peer they came from.
    pub from: NodeId,
}

/// What the vote pool did with a [`SubmitItem`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemOutcome {
    /// New: pooled and relayed.
    Added,
    /// Already pooled (or already evidence against that offender of that kind).
    Known,
    /// A vote conflicting with a pooled one: the evidence, whose id is given (pooled, traced,
    /// relayed).
    Equivocation(Hash),
}

/// Why a [`SubmitItem`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemRefused {
    /// The chain runs proof of work: it has no vote pool.
    #[error("consensus items need proof of stake")]
    NotPos,
    /// The item does not check in itself.
    #[error("{0}")]
    Invalid(#[from] chainlab::consensus::pos::PosError),
}

/// A newly stored proof-of-stake header (from the chain actor): the pool remembers the first
/// header of each (proposer, slot) and builds evidence from a second one.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct NoteHeader {
    /// The header.
    pub header: chainlab::block::BlockHeader,
}

/// The pooled items a block built on the parent of `rule` should include, at most `max`
/// (evidence first, then votes that count on that branch); empty under proof of work.
#[derive(Message, Clone, Debug)]
#[rtype(result = "Vec<chainlab::block::SharedItem>")]
pub struct GetItems {
    /// The rule of the tip the template builds on.
    pub rule: chainlab::consensus::SealRule,
    /// At most this many.
    pub max: usize,
}

/// Items the vote pool took in (to the peer actor): push them to every neighbour but `from`.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct ItemsAccepted {
    /// The items (each with its id).
    pub items: Vec<chainlab::block::SharedItem>,
    /// The peer they came from (None: made here).
    pub from: Option<NodeId>,
}

/// Turn this node's validator's equivocation on or off (the `equivocate` fault): while on,
/// each block it seals gets a conflicting twin for the same slot, sent to half its peers, and
/// each checkpoint vote a conflicting second vote.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct SetEquivocate {
    /// On or off.
    pub on: bool,
}

/// The `equivocate` fault: the validator's second, conflicting message (to the peer actor),
/// pushed whole to half of the neighbours while the first goes the normal way.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub enum PushTwin {
    /// A second block for a slot this validator sealed a block for.
    Block(Arc<Block>),
    /// A second vote for a target epoch this validator voted for.
    Item(chainlab::block::SharedItem),
}
