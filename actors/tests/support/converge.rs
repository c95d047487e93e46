//! The end-of-run convergence check for real-clock clusters.

use super::run::mined;
use chainlab_actors::cluster::RunOutput;

/// On the real clock mining stops at `duration` wherever the miners are: if two blocks were
/// mined at the top height (nothing extends either, so neither can win), two equal-work tips
/// legitimately remain, even when a stale block was mined below them in between (heights
/// `[231, 230, 231]`). Anything else must converge.
pub fn assert_converged_or_final_tie(out: &RunOutput) {
    let c = &out.report.convergence;
    if c.converged {
        return;
    }
    let mined: Vec<u64> = mined(out).iter().map(|m| m.height).collect();
    let top = mined.iter().copied().max().unwrap_or(0);
    let tie = mined.iter().filter(|h| **h == top).count() >= 2;
    assert!(
        tie && c.distinct_tips == 2,
        "not converged ({} tips) and not a final tie: last heights {:?}",
        c.distinct_tips,
        &mined[mined.len().saturating_sub(3)..]
    );
}
