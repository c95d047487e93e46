//! In-memory links: one `Network` actor holds every node's inbox and delivers each message
//! after a delay drawn from the link model (latency distribution plus size / bandwidth),
//! first-in first-out per directed link.

use super::{Deliver, Transport};
use actix::prelude::*;
use chainlab::config::Latency;
use chainlab::gossip::NodeId;
use chainlab::model::link_delay_ms;
use chainlab::wire::{MsgKind, WireMsg};
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;

/// Register (or, with `None`, unregister) a node's inbox.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterNode {
    /// Node.
    pub id: NodeId,
    /// Its peer actor's inbox, or None when it goes down.
    pub inbox: Option<Recipient<Deliver>>,
}

/// Route a message.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Route {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Message.
    pub msg: WireMsg,
}

/// Message counters.
#[derive(Message)]
#[rtype(result = "NetStats")]
pub struct GetNetStats;

/// Counts of what the network carried.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct NetStats {
    /// Delivered messages per kind.
    pub delivered: BTreeMap<MsgKind, u64>,
    /// Bytes delivered.
    pub bytes: u64,
    /// Messages for a node that was down.
    pub dropped_down: u64,
}

/// The in-memory network.
pub struct Network {
    inboxes: Vec<Option<Recipient<Deliver>>>,
    latency: Latency,
    bandwidth_mbps: f64,
    rng: ChaCha8Rng,
    last_delivery: HashMap<(NodeId, NodeId), Instant>,
    /// Messages in flight by (delivery time, sequence): one timer serves them all, so the
    /// actor never holds more than one pending timer however many messages are in flight.
    in_flight: BTreeMap<(Instant, u64), InFlight>,
    seq: u64,
    timer: Option<(Instant, SpawnHandle)>,
    stats: NetStats,
}

struct InFlight {
    from: NodeId,
    to: NodeId,
    msg: WireMsg,
    bytes: u64,
}

impl Network {
    /// A network of `n` nodes with one link model for every link.
    pub fn new(n: usize, latency: Latency, bandwidth_mbps: f64, rng: ChaCha8Rng) -> Network {
        Network {
            inboxes: vec![None; n],
            latency,
            bandwidth_mbps,
            rng,
            last_delivery: HashMap::new(),
            in_flight: BTreeMap::new(),
            seq: 0,
            timer: None,
            stats: NetStats::default(),
        }
    }

    fn deliver_due(&mut self, ctx: &mut Context<Self>) {
        self.timer = None;
        let now = Instant::now();
        while let Some(entry) = self.in_flight.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let m = entry.remove();
            self.deliver(m.from, m.to, m.msg, m.bytes);
        }
        self.arm(ctx);
    }

    fn arm(&mut self, ctx: &mut Context<Self>) {
        let Some((&(at, _), _)) = self.in_flight.first_key_value() else {
            return;
        };
        if let Some((armed, handle)) = self.timer {
            if armed <= at {
                return;
            }
            ctx.cancel_future(handle);
        }
        let wait = at.saturating_duration_since(Instant::now());
        let handle = ctx.run_later(wait, |act, ctx| act.deliver_due(ctx));
        self.timer = Some((at, handle));
    }

    fn deliver(&mut self, from: NodeId, to: NodeId, msg: WireMsg, bytes: u64) {
        match self.inboxes.get(to).and_then(|i| i.as_ref()) {
            Some(inbox) => {
                *self.stats.delivered.entry(msg.kind()).or_default() += 1;
                self.stats.bytes += bytes;
                inbox.do_send(Deliver { from, msg });
            }
            None => self.stats.dropped_down += 1,
        }
    }
}

impl Actor for Network {
    type Context = Context<Self>;
}

impl Handler<RegisterNode> for Network {
    type Result = ();
    fn handle(&mut self, m: RegisterNode, _: &mut Context<Self>) {
        if m.id >= self.inboxes.len() {
            self.inboxes.resize(m.id + 1, None);
        }
        self.inboxes[m.id] = m.inbox;
    }
}

impl Handler<Route> for Network {
    type Result = ();
    fn handle(&mut self, m: Route, ctx: &mut Context<Self>) {
        let bytes = if self.bandwidth_mbps > 0.0 {
            m.msg.size()
        } else {
            0
        };
        let delay_ms = link_delay_ms(&self.latency, self.bandwidth_mbps, bytes, &mut self.rng);
        let now = Instant::now();
        let mut at = now + Duration::from_micros((delay_ms * 1000.0).max(0.0) as u64);
        let last = self.last_delivery.entry((m.from, m.to)).or_insert(now);
        if at < *last {
            at = *last;
        }
        *last = at;
        self.seq += 1;
        self.in_flight.insert(
            (at, self.seq),
            InFlight {
                from: m.from,
                to: m.to,
                msg: m.msg,
                bytes,
            },
        );
        self.arm(ctx);
    }
}

impl Handler<GetNetStats> for Network {
    type Result = MessageResult<GetNetStats>;
    fn handle(&mut self, _: GetNetStats, _: &mut Context<Self>) -> Self::Result {
        MessageResult(self.stats.clone())
    }
}

/// The [`Transport`] over a [`Network`] actor.
#[derive(Debug, Clone)]
pub struct MemoryTransport {
    net: Addr<Network>,
}

impl MemoryTransport {
    /// Sends through `net`.
    pub fn new(net: Addr<Network>) -> MemoryTransport {
        MemoryTransport { net }
    }
}

impl Transport for MemoryTransport {
    fn send(&self, from: NodeId, to: NodeId, msg: WireMsg) {
        self.net.do_send(Route { from, to, msg });
    }
}
