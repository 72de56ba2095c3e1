//! Load generator of the real-time WebSocket endpoint (`/api/v1/rt/metrics`), issue 21's bar:
//! 1,000 concurrent sessions x 20 reports per second for 60 s on loopback, zero failed messages,
//! p99 server-side decision latency under 5 ms.
//!
//! ```text
//! cargo run --release -p neuralstream-server --example rt_load -- [SESSIONS] [RATE_PER_S] [DURATION_S] [CONTROLLER]
//! ```
//! (defaults 1000 20 60 gcc). It starts the server in this process (plain `ws://`, port 0, the
//! `--rt-controllers` given, default limits), opens every session, then each session sends one
//! report per 1/RATE s (the feedback of a ~1.5 Mbit/s sender: 8 packets per report) and waits
//! for its answer before the next. At the end it prints: messages sent, answered and failed
//! (any error, close or answer with a wrong seq), the client-side round-trip percentiles, and
//! the server's own decision-latency histogram from `/metrics` (p50/p99 as the bucket bounds
//! holding them; parse + check + decide + record + serialise, measured by the server).

use futures_util::{SinkExt, StreamExt};
use neuralstream_rt::dataset::{DecisionMessage, IntervalReport};
use neuralstream_rt::{Decision, Feedback, PacketReport, Resolution};
use neuralstream_server::rt_ws::RtServeConfig;
use neuralstream_server::{ServerConfig, TlsMode};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    answered: AtomicU64,
    failed: AtomicU64,
}

fn report(seq: u64, interval_ms: f64) -> String {
    let now = interval_ms * seq as f64;
    let fb = Feedback {
        now_ms: now,
        rtt_ms: Some(40.0),
        packets: (0..8)
            .map(|i| PacketReport {
                seq: 8 * seq + i,
                send_ms: now - 45.0 + 5.0 * i as f64,
                arrival_ms: Some(now - 25.0 + 5.0 * i as f64 + (seq % 7) as f64),
                bytes: 1200,
            })
            .collect(),
    };
    let applied = Decision {
        target_bps: 1.5e6,
        resolution: Resolution::P720,
        fps: 30,
    };
    serde_json::to_string(&IntervalReport::new(seq, &fb, &applied)).unwrap()
}

async fn session(
    url: String,
    rate: f64,
    until: Instant,
    counts: Arc<Counts>,
    rtts_us: Arc<std::sync::Mutex<Vec<u32>>>,
) {
    let fail = |counts: &Counts| {
        counts.failed.fetch_add(1, Ordering::Relaxed);
    };
    let Ok((mut ws, _)) = tokio_tungstenite::connect_async(url).await else {
        return fail(&counts);
    };
    if !matches!(ws.next().await, Some(Ok(Message::Text(_)))) {
        return fail(&counts);
    }
    let period = Duration::from_secs_f64(1.0 / rate);
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut local = Vec::with_capacity((rate * 70.0) as usize);
    let mut seq = 0;
    while Instant::now() < until {
        tick.tick().await;
        seq += 1;
        let sent_at = Instant::now();
        counts.sent.fetch_add(1, Ordering::Relaxed);
        if ws
            .send(Message::text(report(seq, 1000.0 / rate)))
            .await
            .is_err()
        {
            fail(&counts);
            break;
        }
        match ws.next().await {
            Some(Ok(Message::Text(t))) => match serde_json::from_str::<DecisionMessage>(t.as_str())
            {
                Ok(d) if d.seq == seq => {
                    counts.answered.fetch_add(1, Ordering::Relaxed);
                    local.push(sent_at.elapsed().as_micros().min(u32::MAX as u128) as u32);
                }
                _ => {
                    fail(&counts);
                    break;
                }
            },
            _ => {
                fail(&counts);
                break;
            }
        }
    }
    let _ = ws.close(None).await;
    rtts_us.lock().unwrap().extend(local);
}

fn pct(sorted: &[u32], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

/// The bucket bound (ms) holding quantile `q` of a Prometheus histogram `name` in `text`.
fn bucket_quantile(text: &str, name: &str, q: f64) -> String {
    let buckets: Vec<(String, f64)> = text
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{name}_bucket{{le=\"")))
        .filter_map(|rest| {
            let (le, n) = rest.split_once("\"} ")?;
            Some((le.to_string(), n.trim().parse().ok()?))
        })
        .collect();
    let total = buckets.last().map_or(0.0, |b| b.1);
    buckets
        .iter()
        .find(|(_, n)| *n >= q * total)
        .map_or("n/a".into(), |(le, _)| match le.parse::<f64>() {
            Ok(s) => format!("<= {} ms", s * 1000.0),
            Err(_) => le.clone(),
        })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sessions: usize = args.first().map_or(1000, |s| s.parse().expect("SESSIONS"));
    let rate: f64 = args.get(1).map_or(20.0, |s| s.parse().expect("RATE_PER_S"));
    let duration_s: f64 = args.get(2).map_or(60.0, |s| s.parse().expect("DURATION_S"));
    let controller = args.get(3).cloned().unwrap_or_else(|| "gcc".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let mut cfg = ServerConfig::new(Vec::new(), vec!["bb".into()]);
        cfg.tls = TlsMode::Insecure;
        cfg.port = 0;
        cfg.rt = RtServeConfig {
            controllers: vec![controller.clone()],
            ..Default::default()
        };
        let server = neuralstream_server::start(cfg).await.unwrap();
        let url = format!("ws://{}/api/v1/rt/metrics", server.addr);
        let counts = Arc::new(Counts::default());
        let rtts = Arc::new(std::sync::Mutex::new(Vec::new()));
        let started = Instant::now();
        let until = started + Duration::from_secs_f64(duration_s);
        let mut tasks = Vec::with_capacity(sessions);
        for i in 0..sessions {
            // Open sessions spread over the first period, so their reports interleave.
            let u = format!("{url}?session=load{i}&controller={controller}");
            let (c, r) = (counts.clone(), rtts.clone());
            tasks.push(tokio::spawn(session(u, rate, until, c, r)));
            if i % 50 == 49 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        let wall = started.elapsed().as_secs_f64();
        let mut c = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut metrics = String::new();
        c.read_to_string(&mut metrics).await.unwrap();
        let mut rtts = rtts.lock().unwrap().clone();
        rtts.sort_unstable();
        let h = "neuralstream_rt_decision_duration_seconds";
        let (sent, answered, failed) = (
            counts.sent.load(Ordering::Relaxed),
            counts.answered.load(Ordering::Relaxed),
            counts.failed.load(Ordering::Relaxed),
        );
        println!(
            "sessions {sessions}, {rate} reports/s each, {duration_s} s, controller {controller}: \
             sent {sent}, answered {answered}, failed {failed} ({:.0} answers/s over {wall:.1} s)",
            answered as f64 / wall
        );
        println!(
            "client round trip: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
            pct(&rtts, 0.5),
            pct(&rtts, 0.99),
            pct(&rtts, 1.0)
        );
        println!(
            "server decision latency (histogram buckets): p50 {}, p99 {}, p99.9 {}",
            bucket_quantile(&metrics, h, 0.5),
            bucket_quantile(&metrics, h, 0.99),
            bucket_quantile(&metrics, h, 0.999)
        );
        for l in metrics
            .lines()
            .filter(|l| l.starts_with(h) || l.starts_with("neuralstream_rt_closes_total"))
        {
            println!("  {l}");
        }
        server.shutdown(Duration::from_secs(1)).await;
    });
}
