//! Vectorised training environments over the simulator's training mode, and on-policy rollouts.
//!
//! Each [`TrainEnv`] is Pensieve's `env.py` for one worker: at every reset it draws a random
//! training trace and a random start sample, and (with [`SimConfig::pensieve_training`]) every
//! delay gets multiplicative noise. Chunk 0 is played at the start-up level without asking the
//! agent (as in Pensieve, its reward is excluded), so every *action* is a decision for chunk
//! `k >= 1` and its reward is that chunk's QoE term, multiplied by [`RlEnvConfig::reward_scale`].
//!
//! **Determinism:** environment `i` draws only from its own [`Rng`] (seed forked by `i`), a
//! rollout steps each environment independently (rayon, any thread count) and the per-environment
//! buffers are concatenated in environment order, so the same seed gives the same batch.

use crate::error::LearnError;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{ChunkRecord, Observation, Rng, Trace, Video};
use neuralstream_nn::{loss, Mlp, Scratch};
use neuralstream_policy::FeatureSpec;
use neuralstream_sim::{Session, SimConfig, StartPosition};
use rayon::prelude::*;

/// What every environment shares: the training sessions, the video, the simulator and the reward.
#[derive(Debug, Clone)]
pub struct RlEnvConfig<'a> {
    /// Training traces (whole traces; an episode starts at a random sample of a random one).
    pub traces: &'a [Trace],
    /// The video streamed.
    pub video: &'a Video,
    /// Simulator (use [`SimConfig::pensieve_training`] for Pensieve's training mode).
    pub sim: &'a SimConfig,
    /// QoE whose per-chunk terms are the rewards.
    pub qoe: &'a CompiledQoe,
    /// Featurisation of observations.
    pub spec: &'a FeatureSpec,
    /// Multiplies every reward (keeps value targets near unit scale; advantages are normalised anyway).
    pub reward_scale: f64,
    /// Start at a random sample of the trace (training mode) rather than at its beginning.
    pub random_start: bool,
}

/// Result of one [`TrainEnv::step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepOutcome {
    /// Scaled reward of the chunk just downloaded.
    pub reward: f32,
    /// True when that chunk ended the episode (the environment has already been reset).
    pub done: bool,
    /// Unscaled QoE of the finished episode over chunks `1..` when `done`.
    pub episode_qoe: Option<f64>,
}

/// One training environment (Pensieve `env.py` with automatic reset).
#[derive(Debug)]
pub struct TrainEnv<'a> {
    cfg: RlEnvConfig<'a>,
    rng: Rng,
    session: Session<'a>,
    records: Vec<ChunkRecord>,
    last_level: usize,
    episode_qoe: f64,
    episodes: u64,
}

impl<'a> TrainEnv<'a> {
    /// Environment `index` of a set seeded with `seed`; starts its first episode.
    ///
    /// # Panics
    /// If `cfg.traces` is empty.
    pub fn new(cfg: RlEnvConfig<'a>, seed: u64, index: usize) -> Result<Self, LearnError> {
        assert!(!cfg.traces.is_empty(), "TrainEnv needs at least one trace");
        let rng = Rng::new(seed ^ 0xe4f1_0000_0000_0000).fork(index as u64);
        let session = Session::new(
            cfg.sim,
            &cfg.traces[0],
            cfg.video,
            StartPosition::Beginning,
            None,
        );
        let mut env = TrainEnv {
            cfg,
            rng,
            session,
            records: Vec::new(),
            last_level: 0,
            episode_qoe: 0.0,
            episodes: 0,
        };
        env.reset()?;
        Ok(env)
    }

    /// Starts a new episode: random trace, random start, chunk 0 at the start-up level.
    fn reset(&mut self) -> Result<(), LearnError> {
        let traces = self.cfg.traces;
        let trace = &traces[self.rng.below(traces.len())];
        let start = if self.cfg.random_start && trace.len() > 1 {
            StartPosition::Sample(1 + self.rng.below(trace.len() - 1))
        } else {
            StartPosition::Beginning
        };
        let noise = self.rng.fork(self.episodes);
        self.episodes += 1;
        self.session = Session::new(self.cfg.sim, trace, self.cfg.video, start, Some(noise));
        self.records.clear();
        self.episode_qoe = 0.0;
        let levels = self.cfg.video.num_levels();
        let startup = self.cfg.sim.startup_level.unwrap_or(0).min(levels - 1);
        let rec = self
            .session
            .step(startup)
            .map_err(|source| LearnError::Sim {
                trace: trace.name.clone(),
                source,
            })?;
        self.last_level = rec.level;
        self.records.push(rec);
        Ok(())
    }

    /// Writes the features of the current observation (the decision for the next chunk).
    pub fn observe(&self, out: &mut [f32]) {
        write_features(
            &self.cfg,
            &self.session,
            self.last_level,
            &self.records,
            out,
        );
    }

    /// Downloads the next chunk at `level`; resets automatically after the last chunk.
    pub fn step(&mut self, level: usize) -> Result<StepOutcome, LearnError> {
        let level = level.min(self.cfg.video.num_levels() - 1);
        let rec = self.session.step(level).map_err(|source| LearnError::Sim {
            trace: self.session.trace().name.clone(),
            source,
        })?;
        let r = chunk_reward(&self.cfg, &rec, self.last_level);
        self.episode_qoe += r;
        self.last_level = rec.level;
        self.records.push(rec);
        let done = self.session.is_done();
        let episode_qoe = done.then_some(self.episode_qoe);
        if done {
            self.reset()?;
        }
        Ok(StepOutcome {
            reward: (r * self.cfg.reward_scale) as f32,
            done,
            episode_qoe,
        })
    }
}

/// Writes the features of the decision for `session`'s next chunk, after `records` were
/// downloaded and `last_level` played.
pub(crate) fn write_features(
    cfg: &RlEnvConfig<'_>,
    session: &Session<'_>,
    last_level: usize,
    records: &[ChunkRecord],
    out: &mut [f32],
) {
    cfg.spec.write(
        &Observation {
            video: cfg.video,
            next_chunk: session.next_chunk(),
            total_chunks: session.total_chunks(),
            buffer_s: session.buffer_s(),
            last_level,
            history: records,
        },
        out,
    );
}

/// The (unscaled) QoE term of the chunk `rec`, downloaded after `last_level` played.
pub(crate) fn chunk_reward(cfg: &RlEnvConfig<'_>, rec: &ChunkRecord, last_level: usize) -> f64 {
    cfg.qoe.reward_at(
        rec.index,
        rec.level,
        rec.index.saturating_sub(1),
        last_level,
        rec.rebuffer_s,
    )
}

/// Builds `n` environments seeded with `seed` (environment `i` forks stream `i`).
pub fn make_envs<'a>(
    cfg: &RlEnvConfig<'a>,
    n: usize,
    seed: u64,
) -> Result<Vec<TrainEnv<'a>>, LearnError> {
    (0..n)
        .map(|i| TrainEnv::new(cfg.clone(), seed, i))
        .collect()
}

/// On-policy samples of one rollout, environment-major: the `steps` samples of environment 0, then
/// those of environment 1, and so on.
#[derive(Debug, Clone, Default)]
pub struct Rollout {
    /// Feature width.
    pub dim: usize,
    /// Steps per environment.
    pub steps: usize,
    /// `[n, dim]` observations.
    pub obs: Vec<f32>,
    /// Actions taken.
    pub actions: Vec<usize>,
    /// Log-probability of each action under the behaviour policy.
    pub log_probs: Vec<f32>,
    /// Critic value of each observation (0 when there is no critic).
    pub values: Vec<f32>,
    /// Scaled rewards.
    pub rewards: Vec<f32>,
    /// Whether the step ended an episode.
    pub dones: Vec<bool>,
    /// Critic value of the observation after each environment's last step (bootstrap), per env.
    pub last_values: Vec<f32>,
    /// Unscaled QoE of every episode finished during the rollout.
    pub episode_qoes: Vec<f64>,
}

impl Rollout {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    fn append(&mut self, other: Rollout) {
        self.obs.extend(other.obs);
        self.actions.extend(other.actions);
        self.log_probs.extend(other.log_probs);
        self.values.extend(other.values);
        self.rewards.extend(other.rewards);
        self.dones.extend(other.dones);
        self.last_values.extend(other.last_values);
        self.episode_qoes.extend(other.episode_qoes);
    }
}

/// Samples an index from probabilities `p` (sum 1) with one uniform draw.
pub fn sample_categorical(p: &[f32], rng: &mut Rng) -> usize {
    let u = rng.uniform() as f32;
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

/// Plays `steps` decisions in every environment with the stochastic policy `actor` (softmax of its
/// logits), recording the critic's values when `critic` is given. Environments run in parallel;
/// the result does not depend on the thread count.
pub fn collect_rollout(
    envs: &mut [TrainEnv<'_>],
    actor: &Mlp,
    critic: Option<&Mlp>,
    steps: usize,
) -> Result<Rollout, LearnError> {
    let dim = actor.input_dim();
    let parts: Vec<Rollout> = envs
        .par_iter_mut()
        .map(|env| {
            let mut out = Rollout {
                dim,
                steps,
                ..Rollout::default()
            };
            out.obs.reserve(steps * dim);
            let mut feat = vec![0.0f32; dim];
            let (mut sa, mut sc) = (Scratch::for_mlp(actor), Scratch::new());
            let mut probs = Vec::with_capacity(actor.output_dim());
            for _ in 0..steps {
                env.observe(&mut feat);
                let logits = actor.infer(&feat, &mut sa);
                probs.clear();
                probs.extend_from_slice(logits);
                loss::softmax_in_place(&mut probs);
                let a = sample_categorical(&probs, &mut env.rng);
                let v = critic.map_or(0.0, |c| c.infer(&feat, &mut sc)[0]);
                out.obs.extend_from_slice(&feat);
                out.actions.push(a);
                out.log_probs.push(probs[a].max(1e-30).ln());
                out.values.push(v);
                let o = env.step(a)?;
                out.rewards.push(o.reward);
                out.dones.push(o.done);
                out.episode_qoes.extend(o.episode_qoe);
            }
            env.observe(&mut feat);
            out.last_values
                .push(critic.map_or(0.0, |c| c.infer(&feat, &mut sc)[0]));
            Ok(out)
        })
        .collect::<Result<_, LearnError>>()?;
    let mut all = Rollout {
        dim,
        steps,
        ..Rollout::default()
    };
    for p in parts {
        all.append(p);
    }
    Ok(all)
}

/// Generalised advantage estimation (Schulman et al. 2016) over an environment-major rollout:
/// returns `(advantages, returns)` with `returns = advantages + values`. `lambda = 1` gives
/// plain n-step returns (A2C).
pub fn gae(r: &Rollout, gamma: f32, lambda: f32) -> (Vec<f32>, Vec<f32>) {
    let n = r.len();
    let mut adv = vec![0.0f32; n];
    if r.steps == 0 {
        return (adv, Vec::new());
    }
    for (e, &last_v) in r.last_values.iter().enumerate() {
        let base = e * r.steps;
        let mut next_adv = 0.0f32;
        let mut next_v = last_v;
        for t in (0..r.steps).rev() {
            let i = base + t;
            let nonterminal = if r.dones[i] { 0.0 } else { 1.0 };
            let delta = r.rewards[i] + gamma * next_v * nonterminal - r.values[i];
            next_adv = delta + gamma * lambda * nonterminal * next_adv;
            adv[i] = next_adv;
            next_v = r.values[i];
        }
    }
    let ret = adv.iter().zip(&r.values).map(|(a, v)| a + v).collect();
    (adv, ret)
}

/// Normalises `x` to zero mean and unit standard deviation (in place; no-op for fewer than 2).
pub fn normalise(x: &mut [f32]) {
    if x.len() < 2 {
        return;
    }
    let n = x.len() as f64;
    let mean = x.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let inv = 1.0 / (var.sqrt() + 1e-8);
    x.iter_mut()
        .for_each(|v| *v = ((*v as f64 - mean) * inv) as f32);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gae_with_lambda_one_is_discounted_return() {
        let r = Rollout {
            dim: 1,
            steps: 3,
            rewards: vec![1.0, 1.0, 1.0],
            values: vec![0.0; 3],
            dones: vec![false, true, false],
            last_values: vec![10.0],
            actions: vec![0; 3],
            ..Rollout::default()
        };
        let (adv, ret) = gae(&r, 0.5, 1.0);
        assert_eq!(ret, vec![1.5, 1.0, 6.0]);
        assert_eq!(adv, ret);
    }

    #[test]
    fn categorical_sampling_follows_probabilities() {
        let mut rng = Rng::new(3);
        let p = [0.1f32, 0.0, 0.9];
        let mut counts = [0usize; 3];
        for _ in 0..10_000 {
            counts[sample_categorical(&p, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((800..1200).contains(&counts[0]), "{counts:?}");
    }
}
