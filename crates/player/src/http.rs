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
    // reqwest is built without a default crypto provider; ring is the one the server uses too.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut b = Client::builder()
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

/// Turns a non-success response into an error carrying the start of its body.
pub(crate) async fn check_status(
    url: &Url,
    resp: reqwest::Response,
) -> Result<reqwest::Response, PlayerError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let body = resp.text().await.unwrap_or_default();
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
    let bytes = resp
        .bytes()
        .await
        .map_err(|e| from_reqwest(url.as_str(), &e))?;
    Ok(Some(bytes.to_vec()))
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
