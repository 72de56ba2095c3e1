//! A tiny deterministic pseudo-random number generator (SplitMix64).
//!
//! Used for weight initialisation and available to callers (tests, samplers) that need a
//! reproducible stream without pulling in the `rand` crate. The same seed always yields the same
//! sequence on every platform.

/// SplitMix64 generator (Steele, Lea & Flood 2014): 64 bits of state, passes BigCrush, and any
/// seed (including 0) is valid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Creates a generator from a seed. Every `u64` is a valid seed.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// Returns the next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform `f64` in `[0, 1)` with 53 bits of precision.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform `f32` in `[0, 1)` with 24 bits of precision.
    pub fn next_f32(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }

    /// Uniform `f32` in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.next_f32()
    }

    /// Standard normal sample (Box–Muller, computed in `f64`).
    pub fn normal(&mut self) -> f64 {
        // 1 - u is in (0, 1], so the logarithm is finite.
        let u1 = 1.0 - self.next_f64();
        let u2 = self.next_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `[0, n)`. Returns 0 when `n == 0`.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-shift; the tiny bias is irrelevant for our uses.
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Samples an index from a discrete distribution given by (unnormalised, non-negative)
    /// probabilities. Returns the last index with positive mass if rounding leaves a remainder,
    /// and 0 for an empty or all-zero slice.
    pub fn categorical(&mut self, probs: &[f32]) -> usize {
        let total: f64 = probs.iter().map(|&p| p.max(0.0) as f64).sum();
        if total <= 0.0 {
            return 0;
        }
        let mut u = self.next_f64() * total;
        let mut last = 0;
        for (i, &p) in probs.iter().enumerate() {
            let p = p.max(0.0) as f64;
            if p > 0.0 {
                last = i;
                if u < p {
                    return i;
                }
                u -= p;
            }
        }
        last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reproducible_and_in_range() {
        let mut a = SplitMix64::new(7);
        let mut b = SplitMix64::new(7);
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.next_f32();
            assert!((0.0..1.0).contains(&x));
            b.next_f32();
            assert!(a.below(5) < 5);
            b.below(5);
        }
        assert_ne!(SplitMix64::new(1).next_u64(), SplitMix64::new(2).next_u64());
    }

    #[test]
    fn categorical_respects_zero_mass() {
        let mut r = SplitMix64::new(3);
        for _ in 0..1000 {
            assert_eq!(r.categorical(&[0.0, 1.0, 0.0]), 1);
        }
    }
}
