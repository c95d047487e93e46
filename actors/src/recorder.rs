//! Collects trace events from every node (with cluster-clock times) and live counters for the
//! progress display.

use crate::clock::Clock;
use chainlab::hash::HashKey;
use chainlab::report::{Event, Trace, TraceRecord};
use chainlab::NodeId;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Inner {
    events: Trace,
    mined_per_height: BTreeMap<u64, u32>,
    best_height: u64,
    mined_txs: u64,
    submitted: u64,
    /// Events by name (kept in both modes).
    counts: BTreeMap<&'static str, u64>,
    /// Drop events after counting them (a long-running `chainlab node`).
    count_only: bool,
}

/// Live figures for the progress bar.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Highest height imported anywhere.
    pub height: u64,
    /// Heights with more than one block mined.
    pub forks: u64,
    /// Transactions in mined blocks.
    pub mined_txs: u64,
    /// Transactions submitted.
    pub submitted: u64,
}

/// A shared, cheap-to-clone event sink.
#[derive(Clone, Debug)]
pub struct Recorder {
    inner: Arc<Mutex<Inner>>,
    clock: Clock,
}

impl Recorder {
    /// An empty recorder on `clock`.
    pub fn new(clock: Clock) -> Recorder {
        Recorder {
            inner: Arc::new(Mutex::new(Inner::default())),
            clock,
        }
    }

    /// An empty recorder on `clock` whose trace keys its table of block hashes with `key`
    /// ([`Trace::keyed`]).
    pub fn keyed(clock: Clock, key: HashKey) -> Recorder {
        let r = Recorder::new(clock);
        r.inner.lock().unwrap_or_else(|p| p.into_inner()).events = Trace::keyed(key);
        r
    }

    /// A recorder that only counts events by name (memory stays flat however long it runs).
    pub fn counting(clock: Clock) -> Recorder {
        let r = Recorder::new(clock);
        r.inner.lock().unwrap_or_else(|p| p.into_inner()).count_only = true;
        r
    }

    /// Events recorded so far, by name.
    pub fn counts(&self) -> BTreeMap<&'static str, u64> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .counts
            .clone()
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Records an event at `node` now.
    pub fn record(&self, node: NodeId, event: Event) {
        // Read under the lock: nodes on several arbiters (real clock) record from several
        // threads, and the trace stays in time order.
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let t_ms = self.clock.elapsed_ms();
        match &event {
            Event::BlockMined(m) => {
                *g.mined_per_height.entry(m.height).or_default() += 1;
                g.mined_txs += m.txs as u64;
            }
            Event::BlockImported { height, .. } => g.best_height = g.best_height.max(*height),
            Event::TxSubmitted { .. } => g.submitted += 1,
            _ => {}
        }
        *g.counts.entry(event.name()).or_default() += 1;
        if !g.count_only {
            g.events.push(TraceRecord { t_ms, node, event });
        }
    }

    /// Live figures.
    pub fn progress(&self) -> Progress {
        let g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        Progress {
            height: g.best_height,
            forks: g.mined_per_height.values().filter(|c| **c > 1).count() as u64,
            mined_txs: g.mined_txs,
            submitted: g.submitted,
        }
    }

    /// Takes every event recorded so far.
    pub fn take_events(&self) -> Trace {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .take()
    }

    /// Number of events so far.
    pub fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .events
            .len()
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
