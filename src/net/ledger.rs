//! One node's accounts with its peers: items a peer sent that this node already had (flood
//! detection), and reply bytes served to each peer (a serving budget). Pure: time comes in as
//! arguments; the peer actor asks and acts on the answer.

use crate::net::hygiene::{FloodGauge, Offence, TokenBucket};
use crate::NodeId;
use std::collections::BTreeMap;

/// The window over which useless items are counted.
pub const FLOOD_WINDOW_MS: u64 = 10_000;

/// The ledger's limits.
#[derive(Clone, Debug, PartialEq)]
pub struct LedgerPolicy {
    /// Useless items a peer may send per [`FLOOD_WINDOW_MS`] before it is punished.
    pub flood_limit: u64,
    /// Reply bytes per second (and burst) each peer may draw; `None`: unlimited (in-process
    /// peers, which are not adversaries).
    pub serve_bytes_per_sec: Option<f64>,
}

/// Per-peer flood gauges and serving budgets.
#[derive(Debug)]
pub struct PeerLedger {
    policy: LedgerPolicy,
    floods: BTreeMap<NodeId, FloodGauge>,
    serving: BTreeMap<NodeId, TokenBucket>,
    duplicates_expected: bool,
}

impl PeerLedger {
    /// An empty ledger.
    pub fn new(policy: LedgerPolicy) -> PeerLedger {
        PeerLedger {
            policy,
            floods: BTreeMap::new(),
            serving: BTreeMap::new(),
            duplicates_expected: false,
        }
    }

    /// While the network itself duplicates messages (a `duplicate` fault), a repeated item
    /// proves nothing about its sender: useless items stop counting.
    pub fn expect_duplicates(&mut self, on: bool) {
        self.duplicates_expected = on;
    }

    /// `peer` sent an item this node already had (honest peers send only what was asked).
    /// Returns the offence when this one crosses the flood limit (the gauge then starts over).
    pub fn useless(&mut self, peer: NodeId, now_ms: u64) -> Option<Offence> {
        if self.duplicates_expected {
            return None;
        }
        let limit = self.policy.flood_limit;
        let gauge = self
            .floods
            .entry(peer)
            .or_insert_with(|| FloodGauge::new(limit, FLOOD_WINDOW_MS));
        let offence = gauge.note(now_ms)?;
        self.floods.remove(&peer);
        Some(offence)
    }

    /// Whether replies of `bytes` to `peer` fit its serving budget. Only a served reply is
    /// debited: a refused one costs the budget nothing (so a syncing peer refused once is
    /// served as soon as the budget has refilled to the reply's size), but counts as a useless
    /// item; `Err` carries the offence when that crosses the flood limit.
    ///
    /// # Errors
    /// The reply does not fit: `Err(None)`, or `Err(Some(offence))` when the peer is to be
    /// punished as well.
    pub fn serve(&mut self, peer: NodeId, bytes: u64, now_ms: u64) -> Result<(), Option<Offence>> {
        let Some(rate) = self.policy.serve_bytes_per_sec else {
            return Ok(());
        };
        let bucket = self
            .serving
            .entry(peer)
            .or_insert_with(|| TokenBucket::new(rate, rate, now_ms));
        if bucket.try_take(bytes as f64, now_ms).is_ok() {
            return Ok(());
        }
        Err(self.useless(peer, now_ms))
    }

    /// The link to `peer` went down: its accounts start over if it returns.
    pub fn forget(&mut self, peer: NodeId) {
        self.floods.remove(&peer);
        self.serving.remove(&peer);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ledger(serve: Option<f64>) -> PeerLedger {
        PeerLedger::new(LedgerPolicy {
            flood_limit: 3,
            serve_bytes_per_sec: serve,
        })
    }

    #[test]
    fn useless_items_past_the_limit_are_an_offence_unless_duplicates_are_expected() {
        let mut l = ledger(None);
        let first_offence = (0..10).find_map(|i| l.useless(1, i).map(|o| (i, o)));
        let (at, offence) = first_offence.expect("a flood is caught");
        assert!(matches!(offence, Offence::Flood { .. }), "{offence:?}");
        assert!(
            at >= 3,
            "three useless items are allowed, offence at item {at}"
        );
        assert!(l.useless(2, 0).is_none(), "peers are counted apart");
        let mut quiet = ledger(None);
        quiet.expect_duplicates(true);
        assert!((0..100).all(|i| quiet.useless(1, i).is_none()));
    }

    #[test]
    fn replies_beyond_the_serving_budget_are_refused_and_count_as_flood() {
        let mut unlimited = ledger(None);
        assert!(unlimited.serve(1, u64::MAX / 2, 0).is_ok());
        let mut l = ledger(Some(1_000.0));
        assert!(l.serve(1, 600, 0).is_ok());
        assert!(l.serve(1, 600, 0).is_err(), "the burst is 1,000 bytes");
        assert!(
            l.serve(1, 600, 1_000).is_ok(),
            "a second later the budget is back"
        );
        let refusals: Vec<_> = (0..10).map(|_| l.serve(1, 10_000, 1_000)).collect();
        assert!(refusals.iter().all(Result::is_err));
        assert!(
            refusals.iter().any(|r| matches!(r, Err(Some(_)))),
            "repeated refusals end in an offence"
        );
        l.forget(1);
        assert!(
            l.serve(1, 900, 1_000).is_ok(),
            "a forgotten peer starts afresh"
        );
    }

    /// A peer asking again and again for a reply over what its budget holds now is served as
    /// soon as the budget refills, however often it was refused meanwhile (a refusal debits
    /// nothing).
    #[test]
    fn refused_replies_do_not_debit_the_budget() {
        let mut l = PeerLedger::new(LedgerPolicy {
            flood_limit: 1_000,
            serve_bytes_per_sec: Some(1_000.0),
        });
        assert!(l.serve(1, 1_000, 0).is_ok(), "the burst");
        // Every 100 ms a refused request for 800 bytes: 100 bytes come back each time.
        for t in 1..8 {
            assert!(l.serve(1, 800, t * 100).is_err(), "at {} ms", t * 100);
        }
        assert!(
            l.serve(1, 800, 800).is_ok(),
            "800 ms after the burst 800 bytes are back, whatever was refused meanwhile"
        );
    }
}
