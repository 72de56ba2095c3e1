//! NeuralStream policy files from Python: a policy trained in Python (an SB3 or RLlib MLP, as a
//! list of `(weight [out, in], bias [out])` layers) saved in the format `bench --abr
//! learned:PATH`, `serve` and the web page run, and any NeuralStream policy file loaded back.
//!
//! Only `neuralstream-policy`'s public file functions are used (`LearnedAbr::new`, `save`, `load`)
//! with the feature spec the environment reports, so the file is exactly what `neuralstream
//! train` writes and the features are those the network was trained on.

use crate::errors::{ns_err, ns_msg};
use neuralstream_core::Abr;
use neuralstream_nn::{Activation, Mlp, MlpSpec};
use neuralstream_policy::{FeatureSpec, LearnedAbr, PolicyMeta};
use numpy::{AllowTypeChange, PyArray1, PyArrayLike1, PyArrayLike2, PyArrayMethods};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Parses an activation name (`relu`, `tanh`, `identity`).
fn activation(name: &str) -> PyResult<Activation> {
    serde_json::from_str(&format!("\"{}\"", name.to_ascii_lowercase())).map_err(|_| {
        ns_msg(format!(
            "activation={name:?}: use \"relu\", \"tanh\" or \"identity\" (applied after every layer but the last)"
        ))
    })
}

/// Name of an activation.
fn activation_name(a: Activation) -> String {
    serde_json::to_string(&a)
        .expect("an Activation always serialises")
        .trim_matches('"')
        .to_owned()
}

/// An `Mlp` from `(weight, bias)` layers, shapes checked to chain.
fn mlp_from_layers(layers: &Bound<'_, PyAny>, act: Activation) -> PyResult<Mlp> {
    let mut weights: Vec<(usize, usize, Vec<f32>, Vec<f32>)> = Vec::new();
    for (i, item) in layers.try_iter()?.enumerate() {
        let item = item?;
        let pair: (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract().map_err(|_| {
            ns_msg(format!(
                "layers[{i}] must be a (weight, bias) pair of arrays, weight shaped [out, in]"
            ))
        })?;
        let w = pair
            .0
            .extract::<PyArrayLike2<'_, f32, AllowTypeChange>>()
            .map_err(|e| {
                ns_msg(format!(
                    "layers[{i}] weight must be a 2-D array [out, in]: {}",
                    e.value(layers.py())
                ))
            })?;
        let b = pair
            .1
            .extract::<PyArrayLike1<'_, f32, AllowTypeChange>>()
            .map_err(|e| {
                ns_msg(format!(
                    "layers[{i}] bias must be a 1-D array [out]: {}",
                    e.value(layers.py())
                ))
            })?;
        let (w, b) = (w.as_array(), b.as_array());
        let (out, inp) = w.dim();
        if b.len() != out {
            return Err(ns_msg(format!(
                "layers[{i}]: weight is [{out}, {inp}] but bias has {} entries (needs {out})",
                b.len()
            )));
        }
        if let Some((_, prev_out, _, _)) = weights.last() {
            if *prev_out != inp {
                return Err(ns_msg(format!(
                    "layers[{i}] takes {inp} inputs but layers[{}] gives {prev_out} outputs",
                    i - 1
                )));
            }
        }
        let wv = w.iter().copied().collect::<Vec<f32>>();
        let bv = b.iter().copied().collect::<Vec<f32>>();
        if let Some(bad) = wv.iter().chain(&bv).find(|v| !v.is_finite()) {
            return Err(ns_msg(format!(
                "layers[{i}] holds a non-finite value ({bad}); the network diverged"
            )));
        }
        weights.push((inp, out, wv, bv));
    }
    if weights.is_empty() {
        return Err(ns_msg(
            "layers is empty: give at least one (weight, bias) pair",
        ));
    }
    let mut sizes = vec![weights[0].0];
    sizes.extend(weights.iter().map(|l| l.1));
    let mut mlp = Mlp::zeros(&MlpSpec {
        sizes,
        hidden_activation: act,
    });
    for (layer, (_, _, w, b)) in mlp.layers_mut().iter_mut().zip(weights) {
        layer.weight_mut().copy_from_slice(&w);
        layer.bias_mut().copy_from_slice(&b);
    }
    Ok(mlp)
}

/// Saves an MLP policy as a NeuralStream policy file (safetensors + metadata) that
/// `neuralstream bench --abr learned:PATH` runs, and checks it loads back.
///
/// `layers`: `(weight [out, in], bias [out])` per layer, input layer first, the last giving one
/// logit per level; `activation` after every layer but the last; `feature_spec`: the
/// environment's `feature_spec` (JSON); `qoe`: the environment's `qoe`; `extra`: free-form
/// string entries stored with it.
#[pyfunction]
#[pyo3(signature = (path, layers, feature_spec, qoe, activation="tanh", seed=None, extra=None))]
#[allow(clippy::too_many_arguments)]
pub fn save_policy(
    path: PathBuf,
    layers: &Bound<'_, PyAny>,
    feature_spec: &str,
    qoe: &str,
    activation: &str,
    seed: Option<u64>,
    extra: Option<BTreeMap<String, String>>,
) -> PyResult<()> {
    let spec: FeatureSpec = serde_json::from_str(feature_spec)
        .map_err(|e| ns_err("feature_spec (pass the environment's feature_spec)", &e))?;
    spec.validate()
        .map_err(|e| ns_msg(format!("feature_spec: {e}")))?;
    let actor = mlp_from_layers(layers, self::activation(activation)?)?;
    if actor.input_dim() != spec.len() || actor.output_dim() != spec.num_levels {
        return Err(ns_msg(format!(
            "the network takes {} inputs and gives {} outputs, but the feature spec needs {} inputs and {} levels",
            actor.input_dim(),
            actor.output_dim(),
            spec.len(),
            spec.num_levels
        )));
    }
    let meta = PolicyMeta {
        qoe: qoe.to_owned(),
        seed,
        git_commit: None,
        extra: extra.unwrap_or_default(),
    };
    LearnedAbr::new(actor, spec, meta)
        .save(&path)
        .map_err(|e| ns_err(format!("cannot save the policy to {}", path.display()), &e))?;
    LearnedAbr::load(&path).map_err(|e| {
        ns_err(
            format!(
                "the policy written to {} does not load back",
                path.display()
            ),
            &e,
        )
    })?;
    Ok(())
}

/// A NeuralStream policy file loaded in Python: its layers, feature spec and metadata, greedy
/// decisions on feature vectors or on an `AbrEnv`'s episode.
#[pyclass(module = "neuralstream._native")]
pub struct Policy {
    abr: LearnedAbr,
    /// Serial number of the episode of the last `choose`.
    last_episode: Option<u64>,
}

#[pymethods]
impl Policy {
    /// Loads a policy file (written by `neuralstream train` or `save_policy`).
    #[staticmethod]
    fn load(path: PathBuf) -> PyResult<Self> {
        let abr = LearnedAbr::load(&path)
            .map_err(|e| ns_err(format!("cannot load the policy {}", path.display()), &e))?;
        Ok(Policy {
            abr,
            last_episode: None,
        })
    }

    /// Writes this policy to `path` (same format).
    fn save(&self, path: PathBuf) -> PyResult<()> {
        self.abr
            .save(&path)
            .map_err(|e| ns_err(format!("cannot save the policy to {}", path.display()), &e))
    }

    /// `(weight [out, in], bias [out])` float32 arrays per layer, input layer first.
    #[getter]
    fn layers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let items = self
            .abr
            .actor()
            .layers()
            .iter()
            .map(|l| {
                let w = PyArray1::from_slice(py, l.weight()).reshape([l.out_dim(), l.in_dim()])?;
                let b = PyArray1::from_slice(py, l.bias());
                PyTuple::new(py, [w.into_any(), b.into_any()])
            })
            .collect::<PyResult<Vec<_>>>()?;
        PyList::new(py, items)
    }

    /// Activation after every layer but the last.
    #[getter]
    fn activation(&self) -> String {
        activation_name(self.abr.actor().hidden_activation())
    }

    /// The feature spec (JSON) the policy reads.
    #[getter]
    fn feature_spec(&self) -> String {
        serde_json::to_string(self.abr.spec()).expect("a FeatureSpec always serialises")
    }

    /// Number of levels the policy chooses from.
    #[getter]
    fn num_levels(&self) -> usize {
        self.abr.spec().num_levels
    }

    /// The QoE model it was trained for.
    #[getter]
    fn qoe(&self) -> String {
        self.abr.meta().qoe.clone()
    }

    /// Training seed, when recorded.
    #[getter]
    fn seed(&self) -> Option<u64> {
        self.abr.meta().seed
    }

    /// Free-form metadata entries.
    #[getter]
    fn extra<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (k, v) in &self.abr.meta().extra {
            d.set_item(k, v)?;
        }
        Ok(d)
    }

    /// The network's logits for one feature vector.
    fn logits<'py>(
        &self,
        py: Python<'py>,
        features: PyArrayLike1<'py, f32, AllowTypeChange>,
    ) -> PyResult<Bound<'py, PyArray1<f32>>> {
        let x: Vec<f32> = features.as_array().iter().copied().collect();
        let actor = self.abr.actor();
        if x.len() != actor.input_dim() {
            return Err(ns_msg(format!(
                "features has {} entries but the policy reads {}",
                x.len(),
                actor.input_dim()
            )));
        }
        let mut scratch = neuralstream_nn::Scratch::for_mlp(actor);
        Ok(PyArray1::from_slice(py, actor.infer(&x, &mut scratch)))
    }

    /// The greedy level (argmax of the logits) for one feature vector.
    fn act(
        &self,
        py: Python<'_>,
        features: PyArrayLike1<'_, f32, AllowTypeChange>,
    ) -> PyResult<usize> {
        let logits = self.logits(py, features)?;
        Ok(neuralstream_policy::argmax(logits.readonly().as_slice()?))
    }

    /// The level this policy fetches next in `env`'s current episode (what `bench --abr
    /// learned:PATH` would choose there).
    fn choose(&mut self, env: &Bound<'_, PyAny>) -> PyResult<usize> {
        let core = crate::algorithms::core_of(env)?;
        core.with_episode(|world, ep| {
            if world.video.num_levels() != self.abr.spec().num_levels {
                return Err(ns_msg(format!(
                    "the policy was trained for {} levels but the video '{}' has {}",
                    self.abr.spec().num_levels,
                    world.video.name,
                    world.video.num_levels()
                )));
            }
            if !ep.active {
                return Err(ns_msg(
                    "the environment has no episode under way: call reset() first",
                ));
            }
            if self.last_episode != Some(ep.serial) {
                self.abr.reset();
                self.last_episode = Some(ep.serial);
            }
            Ok(self.abr.choose(&ep.observation(world)).level)
        })
    }
}
