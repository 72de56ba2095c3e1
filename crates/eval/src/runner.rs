//! Runs algorithms x traces through the simulator, in parallel, and scores every session.

use crate::results::{AlgorithmSummary, BenchMeta, BenchResults, SimulatorSettings, TraceResult};
use crate::stats::{ci95_half_width, mean, percentile};
use neuralstream_core::{Abr, QoeModel, Trace, Video};
use neuralstream_optimum::{solve, OptimumParams, PlannedAbr};
use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};
use rayon::prelude::*;
use std::time::Instant;
use thiserror::Error;

/// Name under which the offline optimum is requested and reported.
pub const OPTIMUM: &str = "optimum";

/// Why a benchmark could not run.
#[derive(Debug, Error)]
pub enum EvalError {
    /// An algorithm name is unknown.
    #[error(transparent)]
    Abr(#[from] neuralstream_abr::AbrError),
    /// The QoE model does not fit the video.
    #[error(transparent)]
    Qoe(#[from] neuralstream_core::CoreError),
    /// A session failed (e.g. a trace with no capacity).
    #[error("{algorithm} on trace '{trace}': {source}")]
    Session {
        /// Algorithm.
        algorithm: String,
        /// Trace.
        trace: String,
        /// Simulator error.
        source: neuralstream_sim::SimError,
    },
    /// The offline optimum failed on a trace.
    #[error("optimum on trace '{trace}': {message}")]
    Optimum {
        /// Trace.
        trace: String,
        /// Solver message.
        message: String,
    },
    /// Nothing to run.
    #[error("{0}")]
    Empty(String),
}

/// Makes a fresh algorithm instance; the CLI supplies one that also knows learned policies.
pub type AbrFactory<'a> = dyn Fn(&str) -> Result<Box<dyn Abr>, EvalError> + Sync + 'a;

/// The default factory: every algorithm of `neuralstream-abr`.
pub fn builtin_factory(name: &str) -> Result<Box<dyn Abr>, EvalError> {
    Ok(neuralstream_abr::create(name)?)
}

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Simulator constants (Pensieve's preset by default).
    pub sim: SimConfig,
    /// QoE model used to score sessions.
    pub qoe: QoeModel,
    /// Chunks dropped from the start of each session when scoring (Pensieve: 1).
    pub skip_chunks: usize,
    /// Algorithm names, in report order; `"optimum"` adds the offline optimum.
    pub algorithms: Vec<String>,
    /// Keep every session's per-chunk log in the output.
    pub keep_logs: bool,
    /// Parameters of the offline optimum.
    pub optimum: OptimumParams,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            sim: SimConfig::pensieve(),
            qoe: QoeModel::lin(),
            skip_chunks: 1,
            algorithms: vec!["bb".into()],
            keep_logs: false,
            optimum: OptimumParams::default(),
        }
    }
}

/// One session's log, kept when [`BenchConfig::keep_logs`] is set.
#[derive(Debug, Clone)]
pub struct SessionOutput {
    /// Algorithm.
    pub algorithm: String,
    /// Index of the trace in the input slice.
    pub trace_index: usize,
    /// Per-chunk records and decisions.
    pub log: SessionLog,
    /// Per-chunk rewards under the bench's QoE model.
    pub rewards: Vec<f64>,
}

/// Results plus optional logs.
#[derive(Debug, Clone)]
pub struct BenchOutput {
    /// Scores and summaries.
    pub results: BenchResults,
    /// Session logs, ordered by algorithm then trace (empty unless `keep_logs`).
    pub logs: Vec<SessionOutput>,
}

/// A unit of parallel work: one algorithm on one trace, or on every trace in order.
struct Job {
    algo: usize,
    traces: std::ops::Range<usize>,
}

/// Runs every requested algorithm on every trace. `on_session` is called after each session
/// (from worker threads) so callers can drive a progress bar.
#[allow(clippy::too_many_arguments)]
pub fn run_bench(
    cfg: &BenchConfig,
    traces: &[Trace],
    video: &Video,
    traces_source: &str,
    seed: u64,
    factory: &AbrFactory<'_>,
    on_session: &(dyn Fn() + Sync),
) -> Result<BenchOutput, EvalError> {
    let started = Instant::now();
    if traces.is_empty() {
        return Err(EvalError::Empty("no trace to run on".into()));
    }
    if cfg.algorithms.is_empty() {
        return Err(EvalError::Empty("no algorithm to run; pass --abr".into()));
    }
    let qoe = cfg.qoe.compile(video)?;
    // Validate every name up front so a typo fails before any work.
    let mut jobs = Vec::new();
    for (a, name) in cfg.algorithms.iter().enumerate() {
        let sequential = name != OPTIMUM && factory(name)?.carries_state_across_sessions();
        if sequential {
            jobs.push(Job {
                algo: a,
                traces: 0..traces.len(),
            });
        } else {
            jobs.extend((0..traces.len()).map(|t| Job {
                algo: a,
                traces: t..t + 1,
            }));
        }
    }
    // Longest jobs first for better load balance: sequential jobs and the optimum.
    jobs.sort_by_key(|j| {
        let heavy = cfg.algorithms[j.algo] == OPTIMUM;
        std::cmp::Reverse((j.traces.len(), heavy))
    });

    let outputs: Vec<Vec<(usize, usize, SessionOutput)>> = jobs
        .par_iter()
        .map(|job| -> Result<_, EvalError> {
            let name = &cfg.algorithms[job.algo];
            let mut out = Vec::with_capacity(job.traces.len());
            let mut abr: Option<Box<dyn Abr>> = None;
            for t in job.traces.clone() {
                let trace = &traces[t];
                let mut log = SessionLog::default();
                let err = |source| EvalError::Session {
                    algorithm: name.clone(),
                    trace: trace.name.clone(),
                    source,
                };
                if name == OPTIMUM {
                    let plan = solve(&cfg.sim, trace, video, &qoe, cfg.skip_chunks, &cfg.optimum)
                        .map_err(|e| EvalError::Optimum {
                        trace: trace.name.clone(),
                        message: e.to_string(),
                    })?;
                    let mut planned = PlannedAbr::new(plan);
                    run_session(
                        &cfg.sim,
                        trace,
                        video,
                        &mut planned,
                        StartPosition::Beginning,
                        None,
                        &mut log,
                    )
                    .map_err(err)?;
                } else {
                    if abr.is_none() {
                        abr = Some(factory(name)?);
                    }
                    let a = abr.as_mut().expect("just created").as_mut();
                    run_session(
                        &cfg.sim,
                        trace,
                        video,
                        a,
                        StartPosition::Beginning,
                        None,
                        &mut log,
                    )
                    .map_err(err)?;
                }
                let rewards = qoe.rewards(&log.records);
                out.push((
                    job.algo,
                    t,
                    SessionOutput {
                        algorithm: name.clone(),
                        trace_index: t,
                        log,
                        rewards,
                    },
                ));
                on_session();
            }
            Ok(out)
        })
        .collect::<Result<_, _>>()?;

    let mut sessions: Vec<(usize, usize, SessionOutput)> = outputs.into_iter().flatten().collect();
    sessions.sort_by_key(|(a, t, _)| (*a, *t));

    let per_trace: Vec<TraceResult> = sessions
        .iter()
        .map(|(_, t, s)| TraceResult {
            algorithm: s.algorithm.clone(),
            trace: traces[*t].name.clone(),
            score: qoe.score(&s.log.records, cfg.skip_chunks),
        })
        .collect();
    let mut summaries: Vec<AlgorithmSummary> = cfg
        .algorithms
        .iter()
        .map(|name| summarize(name, per_trace.iter().filter(|r| &r.algorithm == name)))
        .collect();
    if let Some(opt) = summaries
        .iter()
        .find(|s| s.algorithm == OPTIMUM)
        .map(|s| s.qoe_mean)
    {
        for s in &mut summaries {
            // A ratio to a mean that is not positive ranks backwards (the worse algorithm
            // gets the higher share), so there is none.
            s.share_of_optimum = (opt > 1e-12).then(|| s.qoe_mean / opt);
        }
    }
    let results = BenchResults {
        meta: BenchMeta {
            video: video.name.clone(),
            traces_source: traces_source.to_string(),
            traces: traces.len(),
            qoe: cfg.qoe.spec(),
            skip_chunks: cfg.skip_chunks,
            seed,
            wall_s: started.elapsed().as_secs_f64(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            simulator: Some(SimulatorSettings {
                rtt_ms: cfg.sim.rtt_ms,
                buffer_cap_s: cfg.sim.buffer_cap_ms / 1000.0,
                payload_fraction: cfg.sim.payload_fraction,
                max_chunks: cfg.sim.max_chunks,
                startup_level: cfg.sim.startup_level,
                delay_noise: cfg.sim.delay_noise,
                rtt_advances_trace: cfg.sim.rtt_advances_trace,
                init_segment_bytes: cfg.sim.init_segment_bytes,
                trace_offset_ms: cfg.sim.trace_offset_ms,
            }),
        },
        summaries,
        per_trace,
    };
    let logs = if cfg.keep_logs {
        sessions.into_iter().map(|(_, _, s)| s).collect()
    } else {
        Vec::new()
    };
    Ok(BenchOutput { results, logs })
}

/// Aggregates one algorithm's per-trace results.
pub fn summarize<'a>(name: &str, rows: impl Iterator<Item = &'a TraceResult>) -> AlgorithmSummary {
    let rows: Vec<&TraceResult> = rows.collect();
    let q: Vec<f64> = rows.iter().map(|r| r.score.qoe).collect();
    let avg =
        |f: &dyn Fn(&TraceResult) -> f64| mean(&rows.iter().map(|r| f(r)).collect::<Vec<_>>());
    AlgorithmSummary {
        algorithm: name.to_string(),
        traces: rows.len(),
        qoe_mean: mean(&q),
        qoe_ci95: (q.len() >= 2).then(|| ci95_half_width(&q)),
        qoe_median: percentile(&q, 50.0),
        qoe_p10: percentile(&q, 10.0),
        qoe_p90: percentile(&q, 90.0),
        bitrate_mean_kbps: avg(&|r| r.score.bitrate_mean_kbps),
        rebuffer_s_mean: avg(&|r| r.score.rebuffer_s),
        smoothness_mean: avg(&|r| r.score.smoothness_penalty),
        switches_mean: avg(&|r| r.score.switches as f64),
        startup_s_mean: avg(&|r| r.score.startup_s),
        share_of_optimum: None,
    }
}
