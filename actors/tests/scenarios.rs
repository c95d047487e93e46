//! Every shipped scenario (`config/*.toml`) is a test: `chainlab run CONFIG --quiet` must exit
//! 0, i.e. no invariant violated and every `[expect]` of the file met. One test per file, so a
//! failure names the scenario; the stderr of the run (one line per unmet expectation) is in the
//! failure message.
//!
//! Real-clock scenarios measure wall time, so they run alone: each takes this binary's lock
//! for writing, while virtual-clock scenarios (whose figures do not depend on the machine's
//! speed) share it.

mod support;

use chainlab::config::{ClockMode, Config};
use std::path::{Path, PathBuf};
use std::sync::RwLock;
use std::time::Instant;
use support::cli::{describe, output};

/// Held for writing by a real-clock scenario, for reading by a virtual-clock one.
static MACHINE: RwLock<()> = RwLock::new(());

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// Runs `config/NAME.toml` with `--quiet` and asserts exit 0.
fn scenario(name: &str) {
    let path = config_dir().join(format!("{name}.toml"));
    let text = std::fs::read_to_string(&path).unwrap();
    let cfg = Config::parse(&text, &path.display().to_string(), &[]).unwrap();
    let _turn = if cfg.cluster.clock == ClockMode::Real {
        (
            None,
            Some(MACHINE.write().unwrap_or_else(|e| e.into_inner())),
        )
    } else {
        (
            Some(MACHINE.read().unwrap_or_else(|e| e.into_inner())),
            None,
        )
    };
    let args = ["run", path.to_str().unwrap(), "--quiet"];
    let started = Instant::now();
    let out = output(&args);
    eprintln!("{name}: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(out.status.code(), Some(0), "{}", describe(&args, &out));
}

/// One test per scenario, and the list of them (`SCENARIOS`, checked against the directory).
macro_rules! scenarios {
    ($($test:ident => $name:literal),* $(,)?) => {
        const SCENARIOS: &[&str] = &[$($name),*];
        $(
            #[test]
            fn $test() {
                scenario($name);
            }
        )*
    };
}

scenarios! {
    bitcoin_like => "bitcoin-like",
    contracts_commit_reveal => "contracts-commit-reveal",
    contracts_counter => "contracts-counter",
    contracts_escrow => "contracts-escrow",
    contracts_exchange => "contracts-exchange",
    contracts_frontrun => "contracts-frontrun",
    contracts_token => "contracts-token",
    contracts_vault => "contracts-vault",
    crash_restart => "crash-restart",
    default => "default",
    double_spend => "double-spend",
    eclipse => "eclipse",
    flaky_miner => "flaky-miner",
    forks => "forks",
    forkspam => "forkspam",
    lossy_links => "lossy-links",
    partition => "partition",
    pos => "pos",
    pos_equivocate => "pos-equivocate",
    pos_offline => "pos-offline",
    pos_partition => "pos-partition",
    real_clock => "real-clock",
    selfish => "selfish",
    skewed_miners => "skewed-miners",
    spam => "spam",
    three_nodes => "three-nodes",
    timewarp => "timewarp",
}

/// Scenarios too large for a debug build in CI (a release build runs them in BENCHMARKS.md):
/// checked here with `chainlab check`, and their shape asserted.
const LARGE: &[&str] = &["10k-nodes"];

#[test]
fn large_scenarios_are_valid_and_as_large_as_they_say() {
    for name in LARGE {
        let path = config_dir().join(format!("{name}.toml"));
        let args = ["check", path.to_str().unwrap()];
        let out = output(&args);
        assert_eq!(out.status.code(), Some(0), "{}", describe(&args, &out));
        let text = std::fs::read_to_string(&path).unwrap();
        let cfg = Config::parse(&text, name, &[]).unwrap();
        assert_eq!(cfg.cluster.nodes, 10_000, "{name}");
        assert!((cfg.workload.tx_rate - 7.0).abs() < 1e-9, "{name}");
    }
}

#[test]
fn every_shipped_config_is_run() {
    let mut found: Vec<String> = std::fs::read_dir(config_dir())
        .unwrap()
        .filter_map(|e| {
            let p = e.unwrap().path();
            (p.extension()? == "toml").then(|| p.file_stem()?.to_str().map(String::from))?
        })
        .collect();
    found.sort();
    let mut known: Vec<String> = SCENARIOS
        .iter()
        .chain(LARGE)
        .map(|s| s.to_string())
        .collect();
    known.sort();
    assert_eq!(found, known, "add a test above for each config/*.toml");
}
