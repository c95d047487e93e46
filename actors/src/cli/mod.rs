//! The `chainlab` commands, one file each, behind one clap parser.
//!
//! | command   | file         | what it does                                        |
//! |-----------|--------------|-----------------------------------------------------|
//! | `run`     | `run.rs`     | run a whole cluster in this process (the default)   |
//! | `node`    | `node.rs`    | run one node, joined to other processes over TCP    |
//! | `key`     | `key.rs`     | print a node's public key (creating its key file)   |
//! | `bench`   | `bench.rs`   | benchmarks, one JSON line per run (`scale.rs`: `bench scale`) |
//! | `inspect` | `inspect.rs` | verify the chains in a data directory               |
//! | `check`   | `check.rs`   | validate a config file                              |
//! | `sweep`   | `sweep/`     | a config over a grid of values and seeds, summarised |
//!
//! `args.rs` holds what commands share (config loading, `--set`, faults), `output.rs` the report
//! and trace files, `summary.rs` the table printed after a run (`summary_pos.rs`: its
//! proof-of-stake rows).

mod args;
mod bench;
mod check;
mod inspect;
mod key;
mod node;
mod output;
mod run;
mod scale;
mod summary;
mod summary_pos;
mod sweep;

use clap::{Parser, Subcommand};

/// The command line.
#[derive(Parser)]
#[command(
    name = "chainlab",
    version,
    about = "A blockchain network laboratory in one process"
)]
pub struct Cli {
    /// Without a command: `run` on the embedded default config (the demo).
    #[command(subcommand)]
    command: Option<Command>,
}

/// The commands.
// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a cluster (the embedded default config when CONFIG is not given).
    Run(run::RunArgs),
    /// Run one node in this process, joined to nodes in other processes over TCP.
    Node(node::NodeArgs),
    /// Print a node's public key (for tcp.peers_allowed), creating its key file when absent.
    Key(key::KeyArgs),
    /// Benchmarks: virtual-clock speed or real-clock throughput (prints one JSON line per run).
    Bench(bench::BenchArgs),
    /// Verify a data directory: every node's chain from genesis (exit 0 consistent, 1 not, 2 not a store).
    Inspect(inspect::InspectArgs),
    /// Validate a config file (exit 0 when valid, 2 when not).
    Check(check::CheckArgs),
    /// Run a config over a grid of --vary values, --trials seeds each, and summarise --metric
    /// figures with 95% intervals, tables and plots.
    Sweep(sweep::SweepArgs),
}

/// How a command that ran to its end went; `main` turns it into the exit code.
pub enum Outcome {
    /// Exit 0.
    Success,
    /// Exit 1: a run violated an invariant or missed an `[expect]` check, or a store is
    /// inconsistent.
    Failed,
}

/// Runs the command (`run` with defaults when none is given).
///
/// # Errors
/// Bad input: a config, an argument, an output path or a data directory that cannot be used.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli
        .command
        .unwrap_or_else(|| Command::Run(run::RunArgs::default()))
    {
        Command::Run(a) => run::run(a),
        Command::Node(a) => node::node(a),
        Command::Key(a) => key::key(a),
        Command::Bench(a) => bench::bench(a),
        Command::Inspect(a) => inspect::inspect(a),
        Command::Check(a) => check::check(a),
        Command::Sweep(a) => sweep::sweep(a),
    }
}
