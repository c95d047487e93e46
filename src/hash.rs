//! 32-byte hashes: SHA-256 for ids and roots, double SHA-256 for block hashes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, Hasher};

/// A 32-byte hash (block hash, transaction id, Merkle or state root).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl std::hash::Hash for Hash {
    /// Feeds all 32 bytes: ids in peer messages are arbitrary attacker bytes, so no part of
    /// them may be trusted to be uniform. Maps keyed by them use a keyed hasher ([`HashKey`]).
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0);
    }
}

/// The key of the hash tables keyed by ids: SipHash-1-3 (Rust's default hasher) under a
/// 128-bit key, so an attacker who cannot learn the key cannot choose ids that collide in a
/// table (hash flooding). A node's key derives from the cluster seed and its id
/// ([`HashKey::derive`]), so runs stay reproducible; the key is therefore only as secret as
/// the config's seed (`docs/design.md`, "Hash flooding").
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HashKey {
    k0: u64,
    k1: u64,
}

impl HashKey {
    /// The key for `label` (what the tables are for) of node `index` under `seed`.
    pub fn derive(seed: u64, label: &str, index: u64) -> HashKey {
        let h = Hash::sha256_parts(&[
            b"chainlab/hash-key/v1",
            &seed.to_le_bytes(),
            label.as_bytes(),
            &index.to_le_bytes(),
        ]);
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&h.0[i * 8..i * 8 + 8]);
            u64::from_le_bytes(w)
        };
        HashKey {
            k0: word(0),
            k1: word(1),
        }
    }
}

impl Default for HashKey {
    /// A fixed key, for tools and tests; a node's tables take [`HashKey::derive`]d keys.
    fn default() -> HashKey {
        HashKey::derive(0, "default", 0)
    }
}

impl fmt::Debug for HashKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HashKey(..)")
    }
}

impl BuildHasher for HashKey {
    type Hasher = SipHasher<1, 3>;
    fn build_hasher(&self) -> SipHasher<1, 3> {
        SipHasher::new(self.k0, self.k1)
    }
}

/// SipHash-c-d (Aumasson and Bernstein), streaming: `SipHasher<1, 3>` is SipHash-1-3, the
/// hasher of Rust's `HashMap`; `SipHasher<2, 4>` the reference variant (tested against its
/// published vectors).
#[derive(Clone, Debug)]
pub struct SipHasher<const C: usize, const D: usize> {
    v: [u64; 4],
    tail: u64,
    ntail: usize,
    length: usize,
}

impl<const C: usize, const D: usize> SipHasher<C, D> {
    /// A hasher under the key (k0, k1).
    pub fn new(k0: u64, k1: u64) -> Self {
        SipHasher {
            v: [
                k0 ^ 0x736f_6d65_7073_6575,
                k1 ^ 0x646f_7261_6e64_6f6d,
                k0 ^ 0x6c79_6765_6e65_7261,
                k1 ^ 0x7465_6462_7974_6573,
            ],
            tail: 0,
            ntail: 0,
            length: 0,
        }
    }

    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }

    fn compress(&mut self, m: u64) {
        self.v[3] ^= m;
        for _ in 0..C {
            Self::round(&mut self.v);
        }
        self.v[0] ^= m;
    }
}

impl<const C: usize, const D: usize> Hasher for SipHasher<C, D> {
    fn write(&mut self, bytes: &[u8]) {
        self.length = self.length.wrapping_add(bytes.len());
        let mut rest = bytes;
        if self.ntail > 0 {
            let take = (8 - self.ntail).min(rest.len());
            for (i, b) in rest[..take].iter().enumerate() {
                self.tail |= u64::from(*b) << (8 * (self.ntail + i));
            }
            self.ntail += take;
            rest = &rest[take..];
            if self.ntail < 8 {
                return;
            }
            let m = self.tail;
            self.compress(m);
            self.tail = 0;
            self.ntail = 0;
        }
        let mut chunks = rest.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.compress(u64::from_le_bytes(w));
        }
        for (i, b) in chunks.remainder().iter().enumerate() {
            self.tail |= u64::from(*b) << (8 * i);
        }
        self.ntail = chunks.remainder().len();
    }

    fn finish(&self) -> u64 {
        let mut s = self.clone();
        let b = ((self.length as u64 & 0xff) << 56) | self.tail;
        s.compress(b);
        s.v[2] ^= 0xff;
        for _ in 0..D {
            Self::round(&mut s.v);
        }
        s.v[0] ^ s.v[1] ^ s.v[2] ^ s.v[3]
    }
}

/// A set of ids under a keyed hasher (never iterate it where order matters).
pub type HashSetById = HashSet<Hash, HashKey>;
/// A map keyed by ids under a keyed hasher (never iterate it where order matters).
pub type HashMapById<V> = HashMap<Hash, V, HashKey>;

/// Moves `map`'s entries under `key`.
pub fn rekey_map<V>(map: &mut HashMapById<V>, key: HashKey) {
    let old = std::mem::replace(map, HashMapById::with_capacity_and_hasher(map.len(), key));
    map.extend(old);
}

/// Moves `set`'s ids under `key`.
pub fn rekey_set(set: &mut HashSetById, key: HashKey) {
    let old = std::mem::replace(set, HashSetById::with_capacity_and_hasher(set.len(), key));
    set.extend(old);
}

/// A transaction id: SHA-256 of the transaction's canonical encoding.
pub type TxId = Hash;

impl Hash {
    /// The all-zero hash (parent of genesis, root of an empty tree).
    pub const ZERO: Hash = Hash([0; 32]);

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Hash {
        Hash(Sha256::digest(data).into())
    }

    /// SHA-256 of the concatenation of `parts`.
    pub fn sha256_parts(parts: &[&[u8]]) -> Hash {
        let mut h = Sha256::new();
        for p in parts {
            h.update(p);
        }
        Hash(h.finalize().into())
    }

    /// Double SHA-256 of `data` (Bitcoin's block hash function).
    pub fn double_sha256(data: &[u8]) -> Hash {
        let first: [u8; 32] = Sha256::digest(data).into();
        Hash(Sha256::digest(first).into())
    }

    /// Full lower-case hex.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 8 hex digits, for logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..4])
    }

    /// Parses 64 hex digits.
    ///
    /// # Errors
    /// Returns an error string when `s` is not 64 hex digits.
    pub fn from_hex(s: &str) -> Result<Hash, String> {
        let v = hex::decode(s).map_err(|e| format!("bad hex hash {s:?}: {e}"))?;
        let arr: [u8; 32] = v
            .try_into()
            .map_err(|_| format!("hash {s:?} is not 32 bytes"))?;
        Ok(Hash(arr))
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash({})", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn double_sha_of_empty_matches_known_vector() {
        assert_eq!(
            Hash::double_sha256(b"").to_hex(),
            "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456"
        );
    }

    fn sip24(key: &[u8; 16], msg: &[u8]) -> u64 {
        let mut k = [0u8; 8];
        k.copy_from_slice(&key[..8]);
        let k0 = u64::from_le_bytes(k);
        k.copy_from_slice(&key[8..]);
        let mut h = SipHasher::<2, 4>::new(k0, u64::from_le_bytes(k));
        h.write(msg);
        h.finish()
    }

    #[test]
    fn siphash_2_4_matches_the_reference_vectors() {
        let key: [u8; 16] = std::array::from_fn(|i| i as u8);
        // vectors.h of the reference implementation: the empty message, and the paper's
        // 15-byte example (appendix A).
        assert_eq!(sip24(&key, b""), 0x726f_db47_dd0e_0e31);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(sip24(&key, &msg), 0xa129_ca61_49be_45e5);
    }

    #[test]
    #[allow(deprecated)]
    fn siphash_streams_like_one_write_and_matches_std() {
        let data: Vec<u8> = (0..100u8).map(|i| i.wrapping_mul(37)).collect();
        for len in 0..data.len() {
            for split in [0, 1, 3, 7, 8, 9].into_iter().filter(|s| *s <= len) {
                let mut a = SipHasher::<2, 4>::new(5, 9);
                a.write(&data[..split]);
                a.write(&data[split..len]);
                let mut std_h = std::hash::SipHasher::new_with_keys(5, 9);
                std_h.write(&data[..len]);
                assert_eq!(a.finish(), std_h.finish(), "len {len} split {split}");
            }
        }
    }

    #[test]
    fn ids_sharing_their_first_bytes_spread_over_buckets_under_a_key() {
        // The flood: ids equal in their first 8 (or 24) bytes. Under the old pass-through
        // hasher they all had one hash; keyed, they spread like random ids: every one of
        // 4,096 ids gets its own 64-bit hash, and their low 8 bits fill 256 buckets evenly.
        let key = HashKey::derive(42, "test", 0);
        for shared in [8, 24] {
            let ids: Vec<Hash> = (0..4096u32)
                .map(|i| {
                    let mut h = [0xabu8; 32];
                    h[shared..shared + 4].copy_from_slice(&i.to_le_bytes());
                    Hash(h)
                })
                .collect();
            let hashes: std::collections::BTreeSet<u64> =
                ids.iter().map(|h| key.hash_one(h)).collect();
            assert_eq!(hashes.len(), ids.len());
            let mut buckets = [0u32; 256];
            for h in &hashes {
                buckets[(h & 0xff) as usize] += 1;
            }
            // 16 expected per bucket; binomial sd 4: 40 is 6 sd out.
            let worst = buckets.iter().max().unwrap();
            assert!(*worst <= 40, "a bucket holds {worst} of 4096 ids");
            // Chi-square over 255 degrees of freedom: mean 255, sd 22.6; 380 is 5.5 sd out.
            let chi: f64 = buckets
                .iter()
                .map(|b| (f64::from(*b) - 16.0).powi(2) / 16.0)
                .sum();
            assert!(chi < 380.0, "chi-square {chi}");
        }
        // Another node's key puts the same ids elsewhere.
        let other = HashKey::derive(42, "test", 1);
        let id = Hash([7; 32]);
        assert_ne!(key.hash_one(id), other.hash_one(id));
        assert_eq!(
            key.hash_one(id),
            HashKey::derive(42, "test", 0).hash_one(id)
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::sha256(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("zz").is_err());
        assert!(Hash::from_hex("00").is_err());
    }
}
