//! [`Pos`] as a consensus engine. OWNER H1 (skeleton: every `todo!` is H1's).

use super::Pos;
use crate::block::{Block, BlockHeader, Item, Seal};
use crate::consensus::{Ancestry, BranchState, Consensus, Plan, Producer, SealError, SealRule};
use crate::crypto::{KeyPair, SigCache};
use crate::hash::Hash;
use rand::RngCore;

impl Consensus for Pos {
    fn name(&self) -> &'static str {
        "pos"
    }
    fn genesis_seal(&self, _chain_id: u32) -> Seal {
        todo!("H1")
    }
    fn check_seal(&self, _header: &BlockHeader, _hash: &Hash) -> Result<(), SealError> {
        todo!("H1")
    }
    fn rule_for_child(&self, _chain: &dyn Ancestry, _parent: &Hash) -> SealRule {
        todo!("H1")
    }
    fn check_against_parent(
        &self,
        _chain: &dyn Ancestry,
        _header: &BlockHeader,
    ) -> Result<(), SealError> {
        todo!("H1")
    }
    fn weight(&self, _header: &BlockHeader) -> u128 {
        1
    }
    fn genesis_state(&self, _genesis: &Hash) -> BranchState {
        todo!("H1")
    }
    fn child_state(
        &self,
        _chain: &dyn Ancestry,
        _parent: &BranchState,
        _block: &Block,
    ) -> Result<BranchState, SealError> {
        todo!("H1")
    }
    fn check_items(&self, items: &[Item], cache: Option<&SigCache>) -> Result<(), SealError> {
        Ok(self.check_items_in_themselves(items, cache)?)
    }
    fn finalized(&self, _chain: &dyn Ancestry, _tip: &Hash) -> Option<Hash> {
        todo!("H1")
    }
    fn template_seal(&self, _rule: &SealRule) -> Seal {
        todo!("H1")
    }
    fn plan(&self, _rule: &SealRule, _producer: &Producer<'_>, _rng: &mut dyn RngCore) -> Plan {
        todo!("H1")
    }
    fn seal(
        &self,
        _rule: &SealRule,
        _header: &mut BlockHeader,
        _key: &KeyPair,
        _start: u64,
        _tries: u64,
    ) -> bool {
        todo!("H1")
    }
}
