//! What the tests that start `neuralstream serve --http` share: its address, read from the
//! `listening on` line it prints once it accepts connections.
#![allow(dead_code)] // each test file uses its own part

use std::io::{BufRead, BufReader};
use std::process::Child;

/// Takes `serve`'s piped stdout and reads it up to the `listening on http://HOST:PORT/` line;
/// returns `HOST:PORT`. Panics (the test fails) if `serve` exits before printing it.
pub fn http_address(server: &mut Child) -> String {
    let stdout = server.stdout.take().expect("serve's stdout is piped");
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("serve's stdout reads");
        if let Some(u) = line.strip_prefix("listening on http://") {
            return u.trim().trim_end_matches('/').to_string();
        }
    }
    panic!("serve exited before printing its `listening on http://` line");
}
