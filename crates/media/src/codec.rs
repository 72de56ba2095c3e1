//! Video codecs the packager supports, the FFmpeg encoder for each, its speed presets, and the
//! encoder arguments that give every rendition a key frame at every segment start.

use crate::error::MediaError;
use std::collections::BTreeSet;

/// A video codec of the ladder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// H.264/AVC with libx264 (plays everywhere).
    H264,
    /// H.265/HEVC with libx265 (Chromium on Linux cannot play it).
    Hevc,
    /// VP9 with libvpx-vp9.
    Vp9,
    /// AV1 with libsvtav1 (or libaom-av1 when SVT-AV1 is missing).
    Av1,
}

/// Names accepted by [`Codec::from_name`].
pub const CODEC_NAMES: &str = "h264, hevc, vp9, av1";

impl Codec {
    /// Parses `h264` (`avc`, `x264`), `hevc` (`h265`, `x265`), `vp9`, `av1`.
    pub fn from_name(name: &str) -> Result<Self, MediaError> {
        match name.to_ascii_lowercase().as_str() {
            "h264" | "avc" | "x264" | "libx264" => Ok(Codec::H264),
            "hevc" | "h265" | "x265" | "libx265" => Ok(Codec::Hevc),
            "vp9" | "libvpx-vp9" => Ok(Codec::Vp9),
            "av1" | "libsvtav1" | "libaom-av1" => Ok(Codec::Av1),
            other => Err(MediaError::option(
                "--codec",
                format!("unsupported codec '{other}'; choose one of: {CODEC_NAMES}"),
            )),
        }
    }

    /// Short name (`h264`, `hevc`, `vp9`, `av1`).
    pub fn name(self) -> &'static str {
        match self {
            Codec::H264 => "h264",
            Codec::Hevc => "hevc",
            Codec::Vp9 => "vp9",
            Codec::Av1 => "av1",
        }
    }

    /// FFmpeg encoders for this codec, preferred first.
    pub fn encoder_candidates(self) -> &'static [&'static str] {
        match self {
            Codec::H264 => &["libx264"],
            Codec::Hevc => &["libx265"],
            Codec::Vp9 => &["libvpx-vp9"],
            Codec::Av1 => &["libsvtav1", "libaom-av1"],
        }
    }

    /// The first candidate encoder this FFmpeg has, or an error saying which are missing.
    pub fn pick_encoder(self, available: &BTreeSet<String>) -> Result<&'static str, MediaError> {
        self.encoder_candidates()
            .iter()
            .copied()
            .find(|e| available.contains(*e))
            .ok_or_else(|| {
                MediaError::option(
                    "--codec",
                    format!(
                        "this FFmpeg has no {} encoder (looked for {}); install an FFmpeg built with it (Debian's `apt-get install ffmpeg` has them all) or choose another of: {CODEC_NAMES}",
                        self.name(),
                        self.encoder_candidates().join(", ")
                    ),
                )
            })
    }

    /// Audio encoder and bitrate (kbit/s) that go with this codec in MP4: AAC for H.264/HEVC,
    /// Opus for VP9/AV1.
    pub fn audio(self) -> (&'static str, u32) {
        match self {
            Codec::H264 | Codec::Hevc => ("aac", 128),
            Codec::Vp9 | Codec::Av1 => ("libopus", 96),
        }
    }

    /// Default speed preset of `encoder` (fast settings, as measured in the reference recipe).
    pub fn default_preset(encoder: &str) -> &'static str {
        match encoder {
            "libx264" => "veryfast",
            "libx265" => "ultrafast",
            "libvpx-vp9" => "8",
            "libsvtav1" => "12",
            _ => "8", // libaom-av1 cpu-used
        }
    }

    /// Video encoder arguments for all renditions: encoder, preset, pixel format and a key frame
    /// exactly at every segment start and nowhere else (`gop_frames` = frames per segment).
    pub fn video_args(
        encoder: &str,
        preset: &str,
        gop_frames: u32,
        segment_s: f64,
    ) -> Result<Vec<String>, MediaError> {
        let bad_preset = |allowed: &str| {
            MediaError::option(
                "--preset",
                format!("'{preset}' is not a preset of {encoder}; use one of: {allowed}"),
            )
        };
        let number = |lo: u32, hi: u32| -> Result<u32, MediaError> {
            preset
                .parse::<u32>()
                .ok()
                .filter(|p| (lo..=hi).contains(p))
                .ok_or_else(|| bad_preset(&format!("{lo}..{hi} (higher is faster)")))
        };
        let g = gop_frames.to_string();
        let mut a: Vec<String> = vec!["-c:v".into(), encoder.into()];
        let push = |a: &mut Vec<String>, xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
        match encoder {
            "libx264" | "libx265" => {
                const X26X: [&str; 10] = [
                    "ultrafast",
                    "superfast",
                    "veryfast",
                    "faster",
                    "fast",
                    "medium",
                    "slow",
                    "slower",
                    "veryslow",
                    "placebo",
                ];
                if !X26X.contains(&preset) {
                    return Err(bad_preset(&X26X.join(", ")));
                }
                push(&mut a, &["-preset", preset]);
                if encoder == "libx264" {
                    push(&mut a, &["-profile:v", "high", "-sc_threshold", "0"]);
                } else {
                    push(&mut a, &["-tag:v", "hvc1"]);
                    a.push("-x265-params".into());
                    a.push(format!(
                        "scenecut=0:open-gop=0:keyint={g}:min-keyint={g}:log-level=error"
                    ));
                }
            }
            "libvpx-vp9" => {
                let speed = number(0, 8)?;
                let deadline = if speed >= 5 { "realtime" } else { "good" };
                push(&mut a, &["-deadline", deadline, "-cpu-used"]);
                a.push(speed.to_string());
                push(&mut a, &["-row-mt", "1", "-auto-alt-ref", "0"]);
            }
            "libsvtav1" => {
                let p = number(0, 13)?;
                a.push("-preset".into());
                a.push(p.to_string());
            }
            _ => {
                let p = number(0, 8)?;
                push(&mut a, &["-cpu-used"]);
                a.push(p.to_string());
                push(&mut a, &["-row-mt", "1"]);
            }
        }
        push(
            &mut a,
            &["-pix_fmt", "yuv420p", "-g", &g, "-keyint_min", &g],
        );
        a.push("-force_key_frames".into());
        a.push(format!("expr:gte(t,n_forced*{})", fmt_seconds(segment_s)));
        Ok(a)
    }
}

/// Seconds without a trailing `.0` where possible (`4`, `2.5`).
pub(crate) fn fmt_seconds(s: f64) -> String {
    let t = format!("{s}");
    t.strip_suffix(".0").map(str::to_string).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_encoders() {
        assert_eq!(Codec::from_name("H265").unwrap(), Codec::Hevc);
        let e = Codec::from_name("mpeg2").unwrap_err().to_string();
        assert!(
            e.contains("--codec") && e.contains("h264, hevc, vp9, av1"),
            "{e}"
        );
        let have: BTreeSet<String> = ["libaom-av1".to_string()].into();
        assert_eq!(Codec::Av1.pick_encoder(&have).unwrap(), "libaom-av1");
        let e = Codec::Hevc.pick_encoder(&have).unwrap_err().to_string();
        assert!(e.contains("no hevc encoder"), "{e}");
    }

    #[test]
    fn gop_args() {
        let a = Codec::video_args("libx264", "veryfast", 120, 4.0).unwrap();
        let line = a.join(" ");
        assert!(line.contains("-g 120 -keyint_min 120"), "{line}");
        assert!(
            line.ends_with("-force_key_frames expr:gte(t,n_forced*4)"),
            "{line}"
        );
        let e = Codec::video_args("libvpx-vp9", "fast", 120, 4.0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("0..8"), "{e}");
        assert!(Codec::video_args("libsvtav1", "12", 48, 2.0).is_ok());
        assert!(Codec::video_args("libx265", "ultrafast", 96, 4.0)
            .unwrap()
            .join(" ")
            .contains("keyint=96"));
        assert_eq!(fmt_seconds(2.5), "2.5");
    }
}
