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
    /// Share block executions (post-state, undo, records) and end-of-run replays between
    /// the nodes of the process (`chain::shared`). Changes no result, only the time taken.
    pub exec_cache: bool,
    /// Blocks kept in that cache (the highest heights).
    pub exec_cache_size: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            sig_cache: true,
            sig_cache_size: 200_000,
            exec_cache: true,
            exec_cache_size: crate::chain::shared::DEFAULT_CAPACITY,
        }
    }
}
