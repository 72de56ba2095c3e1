//! Approximate policy iteration with all-action rollouts: the RL stage that turns the imitation
//! warm start into a policy that beats the rules.
//!
//! Follows Lagoudakis & Parr, "Reinforcement Learning as Classification: Leveraging Modern
//! Classifiers" (ICML 2003) and Bertsekas' rollout algorithm, with the interactive data collection
//! of AggreVaTe (Ross & Bagnell, "Reinforcement and Imitation Learning via Interactive No-Regret
//! Learning", 2014).
//!
//! **Why it suits ABR:** the network is *exogenous*: the trace does not depend on the
//! levels the player picks. From one simulator state ([`Session`] is `Clone`, delay-noise stream
//! included) every level can be played against *the same* future, each followed by the current
//! greedy policy to the end of the session. The differences between those returns are the exact
//! advantages of the current policy for that future: no critic, no variance from sampling one
//! action per state as in PPO's GAE. Regressing them on the features averages them over the
//! futures that look alike from the player's seat, and the greedy policy of the regression is a
//! policy-improvement step. Each iteration:
//!
//! 1. **Roll in:** [`PolicyIterationConfig::sessions_per_iter`] training sessions (random trace, random start,
//!    delay noise, seeded per session), played by the current greedy policy with an
//!    [`PolicyIterationConfig::explore_eps`] chance of a random level, so nearby states are visited too.
//! 2. **Roll out:** at [`PolicyIterationConfig::states_per_session`] random decisions of each session, play
//!    every level and then the current policy to the session's end; `Q(s, a)` is the QoE collected.
//! 3. **Regress:** targets `max(Q(s, a) - max_b Q(s, b), -clip) / temperature` (the best level is
//!    0, catastrophic ones are merely "very bad"); [`PolicyIterationConfig::epochs`] passes of MSE over the
//!    data of the last [`PolicyIterationConfig::keep_iters`] iterations. The actor's outputs are then advantage
//!    estimates: argmax is the greedy policy, and softmax is a Boltzmann policy that PPO can
//!    fine-tune.
//! 4. **Select:** score the greedy policy on the validation sessions; keep the best.
//!
//! Deterministic for a seed: sessions are seeded per (iteration, index), rolled out in parallel and
//! gathered in order; training is single-threaded.

use crate::checkpoint::TrainingCheckpoint;
use crate::curve::CurvePoint;
use crate::env::{chunk_reward, write_features, RlEnvConfig};
use crate::error::{check, ConfigError, LearnError};
use crate::rl::{
    finish_stage, gather_rows, impl_rl_trainer, permutation, CurveRecorder, RlContext, RlReport,
};
use crate::stage::StageKind;
use neuralstream_core::{ChunkRecord, Rng};
use neuralstream_nn::{loss, Adam, AdamConfig, Mlp, Scratch, SplitMix64};
use neuralstream_policy::argmax;
use neuralstream_sim::{Session, StartPosition};
use rayon::prelude::*;
use std::collections::VecDeque;
use std::time::Instant;

/// Hyper-parameters of [`train_policy_iteration`].
#[derive(Debug, Clone)]
pub struct PolicyIterationConfig {
    /// Seed of the sessions and the minibatch order.
    pub seed: u64,
    /// Policy-iteration rounds.
    pub iterations: usize,
    /// Training sessions rolled in per iteration.
    pub sessions_per_iter: usize,
    /// Decisions per session whose levels are all rolled out.
    pub states_per_session: usize,
    /// Probability of a random level during roll-in (not during roll-outs).
    pub explore_eps: f64,
    /// Regression passes over the kept data per iteration.
    pub epochs: usize,
    /// Minibatch size.
    pub minibatch: usize,
    /// Adam learning rate.
    pub lr: f32,
    /// Iterations whose data are kept for regression (1: only the newest).
    pub keep_iters: usize,
    /// Advantages below `-clip` (QoE units) are clipped to it.
    pub clip: f32,
    /// Targets are advantages divided by this (QoE units per logit).
    pub temperature: f32,
    /// Decay of the exponential moving average of the actor's weights, per minibatch step
    /// (Polyak averaging; 0: off). The average is what is validated, selected and rolled out:
    /// one regression step chases the noise of its minibatch, the average does not.
    pub ema_decay: f32,
    /// Trace augmentation: every rolled-in session's trace has its throughput multiplied by a
    /// factor drawn log-uniformly from `[1 / f, f]` (1: off). More networks than the training
    /// traces hold, for the same ladder.
    pub augment_scale: f64,
    /// Stop after the iteration during which this much wall time (this stage) has passed, seconds.
    pub max_wall_s: f64,
}

impl Default for PolicyIterationConfig {
    /// 40 iterations of 800 sessions x 12 rolled-out decisions (about 80 s on 2 cores), 10 %
    /// exploration, 8 epochs of minibatch 256 at lr 3e-4 over the last 3 iterations' data,
    /// advantages clipped at -10 QoE and used as logits directly, no weight averaging.
    fn default() -> Self {
        PolicyIterationConfig {
            seed: 1,
            iterations: 40,
            sessions_per_iter: 800,
            states_per_session: 12,
            explore_eps: 0.1,
            epochs: 8,
            minibatch: 256,
            lr: 3e-4,
            keep_iters: 3,
            clip: 10.0,
            temperature: 1.0,
            ema_decay: 0.0,
            augment_scale: 1.0,
            max_wall_s: 1e9,
        }
    }
}

impl PolicyIterationConfig {
    /// Checks every setting's range; the error names the field.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, count) in [
            ("iterations", self.iterations),
            ("sessions_per_iter", self.sessions_per_iter),
            ("states_per_session", self.states_per_session),
            ("epochs", self.epochs),
            ("minibatch", self.minibatch),
            ("keep_iters", self.keep_iters),
        ] {
            check::at_least_one(field, count)?;
        }
        let e = self.explore_eps;
        check::ensure((0.0..=1.0).contains(&e), "explore_eps", "be in [0, 1]", e)?;
        let d = self.ema_decay;
        check::ensure((0.0..1.0).contains(&d), "ema_decay", "be in [0, 1)", d)?;
        check::ensure(self.clip > 0.0, "clip", "be positive", self.clip)?;
        let t = self.temperature;
        check::ensure(t.is_finite() && t > 0.0, "temperature", "be positive", t)?;
        let f = self.augment_scale;
        let in_range = (1.0..=10.0).contains(&f);
        check::ensure(in_range, "augment_scale", "be between 1 (off) and 10", f)?;
        check::learning_rate("lr", self.lr)
    }
}

impl_rl_trainer!(PolicyIterationConfig, train_policy_iteration);

/// States and their per-level regression targets (`[len, levels]`).
#[derive(Debug, Clone, Default)]
struct QData {
    dim: usize,
    features: Vec<f32>,
    targets: Vec<f32>,
}

impl QData {
    fn len(&self) -> usize {
        self.features.len() / self.dim.max(1)
    }
}

/// One player on one session: the simulator state plus what the features need.
#[derive(Clone)]
struct Player<'a> {
    session: Session<'a>,
    records: Vec<ChunkRecord>,
    last_level: usize,
}

impl<'a> Player<'a> {
    fn observe(&self, env: &RlEnvConfig<'_>, out: &mut [f32]) {
        write_features(env, &self.session, self.last_level, &self.records, out);
    }

    /// Downloads the next chunk at `level`; returns its QoE term.
    fn step(&mut self, env: &RlEnvConfig<'_>, level: usize) -> Result<f64, LearnError> {
        let rec = self.session.step(level).map_err(|source| LearnError::Sim {
            trace: self.session.trace().name.clone(),
            source,
        })?;
        let r = chunk_reward(env, &rec, self.last_level);
        self.last_level = rec.level;
        self.records.push(rec);
        Ok(r)
    }

    /// Plays `first`, then the greedy `actor` to the end; returns the QoE collected.
    fn rollout(
        &mut self,
        env: &RlEnvConfig<'_>,
        actor: &Mlp,
        first: usize,
        scratch: &mut Scratch,
        feat: &mut [f32],
    ) -> Result<f64, LearnError> {
        let mut total = self.step(env, first)?;
        while !self.session.is_done() {
            self.observe(env, feat);
            let a = argmax(actor.infer(feat, scratch));
            total += self.step(env, a)?;
        }
        Ok(total)
    }
}

/// `avg <- decay * avg + (1 - decay) * net`, parameter by parameter (same shapes).
fn polyak(avg: &mut Mlp, net: &Mlp, decay: f32) {
    for (a, n) in avg.layers_mut().iter_mut().zip(net.layers()) {
        for (x, &y) in a.weight_mut().iter_mut().zip(n.weight()) {
            *x = decay * *x + (1.0 - decay) * y;
        }
        for (x, &y) in a.bias_mut().iter_mut().zip(n.bias()) {
            *x = decay * *x + (1.0 - decay) * y;
        }
    }
}

/// Rolls in one session and returns its rolled-out states.
fn collect_session(
    env: &RlEnvConfig<'_>,
    actor: &Mlp,
    cfg: &PolicyIterationConfig,
    mut rng: Rng,
) -> Result<QData, LearnError> {
    let traces = env.traces;
    let mut trace = &traces[rng.below(traces.len())];
    let scaled;
    if cfg.augment_scale > 1.0 {
        let ln_f = cfg.augment_scale.ln();
        let factor = rng.uniform_range(-ln_f, ln_f).exp();
        let mut t = trace.clone();
        t.bandwidth_mbps.iter_mut().for_each(|b| *b *= factor);
        scaled = t;
        trace = &scaled;
    }
    let start = if env.random_start && trace.len() > 1 {
        StartPosition::Sample(1 + rng.below(trace.len() - 1))
    } else {
        StartPosition::Beginning
    };
    let noise = rng.fork(0x0015e);
    let levels = env.video.num_levels();
    let dim = env.spec.len();
    let mut player = Player {
        session: Session::new(env.sim, trace, env.video, start, Some(noise)),
        records: Vec::new(),
        last_level: 0,
    };
    let startup = env.sim.startup_level.unwrap_or(0).min(levels - 1);
    player.step(env, startup)?;
    let total = player.session.total_chunks();
    // Decisions to roll out: a seeded subset of chunks 1..total.
    let mut chunks: Vec<usize> = (1..total).collect();
    for j in (1..chunks.len()).rev() {
        chunks.swap(j, rng.below(j + 1));
    }
    chunks.truncate(cfg.states_per_session);
    let mut chosen = vec![false; total];
    for &k in &chunks {
        chosen[k] = true;
    }
    let mut out = QData {
        dim,
        ..QData::default()
    };
    let mut scratch = Scratch::for_mlp(actor);
    let mut feat = vec![0.0f32; dim];
    let mut branch_feat = vec![0.0f32; dim];
    let mut q = vec![0.0f64; levels];
    while !player.session.is_done() {
        let k = player.session.next_chunk();
        player.observe(env, &mut feat);
        if chosen[k] {
            for (a, qa) in q.iter_mut().enumerate() {
                let mut branch = player.clone();
                *qa = branch.rollout(env, actor, a, &mut scratch, &mut branch_feat)?;
            }
            let best = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            out.features.extend_from_slice(&feat);
            out.targets.extend(
                q.iter()
                    .map(|&qa| ((qa - best).max(-(cfg.clip as f64)) as f32) / cfg.temperature),
            );
        }
        let a = if rng.uniform() < cfg.explore_eps {
            rng.below(levels)
        } else {
            argmax(actor.infer(&feat, &mut scratch))
        };
        player.step(env, a)?;
    }
    Ok(out)
}

/// Runs approximate policy iteration from `state.actor` (usually the imitation stage's result).
/// `progress` is called after every iteration's validation.
pub fn train_policy_iteration(
    ctx: &RlContext<'_>,
    mut state: TrainingCheckpoint,
    cfg: &PolicyIterationConfig,
    mut progress: impl FnMut(&CurvePoint),
) -> Result<RlReport, LearnError> {
    let t0 = Instant::now();
    let dim = state.spec.len();
    let levels = state.spec.num_levels;
    let mut actor = state.actor.clone();
    // The policy that acts (rolls in and out, is validated): the averaged actor when averaging.
    let mut policy = actor.clone();
    // Resuming an `api` run continues its optimiser (at this run's learning rate); the regression
    // data of its last iterations is not kept in checkpoints and is collected anew.
    let mut adam = match state
        .adam
        .take()
        .filter(|_| state.stage.is(StageKind::PolicyIteration))
    {
        Some(mut a) => {
            a.set_lr(cfg.lr);
            a
        }
        None => Adam::new(AdamConfig::with_lr(cfg.lr)),
    };
    let seed = cfg.seed ^ state.progress.iteration.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let mut rng = SplitMix64::new(seed ^ 0xa91_0000_0000_0001);
    let start_val = ctx.validator.score(&actor)?;
    let wall0 = state.progress.wall_s;
    let mut best = (start_val, actor.clone());
    let mut recorder = CurveRecorder::new(StageKind::PolicyIteration);
    let mut kept: VecDeque<QData> = VecDeque::new();
    let (mut mb_obs, mut mb_t) = (Vec::new(), Vec::new());
    for it in 0..cfg.iterations {
        let base = Rng::new(seed ^ 0xa91_5e55_0000_0000).fork(it as u64);
        let parts: Vec<QData> = (0..cfg.sessions_per_iter)
            .into_par_iter()
            .map(|j| collect_session(&ctx.env, &policy, cfg, base.fork(j as u64)))
            .collect::<Result<_, LearnError>>()?;
        let mut data = QData {
            dim,
            ..QData::default()
        };
        for p in parts {
            data.features.extend(p.features);
            data.targets.extend(p.targets);
        }
        let new_samples = data.len();
        kept.push_back(data);
        while kept.len() > cfg.keep_iters.max(1) {
            kept.pop_front();
        }
        let mut all = QData {
            dim,
            ..QData::default()
        };
        for d in &kept {
            all.features.extend_from_slice(&d.features);
            all.targets.extend_from_slice(&d.targets);
        }
        for _ in 0..cfg.epochs {
            let order = permutation(all.len(), &mut rng);
            for idx in order.chunks(cfg.minibatch.max(1)) {
                gather_rows(&all.features, dim, idx, &mut mb_obs);
                gather_rows(&all.targets, levels, idx, &mut mb_t);
                let out = actor.forward_train(&mb_obs, idx.len());
                let l = loss::value_mse(out, &mb_t);
                actor.zero_grad();
                actor.backward(&l.grad);
                adam.step(&mut [("actor", &mut actor)]);
                recorder.losses.push(l.loss as f64);
                if cfg.ema_decay > 0.0 {
                    polyak(&mut policy, &actor, cfg.ema_decay);
                }
            }
        }
        if cfg.ema_decay <= 0.0 {
            policy.clone_from(&actor);
        }
        state.progress.iteration += 1;
        state.progress.samples += (new_samples * levels) as u64;
        let val = recorder.validate(
            ctx.validator,
            &mut state,
            &policy,
            || wall0 + t0.elapsed().as_secs_f64(),
            all.len() as f64,
            &mut progress,
        )?;
        if val > best.0 {
            best = (val, policy.clone());
        }
        if t0.elapsed().as_secs_f64() >= cfg.max_wall_s {
            break;
        }
    }
    let wall_s = wall0 + t0.elapsed().as_secs_f64();
    let mut last = state;
    last.actor = policy;
    last.critic = None;
    last.adam = Some(adam);
    last.target = None;
    Ok(finish_stage(
        last,
        StageKind::PolicyIteration,
        wall_s,
        (best.0, best.1, None),
        start_val,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{QoeModel, Trace};
    use neuralstream_data::synthetic::builtin_video;
    use neuralstream_nn::Activation;
    use neuralstream_policy::FeatureSpec;
    use neuralstream_sim::SimConfig;

    #[test]
    fn polyak_moves_the_average_towards_the_network() {
        let mut avg = Mlp::new(&[3, 4, 2], Activation::Relu, 1);
        let net = Mlp::new(&[3, 4, 2], Activation::Relu, 2);
        let (a0, n0) = (avg.layers()[0].weight()[0], net.layers()[0].weight()[0]);
        polyak(&mut avg, &net, 0.75);
        let a1 = avg.layers()[0].weight()[0];
        assert!((a1 - (0.75 * a0 + 0.25 * n0)).abs() < 1e-6);
        polyak(&mut avg, &net, 0.0);
        assert_eq!(avg.layers()[1].bias(), net.layers()[1].bias());
    }

    #[test]
    fn rollouts_rank_levels_by_what_the_network_can_carry() {
        // A steady 1.5 Mbit/s link: 4.3 Mbit/s chunks stall, 1.2 Mbit/s ones do not, so the
        // rolled-out advantage of the top level must be far below the best one's (0), and every
        // rolled-out state has one target at exactly 0 (the best level).
        let video = builtin_video();
        let qoe = QoeModel::lin().compile(&video).unwrap();
        let spec = FeatureSpec::new(video.num_levels());
        let trace = Trace::new(
            "steady",
            (0..400).map(|i| i as f64).collect(),
            vec![1.5; 400],
        )
        .unwrap();
        let traces = [trace];
        let sim = SimConfig::pensieve_training();
        let env = RlEnvConfig {
            traces: &traces,
            video: &video,
            sim: &sim,
            qoe: &qoe,
            spec: &spec,
            reward_scale: 1.0,
            random_start: true,
        };
        let actor = Mlp::new(&[spec.len(), 16, video.num_levels()], Activation::Relu, 3);
        let cfg = PolicyIterationConfig {
            states_per_session: 5,
            ..PolicyIterationConfig::default()
        };
        let data = collect_session(&env, &actor, &cfg, Rng::new(9)).unwrap();
        let levels = video.num_levels();
        assert_eq!(data.len(), 5);
        for row in data.targets.chunks(levels) {
            let best = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(best, 0.0, "{row:?}");
            assert!(row.iter().all(|&t| (-cfg.clip..=0.0).contains(&t)));
            assert!(
                row[levels - 1] < -1.0,
                "top level should be clearly worse: {row:?}"
            );
        }
        // Same seed, same data (the roll-outs share the session's noise stream).
        let again = collect_session(&env, &actor, &cfg, Rng::new(9)).unwrap();
        assert_eq!(again.targets, data.targets);
        assert_eq!(again.features, data.features);
    }
}
