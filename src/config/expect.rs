//! `[expect]`: what a scenario must show, as checks on its report ([`Expectations`]).
//!
//! ```toml
//! [expect]
//! converged = true                          # exact bool
//! "blocks.max_reorg_depth" = { max = 3 }    # range: min, max or both, inclusive
//! invariants.violations = 0                 # a list is checked by its length
//! txs.tps = { min = 40 }                    # a dotted key is a path too
//! ```
//!
//! Each key is a report path, full (`txs.tps`, `faults.0.effect.stale`) or the end of exactly
//! one full path (`tps`); it is resolved here, before the run, against the report's shape
//! ([`Schema::report`]), so an unknown, ambiguous or unsuitable path is a config error.
//! The checks are evaluated after the run by [`crate::report::expect::evaluate`].

use super::{invalid, ConfigError};
use crate::report::expect::{Check, Expected, Num};
use crate::report::schema::{Kind, Schema};
use serde::{Serialize, Serializer};

/// `[expect]`: the checks, in the order of their full paths.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Expectations {
    /// The checks, each with its resolved full path.
    pub checks: Vec<Check>,
}

impl Expectations {
    /// No checks.
    pub fn is_empty(&self) -> bool {
        self.checks.is_empty()
    }

    /// Parses the `[expect]` table of `file`.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming `expect.KEY` as written: a path the report lacks (with
    /// close names), an ambiguous end (with the candidates), a path to an object or text, a
    /// value that is not a number, a bool or a `{ min, max }` table of numbers, a bool
    /// expected of a number or the reverse, or two keys naming the same figure.
    pub fn parse(table: &toml::Table, file: &str) -> Result<Expectations, ConfigError> {
        let mut raw = Vec::new();
        flatten(table, "", &mut raw);
        let mut checks: Vec<Check> = Vec::new();
        for (key, value) in raw {
            let check = one(&key, value).map_err(|reason| ConfigError::Invalid {
                file: file.to_string(),
                key: format!("expect.{key}"),
                reason,
            })?;
            if checks.iter().any(|c| c.path == check.path) {
                return Err(ConfigError::Invalid {
                    file: file.to_string(),
                    key: format!("expect.{key}"),
                    reason: format!("{} is expected twice", check.path),
                });
            }
            checks.push(check);
        }
        checks.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Expectations { checks })
    }

    /// Checks what can be known before the run: a fault index within the scenario's
    /// `n_faults` faults; a proof-of-stake figure only in a proof-of-stake run (`validators`:
    /// its validator count, `None` for proof of work), a validator index within its validators.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the check.
    pub(crate) fn validate(
        &self,
        file: &str,
        n_faults: usize,
        validators: Option<usize>,
    ) -> Result<(), ConfigError> {
        for c in &self.checks {
            let mut segs = c.path.split('.');
            let top = segs.next().unwrap_or_default();
            let index = segs.next().and_then(|s| s.parse::<usize>().ok());
            let key = format!("expect.{}", c.path);
            match (top, validators, index) {
                ("faults", _, Some(i)) if i >= n_faults => {
                    return invalid(
                        file,
                        &key,
                        format!("the scenario has {n_faults} faults (indices from 0)"),
                    );
                }
                (t, None, _) if POS_ONLY.contains(&t) => {
                    return invalid(
                        file,
                        &key,
                        "a proof-of-stake figure, and this run is proof of work \
                         (consensus.kind = \"pow\")"
                            .into(),
                    );
                }
                ("validators", Some(n), Some(i)) if i >= n => {
                    return invalid(
                        file,
                        &key,
                        format!("the run has {n} validators (indices from 0)"),
                    );
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// Report entries only a proof-of-stake run has.
const POS_ONLY: &[&str] = &["slots", "validators", "finality", "equivocations"];

/// The leaves of `table` with their dotted keys: a sub-table is a path segment unless it
/// holds `min` or `max` (then it is a range).
fn flatten<'a>(table: &'a toml::Table, prefix: &str, out: &mut Vec<(String, &'a toml::Value)>) {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::Table(t)
                if !t.is_empty() && !t.contains_key("min") && !t.contains_key("max") =>
            {
                flatten(t, &key, out)
            }
            _ => out.push((key, v)),
        }
    }
}

/// One check from its key and value; the error is the reason.
fn one(key: &str, value: &toml::Value) -> Result<Check, String> {
    let schema = Schema::report();
    let r = schema.resolve(key).map_err(|e| e.to_string())?;
    let at = if r.path == key {
        String::new()
    } else {
        format!(" ({})", r.path)
    };
    let expected = expected(value)?;
    match (r.kind, &expected) {
        (Kind::Object, _) => Err(format!(
            "{}{at} is a table, not a figure; its fields: {}",
            key,
            schema.fields_under(&r.path).join(", ")
        )),
        (Kind::Text, _) => Err(format!("{key}{at} is text, not a number or bool")),
        (Kind::Bool, Expected::Bool(_)) => Ok(()),
        (Kind::Bool, _) => Err(format!("{key}{at} is a bool: expect true or false")),
        (Kind::Number | Kind::List, Expected::Bool(_)) => Err(format!(
            "{key}{at} is a number{}: expect a number or {{ min, max }}",
            if r.kind == Kind::List {
                " (a list's length)"
            } else {
                ""
            }
        )),
        (Kind::Number | Kind::List, _) => Ok(()),
    }?;
    Ok(Check {
        path: r.path,
        expected,
        absent_is_zero: r.map_key,
    })
}

/// The expectation a TOML value states.
fn expected(value: &toml::Value) -> Result<Expected, String> {
    match value {
        toml::Value::Boolean(b) => Ok(Expected::Bool(*b)),
        toml::Value::Integer(_) | toml::Value::Float(_) => Ok(Expected::Number(number(value)?)),
        toml::Value::Table(t) => {
            if let Some(k) = t.keys().find(|k| *k != "min" && *k != "max") {
                return Err(format!("unknown key `{k}` in a range (expected min, max)"));
            }
            let bound = |k: &str| t.get(k).map(number).transpose();
            let (min, max) = (bound("min")?, bound("max")?);
            if min.is_none() && max.is_none() {
                return Err("an empty range: give min, max or both".into());
            }
            if let (Some(a), Some(b)) = (min, max) {
                if a.as_f64() > b.as_f64() {
                    return Err(format!("min {a} is above max {b}"));
                }
            }
            Ok(Expected::Range { min, max })
        }
        other => Err(format!(
            "expected a number, a bool or {{ min = .., max = .. }}, found {}",
            other.type_str()
        )),
    }
}

/// A finite number.
fn number(v: &toml::Value) -> Result<Num, String> {
    match v {
        toml::Value::Integer(i) => Ok(Num::Int(*i)),
        toml::Value::Float(f) if f.is_finite() => Ok(Num::Float(*f)),
        toml::Value::Float(f) => Err(format!("{f} is not a finite number")),
        other => Err(format!(
            "min and max must be numbers, found {} {other}",
            other.type_str()
        )),
    }
}

/// As a table of full paths, the form [`Expectations::parse`] reads back (for a recorded
/// config).
impl Serialize for Expectations {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.checks.iter().map(|c| (&c.path, &c.expected)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Expectations, ConfigError> {
        Expectations::parse(&toml::from_str::<toml::Table>(text).unwrap(), "f.toml")
    }

    /// The reason of the error for `text`, with its key.
    fn refused(text: &str) -> (String, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid { key, reason, .. } => (key, reason),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn the_issue_example_parses_with_full_paths() {
        let e = parse(
            "converged = true\n\"blocks.max_reorg_depth\" = { max = 3 }\n\
             invariants.violations = 0\ntps = { min = 40 }\n\
             txs.inclusion_s.p90 = { min = 0.5, max = 30.0 }",
        )
        .unwrap();
        let got: Vec<(&str, String)> = e
            .checks
            .iter()
            .map(|c| (c.path.as_str(), c.expected.to_string()))
            .collect();
        assert_eq!(
            got,
            [
                ("blocks.max_reorg_depth", "<= 3".to_string()),
                ("convergence.converged", "= true".into()),
                ("invariants.violations", "= 0".into()),
                ("txs.inclusion_s.p90", "in [0.5, 30]".into()),
                ("txs.tps", ">= 40".into()),
            ]
        );
    }

    #[test]
    fn bad_paths_are_named_with_the_reason() {
        let (key, reason) = refused("txs.tpz = 3");
        assert_eq!(key, "expect.txs.tpz");
        assert!(reason.contains("txs.tps"), "{reason}");
        let (_, reason) = refused("max_reorg_depth = { max = 3 }");
        assert!(
            reason.contains("blocks.max_reorg_depth") && reason.contains("safety.max_reorg_depth"),
            "{reason}"
        );
        let (_, reason) = refused("blocks = 3");
        assert!(
            reason.contains("table") && reason.contains("mined"),
            "{reason}"
        );
        let (_, reason) = refused("clock = 1");
        assert!(reason.contains("text"), "{reason}");
        let (_, reason) = refused("stale_rate = true");
        assert!(reason.contains("number"), "{reason}");
        let (_, reason) = refused("converged = { min = 1 }");
        assert!(reason.contains("bool"), "{reason}");
    }

    #[test]
    fn bad_values_are_refused() {
        let cases = [
            ("tps = { min = \"x\" }", "must be numbers"),
            ("tps = { min = 5, max = 3 }", "above max"),
            ("tps = { min = 5, most = 3 }", "`most`"),
            ("tps = \"40\"", "found string"),
            ("tps = [1, 2]", "found array"),
            ("tps = nan", "finite"),
            ("tps = {}", "empty range"),
        ];
        for (text, needle) in cases {
            let (key, reason) = refused(text);
            assert_eq!(key, "expect.tps", "{text}");
            assert!(reason.contains(needle), "{text}: {reason}");
        }
        let (_, reason) = refused("tps = 1\n\"txs.tps\" = 2");
        assert!(reason.contains("twice"), "{reason}");
    }

    #[test]
    fn a_fault_index_past_the_scenario_is_refused() {
        let e = parse("faults.2.effect.stale = 0").unwrap();
        assert!(e.validate("f.toml", 3, None).is_ok());
        let err = e.validate("f.toml", 2, None).unwrap_err().to_string();
        assert!(
            err.contains("expect.faults.2.effect.stale") && err.contains("2 faults"),
            "{err}"
        );
    }

    #[test]
    fn a_proof_of_stake_figure_needs_a_proof_of_stake_run() {
        let e = parse(
            "finality.reverted = 0
slots.empty_share = { min = 0.9 }",
        )
        .unwrap();
        assert!(e.validate("f.toml", 0, Some(4)).is_ok());
        let err = e.validate("f.toml", 0, None).unwrap_err().to_string();
        assert!(
            err.contains("expect.finality.reverted") && err.contains("proof of work"),
            "{err}"
        );
        let e = parse("validators.3.produced = { min = 1 }").unwrap();
        assert!(e.validate("f.toml", 0, Some(4)).is_ok());
        let err = e.validate("f.toml", 0, Some(3)).unwrap_err().to_string();
        assert!(err.contains("3 validators"), "{err}");
    }

    #[test]
    fn serialized_expectations_parse_back_the_same() {
        let e = parse("tps = { min = 40 }\nconverged = true\nstale_rate = 0.25").unwrap();
        let text = toml::to_string(&toml::Table::from_iter([(
            "expect".to_string(),
            toml::Value::try_from(&e).unwrap(),
        )]))
        .unwrap();
        let back: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(
            parse(&toml::to_string(&back["expect"]).unwrap()).unwrap(),
            e
        );
    }
}
