//! The storage seam of a node: blocks, a height index and the tip, behind a trait, with an
//! in-memory implementation (the sled one lives in the actors crate).

use crate::block::Block;
use crate::hash::Hash;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (I/O, open, lock).
    #[error("store {location}: {reason}")]
    Backend {
        /// Path or tree.
        location: String,
        /// Backend message.
        reason: String,
    },
    /// Stored bytes do not decode or do not match their key.
    #[error("store {location}: damaged record {key}: {reason}")]
    Corrupt {
        /// Path or tree.
        location: String,
        /// The record.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where a node keeps its chain.
pub trait BlockStore: Send {
    /// Where it is (a path and node, for messages).
    fn location(&self) -> String;
    /// Stores a block under its hash (and indexes it by height).
    ///
    /// # Errors
    /// Backend failures.
    fn put_block(&mut self, hash: &Hash, block: &Block) -> Result<(), StoreError>;
    /// Removes a block stored at `height` (a pruned side branch); no-op when absent.
    ///
    /// # Errors
    /// Backend failures.
    fn remove_block(&mut self, hash: &Hash, height: u64) -> Result<(), StoreError>;
    /// Records the best tip.
    ///
    /// # Errors
    /// Backend failures.
    fn set_tip(&mut self, hash: &Hash) -> Result<(), StoreError>;
    /// Stores `blocks` (parents before children) and then records `tip`: what one import
    /// writes. A backend that can makes it one atomic write (sled: one transaction over its
    /// trees), so a failed commit leaves the store as the previous commit left it; the default
    /// writes in order and stops at the first failure, which leaves a prefix of the blocks
    /// (each with its parent) and the previous tip: still a consistent chain.
    ///
    /// # Errors
    /// Backend failures.
    fn commit(
        &mut self,
        blocks: &[(Hash, Arc<Block>)],
        tip: Option<&Hash>,
    ) -> Result<(), StoreError> {
        for (h, b) in blocks {
            self.put_block(h, b)?;
        }
        if let Some(t) = tip {
            self.set_tip(t)?;
        }
        Ok(())
    }
    /// The recorded tip.
    ///
    /// # Errors
    /// Backend failures or a damaged record.
    fn tip(&self) -> Result<Option<Hash>, StoreError>;
    /// Every stored block, by height then hash.
    ///
    /// # Errors
    /// Backend failures or a damaged record.
    fn load_blocks(&self) -> Result<Vec<Block>, StoreError>;
    /// A small named value (the genesis hash, for instance).
    ///
    /// # Errors
    /// Backend failures.
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Sets a small named value.
    ///
    /// # Errors
    /// Backend failures.
    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError>;
    /// Makes everything written so far durable.
    ///
    /// # Errors
    /// Backend failures.
    fn flush(&mut self) -> Result<(), StoreError>;
}

#[derive(Debug, Default)]
struct MemInner {
    /// Shared with the chain that stored them: a cluster of n nodes in memory holds each
    /// block once, not n times.
    blocks: BTreeMap<(u64, Hash), Arc<Block>>,
    tip: Option<Hash>,
    meta: BTreeMap<String, Vec<u8>>,
}

/// A store in memory. Clones share the data, so a restarted node finds what it wrote.
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemInner>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl BlockStore for MemoryStore {
    fn location(&self) -> String {
        "memory".into()
    }
    fn put_block(&mut self, hash: &Hash, block: &Block) -> Result<(), StoreError> {
        self.lock()
            .blocks
            .insert((block.header.height, *hash), Arc::new(block.clone()));
        Ok(())
    }
    fn commit(
        &mut self,
        blocks: &[(Hash, Arc<Block>)],
        tip: Option<&Hash>,
    ) -> Result<(), StoreError> {
        let mut inner = self.lock();
        for (h, b) in blocks {
            inner.blocks.insert((b.header.height, *h), b.clone());
        }
        if let Some(t) = tip {
            inner.tip = Some(*t);
        }
        Ok(())
    }
    fn remove_block(&mut self, hash: &Hash, height: u64) -> Result<(), StoreError> {
        self.lock().blocks.remove(&(height, *hash));
        Ok(())
    }
    fn set_tip(&mut self, hash: &Hash) -> Result<(), StoreError> {
        self.lock().tip = Some(*hash);
        Ok(())
    }
    fn tip(&self) -> Result<Option<Hash>, StoreError> {
        Ok(self.lock().tip)
    }
    fn load_blocks(&self) -> Result<Vec<Block>, StoreError> {
        Ok(self
            .lock()
            .blocks
            .values()
            .map(|b| Block::clone(b))
            .collect())
    }
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().meta.get(key).cloned())
    }
    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().meta.insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
