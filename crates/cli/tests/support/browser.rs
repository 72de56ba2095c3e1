//! What the browser end-to-end tests (`browser.rs`, `pensieve_browser.rs`) share: where the
//! workspace and Chromium are, whether a program runs, and whether CI requires the tests to run.
#![allow(dead_code)] // each test file uses its own part

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The workspace root (canonical when possible).
pub fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

/// True when CI asked for the browser tests to run rather than skip.
pub fn browser_required() -> bool {
    std::env::var("NEURALSTREAM_REQUIRE_BROWSER").is_ok_and(|v| v == "1")
}

/// Debian's Chromium, or `$NEURALSTREAM_CHROMIUM`.
pub fn chromium() -> PathBuf {
    std::env::var_os("NEURALSTREAM_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

/// True when `program -version` can be started (node, ffmpeg).
pub fn on_path(program: &str) -> bool {
    Command::new(program)
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// What every browser test needs and is missing, if anything: Chromium, node, playwright-core
/// (`web/node_modules`) and the built page file `dist_file` (under `web/dist`).
pub fn missing_browser_basics(root: &Path, dist_file: &str) -> Vec<String> {
    let mut missing = Vec::new();
    if !chromium().is_file() {
        missing.push(format!(
            "{} (apt-get install chromium)",
            chromium().display()
        ));
    }
    if !on_path("node") {
        missing.push("node on PATH".into());
    }
    if !root.join("web/node_modules/playwright-core").is_dir() {
        missing.push("web/node_modules (cd web && npm ci)".into());
    }
    if !root.join("web/dist").join(dist_file).is_file() {
        missing.push(format!("web/dist/{dist_file} (cd web && npm run build)"));
    }
    missing
}

/// Kills a child process when the test ends, however it ends.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// True when a browser test must skip, after printing why: something is `missing` and CI does not
/// require browser tests. Fails the test when CI requires them (`NEURALSTREAM_REQUIRE_BROWSER=1`).
pub fn skip_browser_test(test: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return false;
    }
    assert!(
        !browser_required(),
        "NEURALSTREAM_REQUIRE_BROWSER=1 but the {test} cannot run; missing: {}",
        missing.join(", ")
    );
    println!("note: skipping the {test}; missing: {}", missing.join(", "));
    true
}
