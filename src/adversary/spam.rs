//! Spam and forkspam (`[[adversary]] kind = "spam"` / `"forkspam"`, docs/experiments.md): the
//! pure part of the floods: when the next items are due ([`Pacer`]), which flaw each invalid
//! transaction or block carries ([`TxFlaw`], [`BlockFlaw`]), how they and the cheap fork
//! blocks are made ([`invalid_tx`], [`invalid_block`], [`fork_block`]), and the view of the
//! attacker's best chain the blocks are built on ([`BestHeaders`]).
//!
//! The runtime (the attacker node's peer actor) sends what these functions make, through the
//! ordinary gossip paths: a low-fee transaction goes into the attacker's own mempool and is
//! announced as any other; invalid transactions and blocks, and fork blocks, are pushed to
//! its neighbours.

use crate::block::{body_root, Block, BlockHeader, Seal, BLOCK_VERSION};
use crate::consensus::pow::{grind, meets_difficulty};
use crate::consensus::{Ancestry, Consensus, Engine, SealRule};
use crate::crypto::{Address, KeyPair};
use crate::hash::Hash;
use crate::tx::Transaction;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A constant-rate schedule: `rate` items per second from time 0, none skipped.
#[derive(Clone, Debug)]
pub struct Pacer {
    rate: f64,
    sent: u64,
}

impl Pacer {
    /// A pacer of `rate` items per second.
    pub fn new(rate: f64) -> Pacer {
        Pacer {
            rate: rate.max(0.0),
            sent: 0,
        }
    }

    /// How many items are due at `elapsed_ms` since the start (all those not yet taken);
    /// takes them.
    pub fn take_due(&mut self, elapsed_ms: u64) -> u64 {
        let total = (self.rate * elapsed_ms as f64 / 1000.0).floor();
        let total = if total.is_finite() && total > 0.0 {
            total as u64
        } else {
            0
        };
        let due = total.saturating_sub(self.sent);
        self.sent = self.sent.max(total);
        due
    }
}

/// What makes an invalid transaction invalid (taken in turn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxFlaw {
    /// Its signature is not the sender's (one byte flipped): invalid in itself.
    BadSignature,
    /// Signed for another chain id: invalid in itself.
    WrongChain,
    /// A nonce far past the sender's next one (beyond `mempool.max_nonce_gap`).
    NonceGap,
    /// Moves more than the sender holds.
    Overspend,
    /// A fee below `mempool.min_fee` (0).
    ZeroFee,
}

impl TxFlaw {
    /// Every flaw, in the order they are taken.
    pub const ALL: [TxFlaw; 5] = [
        TxFlaw::BadSignature,
        TxFlaw::WrongChain,
        TxFlaw::NonceGap,
        TxFlaw::Overspend,
        TxFlaw::ZeroFee,
    ];

    /// The `seq`-th flaw.
    pub fn nth(seq: u64) -> TxFlaw {
        TxFlaw::ALL[(seq % TxFlaw::ALL.len() as u64) as usize]
    }

    /// The name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            TxFlaw::BadSignature => "bad-signature",
            TxFlaw::WrongChain => "wrong-chain",
            TxFlaw::NonceGap => "nonce-gap",
            TxFlaw::Overspend => "overspend",
            TxFlaw::ZeroFee => "zero-fee",
        }
    }
}

/// What one invalid transaction is made of.
#[derive(Clone, Copy, Debug)]
pub struct TxSpec {
    /// The chain's id.
    pub chain_id: u32,
    /// Where it pays.
    pub to: Address,
    /// The sender's next nonce (as the attacker knows it).
    pub next_nonce: u64,
    /// The sender's balance.
    pub balance: u64,
    /// How far ahead of the next nonce a pool accepts.
    pub max_nonce_gap: u64,
    /// The fee a valid one would pay.
    pub fee: u64,
    /// Makes this transaction unlike the others (no two of them share an id).
    pub seq: u64,
}

/// An invalid transaction from `key` with `flaw`.
pub fn invalid_tx(flaw: TxFlaw, key: &KeyPair, s: &TxSpec) -> Transaction {
    let amount = 1 + s.seq;
    let sign = |chain_id, amount, fee, nonce| {
        Transaction::new_signed(key, chain_id, s.to, amount, fee, nonce)
    };
    match flaw {
        TxFlaw::BadSignature => {
            let mut t = sign(s.chain_id, amount, s.fee, s.next_nonce);
            t.sig.0[7] ^= 0x55;
            t
        }
        TxFlaw::WrongChain => sign(s.chain_id.wrapping_add(1), amount, s.fee, s.next_nonce),
        TxFlaw::NonceGap => sign(
            s.chain_id,
            amount,
            s.fee,
            s.next_nonce
                .saturating_add(s.max_nonce_gap)
                .saturating_add(1 + s.seq),
        ),
        TxFlaw::Overspend => sign(
            s.chain_id,
            s.balance.saturating_add(amount),
            s.fee,
            s.next_nonce,
        ),
        TxFlaw::ZeroFee => sign(s.chain_id, amount, 0, s.next_nonce),
    }
}

/// What makes an invalid block invalid (taken in turn).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockFlaw {
    /// Its hash does not meet the difficulty it claims.
    BadPow,
    /// Its header's merkle root is not its body's (the proof of work is right).
    BadMerkleRoot,
    /// It holds a transaction with a bad signature (root and proof of work are right).
    BadTx,
}

impl BlockFlaw {
    /// Every flaw, in the order they are taken.
    pub const ALL: [BlockFlaw; 3] = [
        BlockFlaw::BadPow,
        BlockFlaw::BadMerkleRoot,
        BlockFlaw::BadTx,
    ];

    /// The `seq`-th flaw.
    pub fn nth(seq: u64) -> BlockFlaw {
        BlockFlaw::ALL[(seq % BlockFlaw::ALL.len() as u64) as usize]
    }

    /// The name in the trace.
    pub fn name(self) -> &'static str {
        match self {
            BlockFlaw::BadPow => "bad-pow",
            BlockFlaw::BadMerkleRoot => "bad-merkle-root",
            BlockFlaw::BadTx => "bad-tx",
        }
    }
}

/// Most nonces tried for one block (far above what any simulated difficulty needs).
const MAX_TRIES: u64 = 1 << 24;

/// What a block on `parent` must carry, by the attacker's view of its chain.
#[derive(Clone, Copy, Debug)]
pub struct BlockSpec {
    /// The parent's hash.
    pub parent: Hash,
    /// The difficulty a child of the parent must carry.
    pub difficulty: u64,
    /// Its timestamp (at least the earliest the rules allow).
    pub timestamp_ms: u64,
    /// The miner it names.
    pub miner: Address,
}

fn header(parent: &BlockHeader, s: &BlockSpec, tx_root: Hash) -> BlockHeader {
    BlockHeader {
        version: BLOCK_VERSION,
        parent: s.parent,
        height: parent.height + 1,
        tx_root,
        state_root: parent.state_root,
        timestamp_ms: s.timestamp_ms,
        miner: s.miner,
        seal: Seal::Pow {
            difficulty: s.difficulty,
            nonce: 0,
        },
    }
}

/// A block on `parent` with `flaw` (`bad_tx`: the transaction of a [`BlockFlaw::BadTx`];
/// `salt`: the first nonce tried, so that blocks on one parent differ). `None` when no
/// nonce was found in the tries allowed.
pub fn invalid_block(
    flaw: BlockFlaw,
    parent: &BlockHeader,
    s: &BlockSpec,
    bad_tx: Transaction,
    salt: u64,
) -> Option<Block> {
    let txs = match flaw {
        BlockFlaw::BadTx => vec![bad_tx],
        _ => Vec::new(),
    };
    let ids: Vec<Hash> = txs.iter().map(Transaction::id).collect();
    let root = match flaw {
        BlockFlaw::BadMerkleRoot => Hash::double_sha256(&salt.to_le_bytes()),
        _ => body_root(&ids, &[]),
    };
    let mut h = header(parent, s, root);
    let start = salt.wrapping_mul(MAX_TRIES);
    if flaw == BlockFlaw::BadPow {
        // The first nonce whose hash misses the target (difficulty 1 has none: every hash
        // meets it, so the claim is raised instead).
        let difficulty = s.difficulty.max(2);
        for i in 0..MAX_TRIES {
            h.seal = Seal::Pow {
                difficulty,
                nonce: start.wrapping_add(i),
            };
            if !meets_difficulty(&h.hash(), difficulty) {
                return Some(Block {
                    header: h,
                    txs,
                    items: Vec::new(),
                });
            }
        }
        return None;
    }
    grind(&mut h, start, MAX_TRIES)?;
    Some(Block {
        header: h,
        txs,
        items: Vec::new(),
    })
}

/// A cheap block on `parent`, deep in history: empty, with a proof of work at the
/// difficulty its height carries, the parent's state root (it is never executed: honest nodes
/// refuse it before, by the fork-depth and work rules). `None` when no nonce was found.
pub fn fork_block(parent: &BlockHeader, s: &BlockSpec, salt: u64) -> Option<Block> {
    let mut h = header(parent, s, body_root(&[], &[]));
    grind(&mut h, salt.wrapping_mul(MAX_TRIES), MAX_TRIES)?;
    Some(Block {
        header: h,
        txs: Vec::new(),
        items: Vec::new(),
    })
}

/// The attacker's best chain, header by height (what its blocks are built on), kept from its
/// tip changes.
#[derive(Clone, Debug, Default)]
pub struct BestHeaders {
    headers: Vec<(Hash, BlockHeader)>,
    heights: BTreeMap<Hash, u64>,
}

impl BestHeaders {
    /// The best chain `blocks`, genesis first.
    pub fn new(blocks: impl IntoIterator<Item = Arc<Block>>) -> BestHeaders {
        let mut b = BestHeaders::default();
        b.connect(blocks);
        b
    }

    /// Blocks connected to the best chain, in order (after a reorg, from the fork point up):
    /// each replaces what stood at its height and above.
    pub fn connect(&mut self, blocks: impl IntoIterator<Item = Arc<Block>>) {
        for b in blocks {
            let height = b.header.height as usize;
            if height > self.headers.len() {
                continue; // not connected to what is known
            }
            for (h, _) in self.headers.drain(height..) {
                self.heights.remove(&h);
            }
            let hash = b.hash();
            self.heights.insert(hash, b.header.height);
            self.headers.push((hash, b.header.clone()));
        }
    }

    /// The tip's height (0 with only genesis, or nothing).
    pub fn height(&self) -> u64 {
        self.headers.len().saturating_sub(1) as u64
    }

    /// The best block at `height` (hash, header).
    pub fn at(&self, height: u64) -> Option<&(Hash, BlockHeader)> {
        self.headers.get(usize::try_from(height).ok()?)
    }

    /// What a child of the best block at `height` carries by `engine`'s rules: its
    /// difficulty and earliest timestamp (`None` under proof of stake or an unknown height).
    pub fn child_spec(
        &self,
        engine: &Engine,
        height: u64,
        miner: Address,
        now_ms: u64,
    ) -> Option<(BlockHeader, BlockSpec)> {
        let (hash, parent) = self.at(height)?.clone();
        let SealRule::Pow { difficulty } = engine.rule_for_child(self, &hash) else {
            return None;
        };
        let earliest = engine.earliest_timestamp(self, &hash);
        let timestamp_ms = earliest.max(parent.timestamp_ms + 1).max(now_ms);
        Some((
            parent,
            BlockSpec {
                parent: hash,
                difficulty,
                timestamp_ms,
                miner,
            },
        ))
    }
}

impl Ancestry for BestHeaders {
    fn header(&self, hash: &Hash) -> Option<&BlockHeader> {
        let h = self.heights.get(hash)?;
        self.at(*h).map(|(_, hd)| hd)
    }

    fn ancestor(&self, hash: &Hash, height: u64) -> Option<Hash> {
        let h = *self.heights.get(hash)?;
        (height <= h).then(|| self.at(height).map(|(x, _)| *x))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::params::ChainParams;
    use crate::chain::validation::check_block_shape;

    #[test]
    fn the_pacer_keeps_its_rate_without_drift() {
        let mut p = Pacer::new(2.5);
        assert_eq!(p.take_due(0), 0);
        assert_eq!(p.take_due(399), 0);
        assert_eq!(p.take_due(400), 1);
        assert_eq!(p.take_due(400), 0);
        assert_eq!(p.take_due(10_000), 24);
        assert_eq!(Pacer::new(0.0).take_due(1_000_000), 0);
    }

    #[test]
    fn each_flaw_comes_in_turn() {
        assert_eq!(TxFlaw::nth(0), TxFlaw::BadSignature);
        assert_eq!(TxFlaw::nth(7), TxFlaw::NonceGap);
        assert_eq!(BlockFlaw::nth(5), BlockFlaw::BadTx);
    }

    fn params() -> ChainParams {
        ChainParams::for_tests(Vec::new())
    }

    #[test]
    fn invalid_blocks_fail_the_checks_they_are_meant_to_fail() {
        let p = params();
        let g = Arc::new(p.genesis_block());
        let best = BestHeaders::new([g.clone()]);
        let miner = KeyPair::from_seed(b"m").address();
        let (parent, spec) = best.child_spec(&p.engine, 0, miner, 5).unwrap();
        assert_eq!(spec.parent, g.hash());
        let key = KeyPair::from_seed(b"k");
        let tx = invalid_tx(
            TxFlaw::BadSignature,
            &key,
            &TxSpec {
                chain_id: p.chain_id,
                to: miner,
                next_nonce: 0,
                balance: 0,
                max_nonce_gap: 4,
                fee: 1,
                seq: 0,
            },
        );
        for (i, flaw) in BlockFlaw::ALL.into_iter().enumerate() {
            let b = invalid_block(flaw, &parent, &spec, tx.clone(), i as u64).unwrap();
            let e = check_block_shape(&b, &p).err();
            match flaw {
                BlockFlaw::BadPow | BlockFlaw::BadMerkleRoot => {
                    assert!(e.is_some(), "{flaw:?} passed the shape checks")
                }
                // The bad signature is found by the full check (signatures are verified last).
                BlockFlaw::BadTx => assert!(
                    crate::chain::validation::check_block(Arc::new(b), &p, None).is_err(),
                    "{flaw:?}"
                ),
            }
        }
        let f = fork_block(&parent, &spec, 9).unwrap();
        assert!(check_block_shape(&f, &p).is_ok());
        assert_eq!(f.header.height, 1);
    }

    #[test]
    fn the_best_headers_follow_a_reorg() {
        let p = params();
        let g = Arc::new(p.genesis_block());
        let miner = Address::default();
        let mut best = BestHeaders::new([g.clone()]);
        let (parent, spec) = best.child_spec(&p.engine, 0, miner, 1).unwrap();
        let a = Arc::new(fork_block(&parent, &spec, 1).unwrap());
        let b = Arc::new(fork_block(&parent, &spec, 2).unwrap());
        best.connect([a.clone()]);
        assert_eq!(best.height(), 1);
        assert_eq!(best.ancestor(&a.hash(), 0), Some(g.hash()));
        best.connect([b.clone()]);
        assert_eq!(best.at(1).unwrap().0, b.hash());
        assert!(best.header(&a.hash()).is_none());
        assert_eq!(best.ancestor(&b.hash(), 2), None);
    }

    #[test]
    fn invalid_txs_differ_and_carry_their_flaw() {
        let key = KeyPair::from_seed(b"k");
        let s = |seq| TxSpec {
            chain_id: 7,
            to: Address::default(),
            next_nonce: 3,
            balance: 10,
            max_nonce_gap: 4,
            fee: 2,
            seq,
        };
        let ids: std::collections::BTreeSet<Hash> = (0..10)
            .map(|i| invalid_tx(TxFlaw::nth(i), &key, &s(i)).id())
            .collect();
        assert_eq!(ids.len(), 10);
        assert_eq!(invalid_tx(TxFlaw::WrongChain, &key, &s(0)).chain_id, 8);
        assert_eq!(invalid_tx(TxFlaw::NonceGap, &key, &s(0)).nonce, 8);
        assert!(invalid_tx(TxFlaw::Overspend, &key, &s(0)).amount > 10);
        assert_eq!(invalid_tx(TxFlaw::ZeroFee, &key, &s(0)).fee, 0);
    }
}
