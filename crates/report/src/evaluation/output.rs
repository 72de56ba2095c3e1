//! The evaluation's files: `sessions.csv`, `groups.csv`, `report.json` (both tables and the
//! settings, what the PySpark job's output is compared with), `report.md` (the tables people read,
//! with the satisfaction model's sources) and charts (PNG + SVG): the CDF of the sessions'
//! predicted MOS and of their buffering ratio per algorithm, and a heat-map of the share of
//! satisfied sessions per network class and algorithm.
//!
//! Numbers are written with Rust's shortest round-trip formatting (`{}` of an `f64`), so a reader
//! gets back the exact values; a missing value is an empty CSV field and a JSON `null`.

use super::{satisfaction, Evaluation, GroupSummary, SessionMetrics, ALL};
use crate::{cdf_chart, heatmap_chart, HeatMap, ReportError};
use neuralstream_core::csv_field;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// A value of a table: text, a count or an optional number.
enum Cell<'a> {
    Text(&'a str),
    Count(usize),
    Number(Option<f64>),
}

const SESSION_COLUMNS: [&str; 25] = [
    "source",
    "session",
    "algorithm",
    "video",
    "network_class",
    "chunks",
    "bitrate_mean_kbps",
    "ssim_mean",
    "vmaf_mean",
    "startup_s",
    "stall_s",
    "stalls",
    "play_s",
    "buffering_ratio",
    "stalls_per_hour",
    "download_ms_mean",
    "throughput_kbps",
    "decision_us_mean",
    "decision_us_max",
    "qoe",
    "mos",
    "abandonment_pct",
    "satisfied",
    "end_reason",
    "abandoned",
];

fn session_cells(s: &SessionMetrics) -> [Cell<'_>; 25] {
    use Cell::*;
    [
        Text(&s.source),
        Text(&s.session),
        Text(&s.algorithm),
        Text(&s.video),
        Text(&s.network_class),
        Count(s.chunks),
        Number(s.bitrate_mean_kbps),
        Number(s.ssim_mean),
        Number(s.vmaf_mean),
        Number(s.startup_s),
        Number(Some(s.stall_s)),
        Count(s.stalls),
        Number(Some(s.play_s)),
        Number(Some(s.buffering_ratio)),
        Number(Some(s.stalls_per_hour)),
        Number(s.download_ms_mean),
        Number(s.throughput_kbps),
        Number(s.decision_us_mean),
        Number(s.decision_us_max),
        Number(s.qoe),
        Number(Some(s.mos)),
        Number(s.abandonment_pct),
        Count(usize::from(s.mos >= satisfaction::SATISFIED_MOS)),
        Text(&s.end_reason),
        Count(usize::from(s.abandoned())),
    ]
}

const GROUP_COLUMNS: [&str; 16] = [
    "algorithm",
    "network_class",
    "sessions",
    "bitrate_mean_kbps",
    "ssim_mean",
    "vmaf_mean",
    "startup_s_mean",
    "buffering_ratio_mean",
    "stalls_per_hour_mean",
    "decision_us_mean",
    "throughput_kbps_mean",
    "qoe_mean",
    "mos_mean",
    "satisfied_share",
    "abandonment_pct_mean",
    "abandoned_share",
];

fn group_cells(g: &GroupSummary) -> [Cell<'_>; 16] {
    use Cell::*;
    [
        Text(&g.algorithm),
        Text(&g.network_class),
        Count(g.sessions),
        Number(g.bitrate_mean_kbps),
        Number(g.ssim_mean),
        Number(g.vmaf_mean),
        Number(g.startup_s_mean),
        Number(g.buffering_ratio_mean),
        Number(g.stalls_per_hour_mean),
        Number(g.decision_us_mean),
        Number(g.throughput_kbps_mean),
        Number(g.qoe_mean),
        Number(g.mos_mean),
        Number(g.satisfied_share),
        Number(g.abandonment_pct_mean),
        Number(g.abandoned_share),
    ]
}

fn number(x: Option<f64>) -> Option<f64> {
    x.filter(|v| v.is_finite())
}

fn csv<'a, const N: usize>(
    header: &[&str; N],
    rows: impl Iterator<Item = [Cell<'a>; N]>,
) -> String {
    let mut out = header.join(",");
    out.push('\n');
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(t) => csv_field(t),
                Cell::Count(n) => n.to_string(),
                Cell::Number(x) => number(*x).map_or(String::new(), |v| v.to_string()),
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// `sessions.csv`: one row per session, the columns of [`SessionMetrics`] plus `satisfied` and
/// `abandoned` (0/1).
pub fn sessions_csv(e: &Evaluation) -> String {
    csv(&SESSION_COLUMNS, e.sessions.iter().map(session_cells))
}

/// `groups.csv`: one row per group (algorithm, network class; `all` where a group spans them).
pub fn groups_csv(e: &Evaluation) -> String {
    csv(&GROUP_COLUMNS, e.groups.iter().map(group_cells))
}

/// A JSON string literal of `s`.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_object<const N: usize>(header: &[&str; N], cells: &[Cell<'_>; N]) -> String {
    let fields: Vec<String> = header
        .iter()
        .zip(cells)
        .map(|(k, c)| {
            let v = match c {
                Cell::Text(t) => json_string(t),
                Cell::Count(n) => n.to_string(),
                Cell::Number(x) => number(*x).map_or("null".to_string(), json_number),
            };
            format!("{}: {v}", json_string(k))
        })
        .collect();
    format!("{{{}}}", fields.join(", "))
}

/// A finite number as JSON: Rust's shortest round-trip digits (never `inf` or `NaN`: callers
/// pass finite values only).
fn json_number(v: f64) -> String {
    v.to_string()
}

/// `report.json`: `{"config": {...}, "skipped": {...}, "sessions": [...], "groups": [...]}`, the
/// tables' columns as keys.
pub fn report_json(e: &Evaluation) -> String {
    let bounds: Vec<String> = e
        .config
        .class_bounds_kbps
        .iter()
        .map(|b| json_number(*b))
        .collect();
    let mut out = format!(
        "{{\n\"config\": {{\"chunk_s\": {}, \"class_bounds_kbps\": [{}]}},\n\"skipped\": {{\"sessions_without_chunks\": {}, \"duplicate_chunks\": {}, \"chunks_without_index\": {}}},\n\"sessions\": [",
        json_number(e.config.chunk_s),
        bounds.join(", "),
        e.skipped.sessions_without_chunks,
        e.skipped.duplicate_chunks,
        e.skipped.chunks_without_index,
    );
    let sessions: Vec<String> = e
        .sessions
        .iter()
        .map(|s| json_object(&SESSION_COLUMNS, &session_cells(s)))
        .collect();
    out.push_str(&sessions.join(",\n"));
    out.push_str("],\n\"groups\": [");
    let groups: Vec<String> = e
        .groups
        .iter()
        .map(|g| json_object(&GROUP_COLUMNS, &group_cells(g)))
        .collect();
    out.push_str(&groups.join(",\n"));
    out.push_str("]\n}\n");
    out
}

fn fmt(x: Option<f64>, decimals: usize) -> String {
    number(x).map_or("-".to_string(), |v| format!("{v:.decimals$}"))
}

fn pct(x: Option<f64>) -> String {
    number(x).map_or("-".to_string(), |v| format!("{:.1}%", v * 100.0))
}

/// One Markdown table of `groups`, the first column `key` of each.
fn markdown_table(
    first: &str,
    groups: &[&GroupSummary],
    key: impl Fn(&GroupSummary) -> String,
) -> String {
    let quality = groups
        .iter()
        .any(|g| g.ssim_mean.is_some() || g.vmaf_mean.is_some());
    let mut header = vec![first, "sessions", "bitrate kbps"];
    if quality {
        header.extend(["SSIM", "VMAF"]);
    }
    header.extend([
        "startup s",
        "buffering",
        "stalls/h",
        "decision µs",
        "throughput kbps",
        "QoE",
        "MOS",
        "satisfied",
        "abandon (est.)",
        "abandoned",
    ]);
    let mut out = format!("| {} |\n|", header.join(" | "));
    for i in 0..header.len() {
        out.push_str(if i == 0 { " :--- |" } else { " ---: |" });
    }
    out.push('\n');
    for g in groups {
        let mut cells = vec![
            key(g).replace('|', "\\|"),
            g.sessions.to_string(),
            fmt(g.bitrate_mean_kbps, 0),
        ];
        if quality {
            cells.extend([fmt(g.ssim_mean, 4), fmt(g.vmaf_mean, 1)]);
        }
        cells.extend([
            fmt(g.startup_s_mean, 2),
            pct(g.buffering_ratio_mean),
            fmt(g.stalls_per_hour_mean, 1),
            fmt(g.decision_us_mean, 1),
            fmt(g.throughput_kbps_mean, 0),
            fmt(g.qoe_mean, 2),
            fmt(g.mos_mean, 2),
            pct(g.satisfied_share),
            number(g.abandonment_pct_mean).map_or("-".into(), |v| format!("{v:.1}%")),
            pct(g.abandoned_share),
        ]);
        let _ = writeln!(out, "| {} |", cells.join(" | "));
    }
    out
}

/// `report.md`: per algorithm, per network class, the legend and the satisfaction model's sources.
pub fn report_markdown(e: &Evaluation, input: &str) -> String {
    let by_algorithm: Vec<&GroupSummary> =
        e.groups.iter().filter(|g| g.network_class == ALL).collect();
    let by_class: Vec<&GroupSummary> = e.groups.iter().filter(|g| g.algorithm == ALL).collect();
    let both: Vec<&GroupSummary> = e
        .groups
        .iter()
        .filter(|g| g.algorithm != ALL && g.network_class != ALL)
        .collect();
    let bounds: Vec<String> = e
        .config
        .class_bounds_kbps
        .iter()
        .map(f64::to_string)
        .collect();
    let mut out = format!(
        "# Evaluation report\n\n{} sessions from {input}; chunks of {} s; network classes by the session's mean throughput (bounds {} kbit/s).\n\n{}\n\n## Per algorithm\n\n",
        e.sessions.len(),
        e.config.chunk_s,
        bounds.join(", "),
        session_ends(e),
    );
    out.push_str(&markdown_table("algorithm", &by_algorithm, |g| {
        g.algorithm.clone()
    }));
    out.push_str("\n## Per network class\n\n");
    out.push_str(&markdown_table("network class", &by_class, |g| {
        g.network_class.clone()
    }));
    out.push_str("\n## Per algorithm and network class\n\n");
    out.push_str(&markdown_table("algorithm @ network class", &both, |g| {
        format!("{} @ {}", g.algorithm, g.network_class)
    }));
    let _ = write!(
        out,
        "\n## Legend\n\n\
         Means over sessions (a session without a value is left out of that mean). bitrate: mean nominal bitrate of a session's chunks; \
         SSIM/VMAF: the video's per-chunk scores at the levels played (only with a video that has them); \
         startup: stall before the first chunk played; buffering: stall after the start / (played + stalled time); \
         stalls/h: stalls per hour of watch time; decision: the server's time to decide (served sessions only); \
         throughput: bytes over download time; QoE: the producer's session QoE; \
         abandoned: share of sessions whose client stopped before the video's end (ended by the server's idle timeout).\n\n\
         **Satisfaction.** MOS (1.5-5) = {span} exp(-({per_s} L + {per_n}) N) + {floor}, N the session's stalls after the start and L their mean \
         length in seconds (Hoßfeld, Seufert, Hirth, Zinner, Tran-Gia, Schatz, *Quantification of YouTube QoE via Crowdsourcing*, \
         IEEE ISM 2011; fitted on ~30 s clips, so pessimistic for long sessions; bitrate is not in it). satisfied: share of sessions with \
         MOS >= {sat}. abandon (est.): expected share of viewers leaving before the start, {pct}% per second of startup delay beyond {after} s \
         (Krishnan and Sitaraman, *Video Stream Quality Impacts Viewer Behavior*, ACM IMC 2012: \"a 5.8% increase in the abandonment rate\" \
         per second beyond 2 s, read as percentage points), capped at 100%.\n",
        span = satisfaction::MOS_SPAN,
        per_s = satisfaction::MOS_PER_STALL_S,
        per_n = satisfaction::MOS_PER_STALL,
        floor = satisfaction::MOS_FLOOR,
        sat = satisfaction::SATISFIED_MOS,
        pct = satisfaction::ABANDON_PCT_PER_S,
        after = satisfaction::ABANDON_AFTER_S,
    );
    let k = &e.skipped;
    if k.sessions_without_chunks + k.duplicate_chunks + k.chunks_without_index > 0 {
        let _ = writeln!(
            out,
            "\nLeft out: {} sessions without a chunk, {} repeated chunk rows (first kept), {} chunk rows without an index.",
            k.sessions_without_chunks, k.duplicate_chunks, k.chunks_without_index
        );
    }
    out
}

/// "Session ends: 3 completed, 1 idle-timeout (abandoned)...": the sessions counted by
/// `end_reason`, in alphabetical order.
fn session_ends(e: &Evaluation) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for s in &e.sessions {
        *counts.entry(s.end_reason.as_str()).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(reason, n)| {
            let note = if *reason == super::ABANDONED_REASON {
                " (abandoned by the client)"
            } else {
                ""
            };
            format!("{n} {reason}{note}")
        })
        .collect();
    format!("Session ends: {}.", parts.join(", "))
}

fn write_text(path: PathBuf, text: &str) -> Result<PathBuf, ReportError> {
    std::fs::write(&path, text).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// Writes `sessions.csv`, `groups.csv`, `report.json`, `report.md` and the charts
/// (`satisfaction_cdf`, `buffering_cdf`, `satisfied_by_class`, each `.png` and `.svg`) into
/// `dir` (created if needed); `input` names the data in the Markdown. Returns the paths.
pub fn write_report(e: &Evaluation, dir: &Path, input: &str) -> Result<Vec<PathBuf>, ReportError> {
    std::fs::create_dir_all(dir).map_err(|source| ReportError::CreateDir {
        path: dir.join("report.md"),
        source,
    })?;
    let mut paths = vec![
        write_text(dir.join("sessions.csv"), &sessions_csv(e))?,
        write_text(dir.join("groups.csv"), &groups_csv(e))?,
        write_text(dir.join("report.json"), &report_json(e))?,
        write_text(dir.join("report.md"), &report_markdown(e, input))?,
    ];
    let mut algorithms: Vec<&str> = e.sessions.iter().map(|s| s.algorithm.as_str()).collect();
    algorithms.sort_unstable();
    algorithms.dedup();
    let per_algorithm = |f: fn(&SessionMetrics) -> f64| -> Vec<Vec<f64>> {
        algorithms
            .iter()
            .map(|a| {
                e.sessions
                    .iter()
                    .filter(|s| s.algorithm == *a)
                    .map(f)
                    .collect()
            })
            .collect()
    };
    let mos = per_algorithm(|s| s.mos);
    let curves: Vec<(&str, &[f64])> = algorithms
        .iter()
        .copied()
        .zip(mos.iter().map(Vec::as_slice))
        .collect();
    paths.extend(cdf_chart(
        "Predicted satisfaction per session (Hoßfeld et al. 2011)",
        "MOS (1.5-5)",
        "share of sessions",
        None,
        &curves,
        &dir.join("satisfaction_cdf"),
    )?);
    let buffering = per_algorithm(|s| s.buffering_ratio * 100.0);
    let curves: Vec<(&str, &[f64])> = algorithms
        .iter()
        .copied()
        .zip(buffering.iter().map(Vec::as_slice))
        .collect();
    paths.extend(cdf_chart(
        "Buffering ratio per session",
        "stalled share of watch time, %",
        "share of sessions",
        None,
        &curves,
        &dir.join("buffering_cdf"),
    )?);
    let classes: Vec<&str> = e
        .groups
        .iter()
        .filter(|g| g.algorithm == ALL && g.network_class != ALL)
        .map(|g| g.network_class.as_str())
        .collect();
    let share = |a: &str, c: &str| {
        e.groups
            .iter()
            .find(|g| g.algorithm == a && g.network_class == c)
            .and_then(|g| g.satisfied_share)
    };
    let map = HeatMap {
        title: format!("Satisfied (MOS >= {})", satisfaction::SATISFIED_MOS),
        rows: classes.iter().map(|c| c.to_string()).collect(),
        columns: algorithms.iter().map(|a| a.to_string()).collect(),
        values: classes
            .iter()
            .map(|c| algorithms.iter().map(|a| share(a, c)).collect())
            .collect(),
    };
    paths.extend(heatmap_chart(&map, &dir.join("satisfied_by_class"))?);
    Ok(paths)
}
