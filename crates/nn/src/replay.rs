//! The two pieces of DQN (Mnih et al., Nature 2015; double DQN: van Hasselt, Guez and Silver, AAAI
//! 2016) that do not depend on what the agent controls: a FIFO experience-replay buffer and the
//! (double) Q-learning target of a minibatch. The Q-value regression itself is
//! [`crate::loss::q_value_loss`].
//!
//! Transitions are stored row-major in flat `f32` vectors, so a minibatch is gathered with
//! [`Replay::gather`] and fed to [`crate::Mlp::forward`] with no per-row allocation. Sampling draws
//! from the caller's [`SplitMix64`], so training stays deterministic for a seed.

use crate::rng::SplitMix64;

/// FIFO replay buffer of `(obs, action, reward, next_obs, done)` transitions: once full, each new
/// transition replaces the oldest.
#[derive(Debug, Clone)]
pub struct Replay {
    dim: usize,
    capacity: usize,
    next: usize,
    /// Observations, row-major (`len() x dim`).
    pub obs: Vec<f32>,
    /// Next observations, row-major.
    pub next_obs: Vec<f32>,
    /// Actions taken.
    pub actions: Vec<usize>,
    /// Rewards received.
    pub rewards: Vec<f32>,
    /// Whether the transition ended an episode (no bootstrapping from `next_obs`).
    pub dones: Vec<bool>,
}

impl Replay {
    /// An empty buffer for observations of `dim` features holding at most `capacity` transitions
    /// (at least one).
    pub fn new(dim: usize, capacity: usize) -> Self {
        Replay {
            dim,
            capacity: capacity.max(1),
            next: 0,
            obs: Vec::new(),
            next_obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            dones: Vec::new(),
        }
    }

    /// Transitions held.
    pub fn len(&self) -> usize {
        self.actions.len()
    }

    /// True when no transition is held.
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }

    /// Features per observation.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Adds one transition, replacing the oldest when full.
    ///
    /// # Panics
    /// If `obs` or `next_obs` is not `dim` long.
    pub fn push(&mut self, obs: &[f32], action: usize, reward: f32, next_obs: &[f32], done: bool) {
        let d = self.dim;
        assert_eq!(obs.len(), d, "obs width");
        assert_eq!(next_obs.len(), d, "next_obs width");
        if self.len() < self.capacity {
            self.obs.extend_from_slice(obs);
            self.next_obs.extend_from_slice(next_obs);
            self.actions.push(action);
            self.rewards.push(reward);
            self.dones.push(done);
        } else {
            let i = self.next;
            self.obs[i * d..(i + 1) * d].copy_from_slice(obs);
            self.next_obs[i * d..(i + 1) * d].copy_from_slice(next_obs);
            self.actions[i] = action;
            self.rewards[i] = reward;
            self.dones[i] = done;
        }
        self.next = (self.next + 1) % self.capacity;
    }

    /// Draws `batch` indices uniformly with replacement into `idx` (cleared first).
    pub fn sample(&self, rng: &mut SplitMix64, batch: usize, idx: &mut Vec<usize>) {
        idx.clear();
        if !self.is_empty() {
            idx.extend((0..batch).map(|_| rng.below(self.len())));
        }
    }

    /// Copies the rows `idx` of `obs` and `next_obs` into `obs_out` and `next_out` (cleared
    /// first), ready for a batched forward pass.
    pub fn gather(&self, idx: &[usize], obs_out: &mut Vec<f32>, next_out: &mut Vec<f32>) {
        let d = self.dim;
        obs_out.clear();
        next_out.clear();
        for &i in idx {
            obs_out.extend_from_slice(&self.obs[i * d..(i + 1) * d]);
            next_out.extend_from_slice(&self.next_obs[i * d..(i + 1) * d]);
        }
    }

    /// The Q-learning targets `r + gamma (1 - done) Q_target(s', a*)` of the transitions `idx`,
    /// where `a* = argmax_a Q_online(s', a)` (double DQN) when `q_next_online` is given, else
    /// `argmax_a Q_target(s', a)`. The `q_next_*` rows follow `idx`'s order, `n_actions` wide.
    pub fn targets(
        &self,
        idx: &[usize],
        q_next_target: &[f32],
        q_next_online: Option<&[f32]>,
        n_actions: usize,
        gamma: f32,
        out: &mut Vec<f32>,
    ) {
        out.clear();
        for (k, &i) in idx.iter().enumerate() {
            let row = k * n_actions..(k + 1) * n_actions;
            let chooser = q_next_online.unwrap_or(q_next_target);
            let a_star = argmax(&chooser[row.clone()]);
            let next_v = q_next_target[row][a_star];
            let not_done = if self.dones[i] { 0.0 } else { 1.0 };
            out.push(self.rewards[i] + gamma * not_done * next_v);
        }
    }
}

/// Index of the largest value (the first one on ties); 0 for an empty slice.
pub fn argmax<T: PartialOrd>(values: &[T]) -> usize {
    let mut best = 0;
    for (i, v) in values.iter().enumerate() {
        if *v > values[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_replaces_the_oldest() {
        let mut r = Replay::new(2, 2);
        r.push(&[1.0, 1.0], 0, 1.0, &[2.0, 2.0], false);
        r.push(&[3.0, 3.0], 1, 2.0, &[4.0, 4.0], true);
        r.push(&[5.0, 5.0], 2, 3.0, &[6.0, 6.0], false);
        assert_eq!(r.len(), 2);
        assert_eq!(r.actions, vec![2, 1]);
        assert_eq!(r.obs, vec![5.0, 5.0, 3.0, 3.0]);
        let (mut o, mut n) = (Vec::new(), Vec::new());
        r.gather(&[1, 0], &mut o, &mut n);
        assert_eq!(o, vec![3.0, 3.0, 5.0, 5.0]);
        assert_eq!(n, vec![4.0, 4.0, 6.0, 6.0]);
    }

    #[test]
    fn double_dqn_target_evaluates_the_online_argmax_with_the_target_net() {
        let mut r = Replay::new(1, 4);
        r.push(&[0.0], 0, 1.0, &[0.0], false);
        r.push(&[0.0], 0, 1.0, &[0.0], true);
        let target_q = [10.0, 20.0, 10.0, 20.0];
        let online_q = [5.0, 1.0, 5.0, 1.0];
        let mut t = Vec::new();
        r.targets(&[0, 1], &target_q, Some(&online_q), 2, 0.5, &mut t);
        // Online picks action 0, the target net values it at 10; the second transition is terminal.
        assert_eq!(t, vec![6.0, 1.0]);
        r.targets(&[0], &target_q, None, 2, 0.5, &mut t);
        assert_eq!(t, vec![11.0]);
        let mut rng = SplitMix64::new(1);
        let mut idx = Vec::new();
        r.sample(&mut rng, 5, &mut idx);
        assert!(idx.len() == 5 && idx.iter().all(|&i| i < 2));
    }
}
