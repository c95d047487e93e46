//! Bandwidth limits throughput: the Network actor on the virtual clock queues messages behind
//! a bandwidth limit (`network.bandwidth_mbps` or a `bandwidth` rule), so blocks sent together
//! arrive one serialisation time (size / rate) apart, not together. docs/faults.md derives the
//! arrival times these tests expect: the n-th of k messages sent at once (n from 0) arrives
//! (n + 1) S/R + L after sending, for constant latency L.

use actix::prelude::*;
use chainlab::config::{ClockMode, Config, Latency};
use chainlab::net::msg_wire_len;
use chainlab::net::wire::WireMsg;
use chainlab::sim::fault::{LinkEffect, LinkRule};
use chainlab::sim::link::{serialisation_ms, Bandwidth, Per};
use chainlab::sim::model::stream;
use chainlab::tx::Transaction;
use chainlab::{Block, NodeId};
use chainlab_actors::runtime::block_on;
use chainlab_actors::transport::memory::{
    ApplyLinkFault, GetNetStats, Network, RegisterNode, Route,
};
use chainlab_actors::transport::Deliver;
use std::sync::{Arc, OnceLock};
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::time::Instant;

const LATENCY_MS: f64 = 50.0;

/// A block of height `height` holding 100 transactions (about 20 kB): only its size and its
/// height (to tell blocks apart) matter here.
fn block(height: u64) -> WireMsg {
    static TEMPLATE: OnceLock<Block> = OnceLock::new();
    let template = TEMPLATE.get_or_init(|| {
        let params = Config::default().chain_params();
        let mut b = params.genesis_block();
        let to = Config::account_key(1).address();
        let tx = Transaction::new_signed(&Config::account_key(0), params.chain_id, to, 1, 1, 0);
        b.txs = vec![tx; 100];
        b
    });
    let mut b = template.clone();
    b.header.height = height;
    WireMsg::Block(Arc::new(b))
}

/// A node's inbox that reports (receiver, sender, height, ms since `t0`) of each block.
struct Sink {
    me: NodeId,
    t0: Instant,
    out: UnboundedSender<(NodeId, NodeId, u64, f64)>,
}

impl Actor for Sink {
    type Context = Context<Self>;
}

impl Handler<Deliver> for Sink {
    type Result = ();
    fn handle(&mut self, m: Deliver, _: &mut Context<Self>) {
        if let WireMsg::Block(b) = m.msg {
            let ms = (Instant::now() - self.t0).as_secs_f64() * 1000.0;
            let _ = self.out.send((self.me, m.from, b.header.height, ms));
        }
    }
}

/// A network of `n` nodes with constant latency and `bandwidth`, every node's inbox a [`Sink`].
async fn network(
    n: usize,
    bandwidth: Option<Bandwidth>,
) -> (
    Addr<Network>,
    Instant,
    UnboundedReceiver<(NodeId, NodeId, u64, f64)>,
) {
    let latency = Latency::Constant { ms: LATENCY_MS };
    let net = Network::new(n, latency, bandwidth, stream(1, "network", 0)).start();
    let (tx, rx) = unbounded_channel();
    let t0 = Instant::now();
    for me in 0..n {
        let out = tx.clone();
        let inbox = Sink { me, t0, out }.start().recipient();
        net.send(RegisterNode {
            id: me,
            inbox: Some(inbox),
        })
        .await
        .unwrap();
    }
    (net, t0, rx)
}

/// Waits for `k` deliveries (the virtual clock jumps to each one).
async fn arrivals(
    rx: &mut UnboundedReceiver<(NodeId, NodeId, u64, f64)>,
    k: usize,
) -> Vec<(NodeId, NodeId, u64, f64)> {
    let mut got = Vec::new();
    for _ in 0..k {
        got.push(rx.recv().await.expect("the network delivers"));
    }
    got
}

/// Delivery times on the virtual clock are whole timer ticks (ms) at or after the due time.
fn assert_close(got: f64, want: f64, what: &str) {
    assert!(
        got >= want - 0.01 && got <= want + 1.01,
        "{what}: arrived at {got} ms, expected {want} ms"
    );
}

#[test]
fn blocks_sent_together_over_a_limited_link_arrive_one_serialisation_time_apart() {
    let k = 5;
    let mbps = 1.0;
    let bytes = msg_wire_len(&block(0));
    let s = serialisation_ms(bytes, mbps);
    assert!(
        s > 50.0,
        "a block of {bytes} bytes takes {s} ms at {mbps} Mbit/s"
    );
    let got = block_on(ClockMode::Virtual, async move {
        let limit = Bandwidth {
            mbps,
            per: Per::Link,
        };
        let (net, _t0, mut rx) = network(2, Some(limit)).await;
        for h in 0..k {
            net.do_send(Route {
                from: 0,
                to: 1,
                msg: block(h),
            });
        }
        let got = arrivals(&mut rx, k as usize).await;
        let stats = net.send(GetNetStats).await.unwrap();
        (got, stats)
    })
    .unwrap();
    let (got, stats) = got;
    let times: Vec<f64> = got.iter().map(|g| g.3).collect();
    eprintln!("{bytes} bytes at {mbps} Mbit/s: S/R = {s} ms; arrivals (ms): {times:?}");
    for (n, (to, from, height, ms)) in got.iter().enumerate() {
        assert_eq!(
            (*to, *from, *height),
            (1, 0, n as u64),
            "first in, first out"
        );
        assert_close(*ms, (n + 1) as f64 * s + LATENCY_MS, &format!("block {n}"));
    }
    // Spaced S/R apart: the link carries 1 Mbit/s, not k blocks at once.
    for w in got.windows(2) {
        assert!(
            (w[1].3 - w[0].3 - s).abs() <= 1.01,
            "spacing {}",
            w[1].3 - w[0].3
        );
    }
    assert_eq!(stats.queued, k - 1, "every block but the first waited");
    assert_close(stats.queue_wait_max_ms, (k - 1) as f64 * s, "longest wait");
    assert_eq!(stats.bytes, k * bytes);
}

#[test]
fn an_upload_limit_serialises_a_relay_to_each_peer_in_turn_and_a_link_limit_does_not() {
    let mbps = 1.0;
    let s = serialisation_ms(msg_wire_len(&block(0)), mbps);
    let relay = |per: Per| {
        block_on(ClockMode::Virtual, async move {
            let (net, _t0, mut rx) = network(4, Some(Bandwidth { mbps, per })).await;
            for to in 1..4 {
                net.do_send(Route {
                    from: 0,
                    to,
                    msg: block(7),
                });
            }
            arrivals(&mut rx, 3).await
        })
        .unwrap()
    };
    let by_link = relay(Per::Link);
    let by_upload = relay(Per::Upload);
    for (n, (to, _, _, ms)) in by_link.iter().enumerate() {
        assert_close(*ms, s + LATENCY_MS, &format!("link: copy {n} to {to}"));
    }
    for (n, (to, _, _, ms)) in by_upload.iter().enumerate() {
        assert_eq!(*to, n + 1, "sent to 1, 2, 3 in that order");
        assert_close(
            *ms,
            (n + 1) as f64 * s + LATENCY_MS,
            &format!("upload: copy {n}"),
        );
    }
}

#[test]
fn a_bandwidth_rule_queues_until_removed_and_queued_messages_keep_their_times() {
    let mbps = 0.5;
    let s = serialisation_ms(msg_wire_len(&block(0)), mbps);
    let got = block_on(ClockMode::Virtual, async move {
        let (net, _t0, mut rx) = network(3, None).await;
        let rule = LinkRule {
            id: 4,
            from: None,
            to: None,
            kinds: None,
            effect: LinkEffect::Bandwidth(Bandwidth {
                mbps,
                per: Per::Link,
            }),
        };
        net.send(ApplyLinkFault::AddRule(rule)).await.unwrap();
        for h in 0..3 {
            net.do_send(Route {
                from: 0,
                to: 1,
                msg: block(h),
            });
        }
        // The fault ends at once: what it queued keeps its times, new messages do not queue.
        net.send(ApplyLinkFault::RemoveRule(4)).await.unwrap();
        for h in 10..12 {
            net.do_send(Route {
                from: 0,
                to: 2,
                msg: block(h),
            });
        }
        arrivals(&mut rx, 5).await
    })
    .unwrap();
    let (queued, free): (Vec<_>, Vec<_>) = got.iter().partition(|g| g.0 == 1);
    for (n, (_, _, h, ms)) in queued.iter().enumerate() {
        assert_eq!(*h, n as u64);
        assert_close(
            *ms,
            (n + 1) as f64 * s + LATENCY_MS,
            &format!("queued block {n}"),
        );
    }
    for (_, _, h, ms) in free {
        assert_close(ms, LATENCY_MS, &format!("block {h} after the rule"));
    }
}
