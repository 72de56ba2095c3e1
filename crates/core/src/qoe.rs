//! Quality-of-experience models and per-session scoring.
//!
//! Every model has the same shape (Pensieve, §5.2 of `reference/pensieve.md`; Yin et al., SIGCOMM 2015):
//!
//! ```text
//! r_n = q(R_n) - mu * rebuffer_n - lambda * |q(R_n) - q(R_{n-1})|
//! ```
//!
//! with `q` a per-level utility, `mu` the rebuffer penalty per second and `lambda` the smoothness
//! penalty. For chunk 0 the previous level is its own, so its smoothness term is 0.
//! A session's score sums `r_n` over the scored chunks (Pensieve drops chunk 0, whose level is fixed and
//! whose stall is the startup delay), and a set of sessions is summarised by the mean over sessions.

use crate::abr::ChunkRecord;
use crate::error::CoreError;
use crate::video::Video;
use serde::{Deserialize, Serialize};

/// Pensieve's HD utility table for its 6-level ladder.
pub const PENSIEVE_HD_UTILITY: [f64; 6] = [1.0, 2.0, 3.0, 12.0, 15.0, 20.0];

/// A QoE model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum QoeModel {
    /// QoE_lin: `q(R) = R / 1000` (Mbit/s), rebuffer penalty 4.3 per second, smoothness 1.
    Lin {
        /// Penalty per second of stall (Pensieve: 4.3).
        rebuffer_penalty: f64,
        /// Weight of the bitrate change (Pensieve: 1).
        smooth_penalty: f64,
    },
    /// QoE_log: `q(R) = ln(R / R_min)`, rebuffer penalty mu (paper: 2.66), smoothness 1.
    Log {
        /// Penalty per second of stall.
        rebuffer_penalty: f64,
        /// Weight of the utility change.
        smooth_penalty: f64,
    },
    /// QoE_HD: `q` from a per-level utility table (Pensieve: [1,2,3,12,15,20]), mu 8, smoothness 1.
    Hd {
        /// Penalty per second of stall.
        rebuffer_penalty: f64,
        /// Weight of the utility change.
        smooth_penalty: f64,
        /// Utility of each level; must match the ladder's length.
        utility: Vec<f64>,
    },
}

impl QoeModel {
    /// QoE_lin with Pensieve's constants.
    pub fn lin() -> Self {
        QoeModel::Lin {
            rebuffer_penalty: 4.3,
            smooth_penalty: 1.0,
        }
    }

    /// QoE_log with the paper's mu = 2.66.
    pub fn log() -> Self {
        QoeModel::Log {
            rebuffer_penalty: 2.66,
            smooth_penalty: 1.0,
        }
    }

    /// QoE_HD with Pensieve's utility table and mu = 8.
    pub fn hd() -> Self {
        QoeModel::Hd {
            rebuffer_penalty: 8.0,
            smooth_penalty: 1.0,
            utility: PENSIEVE_HD_UTILITY.to_vec(),
        }
    }

    /// Parses `lin`, `log` or `hd`.
    pub fn from_name(name: &str) -> Result<Self, CoreError> {
        match name.to_ascii_lowercase().as_str() {
            "lin" | "qoe_lin" | "linear" => Ok(Self::lin()),
            "log" | "qoe_log" => Ok(Self::log()),
            "hd" | "qoe_hd" => Ok(Self::hd()),
            other => Err(CoreError::InvalidQoe(format!(
                "unknown QoE model '{other}'; choose one of: lin, log, hd"
            ))),
        }
    }

    /// Short name (`lin`, `log`, `hd`).
    pub fn name(&self) -> &'static str {
        match self {
            QoeModel::Lin { .. } => "lin",
            QoeModel::Log { .. } => "log",
            QoeModel::Hd { .. } => "hd",
        }
    }

    /// Rebuffer penalty per second (mu).
    pub fn rebuffer_penalty(&self) -> f64 {
        match self {
            QoeModel::Lin {
                rebuffer_penalty, ..
            }
            | QoeModel::Log {
                rebuffer_penalty, ..
            }
            | QoeModel::Hd {
                rebuffer_penalty, ..
            } => *rebuffer_penalty,
        }
    }

    /// Compiles the model for one video: per-level utilities, ready for fast per-chunk rewards.
    pub fn compile(&self, video: &Video) -> Result<CompiledQoe, CoreError> {
        let kbps = video.ladder.bitrates_kbps();
        let (raw, divisor, mu, lambda) = match self {
            QoeModel::Lin {
                rebuffer_penalty,
                smooth_penalty,
            } => (kbps, 1000.0, *rebuffer_penalty, *smooth_penalty),
            QoeModel::Log {
                rebuffer_penalty,
                smooth_penalty,
            } => {
                let r_min = kbps[0];
                (
                    kbps.iter().map(|r| (r / r_min).ln()).collect(),
                    1.0,
                    *rebuffer_penalty,
                    *smooth_penalty,
                )
            }
            QoeModel::Hd {
                rebuffer_penalty,
                smooth_penalty,
                utility,
            } => {
                if utility.len() != kbps.len() {
                    return Err(CoreError::InvalidQoe(format!(
                        "QoE_HD has {} utilities but the ladder of '{}' has {} levels; QoE_HD is defined for Pensieve's 6-level ladder",
                        utility.len(),
                        video.name,
                        kbps.len()
                    )));
                }
                (utility.clone(), 1.0, *rebuffer_penalty, *smooth_penalty)
            }
        };
        Ok(CompiledQoe {
            raw,
            divisor,
            rebuffer_penalty: mu,
            smooth_penalty: lambda,
        })
    }
}

/// A QoE model bound to one ladder: per-level utility values and penalties.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQoe {
    /// Per-level utility before division (kbit/s for QoE_lin).
    pub raw: Vec<f64>,
    /// Utility = raw / divisor (1000 for QoE_lin, to get Mbit/s exactly as Pensieve computes it).
    pub divisor: f64,
    /// Penalty per second of stall.
    pub rebuffer_penalty: f64,
    /// Weight of the utility change.
    pub smooth_penalty: f64,
}

impl CompiledQoe {
    /// Utility of `level`.
    #[inline]
    pub fn utility(&self, level: usize) -> f64 {
        self.raw[level] / self.divisor
    }

    /// Smoothness cost of switching from `prev` to `level` (before the weight).
    #[inline]
    pub fn switch_cost(&self, prev: usize, level: usize) -> f64 {
        (self.raw[level] - self.raw[prev]).abs() / self.divisor
    }

    /// Reward of one chunk, in the same floating-point order as Pensieve's Python.
    #[inline]
    pub fn reward(&self, level: usize, prev: usize, rebuffer_s: f64) -> f64 {
        self.utility(level)
            - self.rebuffer_penalty * rebuffer_s
            - self.smooth_penalty * self.switch_cost(prev, level)
    }

    /// Per-chunk rewards of a session log (chunk 0's previous level is its own).
    pub fn rewards(&self, records: &[ChunkRecord]) -> Vec<f64> {
        records
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let prev = if i == 0 {
                    r.level
                } else {
                    records[i - 1].level
                };
                self.reward(r.level, prev, r.rebuffer_s)
            })
            .collect()
    }

    /// Scores a session, summing over chunks `skip..` (Pensieve: `skip = 1`).
    pub fn score(&self, records: &[ChunkRecord], skip: usize) -> SessionScore {
        let mut s = SessionScore {
            startup_s: records.first().map_or(0.0, |r| r.rebuffer_s),
            ..Default::default()
        };
        let mut bitrate_sum = 0.0;
        for (i, r) in records.iter().enumerate() {
            let prev = if i == 0 {
                r.level
            } else {
                records[i - 1].level
            };
            let reward = self.reward(r.level, prev, r.rebuffer_s);
            s.qoe_all += reward;
            if i < skip {
                continue;
            }
            s.qoe += reward;
            s.chunks_scored += 1;
            s.utility_sum += self.utility(r.level);
            s.rebuffer_s += r.rebuffer_s;
            s.smoothness_penalty += self.smooth_penalty * self.switch_cost(prev, r.level);
            if prev != r.level {
                s.switches += 1;
            }
            bitrate_sum += r.bitrate_kbps;
        }
        s.rebuffer_penalty = self.rebuffer_penalty * s.rebuffer_s;
        if s.chunks_scored > 0 {
            s.bitrate_mean_kbps = bitrate_sum / s.chunks_scored as f64;
        }
        s
    }
}

/// The score of one session and its components, over the scored chunks.
///
/// Identity: `qoe == utility_sum - rebuffer_penalty - smoothness_penalty` (up to rounding).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct SessionScore {
    /// Sum of per-chunk rewards over the scored chunks.
    pub qoe: f64,
    /// Sum of per-chunk rewards over all chunks, startup included.
    pub qoe_all: f64,
    /// Number of chunks scored.
    pub chunks_scored: usize,
    /// Sum of utilities `q(R_n)`.
    pub utility_sum: f64,
    /// `mu * rebuffer_s`.
    pub rebuffer_penalty: f64,
    /// `lambda * sum |q(R_n) - q(R_{n-1})|`.
    pub smoothness_penalty: f64,
    /// Mean nominal bitrate, kbit/s.
    pub bitrate_mean_kbps: f64,
    /// Total stall, seconds.
    pub rebuffer_s: f64,
    /// Stall before the first chunk arrived (chunk 0), seconds.
    pub startup_s: f64,
    /// Number of level changes.
    pub switches: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::Ladder;
    use proptest::prelude::*;

    fn video() -> Video {
        Video::new("v", 4.0, Ladder::pensieve(), vec![vec![1000; 4]; 6], vec![]).unwrap()
    }

    fn rec(level: usize, rebuffer_s: f64) -> ChunkRecord {
        ChunkRecord {
            index: 0,
            level,
            bitrate_kbps: Ladder::pensieve().kbps(level),
            size_bytes: 1,
            delay_ms: 1.0,
            sleep_ms: 0.0,
            rebuffer_s,
            buffer_s: 0.0,
            request_s: 0.0,
            finish_s: 0.0,
        }
    }

    #[test]
    fn lin_matches_hand_computation() {
        let q = QoeModel::lin().compile(&video()).unwrap();
        let recs = [rec(1, 2.0), rec(3, 0.5), rec(3, 0.0)];
        let s = q.score(&recs, 1);
        // chunk1: 1.85 - 4.3*0.5 - 1.1 ; chunk2: 1.85
        assert!((s.qoe - (1.85 - 2.15 - 1.1 + 1.85)).abs() < 1e-12);
        assert_eq!(s.switches, 1);
        assert_eq!(s.startup_s, 2.0);
        assert!((s.bitrate_mean_kbps - 1850.0).abs() < 1e-12);
    }

    #[test]
    fn hd_on_wrong_ladder_is_an_error() {
        let v = Video::new(
            "v",
            4.0,
            Ladder::from_kbps(&[100.0, 200.0]),
            vec![vec![1; 2]; 2],
            vec![],
        )
        .unwrap();
        let e = QoeModel::hd().compile(&v).unwrap_err();
        assert!(e.to_string().contains("2 levels"), "{e}");
        assert!(QoeModel::from_name("nope").is_err());
    }

    proptest! {
        #[test]
        fn qoe_equals_sum_of_components(
            levels in proptest::collection::vec(0usize..6, 1..60),
            stalls in proptest::collection::vec(0.0f64..5.0, 60),
            model in 0usize..3,
        ) {
            let m = [QoeModel::lin(), QoeModel::log(), QoeModel::hd()][model].clone();
            let q = m.compile(&video()).unwrap();
            let recs: Vec<_> = levels.iter().zip(&stalls).map(|(&l, &s)| rec(l, s)).collect();
            let s = q.score(&recs, 1);
            let rhs = s.utility_sum - s.rebuffer_penalty - s.smoothness_penalty;
            prop_assert!((s.qoe - rhs).abs() < 1e-9 * (1.0 + s.qoe.abs()), "{} vs {}", s.qoe, rhs);
        }
    }
}
