//! # neuralstream (Python binding)
//!
//! The Python package `neuralstream`'s native module (`neuralstream._native`), built with maturin
//! and PyO3: Gymnasium environments over NeuralStream's exact simulator (`env::AbrCore`, one
//! session; `vector::AbrVectorCore`, many sessions stepped per call), the rule algorithms and the
//! offline optimum as baselines and teachers (`algorithms`), NeuralStream's policy files read
//! and written from Python (`policy`), and the real-time mode's environment with `neuralstream-rt`'s
//! controllers as baselines (`rt_env`: rt's closed-loop session on a worker thread, paused at each
//! feedback report for Python's decision).
//!
//! **Key design decision:** the environments are Rust classes that Python subclasses together with
//! `gymnasium.Env` / `gymnasium.vector.VectorEnv` (`neuralstream/__init__.py`), so `check_env`,
//! `gymnasium.make`, Stable-Baselines3 and RLlib see real Gymnasium environments while `step` is
//! Rust all the way: the simulator is `neuralstream-sim`'s [`Session`](neuralstream_sim::Session),
//! the observation is `neuralstream-policy`'s [`FeatureSpec`](neuralstream_policy::FeatureSpec)
//! (the very features `bench --abr learned:PATH` feeds a policy), and the reward is core's QoE, so
//! an episode played from Python scores exactly what `neuralstream bench` reports. Inputs are read
//! by `neuralstream-data` from the same files and folders as the CLI, and every error reaches Python
//! as an exception carrying the Rust message, never a crash.

mod algorithms;
mod env;
mod episode;
mod errors;
mod inputs;
mod policy;
mod records;
mod rt_env;
mod vector;

use pyo3::prelude::*;

/// The native module: classes and functions re-exported by the `neuralstream` package.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "NeuralStreamError",
        m.py().get_type::<errors::NeuralStreamError>(),
    )?;
    m.add_class::<env::AbrCore>()?;
    m.add_class::<vector::AbrVectorCore>()?;
    m.add_class::<algorithms::Rule>()?;
    m.add_function(wrap_pyfunction!(algorithms::algorithms, m)?)?;
    m.add_function(wrap_pyfunction!(algorithms::optimum_plan, m)?)?;
    m.add_class::<rt_env::RtCore>()?;
    m.add_class::<rt_env::RtController>()?;
    m.add_function(wrap_pyfunction!(rt_env::rt_controllers, m)?)?;
    m.add_class::<policy::Policy>()?;
    m.add_function(wrap_pyfunction!(policy::save_policy, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
