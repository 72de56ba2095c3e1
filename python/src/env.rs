//! `AbrCore`: the single environment's Rust half. `neuralstream.AbrEnv` subclasses it together
//! with `gymnasium.Env` and only adds the spaces and the seeding glue; `step` is this file's.

use crate::episode::{Episode, EpisodeCell};
use crate::errors::ns_msg;
use crate::inputs::{ObservationKind, World};
use crate::records::{dict_observation, info_dict, record_dict};
use neuralstream_core::Rng;
use numpy::PyArray1;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::Arc;

/// The level an action asks for: a Python or numpy integer (or a one-element integer array) in
/// `0..levels`. Anything else is a `TypeError` or a `NeuralStreamError` naming the valid range.
pub fn action_level(action: &Bound<'_, PyAny>, levels: usize) -> PyResult<usize> {
    let value = match action.extract::<i64>() {
        Ok(v) => v,
        Err(_) => {
            let item = action
                .getattr("size")
                .and_then(|s| s.extract::<usize>())
                .ok()
                .filter(|&s| s == 1)
                .and_then(|_| action.call_method0("item").ok())
                .and_then(|i| i.extract::<i64>().ok());
            item.ok_or_else(|| {
                let ty = action
                    .get_type()
                    .name()
                    .map(|n| n.to_string())
                    .unwrap_or_default();
                let shown = action.repr().map(|r| r.to_string()).unwrap_or_default();
                PyTypeError::new_err(format!(
                    "action must be an integer level 0..{}, got {shown} ({ty})",
                    levels - 1
                ))
            })?
        }
    };
    usize::try_from(value)
        .ok()
        .filter(|&v| v < levels)
        .ok_or_else(|| {
            ns_msg(format!(
                "action {value} is not a level: the video has {levels} levels (actions 0..{})",
                levels - 1
            ))
        })
}

/// The observation of `ep` as Python sees it (`features`: float32 vector; `dict`: raw values).
pub fn observation<'py>(
    py: Python<'py>,
    world: &World,
    ep: &Episode<'_>,
    features: &mut [f32],
) -> PyResult<Bound<'py, PyAny>> {
    Ok(match world.observation {
        ObservationKind::Features => {
            ep.write_features(world, features);
            PyArray1::from_slice(py, features).into_any()
        }
        ObservationKind::Dict => dict_observation(py, world, ep)?.into_any(),
    })
}

/// What `step` returns: `(observation, reward, terminated, truncated, info)`.
type StepResult<'py> = (Bound<'py, PyAny>, f64, bool, bool, Bound<'py, PyDict>);

/// One adaptive-bitrate streaming session as a reinforcement-learning environment over the exact
/// simulator (the Rust base of `neuralstream.AbrEnv`; use that class or
/// `gymnasium.make("NeuralStream/Abr-v0", ...)`).
#[pyclass(subclass, module = "neuralstream._native")]
#[derive(Debug)]
pub struct AbrCore {
    cell: EpisodeCell,
    rng: Rng,
    features: Vec<f32>,
}

impl AbrCore {
    /// The world and the current episode (for the algorithms and the optimum).
    pub fn with_episode<R>(&self, f: impl FnOnce(&World, &Episode<'_>) -> R) -> R {
        self.cell.with_dependent(|world, ep| f(world, ep))
    }
}

#[pymethods]
impl AbrCore {
    /// Loads traces, video and QoE model from keyword arguments (see `neuralstream.AbrEnv`).
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let world = Arc::new(World::from_kwargs(kwargs)?);
        let features = vec![0.0; world.spec.len()];
        Ok(AbrCore {
            cell: EpisodeCell::new(world, |w| Episode::idle(w)),
            rng: Rng::new(0),
            features,
        })
    }

    /// Starts an episode with a generator seeded by `seed`, on trace `trace_index` (or a random
    /// one); returns `(observation, info)`. `AbrEnv.reset` calls it.
    #[pyo3(signature = (seed, trace_index=None))]
    fn _reset<'py>(
        &mut self,
        py: Python<'py>,
        seed: u64,
        trace_index: Option<usize>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        self.rng = Rng::new(seed);
        let rng = &mut self.rng;
        let features = &mut self.features;
        self.cell.with_dependent_mut(|world, ep| {
            *ep = Episode::start(world, trace_index, rng).map_err(ns_msg)?;
            Ok((
                observation(py, world, ep, features)?,
                info_dict(py, world, ep)?,
            ))
        })
    }

    /// Downloads the next chunk at level `action`; returns `(observation, reward, terminated,
    /// truncated, info)`: the reward is the chunk's QoE term (times `reward_scale`), the episode
    /// terminates after the session's last chunk, and `info` holds the chunk's record (and, at the
    /// end, `episode_qoe`: the QoE `bench` reports for this session).
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        action: &Bound<'py, PyAny>,
    ) -> PyResult<StepResult<'py>> {
        let features = &mut self.features;
        self.cell.with_dependent_mut(|world, ep| {
            if !ep.active {
                return Err(ns_msg(if ep.records.is_empty() {
                    "call reset() before step()".to_owned()
                } else {
                    format!(
                        "the episode is over (all {} chunks played): call reset()",
                        ep.records.len()
                    )
                }));
            }
            let level = action_level(action, world.video.num_levels())?;
            let reward = ep.play(world, level).map_err(ns_msg)?;
            Ok((
                observation(py, world, ep, features)?,
                reward * world.reward_scale,
                ep.is_done(),
                false,
                info_dict(py, world, ep)?,
            ))
        })
    }

    /// This episode's chunk records so far (dicts), chunk 0 first.
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        self.with_episode(|_, ep| {
            let items = ep
                .records
                .iter()
                .map(|r| record_dict(py, r))
                .collect::<PyResult<Vec<_>>>()?;
            PyList::new(py, items)
        })
    }

    /// Number of quality levels (actions `0..num_levels`).
    #[getter]
    fn num_levels(&self) -> usize {
        self.with_episode(|w, _| w.video.num_levels())
    }

    /// Length of the feature vector (the `features` observation).
    #[getter]
    fn feature_len(&self) -> usize {
        self.features.len()
    }

    /// Largest value a feature takes (features are clamped to `[0, feature_high]`).
    #[getter]
    fn feature_high(&self) -> f64 {
        self.with_episode(|w, _| feature_high(w))
    }

    /// The feature spec as JSON (what policy files written from this environment carry).
    #[getter]
    fn feature_spec(&self) -> String {
        self.with_episode(|w, _| spec_json(w))
    }

    /// `"features"` or `"dict"`.
    #[getter]
    fn observation_kind(&self) -> &'static str {
        self.with_episode(|w, _| kind_name(w))
    }

    /// Chunks of history in the observation.
    #[getter]
    fn history_len(&self) -> usize {
        self.with_episode(|w, _| w.spec.history_len)
    }

    /// Chunks an episode plays.
    #[getter]
    fn total_chunks(&self) -> usize {
        self.with_episode(|w, _| w.sim.chunks_for(w.video.num_chunks()))
    }

    /// Player buffer cap, seconds.
    #[getter]
    fn buffer_cap_s(&self) -> f64 {
        self.with_episode(|w, _| w.sim.buffer_cap_ms / 1000.0)
    }

    /// Names of the traces, in the order `trace_index` counts them.
    #[getter]
    fn trace_names(&self) -> Vec<String> {
        self.with_episode(|w, _| w.traces.iter().map(|t| t.name.clone()).collect())
    }

    /// The QoE model's spec with its stall penalty (e.g. `"lin:4.3"`), as policy files record it.
    #[getter]
    fn qoe(&self) -> String {
        self.with_episode(|w, _| w.qoe.spec())
    }

    /// Where the traces came from.
    #[getter]
    fn traces_source(&self) -> String {
        self.with_episode(|w, _| w.traces_source.clone())
    }

    /// Chunks left out of `episode_qoe`.
    #[getter]
    fn skip_chunks(&self) -> usize {
        self.with_episode(|w, _| w.skip_chunks)
    }
}

/// Upper bound of every feature (the spec's clamps; sizes are clamped at 10, the buffer at 1.5).
pub fn feature_high(w: &World) -> f64 {
    w.spec
        .max_throughput_ratio
        .max(w.spec.max_delay_ratio)
        .max(10.0)
}

/// The world's feature spec as JSON.
pub fn spec_json(w: &World) -> String {
    serde_json::to_string(&w.spec).expect("a FeatureSpec always serialises")
}

/// Name of the observation kind.
pub fn kind_name(w: &World) -> &'static str {
    match w.observation {
        ObservationKind::Features => "features",
        ObservationKind::Dict => "dict",
    }
}
