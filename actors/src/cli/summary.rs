//! The table `chainlab run` prints after a run: one aligned row per figure, then safety, one
//! row per fault, one per `[expect]` check, and where the data was kept.

use super::summary_pos::pos_rows;
use chainlab::report::{FaultReport, Percentiles, Report};
use chainlab_actors::cluster::RunOutput;

/// Prints the summary of `out` to stdout, after a blank line.
pub fn print_summary(out: &RunOutput) {
    let r = &out.report;
    let rows = rows(r);
    let mut pos = pos_rows(r);
    if r.txs.refused_full > 0 {
        // Only when a pool filled up: the usual table stays as it was.
        pos.push((
            "txs refused (pool full) / pool peak".to_string(),
            format!("{} / {}", r.txs.refused_full, r.txs.pool_peak),
        ));
    }
    pos.extend(contract_rows(r));
    pos.extend(adversary_rows(r));
    let w = rows
        .iter()
        .map(|(k, _)| k.len())
        .chain(pos.iter().map(|(k, _)| k.chars().count()))
        .chain(
            r.expectations
                .iter()
                .map(|e| "expect ".len() + e.check.len()),
        )
        .max()
        .unwrap_or(0);
    println!();
    for (k, v) in rows {
        println!("  {k:<w$}  {v}");
    }
    for (k, v) in pos {
        println!("  {k:<w$}  {v}");
    }
    let sf = &r.safety;
    println!(
        "  {:<w$}  k={} self_reorgs_k={} common_prefix.violations={}{} max_reorg={}",
        "safety",
        sf.k,
        sf.self_reorgs_k.count,
        sf.common_prefix.violations,
        sf.common_prefix
            .worst
            .as_ref()
            .map(|d| format!(
                " (worst {} deep, nodes {} and {}, at {:.1}s)",
                d.depth, d.nodes[0], d.nodes[1], d.t
            ))
            .unwrap_or_default(),
        sf.max_reorg_depth,
    );
    for f in &r.faults {
        let label = format!("fault {} {}", f.index, f.kind);
        println!("  {label:<w$}  {}", fault_line(f));
    }
    for e in &r.expectations {
        let label = format!("expect {}", e.check);
        let verdict = if e.pass { "pass" } else { "FAIL" };
        println!(
            "  {label:<w$}  {verdict}: {} (expected {})",
            fmt_seen(&e.seen),
            e.expected
        );
    }
    if let Some(d) = &out.data_dir {
        println!("  {:<w$}  {}", "data kept in", d.display());
    }
}

/// The contract rows (none without contract work on the final chain).
fn contract_rows(r: &Report) -> Vec<(String, String)> {
    let Some(c) = &r.contracts else {
        return Vec::new();
    };
    let d = &c.receipt_delay_blocks;
    vec![
        (
            "contracts deployed / calls (failed)".to_string(),
            format!(
                "{} / {} ({}), out of gas {}, gas used {}",
                c.deployed, c.calls, c.calls_failed, c.out_of_gas, c.gas_used
            ),
        ),
        (
            "receipts made / run (failed)".to_string(),
            format!(
                "{} / {} ({}), callbacks ok {} err {}, delay p50/p90 {}/{} blocks",
                c.receipts.created,
                c.receipts.executed,
                c.receipts.failed,
                c.callbacks.ok,
                c.callbacks.err,
                fmt_opt(d.p50),
                fmt_opt(d.p90)
            ),
        ),
    ]
}

/// A spam or forkspam adversary's row: what it sent and what came of it, and the honest
/// load against the same run without it.
fn spam_row(s: &chainlab::report::SpamStats) -> String {
    let lat = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1}s"));
    let without = s
        .without
        .as_ref()
        .map_or(String::from(" (no baseline)"), |w| {
            format!(
                " vs {:.2} tps, p50 {} without (ratio {})",
                w.tps,
                lat(w.latency_p50_s),
                s.tps_ratio.map_or("-".into(), |r| format!("{r:.2}"))
            )
        });
    let sent = if s.blocks_sent > 0 {
        format!(
            "{} blocks sent, honest stored {} rejected {} refused {}, side blocks max {}",
            s.blocks_sent,
            s.blocks_stored_by_honest,
            s.blocks_rejected_by_honest,
            s.blocks_not_processed,
            s.honest_side_blocks_max
        )
    } else {
        format!(
            "{} txs sent, honest admitted {} refused {}, {} on chain",
            s.txs_sent, s.txs_admitted_by_honest, s.txs_refused_by_honest, s.txs_on_chain
        )
    };
    format!(
        "{}: {sent}; honest {:.2} tps, p50 {} p90 {}{without}",
        s.mode,
        s.honest.tps,
        lat(s.honest.latency_p50_s),
        lat(s.honest.latency_p90_s),
    )
}

/// One row per `[[adversary]]`: its hash share, what it earned or how often it succeeded, and
/// the theory's figure.
fn adversary_rows(r: &Report) -> Vec<(String, String)> {
    r.adversaries
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let label = format!("adversary {i} {} {:?}", a.kind, a.nodes);
            if let Some(e) = &a.eclipse {
                return (label, eclipse_row(a, e));
            }
            if let Some(sp) = &a.spam {
                return (label, spam_row(sp));
            }
            if a.kind == "double-spend" {
                let theory = a.theory.as_ref().map_or(String::new(), |t| {
                    format!(
                        " (theory {:.3} {}; Nakamoto {:.3})",
                        t.success_rate.unwrap_or(f64::NAN),
                        t.model,
                        t.nakamoto.unwrap_or(f64::NAN)
                    )
                });
                return (
                    label,
                    format!(
                        "hash {:.3} (mined {:.3}), z = {}: {} of {} attempts succeeded, rate {}{theory}",
                        a.hashpower,
                        a.effective_hash_share,
                        a.confirmations.unwrap_or(0),
                        a.successes,
                        a.attempts,
                        a.success_rate.map_or("-".into(), |v| format!("{v:.3}")),
                    ),
                );
            }
            if a.kind == "timewarp" {
                let theory = a.theory.as_ref().map_or(String::new(), |t| {
                    let bound = t
                        .achieved_interval_bound_s
                        .map_or(String::new(), |b| format!(", long-run bound >= {b:.3}s"));
                    format!(
                        " (ideal network {:.3}s{bound})",
                        t.achieved_interval_s.unwrap_or(f64::NAN)
                    )
                });
                return (
                    label,
                    format!(
                        "hash {:.3} (mined {:.3}), {}: interval {} against {:.3}s{theory}",
                        a.hashpower,
                        a.effective_hash_share,
                        if a.time_warp_fix == Some(false) {
                            "Bitcoin's rules"
                        } else {
                            "time-warp fix"
                        },
                        a.achieved_interval_s
                            .map_or("-".into(), |v| format!("{v:.3}s")),
                        a.target_interval_s.unwrap_or(f64::NAN),
                    ),
                );
            }
            let theory = a.theory.as_ref().map_or(String::new(), |t| {
                match (t.revenue_share, t.revenue_share_range) {
                    (Some(v), _) => format!(" (theory {v:.3}, {})", t.model),
                    (None, Some([lo, hi])) => {
                        format!(" (theory {lo:.3}..{hi:.3} for γ 0..1, {})", t.model)
                    }
                    (None, None) => String::new(),
                }
            });
            (
                label,
                format!(
                    "hash {:.3} (mined {:.3}), revenue {:.3}{theory}; withheld {} published {} gave up {}",
                    a.hashpower,
                    a.effective_hash_share,
                    a.revenue_share,
                    a.withheld,
                    a.published,
                    a.gave_up
                ),
            )
        })
        .collect()
}

/// An eclipse attacker's row: the victim's lag and extra delay, and in branch mode the
/// double-spends against it, each with the theory's figure.
fn eclipse_row(a: &chainlab::report::AdversaryStats, e: &chainlab::report::EclipseStats) -> String {
    let delay = e.delay_s.map_or(String::new(), |d| format!(" {d}s"));
    let et = e.theory.as_ref();
    let theory_lag = et
        .and_then(|t| t.lag_mean)
        .map_or(String::new(), |v| format!(" (theory {v:.2})"));
    let extra = e
        .extra_delay_mean_s
        .map_or("-".into(), |v| format!("{v:.1} s"));
    let mut row = format!(
        "victim {} {}{delay}: lag mean {:.2}{theory_lag} max {}, height {}/{}, extra delay {extra}, \
         missed {}",
        e.victim,
        e.mode,
        e.lag_mean,
        e.lag_max,
        e.victim_height,
        e.network_height,
        e.blocks_missed
    );
    if e.mode == "branch" {
        let accept = e
            .accept_time_mean_s
            .map_or("-".into(), |v| format!("{v:.0} s"));
        let theory = et
            .and_then(|t| t.accept_time_mean_s)
            .map_or(String::new(), |v| format!(" (theory {v:.0} s)"));
        row.push_str(&format!(
            "; z = {}: {} of {} attempts succeeded, rate {}, z-th confirmation after {accept}{theory}",
            e.confirmations.unwrap_or(0),
            a.successes,
            a.attempts,
            a.success_rate.map_or("-".into(), |v| format!("{v:.3}")),
        ));
    }
    row
}

/// The figures of the table, label first.
fn rows(r: &Report) -> [(&'static str, String); 18] {
    let b = &r.blocks;
    let t = &r.txs;
    let c = &r.convergence;
    [
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
        (
            "mean block interval",
            b.mean_interval_s
                .map(|s| format!("{s:.2}s"))
                .unwrap_or_else(|| "-".into()),
        ),
        (
            "propagation full p50/p90/p99",
            fmt_pct(&r.propagation_s.full_s),
        ),
        (
            "catch-up p50/p90/p99",
            format!(
                "{} ({} samples)",
                fmt_pct(&r.propagation_s.catch_up_s),
                r.propagation_s.catch_up_s.samples
            ),
        ),
        (
            "txs submitted / confirmed / rejected",
            format!("{} / {} / {}", t.submitted, t.confirmed, t.rejected),
        ),
        ("confirmed TPS", format!("{:.2}", t.tps)),
        (
            "inclusion | k-confirmation p50/p90/p99",
            format!(
                "{} | {} (k={})",
                fmt_pct(&t.inclusion_s),
                fmt_pct(&t.confirmation_s),
                r.safety.k
            ),
        ),
        (
            "txs pending / nonce gap / competing tip",
            format!("{} / {} / {}", t.pending, t.nonce_gap, t.on_competing_tip),
        ),
        (
            "txs dropped exp/evict/repl/unpaid/inval",
            format!(
                "{} / {} / {} / {} / {}",
                t.dropped.expired,
                t.dropped.evicted,
                t.dropped.replaced,
                t.dropped.unpayable,
                t.dropped.invalidated
            ),
        ),
        (
            "txs lost / lost on crashed nodes",
            format!("{} / {}", t.lost, t.lost_on_crashed_nodes),
        ),
        (
            "converged / distinct tips",
            format!("{} / {}", c.converged, c.distinct_tips),
        ),
        (
            "tip",
            format!("{}… at height {}", c.tip.get(..16).unwrap_or(""), c.height),
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
    ]
}

/// What one fault did: when, blocks around it, and the optional figures it has.
fn fault_line(f: &FaultReport) -> String {
    let e = &f.effect;
    let at = f
        .at_s
        .map(|t| format!("{t:.1}s"))
        .unwrap_or_else(|| "never".into());
    let mut line = format!(
        "at {at} mined {} stale {} reorgs {} (max {})",
        e.blocks_mined, e.stale, e.reorgs, e.max_reorg_depth
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
    line
}

/// `p50 / p90 / p99 s`, three decimals, `-` for a missing value.
fn fmt_pct(p: &Percentiles) -> String {
    format!(
        "{} / {} / {} s",
        fmt_opt(p.p50),
        fmt_opt(p.p90),
        fmt_opt(p.p99)
    )
}

/// A value an expectation saw: a fraction to three decimals, `-` for none.
fn fmt_seen(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::Null => "-".into(),
        serde_json::Value::Number(n) if n.is_f64() => format!("{:.3}", n.as_f64().unwrap_or(0.0)),
        other => other.to_string(),
    }
}

/// Three decimals, or `-`.
fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}
