//! A proof-of-stake node's validator role: when its checkpoint votes are due, and what it
//! signed, so that it never signs two conflicting messages.
//!
//! For every epoch e ≥ 1 the validator votes at `Pos::vote_time_ms(e)` by its own clock (a
//! clock-skew fault moves it), on the branch of its current tip ([`chainlab::consensus::pos::Pos::vote`]).
//! It never votes twice for one target epoch (a double vote) and never casts a vote whose
//! source is older than its previous vote's (it would surround that vote): the two Casper FFG
//! rules an honest validator keeps, so that a reorganisation between two votes cannot get it
//! slashed. Likewise it never signs a second block for a slot, nor a block for a slot before
//! one it signed (a clock set back, by a `clock_skew` fault ending, would otherwise make it
//! sign a double block: Ethereum clients keep the same "slashing protection").
//!
//! What it signed is kept in memory ([`SigningMemory`]); a restarted node takes it back from
//! its stored best chain (the blocks it proposed, the votes of its included in blocks) and
//! votes from the next vote time after its start.

use chainlab::block::{Item, Seal, Vote};
use chainlab::consensus::pos::Pos;
use chainlab::ChainState;

/// When votes are due: the slot and epoch lengths and the vote offset of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoteSchedule {
    /// Slot length, ms.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// Slots into an epoch at which validators vote.
    pub offset_slots: u64,
}

impl VoteSchedule {
    /// The schedule of `pos`.
    pub fn of(pos: &Pos) -> VoteSchedule {
        VoteSchedule {
            slot_ms: pos.slot_ms,
            epoch_slots: pos.epoch_slots,
            offset_slots: pos.vote_offset_slots,
        }
    }

    /// The vote time of `epoch`, ms (as `Pos::vote_time_ms`).
    pub fn time_ms(&self, epoch: u64) -> u64 {
        epoch
            .saturating_mul(self.epoch_slots.max(1))
            .saturating_add(self.offset_slots)
            .saturating_mul(self.slot_ms)
    }

    /// The next vote after local time `now_ms`: the first epoch ≥ 1, after `voted` (the last
    /// target epoch voted for), whose vote time is later than `now_ms`; with the delay to it.
    pub fn next(&self, now_ms: u64, voted: Option<u64>) -> (u64, u64) {
        let epoch_ms = self.epoch_slots.max(1).saturating_mul(self.slot_ms).max(1);
        let mut e = (now_ms / epoch_ms).max(1);
        if let Some(v) = voted {
            e = e.max(v.saturating_add(1));
        }
        while self.time_ms(e) <= now_ms {
            e += 1;
        }
        (e, self.time_ms(e) - now_ms)
    }
}

/// What this validator voted last.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VoteMemory {
    /// (source epoch, target epoch) of its last vote.
    pub(crate) last: Option<(u64, u64)>,
}

impl VoteMemory {
    /// The last target epoch voted for.
    pub fn target_epoch(&self) -> Option<u64> {
        self.last.map(|(_, t)| t)
    }

    /// Whether `v` may be cast after the votes before it (a later target, a source no older
    /// than the previous vote's); when it may, it is remembered.
    pub fn admit(&mut self, v: &Vote) -> bool {
        let ok = match self.last {
            None => true,
            Some((s, t)) => v.target.epoch > t && v.source.epoch >= s,
        };
        if ok {
            self.last = Some((v.source.epoch, v.target.epoch));
        }
        ok
    }
}

/// What a validator signed: the highest slot it proposed for, and its votes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SigningMemory {
    /// The highest slot it signed a block for.
    signed_slot: Option<u64>,
    /// Its votes.
    pub votes: VoteMemory,
}

impl SigningMemory {
    /// What validator `validator` signed, as far as `chain`'s best chain shows: the blocks it
    /// proposed and the votes of its that blocks include.
    pub fn from_chain(chain: &ChainState, validator: u32) -> SigningMemory {
        let mut m = SigningMemory::default();
        for b in chain.canonical().iter().filter_map(|h| chain.get(h)) {
            if let Seal::Pos { slot, proposer, .. } = b.header.seal {
                if proposer == validator && b.header.height > 0 {
                    m.signed_slot = m.signed_slot.max(Some(slot));
                }
            }
            for item in &b.items {
                if let Item::Vote(v) = item.item() {
                    if v.validator == validator && Some(v.target.epoch) > m.votes.target_epoch() {
                        m.votes.last = Some((v.source.epoch, v.target.epoch));
                    }
                }
            }
        }
        m
    }

    /// Whether a block for `slot` may be signed after the blocks before it (a later slot than
    /// any signed); when it may, it is remembered.
    pub fn admit_slot(&mut self, slot: u64) -> bool {
        if self.signed_slot.is_some_and(|s| slot <= s) {
            return false;
        }
        self.signed_slot = Some(slot);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chainlab::block::Checkpoint;
    use chainlab::Hash;

    const S: VoteSchedule = VoteSchedule {
        slot_ms: 1_000,
        epoch_slots: 20,
        offset_slots: 5,
    };

    #[test]
    fn votes_are_due_at_each_epochs_vote_time_from_epoch_one_on() {
        assert_eq!(S.time_ms(1), 25_000);
        // At start: epoch 1's vote, not epoch 0's.
        assert_eq!(S.next(0, None), (1, 25_000));
        assert_eq!(S.next(24_999, None), (1, 1));
        // At the vote time itself the vote is behind: the next one.
        assert_eq!(S.next(25_000, None), (2, 20_000));
        assert_eq!(S.next(25_000, Some(1)), (2, 20_000));
        // A clock turned back never brings an epoch voted for again.
        assert_eq!(S.next(10_000, Some(1)), (2, 35_000));
        assert_eq!(S.next(10_000, Some(3)), (4, 75_000));
    }

    fn vote(source: u64, target: u64) -> Vote {
        let cp = |epoch| Checkpoint {
            epoch,
            hash: Hash([epoch as u8; 32]),
        };
        Vote {
            validator: 0,
            source: cp(source),
            target: cp(target),
            signature: chainlab::crypto::Signature([0; 64]),
        }
    }

    #[test]
    fn a_validator_never_signs_two_blocks_for_a_slot_nor_one_for_an_earlier_slot() {
        let mut m = SigningMemory::default();
        assert!(m.admit_slot(194));
        assert!(!m.admit_slot(194), "a second block for the slot");
        assert!(!m.admit_slot(120), "the clock went back");
        assert!(m.admit_slot(195));
    }

    #[test]
    fn an_honest_validator_never_double_votes_nor_surrounds_its_own_votes() {
        let mut m = VoteMemory::default();
        assert!(m.admit(&vote(0, 1)));
        assert!(!m.admit(&vote(0, 1)), "the same target again");
        assert!(m.admit(&vote(1, 2)));
        assert!(m.admit(&vote(1, 4)), "a source not yet moved on is fine");
        // After a reorganisation the tip's justified source is older: voting (0, 5) would
        // surround (1, 4).
        assert!(!m.admit(&vote(0, 5)));
        assert_eq!(m.target_epoch(), Some(4));
        assert!(m.admit(&vote(3, 5)));
    }
}
