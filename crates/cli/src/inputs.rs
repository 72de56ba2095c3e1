//! Loading traces and videos from flags, with built-in defaults.

use anyhow::{Context, Result};
use clap::Args;
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::synthetic::{builtin_video, TraceGenerator};
use neuralstream_data::{load_traces, load_video, TraceFormat};
use neuralstream_sim::{SimConfig, SimError};
use std::path::{Path, PathBuf};

/// Most synthetic traces generated in memory for one run (about 12 KB each).
pub const MAX_SYNTHETIC_TRACES: usize = 100_000;

/// Loads traces from `path`, or generates `count` synthetic ones from `seed` when `path` is `None`.
/// Returns the traces and a description of their source.
pub fn traces(
    path: Option<&Path>,
    format: TraceFormat,
    count: usize,
    seed: u64,
) -> Result<(Vec<Trace>, String)> {
    match path {
        Some(p) => {
            let t = load_traces(p, format)
                .with_context(|| format!("cannot load traces from --traces {}", p.display()))?;
            Ok((t, p.display().to_string()))
        }
        None => {
            anyhow::ensure!(
                (1..=MAX_SYNTHETIC_TRACES).contains(&count),
                "--synthetic-traces must be between 1 and {MAX_SYNTHETIC_TRACES}, got {count} \
                 (for more, write them once with `neuralstream traces` and pass --traces)"
            );
            Ok((
                TraceGenerator::default().traces(seed, count),
                format!("synthetic:seed={seed},count={count}"),
            ))
        }
    }
}

/// What `bench` and `train` play and how they score it: traces, video and QoE model.
#[derive(Debug, Clone, Args)]
pub struct InputArgs {
    /// Trace file or folder (every file in it is a trace; Pensieve cooked or Mahimahi format).
    /// Without it, synthetic traces are generated (see --synthetic-traces and --seed). `train`
    /// holds a validation split of them out to select its checkpoint: never pass test traces to it.
    #[arg(long, value_name = "PATH")]
    pub traces: Option<PathBuf>,
    /// Trace file format: auto (detect per file), cooked (`time_s Mbit/s`) or mahimahi (ms stamps).
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    pub trace_format: TraceFormat,
    /// Video: a NeuralStream video.json, a folder holding one, or a folder of Pensieve
    /// video_size_0..N files. Without it, a built-in 48-chunk VBR video on Pensieve's ladder.
    #[arg(long, value_name = "PATH")]
    pub video: Option<PathBuf>,
    /// QoE model: lin (Pensieve QoE_lin: Mbit/s - 4.3 x stall s - |change| Mbit/s), log (mu 2.66),
    /// hd (Pensieve's HD utilities, mu 8), or a quality-based model on the video's per-chunk
    /// scores (from `neuralstream package`): ssim (Puffer: SSIM dB - 100 x stall s - |change| dB),
    /// vmaf (Comyco: 0.8469 VMAF - 28.7959 x stall s + 0.2979 x VMAF rise - 1.0610 x VMAF drop) or
    /// psnr (as ssim, on PSNR dB). `train` optimises it. QoE_lin's stall penalty is the video's
    /// top bitrate in Mbit/s (4.3 on Pensieve's ladder, as in the paper); `MODEL:MU` sets any
    /// model's penalty per stall second explicitly (e.g. lin:35, lin:4.3). Results record it.
    #[arg(long, default_value = "lin", value_name = "MODEL")]
    pub qoe: String,
}

/// What [`InputArgs::load`] read.
#[derive(Debug)]
pub struct Inputs {
    /// The `--qoe` model, checked to fit the video.
    pub qoe: QoeModel,
    /// The video.
    pub video: Video,
    /// The traces.
    pub traces: Vec<Trace>,
    /// Where the traces came from (a path or the synthetic generator's settings).
    pub source: String,
}

impl InputArgs {
    /// Loads the video, parses `--qoe` for it and checks the model fits it, then loads the traces (or
    /// generates `synthetic` of them from `seed`).
    pub fn load(&self, synthetic: usize, seed: u64) -> Result<Inputs> {
        let video = video(self.video.as_deref())?;
        let qoe = QoeModel::for_video(&self.qoe, &video).context("in --qoe")?;
        check_qoe_fits(&qoe, &self.qoe, &video)?;
        let (traces, source) = traces(self.traces.as_deref(), self.trace_format, synthetic, seed)?;
        Ok(Inputs {
            qoe,
            video,
            traces,
            source,
        })
    }
}

/// The link and player settings `bench` and `play` share (Pensieve's by default).
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Round-trip time added to every download, ms (Pensieve: 80).
    #[arg(long, default_value_t = 80.0, value_name = "MS")]
    pub rtt_ms: f64,
    /// Player buffer cap, seconds; above it the player idles (Pensieve: 60).
    #[arg(long, default_value_t = 60.0, value_name = "S")]
    pub buffer_cap_s: f64,
    /// Fraction of the link's capacity that carries payload (Pensieve: 0.95).
    #[arg(long, default_value_t = 0.95, value_name = "FRACTION")]
    pub payload_fraction: f64,
}

/// The flag that sets each [`SimConfig`] field [`SimConfig::validate`] may name.
const SIM_FLAGS: &[(&str, &str)] = &[
    ("rtt_ms", "--rtt-ms"),
    ("buffer_cap_ms", "--buffer-cap-s (in ms)"),
    ("payload_fraction", "--payload-fraction"),
    ("max_chunks", "--max-chunks"),
];

impl LinkArgs {
    /// Pensieve's simulator with these settings and at most `max_chunks` chunks per session (0:
    /// all), checked by [`SimConfig::validate`] (the error names the flag) and for a buffer cap of
    /// at least one chunk of `video`.
    pub fn sim_config(&self, video: &Video, max_chunks: usize) -> Result<SimConfig> {
        anyhow::ensure!(
            self.buffer_cap_s >= video.chunk_duration_s,
            "--buffer-cap-s must be at least one chunk ({} s), got {:?}",
            video.chunk_duration_s,
            self.buffer_cap_s
        );
        let sim = SimConfig {
            rtt_ms: self.rtt_ms,
            buffer_cap_ms: self.buffer_cap_s * 1000.0,
            payload_fraction: self.payload_fraction,
            max_chunks: (max_chunks > 0).then_some(max_chunks),
            ..SimConfig::pensieve()
        };
        sim.validate().map_err(|e| match e {
            SimError::InvalidConfig { field, problem } => {
                let flag = SIM_FLAGS
                    .iter()
                    .find(|(f, _)| *f == field)
                    .map_or(field, |f| f.1);
                anyhow::anyhow!("{flag} {problem}")
            }
            other => other.into(),
        })?;
        Ok(sim)
    }
}

/// Checks that the `--qoe` model `qoe` (named `name` on the command line) can score `video`: the
/// quality-based models need the video's per-chunk scores.
pub fn check_qoe_fits(qoe: &QoeModel, name: &str, video: &Video) -> Result<()> {
    qoe.compile(video)
        .map(|_| ())
        .with_context(|| format!("--qoe {name} does not fit the video"))
}

/// Loads the video at `path`, or the built-in VBR video.
pub fn video(path: Option<&Path>) -> Result<Video> {
    match path {
        Some(p) => load_video(p)
            .with_context(|| format!("cannot load the video from --video {}", p.display())),
        None => Ok(builtin_video()),
    }
}

/// Refuses a `--skip-chunks` that leaves none of the `played` chunks of a session to score (the
/// run would print a table of zeros).
pub fn check_skip_chunks(
    skip: usize,
    played: usize,
    video: &Video,
    max_chunks: usize,
) -> Result<()> {
    anyhow::ensure!(
        skip < played,
        "--skip-chunks {skip} leaves no chunk to score: each session plays {played} chunks of video \
         '{}' (--max-chunks {max_chunks}); lower --skip-chunks or play more chunks",
        video.name
    );
    Ok(())
}

/// Arguments of `neuralstream traces`.
#[derive(Debug, Args)]
pub struct TracesArgs {
    /// Folder to write the traces into (created if missing). Synthetic traces of an earlier run in it
    /// (files named `synthetic_SEED_NNN`) are replaced; other files are left alone.
    #[arg(long, default_value = "out/traces")]
    pub out: PathBuf,
    /// How many traces to generate.
    #[arg(long, default_value_t = 100)]
    pub count: usize,
    /// Seed of the generator; the same seed always gives the same traces.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// Writes synthetic traces in Pensieve's cooked format (`time_s<TAB>Mbit/s`).
pub fn write_synthetic_traces(args: TracesArgs) -> Result<()> {
    anyhow::ensure!(
        args.count > 0,
        "--count must be at least 1 (how many traces to write)"
    );
    anyhow::ensure!(
        args.count <= MAX_SYNTHETIC_TRACES,
        "--count must be at most {MAX_SYNTHETIC_TRACES}, got {}",
        args.count
    );
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create --out {}", args.out.display()))?;
    // Traces of an earlier run would be read with these by `bench --traces`: replace them.
    let (mut removed, mut others) = (0usize, 0usize);
    for entry in std::fs::read_dir(&args.out)
        .with_context(|| format!("cannot read --out {}", args.out.display()))?
    {
        let entry = entry.with_context(|| format!("cannot read --out {}", args.out.display()))?;
        let name = entry.file_name();
        if neuralstream_data::synthetic::is_trace_name(&name.to_string_lossy())
            && entry.path().is_file()
        {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("cannot remove {}", entry.path().display()))?;
            removed += 1;
        } else {
            others += 1;
        }
    }
    if removed > 0 {
        eprintln!(
            "note: removed {removed} synthetic trace{} of an earlier run from {}",
            if removed == 1 { "" } else { "s" },
            args.out.display()
        );
    }
    if others > 0 {
        eprintln!(
            "note: {} also holds {others} other entr{}; `bench --traces {}` reads every trace file in it",
            args.out.display(),
            if others == 1 { "y" } else { "ies" },
            args.out.display()
        );
    }
    let gen = TraceGenerator::default();
    for i in 0..args.count {
        let t = gen.trace(args.seed, i);
        let mut text = String::with_capacity(t.len() * 16);
        for (time, bw) in t.time_s.iter().zip(&t.bandwidth_mbps) {
            text.push_str(&format!("{time}\t{bw}\n"));
        }
        let path = args.out.join(&t.name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    say!("wrote {} traces to {}", args.count, args.out.display());
    Ok(())
}
