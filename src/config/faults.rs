//! `[[faults]]`: the file form of a fault scenario ([`FaultFile`]) and the check of the
//! scenario's entries against the cluster (the entries themselves are
//! [`FaultEntry`]s, defined in [`crate::sim::fault`]).

use super::{invalid, ConfigError};
use crate::sim::fault::FaultEntry;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A file of `[[faults]]` entries (`chainlab run --faults FILE`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultFile {
    /// The entries.
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
}

/// Checks each entry of `faults` against a cluster of `n` nodes that runs until `end`
/// (`cluster.duration + cluster.settle`).
///
/// # Errors
/// [`ConfigError::Invalid`] naming the first bad entry and its kind.
pub(crate) fn validate(
    faults: &[FaultEntry],
    file: &str,
    n: usize,
    end: Duration,
) -> Result<(), ConfigError> {
    for (i, f) in faults.iter().enumerate() {
        if let Err(e) = f.validate(i, n, end) {
            return invalid(file, &format!("faults[{i}] (kind = {})", e.kind), e.reason);
        }
    }
    Ok(())
}
