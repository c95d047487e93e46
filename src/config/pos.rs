//! `[pos]`: proof of stake's slots, epochs, validators and stakes, leader rule, finality votes
//! and slashing ([`PosConfig`]), with their checks and the engine they build
//! ([`Config::pos_engine`]). Read when `consensus.kind = "pos"`.

use super::{invalid, Config, ConfigError};
use crate::consensus::pos::vrf::VrfKey;
use crate::consensus::pos::{LeaderRule, Pos, Validator};
use crate::sim::model::{hash_shares, HashPower};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// Stake units the whole validator set shares at genesis (stakes are integers; only ratios
/// matter).
pub const TOTAL_STAKE: u64 = 1_000_000_000;

/// `[pos]`
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PosConfig {
    /// Slot length.
    #[serde(with = "humantime_serde")]
    pub slot: Duration,
    /// Slots per epoch.
    pub epoch_slots: u64,
    /// f: the probability that a slot has a leader when all stake is online (Praos).
    pub active_slot_coeff: f64,
    /// `"equal"`, a list of shares (one per validator) or `{ skew = s }`, as `pow.hashpower`.
    pub stake: HashPower,
    /// The validators' node ids (every node when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validators: Option<Vec<usize>>,
    /// `"lottery"` (Praos) or `"single"` (one proposer per slot).
    pub leader: LeaderRule,
    /// Share of an equivocator's stake slashed, from the next epoch.
    pub slash_fraction: f64,
    /// Slots after an epoch's start at which validators vote for its checkpoint.
    pub vote_offset: u64,
}

impl Default for PosConfig {
    fn default() -> Self {
        PosConfig {
            slot: Duration::from_secs(1),
            epoch_slots: 100,
            active_slot_coeff: 0.05,
            stake: HashPower::Named("equal".into()),
            validators: None,
            leader: LeaderRule::Lottery,
            slash_fraction: 0.5,
            vote_offset: 10,
        }
    }
}

impl PosConfig {
    /// Checks `pos.*` for a cluster of `n` nodes.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first bad key.
    pub(crate) fn validate(&self, file: &str, n: usize) -> Result<(), ConfigError> {
        let err = |key: &str, reason: String| invalid(file, key, reason);
        if self.slot.as_millis() < 1 {
            return err("pos.slot", "must be at least 1ms".into());
        }
        if self.epoch_slots < 2 {
            return err("pos.epoch_slots", "must be at least 2".into());
        }
        if !(self.active_slot_coeff > 0.0 && self.active_slot_coeff < 1.0) {
            return err(
                "pos.active_slot_coeff",
                format!("{} is not in (0, 1)", self.active_slot_coeff),
            );
        }
        if !(0.0..=1.0).contains(&self.slash_fraction) {
            return err(
                "pos.slash_fraction",
                format!("{} is not in [0, 1]", self.slash_fraction),
            );
        }
        if self.vote_offset >= self.epoch_slots {
            return err(
                "pos.vote_offset",
                format!(
                    "{} slots is not inside an epoch of {} slots",
                    self.vote_offset, self.epoch_slots
                ),
            );
        }
        let ids = self.validator_ids(n);
        if let Some(v) = &self.validators {
            if v.is_empty() {
                return err("pos.validators", "names no node".into());
            }
            if let Some(bad) = v.iter().find(|&&i| i >= n) {
                return err(
                    "pos.validators",
                    format!("node {bad} does not exist (nodes 0..{n})"),
                );
            }
            let mut sorted = v.clone();
            sorted.sort_unstable();
            sorted.dedup();
            if sorted.len() != v.len() {
                return err("pos.validators", "names a node twice".into());
            }
        }
        super::pow::check_shares(file, "pos.stake", &self.stake, ids.len(), "validators")?;
        Ok(())
    }

    /// The validators' node ids, in validator-index order.
    pub fn validator_ids(&self, n: usize) -> Vec<usize> {
        match &self.validators {
            Some(v) => v.clone(),
            None => (0..n).collect(),
        }
    }

    /// Each validator's share of the stake at genesis, in validator-index order (sums to 1).
    pub fn shares(&self, n: usize) -> Vec<f64> {
        hash_shares(&self.stake, self.validator_ids(n).len())
    }

    /// Each validator's stake at genesis (units of [`TOTAL_STAKE`]), in validator-index order.
    pub fn genesis_stakes(&self, n: usize) -> Vec<u64> {
        self.shares(n)
            .into_iter()
            .map(|share| (share * TOTAL_STAKE as f64).round() as u64)
            .collect()
    }
}

impl Config {
    /// The proof-of-stake engine this config describes: node i's validator key is
    /// [`Config::node_key`]`(i)`, its VRF key derived from it.
    pub fn pos_engine(&self) -> Pos {
        let n = self.cluster.nodes;
        let p = &self.pos;
        let validators = p
            .validator_ids(n)
            .into_iter()
            .zip(p.genesis_stakes(n))
            .map(|(node, stake)| {
                let key = Config::node_key(node);
                Validator {
                    public: key.public,
                    address: key.address(),
                    vrf_public: VrfKey::from_keypair(&key).public(),
                    stake,
                }
            })
            .collect();
        Pos {
            chain_id: self.consensus.chain_id,
            slot_ms: u64::try_from(p.slot.as_millis()).unwrap_or(u64::MAX),
            epoch_slots: p.epoch_slots,
            active_slot_coeff: p.active_slot_coeff,
            leader: p.leader,
            validators: Arc::new(validators),
            slash_fraction: p.slash_fraction,
            vote_offset_slots: p.vote_offset,
            cache: Default::default(),
        }
    }

    /// A node's share of the stake (0 for a node that is no validator): its power as a
    /// producer.
    pub fn stake_share(&self, node: usize) -> f64 {
        let n = self.cluster.nodes;
        let ids = self.pos.validator_ids(n);
        let shares = self.pos.shares(n);
        ids.iter()
            .position(|&i| i == node)
            .map_or(0.0, |k| shares[k])
    }
}
