//! A sweep's metrics: dotted paths into a run's JSON report (`blocks.stale_rate`,
//! `adversaries.0.revenue_share`: a number indexes a list), checked against the report's shape
//! before a sweep runs ([`check_metric`]) and read off each trial's report ([`lookup`]), with
//! the theory value beside a figure ([`theory`]).

use super::SweepError;
use crate::report::schema::{distance, Kind, PathError, Schema};
use serde_json::Value;
use std::fmt;

/// Checks that `path` is a dotted path: no empty segment, no space.
///
/// # Errors
/// [`SweepError::BadMetric`].
pub fn check_syntax(path: &str) -> Result<(), SweepError> {
    if path.is_empty() || path.split('.').any(str::is_empty) || path.contains(char::is_whitespace) {
        return Err(SweepError::BadMetric {
            path: path.to_string(),
            reason:
                "not a dotted report path (e.g. blocks.stale_rate, adversaries.0.revenue_share)"
                    .into(),
        });
    }
    Ok(())
}

/// Checks `path` against the shape of the core's report ([`Schema::report`]) before any run:
/// it must be a whole path to a number, a bool or a list. A path whose first segment is not a
/// field of the core's report (`messages`, `sig_cache`: the binary adds them) passes here and
/// is checked in each trial's report.
///
/// # Errors
/// [`SweepError::BadMetric`]: malformed, unknown (with close names), the end of a path rather
/// than a whole one, a table or text.
pub fn check_metric(path: &str) -> Result<(), SweepError> {
    check_syntax(path)?;
    let bad = |reason: String| SweepError::BadMetric {
        path: path.to_string(),
        reason,
    };
    let schema = Schema::report();
    let top = path.split('.').next().unwrap_or(path);
    let top_known = schema.resolve(top).is_ok_and(|r| r.path == top);
    match schema.resolve(path) {
        Ok(r) if r.path != path => Err(bad(format!("write the whole path: {}", r.path))),
        Ok(r) => match r.kind {
            Kind::Number | Kind::Bool | Kind::List => Ok(()),
            Kind::Object => Err(bad(format!(
                "a table, not a figure; its fields: {}",
                schema.fields_under(path).join(", ")
            ))),
            Kind::Text => Err(bad("text, not a number".into())),
        },
        Err(PathError::Unknown(_)) if !top_known => Ok(()),
        Err(e) => Err(bad(e.to_string())),
    }
}

/// Why a report has no value at a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Missing {
    /// The path looked up.
    pub path: String,
    /// What the report holds instead.
    pub detail: String,
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "no figure at {}: {}", self.path, self.detail)
    }
}

impl std::error::Error for Missing {}

/// The number at `path` in `report`: a number as it is, `true`/`false` as 1/0 (a mean is then
/// a rate), a list by its length (as `[expect]` counts it), `null` as no value (`Ok(None)`:
/// a percentile without samples).
///
/// # Errors
/// [`Missing`] when the path leads nowhere or to text or a table: it says where the path
/// stops, with the nearest keys there.
pub fn lookup(report: &Value, path: &str) -> Result<Option<f64>, Missing> {
    let missing = |detail: String| Missing {
        path: path.to_string(),
        detail,
    };
    let segs: Vec<&str> = path.split('.').collect();
    let mut at = report;
    for (i, seg) in segs.iter().enumerate() {
        let here = if i == 0 {
            "the report".to_string()
        } else {
            format!("`{}`", segs[..i].join("."))
        };
        at = match at {
            Value::Object(m) => m.get(*seg).ok_or_else(|| {
                missing(format!(
                    "{here} has no `{seg}`{}",
                    nearest(seg, m.keys().map(String::as_str))
                ))
            })?,
            Value::Array(a) => match seg.parse::<usize>() {
                Err(_) => {
                    return Err(missing(format!(
                        "{here} is a list: `{seg}` is not an index"
                    )))
                }
                Ok(n) => a.get(n).ok_or_else(|| {
                    missing(format!(
                        "{here} has {} element{} (indices from 0)",
                        a.len(),
                        if a.len() == 1 { "" } else { "s" }
                    ))
                })?,
            },
            other => {
                return Err(missing(format!(
                    "{here} is {}, not a table or a list",
                    kind(other)
                )))
            }
        };
    }
    match at {
        Value::Number(n) => Ok(n.as_f64()),
        Value::Null => Ok(None),
        Value::Bool(b) => Ok(Some(if *b { 1.0 } else { 0.0 })),
        Value::Array(a) => Ok(Some(a.len() as f64)),
        Value::String(_) => Err(missing("it is text, not a number".into())),
        Value::Object(m) => Err(missing(format!(
            "it is a table, not a number; its fields: {}",
            m.keys().cloned().collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// What a JSON value is, for messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a table",
    }
}

/// ` (nearest: a, b, c)`: up to three of `keys` closest to `seg`, or nothing.
fn nearest<'a>(seg: &str, keys: impl Iterator<Item = &'a str>) -> String {
    let mut scored: Vec<(usize, &str)> = keys.map(|k| (distance(seg, k), k)).collect();
    scored.sort();
    let near: Vec<&str> = scored.into_iter().take(3).map(|(_, k)| k).collect();
    if near.is_empty() {
        String::new()
    } else {
        format!(" (nearest: {})", near.join(", "))
    }
}

/// Where the theory of the figure at `path` is: `X.theory.Y` for `X.Y`, `theory.Y` for `Y`.
pub fn theory_path(path: &str) -> String {
    match path.rsplit_once('.') {
        Some((x, y)) => format!("{x}.theory.{y}"),
        None => format!("theory.{path}"),
    }
}

/// The theory value of the figure at `path` in `report`, when it has a number there
/// ([`theory_path`]).
pub fn theory(report: &Value, path: &str) -> Option<f64> {
    lookup(report, &theory_path(path)).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn report() -> Value {
        json!({
            "blocks": { "canonical_height": 12, "stale_rate": 0.25, "stale": 3 },
            "convergence": { "converged": true },
            "invariants": { "violations": ["a", "b"] },
            "propagation_s": { "full_s": { "p50": null } },
            "clock": "virtual",
            "adversaries": [
                { "revenue_share": 0.4, "theory": { "model": "x", "revenue_share": 0.375 } }
            ]
        })
    }

    #[test]
    fn figures_are_read_by_dotted_path() {
        let r = report();
        assert_eq!(lookup(&r, "blocks.canonical_height"), Ok(Some(12.0)));
        assert_eq!(lookup(&r, "blocks.stale_rate"), Ok(Some(0.25)));
        assert_eq!(lookup(&r, "adversaries.0.revenue_share"), Ok(Some(0.4)));
        assert_eq!(lookup(&r, "convergence.converged"), Ok(Some(1.0)));
        assert_eq!(lookup(&r, "invariants.violations"), Ok(Some(2.0)));
        assert_eq!(lookup(&r, "propagation_s.full_s.p50"), Ok(None));
    }

    #[test]
    fn a_missing_figure_says_where_the_path_stops() {
        let r = report();
        let cases = [
            (
                "blocks.stale_rat",
                "`blocks` has no `stale_rat` (nearest: stale_rate, stale,",
            ),
            ("block.stale", "the report has no `block` (nearest: blocks,"),
            (
                "adversaries.1.revenue_share",
                "`adversaries` has 1 element (indices from 0)",
            ),
            (
                "adversaries.first",
                "`adversaries` is a list: `first` is not an index",
            ),
            ("clock.x", "`clock` is text, not a table or a list"),
            ("clock", "it is text"),
            (
                "blocks",
                "it is a table, not a number; its fields: canonical_height",
            ),
        ];
        for (path, detail) in cases {
            let e = lookup(&r, path).unwrap_err();
            assert_eq!(e.path, path);
            assert!(e.detail.contains(detail), "{path}: {e}");
            assert!(e.to_string().contains(path));
        }
    }

    #[test]
    fn theory_sits_beside_the_figure() {
        let r = report();
        assert_eq!(
            theory_path("adversaries.0.revenue_share"),
            "adversaries.0.theory.revenue_share"
        );
        assert_eq!(theory_path("tps"), "theory.tps");
        assert_eq!(theory(&r, "adversaries.0.revenue_share"), Some(0.375));
        assert_eq!(theory(&r, "blocks.stale_rate"), None);
    }

    #[test]
    fn metrics_are_checked_against_the_report_shape() {
        for ok in [
            "blocks.canonical_height",
            "blocks.stale_rate",
            "txs.confirmed",
            "adversaries.0.revenue_share",
            "adversaries.3.theory.revenue_share",
            "convergence.converged",
            "invariants.violations",
            "messages.sent",
        ] {
            assert_eq!(check_metric(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("blocks.stale_rat", "did you mean blocks.stale_rate"),
            ("stale_rate", "write the whole path: blocks.stale_rate"),
            ("blocks", "a table, not a figure; its fields:"),
            ("clock", "text"),
            ("blocks..x", "not a dotted report path"),
        ];
        for (path, what) in cases {
            let e = check_metric(path).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--metric {path}: ")) && e.contains(what),
                "{e}"
            );
        }
    }
}
