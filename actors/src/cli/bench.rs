//! `chainlab bench`: runs a benchmark of `chainlab_actors::bench` and prints one JSON line per
//! run, then, for the compared variants, one line of medians.

use super::args::{bad, ConfigArgs};
use super::Outcome;
use chainlab_actors::bench;
use serde::Serialize;

/// The arguments of `bench`: which benchmark.
#[derive(clap::Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    what: BenchCmd,
}

/// The benchmarks.
#[derive(clap::Subcommand)]
enum BenchCmd {
    /// Simulated seconds per wall second and messages per second (memory store).
    Virtual {
        /// A scenario to run instead of the default config.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Cluster sizes to run, one after another.
        #[arg(long, value_delimiter = ',', default_values_t = vec![16usize, 100, 1000])]
        nodes: Vec<usize>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Messages per second without faults and with a no-op fault layer (alternated runs).
    Faults {
        /// Nodes.
        #[arg(long, default_value_t = 100)]
        nodes: usize,
        /// Runs of each variant.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Messages per second and block propagation over in-memory versus TCP links (real clock,
    /// alternated runs of the same cluster).
    Transport {
        /// Nodes.
        #[arg(long, default_value_t = 16)]
        nodes: usize,
        /// Runs of each variant.
        #[arg(long, default_value_t = 3)]
        rounds: usize,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Cost of announcements whose ids share their first 8 bytes against random ids, in one
    /// node's gossip tables (hash flooding; alternated rounds).
    InvFlood {
        /// Inventory messages of 5,000 ids per variant and round.
        #[arg(long, default_value_t = 200)]
        msgs: usize,
        /// Rounds of each variant.
        #[arg(long, default_value_t = 5)]
        rounds: usize,
    },
    /// Contract calls (token transfers) against plain transfers executed per second on one
    /// core, with and without each transaction's signature check (alternated rounds).
    Contracts {
        /// Transactions per block (and funded accounts).
        #[arg(long, default_value_t = 1000)]
        txs: usize,
        /// Rounds of each variant.
        #[arg(long, default_value_t = 7)]
        rounds: usize,
    },
    /// Wall time and peak memory of a scenario against cluster size, each size in a child
    /// process: a table, and with --out a CSV, JSON and SVG plot (against reference points).
    Scale(super::scale::ScaleArgs),
    /// Confirmed TPS of a real-clock cluster, next to the single-core k256 verify rate.
    Tps {
        /// Nodes.
        #[arg(long, default_value_t = 16)]
        nodes: usize,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

/// Runs the chosen benchmark, printing as it goes.
///
/// # Errors
/// A bad override, a failed run, or output that cannot be serialized.
pub fn bench(a: BenchArgs) -> anyhow::Result<Outcome> {
    match a.what {
        BenchCmd::Virtual { config, nodes, cfg } => {
            let text = match &config {
                Some(p) => std::fs::read_to_string(p)
                    .map_err(|e| bad(format!("cannot read config {}: {e}", p.display())))?,
                None => String::new(),
            };
            let file = config
                .as_ref()
                .map_or("<bench>".into(), |p| p.display().to_string());
            for n in nodes {
                let r = bench::virtual_speed_of((&text, &file), n, &cfg.set).map_err(bad)?;
                print_line(&r)?;
            }
        }
        BenchCmd::Scale(a) => super::scale::scale(a)?,
        BenchCmd::Faults { nodes, rounds, cfg } => {
            let (without, with) = bench::fault_overhead(nodes, &cfg.set, rounds).map_err(bad)?;
            print_lines(without.iter().chain(&with))?;
            print_line(&bench::FaultOverheadMedians::new(&without, &with))?;
        }
        BenchCmd::Transport { nodes, rounds, cfg } => {
            let (memory, tcp) = bench::transport_compare(nodes, &cfg.set, rounds).map_err(bad)?;
            print_lines(memory.iter().chain(&tcp))?;
            print_line(&bench::TransportMedians::new(&memory, &tcp))?;
        }
        BenchCmd::InvFlood { msgs, rounds } => {
            if msgs == 0 || rounds == 0 {
                return Err(bad("--msgs and --rounds must be at least 1").into());
            }
            print_line(&bench::inv_flood(msgs, rounds))?;
        }
        BenchCmd::Contracts { txs, rounds } => {
            if txs < 2 || rounds == 0 {
                return Err(bad("--txs must be at least 2 and --rounds at least 1").into());
            }
            print_line(&bench::contract_calls(txs, rounds).map_err(bad)?)?;
        }
        BenchCmd::Tps { nodes, cfg } => {
            print_line(&bench::real_tps(nodes, &cfg.set).map_err(bad)?)?;
        }
    }
    Ok(Outcome::Success)
}

/// Prints `value` as one line of JSON.
fn print_line(value: &impl Serialize) -> serde_json::Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// Prints each of `values` as one line of JSON.
fn print_lines<'a, T: Serialize + 'a>(
    values: impl IntoIterator<Item = &'a T>,
) -> serde_json::Result<()> {
    values.into_iter().try_for_each(print_line)
}
