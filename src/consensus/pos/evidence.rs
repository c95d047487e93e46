//! Equivocation: two blocks for one slot by one proposer, or two conflicting votes by one
//! validator (double vote, surround vote); building and checking [`Evidence`].

use super::{Pos, PosError};
use crate::block::{BlockHeader, Evidence, Item, Seal, SharedItem, Vote};
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
        items: &[SharedItem],
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
            self.check_item(index, item, cache)?;
        }
        Ok(())
    }

    /// Checks one item in itself (a vote's signature; evidence as
    /// [`Pos::check_evidence`]), once per process: an item whose id (which commits to every
    /// signature in it) checked before passes at once.
    ///
    /// # Errors
    /// As [`Pos::verify_vote`] and [`Pos::check_evidence`], with `index`.
    pub fn check_item(
        &self,
        index: usize,
        item: &SharedItem,
        cache: Option<&crate::crypto::SigCache>,
    ) -> Result<(), PosError> {
        if self.cache.checked_item(&item.id()) {
            return Ok(());
        }
        match item.item() {
            Item::Vote(v) => self.verify_vote(index, v, cache)?,
            Item::Evidence(e) => {
                self.check_evidence_with(index, e, cache)?;
            }
        }
        self.cache.note_item(item.id());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::Checkpoint;
    use crate::consensus::pos::ffg_testkit::{cp, header, pos, vote};

    fn c(epoch: u64, tag: u8) -> Checkpoint {
        cp(epoch, Hash([tag; 32]))
    }

    #[test]
    fn a_double_vote_is_found_in_either_order() {
        let p = pos(&[1, 1, 1]);
        let a = vote(&p, 1, c(0, 0), c(2, 1));
        let b = vote(&p, 1, c(1, 0), c(2, 2));
        let ab = conflicting_votes(&a, &b).unwrap();
        assert_eq!(ab.kind(), "double_vote");
        assert_eq!(ab.offender(), Some(1));
        assert_eq!(
            conflicting_votes(&b, &a),
            Some(ab.clone()),
            "one canonical pair"
        );
        assert_eq!(p.check_evidence(0, &ab), Ok(1));
        // Same target, different sources: a double vote too.
        let b2 = vote(&p, 1, c(1, 0), c(2, 1));
        assert_eq!(
            conflicting_votes(&a, &b2).map(|e| e.kind()),
            Some("double_vote")
        );
    }

    #[test]
    fn a_surround_vote_is_found_in_either_order() {
        let p = pos(&[1, 1, 1]);
        let outer = vote(&p, 2, c(1, 0), c(5, 0));
        let inner = vote(&p, 2, c(2, 0), c(3, 0));
        let want = Evidence::SurroundVote { a: outer, b: inner };
        assert_eq!(conflicting_votes(&outer, &inner), Some(want.clone()));
        assert_eq!(conflicting_votes(&inner, &outer), Some(want.clone()));
        assert_eq!(p.check_evidence(3, &want), Ok(2));
        assert_eq!(want.kind(), "surround_vote");
        let flipped = Evidence::SurroundVote { a: inner, b: outer };
        assert!(matches!(
            p.check_evidence(3, &flipped),
            Err(PosError::BadEvidence { index: 3, .. })
        ));
    }

    #[test]
    fn compatible_votes_give_no_evidence() {
        let p = pos(&[1, 1, 1]);
        let v01 = vote(&p, 0, c(0, 0), c(1, 0));
        let v12 = vote(&p, 0, c(1, 0), c(2, 0));
        let v03 = vote(&p, 0, c(0, 0), c(3, 0));
        let v13 = vote(&p, 0, c(1, 0), c(3, 0));
        let other = vote(&p, 1, c(0, 0), c(1, 7));
        for (a, b) in [(v01, v12), (v01, v01), (v01, v03), (v01, other), (v12, v13)] {
            assert_eq!(conflicting_votes(&a, &b), None, "{a:?} / {b:?}");
            assert_eq!(conflicting_votes(&b, &a), None);
        }
        // Sharing a target epoch from different sources is a double vote.
        assert_eq!(
            conflicting_votes(&v03, &v13).map(|e| e.kind()),
            Some("double_vote")
        );
        assert!(safe_to_cast(&[v01, v12], &v13));
        assert!(!safe_to_cast(&[v12], &v03), "0 → 3 surrounds 1 → 2");
    }

    #[test]
    fn two_blocks_for_one_slot_by_one_proposer() {
        let p = pos(&[1, 1, 1]);
        let a = header(&p, Hash::ZERO, 4, 1, 1);
        let b = header(&p, Hash::ZERO, 4, 1, 2);
        let e = double_block(&a, &b).unwrap();
        assert_eq!(double_block(&b, &a), Some(e.clone()));
        assert_eq!((e.kind(), e.offender()), ("double_block", Some(1)));
        assert_eq!(p.check_evidence(0, &e), Ok(1));
        assert_eq!(double_block(&a, &a), None);
        assert_eq!(double_block(&a, &header(&p, Hash::ZERO, 5, 1, 2)), None);
        assert_eq!(double_block(&a, &header(&p, Hash::ZERO, 4, 2, 2)), None);
    }

    #[test]
    fn evidence_that_proves_nothing_is_refused() {
        let p = pos(&[1, 1, 1]);
        let bad = |e: &Evidence| {
            let r = p.check_evidence(5, e);
            assert!(
                matches!(r, Err(PosError::BadEvidence { index: 5, .. })),
                "{r:?}"
            );
        };
        let a = vote(&p, 0, c(0, 0), c(2, 1));
        let mut b = vote(&p, 0, c(0, 0), c(2, 2));
        bad(&Evidence::DoubleVote { a, b: a });
        bad(&Evidence::DoubleVote {
            a,
            b: vote(&p, 1, c(0, 0), c(2, 2)),
        });
        bad(&Evidence::DoubleVote {
            a,
            b: vote(&p, 0, c(0, 0), c(3, 2)),
        });
        b.signature.0[10] ^= 1;
        bad(&Evidence::DoubleVote { a, b });
        let h1 = header(&p, Hash::ZERO, 4, 1, 1);
        let mut h2 = header(&p, Hash::ZERO, 4, 1, 2);
        bad(&Evidence::DoubleBlock {
            a: Box::new(h1.clone()),
            b: Box::new(header(&p, Hash::ZERO, 5, 1, 2)),
        });
        bad(&Evidence::DoubleBlock {
            a: Box::new(h1.clone()),
            b: Box::new(header(&p, Hash::ZERO, 4, 2, 2)),
        });
        h2.state_root = Hash([9; 32]);
        bad(&Evidence::DoubleBlock {
            a: Box::new(h1),
            b: Box::new(h2),
        });
    }

    #[test]
    fn items_are_counted_and_their_signatures_checked() {
        let p = pos(&[1, 1, 1]);
        let v = vote(&p, 0, c(0, 0), c(1, 0));
        let ok = vec![SharedItem::from(Item::Vote(v)); max_items(3)];
        assert_eq!(p.check_items_in_themselves(&ok, None), Ok(()));
        let cache = SigCache::new(16);
        assert_eq!(p.check_items_in_themselves(&ok, Some(&cache)), Ok(()));
        let too_many = vec![SharedItem::from(Item::Vote(v)); max_items(3) + 1];
        assert_eq!(
            p.check_items_in_themselves(&too_many, None),
            Err(PosError::TooManyItems { count: 77, max: 76 })
        );
        let mut forged = v;
        forged.target.epoch = 2;
        let items = [Item::Vote(v).into(), Item::Vote(forged).into()];
        assert_eq!(
            p.check_items_in_themselves(&items, Some(&cache)),
            Err(PosError::BadVoteSignature {
                index: 1,
                validator: 0
            })
        );
        let mut stranger = v;
        stranger.validator = 99;
        assert_eq!(
            p.check_items_in_themselves(&[Item::Vote(stranger).into()], Some(&cache)),
            Err(PosError::UnknownValidator(99))
        );
        let e = Evidence::DoubleVote { a: v, b: v };
        let r =
            p.check_items_in_themselves(&[Item::Vote(v).into(), Item::Evidence(e).into()], None);
        assert!(matches!(r, Err(PosError::BadEvidence { index: 1, .. })));
    }
}
