//! The shape of the report, for naming its figures before a run: every dotted path a
//! [`Report`] can have, with what lies there ([`Kind`]), and the resolution of a path as a
//! scenario's `[expect]` writes it ([`Schema::resolve`]).
//!
//! The shape is read from a sample report ([`Report::sample`]) in which every optional value
//! is present, every list has one element and every map one key, `"*"` (any key): a default
//! report would hide what lies under a `null` or an empty list. The sample is written with
//! whole struct literals, so a field added to the report does not compile until the sample
//! gives it a value; a unit test checks that no `null`, empty list or empty map is left.

use super::{
    AdversaryStats, AdversaryTheory, BlockStats, CallbackStats, CatchUp, CommonPrefix, Connections,
    ContractStats, Convergence, Disagreement, Dropped, Equivocations, FaultEffect, FaultReport,
    Finality, FrontrunStats, HonestLoad, Invariants, NodeFailed, PerContract, Percentiles,
    Propagation, ReceiptStats, Report, Safety, SelfReorg, SelfReorgs, SlotTheory, Slots, SpamStats,
    TxStats, ValidatorStats, ViewValue,
};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// Top-level report fields that cannot be expected: the results of the expectations
/// themselves.
const NOT_EXPECTABLE: &[&str] = &["expectations"];

/// One segment of a schema path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seg {
    /// A field name.
    Key(String),
    /// Any element of a list: a number in a concrete path (`N` when shown).
    Index,
    /// Any key of a map (`*` when shown).
    AnyKey,
}

/// What lies at a path of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A number (possibly `null` in a run where it has no value, e.g. a percentile of nothing).
    Number,
    /// `true` or `false`.
    Bool,
    /// A list: checked by its length.
    List,
    /// A table of fields (not checkable).
    Object,
    /// Text (not checkable).
    Text,
}

/// A path of the report resolved by [`Schema::resolve`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The full dotted path, e.g. `txs.tps`.
    pub path: String,
    /// What lies there.
    pub kind: Kind,
    /// The last segment is a key of a count map (`connections.causes.*`): absent means 0.
    pub map_key: bool,
}

/// Why a path names no single figure of the report.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// Empty, or with an empty segment.
    #[error("not a dotted path")]
    Malformed,
    /// Nothing in the report has this path or ends with it.
    #[error("no report field is named so{}", suggest(.0))]
    Unknown(Vec<String>),
    /// More than one path ends with it.
    #[error("ambiguous: {} (write the full path)", .0.join(", "))]
    Ambiguous(Vec<String>),
    /// It names a figure of every element of a list: the element must be given.
    #[error("a figure of each list element; give the index, e.g. {}", .0.join(", "))]
    NeedsIndex(Vec<String>),
}

/// ` (did you mean a, b?)`, or nothing.
fn suggest(close: &[String]) -> String {
    if close.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", close.join(", "))
    }
}

/// Every path of the report and its kind.
#[derive(Debug)]
pub struct Schema {
    entries: Vec<(Vec<Seg>, Kind)>,
}

impl Schema {
    /// The schema of [`Report`], built once.
    pub fn report() -> &'static Schema {
        static SCHEMA: OnceLock<Schema> = OnceLock::new();
        SCHEMA.get_or_init(|| {
            let mut v = serde_json::to_value(Report::sample()).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                for k in NOT_EXPECTABLE {
                    m.remove(*k);
                }
            }
            Schema::of(&v)
        })
    }

    /// The schema of a sample value (see the module doc for what a sample must hold).
    fn of(sample: &Value) -> Schema {
        let mut entries = Vec::new();
        walk(sample, &mut Vec::new(), &mut entries);
        Schema { entries }
    }

    /// Resolves `path` as an expectation writes it: a full dotted path (`txs.tps`,
    /// `faults.0.effect.stale`, with list indices as numbers) or the end of exactly one full
    /// path (`tps`, `effect.stale` is not enough: it needs a fault's index). The first
    /// segment of such an end must be a field name.
    ///
    /// # Errors
    /// [`PathError`]: malformed, unknown (with close names), ambiguous (with the candidates),
    /// or a figure of each list element without the index.
    pub fn resolve(&self, path: &str) -> Result<Resolved, PathError> {
        let segs: Vec<&str> = path.split('.').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(PathError::Malformed);
        }
        if let Some((pattern, kind)) = self
            .entries
            .iter()
            .find(|(p, _)| p.len() == segs.len() && matches(p, &segs))
        {
            return Ok(resolved(pattern, &segs, *kind));
        }
        let ends: Vec<&(Vec<Seg>, Kind)> = self
            .entries
            .iter()
            .filter(|(p, _)| {
                p.len() > segs.len()
                    && matches!(&p[p.len() - segs.len()], Seg::Key(_))
                    && matches(&p[p.len() - segs.len()..], &segs)
            })
            .collect();
        let (whole, per_element): (Vec<_>, Vec<_>) = ends.into_iter().partition(|(p, _)| {
            p[..p.len() - segs.len()]
                .iter()
                .all(|s| matches!(s, Seg::Key(_)))
        });
        match whole.as_slice() {
            [(p, kind)] => {
                let mut full: Vec<&str> = p[..p.len() - segs.len()].iter().map(show).collect();
                full.extend(&segs);
                Ok(resolved(p, &full, *kind))
            }
            [] if per_element.is_empty() => Err(PathError::Unknown(self.close_to(path))),
            [] => Err(PathError::NeedsIndex(
                per_element.iter().map(|(p, _)| example(p)).collect(),
            )),
            many => Err(PathError::Ambiguous(
                many.iter().map(|(p, _)| example(p)).collect(),
            )),
        }
    }

    /// The fields directly under `path` (resolved), for an error about an object.
    pub fn fields_under(&self, path: &str) -> Vec<String> {
        let segs: Vec<&str> = path.split('.').collect();
        self.entries
            .iter()
            .filter(|(p, _)| p.len() == segs.len() + 1 && matches(&p[..segs.len()], &segs))
            .map(|(p, _)| show(&p[segs.len()]).to_string())
            .collect()
    }

    /// Up to three checkable paths whose last segment or whole is closest to `path`.
    fn close_to(&self, path: &str) -> Vec<String> {
        let leaf = path.rsplit('.').next().unwrap_or(path);
        let mut scored: Vec<(usize, String)> = self
            .entries
            .iter()
            .filter(|(_, k)| matches!(k, Kind::Number | Kind::Bool | Kind::List))
            .map(|(p, _)| {
                let full = example(p);
                let last = show(&p[p.len() - 1]);
                let d = distance(leaf, last).min(distance(path, &full));
                (d, full)
            })
            .filter(|(d, _)| *d <= 2.max(leaf.len() / 3))
            .collect();
        scored.sort();
        scored.dedup_by(|a, b| a.1 == b.1);
        scored.into_iter().take(3).map(|(_, p)| p).collect()
    }
}

/// Records every path under `v` (prefix `at`) with its kind.
fn walk(v: &Value, at: &mut Vec<Seg>, out: &mut Vec<(Vec<Seg>, Kind)>) {
    let kind = match v {
        Value::Object(m) => {
            for (k, child) in m {
                at.push(if k == "*" {
                    Seg::AnyKey
                } else {
                    Seg::Key(k.clone())
                });
                walk(child, at, out);
                at.pop();
            }
            Kind::Object
        }
        Value::Array(items) => {
            if let Some(first) = items.first() {
                at.push(Seg::Index);
                walk(first, at, out);
                at.pop();
            }
            Kind::List
        }
        Value::Bool(_) => Kind::Bool,
        Value::String(_) => Kind::Text,
        // A sample holds no null (unit test); a null would be a number without a value.
        Value::Number(_) | Value::Null => Kind::Number,
    };
    if !at.is_empty() {
        out.push((at.clone(), kind));
    }
}

/// Whether concrete segments `segs` fit `pattern` (same length).
fn matches(pattern: &[Seg], segs: &[&str]) -> bool {
    pattern.iter().zip(segs).all(|(p, s)| match p {
        Seg::Key(k) => k == s,
        Seg::Index => s.parse::<usize>().is_ok(),
        Seg::AnyKey => true,
    })
}

/// The resolution of concrete `segs` that fit `pattern`.
fn resolved(pattern: &[Seg], segs: &[&str], kind: Kind) -> Resolved {
    Resolved {
        path: segs.join("."),
        kind,
        map_key: matches!(pattern.last(), Some(Seg::AnyKey)),
    }
}

/// A segment as shown: the name, `N` for a list index, `*` for a map key.
fn show(s: &Seg) -> &str {
    match s {
        Seg::Key(k) => k,
        Seg::Index => "N",
        Seg::AnyKey => "*",
    }
}

/// A pattern as shown, e.g. `faults.N.effect.stale`.
fn example(p: &[Seg]) -> String {
    p.iter().map(show).collect::<Vec<_>>().join(".")
}

/// Levenshtein distance, by characters.
pub(crate) fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl Report {
    /// A report in which every optional figure has a value, every list one element and every
    /// map the key `"*"`: the shape [`Schema::report`] is read from. Its numbers mean nothing.
    pub fn sample() -> Report {
        let pct = Percentiles {
            p50: Some(1.0),
            p90: Some(1.0),
            p99: Some(1.0),
            samples: 1,
        };
        let pct_lag = pct.clone();
        Report {
            seed: 1,
            clock: "virtual".into(),
            nodes: 1,
            duration_s: 1.0,
            settle_s: 1.0,
            wall_s: 1.0,
            blocks: BlockStats {
                mined: 1,
                canonical_height: 1,
                stale: 1,
                stale_rate: 1.0,
                forks: 1,
                reorgs: 1,
                max_reorg_depth: 1,
                mean_interval_s: Some(1.0),
                final_difficulty: 1,
            },
            propagation_s: Propagation {
                full_s: pct.clone(),
                catch_up_s: pct.clone(),
            },
            txs: TxStats {
                submitted: 1,
                confirmed: 1,
                rejected: 1,
                tps: 1.0,
                inclusion_s: pct.clone(),
                confirmation_s: pct,
                pending: 1,
                nonce_gap: 1,
                on_competing_tip: 1,
                dropped: Dropped {
                    expired: 1,
                    evicted: 1,
                    replaced: 1,
                    unpayable: 1,
                    invalidated: 1,
                },
                lost_on_crashed_nodes: 1,
                lost: 1,
                refused_full: 1,
                pool_peak: 1,
            },
            convergence: Convergence {
                converged: true,
                distinct_tips: 1,
                tip: "00".into(),
                height: 1,
            },
            invariants: Invariants {
                checked: 1,
                violations: vec!["x".into()],
            },
            faults: vec![FaultReport {
                index: 0,
                kind: "partition".into(),
                node: Some(0),
                at_s: Some(1.0),
                until_s: Some(1.0),
                effect: FaultEffect {
                    blocks_mined: 1,
                    stale: 1,
                    reorgs: 1,
                    max_reorg_depth: 1,
                    dropped_messages: Some(1),
                    convergence_s: Some(Some(1.0)),
                    catch_up_s: Some(Some(1.0)),
                },
            }],
            failed_nodes: vec![NodeFailed {
                node: 0,
                t_s: 1.0,
                error: "x".into(),
            }],
            safety: Safety {
                k: 1,
                self_reorgs_k: SelfReorgs {
                    count: 1,
                    worst: Some(SelfReorg {
                        node: 0,
                        depth: 1,
                        t: 1.0,
                    }),
                },
                common_prefix: CommonPrefix {
                    checked: 1,
                    violations: 1,
                    worst: Some(Disagreement {
                        nodes: [0, 1],
                        depth: 1,
                        t: 1.0,
                    }),
                },
                max_reorg_depth: 1,
                convergence_s: vec![Some(1.0)],
                restarts: vec![CatchUp {
                    node: 0,
                    catch_up_s: Some(1.0),
                }],
            },
            connections: Connections {
                connected: 1,
                handshake_failed: 1,
                disconnected: 1,
                discouraged: 1,
                causes: BTreeMap::from([("*".to_string(), 1)]),
            },
            slots: Some(Slots {
                total: 1,
                empty: 1,
                single: 1,
                multi: 1,
                empty_share: 1.0,
                single_share: 1.0,
                multi_share: 1.0,
                theory: SlotTheory {
                    empty: 1.0,
                    single: 1.0,
                    multi: 1.0,
                },
            }),
            validators: Some(vec![ValidatorStats {
                validator: 0,
                node: 0,
                stake_share: 1.0,
                expected: 1.0,
                produced: 1,
                on_final_chain: 1,
            }]),
            finality: Some(Finality {
                finalized_height: 1,
                finalized_epoch: 1,
                lag_s: pct_lag.clone(),
                stalls: 1,
                stall_s: 1.0,
                reverted: 1,
            }),
            equivocations: Some(Equivocations {
                detected: 1,
                included: 1,
                slashed_stake: 1,
                slashed: vec![0],
            }),
            contracts: Some(ContractStats {
                deployed: 1,
                deploys_failed: 1,
                calls: 1,
                calls_failed: 1,
                receipts: ReceiptStats {
                    created: 1,
                    executed: 1,
                    failed: 1,
                    pending: 1,
                },
                callbacks: CallbackStats { ok: 1, err: 1 },
                out_of_gas: 1,
                gas_used: 1,
                receipt_delay_blocks: pct_lag,
                events: 1,
                by_contract: BTreeMap::from([(
                    "*".to_string(),
                    PerContract {
                        name: Some("token".into()),
                        executions: 1,
                        failed: 1,
                        gas: 1,
                    },
                )]),
                views: BTreeMap::from([(
                    "*".to_string(),
                    ViewValue {
                        value: Some(1),
                        hex: "01".into(),
                        error: Some("x".into()),
                    },
                )]),
                frontrun: Some(FrontrunStats {
                    victim_calls: 1,
                    attempts: 1,
                    missed: 1,
                    included: 1,
                    wins: 1,
                    victim_wins: 1,
                    win_rate: 1.0,
                    taken_rate: 1.0,
                }),
            }),
            adversaries: vec![AdversaryStats {
                kind: "selfish".into(),
                nodes: vec![1],
                hashpower: 1.0,
                effective_hash_share: 1.0,
                blocks_mined: 1,
                blocks_on_chain: 1,
                revenue_share: 1.0,
                withheld: 1,
                published: 1,
                gave_up: 1,
                gamma: Some(1.0),
                merchant: Some(1),
                confirmations: Some(1),
                give_up: Some(1),
                attempts: 1,
                successes: 1,
                success_rate: Some(1.0),
                achieved_interval_s: Some(1.0),
                target_interval_s: Some(1.0),
                time_warp_fix: Some(true),
                theory: Some(AdversaryTheory {
                    model: "eyal-sirer".into(),
                    revenue_share: Some(1.0),
                    revenue_share_range: Some([1.0, 1.0]),
                    success_rate: Some(1.0),
                    nakamoto: Some(1.0),
                    achieved_interval_s: Some(1.0),
                    achieved_interval_se_s: Some(1.0),
                    achieved_interval_bound_s: Some(1.0),
                }),
                eclipse: Some(super::EclipseStats {
                    victim: 1,
                    mode: "branch".into(),
                    delay_s: Some(1.0),
                    lag_mean: 1.0,
                    lag_max: 1,
                    network_height: 1,
                    victim_height: 1,
                    extra_delay_mean_s: Some(1.0),
                    blocks_received: 1,
                    blocks_missed: 1,
                    delayed: 1,
                    filtered: 1,
                    fed: 1,
                    confirmations: Some(1),
                    accepted: 1,
                    accept_time_mean_s: Some(1.0),
                    theory: Some(super::EclipseTheory {
                        lag_mean: Some(1.0),
                        accept_time_mean_s: Some(1.0),
                    }),
                }),
                spam: Some(SpamStats {
                    mode: "low-fee".into(),
                    txs_sent: 1,
                    txs_admitted_by_honest: 1,
                    txs_refused_by_honest: 1,
                    refused_by_flaw: BTreeMap::from([("*".to_string(), 1)]),
                    txs_on_chain: 1,
                    blocks_sent: 1,
                    block_deliveries: 1,
                    blocks_stored_by_honest: 1,
                    blocks_rejected_by_honest: 1,
                    blocks_not_processed: 1,
                    blocks_on_chain: 1,
                    honest_side_blocks_max: 1,
                    honest: HonestLoad {
                        submitted: 1,
                        confirmed: 1,
                        tps: 1.0,
                        latency_p50_s: Some(1.0),
                        latency_p90_s: Some(1.0),
                    },
                    without: Some(HonestLoad {
                        submitted: 1,
                        confirmed: 1,
                        tps: 1.0,
                        latency_p50_s: Some(1.0),
                        latency_p90_s: Some(1.0),
                    }),
                    tps_ratio: Some(1.0),
                    latency_ratio: Some(1.0),
                }),
            }],
            events: 1,
            expectations: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `null`, empty list and empty map under `v`, by path.
    fn holes(v: &Value, at: &str, out: &mut Vec<String>) {
        match v {
            Value::Null => out.push(at.to_string()),
            Value::Array(a) if a.is_empty() => out.push(at.to_string()),
            Value::Object(m) if m.is_empty() => out.push(at.to_string()),
            Value::Array(a) => a
                .iter()
                .enumerate()
                .for_each(|(i, x)| holes(x, &format!("{at}.{i}"), out)),
            Value::Object(m) => m
                .iter()
                .for_each(|(k, x)| holes(x, &format!("{at}.{k}"), out)),
            _ => {}
        }
    }

    #[test]
    fn the_sample_report_hides_no_shape() {
        let mut v = serde_json::to_value(Report::sample()).unwrap();
        v.as_object_mut().unwrap().remove("expectations");
        let mut found = Vec::new();
        holes(&v, "", &mut found);
        assert!(found.is_empty(), "the sample leaves out: {found:?}");
    }

    #[test]
    fn every_field_of_a_default_report_is_in_the_schema() {
        let s = Schema::report();
        let v = serde_json::to_value(Report::default()).unwrap();
        for (k, child) in v.as_object().unwrap() {
            if NOT_EXPECTABLE.contains(&k.as_str()) {
                continue;
            }
            assert!(s.resolve(k).is_ok(), "{k}");
            if let Value::Object(m) = child {
                for f in m.keys() {
                    assert!(s.resolve(&format!("{k}.{f}")).is_ok(), "{k}.{f}");
                }
            }
        }
    }

    #[test]
    fn full_paths_resolve_with_their_kind() {
        let s = Schema::report();
        let r = s.resolve("txs.tps").unwrap();
        assert_eq!((r.path.as_str(), r.kind), ("txs.tps", Kind::Number));
        assert_eq!(s.resolve("convergence.converged").unwrap().kind, Kind::Bool);
        assert_eq!(s.resolve("invariants.violations").unwrap().kind, Kind::List);
        assert_eq!(s.resolve("blocks").unwrap().kind, Kind::Object);
        assert_eq!(s.resolve("clock").unwrap().kind, Kind::Text);
        let f = s.resolve("faults.3.effect.convergence_s").unwrap();
        assert_eq!(
            (f.path.as_str(), f.kind),
            ("faults.3.effect.convergence_s", Kind::Number)
        );
        assert_eq!(s.resolve("finality.reverted").unwrap().kind, Kind::Number);
        assert_eq!(s.resolve("slots.empty").unwrap().kind, Kind::Number);
        assert_eq!(s.resolve("slots.theory.empty").unwrap().kind, Kind::Number);
        assert_eq!(s.resolve("equivocations.slashed").unwrap().kind, Kind::List);
        assert_eq!(
            s.resolve("validators.2.produced").unwrap().path,
            "validators.2.produced"
        );
        let c = s.resolve("connections.causes.timeout").unwrap();
        assert!(c.map_key);
        assert!(s.resolve("faults.x.effect.stale").is_err());
    }

    #[test]
    fn a_unique_end_resolves_to_its_full_path() {
        let s = Schema::report();
        assert_eq!(s.resolve("tps").unwrap().path, "txs.tps");
        assert_eq!(
            s.resolve("converged").unwrap().path,
            "convergence.converged"
        );
        assert_eq!(
            s.resolve("inclusion_s.p90").unwrap().path,
            "txs.inclusion_s.p90"
        );
        assert_eq!(
            s.resolve("causes.eof").unwrap().path,
            "connections.causes.eof"
        );
        assert_eq!(
            s.resolve("win_rate").unwrap().path,
            "contracts.frontrun.win_rate"
        );
        // `attempts` of the frontrun section is whole; the adversaries' need an index.
        assert_eq!(
            s.resolve("attempts").unwrap().path,
            "contracts.frontrun.attempts"
        );
        assert_eq!(
            s.resolve("adversaries.0.theory.success_rate").unwrap().kind,
            Kind::Number
        );
        assert_eq!(
            s.resolve("adversaries.0.theory.nakamoto").unwrap().kind,
            Kind::Number
        );
        assert_eq!(
            s.resolve("adversaries.1.successes").unwrap().kind,
            Kind::Number
        );
        assert_eq!(
            s.resolve("adversaries.0.achieved_interval_s").unwrap().kind,
            Kind::Number
        );
        assert_eq!(
            s.resolve("adversaries.0.theory.achieved_interval_s")
                .unwrap()
                .kind,
            Kind::Number
        );
        assert!(matches!(
            s.resolve("success_rate"),
            Err(PathError::NeedsIndex(_))
        ));
    }

    #[test]
    fn an_ambiguous_end_lists_the_candidates() {
        let e = Schema::report().resolve("max_reorg_depth").unwrap_err();
        assert_eq!(
            e,
            PathError::Ambiguous(vec![
                "blocks.max_reorg_depth".into(),
                "safety.max_reorg_depth".into()
            ])
        );
        assert!(matches!(
            Schema::report().resolve("p50"),
            Err(PathError::Ambiguous(_))
        ));
    }

    #[test]
    fn a_figure_of_each_fault_needs_the_index() {
        let e = Schema::report().resolve("blocks_mined").unwrap_err();
        assert_eq!(
            e,
            PathError::NeedsIndex(vec![
                "adversaries.N.blocks_mined".into(),
                "faults.N.effect.blocks_mined".into()
            ])
        );
    }

    #[test]
    fn an_unknown_path_suggests_close_ones() {
        let e = Schema::report().resolve("txs.tpz").unwrap_err();
        let PathError::Unknown(close) = &e else {
            panic!("{e}")
        };
        assert!(close.contains(&"txs.tps".to_string()), "{close:?}");
        assert!(e.to_string().contains("did you mean"), "{e}");
        // A map key alone is not a name: it does not match `connections.causes.*`.
        assert!(matches!(
            Schema::report().resolve("zzzzzzzz"),
            Err(PathError::Unknown(_))
        ));
        assert_eq!(
            Schema::report().resolve("txs..tps"),
            Err(PathError::Malformed)
        );
    }
}
