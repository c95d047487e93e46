//! Writes a seed corpus for the `decode_frame` target: one valid frame of each kind,
//! including the shapes a fuzzer cannot find by itself (a sync reply of blocks that chain by
//! hash, lists exactly at their caps).
//!
//! `cargo run --manifest-path fuzz/Cargo.toml --example seeds [DIR]`
//! (DIR defaults to `fuzz/corpus/decode_frame`).

use chainlab::block::{Block, BlockHeader, Seal};
use chainlab::crypto::{Address, PublicKey, Signature};
use chainlab::hash::Hash;
use chainlab::net::{
    encode_frame, make_hello, node_key, sign_auth, AllowedPeers, Frame, HandshakeRules,
};
use chainlab::tx::{Payload, Transaction};
use chainlab::net::wire::{WireMsg, MAX_INV_ITEMS, MAX_LOCATOR, MAX_SYNC_BLOCKS};
use std::path::PathBuf;
use std::sync::Arc;

fn hashes(tag: &str, n: usize) -> Vec<Hash> {
    (0..n as u64)
        .map(|i| Hash::sha256_parts(&[tag.as_bytes(), &i.to_le_bytes()]))
        .collect()
}

fn tx(i: u8) -> Transaction {
    Transaction {
        chain_id: 7,
        from: PublicKey([2; 33]),
        to: Address([i; 20]),
        amount: 1000 + u64::from(i),
        fee: 1,
        nonce: u64::from(i),
        payload: Payload::Transfer,
        sig: Signature([i; 64]),
    }
}

/// `n` blocks, each the child of the one before, with `txs` transactions each.
fn chain(n: usize, txs: usize) -> Vec<Arc<Block>> {
    let mut out: Vec<Arc<Block>> = Vec::new();
    for i in 0..n {
        let (parent, height) = match out.last() {
            Some(p) => (p.hash(), p.header.height + 1),
            None => (Hash::sha256(b"seed-parent"), 10),
        };
        out.push(Arc::new(Block {
            header: BlockHeader {
                version: 1,
                parent,
                height,
                tx_root: Hash::ZERO,
                state_root: Hash::sha256(&[i as u8]),
                timestamp_ms: 1_000 * i as u64,
                miner: Address([0xaa; 20]),
                seal: Seal::Pow {
                    difficulty: 4,
                    nonce: i as u64,
                },
            },
            txs: (0..txs as u8).map(tx).collect(),
        }));
    }
    out
}

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("corpus/decode_frame"));
    std::fs::create_dir_all(&dir)?;

    let rules = |node| HandshakeRules {
        chain_id: 7,
        genesis: Hash::sha256(b"genesis"),
        node,
        key: node_key(1, node).public,
        allowed: std::sync::Arc::new(AllowedPeers::open()),
    };
    let b = node_key(1, 1);
    let hello_a = make_hello(&rules(0), [1; 32]);
    let auth_b = sign_auth(&rules(1), &b, &hello_a);

    let seeds: Vec<(&str, Frame)> = vec![
        ("ping", Frame::Ping(1)),
        ("pong", Frame::Pong(u64::MAX)),
        ("hello", Frame::Hello(hello_a)),
        ("auth", Frame::Auth(auth_b)),
        (
            "inv",
            Frame::Msg(WireMsg::Inv {
                blocks: hashes("b", 2),
                txs: hashes("t", 3),
            }),
        ),
        (
            "getdata",
            Frame::Msg(WireMsg::GetData {
                blocks: hashes("b", 1),
                txs: hashes("t", 1),
            }),
        ),
        (
            "block",
            Frame::Msg(WireMsg::Block(chain(1, 2).pop().expect("one block"))),
        ),
        (
            "txs",
            Frame::Msg(WireMsg::Txs((3..6).map(|i| Arc::new(tx(i))).collect())),
        ),
        (
            "txs-at-cap",
            Frame::Msg(WireMsg::Txs(
                (0..MAX_INV_ITEMS).map(|i| Arc::new(tx(i as u8))).collect(),
            )),
        ),
        (
            "getblocks-at-cap",
            Frame::Msg(WireMsg::GetBlocks {
                locator: hashes("l", MAX_LOCATOR),
            }),
        ),
        (
            "blocks-3",
            Frame::Msg(WireMsg::Blocks {
                blocks: chain(3, 1),
                more: true,
            }),
        ),
        (
            "blocks-at-cap",
            Frame::Msg(WireMsg::Blocks {
                blocks: chain(MAX_SYNC_BLOCKS, 0),
                more: false,
            }),
        ),
    ];
    for (name, frame) in &seeds {
        std::fs::write(dir.join(format!("seed-{name}")), encode_frame(frame))?;
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
    Ok(())
}
