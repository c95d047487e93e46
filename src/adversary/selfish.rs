//! The Eyal–Sirer selfish-mining strategy, as decisions over heights.
//!
//! The pool mines on its own private branch and publishes only to fight the honest chain:
//! with `p` its branch's height and `h` the height of the public chain (the best height the
//! honest network has been shown),
//!
//! - its own new block is withheld, unless a tie is being raced (it published to match an
//!   honest block and now pulls ahead), when it publishes at once and wins;
//! - when an honest block brings the public chain to `h`:
//!   - `p < h`: it gives up its private blocks (its node adopts the honest chain);
//!   - `p = h` (it led by one): it publishes its block, a tie both sides race;
//!   - `p = h + 1` (it led by two): it publishes everything, and the honest chain is reverted;
//!   - `p > h + 1`: it publishes its blocks up to height `h`, keeping its lead.
//!
//! With propagation delay an honest block can also arrive at the height of the pool's own
//! published tip: mined on the branch below it before the pool's blocks got there (after the
//! pool overrode with a lead of two, or won a race). The model has no such block. The pool
//! treats it as an honest block bringing the public chain to `h` (a tie at its published tip,
//! the model's state 0′): its next block is published at once and wins, instead of being
//! withheld against a chain the honest network is split over.
//!
//! The runtime (the adversary node's peer actor) announces what these decisions return and
//! serves nothing it withholds; the node's own fork choice does the adopting.

use crate::hash::Hash;

/// What one event made the pool do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Decision {
    /// Blocks to publish now, parents first (hash, height).
    pub publish: Vec<(Hash, u64)>,
    /// Withheld blocks dropped: the honest chain passed them.
    pub given_up: Vec<(Hash, u64)>,
}

/// See the module doc.
#[derive(Clone, Debug, Default)]
pub struct Selfish {
    /// Own blocks not published yet, parents first (hash, height).
    private: Vec<(Hash, u64)>,
    /// Height of the pool's own branch tip.
    private_height: u64,
    /// Height of the public chain.
    public_height: u64,
    /// A tie is being raced: the pool published to match the honest chain's tip.
    race: bool,
    /// The public chain's tip at `public_height` is the pool's own (its publication raised
    /// the height): an honest block at that height competes with it.
    own_tip: bool,
}

impl Selfish {
    /// A pool with nothing withheld.
    pub fn new() -> Selfish {
        Selfish::default()
    }

    /// Whether `hash` is withheld (not to be announced or served).
    pub fn withholds(&self, hash: &Hash) -> bool {
        self.private.iter().any(|(h, _)| h == hash)
    }

    /// Blocks withheld now.
    pub fn lead(&self) -> usize {
        self.private.len()
    }

    /// The pool mined `hash` at `height` (on its own branch's tip).
    pub fn on_own_block(&mut self, hash: Hash, height: u64) -> Decision {
        self.private.push((hash, height));
        self.private_height = height;
        if height == self.public_height || (self.race && height == self.public_height + 1) {
            // Matching the public tip (it was mined before the honest block was seen), or
            // pulling ahead in a race: publish at once.
            self.race = height == self.public_height;
            return self.publish_to(height);
        }
        Decision::default()
    }

    /// A block of height `height` arrived from the honest network.
    /// Not to be called with the pool's own blocks.
    pub fn on_public_block(&mut self, height: u64) -> Decision {
        // An honest block at the height of the pool's published tip: a tie at that tip.
        let contest = height == self.public_height && self.own_tip;
        if height <= self.public_height && !contest {
            return Decision::default();
        }
        self.public_height = height;
        self.own_tip = false;
        self.race = false;
        if self.private.is_empty() {
            // Matched at its published tip with nothing withheld: race the tie.
            self.race = contest;
            return Decision::default();
        }
        let p = self.private_height;
        if p < height {
            return Decision {
                publish: Vec::new(),
                given_up: std::mem::take(&mut self.private),
            };
        }
        if p == height {
            self.race = true;
            return self.publish_to(p);
        }
        if p == height + 1 {
            return self.publish_to(p);
        }
        self.publish_to(height)
    }

    /// The pool stops (its `until` came): everything withheld is published, and it holds
    /// nothing after.
    pub fn publish_all(&mut self) -> Decision {
        self.race = false;
        let d = self.publish_to(u64::MAX);
        // Honest from now on: no tie to race.
        self.own_tip = false;
        d
    }

    /// Publishes the withheld blocks up to `height`.
    fn publish_to(&mut self, height: u64) -> Decision {
        let split = self.private.partition_point(|(_, h)| *h <= height);
        let publish: Vec<(Hash, u64)> = self.private.drain(..split).collect();
        if let Some((_, h)) = publish.last() {
            if *h > self.public_height {
                self.public_height = *h;
                self.own_tip = true;
            }
        }
        Decision {
            publish,
            given_up: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    fn heights(d: &Decision) -> Vec<u64> {
        d.publish.iter().map(|(_, h)| *h).collect()
    }

    #[test]
    fn a_lead_of_one_is_withheld_then_matched() {
        let mut s = Selfish::new();
        assert_eq!(s.on_own_block(h(1), 1), Decision::default());
        assert!(s.withholds(&h(1)));
        // The honest network finds a block at 1: publish ours, a tie.
        assert_eq!(heights(&s.on_public_block(1)), vec![1]);
        assert!(!s.withholds(&h(1)));
        // The pool finds the next block during the race: published at once.
        assert_eq!(heights(&s.on_own_block(h(2), 2)), vec![2]);
        assert_eq!(s.lead(), 0);
    }

    #[test]
    fn publish_all_empties_the_lead() {
        let mut s = Selfish::new();
        assert_eq!(s.publish_all(), Decision::default());
        for i in 1..=3 {
            s.on_own_block(h(i), u64::from(i));
        }
        assert_eq!(heights(&s.publish_all()), vec![1, 2, 3]);
        assert_eq!(s.lead(), 0);
        assert!(!s.withholds(&h(2)));
        // The public chain is the pool's now: an honest block at 3 is no news.
        assert_eq!(s.on_public_block(3), Decision::default());
    }

    #[test]
    fn a_lead_of_two_overrides_the_honest_chain() {
        let mut s = Selfish::new();
        s.on_own_block(h(1), 1);
        s.on_own_block(h(2), 2);
        assert_eq!(s.lead(), 2);
        assert_eq!(heights(&s.on_public_block(1)), vec![1, 2]);
        assert_eq!(s.lead(), 0);
        // Its next block is withheld again.
        assert_eq!(s.on_own_block(h(3), 3), Decision::default());
    }

    #[test]
    fn a_long_lead_publishes_one_block_per_honest_block() {
        let mut s = Selfish::new();
        for i in 1..=4 {
            s.on_own_block(h(i), u64::from(i));
        }
        assert_eq!(heights(&s.on_public_block(1)), vec![1]);
        assert_eq!(heights(&s.on_public_block(2)), vec![2]);
        // The lead is down to two: the next honest block makes the pool publish everything.
        assert_eq!(heights(&s.on_public_block(3)), vec![3, 4]);
        assert_eq!(s.lead(), 0);
    }

    #[test]
    fn an_honest_chain_ahead_makes_the_pool_give_up() {
        let mut s = Selfish::new();
        s.on_own_block(h(1), 1);
        assert_eq!(heights(&s.on_public_block(1)), vec![1]);
        // The honest network wins the race: nothing withheld, nothing to do.
        assert_eq!(s.on_public_block(2), Decision::default());
        // A block withheld below an honest chain two ahead is given up.
        s.on_own_block(h(3), 3);
        let d = s.on_public_block(4);
        assert!(d.publish.is_empty());
        assert_eq!(d.given_up, vec![(h(3), 3)]);
        // Old honest blocks change nothing.
        assert_eq!(s.on_public_block(2), Decision::default());
    }

    #[test]
    fn an_honest_block_matching_the_published_tip_is_a_tie_raced() {
        // Lead two, overtaken by one: the pool publishes both (heights 1, 2).
        let mut s = Selfish::new();
        s.on_own_block(h(1), 1);
        s.on_own_block(h(2), 2);
        assert_eq!(heights(&s.on_public_block(1)), vec![1, 2]);
        // An honest block at 2, mined before the pool's blocks arrived: a tie at the pool's
        // tip. The pool's next block wins it: published at once, not withheld.
        assert_eq!(s.on_public_block(2), Decision::default());
        assert_eq!(heights(&s.on_own_block(h(3), 3)), vec![3]);
        assert_eq!(s.lead(), 0);
        // A second honest block at 3, after the pool's 3: a tie again.
        assert_eq!(s.on_public_block(3), Decision::default());
        assert_eq!(heights(&s.on_own_block(h(4), 4)), vec![4]);
        // The honest chain moves on past it: the next block is withheld again.
        assert_eq!(s.on_public_block(5), Decision::default());
        assert_eq!(s.on_own_block(h(6), 6), Decision::default());
    }

    #[test]
    fn a_contest_at_the_published_tip_with_a_lead_publishes_everything() {
        // The pool overrode (1, 2) and mined 3, withheld; then an honest block at 2 arrives,
        // mined before the override reached its miner: the pool leads it by one, after
        // leading by two, and publishes everything, as at a lead of two overtaken.
        let mut s = Selfish::new();
        s.on_own_block(h(1), 1);
        s.on_own_block(h(2), 2);
        s.on_public_block(1);
        assert_eq!(s.on_own_block(h(3), 3), Decision::default());
        assert_eq!(heights(&s.on_public_block(2)), vec![3]);
        assert_eq!(s.lead(), 0);
    }

    #[test]
    fn a_second_honest_block_at_an_honest_height_changes_nothing() {
        // The public tip is honest (the pool matched it): another honest block at that
        // height is an honest fork, not a contest with the pool's tip.
        let mut s = Selfish::new();
        s.on_own_block(h(1), 1);
        s.on_own_block(h(2), 2);
        s.on_own_block(h(3), 3);
        assert_eq!(heights(&s.on_public_block(1)), vec![1]);
        assert_eq!(s.on_public_block(1), Decision::default());
        assert_eq!(s.lead(), 2);
    }

    #[test]
    fn a_block_mined_on_a_stale_tip_matching_the_public_height_is_published() {
        let mut s = Selfish::new();
        s.on_public_block(5);
        assert_eq!(heights(&s.on_own_block(h(5), 5)), vec![5]);
    }
}
