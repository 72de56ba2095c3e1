//! `neuralstream report`: the evaluation report of sessions (issue 19, item 7) from a telemetry
//! folder or a `bench` results folder; flags in, rows out of `neuralstream-telemetry` or the
//! results files, the evaluation and its files from `neuralstream-report`.

use anyhow::{Context, Result};
use clap::Args;
use neuralstream_core::BenchResults;
use neuralstream_report::evaluation::{
    attach_quality, bench_input, evaluate, output, EvalConfig, EventRow, RowKind, ALL,
    DEFAULT_CHUNK_S,
};
use neuralstream_telemetry::{parquet_sink, Event, EventKind, ParquetLayout};
use std::path::{Path, PathBuf};

/// `neuralstream report` flags.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Telemetry folder (the Parquet layout `--telemetry DIR` and `telemetry consume` write).
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "results",
        conflicts_with = "results"
    )]
    telemetry: Option<PathBuf>,
    /// A `bench` results folder (its results.json and chunks.csv).
    #[arg(long, value_name = "DIR")]
    results: Option<PathBuf>,
    /// The video the sessions played (video.json, a folder holding one, or Pensieve's
    /// video_size_* folder): its chunk duration, and SSIM/VMAF when it has per-chunk scores.
    #[arg(long, value_name = "PATH")]
    video: Option<PathBuf>,
    /// Duration of a chunk, seconds (default: the video's, else 4 as Pensieve's and the built-in
    /// video's).
    #[arg(long, value_name = "SECONDS")]
    chunk_s: Option<f64>,
    /// Network class bounds on the session's mean throughput, kbit/s, increasing.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,2500,5000",
        value_name = "LIST"
    )]
    classes_kbps: Vec<f64>,
    /// Output folder: report.md, report.json, sessions.csv, groups.csv, charts (PNG + SVG).
    #[arg(long, default_value = "out/report", value_name = "DIR")]
    out: PathBuf,
}

/// The report's row of a telemetry event.
fn row_of(e: Event) -> EventRow {
    let kind = match e.kind {
        EventKind::Chunk => RowKind::Chunk,
        EventKind::Decision => RowKind::Decision,
        EventKind::SessionEnd => RowKind::SessionEnd,
        EventKind::SessionStart | EventKind::Interval => RowKind::Other,
    };
    let mut r = EventRow::new(kind, e.source.as_str(), &e.session);
    r.algorithm = e.algorithm;
    r.video = e.video;
    r.chunk = e.chunk;
    r.level = e.level;
    r.bitrate_kbps = e.bitrate_kbps;
    r.size_bytes = e.size_bytes;
    r.request_start_ms = e.request_start_ms;
    r.response_end_ms = e.response_end_ms;
    r.rebuffer_s = e.rebuffer_s;
    r.decision_us = e.decision_us;
    r.qoe = e.qoe;
    r.end_reason = e.end_reason.map(|reason| reason.as_str().to_string());
    r
}

/// Every event of a telemetry folder as rows; an unreadable file, one of another schema version,
/// or an event with an impossible value is an error naming the file.
fn telemetry_rows(dir: &Path) -> Result<Vec<EventRow>> {
    let files = ParquetLayout::new(dir).files()?;
    anyhow::ensure!(
        !files.is_empty(),
        "--telemetry {}: no telemetry files (date=*/hour=*/part-*.parquet); record some with \
         `neuralstream bench --telemetry {0}` or `serve --telemetry {0}`",
        dir.display()
    );
    let mut rows = Vec::new();
    for f in &files {
        for e in parquet_sink::read_file(f)? {
            e.validate()
                .with_context(|| format!("{}: an event the report cannot use", f.display()))?;
            rows.push(row_of(e));
        }
    }
    Ok(rows)
}

/// The chunk rows of a results folder's chunks.csv plus one session-end row per (algorithm,
/// trace) of its results.json, carrying the session's QoE.
fn results_rows(dir: &Path) -> Result<Vec<EventRow>> {
    let json = dir.join("results.json");
    let text = std::fs::read_to_string(&json)
        .with_context(|| format!("--results: cannot read {}", json.display()))?;
    let results: BenchResults = serde_json::from_str(&text)
        .with_context(|| format!("--results: {} is not a bench results.json", json.display()))?;
    let chunks = dir.join("chunks.csv");
    anyhow::ensure!(
        chunks.is_file(),
        "--results: {} is missing; rerun `neuralstream bench` without --no-chunk-log",
        chunks.display()
    );
    let mut rows = bench_input::read_chunks_csv(&chunks)?;
    for r in &results.per_trace {
        let mut end = EventRow::new(
            RowKind::SessionEnd,
            "bench",
            &bench_input::session_id(&r.algorithm, &r.trace),
        );
        end.algorithm = Some(r.algorithm.clone());
        end.video = Some(results.meta.video.clone());
        end.qoe = Some(r.score.qoe).filter(|q| q.is_finite());
        rows.push(end);
    }
    Ok(rows)
}

/// Runs `neuralstream report`.
pub fn run(args: ReportArgs) -> Result<()> {
    let video = match &args.video {
        Some(p) => Some(crate::inputs::video(Some(p))?),
        None => None,
    };
    let config = EvalConfig {
        chunk_s: args
            .chunk_s
            .or(video.as_ref().map(|v| v.chunk_duration_s))
            .unwrap_or(DEFAULT_CHUNK_S),
        class_bounds_kbps: args.classes_kbps.clone(),
    };
    config.validate().map_err(anyhow::Error::msg)?;
    let (mut rows, input) = match (&args.telemetry, &args.results) {
        (Some(dir), _) => (telemetry_rows(dir)?, format!("telemetry {}", dir.display())),
        (None, Some(dir)) => (
            results_rows(dir)?,
            format!("bench results {}", dir.display()),
        ),
        (None, None) => anyhow::bail!("give --telemetry DIR or --results DIR"),
    };
    if let Some(v) = &video {
        attach_quality(&mut rows, v);
    }
    let evaluation = evaluate(&rows, &config);
    let paths = output::write_report(&evaluation, &args.out, &input)?;
    say!(
        "{} sessions ({} rows) from {input}",
        evaluation.sessions.len(),
        rows.len()
    );
    say!(
        "{:<24} {:>8} {:>9} {:>9} {:>10} {:>9} {:>8} {:>6} {:>9}",
        "algorithm",
        "sessions",
        "bitrate",
        "startup",
        "buffering",
        "stalls/h",
        "QoE",
        "MOS",
        "satisfied"
    );
    for g in evaluation.groups.iter().filter(|g| g.network_class == ALL) {
        let f = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |v| format!("{v:.d$}"));
        say!(
            "{:<24} {:>8} {:>9} {:>9} {:>10} {:>9} {:>8} {:>6} {:>9}",
            g.algorithm,
            g.sessions,
            f(g.bitrate_mean_kbps, 0),
            f(g.startup_s_mean, 2),
            f(g.buffering_ratio_mean.map(|b| b * 100.0), 2) + "%",
            f(g.stalls_per_hour_mean, 1),
            f(g.qoe_mean, 2),
            f(g.mos_mean, 2),
            f(g.satisfied_share.map(|b| b * 100.0), 1) + "%"
        );
    }
    say!("wrote {} files into {}", paths.len(), args.out.display());
    Ok(())
}
