//! [`Policy`]: any learned-policy file, whichever feature layout it says it uses.
//!
//! A policy file stores its feature spec as JSON under [`META_FEATURES`]; the spec's `version`
//! names the layout: 1 is the fixed-ladder [`FeatureSpec`] ([`LearnedAbr`]), 2 the ladder-agnostic
//! [`AgnosticSpec`] ([`AgnosticAbr`]). Every host that runs a policy file (`bench`, `serve`,
//! `play`) loads it through [`Policy::load`], so files of both layouts run everywhere and a file of
//! an unknown layout is refused with its path and version. A path `A+B+C` that is not a file loads
//! the ladder-agnostic files `A`, `B` and `C` as one [`EnsembleAbr`] ([`crate::ensemble`]).

use crate::agnostic::{
    AgnosticAbr, AgnosticSpec, AGNOSTIC_HINTS_VERSION, AGNOSTIC_VERSION, MAX_LEVELS, MIN_LEVELS,
};
use crate::ensemble::EnsembleAbr;
use crate::features::{FeatureSpec, FEATURE_VERSION};
use crate::learned::{
    read_meta, read_policy_file, LearnedAbr, PolicyError, PolicyMeta, META_FEATURES,
};
use neuralstream_core::{Abr, Decision, Observation, Video};
use std::path::Path;

/// A learned policy of either layout, as loaded from a file.
#[derive(Debug, Clone)]
pub enum Policy {
    /// Feature layout 1: one network output per level of one ladder size.
    Fixed(LearnedAbr),
    /// Feature layout 2: one shared scoring network for ladders of 2 to 16 levels.
    Agnostic(AgnosticAbr),
    /// Several layout-2 policies deciding by their mean per-level probability (`A+B+C`).
    Ensemble(EnsembleAbr),
}

impl Policy {
    /// Loads a policy file of either layout; refuses an unknown layout version, a spec out of
    /// range or a network of the wrong shape, naming the file. A path that is not a file and
    /// contains `+` is an ensemble of the files it joins ([`EnsembleAbr::load`]).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        if EnsembleAbr::is_ensemble_spec(path) {
            let spec = path.to_str().unwrap_or_default();
            return Ok(Policy::Ensemble(EnsembleAbr::load(spec)?));
        }
        let (actor, md) = read_policy_file(path)?;
        let bad = |message: String| PolicyError::Metadata {
            path: path.to_owned(),
            key: META_FEATURES.to_owned(),
            message,
        };
        let json = md.get(META_FEATURES).ok_or_else(|| bad("missing".into()))?;
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
        let version = value.get("version").and_then(serde_json::Value::as_u64);
        match version {
            Some(v) if v == u64::from(FEATURE_VERSION) => {
                Ok(Policy::Fixed(LearnedAbr::from_parts(path, actor, &md)?))
            }
            Some(v) if v == u64::from(AGNOSTIC_VERSION) || v == u64::from(AGNOSTIC_HINTS_VERSION) => {
                let spec: AgnosticSpec =
                    serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
                spec.validate().map_err(bad)?;
                if actor.input_dim() != spec.row_len() || actor.output_dim() != 1 {
                    return Err(bad(format!(
                        "the ladder-agnostic layout needs a network of {} inputs and 1 output, the file's actor has {} and {}",
                        spec.row_len(),
                        actor.input_dim(),
                        actor.output_dim()
                    )));
                }
                let meta = read_meta(path, &md)?;
                Ok(Policy::Agnostic(AgnosticAbr::new(actor, spec, meta)))
            }
            other => Err(bad(format!(
                "unknown feature layout version {}; this build reads {FEATURE_VERSION} (fixed ladder), {AGNOSTIC_VERSION} (ladder-agnostic) and {AGNOSTIC_HINTS_VERSION} (ladder-agnostic with rule hints): use the NeuralStream that trained it, or retrain",
                other.map_or_else(|| "(none)".to_owned(), |v| v.to_string())
            ))),
        }
    }

    /// Writes the policy file.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PolicyError> {
        match self {
            Policy::Fixed(p) => p.save(path),
            Policy::Agnostic(p) => p.save(path),
            Policy::Ensemble(_) => Err(PolicyError::Ensemble {
                spec: path.as_ref().display().to_string(),
                message: "an ensemble is not one file; save its members".into(),
            }),
        }
    }

    /// Provenance metadata.
    pub fn meta(&self) -> &PolicyMeta {
        match self {
            Policy::Fixed(p) => p.meta(),
            Policy::Agnostic(p) => p.meta(),
            Policy::Ensemble(p) => p.meta(),
        }
    }

    /// Which ladders it runs on, in words ("6 levels", "2 to 16 levels").
    pub fn levels_text(&self) -> String {
        match self {
            Policy::Fixed(p) => format!("{} levels", p.spec().num_levels),
            Policy::Agnostic(_) | Policy::Ensemble(_) => {
                format!("{MIN_LEVELS} to {MAX_LEVELS} levels")
            }
        }
    }

    /// Whether it can choose among `levels` levels.
    pub fn fits_levels(&self, levels: usize) -> bool {
        match self {
            Policy::Fixed(p) => p.spec().num_levels == levels,
            Policy::Agnostic(_) | Policy::Ensemble(_) => {
                (MIN_LEVELS..=MAX_LEVELS).contains(&levels)
            }
        }
    }

    /// Checks that it can play `video`; the message names the video and both level counts.
    pub fn check_video(&self, video: &Video) -> Result<(), String> {
        if self.fits_levels(video.num_levels()) {
            Ok(())
        } else {
            Err(format!(
                "the policy was trained for {} but the video '{}' has {}",
                self.levels_text(),
                video.name,
                video.num_levels()
            ))
        }
    }

    /// The fixed-ladder spec, for a policy of layout 1.
    pub fn fixed_spec(&self) -> Option<&FeatureSpec> {
        match self {
            Policy::Fixed(p) => Some(p.spec()),
            Policy::Agnostic(_) | Policy::Ensemble(_) => None,
        }
    }
}

impl Abr for Policy {
    fn name(&self) -> String {
        "learned".into()
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        match self {
            Policy::Fixed(p) => p.choose(obs),
            Policy::Agnostic(p) => p.choose(obs),
            Policy::Ensemble(p) => p.choose(obs),
        }
    }
}
