//! Simulation models, all driven by seeded random streams: link delays, topologies,
//! hash-power shares and exponential block-finding times.

use crate::hash::Hash;
use crate::NodeId;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

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

/// The random stream for (`seed`, `label`, `index`): independent streams per purpose and node,
/// so adding draws to one never shifts another.
pub fn stream(seed: u64, label: &str, index: u64) -> ChaCha8Rng {
    let h = Hash::sha256_parts(&[
        b"chainlab/rng/v1",
        &seed.to_le_bytes(),
        label.as_bytes(),
        &index.to_le_bytes(),
    ]);
    ChaCha8Rng::from_seed(h.0)
}

/// Samples one link's propagation delay in milliseconds from the latency distribution.
/// Bandwidth is not a delay drawn here but a queue the message passes first
/// ([`super::link::LinkQueue`]).
pub fn sample_latency_ms(latency: &Latency, rng: &mut impl Rng) -> f64 {
    match *latency {
        Latency::Constant { ms } => ms,
        Latency::Uniform { min_ms, max_ms } => {
            if max_ms > min_ms {
                rng.gen_range(min_ms..=max_ms)
            } else {
                min_ms
            }
        }
        Latency::Normal { mean_ms, sd_ms } => Normal::new(mean_ms, sd_ms)
            .map(|d| d.sample(rng))
            .unwrap_or(mean_ms)
            .max(0.0),
        Latency::Lognormal { median_ms, sigma } => LogNormal::new(median_ms.ln(), sigma)
            .map(|d| d.sample(rng))
            .unwrap_or(median_ms),
    }
}

/// Why a topology could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("topology: {0}")]
pub struct TopologyError(pub String);

/// Builds adjacency lists (sorted, no duplicates) for `n` nodes.
///
/// # Errors
/// When the shape is unknown or no connected random-regular graph was found.
pub fn build_topology(
    spec: &Topology,
    n: usize,
    degree: usize,
    rng: &mut impl Rng,
) -> Result<Vec<Vec<NodeId>>, TopologyError> {
    let mut edges: BTreeSet<(NodeId, NodeId)> = BTreeSet::new();
    let add = |a: NodeId, b: NodeId, edges: &mut BTreeSet<(NodeId, NodeId)>| {
        if a != b {
            edges.insert((a.min(b), a.max(b)));
        }
    };
    match spec {
        Topology::Named(name) => match name.as_str() {
            "full-mesh" => {
                for a in 0..n {
                    for b in a + 1..n {
                        add(a, b, &mut edges);
                    }
                }
            }
            "ring" => {
                for a in 0..n {
                    add(a, (a + 1) % n, &mut edges);
                }
            }
            "random-regular" => {
                edges = random_regular(n, degree, rng)?;
            }
            other => return Err(TopologyError(format!("unknown topology {other:?}"))),
        },
        Topology::Edges(list) => {
            for [a, b] in list {
                if *a >= n || *b >= n {
                    return Err(TopologyError(format!("edge [{a}, {b}] outside 0..{n}")));
                }
                add(*a, *b, &mut edges);
            }
        }
    }
    let mut adj = vec![Vec::new(); n];
    for (a, b) in edges {
        adj[a].push(b);
        adj[b].push(a);
    }
    for l in &mut adj {
        l.sort_unstable();
    }
    Ok(adj)
}

/// A uniform-ish random `d`-regular connected graph: random pairing of stubs, avoiding loops
/// and repeated edges, restarted on a dead end or a disconnected result.
fn random_regular(
    n: usize,
    d: usize,
    rng: &mut impl Rng,
) -> Result<BTreeSet<(NodeId, NodeId)>, TopologyError> {
    if n <= 1 {
        return Ok(BTreeSet::new());
    }
    if d >= n || !(n * d).is_multiple_of(2) {
        return Err(TopologyError(format!("no {d}-regular graph on {n} nodes")));
    }
    'attempt: for _ in 0..200 {
        let mut stubs: Vec<NodeId> = (0..n).flat_map(|v| std::iter::repeat_n(v, d)).collect();
        let mut edges = BTreeSet::new();
        while !stubs.is_empty() {
            let mut placed = false;
            for _ in 0..100 {
                let i = rng.gen_range(0..stubs.len());
                let j = rng.gen_range(0..stubs.len());
                let (a, b) = (stubs[i], stubs[j]);
                if i == j || a == b || edges.contains(&(a.min(b), a.max(b))) {
                    continue;
                }
                edges.insert((a.min(b), a.max(b)));
                let (hi, lo) = (i.max(j), i.min(j));
                stubs.swap_remove(hi);
                stubs.swap_remove(lo);
                placed = true;
                break;
            }
            if !placed {
                continue 'attempt;
            }
        }
        if connected(n, &edges) {
            return Ok(edges);
        }
    }
    Err(TopologyError(format!(
        "no connected {d}-regular graph on {n} nodes found in 200 attempts"
    )))
}

fn connected(n: usize, edges: &BTreeSet<(NodeId, NodeId)>) -> bool {
    first_unreachable(n, edges.iter().copied()).is_none()
}

/// The first node an undirected edge list does not connect to node 0 (None: connected).
pub fn first_unreachable(
    n: usize,
    edges: impl IntoIterator<Item = (NodeId, NodeId)>,
) -> Option<NodeId> {
    if n == 0 {
        return None;
    }
    let mut adj = vec![Vec::new(); n];
    for (a, b) in edges {
        if a < n && b < n {
            adj[a].push(b);
            adj[b].push(a);
        }
    }
    let mut seen = vec![false; n];
    let mut stack = vec![0];
    seen[0] = true;
    while let Some(v) = stack.pop() {
        for &w in &adj[v] {
            if !seen[w] {
                seen[w] = true;
                stack.push(w);
            }
        }
    }
    seen.iter().position(|s| !s)
}

/// Hash-power shares per node, summing to 1.
pub fn hash_shares(spec: &HashPower, n: usize) -> Vec<f64> {
    let raw: Vec<f64> = match spec {
        HashPower::Named(_) => vec![1.0; n],
        HashPower::Shares(v) => v.clone(),
        HashPower::Skewed(k) => (0..n)
            .map(|i| 1.0 / ((i + 1) as f64).powf(k.skew))
            .collect(),
    };
    let sum: f64 = raw.iter().sum();
    if sum <= 0.0 {
        return vec![1.0 / n.max(1) as f64; n];
    }
    raw.iter().map(|x| x / sum).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_independent() {
        let a: u64 = stream(1, "x", 0).gen();
        let b: u64 = stream(1, "x", 0).gen();
        let c: u64 = stream(1, "x", 1).gen();
        let d: u64 = stream(2, "x", 0).gen();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn random_regular_graphs_are_regular_and_connected() {
        for seed in 0..20 {
            let mut rng = stream(seed, "t", 0);
            let adj =
                build_topology(&Topology::Named("random-regular".into()), 50, 4, &mut rng).unwrap();
            assert!(adj.iter().all(|l| l.len() == 4));
        }
        let ring = build_topology(
            &Topology::Named("ring".into()),
            5,
            0,
            &mut stream(0, "t", 0),
        )
        .unwrap();
        assert_eq!(ring[0], vec![1, 4]);
    }

    #[test]
    fn lognormal_median_matches() {
        let mut rng = stream(3, "lat", 0);
        let lat = Latency::Lognormal {
            median_ms: 100.0,
            sigma: 0.5,
        };
        let mut v: Vec<f64> = (0..20_001)
            .map(|_| sample_latency_ms(&lat, &mut rng))
            .collect();
        v.sort_by(f64::total_cmp);
        let median = v[10_000];
        assert!((95.0..105.0).contains(&median), "{median}");
        assert_eq!(
            sample_latency_ms(&Latency::Constant { ms: 10.0 }, &mut rng),
            10.0
        );
    }

    #[test]
    fn shares_normalise() {
        let s = hash_shares(&HashPower::Skewed(Skew { skew: 1.0 }), 3);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(s[0] > s[1] && s[1] > s[2]);
    }
}
