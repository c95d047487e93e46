//! The endpoint's side of its connections: the table of connected peers ([`Conn`]), the
//! messages a listener and a connection task send it (accepted, may this key connect,
//! established, ended) and what it does with them: bound the connections, keep one per key
//! (core [`keep_new_connection`]), record connects and disconnects, and penalise an offending
//! peer (disconnect it and discourage its key).

use super::conn::{connection, End};
use super::TcpNode;
use crate::transport::PeerLink;
use actix::prelude::*;
use bytes::Bytes;
use chainlab::net::{keep_new_connection, HandshakeError, Offence};
use chainlab::report::{Event, HandshakeFailedEvent, PeerDisconnectedEvent};
use chainlab::{NodeId, PublicKey};
use rand::RngCore;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// A connected peer: its key, its task's queue, byte budget and cancel token.
pub(super) struct Conn {
    pub(super) key: PublicKey,
    /// The node id its hello claimed (informational unless its key is listed with an id).
    pub(super) claimed: u32,
    pub(super) id: u64,
    pub(super) tx: mpsc::Sender<Bytes>,
    /// Encoded bytes queued for this peer and not yet written.
    pub(super) queued: Arc<AtomicU64>,
    pub(super) cancel: CancellationToken,
    pub(super) addr: SocketAddr,
    pub(super) inbound: bool,
}

/// The listener accepted a socket.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Accepted(pub(super) TcpStream, pub(super) SocketAddr);

/// A peer's hello checked out: may its key connect (not discouraged, room for it)?
#[derive(Message)]
#[rtype(result = "Result<(), HandshakeError>")]
pub(super) struct CheckPeer(pub(super) PublicKey);

/// A handshake completed: the peer's handle if the connection is kept, `None` if it is
/// dropped (a duplicate, or no room).
#[derive(Message)]
#[rtype(result = "Option<NodeId>")]
pub(super) struct Established {
    pub(super) key: PublicKey,
    pub(super) claimed: u32,
    pub(super) conn: u64,
    pub(super) tx: mpsc::Sender<Bytes>,
    pub(super) queued: Arc<AtomicU64>,
    pub(super) cancel: CancellationToken,
    pub(super) addr: SocketAddr,
    pub(super) inbound: bool,
    pub(super) target: Option<usize>,
}

/// A connection's task finished, and how.
#[derive(Message)]
#[rtype(result = "()")]
pub(super) struct Ended {
    pub(super) peer: Option<NodeId>,
    pub(super) addr: SocketAddr,
    pub(super) conn: u64,
    pub(super) target: Option<usize>,
    pub(super) end: End,
}

impl TcpNode {
    pub(super) fn spawn_conn(
        &mut self,
        stream: TcpStream,
        addr: SocketAddr,
        target: Option<usize>,
    ) {
        self.handshaking += 1;
        self.next_conn += 1;
        let conn = self.next_conn;
        let mut challenge = [0u8; 32];
        self.rng.fill_bytes(&mut challenge);
        let env = self.env();
        let cancel = self.shutdown.child_token();
        actix::spawn(async move {
            let end = connection(&env, stream, addr, target, conn, challenge, cancel).await;
            env.node.do_send(Ended {
                peer: end.0,
                addr,
                conn,
                target,
                end: end.1,
            });
        });
    }

    pub(super) fn drop_conn(&mut self, peer: NodeId, cause: &str, reason: String) {
        if let Some(c) = self.conns.remove(&peer) {
            c.cancel.cancel();
            self.events.disconnected += 1;
            self.record(Event::PeerDisconnected(Box::new(PeerDisconnectedEvent {
                peer: peer as u64,
                cause: cause.to_string(),
                reason,
            })));
            // A control message from this process (one per connection): never dropped.
            self.links.do_send(PeerLink { peer, up: false });
        }
    }

    pub(super) fn penalize(&mut self, peer: NodeId, offence: Offence, ctx: &mut Context<Self>) {
        let for_ms = self.cfg.discourage_for.as_millis() as u64;
        let reason = offence.to_string();
        *self
            .events
            .offences
            .entry(offence.label().to_string())
            .or_default() += 1;
        tracing::warn!(node = self.id, peer, %reason, "peer misbehaved: disconnected and discouraged");
        if let Some(key) = self.book.key_of(peer) {
            self.discouraged
                .add(key, self.now_ms().saturating_add(for_ms), reason.clone());
        }
        self.events.discouraged += 1;
        self.record(Event::PeerDiscouraged {
            peer: peer as u64,
            reason: reason.clone(),
            for_ms,
        });
        self.drop_conn(peer, offence.label(), reason);
        self.redial_for(peer, ctx);
    }
}

impl Handler<Accepted> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Accepted, _: &mut Context<Self>) {
        // Connections still in their handshake are bounded too (a slowloris swarm).
        if self.conns.len() + self.handshaking >= 2 * self.cfg.max_peers {
            self.events.handshake_failed += 1;
            self.record(Event::HandshakeFailed(Box::new(HandshakeFailedEvent {
                addr: m.1.to_string(),
                reason: "too many connections".into(),
            })));
            return;
        }
        self.spawn_conn(m.0, m.1, None);
    }
}

impl Handler<CheckPeer> for TcpNode {
    type Result = Result<(), HandshakeError>;
    fn handle(&mut self, m: CheckPeer, _: &mut Context<Self>) -> Self::Result {
        let now = self.now_ms();
        self.discouraged.check(&m.0, now)?;
        let connected = self
            .book
            .lookup(&m.0, self.setup_rules.allowed.id_of(&m.0))
            .is_some_and(|h| self.conns.contains_key(&h));
        if self.conns.len() >= self.cfg.max_peers && !connected {
            return Err(HandshakeError::Full(self.conns.len()));
        }
        Ok(())
    }
}

impl Handler<Established> for TcpNode {
    type Result = Option<NodeId>;
    fn handle(&mut self, m: Established, _: &mut Context<Self>) -> Option<NodeId> {
        self.handshaking = self.handshaking.saturating_sub(1);
        if self.shutdown.is_cancelled() {
            return None;
        }
        let id = self.setup_rules.allowed.id_of(&m.key);
        let connected = self
            .book
            .lookup(&m.key, id)
            .filter(|h| self.conns.contains_key(h));
        if self.conns.len() >= self.cfg.max_peers && connected.is_none() {
            // Several handshakes passed `CheckPeer` at once: the limit holds all the same.
            return None;
        }
        let conns = &self.conns;
        let peer = self.book.handle(&m.key, id, |h| conns.contains_key(&h));
        if let Some(t) = m.target {
            self.targets[t].peer = Some(peer);
            self.targets[t].attempt = 0;
            self.targets[t].busy = false;
        }
        if let Some(old) = self.conns.get(&peer) {
            // Two connections to one key (both sides dialled): both sides keep the one
            // dialled by the lower key. Each proved the key, so no one else can replace it.
            if !keep_new_connection(&self.setup_rules.key, &m.key, old.inbound, m.inbound) {
                return None;
            }
            let old = self.conns.remove(&peer).expect("present");
            old.cancel.cancel();
        } else {
            self.events.connected += 1;
            self.record(Event::PeerConnected {
                peer: peer as u64,
                addr: m.addr.to_string(),
                inbound: m.inbound,
            });
            self.links.do_send(PeerLink { peer, up: true });
        }
        self.conns.insert(
            peer,
            Conn {
                key: m.key,
                claimed: m.claimed,
                id: m.conn,
                tx: m.tx,
                queued: m.queued,
                cancel: m.cancel,
                addr: m.addr,
                inbound: m.inbound,
            },
        );
        Some(peer)
    }
}

impl Handler<Ended> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Ended, ctx: &mut Context<Self>) {
        let ours = m
            .peer
            .is_some_and(|p| self.conns.get(&p).is_some_and(|c| c.id == m.conn));
        if m.peer.is_none() && !matches!(m.end, End::Duplicate) {
            // It never reached `Established`.
            self.handshaking = self.handshaking.saturating_sub(1);
        }
        match m.end {
            End::Handshake(e) => {
                self.events.handshake_failed += 1;
                tracing::info!(node = self.id, addr = %m.addr, reason = %e, "handshake failed");
                self.record(Event::HandshakeFailed(Box::new(HandshakeFailedEvent {
                    addr: m.addr.to_string(),
                    reason: e.to_string(),
                })));
            }
            End::Duplicate | End::Cancelled => {}
            End::Closed(cause, reason) => {
                if ours {
                    if let Some(p) = m.peer {
                        self.drop_conn(p, cause, reason);
                    }
                }
            }
            End::Offence(o) => {
                if let (true, Some(p)) = (ours, m.peer) {
                    self.penalize(p, o, ctx);
                }
            }
        }
        if let Some(t) = m.target {
            let connected = self.targets[t]
                .peer
                .is_some_and(|p| self.conns.contains_key(&p));
            if !connected && !self.shutdown.is_cancelled() {
                self.schedule_dial(t, ctx);
            } else {
                self.targets[t].busy = false;
            }
        } else if let (true, Some(p)) = (ours, m.peer) {
            self.redial_for(p, ctx);
        }
    }
}
