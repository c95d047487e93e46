//! The plan of a sweep (`sweep.json`) and its grid: the cartesian product of the varied keys'
//! values, the first key varying slowest, times the seeded trials of each point.

use super::SweepError;
use serde::{Deserialize, Serialize};

/// The version of `sweep.json` this code writes and reads.
pub const PLAN_FORMAT: u32 = 1;

/// One `--vary KEY=V1,V2,...`: a config key and the raw values it takes (each passed on as
/// `--set KEY=V`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vary {
    /// Dotted config key, e.g. `adversary.0.hashpower`.
    pub key: String,
    /// Its values, in the order given.
    pub values: Vec<String>,
}

impl Vary {
    /// Parses `KEY=V1,V2,...`. Commas inside brackets, braces or quotes do not split, so a
    /// value can be a TOML array or inline table (`pow.hashpower=[1,2],[2,1]`).
    ///
    /// # Errors
    /// [`SweepError::BadVary`]: no `=`, a bad key, an empty or repeated value, unbalanced
    /// brackets or quotes.
    pub fn parse(arg: &str) -> Result<Vary, SweepError> {
        let bad = |reason: &str| SweepError::BadVary {
            arg: arg.to_string(),
            reason: reason.to_string(),
        };
        let (key, list) = arg
            .split_once('=')
            .ok_or_else(|| bad("expected KEY=V1,V2,... (no `=`)"))?;
        let values = split_values(list).ok_or_else(|| bad("unbalanced brackets or quotes"))?;
        let v = Vary {
            key: key.trim().to_string(),
            values,
        };
        v.check().map_err(|reason| bad(&reason))?;
        Ok(v)
    }

    /// What is wrong with the key or the values, if anything.
    fn check(&self) -> Result<(), String> {
        if self.key.is_empty() || self.key.split('.').any(str::is_empty) {
            return Err(format!("`{}` is not a dotted config key", self.key));
        }
        if self.key.contains(char::is_whitespace) {
            return Err(format!("`{}`: a key has no spaces", self.key));
        }
        if self.key == "cluster.seed" {
            return Err(
                "the seed is not varied as a key: each point runs --trials seeds from the base \
                 (--seed)"
                    .into(),
            );
        }
        if self.values.is_empty() {
            return Err("no value".into());
        }
        for (i, v) in self.values.iter().enumerate() {
            if v.is_empty() {
                return Err(format!("value {} is empty (check the commas)", i + 1));
            }
            if self.values[..i].contains(v) {
                return Err(format!("value `{v}` is given twice"));
            }
        }
        Ok(())
    }
}

/// `list` split at the commas outside brackets, braces and quotes, each value trimmed; `None`
/// when a bracket or quote is unbalanced.
fn split_values(list: &str) -> Option<Vec<String>> {
    let mut values = Vec::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut start = 0;
    for (i, c) in list.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '{') => depth += 1,
            (None, ']' | '}') => {
                depth -= 1;
                if depth < 0 {
                    return None;
                }
            }
            (None, ',') if depth == 0 => {
                values.push(list[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 || quote.is_some() {
        return None;
    }
    values.push(list[start..].trim().to_string());
    Some(values)
}

/// The plan of a sweep, as `sweep.json` holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    /// [`PLAN_FORMAT`].
    pub format: u32,
    /// The config file (absolute path).
    pub config: String,
    /// `--set` overrides of every trial, applied before the varied keys.
    pub set: Vec<String>,
    /// The varied keys, the first varying slowest.
    pub vary: Vec<Vary>,
    /// Trials per point.
    pub trials: u32,
    /// Trial `t` of every point runs with seed `base_seed + t`.
    pub base_seed: u64,
    /// Report paths summarised.
    pub metrics: Vec<String>,
}

/// One point of the grid: a value for each varied key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Point {
    /// Its index in grid order (from 0).
    pub index: usize,
    /// Its values, one per varied key in the plan's order.
    pub values: Vec<String>,
}

impl Plan {
    /// Checks what a plan must hold: this format, at least one trial and one metric, metrics
    /// given once each and well formed, varied keys given once each with good values, seeds
    /// within `u64`, a grid whose size fits.
    ///
    /// # Errors
    /// [`SweepError`] naming the problem.
    pub fn check(&self) -> Result<(), SweepError> {
        if self.format != PLAN_FORMAT {
            return Err(SweepError::BadPlan(format!(
                "plan format {} is not {PLAN_FORMAT}, the one this chainlab reads",
                self.format
            )));
        }
        if self.trials == 0 {
            return Err(SweepError::BadPlan("--trials must be at least 1".into()));
        }
        if self.metrics.is_empty() {
            return Err(SweepError::BadPlan(
                "no --metric: name at least one report path, e.g. --metric blocks.stale_rate"
                    .into(),
            ));
        }
        for (i, m) in self.metrics.iter().enumerate() {
            super::path::check_syntax(m)?;
            if self.metrics[..i].contains(m) {
                return Err(SweepError::BadMetric {
                    path: m.clone(),
                    reason: "given twice".into(),
                });
            }
        }
        for (i, v) in self.vary.iter().enumerate() {
            let arg = || format!("{}={}", v.key, v.values.join(","));
            v.check()
                .map_err(|reason| SweepError::BadVary { arg: arg(), reason })?;
            if self.vary[..i].iter().any(|w| w.key == v.key) {
                return Err(SweepError::BadVary {
                    arg: arg(),
                    reason: format!("`{}` is varied twice", v.key),
                });
            }
        }
        if self
            .base_seed
            .checked_add(u64::from(self.trials - 1))
            .is_none()
        {
            return Err(SweepError::BadPlan(format!(
                "seeds from {} for {} trials go past the largest seed",
                self.base_seed, self.trials
            )));
        }
        let points = self
            .vary
            .iter()
            .try_fold(1usize, |n, v| n.checked_mul(v.values.len()));
        if points
            .and_then(|p| p.checked_mul(self.trials as usize))
            .is_none()
        {
            return Err(SweepError::BadPlan("the grid is too large".into()));
        }
        Ok(())
    }

    /// The varied keys, in order.
    pub fn keys(&self) -> Vec<&str> {
        self.vary.iter().map(|v| v.key.as_str()).collect()
    }

    /// The number of points (1 without varied keys).
    pub fn n_points(&self) -> usize {
        self.vary.iter().map(|v| v.values.len()).product()
    }

    /// Every point in grid order: the first varied key varies slowest, the last fastest
    /// (nested loops in the order of the `--vary` arguments).
    pub fn points(&self) -> Vec<Point> {
        (0..self.n_points())
            .map(|index| {
                let mut rest = index;
                let mut values: Vec<String> = self
                    .vary
                    .iter()
                    .rev()
                    .map(|v| {
                        let i = rest % v.values.len();
                        rest /= v.values.len();
                        v.values[i].clone()
                    })
                    .collect();
                values.reverse();
                Point { index, values }
            })
            .collect()
    }

    /// The seed of trial `t` (of every point): the base plus `t`.
    pub fn seed(&self, t: u32) -> u64 {
        self.base_seed.saturating_add(u64::from(t))
    }

    /// The name of trial `t` of point `p`, e.g. `p003-t017` (its report is
    /// `trials/p003-t017.json`).
    pub fn trial_name(p: usize, t: u32) -> String {
        format!("p{p:03}-t{t:03}")
    }

    /// The `--set` overrides of a trial at `point`: the plan's own, then `KEY=VALUE` for each
    /// varied key.
    pub fn overrides(&self, point: &Point) -> Vec<String> {
        self.set
            .iter()
            .cloned()
            .chain(
                self.vary
                    .iter()
                    .zip(&point.values)
                    .map(|(v, x)| format!("{}={x}", v.key)),
            )
            .collect()
    }

    /// `KEY=VALUE, ...` of `point`, or `(no --vary)` without varied keys.
    pub fn label(&self, point: &Point) -> String {
        if self.vary.is_empty() {
            return "(no --vary)".into();
        }
        self.vary
            .iter()
            .zip(&point.values)
            .map(|(v, x)| format!("{}={x}", v.key))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(vary: &[&str]) -> Plan {
        Plan {
            format: PLAN_FORMAT,
            config: "/c.toml".into(),
            set: vec!["cluster.nodes=4".into()],
            vary: vary.iter().map(|a| Vary::parse(a).unwrap()).collect(),
            trials: 3,
            base_seed: 40,
            metrics: vec!["blocks.stale_rate".into()],
        }
    }

    #[test]
    fn vary_values_split_at_top_level_commas() {
        let v = Vary::parse(" adversary.0.gamma = 0, 0.5 ,1").unwrap();
        assert_eq!(v.key, "adversary.0.gamma");
        assert_eq!(v.values, ["0", "0.5", "1"]);
        let v = Vary::parse("pow.hashpower=[1, 2],[2,1],{ skew = 1.0 },\"a,b\"").unwrap();
        assert_eq!(v.values, ["[1, 2]", "[2,1]", "{ skew = 1.0 }", "\"a,b\""]);
        assert_eq!(Vary::parse("k=x").unwrap().values, ["x"]);
    }

    #[test]
    fn bad_vary_arguments_are_named() {
        let cases = [
            ("consensus.block_interval", "no `=`"),
            ("=1,2", "not a dotted config key"),
            ("a..b=1", "not a dotted config key"),
            ("a.b=1,,2", "value 2 is empty"),
            ("a.b=1,2,", "value 3 is empty"),
            ("a.b=1,2,1", "`1` is given twice"),
            ("a.b=[1,2", "unbalanced"),
            ("a.b=1]", "unbalanced"),
            ("a.b=\"x", "unbalanced"),
            ("cluster.seed=1,2", "--trials"),
        ];
        for (arg, what) in cases {
            let e = Vary::parse(arg).unwrap_err();
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!("--vary {arg}: ")) && msg.contains(what),
                "{arg}: {msg}"
            );
        }
    }

    #[test]
    fn the_grid_is_the_product_with_the_first_key_slowest() {
        let p = plan(&["a.x=1,2,3", "b.y=u,v"]);
        p.check().unwrap();
        assert_eq!(p.n_points(), 6);
        let pts: Vec<Vec<String>> = p.points().into_iter().map(|p| p.values).collect();
        let want = [
            ["1", "u"],
            ["1", "v"],
            ["2", "u"],
            ["2", "v"],
            ["3", "u"],
            ["3", "v"],
        ];
        assert_eq!(pts, want.map(|w| w.map(String::from).to_vec()));
        let third = &p.points()[3];
        assert_eq!(third.index, 3);
        assert_eq!(p.overrides(third), ["cluster.nodes=4", "a.x=2", "b.y=v"]);
        assert_eq!(p.label(third), "a.x=2, b.y=v");
        assert_eq!((p.seed(0), p.seed(2)), (40, 42));
        assert_eq!(Plan::trial_name(3, 17), "p003-t017");
        assert_eq!(Plan::trial_name(1234, 5), "p1234-t005");
    }

    #[test]
    fn no_varied_key_is_one_point() {
        let p = plan(&[]);
        p.check().unwrap();
        let pts = p.points();
        assert_eq!(pts.len(), 1);
        assert!(pts[0].values.is_empty());
        assert_eq!(p.overrides(&pts[0]), ["cluster.nodes=4"]);
        assert_eq!(p.label(&pts[0]), "(no --vary)");
    }

    #[test]
    fn bad_plans_are_refused() {
        let mut p = plan(&["a.x=1,2", "a.x=3"]);
        assert!(p.check().unwrap_err().to_string().contains("varied twice"));
        p = plan(&[]);
        p.trials = 0;
        assert!(p.check().unwrap_err().to_string().contains("--trials"));
        p = plan(&[]);
        p.metrics.clear();
        assert!(p.check().unwrap_err().to_string().contains("no --metric"));
        p = plan(&[]);
        p.metrics = vec!["txs.tps".into(), "txs.tps".into()];
        assert!(p.check().unwrap_err().to_string().contains("twice"));
        p = plan(&[]);
        p.metrics = vec!["txs..tps".into()];
        assert!(p
            .check()
            .unwrap_err()
            .to_string()
            .contains("--metric txs..tps"));
        p = plan(&[]);
        p.base_seed = u64::MAX - 1;
        assert!(p.check().unwrap_err().to_string().contains("largest seed"));
        p.trials = 2;
        p.check().unwrap();
        p = plan(&[]);
        p.format = 2;
        assert!(p.check().unwrap_err().to_string().contains("format 2"));
    }

    #[test]
    fn a_plan_reads_back_from_its_json() {
        let p = plan(&["a.x=1,2", "b.y=[1,2],[3]"]);
        let text = serde_json::to_string_pretty(&p).unwrap();
        assert_eq!(serde_json::from_str::<Plan>(&text).unwrap(), p);
        let extra = text.replacen('{', "{\"bogus\": 1,", 1);
        assert!(serde_json::from_str::<Plan>(&extra).is_err());
    }
}
