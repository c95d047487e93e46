//! Bandwidth as a queue. A bandwidth limit is a first-in first-out server that sends `mbps`
//! megabits per second: a message waits until the messages offered before it on the same queue
//! have left, then takes `size / rate` to leave itself (its serialisation delay). Propagation
//! latency is not part of the queue; the network adds it after the message has left.
//!
//! Each limit queues either every directed link on its own ([`Per::Link`]) or everything a node
//! sends ([`Per::Upload`]: a node that relays a block to eight peers serialises it eight times).
//! The arithmetic is Lindley's recursion for a single-server queue (derived in docs/faults.md):
//! departure = max(offered, previous departure) + size / rate.

use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What one bandwidth limit queues.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// One queue per directed link: a sender's links do not slow each other.
    #[default]
    Link,
    /// One queue per sender: everything a node sends (under this limit) shares its upload.
    Upload,
}

/// Milliseconds to serialise `bytes` at `mbps` megabits per second (1 Mbit/s = 1000 bits/ms).
pub fn serialisation_ms(bytes: u64, mbps: f64) -> f64 {
    bytes as f64 * 8.0 / (mbps * 1000.0)
}

/// One first-in first-out server: it remembers only when it is free again.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LinkQueue {
    busy_until_ms: f64,
}

/// What happened to one message offered to a queue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Served {
    /// When its last bit left (ms, on the caller's clock).
    pub departure_ms: f64,
    /// How long it waited behind earlier messages before its own serialisation began (ms).
    pub waited_ms: f64,
}

impl LinkQueue {
    /// Offers `bytes` at `at_ms` to a server of `mbps`: it starts when both it and the server
    /// are ready (`max(at, busy until)`) and leaves `size / rate` later. Offers must come in
    /// the order the messages were sent (times never decreasing), as a FIFO queue sees them.
    pub fn offer(&mut self, at_ms: f64, bytes: u64, mbps: f64) -> Served {
        let start = at_ms.max(self.busy_until_ms);
        self.busy_until_ms = start + serialisation_ms(bytes, mbps);
        Served {
            departure_ms: self.busy_until_ms,
            waited_ms: start - at_ms,
        }
    }

    /// When the server is free again (ms).
    pub fn busy_until_ms(&self) -> f64 {
        self.busy_until_ms
    }

    /// The work queued ahead of a message offered at `at_ms` (ms; 0 when the server is idle).
    pub fn backlog_ms(&self, at_ms: f64) -> f64 {
        (self.busy_until_ms - at_ms).max(0.0)
    }
}

/// A bandwidth limit: its rate and what it queues.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    /// Megabits per second (> 0).
    pub mbps: f64,
    /// Per directed link or per sender.
    pub per: Per,
}

/// The queues of one bandwidth limit, created as messages arrive (one per directed link or per
/// sender, as the limit says).
#[derive(Clone, Debug, PartialEq)]
pub struct Queues {
    limit: Bandwidth,
    /// Keyed by (sender, receiver); the receiver is `None` for an upload queue.
    queues: BTreeMap<(NodeId, Option<NodeId>), LinkQueue>,
}

impl Queues {
    /// No message queued yet.
    pub fn new(limit: Bandwidth) -> Queues {
        Queues {
            limit,
            queues: BTreeMap::new(),
        }
    }

    /// The limit.
    pub fn limit(&self) -> Bandwidth {
        self.limit
    }

    /// Offers a message of `bytes` from `from` to `to` at `at_ms` to its queue.
    pub fn offer(&mut self, from: NodeId, to: NodeId, at_ms: f64, bytes: u64) -> Served {
        let key = match self.limit.per {
            Per::Link => (from, Some(to)),
            Per::Upload => (from, None),
        };
        self.queues
            .entry(key)
            .or_default()
            .offer(at_ms, bytes, self.limit.mbps)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Lindley's recursion written out: departures of messages offered at `times`.
    fn departures(times: &[f64], bytes: u64, mbps: f64) -> Vec<f64> {
        let mut q = LinkQueue::default();
        times
            .iter()
            .map(|t| q.offer(*t, bytes, mbps).departure_ms)
            .collect()
    }

    #[test]
    fn serialisation_delay_is_size_over_rate() {
        // 1000 bytes = 8000 bits at 8 Mbit/s = 8000 bits/ms: 1 ms.
        assert_eq!(serialisation_ms(1000, 8.0), 1.0);
        // A 1 MB block at 10 Mbit/s: 800 ms.
        assert_eq!(serialisation_ms(1_000_000, 10.0), 800.0);
    }

    #[test]
    fn messages_sent_together_leave_one_service_time_apart() {
        // k messages offered at once: departure of the n-th (from 0) is (n + 1) S/R.
        let d = departures(&[5.0; 4], 1000, 8.0);
        assert_eq!(d, vec![6.0, 7.0, 8.0, 9.0]);
        let mut q = LinkQueue::default();
        q.offer(0.0, 1000, 8.0);
        q.offer(0.0, 1000, 8.0);
        assert_eq!(q.backlog_ms(0.5), 1.5);
        assert_eq!(q.backlog_ms(9.0), 0.0);
        let s = q.offer(0.5, 1000, 8.0);
        assert_eq!((s.waited_ms, s.departure_ms), (1.5, 3.0));
    }

    #[test]
    fn an_idle_queue_forgets_its_past() {
        let mut q = LinkQueue::default();
        q.offer(0.0, 10_000, 8.0); // busy until 10 ms
        let s = q.offer(50.0, 1000, 8.0);
        assert_eq!((s.waited_ms, s.departure_ms), (0.0, 51.0));
    }

    #[test]
    fn link_queues_are_per_directed_link_and_upload_queues_per_sender() {
        let one_ms = |per| Bandwidth { mbps: 8.0, per };
        let mut link = Queues::new(one_ms(Per::Link));
        let mut upload = Queues::new(one_ms(Per::Upload));
        // Node 0 sends the same 1000-byte message to 1, 2 and 3 at once, then 1 sends to 0.
        let send = |q: &mut Queues| {
            let mut d: Vec<f64> = [1, 2, 3]
                .iter()
                .map(|to| q.offer(0, *to, 0.0, 1000).departure_ms)
                .collect();
            d.push(q.offer(1, 0, 0.0, 1000).departure_ms);
            d
        };
        assert_eq!(send(&mut link), vec![1.0, 1.0, 1.0, 1.0]);
        assert_eq!(send(&mut upload), vec![1.0, 2.0, 3.0, 1.0]);
        // A second message on the link 0 -> 2 queues behind the first one only.
        assert_eq!(link.offer(0, 2, 0.0, 1000).departure_ms, 2.0);
    }

    /// The closed forms of docs/faults.md for constant-size messages offered every `a` ms to a
    /// queue serving one in `s` ms: delay of the n-th (from 0) is n (s - a) + s when a < s
    /// (the backlog grows by s - a per message), else s.
    fn closed_form_delay(n: usize, a: f64, s: f64) -> f64 {
        if a < s {
            n as f64 * (s - a) + s
        } else {
            s
        }
    }

    #[test]
    fn overload_and_underload_match_the_closed_form() {
        // s = 1 ms (1000 bytes at 8 Mbit/s); a = 0.25 (overload), 1 (critical), 3 (light).
        for a in [0.0, 0.25, 1.0, 3.0] {
            let times: Vec<f64> = (0..50).map(|i| 2.0 + i as f64 * a).collect();
            let d = departures(&times, 1000, 8.0);
            for (n, (t, d)) in times.iter().zip(&d).enumerate() {
                assert_eq!(d - t, closed_form_delay(n, a, 1.0), "a = {a}, n = {n}");
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// Any constant size, rate and spacing: the queue follows Lindley's recursion
        /// d_n = max(t_n, d_{n-1}) + S/R and the closed form of its delays.
        #[test]
        fn periodic_offers_follow_lindley_and_the_closed_form(
            bytes in 1u64..2_000_000,
            mbps in 0.01f64..1000.0,
            a_ratio in 0.0f64..3.0,
            t0 in 0.0f64..10_000.0,
            k in 1usize..200,
        ) {
            let s = serialisation_ms(bytes, mbps);
            let a = a_ratio * s;
            let times: Vec<f64> = (0..k).map(|i| t0 + i as f64 * a).collect();
            let d = departures(&times, bytes, mbps);
            let tol = 1e-9 * (t0 + k as f64 * (s + a) + 1.0);
            let mut prev = f64::NEG_INFINITY;
            for (n, (t, dn)) in times.iter().zip(&d).enumerate() {
                prop_assert!((dn - (t.max(prev) + s)).abs() <= tol, "Lindley at n = {}", n);
                let want = closed_form_delay(n, a, s);
                prop_assert!((dn - t - want).abs() <= tol, "n = {}: {} vs {}", n, dn - t, want);
                prev = *dn;
            }
        }

        /// Any offer times and sizes: the server is work-conserving and FIFO. Departures are
        /// in offer order, at least one service time apart, never before offer + service, and
        /// the last one equals the busy period's work: max over j of (t_j + sum of S_i/R, i >= j).
        #[test]
        fn arbitrary_offers_keep_order_and_conserve_work(
            offers in proptest::collection::vec((0.0f64..50.0, 1u64..100_000), 1..100),
            mbps in 0.1f64..100.0,
        ) {
            let mut t = 0.0;
            let times: Vec<(f64, u64)> = offers.iter().map(|(gap, b)| { t += gap; (t, *b) }).collect();
            let mut q = LinkQueue::default();
            let mut prev = f64::NEG_INFINITY;
            for (t, b) in &times {
                let s = serialisation_ms(*b, mbps);
                let served = q.offer(*t, *b, mbps);
                prop_assert!(served.waited_ms >= 0.0);
                prop_assert!(served.departure_ms >= prev + s - 1e-6);
                prop_assert!(served.departure_ms >= t + s - 1e-6);
                prev = served.departure_ms;
            }
            let last = (0..times.len())
                .map(|j| times[j].0 + times[j..].iter().map(|(_, b)| serialisation_ms(*b, mbps)).sum::<f64>())
                .fold(f64::NEG_INFINITY, f64::max);
            prop_assert!((q.busy_until_ms() - last).abs() <= 1e-6 * last.max(1.0));
        }
    }
}
