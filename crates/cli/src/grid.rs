//! `neuralstream bench --grid-traces ... --grid-videos ...`: the generalisation report (issue 17,
//! item 4). Plays the `--abr` algorithms (rules, `learned:PATH` policies, the optimum) in every
//! cell of a grid of trace sets x videos with `bench`'s own runner and settings, and writes one
//! table of every cell (`grid.csv`, `grid.md`: mean QoE, p10, share of the optimum) and a
//! heat-map of the share of the optimum (`grid_share.png`, `grid_share.svg`).
//!
//! Each cell scores with `--qoe` resolved for its video, so QoE_lin's stall penalty is that
//! video's top bitrate unless given (`lin:MU`); the table records the spec per cell. A learned
//! policy that cannot play a video (another number of levels) is `n/a` in that cell, not an error.

use crate::bench::{parse_algorithms, set_threads, BenchArgs};
use crate::progress::Progress;
use anyhow::{Context, Result};
use clap::Args;
use neuralstream_core::{Abr, AlgorithmSummary, Ladder, QoeModel, Trace, Video};
use neuralstream_data::synthetic::{builtin_video, synthetic_video, TraceGenerator};
use neuralstream_eval::{run_bench, BenchConfig, EvalError};
use neuralstream_policy::Policy;
use neuralstream_protocol::learned_policy_path;
use neuralstream_report::{heatmap_chart, HeatMap};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

/// The synthetic fast network set: base rates 25-80 Mbit/s with regimes of x0.8 to x1.25 (about
/// 20-100 Mbit/s), no outages; otherwise the default generator.
pub fn fast_generator() -> TraceGenerator {
    TraceGenerator {
        base_min_mbps: 25.0,
        base_max_mbps: 80.0,
        regimes: vec![0.8, 0.9, 1.0, 1.1, 1.25],
        outage_prob: 0.0,
        ..TraceGenerator::default()
    }
}

/// Synthetic ladders of the grid's built-in videos (48 VBR chunks of 4 s each, as the built-in
/// `builtin` video on Pensieve's ladder), kbit/s: `ladder10` (10 levels, 0.3-12 Mbit/s),
/// `ladder35` (6 levels topping at 35 Mbit/s) and `h264` (a synthetic descriptor of the 5-level
/// H.264 ladder `neuralstream package` encodes by default, 0.4-5 Mbit/s).
pub const BUILTIN_VIDEOS: [(&str, &[f64]); 3] = [
    (
        "ladder10",
        &[
            300.0, 500.0, 750.0, 1000.0, 1500.0, 2300.0, 3500.0, 5000.0, 8000.0, 12000.0,
        ],
    ),
    (
        "ladder35",
        &[1000.0, 2500.0, 5000.0, 10000.0, 20000.0, 35000.0],
    ),
    ("h264", &[400.0, 800.0, 1400.0, 2800.0, 5000.0]),
];

/// The grid flags of `bench`.
#[derive(Debug, Args)]
pub struct GridArgs {
    /// Generalisation grid: comma-separated trace sets `NAME=PATH` (a trace folder) or
    /// `NAME=synthetic-fast` (--synthetic-traces traces of 20-100 Mbit/s from --seed). With
    /// --grid-videos, plays --abr in every (trace set x video) cell instead of one bench and writes
    /// grid.csv, grid.md and the heat-map grid_share.png/.svg into --out.
    #[arg(long, value_name = "LIST", requires = "grid_videos")]
    pub grid_traces: Option<String>,
    /// Videos of the grid: comma-separated `NAME=PATH` (as --video) or a built-in `builtin`
    /// (Pensieve's ladder), `ladder10` (10 levels, 0.3-12 Mbit/s), `ladder35` (6 levels to 35 Mbit/s),
    /// `h264` (package's default 5-level H.264 ladder, 0.4-5 Mbit/s).
    #[arg(long, value_name = "LIST", requires = "grid_traces")]
    pub grid_videos: Option<String>,
}

impl GridArgs {
    /// Whether a grid was asked for.
    pub fn is_set(&self) -> bool {
        self.grid_traces.is_some()
    }
}

/// One trace set of the grid.
struct TraceSet {
    name: String,
    source: String,
    traces: Vec<Trace>,
}

/// One row of the report: an algorithm in a cell (`None`: it could not play that video).
struct Row {
    traces: String,
    video: String,
    qoe: String,
    algorithm: String,
    summary: Option<AlgorithmSummary>,
}

/// Splits `NAME=VALUE` (a bare `VALUE` is its own name).
pub(crate) fn named<'a>(entry: &'a str, flag: &str) -> Result<(&'a str, &'a str)> {
    let (name, value) = entry.split_once('=').unwrap_or((entry, entry));
    let (name, value) = (name.trim(), value.trim());
    anyhow::ensure!(
        !name.is_empty() && !value.is_empty(),
        "{flag}: empty entry '{entry}'; write NAME=PATH entries separated by commas"
    );
    Ok((name, value))
}

fn trace_sets(args: &BenchArgs, list: &str) -> Result<Vec<TraceSet>> {
    list.split(',')
        .map(|entry| {
            let (name, value) = named(entry, "--grid-traces")?;
            if value.eq_ignore_ascii_case("synthetic-fast") {
                let n = args.synthetic_traces;
                return Ok(TraceSet {
                    name: name.to_owned(),
                    source: format!("synthetic-fast:seed={},count={n}", args.seed),
                    traces: fast_generator().traces(args.seed, n),
                });
            }
            let (traces, source) =
                crate::inputs::traces(Some(Path::new(value)), args.inputs.trace_format, 0, 0)
                    .with_context(|| format!("in --grid-traces {name}={value}"))?;
            anyhow::ensure!(
                !traces.is_empty(),
                "--grid-traces {name}={value}: no trace in it"
            );
            Ok(TraceSet {
                name: name.to_owned(),
                source,
                traces,
            })
        })
        .collect()
}

fn videos(list: &str) -> Result<Vec<(String, Video)>> {
    list.split(',')
        .map(|entry| {
            let (name, value) = named(entry, "--grid-videos")?;
            let builtin = BUILTIN_VIDEOS
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(value));
            let video = match builtin {
                Some((n, kbps)) => synthetic_video(n, &Ladder::from_kbps(kbps), 48, 4.0, 2017),
                None if value.eq_ignore_ascii_case("builtin") => builtin_video(),
                None => crate::inputs::video(Some(Path::new(value)))
                    .with_context(|| format!("in --grid-videos {name}={value}"))?,
            };
            Ok((name.to_owned(), video))
        })
        .collect()
}

/// Runs the grid that `args` describes.
pub fn run(args: &BenchArgs) -> Result<()> {
    set_threads(args.threads)?;
    let algorithms = parse_algorithms(&args.abr)?;
    let grid = &args.grid;
    let sets = trace_sets(args, grid.grid_traces.as_deref().unwrap_or_default())?;
    let videos = videos(grid.grid_videos.as_deref().unwrap_or_default())?;
    let mut learned = HashMap::new();
    for (name, path) in algorithms
        .iter()
        .filter_map(|n| learned_policy_path(n).map(|p| (n, p)))
    {
        let policy = Policy::load(path).with_context(|| format!("in --abr {name}"))?;
        learned.insert(name.clone(), policy);
    }
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    let sessions: usize = sets.iter().map(|s| s.traces.len()).sum::<usize>() * videos.len();
    let bar = Progress::new(
        "bench-grid",
        (sessions * algorithms.len()) as u64,
        "sessions",
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} sessions {msg} (eta {eta})",
    );
    let mut rows = Vec::new();
    for set in &sets {
        for (video_name, video) in &videos {
            bar.set_message(format!("{} x {video_name}", set.name));
            rows.extend(cell(
                args,
                &algorithms,
                &learned,
                set,
                video_name,
                video,
                &bar,
            )?);
        }
    }
    bar.finish_and_clear();
    write_reports(args, &algorithms, &rows)
}

/// Plays one cell; rows in `algorithms` order.
fn cell(
    args: &BenchArgs,
    algorithms: &[String],
    learned: &HashMap<String, Policy>,
    set: &TraceSet,
    video_name: &str,
    video: &Video,
    bar: &Progress,
) -> Result<Vec<Row>> {
    let at = || format!("cell {} x {video_name}", set.name);
    let qoe = QoeModel::for_video(&args.inputs.qoe, video).context("in --qoe")?;
    crate::inputs::check_qoe_fits(&qoe, &args.inputs.qoe, video).with_context(at)?;
    let fits = |a: &String| {
        learned
            .get(a)
            .is_none_or(|p| p.fits_levels(video.num_levels()))
    };
    let playable: Vec<String> = algorithms.iter().filter(|a| fits(a)).cloned().collect();
    let sim = args
        .link
        .sim_config(video, args.max_chunks)
        .with_context(at)?;
    let cfg = BenchConfig {
        sim,
        qoe: qoe.clone(),
        skip_chunks: args.skip_chunks,
        algorithms: playable,
        keep_logs: false,
        ..BenchConfig::default()
    };
    let factory = |name: &str| -> Result<Box<dyn Abr>, EvalError> {
        match learned.get(name) {
            Some(p) => Ok(Box::new(p.clone())),
            None => neuralstream_eval::builtin_factory(name),
        }
    };
    let skipped = (algorithms.len() - cfg.algorithms.len()) * set.traces.len();
    bar.inc(skipped as u64);
    let out = run_bench(
        &cfg,
        &set.traces,
        video,
        &set.source,
        args.seed,
        &factory,
        &|| bar.inc(1),
    )
    .with_context(at)?;
    Ok(algorithms
        .iter()
        .map(|a| Row {
            traces: set.name.clone(),
            video: video_name.to_owned(),
            qoe: qoe.spec(),
            algorithm: a.clone(),
            summary: out
                .results
                .summaries
                .iter()
                .find(|s| &s.algorithm == a)
                .cloned(),
        })
        .collect())
}

/// `grid.csv`, `grid.md` (also printed) and the heat-map of the share of the optimum.
fn write_reports(args: &BenchArgs, algorithms: &[String], rows: &[Row]) -> Result<()> {
    let num = |v: Option<f64>, digits: usize| v.map_or(String::new(), |x| format!("{x:.digits$}"));
    let mut csv = String::from(
        "traces,video,qoe,algorithm,sessions,qoe_mean,qoe_p10,share_of_optimum,bitrate_mean_kbps,rebuffer_s_mean\n",
    );
    for r in rows {
        let s = r.summary.as_ref();
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{}",
            r.traces,
            r.video,
            r.qoe,
            r.algorithm,
            s.map_or(0, |s| s.traces),
            num(s.map(|s| s.qoe_mean), 4),
            num(s.map(|s| s.qoe_p10), 4),
            num(s.and_then(|s| s.share_of_optimum), 4),
            num(s.map(|s| s.bitrate_mean_kbps), 1),
            num(s.map(|s| s.rebuffer_s_mean), 3),
        );
    }
    let mut md = format!(
        "| networks | video | QoE | {} |\n|---|---|---|{}\n",
        algorithms.join(" | "),
        "---|".repeat(algorithms.len())
    );
    let mut cells: Vec<(String, String)> = Vec::new();
    for r in rows {
        if !cells.contains(&(r.traces.clone(), r.video.clone())) {
            cells.push((r.traces.clone(), r.video.clone()));
        }
    }
    let mut values = Vec::new();
    for (t, v) in &cells {
        let in_cell: Vec<&Row> = rows
            .iter()
            .filter(|r| &r.traces == t && &r.video == v)
            .collect();
        let shown: Vec<String> = in_cell
            .iter()
            .map(|r| match &r.summary {
                None => "n/a".to_owned(),
                Some(s) => format!(
                    "{:.2} (p10 {:.2}{})",
                    s.qoe_mean,
                    s.qoe_p10,
                    s.share_of_optimum
                        .map_or(String::new(), |f| format!(", {:.1}%", f * 100.0))
                ),
            })
            .collect();
        let _ = writeln!(
            md,
            "| {t} | {v} | {} | {} |",
            in_cell[0].qoe,
            shown.join(" | ")
        );
        values.push(
            in_cell
                .iter()
                .map(|r| r.summary.as_ref().and_then(|s| s.share_of_optimum))
                .collect(),
        );
    }
    md.push_str(
        "\nEach entry: mean QoE per session (p10 over sessions, share of the offline optimum's mean); \
         QoE: the model spec with its stall penalty per second; n/a: the policy cannot play that video.\n",
    );
    for (name, text) in [("grid.csv", &csv), ("grid.md", &md)] {
        let p = args.out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
    }
    let map = HeatMap {
        title: "mean QoE as a share of the offline optimum".into(),
        rows: cells.iter().map(|(t, v)| format!("{t} / {v}")).collect(),
        columns: algorithms.to_vec(),
        values,
    };
    let charts = heatmap_chart(&map, &args.out.join("grid_share"))?;
    print!("{md}");
    eprintln!(
        "wrote {}, {} and {}",
        args.out.join("grid.csv").display(),
        args.out.join("grid.md").display(),
        charts
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}
