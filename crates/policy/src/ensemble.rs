//! An ensemble of ladder-agnostic policies: several trained networks decide together by averaging
//! their per-level probabilities.
//!
//! This follows deep ensembles (Lakshminarayanan, Pritzel and Blundell, "Simple and Scalable
//! Predictive Uncertainty Estimation using Deep Ensembles", NeurIPS 2017): independently trained
//! networks (here: other seeds and recipes of `train --agnostic`) are combined by the uniform mean
//! of their predictive distributions. Issue 17's fourth pass found that the seed-to-seed spread of
//! one recipe (8 to 10 grid cells, Pensieve test 41 to 45) is as large as any recipe's effect, and
//! that each policy misses other cells: averaging is the classical cure for that variance.
//!
//! # The rule
//!
//! For an observation with `L` levels, member `m` scores every level (its logits `s_m`, exactly
//! what [`AgnosticAbr::scores`] gives), the scores become probabilities by a softmax over the `L`
//! levels, `p_m = softmax(s_m)` (computed in f64 after subtracting the maximum), and the ensemble
//! picks
//!
//! `argmax_l (1/M) * sum_m p_m[l]`
//!
//! (the first such level on a tie, as a single policy's argmax does). An ensemble of one therefore
//! picks what its member picks. The observation is featurised once per distinct feature spec among
//! the members (members of layout 2 and of layout 3, with rule hints, may be mixed), and each member
//! adds one batched forward pass of its network (criterion: `ensemble3_decision_10_levels_2x64`,
//! `ensemble5_decision_10_levels_2x64`).
//!
//! # Spelling
//!
//! `--abr learned:A+B+C` (and `--agnostic-validate A+B+C`, and every other place a policy file is
//! named): [`Policy::load`](crate::Policy::load) reads a path that is not an existing file and
//! contains [`SEPARATOR`] as the member files `A`, `B` and `C`. A file whose own name contains
//! `+` still loads as itself. Every member must be a ladder-agnostic file (layout 2 or 3, any
//! [`AgnosticSpec`]); a fixed-ladder file, a missing file or an empty member (`A++B`, `A+`) is
//! refused with an error that names it.
//!
//! **Key design decision:** the ensemble is one more [`Policy`](crate::Policy) variant loaded from
//! the spec string, so `bench` (grid mode included), `play`, `serve` and `train --agnostic
//! --agnostic-validate` run it with no change of their own; the provenance metadata is the first
//! member's.

use crate::agnostic::{AgnosticAbr, AgnosticSpec, FeatureError};
use crate::learned::{PolicyError, PolicyMeta};
use neuralstream_core::{Abr, Decision, Observation};
use neuralstream_nn::Scratch;
use std::path::Path;

/// Separates the member files of an ensemble in a policy path (`a.safetensors+b.safetensors`).
pub const SEPARATOR: char = '+';

/// Several ladder-agnostic policies deciding by the mean of their per-level softmax
/// probabilities (see the module documentation for the rule).
#[derive(Debug, Clone)]
pub struct EnsembleAbr {
    members: Vec<AgnosticAbr>,
    /// The distinct feature specs among the members, in order of first appearance.
    specs: Vec<AgnosticSpec>,
    /// Index into `specs` of each member's spec.
    spec_of: Vec<usize>,
    /// The mean probability per level of the last observation scored.
    mean: Vec<f64>,
    /// One member's probabilities (scratch).
    probs: Vec<f64>,
    /// The observation's feature rows under each of `specs`, shared by the members of that spec.
    rows: Vec<Vec<f32>>,
    /// The networks' activations.
    scratch: Scratch,
}

impl EnsembleAbr {
    /// Wraps `members`, which decide with equal weight.
    ///
    /// # Panics
    /// If `members` is empty ([`EnsembleAbr::load`] refuses that with a message instead).
    pub fn new(members: Vec<AgnosticAbr>) -> Self {
        assert!(!members.is_empty(), "an ensemble needs at least one member");
        let mut specs: Vec<AgnosticSpec> = Vec::new();
        let spec_of = members
            .iter()
            .map(|m| {
                specs.iter().position(|s| s == m.spec()).unwrap_or_else(|| {
                    specs.push(m.spec().clone());
                    specs.len() - 1
                })
            })
            .collect();
        EnsembleAbr {
            members,
            rows: vec![Vec::new(); specs.len()],
            specs,
            spec_of,
            mean: Vec::with_capacity(crate::agnostic::MAX_LEVELS),
            probs: Vec::with_capacity(crate::agnostic::MAX_LEVELS),
            scratch: Scratch::new(),
        }
    }

    /// Whether `path` names an ensemble: it is not an existing file and contains [`SEPARATOR`].
    pub fn is_ensemble_spec(path: &Path) -> bool {
        !path.is_file() && path.to_str().is_some_and(|s| s.contains(SEPARATOR))
    }

    /// Loads the member files of `spec` (`A+B+C`); refuses an empty member, a missing or
    /// unreadable file and a fixed-ladder file, naming the member.
    pub fn load(spec: &str) -> Result<Self, PolicyError> {
        let bad = |message: String| PolicyError::Ensemble {
            spec: spec.to_owned(),
            message,
        };
        let mut members: Vec<AgnosticAbr> = Vec::new();
        for (i, part) in spec.split(SEPARATOR).enumerate() {
            let part = part.trim();
            if part.is_empty() {
                return Err(bad(format!(
                    "member {} is empty; write the member files joined by '{SEPARATOR}', e.g. a.safetensors{SEPARATOR}b.safetensors",
                    i + 1
                )));
            }
            let member = match crate::Policy::load(part)? {
                crate::Policy::Agnostic(p) => p,
                _ => {
                    return Err(bad(format!(
                        "{part} is a fixed-ladder policy (layout 1); an ensemble averages ladder-agnostic policies (layout 2 or 3, train --agnostic)"
                    )))
                }
            };
            members.push(member);
        }
        Ok(EnsembleAbr::new(members))
    }

    /// The members, in the order they were given.
    pub fn members(&self) -> &[AgnosticAbr] {
        &self.members
    }

    /// The distinct feature specs among the members, in order of first appearance.
    pub fn specs(&self) -> &[AgnosticSpec] {
        &self.specs
    }

    /// Provenance metadata: the first member's.
    pub fn meta(&self) -> &PolicyMeta {
        self.members[0].meta()
    }

    /// The members' mean softmax probability per level of `obs.video` (sums to 1).
    pub fn probabilities(&mut self, obs: &Observation<'_>) -> Result<&[f64], FeatureError> {
        self.mean.clear();
        let weight = 1.0 / self.members.len() as f64;
        let mut levels = 0;
        for (spec, rows) in self.specs.iter().zip(&mut self.rows) {
            levels = spec.write(obs, rows)?;
        }
        for (member, &s) in self.members.iter().zip(&self.spec_of) {
            // What `member.scores(obs)` gives: the rows of its own spec.
            let scores = member
                .actor()
                .forward(&self.rows[s], levels, &mut self.scratch);
            neuralstream_nn::loss::softmax_f64(scores, &mut self.probs);
            if self.mean.is_empty() {
                self.mean.resize(self.probs.len(), 0.0);
            }
            for (m, p) in self.mean.iter_mut().zip(&self.probs) {
                *m += weight * p;
            }
        }
        Ok(&self.mean)
    }
}

impl Abr for EnsembleAbr {
    fn name(&self) -> String {
        "learned".into()
    }

    /// The level of the highest mean probability; the lowest level when the observation cannot
    /// be featurised (as [`AgnosticAbr`] does), never a panic.
    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        let top = obs.video.num_levels().saturating_sub(1);
        match self.probabilities(obs) {
            Ok(mean) => Decision::level(neuralstream_nn::argmax(mean).min(top)),
            Err(_) => Decision::level(0),
        }
    }
}
