//! A front-runner (`[frontrun]`, docs/contracts-frontrunning.md): a node that watches the
//! transactions its mempool admits for calls of one method of one contract made by others,
//! and answers each with a copy — the same method, arguments, gas and attached value, signed
//! by its own key — paying more, so that a miner ordering its template by fee
//! (`mempool::Mempool::template`) executes the copy first. Against a first-come registry
//! (contracts/registry.wat) the copy takes the name whenever it reaches the miner of the block
//! that includes the victim's call in time; against commit–reveal
//! (contracts/registry_commit.wat) it never does.
//!
//! This is the decision ([`Frontrunner::copy`]); the mempool actor calls it on each admitted
//! transaction, with the attacker's next nonce from its own pool
//! (`mempool::Mempool::next_nonce`), and submits the copy to its own pool, which gossips it.

use crate::crypto::{Address, KeyPair};
use crate::tx::{Call, Payload, Transaction};

/// What a front-runner watches and how it signs and pays.
#[derive(Clone, Debug)]
pub struct Frontrunner {
    key: KeyPair,
    chain_id: u32,
    contract: Address,
    method: String,
    fee_bump: f64,
}

impl Frontrunner {
    /// A front-runner signing with `key` on chain `chain_id`, copying calls of `method` of
    /// `contract` and paying `fee_bump` times the victim's fee, plus one.
    pub fn new(
        key: KeyPair,
        chain_id: u32,
        contract: Address,
        method: impl Into<String>,
        fee_bump: f64,
    ) -> Frontrunner {
        Frontrunner {
            key,
            chain_id,
            contract,
            method: method.into(),
            fee_bump,
        }
    }

    /// The attacker's account.
    pub fn address(&self) -> Address {
        self.key.address()
    }

    /// The contract watched.
    pub fn contract(&self) -> Address {
        self.contract
    }

    /// The method watched.
    pub fn method(&self) -> &str {
        &self.method
    }

    /// The fee of a copy of a transaction paying `fee`: ⌊`fee` × `fee_bump`⌋ + 1, so more
    /// than the victim's for any bump of at least 1 (saturating at `u64::MAX`).
    pub fn fee(&self, fee: u64) -> u64 {
        let bumped = (fee as f64 * self.fee_bump).floor();
        if bumped >= u64::MAX as f64 {
            return u64::MAX;
        }
        (bumped as u64).saturating_add(1)
    }

    /// Whether `tx` is one to copy: a call of the watched method of the watched contract, by
    /// someone else (never the attacker's own copies).
    pub fn watches(&self, tx: &Transaction) -> bool {
        match &tx.payload {
            Payload::Call(call) => {
                tx.to == self.contract
                    && call.method == self.method
                    && tx.from != self.key.public
                    && tx.chain_id == self.chain_id
            }
            _ => false,
        }
    }

    /// The copy of `tx` with the attacker's next nonce `nonce`, or `None` when `tx` is not one
    /// to copy ([`Frontrunner::watches`]).
    pub fn copy(&self, tx: &Transaction, nonce: u64) -> Option<Transaction> {
        if !self.watches(tx) {
            return None;
        }
        let Payload::Call(call) = &tx.payload else {
            return None;
        };
        let call = Call {
            method: call.method.clone(),
            args: call.args.clone(),
            gas: call.gas,
        };
        Some(Transaction::new_call(
            &self.key,
            self.chain_id,
            self.contract,
            call,
            tx.amount,
            self.fee(tx.fee),
            nonce,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::verify_digest;
    use crate::tx::Deploy;

    const CHAIN: u32 = 3;

    fn call(key: &KeyPair, to: Address, method: &str, fee: u64, nonce: u64) -> Transaction {
        let call = Call {
            method: method.into(),
            args: b"alice".to_vec(),
            gas: 5000,
        };
        Transaction::new_call(key, CHAIN, to, call, 7, fee, nonce)
    }

    fn attacker() -> Frontrunner {
        Frontrunner::new(
            KeyPair::from_seed(b"attacker"),
            CHAIN,
            Address([1; 20]),
            "register",
            2.0,
        )
    }

    #[test]
    fn a_watched_call_is_copied_signed_by_the_attacker_paying_more() {
        let f = attacker();
        let victim = KeyPair::from_seed(b"victim");
        let tx = call(&victim, Address([1; 20]), "register", 100, 4);
        let copy = f.copy(&tx, 9).expect("a call to copy");
        assert_eq!(copy.from, KeyPair::from_seed(b"attacker").public);
        assert_eq!(copy.sender(), f.address());
        assert_eq!((copy.nonce, copy.fee), (9, 201));
        assert_eq!((copy.to, copy.amount, copy.chain_id), (tx.to, 7, CHAIN));
        assert_eq!(copy.payload, tx.payload, "same method, arguments and gas");
        assert!(verify_digest(&copy.from, &copy.signing_digest(), &copy.sig).is_ok());
        assert_ne!(copy.id(), tx.id());
    }

    #[test]
    fn other_transactions_are_left_alone() {
        let f = attacker();
        let victim = KeyPair::from_seed(b"victim");
        let others = [
            call(&victim, Address([2; 20]), "register", 100, 0),
            call(&victim, Address([1; 20]), "owner_of", 100, 0),
            Transaction::new_signed(&victim, CHAIN, Address([1; 20]), 5, 100, 0),
            Transaction::new_deploy(
                &victim,
                CHAIN,
                Deploy {
                    code: vec![0],
                    init_args: vec![],
                    gas: 1,
                },
                0,
                100,
                0,
            ),
            // Its own copy, or anything the attacker signs.
            call(
                &KeyPair::from_seed(b"attacker"),
                Address([1; 20]),
                "register",
                100,
                0,
            ),
            // Another chain's.
            {
                let c = Call {
                    method: "register".into(),
                    args: vec![],
                    gas: 1,
                };
                Transaction::new_call(&victim, CHAIN + 1, Address([1; 20]), c, 0, 1, 0)
            },
        ];
        for tx in &others {
            assert!(!f.watches(tx), "{tx:?}");
            assert!(f.copy(tx, 0).is_none());
        }
        let copy = f
            .copy(&call(&victim, Address([1; 20]), "register", 1, 0), 0)
            .unwrap();
        assert!(!f.watches(&copy), "a copy is never copied again");
    }

    #[test]
    fn the_copy_always_pays_more() {
        for (bump, fee, want) in [
            (2.0, 100, 201),
            (1.0, 100, 101),
            (1.5, 3, 5),
            (1.0, 0, 1),
            (3.0, u64::MAX / 2, u64::MAX),
            (1.0, u64::MAX, u64::MAX),
        ] {
            let f = Frontrunner::new(KeyPair::from_seed(b"a"), 1, Address([1; 20]), "m", bump);
            assert_eq!(f.fee(fee), want, "{bump} x {fee}");
        }
    }
}
