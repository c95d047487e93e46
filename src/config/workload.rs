//! `[workload]`: the transaction load and the accounts funded at genesis
//! ([`WorkloadConfig`]), with their checks.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};

/// Largest `workload.tx_rate`.
pub const MAX_TX_RATE: f64 = 1_000_000.0;

/// `[workload]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Transactions per second (Poisson), 0 = none.
    pub tx_rate: f64,
    /// Accounts funded at genesis that send and receive.
    pub accounts: usize,
    /// Genesis balance of each.
    pub initial_balance: u64,
    /// Largest amount sent (uniform from 1).
    pub max_amount: u64,
    /// Fee range (uniform).
    pub min_fee: u64,
    /// Fee range (uniform).
    pub max_fee: u64,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            tx_rate: 50.0,
            accounts: 1000,
            initial_balance: 1_000_000_000,
            max_amount: 1000,
            min_fee: 1,
            max_fee: 100,
        }
    }
}

impl WorkloadConfig {
    /// Checks `workload.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if !(0.0..=MAX_TX_RATE).contains(&self.tx_rate) {
            return err(
                "workload.tx_rate",
                format!("{} is not in 0..={MAX_TX_RATE}", self.tx_rate),
            );
        }
        if self.tx_rate > 0.0 && self.accounts < 2 {
            return err(
                "workload.accounts",
                "at least 2 accounts are needed to send transactions".into(),
            );
        }
        if self.min_fee > self.max_fee {
            return err(
                "workload.min_fee",
                format!("{} exceeds max_fee {}", self.min_fee, self.max_fee),
            );
        }
        if self.max_amount == 0 {
            return err("workload.max_amount", "must be positive".into());
        }
        Ok(())
    }
}
