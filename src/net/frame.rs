//! Frames and the authenticated handshake of the TCP protocol.
//!
//! A connection carries length-prefixed frames (a 4-byte big-endian length, then that many
//! bytes of one canonically encoded [`Frame`]). Each side first sends a [`Hello`] with a fresh
//! challenge, then an [`Frame::Auth`] signing the other side's challenge with its node key;
//! only then do protocol messages flow. A peer is identified by the key it proves; which keys
//! may connect is [`AllowedPeers`](crate::net::identity::AllowedPeers).

use crate::crypto::{verify_digest, KeyPair, PublicKey, Signature};
use crate::encoding::{self, DecodeError, MAX_DECODE_BYTES};
use crate::hash::Hash;
use crate::net::identity::AllowedPeers;
use crate::net::wire::{CapError, LinkError, WireMsg};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The first bytes of every handshake.
pub const MAGIC: [u8; 4] = *b"CLAB";
/// The protocol version this build speaks. Version 2: the hello's key is the node's own key
/// (checked against an allow-list), no longer derived from the shared config and the id.
/// Version 3: proof of stake: blocks carry consensus items and a `Seal::Pos`, and the
/// `items` message (`WireMsg::Items`) pushes votes and evidence.
/// Version 4: the `tx` message became `txs` (`WireMsg::Txs`): a `getdata`'s transactions
/// travel in one reply.
pub const PROTOCOL_VERSION: u16 = 4;
/// Bytes in a frame's length prefix.
pub const LENGTH_FIELD_BYTES: usize = 4;
/// Largest frame body accepted or sent; a longer length prefix ends the connection before any
/// of the body is buffered.
pub const MAX_FRAME_BYTES: usize = MAX_DECODE_BYTES as usize;
/// Byte budget of one `blocks` sync reply (leaves room for the frame's own fields).
pub const SYNC_REPLY_MAX_BYTES: u64 = MAX_DECODE_BYTES - 64 * 1024;
/// Byte budget of the transactions in one `txs` reply (the same room as a sync reply): a
/// `getdata` whose transactions would pass it is answered in several `txs` messages.
pub const TXS_REPLY_MAX_BYTES: u64 = SYNC_REPLY_MAX_BYTES;

/// The handshake's first frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// [`MAGIC`].
    pub magic: [u8; 4],
    /// [`PROTOCOL_VERSION`].
    pub version: u16,
    /// The chain id the sender runs.
    pub chain_id: u32,
    /// Its genesis block hash.
    pub genesis: Hash,
    /// The node id the sender claims: informational, except that a key listed with an id
    /// must claim that id.
    pub node: u32,
    /// The sender's node key: its identity, proved by the auth frame.
    pub key: PublicKey,
    /// Fresh random bytes the other side must sign.
    pub challenge: [u8; 32],
}

/// One frame on a TCP link.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Frame {
    /// Handshake, first frame each way.
    Hello(Hello),
    /// Handshake, second frame: signature over the other side's challenge.
    Auth(Signature),
    /// Keepalive request.
    Ping(u64),
    /// Keepalive answer.
    Pong(u64),
    /// A protocol message.
    Msg(WireMsg),
}

/// Why a frame was refused.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The bytes are not a frame (garbage, an unknown message type, truncation, trailing bytes).
    #[error("undecodable frame: {0}")]
    Undecodable(#[from] DecodeError),
    /// A list is longer than its cap.
    #[error("{0}")]
    Cap(#[from] CapError),
    /// A sync reply whose blocks do not form a chain.
    #[error("{0}")]
    Links(#[from] LinkError),
}

/// Encodes a frame body (without the length prefix).
pub fn encode_frame(frame: &Frame) -> Vec<u8> {
    encoding::encode(frame)
}

/// Bytes of a frame's variant tag in the canonical encoding (a fixed-width `u32`).
const FRAME_TAG_BYTES: u64 = 4;

/// The bytes a protocol message takes on a TCP link: the length prefix, the frame's variant tag
/// and the message's canonical encoding. The bandwidth queues serialise this many bytes, on
/// in-memory links too.
pub fn msg_wire_len(msg: &WireMsg) -> u64 {
    LENGTH_FIELD_BYTES as u64 + FRAME_TAG_BYTES + msg.size()
}

/// Decodes one frame body and checks every list in it against its cap, right after decoding.
///
/// # Errors
/// [`FrameError`] saying what is wrong.
pub fn decode_frame(bytes: &[u8]) -> Result<Frame, FrameError> {
    let frame: Frame = encoding::decode(bytes)?;
    if let Frame::Msg(m) = &frame {
        m.check_caps()?;
        m.check_links()?;
    }
    Ok(frame)
}

/// The node key of node `node` in an in-process cluster run from `seed` (reproducible runs).
/// Anyone with the config can compute every such key, so these keys prove nothing about who
/// runs a node; `chainlab node` uses a secret key of its own instead.
pub fn node_key(seed: u64, node: u32) -> KeyPair {
    let mut s = b"chainlab/node-key/v1".to_vec();
    s.extend_from_slice(&seed.to_le_bytes());
    s.extend_from_slice(&node.to_le_bytes());
    KeyPair::from_seed(&s)
}

/// The digest a node signs to answer `challenge` (bound to the chain and both keys).
pub fn auth_digest(
    chain_id: u32,
    challenge: &[u8; 32],
    signer: &PublicKey,
    verifier: &PublicKey,
) -> [u8; 32] {
    Hash::sha256_parts(&[
        b"chainlab/handshake/v1",
        &chain_id.to_le_bytes(),
        challenge,
        &signer.0,
        &verifier.0,
    ])
    .0
}

/// What this side expects of the other's [`Hello`].
#[derive(Clone, Debug)]
pub struct HandshakeRules {
    /// Our chain id.
    pub chain_id: u32,
    /// Our genesis hash.
    pub genesis: Hash,
    /// Our node id (sent in our hello).
    pub node: u32,
    /// Our node key (a hello presenting it is a connection to ourselves).
    pub key: PublicKey,
    /// The keys that may connect.
    pub allowed: Arc<AllowedPeers>,
}

/// Why a handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The first frame was not a hello, or the second not an auth.
    #[error("expected {expected} during the handshake, got {got}")]
    Unexpected {
        /// What was due.
        expected: &'static str,
        /// What came.
        got: &'static str,
    },
    /// Another protocol.
    #[error("wrong magic {0:02x?}")]
    BadMagic([u8; 4]),
    /// Another version.
    #[error("protocol version {got}, this node speaks {expected}")]
    BadVersion {
        /// Ours.
        expected: u16,
        /// Theirs.
        got: u16,
    },
    /// Another chain.
    #[error("chain id {got}, this node runs {expected}")]
    WrongChain {
        /// Ours.
        expected: u32,
        /// Theirs.
        got: u32,
    },
    /// Same chain id, another genesis.
    #[error("genesis {got}, this node's is {expected}")]
    WrongGenesis {
        /// Ours.
        expected: Hash,
        /// Theirs.
        got: Hash,
    },
    /// It presents our own key.
    #[error("the peer presents this node's own key (a connection to itself)")]
    SelfConnection,
    /// A permissioned network, and the key is not on the list.
    #[error("key {0} is not in tcp.peers_allowed")]
    NotAllowed(String),
    /// A key listed with a node id claims another id.
    #[error("key {key}.. is listed as node {listed} but claims node {claimed}")]
    WrongId {
        /// The key, shortened.
        key: String,
        /// The id listed for it.
        listed: u32,
        /// The id it claimed.
        claimed: u32,
    },
    /// The challenge signature does not verify.
    #[error("handshake signature does not verify")]
    BadSignature,
    /// The peer's key is discouraged.
    #[error("key {key}.. is discouraged for {left_ms} ms more ({reason})")]
    Discouraged {
        /// The peer's key, shortened.
        key: String,
        /// Time left.
        left_ms: u64,
        /// Why it was discouraged.
        reason: String,
    },
    /// Too many peers.
    #[error("{0} peers connected, the most allowed")]
    Full(usize),
    /// The handshake did not finish in time.
    #[error("handshake not finished within {0} ms")]
    Timeout(u64),
    /// The connection closed or failed during the handshake.
    #[error("connection closed during the handshake: {0}")]
    Closed(String),
    /// A frame could not be read.
    #[error("{0}")]
    Frame(String),
}

impl Frame {
    /// The frame's name, for errors.
    pub fn name(&self) -> &'static str {
        match self {
            Frame::Hello(_) => "hello",
            Frame::Auth(_) => "auth",
            Frame::Ping(_) => "ping",
            Frame::Pong(_) => "pong",
            Frame::Msg(_) => "a protocol message",
        }
    }
}

/// Our hello, with a fresh challenge.
pub fn make_hello(rules: &HandshakeRules, challenge: [u8; 32]) -> Hello {
    Hello {
        magic: MAGIC,
        version: PROTOCOL_VERSION,
        chain_id: rules.chain_id,
        genesis: rules.genesis,
        node: rules.node,
        key: rules.key,
        challenge,
    }
}

/// Checks the other side's hello: magic, version, chain, genesis, not our own key, the key is
/// allowed (cheapest first).
///
/// # Errors
/// The first mismatch.
pub fn check_hello(rules: &HandshakeRules, h: &Hello) -> Result<(), HandshakeError> {
    if h.magic != MAGIC {
        return Err(HandshakeError::BadMagic(h.magic));
    }
    if h.version != PROTOCOL_VERSION {
        return Err(HandshakeError::BadVersion {
            expected: PROTOCOL_VERSION,
            got: h.version,
        });
    }
    if h.chain_id != rules.chain_id {
        return Err(HandshakeError::WrongChain {
            expected: rules.chain_id,
            got: h.chain_id,
        });
    }
    if h.genesis != rules.genesis {
        return Err(HandshakeError::WrongGenesis {
            expected: rules.genesis,
            got: h.genesis,
        });
    }
    if h.key == rules.key {
        return Err(HandshakeError::SelfConnection);
    }
    rules.allowed.check(&h.key, h.node)
}

/// Our answer to the other side's challenge.
pub fn sign_auth(rules: &HandshakeRules, key: &KeyPair, theirs: &Hello) -> Signature {
    key.sign_digest(&auth_digest(
        rules.chain_id,
        &theirs.challenge,
        &key.public,
        &theirs.key,
    ))
}

/// Checks the other side's answer to our challenge.
///
/// # Errors
/// [`HandshakeError::BadSignature`].
pub fn verify_auth(
    rules: &HandshakeRules,
    ours: &Hello,
    theirs: &Hello,
    sig: &Signature,
) -> Result<(), HandshakeError> {
    let digest = auth_digest(rules.chain_id, &ours.challenge, &theirs.key, &ours.key);
    verify_digest(&theirs.key, &digest, sig).map_err(|_| HandshakeError::BadSignature)
}
#[cfg(test)]
mod tests {
    use super::*;

    /// Node `node` of a two-node permissioned network (the keys derived from seed 1).
    fn rules(node: u32) -> HandshakeRules {
        HandshakeRules {
            chain_id: 7,
            genesis: Hash::sha256(b"g"),
            node,
            key: node_key(1, node).public,
            allowed: Arc::new(AllowedPeers::default().with_cluster_keys(1, 2)),
        }
    }

    #[test]
    fn handshake_round_trip_and_each_mismatch() {
        let (a, b) = (rules(0), rules(1));
        let kb = node_key(1, 1);
        let ha = make_hello(&a, [1; 32]);
        let hb = make_hello(&b, [2; 32]);
        check_hello(&a, &hb).unwrap();
        check_hello(&b, &ha).unwrap();
        let sb = sign_auth(&b, &kb, &ha);
        verify_auth(&a, &ha, &hb, &sb).unwrap();
        // A signature over another challenge does not verify.
        let other = make_hello(&a, [3; 32]);
        let wrong = sign_auth(&b, &kb, &other);
        assert_eq!(
            verify_auth(&a, &ha, &hb, &wrong),
            Err(HandshakeError::BadSignature)
        );
        let mut h = hb.clone();
        h.magic = *b"BTC!";
        assert!(matches!(
            check_hello(&a, &h),
            Err(HandshakeError::BadMagic(_))
        ));
        let mut h = hb.clone();
        h.version = 9;
        assert!(matches!(
            check_hello(&a, &h),
            Err(HandshakeError::BadVersion { .. })
        ));
        let mut h = hb.clone();
        h.chain_id = 8;
        assert!(matches!(
            check_hello(&a, &h),
            Err(HandshakeError::WrongChain { .. })
        ));
        let mut h = hb.clone();
        h.genesis = Hash::ZERO;
        assert!(matches!(
            check_hello(&a, &h),
            Err(HandshakeError::WrongGenesis { .. })
        ));
        let mut h = hb.clone();
        h.node = 5;
        assert!(matches!(
            check_hello(&a, &h),
            Err(HandshakeError::WrongId {
                listed: 1,
                claimed: 5,
                ..
            })
        ));
        let mut h = hb.clone();
        h.key = node_key(1, 2).public;
        assert_eq!(
            check_hello(&a, &h),
            Err(HandshakeError::NotAllowed(h.key.to_string()))
        );
        assert_eq!(
            check_hello(&a, &make_hello(&a, [0; 32])),
            Err(HandshakeError::SelfConnection)
        );
        // Our own id claimed with another key is no self-connection (ids are claims).
        let mut open = a.clone();
        open.allowed = Arc::new(AllowedPeers::open());
        let mut h = hb.clone();
        h.node = 0;
        check_hello(&open, &h).unwrap();
    }

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let f = Frame::Ping(42);
        assert_eq!(decode_frame(&encode_frame(&f)).unwrap(), f);
        assert!(matches!(
            decode_frame(&[0xff; 9]),
            Err(FrameError::Undecodable(_))
        ));
        let mut bytes = encode_frame(&f);
        bytes.push(0);
        assert!(decode_frame(&bytes).is_err(), "trailing bytes are refused");
    }

    #[test]
    fn wire_length_is_the_framed_length() {
        let msgs = [
            WireMsg::GetBlocks {
                locator: vec![Hash::ZERO; 3],
            },
            WireMsg::Inv {
                blocks: vec![Hash::ZERO],
                txs: vec![Hash::sha256(b"t"); 5],
            },
        ];
        for m in msgs {
            let framed = LENGTH_FIELD_BYTES + encode_frame(&Frame::Msg(m.clone())).len();
            assert_eq!(msg_wire_len(&m), framed as u64);
        }
    }
}
