//! One connection's task, from accept (or connect) to close: the frame codec, the handshake
//! (core [`check_hello`], [`sign_auth`], [`verify_auth`]) within `tcp.handshake_timeout`, then a
//! writer (the peer's bounded queue and keepalive pings) and a reader (two token buckets,
//! `tcp.idle_timeout`, a bounded hand-over to the peer actor) until one of them ends it. The
//! task tells the endpoint what happened through the messages in [`super::peers`]; it holds
//! no endpoint state.

use super::peers::{CheckPeer, Established};
use super::{TcpCounters, TcpNode};
use crate::transport::Deliver;
use actix::prelude::*;
use bytes::Bytes;
use chainlab::config::TcpConfig;
use chainlab::net::{
    check_hello, decode_frame, encode_frame, make_hello, sign_auth, verify_auth, Frame,
    HandshakeError, HandshakeRules, Hello, Offence, TokenBucket, LENGTH_FIELD_BYTES,
    MAX_FRAME_BYTES,
};
use chainlab::KeyPair;
use chainlab::NodeId;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
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

/// Largest frame accepted before the handshake completes (a hello is about 120 bytes, an
/// auth 68): a peer that has not proved who it is cannot make the node buffer a full-size
/// frame on each of its connections.
pub const HANDSHAKE_FRAME_BYTES: usize = 1024;

type Link = Framed<TcpStream, LengthDelimitedCodec>;

/// Shared by a node's connection tasks.
pub(super) struct Env {
    pub(super) node: Addr<TcpNode>,
    pub(super) key: KeyPair,
    pub(super) rules: HandshakeRules,
    pub(super) cfg: TcpConfig,
    pub(super) inbox: Recipient<Deliver>,
    pub(super) counters: Arc<TcpCounters>,
}

/// How a connection ended.
#[derive(Debug)]
pub(super) enum End {
    /// Before or during the handshake.
    Handshake(HandshakeError),
    /// Not kept after its handshake: a duplicate of an existing connection, no room, or
    /// shutting down.
    Duplicate,
    /// Closed normally: (cause, reason).
    Closed(&'static str, String),
    /// The peer misbehaved.
    Offence(Offence),
    /// We closed it (shutdown or a penalty already recorded).
    Cancelled,
}

/// One connection from accept (or connect) to close.
pub(super) async fn connection(
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
    let (tx, rx) = mpsc::channel(env.cfg.queue_frames);
    let queued = Arc::new(AtomicU64::new(0));
    let kept = env
        .node
        .send(Established {
            key: hello.key,
            claimed: hello.node,
            conn,
            tx: tx.clone(),
            queued: queued.clone(),
            cancel: cancel.clone(),
            addr,
            inbound: target.is_none(),
            target,
        })
        .await
        .unwrap_or(None);
    let Some(peer) = kept else {
        return (None, End::Duplicate);
    };
    let (sink, stream) = link.split();
    let end = tokio::select! {
        biased;
        () = cancel.cancelled() => End::Cancelled,
        end = writer(env, sink, rx, queued.clone()) => end,
        end = reader(env, stream, peer, tx, queued) => end,
    };
    (Some(peer), end)
}

async fn handshake(
    env: &Env,
    link: &mut Link,
    challenge: [u8; 32],
) -> Result<Hello, HandshakeError> {
    let ours = make_hello(&env.rules, challenge);
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
        .send(CheckPeer(theirs.key))
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
