//! Collecting a sweep: each trial's report read from OUT/trials, its metrics and their theory
//! looked up, then OUT/trials.csv, summary.csv, summary.json and one SVG per metric written
//! and, unless quiet, the summary printed as a table.

use super::super::args::BadInput;
use super::{plot, TRIALS_DIR};
use chainlab::sweep::path::{lookup, theory};
use chainlab::sweep::table::{
    summarize, summary_csv, summary_json, trials_csv, SummaryRow, TrialRow,
};
use chainlab::sweep::Plan;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// Reads the reports of `plan`'s trials in `out` and writes the tables and plots there.
///
/// # Errors
/// A missing or damaged report, a report of another seed, a metric a report lacks, an
/// unwritable output.
pub fn collect(out: &Path, plan: &Plan, quiet: bool) -> Result<(), BadInput> {
    let rows = read_trials(out, plan)?;
    let summary = summarize(plan, &rows);
    let mut written = vec![
        write(out, "trials.csv", &trials_csv(plan, &rows))?,
        write(out, "summary.csv", &summary_csv(plan, &summary))?,
        write(out, "summary.json", &summary_json(plan, &summary))?,
    ];
    let mut names: Vec<(String, &str)> = Vec::new();
    for metric in &plan.metrics {
        let file = plot::file_name(metric);
        if let Some((_, other)) = names.iter().find(|(f, _)| *f == file) {
            return Err(BadInput(format!(
                "--metric {other} and --metric {metric} would both be plotted to {file}"
            )));
        }
        let mine: Vec<&SummaryRow> = summary.iter().filter(|r| &r.metric == metric).collect();
        let svg = plot::svg(plan, metric, &mine)
            .map_err(|e| BadInput(format!("cannot plot {metric}: {e}")))?;
        written.push(write(out, &file, &svg)?);
        names.push((file, metric));
    }
    if !quiet {
        print_table(plan, &summary);
        let files: Vec<String> = written.iter().map(|p| p.display().to_string()).collect();
        println!("wrote {}", files.join(", "));
    }
    Ok(())
}

/// Every trial's metrics and their theory, in grid then trial order.
fn read_trials(out: &Path, plan: &Plan) -> Result<Vec<TrialRow>, BadInput> {
    let dir = out.join(TRIALS_DIR);
    let mut rows = Vec::new();
    for point in plan.points() {
        for t in 0..plan.trials {
            let name = Plan::trial_name(point.index, t);
            let path = dir.join(format!("{name}.json"));
            let at = || format!("trial {name} ({})", path.display());
            let text = std::fs::read_to_string(&path).map_err(|e| {
                BadInput(format!(
                    "{}: cannot read its report: {e} (run every trial, e.g. the commands of \
                     --emit-jobs, before --collect)",
                    at()
                ))
            })?;
            let report: Value = serde_json::from_str(&text)
                .map_err(|e| BadInput(format!("{}: not a JSON report: {e}", at())))?;
            let seed = plan.seed(t);
            match report.get("seed").and_then(Value::as_u64) {
                Some(s) if s == seed => {}
                Some(s) => {
                    return Err(BadInput(format!(
                        "{}: a report of seed {s}, and this trial's seed is {seed} (a report of \
                         another sweep?)",
                        at()
                    )))
                }
                None => return Err(BadInput(format!("{}: the report has no seed", at()))),
            }
            let mut values = Vec::new();
            let mut theories = Vec::new();
            for m in &plan.metrics {
                let v = lookup(&report, m)
                    .map_err(|e| BadInput(format!("{}: --metric {m}: {e}", at())))?;
                values.push(v);
                theories.push(theory(&report, m));
            }
            rows.push(TrialRow {
                point: point.index,
                trial: t,
                seed,
                values,
                theory: theories,
            });
        }
    }
    Ok(rows)
}

/// Writes `text` to OUT/`name`, returning its path.
fn write(out: &Path, name: &str, text: &str) -> Result<PathBuf, BadInput> {
    let path = out.join(name);
    std::fs::write(&path, text)
        .map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// The summary as an aligned table on stdout: the varied values, the metric, n, the mean with
/// its 95% interval, and the theory where known.
fn print_table(plan: &Plan, rows: &[SummaryRow]) {
    let short = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{}", sig4(x)));
    let mut header: Vec<String> = plan.keys().iter().map(|k| k.to_string()).collect();
    header.extend(["metric", "n", "mean", "95% CI", "theory"].map(String::from));
    let mut table = vec![header];
    for r in rows {
        let mut line = r.values.clone();
        line.push(r.metric.clone());
        line.push(r.stats.n.to_string());
        line.push(short(r.stats.mean));
        line.push(r.stats.ci95.map_or("-".to_string(), |(lo, hi)| {
            format!("[{}, {}]", sig4(lo), sig4(hi))
        }));
        line.push(short(r.theory));
        table.push(line);
    }
    let widths: Vec<usize> = (0..table[0].len())
        .map(|c| {
            table
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for line in &table {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// `x` to 4 significant digits, for the printed table.
fn sig4(x: f64) -> f64 {
    format!("{x:.3e}").parse().unwrap_or(x)
}
