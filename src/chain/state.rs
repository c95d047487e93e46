//! Account and contract state, transaction application with undo records, and the state
//! root.
//!
//! The state root is an incremental multiset hash (AdHash: the sum modulo 2^256 of a
//! SHA-256 leaf per entry), hashed once more with the entry count. The entries are the
//! accounts, the deployed contracts' code, every contract's storage and the pending receipts
//! (`chain::exec`), each with its own leaf domain. Applying a block costs O(entries it
//! touches), not O(all entries); equal states give equal roots.
//!
//! The maps are persistent ([`Map`], `imbl::OrdMap`: ordered, so iteration is in key order
//! as with a `BTreeMap`): cloning a state is O(1), and a changed copy shares every untouched
//! part with the original. So the nodes of a process can hold the same state, and a block's
//! post-state can be handed from one node to the next (`chain::shared`,
//! docs/design.md, "Shared work across nodes").

use crate::contract::PromiseResult;
use crate::crypto::Address;
use crate::hash::{Hash, TxId};
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The persistent ordered map the state is made of: O(1) clones that share structure,
/// iteration in key order.
pub type Map<K, V> = imbl::OrdMap<K, V>;

/// One account.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// Spendable balance.
    pub balance: u64,
    /// Number of transactions sent so far (the next nonce).
    pub nonce: u64,
}

/// Why a transaction cannot be applied to a state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The nonce is not the account's next one.
    #[error("nonce {got} is not the next nonce {expected}")]
    BadNonce {
        /// The account's next nonce.
        expected: u64,
        /// The transaction's nonce.
        got: u64,
    },
    /// amount + fee exceeds the balance.
    #[error("balance {balance} does not cover amount + fee {needed}")]
    InsufficientBalance {
        /// Current balance.
        balance: u64,
        /// amount + fee.
        needed: u128,
    },
    /// A credit would overflow u64.
    #[error("balance overflow")]
    Overflow,
    /// The block's transactions attach more gas than `max_block_gas`.
    #[error("the block's transactions attach {total} gas, more than the limit {max}")]
    BlockGas {
        /// Gas attached up to and including this transaction.
        total: u128,
        /// The limit.
        max: u64,
    },
}

/// What to restore to revert a block: each touched entry's value before the block.
#[derive(Clone, Debug, Default)]
pub struct Undo {
    prev: Vec<(Address, Option<Account>)>,
    contract: Vec<Prev>,
}

/// A contract entry's value before a change.
#[derive(Clone, Debug)]
enum Prev {
    Code(Address, Option<Code>),
    Storage(Address, Vec<u8>, Option<Vec<u8>>),
    Receipt(Hash, Option<Box<Receipt>>),
}

/// A point in an [`Undo`] to revert back to ([`State::revert_to`]): what one failed contract
/// execution did is undone, what came before stays.
#[derive(Clone, Copy, Debug)]
pub struct Mark(usize, usize);

impl Undo {
    /// Addresses touched (may repeat).
    pub fn touched(&self) -> impl Iterator<Item = &Address> {
        self.prev.iter().map(|(a, _)| a)
    }

    /// The current end, to revert back to.
    pub fn mark(&self) -> Mark {
        Mark(self.prev.len(), self.contract.len())
    }
}

/// A deployed contract's module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Code {
    /// SHA-256 of the wasm bytes.
    pub hash: Hash,
    /// The wasm bytes.
    pub wasm: Arc<Vec<u8>>,
}

/// Where a pending receipt stands in the execution order: the first block height that may
/// execute it, then the height of the block that made it ready and its rank among the
/// receipts that block made ready (so receipts run in the order they became ready).
pub type ReceiptKey = (u64, u64, u32);

/// A pending outgoing call (or callback), part of the state until a block executes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    /// The transaction whose call started the chain of receipts.
    pub origin: TxId,
    /// That transaction's sender.
    pub signer: Address,
    /// The contract that made it (the callee sees it as its caller).
    pub predecessor: Address,
    /// The contract to run.
    pub receiver: Address,
    /// Its method.
    pub method: String,
    /// The arguments.
    pub args: Vec<u8>,
    /// Gas attached.
    pub gas: u64,
    /// Value attached (already taken from the predecessor; refunded if the receipt fails).
    pub value: u64,
    /// Height of the block that made it.
    pub created_height: u64,
    /// Receipts between it and the transaction (1 for a receipt a transaction made).
    pub depth: u32,
    /// For a callback: the receipt whose result it waits for.
    pub waits_for: Option<Hash>,
    /// For a callback: that receipt's result, once it ran.
    pub result: Option<PromiseResult>,
    /// Its place in the execution order once it is ready (a callback is ready when the
    /// receipt it waits for ran).
    pub ready: Option<ReceiptKey>,
    /// Callbacks waiting for this receipt.
    pub dependents: Vec<Hash>,
}

/// All accounts, contracts and pending receipts, plus the running state commitment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    accounts: Map<Address, Account>,
    leaves: Map<Address, [u64; 4]>,
    acc: [u64; 4],
    code: Map<Address, Code>,
    storage: Map<(Address, Vec<u8>), Vec<u8>>,
    receipts: Map<Hash, Receipt>,
    /// The ready receipts by [`ReceiptKey`] (an index of `receipts`, not committed apart).
    queue: Map<ReceiptKey, Hash>,
}

fn words(h: &Hash) -> [u64; 4] {
    let mut out = [0u64; 4];
    for (i, chunk) in h.0.chunks_exact(8).enumerate() {
        out[i] = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    out
}

fn code_leaf(addr: &Address, code: &Code) -> [u64; 4] {
    words(&Hash::sha256_parts(&[
        b"chainlab/code/v1",
        &addr.0,
        &code.hash.0,
    ]))
}

fn storage_leaf(addr: &Address, key: &[u8], value: &[u8]) -> [u64; 4] {
    words(&Hash::sha256_parts(&[
        b"chainlab/storage/v1",
        &addr.0,
        &(key.len() as u32).to_le_bytes(),
        key,
        value,
    ]))
}

fn receipt_leaf(id: &Hash, r: &Receipt) -> [u64; 4] {
    words(&Hash::sha256_parts(&[
        b"chainlab/receipt/v1",
        &id.0,
        &crate::encoding::encode(r),
    ]))
}

fn leaf(addr: &Address, a: &Account) -> [u64; 4] {
    words(&Hash::sha256_parts(&[
        b"chainlab/account/v1",
        &addr.0,
        &a.balance.to_le_bytes(),
        &a.nonce.to_le_bytes(),
    ]))
}

fn add256(acc: &mut [u64; 4], x: &[u64; 4]) {
    let mut carry = false;
    for i in 0..4 {
        let (s1, c1) = acc[i].overflowing_add(x[i]);
        let (s2, c2) = s1.overflowing_add(u64::from(carry));
        acc[i] = s2;
        carry = c1 || c2;
    }
}

fn sub256(acc: &mut [u64; 4], x: &[u64; 4]) {
    let mut borrow = false;
    for i in 0..4 {
        let (d1, b1) = acc[i].overflowing_sub(x[i]);
        let (d2, b2) = d1.overflowing_sub(u64::from(borrow));
        acc[i] = d2;
        borrow = b1 || b2;
    }
}

impl State {
    /// A state holding `accounts`.
    pub fn from_balances(balances: impl IntoIterator<Item = (Address, u64)>) -> State {
        let mut s = State::default();
        for (addr, balance) in balances {
            let mut a = s.get(&addr);
            a.balance = a.balance.saturating_add(balance);
            s.set(addr, a);
        }
        s
    }

    /// A state holding exactly these accounts (its root computed from scratch).
    pub fn from_accounts(accounts: BTreeMap<Address, Account>) -> State {
        let mut s = State::default();
        for (addr, a) in accounts {
            s.set(addr, a);
        }
        s
    }

    /// The account at `addr` (zero if absent).
    pub fn get(&self, addr: &Address) -> Account {
        self.accounts.get(addr).copied().unwrap_or_default()
    }

    /// Every account in address order.
    pub fn accounts(&self) -> &Map<Address, Account> {
        &self.accounts
    }

    fn set(&mut self, addr: Address, a: Account) {
        if let Some(old) = self.leaves.get(&addr) {
            sub256(&mut self.acc, old);
        }
        if a == Account::default() {
            self.accounts.remove(&addr);
            self.leaves.remove(&addr);
        } else {
            let l = leaf(&addr, &a);
            add256(&mut self.acc, &l);
            self.accounts.insert(addr, a);
            self.leaves.insert(addr, l);
        }
    }

    fn restore(&mut self, addr: Address, prev: Option<Account>) {
        self.set(addr, prev.unwrap_or_default());
    }

    /// The code deployed at `addr`.
    pub fn code(&self, addr: &Address) -> Option<&Code> {
        self.code.get(addr)
    }

    /// Every deployed contract, by address.
    pub fn contracts(&self) -> &Map<Address, Code> {
        &self.code
    }

    /// The value under `key` in the storage of contract `addr`.
    pub fn storage(&self, addr: &Address, key: &[u8]) -> Option<&Vec<u8>> {
        self.storage.get(&(*addr, key.to_vec()))
    }

    /// Every storage entry of every contract, by (contract, key).
    pub fn all_storage(&self) -> &Map<(Address, Vec<u8>), Vec<u8>> {
        &self.storage
    }

    /// The pending receipt `id`.
    pub fn receipt(&self, id: &Hash) -> Option<&Receipt> {
        self.receipts.get(id)
    }

    /// Every pending receipt, by id.
    pub fn receipts(&self) -> &Map<Hash, Receipt> {
        &self.receipts
    }

    /// The first ready receipt in execution order.
    pub fn next_ready(&self) -> Option<(ReceiptKey, Hash)> {
        self.queue.get_min().map(|(k, id)| (*k, *id))
    }

    /// Deploys (or with `None` removes) the code at `addr`, recording undo data.
    pub fn set_code(&mut self, addr: Address, code: Option<Code>, undo: &mut Undo) {
        let prev = self.put_code(addr, code);
        undo.contract.push(Prev::Code(addr, prev));
    }

    fn put_code(&mut self, addr: Address, code: Option<Code>) -> Option<Code> {
        if let Some(c) = &code {
            add256(&mut self.acc, &code_leaf(&addr, c));
        }
        let prev = match code {
            Some(c) => self.code.insert(addr, c),
            None => self.code.remove(&addr),
        };
        if let Some(p) = &prev {
            sub256(&mut self.acc, &code_leaf(&addr, p));
        }
        prev
    }

    /// Sets (or with `None` removes) `key` in contract `addr`'s storage, recording undo data.
    pub fn set_storage(
        &mut self,
        addr: Address,
        key: &[u8],
        value: Option<Vec<u8>>,
        undo: &mut Undo,
    ) {
        let prev = self.put_storage(addr, key.to_vec(), value);
        undo.contract.push(Prev::Storage(addr, key.to_vec(), prev));
    }

    fn put_storage(
        &mut self,
        addr: Address,
        key: Vec<u8>,
        value: Option<Vec<u8>>,
    ) -> Option<Vec<u8>> {
        if let Some(v) = &value {
            add256(&mut self.acc, &storage_leaf(&addr, &key, v));
        }
        let prev = match value {
            Some(v) => self.storage.insert((addr, key.clone()), v),
            None => self.storage.remove(&(addr, key.clone())),
        };
        if let Some(p) = &prev {
            sub256(&mut self.acc, &storage_leaf(&addr, &key, p));
        }
        prev
    }

    /// Sets (or with `None` removes) the pending receipt `id`, recording undo data.
    pub fn set_receipt(&mut self, id: Hash, receipt: Option<Receipt>, undo: &mut Undo) {
        let prev = self.put_receipt(id, receipt);
        undo.contract.push(Prev::Receipt(id, prev.map(Box::new)));
    }

    fn put_receipt(&mut self, id: Hash, receipt: Option<Receipt>) -> Option<Receipt> {
        if let Some(r) = &receipt {
            add256(&mut self.acc, &receipt_leaf(&id, r));
            if let Some(k) = r.ready {
                self.queue.insert(k, id);
            }
        }
        let prev = match receipt {
            Some(r) => self.receipts.insert(id, r),
            None => self.receipts.remove(&id),
        };
        if let Some(p) = &prev {
            sub256(&mut self.acc, &receipt_leaf(&id, p));
            if let Some(k) = p.ready {
                let now = self.receipts.get(&id).and_then(|r| r.ready);
                if now != Some(k) {
                    self.queue.remove(&k);
                }
            }
        }
        prev
    }

    /// Number of entries the commitment covers.
    fn entries(&self) -> u64 {
        (self.accounts.len() + self.code.len() + self.storage.len() + self.receipts.len()) as u64
    }

    /// Commitment to the whole state.
    pub fn root(&self) -> Hash {
        let mut bytes = [0u8; 32];
        for (i, w) in self.acc.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        Hash::sha256_parts(&[b"chainlab/state/v1", &bytes, &self.entries().to_le_bytes()])
    }

    /// Sum of all balances.
    pub fn total_supply(&self) -> u128 {
        self.accounts.values().map(|a| u128::from(a.balance)).sum()
    }

    /// Checks that `tx` could apply now, without changing anything.
    ///
    /// # Errors
    /// The first rule it breaks.
    pub fn check_tx(&self, tx: &Transaction) -> Result<(), ApplyError> {
        self.check_from(tx, &tx.sender())
    }

    fn check_from(&self, tx: &Transaction, from: &Address) -> Result<(), ApplyError> {
        let sender = self.get(from);
        if tx.nonce != sender.nonce {
            return Err(ApplyError::BadNonce {
                expected: sender.nonce,
                got: tx.nonce,
            });
        }
        let needed = u128::from(tx.amount) + u128::from(tx.fee);
        if u128::from(sender.balance) < needed {
            return Err(ApplyError::InsufficientBalance {
                balance: sender.balance,
                needed,
            });
        }
        Ok(())
    }

    /// Applies one transfer (fee is collected by the caller), recording undo data. A
    /// contract transaction's payload is not run here: [`crate::chain::exec`] runs it.
    ///
    /// # Errors
    /// As [`State::check_tx`], or overflow of the recipient; nothing changes on error.
    pub fn apply_tx(&mut self, tx: &Transaction, undo: &mut Undo) -> Result<(), ApplyError> {
        let from = tx.sender();
        self.check_from(tx, &from)?;
        if tx.to != from {
            self.get(&tx.to)
                .balance
                .checked_add(tx.amount)
                .ok_or(ApplyError::Overflow)?;
        }
        self.charge(tx, &from, undo);
        self.credit(tx.to, tx.amount, undo)
            .expect("checked above: the recipient does not overflow");
        Ok(())
    }

    /// Takes amount + fee from the sender and advances its nonce (checked by the caller).
    pub(crate) fn charge(&mut self, tx: &Transaction, from: &Address, undo: &mut Undo) {
        let mut s = self.get(from);
        undo.prev.push((*from, self.accounts.get(from).copied()));
        s.balance -= tx.amount + tx.fee;
        s.nonce += 1;
        self.set(*from, s);
    }

    /// Takes `amount` from `addr`, recording undo data.
    ///
    /// # Errors
    /// [`ApplyError::InsufficientBalance`]; nothing changes.
    pub fn debit(&mut self, addr: Address, amount: u64, undo: &mut Undo) -> Result<(), ApplyError> {
        let mut a = self.get(&addr);
        if a.balance < amount {
            return Err(ApplyError::InsufficientBalance {
                balance: a.balance,
                needed: u128::from(amount),
            });
        }
        undo.prev.push((addr, self.accounts.get(&addr).copied()));
        a.balance -= amount;
        self.set(addr, a);
        Ok(())
    }

    /// Credits `amount` to `addr`, recording undo data.
    ///
    /// # Errors
    /// [`ApplyError::Overflow`] when the balance would overflow.
    pub fn credit(
        &mut self,
        addr: Address,
        amount: u64,
        undo: &mut Undo,
    ) -> Result<(), ApplyError> {
        let mut a = self.get(&addr);
        a.balance = a.balance.checked_add(amount).ok_or(ApplyError::Overflow)?;
        undo.prev.push((addr, self.accounts.get(&addr).copied()));
        self.set(addr, a);
        Ok(())
    }

    /// Reverts what `undo` recorded.
    pub fn revert(&mut self, undo: &Undo) {
        for (addr, prev) in undo.prev.iter().rev() {
            self.restore(*addr, *prev);
        }
        for p in undo.contract.iter().rev() {
            self.restore_contract(p.clone());
        }
    }

    /// Reverts what `undo` recorded after `mark`, and forgets it.
    pub fn revert_to(&mut self, undo: &mut Undo, mark: Mark) {
        for (addr, prev) in undo.prev.drain(mark.0..).rev() {
            self.restore(addr, prev);
        }
        let tail: Vec<Prev> = undo.contract.drain(mark.1..).collect();
        for p in tail.into_iter().rev() {
            self.restore_contract(p);
        }
    }

    fn restore_contract(&mut self, p: Prev) {
        match p {
            Prev::Code(addr, c) => {
                self.put_code(addr, c);
            }
            Prev::Storage(addr, key, v) => {
                self.put_storage(addr, key, v);
            }
            Prev::Receipt(id, r) => {
                self.put_receipt(id, r.map(|r| *r));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyPair;

    fn setup() -> (KeyPair, State) {
        let k = KeyPair::from_seed(b"k");
        let s = State::from_balances([(k.address(), 100)]);
        (k, s)
    }

    #[test]
    fn apply_and_revert_restore_root() {
        let (k, mut s) = setup();
        let root0 = s.root();
        let tx = Transaction::new_signed(&k, 1, Address([9; 20]), 30, 2, 0);
        let mut u = Undo::default();
        s.apply_tx(&tx, &mut u).unwrap();
        assert_eq!(
            s.get(&k.address()),
            Account {
                balance: 68,
                nonce: 1
            }
        );
        assert_eq!(s.get(&Address([9; 20])).balance, 30);
        assert_ne!(s.root(), root0);
        s.revert(&u);
        assert_eq!(s.root(), root0);
        assert_eq!(s, setup().1);
    }

    #[test]
    fn nonce_and_balance_rules() {
        let (k, mut s) = setup();
        let mut u = Undo::default();
        let bad_nonce = Transaction::new_signed(&k, 1, Address([9; 20]), 1, 1, 1);
        assert_eq!(
            s.apply_tx(&bad_nonce, &mut u),
            Err(ApplyError::BadNonce {
                expected: 0,
                got: 1
            })
        );
        let too_much = Transaction::new_signed(&k, 1, Address([9; 20]), 100, 1, 0);
        assert!(matches!(
            s.apply_tx(&too_much, &mut u),
            Err(ApplyError::InsufficientBalance { .. })
        ));
        assert_eq!(s, setup().1);
    }

    #[test]
    fn self_transfer_only_costs_the_fee() {
        let (k, mut s) = setup();
        let tx = Transaction::new_signed(&k, 1, k.address(), 50, 3, 0);
        s.apply_tx(&tx, &mut Undo::default()).unwrap();
        assert_eq!(
            s.get(&k.address()),
            Account {
                balance: 97,
                nonce: 1
            }
        );
    }

    #[test]
    fn root_is_independent_of_insertion_order() {
        let a = State::from_balances([(Address([1; 20]), 5), (Address([2; 20]), 6)]);
        let b = State::from_balances([(Address([2; 20]), 6), (Address([1; 20]), 5)]);
        assert_eq!(a.root(), b.root());
        let c = State::from_balances([(Address([2; 20]), 5), (Address([1; 20]), 6)]);
        assert_ne!(a.root(), c.root());
    }
}
