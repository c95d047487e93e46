//! The consensus seam: everything a chain and a block producer need to know about *how* blocks
//! are sealed and chosen, behind one trait, [`Consensus`].
//!
//! The trait answers four questions, each as a pure function:
//! - **May this node produce, and when?** The chain computes a [`SealRule`] for its tip (what a
//!   child must carry: a difficulty today, a slot and a leader proof for proof of stake) and the
//!   producer asks [`Consensus::plan`] for its next step ([`Plan`]), then seals a template with
//!   [`Consensus::seal`]. The producer never reads the chain.
//! - **Is a received seal valid?** In itself ([`Consensus::check_seal`], before any chain
//!   context) and against its parent ([`Consensus::check_against_parent`]).
//! - **Which branch is preferred?** [`Consensus::weight`] of each block adds up along a
//!   branch; [`Consensus::prefers`] compares two branch tips.
//! - **What is final?** [`Consensus::finalized`]: a block the chain may never revert (none
//!   for proof of work).
//!
//! Engines whose rules follow a branch's contents (proof of stake: epoch randomness, stakes,
//! checkpoint votes, justification and finality) keep a [`BranchState`] per stored block,
//! computed once from its parent's by [`Consensus::child_state`] and read back through
//! [`Ancestry::branch_state`].
//!
//! [`Engine`] names the engines a config can choose, with their parameters; it implements the
//! trait by delegating to the engine. [`pow::Pow`] and [`pos::Pos`] are the engines. A new engine adds a
//! variant here and a file beside `pow.rs` (see `docs/architecture.md`); the chain, the miner
//! actor and the harness drive whatever engine the config names.
//!
//! Engines read the chain through [`Ancestry`], which the chain implements, so this module
//! depends on block and hash types only.

pub mod pos;
pub mod pow;

use crate::block::{Block, BlockHeader, Seal, SharedItem};
use crate::crypto::{KeyPair, SigCache};
use crate::hash::Hash;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// How to choose between branch tips of equal weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TieBreak {
    /// Keep the tip seen first (Bitcoin's rule).
    #[default]
    FirstSeen,
    /// Each node gives each block a seeded random priority; the lowest wins a tie.
    Random,
}

/// Why a seal is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The hash does not meet the claimed difficulty.
    #[error("proof of work: hash {hash} does not meet difficulty {difficulty}")]
    BadPow {
        /// The block hash.
        hash: Hash,
        /// The claimed difficulty.
        difficulty: u64,
    },
    /// The claimed difficulty is not what the retarget rule demands of a child of this parent.
    #[error("difficulty {got} is not the required {expected}")]
    BadDifficulty {
        /// What the rule demands.
        expected: u64,
        /// What the header claims.
        got: u64,
    },
    /// A block that ends a retarget window is older than the window's first block (the
    /// time-warp rule, [`pow::Pow::earliest_child_timestamp`]).
    #[error("timestamp {ts} ms ends a retarget window but is before its start {window_start} ms (time-warp rule)")]
    TimeWarp {
        /// The block's timestamp.
        ts: u64,
        /// The timestamp of the window's first block.
        window_start: u64,
    },
    /// A proof-of-stake rule is broken (slot, leader proof, signature, votes, evidence).
    #[error("proof of stake: {0}")]
    Pos(#[from] pos::PosError),
    /// A block body carries consensus items the engine has no use for (proof of work).
    #[error("{count} consensus items in a {engine} block, which carries none")]
    UnexpectedItems {
        /// The engine.
        engine: &'static str,
        /// Items in the block.
        count: usize,
    },
    /// The seal is of another engine than the chain's.
    #[error("a {got} seal on a {engine} chain")]
    WrongEngine {
        /// The chain's engine.
        engine: &'static str,
        /// The seal's kind.
        got: &'static str,
    },
}

/// What the chain lets an engine read: stored headers, walking back along parents.
pub trait Ancestry {
    /// The stored header of `hash`.
    fn header(&self, hash: &Hash) -> Option<&BlockHeader>;
    /// The ancestor of `hash` at `height` (itself at its own height), if stored.
    fn ancestor(&self, hash: &Hash, height: u64) -> Option<Hash>;
    /// The engine's state after the stored block `hash` ([`Consensus::child_state`]);
    /// `None` when not stored or not kept.
    fn branch_state(&self, _hash: &Hash) -> Option<&BranchState> {
        None
    }
}

/// An engine's facts about the branch ending at a block, computed once per stored block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum BranchState {
    /// The engine keeps none (proof of work).
    #[default]
    None,
    /// Proof of stake: randomness, stakes, checkpoints, votes, justification, finality.
    Pos(Arc<pos::PosState>),
}

/// Fork-choice facts about the tip of a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BranchTip {
    /// Sum of [`Consensus::weight`] from genesis to this block.
    pub weight: u128,
    /// Its height.
    pub height: u64,
    /// This node's random draw for the block (the `random` tie-break).
    pub tie_key: u64,
    /// The engine's priority of the block ([`Consensus::tie_priority`]; 0 under proof of work).
    pub priority: u64,
}

/// What a child of one parent must carry, computed by the chain and handed to producers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SealRule {
    /// Proof of work at this difficulty.
    Pow {
        /// Expected hashes per block.
        difficulty: u64,
    },
    /// Proof of stake: what the parent's branch fixes for its children (epoch randomness and
    /// stakes, the checkpoints and the justified checkpoint to vote from).
    Pos(Arc<pos::PosRule>),
}

/// How a producer spends its effort.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Effort {
    /// Modelled: the time to the next block is drawn from the engine's model, then the seal
    /// is made at once (the virtual clock and large simulations).
    Modelled,
    /// Real: the seal is searched for with real work (hashing), in chunks, until found or the
    /// tip moves.
    Real,
}

/// Who asks to produce, and when.
#[derive(Clone, Copy, Debug)]
pub struct Producer<'a> {
    /// Its share of the hash power (proof of work) or of the stake.
    pub power: f64,
    /// Modelled delays or real work.
    pub effort: Effort,
    /// Its local time, milliseconds (its own clock, skew included: slot engines decide by it).
    pub now_ms: u64,
    /// Its key (engines that sign or prove leadership use it).
    pub key: &'a KeyPair,
}

/// A producer's next step on one parent.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Plan {
    /// Nothing to produce on this parent (no power, or no right to a block).
    Idle,
    /// Build a template after this many milliseconds and seal it at once.
    After {
        /// Delay, milliseconds (fractional: the draw is continuous).
        delay_ms: f64,
    },
    /// Build a template now and search for its seal with [`Consensus::seal`] in chunks.
    Search,
    /// Nothing to produce before this many milliseconds; plan again then (proof of stake:
    /// no led slot within the horizon the engine scanned).
    Wait {
        /// Delay, milliseconds.
        delay_ms: f64,
    },
}

/// A consensus engine: the rules of sealing, checking and choosing blocks. Pure and
/// deterministic: time, randomness and chain context come in as arguments.
pub trait Consensus: Send + Sync + std::fmt::Debug {
    /// Its name in configs and reports (`pow`).
    fn name(&self) -> &'static str;

    /// The seal of the genesis block (never checked).
    fn genesis_seal(&self, chain_id: u32) -> Seal;

    /// Checks a seal in itself (no chain context): cheap, run before anything else is paid.
    ///
    /// # Errors
    /// [`SealError`] saying what is wrong.
    fn check_seal(&self, header: &BlockHeader, hash: &Hash) -> Result<(), SealError>;

    /// What a child of `parent` must carry. `parent` must be stored in `chain`.
    fn rule_for_child(&self, chain: &dyn Ancestry, parent: &Hash) -> SealRule;

    /// Checks a seal against its parent (which `chain` stores).
    ///
    /// # Errors
    /// [`SealError`] saying what is wrong.
    fn check_against_parent(
        &self,
        chain: &dyn Ancestry,
        header: &BlockHeader,
    ) -> Result<(), SealError>;

    /// What a block adds to its branch's weight (proof of work: its difficulty).
    fn weight(&self, header: &BlockHeader) -> u128;

    /// The engine's state of the genesis block (whose hash is `genesis`).
    fn genesis_state(&self, _genesis: &Hash) -> BranchState {
        BranchState::None
    }

    /// The engine's state after `block`, a child of a block whose state is `parent` (the
    /// header passed [`Consensus::check_against_parent`]). Errors make the block invalid
    /// (proof of stake: a vote or evidence that does not check).
    ///
    /// # Errors
    /// [`SealError`] saying what is wrong.
    fn child_state(
        &self,
        _chain: &dyn Ancestry,
        _parent: &BranchState,
        _block: &Block,
    ) -> Result<BranchState, SealError> {
        Ok(BranchState::None)
    }

    /// Checks a block's consensus items in themselves (signatures, through `cache` when
    /// given), before any chain context; the default refuses any item.
    ///
    /// # Errors
    /// [`SealError`] saying what is wrong.
    fn check_items(
        &self,
        items: &[SharedItem],
        _cache: Option<&SigCache>,
    ) -> Result<(), SealError> {
        if items.is_empty() {
            Ok(())
        } else {
            Err(SealError::UnexpectedItems {
                engine: self.name(),
                count: items.len(),
            })
        }
    }

    /// The earliest timestamp the engine's own rules let a child of `parent` carry (beyond
    /// the chain's median-time-past rule); templates use at least this. 0: no such rule.
    fn earliest_timestamp(&self, _chain: &dyn Ancestry, _parent: &Hash) -> u64 {
        0
    }

    /// A priority of `header` the same on every node, for an engine whose fork choice breaks
    /// ties by it ([`Consensus::prefers`]); 0 by default (proof of work: unused).
    fn tie_priority(&self, _header: &BlockHeader) -> u64 {
        0
    }

    /// Whether the branch ending at `candidate` is preferred over the current tip's.
    fn prefers(&self, candidate: &BranchTip, tip: &BranchTip, tie: TieBreak) -> bool {
        match candidate.weight.cmp(&tip.weight) {
            std::cmp::Ordering::Greater => true,
            std::cmp::Ordering::Less => false,
            std::cmp::Ordering::Equal => tie == TieBreak::Random && candidate.tie_key < tip.tie_key,
        }
    }

    /// The most recent block on the branch ending at `tip` that may never be reverted
    /// (`None`: nothing is final, as in proof of work).
    fn finalized(&self, _chain: &dyn Ancestry, _tip: &Hash) -> Option<Hash> {
        None
    }

    /// The seal a new template carries before it is sealed.
    fn template_seal(&self, rule: &SealRule) -> Seal;

    /// The next step of `producer` under `rule` (the rule of the tip it builds on). Draws
    /// from `rng` only when it needs randomness.
    fn plan(&self, rule: &SealRule, producer: &Producer<'_>, rng: &mut dyn RngCore) -> Plan;

    /// Tries to seal `header` (a template built on the parent of `rule`, the rule the
    /// producer planned with), signing with `key` where the engine signs, trying at most
    /// `tries` candidates from `start`. True when sealed; false also when the template does
    /// not fit the rule (another parent; proof of stake: a slot the key does not lead).
    fn seal(
        &self,
        rule: &SealRule,
        header: &mut BlockHeader,
        key: &KeyPair,
        start: u64,
        tries: u64,
    ) -> bool;
}

/// The engines a config can choose, with their parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Engine {
    /// Proof of work.
    Pow(pow::Pow),
    /// Proof of stake.
    Pos(pos::Pos),
}

impl Engine {
    fn inner(&self) -> &dyn Consensus {
        match self {
            Engine::Pow(p) => p,
            Engine::Pos(p) => p,
        }
    }

    /// The proof-of-stake engine, if this is one.
    pub fn pos(&self) -> Option<&pos::Pos> {
        match self {
            Engine::Pos(p) => Some(p),
            Engine::Pow(_) => None,
        }
    }

    /// Whether the block at `height` ends a retarget window (proof of work; never under
    /// proof of stake).
    pub fn ends_window(&self, height: u64) -> bool {
        match self {
            Engine::Pow(p) => p.ends_window(height),
            Engine::Pos(_) => false,
        }
    }
}

impl Consensus for Engine {
    fn name(&self) -> &'static str {
        self.inner().name()
    }
    fn genesis_seal(&self, chain_id: u32) -> Seal {
        self.inner().genesis_seal(chain_id)
    }
    fn check_seal(&self, header: &BlockHeader, hash: &Hash) -> Result<(), SealError> {
        self.inner().check_seal(header, hash)
    }
    fn rule_for_child(&self, chain: &dyn Ancestry, parent: &Hash) -> SealRule {
        self.inner().rule_for_child(chain, parent)
    }
    fn check_against_parent(
        &self,
        chain: &dyn Ancestry,
        header: &BlockHeader,
    ) -> Result<(), SealError> {
        self.inner().check_against_parent(chain, header)
    }
    fn weight(&self, header: &BlockHeader) -> u128 {
        self.inner().weight(header)
    }
    fn earliest_timestamp(&self, chain: &dyn Ancestry, parent: &Hash) -> u64 {
        self.inner().earliest_timestamp(chain, parent)
    }
    fn genesis_state(&self, genesis: &Hash) -> BranchState {
        self.inner().genesis_state(genesis)
    }
    fn check_items(&self, items: &[SharedItem], cache: Option<&SigCache>) -> Result<(), SealError> {
        self.inner().check_items(items, cache)
    }
    fn child_state(
        &self,
        chain: &dyn Ancestry,
        parent: &BranchState,
        block: &Block,
    ) -> Result<BranchState, SealError> {
        self.inner().child_state(chain, parent, block)
    }
    fn tie_priority(&self, header: &BlockHeader) -> u64 {
        self.inner().tie_priority(header)
    }
    fn prefers(&self, candidate: &BranchTip, tip: &BranchTip, tie: TieBreak) -> bool {
        self.inner().prefers(candidate, tip, tie)
    }
    fn finalized(&self, chain: &dyn Ancestry, tip: &Hash) -> Option<Hash> {
        self.inner().finalized(chain, tip)
    }
    fn template_seal(&self, rule: &SealRule) -> Seal {
        self.inner().template_seal(rule)
    }
    fn plan(&self, rule: &SealRule, producer: &Producer<'_>, rng: &mut dyn RngCore) -> Plan {
        self.inner().plan(rule, producer, rng)
    }
    fn seal(
        &self,
        rule: &SealRule,
        header: &mut BlockHeader,
        key: &KeyPair,
        start: u64,
        tries: u64,
    ) -> bool {
        self.inner().seal(rule, header, key, start, tries)
    }
}
