//! The proof-of-stake rows of the run summary: slots against the model, finality,
//! equivocations and each validator's production (none for a proof-of-work report).

use chainlab::report::{Report, ValidatorStats};

/// Validators shown one row each up to this many; beyond, the top producers and a count.
const ALL_UP_TO: usize = 16;
/// Validators shown when there are more than [`ALL_UP_TO`].
const TOP: usize = 8;

/// The proof-of-stake rows, label first (empty for proof of work).
pub fn pos_rows(r: &Report) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    if let Some(s) = &r.slots {
        let t = &s.theory;
        rows.push((
            "slots empty / single / multi (model)".to_string(),
            format!(
                "{} {:.3} ({:.3}) / {} {:.3} ({:.3}) / {} {:.3} ({:.3}) of {}",
                s.empty,
                s.empty_share,
                t.empty,
                s.single,
                s.single_share,
                t.single,
                s.multi,
                s.multi_share,
                t.multi,
                s.total
            ),
        ));
    }
    if let Some(f) = &r.finality {
        rows.push((
            "finalized height (epoch)".to_string(),
            format!("{} ({})", f.finalized_height, f.finalized_epoch),
        ));
        rows.push((
            "finality lag p50/p90/p99".to_string(),
            format!(
                "{} / {} / {} s ({} samples)",
                opt(f.lag_s.p50),
                opt(f.lag_s.p90),
                opt(f.lag_s.p99),
                f.lag_s.samples
            ),
        ));
        rows.push((
            "finality stalls / reverted".to_string(),
            format!("{} ({:.0}s) / {}", f.stalls, f.stall_s, f.reverted),
        ));
    }
    if let Some(e) = &r.equivocations {
        let who = if e.slashed.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = e.slashed.iter().map(u32::to_string).collect();
            format!(" (validators {})", list.join(", "))
        };
        rows.push((
            "equivocations / included / slashed stake".to_string(),
            format!("{} / {} / {}{who}", e.detected, e.included, e.slashed_stake),
        ));
    }
    if let Some(v) = &r.validators {
        rows.extend(validator_rows(v));
    }
    rows
}

/// One row per validator (up to [`ALL_UP_TO`]), else the [`TOP`] producers and a row for the
/// rest.
fn validator_rows(v: &[ValidatorStats]) -> Vec<(String, String)> {
    let mut shown: Vec<&ValidatorStats> = v.iter().collect();
    if v.len() > ALL_UP_TO {
        shown.sort_by(|a, b| {
            b.produced
                .cmp(&a.produced)
                .then(a.validator.cmp(&b.validator))
        });
        shown.truncate(TOP);
    }
    let mut rows: Vec<(String, String)> = shown
        .iter()
        .map(|s| {
            (
                format!(
                    "validator {} (node {}, stake {:.1}%)",
                    s.validator,
                    s.node,
                    s.stake_share * 100.0
                ),
                format!(
                    "produced {} (model {:.1}), on final chain {}",
                    s.produced, s.expected, s.on_final_chain
                ),
            )
        })
        .collect();
    if v.len() > shown.len() {
        let rest: Vec<&ValidatorStats> = v
            .iter()
            .filter(|s| !shown.iter().any(|t| t.validator == s.validator))
            .collect();
        rows.push((
            format!("{} more validators", rest.len()),
            format!(
                "produced {} (model {:.1}), on final chain {}",
                rest.iter().map(|s| s.produced).sum::<u64>(),
                rest.iter().map(|s| s.expected).sum::<f64>(),
                rest.iter().map(|s| s.on_final_chain).sum::<u64>()
            ),
        ));
    }
    rows
}

/// Three decimals, or `-`.
fn opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.3}")).unwrap_or_else(|| "-".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(validator: u32, produced: u64) -> ValidatorStats {
        ValidatorStats {
            validator,
            node: validator as usize,
            stake_share: 0.01,
            expected: 1.0,
            produced,
            on_final_chain: produced,
        }
    }

    #[test]
    fn a_proof_of_work_report_has_no_pos_rows() {
        assert!(pos_rows(&Report::default()).is_empty());
        assert!(!pos_rows(&Report::sample()).is_empty());
    }

    #[test]
    fn many_validators_show_the_top_producers_and_a_count() {
        let few: Vec<ValidatorStats> = (0..16).map(|i| v(i, u64::from(i))).collect();
        assert_eq!(validator_rows(&few).len(), 16);
        let many: Vec<ValidatorStats> = (0..20).map(|i| v(i, u64::from(i))).collect();
        let rows = validator_rows(&many);
        assert_eq!(rows.len(), TOP + 1);
        assert!(rows[0].0.starts_with("validator 19 "), "{:?}", rows[0]);
        assert_eq!(rows[TOP].0, "12 more validators");
        // 0 + 1 + ... + 11 produced by the rest.
        assert!(rows[TOP].1.starts_with("produced 66 "), "{:?}", rows[TOP]);
    }
}
