//! The eclipse attacker (Heilman et al. 2015, "Eclipse Attacks on Bitcoin's Peer-to-Peer
//! Network"), as decisions: the adversary's nodes hold every connection of a victim node
//! ([`rewire`]), and screen what they send it ([`Eclipse::screen_block`],
//! [`Eclipse::screen_tx`]). Three modes:
//!
//! - **delay**: an attacker node shows the victim a block only `delay` after the block reached
//!   its own best chain, and a transaction `delay` after it relays it. The victim's view is the
//!   network's of `delay` ago: it lags by the blocks mined in the last `delay`, delay/I on
//!   average (docs/experiments.md, "Eclipse").
//! - **filter**: the victim is shown no block and no transaction: it stays on its own chain
//!   (genesis, if it does not mine) while the network moves on.
//! - **branch**: one attacker node mines a private branch shown only to the victim. On it the
//!   attacker pays the victim; on the public chain it spends the same coins to itself. The
//!   victim, seeing only the attacker's chain, counts `confirmations` = z blocks on the payment
//!   once the attacker has mined them: a time Gamma(z, I/α). The attacker then keeps the victim
//!   eclipsed for at least `delay` (the victim's time to hand the goods over), and until the
//!   public chain it has seen is longer than its branch, and **releases** it: from then on it
//!   relays the public chain to it, the victim reorganises onto it at once and the payment is
//!   gone. (Released while its branch was still the longer, the victim would keep the
//!   payment until the public chain overtook it, and so would the attacker's own node.) The
//!   next attempt starts once the attacker's node is back on the public chain.
//!
//! Blocks of the branch are never shown to any node but the victim. The attacker nodes relay
//! what the victim sends (its blocks and transactions) to the rest of the network as honest
//! nodes do.

use super::attempt::{Attempts, Confirming};
use crate::hash::Hash;
use crate::NodeId;
use rand::seq::SliceRandom;
use rand::Rng;
use std::collections::{BTreeMap, BTreeSet};

/// What the attacker nodes do to the victim's view.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything reaches the victim `delay` late.
    Delay,
    /// Nothing reaches the victim.
    Filter,
    /// The victim sees the attacker's private branch only, until released.
    Branch,
}

/// What to do with one item on its way to the victim.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send it now.
    Pass,
    /// Send it at this time (cluster ms).
    Hold(u64),
    /// Never send it.
    Drop,
}

/// Where an attempt stood when the victim was released.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Release {
    /// The attempt's number (from 0).
    pub attempt: u64,
    /// Private blocks fed to the victim above the fork point.
    pub fed: u64,
    /// Confirmations of the payment on the victim's view (the attacker's blocks).
    pub confirmations: u64,
    /// Height of the private block holding the payment (0: none held it).
    pub payment_height: u64,
}

/// An attempt in progress (branch mode).
#[derive(Clone, Debug)]
struct Attempt {
    number: u64,
    /// The private branch fed to the victim, which carries the payment.
    branch: Confirming,
    /// Highest public block seen above the fork point.
    public: u64,
}

impl Attempt {
    fn release(&self) -> Release {
        Release {
            attempt: self.number,
            fed: self.branch.above(),
            confirmations: self.branch.confirmations(),
            payment_height: self.branch.payment.unwrap_or(0),
        }
    }
}

/// One attacker node's screen of the victim's view, and in branch mode its attempts. See the
/// module doc.
#[derive(Clone, Debug)]
pub struct Eclipse {
    mode: Mode,
    delay_ms: u64,
    z: u64,
    /// When each block reached this node's best chain.
    seen: BTreeMap<Hash, u64>,
    /// Branch mode: every private block ever mined, never shown to any node but the victim.
    branch: BTreeSet<Hash>,
    attempts: Attempts<Attempt>,
}

impl Eclipse {
    /// A screen in `mode`; `delay_ms`: the delay (delay mode) or how long the victim stays
    /// eclipsed after its `z`-th confirmation (branch mode); `z` at least 1 (0 is taken as 1).
    pub fn new(mode: Mode, delay_ms: u64, z: u32) -> Eclipse {
        Eclipse {
            mode,
            delay_ms,
            z: u64::from(z.max(1)),
            seen: BTreeMap::new(),
            branch: BTreeSet::new(),
            attempts: Attempts::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// A block reached this node's best chain at `now_ms` (the first time counts).
    pub fn note_block(&mut self, hash: Hash, now_ms: u64) {
        self.seen.entry(hash).or_insert(now_ms);
    }

    /// Whether `hash` is a private block: never shown to any node but the victim.
    pub fn private(&self, hash: &Hash) -> bool {
        self.branch.contains(hash)
    }

    /// Marks `hash` private (a block this node mined on an abandoned branch after a release).
    pub fn keep_private(&mut self, hash: Hash) {
        self.branch.insert(hash);
    }

    /// What to do with block `hash` (of `height`, if known) on its way to the victim at
    /// `now_ms`.
    ///
    /// - delay: pass once `delay` has passed since it reached this node's best chain, hold it
    ///   until then (a block this node never had on its best chain passes: it is old);
    /// - filter: drop;
    /// - branch, an attempt open: pass the private blocks and the blocks at or below the fork
    ///   point (the victim may still be catching up to it), drop the rest (the public chain
    ///   above the fork point, and blocks of unknown height); no attempt open: pass.
    pub fn screen_block(&self, hash: &Hash, height: Option<u64>, now_ms: u64) -> Verdict {
        match self.mode {
            Mode::Delay => match self.seen.get(hash) {
                Some(t) if t.saturating_add(self.delay_ms) > now_ms => {
                    Verdict::Hold(t.saturating_add(self.delay_ms))
                }
                _ => Verdict::Pass,
            },
            Mode::Filter => Verdict::Drop,
            Mode::Branch => {
                let Some(a) = self.attempts.open() else {
                    return Verdict::Pass;
                };
                if self.branch.contains(hash) || height.is_some_and(|h| h <= a.branch.fork) {
                    Verdict::Pass
                } else {
                    Verdict::Drop
                }
            }
        }
    }

    /// What to do with a transaction on its way to the victim at `now_ms`: held for `delay`
    /// (delay), dropped (filter), passed (branch: the attacker's own conflicting spend is
    /// never sent to it).
    pub fn screen_tx(&self, now_ms: u64) -> Verdict {
        match self.mode {
            Mode::Delay if self.delay_ms > 0 => Verdict::Hold(now_ms.saturating_add(self.delay_ms)),
            Mode::Delay | Mode::Branch => Verdict::Pass,
            Mode::Filter => Verdict::Drop,
        }
    }

    /// Branch mode: starts an attempt on this node's tip at `fork_height`; returns its number.
    pub fn start(&mut self, fork_height: u64) -> u64 {
        self.attempts.start(|number| Attempt {
            number,
            branch: Confirming::new(fork_height),
            public: fork_height,
        })
    }

    /// Whether an attempt is open (the victim is fed the private branch).
    pub fn is_open(&self) -> bool {
        self.attempts.open().is_some()
    }

    /// Attempts started so far.
    pub fn started(&self) -> u64 {
        self.attempts.started()
    }

    /// The open attempt's number.
    pub fn attempt(&self) -> Option<u64> {
        self.attempts.open().map(|a| a.number)
    }

    /// Branch mode: this node mined `hash` at `height` on its private branch at `now_ms`;
    /// `holds_payment`: it holds the payment to the victim. Returns whether the block is
    /// private (fed to the victim only): always, with an attempt open above its fork point.
    pub fn on_own_block(
        &mut self,
        hash: Hash,
        height: u64,
        holds_payment: bool,
        now_ms: u64,
    ) -> bool {
        let z = self.z;
        let Some(a) = self.attempts.open_mut() else {
            return false;
        };
        if height <= a.branch.fork {
            return false;
        }
        a.branch.grow(height, holds_payment, z, now_ms);
        self.branch.insert(hash);
        true
    }

    /// When the open attempt releases the victim unless a block changes things first:
    /// `delay` after the payment's `z`-th confirmation was fed to it, if the public chain is
    /// longer than the branch (if not, a public block has to come first: no time is due).
    pub fn due(&self) -> Option<u64> {
        let a = self.attempts.open()?;
        if a.public <= a.branch.top {
            return None;
        }
        (a.branch.confirmed_at).map(|c| c.saturating_add(self.delay_ms))
    }

    /// Time passed: releases the victim if [`Eclipse::due`] has come (the attempt is over).
    pub fn on_tick(&mut self, now_ms: u64) -> Option<Release> {
        if self.due().is_some_and(|d| now_ms >= d) {
            return self.attempts.close().map(|a| a.release());
        }
        None
    }

    /// Branch mode: a public block of `height` reached this node at `now_ms`; the victim may be
    /// released now ([`Eclipse::due`]).
    pub fn on_public_block(&mut self, height: u64, now_ms: u64) -> Option<Release> {
        let a = self.attempts.open_mut()?;
        a.public = a.public.max(height);
        self.on_tick(now_ms)
    }
}

/// Rewires `adj` (sorted adjacency lists) so that every connection of `victim` is to an
/// attacker node: the victim's links to other nodes are cut and it is linked to every node
/// of `attackers` instead (Heilman et al.: the attacker fills all of the victim's connection
/// slots). The nodes that lost their link to the victim are paired up, in an order drawn from
/// `rng`, and each pair linked (each keeps its degree when the pair was not linked already);
/// then, if the nodes other than the victim fall apart, each part is linked to the part of
/// node with the lowest id, lowest node to lowest node. The victim and nodes out of range are
/// left alone when `victim` is out of range.
pub fn rewire(adj: &mut [Vec<NodeId>], victim: NodeId, attackers: &[NodeId], rng: &mut impl Rng) {
    let n = adj.len();
    if victim >= n {
        return;
    }
    let attackers: BTreeSet<NodeId> = attackers
        .iter()
        .copied()
        .filter(|a| *a < n && *a != victim)
        .collect();
    let mut cut: Vec<NodeId> = adj[victim]
        .iter()
        .copied()
        .filter(|u| !attackers.contains(u))
        .collect();
    for &u in &cut {
        adj[u].retain(|x| *x != victim);
    }
    adj[victim] = attackers.iter().copied().collect();
    for &a in &attackers {
        if !adj[a].contains(&victim) {
            adj[a].push(victim);
        }
    }
    cut.shuffle(rng);
    let link = |adj: &mut [Vec<NodeId>], a: NodeId, b: NodeId| {
        if a != b && !adj[a].contains(&b) {
            adj[a].push(b);
            adj[b].push(a);
        }
    };
    for pair in cut.chunks(2) {
        if let [a, b] = pair {
            link(adj, *a, *b);
        }
    }
    // Connect the rest: label the parts of the graph without the victim.
    let mut part = vec![usize::MAX; n];
    let mut leaders = Vec::new();
    for start in (0..n).filter(|i| *i != victim) {
        if part[start] != usize::MAX {
            continue;
        }
        let label = leaders.len();
        leaders.push(start);
        let mut stack = vec![start];
        part[start] = label;
        while let Some(x) = stack.pop() {
            for &y in &adj[x] {
                if y != victim && part[y] == usize::MAX {
                    part[y] = label;
                    stack.push(y);
                }
            }
        }
    }
    if let Some((&first, rest)) = leaders.split_first() {
        for &other in rest {
            link(adj, first, other);
        }
    }
    for l in adj.iter_mut() {
        l.sort_unstable();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::model::{build_topology, stream, Topology};

    /// Whether the nodes other than `victim` are connected without it.
    fn rest_connected(adj: &[Vec<NodeId>], victim: NodeId) -> bool {
        let start = usize::from(victim == 0);
        let mut seen = vec![false; adj.len()];
        seen[victim] = true;
        seen[start] = true;
        let mut stack = vec![start];
        while let Some(x) = stack.pop() {
            for &y in &adj[x] {
                if !seen[y] {
                    seen[y] = true;
                    stack.push(y);
                }
            }
        }
        seen.iter().all(|s| *s)
    }

    fn h(i: u8) -> Hash {
        Hash([i; 32])
    }

    #[test]
    fn delay_holds_a_block_until_delay_after_it_reached_the_attacker() {
        let mut e = Eclipse::new(Mode::Delay, 30_000, 1);
        e.note_block(h(1), 1_000);
        e.note_block(h(1), 5_000); // the first time counts
        assert_eq!(e.screen_block(&h(1), Some(1), 1_000), Verdict::Hold(31_000));
        assert_eq!(e.screen_block(&h(1), None, 30_999), Verdict::Hold(31_000));
        assert_eq!(e.screen_block(&h(1), None, 31_000), Verdict::Pass);
        // A block it never had on its best chain is old news.
        assert_eq!(e.screen_block(&h(2), None, 0), Verdict::Pass);
        assert_eq!(e.screen_tx(7), Verdict::Hold(30_007));
        assert_eq!(Eclipse::new(Mode::Delay, 0, 1).screen_tx(7), Verdict::Pass);
    }

    #[test]
    fn filter_drops_everything() {
        let mut e = Eclipse::new(Mode::Filter, 0, 1);
        e.note_block(h(1), 0);
        assert_eq!(e.screen_block(&h(1), Some(1), 1_000_000), Verdict::Drop);
        assert_eq!(e.screen_tx(0), Verdict::Drop);
        assert!(
            !e.on_own_block(h(2), 1, false, 0),
            "no attempt in filter mode"
        );
    }

    #[test]
    fn branch_feeds_its_own_blocks_and_releases_delay_after_z_confirmations() {
        let mut e = Eclipse::new(Mode::Branch, 500, 2);
        // Before an attempt: everything passes.
        assert_eq!(e.screen_block(&h(9), Some(50), 0), Verdict::Pass);
        assert_eq!(e.start(10), 0);
        assert!(e.is_open());
        // Public blocks above the fork point are dropped, below pass, unknown height drops.
        assert_eq!(e.screen_block(&h(9), Some(11), 0), Verdict::Drop);
        assert_eq!(e.screen_block(&h(8), Some(10), 0), Verdict::Pass);
        assert_eq!(e.screen_block(&h(7), None, 0), Verdict::Drop);
        // At or below the fork point: not the attempt's.
        assert!(!e.on_own_block(h(0), 10, false, 0));
        // The payment's block: one confirmation on the victim's view.
        assert!(e.on_own_block(h(1), 11, true, 100));
        assert!(e.private(&h(1)));
        assert_eq!(e.screen_block(&h(1), Some(11), 100), Verdict::Pass);
        assert_eq!(e.due(), None);
        assert_eq!(e.on_tick(10_000), None);
        assert!(e.on_own_block(h(2), 12, false, 1_000));
        // z confirmations, but the branch (12) leads the public chain (10): nothing due.
        assert_eq!(e.due(), None);
        assert_eq!(
            e.on_public_block(12, 1_100),
            None,
            "12 is not longer than 12"
        );
        assert_eq!(e.on_public_block(13, 1_100), None, "not yet delay after");
        assert_eq!(e.due(), Some(1_500));
        assert_eq!(e.on_tick(1_499), None);
        // A third block meanwhile is fed too (13 = 13: nothing due); a public block at 14
        // makes the release due at 1500.
        assert!(e.on_own_block(h(3), 13, false, 1_200));
        assert_eq!(e.due(), None);
        assert_eq!(e.on_public_block(14, 1_300), None);
        let r = e.on_tick(1_500).expect("released");
        assert_eq!(
            r,
            Release {
                attempt: 0,
                fed: 3,
                confirmations: 3,
                payment_height: 11
            }
        );
        assert!(!e.is_open());
        // Released: the public chain passes; the branch stays private.
        assert_eq!(e.screen_block(&h(9), Some(11), 2_000), Verdict::Pass);
        assert!(e.private(&h(2)));
        assert_eq!(e.start(20), 1);
        assert_eq!(e.started(), 2);
        assert_eq!(e.attempt(), Some(1));
        // A payment in a later block counts from there.
        assert!(e.on_own_block(h(4), 21, false, 0));
        assert!(e.on_own_block(h(5), 22, true, 0));
        assert!(e.on_own_block(h(6), 23, false, 0));
        // The public block that makes the public chain longer releases at once, `delay`
        // having passed.
        assert_eq!(e.on_tick(500), None);
        assert_eq!(e.on_public_block(24, 600).map(|r| r.confirmations), Some(2));
    }

    #[test]
    fn rewiring_gives_the_victim_to_the_attackers_and_keeps_the_rest_connected() {
        for seed in 0..20 {
            let n = 12;
            let mut adj = build_topology(
                &Topology::Named("random-regular".into()),
                n,
                4,
                &mut stream(seed, "topology", 0),
            )
            .unwrap();
            let victim = (seed as usize) % n;
            let attackers: Vec<NodeId> = (0..3).map(|i| (victim + 1 + 4 * i) % n).collect();
            let before = adj.clone();
            rewire(
                &mut adj,
                victim,
                &attackers,
                &mut stream(seed, "eclipse", 0),
            );
            let mut want = attackers.clone();
            want.sort_unstable();
            assert_eq!(adj[victim], want, "seed {seed}");
            for (a, list) in adj.iter().enumerate() {
                assert_eq!(list.contains(&victim), want.contains(&a), "seed {seed}");
                for b in list {
                    assert!(adj[*b].contains(&a), "symmetric");
                }
                let mut s = list.clone();
                s.dedup();
                assert_eq!(&s, list, "sorted, no repeats");
            }
            assert!(rest_connected(&adj, victim), "seed {seed}");
            // Same seed, same graph.
            let mut again = before.clone();
            rewire(
                &mut again,
                victim,
                &attackers,
                &mut stream(seed, "eclipse", 0),
            );
            assert_eq!(again, adj);
        }
        // A ring cut at the victim is mended.
        let mut ring = build_topology(
            &Topology::Named("ring".into()),
            6,
            2,
            &mut stream(0, "t", 0),
        )
        .unwrap();
        rewire(&mut ring, 0, &[3], &mut stream(0, "e", 0));
        assert_eq!(ring[0], vec![3]);
        assert!(rest_connected(&ring, 0));
        // Out of range: nothing happens.
        let mut same = ring.clone();
        rewire(&mut same, 9, &[1], &mut stream(0, "e", 0));
        assert_eq!(same, ring);
    }
}
