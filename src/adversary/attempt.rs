//! What the double-spend and eclipse-branch attackers share: numbered attempts, one open at a
//! time ([`Attempts`]), and the count of a payment's confirmations on the chain that carries
//! it ([`Confirming`]).

/// Numbered attempts (from 0), at most one open.
#[derive(Clone, Debug)]
pub(crate) struct Attempts<A> {
    open: Option<A>,
    started: u64,
}

impl<A> Attempts<A> {
    pub(crate) fn new() -> Attempts<A> {
        Attempts {
            open: None,
            started: 0,
        }
    }

    /// Opens the next attempt, built from its number (an open one is dropped); returns the
    /// number.
    pub(crate) fn start(&mut self, attempt: impl FnOnce(u64) -> A) -> u64 {
        let number = self.started;
        self.started += 1;
        self.open = Some(attempt(number));
        number
    }

    /// Attempts started so far.
    pub(crate) fn started(&self) -> u64 {
        self.started
    }

    /// The open attempt.
    pub(crate) fn open(&self) -> Option<&A> {
        self.open.as_ref()
    }

    /// The open attempt, to change.
    pub(crate) fn open_mut(&mut self) -> Option<&mut A> {
        self.open.as_mut()
    }

    /// Closes the open attempt, returning it.
    pub(crate) fn close(&mut self) -> Option<A> {
        self.open.take()
    }
}

/// A chain above an attempt's fork point that may carry its payment, as far as it was seen.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Confirming {
    /// Height of the fork point.
    pub fork: u64,
    /// Highest block of this chain seen.
    pub top: u64,
    /// Height of the first block seen holding the payment.
    pub payment: Option<u64>,
    /// When the payment's `z`-th confirmation was seen.
    pub confirmed_at: Option<u64>,
}

impl Confirming {
    /// Nothing above `fork` yet.
    pub(crate) fn new(fork: u64) -> Confirming {
        Confirming {
            fork,
            top: fork,
            payment: None,
            confirmed_at: None,
        }
    }

    /// Blocks above the fork point.
    pub(crate) fn above(&self) -> u64 {
        self.top.saturating_sub(self.fork)
    }

    /// The payment's confirmations: the top's height minus the payment block's, plus one (0
    /// while no block seen holds it).
    pub(crate) fn confirmations(&self) -> u64 {
        self.payment
            .filter(|p| self.top >= *p)
            .map_or(0, |p| self.top - p + 1)
    }

    /// A block of this chain at `height`, seen at `now_ms`; `holds_payment`: it holds the
    /// payment. Notes when the confirmations first reach `z`.
    pub(crate) fn grow(&mut self, height: u64, holds_payment: bool, z: u64, now_ms: u64) {
        if holds_payment && self.payment.is_none() {
            self.payment = Some(height);
        }
        self.top = self.top.max(height);
        if self.confirmed_at.is_none() && self.confirmations() >= z {
            self.confirmed_at = Some(now_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirmations_count_from_the_first_block_holding_the_payment() {
        let mut c = Confirming::new(10);
        assert_eq!((c.above(), c.confirmations()), (0, 0));
        c.grow(11, false, 2, 5);
        c.grow(12, true, 2, 6);
        assert_eq!((c.above(), c.confirmations(), c.confirmed_at), (2, 1, None));
        // A second block holding it (a fork) and an old block move nothing.
        c.grow(13, true, 2, 7);
        c.grow(9, false, 2, 8);
        assert_eq!((c.top, c.confirmations(), c.confirmed_at), (13, 2, Some(7)));
        c.grow(14, false, 2, 9);
        assert_eq!(c.confirmed_at, Some(7), "the first time counts");
    }

    #[test]
    fn attempts_are_numbered_one_open_at_a_time() {
        let mut a: Attempts<u64> = Attempts::new();
        assert!(a.open().is_none());
        assert_eq!(a.start(|n| n * 10), 0);
        assert_eq!(a.start(|n| n * 10), 1);
        assert_eq!((a.open(), a.started()), (Some(&10), 2));
        *a.open_mut().unwrap() += 1;
        assert_eq!(a.close(), Some(11));
        assert!(a.close().is_none());
    }
}
