//! Logs through tracing-subscriber, filtered by `RUST_LOG` (default `warn`), stamped with
//! cluster time (simulated seconds on the virtual clock).

use std::sync::OnceLock;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::EnvFilter;

static START: OnceLock<tokio::time::Instant> = OnceLock::new();

/// Marks the cluster's time zero for log stamps (the first call wins).
pub fn mark_start() {
    let _ = START.set(tokio::time::Instant::now());
}

struct ClusterTime;

impl FormatTime for ClusterTime {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match START.get() {
            Some(s) => {
                let t = tokio::time::Instant::now().saturating_duration_since(*s);
                write!(w, "t={:>10.3}s", t.as_secs_f64())
            }
            None => write!(w, "t=         -"),
        }
    }
}

/// Installs the subscriber (once; later calls are ignored).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(ClusterTime)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr)
        .try_init();
}
