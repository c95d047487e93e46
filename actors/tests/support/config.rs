//! Cluster configs for the tests: a base TOML per clock, changed key by key with the syntax of
//! `--set`, so that each test file states only how its clusters differ from the base.

use chainlab::config::{apply_override, Config};

/// See [`Toml::virtual_clock`].
const VIRTUAL: &str = r#"
[cluster]
nodes = 10
seed = 1
duration = "300s"
settle = "60s"

[network]
topology = "random-regular"
degree = 3
latency = { dist = "lognormal", median_ms = 80.0, sigma = 0.5 }

[consensus]
block_interval = "10s"
retarget_interval = 0

[workload]
tx_rate = 5.0
accounts = 50

[storage]
backend = "memory"
"#;

/// See [`Toml::real_clock`].
const REAL: &str = r#"
[cluster]
nodes = 3
clock = "real"
duration = "1500ms"
settle = "700ms"

[network]
topology = "full-mesh"
latency = { dist = "constant", ms = 5.0 }

[consensus]
block_interval = "100ms"
retarget_interval = 0

[workload]
tx_rate = 20.0
accounts = 10

[storage]
backend = "memory"
"#;

/// A cluster config as a TOML document: a base, changed key by key.
#[derive(Clone, Debug)]
pub struct Toml(toml::Table);

impl Toml {
    /// The virtual-clock base: 10 nodes, seed 1, 300 s of load and mining plus a 60 s settle,
    /// random-regular links of degree 3 with lognormal delays (median 80 ms), 10 s blocks
    /// without retargeting, 5 tx/s over 50 accounts, in-memory stores.
    pub fn virtual_clock() -> Toml {
        Toml::from_text(VIRTUAL)
    }

    /// The real-clock base: 3 nodes in a full mesh with constant 5 ms links, 1.5 s of load
    /// and mining plus a 700 ms settle, 100 ms blocks without retargeting, 20 tx/s over 10
    /// accounts, in-memory stores.
    pub fn real_clock() -> Toml {
        Toml::from_text(REAL)
    }

    fn from_text(text: &str) -> Toml {
        Toml(toml::from_str(text).expect("a base config is TOML"))
    }

    /// Sets each `key.path=value` as `--set` does (a TOML value if it is one, else a string).
    pub fn with(mut self, changes: &[&str]) -> Toml {
        for change in changes {
            apply_override(&mut self.0, change).unwrap_or_else(|e| panic!("{e}"));
        }
        self
    }

    /// Removes `key.path`: the config's default applies.
    pub fn without(mut self, key: &str) -> Toml {
        let (path, last) = key.rsplit_once('.').unwrap_or(("", key));
        let mut table = &mut self.0;
        for part in path.split('.').filter(|p| !p.is_empty()) {
            table = table
                .get_mut(part)
                .and_then(toml::Value::as_table_mut)
                .unwrap_or_else(|| panic!("no table `{part}` for `{key}`"));
        }
        table
            .remove(last)
            .unwrap_or_else(|| panic!("no key `{key}` to remove"));
        self
    }

    /// The document as TOML text.
    pub fn text(&self) -> String {
        toml::to_string(&self.0).expect("a TOML table renders")
    }

    /// Parses the text with `extra` appended (more tables, `[[faults]]` entries) and
    /// `overrides` applied as `--set` arguments; `file` names the config in errors. Panics with
    /// the error when the config is invalid.
    pub fn config(&self, file: &str, overrides: &[&str], extra: &str) -> Config {
        let text = format!("{}\n{extra}", self.text());
        let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
        Config::parse(&text, file, &overrides).unwrap_or_else(|e| panic!("{e}"))
    }
}
