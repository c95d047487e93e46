//! `chainlab sweep` through the binary: a tiny grid of two block intervals and two seeds, its
//! files and figures, byte-identical reruns, `--emit-jobs` commands run by a shell and
//! `--collect`ed, and exit code 2 with a message naming the problem for bad input.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::{describe, output};

/// 4 nodes, 90 s of mining, 10 s settle, in memory.
const TINY: &str = r#"
[cluster]
nodes = 4
duration = "90s"
settle = "10s"
seed = 3

[network]
degree = 2

[storage]
backend = "memory"

[workload]
tx_rate = 2
"#;

/// The outputs that must not change between identical sweeps.
const OUTPUTS: &[&str] = &[
    "trials.csv",
    "summary.csv",
    "summary.json",
    "blocks_canonical_height.svg",
    "blocks_stale_rate.svg",
];

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}

/// A temporary directory holding the tiny config.
fn setup() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tiny.toml");
    std::fs::write(&config, TINY).unwrap();
    (dir, config)
}

/// The sweep's arguments: block interval 5 s and 10 s, 2 trials, 2 metrics, into `out`.
fn sweep_args<'a>(config: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "sweep",
        s(config),
        "--vary",
        "consensus.block_interval=5s,10s",
        "--trials",
        "2",
        "--jobs",
        "2",
        "--metric",
        "blocks.canonical_height",
        "--metric",
        "blocks.stale_rate",
        "--out",
        s(out),
    ];
    args.extend(extra);
    args
}

/// Runs `chainlab ARGS`; asserts exit 0.
fn ok(args: &[&str]) -> Output {
    let out = output(args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(args, &out));
    out
}

/// Runs `chainlab ARGS`; asserts exit 2, no panic and a message naming each of `needles`.
fn bad(args: &[&str], needles: &[&str]) {
    let out = output(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(args, &out));
    assert!(!stderr.contains("panicked"), "{}", describe(args, &out));
    for n in needles {
        assert!(
            stderr.contains(n),
            "stderr lacks {n:?}\n{}",
            describe(args, &out)
        );
    }
}

fn read(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn summary(out: &Path) -> Vec<Value> {
    let v: Value = serde_json::from_slice(&read(&out.join("summary.json"))).unwrap();
    v["rows"].as_array().unwrap().clone()
}

#[test]
fn a_sweep_writes_its_tables_and_plots_the_same_every_time() {
    let (dir, config) = setup();
    let a = dir.path().join("a");
    let out = ok(&sweep_args(&config, &a, &[]));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("blocks.canonical_height"), "{stdout}");

    for f in OUTPUTS.iter().chain(&["sweep.json"]) {
        assert!(a.join(f).is_file(), "{f} missing");
    }
    for p in 0..2 {
        for t in 0..2 {
            assert!(a.join(format!("trials/p00{p}-t00{t}.json")).is_file());
        }
    }
    let trials = String::from_utf8(read(&a.join("trials.csv"))).unwrap();
    let lines: Vec<&str> = trials.lines().collect();
    assert_eq!(
        lines[0],
        "point,trial,seed,consensus.block_interval,blocks.canonical_height,blocks.stale_rate"
    );
    assert_eq!(lines.len(), 5, "{trials}");
    // Grid order, seeds base (cluster.seed = 3) + trial.
    for (line, prefix) in
        lines[1..]
            .iter()
            .zip(["0,0,3,5s,", "0,1,4,5s,", "1,0,3,10s,", "1,1,4,10s,"])
    {
        assert!(line.starts_with(prefix), "{line} vs {prefix}");
    }

    let rows = summary(&a);
    assert_eq!(rows.len(), 4, "a row per point and metric");
    for r in &rows {
        assert_eq!(r["n"], 2, "{r}");
        let (lo, mean, hi) = (
            r["ci95_low"].as_f64(),
            r["mean"].as_f64(),
            r["ci95_high"].as_f64(),
        );
        assert!(lo <= mean && mean <= hi, "{r}");
        assert!(r["theory"].is_null(), "no theory for blocks: {r}");
    }
    let height = |interval: &str| {
        rows.iter()
            .find(|r| {
                r["metric"] == "blocks.canonical_height"
                    && r["values"]["consensus.block_interval"] == interval
            })
            .and_then(|r| r["mean"].as_f64())
            .unwrap()
    };
    assert!(
        height("5s") > height("10s"),
        "5s: {}, 10s: {}",
        height("5s"),
        height("10s")
    );
    let svg = String::from_utf8(read(&a.join("blocks_canonical_height.svg"))).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("consensus.block_interval"));

    // The same sweep elsewhere: the same bytes.
    let b = dir.path().join("b");
    ok(&sweep_args(&config, &b, &["--quiet"]));
    for f in OUTPUTS {
        assert!(
            read(&a.join(f)) == read(&b.join(f)),
            "{f} differs between two identical sweeps"
        );
    }

    // --collect rebuilds the outputs from the plan and the reports.
    std::fs::remove_file(a.join("summary.csv")).unwrap();
    ok(&["sweep", "--collect", s(&a), "--quiet"]);
    assert!(read(&a.join("summary.csv")) == read(&b.join("summary.csv")));

    // A metric the reports lack is named with the trial file and the nearest keys.
    bad(
        &["sweep", "--collect", s(&a), "--metric", "messages.deliverd"],
        &["p000-t000.json", "messages.deliverd", "nearest: delivered"],
    );
    // A damaged report is named.
    let damaged = a.join("trials/p001-t000.json");
    std::fs::write(&damaged, "{\"seed\": 3, \"blo").unwrap();
    bad(
        &["sweep", "--collect", s(&a)],
        &["p001-t000", "not a JSON report"],
    );
    // A report of another seed is noticed (trial 1 of point 0 ran with seed 4, trial 0 of
    // point 1 with seed 3).
    let other = read(&a.join("trials/p000-t001.json"));
    std::fs::write(&damaged, other).unwrap();
    bad(
        &["sweep", "--collect", s(&a)],
        &["p001-t000", "a report of seed 4", "seed is 3"],
    );
}

#[test]
fn emitted_commands_run_by_a_shell_then_collected_match_a_sweep() {
    let (dir, config) = setup();
    // A --set with spaces and quotes, for the shell quoting.
    let set = ["--set", "network.latency={ dist = \"constant\", ms = 40 }"];
    let emitted = dir.path().join("emitted");
    let out = ok(&sweep_args(
        &config,
        &emitted,
        &[&["--emit-jobs"][..], &set].concat(),
    ));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    let exe = env!("CARGO_BIN_EXE_chainlab");
    for l in &lines {
        assert!(
            l.starts_with(exe) || l.starts_with(&format!("'{exe}'")),
            "{l} does not start with {exe}"
        );
        assert!(l.contains("--seed") && l.contains("--report"), "{l}");
    }
    assert!(emitted.join("sweep.json").is_file());
    assert_eq!(
        std::fs::read_dir(emitted.join("trials")).unwrap().count(),
        0,
        "nothing ran"
    );

    for l in &lines {
        let out = std::process::Command::new("sh")
            .args(["-c", l])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{l}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    ok(&["sweep", "--collect", s(&emitted), "--quiet"]);

    let direct = dir.path().join("direct");
    ok(&sweep_args(
        &config,
        &direct,
        &[&["--quiet"][..], &set].concat(),
    ));
    for f in OUTPUTS {
        assert!(
            read(&emitted.join(f)) == read(&direct.join(f)),
            "{f}: emitted and collected differs from a sweep"
        );
    }
}

#[test]
fn bad_input_is_named_before_any_trial_runs() {
    let (dir, config) = setup();
    let out = dir.path().join("never");
    let base = |vary: &'static str, metric: &'static str| {
        vec![
            "sweep".to_string(),
            s(&config).to_string(),
            "--vary".into(),
            vary.into(),
            "--metric".into(),
            metric.into(),
            "--out".into(),
            s(&out).to_string(),
        ]
    };
    let cases: [(Vec<String>, &[&str]); 6] = [
        (
            base("consensus.block_interval", "blocks.stale_rate"),
            &["--vary consensus.block_interval", "KEY=V1,V2"],
        ),
        (
            base("consensus.block_intervall=5s,10s", "blocks.stale_rate"),
            &["block_intervall", "point 0"],
        ),
        (
            base("consensus.block_interval=5s,10s", "blocks.stale_rat"),
            &["--metric blocks.stale_rat", "blocks.stale_rate"],
        ),
        (
            base("adversary.0.gamma=0,0.5", "blocks.stale_rate"),
            &["adversary.0.gamma", "index 0 out of range"],
        ),
        (
            base("cluster.nodes=4,0", "blocks.stale_rate"),
            &["point 1 (cluster.nodes=0)", "cluster.nodes"],
        ),
        (
            [
                base("storage.data_dir=/tmp/x", "blocks.stale_rate"),
                vec!["--set".into(), "storage.backend=sled".into()],
            ]
            .concat(),
            &["storage.data_dir", "share one store"],
        ),
    ];
    for (args, needles) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        bad(&args, needles);
        assert!(!out.exists(), "{args:?} created the output before failing");
    }
    let mut zero = base("consensus.block_interval=5s", "blocks.stale_rate");
    zero.extend(["--trials".into(), "0".into()]);
    bad(
        &zero.iter().map(String::as_str).collect::<Vec<_>>(),
        &["--trials"],
    );
    bad(
        &["sweep", "--collect", s(dir.path())],
        &["sweep.json", "--collect"],
    );
}
