//! Runs a future inside an actix system on the virtual or the real clock.
//!
//! Virtual: a current-thread tokio runtime with a paused clock (`start_paused`), so time jumps
//! to the next timer whenever every actor is idle. Every actor must live on this one arbiter.

use chainlab::config::ClockMode;
use std::future::Future;

/// Runs `fut` to completion in a fresh actix system.
///
/// # Errors
/// When the tokio runtime cannot be built.
pub fn block_on<F: Future>(mode: ClockMode, fut: F) -> std::io::Result<F::Output> {
    let paused = mode == ClockMode::Virtual;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(paused)
        .build()?;
    let system = actix::System::with_tokio_rt(move || rt);
    Ok(system.block_on(fut))
}
