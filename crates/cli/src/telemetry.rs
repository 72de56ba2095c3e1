//! `--telemetry` (shared by `serve`, `play` and `bench`) and `neuralstream telemetry consume|show`:
//! flags in, calls into `neuralstream-telemetry`, errors out.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use neuralstream_core::{BenchResults, Trace};
use neuralstream_eval::SessionOutput;
use neuralstream_telemetry::{
    consume, now_ms, session_events, ConsumeOptions, KafkaTarget, ParquetLayout, SessionMeta,
    SinkOptions, Source, Target, Telemetry,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// The opt-in telemetry flag.
#[derive(Args, Debug, Clone, Default)]
pub struct TelemetryFlag {
    /// Record telemetry events (sessions, chunks, decisions) into a folder of Parquet files
    /// partitioned by date and hour, or a Kafka topic (`kafka://HOST:PORT/TOPIC`). Off by default.
    #[arg(long, value_name = "DIR|kafka://HOST:PORT/TOPIC")]
    pub telemetry: Option<String>,
}

impl TelemetryFlag {
    /// The running sink, if the flag is given; `queue_events` at least the default.
    pub fn start(&self, queue_events: usize) -> Result<Option<Telemetry>> {
        let Some(spec) = &self.telemetry else {
            return Ok(None);
        };
        let target = Target::parse(spec)?;
        let options = SinkOptions {
            queue_events: queue_events.max(SinkOptions::default().queue_events),
            ..SinkOptions::default()
        };
        Ok(Some(
            Telemetry::start(&target, options).with_context(|| format!("--telemetry {spec}"))?,
        ))
    }
}

/// Finishes the sink and says what it did on stderr; an error if events were lost after the queue.
pub fn finish(sink: Option<Telemetry>, command: &str) -> Result<()> {
    let Some(sink) = sink else { return Ok(()) };
    let s = sink.finish()?;
    eprintln!(
        "{command}: telemetry: {} events written, {} dropped (queue full), {} rejected, {} failed",
        s.written, s.dropped, s.rejected, s.failed
    );
    anyhow::ensure!(
        s.failed == 0,
        "{command}: {} telemetry events could not be written (see the counts above)",
        s.failed
    );
    Ok(())
}

/// Emits the sessions of a `bench` or `play` run (their logs and scores) through `--telemetry`.
pub fn record_sessions(
    flag: &TelemetryFlag,
    source: Source,
    video: &str,
    traces: &[Trace],
    logs: &[SessionOutput],
    results: &BenchResults,
) -> Result<()> {
    if flag.telemetry.is_none() {
        return Ok(());
    }
    let qoe: HashMap<(&str, &str), f64> = results
        .per_trace
        .iter()
        .map(|r| ((r.algorithm.as_str(), r.trace.as_str()), r.score.qoe))
        .collect();
    let run_ms = now_ms();
    let mut events = Vec::new();
    for s in logs {
        let trace = &traces[s.trace_index].name;
        let session = format!("{}-{run_ms}-{}-{trace}", source.as_str(), s.algorithm);
        let meta = SessionMeta {
            source,
            session: &session,
            video,
            algorithm: &s.algorithm,
            client: Some(format!(
                "{{\"trace\":{}}}",
                serde_json::Value::from(trace.as_str())
            )),
            start_ms: run_ms,
        };
        let q = qoe
            .get(&(s.algorithm.as_str(), trace.as_str()))
            .copied()
            .unwrap_or(f64::NAN);
        events.extend(session_events(&meta, &s.log.records, &s.log.decisions, q));
    }
    let sink = flag.start(events.len() + 1)?;
    if let Some(t) = &sink {
        let h = t.handle();
        for e in events {
            h.emit(e);
        }
    }
    finish(sink, source.as_str())
}

/// `neuralstream telemetry ...`.
#[derive(Args, Debug)]
pub struct TelemetryArgs {
    #[command(subcommand)]
    command: TelemetryCommand,
}

#[derive(Subcommand, Debug)]
enum TelemetryCommand {
    /// Move a Kafka topic into the Parquet layout, exactly once per event (offsets committed
    /// only after the files are durable; duplicates skipped). Safe to kill at any moment.
    Consume(ConsumeArgs),
    /// Read a telemetry folder and print its events per kind and source (checks every file).
    Show(ShowArgs),
}

#[derive(Args, Debug)]
struct ConsumeArgs {
    /// The topic, kafka://HOST:PORT/TOPIC.
    #[arg(long, value_name = "kafka://HOST:PORT/TOPIC")]
    from: String,
    /// Folder of the Parquet layout (date=YYYY-MM-DD/hour=HH/part-*.parquet).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Offsets file (default: OUT/.offsets-TOPIC.json).
    #[arg(long, value_name = "FILE")]
    offsets: Option<PathBuf>,
    /// Stop after this many seconds with nothing new (default: run until killed).
    #[arg(long, value_name = "SECONDS")]
    idle_exit_s: Option<f64>,
    /// Events per written file at most.
    #[arg(long, default_value_t = 100_000, value_name = "N")]
    batch_events: usize,
}

#[derive(Args, Debug)]
struct ShowArgs {
    /// Telemetry folder.
    dir: PathBuf,
}

/// Runs `neuralstream telemetry ...`.
pub fn run(args: TelemetryArgs) -> Result<()> {
    match args.command {
        TelemetryCommand::Consume(a) => {
            let mut o = ConsumeOptions::new(KafkaTarget::parse(&a.from)?, &a.out);
            o.offsets = a.offsets;
            o.batch_events = a.batch_events.max(1);
            if let Some(s) = a.idle_exit_s {
                anyhow::ensure!(
                    s.is_finite() && s >= 0.0,
                    "--idle-exit-s must be a number of seconds >= 0, got {s}"
                );
                o.idle_exit = Some(Duration::from_secs_f64(s));
            }
            let s = consume(&o, &AtomicBool::new(false))?;
            say!(
                "consumed {} records: {} events written in {} files, {} duplicates skipped, {} rejected, {} log restarts",
                s.records, s.written, s.files, s.duplicates, s.rejected, s.log_resets
            );
            Ok(())
        }
        TelemetryCommand::Show(a) => {
            let layout = ParquetLayout::new(&a.dir);
            let files = layout.files()?;
            let mut counts: BTreeMap<(&str, &str), u64> = BTreeMap::new();
            let mut total = 0u64;
            for f in &files {
                for e in neuralstream_telemetry::parquet_sink::read_file(f)? {
                    *counts
                        .entry((e.source.as_str(), e.kind.as_str()))
                        .or_default() += 1;
                    total += 1;
                }
            }
            say!("{total} events in {} files", files.len());
            for ((source, kind), n) in counts {
                say!("{source:<6} {kind:<14} {n}");
            }
            Ok(())
        }
    }
}
