//! Writes results in standard formats: `results.json`, `results.csv` (per trace), `summary.csv`
//! (per algorithm) and `chunks.csv` (per chunk).

use crate::results::BenchResults;
use crate::runner::SessionOutput;
use neuralstream_core::Trace;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

pub use neuralstream_core::csv_field;

fn write(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    f.write_all(text.as_bytes())?;
    f.flush()?;
    Ok(path.to_path_buf())
}

fn opt(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| format!("{v}"))
}

/// Writes `results.json`, `results.csv` and `summary.csv` into `dir`; returns the paths.
pub fn write_results(dir: &Path, results: &BenchResults) -> std::io::Result<Vec<PathBuf>> {
    let json = serde_json::to_string_pretty(results).map_err(std::io::Error::other)?;
    let mut paths = vec![write(&dir.join("results.json"), &json)?];

    let mut csv = String::from(
        "algorithm,trace,qoe,qoe_all_chunks,utility_sum,rebuffer_penalty,smoothness_penalty,bitrate_mean_kbps,rebuffer_s,startup_s,switches,chunks_scored\n",
    );
    for r in &results.per_trace {
        let s = &r.score;
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&r.algorithm),
            csv_field(&r.trace),
            s.qoe,
            s.qoe_all,
            s.utility_sum,
            s.rebuffer_penalty,
            s.smoothness_penalty,
            s.bitrate_mean_kbps,
            s.rebuffer_s,
            s.startup_s,
            s.switches,
            s.chunks_scored
        );
    }
    paths.push(write(&dir.join("results.csv"), &csv)?);

    let mut sum = String::from(
        "algorithm,traces,qoe_mean,qoe_ci95,qoe_median,qoe_p10,qoe_p90,bitrate_mean_kbps,rebuffer_s_mean,smoothness_mean,switches_mean,startup_s_mean,share_of_optimum\n",
    );
    for s in &results.summaries {
        let _ = writeln!(
            sum,
            "{},{},{},{},{},{},{},{},{},{},{},{},{}",
            csv_field(&s.algorithm),
            s.traces,
            s.qoe_mean,
            opt(s.qoe_ci95),
            s.qoe_median,
            s.qoe_p10,
            s.qoe_p90,
            s.bitrate_mean_kbps,
            s.rebuffer_s_mean,
            s.smoothness_mean,
            s.switches_mean,
            s.startup_s_mean,
            opt(s.share_of_optimum)
        );
    }
    paths.push(write(&dir.join("summary.csv"), &sum)?);
    Ok(paths)
}

/// Writes every kept session's per-chunk log to `chunks.csv` in `dir`.
pub fn write_chunk_log(
    dir: &Path,
    traces: &[Trace],
    logs: &[SessionOutput],
) -> std::io::Result<PathBuf> {
    let path = dir.join("chunks.csv");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    writeln!(
        f,
        "algorithm,trace,chunk,level,bitrate_kbps,size_bytes,delay_ms,sleep_ms,rebuffer_s,buffer_s,request_s,finish_s,throughput_kbps,reward,predicted_throughput_kbps,buffer_target_s"
    )?;
    for s in logs {
        let trace = csv_field(&traces[s.trace_index].name);
        let algo = csv_field(&s.algorithm);
        for ((r, d), reward) in s.log.records.iter().zip(&s.log.decisions).zip(&s.rewards) {
            writeln!(
                f,
                "{algo},{trace},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                r.index,
                r.level,
                r.bitrate_kbps,
                r.size_bytes,
                r.delay_ms,
                r.sleep_ms,
                r.rebuffer_s,
                r.buffer_s,
                r.request_s,
                r.finish_s,
                r.throughput_kbps(),
                reward,
                opt(d.predicted_throughput_kbps),
                opt(d.buffer_target_s)
            )?;
        }
    }
    f.flush()?;
    Ok(path)
}
