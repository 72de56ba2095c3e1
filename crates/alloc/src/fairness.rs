//! Jain's fairness index (Jain, Chiu and Hawe, DEC-TR-301, 1984):
//! `J(x) = (sum x)^2 / (n * sum x^2)`, 1 when every value is equal, `1/n` when one value has it all.
//!
//! The index is defined for non-negative values (throughput, bitrate). A session QoE can be
//! negative (stalls cost more than the quality earned); such values count as 0 here, the worst a
//! session can be, and reports say how many sessions had a QoE at or below 0.

/// Jain's index of `values` (negative values count as 0). `None` for no values; 1 when all are 0
/// (nobody got anything: equal).
pub fn jain_index(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let (mut sum, mut sq) = (0.0f64, 0.0f64);
    for &v in values {
        let x = if v.is_finite() { v.max(0.0) } else { 0.0 };
        sum += x;
        sq += x * x;
    }
    if sq == 0.0 {
        return Some(1.0);
    }
    Some(sum * sum / (values.len() as f64 * sq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_values() {
        assert_eq!(jain_index(&[]), None);
        assert_eq!(jain_index(&[3.0, 3.0, 3.0]), Some(1.0));
        assert!((jain_index(&[1.0, 0.0, 0.0, 0.0]).unwrap() - 0.25).abs() < 1e-12);
        assert!((jain_index(&[1.0, 2.0]).unwrap() - 0.9).abs() < 1e-12);
        assert_eq!(jain_index(&[-1.0, 1.0]), jain_index(&[0.0, 1.0]));
        assert_eq!(jain_index(&[0.0, 0.0]), Some(1.0));
    }

    proptest! {
        #[test]
        fn between_one_over_n_and_one(v in prop::collection::vec(0.0f64..1e6, 1..50)) {
            let j = jain_index(&v).unwrap();
            let n = v.len() as f64;
            prop_assert!(j <= 1.0 + 1e-12 && j >= 1.0 / n - 1e-12, "{j}");
        }
    }
}
