//! `chainlab sweep`: run a config over a grid of `--vary` values, `--trials` seeds per point,
//! each trial a `chainlab run` child process, and summarise `--metric` figures of their
//! reports with 95% intervals, tables and plots (docs/sweeps.md).
//!
//! The plan, the grid, the statistics and the tables are the core's (`chainlab::sweep`); here
//! are the command line and the files (this file), the child processes and the progress bar
//! (`trials.rs`), reading the reports and writing the outputs (`collect.rs`), and the SVG
//! plots (`plot.rs`).

mod collect;
mod plot;
mod trials;

use super::args::{bad, BadInput, ConfigArgs};
use super::Outcome;
use chainlab::config::Config;
use chainlab::sweep::{path::check_metric, Plan, Vary, PLAN_FORMAT};
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The plan's file in OUT.
const PLAN_FILE: &str = "sweep.json";
/// The directory of the trials' reports in OUT.
const TRIALS_DIR: &str = "trials";

/// The arguments of `sweep`.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// TOML config file of every trial.
    #[arg(required_unless_present = "collect")]
    config: Option<PathBuf>,
    /// Vary a config key over values, e.g. adversary.0.hashpower=0.1,0.2,0.3 (repeatable: the
    /// grid is the product, the first --vary varying slowest; each value goes to --set as is).
    #[arg(long = "vary", value_name = "KEY=V1,V2,...")]
    vary: Vec<String>,
    /// Seeded trials per point: trial t runs with seed BASE + t [default: 10].
    #[arg(long, value_name = "N")]
    trials: Option<u32>,
    /// BASE, the seed of trial 0 [default: the config's cluster.seed].
    #[arg(long, value_name = "BASE")]
    seed: Option<u64>,
    /// A report figure to summarise by its dotted path, e.g. blocks.stale_rate or
    /// adversaries.0.revenue_share (repeatable, at least one; with --collect: instead of the
    /// plan's).
    #[arg(
        long = "metric",
        value_name = "PATH",
        required_unless_present = "collect"
    )]
    metrics: Vec<String>,
    /// Output directory: sweep.json, trials/, trials.csv, summary.csv, summary.json, one SVG per
    /// metric.
    #[arg(long, value_name = "DIR", required_unless_present = "collect")]
    out: Option<PathBuf>,
    /// Trials run at a time [default: the available parallelism].
    #[arg(long, value_name = "J")]
    jobs: Option<usize>,
    /// Write OUT/sweep.json and print one shell command per trial (for a batch scheduler);
    /// run nothing. Then `chainlab sweep --collect OUT`.
    #[arg(long)]
    emit_jobs: bool,
    /// Build the tables and plots of OUT from OUT/sweep.json and the reports in OUT/trials;
    /// run nothing.
    #[arg(
        long,
        value_name = "OUT",
        conflicts_with_all = ["config", "vary", "trials", "seed", "out", "jobs", "emit_jobs", "set"]
    )]
    collect: Option<PathBuf>,
    /// No progress bar and no summary table.
    #[arg(long)]
    quiet: bool,
    /// `--set` overrides of every trial, applied before the varied keys.
    #[command(flatten)]
    cfg: ConfigArgs,
}

/// Plans the sweep, then runs and collects it, prints its commands (`--emit-jobs`), or
/// collects a sweep run elsewhere (`--collect`).
///
/// # Errors
/// Bad arguments, a config or a varied value the config refuses (before any trial runs), an
/// unwritable output, a trial that failed (named, with its command and the end of its
/// stderr), a missing or damaged trial report, or a metric a report lacks.
pub fn sweep(a: SweepArgs) -> anyhow::Result<Outcome> {
    if let Some(out) = &a.collect {
        let mut plan = read_plan(out)?;
        if !a.metrics.is_empty() {
            plan.metrics = a.metrics.clone();
            check_plan(&plan)?;
        }
        collect::collect(out, &plan, a.quiet)?;
        return Ok(Outcome::Success);
    }
    let (Some(config), Some(out)) = (&a.config, &a.out) else {
        // clap requires both without --collect.
        return Err(BadInput("CONFIG and --out are required without --collect".into()).into());
    };
    let plan = plan(&a, config)?;
    let out = absolute(out, "--out")?;
    let trials_dir = out.join(TRIALS_DIR);
    std::fs::create_dir_all(&trials_dir)
        .map_err(|e| BadInput(format!("cannot create {}: {e}", trials_dir.display())))?;
    write_plan(&out, &plan)?;
    let exe = std::env::current_exe()
        .map_err(|e| BadInput(format!("cannot find this program's path: {e}")))?;
    let exe = utf8(&exe, "this program's path")?;
    let list = trials::list(&plan, exe, &trials_dir)?;
    if a.emit_jobs {
        let mut stdout = std::io::stdout().lock();
        for t in &list {
            match writeln!(stdout, "{}", t.shell_line()) {
                Ok(()) => {}
                // A reader that has had enough (`| head`) is no error.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
                Err(e) => return Err(BadInput(format!("cannot print the commands: {e}")).into()),
            }
        }
        return Ok(Outcome::Success);
    }
    let jobs = match a.jobs {
        Some(0) => return Err(BadInput("--jobs must be at least 1".into()).into()),
        Some(j) => j,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let done = trials::run_all(&list, jobs, !a.quiet)?;
    if done.checks_failed > 0 && !a.quiet {
        eprintln!(
            "note: {} of {} trials exited 1 (an unmet [expect] check or a violated invariant); \
             their reports are summarised like the others",
            done.checks_failed,
            list.len()
        );
    }
    collect::collect(&out, &plan, a.quiet)?;
    Ok(Outcome::Success)
}

/// The plan of a sweep from its arguments, checked: the `--vary` arguments parse, the config
/// and `--set` load, every point's values are accepted by the config, every metric is a report
/// figure.
fn plan(a: &SweepArgs, config: &Path) -> Result<Plan, BadInput> {
    let vary = a
        .vary
        .iter()
        .map(|v| Vary::parse(v).map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    let text = std::fs::read_to_string(config)
        .map_err(|e| BadInput(format!("cannot read config {}: {e}", config.display())))?;
    let label = config.display().to_string();
    let base = Config::parse(&text, &label, &a.cfg.set).map_err(bad)?;
    let plan = Plan {
        format: PLAN_FORMAT,
        config: utf8(&absolute(config, "the config")?, "the config path")?.to_string(),
        set: a.cfg.set.clone(),
        vary,
        trials: a.trials.unwrap_or(10),
        base_seed: a.seed.unwrap_or(base.cluster.seed),
        metrics: a.metrics.clone(),
    };
    check_plan(&plan)?;
    for point in plan.points() {
        let at = || format!("point {} ({}) of the grid", point.index, plan.label(&point));
        let c = Config::parse(&text, &label, &plan.overrides(&point))
            .map_err(|e| BadInput(format!("{}: {e}", at())))?;
        if !c.storage.data_dir.as_os_str().is_empty() {
            return Err(BadInput(format!(
                "{}: storage.data_dir = {:?}: the trials would share one store; leave it empty \
                 (each run then has a temporary one) or use storage.backend = \"memory\"",
                at(),
                c.storage.data_dir.display().to_string()
            )));
        }
    }
    Ok(plan)
}

/// Checks a plan and its metrics against the report's shape.
fn check_plan(plan: &Plan) -> Result<(), BadInput> {
    plan.check().map_err(bad)?;
    for m in &plan.metrics {
        check_metric(m).map_err(bad)?;
    }
    Ok(())
}

/// Writes OUT/sweep.json.
fn write_plan(out: &Path, plan: &Plan) -> Result<(), BadInput> {
    let path = out.join(PLAN_FILE);
    let json = serde_json::to_string_pretty(plan).map_err(bad)?;
    std::fs::write(&path, json + "\n")
        .map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))
}

/// Reads and checks OUT/sweep.json.
fn read_plan(out: &Path) -> Result<Plan, BadInput> {
    let path = out.join(PLAN_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        BadInput(format!(
            "cannot read {} ({e}): --collect takes the --out directory of a sweep",
            path.display()
        ))
    })?;
    let plan: Plan = serde_json::from_str(&text)
        .map_err(|e| BadInput(format!("{}: not a sweep plan: {e}", path.display())))?;
    check_plan(&plan).map_err(|e| BadInput(format!("{}: {e}", path.display())))?;
    Ok(plan)
}

/// `p` made absolute (against the working directory).
fn absolute(p: &Path, what: &str) -> Result<PathBuf, BadInput> {
    std::path::absolute(p).map_err(|e| {
        BadInput(format!(
            "{what} {}: cannot make it absolute: {e}",
            p.display()
        ))
    })
}

/// `p` as UTF-8 text (the commands and the plan hold paths as text).
fn utf8<'a>(p: &'a Path, what: &str) -> Result<&'a str, BadInput> {
    p.to_str()
        .ok_or_else(|| BadInput(format!("{what} {} is not UTF-8", p.display())))
}
