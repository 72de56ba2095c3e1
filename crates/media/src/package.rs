//! The packaging pipeline: probe, encode the whole ladder in one FFmpeg run into DASH + HLS over the
//! same fMP4 segments, check the output, measure quality in one more FFmpeg run, write the
//! descriptor, and move the finished folder into place.
//!
//! Everything is written into a hidden sibling folder `.NAME.partial` and renamed to `NAME` only
//! when complete, so an interrupted or failed run never leaves a folder that looks packaged; a new
//! run deletes a stale partial folder first.
//!
//! The pipeline reads top to bottom across four files: [`plan()`] (validate the options, fit the
//! ladder to the source, pick the encoder: everything decided before FFmpeg runs), `args` (the
//! one FFmpeg command that encodes the ladder into DASH + HLS), `run` (encode, check the
//! manifests and key frames, measure quality, write the descriptor) and `folder` (the output
//! folder: what may be replaced, the partial folder, the final rename).

mod args;
mod folder;
mod plan;
mod run;

pub use plan::{plan, Plan};

use crate::codec::Codec;
use crate::error::MediaError;
use crate::ffmpeg::Tools;
use crate::ladder::Rung;
use crate::synthetic::SyntheticSource;
use neuralstream_core::Video;
use std::path::PathBuf;
use std::time::Instant;

/// File name of the DASH manifest in a package.
pub const MPD_NAME: &str = "manifest.mpd";
/// File name of the HLS master playlist in a package.
pub const HLS_NAME: &str = "master.m3u8";
/// File name of the video descriptor in a package.
pub const DESCRIPTOR_NAME: &str = "video.json";
/// Start of every init segment's file name ([`INIT_SEGMENT_TEMPLATE`]).
const INIT_SEGMENT_PREFIX: &str = "init-";
/// FFmpeg's name template of init segments; starts with [`INIT_SEGMENT_PREFIX`].
const INIT_SEGMENT_TEMPLATE: &str = "init-$RepresentationID$.$ext$";
/// Start of every media segment's file name ([`MEDIA_SEGMENT_TEMPLATE`]).
const MEDIA_SEGMENT_PREFIX: &str = "chunk-";
/// FFmpeg's name template of media segments; starts with [`MEDIA_SEGMENT_PREFIX`].
const MEDIA_SEGMENT_TEMPLATE: &str = "chunk-$RepresentationID$-$Number%05d$.$ext$";

/// What to package.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// A video file.
    File(PathBuf),
    /// FFmpeg's deterministic test source.
    Synthetic(SyntheticSource),
}

/// Packaging options (the flags of `neuralstream package`).
#[derive(Debug, Clone)]
pub struct PackageOptions {
    /// The source.
    pub input: Input,
    /// Output folder; replaced when it already holds a package.
    pub out: PathBuf,
    /// Video codec of every rendition.
    pub codec: Codec,
    /// Rungs to encode; `None` = [`default_ladder`](crate::ladder::default_ladder) of the codec, minus rungs taller than the source.
    pub ladder: Option<Vec<Rung>>,
    /// With an explicit ladder, drop rungs taller than the source instead of refusing.
    pub skip_taller: bool,
    /// Segment duration, seconds.
    pub segment_s: f64,
    /// Encoder speed preset; `None` = [`Codec::default_preset`].
    pub preset: Option<String>,
    /// Name in the descriptor; default: the output folder's name.
    pub name: Option<String>,
    /// Measure SSIM/PSNR (and VMAF when available) per segment.
    pub measure_quality: bool,
    /// Measure VMAF when this FFmpeg has libvmaf.
    pub vmaf: bool,
    /// Package the source's audio (when it has some) in its own adaptation set.
    pub audio: bool,
}

impl PackageOptions {
    /// Options with the documented defaults: H.264, default ladder, 4 s segments, quality on.
    pub fn new(input: Input, out: impl Into<PathBuf>) -> Self {
        PackageOptions {
            input,
            out: out.into(),
            codec: Codec::H264,
            ladder: None,
            skip_taller: false,
            segment_s: 4.0,
            preset: None,
            name: None,
            measure_quality: true,
            vmaf: true,
            audio: true,
        }
    }
}

/// What the pipeline reports while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A stage starts; `total_s` is the media time it will process (0 when not time-based).
    Stage {
        /// Short name, e.g. "encoding".
        name: String,
        /// Media seconds the stage processes.
        total_s: f64,
    },
    /// Media seconds done in the current stage (from FFmpeg's `-progress`).
    Progress {
        /// Seconds processed so far.
        done_s: f64,
    },
    /// Something the user should know (skipped rungs, VMAF unavailable, ...).
    Note(String),
}

/// The result of a successful run.
#[derive(Debug, Clone)]
pub struct Packaged {
    /// The finished package folder.
    pub out: PathBuf,
    /// The descriptor's content.
    pub video: Video,
    /// Rungs left out because they are taller than the source.
    pub skipped: Vec<Rung>,
    /// The FFmpeg encoder used.
    pub encoder: &'static str,
    /// Whether an audio adaptation set was written.
    pub has_audio: bool,
    /// The encoding command, as it could be typed in a shell inside the output folder.
    pub encode_command: String,
    /// The quality measurement command, when quality was measured.
    pub measure_command: Option<String>,
    /// Wall time of the encoding FFmpeg run, seconds.
    pub encode_s: f64,
    /// Wall time of the quality FFmpeg run, seconds (0 when skipped).
    pub quality_s: f64,
    /// Wall time of the whole run, seconds.
    pub total_s: f64,
}

/// Packages `opts.input` into `opts.out`, reporting progress through `on_event`.
pub fn package(
    opts: &PackageOptions,
    tools: &Tools,
    on_event: &mut dyn FnMut(Event),
) -> Result<Packaged, MediaError> {
    let started = Instant::now();
    let caps = tools.capabilities()?;
    let out = &opts.out;
    let name = match &opts.name {
        Some(n) => n.clone(),
        None => out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                MediaError::option("--out", "give a folder name, e.g. --out media/clip")
            })?,
    };
    let input = match &opts.input {
        Input::File(path) => Some(path.as_path()),
        Input::Synthetic(_) => None,
    };
    folder::check_out_dir(out, input)?;
    let plan = plan(opts, tools, &caps.encoders)?;
    if !plan.skipped.is_empty() {
        on_event(Event::Note(format!(
            "skipping {} (taller than the {}-line source)",
            plan.skipped
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .join(", "),
            plan.source.height
        )));
    }
    if opts.audio && !plan.audio && matches!(opts.input, Input::File(_)) {
        on_event(Event::Note(
            "the source has no audio; packaging video only".into(),
        ));
    }
    let work = folder::partial_dir(out)?;
    let result = run::run_in(opts, tools, &plan, &caps, &work, &name, on_event);
    let mut packaged = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    folder::move_into_place(&work, out)?;
    packaged.out = out.clone();
    packaged.total_s = started.elapsed().as_secs_f64();
    let chunks = packaged.video.num_chunks();
    let last_s = plan.source.duration_s - (chunks.saturating_sub(1)) as f64 * plan.segment_s;
    if chunks > 1 && last_s < plan.segment_s - 0.05 {
        on_event(Event::Note(format!(
            "the last chunk holds {last_s:.2} s of video, but video.json gives every chunk {} s: \
             the simulator plays it as a full chunk, and its bitrate reads low; \
             a source whose length is a multiple of --segment-s avoids this",
            plan.segment_s
        )));
    }
    Ok(packaged)
}
