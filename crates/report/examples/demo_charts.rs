//! Renders every report from fake but realistic data, to look at the charts without running a
//! benchmark: `cargo run -p neuralstream-report --example demo_charts -- /tmp/ns-report`.
//!
//! Writes `qoe_cdf.{png,svg}`, `timeline.{png,svg}` and prints both summary tables.

use neuralstream_core::{AlgorithmSummary, BenchMeta, BenchResults, TraceResult};
use neuralstream_core::{ChunkRecord, SessionScore, Trace};
use std::path::PathBuf;

/// A tiny deterministic generator (xorshift64*), so the example needs no extra dependency.
struct Lcg(u64);

impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-12), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const LADDER_KBPS: [f64; 6] = [300.0, 750.0, 1200.0, 1850.0, 2850.0, 4300.0];

fn fake_results(rng: &mut Lcg) -> BenchResults {
    let algs = [
        ("bb", 28.0, 14.0),
        ("robustmpc", 36.0, 10.0),
        ("pensieve", 34.0, 16.0),
    ];
    let traces = 50;
    let mut per_trace = Vec::new();
    let mut summaries = Vec::new();
    for (name, mu, sd) in algs {
        let mut q: Vec<f64> = (0..traces).map(|_| mu + sd * rng.normal()).collect();
        for (i, &qoe) in q.iter().enumerate() {
            per_trace.push(TraceResult {
                algorithm: name.into(),
                trace: format!("trace_{i:03}"),
                score: SessionScore {
                    qoe,
                    ..Default::default()
                },
            });
        }
        let n = q.len() as f64;
        let mean = q.iter().sum::<f64>() / n;
        let var = q.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        q.sort_by(f64::total_cmp);
        let pct = |p: f64| q[((q.len() - 1) as f64 * p).round() as usize];
        summaries.push(AlgorithmSummary {
            algorithm: name.into(),
            traces,
            qoe_mean: mean,
            qoe_ci95: Some(1.96 * var.sqrt() / n.sqrt()),
            qoe_median: pct(0.5),
            qoe_p10: pct(0.1),
            qoe_p90: pct(0.9),
            bitrate_mean_kbps: 1200.0 + mean * 30.0,
            rebuffer_s_mean: (40.0 - mean).max(0.0) * 0.1,
            smoothness_mean: 4.0 + rng.uniform() * 3.0,
            switches_mean: 5.0 + rng.uniform() * 8.0,
            startup_s_mean: 0.9,
            share_of_optimum: Some(mean / 45.0),
        });
    }
    BenchResults {
        meta: BenchMeta {
            video: "envivio".into(),
            traces_source: "synthetic:7x50".into(),
            traces,
            qoe: "lin".into(),
            skip_chunks: 1,
            seed: 7,
            wall_s: 3.2,
            version: env!("CARGO_PKG_VERSION").into(),
            simulator: None,
        },
        summaries,
        per_trace,
    }
}

fn fake_trace(rng: &mut Lcg) -> Trace {
    // 120 s of 1 s samples around 2.5 Mbit/s with a deep fade; the 48-chunk sessions loop it.
    let mut bw = Vec::new();
    let mut level: f64 = 2.5;
    for i in 0..=120 {
        level = (level + 0.4 * rng.normal()).clamp(0.3, 6.0);
        let fade = if (45..60).contains(&i) { 0.25 } else { 1.0 };
        bw.push(level * fade);
    }
    Trace::new("fcc_demo_0042", (0..=120).map(f64::from).collect(), bw).unwrap()
}

/// A crude player: downloads 4 s chunks over `trace`, choosing levels with `choose(buffer, tput)`.
fn fake_session(trace: &Trace, choose: impl Fn(f64, f64) -> usize) -> Vec<ChunkRecord> {
    let (chunk_s, max_buffer, rtt) = (4.0, 30.0, 0.08);
    let mut t = 0.0;
    let mut buffer: f64 = 0.0;
    let mut tput_kbps: f64 = 1000.0;
    let mut out = Vec::new();
    for index in 0..48 {
        let level = if index == 0 {
            1
        } else {
            choose(buffer, tput_kbps)
        };
        let bitrate_kbps = LADDER_KBPS[level];
        let size_bytes = (bitrate_kbps * 1000.0 * chunk_s / 8.0) as u64;
        let request_s = t;
        // Integrate the trace in 50 ms steps until the chunk is in.
        let mut left = size_bytes as f64 * 8.0;
        let mut now = t + rtt;
        while left > 0.0 {
            left -= trace.bandwidth_mbps_at(now) * 1e6 * 0.05;
            now += 0.05;
        }
        let delay = now - request_s;
        let rebuffer_s = if index == 0 {
            delay
        } else {
            (delay - buffer).max(0.0)
        };
        buffer = if index == 0 {
            chunk_s
        } else {
            (buffer - delay).max(0.0) + chunk_s
        };
        let sleep = (buffer - max_buffer).max(0.0);
        buffer -= sleep;
        tput_kbps = size_bytes as f64 * 8.0 / delay / 1000.0;
        out.push(ChunkRecord {
            index,
            level,
            bitrate_kbps,
            size_bytes,
            delay_ms: delay * 1000.0,
            sleep_ms: sleep * 1000.0,
            rebuffer_s,
            buffer_s: buffer,
            request_s,
            finish_s: now,
        });
        t = now + sleep;
    }
    out
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/ns-report".into()),
    );
    let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
    let results = fake_results(&mut rng);
    print!("{}", neuralstream_report::summary_table(&results));
    println!();
    print!("{}", neuralstream_report::summary_markdown(&results));
    for p in neuralstream_report::qoe_cdf_chart(&results, &dir.join("qoe_cdf"))? {
        println!("wrote {}", p.display());
    }

    let trace = fake_trace(&mut rng);
    let bb = fake_session(&trace, |buf, _| {
        (((buf - 5.0) / 3.0).floor().max(0.0) as usize).min(5)
    });
    let rate = fake_session(&trace, |_, tput| {
        LADDER_KBPS
            .iter()
            .rposition(|&b| b <= 0.9 * tput)
            .unwrap_or(0)
    });
    let mpc = fake_session(&trace, |buf, tput| {
        let budget = tput * if buf > 12.0 { 1.1 } else { 0.7 };
        LADDER_KBPS.iter().rposition(|&b| b <= budget).unwrap_or(0)
    });
    let sessions: [(&str, &[ChunkRecord]); 3] = [("bb", &bb), ("rate", &rate), ("robustmpc", &mpc)];
    for p in neuralstream_report::timeline_chart(&trace, &sessions, &dir.join("timeline"))? {
        println!("wrote {}", p.display());
    }
    Ok(())
}
