//! secp256k1 keys, addresses, low-S ECDSA over 32-byte digests, and a bounded cache of
//! successful verifications that can be shared by every node of a process.

use crate::hash::{Hash, HashKey, HashSetById};
use k256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use k256::ecdsa::{Signature as EcdsaSignature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_big_array::BigArray;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// A compressed SEC1 secp256k1 public key (33 bytes).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PublicKey(#[serde(with = "BigArray")] pub [u8; 33]);

/// A compact (r, s) ECDSA signature (64 bytes), low-S only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Signature(#[serde(with = "BigArray")] pub [u8; 64]);

/// An account address: the first 20 bytes of SHA-256 of the compressed public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Address(pub [u8; 20]);

impl Address {
    /// The bytes as two big-endian words: compared in this order they compare as the bytes
    /// do, without a call to `memcmp` (state and mempool maps are keyed by address).
    fn words(&self) -> (u128, u32) {
        let mut hi = [0u8; 16];
        hi.copy_from_slice(&self.0[..16]);
        let mut lo = [0u8; 4];
        lo.copy_from_slice(&self.0[16..]);
        (u128::from_be_bytes(hi), u32::from_be_bytes(lo))
    }
}

impl Ord for Address {
    /// Byte order (lexicographic), as a derived order would be.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.words().cmp(&other.words())
    }
}

impl PartialOrd for Address {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", hex::encode(&self.0[..5]))
    }
}
impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}..)", hex::encode(&self.0[..4]))
    }
}
impl fmt::Debug for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Address({})", hex::encode(&self.0[..4]))
    }
}
impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl PublicKey {
    /// Parses 66 hex digits (a compressed SEC1 key) and checks that they are a point on the
    /// curve.
    ///
    /// # Errors
    /// [`CryptoError::InvalidPublicKey`] for anything else.
    pub fn from_hex(s: &str) -> Result<PublicKey, CryptoError> {
        let bytes = hex::decode(s.trim()).map_err(|_| CryptoError::InvalidPublicKey)?;
        let arr: [u8; 33] = bytes
            .try_into()
            .map_err(|_| CryptoError::InvalidPublicKey)?;
        VerifyingKey::from_sec1_bytes(&arr).map_err(|_| CryptoError::InvalidPublicKey)?;
        Ok(PublicKey(arr))
    }

    /// The first 6 bytes in hex, for messages.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }

    /// The address owned by this key.
    pub fn address(&self) -> Address {
        let h = Hash::sha256(&self.0);
        let mut a = [0u8; 20];
        a.copy_from_slice(&h.0[..20]);
        Address(a)
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The 33 bytes are not a point on secp256k1.
    #[error("public key is not a valid secp256k1 point")]
    InvalidPublicKey,
    /// r or s is zero or not below the group order.
    #[error("signature is malformed")]
    MalformedSignature,
    /// s is in the upper half of the order (malleable form).
    #[error("signature has a high S value")]
    HighS,
    /// The signature does not match key and message.
    #[error("signature does not verify")]
    BadSignature,
}

/// A signing key with its public key.
#[derive(Clone)]
pub struct KeyPair {
    sk: SigningKey,
    /// The compressed public key.
    pub public: PublicKey,
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyPair({:?})", self.public)
    }
}

impl KeyPair {
    /// Derives a key deterministically from a seed; the same seed gives the same key.
    pub fn from_seed(seed: &[u8]) -> KeyPair {
        let mut counter = 0u32;
        loop {
            let h = Hash::sha256_parts(&[b"chainlab/key/v1", seed, &counter.to_le_bytes()]);
            if let Ok(sk) = SigningKey::from_bytes(&h.0.into()) {
                return KeyPair::from_signing_key(sk);
            }
            counter += 1;
        }
    }

    fn from_signing_key(sk: SigningKey) -> KeyPair {
        let point = sk.verifying_key().to_sec1_point(true);
        let mut pk = [0u8; 33];
        pk.copy_from_slice(point.as_bytes());
        KeyPair {
            sk,
            public: PublicKey(pk),
        }
    }

    /// The address of this key.
    pub fn address(&self) -> Address {
        self.public.address()
    }

    /// A 32-byte secret derived from this key's secret for another scheme:
    /// SHA-256(`domain` ‖ the 32-byte k256 secret). Distinct domains give independent
    /// secrets; the k256 secret cannot be recovered from them.
    pub fn derive_secret(&self, domain: &[u8]) -> [u8; 32] {
        let secret = self.sk.to_bytes();
        Hash::sha256_parts(&[domain, secret.as_slice()]).0
    }

    /// Signs a 32-byte digest (RFC 6979, deterministic, low-S).
    pub fn sign_digest(&self, digest: &[u8; 32]) -> Signature {
        let sig: EcdsaSignature = self
            .sk
            .sign_prehash(digest)
            .expect("a 32-byte prehash is always accepted by k256");
        let sig = sig.normalize_s();
        Signature(sig.to_bytes().into())
    }
}

/// Verifies a low-S signature over a 32-byte digest.
///
/// # Errors
/// Returns which check failed: key, encoding, high S, or the equation itself.
pub fn verify_digest(
    pk: &PublicKey,
    digest: &[u8; 32],
    sig: &Signature,
) -> Result<(), CryptoError> {
    let vk = VerifyingKey::from_sec1_bytes(&pk.0).map_err(|_| CryptoError::InvalidPublicKey)?;
    verify_with_key(&vk, digest, sig)
}

fn verify_with_key(
    vk: &VerifyingKey,
    digest: &[u8; 32],
    sig: &Signature,
) -> Result<(), CryptoError> {
    let sig = EcdsaSignature::from_slice(&sig.0).map_err(|_| CryptoError::MalformedSignature)?;
    if sig.normalize_s() != sig {
        return Err(CryptoError::HighS);
    }
    vk.verify_prehash(digest, &sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// Returns the high-S twin of a valid low-S signature (for tests of malleability rejection).
pub fn to_high_s(sig: &Signature) -> Option<Signature> {
    use k256::elliptic_curve::ops::Neg;
    let parsed = EcdsaSignature::from_slice(&sig.0).ok()?;
    let (r, s) = parsed.split_scalars();
    let neg_s = s.as_ref().neg();
    let high = EcdsaSignature::from_scalars(r.to_bytes(), neg_s.to_bytes()).ok()?;
    Some(Signature(high.to_bytes().into()))
}

/// A bounded set of verification keys that already verified, shared between nodes.
///
/// Callers key it with a hash that commits to the public key, the message and the
/// signature (a transaction id does), so a different signature can never hit.
/// Eviction is first-in first-out. Hits and misses are counted.
///
/// A second, uncounted table holds keys verified ahead of need ([`SigCache::preverify`], say
/// by a worker thread on another core): a later miss on such a key takes it from there
/// instead of paying for the curve arithmetic, and counts as a miss all the same. So what
/// the cache answers, its contents and its counts never depend on whether, or when, the
/// work ahead was done; only the wall time does.
#[derive(Debug)]
pub struct SigCache {
    inner: Mutex<CacheInner>,
    /// Blocks that passed `chain::validation::check_block` ([`crate::chain::validation`]).
    pub(crate) blocks: Mutex<crate::chain::validation::CheckedMemo>,
    ahead: Mutex<Ahead>,
    keys: Mutex<KeyCache>,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Decompressed public keys (decompression is a square root: worth keeping per sender).
#[derive(Debug, Default)]
struct KeyCache {
    map: std::collections::HashMap<PublicKey, VerifyingKey>,
    order: VecDeque<PublicKey>,
}

const KEY_CACHE_CAPACITY: usize = 16_384;

/// Keys verified ahead of need and not yet asked for (first-in first-out, bounded: a key
/// never asked for, say a transaction that was never submitted, ages out).
#[derive(Debug)]
struct Ahead {
    set: HashSetById,
    order: VecDeque<Hash>,
    capacity: usize,
}

const AHEAD_CAPACITY: usize = 4_096;

#[derive(Debug)]
struct CacheInner {
    set: HashSetById,
    order: VecDeque<Hash>,
    capacity: usize,
}

impl SigCache {
    /// A cache holding at most `capacity` entries (0 disables it), keyed with a fixed key.
    pub fn new(capacity: usize) -> SigCache {
        SigCache::with_key(capacity, HashKey::default())
    }

    /// A cache holding at most `capacity` entries, its table keyed with `key`.
    pub fn with_key(capacity: usize, key: HashKey) -> SigCache {
        SigCache {
            inner: Mutex::new(CacheInner {
                set: HashSetById::with_hasher(key),
                order: VecDeque::new(),
                capacity,
            }),
            ahead: Mutex::new(Ahead {
                set: HashSetById::with_hasher(key),
                order: VecDeque::new(),
                capacity: AHEAD_CAPACITY,
            }),
            keys: Mutex::new(KeyCache::default()),
            blocks: Mutex::default(),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// Verifies with the cache: a key seen before as valid skips the ECDSA work.
    ///
    /// # Errors
    /// As [`verify_digest`]; failures are never cached.
    pub fn verify(
        &self,
        key: &Hash,
        pk: &PublicKey,
        digest: &[u8; 32],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        self.verify_with(key, pk, || *digest, sig)
    }

    /// As [`SigCache::verify`], computing the digest only on a miss.
    ///
    /// # Errors
    /// As [`verify_digest`]; failures are never cached.
    pub fn verify_with(
        &self,
        key: &Hash,
        pk: &PublicKey,
        digest: impl FnOnce() -> [u8; 32],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        if self.contains(key) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        if !self.take_ahead(key) {
            let vk = self.verifying_key(pk)?;
            verify_with_key(&vk, &digest(), sig)?;
        }
        self.insert(*key);
        Ok(())
    }

    /// Verifies now, for a later [`SigCache::verify_with`] on the same key: on success the
    /// key waits in the uncounted table (see the type's doc). Meant for work done on another
    /// thread ahead of need; the key must commit to `pk`, the digest and `sig`, as for
    /// [`SigCache::verify`].
    ///
    /// # Errors
    /// As [`verify_digest`]; nothing is kept then.
    pub fn preverify(
        &self,
        key: &Hash,
        pk: &PublicKey,
        digest: &[u8; 32],
        sig: &Signature,
    ) -> Result<(), CryptoError> {
        if self.contains(key) {
            return Ok(());
        }
        let vk = self.verifying_key(pk)?;
        verify_with_key(&vk, digest, sig)?;
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        if ahead.set.insert(*key) {
            ahead.order.push_back(*key);
            while ahead.order.len() > ahead.capacity {
                if let Some(old) = ahead.order.pop_front() {
                    ahead.set.remove(&old);
                }
            }
        }
        Ok(())
    }

    /// Whether `key` was verified ahead ([`SigCache::preverify`]); takes it out if so. Its
    /// place in the order stays until it ages out (removing a key the order holds again
    /// later only loses work done ahead, never changes an answer).
    fn take_ahead(&self, key: &Hash) -> bool {
        let mut ahead = self.ahead.lock().unwrap_or_else(|p| p.into_inner());
        !ahead.set.is_empty() && ahead.set.remove(key)
    }

    fn verifying_key(&self, pk: &PublicKey) -> Result<VerifyingKey, CryptoError> {
        let mut keys = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(vk) = keys.map.get(pk) {
            return Ok(*vk);
        }
        let vk = VerifyingKey::from_sec1_bytes(&pk.0).map_err(|_| CryptoError::InvalidPublicKey)?;
        keys.map.insert(*pk, vk);
        keys.order.push_back(*pk);
        while keys.order.len() > KEY_CACHE_CAPACITY {
            if let Some(old) = keys.order.pop_front() {
                keys.map.remove(&old);
            }
        }
        Ok(vk)
    }

    fn contains(&self, key: &Hash) -> bool {
        let inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        inner.capacity > 0 && inner.set.contains(key)
    }

    fn insert(&self, key: Hash) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.capacity == 0 || !inner.set.insert(key) {
            return;
        }
        inner.order.push_back(key);
        while inner.order.len() > inner.capacity {
            if let Some(old) = inner.order.pop_front() {
                inner.set.remove(&old);
            }
        }
    }

    /// (hits, misses) so far.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_round_trip() {
        let kp = KeyPair::from_seed(b"a");
        let d = Hash::sha256(b"m").0;
        let sig = kp.sign_digest(&d);
        assert_eq!(verify_digest(&kp.public, &d, &sig), Ok(()));
        let other = Hash::sha256(b"n").0;
        assert_eq!(
            verify_digest(&kp.public, &other, &sig),
            Err(CryptoError::BadSignature)
        );
    }

    #[test]
    fn high_s_twin_is_rejected() {
        let kp = KeyPair::from_seed(b"a");
        let d = Hash::sha256(b"m").0;
        let sig = kp.sign_digest(&d);
        let high = to_high_s(&sig).unwrap();
        assert_ne!(high, sig);
        assert_eq!(
            verify_digest(&kp.public, &d, &high),
            Err(CryptoError::HighS)
        );
    }

    #[test]
    fn invalid_key_and_signature_bytes_are_named() {
        let kp = KeyPair::from_seed(b"a");
        let d = Hash::sha256(b"m").0;
        let sig = kp.sign_digest(&d);
        assert_eq!(
            verify_digest(&PublicKey([7; 33]), &d, &sig),
            Err(CryptoError::InvalidPublicKey)
        );
        assert_eq!(
            verify_digest(&kp.public, &d, &Signature([0; 64])),
            Err(CryptoError::MalformedSignature)
        );
    }

    #[test]
    fn address_order_is_byte_order() {
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = || {
            let mut a = [0u8; 20];
            for b in &mut a {
                rng ^= rng << 13;
                rng ^= rng >> 7;
                rng ^= rng << 17;
                // Few distinct values, so that long common prefixes occur.
                *b = (rng % 3) as u8;
            }
            Address(a)
        };
        let addrs: Vec<Address> = (0..400).map(|_| next()).collect();
        for a in &addrs {
            for b in &addrs {
                assert_eq!(a.cmp(b), a.0.cmp(&b.0), "{a:?} {b:?}");
            }
        }
        let mut last = Address([0; 20]);
        last.0[19] = 1;
        assert!(Address([0; 20]) < last);
        assert!(last < Address([1; 20]));
    }

    #[test]
    fn verified_ahead_is_a_miss_without_the_work_and_never_a_forgery() {
        let cache = SigCache::new(8);
        let kp = KeyPair::from_seed(b"a");
        let d = Hash::sha256(b"m").0;
        let sig = kp.sign_digest(&d);
        let k = Hash::sha256(b"k");
        cache.preverify(&k, &kp.public, &d, &sig).unwrap();
        assert_eq!(cache.stats(), (0, 0), "work ahead is not counted");
        // The digest is not even computed: the work was done ahead.
        let computed = std::cell::Cell::new(false);
        let digest = || {
            computed.set(true);
            d
        };
        cache.verify_with(&k, &kp.public, digest, &sig).unwrap();
        assert!(!computed.get());
        assert_eq!(
            cache.stats(),
            (0, 1),
            "counted as the miss it would have been"
        );
        cache.verify(&k, &kp.public, &d, &sig).unwrap();
        assert_eq!(cache.stats(), (1, 1));
        // A bad signature verified ahead is refused and kept nowhere.
        let bad = Signature([1; 64]);
        let kb = Hash::sha256(b"kb");
        assert!(cache.preverify(&kb, &kp.public, &d, &bad).is_err());
        assert!(cache.verify(&kb, &kp.public, &d, &bad).is_err());
        // The table ahead stays bounded; the oldest key ages out (and is verified again).
        cache.ahead.lock().unwrap().capacity = 3;
        for i in 0..6u32 {
            let k = Hash::sha256(&i.to_le_bytes());
            cache.preverify(&k, &kp.public, &d, &sig).unwrap();
        }
        {
            let ahead = cache.ahead.lock().unwrap();
            assert!(ahead.set.len() <= 3 && ahead.order.len() <= 3);
        }
        let wrong = Hash::sha256(b"other").0;
        let k0 = Hash::sha256(&0u32.to_le_bytes());
        assert!(cache.verify(&k0, &kp.public, &wrong, &sig).is_err());
        let k5 = Hash::sha256(&5u32.to_le_bytes());
        assert!(cache.verify(&k5, &kp.public, &wrong, &sig).is_ok());
    }

    #[test]
    fn cache_hits_only_for_verified_keys_and_stays_bounded() {
        let cache = SigCache::new(2);
        let kp = KeyPair::from_seed(b"a");
        let d = Hash::sha256(b"m").0;
        let sig = kp.sign_digest(&d);
        let bad = Signature([1; 64]);
        let k1 = Hash::sha256(b"k1");
        assert!(cache.verify(&k1, &kp.public, &d, &bad).is_err());
        assert!(cache.verify(&k1, &kp.public, &d, &sig).is_ok());
        assert!(cache.verify(&k1, &kp.public, &d, &sig).is_ok());
        assert_eq!(cache.stats(), (1, 2));
        for i in 0..5u8 {
            let k = Hash::sha256(&[i]);
            cache.verify(&k, &kp.public, &d, &sig).unwrap();
        }
        assert!(cache.inner.lock().unwrap().set.len() <= 2);
    }
}
