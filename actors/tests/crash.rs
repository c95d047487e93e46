//! Crash safety of the sled store under real process kills (SIGKILL), in the spirit of sled's
//! own crash test: a `chainlab run` process with a kept data directory reports each block once
//! it is durable (`--durable-log -`); the test kills it after a random number of such reports,
//! reopens the store, and checks that it opens, that every reported block is present, and that
//! every node's chain is valid and contiguous from genesis. The next round resumes from the
//! same store.

mod support;

use chainlab::chain::store::BlockStore;
use chainlab_actors::inspect::inspect;
use chainlab_actors::store_sled::{open_existing, stored_nodes, SledStore};
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use support::cli::{chainlab, SMALL_CLUSTER};

const KILLS: usize = 24;

/// Blocks a process reported durable: (node, hash hex).
type Reported = BTreeSet<(usize, String)>;

fn run_and_kill(data: &std::path::Path, lines_before_kill: usize) -> Reported {
    let mut child = chainlab()
        .args([
            "run",
            "--quiet",
            "--duration",
            "100000s",
            "--data-dir",
            data.to_str().unwrap(),
            "--durable-log",
            "-",
        ])
        .args(SMALL_CLUSTER)
        .args([
            "--set",
            "workload.accounts=20",
            "--set",
            "storage.flush_each_block=true",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chainlab starts");
    let stdout = child.stdout.take().unwrap();
    let mut reported = Reported::new();
    // Wait on the process's own reports (no sleeping): kill after the chosen number of lines.
    for line in BufReader::new(stdout).lines().take(lines_before_kill) {
        let line = line.expect("utf-8 line");
        let parts: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(parts.len(), 4, "durable line {line:?}");
        reported.insert((parts[1].parse().unwrap(), parts[3].to_string()));
    }
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    reported
}

fn stored_hashes(data: &std::path::Path) -> BTreeMap<usize, BTreeSet<String>> {
    let db = open_existing(data, 16).expect("the store opens after a kill");
    let mut out = BTreeMap::new();
    for node in stored_nodes(&db) {
        let store = SledStore::open(&db, data, node).unwrap();
        let blocks = store.load_blocks().expect("stored blocks decode");
        out.insert(node, blocks.iter().map(|b| b.hash().to_hex()).collect());
    }
    out
}

#[test]
fn sigkill_at_random_moments_loses_no_durable_block() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2026);
    let mut all_reported = Reported::new();
    let mut kills = 0;
    for round in 0..KILLS {
        let lines = rng.gen_range(1..=40);
        let reported = run_and_kill(&data, lines);
        kills += 1;
        all_reported.extend(reported);
        let stored = stored_hashes(&data);
        for (node, hash) in &all_reported {
            assert!(
                stored.get(node).is_some_and(|s| s.contains(hash)),
                "round {round}: node {node} reported block {hash} durable, but it is not in the store"
            );
        }
        let checks = inspect(&data).expect("still a chainlab store");
        for c in &checks {
            assert!(
                c.problem.is_none(),
                "round {round}: node {}: {:?}",
                c.node,
                c.problem
            );
        }
    }
    let heights: Vec<u64> = inspect(&data).unwrap().iter().map(|c| c.height).collect();
    eprintln!(
        "{kills} SIGKILLs, {} durable blocks checked present after every kill, final heights {heights:?}",
        all_reported.len()
    );
    assert_eq!(kills, KILLS);
    assert!(
        all_reported.len() > KILLS,
        "too few blocks reported to mean anything"
    );
    assert!(heights.iter().all(|h| *h > 0));
}
