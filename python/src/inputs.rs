//! The environments' settings: what they play (traces, video, QoE model, link) read from keyword
//! arguments with the CLI's names, defaults and files, checked once with messages naming the
//! argument.

use crate::errors::{ns_err, ns_msg};
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{QoeModel, Trace, Video};
use neuralstream_data::synthetic::{builtin_video, TraceGenerator};
use neuralstream_data::{load_traces, load_video, TraceFormat};
use neuralstream_policy::FeatureSpec;
use neuralstream_sim::{SimConfig, SimError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// Every keyword argument the environments accept, with its default (`bench`'s flags, same names
/// with underscores): documented in `python/README.md`.
pub const KEYWORDS: &[&str] = &[
    "traces",
    "trace_format",
    "synthetic_traces",
    "trace_seed",
    "video",
    "qoe",
    "rtt_ms",
    "buffer_cap_s",
    "payload_fraction",
    "rtt_advances_trace",
    "init_segment_bytes",
    "trace_offset_s",
    "max_chunks",
    "mode",
    "observation",
    "history_len",
    "skip_chunks",
    "reward_scale",
    "num_envs",
    "render_mode",
];

/// Most synthetic traces generated in memory (the CLI's bound).
const MAX_SYNTHETIC_TRACES: usize = 100_000;

/// How observations are given to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservationKind {
    /// The learned-policy feature vector (`neuralstream-policy`'s `FeatureSpec`), float32.
    Features,
    /// A dict of raw observations (buffer, last level, recent throughputs and delays, next sizes).
    Dict,
}

/// What an environment plays, loaded and checked.
#[derive(Debug)]
pub struct World {
    /// The traces, in the order they were read (file names sorted, as `bench`).
    pub traces: Vec<Trace>,
    /// The video.
    pub video: Video,
    /// The QoE model as given (its spec goes into policy files).
    pub qoe: QoeModel,
    /// The QoE model compiled for the video: per-chunk rewards.
    pub compiled: CompiledQoe,
    /// The simulator: Pensieve's test mode, or its training mode (delay noise) for `mode="train"`.
    pub sim: SimConfig,
    /// `mode="train"`: every episode starts at a random sample of its trace (Pensieve's `env.py`).
    pub random_start: bool,
    /// The observation features (also those of every policy file written from this environment).
    pub spec: FeatureSpec,
    /// Observation kind.
    pub observation: ObservationKind,
    /// Chunks not counted in an episode's `episode_qoe` (Pensieve and `bench`: 1).
    pub skip_chunks: usize,
    /// Multiplies every reward (the info's QoE numbers are never scaled).
    pub reward_scale: f64,
    /// Sessions of a vector environment (1 for a single one).
    pub num_envs: usize,
    /// Where the traces came from (a path or the generator's settings).
    pub traces_source: String,
}

pub(crate) fn get<'py, T: FromPyObjectOwned<'py>>(
    kwargs: Option<&Bound<'py, PyDict>>,
    key: &str,
    default: T,
) -> PyResult<T> {
    match kwargs.map(|k| k.get_item(key)).transpose()?.flatten() {
        Some(v) if !v.is_none() => v.extract::<T>().map_err(|e| {
            let e: PyErr = e.into();
            ns_msg(format!(
                "argument {key}={}: {}",
                v.repr().map(|r| r.to_string()).unwrap_or_default(),
                e.value(v.py())
            ))
        }),
        _ => Ok(default),
    }
}

fn path_arg(kwargs: Option<&Bound<'_, PyDict>>, key: &str) -> PyResult<Option<PathBuf>> {
    get::<Option<PathBuf>>(kwargs, key, None)
}

impl World {
    /// Reads the keyword arguments of an environment's constructor.
    pub fn from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<World> {
        if let Some(k) = kwargs {
            for key in k.keys() {
                let key: String = key.extract()?;
                if !KEYWORDS.contains(&key.as_str()) {
                    return Err(ns_msg(format!(
                        "unknown argument '{key}'; the environments take: {}",
                        KEYWORDS.join(", ")
                    )));
                }
            }
        }
        let video = match path_arg(kwargs, "video")? {
            Some(p) => load_video(&p).map_err(|e| {
                ns_err(
                    format!("cannot load the video from video={}", p.display()),
                    &e,
                )
            })?,
            None => builtin_video(),
        };
        let qoe_spec: String = get(kwargs, "qoe", "lin".to_owned())?;
        let qoe = QoeModel::for_video(&qoe_spec, &video)
            .map_err(|e| ns_err(format!("qoe={qoe_spec:?}"), &e))?;
        let compiled = qoe
            .compile(&video)
            .map_err(|e| ns_err(format!("qoe={qoe_spec:?} does not fit the video"), &e))?;
        let format_name: String = get(kwargs, "trace_format", "auto".to_owned())?;
        let format: TraceFormat = format_name
            .parse()
            .map_err(|e: String| ns_msg(format!("trace_format={format_name:?}: {e}")))?;
        let (traces, traces_source) = match path_arg(kwargs, "traces")? {
            Some(p) => (
                load_traces(&p, format).map_err(|e| {
                    ns_err(
                        format!("cannot load traces from traces={}", p.display()),
                        &e,
                    )
                })?,
                p.display().to_string(),
            ),
            None => {
                let count: usize = get(kwargs, "synthetic_traces", 100)?;
                let seed: u64 = get(kwargs, "trace_seed", 42)?;
                if !(1..=MAX_SYNTHETIC_TRACES).contains(&count) {
                    return Err(ns_msg(format!(
                        "synthetic_traces must be 1 to {MAX_SYNTHETIC_TRACES}, got {count} (or pass traces=PATH)"
                    )));
                }
                (
                    TraceGenerator::default().traces(seed, count),
                    format!("synthetic:seed={seed},count={count}"),
                )
            }
        };
        if traces.is_empty() {
            return Err(ns_msg("no trace to play: traces= names an empty folder"));
        }
        let mode: String = get(kwargs, "mode", "test".to_owned())?;
        let base = match mode.as_str() {
            "test" => SimConfig::pensieve(),
            "train" => SimConfig::pensieve_training(),
            other => {
                return Err(ns_msg(format!(
                    "mode={other:?}: use \"test\" (Pensieve's fixed_env.py: each episode plays a trace from its start) or \"train\" (env.py: random start, delay noise)"
                )))
            }
        };
        let buffer_cap_s: f64 = get(kwargs, "buffer_cap_s", 60.0)?;
        if buffer_cap_s.is_nan() || buffer_cap_s < video.chunk_duration_s {
            return Err(ns_msg(format!(
                "buffer_cap_s must be at least one chunk ({} s), got {buffer_cap_s}",
                video.chunk_duration_s
            )));
        }
        let max_chunks: usize = get(kwargs, "max_chunks", 48)?;
        let sim = SimConfig {
            rtt_ms: get(kwargs, "rtt_ms", 80.0)?,
            buffer_cap_ms: buffer_cap_s * 1000.0,
            payload_fraction: get(kwargs, "payload_fraction", 0.95)?,
            rtt_advances_trace: get(kwargs, "rtt_advances_trace", false)?,
            init_segment_bytes: match get::<u64>(kwargs, "init_segment_bytes", 0)? {
                0 => None,
                b => Some(b),
            },
            trace_offset_ms: get(kwargs, "trace_offset_s", 0.0)? * 1000.0,
            max_chunks: (max_chunks > 0).then_some(max_chunks),
            ..base
        };
        sim.validate().map_err(|e| match e {
            SimError::InvalidConfig { field, problem } => {
                let arg = match field {
                    "buffer_cap_ms" => "buffer_cap_s (in ms)",
                    "trace_offset_ms" => "trace_offset_s (in ms)",
                    f => f,
                };
                ns_msg(format!("{arg} {problem}"))
            }
            other => ns_err("simulator settings", &other),
        })?;
        let observation = match get(kwargs, "observation", "features".to_owned())?.as_str() {
            "features" => ObservationKind::Features,
            "dict" => ObservationKind::Dict,
            other => {
                return Err(ns_msg(format!(
                    "observation={other:?}: use \"features\" (the learned-policy feature vector) or \"dict\" (raw observations)"
                )))
            }
        };
        let spec = FeatureSpec {
            history_len: get(kwargs, "history_len", 8)?,
            buffer_scale_s: buffer_cap_s,
            ..FeatureSpec::new(video.num_levels())
        };
        spec.validate()
            .map_err(|e| ns_msg(format!("history_len or the video's ladder: {e}")))?;
        let skip_chunks: usize = get(kwargs, "skip_chunks", 1)?;
        let played = sim.chunks_for(video.num_chunks());
        if skip_chunks >= played {
            return Err(ns_msg(format!(
                "skip_chunks={skip_chunks} leaves no chunk to score: an episode plays {played} chunks"
            )));
        }
        let reward_scale: f64 = get(kwargs, "reward_scale", 1.0)?;
        if !(reward_scale.is_finite() && reward_scale > 0.0) {
            return Err(ns_msg(format!(
                "reward_scale must be a finite number > 0, got {reward_scale}"
            )));
        }
        let num_envs: usize = get(kwargs, "num_envs", 1)?;
        if !(1..=65_536).contains(&num_envs) {
            return Err(ns_msg(format!(
                "num_envs must be 1 to 65536, got {num_envs}"
            )));
        }
        // `render_mode` is accepted (SB3's `make_vec_env` passes one) and ignored: `render()`
        // draws nothing; the info holds each chunk's record.
        let _: Option<String> = get(kwargs, "render_mode", None)?;
        Ok(World {
            random_start: mode == "train",
            traces,
            video,
            qoe,
            compiled,
            sim,
            spec,
            observation,
            skip_chunks,
            reward_scale,
            num_envs,
            traces_source,
        })
    }
}
