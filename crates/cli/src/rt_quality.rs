//! `neuralstream rt quality-fit`: encodes game-like synthetic content over resolution x fps x
//! bitrate with FFmpeg, measures each encode's SSIM and PSNR against the source with
//! `neuralstream-media`'s stats readers, and writes the table `neuralstream-rt`'s opinion model
//! reads (`crates/rt/data/quality_table.json`; the model itself is `crates/rt/src/quality.rs`).
//!
//! Content: a third each of `testsrc2` (moving pattern, clock, counter), a `mandelbrot` zoom and
//! pixel-art `life` (10 generations per second drawn in 8x8 blocks), 1920x1080 at 60 fps, built by
//! `lavfi` so nothing is downloaded and the source is the same on every run. Encoder: x264 in a
//! real-time setting (`veryfast`, `zerolatency`: no B-frames, no look-ahead), CBR-like (maxrate =
//! target, VBV of half a second), one key frame at the start. Every encode is decoded, held to
//! 60 fps (a 30 fps encode shows each frame twice), scaled back to 1080p (bicubic) and compared with
//! the source frame by frame, so both resolution and frame rate show in the score.

use anyhow::{Context, Result};
use clap::Args;
use neuralstream_media::ffmpeg::{run_with_progress, Tools};
use neuralstream_media::quality::{parse_stats, psnr_from_mse};
use neuralstream_rt::quality::{QualityModel, QualityPoint, QualityTable, TABLE_FPS};
use std::path::{Path, PathBuf};

/// Flags of `neuralstream rt quality-fit`.
#[derive(Debug, Args)]
pub struct RtQualityFitArgs {
    /// Where to write the table (JSON).
    #[arg(
        long,
        default_value = "out/rt-quality/quality_table.json",
        value_name = "FILE"
    )]
    out: PathBuf,
    /// Length of the synthetic clip, s (a third per content).
    #[arg(long, default_value_t = 2.0, value_name = "S")]
    duration_s: f64,
    /// Comma-separated encoder targets, kbit/s.
    #[arg(
        long,
        default_value = "200,400,800,1600,3200,6400,12800",
        value_name = "LIST"
    )]
    bitrates_kbps: String,
    /// Folder for the encodes and stats files (default: a temporary folder, removed after).
    #[arg(long, value_name = "DIR")]
    work: Option<PathBuf>,
    /// The ffmpeg program (default: $NEURALSTREAM_FFMPEG, else ffmpeg on PATH).
    #[arg(long, value_name = "PATH")]
    ffmpeg: Option<PathBuf>,
}

/// Picture sizes of the table, `(width, height)`, as rt's `Resolution` has them.
const SIZES: [(u32, u32); 3] = [(854, 480), (1280, 720), (1920, 1080)];

/// The game-like source: 1920x1080, 60 fps, `duration_s` long (a third per content, whole
/// frames), time stamps `frame / 60` so that every comparison pairs frames by index.
fn source_graph(duration_s: f64) -> String {
    let part = ((duration_s * 60.0 / 3.0).round() as u32).max(1);
    format!(
        "testsrc2=size=1920x1080:rate=60,trim=end_frame={part}[q0];\
         mandelbrot=size=1920x1080:rate=60:maxiter=256,trim=end_frame={part}[q1];\
         life=size=240x135:rate=10:mold=10:ratio=0.5:death_color=#202080:life_color=#e0c040:seed=7,\
         scale=1920:1080:flags=neighbor,fps=60,trim=end_frame={part}[q2];\
         [q0][q1][q2]concat=n=3,setpts=N/(60*TB),format=yuv420p"
    )
}

/// One encode: its frame rate, target and file name.
struct Encode {
    fps: u32,
    target_kbps: f64,
    file: String,
}

/// Arguments of the one ffmpeg run that makes every encode of one picture size.
fn encode_args(duration_s: f64, (w, h): (u32, u32), encodes: &[Encode]) -> Vec<String> {
    let mut g = format!(
        "{},scale={w}:{h}:flags=bicubic,split={}",
        source_graph(duration_s),
        TABLE_FPS.len()
    );
    for f in TABLE_FPS {
        g += &format!("[s{f}]");
    }
    for f in TABLE_FPS {
        let mine: Vec<usize> = (0..encodes.len())
            .filter(|&k| encodes[k].fps == f)
            .collect();
        g += &format!(";[s{f}]fps={f},split={}", mine.len());
        for k in &mine {
            g += &format!("[e{k}]");
        }
    }
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    a.extend(["-filter_complex".into(), g]);
    for (k, e) in encodes.iter().enumerate() {
        let kbps = e.target_kbps;
        a.extend(
            [
                "-map",
                &format!("[e{k}]"),
                "-c:v",
                "libx264",
                "-preset",
                "veryfast",
                "-tune",
                "zerolatency",
                "-b:v",
                &format!("{kbps}k"),
                "-maxrate",
                &format!("{kbps}k"),
                "-bufsize",
                &format!("{}k", kbps / 2.0),
                "-g",
                "100000",
                "-an",
                &e.file,
            ]
            .map(String::from),
        );
    }
    a.extend(["-progress", "pipe:1", "-nostats"].map(String::from));
    a
}

/// Arguments of the one ffmpeg run that measures every encode of `files` against the source,
/// writing `q-ssim-K.log` and `q-psnr-K.log`.
fn measure_args(duration_s: f64, files: &[String]) -> Vec<String> {
    let n = files.len();
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .map(String::from)
        .to_vec();
    a.extend(["-f", "lavfi", "-i", &source_graph(duration_s)].map(String::from));
    for f in files {
        a.extend(["-i".to_string(), f.clone()]);
    }
    let mut g = format!("[0:v]split={}", 2 * n);
    for k in 0..2 * n {
        g += &format!("[r{k}]");
    }
    for k in 0..n {
        g += &format!(
            ";[{i}:v]setpts=PTS-STARTPTS,fps=60,setpts=N/(60*TB),scale=1920:1080:flags=bicubic,format=yuv420p,split=2[d{k}a][d{k}b]\
             ;[d{k}a][r{ka}]ssim=stats_file=q-ssim-{k}.log[o{ka}]\
             ;[d{k}b][r{kb}]psnr=stats_file=q-psnr-{k}.log[o{kb}]",
            i = k + 1,
            ka = 2 * k,
            kb = 2 * k + 1
        );
    }
    a.extend(["-filter_complex".into(), g]);
    for k in 0..2 * n {
        a.extend(["-map", &format!("[o{k}]"), "-f", "null", "-"].map(String::from));
    }
    a.extend(["-progress", "pipe:1", "-nostats"].map(String::from));
    a
}

/// Mean of a stats file's values after `key`; an error names the file.
fn mean_stat(path: &Path, key: &str) -> Result<f64> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let v = parse_stats(&text, key);
    anyhow::ensure!(!v.is_empty(), "{}: no frame was measured", path.display());
    Ok(v.iter().sum::<f64>() / v.len() as f64)
}

fn parse_bitrates(list: &str) -> Result<Vec<f64>> {
    let v: Vec<f64> = list
        .split(',')
        .map(|s| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|k| k.is_finite() && (10.0..=200_000.0).contains(k))
                .with_context(|| {
                    format!("--bitrates-kbps: '{s}' is not a bitrate from 10 to 200000 kbit/s")
                })
        })
        .collect::<Result<_>>()?;
    anyhow::ensure!(
        v.len() >= 2,
        "--bitrates-kbps: give at least two bitrates, e.g. 200,800,3200"
    );
    Ok(v)
}

/// Runs `neuralstream rt quality-fit`.
pub fn run_quality_fit(a: RtQualityFitArgs) -> Result<()> {
    let bitrates = parse_bitrates(&a.bitrates_kbps)?;
    anyhow::ensure!(
        a.duration_s.is_finite() && (0.5..=60.0).contains(&a.duration_s),
        "--duration-s {}: use 0.5 to 60 seconds",
        a.duration_s
    );
    let tools = Tools::locate(a.ffmpeg.as_deref(), None);
    let caps = tools.capabilities()?;
    anyhow::ensure!(
        caps.encoders.contains("libx264"),
        "{} has no libx264 encoder; install an FFmpeg built with it (Debian: apt-get install ffmpeg)",
        tools.ffmpeg.display()
    );
    let (work, scratch) = match &a.work {
        Some(w) => (w.clone(), false),
        None => (
            std::env::temp_dir().join(format!("neuralstream-quality-fit-{}", std::process::id())),
            true,
        ),
    };
    std::fs::create_dir_all(&work).with_context(|| format!("work folder {}", work.display()))?;
    let result = fit_in(&a, &bitrates, &tools, &caps.version, &work);
    if scratch {
        let _ = std::fs::remove_dir_all(&work);
    }
    let table = result?;
    QualityModel::fit(&table).map_err(|e| anyhow::anyhow!("the measured table: {e}"))?;
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("--out {}", a.out.display()))?;
    }
    std::fs::write(&a.out, serde_json::to_string_pretty(&table)? + "\n")
        .with_context(|| format!("--out {}", a.out.display()))?;
    println!(
        "{:>6} {:>4} {:>10} {:>10} {:>8} {:>8}",
        "height", "fps", "target", "kbit/s", "ssim", "psnr"
    );
    for p in &table.points {
        println!(
            "{:>6} {:>4} {:>10} {:>10} {:>8.5} {:>8.2}",
            p.height, p.fps, p.target_kbps, p.bitrate_kbps, p.ssim, p.psnr_db
        );
    }
    println!("wrote {} ({} encodes)", a.out.display(), table.points.len());
    Ok(())
}

/// Encodes and measures every (size, fps, bitrate) in `work`.
fn fit_in(
    a: &RtQualityFitArgs,
    bitrates: &[f64],
    tools: &Tools,
    version: &str,
    work: &Path,
) -> Result<QualityTable> {
    let started = std::time::Instant::now();
    let mut points = Vec::new();
    for size in SIZES {
        let encodes: Vec<Encode> = TABLE_FPS
            .iter()
            .flat_map(|&fps| {
                bitrates.iter().map(move |&k| Encode {
                    fps,
                    target_kbps: k,
                    file: format!("{}p{fps}-{k}k.mp4", size.1),
                })
            })
            .collect();
        eprintln!("encoding {} renditions at {}p ...", encodes.len(), size.1);
        let args = encode_args(a.duration_s, size, &encodes);
        run_with_progress(&tools.ffmpeg, &args, work, "encoding", &mut |_| {})?;
        eprintln!("measuring SSIM/PSNR at {}p against the source ...", size.1);
        let files: Vec<String> = encodes.iter().map(|e| e.file.clone()).collect();
        let args = measure_args(a.duration_s, &files);
        run_with_progress(&tools.ffmpeg, &args, work, "measuring", &mut |_| {})?;
        for (k, e) in encodes.iter().enumerate() {
            let file = work.join(&e.file);
            let bytes = std::fs::metadata(&file)
                .with_context(|| format!("{}", file.display()))?
                .len();
            points.push(QualityPoint {
                height: size.1,
                fps: e.fps,
                target_kbps: e.target_kbps,
                bitrate_kbps: (bytes as f64 * 8.0 / a.duration_s / 1000.0 * 10.0).round() / 10.0,
                ssim: (mean_stat(&work.join(format!("q-ssim-{k}.log")), "All:")? * 1e5).round()
                    / 1e5,
                psnr_db: (psnr_from_mse(mean_stat(
                    &work.join(format!("q-psnr-{k}.log")),
                    "mse_avg:",
                )?) * 100.0)
                    .round()
                    / 100.0,
            });
        }
    }
    Ok(QualityTable {
        provenance: format!(
            "neuralstream rt quality-fit --duration-s {} --bitrates-kbps {}; {}; libx264 veryfast \
             zerolatency, maxrate = target, VBV 0.5 s, one key frame; content: 1920x1080 60 fps, a \
             third each testsrc2, mandelbrot zoom, pixel-art life; SSIM and PSNR against the source \
             after holding to 60 fps and scaling back to 1080p (bicubic); bitrate_kbps from the MP4 \
             file size; {:.0} s",
            a.duration_s,
            a.bitrates_kbps,
            version,
            started.elapsed().as_secs_f64()
        ),
        points,
    })
}
