//! Mempool policy: admission, per-sender nonce order, fee-priority templates, a size bound
//! with eviction by fee rate then age, removal on inclusion, re-insertion after reorgs, expiry.
//!
//! **No transaction is left that can never be mined** (Bitcoin Core removes a transaction with
//! all its descendants; geth demotes what a removal makes unexecutable). For each sender the
//! pool holds nonces from the account's next nonce, possibly with gaps the sender may still
//! fill (up to `max_nonce_gap` ahead; those behind a gap are *stuck*, [`Mempool::gapped`]),
//! and the pooled spend up to any nonce is covered by the balance. So:
//! - eviction takes only a sender's *last* pooled transaction (lowest fee rate, then oldest;
//!   never by hash): removing it strands nothing;
//! - an expired transaction goes with the sender's later ones (they could never be mined);
//! - after an admission, a replacement or a tip change, a sender's transactions the balance no
//!   longer covers go, from the first one it does not cover.
//!
//! Every removal other than inclusion is returned as a [`Dropped`] with its [`DropReason`].
//!
//! The pool keeps its own mirror of the accounts it needs (updated from each
//! [`crate::chain::TipChange`]), so admission never needs the chain's state.

use crate::chain::state::{Account, Map};
use crate::chain::validation::{check_tx, TxError};
use crate::crypto::{Address, SigCache};
use crate::hash::{HashKey, HashMapById, TxId};
use crate::tx::Transaction;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, VecDeque};
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
    /// Contract limits a deploy or call must respect to be valid.
    pub contracts: crate::contract::ContractParams,
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
    #[error("pool is full and the fee rate {rate} per 1000 bytes does not beat the lowest evictable {lowest}")]
    PoolFull {
        /// Offered fee rate (fee per 1000 encoded bytes).
        rate: u64,
        /// Lowest fee rate among the evictable (each sender's last) transactions.
        lowest: u64,
    },
}

/// Why a pooled transaction left the pool other than by inclusion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    /// Pooled longer than the expiry (or a later nonce of one that did).
    Expired,
    /// Evicted for a better-paying transaction while the pool was full.
    Evicted,
    /// Replaced by a transaction with the same sender and nonce and a higher fee (or a later
    /// nonce the replacement's higher spend left unpaid).
    Replaced,
    /// The sender's balance no longer covers it with the earlier nonces (after a tip change,
    /// or an earlier nonce admitted after it).
    Unpayable,
    /// A reorg reverted it and the pool could not take it back (it no longer fits the new
    /// chain, or the pool refused it for another reason than a full pool or a replacement).
    Invalidated,
}

impl DropReason {
    /// The reason's name, as in the trace.
    pub fn name(&self) -> &'static str {
        match self {
            DropReason::Expired => "expired",
            DropReason::Evicted => "evicted",
            DropReason::Replaced => "replaced",
            DropReason::Unpayable => "unpayable",
            DropReason::Invalidated => "invalidated",
        }
    }
}

/// A transaction that left the pool, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dropped {
    /// Its id.
    pub id: TxId,
    /// Why.
    pub reason: DropReason,
}

/// What a tip change did to the pool besides removing included transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TipOutcome {
    /// Transactions of reverted blocks admitted again.
    pub readmitted: usize,
    /// Transactions dropped (unpaid after the balance changed, or evicted by re-admissions).
    pub dropped: Vec<Dropped>,
}

/// What a transaction takes from its sender's balance: amount plus fee.
fn spend(tx: &Transaction) -> u128 {
    u128::from(tx.amount) + u128::from(tx.fee)
}

/// Fee per 1000 encoded bytes (the eviction and pool-full order).
fn fee_rate(tx: &Transaction) -> u64 {
    let rate = u128::from(tx.fee) * 1000 / u128::from(tx.size().max(1));
    u64::try_from(rate).unwrap_or(u64::MAX)
}

impl MempoolError {
    /// True when the transaction is invalid in itself (a peer that relays it misbehaves);
    /// false for policy and state reasons, which are never punished.
    pub fn is_invalid(&self) -> bool {
        matches!(self, MempoolError::Invalid(_))
    }
}

#[derive(Clone, Debug)]
struct Entry {
    tx: Arc<Transaction>,
    sender: Address,
    added_ms: u64,
    seq: u64,
    rate: u64,
}

/// The pool.
#[derive(Debug)]
pub struct Mempool {
    policy: MempoolPolicy,
    by_id: HashMapById<Entry>,
    /// Each pooled sender's transactions by nonce, and their spend. A hash table (keyed with
    /// the node's key: addresses can be ground): every admission looks its sender up, and a
    /// B-tree's descent was a cache miss per level in a large cluster. Nothing iterates it
    /// where order matters.
    by_sender: HashMap<Address, Nonces, HashKey>,
    /// Each sender's last pooled transaction, by (fee rate, admission order): the eviction
    /// candidates, lowest rate and then oldest first. Kept only while the pool holds at least
    /// a quarter of its bound, built when it reaches half (see [`Mempool::track_tails`]), so
    /// it is there whenever the pool is full; below that an admission and a removal save two
    /// ordered-set updates each (a large cluster's pools are far from full).
    tails: Option<BTreeSet<(u64, u64, TxId)>>,
    /// The pool's mirror of the accounts: the tip's state's own account map, a persistent map
    /// shared with the state and with every other node's pool on that tip (no copy per node:
    /// with 1,000 genesis accounts a copy was 38 KB a node).
    accounts: Map<Address, Account>,
    next_seq: u64,
}

/// One sender's pooled transactions by nonce: a sorted double-ended queue, not a `BTreeMap`.
/// A sender's pool is nearly always a short run of consecutive nonces, appended at the back
/// and mined from the front, so both ends cost O(1) and a lookup is a binary search; a
/// `BTreeMap` node took about 470 bytes even for one transaction (issue 13: most of a large
/// cluster's memory under transaction load).
///
/// With them, the sender's total pooled spend (amounts plus fees): an admission after the
/// sender's last pooled nonce, and a balance check that passes, cost one lookup instead of a
/// walk over the sender's pooled transactions.
#[derive(Clone, Debug, Default)]
struct Nonces(VecDeque<(u64, TxId)>, u128);

impl Nonces {
    fn find(&self, nonce: u64) -> Result<usize, usize> {
        // The usual cases first: past the last, or the first.
        match self.0.back() {
            None => return Err(0),
            Some((n, _)) if *n < nonce => return Err(self.0.len()),
            _ => {}
        }
        self.0.binary_search_by_key(&nonce, |(n, _)| *n)
    }
    fn get(&self, nonce: &u64) -> Option<&TxId> {
        self.find(*nonce).ok().map(|i| &self.0[i].1)
    }
    #[cfg(test)]
    fn contains_key(&self, nonce: &u64) -> bool {
        self.find(*nonce).is_ok()
    }
    /// Entries whose nonce is in `r`, ascending.
    fn range(
        &self,
        r: impl std::ops::RangeBounds<u64>,
    ) -> impl DoubleEndedIterator<Item = (&u64, &TxId)> {
        use std::ops::Bound;
        let lo = match r.start_bound() {
            Bound::Included(n) => self.0.partition_point(|(m, _)| m < n),
            Bound::Excluded(n) => self.0.partition_point(|(m, _)| m <= n),
            Bound::Unbounded => 0,
        };
        let hi = match r.end_bound() {
            Bound::Included(n) => self.0.partition_point(|(m, _)| m <= n),
            Bound::Excluded(n) => self.0.partition_point(|(m, _)| m < n),
            Bound::Unbounded => self.0.len(),
        };
        self.0.range(lo..hi.max(lo)).map(|(n, id)| (n, id))
    }
    fn first_key_value(&self) -> Option<(&u64, &TxId)> {
        self.0.front().map(|(n, id)| (n, id))
    }
    fn last_key_value(&self) -> Option<(&u64, &TxId)> {
        self.0.back().map(|(n, id)| (n, id))
    }
    fn insert(&mut self, nonce: u64, id: TxId) -> Option<TxId> {
        match self.find(nonce) {
            Ok(i) => Some(std::mem::replace(&mut self.0[i].1, id)),
            Err(i) => {
                self.0.insert(i, (nonce, id));
                None
            }
        }
    }
    fn remove(&mut self, nonce: &u64) -> Option<TxId> {
        let i = self.find(*nonce).ok()?;
        self.0.remove(i).map(|(_, id)| id)
    }
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Nonces {
    type Item = (&'a u64, &'a TxId);
    type IntoIter = std::iter::Map<
        std::collections::vec_deque::Iter<'a, (u64, TxId)>,
        fn(&'a (u64, TxId)) -> (&'a u64, &'a TxId),
    >;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().map(|(n, id)| (n, id))
    }
}

impl Mempool {
    /// An empty pool over the given account mirror (the genesis or tip state); its table of
    /// ids is keyed with `key` (this node's [`HashKey::derive`]d key).
    pub fn new(policy: MempoolPolicy, accounts: Map<Address, Account>, key: HashKey) -> Mempool {
        Mempool {
            policy,
            by_id: HashMapById::with_hasher(key),
            by_sender: HashMap::with_hasher(key),
            tails: None,
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
    /// `sender`'s total pooled spend (amounts plus fees; 0 when none is pooled).
    fn spend_of(&self, sender: &Address) -> u128 {
        self.by_sender.get(sender).map_or(0, |n| n.1)
    }

    /// The mirrored account.
    pub fn account(&self, addr: &Address) -> Account {
        self.accounts.get(addr).copied().unwrap_or_default()
    }

    /// The nonce `sender`'s next transaction takes: the account's next nonce, moved past the
    /// sender's pooled transactions that follow it without a gap (what a node sending several
    /// transactions before any is mined must use, e.g. a front-runner's copies).
    pub fn next_nonce(&self, sender: &Address) -> u64 {
        let mut next = self.account(sender).nonce;
        if let Some(txs) = self.by_sender.get(sender) {
            for nonce in txs.range(next..).map(|(n, _)| *n) {
                if nonce != next {
                    break;
                }
                next += 1;
            }
        }
        next
    }

    /// Admits a transaction received at `now_ms`. Returns the transactions it pushed out:
    /// the one it replaced, the one it evicted, and any of the sender's later ones its spend
    /// left unpaid.
    ///
    /// # Errors
    /// Why it was refused; [`MempoolError::is_invalid`] tells misbehaviour from policy.
    pub fn admit(
        &mut self,
        tx: Arc<Transaction>,
        id: TxId,
        now_ms: u64,
        cache: Option<&SigCache>,
    ) -> Result<Vec<Dropped>, MempoolError> {
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
        if tx.nonce > acct.nonce.saturating_add(self.policy.max_nonce_gap) {
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
        let pending: u128 = match self.by_sender.get(&sender) {
            None => 0,
            // The usual case: after every pooled nonce of the sender.
            Some(m) if m.last_key_value().is_some_and(|(n, _)| *n < tx.nonce) => {
                self.spend_of(&sender)
            }
            // Otherwise the shorter side by nonces (pooled nonces are nearly dense): the spend
            // below `tx.nonce` directly, or the total less the spend from it on.
            Some(m) => {
                let first = m.first_key_value().map_or(0, |(n, _)| *n);
                let last = m.last_key_value().map_or(0, |(n, _)| *n);
                let sum = |r: &mut dyn Iterator<Item = (&u64, &TxId)>| -> u128 {
                    r.filter_map(|(_, id)| self.by_id.get(id))
                        .map(|e| spend(&e.tx))
                        .sum()
                };
                if tx.nonce.saturating_sub(first) <= last.saturating_sub(tx.nonce) {
                    sum(&mut m.range(..tx.nonce))
                } else {
                    self.spend_of(&sender) - sum(&mut m.range(tx.nonce..))
                }
            }
        };
        let needed = pending + u128::from(tx.amount) + u128::from(tx.fee);
        if needed > u128::from(acct.balance) {
            return Err(MempoolError::InsufficientBalance {
                balance: acct.balance,
                needed,
            });
        }
        let rate = fee_rate(&tx);
        let victim = if replaced.is_none() && self.by_id.len() >= self.policy.max_txs {
            Some(self.eviction_victim(&sender, tx.nonce, rate)?)
        } else {
            None
        };
        check_tx(
            &tx,
            &id,
            self.policy.chain_id,
            &self.policy.contracts,
            cache,
        )?;
        let mut dropped = Vec::new();
        if let Some(v) = victim {
            self.remove(&v);
            dropped.push(Dropped {
                id: v,
                reason: DropReason::Evicted,
            });
        }
        let reason = if let Some(old) = replaced {
            self.remove(&old);
            dropped.push(Dropped {
                id: old,
                reason: DropReason::Replaced,
            });
            DropReason::Replaced
        } else {
            DropReason::Unpayable
        };
        self.insert(tx, id, sender, now_ms, rate);
        dropped.extend(self.drop_unpaid(&sender, reason));
        Ok(dropped)
    }

    /// The transaction a newcomer (`sender`, `nonce`, fee rate `rate`) evicts from a full
    /// pool: the evictable (each sender's last) transaction of the lowest fee rate, oldest
    /// first, skipping the newcomer's own sender's when the newcomer comes after it (evicting
    /// it would strand the newcomer behind a gap). It must pay a lower rate than the newcomer.
    fn eviction_victim(
        &self,
        sender: &Address,
        nonce: u64,
        rate: u64,
    ) -> Result<TxId, MempoolError> {
        let tails = self.tails.iter().flatten();
        let candidate = tails.into_iter().find(|(_, _, id)| {
            let e = &self.by_id[id];
            !(e.sender == *sender && e.tx.nonce < nonce)
        });
        match candidate {
            Some(&(low, _, id)) if low < rate => Ok(id),
            Some(&(low, _, _)) => Err(MempoolError::PoolFull { rate, lowest: low }),
            None => Err(MempoolError::PoolFull { rate, lowest: 0 }),
        }
    }

    /// Removes `sender`'s transactions from the first one its balance does not cover (with
    /// the earlier pooled nonces), with `reason`.
    fn drop_unpaid(&mut self, sender: &Address, reason: DropReason) -> Vec<Dropped> {
        let balance = u128::from(self.account(sender).balance);
        if self.spend_of(sender) <= balance {
            return Vec::new();
        }
        let Some(txs) = self.by_sender.get(sender) else {
            return Vec::new();
        };
        let mut spent = 0u128;
        let mut from = None;
        for (nonce, id) in txs {
            let t = &self.by_id[id].tx;
            spent += u128::from(t.amount) + u128::from(t.fee);
            if spent > balance {
                from = Some(*nonce);
                break;
            }
        }
        match from {
            Some(n) => self.remove_from(sender, n, reason),
            None => Vec::new(),
        }
    }

    /// Removes `sender`'s transactions with nonce `from` and later, with `reason`.
    fn remove_from(&mut self, sender: &Address, from: u64, reason: DropReason) -> Vec<Dropped> {
        let ids: Vec<TxId> = self
            .by_sender
            .get(sender)
            .map(|m| m.range(from..).map(|(_, id)| *id).collect())
            .unwrap_or_default();
        for id in &ids {
            self.remove(id);
        }
        ids.into_iter().map(|id| Dropped { id, reason }).collect()
    }

    /// Pooled transactions waiting behind a nonce gap: not minable until their sender fills
    /// it (in sender, then nonce order).
    pub fn gapped(&self) -> Vec<TxId> {
        let mut out = Vec::new();
        for (sender, txs) in &self.by_sender {
            let mut next = self.account(sender).nonce;
            for (nonce, id) in txs {
                if *nonce == next {
                    next += 1;
                } else {
                    out.push((*sender, *nonce, *id));
                }
            }
        }
        out.sort_unstable();
        out.into_iter().map(|(_, _, id)| id).collect()
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

    /// The key of `sender`'s last pooled transaction in `tails`.
    fn tail_key(&self, sender: &Address) -> Option<(u64, u64, TxId)> {
        let (_, id) = self.by_sender.get(sender)?.last_key_value()?;
        let e = &self.by_id[id];
        Some((e.rate, e.seq, *id))
    }

    /// Takes `sender`'s last transaction out of `tails` (when kept).
    fn untrack_tail(&mut self, sender: &Address) {
        if self.tails.is_none() {
            return;
        }
        if let (Some(k), Some(t)) = (self.tail_key(sender), self.tails.as_mut()) {
            t.remove(&k);
        }
    }

    /// Puts `sender`'s last transaction into `tails` (when kept).
    fn track_tail(&mut self, sender: &Address) {
        if self.tails.is_none() {
            return;
        }
        if let (Some(k), Some(t)) = (self.tail_key(sender), self.tails.as_mut()) {
            t.insert(k);
        }
    }

    /// Builds `tails` when the pool reaches half its bound, and lets it go below a quarter.
    fn track_tails(&mut self) {
        let (build, drop) = (self.policy.max_txs / 2, self.policy.max_txs / 4);
        match self.tails {
            None if self.len() >= build => {
                let keys: BTreeSet<_> = self
                    .by_sender
                    .keys()
                    .filter_map(|s| self.tail_key(s))
                    .collect();
                self.tails = Some(keys);
            }
            Some(_) if self.len() < drop => self.tails = None,
            _ => {}
        }
    }

    fn insert(&mut self, tx: Arc<Transaction>, id: TxId, sender: Address, now_ms: u64, rate: u64) {
        self.untrack_tail(&sender);
        let seq = self.next_seq;
        self.next_seq += 1;
        let pooled = self.by_sender.entry(sender).or_default();
        pooled.insert(tx.nonce, id);
        pooled.1 += spend(&tx);
        self.by_id.insert(
            id,
            Entry {
                tx,
                sender,
                added_ms: now_ms,
                seq,
                rate,
            },
        );
        self.track_tail(&sender);
        self.track_tails();
    }

    /// Removes one transaction; returns it if it was pooled. (Its sender's later nonces stay:
    /// callers that remove from the middle use [`Mempool::remove_from`]; inclusion removes
    /// from the bottom.)
    pub fn remove(&mut self, id: &TxId) -> Option<Arc<Transaction>> {
        let sender = self.by_id.get(id)?.sender;
        self.untrack_tail(&sender);
        let e = self.by_id.remove(id)?;
        if let Some(m) = self.by_sender.get_mut(&e.sender) {
            m.remove(&e.tx.nonce);
            m.1 -= spend(&e.tx);
            if m.is_empty() {
                self.by_sender.remove(&e.sender);
            }
        }
        self.track_tail(&sender);
        self.track_tails();
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
            if let Some(id) = txs.get(&nonce) {
                out.push(self.by_id[id].tx.clone());
            }
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
    ///
    /// With `accounts`, every account at the new tip, the mirror becomes that map (shared with
    /// the state, so nothing is copied); without (a caller with no state at hand), `changed`
    /// is written into the mirror's own copy. Either way it reads as the tip's state:
    /// `changed` holds every account the switch may have changed. Taking the whole map keeps a
    /// pool from holding its own version of every account a block ever changed (a block's
    /// miner, at least).
    pub fn on_tip_change(
        &mut self,
        accounts: Option<&Map<Address, Account>>,
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
        if let Some(now) = accounts {
            self.accounts = now.clone();
        }
        for (addr, acct) in changed {
            if accounts.is_none() {
                self.accounts.insert(*addr, *acct);
            }
            let stale: Vec<TxId> = self
                .by_sender
                .get(addr)
                .map(|m| m.range(..acct.nonce).map(|(_, id)| *id).collect())
                .unwrap_or_default();
            for id in stale {
                self.remove(&id);
                out.dropped.push(Dropped {
                    id,
                    reason: DropReason::Replaced,
                });
            }
            out.dropped
                .extend(self.drop_unpaid(addr, DropReason::Unpayable));
        }
        for tx in reverted {
            let id = tx.id();
            match self.admit(Arc::new(tx.clone()), id, now_ms, cache) {
                Ok(evicted) => {
                    out.readmitted += 1;
                    out.dropped.extend(evicted);
                }
                Err(MempoolError::AlreadyKnown) => {}
                Err(e) => out.dropped.push(Dropped {
                    id,
                    reason: Self::not_readmitted(&e),
                }),
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

    /// Drops transactions older than the expiry, each with its sender's later nonces (which
    /// could never be mined without it); returns them in admission order of the expired, each
    /// followed by the later nonces it took along.
    pub fn expire(&mut self, now_ms: u64) -> Vec<Dropped> {
        if now_ms < self.policy.expiry_ms {
            return Vec::new();
        }
        let cutoff = now_ms - self.policy.expiry_ms;
        let old: Vec<TxId> = self
            .by_id
            .iter()
            .filter(|(_, e)| e.added_ms < cutoff)
            .map(|(id, e)| (e.seq, *id))
            .collect::<BTreeMap<_, _>>()
            .into_values()
            .collect();
        let mut out = Vec::new();
        for id in old {
            let Some(e) = self.by_id.get(&id) else {
                continue; // went with an earlier nonce
            };
            let (sender, nonce) = (e.sender, e.tx.nonce);
            out.extend(self.remove_from(&sender, nonce, DropReason::Expired));
        }
        out
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
            contracts: crate::contract::ContractParams::default(),
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
        Mempool::new(policy(max), accounts, HashKey::default())
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

    /// Admits; the ids it pushed out.
    fn admit(p: &mut Mempool, t: &Arc<Transaction>, now: u64) -> Result<Vec<TxId>, MempoolError> {
        p.admit(t.clone(), t.id(), now, None)
            .map(|d| d.iter().map(|d| d.id).collect())
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
    fn next_nonce_follows_the_pooled_run_and_the_tip() {
        let a = KeyPair::from_seed(b"a");
        let mut p = pool(&[&a], 100);
        assert_eq!(p.next_nonce(&a.address()), 0);
        assert_eq!(p.next_nonce(&Address([3; 20])), 0, "an unknown account");
        admit(&mut p, &tx(&a, 0, 1), 0).unwrap();
        admit(&mut p, &tx(&a, 1, 1), 0).unwrap();
        admit(&mut p, &tx(&a, 3, 1), 0).unwrap();
        assert_eq!(p.next_nonce(&a.address()), 2, "stops at the gap");
        admit(&mut p, &tx(&a, 2, 1), 0).unwrap();
        assert_eq!(p.next_nonce(&a.address()), 4);
        // Nonces 0 and 1 mined: the mirror moves, the pool keeps 2 and 3.
        let mined = [tx(&a, 0, 1).id(), tx(&a, 1, 1).id()];
        let acct = Account {
            balance: 978,
            nonce: 2,
        };
        p.on_tip_change(None, &[(a.address(), acct)], &mined, &[], 0, None);
        assert_eq!(p.next_nonce(&a.address()), 4);
        p.remove_from(&a.address(), 2, DropReason::Expired);
        assert_eq!(
            p.next_nonce(&a.address()),
            2,
            "dropped nonces are used again"
        );
    }

    /// Given the tip's whole account map, the mirror is that map itself (no version of its
    /// own, growing with every account a block touches), and reads exactly as `changed`
    /// written into its own copy would.
    #[test]
    fn the_mirror_takes_the_tips_accounts_whole() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let miner = Address([7; 20]);
        let mut overlay = pool(&[&a, &b], 100);
        let mut rebased = pool(&[&a, &b], 100);
        let t0 = tx(&a, 0, 1);
        for p in [&mut overlay, &mut rebased] {
            admit(p, &t0, 0).unwrap();
            admit(p, &tx(&b, 0, 1), 0).unwrap();
        }
        let a_now = Account {
            balance: 900,
            nonce: 1,
        };
        let reward = Account {
            balance: 50,
            nonce: 0,
        };
        let changed = [(a.address(), a_now), (miner, reward)];
        let mut tip = rebased.accounts.clone();
        for (addr, acct) in changed {
            tip.insert(addr, acct);
        }
        overlay.on_tip_change(None, &changed, &[t0.id()], &[], 0, None);
        rebased.on_tip_change(Some(&tip), &changed, &[t0.id()], &[], 0, None);
        assert!(rebased.accounts.ptr_eq(&tip), "the tip's map itself");
        assert!(!overlay.accounts.ptr_eq(&tip), "a version of its own");
        for addr in [a.address(), b.address(), miner, Address([9; 20])] {
            assert_eq!(
                rebased.accounts.get(&addr),
                overlay.accounts.get(&addr),
                "{addr:?}"
            );
        }
        assert_eq!(rebased.next_nonce(&a.address()), 1);
        assert_eq!(rebased.next_nonce(&b.address()), 1, "b's pooled nonce 0");
        assert_eq!(
            admit(&mut rebased, &tx(&a, 0, 2), 0).is_err(),
            admit(&mut overlay, &tx(&a, 0, 2), 0).is_err(),
            "a mined nonce is refused alike"
        );
        assert!(admit(&mut rebased, &tx(&a, 1, 1), 0).is_ok());
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
        assert_eq!(admit(&mut p, &replacement, 0), Ok(vec![t0.id()]));
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
        assert_eq!(admit(&mut p, &tx(&keys[2], 0, 3), 0), Ok(vec![cheap.id()]));
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
            None,
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
            None,
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
            None,
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
                dropped(&a0, DropReason::Replaced),
                dropped(&b0, DropReason::Invalidated)
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
        assert_eq!(
            p.expire(2000),
            vec![Dropped {
                id: t0.id(),
                reason: DropReason::Expired
            }]
        );
        assert!(p.is_empty());
    }

    fn transfer(k: &KeyPair, nonce: u64, amount: u64, fee: u64) -> Arc<Transaction> {
        Arc::new(Transaction::new_signed(
            k,
            1,
            Address([9; 20]),
            amount,
            fee,
            nonce,
        ))
    }

    fn dropped(id: &Arc<Transaction>, reason: DropReason) -> Dropped {
        Dropped {
            id: id.id(),
            reason,
        }
    }

    #[test]
    fn eviction_takes_a_last_nonce_so_nothing_is_stranded() {
        let keys: Vec<KeyPair> = (0..3u8).map(|i| KeyPair::from_seed(&[i])).collect();
        let refs: Vec<&KeyPair> = keys.iter().collect();
        let mut p = pool(&refs, 3);
        let a0 = tx(&keys[0], 0, 1);
        let a1 = tx(&keys[0], 1, 50);
        let b0 = tx(&keys[1], 0, 2);
        for t in [&a0, &a1, &b0] {
            admit(&mut p, t, 0).unwrap();
        }
        // a0 pays least, but evicting it would strand a1: b0, the cheapest last nonce, goes.
        let c0 = tx(&keys[2], 0, 10);
        assert_eq!(
            p.admit(c0.clone(), c0.id(), 0, None),
            Ok(vec![dropped(&b0, DropReason::Evicted)])
        );
        assert!(p.contains(&a0.id()) && p.contains(&a1.id()));
        assert!(p.gapped().is_empty());
    }

    #[test]
    fn eviction_among_equal_rates_takes_the_oldest_whatever_the_hashes() {
        let keys: Vec<KeyPair> = (0..3u8).map(|i| KeyPair::from_seed(&[i])).collect();
        let refs: Vec<&KeyPair> = keys.iter().collect();
        let x = tx(&keys[0], 0, 3);
        let y = tx(&keys[1], 0, 3);
        assert_eq!(x.size(), y.size());
        for (first, second) in [(&x, &y), (&y, &x)] {
            let mut p = pool(&refs, 2);
            admit(&mut p, first, 0).unwrap();
            admit(&mut p, second, 1).unwrap();
            let z = tx(&keys[2], 0, 4);
            assert_eq!(admit(&mut p, &z, 2), Ok(vec![first.id()]));
        }
    }

    #[test]
    fn a_newcomer_never_evicts_its_own_predecessor() {
        let keys: Vec<KeyPair> = (0..2u8).map(|i| KeyPair::from_seed(&[i])).collect();
        let refs: Vec<&KeyPair> = keys.iter().collect();
        let mut p = pool(&refs, 2);
        let a0 = tx(&keys[0], 0, 1);
        let b0 = tx(&keys[1], 0, 20);
        admit(&mut p, &a0, 0).unwrap();
        admit(&mut p, &b0, 0).unwrap();
        // a1 outbids a0, but a0 is what a1 needs; b0 pays more than a1.
        let a1 = tx(&keys[0], 1, 10);
        assert!(matches!(
            admit(&mut p, &a1, 0),
            Err(MempoolError::PoolFull { .. })
        ));
        let a1 = tx(&keys[0], 1, 30);
        assert_eq!(admit(&mut p, &a1, 0), Ok(vec![b0.id()]));
    }

    #[test]
    fn an_expired_transaction_takes_its_later_nonces_along() {
        let a = KeyPair::from_seed(b"a");
        let b = KeyPair::from_seed(b"b");
        let mut p = pool(&[&a, &b], 100);
        let a0 = tx(&a, 0, 1);
        let a1 = tx(&a, 1, 1);
        let b0 = tx(&b, 0, 1);
        admit(&mut p, &a0, 0).unwrap();
        admit(&mut p, &b0, 800).unwrap();
        admit(&mut p, &a1, 900).unwrap();
        assert_eq!(
            p.expire(1500),
            vec![
                dropped(&a0, DropReason::Expired),
                dropped(&a1, DropReason::Expired)
            ]
        );
        assert_eq!(p.ids(), vec![b0.id()]);
    }

    #[test]
    fn spend_no_balance_covers_goes_from_the_first_unpaid_nonce() {
        let a = KeyPair::from_seed(b"a");
        let mut p = pool(&[&a], 100);
        let a0 = transfer(&a, 0, 10, 1);
        let a1 = transfer(&a, 1, 10, 1);
        let a2 = transfer(&a, 2, 10, 1);
        for t in [&a0, &a1, &a2] {
            admit(&mut p, t, 0).unwrap();
        }
        // A replacement spending 990: a1 (990 + 11 > 1000) and a2 can no longer be paid.
        let big = transfer(&a, 0, 985, 5);
        assert_eq!(
            p.admit(big.clone(), big.id(), 0, None),
            Ok(vec![
                dropped(&a0, DropReason::Replaced),
                dropped(&a1, DropReason::Replaced),
                dropped(&a2, DropReason::Replaced)
            ])
        );
        // A gap filled late: a2 was admitted first (nothing before it pooled), then a1 whose
        // spend with it exceeds the balance: a2 goes, a1 stays.
        let mut p = pool(&[&a], 100);
        let a2 = transfer(&a, 2, 10, 1);
        let a1 = transfer(&a, 1, 995, 1);
        admit(&mut p, &a2, 0).unwrap();
        assert_eq!(
            p.admit(a1.clone(), a1.id(), 0, None),
            Ok(vec![dropped(&a2, DropReason::Unpayable)])
        );
        assert_eq!(p.gapped(), vec![a1.id()], "a1 waits for nonce 0");
        // A tip change that lowers the balance drops what it no longer covers.
        let out = p.on_tip_change(
            None,
            &[(
                a.address(),
                Account {
                    balance: 900,
                    nonce: 0,
                },
            )],
            &[],
            &[],
            0,
            None,
        );
        assert_eq!(out.dropped, vec![dropped(&a1, DropReason::Unpayable)]);
        assert!(p.is_empty());
    }

    /// One step of a random history.
    #[derive(Clone, Debug)]
    enum Op {
        Admit {
            sender: usize,
            ahead: u64,
            amount: u64,
            fee: u64,
        },
        /// A block includes the first `n` template transactions.
        Mine {
            n: usize,
        },
        /// A sender's balance changes on chain (a reorg, an incoming transfer).
        Balance {
            sender: usize,
            balance: u64,
        },
        Expire {
            advance: u64,
        },
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            6 => (0usize..4, 0u64..4, 0u64..400, 1u64..30).prop_map(|(sender, ahead, amount, fee)| {
                Op::Admit { sender, ahead, amount, fee }
            }),
            2 => (0usize..6).prop_map(|n| Op::Mine { n }),
            1 => (0usize..4, 0u64..1500).prop_map(|(sender, balance)| Op::Balance { sender, balance }),
            1 => (0u64..800).prop_map(|advance| Op::Expire { advance }),
        ]
    }

    /// Every pooled transaction is either minable now, in nonce order from the mirrored
    /// accounts (the template, applied in order, is valid), or reported stuck behind a gap;
    /// each sender's pooled spend is covered; the pool respects its bound.
    fn check_invariants(p: &Mempool) -> Result<(), String> {
        let template = p.template(usize::MAX);
        let mut accounts: BTreeMap<Address, Account> = BTreeMap::new();
        for t in &template {
            let a = accounts
                .entry(t.sender())
                .or_insert_with(|| p.account(&t.sender()));
            if t.nonce != a.nonce {
                return Err(format!(
                    "template nonce {} but account at {}",
                    t.nonce, a.nonce
                ));
            }
            let cost = t.amount + t.fee;
            if cost > a.balance {
                return Err("template spends more than the balance".into());
            }
            a.balance -= cost;
            a.nonce += 1;
        }
        let mut all: Vec<TxId> = template.iter().map(|t| t.id()).collect();
        all.extend(p.gapped());
        all.sort_unstable();
        let mut pooled = p.ids();
        pooled.sort_unstable();
        if all != pooled {
            return Err(format!(
                "{} minable + stuck, {} pooled",
                all.len(),
                pooled.len()
            ));
        }
        for (sender, txs) in &p.by_sender {
            let acct = p.account(sender);
            let mut spent = 0u128;
            for (nonce, id) in txs {
                if *nonce < acct.nonce {
                    return Err(format!("stale nonce {nonce} pooled"));
                }
                let t = &p.by_id[id].tx;
                spent += u128::from(t.amount) + u128::from(t.fee);
                if spent > u128::from(acct.balance) {
                    return Err(format!("nonce {nonce} not covered by the balance"));
                }
            }
            if p.spend_of(sender) != spent {
                return Err(format!(
                    "kept spend {} but {spent} pooled",
                    p.spend_of(sender)
                ));
            }
        }
        if p.by_sender.values().any(Nonces::is_empty) {
            return Err("a sender with nothing pooled".into());
        }
        if p.len() > p.policy.max_txs {
            return Err("over the bound".into());
        }
        match &p.tails {
            Some(tails) if tails.len() != p.by_sender.len() => {
                return Err("one evictable transaction per sender".into());
            }
            None if p.len() >= p.policy.max_txs / 2 => {
                return Err("no eviction candidates kept at half the bound".into());
            }
            _ => {}
        }
        Ok(())
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        #[test]
        fn nonces_behave_as_an_ordered_map(
            ops in proptest::collection::vec((0u8..3, 0u64..12, 0u64..12), 1..80),
        ) {
            let mut n = Nonces::default();
            let mut m: BTreeMap<u64, TxId> = BTreeMap::new();
            for (i, (op, a, b)) in ops.into_iter().enumerate() {
                let id = crate::hash::Hash([i as u8; 32]);
                match op {
                    0 => proptest::prop_assert_eq!(n.insert(a, id), m.insert(a, id)),
                    1 => proptest::prop_assert_eq!(n.remove(&a), m.remove(&a)),
                    _ => {
                        let (lo, hi) = (a.min(b), a.max(b));
                        let got: Vec<_> = n.range(lo..hi).collect();
                        let want: Vec<_> = m.range(lo..hi).collect();
                        proptest::prop_assert_eq!(got, want);
                        let got: Vec<_> = n.range(..=lo).rev().collect();
                        let want: Vec<_> = m.range(..=lo).rev().collect();
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                proptest::prop_assert_eq!(n.get(&a), m.get(&a));
                proptest::prop_assert_eq!(n.first_key_value(), m.first_key_value());
                proptest::prop_assert_eq!(n.last_key_value(), m.last_key_value());
                proptest::prop_assert_eq!(n.into_iter().collect::<Vec<_>>(), m.iter().collect::<Vec<_>>());
            }
        }

        #[test]
        fn after_any_history_every_pooled_transaction_is_minable_or_stuck(
            ops in proptest::collection::vec(op(), 1..60),
        ) {
            let keys: Vec<KeyPair> = (0..4u8).map(|i| KeyPair::from_seed(&[b'p', i])).collect();
            let refs: Vec<&KeyPair> = keys.iter().collect();
            let mut p = pool(&refs, 6);
            let mut now = 0;
            let mut made: BTreeMap<TxId, Arc<Transaction>> = BTreeMap::new();
            // A drop never strands a later nonce: unless its slot was refilled (a
            // replacement), nothing of its sender after it stays pooled.
            let strands = |p: &Mempool, made: &BTreeMap<TxId, Arc<Transaction>>, d: &Dropped| {
                let t = &made[&d.id];
                let Some(txs) = p.by_sender.get(&t.sender()) else {
                    return false;
                };
                !txs.contains_key(&t.nonce) && txs.range(t.nonce + 1..).next().is_some()
            };
            for op in ops {
                match op {
                    Op::Admit { sender, ahead, amount, fee } => {
                        let k = &keys[sender];
                        let nonce = p.account(&k.address()).nonce + ahead;
                        let t = transfer(k, nonce, amount, fee);
                        made.insert(t.id(), t.clone());
                        if let Ok(dropped) = p.admit(t.clone(), t.id(), now, None) {
                            proptest::prop_assert!(p.contains(&t.id()));
                            for d in dropped {
                                proptest::prop_assert!(!p.contains(&d.id));
                                proptest::prop_assert!(!strands(&p, &made, &d), "{d:?}");
                            }
                        }
                    }
                    Op::Mine { n } => {
                        let block = p.template(n);
                        let mut changed = BTreeMap::new();
                        for t in &block {
                            let a = changed
                                .entry(t.sender())
                                .or_insert_with(|| p.account(&t.sender()));
                            a.nonce += 1;
                            a.balance -= t.amount + t.fee;
                        }
                        let ids: Vec<TxId> = block.iter().map(|t| t.id()).collect();
                        let changed: Vec<_> = changed.into_iter().collect();
                        p.on_tip_change(None, &changed, &ids, &[], now, None);
                    }
                    Op::Balance { sender, balance } => {
                        let addr = keys[sender].address();
                        let nonce = p.account(&addr).nonce;
                        let out = p.on_tip_change(None, &[(addr, Account { balance, nonce })], &[], &[], now, None);
                        for d in out.dropped {
                            proptest::prop_assert!(!strands(&p, &made, &d), "{d:?}");
                        }
                    }
                    Op::Expire { advance } => {
                        now += advance;
                        for d in p.expire(now) {
                            proptest::prop_assert!(!p.contains(&d.id));
                            proptest::prop_assert!(!strands(&p, &made, &d), "{d:?}");
                        }
                    }
                }
                check_invariants(&p).map_err(proptest::test_runner::TestCaseError::fail)?;
            }
        }
    }
}
