//! Bitrate ladders and video descriptions (per-chunk sizes and optional per-chunk quality).

use crate::error::CoreError;
use serde::{Deserialize, Serialize};

/// Highest bitrate a chunk may have, bit/s (100 Gbit/s): above it a size is a mistake.
pub const MAX_CHUNK_BITRATE_BPS: f64 = 1e11;

/// One rung of a bitrate ladder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Level {
    /// Nominal (advertised) bitrate of the rendition, kbit/s.
    pub bitrate_kbps: f64,
    /// Frame width in pixels (0 when unknown).
    #[serde(default)]
    pub width: u32,
    /// Frame height in pixels (0 when unknown).
    #[serde(default)]
    pub height: u32,
}

/// A bitrate ladder: levels sorted by strictly increasing bitrate. Level 0 is the lowest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ladder {
    /// The rungs, lowest bitrate first.
    pub levels: Vec<Level>,
}

impl Ladder {
    /// Builds a ladder from bitrates (kbit/s) with unknown resolutions.
    pub fn from_kbps(bitrates_kbps: &[f64]) -> Self {
        Ladder {
            levels: bitrates_kbps
                .iter()
                .map(|&b| Level {
                    bitrate_kbps: b,
                    width: 0,
                    height: 0,
                })
                .collect(),
        }
    }

    /// Pensieve's six-level ladder: 300..4300 kbit/s, 180p..1080p.
    pub fn pensieve() -> Self {
        let rungs = [
            (300.0, 320, 180),
            (750.0, 640, 360),
            (1200.0, 768, 432),
            (1850.0, 1024, 576),
            (2850.0, 1280, 720),
            (4300.0, 1920, 1080),
        ];
        Ladder {
            levels: rungs
                .iter()
                .map(|&(b, w, h)| Level {
                    bitrate_kbps: b,
                    width: w,
                    height: h,
                })
                .collect(),
        }
    }

    /// Number of levels.
    #[inline]
    pub fn len(&self) -> usize {
        self.levels.len()
    }

    /// True when the ladder has no level (never true for a validated [`Video`]).
    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// Bitrate of `level`, kbit/s.
    #[inline]
    pub fn kbps(&self, level: usize) -> f64 {
        self.levels[level].bitrate_kbps
    }

    /// Highest level index.
    #[inline]
    pub fn top(&self) -> usize {
        self.levels.len() - 1
    }

    /// Highest level whose bitrate is at most `kbps` (level 0 if none is).
    pub fn highest_at_most(&self, kbps: f64) -> usize {
        self.levels
            .iter()
            .rposition(|l| l.bitrate_kbps <= kbps)
            .unwrap_or(0)
    }

    /// Bitrates of all levels, kbit/s.
    pub fn bitrates_kbps(&self) -> Vec<f64> {
        self.levels.iter().map(|l| l.bitrate_kbps).collect()
    }
}

/// Per-chunk quality scores of one metric (e.g. SSIM, VMAF), `[level][chunk]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QualityTable {
    /// Metric name, e.g. `"ssim"`, `"psnr_db"`, `"vmaf"`.
    pub metric: String,
    /// Score of chunk `c` at level `l` is `scores[l][c]`.
    pub scores: Vec<Vec<f64>>,
}

/// A video as an ABR algorithm sees it: a ladder, a chunk duration, and the size in bytes of every
/// chunk at every level (as a manifest with segment sizes, or Pensieve's `video_size_*` files, gives).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Video {
    /// Human-readable name (file or folder it came from).
    pub name: String,
    /// Duration of every chunk, seconds.
    pub chunk_duration_s: f64,
    /// The bitrate ladder.
    pub ladder: Ladder,
    /// `chunk_bytes[level][chunk]`: size in bytes.
    pub chunk_bytes: Vec<Vec<u64>>,
    /// Optional per-chunk quality scores, each `[level][chunk]`.
    #[serde(default)]
    pub quality: Vec<QualityTable>,
}

impl Video {
    /// Builds and validates a video description.
    pub fn new(
        name: impl Into<String>,
        chunk_duration_s: f64,
        ladder: Ladder,
        chunk_bytes: Vec<Vec<u64>>,
        quality: Vec<QualityTable>,
    ) -> Result<Self, CoreError> {
        let v = Video {
            name: name.into(),
            chunk_duration_s,
            ladder,
            chunk_bytes,
            quality,
        };
        v.validate()?;
        Ok(v)
    }

    /// Checks every invariant; [`Video::new`] calls it, deserialised values should too.
    pub fn validate(&self) -> Result<(), CoreError> {
        let bad = |reason: String| CoreError::InvalidVideo {
            name: self.name.clone(),
            reason,
        };
        let max_s = crate::limits::MAX_CHUNK_DURATION_S;
        if !(self.chunk_duration_s > 0.0 && self.chunk_duration_s <= max_s) {
            return Err(bad(format!(
                "chunk_duration_s must be a positive number of seconds, at most {max_s} (an \
                 hour), got {:?}",
                self.chunk_duration_s
            )));
        }
        if self.ladder.is_empty() {
            return Err(bad("the ladder has no level; give at least one".into()));
        }
        for (i, l) in self.ladder.levels.iter().enumerate() {
            if !(l.bitrate_kbps.is_finite() && l.bitrate_kbps > 0.0) {
                return Err(bad(format!(
                    "level {i}: bitrate_kbps must be positive, got {}",
                    l.bitrate_kbps
                )));
            }
            if i > 0 && l.bitrate_kbps <= self.ladder.levels[i - 1].bitrate_kbps {
                return Err(bad(format!(
                    "level {i}: bitrates must increase from level 0 upwards ({} kbps after {} kbps)",
                    l.bitrate_kbps,
                    self.ladder.levels[i - 1].bitrate_kbps
                )));
            }
        }
        if self.chunk_bytes.len() != self.ladder.len() {
            return Err(bad(format!(
                "the ladder has {} levels but chunk sizes are given for {}",
                self.ladder.len(),
                self.chunk_bytes.len()
            )));
        }
        let n = self.chunk_bytes[0].len();
        if n == 0 {
            return Err(bad("level 0 has no chunk".into()));
        }
        for (l, sizes) in self.chunk_bytes.iter().enumerate() {
            if sizes.len() != n {
                return Err(bad(format!(
                    "level {l} has {} chunks but level 0 has {n}; every level needs the same chunk count",
                    sizes.len()
                )));
            }
            if let Some(c) = sizes.iter().position(|&b| b == 0) {
                return Err(bad(format!("level {l}, chunk {c}: size is 0 bytes")));
            }
            // Over 100 Gbit/s is a unit or parsing mistake, not a video; left in, it would stall
            // the simulator and be blamed on the trace.
            let max_bytes = MAX_CHUNK_BITRATE_BPS / 8.0 * self.chunk_duration_s;
            if let Some(c) = sizes.iter().position(|&b| b as f64 > max_bytes) {
                return Err(bad(format!(
                    "level {l}, chunk {c}: {} bytes in a {} s chunk is over 100 Gbit/s; sizes are bytes per chunk",
                    sizes[c], self.chunk_duration_s
                )));
            }
        }
        for q in &self.quality {
            if q.scores.len() != self.ladder.len() || q.scores.iter().any(|s| s.len() != n) {
                return Err(bad(format!(
                    "quality '{}' must have {} levels x {n} chunks",
                    q.metric,
                    self.ladder.len()
                )));
            }
            if q.scores.iter().flatten().any(|x| !x.is_finite()) {
                return Err(bad(format!(
                    "quality '{}' has a non-finite score",
                    q.metric
                )));
            }
            // The metrics with a fixed scale: a score outside it is a unit mix-up (SSIM in dB,
            // VMAF in 0..1), which the QoE would otherwise clamp or scale silently.
            let range = match q.metric.as_str() {
                "ssim" => Some((0.0, 1.0, "SSIM is 0..1 (not dB)")),
                "vmaf" => Some((0.0, 100.0, "VMAF is 0..100")),
                _ => None,
            };
            if let Some((lo, hi, rule)) = range {
                let mut at = None;
                'find: for (l, row) in q.scores.iter().enumerate() {
                    for (c, &x) in row.iter().enumerate() {
                        if !(lo..=hi).contains(&x) {
                            at = Some((l, c, x));
                            break 'find;
                        }
                    }
                }
                if let Some((l, c, x)) = at {
                    return Err(bad(format!(
                        "quality '{}', level {l}, chunk {c}: score {x} is out of range ({rule})",
                        q.metric
                    )));
                }
            }
        }
        for (i, q) in self.quality.iter().enumerate() {
            if self.quality[..i].iter().any(|p| p.metric == q.metric) {
                return Err(bad(format!(
                    "quality '{}' is given twice; keep one table per metric",
                    q.metric
                )));
            }
        }
        Ok(())
    }

    /// Number of chunks described (at every level).
    #[inline]
    pub fn num_chunks(&self) -> usize {
        self.chunk_bytes[0].len()
    }

    /// Number of levels.
    #[inline]
    pub fn num_levels(&self) -> usize {
        self.ladder.len()
    }

    /// Size of `chunk` at `level`, bytes.
    #[inline]
    pub fn size_bytes(&self, level: usize, chunk: usize) -> u64 {
        self.chunk_bytes[level][chunk]
    }

    /// Size of `chunk` at `level`, or 0 when `chunk` is past the end (as Pensieve's MPC treats it).
    #[inline]
    pub fn size_bytes_or_zero(&self, level: usize, chunk: usize) -> u64 {
        self.chunk_bytes[level].get(chunk).copied().unwrap_or(0)
    }

    /// The quality table of `metric`, if the description has one.
    pub fn quality(&self, metric: &str) -> Option<&QualityTable> {
        self.quality.iter().find(|q| q.metric == metric)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sizes(levels: usize, chunks: usize) -> Vec<Vec<u64>> {
        (0..levels)
            .map(|l| vec![1000 * (l as u64 + 1); chunks])
            .collect()
    }

    #[test]
    fn valid_video_builds() {
        let v = Video::new("v", 4.0, Ladder::pensieve(), sizes(6, 10), vec![]).unwrap();
        assert_eq!(v.num_chunks(), 10);
        assert_eq!(v.size_bytes_or_zero(0, 10), 0);
        assert_eq!(v.ladder.highest_at_most(1900.0), 3);
        assert_eq!(v.ladder.highest_at_most(10.0), 0);
    }

    #[test]
    fn mismatched_chunk_counts_are_named() {
        let mut s = sizes(6, 10);
        s[3].pop();
        let e = Video::new("v", 4.0, Ladder::pensieve(), s, vec![]).unwrap_err();
        assert!(
            e.to_string()
                .contains("level 3 has 9 chunks but level 0 has 10"),
            "{e}"
        );
    }

    #[test]
    fn quality_scores_out_of_their_scale_and_duplicate_tables_are_refused() {
        let table = |metric: &str, x: f64| QualityTable {
            metric: metric.into(),
            scores: vec![vec![x; 3]; 2],
        };
        let build = |q: Vec<QualityTable>| {
            Video::new("v", 4.0, Ladder::from_kbps(&[300.0, 750.0]), sizes(2, 3), q)
        };
        let e = build(vec![table("ssim", 1.9)]).unwrap_err().to_string();
        assert!(e.contains("SSIM is 0..1"), "{e}");
        let e = build(vec![table("vmaf", -3.0)]).unwrap_err().to_string();
        assert!(e.contains("VMAF is 0..100"), "{e}");
        let e = build(vec![table("ssim", 0.9), table("ssim", 0.95)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("given twice"), "{e}");
        assert!(build(vec![
            table("ssim", 0.97),
            table("vmaf", 88.0),
            table("psnr_db", 41.0)
        ])
        .is_ok());
    }

    #[test]
    fn absurd_chunk_sizes_are_refused() {
        let mut s = sizes(2, 3);
        s[1][2] = u64::MAX;
        let e = Video::new("v", 4.0, Ladder::from_kbps(&[300.0, 750.0]), s, vec![])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("level 1, chunk 2") && e.contains("100 Gbit/s"),
            "{e}"
        );
        // A chunk longer than an hour is a typo (and a sleep that long would walk the trace for
        // ever): refused.
        let e = Video::new("v", 1e13, Ladder::from_kbps(&[300.0]), sizes(1, 3), vec![])
            .unwrap_err()
            .to_string();
        assert!(e.contains("at most 3600"), "{e}");
    }

    #[test]
    fn non_increasing_ladder_rejected() {
        let e = Video::new(
            "v",
            4.0,
            Ladder::from_kbps(&[300.0, 300.0]),
            sizes(2, 3),
            vec![],
        )
        .unwrap_err();
        assert!(e.to_string().contains("level 1"), "{e}");
    }
}
