//! Property tests of the TCP protocol's pure parts (`chainlab::net`, `chainlab::net::wire`):
//!
//! * every valid [`Frame`] (ping, pong, hello, auth, and every protocol message with
//!   arbitrary content within the caps) round-trips through `encode_frame`/`decode_frame`,
//!   and every strict prefix or extension of its encoding is refused;
//! * `decode_frame` on arbitrary bytes (noise, noise behind valid variant tags, mutations of
//!   valid encodings) never panics, and whatever it accepts re-encodes to exactly the same
//!   bytes and respects every cap and the sync-reply link rule;
//! * lists one or more items over a cap are refused with [`FrameError::Cap`] (and lists
//!   exactly at the cap are accepted); a `blocks` reply that does not chain is refused with
//!   [`FrameError::Links`] naming the first block that does not connect;
//! * a huge length prefix inside a body is refused at once, with at most a bounded
//!   preallocation (measured with a per-thread counting allocator);
//! * the handshake: `sign_auth`/`verify_auth` accept the right pair and reject any flipped
//!   bit in the signature or the challenge; `check_hello` rejects each mutated field with
//!   the error naming it;
//! * `TokenBucket` never lets more than `burst + rate · t` units through, and
//!   `backoff_ms` is monotone in the attempt and never exceeds its cap.

use chainlab::block::{
    Block, BlockHeader, Checkpoint, Evidence, Item, Seal, SharedItem, Vote, VrfProof,
};
use chainlab::crypto::{Address, PublicKey, Signature};
use chainlab::encoding::{encoded_len, MAX_DECODE_BYTES};
use chainlab::hash::{Hash, TxId};
use chainlab::net::wire::{
    CapError, LinkError, WireMsg, MAX_INV_ITEMS, MAX_LOCATOR, MAX_SYNC_BLOCKS, MAX_WIRE_ITEMS,
};
use chainlab::net::{
    backoff_ms, check_hello, decode_frame, encode_frame, make_hello, node_key, sign_auth,
    verify_auth, AllowedPeers, Frame, FrameError, HandshakeError, HandshakeRules, Hello,
    TokenBucket, MAGIC, MAX_FRAME_BYTES, PROTOCOL_VERSION,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "support/arb.rs"]
mod arb;
use arb::{apply, arb_block_of, arb_hash, arb_header, arb_tx, bytes_n, mutation, Mutation};

// ---------------------------------------------------------------------------------------
// A counting allocator: the largest single request and the total requested on the current
// thread while tracking is on (other test threads are not counted).
// ---------------------------------------------------------------------------------------

struct Counting;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            let _ = PEAK.try_with(|p| p.set(p.get().max(size)));
            let _ = TOTAL.try_with(|s| s.set(s.get().saturating_add(size)));
        }
    });
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping only
// touches `const`-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note_alloc(layout.size());
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note_alloc(new_size);
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Runs `f`, returning its result, the largest single allocation and the total allocated
/// on this thread meanwhile.
fn measure<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    PEAK.with(|p| p.set(0));
    TOTAL.with(|s| s.set(0));
    TRACKING.with(|t| t.set(true));
    let out = f();
    TRACKING.with(|t| t.set(false));
    (out, PEAK.with(Cell::get), TOTAL.with(Cell::get))
}

// ---------------------------------------------------------------------------------------
// Generators
// ---------------------------------------------------------------------------------------

/// `n` distinct ids derived from `seed` (cheap bulk lists, which also shrink well).
fn ids(seed: u64, n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| Hash::sha256_parts(&[&seed.to_le_bytes(), &i.to_le_bytes()]))
        .collect()
}

/// A hash list of length within `0..=max`: usually short and arbitrary, sometimes bulk
/// (up to and including the cap).
fn hash_list(max: usize) -> impl Strategy<Value = Vec<Hash>> {
    prop_oneof![
        4 => prop::collection::vec(arb_hash(), 0..6),
        1 => (any::<u64>(), 0..=max).prop_map(|(seed, n)| ids(seed, n)),
        1 => any::<u64>().prop_map(move |seed| ids(seed, max)),
    ]
}

fn arb_block() -> impl Strategy<Value = Block> {
    arb_block_of(arb_tx(), 3)
}

/// Makes each block the child of the one before (parent hash and height), as a sync reply
/// must be. The first block keeps its own parent and height.
fn link(mut blocks: Vec<Block>) -> Vec<Arc<Block>> {
    for i in 1..blocks.len() {
        let (parent, height) = (blocks[i - 1].hash(), blocks[i - 1].header.height);
        blocks[i].header.parent = parent;
        blocks[i].header.height = height.wrapping_add(1);
    }
    blocks.into_iter().map(Arc::new).collect()
}

/// A block with no transactions and arbitrary header fields derived from `seed`.
fn cheap_block(seed: u64, i: u64) -> Block {
    let h = Hash::sha256_parts(&[b"cheap-block", &seed.to_le_bytes(), &i.to_le_bytes()]);
    Block {
        header: BlockHeader {
            version: 1,
            parent: h,
            height: u64::from_le_bytes(h.0[..8].try_into().unwrap()),
            tx_root: Hash::ZERO,
            state_root: h,
            timestamp_ms: i,
            miner: Address([i as u8; 20]),
            seal: Seal::Pow {
                difficulty: 1,
                nonce: i,
            },
        },
        txs: Vec::new(),
        items: Vec::new(),
    }
}

/// `n` linked blocks (cheap, for lists at and over the cap).
fn cheap_chain(seed: u64, n: usize) -> Vec<Arc<Block>> {
    link((0..n as u64).map(|i| cheap_block(seed, i)).collect())
}

/// A linked sync reply of `0..=MAX_SYNC_BLOCKS` blocks.
fn sync_blocks() -> impl Strategy<Value = Vec<Arc<Block>>> {
    prop_oneof![
        4 => prop::collection::vec(arb_block(), 0..5).prop_map(link),
        1 => (any::<u64>(), 0..=MAX_SYNC_BLOCKS).prop_map(|(s, n)| cheap_chain(s, n)),
        1 => any::<u64>().prop_map(|s| cheap_chain(s, MAX_SYNC_BLOCKS)),
    ]
}

/// An inventory: block and transaction ids together at most `MAX_INV_ITEMS`.
fn inventory() -> impl Strategy<Value = (Vec<Hash>, Vec<TxId>)> {
    (hash_list(MAX_INV_ITEMS), hash_list(MAX_INV_ITEMS)).prop_map(|(b, mut t)| {
        t.truncate(MAX_INV_ITEMS - b.len());
        (b, t)
    })
}

fn arb_vote() -> impl Strategy<Value = Vote> {
    (
        any::<u32>(),
        any::<[u64; 2]>(),
        arb_hash(),
        arb_hash(),
        bytes_n::<64>(),
    )
        .prop_map(|(validator, [se, te], sh, th, sig)| Vote {
            validator,
            source: Checkpoint {
                epoch: se,
                hash: sh,
            },
            target: Checkpoint {
                epoch: te,
                hash: th,
            },
            signature: Signature(sig),
        })
}

/// A proof-of-stake header (arbitrary fields, the seal of a slot).
fn arb_pos_header() -> impl Strategy<Value = BlockHeader> {
    (
        arb_header(),
        any::<(u64, u32)>(),
        bytes_n::<32>(),
        bytes_n::<64>(),
        bytes_n::<64>(),
    )
        .prop_map(|(mut h, (slot, proposer), output, proof, sig)| {
            h.seal = Seal::Pos {
                slot,
                proposer,
                vrf: VrfProof { output, proof },
                signature: Signature(sig),
            };
            h
        })
}

fn arb_item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => arb_vote().prop_map(Item::Vote),
        1 => (arb_vote(), arb_vote()).prop_map(|(a, b)| Item::Evidence(Evidence::DoubleVote { a, b })),
        1 => (arb_vote(), arb_vote()).prop_map(|(a, b)| Item::Evidence(Evidence::SurroundVote { a, b })),
        1 => (arb_pos_header(), arb_pos_header()).prop_map(|(a, b)| Item::Evidence(Evidence::DoubleBlock {
            a: Box::new(a),
            b: Box::new(b),
        })),
    ]
}

/// `n` distinct votes derived from `seed` (cheap, for lists at and over the cap).
fn cheap_items(seed: u64, n: usize) -> Vec<SharedItem> {
    ids(seed, n)
        .into_iter()
        .enumerate()
        .map(|(i, h)| {
            Item::Vote(Vote {
                validator: i as u32,
                source: Checkpoint { epoch: 0, hash: h },
                target: Checkpoint { epoch: 1, hash: h },
                signature: Signature([i as u8; 64]),
            })
            .into()
        })
        .collect()
}

/// An `items` list of `0..=MAX_WIRE_ITEMS` items.
fn item_list() -> impl Strategy<Value = Vec<SharedItem>> {
    prop_oneof![
        4 => prop::collection::vec(arb_item().prop_map(SharedItem::from), 0..5),
        1 => (any::<u64>(), 0..=MAX_WIRE_ITEMS).prop_map(|(s, n)| cheap_items(s, n)),
        1 => any::<u64>().prop_map(|s| cheap_items(s, MAX_WIRE_ITEMS)),
    ]
}

fn arb_msg() -> impl Strategy<Value = WireMsg> {
    prop_oneof![
        inventory().prop_map(|(blocks, txs)| WireMsg::Inv { blocks, txs }),
        inventory().prop_map(|(blocks, txs)| WireMsg::GetData { blocks, txs }),
        arb_block().prop_map(|b| WireMsg::Block(Arc::new(b))),
        prop::collection::vec(arb_tx().prop_map(Arc::new), 0..4).prop_map(WireMsg::Txs),
        hash_list(MAX_LOCATOR).prop_map(|locator| WireMsg::GetBlocks { locator }),
        (sync_blocks(), any::<bool>()).prop_map(|(blocks, more)| WireMsg::Blocks { blocks, more }),
        item_list().prop_map(WireMsg::Items),
    ]
}

fn arb_hello() -> impl Strategy<Value = Hello> {
    (
        bytes_n::<4>(),
        any::<u16>(),
        any::<u32>(),
        arb_hash(),
        any::<u32>(),
        bytes_n::<33>(),
        bytes_n::<32>(),
    )
        .prop_map(
            |(magic, version, chain_id, genesis, node, key, challenge)| Hello {
                magic,
                version,
                chain_id,
                genesis,
                node,
                key: PublicKey(key),
                challenge,
            },
        )
}

fn arb_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        1 => any::<u64>().prop_map(Frame::Ping),
        1 => any::<u64>().prop_map(Frame::Pong),
        1 => arb_hello().prop_map(Frame::Hello),
        1 => bytes_n::<64>().prop_map(|s| Frame::Auth(Signature(s))),
        6 => arb_msg().prop_map(Frame::Msg),
    ]
}

/// A small valid frame (bulk lists make mutation tests slow without finding more).
fn small_frame() -> impl Strategy<Value = Frame> {
    prop_oneof![
        any::<u64>().prop_map(Frame::Ping),
        any::<u64>().prop_map(Frame::Pong),
        arb_hello().prop_map(Frame::Hello),
        bytes_n::<64>().prop_map(|s| Frame::Auth(Signature(s))),
        (
            prop::collection::vec(arb_hash(), 0..4),
            prop::collection::vec(arb_hash(), 0..4)
        )
            .prop_map(|(blocks, txs)| Frame::Msg(WireMsg::Inv { blocks, txs })),
        (
            prop::collection::vec(arb_hash(), 0..4),
            prop::collection::vec(arb_hash(), 0..4)
        )
            .prop_map(|(blocks, txs)| Frame::Msg(WireMsg::GetData { blocks, txs })),
        arb_block().prop_map(|b| Frame::Msg(WireMsg::Block(Arc::new(b)))),
        prop::collection::vec(arb_tx().prop_map(Arc::new), 0..4)
            .prop_map(|t| Frame::Msg(WireMsg::Txs(t))),
        prop::collection::vec(arb_hash(), 0..4)
            .prop_map(|locator| Frame::Msg(WireMsg::GetBlocks { locator })),
        (prop::collection::vec(arb_block(), 0..4), any::<bool>()).prop_map(|(b, more)| Frame::Msg(
            WireMsg::Blocks {
                blocks: link(b),
                more
            }
        )),
        prop::collection::vec(arb_item().prop_map(SharedItem::from), 0..4)
            .prop_map(|i| Frame::Msg(WireMsg::Items(i))),
    ]
}

// ---------------------------------------------------------------------------------------
// Checks shared by the decoding properties
// ---------------------------------------------------------------------------------------

/// Every cap of `wire`, checked by hand (not through `check_caps`), and the link rule.
fn respects_caps(frame: &Frame) -> Result<(), TestCaseError> {
    let Frame::Msg(m) = frame else {
        return Ok(());
    };
    match m {
        WireMsg::Inv { blocks, txs } | WireMsg::GetData { blocks, txs } => {
            prop_assert!(blocks.len() + txs.len() <= MAX_INV_ITEMS);
        }
        WireMsg::GetBlocks { locator } => prop_assert!(locator.len() <= MAX_LOCATOR),
        WireMsg::Blocks { blocks, .. } => {
            prop_assert!(blocks.len() <= MAX_SYNC_BLOCKS);
            for w in blocks.windows(2) {
                prop_assert_eq!(w[1].header.parent, w[0].hash());
                prop_assert_eq!(w[1].header.height, w[0].header.height.wrapping_add(1));
            }
        }
        WireMsg::Items(items) => prop_assert!(items.len() <= MAX_WIRE_ITEMS),
        WireMsg::Txs(txs) => prop_assert!(txs.len() <= MAX_INV_ITEMS),
        WireMsg::Block(_) => {}
    }
    prop_assert!(m.check_caps().is_ok());
    prop_assert!(m.check_links().is_ok());
    Ok(())
}

/// Decodes untrusted bytes: no panic; anything accepted is canonical and within the caps.
/// Returns whether the bytes were accepted.
fn decode_untrusted(bytes: &[u8]) -> Result<bool, TestCaseError> {
    match decode_frame(bytes) {
        Ok(frame) => {
            prop_assert_eq!(
                encode_frame(&frame),
                bytes.to_vec(),
                "accepted bytes are not canonical"
            );
            prop_assert!(bytes.len() <= MAX_FRAME_BYTES);
            respects_caps(&frame)?;
            Ok(true)
        }
        Err(_) => Ok(false),
    }
}

fn net_mutation() -> impl Strategy<Value = Mutation> {
    mutation(prop_oneof![
        Just(u64::MAX),
        Just(0),
        Just(1),
        Just(MAX_INV_ITEMS as u64 + 1),
        Just(MAX_LOCATOR as u64 + 1),
        0..8u64,
        any::<u64>()
    ])
}

/// Noise shaped like the encoding: a frame tag (the five valid ones and one invalid), for
/// `Msg` a message tag (six valid, one invalid), then a body of small integers, booleans
/// and random runs, so that some inputs get deep into the decoder and a few are accepted.
fn shaped_noise() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        3 => (0..4u64).prop_map(|n| n.to_le_bytes().to_vec()),
        1 => (0..2u8).prop_map(|b| vec![b]),
        1 => (0..2u32).prop_map(|t| t.to_le_bytes().to_vec()),
        3 => prop::collection::vec(any::<u8>(), 1..48),
        1 => bytes_n::<32>().prop_map(|b| b.to_vec()),
    ];
    (0..6u32, 0..7u32, prop::collection::vec(piece, 0..24)).prop_map(|(f, m, pieces)| {
        let mut out = f.to_le_bytes().to_vec();
        if f == 4 {
            out.extend_from_slice(&m.to_le_bytes());
        }
        for p in pieces {
            out.extend_from_slice(&p);
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 512,
        ..ProptestConfig::default()
    })]

    #[test]
    fn valid_frames_round_trip(frame in arb_frame()) {
        let bytes = encode_frame(&frame);
        prop_assert_eq!(bytes.len() as u64, encoded_len(&frame));
        prop_assert!(bytes.len() <= MAX_FRAME_BYTES);
        let back = decode_frame(&bytes).map_err(|e| TestCaseError::fail(format!("refused: {e}")))?;
        prop_assert_eq!(&back, &frame);
        respects_caps(&back)?;
    }

    #[test]
    fn strict_prefixes_and_extensions_of_valid_frames_are_refused(
        frame in small_frame(),
        cut in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..16),
    ) {
        let bytes = encode_frame(&frame);
        let cut = cut.index(bytes.len());
        prop_assert!(matches!(decode_frame(&bytes[..cut]), Err(FrameError::Undecodable(_))));
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(matches!(decode_frame(&longer), Err(FrameError::Undecodable(_))));
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2048,
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoding_noise_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_untrusted(&bytes)?;
    }

    #[test]
    fn decoding_shaped_noise_never_panics(bytes in shaped_noise()) {
        decode_untrusted(&bytes)?;
    }

    #[test]
    fn decoding_mutated_frames_never_panics(
        frame in small_frame(),
        mutations in prop::collection::vec(net_mutation(), 1..5),
    ) {
        let mut bytes = encode_frame(&frame);
        for m in &mutations {
            apply(&mut bytes, m);
        }
        decode_untrusted(&bytes)?;
    }
}

// ---------------------------------------------------------------------------------------
// Caps and links
// ---------------------------------------------------------------------------------------

fn over(max: usize) -> impl Strategy<Value = usize> {
    // Exactly at the cap (accepted) a third of the time; over it by one most of the rest.
    prop_oneof![
        2 => Just(0usize),
        3 => Just(1usize),
        1 => 2..64usize,
    ]
    .prop_map(move |extra| max + extra)
}

fn expect_cap(frame: &Frame, what: &str, count: usize, max: usize) -> Result<(), TestCaseError> {
    let res = decode_frame(&encode_frame(frame));
    if count <= max {
        match res {
            Ok(back) => prop_assert_eq!(&back, frame),
            Err(e) => prop_assert!(false, "refused at the cap: {}", e),
        }
    } else {
        match res {
            Err(FrameError::Cap(CapError {
                what: w,
                count: c,
                max: m,
            })) => {
                prop_assert_eq!((w, c, m), (what, count, max));
            }
            other => prop_assert!(
                false,
                "expected a cap error, got {:?}",
                other.map(|f| f.name())
            ),
        }
    }
    Ok(())
}

#[derive(Clone, Copy, Debug)]
enum Break {
    /// Flip a bit of the block's parent hash.
    Parent(u8),
    /// Give the block another height than its parent's plus one.
    Height(u64),
    /// Change the block before (its hash changes; its own parent link stays intact).
    PreviousNonce,
    /// Swap the block with the one before.
    Swap,
}

fn arb_break() -> impl Strategy<Value = Break> {
    prop_oneof![
        (0..=255u8).prop_map(Break::Parent),
        prop_oneof![Just(0u64), Just(2), Just(u64::MAX), any::<u64>()]
            .prop_filter("the right height", |d| *d != 1)
            .prop_map(Break::Height),
        Just(Break::PreviousNonce),
        Just(Break::Swap),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn inventories_over_the_cap_are_refused(
        count in over(MAX_INV_ITEMS),
        split in any::<Index>(),
        getdata in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let mut blocks = ids(seed, count);
        let txs = blocks.split_off(split.index(count + 1));
        let msg = if getdata {
            WireMsg::GetData { blocks, txs }
        } else {
            WireMsg::Inv { blocks, txs }
        };
        expect_cap(&Frame::Msg(msg), "inventory", count, MAX_INV_ITEMS)?;
    }

    #[test]
    fn item_pushes_over_the_cap_are_refused(count in over(MAX_WIRE_ITEMS), seed in any::<u64>()) {
        let msg = WireMsg::Items(cheap_items(seed, count));
        expect_cap(&Frame::Msg(msg), "items", count, MAX_WIRE_ITEMS)?;
    }

    #[test]
    fn tx_replies_over_the_cap_are_refused(count in over(MAX_INV_ITEMS), tx in arb_tx()) {
        // One transaction repeated: the cap counts entries, not distinct transactions.
        let tx = Arc::new(tx);
        let msg = WireMsg::Txs(vec![tx; count]);
        expect_cap(&Frame::Msg(msg), "txs", count, MAX_INV_ITEMS)?;
    }

    #[test]
    fn locators_over_the_cap_are_refused(count in over(MAX_LOCATOR), seed in any::<u64>()) {
        let msg = WireMsg::GetBlocks { locator: ids(seed, count) };
        expect_cap(&Frame::Msg(msg), "locator", count, MAX_LOCATOR)?;
    }

    #[test]
    fn sync_replies_over_the_cap_are_refused(
        count in over(MAX_SYNC_BLOCKS),
        seed in any::<u64>(),
        more in any::<bool>(),
        unlinked in any::<bool>(),
    ) {
        let mut blocks = cheap_chain(seed, count);
        if unlinked && count > 1 {
            // The cap is checked before the links: an over-cap reply is a cap error even
            // when it does not chain either.
            blocks.swap(0, 1);
        }
        let frame = Frame::Msg(WireMsg::Blocks { blocks, more });
        if unlinked && count > 1 && count <= MAX_SYNC_BLOCKS {
            prop_assert!(matches!(decode_frame(&encode_frame(&frame)), Err(FrameError::Links(_))));
        } else {
            expect_cap(&frame, "blocks", count, MAX_SYNC_BLOCKS)?;
        }
    }

    #[test]
    fn sync_replies_that_do_not_chain_are_refused(
        blocks in prop_oneof![
            3 => prop::collection::vec(arb_block(), 2..8),
            1 => (any::<u64>(), 2..=MAX_SYNC_BLOCKS)
                .prop_map(|(s, n)| (0..n as u64).map(|i| cheap_block(s, i)).collect::<Vec<_>>()),
        ],
        at in any::<Index>(),
        brk in arb_break(),
        more in any::<bool>(),
    ) {
        let mut blocks: Vec<Block> = link(blocks).iter().map(|b| (**b).clone()).collect();
        let i = 1 + at.index(blocks.len() - 1);
        let want = match brk {
            Break::Parent(bit) => {
                blocks[i].header.parent.0[usize::from(bit / 8)] ^= 1 << (bit % 8);
                i
            }
            Break::Height(d) => {
                blocks[i].header.height = blocks[i - 1].header.height.wrapping_add(d);
                i
            }
            Break::PreviousNonce => {
                let Seal::Pow { nonce, .. } = &mut blocks[i - 1].header.seal else { panic!("a proof-of-work seal") };
                *nonce = nonce.wrapping_add(1);
                i
            }
            Break::Swap => {
                blocks.swap(i - 1, i);
                // The first link that breaks: into the moved-back block, or, at the front,
                // from it into its former parent.
                (i - 1).max(1)
            }
        };
        let frame = Frame::Msg(WireMsg::Blocks {
            blocks: blocks.into_iter().map(Arc::new).collect(),
            more,
        });
        match decode_frame(&encode_frame(&frame)) {
            Err(FrameError::Links(LinkError { index })) => prop_assert_eq!(index, want),
            other => prop_assert!(false, "expected a link error, got {:?}", other.map(|f| f.name())),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Huge length prefixes
// ---------------------------------------------------------------------------------------

/// Where a list's length prefix sits.
#[derive(Clone, Copy, Debug)]
enum LenSite {
    InvBlocks,
    InvTxs,
    GetDataBlocks,
    GetDataTxs,
    Locator,
    SyncBlocks,
    BlockTxs,
    SyncBlockTxs,
}

/// A frame whose list at `site` is empty, and the offset of that list's length prefix.
fn with_empty_list(site: LenSite, block: &Block) -> (Vec<u8>, usize) {
    let mut block = block.clone();
    block.txs.clear();
    // Frame tag and message tag (4 bytes each), then the message's fields.
    let header_len = encoded_len(&block.header) as usize;
    let (msg, at) = match site {
        LenSite::InvBlocks => (
            WireMsg::Inv {
                blocks: vec![],
                txs: vec![],
            },
            8,
        ),
        LenSite::InvTxs => (
            WireMsg::Inv {
                blocks: vec![],
                txs: vec![],
            },
            16,
        ),
        LenSite::GetDataBlocks => (
            WireMsg::GetData {
                blocks: vec![],
                txs: vec![],
            },
            8,
        ),
        LenSite::GetDataTxs => (
            WireMsg::GetData {
                blocks: vec![],
                txs: vec![],
            },
            16,
        ),
        LenSite::Locator => (WireMsg::GetBlocks { locator: vec![] }, 8),
        LenSite::SyncBlocks => (
            WireMsg::Blocks {
                blocks: vec![],
                more: false,
            },
            8,
        ),
        LenSite::BlockTxs => (WireMsg::Block(Arc::new(block)), 8 + header_len),
        LenSite::SyncBlockTxs => (
            WireMsg::Blocks {
                blocks: vec![Arc::new(block)],
                more: true,
            },
            8 + 8 + header_len,
        ),
    };
    let bytes = encode_frame(&Frame::Msg(msg));
    (bytes, at)
}

/// serde preallocates at most 1 MiB for a sequence whatever length it claims; the rest of
/// a failing decode allocates little.
const PREALLOC_BOUND: usize = 1024 * 1024 + 64 * 1024;

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn huge_length_prefixes_are_refused_at_once(
        site in prop_oneof![
            Just(LenSite::InvBlocks), Just(LenSite::InvTxs), Just(LenSite::GetDataBlocks),
            Just(LenSite::GetDataTxs), Just(LenSite::Locator), Just(LenSite::SyncBlocks),
            Just(LenSite::BlockTxs), Just(LenSite::SyncBlockTxs),
        ],
        block in arb_block(),
        len in prop_oneof![
            Just(u64::MAX),
            Just(u64::MAX / 2 + 1),
            Just(1u64 << 32),
            Just(MAX_DECODE_BYTES),
            Just(MAX_DECODE_BYTES + 1),
            (1u64 << 16)..=u64::MAX,
        ],
        tail in prop::collection::vec(any::<u8>(), 0..256),
    ) {
        let (mut bytes, at) = with_empty_list(site, &block);
        prop_assert_eq!(&bytes[at..at + 8], &[0u8; 8][..], "not a length prefix");
        bytes[at..at + 8].copy_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&tail);
        let start = Instant::now();
        let (res, peak, total) = measure(|| decode_frame(&bytes));
        let took = start.elapsed();
        prop_assert!(matches!(res, Err(FrameError::Undecodable(_))));
        prop_assert!(took < Duration::from_secs(1), "took {:?}", took);
        prop_assert!(peak <= PREALLOC_BOUND, "largest allocation {} bytes", peak);
        prop_assert!(total <= PREALLOC_BOUND, "allocated {} bytes in all", total);
    }
}

// ---------------------------------------------------------------------------------------
// Handshake
// ---------------------------------------------------------------------------------------

/// Two nodes' rules and the seed their keys derive from.
fn arb_rules() -> impl Strategy<Value = (HandshakeRules, HandshakeRules, u64)> {
    (
        any::<u32>(),
        arb_hash(),
        any::<u64>(),
        any::<u32>(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_filter("two distinct nodes", |(_, _, _, a, b, _)| a != b)
        .prop_map(|(chain_id, genesis, seed, a, b, open)| {
            // Open: any key; permissioned: the two keys, listed with their ids.
            let mut allowed = if open {
                AllowedPeers::open()
            } else {
                AllowedPeers::default()
            };
            if !open {
                for n in [a, b] {
                    allowed.known.insert(node_key(seed, n).public, Some(n));
                }
            }
            let allowed = std::sync::Arc::new(allowed);
            let rules = |node| HandshakeRules {
                chain_id,
                genesis,
                node,
                key: node_key(seed, node).public,
                allowed: allowed.clone(),
            };
            (rules(a), rules(b), seed)
        })
}

#[derive(Clone, Debug)]
enum HelloEdit {
    Magic([u8; 4]),
    Version(u16),
    Chain(u32),
    Genesis(Hash),
    /// Present our own key.
    SelfKey,
    /// Claim another node id, keeping the key (wrong only where the key is listed with an id).
    OtherId(u32),
    /// Present another key.
    Key([u8; 33]),
    /// Change the challenge (not checked by `check_hello`).
    Challenge([u8; 32]),
}

fn hello_edit() -> impl Strategy<Value = HelloEdit> {
    prop_oneof![
        bytes_n::<4>().prop_map(HelloEdit::Magic),
        any::<u16>().prop_map(HelloEdit::Version),
        any::<u32>().prop_map(HelloEdit::Chain),
        arb_hash().prop_map(HelloEdit::Genesis),
        Just(HelloEdit::SelfKey),
        any::<u32>().prop_map(HelloEdit::OtherId),
        bytes_n::<33>().prop_map(HelloEdit::Key),
        bytes_n::<32>().prop_map(HelloEdit::Challenge),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 64,
        max_shrink_iters: 128,
        ..ProptestConfig::default()
    })]

    #[test]
    fn auth_accepts_the_right_pair_and_rejects_flipped_bits(
        (ra, rb, seed) in arb_rules(),
        ca in bytes_n::<32>(),
        cb in bytes_n::<32>(),
        sig_bit in 0..512usize,
        challenge_bit in 0..256usize,
    ) {
        let (ka, kb) = (node_key(seed, ra.node), node_key(seed, rb.node));
        let ha = make_hello(&ra, ca);
        let hb = make_hello(&rb, cb);
        prop_assert_eq!(check_hello(&ra, &hb), Ok(()));
        prop_assert_eq!(check_hello(&rb, &ha), Ok(()));
        // Each side answers the other's challenge; each answer verifies.
        let sb = sign_auth(&rb, &kb, &ha);
        let sa = sign_auth(&ra, &ka, &hb);
        prop_assert_eq!(verify_auth(&ra, &ha, &hb, &sb), Ok(()));
        prop_assert_eq!(verify_auth(&rb, &hb, &ha, &sa), Ok(()));
        // An answer is not valid the other way round (it is bound to signer and verifier).
        prop_assert_eq!(verify_auth(&rb, &hb, &ha, &sb), Err(HandshakeError::BadSignature));
        // A flipped bit in the signature.
        let mut bad = sb;
        bad.0[sig_bit / 8] ^= 1 << (sig_bit % 8);
        prop_assert_eq!(verify_auth(&ra, &ha, &hb, &bad), Err(HandshakeError::BadSignature));
        // A flipped bit in our challenge: the answer was for another challenge.
        let mut other = ha.clone();
        other.challenge[challenge_bit / 8] ^= 1 << (challenge_bit % 8);
        prop_assert_eq!(verify_auth(&ra, &other, &hb, &sb), Err(HandshakeError::BadSignature));
        // Signing the flipped challenge gives an answer that fails against the real one.
        let replay = sign_auth(&rb, &kb, &other);
        prop_assert_eq!(verify_auth(&ra, &ha, &hb, &replay), Err(HandshakeError::BadSignature));
    }

    #[test]
    fn check_hello_rejects_each_mutated_field(
        (ours, theirs, _) in arb_rules(),
        challenge in bytes_n::<32>(),
        edit in hello_edit(),
    ) {
        let key = theirs.key;
        let good = make_hello(&theirs, challenge);
        prop_assert_eq!(check_hello(&ours, &good), Ok(()));
        let mut h = good.clone();
        let want = match edit {
            HelloEdit::Magic(m) => {
                h.magic = m;
                (m != MAGIC).then_some(HandshakeError::BadMagic(m))
            }
            HelloEdit::Version(v) => {
                h.version = v;
                (v != PROTOCOL_VERSION).then_some(HandshakeError::BadVersion {
                    expected: PROTOCOL_VERSION,
                    got: v,
                })
            }
            HelloEdit::Chain(c) => {
                h.chain_id = c;
                (c != ours.chain_id).then_some(HandshakeError::WrongChain {
                    expected: ours.chain_id,
                    got: c,
                })
            }
            HelloEdit::Genesis(g) => {
                h.genesis = g;
                (g != ours.genesis).then_some(HandshakeError::WrongGenesis {
                    expected: ours.genesis,
                    got: g,
                })
            }
            HelloEdit::SelfKey => {
                h.key = ours.key;
                Some(HandshakeError::SelfConnection)
            }
            HelloEdit::OtherId(n) => {
                // An id is a claim: it matters only for a key listed with another id (and our
                // own id claimed with another key is no self-connection).
                h.node = n;
                (n != theirs.node && !ours.allowed.any).then(|| HandshakeError::WrongId {
                    key: key.short(),
                    listed: theirs.node,
                    claimed: n,
                })
            }
            HelloEdit::Key(k) => {
                let k = PublicKey(k);
                h.key = k;
                if k == ours.key {
                    Some(HandshakeError::SelfConnection)
                } else if k == key || ours.allowed.any {
                    None
                } else {
                    Some(HandshakeError::NotAllowed(k.to_string()))
                }
            }
            HelloEdit::Challenge(c) => {
                h.challenge = c;
                None
            }
        };
        prop_assert_eq!(check_hello(&ours, &h).err(), want);
    }
}

// ---------------------------------------------------------------------------------------
// Rate limits and backoff
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 512,
        max_shrink_iters: 1024,
        ..ProptestConfig::default()
    })]

    /// Over any schedule of takes, the units taken with `Ok` by time `t` are at most
    /// `burst + rate · (t − t0)`; and counting each refused take as proceeding after the wait
    /// it was told (the units are then owed), the same bound holds at every moment.
    #[test]
    fn token_bucket_never_exceeds_rate_times_time_plus_burst(
        rate in prop_oneof![0.5f64..10.0, 10.0f64..100_000.0],
        burst in prop_oneof![Just(0.0f64), 0.0f64..10.0, 10.0f64..10_000.0],
        t0 in 0u64..(1 << 40),
        schedule in prop::collection::vec(
            (
                prop_oneof![3 => Just(0u64), 3 => 0u64..20, 2 => 0u64..5_000, 1 => 0u64..1_000_000],
                prop_oneof![3 => Just(1.0f64), 2 => 0.0f64..4.0, 1 => 0.0f64..20_000.0],
            ),
            1..200,
        ),
    ) {
        let mut bucket = TokenBucket::new(rate, burst, t0);
        let bound = |t: u64, at: u64| {
            let b = burst + rate * (t - at) as f64 / 1000.0;
            b + 1e-9 * b.max(1.0)
        };
        let mut now = t0;
        let mut ok_units = 0.0;
        // (effective time, units) of every take: now, or after the wait it was told.
        let mut taken: Vec<(u64, f64)> = Vec::new();
        for (dt, n) in schedule {
            now += dt;
            match bucket.take(n, now) {
                Ok(()) => {
                    ok_units += n;
                    prop_assert!(ok_units <= bound(now, t0), "{} units by {} ms", ok_units, now - t0);
                    taken.push((now, n));
                }
                Err(wait) => {
                    prop_assert!(wait > 0, "a refused take must wait");
                    taken.push((now + wait, n));
                }
            }
        }
        taken.sort_by_key(|(t, _)| *t);
        let mut sum = 0.0;
        for (t, n) in taken {
            sum += n;
            prop_assert!(sum <= bound(t, t0), "{} units owed by {} ms", sum, t - t0);
        }
    }

    /// For fixed base, cap and jitter the delay never decreases from one attempt to the next,
    /// never exceeds the cap and is at least half the uncapped-or-capped exponential.
    /// (Caps and bases up to 2^53 ms, where every millisecond count is an exact f64.)
    #[test]
    fn backoff_is_monotone_and_capped(
        base in prop_oneof![Just(0u64), 1u64..10_000, 0u64..(1 << 53)],
        cap in prop_oneof![0u64..100_000, 0u64..(1 << 53), Just(1u64 << 53)],
        jitter in prop_oneof![
            Just(0.0f64),
            Just(0.5f64),
            Just(1.0f64 - f64::EPSILON / 2.0),
            Just(1.0f64),
            0.0f64..1.0,
        ],
        start in prop_oneof![0u32..70, any::<u32>()],
    ) {
        let mut prev = 0u64;
        for attempt in start..start.saturating_add(40) {
            let d = backoff_ms(attempt, base, cap, jitter);
            prop_assert!(d <= cap, "attempt {}: {} > cap {}", attempt, d, cap);
            prop_assert!(d >= prev, "attempt {}: {} after {}", attempt, d, prev);
            let exp = base.saturating_mul(1u64 << attempt.min(32)).min(cap);
            prop_assert!(d >= exp / 2, "attempt {}: {} under half of {}", attempt, d, exp);
            prev = d;
        }
    }
}
