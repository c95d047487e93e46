//! `chainlab node`: one node in this process, joined over TCP to nodes in other processes.

use super::args::{bad, load_config, parse_duration, BadInput, ConfigArgs};
use super::output::{ensure_writable, write_node_report};
use super::Outcome;
use chainlab_actors::node::DurableLog;
use chainlab_actors::standalone::{run_node, KeySource, NodeOptions};
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The arguments of `node`.
#[derive(clap::Args)]
pub struct NodeArgs {
    /// TOML config file (every process of one network uses the same one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// This node's id, below cluster.nodes (sets its hash share and its accounts).
    #[arg(long)]
    id: usize,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A peer's address to stay connected to (repeatable).
    #[arg(long = "peer", value_name = "ADDR")]
    peers: Vec<SocketAddr>,
    /// Keep the chain here (sled); resumes from it when it exists. Default: in memory.
    /// The node's secret key is DIR/node.key, created on first start.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Read the node's secret key from FILE (it must exist; `chainlab key --key FILE` makes
    /// one) instead of DIR/node.key. Without this or --data-dir the key lasts one run.
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// Stop after this long, e.g. 30s (default: run until SIGINT or SIGTERM).
    #[arg(long)]
    duration: Option<String>,
    /// Write the JSON report (tip, peers, counters) here at shutdown.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Print `durable NODE HEIGHT HASH` once each block is flushed, to FILE or `-` (stdout).
    #[arg(long, value_name = "FILE")]
    durable_log: Option<PathBuf>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Runs the node until `--duration` passes or a signal stops it; prints its listening address
/// at start and its tip at the end.
///
/// # Errors
/// Bad config or arguments, an unwritable output, or a node that cannot start.
pub fn node(a: NodeArgs) -> anyhow::Result<Outcome> {
    let c = load_config(a.config.as_deref(), &a.cfg.set)?;
    let durable_log = a
        .durable_log
        .map(|p| {
            DurableLog::open(&p).map_err(|e| BadInput(format!("cannot write {}: {e}", p.display())))
        })
        .transpose()?;
    let duration = a.duration.as_deref().map(parse_duration).transpose()?;
    if let Some(path) = &a.report {
        ensure_writable(path)?;
    }
    let id = a.id;
    let opts = NodeOptions {
        id,
        key_file: a.key,
        listen: a.listen,
        peers: a.peers,
        data_dir: a.data_dir,
        duration,
        durable_log,
    };
    let r = run_node(c, opts, |addr, key, source| {
        match source {
            KeySource::Ephemeral => eprintln!(
                "warning: no --data-dir or --key: node {id} uses a new key for this run only; \
                 permissioned peers cannot list it"
            ),
            KeySource::Created => eprintln!("node {id}: created its node key"),
            KeySource::File | KeySource::DataDir => {}
        }
        println!("node {id} key {key}");
        println!("node {id} listening on {addr}");
        let _ = std::io::stdout().flush();
    })
    .map_err(bad)?;
    println!(
        "node {id} stopped by {}: height {} tip {} peers {}",
        r.stopped_by,
        r.tip_height,
        r.tip_hash,
        r.peers.len()
    );
    if let Some(path) = &a.report {
        write_node_report(path, &r)?;
    }
    Ok(Outcome::Success)
}
