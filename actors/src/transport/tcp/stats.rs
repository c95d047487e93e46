//! What a node's TCP endpoint reports: the counters its connection tasks bump as they read
//! and write ([`TcpCounters`]), their snapshot with the endpoint's own event counts
//! ([`TcpStats`]), and the connected peers ([`TcpInfo`], the reply to
//! [`GetTcpInfo`](super::GetTcpInfo)).

use chainlab::NodeId;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters shared with the connection tasks.
#[derive(Debug, Default)]
pub struct TcpCounters {
    pub(super) frames_in: AtomicU64,
    pub(super) frames_out: AtomicU64,
    pub(super) bytes_in: AtomicU64,
    pub(super) bytes_out: AtomicU64,
    pub(super) dropped_queue_full: AtomicU64,
    pub(super) dropped_not_connected: AtomicU64,
    pub(super) dropped_ingress_full: AtomicU64,
    pub(super) throttled: AtomicU64,
    pub(super) throttled_ms: AtomicU64,
}

/// A snapshot of a node's TCP counters.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct TcpStats {
    /// Frames read.
    pub frames_in: u64,
    /// Frames written.
    pub frames_out: u64,
    /// Bytes read (length prefixes included).
    pub bytes_in: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Messages dropped because a peer's send queue was full.
    pub dropped_queue_full: u64,
    /// Messages dropped because the peer was not connected.
    pub dropped_not_connected: u64,
    /// Messages from peers dropped because the peer actor's mailbox was full.
    pub dropped_ingress_full: u64,
    /// Times a peer's reading paused for its rate limit.
    pub throttled: u64,
    /// Total pause, ms.
    pub throttled_ms: u64,
    /// Handshakes completed.
    pub connected: u64,
    /// Handshakes failed.
    pub handshake_failed: u64,
    /// Connections ended after a handshake.
    pub disconnected: u64,
    /// Peers discouraged.
    pub discouraged: u64,
    /// Offences by label.
    pub offences: BTreeMap<String, u64>,
}

impl TcpCounters {
    pub(super) fn snapshot(&self) -> TcpStats {
        TcpStats {
            frames_in: self.frames_in.load(Relaxed),
            frames_out: self.frames_out.load(Relaxed),
            bytes_in: self.bytes_in.load(Relaxed),
            bytes_out: self.bytes_out.load(Relaxed),
            dropped_queue_full: self.dropped_queue_full.load(Relaxed),
            dropped_not_connected: self.dropped_not_connected.load(Relaxed),
            dropped_ingress_full: self.dropped_ingress_full.load(Relaxed),
            throttled: self.throttled.load(Relaxed),
            throttled_ms: self.throttled_ms.load(Relaxed),
            ..TcpStats::default()
        }
    }
}

/// A connected peer, for reports.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PeerInfo {
    /// Its handle: its node id when its key is listed with one (an in-process cluster's
    /// nodes), a number from 2^31 up otherwise.
    pub id: NodeId,
    /// Its public key (hex): its identity.
    pub key: String,
    /// The node id its hello claimed (not checked unless its key is listed with an id).
    pub claimed_id: u32,
    /// Socket address.
    pub addr: String,
    /// It dialled us.
    pub inbound: bool,
}

/// A node's TCP view, for reports.
#[derive(Debug, Clone, Serialize)]
pub struct TcpInfo {
    /// Listening address.
    pub listen: String,
    /// Connected peers.
    pub peers: Vec<PeerInfo>,
    /// Counters.
    pub stats: TcpStats,
}
