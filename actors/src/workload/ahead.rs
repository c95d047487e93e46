//! The load generator's transactions signed and verified ahead, on a worker thread.
//!
//! The virtual-clock runtime runs every actor on one thread; the machine has more cores. The
//! generator knows what it will most likely send next (its random stream can be read ahead on
//! a copy, and an account's next nonce is known), so a worker thread signs those transactions
//! and verifies their signatures into the process's [`SigCache`] ([`SigCache::preverify`])
//! while the simulation runs on. When the generator's turn comes, it takes the signed
//! transaction if the worker made exactly that one, and signs it itself otherwise; the node that
//! admits it finds the verification done, or does it itself.
//!
//! Nothing the simulation decides can depend on the worker: signing is deterministic (RFC 6979),
//! so a transaction is the same bytes whoever signed it, and the cache answers and counts the
//! same whether the work was done ahead or not. Only the wall time changes.

use chainlab::contract::examples;
use chainlab::tx::Call;
use chainlab::{Address, KeyPair, SigCache, Transaction};
use std::collections::VecDeque;
use std::sync::mpsc;
use std::sync::Arc;

/// One transaction the generator expects to send: indices into its accounts, and the fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Job {
    pub from: usize,
    pub to: usize,
    pub amount: u64,
    pub fee: u64,
    pub nonce: u64,
    /// A call of the workload's contract rather than a transfer.
    pub call: bool,
}

/// What the load generator calls (`[workload] contract`).
#[derive(Clone, Debug)]
pub(super) struct CallSpec {
    /// The example's name.
    pub name: String,
    /// Where it is deployed.
    pub address: Address,
    /// Gas each call attaches.
    pub gas: u64,
}

/// Turns a [`Job`] into its signed transaction: one function for the generator and the worker,
/// so both make the same bytes.
pub(super) struct TxMaker {
    pub keys: Arc<Vec<KeyPair>>,
    pub addrs: Arc<Vec<Address>>,
    pub chain_id: u32,
    pub call: Option<CallSpec>,
}

impl TxMaker {
    /// The transaction `job` describes (`None` for an index out of range).
    pub(super) fn make(&self, job: &Job) -> Option<Transaction> {
        let (key, to) = (self.keys.get(job.from)?, self.addrs.get(job.to)?);
        let (chain_id, fee, nonce) = (self.chain_id, job.fee, job.nonce);
        if let (true, Some(spec)) = (job.call, &self.call) {
            let (method, args) = examples::workload_call(&spec.name, to, job.amount)?;
            let call = Call {
                method: method.into(),
                args,
                gas: spec.gas,
            };
            return Some(Transaction::new_call(
                key,
                chain_id,
                spec.address,
                call,
                0,
                fee,
                nonce,
            ));
        }
        Some(Transaction::new_signed(
            key, chain_id, *to, job.amount, fee, nonce,
        ))
    }
}

/// How many arrivals ahead the generator asks for. Between two arrivals the simulation may
/// have little to do, less than a signature and its verification take; asking further ahead
/// lets the worker use the busy stretches (default demo: 2 ahead, 60% of the transactions
/// were ready when needed; 8 ahead, 93%; 16 ahead, 97%).
pub(super) const DEPTH: usize = 16;

/// Results kept for the generator to take, and jobs the worker remembers as done: room for
/// several requests, which overlap.
const READY_CAPACITY: usize = 4 * DEPTH;

/// The generator's end of the worker (see the module doc). Dropping it stops the worker.
pub(super) struct Ahead {
    jobs: mpsc::Sender<Vec<Job>>,
    done: mpsc::Receiver<(Job, Transaction)>,
    ready: VecDeque<(Job, Transaction)>,
    /// (taken from the worker, signed by the generator itself): wall-clock dependent, logged
    /// at debug level when the generator ends, never reported.
    taken: (u64, u64),
}

impl Ahead {
    /// Starts a worker for these accounts (None when no thread can be started: the generator
    /// then signs everything itself).
    pub(super) fn spawn(maker: Arc<TxMaker>, cache: Option<Arc<SigCache>>) -> Option<Ahead> {
        let (jobs, job_rx) = mpsc::channel::<Vec<Job>>();
        let (done_tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("workload-ahead".into())
            .spawn(move || work(&job_rx, &done_tx, &maker, cache.as_deref()))
            .ok()?;
        Some(Ahead {
            jobs,
            done,
            ready: VecDeque::new(),
            taken: (0, 0),
        })
    }

    /// Asks for these transactions, the likeliest first (replacing any older request the
    /// worker has not started).
    pub(super) fn request(&self, jobs: Vec<Job>) {
        let _ = self.jobs.send(jobs);
    }

    /// The transaction `job` describes, if the worker has signed it already.
    pub(super) fn take(&mut self, job: &Job) -> Option<Transaction> {
        while let Ok(r) = self.done.try_recv() {
            self.ready.push_back(r);
            if self.ready.len() > READY_CAPACITY {
                self.ready.pop_front();
            }
        }
        let found = self
            .ready
            .iter()
            .position(|(j, _)| j == job)
            .and_then(|i| self.ready.remove(i))
            .map(|(_, tx)| tx);
        if found.is_some() {
            self.taken.0 += 1;
        } else {
            self.taken.1 += 1;
        }
        found
    }
}

impl Drop for Ahead {
    fn drop(&mut self) {
        let (taken, signed_here) = self.taken;
        tracing::debug!(taken, signed_here, "transactions signed ahead");
    }
}

/// The worker: for the newest request, signs each job not done lately, verifies it into the
/// cache, and hands it back; ends when the generator drops its end.
fn work(
    jobs: &mpsc::Receiver<Vec<Job>>,
    done: &mpsc::Sender<(Job, Transaction)>,
    maker: &TxMaker,
    cache: Option<&SigCache>,
) {
    let mut recent: VecDeque<Job> = VecDeque::new();
    while let Ok(mut batch) = jobs.recv() {
        // Only the newest request matters: older ones are for turns already past.
        while let Ok(newer) = jobs.try_recv() {
            batch = newer;
        }
        for job in batch {
            if recent.contains(&job) {
                continue;
            }
            let Some(tx) = maker.make(&job) else {
                continue;
            };
            if let Some(cache) = cache {
                // A transaction signed here verifies; were it not to, nothing is kept and the
                // admitting node finds out for itself.
                let _ = cache.preverify(&tx.id(), &tx.from, &tx.signing_digest(), &tx.sig);
            }
            recent.push_back(job);
            if recent.len() > READY_CAPACITY {
                recent.pop_front();
            }
            if done.send((job, tx)).is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worker_signs_what_the_generator_would_and_verifies_it_ahead() {
        let keys: Vec<KeyPair> = (0..3).map(chainlab::config::Config::account_key).collect();
        let addrs: Vec<Address> = keys.iter().map(KeyPair::address).collect();
        let cache = Arc::new(SigCache::new(64));
        let maker = TxMaker {
            keys: Arc::new(keys.clone()),
            addrs: Arc::new(addrs.clone()),
            chain_id: 7,
            call: Some(CallSpec {
                name: "token".into(),
                address: Address([9; 20]),
                gas: 1000,
            }),
        };
        let maker = Arc::new(maker);
        let mut ahead = Ahead::spawn(maker.clone(), Some(cache.clone())).expect("a thread starts");
        let job = |from: usize, nonce: u64| Job {
            from,
            to: (from + 1) % 3,
            amount: 10 + nonce,
            fee: 2,
            nonce,
            call: false,
        };
        let call = Job {
            call: true,
            ..job(1, 6)
        };
        let jobs = vec![job(0, 0), job(1, 5), job(2, 1), call];
        ahead.request(jobs.clone());
        // Wait for the worker's answers (a blocking receive, not a sleep), then take them.
        for _ in 0..jobs.len() {
            let r = ahead.done.recv().expect("the worker answers");
            ahead.ready.push_back(r);
        }
        for j in &jobs {
            let tx = ahead.take(j).expect("signed ahead");
            let mine = match j.call {
                false => {
                    Transaction::new_signed(&keys[j.from], 7, addrs[j.to], j.amount, j.fee, j.nonce)
                }
                true => maker.make(j).unwrap(),
            };
            assert_eq!(tx, mine, "the same bytes whoever signs");
            assert_eq!(tx.payload.is_transfer(), !j.call);
            // Verified ahead: the miss skips the digest, and is counted as a miss.
            let computed = std::cell::Cell::new(false);
            let digest = || {
                computed.set(true);
                tx.signing_digest()
            };
            cache
                .verify_with(&tx.id(), &tx.from, digest, &tx.sig)
                .unwrap();
            assert!(!computed.get());
        }
        assert_eq!(cache.stats(), (0, 4));
        assert_eq!(ahead.take(&job(0, 1)), None, "never asked for");
        assert_eq!(ahead.taken, (4, 1));
    }
}
