//! The load generator: accounts funded at genesis send signed transfers as a Poisson process
//! to random live nodes, tracking nonces and handling rejections.

use crate::node::messages::SubmitTx;
use crate::recorder::Recorder;
use actix::prelude::*;
use chainlab::config::{Config, WorkloadConfig};
use chainlab::mempool::MempoolError;
use chainlab::report::Event;
use chainlab::NodeId;
use chainlab::{Address, KeyPair, Transaction};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Exp};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Stop submitting.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StopLoad;

/// Point node `id`'s slot at its mempool (None while the node is down).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetTarget {
    /// Node.
    pub id: NodeId,
    /// Its mempool.
    pub target: Option<Recipient<SubmitTx>>,
}

/// See the module doc.
pub struct Workload {
    cfg: WorkloadConfig,
    chain_id: u32,
    keys: Vec<KeyPair>,
    addrs: Vec<Address>,
    next_nonce: Vec<u64>,
    in_flight: Vec<bool>,
    targets: Vec<Option<Recipient<SubmitTx>>>,
    rng: ChaCha8Rng,
    recorder: Recorder,
    running: bool,
    next_at: Option<Instant>,
}

impl Workload {
    /// A generator over `targets` (one slot per node).
    pub fn new(
        cfg: &Config,
        targets: Vec<Option<Recipient<SubmitTx>>>,
        rng: ChaCha8Rng,
        recorder: Recorder,
    ) -> Workload {
        let n = if cfg.workload.tx_rate > 0.0 {
            cfg.workload.accounts
        } else {
            0
        };
        let keys: Vec<KeyPair> = (0..n).map(Config::account_key).collect();
        let addrs = keys.iter().map(KeyPair::address).collect();
        Workload {
            cfg: cfg.workload.clone(),
            chain_id: cfg.consensus.chain_id,
            next_nonce: vec![0; n],
            in_flight: vec![false; n],
            keys,
            addrs,
            targets,
            rng,
            recorder,
            running: true,
            next_at: None,
        }
    }

    /// Keeps only the sending accounts whose index passes `keep` (processes of one network
    /// split the accounts, so that two never use one account's nonces).
    pub fn senders_only(mut self, keep: impl Fn(usize) -> bool) -> Workload {
        let idx: Vec<usize> = (0..self.keys.len()).filter(|i| keep(*i)).collect();
        self.keys = idx.iter().map(|i| self.keys[*i].clone()).collect();
        self.addrs = idx.iter().map(|i| self.addrs[*i]).collect();
        self.next_nonce = vec![0; idx.len()];
        self.in_flight = vec![false; idx.len()];
        self
    }

    fn gap(&mut self) -> Duration {
        let secs = Exp::new(self.cfg.tx_rate)
            .map(|e| e.sample(&mut self.rng))
            .unwrap_or(1.0);
        Duration::from_nanos((secs * 1e9) as u64)
    }

    /// Arrival times form a Poisson process; each wake-up submits every arrival that is due
    /// (timers have 1 ms granularity, so at high rates one wake-up serves several arrivals).
    fn schedule(&mut self, ctx: &mut Context<Self>) {
        if !self.running || self.cfg.tx_rate <= 0.0 || self.keys.len() < 2 {
            return;
        }
        let now = Instant::now();
        let next = match self.next_at {
            Some(t) => t,
            None => now + self.gap(),
        };
        self.next_at = Some(next);
        ctx.run_later(next.saturating_duration_since(now), |act, ctx| {
            if !act.running {
                return;
            }
            let now = Instant::now();
            while let Some(t) = act.next_at.filter(|t| *t <= now) {
                act.submit_one(ctx);
                act.next_at = Some(t + act.gap());
            }
            act.schedule(ctx);
        });
    }

    fn submit_one(&mut self, ctx: &mut Context<Self>) {
        let n = self.keys.len();
        let from = self.rng.gen_range(0..n);
        let mut to = self.rng.gen_range(0..n - 1);
        if to >= from {
            to += 1;
        }
        let amount = self.rng.gen_range(1..=self.cfg.max_amount);
        let fee = self.rng.gen_range(self.cfg.min_fee..=self.cfg.max_fee);
        let live: Vec<NodeId> = (0..self.targets.len())
            .filter(|i| self.targets[*i].is_some())
            .collect();
        if live.is_empty() || self.in_flight[from] {
            return;
        }
        let node = live[self.rng.gen_range(0..live.len())];
        let Some(target) = self.targets[node].clone() else {
            return;
        };
        let tx = Transaction::new_signed(
            &self.keys[from],
            self.chain_id,
            self.addrs[to],
            amount,
            fee,
            self.next_nonce[from],
        );
        let txid = tx.id();
        self.recorder.record(node, Event::TxSubmitted { txid });
        self.in_flight[from] = true;
        let fut = target.send(SubmitTx {
            tx: Arc::new(tx),
            id: Some(txid),
            from: None,
        });
        ctx.spawn(fut.into_actor(self).map(move |res, act, _| {
            act.in_flight[from] = false;
            let reason = match res {
                Ok(Ok(_)) => {
                    act.next_nonce[from] += 1;
                    return;
                }
                Ok(Err(e)) => {
                    // The node's view of the account tells where to continue: below it the
                    // nonce is used; far above it an earlier transaction was lost (say, with
                    // a crashed node), so the account starts again from the node's view.
                    if let MempoolError::NonceTooLow { next, .. }
                    | MempoolError::NonceGap { next, .. } = e
                    {
                        act.next_nonce[from] = next;
                    }
                    e.to_string()
                }
                Err(e) => format!("node unreachable: {e}"),
            };
            act.recorder
                .record(node, Event::TxRejected { txid, reason });
        }));
    }
}

impl Actor for Workload {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        self.schedule(ctx);
    }
}

impl Handler<StopLoad> for Workload {
    type Result = ();
    fn handle(&mut self, _: StopLoad, _: &mut Context<Self>) {
        self.running = false;
    }
}

impl Handler<SetTarget> for Workload {
    type Result = ();
    fn handle(&mut self, m: SetTarget, _: &mut Context<Self>) {
        if m.id < self.targets.len() {
            self.targets[m.id] = m.target;
        }
    }
}
