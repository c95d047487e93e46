//! The `chainlab` command: parse the command line, run the command (`cli`), and turn its outcome
//! into an exit code: 0 success, 1 a run or store found inconsistent, 2 bad input.

mod cli;

use clap::Parser as _;
use std::process::ExitCode;

/// mimalloc instead of glibc's allocator, built without transparent huge pages: less wall
/// time on the virtual-clock benchmarks (BENCHMARKS.md, "Issue 13, session 12").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    chainlab_actors::logging::init();
    match cli::dispatch(cli::Cli::parse()) {
        Ok(cli::Outcome::Success) => ExitCode::SUCCESS,
        Ok(cli::Outcome::Failed) => ExitCode::from(1),
        Err(e) => {
            // Every error is bad input: config, arguments, an output path, or a data directory
            // that cannot be used. Invariant violations and unmet expectations are
            // `Outcome::Failed`, not errors.
            eprintln!("chainlab: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
