//! Frame source and encoder model.
//!
//! **Scene complexity** (game content is bursty): a two-state Markov chain (calm / burst, switching
//! with the per-second probabilities below) times a log-normal AR(1) wobble. Complexity 1 is an
//! average frame; a burst (explosions, fast camera turns) doubles the bits a frame needs.
//!
//! **Encoder** (a model of a real-time encoder's rate control, not a codec): its effective rate
//! follows the target with a first-order lag of [`EncoderConfig::lag_frames`] frames (a new target
//! is reached over a few frames); a frame carries `effective_rate / fps x complexity / expected
//! complexity` bits, where the expected complexity is the encoder's own running estimate, so a burst
//! overshoots until rate control catches up (the effect Salsify and Pudica exploit); a key frame is
//! [`EncoderConfig::key_frame_factor`] times bigger, and rate control pays those extra bits back
//! over the next frames (at most [`EncoderConfig::key_frame_payback`] of a frame's budget each), as
//! a real-time encoder's rate buffer does. Per-frame log-normal noise models the rest.

use neuralstream_core::Rng;

/// Scene-complexity process settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceConfig {
    /// Probability per second of entering a burst. Default 0.15.
    pub burst_enter_per_s: f64,
    /// Probability per second of leaving a burst. Default 0.8 (bursts last about 1.25 s).
    pub burst_leave_per_s: f64,
    /// Complexity multiplier during a burst. Default 2.0.
    pub burst_factor: f64,
    /// AR(1) coefficient per frame of the log-complexity wobble. Default 0.95.
    pub ar_coefficient: f64,
    /// Standard deviation of the wobble's innovation per frame. Default 0.05.
    pub ar_sigma: f64,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            burst_enter_per_s: 0.15,
            burst_leave_per_s: 0.8,
            burst_factor: 2.0,
            ar_coefficient: 0.95,
            ar_sigma: 0.05,
        }
    }
}

/// Encoder model settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EncoderConfig {
    /// Frames for the effective rate to close 63 % of the gap to a new target. Default 4.
    pub lag_frames: f64,
    /// Key-frame size relative to a delta frame at the same rate. Default 4.
    pub key_frame_factor: f64,
    /// Largest share of a delta frame's budget used to pay back a key frame's extra bits.
    /// Default 0.3 (a 4x key frame is paid back over about ten frames).
    pub key_frame_payback: f64,
    /// Smoothing of the encoder's complexity estimate per frame (0: never adapts, 1: instant).
    /// Default 0.3.
    pub complexity_tracking: f64,
    /// Standard deviation of per-frame log-normal size noise. Default 0.1.
    pub size_noise_sigma: f64,
    /// Smallest frame, bytes. Default 200.
    pub min_frame_bytes: f64,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        EncoderConfig {
            lag_frames: 4.0,
            key_frame_factor: 4.0,
            key_frame_payback: 0.3,
            complexity_tracking: 0.3,
            size_noise_sigma: 0.1,
            min_frame_bytes: 200.0,
        }
    }
}

/// The scene-complexity process, stepped once per captured frame.
#[derive(Debug, Clone)]
pub struct FrameSource {
    config: SourceConfig,
    frame_s: f64,
    burst: bool,
    log_wobble: f64,
    rng: Rng,
}

impl FrameSource {
    /// A source capturing `fps` frames per second.
    pub fn new(config: SourceConfig, fps: u32, rng: Rng) -> Self {
        FrameSource {
            config,
            frame_s: 1.0 / fps as f64,
            burst: false,
            log_wobble: 0.0,
            rng,
        }
    }

    /// Complexity of the next captured frame (1 = average calm frame).
    pub fn next_complexity(&mut self) -> f64 {
        let c = &self.config;
        let p = if self.burst {
            c.burst_leave_per_s
        } else {
            c.burst_enter_per_s
        } * self.frame_s;
        if self.rng.uniform() < p {
            self.burst = !self.burst;
        }
        self.log_wobble = c.ar_coefficient * self.log_wobble + c.ar_sigma * self.rng.normal();
        let burst = if self.burst { c.burst_factor } else { 1.0 };
        burst * self.log_wobble.exp()
    }
}

/// The encoder's rate-control state.
#[derive(Debug, Clone)]
pub struct Encoder {
    config: EncoderConfig,
    effective_bps: f64,
    expected_complexity: f64,
    debt_bytes: f64,
    rng: Rng,
}

impl Encoder {
    /// An encoder starting at `start_bps`.
    pub fn new(config: EncoderConfig, start_bps: f64, rng: Rng) -> Self {
        Encoder {
            config,
            effective_bps: start_bps,
            expected_complexity: 1.0,
            debt_bytes: 0.0,
            rng,
        }
    }

    /// The rate the encoder is currently producing on average, bit/s.
    pub fn effective_bps(&self) -> f64 {
        self.effective_bps
    }

    /// Encodes one frame: its size in bytes.
    pub fn encode(&mut self, target_bps: f64, fps: u32, complexity: f64, key: bool) -> f64 {
        let c = &self.config;
        self.effective_bps +=
            (target_bps - self.effective_bps) * (1.0 - (-1.0 / c.lag_frames).exp());
        let mut bytes =
            self.effective_bps / fps as f64 / 8.0 * complexity / self.expected_complexity;
        self.expected_complexity += c.complexity_tracking * (complexity - self.expected_complexity);
        if key {
            self.debt_bytes += bytes * (c.key_frame_factor - 1.0);
            bytes *= c.key_frame_factor;
        } else {
            let repay = self.debt_bytes.min(bytes * c.key_frame_payback);
            self.debt_bytes -= repay;
            bytes -= repay;
        }
        bytes *= (c.size_noise_sigma * self.rng.normal()).exp();
        bytes.max(c.min_frame_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoder_lags_toward_target_and_key_frames_are_bigger() {
        let cfg = EncoderConfig {
            size_noise_sigma: 0.0,
            ..Default::default()
        };
        let mut e = Encoder::new(cfg, 1e6, Rng::new(1));
        let first = e.encode(2e6, 30, 1.0, false);
        // One frame closes 1 - e^(-1/4) = 22 % of the gap.
        assert!((e.effective_bps() - (1e6 + 1e6 * (1.0 - (-0.25f64).exp()))).abs() < 1e-6);
        for _ in 0..40 {
            e.encode(2e6, 30, 1.0, false);
        }
        let steady = e.encode(2e6, 30, 1.0, false);
        assert!(
            steady > first && (steady - 2e6 / 30.0 / 8.0).abs() < 1.0,
            "{steady}"
        );
        let key = e.encode(2e6, 30, 1.0, true);
        assert!((key / steady - 4.0).abs() < 0.01);
        // The key frame's 3 extra frames of bits are paid back at 30 % per frame.
        let after: Vec<f64> = (0..12).map(|_| e.encode(2e6, 30, 1.0, false)).collect();
        assert!((after[0] / steady - 0.7).abs() < 0.01, "{after:?}");
        assert!((after[11] / steady - 1.0).abs() < 0.01, "{after:?}");
        let paid: f64 = after.iter().map(|b| steady - b).sum();
        assert!((paid - 3.0 * steady).abs() < 0.01 * steady, "{paid}");
        // A burst overshoots at first, then the encoder adapts.
        let burst1 = e.encode(2e6, 30, 2.0, false);
        let mut last = burst1;
        for _ in 0..20 {
            last = e.encode(2e6, 30, 2.0, false);
        }
        assert!(
            burst1 > 1.8 * steady && last < 1.05 * steady,
            "{burst1} {last}"
        );
    }

    #[test]
    fn complexity_has_bursts_and_mean_near_one_when_calm() {
        let mut s = FrameSource::new(SourceConfig::default(), 60, Rng::new(7));
        let v: Vec<f64> = (0..60 * 600).map(|_| s.next_complexity()).collect();
        let bursts = v.iter().filter(|&&c| c > 1.6).count() as f64 / v.len() as f64;
        // Stationary burst share = 0.15 / (0.15 + 0.8) = 16 %.
        assert!((0.08..0.25).contains(&bursts), "{bursts}");
        assert!(v.iter().all(|c| c.is_finite() && *c > 0.0));
    }
}
