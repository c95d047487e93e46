//! [`Pos`] as a consensus engine: slots, the leader check of a proposer against its parent's
//! branch (VRF proof, threshold or single-leader sample over the epoch's stake table), the
//! producer's plan (its first led slot) and seal (proof and signature), the per-block
//! [`PosState`]. The formulas are in `docs/pos.md` ("Engine: slots, lottery, randomness").

use super::cache::{Eval, CHUNK};
use super::ffg::BlockCtx;
use super::lottery::{self, single_leader, vrf_input};
use super::state::{table_id, PosRule, PosState};
use super::{sign, vrf, LeaderRule, Pos, PosError};
use crate::block::{Block, BlockHeader, Seal, SharedItem, VrfProof};
use crate::consensus::{
    Ancestry, BranchState, BranchTip, Consensus, Plan, Producer, SealError, SealRule, TieBreak,
};
use crate::crypto::{KeyPair, SigCache, Signature};
use crate::hash::Hash;
use rand::RngCore;
use std::sync::Arc;

fn state_of<'a>(chain: &'a dyn Ancestry, hash: &Hash) -> Option<&'a Arc<PosState>> {
    match chain.branch_state(hash)? {
        BranchState::Pos(s) => Some(s),
        BranchState::None => None,
    }
}

fn total(stakes: &[u64]) -> u64 {
    let t: u128 = stakes.iter().map(|&s| u128::from(s)).sum();
    u64::try_from(t).unwrap_or(u64::MAX)
}

impl Pos {
    /// η and the stake table of `slot`'s epoch for a child of the block whose state is `st`
    /// (`None` for a slot not after it).
    pub fn slot_context<'a>(&self, st: &'a PosState, slot: u64) -> Option<(Hash, &'a [u64])> {
        if slot <= st.slot {
            return None;
        }
        let e = self.epoch_of(slot);
        Some((st.eta(self, e)?, st.stakes_for(self, e)?.as_slice()))
    }

    /// The VRF input of `slot` under the epoch nonce `eta`.
    pub fn slot_input(&self, eta: &Hash, slot: u64) -> Vec<u8> {
        vrf_input(self.chain_id, eta, slot)
    }

    /// Validator `i`'s lottery threshold in the table `stakes` (0 for zero stake).
    pub fn lottery_threshold(&self, stakes: &[u64], i: u32) -> u128 {
        let stake = stakes.get(i as usize).copied().unwrap_or(0);
        lottery::threshold(self.active_slot_coeff, stake, total(stakes))
    }

    /// True when validator `i`, whose lottery value at `slot` is `value`, leads it under the
    /// epoch's nonce `eta` and table `stakes` (the value is ignored under `single`).
    pub fn is_leader(&self, stakes: &[u64], eta: &Hash, slot: u64, i: u32, value: u128) -> bool {
        if stakes.get(i as usize).copied().unwrap_or(0) == 0 {
            return false;
        }
        match self.leader {
            LeaderRule::Lottery => lottery::leads(value, self.lottery_threshold(stakes, i)),
            LeaderRule::Single => single_leader(eta, slot, stakes) == Some(i),
        }
    }

    /// Checks `proof` as validator `i`'s evaluation at `slot` under `eta`; returns its lottery
    /// value. A proof that verified once in this process is not verified again.
    fn verified_value(
        &self,
        i: u32,
        eta: &Hash,
        slot: u64,
        proof: &VrfProof,
    ) -> Result<u128, PosError> {
        let v = self
            .validators
            .get(i as usize)
            .ok_or(PosError::UnknownValidator(i))?;
        let input = self.slot_input(eta, slot);
        let key = vrf_cache_key(&v.vrf_public, &input, proof);
        if let Some(value) = self.cache.verified_vrf(&key) {
            return Ok(value);
        }
        let out = vrf::verify(&v.vrf_public, &input, proof)
            .map_err(|_| PosError::BadVrfProof { validator: i, slot })?;
        self.cache.note_vrf(key, out.value, true);
        Ok(out.value)
    }

    /// The first slot in `from..to` that validator `i` (with `key`) leads on the branch whose
    /// tip has state `st`. Lottery values come from the process's memo, a chunk of slots at a
    /// time; the epoch's nonce, table and threshold are computed once per epoch.
    pub fn first_led_slot(
        &self,
        st: &PosState,
        i: u32,
        key: &KeyPair,
        from: u64,
        to: u64,
    ) -> Option<u64> {
        let mut s = from.max(st.slot.saturating_add(1));
        while s < to {
            let end = self.epoch_start(self.epoch_of(s).saturating_add(1)).min(to);
            let (eta, stakes) = self.slot_context(st, s)?;
            if stakes.get(i as usize).copied().unwrap_or(0) > 0 {
                let found = match self.leader {
                    LeaderRule::Single => {
                        let (_, id) = st.table_for(self, self.epoch_of(s))?;
                        self.scan_single(&eta, stakes, &id, i, s, end)
                    }
                    LeaderRule::Lottery => self.scan_lottery(&eta, stakes, i, key, s, end),
                };
                if found.is_some() {
                    return found;
                }
            }
            s = end;
        }
        None
    }

    fn scan_lottery(
        &self,
        eta: &Hash,
        stakes: &[u64],
        i: u32,
        key: &KeyPair,
        from: u64,
        to: u64,
    ) -> Option<u64> {
        let thr = self.lottery_threshold(stakes, i);
        let vrf_public = self.validators.get(i as usize)?.vrf_public;
        let vk = self.cache.vrf_key(key);
        if vk.public() != vrf_public {
            return None;
        }
        let eval = |x| vk.evaluate(&self.slot_input(eta, x)).value;
        self.scan_chunks(&vrf_public, eta, from, to, eval, |v| lottery::leads(v, thr))
    }

    fn scan_single(
        &self,
        eta: &Hash,
        stakes: &[u64],
        table: &Hash,
        i: u32,
        from: u64,
        to: u64,
    ) -> Option<u64> {
        // The schedule is the same for every validator: memoize it per (η, table), a chunk at a
        // time, under a key that no VRF key can take.
        let id = Hash::sha256_parts(&[b"chainlab/single-schedule", &table.0]).0;
        let eval = |x| single_leader(eta, x, stakes).map_or(u128::MAX, u128::from);
        self.scan_chunks(&id, eta, from, to, eval, |v| v == u128::from(i))
    }

    /// The first slot in `from..to` (one epoch) whose memoized value under (`tag`, `eta`)
    /// satisfies `hit`. Chunks start at the epoch's start and every [`CHUNK`] slots after, and
    /// end at the epoch's end, so every slot of a chunk shares its η.
    fn scan_chunks(
        &self,
        tag: &[u8; 32],
        eta: &Hash,
        from: u64,
        to: u64,
        eval: impl Fn(u64) -> u128 + Sync,
        hit: impl Fn(u128) -> bool,
    ) -> Option<u64> {
        let mut t = from;
        while t < to {
            let (first, end) = self.chunk_of(t);
            let chunk = self.cache.lottery_chunk(tag, eta, first, end, &eval);
            let stop = end.min(to);
            for x in t..stop {
                if chunk.get((x - first) as usize).is_some_and(|&v| hit(v)) {
                    return Some(x);
                }
            }
            t = stop;
        }
        None
    }

    /// The lottery chunk holding `slot`: `(first, end)`, cut from its epoch's start every
    /// [`CHUNK`] slots and at the epoch's end (the memo's keys: scans and prefetches must cut
    /// alike).
    fn chunk_of(&self, slot: u64) -> (u64, u64) {
        let epoch = self.epoch_of(slot);
        let es = self.epoch_start(epoch);
        let first = es + (slot - es) / CHUNK * CHUNK;
        let end = first
            .saturating_add(CHUNK)
            .min(self.epoch_start(epoch.saturating_add(1)));
        (first, end)
    }

    /// Queues validator `i`'s lottery chunks of `epoch` for evaluation ahead of need, when the
    /// branch ending at `st` fixes that epoch's nonce and the validator has stake in it.
    fn prefetch_epoch(&self, st: &PosState, i: u32, key: &KeyPair, epoch: u64) {
        let first = self.epoch_start(epoch);
        let Some((eta, stakes)) = self.slot_context(st, first) else {
            return;
        };
        let Some(v) = self.validators.get(i as usize) else {
            return;
        };
        if stakes.get(i as usize).copied().unwrap_or(0) == 0 {
            return;
        }
        let vk = self.cache.vrf_key(key);
        if vk.public() != v.vrf_public {
            return;
        }
        let end = self.epoch_start(epoch.saturating_add(1));
        let mut chunks = Vec::new();
        let mut t = first;
        while t < end {
            let chunk = self.chunk_of(t);
            chunks.push(chunk);
            t = chunk.1;
        }
        let chain_id = self.chain_id;
        let eval: Eval = Arc::new(move |x| vk.evaluate(&vrf_input(chain_id, &eta, x)).value);
        self.cache.prefetch(&v.vrf_public, &eta, &chunks, eval);
    }

    /// A state that leads nowhere (no stake), for a parent whose state is unknown.
    fn barren_state(&self, parent: Hash) -> PosState {
        let mut st = PosState::genesis(self, parent);
        let none = Arc::new(vec![0; self.validators.len()]);
        st.stakes_id = table_id(&none);
        st.epoch_stakes_id = st.stakes_id;
        st.stakes = none.clone();
        st.epoch_stakes = none;
        st
    }
}

/// What a verified VRF proof is remembered by: it commits to the key, the input, the output
/// and the proof bytes, so a tampered proof never hits.
fn vrf_cache_key(vrf_public: &[u8; 32], input: &[u8], proof: &VrfProof) -> Hash {
    Hash::sha256_parts(&[
        b"chainlab/vrf-ok",
        vrf_public,
        &(input.len() as u64).to_le_bytes(),
        input,
        &proof.output,
        &proof.proof,
    ])
}

impl Consensus for Pos {
    fn name(&self) -> &'static str {
        "pos"
    }

    fn genesis_seal(&self, _chain_id: u32) -> Seal {
        Seal::Pos {
            slot: 0,
            proposer: 0,
            vrf: VrfProof::NONE,
            signature: Signature([0; 64]),
        }
    }

    fn check_seal(&self, header: &BlockHeader, hash: &Hash) -> Result<(), SealError> {
        let Seal::Pos { slot, proposer, .. } = header.seal else {
            return Err(SealError::WrongEngine {
                engine: "pos",
                got: "pow",
            });
        };
        if proposer as usize >= self.validators.len() {
            return Err(PosError::UnknownValidator(proposer).into());
        }
        let expected = self.slot_start_ms(slot);
        if header.timestamp_ms != expected {
            return Err(PosError::SlotTime {
                slot,
                ts: header.timestamp_ms,
                expected,
            }
            .into());
        }
        if !self.cache.verified_header(hash) {
            self.verify_header_signature(header)?;
            self.cache.note_header(*hash);
        }
        Ok(())
    }

    fn rule_for_child(&self, chain: &dyn Ancestry, parent: &Hash) -> SealRule {
        let state = state_of(chain, parent)
            .cloned()
            .unwrap_or_else(|| Arc::new(self.barren_state(*parent)));
        SealRule::Pos(Arc::new(PosRule {
            parent: *parent,
            parent_height: chain.header(parent).map_or(0, |h| h.height),
            state,
        }))
    }

    fn check_against_parent(
        &self,
        chain: &dyn Ancestry,
        header: &BlockHeader,
    ) -> Result<(), SealError> {
        let Seal::Pos {
            slot,
            proposer,
            vrf,
            ..
        } = &header.seal
        else {
            return Err(SealError::WrongEngine {
                engine: "pos",
                got: "pow",
            });
        };
        let (slot, proposer) = (*slot, *proposer);
        let st = state_of(chain, &header.parent).ok_or(PosError::UnknownParent(header.parent))?;
        if slot <= st.slot {
            return Err(PosError::SlotNotAfterParent {
                slot,
                parent: st.slot,
            }
            .into());
        }
        let (eta, stakes) = self
            .slot_context(st, slot)
            .ok_or(PosError::UnknownParent(header.parent))?;
        if proposer as usize >= self.validators.len() {
            return Err(PosError::UnknownValidator(proposer).into());
        }
        let not_leader = PosError::NotLeader {
            validator: proposer,
            slot,
        };
        if stakes.get(proposer as usize).copied().unwrap_or(0) == 0 {
            return Err(not_leader.into());
        }
        let value = self.verified_value(proposer, &eta, slot, vrf)?;
        if !self.is_leader(stakes, &eta, slot, proposer, value) {
            return Err(not_leader.into());
        }
        Ok(())
    }

    fn weight(&self, _header: &BlockHeader) -> u128 {
        1
    }

    fn genesis_state(&self, genesis: &Hash) -> BranchState {
        BranchState::Pos(Arc::new(PosState::genesis(self, *genesis)))
    }

    fn child_state(
        &self,
        _chain: &dyn Ancestry,
        parent: &BranchState,
        block: &Block,
    ) -> Result<BranchState, SealError> {
        let h = &block.header;
        let BranchState::Pos(ps) = parent else {
            return Err(PosError::UnknownParent(h.parent).into());
        };
        let Seal::Pos { slot, vrf, .. } = &h.seal else {
            return Err(SealError::WrongEngine {
                engine: "pos",
                got: "pow",
            });
        };
        let mut st = ps
            .child(self, *slot, &vrf.output)
            .ok_or(PosError::SlotNotAfterParent {
                slot: *slot,
                parent: ps.slot,
            })?;
        let mut stakes = (*ps.stakes).clone();
        let ctx = BlockCtx {
            pos: self,
            parent: h.parent,
            parent_slot: ps.slot,
            hash: h.hash(),
            slot: *slot,
            block,
            epoch_stakes: &st.epoch_stakes,
        };
        let ffg = ps.ffg.child(&ctx, &mut stakes)?;
        if stakes != *ps.stakes {
            st.stakes_id = table_id(&stakes);
            st.stakes = Arc::new(stakes);
        }
        st.ffg = ffg;
        Ok(BranchState::Pos(Arc::new(st)))
    }

    fn check_items(&self, items: &[SharedItem], cache: Option<&SigCache>) -> Result<(), SealError> {
        Ok(self.check_items_in_themselves(items, cache)?)
    }

    fn earliest_timestamp(&self, chain: &dyn Ancestry, parent: &Hash) -> u64 {
        state_of(chain, parent).map_or(0, |s| self.slot_start_ms(s.slot.saturating_add(1)))
    }

    /// The first 8 bytes (little-endian) of the block's VRF pre-output: fixed by the proposer's
    /// key and the slot, so no proposer can grind it, and the same on every node.
    fn tie_priority(&self, header: &BlockHeader) -> u64 {
        match &header.seal {
            Seal::Pos { vrf, .. } => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&vrf.output[..8]);
                u64::from_le_bytes(b)
            }
            Seal::Pow { .. } => 0,
        }
    }

    /// Longest chain; of two branches of equal length, the one whose tip has the lower VRF
    /// priority ([`Consensus::tie_priority`]), as Cardano's Praos chain selection breaks
    /// ties, so every node that holds both picks the same (a tie between the last slot's
    /// leaders no longer splits the network for good); then the configured tie-break.
    fn prefers(&self, candidate: &BranchTip, tip: &BranchTip, tie: TieBreak) -> bool {
        use std::cmp::Ordering;
        match candidate.weight.cmp(&tip.weight) {
            Ordering::Greater => true,
            Ordering::Less => false,
            Ordering::Equal => match candidate.priority.cmp(&tip.priority) {
                Ordering::Less => true,
                Ordering::Greater => false,
                Ordering::Equal => tie == TieBreak::Random && candidate.tie_key < tip.tie_key,
            },
        }
    }

    fn finalized(&self, chain: &dyn Ancestry, tip: &Hash) -> Option<Hash> {
        state_of(chain, tip).map(|s| s.ffg.finalized.hash)
    }

    fn template_seal(&self, rule: &SealRule) -> Seal {
        let slot = match rule {
            SealRule::Pos(r) => r.state.slot.saturating_add(1),
            SealRule::Pow { .. } => 0,
        };
        Seal::Pos {
            slot,
            proposer: 0,
            vrf: VrfProof::NONE,
            signature: Signature([0; 64]),
        }
    }

    /// The producer's first led slot on the rule's parent: from the current slot (if less
    /// than half of it has passed, else the next) or the slot after the parent's, whichever
    /// is later, within a horizon of two epochs.
    fn plan(&self, rule: &SealRule, producer: &Producer<'_>, _rng: &mut dyn RngCore) -> Plan {
        let SealRule::Pos(rule) = rule else {
            return Plan::Idle;
        };
        let Some(i) = self.validator_index(&producer.key.public) else {
            return Plan::Idle;
        };
        let st = &rule.state;
        let has = |t: &[u64]| t.get(i as usize).is_some_and(|&s| s > 0);
        if !has(&st.stakes) && !has(&st.epoch_stakes) {
            return Plan::Idle;
        }
        let now = producer.now_ms;
        let cur = self.slot_at(now);
        let into = now - self.slot_start_ms(cur).min(now);
        let first = if into.saturating_mul(2) < self.slot_ms {
            cur
        } else {
            cur.saturating_add(1)
        };
        let start = first.max(st.slot.saturating_add(1));
        // Scan the rest of `start`'s epoch (its nonce is fixed by the parent's branch, as the
        // parent is in that epoch or the one before, or the clock is past every slot a block
        // could still change it with); if nothing is led, wait for the epoch's end and plan
        // again. The next epoch's nonce follows from the last block before `start`'s epoch,
        // which the clock being in that epoch all but fixes (only a late block of the epoch
        // before could still change it): its slots are evaluated ahead of need, on the other
        // core, while the simulation goes on (with 1,000 validators, 10⁵ VRF evaluations per
        // epoch). Evaluations for a nonce a late block voids are wasted, never wrong.
        let horizon = self
            .epoch_start(self.epoch_of(start).saturating_add(1))
            .max(start.saturating_add(1));
        let delay = |slot: u64| self.slot_start_ms(slot).saturating_sub(now) as f64;
        let plan = match self.first_led_slot(st, i, producer.key, start, horizon) {
            Some(s) => Plan::After { delay_ms: delay(s) },
            None => Plan::Wait {
                delay_ms: delay(horizon),
            },
        };
        if self.leader == LeaderRule::Lottery {
            self.prefetch_epoch(st, i, producer.key, self.epoch_of(horizon));
        }
        plan
    }

    fn seal(
        &self,
        rule: &SealRule,
        header: &mut BlockHeader,
        key: &KeyPair,
        _start: u64,
        _tries: u64,
    ) -> bool {
        let SealRule::Pos(rule) = rule else {
            return false;
        };
        if header.parent != rule.parent {
            return false;
        }
        let slot = self.slot_at(header.timestamp_ms);
        let Some(i) = self.validator_index(&key.public) else {
            return false;
        };
        let Some((eta, stakes)) = self.slot_context(&rule.state, slot) else {
            return false;
        };
        let Some(v) = self.validators.get(i as usize) else {
            return false;
        };
        let vk = self.cache.vrf_key(key);
        if vk.public() != v.vrf_public {
            return false;
        }
        let input = self.slot_input(&eta, slot);
        let (out, proof) = vk.prove(&input);
        if !self.is_leader(stakes, &eta, slot, i, out.value) {
            return false;
        }
        header.timestamp_ms = self.slot_start_ms(slot);
        header.seal = Seal::Pos {
            slot,
            proposer: i,
            vrf: proof,
            signature: Signature([0; 64]),
        };
        sign::sign_header(header, key);
        // Both were made here with the validator's own keys: no node of this process need
        // check them again.
        self.cache.note_vrf(
            vrf_cache_key(&v.vrf_public, &input, &proof),
            out.value,
            false,
        );
        self.cache.note_header(header.hash());
        true
    }
}
