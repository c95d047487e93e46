//! Running a cluster in-process, and reading its trace and report.

use chainlab::config::Config;
use chainlab::report::Event;
use chainlab::{Hash, NodeId};
use chainlab_actors::cluster::{run, RunOptions, RunOutput};

/// Runs `cfg` with the default options; panics if the run fails.
pub fn run_ok(cfg: Config) -> RunOutput {
    run_with(cfg, RunOptions::default())
}

/// Runs `cfg` with `opts`; panics if the run fails.
pub fn run_with(cfg: Config, opts: RunOptions) -> RunOutput {
    run(cfg, opts).expect("run succeeds")
}

/// Asserts that the run violated no invariant.
pub fn assert_no_violations(out: &RunOutput) {
    let v = &out.report.invariants.violations;
    assert!(v.is_empty(), "invariant violations: {v:?}");
}

/// The trace as JSON lines, as `--trace` writes it.
pub fn trace_text(out: &RunOutput) -> String {
    out.events
        .iter()
        .map(|e| e.to_json_line().expect("every event serialises") + "\n")
        .collect()
}

/// The report as JSON with the wall time zeroed: what two runs of one seed must agree on.
pub fn report_without_wall_time(out: &RunOutput) -> String {
    let mut r = out.report.clone();
    r.wall_s = 0.0;
    serde_json::to_string(&r).expect("report serializes")
}

/// A `block_mined` event.
#[derive(Debug, Clone, Copy)]
pub struct Mined {
    pub t: u64,
    pub miner: NodeId,
    pub hash: Hash,
    pub parent: Hash,
    pub height: u64,
}

/// Every `block_mined` event, in trace order.
pub fn mined(out: &RunOutput) -> Vec<Mined> {
    out.events
        .iter()
        .filter_map(|r| match &r.event {
            Event::BlockMined(m) => Some(Mined {
                t: r.t_ms,
                miner: m.miner,
                hash: m.hash,
                parent: m.parent,
                height: m.height,
            }),
            _ => None,
        })
        .collect()
}

/// `(t, node, height)` of every `node_started`, time 0 included.
pub fn starts(out: &RunOutput) -> Vec<(u64, NodeId, u64)> {
    out.events
        .iter()
        .filter_map(|r| match r.event {
            Event::NodeStarted { height } => Some((r.t_ms, r.node, height)),
            _ => None,
        })
        .collect()
}

/// `(t, node, hash, reason)` of every `block_rejected`.
pub fn rejections(out: &RunOutput) -> Vec<(u64, NodeId, Hash, String)> {
    out.events
        .iter()
        .filter_map(|r| match &r.event {
            Event::BlockRejected(b) => Some((r.t_ms, r.node, b.hash, b.reason.clone())),
            _ => None,
        })
        .collect()
}
