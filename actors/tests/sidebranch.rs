//! Cheap side branches over a real socket (issue 9, attack 1): a peer that claims a node id
//! (whose key anyone with the config derives) feeds node 0 of a three-node TCP cluster
//! thousands of blocks forked from genesis at the initial difficulty, by every route a block
//! can take: announced and fetched, pushed as an unsolicited sync reply, and as the reply to
//! the syncs node 0 then asks of it.
//!
//! Node 0 must store none of them (memory and store stay as they were), announce none of them
//! to anyone, keep relaying its own blocks, and count the refusals toward the sender's flood
//! limit: a peer that keeps pushing them is disconnected and discouraged.

mod support;

use chainlab::block::Block;
use chainlab::chain::store::BlockStore;
use chainlab::config::Config;
use chainlab::consensus::pow::grind;
use chainlab::net::wire::{WireMsg, MAX_SYNC_BLOCKS};
use chainlab::net::{
    check_hello, decode_frame, encode_frame, make_hello, node_key, sign_auth, verify_auth,
    AllowedPeers, Frame, HandshakeRules, FIRST_UNLISTED_HANDLE, LENGTH_FIELD_BYTES,
};
use chainlab::report::Event;
use chainlab::{Address, ChainState, Hash};
use chainlab_actors::cluster::{Cluster, RunOptions};
use chainlab_actors::node::messages::{ChainSummary, GetChainSummary};
use chainlab_actors::store_sled::{open_db, SledStore};
use std::collections::BTreeSet;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::config::Toml;

const SEED: u64 = 11;
/// `consensus.max_fork_depth`: node 0 reaches twice this before the attack.
const MAX_FORK_DEPTH: u64 = 8;
/// `tcp.flood_limit`: useless items per 10 s (above what the first attacker sends).
const FLOOD_LIMIT: u64 = 4_000;
/// Blocks on genesis, each from another miner, announced and then fetched by node 0.
const SIBLINGS: usize = 2_500;
/// Length of the chain forked from genesis, pushed as unsolicited sync replies.
const CHAIN: usize = 2_560;
/// Sync requests of node 0 the attacker answers with its chain.
const SYNC_ANSWERS: usize = 5;
/// What a refusal or a reply may take to arrive.
const IMMEDIATE: Duration = Duration::from_secs(2);

fn config(dir: &std::path::Path) -> Config {
    let data_dir = format!(
        "storage.data_dir={}",
        toml::Value::String(dir.display().to_string())
    );
    Toml::real_clock()
        .with(&[
            &format!("cluster.seed={SEED}"),
            "cluster.duration=120s",
            "cluster.settle=1s",
            "network.transport=tcp",
            "consensus.block_interval=300ms",
            &format!("consensus.max_fork_depth={MAX_FORK_DEPTH}"),
            "workload.tx_rate=0.0",
            "storage.backend=sled",
            "storage.cache_mb=4",
            &data_dir,
        ])
        .config(
            "sidebranch.toml",
            &[],
            &format!(
                r#"
                [pow]
                hashpower = [1.0, 0.0, 0.0]
                [tcp]
                # The attacker's connections claim ids beyond the cluster (an open network).
                peers_allowed = "any"
                flood_limit = {FLOOD_LIMIT}
                ping_interval = "500ms"
                "#
            ),
        )
}

fn framed(f: &Frame) -> Vec<u8> {
    let body = encode_frame(f);
    let mut v = (body.len() as u32).to_be_bytes().to_vec();
    v.extend_from_slice(&body);
    v
}

/// A raw connection that completed the handshake as some node id.
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

enum Got {
    Frame(Frame),
    Closed,
    Timeout,
}

impl Conn {
    fn join(addr: SocketAddr, rules: &HandshakeRules) -> Conn {
        let s = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).expect("connects");
        s.set_nodelay(true).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut c = Conn { s, buf: Vec::new() };
        let key = node_key(SEED, rules.node);
        let mut challenge = [0u8; 32];
        challenge[..4].copy_from_slice(&rules.node.to_le_bytes());
        let ours = make_hello(rules, challenge);
        c.send(&Frame::Hello(ours.clone()));
        let Got::Frame(Frame::Hello(theirs)) = c.recv(Instant::now() + IMMEDIATE) else {
            panic!("no hello from node 0");
        };
        check_hello(rules, &theirs).expect("node 0's hello is valid");
        c.send(&Frame::Auth(sign_auth(rules, &key, &theirs)));
        let Got::Frame(Frame::Auth(sig)) = c.recv(Instant::now() + IMMEDIATE) else {
            panic!("no auth from node 0");
        };
        verify_auth(rules, &ours, &theirs, &sig).expect("node 0's auth verifies");
        c
    }

    /// Writes a frame; false once node 0 closed the connection.
    fn send(&mut self, f: &Frame) -> bool {
        self.s.write_all(&framed(f)).is_ok()
    }

    fn msg(&mut self, m: WireMsg) -> bool {
        self.send(&Frame::Msg(m))
    }

    /// The next frame other than a ping (answered), the end of the stream, or the deadline.
    fn recv(&mut self, deadline: Instant) -> Got {
        loop {
            if self.buf.len() >= LENGTH_FIELD_BYTES {
                let len =
                    u32::from_be_bytes(self.buf[..LENGTH_FIELD_BYTES].try_into().unwrap()) as usize;
                if self.buf.len() >= LENGTH_FIELD_BYTES + len {
                    let body: Vec<u8> = self
                        .buf
                        .drain(..LENGTH_FIELD_BYTES + len)
                        .skip(LENGTH_FIELD_BYTES)
                        .collect();
                    match decode_frame(&body).expect("node 0 sends valid frames") {
                        Frame::Ping(n) => {
                            let _ = self.send(&Frame::Pong(n));
                            continue;
                        }
                        f => return Got::Frame(f),
                    }
                }
            }
            let now = Instant::now();
            if now >= deadline {
                return Got::Timeout;
            }
            self.s
                .set_read_timeout(Some((deadline - now).max(Duration::from_millis(1))))
                .unwrap();
            let mut chunk = vec![0u8; 64 * 1024];
            match self.s.read(&mut chunk) {
                Ok(0) => return Got::Closed,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return Got::Closed,
            }
        }
    }
}

/// What the attacker saw.
struct Seen {
    /// Attacker blocks node 0 fetched after their announcement.
    fetched: usize,
    /// Sync requests node 0 sent to the attacker (answered up to [`SYNC_ANSWERS`]).
    sync_requests: usize,
    /// Attacker blocks node 0 announced to the listening peer.
    relayed: usize,
    /// Announcements of node 0's own blocks the listening peer got meanwhile.
    honest_invs: usize,
    /// Seconds the pushing peer lasted before node 0 closed its connection.
    flood_closed_after: f64,
}

fn attack(
    addr: SocketAddr,
    rules: impl Fn(u32) -> HandshakeRules,
    params: Arc<chainlab::chain::params::ChainParams>,
) -> Seen {
    // The blocks: siblings on genesis (one per miner address) and one long chain from genesis,
    // all at the initial difficulty.
    let mut base = ChainState::new(params.clone());
    let t = Instant::now();
    let siblings: Vec<Arc<Block>> = (0..SIBLINGS)
        .map(|i| {
            let mut miner = [0xa0; 20];
            miner[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let mut b = base
                .build_block(&[], Vec::new(), Address(miner), 1_000)
                .expect("the reward fits");
            grind(&mut b.header, 0, u64::MAX).expect("sealed");
            Arc::new(b)
        })
        .collect();
    let mut chain = Vec::with_capacity(CHAIN);
    for i in 1..=CHAIN as u64 {
        let mut b = base
            .build_block(&[], Vec::new(), Address([0xb0; 20]), i * 300)
            .expect("the reward fits");
        grind(&mut b.header, 0, u64::MAX).expect("sealed");
        let checked =
            chainlab::chain::validation::check_block(Arc::new(b), &params, None).expect("valid");
        chain.push(checked.block().clone());
        base.import(checked, u64::MAX / 4, 0).expect("extends");
    }
    eprintln!(
        "  {} blocks ground in {:.1} s",
        SIBLINGS + CHAIN,
        t.elapsed().as_secs_f64()
    );
    let ours: BTreeSet<Hash> = siblings.iter().chain(&chain).map(|b| b.hash()).collect();

    let mut listener = Conn::join(addr, &rules(101));
    let mut c = Conn::join(addr, &rules(100));
    // 1. Announced, fetched, delivered.
    let hashes: Vec<Hash> = siblings.iter().map(|b| b.hash()).collect();
    assert!(c.msg(WireMsg::Inv {
        blocks: hashes,
        txs: Vec::new()
    }));
    let mut fetched = 0;
    while fetched < SIBLINGS {
        match c.recv(Instant::now() + IMMEDIATE) {
            Got::Frame(Frame::Msg(WireMsg::GetData { blocks, .. })) => {
                for h in blocks {
                    let b = siblings.iter().find(|b| b.hash() == h).expect("ours");
                    assert!(c.msg(WireMsg::Block(b.clone())), "kept open");
                    fetched += 1;
                }
            }
            Got::Frame(_) => {}
            Got::Closed => panic!("node 0 closed the connection during the siblings"),
            Got::Timeout => panic!("node 0 fetched only {fetched} of {SIBLINGS} siblings"),
        }
    }
    // 2. The chain, pushed as sync replies nobody asked for.
    for chunk in chain.chunks(MAX_SYNC_BLOCKS) {
        assert!(c.msg(WireMsg::Blocks {
            blocks: chunk.to_vec(),
            more: true
        }));
    }
    // 3. Node 0 asks the attacker for a sync (its blocks had unknown parents): the attacker
    //    answers with its chain from genesis, as a sync reply it was asked for.
    let mut sync_requests = 0;
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        match c.recv(deadline) {
            Got::Frame(Frame::Msg(WireMsg::GetBlocks { .. })) => {
                sync_requests += 1;
                if sync_requests <= SYNC_ANSWERS {
                    let from = (sync_requests - 1) * MAX_SYNC_BLOCKS;
                    assert!(c.msg(WireMsg::Blocks {
                        blocks: chain[from..from + MAX_SYNC_BLOCKS].to_vec(),
                        more: true
                    }));
                }
            }
            Got::Frame(_) => {}
            Got::Closed => panic!("node 0 closed the first attacker's connection"),
            Got::Timeout => break,
        }
    }
    // What the listening peer was told meanwhile: node 0's own blocks, none of ours.
    let mut relayed = 0;
    let mut honest_invs = 0;
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        match listener.recv(deadline) {
            Got::Frame(Frame::Msg(WireMsg::Inv { blocks, .. })) => {
                for h in blocks {
                    if ours.contains(&h) {
                        relayed += 1;
                    } else {
                        honest_invs += 1;
                    }
                }
            }
            Got::Frame(Frame::Msg(WireMsg::Block(b))) if ours.contains(&b.hash()) => relayed += 1,
            Got::Frame(_) => {}
            Got::Closed => panic!("node 0 closed the listener"),
            Got::Timeout => break,
        }
    }
    // 4. A peer pushing the siblings again and again crosses the flood limit.
    let mut pusher = Conn::join(addr, &rules(102));
    let t = Instant::now();
    let mut closed = false;
    'push: for _ in 0..4 {
        for b in &siblings {
            if !pusher.msg(WireMsg::Block(b.clone())) {
                closed = true;
                break 'push;
            }
        }
        // Let node 0 read what is queued before the next pass.
        let deadline = Instant::now() + Duration::from_millis(300);
        loop {
            match pusher.recv(deadline) {
                Got::Closed => {
                    closed = true;
                    break 'push;
                }
                Got::Timeout => break,
                Got::Frame(_) => {}
            }
        }
    }
    if !closed {
        let deadline = Instant::now() + IMMEDIATE;
        loop {
            match pusher.recv(deadline) {
                Got::Closed => break,
                Got::Timeout => panic!("node 0 kept the pushing peer"),
                Got::Frame(_) => {}
            }
        }
    }
    Seen {
        fetched,
        sync_requests,
        relayed,
        honest_invs,
        flood_closed_after: t.elapsed().as_secs_f64(),
    }
}

async fn summaries(cluster: &Cluster) -> Vec<ChainSummary> {
    let asks: Vec<_> = cluster
        .live_nodes()
        .map(|h| h.chain.send(GetChainSummary { with_chain: false }))
        .collect();
    let mut out = Vec::new();
    for a in asks {
        out.push(a.await.expect("answers"));
    }
    out
}

fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[test]
fn thousands_of_cheap_side_blocks_are_neither_stored_nor_relayed() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path());
    let params = Arc::new(cfg.chain_params());
    let chain_id = cfg.consensus.chain_id;
    let genesis = params.genesis_block().hash();
    let rules = move |node: u32| HandshakeRules {
        chain_id,
        genesis,
        node,
        // A claimed cluster id proves itself with the key derived for it (in-process
        // clusters list the derived keys).
        key: node_key(SEED, node).public,
        allowed: Arc::new(AllowedPeers::open()),
    };
    let mode = cfg.cluster.clock;
    let attack_params = params.clone();
    let (out, seen, before, after, rss) = chainlab_actors::runtime::block_on(mode, async move {
        let mut cluster = Cluster::start(cfg, &RunOptions::default()).expect("starts");
        let addr = cluster.tcp_addr(0).expect("node 0 listens");
        let step = Duration::from_millis(50);
        let mut t = Duration::ZERO;
        // Node 0 past twice the fork depth, followed by nodes 1 and 2.
        loop {
            t += step;
            cluster.advance_to(t).await.expect("runs");
            let s = summaries(&cluster).await;
            if s.iter().all(|s| s.height >= 2 * MAX_FORK_DEPTH) {
                break;
            }
            assert!(t < Duration::from_secs(30), "no warm-up");
        }
        let before = summaries(&cluster).await;
        let rss_before = rss_kib();
        let (tx, rx) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            let seen = attack(addr, rules, attack_params);
            let _ = tx.send(());
            seen
        });
        loop {
            t += step;
            cluster.advance_to(t).await.expect("runs");
            match rx.try_recv() {
                Ok(()) | Err(std::sync::mpsc::TryRecvError::Disconnected) => break,
                Err(std::sync::mpsc::TryRecvError::Empty) => {}
            }
            assert!(t < Duration::from_secs(110), "the attack did not finish");
        }
        let seen = match thread.join() {
            Ok(s) => s,
            Err(p) => std::panic::resume_unwind(p),
        };
        let rss_after = rss_kib();
        let settle = t + Duration::from_secs(1);
        while t < settle {
            t += step;
            cluster.advance_to(t).await.expect("runs");
        }
        let after = summaries(&cluster).await;
        let out = cluster.finish().await.expect("finishes");
        (out, seen, before, after, (rss_before, rss_after))
    })
    .expect("runtime");

    eprintln!(
        "fetched {} siblings, {} sync requests, {} honest announcements, {} relayed; the \
         pusher was cut after {:.2} s; heights {:?} -> {:?}; side blocks {:?}; undo {:?}; \
         resident memory {:?} -> {:?} KiB",
        seen.fetched,
        seen.sync_requests,
        seen.honest_invs,
        seen.relayed,
        seen.flood_closed_after,
        before.iter().map(|s| s.height).collect::<Vec<_>>(),
        after.iter().map(|s| s.height).collect::<Vec<_>>(),
        after.iter().map(|s| s.side_blocks).collect::<Vec<_>>(),
        after.iter().map(|s| s.undo_records).collect::<Vec<_>>(),
        rss.0,
        rss.1,
    );
    assert_eq!(
        seen.fetched, SIBLINGS,
        "node 0 fetched every announced block"
    );
    assert!(
        seen.sync_requests >= 1,
        "node 0 never asked the attacker for a sync"
    );
    assert_eq!(seen.relayed, 0, "node 0 announced attacker blocks");
    assert!(
        seen.honest_invs > 0,
        "node 0 announced none of its own blocks"
    );
    for (n, s) in after.iter().enumerate() {
        assert_eq!(s.side_blocks, 0, "node {n} holds side blocks");
        assert!(
            s.undo_records as u64 <= MAX_FORK_DEPTH + 1,
            "node {n} holds {} undo records",
            s.undo_records
        );
        assert!(s.violations.is_empty(), "node {n}: {:?}", s.violations);
    }
    assert!(after[0].height > before[0].height + 5, "node 0 kept mining");
    let hs: Vec<u64> = after.iter().map(|s| s.height).collect();
    assert!(
        hs.iter().max().unwrap() - hs.iter().min().unwrap() <= 1,
        "{hs:?}"
    );
    // Every node imported only blocks node 0 mined: nothing of the attacker's was stored by
    // node 0 or relayed to nodes 1 and 2.
    let mined: BTreeSet<Hash> = out
        .events
        .iter()
        .filter_map(|r| match &r.event {
            Event::BlockMined(m) if r.node == 0 => Some(m.hash),
            _ => None,
        })
        .collect();
    for r in &out.events {
        if let Event::BlockImported { hash, height } = r.event {
            assert!(
                mined.contains(&hash),
                "node {} imported block {} at height {height}, not mined by node 0",
                r.node,
                hash.short()
            );
        }
    }
    // The first attacker stayed (its refusals stayed under the flood limit); the pusher was
    // disconnected and discouraged for flooding.
    let ev: Vec<Event> = out
        .events
        .iter()
        .filter(|r| r.node == 0)
        .map(|r| r.event)
        .collect();
    // Node 0 knows each attacker key by a handle it assigns in the order the handshakes
    // completed: the listener, the first attacker, the pusher.
    let handle = |nth: usize| (FIRST_UNLISTED_HANDLE + nth) as u64;
    let (attacker, pusher) = (handle(1), handle(2));
    assert!(ev.iter().any(|e| matches!(e,
        Event::PeerDiscouraged { peer, reason, .. } if *peer == pusher && reason.contains("flood"))));
    assert!(!ev
        .iter()
        .any(|e| matches!(e, Event::PeerDiscouraged { peer, .. } if *peer == attacker)));
    if let (Some(a), Some(b)) = rss {
        assert!(
            b.saturating_sub(a) < 64 * 1024,
            "resident memory grew from {a} KiB to {b} KiB"
        );
    }
    // The store holds the best chain and nothing else.
    let db = open_db(dir.path(), 4).expect("opens");
    let store = SledStore::open(&db, dir.path(), 0).expect("node 0's trees");
    let stored = store.load_blocks().expect("loads");
    let heights: Vec<u64> = stored.iter().map(|b| b.header.height).collect();
    let one_chain: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(
        heights, one_chain,
        "node 0 stored one block per height above genesis"
    );
    assert!(
        stored.len() as u64 >= after[0].height,
        "node 0 stored its chain"
    );
}
