//! Fault injection vocabulary and link-fault decisions.
//!
//! A scenario is a list of [`FaultEntry`]s (`[[faults]]` in TOML): each fires at a cluster time
//! (`at`) or when the best height reaches a value (`at_height`), and may last (`for`) or be
//! undone by a later entry (`heal`, `restart`, `resume`). The harness applies node faults
//! (crash, restart, wipe, pause, resume, clock skew, hash rate, full disk, equivocation); the
//! network consults
//! [`LinkFaults::judge`] for every message (partitions and per-link rules, optionally restricted
//! to message kinds).

use super::link::{Bandwidth, Per, Queues, Served};
use crate::net::wire::MsgKind;
use crate::NodeId;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// What a fault does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// Split the nodes into `groups` (nodes not named form a last group).
    Partition,
    /// `from` cannot reach `to`; `to` still reaches `from`.
    PartitionOneway,
    /// Cut every link of `node`.
    Isolate,
    /// Undo partitions and link rules: all, or only between the nodes of `groups`.
    Heal,
    /// Extra delay `ms` plus uniform jitter `jitter_ms` on the selected links.
    Latency,
    /// Drop a fraction `rate` of the selected messages.
    Loss,
    /// Deliver a fraction `rate` of the selected messages twice.
    Duplicate,
    /// Uniform extra delay up to `jitter_ms`, without first-in first-out order.
    Reorder,
    /// Queue the selected messages behind a `mbps` megabits-per-second server per link (or per
    /// sender's upload, `per = "upload"`).
    Bandwidth,
    /// Stop `node`: its actors and memory go, its store stays.
    Crash,
    /// Start `node` again from its store.
    Restart,
    /// Restart `node` with an empty store.
    Wipe,
    /// Freeze `node`: messages to it queue, its miner stops.
    Pause,
    /// Unfreeze `node`: queued messages are delivered.
    Resume,
    /// Shift `node`'s clock by `ms` (may be negative) for its timestamps and checks.
    ClockSkew,
    /// Set `node`'s hash power to `share` (a fraction of the whole network's initial power).
    Hashrate,
    /// `node`'s disk is full: its store refuses every write, so the node fails (stops as a
    /// crash does) at its next write; when the `for` ends the disk has room again and the node
    /// restarts from its store.
    DiskFull,
    /// Proof of stake: `node`'s validator equivocates: each block it seals gets a conflicting
    /// twin for the same slot, sent to half its peers, and each checkpoint vote a conflicting
    /// second vote, likewise.
    Equivocate,
}

impl FaultKind {
    /// The kind's name as written in TOML.
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Partition => "partition",
            FaultKind::PartitionOneway => "partition_oneway",
            FaultKind::Isolate => "isolate",
            FaultKind::Heal => "heal",
            FaultKind::Latency => "latency",
            FaultKind::Loss => "loss",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
            FaultKind::Bandwidth => "bandwidth",
            FaultKind::Crash => "crash",
            FaultKind::Restart => "restart",
            FaultKind::Wipe => "wipe",
            FaultKind::Pause => "pause",
            FaultKind::Resume => "resume",
            FaultKind::ClockSkew => "clock_skew",
            FaultKind::Hashrate => "hashrate",
            FaultKind::DiskFull => "disk_full",
            FaultKind::Equivocate => "equivocate",
        }
    }

    /// Link rules (scoped by `from`/`to`/`messages`).
    pub fn is_link_rule(&self) -> bool {
        matches!(
            self,
            FaultKind::Latency
                | FaultKind::Loss
                | FaultKind::Duplicate
                | FaultKind::Reorder
                | FaultKind::Bandwidth
        )
    }

    /// Faults that act on one `node`.
    pub fn is_node_fault(&self) -> bool {
        matches!(
            self,
            FaultKind::Isolate
                | FaultKind::Crash
                | FaultKind::Restart
                | FaultKind::Wipe
                | FaultKind::Pause
                | FaultKind::Resume
                | FaultKind::ClockSkew
                | FaultKind::Hashrate
                | FaultKind::DiskFull
                | FaultKind::Equivocate
        )
    }
}

/// One `[[faults]]` entry. Which fields apply depends on `kind`; [`FaultEntry::validate`]
/// rejects missing and stray ones.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// What to do.
    pub kind: FaultKind,
    /// Fire at this cluster time.
    #[serde(
        default,
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub at: Option<Duration>,
    /// Or fire when the best height reaches this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_height: Option<u64>,
    /// Undo after this long.
    #[serde(
        default,
        rename = "for",
        with = "humantime_serde::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub lasts: Option<Duration>,
    /// `partition`, `heal`: node groups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Vec<NodeId>>>,
    /// Link rules, `partition_oneway`: sending side (absent: every node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NodeId>>,
    /// Link rules, `partition_oneway`: receiving side (absent: every node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<NodeId>>,
    /// Node faults: the node.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// `loss`, `duplicate`: fraction in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    /// `latency`: extra delay; `clock_skew`: offset (may be negative). Milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<f64>,
    /// `latency`, `reorder`: jitter bound, milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<f64>,
    /// `bandwidth`: megabits per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mbps: Option<f64>,
    /// `bandwidth`: one queue per directed link (`link`, the default) or per sender (`upload`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per: Option<Per>,
    /// `hashrate`: the node's new share of the initial total hash power.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
    /// Link rules: only these message kinds (absent: all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<MsgKind>>,
}

/// A scenario entry is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("faults[{index}] (kind = {kind}): {reason}")]
pub struct FaultError {
    /// Position in the list.
    pub index: usize,
    /// Its kind.
    pub kind: &'static str,
    /// What is wrong.
    pub reason: String,
}

impl FaultEntry {
    fn fields(&self) -> [(&'static str, bool); 12] {
        [
            ("groups", self.groups.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("node", self.node.is_some()),
            ("rate", self.rate.is_some()),
            ("ms", self.ms.is_some()),
            ("jitter_ms", self.jitter_ms.is_some()),
            ("mbps", self.mbps.is_some()),
            ("per", self.per.is_some()),
            ("share", self.share.is_some()),
            ("messages", self.messages.is_some()),
            ("for", self.lasts.is_some()),
        ]
    }

    fn allowed(&self) -> (&'static [&'static str], &'static [&'static str]) {
        use FaultKind::*;
        match self.kind {
            Partition => (&["groups"], &["for"]),
            PartitionOneway => (&["from", "to"], &["for"]),
            Isolate => (&["node"], &["for"]),
            Heal => (&[], &["groups"]),
            Latency => (&["ms"], &["jitter_ms", "from", "to", "messages", "for"]),
            Loss | Duplicate => (&["rate"], &["from", "to", "messages", "for"]),
            Reorder => (&["jitter_ms"], &["from", "to", "messages", "for"]),
            Bandwidth => (&["mbps"], &["per", "from", "to", "messages", "for"]),
            Crash | Pause | DiskFull | Equivocate => (&["node"], &["for"]),
            Restart | Wipe | Resume => (&["node"], &[]),
            ClockSkew => (&["node", "ms"], &["for"]),
            Hashrate => (&["node", "share"], &["for"]),
        }
    }

    /// Checks the entry against a cluster of `nodes` running `end` (duration + settle).
    ///
    /// # Errors
    /// [`FaultError`] naming the entry and the problem.
    pub fn validate(&self, index: usize, nodes: usize, end: Duration) -> Result<(), FaultError> {
        let err = |reason: String| FaultError {
            index,
            kind: self.kind.name(),
            reason,
        };
        match (self.at, self.at_height) {
            (None, None) => return Err(err("needs `at` (a time) or `at_height`".into())),
            (Some(_), Some(_)) => return Err(err("give `at` or `at_height`, not both".into())),
            (Some(t), None) if t > end => {
                return Err(err(format!(
                    "at = {} is past the end of the run ({})",
                    humantime::format_duration(t),
                    humantime::format_duration(end)
                )))
            }
            _ => {}
        }
        let (required, optional) = self.allowed();
        for (name, present) in self.fields() {
            if present && !required.contains(&name) && !optional.contains(&name) {
                return Err(err(format!("`{name}` does not apply to this kind")));
            }
            if !present && required.contains(&name) {
                return Err(err(format!("`{name}` is required")));
            }
        }
        let check_node = |n: NodeId| {
            if n >= nodes {
                Err(err(format!("node {n} does not exist (nodes = {nodes})")))
            } else {
                Ok(())
            }
        };
        let node_lists = [self.from.as_ref(), self.to.as_ref()];
        for list in node_lists.into_iter().flatten() {
            if list.is_empty() {
                return Err(err("an empty node list".into()));
            }
            list.iter().try_for_each(|n| check_node(*n))?;
        }
        if let Some(n) = self.node {
            check_node(n)?;
        }
        if let Some(groups) = &self.groups {
            let mut seen = BTreeSet::new();
            for g in groups {
                if g.is_empty() {
                    return Err(err("an empty group".into()));
                }
                for n in g {
                    check_node(*n)?;
                    if !seen.insert(*n) {
                        return Err(err(format!("node {n} is in two groups")));
                    }
                }
            }
            if self.kind == FaultKind::Partition && groups.len() < 2 && seen.len() == nodes {
                return Err(err("a partition needs at least two groups".into()));
            }
        }
        if let Some(r) = self.rate {
            if !(0.0..=1.0).contains(&r) {
                return Err(err(format!("rate {r} is not in [0, 1]")));
            }
        }
        if let Some(share) = self.share {
            if share > 1000.0 {
                return Err(err(format!(
                    "`share` = {share} is above 1000 (times the network's initial hash power)"
                )));
            }
        }
        if self.kind == FaultKind::PartitionOneway {
            let all: BTreeSet<NodeId> = (0..nodes).collect();
            let pick = |v: &Option<Vec<NodeId>>| -> BTreeSet<NodeId> {
                v.as_ref()
                    .map_or(all.clone(), |l| l.iter().copied().collect())
            };
            let (from, to) = (pick(&self.from), pick(&self.to));
            if from.iter().all(|a| to.iter().all(|b| a == b)) {
                return Err(err(
                    "`from` and `to` name only the same node: nothing to cut".into(),
                ));
            }
        }
        let non_negative = [
            ("jitter_ms", self.jitter_ms),
            ("mbps", self.mbps),
            ("share", self.share),
        ];
        for (name, v) in non_negative {
            if let Some(v) = v {
                if !(v >= 0.0 && v.is_finite()) {
                    return Err(err(format!("`{name}` = {v} must be >= 0")));
                }
            }
        }
        if self.kind == FaultKind::Bandwidth && self.mbps == Some(0.0) {
            return Err(err("`mbps` must be positive".into()));
        }
        if let Some(ms) = self.ms {
            if !ms.is_finite() || (self.kind == FaultKind::Latency && ms < 0.0) {
                return Err(err(format!("`ms` = {ms} is out of range")));
            }
        }
        Ok(())
    }
}

/// Why the network dropped a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// A partition or isolation blocks the link.
    Partitioned,
    /// A loss rule dropped it.
    Loss,
}

/// The network's decision for one message.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Do not deliver.
    Drop {
        /// Why.
        reason: DropReason,
        /// The rule that dropped it (`None` for partitions).
        rule: Option<u64>,
    },
    /// Deliver `copies` times with extra delay.
    Deliver {
        /// Milliseconds added to the link's own delay.
        extra_ms: f64,
        /// 1, or 2 when duplicated.
        copies: u32,
        /// Ignore first-in first-out order on the link.
        reorder: bool,
    },
}

/// The effect of one link rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LinkEffect {
    /// Extra delay plus uniform jitter.
    Latency {
        /// Extra ms.
        ms: f64,
        /// Jitter bound, ms.
        jitter_ms: f64,
    },
    /// Drop with probability.
    Loss(f64),
    /// Duplicate with probability.
    Duplicate(f64),
    /// Uniform extra delay up to the bound, no FIFO.
    Reorder(f64),
    /// A queue served at this rate (per link or per sender); see [`super::link`].
    Bandwidth(Bandwidth),
}

/// A link rule with its scope.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkRule {
    /// Identifier (the scenario index of the entry that made it).
    pub id: u64,
    /// Senders it applies to (None: all).
    pub from: Option<BTreeSet<NodeId>>,
    /// Receivers it applies to (None: all).
    pub to: Option<BTreeSet<NodeId>>,
    /// Message kinds it applies to (None: all).
    pub kinds: Option<BTreeSet<MsgKind>>,
    /// What it does.
    pub effect: LinkEffect,
}

impl LinkRule {
    /// Builds the rule of a link-rule entry.
    pub fn from_entry(id: u64, e: &FaultEntry) -> Option<LinkRule> {
        let effect = match e.kind {
            FaultKind::Latency => LinkEffect::Latency {
                ms: e.ms.unwrap_or(0.0),
                jitter_ms: e.jitter_ms.unwrap_or(0.0),
            },
            FaultKind::Loss => LinkEffect::Loss(e.rate.unwrap_or(0.0)),
            FaultKind::Duplicate => LinkEffect::Duplicate(e.rate.unwrap_or(0.0)),
            FaultKind::Reorder => LinkEffect::Reorder(e.jitter_ms.unwrap_or(0.0)),
            FaultKind::Bandwidth => LinkEffect::Bandwidth(Bandwidth {
                mbps: e.mbps.unwrap_or(f64::INFINITY),
                per: e.per.unwrap_or_default(),
            }),
            _ => return None,
        };
        let set = |v: &Option<Vec<NodeId>>| v.as_ref().map(|l| l.iter().copied().collect());
        Some(LinkRule {
            id,
            from: set(&e.from),
            to: set(&e.to),
            kinds: e.messages.as_ref().map(|k| k.iter().copied().collect()),
            effect,
        })
    }

    fn applies(&self, from: NodeId, to: NodeId, kind: MsgKind) -> bool {
        self.from.as_ref().is_none_or(|s| s.contains(&from))
            && self.to.as_ref().is_none_or(|s| s.contains(&to))
            && self.kinds.as_ref().is_none_or(|s| s.contains(&kind))
    }
}

/// Blocked links, active link rules and the queues of the bandwidth rules.
#[derive(Clone, Debug, Default)]
pub struct LinkFaults {
    /// Cut links, each with the faults (owners) that cut it.
    blocked: BTreeMap<(NodeId, NodeId), BTreeSet<u64>>,
    rules: Vec<LinkRule>,
    /// The queues of each bandwidth rule, by rule id; they go with the rule.
    queues: BTreeMap<u64, Queues>,
}

/// The directed links a partition of `groups` (plus the unnamed nodes as a last group) cuts.
pub fn partition_links(groups: &[Vec<NodeId>], nodes: usize) -> Vec<(NodeId, NodeId)> {
    let mut group_of = vec![usize::MAX; nodes];
    for (g, members) in groups.iter().enumerate() {
        for &n in members {
            if n < nodes {
                group_of[n] = g;
            }
        }
    }
    let mut out = Vec::new();
    for a in 0..nodes {
        for b in 0..nodes {
            if a != b && group_of[a] != group_of[b] {
                out.push((a, b));
            }
        }
    }
    out
}

/// The directed links to and from `node`.
pub fn node_links(node: NodeId, nodes: usize) -> Vec<(NodeId, NodeId)> {
    (0..nodes)
        .filter(|&o| o != node)
        .flat_map(|o| [(node, o), (o, node)])
        .collect()
}

impl LinkFaults {
    /// No partition and no rule: the network can skip [`LinkFaults::judge`].
    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty() && self.rules.is_empty()
    }

    /// Whether some rule needs message sizes (a bandwidth limit: see [`LinkFaults::serialise`]).
    pub fn needs_size(&self) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r.effect, LinkEffect::Bandwidth(_)))
    }

    /// Cuts links on behalf of fault `owner` (a link cut by two faults needs both undone).
    pub fn block(&mut self, links: &[(NodeId, NodeId)], owner: u64) {
        for l in links {
            self.blocked.entry(*l).or_default().insert(owner);
        }
    }

    /// Undoes `owner`'s cut of these links (other faults' cuts stay).
    pub fn unblock(&mut self, links: &[(NodeId, NodeId)], owner: u64) {
        for l in links {
            if let Some(owners) = self.blocked.get_mut(l) {
                owners.remove(&owner);
                if owners.is_empty() {
                    self.blocked.remove(l);
                }
            }
        }
    }

    /// Removes every block between nodes of `among` (all blocks when None) and, when `among`
    /// is None, every rule.
    pub fn heal(&mut self, among: Option<&BTreeSet<NodeId>>) {
        match among {
            None => {
                self.blocked.clear();
                self.rules.clear();
                self.queues.clear();
            }
            Some(set) => self
                .blocked
                .retain(|(a, b), _| !(set.contains(a) && set.contains(b))),
        }
    }

    /// Adds a rule.
    pub fn add_rule(&mut self, rule: LinkRule) {
        self.rules.push(rule);
    }

    /// Removes the rule with this id (and its queues: messages already through them keep
    /// their times).
    pub fn remove_rule(&mut self, id: u64) {
        self.rules.retain(|r| r.id != id);
        self.queues.remove(&id);
    }

    /// Whether the directed link is cut.
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked.contains_key(&(from, to))
    }

    /// Passes a message of `bytes` bytes, ready to leave at `at_ms`, through the queue of each
    /// bandwidth rule that selects it, in the order the rules were added (limits in series):
    /// when its last bit leaves the last one, and how long it waited behind other messages.
    /// Call it once per delivered message, after [`LinkFaults::judge`], in sending order.
    pub fn serialise(
        &mut self,
        from: NodeId,
        to: NodeId,
        kind: MsgKind,
        at_ms: f64,
        bytes: u64,
    ) -> Served {
        let mut out = Served {
            departure_ms: at_ms,
            waited_ms: 0.0,
        };
        for r in self.rules.iter().filter(|r| r.applies(from, to, kind)) {
            if let LinkEffect::Bandwidth(limit) = r.effect {
                let served = self
                    .queues
                    .entry(r.id)
                    .or_insert_with(|| Queues::new(limit))
                    .offer(from, to, out.departure_ms, bytes);
                out.departure_ms = served.departure_ms;
                out.waited_ms += served.waited_ms;
            }
        }
        out
    }

    /// Decides the fate of one message: dropped, or delivered with extra latency, copies and
    /// order. Rules apply in the order they were added; the first loss that hits drops the
    /// message. Bandwidth rules are queues, applied by [`LinkFaults::serialise`].
    pub fn judge(&self, from: NodeId, to: NodeId, kind: MsgKind, rng: &mut impl Rng) -> Verdict {
        if self.is_blocked(from, to) {
            return Verdict::Drop {
                reason: DropReason::Partitioned,
                rule: None,
            };
        }
        let mut extra_ms = 0.0;
        let mut copies = 1;
        let mut reorder = false;
        for r in self.rules.iter().filter(|r| r.applies(from, to, kind)) {
            match r.effect {
                LinkEffect::Loss(p) => {
                    if rng.gen_bool(p.clamp(0.0, 1.0)) {
                        return Verdict::Drop {
                            reason: DropReason::Loss,
                            rule: Some(r.id),
                        };
                    }
                }
                LinkEffect::Duplicate(p) => {
                    if rng.gen_bool(p.clamp(0.0, 1.0)) {
                        copies = 2;
                    }
                }
                LinkEffect::Latency { ms, jitter_ms } => {
                    extra_ms += ms
                        + if jitter_ms > 0.0 {
                            rng.gen_range(0.0..=jitter_ms)
                        } else {
                            0.0
                        };
                }
                LinkEffect::Reorder(j) => {
                    reorder = true;
                    if j > 0.0 {
                        extra_ms += rng.gen_range(0.0..=j);
                    }
                }
                LinkEffect::Bandwidth(_) => {}
            }
        }
        Verdict::Deliver {
            extra_ms,
            copies,
            reorder,
        }
    }
}

/// Per-node values set by faults whose windows may overlap (hash share, clock skew, pause):
/// the latest active one applies; when it ends, the one before it (or none) applies again.
#[derive(Clone, Debug)]
pub struct Overrides<T> {
    active: BTreeMap<NodeId, Vec<(usize, T)>>,
}

impl<T> Default for Overrides<T> {
    fn default() -> Self {
        Overrides {
            active: BTreeMap::new(),
        }
    }
}

impl<T: Copy> Overrides<T> {
    /// Fault `fault` sets `value` on `node`.
    pub fn set(&mut self, node: NodeId, fault: usize, value: T) {
        self.active.entry(node).or_default().push((fault, value));
    }

    /// Fault `fault` ends on `node`.
    pub fn end(&mut self, node: NodeId, fault: usize) {
        if let Some(v) = self.active.get_mut(&node) {
            v.retain(|(f, _)| *f != fault);
            if v.is_empty() {
                self.active.remove(&node);
            }
        }
    }

    /// Every override of `node` ends (an explicit `resume`, say).
    pub fn clear(&mut self, node: NodeId) {
        self.active.remove(&node);
    }

    /// The value that applies to `node` now, if any.
    pub fn current(&self, node: NodeId) -> Option<T> {
        self.active
            .get(&node)
            .and_then(|v| v.last())
            .map(|(_, t)| *t)
    }
}

/// Parses a `--fault 'at=600s kind=partition groups=[[0,1],[2,3]]'` argument into an entry.
/// Words are `key=value` separated by spaces outside brackets; values are TOML when they parse
/// as TOML, else text.
///
/// # Errors
/// A message naming the bad word or field.
pub fn parse_fault_arg(arg: &str) -> Result<FaultEntry, String> {
    let table = crate::config::key_value_words(arg, "--fault")?;
    FaultEntry::deserialize(table).map_err(|e| format!("--fault {arg:?}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::stream;

    fn entry(toml_text: &str) -> FaultEntry {
        toml::from_str(toml_text).unwrap()
    }

    #[test]
    fn validation_names_the_entry_and_problem() {
        let end = Duration::from_secs(100);
        let cases = [
            ("kind = \"crash\"\nnode = 1", "needs `at`"),
            ("kind = \"crash\"\nat = \"10s\"", "`node` is required"),
            (
                "kind = \"crash\"\nat = \"10s\"\nnode = 9",
                "node 9 does not exist",
            ),
            ("kind = \"crash\"\nat = \"500s\"\nnode = 1", "past the end"),
            (
                "kind = \"partition\"\nat = \"1s\"\ngroups = [[0, 1], [1, 2]]",
                "node 1 is in two groups",
            ),
            ("kind = \"loss\"\nat = \"1s\"\nrate = 1.5", "not in [0, 1]"),
            (
                "kind = \"loss\"\nat = \"1s\"\nrate = 0.5\nnode = 2",
                "`node` does not apply",
            ),
            (
                "kind = \"restart\"\nat = \"1s\"\nnode = 2\nfor = \"5s\"",
                "`for` does not apply",
            ),
        ];
        for (text, want) in cases {
            let e = entry(text).validate(3, 4, end).unwrap_err();
            assert_eq!(e.index, 3);
            assert!(e.to_string().contains(want), "{text}: {e}");
        }
        assert!(toml::from_str::<FaultEntry>("kind = \"meteor\"\nat = \"1s\"").is_err());
        assert!(toml::from_str::<FaultEntry>("kind = \"crash\"\nat = \"1s\"\nnod = 1").is_err());
    }

    #[test]
    fn partitions_cut_between_groups_and_heal() {
        let links = partition_links(&[vec![0, 1]], 4);
        let mut f = LinkFaults::default();
        f.block(&links, 0);
        assert!(f.is_blocked(0, 2) && f.is_blocked(3, 1));
        assert!(!f.is_blocked(0, 1) && !f.is_blocked(2, 3));
        f.heal(Some(&[0, 2].into_iter().collect()));
        assert!(!f.is_blocked(0, 2) && f.is_blocked(1, 2));
        f.heal(None);
        assert!(f.is_empty());
    }

    #[test]
    fn oneway_and_owned_blocks() {
        let mut f = LinkFaults::default();
        f.block(&[(0, 1)], 1);
        f.block(&[(0, 1)], 2);
        f.unblock(&[(0, 1)], 1);
        assert!(f.is_blocked(0, 1) && !f.is_blocked(1, 0));
        f.unblock(&[(0, 1)], 1);
        assert!(f.is_blocked(0, 1), "only the owner's cut is undone");
        f.unblock(&[(0, 1)], 2);
        assert!(f.is_empty());
        // A partial heal removes every owner's cut among the healed nodes; a later undo of an
        // owner whose cut is gone leaves other owners' cuts alone.
        f.block(&[(0, 5)], 3);
        f.heal(Some(&[0, 5].into_iter().collect()));
        f.block(&[(0, 5)], 4);
        f.unblock(&[(0, 5)], 3);
        assert!(f.is_blocked(0, 5));
    }

    #[test]
    fn loss_rule_respects_scope_and_rate() {
        let e = entry("kind = \"loss\"\nat = \"1s\"\nrate = 0.3\nfrom = [0]\nto = [1]\nmessages = [\"block\"]");
        let mut f = LinkFaults::default();
        f.add_rule(LinkRule::from_entry(7, &e).unwrap());
        let mut rng = stream(1, "t", 0);
        let n = 20_000;
        let dropped = (0..n)
            .filter(|_| {
                matches!(
                    f.judge(0, 1, MsgKind::Block, &mut rng),
                    Verdict::Drop { rule: Some(7), .. }
                )
            })
            .count();
        // Binomial(20000, 0.3): sd ~ 65.
        assert!((dropped as f64 - 6000.0).abs() < 4.0 * 65.0, "{dropped}");
        for (from, to, kind) in [
            (1, 0, MsgKind::Block),
            (0, 1, MsgKind::Tx),
            (0, 2, MsgKind::Block),
        ] {
            assert!(matches!(
                f.judge(from, to, kind, &mut rng),
                Verdict::Deliver { copies: 1, .. }
            ));
        }
    }

    #[test]
    fn bandwidth_rules_queue_selected_messages_in_series_until_removed() {
        // 1000 bytes at 8 Mbit/s: 1 ms; at 4 Mbit/s: 2 ms.
        let rule = |id, text: &str| {
            let e = entry(&format!("kind = \"bandwidth\"\nat = \"1s\"\n{text}"));
            e.validate(0, 4, Duration::from_secs(10)).unwrap();
            LinkRule::from_entry(id, &e).unwrap()
        };
        let mut f = LinkFaults::default();
        f.add_rule(rule(1, "mbps = 8.0\nmessages = [\"block\"]"));
        assert!(f.needs_size());
        let block = |f: &mut LinkFaults, to| f.serialise(0, to, MsgKind::Block, 10.0, 1000);
        assert_eq!(block(&mut f, 1).departure_ms, 11.0);
        let second = block(&mut f, 1);
        assert_eq!((second.departure_ms, second.waited_ms), (12.0, 1.0));
        assert_eq!(
            block(&mut f, 2).departure_ms,
            11.0,
            "another link, another queue"
        );
        let tx = f.serialise(0, 1, MsgKind::Tx, 10.0, 1000);
        assert_eq!(tx.departure_ms, 10.0, "unselected kinds pass");
        // A second, slower limit on node 0's upload is a queue in series.
        f.add_rule(rule(2, "mbps = 4.0\nper = \"upload\"\nfrom = [0]"));
        let third = block(&mut f, 3);
        assert_eq!(
            third.departure_ms, 13.0,
            "1 ms (link 0->3), then 2 ms (upload)"
        );
        assert_eq!(
            block(&mut f, 3).departure_ms,
            15.0,
            "the upload is the bottleneck"
        );
        // A removed rule's queue is gone: the next message does not wait behind its backlog.
        f.remove_rule(2);
        assert_eq!(block(&mut f, 2).departure_ms, 12.0);
        f.remove_rule(1);
        assert!(!f.needs_size());
        assert_eq!(block(&mut f, 1).departure_ms, 10.0);
        assert!(parse_fault_arg("at=1s kind=bandwidth mbps=1 per=node")
            .unwrap_err()
            .contains("node"));
        let stray = entry("kind = \"loss\"\nat = \"1s\"\nrate = 0.1\nper = \"link\"");
        let e = stray.validate(0, 4, Duration::from_secs(10)).unwrap_err();
        assert!(e.to_string().contains("`per` does not apply"), "{e}");
    }

    #[test]
    fn overlapping_overrides_restore_the_previous_active_value() {
        let mut o = Overrides::default();
        o.set(3, 0, 0.0);
        o.set(3, 1, 0.1);
        assert_eq!(o.current(3), Some(0.1));
        o.end(3, 0);
        assert_eq!(
            o.current(3),
            Some(0.1),
            "ending an older window keeps the newer value"
        );
        o.end(3, 1);
        assert_eq!(o.current(3), None);
        o.set(3, 2, 0.5);
        o.set(4, 3, 0.7);
        o.clear(3);
        assert_eq!((o.current(3), o.current(4)), (None, Some(0.7)));
    }

    #[test]
    fn fault_arguments_parse_with_spaces_inside_brackets() {
        let e = parse_fault_arg("at=600s kind=partition groups=[[0, 1], [2,3]]").unwrap();
        assert_eq!(e.kind, FaultKind::Partition);
        assert_eq!(e.at, Some(Duration::from_secs(600)));
        assert_eq!(e.groups, Some(vec![vec![0, 1], vec![2, 3]]));
        let e = parse_fault_arg("at_height=10 for=60s kind=loss rate=0.3 messages=[\"block\"]")
            .unwrap();
        assert_eq!(e.lasts, Some(Duration::from_secs(60)));
        assert!(parse_fault_arg("kind=crash node").is_err());
        assert!(parse_fault_arg("kind=crash wat=1")
            .unwrap_err()
            .contains("wat"));
    }
}
