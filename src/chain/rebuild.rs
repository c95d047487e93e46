//! Rebuilding a chain from a store: every stored block is checked again and imported in height
//! order, and the store must belong to this chain (its recorded genesis, and every block
//! connecting to it). Used when a node starts, and by `chainlab inspect`, which needs no actors.

use super::store::{BlockStore, StoreError};
use super::validation::{check_block, BlockError};
use super::{ChainState, Status};
use crate::block::Block;
use crate::chain::params::ChainParams;
use crate::chain::state::State;
use crate::crypto::SigCache;
use crate::hash::{Hash, HashKey};
use std::sync::Arc;

/// Why a store could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RebuildError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored block is invalid.
    #[error("store {location}: stored block {hash} is invalid: {reason}")]
    Damaged {
        /// The store.
        location: String,
        /// Block.
        hash: Hash,
        /// Why.
        reason: String,
    },
    /// The store holds another chain.
    #[error("store {location} belongs to another chain (it holds {stored}; this config's genesis is {expected})")]
    AnotherChain {
        /// The store.
        location: String,
        /// What the store holds.
        stored: String,
        /// This config's genesis hash.
        expected: Hash,
    },
}

/// The meta key under which a store records its chain's genesis hash.
pub const GENESIS_KEY: &str = "genesis";

impl ChainState {
    /// Rebuilds the chain a store holds, from `genesis` (the block and state
    /// `params.genesis_block()` and `params.genesis_state()` give, built once per process),
    /// its tables of blocks keyed with `key`. Reads only: [`mark_genesis`] records the genesis
    /// in a new store.
    ///
    /// Fork choice is replayed over the stored blocks, except that the store's recorded tip is
    /// kept when another branch has exactly as much work: an equal-work tie was decided when
    /// the node ran (first seen, or its random draw), and a restart must not decide it again
    /// by load order.
    ///
    /// # Errors
    /// [`RebuildError`] naming the store, and the block where one is at fault.
    pub fn rebuild(
        store: &dyn BlockStore,
        params: Arc<ChainParams>,
        genesis: (Arc<Block>, Arc<State>),
        cache: Option<&SigCache>,
        key: HashKey,
    ) -> Result<ChainState, RebuildError> {
        let mut chain = ChainState::from_genesis(params.clone(), genesis.0, genesis.1);
        chain.set_hash_key(key);
        // What the store holds was accepted when it arrived; reloaded in height order, a side
        // branch may look deeper than it was then.
        chain.fork_rules = false;
        let expected = chain.genesis();
        let location = store.location();
        if let Some(g) = store.meta(GENESIS_KEY)? {
            if g != expected.0 {
                return Err(RebuildError::AnotherChain {
                    location,
                    stored: hex::encode(&g),
                    expected,
                });
            }
        }
        for block in store.load_blocks()? {
            let hash = block.hash();
            if hash == expected {
                continue;
            }
            let damaged = |reason: String| RebuildError::Damaged {
                location: location.clone(),
                hash,
                reason,
            };
            if block.header.height == 0 {
                return Err(damaged(
                    "a different genesis block: this store belongs to another chain".into(),
                ));
            }
            let checked =
                check_block(Arc::new(block), &params, cache).map_err(|e| damaged(e.to_string()))?;
            // Stored blocks were valid when written: their timestamps are not checked against
            // the clock again, and ties are broken by hash, the same way on every load.
            let tie = u64::from_le_bytes(hash.0[..8].try_into().expect("8 bytes"));
            chain
                .import(checked, u64::MAX / 4, tie)
                .map_err(|e| damaged(e.to_string()))?;
        }
        chain.fork_rules = true;
        if let Some(stored_tip) = store.tip()? {
            chain
                .keep_tied_tip(stored_tip)
                .map_err(|e| RebuildError::Damaged {
                    location: location.clone(),
                    hash: stored_tip,
                    reason: e.to_string(),
                })?;
        }
        if chain.orphan_count() > 0 {
            return Err(RebuildError::AnotherChain {
                location,
                stored: format!(
                    "{} blocks that do not connect to this genesis: a damaged store or another chain's",
                    chain.orphan_count()
                ),
                expected,
            });
        }
        Ok(chain)
    }
}

impl ChainState {
    /// Makes `target` the tip if it is stored, not invalid, and its branch weighs exactly what
    /// the tip's does (and adopting it reverts no final block). Returns whether the tip moved.
    /// Used on restart to keep the stored tip of an equal-work tie.
    fn keep_tied_tip(&mut self, target: Hash) -> Result<bool, BlockError> {
        let tip = self.tip();
        let Some(e) = self.entries.get(&target) else {
            return Ok(false);
        };
        if target == tip
            || e.status == Status::Invalid
            || e.info.total_work != self.entries[&tip].info.total_work
        {
            return Ok(false);
        }
        if let Some(f) = self.engine.finalized(self, &tip) {
            let height = self.entries.get(&f).map_or(0, |e| e.info.height);
            if self.ancestor(target, height) != Some(f) {
                return Ok(false);
            }
        }
        self.reorg_to(target)?;
        Ok(true)
    }
}

/// Records this chain's genesis in a store (so that another chain's config cannot use it).
/// Writes only when the store does not hold it yet, so a store that refuses writes (a full
/// disk) can still be loaded.
///
/// # Errors
/// Backend failures.
pub fn mark_genesis(store: &mut dyn BlockStore, genesis: &Hash) -> Result<(), StoreError> {
    if store.meta(GENESIS_KEY)?.as_deref() == Some(&genesis.0[..]) {
        return Ok(());
    }
    store.set_meta(GENESIS_KEY, &genesis.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::store::MemoryStore;

    fn params() -> Arc<ChainParams> {
        Arc::new(ChainParams::for_tests(Vec::new()))
    }

    fn genesis(p: &ChainParams) -> (Arc<Block>, Arc<State>) {
        (Arc::new(p.genesis_block()), Arc::new(p.genesis_state()))
    }

    /// A chain of `n` empty blocks, written to a fresh store.
    fn stored_chain(n: u64) -> (MemoryStore, ChainState) {
        let p = params();
        let mut chain = ChainState::from_genesis(p.clone(), genesis(&p).0, genesis(&p).1);
        let mut store = MemoryStore::new();
        mark_genesis(&mut store, &chain.genesis()).unwrap();
        for i in 1..=n {
            let mut block = chain
                .build_block(&[], Vec::new(), crate::crypto::Address([9; 20]), i * 1_000)
                .expect("the reward fits");
            crate::consensus::pow::grind(&mut block.header, 0, u64::MAX).expect("sealed");
            let checked = check_block(Arc::new(block), &p, None).unwrap();
            let out = chain.import(checked, i * 1_000, 0).unwrap();
            for (h, b) in out.accepted {
                store.put_block(&h, &b).unwrap();
            }
        }
        (store, chain)
    }

    #[test]
    fn a_store_rebuilds_the_chain_it_holds() {
        let (store, chain) = stored_chain(5);
        let p = params();
        let rebuilt =
            ChainState::rebuild(&store, p.clone(), genesis(&p), None, HashKey::default()).unwrap();
        assert_eq!(rebuilt.tip(), chain.tip());
        assert_eq!(rebuilt.height(), 5);
        assert_eq!(rebuilt.state().root(), chain.state().root());
    }

    #[test]
    fn another_chains_store_and_a_damaged_block_are_named() {
        let (store, _) = stored_chain(2);
        let mut other = ChainParams::for_tests(Vec::new());
        other.chain_id = 99;
        let other = Arc::new(other);
        let err = ChainState::rebuild(
            &store,
            other.clone(),
            genesis(&other),
            None,
            HashKey::default(),
        )
        .unwrap_err();
        assert!(matches!(err, RebuildError::AnotherChain { .. }), "{err}");

        let (mut store, chain) = stored_chain(2);
        let tip = chain.get(&chain.tip()).unwrap();
        let mut bad = (**tip).clone();
        bad.header.tx_root = Hash([1; 32]); // no longer the root of its transactions
        store.put_block(&bad.hash(), &bad).unwrap();
        let p = params();
        let err = ChainState::rebuild(&store, p.clone(), genesis(&p), None, HashKey::default())
            .unwrap_err();
        assert!(
            matches!(&err, RebuildError::Damaged { hash, .. } if *hash == bad.hash()),
            "{err}"
        );
    }

    #[test]
    fn an_equal_work_tie_keeps_the_stored_tip_whatever_the_load_order() {
        // Two sibling blocks at height 3 on a common chain: equal work. The store loads them
        // in (height, hash) order, so the one with the smaller hash is seen first; each in
        // turn is recorded as the tip, and the rebuilt chain must keep that one.
        let p = params();
        let (store, chain) = stored_chain(2);
        let siblings: Vec<Block> = [9u8, 10]
            .iter()
            .map(|m| {
                let mut c = chain_copy(&store, &p);
                let mut b = c
                    .build_block(&[], Vec::new(), crate::crypto::Address([*m; 20]), 3_000)
                    .expect("the reward fits");
                crate::consensus::pow::grind(&mut b.header, 0, u64::MAX).expect("sealed");
                b
            })
            .collect();
        assert_ne!(siblings[0].hash(), siblings[1].hash());
        for b in &siblings {
            let mut s = store.clone();
            for sib in &siblings {
                s.put_block(&sib.hash(), sib).unwrap();
            }
            s.set_tip(&b.hash()).unwrap();
            let rebuilt =
                ChainState::rebuild(&s, p.clone(), genesis(&p), None, HashKey::default()).unwrap();
            assert_eq!(rebuilt.tip(), b.hash(), "the stored tip is kept");
            assert_eq!(rebuilt.height(), 3);
            rebuilt.verify_replay().unwrap();
        }
        // A heavier branch still wins over a lighter stored tip (the store, shared by the
        // clones, now holds both siblings).
        let mut s = store.clone();
        s.set_tip(&chain.canonical()[1]).unwrap();
        let rebuilt =
            ChainState::rebuild(&s, p.clone(), genesis(&p), None, HashKey::default()).unwrap();
        assert_eq!(rebuilt.height(), 3);
    }

    /// A fresh chain with `store`'s blocks (a deep copy: `MemoryStore` clones share data).
    fn chain_copy(store: &MemoryStore, p: &Arc<ChainParams>) -> ChainState {
        ChainState::rebuild(store, p.clone(), genesis(p), None, HashKey::default()).unwrap()
    }
}
