//! The HTTPS client (reqwest on rustls with the ring provider) and plain, unshaped fetches.

use crate::error::{from_reqwest, PlayerError};
use reqwest::{Client, StatusCode, Url};
use std::path::PathBuf;
use std::time::Duration;

/// Which server certificates the client trusts.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum TlsTrust {
    /// The operating system's trust store.
    #[default]
    System,
    /// Only the certificate(s) in this PEM file (e.g. the one `neuralstream serve` generated).
    CaCert(PathBuf),
    /// Accept any certificate (tests only).
    Insecure,
}

/// Builds a client. Each player has its own, so `--clients N` opens N connections like N viewers.
pub fn build_client(trust: &TlsTrust) -> Result<Client, PlayerError> {
    build_client_with(trust, false)
}

/// [`build_client`], speaking HTTP/1.1 only when `http1_only` (otherwise HTTP/2 where the
/// server offers it).
pub fn build_client_with(trust: &TlsTrust, http1_only: bool) -> Result<Client, PlayerError> {
    // reqwest is built without a default crypto provider; ring is the one the server uses too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder();
    if http1_only {
        b = b.http1_only();
    }
    let mut b = b
        .connect_timeout(Duration::from_secs(10))
        .read_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(4)
        .user_agent(concat!("neuralstream-player/", env!("CARGO_PKG_VERSION")));
    match trust {
        TlsTrust::System => {}
        TlsTrust::Insecure => b = b.tls_danger_accept_invalid_certs(true),
        TlsTrust::CaCert(path) => {
            let pem = std::fs::read(path).map_err(|e| PlayerError::CaCert {
                path: path.clone(),
                problem: format!("cannot read it ({e}); give the PEM file `neuralstream serve` printed on its `certificate:` line"),
            })?;
            let certs =
                reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| PlayerError::CaCert {
                    path: path.clone(),
                    problem: format!("not a PEM certificate ({e})"),
                })?;
            if certs.is_empty() {
                return Err(PlayerError::CaCert {
                    path: path.clone(),
                    problem: "holds no `-----BEGIN CERTIFICATE-----` block".into(),
                });
            }
            b = b.tls_certs_only(certs);
        }
    }
    b.build()
        .map_err(|e| PlayerError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Parses and checks a player URL (http or https, with a host).
pub fn parse_url(url: &str) -> Result<Url, PlayerError> {
    let bad = |reason: String| PlayerError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let u = Url::parse(url).map_err(|e| {
        bad(format!(
            "{e}; give a full URL such as https://127.0.0.1:8443/media/clip/manifest.mpd"
        ))
    })?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(bad(format!(
            "scheme '{}' is not supported; use https:// (or http:// for a plain-HTTP server)",
            u.scheme()
        )));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host".into()));
    }
    Ok(u)
}

/// Most bytes [`get`] and [`get_optional`] take from one body (a manifest or a video descriptor):
/// the larger of what the MPD reader ([`neuralstream_media::manifest::MAX_MANIFEST_BYTES`]) and the
/// descriptor reader ([`neuralstream_data::MAX_INPUT_FILE_BYTES`]) accept. A server that sends more
/// is refused while the body arrives, so it cannot make `play` hold gigabytes.
pub const MAX_WHOLE_BODY_BYTES: u64 = 64 << 20;

// The cap must let through everything the readers behind it would accept.
const _: () = assert!(
    MAX_WHOLE_BODY_BYTES >= neuralstream_media::manifest::MAX_MANIFEST_BYTES as u64
        && MAX_WHOLE_BODY_BYTES >= neuralstream_data::MAX_INPUT_FILE_BYTES
);

/// Most bytes of an error response's body read to quote in the message (the rest is dropped).
const MAX_ERROR_BODY_BYTES: usize = 4096;

/// Reads a body chunk by chunk, refusing it as soon as it passes `max_bytes` (or declares more in
/// its Content-Length), so memory stays bounded whatever the server sends.
async fn read_capped(
    url: &Url,
    mut resp: reqwest::Response,
    max_bytes: u64,
) -> Result<Vec<u8>, PlayerError> {
    let too_big = |got_bytes: u64| PlayerError::BodyTooLarge {
        url: url.to_string(),
        got_bytes,
        limit_bytes: max_bytes,
    };
    if let Some(len) = resp.content_length().filter(|&len| len > max_bytes) {
        return Err(too_big(len));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?
    {
        let got_bytes = (body.len() + chunk.len()) as u64;
        if got_bytes > max_bytes {
            return Err(too_big(got_bytes));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Turns a non-success response into an error carrying the start of its body (at most
/// [`MAX_ERROR_BODY_BYTES`] are read, whatever the server sends).
pub(crate) async fn check_status(
    url: &Url,
    mut resp: reqwest::Response,
) -> Result<reqwest::Response, PlayerError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let mut raw = Vec::new();
    while raw.len() < MAX_ERROR_BODY_BYTES {
        match resp.chunk().await {
            Ok(Some(chunk)) => raw.extend_from_slice(&chunk),
            _ => break,
        }
    }
    raw.truncate(MAX_ERROR_BODY_BYTES);
    let body = String::from_utf8_lossy(&raw);
    let body: String = body.trim().chars().take(300).collect();
    Err(PlayerError::Http {
        url: url.to_string(),
        status: status.as_u16(),
        body,
    })
}

/// GETs `url` whole (no shaping); `Ok(None)` on 404.
pub async fn get_optional(client: &Client, url: &Url) -> Result<Option<Vec<u8>>, PlayerError> {
    let resp = client
        .get(url.clone())
        .send()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let resp = check_status(url, resp).await?;
    read_capped(url, resp, MAX_WHOLE_BODY_BYTES).await.map(Some)
}

/// GETs `url` whole (no shaping); 404 is an error.
pub async fn get(client: &Client, url: &Url) -> Result<Vec<u8>, PlayerError> {
    get_optional(client, url)
        .await?
        .ok_or_else(|| PlayerError::Http {
            url: url.to_string(),
            status: 404,
            body: "not found; check the path (the server lists its videos at /api/v1/videos)"
                .into(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A plain-HTTP server on loopback that answers one request with `head`, then writes `filler`
    /// until the client goes away or `max_bytes` are written; returns its URL and the bytes it wrote.
    async fn endless_server(
        head: &'static str,
        max_bytes: usize,
    ) -> (Url, tokio::task::JoinHandle<usize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/m.mpd", listener.local_addr().unwrap())).unwrap();
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 4096];
            let _ = sock.read(&mut req).await;
            sock.write_all(head.as_bytes()).await.unwrap();
            // Chunked framing, 64 KiB a chunk, so the body never ends on its own.
            let chunk = vec![b'x'; 64 << 10];
            let mut written = 0;
            while written < max_bytes {
                let frame = format!("{:x}\r\n", chunk.len());
                if sock.write_all(frame.as_bytes()).await.is_err()
                    || sock.write_all(&chunk).await.is_err()
                    || sock.write_all(b"\r\n").await.is_err()
                {
                    break;
                }
                written += chunk.len();
            }
            written
        });
        (url, task)
    }

    #[tokio::test]
    async fn an_endless_body_is_refused_at_the_cap() {
        let cap = 1u64 << 20;
        let (url, server) = endless_server(
            "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
            512 << 20,
        )
        .await;
        let client = build_client(&TlsTrust::System).unwrap();
        let resp = client.get(url.clone()).send().await.unwrap();
        let e = read_capped(&url, resp, cap).await.unwrap_err();
        assert!(
            matches!(e, PlayerError::BodyTooLarge { limit_bytes, got_bytes, .. } if limit_bytes == cap && got_bytes > cap),
            "{e}"
        );
        assert!(e.to_string().contains("m.mpd"), "{e}");
        drop(client);
        // The client stopped reading right after the cap: the server got nowhere near its 512 MiB.
        let written = server.await.unwrap();
        assert!(written < 64 << 20, "server wrote {written} bytes");
    }

    #[tokio::test]
    async fn a_declared_huge_body_is_refused_before_reading() {
        let (url, _server) =
            endless_server("HTTP/1.1 200 OK\r\ncontent-length: 100000000000\r\n\r\n", 0).await;
        let client = build_client(&TlsTrust::System).unwrap();
        let e = get(&client, &url).await.unwrap_err();
        assert!(
            matches!(
                e,
                PlayerError::BodyTooLarge {
                    got_bytes: 100_000_000_000,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[tokio::test]
    async fn an_endless_error_body_is_quoted_short() {
        let (url, _server) = endless_server(
            "HTTP/1.1 500 Internal Server Error\r\ntransfer-encoding: chunked\r\n\r\n",
            512 << 20,
        )
        .await;
        let client = build_client(&TlsTrust::System).unwrap();
        let e = get(&client, &url).await.unwrap_err();
        match e {
            PlayerError::Http { status, body, .. } => {
                assert_eq!(status, 500);
                assert!(body.len() <= 300, "{} bytes quoted", body.len());
            }
            other => panic!("expected an HTTP error, got {other}"),
        }
    }

    #[test]
    fn urls_are_checked() {
        assert!(parse_url("https://127.0.0.1:8443/media/a/manifest.mpd").is_ok());
        let e = parse_url("127.0.0.1/manifest.mpd").unwrap_err().to_string();
        assert!(e.contains("full URL"), "{e}");
        let e = parse_url("ftp://h/m.mpd").unwrap_err().to_string();
        assert!(e.contains("ftp"), "{e}");
    }

    #[test]
    fn ca_cert_problems_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pem");
        let e = build_client(&TlsTrust::CaCert(missing))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope.pem") && e.contains("certificate:"), "{e}");
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "hello").unwrap();
        let e = build_client(&TlsTrust::CaCert(empty))
            .unwrap_err()
            .to_string();
        assert!(e.contains("empty.pem"), "{e}");
    }
}
