//! The training curve: one [`CurvePoint`] per validation, across all stages, written as CSV and
//! stored in checkpoints so that a resumed run continues the same curve.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// One point of the training curve. Metrics that a stage does not have are NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CurvePoint {
    /// Stage that produced it: `imitation`, `dagger`, `ppo`, `a2c` or `dqn`.
    pub stage: String,
    /// Epoch (imitation) or iteration (RL) counter, continuing across resumes.
    pub iteration: u64,
    /// Training samples consumed so far, cumulative over the whole run: dataset size for
    /// imitation, environment steps for PPO/A2C/DQN, rolled-out (state, level) pairs for the
    /// `api` stage.
    pub samples: u64,
    /// Wall time since the run started (including earlier runs that were resumed), seconds.
    pub wall_s: f64,
    /// Mean QoE of the greedy policy on the validation sessions.
    pub val_qoe: f64,
    /// Mean QoE of the training episodes finished since the previous point (RL; stochastic policy).
    #[serde(with = "nan_as_null")]
    pub train_qoe: f64,
    /// Mean training loss since the previous point.
    #[serde(with = "nan_as_null")]
    pub loss: f64,
    /// Stage-specific: accuracy against the teacher (imitation), mean policy entropy in nats
    /// (PPO/A2C), rows in the regression set (`api`) or the exploration rate epsilon (DQN).
    #[serde(with = "nan_as_null")]
    pub aux: f64,
}

/// JSON has no NaN: write it as `null` and read `null` back as NaN.
mod nan_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        if v.is_finite() {
            s.serialize_f64(*v)
        } else {
            s.serialize_none()
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
    }
}

/// Header of [`curve_csv`].
pub const CURVE_CSV_HEADER: &str = "stage,iteration,samples,wall_s,val_qoe,train_qoe,loss,aux";

/// The curve as CSV (header [`CURVE_CSV_HEADER`], one line per point, NaN as an empty field).
pub fn curve_csv(points: &[CurvePoint]) -> String {
    let f = |v: f64| {
        if v.is_finite() {
            format!("{v:.6}")
        } else {
            String::new()
        }
    };
    let mut out = format!("{CURVE_CSV_HEADER}\n");
    for p in points {
        let _ = writeln!(
            out,
            "{},{},{},{:.3},{},{},{},{}",
            p.stage,
            p.iteration,
            p.samples,
            p.wall_s,
            f(p.val_qoe),
            f(p.train_qoe),
            f(p.loss),
            f(p.aux)
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_nan() {
        let p = CurvePoint {
            stage: "ppo".into(),
            iteration: 3,
            samples: 100,
            wall_s: 1.5,
            val_qoe: 2.0,
            train_qoe: f64::NAN,
            loss: 0.5,
            aux: f64::NAN,
        };
        let json = serde_json::to_string(std::slice::from_ref(&p)).unwrap();
        let back: Vec<CurvePoint> = serde_json::from_str(&json).unwrap();
        assert!(back[0].train_qoe.is_nan() && back[0].aux.is_nan());
        assert_eq!(back[0].samples, 100);
        let csv = curve_csv(&back);
        assert!(csv
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("ppo,3,100,1.500,2.000000,,0.500000,"));
    }
}
