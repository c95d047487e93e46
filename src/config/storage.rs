//! `[storage]`: where and how each node keeps its chain ([`StorageConfig`],
//! [`StorageBackend`]), with their checks.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Storage backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StorageBackend {
    /// sled on disk.
    #[default]
    Sled,
    /// In memory only.
    Memory,
}

/// `[storage]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sled` or `memory`.
    pub backend: StorageBackend,
    /// Where sled keeps data; empty = a temporary directory removed at exit.
    pub data_dir: PathBuf,
    /// sled page cache, MiB.
    pub cache_mb: u64,
    /// Flush the store after each imported block, before announcing it.
    pub flush_each_block: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: StorageBackend::Sled,
            data_dir: PathBuf::new(),
            cache_mb: 64,
            flush_each_block: true,
        }
    }
}

impl StorageConfig {
    /// Checks `storage.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.cache_mb == 0 {
            return err("storage.cache_mb", "must be positive".into());
        }
        if self.backend == StorageBackend::Memory && !self.data_dir.as_os_str().is_empty() {
            return err(
                "storage.data_dir",
                "is set but storage.backend = \"memory\" keeps nothing: use backend = \"sled\""
                    .into(),
            );
        }
        Ok(())
    }
}
