//! The eclipse attacker (`[[adversary]] kind = "eclipse"`; docs/experiments.md, "Eclipse").
//!
//! Ten nodes, 1-minute blocks without retargeting against ~80 ms links, no transactions; node
//! 9 is the victim and mines nothing (`pow.hashpower` gives it 0), so that its height is what
//! it was shown. The attackers hold its every connection:
//!
//! - **delay**: the victim sees each block `delay` late; its lag at a random time is the
//!   number of blocks mined in the last `delay`, delay/I on average. One run of 400 blocks
//!   measures the time-averaged lag with a standard deviation of about √(λ·delay²/T) (the lag
//!   is a Poisson count over a sliding window: its time average over T has variance
//!   λ·delay²/T), 0.1 blocks at delay = 2I; the tests take the mean over seeds and its
//!   standard error from their spread.
//! - **filter**: the victim sees nothing and stays at genesis.
//! - **branch**: the victim sees only the attacker's branch, which pays it; it counts z
//!   confirmations after z attacker blocks, Gamma(z, I/α) after the attempt starts, and is
//!   released `delay` later: every attempt succeeds.
//!
//! Run with `cargo test -p chainlab-actors --test eclipse -- --nocapture` for the numbers.

mod support;

use chainlab::config::Config;
use chainlab::report::{delay_lag, Event};
use chainlab::{Hash, NodeId};
use chainlab_actors::cluster::{topology, RunOutput};
use std::collections::{BTreeMap, BTreeSet};
use support::config::Toml;
use support::run::{assert_no_violations, report_without_wall_time, run_ok};
use support::stats::check;

const VICTIM: NodeId = 9;

/// 10 nodes, `blocks` 1-minute blocks, node 9 without hash power, and `entry`.
fn eclipsed(seed: u64, blocks: u64, entry: &str) -> Config {
    Toml::virtual_clock()
        .with(&[
            &format!("cluster.seed={seed}"),
            &format!("cluster.duration={}m", blocks),
            "cluster.settle=10m",
            "network.degree=4",
            "consensus.block_interval=1m",
            "workload.tx_rate=0.0",
            "workload.accounts=2",
            "pow.hashpower=[1, 1, 1, 1, 1, 1, 1, 1, 1, 0]",
        ])
        .config("eclipse.toml", &[], entry)
}

fn delay_entry(delay_s: u64) -> String {
    format!(
        "[[adversary]]\nkind = \"eclipse\"\nnodes = [0, 1]\nvictim = {VICTIM}\nmode = \"delay\"\n\
         delay = \"{delay_s}s\"\n"
    )
}

fn print(out: &RunOutput) {
    let a = &out.report.adversaries[0];
    let e = a.eclipse.as_ref().expect("eclipse figures");
    eprintln!(
        "  seed {}: lag mean {:.3} max {}, heights {}/{}, extra delay {:?} s over {} blocks, \
         {} missed; delayed {} filtered {} fed {}; attempts {} successes {} accepted {} in {:?} s",
        out.report.seed,
        e.lag_mean,
        e.lag_max,
        e.victim_height,
        e.network_height,
        e.extra_delay_mean_s,
        e.blocks_received,
        e.blocks_missed,
        e.delayed,
        e.filtered,
        e.fed,
        a.attempts,
        a.successes,
        e.accepted,
        e.accept_time_mean_s
    );
}

fn branch_entry(alpha: f64, z: u32) -> String {
    format!(
        "[[adversary]]\nkind = \"eclipse\"\nnodes = [0]\nvictim = {VICTIM}\nmode = \"branch\"\n\
         hashpower = {alpha:?}\nconfirmations = {z}\ndelay = \"60s\"\n"
    )
}

/// Mean and standard error of `xs` (the spread between them).
fn mean_se(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn the_victims_every_connection_is_to_the_attackers() {
    // The graph: for several shapes and seeds, the victim's neighbours are the attacker's
    // nodes, and the rest is connected without it.
    for (shape, degree) in [
        ("random-regular", 4),
        ("random-regular", 3),
        ("ring", 2),
        ("full-mesh", 2),
    ] {
        for seed in 1..6 {
            let cfg = Toml::virtual_clock()
                .with(&[
                    &format!("cluster.seed={seed}"),
                    &format!("network.topology=\"{shape}\""),
                    &format!("network.degree={degree}"),
                ])
                .config("eclipse.toml", &[], &delay_entry(30));
            let adj = topology(&cfg).unwrap();
            assert_eq!(adj[VICTIM], vec![0, 1], "{shape} seed {seed}");
            for (a, list) in adj.iter().enumerate() {
                assert_eq!(
                    list.contains(&VICTIM),
                    a < 2,
                    "{shape} seed {seed}: node {a}"
                );
            }
            let mut seen = vec![false; adj.len()];
            let mut stack = vec![0];
            seen[0] = true;
            while let Some(x) = stack.pop() {
                for &y in &adj[x] {
                    if y != VICTIM && !seen[y] {
                        seen[y] = true;
                        stack.push(y);
                    }
                }
            }
            assert_eq!(
                seen.iter().filter(|s| **s).count(),
                adj.len() - 1,
                "{shape} seed {seed}: the rest falls apart"
            );
        }
    }
    // The run: every block an honest node mined that the victim stored, an attacker had held
    // back (`eclipse_delayed`) until no later than the victim stored it; the victim asked
    // attackers only for syncs.
    let out = run_ok(eclipsed(2, 120, &delay_entry(90)));
    print(&out);
    let mut held: BTreeMap<Hash, u64> = BTreeMap::new();
    let mut honest: BTreeSet<Hash> = BTreeSet::new();
    let mut checked = 0;
    for r in &out.events {
        match &r.event {
            Event::EclipseDelayed(d) => {
                assert!(r.node < 2 && d.victim == VICTIM && !d.tx);
                let at = held.entry(d.hash).or_insert(d.release_ms);
                *at = (*at).min(d.release_ms);
            }
            Event::BlockMined(m) if m.miner >= 2 => {
                honest.insert(m.hash);
            }
            Event::BlockImported { hash, .. } if r.node == VICTIM && honest.contains(hash) => {
                let release = held.get(hash).copied();
                assert!(
                    release.is_some_and(|t| t <= r.t_ms),
                    "the victim stored {} at {} ms, held until {release:?}",
                    hash.short(),
                    r.t_ms
                );
                checked += 1;
            }
            Event::SyncRequested { peer } if r.node == VICTIM => assert!(*peer < 2),
            _ => {}
        }
    }
    assert!(checked > 80, "only {checked} blocks checked");
}

#[test]
fn delay_mode_lag_is_delay_over_the_block_interval() {
    for (delay_s, seeds) in [(120, 1..6), (30, 11..15)] {
        let theory = delay_lag(delay_s * 1000, 60_000);
        let mut lags = Vec::new();
        for seed in seeds {
            let out = run_ok(eclipsed(seed, 400, &delay_entry(delay_s)));
            assert_no_violations(&out);
            print(&out);
            let a = &out.report.adversaries[0];
            let e = a.eclipse.as_ref().unwrap();
            assert_eq!(e.theory.as_ref().unwrap().lag_mean, Some(theory));
            // The victim gets every block, `delay` later than the rest of the network give or
            // take a link or two (the rest's mean includes nodes a few hops from the miner).
            let extra = e.extra_delay_mean_s.unwrap();
            assert!(
                extra > delay_s as f64 - 0.5 && extra < delay_s as f64 + 1.0,
                "extra delay {extra} s against {delay_s} s"
            );
            assert_eq!(e.blocks_missed, 0);
            assert!(e.delayed > 300);
            lags.push(e.lag_mean);
        }
        let (mean, se) = mean_se(&lags);
        // The victim gets a block `delay` plus about a link's latency late: delay/I + 0.1%.
        check(
            &format!("lag, delay {delay_s}s, I 60s"),
            mean,
            theory,
            se,
            0.01,
        );
    }
}

#[test]
fn filter_mode_keeps_the_victim_at_genesis_while_the_rest_moves_on() {
    let entry = format!(
        "[[adversary]]\nkind = \"eclipse\"\nnodes = [0, 1]\nvictim = {VICTIM}\nmode = \"filter\"\n"
    );
    let out = run_ok(eclipsed(3, 200, &entry));
    print(&out);
    let e = out.report.adversaries[0].eclipse.as_ref().unwrap();
    assert_eq!(e.victim_height, 0);
    assert!(e.network_height > 150, "{}", e.network_height);
    assert_eq!(e.lag_max, e.network_height);
    assert_eq!((e.blocks_received, e.delayed), (0, 0));
    assert!(e.blocks_missed > 100 && e.filtered > 150);
    // The victim stored no block and its tip never moved; every other node is on the chain.
    assert!(!out.events.iter().any(|r| r.node == VICTIM
        && matches!(
            &r.event,
            Event::BlockImported { .. } | Event::TipChanged { height: 1.., .. }
        )));
    let top = out.final_chain.len() as u64 - 1;
    assert!(top >= e.network_height);
}

#[test]
fn branch_mode_double_spends_against_the_victim() {
    let (alpha, z) = (0.3, 2);
    let mut times = Vec::new();
    let mut total = 0;
    for seed in 1..4 {
        let out = run_ok(eclipsed(seed, 300, &branch_entry(alpha, z)));
        assert_no_violations(&out);
        print(&out);
        let a = &out.report.adversaries[0];
        let e = a.eclipse.as_ref().unwrap();
        let t = a.theory.as_ref().unwrap();
        assert_eq!(t.success_rate, Some(1.0));
        assert!(a.attempts >= 15, "{} attempts", a.attempts);
        // Every released attempt: the victim saw z confirmations and the payment is gone.
        assert_eq!((a.successes, e.accepted), (a.attempts, a.attempts));
        assert_eq!(a.success_rate, Some(1.0));
        total += a.attempts;
        // No node but the victim and the attacker ever stored a block of the branch; the
        // public spends of released attempts are on the final chain.
        let fed: BTreeSet<Hash> = out
            .events
            .iter()
            .filter_map(|r| match &r.event {
                Event::EclipseFed(f) => Some(f.hash),
                _ => None,
            })
            .collect();
        assert!(fed.len() as u64 >= a.attempts * u64::from(z));
        for r in &out.events {
            if let Event::BlockImported { hash, .. } = &r.event {
                assert!(
                    !fed.contains(hash) || r.node == VICTIM || r.node == 0,
                    "node {} stored the branch's block {}",
                    r.node,
                    hash.short()
                );
            }
        }
        let on_chain: BTreeSet<Hash> = out
            .final_chain
            .iter()
            .flat_map(|b| b.txids.iter().copied())
            .collect();
        let mut released = BTreeSet::new();
        let mut conflicts = BTreeMap::new();
        for r in &out.events {
            match &r.event {
                Event::EclipseStarted(s) => {
                    conflicts.insert(s.attempt, (s.conflict, s.payment));
                }
                Event::EclipseReleased { attempt, .. } => {
                    released.insert(*attempt);
                }
                _ => {}
            }
        }
        for k in &released {
            let (conflict, payment) = conflicts[k];
            assert!(
                on_chain.contains(&conflict) && !on_chain.contains(&payment),
                "attempt {k}"
            );
        }
        // The mean time to the victim's z-th confirmation: Gamma(z, I/α), sd √z·I/α.
        times.push((e.accept_time_mean_s.unwrap(), a.attempts));
    }
    let n: u64 = times.iter().map(|(_, n)| n).sum();
    let mean = times.iter().map(|(t, k)| t * *k as f64).sum::<f64>() / n as f64;
    let theory = f64::from(z) * 60.0 / alpha;
    let sd = f64::from(z).sqrt() * 60.0 / alpha / (n as f64).sqrt();
    eprintln!("  {total} attempts");
    check(
        "time to z = 2 confirmations, α = 0.3, s",
        mean,
        theory,
        sd,
        0.0,
    );
}

#[test]
fn the_same_seed_gives_the_same_report_and_trace() {
    let a = run_ok(eclipsed(5, 100, &branch_entry(0.3, 2)));
    let b = run_ok(eclipsed(5, 100, &branch_entry(0.3, 2)));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
    assert_eq!(support::run::trace_text(&a), support::run::trace_text(&b));
    assert!(a.report.adversaries[0].attempts > 3);
    let c = run_ok(eclipsed(5, 100, &delay_entry(60)));
    let d = run_ok(eclipsed(5, 100, &delay_entry(60)));
    assert_eq!(report_without_wall_time(&c), report_without_wall_time(&d));
    assert_eq!(support::run::trace_text(&c), support::run::trace_text(&d));
}
