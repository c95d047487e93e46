//! `[safety]`: the common-prefix depth the safety check holds the chain to
//! ([`SafetyConfig`]); every value is valid, so there is nothing to check.

use serde::{Deserialize, Serialize};

/// `[safety]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Common-prefix depth: a block this many confirmations deep must never be reverted.
    pub k: u64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig { k: 6 }
    }
}
