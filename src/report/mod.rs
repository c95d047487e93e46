//! Trace events and the end-of-run report: block, propagation, transaction, convergence and
//! invariant figures computed from the events and the nodes' final chains.

use crate::chain::ChainState;
use crate::gossip::NodeId;
use crate::hash::{Hash, TxId};
use serde::{Serialize, Serializer};
use std::collections::{BTreeMap, HashMap, HashSet};

fn hex<S: Serializer>(h: &Hash, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&h.to_hex())
}

/// One thing that happened. Serialized with an `event` tag (snake case) and its fields.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A node's miner sealed a block.
    BlockMined {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Height.
        height: u64,
        /// Parent hash.
        #[serde(serialize_with = "hex")]
        parent: Hash,
        /// Node index of the miner.
        miner: NodeId,
        /// Transactions in it.
        txs: usize,
        /// Difficulty it carries.
        difficulty: u64,
    },
    /// A node stored a valid block (on any branch).
    BlockImported {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Height.
        height: u64,
    },
    /// A node's best chain switched branches.
    Reorg {
        /// Blocks reverted.
        depth: u64,
        /// Tip before.
        #[serde(serialize_with = "hex")]
        old_tip: Hash,
        /// Tip after.
        #[serde(serialize_with = "hex")]
        new_tip: Hash,
    },
    /// A node rejected a block.
    BlockRejected {
        /// Block hash.
        #[serde(serialize_with = "hex")]
        hash: Hash,
        /// Why.
        reason: String,
    },
    /// The workload submitted a transaction to `node`.
    TxSubmitted {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
    },
    /// The node refused a workload transaction.
    TxRejected {
        /// Transaction id.
        #[serde(serialize_with = "hex")]
        txid: TxId,
        /// Why.
        reason: String,
    },
    /// A node asked a peer for the blocks it misses.
    SyncRequested {
        /// The peer asked.
        peer: NodeId,
    },
    /// A node started (from its store, at this height).
    NodeStarted {
        /// Height after loading its store.
        height: u64,
    },
    /// A scenario fault fired (`phase` = "start") or was undone (`phase` = "end").
    Fault {
        /// Scenario index.
        index: usize,
        /// Fault kind.
        kind: String,
        /// "start" or "end".
        phase: String,
        /// What it did, in words.
        detail: String,
    },
    /// Messages the fault layer dropped on one directed link over the run (written at the end).
    MessageDropped {
        /// Receiver (`node` is the sender).
        to: NodeId,
        /// Message kind.
        kind: crate::wire::MsgKind,
        /// How many.
        count: u64,
    },
    /// A node stopped (crash or shutdown).
    NodeStopped {
        /// True for a crash (no flush).
        crashed: bool,
    },
    /// A TCP peer finished the handshake.
    PeerConnected {
        /// The peer's node id.
        peer: u64,
        /// Its socket address.
        addr: String,
        /// True when the peer dialled this node.
        inbound: bool,
    },
    /// A TCP connection failed its handshake.
    HandshakeFailed {
        /// The remote socket address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// A TCP peer's connection ended.
    PeerDisconnected {
        /// The peer's node id.
        peer: u64,
        /// Short cause: `closed`, `idle-timeout`, `shutdown`, an offence label, ...
        cause: String,
        /// In words.
        reason: String,
    },
    /// A TCP peer is refused for a while after an offence.
    PeerDiscouraged {
        /// The peer's node id.
        peer: u64,
        /// The offence.
        reason: String,
        /// For how long, ms.
        for_ms: u64,
    },
}

impl Event {
    /// The event's name, as in the trace's `event` field.
    pub fn name(&self) -> &'static str {
        match self {
            Event::BlockMined { .. } => "block_mined",
            Event::BlockImported { .. } => "block_imported",
            Event::Reorg { .. } => "reorg",
            Event::BlockRejected { .. } => "block_rejected",
            Event::TxSubmitted { .. } => "tx_submitted",
            Event::TxRejected { .. } => "tx_rejected",
            Event::SyncRequested { .. } => "sync_requested",
            Event::NodeStarted { .. } => "node_started",
            Event::Fault { .. } => "fault",
            Event::MessageDropped { .. } => "message_dropped",
            Event::NodeStopped { .. } => "node_stopped",
            Event::PeerConnected { .. } => "peer_connected",
            Event::HandshakeFailed { .. } => "handshake_failed",
            Event::PeerDisconnected { .. } => "peer_disconnected",
            Event::PeerDiscouraged { .. } => "peer_discouraged",
        }
    }
}

/// An event at a time at a node.
#[derive(Clone, Debug, PartialEq)]
pub struct TraceRecord {
    /// Cluster-clock milliseconds since start.
    pub t_ms: u64,
    /// The node.
    pub node: NodeId,
    /// What happened.
    pub event: Event,
}

#[derive(Serialize)]
struct TraceLine<'a> {
    t: f64,
    node: NodeId,
    #[serde(flatten)]
    event: &'a Event,
}

impl TraceRecord {
    /// One JSON line: `{"t": seconds, "node": n, "event": "...", ...fields}`.
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(&TraceLine {
            t: self.t_ms as f64 / 1000.0,
            node: self.node,
            event: &self.event,
        })
        .unwrap_or_default()
    }
}

/// p50, p90, p99 (nearest rank); null without samples.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50: Option<f64>,
    /// 90th percentile.
    pub p90: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Number of samples.
    pub samples: usize,
}

impl Percentiles {
    /// From unsorted samples.
    pub fn of(mut v: Vec<f64>) -> Percentiles {
        v.sort_by(f64::total_cmp);
        let at = |q: f64| {
            if v.is_empty() {
                None
            } else {
                let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
                Some(v[rank - 1])
            }
        };
        Percentiles {
            p50: at(0.5),
            p90: at(0.9),
            p99: at(0.99),
            samples: v.len(),
        }
    }
}

/// `blocks`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BlockStats {
    /// Blocks mined by anyone.
    pub mined: u64,
    /// Height of the final best chain.
    pub canonical_height: u64,
    /// Mined blocks not on the final best chain.
    pub stale: u64,
    /// stale / mined.
    pub stale_rate: f64,
    /// Heights at which more than one block was mined.
    pub forks: u64,
    /// Reorg events over all nodes.
    pub reorgs: u64,
    /// Deepest reorg at any node.
    pub max_reorg_depth: u64,
    /// Mean time between best-chain blocks, seconds (by mining time).
    pub mean_interval_s: f64,
    /// Difficulty of the final tip.
    pub final_difficulty: u64,
}

/// `txs`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TxStats {
    /// Submitted by the workload.
    pub submitted: u64,
    /// Of those, on the final best chain.
    pub confirmed: u64,
    /// Refused at submission.
    pub rejected: u64,
    /// confirmed / duration.
    pub tps: f64,
    /// Submission to mining of the including best-chain block, seconds.
    pub confirm_latency_s: Percentiles,
}

/// `convergence`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Convergence {
    /// All live nodes on one tip.
    pub converged: bool,
    /// Number of distinct tips among live nodes.
    pub distinct_tips: usize,
    /// The best tip (hex).
    pub tip: String,
    /// Its height.
    pub height: u64,
}

/// `invariants`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Invariants {
    /// Checks run.
    pub checked: u64,
    /// What failed, one line each.
    pub violations: Vec<String>,
}

/// A node's final state as the report needs it.
#[derive(Clone, Debug)]
pub struct NodeFinal {
    /// Index.
    pub id: NodeId,
    /// Still running at the end.
    pub live: bool,
    /// Its tip.
    pub tip: Hash,
    /// Its height.
    pub height: u64,
    /// Cumulative work of its best chain.
    pub work: u128,
}

/// A block of the final best chain.
#[derive(Clone, Debug)]
pub struct FinalBlock {
    /// Hash.
    pub hash: Hash,
    /// Height.
    pub height: u64,
    /// Transaction ids.
    pub txids: Vec<TxId>,
    /// Difficulty.
    pub difficulty: u64,
}

/// What the harness measured for one fault.
#[derive(Clone, Debug, Default)]
pub struct FaultRecord {
    /// Scenario index.
    pub index: usize,
    /// Kind name.
    pub kind: String,
    /// When it fired (None: never, e.g. a height never reached).
    pub at_ms: Option<u64>,
    /// When it was undone (`for`), if it was.
    pub until_ms: Option<u64>,
    /// Messages dropped by its link rule.
    pub dropped: Option<u64>,
    /// For heals (and partitions undone by `for`): time until all live nodes shared one tip;
    /// `Some(None)` when they never did.
    pub convergence_ms: Option<Option<u64>>,
    /// For restarts and wipes: time until the node reached the best tip; `Some(None)` when it never did.
    pub catch_up_ms: Option<Option<u64>>,
    /// The node it acted on.
    pub node: Option<NodeId>,
}

/// A measured value that may be missing for a reason.
fn secs(ms: Option<u64>) -> Option<f64> {
    ms.map(|m| m as f64 / 1000.0)
}

/// What a fault did, measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultEffect {
    /// Blocks mined while it was active.
    pub blocks_mined: u64,
    /// Of those, not on the final best chain.
    pub stale: u64,
    /// Reorg events while it was active (and until the next fault or the end for instant faults).
    pub reorgs: u64,
    /// Deepest of those.
    pub max_reorg_depth: u64,
    /// Messages its link rule dropped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dropped_messages: Option<u64>,
    /// Seconds until all live nodes shared one tip after it (null: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub convergence_s: Option<Option<f64>>,
    /// Seconds until the restarted node reached the best tip (null: never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catch_up_s: Option<Option<f64>>,
}

/// One entry of `faults`.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FaultReport {
    /// Scenario index.
    pub index: usize,
    /// Kind.
    pub kind: String,
    /// The node it acted on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// When it fired (null: never).
    pub at_s: Option<f64>,
    /// When it was undone (null: not undone by `for`).
    pub until_s: Option<f64>,
    /// What it did.
    pub effect: FaultEffect,
}

/// A block `depth` confirmations deep was reverted.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrefixViolation {
    /// Node.
    pub node: NodeId,
    /// Reorg depth (>= k).
    pub depth: u64,
    /// When, seconds.
    pub t: f64,
}

/// A restart's catch-up.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CatchUp {
    /// Node.
    pub node: NodeId,
    /// Seconds from restart to the best tip (null: never).
    pub catch_up_s: Option<f64>,
}

/// `connections`: what happened on TCP links.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Connections {
    /// Handshakes completed (each side counts its own).
    pub connected: u64,
    /// Handshakes failed.
    pub handshake_failed: u64,
    /// Connections ended after a handshake.
    pub disconnected: u64,
    /// Peers discouraged.
    pub discouraged: u64,
    /// Disconnections by cause.
    pub causes: BTreeMap<String, u64>,
}

impl Connections {
    fn from_events(events: &[TraceRecord]) -> Connections {
        let mut c = Connections::default();
        for r in events {
            match &r.event {
                Event::PeerConnected { .. } => c.connected += 1,
                Event::HandshakeFailed { .. } => c.handshake_failed += 1,
                Event::PeerDisconnected { cause, .. } => {
                    c.disconnected += 1;
                    *c.causes.entry(cause.clone()).or_default() += 1;
                }
                Event::PeerDiscouraged { .. } => c.discouraged += 1,
                _ => {}
            }
        }
        c
    }
}

/// `safety`
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Safety {
    /// Common-prefix depth checked.
    pub k: u64,
    /// Every reorg of depth >= k.
    pub common_prefix_violations: Vec<PrefixViolation>,
    /// Deepest reorg at any node.
    pub max_reorg_depth: u64,
    /// Per heal: seconds until all live nodes shared one tip (null: never).
    pub convergence_s: Vec<Option<f64>>,
    /// Transactions a node accepted that are neither on the final best chain nor in any live
    /// node's mempool (excluding those accepted by a node that later crashed or was wiped).
    pub lost_txs: u64,
    /// Accepted transactions still waiting in some mempool at the end (submitted too late to
    /// be mined before mining stopped).
    pub pending_txs: u64,
    /// Accepted by a node that later crashed or was wiped, and not on the final best chain.
    pub lost_txs_on_crashed_nodes: u64,
    /// Per restart or wipe: time to reach the best tip.
    pub restarts: Vec<CatchUp>,
}

/// Everything the report is computed from.
#[derive(Clone, Debug)]
pub struct RunFacts {
    /// Seed.
    pub seed: u64,
    /// "virtual" or "real".
    pub clock: String,
    /// Node count.
    pub nodes: usize,
    /// Load and mining period, seconds.
    pub duration_s: f64,
    /// Settle period, seconds.
    pub settle_s: f64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// Final state of every node.
    pub finals: Vec<NodeFinal>,
    /// The best live node's chain, genesis first.
    pub chain: Vec<FinalBlock>,
    /// Invariant checks run and their failures.
    pub invariants: Invariants,
    /// Common-prefix depth.
    pub k: u64,
    /// What the harness measured per fault.
    pub faults: Vec<FaultRecord>,
    /// Nodes crashed or wiped at some point, with the time.
    pub crashed: Vec<(NodeId, u64)>,
    /// Transactions in some live node's mempool at the end.
    pub pooled: HashSet<TxId>,
}

/// The JSON report of a run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Report {
    /// Seed.
    pub seed: u64,
    /// Clock mode.
    pub clock: String,
    /// Nodes.
    pub nodes: usize,
    /// Load and mining period, simulated seconds.
    pub duration_s: f64,
    /// Settle period, simulated seconds.
    pub settle_s: f64,
    /// Wall-clock seconds the run took.
    pub wall_s: f64,
    /// Block figures.
    pub blocks: BlockStats,
    /// Time from mining to import by every live node, over final best-chain blocks.
    pub propagation_s: Percentiles,
    /// Transaction figures.
    pub txs: TxStats,
    /// Final agreement.
    pub convergence: Convergence,
    /// End-of-run invariants.
    pub invariants: Invariants,
    /// The scenario's faults and what each did.
    pub faults: Vec<FaultReport>,
    /// Safety and liveness checks.
    pub safety: Safety,
    /// TCP connection events (all zero when every link is in memory).
    pub connections: Connections,
    /// Trace events recorded.
    pub events: u64,
}

impl Report {
    /// Computes the report.
    pub fn compute(facts: &RunFacts, events: &[TraceRecord]) -> Report {
        let chain_pos: HashMap<Hash, usize> = facts
            .chain
            .iter()
            .enumerate()
            .map(|(i, b)| (b.hash, i))
            .collect();
        let mut mined_at: HashMap<Hash, u64> = HashMap::new();
        let mut heights: BTreeMap<u64, u64> = BTreeMap::new();
        let mut mined = 0u64;
        let mut reorgs = 0u64;
        let mut max_depth = 0u64;
        let mut submitted: HashMap<TxId, u64> = HashMap::new();
        let mut rejected = 0u64;
        let live: HashSet<NodeId> = facts
            .finals
            .iter()
            .filter(|f| f.live)
            .map(|f| f.id)
            .collect();
        // The first import of each best-chain block at each live node (a wiped node's re-import
        // later does not count).
        let mut first_import: HashMap<Hash, HashMap<NodeId, u64>> = HashMap::new();
        for r in events {
            match &r.event {
                Event::BlockMined { hash, height, .. } => {
                    mined += 1;
                    *heights.entry(*height).or_default() += 1;
                    mined_at.entry(*hash).or_insert(r.t_ms);
                }
                Event::BlockImported { hash, .. }
                    if chain_pos.contains_key(hash) && live.contains(&r.node) =>
                {
                    first_import
                        .entry(*hash)
                        .or_default()
                        .entry(r.node)
                        .or_insert(r.t_ms);
                }
                Event::Reorg { depth, .. } => {
                    reorgs += 1;
                    max_depth = max_depth.max(*depth);
                }
                Event::TxSubmitted { txid } => {
                    submitted.entry(*txid).or_insert(r.t_ms);
                }
                Event::TxRejected { .. } => rejected += 1,
                _ => {}
            }
        }
        let stale = mined_at
            .keys()
            .filter(|h| !chain_pos.contains_key(h))
            .count() as u64;
        let forks = heights.values().filter(|c| **c > 1).count() as u64;
        let chain_times: Vec<u64> = facts
            .chain
            .iter()
            .skip(1)
            .filter_map(|b| mined_at.get(&b.hash).copied())
            .collect();
        let mean_interval_s = match chain_times.len() {
            0 => 0.0,
            1 => chain_times[0] as f64 / 1000.0,
            n => {
                (chain_times[n - 1].saturating_sub(chain_times[0])) as f64 / 1000.0 / (n - 1) as f64
            }
        };
        let mut prop = Vec::new();
        for b in facts.chain.iter().skip(1) {
            if let (Some(t0), Some(who)) = (mined_at.get(&b.hash), first_import.get(&b.hash)) {
                if who.len() == live.len() {
                    let t1 = who.values().copied().max().unwrap_or(*t0);
                    prop.push(t1.saturating_sub(*t0) as f64 / 1000.0);
                }
            }
        }
        let mut latencies = Vec::new();
        for b in facts.chain.iter().skip(1) {
            let Some(t_block) = mined_at.get(&b.hash) else {
                continue;
            };
            for id in &b.txids {
                if let Some(t_sub) = submitted.get(id) {
                    latencies.push(t_block.saturating_sub(*t_sub) as f64 / 1000.0);
                }
            }
        }
        let confirmed = latencies.len() as u64;
        let live_tips: BTreeMap<Hash, u64> = facts
            .finals
            .iter()
            .filter(|f| f.live)
            .map(|f| (f.tip, f.height))
            .collect();
        let best = facts.chain.last();
        let chain_txs: HashSet<TxId> = facts
            .chain
            .iter()
            .flat_map(|b| b.txids.iter().copied())
            .collect();
        let safety = safety(facts, events, &chain_txs, max_depth);
        let faults = fault_reports(facts, events, &chain_pos);
        Report {
            seed: facts.seed,
            clock: facts.clock.clone(),
            nodes: facts.nodes,
            duration_s: facts.duration_s,
            settle_s: facts.settle_s,
            wall_s: facts.wall_s,
            blocks: BlockStats {
                mined,
                canonical_height: best.map(|b| b.height).unwrap_or(0),
                stale,
                stale_rate: if mined > 0 {
                    stale as f64 / mined as f64
                } else {
                    0.0
                },
                forks,
                reorgs,
                max_reorg_depth: max_depth,
                mean_interval_s,
                final_difficulty: best.map(|b| b.difficulty).unwrap_or(0),
            },
            propagation_s: Percentiles::of(prop),
            txs: TxStats {
                submitted: submitted.len() as u64,
                confirmed,
                rejected,
                tps: if facts.duration_s > 0.0 {
                    confirmed as f64 / facts.duration_s
                } else {
                    0.0
                },
                confirm_latency_s: Percentiles::of(latencies),
            },
            convergence: Convergence {
                converged: live_tips.len() == 1,
                distinct_tips: live_tips.len(),
                tip: best.map(|b| b.hash.to_hex()).unwrap_or_default(),
                height: best.map(|b| b.height).unwrap_or(0),
            },
            invariants: facts.invariants.clone(),
            faults,
            safety,
            connections: Connections::from_events(events),
            events: events.len() as u64,
        }
    }
}

fn safety(
    facts: &RunFacts,
    events: &[TraceRecord],
    on_chain: &HashSet<TxId>,
    max_depth: u64,
) -> Safety {
    let mut violations = Vec::new();
    let mut submitted: Vec<(TxId, NodeId, u64)> = Vec::new();
    let mut rejected = HashSet::new();
    for r in events {
        match &r.event {
            Event::Reorg { depth, .. } if *depth >= facts.k && facts.k > 0 => {
                violations.push(PrefixViolation {
                    node: r.node,
                    depth: *depth,
                    t: r.t_ms as f64 / 1000.0,
                })
            }
            Event::TxSubmitted { txid } => submitted.push((*txid, r.node, r.t_ms)),
            Event::TxRejected { txid, .. } => {
                rejected.insert(*txid);
            }
            _ => {}
        }
    }
    let mut lost = 0;
    let mut lost_crashed = 0;
    let mut pending = 0;
    for (txid, node, t) in submitted {
        if rejected.contains(&txid) || on_chain.contains(&txid) {
            continue;
        }
        if facts.pooled.contains(&txid) {
            pending += 1;
            continue;
        }
        if facts.crashed.iter().any(|(n, at)| *n == node && *at >= t) {
            lost_crashed += 1;
        } else {
            lost += 1;
        }
    }
    let heals = facts
        .faults
        .iter()
        .filter_map(|f| f.convergence_ms.map(secs))
        .collect();
    let restarts = facts
        .faults
        .iter()
        .filter_map(|f| {
            Some(CatchUp {
                node: f.node?,
                catch_up_s: secs(f.catch_up_ms?),
            })
        })
        .collect();
    Safety {
        k: facts.k,
        common_prefix_violations: violations,
        max_reorg_depth: max_depth,
        convergence_s: heals,
        lost_txs: lost,
        pending_txs: pending,
        lost_txs_on_crashed_nodes: lost_crashed,
        restarts,
    }
}

fn fault_reports(
    facts: &RunFacts,
    events: &[TraceRecord],
    chain_pos: &HashMap<Hash, usize>,
) -> Vec<FaultReport> {
    let end_ms = ((facts.duration_s + facts.settle_s) * 1000.0) as u64;
    let starts: Vec<u64> = facts.faults.iter().filter_map(|f| f.at_ms).collect();
    facts
        .faults
        .iter()
        .map(|f| {
            let mut effect = FaultEffect {
                dropped_messages: f.dropped,
                convergence_s: f.convergence_ms.map(secs),
                catch_up_s: f.catch_up_ms.map(secs),
                ..FaultEffect::default()
            };
            if let Some(at) = f.at_ms {
                // The window: while active, or until the next fault fires for instant faults.
                let until = f.until_ms.unwrap_or_else(|| {
                    starts
                        .iter()
                        .copied()
                        .filter(|s| *s > at)
                        .min()
                        .unwrap_or(end_ms)
                });
                for r in events
                    .iter()
                    .filter(|r| r.t_ms >= at && r.t_ms < until.max(at + 1))
                {
                    match &r.event {
                        Event::BlockMined { hash, .. } => {
                            effect.blocks_mined += 1;
                            if !chain_pos.contains_key(hash) {
                                effect.stale += 1;
                            }
                        }
                        Event::Reorg { depth, .. } => {
                            effect.reorgs += 1;
                            effect.max_reorg_depth = effect.max_reorg_depth.max(*depth);
                        }
                        _ => {}
                    }
                }
            }
            FaultReport {
                index: f.index,
                kind: f.kind.clone(),
                node: f.node,
                at_s: secs(f.at_ms),
                until_s: secs(f.until_ms),
                effect,
            }
        })
        .collect()
}

/// Checks one node's chain: state equals a replay from genesis, supply equals genesis plus
/// rewards, no transaction twice on the best chain. Returns (checks run, violations).
pub fn check_chain_invariants(node: NodeId, chain: &ChainState) -> (u64, Vec<String>) {
    let mut v = Vec::new();
    if let Err(e) = chain.verify_replay() {
        v.push(format!(
            "node {node}: state is not a replay of its chain: {e}"
        ));
    }
    let p = chain.params();
    let expected = p.genesis_supply() + u128::from(p.reward) * u128::from(chain.height());
    let supply = chain.state().total_supply();
    if supply != expected {
        v.push(format!(
            "node {node}: supply {supply} != genesis + rewards {expected}"
        ));
    }
    let mut seen = HashSet::new();
    for h in chain.canonical() {
        if let Some(b) = chain.get(h) {
            for id in b.tx_ids() {
                if !seen.insert(id) {
                    v.push(format!(
                        "node {node}: transaction {} twice on the best chain",
                        id.short()
                    ));
                }
            }
        }
    }
    (3, v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_nearest_rank() {
        let p = Percentiles::of((1..=100).map(f64::from).collect());
        assert_eq!((p.p50, p.p90, p.p99), (Some(50.0), Some(90.0), Some(99.0)));
        assert_eq!(Percentiles::of(vec![]).p50, None);
    }

    #[test]
    fn trace_line_has_t_node_event_and_fields() {
        let r = TraceRecord {
            t_ms: 1500,
            node: 3,
            event: Event::BlockImported {
                hash: Hash([1; 32]),
                height: 2,
            },
        };
        let v: serde_json::Value = serde_json::from_str(&r.to_json_line()).unwrap();
        assert_eq!(v["t"], 1.5);
        assert_eq!(v["node"], 3);
        assert_eq!(v["event"], "block_imported");
        assert_eq!(v["height"], 2);
        assert_eq!(v["hash"], Hash([1; 32]).to_hex());
    }

    #[test]
    fn stale_forks_and_propagation_from_events() {
        let g = Hash([0; 32]);
        let a = Hash([1; 32]);
        let b = Hash([2; 32]);
        let mined = |t, h, node| TraceRecord {
            t_ms: t,
            node,
            event: Event::BlockMined {
                hash: h,
                height: 1,
                parent: g,
                miner: node,
                txs: 0,
                difficulty: 1,
            },
        };
        let imp = |t, h, node| TraceRecord {
            t_ms: t,
            node,
            event: Event::BlockImported { hash: h, height: 1 },
        };
        let events = vec![
            mined(1000, a, 0),
            imp(1000, a, 0),
            mined(1100, b, 1),
            imp(1100, b, 1),
            imp(1300, a, 1),
        ];
        let facts = RunFacts {
            seed: 1,
            clock: "virtual".into(),
            nodes: 2,
            duration_s: 10.0,
            settle_s: 1.0,
            wall_s: 0.1,
            finals: vec![
                NodeFinal {
                    id: 0,
                    live: true,
                    tip: a,
                    height: 1,
                    work: 1,
                },
                NodeFinal {
                    id: 1,
                    live: true,
                    tip: a,
                    height: 1,
                    work: 1,
                },
            ],
            chain: vec![
                FinalBlock {
                    hash: g,
                    height: 0,
                    txids: vec![],
                    difficulty: 1,
                },
                FinalBlock {
                    hash: a,
                    height: 1,
                    txids: vec![],
                    difficulty: 1,
                },
            ],
            invariants: Invariants::default(),
            k: 6,
            faults: Vec::new(),
            crashed: Vec::new(),
            pooled: HashSet::new(),
        };
        let r = Report::compute(&facts, &events);
        assert_eq!((r.blocks.mined, r.blocks.stale, r.blocks.forks), (2, 1, 1));
        assert_eq!(r.propagation_s.p50, Some(0.3));
        assert!(r.convergence.converged);
    }
}
