//! Clusters over TCP links (real clock): a whole-TCP cluster and a mixed in-memory/TCP cluster
//! converge; partitions and crashes apply to TCP links as to in-memory ones; connection events
//! reach the trace and the report.

mod support;

use chainlab::config::Config;
use chainlab::report::Event;
use chainlab::NodeId;
use chainlab_actors::cluster::{run, RunOptions, RunOutput};
use std::collections::BTreeSet;
use support::config::Toml;
use support::converge::assert_converged_or_final_tie;
use support::run::{mined, run_ok};

/// The real-clock base on six nodes in a ring of degree 2 plus chords (random-regular, degree
/// 3), seed 4, 4 s of load and mining plus a 1.5 s settle, 300 ms blocks, 40 tx/s over 20
/// accounts.
fn base() -> Toml {
    Toml::real_clock().with(&[
        "cluster.nodes=6",
        "cluster.seed=4",
        "cluster.duration=4s",
        "cluster.settle=1500ms",
        "network.topology=random-regular",
        "network.degree=3",
        "consensus.block_interval=300ms",
        "workload.tx_rate=40.0",
        "workload.accounts=20",
    ])
}

/// The base with `--set` style overrides and `[[faults]]` entries (TOML text).
fn config(overrides: &[&str], faults: &str) -> Config {
    base().config("tcp-test.toml", overrides, faults)
}

fn connected_pairs(out: &RunOutput) -> BTreeSet<(NodeId, NodeId)> {
    out.events
        .iter()
        .filter_map(|r| match r.event {
            Event::PeerConnected { peer, .. } => {
                let p = peer as NodeId;
                Some((r.node.min(p), r.node.max(p)))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn tcp_cluster_converges_and_records_every_connection() {
    let out = run_ok(config(&["network.transport=tcp"], ""));
    let r = &out.report;
    assert!(r.blocks.canonical_height >= 5, "{:?}", r.blocks);
    assert_converged_or_final_tie(&out);
    assert!(r.invariants.violations.is_empty(), "{:?}", r.invariants);
    assert!(r.txs.confirmed > 0, "{:?}", r.txs);
    // 6 nodes x degree 3 = 9 links, each completing one handshake seen from both ends.
    assert_eq!(connected_pairs(&out).len(), 9);
    assert_eq!(r.connections.connected, 18, "{:?}", r.connections);
    assert_eq!(r.connections.handshake_failed, 0, "{:?}", r.connections);
    assert_eq!(
        r.connections.discouraged, 0,
        "honest peers are never punished"
    );
    // Every message went through a socket.
    assert!(out.net.tcp_sent > 0);
    let delivered: u64 = out.net.delivered.values().sum();
    assert_eq!(out.net.tcp_sent, delivered);
    // At the end every node still had its 3 peers and read what the others wrote.
    assert_eq!(out.tcp.len(), 6);
    for (id, info) in &out.tcp {
        assert_eq!(info.peers.len(), 3, "node {id}: {:?}", info.peers);
        assert!(info.stats.frames_in > 0 && info.stats.bytes_in > 0);
        assert_eq!(info.stats.dropped_queue_full, 0, "node {id}");
        assert_eq!(info.stats.dropped_ingress_full, 0, "node {id}");
    }
    let frames_out: u64 = out.tcp.values().map(|i| i.stats.frames_out).sum();
    let frames_in: u64 = out.tcp.values().map(|i| i.stats.frames_in).sum();
    // Frames in flight at the snapshot aside, what was written was read.
    assert!(
        frames_in * 100 >= frames_out * 95,
        "in {frames_in} out {frames_out}"
    );
}

#[test]
fn mixed_memory_and_tcp_cluster_converges() {
    let out = run_ok(config(
        &["network.transport=mixed", "network.tcp_share=0.5"],
        "",
    ));
    assert!(out.report.blocks.canonical_height >= 5);
    assert_converged_or_final_tie(&out);
    let delivered: u64 = out.net.delivered.values().sum();
    assert!(out.net.tcp_sent > 0, "some links are TCP");
    assert!(delivered > out.net.tcp_sent, "some links are in memory");
    let pairs = connected_pairs(&out);
    assert!(!pairs.is_empty() && pairs.len() < 9, "{pairs:?}");
    assert!(out.report.txs.confirmed > 0);
}

#[test]
fn explicit_tcp_links_must_be_topology_links() {
    let cfg = config(
        &[
            "network.transport=mixed",
            "network.topology=[[0,1],[1,2],[2,3],[3,4],[4,5]]",
            "network.tcp_links=[[0,5]]",
        ],
        "",
    );
    let err = run(cfg, RunOptions::default()).unwrap_err().to_string();
    assert!(err.contains("[0, 5] is not a link"), "{err}");
    let err = Config::parse(
        &base().text(),
        "t.toml",
        &[
            "network.transport=tcp".into(),
            "cluster.clock=virtual".into(),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("cluster.clock = \"real\""), "{err}");
}

#[test]
fn a_partition_cuts_tcp_links_and_healing_reconverges() {
    let out = run_ok(config(
        &["network.transport=tcp"],
        r#"
        [[faults]]
        at = "1s"
        for = "1500ms"
        kind = "partition"
        groups = [[0, 1, 2], [3, 4, 5]]
        "#,
    ));
    assert!(out.net.dropped_partitioned > 0, "{:?}", out.net);
    // No block crossed the cut while it stood: a block mined on one side during the window
    // is imported on the other side only after the heal.
    let side = |n: NodeId| n < 3;
    let blocks = mined(&out);
    for r in &out.events {
        if let Event::BlockImported { hash, .. } = r.event {
            if let Some(m) = blocks.iter().find(|m| m.hash == hash) {
                let crossed = side(m.miner) != side(r.node);
                if crossed && m.t > 1_050 && m.t < 2_450 {
                    assert!(
                        r.t_ms >= 2_450,
                        "block mined at {} ms by {} reached node {} at {} ms, inside the partition",
                        m.t,
                        m.miner,
                        r.node,
                        r.t_ms
                    );
                }
            }
        }
    }
    assert_converged_or_final_tie(&out);
    // The TCP connections themselves stayed up: the fault layer cut the messages.
    assert_eq!(out.report.connections.discouraged, 0);
}

#[test]
fn a_crashed_tcp_node_reconnects_and_catches_up() {
    let out = run_ok(config(
        &["network.transport=tcp"],
        r#"
        [[faults]]
        at = "1s"
        for = "1500ms"
        kind = "crash"
        node = 2
        "#,
    ));
    // Its neighbours saw the connections end, then node 2 handshook again after its restart.
    let ended = out
        .events
        .iter()
        .filter(|r| {
            matches!(&r.event, Event::PeerDisconnected(d) if d.peer == 2)
                && (1_000..2_500).contains(&r.t_ms)
        })
        .count();
    assert!(ended >= 1, "no neighbour saw node 2 go");
    let back = out
        .events
        .iter()
        .filter(|r| {
            r.node == 2 && matches!(r.event, Event::PeerConnected { .. }) && r.t_ms >= 2_500
        })
        .count();
    assert!(back >= 3, "node 2 reconnected to {back} peers");
    let f = &out.report.faults[0];
    assert!(
        f.effect.catch_up_s.is_some_and(|c| c.is_some()),
        "no catch-up measured: {f:?}"
    );
    assert_converged_or_final_tie(&out);
}

/// A wipe restarts the node at once with an empty store: its TCP port is taken again while the
/// old endpoint is still closing, and it resyncs the chain over TCP.
#[test]
fn a_wiped_tcp_node_gets_its_port_back_and_resyncs() {
    let out = run_ok(config(
        &["network.transport=tcp"],
        r#"
        [[faults]]
        at = "1500ms"
        kind = "wipe"
        node = 3
        "#,
    ));
    let back = out
        .events
        .iter()
        .filter(|r| {
            r.node == 3 && matches!(r.event, Event::PeerConnected { .. }) && r.t_ms >= 1_500
        })
        .count();
    assert!(
        back >= 3,
        "node 3 reconnected to {back} peers after the wipe"
    );
    let restarted = out.events.iter().any(|r| {
        r.node == 3 && r.t_ms >= 1_500 && matches!(r.event, Event::NodeStarted { height: 0 })
    });
    assert!(restarted, "node 3 restarted from an empty store");
    assert_converged_or_final_tie(&out);
}
