//! Cluster configuration: TOML with unknown keys rejected, documented defaults
//! (`config/default.toml` holds the same values), `--set key.path=value` overrides, and a
//! `validate` that names the offending key.

use crate::crypto::KeyPair;
use crate::fault::FaultEntry;
use crate::mempool::MempoolPolicy;
use crate::params::{ChainParams, TieBreak};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// Largest `pow.difficulty` for the simulated engine (each block costs ~this many hashes).
pub const MAX_SIMULATED_DIFFICULTY: u64 = 1 << 24;
/// Largest `workload.tx_rate`.
pub const MAX_TX_RATE: f64 = 1_000_000.0;

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The TOML did not parse or did not fit the schema.
    #[error("{file}: {message}")]
    Parse {
        /// File (or "<embedded default>").
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

/// A link delay distribution.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Latency {
    /// Always `ms`.
    Constant {
        /// Delay, ms.
        ms: f64,
    },
    /// Uniform in [min_ms, max_ms].
    Uniform {
        /// Lower bound, ms.
        min_ms: f64,
        /// Upper bound, ms.
        max_ms: f64,
    },
    /// Normal, truncated at 0.
    Normal {
        /// Mean, ms.
        mean_ms: f64,
        /// Standard deviation, ms.
        sd_ms: f64,
    },
    /// Lognormal with the given median and log-space sigma.
    Lognormal {
        /// Median, ms.
        median_ms: f64,
        /// Sigma of ln(delay).
        sigma: f64,
    },
}

/// `network.topology`: a named shape or an explicit undirected edge list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Topology {
    /// `"full-mesh"`, `"ring"` or `"random-regular"`.
    Named(String),
    /// `[[0, 1], [1, 2], ...]`.
    Edges(Vec<[usize; 2]>),
}

/// `[network]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkConfig {
    /// Shape of the peer graph.
    pub topology: Topology,
    /// Neighbours per node for `random-regular`.
    pub degree: usize,
    /// One-way delay of every link.
    pub latency: Latency,
    /// Link bandwidth in megabits per second (adds size / bandwidth to each delay); 0 = unlimited.
    pub bandwidth_mbps: f64,
    /// `memory` (in-process mailboxes), `tcp` (every link a loopback socket) or `mixed`.
    pub transport: TransportKind,
    /// With `mixed`: the links that use TCP (each must be a topology link).
    pub tcp_links: Vec<[usize; 2]>,
    /// With `mixed` and no `tcp_links`: this share of the links, chosen by seed, uses TCP.
    pub tcp_share: f64,
}

/// `network.transport`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TransportKind {
    /// In-process mailboxes.
    #[default]
    Memory,
    /// Every link over a loopback TCP connection.
    Tcp,
    /// Some links over TCP (`tcp_links` or `tcp_share`), the rest in memory.
    Mixed,
}

/// `[tcp]`: sockets, handshake and peer hygiene (used by TCP links and `chainlab node`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TcpConfig {
    /// Interface each in-process TCP node listens on (on an ephemeral port).
    pub listen_host: String,
    /// A connection must finish its handshake within this.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
    /// A connection silent this long is closed.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// A keepalive ping goes out after this much silence.
    #[serde(with = "humantime_serde")]
    pub ping_interval: Duration,
    /// First reconnection wait (doubling per failure, with jitter).
    #[serde(with = "humantime_serde")]
    pub reconnect_base: Duration,
    /// Longest reconnection wait.
    #[serde(with = "humantime_serde")]
    pub reconnect_max: Duration,
    /// How long a peer that sent invalid data is refused.
    #[serde(with = "humantime_serde")]
    pub discourage_for: Duration,
    /// Messages per second accepted from one peer (a burst of one second's worth is allowed);
    /// a faster peer is throttled (its socket is not read).
    pub max_msgs_per_sec: f64,
    /// Bytes per second accepted from one peer, likewise.
    pub max_bytes_per_sec: f64,
    /// Frames queued for sending to one peer; more are dropped and counted.
    pub queue_frames: usize,
    /// Most connected peers per node (inbound and outbound).
    pub max_peers: usize,
    /// Useless items (duplicates, unrequested data) from one peer within 10 s before it is
    /// disconnected as a flood.
    pub flood_limit: u64,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            listen_host: "127.0.0.1".into(),
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            ping_interval: Duration::from_secs(10),
            reconnect_base: Duration::from_millis(250),
            reconnect_max: Duration::from_secs(10),
            discourage_for: Duration::from_secs(600),
            max_msgs_per_sec: 20_000.0,
            max_bytes_per_sec: 64.0 * 1024.0 * 1024.0,
            queue_frames: 4096,
            max_peers: 125,
            flood_limit: 2_000,
        }
    }
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            topology: Topology::Named("random-regular".into()),
            degree: 4,
            latency: Latency::Lognormal {
                median_ms: 100.0,
                sigma: 0.5,
            },
            bandwidth_mbps: 0.0,
            transport: TransportKind::Memory,
            tcp_links: Vec::new(),
            tcp_share: 0.5,
        }
    }
}

/// Consensus families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ConsensusKind {
    /// Proof of work.
    #[default]
    Pow,
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
}

impl Default for ConsensusConfig {
    fn default() -> Self {
        ConsensusConfig {
            kind: ConsensusKind::Pow,
            chain_id: 1,
            block_interval: Duration::from_secs(10),
            retarget_interval: 20,
            tie_break: TieBreak::FirstSeen,
            max_block_txs: 5_000,
            max_block_bytes: 2_000_000,
            reward: 5_000_000_000,
            max_future_drift: Duration::from_secs(15),
            max_orphans: 256,
        }
    }
}

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

/// `pow.hashpower`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum HashPower {
    /// `"equal"`.
    Named(String),
    /// One share per node (normalised).
    Shares(Vec<f64>),
    /// `{ skew = s }`: node i gets a share proportional to 1 / (i + 1)^s.
    Skewed(Skew),
}

/// `pow.hashpower = { skew = s }` (unknown keys refused).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skew {
    /// Zipf exponent.
    pub skew: f64,
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

/// `[mempool]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MempoolConfig {
    /// Most transactions per node.
    pub max_txs: usize,
    /// How far past the next nonce a sender may queue.
    pub max_nonce_gap: u64,
    /// Lowest fee admitted.
    pub min_fee: u64,
    /// Age after which a pooled transaction is dropped.
    #[serde(with = "humantime_serde")]
    pub expiry: Duration,
    /// Fee bump (percent) a same-nonce replacement must offer.
    pub replace_bump_percent: u64,
}

impl Default for MempoolConfig {
    fn default() -> Self {
        MempoolConfig {
            max_txs: 50_000,
            max_nonce_gap: 64,
            min_fee: 1,
            expiry: Duration::from_secs(1800),
            replace_bump_percent: 10,
        }
    }
}

/// `[gossip]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GossipConfig {
    /// Transaction announcements are batched over this interval.
    #[serde(with = "humantime_serde")]
    pub tx_batch_interval: Duration,
    /// Ids remembered per node.
    pub seen_capacity: usize,
    /// Unanswered `getdata` may go to another peer after this.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Unanswered `getblocks` is retried at another peer after this.
    #[serde(with = "humantime_serde")]
    pub sync_timeout: Duration,
    /// Every this long, each node re-announces transactions pooled for longer than this
    /// (announcements lost to partitions or loss are repaired); 0 = never.
    #[serde(with = "humantime_serde")]
    pub rebroadcast_interval: Duration,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            tx_batch_interval: Duration::from_millis(200),
            seen_capacity: 100_000,
            request_timeout: Duration::from_secs(2),
            sync_timeout: Duration::from_secs(5),
            rebroadcast_interval: Duration::from_secs(60),
        }
    }
}

/// `[workload]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WorkloadConfig {
    /// Transactions per second (Poisson), 0 = none.
    pub tx_rate: f64,
    /// Accounts funded at genesis that send and receive.
    pub accounts: usize,
    /// Genesis balance of each.
    pub initial_balance: u64,
    /// Largest amount sent (uniform from 1).
    pub max_amount: u64,
    /// Fee range (uniform).
    pub min_fee: u64,
    /// Fee range (uniform).
    pub max_fee: u64,
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            tx_rate: 50.0,
            accounts: 1000,
            initial_balance: 1_000_000_000,
            max_amount: 1000,
            min_fee: 1,
            max_fee: 100,
        }
    }
}

/// Storage backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum StorageBackend {
    /// sled on disk.
    #[default]
    Sled,
    /// In memory only.
    Memory,
}

/// `[storage]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    /// `sled` or `memory`.
    pub backend: StorageBackend,
    /// Where sled keeps data; empty = a temporary directory removed at exit.
    pub data_dir: PathBuf,
    /// sled page cache, MiB.
    pub cache_mb: u64,
    /// Flush the store after each imported block, before announcing it.
    pub flush_each_block: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: StorageBackend::Sled,
            data_dir: PathBuf::new(),
            cache_mb: 64,
            flush_each_block: true,
        }
    }
}

/// `[node]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NodeConfig {
    /// Share successful signature checks between the nodes of the process.
    pub sig_cache: bool,
    /// Entries in that cache.
    pub sig_cache_size: usize,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            sig_cache: true,
            sig_cache_size: 200_000,
        }
    }
}

/// `[safety]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    /// Common-prefix depth: a block this many confirmations deep must never be reverted.
    pub k: u64,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig { k: 6 }
    }
}

/// A file of `[[faults]]` entries (`chainlab run --faults FILE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// The entries.
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
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
    /// `[[faults]]`: the fault scenario, in firing order of the file.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultEntry>,
}

/// Parses a `--set` value: a TOML value if it is one (`3`, `0.5`, `true`, `"x"`, `[1, 2]`,
/// `{ dist = "constant", ms = 5 }`), else the raw text as a string (`20s`, `ring`).
fn parse_value(raw: &str) -> toml::Value {
    toml::from_str::<toml::Table>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(raw.to_string()))
}

/// Applies `key.path=value` to a TOML document.
///
/// # Errors
/// [`ConfigError::BadOverride`] when the argument has no `=`, an empty key, or a path through
/// a non-table.
pub fn apply_override(doc: &mut toml::Table, arg: &str) -> Result<(), ConfigError> {
    let bad = |reason: &str| ConfigError::BadOverride {
        arg: arg.to_string(),
        reason: reason.to_string(),
    };
    let (key, raw) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected KEY=VALUE"))?;
    let parts: Vec<&str> = key.trim().split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty key segment"));
    }
    let mut table = doc;
    for p in &parts[..parts.len() - 1] {
        let entry = table
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = entry
            .as_table_mut()
            .ok_or_else(|| bad(&format!("`{p}` is not a table")))?;
    }
    table.insert(parts[parts.len() - 1].to_string(), parse_value(raw.trim()));
    Ok(())
}

impl Config {
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
        let mut cfg: Config = Config::deserialize(doc).map_err(|e| ConfigError::Parse {
            file: file_label.clone(),
            message: e.to_string().trim_end().to_string(),
        })?;
        cfg.faults = faults;
        cfg.validate(&file_label)?;
        Ok(cfg)
    }

    /// Checks ranges and consistency.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub fn validate(&self, file: &str) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| {
            Err(ConfigError::Invalid {
                file: file.to_string(),
                key: key.to_string(),
                reason,
            })
        };
        let n = self.cluster.nodes;
        if n == 0 || n > 100_000 {
            return err("cluster.nodes", format!("{n} is not in 1..=100000"));
        }
        if self.cluster.duration.is_zero() {
            return err("cluster.duration", "must be positive".into());
        }
        match &self.network.topology {
            Topology::Named(name) => match name.as_str() {
                "full-mesh" | "ring" => {}
                "random-regular" => {
                    let d = self.network.degree;
                    if n > 1 && (d == 0 || d >= n) {
                        return err("network.degree", format!("{d} must be in 1..{n} (nodes)"));
                    }
                    if n > 1 && !(n * d).is_multiple_of(2) {
                        return err("network.degree", format!("nodes x degree = {n} x {d} must be even"));
                    }
                }
                other => {
                    return err(
                        "network.topology",
                        format!("unknown topology {other:?}: expected \"full-mesh\", \"ring\", \"random-regular\" or an edge list [[a, b], ...]"),
                    )
                }
            },
            Topology::Edges(edges) => {
                for [a, b] in edges {
                    if *a >= n || *b >= n {
                        return err("network.topology", format!("edge [{a}, {b}] names a node >= nodes ({n})"));
                    }
                    if a == b {
                        return err("network.topology", format!("edge [{a}, {b}] is a self-loop"));
                    }
                }
                if let Some(lone) = crate::model::first_unreachable(n, edges.iter().map(|[a, b]| (*a, *b))) {
                    return err(
                        "network.topology",
                        format!("the edge list does not connect node {lone} to node 0 (use a partition fault to split the network)"),
                    );
                }
            }
        }
        let lat_ok = match self.network.latency {
            Latency::Constant { ms } => ms >= 0.0 && ms.is_finite(),
            Latency::Uniform { min_ms, max_ms } => {
                min_ms >= 0.0 && max_ms >= min_ms && max_ms.is_finite()
            }
            Latency::Normal { mean_ms, sd_ms } => {
                mean_ms >= 0.0 && sd_ms >= 0.0 && mean_ms.is_finite() && sd_ms.is_finite()
            }
            Latency::Lognormal { median_ms, sigma } => {
                median_ms > 0.0 && sigma >= 0.0 && median_ms.is_finite() && sigma.is_finite()
            }
        };
        if !lat_ok {
            return err(
                "network.latency",
                format!(
                    "{:?} has a negative, inverted or non-finite parameter",
                    self.network.latency
                ),
            );
        }
        if !(self.network.bandwidth_mbps >= 0.0 && self.network.bandwidth_mbps.is_finite()) {
            return err(
                "network.bandwidth_mbps",
                "must be >= 0 (0 = unlimited)".into(),
            );
        }
        if self.network.transport != TransportKind::Memory
            && self.cluster.clock == ClockMode::Virtual
        {
            return err(
                "network.transport",
                "TCP links move bytes in wall time: they need cluster.clock = \"real\"".into(),
            );
        }
        for [a, b] in &self.network.tcp_links {
            if *a >= n || *b >= n || a == b {
                return err(
                    "network.tcp_links",
                    format!("[{a}, {b}] is not a link between two of the {n} nodes"),
                );
            }
        }
        if !self.network.tcp_links.is_empty() && self.network.transport != TransportKind::Mixed {
            return err(
                "network.tcp_links",
                "is only used with network.transport = \"mixed\"".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.network.tcp_share) {
            return err(
                "network.tcp_share",
                format!("{} is not in 0..=1", self.network.tcp_share),
            );
        }
        let t = &self.tcp;
        if t.listen_host.parse::<std::net::IpAddr>().is_err() {
            return err(
                "tcp.listen_host",
                format!("{:?} is not an IP address", t.listen_host),
            );
        }
        for (key, d) in [
            ("tcp.handshake_timeout", t.handshake_timeout),
            ("tcp.idle_timeout", t.idle_timeout),
            ("tcp.ping_interval", t.ping_interval),
            ("tcp.reconnect_base", t.reconnect_base),
            ("tcp.reconnect_max", t.reconnect_max),
        ] {
            if d.as_millis() < 1 {
                return err(key, "must be at least 1ms".into());
            }
        }
        if t.discourage_for > Duration::from_secs(365 * 24 * 3600) {
            return err("tcp.discourage_for", "must be at most a year".into());
        }
        if t.ping_interval >= t.idle_timeout {
            return err(
                "tcp.ping_interval",
                format!(
                    "must be shorter than tcp.idle_timeout ({:?})",
                    t.idle_timeout
                ),
            );
        }
        if t.reconnect_max < t.reconnect_base {
            return err(
                "tcp.reconnect_max",
                "must be at least tcp.reconnect_base".into(),
            );
        }
        for (key, v) in [
            ("tcp.max_msgs_per_sec", t.max_msgs_per_sec),
            ("tcp.max_bytes_per_sec", t.max_bytes_per_sec),
        ] {
            if !(v >= 1.0 && v.is_finite()) {
                return err(key, format!("{v} must be a finite number >= 1"));
            }
        }
        if t.max_bytes_per_sec < crate::net::MAX_FRAME_BYTES as f64 {
            return err(
                "tcp.max_bytes_per_sec",
                format!(
                    "must be at least the frame limit {} (one largest frame per second)",
                    crate::net::MAX_FRAME_BYTES
                ),
            );
        }
        if t.queue_frames == 0 || t.max_peers == 0 || t.flood_limit == 0 {
            let key = if t.queue_frames == 0 {
                "tcp.queue_frames"
            } else if t.max_peers == 0 {
                "tcp.max_peers"
            } else {
                "tcp.flood_limit"
            };
            return err(key, "must be positive".into());
        }
        if self.consensus.block_interval.as_millis() < 1 {
            return err("consensus.block_interval", "must be at least 1ms".into());
        }
        if self.consensus.max_block_txs == 0 {
            return err("consensus.max_block_txs", "must be positive".into());
        }
        let max_bytes = crate::encoding::MAX_DECODE_BYTES - 64 * 1024;
        if self.consensus.max_block_bytes < 1_000 || self.consensus.max_block_bytes > max_bytes {
            return err(
                "consensus.max_block_bytes",
                format!("must be in 1000..={max_bytes} (a block must fit one decodable message)"),
            );
        }
        if self.pow.difficulty == 0 {
            return err("pow.difficulty", "must be at least 1".into());
        }
        if self.pow.engine == PowEngine::Simulated && self.pow.difficulty > MAX_SIMULATED_DIFFICULTY
        {
            return err(
                "pow.difficulty",
                format!("{} is above {MAX_SIMULATED_DIFFICULTY}: the simulated engine really finds each nonce (~difficulty hashes per block)", self.pow.difficulty),
            );
        }
        if self.pow.engine == PowEngine::Hashing && self.cluster.clock == ClockMode::Virtual {
            return err(
                "pow.engine",
                "\"hashing\" grinds real hashes and needs cluster.clock = \"real\"".into(),
            );
        }
        match &self.pow.hashpower {
            HashPower::Named(s) if s == "equal" => {}
            HashPower::Named(s) => {
                return err(
                    "pow.hashpower",
                    format!(
                        "unknown {s:?}: expected \"equal\", a list of shares or {{ skew = s }}"
                    ),
                )
            }
            HashPower::Shares(v) => {
                if v.len() != n {
                    return err("pow.hashpower", format!("{} shares for {n} nodes", v.len()));
                }
                if v.iter().any(|x| !(*x >= 0.0 && x.is_finite())) || v.iter().sum::<f64>() <= 0.0 {
                    return err(
                        "pow.hashpower",
                        "shares must be >= 0 with a positive sum".into(),
                    );
                }
            }
            HashPower::Skewed(Skew { skew }) => {
                if !(*skew >= 0.0 && skew.is_finite()) {
                    return err("pow.hashpower.skew", "must be >= 0".into());
                }
            }
        }
        let w = &self.workload;
        if !(0.0..=MAX_TX_RATE).contains(&w.tx_rate) {
            return err(
                "workload.tx_rate",
                format!("{} is not in 0..={MAX_TX_RATE}", w.tx_rate),
            );
        }
        if w.tx_rate > 0.0 && w.accounts < 2 {
            return err(
                "workload.accounts",
                "at least 2 accounts are needed to send transactions".into(),
            );
        }
        if w.min_fee > w.max_fee {
            return err(
                "workload.min_fee",
                format!("{} exceeds max_fee {}", w.min_fee, w.max_fee),
            );
        }
        if w.max_amount == 0 {
            return err("workload.max_amount", "must be positive".into());
        }
        if self.mempool.max_txs == 0 {
            return err("mempool.max_txs", "must be positive".into());
        }
        if self.gossip.seen_capacity < 1_000 {
            return err(
                "gossip.seen_capacity",
                "must be at least 1000 (a node must remember what it has seen to gossip)".into(),
            );
        }
        if self.gossip.tx_batch_interval.is_zero() {
            return err("gossip.tx_batch_interval", "must be positive".into());
        }
        if self.storage.cache_mb == 0 {
            return err("storage.cache_mb", "must be positive".into());
        }
        if self.storage.backend == StorageBackend::Memory
            && !self.storage.data_dir.as_os_str().is_empty()
        {
            return err(
                "storage.data_dir",
                "is set but storage.backend = \"memory\" keeps nothing: use backend = \"sled\""
                    .into(),
            );
        }
        let end = self.cluster.duration + self.cluster.settle;
        for (i, f) in self.faults.iter().enumerate() {
            if let Err(e) = f.validate(i, n, end) {
                return err(&format!("faults[{i}] (kind = {})", e.kind), e.reason);
            }
        }
        Ok(())
    }

    /// The key of workload account `i` (deterministic, the same for every run).
    pub fn account_key(i: usize) -> KeyPair {
        KeyPair::from_seed(format!("chainlab/account/{i}").as_bytes())
    }

    /// The key of node `i`'s miner.
    pub fn node_key(i: usize) -> KeyPair {
        KeyPair::from_seed(format!("chainlab/node/{i}").as_bytes())
    }

    /// The chain parameters, with every workload account funded at genesis.
    pub fn chain_params(&self) -> ChainParams {
        let genesis_balances = (0..self.workload.accounts)
            .map(|i| {
                (
                    Config::account_key(i).address(),
                    self.workload.initial_balance,
                )
            })
            .collect();
        let c = &self.consensus;
        ChainParams {
            chain_id: c.chain_id,
            block_interval_ms: c.block_interval.as_millis() as u64,
            retarget_interval: c.retarget_interval,
            initial_difficulty: self.pow.difficulty,
            tie_break: c.tie_break,
            max_block_txs: c.max_block_txs,
            max_block_bytes: c.max_block_bytes,
            reward: c.reward,
            max_future_ms: c.max_future_drift.as_millis() as u64,
            max_orphans: c.max_orphans,
            genesis_balances,
        }
    }

    /// The mempool policy.
    pub fn mempool_policy(&self) -> MempoolPolicy {
        MempoolPolicy {
            chain_id: self.consensus.chain_id,
            max_txs: self.mempool.max_txs,
            max_nonce_gap: self.mempool.max_nonce_gap,
            min_fee: self.mempool.min_fee,
            expiry_ms: self.mempool.expiry.as_millis() as u64,
            replace_bump_percent: self.mempool.replace_bump_percent,
        }
    }

    /// The gossip policy.
    pub fn gossip_policy(&self) -> crate::gossip::GossipPolicy {
        crate::gossip::GossipPolicy {
            seen_capacity: self.gossip.seen_capacity,
            peer_known_capacity: 4096,
            request_timeout_ms: self.gossip.request_timeout.as_millis() as u64,
            sync_timeout_ms: self.gossip.sync_timeout.as_millis() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_toml_documents_exactly_the_defaults() {
        let text = include_str!("../config/default.toml");
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
