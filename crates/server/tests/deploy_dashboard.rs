//! The provisioned Grafana dashboard (deploy/grafana/dashboards/neuralstream.json) asks only for
//! series a real `/metrics` scrape contains: the server is started, a decision made, /metrics
//! scraped, and every metric name and every `label="value"` matcher of every panel's PromQL is
//! looked up in that scrape. A renamed metric or a panel about a metric the server never exports
//! fails here instead of showing "No data" to an operator.

mod common;

use common::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// PromQL words that are not metric names: aggregation modifiers and binary-operator keywords.
const KEYWORDS: [&str; 11] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
];

/// One selector found in an expression: the metric and its `label="value"` equality matchers.
#[derive(Debug)]
struct Selector {
    metric: String,
    equal: Vec<(String, String)>,
}

/// The metric selectors of a PromQL expression. Function names (an identifier followed by `(`),
/// keywords, label lists after `by`/`without`, range durations and numbers are skipped.
fn selectors(expr: &str) -> Vec<Selector> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out: Vec<Selector> = Vec::new();
    let mut i = 0;
    let mut skip_list = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j] == ' ' {
                j += 1;
            }
            let next = chars.get(j).copied();
            if KEYWORDS.contains(&word.as_str()) {
                skip_list = matches!(word.as_str(), "by" | "without" | "on" | "ignoring");
            } else if next == Some('(') || aggregation_modifier_at(&chars, j) {
                // A function call, or an aggregation written `sum by (le) (...)`.
            } else {
                out.push(Selector {
                    metric: word,
                    equal: Vec::new(),
                });
            }
            continue;
        }
        match c {
            '(' if skip_list => {
                // `by (le, status)`: label names, not metrics.
                while i < chars.len() && chars[i] != ')' {
                    i += 1;
                }
                skip_list = false;
            }
            '{' => {
                let end = (i..chars.len())
                    .find(|&k| chars[k] == '}')
                    .expect("unclosed {");
                let body: String = chars[i + 1..end].iter().collect();
                let sel = out
                    .last_mut()
                    .expect("a label matcher follows a metric name");
                for m in body.split(',').filter(|m| !m.trim().is_empty()) {
                    if let Some((k, v)) = m.split_once('=') {
                        let equality = !k.ends_with('!') && !v.starts_with('~');
                        if equality {
                            sel.equal.push((
                                k.trim().to_string(),
                                v.trim().trim_matches('"').to_string(),
                            ));
                        }
                    }
                }
                i = end;
            }
            '[' => {
                i = (i..chars.len())
                    .find(|&k| chars[k] == ']')
                    .expect("unclosed [")
            }
            '"' => {
                i = (i + 1..chars.len())
                    .find(|&k| chars[k] == '"')
                    .expect("unclosed \"")
            }
            c if c.is_ascii_digit() || c == '.' => {
                while i + 1 < chars.len()
                    && (chars[i + 1].is_ascii_alphanumeric() || chars[i + 1] == '.')
                {
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// True when `by` or `without` (an aggregation's modifier) starts at `at`.
fn aggregation_modifier_at(chars: &[char], at: usize) -> bool {
    ["by", "without"].iter().any(|kw| {
        let end = at + kw.len();
        chars.len() > end
            && chars[at..end].iter().copied().eq(kw.chars())
            && matches!(chars[end], ' ' | '(')
    })
}

/// Every series of a Prometheus text exposition: metric name -> label sets (as `k="v"` strings).
fn scraped_series(text: &str) -> BTreeMap<String, Vec<BTreeSet<String>>> {
    let mut series: BTreeMap<String, Vec<BTreeSet<String>>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let labels = match (line.find('{'), line.find('}')) {
            (Some(a), Some(b)) if a == name_end => line[a + 1..b]
                .split(',')
                .map(|kv| kv.trim().to_string())
                .collect(),
            _ => BTreeSet::new(),
        };
        series
            .entry(line[..name_end].to_string())
            .or_default()
            .push(labels);
    }
    series
}

/// The server's `/metrics` text.
async fn scrape(http: &reqwest::Client, base: &str) -> String {
    let r = http.get(format!("{base}metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}

fn dashboard() -> serde_json::Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../deploy/grafana/dashboards/neuralstream.json");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn the_parser_finds_metrics_and_matchers_and_skips_functions_and_label_lists() {
    let s = selectors(
        r#"histogram_quantile(0.99, sum by (le) (rate(a_bucket{route="decision",status!="200"}[1m]))) / sum(b_total) + up"#,
    );
    let names: Vec<&str> = s.iter().map(|s| s.metric.as_str()).collect();
    assert_eq!(names, ["a_bucket", "b_total", "up"]);
    assert_eq!(s[0].equal, [("route".to_string(), "decision".to_string())]);
}

#[test]
fn every_metric_the_dashboard_uses_is_in_a_real_scrape() {
    let fx = fixture();
    let rt = runtime();
    let scrape = rt.block_on(async {
        let cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["robustmpc"]);
        let running = neuralstream_server::start(cfg).await.unwrap();
        let http = client(&running);
        let base = running.base_url.clone();
        let r = http
            .post(format!("{base}api/v1/sessions/dash-1/decision"))
            .json(&serde_json::json!({"buffer_s": 0.0}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let text = scrape(&http, &base).await;
        running.shutdown(Duration::from_secs(1)).await;
        text
    });
    let series = scraped_series(&scrape);

    let dash = dashboard();
    let panels = dash["panels"].as_array().expect("panels");
    assert!(
        panels.len() >= 8,
        "the dashboard lost panels: {}",
        panels.len()
    );
    let mut used = BTreeSet::new();
    for panel in panels {
        let title = panel["title"].as_str().unwrap_or("?");
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel '{title}' has no query");
        for target in targets {
            let expr = target["expr"].as_str().expect("expr");
            let sels = selectors(expr);
            assert!(!sels.is_empty(), "panel '{title}': no metric in `{expr}`");
            for sel in sels {
                let found = series.get(&sel.metric).unwrap_or_else(|| {
                    panic!(
                        "panel '{title}' uses `{}`, which /metrics does not contain; it has: {:?}",
                        sel.metric,
                        series.keys().collect::<Vec<_>>()
                    )
                });
                for (k, v) in &sel.equal {
                    let pair = format!("{k}=\"{v}\"");
                    assert!(
                        found.iter().any(|labels| labels.contains(&pair)),
                        "panel '{title}' selects `{}{{{pair}}}`, which no scraped series has",
                        sel.metric
                    );
                }
                used.insert(sel.metric);
            }
        }
    }
    // The issue's panels: decisions/s, latency percentiles, sessions, per-algorithm QoE, stalls.
    for needed in [
        "neuralstream_http_requests_total",
        "neuralstream_decision_duration_seconds_bucket",
        "neuralstream_sessions_active",
        "neuralstream_session_qoe",
        "neuralstream_algorithm_session_qoe",
        "neuralstream_algorithm_rebuffer_seconds",
        "neuralstream_algorithm_sessions_stalled",
    ] {
        assert!(used.contains(needed), "no panel uses {needed}");
    }
}

#[test]
fn the_per_algorithm_families_follow_each_sessions_qoe_and_stalls() {
    let fx = fixture();
    let rt = runtime();
    let scrape = rt.block_on(async {
        let cfg = config(
            &[&fx.media],
            &fx.dir.path().join("state"),
            &["robustmpc", "bola"],
        );
        let running = neuralstream_server::start(cfg).await.unwrap();
        let http = client(&running);
        let base = running.base_url.clone();
        let post = |id: &'static str, body: serde_json::Value| {
            let (http, url) = (http.clone(), format!("{base}api/v1/sessions/{id}/decision"));
            async move {
                let r = http.post(url).json(&body).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        };
        let chunk = |index: usize, rebuffer_s: f64| {
            serde_json::json!({
                "last_chunk": {"index": index, "level": 0, "size_bytes": 300_000,
                               "request_start_ms": 0.0, "request_finish_ms": 900.0},
                "buffer_s": 3.0, "rebuffer_s": rebuffer_s
            })
        };
        post("calm", serde_json::json!({"buffer_s": 0.0})).await;
        post("calm", chunk(0, 0.0)).await;
        post(
            "stalled",
            serde_json::json!({"buffer_s": 0.0, "algorithm": "bola"}),
        )
        .await;
        post("stalled", chunk(0, 0.7)).await; // start-up: not a stall
        post("stalled", chunk(1, 1.5)).await;
        let text = scrape(&http, &base).await;
        running.shutdown(Duration::from_secs(1)).await;
        text
    });
    for line in [
        "neuralstream_algorithm_sessions_active{algorithm=\"robustmpc\"} 1",
        "neuralstream_algorithm_sessions_active{algorithm=\"bola\"} 1",
        "neuralstream_algorithm_rebuffer_seconds{algorithm=\"robustmpc\"} 0",
        "neuralstream_algorithm_rebuffer_seconds{algorithm=\"bola\"} 1.5",
        "neuralstream_algorithm_sessions_stalled{algorithm=\"robustmpc\"} 0",
        "neuralstream_algorithm_sessions_stalled{algorithm=\"bola\"} 1",
        "neuralstream_algorithm_session_qoe_count{algorithm=\"bola\"} 1",
    ] {
        assert!(
            scrape.lines().any(|l| l == line),
            "no line `{line}` in:\n{scrape}"
        );
    }
}
