//! The tables a sweep writes: `trials.csv` (a row per trial), and `summary.csv` and
//! `summary.json` (a row per point and metric: mean, standard deviation, 95% interval,
//! theory). Rows come in grid order, then trial or metric order; numbers are printed by
//! [`fmt_num`], so the same trials give the same bytes.

use super::stats::{fmt_num, round_sig, Summary};
use super::Plan;
use serde::Serialize;
use std::collections::BTreeMap;

/// What one trial's report gave.
#[derive(Clone, Debug, PartialEq)]
pub struct TrialRow {
    /// Its point's index.
    pub point: usize,
    /// Its index within the point.
    pub trial: u32,
    /// Its seed.
    pub seed: u64,
    /// Each metric's value, in the plan's order (`None`: `null` in the report).
    pub values: Vec<Option<f64>>,
    /// Each metric's theory value, where the report has one.
    pub theory: Vec<Option<f64>>,
}

/// One point's figures for one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The point's index.
    pub point: usize,
    /// Its values of the varied keys.
    pub values: Vec<String>,
    /// The metric.
    pub metric: String,
    /// Its trials' statistics (trials with a `null` value left out).
    pub stats: Summary,
    /// The mean of its trials' theory values, when they have one.
    pub theory: Option<f64>,
}

/// A row per point and metric, in grid then metric order, from `rows` (any order).
pub fn summarize(plan: &Plan, rows: &[TrialRow]) -> Vec<SummaryRow> {
    let mut out = Vec::new();
    for point in plan.points() {
        let mut mine: Vec<&TrialRow> = rows.iter().filter(|r| r.point == point.index).collect();
        mine.sort_by_key(|r| r.trial);
        for (j, metric) in plan.metrics.iter().enumerate() {
            let xs: Vec<f64> = mine
                .iter()
                .filter_map(|r| r.values.get(j).copied().flatten())
                .collect();
            let th: Vec<f64> = mine
                .iter()
                .filter_map(|r| r.theory.get(j).copied().flatten())
                .collect();
            out.push(SummaryRow {
                point: point.index,
                values: point.values.clone(),
                metric: metric.clone(),
                stats: Summary::of(&xs),
                theory: Summary::of(&th).mean,
            });
        }
    }
    out
}

/// `trials.csv`: `point,trial,seed`, the varied keys, the metrics; a row per trial in grid then
/// trial order (an empty cell for `null`).
pub fn trials_csv(plan: &Plan, rows: &[TrialRow]) -> String {
    let points = plan.points();
    let mut sorted: Vec<&TrialRow> = rows.iter().collect();
    sorted.sort_by_key(|r| (r.point, r.trial));
    let mut header = vec!["point".to_string(), "trial".into(), "seed".into()];
    header.extend(plan.vary.iter().map(|v| v.key.clone()));
    header.extend(plan.metrics.iter().cloned());
    let mut out = csv_line(&header);
    for r in sorted {
        let mut cells = vec![r.point.to_string(), r.trial.to_string(), r.seed.to_string()];
        if let Some(p) = points.get(r.point) {
            cells.extend(p.values.iter().cloned());
        }
        cells.extend(r.values.iter().map(|v| v.map(fmt_num).unwrap_or_default()));
        out += &csv_line(&cells);
    }
    out
}

/// `summary.csv`: `point`, the varied keys, `metric,n,mean,sd,ci95_low,ci95_high,theory`
/// (empty cells where there is no value).
pub fn summary_csv(plan: &Plan, rows: &[SummaryRow]) -> String {
    let mut header = vec!["point".to_string()];
    header.extend(plan.vary.iter().map(|v| v.key.clone()));
    header.extend(
        [
            "metric",
            "n",
            "mean",
            "sd",
            "ci95_low",
            "ci95_high",
            "theory",
        ]
        .map(String::from),
    );
    let num = |x: Option<f64>| x.map(fmt_num).unwrap_or_default();
    let mut out = csv_line(&header);
    for r in rows {
        let mut cells = vec![r.point.to_string()];
        cells.extend(r.values.iter().cloned());
        cells.extend([
            r.metric.clone(),
            r.stats.n.to_string(),
            num(r.stats.mean),
            num(r.stats.sd),
            num(r.stats.ci95.map(|c| c.0)),
            num(r.stats.ci95.map(|c| c.1)),
            num(r.theory),
        ]);
        out += &csv_line(&cells);
    }
    out
}

/// `summary.json`.
#[derive(Serialize)]
struct SummaryJson<'a> {
    /// The varied keys, in order.
    keys: Vec<&'a str>,
    /// Trials per point.
    trials: u32,
    /// The seed of trial 0.
    base_seed: u64,
    rows: Vec<RowJson<'a>>,
}

/// One row of `summary.json`.
#[derive(Serialize)]
struct RowJson<'a> {
    point: usize,
    /// Key to value (the raw text given to `--set`).
    values: BTreeMap<&'a str, &'a str>,
    metric: &'a str,
    n: usize,
    mean: Option<f64>,
    sd: Option<f64>,
    ci95_low: Option<f64>,
    ci95_high: Option<f64>,
    theory: Option<f64>,
}

/// `summary.json`: `{keys, trials, base_seed, rows: [{point, values: {key: value}, metric, n,
/// mean, sd, ci95_low, ci95_high, theory}]}`, `null` where there is no value; pretty, with a
/// final newline.
pub fn summary_json(plan: &Plan, rows: &[SummaryRow]) -> String {
    let round = |x: Option<f64>| x.map(round_sig);
    let doc = SummaryJson {
        keys: plan.keys(),
        trials: plan.trials,
        base_seed: plan.base_seed,
        rows: rows
            .iter()
            .map(|r| RowJson {
                point: r.point,
                values: plan
                    .vary
                    .iter()
                    .zip(&r.values)
                    .map(|(v, x)| (v.key.as_str(), x.as_str()))
                    .collect(),
                metric: &r.metric,
                n: r.stats.n,
                mean: round(r.stats.mean),
                sd: round(r.stats.sd),
                ci95_low: round(r.stats.ci95.map(|c| c.0)),
                ci95_high: round(r.stats.ci95.map(|c| c.1)),
                theory: round(r.theory),
            })
            .collect(),
    };
    // A struct of strings, numbers and options always serialises.
    serde_json::to_string_pretty(&doc).unwrap_or_default() + "\n"
}

/// One CSV line (RFC 4180: a cell with a comma, a quote, a line break or outer spaces is
/// quoted, its quotes doubled), ending in `\n`.
fn csv_line(cells: &[String]) -> String {
    let quoted: Vec<String> = cells
        .iter()
        .map(|c| {
            if c.contains([',', '"', '\n', '\r']) || c.trim() != c {
                format!("\"{}\"", c.replace('"', "\"\""))
            } else {
                c.clone()
            }
        })
        .collect();
    quoted.join(",") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::{Vary, PLAN_FORMAT};

    fn plan() -> Plan {
        Plan {
            format: PLAN_FORMAT,
            config: "/c.toml".into(),
            set: vec![],
            vary: vec![
                Vary::parse("a.x=1,2").unwrap(),
                Vary::parse("pow.hashpower=[1,2]").unwrap(),
            ],
            trials: 2,
            base_seed: 7,
            metrics: vec!["m.one".into(), "m.two".into()],
        }
    }

    fn row(point: usize, trial: u32, one: Option<f64>, two: f64) -> TrialRow {
        TrialRow {
            point,
            trial,
            seed: 7 + u64::from(trial),
            values: vec![one, Some(two)],
            theory: vec![None, Some(0.5)],
        }
    }

    fn rows() -> Vec<TrialRow> {
        // Out of order on purpose: the tables sort.
        vec![
            row(1, 1, Some(4.0), 0.3),
            row(0, 0, Some(1.0), 0.1),
            row(1, 0, None, 0.2),
            row(0, 1, Some(2.0), 0.2),
        ]
    }

    #[test]
    fn trials_csv_has_a_row_per_trial_in_grid_order() {
        let csv = trials_csv(&plan(), &rows());
        assert_eq!(
            csv,
            "point,trial,seed,a.x,pow.hashpower,m.one,m.two\n\
             0,0,7,1,\"[1,2]\",1,0.1\n\
             0,1,8,1,\"[1,2]\",2,0.2\n\
             1,0,7,2,\"[1,2]\",,0.2\n\
             1,1,8,2,\"[1,2]\",4,0.3\n"
        );
    }

    #[test]
    fn the_summary_has_a_row_per_point_and_metric() {
        let p = plan();
        let s = summarize(&p, &rows());
        assert_eq!(s.len(), 4);
        let got: Vec<(usize, &str, usize)> = s
            .iter()
            .map(|r| (r.point, r.metric.as_str(), r.stats.n))
            .collect();
        assert_eq!(
            got,
            [
                (0, "m.one", 2),
                (0, "m.two", 2),
                (1, "m.one", 1),
                (1, "m.two", 2)
            ]
        );
        assert_eq!(s[0].stats.mean, Some(1.5));
        assert_eq!(s[0].theory, None);
        assert_eq!(s[1].theory, Some(0.5));
        let csv = summary_csv(&p, &s);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "point,a.x,pow.hashpower,metric,n,mean,sd,ci95_low,ci95_high,theory"
        );
        // sd of 1, 2: 1/sqrt 2; half-width 12.7062 * 0.5.
        assert!(
            lines[1].starts_with("0,1,\"[1,2]\",m.one,2,1.5,0.7071067812,-4.85"),
            "{}",
            lines[1]
        );
        assert!(lines[1].ends_with(','), "no theory: {}", lines[1]);
        assert_eq!(lines[3], "1,2,\"[1,2]\",m.one,1,4,,,,");
        let json: serde_json::Value = serde_json::from_str(&summary_json(&p, &s)).unwrap();
        assert_eq!(json["keys"], serde_json::json!(["a.x", "pow.hashpower"]));
        assert_eq!(json["rows"][2]["n"], 1);
        assert_eq!(json["rows"][2]["sd"], serde_json::Value::Null);
        assert_eq!(json["rows"][2]["values"]["a.x"], "2");
        assert_eq!(json["rows"][1]["theory"], 0.5);
        assert_eq!(json["rows"][1]["mean"], 0.15);
    }

    #[test]
    fn csv_cells_are_quoted_when_they_must_be() {
        assert_eq!(
            csv_line(&["a".into(), "b,c".into(), "say \"x\"".into(), " y".into()]),
            "a,\"b,c\",\"say \"\"x\"\"\",\" y\"\n"
        );
    }
}
