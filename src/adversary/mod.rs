//! Adversaries (`[[adversary]]` in a scenario; docs/experiments.md): strategies that replace a
//! node's honest behaviour at one point, as pure decisions the runtime carries out, and the
//! closed forms their measurements are checked against.
//!
//! - [`selfish`]: the Eyal–Sirer selfish-mining strategy (withhold own blocks, publish to
//!   match or override the honest chain).
//! - [`double_spend`]: pay a merchant, mine a private branch with a conflicting spend, publish
//!   it once the merchant has `z` confirmations and it is longer, give up far behind.
//! - [`eclipse`]: hold every connection of a victim node and delay or filter what it sees,
//!   or feed it a private branch carrying a payment to it (Heilman et al. 2015).
//! - [`spam`]: spam and forkspam floods: their pacing, the invalid transactions and blocks
//!   they send, the cheap blocks forked deep in history.
//! - [`theory`]: relative revenue of selfish mining, R(α, γ), and its profitability threshold;
//!   the odds of a double spend (exact, Rosenfeld's, Nakamoto's).
//! - [`timewarp`]: the block interval a timewarp attacker reaches, under either retarget rule
//!   set (the bound with chainlab's rules, the rules simulated on an ideal network).

mod attempt;
pub mod double_spend;
pub mod eclipse;
pub mod selfish;
pub mod spam;
pub mod theory;
pub mod timewarp;

pub use double_spend::DoubleSpend;
pub use eclipse::Eclipse;
pub use selfish::Selfish;
