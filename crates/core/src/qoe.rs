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
//! **Quality-based models** (Puffer, Yan et al. NSDI 2020; Comyco, Huang et al. MM 2019) use the
//! same shape with `q` the *measured* quality of chunk `n` at the level it was fetched (the video's
//! per-chunk quality tables, written by `neuralstream package`), so `q` depends on the chunk and
//! not only on the level: `ssim` uses SSIM in dB (`-10 log10(1 - SSIM)`), mu 100, lambda 1
//! (Puffer's objective); `vmaf` uses VMAF (0..100) with Comyco's linear model, which weighs the
//! two directions of a quality change differently:
//! `r_n = 0.8469 q_n - 28.7959 rebuffer_n + 0.2979 [q_n - q_{n-1}]+ - 1.0610 [q_n - q_{n-1}]-`
//! (a step up earns a little, a step down costs more; Huang et al., MM 2019, fitted on the
//! Waterloo SQoE-III ratings); `psnr` uses PSNR in dB with the SSIM model's weights (Puffer defines no
//! PSNR objective). The smoothness term compares chunk `n`'s quality with chunk `n-1`'s as played.
//! Callers without a chunk index ([`CompiledQoe::reward`]) see the level's mean quality over the video.
//!
//! **QoE_lin's stall penalty is the ladder's top bitrate.** Pensieve sets mu to 4.3 per second because
//! its ladder tops out at 4.3 Mbit/s: one second of stall costs as much as one chunk-second at the
//! best quality. [`QoeModel::for_video`] keeps that rule on every ladder (4.3 on Pensieve's, 35 on a
//! ladder topping at 35 Mbit/s), so a stall never becomes cheap next to the bitrate term; a spec of
//! the form `lin:MU` (any model: `NAME:MU`) sets the penalty explicitly, and [`QoeModel::spec`] writes
//! the resolved choice back in that form for results files.
//!
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
    /// QoE_HD: `q` from a per-level utility table (Pensieve: `[1, 2, 3, 12, 15, 20]`), mu 8, smoothness 1.
    Hd {
        /// Penalty per second of stall.
        rebuffer_penalty: f64,
        /// Weight of the utility change.
        smooth_penalty: f64,
        /// Utility of each level; must match the ladder's length.
        utility: Vec<f64>,
    },
    /// Quality-based QoE: `q` is the measured quality of each chunk (see the module docs).
    Quality {
        /// Quality table of the video to use: `ssim` (scored in dB), `psnr_db` or `vmaf`.
        metric: String,
        /// Multiplier of the quality (Comyco's alpha; 1 for Puffer).
        quality_weight: f64,
        /// Penalty per second of stall.
        rebuffer_penalty: f64,
        /// Weight of the chunk-to-chunk quality change, per unit of the metric (not of the
        /// weighted utility); of a *drop* only when `smooth_penalty_up` is set.
        smooth_penalty: f64,
        /// Weight of a quality *rise*, when it differs from a drop's (Comyco: -0.2979, a bonus);
        /// `None` (the default, and what files written before it existed read as): the same as
        /// `smooth_penalty`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        smooth_penalty_up: Option<f64>,
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

    /// Puffer's objective on SSIM in dB: mu 100, lambda 1.
    pub fn ssim() -> Self {
        QoeModel::Quality {
            metric: "ssim".into(),
            quality_weight: 1.0,
            rebuffer_penalty: 100.0,
            smooth_penalty: 1.0,
            smooth_penalty_up: None,
        }
    }

    /// Comyco's linear QoE on VMAF: 0.8469 x VMAF - 28.7959 x stall s + 0.2979 x rise
    /// - 1.0610 x drop (of VMAF from the previous chunk).
    pub fn vmaf() -> Self {
        QoeModel::Quality {
            metric: "vmaf".into(),
            quality_weight: 0.8469,
            rebuffer_penalty: 28.7959,
            smooth_penalty: 1.0610,
            smooth_penalty_up: Some(-0.2979),
        }
    }

    /// The SSIM model's weights on PSNR in dB: mu 100, lambda 1.
    pub fn psnr() -> Self {
        QoeModel::Quality {
            metric: "psnr_db".into(),
            quality_weight: 1.0,
            rebuffer_penalty: 100.0,
            smooth_penalty: 1.0,
            smooth_penalty_up: None,
        }
    }

    /// Parses a model spec `NAME` or `NAME:MU`: `NAME` one of `lin`, `log`, `hd`, `ssim` (also
    /// `puffer`), `vmaf` (also `comyco`) or `psnr`, with the model's default constants; `:MU`
    /// replaces its stall penalty per second (a finite number >= 0). Without a video `lin` takes
    /// Pensieve's 4.3; [`QoeModel::for_video`] takes the video's top bitrate instead.
    pub fn from_name(spec: &str) -> Result<Self, CoreError> {
        let (name, mu) = split_spec(spec)?;
        let mut model = match name.to_ascii_lowercase().as_str() {
            "lin" | "qoe_lin" | "linear" => Self::lin(),
            "log" | "qoe_log" => Self::log(),
            "hd" | "qoe_hd" => Self::hd(),
            "ssim" | "puffer" | "ssim_db" => Self::ssim(),
            "vmaf" | "comyco" => Self::vmaf(),
            "psnr" | "psnr_db" => Self::psnr(),
            other => {
                return Err(CoreError::InvalidQoe(format!(
                    "unknown QoE model '{other}'; choose one of: lin, log, hd, ssim, vmaf, psnr \
                     (optionally with an explicit stall penalty, e.g. lin:35)"
                )))
            }
        };
        if let Some(mu) = mu {
            *model.rebuffer_penalty_mut() = mu;
        }
        Ok(model)
    }

    /// Parses a model spec as [`QoeModel::from_name`] does, for `video`: a `lin` spec with no
    /// explicit penalty takes the video's top bitrate in Mbit/s (the paper's rule: 4.3 for
    /// Pensieve's ladder, bit for bit the constant it used).
    pub fn for_video(spec: &str, video: &Video) -> Result<Self, CoreError> {
        let mut model = Self::from_name(spec)?;
        if matches!(model, QoeModel::Lin { .. }) && split_spec(spec)?.1.is_none() {
            *model.rebuffer_penalty_mut() = top_bitrate_mbps(video);
        }
        Ok(model)
    }

    /// QoE_lin for `video`: stall penalty = its top bitrate in Mbit/s, smoothness 1.
    pub fn lin_for(video: &Video) -> Self {
        QoeModel::Lin {
            rebuffer_penalty: top_bitrate_mbps(video),
            smooth_penalty: 1.0,
        }
    }

    /// The spec that [`QoeModel::from_name`] reads back into this model's stall penalty:
    /// `NAME:MU` (`lin:4.3`, `lin:35`, `ssim:100`). Results record it so that a number says which
    /// penalty made it.
    pub fn spec(&self) -> String {
        format!("{}:{}", self.name(), self.rebuffer_penalty())
    }

    /// The rebuffer penalty per second (mu), to change it; the one match over the models, which
    /// [`QoeModel::rebuffer_penalty`] reads through a copy (a model is a few numbers).
    fn rebuffer_penalty_mut(&mut self) -> &mut f64 {
        match self {
            QoeModel::Lin {
                rebuffer_penalty, ..
            }
            | QoeModel::Log {
                rebuffer_penalty, ..
            }
            | QoeModel::Hd {
                rebuffer_penalty, ..
            }
            | QoeModel::Quality {
                rebuffer_penalty, ..
            } => rebuffer_penalty,
        }
    }

    /// Short name (`lin`, `log`, `hd`, `ssim`, `vmaf`, `psnr`; `quality` for another metric).
    pub fn name(&self) -> &'static str {
        match self {
            QoeModel::Lin { .. } => "lin",
            QoeModel::Log { .. } => "log",
            QoeModel::Hd { .. } => "hd",
            QoeModel::Quality { metric, .. } => match metric.as_str() {
                "ssim" => "ssim",
                "vmaf" => "vmaf",
                "psnr_db" => "psnr",
                _ => "quality",
            },
        }
    }

    /// Rebuffer penalty per second (mu).
    pub fn rebuffer_penalty(&self) -> f64 {
        *self.clone().rebuffer_penalty_mut()
    }

    /// Compiles the model for one video: per-level utilities, ready for fast per-chunk rewards.
    pub fn compile(&self, video: &Video) -> Result<CompiledQoe, CoreError> {
        if let QoeModel::Quality {
            metric,
            quality_weight,
            rebuffer_penalty,
            smooth_penalty,
            smooth_penalty_up,
        } = self
        {
            let chunk_raw = quality_utilities(video, metric, *quality_weight)?;
            let per_metric = |w: f64| {
                if *quality_weight != 0.0 {
                    w / quality_weight
                } else {
                    w
                }
            };
            let raw = chunk_raw
                .iter()
                .map(|row| row.iter().sum::<f64>() / row.len().max(1) as f64)
                .collect();
            return Ok(CompiledQoe {
                raw,
                divisor: 1.0,
                rebuffer_penalty: *rebuffer_penalty,
                // The utilities are already x quality_weight; the change weights apply to the
                // metric itself (Comyco: 0.2979 per VMAF point, not per 0.8469 VMAF point).
                smooth_penalty: per_metric(*smooth_penalty),
                smooth_penalty_up: per_metric(smooth_penalty_up.unwrap_or(*smooth_penalty)),
                chunk_raw,
            });
        }
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
            QoeModel::Quality { .. } => {
                return Err(CoreError::InvalidQoe(
                    "internal: quality models are compiled above".into(),
                ))
            }
        };
        Ok(CompiledQoe {
            raw,
            divisor,
            rebuffer_penalty: mu,
            smooth_penalty: lambda,
            smooth_penalty_up: lambda,
            chunk_raw: Vec::new(),
        })
    }
}

/// The top bitrate of `video`'s ladder in Mbit/s (kbit/s / 1000, so Pensieve's 4300 gives exactly
/// the literal 4.3).
fn top_bitrate_mbps(video: &Video) -> f64 {
    video.ladder.kbps(video.ladder.top()) / 1000.0
}

/// Splits `NAME[:MU]`, checking `MU`.
fn split_spec(spec: &str) -> Result<(&str, Option<f64>), CoreError> {
    let Some((name, mu)) = spec.split_once(':') else {
        return Ok((spec.trim(), None));
    };
    let value: f64 = mu.trim().parse().map_err(|_| {
        CoreError::InvalidQoe(format!(
            "'{spec}': the stall penalty after ':' must be a number (e.g. lin:35), got '{mu}'"
        ))
    })?;
    if !value.is_finite() || value < 0.0 {
        return Err(CoreError::InvalidQoe(format!(
            "'{spec}': the stall penalty must be a finite number >= 0 per second, got {value}"
        )));
    }
    Ok((name.trim(), Some(value)))
}

/// SSIM above this counts as this (60 dB) when converted to dB.
const SSIM_MAX: f64 = 0.999_999;

/// Per-chunk utilities `[level][chunk]` of a quality model: the video's table for `metric`
/// (SSIM converted to dB), times `weight`.
fn quality_utilities(video: &Video, metric: &str, weight: f64) -> Result<Vec<Vec<f64>>, CoreError> {
    let table = video.quality(metric).ok_or_else(|| {
        let have: Vec<&str> = video.quality.iter().map(|q| q.metric.as_str()).collect();
        CoreError::InvalidQoe(format!(
            "the video '{}' has no per-chunk '{metric}' scores (it has: {}); package it with `neuralstream package` (VMAF needs an FFmpeg with libvmaf) or choose --qoe lin",
            video.name,
            if have.is_empty() { "none".to_string() } else { have.join(", ") }
        ))
    })?;
    let to_utility = |x: f64| {
        if metric == "ssim" {
            -10.0 * (1.0 - x.clamp(0.0, SSIM_MAX)).log10()
        } else {
            x
        }
    };
    Ok(table
        .scores
        .iter()
        .map(|row| row.iter().map(|&x| weight * to_utility(x)).collect())
        .collect())
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
    /// Weight of the utility change (of a drop, for quality models with `smooth_penalty_up`).
    pub smooth_penalty: f64,
    /// Weight of a utility rise (equal to `smooth_penalty` except for Comyco's VMAF model, where
    /// it is negative: a bonus). Bitrate-based models are symmetric.
    pub smooth_penalty_up: f64,
    /// Per-chunk utility `[level][chunk]` (before division) of quality-based models; empty for
    /// bitrate-based ones, whose utility depends on the level only.
    pub chunk_raw: Vec<Vec<f64>>,
}

impl CompiledQoe {
    /// Whether the utility depends on the chunk (quality-based models).
    pub fn is_per_chunk(&self) -> bool {
        !self.chunk_raw.is_empty()
    }

    /// Utility of `chunk` at `level` (the level's utility for bitrate-based models, or when the
    /// chunk is past the table).
    #[inline]
    pub fn utility_at(&self, level: usize, chunk: usize) -> f64 {
        match self.chunk_raw.get(level).and_then(|row| row.get(chunk)) {
            Some(&raw) => raw / self.divisor,
            None => self.utility(level),
        }
    }

    /// Reward of `chunk` fetched at `level` after chunk `prev_chunk` was played at `prev`. Equals
    /// [`CompiledQoe::reward`] for bitrate-based models.
    #[inline]
    pub fn reward_at(
        &self,
        chunk: usize,
        level: usize,
        prev_chunk: usize,
        prev: usize,
        rebuffer_s: f64,
    ) -> f64 {
        if !self.is_per_chunk() {
            return self.reward(level, prev, rebuffer_s);
        }
        let q = self.utility_at(level, chunk);
        q - self.rebuffer_penalty * rebuffer_s
            - self.change_penalty(q, self.utility_at(prev, prev_chunk))
    }

    /// Smoothness penalty of going from utility `q_prev` to `q` (weighted, by direction).
    #[inline]
    fn change_penalty(&self, q: f64, q_prev: f64) -> f64 {
        let d = q - q_prev;
        if d > 0.0 {
            self.smooth_penalty_up * d
        } else {
            self.smooth_penalty * -d
        }
    }

    /// Reward of record `i` of a session log.
    fn record_reward(&self, records: &[ChunkRecord], i: usize) -> f64 {
        let r = &records[i];
        let p = if i == 0 { r } else { &records[i - 1] };
        if self.is_per_chunk() {
            self.reward_at(r.index, r.level, p.index, p.level, r.rebuffer_s)
        } else {
            self.reward(r.level, p.level, r.rebuffer_s)
        }
    }
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
        if self.smooth_penalty_up != self.smooth_penalty {
            let q = self.utility(level);
            return q
                - self.rebuffer_penalty * rebuffer_s
                - self.change_penalty(q, self.utility(prev));
        }
        self.utility(level)
            - self.rebuffer_penalty * rebuffer_s
            - self.smooth_penalty * self.switch_cost(prev, level)
    }

    /// Per-chunk rewards of a session log (chunk 0's previous level is its own).
    pub fn rewards(&self, records: &[ChunkRecord]) -> Vec<f64> {
        (0..records.len())
            .map(|i| self.record_reward(records, i))
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
            let reward = self.record_reward(records, i);
            s.qoe_all += reward;
            if i < skip {
                continue;
            }
            s.qoe += reward;
            s.chunks_scored += 1;
            s.rebuffer_s += r.rebuffer_s;
            if self.is_per_chunk() {
                let q = self.utility_at(r.level, r.index);
                let p = if i == 0 { r } else { &records[i - 1] };
                s.utility_sum += q;
                s.smoothness_penalty += self.change_penalty(q, self.utility_at(p.level, p.index));
            } else {
                s.utility_sum += self.utility(r.level);
                s.smoothness_penalty += self.smooth_penalty * self.switch_cost(prev, r.level);
            }
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
    /// `lambda * sum |q(R_n) - q(R_{n-1})|` (by direction for Comyco's model, where it can be
    /// negative).
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

    /// The same video with per-chunk SSIM (rising with the level, varying over chunks).
    fn video_with_ssim() -> Video {
        let scores = (0..6)
            .map(|l| {
                (0..4)
                    .map(|c| 0.8 + 0.03 * l as f64 - 0.01 * c as f64)
                    .collect()
            })
            .collect();
        let mut v = video();
        v.quality = vec![crate::video::QualityTable {
            metric: "ssim".into(),
            scores,
        }];
        v.validate().unwrap();
        v
    }

    fn rec(level: usize, rebuffer_s: f64) -> ChunkRecord {
        ChunkRecord {
            level,
            bitrate_kbps: Ladder::pensieve().kbps(level),
            size_bytes: 1,
            delay_ms: 1.0,
            rebuffer_s,
            ..ChunkRecord::default()
        }
    }

    #[test]
    fn comyco_vmaf_rewards_a_rise_and_charges_a_drop_by_hand() {
        // VMAF 40 / 60 / 80 for levels 0 / 1 / 2 of every chunk.
        let mut v = video();
        v.quality = vec![crate::video::QualityTable {
            metric: "vmaf".into(),
            scores: (0..6)
                .map(|l| vec![(40.0 + 20.0 * l as f64).min(100.0); 4])
                .collect(),
        }];
        v.validate().unwrap();
        let q = QoeModel::vmaf().compile(&v).unwrap();
        let records: Vec<ChunkRecord> = [(0, 0), (1, 2), (2, 1)]
            .into_iter()
            .map(|(index, level)| ChunkRecord {
                index,
                ..rec(level, 0.0)
            })
            .collect();
        let r = q.rewards(&records);
        // chunk 1: 0.8469 x 80 + 0.2979 x 40 (a rise of 40 earns)
        assert!(
            (r[1] - (0.8469 * 80.0 + 0.2979 * 40.0)).abs() < 1e-9,
            "{r:?}"
        );
        // chunk 2: 0.8469 x 60 - 1.0610 x 20 (a drop of 20 costs)
        assert!(
            (r[2] - (0.8469 * 60.0 - 1.0610 * 20.0)).abs() < 1e-9,
            "{r:?}"
        );
        let s = q.score(&records, 1);
        assert!((s.smoothness_penalty - (-0.2979 * 40.0 + 1.0610 * 20.0)).abs() < 1e-9);
        assert!((s.qoe - (s.utility_sum - s.rebuffer_penalty - s.smoothness_penalty)).abs() < 1e-9);
        // Without a chunk index the level means give the same asymmetry.
        assert!((q.reward(2, 0, 0.0) - (0.8469 * 80.0 + 0.2979 * 40.0)).abs() < 1e-9);
        assert!((q.reward(0, 2, 1.0) - (0.8469 * 40.0 - 28.7959 - 1.0610 * 40.0)).abs() < 1e-9);
        // A model written before the field existed still reads, as a symmetric one.
        let old: QoeModel = serde_json::from_str(
            r#"{"kind":"quality","metric":"vmaf","quality_weight":1,"rebuffer_penalty":2,"smooth_penalty":3}"#,
        )
        .unwrap();
        assert!(matches!(
            old,
            QoeModel::Quality {
                smooth_penalty_up: None,
                ..
            }
        ));
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
        let e = QoeModel::ssim().compile(&v).unwrap_err().to_string();
        assert!(
            e.contains("no per-chunk 'ssim' scores (it has: none)"),
            "{e}"
        );
    }

    #[test]
    fn quality_qoe_uses_each_chunks_quality() {
        let q = QoeModel::from_name("puffer")
            .unwrap()
            .compile(&video_with_ssim())
            .unwrap();
        assert!(q.is_per_chunk());
        let db = |x: f64| -10.0 * (1.0 - x).log10();
        let mut recs = [rec(1, 2.0), rec(3, 0.5), rec(3, 0.0)];
        for (i, r) in recs.iter_mut().enumerate() {
            r.index = i;
        }
        let (a, b, c) = (db(0.83), db(0.89 - 0.01), db(0.89 - 0.02));
        let s = q.score(&recs, 1);
        let want = (b - 100.0 * 0.5 - (b - a).abs()) + (c - (c - b).abs());
        assert!((s.qoe - want).abs() < 1e-9, "{} vs {want}", s.qoe);
        assert!((s.utility_sum - (b + c)).abs() < 1e-9);
        // Same level, next chunk: the change of quality is penalised although the level is the same.
        assert!(q.reward_at(2, 3, 1, 3, 0.0) < q.utility_at(3, 2));
        // Without a chunk index, a level's utility is its mean over the video.
        let mean = (0..4).map(|c| db(0.89 - 0.01 * c as f64)).sum::<f64>() / 4.0;
        assert!((q.utility(3) - mean).abs() < 1e-9);
        assert_eq!(QoeModel::vmaf().name(), "vmaf");
        // Bitrate models are unchanged by reward_at.
        let lin = QoeModel::lin().compile(&video()).unwrap();
        assert_eq!(lin.reward_at(5, 3, 4, 1, 0.5), lin.reward(3, 1, 0.5));
    }

    #[test]
    fn lin_penalty_is_the_top_bitrate_unless_given() {
        // Pensieve's ladder: exactly the constant every recorded number used.
        let lin = QoeModel::for_video("lin", &video()).unwrap();
        assert_eq!(lin, QoeModel::lin());
        assert_eq!(lin.spec(), "lin:4.3");
        assert_eq!(QoeModel::lin_for(&video()), QoeModel::lin());
        // A ladder topping at 35 Mbit/s gets 35.
        let fast = Video::new(
            "fast",
            4.0,
            Ladder::from_kbps(&[1000.0, 2500.0, 5000.0, 10000.0, 20000.0, 35000.0]),
            vec![vec![1000; 4]; 6],
            vec![],
        )
        .unwrap();
        let q = QoeModel::for_video("lin", &fast).unwrap();
        assert_eq!(q.rebuffer_penalty(), 35.0);
        assert_eq!(q.spec(), "lin:35");
        // An explicit value wins, on any ladder and for any model.
        assert_eq!(
            QoeModel::for_video("lin:10", &fast)
                .unwrap()
                .rebuffer_penalty(),
            10.0
        );
        assert_eq!(
            QoeModel::for_video("LIN:0", &video())
                .unwrap()
                .rebuffer_penalty(),
            0.0
        );
        assert_eq!(
            QoeModel::for_video("hd:3.5", &video())
                .unwrap()
                .rebuffer_penalty(),
            3.5
        );
        // Other models keep their own constants on every ladder.
        assert_eq!(QoeModel::for_video("log", &fast).unwrap(), QoeModel::log());
        // A spec reads back into the same model.
        for m in [q, QoeModel::hd(), QoeModel::ssim(), QoeModel::vmaf()] {
            assert_eq!(QoeModel::from_name(&m.spec()).unwrap(), m, "{}", m.spec());
        }
        // Bad values name the spec and say how to fix it.
        for bad in ["lin:", "lin:x", "lin:-1", "lin:inf", "lin:NaN"] {
            let e = QoeModel::from_name(bad).unwrap_err().to_string();
            assert!(e.contains(bad) && e.contains("stall penalty"), "{bad}: {e}");
        }
        let e = QoeModel::from_name("nope:3").unwrap_err().to_string();
        assert!(e.contains("unknown QoE model 'nope'"), "{e}");
    }

    proptest! {
        #[test]
        fn qoe_equals_sum_of_components(
            levels in proptest::collection::vec(0usize..6, 1..60),
            stalls in proptest::collection::vec(0.0f64..5.0, 60),
            model in 0usize..4,
        ) {
            let m = [QoeModel::lin(), QoeModel::log(), QoeModel::hd(), QoeModel::ssim()][model].clone();
            let q = m.compile(&video_with_ssim()).unwrap();
            let recs: Vec<_> = levels
                .iter()
                .zip(&stalls)
                .enumerate()
                .map(|(i, (&l, &s))| ChunkRecord { index: i % 4, ..rec(l, s) })
                .collect();
            let s = q.score(&recs, 1);
            let rhs = s.utility_sum - s.rebuffer_penalty - s.smoothness_penalty;
            prop_assert!((s.qoe - rhs).abs() < 1e-9 * (1.0 + s.qoe.abs()), "{} vs {}", s.qoe, rhs);
        }
    }
}
