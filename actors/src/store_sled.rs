//! The sled block store: one database per process, three trees per node
//! (`node{N}.blocks`: hash → block, `node{N}.index`: height ‖ hash → (), `node{N}.meta`: tip).
//! What one import writes (its blocks, their index entries and the new tip) is one transaction
//! over the three trees: a failed write leaves the store as the previous import left it.
//! One database keeps the thread count flat (sled starts threads per database); the page
//! cache is always set explicitly.

use chainlab::block::Block;
use chainlab::chain::store::{BlockStore, StoreError};
use chainlab::encoding;
use chainlab::hash::Hash;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Runs a sled call that may panic on damaged files (sled 0.34 panics on some corruptions, e.g.
/// zeroed regions of its log): a panic becomes [`StoreError::Corrupt`] naming the location,
/// and the default panic message is not printed meanwhile.
fn guarded<T>(location: &str, f: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    std::panic::set_hook(hook);
    result.unwrap_or_else(|payload| {
        let msg = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown".into());
        Err(StoreError::Corrupt {
            location: location.to_string(),
            key: "sled database".into(),
            reason: format!("sled failed reading damaged files ({msg}); remove the directory or choose another --data-dir"),
        })
    })
}

/// Opens (or creates) the process's sled database at `path`.
///
/// # Errors
/// [`StoreError::Backend`] naming the path.
pub fn open_db(path: &Path, cache_mb: u64) -> Result<sled::Db, StoreError> {
    guarded(&path.display().to_string(), || {
        open_db_unguarded(path, cache_mb)
    })
}

fn open_db_unguarded(path: &Path, cache_mb: u64) -> Result<sled::Db, StoreError> {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_mb * 1024 * 1024)
        .flush_every_ms(Some(500))
        .open()
        .map_err(|e| StoreError::Backend {
            location: path.display().to_string(),
            reason: format!(
                "cannot open the sled database ({e}); if it is damaged, remove it or choose another --data-dir"
            ),
        })
}

/// Opens a database read-only in spirit (sled has no read-only mode: nothing is written).
///
/// # Errors
/// As [`open_db`].
pub fn open_existing(path: &Path, cache_mb: u64) -> Result<sled::Db, StoreError> {
    if !path.join("conf").exists() && !path.join("db").exists() {
        return Err(StoreError::Backend {
            location: path.display().to_string(),
            reason: "not a chainlab store (no sled database here)".into(),
        });
    }
    open_db(path, cache_mb)
}

/// Records the cluster's config in the database (tree `cluster`, key `config`, TOML), so that
/// `chainlab inspect` can rebuild the chain rules.
///
/// # Errors
/// [`StoreError::Backend`] naming the path.
pub fn record_config(
    db: &sled::Db,
    path: &Path,
    cfg: &chainlab::config::Config,
) -> Result<(), StoreError> {
    let err = |e: String| StoreError::Backend {
        location: path.display().to_string(),
        reason: e,
    };
    let text = toml::to_string(cfg).map_err(|e| err(e.to_string()))?;
    let tree = db.open_tree("cluster").map_err(|e| err(e.to_string()))?;
    tree.insert("config", text.as_bytes())
        .map_err(|e| err(e.to_string()))?;
    Ok(())
}

/// The config recorded by [`record_config`], if any.
///
/// # Errors
/// [`StoreError`] when the tree cannot be read or the text is not valid UTF-8.
pub fn recorded_config(db: &sled::Db, path: &Path) -> Result<Option<String>, StoreError> {
    let err = |e: String| StoreError::Backend {
        location: path.display().to_string(),
        reason: e,
    };
    let tree = db.open_tree("cluster").map_err(|e| err(e.to_string()))?;
    match tree.get("config").map_err(|e| err(e.to_string()))? {
        Some(v) => Ok(Some(
            String::from_utf8(v.to_vec()).map_err(|e| err(format!("recorded config: {e}")))?,
        )),
        None => Ok(None),
    }
}

/// Node ids that have trees in the database, ascending.
pub fn stored_nodes(db: &sled::Db) -> Vec<usize> {
    let mut ids: Vec<usize> = db
        .tree_names()
        .iter()
        .filter_map(|n| {
            std::str::from_utf8(n)
                .ok()?
                .strip_prefix("node")?
                .strip_suffix(".blocks")?
                .parse()
                .ok()
        })
        .collect();
    ids.sort_unstable();
    ids
}

/// One node's trees.
#[derive(Clone)]
pub struct SledStore {
    blocks: sled::Tree,
    index: sled::Tree,
    meta: sled::Tree,
    location: String,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SledStore({})", self.location)
    }
}

/// The index key of a block: height (big-endian, so keys sort by height) ‖ hash.
fn index_key(height: u64, hash: &Hash) -> [u8; 40] {
    let mut key = [0u8; 40];
    key[..8].copy_from_slice(&height.to_be_bytes());
    key[8..].copy_from_slice(&hash.0);
    key
}

fn backend(location: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend {
        location: location.to_string(),
        reason: e.to_string(),
    }
}

impl SledStore {
    /// Opens node `id`'s trees in `db` (at `path`, for messages).
    ///
    /// # Errors
    /// [`StoreError::Backend`] naming the trees.
    pub fn open(db: &sled::Db, path: &Path, id: usize) -> Result<SledStore, StoreError> {
        let location = format!("{} (node {id})", path.display());
        let tree = |suffix: &str| {
            db.open_tree(format!("node{id}.{suffix}"))
                .map_err(|e| backend(&location, e))
        };
        Ok(SledStore {
            blocks: tree("blocks")?,
            index: tree("index")?,
            meta: tree("meta")?,
            location,
        })
    }

    fn load_blocks_unguarded(&self) -> Result<Vec<Block>, StoreError> {
        let mut out = Vec::new();
        for item in self.index.iter() {
            let (k, _) = item.map_err(|e| backend(&self.location, e))?;
            if k.len() != 40 {
                return Err(self.corrupt(hex::encode(&k), "index key is not height ‖ hash"));
            }
            let hash = Hash(k[8..].try_into().expect("32 bytes"));
            let bytes = self
                .blocks
                .get(hash.0)
                .map_err(|e| backend(&self.location, e))?
                .ok_or_else(|| self.corrupt(hash.to_hex(), "indexed block is missing"))?;
            let block: Block =
                encoding::decode(&bytes).map_err(|e| self.corrupt(hash.to_hex(), e.to_string()))?;
            if block.hash() != hash {
                return Err(self.corrupt(hash.to_hex(), "block bytes do not hash to their key"));
            }
            out.push(block);
        }
        Ok(out)
    }

    /// Removes everything this node stored (for `wipe`).
    ///
    /// # Errors
    /// Backend failures.
    pub fn clear(&self) -> Result<(), StoreError> {
        for t in [&self.blocks, &self.index, &self.meta] {
            t.clear().map_err(|e| backend(&self.location, e))?;
        }
        Ok(())
    }

    fn corrupt(&self, key: String, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            location: self.location.clone(),
            key,
            reason: reason.into(),
        }
    }
}

impl BlockStore for SledStore {
    fn location(&self) -> String {
        self.location.clone()
    }

    fn put_block(&mut self, hash: &Hash, block: &Block) -> Result<(), StoreError> {
        self.blocks
            .insert(hash.0, encoding::encode(block))
            .map_err(|e| backend(&self.location, e))?;
        self.index
            .insert(index_key(block.header.height, hash), &[])
            .map_err(|e| backend(&self.location, e))?;
        Ok(())
    }

    fn remove_block(&mut self, hash: &Hash, height: u64) -> Result<(), StoreError> {
        let mut key = [0u8; 40];
        key[..8].copy_from_slice(&height.to_be_bytes());
        key[8..].copy_from_slice(&hash.0);
        // The index entry first: a crash in between leaves an unindexed block, never an
        // indexed one that is missing.
        self.index
            .remove(key)
            .map_err(|e| backend(&self.location, e))?;
        self.blocks
            .remove(hash.0)
            .map_err(|e| backend(&self.location, e))?;
        Ok(())
    }

    fn commit(
        &mut self,
        blocks: &[(Hash, Arc<Block>)],
        tip: Option<&Hash>,
    ) -> Result<(), StoreError> {
        use sled::transaction::{TransactionError, TransactionResult};
        use sled::Transactional;
        // Encoded outside the transaction, which sled may run more than once.
        let records: Vec<(Hash, Vec<u8>, [u8; 40])> = blocks
            .iter()
            .map(|(hash, b)| {
                let hash = *hash;
                (
                    hash,
                    encoding::encode(&**b),
                    index_key(b.header.height, &hash),
                )
            })
            .collect();
        let result: TransactionResult<()> =
            (&self.blocks, &self.index, &self.meta).transaction(|(bt, it, mt)| {
                for (hash, bytes, key) in &records {
                    bt.insert(&hash.0[..], bytes.as_slice())?;
                    it.insert(&key[..], &[][..])?;
                }
                if let Some(t) = tip {
                    mt.insert("tip", &t.0[..])?;
                }
                Ok(())
            });
        result.map_err(|e| match e {
            TransactionError::Abort(()) => backend(&self.location, "transaction aborted"),
            TransactionError::Storage(e) => backend(&self.location, e),
        })
    }

    fn set_tip(&mut self, hash: &Hash) -> Result<(), StoreError> {
        self.meta
            .insert("tip", &hash.0)
            .map_err(|e| backend(&self.location, e))?;
        Ok(())
    }

    fn tip(&self) -> Result<Option<Hash>, StoreError> {
        let Some(v) = self
            .meta
            .get("tip")
            .map_err(|e| backend(&self.location, e))?
        else {
            return Ok(None);
        };
        let arr: [u8; 32] = v
            .as_ref()
            .try_into()
            .map_err(|_| self.corrupt("tip".into(), format!("{} bytes, expected 32", v.len())))?;
        Ok(Some(Hash(arr)))
    }

    fn load_blocks(&self) -> Result<Vec<Block>, StoreError> {
        guarded(&self.location, || self.load_blocks_unguarded())
    }

    fn meta(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let v = self.meta.get(key).map_err(|e| backend(&self.location, e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn set_meta(&mut self, key: &str, value: &[u8]) -> Result<(), StoreError> {
        self.meta
            .insert(key, value)
            .map_err(|e| backend(&self.location, e))?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        self.blocks
            .flush()
            .map_err(|e| backend(&self.location, e))?;
        Ok(())
    }
}

/// Where the process keeps its sled database.
#[derive(Debug)]
pub enum DataDir {
    /// Kept after exit.
    Kept(PathBuf),
    /// Removed at exit.
    Temp(tempfile::TempDir),
}

impl DataDir {
    /// The path.
    pub fn path(&self) -> &Path {
        match self {
            DataDir::Kept(p) => p,
            DataDir::Temp(t) => t.path(),
        }
    }
}
