//! Synthetic inputs, so that every command runs with no file at all.
//!
//! ## Traces: a seeded regime-switching model spanning 3G to broadband
//!
//! Each trace draws a *base* throughput log-uniformly in `[base_min_mbps, base_max_mbps]` (defaults
//! 0.5 to 8 Mbit/s: from a weak 3G link to a modest broadband one, relative to a 0.3-4.3 Mbit/s
//! ladder). A hidden Markov chain then moves between `regimes` (multipliers of the base, default
//! 0.4x to 2.2x): each second it leaves its regime with probability `switch_prob` to a neighbouring
//! one, giving dwell times of tens of seconds like the Norway 3G logs. Within a regime the
//! throughput wobbles as a log-normal AR(1) process (`noise_sigma`, `noise_rho`). Rare outages
//! (`outage_prob` per second, 1 to 4 s long) drop the link to `outage_mbps`. Samples are
//! `step_s` apart for `duration_s` seconds. The same seed always gives the same traces.
//!
//! ## Video: a built-in VBR description
//!
//! [`builtin_video`] has Pensieve's ladder (300..4300 kbit/s), 4 s chunks and 48 chunks, whose sizes
//! follow a scene-complexity curve shared by all levels (a slow random walk with scene cuts, between
//! 0.55x and 1.6x of the nominal size) with small per-level jitter, like a real VBR encode.

use neuralstream_core::video::Ladder;
use neuralstream_core::{Rng, Trace, Video};

/// Start of every generated trace's name (`synthetic_<seed>_<index>`), and so of the files
/// `neuralstream traces` writes.
pub const TRACE_NAME_PREFIX: &str = "synthetic_";

/// True for a name [`TraceGenerator::trace`] gives: `synthetic_SEED_NNN`, digits only after the
/// prefix (so `neuralstream traces` replaces earlier traces, never a user's `synthetic_notes.txt`).
pub fn is_trace_name(name: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    name.strip_prefix(TRACE_NAME_PREFIX)
        .and_then(|rest| rest.split_once('_'))
        .is_some_and(|(seed, index)| digits(seed) && digits(index) && index.len() >= 3)
}

/// Parameters of the synthetic trace generator. See the module docs for the model.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceGenerator {
    /// Lowest per-trace base throughput, Mbit/s.
    pub base_min_mbps: f64,
    /// Highest per-trace base throughput, Mbit/s.
    pub base_max_mbps: f64,
    /// Regime multipliers of the base, ascending.
    pub regimes: Vec<f64>,
    /// Probability per second of leaving the current regime.
    pub switch_prob: f64,
    /// Standard deviation of the log-throughput noise within a regime.
    pub noise_sigma: f64,
    /// Autocorrelation of that noise between consecutive samples.
    pub noise_rho: f64,
    /// Probability per second that an outage starts.
    pub outage_prob: f64,
    /// Throughput during an outage, Mbit/s.
    pub outage_mbps: f64,
    /// Time between samples, seconds.
    pub step_s: f64,
    /// Length of each trace, seconds.
    pub duration_s: f64,
}

impl Default for TraceGenerator {
    fn default() -> Self {
        TraceGenerator {
            base_min_mbps: 0.5,
            base_max_mbps: 8.0,
            regimes: vec![0.4, 0.7, 1.0, 1.4, 2.2],
            switch_prob: 0.05,
            noise_sigma: 0.25,
            noise_rho: 0.8,
            outage_prob: 0.004,
            outage_mbps: 0.05,
            step_s: 1.0,
            duration_s: 320.0,
        }
    }
}

impl TraceGenerator {
    /// Generates trace number `index` of the stream seeded by `seed` (independent of how many others
    /// are generated).
    pub fn trace(&self, seed: u64, index: usize) -> Trace {
        let mut rng = Rng::new(seed).fork(index as u64 + 1);
        let (lo, hi) = (self.base_min_mbps.ln(), self.base_max_mbps.ln());
        let base = rng.uniform_range(lo, hi).exp();
        let mut regime = rng.below(self.regimes.len());
        let mut noise = 0.0f64;
        let mut outage_left_s = 0.0f64;
        let n = (self.duration_s / self.step_s).round().max(1.0) as usize;
        let mut time_s = Vec::with_capacity(n + 1);
        let mut bw = Vec::with_capacity(n + 1);
        let innovation = self.noise_sigma * (1.0 - self.noise_rho * self.noise_rho).sqrt();
        for i in 0..=n {
            time_s.push(i as f64 * self.step_s);
            let p_switch = 1.0 - (1.0 - self.switch_prob).powf(self.step_s);
            if rng.uniform() < p_switch {
                if regime == 0 {
                    regime = 1.min(self.regimes.len() - 1);
                } else if regime + 1 == self.regimes.len() || rng.uniform() < 0.5 {
                    regime -= 1;
                } else {
                    regime += 1;
                }
            }
            noise = self.noise_rho * noise + innovation * rng.normal();
            if outage_left_s <= 0.0 && rng.uniform() < self.outage_prob * self.step_s {
                outage_left_s = rng.uniform_range(1.0, 4.0);
            }
            let v = if outage_left_s > 0.0 {
                outage_left_s -= self.step_s;
                self.outage_mbps
            } else {
                base * self.regimes[regime] * noise.exp()
            };
            bw.push((v * 1e4).round() / 1e4);
        }
        if bw[1..].iter().all(|&b| b == 0.0) {
            bw[1] = self.outage_mbps.max(0.01);
        }
        Trace::new(format!("{TRACE_NAME_PREFIX}{seed}_{index:03}"), time_s, bw)
            .expect("generator output satisfies trace invariants")
    }

    /// Generates `count` traces from `seed`.
    pub fn traces(&self, seed: u64, count: usize) -> Vec<Trace> {
        (0..count).map(|i| self.trace(seed, i)).collect()
    }
}

/// The built-in VBR video: Pensieve's ladder, 48 chunks of 4 s.
pub fn builtin_video() -> Video {
    synthetic_video("builtin-vbr", &Ladder::pensieve(), 48, 4.0, 2017)
}

/// A synthetic VBR video over `ladder` with `chunks` chunks of `chunk_s` seconds.
pub fn synthetic_video(
    name: &str,
    ladder: &Ladder,
    chunks: usize,
    chunk_s: f64,
    seed: u64,
) -> Video {
    let mut rng = Rng::new(seed);
    let mut complexity = Vec::with_capacity(chunks);
    let mut c: f64 = 1.0;
    for _ in 0..chunks {
        if rng.uniform() < 0.12 {
            c = rng.uniform_range(0.6, 1.5); // scene cut
        } else {
            c = (c + 0.08 * rng.normal()).clamp(0.55, 1.6);
        }
        complexity.push(c);
    }
    let chunk_bytes = ladder
        .levels
        .iter()
        .map(|l| {
            complexity
                .iter()
                .map(|&c| {
                    let jitter = 1.0 + 0.04 * rng.normal();
                    (l.bitrate_kbps * 1000.0 / 8.0 * chunk_s * c * jitter)
                        .round()
                        .max(1.0) as u64
                })
                .collect()
        })
        .collect();
    Video::new(name, chunk_s, ladder.clone(), chunk_bytes, vec![])
        .expect("synthetic video satisfies video invariants")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traces_are_deterministic_and_span_3g_to_broadband() {
        let g = TraceGenerator::default();
        let a = g.traces(42, 40);
        assert_eq!(a, g.traces(42, 40));
        assert_ne!(a[0], g.traces(43, 1)[0]);
        let means: Vec<f64> = a.iter().map(|t| t.mean_mbps()).collect();
        let lo = means.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = means.iter().cloned().fold(0.0, f64::max);
        assert!(lo < 0.8 && hi > 3.0, "means span {lo}..{hi}");
        assert!(a.iter().all(|t| t.len() == 321));
    }

    #[test]
    fn builtin_video_is_vbr_and_ordered() {
        let v = builtin_video();
        assert_eq!(v.num_chunks(), 48);
        for c in 0..48 {
            for l in 1..6 {
                assert!(v.size_bytes(l, c) > v.size_bytes(l - 1, c));
            }
        }
        let s: Vec<u64> = v.chunk_bytes[3].clone();
        let (mn, mx) = (s.iter().min().unwrap(), s.iter().max().unwrap());
        assert!(*mx as f64 > 1.5 * *mn as f64, "not VBR enough: {mn}..{mx}");
    }

    #[test]
    fn generated_names_are_recognised_and_others_are_not() {
        let t = TraceGenerator::default().trace(7, 3);
        assert!(is_trace_name(&t.name), "{}", t.name);
        assert!(is_trace_name("synthetic_42_1234"));
        for other in [
            "synthetic_notes.txt",
            "synthetic_42_1",
            "synthetic__001",
            "synthetic_4x_001",
            "trace_42_001",
        ] {
            assert!(!is_trace_name(other), "{other}");
        }
    }
}
