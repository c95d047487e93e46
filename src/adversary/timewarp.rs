//! The timewarp attacker's theory (docs/experiments.md, "Timewarp"): what the timestamp rules
//! let a miner with share α that stamps at their limits do to the block interval.
//!
//! - [`fixed_bound_ms`]: with chainlab's rules (windows sharing their boundary block, the
//!   window-end rule) the spans telescope, and the long-run mean interval cannot fall below
//!   the target, whatever α (derived in the docs).
//! - [`ideal_interval_ms`]: the expected mean interval of a run on an ideal network, by
//!   simulating the rules themselves (the same retarget code, median time past and drift
//!   limit) with Poisson mining and instant propagation, seeded: the figure a cluster run is
//!   compared with, under either rule set. The closed-form approximation the docs derive for
//!   Bitcoin's rules is [`bitcoin_mean_field_ms`].

use crate::consensus::pow::{mining_delay_ms, retarget, Pow};
use rand::Rng;

/// The model named in a timewarp report's `theory.model`.
pub const MODEL: &str = "ideal network (instant propagation, Poisson mining), the rules simulated";

/// The rules a timewarp attacker plays against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WarpRules {
    /// The retarget rules (`pow.time_warp_fix` chooses the rule set).
    pub pow: Pow,
    /// How far a stamp may run ahead of the clock (`consensus.max_future_drift`), ms.
    pub max_future_ms: u64,
}

/// How many past timestamps the median-time-past rule takes (the chain's own rule).
const MTP_WINDOW: usize = crate::chain::MTP_WINDOW;

/// The lower bound on the long-run mean block interval under chainlab's rules: the target.
/// Over K windows the difficulty moves by ∏ E/sₖ with Σ sₖ ≤ elapsed time + drift, so a mean
/// interval below the target by a factor (1 − ε) needs the difficulty to grow by (1 − ε)^−K:
/// the run would slow down without bound. Finite runs: see the docs.
pub fn fixed_bound_ms(rules: &WarpRules) -> f64 {
    rules.pow.block_interval_ms as f64
}

/// Bitcoin's rules (no fix), a mean-field estimate of the long-run mean interval for an
/// attacker with share `alpha` (docs/experiments.md): the window's span is its n − 1 intervals,
/// plus `lag` intervals when the attacker stamps the window's first block at the median time
/// past (share α of the windows), plus the drift when it stamps the last (share α). Honest
/// windows (Gamma noise) give n/(n − 2) targets; `lag` is the median's lag in blocks (6 with
/// honest stamps around it, more as the attacker's own early stamps drag the median).
pub fn bitcoin_mean_field_ms(alpha: f64, n: u64, interval_ms: u64, drift_ms: u64, lag: f64) -> f64 {
    let n = n as f64;
    let t = interval_ms as f64;
    let honest = n * t / (n - 2.0);
    let warped = n * t / (n - 2.0 + lag);
    ((1.0 - alpha) * honest + alpha * warped) * (1.0 - alpha * drift_ms as f64 / (n * t))
}

/// The expected mean interval, ms, of `blocks` blocks after genesis (the time from the first to
/// the last over the intervals between them) with an attacker of share `alpha` stamping at
/// the limits (`chain::Stamp::Warp`: a window's last block at the clock plus the drift, every
/// other block at the median time past + 1; honest blocks at the clock, raised to the floor),
/// on an ideal network: every block is the attacker's with probability α, found after an
/// exponential time at the whole network's rate for its difficulty, and seen by all at once.
/// Returns the mean over `trials` seeded runs and its standard error; `None` without at
/// least two blocks or trials.
pub fn ideal_interval_ms(
    alpha: f64,
    rules: &WarpRules,
    blocks: u64,
    trials: u32,
    seed: u64,
) -> Option<(f64, f64)> {
    if blocks < 2 || trials < 2 {
        return None;
    }
    let runs: Vec<f64> = (0..trials)
        .map(|i| one_run(alpha, rules, blocks, seed, u64::from(i)))
        .collect();
    let n = runs.len() as f64;
    let mean = runs.iter().sum::<f64>() / n;
    let var = runs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    Some((mean, (var / n).sqrt()))
}

fn one_run(alpha: f64, rules: &WarpRules, blocks: u64, seed: u64, trial: u64) -> f64 {
    let pow = &rules.pow;
    let mut rng = crate::sim::model::stream(seed, "timewarp-model", trial);
    let n = pow.retarget_interval;
    let d0 = pow.initial_difficulty;
    // By height: stamps and difficulties (genesis: 0 and d0); the clock, ms.
    let mut ts: Vec<u64> = vec![0];
    let mut diff: Vec<u64> = vec![d0];
    let mut clock = 0.0f64;
    let mut first_ms = 0.0;
    for h in 1..=blocks {
        let p = h - 1;
        let d = if p == 0 || n == 0 || h % n != 0 {
            if p == 0 {
                d0
            } else {
                diff[p as usize]
            }
        } else {
            let first = pow.window_start(p);
            let intervals = if pow.time_warp_fix { p - first } else { n };
            let span = ts[p as usize].saturating_sub(ts[first as usize]);
            retarget(diff[p as usize], intervals, pow.block_interval_ms, span)
        };
        clock += mining_delay_ms(1.0, d0, d, pow.block_interval_ms, &mut rng).unwrap_or(0.0);
        if h == 1 {
            first_ms = clock;
        }
        let now = clock as u64;
        let from = (h as usize).saturating_sub(MTP_WINDOW);
        let mut past = [0u64; MTP_WINDOW];
        let past = &mut past[..ts.len() - from];
        past.copy_from_slice(&ts[from..]);
        past.sort_unstable();
        let mut earliest = past[past.len() / 2].saturating_add(1);
        if pow.time_warp_fix && pow.ends_window(h) {
            let start = pow.window_start(h);
            if start < h {
                earliest = earliest.max(ts[start as usize]);
            }
        }
        let attacker = rng.gen::<f64>() < alpha;
        let stamp = match (attacker, pow.ends_window(h)) {
            (true, true) => now.saturating_add(rules.max_future_ms).max(earliest),
            (true, false) => earliest,
            (false, _) => now.max(earliest),
        };
        ts.push(stamp);
        diff.push(d);
    }
    (clock - first_ms) / (blocks - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(fix: bool) -> WarpRules {
        WarpRules {
            pow: Pow {
                block_interval_ms: 600_000,
                retarget_interval: 20,
                initial_difficulty: 1 << 20,
                time_warp_fix: fix,
            },
            max_future_ms: 15_000,
        }
    }

    #[test]
    fn honest_chains_run_at_n_over_n_minus_one_or_two_targets() {
        // No attacker: the difficulty after a window is n·D0/G (G ~ Gamma of the window's
        // intervals), so the mean interval is n/(n − 1) targets with the fix (n intervals per
        // window) and n/(n − 2) without (n − 1 intervals against n expected).
        let (fixed, se) = ideal_interval_ms(0.0, &rules(true), 2_000, 24, 1).unwrap();
        let want = 600_000.0 * 20.0 / 19.0;
        assert!(
            (fixed - want).abs() < 4.0 * se + 0.01 * want,
            "{fixed} ± {se}"
        );
        let (bitcoin, se) = ideal_interval_ms(0.0, &rules(false), 2_000, 24, 1).unwrap();
        let want = 600_000.0 * 20.0 / 18.0;
        assert!(
            (bitcoin - want).abs() < 4.0 * se + 0.01 * want,
            "{bitcoin} ± {se}"
        );
    }

    #[test]
    fn the_fix_holds_the_interval_and_bitcoins_rules_give_way() {
        for alpha in [0.3, 0.6] {
            let (fixed, se) = ideal_interval_ms(alpha, &rules(true), 2_000, 16, 2).unwrap();
            assert!(
                fixed > fixed_bound_ms(&rules(true)) - 4.0 * se,
                "{alpha}: {fixed}"
            );
            let (bitcoin, _) = ideal_interval_ms(alpha, &rules(false), 2_000, 16, 2).unwrap();
            assert!(bitcoin < fixed * 0.98, "{alpha}: {bitcoin} against {fixed}");
        }
        // A large majority drives the difficulty down a clamp factor per window: the chain
        // runs far faster than the target.
        let (fast, _) = ideal_interval_ms(0.9, &rules(false), 2_000, 4, 3).unwrap();
        assert!(fast < 0.2 * 600_000.0, "{fast}");
        // Deterministic.
        assert_eq!(
            ideal_interval_ms(0.4, &rules(false), 500, 4, 9),
            ideal_interval_ms(0.4, &rules(false), 500, 4, 9)
        );
        assert_eq!(ideal_interval_ms(0.4, &rules(false), 1, 4, 9), None);
    }

    #[test]
    fn the_mean_field_estimate_is_near_the_simulated_rules_for_a_minority() {
        // Lag 6 blocks at small α (the median of 11 honest stamps is 5 blocks back, and the
        // honest stamp it replaces one block on).
        let (sim, se) = ideal_interval_ms(0.1, &rules(false), 4_000, 16, 4).unwrap();
        let mf = bitcoin_mean_field_ms(0.1, 20, 600_000, 15_000, 6.0);
        assert!(
            (sim - mf).abs() < 4.0 * se + 0.01 * mf,
            "{sim} ± {se} against {mf}"
        );
    }
}
