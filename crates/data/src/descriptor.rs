//! NeuralStream's JSON video descriptor: what `neuralstream package` writes and `bench` reads.
//!
//! ```json
//! {
//!   "format": "neuralstream-video",
//!   "version": 1,
//!   "name": "sintel-h264",
//!   "chunk_duration_s": 4.0,
//!   "ladder": [ { "bitrate_kbps": 300, "width": 426, "height": 240 }, ... ],
//!   "chunk_bytes": [ [ 151234, 149876, ... ], ... ],          // [level][chunk], bytes
//!   "quality": [ { "metric": "ssim", "scores": [ [ 0.91, ... ], ... ] } ]   // optional, [level][chunk]
//! }
//! ```
//!
//! Levels are listed lowest bitrate first; every level has the same number of chunks.
//! `neuralstream package` writes the quality tables `ssim` (mean SSIM of the chunk's frames, 0..1),
//! `psnr_db` (PSNR from the chunk's mean MSE, dB) and, with an FFmpeg that has libvmaf, `vmaf`
//! (0..100), all against the source at its own resolution; `bench --qoe ssim|psnr|vmaf` scores
//! with them. It also fills `source` with provenance (encoder, preset, FFmpeg version, segment files).

use crate::error::DataError;
use crate::lines::excerpt;
use neuralstream_core::video::{Ladder, Level, QualityTable};
use neuralstream_core::Video;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The value of the `format` field.
pub const FORMAT: &str = "neuralstream-video";
/// The descriptor version this build reads and writes.
pub const VERSION: u32 = 1;

/// Longest accepted video `name`, characters (it is quoted in messages and reports).
pub const MAX_NAME_CHARS: usize = 200;

/// On-disk form of a video description.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VideoDescriptor {
    /// Always `"neuralstream-video"`.
    pub format: String,
    /// Always 1 for this version.
    pub version: u32,
    /// Video name.
    pub name: String,
    /// Duration of each chunk, seconds.
    pub chunk_duration_s: f64,
    /// Ladder, lowest bitrate first.
    pub ladder: Vec<Level>,
    /// Bytes per chunk, `[level][chunk]`.
    pub chunk_bytes: Vec<Vec<u64>>,
    /// Optional per-chunk quality tables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quality: Vec<QualityTable>,
    /// Free-form provenance (codec, source, encoder settings); ignored by the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<serde_json::Value>,
}

impl VideoDescriptor {
    /// Describes `video` in the on-disk form.
    pub fn from_video(video: &Video) -> Self {
        VideoDescriptor {
            format: FORMAT.into(),
            version: VERSION,
            name: video.name.clone(),
            chunk_duration_s: video.chunk_duration_s,
            ladder: video.ladder.levels.clone(),
            chunk_bytes: video.chunk_bytes.clone(),
            quality: video.quality.clone(),
            source: None,
        }
    }
}

/// Parses a descriptor from JSON text; `path` is used for messages.
pub fn parse_descriptor(path: &Path, text: &str) -> Result<Video, DataError> {
    // A UTF-8 byte-order mark (some editors write one) is not JSON.
    let text = crate::without_bom(text);
    let d: VideoDescriptor = serde_json::from_str(text).map_err(|e| DataError::Parse {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!("column {}: {}", e.column(), json_message(&e)),
    })?;
    if d.format != FORMAT {
        return Err(DataError::other(
            path,
            format!(
                "field 'format' is '{}', expected '{FORMAT}'",
                excerpt(&d.format)
            ),
        ));
    }
    if d.version != VERSION {
        return Err(DataError::other(path, format!(
            "field 'version' is {}, this build reads version {VERSION}; re-package the video with this build",
            d.version
        )));
    }
    if d.name.chars().count() > MAX_NAME_CHARS {
        return Err(DataError::other(
            path,
            format!(
                "field 'name' ('{}') is {} characters long; keep it under {MAX_NAME_CHARS}",
                excerpt(&d.name),
                d.name.chars().count()
            ),
        ));
    }
    Video::new(
        d.name,
        d.chunk_duration_s,
        Ladder { levels: d.ladder },
        d.chunk_bytes,
        d.quality,
    )
    .map_err(|source| DataError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// serde_json's message without its position (reported separately), each quoted name or value
/// (`` `...` ``) cut to an [`excerpt`], so an unknown 1 MB key does not make a 1 MB message.
fn json_message(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let text = text
        .strip_suffix(&format!(" at line {} column {}", e.line(), e.column()))
        .unwrap_or(&text);
    // Backquotes alternate open/close: shorten every odd-numbered part.
    let mut out = String::new();
    for (k, part) in text.split('`').enumerate() {
        if k > 0 {
            out.push('`');
        }
        if k % 2 == 1 {
            out.push_str(&excerpt(part));
        } else {
            out.push_str(&excerpt_long(part));
        }
    }
    out
}

/// The fixed wording between quotes is serde's own and short, but a list of expected fields or a
/// message of a custom error could be long: cut at 10 excerpts' worth.
fn excerpt_long(text: &str) -> String {
    let limit = 10 * crate::lines::EXCERPT_CHARS;
    if text.chars().nth(limit).is_none() {
        return text.to_string();
    }
    let mut out: String = text.chars().take(limit).collect();
    out.push_str("...");
    out
}

/// Writes `video` as a descriptor file (pretty JSON).
pub fn write_descriptor(path: &Path, video: &Video) -> Result<(), DataError> {
    let json = serde_json::to_string_pretty(&VideoDescriptor::from_video(video))
        .map_err(|e| DataError::other(path, e.to_string()))?;
    std::fs::write(path, json).map_err(|e| DataError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_errors_name_line() {
        let v = crate::synthetic::builtin_video();
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("video.json");
        write_descriptor(&p, &v).unwrap();
        let back = crate::videos::load_video(&p).unwrap();
        assert_eq!(back, v);
        let e = parse_descriptor(
            Path::new("v.json"),
            "{\n \"format\": \"neuralstream-video\",\n \"version\": 1,\n \"nme\": 3 }",
        )
        .unwrap_err();
        let msg = e.to_string();
        assert!(msg.starts_with("v.json:4: column"), "{msg}");
        assert!(msg.contains("nme"), "{msg}");
    }
}
