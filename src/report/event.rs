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
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A node's miner sealed a block.
    BlockMined {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Height.
        height: u64,
        /// Parent hash.
        #[serde(serialize_with = "hex")]
        parent: Hash,
        /// Node index of the miner.
        miner: NodeId,
        /// Transactions in it.
        txs: usize,
        /// Difficulty it carries.
        difficulty: u64,
    },
    /// A node stored a valid block (on any branch).
    BlockImported {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Height.
        height: u64,
    },
    /// A node's best chain switched branches.
    Reorg {
        /// Blocks reverted.
        depth: u64,
        /// Tip before.
        #[serde(serialize_with = "hex")]
        old_tip: Hash,
        /// Tip after.
        #[serde(serialize_with = "hex")]
        new_tip: Hash,
    },
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
    BlockRejected {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Why.
        reason: String,
    },
    /// The workload submitted a transaction to `node`.
    TxSubmitted {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
    },
    /// The node refused a workload transaction.
    TxRejected {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// Why.
        reason: String,
    },
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
    Fault {
        /// Scenario index.
        index: usize,
        /// Fault kind.
        kind: String,
        /// "start" or "end".
        phase: String,
        /// What it did, in words.
        detail: String,
    },
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
    HandshakeFailed {
        /// The remote socket address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A TCP peer's connection ended.
    PeerDisconnected {
        /// The peer's node id.
        peer: u64,
        /// Short cause: `closed`, `idle-timeout`, `shutdown`, an offence label, ...
        cause: String,
        /// In words.
        reason: String,
    },
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
    SlotLed {
        /// The slot.
        slot: u64,
        /// The validator's index.
        validator: u32,
        /// The block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
    },
    /// Proof of stake: this node's validator cast a checkpoint vote.
    Vote {
        /// The validator's index.
        validator: u32,
        /// Source checkpoint's epoch.
        source_epoch: u64,
        /// Target checkpoint's epoch.
        target_epoch: u64,
        /// Target checkpoint's block.
        #[serde(serialize_with = "hex")]
        target: Hash,
    },
    /// Proof of stake: this node's best chain justified a checkpoint.
    Justified {
        /// The checkpoint's epoch.
        epoch: u64,
        /// Its block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
    },
    /// Proof of stake: this node's best chain finalized a checkpoint.
    Finalized {
        /// The checkpoint's epoch.
        epoch: u64,
        /// Its block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
    },
    /// Proof of stake: this node detected an equivocation (first sight of this evidence).
    Equivocation {
        /// The offender's validator index.
        offender: u32,
        /// `double_block`, `double_vote` or `surround_vote`.
        kind: String,
        /// Id of the evidence.
        #[serde(serialize_with = "hex")]
        evidence: Hash,
    },
    /// Proof of stake: this node's best chain slashed a validator (evidence included).
    Slashed {
        /// The validator's index.
        validator: u32,
        /// Stake removed.
        amount: u64,
    },
    /// A block this node connected deployed a contract (docs/contracts.md).
    ContractDeployed {
        /// The deploy transaction.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// The contract's address.
        #[serde(serialize_with = "addr")]
        contract: Address,
        /// Height of the block.
        height: u64,
        /// Gas its `init` burnt.
        gas: u64,
        /// Why it failed (absent when it stands).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A block this node connected ran a call transaction.
    ContractCalled {
        /// The transaction.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// The contract.
        #[serde(serialize_with = "addr")]
        contract: Address,
        /// The method.
        method: String,
        /// Height of the block.
        height: u64,
        /// Gas burnt.
        gas: u64,
        /// Why it failed (absent on success).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A block this node connected made a receipt (an outgoing call or a callback).
    ReceiptCreated {
        /// The receipt.
        #[serde(serialize_with = "hex")]
        id: Hash,
        /// The transaction its chain of calls started from.
        #[serde(serialize_with = "hex")]
        origin: TxId,
        /// The contract it will run.
        #[serde(serialize_with = "addr")]
        receiver: Address,
        /// The method.
        method: String,
        /// Height of the block.
        height: u64,
        /// Whether it is a callback.
        callback: bool,
    },
    /// A block this node connected ran a receipt that is not a callback.
    ReceiptExecuted {
        /// The receipt.
        #[serde(serialize_with = "hex")]
        id: Hash,
        /// The contract it ran.
        #[serde(serialize_with = "addr")]
        receiver: Address,
        /// The method.
        method: String,
        /// Height of the block that made it.
        created_height: u64,
        /// Height of the block that ran it.
        height: u64,
        /// Gas burnt.
        gas: u64,
        /// Why it failed (absent on success).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// A block this node connected ran a callback receipt.
    Callback {
        /// The receipt.
        #[serde(serialize_with = "hex")]
        id: Hash,
        /// The contract it ran.
        #[serde(serialize_with = "addr")]
        receiver: Address,
        /// The method.
        method: String,
        /// Whether the result it was given was `Ok`.
        given_ok: bool,
        /// Height of the block that made it.
        created_height: u64,
        /// Height of the block that ran it.
        height: u64,
        /// Gas burnt.
        gas: u64,
        /// Why the callback itself failed (absent on success).
        #[serde(skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// This node, a selfish pool or a double-spend attacker (`[[adversary]]`), kept a block it
    /// mined to itself.
    Withheld {
        /// The block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
        /// Blocks withheld now, this one included.
        lead: u64,
    },
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
    AttackStarted {
        /// The attempt's number (from 0).
        attempt: u64,
        /// Height of the fork point.
        height: u64,
        /// The payment, sent to the network.
        #[serde(serialize_with = "hex")]
        payment: TxId,
        /// The conflicting spend, in its private blocks only.
        #[serde(serialize_with = "hex")]
        conflict: TxId,
    },
    /// This node, a double-spend attacker, published its private branch (`published` follows
    /// for each block): `private` blocks above the fork point against the `public` ones it had
    /// seen, the payment `confirmations` deep in `payment_block` on the public chain.
    AttackPublished {
        /// The attempt.
        attempt: u64,
        /// Private blocks above the fork point.
        private: u64,
        /// Public blocks above the fork point.
        public: u64,
        /// The payment's confirmations on the public chain.
        confirmations: u64,
        /// The public block holding the payment (the first this node saw).
        #[serde(serialize_with = "hex")]
        payment_block: Hash,
    },
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
    EclipseDelayed {
        /// The eclipsed node.
        victim: NodeId,
        /// The block or transaction.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Whether it is a transaction.
        tx: bool,
        /// When it is sent on (cluster ms).
        release_ms: u64,
    },
    /// This node, an eclipse attacker, kept a block or a transaction from `victim` for good
    /// (filter mode; branch mode: the public chain above the fork point; once per item).
    EclipseFiltered {
        /// The eclipsed node.
        victim: NodeId,
        /// The block or transaction.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Whether it is a transaction.
        tx: bool,
    },
    /// This node, a branch-mode eclipse attacker, mined a private block shown only to
    /// `victim`.
    EclipseFed {
        /// The eclipsed node.
        victim: NodeId,
        /// The attempt.
        attempt: u64,
        /// The block.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Its height.
        height: u64,
    },
    /// This node, a branch-mode eclipse attacker, began attempt `attempt`: a private branch
    /// on its tip at `height` holding `payment` (to `victim`), and `conflict` (the same coins
    /// to itself) sent to its other neighbours.
    EclipseStarted {
        /// The eclipsed node.
        victim: NodeId,
        /// The attempt's number (from 0).
        attempt: u64,
        /// Height of the fork point.
        height: u64,
        /// The payment to the victim, in its private blocks only.
        #[serde(serialize_with = "hex")]
        payment: TxId,
        /// The public spend of the same coins.
        #[serde(serialize_with = "hex")]
        conflict: TxId,
    },
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
    Frontrun {
        /// The victim's transaction.
        #[serde(serialize_with = "hex")]
        victim: TxId,
        /// The copy.
        #[serde(serialize_with = "hex")]
        copy: TxId,
        /// The copy's fee (the victim's fee times `fee_bump`, plus one).
        fee: u64,
    },
    /// This node, a spam or forkspam adversary (`[[adversary]]`), sent a flood item: a
    /// transaction (`block` false) or a block, with its `flaw` (`low-fee` for a valid
    /// transaction, `fork` for a forkspam block), pushed to `peers` neighbours (0: put in its
    /// own mempool and announced by gossip).
    SpamSent {
        /// Transaction id or block hash.
        #[serde(serialize_with = "hex")]
        id: Hash,
        /// A block (else a transaction).
        block: bool,
        /// What is wrong with it, or what it is.
        flaw: String,
        /// Height of a block (0 for a transaction).
        height: u64,
        /// Neighbours it was pushed to.
        peers: u64,
    },
    /// An honest node's mempool admitted a transaction of a spam adversary's account
    /// (measurement only: the node behaves as for any other).
    SpamAdmitted {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
    },
    /// An honest node's mempool refused a transaction of a spam adversary's account that a
    /// peer sent.
    SpamRefused {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// Why.
        reason: String,
    },
    /// A contract emitted an event in a block this node connected (or logged a line).
    ContractEvent {
        /// The contract.
        #[serde(serialize_with = "addr")]
        contract: Address,
        /// Height of the block.
        height: u64,
        /// The event's bytes, hex (absent for a log line).
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<String>,
        /// The log line (absent for an event).
        #[serde(skip_serializing_if = "Option::is_none")]
        log: Option<String>,
    },
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
                } => Event::ContractDeployed {
                    txid: *tx,
                    contract: *contract,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                },
                ExecRecord::Called {
                    tx,
                    contract,
                    method,
                    gas_burnt,
                    result,
                } => Event::ContractCalled {
                    txid: *tx,
                    contract: *contract,
                    method: method.clone(),
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                },
                ExecRecord::ReceiptCreated {
                    id,
                    origin,
                    receiver,
                    method,
                    callback,
                } => Event::ReceiptCreated {
                    id: *id,
                    origin: *origin,
                    receiver: *receiver,
                    method: method.clone(),
                    height,
                    callback: *callback,
                },
                ExecRecord::ReceiptExecuted {
                    id,
                    receiver,
                    method,
                    created_height,
                    callback: None,
                    gas_burnt,
                    result,
                    ..
                } => Event::ReceiptExecuted {
                    id: *id,
                    receiver: *receiver,
                    method: method.clone(),
                    created_height: *created_height,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                },
                ExecRecord::ReceiptExecuted {
                    id,
                    receiver,
                    method,
                    created_height,
                    callback: Some(given_ok),
                    gas_burnt,
                    result,
                    ..
                } => Event::Callback {
                    id: *id,
                    receiver: *receiver,
                    method: method.clone(),
                    given_ok: *given_ok,
                    created_height: *created_height,
                    height,
                    gas: *gas_burnt,
                    error: err(result),
                },
                ExecRecord::Event { contract, data } => Event::ContractEvent {
                    contract: *contract,
                    height,
                    data: Some(hex::encode(data)),
                    log: None,
                },
                ExecRecord::Log { contract, line } => Event::ContractEvent {
                    contract: *contract,
                    height,
                    data: None,
                    log: Some(line.clone()),
                },
            })
            .collect()
    }
}

impl Event {
    /// The event's name, as in the trace's `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::BlockMined { .. } => "block_mined",
            Event::BlockImported { .. } => "block_imported",
            Event::Reorg { .. } => "reorg",
            Event::TipChanged { .. } => "tip_changed",
            Event::BlockRejected { .. } => "block_rejected",
            Event::TxSubmitted { .. } => "tx_submitted",
            Event::TxRejected { .. } => "tx_rejected",
            Event::TxDropped { .. } => "tx_dropped",
            Event::SyncRequested { .. } => "sync_requested",
            Event::NodeStarted { .. } => "node_started",
            Event::Fault { .. } => "fault",
            Event::MessageDropped { .. } => "message_dropped",
            Event::NodeStopped { .. } => "node_stopped",
            Event::NodeFailed { .. } => "node_failed",
            Event::PeerConnected { .. } => "peer_connected",
            Event::HandshakeFailed { .. } => "handshake_failed",
            Event::PeerDisconnected { .. } => "peer_disconnected",
            Event::PeerDiscouraged { .. } => "peer_discouraged",
            Event::SlotLed { .. } => "slot_led",
            Event::Vote { .. } => "vote",
            Event::Justified { .. } => "justified",
            Event::Finalized { .. } => "finalized",
            Event::Equivocation { .. } => "equivocation",
            Event::Slashed { .. } => "slashed",
            Event::ContractDeployed { .. } => "contract_deployed",
            Event::ContractCalled { .. } => "contract_called",
            Event::ReceiptCreated { .. } => "receipt_created",
            Event::ReceiptExecuted { .. } => "receipt_executed",
            Event::Callback { .. } => "callback",
            Event::ContractEvent { .. } => "contract_event",
            Event::Frontrun { .. } => "frontrun",
            Event::Withheld { .. } => "withheld",
            Event::Published { .. } => "published",
            Event::GaveUp { .. } => "gave_up",
            Event::AttackStarted { .. } => "attack_started",
            Event::AttackPublished { .. } => "attack_published",
            Event::AttackGaveUp { .. } => "attack_gave_up",
            Event::EclipseDelayed { .. } => "eclipse_delayed",
            Event::EclipseFiltered { .. } => "eclipse_filtered",
            Event::EclipseFed { .. } => "eclipse_fed",
            Event::EclipseStarted { .. } => "eclipse_started",
            Event::EclipseReleased { .. } => "eclipse_released",
            Event::SpamSent { .. } => "spam_sent",
            Event::SpamAdmitted { .. } => "spam_admitted",
            Event::SpamRefused { .. } => "spam_refused",
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
                Event::BlockMined {
                    hash: h(0x11),
                    height: 7,
                    parent: h(0x22),
                    miner: 4,
                    txs: 12,
                    difficulty: 1000,
                },
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
                Event::Reorg {
                    depth: 2,
                    old_tip: h(0x11),
                    new_tip: h(0x22),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"reorg","#,
                    r#""depth":2,"#,
                    r#""old_tip":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""new_tip":"2222222222222222222222222222222222222222222222222222222222222222"}"#,
                ),
            ),
            (
                Event::BlockRejected {
                    hash: h(0x11),
                    reason: "bad \"pow\"".into(),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"block_rejected","#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""reason":"bad \"pow\""}"#,
                ),
            ),
            (
                Event::TxRejected {
                    txid: h(0x33),
                    reason: "nonce too low".into(),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"tx_rejected","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""reason":"nonce too low"}"#,
                ),
            ),
            (
                Event::Fault {
                    index: 1,
                    kind: "partition".into(),
                    phase: "start".into(),
                    detail: "groups [[0], [1]]".into(),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"fault","#,
                    r#""index":1,"#,
                    r#""kind":"partition","#,
                    r#""phase":"start","#,
                    r#""detail":"groups [[0], [1]]"}"#,
                ),
            ),
            (
                Event::HandshakeFailed {
                    addr: "127.0.0.1:4000".into(),
                    reason: "wrong genesis".into(),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"handshake_failed","#,
                    r#""addr":"127.0.0.1:4000","#,
                    r#""reason":"wrong genesis"}"#,
                ),
            ),
            (
                Event::PeerDisconnected {
                    peer: 5,
                    cause: "idle-timeout".into(),
                    reason: "no message for 30 s".into(),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"peer_disconnected","#,
                    r#""peer":5,"#,
                    r#""cause":"idle-timeout","#,
                    r#""reason":"no message for 30 s"}"#,
                ),
            ),
            (
                Event::SlotLed {
                    slot: 9,
                    validator: 3,
                    hash: h(0x11),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"slot_led","#,
                    r#""slot":9,"#,
                    r#""validator":3,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111"}"#,
                ),
            ),
            (
                Event::Vote {
                    validator: 3,
                    source_epoch: 1,
                    target_epoch: 2,
                    target: h(0x22),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"vote","#,
                    r#""validator":3,"#,
                    r#""source_epoch":1,"#,
                    r#""target_epoch":2,"#,
                    r#""target":"2222222222222222222222222222222222222222222222222222222222222222"}"#,
                ),
            ),
            (
                Event::Finalized {
                    epoch: 2,
                    hash: h(0x22),
                    height: 64,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"finalized","#,
                    r#""epoch":2,"#,
                    r#""hash":"2222222222222222222222222222222222222222222222222222222222222222","#,
                    r#""height":64}"#,
                ),
            ),
            (
                Event::Equivocation {
                    offender: 6,
                    kind: "double_vote".into(),
                    evidence: h(0x44),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"equivocation","#,
                    r#""offender":6,"#,
                    r#""kind":"double_vote","#,
                    r#""evidence":"4444444444444444444444444444444444444444444444444444444444444444"}"#,
                ),
            ),
            (
                Event::ContractDeployed {
                    txid: h(0x33),
                    contract: a(0xaa),
                    height: 3,
                    gas: 900,
                    error: None,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_deployed","#,
                    r#""txid":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":3,"#,
                    r#""gas":900}"#,
                ),
            ),
            (
                Event::ContractDeployed {
                    txid: h(0x33),
                    contract: a(0xaa),
                    height: 3,
                    gas: 900,
                    error: Some("out of gas".into()),
                },
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
                Event::ContractCalled {
                    txid: h(0x33),
                    contract: a(0xaa),
                    method: "inc".into(),
                    height: 4,
                    gas: 50,
                    error: None,
                },
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
                Event::ContractCalled {
                    txid: h(0x33),
                    contract: a(0xaa),
                    method: "inc".into(),
                    height: 4,
                    gas: 50,
                    error: Some("trap".into()),
                },
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
                Event::ReceiptCreated {
                    id: h(0x55),
                    origin: h(0x33),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    height: 4,
                    callback: false,
                },
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
                Event::ReceiptExecuted {
                    id: h(0x55),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    created_height: 4,
                    height: 5,
                    gas: 70,
                    error: None,
                },
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
                Event::ReceiptExecuted {
                    id: h(0x55),
                    receiver: a(0xbb),
                    method: "pay".into(),
                    created_height: 4,
                    height: 5,
                    gas: 70,
                    error: Some("no method".into()),
                },
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
                Event::Callback {
                    id: h(0x66),
                    receiver: a(0xaa),
                    method: "done".into(),
                    given_ok: true,
                    created_height: 5,
                    height: 6,
                    gas: 30,
                    error: None,
                },
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
                Event::Callback {
                    id: h(0x66),
                    receiver: a(0xaa),
                    method: "done".into(),
                    given_ok: false,
                    created_height: 5,
                    height: 6,
                    gas: 30,
                    error: Some("failed".into()),
                },
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
                Event::ContractEvent {
                    contract: a(0xaa),
                    height: 6,
                    data: Some("0102".into()),
                    log: None,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_event","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":6,"#,
                    r#""data":"0102"}"#,
                ),
            ),
            (
                Event::ContractEvent {
                    contract: a(0xaa),
                    height: 6,
                    data: None,
                    log: Some("hello".into()),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"contract_event","#,
                    r#""contract":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","#,
                    r#""height":6,"#,
                    r#""log":"hello"}"#,
                ),
            ),
            (
                Event::Frontrun {
                    victim: h(0x33),
                    copy: h(0x77),
                    fee: 11,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"frontrun","#,
                    r#""victim":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""copy":"7777777777777777777777777777777777777777777777777777777777777777","#,
                    r#""fee":11}"#,
                ),
            ),
            (
                Event::Withheld {
                    hash: h(0x11),
                    height: 7,
                    lead: 2,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"withheld","#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""height":7,"#,
                    r#""lead":2}"#,
                ),
            ),
            (
                Event::AttackStarted {
                    attempt: 0,
                    height: 7,
                    payment: h(0x33),
                    conflict: h(0x77),
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"attack_started","#,
                    r#""attempt":0,"#,
                    r#""height":7,"#,
                    r#""payment":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""conflict":"7777777777777777777777777777777777777777777777777777777777777777"}"#,
                ),
            ),
            (
                Event::AttackPublished {
                    attempt: 0,
                    private: 3,
                    public: 2,
                    confirmations: 1,
                    payment_block: h(0x11),
                },
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
                Event::EclipseDelayed {
                    victim: 9,
                    hash: h(0x11),
                    tx: false,
                    release_ms: 120_500,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_delayed","#,
                    r#""victim":9,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""tx":false,"#,
                    r#""release_ms":120500}"#,
                ),
            ),
            (
                Event::EclipseFiltered {
                    victim: 9,
                    hash: h(0x33),
                    tx: true,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_filtered","#,
                    r#""victim":9,"#,
                    r#""hash":"3333333333333333333333333333333333333333333333333333333333333333","#,
                    r#""tx":true}"#,
                ),
            ),
            (
                Event::EclipseFed {
                    victim: 9,
                    attempt: 1,
                    hash: h(0x11),
                    height: 8,
                },
                concat!(
                    r#"{"t":1.5,"node":3,"event":"eclipse_fed","#,
                    r#""victim":9,"#,
                    r#""attempt":1,"#,
                    r#""hash":"1111111111111111111111111111111111111111111111111111111111111111","#,
                    r#""height":8}"#,
                ),
            ),
            (
                Event::EclipseStarted {
                    victim: 9,
                    attempt: 1,
                    height: 7,
                    payment: h(0x33),
                    conflict: h(0x77),
                },
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
                Event::SpamSent {
                    id: h(0x88),
                    block: true,
                    flaw: "fork".into(),
                    height: 7,
                    peers: 4,
                },
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
                Event::SpamRefused {
                    txid: h(0x88),
                    reason: "fee too low".into(),
                },
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
}
