//! Planning a package: validates the options against the source, fits the ladder to it, picks the
//! encoder and preset, and builds the encoding command, all before FFmpeg runs.

use super::{args, Input, PackageOptions};
use crate::codec::Codec;
use crate::error::MediaError;
use crate::ffmpeg::Tools;
use crate::ladder::{default_ladder, fit_to_source, Rung};
use crate::probe::{probe_source, SourceInfo};

/// Everything decided before FFmpeg runs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Source facts.
    pub source: SourceInfo,
    /// Input arguments for FFmpeg (absolute paths).
    pub input_args: Vec<String>,
    /// Input arguments of the quality reference: the source's video only (one input).
    pub reference_args: Vec<String>,
    /// Rungs to encode, lowest bitrate first.
    pub rungs: Vec<Rung>,
    /// Rungs dropped because they are taller than the source.
    pub skipped: Vec<Rung>,
    /// Chosen encoder.
    pub encoder: &'static str,
    /// Preset used.
    pub preset: String,
    /// Whether audio is packaged.
    pub audio: bool,
    /// Segment duration, seconds.
    pub segment_s: f64,
    /// Encoding arguments (run inside the output folder).
    pub encode_args: Vec<String>,
    /// Short description of the source for provenance.
    pub source_description: String,
}

/// Decides the ladder, encoder and FFmpeg command without running the encode.
pub fn plan(
    opts: &PackageOptions,
    tools: &Tools,
    encoders: &std::collections::BTreeSet<String>,
) -> Result<Plan, MediaError> {
    if !(opts.segment_s.is_finite() && (0.5..=60.0).contains(&opts.segment_s)) {
        return Err(MediaError::option(
            "--segment-s",
            format!("must be between 0.5 and 60 seconds, got {}", opts.segment_s),
        ));
    }
    let encoder = opts.codec.pick_encoder(encoders)?;
    let (source, input_args, reference_args, source_description) = match &opts.input {
        Input::File(path) => {
            let info = probe_source(tools, path)?;
            let abs = std::path::absolute(path).map_err(|e| MediaError::io(path, e))?;
            let abs = abs.to_string_lossy().into_owned();
            let desc = format!(
                "{} ({}x{}, {:.3} fps, {:.2} s{})",
                path.display(),
                info.width,
                info.height,
                info.fps,
                info.duration_s,
                if info.has_audio { ", with audio" } else { "" }
            );
            let args = vec!["-i".to_string(), abs];
            (info, args.clone(), args, desc)
        }
        Input::Synthetic(s) => (
            SourceInfo {
                width: s.width,
                height: s.height,
                fps: f64::from(s.fps),
                duration_s: s.duration_s,
                has_audio: true,
            },
            vec![
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                s.video_graph(),
                "-f".into(),
                "lavfi".into(),
                "-i".into(),
                s.audio_graph(),
            ],
            vec!["-f".into(), "lavfi".into(), "-i".into(), s.video_graph()],
            s.describe(),
        ),
    };
    let explicit = opts.ladder.is_some();
    let wanted = opts
        .ladder
        .clone()
        .unwrap_or_else(|| default_ladder(opts.codec));
    let (rungs, skipped) = fit_to_source(&wanted, source.height);
    if explicit && !skipped.is_empty() && !opts.skip_taller {
        return Err(MediaError::option(
            "--ladder",
            format!(
                "{} taller than the source ({}x{}); upscaling only wastes bits. Remove {}, or pass --skip-taller to drop {}",
                skipped.iter().map(|r| r.to_string()).collect::<Vec<_>>().join(", "),
                source.width,
                source.height,
                if skipped.len() == 1 { "it" } else { "them" },
                if skipped.len() == 1 { "it" } else { "them" },
            ),
        ));
    }
    if rungs.is_empty() {
        return Err(MediaError::option(
            "--ladder",
            format!(
                "every rung is taller than the source ({} lines); give rungs of at most {}p",
                source.height, source.height
            ),
        ));
    }
    let preset = opts
        .preset
        .clone()
        .unwrap_or_else(|| Codec::default_preset(encoder).to_string());
    let gop_frames = (source.fps * opts.segment_s).round().max(1.0) as u32;
    let video_args = Codec::video_args(encoder, &preset, gop_frames, opts.segment_s)?;
    // Every chunk of the descriptor is one segment long; a source shorter than one segment
    // would be a single shorter chunk that the descriptor would misstate.
    if source.duration_s < 0.5 {
        return Err(MediaError::option(
            "INPUT",
            format!(
                "the source lasts {:.2} s; packaging needs at least 0.5 s (one shortest segment)",
                source.duration_s
            ),
        ));
    }
    if source.duration_s < opts.segment_s {
        return Err(MediaError::option(
            "--segment-s",
            format!(
                "the source lasts {:.2} s, less than one {} s segment; use --segment-s {} or less",
                source.duration_s,
                opts.segment_s,
                (source.duration_s * 2.0).floor().max(1.0) / 2.0
            ),
        ));
    }
    let audio = opts.audio && source.has_audio;
    let (audio_encoder, audio_kbps) = opts.codec.audio();
    if audio && !encoders.contains(audio_encoder) {
        return Err(MediaError::option(
            "--codec",
            format!(
                "this FFmpeg has no {audio_encoder} audio encoder for the source's audio; install Debian's ffmpeg (`apt-get install ffmpeg`) or pass --no-audio"
            ),
        ));
    }
    let audio_map = audio.then_some(match &opts.input {
        Input::File(_) => "0:a:0",
        Input::Synthetic(_) => "1:a:0",
    });
    let encode_args = args::encode_args(
        &input_args,
        &rungs,
        video_args,
        audio_map.map(|stream| args::Audio {
            stream,
            encoder: audio_encoder,
            kbps: audio_kbps,
        }),
        opts.segment_s,
        source.duration_s,
    );
    Ok(Plan {
        source,
        input_args,
        reference_args,
        rungs,
        skipped,
        encoder,
        preset,
        audio,
        segment_s: opts.segment_s,
        encode_args,
        source_description,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::SyntheticSource;
    use std::collections::BTreeSet;

    fn encoders() -> BTreeSet<String> {
        ["libx264", "aac", "libvpx-vp9", "libopus"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn plan_synthetic() {
        let s = SyntheticSource::new(10.0, 360).unwrap();
        let mut o = PackageOptions::new(Input::Synthetic(s), "x/clip");
        let tools = Tools::locate(None, None);
        let p = plan(&o, &tools, &encoders()).unwrap();
        // Default H.264 ladder minus 480p, 720p, 1080p.
        assert_eq!(p.rungs.len(), 2);
        assert_eq!(p.skipped.len(), 3);
        let line = p.encode_args.join(" ");
        assert!(
            line.contains("split=2[s0][s1];[s0]scale=-2:240[v0];[s1]scale=-2:360[v1]"),
            "{line}"
        );
        assert!(
            line.contains("-b:v:1 800k -maxrate:v:1 880k -bufsize:v:1 1600k"),
            "{line}"
        );
        // The audio ends 50 ms before the 10 s video (no stray last audio segment).
        assert!(
            line.contains(";[1:a:0]atrim=end=9.95[a]")
                && line.contains("-map [a]")
                && line.contains("-c:a aac"),
            "{line}"
        );
        assert!(line.contains("-g 120 -keyint_min 120"), "{line}");
        assert!(
            line.ends_with("-hls_playlist 1 -progress pipe:1 -nostats manifest.mpd"),
            "{line}"
        );

        o.ladder = Some(crate::ladder::parse_ladder("240p@300k,720p@2M").unwrap());
        let e = plan(&o, &tools, &encoders()).unwrap_err().to_string();
        assert!(
            e.contains("720p@2000k taller than the source (640x360)")
                && e.contains("--skip-taller"),
            "{e}"
        );
        o.skip_taller = true;
        assert_eq!(plan(&o, &tools, &encoders()).unwrap().rungs.len(), 1);
        o.codec = Codec::Av1;
        let e = plan(&o, &tools, &encoders()).unwrap_err().to_string();
        assert!(e.contains("no av1 encoder"), "{e}");
        o.codec = Codec::Vp9;
        o.audio = false;
        let line = plan(&o, &tools, &encoders()).unwrap().encode_args.join(" ");
        assert!(
            !line.contains("-c:a") && line.contains("id=0,streams=v -init"),
            "{line}"
        );
        o.segment_s = 0.1;
        assert!(plan(&o, &tools, &encoders())
            .unwrap_err()
            .to_string()
            .starts_with("--segment-s"));
        // A 10 s source cannot fill one 12 s segment.
        o.segment_s = 12.0;
        let e = plan(&o, &tools, &encoders()).unwrap_err().to_string();
        assert!(
            e.contains("less than one 12 s segment") && e.contains("--segment-s 10 or less"),
            "{e}"
        );
    }
}
