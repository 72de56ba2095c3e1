//! `neuralstream package` and `neuralstream sample-video`: flags in, `neuralstream_media` calls,
//! a progress bar driven by FFmpeg's `-progress` output, a summary table out.

use crate::progress::Progress;
use anyhow::{bail, Context, Result};
use clap::Args;
use neuralstream_media::codec::Codec;
use neuralstream_media::ffmpeg::{run_with_progress, Tools};
use neuralstream_media::ladder::parse_ladder;
use neuralstream_media::package::{package, Event, Input, PackageOptions};
use neuralstream_media::synthetic::SyntheticSource;
use std::path::PathBuf;

/// Arguments of `neuralstream package`.
#[derive(Debug, Args)]
pub struct PackageArgs {
    /// Source video file (anything FFmpeg reads). Omit it with --synthetic.
    #[arg(
        value_name = "INPUT",
        required_unless_present = "synthetic",
        conflicts_with = "synthetic"
    )]
    pub input: Option<PathBuf>,
    /// Output folder: manifest.mpd, master.m3u8 (+ media_N.m3u8), init-N.m4s, chunk-N-NNNNN.m4s and
    /// video.json. Built in a hidden sibling folder and moved into place when complete; an existing
    /// package there is replaced.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Package a deterministic synthetic source of this many seconds instead of INPUT (FFmpeg's
    /// testsrc2 with film grain switching off/light/heavy every 4 s, and a beeping sine).
    #[arg(long, value_name = "SECONDS")]
    pub synthetic: Option<f64>,
    /// Frame height of the synthetic source (16:9).
    #[arg(long, default_value_t = 720, value_name = "LINES")]
    pub synthetic_height: u32,
    /// Ladder as HEIGHTp@BITRATE,... e.g. 360p@800k,720p@2.5M. Default: 240p, 360p, 480p, 720p,
    /// 1080p at bitrates for the codec (H.264: 400k, 800k, 1400k, 2800k, 5000k; HEVC and VP9 35%
    /// less; AV1 50% less), minus rungs taller than the source.
    #[arg(long, value_name = "LIST")]
    pub ladder: Option<String>,
    /// With --ladder, drop rungs taller than the source instead of refusing.
    #[arg(long)]
    pub skip_taller: bool,
    /// Video codec: h264 (libx264), hevc (libx265; browsers on Linux cannot play it), vp9
    /// (libvpx-vp9) or av1 (libsvtav1, else libaom-av1).
    #[arg(long, default_value = "h264", value_name = "CODEC")]
    pub codec: String,
    /// Segment duration, seconds; every segment starts with a key frame in every rendition.
    #[arg(long, default_value_t = 4.0, value_name = "S")]
    pub segment_s: f64,
    /// Encoder speed preset: x264/x265 names (default veryfast / ultrafast), VP9 cpu-used 0..8
    /// (default 8), SVT-AV1 preset 0..13 (default 12), libaom cpu-used 0..8 (default 8).
    #[arg(long, value_name = "PRESET")]
    pub preset: Option<String>,
    /// Video name in video.json (default: the output folder's name).
    #[arg(long)]
    pub name: Option<String>,
    /// Skip the per-segment quality measurement (SSIM, PSNR, VMAF).
    #[arg(long)]
    pub no_quality: bool,
    /// Do not measure VMAF even when the FFmpeg has libvmaf.
    #[arg(long)]
    pub no_vmaf: bool,
    /// Leave the source's audio out.
    #[arg(long)]
    pub no_audio: bool,
    /// ffmpeg executable (default: $NEURALSTREAM_FFMPEG, else ffmpeg on PATH).
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
    /// ffprobe executable (default: $NEURALSTREAM_FFPROBE, else beside --ffmpeg, else on PATH).
    #[arg(long, value_name = "PATH")]
    pub ffprobe: Option<PathBuf>,
    /// Print the FFmpeg command lines that were run.
    #[arg(long)]
    pub show_commands: bool,
}

/// Arguments of `neuralstream sample-video`.
#[derive(Debug, Args)]
pub struct SampleVideoArgs {
    /// Output file (MP4, H.264 CRF 12 + AAC).
    #[arg(value_name = "OUT.mp4")]
    pub out: PathBuf,
    /// Duration, seconds.
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub seconds: f64,
    /// Frame height (16:9).
    #[arg(long, default_value_t = 720, value_name = "LINES")]
    pub height: u32,
    /// ffmpeg executable (default: $NEURALSTREAM_FFMPEG, else ffmpeg on PATH).
    #[arg(long, value_name = "PATH")]
    pub ffmpeg: Option<PathBuf>,
}

/// One stage's display over 1000 steps (a bar on a terminal, a line every few seconds elsewhere).
fn bar() -> Progress {
    Progress::new(
        "package",
        1000,
        "",
        "{msg:42} [{bar:30}] {percent:>3}% {elapsed_precise} (eta {eta})",
    )
}

/// Runs `neuralstream package`.
pub fn run(args: PackageArgs) -> Result<()> {
    let input = match (&args.input, args.synthetic) {
        (Some(p), None) => Input::File(p.clone()),
        (None, Some(s)) => Input::Synthetic(SyntheticSource::new(s, args.synthetic_height)?),
        _ => bail!("give either INPUT or --synthetic SECONDS"),
    };
    let mut opts = PackageOptions::new(input, &args.out);
    opts.codec = Codec::from_name(&args.codec)?;
    opts.ladder = args.ladder.as_deref().map(parse_ladder).transpose()?;
    opts.skip_taller = args.skip_taller;
    opts.segment_s = args.segment_s;
    opts.preset = args.preset.clone();
    opts.name = args.name.clone();
    opts.measure_quality = !args.no_quality;
    opts.vmaf = !args.no_vmaf;
    opts.audio = !args.no_audio;
    let tools = Tools::locate(args.ffmpeg.as_deref(), args.ffprobe.as_deref());

    let mut pb: Option<Progress> = None;
    let mut total_s = 0.0;
    let mut on_event = |e: Event| match e {
        Event::Stage { name, total_s: t } => {
            if let Some(p) = pb.take() {
                p.finish();
            }
            total_s = t;
            let p = bar();
            p.set_message(name);
            if t <= 0.0 {
                p.set_length(0);
            }
            pb = Some(p);
        }
        Event::Progress { done_s } => {
            if let Some(p) = &pb {
                if total_s > 0.0 {
                    p.set_position(((done_s / total_s).clamp(0.0, 1.0) * 1000.0) as u64);
                }
            }
        }
        Event::Note(msg) => match &pb {
            Some(p) => p.println(format!("note: {msg}")),
            None => eprintln!("note: {msg}"),
        },
    };
    let result = package(&opts, &tools, &mut on_event);
    if let Some(p) = pb.take() {
        match &result {
            Ok(_) => p.finish(),
            Err(_) => p.abandon(),
        }
    }
    let done = result.with_context(|| {
        format!(
            "packaging into {} failed; nothing was written there (a re-run starts afresh)",
            args.out.display()
        )
    })?;

    let v = &done.video;
    say!(
        "packaged {} chunk{} x {} levels of {} s ({}{}) into {}",
        v.num_chunks(),
        if v.num_chunks() == 1 { "" } else { "s" },
        v.ladder.len(),
        v.chunk_duration_s,
        done.encoder,
        if done.has_audio { " + audio" } else { "" },
        done.out.display()
    );
    let ssim = v.quality("ssim");
    let psnr = v.quality("psnr_db");
    let vmaf = v.quality("vmaf");
    say!(
        "{:>6} {:>11} {:>12} {:>12} {:>8} {:>9}{}",
        "level",
        "size",
        "target kbps",
        "actual kbps",
        "SSIM",
        "PSNR dB",
        if vmaf.is_some() { "      VMAF" } else { "" }
    );
    let mean = |xs: &[f64]| xs.iter().sum::<f64>() / xs.len().max(1) as f64;
    for (l, level) in v.ladder.levels.iter().enumerate() {
        // Full chunks only: the last one is usually shorter.
        let full = v.num_chunks().saturating_sub(1).max(1);
        let bytes: u64 = v.chunk_bytes[l][..full].iter().sum();
        let duration_s = v.chunk_duration_s * full as f64;
        let q = |t: Option<&neuralstream_core::video::QualityTable>, p: usize| {
            t.map_or("-".to_string(), |t| format!("{:.*}", p, mean(&t.scores[l])))
        };
        say!(
            "{:>6} {:>11} {:>12.0} {:>12.0} {:>8} {:>9}{}",
            l,
            format!("{}x{}", level.width, level.height),
            level.bitrate_kbps,
            bytes as f64 * 8.0 / 1000.0 / duration_s,
            q(ssim, 4),
            q(psnr, 2),
            if vmaf.is_some() {
                format!(" {:>9}", q(vmaf, 2))
            } else {
                String::new()
            }
        );
    }
    say!(
        "time: encode {:.1} s, quality {:.1} s, total {:.1} s",
        done.encode_s,
        done.quality_s,
        done.total_s
    );
    if args.show_commands {
        say!(
            "encode command (run in the output folder):\n  {}",
            done.encode_command
        );
        if let Some(m) = &done.measure_command {
            say!("quality command (run in the output folder):\n  {m}");
        }
    }
    say!(
        "try: neuralstream bench --video {} --qoe {}",
        done.out.join("video.json").display(),
        if v.quality("ssim").is_some() {
            "ssim"
        } else {
            "lin"
        }
    );
    Ok(())
}

/// Runs `neuralstream sample-video`.
pub fn run_sample(args: SampleVideoArgs) -> Result<()> {
    let source = SyntheticSource::with_flags(args.seconds, args.height, ["--seconds", "--height"])?;
    let tools = Tools::locate(args.ffmpeg.as_deref(), None);
    if let Some(dir) = args.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the folder {}", dir.display()))?;
    }
    // Write under a temporary name beside OUT, then rename: no half-written file under OUT.
    let file_name = args
        .out
        .file_name()
        .context("OUT.mp4 must name a file")?
        .to_string_lossy()
        .into_owned();
    anyhow::ensure!(
        !args.out.is_dir(),
        "{} is a folder; give a file name, e.g. {}",
        args.out.display(),
        args.out.join("sample.mp4").display()
    );
    let ext = args
        .out
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    anyhow::ensure!(
        matches!(ext.as_deref(), Some("mp4" | "m4v" | "mov")),
        "{}: the sample is an MP4 file (H.264 + AAC); name it .mp4",
        args.out.display()
    );
    let tmp = args.out.with_file_name(format!(".{file_name}.partial.mp4"));
    let pb = bar();
    pb.set_message(format!("writing {}", source.describe()));
    let cwd = std::env::current_dir().context("no current folder")?;
    let result = run_with_progress(
        &tools.ffmpeg,
        &source.write_args(&tmp.to_string_lossy()),
        &cwd,
        "writing the sample video",
        &mut |s| pb.set_position(((s / source.duration_s).clamp(0.0, 1.0) * 1000.0) as u64),
    );
    if let Err(e) = result {
        pb.abandon();
        let _ = std::fs::remove_file(&tmp);
        return Err(e.into());
    }
    pb.finish();
    if let Err(e) = std::fs::rename(&tmp, &args.out) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).with_context(|| format!("cannot move the video to {}", args.out.display()));
    }
    say!("wrote {} ({})", args.out.display(), source.describe());
    Ok(())
}
