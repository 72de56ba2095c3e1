//! Checkpoint selection: the greedy policy's mean QoE on held-out validation sessions.
//!
//! The validation sessions are windows cut from the *validation split of the training traces*
//! (never the test traces), played from their beginning in test mode. Short hops give many
//! overlapping windows, which averages out the noise of a small split.
//!
//! How the session QoEs are averaged is a [`ValMetric`]. Long traces give many more windows than
//! short ones, so a plain mean over windows ([`ValMetric::Sessions`]) lets a few long,
//! starved traces (Pensieve's FCC set holds 30-minute traces far below the lowest bitrate)
//! dominate the score and reward caution; the default [`ValMetric::PerTrace`] first averages the
//! windows of each trace, so every validation trace (network) counts once, as every trace does in
//! the test protocol, while all windows still reduce the noise.

use crate::error::LearnError;
use crate::evaluate::session_qoes;
use crate::windows::windows;
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::{Trace, Video};
use neuralstream_nn::Mlp;
use neuralstream_policy::FeatureSpec;
use neuralstream_policy::{LearnedAbr, PolicyMeta};
use neuralstream_sim::SimConfig;
use std::str::FromStr;

/// How per-session validation QoEs are combined into the selection score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ValMetric {
    /// Mean over all windows (long traces weigh more).
    Sessions,
    /// Mean over validation traces of the mean over that trace's windows (default).
    #[default]
    PerTrace,
    /// Mean over the first window of every trace only (one session per trace from its start,
    /// exactly the test protocol, but few sessions).
    FromStart,
}

impl ValMetric {
    /// The name used in flags.
    pub fn name(self) -> &'static str {
        match self {
            ValMetric::Sessions => "sessions",
            ValMetric::PerTrace => "per-trace",
            ValMetric::FromStart => "from-start",
        }
    }

    /// All metrics, in a fixed order.
    pub const ALL: [ValMetric; 3] = [
        ValMetric::Sessions,
        ValMetric::PerTrace,
        ValMetric::FromStart,
    ];
}

impl FromStr for ValMetric {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "sessions" => Ok(ValMetric::Sessions),
            "per-trace" | "per_trace" => Ok(ValMetric::PerTrace),
            "from-start" | "from_start" => Ok(ValMetric::FromStart),
            other => Err(format!(
                "unknown validation metric '{other}'; expected sessions, per-trace or from-start"
            )),
        }
    }
}

/// Scores actors on a fixed set of validation sessions.
#[derive(Debug, Clone)]
pub struct Validator<'a> {
    /// The validation sessions (windows of the validation traces).
    pub sessions: Vec<Trace>,
    /// Index of the validation trace each session was cut from.
    pub session_trace: Vec<usize>,
    /// True for the first window of each trace (the session from the trace's start).
    pub first_window: Vec<bool>,
    /// How session QoEs are combined by [`Validator::score`].
    pub metric: ValMetric,
    video: &'a Video,
    sim: SimConfig,
    qoe: &'a CompiledQoe,
    spec: FeatureSpec,
    skip_chunks: usize,
}

impl<'a> Validator<'a> {
    /// Windows of `window_s` every `hop_s` seconds over `traces`, scored with [`ValMetric::default`].
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
        let mut sessions = Vec::new();
        let mut session_trace = Vec::new();
        let mut first_window = Vec::new();
        for (i, t) in traces.iter().enumerate() {
            for (j, w) in windows(t, window_s, hop_s).into_iter().enumerate() {
                sessions.push(w);
                session_trace.push(i);
                first_window.push(j == 0);
            }
        }
        Validator {
            sessions,
            session_trace,
            first_window,
            metric: ValMetric::default(),
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

    /// The same validator scoring with `metric`.
    pub fn with_metric(mut self, metric: ValMetric) -> Self {
        self.metric = metric;
        self
    }

    /// QoE of the greedy (argmax) policy of `actor` on every validation session, in order.
    pub fn session_qoes(&self, actor: &Mlp) -> Result<Vec<f64>, LearnError> {
        let policy = LearnedAbr::new(actor.clone(), self.spec.clone(), PolicyMeta::default());
        session_qoes(
            || policy.clone(),
            &self.sessions,
            self.video,
            &self.sim,
            self.qoe,
            self.skip_chunks,
        )
    }

    /// Combines per-session QoEs (as returned by [`Validator::session_qoes`]) with `metric`.
    pub fn combine(&self, qoes: &[f64], metric: ValMetric) -> f64 {
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        match metric {
            ValMetric::Sessions => mean(qoes),
            ValMetric::FromStart => {
                let firsts: Vec<f64> = qoes
                    .iter()
                    .zip(&self.first_window)
                    .filter(|(_, &f)| f)
                    .map(|(&q, _)| q)
                    .collect();
                mean(&firsts)
            }
            ValMetric::PerTrace => {
                let n = self.session_trace.iter().max().map_or(0, |&m| m + 1);
                let (mut sum, mut count) = (vec![0.0; n], vec![0usize; n]);
                for (&q, &t) in qoes.iter().zip(&self.session_trace) {
                    sum[t] += q;
                    count[t] += 1;
                }
                let per: Vec<f64> = sum
                    .iter()
                    .zip(&count)
                    .filter(|(_, &c)| c > 0)
                    .map(|(&s, &c)| s / c as f64)
                    .collect();
                mean(&per)
            }
        }
    }

    /// The selection score of the greedy policy of `actor`: its session QoEs combined with
    /// [`Validator::metric`].
    pub fn score(&self, actor: &Mlp) -> Result<f64, LearnError> {
        Ok(self.combine(&self.session_qoes(actor)?, self.metric))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::QoeModel;
    use neuralstream_data::synthetic::builtin_video;

    fn trace(name: &str, n: usize) -> Trace {
        let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
        Trace::new(name, t, vec![2.0; n]).unwrap()
    }

    #[test]
    fn metrics_weigh_traces_as_documented() {
        let video = builtin_video();
        let qoe = QoeModel::lin().compile(&video).unwrap();
        let spec = FeatureSpec::new(video.num_levels());
        // Trace 0 gives 3 windows (starts 0, 10, 20), trace 1 one window.
        let traces = [trace("long", 41), trace("short", 15)];
        let v = Validator::new(
            &traces,
            20.0,
            10.0,
            &video,
            &SimConfig::pensieve(),
            &qoe,
            &spec,
            1,
        );
        assert_eq!(v.session_trace, vec![0, 0, 0, 1]);
        assert_eq!(v.first_window, vec![true, false, false, true]);
        let q = [1.0, 2.0, 3.0, 10.0];
        assert_eq!(v.combine(&q, ValMetric::Sessions), 4.0);
        assert_eq!(v.combine(&q, ValMetric::PerTrace), 6.0);
        assert_eq!(v.combine(&q, ValMetric::FromStart), 5.5);
        for m in ValMetric::ALL {
            assert_eq!(m.name().parse::<ValMetric>().unwrap(), m);
        }
    }
}
