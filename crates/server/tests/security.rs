//! Hostile clients against the real server: path traversal (plain, percent-encoded, double-encoded,
//! symlinks out of the media and web roots), oversized and malformed bodies, bad session ids,
//! unknown sessions, the session limit, and clients that stall (headers, body, TLS handshake).

mod common;

use common::*;
use neuralstream_protocol::ApiError;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn start_plain(
    fx: &Fixture,
    tweak: impl FnOnce(&mut neuralstream_server::ServerConfig),
) -> (tokio::runtime::Runtime, neuralstream_server::Running) {
    let rt = runtime();
    let mut cfg = plain_config(&[&fx.media], &["robustmpc", "bb"]);
    tweak(&mut cfg);
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    (rt, running)
}

fn post(addr: std::net::SocketAddr, path: &str, body: &[u8]) -> (u16, String) {
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(body);
    raw_request(addr, &req)
}

fn error_of(answer: &str) -> String {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str::<ApiError>(body)
        .unwrap_or_else(|e| panic!("not an ApiError ({e}): {answer}"))
        .error
}

#[test]
fn traversal_never_leaves_the_roots() {
    let fx = fixture();
    // A web root with a page and a symlink that leads out of it.
    let web = fx.dir.path().join("webroot");
    std::fs::create_dir_all(&web).unwrap();
    std::fs::write(web.join("index.html"), "<html>player</html>").unwrap();
    std::os::unix::fs::symlink(&fx.secret, web.join("leak.js")).unwrap();
    let (_rt, running) = start_plain(&fx, |c| c.web_root = Some(web.clone()));
    let addr = running.addr;

    let (status, text) = raw_get(addr, "/media/clip/video.json");
    assert_eq!(status, 200, "{text}");
    let (status, text) = raw_get(addr, "/");
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("player"));

    for path in [
        "/media/clip/../secret.txt",
        "/media/clip/../../secret.txt",
        "/media/../secret.txt",
        "/media/clip/%2e%2e/secret.txt",
        "/media/clip/%2E%2E/secret.txt",
        "/media/clip/%2e%2e%2fsecret.txt",
        "/media/clip/..%2fsecret.txt",
        "/media/clip/..%5csecret.txt",
        "/media/clip/%252e%252e/secret.txt",
        "/media/clip/%c0%ae%c0%ae/secret.txt",
        "/media/clip/seg/0/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/media/clip//etc/passwd",
        "/media/clip/%2fetc%2fpasswd",
        "/media/clip/leak.m4s",
        "/media/clip/up/secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/clip%2f..%2f/secret.txt",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2e%2e%2fsecret.txt",
        "/leak.js",
        "/media/clip/seg/0/chunk-00001.m4s%00.txt",
    ] {
        let (status, text) = raw_get(addr, path);
        assert!(
            (400..=404).contains(&status),
            "{path}: status {status}\n{text}"
        );
        assert!(!text.contains("TOP-SECRET"), "{path} leaked the secret");
        assert!(!text.contains("root:"), "{path} leaked /etc/passwd");
    }
}

#[test]
fn oversized_and_hostile_bodies_get_a_4xx_with_a_message() {
    let fx = fixture();
    let (_rt, running) = start_plain(&fx, |c| c.body_limit_bytes = 4096);
    let addr = running.addr;
    let path = "/api/v1/sessions/h-1/decision";

    // Declared too large: refused before reading.
    let big = vec![b' '; 100_000];
    let (status, text) = post(addr, path, &big);
    assert_eq!(status, 413, "{text}");
    assert!(error_of(&text).contains("4096"));

    // Chunked with no length, too large once read.
    let mut req = format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..10 {
        req.extend_from_slice(format!("{:x}\r\n", 1000).as_bytes());
        req.extend_from_slice(&[b' '; 1000]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (status, text) = raw_request(addr, &req);
    assert_eq!(status, 413, "{text}");

    let deep = format!("{}{}", "[".repeat(2000), "]".repeat(2000));
    let deep_obj = format!("{}1{}", "{\"a\":".repeat(500), "}".repeat(500));
    let hostile: Vec<(&[u8], &str)> = vec![
        (b"", "not a valid decision request"),
        (b"not json", "not a valid decision request"),
        (b"\xff\xfe\x00{", "not a valid decision request"),
        (b"[]", "not a valid decision request"),
        (b"null", "not a valid decision request"),
        (b"{\"buffer_s\": \"lots\"}", "buffer_s"),
        (b"{\"buffer_s\": 1e999}", "not a valid decision request"),
        (b"{\"buffer_s\": -3}", "buffer_s"),
        (b"{\"buffer_s\": 1, \"buffer_s\": 2}", "duplicate field `buffer_s`"),
        (b"{\"buffer_s\": 1, \"evil\": {\"__proto__\": 1}}", "evil"),
        (b"{\"buffer_s\": 1, \"last_chunk\": {\"index\": -1, \"level\": 0, \"size_bytes\": 1, \"request_start_ms\": 0, \"request_finish_ms\": 1}}", "not a valid decision request"),
        (b"{\"buffer_s\": 1, \"last_chunk\": {\"index\": 0, \"level\": 1e30, \"size_bytes\": 1, \"request_start_ms\": 0, \"request_finish_ms\": 1}}", "not a valid decision request"),
        (b"{\"buffer_s\": 1, \"last_chunk\": {\"index\": 0, \"level\": 99999999999999999999999, \"size_bytes\": 1, \"request_start_ms\": 0, \"request_finish_ms\": 1}}", "not a valid decision request"),
        (b"{\"buffer_s\": 1, \"last_chunk\": {\"index\": 0, \"level\": 0, \"size_bytes\": 1, \"request_start_ms\": 0, \"request_finish_ms\": 1e308, \"rtt_ms\": -1}}", "rtt_ms"),
        (b"{\"buffer_s\": 1, \"next_chunk\": 18446744073709551615}", "next_chunk"),
        (b"{\"lastquality\": \"x\", \"buffer\": 1}", "not a valid decision request"),
        (b"{\"lastquality\": 9, \"buffer\": 1, \"lastRequest\": 0, \"lastChunkStartTime\": 0, \"lastChunkFinishTime\": 5, \"lastChunkSize\": 10}", "level"),
        (b"{\"buffer_s\": 1, \"algorithm\": \"../../etc/passwd\"}", "not enabled"),
        (b"{\"buffer_s\": 1, \"video\": \"..\"}", "unknown video"),
        (deep.as_bytes(), "not a valid decision request"),
        (deep_obj.as_bytes(), "not a valid decision request"),
    ];
    for (body, needle) in hostile {
        let (status, text) = post(addr, path, body);
        let shown = String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned();
        assert!(
            (400..500).contains(&status),
            "{shown}: status {status}\n{text}"
        );
        let message = error_of(&text);
        assert!(
            message.contains(needle),
            "{shown}: message {message:?} lacks {needle:?}"
        );
    }
    // None of that created a session; the server still answers.
    assert_eq!(running.state.sessions.active(), 0);
    let (status, _) = post(addr, path, b"{\"buffer_s\": 0}");
    assert_eq!(status, 200);
}

#[test]
fn bad_ids_unknown_sessions_and_the_session_limit() {
    let fx = fixture();
    let (_rt, running) = start_plain(&fx, |c| c.max_sessions = 2);
    let addr = running.addr;
    let first = b"{\"buffer_s\": 0}";

    for id in [
        "..",
        "a%2fb",
        "a%00b",
        "%2e%2e",
        "sp%20ace",
        &"x".repeat(200),
    ] {
        let (status, text) = post(addr, &format!("/api/v1/sessions/{id}/decision"), first);
        assert!((400..=404).contains(&status), "{id}: {status}\n{text}");
    }
    let (status, text) = post(addr, "/api/v1/sessions/a%2fb/decision", first);
    assert_eq!(status, 400, "{text}");
    assert!(error_of(&text).contains("session id"));

    // Wrong method and unknown API paths.
    let (status, text) = raw_get(addr, "/api/v1/sessions/s/decision");
    assert_eq!(status, 405);
    let e = error_of(&text);
    assert!(
        e.contains("GET is not allowed") && e.contains("POST"),
        "{e}"
    );
    assert!(
        text.to_ascii_lowercase().contains("\r\nallow: post"),
        "{text}"
    );
    let (status, text) = post(addr, "/metrics", b"{}");
    assert_eq!(status, 405);
    assert!(error_of(&text).contains("use GET"), "{text}");
    // A media folder is not a file: a 404 that names the manifests.
    for folder in ["/media/clip", "/media/clip/"] {
        let (status, text) = raw_get(addr, folder);
        assert_eq!(status, 404, "{folder}: {text}");
        assert!(
            error_of(&text).contains("/media/clip/manifest.mpd"),
            "{text}"
        );
    }
    let (status, text) = raw_get(addr, "/api/v2/anything");
    assert_eq!(status, 404);
    assert!(error_of(&text).contains("openapi.json"));

    // A report for chunk 7 of a session that never started.
    let report = b"{\"buffer_s\": 3, \"last_chunk\": {\"index\": 7, \"level\": 0, \"size_bytes\": 1000, \"request_start_ms\": 0, \"request_finish_ms\": 100}}";
    let (status, text) = post(addr, "/api/v1/sessions/ghost/decision", report);
    assert_eq!(status, 404, "{text}");
    assert!(error_of(&text).contains("unknown session 'ghost'"));

    // The limit: two sessions fit, the third is refused with 503, existing ones still work.
    for id in ["s1", "s2"] {
        let (status, _) = post(addr, &format!("/api/v1/sessions/{id}/decision"), first);
        assert_eq!(status, 200);
    }
    let (status, text) = post(addr, "/api/v1/sessions/s3/decision", first);
    assert_eq!(status, 503, "{text}");
    assert!(error_of(&text).contains("max-sessions"));
    let (status, _) = post(addr, "/api/v1/sessions/s1/decision", first);
    assert_eq!(status, 200);
}

/// Reads until the server closes the connection; returns how long that took.
fn time_to_close(mut s: TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    s.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return start.elapsed(),
            Ok(_) => {}
            Err(e) => panic!("the server kept the connection open for {limit:?}: {e}"),
        }
    }
}

#[test]
fn stalled_clients_are_cut_off() {
    let fx = fixture();
    let (_rt, running) = start_plain(&fx, |c| {
        c.header_read_timeout = Duration::from_millis(300);
        c.request_timeout = Duration::from_secs(5);
    });
    let addr = running.addr;

    // Connects and says nothing.
    let s = TcpStream::connect(addr).unwrap();
    assert!(time_to_close(s, Duration::from_secs(5)) < Duration::from_secs(4));

    // Sends half a header block and stops (slowloris).
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: 1")
        .unwrap();
    assert!(time_to_close(s, Duration::from_secs(5)) < Duration::from_secs(4));

    // Keeps an HTTP/1.1 connection open after a request and goes silent.
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(time_to_close(s, Duration::from_secs(5)) < Duration::from_secs(4));

    // Announces a body and never sends it: 408 with a message.
    let t0 = Instant::now();
    let (status, text) = raw_request(
        addr,
        b"POST /api/v1/sessions/slow/decision HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{\"buffer_s\"",
    );
    assert_eq!(status, 408, "{text}");
    assert!(error_of(&text).contains("did not arrive"));
    assert!(t0.elapsed() < Duration::from_secs(4));

    // The server is still fine.
    let (status, _) = raw_get(addr, "/healthz");
    assert_eq!(status, 200);
}

#[test]
fn stalled_tls_handshakes_are_cut_off() {
    let fx = fixture();
    let rt = runtime();
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.header_read_timeout = Duration::from_millis(300);
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    let s = TcpStream::connect(running.addr).unwrap();
    assert!(time_to_close(s, Duration::from_secs(5)) < Duration::from_secs(4));
    // Plain HTTP to the TLS port is not answered in clear text.
    let (_, text) = raw_get(running.addr, "/healthz");
    assert!(!text.contains("\"status\""), "{text}");
}

/// Issue 16, finding 1: dot-files, keys and certificates are never served from any root, not even
/// through a symlink inside the root.
#[test]
fn private_files_are_never_served() {
    let fx = fixture();
    let web = fx.dir.path().join("webroot");
    for (path, text) in [
        ("index.html", "<html>player</html>"),
        (".env", "SECRET=TOP-SECRET"),
        (".git/config", "[core] TOP-SECRET"),
        ("old/key.pem", "-----BEGIN PRIVATE KEY----- TOP-SECRET"),
        ("certs/server.CRT", "TOP-SECRET"),
        ("certs/server.key", "TOP-SECRET"),
    ] {
        let file = web.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    std::os::unix::fs::symlink(web.join(".env"), web.join("env.txt")).unwrap();
    std::fs::write(fx.media.join(".hidden.m4s"), "TOP-SECRET").unwrap();
    std::fs::create_dir_all(fx.media.join(".cache")).unwrap();
    std::fs::write(fx.media.join(".cache/x.m4s"), "TOP-SECRET").unwrap();
    let (_rt, running) = start_plain(&fx, |c| c.web_root = Some(web.clone()));
    let addr = running.addr;
    let (status, text) = raw_get(addr, "/index.html");
    assert_eq!(status, 200, "{text}");
    for path in [
        "/.env",
        "/%2eenv",
        "/.git/config",
        "/.git/",
        "/old/key.pem",
        "/old/key%2epem",
        "/certs/server.CRT",
        "/certs/server.key",
        "/env.txt",
        "/media/clip/.hidden.m4s",
        "/media/clip/.cache/x.m4s",
    ] {
        let (status, text) = raw_get(addr, path);
        assert!((400..=404).contains(&status), "{path}: {status}\n{text}");
        assert!(!text.contains("TOP-SECRET"), "{path} leaked\n{text}");
    }
}

/// Issue 16, finding 1: a served folder holding the TLS state folder (`--web-root .` where
/// `out/serve` is) or the operator's private key is refused at start, with the fix.
#[test]
fn a_served_root_holding_the_state_folder_or_the_key_is_refused() {
    let fx = fixture();
    let rt = runtime();
    let web = fx.dir.path().join("repo");
    std::fs::create_dir_all(&web).unwrap();
    // The state folder under the web root, made by an earlier start (key there) or not yet.
    for state in [web.join("out/serve"), web.join("not/yet/made")] {
        let mut cfg = config(&[&fx.media], &state, &["bb"]);
        cfg.web_root = Some(web.clone());
        let e = rt.block_on(neuralstream_server::start(cfg)).unwrap_err();
        let e = e.to_string();
        assert!(
            e.contains("state folder") && e.contains("--web-root") && e.contains("--state-dir"),
            "{e}"
        );
        assert!(!state.exists(), "a refused start wrote {}", state.display());
    }
    // The state folder inside a media folder.
    let cfg = config(&[&fx.media], &fx.media.join("state"), &["bb"]);
    let e = rt.block_on(neuralstream_server::start(cfg)).unwrap_err();
    assert!(e.to_string().contains("--media"), "{e}");
    // The operator's key inside the web root.
    let pair = fx.dir.path().join("pair");
    neuralstream_server::tls::prepare(
        &neuralstream_server::TlsMode::SelfSigned {
            state_dir: pair.clone(),
        },
        "127.0.0.1".parse().unwrap(),
    )
    .unwrap();
    std::fs::copy(pair.join("key.pem"), web.join("key.pem")).unwrap();
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.web_root = Some(web.clone());
    cfg.tls = neuralstream_server::TlsMode::Files {
        cert: pair.join("cert.pem"),
        key: web.join("key.pem"),
    };
    let e = rt.block_on(neuralstream_server::start(cfg)).unwrap_err();
    assert!(e.to_string().contains("private key (--tls-key)"), "{e}");
    // Outside every served folder: starts.
    let mut cfg = config(&[&fx.media], &fx.dir.path().join("state"), &["bb"]);
    cfg.web_root = Some(web.clone());
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    rt.block_on(running.shutdown(Duration::from_secs(1)));
}

/// Issue 16, finding 4: a start that fails (to bind, or for a certificate that does not name its
/// address) leaves the running server's certificate and key alone, and writes nothing new.
#[test]
fn a_failed_start_leaves_the_certificate_alone() {
    let fx = fixture();
    let rt = runtime();
    let state = fx.dir.path().join("state");
    let running = rt
        .block_on(neuralstream_server::start(config(
            &[&fx.media],
            &state,
            &["bb"],
        )))
        .unwrap();
    let read_pair = || {
        (
            std::fs::read(state.join("cert.pem")).unwrap(),
            std::fs::read(state.join("key.pem")).unwrap(),
        )
    };
    let before = read_pair();
    // Same state folder, an address this machine does not have (the probe's case) and a port
    // already in use.
    for (bind, port) in [("192.0.2.1", 0), ("127.0.0.1", running.addr.port())] {
        let mut cfg = config(&[&fx.media], &state, &["bb"]);
        cfg.bind = bind.parse().unwrap();
        cfg.port = port;
        let e = rt.block_on(neuralstream_server::start(cfg)).unwrap_err();
        assert!(e.to_string().contains(bind), "{e}");
        assert!(
            read_pair() == before,
            "a failed start on {bind} changed the pair"
        );
    }
    // Clients of the running server still trust it.
    let status = rt.block_on(async {
        let http = client(&running);
        let url = format!("{}healthz", running.base_url);
        http.get(url).send().await.unwrap().status()
    });
    assert_eq!(status, 200);
    // A first start that cannot bind writes no pair at all.
    let fresh = fx.dir.path().join("fresh");
    let mut cfg = config(&[&fx.media], &fresh, &["bb"]);
    cfg.port = running.addr.port();
    rt.block_on(neuralstream_server::start(cfg)).unwrap_err();
    assert!(!fresh.join("cert.pem").exists() && !fresh.join("key.pem").exists());
}

/// Issue 16, smaller findings: a request for several ranges gets the first (206, not 416); a
/// world-readable key is flagged at start with the chmod fix.
#[test]
fn multi_range_requests_get_the_first_range_and_open_keys_are_flagged() {
    let fx = fixture();
    let (_rt, running) = start_plain(&fx, |_| {});
    let (status, text) = raw_request(
        running.addr,
        b"GET /media/clip/seg/0/chunk-00001.m4s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nRange: bytes=10-19, 100-199\r\n\r\n",
    );
    assert_eq!(status, 206, "{text}");
    let lower = text.to_ascii_lowercase();
    assert!(
        lower.contains("content-range: bytes 10-19/100000"),
        "{text}"
    );
    assert!(lower.contains("content-length: 10\r\n"), "{text}");

    use std::os::unix::fs::PermissionsExt as _;
    let pair = fx.dir.path().join("pair");
    let mode = neuralstream_server::TlsMode::SelfSigned {
        state_dir: pair.clone(),
    };
    let first = neuralstream_server::tls::prepare(&mode, "127.0.0.1".parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(first.warnings.is_empty(), "{:?}", first.warnings);
    let key = pair.join("key.pem");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let rt = runtime();
    let mut cfg = config(&[&fx.media], &pair, &["bb"]);
    cfg.tls = neuralstream_server::TlsMode::Files {
        cert: pair.join("cert.pem"),
        key: key.clone(),
    };
    let running = rt.block_on(neuralstream_server::start(cfg)).unwrap();
    let warnings = &running.tls.as_ref().unwrap().warnings;
    assert!(
        warnings
            .iter()
            .any(|w| w.contains(&format!("chmod 600 {}", key.display()))),
        "{warnings:?}"
    );
}
