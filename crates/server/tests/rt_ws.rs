//! Real-time sessions over WebSocket against the real server (plain `ws://`; the `wss://` path is
//! the same router behind the TLS listener, covered end to end by the CLI's `rt client` test):
//! decisions equal the controller's own on the same feedback, every interval is recorded, and
//! hostile clients (invalid JSON, oversized and binary frames, floods, clients that never read,
//! one session id on two connections, silence, the session cap) each get a close code with a
//! reason while another session keeps being served.

use futures_util::{SinkExt, StreamExt};
use neuralstream_rt::dataset::{read_dataset_dir, DecisionMessage, IntervalReport, Settings};
use neuralstream_rt::{Controller, Decision, Feedback, Gcc, PacketReport, Resolution};
use neuralstream_server::rt_ws::{RtLimits, RtServeConfig};
use neuralstream_server::{Running, ServerConfig, TlsMode};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(limits: RtLimits, dataset: Option<std::path::PathBuf>) -> Running {
    let mut cfg = ServerConfig::new(Vec::new(), vec!["bb".into()]);
    cfg.tls = TlsMode::Insecure;
    cfg.port = 0;
    cfg.rt = RtServeConfig {
        controllers: vec!["gcc".into(), "fixed:800".into()],
        dataset_dir: dataset,
        limits,
    };
    neuralstream_server::start(cfg).await.unwrap()
}

fn url(server: &Running, query: &str) -> String {
    format!("ws://{}/api/v1/rt/metrics?{query}", server.addr)
}

async fn open(server: &Running, query: &str) -> Ws {
    let (ws, _) = tokio_tungstenite::connect_async(url(server, query))
        .await
        .unwrap();
    ws
}

/// The feedback of interval `seq`: four packets, the last one lost, queueing growing with `seq`.
fn feedback(seq: u64) -> Feedback {
    let now = 50.0 * seq as f64;
    Feedback {
        now_ms: now,
        rtt_ms: Some(40.0 + seq as f64),
        packets: (0..4)
            .map(|i| PacketReport {
                seq: 4 * seq + i,
                send_ms: now - 45.0 + 10.0 * i as f64,
                arrival_ms: (i < 3).then_some(now - 25.0 + 10.0 * i as f64 + 0.5 * seq as f64),
                bytes: 1200,
            })
            .collect(),
    }
}

const APPLIED: Decision = Decision {
    target_bps: 1e6,
    resolution: Resolution::P720,
    fps: 30,
};

fn report(seq: u64) -> Message {
    Message::text(
        serde_json::to_string(&IntervalReport::new(seq, &feedback(seq), &APPLIED)).unwrap(),
    )
}

async fn next_decision(ws: &mut Ws) -> DecisionMessage {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("an answer within 10 s")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a decision, got {other:?}"),
        }
    }
}

/// Reads until the close frame; its code and reason.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), ws.next())
            .await
            .expect("a close within 15 s")
        {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("connection failed before a close frame: {e}"),
            None => panic!("connection ended without a close frame"),
        }
    }
}

/// A well-behaved session answering report `seq` (checks the answer's seq).
async fn exchange(ws: &mut Ws, seq: u64) -> DecisionMessage {
    ws.send(report(seq)).await.unwrap();
    let d = next_decision(ws).await;
    assert_eq!(d.seq, seq);
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_the_controllers_and_every_interval_is_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(RtLimits::default(), Some(dir.path().to_path_buf())).await;
    let mut ws = open(&server, "session=s1&controller=gcc&fps=60").await;
    let mut local = Gcc::default();
    let opening = next_decision(&mut ws).await;
    assert_eq!((opening.v, opening.seq), (1, 0));
    assert_eq!(opening.next, Settings::of(&local.start(60)));
    for seq in 1..=60 {
        let d = exchange(&mut ws, seq).await;
        assert_eq!(d.controller, "gcc");
        assert_eq!(
            d.next,
            Settings::of(&local.on_feedback(&feedback(seq))),
            "seq {seq}"
        );
    }
    let mut fixed = open(&server, "session=s2&controller=fixed").await;
    assert_eq!(next_decision(&mut fixed).await.next.target_bps, 800_000.0);
    exchange(&mut fixed, 1).await;
    ws.close(None).await.unwrap();
    fixed.close(None).await.unwrap();
    let metrics = metrics_text(&server).await;
    for line in [
        "neuralstream_rt_reports_total 61",
        "neuralstream_rt_decisions_total{controller=\"gcc\"} 60",
        "neuralstream_rt_decisions_total{controller=\"fixed:800\"} 1",
        "neuralstream_rt_sessions_total 2",
        "neuralstream_rt_decision_duration_seconds_count 61",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    server.shutdown(Duration::from_secs(1)).await;
    let records = read_dataset_dir(dir.path()).unwrap();
    assert_eq!(records.len(), 61);
    let s1: Vec<_> = records.iter().filter(|r| r.session == "s1").collect();
    assert_eq!(s1.len(), 60);
    assert_eq!(
        s1[9].report,
        IntervalReport::new(10, &feedback(10), &APPLIED)
    );
    assert_eq!(s1[0].controller, "gcc");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_clients_get_a_close_code_and_others_keep_being_served() {
    let limits = RtLimits {
        max_message_bytes: 4096,
        max_reports_per_s: 50.0,
        burst: 20.0,
        idle: Duration::from_millis(700),
        ..RtLimits::default()
    };
    let server = start(limits, None).await;
    let mut good = open(&server, "session=good").await;
    next_decision(&mut good).await;
    let mut seq = 0u64;
    let cases: Vec<(&str, Message, u16, &str)> = vec![
        ("json", Message::text("{not json"), 1007, "invalid report"),
        (
            "field",
            Message::text(
                serde_json::to_string(&IntervalReport::new(1, &feedback(1), &APPLIED))
                    .unwrap()
                    .replace("\"now_ms\":50.0", "\"now_ms\":-1.0"),
            ),
            1007,
            "now_ms",
        ),
        ("binary", Message::binary(vec![1u8, 2, 3]), 1003, "binary"),
        ("big", Message::text("x".repeat(10_000)), 1009, "4096"),
        ("seq", report(5), 1008, "seq 5"),
    ];
    for (name, msg, code, needle) in cases {
        let mut bad = open(&server, &format!("session={name}")).await;
        next_decision(&mut bad).await;
        bad.send(msg).await.unwrap();
        let (c, reason) = close_of(&mut bad).await;
        assert_eq!(c, code, "{name}: {reason}");
        assert!(reason.contains(needle), "{name}: {reason}");
        seq += 1;
        exchange(&mut good, seq).await;
    }
    // A flood over the rate limit.
    let mut flood = open(&server, "session=flood").await;
    next_decision(&mut flood).await;
    for s in 1..=200 {
        if flood.send(report(s)).await.is_err() {
            break;
        }
    }
    let (c, reason) = close_of(&mut flood).await;
    assert_eq!(c, 1008, "{reason}");
    assert!(reason.contains("rate limit"), "{reason}");
    seq += 1;
    exchange(&mut good, seq).await;
    // One session id on two connections: the second is refused, the first goes on.
    let mut twin = open(&server, "session=good").await;
    let (c, reason) = close_of(&mut twin).await;
    assert_eq!(c, 4009, "{reason}");
    assert!(reason.contains("already live"), "{reason}");
    seq += 1;
    exchange(&mut good, seq).await;
    // An unknown controller.
    let mut unknown = open(&server, "session=u&controller=bola").await;
    let (c, reason) = close_of(&mut unknown).await;
    assert_eq!(c, 1008);
    assert!(reason.contains("choose one of"), "{reason}");
    // Silence past the idle timeout (the good session keeps talking meanwhile).
    let mut silent = open(&server, "session=silent").await;
    next_decision(&mut silent).await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        seq += 1;
        exchange(&mut good, seq).await;
    }
    let (c, reason) = close_of(&mut silent).await;
    assert_eq!(c, 4000, "{reason}");
    assert!(reason.contains("idle"), "{reason}");
    let metrics = metrics_text(&server).await;
    for line in [
        "neuralstream_rt_closes_total{code=\"1007\"} 2",
        "neuralstream_rt_closes_total{code=\"1003\"} 1",
        "neuralstream_rt_closes_total{code=\"1009\"} 1",
        "neuralstream_rt_closes_total{code=\"4009\"} 1",
        "neuralstream_rt_closes_total{code=\"4000\"} 1",
        "neuralstream_rt_sessions_active 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    server.shutdown(Duration::from_secs(1)).await;
}

/// `GET /metrics` over a raw HTTP/1.1 connection.
async fn metrics_text(server: &Running) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).await.unwrap();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    text
}

/// The server's `neuralstream_rt_sessions_active` gauge, read from `/metrics` over plain HTTP.
async fn rt_sessions_active(addr: std::net::SocketAddr) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("neuralstream_rt_sessions_active "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rt_sessions_active gauge in /metrics:\n{text}"))
}

/// A client that speaks WebSocket by hand over a blocking socket with a tiny receive buffer: it
/// opens a session, writes reports until a write stalls (the server stopped reading), never
/// reading; then reads everything and returns the close frame's code and reason.
fn deaf_client(addr: std::net::SocketAddr) -> (usize, u16, String) {
    use std::io::{Read, Write};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(1024).unwrap();
    let stream = rt
        .block_on(socket.connect(addr))
        .unwrap()
        .into_std()
        .unwrap();
    stream.set_nonblocking(false).unwrap();
    let mut c = stream;
    c.write_all(b"GET /api/v1/rt/metrics?session=deaf HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        c.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    c.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut sent = 0;
    'send: for seq in 1..=2_000_000u64 {
        let Message::Text(t) = report(seq) else {
            unreachable!()
        };
        let payload = t.as_bytes();
        // A masked text frame with the all-zero mask (payload unchanged).
        let mut frame = vec![0x81, 0x80 | 126];
        frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        frame.extend_from_slice(&[0, 0, 0, 0]);
        frame.extend_from_slice(payload);
        let mut off = 0;
        while off < frame.len() {
            match c.write(&frame[off..]) {
                Ok(n) => off += n,
                Err(_) => break 'send,
            }
        }
        sent += 1;
    }
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    loop {
        let mut h = [0u8; 2];
        c.read_exact(&mut h)
            .expect("a close frame before the connection ends");
        let len = match h[1] & 0x7f {
            126 => {
                let mut b = [0u8; 2];
                c.read_exact(&mut b).unwrap();
                u16::from_be_bytes(b) as usize
            }
            127 => {
                let mut b = [0u8; 8];
                c.read_exact(&mut b).unwrap();
                u64::from_be_bytes(b) as usize
            }
            n => n as usize,
        };
        let mut body = vec![0u8; len];
        c.read_exact(&mut body).unwrap();
        if h[0] & 0x0f == 0x8 {
            let code = u16::from_be_bytes([body[0], body[1]]);
            return (sent, code, String::from_utf8_lossy(&body[2..]).into_owned());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_closed_and_the_cap_holds() {
    let limits = RtLimits {
        max_sessions: 2,
        max_reports_per_s: 1e6,
        burst: 1e6,
        send_timeout: Duration::from_millis(200),
        ..RtLimits::default()
    };
    let server = start(limits, None).await;
    let mut good = open(&server, "session=good").await;
    next_decision(&mut good).await;
    // The cap, with two well-behaved sessions (a deaf one is closed within a few hundred ms, so
    // it cannot hold a slot long enough to test the cap on a quiet machine): a third is refused.
    let mut other = open(&server, "session=other").await;
    next_decision(&mut other).await;
    let mut third = open(&server, "session=third").await;
    let (c, reason) = close_of(&mut third).await;
    assert_eq!(c, 1013, "{reason}");
    assert!(reason.contains("cap of 2"), "{reason}");
    other.close(None).await.unwrap();
    // The slot is free once the server's own gauge says so (no guessed sleep).
    let addr = server.addr;
    let mut active = 2.0;
    for _ in 0..400 {
        active = rt_sessions_active(addr).await;
        if active <= 1.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(active, 1.0, "the closed session still holds its slot");
    let deaf = tokio::task::spawn_blocking(move || deaf_client(addr));
    exchange(&mut good, 1).await;
    let (sent, c, reason) = deaf.await.unwrap();
    assert!(sent > 10, "{sent}");
    assert_eq!(c, 4001, "after {sent} reports: {reason}");
    assert!(reason.contains("not read"), "{reason}");
    exchange(&mut good, 2).await;
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_outlives_the_connection_idle_timeout() {
    let mut cfg = ServerConfig::new(Vec::new(), vec!["bb".into()]);
    cfg.tls = TlsMode::Insecure;
    cfg.port = 0;
    cfg.connection_idle = Duration::from_millis(200);
    cfg.rt = RtServeConfig {
        controllers: vec!["gcc".into()],
        ..Default::default()
    };
    let server = neuralstream_server::start(cfg).await.unwrap();
    let mut ws = open(&server, "session=long").await;
    next_decision(&mut ws).await;
    // An upgraded connection is a session, not an idle HTTP connection: 1 s of reports.
    for seq in 1..=20 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        exchange(&mut ws, seq).await;
    }
    server.shutdown(Duration::from_secs(1)).await;
}
