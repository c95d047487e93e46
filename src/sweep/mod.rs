//! Parameter sweeps (`chainlab sweep`, docs/sweeps.md): the plan and its grid of points
//! ([`Plan`], [`Vary`], [`Point`]), reading a figure off a run report by its dotted path
//! ([`path`]), the statistics of a point's trials ([`stats`]: mean, standard deviation,
//! Student-t interval) and the tables a sweep writes ([`table`]).
//!
//! Everything here is pure: running the trials, files, the progress bar and the plots live in
//! the binary (`actors/src/cli/sweep/`).

pub mod path;
mod plan;
pub mod stats;
pub mod table;

pub use plan::{Plan, Point, Vary, PLAN_FORMAT};

/// Why a sweep cannot be planned or summarised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SweepError {
    /// A `--vary` argument is malformed.
    #[error("--vary {arg}: {reason}")]
    BadVary {
        /// The argument.
        arg: String,
        /// What is wrong.
        reason: String,
    },
    /// A `--metric` path names no figure of a run report.
    #[error("--metric {path}: {reason}")]
    BadMetric {
        /// The path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// The plan as a whole is unusable (no metric, no trial, a seed past `u64`, ...).
    #[error("{0}")]
    BadPlan(String),
}
