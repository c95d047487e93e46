//! The files a command writes besides stdout: the run report (JSON), the trace (JSON Lines) and
//! the node report (JSON); and the check, before a run, that they can be written.
//!
//! The run report's shape (the core's `Report` plus message and signature-cache counters) is
//! read by tests and users; it would sit better in the library next to `RunOutput`, but stays in
//! the binary for now.

use super::args::BadInput;
use anyhow::Context as _;
use chainlab_actors::cluster::RunOutput;
use chainlab_actors::standalone::NodeReport;
use std::io::Write as _;
use std::path::Path;

/// Creates (truncates) `path`, so that an unwritable output fails before a run, not after it.
///
/// # Errors
/// The file cannot be created.
pub fn ensure_writable(path: &Path) -> Result<(), BadInput> {
    std::fs::File::create(path)
        .map(drop)
        .map_err(|e| BadInput(format!("cannot write {}: {e}", path.display())))
}

/// The `--report` of `run`: the core's report with the network and cache counters beside it.
#[derive(serde::Serialize)]
struct FullReport<'a> {
    #[serde(flatten)]
    report: &'a chainlab::report::Report,
    messages: &'a chainlab_actors::transport::memory::NetStats,
    sig_cache: SigCacheStats,
}

/// Signature-cache lookups over the run.
#[derive(serde::Serialize)]
struct SigCacheStats {
    hits: u64,
    misses: u64,
}

/// Writes the run report as pretty JSON.
///
/// # Errors
/// The file cannot be written.
pub fn write_report(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let full = FullReport {
        report: &out.report,
        messages: &out.net,
        sig_cache: SigCacheStats {
            hits: out.sig_cache.0,
            misses: out.sig_cache.1,
        },
    };
    let json = serde_json::to_string_pretty(&full)?;
    std::fs::write(path, json + "\n")
        .with_context(|| format!("cannot write report {}", path.display()))
}

/// Writes the trace, one JSON object per event and line.
///
/// # Errors
/// The file cannot be written.
pub fn write_trace(path: &Path, out: &RunOutput) -> anyhow::Result<()> {
    let f = std::fs::File::create(path)
        .with_context(|| format!("cannot create trace {}", path.display()))?;
    let mut w = std::io::BufWriter::new(f);
    for (i, e) in out.events.iter().enumerate() {
        let line = e.to_json_line().with_context(|| {
            format!(
                "trace {}: event {i} ({:?} at node {}) cannot be serialised",
                path.display(),
                e.event,
                e.node
            )
        })?;
        writeln!(w, "{line}").with_context(|| format!("cannot write trace {}", path.display()))?;
    }
    w.flush()
        .with_context(|| format!("cannot write trace {}", path.display()))
}

/// Writes a node's report (tip, peers, counters) as pretty JSON.
///
/// # Errors
/// The file cannot be written.
pub fn write_node_report(path: &Path, r: &NodeReport) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(r)?;
    std::fs::write(path, json + "\n").with_context(|| format!("cannot write {}", path.display()))
}
