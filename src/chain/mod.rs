//! The block tree of one node: fork choice by the consensus engine's weight (most cumulative
//! work for proof of work), never below a final block, reorgs that revert and re-apply state,
//! a bounded orphan pool, sync helpers and block templates.
//!
//! Blocks off the best chain are kept after their header checks; their transactions are
//! checked against state only when their branch becomes the best one (as Bitcoin does).
//! A branch that fails is marked invalid and the node stays on its previous tip.

pub mod deferred;
pub mod exec;
pub mod executor;
pub mod intake;
mod orphans;
pub mod params;
mod rebuild;
pub mod shared;
mod sidebranch;
pub mod state;
pub mod store;
pub mod validation;

pub use deferred::Deferred;
pub use rebuild::{mark_genesis, RebuildError, GENESIS_KEY};

use crate::block::{Block, BlockHeader, CheckedBlock, SharedItem};
use crate::consensus::{Ancestry, BranchState, BranchTip, Consensus, SealRule};
use crate::crypto::Address;
use crate::hash::{rekey_map, Hash, HashKey, HashMapById, TxId};
use crate::tx::Transaction;
use exec::ExecRecord;
use executor::{
    BlockRef, Executor, Records, SwitchFailed, SwitchPlan, Switched, TemplateError, TemplateFrame,
};
use orphans::OrphanPool;
use params::ChainParams;
use shared::ExecCache;
use smallvec::SmallVec;
use state::{Account, Map, State};
use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::{Arc, Weak};
use validation::BlockError;

/// How many past timestamps the median-time-past rule looks at.
pub const MTP_WINDOW: usize = 11;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Header checked; transactions not yet applied to state.
    Pending,
    /// Connected once; valid.
    Valid,
    /// Failed, or has a failed ancestor.
    Invalid,
}

/// What every node that stores a block derives alike from it: the block, its transaction ids,
/// and what follows from its branch (height, cumulative work, the consensus engine's state).
/// Immutable; with a process-wide cache ([`ChainState::share`], `chain::shared`) the nodes of
/// a process hold one copy per block instead of one each.
///
/// Why sharing it changes nothing any node observes: a node takes another's copy only when
/// its own block is that copy's block (the same `Arc`, or equal), and the copy was built on the
/// very copy this node holds for the parent (`parent`). By induction down to genesis (whose
/// copy has no parent, and is taken only for an equal genesis block), the two nodes hold the
/// same blocks all along the branch, so every field, a function of the block and its
/// ancestors alone (`height` and `total_work` of the headers, `consensus` of
/// [`Consensus::child_state`], which reads the parent's state and the block, under the one
/// engine of the process's `ChainParams`), is what this node would have computed. (An engine
/// whose `child_state` read blocks off the branch through [`Ancestry`], such as the node's
/// tip, would make the state the node's own: it could not be shared. None does.) What
/// depends on the node (its tie-break draw, whether it connected the block or found it
/// invalid, the records of its own execution, the children it stored) stays in [`Entry`].
#[derive(Debug)]
pub(crate) struct BlockInfo {
    block: Arc<Block>,
    tx_ids: Arc<Vec<TxId>>,
    height: u64,
    total_work: u128,
    /// The consensus engine's state after this block ([`Consensus::child_state`]).
    consensus: BranchState,
    /// The parent's copy this one was built on (none for genesis): a weak reference, which
    /// keeps the parent's allocation (so its address is never reused while this copy lives)
    /// but not the parent itself.
    parent: Weak<BlockInfo>,
}

impl BlockInfo {
    /// Whether this copy can stand for `block` whose parent's copy is `parent` (`None`:
    /// genesis): see the type's doc.
    pub(crate) fn fits(&self, block: &Arc<Block>, parent: Option<&Arc<BlockInfo>>) -> bool {
        let same_parent = match parent {
            Some(p) => std::ptr::eq(self.parent.as_ptr(), Arc::as_ptr(p)),
            None => self.parent.ptr_eq(&Weak::new()),
        };
        same_parent && (Arc::ptr_eq(&self.block, block) || *self.block == **block)
    }
}

/// One node's record of a block in its tree: the part every node shares ([`BlockInfo`]) and
/// what is this node's own.
#[derive(Clone, Debug)]
struct Entry {
    info: Arc<BlockInfo>,
    tie_key: u64,
    status: Status,
    /// What its contracts did, once connected (`None` when nothing: no contract work).
    records: Option<Arc<[ExecRecord]>>,
    /// Its stored children: nearly always one, held in place. Kept in the entry rather than
    /// in a table of its own, which cost a second key and bucket per block and node.
    children: SmallVec<[Hash; 1]>,
}

/// What an import did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportStatus {
    /// Already known.
    Duplicate,
    /// Parent unknown: the block waits in the orphan pool.
    Orphan {
        /// The hash to fetch.
        missing: Hash,
    },
    /// Stored in the tree (and maybe connected).
    Accepted,
}

/// A change of the best tip.
#[derive(Clone, Debug, Default)]
pub struct TipChange {
    /// Tip before.
    pub old_tip: Hash,
    /// Tip after.
    pub new_tip: Hash,
    /// Height after.
    pub new_height: u64,
    /// Blocks reverted from the old best chain (0 for a plain extension).
    pub reorg_depth: u64,
    /// Blocks now on the best chain that were not before, in order.
    pub connected: Vec<Arc<Block>>,
    /// Ids of the transactions of `connected`.
    pub included: Vec<TxId>,
    /// Transactions of reverted blocks that the new chain does not hold.
    pub reverted_txs: Vec<Transaction>,
    /// The blocks reverted from the old best chain, parents first (the vote pool takes back
    /// their consensus items).
    pub reverted: Vec<Arc<Block>>,
    /// Accounts touched by reverted or connected blocks, with their new values.
    pub changed: Vec<(Address, Account)>,
    /// Every account at the new tip (the executor's state map, shared, not copied): a mirror
    /// of the accounts can take it whole instead of adding `changed` to an older base.
    pub accounts: Option<Map<Address, Account>>,
    /// What the contracts of `connected` blocks did: (index into `connected`, records), for
    /// the blocks that did contract work.
    pub records: Vec<(usize, Arc<[ExecRecord]>)>,
    /// What a child of the new tip must carry (for block producers).
    pub next_rule: Option<SealRule>,
}

/// Result of [`ChainState::import`].
#[derive(Clone, Debug)]
pub struct ImportOutcome {
    /// What happened to the block itself.
    pub status: ImportStatus,
    /// Blocks newly stored (the block, then orphans it unlocked), parents first, with their
    /// hashes.
    pub accepted: Vec<(Hash, Arc<Block>)>,
    /// Set when the best tip moved.
    pub tip_change: Option<TipChange>,
    /// Orphans unlocked by this block that turned out invalid.
    pub rejected_orphans: usize,
}

/// An import in progress ([`ChainState::start_import`]): the arriving block, then the orphans
/// it unlocks, one at a time. It pauses whenever fork choice needs the executor to switch
/// branches ([`Step::Switch`]) and goes on with its answer ([`ChainState::resume`]).
#[derive(Debug)]
pub struct ImportJob {
    old_tip: Hash,
    now_ms: u64,
    tie_key: u64,
    out: ImportOutcome,
    queue: VecDeque<CheckedBlock>,
    first: bool,
    pending: Option<Pending>,
    /// Set when the import is over before its next step.
    done: Option<Result<ImportOutcome, BlockError>>,
    /// The accounts the job's switches changed, with their latest values.
    accounts: BTreeMap<Address, Account>,
    /// Every account after the job's last switch.
    state_accounts: Option<Map<Address, Account>>,
    /// The accounts changed by each contract block the job's switches applied.
    contract_touched: BTreeMap<Hash, Vec<Address>>,
    /// A stored block to make the tip if fork choice prefers it ([`ChainState::start_switch`]).
    switch_to: Option<Hash>,
}

/// The switch an import waits for.
#[derive(Debug)]
struct Pending {
    /// The block whose arrival made its branch the best.
    block: Arc<Block>,
    /// Whether it is the imported block (not an orphan it unlocked).
    first: bool,
    /// How many best-chain blocks the switch reverts.
    revert: usize,
    /// The branch it applies, parents first.
    apply: Vec<Hash>,
    /// A switch to a stored block ([`ChainState::start_switch`]): nothing new is stored.
    stored_before: bool,
}

/// What an import needs next.
// One per import step, returned and matched at once: boxing the outcome would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Step {
    /// The executor must switch branches: give its answer to [`ChainState::resume`].
    Switch(SwitchPlan),
    /// The import is over.
    Done(Result<ImportOutcome, BlockError>),
}

/// How a producer stamps its blocks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stamp {
    /// Its clock's time, raised to the rules' floor.
    #[default]
    Now,
    /// A timewarp attacker's (`[[adversary]] kind = "timewarp"`, docs/experiments.md): a
    /// block whose child retargets (it ends a window) as late as receivers accept (its clock
    /// plus `max_future_ms`), every other block as early as the rules allow (just past the
    /// median time past, and the engine's floor).
    Warp,
}

/// The tie key of an orphan connected by an import with key `key`: derived from that key
/// and the orphan's hash, so each block gets its own.
pub fn mix_key(key: u64, hash: &Hash) -> u64 {
    let h = Hash::sha256_parts(&[&key.to_le_bytes(), &hash.0]);
    u64::from_le_bytes(h.0[..8].try_into().expect("8 bytes"))
}

/// One node's view of the chain.
#[derive(Debug)]
pub struct ChainState {
    params: Arc<ChainParams>,
    engine: Arc<dyn Consensus>,
    genesis: Hash,
    entries: HashMapById<Entry>,
    canonical: Vec<Hash>,
    /// The state of the best chain, when it is executed in place (tests, reloading a store);
    /// `None` once a runtime moved it to its executor actor ([`ChainState::take_executor`]).
    exec: Option<Box<Executor>>,
    orphans: OrphanPool,
    /// The lowest height a side branch may leave the best chain from (`sidebranch.rs`).
    fork_floor: u64,
    /// Side branches leaving below this height, and undo data at or below it, are pruned.
    pruned_below: u64,
    /// Whether the fork floor is enforced (off while a store is reloaded: what was stored
    /// was accepted then).
    fork_rules: bool,
    /// Whether `ChainParams::favor` applies (not at the favoured miners' own nodes).
    favor_applies: bool,
    /// A double-spend attacker's private branch: fork choice adopts only branches through
    /// it ([`ChainState::go_private`]).
    private: Option<PrivateBranch>,
    /// Work shared with the other nodes of the process ([`ChainState::share`]).
    shared: Option<Arc<ExecCache>>,
}

/// A double-spend attacker's private branch ([`ChainState::go_private`]): from `base` (the
/// tip when it began, at `height`), only blocks mined by `miner`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrivateBranch {
    /// The fork point.
    pub base: Hash,
    /// Its height.
    pub height: u64,
    /// The attacker's miner address.
    pub miner: Address,
}

impl ChainState {
    /// Keys the tables of blocks by hash with `key` (a node's [`HashKey::derive`]d key: side
    /// branches at low difficulty are cheap, so their hashes are attacker-chosen bytes).
    pub fn set_hash_key(&mut self, key: HashKey) {
        rekey_map(&mut self.entries, key);
    }

    /// A chain holding only genesis.
    pub fn new(params: Arc<ChainParams>) -> ChainState {
        let genesis = Arc::new(params.genesis_block());
        let state = Arc::new(params.genesis_state());
        ChainState::from_genesis(params, genesis, state)
    }

    /// A chain holding only the given genesis block and state, which must be
    /// `params.genesis_block()` and `params.genesis_state()` (computed once and shared by
    /// the nodes of a cluster, as building the genesis state hashes every account).
    pub fn from_genesis(
        params: Arc<ChainParams>,
        genesis: Arc<Block>,
        genesis_state: Arc<State>,
    ) -> ChainState {
        let engine = Arc::new(params.engine.clone());
        ChainState::with_engine(params, engine, genesis, genesis_state)
    }

    /// As [`ChainState::from_genesis`], with a consensus engine other than the one `params`
    /// names (tests of the seam; engines under development).
    pub fn with_engine(
        params: Arc<ChainParams>,
        engine: Arc<dyn Consensus>,
        genesis: Arc<Block>,
        genesis_state: Arc<State>,
    ) -> ChainState {
        let hash = genesis.hash();
        let exec = Executor::new(params.clone(), &genesis, genesis_state);
        let mut entries = HashMapById::default();
        entries.insert(
            hash,
            Entry {
                info: Arc::new(BlockInfo {
                    block: genesis,
                    tx_ids: Arc::new(Vec::new()),
                    height: 0,
                    total_work: 0,
                    consensus: engine.genesis_state(&hash),
                    parent: Weak::new(),
                }),
                tie_key: 0,
                status: Status::Valid,
                records: None,
                children: SmallVec::new(),
            },
        );
        ChainState {
            exec: Some(Box::new(exec)),
            params,
            engine,
            genesis: hash,
            entries,
            canonical: vec![hash],
            orphans: OrphanPool::default(),
            fork_floor: 0,
            pruned_below: 0,
            fork_rules: true,
            favor_applies: true,
            private: None,
            shared: None,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &Arc<ChainParams> {
        &self.params
    }
    /// The consensus engine.
    pub fn engine(&self) -> &Arc<dyn Consensus> {
        &self.engine
    }
    /// Genesis hash.
    pub fn genesis(&self) -> Hash {
        self.genesis
    }
    /// Best tip.
    pub fn tip(&self) -> Hash {
        *self.canonical.last().expect("genesis is always canonical")
    }
    /// Best height.
    pub fn height(&self) -> u64 {
        (self.canonical.len() - 1) as u64
    }
    /// Cumulative work of the best chain.
    pub fn tip_work(&self) -> u128 {
        self.entries[&self.tip()].info.total_work
    }
    /// State at the tip, from the executor in place.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn state(&self) -> &State {
        self.local().state()
    }

    /// The executor in place, if it was not moved out.
    pub fn executor(&self) -> Option<&Executor> {
        self.exec.as_deref()
    }

    /// Moves the executor out, to run in its own actor: from then on the chain is driven
    /// through [`ChainState::start_import`], [`ChainState::step`] and [`ChainState::resume`],
    /// and every method that reads or builds on the state ([`ChainState::import`],
    /// [`ChainState::state`], [`ChainState::build_block`], [`ChainState::view`],
    /// [`ChainState::verify_replay`], [`ChainState::undo_count`]) panics.
    pub fn take_executor(&mut self) -> Option<Executor> {
        self.exec.take().map(|e| *e)
    }

    fn local(&self) -> &Executor {
        self.exec
            .as_deref()
            .expect("the executor was moved out of this chain")
    }

    fn local_mut(&mut self) -> &mut Executor {
        self.exec
            .as_deref_mut()
            .expect("the executor was moved out of this chain")
    }

    /// The best chain after genesis, as the executor takes blocks.
    pub fn best_refs(&self) -> Vec<BlockRef> {
        self.canonical[1..]
            .iter()
            .map(|h| self.block_ref(h))
            .collect()
    }

    fn block_ref(&self, hash: &Hash) -> BlockRef {
        let e = &self.entries[hash];
        BlockRef {
            hash: *hash,
            block: e.info.block.clone(),
            tx_ids: e.info.tx_ids.clone(),
        }
    }
    /// Best-chain hashes from genesis to tip.
    pub fn canonical(&self) -> &[Hash] {
        &self.canonical
    }
    /// Whether the tree holds `hash` (valid or pending).
    pub fn contains(&self, hash: &Hash) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| e.status != Status::Invalid)
    }
    /// Whether the block waits in the orphan pool.
    pub fn is_orphan(&self, hash: &Hash) -> bool {
        self.orphans.hashes.contains(hash)
    }
    /// Number of orphans waiting.
    pub fn orphan_count(&self) -> usize {
        self.orphans.by_seq.len()
    }

    /// What the contracts of the connected block `hash` did (`None`: nothing, or not
    /// connected).
    pub fn records(&self, hash: &Hash) -> Option<Arc<[ExecRecord]>> {
        self.entries.get(hash)?.records.clone()
    }

    /// The block `hash`, if stored.
    pub fn get(&self, hash: &Hash) -> Option<&Arc<Block>> {
        self.entries.get(hash).map(|e| &e.info.block)
    }
    /// Number of blocks in the tree (all branches, genesis included).
    pub fn block_count(&self) -> usize {
        self.entries.len()
    }

    fn is_canonical(&self, hash: &Hash) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| self.canonical.get(e.info.height as usize) == Some(hash))
    }

    /// The ancestor of `hash` at `height` (walks back to the best chain, then indexes it).
    fn ancestor(&self, mut hash: Hash, height: u64) -> Option<Hash> {
        loop {
            let e = self.entries.get(&hash)?;
            if e.info.height < height {
                return None;
            }
            if e.info.height == height {
                return Some(hash);
            }
            if self.is_canonical(&hash) {
                return self.canonical.get(height as usize).copied();
            }
            hash = e.info.block.header.parent;
        }
    }

    /// Median of the timestamps of `hash` and up to ten ancestors.
    pub fn median_time_past(&self, hash: Hash) -> u64 {
        match &self.shared {
            Some(shared) => shared.median_time_past(&hash, || self.walk_median_time_past(hash)),
            None => self.walk_median_time_past(hash),
        }
    }

    /// Shares work with the other nodes of the process through `cache` (the median time past
    /// of recent blocks, and the part of each stored block every node derives alike:
    /// `chain::shared`), or stops sharing (`None`).
    ///
    /// Sharing, the blocks already stored take the process's copies of their shared parts
    /// (`BlockInfo`), or offer theirs, parents first. One cache serves the nodes of one
    /// `ChainParams` and consensus engine (those of a process).
    pub fn share(&mut self, cache: Option<Arc<ExecCache>>) {
        self.shared = cache;
        let Some(cache) = self.shared.clone() else {
            return;
        };
        let mut order: Vec<(u64, Hash)> = self
            .entries
            .iter()
            .map(|(h, e)| (e.info.height, *h))
            .collect();
        order.sort_unstable();
        for (_, hash) in order {
            let info = &self.entries[&hash].info;
            let parent = if hash == self.genesis {
                None
            } else {
                match self.entries.get(&info.block.header.parent) {
                    Some(p) => Some(p.info.clone()),
                    // Not stored: nothing can vouch for its branch; it keeps its own part.
                    None => continue,
                }
            };
            // The parent may have taken another node's copy (an equal block on an equal
            // branch, see `BlockInfo`): this block's part is then rebuilt on that copy.
            let own = match &parent {
                Some(p) if !std::ptr::eq(info.parent.as_ptr(), Arc::as_ptr(p)) => {
                    Arc::new(BlockInfo {
                        block: info.block.clone(),
                        tx_ids: info.tx_ids.clone(),
                        height: info.height,
                        total_work: info.total_work,
                        consensus: info.consensus.clone(),
                        parent: Arc::downgrade(p),
                    })
                }
                _ => info.clone(),
            };
            let block = own.block.clone();
            let taken =
                cache.offer_block_info(hash, own, |i: &BlockInfo| i.fits(&block, parent.as_ref()));
            if let Some(e) = self.entries.get_mut(&hash) {
                e.info = taken;
            }
        }
    }

    fn walk_median_time_past(&self, mut hash: Hash) -> u64 {
        let mut ts = Vec::with_capacity(MTP_WINDOW);
        while ts.len() < MTP_WINDOW {
            let Some(e) = self.entries.get(&hash) else {
                break;
            };
            ts.push(e.info.block.header.timestamp_ms);
            if e.info.height == 0 {
                break;
            }
            hash = e.info.block.header.parent;
        }
        ts.sort_unstable();
        ts.get(ts.len() / 2).copied().unwrap_or(0)
    }

    /// What a child of `parent` must carry, by the consensus engine's rule.
    pub fn next_rule(&self, parent: &Hash) -> SealRule {
        self.engine.rule_for_child(self, parent)
    }

    fn check_header(&self, header: &BlockHeader, now_ms: u64) -> Result<(), BlockError> {
        let p = &self.entries[&header.parent];
        if p.status == Status::Invalid {
            return Err(BlockError::InvalidAncestor(header.parent));
        }
        if header.height != p.info.height + 1 {
            return Err(BlockError::BadHeight {
                expected: p.info.height + 1,
                got: header.height,
            });
        }
        self.engine.check_against_parent(self, header)?;
        let median = self.median_time_past(header.parent);
        // Genesis counts: a block at height 1 must be later than genesis.
        if header.timestamp_ms <= median {
            return Err(BlockError::TimestampTooOld {
                ts: header.timestamp_ms,
                median,
            });
        }
        if header.timestamp_ms > now_ms.saturating_add(self.params.max_future_ms) {
            return Err(BlockError::TimestampTooNew {
                ts: header.timestamp_ms,
                now: now_ms,
                max_ahead: self.params.max_future_ms,
            });
        }
        Ok(())
    }

    /// Imports a checked block at local time `now_ms`; `tie_key` is this node's random draw for
    /// the block (used by the `random` tie-break). Runs the import to its end with the
    /// executor in place ([`ChainState::start_import`] is the same in steps).
    ///
    /// # Errors
    /// The contextual check the block (or, when it would become the tip, its branch) fails.
    /// On error the best chain and state are as before.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn import(
        &mut self,
        block: CheckedBlock,
        now_ms: u64,
        tie_key: u64,
    ) -> Result<ImportOutcome, BlockError> {
        let job = self.start_import(block, now_ms, tie_key);
        self.run_in_place(job)
    }

    /// Makes the stored block `target` the tip if fork choice prefers it to the tip now, with
    /// the executor in place ([`ChainState::start_switch`] is the same in steps).
    ///
    /// # Errors
    /// The branch fails its checks against state.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn switch_to(&mut self, target: Hash, now_ms: u64) -> Result<ImportOutcome, BlockError> {
        let job = self.start_switch(target, now_ms);
        self.run_in_place(job)
    }

    fn run_in_place(&mut self, mut job: ImportJob) -> Result<ImportOutcome, BlockError> {
        loop {
            match self.step(&mut job) {
                Step::Switch(plan) => {
                    let result = self.local_mut().switch(&plan);
                    self.resume(&mut job, result);
                }
                Step::Done(out) => return out,
            }
        }
    }

    /// Starts importing a checked block (see [`ChainState::import`]): drive the job with
    /// [`ChainState::step`], giving the executor's answer to each [`Step::Switch`] to
    /// [`ChainState::resume`]. Nothing else may change the chain while a job runs.
    pub fn start_import(&mut self, block: CheckedBlock, now_ms: u64, tie_key: u64) -> ImportJob {
        let mut job = self.new_job(now_ms, tie_key);
        let hash = block.hash;
        if let Some(e) = self.entries.get(&hash) {
            job.done = Some(if e.status == Status::Invalid {
                Err(BlockError::KnownInvalid(hash))
            } else {
                Ok(self.outcome(ImportStatus::Duplicate))
            });
            return job;
        }
        let parent = block.block.header.parent;
        if !self.entries.contains_key(&parent) {
            if !self.orphans.hashes.contains(&hash) {
                self.orphans.insert(block, self.params.max_orphans);
            }
            job.done = Some(Ok(self.outcome(ImportStatus::Orphan { missing: parent })));
            return job;
        }
        job.queue.push_back(block);
        job
    }

    fn new_job(&self, now_ms: u64, tie_key: u64) -> ImportJob {
        ImportJob {
            old_tip: self.tip(),
            now_ms,
            tie_key,
            out: self.outcome(ImportStatus::Accepted),
            queue: VecDeque::new(),
            first: true,
            pending: None,
            done: None,
            accounts: BTreeMap::new(),
            state_accounts: None,
            contract_touched: BTreeMap::new(),
            switch_to: None,
        }
    }

    /// Starts making the stored block `target` the tip, if fork choice prefers it to the tip
    /// now (see [`ChainState::start_import`] for driving the job): what a node does when a rule
    /// that held it back is lifted ([`ChainState::leave_private`]). Nothing is stored, so the
    /// outcome accepts no block; an unknown or less preferred `target` changes nothing.
    pub fn start_switch(&mut self, target: Hash, now_ms: u64) -> ImportJob {
        let mut job = self.new_job(now_ms, 0);
        job.switch_to = Some(target);
        job
    }

    /// Runs an import until it needs the executor ([`Step::Switch`]) or is over.
    ///
    /// # Panics
    /// When the job waits for [`ChainState::resume`].
    pub fn step(&mut self, job: &mut ImportJob) -> Step {
        assert!(job.pending.is_none(), "an import waits for its switch");
        if let Some(done) = job.done.take() {
            return Step::Done(done);
        }
        if let Some(target) = job.switch_to.take() {
            if self.contains(&target) && target != self.tip() && self.better_than_tip(&target) {
                let plan = self.switch_plan(target);
                let apply: Vec<Hash> = plan.apply.iter().map(|b| b.hash).collect();
                if let Some(failed) = self.first_invalid(&apply) {
                    return Step::Done(Err(self.branch_failed(&apply, failed)));
                }
                job.pending = Some(Pending {
                    block: self.entries[&target].info.block.clone(),
                    first: true,
                    revert: plan.revert.len(),
                    apply,
                    stored_before: true,
                });
                return Step::Switch(plan);
            }
        }
        while let Some(b) = job.queue.pop_front() {
            let h = b.hash;
            let first = std::mem::replace(&mut job.first, false);
            let key = if first {
                job.tie_key
            } else {
                mix_key(job.tie_key, &h)
            };
            let (block, new) = match self.store_block(b, job.now_ms, key) {
                Ok(stored) => stored,
                Err(e) if first => return Step::Done(Err(e)),
                Err(_) => {
                    job.out.rejected_orphans += 1;
                    continue;
                }
            };
            if !new || !self.better_than_tip(&h) {
                self.stored(job, h, block);
                continue;
            }
            let plan = self.switch_plan(h);
            let apply: Vec<Hash> = plan.apply.iter().map(|b| b.hash).collect();
            if let Some(failed) = self.first_invalid(&apply) {
                let e = self.branch_failed(&apply, failed);
                if first {
                    return Step::Done(Err(e));
                }
                job.out.rejected_orphans += 1;
                continue;
            }
            job.pending = Some(Pending {
                block,
                first,
                revert: plan.revert.len(),
                apply,
                stored_before: false,
            });
            return Step::Switch(plan);
        }
        // An unlocked orphan stored before a later one made its branch the best, which then
        // failed, is invalid now: it must not be persisted, traced or announced.
        let mut out = std::mem::replace(&mut job.out, self.outcome(ImportStatus::Accepted));
        let before = out.accepted.len();
        out.accepted.retain(|(h, _)| self.contains(h));
        out.rejected_orphans += before - out.accepted.len();
        self.finish_tip_change(&mut out, job);
        self.raise_fork_floor();
        Step::Done(Ok(out))
    }

    /// Gives an import the executor's answer to its [`Step::Switch`]: the branch becomes the
    /// best chain, or is marked invalid from the block that failed (and the chain stays).
    ///
    /// # Panics
    /// When the job does not wait for a switch.
    pub fn resume(&mut self, job: &mut ImportJob, result: Result<Switched, SwitchFailed>) {
        let p = job.pending.take().expect("an import waits for its switch");
        match result {
            Ok(done) => {
                self.settle(p.revert, &p.apply, done.records);
                job.accounts.extend(done.accounts);
                job.state_accounts = Some(done.state_accounts);
                job.contract_touched.extend(done.contract_touched);
                if !p.stored_before {
                    let target = *p.apply.last().expect("a switch applies its target");
                    self.stored(job, target, p.block);
                }
            }
            Err(failed) => {
                let e = self.branch_failed(&p.apply, failed);
                if p.first {
                    job.done = Some(Err(e));
                } else {
                    job.out.rejected_orphans += 1;
                }
            }
        }
    }

    /// A block is in the tree: it counts as accepted, and the orphans waiting for it follow.
    fn stored(&mut self, job: &mut ImportJob, hash: Hash, block: Arc<Block>) {
        job.out.accepted.push((hash, block));
        job.queue.extend(self.orphans.take_children(&hash));
    }

    fn outcome(&self, status: ImportStatus) -> ImportOutcome {
        ImportOutcome {
            status,
            accepted: Vec::new(),
            tip_change: None,
            rejected_orphans: 0,
        }
    }

    /// Inserts one block whose parent is known (after its contextual checks). Returns the
    /// block and whether it is new.
    fn store_block(
        &mut self,
        b: CheckedBlock,
        now_ms: u64,
        tie_key: u64,
    ) -> Result<(Arc<Block>, bool), BlockError> {
        if self.entries.contains_key(&b.hash) {
            return Ok((b.block, false));
        }
        self.check_header(&b.block.header, now_ms)?;
        self.check_fork(&b.block.header.parent)?;
        let parent = self.entries[&b.block.header.parent].info.clone();
        let entry = Entry {
            info: self.block_info(&b, &parent)?,
            tie_key,
            status: Status::Pending,
            records: None,
            children: SmallVec::new(),
        };
        let hash = b.hash;
        self.entries.insert(hash, entry);
        if let Some(parent) = self.entries.get_mut(&b.block.header.parent) {
            parent.children.push(hash);
        }
        Ok((b.block, true))
    }

    /// The shared part of the entry of `b`, a child of the block whose part is `parent`: the
    /// process's copy when another node stored it ([`BlockInfo`]), else computed here (and
    /// offered to the other nodes).
    fn block_info(
        &self,
        b: &CheckedBlock,
        parent: &Arc<BlockInfo>,
    ) -> Result<Arc<BlockInfo>, BlockError> {
        let fits = |i: &BlockInfo| i.fits(&b.block, Some(parent));
        if let Some(found) = self
            .shared
            .as_ref()
            .and_then(|c| c.block_info(&b.hash, fits))
        {
            return Ok(found);
        }
        let info = Arc::new(BlockInfo {
            consensus: self.engine.child_state(self, &parent.consensus, &b.block)?,
            height: parent.height + 1,
            total_work: parent.total_work + self.engine.weight(&b.block.header),
            block: b.block.clone(),
            tx_ids: b.tx_ids.clone(),
            parent: Arc::downgrade(parent),
        });
        Ok(match &self.shared {
            Some(c) => c.offer_block_info(b.hash, info, fits),
            None => info,
        })
    }

    fn branch_tip(&self, hash: &Hash) -> BranchTip {
        let e = &self.entries[hash];
        BranchTip {
            weight: e.info.total_work,
            height: e.info.height,
            tie_key: e.tie_key,
            priority: self.engine.tie_priority(&e.info.block.header),
        }
    }

    /// Whether the engine prefers the branch ending at `hash` to the best chain, and adopting
    /// it reverts no final block.
    fn better_than_tip(&self, hash: &Hash) -> bool {
        if self.private.is_some() && !self.on_private_branch(hash) {
            return false;
        }
        let tip = self.tip();
        let tie = self.params.tie_break;
        let (candidate, current) = (self.branch_tip(hash), self.branch_tip(&tip));
        let preferred = match self.favored_tie(hash, &tip) {
            Some(wins) if candidate.weight == current.weight => wins,
            _ => self.engine.prefers(&candidate, &current, tie),
        };
        if !preferred {
            return false;
        }
        match self.engine.finalized(self, &tip) {
            None => true,
            Some(f) => {
                let height = self.entries.get(&f).map_or(0, |e| e.info.height);
                self.ancestor(*hash, height) == Some(f)
            }
        }
    }

    /// Under `ChainParams::favor`: whether the candidate `hash` wins a tie against `tip`
    /// when a favoured miner made one of the two and not the other (`None`: the rule does not
    /// apply). The node sides with the favoured block when that block's tie key wins, whichever
    /// of the two it saw first, so a share `gamma` of the nodes ends on it.
    fn favored_tie(&self, hash: &Hash, tip: &Hash) -> Option<bool> {
        let favor = self.params.favor.as_ref().filter(|_| self.favor_applies)?;
        let (c, t) = (&self.entries[hash], &self.entries[tip]);
        let favored = |e: &Entry| favor.miners.contains(&e.info.block.header.miner);
        match (favored(c), favored(t)) {
            (true, false) => Some(favor.wins(c.tie_key)),
            (false, true) => Some(!favor.wins(t.tie_key)),
            _ => None,
        }
    }

    /// The node is one of the favoured miners' (an adversary's): `ChainParams::favor` does
    /// not apply to its fork choice.
    pub fn exempt_from_favor(&mut self) {
        self.favor_applies = false;
    }

    /// A double-spend attacker's node starts a private branch on its tip: from now on fork
    /// choice adopts only branches through the tip whose blocks above it were all mined by
    /// `miner`, however heavy the others (they are stored as side branches). Replaces any
    /// private branch before. Set and cleared by the runtime; honest nodes never call it.
    pub fn go_private(&mut self, miner: Address) -> PrivateBranch {
        let p = PrivateBranch {
            base: self.tip(),
            height: self.height(),
            miner,
        };
        self.private = Some(p);
        p
    }

    /// Back to plain fork choice. Branches it held back are adopted when the next block
    /// arrives on them, or at once with [`ChainState::start_switch`].
    pub fn leave_private(&mut self) {
        self.private = None;
    }

    /// The private branch, while there is one.
    pub fn private_branch(&self) -> Option<PrivateBranch> {
        self.private
    }

    /// Whether the branch ending at `hash` goes through the private branch's base with only
    /// the attacker's blocks above it (true without a private branch).
    fn on_private_branch(&self, hash: &Hash) -> bool {
        let Some(p) = &self.private else {
            return true;
        };
        let mut h = *hash;
        loop {
            if h == p.base {
                return true;
            }
            let Some(e) = self.entries.get(&h) else {
                return false;
            };
            if e.info.height <= p.height || e.info.block.header.miner != p.miner {
                return false;
            }
            h = e.info.block.header.parent;
        }
    }

    /// What makes `target` the tip: the best-chain blocks above the fork point to revert, the
    /// branch up to `target` to apply.
    fn switch_plan(&self, target: Hash) -> SwitchPlan {
        let mut branch = Vec::new();
        let mut h = target;
        while !self.is_canonical(&h) {
            branch.push(self.block_ref(&h));
            h = self.entries[&h].info.block.header.parent;
        }
        branch.reverse();
        let fork_height = self.entries[&h].info.height as usize;
        SwitchPlan {
            from: self.tip(),
            revert: self.canonical[fork_height + 1..]
                .iter()
                .rev()
                .map(|c| self.block_ref(c))
                .collect(),
            apply: branch,
        }
    }

    /// A branch holding a block already known invalid fails there, without executing.
    fn first_invalid(&self, apply: &[Hash]) -> Option<SwitchFailed> {
        let index = apply
            .iter()
            .position(|h| self.entries[h].status == Status::Invalid)?;
        Some(SwitchFailed {
            index,
            error: BlockError::InvalidAncestor(apply[index]),
        })
    }

    /// Makes a switch the executor did part of the best chain.
    fn settle(&mut self, revert: usize, apply: &[Hash], records: Vec<Records>) {
        self.canonical.truncate(self.canonical.len() - revert);
        for (h, r) in apply.iter().zip(records) {
            self.canonical.push(*h);
            if let Some(e) = self.entries.get_mut(h) {
                e.status = Status::Valid;
                e.records = r;
            }
        }
    }

    /// A branch failed at `failed.index`: that block and everything after it is invalid.
    fn branch_failed(&mut self, apply: &[Hash], failed: SwitchFailed) -> BlockError {
        for bad in &apply[failed.index..] {
            self.mark_invalid(*bad);
        }
        failed.error
    }

    /// Makes `target` the tip with the executor in place: disconnects down to the fork point,
    /// connects the new branch (or, when a block of it fails, marks it invalid and stays).
    fn reorg_to(&mut self, target: Hash) -> Result<(), BlockError> {
        let plan = self.switch_plan(target);
        let apply: Vec<Hash> = plan.apply.iter().map(|b| b.hash).collect();
        let result = match self.first_invalid(&apply) {
            Some(failed) => Err(failed),
            None => self.local_mut().switch(&plan),
        };
        match result {
            Ok(done) => {
                self.settle(plan.revert.len(), &apply, done.records);
                Ok(())
            }
            Err(failed) => Err(self.branch_failed(&apply, failed)),
        }
    }

    /// Marks a block and every stored descendant invalid.
    fn mark_invalid(&mut self, hash: Hash) {
        let mut stack = vec![hash];
        while let Some(h) = stack.pop() {
            if let Some(e) = self.entries.get_mut(&h) {
                e.status = Status::Invalid;
                stack.extend(e.children.iter().copied());
            }
        }
    }

    fn finish_tip_change(&self, out: &mut ImportOutcome, job: &ImportJob) {
        let old_tip = job.old_tip;
        let new_tip = self.tip();
        if new_tip == old_tip {
            return;
        }
        let mut reverted = Vec::new();
        let mut h = old_tip;
        while !self.is_canonical(&h) {
            reverted.push(h);
            h = self.entries[&h].info.block.header.parent;
        }
        let fork_height = self.entries[&h].info.height as usize;
        let connected: Vec<Arc<Block>> = self.canonical[fork_height + 1..]
            .iter()
            .map(|c| self.entries[c].info.block.clone())
            .collect();
        let records = self.canonical[fork_height + 1..]
            .iter()
            .enumerate()
            .filter_map(|(i, c)| Some((i, self.entries[c].records.clone()?)))
            .collect();
        let included: Vec<TxId> = self.canonical[fork_height + 1..]
            .iter()
            .flat_map(|c| self.entries[c].info.tx_ids.iter().copied())
            .collect();
        let included_set: HashSet<TxId> = included.iter().copied().collect();
        let mut touched = BTreeSet::new();
        let mut reverted_txs = Vec::new();
        for r in reverted.iter().rev() {
            let e = &self.entries[r];
            touched.insert(e.info.block.header.miner);
            for (tx, id) in e.info.block.txs.iter().zip(e.info.tx_ids.iter()) {
                touched.insert(tx.sender());
                touched.insert(tx.to);
                if !included_set.contains(id) {
                    reverted_txs.push(tx.clone());
                }
            }
        }
        for b in &connected {
            touched.insert(b.header.miner);
            for tx in &b.txs {
                touched.insert(tx.sender());
                touched.insert(tx.to);
            }
        }
        // Contracts move value to accounts no transaction names (a contract's `transfer`, a
        // refund): the executor listed every account a connected block's execution changed.
        for c in &self.canonical[fork_height + 1..] {
            if let Some(t) = job.contract_touched.get(c) {
                touched.extend(t.iter().copied());
            }
        }
        // Every switch of the job reported the accounts it may have changed, with their
        // values after it: the last report of each is its value now.
        debug_assert!(touched.iter().all(|a| job.accounts.contains_key(a)));
        out.tip_change = Some(TipChange {
            old_tip,
            new_tip,
            new_height: self.height(),
            reorg_depth: reverted.len() as u64,
            connected,
            included,
            reverted_txs,
            reverted: reverted
                .iter()
                .rev()
                .map(|r| self.entries[r].info.block.clone())
                .collect(),
            changed: touched
                .into_iter()
                .map(|a| (a, job.accounts.get(&a).cloned().unwrap_or_default()))
                .collect(),
            accounts: job.state_accounts.clone(),
            records,
            next_rule: Some(self.next_rule(&new_tip)),
        });
    }

    /// A block locator: the tip, then hashes back at doubling distances, then genesis.
    pub fn locator(&self) -> Vec<Hash> {
        let mut out = Vec::new();
        let mut step = 1usize;
        let mut i = self.canonical.len() as i64 - 1;
        while i > 0 {
            out.push(self.canonical[i as usize]);
            if out.len() >= 10 {
                step *= 2;
            }
            i -= step as i64;
        }
        out.push(self.genesis);
        out
    }

    /// The locator that continues a sync whose last reply ended with `last`: `last` first
    /// when it is stored, then [`ChainState::locator`]. The peer then sends what follows
    /// `last` on its chain, even when that reply did not move this node's tip (its own branch
    /// is heavier): with the best chain's locator alone it would send the same blocks again,
    /// and the sync would never end.
    pub fn continuation_locator(&self, last: Option<Hash>) -> Vec<Hash> {
        let mut out: Vec<Hash> = last.filter(|h| self.contains(h)).into_iter().collect();
        out.extend(self.locator());
        out
    }

    /// Best-chain blocks after the first locator hash found on the best chain: at most `max`
    /// and, past the first, at most `max_bytes` encoded; the flag says whether more follow.
    pub fn blocks_after(
        &self,
        locator: &[Hash],
        max: usize,
        max_bytes: u64,
    ) -> (Vec<Arc<Block>>, bool) {
        let start = locator
            .iter()
            .find(|h| self.is_canonical(h))
            .map(|h| self.entries[h].info.height as usize)
            .unwrap_or(0);
        let mut out = Vec::new();
        let mut bytes = 0u64;
        for h in self.canonical.iter().skip(start + 1) {
            let block = &self.entries[h].info.block;
            let size = crate::encoding::encoded_len(&**block);
            if out.len() >= max || (!out.is_empty() && bytes + size > max_bytes) {
                return (out, true);
            }
            bytes += size;
            out.push(block.clone());
        }
        (out, false)
    }

    /// The frame of a block template on the tip at local time `now_ms`: the timestamp is
    /// `now_ms`, raised if needed past the median time past and to the engine's earliest (the
    /// time-warp rule); the seal is the engine's unfilled seal for the tip's child.
    pub fn template_frame(&self, now_ms: u64) -> TemplateFrame {
        self.template_frame_stamped(now_ms, Stamp::Now)
    }

    /// As [`ChainState::template_frame`], with the timestamp chosen as `stamp` says.
    pub fn template_frame_stamped(&self, now_ms: u64, stamp: Stamp) -> TemplateFrame {
        let tip = self.tip();
        let height = self.height() + 1;
        let earliest = self
            .median_time_past(tip)
            .saturating_add(1)
            .max(self.engine.earliest_timestamp(self, &tip));
        let timestamp_ms = match stamp {
            Stamp::Now => now_ms.max(earliest),
            Stamp::Warp if self.params.engine.ends_window(height) => now_ms
                .saturating_add(self.params.max_future_ms)
                .max(earliest),
            Stamp::Warp => earliest,
        };
        TemplateFrame {
            parent: tip,
            height,
            timestamp_ms,
            seal: self.engine.template_seal(&self.next_rule(&tip)),
        }
    }

    /// Builds an unsealed block on the tip from candidate transactions, with the executor in
    /// place ([`ChainState::template_frame`], then [`Executor::build`]). The nonce is left at 0.
    ///
    /// # Errors
    /// [`TemplateError::Apply`] when the reward cannot be credited to `miner` (its balance
    /// would overflow): no valid block can pay this miner.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn build_block(
        &mut self,
        candidates: &[Transaction],
        items: Vec<SharedItem>,
        miner: Address,
        now_ms: u64,
    ) -> Result<Block, TemplateError> {
        let frame = self.template_frame(now_ms);
        self.local_mut().build(&frame, candidates, items, miner)
    }

    /// Runs `method` of `contract` read-only on the tip's state ([`Executor::view`]).
    ///
    /// # Errors
    /// Why the execution failed.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn view(
        &mut self,
        contract: Address,
        method: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, crate::contract::ExecError> {
        self.local_mut().view(contract, method, args)
    }

    /// Replays the best chain from genesis and compares with the live state
    /// ([`Executor::verify_replay`]).
    ///
    /// # Errors
    /// A description of the first difference.
    ///
    /// # Panics
    /// When the executor was moved out ([`ChainState::take_executor`]).
    pub fn verify_replay(&self) -> Result<(), String> {
        self.local().verify_replay(&self.best_refs())
    }
}

impl Ancestry for ChainState {
    fn header(&self, hash: &Hash) -> Option<&BlockHeader> {
        self.entries.get(hash).map(|e| &e.info.block.header)
    }
    fn ancestor(&self, hash: &Hash, height: u64) -> Option<Hash> {
        ChainState::ancestor(self, *hash, height)
    }
    fn branch_state(&self, hash: &Hash) -> Option<&BranchState> {
        self.entries.get(hash).map(|e| &e.info.consensus)
    }
}

#[cfg(test)]
mod finality_tests {
    use super::*;
    use crate::block::Seal;
    use crate::consensus::pow::Pow;
    use crate::consensus::{Plan, Producer, SealError, TieBreak};
    use crate::crypto::KeyPair;

    fn seal_and_check(mut block: Block, c: &ChainState) -> CheckedBlock {
        let key = KeyPair::from_seed(b"producer");
        let rule = c.next_rule(&block.header.parent);
        assert!(c.engine().seal(&rule, &mut block.header, &key, 0, u64::MAX));
        validation::check_block(Arc::new(block), c.params(), None).expect("sealed block checks")
    }

    /// Proof of work, except that the block at height 2 of any branch is final.
    #[derive(Debug)]
    struct FinalAtTwo(Pow);

    impl Consensus for FinalAtTwo {
        fn name(&self) -> &'static str {
            "final-at-two"
        }
        fn genesis_seal(&self, chain_id: u32) -> Seal {
            self.0.genesis_seal(chain_id)
        }
        fn check_seal(&self, header: &BlockHeader, hash: &Hash) -> Result<(), SealError> {
            self.0.check_seal(header, hash)
        }
        fn rule_for_child(&self, chain: &dyn Ancestry, parent: &Hash) -> SealRule {
            self.0.rule_for_child(chain, parent)
        }
        fn check_against_parent(
            &self,
            chain: &dyn Ancestry,
            header: &BlockHeader,
        ) -> Result<(), SealError> {
            self.0.check_against_parent(chain, header)
        }
        fn weight(&self, header: &BlockHeader) -> u128 {
            self.0.weight(header)
        }
        fn prefers(&self, candidate: &BranchTip, tip: &BranchTip, tie: TieBreak) -> bool {
            self.0.prefers(candidate, tip, tie)
        }
        fn finalized(&self, chain: &dyn Ancestry, tip: &Hash) -> Option<Hash> {
            chain.ancestor(tip, 2)
        }
        fn template_seal(&self, rule: &SealRule) -> Seal {
            self.0.template_seal(rule)
        }
        fn plan(
            &self,
            rule: &SealRule,
            producer: &Producer<'_>,
            rng: &mut dyn rand::RngCore,
        ) -> Plan {
            self.0.plan(rule, producer, rng)
        }
        fn seal(
            &self,
            rule: &SealRule,
            header: &mut BlockHeader,
            key: &KeyPair,
            start: u64,
            tries: u64,
        ) -> bool {
            self.0.seal(rule, header, key, start, tries)
        }
    }

    fn chain(engine: Option<Arc<dyn Consensus>>) -> ChainState {
        let params = Arc::new(ChainParams::for_tests(Vec::new()));
        let genesis = Arc::new(params.genesis_block());
        let state = Arc::new(params.genesis_state());
        match engine {
            Some(e) => ChainState::with_engine(params, e, genesis, state),
            None => ChainState::from_genesis(params, genesis, state),
        }
    }

    /// Mines `n` empty blocks on `c`'s tip, importing each; returns them.
    fn extend(c: &mut ChainState, n: u64, miner: u8) -> Vec<CheckedBlock> {
        (0..n)
            .map(|_| {
                let now = 1_000 * (c.height() + 1);
                let block = c
                    .build_block(&[], Vec::new(), Address([miner; 20]), now)
                    .expect("the reward fits");
                let checked = seal_and_check(block, c);
                c.import(checked.clone(), now, 0).expect("valid block");
                checked
            })
            .collect()
    }

    #[test]
    fn a_sync_continues_after_the_last_block_received_even_off_the_best_chain() {
        let mut a = chain(None);
        let mut b = chain(None);
        let shared = extend(&mut a, 1, 1);
        b.import(shared[0].clone(), 1_000, 0).unwrap();
        extend(&mut a, 3, 1); // a: heights 1..4
        let side = extend(&mut b, 2, 2); // b: heights 2..3 on another branch: lighter for a
        for blk in side.iter().cloned() {
            a.import(blk, 10_000, 0).unwrap();
        }
        let last = side[1].hash;
        assert_ne!(a.tip(), last, "the side branch did not move a's tip");
        let locator = a.continuation_locator(Some(last));
        assert_eq!(locator[0], last);
        assert_eq!(&locator[1..], &a.locator()[..]);
        // A block the node did not store is left out.
        assert_eq!(a.continuation_locator(Some(Hash::ZERO)), a.locator());
    }

    #[test]
    fn a_warped_stamp_is_late_at_a_window_end_and_early_elsewhere() {
        let mut c = chain(None);
        extend(&mut c, 8, 1); // heights 1..8, stamped 1 s apart; the block at 9 ends a window
        let now = 100_000;
        let late = c.template_frame_stamped(now, Stamp::Warp);
        assert_eq!(late.height, 9);
        assert_eq!(late.timestamp_ms, now + c.params().max_future_ms);
        assert_eq!(c.template_frame_stamped(now, Stamp::Now).timestamp_ms, now);
        extend(&mut c, 1, 1);
        let early = c.template_frame_stamped(now, Stamp::Warp);
        assert_eq!(early.height, 10);
        let mtp = c.median_time_past(c.tip());
        assert!(
            early.timestamp_ms > mtp && early.timestamp_ms <= mtp + 1,
            "{early:?}"
        );
    }

    #[test]
    fn a_heavier_branch_is_adopted_unless_it_reverts_a_final_block() {
        let crate::consensus::Engine::Pow(pow) = ChainParams::for_tests(Vec::new()).engine else {
            panic!("proof of work")
        };
        for final_at_two in [false, true] {
            let engine: Option<Arc<dyn Consensus>> =
                final_at_two.then(|| Arc::new(FinalAtTwo(pow.clone())) as Arc<dyn Consensus>);
            let mut a = chain(engine.clone());
            let mut b = chain(engine);
            let first = extend(&mut a, 1, 1);
            b.import(first[0].clone(), 1_000, 0).unwrap();
            extend(&mut a, 2, 1); // a: heights 1..3, final at 2 when the engine says so
            let fork = extend(&mut b, 3, 2); // b: heights 2..4 from a's block 1: heavier
            let a_tip = a.tip();
            let results: Vec<_> = fork.into_iter().map(|b| a.import(b, 10_000, 0)).collect();
            if final_at_two {
                assert!(
                    matches!(results[0], Err(BlockError::ForkTooDeep { floor: 2, .. })),
                    "a fork below the final block is refused: {:?}",
                    results[0]
                );
            } else {
                assert!(results.iter().all(Result::is_ok));
            }
            if final_at_two {
                assert_eq!(a.tip(), a_tip, "the final block at height 2 stays");
                assert_eq!(a.height(), 3);
            } else {
                assert_eq!(a.tip(), b.tip(), "the heavier branch wins");
                assert_eq!(a.height(), 4);
            }
        }
    }

    #[test]
    fn a_private_branch_is_kept_until_left_then_the_heavier_public_one_is_adopted() {
        let attacker = Address([1; 20]);
        let mut a = chain(None);
        let mut b = chain(None);
        let base = a.go_private(attacker);
        assert_eq!((base.base, base.height), (a.genesis(), 0));
        // The honest chain, three blocks from genesis: stored, not adopted.
        let honest = extend(&mut b, 3, 2);
        for blk in &honest {
            let out = a.import(blk.clone(), 10_000, 0).unwrap();
            assert!(out.tip_change.is_none());
        }
        assert_eq!(a.tip(), a.genesis());
        // The attacker's own block is adopted, though lighter than the honest branch.
        let own = extend(&mut a, 1, 1);
        assert_eq!(a.tip(), own[0].hash);
        // A block of another miner on the private tip is not the attacker's: not adopted.
        let mut c = chain(None);
        c.import(own[0].clone(), 10_000, 0).unwrap();
        let other = extend(&mut c, 1, 3);
        a.import(other[0].clone(), 10_000, 0).unwrap();
        assert_eq!(a.tip(), own[0].hash);
        // Leaving: a switch to the honest tip reverts the private block, storing nothing.
        a.leave_private();
        assert!(a.private_branch().is_none());
        let out = a.switch_to(b.tip(), 10_000).unwrap();
        assert!(out.accepted.is_empty());
        let tc = out.tip_change.expect("the tip moved");
        assert_eq!(
            (tc.new_tip, tc.reorg_depth, tc.connected.len()),
            (b.tip(), 1, 3)
        );
        assert_eq!(a.tip(), b.tip());
        // A switch to a lighter block, or to the tip, changes nothing.
        let out = a.switch_to(own[0].hash, 10_000).unwrap();
        assert!(out.tip_change.is_none());
        let out = a.switch_to(a.tip(), 10_000).unwrap();
        assert!(out.tip_change.is_none());
        a.verify_replay().unwrap();
    }
}

#[cfg(test)]
mod share_tests {
    use super::*;
    use crate::hash::HashKey;

    fn params() -> Arc<ChainParams> {
        Arc::new(ChainParams::for_tests(Vec::new()))
    }

    /// The next block on `c`'s tip, sealed and checked.
    fn next(c: &mut ChainState, miner: u8, now_ms: u64) -> CheckedBlock {
        let mut block = c
            .build_block(&[], Vec::new(), Address([miner; 20]), now_ms)
            .expect("the reward fits");
        crate::consensus::pow::grind(&mut block.header, 0, u64::MAX).expect("sealed");
        validation::check_block(Arc::new(block), c.params(), None).expect("checks")
    }

    /// A main chain of three blocks and a side block at height 2.
    fn blocks(p: &Arc<ChainParams>) -> Vec<CheckedBlock> {
        let mut builder = ChainState::new(p.clone());
        let mut out = Vec::new();
        for i in 1..=3 {
            let b = next(&mut builder, 9, i * 1_000);
            builder.import(b.clone(), i * 1_000, 0).unwrap();
            out.push(b);
        }
        let mut side = ChainState::new(p.clone());
        side.import(out[0].clone(), 1_000, 0).unwrap();
        out.push(next(&mut side, 8, 2_500));
        out
    }

    fn info<'a>(c: &'a ChainState, h: &Hash) -> &'a Arc<BlockInfo> {
        &c.entries[h].info
    }

    #[test]
    fn an_entry_holds_no_more_than_its_own_part() {
        let size = std::mem::size_of::<Entry>();
        assert!(size <= 80, "an entry takes {size} bytes");
    }

    #[test]
    fn nodes_sharing_a_cache_hold_one_copy_per_block_and_see_what_they_would_alone() {
        let p = params();
        let cache = Arc::new(ExecCache::new(64, HashKey::default()));
        let blocks = blocks(&p);
        // Two nodes sharing (each with its own genesis `Arc`), one alone.
        let (mut a, mut b, mut alone) = (
            ChainState::new(p.clone()),
            ChainState::new(p.clone()),
            ChainState::new(p.clone()),
        );
        a.share(Some(cache.clone()));
        b.share(Some(cache.clone()));
        assert!(Arc::ptr_eq(info(&a, &a.genesis()), info(&b, &b.genesis())));
        for (i, blk) in blocks.iter().enumerate() {
            // `b` gets a copy of each block decoded apart (another `Arc`, equal).
            let copy = validation::check_block(Arc::new((*blk.block).clone()), &p, None).unwrap();
            let outs = [
                a.import(blk.clone(), 10_000, i as u64),
                b.import(copy, 10_000, i as u64),
                alone.import(blk.clone(), 10_000, i as u64),
            ];
            let shown: Vec<String> = outs.iter().map(|o| format!("{o:?}")).collect();
            assert_eq!(shown[0], shown[2]);
            assert_eq!(shown[1], shown[2]);
        }
        for blk in &blocks {
            let (x, y) = (info(&a, &blk.hash), info(&alone, &blk.hash));
            assert!(Arc::ptr_eq(x, info(&b, &blk.hash)), "one copy per block");
            assert!(!Arc::ptr_eq(x, y));
            assert_eq!(
                (x.height, x.total_work, &x.tx_ids, &x.block),
                (y.height, y.total_work, &y.tx_ids, &y.block)
            );
        }
        for c in [&a, &b] {
            assert_eq!(c.tip(), alone.tip());
            assert_eq!(c.state().root(), alone.state().root());
            assert_eq!(c.side_block_count(), alone.side_block_count());
        }

        // A node that stored the blocks before it shared takes the process's copies.
        let mut late = ChainState::new(p.clone());
        for blk in &blocks {
            late.import(blk.clone(), 10_000, 0).unwrap();
        }
        late.share(Some(cache.clone()));
        for blk in &blocks {
            assert!(Arc::ptr_eq(info(&late, &blk.hash), info(&a, &blk.hash)));
        }

        // A copy built on another parent copy does not stand for the block.
        let tip = alone.tip();
        let parent = info(&alone, &alone.get(&tip).unwrap().header.parent).clone();
        let block = alone.get(&tip).unwrap().clone();
        assert!(cache
            .block_info(&tip, |i| i.fits(&block, Some(&parent)))
            .is_none());
        assert!(cache.block_info(&tip, |i| i.fits(&block, None)).is_none());
        let shared_parent = info(&a, &block.header.parent).clone();
        assert!(cache
            .block_info(&tip, |i| i.fits(&block, Some(&shared_parent)))
            .is_some());

        // Once no node holds a block, its copy is gone.
        drop((a, b, late, shared_parent));
        assert!(cache.block_info(&tip, |_| true).is_none());
    }
}
