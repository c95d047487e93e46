//! Dialling: the outbound targets a node keeps a connection to, each redialled with capped
//! exponential backoff and jitter (core [`backoff_ms`]) whenever its connection fails or ends,
//! until the endpoint shuts down.

use super::{DialTarget, TcpNode};
use actix::prelude::*;
use chainlab::net::backoff_ms;
use chainlab::NodeId;
use rand::Rng;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// An outbound target and its dialling state.
pub(super) struct Target {
    pub(super) addr: SocketAddr,
    pub(super) peer: Option<NodeId>,
    pub(super) attempt: u32,
    pub(super) busy: bool,
}

impl From<DialTarget> for Target {
    fn from(d: DialTarget) -> Target {
        Target {
            addr: d.addr,
            peer: d.peer,
            attempt: 0,
            busy: false,
        }
    }
}

/// Time to dial target `.0` again.
#[derive(Message)]
#[rtype(result = "()")]
struct Redial(usize);

impl TcpNode {
    pub(super) fn schedule_dial(&mut self, i: usize, ctx: &mut Context<Self>) {
        let t = &mut self.targets[i];
        let wait = backoff_ms(
            t.attempt,
            self.cfg.reconnect_base.as_millis() as u64,
            self.cfg.reconnect_max.as_millis() as u64,
            self.rng.gen(),
        );
        t.attempt = t.attempt.saturating_add(1);
        t.busy = true;
        ctx.notify_later(Redial(i), Duration::from_millis(wait));
    }

    pub(super) fn dial(&mut self, i: usize, ctx: &mut Context<Self>) {
        if self.shutdown.is_cancelled() {
            return;
        }
        let t = &mut self.targets[i];
        if t.peer.is_some_and(|p| self.conns.contains_key(&p)) {
            // Already connected to that node (it dialled us): check again later.
            t.busy = false;
            t.attempt = 0;
            return;
        }
        t.busy = true;
        let addr = t.addr;
        let timeout = self.cfg.handshake_timeout;
        let fut = async move { tokio::time::timeout(timeout, TcpStream::connect(addr)).await };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| match res {
            Ok(Ok(stream)) => {
                let _ = stream.set_nodelay(true);
                act.spawn_conn(stream, addr, Some(i));
            }
            _ => act.schedule_dial(i, ctx),
        }));
    }

    /// A connection to `peer` is gone: the targets that reach it dial again (after backoff).
    pub(super) fn redial_for(&mut self, peer: NodeId, ctx: &mut Context<Self>) {
        for i in 0..self.targets.len() {
            if self.targets[i].peer == Some(peer) && !self.targets[i].busy {
                self.schedule_dial(i, ctx);
            }
        }
    }
}

impl Handler<Redial> for TcpNode {
    type Result = ();
    fn handle(&mut self, m: Redial, ctx: &mut Context<Self>) {
        self.dial(m.0, ctx);
    }
}
