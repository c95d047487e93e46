//! A node's executor: the state of its best chain, and the only code that changes it.
//!
//! The block tree (`ChainState`) decides *which* branch is the best; the [`Executor`] holds
//! the state at the tip of that branch and answers one request, [`Executor::switch`]: revert
//! these blocks, apply those. It also builds block templates on its tip ([`Executor::build`]),
//! runs read-only contract calls ([`Executor::view`]) and replays the chain for the invariant
//! checks ([`Executor::verify_replay`]).
//!
//! Split this way, execution can run in its own actor (the runtime's `executor` actor: the
//! chain actor sends a [`SwitchPlan`] and waits for the answer) or in place (tests, reloading
//! a store: `ChainState` keeps its executor and calls it directly). Both give the same result,
//! because the executor is told the whole switch and does it all or nothing.
//!
//! With a process-wide [`ExecCache`] ([`Executor::share`]), a block another node of the
//! process already applied on the same parent is not executed again: the executor takes the
//! post-state, undo and records computed then (`chain::shared`; docs/design.md, "Shared work
//! across nodes"), and the replay check replays each distinct tip once.

use super::exec::{self, execute_block, BlockRun, ExecRecord};
use super::params::ChainParams;
use super::shared::{AppliedBlock, ExecCache, SharedApply};
use super::state::{Account, ApplyError, Map, State, Undo};
use super::validation::BlockError;
use crate::block::{body_root, Block, BlockHeader, Seal, SharedItem, BLOCK_VERSION};
use crate::crypto::Address;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::Arc;

/// A block as the executor needs it: its hash, the block and its transaction ids.
#[derive(Clone, Debug)]
pub struct BlockRef {
    /// The block's hash.
    pub hash: Hash,
    /// The block.
    pub block: Arc<Block>,
    /// Its transactions' ids, in order.
    pub tx_ids: Arc<Vec<TxId>>,
}

/// A change of the best branch, for the executor: revert `revert` (the tip first), then apply
/// `apply` (parents first). `from` is the tip the plan starts on.
#[derive(Clone, Debug)]
pub struct SwitchPlan {
    /// The executor's tip before the switch.
    pub from: Hash,
    /// Blocks to revert, the tip first.
    pub revert: Vec<BlockRef>,
    /// Blocks to apply, parents first.
    pub apply: Vec<BlockRef>,
}

/// What one block's contracts did (`None`: no contract work).
pub type Records = Option<Arc<[ExecRecord]>>;

/// A switch that succeeded.
#[derive(Clone, Debug, Default)]
pub struct Switched {
    /// For each applied block, in order: what its contracts did (`None`: no contract work).
    pub records: Vec<Records>,
    /// For each applied block with contract records: every account its execution changed
    /// (contracts move value to accounts no transaction names).
    pub contract_touched: Vec<(Hash, Vec<Address>)>,
    /// Every account the switch may have changed (the miners, senders and recipients of the
    /// reverted and applied blocks, and whatever their undo records name), with its value
    /// after the switch.
    pub accounts: Vec<(Address, Account)>,
    /// Every account after the switch: the state's own map (a persistent map, so this is a
    /// reference to it, not a copy).
    pub state_accounts: Map<Address, Account>,
}

/// A switch that failed: the block at `index` of the plan's `apply` did not apply. The
/// executor stands where it stood before the switch.
#[derive(Clone, Debug)]
pub struct SwitchFailed {
    /// Index into the plan's `apply`.
    pub index: usize,
    /// Why.
    pub error: BlockError,
}

/// What a block template is built on: everything the block tree decides (parent, height,
/// timestamp, the seal to fill in). The executor adds the transactions and the state root.
#[derive(Clone, Debug)]
pub struct TemplateFrame {
    /// The parent: the tip the template extends.
    pub parent: Hash,
    /// The template's height.
    pub height: u64,
    /// The template's timestamp.
    pub timestamp_ms: u64,
    /// The unfilled seal for the engine's rule.
    pub seal: Seal,
}

/// Why no template was built.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The reward cannot be credited to the miner (its balance would overflow): no valid
    /// block can pay it.
    #[error(transparent)]
    Apply(#[from] ApplyError),
    /// The frame's parent is not the executor's tip.
    #[error("the template's parent {parent} is not the executor's tip {tip}")]
    NotOnTip {
        /// The frame's parent.
        parent: Hash,
        /// The executor's tip.
        tip: Hash,
    },
}

/// One best-chain block the executor applied.
#[derive(Debug)]
struct Applied {
    hash: Hash,
    timestamp_ms: u64,
    /// Reverts the block; `None` at genesis and once pruned (below the fork floor).
    undo: Option<Arc<Undo>>,
}

/// See the module doc.
#[derive(Debug)]
pub struct Executor {
    params: Arc<ChainParams>,
    state: State,
    genesis_state: Arc<State>,
    /// The best chain as applied, genesis first: index = height.
    applied: Vec<Applied>,
    /// Undo records at or below this height are dropped.
    pruned_to: u64,
    /// The process's shared results of block executions and replays, if any.
    shared: Option<Arc<ExecCache>>,
}

impl Executor {
    /// An executor standing on `genesis`, whose state is `genesis_state`.
    pub fn new(params: Arc<ChainParams>, genesis: &Block, genesis_state: Arc<State>) -> Executor {
        Executor {
            params,
            state: (*genesis_state).clone(),
            genesis_state,
            applied: vec![Applied {
                hash: genesis.hash(),
                timestamp_ms: genesis.header.timestamp_ms,
                undo: None,
            }],
            pruned_to: 0,
            shared: None,
        }
    }

    /// Shares block executions and replays with the other executors of the process through
    /// `cache` (`None`: compute everything here). Changes no result.
    pub fn share(&mut self, cache: Option<Arc<ExecCache>>) {
        self.shared = cache;
    }

    /// The state at the tip.
    pub fn state(&self) -> &State {
        &self.state
    }

    /// The state at the tip, to break on purpose (tests of the invariant checks).
    #[cfg(test)]
    pub(crate) fn state_mut(&mut self) -> &mut State {
        &mut self.state
    }

    /// The tip it stands on.
    pub fn tip(&self) -> Hash {
        self.applied.last().map_or(Hash::ZERO, |a| a.hash)
    }

    /// The tip's height.
    pub fn height(&self) -> u64 {
        self.applied.len() as u64 - 1
    }

    /// Undo records held (best-chain blocks above the fork floor).
    pub fn undo_count(&self) -> usize {
        self.applied.iter().filter(|a| a.undo.is_some()).count()
    }

    /// Drops the undo records at or below `floor` (no reorg reaches them).
    pub fn prune_undo(&mut self, floor: u64) {
        let floor = floor.min(self.height());
        for h in self.pruned_to + 1..=floor {
            self.applied[h as usize].undo = None;
        }
        self.pruned_to = self.pruned_to.max(floor);
    }

    /// Switches the state from the plan's `from` to the branch it names, all or nothing.
    ///
    /// # Errors
    /// The first block that does not apply ([`BlockError::TxApply`], or
    /// [`BlockError::BadStateRoot`] when its header claims another root); the state is then
    /// as before the call (the reverted blocks are applied again).
    ///
    /// # Panics
    /// When the plan does not start on this executor's tip, or reverts a block whose undo
    /// record was pruned: the block tree and the executor are out of step, a bug.
    pub fn switch(&mut self, plan: &SwitchPlan) -> Result<Switched, SwitchFailed> {
        assert_eq!(
            plan.from,
            self.tip(),
            "a switch plan must start on the executor's tip"
        );
        let mut touched = BTreeSet::new();
        for b in &plan.revert {
            let top = self.applied.pop().expect("a reverted block above genesis");
            assert_eq!(top.hash, b.hash, "the plan reverts the executor's blocks");
            let undo = top.undo.expect("a reverted block keeps its undo record");
            touched.extend(undo.touched().copied());
            self.state.revert(&undo);
            note_parties(&b.block, &mut touched);
        }
        let mut done = Switched::default();
        // One block on the tip (the common case): its sorted touched list is the answer.
        let single = plan.revert.is_empty() && plan.apply.len() == 1;
        let mut single_touched = None;
        for (index, b) in plan.apply.iter().enumerate() {
            match self.apply(b) {
                Ok(applied) => {
                    if applied.records.is_some() {
                        done.contract_touched
                            .push((b.hash, applied.changed.to_vec()));
                    }
                    if single {
                        single_touched = Some(applied.touched.clone());
                    } else {
                        touched.extend(applied.touched.iter().copied());
                    }
                    done.records.push(applied.records);
                    self.applied.push(Applied {
                        hash: b.hash,
                        timestamp_ms: b.block.header.timestamp_ms,
                        undo: Some(applied.undo),
                    });
                }
                Err(error) => {
                    for _ in 0..index {
                        let top = self.applied.pop().expect("applied above the fork");
                        self.state
                            .revert(&top.undo.expect("undo of a block just applied"));
                    }
                    for b in plan.revert.iter().rev() {
                        let applied = self
                            .apply(b)
                            .expect("a block that applied before applies again");
                        self.applied.push(Applied {
                            hash: b.hash,
                            timestamp_ms: b.block.header.timestamp_ms,
                            undo: Some(applied.undo),
                        });
                    }
                    return Err(SwitchFailed { index, error });
                }
            }
        }
        done.accounts = match single_touched {
            Some(list) => list.iter().map(|a| (*a, self.state.get(a))).collect(),
            None => touched
                .into_iter()
                .map(|a| (a, self.state.get(&a)))
                .collect(),
        };
        done.state_accounts = self.state.accounts().clone();
        Ok(done)
    }

    /// Applies one block on the tip: taken from the shared cache when another executor of
    /// the process applied it on the same parent state, computed (and shared) otherwise.
    fn apply(&mut self, b: &BlockRef) -> Result<AppliedBlock, BlockError> {
        let Some(cache) = self.shared.clone() else {
            return self.execute(b);
        };
        let parent_root = self.state.root();
        if let Some(hit) = cache.get(&b.hash, &parent_root) {
            return hit.result.clone().inspect(|a| self.state = a.state.clone());
        }
        let result = self.execute(b);
        cache.insert(
            b.hash,
            SharedApply {
                parent_root,
                height: b.block.header.height,
                result: result.clone(),
            },
        );
        result
    }

    /// Executes one block on the tip: its undo record, contract records and the accounts
    /// it touched, and (an O(1) copy of) the state after it.
    fn execute(&mut self, b: &BlockRef) -> Result<AppliedBlock, BlockError> {
        let p = &self.params;
        let done = execute_block(&mut self.state, &b.block, &b.tx_ids, p.reward, &p.contracts)
            .map_err(|(index, source)| BlockError::TxApply { index, source })?;
        let root = self.state.root();
        if root != b.block.header.state_root {
            self.state.revert(&done.undo);
            return Err(BlockError::BadStateRoot {
                expected: root,
                got: b.block.header.state_root,
            });
        }
        let records = (!done.records.is_empty()).then(|| done.records.into());
        let mut changed: Vec<Address> = done.undo.touched().copied().collect();
        changed.sort_unstable();
        changed.dedup();
        let mut touched = BTreeSet::new();
        touched.extend(changed.iter().copied());
        note_parties(&b.block, &mut touched);
        Ok(AppliedBlock {
            state: self.state.clone(),
            undo: Arc::new(done.undo),
            records,
            changed: changed.into(),
            touched: touched.into_iter().collect(),
        })
    }

    /// Builds an unsealed block in `frame` from candidate transactions: those that apply in
    /// order are included (up to the size limits, and while the reward plus fees fits a
    /// u64), the rest skipped. The state is left as it was.
    ///
    /// # Errors
    /// [`TemplateError::Apply`] when the reward cannot be credited to `miner`;
    /// [`TemplateError::NotOnTip`] when the frame is not on this executor's tip.
    pub fn build<T: Borrow<Transaction>>(
        &mut self,
        frame: &TemplateFrame,
        candidates: &[T],
        items: Vec<SharedItem>,
        miner: Address,
    ) -> Result<Block, TemplateError> {
        if frame.parent != self.tip() {
            return Err(TemplateError::NotOnTip {
                parent: frame.parent,
                tip: self.tip(),
            });
        }
        let params = self.params.clone();
        let mut txs = Vec::new();
        let mut ids: Vec<TxId> = Vec::new();
        let mut bytes = 400u64 + items.iter().map(crate::encoding::encoded_len).sum::<u64>();
        let mut run = BlockRun::begin(
            &mut self.state,
            frame.height,
            frame.timestamp_ms,
            &params.contracts,
        );
        for tx in candidates {
            let tx = tx.borrow();
            if txs.len() >= params.max_block_txs {
                break;
            }
            let size = tx.size();
            if bytes + size > params.max_block_bytes {
                continue;
            }
            if run
                .fees()
                .checked_add(tx.fee)
                .and_then(|f| f.checked_add(params.reward))
                .is_none()
            {
                continue;
            }
            let id = tx.id();
            if run.apply_tx(tx, &id).is_ok() {
                bytes += size;
                txs.push(tx.clone());
                ids.push(id);
            }
        }
        let done = run.finish(miner, params.reward)?;
        let state_root = self.state.root();
        self.state.revert(&done.undo);
        Ok(Block {
            header: BlockHeader {
                version: BLOCK_VERSION,
                parent: frame.parent,
                height: frame.height,
                tx_root: body_root(&ids, &items),
                state_root,
                timestamp_ms: frame.timestamp_ms,
                miner,
                seal: frame.seal,
            },
            txs,
            items,
        })
    }

    /// Runs `method` of `contract` read-only on the tip's state (`chain::exec::view`), as if
    /// in the next block stamped with the tip's time.
    ///
    /// # Errors
    /// Why the execution failed.
    pub fn view(
        &mut self,
        contract: Address,
        method: &str,
        args: &[u8],
    ) -> Result<Vec<u8>, crate::contract::ExecError> {
        let time = self.applied.last().map_or(0, |a| a.timestamp_ms);
        let height = self.height() + 1;
        let params = self.params.clone();
        exec::view(
            &mut self.state,
            contract,
            method,
            args,
            height,
            time,
            &params.contracts,
        )
    }

    /// Replays `best` (the best chain after genesis, as the block tree holds it) from the
    /// genesis state and compares with the live state: the same blocks as applied, the same
    /// accounts, code, storage and pending receipts, and the tip's state root.
    ///
    /// # Errors
    /// A description of the first difference.
    pub fn verify_replay(&self, best: &[BlockRef]) -> Result<(), String> {
        if best.len() + 1 != self.applied.len()
            || best
                .iter()
                .zip(&self.applied[1..])
                .any(|(b, a)| b.hash != a.hash)
        {
            return Err(format!(
                "the executor stands on {} at height {}, the block tree's best chain ends at height {}",
                self.tip().short(),
                self.height(),
                best.len()
            ));
        }
        let shared;
        let own;
        let replayed = match &self.shared {
            Some(cache) => {
                shared = cache.replay(best, &self.genesis_state, &self.params);
                shared.as_ref().as_ref().map_err(Clone::clone)?
            }
            None => {
                own = super::shared::replay(best, &self.genesis_state, &self.params)?;
                &own
            }
        };
        if replayed.accounts() != self.state.accounts() {
            return Err("replayed accounts differ from the live state".into());
        }
        if replayed.contracts() != self.state.contracts()
            || replayed.all_storage() != self.state.all_storage()
        {
            return Err("replayed contract code or storage differs from the live state".into());
        }
        if replayed.receipts() != self.state.receipts() {
            return Err("replayed pending receipts differ from the live state".into());
        }
        if replayed.root() != self.state.root() {
            return Err("the live state root differs from the root of the replayed state".into());
        }
        if let Some(tip) = best.last() {
            if self.state.root() != tip.block.header.state_root {
                return Err("the live state root differs from the tip's state root".into());
            }
        }
        Ok(())
    }

    /// The invariants of the state, as messages naming `node`: it is a replay of `best`, and
    /// the supply is the genesis supply plus the rewards of its blocks.
    pub fn check_invariants(&self, node: crate::NodeId, best: &[BlockRef]) -> Vec<String> {
        let mut v = Vec::new();
        if let Err(e) = self.verify_replay(best) {
            v.push(format!(
                "node {node}: state is not a replay of its chain: {e}"
            ));
        }
        let p = &self.params;
        let expected = p.genesis_supply() + u128::from(p.reward) * u128::from(self.height());
        let supply = self.state.total_supply();
        if supply != expected {
            v.push(format!(
                "node {node}: supply {supply} != genesis + rewards {expected}"
            ));
        }
        v
    }
}

/// The accounts a block names: its miner, and each transaction's sender and recipient.
fn note_parties(block: &Block, into: &mut BTreeSet<Address>) {
    into.insert(block.header.miner);
    for tx in &block.txs {
        into.insert(tx.sender());
        into.insert(tx.to);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::ChainState;
    use crate::crypto::KeyPair;

    /// A chain of `n` empty blocks (sealed) and its blocks as the executor takes them.
    fn blocks(n: u64) -> (ChainState, Vec<BlockRef>) {
        let mut c = ChainState::new(Arc::new(ChainParams::for_tests(Vec::new())));
        let key = KeyPair::from_seed(b"executor-tests");
        for i in 1..=n {
            let mut block = c
                .build_block(&[], Vec::new(), Address([i as u8; 20]), i * 1_000)
                .expect("the reward fits");
            let rule = c.next_rule(&block.header.parent);
            assert!(c.engine().seal(&rule, &mut block.header, &key, 0, u64::MAX));
            let checked =
                crate::chain::validation::check_block(Arc::new(block), c.params(), None).unwrap();
            c.import(checked, i * 1_000, 0).unwrap();
        }
        let refs = c.best_refs();
        (c, refs)
    }

    fn fresh(c: &ChainState) -> Executor {
        let p = c.params().clone();
        Executor::new(p.clone(), &p.genesis_block(), Arc::new(p.genesis_state()))
    }

    /// The block with another state root (and so another hash).
    fn broken(b: &BlockRef) -> BlockRef {
        let mut block = (*b.block).clone();
        block.header.state_root = Hash::sha256(b"not the root");
        BlockRef {
            hash: block.hash(),
            block: Arc::new(block),
            tx_ids: b.tx_ids.clone(),
        }
    }

    #[test]
    fn a_failed_switch_leaves_the_state_where_it_was() {
        let (c, refs) = blocks(3);
        let mut e = fresh(&c);
        let genesis_root = e.state().root();
        // Applying from genesis: the second block fails, nothing stays applied.
        let plan = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: vec![refs[0].clone(), broken(&refs[1])],
        };
        let failed = e.switch(&plan).unwrap_err();
        assert_eq!(failed.index, 1);
        assert!(matches!(failed.error, BlockError::BadStateRoot { .. }));
        assert_eq!((e.tip(), e.height()), (c.genesis(), 0));
        assert_eq!(e.state().root(), genesis_root);
        // A reorg that fails after reverting puts the reverted blocks back.
        let all = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: refs.clone(),
        };
        let done = e.switch(&all).unwrap();
        assert_eq!(done.records.len(), 3);
        assert!(done.accounts.iter().any(|(a, _)| *a == Address([3; 20])));
        let root = e.state().root();
        let plan = SwitchPlan {
            from: e.tip(),
            revert: vec![refs[2].clone(), refs[1].clone()],
            apply: vec![refs[1].clone(), broken(&refs[2])],
        };
        assert_eq!(e.switch(&plan).unwrap_err().index, 1);
        assert_eq!((e.tip(), e.height(), e.state().root()), (c.tip(), 3, root));
        e.verify_replay(&refs).unwrap();
        assert!(e.check_invariants(0, &refs).is_empty());
    }

    #[test]
    fn the_replay_check_names_a_chain_the_executor_does_not_stand_on() {
        let (c, refs) = blocks(2);
        let e = fresh(&c);
        let err = e.verify_replay(&refs).unwrap_err();
        assert!(err.contains("height 0"), "{err}");
    }

    #[test]
    fn a_template_off_the_tip_is_refused() {
        let (c, refs) = blocks(2);
        let mut e = fresh(&c);
        let frame = c.template_frame(10_000);
        let err = e.build(&frame, &[] as &[Transaction], Vec::new(), Address([1; 20]));
        assert!(matches!(err, Err(TemplateError::NotOnTip { .. })));
        let plan = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: refs,
        };
        e.switch(&plan).unwrap();
        let block = e
            .build(&frame, &[] as &[Transaction], Vec::new(), Address([1; 20]))
            .unwrap();
        assert_eq!((block.header.parent, block.header.height), (c.tip(), 3));
    }

    #[test]
    fn undo_records_below_the_floor_are_dropped() {
        let (c, refs) = blocks(5);
        let mut e = fresh(&c);
        let plan = SwitchPlan {
            from: e.tip(),
            revert: Vec::new(),
            apply: refs,
        };
        e.switch(&plan).unwrap();
        assert_eq!(e.undo_count(), 5);
        e.prune_undo(2);
        assert_eq!(e.undo_count(), 3);
        e.prune_undo(9);
        assert_eq!(e.undo_count(), 0, "never past the tip");
    }
}
