//! A node's pending checkpoint votes and evidence: admission (signature checked by the
//! caller's cache), equivocation detection, what a template includes, and forgetting what the
//! best chain holds.
//!
//! OWNER H2.

use super::PosRule;
use crate::block::{Block, BlockHeader, Evidence, Item, Vote};
use std::sync::Arc;

/// What [`VotePool::add_vote`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VoteAdmission {
    /// New: relay it.
    Added,
    /// Already known.
    Known,
    /// New and conflicting with one the pool holds: the evidence (also pooled).
    Equivocation(Box<Evidence>),
}

/// See the module doc.
#[derive(Debug, Default)]
pub struct VotePool {}

impl VotePool {
    /// Adds a vote whose signature was checked.
    pub fn add_vote(&mut self, _v: Vote) -> VoteAdmission {
        todo!("H2")
    }
    /// Adds checked evidence; true when new.
    pub fn add_evidence(&mut self, _e: Evidence) -> bool {
        todo!("H2")
    }
    /// Notes a stored block's header; evidence when it is a second block for its slot by its
    /// proposer.
    pub fn note_header(&mut self, _h: &BlockHeader) -> Option<Evidence> {
        todo!("H2")
    }
    /// The best chain moved: forget what `connected` holds, take back what `reverted` held.
    pub fn on_tip_change(&mut self, _connected: &[Arc<Block>], _reverted: &[Arc<Block>]) {
        todo!("H2")
    }
    /// The items a block on the parent of `rule` should include, at most `max`.
    pub fn template(&self, _rule: &PosRule, _max: usize) -> Vec<Item> {
        todo!("H2")
    }
}
