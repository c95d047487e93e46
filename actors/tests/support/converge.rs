//! The end-of-run convergence check for real-clock clusters, shared by the cluster tests
//! (`#[path = "support/converge.rs"] mod converge;`).

use chainlab::report::Event;
use chainlab_actors::cluster::RunOutput;

/// On the real clock mining stops at `duration` wherever the miners are: if the last two blocks
/// were mined at the same height, two equal-work tips legitimately remain. Anything else must
/// converge.
pub fn assert_converged_or_final_tie(out: &RunOutput) {
    let c = &out.report.convergence;
    if c.converged {
        return;
    }
    let mined: Vec<u64> = out
        .events
        .iter()
        .filter_map(|e| match e.event {
            Event::BlockMined { height, .. } => Some(height),
            _ => None,
        })
        .collect();
    let tie = mined.len() >= 2 && mined[mined.len() - 1] == mined[mined.len() - 2];
    assert!(
        tie && c.distinct_tips == 2,
        "not converged ({} tips) and not a final tie: last heights {:?}",
        c.distinct_tips,
        &mined[mined.len().saturating_sub(3)..]
    );
}
