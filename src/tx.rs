//! Signed account-model transactions: transfers, contract deploys and contract calls.

use crate::crypto::{Address, KeyPair, PublicKey, Signature};
use crate::encoding;
use crate::hash::{Hash, TxId};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The encoding of [`Payload::Transfer`]: its variant index as a little-endian u32.
const TRANSFER_TAG: [u8; 4] = [0; 4];

/// Domain tag of the transaction signing digest.
pub const TX_DOMAIN: &[u8] = b"chainlab/tx/v1";

/// What a transaction does beyond moving `amount` to `to` and paying `fee`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Payload {
    /// A plain transfer.
    #[default]
    Transfer,
    /// Deploys a contract at `to`, which must be [`contract_address`] of the sender and the
    /// nonce; `amount` goes to the contract's balance.
    Deploy(Arc<Deploy>),
    /// Calls a method of the contract at `to`, attaching `amount`.
    Call(Arc<Call>),
}

/// A contract deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deploy {
    /// The module, wasm bytes.
    pub code: Vec<u8>,
    /// Arguments of its `init` method, run at deployment when the module exports one.
    pub init_args: Vec<u8>,
    /// Gas for `init`.
    pub gas: u64,
}

/// A contract call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Call {
    /// The exported method.
    pub method: String,
    /// Its arguments.
    pub args: Vec<u8>,
    /// Most gas the call (and the receipts it starts) may use.
    pub gas: u64,
}

impl Payload {
    /// The gas it attaches (0 for a transfer).
    pub fn gas(&self) -> u64 {
        match self {
            Payload::Transfer => 0,
            Payload::Deploy(d) => d.gas,
            Payload::Call(c) => c.gas,
        }
    }

    /// Whether it is a plain transfer.
    pub fn is_transfer(&self) -> bool {
        matches!(self, Payload::Transfer)
    }
}

/// The address of the contract `sender` deploys with its transaction of nonce `nonce`.
pub fn contract_address(sender: &Address, nonce: u64) -> Address {
    let h = Hash::sha256_parts(&[b"chainlab/contract/v1", &sender.0, &nonce.to_le_bytes()]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h.0[..20]);
    Address(a)
}

/// A transfer of `amount` from the key's account to `to`, paying `fee` to the miner; with a
/// [`Payload`], a contract deploy or call.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// The chain this transaction is valid on (replay protection).
    pub chain_id: u32,
    /// The sender's public key; the sender's address derives from it.
    pub from: PublicKey,
    /// The recipient.
    pub to: Address,
    /// Amount moved.
    pub amount: u64,
    /// Fee paid to the block's miner.
    pub fee: u64,
    /// The sender's account nonce; must be exactly the next one.
    pub nonce: u64,
    /// A transfer, a deploy or a call.
    pub payload: Payload,
    /// Low-S ECDSA over [`Transaction::signing_digest`].
    pub sig: Signature,
}

impl Transaction {
    /// Builds and signs a transfer.
    pub fn new_signed(
        key: &KeyPair,
        chain_id: u32,
        to: Address,
        amount: u64,
        fee: u64,
        nonce: u64,
    ) -> Transaction {
        Transaction::new_with_payload(key, chain_id, to, amount, fee, nonce, Payload::Transfer)
    }

    /// Builds and signs a transaction with any payload.
    pub fn new_with_payload(
        key: &KeyPair,
        chain_id: u32,
        to: Address,
        amount: u64,
        fee: u64,
        nonce: u64,
        payload: Payload,
    ) -> Transaction {
        let mut tx = Transaction {
            chain_id,
            from: key.public,
            to,
            amount,
            fee,
            nonce,
            payload,
            sig: Signature([0; 64]),
        };
        tx.sig = key.sign_digest(&tx.signing_digest());
        tx
    }

    /// Builds and signs a deploy of `code` (wasm bytes) with `value` for the contract; its
    /// address is [`contract_address`] of the key's address and `nonce`.
    pub fn new_deploy(
        key: &KeyPair,
        chain_id: u32,
        deploy: Deploy,
        value: u64,
        fee: u64,
        nonce: u64,
    ) -> Transaction {
        let to = contract_address(&key.address(), nonce);
        let payload = Payload::Deploy(Arc::new(deploy));
        Transaction::new_with_payload(key, chain_id, to, value, fee, nonce, payload)
    }

    /// Builds and signs a call of `contract`, attaching `value`.
    pub fn new_call(
        key: &KeyPair,
        chain_id: u32,
        contract: Address,
        call: Call,
        value: u64,
        fee: u64,
        nonce: u64,
    ) -> Transaction {
        let payload = Payload::Call(Arc::new(call));
        Transaction::new_with_payload(key, chain_id, contract, value, fee, nonce, payload)
    }

    /// The digest the sender signs: a domain tag, the chain id and every field but the
    /// signature (a payload other than a transfer by the hash of its encoding).
    pub fn signing_digest(&self) -> [u8; 32] {
        let payload = match self.payload {
            Payload::Transfer => None,
            _ => Some(Hash::sha256(&encoding::encode(&self.payload))),
        };
        let payload = payload.as_ref().map_or(&[][..], |h| &h.0[..]);
        Hash::sha256_parts(&[
            TX_DOMAIN,
            &self.chain_id.to_le_bytes(),
            &self.from.0,
            &self.to.0,
            &self.amount.to_le_bytes(),
            &self.fee.to_le_bytes(),
            &self.nonce.to_le_bytes(),
            payload,
        ])
        .0
    }

    /// The id: SHA-256 of the canonical encoding (it commits to the signature too).
    ///
    /// The encoding of a transfer is the concatenation of its fixed-size fields (fixed-width
    /// little-endian integers, arrays without length prefixes, the payload's variant tag), so
    /// it is hashed field by field without building it; a test checks this equals hashing
    /// [`encoding::encode`]. Other payloads are hashed through their encoding.
    pub fn id(&self) -> TxId {
        if !self.payload.is_transfer() {
            return Hash::sha256(&encoding::encode(self));
        }
        Hash::sha256_parts(&[
            &self.chain_id.to_le_bytes(),
            &self.from.0,
            &self.to.0,
            &self.amount.to_le_bytes(),
            &self.fee.to_le_bytes(),
            &self.nonce.to_le_bytes(),
            &TRANSFER_TAG,
            &self.sig.0,
        ])
    }

    /// The sender's address.
    pub fn sender(&self) -> Address {
        self.from.address()
    }

    /// Canonical encoded size in bytes.
    pub fn size(&self) -> u64 {
        encoding::encoded_len(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::verify_digest;

    #[test]
    fn signature_covers_chain_id() {
        let k = KeyPair::from_seed(b"s");
        let tx = Transaction::new_signed(&k, 1, Address([2; 20]), 5, 1, 0);
        assert!(verify_digest(&tx.from, &tx.signing_digest(), &tx.sig).is_ok());
        let mut other = tx.clone();
        other.chain_id = 2;
        assert!(verify_digest(&other.from, &other.signing_digest(), &other.sig).is_err());
        assert_ne!(tx.id(), other.id());
    }

    #[test]
    fn id_is_the_hash_of_the_canonical_encoding() {
        let k = KeyPair::from_seed(b"s");
        for n in 0..5 {
            let tx = Transaction::new_signed(&k, 9, Address([n as u8; 20]), 5 + n, 1, n);
            assert_eq!(tx.id(), Hash::sha256(&encoding::encode(&tx)));
            assert_eq!(encoding::encode(&tx).len(), 149);
        }
        let call = Call {
            method: "m".into(),
            args: vec![1, 2],
            gas: 7,
        };
        let tx = Transaction::new_call(&k, 9, Address([3; 20]), call, 1, 1, 0);
        assert_eq!(tx.id(), Hash::sha256(&encoding::encode(&tx)));
    }

    #[test]
    fn the_signature_covers_the_payload() {
        let k = KeyPair::from_seed(b"s");
        let call = |method: &str| Call {
            method: method.into(),
            args: vec![],
            gas: 7,
        };
        let tx = Transaction::new_call(&k, 1, Address([3; 20]), call("a"), 1, 1, 0);
        assert!(verify_digest(&tx.from, &tx.signing_digest(), &tx.sig).is_ok());
        let mut other = tx.clone();
        other.payload = Payload::Call(Arc::new(call("b")));
        assert!(verify_digest(&other.from, &other.signing_digest(), &other.sig).is_err());
        let mut transfer = tx.clone();
        transfer.payload = Payload::Transfer;
        assert!(verify_digest(&transfer.from, &transfer.signing_digest(), &transfer.sig).is_err());
    }

    #[test]
    fn a_deploy_goes_to_the_derived_address() {
        let k = KeyPair::from_seed(b"s");
        let d = Deploy {
            code: vec![0, 97, 115, 109],
            init_args: vec![],
            gas: 1,
        };
        let tx = Transaction::new_deploy(&k, 1, d, 0, 1, 4);
        assert_eq!(tx.to, contract_address(&k.address(), 4));
        assert_ne!(tx.to, contract_address(&k.address(), 5));
    }

    #[test]
    fn encoding_round_trips() {
        let k = KeyPair::from_seed(b"s");
        let tx = Transaction::new_signed(&k, 1, Address([2; 20]), 5, 1, 0);
        let bytes = encoding::encode(&tx);
        assert_eq!(bytes.len() as u64, tx.size());
        let back: Transaction = encoding::decode(&bytes).unwrap();
        assert_eq!(back, tx);
        assert!(encoding::decode::<Transaction>(&bytes[..bytes.len() - 1]).is_err());
    }
}
