//! The curriculum of the ladder-agnostic policy iteration, after Genet (Xia et al., "Genet:
//! Automatic Curriculum Generation for Learning Adaptation in Networking", SIGCOMM 2022): train
//! more where the policy's gap to the best rule-based algorithm is largest.
//!
//! Before policy iteration, every training environment is played once by each of
//! [`CURRICULUM_RULES`] (noise-free simulator, as validation) and the best rule's QoE is kept.
//! Before every iteration the current policy plays every training environment too; its gap to the
//! best rule is normalised like the validation score (by the video's top utility times the chunks
//! scored), so a 40 Mbit/s ladder's gaps and Pensieve's weigh alike. A share
//! [`CurriculumConfig::focus`] of the iteration's sessions is then drawn with probability
//! proportional to the positive gaps, the rest uniformly (so the policy keeps what it does well).
//! Genet compares with a rule rather than the optimum on purpose: the optimum's lead partly comes
//! from knowing the future, which no policy can learn, while a rule's lead is always attainable.
//!
//! Deterministic: environments are played in parallel and collected in order; the draws come from
//! the seeded [`Rng`] the caller gives.

use super::{run_env, Env, TrainVideo};
use crate::error::LearnError;
use neuralstream_core::{Abr, Rng};
use neuralstream_sim::{SessionLog, SimConfig};
use rayon::prelude::*;

/// The rules whose best QoE per environment the policy is measured against (the bar).
pub const CURRICULUM_RULES: [&str; 4] = ["bba0", "bola-e", "dynamic", "robustmpc"];

/// Settings of the curriculum.
#[derive(Debug, Clone)]
pub struct CurriculumConfig {
    /// Share of each iteration's sessions drawn by gap (0: off, every draw uniform).
    pub focus: f64,
}

impl Default for CurriculumConfig {
    /// Half of the sessions by gap, half uniform.
    fn default() -> Self {
        CurriculumConfig { focus: 0.5 }
    }
}

/// The QoE of a session of `abr` on `env` (noise-free `sim`), and the scale of a normalised gap
/// there (the video's top utility times the chunks scored; validation's too).
pub(super) fn play(
    abr: &mut dyn Abr,
    env: &Env,
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
    log: &mut SessionLog,
) -> Result<(f64, f64), LearnError> {
    let v = &videos[env.video];
    run_env(abr, env, videos, sim, log)?;
    let scored = log.records.len().saturating_sub(skip_chunks) as f64;
    let scale = (v.top_utility() * scored).max(1e-9);
    Ok((v.qoe.score(&log.records, skip_chunks).qoe, scale))
}

/// The best of [`CURRICULUM_RULES`]' QoEs on every environment.
pub(super) fn best_rule_qoes(
    envs: &[Env],
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
) -> Result<Vec<f64>, LearnError> {
    envs.par_iter()
        .map_init(SessionLog::default, |log, env| {
            let mut best = f64::NEG_INFINITY;
            for name in CURRICULUM_RULES {
                let mut rule = neuralstream_abr::create(name)
                    .map_err(|e| LearnError::Invalid(format!("curriculum rule {name}: {e}")))?;
                best = best.max(play(rule.as_mut(), env, videos, sim, skip_chunks, log)?.0);
            }
            Ok(best)
        })
        .collect()
}

/// The policy's normalised gap to the best rule on every environment (positive where the rule is
/// better).
pub(super) fn gaps<A: Abr + Clone + Send + Sync>(
    policy: &A,
    envs: &[Env],
    best_rule: &[f64],
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
) -> Result<Vec<f64>, LearnError> {
    envs.par_iter()
        .zip(best_rule)
        .map_init(
            || (policy.clone(), SessionLog::default()),
            |(abr, log), (env, &rule)| {
                let (qoe, scale) = play(abr, env, videos, sim, skip_chunks, log)?;
                Ok((rule - qoe) / scale)
            },
        )
        .collect()
}

/// `count` environment indices: a share `focus` drawn in proportion to the positive gaps, the
/// rest uniformly (all uniformly when no gap is positive).
pub(super) fn draw(gaps: &[f64], count: usize, focus: f64, rng: &mut Rng) -> Vec<usize> {
    let n = gaps.len();
    let mut cumulative = Vec::with_capacity(n);
    let mut total = 0.0;
    for &g in gaps {
        total += g.max(0.0);
        cumulative.push(total);
    }
    (0..count)
        .map(|_| {
            if total > 0.0 && rng.uniform() < focus {
                let x = rng.uniform() * total;
                cumulative.partition_point(|&c| c <= x).min(n - 1)
            } else {
                rng.below(n)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_positive_gaps() {
        // Environment 2 holds 3/4 of the positive gap, 1 a quarter, 0 and 3 none.
        let gaps = [-0.5, 0.1, 0.3, 0.0];
        let mut rng = Rng::new(5);
        let picks = draw(&gaps, 4000, 1.0, &mut rng);
        let count = |i| picks.iter().filter(|&&p| p == i).count();
        assert_eq!(count(0) + count(3), 0, "no gap, no draw when focused");
        assert!((2800..3200).contains(&count(2)), "{}", count(2));
        // Unfocused: every environment is drawn.
        let uniform = draw(&gaps, 400, 0.0, &mut Rng::new(5));
        assert!((0..4).all(|i| uniform.contains(&i)));
        // No positive gap: uniform even when focused.
        let none = draw(&[-1.0, 0.0], 100, 1.0, &mut Rng::new(5));
        assert!(none.contains(&0) && none.contains(&1));
        // Same seed, same draws.
        assert_eq!(picks, draw(&gaps, 4000, 1.0, &mut Rng::new(5)));
    }
}
