//! The generator against a mempool that accepts everything, on the virtual clock.

use super::*;
use crate::clock::Clock;
use chainlab::config::ClockMode;
use chainlab::hash::TxId;
use chainlab::sim::model::stream;
use chainlab::Transaction;

/// Accepts every transaction, verifying its signature through the shared cache as a node does.
struct Sink {
    cache: Arc<SigCache>,
    got: Vec<Transaction>,
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<SubmitTx> for Sink {
    type Result = Result<TxId, MempoolError>;
    fn handle(&mut self, m: SubmitTx, _: &mut Context<Self>) -> Self::Result {
        let id = m.tx.id();
        self.cache
            .verify_with(&id, &m.tx.from, || m.tx.signing_digest(), &m.tx.sig)
            .expect("the generator signs validly");
        self.got.push((*m.tx).clone());
        Ok(id)
    }
}

#[derive(Message)]
#[rtype(result = "Vec<Transaction>")]
struct Got;

impl Handler<Got> for Sink {
    type Result = MessageResult<Got>;
    fn handle(&mut self, _: Got, _: &mut Context<Self>) -> Self::Result {
        MessageResult(std::mem::take(&mut self.got))
    }
}

/// 20 virtual seconds of the default load (50 tx/s over 1,000 accounts) into one sink:
/// what was sent, (sent, asked for ahead), and the cache's (hits, misses).
fn run(seed: u64) -> (Vec<Transaction>, (u64, u64), (u64, u64)) {
    let cfg = Config::parse("", "<test>", &[]).expect("the default config");
    crate::runtime::block_on(ClockMode::Virtual, async move {
        let cache = Arc::new(SigCache::new(100_000));
        let sink = Sink {
            cache: cache.clone(),
            got: Vec::new(),
        }
        .start();
        let recorder = Recorder::new(Clock::start(0));
        let load = Workload::new(
            &cfg,
            vec![Some(sink.clone().recipient())],
            stream(seed, "workload", 0),
            recorder,
        )
        .with_sig_cache(Some(cache.clone()))
        .start();
        // The load runs for 20 s of virtual time (the clock jumps; no wall time passes).
        tokio::time::sleep(Duration::from_secs(20)).await;
        load.send(StopLoad).await.expect("the generator runs");
        let predicted = load.send(GetPredicted).await.expect("the generator runs");
        let got = sink.send(Got).await.expect("the sink runs");
        (got, predicted, cache.stats())
    })
    .expect("a runtime")
}

#[test]
fn nearly_every_transaction_is_asked_for_well_ahead_and_nothing_depends_on_the_worker() {
    let (got, (sent, asked), stats) = run(3);
    assert!(got.len() > 800, "{} sent in 20 s at 50 tx/s", got.len());
    assert_eq!(sent, got.len() as u64);
    assert!(
        asked * 100 >= sent * 95,
        "only {asked} of {sent} transactions were asked for well ahead"
    );
    assert_eq!(stats, (0, sent), "one counted miss per transaction");
    // Whatever the worker got done in time, a second run sends the same transactions and
    // counts the same.
    let (again, predicted, stats_again) = run(3);
    assert_eq!(got, again);
    assert_eq!(predicted, (sent, asked));
    assert_eq!(stats_again, stats);
}
