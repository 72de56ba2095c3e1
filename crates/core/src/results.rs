//! Result types of a benchmark run: per-trace scores and per-algorithm summaries.
//!
//! Plain data, here so that what reads results (reports, notebooks via `results.json`) needs
//! nothing of what produces them: `neuralstream-eval` fills them, `neuralstream-report` draws them.

use crate::qoe::SessionScore;
use serde::{Deserialize, Serialize};

/// Quotes a CSV field when it contains a comma, quote, CR or LF (RFC 4180), so every writer of
/// result tables (ABR benches, players, the real-time mode) escapes the same way.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// One algorithm on one trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceResult {
    /// Algorithm name.
    pub algorithm: String,
    /// Trace name.
    pub trace: String,
    /// Session score and its components.
    pub score: SessionScore,
}

/// Summary statistics of one algorithm's per-trace QoE over a trace set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlgorithmSummary {
    /// Algorithm name.
    pub algorithm: String,
    /// Traces scored.
    pub traces: usize,
    /// Mean per-trace QoE.
    pub qoe_mean: f64,
    /// Half-width of the 95% confidence interval of the mean (normal approximation, 1.96 sd/sqrt(n));
    /// `None` (JSON `null`, an empty CSV field) for a single trace, which gives no interval.
    #[serde(default)]
    pub qoe_ci95: Option<f64>,
    /// Median per-trace QoE.
    pub qoe_median: f64,
    /// 10th percentile of per-trace QoE.
    pub qoe_p10: f64,
    /// 90th percentile of per-trace QoE.
    pub qoe_p90: f64,
    /// Mean bitrate over scored chunks, averaged over traces, kbit/s.
    pub bitrate_mean_kbps: f64,
    /// Mean rebuffering per trace, seconds.
    pub rebuffer_s_mean: f64,
    /// Mean smoothness penalty per trace.
    pub smoothness_mean: f64,
    /// Mean number of switches per trace.
    pub switches_mean: f64,
    /// Mean startup delay, seconds.
    pub startup_s_mean: f64,
    /// `qoe_mean / optimum's qoe_mean`, when the offline optimum was run and its mean QoE is
    /// positive (a ratio to a negative mean would rank backwards).
    pub share_of_optimum: Option<f64>,
}

/// What a run was made of, so that results can be reproduced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchMeta {
    /// Video name.
    pub video: String,
    /// Where the traces came from (a folder, or `synthetic:seed=<seed>,count=<count>`).
    pub traces_source: String,
    /// Number of traces.
    pub traces: usize,
    /// QoE model name.
    pub qoe: String,
    /// Chunks skipped at the start of each session when scoring.
    pub skip_chunks: usize,
    /// Seed used for synthetic inputs.
    pub seed: u64,
    /// Wall time of the run, seconds.
    pub wall_s: f64,
    /// NeuralStream version.
    pub version: String,
    /// The simulator's settings, when the sessions were simulated (`None` for real sessions
    /// played by `neuralstream play`, and in results files written before this field existed).
    #[serde(default)]
    pub simulator: Option<SimulatorSettings>,
}

/// The simulator settings a run used, recorded so that a results file says how it was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulatorSettings {
    /// Round-trip time added to every chunk download, ms.
    pub rtt_ms: f64,
    /// Buffer cap, seconds.
    pub buffer_cap_s: f64,
    /// Share of the link's throughput that carries payload.
    pub payload_fraction: f64,
    /// Chunks played per session at most (`None`: the whole video).
    pub max_chunks: Option<usize>,
    /// Level of the first chunk (`None`: the algorithm chooses it too).
    pub startup_level: Option<usize>,
    /// Multiplicative delay noise range, when on (training mode).
    pub delay_noise: Option<(f64, f64)>,
    /// The trace ran during every round trip (`bench --rtt-advances-trace`); absent: it did not.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rtt_advances_trace: bool,
    /// Init segment fetched before chunk 0 and every level switch, bytes; absent: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_segment_bytes: Option<u64>,
    /// Trace time passed before each session's first request, ms; absent: 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub trace_offset_ms: f64,
}

/// `skip_serializing_if` of a setting whose default is 0.
fn is_zero(x: &f64) -> bool {
    *x == 0.0
}

/// Everything a benchmark run produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchResults {
    /// Provenance.
    pub meta: BenchMeta,
    /// One summary per algorithm, in the order requested.
    pub summaries: Vec<AlgorithmSummary>,
    /// One row per (algorithm, trace).
    pub per_trace: Vec<TraceResult>,
}

#[cfg(test)]
mod csv_tests {
    use super::csv_field;

    #[test]
    fn csv_quoting() {
        assert_eq!(csv_field("a"), "a");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("a\rb"), "\"a\rb\"");
    }
}
