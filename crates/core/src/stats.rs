//! Summary statistics over per-trace scores (mean, 95% confidence half-width, numpy-style
//! percentile): plain functions here in core, so that eval and learn score the same way without
//! learn depending on eval.

/// Arithmetic mean (0 for an empty slice).
pub fn mean(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        0.0
    } else {
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// Half-width of the 95% confidence interval of the mean: `1.96 * s / sqrt(n)` with the sample
/// standard deviation `s` (0 when fewer than two values).
pub fn ci95_half_width(xs: &[f64]) -> f64 {
    let n = xs.len();
    if n < 2 {
        return 0.0;
    }
    let m = mean(xs);
    let var = xs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1) as f64;
    1.96 * var.sqrt() / (n as f64).sqrt()
}

/// Percentile `p` in [0, 100] with linear interpolation between order statistics (numpy's default).
pub fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = p / 100.0 * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (rank - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_numpy_conventions() {
        let xs = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(mean(&xs), 4.0);
        assert_eq!(percentile(&xs, 50.0), 3.0);
        assert!((percentile(&xs, 10.0) - 1.4).abs() < 1e-12);
        assert!((percentile(&xs, 90.0) - 7.6).abs() < 1e-12);
        // sd = sqrt(12.5) -> 1.96 * 3.5355 / sqrt(5)
        assert!((ci95_half_width(&xs) - 1.96 * 12.5f64.sqrt() / 5f64.sqrt()).abs() < 1e-12);
        assert_eq!(ci95_half_width(&[1.0]), 0.0);
    }
}
