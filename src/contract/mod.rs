//! Smart contracts executed asynchronously (docs/contracts.md): WebAssembly modules run by a
//! metered interpreter (`vm`), whose outgoing calls become receipts executed in later blocks,
//! with callbacks that see the callee's result (NEAR's model: receipts, promises, callbacks).
//!
//! This module holds the types every part shares: the limits ([`ContractParams`]), what an
//! execution is given ([`CallEnv`]) and may touch ([`Host`]), and what it returns
//! ([`Outcome`], [`PromiseAction`], [`ExecError`]). The VM (`vm`) knows nothing of the chain's
//! state; the state (`chain::state`) implements [`Host`] with an undo journal, so a failed
//! execution is rolled back by the caller.

pub mod examples;
pub mod frontrun;
pub mod vm;

use crate::crypto::Address;
use serde::{Deserialize, Serialize};

/// Limits and costs of contract execution, shared by every node of a chain; the
/// `[contracts]` section of a config.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ContractParams {
    /// Largest module (wasm bytes) a deploy may carry.
    pub max_code_bytes: u32,
    /// Most 64 KiB pages a module's memory may declare (initial and maximum).
    pub max_memory_pages: u32,
    /// Most gas one transaction or receipt may attach.
    pub max_call_gas: u64,
    /// Most gas the transactions of one block may attach, and separately the receipts one
    /// block executes (receipts past it wait for the next block).
    pub max_block_gas: u64,
    /// Blocks between a receipt's creation and the first block that may execute it (≥ 1).
    pub receipt_delay_blocks: u64,
    /// Most promises (calls and callbacks) one execution may create.
    pub max_promises: u32,
    /// Most receipts in one chain of calls started by a transaction (call depth).
    pub max_depth: u32,
    /// Largest argument or return value, bytes.
    pub max_args_bytes: u32,
    /// Largest storage key, bytes.
    pub max_key_bytes: u32,
    /// Largest storage value, bytes.
    pub max_value_bytes: u32,
    /// Most log lines and events one execution may emit (each counted).
    pub max_logs: u32,
    /// The least fee a deploy or call pays per million gas it attaches (rounded up): gas is
    /// bought with the fee, whatever the execution uses.
    pub gas_price_per_mgas: u64,
}

impl Default for ContractParams {
    fn default() -> Self {
        ContractParams {
            max_code_bytes: 64 * 1024,
            max_memory_pages: 16,
            max_call_gas: 50_000_000,
            max_block_gas: 250_000_000,
            receipt_delay_blocks: 1,
            max_promises: 8,
            max_depth: 16,
            max_args_bytes: 4096,
            max_key_bytes: 256,
            max_value_bytes: 4096,
            max_logs: 64,
            gas_price_per_mgas: 1,
        }
    }
}

/// Every receipt counts for at least this much gas against the block's receipt gas, and every
/// promise must attach at least this much: running a receipt costs the node an instantiation
/// whatever gas it carries, so gas-free receipts must not be free to multiply.
pub const MIN_RECEIPT_GAS: u64 = 10_000;

impl ContractParams {
    /// The least fee a deploy or call attaching `gas` pays.
    pub fn min_fee(&self, gas: u64) -> u64 {
        let f = (u128::from(gas) * u128::from(self.gas_price_per_mgas)).div_ceil(1_000_000);
        u64::try_from(f).unwrap_or(u64::MAX)
    }
}

/// What an execution may read about its call.
#[derive(Clone, Copy, Debug)]
pub struct CallEnv<'a> {
    /// The contract being run (its own address).
    pub contract: Address,
    /// Who called: the transaction's sender, or the contract that created the receipt.
    pub caller: Address,
    /// The account that signed the transaction this chain of calls started from.
    pub signer: Address,
    /// Value attached to the call, already credited to the contract's balance.
    pub value: u64,
    /// Height of the block executing it.
    pub height: u64,
    /// Timestamp of that block, ms.
    pub time_ms: u64,
    /// The method's arguments.
    pub input: &'a [u8],
    /// In a callback: the result of the receipt it waited for.
    pub promise_result: Option<&'a PromiseResult>,
    /// Gas the execution may use (burnt plus attached to promises).
    pub gas_limit: u64,
}

/// The result of a receipt, as its callback sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromiseResult {
    /// The callee returned these bytes.
    Ok(Vec<u8>),
    /// The callee failed; why.
    Err(String),
}

/// An outgoing call an execution asked for; it becomes a receipt only if the execution
/// succeeds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum PromiseAction {
    /// `promise_call`: run `method` of `contract` in a later block.
    Call {
        /// The callee.
        contract: Address,
        /// Its exported method.
        method: String,
        /// Arguments.
        args: Vec<u8>,
        /// Gas attached (taken from this execution's gas).
        gas: u64,
        /// Value attached (taken from this contract's balance when the promise is made).
        value: u64,
    },
    /// `promise_then`: run `method` of this contract after promise `after` (an index into
    /// this execution's promises) finished, with its result.
    Then {
        /// The promise it waits for.
        after: u32,
        /// This contract's exported method.
        method: String,
        /// Arguments.
        args: Vec<u8>,
        /// Gas attached.
        gas: u64,
    },
}

/// What an execution did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Gas consumed by the execution itself (instructions and host calls).
    pub gas_burnt: u64,
    /// Gas attached to its promises.
    pub gas_attached: u64,
    /// The return value, or why it failed. On failure the caller reverts what the execution
    /// did through [`Host`], and its promises, logs and events are void.
    pub result: Result<Vec<u8>, ExecError>,
    /// Log lines (`log`).
    pub logs: Vec<String>,
    /// Events (`emit`).
    pub events: Vec<Vec<u8>>,
    /// Outgoing calls, in the order made.
    pub promises: Vec<PromiseAction>,
}

/// Why an execution failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ExecError {
    /// The gas ran out.
    #[error("out of gas")]
    OutOfGas,
    /// The module trapped (unreachable, out-of-bounds memory, division by zero, ...).
    #[error("trap: {0}")]
    Trap(String),
    /// The contract called `fail` with this message.
    #[error("failed: {0}")]
    Failed(String),
    /// The method is not an exported `() -> ()` function.
    #[error("no method `{0}`")]
    NoMethod(String),
    /// No contract is deployed at the address called.
    #[error("no contract at {0}")]
    NoContract(String),
    /// A host function refused (a limit, a balance, bad arguments); what.
    #[error("host: {0}")]
    Host(String),
}

/// Why a module cannot be deployed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum DeployError {
    /// Larger than `max_code_bytes`.
    #[error("module is {size} bytes, more than the limit of {max}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: u32,
    },
    /// Not valid WebAssembly (or WAT text that does not compile); the parser's reason.
    #[error("not a valid module: {0}")]
    Invalid(String),
    /// Uses floating point.
    #[error("uses floating point ({0}); contracts must be deterministic")]
    FloatingPoint(String),
    /// Imports something other than the host API.
    #[error("imports `{module}.{name}`, which is not part of the host API")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A host function imported with the wrong signature.
    #[error("imports host function `{0}` with the wrong signature")]
    BadSignature(String),
    /// Declares more memory than `max_memory_pages` (or no maximum above it).
    #[error("memory of {pages} pages exceeds the limit of {max}")]
    MemoryTooLarge {
        /// Pages declared.
        pages: u64,
        /// The limit.
        max: u32,
    },
    /// Has no exported memory named `memory`.
    #[error("exports no memory named `memory`")]
    NoMemory,
    /// Has a start function (which would run outside any call).
    #[error("has a start function")]
    StartFunction,
}

/// What an execution may change, implemented by the chain's state with an undo journal.
pub trait Host {
    /// The value under `key` in the running contract's storage.
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Sets `key` to `value` in the running contract's storage.
    fn storage_write(&mut self, key: &[u8], value: &[u8]);
    /// Removes `key`; whether it was there.
    fn storage_remove(&mut self, key: &[u8]) -> bool;
    /// The running contract's balance.
    fn balance(&self) -> u64;
    /// Moves `amount` from the running contract's balance to `to`, at once.
    ///
    /// # Errors
    /// Why not (the balance does not cover it, the recipient would overflow).
    fn transfer(&mut self, to: Address, amount: u64) -> Result<(), String>;
    /// Takes `amount` from the running contract's balance (the value a promise carries).
    ///
    /// # Errors
    /// The balance does not cover it.
    fn debit(&mut self, amount: u64) -> Result<(), String>;
}
