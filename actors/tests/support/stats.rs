//! Comparing a measurement with theory: the fidelity tests' one assertion.

/// Prints one comparison and asserts `|measured − expected| < 4 sd + bias_tol` (`bias_tol`:
/// the model-bias tolerance a test states and explains).
pub fn check(what: &str, measured: f64, expected: f64, sd: f64, bias_tol: f64) {
    let z = (measured - expected) / sd;
    eprintln!(
        "  {what}: measured {measured:.5}, expected {expected:.5}, sd {sd:.5}, z = {z:+.2}{}",
        if bias_tol > 0.0 {
            format!(" (model-bias tolerance {bias_tol})")
        } else {
            String::new()
        }
    );
    assert!(
        (measured - expected).abs() < 4.0 * sd + bias_tol,
        "{what}: measured {measured} vs expected {expected} is more than 4 sd ({sd}) + {bias_tol} off"
    );
}
