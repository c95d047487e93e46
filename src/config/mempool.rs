//! `[mempool]`: per-node pool limits and admission rules ([`MempoolConfig`]), with their
//! checks and [`Config::mempool_policy`].

use super::{invalid, Config, ConfigError};
use crate::mempool::MempoolPolicy;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[mempool]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most transactions per node.
    pub max_txs: usize,
    /// How far past the next nonce a sender may queue.
    pub max_nonce_gap: u64,
    /// Lowest fee admitted.
    pub min_fee: u64,
    /// Age after which a pooled transaction is dropped.
    #[serde(with = "humantime_serde")]
    pub expiry: Duration,
    /// Fee bump (percent) a same-nonce replacement must offer.
    pub replace_bump_percent: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 50_000,
            max_nonce_gap: 64,
            min_fee: 1,
            expiry: Duration::from_secs(1800),
            replace_bump_percent: 10,
        }
    }
}

impl MempoolConfig {
    /// Checks `mempool.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        if self.max_txs == 0 {
            return invalid(file, "mempool.max_txs", "must be positive".into());
        }
        Ok(())
    }
}

impl Config {
    /// The mempool policy.
    pub fn mempool_policy(&self) -> MempoolPolicy {
        MempoolPolicy {
            chain_id: self.consensus.chain_id,
            max_txs: self.mempool.max_txs,
            max_nonce_gap: self.mempool.max_nonce_gap,
            min_fee: self.mempool.min_fee,
            expiry_ms: self.mempool.expiry.as_millis() as u64,
            replace_bump_percent: self.mempool.replace_bump_percent,
            contracts: self.contracts,
        }
    }
}
