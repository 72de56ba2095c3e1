//! Checkpoint averaging for the ladder-agnostic policy iteration: one validation peak is a noisy
//! pick (the third pass measured policies of equal validation scores 10-50 % apart on the test
//! grid), so the trainer also offers the average of the weights of several checkpoints, as
//! stochastic weight averaging does (Izmailov et al., "Averaging Weights Leads to Wider Optima and
//! Better Generalization", UAI 2018): the iterates of one policy-iteration run stay in one basin,
//! and their mean sits nearer its centre than any one of them.
//!
//! Two averages are formed from the policy-iteration checkpoints, each of `k` of them: the last
//! `k` ([`last_k`]) and the `k` with the best validation scores ([`best_k`]). Both are validated
//! like any checkpoint, and the selection takes whichever of them and the single best checkpoint
//! scores highest on validation ([`AgnosticConfig::average`](super::AgnosticConfig::average);
//! 0 turns it off).

use neuralstream_nn::Mlp;

/// The element-wise mean of the parameters of `nets` (all of one shape); `None` for no net or
/// nets of different shapes.
pub fn average_weights(nets: &[&Mlp]) -> Option<Mlp> {
    let first = nets.first()?;
    if nets.iter().any(|n| n.sizes() != first.sizes()) {
        return None;
    }
    // Every net's tensors' values, in `named_params` order.
    let params: Vec<Vec<&[f32]>> = nets
        .iter()
        .map(|n| n.named_params().into_iter().map(|p| p.2).collect())
        .collect();
    let mut avg = (*first).clone();
    let mut tensor = 0;
    avg.visit_params_mut(&mut |_, p, _| {
        for (j, x) in p.iter_mut().enumerate() {
            let sum: f64 = params.iter().map(|ps| ps[tensor][j] as f64).sum();
            *x = (sum / params.len() as f64) as f32;
        }
        tensor += 1;
    });
    Some(avg)
}

/// The indices of the last `k` of `scores` (all when fewer), in order.
pub fn last_k(scores: &[f64], k: usize) -> Vec<usize> {
    (scores.len().saturating_sub(k)..scores.len()).collect()
}

/// The indices of the `k` highest `scores` (ties to the earlier checkpoint), in checkpoint order.
pub fn best_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
    idx.truncate(k);
    idx.sort_unstable();
    idx
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_nn::Activation;

    #[test]
    fn the_average_is_the_element_wise_mean() {
        let a = Mlp::new(&[3, 4, 1], Activation::Relu, 1);
        let b = Mlp::new(&[3, 4, 1], Activation::Relu, 2);
        let c = Mlp::new(&[3, 4, 1], Activation::Relu, 3);
        let avg = average_weights(&[&a, &b, &c]).unwrap();
        let (pa, pb, pc, pm) = (
            a.named_params(),
            b.named_params(),
            c.named_params(),
            avg.named_params(),
        );
        assert_eq!(pm.len(), 4);
        for t in 0..pm.len() {
            assert_eq!(pm[t].0, pa[t].0);
            for j in 0..pm[t].2.len() {
                let want = (pa[t].2[j] + pb[t].2[j] + pc[t].2[j]) / 3.0;
                assert!((pm[t].2[j] - want).abs() < 1e-6, "{} {j}", pm[t].0);
            }
        }
        // One net averages to itself; nothing or mismatched shapes give nothing.
        assert_eq!(average_weights(&[&a]).unwrap(), a);
        assert!(average_weights(&[]).is_none());
        let other = Mlp::new(&[3, 5, 1], Activation::Relu, 1);
        assert!(average_weights(&[&a, &other]).is_none());
    }

    #[test]
    fn last_and_best_checkpoints_are_picked_in_order() {
        let scores = [-0.3, -0.1, -0.2, -0.1, -0.5, -0.15];
        assert_eq!(last_k(&scores, 3), vec![3, 4, 5]);
        assert_eq!(last_k(&scores, 9), vec![0, 1, 2, 3, 4, 5]);
        assert!(last_k(&scores, 0).is_empty());
        // -0.1 (1), -0.1 (3), -0.15 (5): the tie keeps both, in checkpoint order.
        assert_eq!(best_k(&scores, 3), vec![1, 3, 5]);
        assert_eq!(best_k(&scores, 1), vec![1]);
        assert_eq!(best_k(&[], 2), Vec::<usize>::new());
    }
}
