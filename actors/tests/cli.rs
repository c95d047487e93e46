//! The `chainlab` binary: reports and traces, determinism by seed, config checking, resuming
//! a data dir, and exit code 2 with a message naming the problem for bad input.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use support::cli::SMALL_CLUSTER;

/// A short run on 4 nodes in memory (`--duration 60s`, 1 minute settle).
fn small() -> Vec<&'static str> {
    let mut args = vec!["--quiet", "--duration", "60s"];
    args.extend(SMALL_CLUSTER);
    args.extend(["--set", "storage.backend=memory"]);
    args
}

fn chainlab(args: &[&str]) -> Output {
    support::cli::chainlab()
        .args(args)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the chainlab binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn describe(args: &[&str], out: &Output) -> String {
    format!(
        "chainlab {}\nexit: {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

/// `run` with the small settings plus `extra`; asserts exit 0.
fn run_small(extra: &[&str]) -> Output {
    let args: Vec<&str> = ["run"]
        .iter()
        .chain(&small())
        .chain(extra)
        .copied()
        .collect();
    let out = chainlab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&args, &out));
    out
}

/// Asserts that `args` exit with code 2 and that stderr names every one of `needles`.
fn bad_input(args: &[&str], needles: &[&str]) -> String {
    let out = chainlab(args);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{}", describe(args, &out));
    for n in needles {
        assert!(
            stderr.contains(n),
            "stderr does not name {n:?}\n{}",
            describe(args, &out)
        );
    }
    assert!(
        !stderr.contains("panicked"),
        "panic on bad input\n{}",
        describe(args, &out)
    );
    stderr
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}

fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

// ---------------------------------------------------------------------------------------
// Report and trace.

/// `value[path]`, failing with the path when it is missing.
fn field<'a>(v: &'a Value, path: &str) -> &'a Value {
    path.split('.').fold(v, |v, k| {
        v.get(k)
            .unwrap_or_else(|| panic!("report has no `{path}`: {v}"))
    })
}

fn number(v: &Value, path: &str) -> f64 {
    field(v, path)
        .as_f64()
        .unwrap_or_else(|| panic!("`{path}` is not a number: {}", field(v, path)))
}

/// A percentile: a number, or null without samples.
fn percentile(v: &Value, path: &str) {
    let p = field(v, path);
    assert!(p.is_number() || p.is_null(), "`{path}` is {p}");
}

fn is_hex_hash(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[test]
fn run_writes_a_complete_report_and_trace() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let trace = dir.path().join("trace.jsonl");
    let out = run_small(&["--seed", "5", "--report", s(&report), "--trace", s(&trace)]);
    assert!(
        out.stdout.is_empty(),
        "--quiet printed {}",
        text(&out.stdout)
    );

    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap())
        .expect("the report is JSON");
    assert_eq!(field(&r, "seed"), 5);
    assert_eq!(field(&r, "clock"), "virtual");
    assert_eq!(field(&r, "nodes"), 4);
    assert_eq!(number(&r, "duration_s"), 60.0);
    assert!(number(&r, "wall_s") > 0.0);
    for k in [
        "blocks.mined",
        "blocks.canonical_height",
        "blocks.stale",
        "blocks.stale_rate",
        "blocks.forks",
        "blocks.reorgs",
        "blocks.max_reorg_depth",
        "blocks.mean_interval_s",
        "txs.submitted",
        "txs.confirmed",
        "txs.rejected",
        "txs.tps",
        "txs.pending",
        "txs.nonce_gap",
        "txs.on_competing_tip",
        "txs.dropped.expired",
        "txs.dropped.evicted",
        "txs.dropped.replaced",
        "txs.dropped.invalidated",
        "txs.lost_on_crashed_nodes",
        "safety.self_reorgs_k.count",
        "safety.common_prefix.checked",
        "safety.common_prefix.violations",
        "invariants.checked",
    ] {
        assert!(number(&r, k) >= 0.0, "`{k}` is negative");
    }
    assert_eq!(
        number(&r, "txs.lost"),
        0.0,
        "a fault-free run loses nothing"
    );
    for k in [
        "propagation_s.full_s",
        "propagation_s.catch_up_s",
        "txs.inclusion_s",
        "txs.confirmation_s",
    ] {
        for p in ["p50", "p90", "p99"] {
            percentile(&r, &format!("{k}.{p}"));
        }
    }
    assert!(field(&r, "convergence.converged").is_boolean());
    assert!(field(&r, "convergence.distinct_tips").is_u64());
    assert!(is_hex_hash(field(&r, "convergence.tip")));
    assert_eq!(field(&r, "invariants.violations"), &Value::Array(vec![]));
    assert!(number(&r, "blocks.canonical_height") >= 1.0);
    assert!(number(&r, "txs.submitted") >= 1.0);
    assert!(number(&r, "invariants.checked") >= 1.0);

    let trace = std::fs::read_to_string(&trace).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    for (i, line) in trace.lines().enumerate() {
        let e: Value = serde_json::from_str(line)
            .unwrap_or_else(|err| panic!("trace line {}: {err}: {line}", i + 1));
        assert!(e["t"].as_f64().is_some_and(|t| t >= 0.0), "{line}");
        assert!(e["node"].as_u64().is_some_and(|n| n < 4), "{line}");
        let event = e["event"].as_str().unwrap_or_else(|| panic!("{line}"));
        match event {
            "block_mined" => {
                assert!(
                    is_hex_hash(&e["hash"]) && is_hex_hash(&e["parent"]),
                    "{line}"
                );
                assert!(e["height"].is_u64() && e["miner"].is_u64(), "{line}");
            }
            "block_imported" => {
                assert!(is_hex_hash(&e["hash"]) && e["height"].is_u64(), "{line}")
            }
            "tx_submitted" => assert!(is_hex_hash(&e["txid"]), "{line}"),
            "tip_changed" => {
                assert!(is_hex_hash(&e["hash"]) && e["height"].is_u64(), "{line}")
            }
            "tx_dropped" => {
                let reason = e["reason"].as_str().unwrap_or_default();
                assert!(is_hex_hash(&e["txid"]), "{line}");
                assert!(
                    ["expired", "evicted", "replaced", "invalidated"].contains(&reason),
                    "{line}"
                );
            }
            _ => {}
        }
        seen.insert(event.to_string());
    }
    for event in [
        "block_mined",
        "block_imported",
        "tx_submitted",
        "node_started",
        "tip_changed",
    ] {
        assert!(seen.contains(event), "no {event} in the trace: {seen:?}");
    }
    assert_eq!(
        trace.lines().count() as f64,
        number(&r, "events"),
        "the report counts a different number of events"
    );
}

#[test]
fn the_same_seed_gives_the_same_trace_and_another_seed_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let trace = |name: &str, seed: &str| {
        let path = dir.path().join(name);
        run_small(&["--seed", seed, "--trace", s(&path)]);
        std::fs::read(path).unwrap()
    };
    let a = trace("a.jsonl", "11");
    let b = trace("b.jsonl", "11");
    let c = trace("c.jsonl", "12");
    assert!(!a.is_empty());
    assert!(a == b, "two runs with --seed 11 wrote different traces");
    assert!(a != c, "--seed 12 wrote the same trace as --seed 11");
}

#[test]
fn a_kept_data_dir_resumes_at_the_last_height() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let report = dir.path().join("r1.json");
    let trace = dir.path().join("t2.jsonl");
    let sled = ["--set", "storage.backend=sled", "--data-dir", s(&data)];
    run_small(&[&sled[..], &["--report", s(&report)]].concat());
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let height = field(&r, "blocks.canonical_height").as_u64().unwrap();
    assert!(height >= 1);
    assert!(data.join("db").is_file(), "no sled database in {data:?}");
    run_small(&[&sled[..], &["--trace", s(&trace)]].concat());
    let started: Vec<u64> = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|e| e["event"] == "node_started")
        .map(|e| e["height"].as_u64().unwrap())
        .collect();
    assert_eq!(started, vec![height; 4]);
}

// ---------------------------------------------------------------------------------------
// check.

#[test]
fn check_accepts_the_default_config() {
    let path = config_dir().join("default.toml");
    let out = chainlab(&["check", s(&path)]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        describe(&["check", s(&path)], &out)
    );
    assert!(text(&out.stdout).contains("ok"), "{}", text(&out.stdout));
}

#[test]
fn check_accepts_every_shipped_config() {
    let mut checked = Vec::new();
    for entry in std::fs::read_dir(config_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = chainlab(&["check", s(&path)]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                describe(&["check", s(&path)], &out)
            );
            checked.push(path);
        }
    }
    assert!(!checked.is_empty(), "no config/*.toml");
}

#[test]
fn check_refuses_an_unknown_key_naming_it_and_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("typo.toml");
    std::fs::write(&path, "[cluster]\nnodez = 3\n").unwrap();
    bad_input(&["check", s(&path)], &["nodez", s(&path)]);
    let args: Vec<&str> = ["run", s(&path)].iter().chain(&small()).copied().collect();
    bad_input(&args, &["nodez", s(&path)]);
}

// ---------------------------------------------------------------------------------------
// Bad input: exit 2 and a message naming the problem.

fn run_args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    ["run"]
        .iter()
        .chain(&small())
        .chain(extra)
        .copied()
        .collect()
}

#[test]
fn set_without_equals_is_refused() {
    bad_input(
        &run_args(&["--set", "cluster.nodes"]),
        &["cluster.nodes", "KEY=VALUE"],
    );
}

#[test]
fn zero_nodes_is_refused() {
    bad_input(&run_args(&["--set", "cluster.nodes=0"]), &["cluster.nodes"]);
}

#[test]
fn a_missing_config_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing.toml");
    bad_input(&["check", s(&path)], &[s(&path)]);
    let args: Vec<&str> = ["run", s(&path)].iter().chain(&small()).copied().collect();
    bad_input(&args, &[s(&path)]);
}

#[test]
fn an_unknown_subcommand_or_flag_is_refused() {
    bad_input(&["frobnicate"], &["frobnicate"]);
    bad_input(&run_args(&["--frobnicate"]), &["--frobnicate"]);
}

/// README's first command: `chainlab` with no command runs the demo on the embedded default
/// config, which must converge with no invariant violated.
#[test]
fn without_a_command_chainlab_runs_the_demo_and_it_converges() {
    let out = chainlab(&[]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&[], &out));
    assert!(
        stdout.contains("16 nodes") || stdout.contains("/ 16"),
        "{stdout}"
    );
    let line = stdout
        .lines()
        .find(|l| l.contains("converged / distinct tips"))
        .unwrap_or_default();
    assert!(line.ends_with("true / 1"), "{stdout}");
    let inv = stdout
        .lines()
        .find(|l| l.contains("invariants checked / violated"))
        .unwrap_or_default();
    assert!(inv.ends_with("48 / 0"), "{stdout}");
}

#[test]
fn a_bad_duration_is_refused() {
    bad_input(
        &["run", "--quiet", "--duration", "abc"],
        &["abc", "cluster.duration"],
    );
}

#[test]
fn three_nodes_with_the_default_degree_is_refused() {
    bad_input(
        &[
            "run",
            "--quiet",
            "--nodes",
            "3",
            "--duration",
            "60s",
            "--set",
            "storage.backend=memory",
        ],
        &["network.degree"],
    );
}

#[test]
fn an_unwritable_report_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("report.json");
    bad_input(&run_args(&["--report", s(&path)]), &[s(&path)]);
    bad_input(&run_args(&["--report", s(dir.path())]), &[s(dir.path())]);
}

#[test]
fn an_unknown_latency_field_is_refused() {
    bad_input(
        &run_args(&[
            "--set",
            r#"network.latency={ dist = "constant", msec = 3 }"#,
        ]),
        &["msec", "network.latency"],
    );
}

/// A sled data dir written by a short run with the default chain.
fn kept_store(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    run_small(&["--set", "storage.backend=sled", "--data-dir", s(&data)]);
    data
}

#[test]
fn a_data_dir_from_another_chain_id_exits_2_without_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let data = kept_store(dir.path());
    bad_input(
        &run_args(&[
            "--set",
            "storage.backend=sled",
            "--data-dir",
            s(&data),
            "--set",
            "consensus.chain_id=2",
        ]),
        &["node 0", "another chain"],
    );
}

#[test]
fn a_data_dir_from_other_genesis_accounts_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let data = kept_store(dir.path());
    bad_input(
        &run_args(&[
            "--set",
            "storage.backend=sled",
            "--data-dir",
            s(&data),
            "--set",
            "workload.initial_balance=5",
        ]),
        &["node 0", "another chain"],
    );
}

/// `chainlab key` makes a data dir's `node.key` once (mode 0600) and prints the same public
/// key every time; `chainlab node` on that data dir uses it. A damaged key file, a missing
/// `--key` file and an empty allow-list are refused with exit 2, naming the problem, and the
/// damaged file is left as it was.
#[test]
fn node_keys_are_created_once_reused_and_damage_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("n0");
    let key_args = ["key", "--data-dir", s(&data)];
    let first = chainlab(&key_args);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        describe(&key_args, &first)
    );
    assert!(text(&first.stderr).contains("created"));
    let public = text(&first.stdout).trim().to_string();
    assert!(
        public.len() == 66 && public.chars().all(|c| c.is_ascii_hexdigit()),
        "{public}"
    );
    let again = chainlab(&key_args);
    assert_eq!(text(&again.stdout).trim(), public, "the same key");
    assert!(!text(&again.stderr).contains("created"));
    let file = data.join("node.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "node.key is private");
    }
    let node = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = ["node", "--id", "0", "--duration", "300ms"]
            .iter()
            .map(|x| x.to_string())
            .collect();
        a.extend(extra.iter().map(|x| x.to_string()));
        a
    };
    let open = [
        "--set",
        "tcp.peers_allowed=any",
        "--set",
        "consensus.genesis_time=\"2026-12-01T00:00:00Z\"",
    ];
    let args = node(&[&["--data-dir", s(&data)][..], &open[..]].concat());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = chainlab(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&args, &out));
    assert!(
        text(&out.stdout).contains(&format!("node 0 key {public}")),
        "{}",
        describe(&args, &out)
    );
    // Damaged: refused, named, not replaced.
    std::fs::write(&file, "not a key\n").unwrap();
    bad_input(&args, &["node.key", "is damaged"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "not a key\n");
    // A --key file that does not exist.
    let missing = dir.path().join("missing.key");
    let args = node(&[&["--key", s(&missing)][..], &open[..]].concat());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bad_input(&args, &["missing.key", "cannot read"]);
    // The default allow-list is empty: a lone `chainlab node` could never have a peer.
    let args = node(&[]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    bad_input(&args, &["tcp.peers_allowed", "lists no key"]);
}

#[test]
fn an_adversary_from_the_command_line_runs_and_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    run_small(&[
        "--adversary",
        "kind=selfish nodes=0 hashpower=0.4 gamma=0.5",
        "--report",
        s(&report),
    ]);
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    let a = &v["adversaries"][0];
    assert_eq!(a["kind"], "selfish", "{a}");
    assert_eq!(number(a, "hashpower"), 0.4);
    assert_eq!(number(a, "gamma"), 0.5);
}

#[test]
fn a_bad_command_line_adversary_is_refused_naming_it() {
    bad_input(
        &run_args(&["--adversary", "kind=selfish nodes=0 gama=0.5"]),
        &["--adversary", "gama"],
    );
    bad_input(
        &run_args(&["--adversary", "kind=selfish nodes=17"]),
        &["adversary.0.nodes", "node 17"],
    );
}

// ---------------------------------------------------------------------------------------
// bench scale.

#[test]
fn bench_scale_runs_each_size_and_writes_its_table_and_plot() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("scale");
    let config = config_dir().join("default.toml");
    let args = [
        "bench",
        "scale",
        s(&config),
        "--nodes",
        "5,7",
        "--set",
        "cluster.duration=30m",
        "--set",
        "cluster.settle=1m",
        "--set",
        "workload.tx_rate=0",
        "--reference",
        "5:10:1.5",
        "--reference-name",
        "Other",
        "--out",
        s(&out),
    ];
    let o = chainlab(&args);
    assert_eq!(o.status.code(), Some(0), "{}", describe(&args, &o));
    let table = text(&o.stdout);
    let rows: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| 5 ") || l.starts_with("| 7 "))
        .collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(rows[0].contains("10.0 s, 1.50 GiB"), "{table}");
    assert!(rows[1].contains("| - | - | - |"), "{table}");
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("scale.json")).unwrap()).unwrap();
    let measured = field(&json, "rows").as_array().unwrap();
    assert_eq!(measured.len(), 2);
    for (r, n) in measured.iter().zip([5, 7]) {
        assert_eq!(number(r, "nodes"), f64::from(n));
        assert!(
            number(r, "mined") > 0.0 && number(r, "peak_gib") > 0.0,
            "{r}"
        );
        assert_eq!(field(r, "converged"), &Value::Bool(true), "{r}");
    }
    let svg = std::fs::read_to_string(out.join("scale.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("Other"), "{svg}");
    assert_eq!(
        std::fs::read_to_string(out.join("scale.csv"))
            .unwrap()
            .lines()
            .count(),
        3
    );
    // Bad input names the problem.
    bad_input(
        &["bench", "scale", s(&config), "--reference", "5:ten:1"],
        &["--reference", "ten"],
    );
    bad_input(&["bench", "scale", "no-such.toml"], &["no-such.toml"]);
}
