//! The FFmpeg command that encodes the whole ladder in one run: the source decoded once and
//! `split` into one scaled stream per rung, each with its bitrate caps, and the audio; the DASH
//! muxer writes fMP4 segments of the segment duration with the MPD, and HLS playlists over the
//! same files.

use super::{INIT_SEGMENT_TEMPLATE, MEDIA_SEGMENT_TEMPLATE, MPD_NAME};
use crate::codec::fmt_seconds;
use crate::ladder::Rung;

/// How much earlier than the video the audio is made to end, seconds. An audio encoder adds
/// priming samples and pads its last frame (AAC: 1024 + up to 1023 samples, 42.7 ms at 48 kHz;
/// Opus: 312 + up to 959, 26.5 ms), so audio as long as the video outlasts it; when the video's
/// length is a multiple of the segment duration, FFmpeg's DASH muxer then writes a stray last
/// audio segment of a frame or two (a 12 s clip at 4 s got a fourth, 476-byte, 10.7 ms one).
/// Trimming the audio by more than that keeps it within the video's last segment.
pub(super) const AUDIO_END_MARGIN_S: f64 = 0.05;

/// The audio to package.
pub(super) struct Audio<'a> {
    /// FFmpeg stream specifier of the source's audio, e.g. `0:a:0`.
    pub stream: &'a str,
    /// Audio encoder, e.g. `aac`.
    pub encoder: &'a str,
    /// Audio bitrate, kbit/s.
    pub kbps: u32,
}

/// Arguments of the encoding FFmpeg run (run inside the output folder): `input_args` decoded
/// once, one rendition per rung with `video_args`, `audio` (if any) trimmed to end
/// [`AUDIO_END_MARGIN_S`] before the source's `duration_s`, segments of `segment_s`.
pub(super) fn encode_args(
    input_args: &[String],
    rungs: &[Rung],
    video_args: Vec<String>,
    audio: Option<Audio<'_>>,
    segment_s: f64,
    duration_s: f64,
) -> Vec<String> {
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(input_args.iter().cloned());
    let n = rungs.len();
    let mut graph = format!("[0:v:0]split={n}");
    for k in 0..n {
        graph += &format!("[s{k}]");
    }
    for (k, r) in rungs.iter().enumerate() {
        graph += &format!(";[s{k}]scale=-2:{}[v{k}]", r.height);
    }
    if let Some(audio) = &audio {
        let end_s = (duration_s - AUDIO_END_MARGIN_S).max(AUDIO_END_MARGIN_S);
        graph += &format!(";[{}]atrim=end={}[a]", audio.stream, fmt_seconds(end_s));
    }
    a.push("-filter_complex".into());
    a.push(graph);
    for k in 0..n {
        a.push("-map".into());
        a.push(format!("[v{k}]"));
    }
    if audio.is_some() {
        a.push("-map".into());
        a.push("[a]".into());
    }
    a.extend(video_args);
    for (k, r) in rungs.iter().enumerate() {
        let b = r.bitrate_kbps;
        a.extend([
            format!("-b:v:{k}"),
            format!("{b}k"),
            format!("-maxrate:v:{k}"),
            format!("{}k", b + b / 10),
            format!("-bufsize:v:{k}"),
            format!("{}k", 2 * b),
        ]);
    }
    if let Some(audio) = &audio {
        a.extend([
            "-c:a".to_string(),
            audio.encoder.into(),
            "-b:a".into(),
            format!("{}k", audio.kbps),
            "-ac".into(),
            "2".into(),
        ]);
    }
    a.extend(
        [
            "-f",
            "dash",
            "-dash_segment_type",
            "mp4",
            "-seg_duration",
            &fmt_seconds(segment_s),
            "-use_template",
            "1",
            "-use_timeline",
            "0",
            "-adaptation_sets",
            if audio.is_some() {
                "id=0,streams=v id=1,streams=a"
            } else {
                "id=0,streams=v"
            },
            "-init_seg_name",
            INIT_SEGMENT_TEMPLATE,
            "-media_seg_name",
            MEDIA_SEGMENT_TEMPLATE,
            "-hls_playlist",
            "1",
            "-progress",
            "pipe:1",
            "-nostats",
            MPD_NAME,
        ]
        .iter()
        .map(|s| s.to_string()),
    );
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rung() -> Vec<Rung> {
        crate::ladder::parse_ladder("144p@100k").unwrap()
    }

    #[test]
    fn audio_is_trimmed_to_end_before_the_video() {
        let audio = Audio {
            stream: "0:a:0",
            encoder: "aac",
            kbps: 128,
        };
        let a = encode_args(
            &["-i".into(), "in.mp4".into()],
            &rung(),
            vec![],
            Some(audio),
            4.0,
            12.0,
        );
        let graph = &a[a.iter().position(|x| x == "-filter_complex").unwrap() + 1];
        assert!(graph.ends_with(";[0:a:0]atrim=end=11.95[a]"), "{graph}");
        assert!(a.windows(2).any(|w| w == ["-map", "[a]"]), "{a:?}");
        // Video only: no audio filter, map or encoder.
        let a = encode_args(&[], &rung(), vec![], None, 4.0, 12.0);
        let line = a.join(" ");
        assert!(
            !line.contains("atrim") && !line.contains("[a]") && !line.contains("-c:a"),
            "{line}"
        );
    }
}
