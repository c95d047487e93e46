//! In-memory links: one `Network` actor holds every node's inbox and delivers each message
//! after its time in the bandwidth queues (core `sim::link`: `network.bandwidth_mbps` and the
//! `bandwidth` rules, first-in first-out at their rates) plus a latency drawn from the link
//! model, first-in first-out per directed link. The fault layer (core `LinkFaults`) is
//! consulted for every message when any partition or link rule is active: it may drop, delay,
//! duplicate or reorder it. Messages to and from a paused node are held until it resumes.
//!
//! A TCP link goes through the same steps; at delivery time the message is handed to the
//! sender's [`TcpNode`](super::tcp::TcpNode), which writes it to the socket, instead of the
//! receiver's mailbox. So partitions, loss, extra latency and pauses apply to TCP links too.

use super::tcp::{Penalize, SendFrame, TcpNode};
use super::{Deliver, Transport};
use actix::prelude::*;
use chainlab::config::Latency;
use chainlab::net::wire::{MsgKind, WireMsg};
use chainlab::net::{msg_wire_len, Offence};
use chainlab::sim::fault::{LinkFaults, LinkRule, Verdict};
use chainlab::sim::link::{Bandwidth, Queues, Served};
use chainlab::sim::model::sample_latency_ms;
use chainlab::NodeId;
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, VecDeque};
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

/// Change the fault layer.
#[derive(Message, Debug, Clone)]
#[rtype(result = "()")]
pub enum ApplyLinkFault {
    /// Cut these directed links on behalf of fault `.1`.
    Block(Vec<(NodeId, NodeId)>, u64),
    /// Undo fault `.1`'s cut of these links.
    Unblock(Vec<(NodeId, NodeId)>, u64),
    /// Remove blocks among these nodes, or every block and rule.
    Heal(Option<BTreeSet<NodeId>>),
    /// Add a link rule.
    AddRule(LinkRule),
    /// Remove a link rule.
    RemoveRule(u64),
    /// Hold (true) or release (false) messages to a node.
    Hold(NodeId, bool),
}

/// Register (or, with `None`, unregister) a node's TCP endpoint.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RegisterTcp {
    /// Node.
    pub id: NodeId,
    /// Its endpoint.
    pub endpoint: Option<Addr<TcpNode>>,
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
    /// Bytes delivered, as framed on the wire (counted when a bandwidth is set).
    pub bytes: u64,
    /// Messages that waited behind earlier ones in a bandwidth queue.
    pub queued: u64,
    /// The longest such wait, ms (serialisation of the message itself not included).
    pub queue_wait_max_ms: f64,
    /// Messages for a node that was down.
    pub dropped_down: u64,
    /// Messages the fault layer dropped, per directed link and kind.
    #[serde(skip)]
    pub dropped: BTreeMap<(NodeId, NodeId, MsgKind), u64>,
    /// Messages dropped by each link rule (by rule id).
    #[serde(skip)]
    pub dropped_by_rule: BTreeMap<u64, u64>,
    /// Messages dropped by partitions.
    pub dropped_partitioned: u64,
    /// Messages dropped by loss rules.
    pub dropped_loss: u64,
    /// Extra copies delivered by duplicate rules.
    pub duplicated: u64,
    /// Messages handed to a TCP endpoint (counted in `delivered` too).
    pub tcp_sent: u64,
}

/// Which links are TCP.
#[derive(Debug, Clone, Default)]
pub enum TcpLinks {
    /// None.
    #[default]
    None,
    /// These undirected links (smaller id first).
    Some(BTreeSet<(NodeId, NodeId)>),
    /// Every link.
    All,
}

impl TcpLinks {
    /// Whether the link between `a` and `b` is TCP.
    pub fn contains(&self, a: NodeId, b: NodeId) -> bool {
        match self {
            TcpLinks::None => false,
            TcpLinks::All => true,
            TcpLinks::Some(set) => set.contains(&(a.min(b), a.max(b))),
        }
    }
}

/// The in-memory network.
pub struct Network {
    inboxes: Vec<Option<Recipient<Deliver>>>,
    latency: Latency,
    /// The queues of `network.bandwidth_mbps`, if set.
    bandwidth: Option<Queues>,
    /// Time zero of the bandwidth queues' clock (ms since this instant).
    epoch: Instant,
    rng: ChaCha8Rng,
    /// The last delivery time scheduled on each directed link (first in, first out per link).
    last_delivery: LinkTimes,
    /// Messages in flight by (delivery time, sequence): one timer serves them all, so the
    /// actor never holds more than one pending timer however many messages are in flight.
    in_flight: InFlightQueue,
    seq: u64,
    timer: Option<(Instant, SpawnHandle)>,
    faults: LinkFaults,
    held: BTreeMap<NodeId, VecDeque<InFlight>>,
    /// Messages a paused node sent, routed when it resumes.
    held_out: BTreeMap<NodeId, VecDeque<Route>>,
    stats: NetStats,
    tcp_links: TcpLinks,
    tcp: BTreeMap<NodeId, Addr<TcpNode>>,
    /// Node ids below this are this process's nodes.
    nodes: usize,
}

/// Per sending node, the last delivery time scheduled to each receiver, sorted by receiver:
/// a few entries for most nodes, a binary search for a full mesh's.
#[derive(Default)]
struct LinkTimes(Vec<Vec<(NodeId, Instant)>>);

impl LinkTimes {
    /// The delivery time of a message from `from` to `to` due at `at`: no earlier than the
    /// link's previous one (first in, first out), which it then becomes.
    fn not_before(&mut self, from: NodeId, to: NodeId, at: Instant) -> Instant {
        if self.0.len() <= from {
            self.0.resize_with(from + 1, Vec::new);
        }
        let links = &mut self.0[from];
        match links.binary_search_by_key(&to, |(t, _)| *t) {
            Ok(i) => {
                let at = at.max(links[i].1);
                links[i].1 = at;
                at
            }
            Err(i) => {
                links.insert(i, (to, at));
                at
            }
        }
    }
}

/// Messages in flight, earliest (delivery time, sequence) first: a binary heap of keys over a
/// slab of messages, so reordering the heap moves 32-byte keys, not messages.
#[derive(Default)]
struct InFlightQueue {
    heap: BinaryHeap<Reverse<(Instant, u64, usize)>>,
    slots: Vec<Option<InFlight>>,
    free: Vec<usize>,
}

impl InFlightQueue {
    fn push(&mut self, at: Instant, seq: u64, m: InFlight) {
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(m);
                slot
            }
            None => {
                self.slots.push(Some(m));
                self.slots.len() - 1
            }
        };
        self.heap.push(Reverse((at, seq, slot)));
    }

    /// When the earliest message is due.
    fn first_at(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _, _))| *at)
    }

    /// The earliest message, if it is due at `now`.
    fn pop_due(&mut self, now: Instant) -> Option<InFlight> {
        if self.first_at()? > now {
            return None;
        }
        let Reverse((_, _, slot)) = self.heap.pop()?;
        self.free.push(slot);
        self.slots[slot].take()
    }
}

struct InFlight {
    from: NodeId,
    to: NodeId,
    msg: WireMsg,
    bytes: u64,
    tcp: bool,
}

impl Network {
    /// A network of `n` nodes with one link model for every link: the latency distribution and,
    /// if any, the bandwidth limit of every link or upload.
    pub fn new(
        n: usize,
        latency: Latency,
        bandwidth: Option<Bandwidth>,
        rng: ChaCha8Rng,
    ) -> Network {
        Network {
            inboxes: vec![None; n],
            latency,
            bandwidth: bandwidth.map(Queues::new),
            epoch: Instant::now(),
            rng,
            last_delivery: LinkTimes::default(),
            in_flight: InFlightQueue::default(),
            seq: 0,
            timer: None,
            faults: LinkFaults::default(),
            held: BTreeMap::new(),
            held_out: BTreeMap::new(),
            stats: NetStats::default(),
            tcp_links: TcpLinks::None,
            tcp: BTreeMap::new(),
            nodes: n,
        }
    }

    /// Sends these links over TCP (each node's endpoint registers with [`RegisterTcp`]).
    pub fn with_tcp_links(mut self, links: TcpLinks) -> Network {
        self.tcp_links = links;
        self
    }

    fn deliver_due(&mut self, ctx: &mut Context<Self>) {
        self.timer = None;
        let now = Instant::now();
        while let Some(m) = self.in_flight.pop_due(now) {
            self.deliver(m);
        }
        self.arm(ctx);
    }

    fn arm(&mut self, ctx: &mut Context<Self>) {
        let Some(at) = self.in_flight.first_at() else {
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

    fn deliver(&mut self, m: InFlight) {
        if let Some(queue) = self.held.get_mut(&m.to) {
            queue.push_back(m);
            return;
        }
        if m.tcp {
            match self.tcp.get(&m.from) {
                Some(endpoint) => {
                    *self.stats.delivered.entry(m.msg.kind()).or_default() += 1;
                    self.stats.bytes += m.bytes;
                    self.stats.tcp_sent += 1;
                    endpoint.do_send(SendFrame {
                        to: m.to,
                        msg: m.msg,
                    });
                }
                None => self.stats.dropped_down += 1,
            }
            return;
        }
        match self.inboxes.get(m.to).and_then(|i| i.as_ref()) {
            Some(inbox) => {
                *self.stats.delivered.entry(m.msg.kind()).or_default() += 1;
                self.stats.bytes += m.bytes;
                inbox.do_send(Deliver {
                    from: m.from,
                    msg: m.msg,
                });
            }
            None => self.stats.dropped_down += 1,
        }
    }

    fn schedule(&mut self, m: InFlight, delay_ms: f64, fifo: bool, ctx: &mut Context<Self>) {
        let now = Instant::now();
        let mut at = now + Duration::from_micros((delay_ms * 1000.0).max(0.0) as u64);
        if fifo {
            at = self.last_delivery.not_before(m.from, m.to, at);
        }
        self.seq += 1;
        self.in_flight.push(at, self.seq, m);
        self.arm(ctx);
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

impl Handler<RegisterTcp> for Network {
    type Result = ();
    fn handle(&mut self, m: RegisterTcp, _: &mut Context<Self>) {
        match m.endpoint {
            Some(e) => self.tcp.insert(m.id, e),
            None => self.tcp.remove(&m.id),
        };
    }
}

impl Handler<PenalizeAt> for Network {
    type Result = ();
    fn handle(&mut self, m: PenalizeAt, _: &mut Context<Self>) {
        // Only a TCP peer is penalized: an in-memory neighbour is an in-process node.
        let peer = m.penalty.peer;
        if !(self.tcp_links.contains(m.node, peer) || peer >= self.nodes) {
            return;
        }
        if let Some(endpoint) = self.tcp.get(&m.node) {
            endpoint.do_send(m.penalty);
        }
    }
}

impl Handler<Route> for Network {
    type Result = ();
    fn handle(&mut self, m: Route, ctx: &mut Context<Self>) {
        if let Some(queue) = self.held_out.get_mut(&m.from) {
            queue.push_back(m);
            return;
        }
        self.route(m, ctx);
    }
}

impl Network {
    /// Passes a message sent now through the bandwidth queues (the network's, then each
    /// bandwidth rule's): milliseconds until its last bit has left.
    fn serialise(&mut self, from: NodeId, to: NodeId, kind: MsgKind, bytes: u64) -> f64 {
        let now_ms = Instant::now().duration_since(self.epoch).as_secs_f64() * 1000.0;
        let mut served = Served {
            departure_ms: now_ms,
            waited_ms: 0.0,
        };
        if let Some(queues) = &mut self.bandwidth {
            served = queues.offer(from, to, now_ms, bytes);
        }
        let rules = self
            .faults
            .serialise(from, to, kind, served.departure_ms, bytes);
        // Counted to the microsecond, the resolution of delivery times.
        let waited_ms = ((served.waited_ms + rules.waited_ms) * 1000.0).round() / 1000.0;
        if waited_ms > 0.0 {
            self.stats.queued += 1;
            self.stats.queue_wait_max_ms = self.stats.queue_wait_max_ms.max(waited_ms);
        }
        rules.departure_ms - now_ms
    }

    /// Applies the link model and the fault layer to one message and schedules its delivery.
    fn route(&mut self, m: Route, ctx: &mut Context<Self>) {
        let limited = self.bandwidth.is_some() || self.faults.needs_size();
        let bytes = if limited { msg_wire_len(&m.msg) } else { 0 };
        let latency_ms = sample_latency_ms(&self.latency, &mut self.rng);
        let kind = m.msg.kind();
        let (extra_ms, copies, reorder) = if self.faults.is_empty() {
            (0.0, 1, false)
        } else {
            match self.faults.judge(m.from, m.to, kind, &mut self.rng) {
                Verdict::Drop { reason, rule } => {
                    *self.stats.dropped.entry((m.from, m.to, kind)).or_default() += 1;
                    match reason {
                        chainlab::sim::fault::DropReason::Partitioned => {
                            self.stats.dropped_partitioned += 1
                        }
                        chainlab::sim::fault::DropReason::Loss => self.stats.dropped_loss += 1,
                    }
                    if let Some(r) = rule {
                        *self.stats.dropped_by_rule.entry(r).or_default() += 1;
                    }
                    return;
                }
                Verdict::Deliver {
                    extra_ms,
                    copies,
                    reorder,
                } => (extra_ms, copies, reorder),
            }
        };
        // The message queues for the bandwidth first, then travels; a duplicate is made past
        // the queues and takes no bandwidth of its own.
        let queued_ms = if limited {
            self.serialise(m.from, m.to, kind, bytes)
        } else {
            0.0
        };
        let delay_ms = queued_ms + latency_ms;
        // A peer outside the cluster (it dialled a node's TCP port) is reachable only by TCP.
        let tcp = self.tcp_links.contains(m.from, m.to) || m.to >= self.nodes;
        if copies > 1 {
            self.stats.duplicated += u64::from(copies - 1);
            for _ in 1..copies {
                let copy = InFlight {
                    from: m.from,
                    to: m.to,
                    msg: m.msg.clone(),
                    bytes,
                    tcp,
                };
                self.schedule(copy, delay_ms + extra_ms, !reorder, ctx);
            }
        }
        let msg = InFlight {
            from: m.from,
            to: m.to,
            msg: m.msg,
            bytes,
            tcp,
        };
        self.schedule(msg, delay_ms + extra_ms, !reorder, ctx);
    }
}

impl Handler<ApplyLinkFault> for Network {
    type Result = ();
    fn handle(&mut self, m: ApplyLinkFault, ctx: &mut Context<Self>) {
        match m {
            ApplyLinkFault::Block(links, owner) => self.faults.block(&links, owner),
            ApplyLinkFault::Unblock(links, owner) => self.faults.unblock(&links, owner),
            ApplyLinkFault::Heal(among) => self.faults.heal(among.as_ref()),
            ApplyLinkFault::AddRule(rule) => self.faults.add_rule(rule),
            ApplyLinkFault::RemoveRule(id) => self.faults.remove_rule(id),
            ApplyLinkFault::Hold(node, true) => {
                self.held.entry(node).or_default();
                self.held_out.entry(node).or_default();
            }
            ApplyLinkFault::Hold(node, false) => {
                for m in self.held.remove(&node).unwrap_or_default() {
                    self.deliver(m);
                }
                for m in self.held_out.remove(&node).unwrap_or_default() {
                    self.route(m, ctx);
                }
            }
        }
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

    fn penalize(&self, node: NodeId, peer: NodeId, offence: Offence) {
        self.net.do_send(PenalizeAt {
            node,
            penalty: Penalize { peer, offence },
        });
    }
}

/// Forward a penalty to `node`'s TCP endpoint (ignored when it has none: in-memory peers are
/// in-process nodes).
#[derive(Message)]
#[rtype(result = "()")]
pub struct PenalizeAt {
    /// The offended node.
    pub node: NodeId,
    /// The penalty.
    pub penalty: Penalize,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(from: NodeId) -> InFlight {
        InFlight {
            from,
            to: 0,
            msg: WireMsg::Txs(Vec::new()),
            bytes: 0,
            tcp: false,
        }
    }

    /// A link's deliveries never overtake each other; links, even of one sender, are
    /// independent, whatever order their receivers first appear in.
    #[test]
    fn each_link_delivers_first_in_first_out_on_its_own() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut links = LinkTimes::default();
        assert_eq!(links.not_before(3, 9, ms(50)), ms(50));
        assert_eq!(
            links.not_before(3, 2, ms(10)),
            ms(10),
            "another link of node 3"
        );
        assert_eq!(
            links.not_before(3, 9, ms(20)),
            ms(50),
            "waits for the earlier message"
        );
        assert_eq!(links.not_before(3, 5, ms(5)), ms(5));
        assert_eq!(
            links.not_before(3, 2, ms(30)),
            ms(30),
            "later than its link's last"
        );
        assert_eq!(
            links.not_before(9, 3, ms(1)),
            ms(1),
            "the reverse link is its own"
        );
        assert_eq!(links.not_before(3, 9, ms(60)), ms(60));
    }

    /// Messages leave by delivery time, then by the order they were sent; nothing leaves
    /// before it is due; a freed slot is reused without disturbing the order.
    #[test]
    fn in_flight_messages_leave_by_time_then_sequence() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut q = InFlightQueue::default();
        q.push(ms(30), 1, msg(1));
        q.push(ms(10), 2, msg(2));
        q.push(ms(30), 3, msg(3));
        assert_eq!(q.first_at(), Some(ms(10)));
        assert!(q.pop_due(ms(9)).is_none(), "not due yet");
        assert_eq!(q.pop_due(ms(10)).map(|m| m.from), Some(2));
        q.push(ms(20), 4, msg(4)); // takes the freed slot
        let order: Vec<NodeId> =
            std::iter::from_fn(|| q.pop_due(ms(100)).map(|m| m.from)).collect();
        assert_eq!(order, vec![4, 1, 3]);
        assert_eq!(q.first_at(), None);
    }
}
