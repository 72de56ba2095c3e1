//! `neuralstream bench --players N`: many players on one link (issue 22). Every trace of `bench`'s
//! input becomes one shared link (its capacity multiplied by `--link-scale`, by default the number
//! of players, so that each player's fair share is the trace as recorded); `--players` players
//! with the `--mix` algorithms (round-robin) arrive as `--arrivals` says and play `bench`'s video
//! with `bench`'s player settings, once per `--allocator`. The simulation is
//! `neuralstream_sim::shared`; the allocators are `neuralstream_alloc`'s, the code `serve
//! --egress-mbps` runs.
//!
//! Reports per allocator: total QoE (the sum of every player's session QoE, as `bench` scores a
//! session), its change against `none`, Jain's fairness index of the players' QoE per chunk and of
//! their mean bitrates (per trace, then averaged), the link's utilisation and stalls. Writes
//! `shared_players.csv` (one row per allocator x trace x player), `shared_summary.csv` and `.md`
//! (one row per allocator) and, unless `--no-charts`, `shared_bitrate_ALLOCATOR.png/.svg`: every
//! player's bitrate over link time on the timeline trace.

use crate::bench::BenchArgs;
use anyhow::{bail, Context, Result};
use clap::Args;
use neuralstream_alloc::jain_index;
use neuralstream_core::{csv_field, QoeModel, Rng, Trace, Video};
use neuralstream_report::{shared_link_chart, PlayerSeries};
use neuralstream_sim::shared::{
    poisson_schedule, run_shared, scaled_trace, CapacitySource, SharedConfig, SharedOutcome,
    SharedPlayer,
};
use neuralstream_sim::StartPosition;
use rayon::prelude::*;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

/// Most players on one link (the server's default session cap is far above; this bounds a
/// typo's memory and time).
pub const MAX_PLAYERS: usize = 10_000;

/// The shared-link flags of `bench`.
#[derive(Debug, Args)]
pub struct SharedArgs {
    /// Shared link: N players on every trace's link (one run per trace) instead of one player per
    /// session. Reports per-player and total QoE, Jain's fairness of QoE and bitrate, utilisation
    /// and stalls per --allocator.
    #[arg(long, value_name = "N")]
    pub players: Option<usize>,
    /// Algorithms of the players, assigned round-robin (player i plays entry i mod len).
    #[arg(
        long,
        default_value = "bba0,robustmpc,bola,rate,festive",
        value_name = "LIST"
    )]
    pub mix: String,
    /// Allocators compared (comma-separated): none, equal, maxmin, utility, fair. The first is
    /// the baseline of the "vs" column when `none` is not listed.
    #[arg(
        long,
        default_value = "none,equal,maxmin,utility,fair",
        value_name = "LIST"
    )]
    pub allocator: String,
    /// Multiplies every trace's capacity (default: the number of players, so that each player's
    /// equal share is the trace as recorded).
    #[arg(long, value_name = "FACTOR")]
    pub link_scale: Option<f64>,
    /// Arrivals: `together` (all at 0 s), `poisson:GAP_S` (a Poisson process of mean gap GAP_S
    /// seconds from --seed, the first at 0) or `at:T1,T2,...` (seconds, one per player).
    #[arg(long, default_value = "together", value_name = "SPEC")]
    pub arrivals: String,
    /// Each player leaves after an exponential time of this mean (seconds; from --seed) unless
    /// its video ends first. Default: every player stays to the end of its video.
    #[arg(long, value_name = "SECONDS")]
    pub mean_stay_s: Option<f64>,
    /// The allocators' link capacity, Mbit/s of payload (an operator's configured egress);
    /// default: estimated from the link's recent busy periods.
    #[arg(long, value_name = "MBPS")]
    pub alloc_capacity_mbps: Option<f64>,
}

impl SharedArgs {
    /// Whether a shared-link run was asked for.
    pub fn is_set(&self) -> bool {
        self.players.is_some()
    }
}

/// One player's scores on one link.
struct PlayerRow {
    abr: String,
    start_s: f64,
    end_s: f64,
    left_early: bool,
    chunks: usize,
    qoe: f64,
    qoe_per_chunk: f64,
    bitrate_mean_kbps: f64,
    rebuffer_s: f64,
    switches: usize,
}

/// One allocator on one trace.
struct LinkRow {
    trace: String,
    players: Vec<PlayerRow>,
    total_qoe: f64,
    jain_qoe: f64,
    jain_bitrate: f64,
    utilisation: f64,
    stall_s: f64,
}

/// Arrival and departure times of `n` players from `--arrivals` and `--mean-stay-s`.
fn schedule(args: &SharedArgs, n: usize, seed: u64) -> Result<Vec<(f64, Option<f64>)>> {
    if let Some(m) = args.mean_stay_s {
        anyhow::ensure!(
            m.is_finite() && m > 0.0,
            "--mean-stay-s must be seconds > 0, got {m}"
        );
    }
    let spec = args.arrivals.trim();
    let mut rng = Rng::new(seed);
    let starts: Vec<f64> = if spec == "together" {
        vec![0.0; n]
    } else if let Some(gap) = spec.strip_prefix("poisson:") {
        let gap: f64 = gap
            .parse()
            .ok()
            .filter(|g: &f64| g.is_finite() && *g >= 0.0)
            .with_context(|| {
                format!("--arrivals {spec}: the mean gap must be seconds >= 0, e.g. poisson:5")
            })?;
        poisson_schedule(n, gap, None, &mut rng)
            .into_iter()
            .map(|s| s.0)
            .collect()
    } else if let Some(list) = spec.strip_prefix("at:") {
        let t: Vec<f64> = list
            .split(',')
            .map(|x| x.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .ok()
            .filter(|t: &Vec<f64>| t.iter().all(|x| x.is_finite() && *x >= 0.0))
            .with_context(|| {
                format!("--arrivals {spec}: give seconds >= 0 separated by commas, e.g. at:0,5,10")
            })?;
        anyhow::ensure!(
            t.len() == n,
            "--arrivals {spec}: {} times for --players {n}; give one per player",
            t.len()
        );
        t
    } else {
        bail!("--arrivals {spec}: use together, poisson:GAP_S or at:T1,T2,...");
    };
    let mut stay = Rng::new(seed ^ 0x5eed_57a7);
    Ok(starts
        .into_iter()
        .map(|s| {
            let leave = args
                .mean_stay_s
                .map(|m| s - m * (1.0 - stay.uniform()).ln());
            (s, leave)
        })
        .collect())
}

/// Runs every allocator on one trace's link; `None` for an allocator name is impossible (checked).
fn run_link(
    cfg: &SharedConfig,
    trace: &Trace,
    video: &Video,
    mix: &[String],
    sched: &[(f64, Option<f64>)],
    allocator: &str,
) -> Result<SharedOutcome> {
    let mut players = sched
        .iter()
        .enumerate()
        .map(|(i, &(start_s, leave_s))| {
            Ok(SharedPlayer {
                abr: neuralstream_eval::builtin_factory(&mix[i % mix.len()])?,
                video,
                start_s,
                leave_s,
                weight: 1.0,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let mut alloc = neuralstream_alloc::create(allocator)?;
    run_shared(cfg, trace, &mut players, alloc.as_mut()).with_context(|| {
        format!(
            "shared link on trace '{}', --allocator {allocator}",
            trace.name
        )
    })
}

/// Scores one link's players.
fn score(
    outcome: &SharedOutcome,
    trace: &str,
    qoe: &QoeModel,
    video: &Video,
    skip: usize,
) -> Result<LinkRow> {
    let compiled = qoe.compile(video)?;
    let players: Vec<PlayerRow> = outcome
        .players
        .iter()
        .map(|p| {
            let s = compiled.score(&p.log.records, skip);
            PlayerRow {
                abr: p.abr.clone(),
                start_s: p.start_s,
                end_s: p.end_s,
                left_early: p.left_early,
                chunks: p.log.records.len(),
                qoe: s.qoe,
                qoe_per_chunk: s.qoe / s.chunks_scored.max(1) as f64,
                bitrate_mean_kbps: s.bitrate_mean_kbps,
                rebuffer_s: s.rebuffer_s,
                switches: s.switches,
            }
        })
        .collect();
    let per_chunk: Vec<f64> = players.iter().map(|p| p.qoe_per_chunk).collect();
    let bitrates: Vec<f64> = players.iter().map(|p| p.bitrate_mean_kbps).collect();
    Ok(LinkRow {
        trace: trace.to_string(),
        total_qoe: players.iter().map(|p| p.qoe).sum(),
        jain_qoe: jain_index(&per_chunk).unwrap_or(1.0),
        jain_bitrate: jain_index(&bitrates).unwrap_or(1.0),
        utilisation: outcome.link.utilisation(),
        stall_s: players.iter().map(|p| p.rebuffer_s).sum(),
        players,
    })
}

/// The `--mix` and `--allocator` lists, checked.
fn lists(args: &SharedArgs) -> Result<(Vec<String>, Vec<String>)> {
    let mix = crate::bench::parse_algorithms(&args.mix).context("in --mix")?;
    if let Some(bad) = mix.iter().find(|m| neuralstream_abr::create(m).is_err()) {
        bail!("--mix {bad}: a shared link plays rule-based algorithms (see `neuralstream algorithms`)");
    }
    let mut allocators = Vec::new();
    for a in args
        .allocator
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        let name = neuralstream_alloc::create(a)
            .with_context(|| format!("in --allocator {}", args.allocator))?
            .name()
            .to_string();
        if !allocators.contains(&name) {
            allocators.push(name);
        }
    }
    anyhow::ensure!(
        !allocators.is_empty(),
        "--allocator is empty; e.g. --allocator none,maxmin"
    );
    Ok((mix, allocators))
}

/// Runs the shared-link scenario `args.shared` asks for.
pub fn run(args: &BenchArgs) -> Result<()> {
    let sa = &args.shared;
    let n = sa.players.unwrap_or(0);
    anyhow::ensure!(
        (1..=MAX_PLAYERS).contains(&n),
        "--players must be from 1 to {MAX_PLAYERS}, got {n}"
    );
    crate::bench::set_threads(args.threads)?;
    let (mix, allocators) = lists(sa)?;
    let input = args.inputs.load(args.synthetic_traces, args.seed)?;
    let scale = sa.link_scale.unwrap_or(n as f64);
    let traces = input
        .traces
        .iter()
        .map(|t| scaled_trace(t, scale))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("--link-scale {scale}"))?;
    let capacity = match sa.alloc_capacity_mbps {
        None => SharedConfig::pensieve().capacity,
        Some(m) => {
            anyhow::ensure!(
                m.is_finite() && m > 0.0,
                "--alloc-capacity-mbps must be Mbit/s > 0, got {m}"
            );
            CapacitySource::Configured { kbps: m * 1000.0 }
        }
    };
    let cfg = SharedConfig {
        sim: args.link.sim_config(&input.video, args.max_chunks)?,
        link_start: StartPosition::Beginning,
        qoe: input.qoe.clone(),
        capacity,
        ..SharedConfig::pensieve()
    };
    let sched = schedule(sa, n, args.seed)?;
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;
    eprintln!(
        "bench: shared link, {n} player{} ({}) x {} trace{} ({}, capacity x{scale}), allocators {}",
        if n == 1 { "" } else { "s" },
        mix.join(","),
        traces.len(),
        if traces.len() == 1 { "" } else { "s" },
        input.source,
        allocators.join(",")
    );
    let started = Instant::now();
    let mut results: Vec<(String, Vec<LinkRow>, Option<SharedOutcome>)> = Vec::new();
    for a in &allocators {
        let runs: Vec<(LinkRow, Option<SharedOutcome>)> = traces
            .par_iter()
            .enumerate()
            .map(|(k, t)| {
                let out = run_link(&cfg, t, &input.video, &mix, &sched, a)?;
                let row = score(&out, &t.name, &cfg.qoe, &input.video, args.skip_chunks)?;
                Ok((row, (k == 0).then_some(out)))
            })
            .collect::<Result<_>>()?;
        let first = runs.first().and_then(|r| r.1.clone());
        results.push((a.clone(), runs.into_iter().map(|r| r.0).collect(), first));
    }
    let wall = started.elapsed().as_secs_f64();
    let table = summary_markdown(&results);
    say!("{table}");
    let written = write_files(args, &results, &traces[0], &table)?;
    say!(
        "{} shared link{} in {wall:.2} s; wrote {}",
        traces.len() * allocators.len(),
        if traces.len() * allocators.len() == 1 {
            ""
        } else {
            "s"
        },
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

/// Mean of `f` over `rows`.
fn mean(rows: &[LinkRow], f: impl Fn(&LinkRow) -> f64) -> f64 {
    rows.iter().map(f).sum::<f64>() / rows.len().max(1) as f64
}

/// The per-allocator summary as a Markdown table.
fn summary_markdown(results: &[(String, Vec<LinkRow>, Option<SharedOutcome>)]) -> String {
    let base = results
        .iter()
        .find(|r| r.0 == "none")
        .or(results.first())
        .map(|r| (r.0.clone(), mean(&r.1, |l| l.total_qoe)));
    let mut s = String::new();
    let base_name = base.as_ref().map_or("none", |b| b.0.as_str());
    let _ = writeln!(
        s,
        "| allocator | total QoE (mean per link) | vs {base_name} | Jain QoE | Jain bitrate | utilisation | stall s per link | players QoE <= 0 |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
    for (name, rows, _) in results {
        let total = mean(rows, |l| l.total_qoe);
        let vs = base
            .as_ref()
            .map(|b| (total - b.1) / b.1.abs().max(1e-9) * 100.0)
            .unwrap_or(0.0);
        let nonpos = rows
            .iter()
            .flat_map(|l| &l.players)
            .filter(|p| p.qoe <= 0.0)
            .count();
        let _ = writeln!(
            s,
            "| {name} | {total:.2} | {vs:+.2}% | {:.4} | {:.4} | {:.3} | {:.2} | {nonpos} |",
            mean(rows, |l| l.jain_qoe),
            mean(rows, |l| l.jain_bitrate),
            mean(rows, |l| l.utilisation),
            mean(rows, |l| l.stall_s),
        );
    }
    s
}

/// Writes the CSV files, the Markdown summary and the charts; returns their paths.
fn write_files(
    args: &BenchArgs,
    results: &[(String, Vec<LinkRow>, Option<SharedOutcome>)],
    timeline_trace: &Trace,
    table: &str,
) -> Result<Vec<PathBuf>> {
    let mut players = String::from(
        "allocator,trace,player,abr,start_s,end_s,left_early,chunks,qoe,qoe_per_chunk,bitrate_mean_kbps,rebuffer_s,switches\n",
    );
    let mut summary =
        String::from("allocator,trace,total_qoe,jain_qoe,jain_bitrate,utilisation,stall_s\n");
    for (name, rows, _) in results {
        for l in rows {
            let _ = writeln!(
                summary,
                "{name},{},{},{},{},{},{}",
                csv_field(&l.trace),
                l.total_qoe,
                l.jain_qoe,
                l.jain_bitrate,
                l.utilisation,
                l.stall_s
            );
            for (i, p) in l.players.iter().enumerate() {
                let _ = writeln!(
                    players,
                    "{name},{},{i},{},{},{},{},{},{},{},{},{},{}",
                    csv_field(&l.trace),
                    csv_field(&p.abr),
                    p.start_s,
                    p.end_s,
                    p.left_early,
                    p.chunks,
                    p.qoe,
                    p.qoe_per_chunk,
                    p.bitrate_mean_kbps,
                    p.rebuffer_s,
                    p.switches
                );
            }
        }
    }
    let mut written = Vec::new();
    for (file, text) in [
        ("shared_players.csv", players.as_str()),
        ("shared_summary.csv", summary.as_str()),
        ("shared_summary.md", table),
    ] {
        let p = args.out.join(file);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    if args.no_charts {
        return Ok(written);
    }
    // The round trip takes no link time (as in the single-player simulator).
    let rtt_ms = args.link.rtt_ms;
    for (name, _, outcome) in results {
        let Some(outcome) = outcome else { continue };
        let series: Vec<PlayerSeries> = outcome
            .players
            .iter()
            .enumerate()
            .map(|(i, p)| PlayerSeries {
                label: format!("{i} {}", p.abr),
                chunks: p
                    .log
                    .records
                    .iter()
                    .zip(&p.link_finish_s)
                    .map(|(r, &fin)| (fin - (r.delay_ms - rtt_ms) / 1000.0, fin, r.bitrate_kbps))
                    .collect(),
            })
            .collect();
        let end = outcome.link.end_s;
        let capacity = capacity_steps(timeline_trace, end, args.link.payload_fraction);
        let title = format!(
            "{} players on '{}', allocator {name}",
            outcome.players.len(),
            timeline_trace.name
        );
        written.extend(shared_link_chart(
            &title,
            &series,
            &capacity,
            &args.out.join(format!("shared_bitrate_{name}")),
        )?);
    }
    Ok(written)
}

/// The trace's payload capacity as step points over link time `[0, end_s]` (looping), Mbit/s.
fn capacity_steps(trace: &Trace, end_s: f64, payload_fraction: f64) -> Vec<(f64, f64)> {
    let d = trace.duration_s();
    let mut pts = Vec::new();
    let mut base = 0.0;
    while base < end_s && pts.len() < 200_000 {
        for i in 1..trace.time_s.len() {
            let (a, b) = (base + trace.time_s[i - 1], base + trace.time_s[i]);
            if a >= end_s {
                break;
            }
            let mbps = trace.bandwidth_mbps[i] * payload_fraction;
            pts.push((a, mbps));
            pts.push((b.min(end_s), mbps));
        }
        base += d;
    }
    pts
}
