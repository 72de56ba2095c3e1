//! `neuralstream bench`: algorithms x traces, table, results files and charts.

use crate::inputs;
use crate::progress::Progress;
use anyhow::{bail, Context, Result};
use clap::Args;
use neuralstream_core::{Abr, QoeModel, Trace, Video};
use neuralstream_eval::EvalError;
use neuralstream_eval::{output, run_bench, BenchConfig, BenchOutput, OPTIMUM};
use neuralstream_policy::Policy;
use neuralstream_protocol::{canonical_algorithm_name, learned_policy_path};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Instant;

/// Algorithms run when `--abr` is not given.
pub const DEFAULT_ALGORITHMS: &str =
    "bb,bba0,rate,festive,bola,bola-e,dynamic,fastmpc,robustmpc,optimum";

/// Arguments of `neuralstream bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Traces, video and QoE model.
    #[command(flatten)]
    pub inputs: inputs::InputArgs,
    #[command(flatten)]
    pub telemetry: crate::telemetry::TelemetryFlag,
    /// Number of synthetic traces to generate when --traces is not given.
    #[arg(long, default_value_t = 100, value_name = "N")]
    pub synthetic_traces: usize,
    /// Comma-separated algorithms (see `neuralstream algorithms`); `all` runs every one plus the
    /// offline optimum; `optimum` is the dynamic-programming upper bound; `learned:PATH` runs a
    /// policy checkpoint written by `neuralstream train` (`learned:A+B+C`: the ensemble of those
    /// ladder-agnostic files, by their mean per-level probability); `mpc-rf:MODEL` plans over a random
    /// forest written by `neuralstream dataset eval-predictors`.
    #[arg(long, default_value = DEFAULT_ALGORITHMS, value_name = "LIST")]
    pub abr: String,
    /// Chunks not scored at the start of each session (Pensieve scores chunks 1..47: skip 1).
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub skip_chunks: usize,
    /// Seed of the synthetic trace generator.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Output folder for results.json, results.csv, summary.csv, chunks.csv and charts.
    #[arg(long, default_value = "out/bench", value_name = "DIR")]
    pub out: PathBuf,
    /// Trace drawn in the timeline chart (by name); default: the first trace.
    #[arg(long, value_name = "NAME")]
    pub timeline_trace: Option<String>,
    /// Algorithms drawn in the timeline chart (comma-separated; those not run are ignored).
    /// Default: bb, robustmpc, dynamic and optimum when run, else the first four run.
    #[arg(long, value_name = "LIST")]
    pub timeline_abr: Option<String>,
    /// Do not draw charts (charts of an earlier run in --out are removed, so they cannot be
    /// mistaken for this run's).
    #[arg(long)]
    pub no_charts: bool,
    /// Do not write the per-chunk log (chunks.csv; one from an earlier run in --out is removed).
    #[arg(long)]
    pub no_chunk_log: bool,
    /// Link and player settings.
    #[command(flatten)]
    pub link: inputs::LinkArgs,
    // -- The real link's request model (issue 22, docs/sim_to_real.md; off: Pensieve's). --
    /// The trace keeps running during every request's round trip (--rtt-ms), carrying nothing,
    /// as on a real link (`emulate`, `play --trace-clock network`). Off: Pensieve's simulator,
    /// where the trace stands still during the RTT. Single-player runs only.
    #[arg(long)]
    pub rtt_advances_trace: bool,
    /// Fetch an init segment of this many bytes (a request of its own: a round trip and its bytes
    /// on the link) before chunk 0 and every level switch, as `play` does without --cache-init
    /// (the emulation's DASH folder: 900). Default: none (Pensieve). Single-player runs only.
    #[arg(long, value_name = "BYTES")]
    pub init_segment_bytes: Option<u64>,
    /// The trace has run this long, carrying nothing, when a session's first request goes out
    /// (the link started before the player: `emulate` starts its players 0.6 to 2.25 s after its
    /// shaper). Default 0 (Pensieve). Single-player runs only.
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "S",
        allow_negative_numbers = true
    )]
    pub trace_offset_s: f64,
    // -- end of the real link's request model. --
    /// Chunks played per session at most (Pensieve: 48); 0 plays every chunk of the video.
    #[arg(long, default_value_t = 48, value_name = "N")]
    pub max_chunks: usize,
    /// Worker threads (default: one per core).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The generalisation grid (trace sets x videos) instead of one run.
    #[command(flatten)]
    pub grid: crate::grid::GridArgs,
    /// Many players on one link instead of one per session (issue 22).
    #[command(flatten)]
    pub shared: crate::shared_link::SharedArgs,
}

pub(crate) fn parse_algorithms(list: &str) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    // A trailing comma (`bb,rate,`) is harmless; an empty entry inside the list is a typo.
    for raw in list.trim().trim_end_matches(',').split(',').map(str::trim) {
        if raw.is_empty() {
            if list.trim().is_empty() {
                break;
            }
            bail!("--abr {list}: empty entry between commas; list names like --abr bb,robustmpc");
        }
        if raw.eq_ignore_ascii_case("all") {
            names.extend(
                neuralstream_abr::ALGORITHMS
                    .iter()
                    .map(|(n, _)| n.to_string()),
            );
            names.push(OPTIMUM.into());
            continue;
        }
        if let Some(path) = learned_policy_path(raw) {
            anyhow::ensure!(
                !path.is_empty(),
                "--abr learned: needs a checkpoint path, e.g. learned:out/train/policy.safetensors"
            );
            names.push(canonical_algorithm_name(raw));
            continue;
        }
        if let Some(name) = crate::dataset::mpc_rf_name(raw) {
            names.push(name);
            continue;
        }
        let name = raw.to_ascii_lowercase();
        if name == "learned" {
            bail!(
                "--abr learned needs the policy file: learned:PATH, e.g. \
                 learned:out/train/policy.safetensors"
            );
        }
        if name != OPTIMUM {
            neuralstream_abr::create(&name).with_context(|| format!("in --abr {list}"))?;
        }
        names.push(name);
    }
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
    if names.is_empty() {
        bail!("--abr is empty; give at least one algorithm, e.g. --abr bb,robustmpc");
    }
    Ok(names)
}

/// Algorithms to draw in the timeline: the requested ones that were run, or a readable default.
fn timeline_algorithms(requested: Option<&str>, run: &[String]) -> Vec<String> {
    let wanted: Vec<String> = match requested {
        Some(list) => list
            .split(',')
            .map(|s| canonical_algorithm_name(s.trim()))
            .collect(),
        None => ["bb", "robustmpc", "dynamic", OPTIMUM]
            .iter()
            .map(|s| s.to_string())
            .collect(),
    };
    let chosen: Vec<String> = run.iter().filter(|a| wanted.contains(a)).cloned().collect();
    let missing: Vec<&String> = wanted
        .iter()
        .filter(|w| !w.is_empty() && !run.contains(w))
        .collect();
    if requested.is_some() && !missing.is_empty() {
        eprintln!(
            "note: --timeline-abr names {} that this run did not play (it played: {}); {}",
            missing
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            run.join(", "),
            if chosen.is_empty() {
                "drawing the first four instead"
            } else {
                "drawing the others"
            }
        );
    }
    if chosen.is_empty() {
        run.iter().take(4).cloned().collect()
    } else {
        chosen
    }
}

/// Oversubscription `--threads` allows: sessions are CPU-bound, more threads than cores only add
/// switching.
const MAX_THREADS_PER_CORE: usize = 16;

/// Sizes rayon's global pool from `--threads` (capped at [`MAX_THREADS_PER_CORE`] per core).
pub(crate) fn set_threads(threads: Option<usize>) -> Result<()> {
    if let Some(n) = threads {
        anyhow::ensure!(n > 0, "--threads must be at least 1");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let most = MAX_THREADS_PER_CORE * cores;
        let n = if n > most {
            eprintln!(
                "note: --threads {n} lowered to {most} ({MAX_THREADS_PER_CORE} per core on this machine)"
            );
            most
        } else {
            n
        };
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()
            .ok();
    }
    Ok(())
}

/// The `learned:PATH` policies among `algorithms`, loaded once and checked against the video
/// (cloned per session); notes a policy trained for another QoE model than `qoe` (a policy file
/// that says only `lin`, from before the penalty was recorded, was trained with Pensieve's 4.3).
fn load_learned(
    algorithms: &[String],
    video: &Video,
    qoe: &QoeModel,
) -> Result<HashMap<String, Policy>> {
    let mut learned = HashMap::new();
    for (name, path) in algorithms
        .iter()
        .filter_map(|n| learned_policy_path(n).map(|p| (n, p)))
    {
        let policy = Policy::load(path).with_context(|| format!("in --abr {name}"))?;
        policy
            .check_video(video)
            .map_err(|e| anyhow::anyhow!("--abr {name}: {e}"))?;
        let trained = &policy.meta().qoe;
        if !trained.is_empty() && QoeModel::from_name(trained).ok().as_ref() != Some(qoe) {
            eprintln!(
                "note: --abr {name} was trained for QoE {trained} but this run scores QoE {}",
                qoe.spec()
            );
        }
        learned.insert(name.clone(), policy);
    }
    Ok(learned)
}

/// Writes the results files, the chunk log and the charts `args` asks for into `--out`, and
/// removes those an earlier run left that this one did not write; returns the paths written.
fn write_outputs(
    args: &BenchArgs,
    out: &BenchOutput,
    traces: &[Trace],
    algorithms: &[String],
    timeline_index: usize,
) -> Result<Vec<PathBuf>> {
    let mut written = output::write_results(&args.out, &out.results)
        .with_context(|| format!("cannot write results into {}", args.out.display()))?;
    if !args.no_chunk_log {
        written.push(
            output::write_chunk_log(&args.out, traces, &out.logs)
                .with_context(|| format!("cannot write chunks.csv into {}", args.out.display()))?,
        );
    }
    if !args.no_charts {
        written.extend(neuralstream_report::qoe_cdf_chart(
            &out.results,
            &args.out.join("qoe_cdf"),
        )?);
        let drawn = timeline_algorithms(args.timeline_abr.as_deref(), algorithms);
        let sessions: Vec<(&str, &[neuralstream_core::ChunkRecord])> = out
            .logs
            .iter()
            .filter(|s| s.trace_index == timeline_index && drawn.contains(&s.algorithm))
            .map(|s| (s.algorithm.as_str(), s.log.records.as_slice()))
            .collect();
        written.extend(neuralstream_report::timeline_chart(
            &traces[timeline_index],
            &sessions,
            &args.out.join("timeline"),
        )?);
    }
    // Outputs of an earlier run into the same folder that this run did not write would sit beside
    // the new results and contradict them: remove them (only the files bench itself names).
    let mut stale = Vec::new();
    let skipped: &[&str] = match (args.no_charts, args.no_chunk_log) {
        (true, true) => &[
            "chunks.csv",
            "qoe_cdf.png",
            "qoe_cdf.svg",
            "timeline.png",
            "timeline.svg",
        ],
        (true, false) => &["qoe_cdf.png", "qoe_cdf.svg", "timeline.png", "timeline.svg"],
        (false, true) => &["chunks.csv"],
        (false, false) => &[],
    };
    for name in skipped {
        let p = args.out.join(name);
        if p.is_file() {
            std::fs::remove_file(&p)
                .with_context(|| format!("cannot remove the stale {}", p.display()))?;
            stale.push(name.to_string());
        }
    }
    if !stale.is_empty() {
        eprintln!(
            "note: removed {} left in {} by an earlier run (not written by this one)",
            stale.join(", "),
            args.out.display()
        );
    }
    Ok(written)
}

/// The simulator's settings: the link flags, then the real link's request model (off by default).
fn sim_config(args: &BenchArgs, video: &Video) -> Result<neuralstream_sim::SimConfig> {
    let mut sim = args.link.sim_config(video, args.max_chunks)?;
    sim.rtt_advances_trace = args.rtt_advances_trace;
    sim.init_segment_bytes = args.init_segment_bytes;
    sim.trace_offset_ms = args.trace_offset_s * 1000.0;
    sim.validate().map_err(|e| match e {
        neuralstream_sim::SimError::InvalidConfig { field, problem } => {
            let flag = match field {
                "trace_offset_ms" => "--trace-offset-s (in ms)",
                _ => "--init-segment-bytes",
            };
            anyhow::anyhow!("{flag} {problem}")
        }
        other => other.into(),
    })?;
    Ok(sim)
}

/// Runs the benchmark described by `args`.
pub fn run(args: BenchArgs) -> Result<()> {
    if (args.grid.is_set() || args.shared.is_set())
        && (args.rtt_advances_trace
            || args.init_segment_bytes.is_some()
            || args.trace_offset_s != 0.0)
    {
        bail!(
            "--rtt-advances-trace, --init-segment-bytes and --trace-offset-s apply to \
             single-player runs only; drop them, or --players/--grid-traces"
        );
    }
    if args.grid.is_set() {
        return crate::grid::run(&args);
    }
    if args.shared.is_set() {
        return crate::shared_link::run(&args);
    }
    set_threads(args.threads)?;
    let algorithms = parse_algorithms(&args.abr)?;
    let input = args.inputs.load(args.synthetic_traces, args.seed)?;
    let (qoe, video, traces, source) = (input.qoe, input.video, input.traces, input.source);
    let timeline_index = match &args.timeline_trace {
        None => 0,
        Some(name) => traces
            .iter()
            .position(|t| &t.name == name)
            .with_context(|| {
                format!(
                    "--timeline-trace {name}: no trace of that name among the {} loaded",
                    traces.len()
                )
            })?,
    };
    std::fs::create_dir_all(&args.out).with_context(|| {
        format!(
            "cannot create the output folder --out {}",
            args.out.display()
        )
    })?;

    let sim = sim_config(&args, &video)?;
    let played = sim.chunks_for(video.num_chunks());
    inputs::check_skip_chunks(args.skip_chunks, played, &video, args.max_chunks)?;
    let cfg = BenchConfig {
        sim,
        qoe,
        skip_chunks: args.skip_chunks,
        algorithms: algorithms.clone(),
        keep_logs: !(args.no_charts && args.no_chunk_log) || args.telemetry.telemetry.is_some(),
        ..BenchConfig::default()
    };
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    eprintln!(
        "bench: {} algorithm{} x {} trace{} ({}), video '{}' ({} levels, {played} of its {} chunks \
         played), QoE {}",
        algorithms.len(),
        plural(algorithms.len()),
        traces.len(),
        plural(traces.len()),
        source,
        video.name,
        video.num_levels(),
        video.num_chunks(),
        cfg.qoe.spec()
    );
    let bar = Progress::new(
        "bench",
        (algorithms.len() * traces.len()) as u64,
        "sessions",
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} sessions ({per_sec}, eta {eta})",
    );
    let learned = load_learned(&algorithms, &video, &cfg.qoe)?;
    let forests = crate::dataset::load_mpc_rf(&algorithms)?;
    let factory = |name: &str| -> Result<Box<dyn Abr>, EvalError> {
        if let Some(abr) = crate::dataset::mpc_rf(&forests, name) {
            return Ok(abr);
        }
        match learned.get(name) {
            Some(p) => Ok(Box::new(p.clone())),
            None => neuralstream_eval::builtin_factory(name),
        }
    };
    let started = Instant::now();
    let out = run_bench(&cfg, &traces, &video, &source, args.seed, &factory, &|| {
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    let wall = started.elapsed().as_secs_f64();

    say!("{}", neuralstream_report::summary_table(&out.results));
    say!("{}", neuralstream_report::summary_legend(&out.results));
    let written = write_outputs(&args, &out, &traces, &algorithms, timeline_index)?;
    crate::telemetry::record_sessions(
        &args.telemetry,
        neuralstream_telemetry::Source::Bench,
        &video.name,
        &traces,
        &out.logs,
        &out.results,
    )?;
    let sessions = algorithms.len() * traces.len();
    say!(
        "{sessions} session{} in {:.2} s; wrote {}",
        if sessions == 1 { "" } else { "s" },
        wall,
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_lists_parse_dedupe_and_reject_typos() {
        assert_eq!(
            parse_algorithms("bb, BB,optimum").unwrap(),
            vec!["bb", "optimum"]
        );
        assert!(parse_algorithms("all").unwrap().len() > 5);
        let e = format!("{:#}", parse_algorithms("bb,bolla").unwrap_err());
        assert!(e.contains("bolla"), "{e}");
        assert!(parse_algorithms(" , ").is_err());
    }

    #[test]
    fn timeline_defaults_to_a_readable_subset() {
        let run: Vec<String> = ["bola", "bb", "optimum", "rate"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(timeline_algorithms(None, &run), vec!["bb", "optimum"]);
        assert_eq!(
            timeline_algorithms(Some("rate, BOLA"), &run),
            vec!["bola", "rate"]
        );
        assert_eq!(timeline_algorithms(Some("nope"), &run).len(), 4);
        // A learned policy is one name however its prefix is spelt; its path keeps its case.
        let run = parse_algorithms("bb,Learned:Out/P.st,learned:Out/P.st").unwrap();
        assert_eq!(run, vec!["bb", "learned:Out/P.st"]);
        assert_eq!(
            timeline_algorithms(Some("LEARNED:Out/P.st"), &run),
            vec!["learned:Out/P.st"]
        );
    }
}
