//! The consumer: moves a Kafka topic into the Parquet layout, exactly once per event.
//!
//! The order of a round is what makes a crash safe: fetch records, decode and de-duplicate them,
//! write the new events as Parquet files (synced and renamed into place), **then** replace the
//! offsets file (temporary + sync + rename). Killed before the offsets are replaced, the next
//! run fetches the same records again and de-duplicates them against the keys the layout
//! already holds (read at start), so nothing is written twice; killed before the files are
//! durable, the offsets were not committed, so nothing is lost.
//!
//! Each fetch starts one record before the committed offset and checks that this record is the
//! one committed (its key and the producer's epoch): a broker whose log restarted (tansu with
//! memory storage) fails the check, and the partition is read again from its earliest offset
//! (see [`crate::kafka`]).
//!
//! The de-duplication set holds every key of the layout in memory (about 60 bytes per event);
//! a layout of billions of events would need it restricted to recent partitions.

use crate::error::TelemetryError;
use crate::event::EventKey;
use crate::kafka::{epoch_of, from_record, KafkaTarget};
use crate::parquet_sink::ParquetLayout;
use rskafka::client::error::{Error as KafkaError, ProtocolError};
use rskafka::client::partition::{OffsetAt, PartitionClient};
use rskafka::record::RecordAndOffset;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Version of the offsets file.
pub const OFFSETS_VERSION: u32 = 1;

/// Settings of [`consume`].
#[derive(Debug, Clone)]
pub struct ConsumeOptions {
    /// The topic to read.
    pub source: KafkaTarget,
    /// Root of the Parquet layout to write.
    pub out: PathBuf,
    /// The offsets file (default `OUT/.offsets-TOPIC.json`; hidden, so readers skip it).
    pub offsets: Option<PathBuf>,
    /// Events per written batch at most (default 100,000).
    pub batch_events: usize,
    /// Stop after this long with nothing new (default: run until `stop` is set).
    pub idle_exit: Option<Duration>,
    /// Bytes fetched per request at most (default 4 MiB).
    pub fetch_bytes: i32,
}

impl ConsumeOptions {
    /// Defaults for `source` into `out`.
    pub fn new(source: KafkaTarget, out: impl Into<PathBuf>) -> Self {
        ConsumeOptions {
            source,
            out: out.into(),
            offsets: None,
            batch_events: 100_000,
            idle_exit: None,
            fetch_bytes: 4 << 20,
        }
    }

    /// The offsets file path.
    pub fn offsets_path(&self) -> PathBuf {
        self.offsets.clone().unwrap_or_else(|| {
            self.out
                .join(format!(".offsets-{}.json", self.source.topic))
        })
    }
}

/// What a run of [`consume`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConsumeStats {
    /// Records fetched.
    pub records: u64,
    /// Events written to new files.
    pub written: u64,
    /// Records skipped as already written (same session, kind, chunk).
    pub duplicates: u64,
    /// Records refused: another schema version, not an event, impossible values.
    pub rejected: u64,
    /// Files written.
    pub files: u64,
    /// Partitions read again from the start because the broker's log restarted.
    pub log_resets: u64,
}

/// Where a partition was committed: the next offset and what identifies the record before it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Committed {
    next: i64,
    #[serde(default)]
    last: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct OffsetsFile {
    version: u32,
    topic: String,
    partitions: BTreeMap<i32, Committed>,
}

fn read_offsets(path: &Path, topic: &str) -> Result<BTreeMap<i32, Committed>, TelemetryError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(TelemetryError::io(path, "reading the offsets file", e)),
    };
    let corrupt = |problem: String| TelemetryError::Corrupt {
        origin: path.display().to_string(),
        problem: format!(
            "{problem}; delete it to read the topic again from the start (duplicates are skipped)"
        ),
    };
    let f: OffsetsFile = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
    if f.version != OFFSETS_VERSION {
        return Err(corrupt(format!(
            "offsets version {}, expected {OFFSETS_VERSION}",
            f.version
        )));
    }
    if f.topic != topic {
        return Err(corrupt(format!(
            "offsets of topic `{}`, not `{topic}`",
            f.topic
        )));
    }
    Ok(f.partitions)
}

fn write_offsets(
    path: &Path,
    topic: &str,
    partitions: &BTreeMap<i32, Committed>,
) -> Result<(), TelemetryError> {
    let f = OffsetsFile {
        version: OFFSETS_VERSION,
        topic: topic.into(),
        partitions: partitions.clone(),
    };
    let body = serde_json::to_vec_pretty(&f).expect("offsets serialise");
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    {
        use std::io::Write;
        let mut file = std::fs::File::create(&tmp)
            .map_err(|e| TelemetryError::io(&tmp, "creating the offsets file", e))?;
        file.write_all(&body)
            .and_then(|()| file.sync_all())
            .map_err(|e| TelemetryError::io(&tmp, "writing the offsets file", e))?;
    }
    std::fs::rename(&tmp, path)
        .map_err(|e| TelemetryError::io(path, "committing the offsets file", e))?;
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| TelemetryError::io(dir, "syncing the folder", e))
}

/// What identifies a record: the producer's epoch and the event's key.
fn identity(r: &RecordAndOffset) -> String {
    let key = r
        .record
        .key
        .as_deref()
        .map(String::from_utf8_lossy)
        .unwrap_or_default();
    let value = r.record.value.as_deref().unwrap_or_default();
    // The value's hash tells two events of one session apart without parsing it again.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in value {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{}/{key}/{h:016x}", epoch_of(&r.record))
}

/// Moves `options.source` into `options.out` until `stop` is set or, with `idle_exit`, nothing
/// new came for that long. A broker that cannot be reached is retried (reported through the
/// returned error only when `idle_exit` passes without one answer).
pub fn consume(
    options: &ConsumeOptions,
    stop: &AtomicBool,
) -> Result<ConsumeStats, TelemetryError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TelemetryError::Stopped(format!("could not start the runtime: {e}")))?;
    rt.block_on(run(options, stop))
}

struct State {
    layout: ParquetLayout,
    keys: HashSet<EventKey>,
    committed: BTreeMap<i32, Committed>,
    pending: Vec<crate::event::Event>,
    /// Offsets read but not yet committed.
    position: BTreeMap<i32, Committed>,
    stats: ConsumeStats,
}

async fn run(options: &ConsumeOptions, stop: &AtomicBool) -> Result<ConsumeStats, TelemetryError> {
    let layout = ParquetLayout::new(&options.out);
    std::fs::create_dir_all(&options.out)
        .map_err(|e| TelemetryError::io(&options.out, "creating the output folder", e))?;
    layout.cleanup_temporaries()?;
    let offsets_path = options.offsets_path();
    let committed = read_offsets(&offsets_path, &options.source.topic)?;
    let keys: HashSet<EventKey> = layout.read_all()?.iter().map(|e| e.key()).collect();
    let mut st = State {
        layout,
        keys,
        position: committed.clone(),
        committed,
        pending: Vec::new(),
        stats: ConsumeStats::default(),
    };
    let mut last_progress = Instant::now();
    let mut last_error: Option<TelemetryError> = None;
    let mut connected_once = false;
    while !stop.load(Ordering::Relaxed) {
        let parts = match connect(&options.source).await {
            Ok(p) => p,
            Err(e) => {
                last_error = Some(e);
                if idle_passed(options, last_progress) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        connected_once = true;
        // Read until an error (then reconnect) or the end.
        match read_rounds(
            options,
            &parts,
            &mut st,
            stop,
            &mut last_progress,
            &offsets_path,
        )
        .await
        {
            Ok(()) => break,
            Err(e) => {
                last_error = Some(e);
                if idle_passed(options, last_progress) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    flush(&mut st, &offsets_path, &options.source.topic)?;
    match last_error {
        Some(e) if !connected_once => Err(e),
        _ => Ok(st.stats),
    }
}

fn idle_passed(options: &ConsumeOptions, since: Instant) -> bool {
    options.idle_exit.is_some_and(|d| since.elapsed() >= d)
}

async fn connect(target: &KafkaTarget) -> Result<Vec<PartitionClient>, TelemetryError> {
    let client = target.connect().await?;
    let n = target.partitions(&client, 0).await?;
    let mut parts = Vec::new();
    for p in 0..n {
        parts.push(target.partition_client(&client, p).await?);
    }
    Ok(parts)
}

async fn read_rounds(
    options: &ConsumeOptions,
    parts: &[PartitionClient],
    st: &mut State,
    stop: &AtomicBool,
    last_progress: &mut Instant,
    offsets_path: &Path,
) -> Result<(), TelemetryError> {
    let target = &options.source;
    while !stop.load(Ordering::Relaxed) {
        let mut got = 0usize;
        for (p, client) in parts.iter().enumerate() {
            got += read_partition(target, p as i32, client, st, options.fetch_bytes).await?;
        }
        if got > 0 {
            *last_progress = Instant::now();
        }
        if st.pending.len() >= options.batch_events || (got == 0 && st.position != st.committed) {
            flush(st, offsets_path, &target.topic)?;
        }
        if got == 0 {
            if idle_passed(options, *last_progress) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    Ok(())
}

/// One fetch from partition `p`; returns the number of new records read.
async fn read_partition(
    target: &KafkaTarget,
    p: i32,
    client: &PartitionClient,
    st: &mut State,
    fetch_bytes: i32,
) -> Result<usize, TelemetryError> {
    let pos = st.position.get(&p).cloned().unwrap_or_default();
    // Start one record early to check the record before `next` is the one we committed.
    let from = if pos.last.is_some() {
        pos.next - 1
    } else {
        pos.next
    };
    let fetched = client
        .fetch_records(from, 1..fetch_bytes.max(1024), 100)
        .await;
    let (records, high_watermark) = match fetched {
        Ok(r) => r,
        Err(KafkaError::ServerError {
            protocol_error: ProtocolError::OffsetOutOfRange,
            ..
        }) => {
            return restart_partition(target, p, client, st).await;
        }
        Err(e) => return Err(target.error("fetching", e)),
    };
    let mut records = records.into_iter().filter(|r| r.offset >= from).peekable();
    if let Some(last) = &pos.last {
        match records.peek() {
            Some(r) if r.offset == from && identity(r) == *last => {
                records.next();
            }
            Some(_) => return restart_partition(target, p, client, st).await,
            None if high_watermark < pos.next => {
                return restart_partition(target, p, client, st).await
            }
            None => return Ok(0),
        }
    }
    let mut n = 0;
    let mut next = pos.clone();
    for r in records {
        n += 1;
        st.stats.records += 1;
        let origin = format!("{}/{p}@{}", target.topic, r.offset);
        match from_record(&r.record, &origin) {
            Ok(event) => {
                if st.keys.insert(event.key()) {
                    st.pending.push(event);
                } else {
                    st.stats.duplicates += 1;
                }
            }
            Err(_) => st.stats.rejected += 1,
        }
        next = Committed {
            next: r.offset + 1,
            last: Some(identity(&r)),
        };
    }
    st.position.insert(p, next);
    Ok(n)
}

/// The partition's log is not the one committed: read it again from its earliest offset.
async fn restart_partition(
    target: &KafkaTarget,
    p: i32,
    client: &PartitionClient,
    st: &mut State,
) -> Result<usize, TelemetryError> {
    let earliest = client
        .get_offset(OffsetAt::Earliest)
        .await
        .map_err(|e| target.error("finding the earliest offset", e))?;
    st.stats.log_resets += 1;
    st.position.insert(
        p,
        Committed {
            next: earliest,
            last: None,
        },
    );
    Ok(0)
}

/// Writes the pending events durably, then commits the positions read.
fn flush(st: &mut State, offsets_path: &Path, topic: &str) -> Result<(), TelemetryError> {
    if !st.pending.is_empty() {
        let files = st.layout.write(&st.pending)?;
        st.stats.files += files.len() as u64;
        st.stats.written += st.pending.len() as u64;
        st.pending.clear();
    }
    if st.position != st.committed {
        write_offsets(offsets_path, topic, &st.position)?;
        st.committed = st.position.clone();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_file_round_trips_and_bad_ones_say_how_to_recover() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join(".offsets-t.json");
        assert!(read_offsets(&p, "t").unwrap().is_empty());
        let mut m = BTreeMap::new();
        m.insert(
            0,
            Committed {
                next: 5,
                last: Some("1/s/00".into()),
            },
        );
        write_offsets(&p, "t", &m).unwrap();
        assert_eq!(read_offsets(&p, "t").unwrap(), m);
        let msg = read_offsets(&p, "other").unwrap_err().to_string();
        assert!(
            msg.contains("topic `t`") && msg.contains("delete it"),
            "{msg}"
        );
        std::fs::write(&p, "{").unwrap();
        assert!(read_offsets(&p, "t")
            .unwrap_err()
            .to_string()
            .contains(".offsets-t.json"));
    }

    #[test]
    fn an_unreachable_broker_is_a_clear_error_after_idle_exit() {
        let dir = tempfile::tempdir().unwrap();
        let mut o = ConsumeOptions::new(
            KafkaTarget::parse("kafka://127.0.0.1:1/t").unwrap(),
            dir.path(),
        );
        o.idle_exit = Some(Duration::from_millis(300));
        let msg = consume(&o, &AtomicBool::new(false))
            .unwrap_err()
            .to_string();
        assert!(msg.contains("kafka://127.0.0.1:1/t"), "{msg}");
    }
}
