//! `[contracts]`: the limits of contract execution ([`ContractParams`], every field a key of
//! the section with the same name), with their checks.

use super::{invalid, ConfigError};
use crate::contract::ContractParams;

/// Largest `contracts.receipt_delay_blocks`.
pub const MAX_RECEIPT_DELAY: u64 = 1000;

impl ContractParams {
    /// Checks `contracts.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if !(1..=MAX_RECEIPT_DELAY).contains(&self.receipt_delay_blocks) {
            return err(
                "contracts.receipt_delay_blocks",
                format!(
                    "{} is not in 1..={MAX_RECEIPT_DELAY}: a receipt runs at least one block \
                     after the block that made it",
                    self.receipt_delay_blocks
                ),
            );
        }
        let positive = [
            ("contracts.max_code_bytes", u64::from(self.max_code_bytes)),
            (
                "contracts.max_memory_pages",
                u64::from(self.max_memory_pages),
            ),
            ("contracts.max_call_gas", self.max_call_gas),
            ("contracts.max_block_gas", self.max_block_gas),
            ("contracts.max_depth", u64::from(self.max_depth)),
            ("contracts.max_args_bytes", u64::from(self.max_args_bytes)),
            ("contracts.max_key_bytes", u64::from(self.max_key_bytes)),
            ("contracts.max_value_bytes", u64::from(self.max_value_bytes)),
        ];
        for (key, v) in positive {
            if v == 0 {
                return err(key, "must be positive".into());
            }
        }
        if self.max_memory_pages > 1024 {
            return err(
                "contracts.max_memory_pages",
                format!(
                    "{} pages (64 KiB each) is more than 1024 (64 MiB)",
                    self.max_memory_pages
                ),
            );
        }
        if self.max_call_gas > self.max_block_gas {
            return err(
                "contracts.max_call_gas",
                format!(
                    "{} is more than contracts.max_block_gas {}: such a call fits no block",
                    self.max_call_gas, self.max_block_gas
                ),
            );
        }
        Ok(())
    }
}
