//! `[frontrun]`: one node front-runs calls of one contract method
//! ([`crate::contract::frontrun`], docs/contracts-frontrunning.md). Absent: nobody does.
//!
//! ```toml
//! [frontrun]
//! node = 3                  # the attacker: its mempool copies what it admits
//! contract = "registry"     # a [[calls]] deploy's name, "workload", or a 40-hex-digit address
//! method = "register"       # the method whose calls it copies
//! fee_bump = 2.0            # a copy pays the victim's fee x fee_bump, plus 1 (>= 1.0)
//! ```
//!
//! The attacker signs with its node's key ([`Config::node_key`]), funded at genesis with
//! `workload.initial_balance` like the scenario users.

use super::{invalid, Config, ConfigError};
use crate::contract::frontrun::Frontrunner;
use crate::crypto::Address;
use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Largest `frontrun.fee_bump`.
pub const MAX_FEE_BUMP: f64 = 1_000_000.0;

fn default_bump() -> f64 {
    2.0
}

/// `[frontrun]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontrunConfig {
    /// The attacking node.
    pub node: NodeId,
    /// The contract watched: a `[[calls]]` deploy's name, `workload`, or an address (hex).
    pub contract: String,
    /// The method whose calls are copied.
    pub method: String,
    /// A copy pays the victim's fee times this, plus one.
    #[serde(default = "default_bump")]
    pub fee_bump: f64,
}

impl FrontrunConfig {
    /// Checks `frontrun.*` for a cluster of `nodes`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str, nodes: usize) -> Result<(), ConfigError> {
        if self.node >= nodes {
            return invalid(
                file,
                "frontrun.node",
                format!("node {} does not exist ({nodes} nodes)", self.node),
            );
        }
        if self.contract.is_empty() {
            return invalid(file, "frontrun.contract", "names no contract".into());
        }
        if self.method.is_empty() {
            return invalid(file, "frontrun.method", "names no method".into());
        }
        if !(1.0..=MAX_FEE_BUMP).contains(&self.fee_bump) {
            return invalid(
                file,
                "frontrun.fee_bump",
                format!(
                    "{} is not in 1..={MAX_FEE_BUMP}: a copy must pay at least the victim's fee",
                    self.fee_bump
                ),
            );
        }
        Ok(())
    }
}

impl Config {
    /// The front-runner `[frontrun]` describes and its node, with the contract resolved among
    /// `names` (the scenario's contracts by address, from [`Config::plan_calls`]); `None`
    /// without `[frontrun]`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] on `frontrun.contract` when it is no contract's name (or more
    /// than one's) nor an address.
    pub fn frontrunner(
        &self,
        file: &str,
        names: &BTreeMap<Address, String>,
    ) -> Result<Option<(NodeId, Frontrunner)>, ConfigError> {
        let Some(f) = &self.frontrun else {
            return Ok(None);
        };
        let named: Vec<Address> = names
            .iter()
            .filter(|(_, n)| **n == f.contract)
            .map(|(a, _)| *a)
            .collect();
        let contract = match named.as_slice() {
            [one] => *one,
            [] => super::calls::parse_address(&f.contract).map_err(|_| ConfigError::Invalid {
                file: file.into(),
                key: "frontrun.contract".into(),
                reason: format!(
                    "`{}` is neither a contract deployed by [[calls]], nor `workload`, \
                         nor a 40-hex-digit address",
                    f.contract
                ),
            })?,
            _ => {
                return Err(ConfigError::Invalid {
                    file: file.into(),
                    key: "frontrun.contract".into(),
                    reason: format!(
                        "{} contracts are named `{}`: give the address",
                        named.len(),
                        f.contract
                    ),
                })
            }
        };
        let attacker = Frontrunner::new(
            Config::node_key(f.node),
            self.consensus.chain_id,
            contract,
            f.method.clone(),
            f.fee_bump,
        );
        Ok(Some((f.node, attacker)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCENARIO: &str = r#"
        [cluster]
        nodes = 4
        [network]
        topology = "ring"
        [[calls]]
        at = "1s"
        deploy = "registry"
        [frontrun]
        node = 2
        contract = "registry"
        method = "register"
    "#;

    fn no_files(p: &str) -> Result<Vec<u8>, String> {
        Err(format!("no file {p}"))
    }

    #[test]
    fn the_attacker_is_resolved_and_funded() {
        let c = Config::parse(SCENARIO, "t.toml", &[]).unwrap();
        assert_eq!(c.frontrun.as_ref().map(|f| f.fee_bump), Some(2.0));
        let (plan, names) = c.plan_calls("t.toml", &no_files).unwrap();
        let (node, f) = c.frontrunner("t.toml", &names).unwrap().unwrap();
        assert_eq!(node, 2);
        assert_eq!(f.contract(), plan[0].tx.to);
        assert_eq!(f.address(), Config::node_key(2).address());
        let funded = c.chain_params().genesis_balances;
        assert!(funded.contains(&(f.address(), c.workload.initial_balance)));
        let without = Config::parse("", "t.toml", &[]).unwrap();
        assert!(without.frontrunner("t.toml", &names).unwrap().is_none());
        let by_address = Config::parse(
            &SCENARIO.replace(
                "\"registry\"\n        method",
                "\"0101010101010101010101010101010101010101\"\n        method",
            ),
            "t.toml",
            &[],
        )
        .unwrap();
        let (_, f) = by_address.frontrunner("t.toml", &names).unwrap().unwrap();
        assert_eq!(f.contract(), Address([1; 20]));
    }

    #[test]
    fn bad_keys_are_named() {
        for (change, key) in [
            ("frontrun.node=4", "frontrun.node"),
            ("frontrun.fee_bump=0.5", "frontrun.fee_bump"),
            ("frontrun.fee_bump=nan", "frontrun.fee_bump"),
            ("frontrun.method=\"\"", "frontrun.method"),
        ] {
            match Config::parse(SCENARIO, "t.toml", &[change.into()]) {
                Err(ConfigError::Invalid { key: k, .. }) => assert_eq!(k, key, "{change}"),
                other => panic!("{change}: {other:?}"),
            }
        }
        let c = Config::parse(SCENARIO, "t.toml", &["frontrun.contract=nope".into()]).unwrap();
        let (_, names) = c.plan_calls("t.toml", &no_files).unwrap();
        let e = c.frontrunner("t.toml", &names).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "frontrun.contract"),
            "{e}"
        );
        assert!(Config::parse(SCENARIO, "t.toml", &["frontrun.speed=1".into()]).is_err());
    }
}
