//! The Arrow schema of [`Event`] and the conversions between events and record batches.
//!
//! The schema carries its version in its metadata ([`VERSION_KEY`]); Parquet files keep it, so a
//! reader checks it before it reads a row. Writers write version [`SCHEMA_VERSION`]; readers also
//! read every older version from [`OLDEST_READABLE_VERSION`] (version 1 is version 2 without the
//! last column, `end_reason`).

use crate::error::TelemetryError;
use crate::event::{EndReason, Event, EventKind, Source, OLDEST_READABLE_VERSION, SCHEMA_VERSION};
use arrow_array::builder::{Float64Builder, StringBuilder, UInt32Builder, UInt64Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type, UInt32Type, UInt64Type};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Schema metadata key holding [`SCHEMA_VERSION`].
pub const VERSION_KEY: &str = "neuralstream.telemetry.version";

/// The columns, in order: name, type, nullable.
const COLUMNS: [(&str, DataType, bool); 25] = [
    ("kind", DataType::Utf8, false),
    ("source", DataType::Utf8, false),
    ("time_ms", DataType::Int64, false),
    ("session", DataType::Utf8, false),
    ("video", DataType::Utf8, true),
    ("algorithm", DataType::Utf8, true),
    ("chunk", DataType::UInt32, true),
    ("level", DataType::UInt32, true),
    ("bitrate_kbps", DataType::Float64, true),
    ("size_bytes", DataType::UInt64, true),
    ("request_start_ms", DataType::Float64, true),
    ("response_end_ms", DataType::Float64, true),
    ("throughput_kbps", DataType::Float64, true),
    ("buffer_s", DataType::Float64, true),
    ("rebuffer_s", DataType::Float64, true),
    ("predicted_throughput_kbps", DataType::Float64, true),
    ("buffer_target_s", DataType::Float64, true),
    ("decision_us", DataType::Float64, true),
    ("qoe", DataType::Float64, true),
    ("client", DataType::Utf8, true),
    ("interval_ms", DataType::Float64, true),
    ("send_rate_kbps", DataType::Float64, true),
    ("rtt_ms", DataType::Float64, true),
    ("loss_fraction", DataType::Float64, true),
    // Version 2.
    ("end_reason", DataType::Utf8, true),
];

/// How many of [`COLUMNS`] (the first ones) a file of `version` has.
fn columns_of(version: u32) -> usize {
    if version == 1 {
        24
    } else {
        COLUMNS.len()
    }
}

/// The Arrow schema of version [`SCHEMA_VERSION`] (built once).
pub fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let fields: Vec<Field> = COLUMNS
                .iter()
                .map(|(name, ty, nullable)| Field::new(*name, ty.clone(), *nullable))
                .collect();
            let meta = HashMap::from([(VERSION_KEY.to_string(), SCHEMA_VERSION.to_string())]);
            Arc::new(Schema::new_with_metadata(fields, meta))
        })
        .clone()
}

/// Checks that a schema read from `origin` is of a version this build reads, with that version's
/// columns; returns the version.
pub fn check_schema(schema: &Schema, origin: &str) -> Result<u32, TelemetryError> {
    let version = check_version(
        schema.metadata().get(VERSION_KEY).map(String::as_str),
        origin,
    )?;
    check_columns(schema, version, origin)?;
    Ok(version)
}

/// Checks a version tag found in `origin` (`None`: there was none): one of
/// [`OLDEST_READABLE_VERSION`]..=[`SCHEMA_VERSION`], which it returns.
pub fn check_version(found: Option<&str>, origin: &str) -> Result<u32, TelemetryError> {
    match found.and_then(|v| v.parse::<u32>().ok()) {
        Some(v) if (OLDEST_READABLE_VERSION..=SCHEMA_VERSION).contains(&v) => Ok(v),
        _ => Err(TelemetryError::SchemaVersion {
            origin: origin.to_string(),
            found: found.unwrap_or("none").chars().take(20).collect(),
            expected: SCHEMA_VERSION,
        }),
    }
}

/// Checks that a schema has `version`'s columns, names and types, in order.
pub fn check_columns(schema: &Schema, version: u32, origin: &str) -> Result<(), TelemetryError> {
    let ours = self::schema();
    let want_len = columns_of(version);
    for (want, got) in ours
        .fields()
        .iter()
        .take(want_len)
        .zip(schema.fields().iter())
    {
        if want.name() != got.name() || want.data_type() != got.data_type() {
            return Err(TelemetryError::Corrupt {
                origin: origin.to_string(),
                problem: format!(
                    "column `{}` ({}) where version {version} has `{}` ({})",
                    got.name(),
                    got.data_type(),
                    want.name(),
                    want.data_type()
                ),
            });
        }
    }
    if want_len != schema.fields().len() {
        return Err(TelemetryError::Corrupt {
            origin: origin.to_string(),
            problem: format!(
                "{} columns where version {version} has {want_len}",
                schema.fields().len(),
            ),
        });
    }
    Ok(())
}

/// The float columns in schema order (after `size_bytes`, `client` sits between `qoe` and
/// `interval_ms`): how [`to_batch`] reads them.
const FLOATS_BEFORE_CLIENT: usize = 9;

fn float_fields(e: &Event) -> [Option<f64>; 13] {
    [
        e.request_start_ms,
        e.response_end_ms,
        e.throughput_kbps,
        e.buffer_s,
        e.rebuffer_s,
        e.predicted_throughput_kbps,
        e.buffer_target_s,
        e.decision_us,
        e.qoe,
        e.interval_ms,
        e.send_rate_kbps,
        e.rtt_ms,
        e.loss_fraction,
    ]
}

/// The events as one record batch of [`schema`], built in one pass over the events (a pass per
/// column would read the row-major events 24 times; this is what makes the Parquet sink fast).
pub fn to_batch(events: &[Event]) -> RecordBatch {
    let n = events.len();
    let mut kind = StringBuilder::with_capacity(n, n * 8);
    let mut source = StringBuilder::with_capacity(n, n * 5);
    let mut time = Vec::with_capacity(n);
    let mut session = StringBuilder::with_capacity(n, n * 16);
    let mut video = StringBuilder::with_capacity(n, n * 8);
    let mut algorithm = StringBuilder::with_capacity(n, n * 8);
    let mut chunk = UInt32Builder::with_capacity(n);
    let mut level = UInt32Builder::with_capacity(n);
    let mut bitrate = Float64Builder::with_capacity(n);
    let mut size = UInt64Builder::with_capacity(n);
    let mut client = StringBuilder::with_capacity(n, 0);
    let mut end_reason = StringBuilder::with_capacity(n, 0);
    let mut floats: Vec<Float64Builder> =
        (0..13).map(|_| Float64Builder::with_capacity(n)).collect();
    for e in events {
        kind.append_value(e.kind.as_str());
        source.append_value(e.source.as_str());
        time.push(e.time_ms);
        session.append_value(&e.session);
        video.append_option(e.video.as_deref());
        algorithm.append_option(e.algorithm.as_deref());
        chunk.append_option(e.chunk);
        level.append_option(e.level);
        bitrate.append_option(e.bitrate_kbps);
        size.append_option(e.size_bytes);
        client.append_option(e.client.as_deref());
        end_reason.append_option(e.end_reason.map(EndReason::as_str));
        for (b, v) in floats.iter_mut().zip(float_fields(e)) {
            b.append_option(v);
        }
    }
    let mut floats: Vec<ArrayRef> = floats
        .iter_mut()
        .map(|b| Arc::new(b.finish()) as ArrayRef)
        .collect();
    let after_client = floats.split_off(FLOATS_BEFORE_CLIENT);
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(kind.finish()),
        Arc::new(source.finish()),
        Arc::new(Int64Array::from(time)),
        Arc::new(session.finish()),
        Arc::new(video.finish()),
        Arc::new(algorithm.finish()),
        Arc::new(chunk.finish()),
        Arc::new(level.finish()),
        Arc::new(bitrate.finish()),
        Arc::new(size.finish()),
    ];
    columns.extend(floats);
    columns.push(Arc::new(client.finish()));
    columns.extend(after_client);
    columns.push(Arc::new(end_reason.finish()));
    RecordBatch::try_new(schema(), columns).expect("columns follow COLUMNS")
}

/// The events of a record batch with the columns of `version` (checked; the version tag is the
/// container's to check, see [`check_version`]); `origin` names it in errors.
pub fn from_batch(
    batch: &RecordBatch,
    version: u32,
    origin: &str,
) -> Result<Vec<Event>, TelemetryError> {
    check_columns(&batch.schema(), version, origin)?;
    let c = |i: usize| batch.column(i);
    let corrupt = |row: usize, problem: String| TelemetryError::Corrupt {
        origin: origin.to_string(),
        problem: format!("row {row}: {problem}"),
    };
    let kind = c(0).as_string::<i32>();
    let source = c(1).as_string::<i32>();
    let time = c(2).as_primitive::<Int64Type>();
    let session = c(3).as_string::<i32>();
    let opt_str = |i: usize, row: usize| {
        let a = c(i).as_string::<i32>();
        a.is_valid(row).then(|| a.value(row).to_string())
    };
    let opt_f = |i: usize, row: usize| {
        let a = c(i).as_primitive::<Float64Type>();
        a.is_valid(row).then(|| a.value(row))
    };
    let opt_u32 = |i: usize, row: usize| {
        let a = c(i).as_primitive::<UInt32Type>();
        a.is_valid(row).then(|| a.value(row))
    };
    let size = c(9).as_primitive::<UInt64Type>();
    let has_end_reason = batch.num_columns() > 24;
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        if kind.is_null(row) || source.is_null(row) || time.is_null(row) || session.is_null(row) {
            return Err(corrupt(row, "null in a required column".into()));
        }
        let k = EventKind::parse(kind.value(row))
            .ok_or_else(|| corrupt(row, format!("unknown kind `{}`", kind.value(row))))?;
        let s = Source::parse(source.value(row))
            .ok_or_else(|| corrupt(row, format!("unknown source `{}`", source.value(row))))?;
        let mut e = Event::new(k, s, time.value(row), session.value(row));
        e.video = opt_str(4, row);
        e.algorithm = opt_str(5, row);
        e.chunk = opt_u32(6, row);
        e.level = opt_u32(7, row);
        e.bitrate_kbps = opt_f(8, row);
        e.size_bytes = size.is_valid(row).then(|| size.value(row));
        e.request_start_ms = opt_f(10, row);
        e.response_end_ms = opt_f(11, row);
        e.throughput_kbps = opt_f(12, row);
        e.buffer_s = opt_f(13, row);
        e.rebuffer_s = opt_f(14, row);
        e.predicted_throughput_kbps = opt_f(15, row);
        e.buffer_target_s = opt_f(16, row);
        e.decision_us = opt_f(17, row);
        e.qoe = opt_f(18, row);
        e.client = opt_str(19, row);
        e.interval_ms = opt_f(20, row);
        e.send_rate_kbps = opt_f(21, row);
        e.rtt_ms = opt_f(22, row);
        e.loss_fraction = opt_f(23, row);
        if has_end_reason {
            e.end_reason = match opt_str(24, row) {
                None => None,
                Some(r) => Some(EndReason::parse(&r).ok_or_else(|| {
                    corrupt(
                        row,
                        format!(
                            "unknown end_reason `{}` (completed, idle-timeout, evicted, server-shutdown)",
                            crate::event::excerpt(&r)
                        ),
                    )
                })?),
            };
        }
        out.push(e);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_round_trips_events() {
        let mut a = Event::new(EventKind::Chunk, Source::Serve, 5, "a");
        a.chunk = Some(1);
        a.size_bytes = Some(1000);
        a.throughput_kbps = Some(2.5);
        a.video = Some("v".into());
        a.algorithm = Some("bb".into());
        a.level = Some(2);
        a.bitrate_kbps = Some(1.0);
        a.request_start_ms = Some(2.0);
        a.response_end_ms = Some(3.0);
        a.buffer_s = Some(4.0);
        a.rebuffer_s = Some(5.0);
        a.predicted_throughput_kbps = Some(6.0);
        a.buffer_target_s = Some(7.0);
        a.decision_us = Some(8.0);
        a.qoe = Some(9.0);
        a.interval_ms = Some(10.0);
        a.send_rate_kbps = Some(11.0);
        a.rtt_ms = Some(12.0);
        a.loss_fraction = Some(0.5);
        a.end_reason = Some(EndReason::IdleTimeout);
        let mut b = Event::new(EventKind::SessionStart, Source::Play, 6, "b");
        b.client = Some("{\"player\":\"native\"}".into());
        let events = vec![a, b];
        let batch = to_batch(&events);
        assert_eq!(batch.num_rows(), 2);
        assert_eq!(from_batch(&batch, SCHEMA_VERSION, "test").unwrap(), events);
    }

    #[test]
    fn a_version_1_batch_reads_with_no_end_reason() {
        let mut e = Event::new(EventKind::SessionEnd, Source::Serve, 5, "a");
        e.qoe = Some(3.0);
        e.end_reason = Some(EndReason::Completed);
        let v2 = to_batch(std::slice::from_ref(&e));
        // Version 1: the same columns but the last, and the version 1 tag.
        let fields: Vec<Field> = schema().fields()[..24]
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        let meta = HashMap::from([(VERSION_KEY.to_string(), "1".to_string())]);
        let v1_schema = Arc::new(Schema::new_with_metadata(fields, meta));
        let v1 = RecordBatch::try_new(v1_schema.clone(), v2.columns()[..24].to_vec()).unwrap();
        assert_eq!(check_schema(&v1_schema, "old.parquet").unwrap(), 1);
        let back = from_batch(&v1, 1, "old.parquet").unwrap();
        e.end_reason = None;
        assert_eq!(back, vec![e]);
        // A version-1 tag on version-2 columns (or the reverse) is refused.
        let msg = from_batch(&v2, 1, "x.parquet").unwrap_err().to_string();
        assert!(msg.contains("25 columns where version 1 has 24"), "{msg}");
        assert!(from_batch(&v1, 2, "x.parquet").is_err());
    }

    #[test]
    fn an_unknown_end_reason_is_refused_naming_the_row() {
        let e = Event::new(EventKind::SessionEnd, Source::Serve, 5, "a");
        let batch = to_batch(&[e]);
        let mut columns = batch.columns().to_vec();
        columns[24] = Arc::new(arrow_array::StringArray::from(vec![Some("bored")]));
        let bad = RecordBatch::try_new(schema(), columns).unwrap();
        let msg = from_batch(&bad, 2, "f.parquet").unwrap_err().to_string();
        assert!(msg.contains("row 0") && msg.contains("bored"), "{msg}");
    }

    #[test]
    fn another_version_is_refused_naming_both() {
        let mut meta = schema().metadata().clone();
        meta.insert(VERSION_KEY.into(), "99".into());
        let other = Schema::new_with_metadata(schema().fields().clone(), meta);
        let msg = check_schema(&other, "f.parquet").unwrap_err().to_string();
        assert!(
            msg.contains("f.parquet") && msg.contains("99") && msg.contains("version 1 to 2"),
            "{msg}"
        );
        assert!(check_version(Some("0"), "f").is_err());
        assert!(check_version(Some("3"), "f").is_err());
        assert!(check_version(None, "f").is_err());
        assert_eq!(check_version(Some("1"), "f").unwrap(), 1);
        assert_eq!(check_version(Some("2"), "f").unwrap(), 2);
    }
}
