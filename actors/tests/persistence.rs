//! The sled store across runs, on the virtual clock: a kept data directory resumes where the
//! last run stopped; a damaged database, a stored block that decodes but is invalid, and a
//! store from another chain are refused with an error naming the problem, never a panic.

mod support;

use chainlab::block::{Block, Seal};
use chainlab::chain::store::BlockStore;
use chainlab::chain::validation::check_block;
use chainlab::config::Config;
use chainlab::consensus::pow::meets_difficulty;
use chainlab::encoding::encode;
use chainlab::report::{Event, TraceRecord};
use chainlab::{ChainState, Hash};
use chainlab_actors::cluster::{run, RunOptions, RunOutput};
use chainlab_actors::inspect::inspect;
use chainlab_actors::store_sled::{open_db, SledStore};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::thread::ThreadId;
use support::config::Toml;
use support::run::{assert_no_violations, rejections, starts};

const NODES: usize = 4;

/// A small sled-backed cluster keeping its data in `dir`; `extra` are `--set` overrides.
fn sled_cfg(dir: &Path, extra: &[&str]) -> Config {
    let data_dir = format!(
        "storage.data_dir={}",
        toml::Value::String(dir.display().to_string())
    );
    let overrides: Vec<&str> = [data_dir.as_str()]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    Toml::virtual_clock()
        .with(&[
            "cluster.nodes=4",
            "cluster.duration=60s",
            "cluster.settle=20s",
            "network.degree=2",
            "consensus.block_interval=5s",
            "consensus.retarget_interval=10",
            "workload.tx_rate=2.0",
            "workload.accounts=20",
            "storage.backend=sled",
            "storage.cache_mb=4",
        ])
        .config("persistence.toml", &overrides, "")
}

// ---------------------------------------------------------------------------------------
// Panics that something (tokio, when it drops tasks) catches do not fail a test by
// themselves: a panic hook records them per thread so a test can see them.

type PanicLog = Mutex<Vec<(ThreadId, String)>>;
static PANICS: PanicLog = Mutex::new(Vec::new());

fn panic_log() -> std::sync::MutexGuard<'static, Vec<(ThreadId, String)>> {
    PANICS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` and returns what it returned and the panics raised on this thread meanwhile
/// (caught or not: an uncaught one still fails the test).
fn watching_panics<T>(f: impl FnOnce() -> T) -> (T, Vec<String>) {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            panic_log().push((std::thread::current().id(), format!("{payload}{at}")));
            previous(info);
        }));
    });
    let me = std::thread::current().id();
    let start = panic_log().len();
    let out = f();
    let panics = panic_log()[start..]
        .iter()
        .filter(|(t, _)| *t == me)
        .map(|(_, m)| m.clone())
        .collect();
    (out, panics)
}

fn run_ok(cfg: Config) -> RunOutput {
    let (out, panics) = watching_panics(|| run(cfg, RunOptions::default()));
    let out = out.expect("run succeeds");
    assert!(panics.is_empty(), "panics during the run: {panics:?}");
    assert_no_violations(&out);
    out
}

/// Runs a cluster that must refuse its store: the error message and the panics caught
/// meanwhile (see `a_node_failing_to_load_its_store_causes_no_panic`).
fn run_err(cfg: Config) -> (String, Vec<String>) {
    let (out, panics) = watching_panics(|| run(cfg, RunOptions::default()));
    match out {
        Ok(out) => panic!(
            "the run succeeded (nodes started at {:?}, final height {}, {} violations) \
             instead of refusing the store",
            started_heights(&out),
            out.report.blocks.canonical_height,
            out.report.invariants.violations.len()
        ),
        Err(e) => (e.to_string(), panics),
    }
}

fn started_heights(out: &RunOutput) -> Vec<(usize, u64)> {
    starts(out)
        .into_iter()
        .map(|(_, node, h)| (node, h))
        .collect()
}

fn rejection_lines(out: &RunOutput) -> Vec<String> {
    rejections(out)
        .into_iter()
        .map(|(t, node, _, reason)| format!("t={t}ms node {node}: {reason}"))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Resuming.

#[test]
fn a_kept_data_dir_resumes_where_the_last_run_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_ok(sled_cfg(dir.path(), &[]));
    let h1 = first.report.blocks.canonical_height;
    assert!(first.report.convergence.converged);
    assert!(h1 >= 5, "the first run reached only height {h1}");
    assert_eq!(first.data_dir.as_deref(), Some(dir.path()));
    assert_eq!(
        started_heights(&first),
        (0..NODES).map(|n| (n, 0)).collect::<Vec<_>>()
    );

    let second = run_ok(sled_cfg(dir.path(), &[]));
    assert_eq!(
        started_heights(&second),
        (0..NODES).map(|n| (n, h1)).collect::<Vec<_>>(),
        "every node should start at the first run's height {h1}"
    );
    let h2 = second.report.blocks.canonical_height;
    assert!(h2 > h1, "the second run ended at {h2}, not past {h1}");
    assert!(second.report.convergence.converged);
    assert_eq!(
        second.final_chain[h1 as usize].hash.to_hex(),
        first.report.convergence.tip,
        "the second run's chain does not extend the first run's tip"
    );
}

/// The cluster clock starts at 0 in every run while stored blocks carry the previous run's
/// timestamps: after a long first run, every block mined in the first minutes of the next
/// run is "too far in the future" for its own miner and its peers.
#[test]
fn a_resumed_run_mines_from_its_first_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let first = run_ok(sled_cfg(dir.path(), &["cluster.duration=\"200s\""]));
    let h1 = first.report.blocks.canonical_height;
    let second = run_ok(sled_cfg(dir.path(), &[]));
    let rejected = rejection_lines(&second);
    assert!(
        rejected.is_empty(),
        "{} blocks rejected after resuming at height {h1}, the first: {:?}",
        rejected.len(),
        rejected.first()
    );
    let h2 = second.report.blocks.canonical_height;
    assert!(
        h2 >= h1 + 5,
        "a 60 s run with 5 s blocks added only {} blocks to height {h1}",
        h2 - h1
    );
}

// ---------------------------------------------------------------------------------------
// Damaged sled files.

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn snapshots(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("snap."))
        })
        .collect();
    out.sort();
    out
}

/// A store written by one run, made once and copied by the tests that change it. With
/// `snapshot`, it is opened once more, so sled wrote a `snap.*` file next to `conf` and `db`.
fn pristine(snapshot: bool) -> &'static Path {
    static STORES: [OnceLock<tempfile::TempDir>; 2] = [OnceLock::new(), OnceLock::new()];
    STORES[usize::from(snapshot)]
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let out = run_ok(sled_cfg(dir.path(), &[]));
            assert!(out.report.convergence.converged);
            assert!(out.report.blocks.canonical_height >= 5);
            assert!(dir.path().join("db").is_file() && dir.path().join("conf").is_file());
            if snapshot {
                drop(open_db(dir.path(), 4).unwrap());
                assert!(!snapshots(dir.path()).is_empty(), "sled wrote no snapshot");
            } else {
                assert!(snapshots(dir.path()).is_empty());
            }
            dir
        })
        .path()
}

/// A fresh copy of the pristine store (with a snapshot): the temporary directory (keep it
/// alive) and the data dir inside it.
fn store_copy() -> (tempfile::TempDir, PathBuf) {
    copy_of(pristine(true))
}

fn copy_of(store: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    copy_dir(store, &data);
    (tmp, data)
}

fn rewrite(path: &Path, f: impl FnOnce(&mut Vec<u8>)) {
    let mut bytes = std::fs::read(path).unwrap();
    f(&mut bytes);
    std::fs::write(path, bytes).unwrap();
}

/// Runs a cluster on a damaged store. It must not panic, and must either fail with an error
/// naming the data dir or, when sled recovers, run with every invariant holding.
fn run_on_damaged(data: &Path, damage: &str) {
    let (out, panics) = watching_panics(|| run(sled_cfg(data, &[]), RunOptions::default()));
    assert!(panics.is_empty(), "{damage}: panicked: {panics:?}");
    match out {
        Err(e) => {
            let msg = e.to_string();
            eprintln!("{damage}: refused: {msg}");
            assert!(
                msg.contains(&data.display().to_string()),
                "{damage}: the error does not name the data dir {}: {msg}",
                data.display()
            );
        }
        Ok(out) => {
            eprintln!(
                "{damage}: recovered: nodes started at {:?}, final height {}",
                started_heights(&out),
                out.report.blocks.canonical_height
            );
            assert!(
                out.report.invariants.violations.is_empty(),
                "{damage}: sled recovered but invariants fail: {:?}",
                out.report.invariants.violations
            );
            assert!(out.report.convergence.converged, "{damage}: not converged");
        }
    }
}

#[test]
fn a_truncated_db_file_is_refused_or_recovered() {
    for keep in [0usize, 1, 7, 100, 4096] {
        let (_tmp, data) = store_copy();
        rewrite(&data.join("db"), |b| b.truncate(keep));
        run_on_damaged(&data, &format!("db truncated to {keep} bytes"));
    }
    let (_tmp, data) = store_copy();
    rewrite(&data.join("db"), |b| b.truncate(b.len() / 2));
    run_on_damaged(&data, "db truncated to half");
}

#[test]
fn a_db_file_overwritten_with_garbage_is_refused_or_recovered() {
    let (_tmp, data) = store_copy();
    rewrite(&data.join("db"), |b| {
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    });
    run_on_damaged(&data, "db overwritten with garbage of the same length");

    let (_tmp, data) = store_copy();
    rewrite(&data.join("db"), |b| b[..64].fill(0));
    run_on_damaged(&data, "db's first 64 bytes zeroed");

    let (_tmp, data) = store_copy();
    rewrite(&data.join("db"), |b| {
        let n = b.len();
        for i in (n / 8..n).step_by(509) {
            b[i] ^= 0x5a;
        }
    });
    run_on_damaged(&data, "db with a byte flipped every 509 bytes");
}

#[test]
fn a_deleted_db_file_is_refused_or_recovered() {
    let (_tmp, data) = store_copy();
    std::fs::remove_file(data.join("db")).unwrap();
    run_on_damaged(&data, "db deleted");
}

#[test]
fn a_damaged_snapshot_is_refused_or_recovered() {
    let (_tmp, data) = store_copy();
    for s in snapshots(&data) {
        rewrite(&s, |b| b.iter_mut().for_each(|x| *x ^= 0xff));
    }
    run_on_damaged(&data, "snap.* inverted");

    let (_tmp, data) = store_copy();
    for s in snapshots(&data) {
        rewrite(&s, |b| b.truncate(b.len() / 2));
    }
    run_on_damaged(&data, "snap.* truncated to half");

    let (_tmp, data) = store_copy();
    for s in snapshots(&data) {
        std::fs::remove_file(s).unwrap();
    }
    run_on_damaged(&data, "snap.* deleted");
}

#[test]
fn a_damaged_db_without_a_snapshot_is_refused_or_recovered() {
    // A store opened once has no snapshot: sled replays its log up to the first bad record.
    let (_tmp, data) = copy_of(pristine(false));
    rewrite(&data.join("db"), |b| b.truncate(b.len() / 2));
    run_on_damaged(&data, "no snapshot, db truncated to half");

    let (_tmp, data) = copy_of(pristine(false));
    rewrite(&data.join("db"), |b| {
        let n = b.len();
        for i in (n / 8..n).step_by(509) {
            b[i] ^= 0x5a;
        }
    });
    run_on_damaged(&data, "no snapshot, db with a byte flipped every 509 bytes");

    let (_tmp, data) = copy_of(pristine(false));
    rewrite(&data.join("db"), |b| {
        for (i, x) in b.iter_mut().enumerate() {
            *x = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
    });
    run_on_damaged(&data, "no snapshot, db overwritten with garbage");

    let (_tmp, data) = copy_of(pristine(false));
    rewrite(&data.join("db"), Vec::clear);
    run_on_damaged(&data, "no snapshot, db emptied");
}

#[test]
fn a_damaged_conf_file_is_refused_or_recovered() {
    let (_tmp, data) = store_copy();
    std::fs::write(data.join("conf"), b"\xff\xfe garbage \x00\x01").unwrap();
    run_on_damaged(&data, "conf overwritten with garbage");

    let (_tmp, data) = store_copy();
    rewrite(&data.join("conf"), Vec::clear);
    run_on_damaged(&data, "conf emptied");

    let (_tmp, data) = store_copy();
    std::fs::remove_file(data.join("conf")).unwrap();
    run_on_damaged(&data, "conf deleted");
}

#[test]
fn a_data_dir_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("not-a-dir");
    std::fs::write(&file, b"hello").unwrap();
    let (msg, panics) = run_err(sled_cfg(&file, &[]));
    assert!(panics.is_empty(), "{panics:?}");
    assert!(msg.contains(&file.display().to_string()), "{msg}");
}

// ---------------------------------------------------------------------------------------
// Stored blocks that decode but are invalid, written with sled directly.

/// A block on node `node`'s stored tip, with the difficulty the chain requires (unsealed).
/// The chain is rebuilt from the store with the core API, as a node does at start.
fn next_block(data: &Path, node: usize) -> Block {
    let params = Arc::new(sled_cfg(data, &[]).chain_params());
    let db = open_db(data, 4).unwrap();
    let store = SledStore::open(&db, data, node).unwrap();
    let mut chain = ChainState::new(params.clone());
    for block in store.load_blocks().unwrap() {
        let checked = check_block(Arc::new(block), &params, None).unwrap();
        chain.import(checked, u64::MAX / 4, 0).unwrap();
    }
    assert!(
        chain.height() >= 5,
        "node {node} has only {}",
        chain.height()
    );
    let ts = chain.get(&chain.tip()).unwrap().header.timestamp_ms + 1000;
    chain
        .build_block(&[], Vec::new(), Config::node_key(node).address(), ts)
        .expect("the reward fits")
}

/// Puts `bytes` under `key` in node `node`'s block tree and indexes it at `height`.
fn put_raw(data: &Path, node: usize, height: u64, key: &Hash, bytes: &[u8]) {
    let db = sled::Config::new().path(data).open().unwrap();
    db.open_tree(format!("node{node}.blocks"))
        .unwrap()
        .insert(key.0, bytes)
        .unwrap();
    let mut index_key = height.to_be_bytes().to_vec();
    index_key.extend_from_slice(&key.0);
    db.open_tree(format!("node{node}.index"))
        .unwrap()
        .insert(index_key, &[])
        .unwrap();
    db.flush().unwrap();
}

fn put_block(data: &Path, node: usize, block: &Block) -> Hash {
    let hash = block.hash();
    put_raw(data, node, block.header.height, &hash, &encode(block));
    hash
}

/// Sets the first nonce from 0 for which the block meets (`meet`) or misses its difficulty.
fn seal(block: &mut Block, meet: bool) {
    let Seal::Pow { difficulty, .. } = block.header.seal else {
        panic!("a proof-of-work seal")
    };
    for nonce in 0.. {
        block.header.seal = Seal::Pow { difficulty, nonce };
        if meets_difficulty(&block.hash(), difficulty) == meet {
            return;
        }
    }
}

fn assert_names(msg: &str, node: usize, key: &Hash, problem: &str) {
    assert!(msg.contains(&format!("node {node}")), "no node: {msg}");
    assert!(msg.contains(&key.to_hex()), "no block: {msg}");
    assert!(msg.contains(problem), "no {problem:?}: {msg}");
}

#[test]
fn a_stored_block_with_bad_proof_of_work_is_refused() {
    let (_tmp, data) = store_copy();
    let mut block = next_block(&data, 2);
    seal(&mut block, false);
    let hash = put_block(&data, 2, &block);
    let (msg, _) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 2, &hash, "proof of work");
}

#[test]
fn a_stored_block_with_a_wrong_state_root_is_refused() {
    let (_tmp, data) = store_copy();
    let mut block = next_block(&data, 1);
    block.header.state_root = Hash::sha256(b"not the state");
    seal(&mut block, true);
    let hash = put_block(&data, 1, &block);
    let (msg, _) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 1, &hash, "state root");
}

#[test]
fn a_stored_block_with_a_wrong_difficulty_is_refused() {
    let (_tmp, data) = store_copy();
    let mut block = next_block(&data, 3);
    block.header.seal = Seal::Pow {
        difficulty: 1,
        nonce: 0,
    };
    let hash = put_block(&data, 3, &block);
    let (msg, _) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 3, &hash, "difficulty");
}

#[test]
fn stored_bytes_that_do_not_decode_are_refused() {
    let (_tmp, data) = store_copy();
    let key = Hash::sha256(b"garbage");
    put_raw(&data, 3, 1, &key, b"\x01\x02 not a block");
    let (msg, _) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 3, &key, "decode");
    assert!(msg.contains(&data.display().to_string()), "{msg}");
}

#[test]
fn a_stored_block_under_another_hash_is_refused() {
    let (_tmp, data) = store_copy();
    let mut block = next_block(&data, 0);
    seal(&mut block, true);
    let key = Hash::sha256(b"some other key");
    put_raw(&data, 0, block.header.height, &key, &encode(&block));
    let (msg, _) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 0, &key, "do not hash to their key");
}

/// When a node fails to load its store, the workload actor and the nodes before it were
/// already spawned but never polled; the runtime is dropped, actix runs their `started`
/// while dropping them, and `ctx.run_later` there panics outside the runtime ("there is no
/// reactor running"). Tokio catches those panics, so the error still comes back, but every
/// such run prints them (the CLI prints one backtrace per actor before its error line).
#[test]
fn a_node_failing_to_load_its_store_causes_no_panic() {
    let (_tmp, data) = store_copy();
    let mut block = next_block(&data, 2);
    seal(&mut block, false);
    let hash = put_block(&data, 2, &block);
    let (msg, panics) = run_err(sled_cfg(&data, &[]));
    assert_names(&msg, 2, &hash, "proof of work");
    assert!(panics.is_empty(), "{} panics: {panics:?}", panics.len());
}

// ---------------------------------------------------------------------------------------
// A store from another chain.

#[test]
fn a_store_from_another_chain_id_is_refused() {
    // Its first stored block carries transactions signed for chain 1.
    let (_tmp, data) = store_copy();
    let (msg, _) = run_err(sled_cfg(&data, &["consensus.chain_id=2"]));
    assert!(msg.contains("node 0"), "{msg}");
    assert!(
        msg.contains("another chain") || msg.contains("chain id"),
        "{msg}"
    );
}

/// Genesis is never stored and `load_chain` keeps blocks whose parent is unknown as
/// orphans, so a store from another genesis loads as an empty chain.
#[test]
fn a_store_of_empty_blocks_from_another_chain_id_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    run_ok(sled_cfg(dir.path(), &["workload.tx_rate=0"]));
    let (msg, _) = run_err(sled_cfg(
        dir.path(),
        &["workload.tx_rate=0", "consensus.chain_id=2"],
    ));
    assert!(
        msg.contains("node 0") && msg.contains("another chain"),
        "{msg}"
    );
}

#[test]
fn a_store_from_other_genesis_accounts_is_refused() {
    let (_tmp, data) = store_copy();
    let (msg, _) = run_err(sled_cfg(&data, &["workload.initial_balance=999"]));
    assert!(
        msg.contains("node 0") && msg.contains("another chain"),
        "{msg}"
    );
}

// ---------------------------------------------------------------------------------------
// A store that refuses writes (the `disk_full` fault).

/// Node 1's disk is full from 20 s to 45 s: its next store write fails, it stops at once
/// (`node_failed`, nothing of it after), restarts from its store when the disk has room again
/// at the last block it stored, catches up, and the data directory stays a valid store.
#[test]
fn a_node_whose_store_write_fails_stops_and_restarts_from_its_last_stored_block() {
    let dir = tempfile::tempdir().unwrap();
    let node = 1;
    let mut cfg = sled_cfg(dir.path(), &[]);
    cfg.faults.push(
        chainlab::sim::fault::parse_fault_arg("at=20s for=25s kind=disk_full node=1").unwrap(),
    );
    let out = run_ok(cfg);
    let (full, freed) = (20_000, 45_000);
    let failures: Vec<(u64, String)> = out
        .events
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match &r.event {
            Event::NodeFailed { error } => Some((r.t_ms, error.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let (failed_at, error) = &failures[0];
    assert!(
        (full..freed).contains(failed_at),
        "failed at {failed_at} ms"
    );
    assert!(error.contains("no space left"), "{error}");
    assert_eq!(out.report.failed_nodes.len(), 1);
    assert_eq!(out.report.failed_nodes[0].node, node);
    // Nothing of the node between its failure and its restart (trace order).
    let events: Vec<TraceRecord> = out.events.iter().collect();
    let pos = |pred: &dyn Fn(&TraceRecord) -> bool| events.iter().position(pred).unwrap();
    let fail_pos = pos(&|r| r.node == node && matches!(r.event, Event::NodeFailed { .. }));
    let restart_pos = pos(&|r| r.node == node && r.t_ms > 0 && starts_event(r));
    let between: Vec<&TraceRecord> = events[fail_pos + 1..restart_pos]
        .iter()
        .filter(|r| r.node == node && !matches!(r.event, Event::Fault(_)))
        .collect();
    assert!(between.is_empty(), "events of the failed node: {between:?}");
    assert_eq!(events[restart_pos].t_ms, freed);
    // It restarts at the last block it stored: the height of its last import before failing.
    let last_stored = events[..fail_pos]
        .iter()
        .filter(|r| r.node == node)
        .filter_map(|r| match r.event {
            Event::BlockImported { height, .. } => Some(height),
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let Event::NodeStarted { height } = events[restart_pos].event else {
        unreachable!()
    };
    assert!(last_stored >= 2, "stored only up to {last_stored}");
    assert_eq!(height, last_stored);
    // It catches up, and the store passes every check a start makes (and more).
    let catch_up = out.report.faults[0].effect.catch_up_s.flatten();
    assert!(catch_up.is_some_and(|c| c < 20.0), "catch-up {catch_up:?}");
    assert!(out.report.convergence.converged);
    let checks = inspect(dir.path()).expect("a chainlab store");
    for c in &checks {
        assert!(c.problem.is_none(), "node {}: {:?}", c.node, c.problem);
    }
    let heights: Vec<u64> = checks.iter().map(|c| c.height).collect();
    assert_eq!(heights, vec![out.report.blocks.canonical_height; NODES]);
    eprintln!(
        "node {node} failed at {failed_at} ms, restarted at height {height} at {freed} ms, \
         caught up in {catch_up:?} s; stored heights {heights:?}"
    );
}

fn starts_event(r: &TraceRecord) -> bool {
    matches!(r.event, Event::NodeStarted { .. })
}
