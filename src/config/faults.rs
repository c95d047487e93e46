//! `[[faults]]`: the file form of a fault scenario ([`FaultFile`]) and the check of the
//! scenario's entries against the cluster (the entries themselves are
//! [`FaultEntry`]s, defined in [`crate::sim::fault`]).

use super::{invalid, ConfigError};
use crate::sim::fault::{FaultEntry, FaultKind};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A file of `[[faults]]` entries (`chainlab run --faults FILE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// The entries.
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
}

/// Checks each entry of `faults` against a cluster of `n` nodes that runs until `end`
/// (`cluster.duration + cluster.settle`); `validators` are the node ids of the validators
/// under proof of stake (None under proof of work).
///
/// # Errors
/// [`ConfigError::Invalid`] naming the first bad entry and its kind.
pub(crate) fn validate(
    faults: &[FaultEntry],
    file: &str,
    n: usize,
    end: Duration,
    validators: Option<&[usize]>,
) -> Result<(), ConfigError> {
    for (i, f) in faults.iter().enumerate() {
        let key = format!("faults[{i}] (kind = {})", f.kind.name());
        if let Err(e) = f.validate(i, n, end) {
            return invalid(file, &key, e.reason);
        }
        if f.kind == FaultKind::Equivocate {
            let node = f.node.unwrap_or(0);
            match validators {
                None => {
                    let why = "needs proof of stake (consensus.kind = \"pos\")";
                    return invalid(file, &key, why.into());
                }
                Some(v) if !v.contains(&node) => {
                    let why = format!("node {node} is not a validator (pos.validators = {v:?})");
                    return invalid(file, &key, why);
                }
                Some(_) => {}
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ConfigError};

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "f.toml", &[])
    }

    #[test]
    fn equivocation_needs_proof_of_stake_and_a_validator() {
        let fault = "[[faults]]\nat = \"10s\"\nkind = \"equivocate\"\nnode = 2\nfor = \"30s\"\n";
        let pos = "[consensus]\nkind = \"pos\"\n";
        let c = parse(&format!("{pos}{fault}")).expect("a validator may equivocate");
        assert_eq!(c.faults.len(), 1);
        let reason = |text: String| match parse(&text) {
            Err(ConfigError::Invalid { key, reason, .. }) => {
                assert_eq!(key, "faults[0] (kind = equivocate)");
                reason
            }
            other => panic!("{text}: {other:?}"),
        };
        assert!(reason(fault.into()).contains("needs proof of stake"));
        let subset = format!("{pos}[pos]\nvalidators = [0, 1]\n{fault}");
        let r = reason(subset);
        assert!(r.contains("node 2 is not a validator"), "{r}");
        let r = reason(format!("{pos}{}", fault.replace("node = 2", "node = 99")));
        assert!(r.contains("node 99 does not exist"), "{r}");
    }
}
