//! Work that every node of a process would do alike, done once and shared
//! (docs/design.md, "Shared work across nodes").
//!
//! [`ExecCache`] remembers, per block hash, what executing that block on its parent's
//! post-state gave: the post-state (an O(1) clone of persistent maps, `chain::state`), the
//! undo record, the contract records, the accounts it touched, or the error. A block's hash
//! commits to its parent's hash, and so, back to genesis, to the whole branch below it; the
//! parent's post-state is a function of that branch (and of the chain parameters, which one
//! cache serves: it belongs to one `ChainParams`, as the nodes of a process share). So the
//! result is exactly what the node would have computed. As a second guard the entry keeps the
//! root of the state it was computed on, and a node whose state root differs never takes it.
//!
//! It also remembers the end-of-run replay of a chain, per tip ([`ExecCache::replay`]): the
//! replay runs once per distinct tip, from genesis and without the cache, and every node on
//! that tip compares its incrementally built state with it.
//!
//! And it remembers the median time past of recent blocks ([`ExecCache::median_time_past`]):
//! the median of a block's timestamp and its ten ancestors' is a function of the block's hash
//! alone (the hash commits to the ancestors, and every node holds every ancestor of a block
//! it holds), so each node of a process asking it of the same parent gets what its own walk
//! of its block tree would give.
//!
//! And it hands out, per block hash, the part of a block-tree entry that every node storing
//! the block derives alike (`BlockInfo`: the block, its transaction ids,
//! height, cumulative work and consensus state), so that the nodes of a process hold one copy
//! per block rather than one each. It keeps them by weak reference: a copy lives as long as a
//! node holds it, and the table is swept of dead references as it doubles.
//!
//! All four are bounded. A miss only recomputes, so what is evicted, and when, never changes a
//! result. Safe to share across threads (a mutex, held only to look up and insert, never
//! while executing).

use super::exec::execute_block;
use super::executor::{BlockRef, Records};
use super::params::ChainParams;
use super::state::{State, Undo};
use super::validation::BlockError;
use super::BlockInfo;
use crate::crypto::Address;
use crate::hash::{Hash, HashKey, HashMapById};
use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Entries kept by default: blocks (the highest heights are kept).
pub const DEFAULT_CAPACITY: usize = 256;

/// Replays kept (one per distinct tip).
const REPLAY_CAPACITY: usize = 16;

/// Slots of the median-time-past memo (direct-mapped: a collision only evicts).
const MTP_SLOTS: usize = 1024;

/// Size of the table of shared block parts at which it is first swept of dead references.
const BLOCK_INFO_SWEEP: usize = 1024;

/// A block applied on its parent's post-state.
#[derive(Clone, Debug)]
pub struct AppliedBlock {
    /// The state after the block.
    pub state: State,
    /// Reverts the block.
    pub undo: Arc<Undo>,
    /// What its contracts did (`None`: no contract work).
    pub records: Records,
    /// Every account the block's execution changed (its undo record's accounts), sorted,
    /// without repeats.
    pub changed: Arc<[Address]>,
    /// `changed` plus the block's miner, senders and recipients, sorted, without repeats.
    pub touched: Arc<[Address]>,
}

/// What executing a block on its parent gave.
#[derive(Clone, Debug)]
pub struct SharedApply {
    /// The root of the state it was applied on (the parent's post-state).
    pub parent_root: Hash,
    /// The block's height (for eviction).
    pub height: u64,
    /// The result.
    pub result: Result<AppliedBlock, BlockError>,
}

/// How often the cache answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Applications answered from the cache.
    pub hits: u64,
    /// Applications computed (and then remembered).
    pub misses: u64,
    /// Replays computed.
    pub replays: u64,
}

#[derive(Debug)]
struct Inner {
    map: HashMapById<Arc<SharedApply>>,
    /// Every entry by (height, hash): the lowest go first.
    order: BTreeSet<(u64, Hash)>,
    capacity: usize,
}

/// The shared parts of block entries, by block hash.
#[derive(Debug)]
struct BlockInfos {
    map: HashMapById<Weak<BlockInfo>>,
    /// The size at which dead references are next swept: twice the live ones after a sweep.
    sweep_at: usize,
}

#[derive(Debug, Default)]
struct Replays {
    done: VecDeque<(Hash, Arc<Result<State, String>>)>,
}

/// See the module doc.
#[derive(Debug)]
pub struct ExecCache {
    inner: Mutex<Inner>,
    replays: Mutex<Replays>,
    /// Median time past by block hash, direct-mapped by the hash's last bytes.
    mtp: Mutex<Vec<Option<(Hash, u64)>>>,
    /// Shared parts of block entries ([`BlockInfo`]).
    blocks: Mutex<BlockInfos>,
    hits: AtomicU64,
    misses: AtomicU64,
    replays_run: AtomicU64,
}

impl ExecCache {
    /// A cache of at most `capacity` blocks (at least 1), its table keyed by `key`. When
    /// full, the entry of lowest height goes: the nodes of a network apply blocks near the
    /// top, and a block reverted in a reorg is met again only near the top too.
    pub fn new(capacity: usize, key: HashKey) -> ExecCache {
        ExecCache {
            inner: Mutex::new(Inner {
                map: HashMapById::with_hasher(key),
                order: BTreeSet::new(),
                capacity: capacity.max(1),
            }),
            replays: Mutex::new(Replays::default()),
            mtp: Mutex::new(vec![None; MTP_SLOTS]),
            blocks: Mutex::new(BlockInfos {
                map: HashMapById::with_hasher(key),
                sweep_at: BLOCK_INFO_SWEEP,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            replays_run: AtomicU64::new(0),
        }
    }

    /// The result for block `hash` if it was computed on a state of root `parent_root`.
    pub fn get(&self, hash: &Hash, parent_root: &Hash) -> Option<Arc<SharedApply>> {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let hit = inner
            .map
            .get(hash)
            .filter(|e| e.parent_root == *parent_root)
            .cloned();
        drop(inner);
        if hit.is_some() {
            self.hits.fetch_add(1, Ordering::Relaxed);
        }
        hit
    }

    /// Remembers the result for block `hash`, evicting the lowest entries past the capacity.
    pub fn insert(&self, hash: Hash, entry: SharedApply) {
        self.misses.fetch_add(1, Ordering::Relaxed);
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let height = entry.height;
        if let Some(old) = inner.map.insert(hash, Arc::new(entry)) {
            inner.order.remove(&(old.height, hash));
        }
        inner.order.insert((height, hash));
        while inner.map.len() > inner.capacity {
            let Some((_, lowest)) = inner.order.pop_first() else {
                break;
            };
            inner.map.remove(&lowest);
        }
    }

    /// The median time past of block `hash` as `compute` (a node's walk of its block tree)
    /// gives it, computed once per process while remembered. A slot is taken by the block's
    /// last bytes (its first bytes are the zeros proof of work asks for): ids an attacker
    /// chose can only evict each other's, and a miss recomputes.
    pub fn median_time_past(&self, hash: &Hash, compute: impl FnOnce() -> u64) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&hash.0[24..]);
        let slot = (u64::from_le_bytes(word) % MTP_SLOTS as u64) as usize;
        {
            let memo = self.mtp.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((h, mtp)) = memo[slot] {
                if h == *hash {
                    return mtp;
                }
            }
        }
        let mtp = compute();
        self.mtp.lock().unwrap_or_else(|p| p.into_inner())[slot] = Some((*hash, mtp));
        mtp
    }

    /// The shared part of block `hash`'s entry that some node of the process holds, if it
    /// `fits` the asking node's block and branch ([`BlockInfo::fits`]).
    pub(super) fn block_info(
        &self,
        hash: &Hash,
        fits: impl Fn(&BlockInfo) -> bool,
    ) -> Option<Arc<BlockInfo>> {
        let found = {
            let t = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
            t.map.get(hash).and_then(Weak::upgrade)
        }?;
        fits(&found).then_some(found)
    }

    /// Offers `info`, the shared part of block `hash`'s entry as one node computed it, and
    /// returns the copy that node should hold: a live copy already offered that `fits` its
    /// block and branch (two nodes computed the same block at once), else `info`, which is
    /// remembered unless another live copy (of a different block or branch) holds the place.
    pub(super) fn offer_block_info(
        &self,
        hash: Hash,
        info: Arc<BlockInfo>,
        fits: impl Fn(&BlockInfo) -> bool,
    ) -> Arc<BlockInfo> {
        let mut t = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = t.map.get(&hash).and_then(Weak::upgrade) {
            if Arc::ptr_eq(&old, &info) || fits(&old) {
                return old;
            }
            return info;
        }
        t.map.insert(hash, Arc::downgrade(&info));
        if t.map.len() >= t.sweep_at {
            t.map.retain(|_, w| w.strong_count() > 0);
            t.sweep_at = (2 * t.map.len()).max(BLOCK_INFO_SWEEP);
        }
        info
    }

    /// Blocks held.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .map
            .len()
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How often it answered.
    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            replays: self.replays_run.load(Ordering::Relaxed),
        }
    }

    /// The state `best` (a chain after genesis, as the block tree holds it) replays to from
    /// `genesis_state`, or why it does not: computed once per tip, from genesis, without the
    /// block cache (so that it stays independent of every node's incremental application).
    pub fn replay(
        &self,
        best: &[BlockRef],
        genesis_state: &State,
        params: &ChainParams,
    ) -> Arc<Result<State, String>> {
        let tip = best.last().map_or(Hash::ZERO, |b| b.hash);
        {
            let r = self.replays.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((_, done)) = r.done.iter().find(|(h, _)| *h == tip) {
                return done.clone();
            }
        }
        let done = Arc::new(replay(best, genesis_state, params));
        self.replays_run.fetch_add(1, Ordering::Relaxed);
        let mut r = self.replays.lock().unwrap_or_else(|p| p.into_inner());
        if !r.done.iter().any(|(h, _)| *h == tip) {
            r.done.push_back((tip, done.clone()));
            while r.done.len() > REPLAY_CAPACITY {
                r.done.pop_front();
            }
        }
        done
    }
}

/// Replays `best` from `genesis_state`: the state it ends on, or the first failure.
///
/// # Errors
/// The block and transaction that did not apply.
pub fn replay(best: &[BlockRef], genesis_state: &State, p: &ChainParams) -> Result<State, String> {
    let mut replayed = genesis_state.clone();
    for (i, b) in best.iter().enumerate() {
        execute_block(&mut replayed, &b.block, &b.tx_ids, p.reward, &p.contracts)
            .map_err(|(t, e)| format!("replay of block at height {} tx {t}: {e}", i + 1))?;
    }
    Ok(replayed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::executor::{Executor, SwitchPlan};
    use crate::chain::ChainState;
    use crate::crypto::KeyPair;
    use crate::tx::Transaction;

    /// The memo answers what `compute` gave for that hash, computes only on a miss, and a
    /// hash that takes an occupied slot replaces its block (which is then computed again).
    #[test]
    fn median_time_past_is_remembered_per_hash_and_a_collision_only_recomputes() {
        let cache = ExecCache::new(4, HashKey::default());
        let a = Hash([7; 32]);
        let mut b = Hash([7; 32]);
        b.0[0] = 8; // same last bytes: the same slot
        let calls = std::cell::Cell::new(0);
        let count = |v: u64| {
            calls.set(calls.get() + 1);
            v
        };
        assert_eq!(cache.median_time_past(&a, || count(100)), 100);
        assert_eq!(cache.median_time_past(&a, || count(999)), 100);
        assert_eq!(calls.get(), 1, "a hit computes nothing");
        assert_eq!(cache.median_time_past(&b, || count(200)), 200);
        assert_eq!(cache.median_time_past(&a, || count(100)), 100);
        assert_eq!(calls.get(), 3, "b evicted a: a is computed again");
    }

    fn params(keys: &[KeyPair]) -> Arc<ChainParams> {
        Arc::new(ChainParams::for_tests(
            keys.iter().map(|k| (k.address(), 1_000_000)).collect(),
        ))
    }

    /// A chain of `n` blocks mined by `miner`, each with a transfer from every key (nonces
    /// from 0), amounts offset by `salt` so two branches differ.
    fn branch(
        p: &Arc<ChainParams>,
        keys: &[KeyPair],
        n: u64,
        miner: u8,
        salt: u64,
    ) -> Vec<BlockRef> {
        let mut c = ChainState::new(p.clone());
        let seal_key = KeyPair::from_seed(b"shared-tests");
        for i in 1..=n {
            let txs: Vec<Transaction> = keys
                .iter()
                .enumerate()
                .map(|(j, k)| {
                    let to = keys[(j + 1) % keys.len()].address();
                    Transaction::new_signed(k, p.chain_id, to, 10 * i + salt, 1 + j as u64, i - 1)
                })
                .collect();
            let mut block = c
                .build_block(&txs, Vec::new(), Address([miner; 20]), i * 1_000)
                .expect("the reward fits");
            assert_eq!(block.txs.len(), keys.len());
            let rule = c.next_rule(&block.header.parent);
            assert!(c
                .engine()
                .seal(&rule, &mut block.header, &seal_key, 0, u64::MAX));
            let checked =
                crate::chain::validation::check_block(Arc::new(block), c.params(), None).unwrap();
            c.import(checked, i * 1_000, 0).unwrap();
        }
        c.best_refs()
    }

    fn executor(p: &Arc<ChainParams>, cache: Option<Arc<ExecCache>>) -> Executor {
        let mut e = Executor::new(p.clone(), &p.genesis_block(), Arc::new(p.genesis_state()));
        e.share(cache);
        e
    }

    fn keys() -> Vec<KeyPair> {
        (0..4u8).map(|i| KeyPair::from_seed(&[b'k', i])).collect()
    }

    /// Everything a node observes of a switch: records, touched accounts and their values.
    fn observed(s: &crate::chain::executor::Switched) -> String {
        format!("{:?} {:?} {:?}", s.records, s.contract_touched, s.accounts)
    }

    #[test]
    fn a_cached_apply_equals_an_uncached_one_across_a_reorg() {
        let ks = keys();
        let p = params(&ks);
        let a = branch(&p, &ks, 3, 1, 0);
        let b = branch(&p, &ks, 4, 2, 5);
        assert_ne!(a[0].hash, b[0].hash);
        let cache = Arc::new(ExecCache::new(64, HashKey::default()));
        let mut plain = executor(&p, None);
        let mut first = executor(&p, Some(cache.clone()));
        let mut second = executor(&p, Some(cache.clone()));
        let to_a = |e: &Executor| SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: a.clone(),
        };
        let to_b = |e: &Executor| SwitchPlan {
            from: e.tip(),
            revert: a.iter().rev().cloned().collect(),
            apply: b.clone(),
        };
        let mut seen = Vec::new();
        for e in [&mut plain, &mut first, &mut second] {
            let s1 = e.switch(&to_a(e)).unwrap();
            let root_a = e.state().root();
            let s2 = e.switch(&to_b(e)).unwrap();
            // Back to a, one block at a time, then all of b again.
            let back = SwitchPlan {
                from: e.tip(),
                revert: b.iter().rev().cloned().collect(),
                apply: a.clone(),
            };
            let s3 = e.switch(&back).unwrap();
            assert_eq!(e.state().root(), root_a);
            e.verify_replay(&a).unwrap();
            let s4 = e.switch(&to_b(e)).unwrap();
            e.verify_replay(&b).unwrap();
            assert!(e.check_invariants(0, &b).is_empty());
            seen.push((
                [s1, s2, s3, s4].iter().map(observed).collect::<Vec<_>>(),
                e.state().clone(),
                e.undo_count(),
            ));
        }
        assert_eq!(
            seen[0], seen[1],
            "the first sharing executor computes as alone"
        );
        assert_eq!(
            seen[0], seen[2],
            "the second takes the same results from the cache"
        );
        let stats = cache.stats();
        assert_eq!(
            stats.misses, 7,
            "each of the 7 blocks executed once: {stats:?}"
        );
        assert!(stats.hits >= 7 + 7 + 3, "{stats:?}");
        assert_eq!(stats.replays, 2, "one replay per distinct tip: {stats:?}");
        // The states are shared, not copied: equal by value to the uncached one's.
        assert_eq!(seen[1].1.root(), b.last().unwrap().block.header.state_root);
    }

    #[test]
    fn an_entry_is_never_given_to_a_state_other_than_its_parent() {
        let ks = keys();
        let p = params(&ks);
        let a = branch(&p, &ks, 2, 1, 0);
        let cache = Arc::new(ExecCache::new(64, HashKey::default()));
        let mut e = executor(&p, Some(cache.clone()));
        let plan = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: a.clone(),
        };
        e.switch(&plan).unwrap();
        let genesis_root = p.genesis_state().root();
        let after_1 = cache.get(&a[0].hash, &genesis_root).expect("held");
        // Block 2 was computed on block 1's state, not on genesis.
        assert!(cache.get(&a[1].hash, &genesis_root).is_none());
        let on_1 = after_1.result.as_ref().unwrap().state.root();
        assert!(cache.get(&a[1].hash, &on_1).is_some());
        // A wrong result under the right key, recorded for another parent state, is never
        // taken: the executor recomputes and the chain still checks out.
        let bogus = SharedApply {
            parent_root: Hash::sha256(b"another state"),
            height: 1,
            result: Err(BlockError::BadStateRoot {
                expected: Hash::ZERO,
                got: Hash::ZERO,
            }),
        };
        let fresh = Arc::new(ExecCache::new(64, HashKey::default()));
        fresh.insert(a[0].hash, bogus);
        let mut other = executor(&p, Some(fresh.clone()));
        other.switch(&plan).unwrap();
        assert_eq!(other.state().root(), e.state().root());
        assert_eq!(fresh.stats().hits, 0);
    }

    #[test]
    fn eviction_keeps_the_highest_blocks_and_a_miss_recomputes() {
        let ks = keys();
        let p = params(&ks);
        let a = branch(&p, &ks, 5, 1, 0);
        let cache = Arc::new(ExecCache::new(2, HashKey::default()));
        let mut e = executor(&p, Some(cache.clone()));
        let plan = SwitchPlan {
            from: p.genesis_block().hash(),
            revert: Vec::new(),
            apply: a.clone(),
        };
        e.switch(&plan).unwrap();
        assert_eq!(cache.len(), 2);
        let mut again = executor(&p, Some(cache.clone()));
        again.switch(&plan).unwrap();
        assert_eq!(again.state(), e.state());
        assert_eq!(cache.stats().misses, 5 + 3, "{:?}", cache.stats());
    }

    #[test]
    fn the_replay_check_still_catches_a_wrong_live_state() {
        let ks = keys();
        let p = params(&ks);
        let a = branch(&p, &ks, 2, 1, 0);
        let cache = Arc::new(ExecCache::new(64, HashKey::default()));
        let mut e = executor(&p, Some(cache.clone()));
        let plan = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: a.clone(),
        };
        e.switch(&plan).unwrap();
        e.verify_replay(&a).unwrap();
        // The replay of this tip is remembered; a state that differs from it is still
        // reported (here: the executor claims the chain stops one block earlier).
        let err = e.verify_replay(&a[..1]).unwrap_err();
        assert!(err.contains("height"), "{err}");
        let replayed = cache.replay(&a, &p.genesis_state(), &p);
        assert_eq!(replayed.as_ref().as_ref().unwrap(), e.state());
        // A live state broken after the fact (as a wrong incremental step would leave it)
        // differs from the remembered replay.
        let mut undo = Undo::default();
        e.state_mut()
            .credit(Address([7; 20]), 1, &mut undo)
            .unwrap();
        let err = e.verify_replay(&a).unwrap_err();
        assert!(err.contains("accounts differ"), "{err}");
        assert_eq!(cache.stats().replays, 1, "{:?}", cache.stats());
    }
}
