//! `neuralstream rt bench`: every controller on every trace, in parallel, scored and summarised,
//! with the result files (`results.json`, `sessions.csv`, `summary.csv`) and a text table.
//!
//! Sessions are independent (each builds its own controller and seeds its own [`Rng`] from the
//! config), so they run on plain scoped threads and are put back in (controller, trace) order:
//! results do not depend on the thread count.
//!
//! [`Rng`]: neuralstream_core::Rng

use crate::controller::{Controller, Fixed, Oracle};
use crate::dqn::{DqnController, DqnModel};
use crate::error::RtError;
use crate::gcc::Gcc;
use crate::score::{score, SessionScore};
use crate::sim::{run_session, RtConfig, SessionLog};
use crate::trace::LinkTrace;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// Fixed controller's bitrate when `fixed` is given without one, kbit/s.
pub const DEFAULT_FIXED_KBPS: f64 = 1000.0;

/// A controller named on the command line.
#[derive(Debug, Clone, PartialEq)]
pub enum ControllerSpec {
    /// `gcc`: Google Congestion Control.
    Gcc,
    /// `fixed` or `fixed:KBPS`: a constant target.
    Fixed(f64),
    /// `oracle`: reads the trace ahead.
    Oracle,
    /// `learned:PATH`: a DQN controller trained by `rt train` (the model, loaded once).
    Learned(Arc<DqnModel>),
}

/// Names `--controllers` accepts, with a description each.
pub const CONTROLLERS: [(&str, &str); 4] = [
    (
        "gcc",
        "Google Congestion Control (draft-ietf-rmcat-gcc, WebRTC constants)",
    ),
    (
        "fixed[:KBPS]",
        "constant target bitrate (default 1000 kbit/s)",
    ),
    (
        "oracle",
        "knows the capacity ahead: 0.9 x the coming capacity (upper reference)",
    ),
    (
        "learned:PATH",
        "a DQN controller trained by `neuralstream rt train` (PATH: its model.safetensors)",
    ),
];

impl ControllerSpec {
    /// Parses one name (case-insensitive).
    pub fn parse(name: &str) -> Result<Self, RtError> {
        if let Some(path) = name.trim().strip_prefix("learned:") {
            return Ok(ControllerSpec::Learned(Arc::new(DqnModel::load(
                Path::new(path),
            )?)));
        }
        let lower = name.trim().to_ascii_lowercase();
        match lower.as_str() {
            "gcc" => Ok(ControllerSpec::Gcc),
            "oracle" => Ok(ControllerSpec::Oracle),
            "fixed" => Ok(ControllerSpec::Fixed(DEFAULT_FIXED_KBPS)),
            _ => {
                if let Some(kbps) = lower.strip_prefix("fixed:") {
                    match kbps.parse::<f64>() {
                        Ok(k) if k.is_finite() && k > 0.0 => return Ok(ControllerSpec::Fixed(k)),
                        _ => {
                            return Err(RtError::Config(format!(
                                "controller '{name}': the fixed bitrate must be a positive number of kbit/s, e.g. fixed:1500"
                            )))
                        }
                    }
                }
                let names: Vec<&str> = CONTROLLERS.iter().map(|c| c.0).collect();
                Err(RtError::Config(format!(
                    "unknown controller '{name}'; known: {}",
                    names.join(", ")
                )))
            }
        }
    }

    /// Parses a comma-separated list; duplicates are refused.
    pub fn parse_list(list: &str) -> Result<Vec<Self>, RtError> {
        let mut out: Vec<Self> = Vec::new();
        for name in list.split(',').filter(|s| !s.trim().is_empty()) {
            let spec = Self::parse(name)?;
            if out.contains(&spec) {
                return Err(RtError::Config(format!(
                    "controller '{}' is listed twice",
                    name.trim()
                )));
            }
            out.push(spec);
        }
        if out.is_empty() {
            return Err(RtError::Config(
                "no controller given; e.g. gcc,fixed,oracle".into(),
            ));
        }
        Ok(out)
    }

    /// A fresh controller for one session on `trace`.
    pub fn build(&self, trace: &LinkTrace) -> Box<dyn Controller> {
        match self {
            ControllerSpec::Gcc => Box::new(Gcc::default()),
            ControllerSpec::Fixed(kbps) => Box::new(Fixed::new(kbps * 1000.0)),
            ControllerSpec::Oracle => Box::new(Oracle::new(trace.clone())),
            ControllerSpec::Learned(model) => Box::new(DqnController::new(model.clone())),
        }
    }
}

/// Means over a group of sessions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// Controller name.
    pub controller: String,
    /// Trace family, or `all`.
    pub family: String,
    /// Sessions averaged.
    pub sessions: usize,
    /// Mean of onl-emu's combined score.
    pub onl_qoe: f64,
    /// Mean p50 frame delay, ms.
    pub p50_frame_delay_ms: f64,
    /// Mean p95 frame delay, ms.
    pub p95_frame_delay_ms: f64,
    /// Mean frozen-time ratio.
    pub frozen_ratio: f64,
    /// Mean freezes per minute.
    pub freezes_per_min: f64,
    /// Mean opinion score.
    pub mean_quality: f64,
    /// Mean utilisation.
    pub utilisation: f64,
    /// Mean loss rate.
    pub loss_rate: f64,
    /// Mean received rate, kbit/s.
    pub received_kbps: f64,
}

/// A whole bench run.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// One score per (controller, trace), in controller then trace order.
    pub sessions: Vec<SessionScore>,
    /// Per controller: one row per family, then `all`.
    pub summary: Vec<Summary>,
}

fn summarise(controller: &str, family: &str, rows: &[&SessionScore]) -> Summary {
    let n = rows.len().max(1) as f64;
    let mean = |f: fn(&SessionScore) -> f64| rows.iter().map(|r| f(r)).sum::<f64>() / n;
    Summary {
        controller: controller.to_owned(),
        family: family.to_owned(),
        sessions: rows.len(),
        onl_qoe: mean(|r| r.onl_qoe),
        p50_frame_delay_ms: mean(|r| r.p50_frame_delay_ms),
        p95_frame_delay_ms: mean(|r| r.p95_frame_delay_ms),
        frozen_ratio: mean(|r| r.frozen_ratio),
        freezes_per_min: mean(|r| r.freezes_per_min),
        mean_quality: mean(|r| r.mean_quality),
        utilisation: mean(|r| r.utilisation),
        loss_rate: mean(|r| r.loss_rate),
        received_kbps: mean(|r| r.received_kbps),
    }
}

/// Runs every controller on every trace with up to `threads` threads. Each session lasts
/// `config.duration_ms`, or one loop of its trace if `whole_trace` is set. `keep_logs` returns
/// the full session logs too (for timelines), in the same order as the scores.
pub fn run_bench(
    traces: &[LinkTrace],
    controllers: &[ControllerSpec],
    config: &RtConfig,
    whole_trace: bool,
    threads: usize,
    keep_logs: bool,
) -> Result<(BenchReport, Vec<SessionLog>), RtError> {
    config.validate()?;
    let jobs: Vec<(usize, usize)> = (0..controllers.len())
        .flat_map(|c| (0..traces.len()).map(move |t| (c, t)))
        .collect();
    let next = AtomicUsize::new(0);
    type Outcome = Result<(SessionScore, Option<SessionLog>), RtError>;
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, jobs.len().max(1)) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(c, t)) = jobs.get(i) else { break };
                let trace = &traces[t];
                let mut cfg = config.clone();
                if whole_trace {
                    cfg.duration_ms = trace.duration_ms().max(1000.0);
                }
                let mut controller = controllers[c].build(trace);
                let out = run_session(trace, &cfg, controller.as_mut())
                    .map(|log| (score(&log, cfg.max_bps), keep_logs.then_some(log)));
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(out);
            });
        }
    });
    let mut sessions = Vec::with_capacity(jobs.len());
    let mut logs = Vec::new();
    for r in results.into_inner().unwrap_or_else(|e| e.into_inner()) {
        let (s, log) = r.expect("every job ran")?;
        sessions.push(s);
        logs.extend(log);
    }
    Ok((report_of(sessions), logs))
}

/// The report of scored sessions: the sessions and a summary per controller and family (and over
/// all families when there are several). `rt bench` and `rt client` both end here.
pub fn report_of(sessions: Vec<SessionScore>) -> BenchReport {
    let mut summary = Vec::new();
    let mut families: Vec<&str> = sessions.iter().map(|s| s.family.as_str()).collect();
    families.sort_unstable();
    families.dedup();
    let mut names: Vec<&str> = Vec::new();
    for s in &sessions {
        if !names.contains(&s.controller.as_str()) {
            names.push(&s.controller);
        }
    }
    for name in names {
        for fam in &families {
            let rows: Vec<&SessionScore> = sessions
                .iter()
                .filter(|s| s.controller == name && s.family == *fam)
                .collect();
            summary.push(summarise(name, fam, &rows));
        }
        if families.len() > 1 {
            let rows: Vec<&SessionScore> =
                sessions.iter().filter(|s| s.controller == name).collect();
            summary.push(summarise(name, "all", &rows));
        }
    }
    BenchReport { sessions, summary }
}

/// The summary as a fixed-width text table.
pub fn table(report: &BenchReport) -> String {
    let mut out = format!(
        "{:<14} {:<9} {:>4} {:>7} {:>8} {:>8} {:>7} {:>7} {:>6} {:>6} {:>6} {:>8}\n",
        "controller",
        "family",
        "n",
        "onl_qoe",
        "p50_ms",
        "p95_ms",
        "frozen",
        "frz/min",
        "mos",
        "util",
        "loss",
        "kbps"
    );
    for s in &report.summary {
        out.push_str(&format!(
            "{:<14} {:<9} {:>4} {:>7.2} {:>8.1} {:>8.1} {:>7.4} {:>7.2} {:>6.3} {:>6.3} {:>6.4} {:>8.0}\n",
            s.controller,
            s.family,
            s.sessions,
            s.onl_qoe,
            s.p50_frame_delay_ms,
            s.p95_frame_delay_ms,
            s.frozen_ratio,
            s.freezes_per_min,
            s.mean_quality,
            s.utilisation,
            s.loss_rate,
            s.received_kbps
        ));
    }
    out
}

fn csv_line(fields: &[String]) -> String {
    let quoted: Vec<String> = fields
        .iter()
        .map(|f| neuralstream_core::csv_field(f))
        .collect();
    quoted.join(",") + "\n"
}

fn write(path: &Path, text: &str) -> Result<(), RtError> {
    std::fs::write(path, text).map_err(|source| RtError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes `results.json` (sessions and summary), `sessions.csv` and `summary.csv` into `dir`
/// (created if needed); returns the paths written.
pub fn write_results(report: &BenchReport, dir: &Path) -> Result<Vec<PathBuf>, RtError> {
    std::fs::create_dir_all(dir).map_err(|source| RtError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let json = dir.join("results.json");
    let text = serde_json::to_string_pretty(report).map_err(|e| RtError::Config(e.to_string()))?;
    write(&json, &text)?;

    let sessions = dir.join("sessions.csv");
    let mut s = csv_line(
        &[
            "controller",
            "trace",
            "family",
            "split",
            "duration_s",
            "onl_qoe",
            "p50_frame_delay_ms",
            "p95_frame_delay_ms",
            "p95_packet_delay_ms",
            "freezes",
            "freezes_per_min",
            "frozen_ratio",
            "mean_quality",
            "rendered_fps",
            "resolution_switches_per_min",
            "received_kbps",
            "capacity_kbps",
            "utilisation",
            "loss_rate",
            "jitter_buffer_ms",
        ]
        .map(String::from),
    );
    for r in &report.sessions {
        let split = serde_json::to_value(r.split)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        s.push_str(&csv_line(&[
            r.controller.clone(),
            r.trace.clone(),
            r.family.clone(),
            split,
            r.duration_s.to_string(),
            r.onl_qoe.to_string(),
            r.p50_frame_delay_ms.to_string(),
            r.p95_frame_delay_ms.to_string(),
            r.p95_packet_delay_ms.to_string(),
            r.freezes.to_string(),
            r.freezes_per_min.to_string(),
            r.frozen_ratio.to_string(),
            r.mean_quality.to_string(),
            r.rendered_fps.to_string(),
            r.resolution_switches_per_min.to_string(),
            r.received_kbps.to_string(),
            r.capacity_kbps.to_string(),
            r.utilisation.to_string(),
            r.loss_rate.to_string(),
            r.jitter_buffer_ms.to_string(),
        ]));
    }
    write(&sessions, &s)?;

    let summary = dir.join("summary.csv");
    let mut s = csv_line(
        &[
            "controller",
            "family",
            "sessions",
            "onl_qoe",
            "p50_frame_delay_ms",
            "p95_frame_delay_ms",
            "frozen_ratio",
            "freezes_per_min",
            "mean_quality",
            "utilisation",
            "loss_rate",
            "received_kbps",
        ]
        .map(String::from),
    );
    for r in &report.summary {
        s.push_str(&csv_line(&[
            r.controller.clone(),
            r.family.clone(),
            r.sessions.to_string(),
            r.onl_qoe.to_string(),
            r.p50_frame_delay_ms.to_string(),
            r.p95_frame_delay_ms.to_string(),
            r.frozen_ratio.to_string(),
            r.freezes_per_min.to_string(),
            r.mean_quality.to_string(),
            r.utilisation.to_string(),
            r.loss_rate.to_string(),
            r.received_kbps.to_string(),
        ]));
    }
    write(&summary, &s)?;
    Ok(vec![json, sessions, summary])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_names_parse_with_clear_errors() {
        assert_eq!(
            ControllerSpec::parse_list("gcc, Fixed:1500,oracle").unwrap(),
            vec![
                ControllerSpec::Gcc,
                ControllerSpec::Fixed(1500.0),
                ControllerSpec::Oracle
            ]
        );
        assert_eq!(
            ControllerSpec::parse("fixed").unwrap(),
            ControllerSpec::Fixed(1000.0)
        );
        let e = ControllerSpec::parse("bba").unwrap_err().to_string();
        assert!(
            e.contains("unknown controller 'bba'") && e.contains("gcc"),
            "{e}"
        );
        assert!(ControllerSpec::parse("fixed:-3").is_err());
        assert!(ControllerSpec::parse_list("gcc,gcc").is_err());
        assert!(ControllerSpec::parse_list(" , ").is_err());
    }

    #[test]
    fn bench_is_ordered_and_independent_of_threads() {
        let traces = vec![
            LinkTrace::constant(1500.0, 40.0, 5_000.0).unwrap(),
            LinkTrace::from_steps(
                "b",
                "other",
                &[(3000.0, 3000.0, 0.01, 80.0), (2000.0, 800.0, 0.0, 80.0)],
            )
            .unwrap(),
        ];
        let specs = ControllerSpec::parse_list("gcc,fixed,oracle").unwrap();
        let cfg = RtConfig {
            duration_ms: 8_000.0,
            ..Default::default()
        };
        let (one, _) = run_bench(&traces, &specs, &cfg, false, 1, false).unwrap();
        let (three, logs) = run_bench(&traces, &specs, &cfg, false, 3, true).unwrap();
        assert_eq!(one.sessions, three.sessions);
        assert_eq!(logs.len(), 6);
        assert_eq!(one.sessions[0].controller, "gcc");
        assert_eq!(one.sessions[1].trace, "b");
        // 3 controllers x (2 families + all).
        assert_eq!(one.summary.len(), 9);
        let dir = tempfile::tempdir().unwrap();
        let paths = write_results(&one, dir.path()).unwrap();
        let csv = std::fs::read_to_string(&paths[1]).unwrap();
        assert_eq!(csv.lines().count(), 7);
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
        assert_eq!(json["sessions"].as_array().unwrap().len(), 6);
        assert!(table(&one).lines().count() == 10);
    }
}
