//! The nodes' block stores: one per node, in memory or in one sled database (in a temporary or
//! a kept data directory). A store outlives its node, so a crashed node restarts from it.

use crate::store_sled::{open_db, DataDir, SledStore};
use chainlab::chain::store::{BlockStore, MemoryStore, StoreError};
use chainlab::config::{Config, StorageBackend};
use chainlab::{Block, Hash, NodeId};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// One node's store.
#[derive(Clone)]
enum StoreSlot {
    Memory(MemoryStore),
    Sled(SledStore),
}

impl StoreSlot {
    fn boxed(&self) -> Box<dyn BlockStore> {
        match self {
            StoreSlot::Memory(m) => Box::new(m.clone()),
            StoreSlot::Sled(s) => Box::new(s.clone()),
        }
    }

    fn wipe(&mut self) -> Result<(), StoreError> {
        match self {
            StoreSlot::Memory(m) => *m = MemoryStore::new(),
            StoreSlot::Sled(s) => s.clear()?,
        }
        Ok(())
    }
}

/// A node's store as the node sees it: while its disk is full (the `disk_full` fault), every
/// write fails, as a write to a full disk does; reads still work.
struct Gated {
    inner: Box<dyn BlockStore>,
    full: Arc<AtomicBool>,
    /// The directory the store lives in, held until the store is dropped (fields drop in
    /// order: the store first). A node's actors may outlive the cluster by a moment at the
    /// end of a run; were a temporary directory removed before them, dropping the sled tree
    /// would flush into a deleted file and wait for ever (seen: a hung `chainlab run`).
    _dir: Option<Arc<DataDir>>,
}

impl Gated {
    fn writable(&self) -> Result<(), StoreError> {
        if self.full.load(Ordering::SeqCst) {
            return Err(StoreError::Backend {
                location: self.inner.location(),
                reason: "no space left on device (a disk_full fault)".into(),
            });
        }
        Ok(())
    }
}

impl BlockStore for Gated {
    fn location(&self) -> String {
        self.inner.location()
    }
    fn put_block(&mut self, hash: &Hash, block: &Block) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.put_block(hash, block)
    }
    fn set_tip(&mut self, hash: &Hash) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.set_tip(hash)
    }
    fn commit(
        &mut self,
        blocks: &[(Hash, Arc<Block>)],
        tip: Option<&Hash>,
    ) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.commit(blocks, tip)
    }
    fn remove_block(&mut self, hash: &Hash, height: u64) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.remove_block(hash, height)
    }
    fn tip(&self) -> Result<Option<Hash>, StoreError> {
        self.inner.tip()
    }
    fn load_blocks(&self) -> Result<Vec<Block>, StoreError> {
        self.inner.load_blocks()
    }
    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.meta(key)
    }
    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.set_meta(key, value)
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        self.writable()?;
        self.inner.flush()
    }
}

fn full_flags(n: usize) -> Vec<Arc<AtomicBool>> {
    (0..n).map(|_| Arc::new(AtomicBool::new(false))).collect()
}

/// Every node's store, and the sled database and data directory behind them (if any).
pub(super) struct Stores {
    slots: Vec<StoreSlot>,
    /// Per node: its disk is full (writes fail).
    full: Vec<Arc<AtomicBool>>,
    db: Option<sled::Db>,
    /// Where the sled database lives (None in memory); shared with every node's store, so a
    /// temporary directory is removed only after the last of them is dropped.
    pub(super) data_dir: Option<Arc<DataDir>>,
}

impl Stores {
    /// Opens one store per node, as `storage` configures.
    ///
    /// # Errors
    /// When the directory or database cannot be created or opened, or holds a sled database
    /// that chainlab did not write.
    pub(super) fn open(cfg: &Config) -> Result<Stores, StoreError> {
        let n = cfg.cluster.nodes;
        match cfg.storage.backend {
            StorageBackend::Memory => Ok(Stores {
                slots: (0..n)
                    .map(|_| StoreSlot::Memory(MemoryStore::new()))
                    .collect(),
                full: full_flags(n),
                db: None,
                data_dir: None,
            }),
            StorageBackend::Sled => {
                let dir = if cfg.storage.data_dir.as_os_str().is_empty() {
                    DataDir::Temp(
                        tempfile::Builder::new()
                            .prefix("chainlab-")
                            .tempdir()
                            .map_err(|e| StoreError::Backend {
                                location: std::env::temp_dir().display().to_string(),
                                reason: format!("cannot create a temporary directory: {e}"),
                            })?,
                    )
                } else {
                    DataDir::Kept(cfg.storage.data_dir.clone())
                };
                let had_db = std::fs::metadata(dir.path().join("db")).is_ok_and(|m| m.len() > 0);
                let db = open_db(dir.path(), cfg.storage.cache_mb)?;
                if had_db && crate::store_sled::recorded_config(&db, dir.path())?.is_none() {
                    return Err(StoreError::Corrupt {
                        location: dir.path().display().to_string(),
                        key: "cluster/config".into(),
                        reason: "the directory holds a sled database without a chainlab config: it is damaged or not a chainlab store (remove it or choose another --data-dir)".into(),
                    });
                }
                let slots = (0..n)
                    .map(|id| SledStore::open(&db, dir.path(), id).map(StoreSlot::Sled))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Stores {
                    slots,
                    full: full_flags(n),
                    db: Some(db),
                    data_dir: Some(Arc::new(dir)),
                })
            }
        }
    }

    /// A handle on node `id`'s store.
    pub(super) fn boxed(&self, id: NodeId) -> Box<dyn BlockStore> {
        Box::new(Gated {
            inner: self.slots[id].boxed(),
            full: self.full[id].clone(),
            _dir: self.data_dir.clone(),
        })
    }

    /// Fills (`true`) or frees node `id`'s disk: while it is full, its store refuses writes.
    pub(super) fn set_full(&mut self, id: NodeId, full: bool) {
        self.full[id].store(full, Ordering::SeqCst);
    }

    /// Empties node `id`'s store.
    ///
    /// # Errors
    /// When sled fails to clear it.
    pub(super) fn wipe(&mut self, id: NodeId) -> Result<(), StoreError> {
        self.slots[id].wipe()
    }

    /// Records the run's config in the database (nothing in memory).
    ///
    /// # Errors
    /// When sled fails to write it.
    pub(super) fn record_config(&self, cfg: &Config) -> Result<(), StoreError> {
        if let (Some(db), Some(dir)) = (&self.db, &self.data_dir) {
            crate::store_sled::record_config(db, dir.path(), cfg)?;
        }
        Ok(())
    }

    /// Flushes the database (nothing in memory).
    ///
    /// # Errors
    /// When sled fails to flush.
    pub(super) fn flush(&self) -> Result<(), StoreError> {
        if let Some(db) = &self.db {
            db.flush().map_err(|e| StoreError::Backend {
                location: self
                    .data_dir
                    .as_ref()
                    .map(|d| d.path().display().to_string())
                    .unwrap_or_default(),
                reason: e.to_string(),
            })?;
        }
        Ok(())
    }

    /// The data directory when it stays after the run.
    pub(super) fn kept_dir(&self) -> Option<PathBuf> {
        match self.data_dir.as_deref() {
            Some(DataDir::Kept(p)) => Some(p.clone()),
            _ => None,
        }
    }
}
