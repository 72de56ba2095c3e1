//! The evaluation report of sessions (issue 19, item 7): per session quality, latency, buffering,
//! QoE and a user-satisfaction estimate, and the same aggregated per algorithm, per network class
//! and per both.
//!
//! The input is plain rows ([`EventRow`]), one per telemetry event or per chunk of a `bench`
//! results folder, so this crate needs neither the telemetry crate nor the simulator; the command
//! (`neuralstream report`) maps telemetry events or `chunks.csv` rows onto them.
//!
//! Every definition below is also written, formula for formula, in the PySpark job
//! (`spark/telemetry_report.py`), and CI checks both give the same numbers to 1e-9 on the same
//! Parquet files: change both together.
//!
//! Per session (a session is its `(source, session)` pair; one chunk row kept per chunk index):
//!
//! | column | definition |
//! |---|---|
//! | `bitrate_mean_kbps` | mean nominal bitrate of the chunks |
//! | `ssim_mean`, `vmaf_mean` | mean of the video's per-chunk score at the level played (with `--video` that has them) |
//! | `startup_s` | stall of chunk 0 (the time before playback starts); none without chunk 0 |
//! | `stall_s`, `stalls` | stall seconds and count of stalls of the chunks after chunk 0 |
//! | `play_s` | chunks x chunk duration |
//! | `buffering_ratio` | `stall_s / (play_s + stall_s)` |
//! | `stalls_per_hour` | `stalls * 3600 / (play_s + stall_s)` |
//! | `download_ms_mean` | mean of `response_end_ms - request_start_ms` |
//! | `throughput_kbps` | `8 * sum(size_bytes) / sum(download ms)` (the session's mean throughput) |
//! | `decision_us_mean`, `decision_us_max` | of the decision rows' `decision_us` (the server's time to decide) |
//! | `qoe` | the producer's final QoE (`session_end`; the largest if several), else the QoE so far of the decision of the highest chunk |
//! | `mos`, `abandonment_pct` | [`satisfaction`] |
//! | `network_class` | by `throughput_kbps` against the class bounds ([`network_class`]) |
//! | `end_reason` | why the session ended, from its `session_end` rows: `completed` if one says so or gives no reason (schema version 1 and `bench`/`play` wrote one only for finished sessions), else the first in alphabetical order of `evicted`, `idle-timeout`, `server-shutdown`; `unknown` without a `session_end` (still playing, or a version-1 server that wrote none) |
//! | `abandoned` | 1 when `end_reason` is `idle-timeout` (the client stopped reporting before the video's end), else 0 |
//!
//! A group's `abandoned_share` is the mean of its sessions' `abandoned`.

pub mod bench_input;
pub mod output;
pub mod satisfaction;

use neuralstream_core::Video;
use std::collections::{BTreeMap, HashMap};

/// Duration of a chunk when the video is not given, seconds (Pensieve's and the built-in video's).
pub const DEFAULT_CHUNK_S: f64 = 4.0;

/// Default network class bounds, kbit/s: below 1 Mbit/s (the lower rungs of Pensieve's 0.3-4.3
/// Mbit/s ladder only), 1-2.5, 2.5-5, and 5 Mbit/s or more (the top rung with room to spare).
pub const DEFAULT_CLASS_BOUNDS_KBPS: [f64; 3] = [1000.0, 2500.0, 5000.0];

/// What stands for a missing algorithm or video, the class of sessions with no measurable
/// throughput, and the end reason of a session without a `session_end`.
pub const UNKNOWN: &str = "unknown";

/// The end reason of a finished session (also assumed for a `session_end` that gives none).
pub const COMPLETED: &str = "completed";

/// The end reason of a session its client abandoned (stopped reporting before the end).
pub const ABANDONED_REASON: &str = "idle-timeout";

/// The value of the `algorithm` or `network_class` column of a group that spans all of them.
pub const ALL: &str = "all";

/// What the report's numbers depend on besides the rows.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalConfig {
    /// Duration of one chunk of the video, seconds.
    pub chunk_s: f64,
    /// Increasing class bounds, kbit/s: class `k` holds `bounds[k-1] <= throughput < bounds[k]`.
    pub class_bounds_kbps: Vec<f64>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            chunk_s: DEFAULT_CHUNK_S,
            class_bounds_kbps: DEFAULT_CLASS_BOUNDS_KBPS.to_vec(),
        }
    }
}

impl EvalConfig {
    /// Checks the chunk duration (finite, > 0) and the bounds (finite, > 0, increasing); the
    /// message names the flag.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.chunk_s.is_finite() && self.chunk_s > 0.0) {
            return Err(format!(
                "--chunk-s must be a number of seconds > 0, got {}",
                self.chunk_s
            ));
        }
        let b = &self.class_bounds_kbps;
        if b.is_empty()
            || b.iter().any(|x| !(x.is_finite() && *x > 0.0))
            || b.windows(2).any(|w| w[0] >= w[1])
        {
            return Err(format!(
                "--classes-kbps must be increasing numbers of kbit/s > 0 (e.g. 1000,2500,5000), got {b:?}"
            ));
        }
        Ok(())
    }
}

/// What a row describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    /// A downloaded chunk.
    Chunk,
    /// A decision (its `decision_us` and QoE so far).
    Decision,
    /// The end of a session (its final QoE).
    SessionEnd,
    /// Anything else (session start, real-time interval): names the algorithm and video only.
    Other,
}

/// One event of a session, as much of it as the report reads.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// What it describes.
    pub kind: RowKind,
    /// Who wrote it (`serve`, `play`, `bench`); with `session`, the session's identity.
    pub source: String,
    /// Session id.
    pub session: String,
    /// Algorithm, when the row names it.
    pub algorithm: Option<String>,
    /// Video, when the row names it.
    pub video: Option<String>,
    /// Chunk index (chunk and decision rows).
    pub chunk: Option<u32>,
    /// Level played (chunk rows).
    pub level: Option<u32>,
    /// Nominal bitrate of the level, kbit/s.
    pub bitrate_kbps: Option<f64>,
    /// Bytes downloaded.
    pub size_bytes: Option<u64>,
    /// Request sent, ms on the client's clock.
    pub request_start_ms: Option<f64>,
    /// Last byte received, ms on the client's clock.
    pub response_end_ms: Option<f64>,
    /// Stall caused by the chunk, seconds.
    pub rebuffer_s: Option<f64>,
    /// Time the server spent deciding, microseconds.
    pub decision_us: Option<f64>,
    /// QoE so far (decision) or final (session end).
    pub qoe: Option<f64>,
    /// Why the session ended (session end rows of telemetry schema version 2).
    pub end_reason: Option<String>,
    /// SSIM (0..1) of the chunk at the level played, from the video's quality table.
    pub ssim: Option<f64>,
    /// VMAF (0..100) of the chunk at the level played, from the video's quality table.
    pub vmaf: Option<f64>,
}

impl EventRow {
    /// A row of `kind` for `session` of `source` with every optional field empty.
    pub fn new(kind: RowKind, source: &str, session: &str) -> Self {
        EventRow {
            kind,
            source: source.to_string(),
            session: session.to_string(),
            algorithm: None,
            video: None,
            chunk: None,
            level: None,
            bitrate_kbps: None,
            size_bytes: None,
            request_start_ms: None,
            response_end_ms: None,
            rebuffer_s: None,
            decision_us: None,
            qoe: None,
            end_reason: None,
            ssim: None,
            vmaf: None,
        }
    }
}

/// The metrics of one session (definitions in the module docs).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionMetrics {
    /// Who wrote its events.
    pub source: String,
    /// Session id.
    pub session: String,
    /// Algorithm (the smallest name its rows give, `unknown` if none does).
    pub algorithm: String,
    /// Video (idem).
    pub video: String,
    /// Chunks downloaded.
    pub chunks: usize,
    /// Mean nominal bitrate, kbit/s.
    pub bitrate_mean_kbps: Option<f64>,
    /// Mean SSIM of the chunks played.
    pub ssim_mean: Option<f64>,
    /// Mean VMAF of the chunks played.
    pub vmaf_mean: Option<f64>,
    /// Startup delay, seconds.
    pub startup_s: Option<f64>,
    /// Stall after playback started, seconds.
    pub stall_s: f64,
    /// Stalls after playback started.
    pub stalls: usize,
    /// Content played, seconds.
    pub play_s: f64,
    /// Share of the watch time spent stalled.
    pub buffering_ratio: f64,
    /// Stalls per hour of watch time.
    pub stalls_per_hour: f64,
    /// Mean download time of a chunk, ms.
    pub download_ms_mean: Option<f64>,
    /// Mean throughput (bytes over download time), kbit/s.
    pub throughput_kbps: Option<f64>,
    /// Mean server decision time, microseconds.
    pub decision_us_mean: Option<f64>,
    /// Longest server decision time, microseconds.
    pub decision_us_max: Option<f64>,
    /// The producer's QoE of the session.
    pub qoe: Option<f64>,
    /// Predicted mean opinion score, 1.5..5 ([`satisfaction::stall_mos`]).
    pub mos: f64,
    /// Expected abandonment before start, percent ([`satisfaction::abandonment_pct`]).
    pub abandonment_pct: Option<f64>,
    /// Network class ([`network_class`]).
    pub network_class: String,
    /// Why it ended (see the module doc).
    pub end_reason: String,
}

impl SessionMetrics {
    /// Whether its client abandoned it before the end (`end_reason` is `idle-timeout`).
    pub fn abandoned(&self) -> bool {
        self.end_reason == ABANDONED_REASON
    }
}

/// The aggregate of a group of sessions: means over the sessions that have the value.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupSummary {
    /// The algorithm, or [`ALL`].
    pub algorithm: String,
    /// The network class, or [`ALL`].
    pub network_class: String,
    /// Sessions in the group.
    pub sessions: usize,
    /// Mean of the sessions' `bitrate_mean_kbps`.
    pub bitrate_mean_kbps: Option<f64>,
    /// Mean of `ssim_mean`.
    pub ssim_mean: Option<f64>,
    /// Mean of `vmaf_mean`.
    pub vmaf_mean: Option<f64>,
    /// Mean startup delay, seconds.
    pub startup_s_mean: Option<f64>,
    /// Mean buffering ratio.
    pub buffering_ratio_mean: Option<f64>,
    /// Mean stalls per hour.
    pub stalls_per_hour_mean: Option<f64>,
    /// Mean of the sessions' mean decision times, microseconds.
    pub decision_us_mean: Option<f64>,
    /// Mean throughput of the sessions, kbit/s.
    pub throughput_kbps_mean: Option<f64>,
    /// Mean QoE.
    pub qoe_mean: Option<f64>,
    /// Mean predicted MOS.
    pub mos_mean: Option<f64>,
    /// Share of sessions with MOS >= [`satisfaction::SATISFIED_MOS`].
    pub satisfied_share: Option<f64>,
    /// Mean expected abandonment, percent.
    pub abandonment_pct_mean: Option<f64>,
    /// Share of sessions abandoned before the video's end ([`SessionMetrics::abandoned`]).
    pub abandoned_share: Option<f64>,
}

/// What was read but not counted, so that a report says what it left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Skipped {
    /// Sessions with no chunk row (e.g. a served session that stopped before its first report).
    pub sessions_without_chunks: usize,
    /// Chunk rows repeating a chunk index of their session (the first one is kept).
    pub duplicate_chunks: usize,
    /// Chunk rows with no chunk index.
    pub chunks_without_index: usize,
}

/// The whole evaluation: sessions sorted by (source, session), groups sorted by algorithm
/// ([`ALL`] first) and class ([`class_order`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The settings it was computed with.
    pub config: EvalConfig,
    /// One row per session with at least one chunk.
    pub sessions: Vec<SessionMetrics>,
    /// Per algorithm (class [`ALL`]), per class (algorithm [`ALL`]), per both, and overall.
    pub groups: Vec<GroupSummary>,
    /// What was left out.
    pub skipped: Skipped,
}

/// The class of a session's mean throughput: `<B0 kbps`, `B0-B1 kbps`, ..., `>=Bn kbps`, or
/// [`UNKNOWN`] without one.
pub fn network_class(throughput_kbps: Option<f64>, bounds_kbps: &[f64]) -> String {
    let Some(t) = throughput_kbps.filter(|t| t.is_finite()) else {
        return UNKNOWN.to_string();
    };
    let k = bounds_kbps.iter().take_while(|b| t >= **b).count();
    match (k, bounds_kbps.len()) {
        (_, 0) => "any".to_string(),
        (0, _) => format!("<{} kbps", bounds_kbps[0]),
        (k, n) if k == n => format!(">={} kbps", bounds_kbps[n - 1]),
        (k, _) => format!("{}-{} kbps", bounds_kbps[k - 1], bounds_kbps[k]),
    }
}

/// Fills the chunk rows' `ssim` and `vmaf` from `video`'s quality tables (metrics `ssim` and
/// `vmaf`), at the row's level and chunk; rows outside the tables, or without a level, keep none.
pub fn attach_quality(rows: &mut [EventRow], video: &Video) {
    let score = |metric: &str, r: &EventRow| {
        let table = video.quality(metric)?;
        let level = usize::try_from(r.level?).ok()?;
        let chunk = usize::try_from(r.chunk?).ok()?;
        table.scores.get(level)?.get(chunk).copied()
    };
    for r in rows.iter_mut().filter(|r| r.kind == RowKind::Chunk) {
        r.ssim = score("ssim", r);
        r.vmaf = score("vmaf", r);
    }
}

/// Mean of the values present; `None` when there are none.
fn mean(values: impl IntoIterator<Item = Option<f64>>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .flatten()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// The smaller of two names, either may be missing.
fn smaller<'a>(have: Option<&'a str>, new: Option<&'a str>) -> Option<&'a str> {
    match (have, new) {
        (Some(h), Some(n)) => Some(h.min(n)),
        (h, n) => h.or(n),
    }
}

/// The rows of one session, by kind.
#[derive(Default)]
struct SessionRows<'a> {
    chunks: BTreeMap<u32, &'a EventRow>,
    decisions: Vec<&'a EventRow>,
    ends: Vec<&'a EventRow>,
    algorithm: Option<&'a str>,
    video: Option<&'a str>,
}

/// Evaluates `rows` (any order) under `config` (assumed valid: see [`EvalConfig::validate`]).
pub fn evaluate(rows: &[EventRow], config: &EvalConfig) -> Evaluation {
    let mut skipped = Skipped::default();
    let mut by_session: BTreeMap<(&str, &str), SessionRows> = BTreeMap::new();
    for r in rows {
        let s = by_session
            .entry((r.source.as_str(), r.session.as_str()))
            .or_default();
        s.algorithm = smaller(s.algorithm, r.algorithm.as_deref());
        s.video = smaller(s.video, r.video.as_deref());
        match r.kind {
            RowKind::Chunk => match r.chunk {
                None => skipped.chunks_without_index += 1,
                Some(c) => match s.chunks.entry(c) {
                    std::collections::btree_map::Entry::Occupied(_) => {
                        skipped.duplicate_chunks += 1
                    }
                    std::collections::btree_map::Entry::Vacant(v) => {
                        v.insert(r);
                    }
                },
            },
            RowKind::Decision => s.decisions.push(r),
            RowKind::SessionEnd => s.ends.push(r),
            RowKind::Other => {}
        }
    }
    let mut sessions = Vec::with_capacity(by_session.len());
    for ((source, session), s) in &by_session {
        if s.chunks.is_empty() {
            skipped.sessions_without_chunks += 1;
            continue;
        }
        sessions.push(session_metrics(source, session, s, config));
    }
    let groups = group(&sessions, &config.class_bounds_kbps);
    Evaluation {
        config: config.clone(),
        sessions,
        groups,
        skipped,
    }
}

fn session_metrics(
    source: &str,
    session: &str,
    s: &SessionRows,
    config: &EvalConfig,
) -> SessionMetrics {
    let chunks: Vec<&EventRow> = s.chunks.values().copied().collect();
    let after_start = || chunks.iter().filter(|c| c.chunk != Some(0));
    let stall_s: f64 = after_start().map(|c| c.rebuffer_s.unwrap_or(0.0)).sum();
    let stalls = after_start()
        .filter(|c| c.rebuffer_s.is_some_and(|r| r > 0.0))
        .count();
    let play_s = chunks.len() as f64 * config.chunk_s;
    let watch_s = play_s + stall_s;
    let downloads: Vec<(u64, f64)> = chunks
        .iter()
        .filter_map(
            |c| match (c.size_bytes, c.request_start_ms, c.response_end_ms) {
                (Some(b), Some(a), Some(z)) => Some((b, z - a)),
                _ => None,
            },
        )
        .collect();
    let download_ms: f64 = downloads.iter().map(|d| d.1).sum();
    let bytes: f64 = downloads.iter().map(|d| d.0 as f64).sum();
    let throughput_kbps = (download_ms > 0.0).then(|| 8.0 * bytes / download_ms);
    let decision_us = || s.decisions.iter().filter_map(|d| d.decision_us);
    let startup_s = s.chunks.get(&0).map(|c| c.rebuffer_s.unwrap_or(0.0));
    SessionMetrics {
        source: source.to_string(),
        session: session.to_string(),
        algorithm: s.algorithm.unwrap_or(UNKNOWN).to_string(),
        video: s.video.unwrap_or(UNKNOWN).to_string(),
        chunks: chunks.len(),
        bitrate_mean_kbps: mean(chunks.iter().map(|c| c.bitrate_kbps)),
        ssim_mean: mean(chunks.iter().map(|c| c.ssim)),
        vmaf_mean: mean(chunks.iter().map(|c| c.vmaf)),
        startup_s,
        stall_s,
        stalls,
        play_s,
        buffering_ratio: stall_s / watch_s,
        stalls_per_hour: stalls as f64 * 3600.0 / watch_s,
        download_ms_mean: mean(downloads.iter().map(|d| Some(d.1))),
        throughput_kbps,
        decision_us_mean: mean(decision_us().map(Some)),
        decision_us_max: decision_us().reduce(f64::max),
        qoe: final_qoe(s),
        mos: satisfaction::stall_mos(stalls, stall_s),
        abandonment_pct: startup_s.map(satisfaction::abandonment_pct),
        network_class: network_class(throughput_kbps, &config.class_bounds_kbps),
        end_reason: end_reason(s).to_string(),
    }
}

/// Why the session ended (the module doc's rule): `completed` wins, a `session_end` without a
/// reason counts as completed, and of the other reasons the first in alphabetical order.
fn end_reason<'a>(s: &SessionRows<'a>) -> &'a str {
    s.ends
        .iter()
        .map(|e| e.end_reason.as_deref().unwrap_or(COMPLETED))
        .min()
        .unwrap_or(UNKNOWN)
}

/// The session end's QoE (the largest of several), else that of the decision of the highest
/// chunk that carries one (the largest QoE among that chunk's decisions).
fn final_qoe(s: &SessionRows) -> Option<f64> {
    if let Some(q) = s.ends.iter().filter_map(|e| e.qoe).reduce(f64::max) {
        return Some(q);
    }
    let last = s
        .decisions
        .iter()
        .filter(|d| d.qoe.is_some())
        .filter_map(|d| d.chunk)
        .max()?;
    s.decisions
        .iter()
        .filter(|d| d.chunk == Some(last))
        .filter_map(|d| d.qoe)
        .reduce(f64::max)
}

/// The class names of `bounds_kbps` from the lowest throughput up, then [`UNKNOWN`] and
/// [`ALL`]: the order of the report's rows.
pub fn class_order(bounds_kbps: &[f64]) -> Vec<String> {
    let mut out: Vec<String> = std::iter::once(0.0)
        .chain(bounds_kbps.iter().copied())
        .map(|t| network_class(Some(t), bounds_kbps))
        .collect();
    out.dedup();
    out.extend([UNKNOWN.to_string(), ALL.to_string()]);
    out
}

/// The groups: every (algorithm, class), every algorithm, every class, and all sessions; sorted
/// by algorithm ([`ALL`] first), then class in [`class_order`].
fn group(sessions: &[SessionMetrics], bounds_kbps: &[f64]) -> Vec<GroupSummary> {
    let mut members: HashMap<(&str, &str), Vec<&SessionMetrics>> = HashMap::new();
    for s in sessions {
        for key in [
            (s.algorithm.as_str(), s.network_class.as_str()),
            (s.algorithm.as_str(), ALL),
            (ALL, s.network_class.as_str()),
            (ALL, ALL),
        ] {
            members.entry(key).or_default().push(s);
        }
    }
    let mut groups: Vec<GroupSummary> = members
        .into_iter()
        .map(|((algorithm, class), m)| summarise(algorithm, class, &m))
        .collect();
    let order = class_order(bounds_kbps);
    let rank = |g: &GroupSummary| {
        let class = order.iter().position(|c| *c == g.network_class);
        (g.algorithm != ALL, g.algorithm.clone(), class)
    };
    groups.sort_by_key(rank);
    groups
}

fn summarise(algorithm: &str, class: &str, m: &[&SessionMetrics]) -> GroupSummary {
    let avg = |f: fn(&SessionMetrics) -> Option<f64>| mean(m.iter().map(|s| f(s)));
    GroupSummary {
        algorithm: algorithm.to_string(),
        network_class: class.to_string(),
        sessions: m.len(),
        bitrate_mean_kbps: avg(|s| s.bitrate_mean_kbps),
        ssim_mean: avg(|s| s.ssim_mean),
        vmaf_mean: avg(|s| s.vmaf_mean),
        startup_s_mean: avg(|s| s.startup_s),
        buffering_ratio_mean: avg(|s| Some(s.buffering_ratio)),
        stalls_per_hour_mean: avg(|s| Some(s.stalls_per_hour)),
        decision_us_mean: avg(|s| s.decision_us_mean),
        throughput_kbps_mean: avg(|s| s.throughput_kbps),
        qoe_mean: avg(|s| s.qoe),
        mos_mean: avg(|s| Some(s.mos)),
        satisfied_share: avg(|s| Some(f64::from(u8::from(s.mos >= satisfaction::SATISFIED_MOS)))),
        abandonment_pct_mean: avg(|s| s.abandonment_pct),
        abandoned_share: avg(|s| Some(f64::from(u8::from(s.abandoned())))),
    }
}

#[cfg(test)]
mod tests;
