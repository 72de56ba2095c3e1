//! Approximate policy iteration with all-action rollouts for the ladder-agnostic policy: the
//! stage of [`crate::policy_iteration`] (Lagoudakis & Parr 2003; Bertsekas' rollout algorithm)
//! over a *variable* number of levels.
//!
//! Each iteration:
//!
//! 1. **Roll in:** `sessions_per_iter` training environments (drawn with replacement from the
//!    (window, video) pairs by the [`super::curriculum`]; delay noise seeded per session) are
//!    played by the current greedy policy, with an `explore_eps` chance of a random level so nearby states are visited too.
//! 2. **Roll out:** at `states_per_session` random decisions of each session, every level of
//!    *that video* is played from a clone of the session (same future, same noise stream), then
//!    the current policy to the end; `Q(s, a)` is the QoE collected from the decision on.
//! 3. **Regress:** each level's row of features gets the target
//!    `max((Q(s, a) - max_b Q(s, b)) / top, -clip) / temperature`, where `top` is the video's top
//!    utility (QoE_lin: its top bitrate in Mbit/s), so that a 40 Mbit/s ladder's advantages in
//!    the hundreds and Pensieve's in single units weigh alike (the normalisation of the
//!    validation score). The scoring network's one output is regressed on its row's target (MSE)
//!    over the data of the last `keep_iters` iterations; its greedy choice is then the
//!    improved policy.
//!
//! Deterministic for a seed: sessions are seeded per (iteration, index), rolled out in parallel
//! and gathered in order; the regression is single-threaded.

use super::{sim_err, Env, TrainVideo};
use crate::error::{check, ConfigError, LearnError};
use neuralstream_core::{Abr, ChunkRecord, Observation, Rng};
use neuralstream_nn::{loss, Adam, Mlp, SplitMix64};
use neuralstream_policy::{AgnosticAbr, AgnosticSpec};
use neuralstream_sim::{Session, SimConfig, StartPosition};
use rayon::prelude::*;

/// Settings of the ladder-agnostic policy-iteration stage.
#[derive(Debug, Clone)]
pub struct AgnosticPiConfig {
    /// Iterations (0: no policy iteration).
    pub iterations: usize,
    /// Training environments rolled in per iteration.
    pub sessions_per_iter: usize,
    /// Decisions per session whose levels are all rolled out.
    pub states_per_session: usize,
    /// Probability of a random level during roll-in (never during roll-outs).
    pub explore_eps: f64,
    /// Regression passes over the kept data per iteration.
    pub epochs: usize,
    /// Decisions per minibatch.
    pub minibatch: usize,
    /// Adam learning rate of the regression.
    pub lr: f32,
    /// Iterations whose data are kept for regression.
    pub keep_iters: usize,
    /// Normalised advantages below `-clip` are clipped to it (in top-utility units).
    pub clip: f32,
    /// Targets are normalised advantages divided by this.
    pub temperature: f32,
}

impl Default for AgnosticPiConfig {
    /// 16 iterations of 400 sessions x 8 rolled-out decisions, 10 % exploration, 6 epochs of
    /// minibatch 128 at lr 5e-4 over the last 3 iterations' data, advantages clipped at 2.5 top
    /// utilities and scaled by 4 (a Pensieve-video advantage of 1 QoE is about 1 logit).
    fn default() -> Self {
        AgnosticPiConfig {
            iterations: 16,
            sessions_per_iter: 400,
            states_per_session: 8,
            explore_eps: 0.1,
            epochs: 6,
            minibatch: 128,
            lr: 5e-4,
            keep_iters: 3,
            clip: 2.5,
            temperature: 0.25,
        }
    }
}

impl AgnosticPiConfig {
    /// Checks every setting's range; the error names the field (`explore_eps`, ...).
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (field, count) in [
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
        let c = self.clip;
        check::ensure(c.is_finite() && c > 0.0, "clip", "be a positive number", c)?;
        let t = self.temperature;
        check::ensure(t.is_finite() && t > 0.0, "temperature", "be positive", t)?;
        check::learning_rate("lr", self.lr)
    }
}

/// Rolled-out decisions: the rows of decision `i` are `offsets[i]..offsets[i + 1]`, one target
/// per row.
#[derive(Debug, Clone, Default)]
pub(super) struct QRows {
    rows: Vec<f32>,
    offsets: Vec<usize>,
    targets: Vec<f32>,
}

impl QRows {
    fn new() -> Self {
        QRows {
            offsets: vec![0],
            ..QRows::default()
        }
    }

    /// Decisions held.
    pub(super) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    fn extend(&mut self, other: &QRows) {
        let base = self.offsets.last().copied().unwrap_or(0);
        self.rows.extend_from_slice(&other.rows);
        self.offsets
            .extend(other.offsets.iter().skip(1).map(|o| o + base));
        self.targets.extend_from_slice(&other.targets);
    }
}

/// One player on one environment: the simulator state and what the observation needs.
#[derive(Clone)]
struct Player<'a> {
    session: Session<'a>,
    records: Vec<ChunkRecord>,
    last_level: usize,
}

impl<'a> Player<'a> {
    fn observe(&self, video: &'a neuralstream_core::Video) -> Observation<'_> {
        Observation {
            video,
            next_chunk: self.session.next_chunk(),
            total_chunks: self.session.total_chunks(),
            buffer_s: self.session.buffer_s(),
            last_level: self.last_level,
            history: &self.records,
        }
    }

    /// Downloads the next chunk at `level`; returns its QoE term.
    fn step(&mut self, v: &TrainVideo, env: &Env, level: usize) -> Result<f64, LearnError> {
        let rec = self.session.step(level).map_err(sim_err(env))?;
        let prev = self
            .records
            .last()
            .map_or((rec.index, rec.level), |p| (p.index, p.level));
        let r = v
            .qoe
            .reward_at(rec.index, rec.level, prev.0, prev.1, rec.rebuffer_s);
        self.last_level = rec.level;
        self.records.push(rec);
        Ok(r)
    }
}

/// Rolls in one session of `env` and returns its rolled-out decisions.
fn collect_session(
    policy: &mut AgnosticAbr,
    env: &Env,
    v: &TrainVideo,
    spec: &AgnosticSpec,
    sim: &SimConfig,
    cfg: &AgnosticPiConfig,
    mut rng: Rng,
) -> Result<QRows, LearnError> {
    let video = &v.video;
    let levels = video.num_levels();
    let top = v.top_utility();
    let top = if top > 0.0 { top } else { 1.0 };
    let noise = rng.fork(0x0015e);
    let mut player = Player {
        session: Session::new(
            sim,
            &env.trace,
            video,
            StartPosition::Beginning,
            Some(noise),
        ),
        records: Vec::new(),
        last_level: 0,
    };
    let startup = sim.startup_level.map(|l| l.min(levels - 1));
    if let Some(l) = startup {
        player.last_level = l;
        player.step(v, env, l)?;
    }
    let total = player.session.total_chunks();
    let mut chunks: Vec<usize> = (1..total).collect();
    for j in (1..chunks.len()).rev() {
        chunks.swap(j, rng.below(j + 1));
    }
    chunks.truncate(cfg.states_per_session);
    let mut chosen = vec![false; total];
    for &k in &chunks {
        chosen[k] = true;
    }
    let mut out = QRows::new();
    let mut buf = Vec::new();
    let mut q = vec![0.0f64; levels];
    while !player.session.is_done() {
        let k = player.session.next_chunk();
        if chosen[k] {
            for (a, qa) in q.iter_mut().enumerate() {
                let mut branch = player.clone();
                let mut total_q = branch.step(v, env, a)?;
                while !branch.session.is_done() {
                    let next = policy.choose(&branch.observe(video)).level;
                    total_q += branch.step(v, env, next)?;
                }
                *qa = total_q;
            }
            // Simulator observations are finite and the ladder was checked up front.
            if spec.write(&player.observe(video), &mut buf).is_ok() {
                let best = q.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                out.rows.extend_from_slice(&buf);
                out.offsets
                    .push(out.offsets.last().copied().unwrap_or(0) + levels);
                out.targets.extend(q.iter().map(|&qa| {
                    (((qa - best) / top).max(-(cfg.clip as f64)) as f32) / cfg.temperature
                }));
            }
        }
        let a = if rng.uniform() < cfg.explore_eps {
            rng.below(levels)
        } else {
            policy.choose(&player.observe(video)).level
        };
        player.step(v, env, a)?;
    }
    Ok(out)
}

/// Rolls in `envs[picks[j]]` for every `j` with the greedy `actor` (session `j` seeded by
/// `base.fork(j)`); the iteration's rolled-out decisions, in session order.
#[allow(clippy::too_many_arguments)]
pub(super) fn collect(
    actor: &Mlp,
    envs: &[Env],
    picks: &[usize],
    videos: &[TrainVideo],
    spec: &AgnosticSpec,
    sim: &SimConfig,
    cfg: &AgnosticPiConfig,
    base: Rng,
) -> Result<QRows, LearnError> {
    let policy = AgnosticAbr::new(actor.clone(), spec.clone(), Default::default());
    let parts: Vec<QRows> = picks
        .par_iter()
        .enumerate()
        .map_init(
            || policy.clone(),
            |policy, (j, &pick)| {
                let env = &envs[pick];
                let v = &videos[env.video];
                collect_session(policy, env, v, spec, sim, cfg, base.fork(j as u64))
            },
        )
        .collect::<Result<_, LearnError>>()?;
    let mut data = QRows::new();
    for p in &parts {
        data.extend(p);
    }
    Ok(data)
}

/// One regression pass over `data` (MSE of each row's score on its target); the mean loss.
pub(super) fn regress_epoch(
    actor: &mut Mlp,
    adam: &mut Adam,
    data: &QRows,
    minibatch: usize,
    rng: &mut SplitMix64,
) -> f64 {
    let n = data.len();
    let row_len = actor.input_dim();
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        order.swap(i, rng.below(i + 1));
    }
    let (mut rows, mut targets) = (Vec::new(), Vec::new());
    let (mut loss_sum, mut batches) = (0.0, 0usize);
    for chunk in order.chunks(minibatch.max(1)) {
        rows.clear();
        targets.clear();
        for &i in chunk {
            let (lo, hi) = (data.offsets[i], data.offsets[i + 1]);
            rows.extend_from_slice(&data.rows[lo * row_len..hi * row_len]);
            targets.extend_from_slice(&data.targets[lo..hi]);
        }
        let out = actor.forward_train(&rows, targets.len());
        let l = loss::value_mse(out, &targets);
        actor.zero_grad();
        actor.backward(&l.grad);
        adam.step(&mut [("actor", actor)]);
        loss_sum += l.loss as f64;
        batches += 1;
    }
    loss_sum / batches.max(1) as f64
}

/// The kept data of the last iterations, merged.
pub(super) fn merged(kept: &std::collections::VecDeque<QRows>) -> QRows {
    let mut all = QRows::new();
    for d in kept {
        all.extend(d);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{Ladder, QoeModel, Trace};
    use neuralstream_data::synthetic::synthetic_video;
    use neuralstream_nn::Activation;

    #[test]
    fn settings_out_of_range_are_named() {
        assert!(AgnosticPiConfig::default().validate().is_ok());
        let bad = AgnosticPiConfig {
            explore_eps: 1.5,
            ..AgnosticPiConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "explore_eps");
        let bad = AgnosticPiConfig {
            clip: f32::NAN,
            ..AgnosticPiConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "clip");
        let bad = AgnosticPiConfig {
            sessions_per_iter: 0,
            ..AgnosticPiConfig::default()
        };
        assert_eq!(bad.validate().unwrap_err().field, "sessions_per_iter");
    }

    #[test]
    fn rollouts_rank_levels_by_what_the_network_can_carry() {
        // A steady 1.5 Mbit/s link: 4 Mbit/s chunks stall, 0.3 and 1.2 Mbit/s ones do not, so
        // the top level's target must be far below the best one's (0), and every rolled-out
        // decision has exactly one row per level and one target at 0.
        let video = synthetic_video(
            "three",
            &Ladder::from_kbps(&[300.0, 1200.0, 4000.0]),
            20,
            4.0,
            3,
        );
        let qoe = QoeModel::for_video("lin", &video)
            .unwrap()
            .compile(&video)
            .unwrap();
        let v = TrainVideo { video, qoe };
        let trace = Trace::new(
            "steady",
            (0..400).map(|i| i as f64).collect(),
            vec![1.5; 400],
        )
        .unwrap();
        let env = Env {
            set: 0,
            video: 0,
            trace,
        };
        let spec = AgnosticSpec::default();
        let actor = Mlp::new(&[spec.row_len(), 8, 1], Activation::Relu, 3);
        let mut policy = AgnosticAbr::new(actor, spec.clone(), Default::default());
        let sim = SimConfig::pensieve();
        let cfg = AgnosticPiConfig {
            states_per_session: 4,
            ..AgnosticPiConfig::default()
        };
        let data = collect_session(&mut policy, &env, &v, &spec, &sim, &cfg, Rng::new(9)).unwrap();
        assert_eq!(data.len(), 4);
        assert_eq!(data.rows.len(), 4 * 3 * spec.row_len());
        for t in data.targets.chunks(3) {
            let best = t.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            assert_eq!(best, 0.0, "{t:?}");
            assert!(t[2] < -1.0, "the top level should be clearly worse: {t:?}");
        }
        let again = collect_session(&mut policy, &env, &v, &spec, &sim, &cfg, Rng::new(9)).unwrap();
        assert_eq!(again.targets, data.targets, "same seed, same targets");
    }
}
