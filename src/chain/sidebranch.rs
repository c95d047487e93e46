//! Side branches: which arriving blocks a node takes on a branch other than its best one, and
//! how long it keeps them.
//!
//! Modelled on Bitcoin Core, whose rules have survived real attackers:
//!
//! - **Unrequested blocks with less work are not processed** (`AcceptBlock`: `fRequested`,
//!   `fHasMoreOrSameWork`). Here a block is "requested" when it comes in the reply to a sync
//!   this node asked for (the branch the sync follows is the peer's best; Bitcoin downloads a
//!   branch only after its headers showed more work). A block fetched after an `inv` was asked
//!   for blindly (there are no headers), so it counts as unrequested: it is processed only
//!   when its branch has at least the tip's work. Its work is what its header claims; a false
//!   claim fails the seal checks that follow and is punished.
//! - **No fork below a floor** (Bitcoin Core's checkpoints, `bad-fork-prior-to-checkpoint`;
//!   Bitcoin ABC's rolling finalization, which refuses reorgs deeper than 10 blocks). The
//!   floor is `max_fork_depth` below the highest tip this node has had, or the engine's final
//!   block, whichever is higher; it never goes down. A block whose branch leaves the best chain
//!   below it is refused before any check, requested or not.
//! - **Bounded memory for side branches** (Bitcoin Core prunes; it keeps no block it will never
//!   need): a side branch leaving the best chain below the floor can never become the best, so
//!   it is pruned with its blocks, and undo data at or below the floor (no reorg can reach it)
//!   is dropped.

use super::validation::BlockError;
use super::ChainState;
use crate::block::BlockHeader;
use crate::hash::Hash;

impl ChainState {
    /// The lowest height a side branch may leave the best chain from.
    pub fn fork_floor(&self) -> u64 {
        self.fork_floor
    }

    /// Raises the fork floor after the tip moved: `max_fork_depth` below the tip, or the
    /// engine's final block, whichever is higher; never lower than before.
    pub(super) fn raise_fork_floor(&mut self) {
        let depth_floor = self.height().saturating_sub(self.params.max_fork_depth);
        let final_height = self
            .engine
            .finalized(self, &self.tip())
            .and_then(|f| self.entries.get(&f))
            .map_or(0, |e| e.info.height);
        self.fork_floor = self.fork_floor.max(depth_floor).max(final_height);
    }

    /// Whether a child of `parent` (stored) leaves the best chain at or above the fork floor.
    /// Walks back from `parent` at most until the floor.
    ///
    /// # Errors
    /// [`BlockError::ForkTooDeep`].
    pub(super) fn check_fork(&self, parent: &Hash) -> Result<(), BlockError> {
        if !self.fork_rules {
            return Ok(());
        }
        let mut h = *parent;
        loop {
            let Some(e) = self.entries.get(&h) else {
                return Ok(());
            };
            if e.info.height < self.fork_floor {
                return Err(BlockError::ForkTooDeep {
                    fork_height: e.info.height,
                    floor: self.fork_floor,
                });
            }
            if self.is_canonical(&h) {
                return Ok(());
            }
            h = e.info.block.header.parent;
        }
    }

    /// Whether a block with this header, whose parent is stored, is worth checking: its branch
    /// leaves the best chain at or above the fork floor, and, unless it is part of a requested
    /// sync (`from_sync`), its branch has at least the tip's work. Costs no signature check.
    ///
    /// # Errors
    /// [`BlockError::ForkTooDeep`] or [`BlockError::LessWork`].
    pub fn worth_checking(&self, header: &BlockHeader, from_sync: bool) -> Result<(), BlockError> {
        let Some(parent) = self.entries.get(&header.parent) else {
            return Ok(());
        };
        self.check_fork(&header.parent)?;
        if from_sync {
            return Ok(());
        }
        let work = parent
            .info
            .total_work
            .saturating_add(self.engine.weight(header));
        let tip_work = self.tip_work();
        if work < tip_work {
            return Err(BlockError::LessWork { work, tip_work });
        }
        Ok(())
    }

    /// Prunes what the fork floor made useless: side branches leaving the best chain below the
    /// floor (they can never become the best), and undo data at or below it (no reorg reaches
    /// it). Returns the pruned blocks (hash, height), for the store to delete.
    pub fn prune_side_branches(&mut self) -> Vec<(Hash, u64)> {
        let floor = self.fork_floor.min(self.height());
        let mut pruned = Vec::new();
        for height in self.pruned_below..floor {
            let on_best = self.canonical[height as usize];
            let next = self.canonical[height as usize + 1];
            let Some(kids) = self.entries.get_mut(&on_best).map(|e| &mut e.children) else {
                continue;
            };
            let mut stack: Vec<Hash> = kids.iter().copied().filter(|k| *k != next).collect();
            kids.retain(|k| *k == next);
            while let Some(h) = stack.pop() {
                if let Some(e) = self.entries.remove(&h) {
                    pruned.push((h, e.info.height));
                    stack.extend(e.children);
                }
            }
        }
        if let Some(exec) = self.exec.as_deref_mut() {
            exec.prune_undo(floor);
        }
        self.pruned_below = self.pruned_below.max(floor);
        pruned.sort_unstable_by_key(|(h, height)| (*height, *h));
        pruned
    }

    /// Blocks in the tree that are not on the best chain.
    pub fn side_block_count(&self) -> usize {
        self.entries.len() - self.canonical.len()
    }

    /// The height at and below which undo records are dropped (an executor outside the
    /// chain is told with [`Executor::prune_undo`](super::executor::Executor::prune_undo)).
    pub fn undo_floor(&self) -> u64 {
        self.pruned_below
    }

    /// Undo records held by the executor in place (one per best-chain block above the fork
    /// floor, at most).
    ///
    /// # Panics
    /// When the executor was moved out.
    pub fn undo_count(&self) -> usize {
        self.local().undo_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::{Block, CheckedBlock};
    use crate::chain::params::ChainParams;
    use crate::chain::validation::check_block;
    use crate::chain::ImportStatus;
    use crate::crypto::Address;
    use std::sync::Arc;

    fn chain(depth: u64) -> ChainState {
        let mut p = ChainParams::for_tests(Vec::new());
        p.max_fork_depth = depth;
        ChainState::new(Arc::new(p))
    }

    /// A sealed, checked empty block on `parent` of `c` (by `miner`, at time `t` or just after
    /// the median past).
    fn child(c: &ChainState, parent: Hash, miner: u8, t: u64) -> CheckedBlock {
        let mut b: Block = c_clone_at(c, parent)
            .build_block(&[], Vec::new(), Address([miner; 20]), t)
            .expect("the reward fits");
        crate::consensus::pow::grind(&mut b.header, 0, u64::MAX).expect("sealed");
        check_block(Arc::new(b), c.params(), None).expect("checks")
    }

    /// A chain holding `parent`'s branch as its best (to build a block on it).
    fn c_clone_at(c: &ChainState, parent: Hash) -> ChainState {
        let mut branch = Vec::new();
        let mut h = parent;
        while h != c.genesis() {
            let b = c.get(&h).unwrap().clone();
            h = b.header.parent;
            branch.push(b);
        }
        let mut out = ChainState::new(c.params().clone());
        for b in branch.into_iter().rev() {
            let checked = check_block(b, c.params(), None).unwrap();
            out.import(checked, u64::MAX / 4, 0).unwrap();
        }
        out
    }

    fn extend(c: &mut ChainState, n: u64) -> Vec<Hash> {
        (0..n)
            .map(|_| {
                let t = 1_000 * (c.height() + 1);
                let b = child(c, c.tip(), 1, t);
                let h = b.hash;
                c.import(b, t, 0).unwrap();
                h
            })
            .collect()
    }

    #[test]
    fn announced_blocks_with_less_work_are_not_worth_checking_but_sync_replies_are() {
        let mut c = chain(100);
        extend(&mut c, 3);
        let genesis = c.genesis();
        let side = child(&c, genesis, 2, 500);
        assert!(matches!(
            c.worth_checking(&side.block.header, false),
            Err(BlockError::LessWork { .. })
        ));
        assert_eq!(c.worth_checking(&side.block.header, true), Ok(()));
        let tip = c.tip();
        let parent = c.get(&tip).unwrap().header.parent;
        let sibling = child(&c, parent, 2, 2_500);
        assert_eq!(
            c.worth_checking(&sibling.block.header, false),
            Ok(()),
            "as much work as the tip: a competing block is processed"
        );
        let next = child(&c, tip, 2, 4_000);
        assert_eq!(c.worth_checking(&next.block.header, false), Ok(()));
    }

    /// An orphan chain unlocked by its first block, whose last block makes the branch the best
    /// and whose first block then fails against state: none of it is reported as stored (the
    /// chain actor persists, traces and announces what `accepted` holds).
    #[test]
    fn an_unlocked_orphan_chain_that_fails_reports_nothing_stored() {
        let mut c = chain(100);
        extend(&mut c, 2);
        let genesis = c.genesis();
        let mut b1 = c_clone_at(&c, genesis)
            .build_block(&[], Vec::new(), Address([5; 20]), 500)
            .expect("the reward fits");
        b1.header.state_root = Hash([9; 32]);
        crate::consensus::pow::grind(&mut b1.header, 0, u64::MAX).expect("sealed");
        let b1 = check_block(Arc::new(b1), c.params(), None).unwrap();
        // b2 and b3 on b1 (same difficulty: no retarget before height 10; their state roots
        // are never reached).
        let mut parent = b1.hash;
        let mut later = Vec::new();
        for i in 2..=3u64 {
            let mut b = Block {
                header: b1.block.header.clone(),
                txs: Vec::new(),
                items: Vec::new(),
            };
            b.header.parent = parent;
            b.header.height = i;
            b.header.timestamp_ms = 500 * i;
            crate::consensus::pow::grind(&mut b.header, 0, u64::MAX).expect("sealed");
            let checked = check_block(Arc::new(b), c.params(), None).unwrap();
            parent = checked.hash;
            later.push(checked);
        }
        for b in later.into_iter().rev() {
            let out = c.import(b, 10_000, 0).unwrap();
            assert!(matches!(out.status, ImportStatus::Orphan { .. }));
        }
        let tip = c.tip();
        let out = c
            .import(b1, 10_000, 0)
            .expect("b1 itself is stored, then fails");
        assert!(
            out.accepted.is_empty(),
            "{} reported stored",
            out.accepted.len()
        );
        assert_eq!(out.rejected_orphans, 3);
        assert!(out.tip_change.is_none());
        assert_eq!(c.tip(), tip);
    }

    #[test]
    fn forks_below_the_floor_are_refused_and_dead_side_branches_pruned() {
        let mut c = chain(3);
        let genesis = c.genesis();
        // A side branch of two blocks from genesis, stored while it was allowed.
        extend(&mut c, 2);
        let s1 = child(&c, genesis, 2, 500);
        let s1h = s1.hash;
        c.import(s1, 10_000, 0).unwrap();
        let s2 = child(&c, s1h, 2, 1_500);
        c.import(s2, 10_000, 0).unwrap();
        assert_eq!(c.side_block_count(), 2);
        assert!(
            c.prune_side_branches().is_empty(),
            "floor 0: nothing to prune"
        );
        extend(&mut c, 3); // tip 5: floor 2
        assert_eq!(c.fork_floor(), 2);
        let late = child(&c, genesis, 3, 700);
        assert_eq!(
            c.worth_checking(&late.block.header, true),
            Err(BlockError::ForkTooDeep {
                fork_height: 0,
                floor: 2
            }),
            "refused even as part of a sync"
        );
        assert!(matches!(
            c.import(late, 10_000, 0),
            Err(BlockError::ForkTooDeep { .. })
        ));
        let pruned = c.prune_side_branches();
        assert_eq!(pruned.len(), 2, "{pruned:?}");
        assert_eq!(pruned[0].1, 1);
        assert_eq!(c.side_block_count(), 0);
        assert!(!c.contains(&s1h));
        assert_eq!(c.undo_count(), 3, "undo above the floor only: heights 3..5");
        // A fork at the floor itself is allowed, and reorgs to it still work.
        let at_floor = c.canonical()[2];
        let mut h = at_floor;
        for i in 0..4 {
            let b = child(&c, h, 4, 2_100 + i * 1_000);
            h = b.hash;
            c.import(b, 10_000, 0).unwrap();
        }
        assert_eq!(c.tip(), h, "the heavier branch from the floor won");
        c.verify_replay().unwrap();
        assert!(c.prune_side_branches().len() <= 3);
    }
}
