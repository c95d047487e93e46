//! A scenario's expectations, checked against its report: what a check is ([`Check`]:
//! a report path and an exact value or a range) and what it found ([`Expectation`], the
//! report's `expectations` list). The `[expect]` section is parsed into checks by
//! `config::expect`, which resolves each path with [`super::schema::Schema`] before a run.

use super::Report;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// A number as the config wrote it (an integer stays an integer in the report).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Num {
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
}

impl Num {
    /// As a float, for comparisons.
    pub fn as_f64(self) -> f64 {
        match self {
            Num::Int(i) => i as f64,
            Num::Float(f) => f,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::Int(i) => write!(f, "{i}"),
            Num::Float(x) => write!(f, "{x}"),
        }
    }
}

/// What a check demands of the value at its path.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Expected {
    /// Exactly this number (compared as a float).
    Number(Num),
    /// Exactly this boolean.
    Bool(bool),
    /// At least `min` and at most `max` (at least one is given).
    Range {
        /// Lower bound, inclusive.
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<Num>,
        /// Upper bound, inclusive.
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<Num>,
    },
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Number(n) => write!(f, "= {n}"),
            Expected::Bool(b) => write!(f, "= {b}"),
            Expected::Range {
                min: Some(a),
                max: Some(b),
            } => write!(f, "in [{a}, {b}]"),
            Expected::Range { min: Some(a), .. } => write!(f, ">= {a}"),
            Expected::Range { max: Some(b), .. } => write!(f, "<= {b}"),
            Expected::Range { .. } => write!(f, "anything"),
        }
    }
}

/// One expectation of a scenario: a resolved report path and what it must hold.
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// Full dotted path, e.g. `txs.tps` or `faults.1.effect.convergence_s`.
    pub path: String,
    /// What the value must be.
    pub expected: Expected,
    /// The path ends in a key of a count map (`connections.causes.*`): absent counts as 0.
    pub absent_is_zero: bool,
}

/// One entry of the report's `expectations`: a check, the value seen, and whether it held.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Expectation {
    /// The full path checked.
    pub check: String,
    /// What it had to be: a number or bool (exact), or `{min, max}`.
    pub expected: Expected,
    /// The value at the end of the run (a list: its length); `null` when the report has no
    /// value there (a percentile without samples, a fault index past the end).
    pub seen: Value,
    /// Whether it held.
    pub pass: bool,
}

impl Expectation {
    /// The line `chainlab run` prints for an unmet expectation.
    pub fn failure_line(&self) -> String {
        let seen = if self.seen.is_null() {
            "no value (null or absent in the report)".to_string()
        } else {
            self.seen.to_string()
        };
        format!(
            "expectation unmet: {} is {seen}, expected {}",
            self.check, self.expected
        )
    }
}

impl Check {
    /// Checks this expectation against `report` (as JSON, see [`evaluate`]).
    fn against(&self, report: &Value) -> Expectation {
        let mut at = Some(report);
        for seg in self.path.split('.') {
            at = at.and_then(|v| match v {
                Value::Object(m) => m.get(seg),
                Value::Array(a) => seg.parse::<usize>().ok().and_then(|i| a.get(i)),
                _ => None,
            });
        }
        let seen = match at {
            None if self.absent_is_zero => Value::from(0),
            None => Value::Null,
            Some(Value::Array(a)) => Value::from(a.len()),
            Some(v) => v.clone(),
        };
        let pass = match (&self.expected, &seen) {
            (Expected::Bool(b), Value::Bool(s)) => b == s,
            (Expected::Number(n), Value::Number(s)) => s.as_f64() == Some(n.as_f64()),
            (Expected::Range { min, max }, Value::Number(s)) => s.as_f64().is_some_and(|x| {
                min.is_none_or(|m| x >= m.as_f64()) && max.is_none_or(|m| x <= m.as_f64())
            }),
            _ => false,
        };
        Expectation {
            check: self.path.clone(),
            expected: self.expected.clone(),
            seen,
            pass,
        }
    }
}

/// Checks every expectation against `report`, in order. A value that is `null` or absent at
/// the end of the run fails its check.
pub fn evaluate(checks: &[Check], report: &Report) -> Vec<Expectation> {
    if checks.is_empty() {
        return Vec::new();
    }
    let json = serde_json::to_value(report).unwrap_or(Value::Null);
    checks.iter().map(|c| c.against(&json)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str, expected: Expected) -> Check {
        Check {
            path: path.into(),
            expected,
            absent_is_zero: path.starts_with("connections.causes."),
        }
    }

    fn range(min: Option<i64>, max: Option<i64>) -> Expected {
        Expected::Range {
            min: min.map(Num::Int),
            max: max.map(Num::Int),
        }
    }

    #[test]
    fn exact_values_and_ranges_hold_or_fail() {
        let mut r = Report::default();
        r.txs.tps = 41.5;
        r.convergence.converged = true;
        r.blocks.max_reorg_depth = 4;
        let got = evaluate(
            &[
                check("txs.tps", range(Some(40), None)),
                check("txs.tps", range(Some(42), None)),
                check("convergence.converged", Expected::Bool(true)),
                check("blocks.max_reorg_depth", range(None, Some(3))),
                check("blocks.max_reorg_depth", Expected::Number(Num::Int(4))),
                check("blocks.max_reorg_depth", range(Some(4), Some(4))),
            ],
            &r,
        );
        let pass: Vec<bool> = got.iter().map(|e| e.pass).collect();
        assert_eq!(pass, [true, false, true, false, true, true]);
        assert_eq!(got[0].seen, serde_json::json!(41.5));
        assert_eq!(
            got[3].failure_line(),
            "expectation unmet: blocks.max_reorg_depth is 4, expected <= 3"
        );
    }

    #[test]
    fn a_list_is_checked_by_its_length() {
        let mut r = Report::default();
        let zero = evaluate(&[check("invariants.violations", range(None, Some(0)))], &r);
        assert!(zero[0].pass);
        r.invariants.violations.push("broken".into());
        let one = evaluate(
            &[check(
                "invariants.violations",
                Expected::Number(Num::Int(0)),
            )],
            &r,
        );
        assert_eq!((one[0].pass, &one[0].seen), (false, &serde_json::json!(1)));
    }

    #[test]
    fn null_or_absent_fails_and_says_so() {
        let r = Report::default();
        let got = evaluate(
            &[
                check("txs.confirm_latency_s.p90", range(None, Some(10))),
                check("faults.0.effect.stale", range(None, Some(10))),
                check("connections.causes.eof", Expected::Number(Num::Int(0))),
            ],
            &r,
        );
        assert!(!got[0].pass && !got[1].pass, "{got:?}");
        assert!(
            got[0].failure_line().contains("no value"),
            "{}",
            got[0].failure_line()
        );
        // An absent key of a count map counts zero.
        assert!(got[2].pass);
    }

    #[test]
    fn a_run_fails_on_an_unmet_expectation_or_a_violated_invariant_only() {
        let mut r = Report::default();
        assert!(!r.failed(), "no expectations, no violations");
        r.check(&[check("txs.submitted", Expected::Number(Num::Int(0)))]);
        assert!(!r.failed());
        r.check(&[check("txs.submitted", range(Some(1), None))]);
        assert!(r.failed());
        r.check(&[]);
        r.invariants.violations.push("x".into());
        assert!(r.failed());
    }

    #[test]
    fn the_report_lists_expected_and_seen_as_json() {
        let r = Report::default();
        let got = evaluate(&[check("txs.confirmed", range(Some(1), Some(9)))], &r);
        assert_eq!(
            serde_json::to_value(&got).unwrap(),
            serde_json::json!([{
                "check": "txs.confirmed",
                "expected": { "min": 1, "max": 9 },
                "seen": 0,
                "pass": false
            }])
        );
    }
}
