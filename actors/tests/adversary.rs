//! Adversaries against theory (docs/experiments.md).
//!
//! **Selfish mining.** A pool with share α of the hash power follows the Eyal–Sirer strategy
//! (`chainlab::adversary::selfish`); the honest nodes mine on the first block they see,
//! except that with `gamma` set a share γ of them sides with the pool's block in a tie. In the
//! long run the pool's share of the main chain is R(α, γ) (Eyal and Sirer, eq. 8; derived in
//! docs/experiments.md). The runs use 10-minute blocks against links of ~80 ms, so forks
//! between honest miners are rare (the model has none).
//!
//! The revenue share of one run of ~1,000 blocks varies with the pool's luck (its realised
//! share of the blocks mined): about 0.025 between seeds at α = 0.35. The tests take the mean
//! over several seeds and its standard error from the spread between them, and assert
//! `|mean − R| < 4 se` (`support::stats::check`).
//!
//! Run with `cargo test -p chainlab-actors --test adversary -- --nocapture` for the numbers.

mod support;

use chainlab::adversary::theory::{selfish_revenue, selfish_threshold};
use chainlab::config::Config;
use chainlab::report::Event;
use chainlab_actors::cluster::RunOutput;
use std::collections::BTreeMap;
use support::config::Toml;
use support::run::{assert_no_violations, run_ok};
use support::stats::check;

/// A selfish pool at node 0 of 10 with `alpha` of the hash power (and `gamma`, if set), for
/// `blocks` 10-minute blocks.
fn selfish(seed: u64, alpha: f64, gamma: Option<f64>, blocks: u64) -> Config {
    let gamma = gamma.map_or(String::new(), |g| format!("gamma = {g:?}\n"));
    Toml::virtual_clock()
        .with(&[
            &format!("cluster.seed={seed}"),
            &format!("cluster.duration={}m", blocks * 10),
            "cluster.settle=60m",
            "consensus.block_interval=10m",
            "workload.tx_rate=0.0",
            "workload.accounts=2",
        ])
        .config(
            "selfish.toml",
            &[],
            &format!(
                "[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nhashpower = {alpha:?}\n{gamma}"
            ),
        )
}

/// The pool's revenue share over `seeds`, one run each: (mean, standard error).
fn revenue(seeds: std::ops::Range<u64>, alpha: f64, gamma: Option<f64>) -> (f64, f64) {
    let shares: Vec<f64> = seeds
        .map(|seed| {
            let out = run_ok(selfish(seed, alpha, gamma, 1_000));
            assert_no_violations(&out);
            let a = &out.report.adversaries[0];
            eprintln!(
                "  seed {seed}: mined {} ({:.3} of all), on chain {}, revenue {:.4}",
                a.blocks_mined, a.effective_hash_share, a.blocks_on_chain, a.revenue_share
            );
            a.revenue_share
        })
        .collect();
    let n = shares.len() as f64;
    let mean = shares.iter().sum::<f64>() / n;
    let var = shares.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, (var / n).sqrt())
}

#[test]
fn selfish_mining_earns_eyal_sirers_revenue_with_a_set_gamma() {
    let (alpha, gamma) = (0.35, 0.5);
    let (mean, se) = revenue(1..7, alpha, Some(gamma));
    let r = selfish_revenue(alpha, gamma);
    check("revenue share, α = 0.35, γ = 0.5", mean, r, se, 0.0);
    // Above the threshold (0.25 at γ = 0.5) the pool earns more than its hash share.
    assert!(alpha > selfish_threshold(gamma));
    assert!(
        mean - alpha > 3.0 * se,
        "{mean} ± {se} is not above {alpha}"
    );
}

#[test]
fn selfish_mining_below_the_threshold_loses() {
    // γ = 0: the threshold is 1/3; at α = 0.25 the pool earns R = 8/41 < 0.25.
    let (alpha, gamma) = (0.25, 0.0);
    let (mean, se) = revenue(11..15, alpha, Some(gamma));
    check(
        "revenue share, α = 0.25, γ = 0",
        mean,
        selfish_revenue(alpha, gamma),
        se,
        0.0,
    );
    assert!(
        alpha - mean > 3.0 * se,
        "{mean} ± {se} is not below {alpha}"
    );
}

#[test]
fn with_gamma_emergent_the_revenue_lies_between_the_extremes() {
    // No γ set: ties go to whichever block a node saw first. With the pool at one node of
    // ten, publishing as soon as the honest block reaches it, few honest nodes see its block
    // first: γ is small, and the revenue lies in [R(α, 0), R(α, 1)].
    let alpha = 0.35;
    let (mean, se) = revenue(21..24, alpha, None);
    let (lo, hi) = (selfish_revenue(alpha, 0.0), selfish_revenue(alpha, 1.0));
    eprintln!("  emergent γ: revenue {mean:.4} ± {se:.4}, theory range [{lo:.4}, {hi:.4}]");
    assert!(mean > lo - 4.0 * se && mean < hi + 4.0 * se);
}

/// What the honest nodes saw of the pool's withheld blocks: none before the pool published it.
#[test]
fn honest_nodes_never_hear_of_a_withheld_block_before_it_is_published() {
    let out: RunOutput = run_ok(selfish(3, 0.4, None, 300));
    let mut published: BTreeMap<chainlab::Hash, u64> = BTreeMap::new();
    let mut withheld = 0;
    for r in &out.events {
        match r.event {
            Event::Withheld { .. } => withheld += 1,
            Event::Published { hash, .. } => {
                published.entry(hash).or_insert(r.t_ms);
            }
            _ => {}
        }
    }
    assert!(withheld > 20, "the pool withheld {withheld} blocks");
    let mut checked = 0;
    for r in &out.events {
        if let (Event::BlockImported { hash, .. }, true) = (&r.event, r.node != 0) {
            let Some(mined) = out.events.iter().find(
                |m| matches!(&m.event, Event::BlockMined { hash: h, miner: 0, .. } if h == hash),
            ) else {
                continue;
            };
            let when = published.get(hash).copied();
            assert!(
                when.is_some_and(|p| p <= r.t_ms),
                "node {} imported the pool's block {} (mined at {} ms) at {} ms, published at {when:?}",
                r.node,
                hash.short(),
                mined.t_ms,
                r.t_ms
            );
            checked += 1;
        }
    }
    assert!(
        checked > 100,
        "only {checked} imports of pool blocks checked"
    );
    let a = &out.report.adversaries[0];
    assert_eq!(a.withheld, withheld);
    assert!(a.published >= a.blocks_on_chain);
}
