//! A node's life: the one switch that ends all five of its actors at once.
//!
//! Each actor runs as its own task on the node's arbiter ([`NodeLife::adopt`] keeps the task
//! handles). [`NodeLife::kill`] marks the node dead and aborts the tasks: an aborted task is
//! never polled again, so no handler, timer or reply of the node runs after the instant of the
//! kill, whatever its mailboxes still hold (a `Shutdown` message would wait behind them). The
//! harness kills a node for a crash; the chain actor kills its own node when a store write
//! fails ([`NodeLife::fail`]), and the harness hears of it on the failure channel.
//!
//! The actor running when the kill happens (the chain actor, on a failed write) finishes its
//! current handler: it checks [`NodeLife::is_alive`] and stops there, and [`super::NodeEnv`]
//! drops the events and protocol messages of a dead node, so nothing leaves it meanwhile.

use chainlab::NodeId;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// A node that stopped itself: its store failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeFailure {
    /// The node.
    pub node: NodeId,
    /// What failed (the store error, naming its location).
    pub error: String,
}

/// Where a node reports that it failed (the harness, or `chainlab node`).
pub type FailureSink = UnboundedSender<NodeFailure>;

#[derive(Debug)]
struct Inner {
    node: NodeId,
    alive: AtomicBool,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    failures: Option<FailureSink>,
}

/// See the module doc. Clones share the switch.
#[derive(Clone, Debug)]
pub struct NodeLife {
    inner: Arc<Inner>,
}

impl NodeLife {
    /// A live node that reports a failure to `failures` (if any).
    pub fn new(node: NodeId, failures: Option<FailureSink>) -> NodeLife {
        NodeLife {
            inner: Arc::new(Inner {
                node,
                alive: AtomicBool::new(true),
                tasks: Mutex::new(Vec::new()),
                failures,
            }),
        }
    }

    fn tasks(&self) -> std::sync::MutexGuard<'_, Vec<JoinHandle<()>>> {
        self.inner.tasks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Ends with the node: `task` is aborted when the node is killed (at once, if it is dead).
    pub fn adopt(&self, task: JoinHandle<()>) {
        if !self.is_alive() {
            task.abort();
        }
        self.tasks().push(task);
    }

    /// Whether the node still runs.
    pub fn is_alive(&self) -> bool {
        self.inner.alive.load(Ordering::SeqCst)
    }

    /// Ends the node now: marks it dead and aborts its tasks (none of them is polled again).
    /// Returns false when it was dead already.
    pub fn kill(&self) -> bool {
        if !self.inner.alive.swap(false, Ordering::SeqCst) {
            return false;
        }
        for t in self.tasks().iter() {
            t.abort();
        }
        true
    }

    /// The node failed with `error`: ends it ([`NodeLife::kill`]) and reports the failure.
    pub fn fail(&self, error: String) {
        if self.kill() {
            if let Some(sink) = &self.inner.failures {
                let _ = sink.send(NodeFailure {
                    node: self.inner.node,
                    error,
                });
            }
        }
    }

    /// Waits until every task of the node has ended (after a kill: until the runtime has
    /// dropped them, with the actors and their store handles).
    pub async fn gone(&self) {
        let tasks = std::mem::take(&mut *self.tasks());
        for t in tasks {
            let _ = t.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn a_kill_ends_every_task_and_runs_nothing_after_it() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let life = NodeLife::new(4, Some(tx));
            let ticks = Rc::new(Cell::new(0u32));
            let (t1, t2) = (ticks.clone(), ticks.clone());
            // A task that is always ready (a busy mailbox) and a timer.
            life.adopt(tokio::task::spawn_local(async move {
                loop {
                    t1.set(t1.get() + 1);
                    tokio::task::yield_now().await;
                }
            }));
            life.adopt(tokio::task::spawn_local(async move {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                t2.set(t2.get() + 1000);
            }));
            tokio::task::yield_now().await;
            assert!(ticks.get() > 0, "the busy task ran");
            life.fail("store full".into());
            let at_kill = ticks.get();
            assert!(!life.is_alive());
            life.gone().await;
            tokio::time::sleep(std::time::Duration::from_secs(5)).await;
            assert_eq!(ticks.get(), at_kill, "nothing ran after the kill");
            let f = rx.recv().await.unwrap();
            assert_eq!((f.node, f.error.as_str()), (4, "store full"));
            // A second kill is a no-op and reports nothing more.
            assert!(!life.kill());
            life.fail("again".into());
            assert!(rx.try_recv().is_err());
        });
    }
}
