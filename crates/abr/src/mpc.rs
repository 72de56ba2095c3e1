//! Model-predictive control (MPC) for bitrate adaptation, after Yin, Jindal, Sekar and Sinopoli,
//! "A Control-Theoretic Approach for Dynamic Adaptive Video Streaming over HTTP", SIGCOMM 2015
//! (FastMPC and RobustMPC), plus exact ports of Pensieve's `test/mpc.py` (Mao et al., SIGCOMM 2017).
//!
//! After every download the controller
//!
//! 1. measures the chunk's throughput `size_bytes / delay_ms / 1000` (MB/s, round trip included);
//! 2. forecasts the throughput as the harmonic mean of the last 5 measurements of this session;
//!    RobustMPC divides it by `1 + max error`, the largest relative forecast error of the last 5 steps
//!    (error of step `k` = `|H_{k-1} - x_k| / x_k`, `H` the undiscounted harmonic mean);
//! 3. enumerates every level sequence of the next `N` chunks (`N` = 5, fewer at the end of the video),
//!    simulates the buffer with download time = size / forecast (no round trip, no buffer cap), scores
//!    each sequence with QoE_lin (`Σ R/1000 − 4.3·Σ rebuffer − Σ |ΔR|/1000`, R in kbit/s, the first
//!    ΔR measured from the level just played), and plays the first level of the best sequence. Ties go
//!    to the **last** best sequence in lexicographic order (`>=`), as in Pensieve's code.
//!
//! Four configurations are provided (see [`MpcParams`]):
//!
//! * [`Mpc::fast`] (`fastmpc`): no error discount; otherwise as `robustmpc`. Pensieve's
//!   `mpc_server.py` keeps the full horizon until fewer than 4 chunks remain (reading size 0 past the
//!   end); here the horizon never reads past the end, so it is `min(5, chunks left)` and that cut
//!   changes nothing. With no discount the plan trusts a forecast that overshoots on falling links,
//!   which is why FastMPC stalls far more than RobustMPC on Pensieve's traces.
//! * [`Mpc::robust`] (`robustmpc`): error discount, history reset per session, horizon truncated at the
//!   end of the video, correct look-ahead (the first simulated chunk is the one being chosen).
//! * [`Mpc::pensieve`] (`robustmpc-pensieve`): `test/mpc.py` exactly: the error and estimate
//!   histories are module globals carried across videos, and the look-ahead reads chunk sizes one chunk
//!   too far ahead (`index = last_index + position + 1`, upstream issue #51). Reproduces the reference
//!   41.193 (test set, sorted order) trace by trace.
//! * [`Mpc::pensieve_reset`] (`robustmpc-pensieve-reset`): the same with the histories cleared at
//!   each video start (reference 39.591).
//!
//! ## Search
//!
//! The `L^N` sequences (7,776 for 6 levels and 5 chunks) are enumerated as a depth-first search over
//! the tree of prefixes (9,330 nodes), so each prefix's buffer, rebuffer, bitrate and smoothness sums
//! are computed once and shared by all sequences extending it. Every sequence still accumulates its
//! terms in the same order as the flat loop of `mpc.py`, so rewards are bit-identical, and leaves are
//! visited in lexicographic order with the same `>=` test.
//!
//! With [`MpcParams::branch_and_bound`] (the default) the search also skips subtrees and leaves whose
//! reward provably (with a wide floating-point margin) falls below a lower bound on the optimum (the
//! best constant-level sequence, or the best reward found so far). Such sequences can never be the
//! final choice, which is the *last* sequence attaining the maximum, so the choice is unchanged; the
//! unit tests check it against the flat enumeration.
//!
//! On ladders of 7 levels or more (12^5 = 248,832 sequences) the bounds also include a small dynamic
//! program over a grid of buffer levels (`BufferGrid`) that follows every future stall, which
//! leaves a few dozen prefixes of a 12-level tree to expand: on the RobustMPC decisions a layout 3
//! ladder-agnostic teacher replays (rule hints), the search takes 54 % less time and 12-level
//! decisions 61 % less, with every choice unchanged.

use neuralstream_core::{Abr, ChunkRecord, Decision, Observation, Video};
use std::collections::VecDeque;

/// Parameters of the MPC family.
#[derive(Debug, Clone, PartialEq)]
pub struct MpcParams {
    /// Look-ahead horizon in chunks (Pensieve `MPC_FUTURE_CHUNK_COUNT` = 5).
    pub horizon_chunks: usize,
    /// When fewer than this many chunks remain (counting the one being chosen), the horizon becomes the
    /// number remaining: 5 in `test/mpc.py`, 4 in FastMPC's `rl_server/mpc_server.py`. It only matters
    /// without `truncate_at_video_end` (the Pensieve variants), which otherwise bounds the horizon.
    pub horizon_cut_below_chunks: usize,
    /// Also truncate the horizon so that it never reads a chunk past the end of the session
    /// (the clean variants); Pensieve's code instead reads size 0 past the end of its size table.
    pub truncate_at_video_end: bool,
    /// Offset of the first simulated chunk from the chunk being chosen: 0 is correct, 1 reproduces
    /// Pensieve's `index = last_index + position + 1`.
    pub lookahead_offset_chunks: usize,
    /// RobustMPC: divide the forecast by `1 + max recent error`. FastMPC: use it undiscounted.
    pub robust_discount: bool,
    /// Keep the error and estimate histories across sessions (Pensieve's module globals).
    pub carry_over_history: bool,
    /// Number of most recent throughput samples of this session in the harmonic mean (5).
    pub throughput_window_chunks: usize,
    /// Number of most recent forecast errors whose maximum discounts the forecast (5).
    pub error_window_steps: usize,
    /// QoE_lin rebuffering penalty, per second of stall, in units of Mbit/s (4.3).
    pub rebuffer_penalty_per_s: f64,
    /// QoE_lin smoothness penalty per Mbit/s of bitrate change (1).
    pub smoothness_penalty: f64,
    /// Prune sequences that provably cannot be chosen. Changes only speed, never the choice;
    /// `false` enumerates every prefix (for verification and worst-case benchmarks).
    pub branch_and_bound: bool,
}

impl Default for MpcParams {
    /// RobustMPC as published: 5-chunk horizon, error discount, reset per session, correct look-ahead.
    fn default() -> Self {
        MpcParams {
            horizon_chunks: 5,
            horizon_cut_below_chunks: 5,
            truncate_at_video_end: true,
            lookahead_offset_chunks: 0,
            robust_discount: true,
            carry_over_history: false,
            throughput_window_chunks: 5,
            error_window_steps: 5,
            rebuffer_penalty_per_s: 4.3,
            smoothness_penalty: 1.0,
            branch_and_bound: true,
        }
    }
}

impl MpcParams {
    /// FastMPC: no error discount. `mpc_server.py`'s horizon cut below 4 chunks is recorded, but
    /// with the horizon truncated at the video's end it never binds.
    pub fn fast() -> Self {
        MpcParams {
            robust_discount: false,
            horizon_cut_below_chunks: 4,
            ..Self::default()
        }
    }

    /// RobustMPC, reset per session, correct look-ahead (the default).
    pub fn robust() -> Self {
        Self::default()
    }

    /// Pensieve's `test/mpc.py`: histories carried across videos, look-ahead one chunk too far.
    pub fn pensieve() -> Self {
        MpcParams {
            truncate_at_video_end: false,
            lookahead_offset_chunks: 1,
            carry_over_history: true,
            ..Self::default()
        }
    }

    /// Pensieve's `test/mpc.py` look-ahead quirk, histories cleared at each video start.
    pub fn pensieve_reset() -> Self {
        MpcParams {
            carry_over_history: false,
            ..Self::pensieve()
        }
    }
}

/// Pensieve's `max_reward` start value: a sequence scoring below it is never chosen.
const INITIAL_MAX_REWARD: f64 = -100_000_000.0;

/// Relative slack of the pruning bounds, far above any rounding error of a handful of operations.
const BOUND_SLACK: f64 = 1e-9;

/// An MPC controller (FastMPC, RobustMPC or one of Pensieve's variants).
#[derive(Debug, Clone)]
pub struct Mpc {
    /// Parameters.
    pub params: MpcParams,
    name: &'static str,
    /// Records of the current session already folded into the histories.
    processed_records: usize,
    /// Most recent forecast errors (relative), oldest first, at most `error_window_steps`.
    past_errors: VecDeque<f64>,
    /// Last undiscounted harmonic-mean estimate, MB/s.
    last_estimate_mb_per_s: Option<f64>,
    /// Forecast used by the next decision, MB/s (discounted for RobustMPC).
    forecast_mb_per_s: Option<f64>,
    /// Scratch: download time (s) of look-ahead position `p` at level `q`, `[p * levels + q]`.
    download_s: Vec<f64>,
    /// Scratch: smallest download time (s) at each look-ahead position.
    min_download_s: Vec<f64>,
    /// Scratch: bound tables of the search, `[depth * levels + last level]` (see [`Search`]).
    gain_free_kbps: Vec<f64>,
    /// Scratch: as `gain_free_kbps`, with every second of download time charged.
    gain_paid_kbps: Vec<f64>,
    /// Scratch: the ladder's bitrates, kbit/s.
    kbps: Vec<f64>,
    /// Scratch: one row of a bound recursion before the switching penalty, kbit/s.
    row_kbps: Vec<f64>,
    /// Scratch: the buffer-grid bound (see [`BufferGrid`]).
    grid: BufferGrid,
    /// Prefixes the last search expanded.
    searched_nodes: usize,
    /// Whether large ladders get the buffer-grid bound (always, but for tests that compare).
    grid_enabled: bool,
}

impl Mpc {
    /// An MPC controller with explicit parameters, reported under `name`.
    pub fn with_params(name: &'static str, params: MpcParams) -> Self {
        Mpc {
            params,
            name,
            processed_records: 0,
            past_errors: VecDeque::with_capacity(8),
            last_estimate_mb_per_s: None,
            forecast_mb_per_s: None,
            download_s: Vec::with_capacity(64),
            min_download_s: Vec::with_capacity(8),
            gain_free_kbps: Vec::with_capacity(64),
            gain_paid_kbps: Vec::with_capacity(64),
            kbps: Vec::with_capacity(16),
            row_kbps: Vec::with_capacity(16),
            grid: BufferGrid::default(),
            searched_nodes: 0,
            grid_enabled: true,
        }
    }

    /// FastMPC (`fastmpc`).
    pub fn fast() -> Self {
        Self::with_params("fastmpc", MpcParams::fast())
    }

    /// RobustMPC, reset per session, correct look-ahead (`robustmpc`).
    pub fn robust() -> Self {
        Self::with_params("robustmpc", MpcParams::robust())
    }

    /// Pensieve's `test/mpc.py` exactly: carry-over and look-ahead quirks (`robustmpc-pensieve`).
    pub fn pensieve() -> Self {
        Self::with_params("robustmpc-pensieve", MpcParams::pensieve())
    }

    /// Pensieve's look-ahead quirk, error history reset per video (`robustmpc-pensieve-reset`).
    pub fn pensieve_reset() -> Self {
        Self::with_params("robustmpc-pensieve-reset", MpcParams::pensieve_reset())
    }

    /// Throughput forecast the next decision will plan with, MB/s (None before any download).
    pub fn forecast_mb_per_s(&self) -> Option<f64> {
        self.forecast_mb_per_s
    }

    /// Folds every not yet processed record of `history` into the histories, one control step each
    /// (the bookkeeping half of `mpc.py`'s loop body, in the same float order).
    fn observe(&mut self, history: &[ChunkRecord]) {
        if history.len() < self.processed_records {
            // A new session started without reset(): start over on this one.
            self.processed_records = 0;
        }
        let window = self.params.throughput_window_chunks.max(1);
        while self.processed_records < history.len() {
            let i = self.processed_records;
            let thr = throughput_mb_per_s(&history[i]);
            let err = match self.last_estimate_mb_per_s {
                Some(est) => (est - thr).abs() / thr,
                None => 0.0,
            };
            if self.params.error_window_steps > 0 {
                if self.past_errors.len() == self.params.error_window_steps {
                    self.past_errors.pop_front();
                }
                self.past_errors.push_back(err);
            }
            let start = (i + 1).saturating_sub(window);
            let mut inverse_sum = 0.0;
            for r in &history[start..=i] {
                inverse_sum += 1.0 / throughput_mb_per_s(r);
            }
            let harmonic = 1.0 / (inverse_sum / (i + 1 - start) as f64);
            let max_error = self
                .past_errors
                .iter()
                .copied()
                .fold(f64::NEG_INFINITY, f64::max)
                .max(0.0);
            self.forecast_mb_per_s = Some(if self.params.robust_discount {
                harmonic / (1.0 + max_error)
            } else {
                harmonic
            });
            self.last_estimate_mb_per_s = Some(harmonic);
            self.processed_records += 1;
        }
    }

    /// Number of chunks simulated when choosing chunk `next_chunk` of a `total_chunks` session.
    fn horizon(&self, next_chunk: usize, total_chunks: usize) -> usize {
        let p = &self.params;
        let remaining = total_chunks.saturating_sub(next_chunk);
        let mut n = if remaining < p.horizon_cut_below_chunks {
            remaining
        } else {
            p.horizon_chunks
        };
        if p.truncate_at_video_end {
            n = n.min(total_chunks.saturating_sub(next_chunk + p.lookahead_offset_chunks));
        }
        n
    }

    /// Fills the scratch tables and runs the search; returns the first level of the best sequence.
    fn plan(
        &mut self,
        video: &Video,
        next_chunk: usize,
        horizon: usize,
        buffer_s: f64,
        last_level: usize,
        forecast_mb_per_s: f64,
    ) -> Option<usize> {
        let levels = video.num_levels();
        self.kbps.clear();
        self.kbps
            .extend(video.ladder.levels.iter().map(|l| l.bitrate_kbps));
        self.download_s.clear();
        for pos in 0..horizon {
            let chunk = next_chunk + self.params.lookahead_offset_chunks + pos;
            for q in 0..levels {
                let t =
                    (video.size_bytes_or_zero(q, chunk) as f64 / 1_000_000.0) / forecast_mb_per_s;
                self.download_s.push(t);
            }
        }
        self.search(horizon, video.chunk_duration_s, buffer_s, last_level)
    }

    /// Runs the search over the ladder in `kbps` and the download times in `download_s`
    /// (`horizon` positions); returns the first level of the best sequence.
    fn search(
        &mut self,
        horizon: usize,
        chunk_s: f64,
        buffer_s: f64,
        last_level: usize,
    ) -> Option<usize> {
        let levels = self.kbps.len();
        self.min_download_s.clear();
        for pos in 0..horizon {
            let row = &self.download_s[pos * levels..(pos + 1) * levels];
            self.min_download_s
                .push(row.iter().copied().fold(f64::INFINITY, f64::min));
        }
        let p = &self.params;
        let prune =
            p.branch_and_bound && p.rebuffer_penalty_per_s >= 0.0 && p.smoothness_penalty >= 0.0;
        let (rp, sp) = (p.rebuffer_penalty_per_s, p.smoothness_penalty);
        let mut paid_scale_kbps = 0.0;
        let ascending = self.kbps.windows(2).all(|w| w[0] < w[1]);
        if prune {
            // Backward recursions over (depth, last level), in kbit/s:
            //   free[d][l] = max_q (R_q - sp·|R_q - R_l| + free[d+1][q])
            //   paid[d][l] = max_q (R_q - sp·|R_q - R_l| - 1000·rp·t_d(q) + paid[d+1][q]).
            self.gain_free_kbps.clear();
            self.gain_paid_kbps.clear();
            self.gain_free_kbps.resize((horizon + 1) * levels, 0.0);
            self.gain_paid_kbps.resize((horizon + 1) * levels, 0.0);
            self.row_kbps.resize(levels, 0.0);
            for d in (0..horizon).rev() {
                let (now, next) = (d * levels, (d + 1) * levels);
                let mut scale = 0.0f64;
                for q in 0..levels {
                    let cost = 1000.0 * rp * self.download_s[now + q];
                    scale = scale.max(self.kbps[q] * (1.0 + sp) + cost);
                    self.row_kbps[q] = self.kbps[q] + self.gain_free_kbps[next + q];
                }
                let out = &mut self.gain_free_kbps[now..next];
                max_after_switch(&self.row_kbps, &self.kbps, sp, ascending, out);
                for q in 0..levels {
                    let cost = 1000.0 * rp * self.download_s[now + q];
                    self.row_kbps[q] = self.kbps[q] - cost + self.gain_paid_kbps[next + q];
                }
                let out = &mut self.gain_paid_kbps[now..next];
                max_after_switch(&self.row_kbps, &self.kbps, sp, ascending, out);
                paid_scale_kbps += scale;
            }
        }
        let grid = prune
            && self.grid_enabled
            && levels >= GRID_MIN_LEVELS
            && horizon >= 2
            && self.grid.fill(
                &self.download_s,
                &self.kbps,
                &self.gain_free_kbps,
                horizon,
                chunk_s,
                buffer_s,
                rp,
                sp,
                ascending,
            );
        let mut search = Search {
            download_s: &self.download_s,
            min_download_s: &self.min_download_s,
            gain_free_kbps: &self.gain_free_kbps,
            gain_paid_kbps: &self.gain_paid_kbps,
            grid: grid.then_some(&self.grid),
            paid_scale_kbps,
            kbps: &self.kbps,
            levels,
            horizon,
            chunk_s,
            rebuffer_penalty: p.rebuffer_penalty_per_s,
            smoothness_penalty: p.smoothness_penalty,
            prune,
            floor: f64::NEG_INFINITY,
            best_reward: INITIAL_MAX_REWARD,
            best_first: None,
            nodes: 0,
        };
        search.run(buffer_s, last_level.min(levels - 1));
        self.searched_nodes = search.nodes;
        search.best_first
    }
}

/// `out[l] = max_q (row[q] - sp·|R_q - R_l|)`: the best of `row` after paying for the switch from
/// level `l`. On an ascending ladder `|R_q - R_l|` is the sum of the steps between them, so two
/// sweeps (up, then down) give it in `O(levels)`, a one-dimensional distance transform (Felzenszwalb
/// and Huttenlocher); any other ladder takes the direct `O(levels²)` maximum. Used only for bounds:
/// the sweeps round differently from the direct sum, far inside [`BOUND_SLACK`].
fn max_after_switch(row: &[f64], kbps: &[f64], sp: f64, ascending: bool, out: &mut [f64]) {
    let levels = row.len();
    if !ascending {
        for (l, o) in out.iter_mut().enumerate() {
            *o = (0..levels)
                .map(|q| row[q] - sp * (kbps[q] - kbps[l]).abs())
                .fold(f64::NEG_INFINITY, f64::max);
        }
        return;
    }
    // `if` rather than `f64::max`: the scan is one dependency chain. (A NaN, from a NaN forecast
    // only, makes bounds NaN, and `cannot_win` never prunes on a NaN.)
    let mut run = row[0];
    out[0] = run;
    for l in 1..levels {
        let c = run - sp * (kbps[l] - kbps[l - 1]);
        run = if c > row[l] { c } else { row[l] };
        out[l] = run;
    }
    for l in (0..levels - 1).rev() {
        let c = run - sp * (kbps[l + 1] - kbps[l]);
        run = if c > out[l] { c } else { out[l] };
        out[l] = run;
    }
}

/// Ladders with at least this many levels get the buffer-grid bound: below it the tree is small
/// enough that filling the grid costs more than it prunes (measured on the hint replays of a
/// layout 3 teacher, `docs/benchmarks.md`).
const GRID_MIN_LEVELS: usize = 7;

/// Buffer values per depth of the buffer-grid bound.
const GRID_POINTS: usize = 12;

/// An upper bound on the best future gain of a prefix that sees every future stall: a dynamic
/// program over (depth, last level, buffer) with the buffer rounded *up* to a grid.
///
/// The best completion's gain `F(d, l, b)` (kbit/s: `Σ R − sp·Σ|ΔR| − 1000·rp·Σ stall` over the
/// chunks from depth `d`, after level `l`, with `b` seconds buffered) never decreases with `b`: more
/// buffer means no more stall at any step and no less buffer after it. So with grid points
/// `g_0 < … < g_{G−1}` per depth,
///
/// `U(d, l, g) = max_q [R_q − sp·|R_q − R_l| − 1000·rp·max(t_dq − g, 0) + U(d+1, q, ⌈max(g − t_dq, 0) + C⌉)]`
///
/// (`⌈·⌉` the next grid point of depth `d + 1`) bounds `F(d, l, b)` for every `b ≤ g`. The top
/// point of depth `d` is the sum of the slowest download of every remaining chunk: with that much
/// buffered no completion can stall, so above it the stall-free table `free[d][l]` is `F` itself.
/// After the first download a prefix always has at least `C` buffered, which is the bottom point.
/// Unlike the stall-free and charged-in-full bounds of [`Search`] it follows the buffer step by
/// step, so it prunes most of the tree on a 9-12 level ladder.
#[derive(Debug, Clone, Default)]
struct BufferGrid {
    /// Grid points, `[depth * GRID_POINTS + i]`, seconds (depth 0 unused).
    points_s: Vec<f64>,
    /// `U`, `[(depth * GRID_POINTS + i) * levels + last level]`, kbit/s.
    bound_kbps: Vec<f64>,
    /// Grid points per second above the bottom point, per depth.
    per_s: Vec<f64>,
    /// Scratch: one row of the recursion before the switching penalty, kbit/s.
    row_kbps: Vec<f64>,
    levels: usize,
}

impl BufferGrid {
    /// Fills `U` for depths `1..horizon` (see the type's doc) from the download times and the
    /// stall-free table. False (no grid) when a download time is not finite, or when no prefix
    /// can stall after the first download (the grid would repeat the stall-free table).
    #[allow(clippy::too_many_arguments)]
    fn fill(
        &mut self,
        download_s: &[f64],
        kbps: &[f64],
        gain_free_kbps: &[f64],
        horizon: usize,
        chunk_s: f64,
        root_buffer_s: f64,
        rp: f64,
        sp: f64,
        ascending: bool,
    ) -> bool {
        let levels = kbps.len();
        self.levels = levels;
        self.points_s.clear();
        self.points_s.resize(horizon * GRID_POINTS, 0.0);
        self.per_s.clear();
        self.per_s.resize(horizon, 0.0);
        self.bound_kbps.clear();
        self.bound_kbps.resize(horizon * GRID_POINTS * levels, 0.0);
        self.row_kbps.resize(levels, 0.0);
        let mut top_s = 0.0;
        for d in (1..horizon).rev() {
            let row = &download_s[d * levels..(d + 1) * levels];
            if !row.iter().all(|t| t.is_finite()) {
                return false;
            }
            top_s += row.iter().copied().fold(0.0, f64::max);
            let bottom_s = chunk_s.min(top_s);
            let span = top_s - bottom_s;
            let points = &mut self.points_s[d * GRID_POINTS..(d + 1) * GRID_POINTS];
            for (i, g) in points.iter_mut().enumerate() {
                *g = bottom_s + span * i as f64 / (GRID_POINTS - 1) as f64;
            }
            points[GRID_POINTS - 1] = top_s;
            self.per_s[d] = if span > 0.0 {
                (GRID_POINTS - 1) as f64 / span
            } else {
                0.0
            };
        }
        // Even the slowest first download leaves enough buffer that nothing after it can stall:
        // the grid would give the stall-free table everywhere.
        let slowest_first_s = download_s[..levels].iter().copied().fold(0.0, f64::max);
        if (root_buffer_s - slowest_first_s).max(0.0) + chunk_s >= top_s {
            return false;
        }
        for d in (1..horizon).rev() {
            for i in 0..GRID_POINTS {
                let g = self.points_s[d * GRID_POINTS + i];
                for q in 0..levels {
                    let t = download_s[d * levels + q];
                    let stall_s = (t - g).max(0.0);
                    let next_kbps = if d + 1 == horizon {
                        0.0
                    } else {
                        self.bound_kbps(gain_free_kbps, d + 1, q, (g - t).max(0.0) + chunk_s)
                    };
                    self.row_kbps[q] = kbps[q] - 1000.0 * rp * stall_s + next_kbps;
                }
                let at = (d * GRID_POINTS + i) * levels;
                let out = &mut self.bound_kbps[at..at + levels];
                max_after_switch(&self.row_kbps, kbps, sp, ascending, out);
            }
        }
        true
    }

    /// Upper bound on the best future gain (kbit/s) at `depth >= 1` after `last` with `buffer_s`.
    #[inline(always)]
    fn bound_kbps(&self, gain_free_kbps: &[f64], depth: usize, last: usize, buffer_s: f64) -> f64 {
        let points = &self.points_s[depth * GRID_POINTS..(depth + 1) * GRID_POINTS];
        if buffer_s >= points[GRID_POINTS - 1] {
            return gain_free_kbps[depth * self.levels + last];
        }
        // Evenly spaced points: truncation lands on or just below the first point >= buffer.
        let mut i = (((buffer_s - points[0]) * self.per_s[depth]) as usize).min(GRID_POINTS - 1);
        while points[i] < buffer_s {
            i += 1;
        }
        self.bound_kbps[(depth * GRID_POINTS + i) * self.levels + last]
    }
}

/// Pensieve's throughput sample: bytes / ms / 1000 = MB/s, round trip included.
#[inline]
fn throughput_mb_per_s(r: &ChunkRecord) -> f64 {
    r.size_bytes as f64 / r.delay_ms / 1000.0
}

/// One decision's search over level sequences.
///
/// Pruning bounds, for a prefix of `d` chunks ending at level `l` with buffer `b`, `r` rebuffer
/// seconds so far and `k = N - d` chunks to go (R in kbit/s, `t` download times, `C` chunk seconds):
///
/// * `free[d][l]` bounds the future `Σ R − sp·Σ|ΔR|` ignoring stalls, and future stalls are at least
///   the one the next download causes even at its fastest level;
/// * every simulated step keeps `buffer' = buffer − t + stall + C` and ends with at least `C`
///   buffered, so future stalls total at least `Σ t − b − (k − 1)·C`; charging them all gives
///   `paid[d][l] + 1000·rp·(b + (k − 1)·C)`.
///
/// * on ladders of [`GRID_MIN_LEVELS`] or more, [`BufferGrid`] bounds the future gain with every
///   stall counted, by buffer rounded up to a grid.
///
/// The smallest bound is used, with a relative slack far above rounding error.
struct Search<'a> {
    download_s: &'a [f64],
    min_download_s: &'a [f64],
    gain_free_kbps: &'a [f64],
    gain_paid_kbps: &'a [f64],
    /// The buffer-grid bound, when the tree is large enough to repay it.
    grid: Option<&'a BufferGrid>,
    /// Magnitude of the terms summed in the bound tables (for the slack), kbit/s.
    paid_scale_kbps: f64,
    kbps: &'a [f64],
    levels: usize,
    horizon: usize,
    chunk_s: f64,
    rebuffer_penalty: f64,
    smoothness_penalty: f64,
    prune: bool,
    /// Lower bound on the optimum reward (exact reward of some sequence).
    floor: f64,
    best_reward: f64,
    best_first: Option<usize>,
    /// Prefixes expanded so far (for tests of the bounds' strength).
    nodes: usize,
}

impl Search<'_> {
    /// QoE_lin of a whole sequence, in `mpc.py`'s operation order.
    #[inline(always)]
    fn reward(&self, bitrate_sum: f64, rebuffer_s: f64, smooth_sum: f64) -> f64 {
        bitrate_sum / 1000.0
            - self.rebuffer_penalty * rebuffer_s
            - self.smoothness_penalty * smooth_sum / 1000.0
    }

    /// One simulated download: (buffer, rebuffer) after fetching a chunk taking `t` seconds.
    #[inline(always)]
    fn step(&self, buffer_s: f64, rebuffer_s: f64, t: f64) -> (f64, f64) {
        if buffer_s < t {
            (self.chunk_s, rebuffer_s + (t - buffer_s))
        } else {
            ((buffer_s - t) + self.chunk_s, rebuffer_s)
        }
    }

    /// Minimum of the leaf rewards the search must still consider.
    #[inline(always)]
    fn threshold(&self) -> f64 {
        self.best_reward.max(self.floor)
    }

    fn run(&mut self, buffer_s: f64, last_level: usize) {
        if self.horizon == 0 {
            return;
        }
        if self.prune {
            // Lower bound: the best constant-level sequence (exact rewards of real sequences).
            let mut floor = f64::NEG_INFINITY;
            for q in 0..self.levels {
                let (mut buf, mut reb, mut br, mut sm) = (buffer_s, 0.0, 0.0, 0.0);
                let mut last = last_level;
                for pos in 0..self.horizon {
                    (buf, reb) = self.step(buf, reb, self.download_s[pos * self.levels + q]);
                    br += self.kbps[q];
                    sm += (self.kbps[q] - self.kbps[last]).abs();
                    last = q;
                }
                floor = floor.max(self.reward(br, reb, sm));
            }
            // ... and the sequences that greedily follow each bound table.
            for (table, charged) in [(self.gain_free_kbps, false), (self.gain_paid_kbps, true)] {
                let (mut buf, mut reb, mut br, mut sm) = (buffer_s, 0.0, 0.0, 0.0);
                let mut last = last_level;
                for pos in 0..self.horizon {
                    let row = pos * self.levels;
                    let mut best = (f64::NEG_INFINITY, 0);
                    for q in 0..self.levels {
                        let own = self.kbps[q]
                            - self.smoothness_penalty * (self.kbps[q] - self.kbps[last]).abs();
                        let cost = if charged {
                            1000.0 * self.rebuffer_penalty * self.download_s[row + q]
                        } else {
                            0.0
                        };
                        let v = own - cost + table[row + self.levels + q];
                        if v > best.0 {
                            best = (v, q);
                        }
                    }
                    let q = best.1;
                    (buf, reb) = self.step(buf, reb, self.download_s[row + q]);
                    br += self.kbps[q];
                    sm += (self.kbps[q] - self.kbps[last]).abs();
                    last = q;
                }
                floor = floor.max(self.reward(br, reb, sm));
            }
            self.floor = floor;
        }
        self.node(0, 0, last_level, buffer_s, 0.0, 0.0, 0.0);
    }

    /// Expands the children of a prefix of length `depth` whose state is given.
    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        depth: usize,
        first: usize,
        last: usize,
        buffer_s: f64,
        rebuffer_s: f64,
        bitrate_sum: f64,
        smooth_sum: f64,
    ) {
        let row = depth * self.levels;
        let last_kbps = self.kbps[last];
        self.nodes += 1;
        if depth + 1 == self.horizon {
            for q in 0..self.levels {
                let (_, reb) = self.step(buffer_s, rebuffer_s, self.download_s[row + q]);
                let br = bitrate_sum + self.kbps[q];
                let sm = smooth_sum + (self.kbps[q] - last_kbps).abs();
                let f = if depth == 0 { q } else { first };
                if self.prune {
                    // Cheap multiply-only estimate; the exact reward is within the slack of it.
                    let pen_reb = self.rebuffer_penalty * reb;
                    let pen_sm = self.smoothness_penalty * sm;
                    let approx = (br - pen_sm) * 0.001 - pen_reb;
                    let slack = BOUND_SLACK * (1.0 + (br + pen_sm) * 0.001 + pen_reb);
                    if approx + slack < self.threshold() {
                        continue;
                    }
                }
                let reward = self.reward(br, reb, sm);
                if reward >= self.best_reward {
                    self.best_reward = reward;
                    self.best_first = Some(f);
                }
            }
            return;
        }
        let remaining_after = self.horizon - depth - 1;
        for q in 0..self.levels {
            let (buf, reb) = self.step(buffer_s, rebuffer_s, self.download_s[row + q]);
            let br = bitrate_sum + self.kbps[q];
            let sm = smooth_sum + (self.kbps[q] - last_kbps).abs();
            let f = if depth == 0 { q } else { first };
            if self.prune && self.cannot_win(q, buf, reb, br, sm, depth + 1, remaining_after) {
                continue;
            }
            self.node(depth + 1, f, q, buf, reb, br, sm);
        }
    }

    /// True when every completion of this prefix (state after `depth` chunks, `remaining` to go)
    /// scores below the threshold, with slack for rounding.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn cannot_win(
        &self,
        last: usize,
        buffer_s: f64,
        rebuffer_s: f64,
        bitrate_sum: f64,
        smooth_sum: f64,
        depth: usize,
        remaining: usize,
    ) -> bool {
        let at = depth * self.levels + last;
        let base_kbps = bitrate_sum - self.smoothness_penalty * smooth_sum;
        let rp = self.rebuffer_penalty;
        // Stalls ignored beyond the next download's unavoidable one.
        let stall = (self.min_download_s[depth] - buffer_s).max(0.0);
        let free = (base_kbps + self.gain_free_kbps[at]) * 0.001 - rp * (rebuffer_s + stall);
        // Every second of future download time charged, minus what the buffer can absorb.
        let absorbable_s = buffer_s + (remaining - 1) as f64 * self.chunk_s;
        let paid =
            (base_kbps + self.gain_paid_kbps[at]) * 0.001 - rp * rebuffer_s + rp * absorbable_s;
        let mut upper = free.min(paid);
        if let Some(grid) = self.grid {
            let future_kbps = grid.bound_kbps(self.gain_free_kbps, depth, last, buffer_s);
            upper = upper.min((base_kbps + future_kbps) * 0.001 - rp * rebuffer_s);
        }
        let slack = BOUND_SLACK
            * (1.0
                + (bitrate_sum + self.smoothness_penalty * smooth_sum + self.paid_scale_kbps)
                    * 0.001
                + rp * (rebuffer_s + stall + absorbable_s));
        upper + slack < self.threshold()
    }
}

impl Abr for Mpc {
    fn name(&self) -> String {
        self.name.into()
    }

    fn reset(&mut self) {
        self.processed_records = 0;
        self.forecast_mb_per_s = None;
        if !self.params.carry_over_history {
            self.past_errors.clear();
            self.last_estimate_mb_per_s = None;
        }
    }

    fn choose(&mut self, obs: &Observation<'_>) -> Decision {
        self.observe(obs.history);
        let top = obs.video.num_levels() - 1;
        let Some(forecast) = self.forecast_mb_per_s else {
            // No download yet in this session: nothing to forecast from.
            return Decision::level(0);
        };
        let horizon = self.horizon(obs.next_chunk, obs.total_chunks);
        let level = if horizon == 0 {
            obs.last_level.min(top)
        } else {
            self.plan(
                obs.video,
                obs.next_chunk,
                horizon,
                obs.buffer_s,
                obs.last_level,
                forecast,
            )
            .unwrap_or(0)
        };
        Decision {
            level: level.min(top),
            // MB/s -> kbit/s.
            predicted_throughput_kbps: Some(forecast * 8000.0),
            buffer_target_s: None,
        }
    }

    fn session_finished(&mut self, obs: &Observation<'_>) {
        // mpc.py runs a control step after the last chunk too (its decision is discarded); its
        // error and estimate are what the next video starts from when histories carry over.
        self.observe(obs.history);
    }

    fn carries_state_across_sessions(&self) -> bool {
        self.params.carry_over_history
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{Ladder, Rng};

    /// `mpc.py`'s loop, literally: every full combination in lexicographic order, truncated to `n`.
    #[allow(clippy::too_many_arguments)]
    fn flat_choice(
        video: &Video,
        next_chunk: usize,
        n: usize,
        offset: usize,
        buffer_s: f64,
        last_level: usize,
        forecast: f64,
        params: &MpcParams,
    ) -> Option<usize> {
        let levels = video.num_levels();
        let full = params.horizon_chunks.max(n);
        let kbps = video.ladder.bitrates_kbps();
        let mut max_reward = INITIAL_MAX_REWARD;
        let mut best: Option<Vec<usize>> = None;
        let mut combo = vec![0usize; full];
        loop {
            let c = &combo[..n];
            let mut rebuf = 0.0;
            let mut buf = buffer_s;
            let mut bitrate_sum = 0.0;
            let mut smooth = 0.0;
            let mut last = last_level;
            for (position, &q) in c.iter().enumerate() {
                let index = next_chunk + offset + position;
                let dt = (video.size_bytes_or_zero(q, index) as f64 / 1000000.0) / forecast;
                if buf < dt {
                    rebuf += dt - buf;
                    buf = 0.0;
                } else {
                    buf -= dt;
                }
                buf += video.chunk_duration_s;
                bitrate_sum += kbps[q];
                smooth += (kbps[q] - kbps[last]).abs();
                last = q;
            }
            let reward = bitrate_sum / 1000.0
                - params.rebuffer_penalty_per_s * rebuf
                - params.smoothness_penalty * smooth / 1000.0;
            if reward >= max_reward {
                best = Some(c.to_vec());
                max_reward = reward;
            }
            // Next combination in lexicographic order.
            let mut i = full;
            loop {
                if i == 0 {
                    return best.and_then(|b| b.first().copied());
                }
                i -= 1;
                combo[i] += 1;
                if combo[i] < levels {
                    break;
                }
                combo[i] = 0;
            }
        }
    }

    /// A VBR video whose bitrates grow by a factor drawn from `growth` per level.
    fn random_video(
        rng: &mut Rng,
        levels: usize,
        chunks: usize,
        integer_kbps: bool,
        growth: (f64, f64),
    ) -> Video {
        let mut kbps = Vec::new();
        let mut k = rng.uniform_range(100.0, 500.0);
        for _ in 0..levels {
            kbps.push(if integer_kbps { k.round() } else { k });
            k *= rng.uniform_range(growth.0, growth.1);
        }
        let sizes = kbps
            .iter()
            .map(|&b| {
                (0..chunks)
                    .map(|_| (b * 500.0 * rng.uniform_range(0.5, 1.5)) as u64 + 1)
                    .collect()
            })
            .collect();
        Video::new("r", 4.0, Ladder::from_kbps(&kbps), sizes, vec![]).unwrap()
    }

    fn record(index: usize, level: usize, size_bytes: u64, delay_ms: f64) -> ChunkRecord {
        ChunkRecord {
            index,
            level,
            size_bytes,
            delay_ms,
            ..ChunkRecord::default()
        }
    }

    #[test]
    fn dfs_matches_flat_enumeration_on_random_inputs() {
        let mut rng = Rng::new(7);
        let mut chosen = [0usize; 12];
        let mut pruned_by_grid = 0;
        for case in 0..300 {
            // 2 to 6 levels (no buffer grid) and 7 to 12 (with it), Pensieve's ratios and denser.
            let levels = if case % 2 == 0 {
                2 + rng.below(5)
            } else {
                GRID_MIN_LEVELS + rng.below(13 - GRID_MIN_LEVELS)
            };
            let growth = if levels > 6 { (1.1, 1.7) } else { (1.3, 2.2) };
            let video = random_video(&mut rng, levels, 12, case % 4 < 2, growth);
            let mut params = if case % 3 == 0 {
                MpcParams::pensieve()
            } else {
                MpcParams::robust()
            };
            if case % 5 == 0 {
                params.smoothness_penalty = 0.5;
            }
            let total = 10;
            let next_chunk = 1 + rng.below(total - 1);
            let buffer_s = rng.uniform_range(0.0, 30.0) * rng.uniform();
            let last_level = rng.below(levels);
            // Forecast from far too slow to far too fast for the ladder.
            let top_mb_per_s = video.ladder.kbps(levels - 1) / 8000.0;
            let forecast =
                top_mb_per_s * rng.uniform_range(0.02, 2.0) * rng.uniform_range(0.1, 1.0);
            let mut mpc = Mpc::with_params("t", params.clone());
            let n = mpc.horizon(next_chunk, total);
            let want = flat_choice(
                &video,
                next_chunk,
                n,
                params.lookahead_offset_chunks,
                buffer_s,
                last_level,
                forecast,
                &params,
            );
            let mut nodes = [0usize; 3];
            for (k, (bnb, grid)) in [(true, true), (true, false), (false, true)]
                .into_iter()
                .enumerate()
            {
                mpc.params.branch_and_bound = bnb;
                mpc.grid_enabled = grid;
                let got = mpc.plan(&video, next_chunk, n, buffer_s, last_level, forecast);
                assert_eq!(
                    got, want,
                    "case {case}, branch_and_bound {bnb}, grid {grid}"
                );
                nodes[k] = mpc.searched_nodes;
            }
            assert!(
                nodes[0] <= nodes[1] && nodes[1] <= nodes[2],
                "case {case}: {nodes:?}"
            );
            if nodes[0] < nodes[1] {
                pruned_by_grid += 1;
            }
            chosen[want.unwrap()] += 1;
        }
        // The cases exercise more than one answer, and the grid prunes beyond the other bounds.
        assert!(chosen.iter().filter(|&&c| c > 0).count() >= 8, "{chosen:?}");
        assert!(
            pruned_by_grid >= 60,
            "the buffer grid pruned more in {pruned_by_grid} cases"
        );
    }

    #[test]
    fn ties_go_to_the_last_best_sequence() {
        // Huge buffer, one chunk left: every level at or above the last one scores exactly
        // k_last / 1000, so `>=` picks the highest of them.
        let kbps = [1000.0, 2000.0, 3000.0, 4000.0];
        let video = Video::new(
            "t",
            4.0,
            Ladder::from_kbps(&kbps),
            vec![vec![1000; 4]; 4],
            vec![],
        )
        .unwrap();
        for bnb in [true, false] {
            let mut mpc = Mpc::robust();
            mpc.params.branch_and_bound = bnb;
            assert_eq!(mpc.plan(&video, 3, 1, 100.0, 0, 10.0), Some(3));
            assert_eq!(
                flat_choice(&video, 3, 1, 0, 100.0, 0, 10.0, &mpc.params),
                Some(3)
            );
        }
    }

    #[test]
    fn horizon_is_cut_at_the_video_end() {
        let total = 48;
        let robust = Mpc::robust();
        let fast = Mpc::fast();
        let pensieve = Mpc::pensieve();
        for k in 1..total {
            let remaining = total - k;
            assert_eq!(robust.horizon(k, total), remaining.min(5), "robust {k}");
            assert_eq!(fast.horizon(k, total), remaining.min(5), "fast {k}");
            assert_eq!(pensieve.horizon(k, total), remaining.min(5), "pensieve {k}");
        }
        // The clean variant never simulates a chunk past the last one; with Pensieve's offset the
        // last simulated chunk is `total` (line 48 of its 49-line size tables).
        let mut quirk_no_read_past = MpcParams::pensieve();
        quirk_no_read_past.truncate_at_video_end = true;
        let m = Mpc::with_params("t", quirk_no_read_past);
        assert_eq!(m.horizon(45, 48), 2);
        assert_eq!(m.horizon(47, 48), 0);
        // FastMPC's cut rule alone would keep 5 with 4 chunks left; truncation makes it 4.
        let mut fast_untruncated = MpcParams::fast();
        fast_untruncated.truncate_at_video_end = false;
        assert_eq!(Mpc::with_params("t", fast_untruncated).horizon(44, 48), 5);
        assert_eq!(fast.horizon(44, 48), 4);
    }

    #[test]
    fn forecast_follows_mpc_py() {
        let mut mpc = Mpc::robust();
        // Throughputs 1.0, 0.5 MB/s (bytes / ms / 1000).
        let h = [record(0, 1, 100_000, 100.0), record(1, 1, 100_000, 200.0)];
        mpc.observe(&h[..1]);
        assert_eq!(mpc.forecast_mb_per_s(), Some(1.0));
        mpc.observe(&h);
        // Harmonic mean 1 / ((1 + 2) / 2) = 2/3; error |1 - 0.5| / 0.5 = 1.
        let harmonic = 1.0 / ((1.0 / 1.0 + 1.0 / 0.5) / 2.0);
        assert_eq!(mpc.forecast_mb_per_s(), Some(harmonic / 2.0));
        let mut fast = Mpc::fast();
        fast.observe(&h);
        assert_eq!(fast.forecast_mb_per_s(), Some(harmonic));

        // Carry-over keeps the error history across reset(); the reset variant clears it.
        let mut carry = Mpc::pensieve();
        let mut clear = Mpc::pensieve_reset();
        for m in [&mut carry, &mut clear] {
            m.observe(&h);
            m.reset();
            m.observe(&h[..1]);
        }
        assert_eq!(clear.forecast_mb_per_s(), Some(1.0));
        // Errors so far: 0, 1, |2/3 - 1| / 1 -> max 1.
        assert_eq!(carry.forecast_mb_per_s(), Some(0.5));
        assert!(carry.carries_state_across_sessions());
        assert!(!clear.carries_state_across_sessions());
    }

    #[test]
    fn levels_always_in_range() {
        let mut rng = Rng::new(11);
        for case in 0..40 {
            let levels = 1 + rng.below(7);
            let video = random_video(&mut rng, levels, 20, case % 2 == 1, (1.3, 2.2));
            for mut mpc in [
                Mpc::fast(),
                Mpc::robust(),
                Mpc::pensieve(),
                Mpc::pensieve_reset(),
            ] {
                mpc.reset();
                let mut history = Vec::new();
                let mut buffer_s = 0.0;
                let mut last = 0;
                let total = 20;
                for k in 0..total {
                    let d = mpc.choose(&Observation {
                        video: &video,
                        next_chunk: k,
                        total_chunks: total,
                        buffer_s,
                        last_level: last,
                        history: &history,
                    });
                    assert!(
                        d.level < levels,
                        "{} chose {} of {levels}",
                        mpc.name(),
                        d.level
                    );
                    assert_eq!(d.predicted_throughput_kbps.is_some(), k > 0);
                    let size = video.size_bytes(d.level, k);
                    let delay_ms = 80.0 + size as f64 / rng.uniform_range(5.0, 2000.0);
                    buffer_s = (buffer_s - delay_ms / 1000.0f64).max(0.0) + 4.0;
                    history.push(record(k, d.level, size, delay_ms));
                    last = d.level;
                }
                mpc.session_finished(&Observation {
                    video: &video,
                    next_chunk: total,
                    total_chunks: total,
                    buffer_s,
                    last_level: last,
                    history: &history,
                });
            }
        }
    }
}
