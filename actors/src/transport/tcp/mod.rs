//! TCP links. One [`TcpNode`] actor per node owns its listener and its connections; each
//! connection runs as one task on the node's arbiter:
//!
//! 1. framing: tokio-util's `LengthDelimitedCodec` with a 4-byte length and an explicit
//!    maximum ([`MAX_FRAME_BYTES`]; [`HANDSHAKE_FRAME_BYTES`] until the handshake completes),
//!    so an oversized length prefix ends the connection before its body is buffered; each
//!    body is decoded with the core's byte limit and its lists checked against their caps
//!    (core [`decode_frame`]);
//! 2. the handshake (core [`check_hello`], [`sign_auth`], [`verify_auth`]) within
//!    `tcp.handshake_timeout`;
//! 3. a reader, throttled by two token buckets (messages and bytes per second), that hands
//!    messages to the node's peer actor with a bounded `try_send` (drops are counted), and a
//!    writer fed by a bounded per-peer queue (drops are counted), which also sends keepalive
//!    pings. A connection silent for `tcp.idle_timeout` is closed.
//!
//! Offences (a bad frame here; an invalid block, an invalid transaction or a flood reported by
//! the node's actors through [`Penalize`]) disconnect the peer and discourage its node id for
//! `tcp.discourage_for`. Outbound targets are redialled with capped exponential backoff and
//! jitter. Every connection event is recorded in the trace.

use super::{Deliver, PeerLink};
use crate::recorder::Recorder;
use actix::prelude::*;
use bytes::Bytes;
use chainlab::config::TcpConfig;
use chainlab::net::wire::WireMsg;
use chainlab::net::{
    backoff_ms, check_hello, decode_frame, encode_frame, make_hello, sign_auth, verify_auth,
    Discouraged, Frame, HandshakeError, HandshakeRules, Hello, Offence, TokenBucket,
    LENGTH_FIELD_BYTES, MAX_FRAME_BYTES,
};
use chainlab::report::Event;
use chainlab::KeyPair;
use chainlab::NodeId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use rand::{Rng, RngCore};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::codec::{Framed, LengthDelimitedCodec, LengthDelimitedCodecError};
use tokio_util::sync::CancellationToken;

/// The frame codec: 4-byte big-endian length, [`MAX_FRAME_BYTES`] maximum, both set explicitly
/// (a shorter length field alone would not lower tokio-util's 8 MiB default).
pub fn codec() -> LengthDelimitedCodec {
    LengthDelimitedCodec::builder()
        .length_field_length(LENGTH_FIELD_BYTES)
        .max_frame_length(MAX_FRAME_BYTES)
        .new_codec()
}

/// Most encoded bytes queued for one peer (besides `tcp.queue_frames`): a peer that asks for
/// much and reads little cannot make the node hold more than this for it.
pub const QUEUE_BYTES_PER_PEER: u64 = 4 * MAX_FRAME_BYTES as u64;

/// Largest frame accepted before the handshake completes (a hello is about 120 bytes, an
/// auth 68): a peer that has not proved who it is cannot make the node buffer a full-size
/// frame on each of its connections.
pub const HANDSHAKE_FRAME_BYTES: usize = 1024;

type Link = Framed<TcpStream, LengthDelimitedCodec>;

/// An address to keep a connection to.
#[derive(Debug, Clone)]
pub struct DialTarget {
    /// Where.
    pub addr: SocketAddr,
    /// The node expected there, when known (cluster links); learnt at the first handshake
    /// otherwise.
    pub peer: Option<NodeId>,
}

/// Everything a [`TcpNode`] needs.
pub struct TcpSetup {
    /// This node.
    pub id: NodeId,
    /// Its node key.
    pub key: KeyPair,
    /// What a peer's hello must match.
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

/// Counters shared with the connection tasks.
#[derive(Debug, Default)]
pub struct TcpCounters {
    frames_in: AtomicU64,
    frames_out: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    dropped_queue_full: AtomicU64,
    dropped_not_connected: AtomicU64,
    dropped_ingress_full: AtomicU64,
    throttled: AtomicU64,
    throttled_ms: AtomicU64,
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
    fn snapshot(&self) -> TcpStats {
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
    /// Node id.
    pub id: NodeId,
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

/// Send a protocol message to a peer (dropped and counted when its queue is full).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SendFrame {
    /// Peer.
    pub to: NodeId,
    /// Message.
    pub msg: WireMsg,
}

/// A peer misbehaved: disconnect and discourage it.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub struct Penalize {
    /// Peer.
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

#[derive(Message)]
#[rtype(result = "()")]
struct Accepted(TcpStream, SocketAddr);

#[derive(Message)]
#[rtype(result = "Result<(), HandshakeError>")]
struct CheckPeer(NodeId);

#[derive(Message)]
#[rtype(result = "bool")]
struct Established {
    peer: NodeId,
    conn: u64,
    tx: mpsc::Sender<Bytes>,
    queued: Arc<AtomicU64>,
    cancel: CancellationToken,
    addr: SocketAddr,
    inbound: bool,
    target: Option<usize>,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Ended {
    peer: Option<NodeId>,
    addr: SocketAddr,
    conn: u64,
    target: Option<usize>,
    end: End,
}

#[derive(Message)]
#[rtype(result = "()")]
struct Redial(usize);

/// How a connection ended.
#[derive(Debug)]
enum End {
    /// Before or during the handshake.
    Handshake(HandshakeError),
    /// A duplicate of an existing connection.
    Duplicate,
    /// Closed normally: (cause, reason).
    Closed(&'static str, String),
    /// The peer misbehaved.
    Offence(Offence),
    /// We closed it (shutdown or a penalty already recorded).
    Cancelled,
}

struct Conn {
    id: u64,
    tx: mpsc::Sender<Bytes>,
    /// Encoded bytes queued for this peer and not yet written.
    queued: Arc<AtomicU64>,
    cancel: CancellationToken,
    addr: SocketAddr,
    inbound: bool,
    dialer: NodeId,
}

struct Target {
    addr: SocketAddr,
    peer: Option<NodeId>,
    attempt: u32,
    busy: bool,
}

/// Shared by a node's connection tasks.
struct Env {
    node: Addr<TcpNode>,
    key: KeyPair,
    rules: HandshakeRules,
    cfg: TcpConfig,
    inbox: Recipient<Deliver>,
    counters: Arc<TcpCounters>,
}

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
            targets: s
                .dial
                .into_iter()
                .map(|d| Target {
                    addr: d.addr,
                    peer: d.peer,
                    attempt: 0,
                    busy: false,
                })
                .collect(),
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

    fn spawn_conn(&mut self, stream: TcpStream, addr: SocketAddr, target: Option<usize>) {
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

    fn schedule_dial(&mut self, i: usize, ctx: &mut Context<Self>) {
        let t = &mut self.targets[i];
        let wait = backoff_ms(
            t.attempt,
            self.cfg.reconnect_base.as_millis() as u64,
            self.cfg.reconnect_max.as_millis() as u64,
            self.rng.gen(),
        );
        t.attempt = t.attempt.saturating_add(1);
        t.busy = true;
        ctx.notify_later(Redial(i), Duration::from_millis(wait));
    }

    fn dial(&mut self, i: usize, ctx: &mut Context<Self>) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let t = &mut self.targets[i];
        if t.peer.is_some_and(|p| self.conns.contains_key(&p)) {
            // Already connected to that node (it dialled us): check again later.
            t.busy = false;
            t.attempt = 0;
            return;
        }
        t.busy = true;
        let addr = t.addr;
        let timeout = self.cfg.handshake_timeout;
        let fut = async move { tokio::time::timeout(timeout, TcpStream::connect(addr)).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                act.spawn_conn(stream, addr, Some(i));
            }
            _ => act.schedule_dial(i, ctx),
        }));
    }

    fn drop_conn(&mut self, peer: NodeId, cause: &str, reason: String) {
        if let Some(c) = self.conns.remove(&peer) {
            c.cancel.cancel();
            self.events.disconnected += 1;
            self.record(Event::PeerDisconnected {
                peer: peer as u64,
                cause: cause.to_string(),
                reason,
            });
            // A control message from this process (one per connection): never dropped.
            self.links.do_send(PeerLink { peer, up: false });
        }
    }

    fn penalize(&mut self, peer: NodeId, offence: Offence, ctx: &mut Context<Self>) {
        let for_ms = self.cfg.discourage_for.as_millis() as u64;
        let reason = offence.to_string();
        *self
            .events
            .offences
            .entry(offence.label().to_string())
            .or_default() += 1;
        tracing::warn!(node = self.id, peer, %reason, "peer misbehaved: disconnected and discouraged");
        self.discouraged.add(
            peer as u32,
            self.now_ms().saturating_add(for_ms),
            reason.clone(),
        );
        self.events.discouraged += 1;
        self.record(Event::PeerDiscouraged {
            peer: peer as u64,
            reason: reason.clone(),
            for_ms,
        });
        self.drop_conn(peer, offence.label(), reason);
        self.redial_for(peer, ctx);
    }

    /// A connection to `peer` is gone: the targets that reach it dial again (after backoff).
    fn redial_for(&mut self, peer: NodeId, ctx: &mut Context<Self>) {
        for i in 0..self.targets.len() {
            if self.targets[i].peer == Some(peer) && !self.targets[i].busy {
                self.schedule_dial(i, ctx);
            }
        }
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

impl Handler<Accepted> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Accepted, _: &mut Context<Self>) {
        // Connections still in their handshake are bounded too (a slowloris swarm).
        if self.conns.len() + self.handshaking >= 2 * self.cfg.max_peers {
            self.events.handshake_failed += 1;
            self.record(Event::HandshakeFailed {
                addr: m.1.to_string(),
                reason: "too many connections".into(),
            });
            return;
        }
        self.spawn_conn(m.0, m.1, None);
    }
}

impl Handler<CheckPeer> for TcpNode {
    type Result = Result<(), HandshakeError>;
    fn handle(&mut self, m: CheckPeer, _: &mut Context<Self>) -> Self::Result {
        let now = self.now_ms();
        self.discouraged.check(m.0 as u32, now)?;
        if self.conns.len() >= self.cfg.max_peers && !self.conns.contains_key(&m.0) {
            return Err(HandshakeError::Full(self.conns.len()));
        }
        Ok(())
    }
}

impl Handler<Established> for TcpNode {
    type Result = bool;
    fn handle(&mut self, m: Established, _: &mut Context<Self>) -> bool {
        self.handshaking = self.handshaking.saturating_sub(1);
        if self.shutdown.is_cancelled() {
            return false;
        }
        if self.conns.len() >= self.cfg.max_peers && !self.conns.contains_key(&m.peer) {
            // Several handshakes passed `CheckPeer` at once: the limit holds all the same.
            return false;
        }
        let dialer = if m.inbound { m.peer } else { self.id };
        if let Some(t) = m.target {
            self.targets[t].peer = Some(m.peer);
            self.targets[t].attempt = 0;
            self.targets[t].busy = false;
        }
        if let Some(old) = self.conns.get(&m.peer) {
            // Two connections to one node (both dialled): both sides keep the one dialled by
            // the lower node id.
            let keeper = self.id.min(m.peer);
            if old.dialer == keeper || dialer != keeper {
                return false;
            }
            let old = self.conns.remove(&m.peer).expect("present");
            old.cancel.cancel();
        } else {
            self.events.connected += 1;
            self.record(Event::PeerConnected {
                peer: m.peer as u64,
                addr: m.addr.to_string(),
                inbound: m.inbound,
            });
            self.links.do_send(PeerLink {
                peer: m.peer,
                up: true,
            });
        }
        self.conns.insert(
            m.peer,
            Conn {
                id: m.conn,
                tx: m.tx,
                queued: m.queued,
                cancel: m.cancel,
                addr: m.addr,
                inbound: m.inbound,
                dialer,
            },
        );
        true
    }
}

impl Handler<Ended> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Ended, ctx: &mut Context<Self>) {
        let ours = m
            .peer
            .is_some_and(|p| self.conns.get(&p).is_some_and(|c| c.id == m.conn));
        if m.peer.is_none() {
            // It never reached `Established`.
            self.handshaking = self.handshaking.saturating_sub(1);
        }
        match m.end {
            End::Handshake(e) => {
                self.events.handshake_failed += 1;
                tracing::info!(node = self.id, addr = %m.addr, reason = %e, "handshake failed");
                self.record(Event::HandshakeFailed {
                    addr: m.addr.to_string(),
                    reason: e.to_string(),
                });
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

impl Handler<Redial> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Redial, ctx: &mut Context<Self>) {
        self.dial(m.0, ctx);
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
        if self.conns.contains_key(&m.peer) || self.discouraged.check(m.peer as u32, now).is_ok() {
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

/// Reads one frame body (for the handshake).
async fn read_frame(link: &mut Link, counters: &TcpCounters) -> Result<Frame, HandshakeError> {
    match link.next().await {
        None => Err(HandshakeError::Closed("end of stream".into())),
        Some(Err(e)) => Err(match oversized(&e, HANDSHAKE_FRAME_BYTES) {
            Some(o) => HandshakeError::Frame(o.to_string()),
            None => HandshakeError::Closed(e.to_string()),
        }),
        Some(Ok(bytes)) => {
            counters.frames_in.fetch_add(1, Relaxed);
            counters
                .bytes_in
                .fetch_add((bytes.len() + LENGTH_FIELD_BYTES) as u64, Relaxed);
            decode_frame(&bytes).map_err(|e| HandshakeError::Frame(e.to_string()))
        }
    }
}

fn oversized(e: &std::io::Error, max: usize) -> Option<Offence> {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<LengthDelimitedCodecError>())
        .map(|_| Offence::Oversized { max: max as u64 })
}

async fn write_frame(
    sink: &mut SplitSink<Link, Bytes>,
    body: Bytes,
    counters: &TcpCounters,
) -> std::io::Result<()> {
    counters.frames_out.fetch_add(1, Relaxed);
    counters
        .bytes_out
        .fetch_add((body.len() + LENGTH_FIELD_BYTES) as u64, Relaxed);
    sink.send(body).await
}

async fn handshake(
    env: &Env,
    link: &mut Link,
    challenge: [u8; 32],
) -> Result<Hello, HandshakeError> {
    let ours = make_hello(&env.rules, &env.key.public, challenge);
    let closed = |e: std::io::Error| HandshakeError::Closed(e.to_string());
    let body = encode_frame(&Frame::Hello(ours.clone()));
    link.send(Bytes::from(body)).await.map_err(closed)?;
    let theirs = match read_frame(link, &env.counters).await? {
        Frame::Hello(h) => h,
        other => {
            return Err(HandshakeError::Unexpected {
                expected: "hello",
                got: other.name(),
            })
        }
    };
    check_hello(&env.rules, &theirs)?;
    env.node
        .send(CheckPeer(theirs.node as NodeId))
        .await
        .map_err(|_| HandshakeError::Closed("node stopped".into()))??;
    let sig = sign_auth(&env.rules, &env.key, &theirs);
    link.send(Bytes::from(encode_frame(&Frame::Auth(sig))))
        .await
        .map_err(closed)?;
    match read_frame(link, &env.counters).await? {
        Frame::Auth(sig) => verify_auth(&env.rules, &ours, &theirs, &sig)?,
        other => {
            return Err(HandshakeError::Unexpected {
                expected: "auth",
                got: other.name(),
            })
        }
    }
    Ok(theirs)
}

/// One connection from accept (or connect) to close.
async fn connection(
    env: &Env,
    stream: TcpStream,
    addr: SocketAddr,
    target: Option<usize>,
    conn: u64,
    challenge: [u8; 32],
    cancel: CancellationToken,
) -> (Option<NodeId>, End) {
    let mut link = Framed::new(stream, codec());
    link.codec_mut().set_max_frame_length(HANDSHAKE_FRAME_BYTES);
    let hs_ms = env.cfg.handshake_timeout.as_millis() as u64;
    let hello = tokio::select! {
        biased;
        () = cancel.cancelled() => return (None, End::Cancelled),
        r = tokio::time::timeout(env.cfg.handshake_timeout, handshake(env, &mut link, challenge)) => match r {
            Err(_) => return (None, End::Handshake(HandshakeError::Timeout(hs_ms))),
            Ok(Err(e)) => return (None, End::Handshake(e)),
            Ok(Ok(h)) => h,
        },
    };
    link.codec_mut().set_max_frame_length(MAX_FRAME_BYTES);
    let peer = hello.node as NodeId;
    let (tx, rx) = mpsc::channel(env.cfg.queue_frames);
    let queued = Arc::new(AtomicU64::new(0));
    let kept = env
        .node
        .send(Established {
            peer,
            conn,
            tx: tx.clone(),
            queued: queued.clone(),
            cancel: cancel.clone(),
            addr,
            inbound: target.is_none(),
            target,
        })
        .await
        .unwrap_or(false);
    if !kept {
        return (Some(peer), End::Duplicate);
    }
    let (sink, stream) = link.split();
    let end = tokio::select! {
        biased;
        () = cancel.cancelled() => End::Cancelled,
        end = writer(env, sink, rx, queued.clone()) => end,
        end = reader(env, stream, peer, tx, queued) => end,
    };
    (Some(peer), end)
}

async fn writer(
    env: &Env,
    mut sink: SplitSink<Link, Bytes>,
    mut rx: mpsc::Receiver<Bytes>,
    queued: Arc<AtomicU64>,
) -> End {
    let mut ping = tokio::time::interval(env.cfg.ping_interval);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    ping.tick().await;
    let mut nonce = 0u64;
    loop {
        // Queued bodies count against the peer's byte budget until written; pings do not.
        let (body, queued_len) = tokio::select! {
            biased;
            f = rx.recv() => match f {
                Some(body) => {
                    let len = body.len() as u64;
                    (body, len)
                }
                None => return End::Cancelled,
            },
            _ = ping.tick() => {
                nonce += 1;
                (Bytes::from(encode_frame(&Frame::Ping(nonce))), 0)
            }
        };
        let written = write_frame(&mut sink, body, &env.counters).await;
        queued.fetch_sub(queued_len, Relaxed);
        if let Err(e) = written {
            return End::Closed("io-error", format!("write failed: {e}"));
        }
    }
}

async fn reader(
    env: &Env,
    mut stream: SplitStream<Link>,
    peer: NodeId,
    tx: mpsc::Sender<Bytes>,
    queued: Arc<AtomicU64>,
) -> End {
    let start = Instant::now();
    let now = || start.elapsed().as_millis() as u64;
    let cfg = &env.cfg;
    let mut msgs = TokenBucket::new(cfg.max_msgs_per_sec, cfg.max_msgs_per_sec, 0);
    let mut bytes_bucket = TokenBucket::new(cfg.max_bytes_per_sec, cfg.max_bytes_per_sec, 0);
    loop {
        let bytes = match tokio::time::timeout(cfg.idle_timeout, stream.next()).await {
            Err(_) => {
                return End::Closed(
                    "idle-timeout",
                    format!("no complete frame for {:?}", cfg.idle_timeout),
                )
            }
            Ok(None) => return End::Closed("closed", "the peer closed the connection".into()),
            Ok(Some(Err(e))) => {
                return match oversized(&e, MAX_FRAME_BYTES) {
                    Some(o) => End::Offence(o),
                    None => End::Closed("io-error", format!("read failed: {e}")),
                }
            }
            Ok(Some(Ok(b))) => b,
        };
        let len = (bytes.len() + LENGTH_FIELD_BYTES) as u64;
        env.counters.frames_in.fetch_add(1, Relaxed);
        env.counters.bytes_in.fetch_add(len, Relaxed);
        let wait = msgs
            .take(1.0, now())
            .err()
            .unwrap_or(0)
            .max(bytes_bucket.take(len as f64, now()).err().unwrap_or(0));
        if wait > 0 {
            // Throttle: stop reading this peer (TCP backpressure reaches it) until its budget
            // refills. Other peers are read meanwhile.
            env.counters.throttled.fetch_add(1, Relaxed);
            env.counters.throttled_ms.fetch_add(wait, Relaxed);
            tokio::time::sleep(Duration::from_millis(wait)).await;
        }
        match decode_frame(&bytes) {
            Err(e) => return End::Offence(Offence::BadFrame(e.to_string())),
            Ok(Frame::Ping(n)) => {
                let pong = Bytes::from(encode_frame(&Frame::Pong(n)));
                let len = pong.len() as u64;
                if tx.try_send(pong).is_ok() {
                    queued.fetch_add(len, Relaxed);
                }
            }
            Ok(Frame::Pong(_)) => {}
            Ok(f @ (Frame::Hello(_) | Frame::Auth(_))) => {
                return End::Offence(Offence::Protocol(format!(
                    "{} after the handshake",
                    f.name()
                )))
            }
            Ok(Frame::Msg(msg)) => {
                if env.inbox.try_send(Deliver { from: peer, msg }).is_err() {
                    env.counters.dropped_ingress_full.fetch_add(1, Relaxed);
                }
            }
        }
    }
}
