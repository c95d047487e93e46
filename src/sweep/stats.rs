//! The statistics of one point's trials: mean, sample standard deviation and the 95%
//! confidence interval of the mean by Student's t, and the fixed number format of a sweep's
//! tables.

use statrs::distribution::{ContinuousCDF, StudentsT};

/// The `p` quantile of Student's t distribution with `df` degrees of freedom (`None` for no
/// degree of freedom or `p` outside (0, 1)).
pub fn t_quantile(p: f64, df: usize) -> Option<f64> {
    if df == 0 || !(p > 0.0 && p < 1.0) {
        return None;
    }
    StudentsT::new(0.0, 1.0, df as f64)
        .ok()
        .map(|t| t.inverse_cdf(p))
}

/// Mean, spread and interval of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Mean (`None` for no value).
    pub mean: Option<f64>,
    /// Sample standard deviation, divisor `n - 1` (`None` below two values).
    pub sd: Option<f64>,
    /// 95% confidence interval of the mean, `mean ± t(0.975, n-1) · sd / √n` (`None` below two
    /// values).
    pub ci95: Option<(f64, f64)>,
}

impl Summary {
    /// The summary of `xs`, summed in their order (so the same values give the same bits).
    pub fn of(xs: &[f64]) -> Summary {
        let n = xs.len();
        if n == 0 {
            return Summary {
                n,
                mean: None,
                sd: None,
                ci95: None,
            };
        }
        let mean = xs.iter().sum::<f64>() / n as f64;
        let (sd, ci95) = if n < 2 {
            (None, None)
        } else {
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let sd = var.sqrt();
            let half = t_quantile(0.975, n - 1).map(|t| t * sd / (n as f64).sqrt());
            (Some(sd), half.map(|h| (mean - h, mean + h)))
        };
        Summary {
            n,
            mean: Some(mean),
            sd,
            ci95,
        }
    }
}

/// `x` rounded to 10 significant digits (and `-0` to `0`): what the tables print, so that
/// `0.1 + 0.2` reads `0.3`.
pub fn round_sig(x: f64) -> f64 {
    if !x.is_finite() || x == 0.0 {
        return if x == 0.0 { 0.0 } else { x };
    }
    format!("{x:.9e}").parse::<f64>().unwrap_or(x)
}

/// `x` as the tables print it: [`round_sig`], then the shortest decimal that reads back
/// (no exponent; an integer without `.0`).
pub fn fmt_num(x: f64) -> String {
    format!("{}", round_sig(x))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        for (df, want) in [
            (1, 12.706),
            (2, 4.303),
            (4, 2.776),
            (9, 2.262),
            (19, 2.093),
            (29, 2.045),
        ] {
            let t = t_quantile(0.975, df).unwrap();
            assert!(close(t, want, 5e-4), "df {df}: {t}");
        }
        // Many degrees of freedom: the normal quantile.
        assert!(close(t_quantile(0.975, 100_000).unwrap(), 1.95996, 1e-4));
        assert_eq!(t_quantile(0.975, 0), None);
        assert_eq!(t_quantile(1.0, 3), None);
    }

    #[test]
    fn mean_sd_and_interval_of_a_known_sample() {
        // Mean 5, squared deviations sum to 32: sd = sqrt(32 / 7); t(0.975, 7) = 2.364624.
        let s = Summary::of(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert_eq!(s.n, 8);
        assert_eq!(s.mean, Some(5.0));
        let sd = (32.0f64 / 7.0).sqrt();
        assert!(close(s.sd.unwrap(), sd, 1e-12));
        let half = 2.364624 * sd / 8f64.sqrt();
        let (lo, hi) = s.ci95.unwrap();
        assert!(
            close(lo, 5.0 - half, 1e-5) && close(hi, 5.0 + half, 1e-5),
            "{lo} {hi}"
        );
        assert!(close(half, 1.78749, 1e-4), "{half}");
    }

    #[test]
    fn small_samples_have_no_interval() {
        let one = Summary::of(&[3.5]);
        assert_eq!(
            (one.n, one.mean, one.sd, one.ci95),
            (1, Some(3.5), None, None)
        );
        let none = Summary::of(&[]);
        assert_eq!(
            (none.n, none.mean, none.sd, none.ci95),
            (0, None, None, None)
        );
        // Two equal values: no spread, an interval of width zero.
        let same = Summary::of(&[2.0, 2.0]);
        assert_eq!((same.sd, same.ci95), (Some(0.0), Some((2.0, 2.0))));
        // Two values: t(0.975, 1) = 12.706, sd = |a - b| / sqrt 2.
        let two = Summary::of(&[10.0, 12.0]);
        let (lo, hi) = two.ci95.unwrap();
        assert!(close(hi - 11.0, 12.7062, 1e-3) && close(11.0 - lo, 12.7062, 1e-3));
    }

    #[test]
    fn numbers_print_with_ten_significant_digits() {
        assert_eq!(fmt_num(0.1 + 0.2), "0.3");
        assert_eq!(fmt_num(12.0), "12");
        assert_eq!(fmt_num(-0.0), "0");
        assert_eq!(fmt_num(2.0 / 3.0), "0.6666666667");
        assert_eq!(fmt_num(1234567.891), "1234567.891");
        assert_eq!(fmt_num(1.25e-7), "0.000000125");
        assert_eq!(fmt_num(-42.5), "-42.5");
    }
}
