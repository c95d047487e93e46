//! `[expect]` through the binary: a met expectation exits 0 and shows in the summary and the
//! report, an unmet one exits 1 with a line naming it, and a path or value that cannot be
//! checked exits 2 before the run, naming the key.

mod support;

use serde_json::Value;
use std::path::Path;
use support::cli::{describe, output, SMALL_CLUSTER};

/// `run` on 4 nodes in memory for a minute (and a minute's settle), plus `extra`.
fn small_run<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--duration", "60s"];
    args.extend(SMALL_CLUSTER);
    args.extend(["--set", "storage.backend=memory"]);
    args.extend(extra);
    args
}

/// Asserts exit code `code` and that stderr names each of `needles`; returns stderr.
fn exits(args: &[&str], code: i32, needles: &[&str]) -> String {
    let out = output(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "{}", describe(args, &out));
    for n in needles {
        assert!(
            stderr.contains(n),
            "stderr lacks {n:?}\n{}",
            describe(args, &out)
        );
    }
    assert!(!stderr.contains("panicked"), "{}", describe(args, &out));
    stderr
}

fn report(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 temporary path")
}

#[test]
fn met_expectations_exit_0_and_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("met.toml");
    std::fs::write(
        &cfg,
        "[expect]\nconverged = true\ninvariants.violations = 0\n\
         \"txs.confirmed\" = { min = 1 }\nblocks.max_reorg_depth = { max = 1000 }\n",
    )
    .unwrap();
    let rep = dir.path().join("r.json");
    let args = small_run(&[s(&cfg), "--report", s(&rep)]);
    let out = output(&args);
    assert_eq!(out.status.code(), Some(0), "{}", describe(&args, &out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("expect txs.confirmed") && stdout.contains("pass"),
        "the summary lacks the expectations:\n{stdout}"
    );
    let r = report(&rep);
    let e = r["expectations"].as_array().unwrap();
    let checks: Vec<&str> = e.iter().map(|x| x["check"].as_str().unwrap()).collect();
    assert_eq!(
        checks,
        [
            "blocks.max_reorg_depth",
            "convergence.converged",
            "invariants.violations",
            "txs.confirmed"
        ]
    );
    assert!(e.iter().all(|x| x["pass"] == true), "{e:?}");
    assert_eq!(e[1]["seen"], true);
    assert_eq!(e[2]["seen"], 0);
    assert_eq!(e[3]["expected"], serde_json::json!({ "min": 1 }));
    assert_eq!(e[3]["seen"], r["txs"]["confirmed"]);
}

#[test]
fn an_unmet_expectation_exits_1_with_a_line_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let rep = dir.path().join("r.json");
    let args = small_run(&[
        "--quiet",
        "--report",
        s(&rep),
        "--set",
        "expect.txs.tps={ min = 1000 }",
        "--set",
        "expect.converged=true",
    ]);
    let stderr = exits(
        &args,
        1,
        &["expectation unmet: txs.tps is ", "expected >= 1000"],
    );
    assert_eq!(
        stderr.lines().count(),
        1,
        "one line per unmet expectation:\n{stderr}"
    );
    let r = report(&rep);
    let e = r["expectations"].as_array().unwrap();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (&e[0]["check"], &e[0]["pass"]),
        (&"convergence.converged".into(), &true.into())
    );
    assert_eq!(
        (&e[1]["check"], &e[1]["pass"]),
        (&"txs.tps".into(), &false.into())
    );
    assert!(r["invariants"]["violations"].as_array().unwrap().is_empty());
}

#[test]
fn without_expect_the_report_has_an_empty_list_and_the_exit_code_is_the_invariants() {
    let dir = tempfile::tempdir().unwrap();
    let rep = dir.path().join("r.json");
    let args = small_run(&["--quiet", "--report", s(&rep)]);
    exits(&args, 0, &[]);
    assert_eq!(report(&rep)["expectations"], serde_json::json!([]));
}

#[test]
fn an_unknown_path_exits_2_naming_it_and_a_close_one() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("typo.toml");
    std::fs::write(&cfg, "[expect]\ntxs.tpz = { min = 1 }\n").unwrap();
    // `check` refuses it too: the path is resolved when the config is read, not after a run.
    exits(
        &["check", s(&cfg)],
        2,
        &[s(&cfg), "expect.txs.tpz", "txs.tps"],
    );
    exits(
        &small_run(&[s(&cfg)]),
        2,
        &["expect.txs.tpz", "did you mean"],
    );
}

#[test]
fn an_ambiguous_end_exits_2_listing_the_candidates() {
    exits(
        &small_run(&["--set", "expect.max_reorg_depth={ max = 3 }"]),
        2,
        &[
            "expect.max_reorg_depth",
            "blocks.max_reorg_depth",
            "safety.max_reorg_depth",
        ],
    );
}

#[test]
fn values_that_cannot_be_checked_exit_2() {
    let cases: [(&str, &[&str]); 5] = [
        ("expect.tps={ min = \"x\" }", &["expect.tps", "numbers"]),
        (
            "expect.tps={ min = 9, max = 1 }",
            &["expect.tps", "above max"],
        ),
        ("expect.converged=3", &["expect.converged", "bool"]),
        ("expect.blocks=3", &["expect.blocks", "table", "mined"]),
        (
            "expect.faults.0.effect.stale=0",
            &["expect.faults.0.effect.stale", "0 faults"],
        ),
    ];
    for (set, needles) in cases {
        exits(&small_run(&["--set", set]), 2, needles);
    }
}
