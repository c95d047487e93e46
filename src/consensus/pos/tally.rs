//! Compact building blocks of [`super::ffg::FfgState`]: sets of validator indices (bitsets),
//! the tally of one FFG link, and the runs of epochs a branch's checkpoint blocks open.

use crate::block::Checkpoint;
use crate::hash::Hash;

/// A set of validator indices: one bit each.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VoterSet {
    words: Vec<u64>,
}

impl VoterSet {
    /// Whether `i` is in the set.
    pub fn contains(&self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        self.words.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    /// Adds `i`; true when it was not in the set.
    pub fn insert(&mut self, i: u32) -> bool {
        let (w, b) = (i as usize / 64, i % 64);
        if self.words.len() <= w {
            self.words.resize(w + 1, 0);
        }
        let fresh = self.words[w] & (1 << b) == 0;
        self.words[w] |= 1 << b;
        fresh
    }

    /// The members, ascending.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.words.iter().enumerate().flat_map(|(w, &x)| {
            (0..64u32)
                .filter(move |b| x & (1 << b) != 0)
                .map(move |b| w as u32 * 64 + b)
        })
    }

    /// How many members.
    pub fn len(&self) -> usize {
        self.words.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.words.iter().all(|&w| w == 0)
    }
}

/// The votes counted on one link (source → target) of a branch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Who voted for the link.
    pub voters: VoterSet,
    /// Their stake in the stake table of `table_epoch`.
    pub stake: u128,
    /// The epoch whose stake table `stake` was summed in.
    pub table_epoch: u64,
}

impl Tally {
    /// Adds `voter` with the stake table of `epoch` (`stakes`), re-summing the voters already
    /// in when the table changed since the last vote; returns the link's stake.
    pub fn add(&mut self, voter: u32, epoch: u64, stakes: &[u64]) -> u128 {
        let of = |i: u32| u128::from(stakes.get(i as usize).copied().unwrap_or(0));
        if self.table_epoch != epoch {
            self.stake = self.voters.iter().map(of).sum();
            self.table_epoch = epoch;
        }
        if self.voters.insert(voter) {
            self.stake += of(voter);
        }
        self.stake
    }
}

/// One block of a branch as the checkpoint of the epochs `from..=to` (a block is the last
/// before several epoch boundaries when the slots after it are empty).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointRun {
    /// The first epoch it opens.
    pub from: u64,
    /// The last epoch it opens.
    pub to: u64,
    /// The block.
    pub hash: Hash,
}

/// The checkpoint of `epoch` among `runs` (ascending, disjoint).
pub fn find_checkpoint(runs: &[CheckpointRun], epoch: u64) -> Option<Checkpoint> {
    let i = runs.partition_point(|r| r.to < epoch);
    runs.get(i).filter(|r| r.from <= epoch).map(|r| Checkpoint {
        epoch,
        hash: r.hash,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voter_set_counts_each_member_once() {
        let mut s = VoterSet::default();
        assert!(s.is_empty());
        assert!(s.insert(3));
        assert!(s.insert(130));
        assert!(!s.insert(3));
        assert!(s.contains(3) && s.contains(130) && !s.contains(4) && !s.contains(9999));
        assert_eq!(s.iter().collect::<Vec<_>>(), vec![3, 130]);
        assert_eq!(s.len(), 2);
    }

    #[test]
    fn tally_resums_when_the_stake_table_changes() {
        let mut t = Tally::default();
        assert_eq!(t.add(0, 1, &[10, 20, 30]), 10);
        assert_eq!(t.add(0, 1, &[10, 20, 30]), 10);
        assert_eq!(t.add(2, 1, &[10, 20, 30]), 40);
        // Epoch 2's table slashed validator 0 to 5.
        assert_eq!(t.add(1, 2, &[5, 20, 30]), 55);
        // An index beyond the table weighs nothing.
        assert_eq!(t.add(7, 2, &[5, 20, 30]), 55);
    }

    #[test]
    fn runs_find_the_checkpoint_of_each_epoch() {
        let (a, b) = (Hash([1; 32]), Hash([2; 32]));
        let runs = [
            CheckpointRun {
                from: 0,
                to: 0,
                hash: a,
            },
            CheckpointRun {
                from: 1,
                to: 3,
                hash: b,
            },
        ];
        assert_eq!(find_checkpoint(&runs, 0).map(|c| c.hash), Some(a));
        for e in 1..=3 {
            assert_eq!(
                find_checkpoint(&runs, e),
                Some(Checkpoint { epoch: e, hash: b })
            );
        }
        assert_eq!(find_checkpoint(&runs, 4), None);
        assert_eq!(find_checkpoint(&runs[1..], 0), None);
    }
}
