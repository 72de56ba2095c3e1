//! One HTTP GET whose body is released to the player at the trace's pace.
//!
//! The request waits one RTT first (the simulator adds its RTT to every download), then the body is
//! read as fast as the network stack delivers it, and after each frame the player sleeps until the
//! session time at which the trace link would have delivered that many bytes. So cumulative bytes
//! never run ahead of the trace's capacity integral; they fall behind only when the real transfer
//! (TLS, loopback, the server) is slower than the trace.

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

/// Timing of one shaped request, session seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Transfer {
    /// The URL fetched.
    pub url: String,
    /// Body bytes received.
    pub bytes: u64,
    /// When the player decided to send it (before the RTT wait).
    pub request_s: f64,
    /// When the request went out (after the RTT wait).
    pub sent_s: f64,
    /// When the first body bytes arrived (before pacing).
    pub first_byte_s: f64,
    /// When the last byte was released to the player.
    pub finish_s: f64,
    /// Time the trace link needed for the body alone.
    pub link_s: f64,
}

/// GETs `url`, pacing its body along `link` from `cursor` (which it advances).
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
    })
}
