//! [`LearnedAbr`]: a trained actor network wrapped as an ordinary [`Abr`], and its policy files.

use crate::features::{FeatureSpec, FEATURE_VERSION};
use neuralstream_core::{Abr, Decision, Observation};
use neuralstream_nn::{load_networks, save_safetensors, CheckpointError, Mlp, Scratch};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

// The metadata keys keep the `learn.` prefix they had when policies were written by
// `neuralstream-learn`, so that every policy file written since still loads.

/// Name of the actor network inside a checkpoint.
pub const ACTOR: &str = "actor";
/// Metadata key holding the [`FeatureSpec`] as JSON.
pub const META_FEATURES: &str = "learn.feature_spec";
/// Metadata key holding the number of ladder levels.
pub const META_NUM_LEVELS: &str = "learn.num_levels";

/// Why a policy could not be loaded or saved. Every variant names the file.
#[derive(Debug, Error)]
pub enum PolicyError {
    /// The safetensors layer failed (I/O, format, shapes).
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    /// The checkpoint has no actor network.
    #[error("{}: checkpoint has no '{ACTOR}' network; is it a learned-policy checkpoint?", path.display())]
    MissingActor {
        /// The checkpoint file.
        path: PathBuf,
    },
    /// A metadata entry is missing or malformed.
    #[error("{}: metadata '{key}': {message}", path.display())]
    Metadata {
        /// The checkpoint file.
        path: PathBuf,
        /// The metadata key.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// The network's shape does not fit the feature spec.
    #[error("{}: actor takes {actor_inputs} inputs and gives {actor_outputs} outputs, but the feature spec needs {spec_inputs} inputs and {spec_levels} levels", path.display())]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// Actor input width.
        actor_inputs: usize,
        /// Actor output width.
        actor_outputs: usize,
        /// Feature vector length.
        spec_inputs: usize,
        /// Levels of the spec.
        spec_levels: usize,
    },
    /// An ensemble spec (`A+B+C`) is malformed or mixes layouts or feature specs.
    #[error("ensemble '{spec}': {message}")]
    Ensemble {
        /// The spec as given.
        spec: String,
        /// What is wrong, naming the member.
        message: String,
    },
}

/// Provenance stored next to the weights (all optional but the QoE model name).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PolicyMeta {
    /// QoE model the policy was trained for, as a spec with its stall penalty (`"lin:4.3"`;
    /// files written before the penalty was recorded say `"lin"`, meaning 4.3).
    pub qoe: String,
    /// Training seed.
    pub seed: Option<u64>,
    /// Git commit of the code that trained it, when known.
    pub git_commit: Option<String>,
    /// Further free-form entries (metrics, training settings), stored under `learn.extra.<key>`.
    pub extra: BTreeMap<String, String>,
}

/// A learned ABR policy: an [`Mlp`] actor over [`FeatureSpec`] features, acting greedily (argmax
/// of its logits), so decisions are deterministic.
///
/// Inference uses [`Mlp::infer`] with a scratch buffer and a feature buffer owned by the policy,
/// so a decision allocates nothing and does not involve the training code paths.
#[derive(Debug, Clone)]
pub struct LearnedAbr {
    actor: Mlp,
    spec: FeatureSpec,
    meta: PolicyMeta,
    scratch: Scratch,
    features: Vec<f32>,
}

impl LearnedAbr {
    /// Wraps `actor` (inputs `spec.len()`, outputs `spec.num_levels`).
    ///
    /// # Panics
    /// If the actor's shape does not fit the spec.
    pub fn new(actor: Mlp, spec: FeatureSpec, meta: PolicyMeta) -> Self {
        assert_eq!(actor.input_dim(), spec.len(), "actor input width");
        assert_eq!(actor.output_dim(), spec.num_levels, "actor output width");
        let scratch = Scratch::for_mlp(&actor);
        let features = vec![0.0; spec.len()];
        LearnedAbr {
            actor,
            spec,
            meta,
            scratch,
            features,
        }
    }

    /// The actor network.
    pub fn actor(&self) -> &Mlp {
        &self.actor
    }

    /// The featurisation.
    pub fn spec(&self) -> &FeatureSpec {
        &self.spec
    }

    /// Provenance metadata.
    pub fn meta(&self) -> &PolicyMeta {
        &self.meta
    }

    /// Mutable provenance metadata (e.g. to add metrics before saving).
    pub fn meta_mut(&mut self) -> &mut PolicyMeta {
        &mut self.meta
    }

    /// Logits of the actor for `obs` (one per level); they live in the policy's scratch space.
    pub fn logits(&mut self, obs: &Observation<'_>) -> &[f32] {
        self.spec.write(obs, &mut self.features);
        self.actor.infer(&self.features, &mut self.scratch)
    }

    /// Writes a checkpoint: the actor as `"actor"` plus metadata (feature spec JSON, ladder size,
    /// QoE model, seed, git commit, extras).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PolicyError> {
        let md = policy_metadata(&self.spec, &self.meta);
        save_safetensors(path, &[(ACTOR, &self.actor)], None, &md)?;
        Ok(())
    }

    /// Loads a checkpoint written by [`LearnedAbr::save`] (or by a trainer that stores its actor
    /// under `"actor"` with the same metadata).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let (actor, md) = read_policy_file(path)?;
        Self::from_parts(path, actor, &md)
    }

    /// Builds the policy from a file's actor and metadata (`path` only names the file in errors):
    /// checks the feature spec (layout version 1) and the actor's shape.
    pub(crate) fn from_parts(
        path: &Path,
        actor: Mlp,
        md: &BTreeMap<String, String>,
    ) -> Result<Self, PolicyError> {
        let bad = |key: &str, message: String| PolicyError::Metadata {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let spec_json = md
            .get(META_FEATURES)
            .ok_or_else(|| bad(META_FEATURES, "missing".into()))?;
        let value: serde_json::Value =
            serde_json::from_str(spec_json).map_err(|e| bad(META_FEATURES, e.to_string()))?;
        if let Some(v) = value.get("version").and_then(serde_json::Value::as_u64) {
            if v != u64::from(FEATURE_VERSION) {
                return Err(bad(META_FEATURES, crate::features::wrong_version(v)));
            }
        }
        let spec: FeatureSpec =
            serde_json::from_value(value).map_err(|e| bad(META_FEATURES, e.to_string()))?;
        spec.validate().map_err(|e| bad(META_FEATURES, e))?;
        if actor.input_dim() != spec.len() || actor.output_dim() != spec.num_levels {
            return Err(PolicyError::ShapeMismatch {
                path: path.to_owned(),
                actor_inputs: actor.input_dim(),
                actor_outputs: actor.output_dim(),
                spec_inputs: spec.len(),
                spec_levels: spec.num_levels,
            });
        }
        let meta = read_meta(path, md)?;
        Ok(LearnedAbr::new(actor, spec, meta))
    }
}

/// Reads a policy file's actor network and metadata.
pub(crate) fn read_policy_file(
    path: &Path,
) -> Result<(Mlp, BTreeMap<String, String>), PolicyError> {
    let mut ck = load_networks(path)?;
    let actor = ck
        .networks
        .remove(ACTOR)
        .ok_or_else(|| PolicyError::MissingActor {
            path: path.to_owned(),
        })?;
    Ok((actor, ck.metadata))
}

/// The provenance of a policy file's metadata (QoE model, seed, commit, extras).
pub(crate) fn read_meta(
    path: &Path,
    md: &BTreeMap<String, String>,
) -> Result<PolicyMeta, PolicyError> {
    let seed = match md.get("learn.seed") {
        Some(s) => Some(
            s.parse()
                .map_err(|e: std::num::ParseIntError| PolicyError::Metadata {
                    path: path.to_owned(),
                    key: "learn.seed".to_owned(),
                    message: e.to_string(),
                })?,
        ),
        None => None,
    };
    Ok(PolicyMeta {
        qoe: md.get("learn.qoe").cloned().unwrap_or_default(),
        seed,
        git_commit: md.get("learn.git_commit").cloned(),
        extra: md
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("learn.extra.")
                    .map(|k| (k.to_owned(), v.clone()))
            })
            .collect(),
    })
}

// `argmax` (index of the largest value, the first on ties; 0 for an empty slice) is shared with
// the real-time DQN controller, so it lives in `neuralstream-nn`.
pub use neuralstream_nn::argmax;

/// The safetensors metadata every policy file carries (training checkpoints add their own keys):
/// the feature spec as JSON, the ladder size, the QoE model, the seed, the git commit and the extras.
pub fn policy_metadata(spec: &FeatureSpec, meta: &PolicyMeta) -> BTreeMap<String, String> {
    let mut md = provenance_metadata(meta);
    md.insert(
        META_FEATURES.to_owned(),
        serde_json::to_string(spec).expect("FeatureSpec serialises"),
    );
    md.insert(META_NUM_LEVELS.to_owned(), spec.num_levels.to_string());
    md
}

/// The provenance entries of a policy file's metadata: QoE model, seed, git commit and extras.
pub(crate) fn provenance_metadata(meta: &PolicyMeta) -> BTreeMap<String, String> {
    let mut md = BTreeMap::new();
    md.insert("learn.qoe".to_owned(), meta.qoe.clone());
    if let Some(seed) = meta.seed {
        md.insert("learn.seed".to_owned(), seed.to_string());
    }
    if let Some(commit) = &meta.git_commit {
        md.insert("learn.git_commit".to_owned(), commit.clone());
    }
    for (k, v) in &meta.extra {
        md.insert(format!("learn.extra.{k}"), v.clone());
    }
    md
}

impl Abr for LearnedAbr {
    fn name(&self) -> String {
        "learned".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let level = argmax(self.logits(obs));
        Decision::level(level.min(obs.video.num_levels() - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::FEATURE_VERSION;
    use neuralstream_data::synthetic::{builtin_video, TraceGenerator};
    use neuralstream_nn::{loss, Activation};
    use neuralstream_sim::{run_session, SessionLog, SimConfig, StartPosition};

    fn policy(seed: u64) -> LearnedAbr {
        let spec = FeatureSpec::new(6);
        let actor = Mlp::new(&[spec.len(), 32, 6], Activation::Relu, seed);
        LearnedAbr::new(
            actor,
            spec,
            PolicyMeta {
                qoe: "lin".into(),
                seed: Some(seed),
                git_commit: Some("abc123".into()),
                extra: BTreeMap::from([("val_qoe".to_owned(), "1.5".to_owned())]),
            },
        )
    }

    /// Plays a synthetic session, returning the decisions and every recorded feature vector.
    fn play(abr: &mut LearnedAbr) -> (Vec<usize>, Vec<Vec<f32>>) {
        let video = builtin_video();
        let trace = TraceGenerator::default().trace(7, 0);
        let cfg = SimConfig::pensieve();
        let mut log = SessionLog::default();
        run_session(
            &cfg,
            &trace,
            &video,
            abr,
            StartPosition::Beginning,
            None,
            &mut log,
        )
        .unwrap();
        let spec = abr.spec().clone();
        let states = (1..log.records.len())
            .map(|k| {
                spec.compute(&Observation {
                    video: &video,
                    next_chunk: k,
                    total_chunks: log.records.len(),
                    buffer_s: log.records[k - 1].buffer_s,
                    last_level: log.records[k - 1].level,
                    history: &log.records[..k],
                })
            })
            .collect();
        (log.records.iter().map(|r| r.level).collect(), states)
    }

    #[test]
    fn save_load_round_trip_gives_same_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policy.safetensors");
        let mut a = policy(3);
        a.save(&path).unwrap();
        let mut b = LearnedAbr::load(&path).unwrap();
        assert_eq!(a.meta(), b.meta());
        assert_eq!(a.spec(), b.spec());
        assert_eq!(play(&mut a).0, play(&mut b).0);
    }

    #[test]
    fn a_corrupt_feature_spec_is_refused_on_load() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        let good = policy(3);
        let cases: Vec<(FeatureSpec, &str)> = vec![
            (
                FeatureSpec {
                    max_throughput_ratio: -1.0,
                    ..good.spec().clone()
                },
                "max_throughput_ratio",
            ),
            (
                FeatureSpec {
                    buffer_scale_s: 0.0,
                    ..good.spec().clone()
                },
                "buffer_scale_s",
            ),
            (
                FeatureSpec {
                    version: FEATURE_VERSION + 1,
                    ..good.spec().clone()
                },
                "version",
            ),
        ];
        for (spec, needle) in cases {
            let bad = LearnedAbr::new(good.actor().clone(), spec, good.meta().clone());
            bad.save(&path).unwrap();
            let e = LearnedAbr::load(&path).unwrap_err().to_string();
            assert!(
                e.contains(needle) && e.contains("bad.safetensors"),
                "{needle}: {e}"
            );
        }
        // A history length whose 2 H wraps around to the actor's input count.
        let mut spec = good.spec().clone();
        spec.history_len += usize::MAX / 2 + 1;
        assert!(spec.validate().unwrap_err().contains("history_len"));
        assert!(good.spec().validate().is_ok());
    }

    #[test]
    fn load_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.safetensors");
        let err = LearnedAbr::load(&path).unwrap_err().to_string();
        assert!(err.contains("nope.safetensors"), "{err}");
    }

    #[test]
    fn inference_matches_batched_training_forward() {
        let mut abr = policy(11);
        let (_, states) = play(&mut abr);
        let n = abr.spec().num_levels;
        let batch: Vec<f32> = states.concat();
        let mut train_net = abr.actor().clone();
        let train_logits = train_net.forward_train(&batch, states.len()).to_vec();
        let train_probs = loss::softmax(&train_logits, n);
        for (i, s) in states.iter().enumerate() {
            let mut scratch = Scratch::for_mlp(abr.actor());
            let mut probs = abr.actor().infer(s, &mut scratch).to_vec();
            loss::softmax_in_place(&mut probs);
            for (a, b) in probs.iter().zip(&train_probs[i * n..(i + 1) * n]) {
                assert!((a - b).abs() < 1e-5, "state {i}: {a} vs {b}");
            }
        }
    }
}
