//! Fault timeline decisions: what applying a scenario entry, or undoing it when its `for` ends,
//! does to the cluster, as a list of [`Action`]s that the harness executes in order.
//!
//! The per-node values whose fault windows may overlap (pause, clock skew, hash share) live in
//! [`FaultState`], so each decision is a plain function of the entry and that state: no clock,
//! no network, no actors. The harness keeps the schedule (when an entry fires, when its `for`
//! ends) and the measurements; it carries out each action with one call.

use super::fault::{node_links, partition_links, FaultEntry, FaultKind, LinkRule, Overrides};
use crate::NodeId;
use std::collections::BTreeSet;

/// One step of a fault decision, for the harness to carry out.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Cut these directed links on behalf of fault `owner`.
    CutLinks {
        /// The directed links.
        links: Vec<(NodeId, NodeId)>,
        /// The fault (its scenario index) that cuts them.
        owner: u64,
    },
    /// Undo fault `owner`'s cut of these links (other faults' cuts stay).
    RestoreLinks {
        /// The directed links.
        links: Vec<(NodeId, NodeId)>,
        /// The fault (its scenario index) whose cut ends.
        owner: u64,
    },
    /// Remove the cuts among these nodes, or (None) every cut and every link rule.
    Heal(Option<BTreeSet<NodeId>>),
    /// Forget the scheduled `for` ends of cuts and link rules: a full heal removed them.
    ForgetLinkUndos,
    /// From now on copies made by the network prove nothing about their sender.
    MarkNetworkDuplicates,
    /// Add a link rule.
    AddLinkRule(LinkRule),
    /// Remove the link rule with this id.
    RemoveLinkRule(u64),
    /// Count the messages this fault's rule drops, for its report entry.
    CountDrops,
    /// Stop the node without a flush; it counts as crashed.
    Crash(NodeId),
    /// Empty the (stopped) node's store, once its actors are gone.
    Wipe(NodeId),
    /// The node's store refuses every write from now on (a full disk).
    FillDisk(NodeId),
    /// The node's store accepts writes again.
    FreeDisk(NodeId),
    /// Start the node from its store (nothing when it runs).
    Restart(NodeId),
    /// Freeze the node: messages to and from it queue, its miner and load stop.
    Pause(NodeId),
    /// Unfreeze the node.
    Resume(NodeId),
    /// The node's clock skew is now this many milliseconds.
    SetSkew(NodeId, i64),
    /// The node's hash share is now this.
    SetShare(NodeId, f64),
    /// The node's validator equivocates (true) or no longer does (false).
    SetEquivocate(NodeId, bool),
    /// Every live node announces its tip, as a reconnecting node does.
    Reconnect,
    /// Measure from now until every live node is on one tip.
    ExpectConvergence,
    /// Measure from now until the node is on the best tip.
    ExpectCatchUp(NodeId),
}

/// What applying or undoing one entry does.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The actions, in order.
    pub actions: Vec<Action>,
    /// What happened, for the fault's trace event.
    pub detail: String,
}

impl Decision {
    fn new(actions: Vec<Action>, detail: impl Into<String>) -> Decision {
        Decision {
            actions,
            detail: detail.into(),
        }
    }
}

/// The state fault decisions read and update: per-node overrides whose windows may overlap.
#[derive(Clone, Debug)]
pub struct FaultState {
    nodes: usize,
    base_shares: Vec<f64>,
    shares: Overrides<f64>,
    skews: Overrides<i64>,
    pausers: Overrides<()>,
    equivocators: Overrides<()>,
}

impl FaultState {
    /// No fault active yet, in a cluster of `nodes` with these configured hash shares.
    pub fn new(nodes: usize, base_shares: Vec<f64>) -> FaultState {
        FaultState {
            nodes,
            base_shares,
            shares: Overrides::default(),
            skews: Overrides::default(),
            pausers: Overrides::default(),
            equivocators: Overrides::default(),
        }
    }

    /// The node's clock skew: its latest active override, else 0.
    pub fn skew(&self, node: NodeId) -> i64 {
        self.skews.current(node).unwrap_or(0)
    }

    /// The node's hash share: its latest active override, else its configured share.
    pub fn share(&self, node: NodeId) -> f64 {
        self.shares.current(node).unwrap_or(self.base_shares[node])
    }

    /// Whether the node's validator equivocates now (an `equivocate` fault holds): a node
    /// started again meanwhile must be told.
    pub fn equivocates(&self, node: NodeId) -> bool {
        self.equivocators.current(node).is_some()
    }

    /// Applies scenario entry `index` now.
    pub fn apply(&mut self, index: usize, f: &FaultEntry) -> Decision {
        use FaultKind::*;
        let node = f.node.unwrap_or(0);
        let owner = index as u64;
        match f.kind {
            Partition | PartitionOneway | Isolate => {
                let links = links_of(f, self.nodes);
                let detail = format!("{} directed links cut", links.len());
                Decision::new(vec![Action::CutLinks { links, owner }], detail)
            }
            Heal => heal(f),
            Latency | Loss | Duplicate | Reorder | Bandwidth => {
                let mut actions = Vec::new();
                if f.kind == Duplicate {
                    actions.push(Action::MarkNetworkDuplicates);
                }
                actions.extend(LinkRule::from_entry(owner, f).map(Action::AddLinkRule));
                actions.push(Action::CountDrops);
                let (from, to) = (fmt_nodes(&f.from), fmt_nodes(&f.to));
                Decision::new(actions, format!("{:?} on {from} -> {to}", f.kind))
            }
            Crash => Decision::new(vec![Action::Crash(node)], format!("node {node} crashed")),
            Restart => Decision::new(
                vec![Action::Restart(node), Action::ExpectCatchUp(node)],
                format!("node {node} restarted from its store"),
            ),
            Wipe => Decision::new(
                vec![
                    Action::Crash(node),
                    Action::Wipe(node),
                    Action::Restart(node),
                    Action::ExpectCatchUp(node),
                ],
                format!("node {node} restarted with an empty store"),
            ),
            DiskFull => Decision::new(
                vec![Action::FillDisk(node)],
                format!("node {node}: its store refuses writes"),
            ),
            Pause => {
                self.pausers.set(node, index, ());
                Decision::new(vec![Action::Pause(node)], format!("node {node} paused"))
            }
            Resume => {
                self.pausers.clear(node);
                Decision::new(vec![Action::Resume(node)], format!("node {node} resumed"))
            }
            ClockSkew => {
                let ms = f.ms.unwrap_or(0.0) as i64;
                self.skews.set(node, index, ms);
                let actions = vec![Action::SetSkew(node, self.skew(node))];
                Decision::new(actions, format!("node {node} clock skewed by {ms} ms"))
            }
            Hashrate => {
                let share = f.share.unwrap_or(0.0);
                self.shares.set(node, index, share);
                let actions = vec![Action::SetShare(node, self.share(node))];
                Decision::new(actions, format!("node {node} hash share {share}"))
            }
            Equivocate => {
                self.equivocators.set(node, index, ());
                let detail = format!("node {node}: its validator equivocates");
                Decision::new(vec![Action::SetEquivocate(node, true)], detail)
            }
        }
    }

    /// Undoes entry `index` when its `for` ends.
    pub fn undo(&mut self, index: usize, f: &FaultEntry) -> Decision {
        use FaultKind::*;
        let node = f.node.unwrap_or(0);
        let owner = index as u64;
        match f.kind {
            Partition | PartitionOneway | Isolate => Decision::new(
                vec![
                    Action::RestoreLinks {
                        links: links_of(f, self.nodes),
                        owner,
                    },
                    Action::Reconnect,
                    Action::ExpectConvergence,
                ],
                "links restored",
            ),
            Latency | Loss | Duplicate | Reorder | Bandwidth => {
                Decision::new(vec![Action::RemoveLinkRule(owner)], "rule removed")
            }
            Crash => Decision::new(
                vec![Action::Restart(node), Action::ExpectCatchUp(node)],
                format!("node {node} restarted from its store"),
            ),
            DiskFull => Decision::new(
                vec![
                    Action::FreeDisk(node),
                    Action::Restart(node),
                    Action::ExpectCatchUp(node),
                ],
                format!("node {node}: its store accepts writes; restarted from it if it failed"),
            ),
            Pause => {
                self.pausers.end(node, index);
                if self.pausers.current(node).is_some() {
                    let detail = format!("node {node}: this pause ended, another one holds");
                    Decision::new(Vec::new(), detail)
                } else {
                    Decision::new(vec![Action::Resume(node)], format!("node {node} resumed"))
                }
            }
            ClockSkew => {
                self.skews.end(node, index);
                let ms = self.skew(node);
                let detail = format!("node {node} clock skew now {ms} ms");
                Decision::new(vec![Action::SetSkew(node, ms)], detail)
            }
            Hashrate => {
                self.shares.end(node, index);
                let share = self.share(node);
                let detail = format!("node {node} hash share now {share}");
                Decision::new(vec![Action::SetShare(node, share)], detail)
            }
            Equivocate => {
                self.equivocators.end(node, index);
                if self.equivocates(node) {
                    let detail = format!("node {node}: this equivocation ended, another holds");
                    Decision::new(Vec::new(), detail)
                } else {
                    let detail = format!("node {node}: its validator is honest again");
                    Decision::new(vec![Action::SetEquivocate(node, false)], detail)
                }
            }
            Heal | Restart | Wipe | Resume => Decision::new(Vec::new(), ""),
        }
    }
}

/// Whether a full `heal` (no `groups`) ends faults of this kind: cuts and link rules.
pub fn ended_by_full_heal(kind: FaultKind) -> bool {
    kind.is_link_rule()
        || matches!(
            kind,
            FaultKind::Partition | FaultKind::PartitionOneway | FaultKind::Isolate
        )
}

fn heal(f: &FaultEntry) -> Decision {
    let among: Option<BTreeSet<NodeId>> = f
        .groups
        .as_ref()
        .map(|g| g.iter().flatten().copied().collect());
    let detail = match &among {
        Some(s) => format!("links among {} nodes restored", s.len()),
        None => "every partition and link rule removed".into(),
    };
    let mut actions = vec![Action::Heal(among.clone())];
    if among.is_none() {
        actions.push(Action::ForgetLinkUndos);
    }
    actions.extend([Action::ExpectConvergence, Action::Reconnect]);
    Decision::new(actions, detail)
}

/// The directed links a cutting entry (partition, one-way partition, isolation) cuts.
fn links_of(f: &FaultEntry, n: usize) -> Vec<(NodeId, NodeId)> {
    match f.kind {
        FaultKind::Partition => partition_links(f.groups.as_deref().unwrap_or_default(), n),
        FaultKind::Isolate => node_links(f.node.unwrap_or(0), n),
        FaultKind::PartitionOneway => {
            let all: Vec<NodeId> = (0..n).collect();
            let from = f.from.clone().unwrap_or_else(|| all.clone());
            let to = f.to.clone().unwrap_or(all);
            from.iter()
                .flat_map(|a| to.iter().filter(move |b| *b != a).map(move |b| (*a, *b)))
                .collect()
        }
        _ => Vec::new(),
    }
}

fn fmt_nodes(v: &Option<Vec<NodeId>>) -> String {
    match v {
        None => "all".into(),
        Some(l) => format!("{l:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::fault::parse_fault_arg;
    use Action::*;

    fn entry(arg: &str) -> FaultEntry {
        parse_fault_arg(&format!("at=1s {arg}")).unwrap()
    }

    fn state() -> FaultState {
        FaultState::new(4, vec![0.25; 4])
    }

    #[test]
    fn cuts_are_owned_and_restored_with_a_convergence_measurement() {
        let mut s = state();
        let f = entry("kind=partition_oneway from=[0] to=[0,1,2]");
        let links = vec![(0, 1), (0, 2)];
        let cut = s.apply(5, &f);
        assert_eq!(cut.detail, "2 directed links cut");
        assert_eq!(
            cut.actions,
            [CutLinks {
                links: links.clone(),
                owner: 5
            }]
        );
        let restore = RestoreLinks { links, owner: 5 };
        assert_eq!(
            s.undo(5, &f).actions,
            [restore, Reconnect, ExpectConvergence]
        );
        let isolate = s.apply(6, &entry("kind=isolate node=3"));
        assert!(matches!(&isolate.actions[..], [CutLinks { links, owner: 6 }] if links.len() == 6));
    }

    #[test]
    fn only_a_full_heal_forgets_the_link_undos() {
        let mut s = state();
        let full = s.apply(0, &entry("kind=heal"));
        assert_eq!(
            full.actions,
            [Heal(None), ForgetLinkUndos, ExpectConvergence, Reconnect]
        );
        let partial = s.apply(1, &entry("kind=heal groups=[[0,1],[3]]"));
        let among = Some([0, 1, 3].into_iter().collect());
        assert_eq!(partial.actions, [Heal(among), ExpectConvergence, Reconnect]);
        assert_eq!(partial.detail, "links among 3 nodes restored");
        assert!(ended_by_full_heal(FaultKind::Isolate) && ended_by_full_heal(FaultKind::Loss));
        assert!(!ended_by_full_heal(FaultKind::Pause) && !ended_by_full_heal(FaultKind::Crash));
    }

    #[test]
    fn link_rules_are_added_counted_and_removed_by_their_index() {
        let mut s = state();
        let f = entry("kind=duplicate rate=0.5 to=[2]");
        let d = s.apply(3, &f);
        let rule = AddLinkRule(LinkRule::from_entry(3, &f).unwrap());
        assert_eq!(d.actions, [MarkNetworkDuplicates, rule, CountDrops]);
        assert_eq!(d.detail, "Duplicate on all -> [2]");
        let loss = s.apply(4, &entry("kind=loss rate=0.1"));
        assert!(!loss.actions.contains(&MarkNetworkDuplicates));
        assert_eq!(s.undo(3, &f).actions, [RemoveLinkRule(3)]);
    }

    #[test]
    fn crash_wipe_and_restart_stop_and_start_the_node() {
        let mut s = state();
        let crash = entry("kind=crash node=2 for=5s");
        assert_eq!(s.apply(0, &crash).actions, [Crash(2)]);
        let back = [Restart(2), ExpectCatchUp(2)];
        assert_eq!(s.undo(0, &crash).actions, back);
        assert_eq!(s.apply(1, &entry("kind=restart node=2")).actions, back);
        let wipe = s.apply(2, &entry("kind=wipe node=1"));
        assert_eq!(
            wipe.actions,
            [Crash(1), Wipe(1), Restart(1), ExpectCatchUp(1)]
        );
    }

    #[test]
    fn a_full_disk_refuses_writes_until_its_end_then_the_node_restarts() {
        let mut s = state();
        let full = entry("kind=disk_full node=3 for=20s");
        assert_eq!(s.apply(0, &full).actions, [FillDisk(3)]);
        assert_eq!(
            s.undo(0, &full).actions,
            [FreeDisk(3), Restart(3), ExpectCatchUp(3)]
        );
        let end = std::time::Duration::from_secs(60);
        assert!(full.validate(0, 4, end).is_ok());
        let nodeless = parse_fault_arg("at=1s kind=disk_full").unwrap();
        assert!(nodeless.validate(0, 4, end).is_err(), "needs a node");
    }

    #[test]
    fn equivocation_windows_overlap_and_end_with_the_last_one() {
        let mut s = state();
        let a = entry("kind=equivocate node=3 for=60s");
        let b = entry("kind=equivocate node=3");
        assert!(!s.equivocates(3));
        let on = s.apply(0, &a);
        assert_eq!(on.actions, [SetEquivocate(3, true)]);
        assert_eq!(on.detail, "node 3: its validator equivocates");
        assert!(s.equivocates(3) && !s.equivocates(2));
        assert_eq!(s.apply(1, &b).actions, [SetEquivocate(3, true)]);
        let first_end = s.undo(0, &a);
        assert!(first_end.actions.is_empty(), "{first_end:?}");
        assert!(s.equivocates(3), "the open-ended one holds");
        assert_eq!(s.undo(1, &b).actions, [SetEquivocate(3, false)]);
        assert!(!s.equivocates(3));
        let end = std::time::Duration::from_secs(100);
        assert!(a.validate(0, 4, end).is_ok() && b.validate(0, 4, end).is_ok());
        let cases = [
            ("at=1s kind=equivocate", "`node` is required"),
            ("at=1s kind=equivocate node=7", "node 7 does not exist"),
            (
                "at=1s kind=equivocate node=1 rate=0.5",
                "`rate` does not apply",
            ),
            ("at=1s kind=equivocate node=1 ms=3", "`ms` does not apply"),
        ];
        for (arg, want) in cases {
            let e = parse_fault_arg(arg)
                .unwrap()
                .validate(2, 4, end)
                .unwrap_err();
            assert_eq!(
                e.to_string().split(':').next(),
                Some("faults[2] (kind = equivocate)")
            );
            assert!(e.to_string().contains(want), "{arg}: {e}");
        }
        assert!(parse_fault_arg("at=1s kind=equivocate nodes=[3]")
            .unwrap_err()
            .contains("nodes"));
    }

    #[test]
    fn overlapping_pauses_resume_when_the_last_one_ends() {
        let mut s = state();
        let a = entry("kind=pause node=1 for=10s");
        let b = entry("kind=pause node=1 for=20s");
        assert_eq!(s.apply(0, &a).actions, [Pause(1)]);
        assert_eq!(s.apply(1, &b).actions, [Pause(1)]);
        let first_end = s.undo(0, &a);
        assert!(first_end.actions.is_empty(), "{first_end:?}");
        assert_eq!(s.undo(1, &b).actions, [Resume(1)]);
        // An explicit resume ends every pause: a later `for` end finds nothing holding.
        s.apply(2, &a);
        assert_eq!(
            s.apply(3, &entry("kind=resume node=1")).actions,
            [Resume(1)]
        );
        assert_eq!(s.undo(2, &a).actions, [Resume(1)]);
    }

    #[test]
    fn skews_and_shares_fall_back_to_the_previous_active_value() {
        let mut s = state();
        let a = entry("kind=clock_skew node=0 ms=300");
        let b = entry("kind=clock_skew node=0 ms=-20");
        assert_eq!(s.apply(0, &a).actions, [SetSkew(0, 300)]);
        assert_eq!(s.apply(1, &b).actions, [SetSkew(0, -20)]);
        assert_eq!(s.undo(1, &b).actions, [SetSkew(0, 300)]);
        let end = s.undo(0, &a);
        assert_eq!(end.actions, [SetSkew(0, 0)]);
        assert_eq!(end.detail, "node 0 clock skew now 0 ms");
        let h = entry("kind=hashrate node=3 share=0.9");
        assert_eq!(s.apply(2, &h).actions, [SetShare(3, 0.9)]);
        assert_eq!(s.share(3), 0.9);
        assert_eq!(s.undo(2, &h).actions, [SetShare(3, 0.25)]);
        assert_eq!((s.share(3), s.skew(0)), (0.25, 0));
    }
}
