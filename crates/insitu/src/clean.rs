//! Cleaning: telemetry events into one ordered, plausible chunk series per session.
//!
//! Steps, in order, each counted in the [`CleanReport`]:
//!
//! 1. **Invalid events** (what [`Event::validate`] refuses: NaN or infinite values, negative times
//!    or sizes, a response before its request) are dropped and counted per field, the first few
//!    quoted with their file and row; with `strict` the first one is an error instead.
//! 2. **Impossible chunks**: a `chunk` event without its size or times, with zero bytes or a zero
//!    download time, or a throughput above [`MAX_THROUGHPUT_KBPS`] is dropped. A throughput that
//!    disagrees with `size_bytes * 8 / (response_end_ms - request_start_ms)` by more than
//!    [`THROUGHPUT_TOLERANCE`] is recomputed from the size and times (the raw facts).
//! 3. **Duplicates** on (session, chunk): a retried report or a record delivered twice. The one
//!    received last (largest `time_ms`) is kept, as the server keeps a retried report.
//! 4. **Clock skew** between the client (`request_start_ms`, `response_end_ms`: any epoch) and the
//!    producer (`time_ms`: Unix ms). Per session the offset `time_ms - response_end_ms` is
//!    constant up to the report's own delay; its median is the session's offset and puts client
//!    times on the producer's clock. A chunk whose offset is more than [`SKEW_TOLERANCE_MS`] from
//!    the median had its client clock step (NTP, suspend, a wrong clock): it is **corrected**, not
//!    dropped, by re-anchoring its end at `time_ms - median offset` and keeping its own duration
//!    (the duration is measured on one clock within one request, so it is still right).

use crate::error::InsituError;
use neuralstream_telemetry::{parquet_sink, Event, EventKind, ParquetLayout};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// Highest plausible throughput, kbit/s (100 Gbit/s).
pub const MAX_THROUGHPUT_KBPS: f64 = 1e8;

/// Relative disagreement between a reported throughput and size/time before it is recomputed.
pub const THROUGHPUT_TOLERANCE: f64 = 0.05;

/// Largest deviation of a chunk's clock offset from its session's median, ms, before its client
/// clock is taken to have stepped.
pub const SKEW_TOLERANCE_MS: f64 = 2_000.0;

/// Examples of dropped events quoted in the report, at most.
const MAX_EXAMPLES: usize = 5;

/// One downloaded chunk after cleaning; times on the producer's clock, ms since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct ChunkObs {
    /// Chunk index.
    pub chunk: u32,
    /// Request sent, ms.
    pub start_ms: f64,
    /// Last byte received, ms.
    pub end_ms: f64,
    /// Bytes.
    pub size_bytes: f64,
    /// Measured throughput, kbit/s.
    pub throughput_kbps: f64,
    /// True when filled in by imputation rather than measured.
    pub imputed: bool,
}

impl ChunkObs {
    /// What a predictor sees of it.
    pub fn sample(&self) -> neuralstream_abr::predictor::Sample {
        neuralstream_abr::predictor::Sample {
            throughput_kbps: self.throughput_kbps,
            delay_ms: (self.end_ms - self.start_ms).max(1e-3),
            size_bytes: self.size_bytes,
        }
    }
}

/// One session's chunks, in chunk order.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSeries {
    /// Session id (with `#k` appended to the k-th part of a session split at a long gap).
    pub session: String,
    /// Producer (`serve`, `play`, `bench`).
    pub source: String,
    /// Algorithm that played it, when known.
    pub algorithm: Option<String>,
    /// Client metadata of its `session_start`, when present.
    pub client: Option<String>,
    /// The chunks.
    pub chunks: Vec<ChunkObs>,
}

/// What cleaning did, for `clean_report.json`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CleanReport {
    /// Telemetry files read.
    pub files: usize,
    /// Events read.
    pub events: usize,
    /// `chunk` events read.
    pub chunk_events: usize,
    /// Events dropped by validation, per field.
    pub invalid_by_field: BTreeMap<String, usize>,
    /// A few of them, `file:row: message`.
    pub invalid_examples: Vec<String>,
    /// Chunks dropped as impossible, per reason.
    pub impossible: BTreeMap<String, usize>,
    /// Throughputs recomputed from size and times.
    pub throughput_recomputed: usize,
    /// Duplicate (session, chunk) events dropped.
    pub duplicates: usize,
    /// Chunks whose client clock had stepped, re-anchored on the producer's clock.
    pub skew_corrected: usize,
    /// Median |clock offset spread| per session is reported through this: sessions seen.
    pub sessions: usize,
    /// Chunks kept.
    pub chunks_kept: usize,
    /// Chunks added by imputation (filled in by [`crate::impute`]).
    pub chunks_imputed: usize,
    /// Sessions split at a gap too long to impute (filled in by [`crate::impute`]).
    pub sessions_split: usize,
}

/// Reads every file of the telemetry folder `dir` and cleans it.
pub fn read_and_clean(
    dir: &std::path::Path,
    strict: bool,
) -> Result<(Vec<SessionSeries>, CleanReport), InsituError> {
    let layout = ParquetLayout::new(dir);
    let files = layout.files()?;
    if files.is_empty() {
        return Err(InsituError::NotEnoughData {
            what: dir.display().to_string(),
            problem: "no telemetry files (date=*/hour=*/*.parquet); record some with \
                      `neuralstream bench --telemetry DIR` or `serve --telemetry DIR`"
                .into(),
        });
    }
    let mut report = CleanReport {
        files: files.len(),
        ..CleanReport::default()
    };
    let mut events = Vec::new();
    for f in &files {
        let shown = f.display().to_string();
        for (row, e) in parquet_sink::read_file(f)?.into_iter().enumerate() {
            report.events += 1;
            if let Err(err) = e.validate() {
                if strict {
                    return Err(InsituError::InvalidEvent {
                        file: shown,
                        row,
                        problem: err.to_string(),
                    });
                }
                let field = match &err {
                    neuralstream_telemetry::TelemetryError::InvalidEvent { field, .. } => {
                        field.to_string()
                    }
                    _ => "other".into(),
                };
                *report.invalid_by_field.entry(field).or_default() += 1;
                if report.invalid_examples.len() < MAX_EXAMPLES {
                    report
                        .invalid_examples
                        .push(format!("{shown}:{row}: {err}"));
                }
                continue;
            }
            events.push(e);
        }
    }
    let series = clean(events, &mut report);
    Ok((series, report))
}

/// Cleans valid events (steps 2-4 of the module doc) into per-session series, sorted by session.
pub fn clean(events: Vec<Event>, report: &mut CleanReport) -> Vec<SessionSeries> {
    let mut meta: HashMap<String, (String, Option<String>, Option<String>)> = HashMap::new();
    // (session, chunk) -> (time_ms, observation with client-clock times)
    let mut chunks: HashMap<String, BTreeMap<u32, (i64, ChunkObs)>> = HashMap::new();
    for e in events {
        let m = meta
            .entry(e.session.clone())
            .or_insert_with(|| (e.source.as_str().to_string(), None, None));
        if e.algorithm.is_some() && m.1.is_none() {
            m.1 = e.algorithm.clone();
        }
        if e.kind == EventKind::SessionStart {
            m.2 = e.client.clone();
        }
        if e.kind != EventKind::Chunk {
            continue;
        }
        report.chunk_events += 1;
        let Some(obs) = plausible_chunk(&e, report) else {
            continue;
        };
        let per = chunks.entry(e.session.clone()).or_default();
        match per.get(&obs.chunk) {
            Some((t, _)) => {
                report.duplicates += 1;
                if e.time_ms >= *t {
                    per.insert(obs.chunk, (e.time_ms, obs));
                }
            }
            None => {
                per.insert(obs.chunk, (e.time_ms, obs));
            }
        }
    }
    let mut out: Vec<SessionSeries> = chunks
        .into_iter()
        .map(|(session, per)| {
            let (source, algorithm, client) = meta.remove(&session).unwrap_or_default();
            let stamped: Vec<(i64, ChunkObs)> = per.into_values().collect();
            let chunks = correct_skew(stamped, report);
            SessionSeries {
                session,
                source,
                algorithm,
                client,
                chunks,
            }
        })
        .collect();
    out.sort_by(|a, b| a.session.cmp(&b.session));
    report.sessions = out.len();
    report.chunks_kept = out.iter().map(|s| s.chunks.len()).sum();
    out
}

/// Step 2 for one `chunk` event: the observation (client-clock times), or `None`, counted.
fn plausible_chunk(e: &Event, report: &mut CleanReport) -> Option<ChunkObs> {
    let mut drop = |reason: &str| {
        *report.impossible.entry(reason.to_string()).or_default() += 1;
        None
    };
    let (Some(chunk), Some(size), Some(start), Some(end)) =
        (e.chunk, e.size_bytes, e.request_start_ms, e.response_end_ms)
    else {
        return drop("missing chunk, size_bytes or times");
    };
    if size == 0 {
        return drop("size_bytes = 0");
    }
    let duration_ms = end - start;
    if duration_ms <= 0.0 {
        return drop("zero download time");
    }
    let computed = size as f64 * 8.0 / duration_ms;
    if computed > MAX_THROUGHPUT_KBPS {
        return drop("throughput above 100 Gbit/s");
    }
    let throughput_kbps = match e.throughput_kbps {
        Some(t) if (t - computed).abs() <= THROUGHPUT_TOLERANCE * computed => t,
        _ => {
            report.throughput_recomputed += 1;
            computed
        }
    };
    Some(ChunkObs {
        chunk,
        start_ms: start,
        end_ms: end,
        size_bytes: size as f64,
        throughput_kbps,
        imputed: false,
    })
}

/// Step 4: client times onto the producer's clock through the session's median offset; chunks
/// whose offset strays more than [`SKEW_TOLERANCE_MS`] are re-anchored at their own `time_ms`.
fn correct_skew(stamped: Vec<(i64, ChunkObs)>, report: &mut CleanReport) -> Vec<ChunkObs> {
    let offsets: Vec<f64> = stamped.iter().map(|(t, c)| *t as f64 - c.end_ms).collect();
    let median = median(&offsets);
    stamped
        .into_iter()
        .zip(offsets)
        .map(|((t, mut c), off)| {
            let shift = if (off - median).abs() > SKEW_TOLERANCE_MS {
                report.skew_corrected += 1;
                t as f64 - median - c.end_ms
            } else {
                0.0
            };
            c.start_ms += median + shift;
            c.end_ms += median + shift;
            c
        })
        .collect()
}

/// The median of `v` (0 when empty).
pub fn median(v: &[f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_telemetry::Source;

    /// A chunk event: client clock starts at 0, producer clock at 1e12; 1 s downloads.
    pub(crate) fn chunk_event(session: &str, chunk: u32, kbps: f64) -> Event {
        let start = chunk as f64 * 4000.0;
        let mut e = Event::new(
            EventKind::Chunk,
            Source::Bench,
            1_000_000_000_000 + start as i64 + 1000 + 20,
            session,
        );
        e.chunk = Some(chunk);
        e.size_bytes = Some((kbps * 1000.0 / 8.0) as u64);
        e.request_start_ms = Some(start);
        e.response_end_ms = Some(start + 1000.0);
        e.throughput_kbps = Some(kbps);
        e
    }

    #[test]
    fn duplicates_keep_the_last_received_and_impossible_chunks_are_dropped() {
        let mut events: Vec<Event> = (0..5).map(|c| chunk_event("a", c, 1000.0)).collect();
        let mut retry = chunk_event("a", 2, 2000.0);
        retry.time_ms += 50;
        events.push(retry);
        let mut zero = chunk_event("a", 7, 1000.0);
        zero.size_bytes = Some(0);
        events.push(zero);
        let mut wrong = chunk_event("b", 0, 1000.0);
        wrong.throughput_kbps = Some(5.0);
        events.push(wrong);
        let mut r = CleanReport::default();
        let s = clean(events, &mut r);
        assert_eq!(r.duplicates, 1);
        assert_eq!(r.impossible["size_bytes = 0"], 1);
        assert_eq!(r.throughput_recomputed, 1);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].chunks.len(), 5);
        assert_eq!(s[0].chunks[2].throughput_kbps, 2000.0);
        assert!((s[1].chunks[0].throughput_kbps - 1000.0).abs() < 1.0);
    }

    #[test]
    fn a_stepped_client_clock_is_reanchored_keeping_the_duration() {
        let mut events: Vec<Event> = (0..6).map(|c| chunk_event("a", c, 1000.0)).collect();
        // The client's clock jumped 1 h forward for chunk 3.
        let e = &mut events[3];
        e.request_start_ms = Some(e.request_start_ms.unwrap() + 3.6e6);
        e.response_end_ms = Some(e.response_end_ms.unwrap() + 3.6e6);
        let mut r = CleanReport::default();
        let s = clean(events, &mut r);
        assert_eq!(r.skew_corrected, 1);
        let c = &s[0].chunks;
        // On the producer's clock: chunk k starts at 1e12 + 4000 k (+ the constant report delay).
        for (k, obs) in c.iter().enumerate() {
            let expect = 1e12 + 4000.0 * k as f64 + 20.0;
            assert!(
                (obs.start_ms - expect).abs() < 1e-6,
                "{k}: {}",
                obs.start_ms
            );
            assert!((obs.end_ms - obs.start_ms - 1000.0).abs() < 1e-6);
        }
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
    }
}
