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
