//! The TCP plan: which links run over TCP, where each TCP node listens (the same port across
//! restarts), which keys may connect, and each node's running endpoint. An in-process
//! cluster's nodes keep the keys derived from the seed ([`node_key`]) so that runs are
//! reproducible; those keys are always allowed, with their node ids, besides
//! `tcp.peers_allowed`.

use super::{Cluster, ClusterError};
use crate::node::{NodeError, NodeHandle};
use crate::transport::memory::{RegisterTcp, TcpLinks};
use crate::transport::tcp::{DialTarget, GetTcpInfo, StopTcp, TcpInfo, TcpNode, TcpSetup};
use crate::transport::PeerLink;
use actix::prelude::*;
use chainlab::config::{Config, TransportKind};
use chainlab::net::{node_key, AllowedPeers};
use chainlab::sim::model::{stream, TopologyError};
use chainlab::NodeId;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Which links are TCP, where each TCP node listens, and the running endpoints.
#[derive(Default)]
pub(super) struct TcpPlan {
    pub(super) links: TcpLinks,
    /// Listening address per node (None: no TCP link).
    addrs: Vec<Option<std::net::SocketAddr>>,
    /// Listeners bound at start and held for the whole run: each endpoint gets a duplicate,
    /// so a node restarted (or wiped) while its old endpoint is still closing finds its port
    /// bound. While a node is down its port still accepts into the backlog: dialers time out
    /// in the handshake instead of being refused.
    bound: Vec<Option<std::net::TcpListener>>,
    /// Endpoints started per node (mixed into the challenge stream, so a restarted node never
    /// repeats its challenges).
    generation: Vec<u64>,
    endpoints: Vec<Option<Addr<TcpNode>>>,
    /// `tcp.peers_allowed` and the cluster's own keys.
    allowed: Arc<AllowedPeers>,
}

impl TcpPlan {
    /// Chooses the TCP links and binds a listener for every node on one.
    pub(super) fn new(cfg: &Config, adj: &[Vec<NodeId>]) -> Result<TcpPlan, ClusterError> {
        let n = adj.len();
        let links = match cfg.network.transport {
            TransportKind::Memory => return Ok(TcpPlan::default()),
            TransportKind::Tcp => TcpLinks::All,
            TransportKind::Mixed if !cfg.network.tcp_links.is_empty() => {
                let mut set = BTreeSet::new();
                for [a, b] in &cfg.network.tcp_links {
                    if !adj[*a].contains(b) {
                        return Err(ClusterError::Topology(TopologyError(format!(
                            "network.tcp_links: [{a}, {b}] is not a link of the topology"
                        ))));
                    }
                    set.insert(((*a).min(*b), (*a).max(*b)));
                }
                TcpLinks::Some(set)
            }
            TransportKind::Mixed => {
                use rand::Rng;
                let mut rng = stream(cfg.cluster.seed, "tcp-links", 0);
                let mut set = BTreeSet::new();
                for (a, ns) in adj.iter().enumerate() {
                    for &b in ns.iter().filter(|b| **b > a) {
                        if rng.gen::<f64>() < cfg.network.tcp_share {
                            set.insert((a, b));
                        }
                    }
                }
                TcpLinks::Some(set)
            }
        };
        let allowed = cfg
            .tcp
            .peers_allowed
            .policy()
            .map_err(|(key, reason)| ClusterError::Runtime(format!("{key}: {reason}")))?
            .with_cluster_keys(cfg.cluster.seed, n);
        let mut plan = TcpPlan {
            allowed: Arc::new(allowed),
            addrs: vec![None; n],
            bound: (0..n).map(|_| None).collect(),
            generation: vec![0; n],
            endpoints: vec![None; n],
            links,
        };
        for (a, ns) in adj.iter().enumerate() {
            if !ns.iter().any(|b| plan.links.contains(a, *b)) {
                continue;
            }
            let host: std::net::IpAddr = cfg
                .tcp
                .listen_host
                .parse()
                .map_err(|_| ClusterError::Runtime("tcp.listen_host is not an IP".into()))?;
            let l = std::net::TcpListener::bind((host, 0)).map_err(|e| {
                ClusterError::Node(NodeError::Listen {
                    node: a,
                    addr: format!("{host}:0"),
                    reason: e.to_string(),
                })
            })?;
            plan.addrs[a] =
                Some(l.local_addr().map_err(|e| {
                    ClusterError::Runtime(format!("node {a}: listener address: {e}"))
                })?);
            plan.bound[a] = Some(l);
        }
        Ok(plan)
    }

    /// Each running endpoint's connections and counters.
    pub(super) async fn infos(&self) -> BTreeMap<NodeId, TcpInfo> {
        let mut tcp = BTreeMap::new();
        for (id, e) in self.endpoints.iter().enumerate() {
            if let Some(e) = e {
                if let Ok(info) = e.send(GetTcpInfo).await {
                    tcp.insert(id, info);
                }
            }
        }
        tcp
    }

    /// Stops every running endpoint.
    pub(super) fn stop_all(&self) {
        for e in self.endpoints.iter().flatten() {
            e.do_send(StopTcp);
        }
    }
}

impl Cluster {
    /// Starts node `id`'s TCP endpoint (when it has TCP links): the same address each time.
    pub(super) fn spawn_tcp(&mut self, h: &NodeHandle) -> Result<(), NodeError> {
        let id = h.id;
        let Some(addr) = self.tcp.addrs.get(id).copied().flatten() else {
            return Ok(());
        };
        let listen_err = |e: std::io::Error| NodeError::Listen {
            node: id,
            addr: addr.to_string(),
            reason: e.to_string(),
        };
        let listener = match &self.tcp.bound[id] {
            Some(l) => l.try_clone().map_err(listen_err)?,
            None => std::net::TcpListener::bind(addr).map_err(listen_err)?,
        };
        self.tcp.generation[id] += 1;
        let generation = self.tcp.generation[id];
        // The lower id of each TCP link dials.
        let dial = self.adj[id]
            .iter()
            .filter(|j| **j > id && self.tcp.links.contains(id, **j))
            .filter_map(|j| {
                Some(DialTarget {
                    addr: self.tcp.addrs[*j]?,
                    peer: Some(*j),
                })
            })
            .collect();
        let seed = self.cfg.cluster.seed;
        let key = node_key(seed, id as u32);
        let setup = TcpSetup {
            id,
            rules: chainlab::net::HandshakeRules {
                chain_id: self.cfg.consensus.chain_id,
                genesis: self.factory.chain.genesis.0.hash(),
                node: id as u32,
                key: key.public,
                allowed: self.tcp.allowed.clone(),
            },
            key,
            cfg: self.cfg.tcp.clone(),
            listener,
            dial,
            inbox: h.peer.clone().recipient(),
            links: h.peer.clone().recipient::<PeerLink>(),
            recorder: self.factory.recorder.clone(),
            rng: stream(seed, "tcp", id as u64 | generation << 32),
        };
        // On the node's arbiter, with its actors (the listener joins that thread's runtime).
        let endpoint = self
            .arbiters
            .run_for(id, move || TcpNode::new(setup).map(Actor::start))
            .ok_or(NodeError::ArbiterGone { node: id })?
            .map_err(listen_err)?;
        self.net.do_send(RegisterTcp {
            id,
            endpoint: Some(endpoint.clone()),
        });
        self.tcp.endpoints[id] = Some(endpoint);
        Ok(())
    }

    /// Stops node `id`'s TCP endpoint, if it runs.
    pub(super) fn stop_tcp(&mut self, id: NodeId) {
        if let Some(e) = self.tcp.endpoints.get_mut(id).and_then(Option::take) {
            self.net.do_send(RegisterTcp { id, endpoint: None });
            e.do_send(StopTcp);
        }
    }

    /// Node `id`'s TCP listening address (None when it has no TCP link).
    pub fn tcp_addr(&self, id: NodeId) -> Option<std::net::SocketAddr> {
        self.tcp.addrs.get(id).copied().flatten()
    }

    /// Node `id`'s TCP connections and counters (None when it has no running endpoint).
    pub async fn tcp_info(&self, id: NodeId) -> Option<TcpInfo> {
        let e = self.tcp.endpoints.get(id)?.as_ref()?;
        e.send(GetTcpInfo).await.ok()
    }
}
