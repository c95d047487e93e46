//! The cluster clock, read from tokio's clock, which is virtual (paused, jumping to the next
//! timer) in `clock = "virtual"` mode.
//!
//! Two readings: `elapsed_ms` (since this run started: trace times, the scenario timeline) and
//! `now_ms` (chain time: `elapsed_ms` plus an offset, so that a run resumed from a store
//! continues after the timestamps already in it).

use tokio::time::Instant;

/// Time since the cluster started, plus the chain-time offset.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    offset_ms: u64,
}

impl Clock {
    /// A clock starting now, whose chain time starts at `offset_ms`. Call it inside the
    /// cluster's runtime.
    pub fn start(offset_ms: u64) -> Clock {
        Clock {
            start: Instant::now(),
            offset_ms,
        }
    }

    /// Milliseconds since this run started.
    pub fn elapsed_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.start)
            .as_millis() as u64
    }

    /// Chain time in milliseconds (block timestamps, validity checks).
    pub fn now_ms(&self) -> u64 {
        self.offset_ms + self.elapsed_ms()
    }

    /// Chain time at this run's start, ms.
    pub fn offset_ms(&self) -> u64 {
        self.offset_ms
    }

    /// The instant `ms` after this run started.
    pub fn at_ms(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }
}
