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

/// Runs `chainlab ARGS` to its end (no `RUST_LOG`, no backtraces).
pub fn output(args: &[&str]) -> std::process::Output {
    chainlab()
        .args(args)
        .env_remove("RUST_LOG")
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("the chainlab binary runs")
}

/// The command line, exit code, stdout and stderr of a finished `chainlab ARGS`, for an
/// assertion message.
pub fn describe(args: &[&str], out: &std::process::Output) -> String {
    format!(
        "chainlab {}\nexit: {:?}\nstdout: {}\nstderr: {}",
        args.join(" "),
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
