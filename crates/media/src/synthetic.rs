//! A deterministic synthetic source from FFmpeg's `lavfi` generators, so that demos and tests never
//! need a downloaded file.
//!
//! The picture is `testsrc2` (moving colour pattern, clock, counter) whose coding difficulty changes
//! every 4 seconds in a 12-second cycle: clean, light film grain (strength 4), heavier film grain (strength 10; the `noise`
//! filter, temporal + uniform, whose default seed is fixed, so the frames are the same bit for bit on
//! every run). With 4-second segments, consecutive segments therefore differ in size at the same
//! bitrate target and in quality at the same rung. The sound is a 440 Hz sine with a beep each second.
//! The same `lavfi` description is the encode's input and the quality measurement's reference, so no
//! lossless intermediate file is ever written.

use crate::error::MediaError;

/// A synthetic source: duration, frame size and rate.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSource {
    /// Duration, seconds.
    pub duration_s: f64,
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl SyntheticSource {
    /// A 16:9 source `height` lines tall (width rounded to even), 30 fps. Errors name
    /// `package`'s flags, `--synthetic` and `--synthetic-height`.
    pub fn new(duration_s: f64, height: u32) -> Result<Self, MediaError> {
        Self::with_flags(duration_s, height, ["--synthetic", "--synthetic-height"])
    }

    /// [`SyntheticSource::new`] for a command whose flags for the duration and the height have
    /// other names (`flags = [duration, height]`), so that errors name those.
    pub fn with_flags(
        duration_s: f64,
        height: u32,
        flags: [&'static str; 2],
    ) -> Result<Self, MediaError> {
        if !(duration_s.is_finite() && duration_s > 0.0 && duration_s <= 24.0 * 3600.0) {
            return Err(MediaError::option(
                flags[0],
                format!("duration must be a positive number of seconds (at most a day), got {duration_s}"),
            ));
        }
        if !(32..=4320).contains(&height) || height % 2 != 0 {
            return Err(MediaError::option(
                flags[1],
                format!("must be an even number of lines from 32 to 4320, got {height}"),
            ));
        }
        let width = ((height as f64 * 16.0 / 9.0 / 2.0).round() as u32) * 2;
        Ok(SyntheticSource {
            duration_s,
            width,
            height,
            fps: 30,
        })
    }

    /// The `lavfi` video graph (an input for `-f lavfi -i`).
    pub fn video_graph(&self) -> String {
        let phase =
            |lo: u32, hi: u32| format!("enable='gte(mod(t\\,12)\\,{lo})*lt(mod(t\\,12)\\,{hi})'");
        format!(
            "testsrc2=size={w}x{h}:rate={r}:duration={d},noise=alls=4:allf=t+u:{p1},noise=alls=10:allf=t+u:{p2}",
            w = self.width,
            h = self.height,
            r = self.fps,
            d = self.duration_s,
            p1 = phase(4, 8),
            p2 = phase(8, 12),
        )
    }

    /// The `lavfi` audio graph.
    pub fn audio_graph(&self) -> String {
        format!(
            "sine=frequency=440:beep_factor=4:sample_rate=48000:duration={}",
            self.duration_s
        )
    }

    /// A one-line description for provenance.
    pub fn describe(&self) -> String {
        format!(
            "synthetic {}x{} {} fps {} s (testsrc2, film grain off/light/heavy every 4 s)",
            self.width, self.height, self.fps, self.duration_s
        )
    }

    /// FFmpeg arguments that write this source to `out` as a high-quality H.264/AAC MP4 file
    /// (CRF 12), e.g. for `neuralstream sample-video`.
    pub fn write_args(&self, out: &str) -> Vec<String> {
        [
            "-hide_banner",
            "-nostdin",
            "-loglevel",
            "error",
            "-y",
            "-progress",
            "pipe:1",
            "-nostats",
            "-f",
            "lavfi",
            "-i",
            &self.video_graph(),
            "-f",
            "lavfi",
            "-i",
            &self.audio_graph(),
            "-c:v",
            "libx264",
            "-preset",
            "veryfast",
            "-crf",
            "12",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-b:a",
            "128k",
            "-movflags",
            "+faststart",
            out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_errors() {
        let s = SyntheticSource::new(10.0, 360).unwrap();
        assert_eq!((s.width, s.height), (640, 360));
        assert_eq!(SyntheticSource::new(1.0, 1080).unwrap().width, 1920);
        assert_eq!(SyntheticSource::new(1.0, 144).unwrap().width, 256);
        assert!(s
            .video_graph()
            .starts_with("testsrc2=size=640x360:rate=30:duration=10,"));
        assert!(SyntheticSource::new(0.0, 360).is_err());
        assert!(SyntheticSource::new(5.0, 361)
            .unwrap_err()
            .to_string()
            .starts_with("--synthetic-height"));
    }
}
