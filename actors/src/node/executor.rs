//! The executor actor: the node's state, and every execution on it (core
//! [`Executor`]). The chain actor decides which branch is the best and sends the switch
//! ([`Switch`]: revert these blocks, apply those), waiting for the answer while the peer and
//! the mempool go on; templates ([`BuildOn`]) and read-only calls ([`GetViews`]) run here on
//! the tip's state. Messages are handled in the order they arrive, so a template the chain
//! framed on its tip is built before any later switch moves the state.

use super::messages::{BuildOn, CheckState, GetViews, PruneUndo, Shutdown, StateCheck, Switch};
use actix::prelude::*;
use chainlab::chain::executor::Executor;
use chainlab::NodeId;
use tracing::{info_span, Span};

/// See the module doc.
pub struct ExecutorActor {
    id: NodeId,
    exec: Executor,
    span: Span,
}

impl ExecutorActor {
    /// An executor actor over the executor a loaded chain handed over
    /// (`ChainState::take_executor`).
    pub fn new(id: NodeId, exec: Executor) -> ExecutorActor {
        ExecutorActor {
            id,
            exec,
            span: info_span!("node", id),
        }
    }
}

impl Actor for ExecutorActor {
    type Context = Context<Self>;
}

impl Handler<Switch> for ExecutorActor {
    type Result = MessageResult<Switch>;
    fn handle(&mut self, m: Switch, _: &mut Context<Self>) -> Self::Result {
        let _e = self.span.clone().entered();
        MessageResult(self.exec.switch(&m.0))
    }
}

impl Handler<BuildOn> for ExecutorActor {
    type Result = MessageResult<BuildOn>;
    fn handle(&mut self, m: BuildOn, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.exec.build(&m.frame, &m.txs, m.items, m.miner))
    }
}

impl Handler<GetViews> for ExecutorActor {
    type Result = MessageResult<GetViews>;
    fn handle(&mut self, m: GetViews, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            m.views
                .into_iter()
                .map(|v| {
                    let r = self.exec.view(v.contract, &v.method, &v.args);
                    (v.name, r.map_err(|e| e.to_string()))
                })
                .collect(),
        )
    }
}

impl Handler<CheckState> for ExecutorActor {
    type Result = MessageResult<CheckState>;
    fn handle(&mut self, m: CheckState, _: &mut Context<Self>) -> Self::Result {
        MessageResult(StateCheck {
            violations: self.exec.check_invariants(self.id, &m.best),
            undo_records: self.exec.undo_count(),
        })
    }
}

impl Handler<PruneUndo> for ExecutorActor {
    type Result = ();
    fn handle(&mut self, m: PruneUndo, _: &mut Context<Self>) {
        self.exec.prune_undo(m.0);
    }
}

impl Handler<Shutdown> for ExecutorActor {
    type Result = ();
    fn handle(&mut self, _: Shutdown, ctx: &mut Context<Self>) {
        ctx.stop();
    }
}
