//! The timewarp attacker against theory (docs/experiments.md, "Timewarp").
//!
//! A miner with share α stamps a block that ends a retarget window at its clock plus the
//! drift and every other block just past the median time past. With chainlab's rules
//! (`consensus.time_warp_fix = true`) the spans of windows telescope and the long-run mean
//! interval cannot fall below the target; under Bitcoin's original rules (`false`) the early
//! stamp of a window's first block and the late stamp of its last inflate its span and the
//! chain runs faster.
//!
//! Each run's report gives `achieved_interval_s` (the mean virtual-clock time between the
//! final chain's blocks) and `theory.achieved_interval_s` (the rules simulated on an ideal network over
//! as many blocks). The tests take the mean of both over several seeds, the standard error from
//! the spread of the measured values between seeds, and assert `|mean − model| < 4 se`
//! (`support::stats::check`), plus each rule set's claim against the target.
//!
//! Run with `cargo test -p chainlab-actors --test timewarp -- --nocapture` for the numbers.

mod support;

use chainlab::config::Config;
use support::config::Toml;
use support::run::{assert_no_violations, report_without_wall_time, run_ok};
use support::stats::check;

/// 10 nodes, 10-minute blocks retargeted every 20, for `minutes` of virtual time, no
/// transactions, and a timewarp attacker at node 0 with `alpha` of the hash power.
fn timewarp(seed: u64, alpha: f64, fix: bool, minutes: u64) -> Config {
    Toml::virtual_clock()
        .with(&[
            &format!("cluster.seed={seed}"),
            &format!("cluster.duration={minutes}m"),
            "cluster.settle=60m",
            "consensus.block_interval=10m",
            "consensus.retarget_interval=20",
            &format!("consensus.time_warp_fix={fix}"),
            "workload.tx_rate=0.0",
            "workload.accounts=2",
            "pow.difficulty=256",
        ])
        .config(
            "timewarp.toml",
            &[],
            &format!("[[adversary]]\nkind = \"timewarp\"\nnodes = [0]\nhashpower = {alpha:?}\n"),
        )
}

/// Over `seeds`: the achieved interval's mean and standard error, and the model's mean, s.
fn intervals(seeds: std::ops::Range<u64>, alpha: f64, fix: bool) -> (f64, f64, f64) {
    let mut measured = Vec::new();
    let mut model = Vec::new();
    for seed in seeds {
        let out = run_ok(timewarp(seed, alpha, fix, 16_000));
        assert_no_violations(&out);
        let a = &out.report.adversaries[0];
        assert_eq!(a.kind, "timewarp");
        assert_eq!(
            (a.time_warp_fix, a.target_interval_s),
            (Some(fix), Some(600.0))
        );
        let t = a.theory.as_ref().expect("a timewarp theory");
        assert_eq!(t.achieved_interval_bound_s, fix.then_some(600.0));
        let got = a.achieved_interval_s.expect("blocks were mined");
        let want = t.achieved_interval_s.expect("a model figure");
        eprintln!(
            "  seed {seed}: {} blocks, mined share {:.3}, interval {got:.1} s, model {want:.1} s",
            out.report.blocks.canonical_height, a.effective_hash_share
        );
        measured.push(got);
        model.push(want);
    }
    let n = measured.len() as f64;
    let mean = measured.iter().sum::<f64>() / n;
    let var = measured.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt(), model.iter().sum::<f64>() / n)
}

#[test]
fn with_the_fix_a_majority_warper_cannot_speed_the_chain_up() {
    // Theory: the long-run mean interval is at least the target (600 s); windows of n = 20
    // run at about n/(n − 1) targets by the retarget's own noise.
    let (mean, se, model) = intervals(1..9, 0.6, true);
    check("interval with the fix, α = 0.6", mean, model, se, 0.0);
    assert!(
        mean > 600.0 - 4.0 * se,
        "{mean} ± {se} is below the bound 600 s"
    );
}

#[test]
fn without_the_fix_a_majority_warper_runs_the_chain_fast() {
    // Bitcoin's rules: the model gives about 0.77 targets at α = 0.6 (honest: n/(n − 2)).
    let (mean, se, model) = intervals(11..19, 0.6, false);
    check("interval without the fix, α = 0.6", mean, model, se, 0.0);
    assert!(
        600.0 - mean > 4.0 * se,
        "{mean} ± {se} is not below the target"
    );
}

#[test]
fn without_the_fix_a_minority_warper_undoes_bitcoins_slow_bias() {
    // α = 0.3: the model gives about one target, against n/(n − 2) = 667 s with honest stamps.
    let (mean, se, model) = intervals(21..29, 0.3, false);
    check("interval without the fix, α = 0.3", mean, model, se, 0.0);
    assert!(
        600.0 * 20.0 / 18.0 - mean > 4.0 * se,
        "{mean} ± {se} is not below the honest 667 s"
    );
}

#[test]
fn a_timewarp_run_is_deterministic() {
    let a = run_ok(timewarp(7, 0.6, false, 2_000));
    let b = run_ok(timewarp(7, 0.6, false, 2_000));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
    assert!(a.report.adversaries[0].achieved_interval_s.is_some());
}
