//! Video quality of a frame from its bitrate, resolution and frame rate: an opinion score on ITU's
//! 1..5 MOS scale.
//!
//! **Why this model.** ITU-T G.1072 (the cloud-gaming opinion model) is the right anchor, but its
//! text was not available to us here and the one public implementation has no licence, so we do not
//! use its coefficients. Instead this is a small documented model with the *shape* such models
//! share (P.1203's and G.1072's video-quality terms saturate exponentially in bits per pixel, are
//! capped by resolution, and lose quality at lower frame rates), with round coefficients chosen by
//! us, not fitted. It makes the resolution/fps choice meaningful (too many pixels for the bits looks
//! worse than fewer pixels well coded) and is a placeholder until the table fitted to the project's
//! own encodes (`neuralstream package` measures SSIM per segment) replaces it. Treat absolute values
//! as uncalibrated; compare controllers only.
//!
//! `q = 1 + (q_max(resolution) - 1) x (1 - exp(-bpp / BPP_SCALE)) x fps_factor`, with
//! `bpp = bitrate / (pixels x fps)`, `fps_factor = 1 - FPS_PENALTY x (60 - fps) / 30` for fps in
//! [30, 60].

use crate::controller::Resolution;

/// Bits per pixel at which 63 % of the resolution's headroom is reached.
pub const BPP_SCALE: f64 = 0.06;
/// Quality lost (as a share of the headroom above 1) going from 60 to 30 fps on game content.
pub const FPS_PENALTY: f64 = 0.12;

/// Best MOS a resolution can reach on a typical screen.
pub fn max_mos(resolution: Resolution) -> f64 {
    match resolution {
        Resolution::P480 => 3.6,
        Resolution::P720 => 4.2,
        Resolution::P1080 => 4.6,
    }
}

/// Opinion score (1..5) of video at `bitrate_bps`, `resolution`, `fps`.
pub fn mos(bitrate_bps: f64, resolution: Resolution, fps: u32) -> f64 {
    let fps = (fps as f64).clamp(1.0, 60.0);
    let bpp = bitrate_bps.max(0.0) / (resolution.pixels() * fps);
    let coding = 1.0 - (-bpp / BPP_SCALE).exp();
    let fps_factor = 1.0 - FPS_PENALTY * ((60.0 - fps) / 30.0).clamp(0.0, 2.0);
    1.0 + (max_mos(resolution) - 1.0) * coding * fps_factor
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_bits_help_and_resolution_needs_bits() {
        assert!(mos(4e6, Resolution::P720, 60) > mos(2e6, Resolution::P720, 60));
        // At 0.5 Mbps, 480p looks better than 1080p; at 20 Mbps 1080p wins.
        assert!(mos(0.5e6, Resolution::P480, 30) > mos(0.5e6, Resolution::P1080, 30));
        assert!(mos(20e6, Resolution::P1080, 60) > mos(20e6, Resolution::P480, 60));
        let q = mos(1e9, Resolution::P1080, 60);
        assert!(q <= 4.6 && q > 4.5);
        assert!(mos(0.0, Resolution::P480, 30) == 1.0);
    }
}
