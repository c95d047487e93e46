//! TCP links. One [`TcpNode`] actor per node owns its listener and its connections; each
//! connection runs as one task on the node's arbiter:
//!
//! 1. framing: tokio-util's `LengthDelimitedCodec` with a 4-byte length and an explicit
//!    maximum ([`MAX_FRAME_BYTES`]; [`HANDSHAKE_FRAME_BYTES`] until the handshake completes),
//!    so an oversized length prefix ends the connection before its body is buffered; each
//!    body is decoded with the core's byte limit and its lists checked against their caps
//!    (core [`decode_frame`](chainlab::net::decode_frame));
//! 2. the handshake (core [`check_hello`](chainlab::net::check_hello),
//!    [`sign_auth`](chainlab::net::sign_auth), [`verify_auth`](chainlab::net::verify_auth))
//!    within `tcp.handshake_timeout`;
//! 3. a reader, throttled by two token buckets (messages and bytes per second), that hands
//!    messages to the node's peer actor with a bounded `try_send` (drops are counted), and a
//!    writer fed by a bounded per-peer queue (drops are counted), which also sends keepalive
//!    pings. A connection silent for `tcp.idle_timeout` is closed.
//!
//! Offences (a bad frame here; an invalid block, an invalid transaction or a flood reported by
//! the node's actors through [`Penalize`]) disconnect the peer and discourage its public key
//! for `tcp.discourage_for`. A peer is its key: the actors know it by a local handle (its node
//! id when its key is listed with one, a fresh number otherwise; core
//! [`PeerBook`](chainlab::net::PeerBook)). Outbound targets are redialled with capped exponential backoff and
//! jitter. Every connection event is recorded in the trace.
//!
//! This file holds the endpoint actor, its setup and the messages other actors send it; the
//! rest is split by concern:
//!
//! | file | what |
//! |---|---|
//! | `conn.rs` | one connection's task: codec, handshake, reader, writer, timeouts |
//! | `peers.rs` | the endpoint's table of connections: admit, establish, end, penalise |
//! | `dial.rs` | outbound targets and their reconnection backoff |
//! | `stats.rs` | counters and the endpoint's report ([`TcpInfo`]) |

mod conn;
mod dial;
mod peers;
mod stats;

pub use conn::{codec, HANDSHAKE_FRAME_BYTES};
pub use stats::{PeerInfo, TcpCounters, TcpInfo, TcpStats};

use self::conn::Env;
use self::dial::Target;
use self::peers::{Accepted, Conn};
use super::{Deliver, PeerLink};
use crate::recorder::Recorder;
use actix::prelude::*;
use bytes::Bytes;
use chainlab::config::TcpConfig;
use chainlab::net::wire::WireMsg;
use chainlab::net::{
    encode_frame, Discouraged, Frame, HandshakeRules, Offence, PeerBook, MAX_FRAME_BYTES,
};
use chainlab::report::Event;
use chainlab::KeyPair;
use chainlab::NodeId;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Most encoded bytes queued for one peer (besides `tcp.queue_frames`): a peer that asks for
/// much and reads little cannot make the node hold more than this for it.
pub const QUEUE_BYTES_PER_PEER: u64 = 4 * MAX_FRAME_BYTES as u64;

/// An address to keep a connection to.
#[derive(Debug, Clone)]
pub struct DialTarget {
    /// Where.
    pub addr: SocketAddr,
    /// The peer's handle expected there, when known (cluster links: the node id); learnt at
    /// the first handshake otherwise.
    pub peer: Option<NodeId>,
}

/// Everything a [`TcpNode`] needs.
pub struct TcpSetup {
    /// This node.
    pub id: NodeId,
    /// Its node key.
    pub key: KeyPair,
    /// What a peer's hello must match (`rules.key` is `key.public`).
    pub rules: HandshakeRules,
    /// Timeouts and limits.
    pub cfg: TcpConfig,
    /// A bound listener.
    pub listener: std::net::TcpListener,
    /// Outbound targets.
    pub dial: Vec<DialTarget>,
    /// The node's peer actor.
    pub inbox: Recipient<Deliver>,
    /// Link up/down notices for the peer actor.
    pub links: Recipient<PeerLink>,
    /// Event sink.
    pub recorder: Recorder,
    /// Challenges and backoff jitter.
    pub rng: ChaCha8Rng,
}

/// Send a protocol message to a peer (dropped and counted when its queue is full).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendFrame {
    /// Peer.
    pub to: NodeId,
    /// Message.
    pub msg: WireMsg,
}

/// A peer misbehaved: disconnect it and discourage its key.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Penalize {
    /// Peer (its handle).
    pub peer: NodeId,
    /// What it did.
    pub offence: Offence,
}

/// The node's TCP view.
#[derive(Message)]
#[rtype(result = "TcpInfo")]
pub struct GetTcpInfo;

/// Close every connection and the listener, then stop.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopTcp;

/// See the module doc.
pub struct TcpNode {
    env: Option<Arc<Env>>,
    setup_rules: HandshakeRules,
    key: KeyPair,
    cfg: TcpConfig,
    id: NodeId,
    listener: Option<std::net::TcpListener>,
    listen: SocketAddr,
    inbox: Recipient<Deliver>,
    links: Recipient<PeerLink>,
    recorder: Recorder,
    rng: ChaCha8Rng,
    conns: BTreeMap<NodeId, Conn>,
    book: PeerBook,
    targets: Vec<Target>,
    handshaking: usize,
    next_conn: u64,
    discouraged: Discouraged,
    counters: Arc<TcpCounters>,
    events: TcpStats,
    shutdown: CancellationToken,
    start: Instant,
}

impl TcpNode {
    /// A node's TCP endpoint (start it on the node's arbiter).
    ///
    /// # Errors
    /// When the listener's address cannot be read.
    pub fn new(s: TcpSetup) -> std::io::Result<TcpNode> {
        let listen = s.listener.local_addr()?;
        s.listener.set_nonblocking(true)?;
        Ok(TcpNode {
            env: None,
            setup_rules: s.rules,
            key: s.key,
            id: s.id,
            listener: Some(s.listener),
            listen,
            inbox: s.inbox,
            links: s.links,
            recorder: s.recorder,
            rng: s.rng,
            conns: BTreeMap::new(),
            book: PeerBook::default(),
            targets: s.dial.into_iter().map(Target::from).collect(),
            handshaking: 0,
            next_conn: 0,
            discouraged: Discouraged::new(4096),
            counters: Arc::new(TcpCounters::default()),
            events: TcpStats::default(),
            shutdown: CancellationToken::new(),
            start: Instant::now(),
            cfg: s.cfg,
        })
    }

    /// The listening address.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    fn now_ms(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn env(&self) -> Arc<Env> {
        self.env.clone().expect("set in started")
    }

    fn record(&self, event: Event) {
        self.recorder.record(self.id, event);
    }
}

impl Actor for TcpNode {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        self.env = Some(Arc::new(Env {
            node: ctx.address(),
            key: self.key.clone(),
            rules: self.setup_rules.clone(),
            cfg: self.cfg.clone(),
            inbox: self.inbox.clone(),
            counters: self.counters.clone(),
        }));
        let Some(std_listener) = self.listener.take() else {
            return;
        };
        let me = ctx.address();
        let stop = self.shutdown.clone();
        let id = self.id;
        actix::spawn(async move {
            let listener = match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => l,
                Err(e) => {
                    tracing::error!(node = id, error = %e, "cannot listen");
                    return;
                }
            };
            loop {
                tokio::select! {
                    biased;
                    () = stop.cancelled() => break,
                    r = listener.accept() => match r {
                        Ok((stream, addr)) => {
                            let _ = stream.set_nodelay(true);
                            me.do_send(Accepted(stream, addr));
                        }
                        Err(e) => {
                            tracing::debug!(node = id, error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            }
        });
        for i in 0..self.targets.len() {
            self.dial(i, ctx);
        }
    }

    fn stopping(&mut self, _: &mut Context<Self>) -> Running {
        self.shutdown.cancel();
        Running::Stop
    }
}

impl Handler<SendFrame> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: SendFrame, _: &mut Context<Self>) {
        let Some(c) = self.conns.get(&m.to) else {
            self.counters.dropped_not_connected.fetch_add(1, Relaxed);
            return;
        };
        // Encoded once, here: the queue's byte budget counts what the writer will send.
        let body = Bytes::from(encode_frame(&Frame::Msg(m.msg)));
        let size = body.len() as u64;
        // Never send what the peer must refuse (cannot happen for messages within their caps).
        if body.len() > MAX_FRAME_BYTES || c.queued.load(Relaxed) + size > QUEUE_BYTES_PER_PEER {
            self.counters.dropped_queue_full.fetch_add(1, Relaxed);
            return;
        }
        if c.tx.try_send(body).is_err() {
            self.counters.dropped_queue_full.fetch_add(1, Relaxed);
        } else {
            c.queued.fetch_add(size, Relaxed);
        }
    }
}

impl Handler<Penalize> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Penalize, ctx: &mut Context<Self>) {
        // The actors judge a block or transaction after the reader handed it over, so the
        // peer may already have hung up (hit and run): it is discouraged all the same, once
        // (later penalties for what it sent before it was dropped add nothing).
        let now = self.now_ms();
        let Some(key) = self.book.key_of(m.peer) else {
            return;
        };
        if self.conns.contains_key(&m.peer) || self.discouraged.check(&key, now).is_ok() {
            self.penalize(m.peer, m.offence, ctx);
        }
    }
}

impl Handler<GetTcpInfo> for TcpNode {
    type Result = MessageResult<GetTcpInfo>;
    fn handle(&mut self, _: GetTcpInfo, _: &mut Context<Self>) -> Self::Result {
        let mut stats = self.counters.snapshot();
        stats.connected = self.events.connected;
        stats.handshake_failed = self.events.handshake_failed;
        stats.disconnected = self.events.disconnected;
        stats.discouraged = self.events.discouraged;
        stats.offences = self.events.offences.clone();
        MessageResult(TcpInfo {
            listen: self.listen.to_string(),
            peers: self
                .conns
                .iter()
                .map(|(id, c)| PeerInfo {
                    id: *id,
                    key: c.key.to_string(),
                    claimed_id: c.claimed,
                    addr: c.addr.to_string(),
                    inbound: c.inbound,
                })
                .collect(),
            stats,
        })
    }
}

impl Handler<StopTcp> for TcpNode {
    type Result = ();
    fn handle(&mut self, _: StopTcp, ctx: &mut Context<Self>) {
        self.shutdown.cancel();
        for peer in self.conns.keys().copied().collect::<Vec<_>>() {
            self.drop_conn(peer, "shutdown", "this node stopped".into());
        }
        ctx.stop();
    }
}
