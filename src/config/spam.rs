//! The `spam` and `forkspam` kinds of `[[adversary]]` (docs/experiments.md, "Spam and
//! forkspam"): their keys, checks and defaults ([`Config::spam`]), the accounts a low-fee
//! flood sends from ([`Config::spam_key`]), and the baseline a run is compared with
//! ([`Config::without_spam`]).
//!
//! ```toml
//! [[adversary]]
//! kind = "spam"
//! nodes = [0]            # its nodes run the honest code (they mine with their pow.hashpower
//!                        # share) and flood besides
//! mode = "low-fee"       # "low-fee" | "invalid-tx" | "invalid-block"
//! rate = 50.0            # optional: transactions (or blocks) per second, over all its nodes
//!                        # (default 50)
//! accounts = 32          # optional, low-fee only: funded accounts it sends from (default 32)
//!
//! [[adversary]]
//! kind = "forkspam"
//! nodes = [1]
//! rate = 5.0             # optional: blocks per second (default 5)
//! fork_depth = 101       # optional: its blocks fork this far below its tip (clamped at
//!                        # genesis; default consensus.max_fork_depth + 1)
//! ```

use super::{invalid, AdversaryKind, AdversaryMode, Config, ConfigError};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// What a `spam` adversary floods the network with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpamMode {
    /// Valid transactions (signed, next nonces, funded) paying `mempool.min_fee`.
    LowFee,
    /// Transactions that fail validation or admission: bad signature, wrong chain, used
    /// nonce, nonce far ahead, overspend, in turn.
    InvalidTx,
    /// Blocks on its tip that fail validation: bad proof of work, bad merkle root, a bad
    /// transaction, in turn.
    InvalidBlock,
}

impl SpamMode {
    /// The name in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            SpamMode::LowFee => "low-fee",
            SpamMode::InvalidTx => "invalid-tx",
            SpamMode::InvalidBlock => "invalid-block",
        }
    }
}

/// Default `rate` of a `spam` adversary, per second.
pub const DEFAULT_SPAM_RATE: f64 = 50.0;
/// Default `rate` of a `forkspam` adversary, blocks per second.
pub const DEFAULT_FORKSPAM_RATE: f64 = 5.0;
/// Default `accounts` of a low-fee flood.
pub const DEFAULT_SPAM_ACCOUNTS: u32 = 32;
/// Largest `rate` (per second, per entry).
pub const MAX_SPAM_RATE: f64 = 10_000.0;
/// Largest `accounts`.
pub const MAX_SPAM_ACCOUNTS: u32 = 4_096;

/// A spam or forkspam adversary's node's settings, defaults filled in ([`Config::spam`]).
#[derive(Clone, Debug, PartialEq)]
pub struct SpamPlan {
    /// The node.
    pub node: NodeId,
    /// What it sends: `None` for forkspam.
    pub mode: Option<SpamMode>,
    /// Items per second from this node (the entry's rate split evenly over its nodes).
    pub rate: f64,
    /// Low-fee: its accounts (their indices for [`Config::spam_key`]).
    pub accounts: u32,
    /// Forkspam: how far below its tip its blocks fork.
    pub fork_depth: u64,
    /// Low-fee: the fee it pays (`mempool.min_fee`, at least 1).
    pub fee: u64,
    /// `mempool.max_nonce_gap`: how far ahead of the chain an account may queue.
    pub max_nonce_gap: u64,
    /// Funds of each account at genesis (`workload.initial_balance`).
    pub balance: u64,
}

/// Checks the spam and forkspam entries (the common keys are checked by the caller).
pub(super) fn validate(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    for (i, a) in cfg.adversary.iter().enumerate() {
        let key = |k: &str| format!("adversary.{i}.{k}");
        let spam = a.kind == AdversaryKind::Spam;
        let fork = a.kind == AdversaryKind::Forkspam;
        let not_for = |k: &str, kinds: &str| {
            invalid(
                file,
                &key(k),
                format!("applies to {kinds} only, not `{}`", a.kind.name()),
            )
        };
        if a.accounts.is_some() && !spam {
            return not_for("accounts", "`spam`");
        }
        if a.rate.is_some() && !spam && !fork {
            return not_for("rate", "`spam` and `forkspam`");
        }
        if a.fork_depth.is_some() && !fork {
            return not_for("fork_depth", "`forkspam`");
        }
        if !spam && !fork {
            continue;
        }
        if a.hashpower.is_some() {
            return invalid(
                file,
                &key("hashpower"),
                format!(
                    "a `{}` adversary's nodes mine as honest nodes with their pow.hashpower \
                     share (set that instead)",
                    a.kind.name()
                ),
            );
        }
        if spam && a.mode.is_none() {
            return invalid(
                file,
                &key("mode"),
                "missing: one of \"low-fee\", \"invalid-tx\", \"invalid-block\"".into(),
            );
        }
        if let Some(r) = a.rate {
            if !(r > 0.0 && r <= MAX_SPAM_RATE) {
                return invalid(
                    file,
                    &key("rate"),
                    format!("{r} is not a rate in (0, {MAX_SPAM_RATE}] per second"),
                );
            }
        }
        if let Some(n) = a.accounts {
            if a.mode.and_then(AdversaryMode::spam) != Some(SpamMode::LowFee) {
                return invalid(
                    file,
                    &key("accounts"),
                    "applies to mode = \"low-fee\" only".into(),
                );
            }
            if n == 0 || n > MAX_SPAM_ACCOUNTS {
                return invalid(
                    file,
                    &key("accounts"),
                    format!("{n} is not in 1..={MAX_SPAM_ACCOUNTS}"),
                );
            }
        }
        if a.fork_depth == Some(0) {
            return invalid(
                file,
                &key("fork_depth"),
                "must be at least 1 (a block on the tip is no side branch)".into(),
            );
        }
    }
    Ok(())
}

impl Config {
    /// The settings of the spam or forkspam adversary at node `id`, defaults filled in
    /// (`None`: the node is no such adversary's).
    pub fn spam(&self, id: NodeId) -> Option<SpamPlan> {
        let (_, a) = self
            .adversary_of(id)
            .filter(|(_, a)| matches!(a.kind, AdversaryKind::Spam | AdversaryKind::Forkspam))?;
        let fork = a.kind == AdversaryKind::Forkspam;
        let rate = a.rate.unwrap_or(if fork {
            DEFAULT_FORKSPAM_RATE
        } else {
            DEFAULT_SPAM_RATE
        });
        Some(SpamPlan {
            node: id,
            mode: if fork {
                None
            } else {
                a.mode.and_then(AdversaryMode::spam)
            },
            rate: rate / a.nodes.len().max(1) as f64,
            accounts: if a.mode.and_then(AdversaryMode::spam) == Some(SpamMode::LowFee) && !fork {
                a.accounts.unwrap_or(DEFAULT_SPAM_ACCOUNTS)
            } else {
                0
            },
            fork_depth: a
                .fork_depth
                .unwrap_or(self.consensus.max_fork_depth.saturating_add(1)),
            fee: self.mempool.min_fee.max(1),
            max_nonce_gap: self.mempool.max_nonce_gap,
            balance: self.workload.initial_balance,
        })
    }

    /// The key of account `i` of the low-fee flood at node `node`.
    pub fn spam_key(node: NodeId, i: u32) -> crate::KeyPair {
        crate::KeyPair::from_seed(format!("chainlab/spam/{node}/{i}").as_bytes())
    }

    /// Every key a spam adversary of this config signs with: its low-fee accounts, funded at
    /// genesis, and (for the other modes) its node key. An honest node's mempool traces what
    /// it does with their transactions (`spam_admitted`, `spam_refused`).
    pub fn spam_senders(&self) -> Vec<crate::Address> {
        let mut out = Vec::new();
        for n in 0..self.cluster.nodes {
            let Some(p) = self.spam(n) else { continue };
            out.extend((0..p.accounts).map(|i| Config::spam_key(n, i).address()));
            out.push(Config::node_key(n).address());
        }
        out.sort();
        out.dedup();
        out
    }

    /// The low-fee accounts to fund at genesis.
    pub(super) fn spam_funded(&self) -> Vec<crate::KeyPair> {
        (0..self.cluster.nodes)
            .filter_map(|n| self.spam(n))
            .flat_map(|p| (0..p.accounts).map(move |i| Config::spam_key(p.node, i)))
            .collect()
    }

    /// The run a spam or forkspam attack is measured against: this config with those
    /// entries removed (their nodes then are honest nodes, mining with the same shares).
    /// `None` when it has no such entry.
    pub fn without_spam(&self) -> Option<Config> {
        let spam = |k: AdversaryKind| matches!(k, AdversaryKind::Spam | AdversaryKind::Forkspam);
        if !self.adversary.iter().any(|a| spam(a.kind)) {
            return None;
        }
        let mut c = self.clone();
        c.adversary.retain(|a| !spam(a.kind));
        // The baseline's figures are compared, not checked; it keeps no data (a data
        // directory is the attacked run's).
        c.expect = Default::default();
        c.storage.backend = super::storage::StorageBackend::Memory;
        c.storage.data_dir = Default::default();
        Some(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(entry: &str) -> Result<Config, ConfigError> {
        Config::parse(
            &format!("[cluster]\nnodes = 6\n[[adversary]]\n{entry}\n"),
            "t.toml",
            &[],
        )
    }

    #[test]
    fn spam_gets_defaults_and_funded_accounts() {
        let c = parse("kind = \"spam\"\nnodes = [0, 1]\nmode = \"low-fee\"\nrate = 30.0").unwrap();
        let p = c.spam(1).unwrap();
        assert_eq!(p.mode, Some(SpamMode::LowFee));
        assert!((p.rate - 15.0).abs() < 1e-12);
        assert_eq!(p.accounts, DEFAULT_SPAM_ACCOUNTS);
        assert!(c.spam(2).is_none());
        let funded = c.chain_params().genesis_balances;
        let a = Config::spam_key(1, 31).address();
        assert!(funded.contains(&(a, c.workload.initial_balance)));
        assert_eq!(c.spam_senders().len(), 2 * 32 + 2);
        let base = c.without_spam().unwrap();
        assert!(base.adversary.is_empty());
        assert!(parse("kind = \"selfish\"\nnodes = [0]")
            .unwrap()
            .without_spam()
            .is_none());
        let f = parse("kind = \"forkspam\"\nnodes = [5]").unwrap();
        let p = f.spam(5).unwrap();
        assert_eq!(p.mode, None);
        assert_eq!(p.fork_depth, f.consensus.max_fork_depth + 1);
        assert_eq!(p.rate, DEFAULT_FORKSPAM_RATE);
        assert_eq!(p.accounts, 0);
    }

    #[test]
    fn bad_spam_keys_are_named() {
        let cases = [
            (
                "kind = \"spam\"\nnodes = [0]",
                "adversary.0.mode",
                "missing",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"loud\"",
                "mode",
                "unknown variant",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"low-fee\"\nrate = 0.0",
                "adversary.0.rate",
                "not a rate",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"invalid-tx\"\naccounts = 3",
                "adversary.0.accounts",
                "low-fee",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"low-fee\"\naccounts = 0",
                "adversary.0.accounts",
                "1..=",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"low-fee\"\nhashpower = 0.2",
                "adversary.0.hashpower",
                "pow.hashpower",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"low-fee\"\nfork_depth = 3",
                "adversary.0.fork_depth",
                "`forkspam` only",
            ),
            (
                "kind = \"forkspam\"\nnodes = [0]\nfork_depth = 0",
                "adversary.0.fork_depth",
                "at least 1",
            ),
            (
                "kind = \"forkspam\"\nnodes = [0]\nmode = \"low-fee\"",
                "adversary.0.mode",
                "`spam` only",
            ),
            (
                "kind = \"selfish\"\nnodes = [0]\nrate = 3.0",
                "adversary.0.rate",
                "`spam` and `forkspam` only",
            ),
        ];
        for (body, key, what) in cases {
            let e = parse(body).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
    }
}
