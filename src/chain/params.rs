//! Consensus parameters of a chain and its genesis block.

pub use crate::consensus::TieBreak;

use crate::block::{Block, BlockHeader, BLOCK_VERSION};
use crate::chain::state::{Code, State, Undo};
use crate::consensus::pow::Pow;
use crate::consensus::{Consensus, Engine};
use crate::contract::ContractParams;
use crate::crypto::Address;
use crate::hash::Hash;
use std::sync::Arc;

/// The rules every node of one chain shares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainParams {
    /// Chain id signed into every transaction.
    pub chain_id: u32,
    /// The consensus engine and its parameters.
    pub engine: Engine,
    /// Equal-weight tie-break.
    pub tie_break: TieBreak,
    /// Most transactions in one block.
    pub max_block_txs: usize,
    /// Most encoded bytes in one block.
    pub max_block_bytes: u64,
    /// New coins per block.
    pub reward: u64,
    /// How far a block timestamp may be ahead of the local clock, ms.
    pub max_future_ms: u64,
    /// The genesis block's timestamp, ms: the chain's launch. Every block is later (the
    /// median-time-past rule counts genesis), so no branch can claim time from before it.
    pub genesis_time_ms: u64,
    /// Bound on blocks waiting for their parent.
    pub max_orphans: usize,
    /// How far below the highest tip so far a side branch may leave the best chain (no reorg
    /// deeper than this; side branches that fall below are pruned).
    pub max_fork_depth: u64,
    /// Balances at genesis.
    pub genesis_balances: Vec<(Address, u64)>,
    /// Limits of contract execution.
    pub contracts: ContractParams,
    /// Contracts deployed at genesis (the load generator's contract).
    pub genesis_contracts: Vec<GenesisContract>,
    /// Experiments only (`adversary.gamma`): ties go to these miners' blocks with a set
    /// probability.
    pub favor: Option<Favor>,
}

/// A modelling device for selfish-mining experiments (`adversary.gamma`): in a tie between
/// branches of equal weight, a node whose tip another miner made switches to a branch whose
/// tip one of `miners` made with probability `gamma` (decided by its own random draw for the
/// block, so each node decides once per block), instead of keeping the first seen. Over the
/// honest nodes this makes a share `gamma` of the honest hash power mine on the pool's block
/// in a tie, as Eyal and Sirer's model assumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Favor {
    /// The favoured miners' addresses.
    pub miners: Vec<Address>,
    /// A tie key below this wins (gamma scaled to 2^64; `u64::MAX`: always).
    threshold: u64,
}

impl Favor {
    /// Ties go to `miners` with probability `gamma` (clamped to 0..=1).
    pub fn new(miners: Vec<Address>, gamma: f64) -> Favor {
        let g = gamma.clamp(0.0, 1.0);
        let threshold = if g >= 1.0 {
            u64::MAX
        } else {
            (g * 18_446_744_073_709_551_616.0) as u64
        };
        Favor { miners, threshold }
    }

    /// Whether a block with tie key `tie_key` (a uniform draw) wins a tie.
    pub fn wins(&self, tie_key: u64) -> bool {
        self.threshold == u64::MAX || tie_key < self.threshold
    }
}

/// A contract in the genesis state: its address, module and initial storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GenesisContract {
    /// Where it lives.
    pub address: Address,
    /// The module, wasm bytes.
    pub wasm: Arc<Vec<u8>>,
    /// Its storage at genesis.
    pub storage: Vec<(Vec<u8>, Vec<u8>)>,
}

impl ChainParams {
    /// The genesis state.
    pub fn genesis_state(&self) -> State {
        let mut state = State::from_balances(self.genesis_balances.iter().copied());
        let mut undo = Undo::default();
        for c in &self.genesis_contracts {
            let code = Code {
                hash: Hash::sha256(&c.wasm),
                wasm: c.wasm.clone(),
            };
            state.set_code(c.address, Some(code), &mut undo);
            for (k, v) in &c.storage {
                state.set_storage(c.address, k, Some(v.clone()), &mut undo);
            }
        }
        state
    }

    /// The genesis block: no parent, no transactions, timestamp `genesis_time_ms`, seal never
    /// checked.
    pub fn genesis_block(&self) -> Block {
        Block {
            header: BlockHeader {
                version: BLOCK_VERSION,
                parent: Hash::ZERO,
                height: 0,
                tx_root: Hash::ZERO,
                state_root: self.genesis_state().root(),
                timestamp_ms: self.genesis_time_ms,
                miner: Address::default(),
                seal: self.engine.genesis_seal(self.chain_id),
            },
            txs: Vec::new(),
            items: Vec::new(),
        }
    }

    /// Total coins at genesis.
    pub fn genesis_supply(&self) -> u128 {
        self.genesis_balances
            .iter()
            .map(|(_, b)| u128::from(*b))
            .sum()
    }

    /// A small parameter set for tests.
    pub fn for_tests(genesis_balances: Vec<(Address, u64)>) -> ChainParams {
        ChainParams {
            chain_id: 7,
            engine: Engine::Pow(Pow {
                block_interval_ms: 10_000,
                retarget_interval: 10,
                initial_difficulty: 16,
                time_warp_fix: true,
            }),
            tie_break: TieBreak::FirstSeen,
            max_block_txs: 1000,
            max_block_bytes: 1_000_000,
            reward: 50,
            max_future_ms: 15_000,
            genesis_time_ms: 0,
            max_orphans: 64,
            max_fork_depth: 100,
            genesis_balances,
            contracts: ContractParams::default(),
            genesis_contracts: Vec::new(),
            favor: None,
        }
    }
}
