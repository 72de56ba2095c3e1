//! The algorithms a server enables (`--abr`), and a fresh instance of one per session.
//!
//! A learned policy's checkpoint is read once at start; every session gets a clone of it (weights
//! and scratch buffers), so sessions never share mutable state and never touch the disk. An
//! `mpc-rf:MODEL` entry (MPC over a random forest's throughput distribution, issue 19) reads and
//! checks its model file once at start too; the forest, read-only, is shared by every session
//! (`Arc`), and each session's controller keeps its own history and scratch.

use crate::error::ServerError;
use crate::media::MediaLibrary;
use neuralstream_abr::mpc_rf::{MpcRf, MpcRfParams, PREFIX as MPC_RF_PREFIX};
use neuralstream_abr::predictor::ForestModel;
use neuralstream_core::Abr;
use neuralstream_policy::Policy;
use neuralstream_protocol::{AlgorithmInfo, AlgorithmList};
use std::sync::Arc;

/// Largest `mpc-rf` model file read, bytes (a 40-tree, depth-12 forest per horizon is a few MB).
pub const MAX_MODEL_BYTES: u64 = 512 * 1024 * 1024;

/// What an enabled algorithm is built from.
#[derive(Debug)]
enum Kind {
    /// A rule-based algorithm of `neuralstream_abr`, by registry name.
    Builtin(String),
    /// A learned policy, loaded once.
    Learned(Box<Policy>),
    /// MPC over a random forest (`mpc-rf:PATH`): the model, loaded once and shared.
    MpcRf {
        /// The forest.
        model: Arc<ForestModel>,
        /// The model file as given.
        path: String,
    },
}

/// One enabled algorithm.
#[derive(Debug)]
struct Entry {
    name: String,
    description: String,
    kind: Kind,
}

/// The enabled algorithms; the first is the default.
#[derive(Debug)]
pub struct AlgorithmSet {
    entries: Vec<Entry>,
}

/// An enabled learned policy and a served video whose ladder it does not fit: decisions for that
/// pair are refused with 422.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misfit {
    /// The policy's name.
    pub algorithm: String,
    /// The ladders it runs on, in words ("6 levels", "2 to 16 levels").
    pub levels: String,
    /// The video's name.
    pub video: String,
    /// Levels of the video's ladder.
    pub video_levels: usize,
}

impl std::fmt::Display for Misfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}) on {} ({} levels)",
            self.algorithm, self.levels, self.video, self.video_levels
        )
    }
}

/// Names that cannot run in a server (they need the network trace).
const TRACE_ONLY: &[&str] = &["optimum"];

impl AlgorithmSet {
    /// Checks every `--abr` entry (names and `learned:PATH` checkpoints).
    pub fn new(specs: &[String]) -> Result<Self, ServerError> {
        let mut entries: Vec<Entry> = Vec::new();
        for spec in specs.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
            let bad = |reason: String| ServerError::Algorithm {
                name: spec.to_string(),
                reason,
            };
            let entry = if let Some(path) = neuralstream_protocol::learned_policy_path(spec) {
                if path.is_empty() {
                    return Err(bad(
                        "needs a checkpoint path, e.g. learned:out/train/policy.safetensors".into(),
                    ));
                }
                let policy = Policy::load(path).map_err(|e| bad(e.to_string()))?;
                Entry {
                    name: neuralstream_protocol::canonical_algorithm_name(spec),
                    description: format!(
                        "learned policy from {path} ({}, trained for QoE_{})",
                        policy.levels_text(),
                        policy.meta().qoe
                    ),
                    kind: Kind::Learned(Box::new(policy)),
                }
            } else if let Some(path) = mpc_rf_path(spec) {
                let model = load_forest(path).map_err(bad)?;
                Entry {
                    name: format!("{MPC_RF_PREFIX}{path}"),
                    description: format!(
                        "MPC over a random forest's throughput distribution (Fugu-like), model {path} ({} horizons)",
                        model.max_horizon()
                    ),
                    kind: Kind::MpcRf {
                        model: Arc::new(model),
                        path: path.to_string(),
                    },
                }
            } else {
                let lower = spec.to_ascii_lowercase();
                if TRACE_ONLY.contains(&lower.as_str()) {
                    return Err(bad(
                        "the offline optimum needs the network trace, which a server never has; choose a player-side algorithm such as robustmpc".into(),
                    ));
                }
                neuralstream_abr::create(&lower).map_err(|e| bad(e.to_string()))?;
                let description = neuralstream_abr::registry::ALGORITHMS
                    .iter()
                    .find(|(n, _)| *n == lower)
                    .map_or_else(String::new, |(_, d)| d.to_string());
                Entry {
                    name: lower.clone(),
                    description,
                    kind: Kind::Builtin(lower),
                }
            };
            if entries.iter().any(|e| e.name == entry.name) {
                continue;
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            return Err(ServerError::Algorithm {
                name: String::new(),
                reason: "no algorithm enabled; pass e.g. --abr robustmpc,bb".into(),
            });
        }
        Ok(AlgorithmSet { entries })
    }

    /// The default algorithm's name.
    pub fn default_name(&self) -> &str {
        &self.entries[0].name
    }

    /// Canonical name of the enabled algorithm a client asked for (case-insensitive; `learned`
    /// names the only learned policy when there is exactly one).
    pub fn resolve(&self, asked: Option<&str>) -> Option<&str> {
        let Some(asked) = asked else {
            return Some(self.default_name());
        };
        neuralstream_protocol::resolve_algorithm_name(
            self.entries.iter().map(|e| e.name.as_str()),
            asked,
        )
    }

    /// Comma-separated names (for error messages).
    pub fn names(&self) -> String {
        self.entries
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The learned policy enabled as `name`; `None` for rule-based algorithms (any ladder).
    pub fn learned(&self, name: &str) -> Option<&Policy> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .and_then(|e| match &e.kind {
                Kind::Learned(p) => Some(p.as_ref()),
                Kind::Builtin(_) | Kind::MpcRf { .. } => None,
            })
    }

    /// Every (learned policy, video) pair whose level counts differ.
    pub fn misfits(&self, media: &MediaLibrary) -> Vec<Misfit> {
        let mut out = Vec::new();
        for e in &self.entries {
            let Some(policy) = self.learned(&e.name) else {
                continue;
            };
            for m in media
                .iter()
                .filter(|m| !policy.fits_levels(m.video.num_levels()))
            {
                out.push(Misfit {
                    algorithm: e.name.clone(),
                    levels: policy.levels_text(),
                    video: m.name.clone(),
                    video_levels: m.video.num_levels(),
                });
            }
        }
        out
    }

    /// Checks the algorithms against the served videos: refuses when the default algorithm fits
    /// none of them (every request that names no algorithm would get 422), and returns the other
    /// pairs that do not fit, for a warning.
    pub fn check_fit(&self, media: &MediaLibrary) -> Result<Vec<Misfit>, ServerError> {
        let misfits = self.misfits(media);
        let default = self.default_name();
        let default_misfits = misfits.iter().filter(|m| m.algorithm == default).count();
        if default_misfits > 0 && default_misfits == media.iter().count() {
            let pairs: Vec<String> = misfits
                .iter()
                .filter(|m| m.algorithm == default)
                .map(|m| m.to_string())
                .collect();
            return Err(ServerError::Algorithm {
                name: default.to_string(),
                reason: format!(
                    "the default algorithm (the first of --abr) fits no served video: {}; serve a video with as many levels as the policy was trained for, or put another algorithm first",
                    pairs.join(", ")
                ),
            });
        }
        Ok(misfits)
    }

    /// A fresh instance of the enabled algorithm `name` (a canonical name from [`Self::resolve`]).
    pub fn instantiate(&self, name: &str) -> Option<Box<dyn Abr>> {
        let entry = self.entries.iter().find(|e| e.name == name)?;
        match &entry.kind {
            Kind::Builtin(n) => neuralstream_abr::create(n).ok(),
            Kind::Learned(p) => Some(Box::new(p.as_ref().clone())),
            Kind::MpcRf { model, path } => Some(Box::new(MpcRf::new(
                model.clone(),
                path,
                MpcRfParams::default(),
            ))),
        }
    }

    /// What `/api/v1/algorithms` answers.
    pub fn list(&self) -> AlgorithmList {
        AlgorithmList {
            default: self.default_name().to_string(),
            algorithms: self
                .entries
                .iter()
                .map(|e| AlgorithmInfo {
                    name: e.name.clone(),
                    description: e.description.clone(),
                })
                .collect(),
        }
    }
}

/// The model path of an `mpc-rf:PATH` entry (prefix in any case).
fn mpc_rf_path(spec: &str) -> Option<&str> {
    let head = spec.get(..MPC_RF_PREFIX.len())?;
    head.eq_ignore_ascii_case(MPC_RF_PREFIX)
        .then(|| &spec[MPC_RF_PREFIX.len()..])
}

/// Reads and checks an `mpc-rf` model file; the reason names the file and what is wrong.
fn load_forest(path: &str) -> Result<ForestModel, String> {
    if path.is_empty() {
        return Err("needs a model file, e.g. mpc-rf:out/predictors/rf.json (written by `neuralstream dataset eval-predictors`)".into());
    }
    let unreadable = |e: std::io::Error| {
        format!("cannot read the model file {path}: {e}; train one with `neuralstream dataset eval-predictors`")
    };
    let len = std::fs::metadata(path).map_err(unreadable)?.len();
    if len > MAX_MODEL_BYTES {
        return Err(format!(
            "model file {path}: {len} bytes, over the {MAX_MODEL_BYTES}-byte limit of a model"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(unreadable)?;
    ForestModel::from_json(&text, path).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> Result<AlgorithmSet, ServerError> {
        AlgorithmSet::new(&names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn resolves_case_insensitively_and_defaults_to_the_first() {
        let s = set(&["RobustMPC", "bb"]).unwrap();
        assert_eq!(s.default_name(), "robustmpc");
        assert_eq!(s.resolve(None), Some("robustmpc"));
        assert_eq!(s.resolve(Some("BB")), Some("bb"));
        assert_eq!(s.resolve(Some("bola")), None);
        assert!(s.instantiate("bb").is_some());
        assert_eq!(s.list().algorithms.len(), 2);
    }

    #[test]
    fn unknown_optimum_and_missing_checkpoints_are_refused() {
        assert!(set(&["nope"]).unwrap_err().to_string().contains("nope"));
        assert!(set(&["optimum"]).unwrap_err().to_string().contains("trace"));
        let e = set(&["learned:/no/such/file.safetensors"]).unwrap_err();
        assert!(e.to_string().contains("/no/such/file"), "{e}");
        assert!(set(&[]).is_err());
    }

    #[test]
    fn mpc_rf_models_load_once_and_bad_ones_are_refused_naming_the_file() {
        use neuralstream_abr::predictor::{Horizon, Node, Tree};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rf.json");
        let leaf = |kbps: f64| Tree {
            nodes: vec![Node {
                f: 0,
                t: 0.0,
                l: None,
                r: None,
                v: kbps.ln(),
            }],
        };
        let horizons = (1..=5)
            .map(|h| Horizon {
                horizon_chunks: h,
                trees: vec![leaf(1000.0), leaf(3000.0)],
                residual_ln: vec![],
            })
            .collect();
        std::fs::write(
            &path,
            ForestModel::new(horizons, serde_json::Value::Null).to_json(),
        )
        .unwrap();
        let spec = format!("MPC-RF:{}", path.display());
        let s = set(&["bb", &spec]).unwrap();
        let name = format!("mpc-rf:{}", path.display());
        assert_eq!(s.resolve(Some(&spec)), Some(name.as_str()));
        let a = s.instantiate(&name).unwrap();
        let b = s.instantiate(&name).unwrap();
        assert_eq!(a.name(), b.name());
        assert!(s.learned(&name).is_none());
        assert!(s.list().algorithms[1].description.contains("random forest"));

        for (spec, expect) in [
            ("mpc-rf:".to_string(), "needs a model file".to_string()),
            (
                "mpc-rf:/no/such/rf.json".to_string(),
                "cannot read the model file /no/such/rf.json".to_string(),
            ),
        ] {
            let e = set(&[&spec]).unwrap_err().to_string();
            assert!(
                e.starts_with(&format!("--abr {spec}")) && e.contains(&expect),
                "{e}"
            );
        }
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{\"format\": \"something else\"}").unwrap();
        let e = set(&[&format!("mpc-rf:{}", bad.display())])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&bad.display().to_string()) && e.contains("not a usable throughput model"),
            "{e}"
        );
    }
}
