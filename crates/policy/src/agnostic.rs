//! The ladder-agnostic policy (feature layout version 2, or 3 with rule hints): one network scores
//! every level of any ladder from that level's own inputs plus the shared session context, with the
//! same weights for every level, and the choice is a softmax (greedy: argmax) over however many
//! levels the video has.
//!
//! This follows the recipe the issue cites for policies that generalise across ladders (Genet,
//! SIGCOMM'22, and the "per-action scoring" of ladder-independent ABR): the state and action
//! representation never depends on the number of levels, and absolute scales (log Mbit/s, seconds)
//! sit beside relative ones (over the top bitrate, over the chunk duration), so a 30 Mbit/s link
//! or a 35 Mbit/s ladder is not out of range.
//!
//! # Layout
//!
//! For every level `l` of the video the network sees one row of [`AgnosticSpec::row_len`] =
//! `C + P` values: the context (`C` = [`AgnosticSpec::context_len`], identical in every row)
//! followed by the level's own `P` = [`PER_LEVEL`] values. With `H` chunks of history, oldest
//! first, right-aligned (missing entries are 0 and their mask is 0):
//!
//! | offset | count | context feature |
//! |---|---|---|
//! | 0 | `H` | ln(measured throughput, Mbit/s), clamped to `[-7, 7]` |
//! | `H` | `H` | ln(throughput / top bitrate), clamped to `[-5, 5]` |
//! | `2H` | `H` | ln(1 + download time, s) |
//! | `3H` | `H` | download time / chunk duration, clamped to `[0, 10]` |
//! | `4H` | `H` | 1 where the chunk exists, 0 where the session has fewer downloads |
//! | `5H` | 1 | buffer / `buffer_scale_s`, clamped to `[0, 1.5]` |
//! | `5H+1` | 1 | buffer in chunk durations / 10, clamped to `[0, 6]` |
//! | `5H+2` | 1 | chunks left (including the one chosen) / chunks in the session |
//! | `5H+3` | 1 | ln(1 + chunks left) / 4 |
//! | `5H+4` | 1 | chunk duration / 10 s |
//! | `5H+5` | 1 | ln(top bitrate, Mbit/s) |
//! | `5H+6` | 1 | levels / 16 |
//! | `5H+7` | 1 | ln(predicted throughput, Mbit/s) (0 before the first download) |
//! | `5H+8` | 1 | ln(predicted throughput / top bitrate), clamped to `[-5, 5]` (0 idem) |
//!
//! | offset in the level's part | level feature |
//! |---|---|
//! | 0 | next chunk's size / predicted throughput / chunk duration, clamped to `[0, 10]` |
//! | 1 | that download time / buffer (buffer at least 0.5 s), clamped to `[0, 10]` |
//! | 2 | ln(bitrate / last level's bitrate) |
//! | 3 | signed switch distance in levels / 4, clamped to `[-3, 3]` |
//! | 4 | ln(bitrate, Mbit/s) |
//! | 5 | ln(bitrate / top bitrate) |
//! | 6 | ln(bitrate / predicted throughput), clamped to `[-5, 5]` |
//! | 7 | next chunk's size / (bitrate x chunk duration), clamped to `[0, 10]` |
//! | 8 | the same download time at the lowest of the last `predict_chunks` throughputs, clamped to `[0, 10]` |
//! | 9 | 1 for the last level, 0 otherwise |
//!
//! **Layout 3** ([`AGNOSTIC_HINTS_VERSION`], opt-in: `train --agnostic --agnostic-rule-hints`) is
//! layout 2 plus [`HINTS_PER_LEVEL`] values at the end of every level's part: what two classic rules
//! would fetch now, as seen from this level (residual-policy style: the network learns when to
//! follow a strong rule and when to leave it):
//!
//! | offset in the level's part | level feature (layout 3 only) |
//! |---|---|
//! | 10 | 1 for RobustMPC's choice (`robustmpc`, as `bench` plays it), 0 otherwise |
//! | 11 | signed distance to RobustMPC's choice in levels / 4, clamped to `[-3, 3]` |
//! | 12 | 1 for BBA-0's choice (`bba0`), 0 otherwise |
//! | 13 | signed distance to BBA-0's choice in levels / 4, clamped to `[-3, 3]` |
//!
//! Both rules are recomputed from the observation alone, so the features stay a pure function of
//! it: BBA-0 has no state, and RobustMPC's state (its forecast errors) is a function of the last
//! [`MPC_HINT_RECORDS`] downloads, which are replayed into a per-thread controller (the same
//! decision as a controller that saw the whole session; a test checks it).
//!
//! The predicted throughput is the harmonic mean of the last `predict_chunks` measurements
//! (RobustMPC's predictor without the error discount); before the first download it is taken to be
//! the lowest level's bitrate, so the first estimate is conservative.
//!
//! **Key design decision:** the network is an ordinary [`Mlp`] with one output, applied to the `L`
//! rows as a batch of `L` (one sgemm per layer), so training needs nothing new but a softmax over
//! groups of rows ([`neuralstream_nn::loss::grouped_cross_entropy`]), and the file format is the
//! fixed-ladder one with `"version": 2` in its feature spec.

use crate::learned::{provenance_metadata, PolicyMeta, ACTOR};
use neuralstream_abr::{bba0::Bba0, mpc::Mpc};
use neuralstream_core::{Abr, Decision, Observation};
use neuralstream_nn::{save_safetensors, Mlp, Scratch};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::path::Path;
use thiserror::Error;

/// Layout version of the ladder-agnostic features (the fixed-ladder layout is 1).
pub const AGNOSTIC_VERSION: u32 = 2;
/// Layout version of the ladder-agnostic features with rule hints (layout 2 + [`HINTS_PER_LEVEL`]).
pub const AGNOSTIC_HINTS_VERSION: u32 = 3;
/// Values per level in a row of layout 2 (the level's own part).
pub const PER_LEVEL: usize = 10;
/// Rule-hint values per level that layout 3 appends to the level's part.
pub const HINTS_PER_LEVEL: usize = 4;
/// Downloads RobustMPC's hint replays: its forecast (harmonic mean of 5) and its error window (5
/// errors, each against the estimate one download earlier) depend on no older download.
pub const MPC_HINT_RECORDS: usize = 11;
/// Hidden layer widths of the default ladder-agnostic network (what `train` builds and the
/// inference benchmark measures).
pub const AGNOSTIC_HIDDEN: [usize; 2] = [64, 64];
/// Fewest levels a ladder-agnostic policy chooses from.
pub const MIN_LEVELS: usize = 2;
/// Most levels a ladder-agnostic policy chooses from.
pub const MAX_LEVELS: usize = 16;

thread_local! {
    /// The RobustMPC controller that hints replay into (its search scratch is reused).
    static MPC_HINT: RefCell<Mpc> = RefCell::new(Mpc::robust());
}

/// Why an observation could not be featurised. Names the offending input.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum FeatureError {
    /// The video's ladder has a number of levels outside `MIN_LEVELS..=MAX_LEVELS`.
    #[error("video '{video}' has {levels} levels; the ladder-agnostic policy chooses among {MIN_LEVELS} to {MAX_LEVELS}")]
    Levels {
        /// The video's name.
        video: String,
        /// Its number of levels.
        levels: usize,
    },
    /// An input is NaN or infinite.
    #[error("feature input {input} is {value}; every input must be a finite number")]
    NotFinite {
        /// Which input (`buffer_s`, `history[3].delay_ms`, ...).
        input: String,
        /// Its value.
        value: f64,
    },
}

/// Everything needed to rebuild the ladder-agnostic featurisation; stored as JSON in the policy
/// file's metadata (the same key as the fixed-ladder [`crate::FeatureSpec`], told apart by
/// `version`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgnosticSpec {
    /// Layout version ([`AGNOSTIC_VERSION`]).
    pub version: u32,
    /// Past chunks described in the context (default 8).
    pub history_len: usize,
    /// Buffer that maps to context value 1, seconds (default 60).
    pub buffer_scale_s: f64,
    /// Chunks in the throughput prediction (harmonic mean; default 5).
    pub predict_chunks: usize,
}

impl Default for AgnosticSpec {
    /// 8 chunks of history, buffer scaled by 60 s, prediction over the last 5 chunks.
    fn default() -> Self {
        AgnosticSpec {
            version: AGNOSTIC_VERSION,
            history_len: 8,
            buffer_scale_s: 60.0,
            predict_chunks: 5,
        }
    }
}

impl AgnosticSpec {
    /// Longest history a spec may ask for, chunks.
    pub const MAX_HISTORY_LEN: usize = 64;

    /// Length of the shared context.
    pub fn context_len(&self) -> usize {
        5 * self.history_len + 9
    }

    /// Layout 3: layout 2 with rule hints in every level's part.
    pub fn with_rule_hints() -> Self {
        AgnosticSpec {
            version: AGNOSTIC_HINTS_VERSION,
            ..Self::default()
        }
    }

    /// Whether the level parts carry rule hints (layout 3).
    pub fn has_rule_hints(&self) -> bool {
        self.version == AGNOSTIC_HINTS_VERSION
    }

    /// Length of a level's own part of a row.
    pub fn per_level_len(&self) -> usize {
        if self.has_rule_hints() {
            PER_LEVEL + HINTS_PER_LEVEL
        } else {
            PER_LEVEL
        }
    }

    /// Length of one row (context + the level's part): the network's input width.
    pub fn row_len(&self) -> usize {
        self.context_len() + self.per_level_len()
    }

    /// Checks a spec read from a file; returns what is wrong for the caller's error.
    pub fn validate(&self) -> Result<(), String> {
        if self.version != AGNOSTIC_VERSION && self.version != AGNOSTIC_HINTS_VERSION {
            return Err(format!(
                "ladder-agnostic layout version must be {AGNOSTIC_VERSION} or {AGNOSTIC_HINTS_VERSION}, got {}",
                self.version
            ));
        }
        if !(1..=Self::MAX_HISTORY_LEN).contains(&self.history_len) {
            return Err(format!(
                "history_len must be 1 to {}, got {}",
                Self::MAX_HISTORY_LEN,
                self.history_len
            ));
        }
        if !(1..=self.history_len).contains(&self.predict_chunks) {
            return Err(format!(
                "predict_chunks must be 1 to history_len ({}), got {}",
                self.history_len, self.predict_chunks
            ));
        }
        if !(self.buffer_scale_s.is_finite() && self.buffer_scale_s > 0.0) {
            return Err(format!(
                "buffer_scale_s must be a finite number > 0, got {}",
                self.buffer_scale_s
            ));
        }
        Ok(())
    }

    /// Checks that a video's ladder has a number of levels this layout chooses among.
    pub fn check_levels(video_name: &str, levels: usize) -> Result<(), FeatureError> {
        if (MIN_LEVELS..=MAX_LEVELS).contains(&levels) {
            Ok(())
        } else {
            Err(FeatureError::Levels {
                video: video_name.to_owned(),
                levels,
            })
        }
    }

    /// Writes one row per level of `obs.video` into `rows` (resized to `levels x row_len`);
    /// returns the number of levels. Allocates only when `rows` must grow.
    pub fn write(&self, obs: &Observation<'_>, rows: &mut Vec<f32>) -> Result<usize, FeatureError> {
        let video = obs.video;
        let ladder = &video.ladder;
        let levels = ladder.len();
        Self::check_levels(&video.name, levels)?;
        let h = self.history_len;
        let recent = &obs.history[obs.history.len().saturating_sub(h)..];
        finite("buffer_s", obs.buffer_s)?;
        let first = obs.history.len() - recent.len();
        for (i, rec) in recent.iter().enumerate() {
            finite_at(first + i, rec.delay_ms)?;
        }
        let row_len = self.row_len();
        let c = self.context_len();
        rows.clear();
        rows.resize(levels * row_len, 0.0);
        let ctx = &mut rows[..c];
        let top_mbps = ladder.kbps(ladder.top()) / 1000.0;
        let chunk_s = video.chunk_duration_s;
        let pad = h - recent.len();
        // Throughput of a record in Mbit/s; a zero-time download counts as very fast.
        let mbps = |delay_ms: f64, bytes: u64| {
            if delay_ms > 0.0 {
                bytes as f64 * 8.0 / delay_ms / 1000.0
            } else {
                1e3
            }
        };
        for (i, rec) in recent.iter().enumerate() {
            let thr = mbps(rec.delay_ms, rec.size_bytes).max(1e-6);
            let delay_s = rec.delay_ms.max(0.0) / 1000.0;
            ctx[pad + i] = thr.ln().clamp(-7.0, 7.0) as f32;
            ctx[h + pad + i] = (thr / top_mbps).ln().clamp(-5.0, 5.0) as f32;
            ctx[2 * h + pad + i] = delay_s.ln_1p() as f32;
            ctx[3 * h + pad + i] = (delay_s / chunk_s).clamp(0.0, 10.0) as f32;
            ctx[4 * h + pad + i] = 1.0;
        }
        let buffer_s = obs.buffer_s.max(0.0);
        let chunks_left = obs.total_chunks.saturating_sub(obs.next_chunk);
        let predict = &recent[recent.len().saturating_sub(self.predict_chunks)..];
        let (pred_mbps, low_mbps) = if predict.is_empty() {
            let bottom = ladder.kbps(0) / 1000.0;
            (bottom, bottom)
        } else {
            let inv: f64 = predict
                .iter()
                .map(|r| 1.0 / mbps(r.delay_ms, r.size_bytes).max(1e-6))
                .sum();
            let low = predict
                .iter()
                .map(|r| mbps(r.delay_ms, r.size_bytes).max(1e-6))
                .fold(f64::INFINITY, f64::min);
            (predict.len() as f64 / inv, low)
        };
        let b = 5 * h;
        ctx[b] = (buffer_s / self.buffer_scale_s).clamp(0.0, 1.5) as f32;
        ctx[b + 1] = (buffer_s / chunk_s / 10.0).clamp(0.0, 6.0) as f32;
        ctx[b + 2] = if obs.total_chunks == 0 {
            0.0
        } else {
            (chunks_left as f64 / obs.total_chunks as f64) as f32
        };
        ctx[b + 3] = ((chunks_left as f64).ln_1p() / 4.0) as f32;
        ctx[b + 4] = (chunk_s / 10.0) as f32;
        ctx[b + 5] = top_mbps.ln() as f32;
        ctx[b + 6] = levels as f32 / MAX_LEVELS as f32;
        if !predict.is_empty() {
            ctx[b + 7] = pred_mbps.ln().clamp(-7.0, 7.0) as f32;
            ctx[b + 8] = (pred_mbps / top_mbps).ln().clamp(-5.0, 5.0) as f32;
        }
        let last = obs.last_level.min(levels - 1);
        let last_mbps = ladder.kbps(last) / 1000.0;
        let next = obs
            .next_chunk
            .min(video.chunk_bytes[0].len().saturating_sub(1));
        for (level, row) in rows.chunks_exact_mut(row_len).enumerate() {
            let rate_mbps = ladder.kbps(level) / 1000.0;
            let megabits = video.chunk_bytes[level][next] as f64 * 8.0 / 1e6;
            let dl_s = megabits / pred_mbps;
            let row = &mut row[c..];
            row[0] = (dl_s / chunk_s).clamp(0.0, 10.0) as f32;
            row[1] = (dl_s / buffer_s.max(0.5)).clamp(0.0, 10.0) as f32;
            row[2] = (rate_mbps / last_mbps).ln() as f32;
            row[3] = ((level as f64 - last as f64) / 4.0).clamp(-3.0, 3.0) as f32;
            row[4] = rate_mbps.ln() as f32;
            row[5] = (rate_mbps / top_mbps).ln() as f32;
            row[6] = (rate_mbps / pred_mbps).ln().clamp(-5.0, 5.0) as f32;
            row[7] = (megabits / (rate_mbps * chunk_s)).clamp(0.0, 10.0) as f32;
            row[8] = (megabits / low_mbps / chunk_s).clamp(0.0, 10.0) as f32;
            row[9] = if level == last { 1.0 } else { 0.0 };
        }
        if self.has_rule_hints() {
            let (mpc, bba) = rule_hints(obs);
            for (level, row) in rows.chunks_exact_mut(row_len).enumerate() {
                let row = &mut row[c + PER_LEVEL..];
                let dist = |choice: usize| ((level as f64 - choice as f64) / 4.0).clamp(-3.0, 3.0);
                row[0] = if level == mpc { 1.0 } else { 0.0 };
                row[1] = dist(mpc) as f32;
                row[2] = if level == bba { 1.0 } else { 0.0 };
                row[3] = dist(bba) as f32;
            }
        }
        // Every row shares the first row's context.
        let (first_row, others) = rows.split_at_mut(row_len);
        for row in others.chunks_exact_mut(row_len) {
            row[..c].copy_from_slice(&first_row[..c]);
        }
        Ok(levels)
    }
}

/// The levels RobustMPC and BBA-0 would fetch now (layout 3's hints), from the observation alone.
pub fn rule_hints(obs: &Observation<'_>) -> (usize, usize) {
    let recent = &obs.history[obs.history.len().saturating_sub(MPC_HINT_RECORDS)..];
    let replay = Observation {
        history: recent,
        ..*obs
    };
    let mpc = MPC_HINT.with(|m| {
        let mut m = m.borrow_mut();
        m.reset();
        m.choose(&replay).level
    });
    let bba = Bba0::default().choose(obs).level;
    let top = obs.video.num_levels().saturating_sub(1);
    (mpc.min(top), bba.min(top))
}

fn finite(input: &str, value: f64) -> Result<(), FeatureError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(FeatureError::NotFinite {
            input: input.to_owned(),
            value,
        })
    }
}

fn finite_at(index: usize, value: f64) -> Result<(), FeatureError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(FeatureError::NotFinite {
            input: format!("history[{index}].delay_ms"),
            value,
        })
    }
}

/// A ladder-agnostic learned policy: an [`Mlp`] with one output scores every level's row of
/// [`AgnosticSpec`] features, and the policy picks the best score (greedy, deterministic).
///
/// Scoring runs the rows of all levels as one batch through [`Mlp::forward`] with buffers owned by
/// the policy, so a decision allocates nothing after the first.
#[derive(Debug, Clone)]
pub struct AgnosticAbr {
    actor: Mlp,
    spec: AgnosticSpec,
    meta: PolicyMeta,
    scratch: Scratch,
    rows: Vec<f32>,
}

impl AgnosticAbr {
    /// Wraps `actor` (inputs `spec.row_len()`, one output).
    ///
    /// # Panics
    /// If the actor's shape does not fit the spec.
    pub fn new(actor: Mlp, spec: AgnosticSpec, meta: PolicyMeta) -> Self {
        assert_eq!(actor.input_dim(), spec.row_len(), "actor input width");
        assert_eq!(
            actor.output_dim(),
            1,
            "a ladder-agnostic actor has one output"
        );
        AgnosticAbr {
            actor,
            spec,
            meta,
            scratch: Scratch::new(),
            rows: Vec::with_capacity(MAX_LEVELS * 64),
        }
    }

    /// The scoring network.
    pub fn actor(&self) -> &Mlp {
        &self.actor
    }

    /// The featurisation.
    pub fn spec(&self) -> &AgnosticSpec {
        &self.spec
    }

    /// Provenance metadata.
    pub fn meta(&self) -> &PolicyMeta {
        &self.meta
    }

    /// Mutable provenance metadata.
    pub fn meta_mut(&mut self) -> &mut PolicyMeta {
        &mut self.meta
    }

    /// One score (logit) per level of `obs.video`; they live in the policy's scratch space.
    pub fn scores(&mut self, obs: &Observation<'_>) -> Result<&[f32], FeatureError> {
        let levels = self.spec.write(obs, &mut self.rows)?;
        Ok(self.actor.forward(&self.rows, levels, &mut self.scratch))
    }

    /// Writes a policy file: the network as `"actor"` plus the metadata every policy carries, with
    /// this layout's spec (version 2 or 3) under the feature-spec key.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), crate::PolicyError> {
        let mut md = provenance_metadata(&self.meta);
        md.insert(
            crate::META_FEATURES.to_owned(),
            serde_json::to_string(&self.spec).expect("AgnosticSpec serialises"),
        );
        md.insert(crate::META_NUM_LEVELS.to_owned(), "any".to_owned());
        save_safetensors(path, &[(ACTOR, &self.actor)], None, &md)?;
        Ok(())
    }
}

impl Abr for AgnosticAbr {
    fn name(&self) -> String {
        "learned".into()
    }

    /// The best-scoring level; the lowest level when the observation cannot be featurised (a
    /// ladder out of range or a non-finite input, which hosts check up front with
    /// [`AgnosticSpec::check_levels`] and their own input validation), never a panic.
    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        match self.scores(obs) {
            Ok(scores) => Decision::level(
                neuralstream_nn::argmax(scores).min(obs.video.num_levels().saturating_sub(1)),
            ),
            Err(_) => Decision::level(0),
        }
    }
}
