//! Prometheus metrics, hand-written: a few atomics and a text exposition (format 0.0.4), so the
//! hot path costs two relaxed atomic adds and the build pulls in no metrics crates.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The routes requests are counted by (a fixed set, so label cardinality stays bounded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `POST /api/v1/sessions/{id}/decision`.
    Decision,
    /// `/media/...`.
    Media,
    /// `/api/v1/videos`.
    Videos,
    /// `/api/v1/algorithms`.
    Algorithms,
    /// `/api/v1/openapi.json`.
    OpenApi,
    /// `/healthz`.
    Healthz,
    /// `/metrics`.
    Metrics,
    /// The web player and anything else.
    Web,
}

impl Route {
    const ALL: [Route; 8] = [
        Route::Decision,
        Route::Media,
        Route::Videos,
        Route::Algorithms,
        Route::OpenApi,
        Route::Healthz,
        Route::Metrics,
        Route::Web,
    ];

    /// Classifies a request path.
    pub fn of(path: &str) -> Route {
        use neuralstream_protocol as p;
        if path.starts_with(p::SESSIONS_PREFIX) {
            Route::Decision
        } else if path.starts_with(p::MEDIA_PREFIX) {
            Route::Media
        } else if path == p::VIDEOS_PATH {
            Route::Videos
        } else if path == p::ALGORITHMS_PATH {
            Route::Algorithms
        } else if path == p::OPENAPI_PATH {
            Route::OpenApi
        } else if path == p::HEALTHZ_PATH {
            Route::Healthz
        } else if path == p::METRICS_PATH {
            Route::Metrics
        } else {
            Route::Web
        }
    }

    /// Label value.
    pub fn label(self) -> &'static str {
        match self {
            Route::Decision => "decision",
            Route::Media => "media",
            Route::Videos => "videos",
            Route::Algorithms => "algorithms",
            Route::OpenApi => "openapi",
            Route::Healthz => "healthz",
            Route::Metrics => "metrics",
            Route::Web => "web",
        }
    }
}

/// Upper bounds of the decision latency histogram, seconds.
pub const LATENCY_BUCKETS_S: [f64; 14] = [
    0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025,
    0.05, 0.1, 1.0,
];

const STATUSES: usize = 500; // 100..=599

/// A Prometheus histogram of durations over [`LATENCY_BUCKETS_S`].
#[derive(Debug, Default)]
pub(crate) struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS_S.len() + 1],
    sum_ns: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    /// Counts one duration.
    pub(crate) fn record(&self, elapsed: Duration) {
        let s = elapsed.as_secs_f64();
        let b = LATENCY_BUCKETS_S
            .iter()
            .position(|&le| s <= le)
            .unwrap_or(LATENCY_BUCKETS_S.len());
        self.buckets[b].fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add(elapsed.as_nanos() as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends the exposition of this histogram as `name`.
    pub(crate) fn render(&self, out: &mut String, name: &str, help: &str) {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (i, le) in LATENCY_BUCKETS_S.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
        }
        cumulative += self.buckets[LATENCY_BUCKETS_S.len()].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9
        );
        let _ = writeln!(out, "{name}_count {}", self.count.load(Ordering::Relaxed));
    }
}

/// Every counter of the server.
#[derive(Debug)]
pub struct Metrics {
    requests: Vec<AtomicU64>, // [route][status - 100]
    bytes_served: AtomicU64,
    decision: Histogram,
    body_read: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: (0..Route::ALL.len() * STATUSES)
                .map(|_| AtomicU64::new(0))
                .collect(),
            bytes_served: AtomicU64::new(0),
            decision: Histogram::default(),
            body_read: Histogram::default(),
        }
    }
}

/// Gauges read at scrape time from the session store.
#[derive(Debug, Clone, Default)]
pub struct SessionGauges {
    /// Sessions alive.
    pub active: usize,
    /// Sessions created since start.
    pub created_total: u64,
    /// Sessions evicted for idleness since start.
    pub evicted_total: u64,
    /// QoE so far of every live session.
    pub qoe: Vec<f64>,
    /// Bytes of the session budget the live sessions hold.
    pub reserved_bytes: u64,
    /// The session budget, bytes.
    pub budget_bytes: u64,
    /// Every live session's algorithm, QoE so far and stall so far (after start-up, seconds),
    /// rendered per algorithm (the `neuralstream_algorithm_*` families).
    pub live: Vec<LiveSession>,
}

/// What the per-algorithm metrics read of one live session.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveSession {
    /// The session's algorithm (one of `--abr`, so the label set stays bounded).
    pub algorithm: String,
    /// QoE so far under the server's QoE model.
    pub qoe: f64,
    /// Stall time after start-up so far, seconds.
    pub rebuffer_s: f64,
}

/// A Prometheus label value: backslash, double quote and line feed escaped.
fn label_value(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Appends the samples of a summary `name` over `values`: quantiles 0.1, 0.5 and 0.9 (NaN when
/// empty), `_sum` and `_count`, each with the label pairs `labels` (`k="v",...`, may be empty).
fn write_summary(out: &mut String, name: &str, labels: &str, mut values: Vec<f64>) {
    values.sort_by(f64::total_cmp);
    let sep = if labels.is_empty() { "" } else { "," };
    for q in [0.1, 0.5, 0.9] {
        let _ = writeln!(
            out,
            "{name}{{{labels}{sep}quantile=\"{q}\"}} {}",
            quantile(&values, q)
        );
    }
    let braced = if labels.is_empty() {
        String::new()
    } else {
        format!("{{{labels}}}")
    };
    let _ = writeln!(out, "{name}_sum{braced} {}", values.iter().sum::<f64>());
    let _ = writeln!(out, "{name}_count{braced} {}", values.len());
}

/// Appends the per-algorithm families: live sessions, their QoE summary, their stall time and
/// how many of them stalled, each labelled by algorithm (only algorithms with live sessions).
fn render_per_algorithm(out: &mut String, live: &[LiveSession]) {
    let mut by: std::collections::BTreeMap<&str, Vec<&LiveSession>> = Default::default();
    for s in live {
        by.entry(s.algorithm.as_str()).or_default().push(s);
    }
    let groups: Vec<(String, Vec<&LiveSession>)> =
        by.into_iter().map(|(a, v)| (label_value(a), v)).collect();
    out.push_str(
        "# HELP neuralstream_algorithm_sessions_active Live decision sessions by algorithm.\n",
    );
    out.push_str("# TYPE neuralstream_algorithm_sessions_active gauge\n");
    for (a, v) in &groups {
        let _ = writeln!(
            out,
            "neuralstream_algorithm_sessions_active{{algorithm=\"{a}\"}} {}",
            v.len()
        );
    }
    out.push_str("# HELP neuralstream_algorithm_session_qoe QoE so far of the live sessions by algorithm (server's QoE model).\n");
    out.push_str("# TYPE neuralstream_algorithm_session_qoe summary\n");
    for (a, v) in &groups {
        let qoe = v.iter().map(|s| s.qoe).collect();
        write_summary(
            out,
            "neuralstream_algorithm_session_qoe",
            &format!("algorithm=\"{a}\""),
            qoe,
        );
    }
    out.push_str("# HELP neuralstream_algorithm_rebuffer_seconds Stall time after start-up of the live sessions by algorithm, seconds.\n");
    out.push_str("# TYPE neuralstream_algorithm_rebuffer_seconds gauge\n");
    for (a, v) in &groups {
        let total: f64 = v.iter().map(|s| s.rebuffer_s).sum();
        let _ = writeln!(
            out,
            "neuralstream_algorithm_rebuffer_seconds{{algorithm=\"{a}\"}} {total}"
        );
    }
    out.push_str("# HELP neuralstream_algorithm_sessions_stalled Live sessions that stalled after start-up, by algorithm.\n");
    out.push_str("# TYPE neuralstream_algorithm_sessions_stalled gauge\n");
    for (a, v) in &groups {
        let n = v.iter().filter(|s| s.rebuffer_s > 0.0).count();
        let _ = writeln!(
            out,
            "neuralstream_algorithm_sessions_stalled{{algorithm=\"{a}\"}} {n}"
        );
    }
}

fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

impl Metrics {
    /// Counts a finished request and the body bytes it announced.
    pub fn record_request(&self, route: Route, status: u16, body_bytes: u64) {
        let s = (status as usize).clamp(100, 599) - 100;
        let r = Route::ALL.iter().position(|x| *x == route).unwrap_or(0);
        self.requests[r * STATUSES + s].fetch_add(1, Ordering::Relaxed);
        if body_bytes > 0 {
            self.bytes_served.fetch_add(body_bytes, Ordering::Relaxed);
        }
    }

    /// Records one decision's time from its complete request (body read) to its answer.
    pub fn record_decision(&self, elapsed: Duration) {
        self.decision.record(elapsed);
    }

    /// Records the time one decision request's body took to arrive (the client's upload).
    pub fn record_body_read(&self, elapsed: Duration) {
        self.body_read.record(elapsed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, sessions: &SessionGauges) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str(
            "# HELP neuralstream_http_requests_total HTTP requests by route and status.\n",
        );
        out.push_str("# TYPE neuralstream_http_requests_total counter\n");
        for (r, route) in Route::ALL.iter().enumerate() {
            for s in 0..STATUSES {
                let n = self.requests[r * STATUSES + s].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "neuralstream_http_requests_total{{route=\"{}\",status=\"{}\"}} {n}",
                        route.label(),
                        s + 100
                    );
                }
            }
        }
        out.push_str("# HELP neuralstream_http_response_bytes_total Response body bytes sent (Content-Length of answers).\n");
        out.push_str("# TYPE neuralstream_http_response_bytes_total counter\n");
        let _ = writeln!(
            out,
            "neuralstream_http_response_bytes_total {}",
            self.bytes_served.load(Ordering::Relaxed)
        );
        self.decision.render(
            &mut out,
            "neuralstream_decision_duration_seconds",
            "Time to answer a decision request once its body has arrived (parse, decide, serialise).",
        );
        self.body_read.render(
            &mut out,
            "neuralstream_decision_body_read_seconds",
            "Time a decision request's body took to arrive (the client's upload).",
        );
        out.push_str("# HELP neuralstream_sessions_active Decision sessions alive now.\n");
        out.push_str("# TYPE neuralstream_sessions_active gauge\n");
        let _ = writeln!(out, "neuralstream_sessions_active {}", sessions.active);
        out.push_str("# HELP neuralstream_sessions_created_total Decision sessions created.\n");
        out.push_str("# TYPE neuralstream_sessions_created_total counter\n");
        let _ = writeln!(
            out,
            "neuralstream_sessions_created_total {}",
            sessions.created_total
        );
        out.push_str(
            "# HELP neuralstream_sessions_evicted_total Decision sessions dropped for idleness.\n",
        );
        out.push_str("# TYPE neuralstream_sessions_evicted_total counter\n");
        let _ = writeln!(
            out,
            "neuralstream_sessions_evicted_total {}",
            sessions.evicted_total
        );
        out.push_str("# HELP neuralstream_sessions_reserved_bytes Bytes of the session memory budget the live sessions hold (each its worst case).\n");
        out.push_str("# TYPE neuralstream_sessions_reserved_bytes gauge\n");
        let _ = writeln!(
            out,
            "neuralstream_sessions_reserved_bytes {}",
            sessions.reserved_bytes
        );
        out.push_str("# HELP neuralstream_sessions_budget_bytes The session memory budget (--session-memory-mb).\n");
        out.push_str("# TYPE neuralstream_sessions_budget_bytes gauge\n");
        let _ = writeln!(
            out,
            "neuralstream_sessions_budget_bytes {}",
            sessions.budget_bytes
        );
        out.push_str("# HELP neuralstream_session_qoe QoE so far of the live sessions (server's QoE model).\n");
        out.push_str("# TYPE neuralstream_session_qoe summary\n");
        write_summary(
            &mut out,
            "neuralstream_session_qoe",
            "",
            sessions.qoe.clone(),
        );
        render_per_algorithm(&mut out, &sessions.live);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition_has_counters_histogram_and_summary() {
        let m = Metrics::default();
        m.record_request(Route::Decision, 200, 120);
        m.record_request(Route::Media, 206, 1000);
        m.record_decision(Duration::from_micros(30));
        m.record_decision(Duration::from_secs(5));
        m.record_body_read(Duration::from_millis(300));
        let text = m.render(&SessionGauges {
            active: 2,
            created_total: 3,
            evicted_total: 1,
            qoe: vec![1.0, 3.0],
            reserved_bytes: 4096,
            budget_bytes: 1 << 20,
            live: vec![
                LiveSession {
                    algorithm: "bola".into(),
                    qoe: 1.0,
                    rebuffer_s: 0.0,
                },
                LiveSession {
                    algorithm: "learned:a\"b.safetensors".into(),
                    qoe: 3.0,
                    rebuffer_s: 2.5,
                },
                LiveSession {
                    algorithm: "bola".into(),
                    qoe: 5.0,
                    rebuffer_s: 1.5,
                },
            ],
        });
        assert!(text.contains("neuralstream_algorithm_sessions_active{algorithm=\"bola\"} 2\n"));
        assert!(text.contains(
            "neuralstream_algorithm_session_qoe{algorithm=\"bola\",quantile=\"0.9\"} 5\n"
        ));
        assert!(text.contains("neuralstream_algorithm_session_qoe_sum{algorithm=\"bola\"} 6\n"));
        assert!(text.contains("neuralstream_algorithm_rebuffer_seconds{algorithm=\"bola\"} 1.5\n"));
        assert!(text.contains("neuralstream_algorithm_sessions_stalled{algorithm=\"bola\"} 1\n"));
        // Label values are escaped (a policy path may hold a quote).
        assert!(text.contains(
            "neuralstream_algorithm_sessions_stalled{algorithm=\"learned:a\\\"b.safetensors\"} 1\n"
        ));
        assert!(text.contains("neuralstream_sessions_reserved_bytes 4096"));
        assert!(text.contains("neuralstream_sessions_budget_bytes 1048576"));
        assert!(
            text.contains("neuralstream_http_requests_total{route=\"decision\",status=\"200\"} 1")
        );
        assert!(text.contains("neuralstream_http_response_bytes_total 1120"));
        assert!(text.contains("neuralstream_decision_duration_seconds_bucket{le=\"0.00005\"} 1"));
        assert!(text.contains("neuralstream_decision_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("neuralstream_decision_body_read_seconds_bucket{le=\"0.1\"} 0"));
        assert!(text.contains("neuralstream_decision_body_read_seconds_sum 0.3"));
        assert!(text.contains("neuralstream_sessions_active 2"));
        assert!(text.contains("neuralstream_session_qoe_count 2"));
        assert_eq!(Route::of("/api/v1/sessions/x/decision"), Route::Decision);
        assert_eq!(Route::of("/index.html"), Route::Web);
    }
}
