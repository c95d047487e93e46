//! `[pow]`: mining engine, hash power shares and starting difficulty ([`PowConfig`],
//! [`PowEngine`], [`HashPower`], [`Skew`]), with their checks (shares against the node count,
//! the hashing engine against the clock).

use super::{invalid, ClockMode, ConfigError};
pub use crate::sim::model::{HashPower, Skew};
use serde::{Deserialize, Serialize};

/// Largest `pow.difficulty` for the simulated engine (each block costs ~this many hashes).
pub const MAX_SIMULATED_DIFFICULTY: u64 = 1 << 24;

/// How blocks are mined.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PowEngine {
    /// Exponential inter-block times, then a real (cheap) nonce search.
    #[default]
    Simulated,
    /// Real double-SHA-256 grinding off the actor thread (real clock only).
    Hashing,
}

/// `[pow]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PowConfig {
    /// `simulated` or `hashing`.
    pub engine: PowEngine,
    /// Share of hash power per node.
    pub hashpower: HashPower,
    /// Difficulty (expected hashes per block) from genesis until the first retarget.
    pub difficulty: u64,
}

impl Default for PowConfig {
    fn default() -> Self {
        PowConfig {
            engine: PowEngine::Simulated,
            hashpower: HashPower::Named("equal".into()),
            difficulty: 4096,
        }
    }
}

impl PowConfig {
    /// Checks `pow.*` for a cluster of `n` nodes driven by `clock` (`cluster.clock`).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(
        &self,
        file: &str,
        n: usize,
        clock: ClockMode,
    ) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.difficulty == 0 {
            return err("pow.difficulty", "must be at least 1".into());
        }
        if self.engine == PowEngine::Simulated && self.difficulty > MAX_SIMULATED_DIFFICULTY {
            return err(
                "pow.difficulty",
                format!("{} is above {MAX_SIMULATED_DIFFICULTY}: the simulated engine really finds each nonce (~difficulty hashes per block)", self.difficulty),
            );
        }
        if self.engine == PowEngine::Hashing && clock == ClockMode::Virtual {
            return err(
                "pow.engine",
                "\"hashing\" grinds real hashes and needs cluster.clock = \"real\"".into(),
            );
        }
        check_shares(file, "pow.hashpower", &self.hashpower, n, "nodes")?;
        Ok(())
    }
}

/// Checks a share spec (`pow.hashpower`, `pos.stake`) at `key` for `n` holders (`holders`
/// names them in the error: "nodes", "validators").
///
/// # Errors
/// [`ConfigError::Invalid`] naming `key` (or `key.skew`).
pub(crate) fn check_shares(
    file: &str,
    key: &str,
    spec: &HashPower,
    n: usize,
    holders: &str,
) -> Result<(), ConfigError> {
    let err = |key: &str, reason: String| invalid(file, key, reason);
    match spec {
        HashPower::Named(s) if s == "equal" => Ok(()),
        HashPower::Named(s) => err(
            key,
            format!("unknown {s:?}: expected \"equal\", a list of shares or {{ skew = s }}"),
        ),
        HashPower::Shares(v) if v.len() != n => {
            err(key, format!("{} shares for {n} {holders}", v.len()))
        }
        HashPower::Shares(v)
            if v.iter().any(|x| !(*x >= 0.0 && x.is_finite())) || v.iter().sum::<f64>() <= 0.0 =>
        {
            err(key, "shares must be >= 0 with a positive sum".into())
        }
        HashPower::Shares(_) => Ok(()),
        HashPower::Skewed(Skew { skew }) if !(*skew >= 0.0 && skew.is_finite()) => {
            err(&format!("{key}.skew"), "must be >= 0".into())
        }
        HashPower::Skewed(_) => Ok(()),
    }
}
