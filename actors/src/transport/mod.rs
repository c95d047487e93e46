//! The transport seam: how a node's peer actor sends protocol messages to another node.
//! `memory` holds the in-process network actor (per-link delay models and the fault layer);
//! it delivers each message either to the receiver's mailbox or, for a TCP link, to the
//! sender's `tcp` endpoint, which writes it to the socket.

pub mod memory;
pub mod tcp;

use actix::prelude::*;
use chainlab::net::wire::WireMsg;
use chainlab::net::Offence;
use chainlab::NodeId;

/// A protocol message arriving at a node.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Deliver {
    /// Sender.
    pub from: NodeId,
    /// Message.
    pub msg: WireMsg,
}

/// A TCP peer connected (`up`) or disconnected: the peer actor adds it to its neighbours and
/// announces its tip to it, or forgets it.
#[derive(Message, Debug, Clone, Copy)]
#[rtype(result = "()")]
pub struct PeerLink {
    /// The peer.
    pub peer: NodeId,
    /// Connected or not.
    pub up: bool,
}

/// Sends protocol messages between nodes.
pub trait Transport: Send + Sync + std::fmt::Debug {
    /// Sends `msg` from `from` to `to`; delivery is asynchronous and may fail silently
    /// (a down node, a dropped link), as on a real network.
    fn send(&self, from: NodeId, to: NodeId, msg: WireMsg);

    /// Node `node` caught peer `peer` misbehaving: a TCP link is closed and the peer
    /// discouraged; in-memory links (in-process nodes) are left alone.
    fn penalize(&self, node: NodeId, peer: NodeId, offence: Offence);
}
