//! Network trace files: Pensieve "cooked" text, Mahimahi packet traces, and folders of them.

use crate::error::DataError;
use neuralstream_core::Trace;
use std::path::{Path, PathBuf};

/// Bytes delivered by one Mahimahi delivery opportunity.
pub const MAHIMAHI_PACKET_BYTES: f64 = 1500.0;

/// Window over which Mahimahi delivery opportunities are counted to get a throughput sample, ms.
pub const MAHIMAHI_WINDOW_MS: u64 = 1000;

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

/// Data lines of a text file: (1-based line number, trimmed text), skipping blanks and `#` comments.
fn data_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
}

/// Parses a trace from text; `path` is used for messages only.
pub fn parse_trace(path: &Path, text: &str, format: TraceFormat) -> Result<Trace, DataError> {
    let format = match format {
        TraceFormat::Auto => match data_lines(text).next() {
            None => return Err(DataError::other(path, "the trace file is empty; each line must be `time_s<TAB>throughput_mbps` (cooked) or a millisecond timestamp (Mahimahi)")),
            Some((_, l)) if l.split_whitespace().count() >= 2 => TraceFormat::Cooked,
            Some(_) => TraceFormat::Mahimahi,
        },
        f => f,
    };
    match format {
        TraceFormat::Cooked => parse_cooked(path, text),
        TraceFormat::Mahimahi => parse_mahimahi(path, text),
        TraceFormat::Auto => unreachable!("resolved above"),
    }
}

fn parse_cooked(path: &Path, text: &str) -> Result<Trace, DataError> {
    let mut time_s = Vec::new();
    let mut bw = Vec::new();
    for (line, l) in data_lines(text) {
        let mut cols = l.split_whitespace();
        let (Some(t), Some(b)) = (cols.next(), cols.next()) else {
            return Err(DataError::parse(
                path,
                line,
                format!("expected two columns `time_s throughput_mbps`, got '{l}'"),
            ));
        };
        let num = |s: &str, what: &str| -> Result<f64, DataError> {
            let v: f64 = s.parse().map_err(|_| {
                DataError::parse(path, line, format!("{what} '{s}' is not a number"))
            })?;
            if !v.is_finite() {
                return Err(DataError::parse(
                    path,
                    line,
                    format!("{what} '{s}' is not finite"),
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
        if let Some(&prev) = time_s.last() {
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
        time_s.push(t);
        bw.push(b);
    }
    if time_s.is_empty() {
        return Err(DataError::other(path, "the trace file has no data line"));
    }
    Trace::new(name_of(path), time_s, bw).map_err(|source| DataError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_mahimahi(path: &Path, text: &str) -> Result<Trace, DataError> {
    let mut stamps: Vec<u64> = Vec::new();
    for (line, l) in data_lines(text) {
        let ms: u64 = l.parse().map_err(|_| {
            DataError::parse(path, line, format!(
                "'{l}' is not a whole number of milliseconds; a Mahimahi trace has one timestamp per line"
            ))
        })?;
        if let Some(&prev) = stamps.last() {
            if ms < prev {
                return Err(DataError::parse(path, line, format!(
                    "timestamp {ms} ms is before the previous line's {prev} ms; timestamps must not decrease"
                )));
            }
        }
        stamps.push(ms);
    }
    let Some(&last) = stamps.last() else {
        return Err(DataError::other(path, "the trace file has no data line"));
    };
    if last == 0 {
        return Err(DataError::other(
            path,
            "every timestamp is 0 ms; a Mahimahi trace must span some time",
        ));
    }
    // Count delivery opportunities in windows (k*W, (k+1)*W]; a window's throughput is assigned to the
    // cooked sample at its end time, matching the cooked format's interval semantics.
    let windows = last.div_ceil(MAHIMAHI_WINDOW_MS) as usize;
    let mut counts = vec![0u64; windows];
    for &ms in &stamps {
        let w = (ms.saturating_sub(1) / MAHIMAHI_WINDOW_MS) as usize;
        counts[w.min(windows - 1)] += 1;
    }
    let window_s = MAHIMAHI_WINDOW_MS as f64 / 1000.0;
    let mut time_s = vec![0.0];
    let mut bw = vec![0.0];
    for (k, &c) in counts.iter().enumerate() {
        time_s.push((k + 1) as f64 * window_s);
        bw.push(c as f64 * MAHIMAHI_PACKET_BYTES * 8.0 / window_s / 1e6);
    }
    bw[0] = bw[1];
    Trace::new(name_of(path), time_s, bw).map_err(|source| DataError::Invalid {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads one trace file.
pub fn load_trace(path: &Path, format: TraceFormat) -> Result<Trace, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        DataError::other(
            path,
            format!(
                "not a text file (invalid UTF-8 at byte {})",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    parse_trace(path, &text, format)
}

/// Loads a trace file, or every regular file of a folder (sorted by name, hidden files skipped).
pub fn load_traces(path: &Path, format: TraceFormat) -> Result<Vec<Trace>, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_file() {
        return Ok(vec![load_trace(path, format)?]);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| DataError::io(path, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| !name_of(p).starts_with('.'))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(DataError::other(
            path,
            "the trace folder has no file; point --traces at a folder of trace files",
        ));
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
        // 1000 packets in the first second, 500 in the second.
        let mut s = String::new();
        for i in 0..1000 {
            s += &format!("{}\n", i + 1);
        }
        for i in 0..500 {
            s += &format!("{}\n", 1001 + 2 * i);
        }
        let t = parse_trace(p(), &s, TraceFormat::Auto).unwrap();
        assert_eq!(t.time_s, vec![0.0, 1.0, 2.0]);
        assert!((t.bandwidth_mbps[1] - 12.0).abs() < 1e-9);
        assert!((t.bandwidth_mbps[2] - 6.0).abs() < 1e-9);
        let e = parse_trace(p(), "5\n3\n", TraceFormat::Mahimahi).unwrap_err();
        assert!(e.to_string().starts_with("t.txt:2:"), "{e}");
    }
}
