//! One viewer: decide, download (init when the level changes, then the segment), keep the buffer in
//! real time, sleep when it is full. The buffer rules are the simulator's, applied to measured times.

use crate::clock::SessionClock;
use crate::decider::{Decided, Decider};
use crate::download::{fetch_shaped, Retry, TraceClock, Transfer};
use crate::error::PlayerError;
use crate::link::TraceLink;
use crate::media::Media;
use neuralstream_core::{
    ChunkRecord, Decision, Observation, QoeModel, Trace, MAX_BUFFER_CAP_S, MAX_RTT_MS,
    MIN_PAYLOAD_FRACTION,
};
use reqwest::Client;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Most retries of one request `play --retries` accepts.
pub const MAX_RETRIES: u32 = 100;

/// The player's constants; [`PlayerConfig::default`] is Pensieve's, as `bench` uses.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerConfig {
    /// Session seconds per real second (`> 0`); 1 is real time.
    pub speed: f64,
    /// Waited before every request, ms of session time (Pensieve: 80).
    pub rtt_ms: f64,
    /// Fraction of the trace's capacity that carries body bytes (Pensieve: 0.95).
    pub payload_fraction: f64,
    /// Above this buffer the player sleeps, seconds (Pensieve: 60).
    pub buffer_cap_s: f64,
    /// Sleep granularity with a full buffer, ms (Pensieve: 500).
    pub drain_sleep_ms: f64,
    /// Chunks played at most (`None`: all).
    pub max_chunks: Option<usize>,
    /// Where the link's clock comes from.
    pub trace_clock: TraceClock,
    /// Fetch each level's init segment once and keep it (like dash.js's InitCache) instead of on
    /// every level switch.
    pub cache_init: bool,
    /// QoE model of the player's own running tally.
    pub qoe: QoeModel,
    /// Chunks left out of the tally at the start (Pensieve: 1).
    pub skip_chunks: usize,
    /// Speak HTTP/1.1 only (no HTTP/2, so no HTTP/2 keep-alive pings; `play --http1`).
    pub http1_only: bool,
    /// How a request that failed in transit is sent again (`play --retries`).
    pub retry: Retry,
}

impl Default for PlayerConfig {
    fn default() -> Self {
        PlayerConfig {
            speed: 1.0,
            rtt_ms: 80.0,
            payload_fraction: 0.95,
            buffer_cap_s: 60.0,
            drain_sleep_ms: 500.0,
            max_chunks: None,
            trace_clock: TraceClock::Transfer,
            cache_init: false,
            qoe: QoeModel::lin(),
            skip_chunks: 1,
            http1_only: false,
            retry: Retry::default(),
        }
    }
}

impl PlayerConfig {
    /// Chunks a session over a video of `video_chunks` chunks plays (as the simulator's
    /// `SimConfig::chunks_for`).
    pub fn chunks_for(&self, video_chunks: usize) -> usize {
        self.max_chunks
            .map_or(video_chunks, |m| m.min(video_chunks))
    }

    /// Checks every value; the message names the flag.
    pub fn validate(&self) -> Result<(), PlayerError> {
        let bad = |m: String| Err(PlayerError::Config(m));
        if !(self.speed.is_finite() && self.speed > 0.0 && self.speed <= 1000.0) {
            return bad(format!("--speed must be in (0, 1000], got {}", self.speed));
        }
        if !(self.rtt_ms.is_finite() && (0.0..=MAX_RTT_MS).contains(&self.rtt_ms)) {
            return bad(format!(
                "--rtt-ms must be between 0 and {MAX_RTT_MS} ms, got {:?}",
                self.rtt_ms
            ));
        }
        if !(MIN_PAYLOAD_FRACTION..=1.0).contains(&self.payload_fraction) {
            return bad(format!(
                "--payload-fraction must be from {MIN_PAYLOAD_FRACTION} to 1, got {:?}",
                self.payload_fraction
            ));
        }
        if !(self.buffer_cap_s > 0.0 && self.buffer_cap_s <= MAX_BUFFER_CAP_S) {
            return bad(format!(
                "--buffer-cap-s must be > 0 and at most {MAX_BUFFER_CAP_S} s, got {:?}",
                self.buffer_cap_s
            ));
        }
        if self.retry.attempts > MAX_RETRIES {
            return bad(format!(
                "--retries must be at most {MAX_RETRIES}, got {}",
                self.retry.attempts
            ));
        }
        if !(self.retry.interval_ms.is_finite()
            && (0.0..=60_000.0).contains(&self.retry.interval_ms))
        {
            return bad(format!(
                "--retry-interval-ms must be from 0 to 60000 ms, got {}",
                self.retry.interval_ms
            ));
        }
        if !(self.drain_sleep_ms.is_finite() && self.drain_sleep_ms > 0.0) {
            return bad(format!(
                "drain sleep must be > 0 ms, got {}",
                self.drain_sleep_ms
            ));
        }
        Ok(())
    }
}

/// One HTTP request of a session.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestRecord {
    /// Chunk it belongs to.
    pub chunk: usize,
    /// Level fetched.
    pub level: usize,
    /// `"init"` or `"media"`.
    pub kind: &'static str,
    /// Timing and size.
    pub transfer: Transfer,
}

/// Everything one session produced.
#[derive(Debug, Clone)]
pub struct PlayOutcome {
    /// Session id (also the decision API's).
    pub session: String,
    /// The decision maker (`robustmpc`, or the server's algorithm name).
    pub algorithm: String,
    /// Per-chunk log, same meaning as the simulator's.
    pub records: Vec<ChunkRecord>,
    /// Decision of each chunk.
    pub decisions: Vec<Decided>,
    /// Every request, init and media, in order.
    pub requests: Vec<RequestRecord>,
    /// Decision latency of each chunk, real milliseconds.
    pub decision_ms: Vec<f64>,
    /// Stall time from the player's own playback tracker (time the playhead waited), seconds.
    pub stall_s: f64,
    /// The player's running QoE over chunks `skip_chunks..` under `PlayerConfig::qoe`.
    pub qoe_running: f64,
    /// The server's QoE for the whole session (its answer to the final report), when decisions
    /// came from the server.
    pub server_qoe: Option<f64>,
    /// Media segments whose size differed from `video.json`'s.
    pub size_mismatches: usize,
    /// Session seconds at the end.
    pub session_s: f64,
    /// Real seconds the session took.
    pub wall_s: f64,
}

impl PlayOutcome {
    /// The decisions as the simulator's log stores them.
    pub fn plain_decisions(&self) -> Vec<Decision> {
        self.decisions.iter().map(|d| d.decision).collect()
    }

    /// True when every decision after the start-up rule came from the server.
    pub fn all_from_server(&self) -> bool {
        self.decisions.iter().all(|d| d.from_server)
    }
}

/// The playhead: when the buffer runs dry, and how long it has waited in all.
#[derive(Debug, Clone, Copy, Default)]
struct Playhead {
    /// Session time at which the buffered media runs out.
    dry_at_s: f64,
    /// Stall so far, seconds.
    stalled_s: f64,
}

impl Playhead {
    /// A segment of `dur_s` arrived at `t_s`; returns the stall it ended.
    fn arrive(&mut self, t_s: f64, dur_s: f64) -> f64 {
        let stall = (t_s - self.dry_at_s).max(0.0);
        self.stalled_s += stall;
        self.dry_at_s = self.dry_at_s.max(t_s) + dur_s;
        stall
    }

    fn buffer_at(&self, t_s: f64) -> f64 {
        (self.dry_at_s - t_s).max(0.0)
    }
}

/// Plays `media` over `trace` with `decider`; `session` names it in logs and the decision API.
/// `chunks_done`, when given, is incremented after every chunk (for a progress display).
pub async fn play(
    media: &Media,
    trace: Arc<Trace>,
    mut decider: Decider,
    client: &Client,
    cfg: &PlayerConfig,
    session: &str,
    chunks_done: Option<&AtomicUsize>,
) -> Result<PlayOutcome, PlayerError> {
    cfg.validate()?;
    let video = &media.video;
    let reps = &media.presentation.representations;
    let qoe = cfg
        .qoe
        .compile(video)
        .map_err(|e| PlayerError::Config(format!("--qoe: {e}")))?;
    let total = cfg.chunks_for(video.num_chunks());
    let chunk_s = video.chunk_duration_s;
    let rtt_s = cfg.rtt_ms / 1000.0;
    let link = TraceLink::new(trace, cfg.payload_fraction);
    let mut cursor = link.start();
    let mut records: Vec<ChunkRecord> = Vec::with_capacity(total);
    let mut decisions = Vec::with_capacity(total);
    let mut decision_ms = Vec::with_capacity(total);
    let mut requests = Vec::with_capacity(total + 8);
    let mut init_have: Vec<bool> = vec![false; reps.len()];
    let mut init_level: Option<usize> = None;
    let mut size_mismatches = 0;
    let mut qoe_running = 0.0;
    let mut label = decider.label();

    // The simulator's buffer, updated at events (arrival, end of sleep) ...
    let mut buffer_s = 0.0f64;
    let mut event_s = 0.0f64;
    // ... and the playhead, tracked independently as a cross-check.
    let mut head = Playhead::default();
    let mut last_level = 0usize;

    decider.reset();
    let wall = Instant::now();
    let clock = SessionClock::start(cfg.speed);
    for k in 0..total {
        let now = clock.now_s();
        let obs = Observation {
            video,
            next_chunk: k,
            total_chunks: total,
            buffer_s: (buffer_s - (now - event_s)).max(0.0),
            last_level,
            history: &records,
        };
        let t_decide = Instant::now();
        let decided = decider.decide(&obs).await?;
        decision_ms.push(t_decide.elapsed().as_secs_f64() * 1000.0);
        if decided.algorithm != "startup" {
            label = decided.algorithm.clone();
        }
        let level = decided.decision.level;
        let rep = &reps[level];
        let request_s = clock.now_s();

        let needs_init = if cfg.cache_init {
            !init_have[level]
        } else {
            init_level != Some(level)
        };
        if let (true, Some(init_url)) = (needs_init, rep.init_url.as_ref()) {
            let t = fetch_shaped(
                client,
                init_url,
                &clock,
                &link,
                &mut cursor,
                cfg.trace_clock,
                rtt_s,
                k,
                cfg.retry,
            )
            .await?;
            requests.push(RequestRecord {
                chunk: k,
                level,
                kind: "init",
                transfer: t,
            });
            init_have[level] = true;
        }
        init_level = Some(level);
        let seg_url = &rep.segment_urls[k];
        let t = fetch_shaped(
            client,
            seg_url,
            &clock,
            &link,
            &mut cursor,
            cfg.trace_clock,
            rtt_s,
            k,
            cfg.retry,
        )
        .await?;
        let finish_s = t.finish_s;
        let size_bytes = t.bytes;
        if media.sizes_from_descriptor && size_bytes != video.size_bytes(level, k) {
            size_mismatches += 1;
        }
        requests.push(RequestRecord {
            chunk: k,
            level,
            kind: "media",
            transfer: t,
        });

        // Buffer: drained since the last event, stall if it ran dry, then the chunk is appended.
        let elapsed = finish_s - event_s;
        let rebuffer_s = (elapsed - buffer_s).max(0.0);
        buffer_s = (buffer_s - elapsed).max(0.0) + chunk_s;
        event_s = finish_s;
        head.arrive(finish_s, chunk_s);

        // Full buffer: sleep in the simulator's 500 ms steps; the trace moves on meanwhile.
        let mut sleep_ms = 0.0;
        let cap_ms = cfg.buffer_cap_s * 1000.0;
        if buffer_s * 1000.0 > cap_ms {
            let planned_ms =
                ((buffer_s * 1000.0 - cap_ms) / cfg.drain_sleep_ms).ceil() * cfg.drain_sleep_ms;
            clock.sleep_s(planned_ms / 1000.0).await;
            let woke = clock.now_s();
            let slept = woke - finish_s;
            sleep_ms = slept * 1000.0;
            buffer_s = (buffer_s - slept).max(0.0);
            event_s = woke;
            if cfg.trace_clock == TraceClock::Transfer {
                link.idle(&mut cursor, slept);
            }
        }

        let rec = ChunkRecord {
            index: k,
            level,
            bitrate_kbps: video.ladder.kbps(level),
            size_bytes,
            delay_ms: (finish_s - request_s) * 1000.0,
            sleep_ms,
            rebuffer_s,
            buffer_s,
            request_s,
            finish_s,
        };
        let prev = records.last().map_or(level, |r| r.level);
        if k >= cfg.skip_chunks {
            qoe_running += qoe.reward_at(k, level, k.saturating_sub(1), prev, rebuffer_s);
        }
        last_level = level;
        records.push(rec);
        decisions.push(decided);
        if let Some(c) = chunks_done {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
    let end_s = clock.now_s();
    let server_qoe = decider
        .finish(&Observation {
            video,
            next_chunk: total,
            total_chunks: total,
            buffer_s: head.buffer_at(end_s),
            last_level,
            history: &records,
        })
        .await?;
    Ok(PlayOutcome {
        session: session.to_string(),
        algorithm: label,
        records,
        decisions,
        requests,
        decision_ms,
        stall_s: head.stalled_s,
        qoe_running,
        server_qoe,
        size_mismatches,
        session_s: end_s,
        wall_s: wall.elapsed().as_secs_f64(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn playhead_counts_startup_and_stalls() {
        let mut h = Playhead::default();
        assert_eq!(h.arrive(2.0, 4.0), 2.0); // startup
        assert_eq!(h.arrive(3.0, 4.0), 0.0); // buffered until 10
        assert_eq!(h.buffer_at(3.0), 7.0);
        assert!((h.arrive(11.5, 4.0) - 1.5).abs() < 1e-12);
        assert!((h.stalled_s - 3.5).abs() < 1e-12);
    }

    #[test]
    fn config_is_checked() {
        let c = PlayerConfig {
            speed: 0.0,
            ..PlayerConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().contains("--speed"));
        assert!(PlayerConfig::default().validate().is_ok());
        for (attempts, interval_ms, flag) in [
            (MAX_RETRIES + 1, 1000.0, "--retries"),
            (3, f64::NAN, "--retry-interval-ms"),
            (3, -1.0, "--retry-interval-ms"),
        ] {
            let c = PlayerConfig {
                retry: Retry {
                    attempts,
                    interval_ms,
                },
                ..PlayerConfig::default()
            };
            let e = c.validate().unwrap_err().to_string();
            assert!(e.contains(flag), "{e}");
        }
    }
}
