//! Where nodes run: on the real clock, over several arbiters (threads), node `i` on arbiter
//! `i mod count` (`ClusterConfig::arbiter_of`); on the virtual clock, or with one arbiter,
//! on the harness's own arbiter, as before.
//!
//! Everything of one node is created on its arbiter (its five actors, its store handle, its
//! TCP endpoint) by a closure sent there, so a node's actors talk to each other on one
//! thread; what crosses threads is messages (actix `Addr`/`Recipient`, which are `Send`) and
//! the process-wide shared state, each behind a lock or atomic (the event recorder, the
//! signature cache, a node's life switch). The harness, the in-memory network and the load
//! generator stay on the harness's arbiter.

use actix::Arbiter;
use chainlab::NodeId;

/// The arbiters nodes run on (empty: all on the harness's arbiter). Dropping it stops them
/// and waits for their threads (each drops its actors, and so their store handles).
#[derive(Default)]
pub(super) struct Arbiters {
    list: Vec<Arbiter>,
}

impl std::fmt::Debug for Arbiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Arbiters({})", self.list.len())
    }
}

impl Arbiters {
    /// `count` arbiters, or none when `count` is at most 1 (the harness's arbiter serves).
    /// Call it inside the cluster's actix system.
    pub(super) fn start(count: usize) -> Arbiters {
        let list = if count > 1 {
            (0..count).map(|_| Arbiter::new()).collect()
        } else {
            Vec::new()
        };
        Arbiters { list }
    }

    /// How many arbiters nodes run on (1: the harness's).
    pub(super) fn count(&self) -> usize {
        self.list.len().max(1)
    }

    /// Runs `f` on node `id`'s arbiter and returns what it returns (inline on the harness's
    /// arbiter when there is no other). The harness's thread waits meanwhile: `f` only
    /// builds and starts actors, and never waits for the harness. None when the arbiter is
    /// gone.
    pub(super) fn run_for<R: Send + 'static>(
        &self,
        id: NodeId,
        f: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        if self.list.is_empty() {
            return Some(f());
        }
        let arbiter = &self.list[chainlab::config::ClusterConfig::arbiter_of(id, self.list.len())];
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let sent = arbiter.spawn_fn(move || {
            let _ = tx.send(f());
        });
        if !sent {
            return None;
        }
        rx.recv().ok()
    }
}

impl Drop for Arbiters {
    fn drop(&mut self) {
        for a in &self.list {
            a.stop();
        }
        for a in self.list.drain(..) {
            let _ = a.join();
        }
    }
}
