//! `[network]`: peer graph, link delays and transports ([`NetworkConfig`], [`Topology`],
//! [`Latency`], [`TransportKind`]), with their checks (the topology against the node count,
//! TCP links against the clock).

use super::{invalid, ClockMode, ConfigError};
pub use crate::sim::link::{Bandwidth, Per};
pub use crate::sim::model::{Latency, Topology};
use serde::{Deserialize, Serialize};

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
    /// Bandwidth in megabits per second: every message queues for it (FIFO, size / rate each)
    /// before its latency; 0 = unlimited.
    pub bandwidth_mbps: f64,
    /// What `bandwidth_mbps` limits: each directed link (`link`) or each node's upload (`upload`).
    pub bandwidth_per: Per,
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
            bandwidth_per: Per::Link,
            transport: TransportKind::Memory,
            tcp_links: Vec::new(),
            tcp_share: 0.5,
        }
    }
}

impl NetworkConfig {
    /// The bandwidth limit of every link or upload, if any.
    pub fn bandwidth(&self) -> Option<Bandwidth> {
        (self.bandwidth_mbps > 0.0).then_some(Bandwidth {
            mbps: self.bandwidth_mbps,
            per: self.bandwidth_per,
        })
    }

    /// Checks `network.*` for a cluster of `n` nodes driven by `clock` (`cluster.clock`).
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
        match &self.topology {
            Topology::Named(name) => match name.as_str() {
                "full-mesh" | "ring" => {}
                "random-regular" => {
                    let d = self.degree;
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
                if let Some(lone) = crate::sim::model::first_unreachable(n, edges.iter().map(|[a, b]| (*a, *b))) {
                    return err(
                        "network.topology",
                        format!("the edge list does not connect node {lone} to node 0 (use a partition fault to split the network)"),
                    );
                }
            }
        }
        let lat_ok = match self.latency {
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
                    self.latency
                ),
            );
        }
        if !(self.bandwidth_mbps >= 0.0 && self.bandwidth_mbps.is_finite()) {
            return err(
                "network.bandwidth_mbps",
                "must be >= 0 (0 = unlimited)".into(),
            );
        }
        if self.transport != TransportKind::Memory && clock == ClockMode::Virtual {
            return err(
                "network.transport",
                "TCP links move bytes in wall time: they need cluster.clock = \"real\"".into(),
            );
        }
        for [a, b] in &self.tcp_links {
            if *a >= n || *b >= n || a == b {
                return err(
                    "network.tcp_links",
                    format!("[{a}, {b}] is not a link between two of the {n} nodes"),
                );
            }
        }
        if !self.tcp_links.is_empty() && self.transport != TransportKind::Mixed {
            return err(
                "network.tcp_links",
                "is only used with network.transport = \"mixed\"".into(),
            );
        }
        if !(0.0..=1.0).contains(&self.tcp_share) {
            return err(
                "network.tcp_share",
                format!("{} is not in 0..=1", self.tcp_share),
            );
        }
        Ok(())
    }
}
