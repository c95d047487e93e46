//! Reading a proof-of-stake run: who led which slot, what each node finalized, and the checks
//! every proof-of-stake run must pass (no finalized block reverted).

use chainlab::report::Event;
use chainlab::{Hash, NodeId};
use chainlab_actors::cluster::RunOutput;
use std::collections::BTreeMap;

/// A `slot_led` event: `node`'s validator `validator` sealed `hash` for `slot` at `t`.
#[derive(Debug, Clone, Copy)]
pub struct Led {
    pub t: u64,
    pub node: NodeId,
    pub slot: u64,
    pub validator: u32,
    pub hash: Hash,
}

/// Every `slot_led`, in trace order.
pub fn led(out: &RunOutput) -> Vec<Led> {
    out.events
        .iter()
        .filter_map(|r| match &r.event {
            Event::SlotLed(led) => Some(Led {
                t: r.t_ms,
                node: r.node,
                slot: led.slot,
                validator: led.validator,
                hash: led.hash,
            }),
            _ => None,
        })
        .collect()
}

/// A `finalized` event: `node` holds the checkpoint of `epoch` (`hash`, at `height`) final
/// from `t` on.
#[derive(Debug, Clone, Copy)]
pub struct Final {
    pub t: u64,
    pub node: NodeId,
    pub epoch: u64,
    pub hash: Hash,
    pub height: u64,
}

/// Every `finalized`, in trace order.
pub fn finalized(out: &RunOutput) -> Vec<Final> {
    out.events
        .iter()
        .filter_map(|r| match &r.event {
            Event::Finalized(f) => Some(Final {
                t: r.t_ms,
                node: r.node,
                epoch: f.epoch,
                hash: f.hash,
                height: f.height,
            }),
            _ => None,
        })
        .collect()
}

/// Checks that the report counts no reverted finalized block and that every checkpoint any
/// node reported final is on the final chain at its height; returns the highest finalized
/// height.
pub fn assert_finality_never_reverted(out: &RunOutput) -> u64 {
    let finality = out
        .report
        .finality
        .as_ref()
        .expect("a proof-of-stake report has `finality`");
    assert_eq!(finality.reverted, 0, "{finality:?}");
    let on_chain: BTreeMap<u64, Hash> =
        out.final_chain.iter().map(|b| (b.height, b.hash)).collect();
    let fin = finalized(out);
    for f in &fin {
        assert_eq!(
            on_chain.get(&f.height),
            Some(&f.hash),
            "node {} finalized epoch {}'s checkpoint {} at height {} (t = {} ms), which the \
             final chain does not hold",
            f.node,
            f.epoch,
            f.hash.short(),
            f.height,
            f.t
        );
    }
    fin.iter().map(|f| f.height).max().unwrap_or(0)
}
