//! Link traces for the real-time simulator and their two file formats.
//!
//! * **OpenNetLab onl-emu / AlphaRTC JSON** (`../shared/data/rtc/onl-emu`): `{"uplink":
//!   {"trace_pattern": [{"duration": ms, "capacity": kbit/s, "loss": percent, "rtt": ms}, ...]}}`,
//!   one entry per step (100 ms to a few seconds). `loss` is in percent (1 = 1 %), as upstream's
//!   `data/README.md` says; the emulator applies half of `rtt` as one-way propagation delay.
//! * **Mahimahi delivery opportunities** (`../shared/data/rtc/mahimahi`): one integer per line, a
//!   time in ms; each line is one opportunity to deliver one 1500-byte packet. Opportunities are
//!   binned per millisecond (a bin with `n` lines carries `n x 1500` bytes in that ms, i.e. `n x
//!   12,000` kbit/s) and equal neighbouring bins are merged. The trace lasts `last + 1` ms and loops,
//!   as Mahimahi does. The files carry no delay or loss: [`MahimahiOptions`] supplies them.
//!
//! Both become one [`LinkTrace`]: contiguous segments of constant capacity, loss and RTT starting at
//! 0, looped by the bottleneck. Every reader error names the file and the 1-based line of the bad
//! value, and says how to fix it.
//!
//! **Split** ([`assign_splits`], applied by [`read_trace_dir`]): traces are grouped by *link*
//! (the file name without a Mahimahi `.up` / `.down` suffix, so both directions of one drive stay
//! together) within each family; a family's links are ranked by the FNV-1a 64-bit hash of the link
//! name, and the first `round(0.2 n)` (at least 1) are test, the next `round(0.2 n)` (at least 1)
//! validation, the rest train. A family with fewer than 3 links is all train. The rule reads names
//! only, never results, and gives every family a test share (a plain hash modulo 10 left the 9
//! Mahimahi traces without one); adding traces to a family can move a few links.

use crate::error::RtError;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Bytes one Mahimahi delivery opportunity carries.
pub const MAHIMAHI_OPPORTUNITY_BYTES: f64 = 1500.0;

/// Smallest mean capacity a trace may have, kbit/s: below it one 1200-byte packet would need
/// more than ten seconds of trace, and the trace is almost certainly in the wrong unit.
pub const MIN_MEAN_CAPACITY_KBPS: f64 = 1.0;

/// One stretch of constant link conditions.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Segment {
    /// Start, ms from the beginning of the trace.
    pub start_ms: f64,
    /// End (exclusive), ms.
    pub end_ms: f64,
    /// Bottleneck capacity, kbit/s (numerically equal to bytes per 8 ms: `bytes/ms = kbps / 8`).
    pub capacity_kbps: f64,
    /// Random loss probability per packet, in [0, 1].
    pub loss: f64,
    /// Round-trip propagation delay, ms (half of it each way).
    pub rtt_ms: f64,
}

/// A validated link trace: contiguous [`Segment`]s from 0 to [`LinkTrace::duration_ms`], looped.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkTrace {
    /// Name shown in results (the file name).
    pub name: String,
    /// Family, for per-family summaries: `onl-emu`, `mahimahi` or `synthetic`.
    pub family: String,
    /// Train / validation / test, when read as part of a folder ([`read_trace_dir`]).
    pub split: Option<Split>,
    segments: Vec<Segment>,
    /// `prefix_bytes[i]`: bytes carried before segment `i` starts; one more entry for the end.
    prefix_bytes: Vec<f64>,
}

impl LinkTrace {
    /// Builds a trace from `(duration_ms, capacity_kbps, loss, rtt_ms)` steps, checking every value.
    /// `source` names the trace in errors; a step's error carries its 1-based index as the line.
    pub fn from_steps(
        name: &str,
        family: &str,
        steps: &[(f64, f64, f64, f64)],
    ) -> Result<Self, RtError> {
        let lines: Vec<usize> = (1..=steps.len()).collect();
        Self::build(Path::new(name), name, family, steps, &lines)
    }

    /// A trace of constant conditions lasting `duration_ms`.
    pub fn constant(capacity_kbps: f64, rtt_ms: f64, duration_ms: f64) -> Result<Self, RtError> {
        Self::from_steps(
            "constant",
            "synthetic",
            &[(duration_ms, capacity_kbps, 0.0, rtt_ms)],
        )
    }

    fn build(
        path: &Path,
        name: &str,
        family: &str,
        steps: &[(f64, f64, f64, f64)],
        lines: &[usize],
    ) -> Result<Self, RtError> {
        let err = |line: usize, message: String| RtError::Trace {
            path: path.to_path_buf(),
            line,
            message,
        };
        if steps.is_empty() {
            return Err(err(0, "the trace has no steps; give at least one".into()));
        }
        let mut segments = Vec::with_capacity(steps.len());
        let mut t = 0.0;
        for (i, &(duration_ms, capacity_kbps, loss, rtt_ms)) in steps.iter().enumerate() {
            let line = lines[i];
            let n = i + 1;
            if !(duration_ms.is_finite() && duration_ms > 0.0) {
                return Err(err(line, format!("step {n}: duration {duration_ms} ms must be a positive number of milliseconds")));
            }
            if !capacity_kbps.is_finite() || capacity_kbps < 0.0 {
                return Err(err(line, format!("step {n}: capacity {capacity_kbps} kbit/s must be a finite number >= 0 (0 means nothing is delivered)")));
            }
            if !(0.0..=1.0).contains(&loss) {
                return Err(err(line, format!("step {n}: loss {loss} is outside [0, 1] as a fraction ({} %); onl-emu files give loss in percent, 0 to 100", loss * 100.0)));
            }
            if !(rtt_ms.is_finite() && rtt_ms >= 0.0) {
                return Err(err(
                    line,
                    format!("step {n}: rtt {rtt_ms} ms must be a finite number >= 0"),
                ));
            }
            segments.push(Segment {
                start_ms: t,
                end_ms: t + duration_ms,
                capacity_kbps,
                loss,
                rtt_ms,
            });
            t += duration_ms;
        }
        let mut prefix_bytes = Vec::with_capacity(segments.len() + 1);
        let mut total = 0.0;
        prefix_bytes.push(0.0);
        for s in &segments {
            total += s.capacity_kbps / 8.0 * (s.end_ms - s.start_ms);
            prefix_bytes.push(total);
        }
        let trace = LinkTrace {
            name: name.to_owned(),
            family: family.to_owned(),
            split: None,
            segments,
            prefix_bytes,
        };
        let mean = trace.mean_capacity_kbps();
        if mean < MIN_MEAN_CAPACITY_KBPS {
            return Err(err(0, format!("mean capacity {mean:.4} kbit/s is below {MIN_MEAN_CAPACITY_KBPS} kbit/s: nothing could be delivered (check the unit: capacities are kbit/s)")));
        }
        Ok(trace)
    }

    /// The segments, contiguous from 0.
    pub fn segments(&self) -> &[Segment] {
        &self.segments
    }

    /// Length of one loop of the trace, ms.
    pub fn duration_ms(&self) -> f64 {
        self.segments.last().map_or(0.0, |s| s.end_ms)
    }

    /// Time-weighted mean capacity over one loop, kbit/s.
    pub fn mean_capacity_kbps(&self) -> f64 {
        self.capacity_bytes_between(0.0, self.duration_ms()) * 8.0 / self.duration_ms()
    }

    /// Index of the segment holding `t_ms` (taken modulo the trace duration).
    pub fn segment_index_at(&self, t_ms: f64) -> usize {
        let t = t_ms.rem_euclid(self.duration_ms());
        self.segments
            .partition_point(|s| s.end_ms <= t)
            .min(self.segments.len() - 1)
    }

    /// Conditions at `t_ms` (looped).
    pub fn at(&self, t_ms: f64) -> &Segment {
        &self.segments[self.segment_index_at(t_ms)]
    }

    /// Bytes the link could carry between `from_ms` and `to_ms` (looped), ignoring any queue.
    /// O(log n): a binary search in the prefix sums of the segments' bytes.
    pub fn capacity_bytes_between(&self, from_ms: f64, to_ms: f64) -> f64 {
        if to_ms <= from_ms {
            return 0.0;
        }
        self.cumulative_bytes(to_ms) - self.cumulative_bytes(from_ms)
    }

    /// Bytes the link could carry from 0 to `t_ms` (looped).
    fn cumulative_bytes(&self, t_ms: f64) -> f64 {
        let period = self.duration_ms();
        let loop_bytes = *self.prefix_bytes.last().unwrap_or(&0.0);
        let loops = (t_ms / period).floor();
        let r = t_ms - loops * period;
        let i = self.segment_index_at(r);
        let s = &self.segments[i];
        loops * loop_bytes
            + self.prefix_bytes[i]
            + s.capacity_kbps / 8.0 * (r - s.start_ms).max(0.0)
    }
}

/// Settings for Mahimahi traces, which carry capacity only.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MahimahiOptions {
    /// Round-trip propagation delay applied throughout, ms (like `mm-delay rtt/2`). Default 40.
    pub rtt_ms: f64,
    /// Random loss probability applied throughout (like `mm-loss`). Default 0.
    pub loss: f64,
}

impl Default for MahimahiOptions {
    fn default() -> Self {
        MahimahiOptions {
            rtt_ms: 40.0,
            loss: 0.0,
        }
    }
}

#[derive(Deserialize)]
struct OnlFile {
    uplink: OnlLink,
}

#[derive(Deserialize)]
struct OnlLink {
    trace_pattern: Vec<OnlEntry>,
}

#[derive(Deserialize)]
struct OnlEntry {
    duration: f64,
    capacity: f64,
    #[serde(default)]
    loss: f64,
    #[serde(default)]
    rtt: f64,
}

/// 1-based line of the `n`-th (0-based) occurrence of `"key"` in `text`, or 0 if absent.
fn line_of_nth_key(text: &str, key: &str, n: usize) -> usize {
    let quoted = format!("\"{key}\"");
    text.match_indices(&quoted)
        .nth(n)
        .map_or(0, |(at, _)| text[..at].matches('\n').count() + 1)
}

/// Parses onl-emu JSON text; `path` names it in errors.
pub fn parse_onl_emu(text: &str, path: &Path) -> Result<LinkTrace, RtError> {
    let file: OnlFile = serde_json::from_str(text).map_err(|e| RtError::Trace {
        path: path.to_path_buf(),
        line: e.line(),
        message: format!(
            "not an onl-emu trace (JSON with uplink.trace_pattern[] of duration, capacity, loss, rtt): {e}"
        ),
    })?;
    let steps: Vec<(f64, f64, f64, f64)> = file
        .uplink
        .trace_pattern
        .iter()
        .map(|e| (e.duration, e.capacity, e.loss / 100.0, e.rtt))
        .collect();
    // The line of each entry: where its "capacity" key is (every entry has exactly one).
    let lines: Vec<usize> = (0..steps.len())
        .map(|i| line_of_nth_key(text, "capacity", i))
        .collect();
    LinkTrace::build(path, &file_name(path), "onl-emu", &steps, &lines)
}

/// Parses Mahimahi delivery-opportunity text; `path` names it in errors.
pub fn parse_mahimahi(
    text: &str,
    path: &Path,
    options: MahimahiOptions,
) -> Result<LinkTrace, RtError> {
    let err = |line: usize, message: String| RtError::Trace {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut bins: Vec<u32> = Vec::new();
    let mut last: Option<u64> = None;
    for (i, raw) in text.lines().enumerate() {
        let s = raw.trim();
        if s.is_empty() {
            continue;
        }
        let t: u64 = s.parse().map_err(|_| {
            err(
                i + 1,
                format!("'{s}' is not a whole number of milliseconds (Mahimahi traces have one per line)"),
            )
        })?;
        if let Some(prev) = last {
            if t < prev {
                return Err(err(
                    i + 1,
                    format!("{t} ms comes after {prev} ms; Mahimahi times must not decrease"),
                ));
            }
        }
        if t > 7 * 24 * 3_600_000 {
            return Err(err(
                i + 1,
                format!("{t} ms is more than a week; is this a Mahimahi trace (ms per line)?"),
            ));
        }
        last = Some(t);
        let idx = t as usize;
        if bins.len() <= idx {
            bins.resize(idx + 1, 0);
        }
        bins[idx] += 1;
    }
    if bins.is_empty() {
        return Err(err(
            0,
            "empty Mahimahi trace: expected one delivery time in ms per line".into(),
        ));
    }
    if !(0.0..=1.0).contains(&options.loss) {
        return Err(RtError::Config(format!(
            "Mahimahi loss {} is outside [0, 1]",
            options.loss
        )));
    }
    // Merge equal neighbouring 1-ms bins into steps.
    let mut steps: Vec<(f64, f64, f64, f64)> = Vec::new();
    for &count in &bins {
        let kbps = count as f64 * MAHIMAHI_OPPORTUNITY_BYTES * 8.0; // per ms -> kbit/s
        match steps.last_mut() {
            Some(s) if s.1 == kbps => s.0 += 1.0,
            _ => steps.push((1.0, kbps, options.loss, options.rtt_ms)),
        }
    }
    let lines = vec![0; steps.len()];
    LinkTrace::build(path, &file_name(path), "mahimahi", &steps, &lines)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

/// The trace format a file name implies: `.json` is onl-emu, `.up`/`.down`/`.mahi` Mahimahi.
fn format_of(path: &Path) -> Option<bool> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("json") => Some(true),
        Some("up" | "down" | "mahi") => Some(false),
        _ => None,
    }
}

/// Reads one trace file, choosing the reader by extension (`.json`: onl-emu; `.up`, `.down`,
/// `.mahi`: Mahimahi).
pub fn read_trace(path: &Path, mahimahi: MahimahiOptions) -> Result<LinkTrace, RtError> {
    let Some(is_json) = format_of(path) else {
        return Err(RtError::Trace {
            path: path.to_path_buf(),
            line: 0,
            message: "unknown trace format: name onl-emu traces *.json and Mahimahi traces *.up, *.down or *.mahi".into(),
        });
    };
    let text = std::fs::read_to_string(path).map_err(|source| RtError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    if is_json {
        parse_onl_emu(&text, path)
    } else {
        parse_mahimahi(&text, path, mahimahi)
    }
}

/// Reads every trace under `dir` (recursively, sorted by path); files of other types (READMEs,
/// licences, manifests) are skipped. A file with a trace extension that fails to parse is an error.
pub fn read_trace_dir(dir: &Path, mahimahi: MahimahiOptions) -> Result<Vec<LinkTrace>, RtError> {
    let mut files = Vec::new();
    collect(dir, &mut files)?;
    files.sort();
    let mut traces = files
        .iter()
        .map(|f| read_trace(f, mahimahi))
        .collect::<Result<Vec<_>, _>>()?;
    let splits = assign_splits(&traces);
    for (t, s) in traces.iter_mut().zip(splits) {
        t.split = Some(s);
    }
    if traces.is_empty() {
        return Err(RtError::NoTraces {
            path: dir.to_path_buf(),
            hint: String::new(),
        });
    }
    Ok(traces)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), RtError> {
    let io = |source| RtError::Io {
        path: dir.to_path_buf(),
        source,
    };
    if dir.is_file() {
        out.push(dir.to_path_buf());
        return Ok(());
    }
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if format_of(&path).is_some() {
            out.push(path);
        }
    }
    Ok(())
}

/// Which part of the data a trace belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    /// 60 % of traces: for fitting.
    Train,
    /// 20 %: for choosing models and settings.
    Validation,
    /// 20 %: reported only, never selected on.
    Test,
}

/// FNV-1a 64-bit hash of a name.
fn fnv1a(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The link a trace records: its name without a Mahimahi `.up` / `.down` suffix.
pub fn link_of(name: &str) -> &str {
    name.strip_suffix(".up")
        .or_else(|| name.strip_suffix(".down"))
        .unwrap_or(name)
}

/// The split of every trace (see the module documentation for the rule).
pub fn assign_splits(traces: &[LinkTrace]) -> Vec<Split> {
    let mut out = vec![Split::Train; traces.len()];
    let mut families: Vec<&str> = traces.iter().map(|t| t.family.as_str()).collect();
    families.sort_unstable();
    families.dedup();
    for family in families {
        let mut links: Vec<&str> = traces
            .iter()
            .filter(|t| t.family == family)
            .map(|t| link_of(&t.name))
            .collect();
        links.sort_unstable_by_key(|l| (fnv1a(l), *l));
        links.dedup();
        let n = links.len();
        if n < 3 {
            continue;
        }
        let share = ((0.2 * n as f64).round() as usize).max(1);
        for (i, t) in traces.iter().enumerate() {
            if t.family != family {
                continue;
            }
            let rank = links
                .iter()
                .position(|l| *l == link_of(&t.name))
                .unwrap_or(n);
            out[i] = if rank < share {
                Split::Test
            } else if rank < 2 * share {
                Split::Validation
            } else {
                Split::Train
            };
        }
    }
    out
}

/// Keeps the traces of the split named `split` (`train`, `validation`, `test`, or `all` for every
/// trace); `dir` only names the folder in the error when none is left.
pub fn select_split(
    traces: Vec<LinkTrace>,
    split: &str,
    dir: &Path,
) -> Result<Vec<LinkTrace>, RtError> {
    let wanted = match split.to_ascii_lowercase().as_str() {
        "all" => return Ok(traces),
        "train" => Split::Train,
        "validation" | "val" => Split::Validation,
        "test" => Split::Test,
        other => {
            return Err(RtError::Config(format!(
                "split '{other}' is not one of all, train, validation, test"
            )))
        }
    };
    let kept: Vec<LinkTrace> = traces
        .into_iter()
        .filter(|t| t.split == Some(wanted))
        .collect();
    if kept.is_empty() {
        return Err(RtError::NoTraces {
            path: dir.to_path_buf(),
            hint: format!(" in the {split} split (choose another split, or all)"),
        });
    }
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn onl(entries: &str) -> String {
        format!("{{\n  \"type\": \"video\",\n  \"uplink\": {{\n    \"trace_pattern\": [\n{entries}\n    ]\n  }}\n}}\n")
    }

    fn line_of(e: RtError) -> (usize, String) {
        match e {
            RtError::Trace { line, message, .. } => (line, message),
            other => panic!("expected a trace error, got {other}"),
        }
    }

    #[test]
    fn reads_onl_emu_units() {
        let text = onl("      {\"duration\": 100, \"capacity\": 800, \"loss\": 5, \"rtt\": 40},\n      {\"duration\": 300, \"capacity\": 0, \"loss\": 0, \"rtt\": 40}");
        let t = parse_onl_emu(&text, Path::new("a.json")).unwrap();
        assert_eq!(t.segments().len(), 2);
        assert_eq!(t.duration_ms(), 400.0);
        assert_eq!(t.segments()[0].loss, 0.05);
        assert_eq!(t.segments()[1].start_ms, 100.0);
        // 800 kbit/s for 100 ms = 10,000 bytes.
        assert!((t.capacity_bytes_between(0.0, 400.0) - 10_000.0).abs() < 1e-9);
        assert!((t.mean_capacity_kbps() - 200.0).abs() < 1e-9);
        // Looped: the second loop carries the same bytes.
        assert!((t.capacity_bytes_between(400.0, 450.0) - 5_000.0).abs() < 1e-9);
        assert!((t.capacity_bytes_between(50.0, 850.0) - 20_000.0).abs() < 1e-9);
        assert!((t.capacity_bytes_between(90.0, 110.0) - 1_000.0).abs() < 1e-9);
    }

    #[test]
    fn malformed_json_names_file_and_line() {
        let text = onl("      {\"duration\": 100, \"capacity\": 800,,}");
        let e = parse_onl_emu(&text, Path::new("bad.json")).unwrap_err();
        assert!(e.to_string().starts_with("bad.json:5:"), "{e}");
    }

    #[test]
    fn nan_capacity_is_an_error_with_line() {
        let text = onl("      {\"duration\": 100, \"capacity\": NaN, \"rtt\": 4}");
        let e = parse_onl_emu(&text, Path::new("nan.json")).unwrap_err();
        assert!(e.to_string().starts_with("nan.json:5:"), "{e}");
        // In-memory NaN (no JSON literal for it) is caught by validation.
        let e =
            LinkTrace::from_steps("mem", "synthetic", &[(100.0, f64::NAN, 0.0, 10.0)]).unwrap_err();
        assert!(e.to_string().contains("capacity NaN"), "{e}");
    }

    #[test]
    fn negative_capacity_names_the_entry_line() {
        let text = onl("      {\"duration\": 100, \"capacity\": 800, \"rtt\": 4},\n      {\"duration\": 100,\n       \"capacity\": -5, \"rtt\": 4}");
        let (line, msg) = line_of(parse_onl_emu(&text, Path::new("neg.json")).unwrap_err());
        assert_eq!(line, 7);
        assert!(msg.contains("step 2") && msg.contains("-5"), "{msg}");
    }

    #[test]
    fn loss_outside_range_is_an_error() {
        let text = onl("      {\"duration\": 100, \"capacity\": 800, \"loss\": 150, \"rtt\": 4}");
        let (line, msg) = line_of(parse_onl_emu(&text, Path::new("l.json")).unwrap_err());
        assert_eq!(line, 5);
        assert!(
            msg.contains("outside [0, 1]") && msg.contains("percent"),
            "{msg}"
        );
        let text = onl("      {\"duration\": 100, \"capacity\": 800, \"loss\": -1, \"rtt\": 4}");
        assert!(parse_onl_emu(&text, Path::new("l.json")).is_err());
    }

    #[test]
    fn all_zero_capacity_is_refused() {
        let text = onl("      {\"duration\": 100, \"capacity\": 0, \"rtt\": 4}");
        let e = parse_onl_emu(&text, Path::new("z.json")).unwrap_err();
        assert!(e.to_string().contains("nothing could be delivered"), "{e}");
    }

    #[test]
    fn reads_mahimahi_bins() {
        let t = parse_mahimahi(
            "0\n0\n1\n3\n3\n",
            Path::new("x.down"),
            MahimahiOptions::default(),
        )
        .unwrap();
        // bins: [2, 1, 0, 2] opportunities -> 4 segments (none equal neighbours).
        assert_eq!(t.duration_ms(), 4.0);
        assert_eq!(t.segments().len(), 4);
        assert_eq!(t.segments()[0].capacity_kbps, 24_000.0);
        assert_eq!(t.segments()[2].capacity_kbps, 0.0);
        assert!((t.capacity_bytes_between(0.0, 4.0) - 5.0 * 1500.0).abs() < 1e-9);
        assert_eq!(t.at(0.0).rtt_ms, 40.0);
        assert_eq!(t.family, "mahimahi");
    }

    #[test]
    fn empty_mahimahi_is_an_error() {
        let e =
            parse_mahimahi("\n  \n", Path::new("e.up"), MahimahiOptions::default()).unwrap_err();
        assert!(
            e.to_string().starts_with("e.up:0: empty Mahimahi trace"),
            "{e}"
        );
    }

    #[test]
    fn mahimahi_bad_lines_name_the_line() {
        let e =
            parse_mahimahi("0\n1\nx\n", Path::new("b.up"), MahimahiOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("b.up:3:"), "{e}");
        let e =
            parse_mahimahi("5\n4\n", Path::new("b.up"), MahimahiOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("b.up:2:"), "{e}");
        let e = parse_mahimahi("-3\n", Path::new("b.up"), MahimahiOptions::default()).unwrap_err();
        assert!(e.to_string().starts_with("b.up:1:"), "{e}");
    }

    #[test]
    fn splits_keep_links_together_and_give_every_family_a_test_share() {
        let mk = |name: &str, family: &str| {
            let mut t = LinkTrace::constant(1000.0, 10.0, 1000.0).unwrap();
            t.name = name.into();
            t.family = family.into();
            t
        };
        let mut traces: Vec<LinkTrace> = [
            "A.up", "A.down", "B.up", "B.down", "C.down", "D.up", "E.down",
        ]
        .iter()
        .map(|n| mk(n, "mahimahi"))
        .collect();
        traces.extend((0..30).map(|i| mk(&format!("{i}_MID_STABLE.json"), "onl-emu")));
        traces.push(mk("lonely.json", "synthetic"));
        let splits = assign_splits(&traces);
        assert_eq!(splits, assign_splits(&traces), "deterministic");
        // Both directions of a link share a split.
        assert_eq!(splits[0], splits[1]);
        assert_eq!(splits[2], splits[3]);
        for family in ["mahimahi", "onl-emu"] {
            let of = |s: Split| {
                traces
                    .iter()
                    .zip(&splits)
                    .filter(|(t, x)| t.family == family && **x == s)
                    .count()
            };
            assert!(of(Split::Test) >= 1 && of(Split::Validation) >= 1 && of(Split::Train) >= 1);
        }
        let onl_test = traces
            .iter()
            .zip(&splits)
            .filter(|(t, s)| t.family == "onl-emu" && **s == Split::Test)
            .count();
        assert_eq!(onl_test, 6);
        assert_eq!(*splits.last().unwrap(), Split::Train);
    }
}
