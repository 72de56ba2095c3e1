//! The algorithms a server enables (`--abr`), and a fresh instance of one per session.
//!
//! A learned policy's checkpoint is read once at start; every session gets a clone of it (weights
//! and scratch buffers), so sessions never share mutable state and never touch the disk.

use crate::error::ServerError;
use crate::media::MediaLibrary;
use neuralstream_core::Abr;
use neuralstream_policy::Policy;
use neuralstream_protocol::{AlgorithmInfo, AlgorithmList};

/// What an enabled algorithm is built from.
#[derive(Debug)]
enum Kind {
    /// A rule-based algorithm of `neuralstream_abr`, by registry name.
    Builtin(String),
    /// A learned policy, loaded once.
    Learned(Box<Policy>),
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
                Kind::Builtin(_) => None,
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
}
