//! `neuralstream rt`: the real-time mode (live video, cloud gaming). Flags in, calls into
//! `neuralstream-rt`, table and result files out.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use neuralstream_rt::{bench, LinkConfig, MahimahiOptions, QueueLimit, RtConfig};
use std::path::PathBuf;

/// `neuralstream rt ...`.
#[derive(Debug, Args)]
pub struct RtArgs {
    #[command(subcommand)]
    command: RtCommand,
}

#[derive(Debug, Subcommand)]
enum RtCommand {
    /// Run rate controllers x link traces in the frame-level simulator; print a table, write
    /// results.json, sessions.csv and summary.csv.
    #[command(after_help = RT_BENCH_EXAMPLES)]
    Bench(RtBenchArgs),
    /// Train the LSTM next-interval capacity predictor on the train split and compare its MAPE
    /// with an EWMA's (smoothing chosen on validation) on the test split.
    Predict(RtPredictArgs),
}

/// Flags of `neuralstream rt predict`.
#[derive(Debug, Args)]
pub struct RtPredictArgs {
    /// Folder of traces (as for `rt bench`); split into train / validation / test by link.
    #[arg(long, value_name = "DIR")]
    traces: PathBuf,
    /// Interval length, ms.
    #[arg(long, default_value_t = 200.0, value_name = "MS")]
    interval_ms: f64,
    /// Adam steps.
    #[arg(long, default_value_t = 1500, value_name = "N")]
    iterations: usize,
    /// Seed of initialisation and window draws.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

const RT_BENCH_EXAMPLES: &str = "Examples:
  neuralstream rt bench --traces ../shared/data/rtc --controllers gcc,fixed,oracle
  neuralstream rt bench --traces ../shared/data/rtc/mahimahi --split test --fps 30 --out out/rt-mm
  neuralstream rt bench --traces ../shared/data/rtc --controllers gcc,fixed:2500 --duration-s 60";

/// Flags of `neuralstream rt bench`.
#[derive(Debug, Args)]
pub struct RtBenchArgs {
    /// Folder of traces, searched recursively: onl-emu *.json and Mahimahi *.up / *.down files.
    #[arg(long, value_name = "DIR")]
    traces: PathBuf,
    /// Comma-separated controllers: gcc, fixed (or fixed:KBPS), oracle.
    #[arg(long, default_value = "gcc,fixed,oracle", value_name = "LIST")]
    controllers: String,
    /// Which traces: all, train, validation or test (split by a hash of the file name).
    #[arg(long, default_value = "all", value_name = "SPLIT")]
    split: String,
    /// Session length, s; default: one loop of each trace.
    #[arg(long, value_name = "S")]
    duration_s: Option<f64>,
    /// Capture rate, 30 or 60 fps.
    #[arg(long, default_value_t = 60, value_name = "FPS")]
    fps: u32,
    /// Drop-tail queue in packets (onl-emu's netem limit: 50).
    #[arg(
        long,
        default_value_t = 50,
        value_name = "N",
        conflicts_with = "queue_ms"
    )]
    queue_packets: usize,
    /// Drop-tail queue in ms of the current capacity instead (AlphaRTC gym: 300).
    #[arg(long, value_name = "MS")]
    queue_ms: Option<f64>,
    /// Round-trip propagation delay for Mahimahi traces (which carry none), ms.
    #[arg(long, default_value_t = 40.0, value_name = "MS")]
    mahimahi_rtt_ms: f64,
    /// Seed of every random draw (content, encoder noise, link loss).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output folder.
    #[arg(long, default_value = "out/rt", value_name = "DIR")]
    out: PathBuf,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    threads: Option<usize>,
}

/// Runs `neuralstream rt`.
pub fn run(args: RtArgs) -> Result<()> {
    match args.command {
        RtCommand::Bench(a) => run_bench(a),
        RtCommand::Predict(a) => run_predict(a),
    }
}

fn run_bench(a: RtBenchArgs) -> Result<()> {
    let controllers = bench::ControllerSpec::parse_list(&a.controllers)
        .with_context(|| format!("--controllers {}", a.controllers))?;
    let mahimahi = MahimahiOptions {
        rtt_ms: a.mahimahi_rtt_ms,
        ..Default::default()
    };
    anyhow::ensure!(
        a.mahimahi_rtt_ms.is_finite() && a.mahimahi_rtt_ms >= 0.0,
        "--mahimahi-rtt-ms must be a number >= 0"
    );
    let traces = neuralstream_rt::read_trace_dir(&a.traces, mahimahi)
        .with_context(|| format!("--traces {}", a.traces.display()))?;
    let traces = neuralstream_rt::select_split(traces, &a.split, &a.traces)
        .with_context(|| format!("--split {}", a.split))?;
    anyhow::ensure!(a.fps == 30 || a.fps == 60, "--fps {}: use 30 or 60", a.fps);
    if let Some(d) = a.duration_s {
        anyhow::ensure!(
            d.is_finite() && (1.0..=86_400.0).contains(&d),
            "--duration-s {d}: use 1 to 86400 seconds, or leave it out to play each trace once"
        );
    }
    if let Some(ms) = a.queue_ms {
        anyhow::ensure!(
            ms.is_finite() && ms > 0.0,
            "--queue-ms {ms}: use a positive number of ms"
        );
    }
    anyhow::ensure!(a.queue_packets >= 1, "--queue-packets must be at least 1");
    let config = RtConfig {
        source_fps: a.fps,
        duration_ms: a.duration_s.unwrap_or(60.0) * 1000.0,
        seed: a.seed,
        link: LinkConfig {
            queue: match a.queue_ms {
                Some(ms) => QueueLimit::Ms(ms),
                None => QueueLimit::Packets(a.queue_packets),
            },
            ..Default::default()
        },
        ..Default::default()
    };
    let threads = match a.threads {
        Some(0) => anyhow::bail!("--threads must be at least 1"),
        Some(n) => n,
        None => std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let started = std::time::Instant::now();
    let (report, _) = neuralstream_rt::run_bench(
        &traces,
        &controllers,
        &config,
        a.duration_s.is_none(),
        threads,
        false,
    )
    .context("rt bench")?;
    let wall = started.elapsed();
    say!("{}", bench::table(&report));
    let paths = neuralstream_rt::write_results(&report, &a.out)?;
    say!(
        "{} sessions ({} traces x {} controllers) in {:.2} s; wrote {}",
        report.sessions.len(),
        traces.len(),
        controllers.len(),
        wall.as_secs_f64(),
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

fn run_predict(a: RtPredictArgs) -> Result<()> {
    anyhow::ensure!(
        a.interval_ms.is_finite() && (10.0..=10_000.0).contains(&a.interval_ms),
        "--interval-ms {}: use 10 to 10000 ms",
        a.interval_ms
    );
    anyhow::ensure!(a.iterations >= 1, "--iterations must be at least 1");
    let traces = neuralstream_rt::read_trace_dir(&a.traces, MahimahiOptions::default())
        .with_context(|| format!("--traces {}", a.traces.display()))?;
    let cfg = neuralstream_rt::predictor::PredictorConfig {
        interval_ms: a.interval_ms,
        iterations: a.iterations,
        seed: a.seed,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let r = neuralstream_rt::predictor::compare(&traces, &cfg).context("rt predict")?;
    say!(
        "EWMA alpha {} (chosen on validation): validation MAPE {:.4}; LSTM validation MAPE {:.4}",
        r.ewma_alpha,
        r.ewma_validation_mape,
        r.lstm_validation_mape
    );
    say!(
        "{:<10} {:>10} {:>10} {:>12}",
        "test",
        "ewma_mape",
        "lstm_mape",
        "lstm/ewma"
    );
    for (family, ewma, lstm) in &r.test {
        say!(
            "{family:<10} {ewma:>10.4} {lstm:>10.4} {:>12.3}",
            lstm / ewma
        );
    }
    say!("in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
