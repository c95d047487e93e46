//! The `chainlab` binary of this crate, for the tests that run it as a process.

use std::process::Command;

/// `--set` arguments for a small cluster: 4 nodes of degree 2, 2 transactions per second.
pub const SMALL_CLUSTER: &[&str] = &[
    "--set",
    "cluster.nodes=4",
    "--set",
    "network.degree=2",
    "--set",
    "workload.tx_rate=2",
];

/// A command running the `chainlab` binary Cargo built for these tests.
pub fn chainlab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_chainlab"))
}
