//! The cluster clock: milliseconds since the cluster started, read from tokio's clock, which
//! is virtual (paused, jumping to the next timer) in `clock = "virtual"` mode.

use tokio::time::Instant;

/// Time since the cluster started.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    /// A clock starting now. Call it inside the cluster's runtime.
    pub fn start() -> Clock {
        Clock {
            start: Instant::now(),
        }
    }

    /// Milliseconds since start.
    pub fn now_ms(&self) -> u64 {
        Instant::now()
            .saturating_duration_since(self.start)
            .as_millis() as u64
    }

    /// The instant `ms` after start.
    pub fn at_ms(&self, ms: u64) -> Instant {
        self.start + std::time::Duration::from_millis(ms)
    }
}
