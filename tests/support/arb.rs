//! Proptest strategies for arbitrary (not necessarily valid) core values, shared by the
//! property tests (`#[path = "support/arb.rs"] mod arb;`).
#![allow(dead_code)]

use chainlab::block::{Block, BlockHeader, Seal};
use chainlab::crypto::{Address, PublicKey, Signature};
use chainlab::hash::Hash;
use chainlab::tx::{Call, Deploy, Payload, Transaction};
use proptest::prelude::*;
use proptest::sample::Index;
use std::sync::Arc;

/// `N` arbitrary bytes.
pub fn bytes_n<const N: usize>() -> impl Strategy<Value = [u8; N]> {
    prop::collection::vec(any::<u8>(), N).prop_map(|v| v.try_into().expect("N bytes"))
}

/// An arbitrary hash.
pub fn arb_hash() -> impl Strategy<Value = Hash> {
    bytes_n::<32>().prop_map(Hash)
}

/// A transaction with arbitrary fields (its signature almost never verifies).
pub fn arb_tx() -> impl Strategy<Value = Transaction> {
    (
        any::<u32>(),
        bytes_n::<33>(),
        bytes_n::<20>(),
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
        arb_payload(),
        bytes_n::<64>(),
    )
        .prop_map(
            |(chain_id, from, to, amount, fee, nonce, payload, sig)| Transaction {
                chain_id,
                from: PublicKey(from),
                to: Address(to),
                amount,
                fee,
                nonce,
                payload,
                sig: Signature(sig),
            },
        )
}

/// A payload: mostly transfers, sometimes a call or a deploy with arbitrary bytes.
pub fn arb_payload() -> impl Strategy<Value = Payload> {
    prop_oneof![
        4 => Just(Payload::Transfer),
        1 => (".{0,12}", proptest::collection::vec(any::<u8>(), 0..40), any::<u64>())
            .prop_map(|(method, args, gas)| Payload::Call(Arc::new(Call { method, args, gas }))),
        1 => (proptest::collection::vec(any::<u8>(), 0..80), any::<u64>())
            .prop_map(|(code, gas)| Payload::Deploy(Arc::new(Deploy { code, init_args: vec![], gas }))),
    ]
}

/// A header with arbitrary fields.
pub fn arb_header() -> impl Strategy<Value = BlockHeader> {
    (
        any::<u32>(),
        arb_hash(),
        any::<u64>(),
        arb_hash(),
        arb_hash(),
        any::<u64>(),
        bytes_n::<20>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(
            |(version, parent, height, tx_root, state_root, ts, miner, difficulty, nonce)| {
                BlockHeader {
                    version,
                    parent,
                    height,
                    tx_root,
                    state_root,
                    timestamp_ms: ts,
                    miner: Address(miner),
                    seal: Seal::Pow { difficulty, nonce },
                }
            },
        )
}

/// A block of an arbitrary header and transactions drawn from `txs`, fewer than `max_txs`.
pub fn arb_block_of(
    txs: impl Strategy<Value = Transaction>,
    max_txs: usize,
) -> impl Strategy<Value = Block> {
    (arb_header(), prop::collection::vec(txs, 0..max_txs)).prop_map(|(header, txs)| Block {
        header,
        txs,
        items: Vec::new(),
    })
}

/// One edit of an encoding, for decoders fed damaged input.
#[derive(Debug, Clone)]
pub enum Mutation {
    /// XOR one byte.
    Flip(Index, u8),
    /// Cut the tail.
    Truncate(Index),
    /// Insert a byte.
    Insert(Index, u8),
    /// Remove a byte.
    Remove(Index),
    /// Append bytes.
    Append(Vec<u8>),
    /// Overwrite 8 bytes (a length prefix or an integer) with a value.
    Word(Index, u64),
    /// Overwrite 4 bytes (a variant tag) with a value.
    Tag(Index, u32),
}

/// Any mutation; `words` are the values `Word` writes (lengths worth trying).
pub fn mutation(words: impl Strategy<Value = u64>) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<Index>().prop_map(Mutation::Truncate),
        (any::<Index>(), any::<u8>()).prop_map(|(i, x)| Mutation::Insert(i, x)),
        any::<Index>().prop_map(Mutation::Remove),
        prop::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
        (any::<Index>(), words).prop_map(|(i, w)| Mutation::Word(i, w)),
        (any::<Index>(), 0..8u32).prop_map(|(i, t)| Mutation::Tag(i, t)),
    ]
}

/// Applies one mutation (a no-op where it does not fit).
pub fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip(..) | Mutation::Truncate(..) | Mutation::Remove(..) if bytes.is_empty() => {}
        Mutation::Flip(i, x) => {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        Mutation::Truncate(i) => {
            let i = i.index(bytes.len());
            bytes.truncate(i);
        }
        Mutation::Insert(i, x) => {
            let i = i.index(bytes.len() + 1);
            bytes.insert(i, *x);
        }
        Mutation::Remove(i) => {
            let i = i.index(bytes.len());
            bytes.remove(i);
        }
        Mutation::Append(v) => bytes.extend_from_slice(v),
        Mutation::Word(i, w) => {
            if bytes.len() >= 8 {
                let i = i.index(bytes.len() - 7);
                bytes[i..i + 8].copy_from_slice(&w.to_le_bytes());
            }
        }
        Mutation::Tag(i, t) => {
            if bytes.len() >= 4 {
                let i = i.index(bytes.len() - 3);
                bytes[i..i + 4].copy_from_slice(&t.to_le_bytes());
            }
        }
    }
}
