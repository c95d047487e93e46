//! The VRF: schnorrkel's sr25519 VRF (what Polkadot's BABE uses), with keys derived from a
//! validator's k256 secret and proofs made deterministic (the proof's nonce is drawn from a
//! ChaCha stream seeded by the secret and the input, as RFC 6979 does for ECDSA).
//!
//! OWNER H1. Skeleton: the signatures below are the contract with the config (H3).

use crate::crypto::KeyPair;

/// A validator's VRF key pair.
pub struct VrfKey {}

impl VrfKey {
    /// The VRF key of a validator, derived from its k256 secret.
    pub fn from_keypair(_key: &KeyPair) -> VrfKey {
        todo!("H1")
    }

    /// Its public key (what the validator set of genesis lists).
    pub fn public(&self) -> [u8; 32] {
        todo!("H1")
    }
}
