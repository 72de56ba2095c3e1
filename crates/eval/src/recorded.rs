//! Results of sessions played outside the simulator (`neuralstream play`'s real players), scored
//! into the same tables as [`crate::run_bench`]'s, so that `bench` and `play` files compare row
//! for row: one result row per session, one summary per algorithm, the logs for `chunks.csv`.

use crate::runner::{summarize, SessionOutput};
use neuralstream_core::qoe::CompiledQoe;
use neuralstream_core::results::{BenchMeta, BenchResults, TraceResult};
use neuralstream_core::Trace;
use neuralstream_sim::SessionLog;

/// One session a player recorded.
#[derive(Debug, Clone)]
pub struct RecordedSession {
    /// Decision maker.
    pub algorithm: String,
    /// The trace the session was shaped by, named as its result row should be (e.g. with the
    /// client number when several players played it).
    pub trace: Trace,
    /// Per-chunk records and decisions.
    pub log: SessionLog,
}

/// The tables of a set of recorded sessions.
#[derive(Debug, Clone)]
pub struct RecordedResults {
    /// Result rows in session order, summaries per algorithm in order of first appearance.
    pub results: BenchResults,
    /// The sessions' logs; `trace_index` points into `traces`.
    pub logs: Vec<SessionOutput>,
    /// One trace per session, as named in the rows.
    pub traces: Vec<Trace>,
}

/// Scores `sessions` with `qoe` from chunk `skip_chunks` on; `meta` describes the run (its
/// `traces` count is set to the number of sessions).
pub fn score_recorded(
    sessions: Vec<RecordedSession>,
    mut meta: BenchMeta,
    qoe: &CompiledQoe,
    skip_chunks: usize,
) -> RecordedResults {
    let mut rows = Vec::with_capacity(sessions.len());
    let mut logs = Vec::with_capacity(sessions.len());
    let mut traces = Vec::with_capacity(sessions.len());
    let mut algorithms: Vec<String> = Vec::new();
    for (i, s) in sessions.into_iter().enumerate() {
        if !algorithms.contains(&s.algorithm) {
            algorithms.push(s.algorithm.clone());
        }
        rows.push(TraceResult {
            algorithm: s.algorithm.clone(),
            trace: s.trace.name.clone(),
            score: qoe.score(&s.log.records, skip_chunks),
        });
        logs.push(SessionOutput {
            algorithm: s.algorithm,
            trace_index: i,
            rewards: qoe.rewards(&s.log.records),
            log: s.log,
        });
        traces.push(s.trace);
    }
    meta.traces = rows.len();
    let summaries = algorithms
        .iter()
        .map(|a| summarize(a, rows.iter().filter(|r| &r.algorithm == a)))
        .collect();
    RecordedResults {
        results: BenchResults {
            meta,
            summaries,
            per_trace: rows,
        },
        logs,
        traces,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use neuralstream_core::{ChunkRecord, QoeModel, Video};
    use neuralstream_data::synthetic::builtin_video;

    fn session(video: &Video, algorithm: &str, trace: &str, levels: &[usize]) -> RecordedSession {
        let records = levels
            .iter()
            .enumerate()
            .map(|(index, &level)| ChunkRecord {
                index,
                level,
                bitrate_kbps: video.ladder.kbps(level),
                ..ChunkRecord::default()
            })
            .collect();
        RecordedSession {
            algorithm: algorithm.into(),
            trace: Trace::new(trace, vec![0.0, 1.0], vec![1.0, 1.0]).unwrap(),
            log: SessionLog {
                records,
                decisions: Vec::new(),
            },
        }
    }

    #[test]
    fn one_row_per_session_and_one_summary_per_algorithm_in_order() {
        let video = builtin_video();
        let qoe = QoeModel::lin().compile(&video).unwrap();
        let sessions = vec![
            session(&video, "bb", "a#c0", &[0, 1, 1]),
            session(&video, "mpc", "a#c1", &[3, 3, 3]),
            session(&video, "bb", "b", &[0, 0, 0]),
        ];
        let meta = BenchMeta {
            video: video.name.clone(),
            traces_source: "recorded".into(),
            traces: 0,
            qoe: "lin".into(),
            skip_chunks: 1,
            seed: 0,
            wall_s: 0.0,
            version: String::new(),
            simulator: None,
        };
        let out = score_recorded(sessions, meta, &qoe, 1);
        let r = &out.results;
        assert_eq!(r.meta.traces, 3);
        let names: Vec<&str> = r.per_trace.iter().map(|t| t.trace.as_str()).collect();
        assert_eq!(names, ["a#c0", "a#c1", "b"]);
        let algos: Vec<&str> = r.summaries.iter().map(|s| s.algorithm.as_str()).collect();
        assert_eq!(algos, ["bb", "mpc"]);
        assert_eq!(r.summaries[0].traces, 2);
        // Scored like bench: the top level on every scored chunk beats the bottom one.
        assert!(r.per_trace[1].score.qoe > r.per_trace[2].score.qoe);
        assert_eq!(out.logs[2].trace_index, 2);
        assert_eq!(out.traces[2].name, "b");
        assert_eq!(out.logs[0].rewards.len(), 3);
    }
}
