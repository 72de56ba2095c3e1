//! Browser test of the live dashboard (`/rt`, issue 21) through the real binary: `neuralstream
//! serve --rt-controllers gcc` over HTTPS with the built page (web/dist), `node
//! web/tests/rt_e2e.mjs` opens `/rt` in Debian's headless Chromium, and once the page's feed is
//! live three `neuralstream rt client`s stream over `wss://` (accelerated, `--speed 2`). The page
//! must list the sessions, its charts must gain points while they stream, and it must show no
//! session and empty charts once they end (see that script for every check).
//!
//! Skips with a printed note when Chromium, node, web/node_modules or web/dist is missing, unless
//! `NEURALSTREAM_REQUIRE_BROWSER=1` (CI sets it), in which case a missing piece fails. Outputs
//! (rt_dashboard.png, rt_dashboard_empty.png, result.json, console.log) land in
//! `target/rt-dashboard-e2e/` of the workspace, or in `$NEURALSTREAM_E2E_OUT`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use support::browser::{
    chromium, missing_browser_basics, skip_browser_test, workspace_root, KillOnDrop,
};
use support::rt::onl_emu_traces;

const BIN: &str = env!("CARGO_BIN_EXE_neuralstream");
/// Clients streaming at once (the page must list them all).
const CLIENTS: usize = 3;

/// Forwards a child's stdout lines to the test's output and to a channel.
fn lines_of(child: &mut Child, prefix: &'static str) -> mpsc::Receiver<String> {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            println!("{prefix}: {line}");
            let _ = tx.send(line);
        }
    });
    rx
}

#[test]
fn live_dashboard_lists_sessions_and_its_charts_update_in_chromium() {
    let root = workspace_root();
    if skip_browser_test(
        "dashboard browser test",
        &missing_browser_basics(&root, "rt.html"),
    ) {
        return;
    }
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    // 24 s sessions: 12 s of wall time at --speed 2.
    onl_emu_traces(&work.path().join("traces"), 8000);
    let mut server = Command::new(BIN)
        .args([
            "serve",
            "--rt-controllers",
            "gcc",
            "--port",
            "0",
            "--state-dir",
        ])
        .arg(work.path().join("serve"))
        .arg("--web-root")
        .arg(root.join("web/dist"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let server_lines = lines_of(&mut server, "server");
    let _server = KillOnDrop(server);
    let (mut url, mut cert) = (None, None);
    while url.is_none() || cert.is_none() {
        let line = server_lines
            .recv_timeout(Duration::from_secs(60))
            .expect("serve printed its certificate and `listening on` lines within 60 s");
        if let Some(u) = line.strip_prefix("listening on ") {
            url = Some(u.trim().to_string());
        }
        if let Some(rest) = line.strip_prefix("certificate: ") {
            cert = Some(PathBuf::from(rest.split(" sha256 ").next().unwrap().trim()));
        }
    }
    let (url, cert) = (url.unwrap(), cert.unwrap());
    assert!(url.starts_with("https://"), "expected HTTPS, got {url}");

    let out = std::env::var_os("NEURALSTREAM_E2E_OUT")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/rt-dashboard-e2e"));
    let mut page = Command::new("node")
        .arg(root.join("web/tests/rt_e2e.mjs"))
        .arg(&url)
        .arg("--out")
        .arg(&out)
        .args(["--sessions", &CLIENTS.to_string()])
        .arg("--chromium")
        .arg(chromium())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let page_lines = lines_of(&mut page, "page");
    let mut page = KillOnDrop(page);
    loop {
        let line = page_lines
            .recv_timeout(Duration::from_secs(120))
            .expect("the page printed `page ready` within 120 s");
        if line.trim() == "page ready" {
            break;
        }
    }
    let wss = format!(
        "wss://{}/api/v1/rt/metrics",
        url.trim_start_matches("https://").trim_end_matches('/')
    );
    let clients = Command::new(BIN)
        .args(["rt", "client", "--server", &wss, "--ca-cert"])
        .arg(&cert)
        .arg("--traces")
        .arg(work.path().join("traces"))
        .args(["--controller", "gcc", "--clients", &CLIENTS.to_string()])
        .args(["--speed", "2", "--out"])
        .arg(work.path().join("client"))
        .output()
        .unwrap();
    assert!(
        clients.status.success(),
        "rt client failed:\n{}{}",
        String::from_utf8_lossy(&clients.stdout),
        String::from_utf8_lossy(&clients.stderr)
    );
    let status = page.0.wait().unwrap();
    assert!(
        status.success(),
        "dashboard browser test failed ({status}); see the lines above and {}/result.json",
        out.display()
    );
    assert!(out.join("rt_dashboard.png").is_file());
    println!(
        "dashboard browser test passed in {:.1} s; screenshot: {}",
        started.elapsed().as_secs_f64(),
        out.join("rt_dashboard.png").display()
    );
}
