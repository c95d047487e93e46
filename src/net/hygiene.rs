//! Peer hygiene, as pure decisions: offences and what they cost, per-peer rate limits, flood
//! detection, discouragement and reconnection backoff. Time comes in as an argument.

use crate::crypto::PublicKey;
use crate::hash::Hash;
use crate::net::frame::HandshakeError;
use std::collections::BTreeMap;

/// Something a connected peer did wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Offence {
    /// A frame that does not decode or breaks a cap.
    #[error("invalid frame: {0}")]
    BadFrame(String),
    /// A length prefix over the maximum (the body is never read).
    #[error("frame length prefix exceeds the maximum {max} bytes")]
    Oversized {
        /// Maximum.
        max: u64,
    },
    /// A block that is invalid in itself or against its parent.
    #[error("invalid block {hash}: {reason}")]
    InvalidBlock {
        /// Block.
        hash: Hash,
        /// Why.
        reason: String,
    },
    /// A transaction that is invalid in itself (signature, chain id).
    #[error("invalid transaction {id}: {reason}")]
    InvalidTx {
        /// Id.
        id: Hash,
        /// Why.
        reason: String,
    },
    /// A consensus item (proof of stake: a vote, a piece of evidence) that is invalid in
    /// itself (unknown validator, bad signature, evidence that proves nothing).
    #[error("invalid item {id}: {reason}")]
    InvalidItem {
        /// Id.
        id: Hash,
        /// Why.
        reason: String,
    },
    /// Too many useless items (duplicates, unrequested data).
    #[error("flood: {count} useless items within {window_ms} ms")]
    Flood {
        /// Counted.
        count: u64,
        /// Window.
        window_ms: u64,
    },
    /// A handshake frame after the handshake.
    #[error("protocol violation: {0}")]
    Protocol(String),
}

impl Offence {
    /// A short stable label for counters.
    pub fn label(&self) -> &'static str {
        match self {
            Offence::BadFrame(_) => "bad-frame",
            Offence::Oversized { .. } => "oversized-frame",
            Offence::InvalidBlock { .. } => "invalid-block",
            Offence::InvalidTx { .. } => "invalid-tx",
            Offence::InvalidItem { .. } => "invalid-item",
            Offence::Flood { .. } => "flood",
            Offence::Protocol(_) => "protocol",
        }
    }
}

/// A token bucket: `rate` units per second, at most `burst` saved.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last_ms: u64,
}

impl TokenBucket {
    /// A full bucket.
    pub fn new(rate_per_s: f64, burst: f64, now_ms: u64) -> TokenBucket {
        TokenBucket {
            rate: rate_per_s,
            burst,
            tokens: burst,
            last_ms: now_ms,
        }
    }

    /// Takes `n` units: Ok when available now, else how many ms until they will be (the units
    /// are then owed, so a caller that waits that long may proceed).
    ///
    /// # Errors
    /// The wait in milliseconds.
    pub fn take(&mut self, n: f64, now_ms: u64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.tokens -= n.max(0.0);
        if self.tokens >= 0.0 {
            return Ok(());
        }
        Err(((-self.tokens / self.rate) * 1000.0).ceil() as u64)
    }
}

impl TokenBucket {
    /// Takes `n` units only if they are available now: a refusal takes nothing, so a caller
    /// refused now is not refused again later for units it never used (serving budgets: a
    /// reply not produced costs the peer nothing).
    ///
    /// # Errors
    /// The wait in milliseconds until `n` units will be available.
    pub fn try_take(&mut self, n: f64, now_ms: u64) -> Result<(), u64> {
        let elapsed = now_ms.saturating_sub(self.last_ms) as f64 / 1000.0;
        self.last_ms = self.last_ms.max(now_ms);
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        let n = n.max(0.0);
        if self.tokens >= n {
            self.tokens -= n;
            return Ok(());
        }
        Err((((n - self.tokens) / self.rate) * 1000.0).ceil() as u64)
    }
}

/// Counts useless items from one peer in fixed windows; too many in one window is a flood.
#[derive(Debug, Clone)]
pub struct FloodGauge {
    window_ms: u64,
    limit: u64,
    start_ms: u64,
    count: u64,
}

impl FloodGauge {
    /// At most `limit` useless items per `window_ms`.
    pub fn new(limit: u64, window_ms: u64) -> FloodGauge {
        FloodGauge {
            window_ms: window_ms.max(1),
            limit,
            start_ms: 0,
            count: 0,
        }
    }

    /// Notes one useless item; returns the offence once the window's limit is passed.
    pub fn note(&mut self, now_ms: u64) -> Option<Offence> {
        if now_ms >= self.start_ms + self.window_ms {
            self.start_ms = now_ms;
            self.count = 0;
        }
        self.count += 1;
        (self.count > self.limit).then_some(Offence::Flood {
            count: self.count,
            window_ms: self.window_ms,
        })
    }
}

/// Peers refused for a while after an offence, keyed by their public key; bounded.
#[derive(Debug, Clone, Default)]
pub struct Discouraged {
    until: BTreeMap<PublicKey, (u64, String)>,
    capacity: usize,
}

impl Discouraged {
    /// Holds at most `capacity` peers (the soonest to expire go first).
    pub fn new(capacity: usize) -> Discouraged {
        Discouraged {
            until: BTreeMap::new(),
            capacity: capacity.max(1),
        }
    }

    /// Discourages `node` until `until_ms`.
    pub fn add(&mut self, node: PublicKey, until_ms: u64, reason: String) {
        if !self.until.contains_key(&node) && self.until.len() >= self.capacity {
            if let Some(first) = self
                .until
                .iter()
                .min_by_key(|(_, (u, _))| *u)
                .map(|(n, _)| *n)
            {
                self.until.remove(&first);
            }
        }
        self.until.insert(node, (until_ms, reason));
    }

    /// Whether `node` is discouraged at `now_ms`.
    ///
    /// # Errors
    /// [`HandshakeError::Discouraged`] while it is.
    pub fn check(&mut self, node: &PublicKey, now_ms: u64) -> Result<(), HandshakeError> {
        match self.until.get(node) {
            Some((u, reason)) if *u > now_ms => Err(HandshakeError::Discouraged {
                key: node.short(),
                left_ms: u - now_ms,
                reason: reason.clone(),
            }),
            Some(_) => {
                self.until.remove(node);
                Ok(())
            }
            None => Ok(()),
        }
    }

    /// Number held.
    pub fn len(&self) -> usize {
        self.until.len()
    }

    /// True when none.
    pub fn is_empty(&self) -> bool {
        self.until.is_empty()
    }
}

/// The wait before reconnection attempt `attempt` (0 = first retry): `base · 2^attempt`
/// capped at `cap`, scaled by a jitter factor in [0.5, 1.0) drawn from `jitter` in [0, 1).
pub fn backoff_ms(attempt: u32, base_ms: u64, cap_ms: u64, jitter: f64) -> u64 {
    let exp = base_ms.saturating_mul(1u64 << attempt.min(32)).min(cap_ms);
    ((exp as f64 * (0.5 + 0.5 * jitter.clamp(0.0, 1.0))) as u64).min(cap_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_bucket_throttles_to_its_rate() {
        let mut b = TokenBucket::new(100.0, 10.0, 0);
        for _ in 0..10 {
            b.take(1.0, 0).unwrap();
        }
        assert_eq!(b.take(1.0, 0), Err(10));
        // 50 ms later 5 tokens came back, one of which was owed.
        b.take(4.0, 50).unwrap();
        assert!(b.take(1.0, 50).is_err());
    }

    #[test]
    fn try_take_refuses_without_debiting() {
        let mut b = TokenBucket::new(100.0, 10.0, 0);
        b.try_take(8.0, 0).unwrap();
        assert_eq!(b.try_take(5.0, 0), Err(30), "3 units short: 30 ms");
        assert_eq!(b.try_take(5.0, 0), Err(30), "the refusal took nothing");
        b.try_take(2.0, 0).unwrap();
        assert!(b.try_take(1.0, 0).is_err());
        b.try_take(5.0, 50).unwrap();
    }

    #[test]
    fn flood_gauge_fires_past_its_limit_and_resets_per_window() {
        let mut g = FloodGauge::new(3, 1000);
        assert!(g.note(0).is_none());
        assert!(g.note(1).is_none());
        assert!(g.note(2).is_none());
        assert!(matches!(g.note(3), Some(Offence::Flood { count: 4, .. })));
        assert!(g.note(1500).is_none());
    }

    #[test]
    fn discouragement_expires_and_is_bounded() {
        let k = |n: u8| crate::crypto::KeyPair::from_seed(&[n]).public;
        let mut d = Discouraged::new(2);
        d.add(k(1), 100, "x".into());
        assert!(d.check(&k(1), 50).is_err());
        assert!(d.check(&k(1), 100).is_ok());
        d.add(k(1), 300, "a".into());
        d.add(k(2), 200, "b".into());
        d.add(k(3), 400, "c".into());
        assert_eq!(d.len(), 2);
        assert!(
            d.check(&k(2), 0).is_ok(),
            "the soonest to expire was dropped"
        );
        assert!(d.check(&k(3), 0).is_err());
    }

    #[test]
    fn backoff_doubles_to_its_cap_with_jitter() {
        assert_eq!(backoff_ms(0, 100, 10_000, 0.0), 50);
        assert_eq!(backoff_ms(0, 100, 10_000, 1.0), 100);
        assert_eq!(backoff_ms(3, 100, 10_000, 1.0), 800);
        assert_eq!(backoff_ms(30, 100, 10_000, 1.0), 10_000);
        assert_eq!(backoff_ms(63, 100, 10_000, 0.0), 5_000);
    }
}
