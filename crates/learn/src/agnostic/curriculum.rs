//! The curriculum of the ladder-agnostic policy iteration, after Genet (Xia et al., "Genet:
//! Automatic Curriculum Generation for Learning Adaptation in Networking", SIGCOMM 2022): train
//! more where the policy's gap to the best rule-based algorithm is largest.
//!
//! Before policy iteration, every training environment is played once by each of [`RULES`]
//! (noise-free simulator, as validation). With [`super::Selection::Regret`] (the default) an
//! environment's weight is its gap to *its own* best rule, `max(0, max_r qoe_r - qoe) / scale`
//! (`session_targets`, no tail term).
//!
//! With [`super::Selection::Bar`] the gap is the selection's ([`super::selection`]), per
//! environment: the environments are grouped by (trace set, video) like validation, and each
//! group's bar is taken from the rules' scores there: the rule with the best *mean* over the
//! group (the bar's best rule, not the best rule of each session, which no one rule attains) and
//! RobustMPC's p10 over the group. Before every iteration the current policy plays every training
//! environment; an environment's weight is
//!
//! `max(0, best_rule_qoe - qoe) / scale + tail_weight * max(0, robustmpc_p10 - qoe) / scale`
//!
//! (`best_rule_qoe`: the group's best rule on this environment; `robustmpc_p10`: the group's;
//! `scale`: the video's top utility times the chunks scored, as validation's), so sessions that
//! lose to the rule that sets the bar and sessions in the tail below RobustMPC's p10 are both
//! trained on. A share [`CurriculumConfig::focus`] of the iteration's sessions is then drawn with
//! probability proportional to the weights, the rest uniformly (so the policy keeps what it does
//! well). Genet compares with a rule rather than the optimum on purpose: the optimum's lead partly
//! comes from knowing the future, which no policy can learn, while a rule's lead is attainable.
//!
//! Deterministic: environments are played in parallel and collected in order; the draws come from
//! the seeded [`Rng`] the caller gives.

use super::selection::{bars_by_group, RULES};
use super::{run_env, Env, TrainVideo};
use crate::error::LearnError;
use neuralstream_core::{Abr, Rng};
use neuralstream_sim::{SessionLog, SimConfig};
use rayon::prelude::*;

/// Settings of the curriculum.
#[derive(Debug, Clone)]
pub struct CurriculumConfig {
    /// Share of each iteration's sessions drawn by gap (0: off, every draw uniform).
    pub focus: f64,
    /// With [`super::Selection::Bar`]: weight of a session's shortfall below its group's RobustMPC
    /// p10 (0: means only; [`super::Selection::Regret`] has no tail term).
    pub tail_weight: f64,
}

impl Default for CurriculumConfig {
    /// Half of the sessions by gap, half uniform; tail shortfalls weigh as mean ones.
    fn default() -> Self {
        CurriculumConfig {
            focus: 0.5,
            tail_weight: 1.0,
        }
    }
}

/// What the policy is measured against on one environment: its group's best rule's QoE there,
/// and its group's RobustMPC p10.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Target {
    best_rule_qoe: f64,
    robustmpc_p10_qoe: f64,
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

/// Every rule of [`RULES`]' QoE on every environment (`[i][r]`: rule `r` on `envs[i]`).
pub(super) fn rule_qoes(
    envs: &[Env],
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
) -> Result<Vec<[f64; 4]>, LearnError> {
    envs.par_iter()
        .map_init(SessionLog::default, |log, env| {
            let mut qoes = [0.0; 4];
            for (q, name) in qoes.iter_mut().zip(RULES) {
                let mut rule = neuralstream_abr::create(name)
                    .map_err(|e| LearnError::Invalid(format!("bar rule {name}: {e}")))?;
                *q = play(rule.as_mut(), env, videos, sim, skip_chunks, log)?.0;
            }
            Ok(qoes)
        })
        .collect()
}

/// Every environment's [`Target`] for [`super::Selection::Regret`]: the best of the rules' QoEs on
/// that environment, and no tail (the p10 is minus infinity, so no session falls below it).
pub(super) fn session_targets(rules: &[[f64; 4]]) -> Vec<Target> {
    rules
        .iter()
        .map(|q| Target {
            best_rule_qoe: q.iter().fold(f64::NEG_INFINITY, |best, &x| best.max(x)),
            robustmpc_p10_qoe: f64::NEG_INFINITY,
        })
        .collect()
}

/// Every environment's [`Target`] for [`super::Selection::Bar`] from the rules' QoEs (`rules[i]` on `envs[i]`), grouped by
/// (trace set, video).
pub(super) fn targets(envs: &[Env], rules: &[[f64; 4]]) -> Vec<Target> {
    let keys: Vec<(usize, usize)> = envs.iter().map(|e| (e.set, e.video)).collect();
    let (_, bars, index) = bars_by_group(&keys, rules);
    index
        .iter()
        .zip(rules)
        .map(|(&g, q)| Target {
            best_rule_qoe: q[bars[g].best_rule],
            robustmpc_p10_qoe: bars[g].robustmpc_p10_qoe,
        })
        .collect()
}

/// A session's curriculum weight: its normalised shortfall to the group's best rule plus
/// `tail_weight` times its normalised shortfall below the group's RobustMPC p10 (0 when it meets
/// both).
fn weight(qoe: f64, scale: f64, target: &Target, tail_weight: f64) -> f64 {
    let mean = (target.best_rule_qoe - qoe).max(0.0);
    let tail = (target.robustmpc_p10_qoe - qoe).max(0.0);
    (mean + tail_weight * tail) / scale
}

/// The policy's curriculum weight on every environment ([`weight`]; 0 where it meets its
/// targets).
pub(super) fn gaps<A: Abr + Clone + Send + Sync>(
    policy: &A,
    envs: &[Env],
    targets: &[Target],
    videos: &[TrainVideo],
    sim: &SimConfig,
    skip_chunks: usize,
    tail_weight: f64,
) -> Result<Vec<f64>, LearnError> {
    envs.par_iter()
        .zip(targets)
        .map_init(
            || (policy.clone(), SessionLog::default()),
            |(abr, log), (env, target)| {
                let (qoe, scale) = play(abr, env, videos, sim, skip_chunks, log)?;
                Ok(weight(qoe, scale, target, tail_weight))
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
    use neuralstream_core::Trace;

    #[test]
    fn targets_follow_the_groups_best_rule_and_tail() {
        let trace = Trace::new("t", vec![0.0, 1.0], vec![1.0, 1.0]).unwrap();
        let env = |set, video| Env {
            set,
            video,
            trace: trace.clone(),
        };
        let envs = [env(0, 0), env(0, 0), env(0, 1)];
        // Group (0, 0): bola-e has the best mean (10 against bba0's 9.5) though bba0 wins the
        // second session; RobustMPC's p10 over [0, 20] is 2.
        let rules = [
            [4.0, 12.0, 0.0, 0.0],
            [15.0, 8.0, 0.0, 20.0],
            [1.0, 1.0, 1.0, 1.0],
        ];
        let t = targets(&envs, &rules);
        assert_eq!(t[0].best_rule_qoe, 12.0);
        assert_eq!(
            t[1].best_rule_qoe, 8.0,
            "the group's rule, not the session's best"
        );
        assert!((t[0].robustmpc_p10_qoe - 2.0).abs() < 1e-12);
        assert_eq!(t[1].robustmpc_p10_qoe, t[0].robustmpc_p10_qoe);
        assert_eq!(t[2].best_rule_qoe, 1.0);
        // Weights: above both targets 0; below the rule only; below the rule and the tail.
        assert_eq!(weight(13.0, 2.0, &t[0], 1.0), 0.0);
        assert_eq!(weight(10.0, 2.0, &t[0], 1.0), 1.0);
        assert!((weight(0.0, 2.0, &t[0], 1.0) - (12.0 + 2.0) / 2.0).abs() < 1e-12);
        assert!((weight(0.0, 2.0, &t[0], 0.0) - 6.0).abs() < 1e-12);
    }

    #[test]
    fn session_targets_are_each_sessions_best_rule_without_a_tail() {
        let rules = [[4.0, 12.0, 0.0, 0.0], [15.0, 8.0, 0.0, 20.0]];
        let t = session_targets(&rules);
        assert_eq!(t[0].best_rule_qoe, 12.0);
        assert_eq!(
            t[1].best_rule_qoe, 20.0,
            "the session's best, not the group's"
        );
        // Below its best rule only the gap counts, whatever the tail weight; above it, nothing.
        assert_eq!(weight(10.0, 2.0, &t[1], 1.0), 5.0);
        assert_eq!(weight(-1e9, 1.0, &t[0], 0.0), 12.0 + 1e9);
        assert_eq!(weight(13.0, 2.0, &t[0], 0.0), 0.0);
    }

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
