//! `[[views]]`: read-only calls evaluated on the final best chain's state at the end of a run,
//! their results in `report.contracts.views` (docs/contracts.md) — how a scenario puts the
//! amounts a contract holds (a vault's books, a token balance) in the report, where `[expect]`
//! can check them.
//!
//! ```toml
//! [[views]]
//! name = "naive_total"      # the key in report.contracts.views
//! contract = "naive"        # a name a [[calls]] deploy gave, "workload", or an address
//! method = "total"
//! args = []                 # typed, as in [[calls]]
//! ```

use super::calls::{encode_args, resolve_contract};
use super::{invalid, Config, ConfigError};
use crate::crypto::Address;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One `[[views]]` entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewEntry {
    /// Its key in the report.
    pub name: String,
    /// The contract: a deployed name, `workload`, or an address.
    pub contract: String,
    /// The method.
    pub method: String,
    /// Typed arguments.
    #[serde(default)]
    pub args: Vec<String>,
}

/// A view resolved to an address and argument bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedView {
    /// Its key in the report.
    pub name: String,
    /// The contract.
    pub contract: Address,
    /// The method.
    pub method: String,
    /// The arguments.
    pub args: Vec<u8>,
}

impl Config {
    /// The views resolved against the contracts the scenario names (`labels`: name by address,
    /// as [`Config::plan_calls`] returns them).
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the entry: an unknown contract, a bad argument.
    pub fn plan_views(
        &self,
        file: &str,
        labels: &BTreeMap<Address, String>,
    ) -> Result<Vec<PlannedView>, ConfigError> {
        let mut names: BTreeMap<String, Address> =
            labels.iter().map(|(a, n)| (n.clone(), *a)).collect();
        names.insert("workload".into(), self.workload_contract_address());
        self.views
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let bad = |reason: String| ConfigError::Invalid {
                    file: file.to_string(),
                    key: format!("views[{i}]"),
                    reason,
                };
                Ok(PlannedView {
                    name: v.name.clone(),
                    contract: resolve_contract(&v.contract, &names).map_err(bad)?,
                    method: v.method.clone(),
                    args: encode_args(&v.args, self, &names, 0).map_err(bad)?,
                })
            })
            .collect()
    }
}

/// Checks names and methods: present, names unique.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the entry's key.
pub(crate) fn validate(views: &[ViewEntry], file: &str) -> Result<(), ConfigError> {
    for (i, v) in views.iter().enumerate() {
        if v.name.is_empty() {
            return invalid(
                file,
                &format!("views[{i}].name"),
                "must not be empty".into(),
            );
        }
        if views[..i].iter().any(|w| w.name == v.name) {
            return invalid(
                file,
                &format!("views[{i}].name"),
                format!("`{}` names an earlier view too", v.name),
            );
        }
        if v.method.is_empty() {
            return invalid(
                file,
                &format!("views[{i}].method"),
                "must not be empty".into(),
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_resolve_deployed_names_and_refuse_unknown_ones() {
        let c = Config::parse(
            r#"
            [[calls]]
            at = "1s"
            deploy = "counter"
            name = "c"
            [[views]]
            name = "n"
            contract = "c"
            method = "get"
            "#,
            "t.toml",
            &[],
        )
        .unwrap();
        let (plan, labels) = c.plan_calls("t.toml", &|_| Err("no files".into())).unwrap();
        let views = c.plan_views("t.toml", &labels).unwrap();
        assert_eq!(views[0].contract, plan[0].tx.to);
        assert_eq!(views[0].method, "get");
        let mut bad = c.clone();
        bad.views[0].contract = "nope".into();
        let e = bad.plan_views("t.toml", &labels).unwrap_err().to_string();
        assert!(e.contains("views[0]") && e.contains("nope"), "{e}");
        let dup = "[[views]]\nname = \"a\"\ncontract = \"workload\"\nmethod = \"m\"\n";
        let e = Config::parse(&format!("{dup}{dup}"), "t.toml", &[]).unwrap_err();
        assert!(e.to_string().contains("views[1].name"), "{e}");
    }
}
