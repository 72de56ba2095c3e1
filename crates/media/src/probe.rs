//! Probing sources and renditions with ffprobe: resolution, frame rate, duration, audio presence, and
//! the key frames of an encoded rendition.

use crate::error::MediaError;
use crate::ffmpeg::{capture, Tools};
use serde_json::Value;
use std::path::Path;

/// What the packager needs to know about a source.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceInfo {
    /// Frame width, pixels.
    pub width: u32,
    /// Frame height, pixels.
    pub height: u32,
    /// Frames per second (average, or nominal when the average is unknown).
    pub fps: f64,
    /// Duration, seconds.
    pub duration_s: f64,
    /// Whether the source has an audio stream.
    pub has_audio: bool,
}

/// Probes `path`: fails with a message naming the file when it cannot be read, is not media, or has
/// no video stream.
pub fn probe_source(tools: &Tools, path: &Path) -> Result<SourceInfo, MediaError> {
    let input_err = |reason: String| MediaError::Input {
        path: path.to_path_buf(),
        reason,
    };
    match std::fs::File::open(path) {
        Err(e) => return Err(input_err(format!("cannot read the input: {e}"))),
        Ok(f) if f.metadata().map(|m| m.is_dir()).unwrap_or(false) => {
            return Err(input_err(
                "is a folder; give a video file (or --synthetic SECONDS)".into(),
            ))
        }
        Ok(_) => {}
    }
    let p = path.to_string_lossy();
    let json = capture(
        &tools.ffprobe,
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_type,width,height,avg_frame_rate,r_frame_rate,duration:stream_disposition=attached_pic:format=duration",
            "-of",
            "json",
            &p,
        ],
        "probing the input",
    )
    .map_err(|e| match e {
        MediaError::ToolFailed { tail, .. } => {
            input_err(format!("ffprobe cannot read it as audio/video: {tail}"))
        }
        other => other,
    })?;
    let v: Value = serde_json::from_str(&json)
        .map_err(|e| input_err(format!("unexpected ffprobe output ({e})")))?;
    parse_probe(&v).map_err(input_err)
}

fn parse_probe(v: &Value) -> Result<SourceInfo, String> {
    let streams = v["streams"].as_array().cloned().unwrap_or_default();
    let is_type = |s: &Value, t: &str| s["codec_type"].as_str() == Some(t);
    let has_audio = streams.iter().any(|s| is_type(s, "audio"));
    let video = streams
        .iter()
        .find(|s| is_type(s, "video") && s["disposition"]["attached_pic"].as_i64() != Some(1))
        .ok_or_else(|| {
            let kinds: Vec<&str> = streams
                .iter()
                .filter_map(|s| s["codec_type"].as_str())
                .collect();
            format!(
                "has no video stream (streams found: {}); give a video file",
                if kinds.is_empty() {
                    "none".to_string()
                } else {
                    kinds.join(", ")
                }
            )
        })?;
    let dim = |k: &str| {
        video[k]
            .as_u64()
            .and_then(|x| u32::try_from(x).ok())
            .unwrap_or(0)
    };
    let (width, height) = (dim("width"), dim("height"));
    if width == 0 || height == 0 {
        return Err("the video stream has no frame size".into());
    }
    let fps = [&video["avg_frame_rate"], &video["r_frame_rate"]]
        .iter()
        .filter_map(|r| parse_rate(r.as_str()?))
        .find(|f| *f > 0.0 && *f < 1000.0)
        .ok_or("the video stream has no usable frame rate")?;
    let num = |x: &Value| x.as_str().and_then(|s| s.parse::<f64>().ok());
    let duration_s = num(&v["format"]["duration"])
        .or_else(|| num(&video["duration"]))
        .filter(|d| d.is_finite() && *d > 0.0)
        .ok_or("the duration is unknown (a live stream or a damaged file?)")?;
    Ok(SourceInfo {
        width,
        height,
        fps,
        duration_s,
        has_audio,
    })
}

/// Parses `30000/1001` or `25`.
pub(crate) fn parse_rate(s: &str) -> Option<f64> {
    match s.split_once('/') {
        Some((n, d)) => {
            let (n, d): (f64, f64) = (n.parse().ok()?, d.parse().ok()?);
            (d != 0.0).then(|| n / d)
        }
        None => s.parse().ok(),
    }
}

/// Runs ffprobe on the first video stream of `input` (read relative to `cwd`), showing `entries`
/// (`-show_entries`) in `format` (`-of`); a failure to start ffprobe is [`MediaError::ToolMissing`].
pub(crate) fn probe_video_stream(
    tools: &Tools,
    input: &str,
    cwd: &Path,
    entries: &str,
    format: &str,
) -> Result<std::process::Output, MediaError> {
    std::process::Command::new(&tools.ffprobe)
        .args([
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            entries,
            "-of",
            format,
            input,
        ])
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| MediaError::ToolMissing {
            program: tools.ffprobe.display().to_string(),
            reason: e.to_string(),
        })
}

/// One video packet of a rendition: presentation time, byte position and whether it is a key frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Packet {
    /// Presentation time, seconds.
    pub pts_s: f64,
    /// Byte offset of the packet in the input (for `concat:` inputs, in the joined stream).
    pub pos_bytes: u64,
    /// Key frame (sync sample).
    pub key: bool,
}

/// Lists the video packets of `input` (any FFmpeg input, e.g. `concat:init.m4s|c1.m4s`) in file
/// order, without decoding. `cwd` is the folder relative names are read from.
pub fn video_packets(tools: &Tools, input: &str, cwd: &Path) -> Result<Vec<Packet>, MediaError> {
    let out = probe_video_stream(tools, input, cwd, "packet=pts_time,pos,flags", "json=c=1")?;
    let task = || format!("listing the key frames of {input}");
    if !out.status.success() {
        return Err(MediaError::ToolFailed {
            program: tools.ffprobe.display().to_string(),
            task: task(),
            status: out.status.to_string(),
            tail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| MediaError::ToolFailed {
        program: tools.ffprobe.display().to_string(),
        task: task(),
        status: "unreadable output".into(),
        tail: e.to_string(),
    })?;
    Ok(parse_packets(&v))
}

fn parse_packets(v: &Value) -> Vec<Packet> {
    v["packets"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter_map(|p| {
                    Some(Packet {
                        pts_s: p["pts_time"].as_str()?.parse().ok()?,
                        pos_bytes: p["pos"].as_str()?.parse().ok()?,
                        key: p["flags"].as_str()?.contains('K'),
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn probe_json() {
        let v = json!({"streams": [
            {"codec_type": "video", "width": 1920, "height": 1080, "avg_frame_rate": "0/0", "r_frame_rate": "30000/1001", "disposition": {"attached_pic": 0}},
            {"codec_type": "audio"}],
            "format": {"duration": "12.5"}});
        let s = parse_probe(&v).unwrap();
        assert_eq!(
            (s.width, s.height, s.duration_s, s.has_audio),
            (1920, 1080, 12.5, true)
        );
        assert!((s.fps - 29.97).abs() < 0.01);
        let audio_only = json!({"streams": [{"codec_type": "audio"},
            {"codec_type": "video", "width": 600, "height": 600, "avg_frame_rate": "0/0", "r_frame_rate": "90000/1", "disposition": {"attached_pic": 1}}],
            "format": {"duration": "3"}});
        let e = parse_probe(&audio_only).unwrap_err();
        assert!(
            e.contains("no video stream (streams found: audio, video)"),
            "{e}"
        );
        assert_eq!(parse_rate("25"), Some(25.0));
        assert_eq!(parse_rate("1/0"), None);
        let pk = json!({"packets": [{"pts_time": "0.000000", "pos": "850", "flags": "K__"},
            {"pts_time": "0.066667", "pos": "9000", "flags": "___"}, {"pts_time": "N/A", "pos": "1", "flags": "K"}]});
        let p = parse_packets(&pk);
        assert_eq!(p.len(), 2);
        assert!(p[0].key && !p[1].key && p[1].pos_bytes == 9000);
    }
}
