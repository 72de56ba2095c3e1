//! The live dashboard's feed against the real server (plain `ws://`): a viewer gets the session
//! list and the watched session's points while a real-time session streams, the JSON snapshots
//! agree, a session that ends leaves the list (and is named as ended), the viewer cap and bad
//! viewer messages get close codes, and a viewer that stops reading is dropped (4001) while
//! decisions keep flowing.

use futures_util::{SinkExt, StreamExt};
use neuralstream_rt::dataset::IntervalReport;
use neuralstream_rt::{Decision, Feedback, PacketReport, Resolution};
use neuralstream_server::rt_feed::FeedLimits;
use neuralstream_server::rt_ws::{RtLimits, RtServeConfig};
use neuralstream_server::{Running, ServerConfig, TlsMode};
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

async fn start(feed: FeedLimits) -> Running {
    let mut cfg = ServerConfig::new(Vec::new(), vec!["bb".into()]);
    cfg.tls = TlsMode::Insecure;
    cfg.port = 0;
    cfg.rt = RtServeConfig {
        controllers: vec!["gcc".into()],
        limits: RtLimits {
            feed,
            ..RtLimits::default()
        },
        ..Default::default()
    };
    neuralstream_server::start(cfg).await.unwrap()
}

async fn connect(server: &Running, path_and_query: &str) -> Ws {
    let url = format!("ws://{}{path_and_query}", server.addr);
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Interval `seq` of 50 ms: four packets of 1200 bytes, the last one lost.
fn report(seq: u64) -> Message {
    let now = 50.0 * seq as f64;
    let feedback = Feedback {
        now_ms: now,
        rtt_ms: Some(40.0),
        packets: (0..4)
            .map(|i| PacketReport {
                seq: 4 * seq + i,
                send_ms: now - 45.0 + 10.0 * i as f64,
                arrival_ms: (i < 3).then_some(now - 25.0 + 10.0 * i as f64),
                bytes: 1200,
            })
            .collect(),
    };
    let applied = Decision {
        target_bps: 1e6,
        resolution: Resolution::P720,
        fps: 30,
    };
    Message::text(serde_json::to_string(&IntervalReport::new(seq, &feedback, &applied)).unwrap())
}

/// Reads the next text message as JSON.
async fn next_json(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a message within 10 s")
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(t.as_str()).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// Reads messages until one passes `want`.
async fn until(ws: &mut Ws, want: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "no such message within 10 s");
        let m = next_json(ws).await;
        if want(&m) {
            return m;
        }
    }
}

/// Reads until the close frame; its code and reason.
async fn close_of(ws: &mut Ws) -> (u16, String) {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a close within 10 s")
        {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) => panic!("a close frame without a code"),
            Some(Ok(_)) => continue,
            Some(Err(e)) => panic!("connection failed before a close frame: {e}"),
            None => panic!("connection ended without a close frame"),
        }
    }
}

/// A real-time session `id` that has read its opening decision.
async fn rt_session(server: &Running, id: &str) -> Ws {
    let mut ws = connect(server, &format!("/api/v1/rt/metrics?session={id}")).await;
    assert_eq!(next_json(&mut ws).await["seq"], 0);
    ws
}

/// Sends reports `seqs` and reads their answers.
async fn stream(ws: &mut Ws, seqs: std::ops::RangeInclusive<u64>) {
    for seq in seqs {
        ws.send(report(seq)).await.unwrap();
        assert_eq!(next_json(ws).await["seq"], seq);
    }
}

/// `GET path` over plain HTTP/1.1: status and body.
async fn get(server: &Running, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut c = TcpStream::connect(server.addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    c.write_all(req.as_bytes()).await.unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).await.unwrap();
    let status = text[9..12].parse().unwrap();
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn fast() -> FeedLimits {
    FeedLimits {
        bin_ms: 100.0,
        tick: Duration::from_millis(20),
        ..FeedLimits::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_sees_the_list_and_the_watched_series_grow_and_the_end() {
    let server = start(fast()).await;
    let mut s1 = rt_session(&server, "s1").await;
    stream(&mut s1, 1..=10).await;
    let mut viewer = connect(&server, "/api/v1/rt/live?watch=s1").await;
    let hello = next_json(&mut viewer).await;
    assert_eq!(
        (hello["type"].as_str(), hello["bin_ms"].as_f64()),
        (Some("hello"), Some(100.0))
    );
    let list = next_json(&mut viewer).await;
    assert_eq!(list["type"], "sessions");
    assert_eq!(list["total"], 1);
    assert_eq!(list["sessions"][0]["id"], "s1");
    assert_eq!(list["sessions"][0]["controller"], "gcc");
    let key = list["sessions"][0]["key"].clone();
    let snapshot = next_json(&mut viewer).await;
    assert_eq!(
        (snapshot["type"].as_str(), snapshot["reset"].as_bool()),
        (Some("series"), Some(true))
    );
    // 500 ms of session time in 100 ms bins.
    assert_eq!(snapshot["points"].as_array().unwrap().len(), 5);
    let p = &snapshot["points"][4];
    // 10 intervals' arrivals are 3 x 1200 bytes per 50 ms: 576 kbit/s.
    assert!(
        (p["receive_kbps"].as_f64().unwrap() - 576.0).abs() < 1e-6,
        "{p}"
    );
    assert_eq!(p["delay_ms"], 20.0);
    assert_eq!(p["loss_pct"], 25.0);
    assert!(p["target_kbps"].as_f64().unwrap() > 0.0);
    // New points arrive as the session streams.
    stream(&mut s1, 11..=30).await;
    let mut seen = 5;
    while seen < 15 {
        let m = until(&mut viewer, |m| m["type"] == "series").await;
        assert_eq!((m["reset"].as_bool(), &m["key"]), (Some(false), &key));
        for p in m["points"].as_array().unwrap() {
            // A tick may repeat points the snapshot held (the page keeps each index once).
            let i = p["i"].as_u64().unwrap();
            if i < seen {
                continue;
            }
            assert_eq!(i, seen, "points in order, no gap");
            seen += 1;
        }
    }
    // The snapshots agree.
    let (status, body) = get(&server, "/api/v1/rt/sessions").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (v["total"].as_u64(), &v["sessions"][0]["id"]),
        (Some(1), &Value::from("s1"))
    );
    let (status, body) = get(&server, "/api/v1/rt/sessions/s1").await;
    assert_eq!(status, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 15);
    assert_eq!(v["session"]["reports"], 30);
    // The session ends: it leaves the list and is named as ended.
    s1.close(None).await.unwrap();
    let ended = until(&mut viewer, |m| {
        m["type"] == "sessions" && m["ended"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    assert_eq!(ended["ended"][0], key);
    assert_eq!(ended["total"], 0);
    let (status, body) = get(&server, "/api/v1/rt/sessions/s1").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("no live real-time session 's1'"), "{body}");
    // Watching a session that is not live says so.
    viewer
        .send(Message::text(r#"{"watch": "nobody"}"#))
        .await
        .unwrap();
    let m = until(&mut viewer, |m| m["type"] == "series").await;
    assert_eq!(
        (m["live"].as_bool(), m["id"].as_str()),
        (Some(false), Some("nobody"))
    );
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_cap_and_bad_viewer_messages_get_close_codes() {
    let server = start(FeedLimits {
        max_viewers: 2,
        ..fast()
    })
    .await;
    let mut a = connect(&server, "/api/v1/rt/live").await;
    let mut b = connect(&server, "/api/v1/rt/live").await;
    next_json(&mut a).await;
    next_json(&mut b).await;
    let mut c = connect(&server, "/api/v1/rt/live").await;
    let (code, reason) = close_of(&mut c).await;
    assert_eq!(code, 1013, "{reason}");
    assert!(reason.contains("cap of 2 viewers"), "{reason}");
    a.send(Message::text("{\"look\": 1}")).await.unwrap();
    let (code, reason) = close_of(&mut a).await;
    assert_eq!(code, 1007, "{reason}");
    b.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    assert_eq!(close_of(&mut b).await.0, 1008);
    // Slots are given back: a new viewer is served.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut d = connect(&server, "/api/v1/rt/live").await;
        match tokio::time::timeout(Duration::from_secs(5), d.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => break,
            _ => assert!(Instant::now() < deadline, "a slot was not given back"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Without a web root, /rt says how to build the page.
    let (status, body) = get(&server, "/rt").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("npm run build"), "{body}");
    server.shutdown(Duration::from_secs(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_viewer_that_stops_reading_is_dropped_and_decisions_keep_flowing() {
    // Large list messages at 200 Hz fill the socket buffers of a viewer that never reads within
    // a second or two; then it lags behind the ticks or its send times out.
    let server = start(FeedLimits {
        tick: Duration::from_millis(5),
        lag_ticks: 8,
        send_timeout: Duration::from_millis(300),
        ..FeedLimits::default()
    })
    .await;
    let feed = server.state.rt.as_ref().unwrap().feed.clone();
    let held: Vec<_> = (0..100)
        .map(|i| feed.open(&format!("held-session-with-a-long-name-{i:03}"), "gcc", 60))
        .collect();
    let mut deaf = connect(&server, "/api/v1/rt/live").await;
    let mut s1 = rt_session(&server, "s1").await;
    let started = Instant::now();
    let mut seq = 0;
    let mut slowest = Duration::ZERO;
    while feed.dropped_slow() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the deaf viewer was not dropped within 30 s"
        );
        seq += 1;
        let asked = Instant::now();
        stream(&mut s1, seq..=seq).await;
        slowest = slowest.max(asked.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Decisions flowed all along (each well under the send timeout of the deaf viewer).
    assert!(seq > 0);
    assert!(
        slowest < Duration::from_secs(2),
        "slowest decision {slowest:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while feed.viewers() > 0 {
        assert!(
            Instant::now() < deadline,
            "the dropped viewer's slot was not given back"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, metrics) = get(&server, "/metrics").await;
    assert!(
        metrics.contains("neuralstream_rt_feed_dropped_total 1"),
        "{metrics}"
    );
    // What the deaf viewer finally reads ends with the close (or a reset, if the close frame
    // could not be written into the full buffer).
    let mut closed = None;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(10), deaf.next()).await {
        match m {
            Ok(Message::Close(Some(f))) => {
                closed = Some(u16::from(f.code));
                break;
            }
            Ok(_) => continue,
            Err(_) => break,
        }
    }
    assert!(matches!(closed, None | Some(4001)), "{closed:?}");
    drop(held);
    stream(&mut s1, seq + 1..=seq + 1).await;
    server.shutdown(Duration::from_secs(1)).await;
}
