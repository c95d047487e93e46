//! `[cluster]`: node count, seed, clock and run length ([`ClusterConfig`], [`ClockMode`]),
//! with their checks.

use super::{invalid, ConfigError};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Which clock drives the cluster.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ClockMode {
    /// Paused tokio clock on one thread: deterministic, time jumps to the next event.
    #[default]
    Virtual,
    /// Wall clock.
    Real,
}

/// `[cluster]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterConfig {
    /// Number of nodes.
    pub nodes: usize,
    /// Seed of every random draw.
    pub seed: u64,
    /// `virtual` or `real`.
    pub clock: ClockMode,
    /// How long the workload and mining run.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
    /// Time after `duration` for the network to converge before the final measurement.
    #[serde(with = "humantime_serde")]
    pub settle: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 16,
            seed: 1,
            clock: ClockMode::Virtual,
            duration: Duration::from_secs(600),
            settle: Duration::from_secs(60),
        }
    }
}

impl ClusterConfig {
    /// Checks `cluster.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        let n = self.nodes;
        if n == 0 || n > 100_000 {
            return err("cluster.nodes", format!("{n} is not in 1..=100000"));
        }
        if self.duration.is_zero() {
            return err("cluster.duration", "must be positive".into());
        }
        Ok(())
    }
}
