//! `[[adversary]]`: nodes that attack (docs/experiments.md). Each entry names its kind, its
//! nodes (they run the honest code except where the strategy says otherwise) and, under proof
//! of work, its share of the hash power.
//!
//! ```toml
//! [[adversary]]
//! kind = "selfish"      # the Eyal–Sirer strategy (chainlab::adversary::selfish)
//! nodes = [0]           # the pool's node
//! hashpower = 0.3       # its share of the total; honest nodes share the rest as pow.hashpower says
//! gamma = 0.5           # optional: the share of honest hash power that mines on the pool's
//!                       # block in a tie; absent: it emerges from the network
//!
//! [[adversary]]
//! kind = "double-spend" # pays a merchant, then tries to revert the payment with a private
//!                       # branch (chainlab::adversary::double_spend)
//! nodes = [0]           # the attacker's node
//! hashpower = 0.3
//! merchant = 1          # optional: the node paid (absent: the lowest node that is no adversary's)
//! confirmations = 6     # optional: the merchant's z (default 6)
//! give_up = 20          # optional: the attacker gives up this many blocks behind (default 20)
//! amount = 1000         # optional: what each payment moves (default 1000)
//! merchant_delay = "5s" # optional: how long after the z-th confirmation reaches the attacker
//!                       # it waits, for the block to reach the merchant (default 5s)
//!
//! [[adversary]]
//! kind = "eclipse"      # hold every connection of a victim (chainlab::adversary::eclipse)
//! nodes = [0, 1]        # the attacker's nodes: the victim is linked to these only
//! victim = 5            # required: the eclipsed node (no adversary's)
//! mode = "delay"        # optional: "delay" (default), "filter" or "branch"
//! delay = "30s"         # optional (default 30s): delay: how late the victim sees each block
//!                       # and transaction; branch: how long the victim stays eclipsed after
//!                       # the payment's z-th confirmation reached it (its time to hand goods
//!                       # over); not with filter
//! confirmations = 6     # branch only, optional: the victim's z (default 6)
//! amount = 1000         # branch only, optional: what each payment to the victim moves
//! ```
//!
//! Every kind but eclipse also takes `from` and `until` (optional): a time
//! since the run's start (`"10m"`) or a chain height (`120`). Outside `[from, until)` the
//! adversary's nodes run the honest code ([`Window`]).

use super::{invalid, Config, ConfigError, ConsensusKind};
use crate::NodeId;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Adversary kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdversaryKind {
    /// Selfish mining (Eyal–Sirer).
    Selfish,
    /// Timestamps at the limits the rules allow, to push the difficulty down.
    Timewarp,
    /// Double-spending against a merchant who waits for `confirmations` blocks.
    DoubleSpend,
    /// Holding every connection of a victim node: delaying, filtering or replacing its view.
    Eclipse,
    /// Floods: valid low-fee transactions, invalid transactions or invalid blocks
    /// (`super::spam`).
    Spam,
    /// Cheap blocks on side branches forked deep in history (`super::spam`).
    Forkspam,
}

impl AdversaryKind {
    /// The name in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            AdversaryKind::Selfish => "selfish",
            AdversaryKind::Timewarp => "timewarp",
            AdversaryKind::DoubleSpend => "double-spend",
            AdversaryKind::Eclipse => "eclipse",
            AdversaryKind::Spam => "spam",
            AdversaryKind::Forkspam => "forkspam",
        }
    }
}

/// One `[[adversary]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdversaryEntry {
    /// What it does.
    pub kind: AdversaryKind,
    /// Its nodes.
    pub nodes: Vec<NodeId>,
    /// Its share of the total hash power (absent: its nodes keep their `pow.hashpower` share).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashpower: Option<f64>,
    /// Selfish mining: the share of honest hash power that mines on the pool's block in a tie
    /// (absent: it emerges from the network).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    /// Double-spend: the node paid (absent: the lowest node that is no adversary's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merchant: Option<NodeId>,
    /// Double-spend: the confirmations the merchant waits for, z (absent: 6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u32>,
    /// Double-spend: the attacker gives up an attempt when the public branch leads its private
    /// branch by this many blocks (absent: 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub give_up: Option<u32>,
    /// Double-spend: what each payment moves (absent: 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<u64>,
    /// Double-spend: how long the attacker allows a block it has seen to reach the merchant:
    /// it publishes no sooner after the payment's `confirmations`-th confirmation reached it
    /// (absent: 5 s).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub merchant_delay: Option<Duration>,
    /// Eclipse: the eclipsed node (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub victim: Option<NodeId>,
    /// Eclipse: what the attacker does to the victim's view (`delay`, `filter`, `branch`;
    /// absent: delay). Spam: what it floods with (`low-fee`, `invalid-tx`, `invalid-block`;
    /// required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AdversaryMode>,
    /// Eclipse: the delay (delay mode), or how long the victim stays eclipsed after the
    /// payment's `confirmations`-th confirmation reached it (branch mode) (absent: 30 s).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub delay: Option<Duration>,
    /// Spam and forkspam: transactions or blocks per second, over all its nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// Spam, `low-fee`: how many funded accounts it sends from (absent: 32).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<u32>,
    /// Forkspam: how far below its tip its blocks fork (absent: `consensus.max_fork_depth`
    /// + 1, just below the honest nodes' fork floor).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_depth: Option<u64>,
    /// When the strategy starts: a time since the run's start or a tip height (absent: at
    /// once). Before it the nodes run the honest code.
    #[serde(
        default,
        deserialize_with = "de_from",
        skip_serializing_if = "Option::is_none"
    )]
    pub from: Option<Moment>,
    /// When the strategy stops: a time since the run's start or a tip height (absent:
    /// never). From it on the nodes run the honest code.
    #[serde(
        default,
        deserialize_with = "de_until",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Moment>,
}

/// `from` / `until` of an `[[adversary]]` entry: a time since the run's start (a string,
/// `"10m"`) or a height of the node's best chain (an integer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// This long after the run's start.
    Time(Duration),
    /// Once the node's tip is at least this high.
    Height(u64),
}

impl Moment {
    /// Whether the moment has come, `elapsed_ms` after the run's start with the node's tip at
    /// `tip_height`.
    pub fn reached(&self, elapsed_ms: u64, tip_height: u64) -> bool {
        match *self {
            Moment::Time(d) => u128::from(elapsed_ms) >= d.as_millis(),
            Moment::Height(h) => tip_height >= h,
        }
    }

    /// As written in a config.
    pub fn describe(&self) -> String {
        match self {
            Moment::Time(d) => format!("{:?}", humantime::format_duration(*d).to_string()),
            Moment::Height(h) => h.to_string(),
        }
    }
}

impl Serialize for Moment {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Moment::Time(d) => s.serialize_str(&humantime::format_duration(*d).to_string()),
            Moment::Height(h) => s.serialize_u64(*h),
        }
    }
}

impl<'de> Deserialize<'de> for Moment {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Moment, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Height(u64),
            Text(String),
            Other(serde::de::IgnoredAny),
        }
        let bad = |what: String| {
            serde::de::Error::custom(format!(
                "{what} is neither a height (a whole number) nor a time (like \"10m\")"
            ))
        };
        match Raw::deserialize(d)? {
            Raw::Height(h) => Ok(Moment::Height(h)),
            Raw::Text(t) => humantime::parse_duration(&t)
                .map(Moment::Time)
                .map_err(|_| bad(format!("{t:?}"))),
            Raw::Other(_) => Err(bad("the value".into())),
        }
    }
}

fn de_moment<'de, D: serde::Deserializer<'de>>(
    d: D,
    key: &str,
) -> Result<Option<Moment>, D::Error> {
    Moment::deserialize(d)
        .map(Some)
        .map_err(|e| serde::de::Error::custom(format!("`{key}`: {e}")))
}

fn de_from<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Moment>, D::Error> {
    de_moment(d, "from")
}

fn de_until<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Moment>, D::Error> {
    de_moment(d, "until")
}

/// When an adversary's nodes run its strategy: from `from` (absent: the start) until `until`
/// (absent: the end); outside it they run the honest code.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// The strategy starts once this has come.
    pub from: Option<Moment>,
    /// The strategy stops once this has come.
    pub until: Option<Moment>,
}

impl Window {
    /// Always active (neither key set).
    pub const ALWAYS: Window = Window {
        from: None,
        until: None,
    };

    /// Whether the strategy runs, `elapsed_ms` after the run's start with the node's tip at
    /// `tip_height`: `from` has come (or is absent) and `until` has not (or is absent).
    pub fn active(&self, elapsed_ms: u64, tip_height: u64) -> bool {
        self.from.is_none_or(|m| m.reached(elapsed_ms, tip_height))
            && !self.ended(elapsed_ms, tip_height)
    }

    /// Whether `until` has come (never without one).
    pub fn ended(&self, elapsed_ms: u64, tip_height: u64) -> bool {
        self.until
            .is_some_and(|m| m.reached(elapsed_ms, tip_height))
    }

    /// Whether the window is the whole run (neither key set).
    pub fn is_always(&self) -> bool {
        self.from.is_none() && self.until.is_none()
    }
}

/// `mode` of an `[[adversary]]` entry: an eclipse's or a spam flood's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdversaryMode {
    /// Eclipse: [`EclipseMode::Delay`].
    Delay,
    /// Eclipse: [`EclipseMode::Filter`].
    Filter,
    /// Eclipse: [`EclipseMode::Branch`].
    Branch,
    /// Spam: [`super::SpamMode::LowFee`].
    LowFee,
    /// Spam: [`super::SpamMode::InvalidTx`].
    InvalidTx,
    /// Spam: [`super::SpamMode::InvalidBlock`].
    InvalidBlock,
}

impl AdversaryMode {
    /// The name in configs.
    pub fn name(self) -> &'static str {
        match self {
            AdversaryMode::Delay => "delay",
            AdversaryMode::Filter => "filter",
            AdversaryMode::Branch => "branch",
            AdversaryMode::LowFee => "low-fee",
            AdversaryMode::InvalidTx => "invalid-tx",
            AdversaryMode::InvalidBlock => "invalid-block",
        }
    }

    /// The eclipse mode it names, if it is one.
    pub fn eclipse(self) -> Option<EclipseMode> {
        match self {
            AdversaryMode::Delay => Some(EclipseMode::Delay),
            AdversaryMode::Filter => Some(EclipseMode::Filter),
            AdversaryMode::Branch => Some(EclipseMode::Branch),
            _ => None,
        }
    }

    /// The spam mode it names, if it is one.
    pub fn spam(self) -> Option<super::SpamMode> {
        match self {
            AdversaryMode::LowFee => Some(super::SpamMode::LowFee),
            AdversaryMode::InvalidTx => Some(super::SpamMode::InvalidTx),
            AdversaryMode::InvalidBlock => Some(super::SpamMode::InvalidBlock),
            _ => None,
        }
    }
}

/// `mode` of an eclipse attacker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EclipseMode {
    /// The victim sees every block and transaction `delay` late.
    Delay,
    /// The victim sees no block and no transaction.
    Filter,
    /// The victim sees the attacker's private branch, which pays it, until released.
    Branch,
}

impl EclipseMode {
    /// The name in configs and reports.
    pub fn name(self) -> &'static str {
        match self {
            EclipseMode::Delay => "delay",
            EclipseMode::Filter => "filter",
            EclipseMode::Branch => "branch",
        }
    }

    /// The core strategy's mode.
    pub fn strategy(self) -> crate::adversary::eclipse::Mode {
        use crate::adversary::eclipse::Mode;
        match self {
            EclipseMode::Delay => Mode::Delay,
            EclipseMode::Filter => Mode::Filter,
            EclipseMode::Branch => Mode::Branch,
        }
    }
}

/// Default `delay` of an eclipse attacker.
pub const DEFAULT_ECLIPSE_DELAY: Duration = Duration::from_secs(30);

/// An eclipse attacker's settings, defaults filled in ([`Config::eclipse`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EclipsePlan {
    /// The entry's index in `[[adversary]]`.
    pub index: usize,
    /// The attacker's nodes.
    pub nodes: Vec<NodeId>,
    /// The eclipsed node.
    pub victim: NodeId,
    /// What the attacker does to the victim's view.
    pub mode: EclipseMode,
    /// `delay`, ms.
    pub delay_ms: u64,
    /// Branch mode: the confirmations the victim waits for, z (at least 1).
    pub confirmations: u32,
    /// Branch mode: what each payment to the victim moves.
    pub amount: u64,
    /// Branch mode: the payment's fee (`mempool.min_fee`, at least 1).
    pub fee: u64,
    /// Branch mode: the fee of the public spend of the same coins (twice the payment's).
    pub conflict_fee: u64,
}

/// Default `confirmations` of a double-spend attacker's merchant.
pub const DEFAULT_CONFIRMATIONS: u32 = 6;
/// Default `give_up` of a double-spend attacker.
pub const DEFAULT_GIVE_UP: u32 = 20;
/// Default `amount` of a double-spend attacker's payments.
pub const DEFAULT_AMOUNT: u64 = 1_000;
/// Default `merchant_delay` of a double-spend attacker.
pub const DEFAULT_MERCHANT_DELAY: Duration = Duration::from_secs(5);

/// A double-spend attacker's settings, defaults filled in ([`Config::double_spend`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DoubleSpendPlan {
    /// The attacker's node.
    pub node: NodeId,
    /// The merchant's node.
    pub merchant: NodeId,
    /// Confirmations the merchant waits for, z (at least 1).
    pub confirmations: u32,
    /// Blocks behind at which the attacker gives an attempt up (at least 1).
    pub give_up: u32,
    /// What each payment moves.
    pub amount: u64,
    /// How long after the z-th confirmation reached it the attacker waits before publishing,
    /// ms.
    pub merchant_delay_ms: u64,
    /// The payment's fee: `mempool.min_fee` (at least 1).
    pub fee: u64,
    /// The conflicting spend's fee: twice the payment's (it goes into no mempool, but a
    /// conflict that paid less would not be the miners' choice).
    pub conflict_fee: u64,
}

/// One `--adversary` argument: the keys of an `[[adversary]]` entry as `key=value` words,
/// e.g. `kind=selfish nodes=0 hashpower=0.3 gamma=0.5` (`nodes` may be one id or a list
/// `[0,1]`; values are TOML when they parse as TOML, else text, so `delay=30s` works).
///
/// # Errors
/// A message naming the argument and the word or key that is wrong.
pub fn parse_adversary_arg(arg: &str) -> Result<AdversaryEntry, String> {
    let mut table = super::key_value_words(arg, "--adversary")?;
    if let Some(n @ toml::Value::Integer(_)) = table.get("nodes").cloned() {
        table.insert("nodes".into(), toml::Value::Array(vec![n]));
    }
    AdversaryEntry::deserialize(table).map_err(|e| format!("--adversary {arg:?}: {e}"))
}

/// Checks the `[[adversary]]` entries for a cluster of `nodes`.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the first bad key.
pub(super) fn validate(cfg: &Config, file: &str) -> Result<(), ConfigError> {
    let entries = &cfg.adversary;
    let nodes = cfg.cluster.nodes;
    let consensus = cfg.consensus.kind;
    let mut taken = vec![false; nodes];
    let mut total = 0.0;
    for (i, a) in entries.iter().enumerate() {
        let key = |k: &str| format!("adversary.{i}.{k}");
        if consensus != ConsensusKind::Pow {
            return invalid(
                file,
                &key("kind"),
                format!("`{}` attacks proof of work only", a.kind.name()),
            );
        }
        if a.nodes.is_empty() {
            return invalid(file, &key("nodes"), "names no node".into());
        }
        for &n in &a.nodes {
            match taken.get_mut(n) {
                None => {
                    return invalid(
                        file,
                        &key("nodes"),
                        format!("node {n} does not exist ({nodes} nodes)"),
                    )
                }
                Some(true) => {
                    return invalid(
                        file,
                        &key("nodes"),
                        format!("node {n} is already an adversary's"),
                    )
                }
                Some(t) => *t = true,
            }
        }
        if a.kind == AdversaryKind::Selfish && a.nodes.len() != 1 {
            return invalid(
                file,
                &key("nodes"),
                "a selfish pool is one node (pools spread over several nodes are not supported)"
                    .into(),
            );
        }
        if a.kind == AdversaryKind::Eclipse
            && a.mode.and_then(AdversaryMode::eclipse) == Some(EclipseMode::Branch)
            && a.nodes.len() != 1
        {
            return invalid(
                file,
                &key("nodes"),
                "a branch-mode eclipse attacker is one node (it mines the victim's branch)".into(),
            );
        }
        if a.kind == AdversaryKind::DoubleSpend && a.nodes.len() != 1 {
            return invalid(
                file,
                &key("nodes"),
                "a double-spend attacker is one node (attackers spread over several nodes are \
                 not supported)"
                    .into(),
            );
        }
        let only = |k: &str, set: bool, kind: AdversaryKind| {
            if set && a.kind != kind {
                return invalid(
                    file,
                    &key(k),
                    format!("applies to `{}` only, not `{}`", kind.name(), a.kind.name()),
                );
            }
            Ok(())
        };
        only("gamma", a.gamma.is_some(), AdversaryKind::Selfish)?;
        for (k, set) in [
            ("merchant", a.merchant.is_some()),
            ("confirmations", a.confirmations.is_some()),
            ("give_up", a.give_up.is_some()),
            ("amount", a.amount.is_some()),
            ("merchant_delay", a.merchant_delay.is_some()),
        ] {
            // An eclipse attacker's branch pays the victim: z and the amount apply to it too.
            if a.kind == AdversaryKind::Eclipse && matches!(k, "confirmations" | "amount") {
                continue;
            }
            only(k, set, AdversaryKind::DoubleSpend)?;
        }
        for (k, set) in [("victim", a.victim.is_some()), ("delay", a.delay.is_some())] {
            only(k, set, AdversaryKind::Eclipse)?;
        }
        if let Some(m) = a.mode {
            let fits = match a.kind {
                AdversaryKind::Eclipse => m.eclipse().is_some(),
                AdversaryKind::Spam => m.spam().is_some(),
                _ => {
                    return invalid(
                        file,
                        &key("mode"),
                        format!(
                            "applies to `eclipse` and `spam` only, not `{}`",
                            a.kind.name()
                        ),
                    )
                }
            };
            if !fits {
                let modes = if a.kind == AdversaryKind::Eclipse {
                    "\"delay\", \"filter\" or \"branch\""
                } else {
                    "\"low-fee\", \"invalid-tx\" or \"invalid-block\""
                };
                return invalid(
                    file,
                    &key("mode"),
                    format!("{:?} is no `{}` mode: {modes}", m.name(), a.kind.name()),
                );
            }
        }
        if a.kind == AdversaryKind::Eclipse {
            let mode = a
                .mode
                .and_then(AdversaryMode::eclipse)
                .unwrap_or(EclipseMode::Delay);
            if a.delay.is_some() && mode == EclipseMode::Filter {
                return invalid(
                    file,
                    &key("delay"),
                    "applies to mode = \"delay\" or \"branch\", not \"filter\"".into(),
                );
            }
            for (k, set) in [
                ("confirmations", a.confirmations.is_some()),
                ("amount", a.amount.is_some()),
            ] {
                if set && mode != EclipseMode::Branch {
                    return invalid(
                        file,
                        &key(k),
                        format!("applies to mode = \"branch\" only, not {:?}", mode.name()),
                    );
                }
            }
        }
        validate_window(cfg, file, i, a)?;
        if let Some(h) = a.hashpower {
            if !(h > 0.0 && h < 1.0) {
                return invalid(
                    file,
                    &key("hashpower"),
                    format!("{h} is not a share strictly between 0 and 1"),
                );
            }
            total += h;
        }
        if let Some(g) = a.gamma {
            if !(0.0..=1.0).contains(&g) {
                return invalid(file, &key("gamma"), format!("{g} is not in 0..=1"));
            }
        }
        let depth = cfg.consensus.max_fork_depth;
        for (k, v) in [("confirmations", a.confirmations), ("give_up", a.give_up)] {
            match v {
                Some(0) => return invalid(file, &key(k), "must be at least 1".into()),
                Some(v) if u64::from(v) >= depth => {
                    return invalid(
                        file,
                        &key(k),
                        format!(
                            "{v} is not below consensus.max_fork_depth ({depth}): nodes would \
                             refuse a branch forking that deep"
                        ),
                    )
                }
                _ => {}
            }
        }
        if let Some(amount) = a.amount {
            let funds = cfg.workload.initial_balance;
            if amount == 0 || amount >= funds {
                return invalid(
                    file,
                    &key("amount"),
                    format!(
                        "{amount} must be positive and below the attacker's funds at genesis \
                         (workload.initial_balance = {funds})"
                    ),
                );
            }
        }
    }
    for (i, a) in entries.iter().enumerate() {
        let Some(m) = a.merchant else { continue };
        let key = format!("adversary.{i}.merchant");
        if m >= nodes {
            return invalid(
                file,
                &key,
                format!("node {m} does not exist ({nodes} nodes)"),
            );
        }
        if taken[m] {
            return invalid(
                file,
                &key,
                format!("node {m} is an adversary's: the merchant must be honest"),
            );
        }
    }
    let mut victims = vec![false; nodes];
    for (i, a) in entries.iter().enumerate() {
        if a.kind != AdversaryKind::Eclipse {
            continue;
        }
        let key = format!("adversary.{i}.victim");
        let Some(v) = a.victim else {
            return invalid(
                file,
                &key,
                "is required for `eclipse`: the node to eclipse".into(),
            );
        };
        match (taken.get(v), victims.get_mut(v)) {
            (None, _) | (_, None) => {
                return invalid(
                    file,
                    &key,
                    format!("node {v} does not exist ({nodes} nodes)"),
                )
            }
            (Some(true), _) => {
                return invalid(
                    file,
                    &key,
                    format!("node {v} is an adversary's: the victim must be honest"),
                )
            }
            (_, Some(true)) => {
                return invalid(
                    file,
                    &key,
                    format!("node {v} is eclipsed by an earlier entry already"),
                )
            }
            (_, Some(seen)) => *seen = true,
        }
    }
    if entries
        .iter()
        .any(|a| a.kind == AdversaryKind::DoubleSpend && a.merchant.is_none())
        && taken.iter().all(|t| *t)
    {
        return invalid(
            file,
            "adversary",
            "every node is an adversary's: no honest node is left to be the merchant".into(),
        );
    }
    super::spam::validate(cfg, file)?;
    if total >= 1.0 {
        return invalid(
            file,
            "adversary",
            format!("the adversaries hold {total} of the hash power: honest nodes need some"),
        );
    }
    if entries.iter().any(|a| a.hashpower.is_some()) && taken.iter().all(|t| *t) {
        return invalid(
            file,
            "adversary",
            "every node is an adversary's: no honest node is left".into(),
        );
    }
    Ok(())
}

/// Checks `from` / `until` of entry `i`.
fn validate_window(
    cfg: &Config,
    file: &str,
    i: usize,
    a: &AdversaryEntry,
) -> Result<(), ConfigError> {
    let key = |k: &str| format!("adversary.{i}.{k}");
    let duration = cfg.cluster.duration;
    for (k, m) in [("from", a.from), ("until", a.until)] {
        let Some(m) = m else { continue };
        if a.kind == AdversaryKind::Eclipse {
            return invalid(
                file,
                &key(k),
                format!("is not supported for `{}`", a.kind.name()),
            );
        }
        if let Moment::Time(t) = m {
            if t > duration {
                return invalid(
                    file,
                    &key(k),
                    format!(
                        "{} is past cluster.duration ({})",
                        m.describe(),
                        humantime::format_duration(duration)
                    ),
                );
            }
        }
    }
    let ordered = match (a.from, a.until) {
        (Some(Moment::Time(f)), Some(Moment::Time(u))) => u > f,
        (Some(Moment::Height(f)), Some(Moment::Height(u))) => u > f,
        _ => true,
    };
    if !ordered {
        return invalid(
            file,
            &key("until"),
            format!(
                "{} is not after from ({})",
                a.until.map(|m| m.describe()).unwrap_or_default(),
                a.from.map(|m| m.describe()).unwrap_or_default()
            ),
        );
    }
    Ok(())
}

impl Config {
    /// When the adversary node `id` belongs to runs its strategy ([`Window::ALWAYS`] for a
    /// node that is no adversary's, or an entry with neither `from` nor `until`).
    pub fn adversary_window(&self, id: NodeId) -> Window {
        self.adversary_of(id)
            .map_or(Window::ALWAYS, |(_, a)| Window {
                from: a.from,
                until: a.until,
            })
    }

    /// The adversary entry node `id` belongs to, with its index.
    pub fn adversary_of(&self, id: NodeId) -> Option<(usize, &AdversaryEntry)> {
        self.adversary
            .iter()
            .enumerate()
            .find(|(_, a)| a.nodes.contains(&id))
    }

    /// The settings of the double-spend attacker at node `id`, defaults filled in (`None`:
    /// the node is no double-spend attacker's).
    pub fn double_spend(&self, id: NodeId) -> Option<DoubleSpendPlan> {
        let (_, a) = self
            .adversary_of(id)
            .filter(|(_, a)| a.kind == AdversaryKind::DoubleSpend)?;
        let merchant = a.merchant.unwrap_or_else(|| {
            (0..self.cluster.nodes)
                .find(|n| self.adversary_of(*n).is_none())
                .unwrap_or(0)
        });
        let fee = self.mempool.min_fee.max(1);
        Some(DoubleSpendPlan {
            node: id,
            merchant,
            confirmations: a.confirmations.unwrap_or(DEFAULT_CONFIRMATIONS),
            give_up: a.give_up.unwrap_or(DEFAULT_GIVE_UP),
            amount: a.amount.unwrap_or(DEFAULT_AMOUNT),
            merchant_delay_ms: a
                .merchant_delay
                .unwrap_or(DEFAULT_MERCHANT_DELAY)
                .as_millis() as u64,
            fee,
            conflict_fee: fee.saturating_mul(2),
        })
    }

    /// The settings of the eclipse attacker node `id` belongs to, defaults filled in (`None`:
    /// the node is no eclipse attacker's).
    pub fn eclipse(&self, id: NodeId) -> Option<EclipsePlan> {
        let (index, a) = self
            .adversary_of(id)
            .filter(|(_, a)| a.kind == AdversaryKind::Eclipse)?;
        Some(self.eclipse_plan(index, a))
    }

    /// The settings of every eclipse entry, in order.
    pub fn eclipses(&self) -> Vec<EclipsePlan> {
        self.adversary
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == AdversaryKind::Eclipse)
            .map(|(i, a)| self.eclipse_plan(i, a))
            .collect()
    }

    fn eclipse_plan(&self, index: usize, a: &AdversaryEntry) -> EclipsePlan {
        let fee = self.mempool.min_fee.max(1);
        EclipsePlan {
            index,
            nodes: a.nodes.clone(),
            // A validated config names it; an unchecked one gets a node no one is linked to.
            victim: a.victim.unwrap_or(usize::MAX),
            mode: a
                .mode
                .and_then(AdversaryMode::eclipse)
                .unwrap_or(EclipseMode::Delay),
            delay_ms: a.delay.unwrap_or(DEFAULT_ECLIPSE_DELAY).as_millis() as u64,
            confirmations: a.confirmations.unwrap_or(DEFAULT_CONFIRMATIONS).max(1),
            amount: a.amount.unwrap_or(DEFAULT_AMOUNT),
            fee,
            conflict_fee: fee.saturating_mul(2),
        }
    }

    /// Rewires the peer graph `adj` for the eclipse entries, in order: each victim is linked
    /// to its attacker's nodes only, the rest stays connected (`adversary::eclipse::rewire`,
    /// seeded by `cluster.seed`).
    pub fn eclipse_rewire(&self, adj: &mut [Vec<NodeId>]) {
        for p in self.eclipses() {
            let mut rng = crate::sim::model::stream(self.cluster.seed, "eclipse", p.index as u64);
            crate::adversary::eclipse::rewire(adj, p.victim, &p.nodes, &mut rng);
        }
    }

    /// The key of the address a double-spend attacker at node `i` sends its conflicting
    /// spends to (its own: no one else can spend from it).
    pub fn stash_key(i: NodeId) -> crate::KeyPair {
        crate::KeyPair::from_seed(format!("chainlab/stash/{i}").as_bytes())
    }

    /// Each node's share of the hash power: `pow.hashpower`'s, except that an adversary with
    /// `hashpower` splits it evenly over its nodes and the honest nodes share the rest in
    /// the proportions `pow.hashpower` gives them.
    pub fn pow_shares(&self) -> Vec<f64> {
        let n = self.cluster.nodes;
        let mut shares = crate::sim::model::hash_shares(&self.pow.hashpower, n);
        let fixed: Vec<(usize, f64)> = self
            .adversary
            .iter()
            .filter_map(|a| a.hashpower.map(|h| (a, h)))
            .flat_map(|(a, h)| {
                a.nodes
                    .iter()
                    .map(move |&id| (id, h / a.nodes.len() as f64))
            })
            .collect();
        if fixed.is_empty() {
            return shares;
        }
        let adversary: f64 = fixed.iter().map(|(_, h)| h).sum();
        let mut is_fixed = vec![false; n];
        for (id, _) in &fixed {
            is_fixed[*id] = true;
        }
        let honest: f64 = (0..n).filter(|i| !is_fixed[*i]).map(|i| shares[i]).sum();
        for (i, s) in shares.iter_mut().enumerate() {
            if !is_fixed[i] {
                *s = if honest > 0.0 {
                    *s / honest * (1.0 - adversary)
                } else {
                    0.0
                };
            }
        }
        for (id, h) in fixed {
            shares[id] = h;
        }
        shares
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(extra: &str) -> Result<Config, ConfigError> {
        Config::parse(&format!("[cluster]\nnodes = 6\n{extra}"), "t.toml", &[])
    }

    #[test]
    fn the_pool_takes_its_share_and_the_honest_nodes_split_the_rest() {
        let c = parse("[[adversary]]\nkind = \"selfish\"\nnodes = [2]\nhashpower = 0.4\n").unwrap();
        let s = c.pow_shares();
        assert!((s[2] - 0.4).abs() < 1e-12);
        for i in [0, 1, 3, 4, 5] {
            assert!((s[i] - 0.12).abs() < 1e-12, "{s:?}");
        }
        assert_eq!(c.adversary_of(2).map(|(i, _)| i), Some(0));
        assert!(c.adversary_of(0).is_none());
    }

    #[test]
    fn bad_entries_are_named() {
        let cases = [
            (
                "nodes = [9]\nhashpower = 0.3",
                "adversary.0.nodes",
                "does not exist",
            ),
            (
                "nodes = []\nhashpower = 0.3",
                "adversary.0.nodes",
                "names no node",
            ),
            (
                "nodes = [0, 1]\nhashpower = 0.3",
                "adversary.0.nodes",
                "one node",
            ),
            (
                "nodes = [0]\nhashpower = 1.0",
                "adversary.0.hashpower",
                "strictly between",
            ),
            ("nodes = [0]\ngamma = 1.5", "adversary.0.gamma", "0..=1"),
            ("nodes = [0]\nbogus = 1", "bogus", "unknown field"),
        ];
        for (body, key, what) in cases {
            let e = parse(&format!("[[adversary]]\nkind = \"selfish\"\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
        let e = parse("[[adversary]]\nkind = \"sybil\"\nnodes = [0]\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("sybil") && e.contains("selfish"), "{e}");
        let e = parse(
            "[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nhashpower = 0.6\n\
             [[adversary]]\nkind = \"selfish\"\nnodes = [1]\nhashpower = 0.5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("honest nodes need some"), "{e}");
    }

    fn double_spend(body: &str) -> Result<Config, ConfigError> {
        parse(&format!(
            "[[adversary]]\nkind = \"double-spend\"\nnodes = [0]\nhashpower = 0.3\n{body}\n"
        ))
    }

    #[test]
    fn a_double_spender_gets_defaults_and_funds() {
        let c = double_spend("").unwrap();
        let p = c.double_spend(0).unwrap();
        assert_eq!(
            (p.merchant, p.confirmations, p.give_up, p.amount),
            (1, DEFAULT_CONFIRMATIONS, DEFAULT_GIVE_UP, DEFAULT_AMOUNT)
        );
        assert!(p.conflict_fee > p.fee && p.fee >= 1);
        assert!(c.double_spend(1).is_none());
        let funded = c.chain_params().genesis_balances;
        let me = Config::node_key(0).address();
        assert!(funded.contains(&(me, c.workload.initial_balance)));
        assert!(!funded
            .iter()
            .any(|(a, _)| *a == Config::node_key(1).address()));
        let c = double_spend("merchant = 4\nconfirmations = 2\ngive_up = 5\namount = 7").unwrap();
        let p = c.double_spend(0).unwrap();
        assert_eq!(
            (p.merchant, p.confirmations, p.give_up, p.amount),
            (4, 2, 5, 7)
        );
        // The lowest honest node is the default merchant.
        let c = parse(
            "[[adversary]]\nkind = \"selfish\"\nnodes = [1]\n\
             [[adversary]]\nkind = \"double-spend\"\nnodes = [0]\n",
        )
        .unwrap();
        assert_eq!(c.double_spend(0).unwrap().merchant, 2);
    }

    #[test]
    fn bad_double_spend_keys_are_named() {
        let cases = [
            (
                "confirmations = 0",
                "adversary.0.confirmations",
                "at least 1",
            ),
            ("give_up = 0", "adversary.0.give_up", "at least 1"),
            (
                "confirmations = 100",
                "adversary.0.confirmations",
                "max_fork_depth",
            ),
            ("give_up = 150", "adversary.0.give_up", "max_fork_depth"),
            ("merchant = 6", "adversary.0.merchant", "does not exist"),
            ("merchant = 0", "adversary.0.merchant", "must be honest"),
            ("amount = 0", "adversary.0.amount", "positive"),
            (
                "amount = 1000000000",
                "adversary.0.amount",
                "initial_balance",
            ),
            ("gamma = 0.5", "adversary.0.gamma", "`selfish` only"),
            ("merchant_delay = \"soon\"", "merchant_delay", ""),
            ("confirmations = -1", "confirmations", ""),
        ];
        for (body, key, what) in cases {
            let e = double_spend(body).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
        let e = parse("[[adversary]]\nkind = \"double-spend\"\nnodes = [0, 1]\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adversary.0.nodes") && e.contains("one node"),
            "{e}"
        );
        let e = parse("[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nconfirmations = 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adversary.0.confirmations") && e.contains("`double-spend` only"),
            "{e}"
        );
        let e = Config::parse(
            "[cluster]\nnodes = 1\n[[adversary]]\nkind = \"double-spend\"\nnodes = [0]\n",
            "t.toml",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("no honest node is left"), "{e}");
    }

    fn eclipse(body: &str) -> Result<Config, ConfigError> {
        parse(&format!(
            "[[adversary]]\nkind = \"eclipse\"\nnodes = [0, 1]\n{body}\n"
        ))
    }

    #[test]
    fn an_eclipse_gets_defaults_and_rewires_its_victim() {
        let c = eclipse("victim = 4").unwrap();
        let p = c.eclipse(1).unwrap();
        assert_eq!(
            (p.index, p.victim, p.mode, p.delay_ms, p.nodes.clone()),
            (0, 4, EclipseMode::Delay, 30_000, vec![0, 1])
        );
        assert!(c.eclipse(4).is_none() && c.double_spend(0).is_none());
        // Delay and filter attackers pay no one: not funded.
        let me = Config::node_key(0).address();
        assert!(!c
            .chain_params()
            .genesis_balances
            .iter()
            .any(|(a, _)| *a == me));
        let mut adj: Vec<Vec<NodeId>> = (0..6)
            .map(|i| (0..6).filter(|j| *j != i).collect())
            .collect();
        c.eclipse_rewire(&mut adj);
        assert_eq!(adj[4], vec![0, 1]);
        assert!(!adj[2].contains(&4) && adj[0].contains(&4));
        let c = parse(
            "[[adversary]]\nkind = \"eclipse\"\nnodes = [2]\nvictim = 0\nmode = \"branch\"\n\
             delay = \"1s\"\nconfirmations = 3\namount = 5\nhashpower = 0.3\n",
        )
        .unwrap();
        let p = c.eclipse(2).unwrap();
        assert_eq!(
            (p.mode, p.delay_ms, p.confirmations, p.amount),
            (EclipseMode::Branch, 1_000, 3, 5)
        );
        assert!(p.conflict_fee > p.fee);
        // A branch attacker pays the victim from its node key: funded at genesis.
        let me = Config::node_key(2).address();
        assert!(c
            .chain_params()
            .genesis_balances
            .contains(&(me, c.workload.initial_balance)));
        assert!(eclipse("victim = 4\nmode = \"filter\"").is_ok());
    }

    #[test]
    fn bad_eclipse_keys_are_named() {
        let cases = [
            ("", "adversary.0.victim", "is required"),
            ("victim = 9", "adversary.0.victim", "does not exist"),
            ("victim = 1", "adversary.0.victim", "must be honest"),
            (
                "victim = 3\nmode = \"branch\"",
                "adversary.0.nodes",
                "one node",
            ),
            (
                "victim = 3\nmode = \"filter\"\ndelay = \"1s\"",
                "adversary.0.delay",
                "not \"filter\"",
            ),
            (
                "victim = 3\nconfirmations = 2",
                "adversary.0.confirmations",
                "\"branch\" only",
            ),
            (
                "victim = 3\nmode = \"filter\"\namount = 2",
                "adversary.0.amount",
                "\"branch\" only",
            ),
            ("victim = 3\nmode = \"sideways\"", "mode", "unknown variant"),
            (
                "victim = 3\nmerchant = 2",
                "adversary.0.merchant",
                "`double-spend` only",
            ),
            (
                "victim = 3\ngamma = 0.1",
                "adversary.0.gamma",
                "`selfish` only",
            ),
        ];
        for (body, key, what) in cases {
            let e = eclipse(body).unwrap_err().to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
        let e = parse("[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nvictim = 2\n")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adversary.0.victim") && e.contains("`eclipse` only"),
            "{e}"
        );
        let e = parse(
            "[[adversary]]\nkind = \"eclipse\"\nnodes = [0]\nvictim = 3\n\
             [[adversary]]\nkind = \"eclipse\"\nnodes = [1]\nvictim = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("adversary.1.victim") && e.contains("earlier entry"),
            "{e}"
        );
    }

    #[test]
    fn a_command_line_adversary_is_an_entry() {
        let e = parse_adversary_arg("kind=selfish nodes=0 hashpower=0.3 gamma=0.5").unwrap();
        assert_eq!(
            (e.kind, e.nodes.clone(), e.hashpower, e.gamma),
            (AdversaryKind::Selfish, vec![0], Some(0.3), Some(0.5))
        );
        let e = parse_adversary_arg("kind=eclipse nodes=[0, 1] victim=4 mode=filter").unwrap();
        assert_eq!(e.nodes, vec![0, 1]);
        assert_eq!(e.mode, Some(AdversaryMode::Filter));
        let e = parse_adversary_arg("kind=eclipse nodes=[0,1] victim=4 delay=30s").unwrap();
        assert_eq!(e.delay, Some(Duration::from_secs(30)));
        let mut c = parse("").unwrap();
        c.add_adversaries(
            vec![parse_adversary_arg("kind=double-spend nodes=1 confirmations=2").unwrap()],
            "--adversary",
        )
        .unwrap();
        assert_eq!(c.double_spend(1).map(|p| p.confirmations), Some(2));
        for (arg, want) in [
            ("kind=selfish nodes", "is not key=value"),
            ("kind=sybil nodes=0", "unknown variant `sybil`"),
            ("kind=selfish nodes=0 gama=0.5", "unknown field `gama`"),
        ] {
            let e = parse_adversary_arg(arg).unwrap_err();
            assert!(e.contains("--adversary") && e.contains(want), "{arg}: {e}");
        }
        let mut c = parse("").unwrap();
        let e = c
            .add_adversaries(
                vec![parse_adversary_arg("kind=selfish nodes=9").unwrap()],
                "--adversary",
            )
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("adversary.0.nodes") && e.contains("node 9"),
            "{e}"
        );
    }

    #[test]
    fn a_mode_must_fit_its_kind() {
        for (entry, want) in [
            (
                "kind = \"eclipse\"\nnodes = [0]\nvictim = 3\nmode = \"low-fee\"",
                "\"low-fee\" is no `eclipse` mode",
            ),
            (
                "kind = \"spam\"\nnodes = [0]\nmode = \"branch\"",
                "\"branch\" is no `spam` mode",
            ),
            (
                "kind = \"selfish\"\nnodes = [0]\nmode = \"delay\"",
                "applies to `eclipse` and `spam` only",
            ),
        ] {
            let e = parse(&format!("[[adversary]]\n{entry}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains("adversary.0.mode") && e.contains(want), "{e}");
        }
    }

    #[test]
    fn a_window_is_active_from_from_until_until() {
        let w = Window::ALWAYS;
        assert!(w.is_always() && w.active(0, 0) && w.active(u64::MAX, u64::MAX));
        assert!(!w.ended(u64::MAX, u64::MAX));
        let w = Window {
            from: Some(Moment::Time(Duration::from_secs(10))),
            until: Some(Moment::Height(5)),
        };
        assert!(!w.is_always());
        assert!(!w.active(9_999, 0));
        assert!(w.active(10_000, 0) && w.active(10_000, 4));
        assert!(!w.active(10_000, 5) && w.ended(0, 5) && !w.ended(u64::MAX, 4));
        let w = Window {
            from: Some(Moment::Height(3)),
            until: Some(Moment::Time(Duration::from_secs(60))),
        };
        assert!(!w.active(0, 2) && w.active(0, 3) && w.active(59_999, 100));
        assert!(!w.active(60_000, 100) && !w.active(60_000, 0));
        let w = Window {
            from: None,
            until: Some(Moment::Height(2)),
        };
        assert!(w.active(0, 0) && w.active(0, 1) && !w.active(0, 2));
    }

    #[test]
    fn from_and_until_parse_as_times_or_heights() {
        let c = parse(
            "[[adversary]]\nkind = \"selfish\"\nnodes = [0]\nfrom = \"1m 30s\"\nuntil = 40\n\
             [[adversary]]\nkind = \"spam\"\nnodes = [1]\nmode = \"low-fee\"\nrate = 1.0\n\
             from = 5\n",
        )
        .unwrap();
        let w = c.adversary_window(0);
        assert_eq!(
            (w.from, w.until),
            (
                Some(Moment::Time(Duration::from_secs(90))),
                Some(Moment::Height(40))
            )
        );
        assert_eq!(c.adversary_window(1).from, Some(Moment::Height(5)));
        assert!(c.adversary_window(1).until.is_none());
        assert!(c.adversary_window(2).is_always());
        // Neither key: always active, and nothing new when written back.
        let c = parse("[[adversary]]\nkind = \"selfish\"\nnodes = [0]\n").unwrap();
        assert!(c.adversary_window(0).is_always());
        let text = toml::to_string(&c.adversary[0]).unwrap();
        assert!(!text.contains("from") && !text.contains("until"), "{text}");
        // Written back and read again: the same.
        let e = parse_adversary_arg("kind=selfish nodes=0 from=10m until=7").unwrap();
        assert_eq!(e.from, Some(Moment::Time(Duration::from_secs(600))));
        assert_eq!(e.until, Some(Moment::Height(7)));
        let back: AdversaryEntry = toml::from_str(&toml::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
    }

    #[test]
    fn bad_windows_are_named() {
        let selfish = "kind = \"selfish\"\nnodes = [0]";
        let cases = [
            (selfish, "from = \"soon\"", "adversary.0", "`from`"),
            (selfish, "until = -3", "adversary.0", "`until`"),
            (selfish, "from = 1.5", "adversary.0", "neither a height"),
            (
                selfish,
                "from = 10\nuntil = 10",
                "adversary.0.until",
                "not after from",
            ),
            (
                selfish,
                "from = \"5m\"\nuntil = \"1m\"",
                "adversary.0.until",
                "not after from",
            ),
            (
                selfish,
                "until = \"2h\"",
                "adversary.0.until",
                "cluster.duration",
            ),
            (
                selfish,
                "from = \"11m\"",
                "adversary.0.from",
                "cluster.duration",
            ),
            (
                "kind = \"eclipse\"\nnodes = [0]\nvictim = 3",
                "until = \"1m\"",
                "adversary.0.until",
                "not supported for `eclipse`",
            ),
        ];
        for (entry, body, key, what) in cases {
            let e = parse(&format!("[[adversary]]\n{entry}\n{body}\n"))
                .unwrap_err()
                .to_string();
            assert!(e.contains(key) && e.contains(what), "{body}: {e}");
        }
        assert!(parse(
            "[[adversary]]\nkind = \"double-spend\"\nnodes = [0]\nfrom = 3\nuntil = \"9m\"\n"
        )
        .is_ok());
        // A time and a height are not compared: either may come first.
        assert!(parse(&format!(
            "[[adversary]]\n{selfish}\nfrom = \"5m\"\nuntil = 3\n"
        ))
        .is_ok());
        // The second entry is named.
        let e = parse(&format!(
            "[[adversary]]\n{selfish}\n[[adversary]]\nkind = \"timewarp\"\nnodes = [1]\n\
             until = \"never\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("adversary.1") && e.contains("`until`"), "{e}");
    }
}
