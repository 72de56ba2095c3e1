//! Training checkpoints: the actor plus everything needed to continue training (critic, DQN
//! target network, Adam state, the training curve and progress counters) in one safetensors file.
//!
//! A training checkpoint is also a policy checkpoint: the acting network is stored as `"actor"`
//! with the same metadata [`LearnedAbr::load`] reads, so `bench --abr learned:PATH` runs it
//! directly (for DQN the "actor" is the Q-network and acting greedily is argmax Q). Extra
//! metadata: `learn.stage`, `learn.ladder_kbps` (JSON), `learn.progress` (JSON
//! [`Progress`]) and `learn.curve` (JSON list of [`CurvePoint`]).

use crate::curve::CurvePoint;
use neuralstream_nn::{load_networks, save_safetensors, Adam, Mlp};
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::{policy_metadata, LearnedAbr, PolicyError, PolicyMeta, ACTOR};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Name of the critic (value) network inside a checkpoint.
pub const CRITIC: &str = "critic";
/// Name of the DQN target network inside a checkpoint.
pub const TARGET: &str = "target";

/// Counters that continue across `--resume`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Iterations (RL) or epochs (imitation) done, over the whole run.
    pub iteration: u64,
    /// Training samples consumed, over the whole run.
    pub samples: u64,
    /// Wall time spent, seconds, over the whole run.
    pub wall_s: f64,
}

/// Everything a trainer needs to continue: networks, optimiser, curve and provenance.
#[derive(Debug, Clone)]
pub struct TrainingCheckpoint {
    /// The acting network (policy logits, or Q-values for DQN).
    pub actor: Mlp,
    /// The value network of actor-critic trainers.
    pub critic: Option<Mlp>,
    /// The DQN target network.
    pub target: Option<Mlp>,
    /// Optimiser state (moments keyed `actor.*`, `critic.*`).
    pub adam: Option<Adam>,
    /// Featurisation.
    pub spec: FeatureSpec,
    /// Provenance (QoE, seed, git commit, metrics).
    pub meta: PolicyMeta,
    /// Stage that produced the networks: `imitation`, `dagger`, `ppo`, `a2c`, `dqn`.
    pub stage: String,
    /// Ladder of the training video, kbit/s (for people and for checking).
    pub ladder_kbps: Vec<f64>,
    /// Counters.
    pub progress: Progress,
    /// The training curve so far.
    pub curve: Vec<CurvePoint>,
}

impl TrainingCheckpoint {
    /// The greedy policy of this checkpoint.
    pub fn policy(&self) -> LearnedAbr {
        LearnedAbr::new(self.actor.clone(), self.spec.clone(), self.meta.clone())
    }

    /// Writes the checkpoint (atomically, via a temporary file).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), PolicyError> {
        let path = path.as_ref();
        let mut md = policy_metadata(&self.spec, &self.meta);
        md.insert("learn.stage".to_owned(), self.stage.clone());
        md.insert(
            "learn.ladder_kbps".to_owned(),
            serde_json::to_string(&self.ladder_kbps).expect("floats serialise"),
        );
        md.insert(
            "learn.progress".to_owned(),
            serde_json::to_string(&self.progress).expect("Progress serialises"),
        );
        md.insert(
            "learn.curve".to_owned(),
            serde_json::to_string(&self.curve).expect("curve serialises"),
        );
        let mut nets: Vec<(&str, &Mlp)> = vec![(ACTOR, &self.actor)];
        if let Some(c) = &self.critic {
            nets.push((CRITIC, c));
        }
        if let Some(t) = &self.target {
            nets.push((TARGET, t));
        }
        save_safetensors(path, &nets, self.adam.as_ref(), &md)?;
        Ok(())
    }

    /// Loads a checkpoint written by [`TrainingCheckpoint::save`] or by [`LearnedAbr::save`]
    /// (then there is no critic, optimiser or curve, and the stage reads `imitation`).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, PolicyError> {
        let path = path.as_ref();
        let policy = LearnedAbr::load(path)?;
        let mut ck = load_networks(path)?;
        let md = &ck.metadata;
        let bad = |key: &str, message: String| PolicyError::Metadata {
            path: path.to_owned(),
            key: key.to_owned(),
            message,
        };
        let json = |key: &str| md.get(key).map(|s| s.as_str());
        let progress: Progress = match json("learn.progress") {
            Some(s) => serde_json::from_str(s).map_err(|e| bad("learn.progress", e.to_string()))?,
            None => Progress::default(),
        };
        let curve: Vec<CurvePoint> = match json("learn.curve") {
            Some(s) => serde_json::from_str(s).map_err(|e| bad("learn.curve", e.to_string()))?,
            None => Vec::new(),
        };
        let ladder_kbps: Vec<f64> = match json("learn.ladder_kbps") {
            Some(s) => {
                serde_json::from_str(s).map_err(|e| bad("learn.ladder_kbps", e.to_string()))?
            }
            None => Vec::new(),
        };
        let stage = md
            .get("learn.stage")
            .cloned()
            .unwrap_or_else(|| "imitation".to_owned());
        let critic = ck.networks.remove(CRITIC);
        let target = ck.networks.remove(TARGET);
        if let Some(c) = &critic {
            if c.input_dim() != policy.spec().len() || c.output_dim() != 1 {
                return Err(bad(
                    CRITIC,
                    format!(
                        "critic takes {} inputs and gives {} outputs; expected {} and 1",
                        c.input_dim(),
                        c.output_dim(),
                        policy.spec().len()
                    ),
                ));
            }
        }
        if let Some(t) = &target {
            // DQN's target network is a copy of the actor (its Q-network).
            if t.sizes() != policy.actor().sizes() {
                return Err(bad(
                    TARGET,
                    format!(
                        "target network has layer sizes {:?}; expected the actor's {:?}",
                        t.sizes(),
                        policy.actor().sizes()
                    ),
                ));
            }
        }
        Ok(TrainingCheckpoint {
            actor: policy.actor().clone(),
            critic,
            target,
            adam: ck.adam,
            spec: policy.spec().clone(),
            meta: policy.meta().clone(),
            stage,
            ladder_kbps,
            progress,
            curve,
        })
    }
}
