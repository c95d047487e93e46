//! Signed account-model transfers.

use crate::crypto::{Address, KeyPair, PublicKey, Signature};
use crate::encoding;
use crate::hash::{Hash, TxId};
use serde::{Deserialize, Serialize};

/// Domain tag of the transaction signing digest.
pub const TX_DOMAIN: &[u8] = b"chainlab/tx/v1";

/// A transfer of `amount` from the key's account to `to`, paying `fee` to the miner.
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
        let mut tx = Transaction {
            chain_id,
            from: key.public,
            to,
            amount,
            fee,
            nonce,
            sig: Signature([0; 64]),
        };
        tx.sig = key.sign_digest(&tx.signing_digest());
        tx
    }

    /// The digest the sender signs: a domain tag, the chain id and every field but the signature.
    pub fn signing_digest(&self) -> [u8; 32] {
        Hash::sha256_parts(&[
            TX_DOMAIN,
            &self.chain_id.to_le_bytes(),
            &self.from.0,
            &self.to.0,
            &self.amount.to_le_bytes(),
            &self.fee.to_le_bytes(),
            &self.nonce.to_le_bytes(),
        ])
        .0
    }

    /// The id: SHA-256 of the canonical encoding (it commits to the signature too).
    ///
    /// The encoding of a transaction is the concatenation of its fixed-size fields (fixed-width
    /// little-endian integers, arrays without length prefixes), so it is hashed field by field
    /// without building it; a test checks this equals hashing [`encoding::encode`].
    pub fn id(&self) -> TxId {
        Hash::sha256_parts(&[
            &self.chain_id.to_le_bytes(),
            &self.from.0,
            &self.to.0,
            &self.amount.to_le_bytes(),
            &self.fee.to_le_bytes(),
            &self.nonce.to_le_bytes(),
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
            assert_eq!(encoding::encode(&tx).len(), 145);
        }
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
