//! chainlab's protocol core: types, canonical encoding, validation, consensus rules, fork
//! choice, mempool policy, gossip decisions, simulation models and configuration.
//!
//! Everything here is plain, deterministic Rust: time and randomness are passed in and
//! outputs are returned as data. The actix shells, transports, storage and the cluster
//! harness live in the `chainlab-actors` crate.
//!
//! | module | what |
//! |---|---|
//! | [`hash`], [`crypto`], [`encoding`], [`tx`], [`block`] | the data: ids, keys, canonical bytes, transactions, blocks |
//! | [`chain`] | one node's chain: state, validation, fork choice and reorgs, orphans, deferred blocks, the store seam |
//! | [`consensus`] | the consensus seam ([`consensus::Consensus`]) and its engines (proof of work) |
//! | [`contract`] | smart contracts: the metered WebAssembly VM, the host API, receipts and callbacks |
//! | [`mempool`] | admission, ordering, eviction and expiry of pending transactions |
//! | [`net`] | the wire protocol, gossip decisions, frames, the handshake and peer hygiene |
//! | [`sim`] | simulation models (latency, topology, hash power) and the fault vocabulary |
//! | [`report`] | trace events, the run report and its safety checks |
//! | [`config`] | the TOML configuration, section by section |
//! | [`sweep`] | parameter sweeps: the grid of points, report paths, trial statistics, the tables |

pub mod adversary;
pub mod block;
pub mod chain;
pub mod config;
pub mod consensus;
pub mod contract;
pub mod crypto;
pub mod encoding;
pub mod hash;
pub mod mempool;
pub mod net;
pub mod report;
pub mod sim;
pub mod sweep;
pub mod tx;

pub use block::{Block, BlockHeader, CheckedBlock, Seal};
pub use chain::params::{ChainParams, TieBreak};
pub use chain::state::{Account, State};
pub use chain::{ChainState, ImportOutcome, ImportStatus, TipChange};
pub use crypto::{Address, KeyPair, PublicKey, SigCache, Signature};
pub use hash::{Hash, TxId};
pub use tx::Transaction;

/// A node's index in a cluster (0-based); also its identity on the wire.
pub type NodeId = usize;
