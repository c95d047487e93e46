//! A process's memo of proof-of-stake crypto, shared by every clone of one [`super::Pos`] (so by
//! every node of a process): lottery evaluations, VRF proofs, proposer signatures and consensus
//! items that verified, and derived VRF keys. Results never depend on it (a miss recomputes the same
//! value), so determinism is unaffected; it only saves work: every node verifies each block's
//! proof and signature, and every validator evaluates its VRF for every slot, again after each
//! tip change.
//!
//! Lottery evaluations are kept in chunks of up to [`CHUNK`] consecutive slots of one epoch per
//! (VRF key, η): a scan over a horizon of slots costs one lookup per chunk, and a large validator set's
//! horizon fits in a few megabytes. Each table evicts first-in first-out.
//!
//! Chunks can also be evaluated ahead of need ([`PosCache::prefetch`]) by one background thread,
//! while the simulation runs on its own: a validator's producer asks for the next epoch's chunks
//! as soon as the branch fixes that epoch's nonce. A chunk the simulation needs before the
//! thread got to it is taken off the queue and evaluated at once; one the thread is evaluating
//! is waited for. Either way the values are the same; only the wall time differs.

use super::vrf::VrfKey;
use crate::crypto::{KeyPair, PublicKey};
use crate::hash::{Hash, HashKey};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};

/// Slots per lottery chunk.
pub const CHUNK: u64 = 64;

const LOTTERY_CHUNKS: usize = 16_384;
const VERIFIED: usize = 65_536;
const KEYS: usize = 4_096;

/// A bounded map, evicting first-in first-out (lookups only: never iterated).
#[derive(Debug)]
struct Bounded<K, V> {
    map: HashMap<K, V, HashKey>,
    order: VecDeque<K>,
    capacity: usize,
}

impl<K: std::hash::Hash + Eq + Clone, V: Clone> Bounded<K, V> {
    fn new(capacity: usize) -> Self {
        Bounded {
            map: HashMap::with_hasher(HashKey::derive(0, "pos-cache", 0)),
            order: VecDeque::new(),
            capacity,
        }
    }

    fn get(&self, k: &K) -> Option<V> {
        self.map.get(k).cloned()
    }

    fn insert(&mut self, k: K, v: V) {
        if self.map.insert(k.clone(), v).is_some() {
            return;
        }
        self.order.push_back(k);
        while self.order.len() > self.capacity {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }
}

type ChunkKey = ([u8; 32], Hash, u64);

/// A lottery evaluation, shareable with the background thread.
pub type Eval = Arc<dyn Fn(u64) -> u128 + Send + Sync>;

/// One chunk to evaluate ahead of need.
struct Job {
    key: ChunkKey,
    end: u64,
    eval: Eval,
}

/// The background thread's queue.
#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// The keys of `jobs` (a producer asks at every plan: no scan of the queue per chunk).
    queued: std::collections::HashSet<ChunkKey>,
    /// The chunk the thread is evaluating.
    busy: Option<ChunkKey>,
    /// The memo is gone: the thread ends.
    closed: bool,
    started: bool,
}

#[derive(Default)]
struct Prefetch {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the memo closes.
    work: Condvar,
    /// Signalled when the thread finished a chunk.
    done: Condvar,
}

/// Most chunks queued ahead of need (older requests are dropped first).
const MAX_QUEUED: usize = LOTTERY_CHUNKS / 2;

struct Inner {
    lottery: Mutex<Bounded<ChunkKey, Arc<[u128]>>>,
    prefetch: Arc<Prefetch>,
    vrf_ok: Mutex<Bounded<Hash, u128>>,
    header_ok: Mutex<Bounded<Hash, ()>>,
    item_ok: Mutex<Bounded<Hash, ()>>,
    keys: Mutex<Bounded<PublicKey, Arc<VrfKey>>>,
    evaluations: AtomicU64,
    verifications: AtomicU64,
}

/// See the module doc. Cloning shares the memo.
#[derive(Clone)]
pub struct PosCache(Arc<Inner>);

impl Default for PosCache {
    fn default() -> Self {
        PosCache(Arc::new(Inner {
            lottery: Mutex::new(Bounded::new(LOTTERY_CHUNKS)),
            prefetch: Arc::default(),
            vrf_ok: Mutex::new(Bounded::new(VERIFIED)),
            header_ok: Mutex::new(Bounded::new(VERIFIED)),
            item_ok: Mutex::new(Bounded::new(VERIFIED)),
            keys: Mutex::new(Bounded::new(KEYS)),
            evaluations: AtomicU64::new(0),
            verifications: AtomicU64::new(0),
        }))
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        lock(&self.prefetch.queue).closed = true;
        self.prefetch.work.notify_all();
    }
}

/// The background thread: evaluates queued chunks into the memo until it is dropped.
fn worker(memo: Weak<Inner>, p: Arc<Prefetch>) {
    loop {
        let job = {
            let mut q = lock(&p.queue);
            loop {
                if q.closed {
                    return;
                }
                if let Some(job) = q.jobs.pop_front() {
                    q.queued.remove(&job.key);
                    q.busy = Some(job.key);
                    break job;
                }
                q = p.work.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let Some(inner) = memo.upgrade() else {
            return;
        };
        if lock(&inner.lottery).get(&job.key).is_none() {
            let first = job.key.2;
            let chunk: Arc<[u128]> = (first..job.end).map(|x| (job.eval)(x)).collect();
            inner
                .evaluations
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            lock(&inner.lottery).insert(job.key, chunk);
        }
        drop(inner);
        lock(&p.queue).busy = None;
        p.done.notify_all();
    }
}

impl std::fmt::Debug for PosCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (e, v) = self.stats();
        write!(f, "PosCache(evaluations {e}, verifications {v})")
    }
}

/// Whether chunks are evaluated on two threads (asked once: the answer reads the cgroup).
fn parallel() -> bool {
    static TWO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TWO.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() >= 2))
}

/// `eval` of the slots `first..end`, in order.
fn fill(first: u64, end: u64, eval: &(impl Fn(u64) -> u128 + Sync)) -> Arc<[u128]> {
    if !parallel() || end <= first + 1 {
        return (first..end).map(eval).collect();
    }
    let mid = first + (end - first) / 2;
    std::thread::scope(|sc| {
        let upper = sc.spawn(move || (mid..end).map(eval).collect::<Vec<u128>>());
        let mut v: Vec<u128> = (first..mid).map(eval).collect();
        match upper.join() {
            Ok(u) => v.extend(u),
            // The evaluation panicked on the other thread: do the half here (it will again).
            Err(_) => v.extend((mid..end).map(eval)),
        }
        v.into()
    })
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl PosCache {
    /// The VRF key of `key`, derived once.
    pub fn vrf_key(&self, key: &KeyPair) -> Arc<VrfKey> {
        if let Some(k) = lock(&self.0.keys).get(&key.public) {
            return k;
        }
        let k = Arc::new(VrfKey::from_keypair(key));
        lock(&self.0.keys).insert(key.public, k.clone());
        k
    }

    /// The lottery values of the slots `first..end` (a chunk: at most `CHUNK` (64) slots of one
    /// epoch, always cut the same way for a given `first`) for the key `vrf_public` under
    /// nonce `eta`; `eval(s)` computes one on a miss (on two threads when the machine has two
    /// cores: evaluations are pure, so the values do not depend on it).
    pub fn lottery_chunk(
        &self,
        vrf_public: &[u8; 32],
        eta: &Hash,
        first: u64,
        end: u64,
        eval: impl Fn(u64) -> u128 + Sync,
    ) -> Arc<[u128]> {
        let k = (*vrf_public, *eta, first);
        if let Some(c) = lock(&self.0.lottery).get(&k) {
            return c;
        }
        // Ahead-of-need evaluation: wait for the chunk the thread is on, take this one off
        // the queue, and evaluate here on one thread while the other one works.
        let p = &self.0.prefetch;
        let mut q = lock(&p.queue);
        while q.busy == Some(k) {
            q = p.done.wait(q).unwrap_or_else(|e| e.into_inner());
        }
        if let Some(c) = lock(&self.0.lottery).get(&k) {
            return c;
        }
        if q.queued.remove(&k) {
            q.jobs.retain(|j| j.key != k);
        }
        let worker_busy = q.busy.is_some() || !q.jobs.is_empty();
        drop(q);
        let chunk = if worker_busy {
            (first..end).map(&eval).collect()
        } else {
            fill(first, end, &eval)
        };
        self.0
            .evaluations
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        lock(&self.0.lottery).insert(k, chunk.clone());
        chunk
    }

    /// Queues the chunks `(first, end)` of `vrf_public` under `eta` for evaluation ahead of
    /// need on the background thread (started at the first call; never on a one-core
    /// machine, where it would only take turns with the simulation). Chunks already known or
    /// queued are skipped.
    pub fn prefetch(&self, vrf_public: &[u8; 32], eta: &Hash, chunks: &[(u64, u64)], eval: Eval) {
        if !parallel() {
            return;
        }
        let p = &self.0.prefetch;
        let mut q = lock(&p.queue);
        for &(first, end) in chunks {
            let key = (*vrf_public, *eta, first);
            if q.busy == Some(key)
                || q.queued.contains(&key)
                || lock(&self.0.lottery).get(&key).is_some()
            {
                continue;
            }
            q.queued.insert(key);
            q.jobs.push_back(Job {
                key,
                end,
                eval: eval.clone(),
            });
            if q.jobs.len() > MAX_QUEUED {
                if let Some(old) = q.jobs.pop_front() {
                    q.queued.remove(&old.key);
                }
            }
        }
        if !q.started && !q.jobs.is_empty() {
            q.started = true;
            let (memo, shared) = (Arc::downgrade(&self.0), p.clone());
            let spawned = std::thread::Builder::new()
                .name("pos-lottery".into())
                .spawn(move || worker(memo, shared));
            if spawned.is_err() {
                // No thread: everything is evaluated when needed, as without prefetching.
                q.jobs.clear();
                q.queued.clear();
            }
        }
        drop(q);
        p.work.notify_one();
    }

    /// The lottery value of a VRF proof that verified before (`key` commits to the public
    /// key, the input, the output and the proof bytes).
    pub fn verified_vrf(&self, key: &Hash) -> Option<u128> {
        lock(&self.0.vrf_ok).get(key)
    }

    /// Notes a VRF proof that verified (`checked`: by [`super::vrf::verify`], counted; else
    /// made here), with its lottery value.
    pub fn note_vrf(&self, key: Hash, value: u128, checked: bool) {
        if checked {
            self.0.verifications.fetch_add(1, Ordering::Relaxed);
        }
        lock(&self.0.vrf_ok).insert(key, value);
    }

    /// True when the header with this hash (which commits to its signature) verified before.
    pub fn verified_header(&self, hash: &Hash) -> bool {
        lock(&self.0.header_ok).get(hash).is_some()
    }

    /// Notes a header whose proposer signature verified.
    pub fn note_header(&self, hash: Hash) {
        lock(&self.0.header_ok).insert(hash, ());
    }

    /// True when the item with this id (which commits to its signatures) checked in itself
    /// before.
    pub fn checked_item(&self, id: &Hash) -> bool {
        lock(&self.0.item_ok).get(id).is_some()
    }

    /// Notes an item that checked in itself.
    pub fn note_item(&self, id: Hash) {
        lock(&self.0.item_ok).insert(id, ());
    }

    /// (VRF evaluations made for the lottery, VRF proofs verified) so far: the work the memo
    /// did not save.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.0.evaluations.load(Ordering::Relaxed),
            self.0.verifications.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_maps_evict_the_oldest() {
        let mut b = Bounded::new(2);
        b.insert(1u32, 'a');
        b.insert(2, 'b');
        b.insert(1, 'c');
        b.insert(3, 'd');
        assert_eq!(b.get(&1), None);
        assert_eq!(b.get(&2), Some('b'));
        assert_eq!(b.get(&3), Some('d'));
    }

    #[test]
    fn chunks_are_computed_once() {
        let c = PosCache::default();
        let eta = Hash::sha256(b"e");
        let a = c.lottery_chunk(&[1; 32], &eta, 64, 128, u128::from);
        assert_eq!(a[70 - 64], 70);
        assert_eq!(a.len(), 64);
        let b = c.lottery_chunk(&[1; 32], &eta, 64, 128, |_| 0);
        assert_eq!(b[127 - 64], 127);
        assert_eq!(c.stats().0, CHUNK);
        let short = c.lottery_chunk(&[2; 32], &eta, 5, 6, u128::from);
        assert_eq!(&short[..], &[5]);
    }

    #[test]
    fn prefetched_chunks_are_evaluated_once_whoever_gets_there_first() {
        let c = PosCache::default();
        let eta = Hash::sha256(b"p");
        let eval: Eval = Arc::new(|x| u128::from(x) * 3);
        let chunks: Vec<(u64, u64)> = (0..8).map(|i| (i * CHUNK, (i + 1) * CHUNK)).collect();
        c.prefetch(&[7; 32], &eta, &chunks, eval.clone());
        c.prefetch(&[7; 32], &eta, &chunks, eval.clone());
        // Needed now, in reverse order: each is either ready, being evaluated (waited for),
        // or still queued (taken off the queue and evaluated here).
        for &(first, end) in chunks.iter().rev() {
            let got = c.lottery_chunk(&[7; 32], &eta, first, end, |x| u128::from(x) * 3);
            assert_eq!(got.len() as u64, CHUNK);
            assert_eq!(got[5], u128::from(first + 5) * 3);
        }
        assert_eq!(c.stats().0, 8 * CHUNK, "no chunk was evaluated twice");
        // Known chunks are not queued again.
        c.prefetch(&[7; 32], &eta, &chunks, eval);
        assert!(lock(&c.0.prefetch.queue).jobs.is_empty());
    }
}
