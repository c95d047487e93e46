//! chainlab's protocol core: types, canonical encoding, validation, proof-of-work rules, fork
//! choice, mempool policy, gossip decisions, simulation models and configuration.
//!
//! Everything here is plain, deterministic Rust: time and randomness are passed in and
//! outputs are returned as data. The actix shells, transports, storage and the cluster
//! harness live in the `chainlab-actors` crate.

pub mod block;
pub mod chain;
pub mod config;
pub mod crypto;
pub mod encoding;
pub mod fault;
pub mod gossip;
pub mod hash;
pub mod mempool;
pub mod model;
pub mod net;
pub mod params;
pub mod pow;
pub mod report;
pub mod state;
pub mod store;
pub mod tx;
pub mod validation;
pub mod wire;

pub use block::{Block, BlockHeader, CheckedBlock, Seal};
pub use chain::{ChainState, ImportOutcome, ImportStatus, TipChange};
pub use crypto::{Address, KeyPair, PublicKey, SigCache, Signature};
pub use hash::{Hash, TxId};
pub use params::{ChainParams, TieBreak};
pub use state::{Account, State};
pub use tx::Transaction;
