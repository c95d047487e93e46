//! The progress bar: cluster time, best height, forks, throughput and submitted transactions.

use crate::recorder::Recorder;
use indicatif::{ProgressBar, ProgressStyle};

/// The run's progress bar (none when not asked for).
pub(super) struct Progress {
    bar: Option<ProgressBar>,
    /// The whole run (duration and settle), ms.
    total_ms: u64,
}

impl Progress {
    /// A bar over `total_ms` of cluster time when `show`, else nothing.
    pub(super) fn new(show: bool, total_ms: u64) -> Progress {
        Progress {
            bar: show.then(|| progress_bar(total_ms)),
            total_ms,
        }
    }

    /// Shows cluster time `t_ms` and the recorder's counters.
    pub(super) fn update(&self, rec: &Recorder, t_ms: u64) {
        if let Some(bar) = &self.bar {
            update_bar(bar, rec, t_ms, self.total_ms);
        }
    }

    /// Removes the bar.
    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn progress_bar(total_ms: u64) -> ProgressBar {
    let bar = ProgressBar::new(total_ms);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

fn update_bar(bar: &ProgressBar, rec: &Recorder, t_ms: u64, total_ms: u64) {
    if bar.is_hidden() {
        return;
    }
    let p = rec.progress();
    let secs = t_ms as f64 / 1000.0;
    let tps = if secs > 0.0 {
        p.mined_txs as f64 / secs
    } else {
        0.0
    };
    bar.set_position(t_ms);
    bar.set_message(format!(
        "t={:.0}s/{:.0}s  height {}  forks {}  tps {:.1}  txs {}",
        secs,
        total_ms as f64 / 1000.0,
        p.height,
        p.forks,
        tps,
        p.submitted
    ));
}
