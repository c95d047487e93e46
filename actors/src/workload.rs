//! The load generator: accounts funded at genesis send signed transfers as a Poisson process
//! to random live nodes, tracking nonces and handling rejections. What it will likely send
//! next is signed and verified ahead on a worker thread ([`ahead`]).

mod ahead;
#[cfg(test)]
mod tests;

use crate::node::messages::SubmitTx;
use crate::recorder::Recorder;
use actix::prelude::*;
use ahead::{Ahead, CallSpec, Job, TxMaker, DEPTH};
use chainlab::config::{Config, WorkloadConfig};
use chainlab::mempool::MempoolError;
use chainlab::report::{Event, TxRejectedEvent};
use chainlab::NodeId;
use chainlab::{Address, KeyPair, SigCache};
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
    keys: Arc<Vec<KeyPair>>,
    addrs: Arc<Vec<Address>>,
    next_nonce: Vec<u64>,
    in_flight: Vec<bool>,
    targets: Vec<Option<Recipient<SubmitTx>>>,
    rng: ChaCha8Rng,
    recorder: Recorder,
    running: bool,
    next_at: Option<Instant>,
    /// Makes the transactions (what a contract call calls, if the load makes calls).
    maker: Arc<TxMaker>,
    /// The process's verification cache, for the work done ahead.
    sig_cache: Option<Arc<SigCache>>,
    ahead: Option<Ahead>,
    /// The arrival the worker was last asked about.
    asked_for: Option<Instant>,
    /// What the worker was asked for lately, each with the number of arrivals sent when it
    /// was first asked.
    asked: std::collections::VecDeque<(Job, u64)>,
    /// (arrivals sent, of which asked for at least `DEPTH / 2` arrivals earlier): how well
    /// the generator reads ahead; deterministic, unlike what the worker got done in time.
    predicted: (u64, u64),
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
        let addrs = Arc::new(keys.iter().map(KeyPair::address).collect());
        let call = (cfg.workload.contract_calls > 0.0).then(|| CallSpec {
            name: cfg.workload.contract.clone(),
            address: cfg.workload_contract_address(),
            gas: cfg.workload.call_gas,
        });
        let keys = Arc::new(keys);
        let maker = Arc::new(TxMaker {
            keys: keys.clone(),
            addrs: Arc::clone(&addrs),
            chain_id: cfg.consensus.chain_id,
            call,
        });
        Workload {
            maker,
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
            sig_cache: None,
            ahead: None,
            asked_for: None,
            asked: std::collections::VecDeque::new(),
            predicted: (0, 0),
        }
    }

    /// Verifies what it signs ahead into `cache`, the one the process's nodes share.
    pub fn with_sig_cache(mut self, cache: Option<Arc<SigCache>>) -> Workload {
        self.sig_cache = cache;
        self
    }

    /// Keeps only the sending accounts whose index passes `keep` (processes of one network
    /// split the accounts, so that two never use one account's nonces).
    pub fn senders_only(mut self, keep: impl Fn(usize) -> bool) -> Workload {
        let idx: Vec<usize> = (0..self.keys.len()).filter(|i| keep(*i)).collect();
        self.keys = Arc::new(idx.iter().map(|i| self.keys[*i].clone()).collect());
        self.addrs = Arc::new(idx.iter().map(|i| self.addrs[*i]).collect());
        self.next_nonce = vec![0; idx.len()];
        self.in_flight = vec![false; idx.len()];
        self.maker = Arc::new(TxMaker {
            keys: self.keys.clone(),
            addrs: self.addrs.clone(),
            chain_id: self.chain_id,
            call: self.maker.call.clone(),
        });
        self
    }

    fn gap(&mut self) -> Duration {
        gap(&self.cfg, &mut self.rng)
    }

    /// Asks the worker for the transactions of the next arrivals, as they would be if every
    /// account's pending submission succeeds and every node stays as it is: read off a copy
    /// of the random stream, which the real arrivals then read the same way.
    fn ask_ahead(&mut self) {
        let (Some(ahead), Some(next)) = (&self.ahead, self.next_at) else {
            return;
        };
        if self.asked_for == Some(next) {
            return;
        }
        self.asked_for = Some(next);
        let live = self.targets.iter().filter(|t| t.is_some()).count();
        let mut rng = self.rng.clone();
        let mut jobs: Vec<Job> = Vec::with_capacity(DEPTH);
        for _ in 0..DEPTH {
            let (from, to, amount, fee, call) = draw(&self.cfg, self.keys.len(), &mut rng);
            let earlier = jobs.iter().filter(|j| j.from == from).count() as u64;
            let nonce = self.next_nonce[from] + u64::from(self.in_flight[from]) + earlier;
            jobs.push(Job {
                from,
                to,
                amount,
                fee,
                nonce,
                call,
            });
            if live == 0 {
                break;
            }
            let _node = rng.gen_range(0..live);
            let _ = gap(&self.cfg, &mut rng);
        }
        for j in &jobs {
            if !self.asked.iter().any(|(a, _)| a == j) {
                self.asked.push_back((*j, self.predicted.0));
            }
        }
        while self.asked.len() > 4 * DEPTH {
            self.asked.pop_front();
        }
        ahead.request(jobs);
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
        self.ask_ahead();
    }

    fn submit_one(&mut self, ctx: &mut Context<Self>) {
        let (from, to, amount, fee, call) = draw(&self.cfg, self.keys.len(), &mut self.rng);
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
        let job = Job {
            from,
            to,
            amount,
            fee,
            nonce: self.next_nonce[from],
            call,
        };
        if let Some((_, at)) = self.asked.iter().find(|(a, _)| *a == job) {
            if self.predicted.0 - at >= (DEPTH / 2) as u64 {
                self.predicted.1 += 1;
            }
        }
        self.predicted.0 += 1;
        let Some(tx) = self
            .ahead
            .as_mut()
            .and_then(|a| a.take(&job))
            .or_else(|| self.maker.make(&job))
        else {
            return;
        };
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
            act.recorder.record(
                node,
                Event::TxRejected(Box::new(TxRejectedEvent { txid, reason })),
            );
        }));
    }
}

/// The time to the next arrival (exponential, for a Poisson process).
fn gap(cfg: &WorkloadConfig, rng: &mut ChaCha8Rng) -> Duration {
    let secs = Exp::new(cfg.tx_rate).map(|e| e.sample(rng)).unwrap_or(1.0);
    Duration::from_nanos((secs * 1e9) as u64)
}

/// An arrival's sender, receiver (another account), amount and fee, out of `n` accounts, and
/// whether it calls the workload's contract (drawn only when `contract_calls` > 0, so a load
/// without calls reads the stream as before).
fn draw(cfg: &WorkloadConfig, n: usize, rng: &mut ChaCha8Rng) -> (usize, usize, u64, u64, bool) {
    let from = rng.gen_range(0..n);
    let mut to = rng.gen_range(0..n - 1);
    if to >= from {
        to += 1;
    }
    let amount = rng.gen_range(1..=cfg.max_amount);
    let fee = rng.gen_range(cfg.min_fee..=cfg.max_fee);
    let call = cfg.contract_calls > 0.0 && rng.gen_bool(cfg.contract_calls.min(1.0));
    (from, to, amount, fee, call)
}

impl Actor for Workload {
    type Context = Context<Self>;
    fn started(&mut self, ctx: &mut Context<Self>) {
        if self.running && self.cfg.tx_rate > 0.0 && self.keys.len() >= 2 {
            self.ahead = Ahead::spawn(self.maker.clone(), self.sig_cache.clone());
        }
        self.schedule(ctx);
    }
}

impl Handler<StopLoad> for Workload {
    type Result = ();
    fn handle(&mut self, _: StopLoad, _: &mut Context<Self>) {
        self.running = false;
    }
}

/// How many transactions were sent, and how many of them the worker was asked for at least
/// `DEPTH / 2` arrivals ahead.
#[derive(Message)]
#[rtype(result = "(u64, u64)")]
pub struct GetPredicted;

impl Handler<GetPredicted> for Workload {
    type Result = MessageResult<GetPredicted>;
    fn handle(&mut self, _: GetPredicted, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.predicted)
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
