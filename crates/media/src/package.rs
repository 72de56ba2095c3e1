//! The packaging pipeline: probe, encode the whole ladder in one FFmpeg run into DASH + HLS over the
//! same fMP4 segments, check the output, measure quality in one more FFmpeg run, write the
//! descriptor, and move the finished folder into place.
//!
//! Everything is written into a hidden sibling folder `.NAME.partial` and renamed to `NAME` only
//! when complete, so an interrupted or failed run never leaves a folder that looks packaged; a new
//! run deletes a stale partial folder first.

use crate::codec::{fmt_seconds, Codec};
use crate::error::MediaError;
use crate::ffmpeg::{run_with_progress, shell_line, Tools};
use crate::ladder::{default_ladder, fit_to_source, Rung};
use crate::manifest::{read_hls, read_mpd, Presentation};
use crate::probe::{probe_source, SourceInfo};
use crate::quality::{self, Reference, Rendition};
use crate::synthetic::SyntheticSource;
use crate::verify::{check_rendition, RenditionLayout};
use neuralstream_core::video::{Ladder, Level, QualityTable};
use neuralstream_core::Video;
use neuralstream_data::descriptor::{VideoDescriptor, FORMAT, VERSION};
use std::path::{Path, PathBuf};
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
    /// Rungs to encode; `None` = [`default_ladder`] of the codec, minus rungs taller than the source.
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
    a.push("-filter_complex".into());
    a.push(graph);
    for k in 0..n {
        a.push("-map".into());
        a.push(format!("[v{k}]"));
    }
    if audio {
        a.push("-map".into());
        a.push(match &opts.input {
            Input::File(_) => "0:a:0".into(),
            Input::Synthetic(_) => "1:a:0".into(),
        });
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
    if audio {
        a.extend([
            "-c:a".to_string(),
            audio_encoder.into(),
            "-b:a".into(),
            format!("{audio_kbps}k"),
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
            &fmt_seconds(opts.segment_s),
            "-use_template",
            "1",
            "-use_timeline",
            "0",
            "-adaptation_sets",
            if audio {
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
        encode_args: a,
        source_description,
    })
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
    check_out_dir(out, input)?;
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
    let work = partial_dir(out)?;
    let result = run_in(opts, tools, &plan, &caps, &work, &name, on_event);
    let mut packaged = match result {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&work);
            return Err(e);
        }
    };
    move_into_place(&work, out)?;
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

/// True for the names a package writes (and so may replace): the descriptor, the manifests,
/// init and media segments.
fn is_package_file(name: &str) -> bool {
    name == DESCRIPTOR_NAME
        || name == MPD_NAME
        || name == HLS_NAME
        || (name.starts_with("media_") && name.ends_with(".m3u8"))
        || name.starts_with(INIT_SEGMENT_PREFIX)
        || name.starts_with(MEDIA_SEGMENT_PREFIX)
}

/// Refuses to replace a folder that holds anything a package does not write (the whole folder
/// is swapped for the new package, so such files would be lost), and an input inside it.
fn check_out_dir(out: &Path, input: Option<&Path>) -> Result<(), MediaError> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        return Err(MediaError::option(
            "--out",
            format!("{} exists and is not a folder", out.display()),
        ));
    }
    if let Some(input) = input {
        if let (Ok(i), Ok(o)) = (input.canonicalize(), out.canonicalize()) {
            if i.starts_with(&o) {
                return Err(MediaError::option(
                    "--out",
                    format!(
                        "the input {} lies inside {}, which packaging replaces as a whole; choose another --out",
                        input.display(),
                        out.display()
                    ),
                ));
            }
        }
    }
    let mut foreign = Vec::new();
    for entry in std::fs::read_dir(out).map_err(|e| MediaError::io(out, e))? {
        let entry = entry.map_err(|e| MediaError::io(out, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !is_package_file(&name) {
            foreign.push(name);
        }
    }
    if !foreign.is_empty() {
        foreign.sort();
        let shown = foreign
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ");
        let more = if foreign.len() > 3 {
            format!(" and {} more", foreign.len() - 3)
        } else {
            String::new()
        };
        return Err(MediaError::option(
            "--out",
            format!(
                "{} holds files a package does not write ({shown}{more}); packaging replaces the whole folder, so it refuses. Move them or choose a new folder",
                out.display()
            ),
        ));
    }
    Ok(())
}

/// Creates a fresh `.NAME.partial` folder beside `out` (deleting a stale one).
fn partial_dir(out: &Path) -> Result<PathBuf, MediaError> {
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| MediaError::io(&parent, e))?;
    let name = out.file_name().unwrap_or_default().to_string_lossy();
    let work = parent.join(format!(".{name}.partial"));
    if work.exists() {
        std::fs::remove_dir_all(&work).map_err(|e| MediaError::io(&work, e))?;
    }
    std::fs::create_dir(&work).map_err(|e| MediaError::io(&work, e))?;
    std::path::absolute(&work).map_err(|e| MediaError::io(&work, e))
}

/// Replaces `out` by `work` (renames; the old package, if any, is deleted afterwards).
fn move_into_place(work: &Path, out: &Path) -> Result<(), MediaError> {
    let old = work.with_file_name(format!(
        ".{}.old",
        out.file_name().unwrap_or_default().to_string_lossy()
    ));
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| MediaError::io(&old, e))?;
    }
    if out.exists() {
        std::fs::rename(out, &old).map_err(|e| MediaError::io(out, e))?;
    }
    std::fs::rename(work, out).map_err(|e| MediaError::io(out, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| MediaError::io(&old, e))?;
    }
    Ok(())
}

fn run_in(
    opts: &PackageOptions,
    tools: &Tools,
    plan: &Plan,
    caps: &crate::ffmpeg::Capabilities,
    work: &Path,
    name: &str,
    on_event: &mut dyn FnMut(Event),
) -> Result<Packaged, MediaError> {
    // 1. Encode.
    on_event(Event::Stage {
        name: format!("encoding {} rungs ({})", plan.rungs.len(), plan.encoder),
        total_s: plan.source.duration_s,
    });
    let t = Instant::now();
    run_with_progress(
        &tools.ffmpeg,
        &plan.encode_args,
        work,
        "encoding the ladder",
        &mut |s| on_event(Event::Progress { done_s: s }),
    )?;
    let encode_s = t.elapsed().as_secs_f64();

    // 2. Check the manifests and files.
    on_event(Event::Stage {
        name: "checking segments and key frames".into(),
        total_s: 0.0,
    });
    if opts.codec == Codec::Hevc {
        patch_hevc_codecs(tools, work)?;
    }
    let mpd = read_mpd(&work.join(MPD_NAME))?;
    let hls = read_hls(&work.join(HLS_NAME))?;
    check_presentation(work, plan, &mpd, &hls, on_event)?;
    let mut layouts: Vec<RenditionLayout> = Vec::with_capacity(mpd.representations.len());
    for r in &mpd.representations {
        layouts.push(check_rendition(tools, work, &r.init_url, &r.segment_urls)?);
    }

    // 3. Quality.
    let vmaf = opts.measure_quality && opts.vmaf && caps.has_libvmaf;
    if opts.measure_quality && opts.vmaf && !caps.has_libvmaf {
        on_event(Event::Note(
            "this FFmpeg has no libvmaf filter: measuring SSIM and PSNR only (Debian's ffmpeg lacks it; pass --ffmpeg PATH to one built with --enable-libvmaf)".into(),
        ));
    }
    let mut quality_tables = Vec::new();
    let mut measure_command = None;
    let mut quality_s = 0.0;
    if opts.measure_quality {
        on_event(Event::Stage {
            name: format!(
                "measuring {} against the source",
                if vmaf {
                    "SSIM, PSNR, VMAF"
                } else {
                    "SSIM, PSNR"
                }
            ),
            total_s: plan.source.duration_s,
        });
        let reference = Reference {
            input_args: plan.reference_args.clone(),
            width: plan.source.width,
            height: plan.source.height,
        };
        let renditions: Vec<Rendition> = layouts
            .iter()
            .map(|l| Rendition {
                input: l.input.clone(),
                frame_segment: l.frame_segment.clone(),
                segments: l.segment_start_s.len(),
            })
            .collect();
        measure_command = Some(shell_line(
            &tools.ffmpeg,
            &quality::measure_args(&reference, &renditions, vmaf),
        ));
        let t = Instant::now();
        let scores = quality::measure(tools, &reference, &renditions, vmaf, work, &mut |s| {
            on_event(Event::Progress { done_s: s })
        })?;
        quality_s = t.elapsed().as_secs_f64();
        quality_tables.push(QualityTable {
            metric: "ssim".into(),
            scores: scores.iter().map(|s| s.ssim.clone()).collect(),
        });
        quality_tables.push(QualityTable {
            metric: "psnr_db".into(),
            scores: scores.iter().map(|s| s.psnr_db.clone()).collect(),
        });
        if vmaf {
            quality_tables.push(QualityTable {
                metric: "vmaf".into(),
                scores: scores.iter().map(|s| s.vmaf.clone()).collect(),
            });
        }
    }

    // 4. Descriptor.
    let chunk_bytes: Vec<Vec<u64>> = mpd
        .representations
        .iter()
        .map(|r| {
            r.segment_urls
                .iter()
                .map(|u| {
                    let p = work.join(u);
                    std::fs::metadata(&p)
                        .map(|m| m.len())
                        .map_err(|e| MediaError::io(p, e))
                })
                .collect()
        })
        .collect::<Result<_, _>>()?;
    let ladder = Ladder {
        levels: mpd
            .representations
            .iter()
            .zip(&plan.rungs)
            .map(|(r, rung)| Level {
                bitrate_kbps: f64::from(rung.bitrate_kbps),
                width: r.width,
                height: r.height,
            })
            .collect(),
    };
    let video =
        Video::new(name, plan.segment_s, ladder, chunk_bytes, quality_tables).map_err(|e| {
            MediaError::output(
                work.join(DESCRIPTOR_NAME),
                format!("inconsistent package: {e}"),
            )
        })?;
    let mut descriptor = VideoDescriptor::from_video(&video);
    debug_assert_eq!(
        (descriptor.format.as_str(), descriptor.version),
        (FORMAT, VERSION)
    );
    descriptor.source = Some(serde_json::json!({
        "tool": "neuralstream package",
        "input": plan.source_description,
        "source_width": plan.source.width,
        "source_height": plan.source.height,
        "source_fps": plan.source.fps,
        "duration_s": plan.source.duration_s,
        "codec": opts.codec.name(),
        "encoder": plan.encoder,
        "preset": plan.preset,
        "ffmpeg": caps.version,
        "audio": plan.audio,
        "skipped_rungs": plan.skipped.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        "quality_reference": format!("source at {}x{} (renditions scaled up with bicubic)", plan.source.width, plan.source.height),
        "quality_metrics": quality::METRICS_DOC,
        "manifest": MPD_NAME,
        "hls": HLS_NAME,
        "representations": mpd.representations.iter().map(|r| serde_json::json!({
            "id": r.id, "codecs": r.codecs, "init": r.init_url, "segments": r.segment_urls,
        })).collect::<Vec<_>>(),
    }));
    let json = serde_json::to_string_pretty(&descriptor)
        .map_err(|e| MediaError::output(work.join(DESCRIPTOR_NAME), e.to_string()))?;
    let dpath = work.join(DESCRIPTOR_NAME);
    std::fs::write(&dpath, json).map_err(|e| MediaError::io(&dpath, e))?;
    Ok(Packaged {
        out: work.to_path_buf(),
        video,
        skipped: plan.skipped.clone(),
        encoder: plan.encoder,
        has_audio: plan.audio,
        encode_command: shell_line(&tools.ffmpeg, &plan.encode_args),
        measure_command,
        encode_s,
        quality_s,
        total_s: 0.0,
    })
}

/// Checks DASH and HLS against the plan and each other: one representation per rung, the same
/// segment count everywhere, the same segment files in both manifests, audio when planned.
fn check_presentation(
    dir: &Path,
    plan: &Plan,
    mpd: &Presentation,
    hls: &Presentation,
    on_event: &mut dyn FnMut(Event),
) -> Result<(), MediaError> {
    let mpd_path = dir.join(MPD_NAME);
    let bad = |reason: String| MediaError::output(&mpd_path, reason);
    if mpd.representations.len() != plan.rungs.len() {
        return Err(bad(format!(
            "has {} video representations, expected {} (one per rung)",
            mpd.representations.len(),
            plan.rungs.len()
        )));
    }
    let count = mpd.segment_count();
    for r in mpd.representations.iter() {
        if r.segment_urls.len() != count {
            return Err(bad(format!(
                "representation {} has {} segments, representation {} has {}; renditions must be aligned",
                mpd.representations[0].id,
                count,
                r.id,
                r.segment_urls.len()
            )));
        }
        for u in std::iter::once(&r.init_url).chain(&r.segment_urls) {
            if !dir.join(u).is_file() {
                return Err(bad(format!("lists {u}, which FFmpeg did not write")));
            }
        }
    }
    let expected = (plan.source.duration_s / plan.segment_s - 1e-3)
        .ceil()
        .max(1.0) as usize;
    if count != expected {
        on_event(Event::Note(format!(
            "{count} segments per rendition where {:.2} s / {} s suggests {expected}",
            plan.source.duration_s, plan.segment_s
        )));
    }
    if plan.audio && mpd.audio.is_empty() {
        return Err(bad(
            "has no audio adaptation set although the source has audio".into(),
        ));
    }
    let files = |p: &Presentation| -> Vec<Vec<String>> {
        p.representations
            .iter()
            .map(|r| {
                std::iter::once(r.init_url.clone())
                    .chain(r.segment_urls.iter().cloned())
                    .collect()
            })
            .collect()
    };
    if files(mpd) != files(hls) {
        return Err(MediaError::output(
            dir.join(HLS_NAME),
            "does not list the same segment files as the MPD",
        ));
    }
    Ok(())
}

/// FFmpeg 5.1 writes HEVC's codecs string as a bare `hvc1`, which players reject; replaces it with
/// the full RFC 6381 string (`hvc1.1.6.L<level>.90`: Main profile, main tier) in the MPD and the HLS
/// master playlist.
fn patch_hevc_codecs(tools: &Tools, dir: &Path) -> Result<(), MediaError> {
    let mpd_path = dir.join(MPD_NAME);
    let mpd = read_mpd(&mpd_path)?;
    let mut xml = std::fs::read_to_string(&mpd_path).map_err(|e| MediaError::io(&mpd_path, e))?;
    let hls_path = dir.join(HLS_NAME);
    let mut m3u8 = std::fs::read_to_string(&hls_path).map_err(|e| MediaError::io(&hls_path, e))?;
    for r in &mpd.representations {
        if r.codecs != "hvc1" {
            continue;
        }
        let first = r.segment_urls.first().cloned().unwrap_or_default();
        let input = crate::verify::concat_input(&r.init_url, &[first]);
        let out = std::process::Command::new(&tools.ffprobe)
            .args([
                "-v",
                "error",
                "-select_streams",
                "v:0",
                "-show_entries",
                "stream=level",
                "-of",
                "csv=p=0",
                &input,
            ])
            .current_dir(dir)
            .output()
            .map_err(|e| MediaError::ToolMissing {
                program: tools.ffprobe.display().to_string(),
                reason: e.to_string(),
            })?;
        let level: u32 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(120);
        let full = format!("hvc1.1.6.L{level}.90");
        let tag = format!("<Representation id=\"{}\"", r.id);
        if let Some(start) = xml.find(&tag) {
            let end = start + xml[start..].find('>').unwrap_or(0);
            let head = xml[start..end].replace("codecs=\"hvc1\"", &format!("codecs=\"{full}\""));
            xml.replace_range(start..end, &head);
        }
        // In the master playlist the variant line precedes its URI `media_<id>.m3u8`.
        let uri = format!("media_{}.m3u8", r.id);
        let lines: Vec<String> = m3u8.lines().map(str::to_string).collect();
        let mut patched = lines.clone();
        for i in 1..lines.len() {
            if lines[i].trim() == uri && lines[i - 1].starts_with("#EXT-X-STREAM-INF") {
                patched[i - 1] = lines[i - 1].replace("CODECS=\"hvc1", &format!("CODECS=\"{full}"));
            }
        }
        m3u8 = patched.join("\n") + "\n";
    }
    std::fs::write(&mpd_path, xml).map_err(|e| MediaError::io(&mpd_path, e))?;
    std::fs::write(&hls_path, m3u8).map_err(|e| MediaError::io(&hls_path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
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
        assert!(
            line.contains("-map 1:a:0") && line.contains("-c:a aac"),
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

    #[test]
    fn out_dir_rules() {
        let d = tempfile::tempdir().unwrap();
        let out = d.path().join("pkg");
        check_out_dir(&out, None).unwrap();
        std::fs::create_dir(&out).unwrap();
        check_out_dir(&out, None).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        let e = check_out_dir(&out, None).unwrap_err().to_string();
        assert!(e.contains("(notes.txt)") && e.contains("refuses"), "{e}");
        // A package beside a foreign file is still refused: the file would go with the folder.
        for name in [
            DESCRIPTOR_NAME,
            MPD_NAME,
            "media_0.m3u8",
            "init-0.m4s",
            "chunk-0-00001.m4s",
        ] {
            std::fs::write(out.join(name), "x").unwrap();
        }
        let e = check_out_dir(&out, None).unwrap_err().to_string();
        assert!(e.contains("(notes.txt)"), "{e}");
        std::fs::remove_file(out.join("notes.txt")).unwrap();
        check_out_dir(&out, None).unwrap();
        // An input inside the folder would be deleted with it.
        let input = out.join("clip.mp4");
        std::fs::write(&input, "v").unwrap();
        let e = check_out_dir(&out, Some(&input)).unwrap_err().to_string();
        assert!(e.contains("lies inside"), "{e}");
        std::fs::remove_file(&input).unwrap();
        std::fs::write(out.join("notes.txt"), "mine").unwrap();
        // A stale partial folder is replaced; the move swaps in the new content.
        let work = partial_dir(&out).unwrap();
        std::fs::write(work.join("new"), "1").unwrap();
        let again = partial_dir(&out).unwrap();
        assert!(!again.join("new").exists());
        std::fs::write(again.join(MPD_NAME), "x").unwrap();
        move_into_place(&again, &out).unwrap();
        assert!(out.join(MPD_NAME).is_file() && !out.join("notes.txt").exists());
        assert!(!again.exists());
    }
}
