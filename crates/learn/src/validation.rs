//! Checkpoint selection: the greedy policy's mean QoE on held-out validation sessions.
//!
//! The validation sessions are windows cut from the *validation split of the training traces*
//! (never the test traces), played from their beginning in test mode. Short hops give many
//! overlapping windows, which averages out the noise of a small split.

use crate::error::LearnError;
use crate::evaluate::mean_qoe;
use crate::features::FeatureSpec;
use crate::policy::{LearnedAbr, PolicyMeta};
use crate::windows::windows;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Trace, Video};
use neuralstream_nn::Mlp;
use neuralstream_sim::SimConfig;

/// Scores actors on a fixed set of validation sessions.
#[derive(Debug, Clone)]
pub struct Validator<'a> {
    /// The validation sessions (windows of the validation traces).
    pub sessions: Vec<Trace>,
    video: &'a Video,
    sim: SimConfig,
    qoe: &'a CompiledQoe,
    spec: FeatureSpec,
    skip_chunks: usize,
}

impl<'a> Validator<'a> {
    /// Windows of `window_s` every `hop_s` seconds over `traces`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        traces: &[Trace],
        window_s: f64,
        hop_s: f64,
        video: &'a Video,
        sim: &SimConfig,
        qoe: &'a CompiledQoe,
        spec: &FeatureSpec,
        skip_chunks: usize,
    ) -> Self {
        let sessions = traces
            .iter()
            .flat_map(|t| windows(t, window_s, hop_s))
            .collect();
        Validator {
            sessions,
            video,
            sim: SimConfig {
                delay_noise: None,
                ..sim.clone()
            },
            qoe,
            spec: spec.clone(),
            skip_chunks,
        }
    }

    /// Mean QoE of the greedy (argmax) policy of `actor` over the validation sessions.
    pub fn score(&self, actor: &Mlp) -> Result<f64, LearnError> {
        let policy = LearnedAbr::new(actor.clone(), self.spec.clone(), PolicyMeta::default());
        mean_qoe(
            || policy.clone(),
            &self.sessions,
            self.video,
            &self.sim,
            self.qoe,
            self.skip_chunks,
        )
    }
}
