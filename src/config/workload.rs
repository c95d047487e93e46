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
    /// Share of the transactions that call `contract` instead of transferring (0 to 1).
    pub contract_calls: f64,
    /// The example contract called (`contract::examples::WORKLOAD_CONTRACTS`), deployed at
    /// genesis when `contract_calls` > 0.
    pub contract: String,
    /// Gas each call attaches.
    pub call_gas: u64,
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
            contract_calls: 0.0,
            contract: "token".into(),
            call_gas: 100_000,
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
        if !(0.0..=1.0).contains(&self.contract_calls) {
            return err(
                "workload.contract_calls",
                format!("{} is not a share in 0..=1", self.contract_calls),
            );
        }
        if !crate::contract::examples::WORKLOAD_CONTRACTS.contains(&self.contract.as_str()) {
            return err(
                "workload.contract",
                format!(
                    "`{}` is not a contract the load generator can call (it can call: {})",
                    self.contract,
                    crate::contract::examples::WORKLOAD_CONTRACTS.join(", ")
                ),
            );
        }
        if self.contract_calls > 0.0 && self.call_gas == 0 {
            return err("workload.call_gas", "must be positive".into());
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

impl super::Config {
    /// Where the load generator's contract lives (deployed at genesis).
    pub fn workload_contract_address(&self) -> crate::crypto::Address {
        crate::tx::contract_address(&crate::crypto::Address::default(), 0)
    }

    /// The contracts of the genesis state: the load generator's, when it calls one.
    pub fn genesis_contracts(&self) -> Vec<crate::chain::params::GenesisContract> {
        use crate::contract::examples;
        let w = &self.workload;
        if w.contract_calls <= 0.0 || w.tx_rate <= 0.0 {
            return Vec::new();
        }
        // The name was checked by `validate`, and every example compiles (a unit test
        // says so), so the module is never empty.
        let wasm = examples::wasm(&w.contract).unwrap_or_default();
        let holders: Vec<crate::crypto::Address> = (0..w.accounts)
            .map(|i| super::Config::account_key(i).address())
            .collect();
        vec![crate::chain::params::GenesisContract {
            address: self.workload_contract_address(),
            wasm: std::sync::Arc::new(wasm),
            storage: examples::workload_genesis_storage(&w.contract, &holders),
        }]
    }
}
