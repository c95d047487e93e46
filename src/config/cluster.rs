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
    /// Real clock only: how many arbiters (threads) the nodes run on; 0 = one per available
    /// core. Node `i` runs on arbiter `i mod arbiters` ([`ClusterConfig::arbiter_of`]). The
    /// virtual clock always runs on one arbiter (its paused clock is per thread).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub arbiters: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            nodes: 16,
            seed: 1,
            clock: ClockMode::Virtual,
            duration: Duration::from_secs(600),
            settle: Duration::from_secs(60),
            arbiters: 0,
        }
    }
}

impl ClusterConfig {
    /// The number of arbiters the nodes of a run use: 1 on the virtual clock; on the real
    /// clock `arbiters`, or the number of available cores when it is 0 (`available` is
    /// `std::thread::available_parallelism`, passed in so the core stays free of the
    /// operating system), never more than the nodes.
    pub fn arbiter_count(&self, available: usize) -> usize {
        match self.clock {
            ClockMode::Virtual => 1,
            ClockMode::Real => {
                let k = if self.arbiters == 0 {
                    available
                } else {
                    self.arbiters
                };
                k.clamp(1, self.nodes.max(1))
            }
        }
    }

    /// The arbiter node `id` runs on, out of `count`: round-robin (`id mod count`), so
    /// neighbouring ids land on different cores and every arbiter gets `nodes / count`
    /// nodes, give or take one. All five actors of a node run on its arbiter.
    pub fn arbiter_of(id: usize, count: usize) -> usize {
        id % count.max(1)
    }

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
        if self.arbiters > 1024 {
            return err(
                "cluster.arbiters",
                format!("{} is not in 0..=1024", self.arbiters),
            );
        }
        if self.duration.is_zero() {
            return err("cluster.duration", "must be positive".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_virtual_clock_runs_on_one_arbiter_whatever_is_asked() {
        let c = ClusterConfig {
            arbiters: 8,
            ..ClusterConfig::default()
        };
        assert_eq!(c.arbiter_count(4), 1);
    }

    #[test]
    fn the_real_clock_uses_every_core_or_the_knob_but_never_more_than_the_nodes() {
        let mut c = ClusterConfig {
            clock: ClockMode::Real,
            ..ClusterConfig::default()
        };
        assert_eq!(c.arbiter_count(2), 2);
        c.arbiters = 3;
        assert_eq!(c.arbiter_count(2), 3);
        c.nodes = 2;
        assert_eq!(c.arbiter_count(2), 2);
        c.arbiters = 0;
        assert_eq!(c.arbiter_count(0), 1);
    }

    #[test]
    fn nodes_go_round_robin_and_each_arbiter_gets_its_share() {
        let count = 3;
        let mut per = [0usize; 3];
        for id in 0..16 {
            per[ClusterConfig::arbiter_of(id, count)] += 1;
        }
        assert_eq!(per, [6, 5, 5]);
        assert_eq!(ClusterConfig::arbiter_of(4, 2), 0);
        assert_eq!(ClusterConfig::arbiter_of(5, 2), 1);
        assert_eq!(ClusterConfig::arbiter_of(5, 0), 0);
    }
}
