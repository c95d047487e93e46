//! 32-byte hashes: SHA-256 for ids and roots, double SHA-256 for block hashes.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};

/// A 32-byte hash (block hash, transaction id, Merkle or state root).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize)]
pub struct Hash(pub [u8; 32]);

impl std::hash::Hash for Hash {
    /// Feeds the first 8 bytes only: they are already uniformly distributed.
    fn hash<H: Hasher>(&self, state: &mut H) {
        let mut w = [0u8; 8];
        w.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(w));
    }
}

/// A hasher for keys that are already hashes: it passes their first 8 bytes through.
/// (Finding many ids that share 64 bits costs an attacker ~2^32 SHA-256 work per id.)
#[derive(Default, Clone, Copy, Debug)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(23) ^ u64::from_le_bytes(w);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = self.0.rotate_left(23) ^ v;
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// A set of hashes with the pass-through hasher (never iterate it where order matters).
pub type HashSetById = HashSet<Hash, BuildHasherDefault<IdHasher>>;
/// A map keyed by hashes with the pass-through hasher (never iterate it where order matters).
pub type HashMapById<V> = HashMap<Hash, V, BuildHasherDefault<IdHasher>>;

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

    #[test]
    fn hex_round_trip_and_errors() {
        let h = Hash::sha256(b"x");
        assert_eq!(Hash::from_hex(&h.to_hex()).unwrap(), h);
        assert!(Hash::from_hex("zz").is_err());
        assert!(Hash::from_hex("00").is_err());
    }
}
