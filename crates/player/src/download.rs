//! One HTTP GET whose body is released to the player at the trace's pace.
//!
//! The request waits one RTT first (the simulator adds its RTT to every download), then the body is
//! read as fast as the network stack delivers it, and after each frame the player sleeps until the
//! session time at which the trace link would have delivered that many bytes. So cumulative bytes
//! never run ahead of the trace's capacity integral; they fall behind only when the real transfer
//! (TLS, loopback, the server) is slower than the trace.
//!
//! A request that fails in transit (the connection reset or cut mid-body, or a 5xx answer) is sent
//! again on a fresh connection after a pause, as dash.js does for media segments
//! (`retryAttempts` 3, `retryIntervals` 1000 ms): one lost connection during a long outage then
//! costs a stall, not the session. Client errors (4xx), TLS failures and a trace that cannot
//! deliver are not retried; they will not get better.

use crate::clock::SessionClock;
use crate::error::{from_reqwest, PlayerError};
use crate::http::check_status;
use crate::link::{DeliverySpent, LinkCursor, TraceLink};
use reqwest::{Client, Url};

/// Where the link's clock comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TraceClock {
    /// The simulator's model: the trace advances only while bytes flow or the player sleeps on a
    /// full buffer; RTTs, decisions and HTTP overhead do not consume it.
    #[default]
    Transfer,
    /// The trace is a function of session time, like a real link (mahimahi): everything the player
    /// spends (RTTs, decisions, overhead) also moves the trace on.
    Wall,
    /// No pacing at all: bodies are read as fast as the network delivers them, because a real
    /// (emulated) link shapes them (`neuralstream emulate`). The RTT wait before each request is
    /// kept (an application-layer stand-in for a propagation delay the link does not add; 0 turns
    /// it off), and `link_s` is the measured time from request sent to last byte.
    Network,
}

/// How a request that failed in transit is tried again.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    /// Attempts after the first (dash.js: 3 for media segments); 0 never retries.
    pub attempts: u32,
    /// Pause before each new attempt, ms of session time (dash.js: 1000).
    pub interval_ms: f64,
}

impl Default for Retry {
    fn default() -> Self {
        Retry {
            attempts: 3,
            interval_ms: 1000.0,
        }
    }
}

/// Whether a failed request may succeed if sent again on a new connection.
pub fn retryable(e: &PlayerError) -> bool {
    match e {
        PlayerError::Network { .. } | PlayerError::Truncated { .. } => true,
        PlayerError::Http { status, .. } => *status >= 500,
        _ => false,
    }
}

/// Timing of one shaped request, session seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The URL fetched.
    pub url: String,
    /// Body bytes received.
    pub bytes: u64,
    /// When the player decided to send it (before the RTT wait of its first attempt).
    pub request_s: f64,
    /// When the request that succeeded went out (after its RTT wait).
    pub sent_s: f64,
    /// When the first body bytes arrived (before pacing).
    pub first_byte_s: f64,
    /// When the last byte was released to the player.
    pub finish_s: f64,
    /// Time the trace link needed for the body alone (of the attempt that succeeded).
    pub link_s: f64,
    /// Attempts that failed before this one (see [`Retry`]).
    pub retries: u32,
}

/// GETs `url`, pacing its body along `link` from `cursor` (which it advances), and sends it again
/// as `retry` says when it fails in transit. The link time a failed attempt used stays spent.
#[allow(clippy::too_many_arguments)]
pub async fn fetch_shaped(
    client: &Client,
    url: &Url,
    clock: &SessionClock,
    link: &TraceLink,
    cursor: &mut LinkCursor,
    mode: TraceClock,
    rtt_s: f64,
    chunk: usize,
    retry: Retry,
) -> Result<Transfer, PlayerError> {
    let request_s = clock.now_s();
    let mut retries = 0;
    loop {
        match fetch_once(client, url, clock, link, cursor, mode, rtt_s, chunk).await {
            Ok(t) => {
                return Ok(Transfer {
                    request_s,
                    retries,
                    ..t
                })
            }
            Err(e) if retries < retry.attempts && retryable(&e) => {
                retries += 1;
                clock.sleep_s(retry.interval_ms / 1000.0).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// One attempt of [`fetch_shaped`].
#[allow(clippy::too_many_arguments)]
async fn fetch_once(
    client: &Client,
    url: &Url,
    clock: &SessionClock,
    link: &TraceLink,
    cursor: &mut LinkCursor,
    mode: TraceClock,
    rtt_s: f64,
    chunk: usize,
) -> Result<Transfer, PlayerError> {
    let request_s = clock.now_s();
    clock.sleep_s(rtt_s).await;
    let sent_s = clock.now_s();
    if mode == TraceClock::Wall {
        *cursor = link.cursor_at(sent_s);
    }
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?;
    let mut resp = check_status(url, resp).await?;
    let expected = resp.content_length();
    let mut first_byte_s = None;
    let mut bytes = 0u64;
    let mut link_s = 0.0;
    let mut spent = DeliverySpent::default();
    while let Some(frame) = resp
        .chunk()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?
    {
        if frame.is_empty() {
            continue;
        }
        first_byte_s.get_or_insert_with(|| clock.now_s());
        bytes += frame.len() as u64;
        if mode == TraceClock::Network {
            continue;
        }
        link_s += link.deliver(cursor, frame.len() as f64, chunk, &mut spent)?;
        clock.sleep_until_s(sent_s + link_s).await;
    }
    if let Some(e) = expected.filter(|&e| e != bytes) {
        return Err(PlayerError::Truncated {
            url: url.to_string(),
            got: bytes,
            expected: e,
        });
    }
    let finish_s = clock.now_s();
    if mode == TraceClock::Network {
        link_s = finish_s - sent_s;
    }
    Ok(Transfer {
        url: url.to_string(),
        bytes,
        request_s,
        sent_s,
        first_byte_s: first_byte_s.unwrap_or(finish_s),
        finish_s,
        link_s,
        retries: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{build_client, TlsTrust};
    use neuralstream_core::Trace;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    const BODY_BYTES: usize = 10_000;

    /// A plain-HTTP server whose first `bad` connections answer `first` (and, for a 200, cut the
    /// body after 100 bytes), then serve the whole body; counts connections.
    async fn flaky_server(bad: usize, first: &'static str) -> (Url, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/seg_1.m4s",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let n = counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut req = [0u8; 4096];
                    let _ = sock.read(&mut req).await;
                    let body = vec![7u8; BODY_BYTES];
                    if n < bad {
                        let _ = sock.write_all(first.as_bytes()).await;
                        if first.starts_with("HTTP/1.1 200") {
                            let _ = sock.write_all(&body[..100]).await;
                        }
                    } else {
                        let head = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: {BODY_BYTES}\r\nconnection: close\r\n\r\n"
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(&body).await;
                    }
                    // Dropping the socket closes the connection: a cut body for the bad ones.
                });
            }
        });
        (url, seen)
    }

    const CUT: &str = "HTTP/1.1 200 OK\r\ncontent-length: 10000\r\nconnection: close\r\n\r\n";

    async fn fetch(url: &Url, retry: Retry) -> Result<Transfer, PlayerError> {
        let client = build_client(&TlsTrust::System).unwrap();
        let trace = Arc::new(Trace::new("t", vec![0.0, 1.0], vec![8.0, 8.0]).unwrap());
        let link = TraceLink::new(trace, 0.95);
        let mut cursor = link.start();
        let clock = SessionClock::start(1000.0);
        fetch_shaped(
            &client,
            url,
            &clock,
            &link,
            &mut cursor,
            TraceClock::Network,
            0.0,
            1,
            retry,
        )
        .await
    }

    #[tokio::test]
    async fn a_cut_body_is_fetched_again_on_a_new_connection() {
        let (url, seen) = flaky_server(2, CUT).await;
        let t = fetch(&url, Retry::default()).await.unwrap();
        assert_eq!(t.bytes, BODY_BYTES as u64);
        assert_eq!(t.retries, 2);
        assert_eq!(seen.load(Ordering::SeqCst), 3);
        // The retry pauses (1 s of session time each) are part of the request's time.
        assert!(t.sent_s - t.request_s >= 2.0, "{t:?}");
    }

    #[tokio::test]
    async fn without_retries_a_cut_body_fails_the_request_naming_it() {
        let (url, seen) = flaky_server(1, CUT).await;
        let e = fetch(
            &url,
            Retry {
                attempts: 0,
                interval_ms: 0.0,
            },
        )
        .await
        .unwrap_err();
        assert!(retryable(&e), "{e}");
        assert!(e.to_string().contains("seg_1.m4s"), "{e}");
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn retries_run_out() {
        let (url, seen) = flaky_server(10, CUT).await;
        let retry = Retry {
            attempts: 2,
            interval_ms: 10.0,
        };
        assert!(fetch(&url, retry).await.is_err());
        assert_eq!(seen.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn server_errors_are_retried_and_client_errors_are_not() {
        let (url, seen) = flaky_server(
            1,
            "HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let t = fetch(&url, Retry::default()).await.unwrap();
        assert_eq!((t.retries, seen.load(Ordering::SeqCst)), (1, 2));

        let (url, seen) = flaky_server(
            1,
            "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .await;
        let e = fetch(&url, Retry::default()).await.unwrap_err();
        assert!(matches!(e, PlayerError::Http { status: 404, .. }), "{e}");
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
}
