//! Shared fixture for the server's integration tests: a fabricated media folder and a running
//! server on 127.0.0.1:0, with an HTTPS client that trusts its self-signed certificate.
#![allow(dead_code)]

use neuralstream_server::{Running, ServerConfig, TlsMode};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Bytes of every fake segment (a recognisable pattern so ranges can be checked).
pub const SEGMENT_BYTES: usize = 100_000;

/// A fake packaged folder and a secret file outside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub media: PathBuf,
    pub secret: PathBuf,
}

pub fn segment_byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// Writes `<tmp>/clip` with video.json (the built-in video), manifests, an init and a media
/// segment, and symlinks that point out of the folder.
pub fn fixture() -> Fixture {
    fixture_named("clip")
}

pub fn fixture_named(name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let media = dir.path().join(name);
    std::fs::create_dir_all(media.join("seg/0")).unwrap();
    let video = neuralstream_data::synthetic::builtin_video();
    neuralstream_data::descriptor::write_descriptor(&media.join("video.json"), &video).unwrap();
    std::fs::write(
        media.join("manifest.mpd"),
        r#"<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static"></MPD>"#,
    )
    .unwrap();
    std::fs::write(media.join("master.m3u8"), "#EXTM3U\n").unwrap();
    std::fs::write(media.join("seg/0/init.mp4"), b"ftypiso6").unwrap();
    let seg: Vec<u8> = (0..SEGMENT_BYTES).map(segment_byte).collect();
    std::fs::write(media.join("seg/0/chunk-00001.m4s"), seg).unwrap();
    let secret = dir.path().join("secret.txt");
    std::fs::write(&secret, "TOP-SECRET").unwrap();
    std::os::unix::fs::symlink(&secret, media.join("leak.m4s")).unwrap();
    std::os::unix::fs::symlink(dir.path(), media.join("up")).unwrap();
    Fixture { dir, media, secret }
}

pub fn config(media: &[&Path], state: &Path, algorithms: &[&str]) -> ServerConfig {
    let mut c = ServerConfig::new(
        media.iter().map(|p| p.to_path_buf()).collect(),
        algorithms.iter().map(|s| s.to_string()).collect(),
    );
    c.port = 0;
    c.tls = TlsMode::SelfSigned {
        state_dir: state.to_path_buf(),
    };
    c.session_idle = Duration::from_secs(300);
    c
}

/// An HTTPS client trusting the running server's certificate.
pub fn client(running: &Running) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let tls = running.tls.as_ref().expect("TLS server");
    let pem = std::fs::read(&tls.cert_path).unwrap();
    let cert = reqwest::Certificate::from_pem(&pem).unwrap();
    reqwest::Client::builder()
        .tls_certs_only([cert])
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

/// A raw HTTP/1.1 request over plain TCP (paths are sent byte for byte, unlike URL libraries,
/// which normalise `..` and `%2e%2e`). Returns the status and the whole answer.
pub fn raw_get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    raw_request(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

/// Sends `request` byte for byte over plain TCP and reads the answer until the server closes
/// (or 10 s pass). Returns the status (0 when none) and the whole answer.
pub fn raw_request(addr: std::net::SocketAddr, request: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// A two-worker tokio runtime for tests that drive the server from blocking code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// A plain-HTTP configuration (raw TCP tests need it).
pub fn plain_config(media: &[&Path], algorithms: &[&str]) -> ServerConfig {
    let mut c = ServerConfig::new(
        media.iter().map(|p| p.to_path_buf()).collect(),
        algorithms.iter().map(|s| s.to_string()).collect(),
    );
    c.port = 0;
    c.tls = TlsMode::Insecure;
    c
}
