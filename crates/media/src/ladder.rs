//! Encoding ladders: the default ladder of each codec, parsing `--ladder 360p@800k,720p@2.5M`, and
//! dropping rungs taller than the source.

use crate::codec::Codec;
use crate::error::MediaError;
use serde::{Deserialize, Serialize};

/// One rung to encode: output height (width follows the source's aspect ratio) and target bitrate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rung {
    /// Output frame height, pixels (even).
    pub height: u32,
    /// Target (advertised) video bitrate, kbit/s.
    pub bitrate_kbps: u32,
}

impl std::fmt::Display for Rung {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}p@{}k", self.height, self.bitrate_kbps)
    }
}

/// The default ladder of `codec`: 240p, 360p, 480p, 720p and 1080p.
///
/// | height | H.264 | HEVC, VP9 | AV1 |
/// |---|---|---|---|
/// | 240p | 400k | 250k | 200k |
/// | 360p | 800k | 500k | 400k |
/// | 480p | 1400k | 900k | 700k |
/// | 720p | 2800k | 1800k | 1400k |
/// | 1080p | 5000k | 3200k | 2500k |
///
/// H.264 follows the usual industry ladder (e.g. Apple's HLS authoring guide ranges); HEVC and VP9
/// need about 35% fewer bits for the same quality and AV1 about 50% fewer.
pub fn default_ladder(codec: Codec) -> Vec<Rung> {
    let kbps: [u32; 5] = match codec {
        Codec::H264 => [400, 800, 1400, 2800, 5000],
        Codec::Hevc | Codec::Vp9 => [250, 500, 900, 1800, 3200],
        Codec::Av1 => [200, 400, 700, 1400, 2500],
    };
    [240, 360, 480, 720, 1080]
        .into_iter()
        .zip(kbps)
        .map(|(height, bitrate_kbps)| Rung {
            height,
            bitrate_kbps,
        })
        .collect()
}

/// Parses a ladder such as `240p@400k,360p@800k,720p@2.5M` (bitrates in whole kbit/s, written with
/// a `k` or `M` unit: a bare number would be bit/s to FFmpeg). Rungs are returned sorted by
/// bitrate; bitrates must all differ and heights be even. A trailing comma is accepted; an empty
/// rung between two commas is an error.
pub fn parse_ladder(spec: &str) -> Result<Vec<Rung>, MediaError> {
    let bad = |reason: String| MediaError::option("--ladder", reason);
    let mut rungs = Vec::new();
    let items: Vec<&str> = spec
        .trim()
        .trim_end_matches(',')
        .split(',')
        .map(str::trim)
        .collect();
    if items.len() > 1 && items.iter().any(|s| s.is_empty()) {
        return Err(bad(format!(
            "'{spec}' has an empty rung between two commas; write rungs like 360p@800k,720p@2.5M"
        )));
    }
    for item in items.into_iter().filter(|s| !s.is_empty()) {
        let (h, b) = item.split_once('@').ok_or_else(|| {
            bad(format!(
                "'{item}' is not HEIGHTp@BITRATE; write rungs like 360p@800k,720p@2.5M"
            ))
        })?;
        let h_digits = h.trim().trim_end_matches(['p', 'P']);
        let height: u32 = h_digits
            .parse()
            .ok()
            .filter(|h| (16..=8640).contains(h))
            .ok_or_else(|| {
                bad(format!(
                    "'{item}': height '{h}' must be a number of lines such as 360p (16 to 8640)"
                ))
            })?;
        if height % 2 != 0 {
            return Err(bad(format!(
                "'{item}': height {height} is odd; 4:2:0 video needs an even height"
            )));
        }
        let b = b.trim();
        let (num, scale) = match b.char_indices().last() {
            Some((i, 'k' | 'K')) => (&b[..i], 1.0),
            Some((i, 'm' | 'M')) => (&b[..i], 1000.0),
            _ => {
                return Err(bad(format!(
                    "'{item}': bitrate '{b}' needs a unit, k or M (e.g. 800k or 2.5M): a bare number is bit/s to FFmpeg"
                )))
            }
        };
        let kbps = num
            .parse::<f64>()
            .ok()
            .map(|x| x * scale)
            .filter(|x| x.is_finite() && *x >= 1.0 && *x <= 1e6)
            .ok_or_else(|| {
                bad(format!(
                    "'{item}': bitrate '{b}' must be like 800k or 2.5M (1k to 1000M)"
                ))
            })?;
        if (kbps - kbps.round()).abs() > 1e-9 {
            return Err(bad(format!(
                "'{item}': bitrate '{b}' is not a whole number of kbit/s ({kbps} k); rungs are whole kbit/s"
            )));
        }
        rungs.push(Rung {
            height,
            bitrate_kbps: kbps.round() as u32,
        });
    }
    if rungs.is_empty() {
        return Err(bad(
            "the ladder is empty; give rungs like 360p@800k,720p@2.5M".into(),
        ));
    }
    rungs.sort_by_key(|r| (r.bitrate_kbps, r.height));
    if let Some(w) = rungs
        .windows(2)
        .find(|w| w[0].bitrate_kbps == w[1].bitrate_kbps)
    {
        return Err(bad(format!(
            "two rungs have the same bitrate ({} and {}); every rung needs its own bitrate",
            w[0], w[1]
        )));
    }
    Ok(rungs)
}

/// Splits `rungs` into those the source can feed (height at most the source's) and those skipped
/// because upscaling would only waste bits.
pub fn fit_to_source(rungs: &[Rung], source_height: u32) -> (Vec<Rung>, Vec<Rung>) {
    rungs.iter().partition(|r| r.height <= source_height)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_sort() {
        let l = parse_ladder("720p@2.5M, 360p@800k,240@400k,").unwrap();
        assert_eq!(
            l,
            [
                Rung {
                    height: 240,
                    bitrate_kbps: 400
                },
                Rung {
                    height: 360,
                    bitrate_kbps: 800
                },
                Rung {
                    height: 720,
                    bitrate_kbps: 2500
                }
            ]
        );
        assert_eq!(l[2].to_string(), "720p@2500k");
    }

    #[test]
    fn bad_ladders_say_why() {
        for (spec, needle) in [
            ("360p", "HEIGHTp@BITRATE"),
            ("abcp@800k", "height 'abcp'"),
            ("361p@800k", "odd"),
            ("360p@fast", "bitrate 'fast'"),
            ("360p@800k,480p@800k", "same bitrate"),
            (" , ", "empty"),
            ("360p@800", "needs a unit"),
            ("360p@1.5k", "not a whole number of kbit/s"),
            ("360p@800k,,480p@1M", "empty rung"),
        ] {
            let e = parse_ladder(spec).unwrap_err().to_string();
            assert!(
                e.starts_with("--ladder: ") && e.contains(needle),
                "{spec}: {e}"
            );
        }
    }

    #[test]
    fn defaults_and_fit() {
        for c in [Codec::H264, Codec::Hevc, Codec::Vp9, Codec::Av1] {
            let l = default_ladder(c);
            assert_eq!(l.len(), 5);
            assert!(l.windows(2).all(|w| w[0].bitrate_kbps < w[1].bitrate_kbps));
        }
        let (keep, skip) = fit_to_source(&default_ladder(Codec::H264), 720);
        assert_eq!((keep.len(), skip.len()), (4, 1));
        assert_eq!(skip[0].height, 1080);
    }
}
