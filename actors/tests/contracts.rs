//! Contracts on running clusters (docs/contracts.md): every node executes every call and
//! ends with the same contract state, through forks and a partition; a seed gives the same
//! bytes; `[[calls]]` deploys and calls at given times and every node traces what ran.

mod support;

use chainlab::report::Event;
use chainlab_actors::cluster::RunOutput;
use support::config::Toml;
use support::run::{assert_no_violations, report_without_wall_time, run_ok, trace_text};

/// 8 nodes, 4 s blocks (forks at 80 ms median delay), half the load token transfers, and a
/// partition for a minute in the middle.
fn partitioned_token_load() -> chainlab::config::Config {
    Toml::virtual_clock()
        .with(&[
            "cluster.nodes=8",
            "cluster.duration=240s",
            "consensus.block_interval=4s",
            "workload.tx_rate=10",
            "workload.contract_calls=0.5",
            "workload.contract=\"token\"",
        ])
        .config(
            "contracts-partition.toml",
            &[],
            r#"
[[faults]]
kind = "partition"
at = "80s"
for = "60s"
groups = [[0, 1, 2, 3], [4, 5, 6, 7]]
"#,
        )
}

fn count(out: &RunOutput, f: impl Fn(&Event) -> bool) -> usize {
    out.events.iter().filter(|r| f(&r.event)).count()
}

#[test]
fn every_node_ends_with_the_same_contract_state_through_forks_and_a_partition() {
    let out = run_ok(partitioned_token_load());
    // The invariant check replays each live node's best chain from genesis (accounts,
    // contract code, storage and pending receipts) and compares it with its live state.
    assert_no_violations(&out);
    assert!(out.report.invariants.checked >= 8, "every node was checked");
    assert!(
        out.report.convergence.converged,
        "{:?}",
        out.report.convergence
    );
    let c = out
        .report
        .contracts
        .as_ref()
        .expect("contract work happened");
    assert!(c.calls > 500, "{} calls", c.calls);
    assert_eq!(
        c.calls_failed, 0,
        "every holder has tokens for every transfer"
    );
    assert!(out.report.blocks.reorgs > 0, "the partition forced reorgs");
    let per = c.by_contract.values().next().expect("the token");
    assert_eq!(per.name.as_deref(), Some("token"));
    assert_eq!(per.executions, c.calls);
    // Every node executed the calls of the final chain (and more, on branches it left).
    let called = count(&out, |e| matches!(e, Event::ContractCalled(_)));
    assert!(
        called as u64 >= 8 * c.calls,
        "{called} traced for {} calls",
        c.calls
    );
}

#[test]
fn the_same_seed_gives_the_same_contract_run_byte_for_byte() {
    let a = run_ok(partitioned_token_load());
    let b = run_ok(partitioned_token_load());
    assert_eq!(trace_text(&a), trace_text(&b));
    assert_eq!(report_without_wall_time(&a), report_without_wall_time(&b));
}

#[test]
fn scenario_calls_deploy_and_call_at_their_times_and_every_node_traces_them() {
    let cfg = Toml::virtual_clock()
        .with(&["cluster.nodes=4", "cluster.duration=120s"])
        .config(
            "calls.toml",
            &[],
            r#"
[[calls]]
at = "5s"
deploy = "counter"
name = "c"

[[calls]]
at = "40s"
node = 2
from = 1
contract = "c"
method = "increment"
count = 5
every = "3s"
"#,
        );
    let out = run_ok(cfg);
    assert_no_violations(&out);
    let c = out.report.contracts.as_ref().expect("contract work");
    assert_eq!((c.deployed, c.calls, c.calls_failed), (1, 5, 0));
    let per = c.by_contract.values().next().expect("the counter");
    assert_eq!((per.name.as_deref(), per.executions), (Some("c"), 5));
    let deployed = count(
        &out,
        |e| matches!(e, Event::ContractDeployed(d) if d.error.is_none()),
    );
    assert!(
        deployed >= 4,
        "each of the 4 nodes traced the deploy: {deployed}"
    );
    // The last increment returned 5 at every node that connected its block.
    let submitted_at: Vec<u64> = out
        .events
        .iter()
        .filter(|r| matches!(r.event, Event::TxSubmitted { .. }))
        .map(|r| r.t_ms)
        .collect();
    assert!(submitted_at.contains(&5_000));
    for k in 0..5 {
        assert!(
            submitted_at.contains(&(40_000 + 3_000 * k)),
            "{submitted_at:?}"
        );
    }
}
