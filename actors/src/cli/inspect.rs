//! `chainlab inspect`: verify every node's chain in a data directory, one line per node.

use super::args::bad;
use super::Outcome;
use std::path::PathBuf;

/// The arguments of `inspect`.
#[derive(clap::Args)]
pub struct InspectArgs {
    /// The data directory of an earlier `run --data-dir`.
    data_dir: PathBuf,
}

/// Prints each node's tip or its inconsistency, then a count; fails when any node is
/// inconsistent.
///
/// # Errors
/// The directory is not a chainlab store.
pub fn inspect(a: InspectArgs) -> anyhow::Result<Outcome> {
    let checks = chainlab_actors::inspect::inspect(&a.data_dir).map_err(bad)?;
    let mut bad_nodes = 0;
    for c in &checks {
        match &c.problem {
            None => println!(
                "node {}: height {} tip {} ({} blocks) ok",
                c.node, c.height, c.tip, c.blocks
            ),
            Some(p) => {
                bad_nodes += 1;
                println!("node {}: INCONSISTENT: {p}", c.node);
            }
        }
    }
    println!(
        "{} nodes, {} consistent, {} inconsistent",
        checks.len(),
        checks.len() - bad_nodes,
        bad_nodes
    );
    Ok(if bad_nodes == 0 {
        Outcome::Success
    } else {
        Outcome::Failed
    })
}
