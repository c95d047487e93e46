//! Executing a block (docs/contracts.md): first the receipts that are due, in the order they
//! became ready and within the block's receipt gas, then the transactions in order
//! (transfers, deploys, calls), then the reward and fees to the miner.
//!
//! A contract execution that fails (a trap, out of gas, `fail`, a refused host call, a call
//! too deep) is rolled back on its own: what it wrote and the value it received are undone,
//! its promises never become receipts, the value goes back to whoever sent it, and its gas is
//! burnt. Nothing else rolls back: a caller's changes stand when a receipt it made fails
//! later, as on NEAR, and a callback sees the failure as `Err(reason)`. A transaction whose
//! call fails is still valid and included (its fee paid, its nonce used).
//!
//! Every node executes every block it connects, so each ends with the same contract storage
//! and receipts; they are state entries under the root each header commits to
//! (`chain::state`), so a reorg reverts and re-applies them with the accounts.

use crate::block::Block;
use crate::chain::state::{ApplyError, Code, Receipt, ReceiptKey, State, Undo};
use crate::contract::PromiseResult;
use crate::contract::{
    vm, CallEnv, ContractParams, ExecError, Host, Outcome, PromiseAction, MIN_RECEIPT_GAS,
};
use crate::crypto::Address;
use crate::hash::{Hash, TxId};
use crate::tx::{Payload, Transaction};

/// What contract execution did, in block order: the trace events and report figures
/// (`report::contracts`) are read from these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExecRecord {
    /// A deploy transaction ran (its `init`, if any, succeeded or not).
    Deployed {
        /// The transaction.
        tx: TxId,
        /// The new contract's address.
        contract: Address,
        /// Gas burnt by `init`.
        gas_burnt: u64,
        /// Whether it stands; why not.
        result: Result<(), ExecError>,
    },
    /// A call transaction ran.
    Called {
        /// The transaction.
        tx: TxId,
        /// The contract called.
        contract: Address,
        /// Its method.
        method: String,
        /// Gas burnt.
        gas_burnt: u64,
        /// Success, or why it failed.
        result: Result<(), ExecError>,
    },
    /// A receipt was made (by a successful execution).
    ReceiptCreated {
        /// Its id.
        id: Hash,
        /// The transaction its chain started from.
        origin: TxId,
        /// The contract it will run.
        receiver: Address,
        /// The method.
        method: String,
        /// Whether it is a callback (waits for another receipt's result).
        callback: bool,
    },
    /// A receipt ran.
    ReceiptExecuted {
        /// Its id.
        id: Hash,
        /// The transaction its chain started from.
        origin: TxId,
        /// The contract it ran.
        receiver: Address,
        /// The method.
        method: String,
        /// Height of the block that made it.
        created_height: u64,
        /// For a callback: whether the result it was given was `Ok`.
        callback: Option<bool>,
        /// Gas burnt.
        gas_burnt: u64,
        /// Success, or why it failed.
        result: Result<(), ExecError>,
    },
    /// A contract emitted an event.
    Event {
        /// The contract.
        contract: Address,
        /// The event's bytes.
        data: Vec<u8>,
    },
    /// A contract logged a line.
    Log {
        /// The contract.
        contract: Address,
        /// The line.
        line: String,
    },
}

/// A block's effect on the state: what reverts it, and what its contracts did.
#[derive(Clone, Debug, Default)]
pub struct Executed {
    /// Reverts the block.
    pub undo: Undo,
    /// What contract execution did.
    pub records: Vec<ExecRecord>,
}

/// Executes `block` (whose transaction ids are `tx_ids`) on `state`, paying `reward` plus fees
/// to its miner. All or nothing: on error the state is as before.
///
/// # Errors
/// The index of the failing transaction (or `txs.len()` for the reward) and why.
pub fn execute_block(
    state: &mut State,
    block: &Block,
    tx_ids: &[TxId],
    reward: u64,
    params: &ContractParams,
) -> Result<Executed, (usize, ApplyError)> {
    let mut run = BlockRun::begin(
        state,
        block.header.height,
        block.header.timestamp_ms,
        params,
    );
    for (i, (tx, id)) in block.txs.iter().zip(tx_ids).enumerate() {
        if let Err(e) = run.apply_tx(tx, id) {
            run.abort();
            return Err((i, e));
        }
    }
    run.finish(block.header.miner, reward)
        .map_err(|e| (block.txs.len(), e))
}

/// Runs `method` of `contract` read-only on `state` as if in a block at `height` stamped
/// `time_ms`, called by the zero address with `max_call_gas`: what it returns. Whatever it
/// writes, transfers or promises is undone.
///
/// # Errors
/// Why the execution failed.
pub fn view(
    state: &mut State,
    contract: Address,
    method: &str,
    args: &[u8],
    height: u64,
    time_ms: u64,
    params: &ContractParams,
) -> Result<Vec<u8>, ExecError> {
    let mut run = BlockRun::new(state, height, time_ms, params);
    let call = Invocation {
        parent: Hash::ZERO,
        origin: Hash::ZERO,
        signer: Address::default(),
        caller: Address::default(),
        contract,
        method,
        args,
        gas: params.max_call_gas,
        value: 0,
        depth: 0,
        promise_result: None,
    };
    let (_, result) = run.invoke(call);
    run.abort();
    result
}

/// One block's execution in progress: [`BlockRun::begin`] runs the due receipts, then
/// [`BlockRun::apply_tx`] each transaction, then [`BlockRun::finish`] pays the miner (or
/// [`BlockRun::abort`] undoes everything). A template builder tries transactions one by one
/// and keeps those that apply.
pub struct BlockRun<'a> {
    state: &'a mut State,
    undo: Undo,
    records: Vec<ExecRecord>,
    height: u64,
    time_ms: u64,
    params: &'a ContractParams,
    /// Receipts made ready by this block so far (the rank in their [`ReceiptKey`]).
    ready_rank: u32,
    /// Gas attached by the transactions so far.
    tx_gas: u128,
    fees: u64,
}

impl<'a> BlockRun<'a> {
    /// Starts a block at `height` stamped `time_ms`: runs the receipts due by then.
    pub fn begin(
        state: &'a mut State,
        height: u64,
        time_ms: u64,
        params: &'a ContractParams,
    ) -> BlockRun<'a> {
        let mut run = BlockRun::new(state, height, time_ms, params);
        run.run_receipts();
        run
    }

    /// A block at `height` stamped `time_ms` that has done nothing yet.
    fn new(
        state: &'a mut State,
        height: u64,
        time_ms: u64,
        params: &'a ContractParams,
    ) -> BlockRun<'a> {
        BlockRun {
            state,
            undo: Undo::default(),
            records: Vec::new(),
            height,
            time_ms,
            params,
            ready_rank: 0,
            tx_gas: 0,
            fees: 0,
        }
    }

    /// The fees collected so far.
    pub fn fees(&self) -> u64 {
        self.fees
    }

    /// Applies one transaction; on error nothing of it stays.
    ///
    /// # Errors
    /// Why it cannot be in this block: the sender's nonce or balance, an overflow, the fees
    /// overflowing with `reward` is checked by [`BlockRun::finish`], the block's gas.
    pub fn apply_tx(&mut self, tx: &Transaction, id: &TxId) -> Result<(), ApplyError> {
        let fees = self.fees.checked_add(tx.fee).ok_or(ApplyError::Overflow)?;
        let gas = self.tx_gas + u128::from(tx.payload.gas());
        if gas > u128::from(self.params.max_block_gas) {
            return Err(ApplyError::BlockGas {
                total: gas,
                max: self.params.max_block_gas,
            });
        }
        match &tx.payload {
            Payload::Transfer => self.state.apply_tx(tx, &mut self.undo)?,
            Payload::Deploy(d) => {
                let (gas_burnt, result) =
                    self.charged(tx, |run| run.deploy(tx, id, &d.code, &d.init_args, d.gas))?;
                self.records.push(ExecRecord::Deployed {
                    tx: *id,
                    contract: tx.to,
                    gas_burnt,
                    result,
                });
            }
            Payload::Call(c) => {
                let (gas_burnt, result) = self.charged(tx, |run| {
                    let call = Invocation::of_tx(tx, id, &c.method, &c.args, c.gas);
                    let (burnt, result) = run.invoke(call);
                    (burnt, result.map(|_| ()))
                })?;
                self.records.push(ExecRecord::Called {
                    tx: *id,
                    contract: tx.to,
                    method: c.method.clone(),
                    gas_burnt,
                    result,
                });
            }
        }
        self.tx_gas = gas;
        self.fees = fees;
        Ok(())
    }

    /// Pays `reward` plus the fees to `miner` and returns the block's undo and records.
    ///
    /// # Errors
    /// [`ApplyError::Overflow`] when the payment overflows; the state is then as before.
    pub fn finish(mut self, miner: Address, reward: u64) -> Result<Executed, ApplyError> {
        let paid = reward.checked_add(self.fees).ok_or(ApplyError::Overflow);
        if let Err(e) = paid.and_then(|p| self.state.credit(miner, p, &mut self.undo)) {
            self.state.revert(&self.undo);
            return Err(e);
        }
        Ok(Executed {
            undo: self.undo,
            records: self.records,
        })
    }

    /// Undoes everything this block did.
    pub fn abort(self) {
        self.state.revert(&self.undo);
    }

    /// Takes a contract transaction's amount and fee and advances its sender's nonce, then
    /// runs `exec`; if that fails, rolls back what it did and refunds the amount.
    ///
    /// # Errors
    /// Why the transaction cannot be in the block (nonce, balance): nothing of it stays.
    fn charged(
        &mut self,
        tx: &Transaction,
        exec: impl FnOnce(&mut Self) -> (u64, Result<(), ExecError>),
    ) -> Result<(u64, Result<(), ExecError>), ApplyError> {
        let from = tx.sender();
        self.state.check_tx(tx)?;
        self.state.charge(tx, &from, &mut self.undo);
        let mark = self.undo.mark();
        let (gas_burnt, result) = exec(self);
        if result.is_err() {
            self.state.revert_to(&mut self.undo, mark);
            self.refund(from, tx.amount);
        }
        Ok((gas_burnt, result))
    }

    fn refund(&mut self, to: Address, amount: u64) {
        if amount > 0 {
            // It was taken from `to` moments ago, so it fits; if `to` received more in
            // between and would overflow, the value is burnt rather than the block refused.
            let _ = self.state.credit(to, amount, &mut self.undo);
        }
    }

    fn next_key(&mut self) -> ReceiptKey {
        let key = (
            self.height + self.params.receipt_delay_blocks.max(1),
            self.height,
            self.ready_rank,
        );
        self.ready_rank += 1;
        key
    }

    fn deploy(
        &mut self,
        tx: &Transaction,
        id: &TxId,
        wasm: &[u8],
        init_args: &[u8],
        gas: u64,
    ) -> (u64, Result<(), ExecError>) {
        if self.state.code(&tx.to).is_some() {
            return (
                0,
                Err(ExecError::Host("a contract exists at that address".into())),
            );
        }
        let code = Code {
            hash: Hash::sha256(wasm),
            wasm: std::sync::Arc::new(wasm.to_vec()),
        };
        let has_init = vm::has_method(&code.hash, &code.wasm, "init");
        self.state.set_code(tx.to, Some(code), &mut self.undo);
        if tx.amount > 0 {
            if let Err(e) = self.state.credit(tx.to, tx.amount, &mut self.undo) {
                return (0, Err(ExecError::Host(e.to_string())));
            }
        }
        if !has_init {
            return (0, Ok(()));
        }
        let init = Invocation::of_tx(tx, id, "init", init_args, gas);
        // The value was credited with the code above, so `invoke` must not credit it again.
        let (burnt, result) = self.invoke_credited(init);
        (burnt, result.map(|_| ()))
    }

    /// Runs a call: credits its value to the contract, executes, and on success turns its
    /// promises into receipts. The caller reverts on failure.
    fn invoke(&mut self, call: Invocation<'_>) -> (u64, Result<Vec<u8>, ExecError>) {
        if self.state.code(&call.contract).is_none() {
            return (0, Err(ExecError::NoContract(format!("{}", call.contract))));
        }
        if call.value > 0 {
            if let Err(e) = self.state.credit(call.contract, call.value, &mut self.undo) {
                return (0, Err(ExecError::Host(e.to_string())));
            }
        }
        self.invoke_credited(call)
    }

    fn invoke_credited(&mut self, call: Invocation<'_>) -> (u64, Result<Vec<u8>, ExecError>) {
        let Some(code) = self.state.code(&call.contract).cloned() else {
            return (0, Err(ExecError::NoContract(format!("{}", call.contract))));
        };
        let env = CallEnv {
            contract: call.contract,
            caller: call.caller,
            signer: call.signer,
            value: call.value,
            height: self.height,
            time_ms: self.time_ms,
            input: call.args,
            promise_result: call.promise_result,
            gas_limit: call.gas,
        };
        let mut host = StateHost {
            state: self.state,
            undo: &mut self.undo,
            contract: call.contract,
        };
        let out: Outcome = vm::execute(
            &code.hash,
            &code.wasm,
            call.method,
            &env,
            &mut host,
            self.params,
        );
        let ret = match out.result {
            Ok(ret) => ret,
            Err(e) => return (out.gas_burnt, Err(e)),
        };
        if !out.promises.is_empty() && call.depth >= self.params.max_depth {
            let e = ExecError::Host(format!(
                "call depth: receipts may be {} deep",
                self.params.max_depth
            ));
            return (out.gas_burnt, Err(e));
        }
        if out
            .promises
            .iter()
            .any(|p| promise_gas(p) < MIN_RECEIPT_GAS)
        {
            let e = ExecError::Host(format!("a promise attaches at least {MIN_RECEIPT_GAS} gas"));
            return (out.gas_burnt, Err(e));
        }
        for line in out.logs {
            self.records.push(ExecRecord::Log {
                contract: call.contract,
                line,
            });
        }
        for data in out.events {
            self.records.push(ExecRecord::Event {
                contract: call.contract,
                data,
            });
        }
        self.make_receipts(&call, out.promises);
        (out.gas_burnt, Ok(ret))
    }

    fn make_receipts(&mut self, call: &Invocation<'_>, promises: Vec<PromiseAction>) {
        let ids: Vec<Hash> = (0..promises.len() as u32)
            .map(|i| {
                Hash::sha256_parts(&[b"chainlab/receipt-id/v1", &call.parent.0, &i.to_le_bytes()])
            })
            .collect();
        for (i, p) in promises.into_iter().enumerate() {
            let (receiver, method, args, gas, value, waits_for) = match p {
                PromiseAction::Call {
                    contract,
                    method,
                    args,
                    gas,
                    value,
                } => (contract, method, args, gas, value, None),
                PromiseAction::Then {
                    after,
                    method,
                    args,
                    gas,
                } => (
                    call.contract,
                    method,
                    args,
                    gas,
                    0,
                    ids.get(after as usize).copied(),
                ),
            };
            let ready = if waits_for.is_none() {
                Some(self.next_key())
            } else {
                None
            };
            let receipt = Receipt {
                origin: call.origin,
                signer: call.signer,
                predecessor: call.contract,
                receiver,
                method: method.clone(),
                args,
                gas,
                value,
                created_height: self.height,
                depth: call.depth + 1,
                waits_for,
                result: None,
                ready,
                dependents: Vec::new(),
            };
            if let Some(w) = waits_for {
                if let Some(mut awaited) = self.state.receipt(&w).cloned() {
                    awaited.dependents.push(ids[i]);
                    self.state.set_receipt(w, Some(awaited), &mut self.undo);
                }
            }
            self.state
                .set_receipt(ids[i], Some(receipt), &mut self.undo);
            self.records.push(ExecRecord::ReceiptCreated {
                id: ids[i],
                origin: call.origin,
                receiver,
                method,
                callback: waits_for.is_some(),
            });
        }
    }

    /// Runs the ready receipts due by this block, in order, while their attached gas fits the
    /// block's receipt gas (at least one runs, so a receipt is never stuck).
    fn run_receipts(&mut self) {
        let mut gas: u128 = 0;
        while let Some((key, id)) = self.state.next_ready() {
            if key.0 > self.height {
                break;
            }
            let Some(r) = self.state.receipt(&id).cloned() else {
                break;
            };
            let counted = u128::from(r.gas.max(MIN_RECEIPT_GAS));
            gas += counted;
            if gas > u128::from(self.params.max_block_gas) && gas > counted {
                break;
            }
            self.state.set_receipt(id, None, &mut self.undo);
            self.run_receipt(id, r);
        }
    }

    fn run_receipt(&mut self, id: Hash, r: Receipt) {
        let mark = self.undo.mark();
        let call = Invocation {
            parent: id,
            origin: r.origin,
            signer: r.signer,
            caller: r.predecessor,
            contract: r.receiver,
            method: &r.method,
            args: &r.args,
            gas: r.gas,
            value: r.value,
            depth: r.depth,
            promise_result: r.result.as_ref(),
        };
        let (gas_burnt, result) = self.invoke(call);
        if result.is_err() {
            self.state.revert_to(&mut self.undo, mark);
            self.refund(r.predecessor, r.value);
        }
        let given = match &result {
            Ok(ret) => PromiseResult::Ok(ret.clone()),
            Err(e) => PromiseResult::Err(e.to_string()),
        };
        for d in &r.dependents {
            if let Some(mut cb) = self.state.receipt(d).cloned() {
                cb.result = Some(given.clone());
                cb.ready = Some(self.next_key());
                self.state.set_receipt(*d, Some(cb), &mut self.undo);
            }
        }
        self.records.push(ExecRecord::ReceiptExecuted {
            id,
            origin: r.origin,
            receiver: r.receiver,
            method: r.method.clone(),
            created_height: r.created_height,
            callback: r
                .result
                .as_ref()
                .map(|res| matches!(res, PromiseResult::Ok(_))),
            gas_burnt,
            result: result.map(|_| ()),
        });
    }
}

fn promise_gas(p: &PromiseAction) -> u64 {
    match p {
        PromiseAction::Call { gas, .. } | PromiseAction::Then { gas, .. } => *gas,
    }
}

/// One contract execution's inputs.
struct Invocation<'c> {
    /// What its receipts' ids derive from: the transaction or receipt running.
    parent: Hash,
    origin: TxId,
    signer: Address,
    caller: Address,
    contract: Address,
    method: &'c str,
    args: &'c [u8],
    gas: u64,
    value: u64,
    depth: u32,
    promise_result: Option<&'c PromiseResult>,
}

impl<'c> Invocation<'c> {
    /// The execution a transaction starts: signed and called by its sender, on its `to`,
    /// with its amount.
    fn of_tx(tx: &Transaction, id: &TxId, method: &'c str, args: &'c [u8], gas: u64) -> Self {
        let from = tx.sender();
        Invocation {
            parent: *id,
            origin: *id,
            signer: from,
            caller: from,
            contract: tx.to,
            method,
            args,
            gas,
            value: tx.amount,
            depth: 0,
            promise_result: None,
        }
    }
}

/// The state as a running contract sees it ([`Host`]): its own storage and balance, every
/// change recorded in the block's undo.
struct StateHost<'s> {
    state: &'s mut State,
    undo: &'s mut Undo,
    contract: Address,
}

impl Host for StateHost<'_> {
    fn storage_read(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.state.storage(&self.contract, key).cloned()
    }

    fn storage_write(&mut self, key: &[u8], value: &[u8]) {
        self.state
            .set_storage(self.contract, key, Some(value.to_vec()), self.undo);
    }

    fn storage_remove(&mut self, key: &[u8]) -> bool {
        if self.state.storage(&self.contract, key).is_none() {
            return false;
        }
        self.state.set_storage(self.contract, key, None, self.undo);
        true
    }

    fn balance(&self) -> u64 {
        self.state.get(&self.contract).balance
    }

    fn transfer(&mut self, to: Address, amount: u64) -> Result<(), String> {
        if to != self.contract {
            self.state
                .get(&to)
                .balance
                .checked_add(amount)
                .ok_or("the recipient's balance would overflow")?;
        }
        self.state
            .debit(self.contract, amount, self.undo)
            .map_err(|e| e.to_string())?;
        self.state
            .credit(to, amount, self.undo)
            .map_err(|e| e.to_string())
    }

    fn debit(&mut self, amount: u64) -> Result<(), String> {
        self.state
            .debit(self.contract, amount, self.undo)
            .map_err(|e| e.to_string())
    }
}
