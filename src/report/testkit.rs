//! Trace records for the report's unit tests.

use super::{BlockMinedEvent, Event, FinalizedEvent, SlotLedEvent, TraceRecord};
use crate::hash::Hash;
use crate::NodeId;

/// `event` by `node` at `t_ms`.
pub(crate) fn rec(t_ms: u64, node: NodeId, event: Event) -> TraceRecord {
    TraceRecord { t_ms, node, event }
}

/// `node` mined block `hash` on `parent` at height `height`, at `t` ms.
pub(crate) fn mined(t: u64, node: NodeId, hash: Hash, parent: Hash, height: u64) -> TraceRecord {
    rec(
        t,
        node,
        Event::BlockMined(Box::new(BlockMinedEvent {
            hash,
            height,
            parent,
            miner: node,
            txs: 0,
            difficulty: 1,
        })),
    )
}

/// `node`'s validator `validator` led `slot` with block `hash`, at `t` ms.
pub(crate) fn led(t: u64, node: NodeId, slot: u64, validator: u32, hash: Hash) -> TraceRecord {
    rec(
        t,
        node,
        Event::SlotLed(Box::new(SlotLedEvent {
            slot,
            validator,
            hash,
        })),
    )
}

/// `node`'s best chain finalized the checkpoint `hash` of `epoch` at `height`, at `t` ms.
pub(crate) fn finalized(t: u64, node: NodeId, epoch: u64, hash: Hash, height: u64) -> TraceRecord {
    rec(
        t,
        node,
        Event::Finalized(Box::new(FinalizedEvent {
            epoch,
            hash,
            height,
        })),
    )
}
