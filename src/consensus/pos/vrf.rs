//! The VRF: schnorrkel's sr25519 VRF (what Polkadot's BABE uses), with keys derived from a
//! validator's k256 secret and proofs made deterministic (the proof's nonce is drawn from a
//! ChaCha stream seeded by the secret and the input, as RFC 6979 does for ECDSA).
//!
//! The input of an evaluation is a byte string under the signing context
//! [`SLOT_CONTEXT`] (the lottery builds it, [`super::lottery::vrf_input`]); what the engine
//! uses of the output is its lottery value: `make_bytes::<[u8; 16]>(b"chainlab/lottery")` of
//! the input and output points, read as a little-endian `u128` (uniform on [0, 2^128)).

use crate::block::VrfProof;
use crate::crypto::KeyPair;
use crate::hash::Hash;
use rand_chacha::rand_core::SeedableRng;
use schnorrkel::vrf::{VRFInOut, VRFPreOut, VRFProof};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey};

/// The signing context of every slot evaluation.
pub const SLOT_CONTEXT: &[u8] = b"chainlab/slot";

/// The context under which the lottery value is drawn from an evaluation.
pub const LOTTERY_CONTEXT: &[u8] = b"chainlab/lottery";

/// The domain of the VRF secret derived from a k256 secret.
const KEY_DOMAIN: &[u8] = b"chainlab/vrf/v1";

/// Why a VRF proof is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VrfError {
    /// The 32 bytes are not a valid sr25519 public key.
    #[error("the VRF public key is not a valid Ristretto point")]
    BadPublicKey,
    /// The output or proof bytes do not decode (not a point, not a canonical scalar).
    #[error("the VRF output or proof is malformed")]
    Malformed,
    /// The proof does not show that the output is the key's evaluation at the input.
    #[error("the VRF proof does not verify")]
    DoesNotVerify,
}

/// One evaluation: the output point and the lottery value drawn from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VrfOutput {
    /// The VRF pre-output (compressed Ristretto point): what a proof carries.
    pub output: [u8; 32],
    /// The lottery value, uniform on [0, 2^128).
    pub value: u128,
}

/// A validator's VRF key pair.
pub struct VrfKey {
    keypair: Keypair,
    /// The mini secret: seeds the deterministic proof nonces.
    seed: [u8; 32],
}

impl std::fmt::Debug for VrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VrfKey({})", hex::encode(&self.public()[..5]))
    }
}

impl VrfKey {
    /// The VRF key of a validator, derived from its k256 secret: the sr25519 mini secret is
    /// SHA-256("chainlab/vrf/v1" ‖ k256 secret), expanded as Ed25519 does.
    pub fn from_keypair(key: &KeyPair) -> VrfKey {
        VrfKey::from_seed(key.derive_secret(KEY_DOMAIN))
    }

    fn from_seed(seed: [u8; 32]) -> VrfKey {
        // Any 32 bytes are a mini secret key: `from_bytes` only checks the length.
        let mini = match MiniSecretKey::from_bytes(&seed) {
            Ok(m) => m,
            Err(_) => unreachable!("a mini secret key is any 32 bytes"),
        };
        VrfKey {
            keypair: mini.expand_to_keypair(ExpansionMode::Ed25519),
            seed,
        }
    }

    /// Its public key (what the validator set of genesis lists).
    pub fn public(&self) -> [u8; 32] {
        self.keypair.public.to_bytes()
    }

    /// Evaluates the VRF at `input` without a proof (the lottery scan: a proof is only made for
    /// the slots the key leads).
    pub fn evaluate(&self, input: &[u8]) -> VrfOutput {
        let inout = self.keypair.vrf_create_hash(transcript(input));
        out_of(&inout)
    }

    /// Evaluates the VRF at `input` with a proof. Deterministic: the proof's nonce comes from
    /// a ChaCha20 stream seeded with SHA-256(secret ‖ input), so the same key and input give
    /// the same bytes.
    pub fn prove(&self, input: &[u8]) -> (VrfOutput, VrfProof) {
        let nonce_seed = Hash::sha256_parts(&[
            b"chainlab/vrf-nonce",
            &self.seed,
            &(input.len() as u64).to_le_bytes(),
            input,
        ])
        .0;
        let rng = rand_chacha::ChaCha20Rng::from_seed(nonce_seed);
        let extra = schnorrkel::context::attach_rng(merlin::Transcript::new(b"VRF"), rng);
        let (inout, proof, _) = self.keypair.vrf_sign_extra(transcript(input), extra);
        let out = out_of(&inout);
        (
            out,
            VrfProof {
                output: out.output,
                proof: proof.to_bytes(),
            },
        )
    }
}

/// Verifies that `proof` holds the evaluation of the key `public` at `input`; returns the
/// evaluation. Malformed bytes (a peer's) are errors, never panics.
///
/// # Errors
/// [`VrfError`] saying what is wrong.
pub fn verify(public: &[u8; 32], input: &[u8], proof: &VrfProof) -> Result<VrfOutput, VrfError> {
    let pk = PublicKey::from_bytes(public).map_err(|_| VrfError::BadPublicKey)?;
    let preout = VRFPreOut::from_bytes(&proof.output).map_err(|_| VrfError::Malformed)?;
    let p = VRFProof::from_bytes(&proof.proof).map_err(|_| VrfError::Malformed)?;
    let (inout, _) = pk
        .vrf_verify(transcript(input), &preout, &p)
        .map_err(|e| match e {
            schnorrkel::SignatureError::EquationFalse => VrfError::DoesNotVerify,
            _ => VrfError::Malformed,
        })?;
    Ok(out_of(&inout))
}

fn transcript(input: &[u8]) -> merlin::Transcript {
    schnorrkel::signing_context(SLOT_CONTEXT).bytes(input)
}

fn out_of(inout: &VRFInOut) -> VrfOutput {
    VrfOutput {
        output: inout.to_preout().to_bytes(),
        value: u128::from_le_bytes(inout.make_bytes::<[u8; 16]>(LOTTERY_CONTEXT)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u8) -> VrfKey {
        VrfKey::from_keypair(&KeyPair::from_seed(&[i]))
    }

    #[test]
    fn keys_are_derived_deterministically_and_differ_between_validators() {
        assert_eq!(key(1).public(), key(1).public());
        assert_ne!(key(1).public(), key(2).public());
    }

    #[test]
    fn proofs_are_deterministic_and_verify_to_the_evaluation() {
        let k = key(3);
        let (out, proof) = k.prove(b"slot 7");
        assert_eq!(k.prove(b"slot 7"), (out, proof));
        assert_eq!(k.evaluate(b"slot 7"), out);
        assert_eq!(verify(&k.public(), b"slot 7", &proof), Ok(out));
        assert_ne!(k.evaluate(b"slot 8").value, out.value);
    }

    #[test]
    fn wrong_input_key_or_bytes_are_refused_without_panicking() {
        let k = key(4);
        let (_, proof) = k.prove(b"x");
        assert_eq!(
            verify(&k.public(), b"y", &proof),
            Err(VrfError::DoesNotVerify)
        );
        assert_eq!(
            verify(&key(5).public(), b"x", &proof),
            Err(VrfError::DoesNotVerify)
        );
        let mut bad = proof;
        bad.proof[3] ^= 1;
        assert!(verify(&k.public(), b"x", &bad).is_err());
        let mut bad = proof;
        bad.output[0] ^= 1;
        assert!(verify(&k.public(), b"x", &bad).is_err());
        assert!(verify(&k.public(), b"x", &VrfProof::NONE).is_err());
        let junk = VrfProof {
            output: [0xff; 32],
            proof: [0xff; 64],
        };
        assert!(verify(&k.public(), b"x", &junk).is_err());
        assert_eq!(
            verify(&[0xff; 32], b"x", &proof),
            Err(VrfError::BadPublicKey)
        );
    }
}
