//! One test per failure of `check_block` (chain-free checks) and `ChainState::import`
//! (contextual checks), plus orphans, duplicates, retargeting and fork choice.
//!
//! Blocks are built the way a miner builds them (`ChainState::build_block`, then
//! `pow::grind`), then one field is changed to provoke exactly one error; the block is
//! re-ground after the change unless the error under test is the proof of work itself.

use chainlab::block::{merkle_root, Block, BlockHeader, CheckedBlock, Seal};
use chainlab::chain::executor::TemplateError;
use chainlab::chain::params::{ChainParams, TieBreak};
use chainlab::chain::state::ApplyError;
use chainlab::chain::validation::{check_block, BlockError, TxError};
use chainlab::chain::{ChainState, ImportOutcome, ImportStatus};
use chainlab::consensus::pow::{grind, meets_difficulty};
use chainlab::consensus::{SealError, SealRule};
use chainlab::crypto::{to_high_s, Address, CryptoError, KeyPair, PublicKey, SigCache, Signature};
use chainlab::hash::Hash;
use chainlab::tx::Transaction;
use std::sync::Arc;

/// The proof-of-work difficulty a child of `parent` must carry.
fn next_difficulty(chain: &ChainState, parent: &Hash) -> u64 {
    match chain.next_rule(parent) {
        SealRule::Pow { difficulty } => difficulty,
        SealRule::Pos(_) => panic!("a proof-of-work chain"),
    }
}

const CHAIN_ID: u32 = 7;
const FUNDS: u64 = 1_000_000;
const MINER_A: Address = Address([0xaa; 20]);
const MINER_B: Address = Address([0xbb; 20]);
const MINER_C: Address = Address([0xcc; 20]);
/// Block spacing used by most tests: exactly the target interval of `for_tests`.
const SPACING: u64 = 10_000;

fn keys() -> Vec<KeyPair> {
    (0..3)
        .map(|i| KeyPair::from_seed(format!("validation-account-{i}").as_bytes()))
        .collect()
}

fn params_with(keys: &[KeyPair], edit: impl FnOnce(&mut ChainParams)) -> Arc<ChainParams> {
    let mut p = ChainParams::for_tests(keys.iter().map(|k| (k.address(), FUNDS)).collect());
    assert_eq!(p.chain_id, CHAIN_ID);
    edit(&mut p);
    Arc::new(p)
}

fn params(keys: &[KeyPair]) -> Arc<ChainParams> {
    params_with(keys, |_| {})
}

fn transfer(from: &KeyPair, to: Address, amount: u64, nonce: u64) -> Transaction {
    Transaction::new_signed(from, CHAIN_ID, to, amount, 1, nonce)
}

fn seal(block: &mut Block) {
    grind(&mut block.header, 0, u64::MAX).expect("a nonce exists");
}

/// Recomputes the Merkle root after the transactions changed, then seals.
fn reseal_txs(block: &mut Block) {
    block.header.tx_root = merkle_root(&block.tx_ids());
    seal(block);
}

/// A sealed block on the tip of `chain`.
fn mine(chain: &mut ChainState, txs: &[Transaction], miner: Address, now: u64) -> Block {
    let mut b = chain
        .build_block(txs, Vec::new(), miner, now)
        .expect("the reward fits");
    seal(&mut b);
    b
}

fn check(block: &Block, params: &ChainParams) -> Result<CheckedBlock, BlockError> {
    check_block(Arc::new(block.clone()), params, None)
}

fn import_key(
    chain: &mut ChainState,
    block: &Block,
    now: u64,
    tie_key: u64,
) -> Result<ImportOutcome, BlockError> {
    let checked = check(block, chain.params()).expect("block passes the chain-free checks");
    chain.import(checked, now, tie_key)
}

fn import(chain: &mut ChainState, block: &Block, now: u64) -> Result<ImportOutcome, BlockError> {
    import_key(chain, block, now, 0)
}

/// Mines a block on the tip at `now` and imports it; it must become the tip.
fn extend(chain: &mut ChainState, txs: &[Transaction], miner: Address, now: u64) -> Block {
    let b = mine(chain, txs, miner, now);
    let out = import(chain, &b, now).expect("valid block imports");
    assert_eq!(out.status, ImportStatus::Accepted);
    assert_eq!(chain.tip(), b.hash());
    b
}

/// What must not change when an import fails.
fn snapshot(chain: &ChainState) -> (Hash, u64, Hash, Vec<Hash>) {
    (
        chain.tip(),
        chain.height(),
        chain.state().root(),
        chain.canonical().to_vec(),
    )
}

fn assert_unchanged(chain: &ChainState, before: &(Hash, u64, Hash, Vec<Hash>)) {
    assert_eq!(&snapshot(chain), before);
    chain.verify_replay().expect("state matches a replay");
}

fn block_hashes(blocks: &[Arc<Block>]) -> Vec<Hash> {
    blocks.iter().map(|b| b.hash()).collect()
}

/// The hashes an import says it stored, each checked against its block's own hash.
fn hashes(blocks: &[(Hash, Arc<Block>)]) -> Vec<Hash> {
    blocks
        .iter()
        .map(|(h, b)| {
            assert_eq!(*h, b.hash(), "an accepted block carries its own hash");
            *h
        })
        .collect()
}

/// A block on the tip with two valid transfers, sealed, and a chain to check it against.
fn two_tx_block() -> (Vec<KeyPair>, Arc<ChainParams>, Block) {
    let k = keys();
    let p = params(&k);
    let mut chain = ChainState::new(p.clone());
    let txs = [
        transfer(&k[0], k[1].address(), 10, 0),
        transfer(&k[1], k[2].address(), 20, 0),
    ];
    let b = mine(&mut chain, &txs, MINER_A, SPACING);
    assert_eq!(b.txs.len(), 2, "both transfers apply");
    check(&b, &p).expect("the unmodified block is valid");
    (k, p, b)
}

// ---------------------------------------------------------------------------------------
// check_block: chain-free checks
// ---------------------------------------------------------------------------------------

#[test]
fn bad_version_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    b.header.version = 2;
    seal(&mut b);
    assert_eq!(check(&b, &p).unwrap_err(), BlockError::BadVersion(2));
}

#[test]
fn too_many_txs_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    let mut limited = (*p).clone();
    limited.max_block_txs = 2;
    check(&b, &limited).expect("exactly at the limit is fine");
    limited.max_block_txs = 1;
    assert_eq!(
        check(&b, &limited).unwrap_err(),
        BlockError::TooManyTxs { count: 2, max: 1 }
    );
    // Still rejected after re-sealing: the count, not the seal, is the problem.
    seal(&mut b);
    assert_eq!(
        check(&b, &limited).unwrap_err(),
        BlockError::TooManyTxs { count: 2, max: 1 }
    );
}

#[test]
fn too_large_is_rejected() {
    let (_, p, b) = two_tx_block();
    let size = b.size();
    assert_eq!(size, chainlab::encoding::encode(&b).len() as u64);
    let mut limited = (*p).clone();
    limited.max_block_bytes = size;
    check(&b, &limited).expect("exactly at the limit is fine");
    limited.max_block_bytes = size - 1;
    assert_eq!(
        check(&b, &limited).unwrap_err(),
        BlockError::TooLarge {
            size,
            max: size - 1
        }
    );
}

#[test]
fn bad_pow_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    let Seal::Pow { difficulty, nonce } = b.header.seal else {
        panic!("a proof-of-work seal")
    };
    // Walk to the next nonce whose hash misses the target.
    let mut n = nonce;
    loop {
        n = n.wrapping_add(1);
        b.header.seal = Seal::Pow {
            difficulty,
            nonce: n,
        };
        if !meets_difficulty(&b.hash(), difficulty) {
            break;
        }
    }
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Seal(SealError::BadPow {
            hash: b.hash(),
            difficulty
        })
    );
    // Difficulty 0 can never be met.
    b.header.seal = Seal::Pow {
        difficulty: 0,
        nonce,
    };
    assert!(matches!(
        check(&b, &p).unwrap_err(),
        BlockError::Seal(SealError::BadPow { difficulty: 0, .. })
    ));
}

#[test]
fn duplicate_tx_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    let first = b.txs[0].clone();
    b.txs.push(first);
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::DuplicateTx { index: 2 }
    );
}

#[test]
fn bad_merkle_root_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    // Reordering the transactions changes the root the header should commit to.
    b.txs.swap(0, 1);
    seal(&mut b);
    assert_eq!(check(&b, &p).unwrap_err(), BlockError::BadMerkleRoot);
    // So does dropping one.
    let (_, p, mut b) = two_tx_block();
    b.txs.pop();
    seal(&mut b);
    assert_eq!(check(&b, &p).unwrap_err(), BlockError::BadMerkleRoot);
}

#[test]
fn tx_for_another_chain_is_rejected() {
    let (k, p, mut b) = two_tx_block();
    b.txs[1] = Transaction::new_signed(&k[1], CHAIN_ID + 1, k[2].address(), 20, 1, 0);
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 1,
            source: TxError::WrongChain {
                expected: CHAIN_ID,
                got: CHAIN_ID + 1
            }
        }
    );
}

#[test]
fn chain_ids_are_checked_before_signatures() {
    // A bad signature at index 0 and a wrong chain at index 1: the cheaper check wins.
    let (k, p, mut b) = two_tx_block();
    b.txs[0].amount += 1;
    b.txs[1] = Transaction::new_signed(&k[1], CHAIN_ID + 1, k[2].address(), 20, 1, 0);
    reseal_txs(&mut b);
    assert!(matches!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 1,
            source: TxError::WrongChain { .. }
        }
    ));
}

#[test]
fn tampered_tx_has_bad_signature() {
    let (_, p, mut b) = two_tx_block();
    b.txs[1].amount += 1;
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 1,
            source: TxError::Signature(CryptoError::BadSignature)
        }
    );
}

#[test]
fn high_s_signature_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    let high = to_high_s(&b.txs[0].sig).expect("valid signature has a twin");
    assert_ne!(high, b.txs[0].sig);
    b.txs[0].sig = high;
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 0,
            source: TxError::Signature(CryptoError::HighS)
        }
    );
}

#[test]
fn malformed_signature_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    b.txs[0].sig = Signature([0; 64]);
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 0,
            source: TxError::Signature(CryptoError::MalformedSignature)
        }
    );
}

#[test]
fn invalid_public_key_is_rejected() {
    let (_, p, mut b) = two_tx_block();
    b.txs[0].from = PublicKey([7; 33]);
    reseal_txs(&mut b);
    assert_eq!(
        check(&b, &p).unwrap_err(),
        BlockError::Tx {
            index: 0,
            source: TxError::Signature(CryptoError::InvalidPublicKey)
        }
    );
}

#[test]
fn signature_cache_gives_the_same_verdicts() {
    let (_, p, good) = two_tx_block();
    let cache = SigCache::new(16);
    check_block(Arc::new(good.clone()), &p, Some(&cache)).unwrap();
    check_block(Arc::new(good.clone()), &p, Some(&cache)).unwrap();
    assert_eq!(
        cache.stats(),
        (2, 2),
        "second check hits for both transactions"
    );

    let mut bad = good.clone();
    bad.txs[1].amount += 1;
    reseal_txs(&mut bad);
    for _ in 0..2 {
        assert_eq!(
            check_block(Arc::new(bad.clone()), &p, Some(&cache)).unwrap_err(),
            BlockError::Tx {
                index: 1,
                source: TxError::Signature(CryptoError::BadSignature)
            }
        );
    }
    let mut high = good;
    high.txs[0].sig = to_high_s(&high.txs[0].sig).unwrap();
    reseal_txs(&mut high);
    assert_eq!(
        check_block(Arc::new(high), &p, Some(&cache)).unwrap_err(),
        BlockError::Tx {
            index: 0,
            source: TxError::Signature(CryptoError::HighS)
        }
    );
}

// ---------------------------------------------------------------------------------------
// ChainState::import: contextual checks
// ---------------------------------------------------------------------------------------

#[test]
fn bad_height_is_rejected() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    extend(&mut chain, &[], MINER_A, SPACING);
    let before = snapshot(&chain);
    let mut b = mine(&mut chain, &[], MINER_A, 2 * SPACING);
    for wrong in [1, 3, 0] {
        b.header.height = wrong;
        seal(&mut b);
        assert_eq!(
            import(&mut chain, &b, 2 * SPACING).unwrap_err(),
            BlockError::BadHeight {
                expected: 2,
                got: wrong
            }
        );
        assert_unchanged(&chain, &before);
    }
}

#[test]
fn bad_difficulty_is_rejected() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    let before = snapshot(&chain);
    let mut b = mine(&mut chain, &[], MINER_A, SPACING);
    assert_eq!(b.header.difficulty(), 16);
    for wrong in [8, 17] {
        b.header.seal = Seal::Pow {
            difficulty: wrong,
            nonce: 0,
        };
        seal(&mut b);
        assert_eq!(
            import(&mut chain, &b, SPACING).unwrap_err(),
            BlockError::Seal(SealError::BadDifficulty {
                expected: 16,
                got: wrong
            })
        );
        assert_unchanged(&chain, &before);
    }
}

#[test]
fn timestamp_not_after_median_time_past_is_rejected() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    extend(&mut chain, &[], MINER_A, SPACING);
    extend(&mut chain, &[], MINER_A, 2 * SPACING);
    // Timestamps 0, 10_000, 20_000: the median is 10_000.
    let median = chain.median_time_past(chain.tip());
    assert_eq!(median, SPACING);
    let before = snapshot(&chain);
    let mut b = mine(&mut chain, &[], MINER_A, 3 * SPACING);
    for ts in [median, median - 1, 0] {
        b.header.timestamp_ms = ts;
        seal(&mut b);
        assert_eq!(
            import(&mut chain, &b, 3 * SPACING).unwrap_err(),
            BlockError::TimestampTooOld { ts, median }
        );
        assert_unchanged(&chain, &before);
    }
    // One millisecond after the median is enough, even though it is before the parent.
    b.header.timestamp_ms = median + 1;
    seal(&mut b);
    import(&mut chain, &b, 3 * SPACING).expect("after the median is valid");
    assert_eq!(chain.tip(), b.hash());
}

#[test]
fn timestamp_too_far_ahead_is_rejected() {
    let k = keys();
    let p = params(&k);
    let mut chain = ChainState::new(p.clone());
    let now = SPACING;
    let before = snapshot(&chain);
    let mut b = mine(&mut chain, &[], MINER_A, now);
    let ts = now + p.max_future_ms + 1;
    b.header.timestamp_ms = ts;
    seal(&mut b);
    assert_eq!(
        import(&mut chain, &b, now).unwrap_err(),
        BlockError::TimestampTooNew {
            ts,
            now,
            max_ahead: p.max_future_ms
        }
    );
    assert_unchanged(&chain, &before);
    // The same block is fine once the local clock catches up, and at the exact bound.
    b.header.timestamp_ms = now + p.max_future_ms;
    seal(&mut b);
    import(&mut chain, &b, now).expect("at the bound is valid");
    assert_eq!(chain.tip(), b.hash());
}

/// A block on the tip carrying `txs` verbatim (not filtered by `build_block`).
fn block_with(chain: &mut ChainState, txs: Vec<Transaction>, miner: Address, now: u64) -> Block {
    let mut b = chain
        .build_block(&[], Vec::new(), miner, now)
        .expect("the reward fits");
    b.txs = txs;
    reseal_txs(&mut b);
    b
}

#[test]
fn tx_with_wrong_nonce_does_not_apply() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    let before = snapshot(&chain);
    let good = transfer(&k[0], k[1].address(), 5, 0);
    let skipped = transfer(&k[0], k[1].address(), 5, 2);
    let b = block_with(&mut chain, vec![good, skipped], MINER_A, SPACING);
    let hash = b.hash();
    assert_eq!(
        import(&mut chain, &b, SPACING).unwrap_err(),
        BlockError::TxApply {
            index: 1,
            source: ApplyError::BadNonce {
                expected: 1,
                got: 2
            }
        }
    );
    assert_unchanged(&chain, &before);
    assert!(!chain.contains(&hash));
    // A replayed transaction (nonce already used) fails the same way.
    let mut chain = ChainState::new(params(&k));
    let t = transfer(&k[0], k[1].address(), 5, 0);
    extend(&mut chain, std::slice::from_ref(&t), MINER_A, SPACING);
    let before = snapshot(&chain);
    let replay = block_with(&mut chain, vec![t], MINER_A, 2 * SPACING);
    assert_eq!(
        import(&mut chain, &replay, 2 * SPACING).unwrap_err(),
        BlockError::TxApply {
            index: 0,
            source: ApplyError::BadNonce {
                expected: 1,
                got: 0
            }
        }
    );
    assert_unchanged(&chain, &before);
}

#[test]
fn tx_over_balance_does_not_apply() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    let before = snapshot(&chain);
    // amount + fee is one more than the balance.
    let tx = transfer(&k[0], k[1].address(), FUNDS, 0);
    let b = block_with(&mut chain, vec![tx], MINER_A, SPACING);
    assert_eq!(
        import(&mut chain, &b, SPACING).unwrap_err(),
        BlockError::TxApply {
            index: 0,
            source: ApplyError::InsufficientBalance {
                balance: FUNDS,
                needed: u128::from(FUNDS) + 1
            }
        }
    );
    assert_unchanged(&chain, &before);
    // Spending exactly the balance is fine.
    let tx = transfer(&k[0], k[1].address(), FUNDS - 1, 0);
    let b = extend(&mut chain, std::slice::from_ref(&tx), MINER_A, SPACING);
    assert_eq!(b.txs, vec![tx], "exact balance is spendable");
    assert_eq!(chain.state().get(&k[0].address()).balance, 0);
}

#[test]
fn credit_overflow_does_not_apply() {
    let k = keys();
    let whale = Address([0xee; 20]);
    let p = params_with(&k, |p| p.genesis_balances.push((whale, u64::MAX)));
    let mut chain = ChainState::new(p);
    let before = snapshot(&chain);
    // A transfer to an account at u64::MAX.
    let tx = transfer(&k[0], whale, 1, 0);
    let b = block_with(&mut chain, vec![tx], MINER_A, SPACING);
    assert_eq!(
        import(&mut chain, &b, SPACING).unwrap_err(),
        BlockError::TxApply {
            index: 0,
            source: ApplyError::Overflow
        }
    );
    assert_unchanged(&chain, &before);
    // The reward to a miner at u64::MAX: the index is the transaction count. `build_block`
    // refuses to build it (no valid block can pay that miner) ...
    assert_eq!(
        chain
            .build_block(&[], Vec::new(), whale, SPACING)
            .unwrap_err(),
        TemplateError::Apply(ApplyError::Overflow)
    );
    // ... and a peer's block paying it is refused.
    let tx = transfer(&k[0], k[1].address(), 1, 0);
    let mut b = block_with(&mut chain, vec![tx], MINER_A, SPACING);
    b.header.miner = whale;
    seal(&mut b);
    assert_eq!(
        import(&mut chain, &b, SPACING).unwrap_err(),
        BlockError::TxApply {
            index: 1,
            source: ApplyError::Overflow
        }
    );
    assert_unchanged(&chain, &before);
}

#[test]
fn bad_state_root_is_rejected_then_known_invalid() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    extend(&mut chain, &[], MINER_A, SPACING);
    let before = snapshot(&chain);
    let tx = transfer(&k[0], k[1].address(), 5, 0);
    let mut b = mine(&mut chain, std::slice::from_ref(&tx), MINER_A, 2 * SPACING);
    let expected = b.header.state_root;
    let got = Hash::sha256(b"not the state");
    b.header.state_root = got;
    seal(&mut b);
    let hash = b.hash();
    assert_eq!(
        import(&mut chain, &b, 2 * SPACING).unwrap_err(),
        BlockError::BadStateRoot { expected, got }
    );
    assert_unchanged(&chain, &before);
    assert!(!chain.contains(&hash));

    // The block is remembered as invalid.
    assert_eq!(
        import(&mut chain, &b, 2 * SPACING).unwrap_err(),
        BlockError::KnownInvalid(hash)
    );
    assert_unchanged(&chain, &before);

    // The correct block at the same height still imports.
    let good = extend(&mut chain, &[tx], MINER_A, 2 * SPACING);
    assert_eq!(good.header.state_root, expected);
}

/// A sealed child of `parent` (which need not be the tip), with no transactions. Its state
/// root is meaningless: only tests that fail before the state is touched may use it.
fn child_of(chain: &ChainState, parent: &Block, miner: Address) -> Block {
    let mut b = Block {
        header: BlockHeader {
            version: parent.header.version,
            parent: parent.hash(),
            height: parent.header.height + 1,
            tx_root: Hash::ZERO,
            state_root: Hash::ZERO,
            timestamp_ms: parent.header.timestamp_ms + SPACING,
            miner,
            seal: Seal::Pow {
                difficulty: next_difficulty(chain, &parent.hash()),
                nonce: 0,
            },
        },
        txs: Vec::new(),
        items: Vec::new(),
    };
    seal(&mut b);
    b
}

#[test]
fn child_of_invalid_block_is_rejected() {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    let mut bad = mine(&mut chain, &[], MINER_A, SPACING);
    bad.header.state_root = Hash::ZERO;
    seal(&mut bad);
    assert!(matches!(
        import(&mut chain, &bad, SPACING).unwrap_err(),
        BlockError::BadStateRoot { .. }
    ));
    let before = snapshot(&chain);
    let child = child_of(&chain, &bad, MINER_A);
    assert_eq!(
        import(&mut chain, &child, 2 * SPACING).unwrap_err(),
        BlockError::InvalidAncestor(bad.hash())
    );
    assert_unchanged(&chain, &before);
}

#[test]
fn failed_reorg_marks_branch_invalid_and_keeps_tip() {
    let k = keys();
    let p = params(&k);
    let mut main = ChainState::new(p.clone());
    let a_tx = transfer(&k[0], k[1].address(), 7, 0);
    extend(&mut main, std::slice::from_ref(&a_tx), MINER_A, SPACING);
    extend(&mut main, &[], MINER_A, 2 * SPACING);
    let before = snapshot(&main);

    // Side branch: B1 valid, B2 claims a wrong state root, B3 on top of B2.
    let mut side = ChainState::new(p);
    let b1 = extend(&mut side, &[], MINER_B, SPACING);
    let mut b2 = mine(&mut side, &[], MINER_B, 2 * SPACING);
    b2.header.state_root = Hash::sha256(b"wrong");
    seal(&mut b2);
    let b3 = child_of(&side, &b2, MINER_B);

    let out = import(&mut main, &b1, 3 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Accepted);
    assert!(out.tip_change.is_none(), "less work: no reorg");
    let out = import(&mut main, &b2, 3 * SPACING).unwrap();
    assert!(out.tip_change.is_none(), "equal work, first seen: no reorg");
    assert_unchanged(&main, &before);

    // B3 has more work; connecting its branch fails at B2.
    assert!(matches!(
        import(&mut main, &b3, 3 * SPACING).unwrap_err(),
        BlockError::BadStateRoot { .. }
    ));
    assert_unchanged(&main, &before);
    assert!(main.contains(&b1.hash()), "the valid prefix is kept");
    assert!(!main.contains(&b2.hash()));
    assert!(!main.contains(&b3.hash()));
    assert_eq!(
        import(&mut main, &b3, 3 * SPACING).unwrap_err(),
        BlockError::KnownInvalid(b3.hash())
    );
    let b4 = child_of(&main, &b3, MINER_B);
    assert_eq!(
        import(&mut main, &b4, 4 * SPACING).unwrap_err(),
        BlockError::InvalidAncestor(b3.hash())
    );
    assert_unchanged(&main, &before);
    // The main chain still extends normally.
    extend(&mut main, &[], MINER_A, 3 * SPACING);
    main.verify_replay().unwrap();
}

#[test]
fn descendants_of_invalid_block_on_other_branches_are_invalid() {
    let k = keys();
    let p = params(&k);
    let mut main = ChainState::new(p.clone());
    extend(&mut main, &[], MINER_A, SPACING);
    extend(&mut main, &[], MINER_A, 2 * SPACING);

    // B1 claims a wrong state root; it has two children B2a and B2b (both pending, no
    // more work than the tip); B3a on B2a has more work, so its branch is tried and fails.
    let genesis = main.get(&main.genesis()).unwrap().as_ref().clone();
    let mut b1 = child_of(&main, &genesis, MINER_B);
    b1.header.state_root = Hash::sha256(b"wrong");
    seal(&mut b1);
    import(&mut main, &b1, 4 * SPACING).unwrap();
    let b2a = child_of(&main, &b1, MINER_B);
    let b2b = child_of(&main, &b1, MINER_C);
    import(&mut main, &b2a, 4 * SPACING).unwrap();
    import(&mut main, &b2b, 4 * SPACING).unwrap();
    let b3a = child_of(&main, &b2a, MINER_B);
    assert!(matches!(
        import(&mut main, &b3a, 4 * SPACING).unwrap_err(),
        BlockError::BadStateRoot { .. }
    ));
    assert!(!main.contains(&b1.hash()));
    assert!(!main.contains(&b2a.hash()));
    // B2b descends from the invalid B1 too: it should not count as held...
    assert!(
        !main.contains(&b2b.hash()),
        "descendant of an invalid block"
    );
    // ...and a child of it with no more work than the tip (so no reorg is tried) must be
    // rejected, not stored as Accepted.
    extend(&mut main, &[], MINER_A, 3 * SPACING);
    let b3b = child_of(&main, &b2b, MINER_C);
    assert!(matches!(
        import(&mut main, &b3b, 4 * SPACING).unwrap_err(),
        BlockError::InvalidAncestor(_)
    ));
}

// ---------------------------------------------------------------------------------------
// Orphans and duplicates
// ---------------------------------------------------------------------------------------

#[test]
fn orphans_wait_for_their_parent_then_connect() {
    let k = keys();
    let p = params(&k);
    let mut source = ChainState::new(p.clone());
    let t0 = transfer(&k[0], k[1].address(), 3, 0);
    let t1 = transfer(&k[1], k[2].address(), 4, 0);
    let b1 = extend(&mut source, &[t0], MINER_A, SPACING);
    let b2 = extend(&mut source, &[t1], MINER_A, 2 * SPACING);
    let b3 = extend(&mut source, &[], MINER_A, 3 * SPACING);

    let mut node = ChainState::new(p);
    let genesis = node.tip();
    let out = import(&mut node, &b3, 3 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Orphan { missing: b2.hash() });
    assert!(out.accepted.is_empty() && out.tip_change.is_none());
    let out = import(&mut node, &b2, 3 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Orphan { missing: b1.hash() });
    // Re-sending an orphan neither duplicates it nor reports it as known.
    let out = import(&mut node, &b3, 3 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Orphan { missing: b2.hash() });
    assert_eq!(node.orphan_count(), 2);
    assert!(node.is_orphan(&b2.hash()) && node.is_orphan(&b3.hash()));
    assert!(!node.contains(&b3.hash()));
    assert_eq!(node.tip(), genesis);

    let out = import(&mut node, &b1, 3 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Accepted);
    assert_eq!(hashes(&out.accepted), vec![b1.hash(), b2.hash(), b3.hash()]);
    assert_eq!(out.rejected_orphans, 0);
    let change = out.tip_change.expect("tip moved");
    assert_eq!(change.old_tip, genesis);
    assert_eq!(change.new_tip, b3.hash());
    assert_eq!(change.new_height, 3);
    assert_eq!(change.reorg_depth, 0);
    assert_eq!(
        block_hashes(&change.connected),
        vec![b1.hash(), b2.hash(), b3.hash()]
    );
    assert_eq!(
        change.included,
        b1.tx_ids()
            .into_iter()
            .chain(b2.tx_ids())
            .collect::<Vec<_>>()
    );
    assert!(change.reverted_txs.is_empty());
    assert_eq!(node.orphan_count(), 0);
    assert!(!node.is_orphan(&b3.hash()));
    assert_eq!(node.canonical(), source.canonical());
    assert_eq!(node.state(), source.state());
    node.verify_replay().unwrap();
}

#[test]
fn invalid_orphan_is_counted_when_its_parent_arrives() {
    let k = keys();
    let p = params(&k);
    let mut source = ChainState::new(p.clone());
    let b1 = extend(&mut source, &[], MINER_A, SPACING);
    let mut b2 = mine(&mut source, &[], MINER_A, 2 * SPACING);
    b2.header.height = 5;
    seal(&mut b2);

    let mut node = ChainState::new(p);
    let out = import(&mut node, &b2, 2 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Orphan { missing: b1.hash() });
    let out = import(&mut node, &b1, 2 * SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Accepted);
    assert_eq!(hashes(&out.accepted), vec![b1.hash()]);
    assert_eq!(out.rejected_orphans, 1);
    assert_eq!(node.tip(), b1.hash());
    assert_eq!(node.orphan_count(), 0);
}

#[test]
fn duplicate_import_is_reported_and_changes_nothing() {
    let k = keys();
    let mut node = ChainState::new(params(&k));
    let tx = transfer(&k[0], k[1].address(), 3, 0);
    let b = extend(&mut node, &[tx], MINER_A, SPACING);
    let before = snapshot(&node);
    let count = node.block_count();
    let out = import(&mut node, &b, SPACING).unwrap();
    assert_eq!(out.status, ImportStatus::Duplicate);
    assert!(out.accepted.is_empty());
    assert!(out.tip_change.is_none());
    assert_eq!(node.block_count(), count);
    assert_unchanged(&node, &before);
}

// ---------------------------------------------------------------------------------------
// Retargeting
// ---------------------------------------------------------------------------------------

/// Mines heights 1..=9 `spacing` ms apart and returns the chain.
fn chain_to_first_retarget(spacing: u64) -> ChainState {
    let k = keys();
    let mut chain = ChainState::new(params(&k));
    for h in 1..=9 {
        let b = extend(&mut chain, &[], MINER_A, h * spacing);
        assert_eq!(b.header.difficulty(), 16, "no retarget before height 10");
    }
    chain
}

#[test]
fn fast_blocks_raise_difficulty_at_the_retarget_height() {
    // Blocks twice as fast as the 10 s target: difficulty doubles at height 10.
    let spacing = SPACING / 2;
    let mut chain = chain_to_first_retarget(spacing);
    let tip = chain.tip();
    assert_eq!(next_difficulty(&chain, &tip), 32);
    let before = snapshot(&chain);

    let mut stale = mine(&mut chain, &[], MINER_A, 10 * spacing);
    assert_eq!(stale.header.difficulty(), 32);
    stale.header.seal = Seal::Pow {
        difficulty: 16,
        nonce: 0,
    };
    seal(&mut stale);
    assert_eq!(
        import(&mut chain, &stale, 10 * spacing).unwrap_err(),
        BlockError::Seal(SealError::BadDifficulty {
            expected: 32,
            got: 16
        })
    );
    assert_unchanged(&chain, &before);

    let b10 = extend(&mut chain, &[], MINER_A, 10 * spacing);
    assert_eq!(b10.header.difficulty(), 32);
    assert_eq!(chain.tip_work(), 9 * 16 + 32);
    // Between retargets the difficulty carries over.
    for h in 11..=19 {
        let b = extend(&mut chain, &[], MINER_A, h * spacing);
        assert_eq!(b.header.difficulty(), 32);
    }
    // The second window spans ten full intervals, still twice too fast.
    let tip = chain.tip();
    assert_eq!(next_difficulty(&chain, &tip), 64);
}

#[test]
fn very_fast_blocks_are_clamped_to_four_times() {
    let mut chain = chain_to_first_retarget(1);
    let tip = chain.tip();
    assert_eq!(next_difficulty(&chain, &tip), 64);
    let b = mine(&mut chain, &[], MINER_A, 10);
    assert_eq!(b.header.difficulty(), 64);
}

#[test]
fn slow_blocks_lower_difficulty_at_the_retarget_height() {
    let spacing = SPACING * 2;
    let mut chain = chain_to_first_retarget(spacing);
    let tip = chain.tip();
    assert_eq!(next_difficulty(&chain, &tip), 8);
    let mut b = mine(&mut chain, &[], MINER_A, 10 * spacing);
    assert_eq!(b.header.difficulty(), 8);
    b.header.seal = Seal::Pow {
        difficulty: 16,
        nonce: 0,
    };
    seal(&mut b);
    assert_eq!(
        import(&mut chain, &b, 10 * spacing).unwrap_err(),
        BlockError::Seal(SealError::BadDifficulty {
            expected: 8,
            got: 16
        })
    );
    extend(&mut chain, &[], MINER_A, 10 * spacing);
}

#[test]
fn retarget_follows_each_branch() {
    // Two branches from height 5 with different speeds demand different difficulties.
    let k = keys();
    let p = params(&k);
    let mut fast = ChainState::new(p.clone());
    let mut slow = ChainState::new(p.clone());
    for h in 1..=5 {
        let b = extend(&mut fast, &[], MINER_A, h * SPACING);
        import(&mut slow, &b, h * SPACING).unwrap();
    }
    for h in 6..=9 {
        extend(&mut fast, &[], MINER_A, 5 * SPACING + (h - 5) * 1_000);
        extend(&mut slow, &[], MINER_B, 5 * SPACING + (h - 5) * 20_000);
    }
    // The window is heights 1..=9 (eight intervals, 80 s expected).
    // fast: 54 s - 10 s = 44 s -> 16 * 80 / 44 = 29; slow: 130 s - 10 s -> 16 * 80 / 120 = 10.
    let fast_tip = fast.tip();
    let slow_tip = slow.tip();
    let d_fast = next_difficulty(&fast, &fast_tip);
    let d_slow = next_difficulty(&slow, &slow_tip);
    assert_eq!((d_fast, d_slow), (29, 10));
    // A node holding both branches computes each branch's own requirement.
    let mut node = ChainState::new(p);
    for &h in &fast.canonical()[1..] {
        import(&mut node, fast.get(&h).unwrap(), 100 * SPACING).unwrap();
    }
    for &h in &slow.canonical()[6..] {
        import(&mut node, slow.get(&h).unwrap(), 100 * SPACING).unwrap();
    }
    assert_eq!(node.tip(), fast_tip, "first seen of equal work");
    assert_eq!(next_difficulty(&node, &fast_tip), d_fast);
    assert_eq!(next_difficulty(&node, &slow_tip), d_slow);
}

// ---------------------------------------------------------------------------------------
// Fork choice
// ---------------------------------------------------------------------------------------

#[test]
fn longer_side_branch_triggers_reorg() {
    let k = keys();
    let p = params(&k);
    let shared = transfer(&k[0], k[1].address(), 10, 0);
    let only_a = transfer(&k[1], k[2].address(), 5, 0);
    let only_b = transfer(&k[2], k[0].address(), 6, 0);

    let mut main = ChainState::new(p.clone());
    let a1 = extend(&mut main, std::slice::from_ref(&shared), MINER_A, SPACING);
    let a2 = extend(
        &mut main,
        std::slice::from_ref(&only_a),
        MINER_A,
        2 * SPACING,
    );
    assert_eq!(a2.txs, vec![only_a.clone()]);

    let mut side = ChainState::new(p);
    let b1 = extend(&mut side, std::slice::from_ref(&shared), MINER_B, SPACING);
    let b2 = extend(
        &mut side,
        std::slice::from_ref(&only_b),
        MINER_B,
        2 * SPACING,
    );
    let b3 = extend(&mut side, &[], MINER_B, 3 * SPACING);
    assert_ne!(a1.hash(), b1.hash());

    let now = 3 * SPACING;
    let out = import(&mut main, &b1, now).unwrap();
    assert_eq!(out.status, ImportStatus::Accepted);
    assert!(out.tip_change.is_none());
    let out = import(&mut main, &b2, now).unwrap();
    assert!(
        out.tip_change.is_none(),
        "equal work keeps the first seen tip"
    );
    assert_eq!(main.tip(), a2.hash());

    let out = import(&mut main, &b3, now).unwrap();
    assert_eq!(hashes(&out.accepted), vec![b3.hash()]);
    let change = out.tip_change.expect("reorg");
    assert_eq!(change.old_tip, a2.hash());
    assert_eq!(change.new_tip, b3.hash());
    assert_eq!(change.new_height, 3);
    assert_eq!(change.reorg_depth, 2);
    assert_eq!(
        block_hashes(&change.connected),
        vec![b1.hash(), b2.hash(), b3.hash()]
    );
    assert_eq!(change.included, vec![shared.id(), only_b.id()]);
    assert_eq!(
        change.reverted_txs,
        vec![only_a],
        "the shared transaction is on both branches"
    );
    for addr in [
        k[0].address(),
        k[1].address(),
        k[2].address(),
        MINER_A,
        MINER_B,
    ] {
        let entry = change.changed.iter().find(|(a, _)| *a == addr);
        assert_eq!(
            entry.map(|(_, acc)| *acc),
            Some(main.state().get(&addr)),
            "changed lists {addr:?} with its new value"
        );
    }
    assert_eq!(main.state().get(&MINER_A).balance, 0);
    assert_eq!(main.canonical(), side.canonical());
    assert_eq!(main.state(), side.state());
    assert_eq!(main.tip_work(), side.tip_work());
    main.verify_replay().unwrap();

    // The old branch is still held and can win back with more work.
    assert!(main.contains(&a1.hash()) && main.contains(&a2.hash()));
    let a3 = valid_child(&main, &a2, MINER_A, 3 * SPACING);
    let out = import(&mut main, &a3, now).unwrap();
    assert!(out.tip_change.is_none(), "equal work again");
    let a4 = valid_child(&main, &a3, MINER_A, 4 * SPACING);
    let change = import(&mut main, &a4, 4 * SPACING)
        .unwrap()
        .tip_change
        .expect("reorg back");
    assert_eq!(change.reorg_depth, 3);
    assert_eq!(change.reverted_txs, vec![only_b]);
    main.verify_replay().unwrap();
}

/// A valid empty child of `parent` (an empty block's state root is the parent state plus
/// the reward), built by replaying the parent's branch on a scratch chain.
fn valid_child(node: &ChainState, parent: &Block, miner: Address, now: u64) -> Block {
    let mut path = vec![parent.hash()];
    while let Some(b) = node.get(path.last().unwrap()) {
        if b.header.height == 0 {
            path.pop();
            break;
        }
        path.push(b.header.parent);
    }
    let mut scratch = ChainState::new(node.params().clone());
    for h in path.iter().rev() {
        import(&mut scratch, node.get(h).unwrap(), now).unwrap();
    }
    assert_eq!(scratch.tip(), parent.hash());
    mine(&mut scratch, &[], miner, now)
}

#[test]
fn first_seen_keeps_tip_on_equal_work() {
    let k = keys();
    let p = params(&k);
    assert_eq!(p.tie_break, TieBreak::FirstSeen);
    let mut node = ChainState::new(p.clone());
    let a1 = mine(&mut node, &[], MINER_A, SPACING);
    import_key(&mut node, &a1, SPACING, 1_000).unwrap();
    let mut other = ChainState::new(p);
    let b1 = extend(&mut other, &[], MINER_B, SPACING);
    // Even with a lower tie key, first-seen keeps A1.
    let out = import_key(&mut node, &b1, SPACING, 1).unwrap();
    assert_eq!(out.status, ImportStatus::Accepted);
    assert!(out.tip_change.is_none());
    assert_eq!(node.tip(), a1.hash());
    assert!(node.contains(&b1.hash()));
    node.verify_replay().unwrap();
}

#[test]
fn random_tie_break_picks_the_lower_key() {
    let k = keys();
    let p = params_with(&k, |p| p.tie_break = TieBreak::Random);
    let tx_a = transfer(&k[0], k[1].address(), 1, 0);
    let mut node = ChainState::new(p.clone());
    let a1 = mine(&mut node, std::slice::from_ref(&tx_a), MINER_A, SPACING);
    import_key(&mut node, &a1, SPACING, 100).unwrap();
    assert_eq!(node.tip(), a1.hash());

    let mut other = ChainState::new(p.clone());
    let b1 = extend(&mut other, &[], MINER_B, SPACING);
    let out = import_key(&mut node, &b1, SPACING, 200).unwrap();
    assert!(out.tip_change.is_none(), "higher key loses");
    assert_eq!(node.tip(), a1.hash());

    let mut third = ChainState::new(p.clone());
    let c1 = extend(&mut third, &[], MINER_C, SPACING);
    let out = import_key(&mut node, &c1, SPACING, 100).unwrap();
    assert!(out.tip_change.is_none(), "an equal key does not win");

    let mut fourth = ChainState::new(p);
    let d1 = extend(&mut fourth, &[], Address([0xdd; 20]), SPACING);
    let out = import_key(&mut node, &d1, SPACING, 50).unwrap();
    let change = out.tip_change.expect("lower key wins the tie");
    assert_eq!(change.new_tip, d1.hash());
    assert_eq!(change.reorg_depth, 1);
    assert_eq!(change.reverted_txs, vec![tx_a]);
    assert_eq!(node.state(), fourth.state());
    node.verify_replay().unwrap();
}

#[test]
fn more_work_beats_tie_keys() {
    let k = keys();
    let p = params_with(&k, |p| p.tie_break = TieBreak::Random);
    let mut node = ChainState::new(p.clone());
    let a1 = mine(&mut node, &[], MINER_A, SPACING);
    import_key(&mut node, &a1, SPACING, 0).unwrap();
    let mut other = ChainState::new(p);
    let b1 = extend(&mut other, &[], MINER_B, SPACING);
    let b2 = extend(&mut other, &[], MINER_B, 2 * SPACING);
    import_key(&mut node, &b1, 2 * SPACING, u64::MAX).unwrap();
    assert_eq!(node.tip(), a1.hash());
    let out = import_key(&mut node, &b2, 2 * SPACING, u64::MAX).unwrap();
    assert_eq!(out.tip_change.unwrap().new_tip, b2.hash());
}

#[test]
fn a_shared_block_is_checked_once_per_process_and_a_tampered_copy_is_not_let_through() {
    let (_, p, b) = two_tx_block();
    let cache = SigCache::new(1024);
    let shared = Arc::new(b.clone());
    let first = check_block(shared.clone(), &p, Some(&cache)).expect("valid");
    let counts = cache.stats();
    let again = check_block(shared.clone(), &p, Some(&cache)).expect("remembered");
    assert_eq!(again.hash(), first.hash());
    assert_eq!(
        cache.stats(),
        counts,
        "not even a cache lookup: the block is remembered"
    );
    // Another allocation of the same block is checked again (its signatures from the cache).
    check_block(Arc::new((*shared).clone()), &p, Some(&cache)).expect("valid");
    assert_eq!(cache.stats().0, counts.0 + 2, "two signatures looked up");
    // The same header over another body, in another allocation: checked, and refused.
    let mut tampered = b;
    tampered.txs.swap(0, 1);
    assert_eq!(
        check_block(Arc::new(tampered), &p, Some(&cache)).unwrap_err(),
        BlockError::BadMerkleRoot
    );
}
