//! `[node]`: per-process node options ([`NodeConfig`]); every value is valid, so there is
//! nothing to check.

use serde::{Deserialize, Serialize};

/// `[node]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Share successful signature checks between the nodes of the process.
    pub sig_cache: bool,
    /// Entries in that cache.
    pub sig_cache_size: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            sig_cache: true,
            sig_cache_size: 200_000,
        }
    }
}
