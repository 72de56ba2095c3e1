//! The handle producers emit through, and the worker thread behind it.
//!
//! `emit` never blocks and never fails: it tries to put the event in a bounded queue and counts
//! it as dropped when the queue is full (a slow disk or an absent broker never slows a decision).
//! One worker thread per sink drains the queue: it validates each event (an impossible value is
//! counted as rejected, never written), batches, and writes Parquet files or produces to Kafka,
//! retrying a broker that refuses until it comes back or the sink is finished.

use crate::error::TelemetryError;
use crate::event::Event;
use crate::kafka::{KafkaTarget, Producer};
use crate::parquet_sink::ParquetLayout;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Where telemetry goes: the value of `--telemetry`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A folder in the partitioned Parquet layout.
    Dir(PathBuf),
    /// A Kafka topic.
    Kafka(KafkaTarget),
}

impl Target {
    /// Parses `DIR` or `kafka://HOST:PORT/TOPIC`.
    pub fn parse(spec: &str) -> Result<Self, TelemetryError> {
        if spec.contains("://") {
            return Ok(Target::Kafka(KafkaTarget::parse(spec)?));
        }
        if spec.trim().is_empty() {
            return Err(TelemetryError::BadTarget {
                spec: spec.into(),
                problem: "is empty".into(),
            });
        }
        Ok(Target::Dir(PathBuf::from(spec)))
    }
}

/// Settings of a sink; [`SinkOptions::default`] suits `serve`.
#[derive(Debug, Clone)]
pub struct SinkOptions {
    /// Events the queue holds before `emit` drops (default 65,536).
    pub queue_events: usize,
    /// Events written or produced at once at most (default 65,536 for Parquet files, of which
    /// Kafka requests take 2,000 at a time).
    pub batch_events: usize,
    /// Longest time an event waits in the worker before it is written (default 1 s for Kafka,
    /// 10 s for Parquet: fewer, larger files).
    pub linger: Option<Duration>,
    /// Kafka: events kept per partition to re-send when the broker's log restarts (default 262,144).
    pub retain_events: usize,
    /// Kafka: partitions to create the topic with when it is missing; 0 never creates (default 1).
    pub create_partitions: i32,
    /// Longest time [`Telemetry::finish`] keeps retrying a refusing broker (default 10 s).
    pub finish_timeout: Duration,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            queue_events: 1 << 16,
            batch_events: 1 << 16,
            linger: None,
            retain_events: 1 << 18,
            create_partitions: 1,
            finish_timeout: Duration::from_secs(10),
        }
    }
}

/// Counters of a sink, all since it started.
#[derive(Debug, Default)]
pub struct Counters {
    /// Events accepted into the queue.
    pub emitted: AtomicU64,
    /// Events dropped because the queue was full or the worker gone.
    pub dropped: AtomicU64,
    /// Events refused for impossible values.
    pub rejected: AtomicU64,
    /// Events written to a file or acknowledged by the broker.
    pub written: AtomicU64,
    /// Events lost after the queue: a failed file write, or unsent when finishing.
    pub failed: AtomicU64,
    /// Failed write or produce attempts (each retried for Kafka).
    pub errors: AtomicU64,
    /// Kafka: times the broker's log was seen to restart (events re-sent).
    pub log_resets: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// See [`Counters::emitted`].
    pub emitted: u64,
    /// See [`Counters::dropped`].
    pub dropped: u64,
    /// See [`Counters::rejected`].
    pub rejected: u64,
    /// See [`Counters::written`].
    pub written: u64,
    /// See [`Counters::failed`].
    pub failed: u64,
    /// See [`Counters::errors`].
    pub errors: u64,
    /// See [`Counters::log_resets`].
    pub log_resets: u64,
}

impl Counters {
    /// The current values.
    pub fn snapshot(&self) -> Stats {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Stats {
            emitted: l(&self.emitted),
            dropped: l(&self.dropped),
            rejected: l(&self.rejected),
            written: l(&self.written),
            failed: l(&self.failed),
            errors: l(&self.errors),
            log_resets: l(&self.log_resets),
        }
    }
}

enum Msg {
    Event(Box<Event>),
    Finish,
}

/// What producers hold: cheap to clone, `emit` never blocks.
#[derive(Clone)]
pub struct TelemetryHandle {
    tx: SyncSender<Msg>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for TelemetryHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl TelemetryHandle {
    /// Queues `event`, or counts it as dropped when the queue is full.
    pub fn emit(&self, event: Event) {
        match self.tx.try_send(Msg::Event(Box::new(event))) {
            Ok(()) => self.counters.emitted.fetch_add(1, Ordering::Relaxed),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// The sink's counters now.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }
}

/// A running sink: its handle and its worker.
pub struct Telemetry {
    handle: TelemetryHandle,
    finishing: Arc<AtomicBool>,
    worker: JoinHandle<()>,
}

impl Telemetry {
    /// Starts the worker for `target`. A Parquet folder is created (and a crash's leftover
    /// temporaries removed) now, so a folder that cannot be written is refused before serving.
    pub fn start(target: &Target, options: SinkOptions) -> Result<Self, TelemetryError> {
        let (tx, rx) = sync_channel(options.queue_events.max(1));
        let counters = Arc::new(Counters::default());
        let finishing = Arc::new(AtomicBool::new(false));
        let worker = match target {
            Target::Dir(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| TelemetryError::io(dir, "creating the telemetry folder", e))?;
                let layout = ParquetLayout::new(dir);
                layout.cleanup_temporaries()?;
                let linger = options.linger.unwrap_or(Duration::from_secs(10));
                let (c, batch) = (counters.clone(), options.batch_events.max(1));
                spawn(move || parquet_worker(rx, layout, c, batch, linger))?
            }
            Target::Kafka(kafka) => {
                let producer = Producer::new(
                    kafka.clone(),
                    options.create_partitions,
                    options.retain_events,
                );
                let (c, f) = (counters.clone(), finishing.clone());
                spawn(move || kafka_worker(rx, producer, c, f, options))?
            }
        };
        Ok(Telemetry {
            handle: TelemetryHandle { tx, counters },
            finishing,
            worker,
        })
    }

    /// A handle to emit through.
    pub fn handle(&self) -> TelemetryHandle {
        self.handle.clone()
    }

    /// Writes what is queued, stops the worker and returns the final counters. Events emitted
    /// through other handles after this are dropped (counted).
    pub fn finish(self) -> Result<Stats, TelemetryError> {
        self.finishing.store(true, Ordering::Relaxed);
        // Blocking send: the worker is draining, so there is room soon.
        let _ = self.handle.tx.send(Msg::Finish);
        self.worker
            .join()
            .map_err(|_| TelemetryError::Stopped("the worker panicked".into()))?;
        Ok(self.handle.stats())
    }
}

fn spawn(f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, TelemetryError> {
    std::thread::Builder::new()
        .name("telemetry".into())
        .spawn(f)
        .map_err(|e| TelemetryError::Stopped(format!("could not start the worker thread: {e}")))
}

/// Collects up to `batch` valid events, waiting at most `linger` after the first; returns
/// whether the sink is finishing (or every sender is gone).
fn collect(
    rx: &Receiver<Msg>,
    out: &mut Vec<Event>,
    batch: usize,
    linger: Duration,
    counters: &Counters,
) -> bool {
    let mut deadline: Option<Instant> = None;
    while out.len() < batch {
        let wait = deadline.map_or(linger, |d| d.saturating_duration_since(Instant::now()));
        match rx.recv_timeout(wait) {
            Ok(Msg::Event(e)) => {
                if e.validate().is_ok() {
                    out.push(*e);
                } else {
                    counters.rejected.fetch_add(1, Ordering::Relaxed);
                }
                deadline.get_or_insert_with(|| Instant::now() + linger);
            }
            Ok(Msg::Finish) | Err(RecvTimeoutError::Disconnected) => return true,
            Err(RecvTimeoutError::Timeout) => {
                if !out.is_empty() {
                    break;
                }
            }
        }
    }
    false
}

fn parquet_worker(
    rx: Receiver<Msg>,
    layout: ParquetLayout,
    counters: Arc<Counters>,
    batch: usize,
    linger: Duration,
) {
    let mut events = Vec::with_capacity(batch.min(1 << 20));
    loop {
        let done = collect(&rx, &mut events, batch, linger, &counters);
        if !events.is_empty() {
            let n = events.len() as u64;
            match layout.write(&events) {
                Ok(_) => counters.written.fetch_add(n, Ordering::Relaxed),
                Err(_) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    counters.failed.fetch_add(n, Ordering::Relaxed)
                }
            };
            events.clear();
        }
        if done {
            return;
        }
    }
}

fn kafka_worker(
    rx: Receiver<Msg>,
    mut producer: Producer,
    counters: Arc<Counters>,
    finishing: Arc<AtomicBool>,
    options: SinkOptions,
) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        counters.errors.fetch_add(1, Ordering::Relaxed);
        return;
    };
    let linger = options.linger.unwrap_or(Duration::from_secs(1));
    let mut events = Vec::new();
    // Set once finishing: the moment retrying stops for good.
    let mut give_up: Option<Instant> = None;
    loop {
        let done = collect(
            &rx,
            &mut events,
            options.batch_events.max(1),
            linger,
            &counters,
        );
        let mut backoff = Duration::from_millis(50);
        while !events.is_empty() {
            let resets_before = producer.log_resets;
            let result = rt.block_on(producer.produce(&events));
            counters
                .log_resets
                .fetch_add(producer.log_resets - resets_before, Ordering::Relaxed);
            match result {
                Ok(()) => {
                    counters
                        .written
                        .fetch_add(events.len() as u64, Ordering::Relaxed);
                    events.clear();
                }
                Err(_) => {
                    counters.errors.fetch_add(1, Ordering::Relaxed);
                    if finishing.load(Ordering::Relaxed) || done {
                        let limit =
                            *give_up.get_or_insert_with(|| Instant::now() + options.finish_timeout);
                        if Instant::now() >= limit {
                            counters
                                .failed
                                .fetch_add(events.len() as u64, Ordering::Relaxed);
                            events.clear();
                            break;
                        }
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                }
            }
        }
        if done {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Source};

    fn chunk(i: u32) -> Event {
        let mut e = Event::new(EventKind::Chunk, Source::Bench, 1_000 + i as i64, "s");
        e.chunk = Some(i);
        e
    }

    #[test]
    fn targets_parse() {
        assert_eq!(
            Target::parse("out/tel").unwrap(),
            Target::Dir("out/tel".into())
        );
        assert!(matches!(
            Target::parse("kafka://h:9/t").unwrap(),
            Target::Kafka(_)
        ));
        assert!(Target::parse("kafka://h/t").is_err());
        assert!(Target::parse(" ").is_err());
    }

    #[test]
    fn parquet_sink_writes_what_was_emitted_and_rejects_impossible_values() {
        let dir = tempfile::tempdir().unwrap();
        let t = Telemetry::start(&Target::Dir(dir.path().into()), SinkOptions::default()).unwrap();
        let h = t.handle();
        for i in 0..1000 {
            h.emit(chunk(i));
        }
        let mut bad = chunk(5000);
        bad.buffer_s = Some(f64::NAN);
        h.emit(bad);
        let stats = t.finish().unwrap();
        assert_eq!(
            (stats.emitted, stats.written, stats.rejected, stats.dropped),
            (1001, 1000, 1, 0)
        );
        assert_eq!(
            ParquetLayout::new(dir.path()).read_all().unwrap().len(),
            1000
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        // A broker that refuses: nothing listens on port 1. emit must stay non-blocking.
        let target = Target::parse("kafka://127.0.0.1:1/t").unwrap();
        let options = SinkOptions {
            queue_events: 10,
            batch_events: 5,
            linger: Some(Duration::from_millis(10)),
            finish_timeout: Duration::from_millis(200),
            ..SinkOptions::default()
        };
        let t = Telemetry::start(&target, options).unwrap();
        let h = t.handle();
        let started = Instant::now();
        for i in 0..10_000 {
            h.emit(chunk(i));
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "emit blocked: {:?}",
            started.elapsed()
        );
        let stats = t.finish().unwrap();
        assert!(stats.dropped >= 10_000 - 20, "{stats:?}");
        assert_eq!(stats.written, 0);
        assert_eq!(stats.emitted, stats.failed + stats.written, "{stats:?}");
        assert!(stats.errors >= 1);
    }
}
