//! Closed forms the adversaries' measurements are checked against (derived in
//! docs/experiments.md).

/// The selfish pool's share of the main chain's blocks in the long run, R(α, γ), for a pool
/// with share `alpha` of the hash power that follows the Eyal–Sirer strategy while the honest
/// miners mine on the first block they see, `gamma` being the share of honest hash power that
/// mines on the pool's block in a tie (Eyal and Sirer, "Majority is not enough", 2014, eq. 8):
///
/// R = [α(1−α)²(4α + γ(1−2α)) − α³] / [1 − α(1 + (2−α)α)].
///
/// Valid for 0 ≤ α < 1/2 (at α ≥ 1/2 the pool eventually holds every block).
pub fn selfish_revenue(alpha: f64, gamma: f64) -> f64 {
    let a = alpha;
    let b = 1.0 - a;
    let num = a * b * b * (4.0 * a + gamma * (1.0 - 2.0 * a)) - a * a * a;
    let den = 1.0 - a * (1.0 + (2.0 - a) * a);
    num / den
}

/// The hash share above which selfish mining pays more than honest mining (R(α, γ) > α):
/// α > (1 − γ) / (3 − 2γ) (Eyal and Sirer, eq. 9).
pub fn selfish_threshold(gamma: f64) -> f64 {
    (1.0 - gamma) / (3.0 - 2.0 * gamma)
}

/// The probability that a double-spend succeeds against a merchant who waits for `z`
/// confirmations (z ≥ 1), by an attacker with share `q` of the hash power who starts a private
/// branch when it pays, publishes once the merchant has seen `z` confirmations and its branch
/// is strictly longer (equal length does not win under first-seen), and gives up when the
/// honest branch leads by `give_up` blocks (`None`: never). Exact under the usual model (each
/// new block is the attacker's with probability q; no propagation delay); derived in
/// docs/experiments.md:
///
/// P = Σ_k C(k+z−1, k) p^z q^k · S(z − k + 1), p = 1 − q,
///
/// where k is the attacker's blocks when the honest branch reaches z, S(x) = 1 for x ≤ 0 and
/// otherwise the chance of gaining x blocks before falling `give_up` behind (gambler's ruin:
/// ((q/p)^x − (q/p)^N) / (1 − (q/p)^N) with N = give_up + 1; (q/p)^x without a limit).
pub fn double_spend_success(q: f64, z: u32, give_up: Option<u32>) -> f64 {
    let p = 1.0 - q;
    if q <= 0.0 || z == 0 {
        return if z == 0 { 1.0 } else { 0.0 };
    }
    let ratio = q / p;
    if give_up.is_none() && ratio >= 1.0 {
        return 1.0;
    }
    let catch_up = |x: i64| -> f64 {
        if x <= 0 {
            return 1.0;
        }
        match give_up {
            Some(g) => {
                let n = i64::from(g) + 1;
                if x >= n {
                    0.0
                } else if (ratio - 1.0).abs() < 1e-12 {
                    1.0 - x as f64 / n as f64
                } else {
                    (ratio.powi(x as i32) - ratio.powi(n as i32)) / (1.0 - ratio.powi(n as i32))
                }
            }
            None if ratio >= 1.0 => 1.0,
            None => ratio.powi(x as i32),
        }
    };
    // P(k attacker blocks when the honest branch reaches z) = C(k+z−1, k) p^z q^k, summed
    // until the tail is negligible.
    let mut total = 0.0;
    let mut pk = p.powi(z as i32); // k = 0
    let mut k: u32 = 0;
    let mut mass = 0.0;
    while mass < 1.0 - 1e-15 && k < 100_000 {
        total += pk * catch_up(i64::from(z) - i64::from(k) + 1);
        mass += pk;
        // C(k+z, k+1) / C(k+z−1, k) = (k+z)/(k+1)
        pk *= q * f64::from(k + z) / f64::from(k + 1);
        k += 1;
    }
    total
}

/// Nakamoto's estimate of the same probability (the Bitcoin paper, section 11): the attacker's
/// progress while the merchant waits is taken as Poisson with mean z·q/p, and catching up
/// means reaching equal length: 1 − Σ_{k≤z} e^{−λ} λ^k / k! · (1 − (q/p)^{z−k}).
pub fn nakamoto_double_spend(q: f64, z: u32) -> f64 {
    let p = 1.0 - q;
    if q >= p {
        return 1.0;
    }
    let lambda = f64::from(z) * q / p;
    let mut sum = 1.0;
    let mut poisson = (-lambda).exp();
    for k in 0..=z {
        if k > 0 {
            poisson *= lambda / f64::from(k);
        }
        sum -= poisson * (1.0 - (q / p).powi((z - k) as i32));
    }
    sum
}

/// Rosenfeld's probability that the attacker catches up ("Analysis of hashrate-based
/// double-spending", 2014): exact over the attacker's blocks while the merchant waits
/// (negative binomial, as in [`double_spend_success`]), but with success at *equal* length,
/// as in Nakamoto's estimate, and no give-up limit:
/// 1 − Σ_{m=0}^{z} C(m+z−1, m) (p^z q^m − q^z p^m) for q < p, and 1 for q ≥ p.
pub fn rosenfeld_double_spend(q: f64, z: u32) -> f64 {
    let p = 1.0 - q;
    if q >= p {
        return 1.0;
    }
    if z == 0 {
        return 1.0;
    }
    let mut sum = 0.0;
    let mut binom = 1.0; // C(m+z−1, m), m = 0
    for m in 0..=z {
        if m > 0 {
            binom *= f64::from(m + z - 1) / f64::from(m);
        }
        let (m, zi) = (m as i32, z as i32);
        sum += binom * (p.powi(zi) * q.powi(m) - q.powi(zi) * p.powi(m));
    }
    1.0 - sum
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revenue_crosses_alpha_at_the_threshold() {
        for gamma in [0.0, 0.25, 0.5, 0.75, 1.0] {
            let t = selfish_threshold(gamma);
            let r = selfish_revenue(t, gamma);
            assert!((r - t).abs() < 1e-12, "γ = {gamma}: R({t}) = {r}");
            if t > 0.01 {
                assert!(selfish_revenue(t - 0.01, gamma) < t - 0.01);
            }
            assert!(selfish_revenue(t + 0.01, gamma) > t + 0.01);
        }
        // The paper's figures: 1/3 for γ = 0, 1/4 for γ = 1/2, 0 for γ = 1.
        assert!((selfish_threshold(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert!((selfish_threshold(0.5) - 0.25).abs() < 1e-12);
        assert_eq!(selfish_threshold(1.0), 0.0);
    }

    #[test]
    fn double_spend_odds_match_worked_values() {
        // z = 1, q = 0.1, no limit: k = 0 needs 2 blocks ((1/9)^2), k = 1 needs 1 (1/9),
        // k >= 2 has won: 0.9 / 81 + 0.09 / 9 + 0.01 = 0.031111...
        let p = double_spend_success(0.1, 1, None);
        assert!((p - 0.031_111_111).abs() < 1e-9, "{p}");
        // A limit only lowers the odds; a large one changes almost nothing at small q.
        for (q, z) in [(0.1, 6), (0.3, 2), (0.3, 6), (0.45, 6)] {
            let free = double_spend_success(q, z, None);
            let limited = double_spend_success(q, z, Some(20));
            assert!(limited <= free + 1e-15 && limited > 0.0, "{q} {z}");
            assert!(
                free < nakamoto_double_spend(q, z),
                "strictly longer needs more than equal"
            );
        }
        assert!(
            (double_spend_success(0.1, 6, Some(20)) - double_spend_success(0.1, 6, None)).abs()
                < 1e-12
        );
        // Nakamoto's table (section 11): q = 0.1, z = 5 gives 0.0009137.
        assert!((nakamoto_double_spend(0.1, 5) - 0.000_913_7).abs() < 1e-7);
        // At q >= 1/2 without a limit the attacker always catches up.
        assert_eq!(double_spend_success(0.5, 3, None), 1.0);
        assert!(double_spend_success(0.5, 3, Some(20)) < 1.0);
    }

    #[test]
    fn rosenfeld_is_the_negative_binomial_with_equal_length_winning() {
        // The closed form against the sum it abbreviates: k attacker blocks when the honest
        // branch reaches z, then catching up from z − k behind ((q/p)^(z−k), 1 when ahead).
        for (q, z) in [(0.1f64, 1u32), (0.1, 6), (0.3, 2), (0.25, 3), (0.45, 10)] {
            let p = 1.0 - q;
            let (mut pk, mut sum) = (p.powi(z as i32), 0.0);
            for k in 0..2_000u32 {
                let behind = i64::from(z) - i64::from(k);
                sum += pk
                    * if behind > 0 {
                        (q / p).powi(behind as i32)
                    } else {
                        1.0
                    };
                pk *= q * f64::from(k + z) / f64::from(k + 1);
            }
            let r = rosenfeld_double_spend(q, z);
            assert!((r - sum).abs() < 1e-12, "q = {q}, z = {z}: {r} vs {sum}");
            // Between the strict exact value and (for these) Nakamoto's Poisson estimate.
            assert!(r > double_spend_success(q, z, None));
        }
        // Rosenfeld's table: q = 0.1, z = 6 gives 0.0005914 (Nakamoto: 0.0002428).
        assert!((rosenfeld_double_spend(0.1, 6) - 0.000_591_4).abs() < 1e-7);
        assert_eq!(rosenfeld_double_spend(0.5, 3), 1.0);
    }

    #[test]
    fn revenue_is_zero_without_hash_power_and_grows_with_it() {
        assert_eq!(selfish_revenue(0.0, 0.5), 0.0);
        let mut last = 0.0;
        for i in 1..50 {
            let r = selfish_revenue(f64::from(i) / 100.0, 0.5);
            assert!(r > last);
            last = r;
        }
        // Values of the closed form worked by hand: R(1/4, 0) = (9/64 - 1/64) / (41/64) = 8/41.
        assert!((selfish_revenue(0.25, 0.0) - 8.0 / 41.0).abs() < 1e-12);
        assert!((selfish_revenue(0.4, 0.0) - 0.4837).abs() < 1e-4);
    }
}
