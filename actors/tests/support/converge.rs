//! The end-of-run convergence check for real-clock clusters.

use super::run::mined;
use chainlab_actors::cluster::RunOutput;

/// On the real clock mining stops at `duration` wherever the miners are: if the last two blocks
/// were mined at the same height, two equal-work tips legitimately remain. Anything else must
/// converge.
pub fn assert_converged_or_final_tie(out: &RunOutput) {
    let c = &out.report.convergence;
    if c.converged {
        return;
    }
    let mined: Vec<u64> = mined(out).iter().map(|m| m.height).collect();
    let tie = mined.len() >= 2 && mined[mined.len() - 1] == mined[mined.len() - 2];
    assert!(
        tie && c.distinct_tips == 2,
        "not converged ({} tips) and not a final tie: last heights {:?}",
        c.distinct_tips,
        &mined[mined.len().saturating_sub(3)..]
    );
}
