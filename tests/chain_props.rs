//! Property tests of the core:
//!
//! * after any sequence of imports of blocks building competing branches (random parents,
//!   random transfers with the right nonces for each branch, some blocks delivered late and
//!   out of order), the node's live state equals a replay of its best chain, total supply is
//!   genesis supply plus one reward per block, and the tip carries the most work; a second
//!   node whose executor was moved out, driven through the import's steps as the chain actor
//!   drives it, gives the same outcome for every import and ends in the same state;
//! * the canonical encoding round-trips transactions and blocks, is canonical (whatever
//!   decodes re-encodes to the same bytes), and decoding arbitrary or mutated bytes never
//!   panics.

use chainlab::block::CheckedBlock;
use chainlab::block::{Block, BlockHeader};
use chainlab::chain::executor::Executor;
use chainlab::chain::params::{ChainParams, TieBreak};
use chainlab::chain::validation::{check_block, BlockError};
use chainlab::chain::{ChainState, ImportOutcome, ImportStatus, Step};
use chainlab::consensus::pow::grind;
use chainlab::consensus::pow::Pow;
use chainlab::consensus::Engine;
use chainlab::crypto::{Address, KeyPair, SigCache};
use chainlab::encoding::{decode, encode, encoded_len};
use chainlab::hash::Hash;
use chainlab::tx::Transaction;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

#[path = "support/arb.rs"]
mod arb;
use arb::{apply, arb_block_of, arb_tx, mutation, Mutation};

// ---------------------------------------------------------------------------------------
// (a) Competing branches
// ---------------------------------------------------------------------------------------

const FUNDED: usize = 4;
const FUNDS: u64 = 1_000_000;
/// Local clock for every import: far ahead, so no block is "too new".
const NOW: u64 = 1 << 40;

fn keys() -> &'static [KeyPair] {
    static KEYS: OnceLock<Vec<KeyPair>> = OnceLock::new();
    KEYS.get_or_init(|| {
        (0..FUNDED)
            .map(|i| KeyPair::from_seed(format!("props-account-{i}").as_bytes()))
            .collect()
    })
}

/// Recipients: the funded accounts, then two accounts that start empty.
fn recipient(i: usize) -> Address {
    if i < FUNDED {
        keys()[i].address()
    } else {
        Address([0x40 + i as u8; 20])
    }
}

fn params(tie_break: TieBreak) -> Arc<ChainParams> {
    let mut p = ChainParams::for_tests(keys().iter().map(|k| (k.address(), FUNDS)).collect());
    // Frequent retargets over cheap difficulties, so branches also differ in work.
    p.engine = Engine::Pow(Pow {
        block_interval_ms: 10_000,
        retarget_interval: 4,
        initial_difficulty: 4,
        time_warp_fix: true,
    });
    p.tie_break = tie_break;
    Arc::new(p)
}

#[derive(Clone, Debug)]
struct TxSpec {
    from: usize,
    to: usize,
    amount: u64,
    fee: u64,
}

#[derive(Clone, Debug)]
struct BlockSpec {
    /// Which already-built block to extend.
    parent: Index,
    /// Pick the parent among the three newest blocks (so branches grow long), not among all.
    recent: bool,
    /// Milliseconds after the parent's timestamp.
    delay: u64,
    miner: u8,
    txs: Vec<TxSpec>,
    /// Delivered to the node only at the end, in reverse order (so as an orphan).
    late: bool,
    /// Claims a wrong state root (only used on a parent the node holds; never extended).
    bad: bool,
    tie_key: u64,
}

fn tx_spec() -> impl Strategy<Value = TxSpec> {
    // Few distinct amounts and fees, so branches often carry the very same transaction.
    (0..FUNDED, 0..3usize, 1..3u64).prop_map(|(from, to, amount)| TxSpec {
        from,
        to: (from + 1 + 2 * to) % (FUNDED + 2),
        amount: amount * 2_500,
        fee: amount - 1,
    })
}

fn block_spec() -> impl Strategy<Value = BlockSpec> {
    (
        (any::<Index>(), prop::bool::weighted(0.7)),
        1_000..25_000u64,
        0..3u8,
        prop::collection::vec(tx_spec(), 0..4),
        (prop::bool::weighted(0.25), prop::bool::weighted(0.1)),
        any::<u64>(),
    )
        .prop_map(
            |((parent, recent), delay, miner, txs, (late, bad), tie_key)| BlockSpec {
                parent,
                recent,
                delay,
                miner,
                txs,
                late,
                bad,
                tie_key,
            },
        )
}

fn tie_break() -> impl Strategy<Value = TieBreak> {
    prop_oneof![Just(TieBreak::FirstSeen), Just(TieBreak::Random)]
}

/// Every block built so far, by hash, with its cumulative work.
struct Tree {
    blocks: HashMap<Hash, (Arc<Block>, u128)>,
    order: Vec<Hash>,
    genesis: Hash,
}

impl Tree {
    /// Blocks from height 1 to `hash`, parents first.
    fn path(&self, mut hash: Hash) -> Vec<Arc<Block>> {
        let mut out = Vec::new();
        while hash != self.genesis {
            let b = &self.blocks[&hash].0;
            out.push(b.clone());
            hash = b.header.parent;
        }
        out.reverse();
        out
    }
}

/// Builds and seals a block on `parent` the way a miner on that branch would: a scratch
/// node is synced to the parent, transfers are signed with that branch's nonces, and
/// `build_block` assembles the template.
fn build_on(
    tree: &Tree,
    parent: Hash,
    spec: &BlockSpec,
    params: &Arc<ChainParams>,
    cache: &SigCache,
) -> Block {
    let mut scratch = ChainState::new(params.clone());
    for b in tree.path(parent) {
        let checked = check_block(b, params, Some(cache)).expect("built blocks are valid");
        scratch
            .import(checked, NOW, 0)
            .expect("built blocks import");
    }
    assert_eq!(scratch.tip(), parent);
    let mut next_nonce: HashMap<usize, u64> = HashMap::new();
    let txs: Vec<Transaction> = spec
        .txs
        .iter()
        .map(|t| {
            let key = &keys()[t.from];
            let nonce = next_nonce
                .entry(t.from)
                .or_insert_with(|| scratch.state().get(&key.address()).nonce);
            let tx = Transaction::new_signed(
                key,
                params.chain_id,
                recipient(t.to),
                t.amount,
                t.fee,
                *nonce,
            );
            *nonce += 1;
            tx
        })
        .collect();
    let parent_ts = tree.blocks[&parent].0.header.timestamp_ms;
    let miner = Address([0xa0 + spec.miner; 20]);
    let mut block = scratch
        .build_block(&txs, Vec::new(), miner, parent_ts + spec.delay)
        .expect("the reward fits");
    assert_eq!(block.txs, txs, "every generated transfer is affordable");
    grind(&mut block.header, 0, u64::MAX).expect("a nonce exists");
    block
}

fn check_node(node: &ChainState, params: &ChainParams) -> Result<(), TestCaseError> {
    if let Err(e) = node.verify_replay() {
        return Err(TestCaseError::fail(format!("replay differs: {e}")));
    }
    prop_assert_eq!(
        node.state().total_supply(),
        params.genesis_supply() + u128::from(params.reward) * u128::from(node.height())
    );
    let tip = node.get(&node.tip()).expect("tip is stored");
    prop_assert_eq!(node.state().root(), tip.header.state_root);
    prop_assert_eq!(tip.header.height, node.height());
    for pair in node.canonical().windows(2) {
        prop_assert_eq!(node.get(&pair[1]).unwrap().header.parent, pair[0]);
    }
    Ok(())
}

/// The test's own bookkeeping: every block built, and for each block the node stored, when
/// it was stored and which tie key it got (orphans get `mix_key` of the key of the import
/// that unlocked them and their hash).
struct Model {
    tree: Tree,
    tie: TieBreak,
    stored_seq: HashMap<Hash, usize>,
    tie_key: HashMap<Hash, u64>,
    /// Blocks with a wrong state root the node stored (pending or invalid).
    bad_stored: usize,
}

impl Model {
    fn work(&self, h: &Hash) -> u128 {
        self.tree.blocks[h].1
    }

    fn height(&self, h: &Hash) -> u64 {
        self.tree.blocks[h].0.header.height
    }

    /// The last common block of the branches ending at `a` and `b`.
    fn fork_point(&self, a: Hash, b: Hash) -> Hash {
        let on_a: std::collections::HashSet<Hash> = std::iter::once(self.tree.genesis)
            .chain(self.tree.path(a).iter().map(|b| b.hash()))
            .collect();
        let mut h = b;
        while !on_a.contains(&h) {
            h = self.tree.blocks[&h].0.header.parent;
        }
        h
    }

    /// Blocks after `fork` up to `tip`, parents first.
    fn segment(&self, fork: Hash, tip: Hash) -> Vec<Arc<Block>> {
        let fork_height = self.height(&fork) as usize;
        self.tree.path(tip)[fork_height..].to_vec()
    }

    /// The rule the node must follow: a new tip has more work, or (random tie-break) the
    /// same work and a lower tie key.
    fn better(&self, new: &Hash, old: &Hash) -> bool {
        let (wn, wo) = (self.work(new), self.work(old));
        wn > wo
            || (wn == wo && self.tie == TieBreak::Random && self.tie_key[new] < self.tie_key[old])
    }
}

/// A node with its executor out of the chain, imported into step by step (as the chain actor
/// does with the executor actor).
struct Stepped {
    chain: ChainState,
    exec: Executor,
}

impl Stepped {
    fn new(params: Arc<ChainParams>) -> Stepped {
        let mut chain = ChainState::new(params);
        let exec = chain
            .take_executor()
            .expect("a new chain holds its executor");
        Stepped { chain, exec }
    }

    fn import(&mut self, block: CheckedBlock, tie_key: u64) -> Result<ImportOutcome, BlockError> {
        let mut job = self.chain.start_import(block, NOW, tie_key);
        loop {
            match self.chain.step(&mut job) {
                Step::Switch(plan) => {
                    let answer = self.exec.switch(&plan);
                    self.chain.resume(&mut job, answer);
                }
                Step::Done(out) => return out,
            }
        }
    }
}

/// What an import reports, comparable.
fn digest(r: &Result<ImportOutcome, BlockError>) -> String {
    match r {
        Err(e) => format!("error {e:?}"),
        Ok(out) => {
            let tc = out.tip_change.as_ref().map(|c| {
                (
                    c.old_tip,
                    c.new_tip,
                    c.new_height,
                    c.reorg_depth,
                    c.connected.iter().map(|b| b.hash()).collect::<Vec<_>>(),
                    c.included.clone(),
                    c.reverted_txs.iter().map(|t| t.id()).collect::<Vec<_>>(),
                    c.reverted.iter().map(|b| b.hash()).collect::<Vec<_>>(),
                    c.changed.clone(),
                    c.records.len(),
                    c.next_rule.clone(),
                )
            });
            format!(
                "{:?} {:?} {} {:?}",
                out.status,
                out.accepted.iter().map(|(h, _)| *h).collect::<Vec<_>>(),
                out.rejected_orphans,
                tc
            )
        }
    }
}

/// Imports into the stepped twin what `node` just imported, and compares.
fn mirror(
    twin: &mut Stepped,
    node: &ChainState,
    checked: CheckedBlock,
    tie_key: u64,
    got: &Result<ImportOutcome, BlockError>,
) -> Result<(), TestCaseError> {
    let stepped = twin.import(checked, tie_key);
    prop_assert_eq!(digest(&stepped), digest(got));
    prop_assert_eq!(twin.chain.tip(), node.tip());
    prop_assert_eq!(twin.exec.tip(), node.tip());
    prop_assert_eq!(twin.exec.state().root(), node.state().root());
    Ok(())
}

fn import_into(
    node: &mut ChainState,
    twin: &mut Stepped,
    model: &mut Model,
    block: &Arc<Block>,
    tie_key: u64,
    params: &ChainParams,
    cache: &SigCache,
) -> Result<(), TestCaseError> {
    let parent = block.header.parent;
    let parent_known = node.contains(&parent);
    let already = node.contains(&block.hash());
    let old_tip = node.tip();
    let checked = check_block(block.clone(), params, Some(cache)).expect("valid block");
    let res = node.import(checked.clone(), NOW, tie_key);
    mirror(twin, node, checked, tie_key, &res)?;
    let out = match res {
        Ok(out) => out,
        Err(e) => return Err(TestCaseError::fail(format!("valid block rejected: {e}"))),
    };
    let expected = if already {
        ImportStatus::Duplicate
    } else if parent_known {
        ImportStatus::Accepted
    } else {
        ImportStatus::Orphan { missing: parent }
    };
    prop_assert_eq!(&out.status, &expected);
    prop_assert_eq!(out.rejected_orphans, 0);
    if expected == ImportStatus::Accepted {
        prop_assert_eq!(out.accepted.first().map(|(h, _)| *h), Some(block.hash()));
    } else {
        prop_assert!(out.accepted.is_empty());
    }
    for (i, (h, b)) in out.accepted.iter().enumerate() {
        prop_assert_eq!(*h, b.hash(), "an accepted block carries its own hash");
        let h = *h;
        prop_assert!(!model.stored_seq.contains_key(&h), "stored twice");
        prop_assert!(
            model.stored_seq.contains_key(&b.header.parent),
            "parent stored first"
        );
        let seq = model.stored_seq.len();
        model.stored_seq.insert(h, seq);
        let key = if i == 0 {
            tie_key
        } else {
            chainlab::chain::mix_key(tie_key, &h)
        };
        model.tie_key.insert(h, key);
    }

    let new_tip = node.tip();
    match &out.tip_change {
        None => prop_assert_eq!(new_tip, old_tip),
        Some(change) => {
            prop_assert_eq!(change.old_tip, old_tip);
            prop_assert_eq!(change.new_tip, new_tip);
            prop_assert_ne!(new_tip, old_tip);
            prop_assert!(
                model.better(&new_tip, &old_tip),
                "tip moved to a worse block"
            );
            prop_assert_eq!(change.new_height, node.height());
            let fork = model.fork_point(old_tip, new_tip);
            prop_assert_eq!(
                change.reorg_depth,
                model.height(&old_tip) - model.height(&fork)
            );
            let connected = model.segment(fork, new_tip);
            prop_assert_eq!(
                change
                    .connected
                    .iter()
                    .map(|b| b.hash())
                    .collect::<Vec<_>>(),
                connected.iter().map(|b| b.hash()).collect::<Vec<_>>()
            );
            let included: Vec<Hash> = connected.iter().flat_map(|b| b.tx_ids()).collect();
            prop_assert_eq!(&change.included, &included);
            let reverted: Vec<Transaction> = model
                .segment(fork, old_tip)
                .iter()
                .flat_map(|b| b.txs.clone())
                .filter(|t| !included.contains(&t.id()))
                .collect();
            prop_assert_eq!(&change.reverted_txs, &reverted);
            for (addr, account) in &change.changed {
                prop_assert_eq!(*account, node.state().get(addr));
            }
        }
    }
    check_node(node, params)
}

/// Imports a block with a wrong state root whose parent the node holds: if it would win fork
/// choice, connecting it fails and nothing changes; otherwise it is stored unconnected.
fn import_bad(
    node: &mut ChainState,
    twin: &mut Stepped,
    model: &mut Model,
    bad: Arc<Block>,
    tie_key: u64,
    params: &ChainParams,
    cache: &SigCache,
) -> Result<(), TestCaseError> {
    let hash = bad.hash();
    let tip = node.tip();
    let parent = &bad.header.parent;
    let work = node.tip_work();
    let bad_work = model.work(parent) + u128::from(bad.header.difficulty());
    let wins = bad_work > work
        || (bad_work == work && model.tie == TieBreak::Random && tie_key < model.tie_key[&tip]);
    let before = (tip, node.state().root(), node.canonical().to_vec());
    let checked = check_block(bad.clone(), params, Some(cache)).expect("chain-free checks pass");
    let res = node.import(checked.clone(), NOW, tie_key);
    mirror(twin, node, checked.clone(), tie_key, &res)?;
    model.bad_stored += 1;
    if wins {
        let err = res.err();
        prop_assert!(
            matches!(err, Some(BlockError::BadStateRoot { .. })),
            "winning bad block: {:?}",
            err
        );
        prop_assert!(!node.contains(&hash));
        prop_assert_eq!(
            node.import(checked, NOW, tie_key).err(),
            Some(BlockError::KnownInvalid(hash))
        );
    } else {
        let out = match res {
            Ok(out) => out,
            Err(e) => return Err(TestCaseError::fail(format!("losing bad block: {e}"))),
        };
        prop_assert_eq!(out.status, ImportStatus::Accepted);
        prop_assert!(out.tip_change.is_none());
        prop_assert!(node.contains(&hash), "stored, not yet connected");
    }
    prop_assert_eq!(
        before,
        (node.tip(), node.state().root(), node.canonical().to_vec())
    );
    check_node(node, params)
}

fn run_branches(tie: TieBreak, specs: Vec<BlockSpec>) -> Result<(), TestCaseError> {
    let params = params(tie);
    let cache = SigCache::new(4096);
    let mut node = ChainState::new(params.clone());
    let mut twin = Stepped::new(params.clone());
    let genesis = node.genesis();
    let mut model = Model {
        tree: Tree {
            blocks: HashMap::from([(genesis, (node.get(&genesis).unwrap().clone(), 0))]),
            order: vec![genesis],
            genesis,
        },
        tie,
        stored_seq: HashMap::from([(genesis, 0)]),
        tie_key: HashMap::from([(genesis, 0)]),
        bad_stored: 0,
    };
    let mut late = Vec::new();
    for spec in &specs {
        let tree = &mut model.tree;
        let n = tree.order.len();
        let parent = if spec.recent {
            tree.order[n - 1 - spec.parent.index(n.min(3))]
        } else {
            tree.order[spec.parent.index(n)]
        };
        if spec.bad && node.contains(&parent) {
            let mut bad = build_on(tree, parent, spec, &params, &cache);
            bad.header.state_root = Hash::sha256(&bad.header.state_root.0);
            grind(&mut bad.header, 0, u64::MAX).expect("a nonce exists");
            import_bad(
                &mut node,
                &mut twin,
                &mut model,
                Arc::new(bad),
                spec.tie_key,
                &params,
                &cache,
            )?;
            continue;
        }
        let block = Arc::new(build_on(tree, parent, spec, &params, &cache));
        let work = tree.blocks[&parent].1 + u128::from(block.header.difficulty());
        let hash = block.hash();
        tree.blocks.insert(hash, (block.clone(), work));
        tree.order.push(hash);
        if spec.late {
            late.push((block, spec.tie_key));
        } else {
            import_into(
                &mut node,
                &mut twin,
                &mut model,
                &block,
                spec.tie_key,
                &params,
                &cache,
            )?;
        }
    }
    for (block, tie_key) in late.iter().rev() {
        import_into(
            &mut node, &mut twin, &mut model, block, *tie_key, &params, &cache,
        )?;
    }
    // Delivering a block twice changes nothing.
    if let Some((block, tie_key)) = late.first() {
        let before = (node.tip(), node.state().root(), node.block_count());
        import_into(
            &mut node, &mut twin, &mut model, block, *tie_key, &params, &cache,
        )?;
        prop_assert_eq!(
            before,
            (node.tip(), node.state().root(), node.block_count())
        );
    }

    let tree = &model.tree;
    prop_assert_eq!(node.orphan_count(), 0);
    prop_assert_eq!(node.block_count(), tree.blocks.len() + model.bad_stored);
    prop_assert_eq!(model.stored_seq.len(), tree.blocks.len());
    for h in &tree.order {
        prop_assert!(node.contains(h));
    }
    let max_work = tree.blocks.values().map(|(_, w)| *w).max().unwrap();
    prop_assert_eq!(node.tip_work(), max_work);
    prop_assert_eq!(tree.blocks[&node.tip()].1, max_work);
    // Among the blocks of most work, the tie-break decides: the first stored, or the lowest
    // key (first stored among equal keys).
    let best = tree
        .order
        .iter()
        .filter(|h| tree.blocks[*h].1 == max_work)
        .min_by_key(|h| match tie {
            TieBreak::FirstSeen => (0, model.stored_seq[*h]),
            TieBreak::Random => (model.tie_key[*h], model.stored_seq[*h]),
        })
        .copied()
        .unwrap();
    prop_assert_eq!(node.tip(), best);
    // The best chain is exactly the path to the tip.
    let path: Vec<Hash> = std::iter::once(genesis)
        .chain(tree.path(node.tip()).iter().map(|b| b.hash()))
        .collect();
    prop_assert_eq!(node.canonical(), &path[..]);
    // The stepped twin's executor is a replay of its tree's best chain.
    prop_assert_eq!(twin.chain.canonical(), node.canonical());
    if let Err(e) = twin.exec.verify_replay(&twin.chain.best_refs()) {
        return Err(TestCaseError::fail(format!("stepped twin: {e}")));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 32,
        max_shrink_iters: 256,
        ..ProptestConfig::default()
    })]

    #[test]
    fn state_matches_replay_of_best_chain_after_competing_imports(
        tie in tie_break(),
        specs in prop::collection::vec(block_spec(), 1..40),
    ) {
        run_branches(tie, specs)?;
    }
}

// ---------------------------------------------------------------------------------------
// (b) Encoding
// ---------------------------------------------------------------------------------------

/// A really signed transaction (the common case on the wire).
fn signed_tx() -> impl Strategy<Value = Transaction> {
    (
        0..FUNDED,
        0..FUNDED + 2,
        any::<u64>(),
        any::<u64>(),
        any::<u64>(),
    )
        .prop_map(|(k, to, amount, fee, nonce)| {
            Transaction::new_signed(&keys()[k], 7, recipient(to), amount, fee, nonce)
        })
}

fn arb_block() -> impl Strategy<Value = Block> {
    arb_block_of(prop_oneof![arb_tx(), signed_tx()], 4)
}

/// Decodes untrusted bytes as both types; whatever decodes must re-encode to the same bytes.
fn decode_is_canonical(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(b) = decode::<Block>(bytes) {
        prop_assert_eq!(encode(&b), bytes.to_vec());
    }
    if let Ok(t) = decode::<Transaction>(bytes) {
        prop_assert_eq!(encode(&t), bytes.to_vec());
    }
    Ok(())
}

fn chain_mutation() -> impl Strategy<Value = Mutation> {
    mutation(prop_oneof![Just(u64::MAX), Just(1u64 << 32), any::<u64>()])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn transaction_round_trips(tx in prop_oneof![arb_tx(), signed_tx()]) {
        let bytes = encode(&tx);
        prop_assert_eq!(bytes.len() as u64, encoded_len(&tx));
        prop_assert_eq!(bytes.len() as u64, tx.size());
        let back: Transaction = decode(&bytes).unwrap();
        prop_assert_eq!(back.id(), tx.id());
        prop_assert_eq!(back, tx);
    }

    #[test]
    fn block_round_trips(block in arb_block()) {
        let bytes = encode(&block);
        prop_assert_eq!(bytes.len() as u64, block.size());
        let back: Block = decode(&bytes).unwrap();
        prop_assert_eq!(back.hash(), block.hash());
        prop_assert_eq!(&back, &block);
        // The header alone round-trips too, and is a prefix of the block encoding.
        let header_bytes = encode(&block.header);
        prop_assert_eq!(&bytes[..header_bytes.len()], &header_bytes[..]);
        prop_assert_eq!(decode::<BlockHeader>(&header_bytes).unwrap(), block.header);
    }

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in any::<Vec<u8>>()) {
        decode_is_canonical(&bytes)?;
    }

    #[test]
    fn decoding_block_sized_noise_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 140..700),
    ) {
        decode_is_canonical(&bytes)?;
    }

    #[test]
    fn decoding_mutated_encodings_never_panics(
        block in arb_block(),
        tx in prop_oneof![arb_tx(), signed_tx()],
        mutations in prop::collection::vec(chain_mutation(), 1..4),
    ) {
        for mut bytes in [encode(&block), encode(&tx)] {
            for m in &mutations {
                apply(&mut bytes, m);
            }
            decode_is_canonical(&bytes)?;
        }
    }

    #[test]
    fn truncated_or_extended_encodings_are_rejected(
        block in arb_block(),
        cut in any::<Index>(),
        extra in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let bytes = encode(&block);
        let cut = cut.index(bytes.len());
        prop_assert!(decode::<Block>(&bytes[..cut]).is_err());
        let mut longer = bytes.clone();
        longer.extend_from_slice(&extra);
        prop_assert!(decode::<Block>(&longer).is_err());
    }

    #[test]
    fn oversized_transaction_count_is_an_error(
        block in arb_block(),
        count in prop_oneof![Just(u64::MAX), (1u64 << 20)..u64::MAX],
    ) {
        // The count prefix follows the header; a claimed count the bytes cannot hold must
        // fail cleanly (no panic, no huge allocation).
        let mut bytes = encode(&block);
        let at = encode(&block.header).len();
        prop_assert_eq!(
            u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()),
            block.txs.len() as u64
        );
        bytes[at..at + 8].copy_from_slice(&count.to_le_bytes());
        prop_assert!(decode::<Block>(&bytes).is_err());
    }

    #[test]
    fn unknown_seal_variant_is_an_error(block in arb_block(), variant in 1..=u32::MAX) {
        // The seal's variant tag is the 4 bytes before its 16 bytes of payload at the end of
        // the header.
        let mut bytes = encode(&block);
        let at = encode(&block.header).len() - 16 - 4;
        prop_assert_eq!(&bytes[at..at + 4], &[0u8; 4][..]);
        bytes[at..at + 4].copy_from_slice(&variant.to_le_bytes());
        prop_assert!(decode::<Block>(&bytes).is_err());
    }
}
