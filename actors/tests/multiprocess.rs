//! Three `chainlab node` processes on loopback form one network over TCP, on proof of work and
//! on proof of stake (the same steps, `POS_CONFIG`): they converge on one chain; a node killed with SIGKILL and started again on the same data directory resumes from
//! its store and catches up; SIGTERM stops every node cleanly (exit 0, report written, store
//! consistent for `chainlab inspect`).
//!
//! The network is permissioned: before the first start, `chainlab key --data-dir` makes each
//! node's key, and the config lists the three public keys with their ids
//! (`tcp.peers_allowed`). So the restarted node can rejoin only if it reused its key
//! (`node.key` in its data dir); each run's `node N key HEX` line and each report's peer keys
//! and ids are checked against the list.
//!
//! The test never sleeps to wait: a reader thread per process stream feeds its lines into one
//! channel, and each step waits on those lines (`node N listening on ADDR`, `durable NODE
//! HEIGHT HASH`, `node N stopped by ...`, end of output) with a deadline. On failure it prints
//! every line of every process. A guard kills the processes on panic. The nodes run on the wall
//! clock with 400 ms blocks (and their share of a small transaction load), so the steps take
//! seconds; the deadlines are generous.
//!
//! Unix only: SIGTERM is sent with kill(1).
#![cfg(unix)]

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Nodes in the network (one process each).
const NODES: usize = 3;
/// Node stopped with SIGKILL and started again.
const VICTIM: usize = 2;
/// Height at which the three processes must first agree on a block.
const FIRST_TARGET: u64 = 5;
/// Blocks the other two must add past the victim's height before it is restarted.
const ADVANCE: u64 = 5;
/// Bound of every wait (the whole test normally takes about 6 s).
const WAIT: Duration = Duration::from_secs(60);

const CONFIG: &str = r#"
[cluster]
nodes = 3
seed = 7

[network]
topology = "full-mesh"

[consensus]
block_interval = "400ms"
genesis_time = "2026-12-01T00:00:00Z"

[workload]
tx_rate = 20.0
accounts = 120

[storage]
backend = "sled"
cache_mb = 8
"#;

/// `CONFIG` on proof of stake: 200 ms slots, f = 0.5 (a block every ~400 ms), 10-slot epochs.
/// Each process proposes and votes as validator `--id` (its key is `Config::node_key(id)`,
/// which every process knows; its TCP identity is its own `node.key`).
const POS_CONFIG: &str = r#"
[cluster]
nodes = 3
seed = 7

[network]
topology = "full-mesh"

[consensus]
kind = "pos"
genesis_time = "2026-12-01T00:00:00Z"

[pos]
slot = "200ms"
epoch_slots = 10
active_slot_coeff = 0.5
vote_offset = 2

[workload]
tx_rate = 20.0
accounts = 120

[storage]
backend = "sled"
cache_mb = 8
"#;

/// What a process printed, as the reader threads saw it.
enum Event {
    /// One stdout line of `(node, run)` (run 0 is the first start, 1 the restart).
    Out(usize, usize, String),
    /// One stderr line.
    Err(usize, usize, String),
    /// Stdout closed: the process exited.
    Eof(usize, usize),
}

/// What the test knows about one node across its runs.
#[derive(Default)]
struct NodeLog {
    /// Address of the current run.
    listen: Option<String>,
    /// Blocks flushed, by height, in any run.
    durable: BTreeMap<u64, BTreeSet<String>>,
    /// Hashes flushed, per run.
    durable_by_run: Vec<BTreeSet<String>>,
    /// The `stopped by` line of the current run.
    stopped: Option<String>,
    /// Stdout of the current run closed.
    eof: bool,
    /// The public key each run printed.
    keys: Vec<String>,
}

impl NodeLog {
    fn top(&self) -> u64 {
        self.durable.keys().next_back().copied().unwrap_or(0)
    }

    fn has(&self, height: u64, hash: &str) -> bool {
        self.durable.get(&height).is_some_and(|s| s.contains(hash))
    }
}

/// The processes, their output, and a guard: dropping it kills what still runs.
struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    config: PathBuf,
    children: Vec<Option<Child>>,
    runs: Vec<usize>,
    tx: Sender<Event>,
    rx: Receiver<Event>,
    /// Every line of every process, in arrival order, for failure messages.
    transcript: Vec<String>,
    nodes: Vec<NodeLog>,
    /// Each node's public key, from `chainlab key` (listed in the config).
    keys: Vec<String>,
    /// Nodes sent SIGTERM: their exit is expected.
    stopping: BTreeSet<usize>,
    started: Instant,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    fn new(config_text: &str) -> Cluster {
        let dir = tempfile::tempdir().expect("temporary directory");
        let bin = PathBuf::from(env!("CARGO_BIN_EXE_chainlab"));
        // Each node's key, made in its data dir before its first start.
        let keys: Vec<String> = (0..NODES)
            .map(|n| {
                let out = Command::new(&bin)
                    .arg("key")
                    .arg("--data-dir")
                    .arg(dir.path().join(format!("node{n}")))
                    .output()
                    .expect("chainlab key runs");
                assert!(out.status.success(), "chainlab key: {out:?}");
                String::from_utf8(out.stdout).unwrap().trim().to_string()
            })
            .collect();
        let listed: Vec<String> = keys
            .iter()
            .enumerate()
            .map(|(n, k)| format!("{{ key = \"{k}\", id = {n} }}"))
            .collect();
        let config = dir.path().join("three.toml");
        let text = format!(
            "{config_text}\n[tcp]\npeers_allowed = [{}]\n",
            listed.join(", ")
        );
        std::fs::write(&config, text).expect("config written");
        let (tx, rx) = channel();
        Cluster {
            bin,
            keys,
            dir,
            config,
            children: (0..NODES).map(|_| None).collect(),
            runs: vec![0; NODES],
            tx,
            rx,
            transcript: Vec::new(),
            nodes: (0..NODES).map(|_| NodeLog::default()).collect(),
            stopping: BTreeSet::new(),
            started: Instant::now(),
        }
    }

    fn data_dir(&self, node: usize) -> PathBuf {
        self.dir.path().join(format!("node{node}"))
    }

    fn report_path(&self, node: usize) -> PathBuf {
        self.dir.path().join(format!("report{node}.json"))
    }

    /// Panics with `msg` and everything the processes printed.
    fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- output of all processes ({:.1} s in) ---\n{}\n--- end of output ---",
            self.started.elapsed().as_secs_f64(),
            self.transcript.join("\n")
        );
    }

    fn note(&mut self, line: String) {
        self.transcript.push(line);
    }

    /// Starts `node` (again, on the same data dir) dialling `peers`; returns its address.
    fn start(&mut self, node: usize, peers: &[String]) -> String {
        assert!(self.children[node].is_none(), "node {node} is running");
        let run = self.nodes[node].durable_by_run.len();
        self.runs[node] = run;
        let log = &mut self.nodes[node];
        log.listen = None;
        log.stopped = None;
        log.eof = false;
        log.durable_by_run.push(BTreeSet::new());
        let mut cmd = Command::new(&self.bin);
        cmd.arg("node")
            .arg("--config")
            .arg(&self.config)
            .args(["--id", &node.to_string(), "--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(self.data_dir(node))
            .args(["--durable-log", "-"])
            .arg("--report")
            .arg(self.report_path(node));
        for p in peers {
            cmd.args(["--peer", p]);
        }
        let mut child = cmd
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .env("RUST_BACKTRACE", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the chainlab binary starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        self.children[node] = Some(child);
        self.note(format!(
            "[test] started node {node} run {run} with peers {peers:?}"
        ));
        spawn_reader(
            stdout,
            self.tx.clone(),
            move |l| Event::Out(node, run, l),
            move || Some(Event::Eof(node, run)),
        );
        spawn_reader(
            stderr,
            self.tx.clone(),
            move |l| Event::Err(node, run, l),
            || None,
        );
        let listen = self.wait_for(&format!("node {node} to listen"), |c| {
            c.nodes[node].listen.clone()
        });
        self.note(format!("[test] node {node} run {run} listens on {listen}"));
        listen
    }

    /// Takes one event into the state.
    fn absorb(&mut self, ev: Event) {
        match ev {
            Event::Out(node, run, line) => {
                self.note(format!("[{node}.{run} out] {line}"));
                let current = run == self.runs[node];
                let words: Vec<&str> = line.split_whitespace().collect();
                if let ["durable", n, height, hash] = words[..] {
                    let (Ok(n), Ok(height)) = (n.parse::<usize>(), height.parse::<u64>()) else {
                        self.fail(&format!("malformed durable line {line:?}"));
                    };
                    if n != node || hash.len() != 64 {
                        self.fail(&format!("node {node} printed durable line {line:?}"));
                    }
                    let log = &mut self.nodes[node];
                    log.durable
                        .entry(height)
                        .or_default()
                        .insert(hash.to_string());
                    log.durable_by_run[run].insert(hash.to_string());
                } else if !current {
                    // A line of the killed run, after the restart: only its blocks count.
                } else if let Some(key) = line.strip_prefix(&format!("node {node} key ")) {
                    if key != self.keys[node] {
                        self.fail(&format!(
                            "node {node} run {run} uses key {key}, not its listed {}",
                            self.keys[node]
                        ));
                    }
                    self.nodes[node].keys.push(key.to_string());
                } else if let Some(addr) = line.strip_prefix(&format!("node {node} listening on "))
                {
                    self.nodes[node].listen = Some(addr.to_string());
                } else if line.starts_with(&format!("node {node} stopped by ")) {
                    self.nodes[node].stopped = Some(line);
                }
            }
            Event::Err(node, run, line) => self.note(format!("[{node}.{run} err] {line}")),
            Event::Eof(node, run) => {
                self.note(format!("[{node}.{run}] end of output"));
                if run == self.runs[node] {
                    self.nodes[node].eof = true;
                }
            }
        }
    }

    /// Takes events until `cond` holds (checked first, then after each event), within `WAIT`.
    /// A process of the current run that ends its output before then fails the test, unless
    /// it was sent SIGTERM.
    fn wait_for<T>(&mut self, what: &str, mut cond: impl FnMut(&Cluster) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(v) = cond(self) {
                return v;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(ev) => {
                    let eof = match &ev {
                        Event::Eof(node, run) if *run == self.runs[*node] => Some(*node),
                        _ => None,
                    };
                    self.absorb(ev);
                    if let Some(node) = eof {
                        if let Some(v) = cond(self) {
                            return v;
                        }
                        if self.children[node].is_some() && !self.stopping.contains(&node) {
                            let status = self.children[node].as_mut().and_then(|c| c.wait().ok());
                            self.children[node] = None;
                            self.fail(&format!(
                                "node {node} exited ({status:?}) while waiting for {what}"
                            ));
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => self.fail(&format!(
                    "timed out after {} s waiting for {what}",
                    WAIT.as_secs()
                )),
                Err(RecvTimeoutError::Disconnected) => unreachable!("the test holds a sender"),
            }
        }
    }

    /// The highest height of at least `min` at which every node of `nodes` flushed one same
    /// block: `(height, hash)`.
    fn common(&self, nodes: &[usize], min: u64) -> Option<(u64, String)> {
        let first = &self.nodes[nodes[0]];
        first
            .durable
            .range(min..)
            .rev()
            .flat_map(|(h, hashes)| hashes.iter().map(move |x| (*h, x)))
            .find(|(h, x)| nodes[1..].iter().all(|n| self.nodes[*n].has(*h, x)))
            .map(|(h, x)| (h, x.clone()))
    }

    /// SIGKILL, then reaps the process and drains its output.
    fn kill(&mut self, node: usize) {
        let mut child = self.children[node].take().expect("running");
        child.kill().expect("SIGKILL sent");
        let status = child.wait().expect("reaped");
        self.note(format!("[test] node {node} SIGKILLed: {status}"));
        self.wait_for(&format!("the output of killed node {node} to end"), |c| {
            c.nodes[node].eof.then_some(())
        });
    }

    /// Sends SIGTERM to each of `nodes` (together), waits for their final lines and their
    /// exits, and asserts exit status 0.
    fn terminate(&mut self, nodes: &[usize]) {
        let pids: Vec<String> = nodes
            .iter()
            .map(|n| {
                self.children[*n]
                    .as_ref()
                    .expect("running")
                    .id()
                    .to_string()
            })
            .collect();
        self.stopping.extend(nodes);
        let status = Command::new("kill")
            .arg("-TERM")
            .args(&pids)
            .status()
            .expect("kill(1) runs");
        if !status.success() {
            self.fail(&format!("kill -TERM {pids:?}: {status}"));
        }
        self.note(format!("[test] SIGTERM to nodes {nodes:?} (pids {pids:?})"));
        for &node in nodes {
            // Stdout closes when the process exits: after it, `wait` returns at once.
            self.wait_for(&format!("node {node} to stop after SIGTERM"), |c| {
                c.nodes[node].eof.then_some(())
            });
            let mut child = self.children[node].take().expect("running");
            let status = child.wait().expect("reaped");
            self.note(format!("[test] node {node} exited: {status}"));
            if !status.success() {
                self.fail(&format!("node {node} exited with {status} after SIGTERM"));
            }
            if self.nodes[node].stopped.is_none() {
                self.fail(&format!("node {node} printed no `stopped by` line"));
            }
        }
    }

    fn report(&self, node: usize) -> Value {
        let path = self.report_path(node);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| self.fail(&format!("report {}: {e}", path.display())));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| self.fail(&format!("report {}: {e}\n{text}", path.display())))
    }
}

/// Forwards each line of `stream` as `line(text)`, then `end()` at end of stream.
fn spawn_reader(
    stream: impl Read + Send + 'static,
    tx: Sender<Event>,
    line: impl Fn(String) -> Event + Send + 'static,
    end: impl FnOnce() -> Option<Event> + Send + 'static,
) {
    std::thread::spawn(move || {
        for l in BufReader::new(stream).lines() {
            let Ok(l) = l else { break };
            if tx.send(line(l)).is_err() {
                return;
            }
        }
        if let Some(ev) = end() {
            let _ = tx.send(ev);
        }
    });
}

fn inspect(bin: &Path, dir: &Path) -> (bool, String) {
    let out = Command::new(bin)
        .arg("inspect")
        .arg(dir)
        .output()
        .expect("chainlab inspect runs");
    (
        out.status.success(),
        format!(
            "exit {:?}\n{}{}",
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn three_processes_converge_and_a_killed_node_catches_up() {
    converge_kill_and_catch_up(CONFIG);
}

#[test]
fn three_proof_of_stake_processes_converge_and_a_killed_node_catches_up() {
    converge_kill_and_catch_up(POS_CONFIG);
}

fn converge_kill_and_catch_up(config: &str) {
    let mut c = Cluster::new(config);

    // Start: node 1 dials node 0, node 2 dials both.
    let a0 = c.start(0, &[]);
    let a1 = c.start(1, std::slice::from_ref(&a0));
    let peers_of_victim = vec![a0.clone(), a1.clone()];
    c.start(VICTIM, &peers_of_victim);
    let all: Vec<usize> = (0..NODES).collect();
    let (h, hash) = c.wait_for("the three nodes to flush one same block", |c| {
        c.common(&all, FIRST_TARGET)
    });
    c.note(format!(
        "[test] converged: all flushed {hash} at height {h}"
    ));

    // SIGKILL the victim; the others keep mining past it.
    c.kill(VICTIM);
    let before_kill = c.nodes[VICTIM].top();
    let flushed_before: BTreeSet<String> = c.nodes[VICTIM].durable_by_run[0].clone();
    let others: Vec<usize> = (0..NODES).filter(|n| *n != VICTIM).collect();
    let (ahead, _) = c.wait_for("the other nodes to advance past the killed one", |c| {
        c.common(&others, before_kill + ADVANCE)
    });
    c.note(format!(
        "[test] node {VICTIM} had height {before_kill}; the others agree at {ahead}"
    ));

    // Restart it on the same data dir: it catches up, to a block the others flushed at a
    // height at least theirs when it came back.
    c.start(VICTIM, &peers_of_victim);
    let (caught, hash) = c.wait_for("the restarted node to catch up", |c| {
        c.nodes[VICTIM]
            .durable
            .range(ahead..)
            .flat_map(|(h, hs)| hs.iter().map(move |x| (*h, x)))
            .find(|(h, x)| others.iter().any(|n| c.nodes[*n].has(*h, x)))
            .map(|(h, x)| (h, x.clone()))
    });
    c.note(format!(
        "[test] node {VICTIM} caught up: flushed {hash} at height {caught} (had {before_kill})"
    ));
    let refetched: Vec<&String> = c.nodes[VICTIM].durable_by_run[1]
        .intersection(&flushed_before)
        .collect();
    if !refetched.is_empty() {
        c.fail(&format!(
            "node {VICTIM} flushed again blocks it had made durable before the kill (it did not \
             resume from its store): {refetched:?}"
        ));
    }
    // And the three agree again on a block above that.
    let (h, hash) = c.wait_for("the three nodes to agree again after the restart", |c| {
        c.common(&all, caught + 1)
    });
    c.note(format!("[test] all flushed {hash} at height {h}"));

    // Stop: the restarted node first (so its report sees both peers still connected), then
    // the other two together.
    c.terminate(&[VICTIM]);
    c.terminate(&others);

    let reports: Vec<Value> = (0..NODES).map(|n| c.report(n)).collect();
    for (n, r) in reports.iter().enumerate() {
        let ok = r["node"] == n
            && r["key"] == c.keys[n].as_str()
            && r["stopped_by"] == "SIGTERM"
            && r["tip_height"].as_u64().is_some()
            && r["tip_hash"].as_str().is_some_and(|s| s.len() == 64)
            && r["counters"].is_object();
        if !ok {
            c.fail(&format!("node {n}: unexpected report\n{r:#}"));
        }
        let (height, tip) = (
            r["tip_height"].as_u64().unwrap(),
            r["tip_hash"].as_str().unwrap(),
        );
        // Each peer is one of the listed keys, known by its listed id.
        for p in r["peers"].as_array().into_iter().flatten() {
            let id = p["id"].as_u64().unwrap_or(u64::MAX) as usize;
            if id >= NODES || id == n || p["key"] != c.keys[id].as_str() || p["claimed_id"] != id {
                c.fail(&format!("node {n}: unexpected peer {p}"));
            }
        }
        if !c.nodes[n].has(height, tip) {
            c.fail(&format!(
                "node {n} reports tip {tip} at height {height}, which it never flushed"
            ));
        }
    }
    let heights: Vec<u64> = reports
        .iter()
        .map(|r| r["tip_height"].as_u64().unwrap())
        .collect();
    let tips: Vec<&str> = reports
        .iter()
        .map(|r| r["tip_hash"].as_str().unwrap())
        .collect();
    let (lo, hi) = (
        *heights.iter().min().unwrap(),
        *heights.iter().max().unwrap(),
    );
    if hi - lo > 1 {
        c.fail(&format!(
            "final tips more than one block apart: heights {heights:?}, tips {tips:?}"
        ));
    }
    // The restarted node ended on the shared chain, connected to its peers.
    let victim = &reports[VICTIM];
    let (vh, vtip) = (heights[VICTIM], tips[VICTIM]);
    if !others.iter().any(|n| c.nodes[*n].has(vh, vtip)) {
        c.fail(&format!(
            "node {VICTIM}'s final tip {vtip} (height {vh}) was flushed by no other node"
        ));
    }
    let peers = victim["peers"].as_array().map_or(0, Vec::len);
    // Both runs of the victim printed the same key: it rejoined under its identity.
    if c.nodes[VICTIM].keys.len() != 2 {
        c.fail(&format!(
            "node {VICTIM} printed keys {:?} over two runs",
            c.nodes[VICTIM].keys
        ));
    }
    if peers == 0 {
        c.fail(&format!(
            "restarted node {VICTIM} reports no connected peer\n{victim:#}"
        ));
    }
    let stopped: Vec<String> = c
        .nodes
        .iter()
        .map(|l| l.stopped.clone().unwrap_or_default())
        .collect();

    // Each store is consistent, with the tip height the node reported.
    for (n, height) in heights.iter().enumerate() {
        let dir = c.data_dir(n);
        let (ok, out) = inspect(&c.bin, &dir);
        let expect = format!("node {n}: height {height} tip ");
        if !ok || !out.contains(&expect) || !out.contains("1 nodes, 1 consistent") {
            c.fail(&format!(
                "chainlab inspect {} (expected {expect:?}...):\n{out}",
                dir.display()
            ));
        }
    }

    eprintln!(
        "converged, node {VICTIM} killed at height {before_kill}, others reached {ahead}, \
         it caught up at {caught}; final heights {heights:?}, node {VICTIM} peers {peers}; \
         {:.1} s\n{}",
        c.started.elapsed().as_secs_f64(),
        stopped.join("\n")
    );
}
