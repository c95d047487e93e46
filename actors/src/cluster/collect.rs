//! The end of a run: every node's final view, the best chain, the pooled transactions, the
//! network and TCP counters, gathered into the report, and the scenario's expectations checked
//! against it; then the nodes stop and the stores flush.

use super::{Cluster, ClusterError, RunOutput};
use crate::node::messages::GetChainSummary;
use crate::node::messages::{GetPoolIds, GetViews};
use crate::transport::memory::{GetNetStats, NetStats};
use chainlab::config::ClockMode;
use chainlab::consensus::Engine;
use chainlab::report::{
    AdversarySpec, Event, FinalBlock, FrontrunWatch, Invariants, NodeFinal, PosFacts, Report,
    RunFacts,
};
use chainlab::{Hash, NodeId, TxId};
use std::collections::HashSet;

impl Cluster {
    /// Collects the nodes' final views and computes the report; flushes and stops the nodes.
    ///
    /// # Errors
    /// When a node does not answer.
    pub async fn finish(mut self) -> Result<RunOutput, ClusterError> {
        self.reap_failures();
        for id in self.faults.paused.clone() {
            self.pause(id, false);
        }
        let (finals, invariants, best, side_blocks) = self.finals().await?;
        let chain = self.best_chain(best).await?;
        let views = self.views(best).await?;
        let pools = self.pooled().await?;
        let competing = self.competing(&finals, &chain).await?;
        let net = self.net.send(GetNetStats).await.unwrap_or_default();
        let tcp = self.tcp.infos().await;
        self.record_drops(&net);
        // The trace ends here, before anything is told to stop: nodes on other arbiters
        // (real clock) handle their stop at once, and their stop events (a TCP endpoint's
        // "this node stopped") must not race into the trace.
        let events = self.factory.recorder.take_events();
        self.tcp.stop_all();
        for h in self.live_nodes() {
            h.stop();
        }
        self.stores.flush()?;
        let mut facts = self.facts(finals, chain.clone(), invariants);
        (facts.pooled, facts.gapped) = (pools.ready, pools.gapped);
        (facts.refused_full, facts.pool_peak) = (pools.refused_full, pools.peak);
        facts.competing = competing;
        facts.views = views;
        facts.side_blocks = side_blocks;
        let mut report = Report::compute(&facts, &events);
        report.check(&self.cfg.expect.checks);
        Ok(RunOutput {
            report,
            events,
            net,
            sig_cache: self
                .factory
                .chain
                .sig_cache
                .as_ref()
                .map(|c| c.stats())
                .unwrap_or_default(),
            data_dir: self.stores.kept_dir(),
            final_chain: chain,
            tcp,
            node_threads: self.threads.clone(),
        })
    }

    /// Every node's tip (zero for a node that is down), the invariant checks, and the live
    /// node with the most work (the first one on a tie).
    #[allow(clippy::type_complexity)]
    async fn finals(
        &self,
    ) -> Result<
        (
            Vec<NodeFinal>,
            Invariants,
            Option<NodeId>,
            Vec<(NodeId, usize)>,
        ),
        ClusterError,
    > {
        let mut side_blocks = Vec::new();
        let mut finals = Vec::new();
        let mut invariants = Invariants::default();
        let mut best: Option<(u128, NodeId)> = None;
        for (id, slot) in self.nodes.iter().enumerate() {
            let down = NodeFinal {
                id,
                live: false,
                tip: Hash::ZERO,
                height: 0,
                work: 0,
            };
            let Some(h) = slot else {
                finals.push(down);
                continue;
            };
            let s = match h.chain.send(GetChainSummary { with_chain: false }).await {
                Ok(s) => s,
                // It failed meanwhile (its store refused a write): down.
                Err(_) if !h.life.is_alive() => {
                    finals.push(down);
                    continue;
                }
                Err(_) => return Err(ClusterError::Unresponsive(id)),
            };
            side_blocks.push((id, s.side_blocks));
            invariants.checked += s.checked;
            invariants.violations.extend(s.violations);
            if best.is_none_or(|(w, _)| s.work > w) {
                best = Some((s.work, id));
            }
            finals.push(NodeFinal {
                id,
                live: true,
                tip: s.tip,
                height: s.height,
                work: s.work,
            });
        }
        Ok((finals, invariants, best.map(|(_, id)| id), side_blocks))
    }

    /// The scenario's `[[views]]` evaluated on node `best`'s final state.
    async fn views(
        &self,
        best: Option<NodeId>,
    ) -> Result<Vec<(String, Result<Vec<u8>, String>)>, ClusterError> {
        if self.views.is_empty() {
            return Ok(Vec::new());
        }
        let Some(h) = best.and_then(|id| self.nodes[id].clone()) else {
            let down = "no node runs at the end".to_string();
            return Ok(self
                .views
                .iter()
                .map(|v| (v.name.clone(), Err(down.clone())))
                .collect());
        };
        h.executor
            .send(GetViews {
                views: self.views.clone(),
            })
            .await
            .map_err(|_| ClusterError::Unresponsive(h.id))
    }

    /// Node `best`'s chain, genesis first (empty when no node runs).
    async fn best_chain(&self, best: Option<NodeId>) -> Result<Vec<FinalBlock>, ClusterError> {
        Ok(match best.and_then(|id| self.nodes[id].clone()) {
            Some(h) => {
                h.chain
                    .send(GetChainSummary { with_chain: true })
                    .await
                    .map_err(|_| ClusterError::Unresponsive(h.id))?
                    .chain
            }
            None => Vec::new(),
        })
    }

    /// The transactions still in a live node's pool: those ready to be mined at some node,
    /// and those only behind a nonce gap wherever they are pooled.
    async fn pooled(&self) -> Result<Pooled, ClusterError> {
        let mut ready = HashSet::new();
        let mut gapped = HashSet::new();
        let (mut refused_full, mut peak) = (0, 0);
        for h in self.live_nodes() {
            let ids = match h.mempool.send(GetPoolIds).await {
                Ok(ids) => ids,
                Err(_) if !h.life.is_alive() => continue,
                Err(_) => return Err(ClusterError::Unresponsive(h.id)),
            };
            refused_full += ids.refused_full;
            peak = peak.max(ids.peak as u64);
            let behind: HashSet<TxId> = ids.gapped.into_iter().collect();
            for id in ids.all {
                if behind.contains(&id) {
                    gapped.insert(id);
                } else {
                    ready.insert(id);
                }
            }
        }
        gapped.retain(|id| !ready.contains(id));
        Ok(Pooled {
            ready,
            gapped,
            refused_full,
            peak,
        })
    }

    /// Transactions on the best chain of a live node whose tip is not the final one, and not
    /// on the final chain (one node asked per distinct tip).
    async fn competing(
        &self,
        finals: &[NodeFinal],
        chain: &[FinalBlock],
    ) -> Result<HashSet<TxId>, ClusterError> {
        let on_final: HashSet<Hash> = chain.iter().map(|b| b.hash).collect();
        let mut asked = HashSet::new();
        let mut txs = HashSet::new();
        for f in finals
            .iter()
            .filter(|f| f.live && !on_final.contains(&f.tip))
        {
            let Some(h) = self.nodes[f.id].as_ref().filter(|_| asked.insert(f.tip)) else {
                continue;
            };
            let other = match h.chain.send(GetChainSummary { with_chain: true }).await {
                Ok(s) => s.chain,
                // It failed meanwhile (its store refused a write): its chain is gone with it.
                Err(_) if !h.life.is_alive() => continue,
                Err(_) => return Err(ClusterError::Unresponsive(h.id)),
            };
            for b in other.iter().filter(|b| !on_final.contains(&b.hash)) {
                txs.extend(b.txids.iter().copied());
            }
        }
        Ok(txs)
    }

    /// Traces the network's drops per link and kind, and counts each link rule's drops in its
    /// fault's report entry.
    fn record_drops(&mut self, net: &NetStats) {
        for ((from, to, kind), count) in &net.dropped {
            self.factory.recorder.record(
                *from,
                Event::MessageDropped {
                    to: *to,
                    kind: *kind,
                    count: *count,
                },
            );
        }
        for r in &mut self.faults.records {
            if let Some(d) = r.dropped.as_mut() {
                *d = net
                    .dropped_by_rule
                    .get(&(r.index as u64))
                    .copied()
                    .unwrap_or(0);
            }
        }
    }

    fn facts(
        &self,
        finals: Vec<NodeFinal>,
        chain: Vec<FinalBlock>,
        invariants: Invariants,
    ) -> RunFacts {
        let c = &self.cfg.cluster;
        RunFacts {
            seed: c.seed,
            clock: match c.clock {
                ClockMode::Virtual => "virtual".into(),
                ClockMode::Real => "real".into(),
            },
            nodes: c.nodes,
            duration_s: c.duration.as_secs_f64(),
            settle_s: c.settle.as_secs_f64(),
            wall_s: 0.0,
            finals,
            chain,
            invariants,
            k: self.cfg.safety.k,
            faults: self.faults.records.clone(),
            crashed: self.faults.crashed.clone(),
            pos: PosFacts::of(&self.cfg, self.timeline.chain_offset_ms()),
            contract_names: self.contract_names.clone(),
            frontrun: self.frontrun.as_ref().map(|(_, f)| FrontrunWatch {
                contract: f.contract(),
                method: f.method().to_string(),
            }),
            adversaries: self.adversary_specs(),
            baseline: self.baseline.clone(),
            ..RunFacts::default()
        }
    }

    /// The `[[adversary]]` entries as the run gave them (their hash shares as mined by).
    fn adversary_specs(&self) -> Vec<AdversarySpec> {
        let shares = crate::node::producer_shares(&self.cfg);
        self.cfg
            .adversary
            .iter()
            .map(|a| AdversarySpec {
                kind: a.kind.name().to_string(),
                nodes: a.nodes.clone(),
                hashpower: a.nodes.iter().filter_map(|n| shares.get(*n)).sum(),
                gamma: a.gamma,
                merchant: None,
                confirmations: None,
                give_up: None,
                // Proof of work only (validated: adversaries attack proof of work).
                timewarp: match (a.kind, self.cfg.engine()) {
                    (chainlab::config::AdversaryKind::Timewarp, Engine::Pow(pow)) => {
                        Some(chainlab::adversary::timewarp::WarpRules {
                            pow,
                            max_future_ms: self.cfg.consensus.max_future_drift.as_millis() as u64,
                        })
                    }
                    _ => None,
                },
                eclipse: None,
            })
            .map(|mut spec| {
                if let Some(p) = spec.nodes.first().and_then(|n| self.cfg.eclipse(*n)) {
                    spec.eclipse = Some(chainlab::report::EclipseSpec {
                        victim: p.victim,
                        mode: p.mode.name().to_string(),
                        delay_ms: p.delay_ms,
                        confirmations: (p.mode == chainlab::config::EclipseMode::Branch)
                            .then_some(p.confirmations),
                        window_ms: self.cfg.cluster.duration.as_millis() as u64,
                        block_interval_ms: self.cfg.consensus.block_interval.as_millis() as u64,
                    });
                }
                if let Some(p) = spec.nodes.first().and_then(|n| self.cfg.double_spend(*n)) {
                    spec.merchant = Some(p.merchant);
                    spec.confirmations = Some(p.confirmations);
                    spec.give_up = Some(p.give_up);
                }
                spec
            })
            .collect()
    }
}

/// What the live nodes' pools held at the end, and their refusals.
struct Pooled {
    /// Ready in some live pool.
    ready: HashSet<TxId>,
    /// Pooled only behind a nonce gap.
    gapped: HashSet<TxId>,
    /// Arrivals refused by a full pool, summed.
    refused_full: u64,
    /// The largest pool any live node held.
    peak: u64,
}
