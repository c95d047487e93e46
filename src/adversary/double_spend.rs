//! The double-spend attacker, as decisions over heights.
//!
//! An attempt starts on the attacker's tip, the fork point at height `f`: the attacker pays the
//! merchant (the payment goes to the network) and mines a private branch on the fork point
//! holding a conflicting spend of the same coins. With `A` its private blocks above `f` and `H`
//! the public chain's blocks above `f` that it has seen, and `c` the confirmations of the
//! payment on the public chain (the height of the public tip minus the height of the block
//! holding the payment, plus one; `c = H` when the payment is in the first public block),
//!
//! - it **publishes** every private block as soon as `c ≥ z` and `A > H`, and the `z`-th
//!   confirmation reached it at least `merchant_delay` ago: the merchant has seen `z`
//!   confirmations (and handed the goods over), and the private branch is longer, so every
//!   honest node adopts it and the payment is reverted. The attacker cannot see the merchant's
//!   node: `merchant_delay` is the time it allows for the block to get there (the model has no
//!   delays: 0 there);
//! - it **gives up** when `H − A ≥ give_up`: the private blocks are abandoned and its node
//!   returns to the public chain.
//!
//! After either, the runtime starts the next attempt once its node is back on the public
//! chain (at once after publishing, where its own branch is the public chain). Whether an
//! attempt succeeded is decided at the end of the run, from the final chain
//! (`chainlab::report`): published, and the conflicting spend is on the final best chain.
//!
//! The model this matches (`super::theory::double_spend_success`): each new block is the
//! attacker's with probability q, no propagation delay, the payment in the first public
//! block. The runtime (the attacker node's peer actor) carries out what these decisions return.

use super::attempt::{Attempts, Confirming};
use crate::hash::Hash;

/// Where an attempt stood when it ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// The attempt's number (from 0).
    pub attempt: u64,
    /// Private blocks above the fork point, A.
    pub private: u64,
    /// Public blocks above the fork point, H.
    pub public: u64,
    /// Confirmations of the payment on the public chain.
    pub confirmations: u64,
}

/// What one event made the attacker do.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Decision {
    /// Nothing: keep mining privately.
    #[default]
    Wait,
    /// Publish these blocks (the whole private branch, parents first); the attempt is over.
    Publish(Vec<(Hash, u64)>, Tally),
    /// Abandon these blocks (the whole private branch); the attempt is over.
    GiveUp(Vec<(Hash, u64)>, Tally),
}

/// An attempt in progress.
#[derive(Clone, Debug)]
struct Attempt {
    number: u64,
    /// Private blocks, parents first (hash, height).
    private: Vec<(Hash, u64)>,
    /// The public chain as far as seen, which carries the payment.
    public: Confirming,
}

impl Attempt {
    fn tally(&self) -> Tally {
        let fork = self.public.fork;
        let private_height = self.private.last().map_or(fork, |(_, h)| *h);
        Tally {
            attempt: self.number,
            private: private_height - fork,
            public: self.public.above(),
            confirmations: self.public.confirmations(),
        }
    }
}

/// See the module doc.
#[derive(Clone, Debug)]
pub struct DoubleSpend {
    z: u64,
    give_up: u64,
    merchant_delay_ms: u64,
    attempts: Attempts<Attempt>,
}

impl DoubleSpend {
    /// An attacker against a merchant who waits for `z` confirmations, giving up `give_up`
    /// blocks behind (both at least 1: a config checks it; 0 is taken as 1), and allowing
    /// `merchant_delay_ms` for a block it has seen to reach the merchant.
    pub fn new(z: u32, give_up: u32, merchant_delay_ms: u64) -> DoubleSpend {
        DoubleSpend {
            z: u64::from(z.max(1)),
            give_up: u64::from(give_up.max(1)),
            merchant_delay_ms,
            attempts: Attempts::new(),
        }
    }

    /// Starts an attempt on the attacker's tip at `fork_height`; returns its number. An attempt
    /// still open is dropped (its blocks are no longer withheld).
    pub fn start(&mut self, fork_height: u64) -> u64 {
        self.attempts.start(|number| Attempt {
            number,
            private: Vec::new(),
            public: Confirming::new(fork_height),
        })
    }

    /// Whether an attempt is open.
    pub fn is_open(&self) -> bool {
        self.attempts.open().is_some()
    }

    /// Attempts started so far.
    pub fn started(&self) -> u64 {
        self.attempts.started()
    }

    /// Whether `hash` is withheld (a private block of the open attempt).
    pub fn withholds(&self, hash: &Hash) -> bool {
        (self.attempts.open()).is_some_and(|a| a.private.iter().any(|(h, _)| h == hash))
    }

    /// Private blocks withheld now.
    pub fn lead(&self) -> usize {
        self.attempts.open().map_or(0, |a| a.private.len())
    }

    /// The open attempt's figures.
    pub fn tally(&self) -> Option<Tally> {
        self.attempts.open().map(Attempt::tally)
    }

    /// When the open attempt publishes unless a public block comes first: it is longer and
    /// the merchant has `z` confirmations, and it waits only for `merchant_delay` to pass (call
    /// [`DoubleSpend::on_tick`] then).
    pub fn due(&self) -> Option<u64> {
        let a = self.attempts.open()?;
        let t = a.tally();
        if t.confirmations >= self.z && t.private > t.public {
            return a.public.confirmed_at.map(|c| c + self.merchant_delay_ms);
        }
        None
    }

    /// Time passed: the open attempt may publish now (see [`DoubleSpend::due`]).
    pub fn on_tick(&mut self, now_ms: u64) -> Decision {
        self.decide(now_ms)
    }

    /// The attacker mined `hash` at `height` on its private branch at `now_ms`. Ignored
    /// without an open attempt, or at or below the fork point.
    pub fn on_own_block(&mut self, hash: Hash, height: u64, now_ms: u64) -> Decision {
        let Some(a) = self.attempts.open_mut() else {
            return Decision::Wait;
        };
        if height <= a.public.fork {
            return Decision::Wait;
        }
        a.private.push((hash, height));
        self.decide(now_ms)
    }

    /// A public block of `height` arrived at `now_ms`; `holds_payment`: it holds the payment.
    /// Ignored without an open attempt, or at or below the fork point.
    pub fn on_public_block(&mut self, height: u64, holds_payment: bool, now_ms: u64) -> Decision {
        let z = self.z;
        let Some(a) = self.attempts.open_mut() else {
            return Decision::Wait;
        };
        if height <= a.public.fork {
            return Decision::Wait;
        }
        a.public.grow(height, holds_payment, z, now_ms);
        self.decide(now_ms)
    }

    fn decide(&mut self, now_ms: u64) -> Decision {
        let Some(a) = self.attempts.open() else {
            return Decision::Wait;
        };
        let t = a.tally();
        let shipped = (a.public.confirmed_at)
            .is_some_and(|c| now_ms >= c.saturating_add(self.merchant_delay_ms));
        if t.confirmations >= self.z && t.private > t.public && shipped {
            let a = self.attempts.close().expect("an open attempt");
            return Decision::Publish(a.private, t);
        }
        if t.public >= t.private + self.give_up {
            let a = self.attempts.close().expect("an open attempt");
            return Decision::GiveUp(a.private, t);
        }
        Decision::Wait
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    fn heights(blocks: &[(Hash, u64)]) -> Vec<u64> {
        blocks.iter().map(|(_, h)| *h).collect()
    }

    #[test]
    fn it_publishes_once_the_merchant_has_z_confirmations_and_it_is_longer() {
        let mut d = DoubleSpend::new(2, 20, 0);
        assert_eq!(d.start(10), 0);
        assert_eq!(d.on_own_block(h(1), 11, 0), Decision::Wait);
        assert!(d.withholds(&h(1)));
        // The payment's block: one confirmation.
        assert_eq!(d.on_public_block(11, true, 0), Decision::Wait);
        assert_eq!(d.on_own_block(h(2), 12, 0), Decision::Wait);
        // Longer (2 > 1), but the merchant has one confirmation only.
        assert_eq!(d.tally().unwrap().confirmations, 1);
        // Two confirmations, but 2 = 2 is not longer.
        assert_eq!(d.on_public_block(12, false, 0), Decision::Wait);
        let Decision::Publish(blocks, t) = d.on_own_block(h(3), 13, 0) else {
            panic!("publishes at 3 > 2")
        };
        assert_eq!(heights(&blocks), vec![11, 12, 13]);
        assert_eq!(
            t,
            Tally {
                attempt: 0,
                private: 3,
                public: 2,
                confirmations: 2
            }
        );
        assert!(!d.is_open() && !d.withholds(&h(1)));
        // Without an attempt, nothing happens.
        assert_eq!(d.on_own_block(h(4), 14, 0), Decision::Wait);
        assert_eq!(d.on_public_block(14, false, 0), Decision::Wait);
    }

    #[test]
    fn a_lead_before_the_confirmations_waits_for_them() {
        let mut d = DoubleSpend::new(3, 20, 0);
        d.start(0);
        for i in 1..=5 {
            assert_eq!(d.on_own_block(h(i), u64::from(i), 0), Decision::Wait);
        }
        assert_eq!(d.on_public_block(1, true, 0), Decision::Wait);
        assert_eq!(d.on_public_block(2, false, 0), Decision::Wait);
        // The third confirmation: 5 > 3, publish at once.
        let Decision::Publish(blocks, t) = d.on_public_block(3, false, 0) else {
            panic!("publishes")
        };
        assert_eq!(blocks.len(), 5);
        assert_eq!((t.private, t.public, t.confirmations), (5, 3, 3));
    }

    #[test]
    fn confirmations_count_from_the_block_holding_the_payment() {
        let mut d = DoubleSpend::new(2, 20, 0);
        d.start(0);
        // The first public block missed the payment: H = 2 is one confirmation.
        d.on_public_block(1, false, 0);
        d.on_public_block(2, true, 0);
        for i in 1..=3 {
            assert_eq!(d.on_own_block(h(i), u64::from(i), 0), Decision::Wait);
        }
        assert_eq!(d.tally().unwrap().confirmations, 1);
        // A second payment block (an honest fork) does not move it.
        d.on_public_block(3, true, 0);
        assert_eq!(d.tally().unwrap().confirmations, 2);
        // 3 = 3: not longer.
        assert!(matches!(d.on_own_block(h(4), 4, 0), Decision::Publish(..)));
    }

    #[test]
    fn it_gives_up_give_up_blocks_behind_and_starts_again() {
        let mut d = DoubleSpend::new(1, 3, 0);
        d.start(5);
        d.on_own_block(h(1), 6, 0);
        d.on_public_block(6, true, 0);
        d.on_public_block(7, false, 0);
        d.on_public_block(8, false, 0);
        // H − A = 3 − 1 = 2 < 3. Old public blocks change nothing.
        assert_eq!(d.on_public_block(4, false, 0), Decision::Wait);
        let Decision::GiveUp(blocks, t) = d.on_public_block(9, false, 0) else {
            panic!("gives up at H − A = 3")
        };
        assert_eq!(blocks, vec![(h(1), 6)]);
        assert_eq!((t.private, t.public), (1, 4));
        assert!(!d.is_open());
        // The next attempt, from the public tip.
        assert_eq!(d.start(9), 1);
        assert_eq!(d.started(), 2);
        // Blocks at or below the fork point are not the attempt's.
        assert_eq!(d.on_own_block(h(2), 9, 0), Decision::Wait);
        assert_eq!(d.lead(), 0);
        // Without a private block the attempt gives up all the same.
        for height in 10..12 {
            assert_eq!(d.on_public_block(height, height == 10, 0), Decision::Wait);
        }
        assert!(matches!(d.on_public_block(12, false, 0), Decision::GiveUp(b, _) if b.is_empty()));
    }

    #[test]
    fn it_waits_merchant_delay_after_the_zth_confirmation_reached_it() {
        let mut d = DoubleSpend::new(2, 20, 500);
        d.start(0);
        for i in 1..=3 {
            d.on_own_block(h(i), u64::from(i), 10);
        }
        d.on_public_block(1, true, 100);
        // The second confirmation at 1000: longer, but the merchant may not have it yet.
        assert_eq!(d.on_public_block(2, false, 1_000), Decision::Wait);
        assert_eq!(d.due(), Some(1_500));
        assert_eq!(d.on_tick(1_499), Decision::Wait);
        // A fourth own block meanwhile changes nothing; at 1500 it publishes.
        assert_eq!(d.on_own_block(h(4), 4, 1_200), Decision::Wait);
        assert!(matches!(d.on_tick(1_500), Decision::Publish(b, _) if b.len() == 4));
        assert_eq!(d.due(), None);
        // A public block during the wait that leaves it no longer longer: no publication, and
        // none due until it leads again; then at once, the confirmations being old.
        d.start(10);
        d.on_own_block(h(11), 11, 0);
        d.on_own_block(h(12), 12, 0);
        d.on_public_block(11, true, 100);
        assert_eq!(d.on_tick(10_000), Decision::Wait);
        assert_eq!(d.on_public_block(12, false, 2_000), Decision::Wait);
        assert_eq!(d.due(), None, "2 = 2: not longer");
        assert_eq!(d.on_own_block(h(13), 13, 2_100), Decision::Wait);
        assert_eq!(d.due(), Some(2_500));
        assert_eq!(d.on_public_block(13, false, 2_200), Decision::Wait);
        assert_eq!((d.due(), d.on_tick(2_500)), (None, Decision::Wait));
        assert!(
            matches!(d.on_own_block(h(14), 14, 9_000), Decision::Publish(b, _) if b.len() == 4)
        );
    }
}
