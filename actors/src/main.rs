//! The `chainlab` command: run a cluster, check a config.

use anyhow::Context as _;
use chainlab::config::{Config, ConfigError};
use chainlab_actors::cluster::{self, RunOptions, RunOutput};
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// The embedded default configuration (`config/default.toml`).
const DEFAULT_CONFIG: &str = include_str!("../../config/default.toml");

#[derive(Parser)]
#[command(
    name = "chainlab",
    version,
    about = "A blockchain network laboratory in one process"
)]
struct Cli {
    /// Without a command: `run` on the embedded default config (the demo).
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Args, Clone, Default)]
struct ConfigArgs {
    /// Override a config key by its dotted path, e.g. --set consensus.block_interval=20s (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run a cluster (the embedded default config when CONFIG is not given).
    Run {
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
        /// Add the [[faults]] of a TOML file (repeatable).
        #[arg(long = "faults", value_name = "FILE")]
        fault_files: Vec<PathBuf>,
        /// Print `durable NODE HEIGHT HASH` once each block is flushed, to FILE or `-` (stdout).
        #[arg(long, value_name = "FILE")]
        durable_log: Option<PathBuf>,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
    /// Run one node in this process, joined to nodes in other processes over TCP.
    Node {
        /// TOML config file (every process of one network uses the same one).
        #[arg(long)]
        config: Option<PathBuf>,
        /// This node's id, below cluster.nodes (sets its key and its hash share).
        #[arg(long)]
        id: usize,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// A peer's address to stay connected to (repeatable).
        #[arg(long = "peer", value_name = "ADDR")]
        peers: Vec<std::net::SocketAddr>,
        /// Keep the chain here (sled); resumes from it when it exists. Default: in memory.
        #[arg(long)]
        data_dir: Option<PathBuf>,
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
    },
    /// Benchmarks: virtual-clock speed or real-clock throughput (prints one JSON line per run).
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Verify a data directory: every node's chain from genesis (exit 0 consistent, 1 not, 2 not a store).
    Inspect {
        /// The data directory of an earlier `run --data-dir`.
        data_dir: PathBuf,
    },
    /// Validate a config file (exit 0 when valid, 2 when not).
    Check {
        /// TOML config file.
        config: PathBuf,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

#[derive(Subcommand)]
enum BenchCmd {
    /// Simulated seconds per wall second and messages per second (memory store).
    Virtual {
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
    /// Confirmed TPS of a real-clock cluster, next to the single-core k256 verify rate.
    Tps {
        /// Nodes.
        #[arg(long, default_value_t = 16)]
        nodes: usize,
        #[command(flatten)]
        cfg: ConfigArgs,
    },
}

/// A failure that maps to exit code 2 (bad input).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct BadInput(String);

fn load_config(path: Option<&Path>, overrides: &[String]) -> Result<Config, BadInput> {
    let (text, label) = match path {
        Some(p) => (
            std::fs::read_to_string(p)
                .map_err(|e| BadInput(format!("cannot read config {}: {e}", p.display())))?,
            p.display().to_string(),
        ),
        None => (
            DEFAULT_CONFIG.to_string(),
            "<embedded config/default.toml>".to_string(),
        ),
    };
    Config::parse(&text, &label, overrides).map_err(|e: ConfigError| BadInput(e.to_string()))
}

fn add_faults(c: &mut Config, args: &[String], files: &[PathBuf]) -> Result<(), BadInput> {
    let mut from_args = Vec::new();
    for a in args {
        from_args.push(chainlab::sim::fault::parse_fault_arg(a).map_err(BadInput)?);
    }
    if !from_args.is_empty() {
        c.add_faults(from_args, "--fault")
            .map_err(|e| BadInput(e.to_string()))?;
    }
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| BadInput(format!("cannot read faults file {}: {e}", f.display())))?;
        let file: chainlab::config::FaultFile = toml::from_str(&text)
            .map_err(|e| BadInput(format!("{}: {}", f.display(), e.to_string().trim_end())))?;
        c.add_faults(file.faults, &f.display().to_string())
            .map_err(|e| BadInput(e.to_string()))?;
    }
    Ok(())
}

fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn main() -> ExitCode {
    chainlab_actors::logging::init();
    let cli = Cli::parse();
    match run_cli(cli) {
        Ok(code) => code,
        Err(e) => {
            // Every failure here is bad input: config, arguments, an output path, or a data
            // directory that cannot be used. Invariant violations return 1 from run_cli.
            eprintln!("chainlab: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run_cli(cli: Cli) -> anyhow::Result<ExitCode> {
    let command = cli.command.unwrap_or(Command::Run {
        config: None,
        faults: Vec::new(),
        fault_files: Vec::new(),
        durable_log: None,
        seed: None,
        nodes: None,
        duration: None,
        data_dir: None,
        report: None,
        trace: None,
        quiet: false,
        cfg: ConfigArgs::default(),
    });
    match command {
        Command::Check { config, cfg } => {
            let c = load_config(Some(&config), &cfg.set)?;
            println!(
                "{}: ok ({} nodes, {} clock, {} topology, seed {})",
                config.display(),
                c.cluster.nodes,
                if c.cluster.clock == chainlab::config::ClockMode::Virtual {
                    "virtual"
                } else {
                    "real"
                },
                match &c.network.topology {
                    chainlab::config::Topology::Named(n) => n.clone(),
                    chainlab::config::Topology::Edges(e) => format!("{} edges", e.len()),
                },
                c.cluster.seed
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Node {
            config,
            id,
            listen,
            peers,
            data_dir,
            duration,
            report,
            durable_log,
            cfg,
        } => {
            let c = load_config(config.as_deref(), &cfg.set)?;
            let durable_log = durable_log
                .map(|p| {
                    chainlab_actors::node::DurableLog::open(&p)
                        .map_err(|e| BadInput(format!("cannot write {}: {e}", p.display())))
                })
                .transpose()?;
            let duration = duration
                .map(|d| {
                    humantime::parse_duration(&d)
                        .map_err(|e| BadInput(format!("--duration {d:?}: {e}")))
                })
                .transpose()?;
            if let Some(path) = &report {
                std::fs::File::create(path)
                    .map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))?;
            }
            let opts = chainlab_actors::standalone::NodeOptions {
                id,
                listen,
                peers,
                data_dir,
                duration,
                durable_log,
            };
            let r = chainlab_actors::standalone::run_node(c, opts, |addr| {
                println!("node {id} listening on {addr}");
                let _ = std::io::stdout().flush();
            })
            .map_err(|e| BadInput(e.to_string()))?;
            println!(
                "node {id} stopped by {}: height {} tip {} peers {}",
                r.stopped_by,
                r.tip_height,
                r.tip_hash,
                r.peers.len()
            );
            if let Some(path) = &report {
                let text = serde_json::to_string_pretty(&r)?;
                std::fs::write(path, text + "\n")
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Inspect { data_dir } => {
            let checks = chainlab_actors::inspect::inspect(&data_dir)
                .map_err(|e| BadInput(e.to_string()))?;
            let mut bad = 0;
            for c in &checks {
                match &c.problem {
                    None => println!(
                        "node {}: height {} tip {} ({} blocks) ok",
                        c.node, c.height, c.tip, c.blocks
                    ),
                    Some(p) => {
                        bad += 1;
                        println!("node {}: INCONSISTENT: {p}", c.node);
                    }
                }
            }
            println!(
                "{} nodes, {} consistent, {} inconsistent",
                checks.len(),
                checks.len() - bad,
                bad
            );
            Ok(if bad == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Bench { what } => {
            match what {
                BenchCmd::Virtual { nodes, cfg } => {
                    for n in nodes {
                        let r = chainlab_actors::bench::virtual_speed(n, &cfg.set)
                            .map_err(|e| BadInput(e.to_string()))?;
                        println!("{}", serde_json::to_string(&r)?);
                    }
                }
                BenchCmd::Faults { nodes, rounds, cfg } => {
                    use chainlab_actors::bench::{fault_overhead, median};
                    let (without, with) = fault_overhead(nodes, &cfg.set, rounds)
                        .map_err(|e| BadInput(e.to_string()))?;
                    for r in without.iter().chain(&with) {
                        println!("{}", serde_json::to_string(r)?);
                    }
                    let a = median(&without, |r| r.messages_per_s);
                    let b = median(&with, |r| r.messages_per_s);
                    println!(
                        "{{\"median_messages_per_s_without\":{a:.0},\"median_messages_per_s_with_noop_faults\":{b:.0},\"slowdown_percent\":{:.1}}}",
                        (a - b) / a * 100.0
                    );
                }
                BenchCmd::Transport { nodes, rounds, cfg } => {
                    use chainlab_actors::bench::{median, transport_compare};
                    let (memory, tcp) = transport_compare(nodes, &cfg.set, rounds)
                        .map_err(|e| BadInput(e.to_string()))?;
                    for r in memory.iter().chain(&tcp) {
                        println!("{}", serde_json::to_string(r)?);
                    }
                    let m = |runs: &[chainlab_actors::bench::BenchResult]| {
                        (
                            median(runs, |r| r.messages_per_s),
                            median(runs, |r| r.propagation_p50_s),
                            median(runs, |r| r.propagation_p90_s),
                        )
                    };
                    let (a, b) = (m(&memory), m(&tcp));
                    println!(
                        "{{\"median_messages_per_s_memory\":{:.0},\"median_messages_per_s_tcp\":{:.0},\"median_propagation_p50_s_memory\":{:.4},\"median_propagation_p50_s_tcp\":{:.4},\"median_propagation_p90_s_memory\":{:.4},\"median_propagation_p90_s_tcp\":{:.4}}}",
                        a.0, b.0, a.1, b.1, a.2, b.2
                    );
                }
                BenchCmd::Tps { nodes, cfg } => {
                    let r = chainlab_actors::bench::real_tps(nodes, &cfg.set)
                        .map_err(|e| BadInput(e.to_string()))?;
                    println!("{}", serde_json::to_string(&r)?);
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            config,
            faults,
            fault_files,
            durable_log,
            seed,
            nodes,
            duration,
            data_dir,
            report,
            trace,
            quiet,
            cfg,
        } => {
            let mut overrides = cfg.set.clone();
            if let Some(s) = seed {
                overrides.push(format!("cluster.seed={s}"));
            }
            if let Some(n) = nodes {
                overrides.push(format!("cluster.nodes={n}"));
            }
            if let Some(d) = duration {
                overrides.push(format!("cluster.duration={}", quoted(&d)));
            }
            if let Some(d) = &data_dir {
                overrides.push(format!(
                    "storage.data_dir={}",
                    quoted(&d.display().to_string())
                ));
            }
            let mut c = load_config(config.as_deref(), &overrides)?;
            add_faults(&mut c, &faults, &fault_files)?;
            // Fail on unwritable outputs before running, not after.
            for path in report.iter().chain(trace.iter()) {
                std::fs::File::create(path)
                    .map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))?;
            }
            let out = cluster::run(
                c,
                RunOptions {
                    progress: !quiet,
                    durable_log,
                    ..Default::default()
                },
            )
            .map_err(|e| BadInput(e.to_string()))?;
            if let Some(path) = &report {
                write_report(path, &out)?;
            }
            if let Some(path) = &trace {
                write_trace(path, &out)?;
            }
            if !quiet {
                print_summary(&out);
            }
            if out.report.invariants.violations.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                for v in &out.report.invariants.violations {
                    eprintln!("invariant violated: {v}");
                }
                Ok(ExitCode::from(1))
            }
        }
    }
}

#[derive(serde::Serialize)]
struct FullReport<'a> {
    #[serde(flatten)]
    report: &'a chainlab::report::Report,
    messages: &'a chainlab_actors::transport::memory::NetStats,
    sig_cache: SigCacheStats,
}

#[derive(serde::Serialize)]
struct SigCacheStats {
    hits: u64,
    misses: u64,
}

fn write_report(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let full = FullReport {
        report: &out.report,
        messages: &out.net,
        sig_cache: SigCacheStats {
            hits: out.sig_cache.0,
            misses: out.sig_cache.1,
        },
    };
    let json = serde_json::to_string_pretty(&full)?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("cannot write report {}", path.display()))
}

fn write_trace(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("cannot create trace {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for e in &out.events {
        writeln!(w, "{}", e.to_json_line())?;
    }
    w.flush()
        .with_context(|| format!("cannot write trace {}", path.display()))
}

fn fmt_pct(p: &chainlab::report::Percentiles) -> String {
    format!(
        "{} / {} / {} s",
        fmt_opt(p.p50),
        fmt_opt(p.p90),
        fmt_opt(p.p99)
    )
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

fn print_summary(out: &RunOutput) {
    let r = &out.report;
    let b = &r.blocks;
    let t = &r.txs;
    let rows = [
        (
            "seed / clock / nodes",
            format!("{} / {} / {}", r.seed, r.clock, r.nodes),
        ),
        (
            "simulated / wall",
            format!(
                "{:.0}s + {:.0}s settle / {:.2}s",
                r.duration_s, r.settle_s, r.wall_s
            ),
        ),
        (
            "blocks mined / height",
            format!("{} / {}", b.mined, b.canonical_height),
        ),
        (
            "stale (rate) / forks",
            format!("{} ({:.3}) / {}", b.stale, b.stale_rate, b.forks),
        ),
        (
            "reorgs / max depth",
            format!("{} / {}", b.reorgs, b.max_reorg_depth),
        ),
        ("mean block interval", format!("{:.2}s", b.mean_interval_s)),
        ("propagation p50/p90/p99", fmt_pct(&r.propagation_s)),
        (
            "txs submitted / confirmed / rejected",
            format!("{} / {} / {}", t.submitted, t.confirmed, t.rejected),
        ),
        ("confirmed TPS", format!("{:.2}", t.tps)),
        ("confirm latency p50/p90/p99", fmt_pct(&t.confirm_latency_s)),
        (
            "converged / distinct tips",
            format!(
                "{} / {}",
                r.convergence.converged, r.convergence.distinct_tips
            ),
        ),
        (
            "tip",
            format!(
                "{}… at height {}",
                &r.convergence.tip.get(..16).unwrap_or(""),
                r.convergence.height
            ),
        ),
        (
            "invariants checked / violated",
            format!(
                "{} / {}",
                r.invariants.checked,
                r.invariants.violations.len()
            ),
        ),
        ("trace events", format!("{}", r.events)),
    ];
    let w = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    println!();
    for (k, v) in rows {
        println!("  {k:<w$}  {v}");
    }
    let sf = &r.safety;
    println!(
        "  {:<w$}  k={} violations={} max_reorg={} lost={} pending={} lost_on_crashed={}",
        "safety",
        sf.k,
        sf.common_prefix_violations.len(),
        sf.max_reorg_depth,
        sf.lost_txs,
        sf.pending_txs,
        sf.lost_txs_on_crashed_nodes
    );
    for f in &r.faults {
        let e = &f.effect;
        let mut line = format!(
            "at {} mined {} stale {} reorgs {} (max {})",
            f.at_s
                .map(|t| format!("{t:.1}s"))
                .unwrap_or_else(|| "never".into()),
            e.blocks_mined,
            e.stale,
            e.reorgs,
            e.max_reorg_depth
        );
        if let Some(until) = f.until_s {
            line += &format!(" until {until:.1}s");
        }
        if let Some(d) = e.dropped_messages {
            line += &format!(" dropped {d}");
        }
        if let Some(c) = e.convergence_s {
            line += &format!(" converged after {}", fmt_opt(c));
        }
        if let Some(c) = e.catch_up_s {
            line += &format!(" caught up after {}", fmt_opt(c));
        }
        println!("  {:<w$}  {line}", format!("fault {} {}", f.index, f.kind));
    }
    if let Some(d) = &out.data_dir {
        println!("  {:<w$}  {}", "data kept in", d.display());
    }
}
