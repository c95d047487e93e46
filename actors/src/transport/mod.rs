//! The transport seam: how a node's peer actor sends protocol messages to another node.
//! `memory` delivers through an in-process network actor with per-link delay models;
//! a TCP transport plugs in behind the same trait.

pub mod memory;

use actix::prelude::*;
use chainlab::gossip::NodeId;
use chainlab::wire::WireMsg;

/// A protocol message arriving at a node.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    /// Sender.
    pub from: NodeId,
    /// Message.
    pub msg: WireMsg,
}

/// Sends protocol messages between nodes.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `msg` from `from` to `to`; delivery is asynchronous and may fail silently
    /// (a down node, a dropped link), as on a real network.
    fn send(&self, from: NodeId, to: NodeId, msg: WireMsg);
}
