//! Proof-of-work rules: the target test, work, difficulty retargeting and nonce grinding.

use crate::block::{BlockHeader, Seal};
use crate::hash::Hash;

/// The retarget clamp: difficulty changes by at most this factor per retarget (as Bitcoin).
pub const RETARGET_CLAMP: u64 = 4;

/// True when `hash` meets `difficulty`: its top 128 bits (big-endian) are at most
/// `u128::MAX / difficulty`. A random hash succeeds with probability `1 / difficulty`.
pub fn meets_difficulty(hash: &Hash, difficulty: u64) -> bool {
    if difficulty == 0 {
        return false;
    }
    let mut top = [0u8; 16];
    top.copy_from_slice(&hash.0[..16]);
    u128::from_be_bytes(top) <= u128::MAX / u128::from(difficulty)
}

/// Work a block contributes to its chain: its difficulty (expected hashes).
pub fn work(difficulty: u64) -> u128 {
    u128::from(difficulty)
}

/// Difficulty after a retarget window.
///
/// `intervals` blocks were expected to take `intervals * block_interval_ms`; they took
/// `actual_ms`. The new difficulty scales the old one by expected / actual, with the ratio
/// clamped to [1/4, 4] and the result at least 1.
pub fn retarget(old: u64, intervals: u64, block_interval_ms: u64, actual_ms: u64) -> u64 {
    if intervals == 0 {
        return old;
    }
    let expected = u128::from(intervals) * u128::from(block_interval_ms.max(1));
    let clamp = u128::from(RETARGET_CLAMP);
    let actual = u128::from(actual_ms)
        .clamp(expected / clamp, expected * clamp)
        .max(1);
    let new = u128::from(old) * expected / actual;
    u64::try_from(new).unwrap_or(u64::MAX).max(1)
}

/// Searches nonces from `start` for at most `max_tries` hashes. On success the header holds the
/// winning nonce and its hash is returned.
///
/// The header is encoded once: the nonce is the last 8 bytes of the canonical encoding, so each
/// try only rewrites them and hashes.
pub fn grind(header: &mut BlockHeader, start: u64, max_tries: u64) -> Option<Hash> {
    let Seal::Pow { difficulty, .. } = header.seal;
    header.seal = Seal::Pow {
        difficulty,
        nonce: start,
    };
    let mut bytes = crate::encoding::encode(header);
    let at = bytes.len() - 8;
    for i in 0..max_tries {
        let nonce = start.wrapping_add(i);
        bytes[at..].copy_from_slice(&nonce.to_le_bytes());
        let h = Hash::double_sha256(&bytes);
        if meets_difficulty(&h, difficulty) {
            header.seal = Seal::Pow { difficulty, nonce };
            debug_assert_eq!(header.hash(), h);
            return Some(h);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Address;

    #[test]
    fn difficulty_one_accepts_everything_and_max_almost_nothing() {
        assert!(meets_difficulty(&Hash([0xff; 32]), 1));
        assert!(!meets_difficulty(&Hash([0xff; 32]), 2));
        assert!(meets_difficulty(&Hash([0; 32]), u64::MAX));
        assert!(!meets_difficulty(&Hash([0; 32]), 0));
    }

    #[test]
    fn retarget_moves_toward_interval_and_clamps() {
        assert_eq!(retarget(1000, 10, 1000, 10_000), 1000);
        assert_eq!(retarget(1000, 10, 1000, 5_000), 2000);
        assert_eq!(retarget(1000, 10, 1000, 20_000), 500);
        assert_eq!(retarget(1000, 10, 1000, 1), 4000);
        assert_eq!(retarget(1000, 10, 1000, 10_000_000), 250);
        assert_eq!(retarget(1, 10, 1000, 10_000_000), 1);
    }

    #[test]
    fn grind_finds_a_valid_nonce_at_the_expected_rate() {
        let mut total = 0u64;
        let trials = 200;
        for t in 0..trials {
            let mut h = BlockHeader {
                version: 1,
                parent: Hash::sha256(&(t as u64).to_le_bytes()),
                height: 1,
                tx_root: Hash::ZERO,
                state_root: Hash::ZERO,
                timestamp_ms: 0,
                miner: Address::default(),
                seal: Seal::Pow {
                    difficulty: 64,
                    nonce: 0,
                },
            };
            let hash = grind(&mut h, 0, 1_000_000).expect("found");
            assert_eq!(hash, h.hash());
            assert!(meets_difficulty(&hash, 64));
            let Seal::Pow { nonce, .. } = h.seal;
            total += nonce + 1;
        }
        // Geometric with mean 64: the mean of 200 draws has sd ~ 64/sqrt(200) ~ 4.5.
        let mean = total as f64 / trials as f64;
        assert!((40.0..90.0).contains(&mean), "mean tries {mean}");
    }
}
