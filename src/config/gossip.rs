//! `[gossip]`: announcement batching, block push, memory of seen ids and request timeouts
//! ([`GossipConfig`]), with their checks and [`Config::gossip_policy`].

use super::{invalid, Config, ConfigError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// `[gossip]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GossipConfig {
    /// Transaction announcements are batched over this interval.
    #[serde(with = "humantime_serde")]
    pub tx_batch_interval: Duration,
    /// Ids remembered per node.
    pub seen_capacity: usize,
    /// Unanswered `getdata` may go to another peer after this.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Unanswered `getblocks` is retried at another peer after this.
    #[serde(with = "humantime_serde")]
    pub sync_timeout: Duration,
    /// Every this long, each node re-announces transactions pooled for longer than this
    /// (announcements lost to partitions or loss are repaired); 0 = never.
    #[serde(with = "humantime_serde")]
    pub rebroadcast_interval: Duration,
    /// A node sends each new block of its best chain whole, unasked, to this many neighbours
    /// and announces it to the rest (0 = announce to all; they fetch it with `getdata`).
    pub block_push: usize,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            tx_batch_interval: Duration::from_millis(200),
            seen_capacity: 100_000,
            request_timeout: Duration::from_secs(2),
            sync_timeout: Duration::from_secs(5),
            rebroadcast_interval: Duration::from_secs(60),
            block_push: 3,
        }
    }
}

impl GossipConfig {
    /// Checks `gossip.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.seen_capacity < 1_000 {
            return err(
                "gossip.seen_capacity",
                "must be at least 1000 (a node must remember what it has seen to gossip)".into(),
            );
        }
        if self.tx_batch_interval.is_zero() {
            return err("gossip.tx_batch_interval", "must be positive".into());
        }
        Ok(())
    }
}

impl Config {
    /// The gossip policy.
    pub fn gossip_policy(&self) -> crate::net::gossip::GossipPolicy {
        crate::net::gossip::GossipPolicy {
            seen_capacity: self.gossip.seen_capacity,
            peer_known_capacity: 4096,
            request_timeout_ms: self.gossip.request_timeout.as_millis() as u64,
            sync_timeout_ms: self.gossip.sync_timeout.as_millis() as u64,
            block_push: self.gossip.block_push,
        }
    }
}
