//! The real-time wire messages and the JSON-lines metrics dataset (schema in
//! `docs/rt_dataset.md`).
//!
//! A live sender reports one [`IntervalReport`] per feedback interval (50 ms): exactly the
//! [`Feedback`] a simulated controller sees (per-packet send and arrival times, losses, RTT) plus
//! the settings the encoder applied. The server answers with a [`DecisionMessage`] and appends
//! one [`Record`] per interval to the dataset: the report, the decision it led to, the session and
//! controller ids and the schema version. `rt train --dataset` reads those records back
//! ([`read_dataset_dir`]) and [`replay`] runs a recorded session through any controller offline
//! (its decisions, not their counterfactual effect on the link: counterfactual evaluation is out
//! of scope).
//!
//! **Key design decision:** the record carries the raw per-packet feedback, not derived features,
//! so the controllers' own code (GCC's trendline, the DQN tracker) recomputes everything from a
//! recorded session exactly as it did live, and a change of features never invalidates a dataset.
//!
//! **Files.** [`DatasetWriter`] writes one file per UTC hour, `rt-YYYY-MM-DDTHH.jsonl`, atomically:
//! lines go to a hidden `.rt-...jsonl.partial` file that is renamed into place when the hour ends
//! or the writer finishes, so a reader never sees half a file. A name already taken (a restart in
//! the same hour) gets a `-1`, `-2`, ... suffix. Every reader error names the file and the 1-based
//! line and says what to fix.

use crate::controller::{Controller, Decision, Feedback, PacketReport, Resolution};
use crate::error::RtError;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

/// Version of the messages and records this code reads and writes (field `v`).
pub const SCHEMA_VERSION: u32 = 1;
/// Most packets one report may list (a 50 ms interval at 100 Mbit/s holds about 520).
pub const MAX_PACKETS_PER_REPORT: usize = 4096;
/// Longest dataset line read, bytes (a full report of [`MAX_PACKETS_PER_REPORT`] packets fits).
pub const MAX_LINE_BYTES: usize = 1 << 20;
/// Largest time accepted in a report, ms (about 31 years: a sender's clock since its start).
pub const MAX_TIME_MS: f64 = 1e12;
/// Highest frame rate accepted.
pub const MAX_FPS: u32 = 240;

/// Encoder settings: what a sender applied or what a controller asks for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Settings {
    /// Encoder target bitrate, bit/s.
    pub target_bps: f64,
    /// Picture height: 480, 720 or 1080.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
}

impl Settings {
    /// The settings of a controller's decision.
    pub fn of(d: &Decision) -> Self {
        Settings {
            target_bps: d.target_bps,
            height: d.resolution.height(),
            fps: d.fps,
        }
    }

    /// As a decision (`None` when the height is not one of 480, 720, 1080).
    pub fn decision(&self) -> Option<Decision> {
        let resolution = match self.height {
            480 => Resolution::P480,
            720 => Resolution::P720,
            1080 => Resolution::P1080,
            _ => return None,
        };
        Some(Decision {
            target_bps: self.target_bps,
            resolution,
            fps: self.fps,
        })
    }

    fn validate(&self, field: &str) -> Result<(), String> {
        if !(self.target_bps.is_finite() && self.target_bps > 0.0 && self.target_bps <= 1e10) {
            return Err(format!(
                "{field}.target_bps must be a positive bit rate up to 1e10 bit/s, got {}",
                self.target_bps
            ));
        }
        if self.decision().is_none() {
            return Err(format!(
                "{field}.height must be 480, 720 or 1080, got {}",
                self.height
            ));
        }
        if !(1..=MAX_FPS).contains(&self.fps) {
            return Err(format!(
                "{field}.fps must be between 1 and {MAX_FPS}, got {}",
                self.fps
            ));
        }
        Ok(())
    }
}

/// One packet as the wire and the dataset spell it: `[seq, send_ms, arrival_ms or null, bytes]`.
pub type WirePacket = (u64, f64, Option<f64>, u32);

/// What a sender reports once per feedback interval (the WebSocket message in, and the heart of a
/// dataset [`Record`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntervalReport {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// Interval number in the session, from 1, increasing by one.
    pub seq: u64,
    /// Sender's clock when the feedback arrived, ms since the session started.
    pub now_ms: f64,
    /// Round-trip time of the newest reported packet, ms; `null` when none arrived.
    pub rtt_ms: Option<f64>,
    /// Packets accounted for since the previous report, in send order.
    pub packets: Vec<WirePacket>,
    /// Settings the encoder ran with during the interval.
    pub applied: Settings,
    /// Median capture-to-display delay of the frames the receiver displayed in the interval, ms.
    /// Optional (added without a version bump): absent in old reports and datasets, and when no
    /// frame was displayed or the sender does not know.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_delay_p50_ms: Option<f64>,
    /// Largest capture-to-display delay of the frames displayed in the interval, ms; optional as
    /// [`IntervalReport::frame_delay_p50_ms`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frame_delay_max_ms: Option<f64>,
}

impl IntervalReport {
    /// The report a sender makes of `feedback` under the `applied` settings.
    pub fn new(seq: u64, feedback: &Feedback, applied: &Decision) -> Self {
        IntervalReport {
            v: SCHEMA_VERSION,
            seq,
            now_ms: feedback.now_ms,
            rtt_ms: feedback.rtt_ms,
            packets: feedback
                .packets
                .iter()
                .map(|p| (p.seq, p.send_ms, p.arrival_ms, p.bytes))
                .collect(),
            applied: Settings::of(applied),
            frame_delay_p50_ms: None,
            frame_delay_max_ms: None,
        }
    }

    /// The report with the frame delays of the frames the receiver displayed in the interval
    /// (capture to display, ms, in display order): their median and largest; none when
    /// `delays_ms` is empty.
    pub fn with_frame_delays(mut self, delays_ms: &[f64]) -> Self {
        let mut sorted = delays_ms.to_vec();
        sorted.sort_by(f64::total_cmp);
        self.frame_delay_p50_ms = sorted.get(sorted.len() / 2).copied();
        self.frame_delay_max_ms = sorted.last().copied();
        self
    }

    /// Checks every field; the message names the field and the bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.v != SCHEMA_VERSION {
            return Err(format!(
                "v is {}, but this server speaks schema version {SCHEMA_VERSION}",
                self.v
            ));
        }
        let time = |name: &str, t: f64| {
            if t.is_finite() && (0.0..=MAX_TIME_MS).contains(&t) {
                Ok(())
            } else {
                Err(format!(
                    "{name} must be a time between 0 and {MAX_TIME_MS:e} ms, got {t}"
                ))
            }
        };
        time("now_ms", self.now_ms)?;
        if let Some(rtt) = self.rtt_ms {
            time("rtt_ms", rtt)?;
        }
        if self.packets.len() > MAX_PACKETS_PER_REPORT {
            return Err(format!(
                "packets lists {} packets, more than {MAX_PACKETS_PER_REPORT}; report more often",
                self.packets.len()
            ));
        }
        for (i, &(_, send_ms, arrival_ms, bytes)) in self.packets.iter().enumerate() {
            time(&format!("packets[{i}] send_ms"), send_ms)?;
            if let Some(a) = arrival_ms {
                time(&format!("packets[{i}] arrival_ms"), a)?;
            }
            if !(1..=65_535).contains(&bytes) {
                return Err(format!(
                    "packets[{i}] bytes must be between 1 and 65535, got {bytes}"
                ));
            }
        }
        for (name, d) in [
            ("frame_delay_p50_ms", self.frame_delay_p50_ms),
            ("frame_delay_max_ms", self.frame_delay_max_ms),
        ] {
            if let Some(d) = d {
                time(name, d)?;
            }
        }
        self.applied.validate("applied")
    }

    /// The feedback a controller sees.
    pub fn feedback(&self) -> Feedback {
        Feedback {
            now_ms: self.now_ms,
            rtt_ms: self.rtt_ms,
            packets: self
                .packets
                .iter()
                .map(|&(seq, send_ms, arrival_ms, bytes)| PacketReport {
                    seq,
                    send_ms,
                    arrival_ms,
                    bytes,
                })
                .collect(),
        }
    }
}

/// The server's answer to a report (seq 0: the opening decision, before any report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecisionMessage {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// The report answered (0 for the opening decision).
    pub seq: u64,
    /// The controller that decided (its result-table name).
    pub controller: String,
    /// The settings to apply from now on.
    pub next: Settings,
}

/// One dataset line: an interval as the server saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Schema version, [`SCHEMA_VERSION`].
    pub v: u32,
    /// Session id the sender chose.
    pub session: String,
    /// Controller serving the session, as the sender asked for it (`gcc`, `learned:PATH`, ...).
    pub controller: String,
    /// Sender's capture rate, fps (30 or 60).
    pub source_fps: u32,
    /// Server's wall clock when the report arrived, ms since the Unix epoch (names the file).
    pub unix_ms: u64,
    /// The report.
    pub report: IntervalReport,
    /// What the controller answered.
    pub decision: Settings,
}

impl Record {
    /// Checks every field (the report's included); the message names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.v != SCHEMA_VERSION {
            return Err(format!(
                "v is {}, but this code reads schema version {SCHEMA_VERSION}; record with a matching server",
                self.v
            ));
        }
        if self.session.is_empty() {
            return Err("session is empty".into());
        }
        if !(1..=MAX_FPS).contains(&self.source_fps) {
            return Err(format!(
                "source_fps must be between 1 and {MAX_FPS}, got {}",
                self.source_fps
            ));
        }
        self.report.validate().map_err(|e| format!("report.{e}"))?;
        self.decision.validate("decision")
    }
}

fn dataset_error(path: &Path, line: usize, message: String) -> RtError {
    RtError::Dataset {
        path: path.to_path_buf(),
        line,
        message,
    }
}

/// Reads one dataset file; an error names the file and 1-based line.
pub fn read_dataset(path: &Path) -> Result<Vec<Record>, RtError> {
    let file = std::fs::File::open(path).map_err(|source| RtError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = std::io::BufReader::new(file);
    let mut records = Vec::new();
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        line_no += 1;
        let n = (&mut reader)
            .take(MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut buf)
            .map_err(|source| RtError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        if buf.len() > MAX_LINE_BYTES {
            return Err(dataset_error(
                path,
                line_no,
                format!("line longer than {MAX_LINE_BYTES} bytes; is this a dataset `serve --rt-dataset` wrote?"),
            ));
        }
        let text = String::from_utf8_lossy(&buf);
        let text = text.trim();
        if text.is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(text).map_err(|e| {
            dataset_error(
                path,
                line_no,
                format!(
                    "{e} (each line is one JSON record, schema in docs/rt_dataset.md; NaN and infinity are not JSON)"
                ),
            )
        })?;
        record
            .validate()
            .map_err(|e| dataset_error(path, line_no, e))?;
        records.push(record);
    }
    Ok(records)
}

/// Reads every `*.jsonl` file of `dir` (not hidden, not recursive), in name order, so records come
/// in hour order; partial files of a running writer are skipped.
pub fn read_dataset_dir(dir: &Path) -> Result<Vec<Record>, RtError> {
    let entries = std::fs::read_dir(dir).map_err(|source| RtError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "jsonl")
                && !p
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        })
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RtError::NoTraces {
            path: dir.to_path_buf(),
            hint: "; no *.jsonl dataset files either: record one with `neuralstream serve --rt-dataset DIR`".into(),
        });
    }
    let mut records = Vec::new();
    for f in &files {
        records.extend(read_dataset(f)?);
    }
    Ok(records)
}

/// Groups records into sessions (by session id, in first-seen order), each sorted by `seq`.
pub fn sessions(records: &[Record]) -> Vec<Vec<&Record>> {
    let mut order: Vec<&str> = Vec::new();
    let mut groups: std::collections::HashMap<&str, Vec<&Record>> = Default::default();
    for r in records {
        groups
            .entry(&r.session)
            .or_insert_with(|| {
                order.push(&r.session);
                Vec::new()
            })
            .push(r);
    }
    order
        .into_iter()
        .map(|s| {
            let mut g = groups.remove(s).unwrap_or_default();
            g.sort_by_key(|r| r.report.seq);
            g
        })
        .collect()
}

/// Runs one recorded session's reports through `controller` (started at the session's capture
/// rate) and returns its decisions, one per report: what it would have answered to the same
/// feedback. The link's reaction to other decisions is not modelled.
pub fn replay(session: &[&Record], controller: &mut dyn Controller) -> Vec<Decision> {
    let fps = session.first().map_or(60, |r| r.source_fps);
    controller.start(fps);
    session
        .iter()
        .map(|r| controller.on_feedback(&r.report.feedback()))
        .collect()
}

/// The UTC `YYYY-MM-DDTHH` of `unix_ms` (civil-from-days, H. Hinnant's algorithm).
pub fn utc_hour(unix_ms: u64) -> String {
    let hours = unix_ms / 3_600_000;
    let (days, hour) = ((hours / 24) as i64, hours % 24);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{hour:02}")
}

/// Writes records into one file per UTC hour, atomically (see the module documentation).
#[derive(Debug)]
pub struct DatasetWriter {
    dir: PathBuf,
    open: Option<(String, PathBuf, std::io::BufWriter<std::fs::File>)>,
    written: Vec<PathBuf>,
}

impl DatasetWriter {
    /// A writer into `dir`, created if missing.
    pub fn new(dir: &Path) -> Result<Self, RtError> {
        std::fs::create_dir_all(dir).map_err(|source| RtError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        Ok(DatasetWriter {
            dir: dir.to_path_buf(),
            open: None,
            written: Vec::new(),
        })
    }

    fn io(&self, path: &Path) -> impl FnOnce(std::io::Error) -> RtError {
        let path = path.to_path_buf();
        move |source| RtError::Io { path, source }
    }

    /// Appends one record to its hour's file (closing the previous hour's file first).
    pub fn append(&mut self, record: &Record) -> Result<(), RtError> {
        let hour = utc_hour(record.unix_ms);
        if self.open.as_ref().is_some_and(|(h, _, _)| *h != hour) {
            self.close_hour()?;
        }
        if self.open.is_none() {
            let partial = self.dir.join(format!(".rt-{hour}.jsonl.partial"));
            let file = std::fs::File::create(&partial).map_err(self.io(&partial))?;
            self.open = Some((hour, partial, std::io::BufWriter::new(file)));
        }
        let line = serde_json::to_string(record).map_err(|e| RtError::Config(e.to_string()))?;
        let Some((_, partial, out)) = &mut self.open else {
            unreachable!("opened above")
        };
        let err = {
            let p = partial.clone();
            move |source| RtError::Io { path: p, source }
        };
        out.write_all(line.as_bytes()).map_err(err.clone())?;
        out.write_all(b"\n").map_err(err)
    }

    fn close_hour(&mut self) -> Result<(), RtError> {
        let Some((hour, partial, out)) = self.open.take() else {
            return Ok(());
        };
        let file = out.into_inner().map_err(|e| RtError::Io {
            path: partial.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(self.io(&partial))?;
        let mut target = self.dir.join(format!("rt-{hour}.jsonl"));
        let mut n = 0;
        while target.exists() {
            n += 1;
            target = self.dir.join(format!("rt-{hour}-{n}.jsonl"));
        }
        std::fs::rename(&partial, &target).map_err(self.io(&target))?;
        self.written.push(target);
        Ok(())
    }

    /// Closes the open hour's file (renaming it into place) and returns every file written.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, RtError> {
        self.close_hour()?;
        Ok(std::mem::take(&mut self.written))
    }
}

impl Drop for DatasetWriter {
    fn drop(&mut self) {
        let _ = self.close_hour();
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::gcc::Gcc;

    /// A record of interval `seq` (two packets, one lost) at `unix_ms`; also used by `online`'s
    /// tests.
    pub(crate) fn record(session: &str, seq: u64, unix_ms: u64) -> Record {
        let fb = Feedback {
            now_ms: 50.0 * seq as f64,
            rtt_ms: Some(40.0),
            packets: vec![
                PacketReport {
                    seq: 2 * seq,
                    send_ms: 50.0 * seq as f64 - 30.0,
                    arrival_ms: Some(50.0 * seq as f64 - 10.0),
                    bytes: 1200,
                },
                PacketReport {
                    seq: 2 * seq + 1,
                    send_ms: 50.0 * seq as f64 - 20.0,
                    arrival_ms: None,
                    bytes: 1200,
                },
            ],
        };
        let d = Decision {
            target_bps: 1e6,
            resolution: Resolution::P720,
            fps: 30,
        };
        Record {
            v: SCHEMA_VERSION,
            session: session.into(),
            controller: "gcc".into(),
            source_fps: 60,
            unix_ms,
            report: IntervalReport::new(seq, &fb, &d),
            decision: Settings::of(&d),
        }
    }

    #[test]
    fn hours_are_civil_utc() {
        assert_eq!(utc_hour(0), "1970-01-01T00");
        // 2026-12-07 01:30:00 UTC.
        assert_eq!(utc_hour(1_796_607_000_000), "2026-12-07T01");
        // 2024-02-29 23:59:59 UTC (leap day).
        assert_eq!(utc_hour(1_709_251_199_000), "2024-02-29T23");
    }

    #[test]
    fn writer_rolls_hours_atomically_and_the_reader_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = DatasetWriter::new(dir.path()).unwrap();
        let h0 = 1_796_605_200_000; // 01:00
        w.append(&record("a", 1, h0)).unwrap();
        w.append(&record("b", 1, h0 + 10)).unwrap();
        // Nothing complete yet: the open hour is a hidden partial file, which readers skip.
        assert!(read_dataset_dir(dir.path()).is_err());
        w.append(&record("a", 2, h0 + 3_600_000)).unwrap();
        let done = read_dataset_dir(dir.path()).unwrap();
        assert_eq!(done.len(), 2, "the first hour is renamed into place");
        let files = w.finish().unwrap();
        let names: Vec<String> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["rt-2026-12-07T01.jsonl", "rt-2026-12-07T02.jsonl"]);
        let all = read_dataset_dir(dir.path()).unwrap();
        assert_eq!(
            all,
            vec![
                record("a", 1, h0),
                record("b", 1, h0 + 10),
                record("a", 2, h0 + 3_600_000)
            ]
        );
        let s = sessions(&all);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].len(), 2);
        // A restart in the same hour never overwrites a finished file.
        let mut w = DatasetWriter::new(dir.path()).unwrap();
        w.append(&record("c", 1, h0)).unwrap();
        let f = w.finish().unwrap();
        assert!(f[0].ends_with("rt-2026-12-07T01-1.jsonl"), "{f:?}");
    }

    #[test]
    fn bad_lines_are_named_by_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.jsonl");
        let good = serde_json::to_string(&record("a", 1, 0)).unwrap();
        let check = |bad: String, want: &str| {
            std::fs::write(&path, format!("{good}\n\n{bad}\n")).unwrap();
            let e = read_dataset(&path).unwrap_err().to_string();
            assert!(e.contains("d.jsonl:3:"), "{e}");
            assert!(e.contains(want), "{e}");
        };
        check(
            good.replace("\"now_ms\":50.0,", ""),
            "missing field `now_ms`",
        );
        check(good.replace("\"now_ms\":50.0", "\"now_ms\":NaN"), "NaN");
        check(
            good.replace("\"now_ms\":50.0", "\"now_ms\":-5.0"),
            "report.now_ms",
        );
        check(
            good.replace("[2,20.0,40.0,1200]", "[2,-20.0,40.0,1200]"),
            "packets[0] send_ms",
        );
        check(good.replace("\"rtt_ms\":40.0", "\"rtt_ms\":-1.0"), "rtt_ms");
        check(good.replace("\"height\":720", "\"height\":721"), "height");
        check(
            good.replace("\"v\":1,\"session\"", "\"v\":9,\"session\""),
            "schema version",
        );
        check("{not json".into(), "d.jsonl:3");
        assert!(read_dataset(&dir.path().join("none.jsonl"))
            .unwrap_err()
            .to_string()
            .contains("none.jsonl"));
    }

    #[test]
    fn frame_delays_are_optional_on_the_wire() {
        // A line written before the frame delays existed still parses, as None.
        let old = serde_json::to_string(&record("a", 1, 0)).unwrap();
        assert!(
            !old.contains("frame_delay"),
            "absent fields are not written"
        );
        let r: Record = serde_json::from_str(&old).unwrap();
        assert_eq!(
            (r.report.frame_delay_p50_ms, r.report.frame_delay_max_ms),
            (None, None)
        );
        // With them: median and largest, and they round-trip.
        let mut with = record("a", 1, 0);
        with.report = with.report.with_frame_delays(&[90.0, 40.0, 60.0, 50.0]);
        assert_eq!(with.report.frame_delay_p50_ms, Some(60.0));
        assert_eq!(with.report.frame_delay_max_ms, Some(90.0));
        let line = serde_json::to_string(&with).unwrap();
        assert_eq!(serde_json::from_str::<Record>(&line).unwrap(), with);
        assert!(with.report.validate().is_ok());
        with.report.frame_delay_max_ms = Some(-1.0);
        assert!(with
            .report
            .validate()
            .unwrap_err()
            .contains("frame_delay_max_ms"));
        let none = record("a", 1, 0).report.with_frame_delays(&[]);
        assert_eq!(none.frame_delay_p50_ms, None);
    }

    #[test]
    fn replay_gives_the_controller_the_recorded_feedback() {
        let recs: Vec<Record> = (1..=40).map(|s| record("a", s, 0)).collect();
        let s = sessions(&recs);
        let mut live = Gcc::default();
        live.start(60);
        let want: Vec<Decision> = recs
            .iter()
            .map(|r| live.on_feedback(&r.report.feedback()))
            .collect();
        let got = replay(&s[0], &mut Gcc::default());
        assert_eq!(got, want);
    }
}
