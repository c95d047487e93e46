//! Mempool policy: admission, per-sender nonce order, fee-priority templates, a size bound
//! with lowest-fee eviction, removal on inclusion, re-insertion after reorgs, expiry.
//!
//! The pool keeps its own mirror of the accounts it needs (updated from each
//! [`crate::chain::TipChange`]), so admission never needs the chain's state.

use crate::chain::state::Account;
use crate::chain::validation::{check_tx, TxError};
use crate::crypto::{Address, SigCache};
use crate::hash::{HashMapById, TxId};
use crate::tx::Transaction;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::sync::Arc;

/// Pool limits and policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MempoolPolicy {
    /// Chain id transactions must carry.
    pub chain_id: u32,
    /// Most transactions held.
    pub max_txs: usize,
    /// How far past the next nonce a sender may queue.
    pub max_nonce_gap: u64,
    /// Lowest fee admitted (a policy rule, not a validity rule).
    pub min_fee: u64,
    /// A transaction older than this is dropped, ms.
    pub expiry_ms: u64,
    /// A replacement (same sender and nonce) must pay at least this many percent more.
    pub replace_bump_percent: u64,
}

/// Why a transaction was not admitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MempoolError {
    /// Invalid in itself (signature, chain id): the sender of it misbehaved.
    #[error("invalid transaction: {0}")]
    Invalid(#[from] TxError),
    /// Already in the pool.
    #[error("already in the pool")]
    AlreadyKnown,
    /// Nonce already used on chain.
    #[error("nonce {got} is below the account nonce {next}")]
    NonceTooLow {
        /// Account's next nonce.
        next: u64,
        /// Transaction's.
        got: u64,
    },
    /// Nonce too far ahead.
    #[error("nonce {got} is more than {max_gap} past the account nonce {next}")]
    NonceGap {
        /// Account's next nonce.
        next: u64,
        /// Transaction's.
        got: u64,
        /// Allowed gap.
        max_gap: u64,
    },
    /// Fee under the floor.
    #[error("fee {fee} is below the minimum {min}")]
    FeeTooLow {
        /// Offered.
        fee: u64,
        /// Floor.
        min: u64,
    },
    /// Same sender and nonce already pooled with a fee not beaten by the bump.
    #[error("a transaction with this nonce is already pooled with fee {existing_fee}")]
    ReplacementUnderpriced {
        /// The pooled fee.
        existing_fee: u64,
    },
    /// Balance does not cover this and the sender's earlier pooled transactions.
    #[error("balance {balance} does not cover pending spend {needed}")]
    InsufficientBalance {
        /// On-chain balance.
        balance: u64,
        /// Total needed.
        needed: u128,
    },
    /// Pool full of better-paying transactions.
    #[error("pool is full and the fee {fee} does not beat the lowest {lowest}")]
    PoolFull {
        /// Offered.
        fee: u64,
        /// Lowest pooled.
        lowest: u64,
    },
}

impl MempoolError {
    /// True when the transaction is invalid in itself (a peer that relays it misbehaves);
    /// false for policy and state reasons, which are never punished.
    pub fn is_invalid(&self) -> bool {
        matches!(self, MempoolError::Invalid(_))
    }
}

/// Why the pool let go of a transaction other than by its inclusion in a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Older than the expiry.
    Expired,
    /// The pool was full: pushed out by a better fee, or not taken back after a reorg.
    Evicted,
    /// Another transaction of its sender and nonce took its place: a better-paying one in the
    /// pool, or one on the chain.
    Replaced,
    /// A reorg reverted it and it no longer fits the new chain (balance, nonce gap).
    Invalidated,
}

impl DropReason {
    /// The reason's name, as in the trace.
    pub fn name(&self) -> &'static str {
        match self {
            DropReason::Expired => "expired",
            DropReason::Evicted => "evicted",
            DropReason::Replaced => "replaced",
            DropReason::Invalidated => "invalidated",
        }
    }
}

/// What a tip change did to the pool.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TipOutcome {
    /// Transactions of reverted blocks taken back.
    pub readmitted: usize,
    /// Transactions let go, with why, in the order they went.
    pub dropped: Vec<(TxId, DropReason)>,
}

#[derive(Clone, Debug)]
struct Entry {
    tx: Arc<Transaction>,
    sender: Address,
    added_ms: u64,
    seq: u64,
}

/// The pool.
#[derive(Debug)]
pub struct Mempool {
    policy: MempoolPolicy,
    by_id: HashMapById<Entry>,
    by_sender: BTreeMap<Address, BTreeMap<u64, TxId>>,
    by_fee: BTreeSet<(u64, u64, TxId)>,
    accounts: BTreeMap<Address, Account>,
    next_seq: u64,
}

impl Mempool {
    /// An empty pool over the given account mirror (the genesis or tip state).
    pub fn new(policy: MempoolPolicy, accounts: BTreeMap<Address, Account>) -> Mempool {
        Mempool {
            policy,
            by_id: HashMapById::default(),
            by_sender: BTreeMap::new(),
            by_fee: BTreeSet::new(),
            accounts,
            next_seq: 0,
        }
    }

    /// Number of pooled transactions.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
    /// Whether `id` is pooled.
    pub fn contains(&self, id: &TxId) -> bool {
        self.by_id.contains_key(id)
    }
    /// Ids of transactions pooled before `before_ms`, in admission order.
    pub fn older_than(&self, before_ms: u64) -> Vec<TxId> {
        let mut v: Vec<(u64, TxId)> = self
            .by_id
            .iter()
            .filter(|(_, e)| e.added_ms < before_ms)
            .map(|(id, e)| (e.seq, *id))
            .collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// Every pooled id, in admission order.
    pub fn ids(&self) -> Vec<TxId> {
        let mut v: Vec<(u64, TxId)> = self.by_id.iter().map(|(id, e)| (e.seq, *id)).collect();
        v.sort_unstable();
        v.into_iter().map(|(_, id)| id).collect()
    }

    /// A pooled transaction.
    pub fn get(&self, id: &TxId) -> Option<&Arc<Transaction>> {
        self.by_id.get(id).map(|e| &e.tx)
    }
    /// The mirrored account.
    pub fn account(&self, addr: &Address) -> Account {
        self.accounts.get(addr).copied().unwrap_or_default()
    }

    /// Admits a transaction received at `now_ms`. Returns the transactions it evicted or
    /// replaced, with which.
    ///
    /// # Errors
    /// Why it was refused; [`MempoolError::is_invalid`] tells misbehaviour from policy.
    pub fn admit(
        &mut self,
        tx: Arc<Transaction>,
        id: TxId,
        now_ms: u64,
        cache: Option<&SigCache>,
    ) -> Result<Vec<(TxId, DropReason)>, MempoolError> {
        if self.by_id.contains_key(&id) {
            return Err(MempoolError::AlreadyKnown);
        }
        let sender = tx.sender();
        let acct = self.account(&sender);
        if tx.nonce < acct.nonce {
            return Err(MempoolError::NonceTooLow {
                next: acct.nonce,
                got: tx.nonce,
            });
        }
        if tx.nonce > acct.nonce + self.policy.max_nonce_gap {
            return Err(MempoolError::NonceGap {
                next: acct.nonce,
                got: tx.nonce,
                max_gap: self.policy.max_nonce_gap,
            });
        }
        if tx.fee < self.policy.min_fee {
            return Err(MempoolError::FeeTooLow {
                fee: tx.fee,
                min: self.policy.min_fee,
            });
        }
        let replaced = self.replaced_by(&sender, &tx)?;
        let pending: u128 = self
            .by_sender
            .get(&sender)
            .map(|m| {
                m.range(..tx.nonce)
                    .filter_map(|(_, id)| self.by_id.get(id))
                    .map(|e| u128::from(e.tx.amount) + u128::from(e.tx.fee))
                    .sum()
            })
            .unwrap_or(0);
        let needed = pending + u128::from(tx.amount) + u128::from(tx.fee);
        if needed > u128::from(acct.balance) {
            return Err(MempoolError::InsufficientBalance {
                balance: acct.balance,
                needed,
            });
        }
        check_tx(&tx, &id, self.policy.chain_id, cache)?;
        let mut evicted = Vec::new();
        if replaced.is_none() && self.by_id.len() >= self.policy.max_txs {
            let lowest = self.by_fee.iter().next().copied();
            match lowest {
                Some((fee, _, low_id)) if fee < tx.fee => {
                    self.remove(&low_id);
                    evicted.push((low_id, DropReason::Evicted));
                }
                Some((fee, _, _)) => {
                    return Err(MempoolError::PoolFull {
                        fee: tx.fee,
                        lowest: fee,
                    })
                }
                None => {
                    return Err(MempoolError::PoolFull {
                        fee: tx.fee,
                        lowest: 0,
                    })
                }
            }
        }
        if let Some(old) = replaced {
            self.remove(&old);
            evicted.push((old, DropReason::Replaced));
        }
        self.insert(tx, id, sender, now_ms);
        Ok(evicted)
    }

    fn replaced_by(
        &self,
        sender: &Address,
        tx: &Transaction,
    ) -> Result<Option<TxId>, MempoolError> {
        let Some(old_id) = self.by_sender.get(sender).and_then(|m| m.get(&tx.nonce)) else {
            return Ok(None);
        };
        let old_fee = self.by_id[old_id].tx.fee;
        let min = u128::from(old_fee) * u128::from(100 + self.policy.replace_bump_percent) / 100;
        if u128::from(tx.fee) <= min {
            return Err(MempoolError::ReplacementUnderpriced {
                existing_fee: old_fee,
            });
        }
        Ok(Some(*old_id))
    }

    fn insert(&mut self, tx: Arc<Transaction>, id: TxId, sender: Address, now_ms: u64) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.by_sender
            .entry(sender)
            .or_default()
            .insert(tx.nonce, id);
        self.by_fee.insert((tx.fee, u64::MAX - seq, id));
        self.by_id.insert(
            id,
            Entry {
                tx,
                sender,
                added_ms: now_ms,
                seq,
            },
        );
    }

    /// Removes one transaction; returns it if it was pooled.
    pub fn remove(&mut self, id: &TxId) -> Option<Arc<Transaction>> {
        let e = self.by_id.remove(id)?;
        self.by_fee.remove(&(e.tx.fee, u64::MAX - e.seq, *id));
        if let Some(m) = self.by_sender.get_mut(&e.sender) {
            m.remove(&e.tx.nonce);
            if m.is_empty() {
                self.by_sender.remove(&e.sender);
            }
        }
        Some(e.tx)
    }

    /// Up to `max_txs` ready transactions, best fee first, each sender's in nonce order
    /// (a sender's next transaction competes once its predecessor is taken).
    pub fn template(&self, max_txs: usize) -> Vec<Arc<Transaction>> {
        let mut heap = BinaryHeap::new();
        for (sender, txs) in &self.by_sender {
            let next = self.account(sender).nonce;
            if let Some(id) = txs.get(&next) {
                let e = &self.by_id[id];
                heap.push((e.tx.fee, std::cmp::Reverse(e.seq), *sender, next));
            }
        }
        let mut out = Vec::new();
        while let Some((_, _, sender, nonce)) = heap.pop() {
            if out.len() >= max_txs {
                break;
            }
            let txs = &self.by_sender[&sender];
            out.push(self.by_id[&txs[&nonce]].tx.clone());
            if let Some(id) = txs.get(&(nonce + 1)) {
                let e = &self.by_id[id];
                heap.push((e.tx.fee, std::cmp::Reverse(e.seq), sender, nonce + 1));
            }
        }
        out
    }

    /// Applies a new tip: updates the account mirror, drops included and now-stale
    /// transactions (stale: another transaction of the sender's nonce is on the chain), and
    /// re-admits the transactions of reverted blocks that are still valid. Returns how many
    /// came back and what was let go.
    pub fn on_tip_change(
        &mut self,
        changed: &[(Address, Account)],
        included: &[TxId],
        reverted: &[Transaction],
        now_ms: u64,
        cache: Option<&SigCache>,
    ) -> TipOutcome {
        let mut out = TipOutcome::default();
        for id in included {
            self.remove(id);
        }
        for (addr, acct) in changed {
            self.accounts.insert(*addr, *acct);
            let stale: Vec<TxId> = self
                .by_sender
                .get(addr)
                .map(|m| m.range(..acct.nonce).map(|(_, id)| *id).collect())
                .unwrap_or_default();
            for id in stale {
                self.remove(&id);
                out.dropped.push((id, DropReason::Replaced));
            }
        }
        for tx in reverted {
            let id = tx.id();
            match self.admit(Arc::new(tx.clone()), id, now_ms, cache) {
                Ok(evicted) => {
                    out.readmitted += 1;
                    out.dropped.extend(evicted);
                }
                Err(MempoolError::AlreadyKnown) => {}
                Err(e) => out.dropped.push((id, Self::not_readmitted(&e))),
            }
        }
        out
    }

    /// Why a reverted transaction the pool refused to take back counts as dropped.
    fn not_readmitted(e: &MempoolError) -> DropReason {
        match e {
            MempoolError::PoolFull { .. } => DropReason::Evicted,
            MempoolError::NonceTooLow { .. } | MempoolError::ReplacementUnderpriced { .. } => {
                DropReason::Replaced
            }
            _ => DropReason::Invalidated,
        }
    }

    /// Pooled transactions that cannot be mined yet because an earlier nonce of their sender
    /// is missing from the pool, by sender then nonce.
    pub fn gapped(&self) -> Vec<TxId> {
        let mut out = Vec::new();
        for (sender, txs) in &self.by_sender {
            let mut next = self.account(sender).nonce;
            for (nonce, id) in txs {
                if *nonce == next {
                    next += 1;
                } else {
                    out.push(*id);
                }
            }
        }
        out
    }

    /// Drops transactions older than the expiry; returns their ids.
    pub fn expire(&mut self, now_ms: u64) -> Vec<TxId> {
        let cutoff = now_ms.saturating_sub(self.policy.expiry_ms);
        if now_ms < self.policy.expiry_ms {
            return Vec::new();
        }
        let old: Vec<TxId> = self
            .by_id
            .iter()
            .filter(|(_, e)| e.added_ms < cutoff)
            .map(|(id, e)| (e.seq, *id))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        for id in &old {
            self.remove(id);
        }
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::KeyPair;

    fn policy(max: usize) -> MempoolPolicy {
        MempoolPolicy {
            chain_id: 1,
            max_txs: max,
            max_nonce_gap: 4,
            min_fee: 1,
            expiry_ms: 1000,
            replace_bump_percent: 10,
        }
    }

    fn pool(keys: &[&KeyPair], max: usize) -> Mempool {
        let accounts = keys
            .iter()
            .map(|k| {
                (
                    k.address(),
                    Account {
                        balance: 1000,
                        nonce: 0,
                    },
                )
            })
            .collect();
        Mempool::new(policy(max), accounts)
    }

    fn tx(k: &KeyPair, nonce: u64, fee: u64) -> Arc<Transaction> {
        Arc::new(Transaction::new_signed(
            k,
            1,
            Address([9; 20]),
            10,
            fee,
            nonce,
        ))
    }

    fn admit(
        p: &mut Mempool,
        t: &Arc<Transaction>,
        now: u64,
    ) -> Result<Vec<(TxId, DropReason)>, MempoolError> {
        p.admit(t.clone(), t.id(), now, None)
    }

    #[test]
    fn template_orders_by_fee_within_nonce_order() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let mut p = pool(&[&a, &b], 100);
        let a0 = tx(&a, 0, 1);
        let a1 = tx(&a, 1, 50);
        let b0 = tx(&b, 0, 5);
        admit(&mut p, &a1, 0).unwrap();
        assert!(p.template(10).is_empty(), "a gap is not ready");
        admit(&mut p, &a0, 0).unwrap();
        admit(&mut p, &b0, 0).unwrap();
        let t: Vec<_> = p.template(10).iter().map(|t| t.id()).collect();
        assert_eq!(t, vec![b0.id(), a0.id(), a1.id()]);
        assert_eq!(p.template(1).len(), 1);
    }

    #[test]
    fn admission_rules() {
        let a = KeyPair::from_seed(b"a");
        let mut p = pool(&[&a], 100);
        let t0 = tx(&a, 0, 1);
        admit(&mut p, &t0, 0).unwrap();
        assert_eq!(admit(&mut p, &t0, 0), Err(MempoolError::AlreadyKnown));
        assert!(matches!(
            admit(&mut p, &tx(&a, 9, 1), 0),
            Err(MempoolError::NonceGap { .. })
        ));
        assert!(matches!(
            admit(&mut p, &tx(&a, 1, 0), 0),
            Err(MempoolError::FeeTooLow { .. })
        ));
        assert!(matches!(
            admit(&mut p, &tx(&a, 0, 1), 0),
            Err(MempoolError::AlreadyKnown | MempoolError::ReplacementUnderpriced { .. })
        ));
        let replacement = tx(&a, 0, 5);
        assert_eq!(
            admit(&mut p, &replacement, 0),
            Ok(vec![(t0.id(), DropReason::Replaced)])
        );
        let big = Arc::new(Transaction::new_signed(&a, 1, Address([9; 20]), 990, 1, 1));
        assert!(matches!(
            admit(&mut p, &big, 0),
            Err(MempoolError::InsufficientBalance { .. })
        ));
        let mut wrong_chain = (*tx(&a, 1, 1)).clone();
        wrong_chain.chain_id = 2;
        let e = admit(&mut p, &Arc::new(wrong_chain), 0).unwrap_err();
        assert!(e.is_invalid());
    }

    #[test]
    fn full_pool_evicts_lowest_fee_only_for_better_fee() {
        let keys: Vec<KeyPair> = (0..3u8).map(|i| KeyPair::from_seed(&[i])).collect();
        let refs: Vec<&KeyPair> = keys.iter().collect();
        let mut p = pool(&refs, 2);
        let cheap = tx(&keys[0], 0, 2);
        admit(&mut p, &cheap, 0).unwrap();
        admit(&mut p, &tx(&keys[1], 0, 5), 0).unwrap();
        assert!(matches!(
            admit(&mut p, &tx(&keys[2], 0, 1), 0),
            Err(MempoolError::PoolFull { .. })
        ));
        assert_eq!(
            admit(&mut p, &tx(&keys[2], 0, 3), 0),
            Ok(vec![(cheap.id(), DropReason::Evicted)])
        );
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn an_invalid_transaction_never_evicts_a_valid_one() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let mut p = pool(&[&a, &b], 1);
        let good = tx(&a, 0, 1);
        admit(&mut p, &good, 0).unwrap();
        let mut forged = (*tx(&b, 0, 50)).clone();
        forged.amount += 1;
        let e = admit(&mut p, &Arc::new(forged), 0).unwrap_err();
        assert!(e.is_invalid());
        assert!(p.contains(&good.id()));
    }

    #[test]
    fn tip_change_removes_included_and_readmits_reverted() {
        let a = KeyPair::from_seed(b"a");
        let mut p = pool(&[&a], 100);
        let t0 = tx(&a, 0, 1);
        let t1 = tx(&a, 1, 1);
        admit(&mut p, &t0, 0).unwrap();
        admit(&mut p, &t1, 0).unwrap();
        p.on_tip_change(
            &[(
                a.address(),
                Account {
                    balance: 989,
                    nonce: 1,
                },
            )],
            &[t0.id()],
            &[],
            0,
            None,
        );
        assert!(!p.contains(&t0.id()));
        assert!(p.contains(&t1.id()));
        let back = p.on_tip_change(
            &[(
                a.address(),
                Account {
                    balance: 1000,
                    nonce: 0,
                },
            )],
            &[],
            &[(*t0).clone()],
            0,
            None,
        );
        assert_eq!(back.readmitted, 1);
        assert!(back.dropped.is_empty());
        assert_eq!(p.template(10).len(), 2);
    }

    #[test]
    fn tip_change_names_what_it_drops() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let mut p = pool(&[&a, &b], 100);
        // a0 is pooled here, but a competing a0' with the same nonce was mined.
        let a0 = tx(&a, 0, 1);
        admit(&mut p, &a0, 0).unwrap();
        // b's reverted transaction no longer fits: b's balance on the new chain is spent.
        let b0 = tx(&b, 0, 1);
        let out = p.on_tip_change(
            &[
                (
                    a.address(),
                    Account {
                        balance: 900,
                        nonce: 1,
                    },
                ),
                (
                    b.address(),
                    Account {
                        balance: 0,
                        nonce: 0,
                    },
                ),
            ],
            &[],
            &[(*b0).clone()],
            0,
            None,
        );
        assert_eq!(out.readmitted, 0);
        assert_eq!(
            out.dropped,
            vec![
                (a0.id(), DropReason::Replaced),
                (b0.id(), DropReason::Invalidated)
            ]
        );
        assert!(p.is_empty());
    }

    #[test]
    fn a_transaction_behind_a_missing_nonce_is_gapped() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let mut p = pool(&[&a, &b], 100);
        let a0 = tx(&a, 0, 1);
        let a2 = tx(&a, 2, 1);
        let b1 = tx(&b, 1, 1);
        for t in [&a0, &a2, &b1] {
            admit(&mut p, t, 0).unwrap();
        }
        let mut gapped = p.gapped();
        gapped.sort();
        let mut want = vec![a2.id(), b1.id()];
        want.sort();
        assert_eq!(gapped, want, "a0 is ready; a2 waits for a1, b1 for b0");
        admit(&mut p, &tx(&a, 1, 1), 0).unwrap();
        assert_eq!(p.gapped(), vec![b1.id()]);
    }

    #[test]
    fn expiry_drops_old_transactions() {
        let a = KeyPair::from_seed(b"a");
        let mut p = pool(&[&a], 100);
        let t0 = tx(&a, 0, 1);
        admit(&mut p, &t0, 0).unwrap();
        assert!(p.expire(500).is_empty());
        assert_eq!(p.expire(2000), vec![t0.id()]);
        assert!(p.is_empty());
    }
}
