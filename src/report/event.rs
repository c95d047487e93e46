//! The trace vocabulary: [`Event`] (what happened, serialized with an `event` tag) and
//! [`TraceRecord`] (an event at a time at a node, written as one JSON line).

use crate::chain::exec::ExecRecord;
use crate::crypto::Address;
use crate::hash::{Hash, TxId};
use crate::mempool::DropReason;
use crate::NodeId;
use serde::{Serialize, Serializer};

fn hex<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&h.to_hex())
}

/// One thing that happened. Serialized with an `event` tag (snake case) and its fields.
///
/// A kind with more than 40 bytes of fields holds them boxed, in a struct named after it
/// ([`BlockMinedEvent`] for `block_mined`), and serializes exactly as if they were inline. So
/// an event is 48 bytes: a large run holds millions of them, nearly all `block_imported` and
/// `tip_changed`, which keep their fields inline and allocate nothing.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A node's miner sealed a block.
    BlockMined(Box<BlockMinedEvent>),
    /// A node stored a valid block (on any branch).
    BlockImported {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Height.
        height: u64,
    },
    /// A node's best chain switched branches.
    Reorg(Box<ReorgEvent>),
    /// A node's best tip moved (after the `block_imported` of the blocks it connected and
    /// before any `reorg`), or a node started with the tip of its store.
    TipChanged {
        /// The new tip.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
    },
    /// A node rejected a block.
    BlockRejected(Box<BlockRejectedEvent>),
    /// The workload submitted a transaction to `node`.
    TxSubmitted {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
    },
    /// The node refused a workload transaction.
    TxRejected(Box<TxRejectedEvent>),
    /// A node's mempool let go of a transaction it held, by policy (not by inclusion).
    TxDropped {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// Why: `expired`, `evicted`, `replaced` or `invalidated`.
        reason: DropReason,
    },
    /// A node asked a peer for the blocks it misses.
    SyncRequested {
        /// The peer asked.
        peer: NodeId,
    },
    /// A node started (from its store, at this height).
    NodeStarted {
        /// Height after loading its store.
        height: u64,
    },
    /// A scenario fault fired (`phase` = "start") or was undone (`phase` = "end").
    Fault(Box<FaultEvent>),
    /// Messages the fault layer dropped on one directed link over the run (written at the end).
    MessageDropped {
        /// Receiver (`node` is the sender).
        to: NodeId,
        /// Message kind.
        kind: crate::net::wire::MsgKind,
        /// How many.
        count: u64,
    },
    /// A node stopped (crash or shutdown).
    NodeStopped {
        /// True for a crash (no flush).
        crashed: bool,
    },
    /// A node stopped itself, as a crash does: its store refused a write.
    NodeFailed {
        /// The store error, naming its location.
        error: String,
    },
    /// A TCP peer finished the handshake.
    PeerConnected {
        /// The peer's node id.
        peer: u64,
        /// Its socket address.
        addr: String,
        /// True when the peer dialled this node.
        inbound: bool,
    },
    /// A TCP connection failed its handshake.
    HandshakeFailed(Box<HandshakeFailedEvent>),
    /// A TCP peer's connection ended.
    PeerDisconnected(Box<PeerDisconnectedEvent>),
    /// A TCP peer is refused for a while after an offence.
    PeerDiscouraged {
        /// The peer's node id.
        peer: u64,
        /// The offence.
        reason: String,
        /// For how long, ms.
        for_ms: u64,
    },
    /// Proof of stake: this node's validator led a slot and produced a block for it (traced
    /// with the block's `block_mined`).
    SlotLed(Box<SlotLedEvent>),
    /// Proof of stake: this node's validator cast a checkpoint vote.
    Vote(Box<VoteEvent>),
    /// Proof of stake: this node's best chain justified a checkpoint.
    Justified {
        /// The checkpoint's epoch.
        epoch: u64,
        /// Its block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
    },
    /// Proof of stake: this node's best chain finalized a checkpoint.
    Finalized(Box<FinalizedEvent>),
    /// Proof of stake: this node detected an equivocation (first sight of this evidence).
    Equivocation(Box<EquivocationEvent>),
    /// Proof of stake: this node's best chain slashed a validator (evidence included).
    Slashed {
        /// The validator's index.
        validator: u32,
        /// Stake removed.
        amount: u64,
    },
    /// A block this node connected deployed a contract (docs/contracts.md).
    ContractDeployed(Box<ContractDeployedEvent>),
    /// A block this node connected ran a call transaction.
    ContractCalled(Box<ContractCalledEvent>),
    /// A block this node connected made a receipt (an outgoing call or a callback).
    ReceiptCreated(Box<ReceiptCreatedEvent>),
    /// A block this node connected ran a receipt that is not a callback.
    ReceiptExecuted(Box<ReceiptExecutedEvent>),
    /// A block this node connected ran a callback receipt.
    Callback(Box<CallbackEvent>),
    /// This node, a selfish pool or a double-spend attacker (`[[adversary]]`), kept a block it
    /// mined to itself.
    Withheld(Box<WithheldEvent>),
    /// This node, a selfish pool or a double-spend attacker, published a block it had withheld
    /// (to match or override the honest chain, or to win a tie race).
    Published {
        /// The block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
    },
    /// This node, a selfish pool or a double-spend attacker, gave up a withheld block: the
    /// honest chain passed it.
    GaveUp {
        /// The block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
    },
    /// This node, a double-spend attacker (`[[adversary]]`), began an attempt: it paid the
    /// merchant with `payment` and mines a private branch on its tip at `height` (the fork
    /// point) holding `conflict`, a spend of the same nonce to itself.
    AttackStarted(Box<AttackStartedEvent>),
    /// This node, a double-spend attacker, published its private branch (`published` follows
    /// for each block): `private` blocks above the fork point against the `public` ones it had
    /// seen, the payment `confirmations` deep in `payment_block` on the public chain.
    AttackPublished(Box<AttackPublishedEvent>),
    /// This node, a double-spend attacker, gave an attempt up: the public branch led by
    /// `give_up` blocks (`gave_up` follows for each private block).
    AttackGaveUp {
        /// The attempt.
        attempt: u64,
        /// Private blocks above the fork point.
        private: u64,
        /// Public blocks above the fork point.
        public: u64,
        /// The payment's confirmations on the public chain.
        confirmations: u64,
    },
    /// This node, an eclipse attacker (`[[adversary]] kind = "eclipse"`), held a block or a
    /// transaction back from `victim` until `release_ms` (delay mode; once per item).
    EclipseDelayed(Box<EclipseDelayedEvent>),
    /// This node, an eclipse attacker, kept a block or a transaction from `victim` for good
    /// (filter mode; branch mode: the public chain above the fork point; once per item).
    EclipseFiltered(Box<EclipseFilteredEvent>),
    /// This node, a branch-mode eclipse attacker, mined a private block shown only to
    /// `victim`.
    EclipseFed(Box<EclipseFedEvent>),
    /// This node, a branch-mode eclipse attacker, began attempt `attempt`: a private branch
    /// on its tip at `height` holding `payment` (to `victim`), and `conflict` (the same coins
    /// to itself) sent to its other neighbours.
    EclipseStarted(Box<EclipseStartedEvent>),
    /// This node, a branch-mode eclipse attacker, released `victim` (`delay` after the
    /// payment's z-th confirmation was fed to it): from now on it relays the public chain
    /// to it.
    EclipseReleased {
        /// The eclipsed node.
        victim: NodeId,
        /// The attempt.
        attempt: u64,
        /// Private blocks fed above the fork point.
        fed: u64,
        /// The payment's confirmations on the branch fed.
        confirmations: u64,
        /// Height of the private block holding the payment (0: none did).
        payment_height: u64,
    },
    /// This node, the `[frontrun]` attacker, copied a call it admitted to its mempool and
    /// submitted the copy to it (docs/contracts-frontrunning.md).
    Frontrun(Box<FrontrunEvent>),
    /// This node, a spam or forkspam adversary (`[[adversary]]`), sent a flood item: a
    /// transaction (`block` false) or a block, with its `flaw` (`low-fee` for a valid
    /// transaction, `fork` for a forkspam block), pushed to `peers` neighbours (0: put in its
    /// own mempool and announced by gossip).
    SpamSent(Box<SpamSentEvent>),
    /// An honest node's mempool admitted a transaction of a spam adversary's account
    /// (measurement only: the node behaves as for any other).
    SpamAdmitted {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
    },
    /// An honest node's mempool refused a transaction of a spam adversary's account that a
    /// peer sent.
    SpamRefused(Box<SpamRefusedEvent>),
    /// A contract emitted an event in a block this node connected (or logged a line).
    ContractEvent(Box<ContractEventEvent>),
}

/// The fields of [`Event::BlockMined`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockMinedEvent {
    /// Block hash.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Height.
    pub height: u64,
    /// Parent hash.
    #[serde(serialize_with = "hex")]
    pub parent: Hash,
    /// Node index of the miner.
    pub miner: NodeId,
    /// Transactions in it.
    pub txs: usize,
    /// Difficulty it carries.
    pub difficulty: u64,
}

/// The fields of [`Event::Reorg`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReorgEvent {
    /// Blocks reverted.
    pub depth: u64,
    /// Tip before.
    #[serde(serialize_with = "hex")]
    pub old_tip: Hash,
    /// Tip after.
    #[serde(serialize_with = "hex")]
    pub new_tip: Hash,
}

/// The fields of [`Event::BlockRejected`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BlockRejectedEvent {
    /// Block hash.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Why.
    pub reason: String,
}

/// The fields of [`Event::TxRejected`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TxRejectedEvent {
    /// Transaction id.
    #[serde(serialize_with = "hex")]
    pub txid: TxId,
    /// Why.
    pub reason: String,
}

/// The fields of [`Event::Fault`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultEvent {
    /// Scenario index.
    pub index: usize,
    /// Fault kind.
    pub kind: String,
    /// "start" or "end".
    pub phase: String,
    /// What it did, in words.
    pub detail: String,
}

/// The fields of [`Event::HandshakeFailed`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HandshakeFailedEvent {
    /// The remote socket address.
    pub addr: String,
    /// Why.
    pub reason: String,
}

/// The fields of [`Event::PeerDisconnected`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PeerDisconnectedEvent {
    /// The peer's node id.
    pub peer: u64,
    /// Short cause: `closed`, `idle-timeout`, `shutdown`, an offence label, ...
    pub cause: String,
    /// In words.
    pub reason: String,
}

/// The fields of [`Event::SlotLed`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlotLedEvent {
    /// The slot.
    pub slot: u64,
    /// The validator's index.
    pub validator: u32,
    /// The block.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
}

/// The fields of [`Event::Vote`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct VoteEvent {
    /// The validator's index.
    pub validator: u32,
    /// Source checkpoint's epoch.
    pub source_epoch: u64,
    /// Target checkpoint's epoch.
    pub target_epoch: u64,
    /// Target checkpoint's block.
    #[serde(serialize_with = "hex")]
    pub target: Hash,
}

/// The fields of [`Event::Finalized`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FinalizedEvent {
    /// The checkpoint's epoch.
    pub epoch: u64,
    /// Its block.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Its height.
    pub height: u64,
}

/// The fields of [`Event::Equivocation`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EquivocationEvent {
    /// The offender's validator index.
    pub offender: u32,
    /// `double_block`, `double_vote` or `surround_vote`.
    pub kind: String,
    /// Id of the evidence.
    #[serde(serialize_with = "hex")]
    pub evidence: Hash,
}

/// The fields of [`Event::ContractDeployed`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractDeployedEvent {
    /// The deploy transaction.
    #[serde(serialize_with = "hex")]
    pub txid: TxId,
    /// The contract's address.
    #[serde(serialize_with = "addr")]
    pub contract: Address,
    /// Height of the block.
    pub height: u64,
    /// Gas its `init` burnt.
    pub gas: u64,
    /// Why it failed (absent when it stands).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The fields of [`Event::ContractCalled`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractCalledEvent {
    /// The transaction.
    #[serde(serialize_with = "hex")]
    pub txid: TxId,
    /// The contract.
    #[serde(serialize_with = "addr")]
    pub contract: Address,
    /// The method.
    pub method: String,
    /// Height of the block.
    pub height: u64,
    /// Gas burnt.
    pub gas: u64,
    /// Why it failed (absent on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The fields of [`Event::ReceiptCreated`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiptCreatedEvent {
    /// The receipt.
    #[serde(serialize_with = "hex")]
    pub id: Hash,
    /// The transaction its chain of calls started from.
    #[serde(serialize_with = "hex")]
    pub origin: TxId,
    /// The contract it will run.
    #[serde(serialize_with = "addr")]
    pub receiver: Address,
    /// The method.
    pub method: String,
    /// Height of the block.
    pub height: u64,
    /// Whether it is a callback.
    pub callback: bool,
}

/// The fields of [`Event::ReceiptExecuted`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ReceiptExecutedEvent {
    /// The receipt.
    #[serde(serialize_with = "hex")]
    pub id: Hash,
    /// The contract it ran.
    #[serde(serialize_with = "addr")]
    pub receiver: Address,
    /// The method.
    pub method: String,
    /// Height of the block that made it.
    pub created_height: u64,
    /// Height of the block that ran it.
    pub height: u64,
    /// Gas burnt.
    pub gas: u64,
    /// Why it failed (absent on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The fields of [`Event::Callback`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CallbackEvent {
    /// The receipt.
    #[serde(serialize_with = "hex")]
    pub id: Hash,
    /// The contract it ran.
    #[serde(serialize_with = "addr")]
    pub receiver: Address,
    /// The method.
    pub method: String,
    /// Whether the result it was given was `Ok`.
    pub given_ok: bool,
    /// Height of the block that made it.
    pub created_height: u64,
    /// Height of the block that ran it.
    pub height: u64,
    /// Gas burnt.
    pub gas: u64,
    /// Why the callback itself failed (absent on success).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The fields of [`Event::ContractEvent`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ContractEventEvent {
    /// The contract.
    #[serde(serialize_with = "addr")]
    pub contract: Address,
    /// Height of the block.
    pub height: u64,
    /// The event's bytes, hex (absent for a log line).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// The log line (absent for an event).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// The fields of [`Event::Frontrun`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FrontrunEvent {
    /// The victim's transaction.
    #[serde(serialize_with = "hex")]
    pub victim: TxId,
    /// The copy.
    #[serde(serialize_with = "hex")]
    pub copy: TxId,
    /// The copy's fee (the victim's fee times `fee_bump`, plus one).
    pub fee: u64,
}

/// The fields of [`Event::Withheld`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WithheldEvent {
    /// The block.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Its height.
    pub height: u64,
    /// Blocks withheld now, this one included.
    pub lead: u64,
}

/// The fields of [`Event::AttackStarted`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackStartedEvent {
    /// The attempt's number (from 0).
    pub attempt: u64,
    /// Height of the fork point.
    pub height: u64,
    /// The payment, sent to the network.
    #[serde(serialize_with = "hex")]
    pub payment: TxId,
    /// The conflicting spend, in its private blocks only.
    #[serde(serialize_with = "hex")]
    pub conflict: TxId,
}

/// The fields of [`Event::AttackPublished`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AttackPublishedEvent {
    /// The attempt.
    pub attempt: u64,
    /// Private blocks above the fork point.
    pub private: u64,
    /// Public blocks above the fork point.
    pub public: u64,
    /// The payment's confirmations on the public chain.
    pub confirmations: u64,
    /// The public block holding the payment (the first this node saw).
    #[serde(serialize_with = "hex")]
    pub payment_block: Hash,
}

/// The fields of [`Event::EclipseDelayed`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EclipseDelayedEvent {
    /// The eclipsed node.
    pub victim: NodeId,
    /// The block or transaction.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Whether it is a transaction.
    pub tx: bool,
    /// When it is sent on (cluster ms).
    pub release_ms: u64,
}

/// The fields of [`Event::EclipseFiltered`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EclipseFilteredEvent {
    /// The eclipsed node.
    pub victim: NodeId,
    /// The block or transaction.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Whether it is a transaction.
    pub tx: bool,
}

/// The fields of [`Event::EclipseFed`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EclipseFedEvent {
    /// The eclipsed node.
    pub victim: NodeId,
    /// The attempt.
    pub attempt: u64,
    /// The block.
    #[serde(serialize_with = "hex")]
    pub hash: Hash,
    /// Its height.
    pub height: u64,
}

/// The fields of [`Event::EclipseStarted`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EclipseStartedEvent {
    /// The eclipsed node.
    pub victim: NodeId,
    /// The attempt's number (from 0).
    pub attempt: u64,
    /// Height of the fork point.
    pub height: u64,
    /// The payment to the victim, in its private blocks only.
    #[serde(serialize_with = "hex")]
    pub payment: TxId,
    /// The public spend of the same coins.
    #[serde(serialize_with = "hex")]
    pub conflict: TxId,
}

/// The fields of [`Event::SpamSent`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpamSentEvent {
    /// Transaction id or block hash.
    #[serde(serialize_with = "hex")]
    pub id: Hash,
    /// A block (else a transaction).
    pub block: bool,
    /// What is wrong with it, or what it is.
    pub flaw: String,
    /// Height of a block (0 for a transaction).
    pub height: u64,
    /// Neighbours it was pushed to.
    pub peers: u64,
}

/// The fields of [`Event::SpamRefused`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpamRefusedEvent {
    /// Transaction id.
    #[serde(serialize_with = "hex")]
    pub txid: TxId,
    /// Why.
    pub reason: String,
}

fn addr<S: Serializer>(a: &Address, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&a.to_string())
}

impl Event {
    /// The trace events of what the contracts of a block at `height` did.
    pub fn of_records(height: u64, records: &[ExecRecord]) -> Vec<Event> {
        let err =
            |r: &Result<(), crate::contract::ExecError>| r.as_ref().err().map(|e| e.to_string());
        records
            .iter()
            .map(|r| match r {
                ExecRecord::Deployed {
                    tx,
                    contract,
                    gas_burnt,
                    result,
                } => Event::ContractDeployed(Box::new(ContractDeployedEvent {
                    txid: *tx,
                    contract: *contract,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                })),
                ExecRecord::Called {
                    tx,
                    contract,
                    method,
                    gas_burnt,
                    result,
                } => Event::ContractCalled(Box::new(ContractCalledEvent {
                    txid: *tx,
                    contract: *contract,
                    method: method.clone(),
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                })),
                ExecRecord::ReceiptCreated {
                    id,
                    origin,
                    receiver,
                    method,
                    callback,
                } => Event::ReceiptCreated(Box::new(ReceiptCreatedEvent {
                    id: *id,
                    origin: *origin,
                    receiver: *receiver,
                    method: method.clone(),
                    height,
                    callback: *callback,
                })),
                ExecRecord::ReceiptExecuted {
                    id,
                    receiver,
                    method,
                    created_height,
                    callback: None,
                    gas_burnt,
                    result,
                    ..
                } => Event::ReceiptExecuted(Box::new(ReceiptExecutedEvent {
                    id: *id,
                    receiver: *receiver,
                    method: method.clone(),
                    created_height: *created_height,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                })),
                ExecRecord::ReceiptExecuted {
                    id,
                    receiver,
                    method,
                    created_height,
                    callback: Some(given_ok),
                    gas_burnt,
                    result,
                    ..
                } => Event::Callback(Box::new(CallbackEvent {
                    id: *id,
                    receiver: *receiver,
                    method: method.clone(),
                    given_ok: *given_ok,
                    created_height: *created_height,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                })),
                ExecRecord::Event { contract, data } => {
                    Event::ContractEvent(Box::new(ContractEventEvent {
                        contract: *contract,
                        height,
                        data: Some(hex::encode(data)),
                        log: None,
                    }))
                }
                ExecRecord::Log { contract, line } => {
                    Event::ContractEvent(Box::new(ContractEventEvent {
                        contract: *contract,
                        height,
                        data: None,
                        log: Some(line.clone()),
                    }))
                }
            })
            .collect()
    }
}

impl Event {
    /// The event's name, as in the trace's `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::BlockMined(_) => "block_mined",
            Event::BlockImported { .. } => "block_imported",
            Event::Reorg(_) => "reorg",
            Event::TipChanged { .. } => "tip_changed",
            Event::BlockRejected(_) => "block_rejected",
            Event::TxSubmitted { .. } => "tx_submitted",
            Event::TxRejected(_) => "tx_rejected",
            Event::TxDropped { .. } => "tx_dropped",
            Event::SyncRequested { .. } => "sync_requested",
            Event::NodeStarted { .. } => "node_started",
            Event::Fault(_) => "fault",
            Event::MessageDropped { .. } => "message_dropped",
            Event::NodeStopped { .. } => "node_stopped",
            Event::NodeFailed { .. } => "node_failed",
            Event::PeerConnected { .. } => "peer_connected",
            Event::HandshakeFailed(_) => "handshake_failed",
            Event::PeerDisconnected(_) => "peer_disconnected",
            Event::PeerDiscouraged { .. } => "peer_discouraged",
            Event::SlotLed(_) => "slot_led",
            Event::Vote(_) => "vote",
            Event::Justified { .. } => "justified",
            Event::Finalized(_) => "finalized",
            Event::Equivocation(_) => "equivocation",
            Event::Slashed { .. } => "slashed",
            Event::ContractDeployed(_) => "contract_deployed",
            Event::ContractCalled(_) => "contract_called",
            Event::ReceiptCreated(_) => "receipt_created",
            Event::ReceiptExecuted(_) => "receipt_executed",
            Event::Callback(_) => "callback",
            Event::ContractEvent(_) => "contract_event",
            Event::Frontrun(_) => "frontrun",
            Event::Withheld(_) => "withheld",
            Event::Published { .. } => "published",
            Event::GaveUp { .. } => "gave_up",
            Event::AttackStarted(_) => "attack_started",
            Event::AttackPublished(_) => "attack_published",
            Event::AttackGaveUp { .. } => "attack_gave_up",
            Event::EclipseDelayed(_) => "eclipse_delayed",
            Event::EclipseFiltered(_) => "eclipse_filtered",
            Event::EclipseFed(_) => "eclipse_fed",
            Event::EclipseStarted(_) => "eclipse_started",
            Event::EclipseReleased { .. } => "eclipse_released",
            Event::SpamSent(_) => "spam_sent",
            Event::SpamAdmitted { .. } => "spam_admitted",
            Event::SpamRefused(_) => "spam_refused",
        }
    }
}

/// An event at a time at a node.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// Cluster-clock milliseconds since start.
    pub t_ms: u64,
    /// The node.
    pub node: NodeId,
    /// What happened.
    pub event: Event,
}

#[derive(Serialize)]
struct TraceLine<'a> {
    t: f64,
    node: NodeId,
    #[serde(flatten)]
    event: &'a Event,
}

impl TraceRecord {
    /// One JSON line: `{"t": seconds, "node": n, "event": "...", ...fields}`.
    ///
    /// # Errors
    /// When the event cannot be serialised (the writer reports it; a trace never gets an
    /// empty line in its place).
    pub fn to_json_line(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&TraceLine {
            t: self.t_ms as f64 / 1000.0,
            node: self.node,
            event: &self.event,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_line_has_t_node_event_and_fields() {
        let r = TraceRecord {
            t_ms: 1500,
            node: 3,
            event: Event::BlockImported {
                hash: Hash([1; 32]),
                height: 2,
            },
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_json_line().unwrap()).unwrap();
        assert_eq!(v["t"], 1.5);
        assert_eq!(v["node"], 3);
        assert_eq!(v["event"], "block_imported");
        assert_eq!(v["height"], 2);
        assert_eq!(v["hash"], Hash([1; 32]).to_hex());
    }

    /// One event of each kind with more than 40 bytes of fields (both shapes of an optional
    /// field), with its JSON line: boxing those fields (to shrink `Event`) must not change the
    /// trace by a byte.
    fn large_kinds() -> Vec<(Event, &'static str)> {
        let h = |b: u8| Hash([b; 32]);
        let a = |b: u8| Address([b; 20]);
        vec![
            (
                Event::BlockMined(Box::new(BlockMinedEvent {
                    hash: h(0x11),
                    height: 7,
                    parent: h(0x22),
                    miner: 4,
                    txs: 12,
                    difficulty: 1000,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"block_mined","#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""height":7,"#,
                    r#""parent":"2222222222222222222222222222222222222222222222222222222222222222","#,
                    r#""miner":4,"#,
                    r#""txs":12,"#,
                    r#""difficulty":1000}"#,
                ),
            ),
            (
                Event::Reorg(Box::new(ReorgEvent {
                    depth: 2,
                    old_tip: h(0x11),
                    new_tip: h(0x22),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"reorg","#,
                    r#""depth":2,"#,
                    r#""old_tip":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""new_tip":"2222222222222222222222222222222222222222222222222222222222222222"}"#,
                ),
            ),
            (
                Event::BlockRejected(Box::new(BlockRejectedEvent {
                    hash: h(0x11),
                    reason: "bad \"pow\"".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"block_rejected","#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""reason":"bad \"pow\""}"#,
                ),
            ),
            (
                Event::TxRejected(Box::new(TxRejectedEvent {
                    txid: h(0x33),
                    reason: "nonce too low".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"tx_rejected","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""reason":"nonce too low"}"#,
                ),
            ),
            (
                Event::Fault(Box::new(FaultEvent {
                    index: 1,
                    kind: "partition".into(),
                    phase: "start".into(),
                    detail: "groups [[0], [1]]".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"fault","#,
                    r#""index":1,"#,
                    r#""kind":"partition","#,
                    r#""phase":"start","#,
                    r#""detail":"groups [[0], [1]]"}"#,
                ),
            ),
            (
                Event::HandshakeFailed(Box::new(HandshakeFailedEvent {
                    addr: "127.0.0.1:4000".into(),
                    reason: "wrong genesis".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"handshake_failed","#,
                    r#""addr":"127.0.0.1:4000","#,
                    r#""reason":"wrong genesis"}"#,
                ),
            ),
            (
                Event::PeerDisconnected(Box::new(PeerDisconnectedEvent {
                    peer: 5,
                    cause: "idle-timeout".into(),
                    reason: "no message for 30 s".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"peer_disconnected","#,
                    r#""peer":5,"#,
                    r#""cause":"idle-timeout","#,
                    r#""reason":"no message for 30 s"}"#,
                ),
            ),
            (
                Event::SlotLed(Box::new(SlotLedEvent {
                    slot: 9,
                    validator: 3,
                    hash: h(0x11),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"slot_led","#,
                    r#""slot":9,"#,
                    r#""validator":3,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111"}"#,
                ),
            ),
            (
                Event::Vote(Box::new(VoteEvent {
                    validator: 3,
                    source_epoch: 1,
                    target_epoch: 2,
                    target: h(0x22),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"vote","#,
                    r#""validator":3,"#,
                    r#""source_epoch":1,"#,
                    r#""target_epoch":2,"#,
                    r#""target":"2222222222222222222222222222222222222222222222222222222222222222"}"#,
                ),
            ),
            (
                Event::Finalized(Box::new(FinalizedEvent {
                    epoch: 2,
                    hash: h(0x22),
                    height: 64,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"finalized","#,
                    r#""epoch":2,"#,
                    r#""hash":"2222222222222222222222222222222222222222222222222222222222222222","#,
                    r#""height":64}"#,
                ),
            ),
            (
                Event::Equivocation(Box::new(EquivocationEvent {
                    offender: 6,
                    kind: "double_vote".into(),
                    evidence: h(0x44),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"equivocation","#,
                    r#""offender":6,"#,
                    r#""kind":"double_vote","#,
                    r#""evidence":"4444444444444444444444444444444444444444444444444444444444444444"}"#,
                ),
            ),
            (
                Event::ContractDeployed(Box::new(ContractDeployedEvent {
                    txid: h(0x33),
                    contract: a(0xaa),
                    height: 3,
                    gas: 900,
                    error: None,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_deployed","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":3,"#,
                    r#""gas":900}"#,
                ),
            ),
            (
                Event::ContractDeployed(Box::new(ContractDeployedEvent {
                    txid: h(0x33),
                    contract: a(0xaa),
                    height: 3,
                    gas: 900,
                    error: Some("out of gas".into()),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_deployed","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":3,"#,
                    r#""gas":900,"#,
                    r#""error":"out of gas"}"#,
                ),
            ),
            (
                Event::ContractCalled(Box::new(ContractCalledEvent {
                    txid: h(0x33),
                    contract: a(0xaa),
                    method: "inc".into(),
                    height: 4,
                    gas: 50,
                    error: None,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_called","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""method":"inc","#,
                    r#""height":4,"#,
                    r#""gas":50}"#,
                ),
            ),
            (
                Event::ContractCalled(Box::new(ContractCalledEvent {
                    txid: h(0x33),
                    contract: a(0xaa),
                    method: "inc".into(),
                    height: 4,
                    gas: 50,
                    error: Some("trap".into()),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_called","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""method":"inc","#,
                    r#""height":4,"#,
                    r#""gas":50,"#,
                    r#""error":"trap"}"#,
                ),
            ),
            (
                Event::ReceiptCreated(Box::new(ReceiptCreatedEvent {
                    id: h(0x55),
                    origin: h(0x33),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    height: 4,
                    callback: false,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"receipt_created","#,
                    r#""id":"5555555555555555555555555555555555555555555555555555555555555555","#,
                    r#""origin":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""receiver":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","#,
                    r#""method":"pay","#,
                    r#""height":4,"#,
                    r#""callback":false}"#,
                ),
            ),
            (
                Event::ReceiptExecuted(Box::new(ReceiptExecutedEvent {
                    id: h(0x55),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    created_height: 4,
                    height: 5,
                    gas: 70,
                    error: None,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"receipt_executed","#,
                    r#""id":"5555555555555555555555555555555555555555555555555555555555555555","#,
                    r#""receiver":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","#,
                    r#""method":"pay","#,
                    r#""created_height":4,"#,
                    r#""height":5,"#,
                    r#""gas":70}"#,
                ),
            ),
            (
                Event::ReceiptExecuted(Box::new(ReceiptExecutedEvent {
                    id: h(0x55),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    created_height: 4,
                    height: 5,
                    gas: 70,
                    error: Some("no method".into()),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"receipt_executed","#,
                    r#""id":"5555555555555555555555555555555555555555555555555555555555555555","#,
                    r#""receiver":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","#,
                    r#""method":"pay","#,
                    r#""created_height":4,"#,
                    r#""height":5,"#,
                    r#""gas":70,"#,
                    r#""error":"no method"}"#,
                ),
            ),
            (
                Event::Callback(Box::new(CallbackEvent {
                    id: h(0x66),
                    receiver: a(0xaa),
                    method: "done".into(),
                    given_ok: true,
                    created_height: 5,
                    height: 6,
                    gas: 30,
                    error: None,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"callback","#,
                    r#""id":"6666666666666666666666666666666666666666666666666666666666666666","#,
                    r#""receiver":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""method":"done","#,
                    r#""given_ok":true,"#,
                    r#""created_height":5,"#,
                    r#""height":6,"#,
                    r#""gas":30}"#,
                ),
            ),
            (
                Event::Callback(Box::new(CallbackEvent {
                    id: h(0x66),
                    receiver: a(0xaa),
                    method: "done".into(),
                    given_ok: false,
                    created_height: 5,
                    height: 6,
                    gas: 30,
                    error: Some("failed".into()),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"callback","#,
                    r#""id":"6666666666666666666666666666666666666666666666666666666666666666","#,
                    r#""receiver":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""method":"done","#,
                    r#""given_ok":false,"#,
                    r#""created_height":5,"#,
                    r#""height":6,"#,
                    r#""gas":30,"#,
                    r#""error":"failed"}"#,
                ),
            ),
            (
                Event::ContractEvent(Box::new(ContractEventEvent {
                    contract: a(0xaa),
                    height: 6,
                    data: Some("0102".into()),
                    log: None,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_event","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":6,"#,
                    r#""data":"0102"}"#,
                ),
            ),
            (
                Event::ContractEvent(Box::new(ContractEventEvent {
                    contract: a(0xaa),
                    height: 6,
                    data: None,
                    log: Some("hello".into()),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_event","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":6,"#,
                    r#""log":"hello"}"#,
                ),
            ),
            (
                Event::Frontrun(Box::new(FrontrunEvent {
                    victim: h(0x33),
                    copy: h(0x77),
                    fee: 11,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"frontrun","#,
                    r#""victim":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""copy":"7777777777777777777777777777777777777777777777777777777777777777","#,
                    r#""fee":11}"#,
                ),
            ),
            (
                Event::Withheld(Box::new(WithheldEvent {
                    hash: h(0x11),
                    height: 7,
                    lead: 2,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"withheld","#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""height":7,"#,
                    r#""lead":2}"#,
                ),
            ),
            (
                Event::AttackStarted(Box::new(AttackStartedEvent {
                    attempt: 0,
                    height: 7,
                    payment: h(0x33),
                    conflict: h(0x77),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"attack_started","#,
                    r#""attempt":0,"#,
                    r#""height":7,"#,
                    r#""payment":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""conflict":"7777777777777777777777777777777777777777777777777777777777777777"}"#,
                ),
            ),
            (
                Event::AttackPublished(Box::new(AttackPublishedEvent {
                    attempt: 0,
                    private: 3,
                    public: 2,
                    confirmations: 1,
                    payment_block: h(0x11),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"attack_published","#,
                    r#""attempt":0,"#,
                    r#""private":3,"#,
                    r#""public":2,"#,
                    r#""confirmations":1,"#,
                    r#""payment_block":"1111111111111111111111111111111111111111111111111111111111111111"}"#,
                ),
            ),
            (
                Event::EclipseDelayed(Box::new(EclipseDelayedEvent {
                    victim: 9,
                    hash: h(0x11),
                    tx: false,
                    release_ms: 120_500,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_delayed","#,
                    r#""victim":9,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""tx":false,"#,
                    r#""release_ms":120500}"#,
                ),
            ),
            (
                Event::EclipseFiltered(Box::new(EclipseFilteredEvent {
                    victim: 9,
                    hash: h(0x33),
                    tx: true,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_filtered","#,
                    r#""victim":9,"#,
                    r#""hash":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""tx":true}"#,
                ),
            ),
            (
                Event::EclipseFed(Box::new(EclipseFedEvent {
                    victim: 9,
                    attempt: 1,
                    hash: h(0x11),
                    height: 8,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_fed","#,
                    r#""victim":9,"#,
                    r#""attempt":1,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""height":8}"#,
                ),
            ),
            (
                Event::EclipseStarted(Box::new(EclipseStartedEvent {
                    victim: 9,
                    attempt: 1,
                    height: 7,
                    payment: h(0x33),
                    conflict: h(0x77),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_started","#,
                    r#""victim":9,"#,
                    r#""attempt":1,"#,
                    r#""height":7,"#,
                    r#""payment":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""conflict":"7777777777777777777777777777777777777777777777777777777777777777"}"#,
                ),
            ),
            (
                Event::SpamSent(Box::new(SpamSentEvent {
                    id: h(0x88),
                    block: true,
                    flaw: "fork".into(),
                    height: 7,
                    peers: 4,
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"spam_sent","#,
                    r#""id":"8888888888888888888888888888888888888888888888888888888888888888","#,
                    r#""block":true,"#,
                    r#""flaw":"fork","#,
                    r#""height":7,"#,
                    r#""peers":4}"#,
                ),
            ),
            (
                Event::SpamRefused(Box::new(SpamRefusedEvent {
                    txid: h(0x88),
                    reason: "fee too low".into(),
                })),
                concat!(
                    r#"{"t":1.5,"node":3,"event":"spam_refused","#,
                    r#""txid":"8888888888888888888888888888888888888888888888888888888888888888","#,
                    r#""reason":"fee too low"}"#,
                ),
            ),
        ]
    }

    #[test]
    fn large_kinds_serialize_byte_for_byte() {
        for (event, expected) in large_kinds() {
            let name = event.name();
            let alone = expected.replacen(r#""t":1.5,"node":3,"#, "", 1);
            assert_eq!(serde_json::to_string(&event).unwrap(), alone, "{name}");
            let line = TraceRecord {
                t_ms: 1500,
                node: 3,
                event,
            }
            .to_json_line()
            .unwrap();
            assert_eq!(line, expected, "{name}");
        }
    }

    /// A large run holds millions of trace records (20,000 nodes: 3.1 million, nearly all
    /// `block_imported` and `tip_changed`, which a [`crate::report::Trace`] keeps as 24-byte
    /// slots; BENCHMARKS.md, issue 13). The kinds with more than 40 bytes of fields box them,
    /// so an event is 48 bytes and a record 64 (from 128 and 144), as records are handed
    /// around and the other kinds are kept whole.
    #[test]
    fn event_and_record_sizes() {
        assert!(size_of::<Event>() <= 48, "{}", size_of::<Event>());
        assert!(
            size_of::<TraceRecord>() <= 64,
            "{}",
            size_of::<TraceRecord>()
        );
    }
}
