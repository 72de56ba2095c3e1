//! Training checkpoints: the actor plus everything needed to continue training (critic, DQN
//! target network, Adam state, the training curve and progress counters) in one safetensors file.
//!
//! A training checkpoint is also a policy checkpoint: the acting network is stored as `"actor"`
//! with the same metadata [`LearnedAbr::load`] reads, so `bench --abr learned:PATH` runs it
//! directly (for DQN the "actor" is the Q-network and acting greedily is argmax Q). Extra
//! metadata: `learn.stage`, `learn.ladder_kbps` (JSON), `learn.progress` (JSON
//! [`Progress`]), `learn.schedule` (JSON [`ScheduleDone`], when a DQN or A2C stage wrote it) and
//! `learn.curve` (JSON list of [`CurvePoint`]). Checkpoints written before `learn.schedule`
//! carried the same counters as a string `<stage>_schedule_done = "ITERATIONS,SAMPLES"` among the
//! policy metadata; [`TrainingCheckpoint::load`] still reads it.

use crate::curve::CurvePoint;
use crate::stage::{Stage, StageKind};
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

/// How far a stage's schedules (DQN's epsilon, A2C's entropy weight) have run, so that resuming
/// the same stage goes on where they stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleDone {
    /// The stage whose schedules these are.
    pub stage: StageKind,
    /// Iterations the stage has run since its schedules began.
    pub iterations: u64,
    /// Samples the stage has consumed since its schedules began.
    pub samples: u64,
}

/// Suffix of the string key older checkpoints kept [`ScheduleDone`] under (`dqn_schedule_done`).
const OLD_SCHEDULE_SUFFIX: &str = "_schedule_done";

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
    /// Stage that produced the networks.
    pub stage: Stage,
    /// Ladder of the training video, kbit/s (for people and for checking).
    pub ladder_kbps: Vec<f64>,
    /// Counters.
    pub progress: Progress,
    /// How far the schedules of the stage that wrote the checkpoint have run (DQN, A2C).
    pub schedule: Option<ScheduleDone>,
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
        md.insert("learn.stage".to_owned(), self.stage.name().to_owned());
        md.insert(
            "learn.ladder_kbps".to_owned(),
            serde_json::to_string(&self.ladder_kbps).expect("floats serialise"),
        );
        md.insert(
            "learn.progress".to_owned(),
            serde_json::to_string(&self.progress).expect("Progress serialises"),
        );
        if let Some(done) = &self.schedule {
            md.insert(
                "learn.schedule".to_owned(),
                serde_json::to_string(done).expect("ScheduleDone serialises"),
            );
        }
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
        let stage = match json("learn.stage") {
            Some(name) => Stage::from_name(name).ok_or_else(|| {
                bad(
                    "learn.stage",
                    format!(
                        "unknown stage '{name}'; expected init, imitation, dagger, api, ppo, a2c \
                         or dqn"
                    ),
                )
            })?,
            None => Stage::Imitation,
        };
        let mut meta = policy.meta().clone();
        let schedule = match json("learn.schedule") {
            Some(s) => {
                Some(serde_json::from_str(s).map_err(|e| bad("learn.schedule", e.to_string()))?)
            }
            None => old_schedule(&meta.extra),
        };
        // The typed field replaces the old string keys: they are not written back.
        meta.extra.retain(|k, _| !k.ends_with(OLD_SCHEDULE_SUFFIX));
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
            meta,
            stage,
            ladder_kbps,
            progress,
            schedule,
            curve,
        })
    }
}

/// [`ScheduleDone`] from an older checkpoint's `<stage>_schedule_done = "ITERATIONS,SAMPLES"`
/// metadata, for the stage that wrote the checkpoint (a fresh stage dropped every other's).
fn old_schedule(extra: &std::collections::BTreeMap<String, String>) -> Option<ScheduleDone> {
    extra.iter().find_map(|(key, value)| {
        let stage = key.strip_suffix(OLD_SCHEDULE_SUFFIX)?.parse().ok()?;
        let (i, s) = value.split_once(',')?;
        Some(ScheduleDone {
            stage,
            iterations: i.trim().parse().ok()?,
            samples: s.trim().parse().ok()?,
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rl::schedule_origin;
    use neuralstream_nn::Activation;

    fn checkpoint(stage: Stage) -> TrainingCheckpoint {
        let spec = FeatureSpec::new(3);
        TrainingCheckpoint {
            actor: Mlp::new(&[spec.len(), 8, 3], Activation::Relu, 1),
            critic: None,
            target: None,
            adam: None,
            spec,
            meta: PolicyMeta::default(),
            stage,
            ladder_kbps: vec![300.0, 750.0, 1200.0],
            progress: Progress {
                iteration: 50,
                samples: 122_000,
                wall_s: 3.0,
            },
            schedule: None,
            curve: Vec::new(),
        }
    }

    #[test]
    fn the_schedule_round_trips_as_a_typed_field() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a2c.safetensors");
        let mut ck = checkpoint(Stage::Rl(StageKind::A2c));
        ck.schedule = Some(ScheduleDone {
            stage: StageKind::A2c,
            iterations: 20,
            samples: 2_000,
        });
        ck.save(&path).unwrap();
        let back = TrainingCheckpoint::load(&path).unwrap();
        assert_eq!(back.stage, Stage::Rl(StageKind::A2c));
        assert_eq!(back.schedule, ck.schedule);
        assert!(back.meta.extra.is_empty(), "{:?}", back.meta.extra);
    }

    #[test]
    fn an_old_checkpoints_string_schedule_is_read_back_typed() {
        // What checkpoints held before `learn.schedule`: the counters as a string among the
        // policy metadata, next to other entries that must survive.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.safetensors");
        let mut ck = checkpoint(Stage::Rl(StageKind::Dqn));
        ck.meta
            .extra
            .insert("dqn_schedule_done".into(), "20,2000".into());
        ck.meta.extra.insert("val_qoe".into(), "1.5".into());
        ck.save(&path).unwrap();
        let mut back = TrainingCheckpoint::load(&path).unwrap();
        let done = ScheduleDone {
            stage: StageKind::Dqn,
            iterations: 20,
            samples: 2_000,
        };
        assert_eq!(back.schedule, Some(done));
        assert_eq!(
            back.meta.extra.get("val_qoe").map(String::as_str),
            Some("1.5")
        );
        assert!(!back.meta.extra.contains_key("dqn_schedule_done"));
        // Resuming DQN goes on from where its epsilon stopped: 50 - 20 iterations in.
        assert_eq!(
            schedule_origin(&mut back, StageKind::Dqn, true),
            (30, 120_000)
        );
        // Saved again, the counters are the typed key only.
        back.save(&path).unwrap();
        let again = TrainingCheckpoint::load(&path).unwrap();
        assert_eq!(again.schedule, Some(done));
    }

    #[test]
    fn an_unknown_stage_is_refused_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.safetensors");
        let ck = checkpoint(Stage::Init);
        let mut md = policy_metadata(&ck.spec, &ck.meta);
        md.insert("learn.stage".into(), "sarsa".into());
        save_safetensors(&path, &[(ACTOR, &ck.actor)], None, &md).unwrap();
        let err = TrainingCheckpoint::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("learn.stage") && err.contains("sarsa"),
            "{err}"
        );
    }
}
