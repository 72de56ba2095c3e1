//! Network trace files: Pensieve "cooked" text, Mahimahi packet traces, and folders of them.

use crate::error::DataError;
use crate::lines::{excerpt, for_each_line, open_bounded};
pub use crate::lines::{MAX_INPUT_FILE_BYTES, MAX_LINE_BYTES};
use neuralstream_core::Trace;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// Bytes delivered by one Mahimahi delivery opportunity.
pub const MAHIMAHI_PACKET_BYTES: f64 = 1500.0;

/// Window over which Mahimahi delivery opportunities are counted to get a throughput sample, ms
/// (the last window of a period may be shorter; see [`parse_trace`]'s Mahimahi notes).
pub const MAHIMAHI_WINDOW_MS: u64 = 1000;

/// Longest accepted Mahimahi loop period (last timestamp), ms: 7 days. The converted trace has one
/// sample per [`MAHIMAHI_WINDOW_MS`], so this bounds its memory (about 600k samples).
pub const MAHIMAHI_MAX_PERIOD_MS: u64 = 7 * 24 * 3600 * 1000;

/// A trace file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceFormat {
    /// Decide from the first data line: two columns = cooked, one integer column = Mahimahi.
    #[default]
    Auto,
    /// Pensieve "cooked": `time_s  throughput_mbps` per line, whitespace separated.
    Cooked,
    /// Mahimahi: one millisecond timestamp per line, each a 1500-byte delivery opportunity.
    Mahimahi,
}

impl std::str::FromStr for TraceFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(Self::Auto),
            "cooked" | "pensieve" => Ok(Self::Cooked),
            "mahimahi" | "mm" => Ok(Self::Mahimahi),
            _ => Err(format!(
                "unknown trace format '{s}'; use auto, cooked or mahimahi"
            )),
        }
    }
}

fn name_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// Parses a trace from text; `path` is used for messages only. The same as [`read_trace`] over the
/// text's bytes.
pub fn parse_trace(path: &Path, text: &str, format: TraceFormat) -> Result<Trace, DataError> {
    read_trace(path, text.as_bytes(), format)
}

/// Parses a trace from a reader, line by line (never holding the whole input), `path` naming it in
/// messages. Lines longer than [`MAX_LINE_BYTES`] and inputs larger than [`MAX_INPUT_FILE_BYTES`]
/// are refused; blank lines and `#` comments are skipped.
///
/// # Mahimahi conversion
///
/// Semantics (Mahimahi's `LinkQueue`):
/// * each line is a millisecond timestamp `t` at which one [`MAHIMAHI_PACKET_BYTES`]-byte packet may
///   be delivered; equal timestamps are several packets in the same millisecond;
/// * the trace loops with period `P` = the last timestamp: loop `k` replays every line at `t + k*P`.
///   `P` must be > 0. A timestamp 0 therefore coincides with `P` of the previous loop, and it is
///   counted at `P`, so one period is the half-open span `(0, P]` holding every line exactly once;
/// * a packet at `t` is delivered during millisecond `t`, i.e. in `(t-1, t]`, so a packet exactly on
///   a window boundary `b` belongs to the window that *ends* at `b` (windows are `(a, b]`, like the
///   cooked format's intervals `(t[i-1], t[i]]`).
///
/// The converted trace covers a whole number of periods, so that the simulator's looping of the
/// converted trace replays the Mahimahi loop exactly:
/// * `P >= `[`MAHIMAHI_WINDOW_MS`]: one period, cut into windows `(0, W], (W, 2W], ...`; the last
///   window is `(k*W, P]` with its true (shorter) length when `P` is not a multiple of `W`, and
///   its rate is computed over that length, so it is not diluted;
/// * `P < W`: `floor(W / P)` periods form one window (the pattern repeats faster than the sampling
///   window, so its rate is constant: packets per period * 12 kbit / `P` ms).
///
/// Each window's rate is `packets * 1500 * 8 bit / window length`. A window without packets is a
/// legal 0 Mbit/s interval. Sample 0 (time 0) only marks the start; its bandwidth is never read and
/// copies sample 1's.
pub fn read_trace(
    path: &Path,
    reader: impl BufRead,
    format: TraceFormat,
) -> Result<Trace, DataError> {
    let mut parser = match format {
        TraceFormat::Auto => Parser::Undecided,
        TraceFormat::Cooked => Parser::Cooked(Cooked::default()),
        TraceFormat::Mahimahi => Parser::Mahimahi(Mahimahi::default()),
    };
    for_each_line(path, reader, MAX_INPUT_FILE_BYTES, |line, l| {
        if l.starts_with('#') {
            return Ok(());
        }
        if let Parser::Undecided = parser {
            parser = decide(path, line, l)?;
        }
        match &mut parser {
            Parser::Cooked(c) => c.line(path, line, l),
            Parser::Mahimahi(m) => m.line(path, line, l),
            Parser::Undecided => unreachable!("decided above"),
        }
    })?;
    match parser {
        Parser::Undecided => Err(DataError::other(path, "the trace file is empty; each line must be `time_s<TAB>throughput_mbps` (cooked) or a millisecond timestamp (Mahimahi)")),
        Parser::Cooked(c) => c.finish(path),
        Parser::Mahimahi(m) => m.finish(path),
    }
}

/// The parse in progress: the format is decided by the first data line when it is `Auto`.
enum Parser {
    Undecided,
    Cooked(Cooked),
    Mahimahi(Mahimahi),
}

/// The format of a trace whose first data line is `l`: two columns = cooked, one = Mahimahi.
fn decide(path: &Path, line: usize, l: &str) -> Result<Parser, DataError> {
    let columns = l.split_whitespace().count();
    if columns < 2 && (l.contains(',') || l.contains(';')) {
        return Err(DataError::parse(
            path,
            line,
            format!("'{}' looks comma- or semicolon-separated; cooked traces separate `time_s throughput_mbps` with spaces or a tab, Mahimahi traces hold one millisecond timestamp per line", excerpt(l)),
        ));
    }
    Ok(if columns >= 2 {
        Parser::Cooked(Cooked::default())
    } else {
        Parser::Mahimahi(Mahimahi::default())
    })
}

/// A Pensieve cooked trace being read: the samples so far.
#[derive(Default)]
struct Cooked {
    time_s: Vec<f64>,
    bw: Vec<f64>,
}

impl Cooked {
    fn line(&mut self, path: &Path, line: usize, l: &str) -> Result<(), DataError> {
        let mut cols = l.split_whitespace();
        let (Some(t), Some(b)) = (cols.next(), cols.next()) else {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "expected two columns `time_s throughput_mbps`, got '{}'",
                    excerpt(l)
                ),
            ));
        };
        if let Some(extra) = cols.next() {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "expected two columns `time_s throughput_mbps`, but '{}' follows them; \
                     keep the first two (e.g. `cut -f1,2` for tab-separated files)",
                    excerpt(extra)
                ),
            ));
        }
        let num = |s: &str, what: &str| -> Result<f64, DataError> {
            let v: f64 = s.parse().map_err(|_| {
                DataError::parse(
                    path,
                    line,
                    format!("{what} '{}' is not a number", excerpt(s)),
                )
            })?;
            if !v.is_finite() {
                return Err(DataError::parse(
                    path,
                    line,
                    format!("{what} '{}' is not finite", excerpt(s)),
                ));
            }
            Ok(v)
        };
        let t = num(t, "time")?;
        let b = num(b, "throughput")?;
        if b < 0.0 {
            return Err(DataError::parse(
                path,
                line,
                format!("throughput {b} Mbit/s is negative; throughput must be >= 0"),
            ));
        }
        if let Some(&prev) = self.time_s.last() {
            if t <= prev {
                return Err(DataError::parse(
                    path,
                    line,
                    format!(
                        "time {t} s is not after the previous line's {prev} s; times must increase"
                    ),
                ));
            }
        }
        self.time_s.push(t);
        self.bw.push(b);
        Ok(())
    }

    fn finish(self, path: &Path) -> Result<Trace, DataError> {
        if self.time_s.is_empty() {
            return Err(DataError::other(path, "the trace file has no data line"));
        }
        Trace::new(name_of(path), self.time_s, self.bw).map_err(|source| DataError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// A Mahimahi packet-delivery trace being converted into a cooked [`Trace`]; see [`read_trace`].
/// Packets are counted per window while reading: memory grows with the trace's duration (bounded
/// by [`MAHIMAHI_MAX_PERIOD_MS`]), not with its number of lines.
#[derive(Default)]
struct Mahimahi {
    /// Packets per window (k*W, (k+1)*W].
    counts: Vec<u64>,
    /// Packets at timestamp 0, counted at P once P is known.
    zeros: u64,
    prev: Option<u64>,
    last_line: usize,
}

impl Mahimahi {
    fn line(&mut self, path: &Path, line: usize, l: &str) -> Result<(), DataError> {
        // `u64::from_str` takes a leading `+`; Mahimahi's reader does not.
        let ms: u64 = l.parse().ok().filter(|_| !l.starts_with('+')).ok_or_else(|| {
            DataError::parse(path, line, format!(
                "'{}' is not a whole number of milliseconds; a Mahimahi trace has one timestamp per line",
                excerpt(l)
            ))
        })?;
        if let Some(prev) = self.prev {
            if ms < prev {
                return Err(DataError::parse(path, line, format!(
                    "timestamp {ms} ms is before the previous line's {prev} ms; timestamps must not decrease"
                )));
            }
        }
        if ms > MAHIMAHI_MAX_PERIOD_MS {
            return Err(DataError::parse(
                path,
                line,
                format!(
                    "timestamp {ms} ms is over the limit of {MAHIMAHI_MAX_PERIOD_MS} ms (7 days) for \
                     a trace's loop period (its last timestamp); split or shorten the trace"
                ),
            ));
        }
        if ms == 0 {
            self.zeros += 1;
        } else {
            let k = ((ms - 1) / MAHIMAHI_WINDOW_MS) as usize;
            if self.counts.len() <= k {
                self.counts.resize(k + 1, 0);
            }
            self.counts[k] += 1;
        }
        self.prev = Some(ms);
        self.last_line = line;
        Ok(())
    }

    fn finish(self, path: &Path) -> Result<Trace, DataError> {
        let w = MAHIMAHI_WINDOW_MS;
        let Mahimahi {
            mut counts,
            zeros,
            prev,
            last_line,
        } = self;
        let Some(period) = prev else {
            return Err(DataError::other(path, "the trace file has no data line"));
        };
        if period == 0 {
            return Err(DataError::parse(
                path,
                last_line,
                "the last timestamp is 0 ms, but it is the trace's loop period; a Mahimahi trace must end \
                 at a timestamp > 0 (e.g. `1` for one packet per millisecond)",
            ));
        }
        // Timestamp 0 is the same instant as P of the previous loop; count it in (0, P], whose last
        // window already exists (it holds the line at P).
        *counts.last_mut().expect("the line at P > 0 was counted") += zeros;
        // Whole periods covered by the converted trace: enough to fill one window when P < W. Then
        // there is one window, and every repetition t + j*P (j < reps) lands in it.
        let reps = if period < w { w / period } else { 1 };
        let span = period * reps;
        let windows = counts.len();
        debug_assert_eq!(windows as u64, span.div_ceil(w));
        counts.iter_mut().for_each(|c| *c *= reps);
        let mut time_s = Vec::with_capacity(windows + 1);
        let mut bw = Vec::with_capacity(windows + 1);
        time_s.push(0.0);
        bw.push(0.0);
        for (k, &c) in counts.iter().enumerate() {
            let start = k as u64 * w;
            let end = (start + w).min(span);
            let len_s = (end - start) as f64 / 1000.0;
            time_s.push(end as f64 / 1000.0);
            bw.push(c as f64 * MAHIMAHI_PACKET_BYTES * 8.0 / len_s / 1e6);
        }
        bw[0] = bw[1];
        Trace::new(name_of(path), time_s, bw).map_err(|source| DataError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Loads one trace file, streaming it (see [`read_trace`]); a file larger than
/// [`MAX_INPUT_FILE_BYTES`] is refused before any of it is read.
pub fn load_trace(path: &Path, format: TraceFormat) -> Result<Trace, DataError> {
    read_trace(path, open_bounded(path, MAX_INPUT_FILE_BYTES)?, format)
}

/// True for files that document a trace folder rather than hold a trace: `README*`, `LICENSE*`
/// (any case) and `*.md`.
fn is_documentation(path: &Path) -> bool {
    let name = name_of(path).to_ascii_lowercase();
    name.starts_with("readme") || name.starts_with("license") || name.ends_with(".md")
}

/// Loads a trace file, or every regular file of a folder (sorted by name; hidden files,
/// subfolders and documentation files such as `README.md` skipped).
pub fn load_traces(path: &Path, format: TraceFormat) -> Result<Vec<Trace>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![load_trace(path, format)?]);
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| DataError::io(path, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| !name_of(p).starts_with('.'))
        .collect();
    let mut files: Vec<PathBuf> = entries
        .iter()
        .filter(|p| p.is_file() && !is_documentation(p))
        .cloned()
        .collect();
    files.sort();
    if let Some(f) = files.iter().find(|f| name_of(f).starts_with("video_size_")) {
        return Err(DataError::other(
            f,
            "this is one of Pensieve's chunk-size files, so the folder is a video (--video), not traces; pass a folder of traces instead, such as cooked_traces or cooked_test_traces",
        ));
    }
    if files.is_empty() {
        // Say what is there instead: a parent of trace folders is the usual mistake.
        let mut subfolders: Vec<String> = entries
            .iter()
            .filter(|p| p.is_dir())
            .map(|p| name_of(p))
            .collect();
        subfolders.sort_unstable();
        let problem = match subfolders.as_slice() {
            [] => "the trace folder has no file; pass a folder of trace files".into(),
            some => format!(
                "the trace folder has no file, only subfolders ({}{}); traces are read from the \
                 folder itself, not its subfolders: pass one of them",
                some[..some.len().min(3)].join(", "),
                if some.len() > 3 { ", ..." } else { "" }
            ),
        };
        return Err(DataError::other(path, problem));
    }
    files.iter().map(|f| load_trace(f, format)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("t.txt")
    }

    #[test]
    fn byte_order_marks_commas_and_video_folders_are_explained() {
        let t = parse_trace(p(), "\u{feff}0.0\t1.5\n1.0\t2.0\n", TraceFormat::Auto).unwrap();
        assert_eq!(t.len(), 2);
        let e = parse_trace(p(), "0 1\n1 2 junk\n", TraceFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.txt:2") && e.contains("'junk' follows"), "{e}");
        let e = parse_trace(p(), "5\n+9\n", TraceFormat::Mahimahi)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.txt:2") && e.contains("'+9'"), "{e}");
        let e = parse_trace(p(), "0,1\n1,2\n", TraceFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("t.txt:1") && e.contains("comma"), "{e}");
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("trace_a"), "0 1\n1 2\n").unwrap();
        std::fs::write(d.path().join("video_size_0"), "100\n200\n").unwrap();
        let e = load_traces(d.path(), TraceFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(e.contains("video_size_0") && e.contains("--video"), "{e}");
        // A parent of trace folders: the message names the subfolders to pick from.
        let parent = tempfile::tempdir().unwrap();
        for sub in ["fcc", "norway"] {
            std::fs::create_dir(parent.path().join(sub)).unwrap();
        }
        std::fs::write(parent.path().join("README.md"), "# Traces\nTwo sets.\n").unwrap();
        let e = load_traces(parent.path(), TraceFormat::Auto)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("only subfolders (fcc, norway)") && e.contains("pass one of them"),
            "{e}"
        );
    }

    #[test]
    fn cooked_parses_and_reports_lines() {
        let t = parse_trace(p(), "0.0\t1.5\n1.0\t2.0\n\n2.5\t0.5\n", TraceFormat::Auto).unwrap();
        assert_eq!(t.len(), 3);
        assert_eq!(t.bandwidth_mbps[2], 0.5);
        let e = parse_trace(p(), "0 1\n1 x\n", TraceFormat::Auto).unwrap_err();
        assert_eq!(e.to_string(), "t.txt:2: throughput 'x' is not a number");
        let e = parse_trace(p(), "0 1\n2 1\n1 1\n", TraceFormat::Auto).unwrap_err();
        assert!(
            e.to_string().starts_with("t.txt:3: time 1 s is not after"),
            "{e}"
        );
        let e = parse_trace(p(), "0 1\n1 -3\n", TraceFormat::Auto).unwrap_err();
        assert!(e.to_string().contains("t.txt:2: throughput -3"), "{e}");
        let e = parse_trace(p(), "0 1\n1 NaN\n", TraceFormat::Auto).unwrap_err();
        assert!(e.to_string().contains("t.txt:2"), "{e}");
        let e = parse_trace(p(), "\n\n", TraceFormat::Auto).unwrap_err();
        assert!(e.to_string().contains("empty"), "{e}");
    }

    #[test]
    fn mahimahi_bins_packets_per_second() {
        // 1000 packets in the first second, 500 in the second; the period is 2000 ms. (This test
        // used to end at 1999 ms, which the old converter diluted over a full second.)
        let mut s = String::new();
        for i in 0..1000 {
            s += &format!("{}\n", i + 1);
        }
        for i in 0..500 {
            s += &format!("{}\n", 1002 + 2 * i);
        }
        let t = parse_trace(p(), &s, TraceFormat::Auto).unwrap();
        assert_eq!(t.time_s, vec![0.0, 1.0, 2.0]);
        assert!((t.bandwidth_mbps[1] - 12.0).abs() < 1e-9);
        assert!((t.bandwidth_mbps[2] - 6.0).abs() < 1e-9);
        let e = parse_trace(p(), "5\n3\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(e.to_string().starts_with("t.txt:2:"), "{e}");
    }

    fn mm(text: &str) -> Trace {
        parse_trace(p(), text, TraceFormat::Mahimahi).unwrap()
    }

    fn assert_all(t: &Trace, mbps: f64) {
        for (i, &b) in t.bandwidth_mbps.iter().enumerate() {
            assert!((b - mbps).abs() < 1e-9, "sample {i}: {b} != {mbps}");
        }
    }

    /// Duration of the converted trace, in whole Mahimahi periods (panics if not whole).
    fn periods(t: &Trace, period_ms: u64) -> u64 {
        let ms = (t.duration_s() * 1000.0).round() as u64;
        assert!((t.duration_s() * 1000.0 - ms as f64).abs() < 1e-6);
        assert_eq!(
            ms % period_ms,
            0,
            "duration {ms} ms is not a multiple of {period_ms} ms"
        );
        ms / period_ms
    }

    #[test]
    fn mahimahi_constant_traces_read_12_mbps() {
        // One packet per ms, period 1 ms: the standard 12 Mbit/s trace.
        let t = mm("1\n");
        assert_all(&t, 12.0);
        assert!(periods(&t, 1) >= 1);
        // Same link written out over 1500 ms: the last window (1000, 1500] is 500 ms long.
        let s: String = (1..=1500).map(|i| format!("{i}\n")).collect();
        let t = mm(&s);
        assert_eq!(t.time_s, vec![0.0, 1.0, 1.5]);
        assert_all(&t, 12.0);
        assert_eq!(periods(&t, 1500), 1);
        // Two packets per ms.
        assert_all(&mm("1\n1\n"), 24.0);
        // Period 3 ms (P < W, not a divisor of W): 333 periods in one 999 ms window, 4 Mbit/s.
        let t = mm("3\n");
        assert_eq!(t.time_s, vec![0.0, 0.999]);
        assert_all(&t, 4.0);
        // A timestamp 0 is the same instant as P of the previous loop: 2 packets per 1 ms period.
        assert_all(&mm("0\n1\n"), 24.0);
    }

    #[test]
    fn mahimahi_partial_last_window_and_boundaries() {
        // Period 2500 ms; one packet per ms in (0, 1000], then only the final line at 2500.
        let mut s: String = (1..=1000).map(|i| format!("{i}\n")).collect();
        s += "2500\n";
        let t = mm(&s);
        assert_eq!(t.time_s, vec![0.0, 1.0, 2.0, 2.5]);
        assert_eq!(periods(&t, 2500), 1);
        let want = [12.0, 12.0, 0.0, 1500.0 * 8.0 / 0.5 / 1e6];
        for (b, w) in t.bandwidth_mbps.iter().zip(want) {
            assert!((b - w).abs() < 1e-9, "{:?}", t.bandwidth_mbps);
        }
        // A packet exactly at 1000 ms belongs to (0, 1000]; one at 1001 ms to (1000, 2000].
        let t = mm("1000\n1001\n2000\n");
        assert!(
            (t.bandwidth_mbps[1] - 0.012).abs() < 1e-9,
            "{:?}",
            t.bandwidth_mbps
        );
        assert!(
            (t.bandwidth_mbps[2] - 0.024).abs() < 1e-9,
            "{:?}",
            t.bandwidth_mbps
        );
    }

    #[test]
    fn mahimahi_mean_is_total_bits_over_period() {
        for seed in 1..=40u64 {
            // xorshift64, seeded per case; no extra dependency.
            let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let mut rnd = move |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x % n
            };
            let max_period = if seed % 2 == 0 { 1200 } else { 7000 };
            let period = 1 + rnd(max_period);
            let n = 1 + rnd(3000);
            let mut stamps: Vec<u64> = (0..n - 1).map(|_| rnd(period + 1)).collect();
            stamps.push(period);
            stamps.sort_unstable();
            let text: String = stamps.iter().map(|t| format!("{t}\n")).collect();
            let t = mm(&text);
            periods(&t, period);
            let want = n as f64 * MAHIMAHI_PACKET_BYTES * 8.0 / (period as f64 / 1000.0) / 1e6;
            assert!(
                (t.mean_mbps() - want).abs() < 1e-9 * want.max(1.0),
                "seed {seed}: period {period}, {n} packets: mean {} != {want}",
                t.mean_mbps()
            );
        }
    }

    #[test]
    fn mahimahi_errors_name_file_and_line() {
        let e = parse_trace(p(), "0\n\n0\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.txt:3: the last timestamp is 0 ms"),
            "{e}"
        );
        let e = parse_trace(p(), "1\n2.5\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.txt:2: '2.5' is not a whole number"),
            "{e}"
        );
        let e = parse_trace(p(), "1\n-4\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(e.to_string().starts_with("t.txt:2:"), "{e}");
        let e = parse_trace(p(), "5\n9\n3\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("t.txt:3: timestamp 3 ms is before"),
            "{e}"
        );
        let e = parse_trace(p(), "1\n99999999999999\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(e.to_string().starts_with("t.txt:2:"), "{e}");
        let e = parse_trace(p(), "# only a comment\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(e.to_string().contains("no data line"), "{e}");
    }
}
