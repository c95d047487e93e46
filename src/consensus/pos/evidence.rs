//! Equivocation: two blocks for one slot by one proposer, or two conflicting votes by one
//! validator (double vote, surround vote); building and checking [`Evidence`].
//!
//! OWNER H2.

use super::{Pos, PosError};
use crate::block::{BlockHeader, Evidence, Vote};

/// Evidence from two votes of one validator, if they conflict.
pub fn conflicting_votes(a: &Vote, b: &Vote) -> Option<Evidence> {
    let _ = (a, b);
    todo!("H2")
}

/// Evidence from two headers, if they are two blocks for one slot by one proposer.
pub fn double_block(a: &BlockHeader, b: &BlockHeader) -> Option<Evidence> {
    let _ = (a, b);
    todo!("H2")
}

impl Pos {
    /// Checks a block's items in themselves: their number, each vote's signature (through
    /// `cache`), each piece of evidence ([`Pos::check_evidence`]).
    ///
    /// # Errors
    /// The first failing item.
    pub fn check_items_in_themselves(
        &self,
        _items: &[crate::block::Item],
        _cache: Option<&crate::crypto::SigCache>,
    ) -> Result<(), PosError> {
        // placeholder until H2 lands
        Ok(())
    }

    /// Checks evidence in itself: it conflicts and every signature in it verifies.
    ///
    /// # Errors
    /// [`PosError::BadEvidence`] (with `index`) saying why.
    pub fn check_evidence(&self, _index: usize, _e: &Evidence) -> Result<u32, PosError> {
        todo!("H2")
    }
}
