//! Per-segment quality of every rendition against the source, in **one** FFmpeg pass.
//!
//! The source is decoded once and `split` into one reference branch per rendition and metric; each
//! rendition is decoded once (its init and media segments joined with FFmpeg's `concat:` protocol),
//! scaled back to the source's display size with bicubic scaling and compared with the `ssim`,
//! `psnr` (and, when this FFmpeg has it, `libvmaf`) filters, whose per-frame stats files are then
//! grouped by segment. The segment of a frame comes from the rendition's own packet timestamps, so
//! the grouping is exact for any frame rate.

use crate::error::MediaError;
use crate::ffmpeg::{run_with_progress, Tools};
use std::path::Path;

/// How a segment's score is made from its frames' scores.
///
/// * `ssim`: mean of the frames' `All` SSIM (0..1).
/// * `psnr_db`: `10 log10(255^2 / mean MSE)` over the frames (mean-squared-error pooling, so one
///   perfect frame does not make the segment infinite), at most [`PSNR_CAP_DB`].
/// * `vmaf`: mean of the frames' VMAF (0..100).
pub const METRICS_DOC: &str = "ssim (mean of frames), psnr_db (from the mean MSE), vmaf (mean)";

/// PSNR reported for identical pictures, dB.
pub const PSNR_CAP_DB: f64 = 100.0;

/// One rendition to measure.
#[derive(Debug, Clone)]
pub struct Rendition {
    /// FFmpeg input for the rendition, e.g. `concat:init-0.m4s|chunk-0-00001.m4s|...`.
    pub input: String,
    /// Segment of each decoded frame, in presentation order (`frame_segment[n]` for frame `n`).
    pub frame_segment: Vec<usize>,
    /// Number of media segments.
    pub segments: usize,
}

/// Per-segment scores of one rendition.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SegmentScores {
    /// Mean SSIM per segment.
    pub ssim: Vec<f64>,
    /// PSNR per segment, dB.
    pub psnr_db: Vec<f64>,
    /// Mean VMAF per segment (empty when VMAF was not measured).
    pub vmaf: Vec<f64>,
}

/// The reference: FFmpeg input arguments for the source and its display size.
#[derive(Debug, Clone)]
pub struct Reference {
    /// Input arguments, e.g. `["-i", "/abs/in.mp4"]` or `["-f", "lavfi", "-i", "testsrc2=..."]`.
    pub input_args: Vec<String>,
    /// Display width, pixels.
    pub width: u32,
    /// Display height, pixels.
    pub height: u32,
}

/// Builds the measuring command's arguments (run in `cwd`, where the stats files are written as
/// `q-ssim-K.log`, `q-psnr-K.log`, `q-vmaf-K.csv`).
pub fn measure_args(reference: &Reference, renditions: &[Rendition], vmaf: bool) -> Vec<String> {
    let per = if vmaf { 3 } else { 2 };
    let n = renditions.len();
    let mut a: Vec<String> = ["-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    a.extend(reference.input_args.iter().cloned());
    for r in renditions {
        a.push("-i".into());
        a.push(r.input.clone());
    }
    let (w, h) = (reference.width, reference.height);
    let mut g = format!(
        "[0:v:0]setpts=PTS-STARTPTS,format=yuv420p,split={}",
        n * per
    );
    for k in 0..n {
        for m in 0..per {
            g += &format!("[r{k}_{m}]");
        }
    }
    for k in 0..n {
        g += &format!(
            ";[{i}:v:0]setpts=PTS-STARTPTS,scale={w}:{h}:flags=bicubic,format=yuv420p,split={per}",
            i = k + 1
        );
        for m in 0..per {
            g += &format!("[d{k}_{m}]");
        }
        g += &format!(";[d{k}_0][r{k}_0]ssim=stats_file=q-ssim-{k}.log[o{k}_0]");
        g += &format!(";[d{k}_1][r{k}_1]psnr=stats_file=q-psnr-{k}.log[o{k}_1]");
        if vmaf {
            g += &format!(
                ";[d{k}_2][r{k}_2]libvmaf=log_fmt=csv:log_path=q-vmaf-{k}.csv:n_threads={threads}[o{k}_2]",
                threads = std::thread::available_parallelism().map_or(2, |n| n.get())
            );
        }
    }
    a.push("-filter_complex".into());
    a.push(g);
    for k in 0..n {
        for m in 0..per {
            a.extend([
                "-map".to_string(),
                format!("[o{k}_{m}]"),
                "-f".into(),
                "null".into(),
                "-".into(),
            ]);
        }
    }
    a.extend(
        ["-progress", "pipe:1", "-nostats"]
            .iter()
            .map(|s| s.to_string()),
    );
    a
}

/// Runs the measurement in `cwd` and returns each rendition's per-segment scores.
pub fn measure(
    tools: &Tools,
    reference: &Reference,
    renditions: &[Rendition],
    vmaf: bool,
    cwd: &Path,
    on_progress: &mut dyn FnMut(f64),
) -> Result<Vec<SegmentScores>, MediaError> {
    let args = measure_args(reference, renditions, vmaf);
    run_with_progress(
        &tools.ffmpeg,
        &args,
        cwd,
        "measuring quality (SSIM/PSNR) against the source",
        on_progress,
    )?;
    let mut out = Vec::with_capacity(renditions.len());
    for (k, r) in renditions.iter().enumerate() {
        let read = |name: String| {
            let p = cwd.join(&name);
            let text = std::fs::read_to_string(&p).map_err(|e| MediaError::io(&p, e))?;
            let _ = std::fs::remove_file(&p);
            Ok::<_, MediaError>((p, text))
        };
        let (p, ssim_log) = read(format!("q-ssim-{k}.log"))?;
        let ssim = pool(&p, &parse_stats(&ssim_log, "All:"), r, Pool::Mean)?;
        let (p, psnr_log) = read(format!("q-psnr-{k}.log"))?;
        let psnr_db = pool(&p, &parse_stats(&psnr_log, "mse_avg:"), r, Pool::Psnr)?;
        let vmaf_scores = if vmaf {
            let (p, csv) = read(format!("q-vmaf-{k}.csv"))?;
            let frames = parse_vmaf_csv(&csv).map_err(|reason| MediaError::output(&p, reason))?;
            pool(&p, &frames, r, Pool::Mean)?
        } else {
            Vec::new()
        };
        out.push(SegmentScores {
            ssim,
            psnr_db,
            vmaf: vmaf_scores,
        });
    }
    Ok(out)
}

/// Reads the value after `key` on every line of an ssim/psnr stats file, in frame order.
pub fn parse_stats(text: &str, key: &str) -> Vec<f64> {
    text.lines()
        .filter_map(|l| {
            let rest = &l[l.find(key)? + key.len()..];
            let v = rest.split_whitespace().next()?;
            match v {
                "inf" => Some(f64::INFINITY),
                v => v.parse().ok(),
            }
        })
        .collect()
}

/// Reads the `vmaf` column of libvmaf's CSV log, in frame order.
pub fn parse_vmaf_csv(text: &str) -> Result<Vec<f64>, String> {
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = lines.next().ok_or("the VMAF log is empty")?;
    let col = header
        .split(',')
        .position(|c| c.trim() == "vmaf")
        .ok_or("the VMAF log has no 'vmaf' column")?;
    lines
        .enumerate()
        .map(|(i, l)| {
            l.split(',')
                .nth(col)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| format!("line {}: no VMAF value", i + 2))
        })
        .collect()
}

#[derive(Clone, Copy)]
enum Pool {
    Mean,
    /// Input values are MSEs; output is PSNR in dB.
    Psnr,
}

fn pool(path: &Path, frames: &[f64], r: &Rendition, how: Pool) -> Result<Vec<f64>, MediaError> {
    if frames.is_empty() {
        return Err(MediaError::output(path, "no frame was measured"));
    }
    let mut sum = vec![0.0; r.segments];
    let mut count = vec![0usize; r.segments];
    for (n, v) in frames.iter().enumerate() {
        // Frames past the rendition's own (the reference may be a frame longer) count in the last
        // segment.
        let seg = r
            .frame_segment
            .get(n)
            .or(r.frame_segment.last())
            .copied()
            .unwrap_or(0)
            .min(r.segments.saturating_sub(1));
        sum[seg] += v;
        count[seg] += 1;
    }
    sum.iter()
        .zip(&count)
        .enumerate()
        .map(|(s, (&total, &c))| {
            if c == 0 {
                return Err(MediaError::output(
                    path,
                    format!("segment {} has no measured frame", s + 1),
                ));
            }
            let mean = total / c as f64;
            Ok(match how {
                Pool::Mean => mean,
                Pool::Psnr => psnr_from_mse(mean),
            })
        })
        .collect()
}

/// PSNR of 8-bit pictures from a mean squared error, capped at [`PSNR_CAP_DB`].
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 {
        PSNR_CAP_DB
    } else {
        (10.0 * (255.0f64 * 255.0 / mse).log10()).min(PSNR_CAP_DB)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_parse_and_pool() {
        let ssim = "n:1 Y:0.94 U:0.94 V:0.93 All:0.941210 (12.3)\nn:2 Y:0.9 U:0.9 V:0.9 All:0.9 (10.0)\nn:3 All:0.5 (3)\n";
        let v = parse_stats(ssim, "All:");
        assert_eq!(v, [0.94121, 0.9, 0.5]);
        let psnr = "n:1 mse_avg:54.31 mse_y:37.99 psnr_avg:30.78\nn:2 mse_avg:0.00 psnr_avg:inf\n";
        assert_eq!(parse_stats(psnr, "mse_avg:"), [54.31, 0.0]);
        assert_eq!(parse_stats("psnr_avg:inf", "psnr_avg:"), [f64::INFINITY]);
        let r = Rendition {
            input: String::new(),
            frame_segment: vec![0, 0, 1],
            segments: 2,
        };
        let p = Path::new("x.log");
        let pooled = pool(p, &v, &r, Pool::Mean).unwrap();
        assert!((pooled[0] - 0.920605).abs() < 1e-12 && pooled[1] == 0.5);
        // One extra frame goes to the last segment; a segment with no frame is an error.
        assert_eq!(
            pool(p, &[1.0, 1.0, 1.0, 3.0], &r, Pool::Mean).unwrap()[1],
            2.0
        );
        let e = pool(p, &[1.0], &r, Pool::Mean).unwrap_err().to_string();
        assert!(e.contains("segment 2 has no measured frame"), "{e}");
        let db = pool(p, &[65.025, 0.0, 0.0], &r, Pool::Psnr).unwrap();
        assert!(
            (db[0] - 33.0103).abs() < 1e-3 && db[1] == PSNR_CAP_DB,
            "{db:?}"
        );
    }

    #[test]
    fn vmaf_csv() {
        let csv = "Frame,integer_motion2,integer_adm2,vmaf\n0,0.0,0.9,91.5\n1,1.0,0.9,93.5\n";
        assert_eq!(parse_vmaf_csv(csv).unwrap(), [91.5, 93.5]);
        assert!(parse_vmaf_csv("Frame,x\n0,1\n")
            .unwrap_err()
            .contains("'vmaf'"));
    }

    #[test]
    fn one_pass_graph() {
        let reference = Reference {
            input_args: vec!["-i".into(), "src.mp4".into()],
            width: 640,
            height: 360,
        };
        let r = |i: usize| Rendition {
            input: format!("concat:init-{i}.m4s|chunk-{i}-00001.m4s"),
            frame_segment: vec![0],
            segments: 1,
        };
        let a = measure_args(&reference, &[r(0), r(1)], false);
        let line = a.join(" ");
        // The source is decoded once and split four ways (2 renditions x 2 metrics).
        assert_eq!(line.matches("src.mp4").count(), 1, "{line}");
        assert!(
            line.contains(
                "[0:v:0]setpts=PTS-STARTPTS,format=yuv420p,split=4[r0_0][r0_1][r1_0][r1_1]"
            ),
            "{line}"
        );
        assert!(line.contains("scale=640:360:flags=bicubic"), "{line}");
        assert_eq!(line.matches("-f null -").count(), 4, "{line}");
        assert!(measure_args(&reference, &[r(0)], true)
            .join(" ")
            .contains("libvmaf=log_fmt=csv"));
    }
}
