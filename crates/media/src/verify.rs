//! Checks of an encoded rendition: every media segment starts with a key frame, and which segment
//! each frame belongs to.
//!
//! The rendition's init and media segments are joined with FFmpeg's `concat:` protocol and its
//! packets listed with ffprobe (no decoding). A packet belongs to the segment file its byte position
//! falls in, so the check is exact and does not depend on timestamps or frame rates.

use crate::error::MediaError;
use crate::ffmpeg::Tools;
use crate::probe::video_packets;
use std::path::Path;

/// What the check learned about a rendition.
#[derive(Debug, Clone, PartialEq)]
pub struct RenditionLayout {
    /// FFmpeg input that reads the whole rendition (`concat:init|seg1|seg2|...`).
    pub input: String,
    /// Segment of each frame, in presentation order.
    pub frame_segment: Vec<usize>,
    /// Presentation time of each segment's first frame, seconds from the rendition's first frame.
    pub segment_start_s: Vec<f64>,
}

/// The `concat:` input of a rendition (file names relative to its folder).
pub fn concat_input(init: &str, segments: &[String]) -> String {
    let mut s = String::from("concat:");
    s.push_str(init);
    for seg in segments {
        s.push('|');
        s.push_str(seg);
    }
    s
}

/// Checks the rendition whose files are `init` and `segments` in `dir`: every segment must start
/// with a key frame. Returns the frame-to-segment map used to pool quality scores.
pub fn check_rendition(
    tools: &Tools,
    dir: &Path,
    init: &str,
    segments: &[String],
) -> Result<RenditionLayout, MediaError> {
    let size = |name: &str| {
        std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .map_err(|e| MediaError::io(dir.join(name), e))
    };
    let mut starts = Vec::with_capacity(segments.len());
    let mut offset = size(init)?;
    for s in segments {
        starts.push(offset);
        offset += size(s)?;
    }
    let input = concat_input(init, segments);
    let packets = video_packets(tools, &input, dir)?;
    let segment_of = |pos: u64| starts.partition_point(|&s| s <= pos).saturating_sub(1);
    let mut first_seen = vec![false; segments.len()];
    for p in &packets {
        let k = segment_of(p.pos_bytes);
        if !first_seen[k] {
            first_seen[k] = true;
            if !p.key {
                return Err(MediaError::output(
                    dir.join(&segments[k]),
                    format!(
                        "does not start with a key frame (its first frame, at {:.3} s, is not a sync sample); players could not switch to this rendition here. Re-package with this build; if it persists, report the codec and preset",
                        p.pts_s
                    ),
                ));
            }
        }
    }
    if let Some(k) = first_seen.iter().position(|s| !s) {
        return Err(MediaError::output(
            dir.join(&segments[k]),
            "holds no video frame",
        ));
    }
    let mut by_time: Vec<(f64, usize)> = packets
        .iter()
        .map(|p| (p.pts_s, segment_of(p.pos_bytes)))
        .collect();
    by_time.sort_by(|a, b| a.0.total_cmp(&b.0));
    let t0 = by_time.first().map_or(0.0, |x| x.0);
    let mut segment_start_s = vec![f64::INFINITY; segments.len()];
    for &(t, k) in &by_time {
        segment_start_s[k] = segment_start_s[k].min(t - t0);
    }
    Ok(RenditionLayout {
        input,
        frame_segment: by_time.into_iter().map(|x| x.1).collect(),
        segment_start_s,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concat() {
        assert_eq!(
            concat_input("init-0.m4s", &["a.m4s".into(), "b.m4s".into()]),
            "concat:init-0.m4s|a.m4s|b.m4s"
        );
    }
}
