//! Cluster configuration: TOML with unknown keys rejected, documented defaults
//! (`config/default.toml` holds the same values), `--set key.path=value` overrides, and a
//! `validate` that names the offending key.
//!
//! This file holds the whole [`Config`], [`ConfigError`], parsing and `--set` overrides, and
//! the top-level `validate`, which runs each section's checks in a fixed order (so the first
//! error reported is always the same). Each section (`[cluster]`, `[network]`, `[tcp]`, ...)
//! lives in its own file with its types, defaults and checks; everything is re-exported here.

mod adversary;
mod calls;
mod cluster;
mod consensus;
mod contracts;
mod expect;
mod faults;
mod frontrun;
mod gossip;
mod mempool;
mod network;
mod node;
mod peers;
mod pos;
mod pow;
mod safety;
mod spam;
mod storage;
mod tcp;
mod views;
mod workload;

pub use adversary::{
    parse_adversary_arg, AdversaryMode, EclipseMode, EclipsePlan, Moment, Window,
    DEFAULT_ECLIPSE_DELAY,
};
pub use adversary::{
    AdversaryEntry, AdversaryKind, DoubleSpendPlan, DEFAULT_AMOUNT, DEFAULT_CONFIRMATIONS,
    DEFAULT_GIVE_UP, DEFAULT_MERCHANT_DELAY,
};
pub use calls::{encode_args, CallEntry, PlannedCall};
pub use cluster::{ClockMode, ClusterConfig};
pub use consensus::{ConsensusConfig, ConsensusKind};
pub use expect::Expectations;
pub use faults::FaultFile;
pub use frontrun::{FrontrunConfig, MAX_FEE_BUMP};
pub use gossip::GossipConfig;
pub use mempool::MempoolConfig;
pub use network::{Latency, NetworkConfig, Topology, TransportKind};
pub use node::NodeConfig;
pub use peers::{AllowedKey, KeyEntry, PeersAllowed};
pub use pos::{PosConfig, TOTAL_STAKE};
pub use pow::{HashPower, PowConfig, PowEngine, Skew, MAX_SIMULATED_DIFFICULTY};
pub use safety::SafetyConfig;
pub use spam::{
    SpamMode, SpamPlan, DEFAULT_FORKSPAM_RATE, DEFAULT_SPAM_ACCOUNTS, DEFAULT_SPAM_RATE,
};
pub use storage::{StorageBackend, StorageConfig};
pub use tcp::TcpConfig;
pub use views::{PlannedView, ViewEntry};
pub use workload::{WorkloadConfig, MAX_TX_RATE};

use crate::crypto::KeyPair;
use crate::sim::fault::FaultEntry;
use serde::{Deserialize, Serialize};

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the schema.
    #[error("{file}: {message}")]
    Parse {
        /// File (or `<embedded default>`).
        file: String,
        /// Parser message with line and key.
        message: String,
    },
    /// A value is out of range or inconsistent.
    #[error("{file}: {key}: {reason}")]
    Invalid {
        /// File.
        file: String,
        /// Dotted key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--set` argument is malformed.
    #[error("--set {arg}: {reason}")]
    BadOverride {
        /// The argument.
        arg: String,
        /// What is wrong.
        reason: String,
    },
}

/// `Err(ConfigError::Invalid)` for `key` of `file`: how each section's check reports.
fn invalid(file: &str, key: &str, reason: String) -> Result<(), ConfigError> {
    Err(ConfigError::Invalid {
        file: file.to_string(),
        key: key.to_string(),
        reason,
    })
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[cluster]`
    pub cluster: ClusterConfig,
    /// `[network]`
    pub network: NetworkConfig,
    /// `[consensus]`
    pub consensus: ConsensusConfig,
    /// `[pow]`
    pub pow: PowConfig,
    /// `[pos]`
    pub pos: PosConfig,
    /// `[mempool]`
    pub mempool: MempoolConfig,
    /// `[gossip]`
    pub gossip: GossipConfig,
    /// `[workload]`
    pub workload: WorkloadConfig,
    /// `[storage]`
    pub storage: StorageConfig,
    /// `[node]`
    pub node: NodeConfig,
    /// `[safety]`
    pub safety: SafetyConfig,
    /// `[tcp]`
    pub tcp: TcpConfig,
    /// `[contracts]`
    pub contracts: crate::contract::ContractParams,
    /// `[[faults]]`: the fault scenario, in firing order of the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultEntry>,
    /// `[[calls]]`: contract deploys and calls at given times.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calls: Vec<CallEntry>,
    /// `[[views]]`: read-only calls on the final state, into the report.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub views: Vec<ViewEntry>,
    /// `[frontrun]`: a node that front-runs calls of one contract method (absent: none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontrun: Option<FrontrunConfig>,
    /// `[[adversary]]`: attacking nodes (docs/experiments.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adversary: Vec<AdversaryEntry>,
    /// `[expect]`: what the run's report must show (parsed apart, like the faults).
    #[serde(skip_deserializing, skip_serializing_if = "Expectations::is_empty")]
    pub expect: Expectations,
}

/// Parses a `--set` value: a TOML value if it is one (`3`, `0.5`, `true`, `"x"`, `[1, 2]`,
/// `{ dist = "constant", ms = 5 }`), else the raw text as a string (`20s`, `ring`).
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// The words of a `--fault` or `--adversary` argument as a TOML table: `key=value` words
/// separated by spaces outside brackets; a value is TOML when it parses as TOML, else text.
///
/// # Errors
/// A message naming `flag`, the argument and the word that is not `key=value`.
pub fn key_value_words(arg: &str, flag: &str) -> Result<toml::Table, String> {
    let mut words = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in arg.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    let mut table = toml::Table::new();
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("{flag} {arg:?}: {w:?} is not key=value"))?;
        let value = toml::from_str::<toml::Table>(&format!("v = {v}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(v.to_string()));
        table.insert(k.to_string(), value);
    }
    Ok(table)
}

/// Applies `key.path=value` to a TOML document.
///
/// A segment names a key of a table, or, when it is a number and the value so far is an
/// array, an element of it: `adversary.0.hashpower=0.3` sets `hashpower` in the first
/// `[[adversary]]` entry, `pow.hashpower.2=8` the third share. Under `expect` the path is a
/// report path (`expect.faults.0.at_s`), whose numbers are keys of `[expect]`'s tables.
///
/// # Errors
/// [`ConfigError::BadOverride`] when the argument has no `=`, an empty key, a path through a
/// value that is neither a table nor an array, a number indexing a table (outside `expect`),
/// a name indexing an array, or an index out of range (an absent array has no entries).
pub fn apply_override(doc: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = |reason: String| ConfigError::BadOverride {
        arg: arg.to_string(),
        reason,
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE".into()))?;
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key segment".into()));
    }
    let value = parse_value(raw.trim());
    // Under `expect` every segment is a key (see above).
    let indexing = parts[0] != "expect";
    let index = |p: &str| p.parse::<usize>().ok().filter(|_| indexing);
    let mut root = toml::Value::Table(std::mem::take(doc));
    let mut cur = &mut root;
    let mut result = Ok(());
    for (i, p) in parts.iter().enumerate() {
        // What the path so far names, for messages.
        let at = if i == 0 {
            "the top level".to_string()
        } else {
            format!("`{}`", parts[..i].join("."))
        };
        let last = i + 1 == parts.len();
        let step = match (cur, index(p)) {
            (toml::Value::Table(_), Some(_)) => Err(format!(
                "{at} is a table, not an array: `{p}` cannot index it"
            )),
            (toml::Value::Table(t), None) if last => {
                t.insert(p.to_string(), value.clone());
                break;
            }
            (toml::Value::Table(t), None) => {
                if !t.contains_key(*p) {
                    if let Some(n) = index(parts[i + 1]) {
                        result = Err(format!(
                            "index {n} out of range: `{}` is absent (no entries)",
                            parts[..=i].join(".")
                        ));
                        break;
                    }
                }
                Ok(t.entry(p.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new())))
            }
            (toml::Value::Array(a), Some(n)) => {
                let len = a.len();
                match a.get_mut(n) {
                    None => Err(format!(
                        "index {n} out of range: {at} has {len} entr{}",
                        if len == 1 { "y" } else { "ies" }
                    )),
                    Some(slot) if last => {
                        *slot = value.clone();
                        break;
                    }
                    Some(slot) => Ok(slot),
                }
            }
            (toml::Value::Array(_), None) => Err(format!(
                "{at} is an array: `{p}` is not an index (use a number from 0)"
            )),
            (other, _) => Err(format!(
                "{at} is not a table or an array (a TOML {}): `{p}` cannot be under it",
                other.type_str()
            )),
        };
        match step {
            Ok(next) => cur = next,
            Err(reason) => {
                result = Err(reason);
                break;
            }
        }
    }
    if let toml::Value::Table(t) = root {
        *doc = t;
    }
    result.map_err(bad)
}

impl Config {
    /// Appends `[[adversary]]` entries (from `--adversary`) and validates again.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the entry.
    pub fn add_adversaries(
        &mut self,
        entries: Vec<AdversaryEntry>,
        file: &str,
    ) -> Result<(), ConfigError> {
        self.adversary.extend(entries);
        self.validate(file)
    }

    /// Appends fault entries (from `--fault` or a `--faults` file) and validates again.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the entry.
    pub fn add_faults(&mut self, entries: Vec<FaultEntry>, file: &str) -> Result<(), ConfigError> {
        self.faults.extend(entries);
        self.validate(file)
    }

    /// Parses TOML text, applies overrides, validates.
    ///
    /// # Errors
    /// [`ConfigError`] naming the file and key.
    pub fn parse(text: &str, file: &str, overrides: &[String]) -> Result<Config, ConfigError> {
        let mut doc: toml::Table = toml::from_str(text).map_err(|e| ConfigError::Parse {
            file: file.to_string(),
            message: e.to_string().trim_end().to_string(),
        })?;
        for o in overrides {
            apply_override(&mut doc, o)?;
        }
        let file_label = if overrides.is_empty() {
            file.to_string()
        } else {
            format!("{file} (with --set overrides)")
        };
        // Fault entries are read one by one so that an error names its entry.
        let faults = match doc.remove("faults") {
            None => Vec::new(),
            Some(toml::Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, item)| {
                    FaultEntry::deserialize(item).map_err(|e| ConfigError::Parse {
                        file: file_label.clone(),
                        message: format!("faults[{i}]: {}", e.to_string().trim_end()),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            Some(_) => {
                return Err(ConfigError::Parse {
                    file: file_label,
                    message: "`faults` must be an array of tables ([[faults]])".into(),
                })
            }
        };
        let expect = match doc.remove("expect") {
            None => Expectations::default(),
            Some(toml::Value::Table(t)) => Expectations::parse(&t, &file_label)?,
            Some(_) => {
                return Err(ConfigError::Parse {
                    file: file_label,
                    message: "`expect` must be a table ([expect])".into(),
                })
            }
        };
        // Adversary entries are read one by one first so that an error names its entry.
        if let Some(toml::Value::Array(items)) = doc.get("adversary") {
            for (i, item) in items.iter().enumerate() {
                AdversaryEntry::deserialize(item.clone()).map_err(|e| ConfigError::Parse {
                    file: file_label.clone(),
                    message: format!("adversary.{i}: {}", e.to_string().trim_end()),
                })?;
            }
        }
        let mut cfg: Config = Config::deserialize(doc).map_err(|e| ConfigError::Parse {
            file: file_label.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.faults = faults;
        cfg.expect = expect;
        cfg.validate(&file_label)?;
        Ok(cfg)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let n = self.cluster.nodes;
        let clock = self.cluster.clock;
        self.cluster.validate(file)?;
        self.network.validate(file, n, clock)?;
        self.tcp.validate(file)?;
        self.consensus.validate(file)?;
        self.pow.validate(file, n, clock)?;
        self.pos.validate(file, n)?;
        self.workload.validate(file)?;
        self.mempool.validate(file)?;
        self.gossip.validate(file)?;
        self.storage.validate(file)?;
        self.contracts.validate(file)?;
        let end = self.cluster.duration + self.cluster.settle;
        let validators =
            (self.consensus.kind == ConsensusKind::Pos).then(|| self.pos.validator_ids(n));
        faults::validate(&self.faults, file, n, end, validators.as_deref())?;
        calls::validate(&self.calls, file, n)?;
        views::validate(&self.views, file)?;
        if let Some(f) = &self.frontrun {
            f.validate(file, n)?;
        }
        adversary::validate(self, file)?;
        self.expect
            .validate(file, self.faults.len(), validators.as_ref().map(Vec::len))
    }

    /// The key of workload account `i` (deterministic, the same for every run).
    pub fn account_key(i: usize) -> KeyPair {
        KeyPair::from_seed(format!("chainlab/account/{i}").as_bytes())
    }

    /// The key of node `i`'s miner.
    pub fn node_key(i: usize) -> KeyPair {
        KeyPair::from_seed(format!("chainlab/node/{i}").as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn default_toml_documents_exactly_the_defaults() {
        let text = include_str!("../../config/default.toml");
        assert_eq!(
            Config::parse(text, "config/default.toml", &[]).unwrap(),
            Config::default()
        );
        // Every key of the schema appears in the file.
        let doc: toml::Table = toml::from_str(text).unwrap();
        let full = toml::Table::try_from(Config::default()).unwrap();
        for (section, keys) in &full {
            let Some(keys) = keys.as_table().filter(|_| section != "faults") else {
                continue;
            };
            let in_file = doc[section].as_table().unwrap();
            for key in keys.keys() {
                assert!(
                    in_file.contains_key(key),
                    "config/default.toml lacks {section}.{key}"
                );
            }
        }
    }

    #[test]
    fn empty_document_gives_defaults() {
        assert_eq!(Config::parse("", "x.toml", &[]).unwrap(), Config::default());
    }

    #[test]
    fn unknown_key_is_named() {
        let e = Config::parse("[cluster]\nnodez = 3\n", "x.toml", &[]).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("x.toml") && msg.contains("nodez"), "{msg}");
    }

    #[test]
    fn overrides_apply_by_dotted_path() {
        let c = Config::parse(
            "",
            "x.toml",
            &[
                "consensus.block_interval=20s".into(),
                "network.latency={ dist = \"constant\", ms = 5 }".into(),
                "network.latency.ms=500".into(),
                "cluster.nodes=3".into(),
                "network.degree=2".into(),
                "network.topology=ring".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.consensus.block_interval, Duration::from_secs(20));
        assert_eq!(c.network.latency, Latency::Constant { ms: 500.0 });
        assert_eq!(c.network.topology, Topology::Named("ring".into()));
        let e = Config::parse("", "x.toml", &["novalue".into()]).unwrap_err();
        assert!(matches!(e, ConfigError::BadOverride { .. }));
    }

    const TWO_POOLS: &str = "[cluster]\nnodes = 6\n\
        [[adversary]]\nkind = \"selfish\"\nnodes = [0]\nhashpower = 0.1\n\
        [[adversary]]\nkind = \"selfish\"\nnodes = [1]\nhashpower = 0.2\n\
        [[faults]]\nat = \"10s\"\nkind = \"crash\"\nnode = 3\n\
        [[faults]]\nat = \"20s\"\nkind = \"restart\"\nnode = 3\n";

    #[test]
    fn overrides_index_arrays_of_tables_and_arrays() {
        let c = Config::parse(
            TWO_POOLS,
            "x.toml",
            &[
                "adversary.1.hashpower=0.35".into(),
                "adversary.0.gamma=0.5".into(),
                "faults.1.at=30s".into(),
                "pow.hashpower=[1, 1, 1, 1, 1, 1]".into(),
                "pow.hashpower.5=4.0".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.adversary[0].hashpower, Some(0.1));
        assert_eq!(c.adversary[0].gamma, Some(0.5));
        assert_eq!(c.adversary[1].hashpower, Some(0.35));
        assert_eq!(c.faults[0].at, Some(Duration::from_secs(10)));
        assert_eq!(c.faults[1].at, Some(Duration::from_secs(30)));
        assert_eq!(
            c.pow.hashpower,
            HashPower::Shares(vec![1.0, 1.0, 1.0, 1.0, 1.0, 4.0])
        );
        // An array set whole by one override is indexed by the next.
        let c = Config::parse(
            "[cluster]\nnodes = 4\n[network]\ndegree = 2",
            "x.toml",
            &[
                "adversary=[{ kind = \"selfish\", nodes = [2] }]".into(),
                "adversary.0.hashpower=0.25".into(),
            ],
        )
        .unwrap();
        assert_eq!(c.adversary[0].hashpower, Some(0.25));
        assert_eq!(c.adversary[0].nodes, vec![2]);
    }

    #[test]
    fn bad_indices_are_bad_overrides_naming_the_segment() {
        let cases = [
            (
                "adversary.2.hashpower=0.3",
                "index 2 out of range: `adversary` has 2 entries",
            ),
            ("faults.7.at=1s", "index 7 out of range"),
            ("calls.0.at=1s", "index 0 out of range: `calls` is absent"),
            (
                "cluster.0.nodes=3",
                "`cluster` is a table, not an array: `0`",
            ),
            ("0.nodes=3", "the top level is a table, not an array: `0`"),
            (
                "adversary.first.gamma=0",
                "`adversary` is an array: `first` is not an index",
            ),
            (
                "cluster.nodes.0=3",
                "`cluster.nodes` is not a table or an array (a TOML integer): `0`",
            ),
            (
                "pow.hashpower.0=2",
                "index 0 out of range: `pow.hashpower` is absent",
            ),
        ];
        for (arg, reason) in cases {
            match Config::parse(TWO_POOLS, "x.toml", &[arg.into()]) {
                Err(ConfigError::BadOverride { arg: a, reason: r }) => {
                    assert_eq!(a, arg);
                    assert!(r.contains(reason), "{arg}: {r}");
                }
                other => panic!("{arg}: {other:?}"),
            }
        }
        // Under `expect`, numbers are keys of a report path, not indices.
        let c = Config::parse(
            TWO_POOLS,
            "x.toml",
            &["expect.faults.1.at_s={ max = 25 }".into()],
        )
        .unwrap();
        assert_eq!(c.expect.checks[0].path, "faults.1.at_s");
    }

    #[test]
    fn invalid_values_name_the_key() {
        let cases = [
            ("[cluster]\nnodes = 0", "cluster.nodes"),
            ("[network]\ntopology = \"star\"", "network.topology"),
            ("[network]\ntopology = [[0, 99]]", "network.topology"),
            (
                "[cluster]\nnodes = 4\n[network]\ntopology = [[0, 1], [2, 3]]",
                "network.topology",
            ),
            (
                "[cluster]\nnodes = 5\n[network]\ndegree = 3",
                "network.degree",
            ),
            ("[pow]\nhashpower = [1.0]", "pow.hashpower"),
            ("[pow]\nengine = \"hashing\"", "pow.engine"),
            ("[pow]\nhashpower = { skew = -1.0 }", "pow.hashpower.skew"),
            (
                "[network]\nlatency = { dist = \"uniform\", min_ms = 5.0, max_ms = 1.0 }",
                "network.latency",
            ),
            (
                "[consensus]\ntime_warp_fix = false\nretarget_interval = 1",
                "consensus.time_warp_fix",
            ),
        ];
        for (text, key) in cases {
            let e = Config::parse(text, "f.toml", &[]).unwrap_err();
            match e {
                ConfigError::Invalid { key: k, .. } => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other}"),
            }
        }
    }

    #[test]
    fn a_skew_table_rejects_unknown_keys() {
        assert!(Config::parse("[pow]\nhashpower = { skew = 1.0 }", "f.toml", &[]).is_ok());
        assert!(
            Config::parse("[pow]\nhashpower = { skew = 1.0, foo = 3 }", "f.toml", &[]).is_err()
        );
    }

    #[test]
    fn expectations_come_from_the_file_or_set_and_are_checked_against_the_faults() {
        let text = "[expect]\nconverged = true\n";
        let c = Config::parse(text, "x.toml", &["expect.txs.tps={ min = 2 }".into()]).unwrap();
        let paths: Vec<&str> = c.expect.checks.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["convergence.converged", "txs.tps"]);
        // Recorded (as TOML) and read back, a config keeps its expectations.
        let back = Config::parse(&toml::to_string(&c).unwrap(), "rec", &[]).unwrap();
        assert_eq!(back, c);
        let e = Config::parse("[expect]\ntpx = 1", "x.toml", &[]).unwrap_err();
        assert!(
            matches!(&e, ConfigError::Invalid { key, .. } if key == "expect.tpx"),
            "{e}"
        );
        let e = Config::parse("expect = 3", "x.toml", &[]).unwrap_err();
        assert!(e.to_string().contains("[expect]"), "{e}");
        let mut c = Config::parse("[expect]\nfaults.0.at_s = { max = 5 }", "x.toml", &[]);
        assert!(c.is_err(), "no fault 0 in a scenario without faults");
        c = Config::parse(
            "[expect]\nfaults.0.at_s = { max = 5 }\n[[faults]]\nat = \"1s\"\nkind = \"heal\"",
            "x.toml",
            &[],
        );
        assert!(c.is_ok(), "{c:?}");
    }

    #[test]
    fn every_shipped_config_reads_back_from_its_recorded_toml() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.display().to_string();
            let c = Config::parse(&std::fs::read_to_string(&path).unwrap(), &name, &[]).unwrap();
            let text = toml::to_string(&c).unwrap();
            assert_eq!(Config::parse(&text, &name, &[]).unwrap(), c, "{name}");
        }
    }

    #[test]
    fn latency_tables_reject_unknown_fields() {
        let e = Config::parse(
            "[network]\nlatency = { dist = \"constant\", msec = 3 }",
            "f.toml",
            &[],
        )
        .unwrap_err();
        assert!(e.to_string().contains("msec"), "{e}");
    }
}
