//! `chainlab run` (and `chainlab` alone): a whole cluster in this process, then its summary,
//! report and trace.

use super::args::{add_adversaries, add_faults, bad, load_config, quoted, ConfigArgs};
use super::output::{ensure_writable, write_report, write_trace};
use super::summary::print_summary;
use super::Outcome;
use chainlab_actors::cluster::{self, RunOptions};
use std::path::PathBuf;

/// The arguments of `run`.
#[derive(clap::Args, Default)]
pub struct RunArgs {
    /// TOML config file.
    config: Option<PathBuf>,
    /// Seed (cluster.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Number of nodes (cluster.nodes).
    #[arg(long)]
    nodes: Option<usize>,
    /// Load and mining period, e.g. 10m (cluster.duration).
    #[arg(long)]
    duration: Option<String>,
    /// Keep sled data here (storage.data_dir); resumes from it when it exists.
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long)]
    report: Option<PathBuf>,
    /// Write the JSON Lines trace here.
    #[arg(long)]
    trace: Option<PathBuf>,
    /// No progress bar and no summary.
    #[arg(long)]
    quiet: bool,
    /// Add a fault, e.g. --fault 'at=600s kind=partition groups=[[0,1],[2,3]]' (repeatable).
    #[arg(long = "fault", value_name = "FAULT")]
    faults: Vec<String>,
    /// Add an attacker, e.g. --adversary 'kind=selfish nodes=0 hashpower=0.3 gamma=0.5'
    /// (the keys of an [[adversary]] entry; repeatable).
    #[arg(long = "adversary", value_name = "ADVERSARY")]
    adversaries: Vec<String>,
    /// Add the [[faults]] of a TOML file (repeatable).
    #[arg(long = "faults", value_name = "FILE")]
    fault_files: Vec<PathBuf>,
    /// Print `durable NODE HEIGHT HASH` once each block is flushed, to FILE or `-` (stdout).
    #[arg(long, value_name = "FILE")]
    durable_log: Option<PathBuf>,
    #[command(flatten)]
    cfg: ConfigArgs,
}

impl RunArgs {
    /// `--set` overrides followed by those the dedicated flags stand for.
    fn overrides(&self) -> Vec<String> {
        let mut o = self.cfg.set.clone();
        if let Some(s) = self.seed {
            o.push(format!("cluster.seed={s}"));
        }
        if let Some(n) = self.nodes {
            o.push(format!("cluster.nodes={n}"));
        }
        if let Some(d) = &self.duration {
            o.push(format!("cluster.duration={}", quoted(d)));
        }
        if let Some(d) = &self.data_dir {
            o.push(format!(
                "storage.data_dir={}",
                quoted(&d.display().to_string())
            ));
        }
        o
    }
}

/// Runs the cluster, writes the report and trace, prints the summary; fails when an invariant
/// was violated or an `[expect]` check was unmet (each one printed to stderr).
///
/// # Errors
/// Bad config, faults or arguments, an unwritable output, or a run that cannot start.
pub fn run(a: RunArgs) -> anyhow::Result<Outcome> {
    let mut c = load_config(a.config.as_deref(), &a.overrides())?;
    add_adversaries(&mut c, &a.adversaries)?;
    add_faults(&mut c, &a.faults, &a.fault_files)?;
    // Fail on unwritable outputs before running, not after.
    for path in a.report.iter().chain(&a.trace) {
        ensure_writable(path)?;
    }
    let opts = RunOptions {
        progress: !a.quiet,
        durable_log: a.durable_log,
        ..Default::default()
    };
    let out = cluster::run(c, opts).map_err(bad)?;
    if let Some(path) = &a.report {
        write_report(path, &out)?;
    }
    if let Some(path) = &a.trace {
        write_trace(path, &out)?;
    }
    if !a.quiet {
        print_summary(&out);
    }
    for v in &out.report.invariants.violations {
        eprintln!("invariant violated: {v}");
    }
    for e in out.report.expectations.iter().filter(|e| !e.pass) {
        eprintln!("{}", e.failure_line());
    }
    Ok(if out.report.failed() {
        Outcome::Failed
    } else {
        Outcome::Success
    })
}
