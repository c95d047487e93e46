//! Equivocation: two blocks for one slot by one proposer, or two conflicting votes by one
//! validator (double vote, surround vote); building and checking [`Evidence`].
//!
//! OWNER H2.

use super::{Pos, PosError};
use crate::block::{BlockHeader, Evidence, Item, Seal, Vote};
use crate::crypto::SigCache;
use crate::hash::Hash;

/// The most consensus items a block of a set of `validators` may carry: 4 per validator
/// and 64 more. A healthy branch needs one vote per validator per epoch, and a block may
/// hold the votes of the epochs a partition or a stall kept out (several per validator),
/// plus a few pieces of evidence; the bound keeps a hostile proposer's block to a few
/// thousand signature checks.
pub fn max_items(validators: usize) -> usize {
    validators.saturating_mul(4).saturating_add(64)
}

impl Evidence {
    /// The offender: the validator who signed both messages (`None` for headers that are no
    /// proof-of-stake headers).
    pub fn offender(&self) -> Option<u32> {
        match self {
            Evidence::DoubleBlock { a, .. } => proposer_of(a),
            Evidence::DoubleVote { a, .. } | Evidence::SurroundVote { a, .. } => Some(a.validator),
        }
    }

    /// `double_block`, `double_vote` or `surround_vote` (the trace's names).
    pub fn kind(&self) -> &'static str {
        match self {
            Evidence::DoubleBlock { .. } => "double_block",
            Evidence::DoubleVote { .. } => "double_vote",
            Evidence::SurroundVote { .. } => "surround_vote",
        }
    }

    /// Its id: the id of the block item carrying it.
    pub fn id(&self) -> Hash {
        Item::Evidence(self.clone()).id()
    }
}

/// The proposer of a proof-of-stake header (`None` for proof of work).
pub fn proposer_of(h: &BlockHeader) -> Option<u32> {
    match h.seal {
        Seal::Pos { proposer, .. } => Some(proposer),
        Seal::Pow { .. } => None,
    }
}

/// A vote's content, without the signature.
fn link(v: &Vote) -> (crate::block::Checkpoint, crate::block::Checkpoint) {
    (v.source, v.target)
}

/// Evidence from two votes of one validator, if they conflict: a double vote (same target
/// epoch, different links; the pair ordered by link) or a surround vote (one link's source
/// strictly before the other's and its target strictly after; the surrounding vote first),
/// whichever order they come in.
pub fn conflicting_votes(a: &Vote, b: &Vote) -> Option<Evidence> {
    if a.validator != b.validator {
        return None;
    }
    if a.target.epoch == b.target.epoch {
        if link(a) == link(b) {
            return None;
        }
        let (a, b) = if link(a) < link(b) { (a, b) } else { (b, a) };
        return Some(Evidence::DoubleVote { a: *a, b: *b });
    }
    let surrounds =
        |x: &Vote, y: &Vote| x.source.epoch < y.source.epoch && y.target.epoch < x.target.epoch;
    if surrounds(a, b) {
        Some(Evidence::SurroundVote { a: *a, b: *b })
    } else if surrounds(b, a) {
        Some(Evidence::SurroundVote { a: *b, b: *a })
    } else {
        None
    }
}

/// Whether a validator that signed `history` may sign `v` without equivocating.
pub fn safe_to_cast(history: &[Vote], v: &Vote) -> bool {
    history
        .iter()
        .all(|h| h.validator != v.validator || conflicting_votes(h, v).is_none())
}

/// Evidence from two headers, if they are two blocks for one slot by one proposer (the pair
/// ordered by hash).
pub fn double_block(a: &BlockHeader, b: &BlockHeader) -> Option<Evidence> {
    let (
        Seal::Pos {
            slot: sa,
            proposer: pa,
            ..
        },
        Seal::Pos {
            slot: sb,
            proposer: pb,
            ..
        },
    ) = (&a.seal, &b.seal)
    else {
        return None;
    };
    if sa != sb || pa != pb {
        return None;
    }
    let (ha, hb) = (a.hash(), b.hash());
    if ha == hb {
        return None;
    }
    let (a, b) = if ha < hb { (a, b) } else { (b, a) };
    Some(Evidence::DoubleBlock {
        a: Box::new(a.clone()),
        b: Box::new(b.clone()),
    })
}

impl Pos {
    /// Checks a block's items in themselves: their number, each vote's signature (through
    /// `cache`), each piece of evidence ([`Pos::check_evidence`]).
    ///
    /// # Errors
    /// The first failing item.
    pub fn check_items_in_themselves(
        &self,
        items: &[crate::block::Item],
        cache: Option<&crate::crypto::SigCache>,
    ) -> Result<(), PosError> {
        let max = max_items(self.validators.len());
        if items.len() > max {
            return Err(PosError::TooManyItems {
                count: items.len(),
                max,
            });
        }
        for (index, item) in items.iter().enumerate() {
            match item {
                Item::Vote(v) => self.verify_vote(index, v, cache)?,
                Item::Evidence(e) => {
                    self.check_evidence_with(index, e, cache)?;
                }
            }
        }
        Ok(())
    }

    /// Checks evidence in itself: it conflicts and every signature in it verifies.
    ///
    /// # Errors
    /// [`PosError::BadEvidence`] (with `index`) saying why.
    pub fn check_evidence(&self, index: usize, e: &Evidence) -> Result<u32, PosError> {
        self.check_evidence_with(index, e, None)
    }

    fn check_evidence_with(
        &self,
        index: usize,
        e: &Evidence,
        cache: Option<&SigCache>,
    ) -> Result<u32, PosError> {
        let bad = |reason: String| PosError::BadEvidence { index, reason };
        match e {
            Evidence::DoubleBlock { a, b } => {
                let (Some(sa), Some(sb)) = (a.slot(), b.slot()) else {
                    return Err(bad("a header is no proof-of-stake header".into()));
                };
                let offender = e.offender().ok_or_else(|| bad("no proposer".into()))?;
                if proposer_of(b) != Some(offender) {
                    return Err(bad("the headers have different proposers".into()));
                }
                if sa != sb {
                    return Err(bad(format!("the headers are for slots {sa} and {sb}")));
                }
                if a.hash() == b.hash() {
                    return Err(bad("the two headers are the same block".into()));
                }
                for (name, h) in [("a", a), ("b", b)] {
                    self.verify_header_signature(h)
                        .map_err(|err| bad(format!("header {name}: {err}")))?;
                }
                Ok(offender)
            }
            Evidence::DoubleVote { a, b } | Evidence::SurroundVote { a, b } => {
                if a.validator != b.validator {
                    return Err(bad(format!(
                        "the votes are by validators {} and {}",
                        a.validator, b.validator
                    )));
                }
                let holds = match e {
                    Evidence::DoubleVote { .. } => {
                        a.target.epoch == b.target.epoch && link(a) != link(b)
                    }
                    _ => a.source.epoch < b.source.epoch && b.target.epoch < a.target.epoch,
                };
                if !holds {
                    return Err(bad(format!("the votes do not make a {}", e.kind())));
                }
                for (name, v) in [("a", a), ("b", b)] {
                    self.verify_vote(index, v, cache)
                        .map_err(|err| bad(format!("vote {name}: {err}")))?;
                }
                Ok(a.validator)
            }
        }
    }
}
