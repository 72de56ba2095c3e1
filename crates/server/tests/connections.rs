//! Issue 16, finding 6: bounded connections against the real server. The connection cap answers
//! the connection over it with a 503 naming the limit (HTTP/1.1 in clear, HTTP/2 over TLS) and
//! admits again once one closes; an HTTP/2 connection that made one request and then sits idle
//! (its client alive and answering pings) is closed after the idle timeout.

mod common;

use common::*;
use neuralstream_protocol::ApiError;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Waits until `cond` holds (polling), or panics after `limit` with `what`.
fn wait_for(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "{what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Opens a keep-alive HTTP/1.1 connection and reads one `/healthz` answer on it.
fn open_keep_alive(addr: std::net::SocketAddr) -> TcpStream {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.ends_with(b"}") {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 200"));
    s
}

#[test]
fn the_connection_over_the_cap_gets_a_clear_503() {
    let fx = fixture();
    let rt = runtime();
    let mut cfg = plain_config(&[&fx.media], &["bb"]);
    cfg.max_connections = 2;
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    assert_eq!(running.max_connections(), 2);
    let addr = running.addr;
    let first = open_keep_alive(addr);
    let _second = open_keep_alive(addr);
    assert_eq!(running.open_connections(), 2);

    let (status, text) = raw_get(addr, "/healthz");
    assert_eq!(status, 503, "{text}");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    let error = serde_json::from_str::<ApiError>(body).unwrap().error;
    assert!(
        error.contains("limit of 2 open connections") && error.contains("--max-connections"),
        "{error}"
    );
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );

    // One closes: the next client is served again.
    drop(first);
    wait_for(
        Duration::from_secs(5),
        "the closed connection's slot freed",
        || running.open_connections() == 1,
    );
    let (status, text) = raw_get(addr, "/healthz");
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_connections_are_capped_and_closed_when_idle() {
    let fx = fixture();
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.max_connections = 1;
    cfg.connection_idle = Duration::from_millis(600);
    let running = neuralstream_server::start(cfg).await.unwrap();
    let url = format!("{}healthz", running.base_url);

    // One HTTP/2 client holds the only connection; a second client is refused with a 503.
    let holder = client(&running);
    let r = holder.get(&url).send().await.unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    assert_eq!(r.status(), 200);
    assert_eq!(running.open_connections(), 1);
    let other = client(&running);
    let r = other.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 503);
    let error = r.json::<ApiError>().await.unwrap().error;
    assert!(error.contains("--max-connections"), "{error}");

    // The holder stays alive (its connection task answers pings) but sends nothing more: the
    // server closes its connection after the idle timeout, and the slot is free again.
    let start = Instant::now();
    while running.open_connections() > 0 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "an idle HTTP/2 connection was kept open for {:?}",
            start.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        start.elapsed() >= Duration::from_millis(300),
        "closed too early"
    );
    let r = other.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    drop(holder);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_response_is_not_cut_by_the_idle_timeout() {
    let fx = fixture();
    // A segment body far larger than the socket buffers, read slowly over longer than the idle
    // timeout: the connection is busy while the body streams, so it stays open.
    let big: Vec<u8> = (0..8_000_000u32).map(|i| i as u8).collect();
    std::fs::write(fx.media.join("seg/0/big.m4s"), &big).unwrap();
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.connection_idle = Duration::from_millis(300);
    let running = neuralstream_server::start(cfg).await.unwrap();
    let http = client(&running);
    let mut r = http
        .get(format!("{}media/clip/seg/0/big.m4s", running.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.version(), reqwest::Version::HTTP_2);
    let mut got = 0usize;
    let started = Instant::now();
    while let Some(chunk) = r.chunk().await.unwrap() {
        got += chunk.len();
        if started.elapsed() < Duration::from_millis(900) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    assert!(started.elapsed() > Duration::from_millis(600));
    assert_eq!(got, big.len());
}
