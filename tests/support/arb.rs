//! Proptest strategies for arbitrary (not necessarily valid) core values, shared by the
//! property tests (`#[path = "support/arb.rs"] mod arb;`).
#![allow(dead_code)]

use chainlab::block::{Block, BlockHeader, Seal};
use chainlab::crypto::{Address, PublicKey, Signature};
use chainlab::hash::Hash;
use chainlab::tx::Transaction;
use proptest::prelude::*;

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
        bytes_n::<64>(),
    )
        .prop_map(
            |(chain_id, from, to, amount, fee, nonce, sig)| Transaction {
                chain_id,
                from: PublicKey(from),
                to: Address(to),
                amount,
                fee,
                nonce,
                sig: Signature(sig),
            },
        )
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
    (arb_header(), prop::collection::vec(txs, 0..max_txs))
        .prop_map(|(header, txs)| Block { header, txs })
}
