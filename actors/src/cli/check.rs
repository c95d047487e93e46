//! `chainlab check`: validate a config file and print what it describes in one line.

use super::args::{load_config, ConfigArgs};
use super::Outcome;
use chainlab::config::{ClockMode, Topology};
use std::path::PathBuf;

/// The arguments of `check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// TOML config file.
    config: PathBuf,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Prints `PATH: ok (N nodes, CLOCK clock, TOPOLOGY topology, seed S)`.
///
/// # Errors
/// The config cannot be read or is invalid.
pub fn check(a: CheckArgs) -> anyhow::Result<Outcome> {
    let c = load_config(Some(&a.config), &a.cfg.set)?;
    let clock = if c.cluster.clock == ClockMode::Virtual {
        "virtual"
    } else {
        "real"
    };
    let topology = match &c.network.topology {
        Topology::Named(n) => n.clone(),
        Topology::Edges(e) => format!("{} edges", e.len()),
    };
    println!(
        "{}: ok ({} nodes, {clock} clock, {topology} topology, seed {})",
        a.config.display(),
        c.cluster.nodes,
        c.cluster.seed
    );
    Ok(Outcome::Success)
}
