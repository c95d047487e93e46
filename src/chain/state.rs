//! Account state, transaction application with undo records, and the state root.
//!
//! The state root is an incremental multiset hash (AdHash: the sum modulo 2^256 of a
//! SHA-256 leaf per account), hashed once more with the account count. Applying a block
//! costs O(accounts it touches), not O(all accounts); equal states give equal roots.

use crate::block::Block;
use crate::crypto::Address;
use crate::hash::Hash;
use crate::tx::Transaction;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
}

/// What to restore to revert a block: each touched account's value before the block.
#[derive(Clone, Debug, Default)]
pub struct Undo {
    prev: Vec<(Address, Option<Account>)>,
}

impl Undo {
    /// Addresses touched (may repeat).
    pub fn touched(&self) -> impl Iterator<Item = &Address> {
        self.prev.iter().map(|(a, _)| a)
    }
}

/// All accounts, plus the running state commitment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct State {
    accounts: BTreeMap<Address, Account>,
    leaves: BTreeMap<Address, [u64; 4]>,
    acc: [u64; 4],
}

fn leaf(addr: &Address, a: &Account) -> [u64; 4] {
    let h = Hash::sha256_parts(&[
        b"chainlab/account/v1",
        &addr.0,
        &a.balance.to_le_bytes(),
        &a.nonce.to_le_bytes(),
    ]);
    let mut out = [0u64; 4];
    for (i, chunk) in h.0.chunks_exact(8).enumerate() {
        out[i] = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    out
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
    pub fn accounts(&self) -> &BTreeMap<Address, Account> {
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

    /// Commitment to the whole state.
    pub fn root(&self) -> Hash {
        let mut bytes = [0u8; 32];
        for (i, w) in self.acc.iter().enumerate() {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        Hash::sha256_parts(&[
            b"chainlab/state/v1",
            &bytes,
            &(self.accounts.len() as u64).to_le_bytes(),
        ])
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

    /// Applies one transaction (fee is collected by the caller), recording undo data.
    ///
    /// # Errors
    /// As [`State::check_tx`], or overflow of the recipient; nothing changes on error.
    pub fn apply_tx(&mut self, tx: &Transaction, undo: &mut Undo) -> Result<(), ApplyError> {
        let from = tx.sender();
        self.check_from(tx, &from)?;
        let mut s = self.get(&from);
        let to_before = if tx.to == from { s } else { self.get(&tx.to) };
        if tx.to != from {
            to_before
                .balance
                .checked_add(tx.amount)
                .ok_or(ApplyError::Overflow)?;
        }
        undo.prev.push((from, self.accounts.get(&from).copied()));
        s.balance -= tx.amount + tx.fee;
        s.nonce += 1;
        if tx.to == from {
            s.balance += tx.amount;
            self.set(from, s);
        } else {
            self.set(from, s);
            undo.prev.push((tx.to, self.accounts.get(&tx.to).copied()));
            let mut r = to_before;
            r.balance += tx.amount;
            self.set(tx.to, r);
        }
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

    /// Applies a whole block: each transaction in order, then reward plus fees to the miner.
    /// All or nothing: on error the state is as before.
    ///
    /// # Errors
    /// The index of the failing transaction (or `txs.len()` for the reward) and why.
    pub fn apply_block(&mut self, block: &Block, reward: u64) -> Result<Undo, (usize, ApplyError)> {
        let mut undo = Undo::default();
        let mut fees: u64 = 0;
        for (i, tx) in block.txs.iter().enumerate() {
            if let Err(e) = self.apply_tx(tx, &mut undo) {
                self.revert(&undo);
                return Err((i, e));
            }
            fees = fees.saturating_add(tx.fee);
        }
        let paid = reward
            .checked_add(fees)
            .ok_or((block.txs.len(), ApplyError::Overflow));
        let res = paid.and_then(|p| {
            self.credit(block.header.miner, p, &mut undo)
                .map_err(|e| (block.txs.len(), e))
        });
        if let Err(e) = res {
            self.revert(&undo);
            return Err(e);
        }
        Ok(undo)
    }

    /// Replays blocks onto `accounts` without maintaining the incremental commitment (used to
    /// check a live state: compare the result with [`State::accounts`], then the root once).
    ///
    /// # Errors
    /// The first transaction that does not apply, as (block index, tx index, error).
    pub fn replay_balances<'a>(
        accounts: &mut BTreeMap<Address, Account>,
        blocks: impl IntoIterator<Item = &'a Block>,
        reward: u64,
    ) -> Result<(), (usize, usize, ApplyError)> {
        for (bi, block) in blocks.into_iter().enumerate() {
            let mut fees: u64 = 0;
            for (ti, tx) in block.txs.iter().enumerate() {
                let from = tx.sender();
                let s = accounts.get(&from).copied().unwrap_or_default();
                if tx.nonce != s.nonce {
                    return Err((
                        bi,
                        ti,
                        ApplyError::BadNonce {
                            expected: s.nonce,
                            got: tx.nonce,
                        },
                    ));
                }
                let needed = u128::from(tx.amount) + u128::from(tx.fee);
                if u128::from(s.balance) < needed {
                    return Err((
                        bi,
                        ti,
                        ApplyError::InsufficientBalance {
                            balance: s.balance,
                            needed,
                        },
                    ));
                }
                let e = accounts.entry(from).or_default();
                e.balance -= tx.amount + tx.fee;
                e.nonce += 1;
                let r = accounts.entry(tx.to).or_default();
                r.balance =
                    r.balance
                        .checked_add(tx.amount)
                        .ok_or((bi, ti, ApplyError::Overflow))?;
                fees = fees.saturating_add(tx.fee);
            }
            let paid =
                reward
                    .checked_add(fees)
                    .ok_or((bi, block.txs.len(), ApplyError::Overflow))?;
            let m = accounts.entry(block.header.miner).or_default();
            m.balance =
                m.balance
                    .checked_add(paid)
                    .ok_or((bi, block.txs.len(), ApplyError::Overflow))?;
        }
        accounts.retain(|_, a| *a != Account::default());
        Ok(())
    }

    /// Reverts what `undo` recorded.
    pub fn revert(&mut self, undo: &Undo) {
        for (addr, prev) in undo.prev.iter().rev() {
            self.restore(*addr, *prev);
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
