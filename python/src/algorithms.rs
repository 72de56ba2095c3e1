//! The rule algorithms and the offline optimum, callable from Python as baselines and teachers:
//! they decide from the environment's current episode, exactly as `bench` runs them.

use crate::env::AbrCore;
use crate::errors::{ns_err, ns_msg};
use neuralstream_core::Abr;
use neuralstream_optimum::{solve_from, OptimumParams};
use pyo3::prelude::*;
use std::sync::Mutex;

/// `(name, description)` of every rule algorithm `Rule` accepts (`neuralstream algorithms`).
#[pyfunction]
pub fn algorithms() -> Vec<(&'static str, &'static str)> {
    neuralstream_abr::ALGORITHMS.to_vec()
}

/// The `AbrCore` behind `env` (an `AbrEnv`, or a Gymnasium wrapper around one).
pub fn core_of<'py>(env: &Bound<'py, PyAny>) -> PyResult<PyRef<'py, AbrCore>> {
    if let Ok(core) = env.extract::<PyRef<'py, AbrCore>>() {
        return Ok(core);
    }
    let inner = env.getattr("unwrapped").map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "expected a neuralstream.AbrEnv (or a gymnasium wrapper around one)",
        )
    })?;
    inner.extract::<PyRef<'py, AbrCore>>().map_err(|_| {
        pyo3::exceptions::PyTypeError::new_err(
            "expected a neuralstream.AbrEnv (or a gymnasium wrapper around one)",
        )
    })
}

/// A rule algorithm (`bb`, `bola`, `robustmpc`, ...; `neuralstream.algorithms()` lists them) that
/// chooses the next level of an `AbrEnv`'s episode. It resets itself when the environment starts
/// a new episode, as `bench` resets it per session (the cross-session state of
/// `robustmpc-pensieve` is therefore not carried between episodes).
#[pyclass(module = "neuralstream._native")]
pub struct Rule {
    /// The algorithm (behind a lock: Python objects may be shared between threads).
    abr: Mutex<Box<dyn Abr>>,
    /// Serial number of the episode of the last decision.
    last_episode: Option<u64>,
}

impl Rule {
    fn abr(&self) -> std::sync::MutexGuard<'_, Box<dyn Abr>> {
        // A panic inside an algorithm would be a bug; its state is still usable for a decision.
        self.abr.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[pymethods]
impl Rule {
    /// The algorithm named `name` (case-insensitive).
    #[new]
    fn new(name: &str) -> PyResult<Self> {
        let abr = neuralstream_abr::create(name).map_err(|e| ns_err("Rule", &e))?;
        Ok(Rule {
            abr: Mutex::new(abr),
            last_episode: None,
        })
    }

    /// The algorithm's name.
    #[getter]
    fn name(&self) -> String {
        self.abr().name()
    }

    /// The level this algorithm fetches next in `env`'s current episode.
    fn choose(&mut self, env: &Bound<'_, PyAny>) -> PyResult<usize> {
        let core = core_of(env)?;
        core.with_episode(|world, ep| {
            if !ep.active {
                return Err(ns_msg(
                    "the environment has no episode under way: call reset() (or reset() after the last chunk)",
                ));
            }
            // A fresh session for the algorithm whenever the environment started a new episode.
            if self.last_episode != Some(ep.serial) {
                self.abr().reset();
                self.last_episode = Some(ep.serial);
            }
            Ok(self.abr().choose(&ep.observation(world)).level)
        })
    }
}

/// The offline optimum's levels for the rest of `env`'s current episode: the schedule of chunks
/// `next_chunk..` that maximises the QoE still to be earned, found by dynamic programming over the
/// exact simulator with perfect knowledge of the trace (the teacher `neuralstream train`
/// imitates). Played from a reset in test mode, it scores what `bench --abr optimum` reports.
#[pyfunction]
pub fn optimum_plan(env: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let core = core_of(env)?;
    core.with_episode(|world, ep| {
        if !ep.active {
            return Err(ns_msg(
                "the environment has no episode under way: call reset() first",
            ));
        }
        solve_from(
            &world.sim,
            &ep.session,
            ep.last_level,
            &world.compiled,
            world.skip_chunks,
            &OptimumParams::default(),
        )
        .map(|plan| plan.levels)
        .map_err(|e| ns_err("optimum", &e))
    })
}
