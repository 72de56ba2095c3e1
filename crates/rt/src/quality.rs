//! Video quality of a frame from its bitrate, resolution and frame rate: an opinion score on ITU's
//! 1..5 MOS scale, **read from a table fitted to the project's own encodes**.
//!
//! **Why this model.** ITU-T G.1072 (the cloud-gaming opinion model) is the right anchor, but its
//! text was not available to us here and the one public implementation has no licence, so issue 18
//! allows a documented model fitted to our own encodes instead. `neuralstream rt quality-fit`
//! (`crates/cli/src/rt_quality.rs`) encodes game-like synthetic content (FFmpeg `lavfi`: `testsrc2`'s
//! moving pattern, a `mandelbrot` zoom, pixel-art `life`, a third each) with x264 in real-time
//! settings over resolution x fps x bitrate, measures every encode against the 1080p60 source with
//! `neuralstream-media`'s SSIM/PSNR measurement (decoded, held to 60 fps, scaled back to 1080p), and
//! writes `data/quality_table.json`, which this module embeds. Measuring against the 60 fps
//! source with held frames is how Zinner et al. (QoMEX 2010, "Impact of frame rate and resolution
//! on objective QoE metrics") measured frame-rate and resolution reduction with SSIM: both show up
//! in the one number.
//!
//! **From SSIM to MOS.** SSIM's usual five-category reading (Zinner et al. 2010: >= 0.99 excellent,
//! 0.95-0.99 good, 0.88-0.95 fair, 0.5-0.88 poor, < 0.5 bad) is made continuous by placing each
//! category boundary between the two scores it separates ([`SSIM_TO_MOS`]) and interpolating
//! linearly. Absolute values are a model, not a subjective test: compare controllers with it.
//!
//! **Interpolation.** For each (resolution, fps) of the table, MOS is piecewise linear in
//! `ln(bitrate)` between the measured points (actual encoded bitrates, not targets), linear from
//! MOS 1 at 0 bit/s up to the lowest point, and flat above the highest; a running maximum over
//! bitrate makes it monotonic where the encoder's noise is not. Frame rates between 30 and 60 fps
//! are linear between the two curves; below 30 the 30 fps curve is used.

use crate::controller::Resolution;
use std::sync::OnceLock;

/// The fitted table, as `neuralstream rt quality-fit` wrote it.
pub const TABLE_JSON: &str = include_str!("../data/quality_table.json");

/// `(SSIM, MOS)` knots of the SSIM-to-MOS map: category boundaries of Zinner et al. 2010 at the
/// midpoints between scores, 1.0 at SSIM 0 and 5.0 at SSIM 1.
pub const SSIM_TO_MOS: [(f64, f64); 6] = [
    (0.0, 1.0),
    (0.5, 1.5),
    (0.88, 2.5),
    (0.95, 3.5),
    (0.99, 4.5),
    (1.0, 5.0),
];

/// Frame rates the table holds a curve for; others interpolate between them.
pub const TABLE_FPS: [u32; 2] = [30, 60];

/// MOS of a mean SSIM (0..1) by [`SSIM_TO_MOS`].
pub fn ssim_to_mos(ssim: f64) -> f64 {
    if ssim.is_nan() {
        return 1.0;
    }
    let s = ssim.clamp(0.0, 1.0);
    for w in SSIM_TO_MOS.windows(2) {
        let ((s0, m0), (s1, m1)) = (w[0], w[1]);
        if s <= s1 {
            return m0 + (m1 - m0) * (s - s0) / (s1 - s0);
        }
    }
    5.0
}

/// One measured encode.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityPoint {
    /// Picture height: 480, 720 or 1080.
    pub height: u32,
    /// Encoded frames per second.
    pub fps: u32,
    /// The encoder's target, kbit/s.
    pub target_kbps: f64,
    /// What the encode actually took (file size over duration), kbit/s.
    pub bitrate_kbps: f64,
    /// Mean SSIM against the 1080p60 source.
    pub ssim: f64,
    /// PSNR against the 1080p60 source (from the mean MSE), dB.
    pub psnr_db: f64,
}

/// The fitted table and how it was made.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct QualityTable {
    /// How the table was made: command, FFmpeg version, encoder settings, content.
    pub provenance: String,
    /// The measured encodes.
    pub points: Vec<QualityPoint>,
}

/// The opinion model: one monotonic curve per (resolution, table fps).
#[derive(Debug, Clone, PartialEq)]
pub struct QualityModel {
    /// `curves[resolution index][fps index]`: `(ln bit/s, MOS)` in increasing bitrate.
    curves: [[Vec<(f64, f64)>; 2]; 3],
}

fn resolution_index(r: Resolution) -> usize {
    match r {
        Resolution::P480 => 0,
        Resolution::P720 => 1,
        Resolution::P1080 => 2,
    }
}

const RESOLUTIONS: [Resolution; 3] = [Resolution::P480, Resolution::P720, Resolution::P1080];

impl QualityModel {
    /// Builds the model from a table; an error names the (resolution, fps) curve that has no
    /// usable point, or the point that is out of range.
    pub fn fit(table: &QualityTable) -> Result<Self, String> {
        let mut curves: [[Vec<(f64, f64)>; 2]; 3] = Default::default();
        for (i, p) in table.points.iter().enumerate() {
            let r = RESOLUTIONS.iter().position(|r| r.height() == p.height);
            let f = TABLE_FPS.iter().position(|&f| f == p.fps);
            let (Some(r), Some(f)) = (r, f) else {
                return Err(format!(
                    "point {}: {}p at {} fps is not in the model (heights 480/720/1080, fps 30/60)",
                    i + 1,
                    p.height,
                    p.fps
                ));
            };
            let usable = p.bitrate_kbps.is_finite() && p.bitrate_kbps > 0.0;
            if !usable || !(0.0..=1.0).contains(&p.ssim) {
                return Err(format!(
                    "point {}: bitrate_kbps must be positive and ssim within [0, 1], got {} and {}",
                    i + 1,
                    p.bitrate_kbps,
                    p.ssim
                ));
            }
            curves[r][f].push(((p.bitrate_kbps * 1000.0).ln(), ssim_to_mos(p.ssim)));
        }
        for (r, per_fps) in curves.iter_mut().enumerate() {
            for (f, c) in per_fps.iter_mut().enumerate() {
                if c.is_empty() {
                    return Err(format!(
                        "no point for {}p at {} fps",
                        RESOLUTIONS[r].height(),
                        TABLE_FPS[f]
                    ));
                }
                c.sort_by(|a, b| a.0.total_cmp(&b.0));
                let mut best = 1.0f64;
                for k in c.iter_mut() {
                    best = best.max(k.1);
                    k.1 = best;
                }
            }
        }
        Ok(QualityModel { curves })
    }

    /// MOS of one table curve at `bitrate_bps`.
    fn curve_mos(c: &[(f64, f64)], bitrate_bps: f64) -> f64 {
        let (first, last) = (c[0], c[c.len() - 1]);
        if bitrate_bps <= 0.0 {
            return 1.0;
        }
        let x = bitrate_bps.ln();
        if x <= first.0 {
            // Linear in bitrate from MOS 1 at 0 bit/s.
            return 1.0 + (first.1 - 1.0) * bitrate_bps / first.0.exp();
        }
        if x >= last.0 {
            return last.1;
        }
        let k = c.partition_point(|p| p.0 <= x);
        let ((x0, m0), (x1, m1)) = (c[k - 1], c[k]);
        m0 + (m1 - m0) * (x - x0) / (x1 - x0)
    }

    /// Opinion score (1..5) of video at `bitrate_bps`, `resolution`, `fps`.
    pub fn mos(&self, bitrate_bps: f64, resolution: Resolution, fps: u32) -> f64 {
        let c = &self.curves[resolution_index(resolution)];
        let bitrate_bps = if bitrate_bps.is_finite() {
            bitrate_bps
        } else {
            0.0
        };
        let w = ((fps as f64 - 30.0) / 30.0).clamp(0.0, 1.0);
        let (m30, m60) = (
            Self::curve_mos(&c[0], bitrate_bps),
            Self::curve_mos(&c[1], bitrate_bps),
        );
        m30 + (m60 - m30) * w
    }
}

/// The model of the embedded table.
pub fn model() -> &'static QualityModel {
    static MODEL: OnceLock<QualityModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        let table: QualityTable = serde_json::from_str(TABLE_JSON)
            .expect("crates/rt/data/quality_table.json is valid (a unit test reads it)");
        QualityModel::fit(&table)
            .expect("crates/rt/data/quality_table.json fits the model (a unit test checks it)")
    })
}

/// Opinion score (1..5) of video at `bitrate_bps`, `resolution`, `fps`, by the embedded table.
pub fn mos(bitrate_bps: f64, resolution: Resolution, fps: u32) -> f64 {
    model().mos(bitrate_bps, resolution, fps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn table() -> QualityTable {
        serde_json::from_str(TABLE_JSON).unwrap()
    }

    #[test]
    fn the_embedded_table_is_complete_and_the_model_matches_it() {
        let t = table();
        assert!(QualityModel::fit(&t).is_ok());
        // Every (resolution, fps) has at least 4 bitrates.
        for r in RESOLUTIONS {
            for f in TABLE_FPS {
                let n = t
                    .points
                    .iter()
                    .filter(|p| p.height == r.height() && p.fps == f)
                    .count();
                assert!(n >= 4, "{}p{f}: {n} points", r.height());
            }
        }
        // At each measured bitrate the model returns the point's own MOS (or the running
        // maximum of its curve, where a lower bitrate measured better).
        for p in &t.points {
            let r = RESOLUTIONS[RESOLUTIONS
                .iter()
                .position(|r| r.height() == p.height)
                .unwrap()];
            let best_below = t
                .points
                .iter()
                .filter(|q| {
                    q.height == p.height && q.fps == p.fps && q.bitrate_kbps <= p.bitrate_kbps
                })
                .map(|q| ssim_to_mos(q.ssim))
                .fold(1.0, f64::max);
            let m = mos(p.bitrate_kbps * 1000.0, r, p.fps);
            assert!((m - best_below).abs() < 1e-9, "{p:?}: {m} vs {best_below}");
            // And the running maximum is not a large correction: the encodes are monotonic up to
            // measurement noise.
            assert!(best_below - ssim_to_mos(p.ssim) < 0.05, "{p:?}");
        }
    }

    #[test]
    fn ssim_map_follows_the_categories() {
        assert_eq!(ssim_to_mos(0.0), 1.0);
        assert_eq!(ssim_to_mos(1.0), 5.0);
        assert!((ssim_to_mos(0.99) - 4.5).abs() < 1e-12);
        assert!((ssim_to_mos(0.92) - 3.0714285714285716).abs() < 1e-9);
        assert_eq!(ssim_to_mos(-1.0), 1.0);
        assert_eq!(ssim_to_mos(f64::NAN), 1.0);
    }

    #[test]
    fn more_bits_help_and_resolution_needs_bits() {
        assert!(mos(4e6, Resolution::P720, 60) > mos(1e6, Resolution::P720, 60));
        // At 0.3 Mbit/s, 480p looks better than 1080p; at 20 Mbit/s 1080p wins.
        assert!(mos(0.3e6, Resolution::P480, 60) > mos(0.3e6, Resolution::P1080, 60));
        assert!(mos(20e6, Resolution::P1080, 60) > mos(20e6, Resolution::P480, 60));
        // With bits to spare, 60 fps beats 30 (held frames of moving content).
        assert!(mos(20e6, Resolution::P1080, 60) > mos(20e6, Resolution::P1080, 30));
        assert_eq!(mos(0.0, Resolution::P480, 30), 1.0);
        assert_eq!(mos(f64::NAN, Resolution::P480, 30), 1.0);
        let q = mos(1e9, Resolution::P1080, 60);
        assert!(q <= 5.0 && q > 3.5, "{q}");
    }

    #[test]
    fn a_table_with_a_missing_curve_or_a_bad_point_is_refused() {
        let mut t = table();
        t.points.retain(|p| !(p.height == 720 && p.fps == 30));
        let e = QualityModel::fit(&t).unwrap_err();
        assert!(e.contains("720p at 30 fps"), "{e}");
        let mut t = table();
        t.points[0].height = 360;
        assert!(QualityModel::fit(&t).unwrap_err().contains("point 1"));
        let mut t = table();
        t.points[2].ssim = 1.5;
        assert!(QualityModel::fit(&t).unwrap_err().contains("point 3"));
    }

    proptest! {
        #[test]
        fn monotonic_in_bitrate(
            a in 0.0f64..5e7,
            b in 0.0f64..5e7,
            r in 0usize..3,
            fps in 1u32..=60,
        ) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            let res = RESOLUTIONS[r];
            let (m_lo, m_hi) = (mos(lo, res, fps), mos(hi, res, fps));
            prop_assert!(m_lo <= m_hi + 1e-12, "{lo} -> {m_lo}, {hi} -> {m_hi}");
            prop_assert!((1.0..=5.0).contains(&m_lo) && (1.0..=5.0).contains(&m_hi));
        }
    }
}
