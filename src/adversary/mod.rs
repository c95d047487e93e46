//! Adversaries (`[[adversary]]` in a scenario; docs/experiments.md): strategies that replace a
//! node's honest behaviour at one point, as pure decisions the runtime carries out, and the
//! closed forms their measurements are checked against.
//!
//! - [`selfish`]: the Eyal–Sirer selfish-mining strategy (withhold own blocks, publish to
//!   match or override the honest chain).
//! - [`theory`]: relative revenue of selfish mining, R(α, γ), and its profitability threshold.

pub mod selfish;
pub mod theory;

pub use selfish::Selfish;
