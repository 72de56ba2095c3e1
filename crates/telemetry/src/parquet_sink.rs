//! The Parquet layout: `ROOT/date=YYYY-MM-DD/hour=HH/part-*.parquet`, zstd, one row group per
//! write, partitioned by the events' `time_ms` (UTC), the Hive-style layout Spark and pyarrow
//! read as a partitioned data set.
//!
//! A file is written whole under a hidden temporary name (`.part-*.tmp`) in its final folder,
//! synced, renamed into place, and the folder synced: a reader never sees a partial file, and a
//! file that is visible survives a crash. Readers skip names starting with a dot, so a crash's
//! leftover temporary file is never read (`cleanup_temporaries` removes them).

use crate::error::TelemetryError;
use crate::event::Event;
use crate::event::SCHEMA_VERSION;
use crate::schema::{check_columns, check_version, from_batch, schema, to_batch, VERSION_KEY};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// zstd level of the files: 1 is the fastest and still shrinks the repetitive columns ~10x.
pub const ZSTD_LEVEL: i32 = 1;

/// Most rows per row group (a write of more rows makes several).
pub const MAX_ROW_GROUP_ROWS: usize = 1 << 20;

/// Largest telemetry file read (a bound on what a corrupt or hostile file can make us allocate).
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The partition folder of an event time: `date=YYYY-MM-DD/hour=HH` (UTC).
pub fn partition_dir(time_ms: i64) -> String {
    let secs = time_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let hour = secs.rem_euclid(86_400) / 3600;
    let (y, m, d) = civil_from_days(days);
    format!("date={y:04}-{m:02}-{d:02}/hour={hour:02}")
}

/// Gregorian date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A folder of telemetry in the partitioned Parquet layout.
#[derive(Debug, Clone)]
pub struct ParquetLayout {
    root: PathBuf,
}

impl ParquetLayout {
    /// The layout under `root` (created on the first write).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ParquetLayout { root: root.into() }
    }

    /// The root folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Writes `events` as one new file per date/hour partition they fall in, each atomically;
    /// returns the files written (none for no events).
    pub fn write(&self, events: &[Event]) -> Result<Vec<PathBuf>, TelemetryError> {
        let Some(first) = events.first() else {
            return Ok(Vec::new());
        };
        let first_dir = partition_dir(first.time_ms);
        let hour_of = |t: i64| t.div_euclid(3_600_000);
        let first_hour = hour_of(first.time_ms);
        if events.iter().all(|e| hour_of(e.time_ms) == first_hour) {
            return Ok(vec![self.write_partition(&first_dir, events)?]);
        }
        let mut groups: BTreeMap<i64, Vec<Event>> = BTreeMap::new();
        for e in events {
            groups
                .entry(hour_of(e.time_ms))
                .or_default()
                .push(e.clone());
        }
        groups
            .values()
            .map(|g| self.write_partition(&partition_dir(g[0].time_ms), g))
            .collect()
    }

    fn write_partition(&self, dir: &str, events: &[Event]) -> Result<PathBuf, TelemetryError> {
        let folder = self.root.join(dir);
        if !folder.is_dir() {
            std::fs::create_dir_all(&folder)
                .map_err(|e| TelemetryError::io(&folder, "creating the partition folder", e))?;
            // Make the new folders themselves durable (the date folder in the root, the hour
            // folder in the date folder).
            if let Some(date) = folder.parent() {
                sync_dir(date)?;
                sync_dir(&self.root)?;
            }
        }
        let name = unique_name();
        let tmp = folder.join(format!(".{name}.tmp"));
        let path = folder.join(&name);
        write_file(&tmp, events)?;
        std::fs::rename(&tmp, &path)
            .map_err(|e| TelemetryError::io(&path, "renaming the finished file into place", e))?;
        sync_dir(&folder)?;
        Ok(path)
    }

    /// Every telemetry file of the layout, sorted by path (hidden temporaries skipped).
    pub fn files(&self) -> Result<Vec<PathBuf>, TelemetryError> {
        let mut out = Vec::new();
        if self.root.exists() {
            collect_files(&self.root, 0, &mut out)?;
        }
        out.sort();
        Ok(out)
    }

    /// Every event of every file, in file order.
    pub fn read_all(&self) -> Result<Vec<Event>, TelemetryError> {
        let mut out = Vec::new();
        for f in self.files()? {
            out.extend(read_file(&f)?);
        }
        Ok(out)
    }

    /// Removes temporary files a crash left behind; returns how many.
    pub fn cleanup_temporaries(&self) -> Result<usize, TelemetryError> {
        let mut n = 0;
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for entry in entries.flatten() {
                let p = entry.path();
                let name = entry.file_name().to_string_lossy().into_owned();
                if p.is_dir() {
                    stack.push(p);
                } else if name.starts_with('.') && name.ends_with(".tmp") {
                    std::fs::remove_file(&p)
                        .map_err(|e| TelemetryError::io(&p, "removing a leftover temporary", e))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }
}

fn collect_files(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), TelemetryError> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| TelemetryError::io(dir, "listing the folder", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TelemetryError::io(dir, "listing the folder", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let p = entry.path();
        if p.is_dir() && depth < 2 {
            collect_files(&p, depth + 1, out)?;
        } else if p.is_file() && name.ends_with(".parquet") {
            out.push(p);
        }
    }
    Ok(())
}

/// A file name no other writer (process or thread) picks: time, process id, counter.
fn unique_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("part-{nanos}-{}-{n}.parquet", std::process::id())
}

fn sync_dir(dir: &Path) -> Result<(), TelemetryError> {
    File::open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| TelemetryError::io(dir, "syncing the folder", e))
}

/// The writer settings of every telemetry file.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).expect("1 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(MAX_ROW_GROUP_ROWS))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            VERSION_KEY.to_string(),
            SCHEMA_VERSION.to_string(),
        )]))
        .build()
}

/// Writes `events` to `path` (created or truncated) and syncs it. Not atomic by itself: the
/// layout writes to a temporary name and renames.
pub fn write_file(path: &Path, events: &[Event]) -> Result<(), TelemetryError> {
    let file = File::create(path).map_err(|e| TelemetryError::io(path, "creating", e))?;
    let origin = path.display().to_string();
    let pq = |e: parquet::errors::ParquetError| TelemetryError::Parquet {
        origin: origin.clone(),
        message: e.to_string(),
    };
    let mut writer = ArrowWriter::try_new(file, schema(), Some(writer_properties())).map_err(pq)?;
    writer.write(&to_batch(events)).map_err(pq)?;
    let file = writer.into_inner().map_err(pq)?;
    file.sync_all()
        .map_err(|e| TelemetryError::io(path, "syncing", e))
}

/// Reads every event of one telemetry file, refusing a file of another schema version or one
/// that is not Parquet, with the path in the message.
pub fn read_file(path: &Path) -> Result<Vec<Event>, TelemetryError> {
    let origin = path.display().to_string();
    let file = File::open(path).map_err(|e| TelemetryError::io(path, "opening", e))?;
    let len = file
        .metadata()
        .map_err(|e| TelemetryError::io(path, "reading the size", e))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(TelemetryError::Corrupt {
            origin,
            problem: format!("{len} bytes, over the {MAX_FILE_BYTES}-byte limit of one file"),
        });
    }
    let corrupt = |e: parquet::errors::ParquetError| TelemetryError::Corrupt {
        origin: origin.clone(),
        problem: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(corrupt)?;
    let version = builder
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .and_then(|kv| kv.iter().find(|k| k.key == VERSION_KEY))
        .and_then(|k| k.value.as_deref());
    let version = check_version(version, &origin)?;
    check_columns(builder.schema(), version, &origin)?;
    let reader = builder
        .with_batch_size(64 * 1024)
        .build()
        .map_err(corrupt)?;
    let mut out = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| TelemetryError::Corrupt {
            origin: origin.clone(),
            problem: e.to_string(),
        })?;
        out.extend(from_batch(&batch, version, &origin)?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{EventKind, Source};

    #[test]
    fn partition_folders_follow_utc_dates() {
        assert_eq!(partition_dir(0), "date=1970-01-01/hour=00");
        // 2026-12-07T01:02:03Z
        assert_eq!(partition_dir(1_796_605_323_000), "date=2026-12-07/hour=01");
        // 2024-02-29T23:59:59.999Z, a leap day
        assert_eq!(partition_dir(1_709_251_199_999), "date=2024-02-29/hour=23");
    }

    #[test]
    fn events_of_two_hours_land_in_two_files_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ParquetLayout::new(dir.path());
        let events: Vec<Event> = (0..10)
            .map(|i| {
                let mut e = Event::new(EventKind::Chunk, Source::Bench, i * 1_000_000, "s");
                e.chunk = Some(i as u32);
                e
            })
            .collect();
        let files = layout.write(&events).unwrap();
        assert_eq!(files.len(), 3, "{files:?}");
        let mut back = layout.read_all().unwrap();
        back.sort_by_key(|e| e.chunk);
        assert_eq!(back, events);
    }

    #[test]
    fn corrupt_file_is_refused_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.parquet");
        std::fs::write(&p, b"PAR1 this is not a parquet file PAR1").unwrap();
        let msg = read_file(&p).unwrap_err().to_string();
        assert!(
            msg.contains("bad.parquet") && msg.contains("not a readable"),
            "{msg}"
        );
    }

    #[test]
    fn a_file_of_another_version_is_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v3.parquet");
        let file = File::create(&p).unwrap();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(vec![KeyValue::new(
                VERSION_KEY.to_string(),
                "3".to_string(),
            )]))
            .build();
        let batch = to_batch(&[Event::new(EventKind::Chunk, Source::Bench, 1, "s")]);
        let mut w = ArrowWriter::try_new(file, batch.schema(), Some(props)).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let msg = read_file(&p).unwrap_err().to_string();
        assert!(
            msg.contains("v3.parquet")
                && msg.contains("version 3")
                && msg.contains("reads version 1 to 2"),
            "{msg}"
        );
    }

    #[test]
    fn a_version_1_file_still_reads() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v1.parquet");
        let mut end = Event::new(EventKind::SessionEnd, Source::Serve, 1, "s");
        end.qoe = Some(2.0);
        // What a version-1 writer wrote: the first 24 columns, tagged 1.
        let batch = to_batch(std::slice::from_ref(&end));
        let fields: Vec<_> = batch.schema().fields()[..24].to_vec();
        let v1 = arrow_array::RecordBatch::try_new(
            std::sync::Arc::new(arrow_schema::Schema::new(fields)),
            batch.columns()[..24].to_vec(),
        )
        .unwrap();
        let props = WriterProperties::builder()
            .set_key_value_metadata(Some(vec![KeyValue::new(
                VERSION_KEY.to_string(),
                "1".to_string(),
            )]))
            .build();
        let mut w =
            ArrowWriter::try_new(File::create(&p).unwrap(), v1.schema(), Some(props)).unwrap();
        w.write(&v1).unwrap();
        w.close().unwrap();
        assert_eq!(read_file(&p).unwrap(), vec![end]);
    }

    #[test]
    fn truncated_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.parquet");
        let events = vec![Event::new(EventKind::Chunk, Source::Bench, 1, "s"); 100];
        write_file(&p, &events).unwrap();
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
        assert!(read_file(&p).unwrap_err().to_string().contains("t.parquet"));
    }

    #[test]
    fn hidden_temporaries_are_never_read_and_are_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let layout = ParquetLayout::new(dir.path());
        layout
            .write(&[Event::new(EventKind::Chunk, Source::Bench, 1, "s")])
            .unwrap();
        let hour = dir.path().join(partition_dir(1));
        std::fs::write(hour.join(".part-x.parquet.tmp"), b"half a file").unwrap();
        assert_eq!(layout.read_all().unwrap().len(), 1);
        assert_eq!(layout.cleanup_temporaries().unwrap(), 1);
    }
}
