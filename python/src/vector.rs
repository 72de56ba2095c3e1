//! `AbrVectorCore`: many sessions stepped in one call (the Rust half of
//! `neuralstream.AbrVectorEnv`, a `gymnasium.vector.VectorEnv`), so that Python's per-call cost is
//! paid once per batch rather than once per session.
//!
//! Autoreset follows Gymnasium's default (`AutoresetMode.NEXT_STEP`): the step after a session's
//! last chunk resets that session (its action is ignored, its reward is 0 and it is not
//! terminated), and each session draws its next trace from its own seeded generator.

use crate::env::{action_level, feature_high, spec_json};
use crate::episode::{Episode, EpisodesCell};
use crate::errors::ns_msg;
use crate::inputs::{ObservationKind, World};
use neuralstream_core::Rng;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Arc;

/// Many adaptive-bitrate sessions as one batched environment (the Rust base of
/// `neuralstream.AbrVectorEnv`; observations are always the feature vectors).
#[pyclass(subclass, module = "neuralstream._native")]
#[derive(Debug)]
pub struct AbrVectorCore {
    cell: EpisodesCell,
    rngs: Vec<Rng>,
    /// `needs_reset[i]`: session `i` finished on the last step and restarts on the next.
    needs_reset: Vec<bool>,
    features: Vec<f32>,
}

/// What `step` returns: `(observations, rewards, terminated, truncated, infos)`.
type BatchStep<'py> = (
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyAny>,
    Bound<'py, PyDict>,
);

/// The batch's observations as a `(num_envs, feature_len)` float32 array.
fn batch_features<'py>(
    py: Python<'py>,
    world: &World,
    episodes: &[Episode<'_>],
    buf: &mut [f32],
) -> PyResult<Bound<'py, PyAny>> {
    let f = world.spec.len();
    for (ep, out) in episodes.iter().zip(buf.chunks_exact_mut(f)) {
        ep.write_features(world, out);
    }
    Ok(PyArray1::from_slice(py, buf)
        .reshape([episodes.len(), f])?
        .into_any())
}

/// The actions of a batch as levels: an integer array (or sequence) of `num_envs` entries.
fn batch_levels(actions: &Bound<'_, PyAny>, n: usize, levels: usize) -> PyResult<Vec<usize>> {
    if let Ok(arr) = actions.extract::<PyReadonlyArray1<'_, i64>>() {
        let view = arr.as_slice()?;
        if view.len() != n {
            return Err(ns_msg(format!(
                "actions has {} entries but the environment has num_envs={n}",
                view.len()
            )));
        }
        return view
            .iter()
            .enumerate()
            .map(|(i, &a)| {
                usize::try_from(a).ok().filter(|&l| l < levels).ok_or_else(|| {
                    ns_msg(format!(
                        "actions[{i}] = {a} is not a level: the video has {levels} levels (actions 0..{})",
                        levels - 1
                    ))
                })
            })
            .collect();
    }
    let items: Vec<Bound<'_, PyAny>> = actions
        .try_iter()
        .map_err(|_| {
            pyo3::exceptions::PyTypeError::new_err(format!(
                "actions must be an integer array of num_envs={n} levels"
            ))
        })?
        .collect::<PyResult<_>>()?;
    if items.len() != n {
        return Err(ns_msg(format!(
            "actions has {} entries but the environment has num_envs={n}",
            items.len()
        )));
    }
    items.iter().map(|a| action_level(a, levels)).collect()
}

#[pymethods]
impl AbrVectorCore {
    /// Loads traces, video and QoE model from keyword arguments (see `neuralstream.AbrVectorEnv`).
    #[new]
    #[pyo3(signature = (**kwargs))]
    fn new(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let world = Arc::new(World::from_kwargs(kwargs)?);
        if world.observation != ObservationKind::Features {
            return Err(ns_msg(
                "the vector environment gives feature observations only: drop observation=\"dict\"",
            ));
        }
        let n = world.num_envs;
        let features = vec![0.0; world.spec.len() * n];
        Ok(AbrVectorCore {
            cell: EpisodesCell::new(world, |w| (0..n).map(|_| Episode::idle(w)).collect()),
            rngs: (0..n as u64).map(|i| Rng::new(0).fork(i)).collect(),
            needs_reset: vec![false; n],
            features,
        })
    }

    /// Starts every session, session `i` with a generator seeded by `seeds[i]`; returns
    /// `(observations, infos)`. `AbrVectorEnv.reset` calls it.
    fn _reset<'py>(
        &mut self,
        py: Python<'py>,
        seeds: Vec<u64>,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyDict>)> {
        if seeds.len() != self.rngs.len() {
            return Err(ns_msg(format!(
                "{} seeds for num_envs={}",
                seeds.len(),
                self.rngs.len()
            )));
        }
        self.rngs = seeds.iter().map(|&s| Rng::new(s)).collect();
        self.needs_reset.fill(false);
        let (rngs, buf) = (&mut self.rngs, &mut self.features);
        self.cell.with_dependent_mut(|world, eps| {
            for (ep, rng) in eps.iter_mut().zip(rngs.iter_mut()) {
                *ep = Episode::start(world, None, rng).map_err(ns_msg)?;
            }
            Ok((batch_features(py, world, eps, buf)?, PyDict::new(py)))
        })
    }

    /// Steps every session with its action; returns `(observations, rewards, terminated,
    /// truncated, infos)` as arrays. When sessions finish, `infos` holds `episode_qoe` (the QoE
    /// `bench` reports for each finished session) with its mask `_episode_qoe`.
    fn step<'py>(
        &mut self,
        py: Python<'py>,
        actions: &Bound<'py, PyAny>,
    ) -> PyResult<BatchStep<'py>> {
        let n = self.rngs.len();
        let (rngs, needs_reset, buf) = (&mut self.rngs, &mut self.needs_reset, &mut self.features);
        self.cell.with_dependent_mut(|world, eps| {
            let levels = batch_levels(actions, n, world.video.num_levels())?;
            let mut rewards = vec![0.0f64; n];
            let mut terminated = vec![false; n];
            let mut episode_qoe = vec![0.0f64; n];
            let mut any_done = false;
            for i in 0..n {
                if needs_reset[i] {
                    eps[i] = Episode::start(world, None, &mut rngs[i]).map_err(ns_msg)?;
                    needs_reset[i] = false;
                    continue;
                }
                if !eps[i].active {
                    return Err(ns_msg("call reset() before step()"));
                }
                let ep = &mut eps[i];
                rewards[i] = ep.play(world, levels[i]).map_err(ns_msg)? * world.reward_scale;
                if ep.is_done() {
                    terminated[i] = true;
                    needs_reset[i] = true;
                    episode_qoe[i] = ep.qoe;
                    any_done = true;
                }
            }
            let infos = PyDict::new(py);
            if any_done {
                infos.set_item("episode_qoe", PyArray1::from_vec(py, episode_qoe))?;
                infos.set_item("_episode_qoe", PyArray1::from_slice(py, &terminated))?;
            }
            Ok((
                batch_features(py, world, eps, buf)?,
                PyArray1::from_vec(py, rewards).into_any(),
                PyArray1::from_slice(py, &terminated).into_any(),
                PyArray1::from_vec(py, vec![false; n]).into_any(),
                infos,
            ))
        })
    }

    /// Sessions stepped per call.
    #[getter]
    fn num_envs(&self) -> usize {
        self.rngs.len()
    }

    /// Number of quality levels (actions `0..num_levels`).
    #[getter]
    fn num_levels(&self) -> usize {
        self.cell.with_dependent(|w, _| w.video.num_levels())
    }

    /// Length of one session's feature vector.
    #[getter]
    fn feature_len(&self) -> usize {
        self.cell.with_dependent(|w, _| w.spec.len())
    }

    /// Largest value a feature takes.
    #[getter]
    fn feature_high(&self) -> f64 {
        self.cell.with_dependent(|w, _| feature_high(w))
    }

    /// The feature spec as JSON (what policy files written from this environment carry).
    #[getter]
    fn feature_spec(&self) -> String {
        self.cell.with_dependent(|w, _| spec_json(w))
    }

    /// The QoE model's spec with its stall penalty (e.g. `"lin:4.3"`).
    #[getter]
    fn qoe(&self) -> String {
        self.cell.with_dependent(|w, _| w.qoe.spec())
    }
}
