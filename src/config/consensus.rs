//! `[consensus]`: chain id, block timing, size limits and reward ([`ConsensusConfig`],
//! [`ConsensusKind`]), with their checks and [`Config::chain_params`].

use super::{invalid, Config, ConfigError};
use crate::chain::params::{ChainParams, TieBreak};
use crate::consensus::pow::Pow;
use crate::consensus::Engine;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Consensus families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConsensusKind {
    /// Proof of work.
    #[default]
    Pow,
    /// Proof of stake (`[pos]`).
    Pos,
}

/// `[consensus]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsensusConfig {
    /// `pow` (proof of stake comes next).
    pub kind: ConsensusKind,
    /// Chain id signed into transactions.
    pub chain_id: u32,
    /// Target time between blocks.
    #[serde(with = "humantime_serde")]
    pub block_interval: Duration,
    /// Retarget difficulty every this many blocks (0 = never).
    pub retarget_interval: u64,
    /// chainlab's retarget rules (true): windows share their boundary block and a window end
    /// may not be older than its start. False: Bitcoin's original ones (non-overlapping windows
    /// of `retarget_interval` blocks, off by one, no window-end rule), open to the time warp
    /// (docs/experiments.md, "Timewarp").
    pub time_warp_fix: bool,
    /// `first-seen` or `random`.
    pub tie_break: TieBreak,
    /// Most transactions per block.
    pub max_block_txs: usize,
    /// Most bytes per block.
    pub max_block_bytes: u64,
    /// Coins minted per block.
    pub reward: u64,
    /// How far a block timestamp may run ahead of a node's clock.
    #[serde(with = "humantime_serde")]
    pub max_future_drift: Duration,
    /// Blocks waiting for a parent, per node.
    pub max_orphans: usize,
    /// The genesis block's timestamp (RFC 3339, e.g. `"2026-12-01T00:00:00Z"`): the network's
    /// launch. Unset: chain time 0, where a cluster run's chain clock starts. `chainlab node`
    /// (chain time = Unix time) requires it, or a branch could claim the decades since 1970.
    #[serde(with = "humantime_serde", skip_serializing_if = "Option::is_none")]
    pub genesis_time: Option<SystemTime>,
    /// Deepest fork a node follows, in blocks below the highest tip it has had: blocks whose
    /// branch leaves the best chain lower are refused and side branches that fall lower are
    /// pruned (a rolling checkpoint; a split longer than this does not heal by itself).
    pub max_fork_depth: u64,
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            kind: ConsensusKind::Pow,
            chain_id: 1,
            block_interval: Duration::from_secs(10),
            retarget_interval: 20,
            time_warp_fix: true,
            tie_break: TieBreak::FirstSeen,
            max_block_txs: 5_000,
            max_block_bytes: 2_000_000,
            reward: 5_000_000_000,
            max_future_drift: Duration::from_secs(15),
            max_orphans: 256,
            genesis_time: None,
            max_fork_depth: 100,
        }
    }
}

impl ConsensusConfig {
    /// Checks `consensus.*`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.block_interval.as_millis() < 1 {
            return err("consensus.block_interval", "must be at least 1ms".into());
        }
        if self.max_block_txs == 0 {
            return err("consensus.max_block_txs", "must be positive".into());
        }
        if !self.time_warp_fix && self.kind == ConsensusKind::Pow && self.retarget_interval == 1 {
            return err(
                "consensus.time_warp_fix",
                "false needs retarget_interval = 0 or at least 2 (a window of one block has no span)"
                    .into(),
            );
        }
        if self.max_fork_depth == 0 {
            return err(
                "consensus.max_fork_depth",
                "must be at least 1 (0 would refuse every competing block)".into(),
            );
        }
        let max_bytes = crate::encoding::MAX_DECODE_BYTES - 64 * 1024;
        if self.max_block_bytes < 1_000 || self.max_block_bytes > max_bytes {
            return err(
                "consensus.max_block_bytes",
                format!("must be in 1000..={max_bytes} (a block must fit one decodable message)"),
            );
        }
        if let Some(t) = self.genesis_time {
            if t.duration_since(SystemTime::UNIX_EPOCH).is_err() {
                return err(
                    "consensus.genesis_time",
                    "must not be before 1970-01-01T00:00:00Z".into(),
                );
            }
        }
        Ok(())
    }
}

impl Config {
    /// The consensus engine `consensus.kind` names, with its parameters.
    pub fn engine(&self) -> Engine {
        let c = &self.consensus;
        match c.kind {
            ConsensusKind::Pow => Engine::Pow(Pow {
                block_interval_ms: c.block_interval.as_millis() as u64,
                retarget_interval: c.retarget_interval,
                initial_difficulty: self.pow.difficulty,
                time_warp_fix: c.time_warp_fix,
            }),
            ConsensusKind::Pos => Engine::Pos(self.pos_engine()),
        }
    }

    /// `consensus.genesis_time` in Unix milliseconds (0 when unset).
    pub fn genesis_time_ms(&self) -> u64 {
        self.consensus
            .genesis_time
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    /// The chain parameters, with every workload account, every `[[calls]]` user, the
    /// `[frontrun]` attacker's node key, every double-spend attacker's (and branch-mode
    /// eclipse attacker's) node key and every low-fee spammer's accounts funded at genesis
    /// (`workload.initial_balance` each).
    pub fn chain_params(&self) -> ChainParams {
        let attacker = self.frontrun.as_ref().map(|f| Config::node_key(f.node));
        let double_spenders = (0..self.cluster.nodes)
            .filter(|&n| {
                self.double_spend(n).is_some()
                    || self
                        .eclipse(n)
                        .is_some_and(|p| p.mode == super::EclipseMode::Branch)
            })
            .map(Config::node_key);
        let genesis_balances = (0..self.workload.accounts)
            .map(Config::account_key)
            .chain((0..self.call_users()).map(Config::user_key))
            .chain(attacker)
            .chain(double_spenders)
            .chain(self.spam_funded())
            .map(|k| (k.address(), self.workload.initial_balance))
            .collect();
        let c = &self.consensus;
        ChainParams {
            chain_id: c.chain_id,
            engine: self.engine(),
            tie_break: c.tie_break,
            max_block_txs: c.max_block_txs,
            max_block_bytes: c.max_block_bytes,
            reward: c.reward,
            max_future_ms: c.max_future_drift.as_millis() as u64,
            genesis_time_ms: self.genesis_time_ms(),
            max_orphans: c.max_orphans,
            max_fork_depth: c.max_fork_depth,
            genesis_balances,
            contracts: self.contracts,
            genesis_contracts: self.genesis_contracts(),
            favor: self.favor(),
        }
    }

    /// The tie rule of a selfish pool with a set `gamma` (the first such `[[adversary]]`).
    fn favor(&self) -> Option<crate::chain::params::Favor> {
        let a = self.adversary.iter().find(|a| a.gamma.is_some())?;
        let miners = a
            .nodes
            .iter()
            .map(|&n| Config::node_key(n).address())
            .collect();
        Some(crate::chain::params::Favor::new(miners, a.gamma?))
    }
}
