//! Batched losses with analytic gradients for supervised and RL training.
//!
//! Logits and Q-values are row-major `[batch, n_actions]`; values are `[batch]`. Every loss is a
//! mean over the batch and returns the loss value together with `dLoss/dInput` in a buffer of
//! the same shape as the input, ready to pass to [`Mlp::backward`](crate::Mlp::backward).
//! Softmax-based losses are computed with the max-subtraction trick; the batch's loss is summed
//! in `f64` (per-row softmax sums stay `f32`, which the max-subtraction keeps well conditioned).

/// A loss value and its gradient with respect to the network output.
#[derive(Debug, Clone, PartialEq)]
pub struct LossOutput {
    /// Scalar loss (mean over the batch).
    pub loss: f32,
    /// `dLoss/dOutput`, same shape as the network output.
    pub grad: Vec<f32>,
}

impl LossOutput {
    /// Multiplies loss and gradient by `coef` (e.g. a value-loss coefficient).
    pub fn scaled(mut self, coef: f32) -> Self {
        self.loss *= coef;
        self.grad.iter_mut().for_each(|g| *g *= coef);
        self
    }
}

/// Output of the policy-gradient losses ([`ppo_clip_loss`], [`a2c_loss`]).
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyLossOutput {
    /// Total loss: policy surrogate minus `entropy_coef * entropy`.
    pub loss: f32,
    /// `dLoss/dLogits`, `[batch, n_actions]`.
    pub grad: Vec<f32>,
    /// Mean policy entropy (nats).
    pub entropy: f32,
    /// Mean approximate KL divergence `old_logp - new_logp` (0 for A2C).
    pub approx_kl: f32,
    /// Fraction of samples whose ratio was clipped (0 for A2C).
    pub clip_fraction: f32,
}

/// Which regression loss [`q_value_loss`] uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum QLoss {
    /// `(q - target)^2`.
    Mse,
    /// Huber / smooth-L1 with threshold `delta`: `0.5 d^2` if `|d| <= delta`, else
    /// `delta (|d| - 0.5 delta)`.
    Huber {
        /// Transition point between the quadratic and linear parts.
        delta: f32,
    },
}

fn check_rows(logits: &[f32], n_actions: usize) -> usize {
    assert!(n_actions > 0, "n_actions must be positive");
    assert_eq!(
        logits.len() % n_actions,
        0,
        "logits length is not a multiple of n_actions"
    );
    logits.len() / n_actions
}

/// Numerically stable softmax of one row, in place.
pub fn softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0f32;
    for x in row.iter_mut() {
        *x = (*x - max).exp();
        sum += *x;
    }
    let inv = 1.0 / sum;
    row.iter_mut().for_each(|x| *x *= inv);
}

/// `probs = softmax(scores)` in f64 (for probabilities that are averaged or compared, e.g. an
/// ensemble's), the maximum subtracted first.
pub fn softmax_f64(scores: &[f32], probs: &mut Vec<f64>) {
    let top = scores
        .iter()
        .fold(f64::NEG_INFINITY, |a, &s| a.max(f64::from(s)));
    probs.clear();
    probs.extend(scores.iter().map(|&s| (f64::from(s) - top).exp()));
    let total: f64 = probs.iter().sum();
    probs.iter_mut().for_each(|p| *p /= total);
}

/// Numerically stable log-softmax of one row, in place.
pub fn log_softmax_in_place(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let lse = max + row.iter().map(|&x| (x - max).exp()).sum::<f32>().ln();
    row.iter_mut().for_each(|x| *x -= lse);
}

/// Row-wise softmax of `[batch, n_actions]` logits.
///
/// # Panics
/// If `logits.len()` is not a multiple of `n_actions`.
pub fn softmax(logits: &[f32], n_actions: usize) -> Vec<f32> {
    check_rows(logits, n_actions);
    let mut out = logits.to_vec();
    out.chunks_exact_mut(n_actions).for_each(softmax_in_place);
    out
}

/// Row-wise log-softmax of `[batch, n_actions]` logits.
///
/// # Panics
/// If `logits.len()` is not a multiple of `n_actions`.
pub fn log_softmax(logits: &[f32], n_actions: usize) -> Vec<f32> {
    check_rows(logits, n_actions);
    let mut out = logits.to_vec();
    out.chunks_exact_mut(n_actions)
        .for_each(log_softmax_in_place);
    out
}

/// Log-probabilities of the chosen `actions` under `[batch, n_actions]` logits.
///
/// # Panics
/// On size mismatch or an action `>= n_actions`.
pub fn action_log_probs(logits: &[f32], n_actions: usize, actions: &[usize]) -> Vec<f32> {
    let batch = check_rows(logits, n_actions);
    assert_eq!(actions.len(), batch, "actions length");
    let lp = log_softmax(logits, n_actions);
    actions
        .iter()
        .enumerate()
        .map(|(i, &a)| {
            assert!(a < n_actions, "action {a} out of range");
            lp[i * n_actions + a]
        })
        .collect()
}

/// Per-row log-probabilities, probabilities and entropy; helper for the policy losses.
struct RowStats {
    logp: Vec<f32>,
    p: Vec<f32>,
    entropy: Vec<f32>,
}

fn row_stats(logits: &[f32], n_actions: usize) -> RowStats {
    let logp = log_softmax(logits, n_actions);
    let p: Vec<f32> = logp.iter().map(|x| x.exp()).collect();
    let entropy = logp
        .chunks_exact(n_actions)
        .zip(p.chunks_exact(n_actions))
        .map(|(lp, p)| -lp.iter().zip(p).map(|(l, q)| l * q).sum::<f32>())
        .collect();
    RowStats { logp, p, entropy }
}

/// Cross-entropy to target classes (behaviour cloning), optionally weighted per sample:
/// `loss = (1/B) sum_i w_i * -log softmax(z_i)[t_i]` (`w_i = 1` when `weights` is `None`).
/// Gradient: `w_i (softmax(z_i) - onehot(t_i)) / B`.
///
/// # Panics
/// On size mismatch or a target `>= n_actions`.
pub fn cross_entropy(
    logits: &[f32],
    n_actions: usize,
    targets: &[usize],
    weights: Option<&[f32]>,
) -> LossOutput {
    let batch = check_rows(logits, n_actions);
    assert_eq!(targets.len(), batch, "targets length");
    if let Some(w) = weights {
        assert_eq!(w.len(), batch, "weights length");
    }
    let lp = log_softmax(logits, n_actions);
    let inv_b = 1.0 / batch.max(1) as f32;
    let mut grad = vec![0.0; logits.len()];
    let mut total = 0.0f64;
    for i in 0..batch {
        let t = targets[i];
        assert!(t < n_actions, "target {t} out of range");
        let w = weights.map_or(1.0, |w| w[i]);
        let row = &lp[i * n_actions..(i + 1) * n_actions];
        total += -(w as f64) * row[t] as f64;
        let g = &mut grad[i * n_actions..(i + 1) * n_actions];
        for (j, (gj, &l)) in g.iter_mut().zip(row).enumerate() {
            let onehot = if j == t { 1.0 } else { 0.0 };
            *gj = w * (l.exp() - onehot) * inv_b;
        }
    }
    LossOutput {
        loss: (total / batch.max(1) as f64) as f32,
        grad,
    }
}

/// The number of groups `offsets` cuts `scores_len` scores into (one offset more than groups,
/// from 0 to `scores_len`).
///
/// # Panics
/// On offsets that are empty or do not start at 0 and end at `scores_len`.
fn group_count(offsets: &[usize], scores_len: usize) -> usize {
    assert!(!offsets.is_empty(), "offsets length");
    let batch = offsets.len() - 1;
    assert_eq!(offsets[0], 0, "offsets start at 0");
    assert_eq!(offsets[batch], scores_len, "offsets end at scores.len()");
    batch
}

/// Cross-entropy over groups of rows of different sizes: the softmax of a ladder-agnostic policy,
/// whose network gives one score per (sample, level) row and whose samples have different numbers
/// of levels. Sample `i` owns scores `offsets[i]..offsets[i + 1]` (so `offsets` has one entry more
/// than `targets`, starts at 0 and ends at `scores.len()`), and `targets[i]` indexes within its
/// group. `loss = (1/B) sum_i w_i * -log softmax(group_i)[t_i]`, gradient
/// `w_i (softmax(group_i) - onehot(t_i)) / B` (as [`cross_entropy`] with equal groups).
///
/// # Panics
/// On size mismatch, offsets that are not increasing, or a target outside its group.
pub fn grouped_cross_entropy(
    scores: &[f32],
    offsets: &[usize],
    targets: &[usize],
    weights: Option<&[f32]>,
) -> LossOutput {
    let batch = group_count(offsets, scores.len());
    assert_eq!(batch, targets.len(), "offsets length");
    if let Some(w) = weights {
        assert_eq!(w.len(), batch, "weights length");
    }
    let inv_b = 1.0 / batch.max(1) as f32;
    let mut grad = scores.to_vec();
    let mut total = 0.0f64;
    for i in 0..batch {
        let (lo, hi) = (offsets[i], offsets[i + 1]);
        assert!(lo < hi, "group {i} is empty");
        let t = targets[i];
        assert!(t < hi - lo, "target {t} outside group {i} of {}", hi - lo);
        let w = weights.map_or(1.0, |w| w[i]);
        let row = &mut grad[lo..hi];
        log_softmax_in_place(row);
        total += -(w as f64) * row[t] as f64;
        for (j, g) in row.iter_mut().enumerate() {
            let onehot = if j == t { 1.0 } else { 0.0 };
            *g = w * (g.exp() - onehot) * inv_b;
        }
    }
    LossOutput {
        loss: (total / batch.max(1) as f64) as f32,
        grad,
    }
}

/// Cross-entropy against soft targets over groups of rows of different sizes (policy distillation,
/// Hinton et al. 2015; Rusu et al. 2016): `targets` has one probability per score (each group's
/// sums to 1), `loss = (1/B) sum_i -sum_j targets_ij log softmax(group_i)_j`, gradient
/// `(softmax(group_i) - targets_i) / B`. With one-hot targets it is [`grouped_cross_entropy`].
///
/// # Panics
/// On size mismatch or offsets that are not increasing.
pub fn grouped_soft_cross_entropy(
    scores: &[f32],
    offsets: &[usize],
    targets: &[f32],
) -> LossOutput {
    let batch = group_count(offsets, scores.len());
    assert_eq!(
        targets.len(),
        scores.len(),
        "one target probability per score"
    );
    let inv_b = 1.0 / batch.max(1) as f32;
    let mut grad = scores.to_vec();
    let mut total = 0.0f64;
    for i in 0..batch {
        let (lo, hi) = (offsets[i], offsets[i + 1]);
        assert!(lo < hi, "group {i} is empty");
        let row = &mut grad[lo..hi];
        log_softmax_in_place(row);
        for (g, &t) in row.iter_mut().zip(&targets[lo..hi]) {
            total += -(t as f64) * *g as f64;
            *g = (g.exp() - t) * inv_b;
        }
    }
    LossOutput {
        loss: (total / batch.max(1) as f64) as f32,
        grad,
    }
}

/// PPO clipped surrogate with entropy bonus (Schulman et al. 2017):
///
/// `loss = (1/B) sum_i -min(r_i A_i, clip(r_i, 1 - eps, 1 + eps) A_i) - entropy_coef * H_mean`,
/// with `r_i = exp(log pi(a_i | z_i) - old_log_probs[i])`.
///
/// The gradient w.r.t. the logits is zero for a sample when its clipped term is the minimum
/// and the ratio lies outside the clip range (the standard PPO subgradient).
///
/// # Panics
/// On size mismatch or an action `>= n_actions`.
#[allow(clippy::too_many_arguments)]
pub fn ppo_clip_loss(
    logits: &[f32],
    n_actions: usize,
    actions: &[usize],
    advantages: &[f32],
    old_log_probs: &[f32],
    clip_eps: f32,
    entropy_coef: f32,
) -> PolicyLossOutput {
    let batch = check_rows(logits, n_actions);
    assert_eq!(old_log_probs.len(), batch, "old_log_probs length");
    policy_gradient(
        logits,
        n_actions,
        actions,
        advantages,
        entropy_coef,
        |i, logp, adv| {
            let ratio = (logp - old_log_probs[i]).exp();
            let clipped = ratio.clamp(1.0 - clip_eps, 1.0 + clip_eps);
            let s1 = ratio * adv;
            let s2 = clipped * adv;
            let kl = old_log_probs[i] - logp;
            let was_clipped = (ratio - 1.0).abs() > clip_eps;
            if s1 <= s2 {
                // Unclipped term is active: d(-r A)/dlogp = -r A.
                (-s1, -s1, kl, was_clipped)
            } else {
                (-s2, 0.0, kl, was_clipped)
            }
        },
    )
}

/// Advantage actor-critic policy-gradient loss with entropy bonus:
/// `loss = -(1/B) sum_i A_i log pi(a_i | z_i) - entropy_coef * H_mean`.
///
/// # Panics
/// On size mismatch or an action `>= n_actions`.
pub fn a2c_loss(
    logits: &[f32],
    n_actions: usize,
    actions: &[usize],
    advantages: &[f32],
    entropy_coef: f32,
) -> PolicyLossOutput {
    policy_gradient(
        logits,
        n_actions,
        actions,
        advantages,
        entropy_coef,
        |_, logp, adv| (-adv * logp, -adv, 0.0, false),
    )
}

/// Shared policy-gradient machinery. `term(i, logp, adv)` returns
/// `(per-sample loss, dLoss_i/dlogp, kl_i, clipped_i)`.
fn policy_gradient(
    logits: &[f32],
    n_actions: usize,
    actions: &[usize],
    advantages: &[f32],
    entropy_coef: f32,
    term: impl Fn(usize, f32, f32) -> (f32, f32, f32, bool),
) -> PolicyLossOutput {
    let batch = check_rows(logits, n_actions);
    assert_eq!(actions.len(), batch, "actions length");
    assert_eq!(advantages.len(), batch, "advantages length");
    let RowStats { logp, p, entropy } = row_stats(logits, n_actions);
    let inv_b = 1.0 / batch.max(1) as f32;
    let mut grad = vec![0.0; logits.len()];
    let (mut pg_sum, mut ent_sum, mut kl_sum, mut clipped) = (0.0f64, 0.0f64, 0.0f64, 0usize);
    for i in 0..batch {
        let a = actions[i];
        assert!(a < n_actions, "action {a} out of range");
        let r = i * n_actions..(i + 1) * n_actions;
        let (lp_row, p_row, g) = (&logp[r.clone()], &p[r.clone()], &mut grad[r]);
        let (loss_i, dlogp, kl_i, was_clipped) = term(i, lp_row[a], advantages[i]);
        pg_sum += loss_i as f64;
        kl_sum += kl_i as f64;
        clipped += was_clipped as usize;
        let h = entropy[i];
        ent_sum += h as f64;
        for (j, gj) in g.iter_mut().enumerate() {
            let onehot = if j == a { 1.0 } else { 0.0 };
            // dlogp_a/dz_j = onehot - p_j;  dH/dz_j = -p_j (log p_j + H).
            let d_pg = dlogp * (onehot - p_row[j]);
            let d_h = -p_row[j] * (lp_row[j] + h);
            *gj = (d_pg - entropy_coef * d_h) * inv_b;
        }
    }
    let bf = batch.max(1) as f64;
    PolicyLossOutput {
        loss: ((pg_sum - entropy_coef as f64 * ent_sum) / bf) as f32,
        grad,
        entropy: (ent_sum / bf) as f32,
        approx_kl: (kl_sum / bf) as f32,
        clip_fraction: (clipped as f64 / bf) as f32,
    }
}

/// Value-function regression: `loss = (1/B) sum_i (v_i - R_i)^2`, gradient `2 (v_i - R_i) / B`.
/// Use [`LossOutput::scaled`] for the usual `0.5` or value-loss coefficient.
///
/// # Panics
/// If `values.len() != returns.len()`.
pub fn value_mse(values: &[f32], returns: &[f32]) -> LossOutput {
    assert_eq!(values.len(), returns.len(), "values/returns length");
    let inv_b = 1.0 / values.len().max(1) as f32;
    let mut total = 0.0f64;
    let grad = values
        .iter()
        .zip(returns)
        .map(|(&v, &r)| {
            let d = v - r;
            total += (d as f64) * (d as f64);
            2.0 * d * inv_b
        })
        .collect();
    LossOutput {
        loss: (total / values.len().max(1) as f64) as f32,
        grad,
    }
}

/// DQN-style regression of the Q-values of the chosen actions towards `targets`:
/// `loss = (1/B) sum_i l(Q[i, a_i] - target_i)` with `l` given by `kind`. The gradient is
/// non-zero only at the chosen actions.
///
/// # Panics
/// On size mismatch or an action `>= n_actions`.
pub fn q_value_loss(
    q_values: &[f32],
    n_actions: usize,
    actions: &[usize],
    targets: &[f32],
    kind: QLoss,
) -> LossOutput {
    let batch = check_rows(q_values, n_actions);
    assert_eq!(actions.len(), batch, "actions length");
    assert_eq!(targets.len(), batch, "targets length");
    let inv_b = 1.0 / batch.max(1) as f32;
    let mut grad = vec![0.0; q_values.len()];
    let mut total = 0.0f64;
    for i in 0..batch {
        let a = actions[i];
        assert!(a < n_actions, "action {a} out of range");
        let d = q_values[i * n_actions + a] - targets[i];
        let (l, g) = match kind {
            QLoss::Mse => (d * d, 2.0 * d),
            QLoss::Huber { delta } => {
                if d.abs() <= delta {
                    (0.5 * d * d, d)
                } else {
                    (delta * (d.abs() - 0.5 * delta), delta * d.signum())
                }
            }
        };
        total += l as f64;
        grad[i * n_actions + a] = g * inv_b;
    }
    LossOutput {
        loss: (total / batch.max(1) as f64) as f32,
        grad,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_cross_entropy_with_equal_groups_is_cross_entropy() {
        let logits = [0.5f32, -1.0, 2.0, 0.0, 0.3, -0.7];
        let targets = [2, 0];
        let weights = [1.0f32, 0.5];
        let plain = cross_entropy(&logits, 3, &targets, Some(&weights));
        let grouped = grouped_cross_entropy(&logits, &[0, 3, 6], &targets, Some(&weights));
        assert!((plain.loss - grouped.loss).abs() < 1e-6);
        for (a, b) in plain.grad.iter().zip(&grouped.grad) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn grouped_cross_entropy_gradient_matches_finite_differences() {
        // Groups of 2, 4 and 3 scores.
        let scores: Vec<f32> = (0..9).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.4).collect();
        let offsets = [0, 2, 6, 9];
        let targets = [1, 3, 0];
        let out = grouped_cross_entropy(&scores, &offsets, &targets, None);
        let eps = 1e-3f32;
        for k in 0..scores.len() {
            let mut plus = scores.clone();
            plus[k] += eps;
            let mut minus = scores.clone();
            minus[k] -= eps;
            let num = (grouped_cross_entropy(&plus, &offsets, &targets, None).loss
                - grouped_cross_entropy(&minus, &offsets, &targets, None).loss)
                / (2.0 * eps);
            assert!(
                (num - out.grad[k]).abs() < 1e-3,
                "score {k}: {num} vs {}",
                out.grad[k]
            );
        }
        // Each group's gradient sums to zero (softmax minus one-hot).
        for w in offsets.windows(2) {
            let s: f32 = out.grad[w[0]..w[1]].iter().sum();
            assert!(s.abs() < 1e-6);
        }
    }

    #[test]
    fn soft_targets_one_hot_are_the_hard_loss_and_soft_ones_match_finite_differences() {
        let scores: Vec<f32> = (0..9).map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.4).collect();
        let offsets = [0, 2, 6, 9];
        let hard = grouped_cross_entropy(&scores, &offsets, &[1, 3, 0], None);
        let one_hot = [0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0];
        let soft = grouped_soft_cross_entropy(&scores, &offsets, &one_hot);
        assert!((hard.loss - soft.loss).abs() < 1e-6);
        for (a, b) in hard.grad.iter().zip(&soft.grad) {
            assert!((a - b).abs() < 1e-7, "{a} vs {b}");
        }
        let targets = [0.3, 0.7, 0.1, 0.2, 0.3, 0.4, 0.5, 0.25, 0.25];
        let out = grouped_soft_cross_entropy(&scores, &offsets, &targets);
        let eps = 1e-3f32;
        for k in 0..scores.len() {
            let (mut plus, mut minus) = (scores.clone(), scores.clone());
            plus[k] += eps;
            minus[k] -= eps;
            let num = (grouped_soft_cross_entropy(&plus, &offsets, &targets).loss
                - grouped_soft_cross_entropy(&minus, &offsets, &targets).loss)
                / (2.0 * eps);
            assert!(
                (num - out.grad[k]).abs() < 1e-3,
                "score {k}: {num} vs {}",
                out.grad[k]
            );
        }
        // At the target distribution the gradient vanishes and the loss is its entropy.
        let logp: Vec<f32> = targets.iter().map(|t: &f32| t.ln()).collect();
        let at = grouped_soft_cross_entropy(&logp, &offsets, &targets);
        assert!(at.grad.iter().all(|g| g.abs() < 1e-6), "{:?}", at.grad);
        let entropy: f32 = targets.iter().map(|t| -t * t.ln()).sum::<f32>() / 3.0;
        assert!((at.loss - entropy).abs() < 1e-5);
    }

    #[test]
    fn softmax_f64_sums_to_one_and_keeps_the_order() {
        let mut p = Vec::new();
        softmax_f64(&[1.0, 3.0, 2.0, 3.0], &mut p);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(p[1] > p[2] && p[2] > p[0] && p[1] == p[3]);
        assert_eq!(crate::argmax(&p), 1);
        // Huge logits do not overflow.
        softmax_f64(&[1000.0, 0.0], &mut p);
        assert!((p[0] - 1.0).abs() < 1e-12 && p[1] >= 0.0);
    }
}
