//! Benchmarks behind `chainlab bench`: virtual-clock speed of a whole cluster, real-clock
//! transaction throughput next to the single-core signature verification rate, and the
//! comparisons (fault layer, transport) with their medians. Every result serializes to the JSON
//! line the command prints.

use crate::cluster::{run, RunOptions, RunOutput};
use chainlab::config::{Config, ConfigError};
use chainlab::{Address, KeyPair, Transaction};
use serde::{Deserialize, Serialize, Serializer};
use std::time::Instant;

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    /// What was run.
    pub scenario: String,
    /// Nodes.
    pub nodes: usize,
    /// Simulated seconds (duration + settle).
    pub sim_s: f64,
    /// Wall seconds of the run (cluster build to report).
    pub wall_s: f64,
    /// Simulated seconds per wall second.
    pub sim_per_wall: f64,
    /// Network messages delivered.
    pub messages: u64,
    /// Messages delivered per wall second.
    pub messages_per_s: f64,
    /// Trace events recorded.
    pub trace_events: u64,
    /// Best-chain height at the end.
    pub height: u64,
    /// Blocks mined.
    pub mined: u64,
    /// Confirmed transactions per simulated second.
    pub tps: f64,
    /// Single-core k256 verifications per second measured in the same process (tps bench).
    pub verify_per_s: Option<f64>,
    /// Peak resident memory of the process, MiB (Linux; None elsewhere).
    pub peak_rss_mib: Option<f64>,
    /// Block propagation (mined to imported by every live node), median and 90th percentile, s.
    pub propagation_p50_s: f64,
    /// See `propagation_p50_s`.
    pub propagation_p90_s: f64,
    /// All live nodes on one tip at the end.
    pub converged: bool,
    /// Invariant violations.
    pub violations: usize,
}

fn result(scenario: &str, cfg: &Config, out: &RunOutput, verify_per_s: Option<f64>) -> BenchResult {
    let r = &out.report;
    let sim_s = r.duration_s + r.settle_s;
    let messages: u64 = out.net.delivered.values().sum();
    BenchResult {
        scenario: scenario.to_string(),
        nodes: cfg.cluster.nodes,
        sim_s,
        wall_s: r.wall_s,
        sim_per_wall: sim_s / r.wall_s.max(1e-9),
        messages,
        messages_per_s: messages as f64 / r.wall_s.max(1e-9),
        trace_events: r.events,
        height: r.blocks.canonical_height,
        mined: r.blocks.mined,
        tps: r.txs.tps,
        verify_per_s,
        peak_rss_mib: peak_rss_mib(),
        propagation_p50_s: r.propagation_s.full_s.p50.unwrap_or(f64::NAN),
        propagation_p90_s: r.propagation_s.full_s.p90.unwrap_or(f64::NAN),
        converged: r.convergence.converged,
        violations: r.invariants.violations.len(),
    }
}

/// Peak resident set size of this process (VmHWM), MiB.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The generated config was refused.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The run failed.
    #[error(transparent)]
    Cluster(#[from] crate::cluster::ClusterError),
}

/// Virtual-clock speed: `nodes` nodes on the default config (memory store), with `overrides`.
///
/// # Errors
/// A bad override or a failed run.
pub fn virtual_speed(nodes: usize, overrides: &[String]) -> Result<BenchResult, BenchError> {
    virtual_speed_of(("", "<bench>"), nodes, overrides)
}

/// As [`virtual_speed`], on the config `(text, file name)` instead of the default.
///
/// # Errors
/// A bad config or override, or a failed run.
pub fn virtual_speed_of(
    (text, file): (&str, &str),
    nodes: usize,
    overrides: &[String],
) -> Result<BenchResult, BenchError> {
    let mut all = vec![
        format!("cluster.nodes={nodes}"),
        "storage.backend=memory".to_string(),
    ];
    all.extend(overrides.iter().cloned());
    let cfg = Config::parse(text, file, &all)?;
    let out = run(cfg.clone(), RunOptions::default())?;
    Ok(result("virtual", &cfg, &out, None))
}

/// Single-core k256 verification rate over `n` distinct signatures (no cache).
pub fn verify_rate(n: usize) -> f64 {
    let key = KeyPair::from_seed(b"bench");
    let txs: Vec<Transaction> = (0..n as u64)
        .map(|i| Transaction::new_signed(&key, 1, Address([1; 20]), 1, 1, i))
        .collect();
    let start = Instant::now();
    let ok = txs
        .iter()
        .filter(|t| chainlab::crypto::verify_digest(&t.from, &t.signing_digest(), &t.sig).is_ok())
        .count();
    assert_eq!(ok, n, "bench signatures verify");
    n as f64 / start.elapsed().as_secs_f64()
}

/// Real-clock throughput: a cluster on the wall clock under a high transaction rate; reports
/// confirmed TPS and the single-core verification rate measured just before.
///
/// # Errors
/// A bad override or a failed run.
pub fn real_tps(nodes: usize, overrides: &[String]) -> Result<BenchResult, BenchError> {
    let verify = verify_rate(2000);
    let mut all = vec![
        format!("cluster.nodes={nodes}"),
        "cluster.clock=real".to_string(),
        "storage.backend=memory".to_string(),
    ];
    all.extend(overrides.iter().cloned());
    let cfg = Config::parse("", "<bench>", &all)?;
    let out = run(cfg.clone(), RunOptions::default())?;
    Ok(result("real-tps", &cfg, &out, Some(verify)))
}

/// Cost of the fault layer on the fault-free path: the same run without faults and with a
/// no-op fault layer (a loss rule of rate 0 on every link, active from t = 0, so every message
/// goes through the fault decision), alternated `rounds` times. Returns (without, with) runs.
///
/// # Errors
/// A bad override or a failed run.
pub fn fault_overhead(
    nodes: usize,
    overrides: &[String],
    rounds: usize,
) -> Result<(Vec<BenchResult>, Vec<BenchResult>), BenchError> {
    let mut without = Vec::new();
    let mut with = Vec::new();
    let mut noop = overrides.to_vec();
    noop.push(r#"faults=[{ at = "0s", kind = "loss", rate = 0.0 }]"#.to_string());
    for _ in 0..rounds {
        let mut a = virtual_speed(nodes, overrides)?;
        a.scenario = "no-faults".into();
        without.push(a);
        let mut b = virtual_speed(nodes, &noop)?;
        b.scenario = "noop-fault-layer".into();
        with.push(b);
    }
    Ok((without, with))
}

/// The median of `f` over `runs`.
pub fn median(runs: &[BenchResult], f: impl Fn(&BenchResult) -> f64) -> f64 {
    let mut v: Vec<f64> = runs.iter().map(f).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return 0.0;
    }
    v[v.len() / 2]
}

/// The same real-clock cluster over in-memory links and over TCP links, alternated `rounds`
/// times: zero modelled latency (so the difference is the transport), 1 s blocks, a
/// transaction load of `tx_rate`. Returns (memory, tcp) runs.
///
/// # Errors
/// A bad override or a failed run.
pub fn transport_compare(
    nodes: usize,
    overrides: &[String],
    rounds: usize,
) -> Result<(Vec<BenchResult>, Vec<BenchResult>), BenchError> {
    let base = vec![
        format!("cluster.nodes={nodes}"),
        "cluster.clock=real".to_string(),
        "cluster.duration=20s".to_string(),
        "cluster.settle=3s".to_string(),
        "network.latency={ dist = \"constant\", ms = 0.0 }".to_string(),
        "consensus.block_interval=1s".to_string(),
        "consensus.retarget_interval=0".to_string(),
        "workload.tx_rate=500.0".to_string(),
        "storage.backend=memory".to_string(),
    ];
    let mut memory = Vec::new();
    let mut tcp = Vec::new();
    for _ in 0..rounds {
        for (name, transport, into) in [
            ("memory-links", "memory", &mut memory),
            ("tcp-links", "tcp", &mut tcp),
        ] {
            let mut all = base.clone();
            all.push(format!("network.transport={transport}"));
            all.extend(overrides.iter().cloned());
            let cfg = Config::parse("", "<bench>", &all)?;
            let out = run(cfg.clone(), RunOptions::default())?;
            into.push(result(name, &cfg, &out, None));
        }
    }
    Ok((memory, tcp))
}

/// The medians of a [`fault_overhead`] comparison: the last line of `chainlab bench faults`.
/// Rates are printed as whole numbers, the slowdown with one decimal.
#[derive(Debug, Clone, Serialize)]
pub struct FaultOverheadMedians {
    /// Median messages per wall second without faults.
    #[serde(serialize_with = "whole")]
    pub median_messages_per_s_without: f64,
    /// Median messages per wall second with the no-op fault layer.
    #[serde(serialize_with = "whole")]
    pub median_messages_per_s_with_noop_faults: f64,
    /// How much slower the no-op fault layer is, percent of the rate without.
    #[serde(serialize_with = "one_decimal")]
    pub slowdown_percent: f64,
}

impl FaultOverheadMedians {
    /// The medians of the two variants' runs.
    pub fn new(without: &[BenchResult], with: &[BenchResult]) -> Self {
        let a = median(without, |r| r.messages_per_s);
        let b = median(with, |r| r.messages_per_s);
        FaultOverheadMedians {
            median_messages_per_s_without: a,
            median_messages_per_s_with_noop_faults: b,
            slowdown_percent: (a - b) / a * 100.0,
        }
    }
}

/// The medians of a [`transport_compare`] comparison: the last line of
/// `chainlab bench transport`. Rates are printed as whole numbers, times with four decimals.
#[derive(Debug, Clone, Serialize)]
pub struct TransportMedians {
    /// Median messages per wall second over in-memory links.
    #[serde(serialize_with = "whole")]
    pub median_messages_per_s_memory: f64,
    /// Median messages per wall second over TCP links.
    #[serde(serialize_with = "whole")]
    pub median_messages_per_s_tcp: f64,
    /// Median of the runs' median block propagation over in-memory links, s.
    #[serde(serialize_with = "four_decimals")]
    pub median_propagation_p50_s_memory: f64,
    /// Median of the runs' median block propagation over TCP links, s.
    #[serde(serialize_with = "four_decimals")]
    pub median_propagation_p50_s_tcp: f64,
    /// Median of the runs' 90th-percentile block propagation over in-memory links, s.
    #[serde(serialize_with = "four_decimals")]
    pub median_propagation_p90_s_memory: f64,
    /// Median of the runs' 90th-percentile block propagation over TCP links, s.
    #[serde(serialize_with = "four_decimals")]
    pub median_propagation_p90_s_tcp: f64,
}

impl TransportMedians {
    /// The medians of the two variants' runs.
    pub fn new(memory: &[BenchResult], tcp: &[BenchResult]) -> Self {
        TransportMedians {
            median_messages_per_s_memory: median(memory, |r| r.messages_per_s),
            median_messages_per_s_tcp: median(tcp, |r| r.messages_per_s),
            median_propagation_p50_s_memory: median(memory, |r| r.propagation_p50_s),
            median_propagation_p50_s_tcp: median(tcp, |r| r.propagation_p50_s),
            median_propagation_p90_s_memory: median(memory, |r| r.propagation_p90_s),
            median_propagation_p90_s_tcp: median(tcp, |r| r.propagation_p90_s),
        }
    }
}

/// Serializes `x` as a JSON integer, with the digits `{:.0}` prints; `null` when not finite.
fn whole<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    match format!("{x:.0}").parse::<i64>() {
        Ok(n) => s.serialize_i64(n),
        Err(_) => s.serialize_none(),
    }
}

/// Serializes `x` rounded to one decimal; `null` when not finite.
fn one_decimal<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(rounded(*x, 1))
}

/// Serializes `x` rounded to four decimals (trailing zeros are not written); `null` when not
/// finite.
fn four_decimals<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(rounded(*x, 4))
}

/// `x` rounded to `decimals` places, the way `{:.N}` rounds it (so the JSON shows its digits).
fn rounded(x: f64, decimals: usize) -> f64 {
    format!("{x:.decimals$}").parse().unwrap_or(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_at(messages_per_s: f64, p50: f64, p90: f64) -> BenchResult {
        BenchResult {
            scenario: "test".into(),
            nodes: 4,
            sim_s: 1.0,
            wall_s: 1.0,
            sim_per_wall: 1.0,
            messages: 0,
            messages_per_s,
            trace_events: 0,
            height: 0,
            mined: 0,
            tps: 0.0,
            verify_per_s: None,
            peak_rss_mib: None,
            propagation_p50_s: p50,
            propagation_p90_s: p90,
            converged: true,
            violations: 0,
        }
    }

    #[test]
    fn fault_medians_print_whole_rates_and_a_one_decimal_slowdown() {
        let without = [run_at(1000.4, 0.0, 0.0), run_at(2000.0, 0.0, 0.0)];
        let with = [run_at(950.0, 0.0, 0.0), run_at(1900.6, 0.0, 0.0)];
        let json = serde_json::to_string(&FaultOverheadMedians::new(&without, &with)).unwrap();
        assert_eq!(
            json,
            r#"{"median_messages_per_s_without":2000,"median_messages_per_s_with_noop_faults":1901,"slowdown_percent":5.0}"#
        );
    }

    #[test]
    fn transport_medians_round_times_to_four_decimals_and_print_nan_as_null() {
        let memory = [run_at(6596.2, 0.024_04, 0.054_06)];
        let tcp = [run_at(6625.0, f64::NAN, f64::NAN)];
        let json = serde_json::to_string(&TransportMedians::new(&memory, &tcp)).unwrap();
        assert_eq!(
            json,
            r#"{"median_messages_per_s_memory":6596,"median_messages_per_s_tcp":6625,"median_propagation_p50_s_memory":0.024,"median_propagation_p50_s_tcp":null,"median_propagation_p90_s_memory":0.0541,"median_propagation_p90_s_tcp":null}"#
        );
    }
}

/// `chainlab bench inv-flood`: what announcements cost a node's gossip tables when the
/// announced ids share their first 8 bytes (chosen to collide in a hasher that reads only
/// those) against random ids, alternated per round.
#[derive(Debug, Clone, Serialize)]
pub struct InvFlood {
    /// Inventory messages per variant and round, each of `MAX_INV_ITEMS` fresh ids.
    pub msgs: usize,
    /// Rounds (each runs both variants).
    pub rounds: usize,
    /// Nanoseconds per announced id, per round: random ids.
    pub random_ns_per_id: Vec<f64>,
    /// The same, ids sharing their first 8 bytes.
    pub colliding_ns_per_id: Vec<f64>,
    /// Median of colliding over median of random (1 = no penalty).
    pub ratio: f64,
}

/// Runs [`InvFlood`]: `msgs` announcements of 5,000 fresh ids from 8 peers in turn into one
/// node's [`chainlab::net::gossip::Gossip`] (the default config's policy, a key derived as a
/// node's is), timing `on_inv` alone.
pub fn inv_flood(msgs: usize, rounds: usize) -> InvFlood {
    use chainlab::hash::{Hash, HashKey};
    use chainlab::net::gossip::Gossip;
    use chainlab::net::wire::MAX_INV_ITEMS;
    let policy = Config::default().gossip_policy();
    let one = |colliding: bool, round: usize| {
        let mut g = Gossip::new(
            policy.clone(),
            (1..=8).collect(),
            HashKey::derive(1, "gossip", 0),
        );
        let mut n = (round as u64) << 40;
        let mut id = || {
            n += 1;
            let mut h = Hash::sha256(&n.to_le_bytes());
            if colliding {
                h.0[..8].copy_from_slice(&[0xc0; 8]);
            }
            h
        };
        let invs: Vec<Vec<Hash>> = (0..msgs)
            .map(|_| (0..MAX_INV_ITEMS).map(|_| id()).collect())
            .collect();
        let t = Instant::now();
        for (i, ids) in invs.iter().enumerate() {
            // Each request expires before the next message, so every id is looked up and
            // inserted (nothing is skipped by the per-peer request cap).
            let now = i as u64 * (policy.request_timeout_ms + 1);
            g.prune_expired(now);
            std::hint::black_box(g.on_inv(1 + i % 8, &[], ids, now, |_| false));
        }
        t.elapsed().as_secs_f64() * 1e9 / (msgs * MAX_INV_ITEMS) as f64
    };
    let (mut random_ns_per_id, mut colliding_ns_per_id) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        random_ns_per_id.push(one(false, 2 * r));
        colliding_ns_per_id.push(one(true, 2 * r + 1));
    }
    let med = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let ratio = med(&colliding_ns_per_id) / med(&random_ns_per_id);
    InvFlood {
        msgs,
        rounds,
        random_ns_per_id,
        colliding_ns_per_id,
        ratio,
    }
}

/// `chainlab bench contracts`: what a contract call costs next to a plain transfer, on one
/// core: blocks of `txs` token transfers (calls of the `token` example, deployed at genesis
/// as the load generator deploys it, every sender holding tokens) against blocks of `txs`
/// plain transfers, executed on a state of `txs` funded accounts, alternated per round.
#[derive(Debug, Clone, Serialize)]
pub struct ContractBench {
    /// Transactions per block.
    pub txs: usize,
    /// Rounds (each runs both variants).
    pub rounds: usize,
    /// Plain transfers executed per second, per round (`chain::exec::execute_block`).
    pub transfers_per_s: Vec<f64>,
    /// Token-transfer calls executed per second, per round.
    pub calls_per_s: Vec<f64>,
    /// Median execution cost of a call over that of a transfer.
    pub exec_ratio: f64,
    /// The same with each transaction's check (chain id, payload, signature, uncached)
    /// before its execution: what a node pays for a transaction it has not seen.
    pub checked_transfers_per_s: Vec<f64>,
    /// Likewise for calls.
    pub checked_calls_per_s: Vec<f64>,
    /// Median checked cost of a call over that of a transfer.
    pub checked_ratio: f64,
    /// Gas one token transfer burns.
    pub gas_per_call: u64,
}

/// Runs [`ContractBench`].
///
/// # Errors
/// When a block of `txs` calls does not fit the default contract limits (its attached gas
/// exceeds `contracts.max_block_gas`), or does not apply.
pub fn contract_calls(txs: usize, rounds: usize) -> Result<ContractBench, String> {
    use chainlab::block::Block;
    use chainlab::chain::exec::{execute_block, ExecRecord};
    use chainlab::chain::validation::check_tx;
    use chainlab::contract::examples;
    use chainlab::tx::Call;
    let mut cfg = Config::default();
    cfg.workload.accounts = txs.max(2);
    cfg.workload.contract_calls = 1.0;
    cfg.workload.contract = "token".into();
    let params = cfg.chain_params();
    let genesis = params.genesis_state();
    let keys: Vec<KeyPair> = (0..cfg.workload.accounts)
        .map(Config::account_key)
        .collect();
    let token = cfg.workload_contract_address();
    let block_of = |calls: bool| {
        let txs: Vec<Transaction> = keys
            .iter()
            .enumerate()
            .map(|(i, k)| {
                let to = keys[(i + 1) % keys.len()].address();
                if !calls {
                    return Transaction::new_signed(k, params.chain_id, to, 10, 1, 0);
                }
                let (method, args) = examples::workload_call("token", &to, 10).expect("token");
                let call = Call {
                    method: method.into(),
                    args,
                    gas: cfg.workload.call_gas,
                };
                Transaction::new_call(k, params.chain_id, token, call, 0, 1, 0)
            })
            .collect();
        let mut b = params.genesis_block();
        b.header.height = 1;
        b.header.timestamp_ms += 1;
        b.txs = txs;
        b
    };
    let (transfers, calls) = (block_of(false), block_of(true));
    let gas = calls.txs.len() as u64 * cfg.workload.call_gas;
    if gas > params.contracts.max_block_gas {
        return Err(format!(
            "{txs} calls of {} gas attach {gas}, more than contracts.max_block_gas {}",
            cfg.workload.call_gas, params.contracts.max_block_gas
        ));
    }
    let run = |b: &Block, checked: bool| -> Result<(f64, u64), String> {
        let mut state = genesis.clone();
        let ids = b.tx_ids();
        let t = Instant::now();
        if checked {
            for (tx, id) in b.txs.iter().zip(&ids) {
                check_tx(tx, id, params.chain_id, &params.contracts, None)
                    .map_err(|e| e.to_string())?;
            }
        }
        let done = execute_block(&mut state, b, &ids, params.reward, &params.contracts)
            .map_err(|(i, e)| format!("transaction {i}: {e}"))?;
        let per_s = b.txs.len() as f64 / t.elapsed().as_secs_f64();
        let gas = done
            .records
            .iter()
            .find_map(|r| match r {
                ExecRecord::Called {
                    gas_burnt,
                    result: Ok(()),
                    ..
                } => Some(*gas_burnt),
                _ => None,
            })
            .unwrap_or(0);
        std::hint::black_box(state);
        Ok((per_s, gas))
    };
    let mut out = ContractBench {
        txs,
        rounds,
        transfers_per_s: Vec::new(),
        calls_per_s: Vec::new(),
        exec_ratio: 0.0,
        checked_transfers_per_s: Vec::new(),
        checked_calls_per_s: Vec::new(),
        checked_ratio: 0.0,
        gas_per_call: 0,
    };
    // One warm-up of each (the module compile cache, allocator).
    run(&transfers, false)?;
    run(&calls, false)?;
    for _ in 0..rounds {
        out.transfers_per_s.push(run(&transfers, false)?.0);
        let (c, gas) = run(&calls, false)?;
        out.calls_per_s.push(c);
        out.gas_per_call = gas;
        out.checked_transfers_per_s.push(run(&transfers, true)?.0);
        out.checked_calls_per_s.push(run(&calls, true)?.0);
    }
    let med = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s.get(s.len() / 2).copied().unwrap_or(f64::NAN)
    };
    out.exec_ratio = med(&out.transfers_per_s) / med(&out.calls_per_s);
    out.checked_ratio = med(&out.checked_transfers_per_s) / med(&out.checked_calls_per_s);
    Ok(out)
}
