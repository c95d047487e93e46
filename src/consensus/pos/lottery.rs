//! Who leads a slot.
//!
//! - `leader = "lottery"` (Ouroboros Praos): validator i with relative stake α leads slot s when
//!   the lottery value of its VRF evaluation at (chain id, η of s's epoch, s), read as a
//!   fraction of 2^128, is below φ(α) = 1 − (1 − f)^α. Independent per validator: a slot can
//!   be empty or have several leaders.
//! - `leader = "single"` (Ethereum-style): exactly one leader per slot, sampled by stake from
//!   H("chainlab/single" ‖ η ‖ s).
//!
//! The derivations of the shares these give are in `docs/pos.md`.

use crate::encoding;
use crate::hash::Hash;

/// φ(α) = 1 − (1 − f)^α: the probability that a validator with relative stake `alpha` leads a
/// slot, for active slot coefficient `f`. Computed as −expm1(α·ln(1 − f)), accurate for the
/// tiny α of large validator sets. 0 for α ≤ 0.
pub fn phi(f: f64, alpha: f64) -> f64 {
    if alpha <= 0.0 || f <= 0.0 {
        return 0.0;
    }
    if f >= 1.0 {
        return 1.0;
    }
    -(alpha * (-f).ln_1p()).exp_m1()
}

/// The lottery threshold of a validator with `stake` in a table of `total`: φ(stake/total)
/// scaled to 2^128. A lottery value below it leads; 0 (never leads) for zero stake.
pub fn threshold(f: f64, stake: u64, total: u64) -> u128 {
    if stake == 0 || total == 0 {
        return 0;
    }
    let p = phi(f, stake as f64 / total as f64);
    // `as` saturates: p = 1 gives u128::MAX.
    (p * 2f64.powi(128)) as u128
}

/// True when a lottery `value` (uniform on [0, 2^128)) wins under `threshold`.
pub fn leads(value: u128, threshold: u128) -> bool {
    value < threshold
}

/// The VRF input of `slot`: the canonical encoding of (chain id, η of the slot's epoch, slot),
/// evaluated under the signing context [`super::vrf::SLOT_CONTEXT`].
pub fn vrf_input(chain_id: u32, eta: &Hash, slot: u64) -> Vec<u8> {
    encoding::encode(&(chain_id, eta, slot))
}

/// The single leader of `slot` under nonce `eta`, sampled by stake: the draw
/// r = H("chainlab/single" ‖ η ‖ slot), 128 bits, is mapped to ⌊r·T / 2^128⌋ in [0, T) for
/// the table's total T (no modulo bias), and the leader is the validator whose cumulative
/// stake interval holds it. `None` when the table's total is 0.
pub fn single_leader(eta: &Hash, slot: u64, stakes: &[u64]) -> Option<u32> {
    let total: u128 = stakes.iter().map(|&s| u128::from(s)).sum();
    let total = u64::try_from(total).ok().filter(|&t| t > 0)?;
    let h = Hash::sha256_parts(&[b"chainlab/single", &eta.0, &slot.to_le_bytes()]);
    let mut r = [0u8; 16];
    r.copy_from_slice(&h.0[..16]);
    let target = scale(u128::from_le_bytes(r), total);
    let mut acc = 0u64;
    for (i, &s) in stakes.iter().enumerate() {
        acc += s;
        if target < acc {
            return u32::try_from(i).ok();
        }
    }
    None
}

/// ⌊r·t / 2^128⌋ without overflow: r = hi·2^64 + lo, so r·t / 2^128 = (hi·t + lo·t / 2^64) / 2^64.
fn scale(r: u128, t: u64) -> u64 {
    let hi = r >> 64;
    let lo = r & u128::from(u64::MAX);
    let t = u128::from(t);
    // hi·t ≤ (2^64 − 1)², and (lo·t) >> 64 < 2^64: the sum fits in 128 bits.
    let sum = hi * t + ((lo * t) >> 64);
    (sum >> 64) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phi_of_all_stake_is_f_and_of_none_is_zero() {
        for f in [0.01, 0.05, 0.5, 0.9] {
            assert!((phi(f, 1.0) - f).abs() < 1e-15, "{f}");
            assert_eq!(phi(f, 0.0), 0.0);
        }
    }

    #[test]
    fn phi_is_independent_aggregation() {
        // Splitting stake between validators does not change the chance that at least one of
        // them leads: 1 − φ(a + b) = (1 − φ(a))(1 − φ(b)).
        let f = 0.05;
        for (a, b) in [(0.1, 0.2), (0.001, 0.5), (0.3, 0.7), (1e-6, 1e-3)] {
            let lhs = 1.0 - phi(f, a + b);
            let rhs = (1.0 - phi(f, a)) * (1.0 - phi(f, b));
            assert!((lhs - rhs).abs() < 1e-14, "{a} {b}: {lhs} {rhs}");
        }
        // Concave: a validator with twice the stake leads less than twice as often.
        assert!(phi(f, 0.2) < 2.0 * phi(f, 0.1));
    }

    #[test]
    fn thresholds_scale_to_128_bits() {
        assert_eq!(threshold(0.05, 0, 10), 0);
        assert_eq!(threshold(0.05, 1, 0), 0);
        let t = threshold(0.5, 10, 10) as f64 / 2f64.powi(128);
        assert!((t - 0.5).abs() < 1e-12);
        assert!(leads(0, 1));
        assert!(!leads(1, 1));
    }

    #[test]
    fn scale_maps_the_full_range_onto_the_total() {
        assert_eq!(scale(0, 7), 0);
        assert_eq!(scale(u128::MAX, 7), 6);
        assert_eq!(scale(1u128 << 127, 10), 5);
        assert_eq!(scale(u128::MAX, u64::MAX), u64::MAX - 1);
    }

    #[test]
    fn single_leaders_are_sampled_in_proportion_to_stake() {
        let stakes = [100u64, 300, 0, 600];
        let eta = Hash::sha256(b"eta");
        let n = 40_000u64;
        let mut counts = [0u64; 4];
        for s in 0..n {
            let i = single_leader(&eta, s, &stakes).expect("a leader");
            counts[i as usize] += 1;
        }
        assert_eq!(counts[2], 0, "zero stake never leads");
        for (i, &w) in stakes.iter().enumerate() {
            let p = w as f64 / 1000.0;
            let sd = (n as f64 * p * (1.0 - p)).sqrt();
            let expected = n as f64 * p;
            assert!(
                (counts[i] as f64 - expected).abs() <= 4.0 * sd,
                "validator {i}: {} vs {expected}",
                counts[i]
            );
        }
        assert_eq!(single_leader(&eta, 1, &[0, 0]), None);
        assert_eq!(single_leader(&eta, 1, &[]), None);
    }
}
