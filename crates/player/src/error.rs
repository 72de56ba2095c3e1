//! What can go wrong while playing, phrased for the person at the terminal.

use std::path::PathBuf;

/// An error of the player. Every message names the URL, file or field involved and says what to do.
#[derive(Debug, thiserror::Error)]
pub enum PlayerError {
    /// The URL given cannot be used.
    #[error("bad URL '{url}': {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The TLS handshake failed (untrusted or mismatched certificate, wrong protocol).
    #[error("TLS handshake with {url} failed: {detail}. {hint}")]
    Tls {
        /// The URL requested.
        url: String,
        /// The TLS library's explanation.
        detail: String,
        /// What to do about it.
        hint: &'static str,
    },
    /// No connection could be made, or it broke off.
    #[error("cannot fetch {url}: {detail}")]
    Network {
        /// The URL requested.
        url: String,
        /// The cause, with its chain of sources.
        detail: String,
    },
    /// The server answered with an error status.
    #[error("HTTP {status} for {url}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Http {
        /// The URL requested.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body (the server's explanation), possibly empty.
        body: String,
    },
    /// The response body had a different length than its `Content-Length` promised.
    #[error("{url}: received {got} bytes but Content-Length said {expected}; the connection was cut or the file changed")]
    Truncated {
        /// The URL requested.
        url: String,
        /// Bytes received.
        got: u64,
        /// Bytes announced.
        expected: u64,
    },
    /// A manifest or descriptor body larger than [`crate::http::MAX_WHOLE_BODY_BYTES`].
    #[error("{url}: the body is over {limit_bytes} bytes (at least {got_bytes} sent or declared), more than any manifest or video descriptor needs; check the URL, or the server")]
    BodyTooLarge {
        /// What was fetched.
        url: String,
        /// Bytes received, or declared in Content-Length, when the body was refused.
        got_bytes: u64,
        /// The limit it passed.
        limit_bytes: u64,
    },
    /// The MPD cannot be understood or has nothing playable.
    #[error("manifest {url}: {problem}")]
    Manifest {
        /// The MPD's URL.
        url: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// `video.json` next to the MPD is unusable or does not match the MPD.
    #[error("video descriptor {url}: {problem}")]
    Descriptor {
        /// The descriptor's URL.
        url: String,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The CA certificate file is unusable.
    #[error("--ca-cert {}: {problem}", path.display())]
    CaCert {
        /// The file given.
        path: PathBuf,
        /// What is wrong and how to fix it.
        problem: String,
    },
    /// The decision server refused the request or answered something unusable.
    #[error("decision API {url}: {problem}")]
    Decision {
        /// The decision endpoint.
        url: String,
        /// What went wrong.
        problem: String,
    },
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// The trace cannot deliver the bytes asked for (zero capacity for too long).
    #[error("trace '{trace}' delivered nothing while looping {loops} times for chunk {chunk}; it has no usable capacity")]
    Stalled {
        /// Trace name.
        trace: String,
        /// Chunk being downloaded.
        chunk: usize,
        /// Loops over the trace.
        loops: usize,
    },
}

/// Turns a reqwest error into a [`PlayerError`], recognising TLS failures by their cause chain.
pub(crate) fn from_reqwest(url: &str, e: &reqwest::Error) -> PlayerError {
    let mut detail = e.to_string();
    let mut tls = false;
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if s.downcast_ref::<rustls::Error>().is_some()
            || text.contains("certificate")
            || text.contains("InvalidContentType")
            || text.contains("tls")
        {
            tls = true;
        }
        if !detail.contains(&text) {
            detail.push_str(": ");
            detail.push_str(&text);
        }
        source = s.source();
    }
    if tls {
        // A plain-HTTP server answers a ClientHello with HTTP text, which rustls reports as a
        // corrupt record of an invalid content type.
        let plain_http =
            detail.contains("InvalidContentType") || detail.contains("corrupt message");
        PlayerError::Tls {
            url: url.to_string(),
            detail,
            hint: if plain_http {
                "The server answered in plain HTTP, not TLS (was it started with `serve --http`?): \
                 use an http:// URL"
            } else {
                "If the server uses its own self-signed certificate, pass --ca-cert with the PEM path \
                 it printed on its `certificate:` line, or --insecure to skip verification (tests only)"
            },
        }
    } else {
        // Say what to do about the two mistakes everyone makes.
        if detail.contains("invalid HTTP version") && url.starts_with("http://") {
            detail.push_str(
                " (the server seems to speak TLS: use an https:// URL, with --ca-cert for a \
                 self-signed certificate)",
            );
        } else if detail.contains("Connection refused") {
            detail.push_str(
                " (nothing listens there: is `neuralstream serve` running, on that host and port?)",
            );
        }
        PlayerError::Network {
            url: url.to_string(),
            detail,
        }
    }
}
