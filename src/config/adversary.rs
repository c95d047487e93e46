//! `[[adversary]]`: nodes that attack (docs/experiments.md). Each entry names its kind, its
//! nodes (they run the honest code except where the strategy says otherwise) and, under proof
//! of work, its share of the hash power.
//!
//! ```toml
//! [[adversary]]
//! kind = "selfish"      # the Eyal–Sirer strategy (chainlab::adversary::selfish)
//! nodes = [0]           # the pool's node
//! hashpower = 0.3       # its share of the total; honest nodes share the rest as pow.hashpower says
//! gamma = 0.5           # optional: the share of honest hash power that mines on the pool's
//!                       # block in a tie; absent: it emerges from the network
//! ```

use super::{invalid, Config, ConfigError, ConsensusKind};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// Adversary kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdversaryKind {
    /// Selfish mining (Eyal–Sirer).
    Selfish,
    /// Timestamps at the limits the rules allow, to push the difficulty down.
    Timewarp,
}

impl AdversaryKind {
    /// The name in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            AdversaryKind::Selfish => "selfish",
            AdversaryKind::Timewarp => "timewarp",
        }
    }
}

/// One `[[adversary]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdversaryEntry {
    /// What it does.
    pub kind: AdversaryKind,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its share of the total hash power (absent: its nodes keep their `pow.hashpower` share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashpower: Option<f64>,
    /// Selfish mining: the share of honest hash power that mines on the pool's block in a tie
    /// (absent: it emerges from the network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
}

/// Checks the `[[adversary]]` entries for a cluster of `nodes`.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the first bad key.
pub(super) fn validate(
    entries: &[AdversaryEntry],
    file: &str,
    nodes: usize,
    consensus: ConsensusKind,
) -> Result<(), ConfigError> {
    let mut taken = vec![false; nodes];
    let mut total = 0.0;
    for (i, a) in entries.iter().enumerate() {
        let key = |k: &str| format!("adversary.{i}.{k}");
        if consensus != ConsensusKind::Pow {
            return invalid(
                file,
                &key("kind"),
                format!("`{}` attacks proof of work only", a.kind.name()),
            );
        }
        if a.nodes.is_empty() {
            return invalid(file, &key("nodes"), "names no node".into());
        }
        for &n in &a.nodes {
            match taken.get_mut(n) {
                None => {
                    return invalid(
                        file,
                        &key("nodes"),
                        format!("node {n} does not exist ({nodes} nodes)"),
                    )
                }
                Some(true) => {
                    return invalid(
                        file,
                        &key("nodes"),
                        format!("node {n} is already an adversary's"),
                    )
                }
                Some(t) => *t = true,
            }
        }
        if a.kind == AdversaryKind::Selfish && a.nodes.len() != 1 {
            return invalid(
                file,
                &key("nodes"),
                "a selfish pool is one node (pools spread over several nodes are not supported)"
                    .into(),
            );
        }
        if let Some(h) = a.hashpower {
            if !(h > 0.0 && h < 1.0) {
                return invalid(
                    file,
                    &key("hashpower"),
                    format!("{h} is not a share strictly between 0 and 1"),
                );
            }
            total += h;
        }
        if a.gamma.is_some() && a.kind != AdversaryKind::Selfish {
            return invalid(
                file,
                &key("gamma"),
                format!("applies to selfish mining only, not to `{}`", a.kind.name()),
            );
        }
        if let Some(g) = a.gamma {
            if !(0.0..=1.0).contains(&g) {
                return invalid(file, &key("gamma"), format!("{g} is not in 0..=1"));
            }
        }
    }
    if total >= 1.0 {
        return invalid(
            file,
            "adversary",
            format!("the adversaries hold {total} of the hash power: honest nodes need some"),
        );
    }
    if entries.iter().any(|a| a.hashpower.is_some()) && taken.iter().all(|t| *t) {
        return invalid(
            file,
            "adversary",
            "every node is an adversary's: no honest node is left".into(),
        );
    }
    Ok(())
}

impl Config {
    /// The adversary entry node `id` belongs to, with its index.
    pub fn adversary_of(&self, id: NodeId) -> Option<(usize, &AdversaryEntry)> {
        self.adversary
            .iter()
            .enumerate()
            .find(|(_, a)| a.nodes.contains(&id))
    }

    /// Each node's share of the hash power: `pow.hashpower`'s, except that an adversary with
    /// `hashpower` splits it evenly over its nodes and the honest nodes share the rest in
    /// the proportions `pow.hashpower` gives them.
    pub fn pow_shares(&self) -> Vec<f64> {
        let n = self.cluster.nodes;
        let mut shares = crate::sim::model::hash_shares(&self.pow.hashpower, n);
        let fixed: Vec<(usize, f64)> = self
            .adversary
            .iter()
            .filter_map(|a| a.hashpower.map(|h| (a, h)))
            .flat_map(|(a, h)| {
                a.nodes
                    .iter()
                    .map(move |&id| (id, h / a.nodes.len() as f64))
            })
            .collect();
        if fixed.is_empty() {
            return shares;
        }
        let adversary: f64 = fixed.iter().map(|(_, h)| h).sum();
        let mut is_fixed = vec![false; n];
        for (id, _) in &fixed {
            is_fixed[*id] = true;
        }
        let honest: f64 = (0..n).filter(|i| !is_fixed[*i]).map(|i| shares[i]).sum();
        for (i, s) in shares.iter_mut().enumerate() {
            if !is_fixed[i] {
                *s = if honest > 0.0 {
                    *s / honest * (1.0 - adversary)
                } else {
                    0.0
                };
            }
        }
        for (id, h) in fixed {
            shares[id] = h;
        }
        shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("[cluster]\nnodes = 6\n{extra}"), "t.toml", &[])
    }

    #[test]
    fn the_pool_takes_its_share_and_the_honest_nodes_split_the_rest() {
        let c = parse("[[adversary]]\nkind = \"selfish\"\nnodes = [2]\nhashpower = 0.4\n").unwrap();
        let s = c.pow_shares();
        assert!((s[2] - 0.4).abs() < 1e-12);
        for i in [0, 1, 3, 4, 5] {
            assert!((s[i] - 0.12).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(c.adversary_of(2).map(|(i, _)| i), Some(0));
        assert!(c.adversary_of(0).is_none());
    }

    #[test]
    fn bad_entries_are_named() {
        let cases = [
            (
                "nodes = [9]\nhashpower = 0.3",
                "adversary.0.nodes",
                "does not exist",
            ),
            (
                "nodes = []\nhashpower = 0.3",
                "adversary.0.nodes",
                "names no node",
            ),
            (
                "nodes = [0, 1]\nhashpower = 0.3",
                "adversary.0.nodes",
                "one node",
            ),
            (
                "nodes = [0]\nhashpower = 1.0",
                "adversary.0.hashpower",
                "strictly between",
            ),
            ("nodes = [0]\ngamma = 1.5", "adversary.0.gamma", "0..=1"),
            ("nodes = [0]\nbogus = 1", "bogus", "unknown field"),
        ];
        for (body, key, what) in cases {
            let e = parse(&format!("[[adversary]]\nkind = \"selfish\"\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
        let e = parse("[[adversary]]\nkind = \"eclipse\"\nnodes = [0]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("eclipse") && e.contains("selfish"), "{e}");
        let e = parse(
            "[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nhashpower = 0.6\n\
             [[adversary]]\nkind = \"selfish\"\nnodes = [1]\nhashpower = 0.5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("honest nodes need some"), "{e}");
    }
}
