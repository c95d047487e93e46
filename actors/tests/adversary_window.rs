//! `from` / `until` of `[[adversary]]` (docs/experiments.md): outside its window an
//! adversary's nodes run the honest code. Virtual-clock runs, checked on the trace.

mod support;

use chainlab::config::Config;
use chainlab::report::Event;
use chainlab::Hash;
use std::collections::BTreeSet;
use support::config::Toml;
use support::run::{assert_no_violations, run_ok};

const MIN: u64 = 60_000;

/// 10 nodes, 10-minute blocks for 1,500 minutes, no transactions, a selfish pool at node 0
/// with 40% of the hash power and the window keys `window`.
fn selfish(seed: u64, window: &str) -> Config {
    Toml::virtual_clock()
        .with(&[
            &format!("cluster.seed={seed}"),
            "cluster.duration=1500m",
            "cluster.settle=60m",
            "consensus.block_interval=10m",
            "workload.tx_rate=0.0",
            "workload.accounts=2",
        ])
        .config(
            "window.toml",
            &[],
            &format!("[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nhashpower = 0.4\n{window}"),
        )
}

/// (time, height, hash) of the pool's `withheld` and `published` events.
type Marks = Vec<(u64, u64, Hash)>;

fn marks(out: &chainlab_actors::cluster::RunOutput) -> (Marks, Marks, BTreeSet<Hash>) {
    let (mut withheld, mut published, mut gave_up) = (Vec::new(), Vec::new(), BTreeSet::new());
    for r in &out.events {
        match &r.event {
            Event::Withheld(w) => withheld.push((r.t_ms, w.height, w.hash)),
            Event::Published { hash, height } => published.push((r.t_ms, *height, *hash)),
            Event::GaveUp { hash, .. } => {
                gave_up.insert(*hash);
            }
            _ => {}
        }
    }
    (withheld, published, gave_up)
}

#[test]
fn a_selfish_pool_withholds_nothing_before_its_from_height() {
    let out = run_ok(selfish(1, "from = 40\n"));
    assert_no_violations(&out);
    let (withheld, _, _) = marks(&out);
    assert!(withheld.len() >= 5, "the pool withheld {withheld:?}");
    // Its tip was at 40 at least when it withheld a block, so the block is 40 or higher.
    let low: Vec<_> = withheld.iter().filter(|(_, h, _)| *h < 40).collect();
    assert!(low.is_empty(), "withheld below from = 40: {low:?}");
    // Before from it mined as an honest node does.
    let early = out
        .events
        .iter()
        .filter(|r| matches!(&r.event, Event::BlockMined(m) if m.miner == 0 && m.height < 40))
        .count();
    assert!(early > 0, "the pool mined nothing below 40");
}

#[test]
fn a_selfish_pool_publishes_what_it_holds_at_until_and_is_honest_after() {
    let (from, until) = (200 * MIN, 900 * MIN);
    let out = run_ok(selfish(2, "from = \"200m\"\nuntil = \"900m\"\n"));
    assert_no_violations(&out);
    let (withheld, published, gave_up) = marks(&out);
    assert!(withheld.len() >= 5, "the pool withheld {withheld:?}");
    let outside: Vec<_> = withheld
        .iter()
        .filter(|(t, _, _)| *t < from || *t >= until)
        .collect();
    assert!(
        outside.is_empty(),
        "withheld outside the window: {outside:?}"
    );
    // Every block withheld was published or given up: nothing is held past until.
    let done: BTreeSet<Hash> = published
        .iter()
        .map(|(_, _, h)| *h)
        .chain(gave_up.iter().copied())
        .collect();
    let held: Vec<_> = withheld
        .iter()
        .filter(|(_, _, h)| !done.contains(h))
        .collect();
    assert!(held.is_empty(), "still withheld after until: {held:?}");
    // What it published after until it published at until, at once.
    let late: Vec<_> = published.iter().filter(|(t, _, _)| *t > until).collect();
    assert!(late.is_empty(), "published after until: {late:?}");
}

#[test]
fn without_from_and_until_a_selfish_pool_withholds_from_the_start() {
    // The same run as above without the keys: the pool withholds before 200 minutes and
    // after 900 (so the window test above can fail).
    let out = run_ok(selfish(2, ""));
    let (withheld, _, _) = marks(&out);
    assert!(
        withheld.iter().any(|(t, _, _)| *t < 200 * MIN),
        "{withheld:?}"
    );
    assert!(
        withheld.iter().any(|(t, _, _)| *t >= 900 * MIN),
        "{withheld:?}"
    );
}

/// Node 0 floods invalid transactions at 2 a second over 150 s, within `window`.
fn spam(window: &str) -> Config {
    Toml::virtual_clock()
        .with(&[
            "cluster.seed=3",
            "cluster.duration=150s",
            "cluster.settle=30s",
            "consensus.block_interval=5s",
            "pow.difficulty=16",
            "workload.tx_rate=1.0",
            "workload.accounts=20",
        ])
        .config(
            "spam.toml",
            &[],
            &format!(
                "[[adversary]]\nnodes = [0]\nkind = \"spam\"\nmode = \"invalid-tx\"\nrate = 2.0\n\
                 {window}"
            ),
        )
}

fn spam_times(cfg: Config) -> Vec<u64> {
    let out = run_ok(cfg);
    assert_no_violations(&out);
    out.events
        .iter()
        .filter(|r| matches!(r.event, Event::SpamSent(_)))
        .map(|r| r.t_ms)
        .collect()
}

#[test]
fn a_spammer_sends_within_its_window_only_and_saves_nothing_up() {
    let all = spam_times(spam(""));
    assert!(all.iter().any(|t| *t < 50_000) && all.iter().any(|t| *t >= 100_000));
    let sent = spam_times(spam("from = \"50s\"\nuntil = \"100s\"\n"));
    let outside: Vec<_> = sent
        .iter()
        .filter(|t| **t < 50_000 || **t >= 100_000)
        .collect();
    assert!(outside.is_empty(), "sent outside the window: {outside:?}");
    // At its rate over the 50 s: about 100, not the 200 a saved-up backlog would add.
    assert!((80..=110).contains(&sent.len()), "{} sent", sent.len());
}

#[test]
fn a_timewarp_miner_stamps_honestly_before_its_from() {
    let from = 300 * MIN;
    let out = run_ok(
        Toml::virtual_clock()
            .with(&[
                "cluster.seed=4",
                "cluster.duration=600m",
                "cluster.settle=60m",
                "consensus.block_interval=10m",
                "consensus.retarget_interval=20",
                "workload.tx_rate=0.0",
                "workload.accounts=2",
                "pow.difficulty=256",
            ])
            .config(
                "timewarp.toml",
                &[],
                "[[adversary]]\nkind = \"timewarp\"\nnodes = [0]\nhashpower = 0.4\n\
                 from = \"300m\"\n",
            ),
    );
    assert_no_violations(&out);
    // (miner, time found) of each block: an honest stamp is the chain time it was found at,
    // that is the run's time plus a constant offset.
    let found: std::collections::BTreeMap<Hash, (usize, u64)> = out
        .events
        .iter()
        .filter_map(|r| match &r.event {
            Event::BlockMined(m) => Some((m.hash, (m.miner, r.t_ms))),
            _ => None,
        })
        .collect();
    let mut offset = None;
    let mut pool = Vec::new();
    for b in &out.final_chain {
        let Some(&(miner, t)) = found.get(&b.hash) else {
            continue;
        };
        let skew = b.timestamp_ms as i64 - t as i64;
        if miner == 0 {
            pool.push((t, skew));
        } else {
            offset.get_or_insert(skew);
        }
    }
    let offset = offset.expect("honest blocks on the final chain");
    let honest = |skew: i64| (skew - offset).abs() < 1_000;
    let before: Vec<_> = pool.iter().filter(|(t, _)| *t < from).collect();
    let after: Vec<_> = pool.iter().filter(|(t, _)| *t >= from).collect();
    assert!(!before.is_empty() && !after.is_empty(), "{pool:?}");
    assert!(
        before.iter().all(|(_, s)| honest(*s)),
        "warped before from: {before:?} (offset {offset})"
    );
    assert!(
        after.iter().any(|(_, s)| !honest(*s)),
        "never warped after from: {after:?} (offset {offset})"
    );
}

/// A double-spend attacker at node 0 with 30% of the hash power against node 1 (z = 1, giving
/// up 3 behind), 10-minute blocks for 1,500 minutes, within `window`.
fn double_spend(window: &str) -> Vec<(u64, u64)> {
    let out = run_ok(
        Toml::virtual_clock()
            .with(&[
                "cluster.seed=5",
                "cluster.duration=1500m",
                "cluster.settle=60m",
                "consensus.block_interval=10m",
                "workload.tx_rate=0.0",
                "workload.accounts=2",
            ])
            .config(
                "ds.toml",
                &[],
                &format!(
                    "[[adversary]]\nkind = \"double-spend\"\nnodes = [0]\nhashpower = 0.3\n\
                     merchant = 1\nconfirmations = 1\ngive_up = 3\n{window}"
                ),
            ),
    );
    assert_no_violations(&out);
    out.events
        .iter()
        .filter_map(|r| match &r.event {
            Event::AttackStarted(a) => Some((r.t_ms, a.attempt)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_double_spender_starts_attempts_within_its_window_only() {
    let (from, until) = (300 * MIN, 900 * MIN);
    let all = double_spend("");
    assert!(all.iter().any(|(t, _)| *t < from) && all.iter().any(|(t, _)| *t >= until));
    let started = double_spend("from = \"300m\"\nuntil = \"900m\"\n");
    assert!(started.len() >= 2, "{started:?}");
    // An attempt begins when its chain answers the request made inside the window: at once
    // on the virtual clock.
    let outside: Vec<_> = started
        .iter()
        .filter(|(t, _)| *t < from || *t > until)
        .collect();
    assert!(
        outside.is_empty(),
        "started outside the window: {outside:?}"
    );
}
