//! What the actor crate's integration tests share, taken by each with `mod support;`:
//!
//! - [`config`]: the base cluster configs (one per clock), changed key by key;
//! - [`run`]: running a cluster in-process, and reading its trace and report;
//! - [`converge`]: the end-of-run convergence check for real-clock runs;
//! - [`pos`]: reading a proof-of-stake run (slots led, finality) and its safety check;
//! - [`cli`]: the `chainlab` binary and the `--set` arguments of a small run;
//! - [`stats`]: a measurement against theory within sampling error (the fidelity tests).
//!
//! Each test binary uses part of it, hence `dead_code` is allowed here (and only here).
#![allow(dead_code)]

pub mod cli;
pub mod config;
pub mod converge;
pub mod pos;
pub mod run;
pub mod stats;
