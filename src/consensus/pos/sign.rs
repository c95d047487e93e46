//! Proposer signatures over headers, and vote signatures: what is signed and how it is
//! checked (k256, as transactions).

use super::{Pos, PosError};
use crate::block::{BlockHeader, Seal, Vote};
use crate::crypto::{verify_digest, KeyPair, SigCache};
use crate::encoding;
use crate::hash::Hash;

/// What a proposer signs: the header with the seal's signature zeroed.
pub fn header_digest(header: &BlockHeader) -> [u8; 32] {
    let mut h = header.clone();
    if let Seal::Pos { signature, .. } = &mut h.seal {
        signature.0 = [0; 64];
    }
    Hash::sha256_parts(&[b"chainlab/block/v1", &encoding::encode(&h)]).0
}

/// Signs `header` with `key`, filling the seal's signature (no effect on a proof-of-work seal).
pub fn sign_header(header: &mut BlockHeader, key: &KeyPair) {
    let digest = header_digest(header);
    if let Seal::Pos { signature, .. } = &mut header.seal {
        *signature = key.sign_digest(&digest);
    }
}

impl Pos {
    /// Checks the proposer's signature of a proof-of-stake header; returns the proposer.
    ///
    /// # Errors
    /// [`PosError::UnknownValidator`], [`PosError::BadBlockSignature`] (also for a proof-of-work
    /// seal).
    pub fn verify_header_signature(&self, header: &BlockHeader) -> Result<u32, PosError> {
        let Seal::Pos {
            proposer,
            signature,
            ..
        } = &header.seal
        else {
            return Err(PosError::BadBlockSignature);
        };
        let v = self
            .validators
            .get(*proposer as usize)
            .ok_or(PosError::UnknownValidator(*proposer))?;
        verify_digest(&v.public, &header_digest(header), signature)
            .map_err(|_| PosError::BadBlockSignature)?;
        Ok(*proposer)
    }

    /// Signs a vote of the validator with `key` (its index in `vote.validator`).
    pub fn sign_vote(&self, vote: &mut Vote, key: &KeyPair) {
        vote.signature = key.sign_digest(&vote.digest(self.chain_id));
    }

    /// Checks a vote's signature (through `cache` when given); `index` is its position in a
    /// block, for the error.
    ///
    /// # Errors
    /// [`PosError::UnknownValidator`], [`PosError::BadVoteSignature`].
    pub fn verify_vote(
        &self,
        index: usize,
        vote: &Vote,
        cache: Option<&SigCache>,
    ) -> Result<(), PosError> {
        let v = self
            .validators
            .get(vote.validator as usize)
            .ok_or(PosError::UnknownValidator(vote.validator))?;
        let digest = vote.digest(self.chain_id);
        let bad = PosError::BadVoteSignature {
            index,
            validator: vote.validator,
        };
        match cache {
            Some(c) => {
                let key = Hash::sha256_parts(&[b"chainlab/vote-sig", &digest, &vote.signature.0]);
                c.verify(&key, &v.public, &digest, &vote.signature)
                    .map_err(|_| bad)
            }
            None => verify_digest(&v.public, &digest, &vote.signature).map_err(|_| bad),
        }
    }
}
